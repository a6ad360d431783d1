"""Finite-difference gradient checks in float64, shared by the engine's tests."""

from collections.abc import Callable, Sequence

import numpy as np

import forge_core as fc
from forge_core import Tensor


def numerical_grads(
    fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference gradients of ``sum(fn(*inputs) * probe)`` for each input.

    A fixed random ``probe`` weights the outputs, so every output element matters.
    """
    with fc.no_grad():
        out = fn(*inputs)
    probe = np.random.default_rng(1).standard_normal(out.shape)

    def scalar() -> float:
        with fc.no_grad():
            return float((fn(*inputs).data * probe).sum())

    grads = []
    for t in inputs:
        grad = np.zeros_like(t.data)
        flat, gflat = t.data.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = scalar()
            flat[i] = old - eps
            down = scalar()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def analytic_grads(fn: Callable[..., Tensor], inputs: Sequence[Tensor]) -> list[np.ndarray]:
    for t in inputs:
        t.grad = None
    out = fn(*inputs)
    probe = np.random.default_rng(1).standard_normal(out.shape)
    (out * Tensor(probe)).sum().backward()
    return [t.grad.data.copy() if t.grad is not None else np.zeros_like(t.data) for t in inputs]


def assert_gradients_match(
    fn: Callable[..., Tensor],
    *inputs: Tensor,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Check ``fn``'s backward pass against central differences. Inputs must be float64."""
    for t in inputs:
        assert t.dtype == np.float64, "gradient checks run in float64"
        assert t.requires_grad
    expected = numerical_grads(fn, inputs)
    actual = analytic_grads(fn, inputs)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
