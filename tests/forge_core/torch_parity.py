"""One description of an op, checked three ways: finite differences, PyTorch, and float32.

An ``OpCase`` names an op, its forge and PyTorch spellings and the shapes of its inputs. The same
case then feeds the float64 gradient check, the comparison of forward values and input gradients
with PyTorch in float32 and float64, and the check that float32 stays float32 through forward and
backward. The ops' test modules hold the lists of cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import forge_core as fc
from tests.forge_core.gradcheck import assert_gradients_match

Shape = tuple[int, ...]
Domain = Callable[[np.random.Generator, Shape], np.ndarray]

# Comparison tolerances with PyTorch: float32 allows for a different order of summation, float64
# is tight enough to catch a wrong formula that is right to a few digits.
TOLERANCES: dict[Any, tuple[float, float]] = {
    np.float32: (1e-5, 1e-6),
    np.float64: (1e-10, 1e-12),
}


def normal(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def spaced(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Distinct values on the grid 0.05 + 0.3k: no ties, and at least 0.05 from 0 and from any
    bound that lies between grid points (e.g. -0.4, 0.5), so kinks are out of a difference's
    reach."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n // 2) * 0.3 + 0.05).reshape(shape)


@dataclass(frozen=True)
class OpCase:
    """An op as forge and PyTorch spell it, and the inputs it is checked on."""

    name: str
    forge: Callable[..., fc.Tensor]
    torch: Callable[..., torch.Tensor]
    shapes: tuple[Shape, ...]
    domains: tuple[Domain, ...] | None = None

    def __str__(self) -> str:
        return self.name

    def arrays(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        domains = self.domains or (normal,) * len(self.shapes)
        return [domain(rng, shape) for domain, shape in zip(domains, self.shapes, strict=True)]


def check_gradients(case: OpCase) -> None:
    """The op's backward pass agrees with central differences in float64."""
    inputs = [fc.tensor(a, dtype=fc.float64, requires_grad=True) for a in case.arrays()]
    assert_gradients_match(case.forge, *inputs)


def check_against_torch(case: OpCase, dtype: Any, seed: int = 0) -> None:
    """Forward values and input gradients agree with PyTorch; ``dtype`` survives both passes."""
    compare_with_torch(case.forge, case.torch, case.arrays(seed), dtype)


def compare_with_torch(
    forge_fn: Callable[..., fc.Tensor],
    torch_fn: Callable[..., torch.Tensor],
    arrays: Sequence[np.ndarray],
    dtype: Any,
    atol: float | None = None,
) -> None:
    """Run both on the same inputs and compare; ``atol`` overrides the dtype's default."""
    rtol, default_atol = TOLERANCES[dtype]
    atol = default_atol if atol is None else atol
    forge_inputs = [fc.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = forge_fn(*forge_inputs)
    expected = torch_fn(*torch_inputs)

    assert out.dtype == dtype, f"output is {out.dtype} for {np.dtype(dtype)} inputs"
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(
        out.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward"
    )

    probe = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(fc.tensor(probe))
    expected.backward(torch.from_numpy(probe))
    for i, (mine, theirs) in enumerate(zip(forge_inputs, torch_inputs, strict=True)):
        assert theirs.grad is not None
        assert mine.grad is not None, f"input {i} got no gradient"
        assert mine.grad.dtype == dtype, f"gradient of input {i} is {mine.grad.dtype}"
        np.testing.assert_allclose(
            mine.grad.numpy(),
            theirs.grad.numpy(),
            rtol=rtol,
            atol=atol,
            err_msg=f"gradient of input {i}",
        )
