"""The parent's side of a job: start the child, stream what it says, end the run one way or another.

``Job`` owns one child process (see ``trainer.job``). A reader thread blocks on the child's
events pipe and hands the loop its messages as they arrive (a fast run's in groups, see
``_Gatherer``), so the loop never waits on the pipe and an event reaches the stream
while the child is still training. ``run_experiment`` turns those messages into the Train
stream: the events as they come (a group as one ``EventBatch`` item), and then the run's end,
in one of two orders:

- the child reports its verdict before writing its files (``RunEvaluated``, which
  ``BasePipeline.run`` sends): ``ExperimentFinished`` with ``files_follow`` at once; then,
  once the child has reported its end (its files all written), the run folder's files as
  ``ArtifactChunk``\\ s, and ``FilesStored`` last. A child that dies or is stopped between the
  two sends no files, and ``FilesStored`` says why; one whose writing failed sends what it
  wrote, and ``FilesStored`` says what failed. The verdict stands either way;
- otherwise (a pipeline that overrides ``run``, a run stopped by a cancel, or one that failed
  or was lost before its verdict): the files once the child has reported its end, then
  ``ExperimentFinished``.

The child's exit is awaited after the last item, not before (a child that dies without
reporting its end is awaited first: its exit code is the news).

How a run ends:

- the child reports its end (succeeded, failed with an error, or stopped by a cancel): that
  status, and its files, which it finished writing;
- cancelled: the child gets the trainer's cancel grace (``Assignment.cancel_grace_s``, 30 s by
  default) to stop at its next batch and write its report, whose files follow as usual; one
  that does not (stuck in a data download, say) is terminated, then killed, and the run is
  ``CANCELLED`` without files, saying so;
- abandoned (nobody followed the run for the trainer's grace period): the child is killed, and
  the run is ``FAILED`` and ``retryable``, saying so;
- the child dies (a segfault, the OOM killer): ``FAILED``, naming the exit code or signal, and
  ``retryable``: no fault of the pipeline, so the scheduler places the run again from its last
  checkpoint. Its folder may hold half-written files, so none are sent.

While the child trains, each resume checkpoint it saves goes out as ``CheckpointChunk``\\ s
between the events (see ``trainer.job``), so a run can resume on any trainer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import cast

from azuraforge.v1 import events_pb2, experiment_pb2, trainer_pb2
from trainer.artifacts import artifact_chunks, checkpoint_chunks
from trainer.events import Outcome, RunInfo, files_stored_event, finished_event, to_event
from trainer.job import (
    CheckpointSaved,
    ChildMessage,
    JobSpec,
    Progress,
    RunEnded,
    RunEvaluated,
    describe_error,
)
from trainer.warm import JobProcess, ReadyProcesses

log = logging.getLogger(__name__)

HAND_OVER_EVERY_S = 0.01
"""How often, at most, the loop is handed what a fast run sent (see ``_Gatherer``)."""
MOST_BATCH_BYTES = 256 * 1024
"""An event batch is cut before it grows past this (an artifact chunk's size)."""
KILL_GRACE_S = 0.2
"""How long a terminated child may take to exit before it is killed."""
EXIT_GRACE_S = 5.0
"""How long a child that reported its end may take to exit (a thread it left running)."""
SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
FAILED = experiment_pb2.EXPERIMENT_STATUS_FAILED
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED
STATUSES = {"completed": SUCCEEDED, "cancelled": CANCELLED, "failed": FAILED}


@dataclass(frozen=True)
class Assignment:
    """A validated Train request: what to run, where, and with how many threads."""

    experiment_id: str
    spec: JobSpec
    trainer_id: str
    threads: int
    # How long a cancelled child may take to stop on its own before it is terminated.
    cancel_grace_s: float = 30.0

    @property
    def run(self) -> RunInfo:
        return RunInfo(self.experiment_id, self.spec.pipeline.name, self.trainer_id)


class Job:
    """One experiment's child process, as the trainer sees and steers it.

    The process comes from `processes` when the job starts: the trainer's ready one, or a
    new one (``trainer.warm``); without `processes`, always a new one.
    """

    def __init__(self, experiment: Assignment, processes: ReadyProcesses | None = None) -> None:
        self.experiment = experiment
        self.cancel_requested = False
        self.abandoned: str | None = None
        self.ended: RunEnded | None = None
        self._processes = processes
        self._child: JobProcess | None = None
        self._inbox: asyncio.Queue[list[ChildMessage] | None] = asyncio.Queue()
        self._timers: list[asyncio.TimerHandle] = []

    @property
    def exitcode(self) -> int | None:
        return None if self._child is None else self._child.process.exitcode

    def start(self) -> None:
        """Give the job to a process and start the reader of its events pipe."""
        threads = self.experiment.threads
        child = (
            self._processes.take(threads)
            if self._processes is not None
            else JobProcess(threads, warm=False)
        )
        try:
            try:
                child.give(self.experiment.experiment_id, self.experiment.spec)
            except OSError:  # the ready process died while it waited: start one for this job
                child.discard()
                child = JobProcess(threads, warm=False)
                child.give(self.experiment.experiment_id, self.experiment.spec)
        except BaseException:  # a spec that does not pickle: the process never got its job
            child.discard()
            raise
        self._child = child
        gatherer = _Gatherer(asyncio.get_running_loop(), self._inbox)
        threading.Thread(
            target=_read, args=(child.events, gatherer), daemon=True, name="job-reader"
        ).start()

    async def messages(self) -> AsyncIterator[list[Progress | CheckpointSaved | RunEvaluated]]:
        """The child's messages as they arrive, in lists of those that arrived together, until
        it reports its end or its pipe closes."""
        while (arrived := await self._inbox.get()) is not None:
            for place, message in enumerate(arrived):
                if isinstance(message, RunEnded):
                    self.ended = message
                    if place:
                        yield cast(list[Progress | CheckpointSaved | RunEvaluated], arrived[:place])
                    return
            yield cast(list[Progress | CheckpointSaved | RunEvaluated], arrived)

    async def wait(self) -> None:
        """Wait for the child to exit; kill one that does not after reporting its end."""
        if self._child is None:
            return
        process = self._child.process
        await asyncio.to_thread(process.join, EXIT_GRACE_S)
        if process.is_alive():
            log.warning("job %s did not exit after its run ended; killing it", self.name)
            process.kill()
            await asyncio.to_thread(process.join)

    def cancel(self, reason: str = "cancelled by request") -> None:
        """Ask the child to stop at its next batch; terminate it if it has not within the grace."""
        if self.cancel_requested:
            return
        self.cancel_requested = True
        if self._child is not None:
            with suppress(OSError):  # the child is gone already: nothing left to stop
                self._child.control.send(reason)
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(self.experiment.cancel_grace_s, self._terminate))

    def abandon(self, reason: str) -> None:
        """Kill the child because nobody follows the run; ``reason`` becomes its ending."""
        self.abandoned = reason
        if self._child is not None and self._child.process.is_alive():
            log.warning("job %s: %s", self.name, reason)
            self._child.process.kill()

    def close(self) -> None:
        """Make sure the child is gone: kill it if it still runs. Safe to call more than once."""
        for timer in self._timers:
            timer.cancel()
        if self._child is not None:
            # The reader thread owns the events pipe and closes it when the child is gone.
            process = self._child.process
            if process.is_alive():
                process.kill()
            process.join()
            self._child.control.close()

    @property
    def name(self) -> str:
        return self.experiment.experiment_id

    def _terminate(self) -> None:
        if self._child is not None and self._child.process.is_alive():
            log.warning(
                "job %s did not stop within %.1f s of cancel",
                self.name,
                self.experiment.cancel_grace_s,
            )
            self._child.process.terminate()
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(KILL_GRACE_S, self._kill))

    def _kill(self) -> None:
        if self._child is not None and self._child.process.is_alive():
            self._child.process.kill()


