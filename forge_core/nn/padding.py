"""``pad``: PyTorch's ``F.pad``, with its widths given from the last dim backwards.

``pad=(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two, and so
on. ``constant`` pads any number of dims (a negative width crops); ``reflect``, ``replicate``
and ``circular`` copy the input's own values and, as in PyTorch, pad the last one to three dims
of an input with one or two more dims than that (a batch and a channel dim).
"""

from __future__ import annotations

from collections.abc import Sequence

from forge_core.ops import registry as ops
from forge_core.ops.padding import MODES
from forge_core.tensor import Tensor


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """``input`` padded by ``pad`` (pairs of widths, last dim first) in ``mode``."""
    widths = _widths(input, pad, mode)
    if mode == "constant":
        result: Tensor = ops.ConstantPad.apply(input, widths=widths, value=value or 0.0)
        return result
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value; only mode 'constant' fills one")
    _check_copy_pad(input, widths, mode)
    result = ops.CopyPad.apply(input, widths=widths, mode=mode)
    return result


def _widths(input: Tensor, pad: Sequence[int], mode: str) -> tuple[tuple[int, int], ...]:
    """(before, after) per padded dim, outermost first, or an error naming what is wrong."""
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    if len(pad) % 2 or not all(isinstance(width, int) for width in pad):
        raise ValueError(f"pad: pad must be pairs of ints (before, after), got {tuple(pad)}")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise ValueError(
            f"pad: {tuple(pad)} pads {dims} dims but the input has only {input.ndim} "
            f"(shape {input.shape})"
        )
    return tuple((pad[2 * k], pad[2 * k + 1]) for k in reversed(range(dims)))


def _check_copy_pad(input: Tensor, widths: tuple[tuple[int, int], ...], mode: str) -> None:
    dims = len(widths)
    if not 1 <= dims <= 3 or input.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"pad: mode {mode!r} pads the last 1 to 3 dims of an input with 1 or 2 more dims "
            f"(batch, channels); got {2 * dims} widths for shape {input.shape}"
        )
    lead = input.ndim - dims
    for k, (before, after) in enumerate(widths):
        size = input.shape[lead + k]
        if min(before, after) < 0:
            raise ValueError(f"pad: mode {mode!r} takes no negative widths, got {widths}")
        if mode == "replicate" and size > 0:
            continue
        limit = size - 1 if mode == "reflect" else size
        if max(before, after) > limit or size == 0:
            raise ValueError(
                f"pad: mode {mode!r} pads dim {lead + k} of size {size} by at most {limit} "
                f"on each side, got {(before, after)}"
            )
