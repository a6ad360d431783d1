"""``Conv2d`` checked three ways: finite differences, the same convolution built from primitive
ops, and PyTorch (functional and module, float32 and float64); and its two strategies against
each other."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core.nn.conv import Conv1d, Conv2d, conv1d, conv2d, conv_window
from forge_core.ops.conv import STRATEGIES, choose_strategy
from forge_core.ops.conv import Conv2d as Conv2dOp
from forge_core.ops.window import Window
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer

DTYPES = [np.float32, np.float64]
# A convolution sums C*kh*kw products per output and N*OH*OW per weight gradient; in float32 a
# different summation order than PyTorch's moves the last few bits of those sums.
TOLERANCES = {np.float32: (1e-4, 1e-4), np.float64: (1e-10, 1e-10)}

# (kernel, stride, padding, dilation): PyTorch's argument forms, including the uneven ones.
GEOMETRIES: list[tuple[Any, Any, Any, Any]] = [
    (3, 1, 1, 1),
    (3, 2, 0, 1),
    ((3, 2), (2, 1), (1, 0), (1, 2)),
    (2, 1, "same", 1),  # an even kernel: PyTorch pads one more at the bottom and right
    ((2, 3), 1, "same", (2, 1)),
    (3, 1, "valid", 2),
    (1, 2, 2, 1),  # padding wider than the kernel: some offsets read only padding
]


def tensors(*arrays: np.ndarray, dtype: Any = np.float64) -> list[fc.Tensor]:
    return [fc.tensor(a.astype(dtype), requires_grad=True) for a in arrays]


def conv_inputs(
    geometry: tuple[Any, Any, Any, Any], seed: int = 0, batch: int = 2, channels: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kernel = geometry[0] if isinstance(geometry[0], tuple) else (geometry[0],) * 2
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, 6, 5))
    w = rng.standard_normal((3, channels, *kernel))
    b = rng.standard_normal(3)
    return x, w, b


def op(strategy: str, geometry: tuple[Any, Any, Any, Any]) -> Any:
    """The fused op with a fixed strategy, as a function of (x, weight[, bias]) tensors."""
    _, stride, padding, dilation = geometry

    def run(*inputs: fc.Tensor) -> fc.Tensor:
        window = conv_window(tuple(inputs[1].shape[2:]), stride, padding, dilation)  # type: ignore[arg-type]
        result: fc.Tensor = Conv2dOp.apply(*inputs, window=window, strategy=strategy)
        return result

    return run


# ----- finite differences -----
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_gradients_match_finite_differences(strategy: str, geometry: Any) -> None:
    x, w, b = conv_inputs(geometry)
    assert_gradients_match(op(strategy, geometry), *tensors(x, w, b))


def test_gradients_without_bias_match_finite_differences() -> None:
    x, w, _ = conv_inputs(GEOMETRIES[2])
    assert_gradients_match(op("im2col", GEOMETRIES[2]), *tensors(x, w))


# ----- against the same convolution built from primitive ops -----
def primitive_conv2d(x: fc.Tensor, weight: fc.Tensor, bias: fc.Tensor, window: Window) -> fc.Tensor:
    """Zero-pad with ``cat``, take one strided slice per kernel offset and contract it with that
    offset's weights by ``matmul``: the unfused graph the fused op must reproduce."""
    n, c, h, w = x.shape
    top, bottom, left, right = window.pads

    def zeros(*shape: int) -> fc.Tensor:
        return fc.zeros(*shape, dtype=x.dtype)

    padded = fc.cat([zeros(n, c, top, w), x, zeros(n, c, bottom, w)], dim=2)
    padded = fc.cat(
        [zeros(n, c, h + top + bottom, left), padded, zeros(n, c, h + top + bottom, right)], dim=3
    )
    oh, ow = window.output_size(h, w)
    total = None
    for i, j, rows, cols in window.padded_slices((oh, ow)):
        patch = padded[:, :, rows, cols].permute(0, 2, 3, 1)  # (N, OH, OW, C)
        term = patch @ weight[:, :, i, j].T  # (N, OH, OW, out)
        total = term if total is None else total + term
    assert total is not None
    return (total + bias).permute(0, 3, 1, 2)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_matches_convolution_built_from_primitive_ops(strategy: str, geometry: Any) -> None:
    x, w, b = conv_inputs(geometry, seed=3, batch=3, channels=4)
    fused, unfused = tensors(x, w, b), tensors(x, w, b)
    window = conv_window(w.shape[2:], *geometry[1:])
    out = op(strategy, geometry)(*fused)
    expected = primitive_conv2d(unfused[0], unfused[1], unfused[2], window)
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12, atol=1e-12)
    probe = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(probe)
    expected.backward(probe)
    for name, mine, theirs in zip(["input", "weight", "bias"], fused, unfused, strict=True):
        assert mine.grad is not None and theirs.grad is not None
        np.testing.assert_allclose(
            mine.grad.data, theirs.grad.data, rtol=1e-12, atol=1e-12, err_msg=name
        )


