"""Cancelling an experiment: a pending one at once, a running one within ~2 s, files following."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc.aio

from azuraforge.v1 import trainer_pb2, trainer_pb2_grpc
from scheduler.db.models import ExperimentStatus
from scheduler.placement.base import PlacementBase
from scheduler.placement.runs import Ending
from scheduler.recorder import finished_event
from scheduler.records import Caller, ExperimentRecord
from scheduler.store import IllegalTransition

log = logging.getLogger(__name__)

CANCEL_STATUS_S = 1.3
"""How long a cancelled run may take to end on its own before the experiment is CANCELLED.

CancelExperiment promises the status within 2 s; this leaves the rest for recording it on a
busy machine. The run's files and last event may follow later."""
CANCEL_FILES_S = 120.0
"""How long a cancelled run's trainer has to send its files and last event before the
scheduler hangs up: beyond the trainer's own cancel grace (30 s by default) and the sending."""


class Cancelling(PlacementBase):
    """Cancelling experiments, part of `Placement`."""

    async def cancel(self, experiment_id: str, caller: Caller) -> ExperimentRecord:
        """Cancel an experiment `caller` may see: a pending one at once, a running one within ~2 s.

        Returns the experiment as it ended: possibly SUCCEEDED or FAILED, when the run ended
        on its own before the cancel reached it. Cancelling a cancelled experiment changes
        nothing; one that succeeded or failed cannot be cancelled (`IllegalTransition`).
        """
        # Twice at most: a pending experiment may be claimed while we cancel it, and a run the
        # trainer refused goes back to pending while we stop it.
        for _ in range(3):
            experiment = await asyncio.to_thread(
                self.store.get_experiment, experiment_id, caller=caller
            )
            if experiment.status is ExperimentStatus.PENDING:
                with contextlib.suppress(IllegalTransition):
                    return await self.recorder.finish(
                        experiment_id,
                        finished_event(ExperimentStatus.CANCELLED, "cancelled before it started"),
                        caller=caller,
                        expected=ExperimentStatus.PENDING,
                    )
            elif experiment.status is ExperimentStatus.RUNNING:
                await self._stop_running(experiment)
                experiment = await asyncio.to_thread(
                    self.store.get_experiment, experiment_id, caller=caller
                )
                if experiment.status.is_terminal:
                    return experiment
            elif experiment.status is ExperimentStatus.CANCELLED:
                return experiment
            else:
                raise IllegalTransition(
                    experiment_id, experiment.status, ExperimentStatus.CANCELLED
                )
        raise IllegalTransition(experiment_id, experiment.status, ExperimentStatus.CANCELLED)

    async def stop_early(self, experiment_id: str, reason: str) -> None:
        """Stop a running trial that a sweep's early stopping left behind.

        The trainer stops it at the next batch, as it stops a cancelled run, and the run's own
        ending is recorded as STOPPED_EARLY with `reason` (`Following._early_ending`). Nothing
        waits here: the sweep learns of the ending from the experiment's events.
        """
        self._stopping_early[experiment_id] = reason
        deadline = asyncio.get_running_loop().time() + CANCEL_STATUS_S
        run = self._runs.get(experiment_id)
        if run is not None:
            await self._ask_trainer_to_cancel(run.trainer.address, experiment_id, deadline)
            return
        experiment = await asyncio.to_thread(self.store.get_experiment, experiment_id, caller=None)
        trainers = {t.id: t for t in await asyncio.to_thread(self.store.list_trainers)}
        trainer = trainers.get(experiment.trainer_id or "")
        if trainer is not None and not experiment.status.is_terminal:
            await self._ask_trainer_to_cancel(trainer.address, experiment_id, deadline)

    async def _stop_running(self, experiment: ExperimentRecord) -> None:
        """Ask the trainer to stop the run; CANCELLED within ~2 s, its files following."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_STATUS_S
        run = self._runs.get(experiment.id)
        if run is not None:
            await self._ask_trainer_to_cancel(run.trainer.address, experiment.id, deadline)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await run.done.wait()
                return  # it ended on its own, files and all
        elif await self._stopped_elsewhere(experiment, deadline):
            return
        with contextlib.suppress(IllegalTransition):  # it ended meanwhile: that stands
            await self.recorder.changed(
                await asyncio.to_thread(
                    self.store.mark_cancelled,
                    experiment.id,
                    "cancelled by request; the run's report and files follow",
                    caller=None,
                )
            )
            if run is not None:
                loop.call_later(
                    CANCEL_FILES_S,
                    run.hang_up,
                    Ending(
                        ExperimentStatus.CANCELLED,
                        f"cancelled; the trainer sent nothing more within {CANCEL_FILES_S:.0f} s, "
                        "so the scheduler hung up (the run's files were not kept)",
                    ),
                )

    async def _stopped_elsewhere(self, experiment: ExperimentRecord, deadline: float) -> bool:
        """Cancel a run another scheduler follows; whether it ended before `deadline`."""
        trainers = {t.id: t for t in await asyncio.to_thread(self.store.list_trainers)}
        trainer = trainers.get(experiment.trainer_id or "")
        if trainer is not None:
            await self._ask_trainer_to_cancel(trainer.address, experiment.id, deadline)
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            current = await asyncio.to_thread(self.store.get_experiment, experiment.id, caller=None)
            if current.status.is_terminal:
                return True
            await asyncio.sleep(0.1)
        return False

    async def _ask_trainer_to_cancel(
        self, address: str, experiment_id: str, deadline: float
    ) -> None:
        stub = trainer_pb2_grpc.TrainerServiceStub(self._channel(address))
        remaining = max(0.1, deadline - asyncio.get_running_loop().time())
        try:
            await stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id=experiment_id),
                metadata=self._metadata,
                timeout=remaining,
            )
        except grpc.aio.AioRpcError as error:
            log.warning("asking %s to cancel %s failed: %s", address, experiment_id, error)
