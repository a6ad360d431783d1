"""``ConvTranspose1d``/``ConvTranspose2d`` checked three ways: finite differences, the input
gradient of the convolution it transposes, and PyTorch (functional and module with copied
weights, float32 and float64)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core.nn.conv import conv2d
from forge_core.nn.conv_transpose import (
    ConvTranspose1d,
    ConvTranspose2d,
    conv_transpose1d,
    conv_transpose2d,
)
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer

DTYPES = [np.float32, np.float64]
TOLERANCES = {np.float32: (1e-4, 1e-4), np.float64: (1e-10, 1e-10)}

# (in, out, groups, kernel, stride, padding, output_padding, dilation)
GEOMETRIES: list[tuple[Any, ...]] = [
    (2, 3, 1, 3, 1, 0, 0, 1),
    (2, 3, 1, 3, 2, 1, 1, 1),
    (4, 2, 2, (2, 3), (2, 1), (0, 1), (1, 0), (1, 2)),
    (3, 3, 3, 2, 3, 0, 2, 1),  # depthwise, stride wider than the kernel: gaps in the output
    (2, 2, 1, 3, 1, 0, 1, 2),  # output_padding below the dilation, not the stride
]


def inputs(geometry: tuple[Any, ...], seed: int = 0, dtype: Any = np.float64) -> list[fc.Tensor]:
    in_channels, out_channels, groups, kernel = geometry[:4]
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    rng = np.random.default_rng(seed)
    arrays = [
        rng.standard_normal((2, in_channels, 4, 3)),
        rng.standard_normal((in_channels, out_channels // groups, *kernel)),
        rng.standard_normal(out_channels),
    ]
    return [fc.tensor(a.astype(dtype), requires_grad=True) for a in arrays]


def transposed(geometry: tuple[Any, ...]) -> Any:
    groups, stride, padding, output_padding, dilation = geometry[2], *geometry[4:]

    def run(x: fc.Tensor, weight: fc.Tensor, bias: fc.Tensor | None = None) -> fc.Tensor:
        return conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation)

    return run


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_gradients_match_finite_differences(geometry: tuple[Any, ...]) -> None:
    assert_gradients_match(transposed(geometry), *inputs(geometry))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_is_the_input_gradient_of_the_convolution_it_transposes(geometry: tuple[Any, ...]) -> None:
    """conv_transpose2d(y, w) is d/dx of <conv2d(x, w), y>: the definition, checked directly.
    (With an output_padding of at least the stride, the convolution of the output is one larger
    than ``y``; its extra rows pair with the zeros the transposed convolution never reaches.)"""
    groups, stride, padding, _, dilation = geometry[2], *geometry[4:]
    y, w, _ = inputs(geometry, seed=5)
    out = transposed(geometry)(y, w)
    x = fc.zeros(*out.shape, dtype=fc.float64, requires_grad=True)
    forward = conv2d(x, w.detach(), None, stride, padding, dilation, groups)
    forward = forward[:, :, : y.shape[2], : y.shape[3]]
    assert forward.shape == y.shape
    forward.backward(y.detach())
    assert x.grad is not None
    np.testing.assert_allclose(out.data, x.grad.data, rtol=1e-12, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    groups=st.integers(1, 2),
    per_group=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    data=st.data(),
    bias=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_matches_torch_functional(
    groups: int,
    per_group: tuple[int, int],
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    data: Any,
    bias: bool,
    dtype: Any,
) -> None:
    output_padding = tuple(
        data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    )
    out_size = [
        (n - 1) * s - 2 * p + d * (k - 1) + e + 1
        for n, s, p, d, k, e in zip(
            size, stride, padding, dilation, kernel, output_padding, strict=True
        )
    ]
    assume(min(out_size) >= 1)
    rtol, atol = TOLERANCES[dtype]
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((2, groups * per_group[0], *size)),
        rng.standard_normal((groups * per_group[0], per_group[1], *kernel)),
    ]
    if bias:
        arrays.append(rng.standard_normal(groups * per_group[1]))
    mine = [fc.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    geometry = (stride, padding, output_padding, groups, dilation)
    out = conv_transpose2d(mine[0], mine[1], mine[2] if bias else None, *geometry)
    expected = torch.nn.functional.conv_transpose2d(
        theirs[0], theirs[1], theirs[2] if bias else None, *geometry
    )
    assert out.shape == tuple(expected.shape) and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    probe = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(probe)
    expected.backward(torch.from_numpy(probe))
    for name, a, e in zip(["input", "weight", "bias"], mine, theirs, strict=False):
        assert a.grad is not None and e.grad is not None and a.grad.dtype == dtype
        np.testing.assert_allclose(
            a.grad.data, e.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of {name}"
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, layer",
    [
        ((2, 4, 5, 5), dict(in_channels=4, out_channels=3, kernel_size=4, stride=2, padding=1)),
        (
            (2, 4, 3, 4),
            dict(
                in_channels=4,
                out_channels=6,
                kernel_size=3,
                stride=2,
                groups=2,
                output_padding=1,
                bias=False,
            ),
        ),
        ((3, 4, 4), dict(in_channels=3, out_channels=2, kernel_size=(2, 3), dilation=(2, 1))),
    ],
    ids=str,
)
def test_module_2d_matches_torch_with_copied_weights(
    shape: tuple[int, ...], layer: dict[str, Any], dtype: Any
) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal(shape)
    compare_layer(
        ConvTranspose2d(**layer),
        torch.nn.ConvTranspose2d(**layer),
        x,
        dtype,
        tolerances=TOLERANCES[dtype],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, layer",
    [
        ((4, 3, 8), dict(in_channels=3, out_channels=5, kernel_size=4, stride=2, padding=1)),
        (
            (2, 4, 6),
            dict(
                in_channels=4, out_channels=2, kernel_size=3, stride=3, groups=2, output_padding=2
            ),
        ),
        ((2, 7), dict(in_channels=2, out_channels=3, kernel_size=2, dilation=3, bias=False)),
    ],
    ids=str,
)
def test_module_1d_matches_torch_with_copied_weights(
    shape: tuple[int, ...], layer: dict[str, Any], dtype: Any
) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal(shape)
    compare_layer(
        ConvTranspose1d(**layer),
        torch.nn.ConvTranspose1d(**layer),
        x,
        dtype,
        tolerances=TOLERANCES[dtype],
    )


def test_conv_transpose1d_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal((2, 4, 5)),
        rng.standard_normal((4, 1, 3)),
        rng.standard_normal(2),
    ]
    tensors = [fc.tensor(a, requires_grad=True) for a in arrays]
    assert_gradients_match(lambda x, w, b: conv_transpose1d(x, w, b, 2, 1, 1, 2, 1), *tensors)


def test_modules_have_pytorch_layout_init_and_repr() -> None:
    torch.manual_seed(0)
    for mine, theirs in [
        (ConvTranspose2d(4, 6, 3, 2, groups=2), torch.nn.ConvTranspose2d(4, 6, 3, 2, groups=2)),
        (ConvTranspose1d(3, 5, 4, output_padding=0), torch.nn.ConvTranspose1d(3, 5, 4)),
    ]:
        assert {k: v.shape for k, v in mine.state_dict().items()} == {
            k: tuple(v.shape) for k, v in theirs.state_dict().items()
        }
        assert repr(mine) == repr(theirs)
    # PyTorch reads the fan-in from weight dim 1: out_channels / groups * kernel
    bound = 1 / math.sqrt(3 * 3 * 3)
    weight = ConvTranspose2d(4, 6, 3, groups=2).weight.data
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ConvTranspose2d(2, 2, 3, stride=2, output_padding=2), "output_padding"),
        (lambda: ConvTranspose2d(3, 2, 3, groups=2), "divide in_channels"),
        (lambda: ConvTranspose2d(2, 2, 3, padding_mode="reflect"), "zeros only"),
        (lambda: ConvTranspose1d(2, 2, 3, stride=0), "at least 1"),
        (lambda: ConvTranspose2d(2, 2, 3)(fc.randn(1, 3, 4, 4)), r"\(N, 2, H, W\)"),
        (lambda: ConvTranspose2d(2, 2, 1, padding=2)(fc.randn(1, 2, 2, 2)), "at least 1x1"),
        (lambda: conv_transpose2d(fc.randn(1, 2, 4, 4), fc.randn(3, 2, 3, 3)), "3"),
        (
            lambda: conv_transpose2d(fc.randn(2, 4, 4), fc.randn(2, 2, 3)),
            "4-D|\\(in, out, kh, kw\\)",
        ),
        (
            lambda: conv_transpose2d(fc.randn(1, 2, 4, 4), fc.randn(2, 2, 3, 3), fc.randn(3)),
            "bias",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