# ----- against PyTorch -----
def compare_functional(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    geometry: tuple[Any, Any, Any],
    dtype: Any,
    strategy: str | None = None,
) -> None:
    """Forward and every gradient of forge's conv2d against ``torch.nn.functional.conv2d``."""
    rtol, atol = TOLERANCES[dtype]
    arrays = [a for a in (x, w, b) if a is not None]
    mine = tensors(*arrays, dtype=dtype)
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    if strategy is None:
        out = conv2d(mine[0], mine[1], mine[2] if b is not None else None, *geometry)
    else:
        out = op(strategy, (None, *geometry))(*mine)
    expected = torch.nn.functional.conv2d(
        theirs[0], theirs[1], theirs[2] if b is not None else None, *geometry
    )
    assert out.dtype == dtype
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    probe = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(probe)
    expected.backward(torch.from_numpy(probe))
    for name, a, e in zip(["input", "weight", "bias"], mine, theirs, strict=False):
        assert a.grad is not None and e.grad is not None
        assert a.grad.dtype == dtype, f"gradient of {name} is {a.grad.dtype}"
        np.testing.assert_allclose(
            a.grad.data, e.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of {name}"
        )


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 4),
    out_channels=st.integers(1, 4),
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
    dtype=st.sampled_from(DTYPES),
    strategy=st.sampled_from([None, *STRATEGIES]),
)
def test_matches_torch_functional(
    batch: int,
    channels: int,
    out_channels: int,
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    bias: bool,
    dtype: Any,
    strategy: str | None,
) -> None:
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    assume(all(n + 2 * p >= span for n, p, span in zip(size, padding, spans, strict=True)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, channels, *size))
    w = rng.standard_normal((out_channels, channels, *kernel))
    b = rng.standard_normal(out_channels) if bias else None
    compare_functional(x, w, b, (stride, padding, dilation), dtype, strategy)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, layer",
    [
        ((4, 1, 12, 12), dict(in_channels=1, out_channels=6, kernel_size=3, padding=1)),
        ((2, 3, 9, 11), dict(in_channels=3, out_channels=5, kernel_size=(3, 5), stride=2)),
        ((3, 4, 7, 7), dict(in_channels=4, out_channels=2, kernel_size=2, padding="same")),
        ((2, 2, 8, 8), dict(in_channels=2, out_channels=3, kernel_size=3, dilation=2, bias=False)),
        # 8*3*3 = 72 columns: the weight gradient takes the one-product path (THIN_COLUMNS)
        ((2, 8, 6, 6), dict(in_channels=8, out_channels=3, kernel_size=3, padding=1)),
    ],
)
def test_module_matches_torch_with_copied_weights(
    shape: tuple[int, ...], layer: dict[str, Any], dtype: Any
) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal(shape)
    compare_layer(Conv2d(**layer), torch.nn.Conv2d(**layer), x, dtype, tolerances=TOLERANCES[dtype])


def test_module_accepts_an_unbatched_input_like_torch() -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal((3, 6, 6))
    compare_layer(Conv2d(3, 2, 3, padding=1), torch.nn.Conv2d(3, 2, 3, padding=1), x, np.float64)


def test_a_non_contiguous_input_gives_the_same_result() -> None:
    x = np.random.default_rng(0).standard_normal((5, 3, 8, 8))
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3))
    strided = x[::2, :, 1:, ::-1]
    compare_functional(strided, w, None, (1, 1, 1), np.float64)


# ----- the two strategies -----
@settings(max_examples=10, deadline=None)
@given(
    channels=st.integers(1, 5),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
)
def test_strategies_agree(
    channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, channels, 9, 10))
    w = rng.standard_normal((4, channels, *kernel))
    b = rng.standard_normal(4)
    results = []
    for strategy in STRATEGIES:
        inputs = tensors(x, w, b)
        out = op(strategy, (kernel, stride, padding, dilation))(*inputs)
        out.backward(np.random.default_rng(1).standard_normal(out.shape))
        results.append([out.data, *(t.grad.data for t in inputs if t.grad is not None)])
    for first, second in zip(*results, strict=True):
        np.testing.assert_allclose(first, second, rtol=1e-12, atol=1e-12)


