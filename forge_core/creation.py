"""Functions that make tensors, and the free-function forms of tensor ops."""

from collections.abc import Sequence
from typing import Any

from forge_core.backend import Array, xp
from forge_core.dtypes import get_default_dtype
from forge_core.ops import registry as ops
from forge_core.random import generator
from forge_core.tensor import Tensor, _as_array


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], int):
        return tuple(size[0])
    return tuple(size)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``; Python floats become the default dtype."""
    if isinstance(data, Tensor):
        data = data.data
    array = _as_array(data, dtype)
    if array is data:
        array = array.copy()
    return Tensor(array, requires_grad=requires_grad)


def from_numpy(array: Array) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype."""
    return Tensor(array)


def _filled(value: float, size: tuple[Any, ...], dtype: Any, requires_grad: bool) -> Tensor:
    array = xp.full(_shape(size), value, dtype=dtype or get_default_dtype())
    return Tensor(array, requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(0, size, dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(1, size, dtype, requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: Any = None) -> Tensor:
    """A tensor of ``fill_value``; its dtype follows the value (bool, int64 or the default float
    dtype) unless given, as in PyTorch."""
    if dtype is None and isinstance(fill_value, bool | int):
        dtype = xp.bool_ if isinstance(fill_value, bool) else xp.int64
    return _filled(fill_value, (tuple(size),), dtype, False)


def zeros_like(t: Tensor, dtype: Any = None) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype)


def ones_like(t: Tensor, dtype: Any = None) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """``start, start + step, ...`` below ``end``: int64 for integer arguments, else the default
    float dtype, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None and not all(isinstance(v, int) for v in (start, end, step)):
        dtype = get_default_dtype()
    return Tensor(xp.arange(start, end, step, dtype=dtype))


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    array = generator().standard_normal(_shape(size)).astype(dtype or get_default_dtype())
    return Tensor(array, requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    array = generator().random(_shape(size)).astype(dtype or get_default_dtype())
    return Tensor(array, requires_grad=requires_grad)


def randint(low: int, high: int, size: Sequence[int]) -> Tensor:
    return Tensor(generator().integers(low, high, size=tuple(size), dtype=xp.int64))


def randperm(n: int) -> Tensor:
    return Tensor(generator().permutation(n).astype(xp.int64))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return ops.Cat.apply(*tensors, dim=dim % max(tensors[0].ndim, 1))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    return ops.Stack.apply(*tensors, dim=dim % (tensors[0].ndim + 1))


def where(condition: Tensor | Array, a: Any, b: Any) -> Tensor:
    mask = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    dtype = like.dtype if like is not None else get_default_dtype()
    ta = a if isinstance(a, Tensor) else Tensor(xp.asarray(a, dtype=dtype))
    tb = b if isinstance(b, Tensor) else Tensor(xp.asarray(b, dtype=dtype))
    return ops.Where.apply(ta, tb, condition=mask.astype(bool, copy=False))


def maximum(a: Tensor, b: Tensor | float) -> Tensor:
    return ops.Maximum.apply(a, a._operand(b))


def minimum(a: Tensor, b: Tensor | float) -> Tensor:
    return ops.Minimum.apply(a, a._operand(b))


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return a @ b


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n`` by ``m`` identity (``m`` defaults to ``n``)."""
    return Tensor(xp.eye(n, m, dtype=dtype or get_default_dtype()), requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if steps < 0:
        raise ValueError(f"linspace steps must be non-negative, not {steps}")
    array = xp.linspace(start, end, steps, dtype=dtype or get_default_dtype())
    return Tensor(array, requires_grad=requires_grad)


def full_like(
    t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``t``'s shape and dtype (unless given) holding ``fill_value``."""
    return _filled(fill_value, (t.shape,), dtype or t.dtype, requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are whatever the memory held: fill it before reading it."""
    array = xp.empty(_shape(size), dtype=dtype or get_default_dtype())
    return Tensor(array, requires_grad=requires_grad)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """Draw ``num_samples`` category indices per row of the non-negative weights ``input``
    (``(C,)`` or ``(N, C)``). Without replacement this takes the top keys of
    ``log w + Gumbel noise``, which draws the same distribution as picking one at a time."""
    weights = input.data
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial input must be 1-D or 2-D, not shape {weights.shape}")
    rows = weights.reshape(-1, weights.shape[-1]).astype(xp.float64)
    if not xp.isfinite(rows).all() or (rows < 0).any():
        raise ValueError("multinomial weights must be finite and non-negative")
    totals = rows.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError("multinomial needs a positive weight in every row")
    if num_samples <= 0:
        raise ValueError(f"multinomial num_samples must be positive, not {num_samples}")
    rng = generator()
    if replacement:
        cdf = xp.cumsum(rows / totals, axis=1)
        draws = rng.random((rows.shape[0], num_samples))
        picks = (draws[:, :, None] >= cdf[:, None, :-1]).sum(axis=2)
    else:
        if num_samples > int((rows > 0).sum(axis=1).min()):
            raise ValueError(
                f"multinomial cannot draw {num_samples} samples without replacement from a row "
                "with fewer positive weights; pass replacement=True"
            )
        with xp.errstate(divide="ignore"):
            keys = xp.log(rows) + rng.gumbel(size=rows.shape)
        picks = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    shape = (num_samples,) if weights.ndim == 1 else (weights.shape[0], num_samples)
    return Tensor(picks.astype(xp.int64).reshape(shape))
