"""MKL against NumPy's OpenBLAS for the recurrent layers' products, in thread CPU time.

``forge_core.gemm`` runs the LSTM's and GRU's products on MKL when the ``mkl`` extra is installed.
This script shows what that buys, single-threaded, where other load on a shared machine disturbs
the figures least: first the products of one ``lstm_large`` training step (the 128 forward
products of the gate stack, the 127 backward ones summed over the gates, the weight gradient),
then whole training steps of the engine benchmark's workloads with either library and
PyTorch's, alternating. Times are medians of thread CPU time (``time.thread_time``).

Run: ``.venv/bin/python -m bench.gemm`` (``--help`` for the options). It needs the ``mkl``
extra (``make install`` installs it).
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from bench.engine import build_pair
from bench.workloads import WORKLOADS
from forge_core import gemm

# lstm_large: batch 32, hidden 256, 128 steps; a step's row block is [h | x | 1], 258 wide
STEPS, BATCH, HIDDEN, WIDTH = 128, 32, 256, 258


def _cpu_ms(run: Callable[[], object], reps: int) -> float:
    run()
    times = []
    for _ in range(reps):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return statistics.median(times) * 1e3


def products() -> dict[str, Callable[[], np.ndarray]]:
    """One lstm_large step's products, each as the LSTM op calls it; each returns its result
    (the backward one, its last step's)."""
    rng = np.random.default_rng(0)
    state = rng.standard_normal((STEPS + 1, BATCH, WIDTH), dtype=np.float32)
    weights = rng.standard_normal((4, WIDTH, HIDDEN), dtype=np.float32)
    acts = np.empty((4, STEPS, BATCH, HIDDEN), dtype=np.float32)
    grads = rng.standard_normal((4, STEPS, BATCH, HIDDEN), dtype=np.float32)
    w_rec = rng.standard_normal((4, HIDDEN, HIDDEN), dtype=np.float32)
    dh = np.empty((BATCH, HIDDEN), dtype=np.float32)
    scratch = np.empty((4, BATCH, HIDDEN), dtype=np.float32)

    def forward() -> np.ndarray:
        step = gemm.matmul_steps(state[:STEPS], weights, acts.transpose(1, 0, 2, 3))
        for t in range(STEPS):
            step(t)
        return acts

    def backward() -> np.ndarray:
        step = gemm.matmul_sum_steps(grads.transpose(1, 0, 2, 3), w_rec, dh, scratch)
        for t in range(STEPS - 1, 0, -1):
            step(t)
        return dh

    flat = grads.reshape(4, STEPS * BATCH, HIDDEN)
    states = state[:-1].reshape(STEPS * BATCH, WIDTH)
    return {
        "forward (32, 258) @ (258, 4x256), 128 steps": forward,
        "backward (32, 4x256) @ (4x256, 256), 127 steps": backward,
        "weight gradient 4x (256, 4096) @ (4096, 258)": lambda: gemm.matmul(
            flat.transpose(0, 2, 1), states
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", choices=list(WORKLOADS), default=["lstm_large"])
    parser.add_argument("--reps", type=int, default=15, help="timed reps of each product")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of steps")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    args = parser.parse_args(argv)
    if not gemm.mkl_available():
        parser.error("MKL is not installed: pip install -e '.[mkl]' (make install does)")
    torch.set_num_threads(1)
    print(f"1 thread, float32; load average {os.getloadavg()[0]:.2f}")
    print(f"{'product, thread CPU ms':<50}{'NumPy':>8}{'MKL':>8}{'MKL/NumPy':>11}")
    for name, run in products().items():
        times = {}
        for backend in ("numpy", "mkl"):
            gemm.set_backend(backend)
            times[backend] = _cpu_ms(run, args.reps)
        ratio = times["mkl"] / times["numpy"]
        print(f"{name:<50}{times['numpy']:>8.2f}{times['mkl']:>8.2f}{ratio:>11.2f}")
    print(f"{'training step, thread CPU ms':<30}{'forge MKL':>10}{'forge NumPy':>12}{'PyTorch':>9}")
    for name in args.workloads:
        forge_step, torch_step = build_pair(name)
        runs: dict[str, list[float]] = {"mkl": [], "numpy": [], "torch": []}
        for index in range(args.rounds):
            # alternate the order: the first of a round runs after PyTorch's step
            for backend in ("mkl", "numpy") if index % 2 else ("numpy", "mkl"):
                gemm.set_backend(backend)
                runs[backend].append(_cpu_ms(forge_step, args.steps))
            runs["torch"].append(_cpu_ms(torch_step, args.steps))
        mkl, numpy, torch_ms = (statistics.median(runs[k]) for k in ("mkl", "numpy", "torch"))
        print(
            f"{name:<30}{mkl:>10.2f}{numpy:>12.2f}{torch_ms:>9.2f}"
            f"   ratio to PyTorch: MKL {mkl / torch_ms:.2f}, NumPy {numpy / torch_ms:.2f}"
        )
    gemm.set_backend()


if __name__ == "__main__":
    main()