# ----- dtype, gradients that are not needed, layout -----
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_float32_stays_float32(strategy: str) -> None:
    x, w, b = conv_inputs(GEOMETRIES[0])
    inputs = tensors(x, w, b, dtype=np.float32)
    out = op(strategy, GEOMETRIES[0])(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(t.grad is not None and t.grad.dtype == np.float32 for t in inputs)


@pytest.mark.parametrize("channels", [2, 8])
@pytest.mark.parametrize("frozen", ["weight", "bias"])
def test_a_frozen_parameter_leaves_the_other_gradients_right(frozen: str, channels: int) -> None:
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(channels, 3, 3, padding=1).double()
    layer = Conv2d(channels, 3, 3, padding=1, dtype=fc.float64)
    layer.load_state_dict(reference.state_dict())
    getattr(reference, frozen).requires_grad_(False)
    getattr(layer, frozen).requires_grad = False
    x = np.random.default_rng(0).standard_normal((2, channels, 5, 5))
    probe = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    layer(fc.tensor(x)).backward(probe)
    reference(torch.from_numpy(x)).backward(torch.from_numpy(probe))
    for name, param in layer.named_parameters():
        expected = getattr(reference, name).grad
        if name == frozen:
            assert param.grad is None and expected is None
        else:
            assert param.grad is not None
            np.testing.assert_allclose(param.grad.data, expected.numpy(), rtol=1e-10)


def test_an_input_that_needs_no_gradient_gets_none() -> None:
    layer = Conv2d(1, 2, 3)
    x = fc.randn(2, 1, 5, 5)
    layer(x).sum().backward()
    assert x.grad is None
    assert layer.weight.grad is not None and layer.bias is not None and layer.bias.grad is not None


def test_output_feeds_elementwise_ops_and_reshape() -> None:
    """The output is an NCHW-shaped view of channels-first, batch-last memory: everything
    downstream must still see PyTorch's element order."""
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(2, 3, 3, padding=1)
    layer = Conv2d(2, 3, 3, padding=1)
    layer.load_state_dict(reference.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 2, 5, 5)).astype(np.float32)
    out = layer(fc.tensor(x)).relu().flatten(1)
    expected = torch.relu(reference(torch.from_numpy(x))).flatten(1)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-5)


# ----- the module: layout, init, errors -----
def test_module_has_pytorch_parameters_and_default_init() -> None:
    fc.manual_seed(0)
    layer = Conv2d(16, 32, (3, 5))
    assert layer.weight.shape == (32, 16, 3, 5) and layer.weight.dtype == np.float32
    assert layer.bias is not None and layer.bias.shape == (32,)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == list(torch.nn.Conv2d(16, 32, (3, 5)).state_dict())
    bound = 1 / math.sqrt(16 * 3 * 5)  # kaiming_uniform(a=sqrt(5)) on fan_in = C*kh*kw
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert Conv2d(1, 2, 3, bias=False).bias is None
    assert Conv2d(1, 2, 3, dtype=fc.float64).weight.dtype == np.float64


def test_repr_names_the_arguments() -> None:
    assert repr(Conv2d(1, 16, 3, padding=1)) == (
        "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )


def test_wrong_channel_count_names_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8\).*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        Conv2d(3, 8, 3)(fc.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2d.*3 channels.*\(8, 2, 3, 3\)"):
        conv2d(fc.randn(1, 3, 8, 8), fc.randn(8, 2, 3, 3))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv2d(4, 3, 3, groups=2), "divide in_channels"),
        (lambda: Conv2d(1, 1, 3, stride=2, padding="same"), "'same' needs stride 1"),
        (lambda: Conv2d(1, 1, 3, padding="full"), "padding must be"),
        (lambda: Conv2d(1, 1, 3, stride=0), "at least 1"),
        (lambda: Conv2d(1, 1, 5)(fc.randn(1, 1, 3, 3)), "smaller than the kernel"),
        (lambda: conv2d(fc.randn(1, 1, 3, 3), fc.randn(1, 1, 2, 2), fc.randn(2)), "bias"),
        (lambda: conv2d(fc.randn(3, 3), fc.randn(1, 1, 2, 2)), "4-D"),
    ],
)
def test_bad_arguments_raise_clear_errors(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_mixed_dtypes_are_refused() -> None:
    x = fc.randn(1, 1, 4, 4)
    with pytest.raises(TypeError, match="share a dtype"):
        conv2d(x, fc.randn(1, 1, 3, 3).double())


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        op("winograd", GEOMETRIES[0])(*tensors(*conv_inputs(GEOMETRIES[0])))


def test_auto_strategy_trains_with_im2col_and_infers_with_tensordot() -> None:
    assert choose_strategy(weight_grad=True) == "im2col"
    assert choose_strategy(weight_grad=False) == "tensordot"
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((4, 3, 5, 5)).astype(np.float32)
    with fc.no_grad():
        out = conv2d(fc.tensor(x), fc.tensor(w), padding=2)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=2)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-4, atol=1e-4)


