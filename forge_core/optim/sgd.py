"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay.

The arithmetic follows ``torch.optim.sgd._single_tensor_sgd``: the momentum buffer starts as a
copy of the first gradient (not zeros), later steps compute ``buf * momentum + (1 - dampening) *
grad``, and the parameter moves by ``-lr * direction``. Keeping PyTorch's order of operations is
what makes forge and PyTorch runs agree to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forge_core.backend import xp
from forge_core.optim.optimizer import Optimizer, ParamsT, check_option, effective_grad
from forge_core.tensor import Tensor


class SGD(Optimizer):
    """``p -= lr * g`` where ``g`` is the gradient, or its momentum average."""

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: Mapping[str, Any]) -> None:
        check_option("lr", options["lr"])
        check_option("momentum", options["momentum"])
        check_option("weight_decay", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening=0, got "
                f"momentum={options['momentum']} and dampening={options['dampening']}"
            )

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        workspace = self._workspace
        for p in group["params"]:
            if p.grad is None:
                continue
            param = p.data
            grad = effective_grad(
                param, p.grad.data, group["weight_decay"], group["maximize"], workspace
            )
            if momentum != 0:
                state = self.state[p]
                if "momentum_buffer" not in state:
                    buf = grad.copy()
                    state["momentum_buffer"] = Tensor(buf)
                else:
                    buf = state["momentum_buffer"].data
                    xp.multiply(buf, momentum, out=buf)
                    scratch = workspace.view(0, param)
                    xp.multiply(grad, 1 - group["dampening"], out=scratch)
                    xp.add(buf, scratch, out=buf)
                if group["nesterov"]:
                    scratch = workspace.view(0, param)
                    xp.multiply(buf, momentum, out=scratch)
                    grad = xp.add(grad, scratch, out=scratch)
                else:
                    grad = buf
            scratch = workspace.view(0, param)
            xp.multiply(grad, -lr, out=scratch)
            xp.add(param, scratch, out=param)
