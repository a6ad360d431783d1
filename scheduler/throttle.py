"""How long repeated failed logins for one username make the next attempt wait.

The policy: the first 5 failures in a row cost nothing, so a user who mistypes is never slowed
down. From then on each attempt must wait, counted from the last failure, 1 second after the
5th, 2 after the 6th, 4 after the 7th, doubling up to 15 minutes, so that guessing a password
gets at most about 4 tries an hour. A success forgets the failures, and so does an hour
without a failure. An attempt made too early is refused without looking at the password, so it
neither counts nor tells anything.

The counts live in the database (`login_failures`), so every scheduler sharing it enforces the
same limit, and an attempt is counted as a failure *before* its password is checked (and
forgiven when it turns out right): a burst of parallel guesses cannot all slip in before the
first of them is recorded.

Throttling is per username, not per client, so someone who keeps failing as "admin" also slows
down the real admin by at most 15 minutes at a time; the gateway does not pass client addresses
on, and a slowed admin is better than a guessed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ZERO = timedelta(0)


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers of the policy above; tests use small ones."""

    free_failures: int = 5
    first_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> timedelta:
        """How long after the last of `failures` failures in a row the next attempt must wait."""
        if failures < self.free_failures:
            return ZERO
        # Capping the exponent keeps timedelta from overflowing; 2**30 first delays is decades.
        doublings = min(failures - self.free_failures, 30)
        return min(self.first_delay * 2**doublings, self.max_delay)

    def is_forgotten(self, last_failure_at: datetime, now: datetime) -> bool:
        """Whether failures whose last one was at `last_failure_at` no longer count."""
        return now - last_failure_at >= self.forget_after

    def wait(self, failures: int, last_failure_at: datetime, now: datetime) -> timedelta:
        """How long from `now` an attempt must still wait; zero when it may go ahead."""
        if self.is_forgotten(last_failure_at, now):
            return ZERO
        return max(ZERO, last_failure_at + self.delay(failures) - now)
