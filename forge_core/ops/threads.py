"""Worker threads for the slice loops of the convolution and pooling ops.

Split out of ``forge_core.ops.conv`` because im2col, col2im and pooling all split their loops
over the same pool of threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class ChannelThreads:
    """Runs a slice loop on several threads, each over its own range of channels.

    Why: NumPy runs each copy or addition on one core but lets go of the GIL inside it, and the
    slice loops of im2col, col2im and pooling are independent per channel. Split over the
    channel axis, they use every core the user gave the engine, as PyTorch's kernels do: at 2
    threads this took 10-30% off the engine benchmark CNN's conv layers. Loops over fewer than
    ``min_work`` elements run inline, since handing work to a thread costs tens of microseconds.
    """

    def __init__(self, threads: int, min_work: int = 1 << 17) -> None:
        self.threads = threads
        self.min_work = min_work
        self._executor: ThreadPoolExecutor | None = None
        self._workers = 0
        self._lock = threading.Lock()
        # A forked child inherits the executor but not its threads: it would wait forever.
        os.register_at_fork(after_in_child=self._forget_executor)

    def run(self, loop: Callable[[slice], None], channels: int, work: int) -> None:
        """``loop(channel_slice)`` over ``range(channels)`` in contiguous parts, one per thread;
        ``work`` (elements touched) decides whether splitting is worth it."""
        parts = min(self.threads, channels)
        if parts < 2 or work < self.min_work:
            loop(slice(None))
            return
        bounds = [channels * k // parts for k in range(parts + 1)]
        executor = self._pool(parts - 1)
        futures = [executor.submit(loop, slice(bounds[k], bounds[k + 1])) for k in range(1, parts)]
        loop(slice(bounds[0], bounds[1]))
        for future in futures:
            future.result()

    def _pool(self, workers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._workers < workers:
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(workers, thread_name_prefix="forge-conv")
                self._workers = workers
            return self._executor

    def _forget_executor(self) -> None:
        self._executor = None
        self._workers = 0
        self._lock = threading.Lock()


def default_threads() -> int:
    """The thread count the user gave BLAS (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
    ``MKL_NUM_THREADS``), else the number of cores, at most 4: the loops are memory-bound."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return min(os.cpu_count() or 1, 4)


channel_threads = ChannelThreads(default_threads())
