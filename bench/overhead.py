"""Per-op overhead of the forge engine against PyTorch: tiny tensors, so the time is bookkeeping.

On 4x4 float32 tensors the arithmetic costs a fraction of a microsecond; what remains is the cost
of ``Function.apply`` (wrapping, recording the graph) and of ``backward`` (walking the graph,
routing and accumulating gradients). Each row is the minimum over repeated runs, in
microseconds, with both frameworks on one thread. Run it with
``.venv/bin/python bench/overhead.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import timeit
from typing import Any

import numpy as np
import torch

import forge_core as fc

# (what is measured, forge statement, PyTorch statement, runs per repeat)
ROWS = [
    ("a + b, no grad needed", "fa_ + fb_", "ta_ + tb_", 20_000),
    ("a + b, recorded", "fa + fb", "ta + tb", 20_000),
    ("(a + b).backward(g)", "(fa + fb).backward(fg)", "(ta + tb).backward(tg)", 10_000),
    (
        "(a + b).sum().backward()",
        "(fa + fb).sum().backward()",
        "(ta + tb).sum().backward()",
        10_000,
    ),
    (
        "10 chained adds + backward",
        "c = fa\nfor _ in range(10): c = c + fb\nc.backward(fg)",
        "c = ta\nfor _ in range(10): c = c + tb\nc.backward(tg)",
        2_000,
    ),
]


def _microseconds(statement: str, names: dict[str, Any], runs: int) -> float:
    return min(timeit.Timer(statement, globals=names).repeat(15, runs)) / runs * 1e6


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    fa, fb = fc.tensor(x, requires_grad=True), fc.tensor(y, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    names = {
        "fa": fa,
        "fb": fb,
        "fa_": fa.detach(),
        "fb_": fb.detach(),
        "fg": fc.ones(4, 4),
        "ta": ta,
        "tb": tb,
        "ta_": ta.detach(),
        "tb_": tb.detach(),
        "tg": torch.ones(4, 4),
    }
    print(f"{'4x4 float32':28s} {'forge':>9s} {'torch':>9s} {'ratio':>6s}")
    for label, forge_statement, torch_statement, runs in ROWS:
        forge_us = _microseconds(forge_statement, names, runs)
        torch_us = _microseconds(torch_statement, names, runs)
        print(f"{label:28s} {forge_us:7.2f}us {torch_us:7.2f}us {forge_us / torch_us:6.2f}")


if __name__ == "__main__":
    main()
