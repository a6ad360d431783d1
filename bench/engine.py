"""Training-step speed of the forge engine against PyTorch on the models AzuraForge ships.

Each workload (``bench/workloads.py``) is built twice, in forge and in PyTorch, with the same
initial weights (PyTorch's, copied into forge), the same data and the same optimizer (Adam).
Each framework runs in a process of its own, as a user runs it, on 2 threads in float32: one
framework's libraries and threads cannot slow the other's, as they did when both shared a
process. The two processes take turns, round after round, so that machine noise hits both
alike, and the script prints the median time of one training step (forward, loss, backward,
optimizer step) and the forge/PyTorch ratio. A ratio below 1 means forge is faster. Beside it,
the middle half of the rounds' own ratios (each round's forge time over the PyTorch round that
follows it) says how far the machine's noise moves it: ranges that straddle 1 are a tie.

Run it with ``make bench`` (or ``.venv/bin/python -m bench.engine --help`` for options). With
``BENCH_THREADS=1`` both sides run single-threaded: that compares the work each does, and other
load on a shared machine disturbs it far less than two threads waiting on each other.
"""

from __future__ import annotations

import os

# read by the worker processes' BLAS and OpenMP libraries when they load
os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("MKL_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))

import argparse
import contextlib
import json
import multiprocessing
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import numpy as np

from bench.workloads import WORKLOADS

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# seconds a worker may take to start and build its model
START_TIMEOUT_S = 300.0
Step = Callable[[], float]


@dataclass
class Result:
    workload: str
    description: str
    forge_ms: float
    torch_ms: float
    ratio: float
    # the quartiles of the rounds' own forge/PyTorch ratios
    ratio_q1: float
    ratio_q3: float
    forge_loss: float
    torch_loss: float


def build_pair(name: str) -> tuple[Step, Step]:
    """Both frameworks' training steps of a workload in this one process, from the same
    weights: for the tests that compare their losses and for ``bench/gemm.py``."""
    from bench import forge_models, torch_models

    torch_step, weights = torch_models.build(name)
    return forge_models.build(name, weights), torch_step


def _time_steps(step: Step, count: int) -> tuple[float, float]:
    start = time.perf_counter()
    loss = 0.0
    for _ in range(count):
        loss = step()
    return (time.perf_counter() - start) / count, loss


def _serve(side: str, name: str, weights: dict[str, np.ndarray] | None, conn: Connection) -> None:
    """A worker process: build the workload in one framework (PyTorch answers with its initial
    weights), then time ``count`` steps for each count received, until None."""
    step: Step
    if side == "torch":
        import torch

        from bench import torch_models

        torch.set_num_threads(THREADS)
        torch.manual_seed(0)
        step, weights = torch_models.build(name)
        conn.send(weights)
    else:
        import forge_core as fc
        from bench import forge_models

        fc.manual_seed(0)
        step = forge_models.build(name, weights or {})
        conn.send(None)
    while (count := conn.recv()) is not None:
        conn.send(_time_steps(step, count))


class Worker:
    """One framework's process for one workload."""

    def __init__(self, side: str, name: str, weights: dict[str, np.ndarray] | None = None):
        self.side, self.name = side, name
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(side, name, weights, child), daemon=True
        )
        self._process.start()
        child.close()
        self.built = self._receive(START_TIMEOUT_S)

    def _receive(self, timeout: float | None = None) -> Any:
        if timeout is not None and not self._conn.poll(timeout):
            self.close()
            raise RuntimeError(f"the {self.side} worker did not build {self.name} in {timeout} s")
        try:
            return self._conn.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(
                f"the {self.side} worker for {self.name} ended with exit code "
                f"{self._process.exitcode} (its traceback is above)"
            ) from None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def run(self, steps: int) -> tuple[float, float]:
        """Seconds per step and the last loss, over ``steps`` training steps."""
        self._conn.send(steps)
        seconds, loss = self._receive()
        return float(seconds), float(loss)

    def close(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._conn.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def measure(name: str, rounds: int, steps: int, warmup: int, settle_s: float = 0.3) -> Result:
    """Median seconds per step of each framework, each in its own process, over alternating
    rounds. Before each round the other side has been idle for ``settle_s``: long enough for
    its OpenMP threads, which spin for a while after their last parallel region (Intel's for
    200 ms), to go to sleep and leave the cores to the side being timed."""
    with (
        Worker("torch", name) as torch_worker,
        Worker("forge", name, torch_worker.built) as forge_worker,
    ):
        workers = {"forge": forge_worker, "torch": torch_worker}
        times: dict[str, list[float]] = {"forge": [], "torch": []}
        losses = {"forge": float("nan"), "torch": float("nan")}
        for side in workers:
            workers[side].run(warmup)
        for _ in range(rounds):
            for side, worker in workers.items():
                time.sleep(settle_s)
                seconds, losses[side] = worker.run(steps)
                times[side].append(seconds)
    forge_s, torch_s = statistics.median(times["forge"]), statistics.median(times["torch"])
    rounds_ratios = [f / t for f, t in zip(times["forge"], times["torch"], strict=True)]
    q1, _, q3 = statistics.quantiles(rounds_ratios, n=4) if rounds > 1 else [forge_s / torch_s] * 3
    return Result(
        name,
        WORKLOADS[name].description,
        forge_s * 1e3,
        torch_s * 1e3,
        forge_s / torch_s,
        q1,
        q3,
        losses["forge"],
        losses["torch"],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per workload")
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument(
        "--settle", type=float, default=0.3, help="seconds of quiet before each round"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    print(
        f"forge {version('azuraforge')} (numpy {np.__version__}) vs torch {version('torch')}, "
        f"{THREADS} threads, float32, each in its own process, "
        f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'workload':<12}{'forge ms/step':>15}{'torch ms/step':>15}{'ratio':>8}"
        f"{'rounds q1-q3':>14}  losses"
    )
    results: list[dict[str, Any]] = []
    for name in args.workloads:
        r = measure(name, args.rounds, args.steps, args.warmup, args.settle)
        print(
            f"{r.workload:<12}{r.forge_ms:>15.2f}{r.torch_ms:>15.2f}{r.ratio:>8.2f}"
            f"{f'{r.ratio_q1:.2f}-{r.ratio_q3:.2f}':>14}  "
            f"forge {r.forge_loss:.4f} / torch {r.torch_loss:.4f}",
            flush=True,
        )
        results.append(asdict(r))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
