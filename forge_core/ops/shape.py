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
    """``a[index]``, or ``a[index][then]`` for a basic ``index`` (a view) followed by an
    advanced one: the split that gives PyTorch's order of dims (``Tensor.__getitem__``)."""

    def forward(self, a: Array, index: Any, then: Any = None) -> Array:
        # The input's memory order, outermost dim first: the gradient is laid out the same way,
        # so the backward pass of the op that made ``a`` (a ReLU after a convolution, whose
        # output is a transposed view) combines arrays of one layout, several times faster.
        order = sorted(range(a.ndim), key=lambda dim: -abs(a.strides[dim]))
        self.saved = (a.shape, a.dtype, index, then, order)
        return a[index] if then is None else a[index][then]

    def backward(self, g: Array) -> Array:
        shape, dtype, index, then, order = self.saved
        grad = xp.zeros([shape[dim] for dim in order], dtype=dtype).transpose(xp.argsort(order))
        if then is not None:
            xp.add.at(grad[index], then, g)  # a view: adding to it adds to grad
        elif _is_basic(index):
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


def scatter_add_along(shape: tuple[int, ...], dim: int, index: Array, values: Array) -> Array:
    """Zeros of ``shape`` with ``values`` added at ``index`` along ``dim`` (other dims by
    position), repeats adding up: the gradient of ``gather``, as one ``bincount`` over flat
    positions."""
    strides = [int(xp.prod(shape[d + 1 :], dtype=xp.int64)) for d in range(len(shape))]
    flat = (index % shape[dim]) * strides[dim] if index.size else index
    for d, n in enumerate(index.shape):
        if d != dim:  # every other dim by position: a broadcast range, no full-size grid
            flat = flat + (xp.arange(n) * strides[d]).reshape((-1,) + (1,) * (len(shape) - d - 1))
    total = int(xp.prod(shape, dtype=xp.int64))
    summed = xp.bincount(flat.ravel(), weights=values.ravel(), minlength=total)
    return summed.astype(values.dtype, copy=False).reshape(shape)


def check_gather_index(shape: tuple[int, ...], dim: int, index: Array, what: str) -> None:
    """PyTorch's rules for a ``gather``/``scatter`` index: integers, the input's number of dims,
    no larger than the input in the other dims, and within range along ``dim``."""
    if index.dtype.kind not in "iu":
        raise TypeError(f"{what} index must be an integer (int64) tensor, not {index.dtype}")
    if index.ndim != len(shape):
        raise ValueError(
            f"{what} index has {index.ndim} dims, the input {len(shape)}; they must match"
        )
    if any(i > n for d, (i, n) in enumerate(zip(index.shape, shape, strict=True)) if d != dim):
        raise ValueError(
            f"{what} index shape {index.shape} is larger than input shape {shape} outside dim {dim}"
        )
    if index.size and (index.min() < -shape[dim] or index.max() >= shape[dim]):
        raise IndexError(f"{what} index out of range for size {shape[dim]} of dim {dim}")


def _leading(a: Array, shape: tuple[int, ...], dim: int) -> Array:
    """The part of ``a`` that an index of ``shape`` covers outside ``dim``."""
    return a[tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(shape))]


class Gather(Function):
    """``out[i][j] = a[index[i][j]][j]`` along ``dim`` (for ``dim=0``); ``index`` may be
    smaller than ``a`` in the other dims."""

    def forward(self, a: Array, dim: int, index: Array) -> Array:
        check_gather_index(a.shape, dim, index, "gather")
        self.saved = (a.shape, dim, index)
        return xp.take_along_axis(_leading(a, index.shape, dim), index, axis=dim)

    def backward(self, g: Array) -> Array:
        shape, dim, index = self.saved
        return scatter_add_along(shape, dim, index, g)


