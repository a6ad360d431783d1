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
from typing import Any, ClassVar, TypeVar, overload

from forge_core.backend import Array, xp

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


@overload
def no_grad() -> _SetGradEnabled: ...
@overload
def no_grad(fn: F) -> F: ...
def no_grad(fn: F | None = None) -> _SetGradEnabled | F:
    """Disable graph recording: ``with no_grad():``, ``@no_grad()`` or ``@no_grad``."""
    mode = _SetGradEnabled(False)
    return mode if fn is None else mode(fn)


@overload
def enable_grad() -> _SetGradEnabled: ...
@overload
def enable_grad(fn: F) -> F: ...
def enable_grad(fn: F | None = None) -> _SetGradEnabled | F:
    """Record the graph even inside ``no_grad``; a context manager or a decorator."""
    mode = _SetGradEnabled(True)
    return mode if fn is None else mode(fn)


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
        fn = cls()
        needs = tuple([t.requires_grad for t in inputs])
        record = True in needs and _grad_mode.enabled and cls.differentiable
        fn.needs_input_grad = needs if record else (False,) * len(needs)
        try:
            out = fn.forward(*[t.data for t in inputs], **options)
        except (ValueError, TypeError, IndexError) as error:
            raise _in_context(error, cls, inputs) from error
        if type(out) is tuple:
            outputs = tuple([_wrap(o, record) for o in out])
            if record:
                fn.inputs = inputs
                fn._out_meta = tuple([(o.shape, o.dtype) for o in outputs])
                for i, t in enumerate(outputs):
                    t._ctx = fn
                    t._out_idx = i
            return outputs
        result = _wrap(out, record)
        if record:
            fn.inputs = inputs
            fn._out_meta = ((result.data.shape, result.data.dtype),)
            result._ctx = fn
        return result


def _in_context(error: Exception, op: type[Function], inputs: tuple[Tensor, ...]) -> Exception:
    """The same error, its message prefixed with the op and its inputs' shapes and dtypes."""
    shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)
    message = f"{op.__name__}({shapes}): {error}"
    try:
        return type(error)(message)
    except Exception:  # an exception class whose constructor wants more than a message
        base = next(b for b in (ValueError, TypeError, IndexError) if isinstance(error, b))
        return base(message)


def _graph_order(root: Function) -> list[Function]:
    """Nodes reachable from ``root`` in post-order (every node after the nodes it consumes),
    each given an empty slot per output for the gradients that will flow into it."""
    order: list[Function] = []
    seen = {root}
    stack = [(root, iter(root.inputs))]
    while stack:
        fn, children = stack[-1]
        for t in children:
            child = t._ctx
            if child is not None and child not in seen:
                seen.add(child)
                stack.append((child, iter(child.inputs)))
                break
        else:
            stack.pop()
            if fn._freed:
                raise RuntimeError(
                    f"backward through {type(fn).__name__} a second time: its saved values "
                    "were freed by the first backward; pass retain_graph=True to the first call"
                )
            fn._out_grads = [None] * len(fn._out_meta)
            order.append(fn)
    return order


def backward(root: Tensor, grad: Array, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) * grad into the ``.grad`` of every leaf that requires it."""
    root_fn = root._ctx
    if root_fn is None:
        if root.requires_grad:
            _accumulate_leaf(root, grad)
        return
    order = _graph_order(root_fn)
    root_grads = root_fn._out_grads
    assert root_grads is not None
    root_grads[root._out_idx] = grad
    for fn in reversed(order):
        out_grads = fn._out_grads
        assert out_grads is not None
        fn._out_grads = None
        in_grads: Any = None
        if len(out_grads) == 1:
            if out_grads[0] is not None:
                in_grads = fn.backward(out_grads[0])
        elif any(g is not None for g in out_grads):
            in_grads = fn.backward(
                *[
                    xp.zeros(shape, dtype=dtype) if g is None else g
                    for g, (shape, dtype) in zip(out_grads, fn._out_meta, strict=True)
                ]
            )
        if in_grads is not None:
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for t, g, need in zip(fn.inputs, in_grads, fn.needs_input_grad, strict=False):
                if g is None or not need:
                    continue
                data = t.data
                if g.shape != data.shape:
                    raise RuntimeError(
                        f"{type(fn).__name__}.backward returned a gradient of shape {g.shape} "
                        f"for an input of shape {data.shape}"
                    )
                if g.dtype is not data.dtype and g.dtype != data.dtype:
                    g = g.astype(data.dtype)  # a float32 input of a float64 result
                child = t._ctx
                if child is None:
                    _accumulate_leaf(t, g)
                else:
                    pending = child._out_grads
                    assert pending is not None
                    previous = pending[t._out_idx]
                    pending[t._out_idx] = g if previous is None else previous + g
        if not retain_graph:
            # drop what the node saved and its links to its inputs, so that a graph kept alive
            # by its output (a logged loss, say) no longer holds every intermediate array
            fn.saved = ()
            fn.inputs = ()
            fn._freed = True


def _accumulate_leaf(leaf: Tensor, grad: Array) -> None:
    if leaf.grad is None:
        leaf.grad = _wrap(xp.array(grad, dtype=leaf.data.dtype, copy=True), False)
    else:
        leaf.grad.data += grad


# tensor.py imports this module; importing Tensor last closes the cycle once both are defined
from forge_core.tensor import Tensor  # noqa: E402

_wrap = Tensor._wrap
