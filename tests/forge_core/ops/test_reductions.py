"""Reductions (sum, mean, max, min, var, std): gradients, PyTorch parity, ties, dtypes."""

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import (
    OpCase,
    check_against_torch,
    check_gradients,
    compare_with_torch,
    spaced,
)


def _same(method: str, *args, **kwargs):
    """The op as a method call, spelled the same in forge and PyTorch."""
    return lambda a: getattr(a, method)(*args, **kwargs)


def _values(method: str, dim: int, keepdim: bool = False):
    return lambda a: getattr(a, method)(dim=dim, keepdim=keepdim).values


REDUCTIONS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("sum", (), {}),
    ("sum", (1,), {}),
    ("sum", (-1,), {"keepdim": True}),
    ("sum", ((0, 2),), {}),
    ("sum", ((0, -1),), {"keepdim": True}),
    ("mean", (), {}),
    ("mean", (0,), {}),
    ("mean", (-2,), {"keepdim": True}),
    ("mean", ((1, 2),), {}),
    ("var", (), {}),
    ("var", (1,), {}),
    ("var", ((0, 2),), {"keepdim": True}),
    ("var", (-1,), {"correction": 0}),
    ("var", (0,), {"unbiased": False}),
    ("std", (), {}),
    ("std", (2,), {}),
    ("std", ((0, 1),), {"keepdim": True, "correction": 0}),
]

CASES = [
    *(
        OpCase(
            f"{name}{args}{kwargs}",
            _same(name, *args, **kwargs),
            _same(name, *args, **kwargs),
            ((2, 3, 4),),
        )
        for name, args, kwargs in REDUCTIONS
    ),
    OpCase("sum_1d", _same("sum"), _same("sum"), ((5,),)),
    OpCase("mean_0d", _same("mean"), _same("mean"), ((),)),
    OpCase("max", _same("max"), _same("max"), ((3, 4),), (spaced,)),
    OpCase("min", _same("min"), _same("min"), ((3, 4),), (spaced,)),
    OpCase("max_dim", _values("max", 1), _values("max", 1), ((2, 3, 4),), (spaced,)),
    OpCase(
        "max_dim_keepdim", _values("max", 0, True), _values("max", 0, True), ((3, 4),), (spaced,)
    ),
    OpCase("max_dim_neg", _values("max", -1), _values("max", -1), ((3, 4),), (spaced,)),
    OpCase("min_dim", _values("min", 1), _values("min", 1), ((2, 3, 4),), (spaced,)),
    OpCase(
        "min_dim_keepdim", _values("min", -2, True), _values("min", -2, True), ((3, 4),), (spaced,)
    ),
    OpCase("max_1d_dim", _values("max", 0), _values("max", 0), ((5,),), (spaced,)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 5.0, 0.0, 5.0]])


@pytest.mark.parametrize("method", ["max", "min"])
def test_ties_over_all_elements_share_the_gradient_like_torch(method: str) -> None:
    compare_with_torch(_same(method), _same(method), [TIES], np.float64)


@pytest.mark.parametrize("method", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1])
def test_ties_along_a_dim_pick_the_same_index_as_torch(method: str, dim: int) -> None:
    compare_with_torch(_values(method, dim), _values(method, dim), [TIES], np.float64)
    mine = getattr(fc.tensor(TIES), method)(dim=dim)
    theirs = getattr(torch.tensor(TIES), method)(dim=dim)
    np.testing.assert_array_equal(mine.indices.numpy(), theirs.indices.numpy())
    assert mine.indices.dtype == fc.int64


@pytest.mark.parametrize("method", ["argmax", "argmin"])
@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), (0, False), (1, True), (-1, False)])
def test_argmax_argmin_match_torch(method: str, dim, keepdim: bool) -> None:
    x = np.random.default_rng(0).standard_normal((3, 5))
    kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    mine = getattr(fc.tensor(x), method)(**kwargs)
    theirs = getattr(torch.tensor(x), method)(**kwargs)
    assert mine.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_max_with_dim_returns_values_and_indices_like_torch() -> None:
    x = fc.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert not indices.requires_grad


def test_a_dim_out_of_range_is_an_index_error() -> None:
    with pytest.raises(IndexError, match="out of range"):
        fc.randn(2, 3).sum(dim=2)


@settings(max_examples=15, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    method=st.sampled_from(["sum", "mean", "var", "std"]),
    keepdim=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_reductions_over_random_dims_match_torch(shape, method, keepdim, dtype, data) -> None:
    dims = data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1).map(sorted))
    count = int(np.prod([shape[d] for d in dims]))
    if method in ("var", "std") and count < 2:
        return  # Bessel's correction divides by zero: NaN in both, nothing to compare
    x = np.random.default_rng(len(dims)).standard_normal(shape) + 3
    fn = _same(method, dim=tuple(dims), keepdim=keepdim)
    compare_with_torch(fn, fn, [x], dtype)