async def run_experiment(job: Job) -> AsyncIterator[trainer_pb2.TrainResponse]:
    """The Train stream of a job: start it, stream its events, its files, then its end."""
    run = job.experiment.run
    try:
        job.start()
    except Exception as error:  # e.g. a pipeline class that cannot be pickled by reference
        log.exception("job %s could not start", job.name)
        failed = Outcome(FAILED, f"the training process could not start: {describe_error(error)}")
        yield trainer_pb2.TrainResponse(event=finished_event(failed, run, 1))
        return
    seq = 0
    verdict: RunEvaluated | None = None
    async for arrived in job.messages():
        batch = _Batch()
        for message in arrived:
            if isinstance(message, CheckpointSaved):
                if batch:
                    yield batch.item()
                for piece in checkpoint_chunks(message.path, message.epoch):
                    yield trainer_pb2.TrainResponse(checkpoint_chunk=piece)
                message.path.unlink(missing_ok=True)
                continue
            seq += 1
            if isinstance(message, RunEvaluated):
                if batch:
                    yield batch.item()
                verdict = message
                ending = finished_event(outcome(message, None, False), run, seq, files_follow=True)
                yield trainer_pb2.TrainResponse(event=ending)
                continue
            if batch.add(to_event(message, run, seq)):
                yield batch.item()
        if batch:
            yield batch.item()
    if verdict is not None:
        async for item in _files_after_verdict(job, seq + 1):
            yield item
        return
    if job.ended is None:
        await job.wait()  # it died or was stopped: how it exited says how the run ended
    else:
        # Its report says every file is written: they go now, not after the process exits.
        for chunk in artifact_chunks(job.experiment.spec.run_dir):
            yield trainer_pb2.TrainResponse(artifact_chunk=chunk)
    result = outcome(
        job.ended,
        job.exitcode,
        job.cancel_requested,
        job.abandoned,
        cancel_grace_s=job.experiment.cancel_grace_s,
    )
    yield trainer_pb2.TrainResponse(event=finished_event(result, run, seq + 1))
    await job.wait()  # the slot stays taken until the process is gone


