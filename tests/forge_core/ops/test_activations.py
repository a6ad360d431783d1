"""Activations and the softmax family: gradients, PyTorch parity, dtypes, extreme inputs."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core.nn import functional as FF
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import (
    OpCase,
    check_against_torch,
    check_gradients,
    compare_with_torch,
    spaced,
)

CASES = [
    OpCase("relu", lambda a: a.relu(), torch.relu, ((3, 4),), (spaced,)),
    OpCase(
        "leaky_relu",
        lambda a: a.leaky_relu(0.1),
        lambda a: F.leaky_relu(a, 0.1),
        ((3, 4),),
        (spaced,),
    ),
    OpCase("leaky_relu_default", lambda a: a.leaky_relu(), F.leaky_relu, ((3, 4),), (spaced,)),
    OpCase("sigmoid", lambda a: a.sigmoid(), torch.sigmoid, ((3, 4),)),
    OpCase("tanh", lambda a: a.tanh(), torch.tanh, ((3, 4),)),
    OpCase("gelu", lambda a: a.gelu(), F.gelu, ((3, 4),)),
    OpCase(
        "gelu_tanh",
        lambda a: a.gelu(approximate="tanh"),
        lambda a: F.gelu(a, approximate="tanh"),
        ((3, 4),),
    ),
    OpCase("softmax_last", lambda a: a.softmax(-1), lambda a: a.softmax(-1), ((3, 4),)),
    OpCase("softmax_first", lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 4),)),
    OpCase("softmax_3d", lambda a: a.softmax(1), lambda a: a.softmax(1), ((2, 3, 4),)),
    OpCase("log_softmax_last", lambda a: a.log_softmax(-1), lambda a: a.log_softmax(-1), ((3, 4),)),
    OpCase("log_softmax_3d", lambda a: a.log_softmax(1), lambda a: a.log_softmax(1), ((2, 3, 4),)),
    OpCase("log_softmax_1d", lambda a: a.log_softmax(0), lambda a: a.log_softmax(0), ((5,),)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_on_large_inputs(case: OpCase, dtype: type) -> None:
    """Saturated sigmoid/tanh, softmax over logits in the thousands: no overflow, no NaN."""
    (shape,) = case.shapes
    x = np.random.default_rng(0).permutation(np.linspace(-1800, 1800, int(np.prod(shape))))
    with np.errstate(over="raise", invalid="raise"):
        compare_with_torch(case.forge, case.torch, [x.reshape(shape)], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch_over_a_wide_range(approximate: str, dtype: type) -> None:
    """Every branch of the error function, from the far negative tail to the far positive one.

    In float32 the gradient where tanh saturates is a rounding artefact of a few 1e-6 in both
    frameworks, hence the wider absolute tolerance there.
    """
    x = np.concatenate([np.linspace(-12, 12, 4001), [-40.0, -1e-8, 0.0, 1e-8, 40.0]])
    compare_with_torch(
        lambda a: a.gelu(approximate=approximate),
        lambda a: F.gelu(a, approximate=approximate),
        [x],
        dtype,
        atol=1e-5 if dtype == np.float32 else None,
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient_at_many_points(approximate: str) -> None:
    x = fc.tensor(np.linspace(-7, 7, 29), dtype=fc.float64, requires_grad=True)
    assert_gradients_match(lambda a: a.gelu(approximate=approximate), x)


def test_gelu_rejects_an_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="approximate"):
        fc.randn(3).gelu(approximate="fast")


@pytest.mark.parametrize(
    ("forge_fn", "torch_fn"),
    [
        (lambda a: a.relu(), torch.relu),
        (lambda a: a.leaky_relu(0.2), lambda a: F.leaky_relu(a, 0.2)),
    ],
    ids=["relu", "leaky_relu"],
)
def test_gradient_at_zero_follows_torch(forge_fn, torch_fn) -> None:
    compare_with_torch(forge_fn, torch_fn, [np.array([-1.0, 0.0, 1.0])], np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_relative_accuracy_in_the_tails(dtype: type) -> None:
    """log(sigmoid(x)) of a very negative x is about x, not log(0)."""
    x = np.array([-80.0, -50.0, -20.0, -9.0, 0.0, 9.0, 20.0, 50.0])
    mine = fc.tensor(x, dtype=dtype).sigmoid()
    theirs = torch.sigmoid(torch.tensor(x.astype(dtype)))
    np.testing.assert_allclose(
        mine.numpy(), theirs.numpy(), rtol=4 * float(np.finfo(dtype).eps), atol=0
    )
    compare_with_torch(lambda a: a.sigmoid().log(), lambda a: a.sigmoid().log(), [x], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax_family_ignores_masked_out_logits(method: str, dtype: type) -> None:
    x = np.array([[1.0, -np.inf, 2.0, 0.5], [-np.inf, 3.0, -np.inf, -1.0]])
    compare_with_torch(
        lambda a: getattr(a, method)(-1).clamp(min=-1e4),
        lambda a: getattr(a, method)(-1).clamp(min=-1e4),
        [x],
        dtype,
    )


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log() -> None:
    x = fc.randn(4, 7) * 10
    np.testing.assert_allclose(x.softmax(-1).sum(-1).numpy(), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(
        x.log_softmax(-1).exp().numpy(), x.softmax(-1).numpy(), rtol=1e-5, atol=1e-7
    )


@settings(max_examples=10, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1.0, 10.0, 100.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_softmax_family_matches_torch(shape, seed, scale, dtype, data) -> None:
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    compare_with_torch(lambda a: a.softmax(dim), lambda a: a.softmax(dim), [x], dtype)
    compare_with_torch(lambda a: a.log_softmax(dim), lambda a: a.log_softmax(dim), [x], dtype)


# ----- issue #14: the rest of PyTorch's activations -----

# Kinks at 0 (ELU family, Hardtanh), at ±3 (Hardswish, Hardsigmoid), at 0 and 6 (ReLU6) and at
# ±1 (Hardtanh): the ``spaced`` grid 0.05 + 0.3k keeps every value at least 0.05 from them.
MORE_CASES = [
    OpCase("elu", FF.elu, F.elu, ((3, 4),), (spaced,)),
    OpCase("elu_alpha", lambda a: FF.elu(a, 0.5), lambda a: F.elu(a, 0.5), ((3, 4),), (spaced,)),
    OpCase("celu", lambda a: FF.celu(a, 2.0), lambda a: F.celu(a, 2.0), ((3, 4),), (spaced,)),
    OpCase("selu", FF.selu, F.selu, ((3, 4),), (spaced,)),
    OpCase("softplus", FF.softplus, F.softplus, ((3, 4),)),
    OpCase(
        "softplus_beta_threshold",
        lambda a: FF.softplus(a, beta=2.0, threshold=1.0),
        lambda a: F.softplus(a, beta=2.0, threshold=1.0),
        ((3, 4),),
        (spaced,),
    ),
    OpCase("hardtanh", FF.hardtanh, F.hardtanh, ((3, 4),), (spaced,)),
    OpCase(
        "hardtanh_bounds",
        lambda a: FF.hardtanh(a, -0.4, 0.5),
        lambda a: F.hardtanh(a, -0.4, 0.5),
        ((3, 4),),
        (spaced,),
    ),
    OpCase("relu6", lambda a: FF.relu6(a * 4), lambda a: F.relu6(a * 4), ((4, 5),), (spaced,)),
    OpCase(
        "hardswish",
        lambda a: FF.hardswish(a * 2),
        lambda a: F.hardswish(a * 2),
        ((4, 5),),
        (spaced,),
    ),
    OpCase(
        "hardsigmoid",
        lambda a: FF.hardsigmoid(a * 2),
        lambda a: F.hardsigmoid(a * 2),
        ((4, 5),),
        (spaced,),
    ),
    OpCase("silu", FF.silu, F.silu, ((3, 4),)),
    OpCase("mish", FF.mish, F.mish, ((3, 4),)),
    OpCase("softsign", FF.softsign, F.softsign, ((3, 4),), (spaced,)),
    OpCase("logsigmoid", FF.logsigmoid, F.logsigmoid, ((3, 4),)),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=str)
def test_more_activation_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MORE_CASES, ids=str)
def test_more_activations_match_torch(case: OpCase, dtype: type) -> None:
    if case.name == "hardsigmoid":
        # PyTorch's kernel multiplies the gradient by a float32 1/6 even in float64
        compare_with_torch(case.forge, case.torch, case.arrays(), dtype, atol=1e-8)
        return
    check_against_torch(case, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MORE_CASES, ids=str)
def test_more_activations_match_torch_on_large_inputs(case: OpCase, dtype: type) -> None:
    """Inputs in the thousands: exp and softplus saturate without overflow warnings or NaN."""
    (shape,) = case.shapes
    x = np.random.default_rng(0).permutation(np.linspace(-1800, 1800, int(np.prod(shape))))
    with np.errstate(over="raise", invalid="raise"):
        compare_with_torch(case.forge, case.torch, [x.reshape(shape)], dtype)


def test_sigmoid_of_a_0d_tensor_works_like_torch() -> None:
    compare_with_torch(lambda a: a.sigmoid(), torch.sigmoid, [np.array(0.3)], np.float64)
    assert fc.sigmoid(fc.tensor(-1000.0)).item() == 0.0


# ----- ReLU's compiled loop (forge_core/_native/relu.c), for large float32 arrays -----
def _relu_layouts() -> dict[str, np.ndarray]:
    """Large float32 inputs in the layouts ReLU meets, with the values that test its edges."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal(64 * 16 * 5 * 7).astype(np.float32)
    values[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45]
    chwn = values.reshape(16, 5, 7, 64)
    return {
        "contiguous": values.reshape(64, 16, 5, 7),
        "CHWN memory": chwn.transpose(3, 0, 1, 2),  # a convolution's output
        "strided slice": values.reshape(64, 16, 35)[:, ::2],  # NumPy computes it
    }


