"""The placement worker: its loop, placing pending experiments, and adopting runs nobody follows."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from scheduler.db.models import ExperimentStatus
from scheduler.placement.cancelling import Cancelling
from scheduler.placement.choice import choose_trainer, free_slots
from scheduler.placement.following import Following
from scheduler.placement.runs import Ending, Run
from scheduler.recorder import files_stored_event, finished_event
from scheduler.store import IllegalTransition

log = logging.getLogger(__name__)

POLL_S = 2.0
"""Placement runs at least this often, even when nothing woke it."""
HEARTBEAT_S = 2.0
"""How often the scheduler says it is alive and renews the leases on the runs it follows."""
TRAINER_RETRY_S = 5.0
"""The longest a trainer waits between two tries to reach an absent scheduler (its backoff)."""


class Placement(Following, Cancelling):
    """Places pending experiments on trainers and follows their runs (see `scheduler.placement`)."""

    # Life cycle

    def start(self) -> None:
        self._started_at = asyncio.get_running_loop().time()
        self._loop_task = asyncio.create_task(self._loop(), name="forge-placement")

    async def stop(self) -> None:
        """Stop placing and following runs; running experiments stay RUNNING, their leases free.

        Their runs go on on their trainers, for whichever scheduler adopts them next.
        """
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        if self._loop_task is not None:
            tasks.append(self._loop_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self._channels.values():
            await channel.close(None)
        self._channels.clear()
        try:
            await asyncio.to_thread(self.store.scheduler_stopped, self.scheduler_id)
        except Exception:  # the database may be gone too: then the leases simply expire
            log.exception("could not release this scheduler's leases; they expire instead")

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._heartbeat()
                await self.place_pending()
                await self.adopt()
                await self._drop_silent_trainers()
            except Exception:
                # The database may be down for a moment; placement must outlive that.
                log.exception("placing experiments failed; trying again in %.0f s", POLL_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._wake.wait()

    # Placing

    async def place_pending(self) -> None:
        """Claim pending experiments for live trainers with free slots and start their runs."""
        # A read first: claiming takes a write lock, which SQLite has only one of.
        waiting = await asyncio.to_thread(
            self.store.list_experiments,
            caller=None,
            statuses=[ExperimentStatus.PENDING],
            page_size=1,
        )
        if not waiting.experiments:
            return
        trainers = await asyncio.to_thread(
            self.store.list_trainers, alive_within=self._trainer_timeout
        )
        free = free_slots(
            trainers, resting_until=self._cooldown, now=asyncio.get_running_loop().time()
        )
        while (trainer := choose_trainer(trainers, free)) is not None:
            claimed = await asyncio.to_thread(
                self.store.claim_pending,
                trainer.id,
                1,
                scheduler_id=self.scheduler_id,
                lease=self.lease,
            )
            # None of its pipelines' experiments is pending: it gets nothing more this round.
            free[trainer.id] = 0 if not claimed else free[trainer.id] - len(claimed)
            for change in claimed:
                experiment = await self.recorder.changed(change)
                self._start(Run(experiment, trainer))

    def _start(self, run: Run) -> None:
        self._runs[run.experiment_id] = run
        run.task = asyncio.create_task(self._follow(run), name=f"forge-run-{run.experiment_id}")
        log.info(
            "experiment %s (%s) %s trainer %s at %s",
            run.experiment_id,
            run.experiment.pipeline,
            "followed again on" if run.attach else "placed on",
            run.trainer.id,
            run.trainer.address,
        )

    async def adopt(self) -> None:
        """Attach to the running experiments nobody follows, or place again those it cannot."""
        adopted = await asyncio.to_thread(
            self.store.adopt_runs, self.scheduler_id, self.lease, following=list(self._runs)
        )
        if not adopted:
            return
        trainers = {
            trainer.id: trainer
            for trainer in await asyncio.to_thread(
                self.store.list_trainers, alive_within=self._trainer_timeout
            )
        }
        for experiment in adopted:
            trainer = trainers.get(experiment.trainer_id or "")
            if trainer is not None:
                self._start(
                    Run(
                        experiment,
                        trainer,
                        attach=True,
                        position=experiment.stream_position,
                        files_pending=experiment.files_pending,
                    )
                )
                continue
            if not self._heard_trainers_long_enough():
                continue  # its silence may be this scheduler's own absence: wait for it
            if experiment.files_pending:
                message = (
                    "the run's files stopped coming: its trainer went away before they all arrived"
                )
                with contextlib.suppress(IllegalTransition):
                    await self.recorder.files_stored(experiment.id, files_stored_event(0, message))
                continue
            if experiment.status is ExperimentStatus.CANCELLED:
                message = "cancelled; its trainer went away before all the run's files arrived"
                with contextlib.suppress(IllegalTransition):
                    await self.recorder.complete_cancel(
                        experiment.id, finished_event(ExperimentStatus.CANCELLED, message)
                    )
                continue

            reason = (
                f"its trainer {experiment.trainer_id or '?'} sent no heartbeat for "
                f"{self._trainer_timeout.total_seconds():.0f} s while no scheduler followed the run"
            )
            await self._requeue_lost(experiment, reason, counted=False)

    def _heard_trainers_long_enough(self) -> bool:
        """Whether a trainer silent now has had time to reach this scheduler since it started.

        Trainers retry an absent scheduler every `TRAINER_RETRY_S` at most, then heartbeat.
        """
        if self._started_at is None:
            return False
        patience = self._trainer_timeout.total_seconds() + TRAINER_RETRY_S
        return asyncio.get_running_loop().time() - self._started_at >= patience

    async def _heartbeat(self) -> None:
        """Say this scheduler is alive and keep the leases of the runs it follows."""
        now = asyncio.get_running_loop().time()
        if now - self._heartbeat_at < HEARTBEAT_S:
            return
        self._heartbeat_at = now
        await asyncio.to_thread(
            self.store.scheduler_heartbeat, self.scheduler_id, list(self._runs), self.lease
        )

    async def _drop_silent_trainers(self) -> None:
        """Hang up on runs whose trainer stopped heartbeating: its machine may be gone."""
        if not self._runs:
            return
        alive = {
            trainer.id
            for trainer in await asyncio.to_thread(
                self.store.list_trainers, alive_within=self._trainer_timeout
            )
        }
        silence = self._trainer_timeout.total_seconds()
        for run in list(self._runs.values()):
            if run.trainer.id not in alive:
                run.hang_up(
                    Ending(
                        ExperimentStatus.FAILED,
                        f"trainer {run.trainer.id} at {run.trainer.address} sent no heartbeat "
                        f"for {silence:.0f} s during the run",
                        lost=True,
                    )
                )