async def _files_after_verdict(job: Job, seq: int) -> AsyncIterator[trainer_pb2.TrainResponse]:
    """The files of a run whose verdict went out already, then `FilesStored` as the last item."""
    sent, error = 0, ""
    if job.ended is None:
        await job.wait()
        error = files_lost(job.exitcode, job.cancel_requested, job.abandoned)
    else:
        for chunk in artifact_chunks(job.experiment.spec.run_dir):
            yield trainer_pb2.TrainResponse(artifact_chunk=chunk)
            sent += chunk.last
        if job.ended.status == "failed":
            error = f"writing the run's files failed: {job.ended.error}"
    event = files_stored_event(sent, error, job.experiment.run, seq)
    yield trainer_pb2.TrainResponse(event=event)
    await job.wait()


def files_lost(exitcode: int | None, cancel_requested: bool, abandoned: str | None) -> str:
    """Why a run that gave its verdict sent none of its files: how its process ended."""
    if abandoned is not None:
        why = "no scheduler followed the run while it wrote them, so the trainer stopped it"
    elif cancel_requested:
        why = "it was cancelled and did not stop in time, so its process was killed"
    else:
        why = died(exitcode)
    return f"the run's files were not sent: {why}"


class _Batch:
    """Events that arrived together, on their way to be one item of the stream."""

    def __init__(self) -> None:
        self._events: list[events_pb2.ExperimentEvent] = []
        self._bytes = 0

    def __bool__(self) -> bool:
        return bool(self._events)

    def add(self, event: events_pb2.ExperimentEvent) -> bool:
        """Add `event`; whether the batch is full (``MOST_BATCH_BYTES``) and must go now."""
        self._events.append(event)
        self._bytes += event.ByteSize()
        return self._bytes >= MOST_BATCH_BYTES

    def item(self) -> trainer_pb2.TrainResponse:
        """The events as one item (a lone one as `event`), and the batch empty again."""
        events, self._events, self._bytes = self._events, [], 0
        if len(events) == 1:
            return trainer_pb2.TrainResponse(event=events[0])
        return trainer_pb2.TrainResponse(events=trainer_pb2.EventBatch(events=events))


