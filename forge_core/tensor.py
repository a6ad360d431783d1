"""``Tensor``: an array with an optional gradient and a link to the op that made it.

The methods follow PyTorch's names and semantics so that users need no new habits; each
differentiable method is a thin call into one ``Function`` of ``forge_core.ops``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from forge_core import autograd
from forge_core.backend import Array, asnumpy, xp
from forge_core.dtypes import get_default_dtype

if TYPE_CHECKING:
    from forge_core.autograd import Function

Scalar = int | float | bool
TensorLike = "Tensor | Scalar | Array"


def _as_array(data: Any, dtype: Any = None) -> Array:
    if dtype is not None:
        return xp.asarray(data, dtype=dtype)
    if isinstance(data, xp.ndarray):
        return data
    if isinstance(data, xp.generic):  # a NumPy scalar keeps its dtype, as in torch.tensor
        return xp.asarray(data)
    array = xp.asarray(data)
    if array.dtype.kind == "f":
        array = array.astype(get_default_dtype())
    return array


def _dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dims")
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def _index(index: Any) -> Any:
    """Turn tensors inside an index into arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return xp.asarray(index)
    return index


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Operands of different dtypes, promoted where PyTorch's rules differ from NumPy's: a
    floating-point operand sets the dtype of an integer one (NumPy makes int64 with float32
    float64), and between two floating-point ones a 0-d tensor gives way to one with dims, as
    a Python number would."""
    a_float, b_float = a.data.dtype.kind == "f", b.data.dtype.kind == "f"
    if a_float and not b_float:
        return a, b.to(a.data.dtype)
    if b_float and not a_float:
        return a.to(b.data.dtype), b
    if a_float and b_float and (a.data.ndim == 0) != (b.data.ndim == 0):
        if a.data.ndim == 0:
            return a.to(b.data.dtype), b
        return a, b.to(a.data.dtype)
    return a, b


def _true_division(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Integer operands divide in the default float dtype, as in PyTorch (NumPy: float64)."""
    if a.data.dtype.kind in "biu" and b.data.dtype.kind in "biu":
        return a.to(get_default_dtype()), b.to(get_default_dtype())
    return a, b


class ValuesIndices(NamedTuple):
    values: Tensor
    indices: Tensor


