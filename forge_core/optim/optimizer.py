"""``Optimizer``: parameter groups, per-parameter state and checkpoints, shared by every optimizer.

The structure is PyTorch's, so that users keep their habits and a training loop can resume from a
checkpoint exactly: ``param_groups`` is a list of dicts holding ``'params'`` and that group's
options; ``state`` maps each parameter to its buffers; ``state_dict()`` names parameters by their
position across the groups, because the parameter objects of the resumed run are new ones.

Subclasses implement ``_step_group``, which updates ``param.data`` in place on arrays: the update
is no part of any graph, and in-place ufuncs with ``out=`` keep a step free of allocations.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from forge_core.autograd import enable_grad
from forge_core.backend import Array, xp
from forge_core.tensor import Tensor

_SET_ERROR = (
    "params must be an ordered collection (a list), not a set: a set's order changes between "
    "runs, so a checkpoint's state would not map back to the right parameters"
)

ParamsT: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]]


def check_option(name: str, value: float, *, low: float = 0.0, high: float | None = None) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``low <= value`` (and ``value < high``)."""
    if high is None:
        if not value >= low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    elif not low <= value < high:
        raise ValueError(f"{name} must be in [{low}, {high}), got {value}")


class Workspace:
    """Scratch arrays that a step reuses for its intermediate results.

    One buffer per (dtype, slot), grown to the largest parameter and viewed in each parameter's
    shape, so a step allocates nothing once warm and the scratch stays in cache between
    parameters. It is not optimizer state: nothing in it survives from one parameter to the next.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[Any, int], Array] = {}

    def view(self, slot: int, like: Array) -> Array:
        key = (like.dtype, slot)
        buffer = self._buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = xp.empty(like.size, dtype=like.dtype)
            self._buffers[key] = buffer
        return buffer[: like.size].reshape(like.shape)


def effective_grad(
    param: Array, grad: Array, weight_decay: float, maximize: bool, workspace: Workspace
) -> Array:
    """The gradient an update follows: negated to maximize, plus ``weight_decay * param``.

    Computed as PyTorch does (``-grad``, then ``grad + weight_decay * param``) into scratch slot
    2, never into ``grad`` itself: the autograd engine may share a gradient array between tensors.
    """
    if weight_decay != 0:
        decayed = workspace.view(2, param)
        xp.multiply(param, weight_decay, out=decayed)
        (xp.subtract if maximize else xp.add)(decayed, grad, out=decayed)
        return decayed
    if maximize:
        return xp.negative(grad, out=workspace.view(2, param))
    return grad


def lerp_(start: Array, end: Array, weight: float, scratch: Array) -> None:
    """``start += weight * (end - start)`` in place, as ``torch.lerp`` computes it.

    PyTorch switches formula at ``weight >= 0.5`` (``end - (end - start) * (1 - weight)``), which
    keeps the result exact at ``weight == 1``.
    """
    xp.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        xp.multiply(scratch, weight, out=scratch)
        xp.add(start, scratch, out=start)
    else:
        xp.multiply(scratch, 1 - weight, out=scratch)
        xp.subtract(end, scratch, out=start)


class Optimizer:
    """Base class of optimizers: holds parameter groups and state; subclasses do the update."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts, not a Tensor; "
                "pass model.parameters() or [tensor]"
            )
        if isinstance(params, set):
            raise TypeError(_SET_ERROR)
        self._check_options(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._workspace = Workspace()
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join([*lines, ")"])

    def _check_options(self, options: Mapping[str, Any]) -> None:
        """Raise a ``ValueError`` naming the first invalid option; subclasses add their rules."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the rest come from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, not {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a param group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_SET_ERROR)
        group["params"] = list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"an optimizer can only optimize Tensors, not {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaf it came from")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_options(group)
        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError("a parameter group lists the same parameter twice")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none``) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        Parameters whose ``.grad`` is None are skipped, and get no state, as in PyTorch.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _step_group")

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the state and options, with parameters named by position.

        Unlike PyTorch, which returns references, the buffers are copied: ``step`` updates
        them in place, so a reference would silently change after the snapshot was taken.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore options and state saved by ``state_dict()`` for the same parameter layout.

        Buffers are copied and cast to their parameter's dtype, so the loaded optimizer never
        shares memory with ``state_dict``. Anything with ``__array__`` is accepted as a buffer,
        so a PyTorch optimizer's ``state_dict()`` loads too.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"parameter group {i} has {len(group['params'])} parameters, "
                    f"the state dict's has {len(saved['params'])}"
                )
        by_index = {
            index: p
            for group, saved in zip(self.param_groups, saved_groups, strict=True)
            for index, p in zip(saved["params"], group["params"], strict=True)
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            param = by_index.get(int(index))
            if param is None:
                raise ValueError(f"the state dict has state for unknown parameter {index}")
            state[param] = {k: _restore_value(k, v, param) for k, v in saved_state.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            # options missing from an older checkpoint fall back to this optimizer's defaults
            options = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            restored = {**self.defaults, **options, "params": group["params"]}
            self._check_options(restored)
            groups.append(restored)
        self.param_groups = groups
        self.state = state


def _copy_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor(value.data.copy())
    return copy.deepcopy(value)


def _restore_value(key: str, value: Any, param: Tensor) -> Any:
    if key == "step":
        return int(value)
    if isinstance(value, Tensor) or hasattr(value, "__array__"):
        data = value.data if isinstance(value, Tensor) else xp.asarray(value)
        if data.shape != param.shape:
            raise ValueError(
                f"state {key!r} has shape {data.shape}, its parameter has shape {param.shape}"
            )
        return Tensor(xp.array(data, dtype=param.dtype, copy=True))
    return copy.deepcopy(value)
