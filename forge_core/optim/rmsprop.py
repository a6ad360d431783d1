"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum.

The arithmetic follows ``torch.optim.rmsprop._single_tensor_rmsprop``, with ``eps`` added
outside the square root, so that forge and PyTorch runs agree to rounding (TensorFlow's RMSprop
puts ``eps`` inside the root and gives different numbers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forge_core.backend import xp
from forge_core.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_option,
    effective_grad,
    lerp_,
)
from forge_core.tensor import Tensor


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_option("lr", options["lr"])
        check_option("alpha", options["alpha"])
        check_option("eps", options["eps"])
        check_option("weight_decay", options["weight_decay"])
        check_option("momentum", options["momentum"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
        workspace = self._workspace
        for p in group["params"]:
            if p.grad is None:
                continue
            param = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = Tensor(xp.zeros_like(param))
                if momentum > 0:
                    state["momentum_buffer"] = Tensor(xp.zeros_like(param))
                if group["centered"]:
                    state["grad_avg"] = Tensor(xp.zeros_like(param))
            state["step"] += 1
            grad = effective_grad(
                param, p.grad.data, group["weight_decay"], group["maximize"], workspace
            )
            square_avg = state["square_avg"].data
            scratch = workspace.view(0, param)
            xp.multiply(square_avg, alpha, out=square_avg)
            xp.multiply(grad, 1 - alpha, out=scratch)
            xp.multiply(scratch, grad, out=scratch)
            xp.add(square_avg, scratch, out=square_avg)

            avg = workspace.view(1, param)
            if group["centered"]:
                grad_avg = state["grad_avg"].data
                lerp_(grad_avg, grad, 1 - alpha, scratch)
                xp.multiply(grad_avg, grad_avg, out=scratch)
                xp.subtract(square_avg, scratch, out=avg)
                xp.sqrt(avg, out=avg)
            else:
                xp.sqrt(square_avg, out=avg)
            xp.add(avg, group["eps"], out=avg)

            if momentum > 0:
                buf = state["momentum_buffer"].data
                xp.multiply(buf, momentum, out=buf)
                xp.divide(grad, avg, out=scratch)
                xp.add(buf, scratch, out=buf)
                xp.multiply(buf, -lr, out=scratch)
            else:
                xp.multiply(grad, -lr, out=scratch)
                xp.divide(scratch, avg, out=scratch)
            xp.add(param, scratch, out=param)
