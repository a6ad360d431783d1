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


def _dim(dim: int, ndim: int) -> int:
    """One dimension, negative ones counted from the end, checked against ``ndim``."""
    (d,) = _dims(dim, ndim) or (0,)
    return d


def _reduction_args(dim: Any, keepdim: bool, axis: Any, keepdims: bool | None) -> tuple[Any, bool]:
    """``dim`` and ``keepdim`` from either PyTorch's or NumPy's spelling."""
    if axis is not None:
        if dim is not None:
            raise TypeError("give dim or axis, not both")
        dim = axis
    return dim, keepdim if keepdims is None else keepdims


def _index(index: Any) -> Any:
    """Turn tensors inside an index into arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return xp.asarray(index)
    return index


def _is_integer(entry: Any) -> bool:
    """An index entry that picks one position: an int, or a 0-d integer tensor or array,
    which PyTorch reads as an int."""
    if isinstance(entry, builtins.bool):
        return False
    if isinstance(entry, builtins.int | xp.integer):
        return True
    return isinstance(entry, xp.ndarray) and entry.ndim == 0 and entry.dtype.kind in "iu"


def _is_advanced(entry: Any) -> bool:
    arrays = xp.ndarray | list | builtins.bool | xp.bool_
    return isinstance(entry, arrays) and not _is_integer(entry)


def _consumed(entries: tuple[Any, ...]) -> int:
    """How many of a tensor's dims an index uses, an Ellipsis aside."""
    count = 0
    for entry in entries:
        if entry is None or entry is Ellipsis or isinstance(entry, builtins.bool | xp.bool_):
            continue
        is_mask = isinstance(entry, xp.ndarray) and entry.dtype.kind == "b"
        count += entry.ndim if is_mask else 1
    return count


