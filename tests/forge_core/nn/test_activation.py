"""Activation layers and their functional forms against PyTorch and finite differences."""

from collections.abc import Callable

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import compare_layer

DTYPES = [np.float32, np.float64]
SHAPES = [(5,), (3, 4), (2, 3, 4)]

# (forge layer, PyTorch layer) factories
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.nn.Module]]] = {
    "relu": (nn.ReLU, torch.nn.ReLU),
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    "tanh": (nn.Tanh, torch.nn.Tanh),
    "sigmoid": (nn.Sigmoid, torch.nn.Sigmoid),
    "gelu": (nn.GELU, torch.nn.GELU),
    "gelu_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    "softmax": (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    "softmax_dim0": (lambda: nn.Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1)),
}


def _away_from_kinks(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Normal draws pushed at least 0.05 from 0, where ReLU's derivative jumps."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < 0.05, 0.05 * np.sign(x) + 0.05 * (x == 0), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(LAYERS))
def test_activation_matches_torch(name: str, shape: tuple[int, ...], dtype: type) -> None:
    make, make_ref = LAYERS[name]
    # The exact GELU's erf is a polynomial fit good to ~1.2e-7, short of float64's precision.
    tolerances = (3e-7, 1e-8) if name == "gelu" and dtype == np.float64 else None
    compare_layer(make(), make_ref(), _away_from_kinks(shape), dtype, tolerances=tolerances)


@pytest.mark.parametrize("name", list(LAYERS))
def test_activation_gradients_match_finite_differences(name: str) -> None:
    layer = LAYERS[name][0]()
    x = fc.tensor(_away_from_kinks((3, 4), seed=2), dtype=fc.float64, requires_grad=True)
    assert_gradients_match(layer, x)


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_picks_pytorchs_legacy_dim(ndim: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.Softmax()(fc.tensor(x)).numpy(), expected, rtol=1e-12)
    with pytest.warns(UserWarning):
        expected = torch.nn.LogSoftmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nn.LogSoftmax()(fc.tensor(x)).numpy(), expected, rtol=1e-12)


def test_functional_forms_equal_the_layers() -> None:
    x = fc.randn(3, 4)
    pairs = [
        (F.relu(x), nn.ReLU()(x)),
        (F.leaky_relu(x, 0.3), nn.LeakyReLU(0.3)(x)),
        (F.tanh(x), nn.Tanh()(x)),
        (F.sigmoid(x), nn.Sigmoid()(x)),
        (F.gelu(x, approximate="tanh"), nn.GELU("tanh")(x)),
        (F.softmax(x, 1), nn.Softmax(1)(x)),
        (F.log_softmax(x, 0), nn.LogSoftmax(0)(x)),
    ]
    for functional, layer in pairs:
        np.testing.assert_array_equal(functional.numpy(), layer.numpy())


def test_gelu_rejects_an_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_activation_reprs_match_pytorch() -> None:
    for layer, ref in [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    ]:
        assert repr(layer) == repr(ref)
