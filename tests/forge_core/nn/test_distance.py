"""Cosine similarity, as a layer and a function, against PyTorch and finite differences."""

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import compare_with_torch

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shapes", "dim"),
    [
        (((4, 3), (4, 3)), 1),
        (((4, 3), (4, 3)), 0),
        (((2, 3, 5), (2, 3, 5)), -1),
        (((2, 3, 5), (3, 5)), 1),
        (((4, 3), (1, 3)), 1),
        (((6,), (6,)), 0),
    ],
)
def test_cosine_similarity_matches_torch(shapes, dim: int, dtype: type) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    compare_with_torch(
        lambda a, b: nn.CosineSimilarity(dim)(a, b),
        lambda a, b: torch.nn.CosineSimilarity(dim)(a, b),
        arrays,
        dtype,
    )


def test_cosine_similarity_of_a_zero_vector_is_zero_like_torch() -> None:
    """The norms are kept at least eps, so a zero vector gives 0, not NaN."""
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    b = np.array([[1.0, 2.0, 3.0], [1.0, -2.0, 0.5]])
    compare_with_torch(
        F.cosine_similarity, torch.nn.functional.cosine_similarity, [a, b], np.float64
    )


def test_cosine_similarity_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    a = fc.tensor(rng.standard_normal((3, 4)), dtype=fc.float64, requires_grad=True)
    b = fc.tensor(rng.standard_normal((3, 4)), dtype=fc.float64, requires_grad=True)
    assert_gradients_match(lambda x, y: F.cosine_similarity(x, y, dim=1), a, b)


def test_cosine_similarity_repr_matches_pytorch() -> None:
    assert repr(nn.CosineSimilarity(0, 1e-6)) == repr(torch.nn.CosineSimilarity(0, 1e-6))


def test_cosine_similarity_of_shapes_that_do_not_broadcast_names_them() -> None:
    with pytest.raises(ValueError, match=r"shape \(3, 4\) and x2 of shape \(2, 4\)"):
        F.cosine_similarity(fc.randn(3, 4), fc.randn(2, 4))