@pytest.mark.parametrize("layout", list(_relu_layouts()))
@pytest.mark.parametrize("kernels", ["native", "numpy"])
def test_relu_of_large_arrays_matches_torch(layout: str, kernels: str) -> None:
    from forge_core import native

    native.set_kernels(kernels)
    try:
        x = _relu_layouts()[layout]
        probe = np.empty_like(x)  # in x's memory layout, where x has no gaps
        probe[...] = np.random.default_rng(1).standard_normal(x.shape)
        mine = fc.from_numpy(x).requires_grad_()  # in x's own memory layout
        theirs = torch.tensor(x, requires_grad=True)
        out, expected = mine.relu(), torch.relu(theirs)
        out.backward(fc.from_numpy(probe))
        expected.backward(torch.from_numpy(probe))
    finally:
        native.set_kernels()
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    assert mine.grad is not None and theirs.grad is not None
    # PyTorch passes the gradient where the output is above 0; NumPy's loop also where it is NaN
    grad, reference = mine.grad.data, theirs.grad.numpy()
    compiled = kernels == "native" and layout != "strided slice"
    same = np.ones(x.shape, bool) if compiled else ~np.isnan(x)
    np.testing.assert_array_equal(grad[same], reference[same])
    assert out.dtype == np.float32 and grad.dtype == np.float32


def test_relu_gradient_in_another_layout_than_its_output() -> None:
    x = _relu_layouts()["CHWN memory"]
    probe = np.ascontiguousarray(np.random.default_rng(1).standard_normal(x.shape), np.float32)
    mine = fc.from_numpy(x).requires_grad_()
    mine.relu().backward(fc.tensor(probe))
    assert mine.grad is not None  # NumPy's loop: no gradient where the output is NaN
    np.testing.assert_array_equal(mine.grad.data, probe * (np.nan_to_num(x, nan=-1.0) > 0))