# ----- issue #14: running sums and products, NumPy's spellings of the reductions -----
SCAN_CASES = [
    OpCase("cumsum", _same("cumsum", 1), _same("cumsum", 1), ((3, 4),)),
    OpCase("cumsum_neg", _same("cumsum", dim=-1), _same("cumsum", dim=-1), ((2, 3, 4),)),
    OpCase("cumsum_fn", lambda a: fc.cumsum(a, 0), lambda a: torch.cumsum(a, 0), ((4, 2),)),
    OpCase("cumsum_0d", _same("cumsum", 0), _same("cumsum", 0), ((),)),
    OpCase("cumprod", _same("cumprod", -1), _same("cumprod", -1), ((3, 4),)),
    OpCase("cumprod_dim0", _same("cumprod", 0), _same("cumprod", 0), ((4, 2, 3),)),
    OpCase("cumprod_fn", lambda a: fc.cumprod(a, 1), lambda a: torch.cumprod(a, 1), ((2, 5),)),
    OpCase("cumprod_0d", _same("cumprod", 0), _same("cumprod", 0), ((),)),
]


@pytest.mark.parametrize("case", SCAN_CASES, ids=str)
def test_scan_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", SCAN_CASES, ids=str)
def test_scans_match_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


@pytest.mark.parametrize(
    "row",
    [
        [0.0, 2.0, 3.0, 0.5],
        [2.0, 0.0, 3.0, 0.5],
        [2.0, 3.0, 0.5, 0.0],
        [2.0, 0.0, 3.0, 0.0],
        [0.0, 0.0, 1.5, 2.0],
    ],
)
def test_cumprod_gradient_through_zeros_matches_torch(row: list[float]) -> None:
    """The division shortcut fails at a zero; the rows that hold one take the exact formula."""
    x = np.array([row, [1.5, -2.0, 0.5, 3.0]])
    compare_with_torch(lambda a: a.cumprod(1), lambda a: a.cumprod(1), [x], np.float64)
    compare_with_torch(lambda a: a.cumprod(0), lambda a: a.cumprod(0), [x.T.copy()], np.float64)
    probe = fc.tensor(x, dtype=fc.float64, requires_grad=True)
    assert_gradients_match(lambda a: a.cumprod(1), probe)


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "argmax", "argmin", "var", "std"])
def test_reductions_take_numpys_axis_and_keepdims_like_torch(method: str) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    mine = getattr(fc.tensor(x), method)(axis=1, keepdims=True)
    theirs = getattr(torch.tensor(x), method)(axis=1, keepdims=True)
    if method in ("max", "min"):
        mine, theirs = mine.values, theirs.values
    assert mine.shape == tuple(theirs.shape)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="dim or axis"):
        getattr(fc.tensor(x), method)(1, axis=1)


def test_sum_and_mean_functions_match_torch() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_allclose(fc.sum(fc.tensor(x), 1).numpy(), torch.sum(torch.tensor(x), 1))
    np.testing.assert_allclose(
        fc.mean(fc.tensor(x), dim=0, keepdim=True).numpy(),
        torch.mean(torch.tensor(x), dim=0, keepdim=True),
    )


NORM_CASES = [
    OpCase("norm", _same("norm"), _same("norm"), ((3, 4),)),
    OpCase("norm_dim", _same("norm", 2, 1), _same("norm", 2, 1), ((3, 4),)),
    OpCase("norm_keepdim", _same("norm", 2, -1, True), _same("norm", 2, -1, True), ((2, 3, 4),)),
    OpCase("norm_dims", _same("norm", 2, (0, 2)), _same("norm", 2, (0, 2)), ((2, 3, 4),)),
    OpCase("norm_1", _same("norm", 1, 0), _same("norm", 1, 0), ((3, 4),), (spaced,)),
    OpCase("norm_3", _same("norm", 3, 1), _same("norm", 3, 1), ((3, 4),), (spaced,)),
    OpCase("norm_half", _same("norm", 0.5, 1), _same("norm", 0.5, 1), ((3, 4),), (spaced,)),
]


@pytest.mark.parametrize("case", NORM_CASES, ids=str)
def test_norm_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", NORM_CASES, ids=str)
def test_norms_match_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_the_norm_of_a_zero_vector_has_zero_gradient_like_torch(p: int) -> None:
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    compare_with_torch(lambda a: a.norm(p, 1), lambda a: a.norm(p, 1), [x], np.float64)


@pytest.mark.parametrize("p", [0, -1, float("inf")])
def test_norm_orders_forge_does_not_have_are_rejected(p: float) -> None:
    with pytest.raises(ValueError, match="positive finite"):
        fc.randn(3).norm(p)


@pytest.mark.parametrize("method", ["var", "std"])
def test_variance_of_close_values_far_from_zero_matches_torch_in_float32(method: str) -> None:
    """Built from a mean, a difference and a sum, the gradient carried the mean's term, zero in
    exact arithmetic but float32 rounding noise here; as one op it matches PyTorch."""
    x = np.random.default_rng(1).standard_normal((1, 2, 2)) + 3
    fn = _same(method, dim=(1,))
    compare_with_torch(fn, fn, [x], np.float32)