# ----- groups -----
# (in, out, groups, kernel, stride, padding, dilation)
GROUPED: list[tuple[Any, ...]] = [
    (4, 6, 2, 3, 1, 1, 1),
    (3, 3, 3, (2, 3), (2, 1), (1, 0), (1, 2)),  # depthwise
    (6, 4, 2, 1, 2, 0, 1),
    (4, 8, 4, 3, 1, "same", 2),  # depthwise with a channel multiplier
]


def grouped_inputs(
    grouped: tuple[Any, ...], seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    in_channels, out_channels, groups, kernel = grouped[:4]
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, in_channels, 6, 5))
    w = rng.standard_normal((out_channels, in_channels // groups, *kernel))
    return x, w, rng.standard_normal(out_channels)


@pytest.mark.parametrize("grouped", GROUPED, ids=str)
def test_grouped_gradients_match_finite_differences(grouped: tuple[Any, ...]) -> None:
    groups, stride, padding, dilation = grouped[2], *grouped[4:]
    assert_gradients_match(
        lambda x, w, b: conv2d(x, w, b, stride, padding, dilation, groups),
        *tensors(*grouped_inputs(grouped)),
    )


@pytest.mark.parametrize("grouped", GROUPED, ids=str)
def test_groups_match_one_convolution_per_group(grouped: tuple[Any, ...]) -> None:
    """A grouped convolution is the channel-wise concatenation of ``groups`` convolutions."""
    groups, stride, padding, dilation = grouped[2], *grouped[4:]
    arrays = grouped_inputs(grouped, seed=4)
    (x, w, b), (xs, ws, bs) = tensors(*arrays), tensors(*arrays)
    out = conv2d(x, w, b, stride, padding, dilation, groups)
    per_in, per_out = xs.shape[1] // groups, ws.shape[0] // groups
    pieces = [
        conv2d(
            xs[:, k * per_in : (k + 1) * per_in],
            ws[k * per_out : (k + 1) * per_out],
            bs[k * per_out : (k + 1) * per_out],
            stride,
            padding,
            dilation,
        )
        for k in range(groups)
    ]
    expected = fc.cat(pieces, dim=1)
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-12, atol=1e-12)
    probe = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(probe)
    expected.backward(probe)
    for name, mine, theirs in zip(
        ["input", "weight", "bias"], (x, w, b), (xs, ws, bs), strict=True
    ):
        assert mine.grad is not None and theirs.grad is not None
        np.testing.assert_allclose(
            mine.grad.data, theirs.grad.data, rtol=1e-12, atol=1e-12, err_msg=name
        )


@settings(max_examples=12, deadline=None)
@given(
    groups=st.integers(1, 3),
    per_group_in=st.integers(1, 2),
    per_group_out=st.integers(1, 2),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_groups_match_torch_functional(
    groups: int,
    per_group_in: int,
    per_group_out: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    bias: bool,
    dtype: Any,
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, groups * per_group_in, 7, 6))
    w = rng.standard_normal((groups * per_group_out, per_group_in, *kernel))
    b = rng.standard_normal(groups * per_group_out) if bias else None
    compare_functional(x, w, b, (stride, padding, dilation, groups), dtype)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "layer",
    [
        dict(in_channels=4, out_channels=6, kernel_size=3, padding=1, groups=2),
        dict(in_channels=8, out_channels=8, kernel_size=3, padding=1, groups=8, bias=False),
        dict(in_channels=4, out_channels=4, kernel_size=3, padding=2, padding_mode="reflect"),
        dict(in_channels=4, out_channels=2, kernel_size=(2, 3), padding=1, padding_mode="circular"),
        dict(
            in_channels=4, out_channels=2, kernel_size=4, padding="same", padding_mode="replicate"
        ),
        dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1, groups=2),
    ],
    ids=str,
)
def test_grouped_and_padded_modules_match_torch(layer: dict[str, Any], dtype: Any) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal((2, layer["in_channels"], 7, 6))
    compare_layer(Conv2d(**layer), torch.nn.Conv2d(**layer), x, dtype, tolerances=TOLERANCES[dtype])


