"""Placing experiments on trainers and following each run to its end.

`Placement` is the scheduler's background worker. It wakes when something may have freed or
needed a slot (a submission, a trainer registering or heartbeating, a run ending) and every
`POLL_S` anyway, claims the oldest pending experiments (`Store.claim_pending`: each goes to
exactly one scheduler) and hands each to the live trainer with the most free slots that runs
its pipeline, so that work spreads over the cluster.

Each placed experiment is a `Run`: a task that calls `TrainerService.Train` with the cluster
token, and with the experiment's latest checkpoint when it has one, and consumes the stream.
Every event is stored and published (`scheduler.recorder`); artifact chunks are put together
and each whole file is stored, then announced with an `ArtifactStored` event; checkpoint chunks
are put together and a whole, verified checkpoint replaces the experiment's previous one;
`ExperimentFinished` ends the experiment with the trainer's verdict.

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
  and cancelled at once.

All writes about one run are made by its task, one after another, so its events keep their
order and nothing is written after its `ExperimentFinished`.

A scheduler that stops or dies leaves its running experiments RUNNING, and their runs go on:
a trainer keeps training for a grace period when its stream goes away, and keeps what the run
sends until a scheduler stored it. Each running experiment is leased to the scheduler that
follows it, and the lease is renewed with the scheduler's heartbeat (`HEARTBEAT_S`). A
scheduler adopts the runs nobody follows (`Store.adopt_runs`: its own after a restart, at once;
another's once that lease expires) and attaches to each with `TrainerService.Attach`, after the
last stream position it stored: nothing is lost, nothing stored twice, and a log line says so.
A run whose trainer is gone, or no longer has it, is placed again from its latest checkpoint,
without spending a restart (the scheduler cannot tell a trainer stopped on purpose from one that
died while it was away). Several schedulers may share one Postgres database this way; SQLite
serves one scheduler, and a second one on the same file refuses to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import grpc.aio
from google.protobuf import struct_pb2

from azuraforge.tls import TlsSettings, connection_hint
from azuraforge.v1 import events_pb2, experiment_pb2, trainer_pb2, trainer_pb2_grpc
from scheduler.convert import artifact_to_proto
from scheduler.db.models import ExperimentStatus
from scheduler.recorder import Recorder, finished_event, log_event
from scheduler.records import Caller, ExperimentRecord, TrainerRecord
from scheduler.store import IllegalTransition, Store

log = logging.getLogger(__name__)

POLL_S = 2.0
"""Placement runs at least this often, even when nothing woke it."""
HEARTBEAT_S = 2.0
"""How often the scheduler says it is alive and renews the leases on the runs it follows."""
TRAINER_RETRY_S = 5.0
"""The longest a trainer waits between two tries to reach an absent scheduler (its backoff)."""
CANCEL_STATUS_S = 1.3
"""How long a cancelled run may take to end on its own before the experiment is CANCELLED.

CancelExperiment promises the status within 2 s; this leaves the rest for recording it on a
busy machine. The run's files and last event may follow later."""
CANCEL_FILES_S = 120.0
"""How long a cancelled run's trainer has to send its files and last event before the
scheduler hangs up: beyond the trainer's own cancel grace (30 s by default) and the sending."""
REFUSAL_COOLDOWN_S = 5.0
"""How long a trainer that refused or could not be reached gets no new work."""
TRAINER_CALL_TIMEOUT_S = 5.0
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


@dataclass(frozen=True)
class Ending:
    """How the scheduler itself ends a run it hung up on.

    A `lost` run is placed again while the experiment has restarts left; `status` is what the
    experiment becomes when it has none.
    """

    status: ExperimentStatus
    message: str
    lost: bool = False


@dataclass
class Run:
    """One experiment's Train stream on one trainer, followed by one task."""

    experiment: ExperimentRecord
    trainer: TrainerRecord
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    call: grpc.aio.UnaryStreamCall[trainer_pb2.TrainRequest, trainer_pb2.TrainResponse] | None = (
        None
    )
    # Whether the trainer has sent anything: a refusal before that is no failed run.
    answered: bool = False
    # Set when the scheduler hangs up; the task then records the experiment ended this way.
    ending: Ending | None = None
    # Attached to a run a trainer already has (after a scheduler restart), not started anew.
    attach: bool = False
    # The position of the last item of the trainer's stream stored; replays up to it are moot.
    position: int = 0

    @property
    def experiment_id(self) -> str:
        return self.experiment.id

    def hang_up(self, ending: Ending) -> None:
        """Stop following the trainer's stream and end the experiment as `ending` says."""
        if self.ending is not None or self.done.is_set():
            return
        self.ending = ending
        if self.call is not None:
            self.call.cancel()


