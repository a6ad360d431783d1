"""Adam and AdamW, with PyTorch's update formulas so that forge and PyTorch runs agree.

The arithmetic follows ``torch.optim.adam._single_tensor_adam`` (PyTorch's CPU path) step for
step: the first moment is a ``lerp`` towards the gradient, the second moment is
``v * beta2 + ((1 - beta2) * g) * g``, the bias corrections are Python floats, ``eps`` is added
after dividing ``sqrt(v)`` by ``sqrt(1 - beta2**t)``, and the step is ``(-lr / (1 - beta1**t)) *
m / denom``. Floating-point operations are not associative, so keeping the same order is what
makes the numbers agree to rounding: the only differences left are in the last bit, where
PyTorch's CPU kernels fuse a multiply and an add (in ``lerp`` and ``addcmul``) and NumPy cannot.

The step is single-threaded NumPy. Splitting large tensors over a second thread cut the update
alone by a quarter to a half, but gave no reliable gain inside a whole training step, where that
thread competes with BLAS's threads for the same cores.

Every array operation writes into the parameter, a state buffer or a scratch view with ``out=``:
the step runs once per training step and should cost no allocations. Gradients are only read,
because the autograd engine may share a gradient array between tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forge_core.backend import Array, xp
from forge_core.optim.optimizer import (
    Optimizer,
    ParamsT,
    Workspace,
    check_option,
    effective_grad,
    lerp_,
)
from forge_core.tensor import Tensor


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), optionally with AMSGrad and decoupled (AdamW) weight decay."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_option("lr", options["lr"])
        check_option("eps", options["eps"])
        betas = options["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_option("betas[0]", betas[0], high=1.0)
        check_option("betas[1]", betas[1], high=1.0)
        check_option("weight_decay", options["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = Tensor(xp.zeros_like(p.data))
                state["exp_avg_sq"] = Tensor(xp.zeros_like(p.data))
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = Tensor(xp.zeros_like(p.data))
            state["step"] += 1
            adam_update(
                p.data,
                p.grad.data,
                state["exp_avg"].data,
                state["exp_avg_sq"].data,
                state["max_exp_avg_sq"].data if group["amsgrad"] else None,
                self._workspace,
                step=state["step"],
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                decoupled=group["decoupled_weight_decay"],
                maximize=group["maximize"],
            )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )


def adam_update(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    max_exp_avg_sq: Array | None,
    workspace: Workspace,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    maximize: bool,
) -> None:
    """One Adam step for one parameter, in place on ``param`` and the moment buffers."""
    if decoupled and weight_decay != 0:
        xp.multiply(param, 1 - lr * weight_decay, out=param)
    grad = effective_grad(param, grad, 0.0 if decoupled else weight_decay, maximize, workspace)

    scratch = workspace.view(0, param)
    lerp_(exp_avg, grad, 1 - beta1, scratch)
    xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    xp.multiply(grad, 1 - beta2, out=scratch)
    xp.multiply(scratch, grad, out=scratch)
    xp.add(exp_avg_sq, scratch, out=exp_avg_sq)

    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5

    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = workspace.view(1, param)
    xp.sqrt(second, out=denom)
    xp.divide(denom, bias_correction2_sqrt, out=denom)
    xp.add(denom, eps, out=denom)

    xp.multiply(exp_avg, -step_size, out=scratch)
    xp.divide(scratch, denom, out=scratch)
    xp.add(param, scratch, out=param)
