"""Max, average and adaptive average pooling, 1-d and 2-d, checked against finite differences,
the same pooling built from primitive ops, and PyTorch (ties included: the gradient goes to the
first maximum; dilation and ``ceil_mode`` included)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core import native
from forge_core.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    pool_window,
)
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer
from tests.forge_core.torch_parity import compare_with_torch

DTYPES = [np.float32, np.float64]
# (kernel_size, stride, padding); stride None means the kernel size, as in PyTorch.
GEOMETRIES: list[tuple[Any, Any, Any]] = [
    (2, None, 0),
    (3, 2, 1),  # overlapping windows
    ((3, 2), (1, 2), (1, 0)),
    (2, 1, 0),
    (3, 3, 1),  # a window that starts in the padding
]


def distinct(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values at least 0.1 apart, so no window ties and finite differences never cross a kink."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) * 0.1 - n * 0.05).reshape(shape)


def tied(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A ReLU's output on a coarse grid: most windows hold a repeated maximum (often 0)."""
    values = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)
    return np.maximum(values, 0)


# ----- finite differences -----
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d])
def test_gradients_match_finite_differences(pool: Any, geometry: Any) -> None:
    x = fc.tensor(distinct((2, 3, 7, 6)), requires_grad=True)
    assert_gradients_match(lambda t: pool(t, *geometry), x)


def test_avg_pool_without_padding_in_the_count_matches_finite_differences() -> None:
    x = fc.tensor(distinct((2, 2, 5, 6)), requires_grad=True)
    assert_gradients_match(lambda t: avg_pool2d(t, 3, 2, 1, count_include_pad=False), x)


# ----- against the same pooling built from primitive ops -----
def primitive_pool(x: fc.Tensor, geometry: tuple[Any, Any, Any], kind: str) -> fc.Tensor:
    """Pad with ``cat``, stack one strided slice per window offset, reduce over the stack."""
    window = pool_window(*geometry)
    n, c, h, w = x.shape
    top, bottom, left, right = window.pads
    fill = -np.inf if kind == "max" else 0.0

    def border(*shape: int) -> fc.Tensor:
        return fc.full(shape, fill, dtype=x.dtype)

    padded = fc.cat([border(n, c, top, w), x, border(n, c, bottom, w)], dim=2)
    rows = h + top + bottom
    padded = fc.cat([border(n, c, rows, left), padded, border(n, c, rows, right)], dim=3)
    out_size = window.output_size(h, w)
    stacked = fc.stack([padded[:, :, r, s] for _, _, r, s in window.padded_slices(out_size)])
    return stacked.max(dim=0).values if kind == "max" else stacked.mean(dim=0)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_matches_pooling_built_from_primitive_ops(kind: str, geometry: Any) -> None:
    values = distinct((3, 2, 8, 7), seed=1)
    fused, unfused = (fc.tensor(values, requires_grad=True) for _ in range(2))
    out = (max_pool2d if kind == "max" else avg_pool2d)(fused, *geometry)
    expected = primitive_pool(unfused, geometry, kind)
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12, atol=1e-12)
    probe = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(probe)
    expected.backward(probe)
    assert fused.grad is not None and unfused.grad is not None
    np.testing.assert_allclose(fused.grad.data, unfused.grad.data, rtol=1e-12, atol=1e-12)


# ----- against PyTorch -----
@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    pad=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    values=st.sampled_from([distinct, tied]),
    dtype=st.sampled_from(DTYPES),
)
def test_max_pool_matches_torch(
    batch: int,
    channels: int,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int] | None,
    pad: tuple[int, int],
    values: Any,
    dtype: Any,
) -> None:
    padding = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
    x = values((batch, channels, *size))
    compare_layer(
        MaxPool2d(kernel, stride, padding), torch.nn.MaxPool2d(kernel, stride, padding), x, dtype
    )


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 3),
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    pad=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    count_include_pad=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_avg_pool_matches_torch(
    batch: int,
    channels: int,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int] | None,
    pad: tuple[int, int],
    count_include_pad: bool,
    dtype: Any,
) -> None:
    padding = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
    x = np.random.default_rng(0).standard_normal((batch, channels, *size))
    compare_layer(
        AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad),
        torch.nn.AvgPool2d(kernel, stride, padding, count_include_pad=count_include_pad),
        x,
        dtype,
    )


