"""How long repeated failed logins make the next attempt wait: per account and address, per address.

Every login attempt passes two limits, each on failures in a row with the same shape of policy:
the first few cost nothing, so that a user who mistypes is never slowed down; from then on each
attempt must wait, counted from the last failure, 1 second after the first one past the free
ones, 2 after the next, 4, doubling up to 15 minutes. A quiet hour forgets the failures. An
attempt made too early is refused without looking at the password, so it neither counts nor
tells anything.

1. **One username from one client address** (`LoginThrottle.account`): 5 free failures. So
   guessing one password from one place gets at most about 4 tries an hour, yet someone who
   keeps failing as "admin" slows down only themselves: the real admin, at another address,
   logs in as usual. (With a limit per username alone, anyone could lock any account out.)
2. **One client address, whatever the username** (`LoginThrottle.address`): 20 free failures.
   This bounds what one place can try across usernames: spraying one password over many
   accounts, or sending random usernames, each of which costs a full password hash (an unknown
   username costs the same check as a known one, against one dummy hash, so that neither the
   answer nor its timing tells whether an account exists). So one client cannot spend more
   than a trickle of the scheduler's CPU and memory on failed logins.

A success forgives its username's failures from that address, and takes back from the address
only the one failure counted for the attempt itself (see below): people sharing an address who
log in fine never use up its allowance, while logging into one's own account does not reset
the count of someone guessing others from there. An IPv6 client counts as its /64 network,
which one machine usually holds whole (`scheduler.client_address` says where addresses come
from, and why one forwarded by a gateway is trusted).

The counts live in the database (`login_failures`, `address_login_failures`), so every
scheduler sharing it enforces the same limits, and an attempt is counted as a failure *before*
its password is checked (and forgiven when it turns out right): a burst of parallel guesses
cannot all slip in before the first of them is recorded.

What this does not stop: guessing one account from many addresses gets each address's
allowance. Passwords are at least 8 characters and hashed with argon2id; an operator facing a
distributed attack puts a rate-limiting proxy in front of the gateway (docs/running.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

ZERO = timedelta(0)


@dataclass(frozen=True)
class ThrottlePolicy:
    """The numbers of one limit; the defaults are the per-account one's."""

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


@dataclass(frozen=True)
class LoginThrottle:
    """The two limits a login attempt passes (see the module docstring); tests use small ones."""

    account: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    address: ThrottlePolicy = field(default_factory=lambda: ThrottlePolicy(free_failures=20))


@dataclass(frozen=True)
class LoginWait:
    """How long an attempt must still wait for each limit; zero for both when it may go ahead."""

    account: timedelta = ZERO
    address: timedelta = ZERO

    @property
    def longest(self) -> timedelta:
        return max(self.account, self.address)


@dataclass(frozen=True)
class Reservation:
    """An attempt counted as failed before its password is checked, to take back if it is right:
    when it was counted, and the address's last failure before it."""

    at: datetime
    address_failure_at: datetime