def torch_index(index: Any, ndim: int) -> tuple[Any, Any]:
    """An index as ``(basic, advanced)`` NumPy indices that together pick what PyTorch picks.

    NumPy counts an integer as an advanced index when arrays are present, so
    ``x[1, :, idx]`` puts the array's dim first; PyTorch applies integers (and 0-d integer
    tensors) first, as plain selections, and only then the index arrays, which sit in place
    when they are next to each other and go first otherwise. The first index does the
    integers, slices and None (a view); the second, None when nothing is left for it, does the
    arrays, over slices that keep every other dim. An Ellipsis that stands for no dims is
    dropped: NumPy would count it as a gap between index arrays, PyTorch does not."""
    entries = _index(index) if isinstance(index, tuple) else (_index(index),)
    if any(e is Ellipsis for e in entries) and _consumed(entries) >= ndim:
        entries = tuple(e for e in entries if e is not Ellipsis)
        index = entries
    if not (any(_is_advanced(e) for e in entries) and any(_is_integer(e) for e in entries)):
        return index if isinstance(index, tuple) else entries[0], None
    basic: list[Any] = []
    advanced: list[Any] = []
    for entry in entries:
        if _is_integer(entry):
            basic.append(builtins.int(entry))
        elif isinstance(entry, builtins.bool | xp.bool_):
            # True adds a dim of 1 that it then picks as an index array; False picks none of it
            basic.append(None)
            advanced.append(xp.zeros(1 if entry else 0, dtype=xp.int64))
        elif _is_advanced(entry):
            ndim = xp.ndim(entry) if xp.asarray(entry).dtype.kind == "b" else 1
            basic.extend([slice(None)] * builtins.max(ndim, 1))
            advanced.append(xp.asarray(entry) if isinstance(entry, list) else entry)
        else:
            basic.append(entry)
            advanced.append(Ellipsis if entry is Ellipsis else slice(None))
    return tuple(basic), tuple(advanced)


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
        basic, advanced = torch_index(index, self.ndim)
        values = value.data if isinstance(value, Tensor) else value
        if advanced is None:
            self.data[_index(basic)] = values
        else:
            self.data[basic][advanced] = values  # the basic index gives a view to write into

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

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Limit values to ``[min, max]``; each bound a number, a tensor that broadcasts against
        this one, or None. Where ``min > max`` the result is ``max``, as in PyTorch."""
        if min is None and max is None:
            raise ValueError("clamp needs min, max or both")
        if not isinstance(min, Tensor) and not isinstance(max, Tensor):
            return _ops.Clamp.apply(self, low=min, high=max)
        bounds = [self._operand(b) for b in (min, max) if b is not None]
        return _ops.ClampTensor.apply(
            self, *bounds, has_low=min is not None, has_high=max is not None
        )

    clip = clamp

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sin(self) -> Tensor:
        return _ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return _ops.Cos.apply(self)

    def tan(self) -> Tensor:
        return _ops.Tan.apply(self)

    def log2(self) -> Tensor:
        return _ops.Log2.apply(self._floating())

    def exp2(self) -> Tensor:
        return _ops.Exp2.apply(self._floating())

    def rsqrt(self) -> Tensor:
        return _ops.Rsqrt.apply(self._floating())

    def erf(self) -> Tensor:
        return _ops.Erf.apply(self._floating())

    def _floating(self) -> Tensor:
        """An integer tensor in the default float dtype, as PyTorch's float-only math does."""
        return self if self.data.dtype.kind == "f" else self.to(get_default_dtype())

    def _step(self, kind: str, decimals: builtins.int = 0) -> Tensor:
        if self.data.dtype.kind == "b" or (self.data.dtype.kind in "iu" and kind != "sign"):
            return self.clone()  # integers are already whole numbers
        return _ops.Step.apply(self, kind=kind, decimals=decimals)

    def floor(self) -> Tensor:
        return self._step("floor")

    def ceil(self) -> Tensor:
        return self._step("ceil")

    def trunc(self) -> Tensor:
        return self._step("trunc")

    def round(self, decimals: builtins.int = 0) -> Tensor:
        """Round halves to even, as PyTorch; ``decimals`` counts digits after the point."""
        return self._step("round", decimals)

    def sign(self) -> Tensor:
        return self._step("sign")

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
    # ``axis`` and ``keepdims`` are the NumPy spellings that PyTorch accepts as well
    def sum(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | Sequence[builtins.int] | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return _ops.Sum.apply(self, axes=_dims(dim, self.ndim), keepdim=keepdim)

    def mean(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | Sequence[builtins.int] | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
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

    def max(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Any:
        """The largest element, or ``(values, indices)`` along ``dim`` as in PyTorch."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return self._extreme(dim, keepdim, largest=True)

    def min(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Any:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        return self._extreme(dim, keepdim, largest=False)

    def argmax(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        out = (
            self.data.argmax(axis=dim, keepdims=keepdim) if dim is not None else self.data.argmax()
        )
        return Tensor._wrap(xp.asarray(out), False)

    def argmin(
        self,
        dim: builtins.int | None = None,
        keepdim: builtins.bool = False,
        *,
        axis: builtins.int | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        out = (
            self.data.argmin(axis=dim, keepdims=keepdim) if dim is not None else self.data.argmin()
        )
        return Tensor._wrap(xp.asarray(out), False)

    def norm(
        self,
        p: builtins.float = 2,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        keepdim: builtins.bool = False,
    ) -> Tensor:
        """The ``p``-norm (``p > 0``) over ``dim``, or over all elements."""
        if not isinstance(p, int | builtins.float) or p <= 0 or p == builtins.float("inf"):
            raise ValueError(f"norm order p must be a positive finite number, not {p}")
        return _ops.Norm.apply(self, p=p, axes=_dims(dim, self.ndim), keepdim=keepdim)

    def var(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        *,
        correction: builtins.int = 1,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
        axis: builtins.int | Sequence[builtins.int] | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        """Variance with Bessel's correction by default (``correction=1``), as in PyTorch."""
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
        if unbiased is not None:
            correction = int(unbiased)
        axes = _dims(dim, self.ndim)
        return _ops.Var.apply(self, axes=axes, correction=correction, keepdim=keepdim)

    def std(
        self,
        dim: builtins.int | Sequence[builtins.int] | None = None,
        *,
        correction: builtins.int = 1,
        unbiased: builtins.bool | None = None,
        keepdim: builtins.bool = False,
        axis: builtins.int | Sequence[builtins.int] | None = None,
        keepdims: builtins.bool | None = None,
    ) -> Tensor:
        dim, keepdim = _reduction_args(dim, keepdim, axis, keepdims)
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
        if self.ndim == 0:  # PyTorch accepts dim 0 or -1 of a 0-d tensor
            _dims(dim, 0)
            return self
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
        basic, advanced = torch_index(index, self.ndim)
        if advanced is None:
            return _ops.GetItem.apply(self, index=_index(basic))
        return _ops.GetItem.apply(self, index=basic, then=advanced)

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

    def unbind(self, dim: builtins.int = 0) -> tuple[Tensor, ...]:
        """Every slice along ``dim``, with that dim removed."""
        result: tuple[Tensor, ...] = _ops.Unbind.apply(self, dim=_dim(dim, self.ndim))
        return result

    def movedim(self, source: Any, destination: Any) -> Tensor:
        """Move the dims ``source`` to the places ``destination``, the rest keeping their order."""
        sources = (source,) if isinstance(source, int) else tuple(source)
        targets = (destination,) if isinstance(destination, int) else tuple(destination)
        if len(sources) != len(targets):
            raise ValueError(f"movedim: {len(sources)} source dims but {len(targets)} destinations")
        sources = tuple(_dim(d, self.ndim) for d in sources)
        targets = tuple(_dim(d, self.ndim) for d in targets)
        if len(set(sources)) != len(sources) or len(set(targets)) != len(targets):
            raise ValueError(f"movedim: repeated dims in {source} or {destination}")
        if not self.ndim:
            return self
        rest = iter(d for d in range(self.ndim) if d not in sources)
        placed = dict(zip(targets, sources, strict=True))
        return self.permute(*[placed[i] if i in placed else next(rest) for i in range(self.ndim)])

    moveaxis = movedim

    def flip(self, *dims: Any) -> Tensor:
        flat = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return _ops.Flip.apply(self, dims=tuple(_dim(d, self.ndim) for d in flat))

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shift along ``dims`` by ``shifts`` (ints or equal-length sequences), wrapping
        around; without ``dims``, roll the flattened tensor and restore its shape."""
        shift_list = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if dims is None:
            if len(shift_list) != 1:
                raise ValueError("roll without dims takes one shift")
            return _ops.Roll.apply(self, shifts=shift_list, dims=None)
        dim_list = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shift_list) != len(dim_list):
            raise ValueError(f"roll: {len(shift_list)} shifts but {len(dim_list)} dims")
        return _ops.Roll.apply(
            self, shifts=shift_list, dims=tuple(_dim(d, self.ndim) for d in dim_list)
        )

    def repeat(self, *sizes: Any) -> Tensor:
        """Copies along each dim, PyTorch's ``repeat`` (NumPy's ``tile``): ``sizes`` needs at
        least one entry per dim; extra leading ones add dims."""
        reps = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        if len(reps) < self.ndim:
            raise ValueError(
                f"repeat needs at least {self.ndim} sizes for a tensor with {self.ndim} dims, "
                f"got {len(reps)}"
            )
        return _ops.Tile.apply(self, reps=reps)

    def tile(self, *dims: Any) -> Tensor:
        """``repeat`` whose missing leading sizes count as 1."""
        reps = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        return self.repeat((1,) * (self.ndim - len(reps)) + reps)

    def tril(self, diagonal: builtins.int = 0) -> Tensor:
        """The lower triangle of the last two dims: zero above ``diagonal``."""
        if self.ndim < 2:
            raise ValueError(f"tril needs at least 2 dims, got shape {self.shape}")
        return _ops.Triangle.apply(self, k=diagonal, upper=False)

    def triu(self, diagonal: builtins.int = 0) -> Tensor:
        if self.ndim < 2:
            raise ValueError(f"triu needs at least 2 dims, got shape {self.shape}")
        return _ops.Triangle.apply(self, k=diagonal, upper=True)

    def gather(self, dim: builtins.int, index: Tensor) -> Tensor:
        return _ops.Gather.apply(self, dim=_dim(dim, self.ndim), index=_index(index))

    def scatter(
        self,
        dim: builtins.int,
        index: Tensor,
        src: Tensor | None = None,
        *,
        value: Scalar | None = None,
    ) -> Tensor:
        """A copy with ``src`` (or ``value``) written at ``index`` along ``dim``."""
        return self._scatter(dim, index, src, value, add=False)

    def scatter_add(self, dim: builtins.int, index: Tensor, src: Tensor) -> Tensor:
        """A copy with ``src`` added at ``index`` along ``dim``, repeats adding up."""
        return self._scatter(dim, index, src, None, add=True)

    def _scatter(
        self, dim: builtins.int, index: Tensor, src: Any, value: Any, add: builtins.bool
    ) -> Tensor:
        if (src is None) == (value is None):
            raise ValueError("scatter takes src or value, one of them")
        if src is not None and not isinstance(src, Tensor):
            src, value = None, src  # torch.scatter(x, dim, index, 0.5)
        sources = [src] if src is not None else []
        return _ops.Scatter.apply(
            self, *sources, dim=_dim(dim, self.ndim), index=_index(index), add=add, value=value
        )

    def index_select(self, dim: builtins.int, index: Tensor) -> Tensor:
        picks = _index(index)
        if picks.ndim > 1 or picks.dtype.kind not in "iu":
            raise ValueError(
                f"index_select index must be a 1-D integer tensor, not {picks.dtype} "
                f"of shape {picks.shape}"
            )
        return _ops.IndexSelect.apply(self, dim=_dim(dim, self.ndim), index=picks.reshape(-1))

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        """This tensor with ``value`` where the boolean ``mask`` (broadcast) is true."""
        condition = _index(mask)
        if condition.dtype.kind != "b":
            raise TypeError(f"masked_fill mask must be a boolean tensor, not {condition.dtype}")
        fill = self._operand(value)
        return _ops.Where.apply(fill, self, condition=condition)

    def multinomial(self, num_samples: builtins.int, replacement: builtins.bool = False) -> Tensor:
        """Category indices drawn from these non-negative weights; see ``fc.multinomial``."""
        from forge_core.creation import multinomial  # creation imports this module

        return multinomial(self, num_samples, replacement)

    def cumsum(self, dim: builtins.int) -> Tensor:
        if self.ndim == 0:  # a 0-d tensor is its own running sum
            return self.reshape(1).cumsum(0).reshape(())
        return _ops.CumSum.apply(self, dim=_dim(dim, self.ndim))

    def cumprod(self, dim: builtins.int) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1).cumprod(0).reshape(())
        return _ops.CumProd.apply(self, dim=_dim(dim, self.ndim))

    def argsort(
        self,
        dim: builtins.int = -1,
        descending: builtins.bool = False,
        stable: builtins.bool = False,
    ) -> Tensor:
        """Indices that sort along ``dim``; equal values keep their order."""
        axis = _dim(dim, self.ndim)
        keys = self.data
        if descending:
            keys = -keys.astype(xp.int64) if keys.dtype.kind in "bu" else -keys
        return Tensor._wrap(xp.argsort(keys, axis=axis, kind="stable").astype(xp.int64), False)

    def sort(
        self,
        dim: builtins.int = -1,
        descending: builtins.bool = False,
        stable: builtins.bool = False,
    ) -> ValuesIndices:
        """``(values, indices)`` sorted along ``dim``; the values carry the gradient."""
        indices = self.argsort(dim, descending)
        return ValuesIndices(self.gather(dim, indices) if self.ndim else self, indices)

    def topk(
        self,
        k: builtins.int,
        dim: builtins.int = -1,
        largest: builtins.bool = True,
        sorted: builtins.bool = True,
    ) -> ValuesIndices:
        """The ``k`` largest (or smallest) entries along ``dim`` and their indices, in order;
        among equal entries which ones are picked is unspecified, as in PyTorch."""
        axis = _dim(dim, self.ndim)
        length = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= length:
            raise ValueError(f"topk k={k} is out of range for size {length} of dim {dim}")
        if not self.ndim:
            return ValuesIndices(self, Tensor._wrap(xp.zeros((), dtype=xp.int64), False))
        keys = (
            self.data
            if not largest
            else -self.data.astype(xp.int64)
            if self.data.dtype.kind in "bu"
            else -self.data
        )
        if k < length:
            # the k best by a partition, then only those k sorted: O(n + k log k), not O(n log n)
            part = xp.take(xp.argpartition(keys, max(k - 1, 0), axis=axis), xp.arange(k), axis=axis)
            order = xp.argsort(xp.take_along_axis(keys, part, axis=axis), axis=axis, kind="stable")
            picked = xp.take_along_axis(part, order, axis=axis)
        else:
            picked = xp.argsort(keys, axis=axis, kind="stable")
        indices = Tensor._wrap(picked.astype(xp.int64), False)
        return ValuesIndices(self.gather(dim, indices), indices)


from forge_core import ops as _ops_package  # noqa: E402,F401
from forge_core.ops import registry as _ops  # noqa: E402
