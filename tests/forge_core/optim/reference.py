"""A small problem solved side by side by a forge optimizer and its PyTorch twin.

Each optimizer test builds the same parameters in both frameworks, runs a few steps on a loss
made of core ops (matmul, tanh, squares) and compares the parameters after every step.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from forge_core import Tensor, optim
from forge_core.nn import Parameter

SHAPES = [(4, 3), (3,), (3, 2)]
# float64 differs from PyTorch only where PyTorch fuses a multiply-add (lerp, addcmul); float32
# compounds those last-bit differences over the steps.
RTOL_ATOL: dict[Any, tuple[float, float]] = {np.float64: (1e-12, 1e-14), np.float32: (1e-5, 1e-6)}


def initial_values(dtype: Any, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


def data(dtype: Any, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype)


def forge_loss(params: Sequence[Tensor], x: np.ndarray, y: np.ndarray) -> Tensor:
    w1, b1, w2 = params
    out = (Tensor(x) @ w1 + b1).tanh() @ w2 - Tensor(y)
    return (out * out).mean()


def torch_loss(params: Sequence[torch.Tensor], x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    w1, b1, w2 = params
    out = torch.tanh(torch.from_numpy(x) @ w1 + b1) @ w2 - torch.from_numpy(y)
    return (out * out).mean()


def groups_of(params: Sequence[Any], groups: Sequence[dict[str, Any]] | None) -> Any:
    """``params`` as given, or split into param groups: each dict's 'params' holds indices."""
    if groups is None:
        return list(params)
    return [{**g, "params": [params[i] for i in g["params"]]} for g in groups]


def forge_step(
    opt: optim.Optimizer, params: Sequence[Parameter], x: np.ndarray, y: np.ndarray
) -> None:
    opt.zero_grad()
    forge_loss(params, x, y).backward()
    opt.step()


def torch_step(
    opt: torch.optim.Optimizer, params: Sequence[torch.Tensor], x: np.ndarray, y: np.ndarray
) -> None:
    opt.zero_grad()
    torch_loss(params, x, y).backward()
    opt.step()


def compare_with_torch(
    forge_cls: Callable[..., optim.Optimizer],
    torch_cls: Callable[..., torch.optim.Optimizer],
    options: dict[str, Any],
    dtype: Any,
    steps: int = 20,
    groups: Sequence[dict[str, Any]] | None = None,
    loosen: float = 1.0,
) -> list[Parameter]:
    """Run both optimizers and assert the parameters agree after every step, within the
    dtype's tolerances times ``loosen``."""
    values = initial_values(dtype)
    x, y = data(dtype)
    forge_params = [Parameter(v.copy()) for v in values]
    torch_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    rtol, atol = (tolerance * loosen for tolerance in RTOL_ATOL[dtype])
    forge_opt = forge_cls(groups_of(forge_params, groups), **options)
    torch_opt = torch_cls(groups_of(torch_params, groups), **options)
    for step in range(steps):
        forge_step(forge_opt, forge_params, x, y)
        torch_step(torch_opt, torch_params, x, y)
        for i, (f, t) in enumerate(zip(forge_params, torch_params, strict=True)):
            assert f.dtype == dtype, f"parameter {i} became {f.dtype}"
            np.testing.assert_allclose(
                f.data,
                t.detach().numpy(),
                rtol=rtol,
                atol=atol,
                err_msg=f"parameter {i} after step {step + 1}",
            )
    for p, v in zip(forge_params, values, strict=True):
        assert not np.array_equal(p.data, v), "the optimizer left a parameter unchanged"
    for s in forge_opt.state.values():
        for key, value in s.items():
            if isinstance(value, Tensor):
                assert value.dtype == dtype, f"state {key!r} is {value.dtype}"
    return forge_params


def resume_matches_uninterrupted(
    make_opt: Callable[[Any], optim.Optimizer], before: int = 5, after: int = 5
) -> None:
    """Save after ``before`` steps, load into fresh parameters and optimizer, continue ``after``
    steps: the parameters must equal those of an uninterrupted run bit for bit."""
    values = initial_values(np.float32)
    x, y = data(np.float32)
    params = [Parameter(v.copy()) for v in values]
    opt = make_opt(params)
    for _ in range(before):
        forge_step(opt, params, x, y)
    checkpoint = opt.state_dict()
    resumed_params = [Parameter(p.data.copy()) for p in params]
    resumed = make_opt(resumed_params)
    resumed.load_state_dict(checkpoint)
    for _ in range(after):
        forge_step(opt, params, x, y)
        forge_step(resumed, resumed_params, x, y)
    for p, r in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(p.data, r.data)
