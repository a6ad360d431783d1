"""Timings of forge's convolution strategies per shape: the measurements behind
``forge_core.ops.conv.choose_strategy`` and ``forge_core.ops.columns.THIN_COLUMNS``.

For each shape it times ``Conv2d`` forward alone and forward + backward (input, weight and bias
gradients) with each strategy, and PyTorch's ``conv2d`` as a reference, in interleaved rounds so
that machine noise hits all alike; it prints the median and the minimum in milliseconds. Forward
alone is what inference runs (no weight gradient to keep columns for); forward + backward is
what training runs. A second table times the weight-gradient product ``grad @ cols.T`` in one
piece and as one product per output row, which is what ``THIN_COLUMNS`` chooses between.

    .venv/bin/python bench/conv.py                # 2 threads, as bench/engine.py
    .venv/bin/python bench/conv.py --threads 1 --reps 50

On a shared machine timings are noisy: compare medians over several runs.
"""

from __future__ import annotations

import argparse
import os
import sys

THREADS_FLAG = "--threads"


def _threads(argv: list[str]) -> str:
    """The thread count, read before NumPy is imported: OpenBLAS reads it only at start-up."""
    for i, arg in enumerate(argv):
        if arg == THREADS_FLAG and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(THREADS_FLAG + "="):
            return arg.split("=", 1)[1]
    return "2"


for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = _threads(sys.argv[1:])

import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402

import forge_core as fc  # noqa: E402
from forge_core.nn.conv import conv_window  # noqa: E402
from forge_core.ops.columns import weight_product  # noqa: E402
from forge_core.ops.conv import STRATEGIES  # noqa: E402
from forge_core.ops.conv import Conv2d as Conv2dOp  # noqa: E402
from forge_core.ops.threads import channel_threads  # noqa: E402
from forge_core.ops.window import Window  # noqa: E402


@dataclass(frozen=True)
class Shape:
    """One convolution: input (N, C, H, W), ``out_channels``, a square kernel, stride, padding."""

    name: str
    batch: int
    channels: int
    size: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0

    def __str__(self) -> str:
        return (
            f"{self.name}: ({self.batch},{self.channels},{self.size},{self.size})"
            f"->{self.out_channels} k{self.kernel} s{self.stride} p{self.padding}"
        )


SHAPES = [
    Shape("engine CNN conv1", 64, 1, 28, 16, 3, padding=1),
    Shape("engine CNN conv2", 64, 16, 14, 32, 3, padding=1),
    Shape("digits CNN conv1", 64, 1, 8, 16, 3, padding=1),
    Shape("RGB 32x32", 32, 3, 32, 32, 3, padding=1),
    Shape("deep 8x8", 32, 64, 8, 64, 3, padding=1),
    Shape("5x5 kernel", 16, 8, 24, 16, 5, padding=2),
    Shape("strided", 32, 16, 16, 32, 3, stride=2, padding=1),
    Shape("one image", 1, 3, 64, 64, 8, padding=1),
]

Timed = Callable[[], object]