class Scatter(Function):
    """A copy of ``a`` with ``src`` (or one ``value``) written at ``index`` along ``dim``, or
    added there with ``add=True`` (``scatter_add``). Written places take no gradient from
    ``a``; ``src`` gets the gradient of the places it went to."""

    def forward(
        self, a: Array, *src: Array, dim: int, index: Array, add: bool, value: Any = None
    ) -> Array:
        check_gather_index(a.shape, dim, index, "scatter")
        out = a.copy()
        if src:
            (values,) = src
            if values.ndim != index.ndim or any(
                i > n for i, n in zip(index.shape, values.shape, strict=True)
            ):
                raise ValueError(
                    f"scatter src shape {values.shape} is smaller than index shape {index.shape}"
                )
            values = values[tuple(slice(0, n) for n in index.shape)].astype(a.dtype, copy=False)
        else:
            values = xp.full(index.shape, value, dtype=a.dtype)
        target = _leading(out, index.shape, dim)  # a view: writing to it writes to out
        if add:
            target += scatter_add_along(target.shape, dim, index, values)
        else:
            xp.put_along_axis(target, index, values, axis=dim)
        self.saved = (dim, index, add, src[0].shape if src else None)
        return out

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        dim, index, add, src_shape = self.saved
        grad_a = g
        if not add:
            grad_a = g.copy()
            xp.put_along_axis(_leading(grad_a, index.shape, dim), index, 0, axis=dim)
        if src_shape is None:
            return (grad_a,)
        picked = xp.take_along_axis(_leading(g, index.shape, dim), index, axis=dim)
        grad_src = xp.zeros(src_shape, dtype=g.dtype)
        grad_src[tuple(slice(0, n) for n in index.shape)] = picked
        return grad_a, grad_src


class IndexSelect(Function):
    """The entries ``index`` (a 1-D integer array, repeats allowed) of ``a`` along ``dim``."""

    def forward(self, a: Array, dim: int, index: Array) -> Array:
        self.saved = (a.shape, dim, index)
        return xp.take(a, index, axis=dim)

    def backward(self, g: Array) -> Array:
        shape, dim, index = self.saved
        grad = xp.zeros(shape, dtype=g.dtype)
        xp.add.at(xp.moveaxis(grad, dim, 0), index, xp.moveaxis(g, dim, 0))
        return grad


class Flip(Function):
    def forward(self, a: Array, dims: tuple[int, ...]) -> Array:
        self.saved = (dims,)
        return xp.flip(a, dims)

    def backward(self, g: Array) -> Array:
        return xp.flip(g, self.saved[0])


class Roll(Function):
    """Shift elements along ``dims`` by ``shifts``, wrapping around; ``dims=None`` rolls the
    flattened tensor."""

    def forward(self, a: Array, shifts: tuple[int, ...], dims: tuple[int, ...] | None) -> Array:
        self.saved = (shifts, dims)
        return xp.roll(a, shifts[0] if dims is None else shifts, dims)

    def backward(self, g: Array) -> Array:
        shifts, dims = self.saved
        back = tuple(-s for s in shifts)
        return xp.roll(g, back[0] if dims is None else back, dims)


class Tile(Function):
    """``a`` repeated ``reps[i]`` times along each dim (``reps`` at least as long as ``a.shape``,
    leading reps adding dims): PyTorch's ``repeat``, and ``tile`` once its reps are padded."""

    def forward(self, a: Array, reps: tuple[int, ...]) -> Array:
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        self.saved = (a.shape, shape, reps)
        return xp.tile(a.reshape(shape), reps)

    def backward(self, g: Array) -> Array:
        original, shape, reps = self.saved
        # each output dim r * n splits into (r, n); summing over the r axes folds the copies
        split = tuple(x for pair in zip(reps, shape, strict=True) for x in pair)
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(original)


class Triangle(Function):
    """``tril`` (``upper=False``) or ``triu`` of the last two dims, from diagonal ``k``."""

    def forward(self, a: Array, k: int, upper: bool) -> Array:
        keep = (xp.triu if upper else xp.tril)(xp.ones(a.shape[-2:], dtype=bool), k)
        self.saved = (keep,)
        return xp.where(keep, a, xp.zeros((), dtype=a.dtype))

    def backward(self, g: Array) -> Array:
        return xp.where(self.saved[0], g, xp.zeros((), dtype=g.dtype))


