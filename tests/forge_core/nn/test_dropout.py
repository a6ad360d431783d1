"""``Dropout``: identity in evaluation, inverted dropout in training, seeded."""

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match


def test_dropout_is_the_identity_in_eval_mode() -> None:
    layer = nn.Dropout(0.5).eval()
    x = fc.randn(4, 5, requires_grad=True)
    assert layer(x) is x


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_a_fraction_of_one_minus_p_scaled_up(p: float) -> None:
    fc.manual_seed(0)
    n = 200_000
    out = nn.Dropout(p)(fc.ones(n)).numpy()
    kept = out != 0
    # the kept count is Binomial(n, 1 - p): allow five standard deviations
    assert abs(kept.sum() - n * (1 - p)) < 5 * np.sqrt(n * p * (1 - p))
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    assert out.dtype == np.float32


def test_dropout_gradient_uses_the_forward_mask() -> None:
    fc.manual_seed(1)
    x = fc.randn(50, 40, requires_grad=True)
    out = nn.Dropout(0.3)(x)
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 1 / 0.7, 0.0), rtol=1e-6)


def test_dropout_is_reproducible_under_a_seed() -> None:
    x = fc.ones(1000)
    fc.manual_seed(3)
    first = F.dropout(x, 0.5).numpy()
    fc.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)
    assert not np.array_equal(F.dropout(x, 0.5).numpy(), first)


def test_dropout_edge_probabilities_and_validation() -> None:
    x = fc.randn(10, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    dropped = F.dropout(x, 1.0)
    np.testing.assert_array_equal(dropped.detach().numpy(), np.zeros(10))
    dropped.sum().backward()
    assert x.grad is not None and not x.grad.numpy().any()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="probability"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="probability"):
            F.dropout(x, p)
    assert F.dropout(x, 0.5, training=False) is x
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


def test_dropout_keeps_float64() -> None:
    x = fc.randn(10, dtype=fc.float64, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    assert out.dtype == np.float64 and x.grad is not None and x.grad.dtype == np.float64


def test_dropout_gradient_matches_finite_differences() -> None:
    def seeded_dropout(x: fc.Tensor) -> fc.Tensor:
        fc.manual_seed(5)  # the same mask on every call of the check
        return F.dropout(x, 0.4)

    x = fc.tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    assert_gradients_match(seeded_dropout, x)