def _race(fns: dict[str, Timed], reps: int) -> dict[str, list[float]]:
    """Run every function ``reps`` times in interleaved order; times in ms per name."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def _forge_fns(shape: Shape, strategy: str) -> dict[str, Timed]:
    rng = np.random.default_rng(0)

    def param(*size: int) -> fc.Tensor:
        return fc.tensor(rng.standard_normal(size).astype(np.float32), requires_grad=True)

    x = param(shape.batch, shape.channels, shape.size, shape.size)
    weight = param(shape.out_channels, shape.channels, shape.kernel, shape.kernel)
    bias = param(shape.out_channels)
    window: Window = conv_window((shape.kernel, shape.kernel), shape.stride, shape.padding, 1)

    def forward() -> fc.Tensor:
        out: fc.Tensor = Conv2dOp.apply(x, weight, bias, window=window, strategy=strategy)
        return out

    probe = rng.standard_normal(forward().shape).astype(np.float32)

    def forward_only() -> object:
        with fc.no_grad():
            return forward()

    def forward_backward() -> object:
        x.grad = weight.grad = bias.grad = None
        forward().backward(probe)
        return None

    return {f"{strategy} fwd": forward_only, f"{strategy} fwd+bwd": forward_backward}


def _torch_fns(shape: Shape) -> dict[str, Timed]:
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape.batch, shape.channels, shape.size, shape.size, generator=gen)
    x.requires_grad_()
    weight = torch.randn(
        shape.out_channels, shape.channels, shape.kernel, shape.kernel, requires_grad=True
    )
    bias = torch.randn(shape.out_channels, requires_grad=True)

    def forward() -> torch.Tensor:
        return torch.nn.functional.conv2d(x, weight, bias, shape.stride, shape.padding)

    probe = torch.randn(forward().shape)

    def forward_only() -> object:
        with torch.no_grad():
            return forward()

    def forward_backward() -> object:
        x.grad = weight.grad = bias.grad = None
        forward().backward(probe)
        return None

    return {"torch fwd": forward_only, "torch fwd+bwd": forward_backward}


def _report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for name, values in times.items():
        print(
            f"  {name:<22} median {statistics.median(values):8.3f} ms   min {min(values):8.3f} ms"
        )


def bench_strategies(shapes: list[Shape], reps: int) -> None:
    for shape in shapes:
        fns: dict[str, Timed] = {}
        for strategy in STRATEGIES:
            fns |= _forge_fns(shape, strategy)
        fns |= _torch_fns(shape)
        _report(str(shape), _race(fns, reps))


def _per_output_row(grad: np.ndarray, cols: np.ndarray, out_rows: int) -> np.ndarray:
    per_row = np.matmul(
        grad.reshape(grad.shape[0], out_rows, -1).transpose(1, 0, 2),
        cols.reshape(cols.shape[0], out_rows, -1).transpose(1, 2, 0),
    )
    summed: np.ndarray = per_row.sum(axis=0)
    return summed


def bench_weight_product(reps: int) -> None:
    """The weight-gradient product for column matrices of growing height (C*kh*kw + 1)."""
    rng = np.random.default_rng(0)
    for rows, out_channels, out_rows, per_row in [
        (10, 16, 28, 28 * 64),
        (28, 32, 32, 32 * 32),
        (73, 32, 16, 16 * 32),
        (145, 32, 14, 14 * 64),
        (577, 64, 8, 8 * 32),
    ]:
        grad = rng.standard_normal((out_channels, out_rows * per_row)).astype(np.float32)
        cols = rng.standard_normal((rows, out_rows * per_row)).astype(np.float32)

        fns: dict[str, Timed] = {
            "one product": partial(np.matmul, grad, cols.T),
            "one product, transposed": partial(np.matmul, cols, grad.T),
            "per output row": partial(_per_output_row, grad, cols, out_rows),
            "weight_product": partial(weight_product, grad, cols, out_rows),
        }
        _report(
            f"grad ({out_channels}, {grad.shape[1]}) @ cols ({rows}, {cols.shape[1]}).T",
            _race(fns, reps),
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(THREADS_FLAG, default="2", help="BLAS and PyTorch threads (default 2)")
    parser.add_argument("--reps", type=int, default=30, help="interleaved rounds per shape")
    parser.add_argument("--shapes", nargs="*", help="only shapes whose name contains one of these")
    args = parser.parse_args(argv)
    shapes = [s for s in SHAPES if not args.shapes or any(k in s.name for k in args.shapes)]
    print(
        f"threads: {os.environ['OPENBLAS_NUM_THREADS']} (slice loops: {channel_threads.threads}), "
        f"float32, {args.reps} rounds\n"
    )
    bench_strategies(shapes, args.reps)
    print()
    bench_weight_product(args.reps)


if __name__ == "__main__":
    main()
