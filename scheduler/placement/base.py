"""What placing, following and cancelling runs share: the runs followed, and the trainers' channels.

`Placement` is made of mix-ins on this base (`scheduler.placement.following`,
`scheduler.placement.cancelling`), so that one object holds the runs and one channel per trainer.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc.aio

from azuraforge.tls import TlsSettings
from scheduler.placement.runs import Run
from scheduler.recorder import Recorder
from scheduler.store import Store


class PlacementBase:
    """The state of `Placement`, and its calls to trainers."""

    def __init__(
        self,
        store: Store,
        recorder: Recorder,
        *,
        cluster_token: str,
        trainer_timeout: timedelta,
        scheduler_id: str = "scheduler",
        lease: timedelta = timedelta(seconds=15),
        tls: TlsSettings | None = None,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.scheduler_id = scheduler_id
        self.lease = lease
        self._heartbeat_at = 0.0
        self._started_at: float | None = None
        self._metadata = (("authorization", f"Bearer {cluster_token}"),)
        self._trainer_timeout = trainer_timeout
        self._wake = asyncio.Event()
        self._runs: dict[str, Run] = {}
        # Runs asked to stop early (a sweep's ASHA), by experiment, with the reason: their
        # trainer's cancelled ending is recorded as STOPPED_EARLY with it.
        self._stopping_early: dict[str, str] = {}
        # The scheduler is a client of its trainers: with FORGE_TLS_CA over TLS, showing its own
        # certificate to trainers that require one (azuraforge.tls).
        self._tls = tls or TlsSettings()
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._cooldown: dict[str, float] = {}
        self._loop_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for work to place now rather than at the next poll."""
        self._wake.set()

    def trainer_registered(self, trainer_id: str) -> None:
        """A trainer (re)registered: whatever kept it out of placement is over."""
        self._cooldown.pop(trainer_id, None)
        self.wake()

    @property
    def running_ids(self) -> list[str]:
        """The experiments whose runs this scheduler follows."""
        return sorted(self._runs)

    @property
    def cluster_metadata(self) -> tuple[tuple[str, str], ...]:
        """What every call to a trainer carries: the cluster token."""
        return self._metadata

    def trainer_channel(self, address: str) -> grpc.aio.Channel:
        """The channel to the trainer at ``address``, shared by every call to it."""
        return self._channel(address)

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = self._tls.aio_channel(address)
        return channel
