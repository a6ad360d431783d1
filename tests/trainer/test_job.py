"""The child's outbox: a lone message goes at once, a fast run's go in a few lists, in order."""

from __future__ import annotations

import multiprocessing

from trainer.job import MOST_AT_ONCE, ChildMessage, EpochDone, LogRecord, Outbox


def epoch(number: int) -> EpochDone:
    return EpochDone(number, 1000, {"loss": 1.0 / number}, elapsed_s=0.0)


def received_until(receiving, count: int) -> list[list[ChildMessage]]:
    """The lists that arrive until `count` messages have."""
    lists: list[list[ChildMessage]] = []
    while sum(len(arrived) for arrived in lists) < count:
        lists.append(receiving.recv())
    return lists


def test_a_message_after_a_quiet_spell_is_sent_before_send_returns():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    outbox = Outbox(sending)

    outbox.send(LogRecord("INFO", "probe", "alone"))

    assert receiving.poll(0)
    assert [m.message for m in receiving.recv() if isinstance(m, LogRecord)] == ["alone"]


def test_a_fast_runs_messages_arrive_in_a_few_lists_in_order_without_a_flush():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    outbox = Outbox(sending)

    for number in range(1, 101):
        outbox.send(epoch(number))
    lists = received_until(receiving, 100)  # the outbox's thread sends what waits

    # The first went at once; a hundred sends take about a millisecond, so the rest go
    # together (a few lists if the machine stalls).
    assert len(lists[0]) == 1
    assert len(lists) <= 5
    assert [m.epoch for arrived in lists for m in arrived if isinstance(m, EpochDone)] == list(
        range(1, 101)
    )


def test_no_list_holds_more_than_most_at_once():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    outbox = Outbox(sending)
    count = 3 * MOST_AT_ONCE + 1

    for number in range(1, count + 1):
        outbox.send(epoch(number))
    lists = received_until(receiving, count)

    assert max(len(arrived) for arrived in lists) == MOST_AT_ONCE
    assert [m.epoch for arrived in lists for m in arrived if isinstance(m, EpochDone)] == list(
        range(1, count + 1)
    )


def test_flush_sends_what_waits_before_it_returns():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    outbox = Outbox(sending)
    outbox.send(epoch(1))
    outbox.send(epoch(2))

    outbox.flush()

    first = receiving.recv()  # sent at once by the first send
    assert receiving.poll(0)  # the second is in the pipe already, not 10 ms from now
    assert [m.epoch for m in first + receiving.recv() if isinstance(m, EpochDone)] == [1, 2]
