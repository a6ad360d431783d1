"""Following a run: reading its stream, storing what it sends, and what becomes of a lost run.

How a run can go wrong, and what becomes of the experiment:

- the trainer refuses or cannot be reached before the run starts (UNAVAILABLE,
  RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED): it goes back to PENDING and that trainer is left
  alone for `REFUSAL_COOLDOWN_S`, so the next placement tries elsewhere; the attempt does not
  count. Any other refusal (a config the trainer rejects) is FAILED;
- the run is lost: the stream breaks mid-run (the trainer died), the trainer stops
  heartbeating, or the trainer reports that the training process died (`retryable`). The
  experiment goes back to PENDING with a log line, and the next placement (on any live trainer
  that runs the pipeline, the same one once it is back) sends the latest checkpoint, so
  training goes on after the checkpoint's epoch. The first event of that run is
  `ExperimentResumed`: where, from which epoch, which attempt, and why. Each loss spends one
  of the experiment's `max_restarts`; one loss more is FAILED, listing every loss;
- the pipeline raised: FAILED at once, as the trainer says. A bug is not worth a retry;
- cancelled: the trainer is asked to stop (it stops at the next batch and writes its report).
  A run that ends within `CANCEL_STATUS_S` ends as it says; else the experiment is CANCELLED
  then (`Store.mark_cancelled`: cancel takes at most ~2 s), and the scheduler goes on storing
  what the trainer still sends — the report, plots and checkpoint, as `ArtifactStored` — until
  the run's last event (`Store.complete_cancel`), which the trainer sends within its own cancel
  grace (it kills a job that does not stop, and says so). A trainer that sends nothing more
  within `CANCEL_FILES_S` is hung up on. An experiment waiting to be placed again is PENDING,
  and cancelled at once. A run cancelled this way whose trainer then says its files follow its
  ending keeps this order: the ending is stored after the files, as the log's last event;
- the run ended, and its files follow (`ExperimentFinished.files_follow`): the experiment ends
  at once (status, metrics), and stays followed (`files_pending`): the files are stored as
  they come, each announced by `ArtifactStored`, and the trainer's `FilesStored` ends the log.
  A stream lost meanwhile (the trainer died, or no longer has the run) ends the log with a
  `FilesStored` that says so; the verdict stands.

All writes about one run are made by its task, one after another, so its events keep their
order and nothing is written after its log's last event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
import grpc.aio
from google.protobuf import struct_pb2

from azuraforge.tls import connection_hint
from azuraforge.v1 import events_pb2, experiment_pb2, trainer_pb2, trainer_pb2_grpc
from scheduler.convert import artifact_to_proto
from scheduler.db.models import ExperimentStatus
from scheduler.placement.assembly import ArtifactAssembler, CheckpointAssembler
from scheduler.placement.base import PlacementBase
from scheduler.placement.bursts import in_bursts
from scheduler.placement.runs import Ending, Run
from scheduler.recorder import files_stored_event, finished_event, log_event
from scheduler.records import ExperimentRecord
from scheduler.store import IllegalTransition

log = logging.getLogger(__name__)

REFUSAL_COOLDOWN_S = 5.0
"""How long a trainer that refused or could not be reached gets no new work."""
RETRY_ELSEWHERE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        # The trainer still holds an earlier run of it, which its next heartbeat clears.
        grpc.StatusCode.ALREADY_EXISTS,
    }
)
"""Train refusals that say nothing about the experiment, only about the trainer's state."""
EVENT_BURST = 500
"""The most events of one run stored in one transaction (`scheduler.placement.bursts`)."""
ENDINGS = frozenset({"experiment_finished", "files_stored"})
"""The events that end a run, stored by themselves after the events before them."""


