"""The everyday tensor ops (#14) against PyTorch on medium tensors, forward + backward.

Each row runs one op on a float32 input and backpropagates a sum, in forge and in PyTorch on
one thread; the time is the minimum over repeats, in milliseconds, and the ratio is forge over
PyTorch (below 1: forge is faster). Run it with ``.venv/bin/python bench/ops.py`` (``--size``
sets the rows of the ``(size, 512)`` input).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import forge_core as fc
from forge_core.nn import functional as F

Op = Callable[[Any], Any]


def rows(size: int) -> list[tuple[str, Op, Op]]:
    """(what is measured, forge op, PyTorch op) on a ``(size, 512)`` input."""
    rng = np.random.default_rng(0)
    picks = rng.integers(0, 512, (size, 64))
    lines = rng.integers(0, size, 4 * size)
    cols = np.arange(0, 512, 3)
    tf = torch.nn.functional
    return [
        (
            "gather (64 per row)",
            lambda a: a.gather(1, fc.tensor(picks)),
            lambda a: a.gather(1, torch.tensor(picks)),
        ),
        (
            "index_select rows",
            lambda a: a.index_select(0, fc.tensor(lines)),
            lambda a: a.index_select(0, torch.tensor(lines)),
        ),
        (
            "x[1, :, idx] style",
            lambda a: a.reshape(2, -1, 512)[1, :, cols],
            lambda a: a.reshape(2, -1, 512)[1, :, torch.tensor(cols)],
        ),
        ("sort along rows", lambda a: a.sort(1).values, lambda a: a.sort(1).values),
        ("topk 8", lambda a: a.topk(8).values, lambda a: a.topk(8).values),
        ("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1)),
        ("cumprod", lambda a: a.cumprod(1), lambda a: a.cumprod(1)),
        (
            "einsum ij,kj->ik",
            lambda a: fc.einsum("ij,kj->ik", a, a),
            lambda a: torch.einsum("ij,kj->ik", a, a),
        ),
        ("silu", F.silu, tf.silu),
        ("mish", F.mish, tf.mish),
        ("softplus", F.softplus, tf.softplus),
        ("elu", F.elu, tf.elu),
        ("erf", fc.erf, torch.erf),
        ("flip + roll", lambda a: a.flip(0).roll(3, 1), lambda a: a.flip(0).roll(3, 1)),
        ("repeat 2x2", lambda a: a.repeat(2, 2), lambda a: a.repeat(2, 2)),
    ]


def _milliseconds(run: Callable[[], None], repeats: int) -> float:
    run()
    return min(timeit.repeat(run, number=1, repeat=repeats)) * 1e3


def measure(size: int = 256, repeats: int = 15) -> list[tuple[str, float, float]]:
    """``(row, forge ms, PyTorch ms)`` for every row."""
    torch.set_num_threads(1)
    x = np.random.default_rng(1).uniform(0.5, 1.5, (size, 512)).astype(np.float32)
    results = []
    for label, forge_op, torch_op in rows(size):
        a, t = fc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

        def forge_step(a: Any = a, op: Op = forge_op) -> None:
            a.grad = None
            op(a).sum().backward()

        def torch_step(t: Any = t, op: Op = torch_op) -> None:
            t.grad = None
            op(t).sum().backward()

        results.append(
            (label, _milliseconds(forge_step, repeats), _milliseconds(torch_step, repeats))
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="rows of the (size, 512) input")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"{f'({args.size}, 512) float32':24s} {'forge':>9s} {'torch':>9s} {'ratio':>6s}")
    for label, forge_ms, torch_ms in measure(args.size, args.repeats):
        print(f"{label:24s} {forge_ms:7.2f}ms {torch_ms:7.2f}ms {forge_ms / torch_ms:6.2f}")


if __name__ == "__main__":
    main()
