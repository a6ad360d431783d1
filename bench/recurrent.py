"""Forward+backward time of forge's fused LSTM/GRU against PyTorch's, layer only.

``bench/engine.py`` times whole training steps; this isolates the recurrent layer so that its
optimisation can be judged on its own. Each rep runs the layer on a batch-first sequence, takes
the sum of the last step's output (as a regression head would use it) and backpropagates.
forge and PyTorch alternate rep by rep, on 2 threads each (as ``bench/engine.py``), in float32,
so machine noise hits both alike; the script prints the median of each and the forge/PyTorch
ratio (below 1: forge is faster), and the same for the fastest rep, which shows the quiet-machine
speed when other work shares the cores.

Run: ``.venv/bin/python bench/recurrent.py`` (``--help`` for the options). With
``BENCH_THREADS=1`` both sides run single-threaded: that compares the work each does, and other
load on the machine disturbs it far less than it disturbs two threads waiting on each other.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("MKL_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import forge_core as fc
from forge_core import nn

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# name: (layer, batch, steps, features, hidden)
SHAPES = {
    "lstm_small": ("LSTM", 64, 48, 1, 64),
    "lstm_large": ("LSTM", 32, 128, 1, 256),
    "gru_small": ("GRU", 64, 48, 1, 64),
    "gru_large": ("GRU", 32, 128, 1, 256),
}


def _runners(
    layer: str, batch: int, steps: int, features: int, hidden: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    """One forward+backward of each framework on the same weights and data."""
    torch_layer = getattr(torch.nn, layer)(features, hidden, batch_first=True)
    forge_layer = getattr(nn, layer)(features, hidden, batch_first=True)
    forge_layer.load_state_dict(
        {k: v.detach().numpy() for k, v in torch_layer.state_dict().items()}
    )
    x = np.random.default_rng(0).standard_normal((batch, steps, features)).astype(np.float32)
    fx, tx = fc.from_numpy(x), torch.from_numpy(x)

    def run_forge() -> None:
        forge_layer.zero_grad()
        out, _ = forge_layer(fx)
        out[:, -1].sum().backward()

    def run_torch() -> None:
        torch_layer.zero_grad()
        out, _ = torch_layer(tx)
        out[:, -1].sum().backward()

    return run_forge, run_torch


def _seconds(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--reps", type=int, default=60, help="timed reps per framework")
    parser.add_argument("--warmup", type=int, default=5, help="untimed reps first")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    print(f"{THREADS} thread(s), float32; load average {os.getloadavg()[0]:.2f}")
    print(
        f"{'shape':<12}{'forge ms':>10}{'torch ms':>10}{'ratio':>8}   fastest: forge, torch, ratio"
    )
    for name in args.shapes:
        run_forge, run_torch = _runners(*SHAPES[name])
        for _ in range(args.warmup):
            run_forge()
            run_torch()
        forge_times, torch_times = [], []
        for _ in range(args.reps):
            forge_times.append(_seconds(run_forge))
            torch_times.append(_seconds(run_torch))
        forge_ms = statistics.median(forge_times) * 1e3
        torch_ms = statistics.median(torch_times) * 1e3
        forge_best, torch_best = min(forge_times) * 1e3, min(torch_times) * 1e3
        print(
            f"{name:<12}{forge_ms:>10.2f}{torch_ms:>10.2f}{forge_ms / torch_ms:>8.2f}   "
            f"{forge_best:>8.2f}{torch_best:>8.2f}{forge_best / torch_best:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
