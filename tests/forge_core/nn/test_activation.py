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


# ----- issue #14: the rest of torch.nn's activation layers -----
MORE_LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.nn.Module]]] = {
    "celu": (lambda: nn.CELU(0.7), lambda: torch.nn.CELU(0.7)),
    "elu": (nn.ELU, torch.nn.ELU),
    "hardsigmoid": (nn.Hardsigmoid, torch.nn.Hardsigmoid),
    "hardswish": (nn.Hardswish, torch.nn.Hardswish),
    "hardtanh": (lambda: nn.Hardtanh(-0.5, 0.8), lambda: torch.nn.Hardtanh(-0.5, 0.8)),
    "logsigmoid": (nn.LogSigmoid, torch.nn.LogSigmoid),
    "mish": (nn.Mish, torch.nn.Mish),
    "relu6": (nn.ReLU6, torch.nn.ReLU6),
    "selu": (nn.SELU, torch.nn.SELU),
    "silu": (nn.SiLU, torch.nn.SiLU),
    "softplus": (lambda: nn.Softplus(2.0, 3.0), lambda: torch.nn.Softplus(2.0, 3.0)),
    "softsign": (nn.Softsign, torch.nn.Softsign),
}


def _spread(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values over [-8, 8] that reach every piece of the piecewise activations (ReLU6 above 6,
    Hardswish below -3), kept 0.05 from their kinks at 0, ±0.5, 0.8, ±3 and 6."""
    x = np.random.default_rng(seed).uniform(-8, 8, shape)
    for kink in (0.0, -0.5, 0.5, 0.8, -3.0, 3.0, 6.0):
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.1, x)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(MORE_LAYERS))
def test_more_activation_layers_match_torch(name: str, shape: tuple[int, ...], dtype: type) -> None:
    make, make_ref = MORE_LAYERS[name]
    # In float64 PyTorch's Hardsigmoid gradient uses a float32 1/6, and its CELU gradient for
    # an alpha other than a power of 2 is off by ~2e-7 relative (forge's is checked below)
    tolerances = None
    if name in ("hardsigmoid", "celu") and dtype == np.float64:
        tolerances = (1e-6, 1e-8)
    compare_layer(make(), make_ref(), _spread(shape), dtype, tolerances=tolerances)


@pytest.mark.parametrize("name", list(MORE_LAYERS))
def test_more_activation_gradients_match_finite_differences(name: str) -> None:
    layer = MORE_LAYERS[name][0]()
    x = fc.tensor(_spread((3, 4), seed=2), dtype=fc.float64, requires_grad=True)
    assert_gradients_match(layer, x)


def test_more_activation_reprs_match_pytorch() -> None:
    for name, (make, make_ref) in MORE_LAYERS.items():
        assert repr(make()) == repr(make_ref()), name


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Hardtanh(1.0, -1.0), lambda: nn.Softplus(beta=0), lambda: F.celu(fc.randn(2), 0)],
    ids=["hardtanh_bounds", "softplus_beta", "celu_alpha"],
)
def test_bad_activation_options_are_rejected(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_celu_gradient_is_accurate_in_float64() -> None:
    x = fc.tensor([-0.5, -5.0, -8.0, -10.0], dtype=fc.float64, requires_grad=True)
    nn.CELU(0.7)(x).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy() / 0.7), rtol=1e-9)