def outcome(
    ended: RunEvaluated | RunEnded | None,
    exitcode: int | None,
    cancel_requested: bool,
    abandoned: str | None = None,
    *,
    cancel_grace_s: float = 30.0,
) -> Outcome:
    """How the run ended: as the child reported, or, when it could not, by how it exited."""
    if ended is not None:
        return Outcome(
            STATUSES[ended.status],
            ended.error,
            ended.metrics,
            ended.baselines,
            ended.references,
            ended.at,
        )
    if abandoned is not None:
        return Outcome(FAILED, abandoned, retryable=True)
    if cancel_requested:
        return Outcome(
            CANCELLED,
            f"cancelled; the pipeline did not stop within {cancel_grace_s:g} s, so its process "
            "was killed and its files were not kept",
        )
    return Outcome(FAILED, died(exitcode), retryable=True)


def died(exitcode: int | None) -> str:
    """What a child's exit code says about how it died, for a user to act on."""
    if exitcode is not None and exitcode < 0:
        name = _signal_name(-exitcode)
        hint = " (the out-of-memory killer sends SIGKILL)" if -exitcode == signal.SIGKILL else ""
        return f"the training process was killed by signal {name} (exit code {exitcode}){hint}"
    return f"the training process exited with exit code {exitcode} before the run ended"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _read(events: Connection, gatherer: _Gatherer) -> None:
    """Hand each message to `gatherer` as it arrives (the thread's job), until the child's end
    of the pipe closes.

    The thread owns ``events`` and closes it: closing it from the loop while this thread
    blocks on it could let a new file take its descriptor under the blocked read.
    """
    try:
        while True:
            try:
                message = events.recv()
            except (EOFError, OSError):
                break
            except Exception:  # one message that does not unpickle; the next ones may
                log.exception("a message from a job could not be read")
                continue
            gatherer.add(message)
        gatherer.end()
    except RuntimeError:  # the loop closed: nobody is listening any more
        pass
    finally:
        events.close()


class _Gatherer:
    """Hands the loop what the reader thread receives, a fast run's in groups.

    A message that comes after a quiet ``HAND_OVER_EVERY_S`` is handed over at once; those
    that come sooner wait until that much time has passed since the last hand-over, and go
    together. So a run of a few events a second is never held back, and a fast one costs the
    loop, the stream and the scheduler one item per ``HAND_OVER_EVERY_S``, not one per event.
    The child writes every message as it happens, so what it said before dying is never lost
    with it; here, in the trainer, it waits at most ``HAND_OVER_EVERY_S``.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, inbox: asyncio.Queue[list[ChildMessage] | None]
    ) -> None:
        self._loop = loop
        self._inbox = inbox
        self._lock = threading.Lock()
        self._waiting: list[ChildMessage] = []
        self._due = False  # a hand-over of what waits is on its way
        self._handed_at = -math.inf

    def add(self, message: ChildMessage) -> None:
        """Keep `message` for the next hand-over (the reader thread)."""
        with self._lock:
            self._waiting.append(message)
            if self._due:
                return
            self._due = True
        self._loop.call_soon_threadsafe(self._schedule)

    def end(self) -> None:
        """The pipe closed: hand over what waits, then the end (the reader thread)."""
        self._loop.call_soon_threadsafe(self._end)

    def _schedule(self) -> None:
        delay = self._handed_at + HAND_OVER_EVERY_S - self._loop.time()
        if delay > 0:
            self._loop.call_later(delay, self._hand_over)
        else:
            self._hand_over()

    def _hand_over(self) -> None:
        with self._lock:
            waiting, self._waiting, self._due = self._waiting, [], False
        if waiting:  # empty when the end took it first
            self._handed_at = self._loop.time()
            self._inbox.put_nowait(waiting)

    def _end(self) -> None:
        self._hand_over()
        self._inbox.put_nowait(None)
