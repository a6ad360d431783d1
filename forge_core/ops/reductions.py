"""Reductions over all elements or over chosen dimensions."""

from forge_core.autograd import Function
from forge_core.backend import Array, xp

Axes = tuple[int, ...] | None


def reduced_count(shape: tuple[int, ...], axes: Axes) -> int:
    """How many elements a reduction over ``axes`` (all when None) of ``shape`` combines."""
    if axes is None:
        return int(xp.prod(shape, dtype=xp.int64))
    return int(xp.prod([shape[i] for i in axes], dtype=xp.int64))


def _expand(g: Array, shape: tuple[int, ...], axes: Axes, keepdim: bool) -> Array:
    """Broadcast a reduced gradient back over the reduced axes of ``shape``."""
    if axes is None:
        return xp.broadcast_to(g.reshape((1,) * len(shape)) if g.ndim else g, shape)
    if not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    def forward(self, a: Array, axes: Axes, keepdim: bool) -> Array:
        self.saved = (a.shape, axes, keepdim)
        return xp.asarray(a.sum(axis=axes, keepdims=keepdim))

    def backward(self, g: Array) -> Array:
        shape, axes, keepdim = self.saved
        return _expand(g, shape, axes, keepdim)


class Mean(Function):
    def forward(self, a: Array, axes: Axes, keepdim: bool) -> Array:
        count = reduced_count(a.shape, axes)
        self.saved = (a.shape, axes, keepdim, count)
        return xp.asarray(a.mean(axis=axes, keepdims=keepdim))

    def backward(self, g: Array) -> Array:
        shape, axes, keepdim, count = self.saved
        return _expand(g / count, shape, axes, keepdim)


class Extreme(Function):
    """``max``/``min`` over all elements: ties share the gradient evenly, as in PyTorch."""

    def forward(self, a: Array, largest: bool) -> Array:
        out = xp.asarray(a.max() if largest else a.min())
        self.saved = (a, out)
        return out

    def backward(self, g: Array) -> Array:
        a, out = self.saved
        hits = a == out
        return g * hits / hits.sum(dtype=a.dtype)


class ExtremeAlong(Function):
    """``max``/``min`` along one dimension, returning values; the gradient goes to the index
    that was picked (the first one on ties), as in PyTorch."""

    def forward(self, a: Array, dim: int, keepdim: bool, largest: bool) -> Array:
        index = xp.expand_dims(a.argmax(axis=dim) if largest else a.argmin(axis=dim), dim)
        values = xp.take_along_axis(a, index, axis=dim)
        self.saved = (a.shape, a.dtype, index, dim)
        return values if keepdim else values.squeeze(dim)

    def backward(self, g: Array) -> Array:
        shape, dtype, index, dim = self.saved
        grad = xp.zeros(shape, dtype=dtype)
        xp.put_along_axis(grad, index, g.reshape(index.shape), axis=dim)
        return grad


class CumSum(Function):
    def forward(self, a: Array, dim: int) -> Array:
        self.saved = (dim,)
        return xp.cumsum(a, axis=dim)

    def backward(self, g: Array) -> Array:
        dim = self.saved[0]
        # each input feeds every later output: a cumulative sum taken from the end
        return xp.flip(xp.cumsum(xp.flip(g, dim), axis=dim), dim)


class CumProd(Function):
    """Running product along ``dim``. Where the input has no zeros the gradient is
    ``reverse_cumsum(g * out) / x``; the rows that hold a zero take the exact formula: before
    the first zero as above, at it the products that skip it, after it nothing."""

    def forward(self, a: Array, dim: int) -> Array:
        out = xp.cumprod(a, axis=dim)
        self.saved = (a, out, dim)
        return out

    def backward(self, g: Array) -> Array:
        a, out, dim = self.saved
        x = xp.moveaxis(a, dim, -1).reshape(-1, a.shape[dim])
        y = xp.moveaxis(out, dim, -1).reshape(x.shape)
        gy = xp.moveaxis(g, dim, -1).reshape(x.shape)
        zero = x == 0
        with xp.errstate(divide="ignore", invalid="ignore"):
            grad = xp.flip(xp.cumsum(xp.flip(gy * y, -1), axis=-1), -1) / x
        for row in xp.flatnonzero(zero.any(axis=-1)):
            first = int(xp.argmax(zero[row]))
            line = grad[row]
            line[first:] = 0
            before = 1.0 if first == 0 else y[row, first - 1]
            # d out[j] / d x[first] for j >= first: the product before it times those after it
            after = xp.cumprod(xp.concatenate(([1.0], x[row, first + 1 :])))
            line[first] = before * (gy[row, first:] * after).sum()
        moved = xp.moveaxis(g, dim, -1).shape
        return xp.moveaxis(grad.reshape(moved), -1, dim)


class Norm(Function):
    """The ``p``-norm over ``axes`` (all when None), ``(Σ |x|^p)^(1/p)``. Where the norm is 0
    its gradient is 0, as in PyTorch, so a zero vector gives no NaN."""

    def forward(self, a: Array, p: float, axes: Axes, keepdim: bool) -> Array:
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
        elif p == 1:
            out = xp.abs(a).sum(axis=axes, keepdims=True)
        else:
            out = (xp.abs(a) ** p).sum(axis=axes, keepdims=True) ** (1 / p)
        self.saved = (a, out, p)
        if keepdim:
            return out
        return out.reshape(()) if axes is None else out.squeeze(axes)

    def backward(self, g: Array) -> Array:
        a, out, p = self.saved
        g = g.reshape(out.shape)  # the kept dims, whatever keepdim was
        if p == 1:
            return g * xp.sign(a)
        with xp.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scale = g / out
                grad = a * scale
            else:
                grad = xp.sign(a) * xp.abs(a) ** (p - 1) * (g / out ** (p - 1))
        return xp.where(out == 0, 0, grad).astype(a.dtype, copy=False)


class Var(Function):
    """Variance over ``axes`` with ``correction`` (1: Bessel's). One op rather than a mean, a
    difference and a sum: its gradient ``2 (x - mean) / (n - correction)`` leaves out the
    mean's own term, which is zero in exact arithmetic but in float32 is rounding noise as
    large as the gradient itself when the values sit far from 0 and close together."""

    def forward(self, a: Array, axes: Axes, correction: int, keepdim: bool) -> Array:
        divisor = max(reduced_count(a.shape, axes) - correction, 0)
        centred = a - a.mean(axis=axes, keepdims=True)
        with xp.errstate(divide="ignore", invalid="ignore"):
            out = (centred * centred).sum(axis=axes, keepdims=keepdim) / a.dtype.type(divisor)
        self.saved = (centred, axes, keepdim, divisor)
        return xp.asarray(out, dtype=a.dtype)

    def backward(self, g: Array) -> Array:
        centred, axes, keepdim, divisor = self.saved
        with xp.errstate(divide="ignore", invalid="ignore"):
            scale = _expand(g, centred.shape, axes, keepdim) * centred.dtype.type(
                2 / divisor if divisor else xp.inf
            )
        return scale * centred
