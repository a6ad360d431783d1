"""Free-function forms of ``Tensor`` methods, as PyTorch spells them: ``torch.sin(x)`` for
``x.sin()``. Each forwards to the method, so the two spellings cannot drift apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forge_core.ops import registry as ops
from forge_core.tensor import Tensor, ValuesIndices


def sin(input: Tensor) -> Tensor:
    return input.sin()


def cos(input: Tensor) -> Tensor:
    return input.cos()


def tan(input: Tensor) -> Tensor:
    return input.tan()


def floor(input: Tensor) -> Tensor:
    return input.floor()


def ceil(input: Tensor) -> Tensor:
    return input.ceil()


def trunc(input: Tensor) -> Tensor:
    return input.trunc()


def round(input: Tensor, decimals: int = 0) -> Tensor:
    return input.round(decimals)


def sign(input: Tensor) -> Tensor:
    return input.sign()


def log2(input: Tensor) -> Tensor:
    return input.log2()


def exp2(input: Tensor) -> Tensor:
    return input.exp2()


def rsqrt(input: Tensor) -> Tensor:
    return input.rsqrt()


def erf(input: Tensor) -> Tensor:
    return input.erf()


def exp(input: Tensor) -> Tensor:
    return input.exp()


def log(input: Tensor) -> Tensor:
    return input.log()


def sqrt(input: Tensor) -> Tensor:
    return input.sqrt()


def abs(input: Tensor) -> Tensor:
    return input.abs()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    return input.clamp(min, max)


clip = clamp


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    return input.sum(dim, keepdim, **aliases)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    return input.mean(dim, keepdim, **aliases)


def cumsum(input: Tensor, dim: int) -> Tensor:
    return input.cumsum(dim)


def cumprod(input: Tensor, dim: int) -> Tensor:
    return input.cumprod(dim)


def einsum(equation: str, *operands: Any) -> Tensor:
    """``einsum('ij,jk->ik', a, b)``; the operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands or not all(isinstance(t, Tensor) for t in operands):
        raise TypeError("einsum operands must be tensors")
    result: Tensor = ops.Einsum.apply(*operands, equation=equation)
    return result


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    return input.tril(diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    return input.triu(diagonal)


def flip(input: Tensor, dims: Sequence[int]) -> Tensor:
    return input.flip(dims)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    return input.roll(shifts, dims)


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    return input.tile(dims)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    return input.movedim(source, destination)


moveaxis = movedim


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    return input.gather(dim, index)


def scatter(
    input: Tensor, dim: int, index: Tensor, src: Tensor | None = None, *, value: Any = None
) -> Tensor:
    return input.scatter(dim, index, src, value=value)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return input.scatter_add(dim, index, src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    return input.index_select(dim, index)


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    return input.masked_fill(mask, value)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tensor.split(split_size_or_sections, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return input.chunk(chunks, dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    return input.unbind(dim)


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
) -> ValuesIndices:
    return input.sort(dim, descending, stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return input.argsort(dim, descending, stable)


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    return input.topk(k, dim, largest, sorted)
