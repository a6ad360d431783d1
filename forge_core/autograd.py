"""Reverse-mode automatic differentiation: the ``Function`` base class and the backward pass.

Each differentiable op is one small ``Function`` subclass with a ``forward`` on arrays and a
``backward`` that maps output gradients to input gradients. ``Function.apply`` runs the forward
pass and, when grad mode is on and an input requires a gradient, records the call as a node of
the graph. ``backward`` walks that graph iteratively (an explicit stack, no recursion), so a
sequence unrolled over thousands of steps never meets Python's recursion limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from forge_core.backend import Array, xp

if TYPE_CHECKING:
    from forge_core.tensor import Tensor

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    enabled: bool = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class _SetGradEnabled:
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    def __init__(self, mode: bool) -> None:
        self.mode = mode
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        self.previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _grad_mode.enabled = self.previous.pop()

    def __call__(self, fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _SetGradEnabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def no_grad() -> _SetGradEnabled:
    """Disable graph recording, as ``with no_grad():`` or ``@no_grad()``."""
    return _SetGradEnabled(False)


def enable_grad() -> _SetGradEnabled:
    return _SetGradEnabled(True)


@contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    with _SetGradEnabled(mode):
        yield


class Function:
    """One differentiable op. Subclasses implement ``forward`` and ``backward`` on arrays.

    ``forward(*arrays, **options)`` returns an array, or a tuple of arrays for ops with several
    outputs; ``backward(*grads)`` returns one gradient per tensor input (``None`` where the input
    needs none). ``self.needs_input_grad`` says which inputs want a gradient and
    ``self.save_for_backward`` keeps what ``backward`` needs. ``backward`` must not modify the
    gradients it receives: they may be shared with other nodes.
    """

    __slots__ = ("_freed", "_out_grads", "_out_meta", "inputs", "needs_input_grad", "saved")

    differentiable: ClassVar[bool] = True

    def __init__(self) -> None:
        self.inputs: tuple[Tensor, ...] = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.saved: tuple[Any, ...] = ()
        self._out_grads: list[Array | None] | None = None
        self._out_meta: tuple[tuple[tuple[int, ...], Any], ...] = ()
        self._freed = False

    def save_for_backward(self, *values: Any) -> None:
        self.saved = values

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def backward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **options: Any) -> Any:
        """Run the op on tensors; return a tensor (or a tuple of tensors for several outputs)."""
        from forge_core.tensor import Tensor

        fn = cls()
        needs = tuple(t.requires_grad for t in inputs)
        record = _grad_mode.enabled and cls.differentiable and any(needs)
        fn.needs_input_grad = needs if record else (False,) * len(needs)
        try:
            out = fn.forward(*[t.data for t in inputs], **options)
        except (ValueError, TypeError, IndexError) as error:
            shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)
            raise type(error)(f"{cls.__name__}({shapes}): {error}") from error
        if isinstance(out, tuple):
            outputs = tuple(Tensor._wrap(o, record) for o in out)
            if record:
                fn.inputs = inputs
                fn._out_meta = tuple((o.shape, o.dtype) for o in out)
                for i, t in enumerate(outputs):
                    t._ctx = fn
                    t._out_idx = i
            return outputs
        result = Tensor._wrap(out, record)
        if record:
            fn.inputs = inputs
            fn._out_meta = ((out.shape, out.dtype),)
            result._ctx = fn
        return result


def _graph_order(root: Function) -> list[Function]:
    """Nodes reachable from ``root`` in post-order (every node after the nodes it consumes)."""
    order: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(root, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in fn.inputs:
            child = t._ctx
            if child is not None and id(child) not in visited:
                stack.append((child, False))
    return order


def backward(root: Tensor, grad: Array, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) * grad into the ``.grad`` of every leaf that requires it."""
    if root._ctx is None:
        if root.requires_grad:
            _accumulate_leaf(root, grad)
        return
    order = _graph_order(root._ctx)
    for fn in order:
        if fn._freed:
            raise RuntimeError(
                f"backward through {type(fn).__name__} a second time: its saved values were "
                "freed by the first backward; pass retain_graph=True to the first call"
            )
        fn._out_grads = [None] * len(fn._out_meta)
    root_grads = root._ctx._out_grads
    assert root_grads is not None
    root_grads[root._out_idx] = grad
    for fn in reversed(order):
        out_grads = fn._out_grads
        assert out_grads is not None
        fn._out_grads = None
        if all(g is None for g in out_grads):
            continue
        grads = [
            g if g is not None else xp.zeros(shape, dtype=dtype)
            for g, (shape, dtype) in zip(out_grads, fn._out_meta, strict=True)
        ]
        in_grads = fn.backward(*grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for t, g, need in zip(fn.inputs, in_grads, fn.needs_input_grad, strict=False):
            if not need or g is None:
                continue
            if g.shape != t.data.shape:
                raise RuntimeError(
                    f"{type(fn).__name__}.backward returned a gradient of shape {g.shape} "
                    f"for an input of shape {t.data.shape}"
                )
            child = t._ctx
            if child is None:
                _accumulate_leaf(t, g)
            else:
                pending = child._out_grads
                assert pending is not None
                previous = pending[t._out_idx]
                pending[t._out_idx] = g if previous is None else previous + g
        if not retain_graph:
            fn.saved = ()
            fn._freed = True


def _accumulate_leaf(leaf: Tensor, grad: Array) -> None:
    from forge_core.tensor import Tensor

    if leaf.grad is None:
        leaf.grad = Tensor(xp.array(grad, dtype=leaf.data.dtype, copy=True))
    else:
        leaf.grad.data += grad
