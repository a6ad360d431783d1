"""Gradient clipping against ``torch.nn.utils``."""

import math

import numpy as np
import pytest
import torch

import forge_core as fc
from forge_core import nn


def _twin_grads(
    scale: float, seed: int = 0
) -> tuple[list[fc.Tensor], list[torch.Tensor], list[np.ndarray]]:
    """Forge and PyTorch parameters holding the same gradients; the last has none."""
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(shape) * scale for shape in [(3, 4), (4,), (2, 2, 2)]]
    ours = [fc.zeros(g.shape, requires_grad=True) for g in grads] + [
        fc.zeros(2, requires_grad=True)
    ]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    theirs.append(torch.zeros(2, requires_grad=True))
    for o, t, g in zip(ours, theirs, grads, strict=False):
        o.grad = fc.tensor(g.astype(np.float32))
        t.grad = torch.tensor(g.astype(np.float32))
    return ours, theirs, grads


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    ours, theirs, _ = _twin_grads(scale=2.0)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype == np.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    for o, t in zip(ours[:-1], theirs[:-1], strict=True):
        assert o.grad is not None and t.grad is not None
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert ours[-1].grad is None


def test_clip_grad_norm_leaves_small_gradients_untouched() -> None:
    ours, _, grads = _twin_grads(scale=1e-3)
    nn.utils.clip_grad_norm_(ours, 1.0)
    for o, g in zip(ours, grads, strict=False):
        assert o.grad is not None
        np.testing.assert_array_equal(o.grad.numpy(), g.astype(np.float32))


def test_clip_grad_norm_takes_a_single_tensor_and_handles_no_grads() -> None:
    param = fc.zeros(3, requires_grad=True)
    assert nn.utils.clip_grad_norm_(param, 1.0).item() == 0.0
    param.grad = fc.tensor([3.0, 4.0, 0.0])
    assert nn.utils.clip_grad_norm_(param, 1.0).item() == pytest.approx(5.0)
    assert param.grad is not None
    np.testing.assert_allclose(param.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)


def test_clip_grad_norm_can_refuse_a_nonfinite_norm() -> None:
    param = fc.zeros(2, requires_grad=True)
    param.grad = fc.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_(param, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch() -> None:
    ours, theirs, _ = _twin_grads(scale=2.0, seed=1)
    nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for o, t in zip(ours[:-1], theirs[:-1], strict=True):
        assert o.grad is not None and t.grad is not None
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


def test_clipping_is_reachable_as_pytorch_spells_it() -> None:
    import forge_core.nn.utils as utils_module
    from forge_core.nn.utils import clip_grad_norm_

    assert fc.nn.utils is utils_module
    assert clip_grad_norm_ is utils_module.clip_grad_norm_
