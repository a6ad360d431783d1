"""WatchExperiments' stream: status changes from the bus, shown to whom the database says.

A change on `forge.experiments.status` carries its experiment's `owner`, but a message on the
bus is only as trustworthy as whoever can publish there. So the bus decides nothing here:

- who sees a change comes from the database: the experiment's owner, and admins. The owner
  never changes, so `Experiments` caches it, for every watcher of this scheduler at once;
- the `owner` and `pipeline` sent are the stored ones, whatever the message said;
- a change for an experiment the database does not know is dropped, and so is one that claims
  an ending the experiment does not have. An ended experiment never changes again and a change
  is published only after it is stored, so a change to SUCCEEDED, FAILED or CANCELLED must find
  that status stored already. (A change to PENDING or RUNNING cannot be checked that way: by the
  time it arrives the experiment may rightly have moved on.)

Dropped changes are logged once per message, not once per watcher that would have seen it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from azuraforge.v1 import experiment_pb2
from scheduler.bus import STATUS_SUBJECT, Bus
from scheduler.convert import status_from_proto
from scheduler.db.models import ExperimentStatus
from scheduler.records import Caller
from scheduler.store import NotFound, Store

log = logging.getLogger(__name__)

Change = experiment_pb2.ExperimentStatusChanged
# Experiments whose owner is remembered; past this the least recently seen are read again.
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Stored:
    """What the database says about an experiment that a status change must agree with."""

    owner_id: str
    owner: str
    pipeline: str
    # Set once the experiment has ended: the one status it keeps from then on.
    ending: ExperimentStatus | None


class Experiments:
    """The stored facts behind status changes, read once per experiment and per ending."""

    def __init__(self, store: Store, size: int = CACHE_SIZE) -> None:
        self.store = store
        self.size = size
        self._known: OrderedDict[str, Stored] = OrderedDict()
        # The last message judged forged, so that a hundred watchers log it once.
        self._last_dropped: bytes | None = None

    async def check(self, change: Change) -> Stored | None:
        """What is stored about `change`'s experiment, or None when the change is not true."""
        try:
            status = status_from_proto(change.status)
        except ValueError:
            self._dropped(change, "no such status")
            return None
        stored = self._known.get(change.experiment_id)
        if stored is None or (status.is_terminal and stored.ending is None):
            stored = await self._read(change.experiment_id)
        else:
            self._known.move_to_end(change.experiment_id)
        if stored is None:
            self._dropped(change, "no such experiment")
        elif status.is_terminal and status != stored.ending:
            self._dropped(change, f"it has not ended {status.value}")
            return None
        return stored

    async def _read(self, experiment_id: str) -> Stored | None:
        try:
            record = await asyncio.to_thread(self.store.get_experiment, experiment_id, caller=None)
        except NotFound:
            return None
        stored = Stored(
            record.owner_id,
            record.owner,
            record.pipeline,
            record.status if record.status.is_terminal else None,
        )
        self._known[experiment_id] = stored
        self._known.move_to_end(experiment_id)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return stored

    def _dropped(self, change: Change, why: str) -> None:
        message = change.SerializeToString(deterministic=True)
        if message != self._last_dropped:
            self._last_dropped = message
            log.warning(
                "dropped a status change for experiment %s on %s that the scheduler did not "
                "store: %s",
                change.experiment_id[:64],
                STATUS_SUBJECT,
                why,
            )


def sees(caller: Caller, stored: Stored) -> bool:
    """Whether WatchExperiments shows a change to `caller`: their own, or any to an admin."""
    return caller.is_admin or stored.owner_id == caller.user_id


async def watch_changes(
    experiments: Experiments,
    bus: Bus,
    caller: Caller,
    *,
    subscribed: Callable[[], Awaitable[None]] | None = None,
) -> AsyncGenerator[Change, None]:
    """The status changes `caller` may see, as the database tells them, until cancelled.

    `subscribed` is awaited once the subscription is in place.
    """
    async with bus.subscribe(STATUS_SUBJECT, Change) as changes:
        if subscribed is not None:
            await subscribed()
        while True:
            change = await changes.get()
            if change is None:
                continue
            stored = await experiments.check(change)
            if stored is None or not sees(caller, stored):
                continue
            shown = Change()
            shown.CopyFrom(change)
            shown.owner, shown.pipeline = stored.owner, stored.pipeline
            yield shown
