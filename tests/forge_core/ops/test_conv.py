"""The compiled stride-1 convolution (``forge_core/_native/conv.c``, the ``native`` strategy of
``forge_core.ops.conv.Conv2d``): forward and every gradient in float32 against NumPy's im2col
path in float64 and against PyTorch, for every kind of geometry it takes, with 1 to 3 threads;
and the convolutions it does not take stay on NumPy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core import native
from forge_core.nn import functional as F
from forge_core.ops.conv import Conv2d, native_kernel
from forge_core.ops.window import Window

pytestmark = pytest.mark.skipif(
    not native.native_available(), reason="the compiled kernels are not built"
)


@pytest.fixture(autouse=True)
def _default_kernels() -> Iterator[None]:
    yield
    native.set_kernels()


@pytest.fixture
def tiles(request: pytest.FixtureRequest) -> Iterator[str]:
    """The instruction set whose tiles the kernel runs on for the test, where the processor
    has it; the best one again after it."""
    if not native.set_conv_tiles(request.param):
        pytest.skip(f"this processor lacks {request.param}")
    yield request.param
    native.set_conv_tiles(None)


def _window(kernel: tuple[int, int], dilation: tuple[int, int], pads: tuple[int, ...]) -> Window:
    top, bottom, left, right = pads
    return Window(kernel, (1, 1), dilation, (top, bottom, left, right))


def _run(
    strategy: str, arrays: list[np.ndarray], window: Window, dtype: Any, probe: np.ndarray
) -> list[np.ndarray]:
    """The output and the gradients of x, weight and bias (those given) for ``probe``."""
    tensors = [fc.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = Conv2d.apply(*tensors, window=window, strategy=strategy)
    out.backward(probe.astype(dtype))
    return [out.data, *(t.grad.data for t in tensors if t.grad is not None)]


def _check(
    batch: int,
    channels: int,
    out_channels: int,
    size: tuple[int, int],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    pads: tuple[int, ...],
    bias: bool = True,
    seed: int = 0,
) -> None:
    rng = np.random.default_rng(seed)
    window = _window(kernel, dilation, pads)
    arrays = [
        rng.standard_normal((batch, channels, *size)).astype(np.float32),
        rng.standard_normal((out_channels, channels, *kernel)).astype(np.float32),
    ]
    if bias:
        arrays.append(rng.standard_normal(out_channels).astype(np.float32))
    probe = rng.standard_normal((batch, out_channels, *window.output_size(*size)))
    compiled = _run("native", arrays, window, np.float32, probe)
    exact = _run("im2col", arrays, window, np.float64, probe)
    assert [a.dtype for a in compiled] == [np.float32] * len(compiled)
    names = ["out", "x", "weight", "bias"][: len(exact)]
    for name, mine, reference in zip(names, compiled, exact, strict=True):
        # float32 sums of up to a few thousand products: relative to the largest value
        scale = np.abs(reference).max()
        np.testing.assert_allclose(mine, reference, rtol=0, atol=3e-6 * scale, err_msg=name)


# (batch, channels, out channels, size, kernel, dilation, pads): vector tiles and their tails,
# channel counts that fill no tile, 'same', causal and valid padding, one-dimensional ones.
CASES = {
    "cnn first layer": (4, 1, 16, (12, 12), (3, 3), (1, 1), (1, 1, 1, 1)),
    "cnn second layer": (16, 16, 32, (7, 7), (3, 3), (1, 1), (1, 1, 1, 1)),
    "odd counts everywhere": (3, 5, 7, (6, 9), (3, 2), (1, 1), (0, 0, 0, 0)),
    "even kernel, same": (5, 4, 9, (5, 6), (2, 2), (1, 1), (0, 1, 0, 1)),
    "dilated, asymmetric": (2, 3, 13, (9, 8), (2, 3), (2, 2), (2, 0, 1, 4)),
    "tcn layer, causal": (17, 8, 8, (1, 40), (1, 3), (1, 4), (0, 0, 8, 0)),
    "one by one": (33, 6, 3, (4, 4), (1, 1), (1, 1), (0, 0, 0, 0)),
    "one output position": (2, 3, 4, (3, 3), (3, 3), (1, 1), (0, 0, 0, 0)),
}


@pytest.mark.parametrize("blas_threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("tiles", native.CONV_TILES, indirect=True)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_im2col_in_float64(case: str, tiles: str, blas_threads: int) -> None:
    _check(*CASES[case])


def test_an_unknown_instruction_set_is_refused() -> None:
    with pytest.raises(ValueError):
        native.set_conv_tiles("sse9")


def test_without_bias() -> None:
    _check(*CASES["odd counts everywhere"], bias=False)


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 20),
    channels=st.integers(1, 9),
    out_channels=st.integers(1, 18),
    height=st.integers(1, 7),
    width=st.integers(1, 9),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    fractions=st.tuples(*[st.floats(0, 1)] * 4),
    seed=st.integers(0, 1000),
)
def test_any_geometry_it_takes(
    batch: int,
    channels: int,
    out_channels: int,
    height: int,
    width: int,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    fractions: tuple[float, ...],
    seed: int,
) -> None:
    reach = ((kernel[0] - 1) * dilation[0],) * 2 + ((kernel[1] - 1) * dilation[1],) * 2
    pads = tuple(int(f * r) for f, r in zip(fractions, reach, strict=True))
    window = _window(kernel, dilation, pads)
    if min(window.output_size(height, width)) < 1:
        height, width = height + reach[0], width + reach[2]  # big enough for one window
    _check(batch, channels, out_channels, (height, width), kernel, dilation, pads, seed=seed)


def test_a_tcn_layer_matches_pytorch() -> None:
    """Causal padding by F.pad, then a dilated Conv1d (the bench's TCN layer), in float32."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 16, 50)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3)).astype(np.float32) * 0.2
    b = rng.standard_normal(16).astype(np.float32)
    mine = [fc.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.conv1d(F.pad(mine[0], (8, 0)), mine[1], mine[2], dilation=4)
    expected = torch.nn.functional.conv1d(
        torch.nn.functional.pad(theirs[0], (8, 0)), theirs[1], theirs[2], dilation=4
    )
    probe = rng.standard_normal(expected.shape).astype(np.float32)
    out.backward(probe)
    expected.backward(torch.from_numpy(probe))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    for name, a, t in zip(["x", "weight", "bias"], mine, theirs, strict=True):
        assert a.grad is not None and t.grad is not None
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-4, atol=1e-3, err_msg=name)


def test_only_the_gradients_asked_for() -> None:
    rng = np.random.default_rng(0)
    x = fc.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32))
    w = fc.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    out = Conv2d.apply(x, w, window=_window((3, 3), (1, 1), (1, 1, 1, 1)), strategy="native")
    out.sum().backward()
    assert x.grad is None and w.grad is not None and w.grad.shape == (4, 3, 3, 3)


