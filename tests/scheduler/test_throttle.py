"""The login throttling policy's numbers, as its docstring states them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.throttle import ThrottlePolicy

POLICY = ThrottlePolicy()
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_five_failures_are_free_then_the_delay_doubles_up_to_15_minutes():
    delays = [POLICY.delay(failures).total_seconds() for failures in range(16)]

    assert delays == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
    assert POLICY.delay(10_000) == timedelta(minutes=15)


def test_the_wait_counts_from_the_last_failure():
    last = NOW - timedelta(seconds=3)

    assert POLICY.wait(7, last, NOW) == timedelta(seconds=1)
    assert POLICY.wait(7, last, NOW + timedelta(seconds=1)) == timedelta(0)
    assert POLICY.wait(4, last, NOW) == timedelta(0)


def test_an_hour_without_failures_forgets_them():
    last = NOW - timedelta(hours=1)

    assert POLICY.is_forgotten(last, NOW)
    assert not POLICY.is_forgotten(last, NOW - timedelta(seconds=1))
    assert POLICY.wait(100, last, NOW) == timedelta(0)


def test_a_guesser_at_the_cap_gets_about_four_tries_an_hour():
    failures, last, now, tries = 100, NOW, NOW, 0
    while now < NOW + timedelta(hours=1):
        now = last + POLICY.delay(failures)
        assert POLICY.wait(failures, last, now) == timedelta(0)
        failures, last, tries = failures + 1, now, tries + 1

    assert tries == 4