class Tensor:
    """An n-dimensional array that can record the ops applied to it for ``backward()``."""

    __slots__ = ("__weakref__", "_ctx", "_out_idx", "data", "grad", "requires_grad")
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: Array = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, not {self.dtype}")
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._out_idx = 0

    @classmethod
    def _wrap(cls, data: Array, requires_grad: bool) -> Tensor:
        t = object.__new__(cls)
        # NumPy answers 0-d arithmetic and full integer indexing with a scalar, not an array
        t.data = data if isinstance(data, xp.ndarray) else xp.asarray(data)
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._out_idx = 0
        return t

    # ----- facts -----
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    @property
    def device(self) -> str:
        return "cpu"

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = xp.array2string(asnumpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != get_default_dtype() and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    # ----- leaving the graph -----
    def numpy(self) -> Array:
        if self.requires_grad:
            raise RuntimeError("call .detach().numpy() on a tensor that requires grad")
        return asnumpy(self.data)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, not shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        return Tensor._wrap(self.data, False)

    def clone(self) -> Tensor:
        return self * 1 if self.requires_grad else Tensor._wrap(self.data.copy(), False)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ is only for leaf tensors; use .detach() first")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, not {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient: Tensor | Array | None = None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward() of a tensor that does not require grad: no input of the computation "
                "had requires_grad=True, or it was computed under no_grad(). Give the tensors to "
                "train requires_grad=True (nn.Parameter does) and compute the loss outside "
                "no_grad(); the data itself needs no gradient."
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar, not shape {self.shape}"
                )
            grad = xp.ones(self.shape, dtype=self.dtype)
        else:
            grad = _as_array(gradient.data if isinstance(gradient, Tensor) else gradient)
            grad = grad.astype(self.dtype, copy=False)
            if grad.shape != self.shape:
                raise ValueError(f"gradient shape {grad.shape} != tensor shape {self.shape}")
        autograd.backward(self, grad, retain_graph=retain_graph)

    # ----- dtype -----
    def to(self, dtype: Any) -> Tensor:
        dtype = xp.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind != "f":  # integer and boolean tensors have no gradient
            return Tensor._wrap(self.data.astype(dtype), False)
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.to(xp.float32)

    def double(self) -> Tensor:
        return self.to(xp.float64)

    def long(self) -> Tensor:
        return Tensor._wrap(self.data.astype(xp.int64), False)

    def int(self) -> Tensor:
        return Tensor._wrap(self.data.astype(xp.int32), False)

    def bool(self) -> Tensor:
        return Tensor._wrap(self.data.astype(bool), False)

    # ----- in-place (outside the graph) -----
    def _check_inplace(self) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                "in-place change of a tensor that requires grad; wrap it in no_grad()"
            )

    def zero_(self) -> Tensor:
        self._check_inplace()
        self.data[...] = 0
        return self

    def fill_(self, value: Scalar) -> Tensor:
        self._check_inplace()
        self.data[...] = value
        return self

    def copy_(self, source: Tensor | Array) -> Tensor:
        self._check_inplace()
        self.data[...] = source.data if isinstance(source, Tensor) else source
        return self

    def __setitem__(self, index: Any, value: Tensor | Array | Scalar) -> None:
        if self._ctx is not None:
            raise RuntimeError(
                "item assignment on a tensor computed by an op is not differentiable; build the "
                "value with where() or cat(), or assign into .detach().clone()"
            )
        self._check_inplace()
        self.data[_index(index)] = value.data if isinstance(value, Tensor) else value

    # ----- arithmetic -----
    def _operand(self, other: Any) -> Tensor:
        return self._pair(other)[1]

    def _pair(self, other: Any) -> tuple[Tensor, Tensor]:
        """``self`` and ``other`` ready for a binary op, with PyTorch's promotion where NumPy's
        differs. A Python number takes the tensor's dtype unless that would change its value:
        a float makes an integer tensor floating-point, an int makes a boolean tensor int64."""
        if isinstance(other, Tensor):
            if other.data.dtype is self.data.dtype:
                return self, other
            return _promote(self, other)
        if isinstance(other, xp.ndarray):
            return _promote(self, Tensor._wrap(other, False))
        dtype = self.data.dtype
        if dtype.kind != "f":
            if isinstance(other, builtins.float):
                dtype = get_default_dtype()
                return self.to(dtype), Tensor._wrap(xp.asarray(other, dtype=dtype), False)
            if dtype.kind == "b" and not isinstance(other, builtins.bool):
                dtype = xp.dtype(xp.int64)
        return self, Tensor._wrap(xp.asarray(other, dtype=dtype), False)

    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(*self._pair(other))

    def __radd__(self, other: Any) -> Tensor:
        a, b = self._pair(other)
        return _ops.Add.apply(b, a)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(*self._pair(other))

    def __rsub__(self, other: Any) -> Tensor:
        a, b = self._pair(other)
        return _ops.Sub.apply(b, a)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(*self._pair(other))

    def __rmul__(self, other: Any) -> Tensor:
        a, b = self._pair(other)
        return _ops.Mul.apply(b, a)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(*_true_division(*self._pair(other)))

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = _true_division(*self._pair(other))
        return _ops.Div.apply(b, a)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, int | float):
            base = self
            if isinstance(exponent, builtins.float) and self.data.dtype.kind != "f":
                base = self.to(get_default_dtype())
            return _ops.PowScalar.apply(base, exponent=exponent)
        return _ops.Pow.apply(*self._pair(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        exponent, base = self._pair(base)
        return _ops.Pow.apply(base, exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(*self._pair(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = self._pair(other)
        return _ops.MatMul.apply(b, a)

    def matmul(self, other: Tensor) -> Tensor:
        return self @ other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    # comparisons give boolean tensors outside the graph
    def _compare(self, other: Any, op: Any) -> Tensor:
        value = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(op(self.data, value), False)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, xp.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, xp.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, xp.not_equal)

    # ----- elementwise math -----
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return _ops.Abs.apply(self)

    def clamp(self, min: builtins.float | None = None, max: builtins.float | None = None) -> Tensor:
        if min is None and max is None:
            raise ValueError("clamp needs min, max or both")
        return _ops.Clamp.apply(self, low=min, high=max)

    clip = clamp

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return _ops.Relu.apply(self)

    def leaky_relu(self, negative_slope: builtins.float = 0.01) -> Tensor:
        return _ops.LeakyRelu.apply(self, negative_slope=negative_slope)

    def gelu(self, approximate: str = "none") -> Tensor:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu approximate must be 'none' or 'tanh', not {approximate!r}")
        return _ops.Gelu.apply(self, approximate=approximate)

    def softmax(self, dim: builtins.int) -> Tensor:
        return _ops.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim: builtins.int) -> Tensor:
        return _ops.LogSoftmax.apply(self, dim=dim)

    # ----- reductions -----
    def sum(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        keepdim: builtins.bool = False,
    ) -> Tensor:
        return _ops.Sum.apply(self, axes=_dims(dim, self.ndim), keepdim=keepdim)

    def mean(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        keepdim: builtins.bool = False,
    ) -> Tensor:
        return _ops.Mean.apply(self, axes=_dims(dim, self.ndim), keepdim=keepdim)

    def _extreme(
        self, dim: builtins.int | None, keepdim: builtins.bool, largest: builtins.bool
    ) -> Any:
        if dim is None:
            return _ops.Extreme.apply(self, largest=largest)
        (axis,) = _dims(dim, self.ndim) or (0,)
        values = _ops.ExtremeAlong.apply(self, dim=axis, keepdim=keepdim, largest=largest)
        picked = self.data.argmax(axis=axis) if largest else self.data.argmin(axis=axis)
        if keepdim:
            picked = xp.expand_dims(picked, axis)
        return ValuesIndices(values, Tensor._wrap(picked, False))

    def max(self, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Any:
        """The largest element, or ``(values, indices)`` along ``dim`` as in PyTorch."""
        return self._extreme(dim, keepdim, largest=True)

    def min(self, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Any:
        return self._extreme(dim, keepdim, largest=False)

    def argmax(self, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Tensor:
        out = (
            self.data.argmax(axis=dim, keepdims=keepdim) if dim is not None else self.data.argmax()
        )
        return Tensor._wrap(xp.asarray(out), False)

    def argmin(self, dim: builtins.int | None = None, keepdim: builtins.bool = False) -> Tensor:
        out = (
            self.data.argmin(axis=dim, keepdims=keepdim) if dim is not None else self.data.argmin()
        )
        return Tensor._wrap(xp.asarray(out), False)

    def var(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        *,
        correction: builtins.int = 1,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
    ) -> Tensor:
        """Variance with Bessel's correction by default (``correction=1``), as in PyTorch."""
        if unbiased is not None:
            correction = int(unbiased)
        axes = _dims(dim, self.ndim)
        count = reduced_count(self.shape, axes)
        centred = self - self.mean(dim=axes, keepdim=True)
        return (centred * centred).sum(dim=axes, keepdim=keepdim) / max(count - correction, 0)

    def std(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        *,
        correction: builtins.int = 1,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
    ) -> Tensor:
        return self.var(dim, correction=correction, unbiased=unbiased, keepdim=keepdim).sqrt()

    # ----- shape -----
    def reshape(self, *shape: Any) -> Tensor:
        target = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return _ops.Reshape.apply(self, shape=target)

    view = reshape

    def flatten(self, start_dim: builtins.int = 0, end_dim: builtins.int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1 :])

    def permute(self, *dims: Any) -> Tensor:
        order = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        if sorted(d % self.ndim for d in order) != list(range(self.ndim)):
            raise ValueError(f"permute dims {order} do not match a tensor with {self.ndim} dims")
        return _ops.Permute.apply(self, dims=tuple(d % self.ndim for d in order))

    def transpose(self, dim0: builtins.int, dim1: builtins.int) -> Tensor:
        order = list(range(self.ndim))
        order[dim0], order[dim1] = order[dim1], order[dim0]
        return _ops.Permute.apply(self, dims=tuple(order))

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def squeeze(self, dim: builtins.int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        if self.shape[dim] != 1:
            return self
        shape = list(self.shape)
        del shape[dim]
        return self.reshape(tuple(shape))

    def unsqueeze(self, dim: builtins.int) -> Tensor:
        shape = list(self.shape)
        shape.insert(dim % (self.ndim + 1), 1)
        return self.reshape(tuple(shape))

    def expand(self, *shape: Any) -> Tensor:
        target = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        lead = len(target) - self.ndim
        if -1 in target[: max(lead, 0)]:
            raise ValueError(f"expand{target}: -1 keeps a dim, so it cannot be a new leading dim")
        full = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(target))
        return _ops.Expand.apply(self, shape=full)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_index(index))

    def split(
        self, split_size: builtins.int | Sequence[builtins.int], dim: builtins.int = 0
    ) -> tuple[Tensor, ...]:
        length = self.shape[dim]
        if isinstance(split_size, int):
            sizes = [min(split_size, length - s) for s in range(0, length, split_size)]
        else:
            sizes = list(split_size)
            if sum(sizes) != length:
                raise ValueError(f"split sizes {sizes} do not add up to {length} along dim {dim}")
        pieces, start = [], 0
        prefix = (slice(None),) * (dim % self.ndim)
        for n in sizes:
            pieces.append(self[(*prefix, slice(start, start + n))])
            start += n
        return tuple(pieces)

    def chunk(self, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        size = -(-self.shape[dim] // chunks)
        return self.split(size, dim)


from forge_core import ops as _ops_package  # noqa: E402,F401
from forge_core.ops import registry as _ops  # noqa: E402
from forge_core.ops.reductions import reduced_count  # noqa: E402
