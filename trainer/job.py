"""One experiment's child process, and the messages it sends the trainer while it trains.

Training is NumPy work that keeps a core busy and holds the GIL for long stretches; inside the
trainer's own process it would stall the event loop that streams events and answers Cancel.
So each experiment runs in a child process, started with the *spawn* method: a fresh
interpreter, which inherits none of the parent's gRPC threads, event loop or held locks (a fork
would copy them in whatever state they were in).

A run that resumes gets the checkpoint of an earlier attempt in ``JobSpec.resume_checkpoint``;
the child writes it into the run folder and the pipeline goes on from it. While it trains, the
child saves its own resume checkpoint every ``checkpoint_every`` epochs (the config's) and no
more often than ``JobSpec.checkpoint_interval_s``, each into a file of its own, and says so with
``CheckpointSaved``; the parent sends the file to the scheduler and deletes it.

The child talks to its parent over two one-way pipes. On ``events`` it sends one small frozen
dataclass per thing that happened: plain data that pickles as it is. On ``control`` it listens
for a cancel, which it turns into ``Learner.stop()``, so the fit ends at the next batch and the
pipeline still writes its report of the model as it stands. A closed ``control`` pipe means the
trainer is gone, and a run nobody watches is not worth finishing: the child exits at once.

A run's end comes in two steps when the pipeline allows (``BasePipeline.run`` does): the
verdict (``RunEvaluated``) as soon as the model is evaluated, then ``RunEnded`` once the
weights, plots and report are written. The trainer reports the experiment finished on the
first, and sends the files on the second. A pipeline that overrides ``run`` without firing
``on_run_evaluated`` sends only ``RunEnded``, after its files, as before; so does a run that a
cancel stopped, because cancelling has an order of its own (the status within ~2 s, then the
files, then the ending: ``scheduler.placement.cancelling``).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

from forge_learner import Callback, Learner, Logs, RunResult, Verdict, save_checkpoint
from forge_learner.registry import PipelineClass, discover_pipelines

log = logging.getLogger(__name__)

BATCH_INTERVAL_S = 0.25
"""At most four batch progress messages a second: enough for a progress bar, no more."""
ORDER = 60
"""After the built-in callbacks (``ProgressBar`` is 50), so the logs sent are what History keeps."""


RESUME_DIR = ".resume"
"""Inside the run folder: hidden, so these files never travel as artifacts."""


@dataclass(frozen=True)
class JobSpec:
    """What the child needs: the pipeline (pickled by reference), its validated config, a folder.

    ``resume_checkpoint`` is the checkpoint to go on from (its bytes), if any;
    ``checkpoint_interval_s`` the least time between two checkpoints sent to the scheduler.
    """

    pipeline: PipelineClass
    config: dict[str, Any]
    run_dir: Path
    resume_checkpoint: bytes | None = field(default=None, repr=False)
    checkpoint_interval_s: float = 10.0

    @property
    def checkpoint_every(self) -> int:
        return max(1, int(self.config.get("checkpoint_every", 1)))


@dataclass(frozen=True)
class TrainingStarted:
    """The pipeline loaded its data and built its model; the fit begins (``on_train_begin``)."""

    epochs: int
    steps: int
    initial_epoch: int
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class EpochDone:
    """Epoch ``epoch`` (counted from 1) ended with ``metrics``, ``elapsed_s`` into the fit."""

    epoch: int
    epochs: int
    metrics: dict[str, float]
    elapsed_s: float
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class BatchDone:
    """``batch`` of ``batches`` done in ``epoch`` (both counted from 1), with the running loss."""

    epoch: int
    batch: int
    batches: int
    loss: float
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class CheckpointSaved:
    """The resume checkpoint after epoch ``epoch`` (counted from 1) is whole at ``path``."""

    epoch: int
    path: Path
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class LogRecord:
    """A line the pipeline (or anything it uses) logged at INFO or above."""

    level: str
    logger: str
    message: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunEnded:
    """The run's end as the pipeline saw it; the child sends nothing after it.

    ``error`` says why a run failed, or why a cancelled one stopped. ``metrics`` are the model's
    test metrics; ``baselines`` and ``references`` each other model's, by its name.
    """

    status: Literal["completed", "cancelled", "failed"]
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class RunEvaluated:
    """The run's verdict, before its files are written: ``RunEnded``'s fields, and it follows.

    The pipeline evaluated the model (``Callback.on_run_evaluated``); what it writes next may
    still fail, which the ``RunEnded`` after it says.
    """

    status: Literal["completed", "cancelled"]
    error: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


READY = "ready"
"""What a job process started ahead of its job sends once it has imported every pipeline."""

Progress = TrainingStarted | EpochDone | BatchDone | LogRecord
"""What the child says while the run goes on that becomes an event."""
ChildMessage = Progress | CheckpointSaved | RunEvaluated | RunEnded


def job_process(events: Connection, control: Connection, warm: bool) -> None:
    """The job process's entry point: get ready, wait for the job, run it, exit at once.

    A ``warm`` process gets ready by importing every registered pipeline (the engine and the
    learner came with this module): a trainer starts its next job process before a job
    arrives (``trainer.warm``), so that a submitted run starts training without paying for an
    interpreter and its imports. A process started for a job at hand imports only what the
    job names. The job is the first message on ``control``; a closed pipe means the trainer
    is gone.

    Once the run is over and reported, the process exits without the interpreter's teardown:
    everything it had to say went down the pipe, its files are written and closed, and a
    thread a pipeline left behind must not hold the end of the run up.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if warm:
        discover_pipelines()
        events.send(READY)
    try:
        spec = control.recv()
    except (EOFError, OSError):
        os._exit(0)
    run_job(spec, events, control)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_job(spec: JobSpec, events: Connection, control: Connection) -> None:
    """The child's entry point: run the pipeline, reporting everything on ``events``.

    Ctrl-C in the trainer's terminal reaches every process in its group; the trainer decides
    what happens to its jobs, so the child ignores it rather than die mid-write.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = _Outbox(events)
    forwarder = ForwardEvents(outbox, spec)
    threading.Thread(target=_listen, args=(control, forwarder), daemon=True).start()
    root = logging.getLogger()
    root.addHandler(ForwardLogs(outbox))
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        result = spec.pipeline().run(
            spec.config,
            callbacks=[forwarder],
            run_dir=spec.run_dir,
            resume_from=_resume_file(spec),
        )
    except Exception as error:  # a pipeline may raise anything; the trainer reports it
        log.error("%s failed", spec.pipeline.name, exc_info=True)
        outbox.send(RunEnded("failed", error=describe_error(error)))
    else:
        outbox.send(ended(result))
    finally:
        events.close()


def _resume_file(spec: JobSpec) -> Path | None:
    """The checkpoint to resume from, written where the pipeline can read it; None for none."""
    if spec.resume_checkpoint is None:
        return None
    path = spec.run_dir / RESUME_DIR / "resume-from.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(spec.resume_checkpoint)
    return path


def ended(result: RunResult) -> RunEnded:
    """The message for a run that returned: its status and every final number."""
    verdict = evaluated(
        Verdict(result.pipeline, result.status, result.stop_reason, result.evaluation)
    )
    return RunEnded(
        verdict.status, verdict.error, verdict.metrics, verdict.baselines, verdict.references
    )


def evaluated(verdict: Verdict) -> RunEvaluated:
    """The message for a run's verdict: its status and every final number."""
    evaluation = verdict.evaluation
    return RunEvaluated(
        verdict.status,
        error=verdict.stop_reason or "",
        metrics=numbers(evaluation.metrics),
        baselines={name: numbers(scores) for name, scores in evaluation.baselines.items()},
        references={name: numbers(scores) for name, scores in evaluation.references.items()},
    )


