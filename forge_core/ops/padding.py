"""Padding as one op per mode: a constant border, or one made of the input's own values.

A constant pad copies the input into a filled array and its gradient is the matching slice of
the output gradient; a negative width crops, as in PyTorch. The other modes build the padded
array one dim at a time by indexing with ``source``'s positions (reflect, replicate, circular
differ only in those positions), and their gradient sums each output position back onto the
input position it came from, dim by dim in reverse.
"""

from __future__ import annotations

from collections.abc import Sequence

from forge_core.autograd import Function
from forge_core.backend import Array, xp

# (before, after) per padded dim, innermost dim last, as the op sees them.
Widths = tuple[tuple[int, int], ...]
MODES = ("constant", "reflect", "replicate", "circular")


def _overlap(size: int, before: int, after: int) -> tuple[slice, slice]:
    """Where the input along one dim lands in the output, and which part of it does:
    ``(input_slice, output_slice)``. A negative width cuts the input instead."""
    start, stop = max(0, -before), size - max(0, -after)
    return slice(start, stop), slice(max(0, before), max(0, before) + stop - start)


class ConstantPad(Function):
    """The last ``len(widths)`` dims padded with ``value`` (or cropped, for negative widths)."""

    def forward(self, x: Array, *, widths: Widths, value: float) -> Array:
        lead = x.ndim - len(widths)
        shape = list(x.shape)
        source, target = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for k, (before, after) in enumerate(widths):
            dim = lead + k
            shape[dim] = x.shape[dim] + before + after
            if shape[dim] < 0:
                raise ValueError(
                    f"pad: widths {(before, after)} crop dim {dim} of size {x.shape[dim]} "
                    "below zero"
                )
            source[dim], target[dim] = _overlap(x.shape[dim], before, after)
        # ``empty_like`` keeps the input's memory order: a convolution's output (CHWN memory,
        # see ``forge_core.ops.chwn``) padded for the next convolution needs no transposing copy.
        out = xp.empty_like(x, shape=shape)
        _fill_outside(out, target, value)
        out[tuple(target)] = x[tuple(source)]
        self.saved = (x.shape, tuple(source), tuple(target))
        return out

    def backward(self, g: Array) -> Array:
        shape, source, target = self.saved
        grad = xp.empty_like(g, shape=shape)
        _fill_outside(grad, source, 0.0)  # the cropped part, if any
        grad[source] = g[target]
        return grad


def _fill_outside(array: Array, inside: Sequence[slice], value: float) -> None:
    """Set every element of ``array`` outside the box ``inside`` (step-1 slices) to ``value``,
    writing each border once instead of filling the whole array first."""
    for dim, part in enumerate(inside):
        start, stop, _ = part.indices(array.shape[dim])
        for border in (slice(0, start), slice(stop, array.shape[dim])):
            if border.stop > border.start:
                index = [slice(None)] * array.ndim
                index[dim] = border
                array[tuple(index)] = value


def source_positions(size: int, before: int, after: int, mode: str) -> Array:
    """For each position along a padded dim, the input position its value comes from."""
    positions = xp.arange(-before, size + after)
    if mode == "reflect":
        period = 2 * (size - 1)
        folded = xp.abs(positions) % period if period else xp.zeros_like(positions)
        result: Array = xp.where(folded < size, folded, period - folded)
        return result
    if mode == "replicate":
        clipped: Array = xp.clip(positions, 0, size - 1)
        return clipped
    wrapped: Array = positions % size  # circular
    return wrapped


class CopyPad(Function):
    """The last ``len(widths)`` dims padded with the input's own values: mirrored without the
    edge (``reflect``), the edge repeated (``replicate``) or wrapped around (``circular``)."""

    def forward(self, x: Array, *, widths: Widths, mode: str) -> Array:
        lead = x.ndim - len(widths)
        indices = []
        out = x
        for k, (before, after) in enumerate(widths):
            dim = lead + k
            positions = source_positions(x.shape[dim], before, after, mode)
            out = xp.take(out, positions, axis=dim)
            indices.append((dim, positions, x.shape[dim]))
        self.saved = (indices,)
        return out

    def backward(self, g: Array) -> Array:
        (indices,) = self.saved
        grad = g
        for dim, positions, size in reversed(indices):
            moved = xp.moveaxis(grad, dim, 0)
            summed = xp.zeros((size, *moved.shape[1:]), dtype=g.dtype)
            xp.add.at(summed, positions, moved)
            grad = xp.moveaxis(summed, 0, dim)
        return grad