class CheckpointAssembler:
    """Puts the run's latest checkpoint back together from its chunks."""

    def __init__(self) -> None:
        self._data = bytearray()

    def add(self, chunk: trainer_pb2.CheckpointChunk) -> bytes | None:
        """The whole checkpoint once `chunk` completes it; None before. ValueError if torn."""
        if chunk.offset == 0:
            self._data = bytearray()
        if chunk.offset != len(self._data):
            self._data = bytearray()
            raise ValueError(
                f"the checkpoint of epoch {chunk.epoch}: a chunk at offset {chunk.offset} "
                "arrived out of order; the previous checkpoint is kept"
            )
        self._data += chunk.data
        if not chunk.last:
            return None
        content, self._data = bytes(self._data), bytearray()
        return content


class ArtifactAssembler:
    """Puts each artifact back together from its chunks, which arrive in order."""

    def __init__(self) -> None:
        self._parts: dict[str, bytearray] = {}

    def add(self, chunk: trainer_pb2.ArtifactChunk) -> bytes | None:
        """The whole file once `chunk` completes it; None before. ValueError if out of order."""
        data = self._parts.setdefault(chunk.name, bytearray())
        if chunk.offset != len(data):
            del self._parts[chunk.name]
            raise ValueError(
                f"artifact {chunk.name!r}: a chunk at offset {chunk.offset} arrived after "
                f"{len(data)} bytes; the file was not stored"
            )
        data += chunk.data
        if not chunk.last:
            return None
        del self._parts[chunk.name]
        return bytes(data)


class Placement:
    """Places pending experiments on trainers and follows their runs (see the module doc)."""

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
        # The scheduler is a client of its trainers: with FORGE_TLS_CA over TLS, showing its own
        # certificate to trainers that require one (azuraforge.tls).
        self._tls = tls or TlsSettings()
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._cooldown: dict[str, float] = {}
        self._loop_task: asyncio.Task[None] | None = None

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
        now = asyncio.get_running_loop().time()
        free = {
            trainer.id: trainer.free_slots
            for trainer in trainers
            if trainer.free_slots > 0 and self._cooldown.get(trainer.id, 0.0) <= now
        }
        candidates = {trainer.id: trainer for trainer in trainers if trainer.id in free}
        while candidates:
            # The trainer with the most free slots first, so that work spreads out.
            trainer = max(candidates.values(), key=lambda t: (free[t.id], -t.running, t.id))
            claimed = await asyncio.to_thread(
                self.store.claim_pending,
                trainer.id,
                1,
                scheduler_id=self.scheduler_id,
                lease=self.lease,
            )
            if not claimed:
                del candidates[trainer.id]
                continue
            free[trainer.id] -= len(claimed)
            if free[trainer.id] <= 0:
                del candidates[trainer.id]
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
                    Run(experiment, trainer, attach=True, position=experiment.stream_position)
                )
                continue
            if not self._heard_trainers_long_enough():
                continue  # its silence may be this scheduler's own absence: wait for it
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

    # Following a run

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
        async for item in run.call:
            response = item.response if isinstance(item, trainer_pb2.AttachResponse) else item
            if not run.answered:
                run.answered = True
                await (self._attached(run) if run.attach else self._resumed(run))
            if response.position and response.position <= run.position:
                continue  # stored already: a replay overlaps what was stored
            run.position = response.position or run.position
            if response.HasField("artifact_chunk"):
                await self._artifact_chunk(run, assembler, response.artifact_chunk)
            elif response.HasField("checkpoint_chunk"):
                await self._checkpoint_chunk(run, checkpoints, response.checkpoint_chunk)
            elif response.event.HasField("experiment_finished"):
                await self._finish(run, response.event)
                return
            else:
                await self.recorder.event(
                    run.experiment_id, response.event, position=response.position or None
                )
        await self._end(
            run,
            Ending(
                ExperimentStatus.FAILED,
                f"trainer {run.trainer.id} ended the run's stream without saying how it ended",
            ),
        )

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
            await self.recorder.event(run.experiment_id, log_event(str(error)))
            return
        stored = events_pb2.ExperimentEvent(
            artifact_stored=events_pb2.ArtifactStored(artifact=artifact_to_proto(record))
        )
        await self.recorder.event(run.experiment_id, stored)

    async def _finish(self, run: Run, event: events_pb2.ExperimentEvent) -> None:
        finished = event.experiment_finished
        if finished.retryable and finished.status == experiment_pb2.EXPERIMENT_STATUS_FAILED:
            await self._lost(
                run,
                f"on trainer {run.trainer.id}, {finished.error_message}",
                trainer_at_fault=False,
            )
            return
        try:
            await self.recorder.finish(
                run.experiment_id,
                event,
                expected=ExperimentStatus.RUNNING,
                position=run.position or None,
            )
        except IllegalTransition as error:
            if error.current is ExperimentStatus.CANCELLED:  # cancelled meanwhile: files done
                await self._complete_cancel(run, event)
                return
            # Ended meanwhile by someone else: theirs stands.
            log.warning("experiment %s: the trainer's ending came too late: %s", run, error)

    async def _end(self, run: Run, ending: Ending) -> None:
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

    # Cancelling

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