class Following(PlacementBase):
    """Following runs to their end, part of `Placement`."""

    async def _follow(self, run: Run) -> None:
        try:
            await self._consume(run)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if run.ending is None or (current is not None and current.cancelling()):
                raise  # the scheduler is stopping: the next start re-queues the experiment
            if run.ending.lost:
                await self._lost(run, run.ending.message, trainer_at_fault=True)
            else:
                await self._end(run, run.ending)
        except grpc.aio.AioRpcError as error:
            await self._stream_failed(run, error)
        except Exception as error:
            log.exception("following experiment %s failed", run.experiment_id)
            await self._end(
                run,
                Ending(
                    ExperimentStatus.FAILED,
                    f"the scheduler lost track of the run ({type(error).__name__}: {error})",
                ),
            )
        finally:
            if run.call is not None:
                run.call.cancel()  # a no-op once the stream has ended; else frees it now
            run.done.set()
            # A lost run may be placed again before this task ends: leave the new one be.
            if self._runs.get(run.experiment_id) is run:
                del self._runs[run.experiment_id]
            self.wake()

    async def _consume(self, run: Run) -> None:
        experiment = run.experiment
        config = struct_pb2.Struct()
        config.update(experiment.config)
        stub = trainer_pb2_grpc.TrainerServiceStub(self._channel(run.trainer.address))
        if run.attach:
            run.call = stub.Attach(
                trainer_pb2.AttachRequest(experiment_id=experiment.id, after_position=run.position),
                metadata=self._metadata,
            )
        else:
            attempt = experiment.current_attempt
            checkpoint = await asyncio.to_thread(self.store.get_checkpoint, experiment.id)
            run.call = stub.Train(
                trainer_pb2.TrainRequest(
                    experiment_id=experiment.id,
                    pipeline=experiment.pipeline,
                    config=config,
                    checkpoint=b"" if checkpoint is None else checkpoint[1],
                    attempt=1 if attempt is None else attempt.number,
                ),
                metadata=self._metadata,
            )
        if run.ending is not None:  # cancelled before the call existed
            run.call.cancel()
        assembler = ArtifactAssembler()
        checkpoints = CheckpointAssembler()
        async for burst in in_bursts(run.call, EVENT_BURST):
            # The burst's plain events, stored together before anything else it holds.
            events: list[tuple[events_pb2.ExperimentEvent, int | None]] = []
            for item in burst:
                response = item.response if isinstance(item, trainer_pb2.AttachResponse) else item
                if not run.answered:
                    run.answered = True
                    await (self._attached(run) if run.attach else self._resumed(run))
                if response.position and response.position <= run.position:
                    continue  # stored already: a replay overlaps what was stored
                item = response.WhichOneof("item")
                ending = response.event.WhichOneof("kind") in (
                    "experiment_finished",
                    "files_stored",
                )
                if item not in ("event", "events") or ending:
                    await self._store(run, events)
                run.position = response.position or run.position
                if item == "events":  # stored whole: only its last event notes the position
                    batch = response.events.events
                    events.extend((event, None) for event in batch[:-1])
                    if batch:
                        events.append((batch[-1], response.position or None))
                elif response.HasField("artifact_chunk"):
                    await self._artifact_chunk(run, assembler, response.artifact_chunk)
                elif response.HasField("checkpoint_chunk"):
                    await self._checkpoint_chunk(run, checkpoints, response.checkpoint_chunk)
                elif response.event.HasField("experiment_finished"):
                    if not await self._finish(run, response.event):
                        return
                elif response.event.HasField("files_stored"):
                    await self._files_stored(run, response.event.files_stored)
                    return
                else:
                    events.append((response.event, response.position or None))
            await self._store(run, events)
        await self._end(
            run,
            Ending(
                ExperimentStatus.FAILED,
                f"trainer {run.trainer.id} ended the run's stream without saying how it ended",
            ),
        )

    async def _store(
        self, run: Run, events: list[tuple[events_pb2.ExperimentEvent, int | None]]
    ) -> None:
        """Store and publish the events collected so far (one transaction), and forget them."""
        if events:
            await self.recorder.events(run.experiment_id, events)
            events.clear()

    async def _attached(self, run: Run) -> None:
        """Say that this scheduler follows a run that went on without one."""
        await self.recorder.event(
            run.experiment_id,
            log_event(
                f"scheduler {self.scheduler_id} follows the run on trainer {run.trainer.id} "
                f"again, from item {run.position + 1} of its stream: nothing was lost",
                level="INFO",
            ),
        )

    async def _resumed(self, run: Run) -> None:
        """Say where, from which epoch and why a run that is not the first goes on."""
        attempts = run.experiment.attempts
        if len(attempts) < 2:
            return
        current, previous = attempts[-1], attempts[-2]
        await self.recorder.event(
            run.experiment_id,
            events_pb2.ExperimentEvent(
                experiment_resumed=events_pb2.ExperimentResumed(
                    trainer_id=run.trainer.id,
                    from_epoch=current.from_epoch,
                    attempt=current.number,
                    reason=previous.lost_reason,
                    previous_trainer_id=previous.trainer_id,
                )
            ),
        )
        log.info(
            "experiment %s resumed on trainer %s from epoch %d (attempt %d)",
            run.experiment_id,
            run.trainer.id,
            current.from_epoch,
            current.number,
        )

    async def _checkpoint_chunk(
        self, run: Run, assembler: CheckpointAssembler, chunk: trainer_pb2.CheckpointChunk
    ) -> None:
        try:
            content = assembler.add(chunk)
            if content is None:
                return
            await asyncio.to_thread(
                self.store.put_checkpoint,
                run.experiment_id,
                chunk.epoch,
                content,
                chunk.sha256,
                position=run.position,
            )
        except ValueError as error:  # torn or damaged: the previous checkpoint stands
            await self.recorder.event(run.experiment_id, log_event(str(error)))

    async def _artifact_chunk(
        self, run: Run, assembler: ArtifactAssembler, chunk: trainer_pb2.ArtifactChunk
    ) -> None:
        try:
            content = assembler.add(chunk)
            if content is None:
                return
            record = await asyncio.to_thread(
                self.store.put_artifact,
                run.experiment_id,
                chunk.name,
                content,
                chunk.content_type,
                position=run.position,
            )
        except ValueError as error:  # out of order, or a name that is no relative path
            run.files_refused += 1
            await self.recorder.event(run.experiment_id, log_event(str(error)))
            return
        run.files_after_end += run.files_pending
        stored = events_pb2.ExperimentEvent(
            artifact_stored=events_pb2.ArtifactStored(artifact=artifact_to_proto(record))
        )
        await self.recorder.event(run.experiment_id, stored)

    async def _finish(self, run: Run, event: events_pb2.ExperimentEvent) -> bool:
        """Record the trainer's ending of the run; whether its files still follow."""
        event = self._early_ending(run.experiment_id, event)
        finished = event.experiment_finished
        if finished.retryable and finished.status == experiment_pb2.EXPERIMENT_STATUS_FAILED:
            await self._lost(
                run,
                f"on trainer {run.trainer.id}, {finished.error_message}",
                trainer_at_fault=False,
            )
            return False
        try:
            await self.recorder.finish(
                run.experiment_id,
                event,
                expected=ExperimentStatus.RUNNING,
                position=run.position or None,
            )
        except IllegalTransition as error:
            if error.current is ExperimentStatus.CANCELLED:  # cancelled meanwhile
                if finished.files_follow:  # the ending goes last, after the files
                    run.cancelled_ending = events_pb2.ExperimentEvent()
                    run.cancelled_ending.CopyFrom(event)
                    run.cancelled_ending.experiment_finished.files_follow = False
                    return True
                await self._complete_cancel(run, event)
                return False
            # Ended meanwhile by someone else: theirs stands.
            log.warning("experiment %s: the trainer's ending came too late: %s", run, error)
            return False
        run.files_pending = finished.files_follow
        return finished.files_follow

    async def _files_stored(self, run: Run, files: events_pb2.FilesStored) -> None:
        """End the log of a run whose files followed its ending, as the trainer says."""
        if run.cancelled_ending is not None:
            await self._complete_cancel(run, run.cancelled_ending)
            return
        error = files.error_message
        if run.files_refused and not error:
            error = f"{run.files_refused} of the run's files could not be stored (see the log)"
        count = max(0, files.count - run.files_refused)
        await self._end_files(run, files_stored_event(count, error))

    async def _files_lost(self, run: Run, reason: str) -> None:
        """End the log of a run that ended, whose files stopped coming for `reason`."""
        if run.cancelled_ending is not None:
            ending = run.cancelled_ending
            ending.experiment_finished.error_message = (
                f"cancelled; the run was lost before all its files arrived: {reason}"
            )
            await self._complete_cancel(run, ending)
            return
        message = f"the run's files stopped coming: {reason}"
        await self._end_files(run, files_stored_event(run.files_after_end, message))

    async def _end_files(self, run: Run, event: events_pb2.ExperimentEvent) -> None:
        run.files_pending = False
        with contextlib.suppress(IllegalTransition):  # ended by someone else already
            await self.recorder.files_stored(
                run.experiment_id, event, position=run.position or None
            )

    def _early_ending(
        self, experiment_id: str, event: events_pb2.ExperimentEvent
    ) -> events_pb2.ExperimentEvent:
        """The ending of a run stopped early: STOPPED_EARLY with the reason, not CANCELLED.

        The trainer stops it as it stops a cancelled run (report and files included) and says
        CANCELLED; a run that ended on its own before the stop reached it keeps its ending.
        """
        reason = self._stopping_early.pop(experiment_id, None)
        finished = event.experiment_finished
        if reason is None or finished.status != experiment_pb2.EXPERIMENT_STATUS_CANCELLED:
            return event
        stopped = events_pb2.ExperimentEvent()
        stopped.CopyFrom(event)
        stopped.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY
        stopped.experiment_finished.error_message = f"stopped early by the sweep: {reason}"
        return stopped

    async def _end(self, run: Run, ending: Ending) -> None:
        if run.files_pending or run.cancelled_ending is not None:
            await self._files_lost(run, ending.message)
            return
        event = finished_event(ending.status, ending.message)
        try:
            await self.recorder.finish(run.experiment_id, event, expected=ExperimentStatus.RUNNING)
        except IllegalTransition as error:
            if error.current is ExperimentStatus.CANCELLED:
                await self._complete_cancel(run, event)

    async def _complete_cancel(self, run: Run, event: events_pb2.ExperimentEvent) -> None:
        """End the log of a run whose experiment was CANCELLED while its files were coming."""
        with contextlib.suppress(IllegalTransition):  # completed by someone else already
            await self.recorder.complete_cancel(
                run.experiment_id, event, position=run.position or None
            )

    async def _stream_failed(self, run: Run, error: grpc.aio.AioRpcError) -> None:
        trainer = f"trainer {run.trainer.id} at {run.trainer.address}"
        experiment_id = run.experiment_id
        if run.attach and not run.answered and run.ending is None:
            await self._lost(
                run,
                f"a scheduler restarted and {trainer} no longer had the run "
                f"({error.code().name}: {error.details()})",
                trainer_at_fault=True,
                counted=False,
            )
            return
        if not run.answered and run.ending is None:
            if error.code() not in RETRY_ELSEWHERE:
                await self._end(
                    run,
                    Ending(
                        ExperimentStatus.FAILED,
                        f"{trainer} refused the experiment: {error.code().name}: {error.details()}",
                    ),
                )
                return
            hint = await asyncio.to_thread(
                connection_hint,
                error.details() or "",
                tls=self._tls.connects_with_tls,
                server=trainer,
            )
            log.warning(
                "%s did not take experiment %s: %s%s",
                trainer,
                experiment_id,
                error,
                f"; {hint}" if hint else "",
            )
            self._rest(run.trainer.id)
            with contextlib.suppress(IllegalTransition):
                await self.recorder.changed(
                    await asyncio.to_thread(self.store.requeue, experiment_id)
                )
            return
        await self._lost(
            run,
            f"{trainer} was lost ({error.code().name}: {error.details()})",
            trainer_at_fault=True,
        )

    async def _lost(
        self, run: Run, reason: str, *, trainer_at_fault: bool, counted: bool = True
    ) -> None:
        """Place a lost run again from its latest checkpoint, or fail it past `max_restarts`."""
        if trainer_at_fault:
            self._rest(run.trainer.id)
        if run.files_pending or run.cancelled_ending is not None:
            await self._files_lost(run, reason)
            return
        experiment = await asyncio.to_thread(
            self.store.get_experiment, run.experiment_id, caller=None
        )
        if experiment.status is ExperimentStatus.CANCELLED:
            message = f"cancelled; the run was lost before all its files arrived: {reason}"
            await self._complete_cancel(run, finished_event(ExperimentStatus.CANCELLED, message))
            return
        if experiment.status is not ExperimentStatus.RUNNING:
            return  # ended meanwhile: that ending stands
        if not counted:
            await self._requeue_lost(experiment, reason, counted=False)
            return
        used = experiment.restarts_used + 1
        if used > experiment.max_restarts:
            losses = [a for a in experiment.attempts if a.lost_reason and a.counted]
            listed = "; ".join(
                [f"attempt {a.number}: {a.lost_reason}" for a in losses]
                + [f"attempt {len(experiment.attempts)}: {reason}"]
            )
            with contextlib.suppress(IllegalTransition):
                await self.recorder.finish(
                    run.experiment_id,
                    finished_event(
                        ExperimentStatus.FAILED,
                        f"the run was lost {used} times, more than max_restarts "
                        f"({experiment.max_restarts}) allows: {listed}",
                    ),
                    expected=ExperimentStatus.RUNNING,
                    lost_reason=reason,
                )
            return
        await self._requeue_lost(
            experiment,
            reason,
            counted=True,
            budget=f" (restart {used} of {experiment.max_restarts})",
        )

    async def _requeue_lost(
        self, experiment: ExperimentRecord, reason: str, *, counted: bool, budget: str = ""
    ) -> None:
        """Put a lost run back in the queue, saying why and where it will resume from."""
        start = (
            f"the checkpoint of epoch {experiment.checkpoint_epoch}"
            if experiment.checkpoint_epoch
            else "its first epoch (no checkpoint yet)"
        )
        log.warning("experiment %s: %s; placing it again", experiment.id, reason)
        await self.recorder.event(
            experiment.id,
            log_event(
                f"the run was lost: {reason}. It is placed again and resumes from {start}{budget}"
            ),
        )
        with contextlib.suppress(IllegalTransition):
            await self.recorder.changed(
                await asyncio.to_thread(
                    self.store.requeue, experiment.id, lost_reason=reason, counted=counted
                )
            )

    def _rest(self, trainer_id: str) -> None:
        """Give a trainer that refused or was lost no new work for a while."""
        self._cooldown[trainer_id] = asyncio.get_running_loop().time() + REFUSAL_COOLDOWN_S
