"""Broadcasting arithmetic and elementwise math: gradients, PyTorch parity, dtypes, errors."""

import operator
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import forge_core as fc
from tests.forge_core.torch_parity import (
    OpCase,
    away_from_zero,
    check_against_torch,
    check_gradients,
    compare_with_torch,
    normal,
    positive,
    spaced,
)

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((4, 1), ()),
]

BINARY = [
    ("add", lambda a, b: a + b, (normal, normal)),
    ("sub", lambda a, b: a - b, (normal, normal)),
    ("mul", lambda a, b: a * b, (normal, normal)),
    ("div", lambda a, b: a / b, (normal, away_from_zero)),
    ("pow", lambda a, b: a**b, (positive, normal)),
]

CONDITION = np.array([[True, False, True, True], [False, False, True, False], [True] * 4])

CASES = [
    *(
        OpCase(f"{name}{sa}{sb}", fn, fn, (sa, sb), domains)
        for name, fn, domains in BINARY
        for sa, sb in BROADCAST_PAIRS
    ),
    OpCase("add_scalar", lambda a: a + 2.5, lambda a: a + 2.5, ((3, 4),)),
    OpCase("radd_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, ((3, 4),)),
    OpCase("sub_scalar", lambda a: a - 1.5, lambda a: a - 1.5, ((3, 4),)),
    OpCase("rsub_scalar", lambda a: 1.5 - a, lambda a: 1.5 - a, ((3, 4),)),
    OpCase("mul_scalar", lambda a: a * -3, lambda a: a * -3, ((3, 4),)),
    OpCase("rmul_scalar", lambda a: -3 * a, lambda a: -3 * a, ((3, 4),)),
    OpCase("div_scalar", lambda a: a / 4, lambda a: a / 4, ((3, 4),)),
    OpCase("rdiv_scalar", lambda a: 4 / a, lambda a: 4 / a, ((3, 4),), (away_from_zero,)),
    OpCase("neg", lambda a: -a, lambda a: -a, ((3, 4),)),
    OpCase("pow_2", lambda a: a**2, lambda a: a**2, ((3, 4),)),
    OpCase("pow_3", lambda a: a**3, lambda a: a**3, ((3, 4),)),
    OpCase("pow_1", lambda a: a**1, lambda a: a**1, ((3, 4),)),
    OpCase("pow_0", lambda a: a**0, lambda a: a**0, ((3, 4),), (spaced,)),
    OpCase("pow_half", lambda a: a**0.5, lambda a: a**0.5, ((3, 4),), (positive,)),
    OpCase("pow_neg_float", lambda a: a**-1.5, lambda a: a**-1.5, ((3, 4),), (positive,)),
    OpCase("pow_neg_int", lambda a: a**-1, lambda a: a**-1, ((3, 4),), (away_from_zero,)),
    OpCase("pow_method", lambda a: a.pow(3), lambda a: a.pow(3), ((3, 4),)),
    OpCase("rpow", lambda a: 2.0**a, lambda a: 2.0**a, ((3, 4),)),
    OpCase("exp", lambda a: a.exp(), torch.exp, ((3, 4),)),
    OpCase("log", lambda a: a.log(), torch.log, ((3, 4),), (positive,)),
    OpCase("sqrt", lambda a: a.sqrt(), torch.sqrt, ((3, 4),), (positive,)),
    OpCase("abs", lambda a: a.abs(), torch.abs, ((3, 4),), (spaced,)),
    OpCase(
        "clamp_min", lambda a: a.clamp(min=-0.4), lambda a: a.clamp(min=-0.4), ((3, 4),), (spaced,)
    ),
    OpCase(
        "clamp_max", lambda a: a.clamp(max=0.5), lambda a: a.clamp(max=0.5), ((3, 4),), (spaced,)
    ),
    OpCase(
        "clamp_both",
        lambda a: a.clamp(-0.4, 0.5),
        lambda a: a.clamp(-0.4, 0.5),
        ((3, 4),),
        (spaced,),
    ),
    OpCase("clip", lambda a: a.clip(-0.4, 0.5), lambda a: a.clip(-0.4, 0.5), ((3, 4),), (spaced,)),
    OpCase(
        "where",
        lambda a, b: fc.where(CONDITION, a, b),
        lambda a, b: torch.where(torch.from_numpy(CONDITION), a, b),
        ((3, 4), (3, 4)),
    ),
    OpCase(
        "where_broadcast",
        lambda a, b: fc.where(fc.tensor(CONDITION), a, b),
        lambda a, b: torch.where(torch.from_numpy(CONDITION), a, b),
        ((3, 1), (4,)),
    ),
    OpCase(
        "where_scalar",
        lambda a: fc.where(CONDITION, a, 0.0),
        lambda a: torch.where(torch.from_numpy(CONDITION), a, 0.0),
        ((3, 4),),
    ),
    OpCase("maximum", fc.maximum, torch.maximum, ((3, 4), (3, 4))),
    OpCase("maximum_broadcast", fc.maximum, torch.maximum, ((2, 1, 4), (3, 1))),
    OpCase("minimum", fc.minimum, torch.minimum, ((3, 4), (3, 4))),
    OpCase("minimum_broadcast", fc.minimum, torch.minimum, ((4,), (3, 4))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


@settings(max_examples=15, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
    op=st.sampled_from(BINARY),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_broadcasting_matches_torch(shapes, op, dtype, seed) -> None:
    _, fn, domains = op
    rng = np.random.default_rng(seed)
    arrays = [
        domain(rng, shape) for domain, shape in zip(domains, shapes.input_shapes, strict=True)
    ]
    compare_with_torch(fn, fn, arrays, dtype)


@pytest.mark.parametrize(
    ("op", "torch_op"), [(fc.maximum, torch.maximum), (fc.minimum, torch.minimum)]
)
def test_ties_split_the_gradient_like_torch(op, torch_op) -> None:
    a, b = np.array([1.0, 2.0, 3.0, -1.0]), np.array([1.0, 0.0, 3.0, 5.0])
    compare_with_torch(op, torch_op, [a, b], np.float64)


def test_maximum_with_a_python_number_is_relu_like() -> None:
    x = fc.tensor([-1.0, 2.0], requires_grad=True)
    fc.maximum(x, 0.0).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


@pytest.mark.parametrize(
    ("forge_fn", "torch_fn"),
    [
        (lambda a: a.abs(), torch.abs),
        (lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5)),
        (lambda a: a.clamp(min=0.0), lambda a: a.clamp(min=0.0)),
        (lambda a: a**0, lambda a: a**0),
        (lambda a: a**2, lambda a: a**2),
    ],
    ids=["abs", "clamp", "clamp_min", "pow_0", "pow_2"],
)
def test_gradient_at_kinks_follows_torch(forge_fn, torch_fn) -> None:
    """Where the derivative jumps, forge picks the same side as PyTorch."""
    values = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    compare_with_torch(forge_fn, torch_fn, [values], np.float64)


def test_sqrt_and_log_at_zero_match_torch() -> None:
    with np.errstate(divide="ignore"):
        compare_with_torch(lambda a: a.sqrt(), torch.sqrt, [np.array([0.0, 1.0])], np.float64)
        compare_with_torch(lambda a: a.log(), torch.log, [np.array([0.0, 1.0])], np.float64)


def test_pow_with_a_tensor_exponent_at_zero_and_negative_bases() -> None:
    base = np.array([0.0, 0.0, 0.0, 2.0, -2.0, -2.0])
    exponent = np.array([2.0, 0.0, -1.0, 3.0, 2.0, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        compare_with_torch(lambda a, b: a**b, lambda a, b: a**b, [base, exponent], np.float64)


def test_cast_keeps_the_gradient_in_the_input_dtype() -> None:
    x = fc.randn(3, requires_grad=True)
    y = x.double()
    assert y.dtype == fc.float64
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == fc.float32
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("a", "b"),
    [((2, 3), (4,)), ((2, 3), (3, 2)), ((5,), (4,))],
)
@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("Add", operator.add),
        ("Sub", operator.sub),
        ("Mul", operator.mul),
        ("Div", operator.truediv),
    ],
)
def test_shape_mismatch_names_the_op_and_shapes(a, b, name, op) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{name}({a} float32, {b} float32)")):
        op(fc.randn(*a), fc.randn(*b))


# ----- issue #14: the rest of PyTorch's elementwise math -----
def _off_the_steps(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.1 from any multiple of 0.5, where floor, ceil, round and trunc jump
    (and from 0, where sign does), so a central difference sees the flat part."""
    return rng.integers(-8, 8, shape) * 0.5 + rng.uniform(0.1, 0.4, shape)


def _bounds(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """``spaced`` values shifted by 0.15, so no bound ties an input or the other bound."""
    return spaced(rng, shape) + 0.15


MATH_CASES = [
    OpCase("sin", lambda a: a.sin(), torch.sin, ((3, 4),)),
    OpCase("cos", lambda a: a.cos(), torch.cos, ((3, 4),)),
    OpCase("tan", lambda a: a.tan(), torch.tan, ((3, 4),), (lambda r, s: r.uniform(-1.2, 1.2, s),)),
    OpCase("log2", lambda a: a.log2(), torch.log2, ((3, 4),), (positive,)),
    OpCase("exp2", lambda a: a.exp2(), torch.exp2, ((3, 4),)),
    OpCase("rsqrt", lambda a: a.rsqrt(), torch.rsqrt, ((3, 4),), (positive,)),
    OpCase("erf", lambda a: a.erf(), torch.erf, ((3, 4),)),
    OpCase("erf_wide", fc.erf, torch.erf, ((40,),), (lambda r, s: r.uniform(-6, 6, s),)),
    *(
        OpCase(name, getattr(fc, name), getattr(torch, name), ((3, 4),), (_off_the_steps,))
        for name in ("floor", "ceil", "trunc", "round", "sign")
    ),
    OpCase(
        "round_decimals",
        lambda a: a.round(decimals=1),
        lambda a: a.round(decimals=1),
        ((3, 4),),
        (lambda r, s: r.integers(-80, 80, s) * 0.1 + r.uniform(0.01, 0.04, s),),
    ),
    OpCase(
        "clamp_tensor_bounds",
        lambda a, lo, hi: a.clamp(lo, hi),
        lambda a, lo, hi: a.clamp(lo, hi),
        ((3, 4), (3, 4), (4,)),
        (spaced, _bounds, lambda r, s: _bounds(r, s) + 0.05),
    ),
    OpCase(
        "clamp_tensor_min",
        lambda a, lo: fc.clamp(a, min=lo),
        lambda a, lo: torch.clamp(a, min=lo),
        ((3, 4), (3, 1)),
        (spaced, _bounds),
    ),
    OpCase(
        "clamp_tensor_max_and_number",
        lambda a, hi: a.clamp(-0.45, hi),
        lambda a, hi: a.clamp(torch.tensor(-0.45, dtype=a.dtype), hi),
        ((3, 4), (4,)),
        (spaced, _bounds),
    ),
]


@pytest.mark.parametrize("case", MATH_CASES, ids=str)
def test_math_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MATH_CASES, ids=str)
def test_math_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


def test_round_halves_to_even_and_steps_keep_integers_like_torch() -> None:
    halves = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(
        fc.tensor(halves).round().numpy(), torch.tensor(halves).round().numpy()
    )
    ints = fc.tensor([-3, 0, 4])
    for name in ("floor", "ceil", "trunc", "round", "sign"):
        got = getattr(ints, name)()
        expected = getattr(torch.tensor([-3, 0, 4]), name)()
        assert got.dtype == fc.int64
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_float_only_math_of_integers_is_in_the_default_dtype_like_torch() -> None:
    for name in ("log2", "exp2", "rsqrt", "erf"):
        got = getattr(fc.tensor([1, 4]), name)()
        expected = getattr(torch.tensor([1, 4]), name)()
        assert got.dtype == fc.float32
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_clamp_where_min_is_above_max_gives_max_and_its_gradient_like_torch() -> None:
    x = np.array([-1.0, 0.5, 2.0])
    lo, hi = np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 3.0])
    compare_with_torch(
        lambda a, b, c: a.clamp(b, c), lambda a, b, c: a.clamp(b, c), [x, lo, hi], np.float64
    )


def test_clamp_with_a_bound_that_does_not_broadcast_names_the_op() -> None:
    with pytest.raises(ValueError, match=re.escape("ClampTensor((3, 4) float32, (5,) float32)")):
        fc.randn(3, 4).clamp(min=fc.randn(5))