@pytest.mark.parametrize("stride", [2, 1], ids=["tiling", "overlapping"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_ties_send_the_gradient_to_the_first_maximum(stride: int, dtype: Any) -> None:
    x = tied((4, 3, 8, 8), seed=3)
    compare_layer(MaxPool2d(2, stride), torch.nn.MaxPool2d(2, stride), x, dtype)
    # one window by hand: the first of the tied maxima in row-major order takes the gradient
    window = fc.tensor(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]), requires_grad=True)
    max_pool2d(window, 2).sum().backward()
    assert window.grad is not None
    np.testing.assert_array_equal(window.grad.data, [[[[0.0, 1.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_pads_with_minus_infinity(dtype: Any) -> None:
    x = -1 - distinct((2, 2, 5, 5)) ** 2  # all negative: a zero padding would win every border
    compare_layer(MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1), x, dtype)


@pytest.mark.parametrize("module", [MaxPool2d(2), AvgPool2d(3, 2, 1)])
def test_float32_stays_float32_and_unbatched_input_works(module: Any) -> None:
    x = fc.randn(3, 6, 6, requires_grad=True)
    out = module(x)
    assert out.shape[0] == 3 and out.dtype == np.float32
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32


def test_modules_default_the_stride_to_the_kernel_size() -> None:
    assert MaxPool2d(3).stride == 3 and AvgPool2d(2).stride == 2
    assert repr(MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))
    assert max_pool2d(fc.randn(1, 1, 6, 6), 3).shape == (1, 1, 2, 2)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: MaxPool2d(2, padding=2), ValueError, "at most half the kernel"),
        (lambda: AvgPool2d(3, stride=0), ValueError, "at least 1"),
        (lambda: max_pool2d(fc.randn(1, 1, 2, 2), 3), ValueError, "smaller than the kernel"),
        (lambda: max_pool2d(fc.randn(2, 2), 2), ValueError, r"\(N, C, H, W\)"),
        (lambda: avg_pool2d(fc.tensor(np.ones((1, 1, 2, 2), np.int64)), 2), TypeError, "float"),
    ],
)
def test_bad_arguments_raise_clear_errors(make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()


# ----- dilation and ceil_mode -----
# (kernel_size, stride, padding, dilation, ceil_mode) for max pooling
MAX_GEOMETRIES: list[tuple[Any, ...]] = [
    (2, 2, 0, 1, True),  # an odd size: the last window is partial
    (3, 2, 1, 2, False),
    ((3, 2), (2, 3), (1, 0), (1, 2), True),
    (3, 3, 1, 1, True),  # the window that would start in the padding is dropped
]


@pytest.mark.parametrize("geometry", MAX_GEOMETRIES, ids=str)
def test_max_pool_dilation_and_ceil_mode_match_finite_differences(geometry: Any) -> None:
    x = fc.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    assert_gradients_match(lambda t: max_pool2d(t, *geometry), x)


@settings(max_examples=20, deadline=None)
@given(
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    ceil_mode=st.booleans(),
    values=st.sampled_from([distinct, tied]),
    dtype=st.sampled_from(DTYPES),
)
def test_max_pool_dilation_and_ceil_mode_match_torch(
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int] | None,
    pad: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool,
    values: Any,
    dtype: Any,
) -> None:
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    padding = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
    assume(all(n + 2 * p >= span for n, p, span in zip(size, padding, spans, strict=True)))
    args = (kernel, stride, padding, dilation, False, ceil_mode)
    compare_layer(MaxPool2d(*args), torch.nn.MaxPool2d(*args), values((2, 2, *size)), dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("geometry", [(2, 2, 0), (3, 2, 1), ((3, 2), (2, 3), (1, 1))], ids=str)
def test_avg_pool_ceil_mode_matches_finite_differences(
    geometry: Any, count_include_pad: bool
) -> None:
    kernel, stride, padding = geometry
    x = fc.tensor(distinct((2, 2, 7, 8)), requires_grad=True)
    assert_gradients_match(
        lambda t: avg_pool2d(t, kernel, stride, padding, True, count_include_pad), x
    )


@settings(max_examples=20, deadline=None)
@given(
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    count_include_pad=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_avg_pool_ceil_mode_matches_torch(
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int] | None,
    pad: tuple[int, int],
    count_include_pad: bool,
    dtype: Any,
) -> None:
    padding = (min(pad[0], kernel[0] // 2), min(pad[1], kernel[1] // 2))
    x = np.random.default_rng(0).standard_normal((2, 2, *size))
    args = (kernel, stride, padding, True, count_include_pad)
    compare_layer(AvgPool2d(*args), torch.nn.AvgPool2d(*args), x, dtype)


# ----- one dimension -----
@pytest.mark.parametrize(
    "pool, args",
    [
        (max_pool1d, (3, 2, 1, 1, False)),
        (max_pool1d, (2, 2, 0, 2, True)),
        (avg_pool1d, (3, 2, 1, False, True)),
        (avg_pool1d, (2, None, 1, True, False)),
    ],
    ids=str,
)
def test_1d_pools_match_finite_differences(pool: Any, args: tuple[Any, ...]) -> None:
    x = fc.tensor(distinct((2, 3, 9)), requires_grad=True)
    assert_gradients_match(lambda t: pool(t, *args), x)


@settings(max_examples=20, deadline=None)
@given(
    shape=st.sampled_from([(2, 3, 9), (3, 8), (1, 2, 5)]),
    kernel=st.integers(1, 4),
    stride=st.one_of(st.none(), st.integers(1, 3)),
    pad=st.integers(0, 2),
    dilation=st.integers(1, 2),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_1d_pools_match_torch(
    shape: tuple[int, ...],
    kernel: int,
    stride: int | None,
    pad: int,
    dilation: int,
    ceil_mode: bool,
    count_include_pad: bool,
    dtype: Any,
) -> None:
    span = dilation * (kernel - 1) + 1
    assume(shape[-1] + 2 * min(pad, kernel // 2) >= span)
    max_args = (kernel, stride, min(pad, kernel // 2), dilation, False, ceil_mode)
    compare_layer(MaxPool1d(*max_args), torch.nn.MaxPool1d(*max_args), distinct(shape), dtype)
    avg_args = (kernel, stride, min(pad, kernel // 2), ceil_mode, count_include_pad)
    x = np.random.default_rng(0).standard_normal(shape)
    compare_layer(AvgPool1d(*avg_args), torch.nn.AvgPool1d(*avg_args), x, dtype)


# ----- adaptive average pooling -----
@pytest.mark.parametrize(
    "pool, output_size, shape",
    [
        (adaptive_avg_pool2d, (3, 2), (2, 2, 7, 5)),  # uneven, overlapping windows
        (adaptive_avg_pool2d, 1, (2, 3, 4, 4)),  # global average pooling
        (adaptive_avg_pool2d, (None, 3), (3, 4, 6)),  # unbatched, one dim kept
        (adaptive_avg_pool1d, 4, (2, 3, 9)),
        (adaptive_avg_pool1d, 5, (3, 3)),  # more outputs than inputs
    ],
    ids=str,
)
def test_adaptive_pools_match_finite_differences_and_torch(
    pool: Any, output_size: Any, shape: tuple[int, ...]
) -> None:
    x = fc.tensor(distinct(shape), requires_grad=True)
    assert_gradients_match(lambda t: pool(t, output_size), x)
    reference = getattr(torch.nn.functional, pool.__name__)
    for dtype in DTYPES:
        compare_with_torch(
            lambda t: pool(t, output_size),
            lambda t: reference(t, output_size),
            [distinct(shape)],
            dtype,
        )


@settings(max_examples=15, deadline=None)
@given(
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    dtype=st.sampled_from(DTYPES),
)
def test_adaptive_modules_match_torch(
    size: tuple[int, int], out: tuple[int, int], dtype: Any
) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, *size))
    compare_layer(AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x, dtype)
    compare_layer(AdaptiveAvgPool1d(out[1]), torch.nn.AdaptiveAvgPool1d(out[1]), x[:, :, 0], dtype)


def test_new_modules_repr_like_torch() -> None:
    for mine, theirs in [
        (MaxPool2d(3, 2, 1, 2, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True)),
        (MaxPool1d(3), torch.nn.MaxPool1d(3)),
        (AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None))),
        (AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4)),
    ]:
        assert repr(mine) == repr(theirs)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: MaxPool2d(3, padding=2, dilation=2), ValueError, "at most half the kernel"),
        (lambda: MaxPool2d(2, return_indices=True), ValueError, "return_indices"),
        (lambda: MaxPool1d(2, dilation=0), ValueError, "at least 1"),
        (lambda: AvgPool1d(2, padding=2), ValueError, "at most half the kernel"),
        (lambda: max_pool1d(fc.randn(1, 2, 3, 4), 2), ValueError, r"\(N, C, L\)"),
        (lambda: max_pool2d(fc.randn(1, 1, 4, 4), 3, dilation=2), ValueError, "smaller than"),
        (lambda: adaptive_avg_pool2d(fc.randn(1, 1, 4, 4), (2, 0)), ValueError, "positive"),
        (lambda: adaptive_avg_pool2d(fc.randn(1, 4, 4), (1, 2, 3)), ValueError, "2 of them"),
        (lambda: adaptive_avg_pool1d(fc.randn(4), 2), ValueError, r"\(N, C, L\)"),
        (
            lambda: adaptive_avg_pool1d(fc.tensor(np.ones((1, 2, 4), np.int64)), 2),
            TypeError,
            "float",
        ),
    ],
)
def test_new_arguments_raise_clear_errors(make: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()


# ----- the compiled max pooling (forge_core/_native/pool.c): float32 -----
@pytest.mark.skipif(not native.native_available(), reason="the compiled kernels are not built")
@pytest.mark.parametrize("blas_threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize(
    "args",
    [(2,), (3, 2, 1), (3, 1, 1, 2), (2, 2, 0, 1, False, True), (3, 3, 1, 1, False, True)],
    ids=str,
)
def test_compiled_max_pool_matches_torch_on_a_batch_of_relu_outputs(
    args: tuple[Any, ...], blas_threads: int
) -> None:
    """A batch of 37 (vectors and their tail) of ReLU outputs: ties at zero everywhere."""
    x = np.maximum(np.random.default_rng(0).standard_normal((37, 5, 9, 8)), 0)
    compare_layer(MaxPool2d(*args), torch.nn.MaxPool2d(*args), x, np.float32)


def test_compiled_max_pool_lets_nan_win_as_torch_does() -> None:
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6))
    x[0, 0, 0, 1] = x[1, 1, 2, 2] = x[1, 1, 3, 3] = np.nan
    x[2, 0, :2, :2] = -np.inf
    mine = fc.tensor(x.astype(np.float32), requires_grad=True)
    theirs = torch.tensor(x.astype(np.float32), requires_grad=True)
    out, expected = MaxPool2d(2)(mine), torch.nn.MaxPool2d(2)(theirs)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    out.sum().backward()
    expected.sum().backward()
    assert mine.grad is not None and theirs.grad is not None
    np.testing.assert_array_equal(mine.grad.data, theirs.grad.numpy())
