"""Batch and layer normalisation against PyTorch: outputs, gradients, running statistics."""

from typing import Any

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn
from forge_core.nn import functional as F
from tests.forge_core.gradcheck import assert_gradients_match
from tests.forge_core.nn.parity import TORCH_DTYPES, assert_close, compare_layer

DTYPES = [np.float32, np.float64]
BATCH_NORMS = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (8, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 2, 5)),
]
OPTIONS = [
    {},
    {"affine": False},
    {"momentum": None},
    {"track_running_stats": False},
    {"eps": 1e-2, "momentum": 0.3},
    {"bias": False},
]


def _randomise(reference: torch.nn.Module, seed: int) -> None:
    """Give the PyTorch layer non-trivial affine parameters (defaults are ones and zeros)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in reference.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.5 + 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("kind", BATCH_NORMS, ids=lambda k: f"{k[0].__name__}{k[2]}")
def test_batch_norm_training_steps_then_eval_match_torch(
    kind: tuple[Any, Any, tuple[int, ...]], options: dict[str, Any], dtype: Any
) -> None:
    make, make_ref, shape = kind
    channels = shape[1]
    layer, reference = make(channels, **options), make_ref(channels, **options)
    _randomise(reference, seed=0)
    rng = np.random.default_rng(0)
    layer.to(dtype)
    layer.load_state_dict(reference.to(TORCH_DTYPES[dtype]).state_dict())
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 0.5
        # the state is already loaded: compare_layer's reload must not reset it
        compare_layer(layer, reference, x, dtype, seed=step)
    torch_state = reference.state_dict()
    for name, value in layer.state_dict().items():
        assert value.dtype == (np.int64 if name == "num_batches_tracked" else dtype)
        assert_close(value.numpy(), torch_state[name].numpy(), dtype, name)
    layer.eval()
    reference.eval()
    compare_layer(layer, reference, rng.standard_normal(shape), dtype, seed=9)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_gradients_match_finite_differences(training: bool, affine: bool) -> None:
    rng = np.random.default_rng(1)
    x = fc.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mean, var = fc.tensor(rng.standard_normal(2)), fc.tensor(rng.random(2) + 0.5)
    inputs = [x]
    if affine:
        inputs += [
            fc.tensor(rng.standard_normal(2), requires_grad=True),
            fc.tensor(rng.standard_normal(2), requires_grad=True),
        ]

    def norm(x: fc.Tensor, *params: fc.Tensor) -> fc.Tensor:
        # running statistics are copies, so the checks' repeated forwards leave them alone
        weight, bias = params if params else (None, None)
        return F.batch_norm(x, mean.clone(), var.clone(), weight, bias, training, 0.1, 1e-3)

    assert_gradients_match(norm, *inputs)


def test_batch_norm_updates_running_stats_with_unbiased_variance() -> None:
    layer = nn.BatchNorm1d(2, momentum=0.5)
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    layer(fc.tensor(x))
    state = layer.state_dict()
    np.testing.assert_allclose(state["running_mean"].numpy(), 0.5 * x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        state["running_var"].numpy(), 0.5 + 0.5 * x.var(axis=0, ddof=1), rtol=1e-6
    )
    assert state["num_batches_tracked"].item() == 1
    layer.eval()
    layer(fc.tensor(x))
    assert state["num_batches_tracked"].item() == 1


def test_batch_norm_state_dict_matches_torch() -> None:
    for layer, reference in [
        (nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)),
        (nn.BatchNorm1d(4, affine=False), torch.nn.BatchNorm1d(4, affine=False)),
        (
            nn.BatchNorm1d(4, track_running_stats=False),
            torch.nn.BatchNorm1d(4, track_running_stats=False),
        ),
    ]:
        ours, theirs = layer.state_dict(), reference.state_dict()
        assert list(ours) == list(theirs)
        for name, value in ours.items():
            np.testing.assert_array_equal(value.numpy(), theirs[name].numpy())
    assert repr(nn.BatchNorm2d(4)) == repr(torch.nn.BatchNorm2d(4))
    assert repr(nn.LayerNorm((2, 3), bias=False)) == repr(torch.nn.LayerNorm((2, 3), bias=False))


def test_batch_norm_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.BatchNorm2d(3)(fc.randn(2, 3, 4))
    with pytest.raises(ValueError, match="BatchNorm1d\\(3\\) got input with 4 channels"):
        nn.BatchNorm1d(3)(fc.randn(2, 4))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(fc.randn(1, 3))
    layer = nn.BatchNorm1d(3).eval()
    assert layer(fc.randn(1, 3)).shape == (1, 3)


def test_batch_norm_keeps_float32() -> None:
    layer = nn.BatchNorm2d(3)
    x = fc.randn(2, 3, 4, 4, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad is not None and x.grad.dtype == np.float32
    assert layer.state_dict()["running_var"].dtype == np.float32


LAYER_NORMS = [
    ((4, 6), 6, {}),
    ((2, 3, 5), (3, 5), {}),
    ((2, 3, 5), 5, {"elementwise_affine": False}),
    ((2, 3, 5), 5, {"bias": False}),
    ((3, 4), 4, {"eps": 0.1}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "normalized", "options"), LAYER_NORMS, ids=str)
def test_layer_norm_matches_torch(
    shape: tuple[int, ...], normalized: Any, options: dict[str, Any], dtype: Any
) -> None:
    reference = torch.nn.LayerNorm(normalized, **options)
    _randomise(reference, seed=1)
    x = np.random.default_rng(2).standard_normal(shape) * 3 + 1
    compare_layer(nn.LayerNorm(normalized, **options), reference, x, dtype)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradients_match_finite_differences(affine: bool) -> None:
    rng = np.random.default_rng(3)
    x = fc.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    if not affine:
        assert_gradients_match(lambda x: F.layer_norm(x, (2, 4), eps=1e-3), x)
        return
    w = fc.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = fc.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    assert_gradients_match(lambda x, w, b: F.layer_norm(x, (2, 4), w, b, eps=1e-3), x, w, b)


def test_layer_norm_rejects_a_mismatched_shape() -> None:
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\).*\(2, 4\)"):
        nn.LayerNorm(5)(fc.randn(2, 4))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm((2, 3, 4))(fc.randn(3, 4))
