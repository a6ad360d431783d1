"""Job processes started ahead of their jobs, so that a run starts training at once.

Starting a job process costs a fresh interpreter (``spawn``, see ``trainer.job``), NumPy, the
engine, the learner and the pipeline's own imports: most of a second on a small machine, and
all of it between a submit and the run's first event. So the trainer keeps one process
started and ready (``JobProcess``, which imports every registered pipeline, says so, and then
waits on its control pipe), takes it for the next job, and at once starts the next one. A job
that finds none ready (two arrive together, the ready one is still importing, or it died)
starts its own, which imports only what that job needs, as before.

One ready process per trainer, not per slot: jobs rarely arrive together, and each waiting
process holds its imports in memory (about as much as a run's own process at its start).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from trainer.job import READY, JobSpec, job_process

log = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
_environment_lock = threading.Lock()
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
"""The variables BLAS and OpenMP libraries size their thread pools by, when they load."""
READY_NAME = "forge-job-ready"
"""The name of a process that waits for a job (a job's process is ``forge-job-<id>``)."""


class JobProcess:
    """A started job process and the parent's ends of its two pipes; it waits for its job."""

    def __init__(self, threads: int, *, warm: bool) -> None:
        self.threads = threads
        self._ready = False
        self.events, events_end = _SPAWN.Pipe(duplex=False)
        control_end, self.control = _SPAWN.Pipe(duplex=False)
        self.process = _SPAWN.Process(
            target=job_process, args=(events_end, control_end, warm), name=READY_NAME
        )
        try:
            with thread_limits(threads):
                self.process.start()
        except BaseException:
            for end in (self.events, self.control):
                end.close()
            raise
        finally:
            for end in (events_end, control_end):
                end.close()  # the child holds them now; the parent's copies would hide its exit

    @property
    def ready(self) -> bool:
        """Whether it has said it imported everything (a warm one), without waiting for it."""
        if not self._ready:
            try:
                self._ready = self.events.poll() and self.events.recv() == READY
            except (EOFError, OSError):
                return False
        return self._ready and self.process.is_alive()

    def give(self, experiment_id: str, spec: JobSpec) -> None:
        """Hand the process its job; OSError if it is gone."""
        self.process.name = f"forge-job-{experiment_id}"
        self.control.send(spec)

    def discard(self) -> None:
        """Stop a process that never got a job: closing its control pipe makes it exit."""
        self.control.close()
        self.events.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class ReadyProcesses:
    """The trainer's one job process kept ready (see the module docstring)."""

    def __init__(self, threads: int, enabled: bool = True) -> None:
        self._threads = threads
        self._enabled = enabled
        self._ready: JobProcess | None = None
        self._closed = False

    def start(self) -> None:
        """Start the first ready process (the trainer is starting)."""
        self._refill()

    def take(self, threads: int) -> JobProcess:
        """A process for a job with `threads` threads: the ready one if it is done importing,
        else a new one that imports only what its job needs (jobs that arrive together do not
        wait for, nor pile up, processes that import every pipeline)."""
        ready = self._ready
        if ready is not None and not ready.process.is_alive():
            ready.discard()
            ready = self._ready = None
        if ready is not None and ready.threads == threads and ready.ready:
            self._ready = None
            if self._enabled and not self._closed:
                asyncio.get_running_loop().call_soon(self._refill)
            return ready
        if ready is None and self._enabled and not self._closed:
            asyncio.get_running_loop().call_soon(self._refill)
        return JobProcess(threads, warm=False)

    @property
    def ready(self) -> bool:
        """Whether a process is ready for the next job now."""
        return self._ready is not None and self._ready.ready

    def renew(self) -> None:
        """Replace the ready process: the installed pipelines changed since it imported them."""
        if self._ready is not None:
            self._ready.discard()
            self._ready = None
        self._refill()

    def close(self) -> None:
        """Stop the ready process: the trainer is going away."""
        self._closed = True
        if self._ready is not None:
            self._ready.discard()
            self._ready = None

    def _refill(self) -> None:
        if not self._enabled or self._closed or self._ready is not None:
            return
        try:
            self._ready = JobProcess(self._threads, warm=True)
        except OSError as error:  # out of processes or memory: jobs start their own
            log.warning("could not start a job process ahead of its job: %s", error)


@contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """Put the thread limits in this process's environment while a child is started.

    A spawned child inherits the environment as it is at start, and the limits must be there
    before the child imports NumPy, which happens before any code of ours runs in it.
    """
    with _environment_lock:
        saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value