def describe_error(error: BaseException) -> str:
    """``Type: message``, and where it was raised: what a user needs to find the fault.

    The full traceback goes out as an ERROR log line beside it.
    """
    text = f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        where = frames[-1]
        text += f" (in {where.name}, {Path(where.filename).name}:{where.lineno})"
    return text


def numbers(values: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of ``values`` as floats; texts (a stop reason) and flags left out."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


class ForwardEvents(Callback):
    """Sends the learner's progress to the parent, and stops the fit when the parent cancels."""

    order = ORDER

    def __init__(self, outbox: _Outbox, spec: JobSpec) -> None:
        self._outbox = outbox
        self._spec = spec
        self._checkpointed_at = -math.inf
        self._lock = threading.Lock()
        self._training: Learner | None = None
        self._cancel_reason: str | None = None
        self._started = 0.0
        self._epochs = 0
        self._steps = 0
        self._sent_batch_at = -math.inf

    def cancel(self, reason: str) -> None:
        """Stop the fit at its next batch, or as it begins if it has not yet (any thread)."""
        with self._lock:
            self._cancel_reason = reason
            if self._training is not None:
                self._training.stop(reason)

    def on_train_begin(self, logs: Logs) -> None:
        with self._lock:
            self._training = self.learner
            if self._cancel_reason is not None:
                self.learner.stop(self._cancel_reason)
        self._started = time.monotonic()
        self._epochs, self._steps = int(logs["epochs"]), int(logs["steps"])
        self._outbox.send(TrainingStarted(self._epochs, self._steps, int(logs["initial_epoch"])))

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        now = time.monotonic()
        if now - self._sent_batch_at < BATCH_INTERVAL_S or "loss" not in logs:
            return
        self._sent_batch_at = now
        epoch = self.learner.epoch + 1
        self._outbox.send(BatchDone(epoch, batch + 1, self._steps, float(logs["loss"])))

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        # The checkpoint goes first: whoever sees an epoch end finds its checkpoint stored.
        elapsed = time.monotonic() - self._started
        self._checkpoint(epoch + 1)
        self._outbox.send(EpochDone(epoch + 1, self._epochs, numbers(dict(logs)), elapsed))

    def on_run_evaluated(self, verdict: Verdict) -> None:
        if verdict.status != "completed":
            return  # a cancelled run ends in the cancel's order (see the module docstring)
        self._outbox.send(evaluated(verdict))

    def _checkpoint(self, epoch: int) -> None:
        """Save and announce the resume checkpoint when the cadence and the interval allow."""
        now = time.monotonic()
        if (
            epoch % self._spec.checkpoint_every
            or now - self._checkpointed_at < self._spec.checkpoint_interval_s
        ):
            return
        self._checkpointed_at = now
        path = self._spec.run_dir / RESUME_DIR / f"epoch-{epoch}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.learner.checkpoint(), path)
        self._outbox.send(CheckpointSaved(epoch, path))


class ForwardLogs(logging.Handler):
    """Sends every log record at INFO or above to the parent as a ``LogRecord``."""

    def __init__(self, outbox: _Outbox) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(message)s"))
        self._outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = LogRecord(record.levelname, record.name, self.format(record), record.created)
            self._outbox.send(message)
        except Exception:  # logging must never break the run it describes
            self.handleError(record)


class _Outbox:
    """The events pipe, safe to send on from any thread (log records come from any thread).

    Each message is written as it is sent, never held back: a process killed the moment after
    (the OOM killer, a segfault) has lost nothing it said, its checkpoints above all. Grouping
    a fast run's messages is the trainer's side's job (``trainer.runner``).
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, message: ChildMessage) -> None:
        with self._lock:
            self._connection.send(message)


def _listen(control: Connection, forwarder: ForwardEvents) -> None:
    """Wait for the parent's cancel (its reason); exit at once if the parent goes away."""
    try:
        reason = control.recv()
    except (EOFError, OSError):
        os._exit(1)
    forwarder.cancel(str(reason))
