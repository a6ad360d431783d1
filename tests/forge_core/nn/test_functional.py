"""``forge_core.nn.functional`` as a whole: the names torch.nn.functional users reach for,
and ``normalize``."""

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.torch_parity import compare_with_torch


def test_torch_style_namespaces_work_after_importing_the_package() -> None:
    """``import torch; torch.nn.Linear``: the same holds for forge_core."""
    assert fc.nn.Linear is not None and fc.optim.SGD is not None
    assert fc.nn.functional.relu is F.relu
    for name in ("conv2d", "max_pool2d", "avg_pool2d"):
        assert callable(getattr(fc.nn.functional, name))


def test_reexported_conv_and_pooling_match_torch() -> None:
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6))
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    compare_with_torch(
        lambda a, b: F.max_pool2d(F.conv2d(a, b, padding=1), 2) + F.avg_pool2d(a, 2).sum(),
        lambda a, b: (
            torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(a, b, padding=1), 2)
            + torch.nn.functional.avg_pool2d(a, 2).sum()
        ),
        [x, w],
        np.float64,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "p", "dim"),
    [((4, 3), 2.0, 1), ((4, 3), 2.0, 0), ((2, 3, 4), 1.0, -1), ((2, 3, 4), 3.0, 1), ((5,), 2, 0)],
)
def test_normalize_matches_torch(shape, p: float, dim: int, dtype: type) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    compare_with_torch(
        lambda a: F.normalize(a, p=p, dim=dim),
        lambda a: torch.nn.functional.normalize(a, p=p, dim=dim),
        [x],
        dtype,
    )


def test_normalize_of_a_zero_row_stays_zero_like_torch() -> None:
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    compare_with_torch(F.normalize, torch.nn.functional.normalize, [x], np.float64)


def test_normalize_gradients_match_finite_differences() -> None:
    x = fc.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    assert_gradients_match(lambda a: F.normalize(a, dim=1), x.double().detach().requires_grad_())


def test_normalize_rejects_a_norm_order_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="p must be a positive"):
        F.normalize(fc.randn(2, 3), p=0)