# ----- one dimension -----
# (kernel, stride, padding, dilation, groups)
GEOMETRIES_1D: list[tuple[Any, ...]] = [
    (3, 1, 1, 1, 1),
    (2, 2, 0, 1, 1),
    (3, 1, "same", 2, 2),
    (1, 3, 2, 1, 1),
]


@pytest.mark.parametrize("geometry", GEOMETRIES_1D, ids=str)
def test_conv1d_gradients_match_finite_differences(geometry: tuple[Any, ...]) -> None:
    kernel, stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9))
    w = rng.standard_normal((2, 4 // groups, kernel))
    b = rng.standard_normal(2)
    assert_gradients_match(
        lambda x, w, b: conv1d(x, w, b, stride, padding, dilation, groups), *tensors(x, w, b)
    )


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 3),
    groups=st.integers(1, 2),
    length=st.integers(5, 12),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
    bias=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_conv1d_matches_torch_functional(
    batch: int,
    groups: int,
    length: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    bias: bool,
    dtype: Any,
) -> None:
    assume(length + 2 * padding >= dilation * (kernel - 1) + 1)
    rtol, atol = TOLERANCES[dtype]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((batch, 2 * groups, length)), rng.standard_normal((4, 2, kernel))]
    if bias:
        arrays.append(rng.standard_normal(4))
    mine = tensors(*arrays, dtype=dtype)
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    geometry = (stride, padding, dilation, groups)
    out = conv1d(mine[0], mine[1], mine[2] if bias else None, *geometry)
    expected = torch.nn.functional.conv1d(
        theirs[0], theirs[1], theirs[2] if bias else None, *geometry
    )
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    probe = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(probe)
    expected.backward(torch.from_numpy(probe))
    for a, e in zip(mine, theirs, strict=True):
        assert a.grad is not None and e.grad is not None and a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad.data, e.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, layer",
    [
        ((4, 3, 16), dict(in_channels=3, out_channels=5, kernel_size=3, padding=1)),
        ((2, 4, 11), dict(in_channels=4, out_channels=4, kernel_size=2, stride=2, groups=2)),
        (
            (2, 4, 10),
            dict(in_channels=4, out_channels=6, kernel_size=3, dilation=4, padding="same"),
        ),
        (
            (2, 2, 9),
            dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="circular"),
        ),
        ((3, 9), dict(in_channels=3, out_channels=2, kernel_size=4, padding=1, bias=False)),
    ],
    ids=str,
)
def test_conv1d_module_matches_torch_with_copied_weights(
    shape: tuple[int, ...], layer: dict[str, Any], dtype: Any
) -> None:
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal(shape)
    compare_layer(Conv1d(**layer), torch.nn.Conv1d(**layer), x, dtype, tolerances=TOLERANCES[dtype])


def test_conv1d_module_has_pytorch_parameters_and_repr() -> None:
    torch.manual_seed(0)
    reference = torch.nn.Conv1d(4, 6, 3, padding=1, groups=2)
    layer = Conv1d(4, 6, 3, padding=1, groups=2)
    assert {k: v.shape for k, v in layer.state_dict().items()} == {
        k: tuple(v.shape) for k, v in reference.state_dict().items()
    }
    assert repr(layer) == repr(reference)
    bound = 1 / math.sqrt(2 * 3)  # fan_in = in_channels / groups * kernel
    assert np.abs(layer.weight.data).max() <= bound


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv1d(4, 6, 3, groups=4), "divide in_channels"),
        (lambda: Conv1d(2, 2, 3, padding_mode="mirror"), "padding_mode must be one of"),
        (lambda: Conv1d(2, 2, (3, 3)), "kernel_size must be an int or a 1-tuple"),  # type: ignore[arg-type]
        (lambda: Conv1d(2, 2, 3, stride=2, padding="same"), "'same' needs stride 1"),
        (lambda: Conv1d(2, 2, 3)(fc.randn(1, 3, 8)), r"\(N, 2, L\)"),
        (lambda: Conv1d(2, 2, 5)(fc.randn(1, 2, 3)), "smaller than the kernel"),
        (lambda: conv1d(fc.randn(1, 2, 8), fc.randn(2, 2, 3, 3)), "an \\(out, in, k\\) weight"),
        (lambda: conv1d(fc.randn(1, 4, 8), fc.randn(3, 2, 3), groups=2), "do not split"),
    ],
)
def test_conv1d_bad_arguments_raise_clear_errors(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
