"""Column matrices: the gather (im2col) and scatter-add (col2im) that turn a convolution into
one matrix product, and the products a convolution's backward pass needs.

``im2col`` copies the kh*kw shifted views of a CHWN input into a ``(C*kh*kw, OH*OW*N)`` matrix
by a kh*kw slice loop; ``col2im`` sums such a matrix back onto the input by the same loop, about
ten times faster than ``np.add.at``. A convolution's forward pass is ``im2col`` then a product
and its input gradient a product then ``col2im``; a transposed convolution is the same two
steps the other way round. Padding is never materialised: each offset copies (or adds) only the
part of its slice that falls inside the input, and the columns that fall in the padding are
zeroed. The loops run on ``channel_threads`` over channel ranges and take their arrays from
``buffers``.
"""

from __future__ import annotations

from forge_core.backend import Array, xp
from forge_core.ops.buffers import buffers
from forge_core.ops.threads import channel_threads
from forge_core.ops.window import Offset, Pair, Window


def im2col(x: Array, window: Window, out_size: Pair, ones_row: bool = False) -> Array:
    """The (C*kh*kw, OH*OW*N) column matrix of a (C, H, W, N) input, with a last row of ones if
    ``ones_row`` (so that one product with ``[weight | bias]`` also adds the bias)."""
    c, h, w, n = x.shape
    (kh, kw), (oh, ow) = window.kernel, out_size
    matrix = buffers.empty((c * kh * kw + ones_row, oh * ow * n), x.dtype)
    if ones_row:
        matrix[-1] = 1
    cols = matrix[: c * kh * kw].reshape(c, kh, kw, oh, ow, n)
    offsets = window.offsets((h, w), out_size)

    def gather(channels: slice) -> None:
        part, source = cols[channels], x[channels]
        for offset in offsets:
            block = part[:, offset.i, offset.j]
            if offset.empty:
                block[...] = 0
                continue
            rows, columns = offset.out_rows, offset.out_cols
            assert rows is not None and columns is not None
            # Zero the strips whose windows reach into the padding, then copy the rest.
            if rows.start > 0:
                block[:, : rows.start] = 0
            if rows.stop < oh:
                block[:, rows.stop :] = 0
            if columns.start > 0:
                block[:, rows, : columns.start] = 0
            if columns.stop < ow:
                block[:, rows, columns.stop :] = 0
            block[:, rows, columns] = source[:, offset.in_rows, offset.in_cols]

    channel_threads.run(gather, c, matrix.size)
    return matrix


# A column matrix with fewer rows than this (a first layer: C*kh*kw is 9 or 27) makes the
# weight-gradient product so thin that BLAS runs it about 3 times slower in one piece than as one
# product per output row; with more rows one piece is about 10% faster (bench/conv.py).
THIN_COLUMNS = 64


def weight_product(grad: Array, cols: Array, out_rows: int) -> Array:
    """``grad @ cols.T`` for a (O, M) gradient and (K, M) columns, M running over positions.

    In one piece it is computed as ``(cols @ grad.T).T``: the same numbers, but OpenBLAS runs
    the long reduction over M about 30% faster with the taller matrix on the left (measured at
    1 and 2 threads on the column shapes of ``bench/conv.py`` and the TCN of ``bench/engine.py``).
    """
    if cols.shape[0] >= THIN_COLUMNS:
        result: Array = (cols @ grad.T).T
        return result
    per_row = xp.matmul(
        grad.reshape(grad.shape[0], out_rows, -1).transpose(1, 0, 2),
        cols.reshape(cols.shape[0], out_rows, -1).transpose(1, 2, 0),
    )
    summed: Array = per_row.sum(axis=0)
    return summed


def col2im(cols: Array, window: Window, in_size: Pair, out_size: Pair) -> Array:
    """Sum a (C*kh*kw, OH*OW*N) column gradient back onto the (C, H, W, N) input."""
    (kh, kw), (oh, ow) = window.kernel, out_size
    c, n = cols.shape[0] // (kh * kw), cols.shape[1] // (oh * ow)
    blocks = cols.reshape(c, kh, kw, oh, ow, n)
    offsets = [o for o in window.offsets(in_size, out_size) if not o.empty]
    # The offset that reads the largest unbroken block of the input is assigned first and only
    # the strips around that block are zeroed, sparing a zero fill of the whole input (all of
    # it when the block is the whole input, as in a 'same' convolution).
    first = max((o for o in offsets if _unbroken(o)), key=_area, default=None)
    if first is not None:
        offsets.remove(first)
    out = buffers.empty((c, *in_size, n), cols.dtype)

    def scatter(channels: slice) -> None:
        part, source = out[channels], blocks[channels]
        if first is None:
            part[...] = 0
        else:
            rows, columns = first.in_rows, first.in_cols
            assert rows is not None and columns is not None
            part[:, : rows.start] = 0
            part[:, rows.stop :] = 0
            part[:, rows, : columns.start] = 0
            part[:, rows, columns.stop :] = 0
            part[:, rows, columns] = source[:, first.i, first.j, first.out_rows, first.out_cols]
        for o in offsets:
            part[:, o.in_rows, o.in_cols] += source[:, o.i, o.j, o.out_rows, o.out_cols]

    channel_threads.run(scatter, c, cols.size)
    return out


def _unbroken(offset: Offset) -> bool:
    """True when the offset reads a block of adjacent input positions (stride 1)."""
    return all(part is not None and part.step == 1 for part in (offset.in_rows, offset.in_cols))


def _area(offset: Offset) -> int:
    rows, columns = offset.in_rows, offset.in_cols
    assert rows is not None and columns is not None
    return (rows.stop - rows.start) * (columns.stop - columns.start)


def windows_view(padded: Array, window: Window) -> Array:
    """A (C, OH, OW, N, kh, kw) view of every window of a padded (C, H', W', N) input."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = xp.lib.stride_tricks.sliding_window_view(padded, span, axis=(1, 2))
    return view[:, ::sh, ::sw, :, ::dh, ::dw]
