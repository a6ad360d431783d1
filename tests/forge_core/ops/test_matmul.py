"""``matmul`` in every rank combination and the fused ``Linear``: gradients, PyTorch parity."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import forge_core as fc
from forge_core.ops.matmul import Linear
from tests.forge_core.torch_parity import (
    OpCase,
    check_against_torch,
    check_gradients,
    compare_with_torch,
)

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((1, 2, 3), (2, 1, 3, 2)),
]


def _matmul(a, b):
    return a @ b


def _linear(x, w, b=None):
    return Linear.apply(x, w, b) if b is not None else Linear.apply(x, w)


CASES = [
    *(OpCase(f"matmul{sa}{sb}", _matmul, _matmul, (sa, sb)) for sa, sb in MATMUL_SHAPES),
    OpCase("matmul_function", fc.matmul, torch.matmul, ((2, 3), (3, 2))),
    OpCase("matmul_method", lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), ((2, 3), (3,))),
    OpCase("linear", _linear, F.linear, ((4, 3), (2, 3), (2,))),
    OpCase("linear_no_bias", _linear, F.linear, ((4, 3), (2, 3))),
    OpCase("linear_1d", _linear, F.linear, ((3,), (2, 3), (2,))),
    OpCase("linear_3d", _linear, F.linear, ((2, 3, 3), (4, 3), (4,))),
    OpCase("linear_4d", _linear, F.linear, ((2, 1, 2, 3), (2, 3), (2,))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradients_match_finite_differences(case: OpCase) -> None:
    check_gradients(case)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch(case: OpCase, dtype: type) -> None:
    check_against_torch(case, dtype)


@settings(max_examples=20, deadline=None)
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    n=st.integers(1, 4),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
    vector_a=st.booleans(),
    vector_b=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    data=st.data(),
)
def test_random_ranks_and_batch_broadcasting_match_torch(
    batch, n, k, m, vector_a, vector_b, dtype, data
) -> None:
    # each operand keeps a random suffix of the batch dims, some of them squashed to 1
    def batch_of(flag: str) -> list[int]:
        keep = data.draw(st.integers(0, len(batch)), label=f"{flag} batch dims")
        return [
            d if data.draw(st.booleans(), label=f"{flag} stretch") else 1
            for d in batch[len(batch) - keep :]
        ]

    shape_a = (k,) if vector_a else (*batch_of("a"), n, k)
    shape_b = (k,) if vector_b else (*batch_of("b"), k, m)
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    arrays = [rng.standard_normal(shape_a), rng.standard_normal(shape_b)]
    compare_with_torch(_matmul, _matmul, arrays, dtype)


def test_linear_matches_matmul_plus_bias() -> None:
    x = fc.randn(5, 3, dtype=fc.float64)
    w = fc.randn(2, 3, dtype=fc.float64)
    b = fc.randn(2, dtype=fc.float64)
    np.testing.assert_allclose(Linear.apply(x, w, b).numpy(), (x @ w.T + b).numpy(), rtol=1e-12)


def test_only_the_inputs_that_need_a_gradient_get_one() -> None:
    x = fc.randn(4, 3)
    w = fc.randn(2, 3, requires_grad=True)
    b = fc.randn(2)
    Linear.apply(x, w, b).sum().backward()
    assert w.grad is not None and x.grad is None and b.grad is None


@pytest.mark.parametrize(
    ("a", "b"),
    [((2, 3), (4, 5)), ((3,), (4,)), ((2, 2, 3), (3, 4, 2)), ((2, 3), (2,))],
)
def test_shape_mismatch_names_the_op_and_shapes(a, b) -> None:
    with pytest.raises(ValueError, match=re.escape(f"MatMul({a} float32, {b} float32)")):
        fc.randn(*a) @ fc.randn(*b)


def test_linear_shape_mismatch_names_the_op_and_shapes() -> None:
    with pytest.raises(ValueError, match=re.escape("Linear((4, 3) float32, (2, 5) float32")):
        Linear.apply(fc.randn(4, 3), fc.randn(2, 5), fc.randn(2))
