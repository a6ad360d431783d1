"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Both act in place on the ``.grad`` of each parameter, between ``backward()`` and the optimizer
step; parameters without a gradient are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from forge_core.backend import xp
from forge_core.tensor import Tensor

Parameters = Tensor | Iterable[Tensor]


def _grads(parameters: Parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Parameters,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; return that norm as it was before clipping.

    The norm is taken over the gradients as if concatenated into one vector (``norm_type``
    ``inf`` for the largest magnitude). Gradients are multiplied by
    ``min(1, max_norm / (norm + 1e-6))``, PyTorch's rule, so a norm under the limit is untouched.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(xp.zeros(()))
    norm_type = float(norm_type)
    dtype = grads[0].data.dtype
    if math.isinf(norm_type):
        total = max((float(xp.abs(g.data).max()) for g in grads if g.data.size), default=0.0)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(xp.vdot(g.data.ravel(), g.data.ravel())) for g in grads))
    else:
        powers = (float(xp.sum(xp.abs(g.data) ** norm_type)) for g in grads)
        total = sum(powers) ** (1.0 / norm_type)
    total_norm = Tensor(xp.asarray(total, dtype=dtype))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they "
            "cannot be clipped; pass error_if_nonfinite=False to clip anyway"
        )
    coef = float(max_norm) / (total + 1e-6)
    # `not >=` also scales by a NaN norm, spreading the NaN as PyTorch does.
    if not coef >= 1.0:
        for g in grads:
            g.data *= xp.asarray(coef, dtype=g.data.dtype)
    return total_norm


def clip_grad_value_(parameters: Parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``."""
    for g in _grads(parameters):
        xp.clip(g.data, -clip_value, clip_value, out=g.data)
