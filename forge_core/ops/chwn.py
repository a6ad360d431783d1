"""The CHWN memory order the convolution and pooling ops compute in, and its helpers.

The ops take and return arrays with PyTorch's NCHW *shape*, but compute in "CHWN" memory order
(channel, row, column, batch). With the batch innermost, the slice of the input that one kernel
offset reads is made of runs of ``out_width * batch`` contiguous numbers, so each copy and each
addition NumPy runs is a few long loops instead of thousands of short ones (in NCHW a strided
window touches every other number; in NHWC it touches runs of ``channels``). A result is an
NCHW-shaped view of CHWN memory; NumPy's elementwise ops (a ReLU) keep that order, so the next
convolution or pooling op reads it without a copy. An ordinary NCHW input is transposed once
(one cheap copy).
"""

from __future__ import annotations

from forge_core.backend import Array
from forge_core.ops.buffers import buffers


def to_chwn(x: Array) -> Array:
    """An NCHW-shaped array as a (C, H, W, N) view; no copy."""
    return x.transpose(1, 2, 3, 0)


def from_chwn(x: Array) -> Array:
    """A (C, H, W, N) array as an NCHW-shaped view; no copy."""
    return x.transpose(3, 0, 1, 2)


def pad_chwn(x: Array, pads: tuple[int, int, int, int], fill: float) -> Array:
    """The NCHW array ``x`` padded with ``fill`` as a (C, H', W', N) array: a view when there
    is no padding, else one copy (which also transposes an NCHW input)."""
    source = to_chwn(x)
    top, bottom, left, right = pads
    if not any(pads):
        return source
    c, h, w, n = source.shape
    out = buffers.empty((c, h + top + bottom, w + left + right, n), x.dtype)
    out[:, :top] = fill
    out[:, top + h :] = fill
    out[:, top : top + h, :left] = fill
    out[:, top : top + h, left + w :] = fill
    out[:, top : top + h, left : left + w] = source
    return out


def contiguous(x: Array) -> Array:
    """``x`` itself if C-contiguous, else a C-contiguous copy of it from ``buffers``."""
    if x.flags.c_contiguous:
        return x
    copy = buffers.empty(x.shape, x.dtype)
    copy[...] = x
    return copy


def crop(padded: Array, pads: tuple[int, int, int, int]) -> Array:
    """Undo ``pad_chwn``'s padding on a (C, H', W', N) array; a view."""
    top, bottom, left, right = pads
    return padded[:, top : padded.shape[1] - bottom, left : padded.shape[2] - right]