class Unbind(Function):
    """Every slice of ``a`` along ``dim``, as separate outputs; backward stacks them again."""

    def forward(self, a: Array, dim: int) -> tuple[Array, ...]:
        self.saved = (dim,)
        return tuple(xp.moveaxis(a, dim, 0))

    def backward(self, *grads: Array) -> Array:
        return xp.stack(grads, axis=self.saved[0])


def _einsum_subscripts(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """The equation's input and output subscripts, with any ``...`` spelled out as letters that
    the equation does not use, and the implicit output (``'ij,jk'``) made explicit."""
    equation = equation.replace(" ", "")
    inputs_part, arrow, output = equation.partition("->")
    inputs = inputs_part.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(
            f"einsum equation {equation!r} has {len(inputs)} operands, got {len(shapes)}"
        )
    spare = iter(
        c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in equation
    )
    ellipsis_ndim = max(
        (len(s) - len(t) + 3 for t, s in zip(inputs, shapes, strict=True) if "..." in t), default=0
    )
    letters = "".join(next(spare) for _ in range(ellipsis_ndim))
    expanded = []
    for term, shape in zip(inputs, shapes, strict=True):
        if "..." in term:
            fill = len(shape) - (len(term) - 3)
            term = term.replace("...", letters[ellipsis_ndim - fill :])
        if len(term) != len(shape):
            raise ValueError(
                f"einsum subscripts {term!r} do not match an operand with {len(shape)} dims"
            )
        expanded.append(term)
    if arrow:
        output = output.replace("...", letters)
    else:
        counts = {c: "".join(expanded).count(c) for c in "".join(expanded)}
        output = letters + "".join(
            sorted(c for c, n in counts.items() if n == 1 and c not in letters)
        )
    return expanded, output


# Below this many operand elements NumPy's own einsum loop beats planning a BLAS contraction
# (bench/ops.py; 2 x 2048 elements: 21 us plain, 32 us planned; 2 x 131072: 14 ms, 1.8 ms)
_PLANNED_EINSUM_ELEMENTS = 8192


def _einsum(spec: str, *arrays: Array) -> Array:
    planned = len(arrays) > 2 or sum(a.size for a in arrays) >= _PLANNED_EINSUM_ELEMENTS
    return xp.asarray(xp.einsum(spec, *arrays, optimize=planned))


class Einsum(Function):
    """``einsum`` by NumPy's contraction-order optimiser. The gradient of each operand is the
    einsum of the output gradient with the other operands, spread back over the operand's
    repeated (diagonal) and summed-away subscripts."""

    def forward(self, *arrays: Array, equation: str) -> Array:
        inputs, output = _einsum_subscripts(equation, [a.shape for a in arrays])
        self.saved = (arrays, inputs, output)
        spec = ",".join(inputs) + "->" + output
        return _einsum(spec, *arrays)

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        arrays, inputs, output = self.saved
        grads: list[Array | None] = []
        for i, (term, array) in enumerate(zip(inputs, arrays, strict=True)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [t for j, t in enumerate(inputs) if j != i]
            elsewhere = set(output).union(*others)
            unique = "".join(dict.fromkeys(term))
            reached = "".join(c for c in unique if c in elsewhere)
            spec = ",".join([output, *others]) + "->" + reached
            operands = [g, *[a for j, a in enumerate(arrays) if j != i]]
            partial = _einsum(spec, *operands)
            sizes = {c: n for c, n in zip(term, array.shape, strict=True)}
            # subscripts summed away inside this operand alone get the gradient broadcast
            partial = partial.reshape([sizes[c] if c in reached else 1 for c in unique])
            partial = xp.broadcast_to(partial, [sizes[c] for c in unique])
            if unique == term:
                grads.append(xp.ascontiguousarray(partial, dtype=array.dtype))
                continue
            grad = xp.zeros(array.shape, dtype=array.dtype)
            xp.einsum(f"{term}->{unique}", grad)[...] = partial  # a writable diagonal view
            grads.append(grad)
        return tuple(grads)
