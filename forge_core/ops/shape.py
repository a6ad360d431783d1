"""Ops that move elements without changing them: views, indexing, joining."""

from typing import Any

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops._broadcast import unbroadcast


class Reshape(Function):
    def forward(self, a: Array, shape: tuple[int, ...]) -> Array:
        self.saved = (a.shape,)
        return a.reshape(shape)

    def backward(self, g: Array) -> Array:
        return g.reshape(self.saved[0])


class Permute(Function):
    def forward(self, a: Array, dims: tuple[int, ...]) -> Array:
        self.saved = (dims,)
        return a.transpose(dims)

    def backward(self, g: Array) -> Array:
        return g.transpose(xp.argsort(self.saved[0]))


class Expand(Function):
    def forward(self, a: Array, shape: tuple[int, ...]) -> Array:
        self.saved = (a.shape,)
        return xp.broadcast_to(a, shape)

    def backward(self, g: Array) -> Array:
        return unbroadcast(g, self.saved[0])


def _is_basic(index: Any) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (no element repeats)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, int | slice) for p in parts)


class GetItem(Function):
    def forward(self, a: Array, index: Any) -> Array:
        # The input's memory order, outermost dim first: the gradient is laid out the same way,
        # so the backward pass of the op that made ``a`` (a ReLU after a convolution, whose
        # output is a transposed view) combines arrays of one layout, several times faster.
        order = sorted(range(a.ndim), key=lambda dim: -abs(a.strides[dim]))
        self.saved = (a.shape, a.dtype, index, order)
        return a[index]

    def backward(self, g: Array) -> Array:
        shape, dtype, index, order = self.saved
        grad = xp.zeros([shape[dim] for dim in order], dtype=dtype).transpose(xp.argsort(order))
        if _is_basic(index):
            grad[index] = g
        else:
            xp.add.at(grad, index, g)
        return grad


class Cat(Function):
    def forward(self, *arrays: Array, dim: int) -> Array:
        self.saved = (xp.cumsum([a.shape[dim] for a in arrays])[:-1], dim)
        return xp.concatenate(arrays, axis=dim)

    def backward(self, g: Array) -> tuple[Array, ...]:
        bounds, dim = self.saved
        return tuple(xp.split(g, bounds, axis=dim))


class Stack(Function):
    def forward(self, *arrays: Array, dim: int) -> Array:
        self.saved = (dim, len(arrays))
        return xp.stack(arrays, axis=dim)

    def backward(self, g: Array) -> tuple[Array, ...]:
        dim, count = self.saved
        return tuple(xp.take(g, i, axis=dim) for i in range(count))