WINDOW = _window((3, 3), (1, 1), (1, 1, 1, 1))


def test_it_takes_float32_stride_1_ungrouped() -> None:
    assert native_kernel(np.float32, WINDOW, groups=1) is not None


@pytest.mark.parametrize(
    "dtype, window, groups",
    [
        (np.float64, WINDOW, 1),
        (np.float32, Window((3, 3), (2, 1), (1, 1), (1, 1, 1, 1)), 1),
        (np.float32, WINDOW, 3),
        (np.float32, _window((3, 3), (1, 1), (3, 0, 0, 0)), 1),  # padding past the kernel
    ],
    ids=["float64", "stride 2", "groups", "wide padding"],
)
def test_the_rest_stays_on_numpy(dtype: Any, window: Window, groups: int) -> None:
    assert native_kernel(dtype, window, groups) is None
    x = fc.tensor(np.ones((1, 3, 6, 6), dtype))
    w = fc.tensor(np.ones((3, 3 // groups, 3, 3), dtype))
    with pytest.raises(ValueError, match="native strategy computes float32"):
        Conv2d.apply(x, w, window=window, groups=groups, strategy="native")


def test_numpy_kernels_setting_turns_it_off() -> None:
    native.set_kernels("numpy")
    assert native_kernel(np.float32, WINDOW, groups=1) is None
