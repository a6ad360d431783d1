"""Max, average and adaptive average pooling as fused ops with hand-written backward passes.

Max and average pooling loop over the kh*kw kernel offsets, not over windows: each offset is
one strided slice of the padded input, and ``np.maximum`` (or a sum) over those slices is the
whole forward pass, about 30 times faster than reshaping into windows and reducing. Like
``Conv2d`` they work in CHWN memory order (see ``forge_core.ops.chwn``), where every such slice
is made of runs of ``batch`` contiguous numbers, and they return NCHW-shaped views of CHWN
memory. Adaptive pooling, whose windows differ in length, is a product with an averaging matrix
per dim instead.
"""

from __future__ import annotations

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.native import NativePool, native_pool
from forge_core.ops.buffers import buffers
from forge_core.ops.chwn import contiguous, crop, from_chwn, pad_chwn, to_chwn
from forge_core.ops.threads import channel_threads
from forge_core.ops.window import Pair, Window


def _check_pool_input(op: str, x: Array, window: Window) -> tuple[int, int]:
    """The output size, or an error that says what is wrong with the input or the window."""
    if x.ndim != 4:
        raise ValueError(f"{op} expects a 4-D (N, C, H, W) input, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op} expects a floating-point input, got {x.dtype}")
    return window.check(op, x.shape[2], x.shape[3])


def _tiles(window: Window) -> bool:
    """True when no input position lies in two windows, so a backward pass can assign each
    offset's gradient instead of adding it."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    return sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1


def _gradient_buffer(
    window: Window, padded_shape: tuple[int, ...], out_shape: tuple[int, ...], dtype: xp.dtype
) -> Array:
    """The input gradient's buffer: left unfilled when the windows tile the padded input
    exactly (every position is written once, as with a 2x2 pool of an even-sized image)."""
    (kh, kw), (sh, sw) = window.kernel, window.stride
    exact = window.dilation == (1, 1) and (sh, sw) == (kh, kw)
    if exact and padded_shape[1:3] == (out_shape[1] * kh, out_shape[2] * kw):
        return buffers.empty(padded_shape, dtype)
    return buffers.zeros(padded_shape, dtype)


def _native_max_pool(
    dtype: xp.dtype, window: Window, size: Pair, out_size: Pair
) -> NativePool | None:
    """The compiled kernel where it computes this pooling: float32, at most 255 kernel offsets
    (it keeps the winner's in a byte) and every window holding a position of the input."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, _, left, _ = window.pads
    if kh * kw > 255 or top > (kh - 1) * dh or left > (kw - 1) * dw:
        return None
    if (out_size[0] - 1) * sh - top >= size[0] or (out_size[1] - 1) * sw - left >= size[1]:
        return None
    return native_pool(dtype)


def _tiles_exactly(window: Window, size: Pair, out_size: Pair) -> bool:
    """True when each input position lies in exactly one window."""
    (kh, kw), (sh, sw) = window.kernel, window.stride
    return (
        window.dilation == (1, 1)
        and (sh, sw) == (kh, kw)
        and not any(window.pads)
        and size == (out_size[0] * kh, out_size[1] * kw)
    )


class MaxPool2d(Function):
    """Max over each window; the gradient goes to the first maximum in row-major order, as in
    PyTorch, so ties (e.g. the zeros after a ReLU) send it to one position only. In C for
    float32 (``forge_core/_native/pool.c``), where a NaN wins as in PyTorch."""

    def forward(self, x: Array, *, window: Window) -> Array:
        oh, ow = _check_pool_input("max_pool2d", x, window)
        native = _native_max_pool(x.dtype, window, (x.shape[2], x.shape[3]), (oh, ow))
        if native is not None:
            source = contiguous(to_chwn(x))
            out = buffers.empty((x.shape[1], oh, ow, x.shape[0]), x.dtype)
            won = buffers.empty(out.shape, xp.uint8)
            native.max_pool(source, window, out, won)
            self.native = native
            self.saved = ("native", won, window, source.shape)
            return from_chwn(out)
        padded = pad_chwn(x, window.pads, -xp.inf)
        offsets = window.padded_slices((oh, ow))
        out = buffers.empty((x.shape[1], oh, ow, x.shape[0]), x.dtype)

        def maximum(channels: slice) -> None:
            part, source = out[channels], padded[channels]
            _, _, rows, cols = offsets[0]
            part[...] = source[:, rows, cols]
            for _, _, rows, cols in offsets[1:]:
                xp.maximum(part, source[:, rows, cols], out=part)

        channel_threads.run(maximum, out.shape[0], padded.size)
        self.saved = (padded, out, window)
        return from_chwn(out)

    def backward(self, g: Array) -> Array:
        if isinstance(self.saved[0], str):  # "native"
            _, won, window, shape = self.saved
            grad = buffers.empty(shape, g.dtype)
            assign = _tiles_exactly(window, shape[1:3], won.shape[1:3])
            self.native.max_pool_backward(contiguous(to_chwn(g)), won, window, assign, grad)
            return from_chwn(grad)
        padded, out, window = self.saved
        tiles = _tiles(window)
        grad = _gradient_buffer(window, padded.shape, out.shape, out.dtype)
        offsets = window.padded_slices(out.shape[1:3])
        incoming = to_chwn(g)
        won = buffers.empty(out.shape, bool)
        left = buffers.empty(out.shape, out.dtype)

        def route(channels: slice) -> None:
            # ``remaining`` is the gradient not yet routed: an offset that holds its window's
            # maximum takes it, and later offsets that tie see zero.
            remaining, source, maxima = incoming[channels], padded[channels], out[channels]
            part, hit = grad[channels], won[channels]
            for k, (_, _, rows, cols) in enumerate(offsets):
                xp.equal(source[:, rows, cols], maxima, out=hit)
                if tiles:
                    taken = part[:, rows, cols]
                    xp.multiply(remaining, hit, out=taken)
                else:
                    taken = remaining * hit
                    part[:, rows, cols] += taken
                if k == len(offsets) - 1:
                    break
                if k == 0:  # never write into the incoming gradient
                    remaining = xp.subtract(remaining, taken, out=left[channels])
                else:
                    xp.subtract(remaining, taken, out=remaining)

        channel_threads.run(route, out.shape[0], padded.size)
        return from_chwn(crop(grad, window.pads))


class AvgPool2d(Function):
    """Mean over each window. ``counted_pads`` is the part of the padding that counts (as zeros)
    in each window's divisor: all of it with PyTorch's ``count_include_pad`` (but not what
    ``ceil_mode`` adds), none without, when each window divides by its number of real inputs."""

    def forward(
        self, x: Array, *, window: Window, counted_pads: tuple[int, int, int, int]
    ) -> Array:
        oh, ow = _check_pool_input("avg_pool2d", x, window)
        padded = pad_chwn(x, window.pads, 0.0)
        offsets = window.padded_slices((oh, ow))
        out = buffers.empty((x.shape[1], oh, ow, x.shape[0]), x.dtype)

        def total(channels: slice) -> None:
            part, source = out[channels], padded[channels]
            _, _, rows, cols = offsets[0]
            part[...] = source[:, rows, cols]
            for _, _, rows, cols in offsets[1:]:
                part += source[:, rows, cols]

        channel_threads.run(total, out.shape[0], padded.size)
        scale = self._scale(window, x.shape[2:], (oh, ow), counted_pads, x.dtype)
        out *= scale
        self.saved = (scale, window, padded.shape)
        return from_chwn(out)

    @staticmethod
    def _scale(
        window: Window,
        size: tuple[int, ...],
        out_size: tuple[int, int],
        counted_pads: tuple[int, int, int, int],
        dtype: xp.dtype,
    ) -> Array:
        """1 / (number of positions counted) per output position, as a (1, OH, OW, 1) array."""
        kh, kw = window.kernel
        if counted_pads == window.pads:
            return xp.full((1, 1, 1, 1), 1.0 / (kh * kw), dtype=dtype)
        top, bottom, left, right = window.pads
        counted = xp.zeros((size[0] + top + bottom, size[1] + left + right), dtype=dtype)
        above, below, before, after = counted_pads
        counted[top - above : top + size[0] + below, left - before : left + size[1] + after] = 1
        counts = xp.zeros(out_size, dtype=dtype)
        for _, _, rows, cols in window.padded_slices(out_size):
            counts += counted[rows, cols]
        return (1 / counts)[None, :, :, None]

    def backward(self, g: Array) -> Array:
        scale, window, padded_shape = self.saved
        share = xp.multiply(to_chwn(g), scale, out=buffers.empty(to_chwn(g).shape, scale.dtype))
        tiles = _tiles(window)
        grad = _gradient_buffer(window, padded_shape, share.shape, share.dtype)
        offsets = window.padded_slices(share.shape[1:3])

        def spread(channels: slice) -> None:
            part, source = grad[channels], share[channels]
            for _, _, rows, cols in offsets:
                if tiles:
                    part[:, rows, cols] = source
                else:
                    part[:, rows, cols] += source

        channel_threads.run(spread, share.shape[0], grad.size)
        return from_chwn(crop(grad, window.pads))


def averaging_matrix(size: int, out_size: int, dtype: xp.dtype) -> Array:
    """The ``(size, out_size)`` matrix whose column ``j`` averages PyTorch's adaptive window
    ``[floor(j * size / out_size), ceil((j + 1) * size / out_size))``."""
    matrix = xp.zeros((size, out_size), dtype=dtype)
    for j in range(out_size):
        start, stop = (j * size) // out_size, -((-(j + 1) * size) // out_size)
        matrix[start:stop, j] = 1.0 / (stop - start)
    return matrix


class AdaptiveAvgPool(Function):
    """Mean over the windows that split the last one or two dims into ``out_size`` parts.

    Adaptive windows differ in length and may overlap, so instead of slice loops the op is one
    product per dim with an averaging matrix: ``rows.T @ x @ cols`` (just ``x @ cols`` in one
    dim), and its gradient the same products transposed."""

    def forward(self, x: Array, *, out_size: tuple[int, ...]) -> Array:
        if x.dtype.kind != "f":
            raise TypeError(f"adaptive_avg_pool expects a floating-point input, got {x.dtype}")
        sizes = x.shape[x.ndim - len(out_size) :]
        cols = averaging_matrix(sizes[-1], out_size[-1], x.dtype)
        rows = averaging_matrix(sizes[0], out_size[0], x.dtype) if len(out_size) == 2 else None
        out = xp.matmul(x, cols)
        if rows is not None:
            out = xp.matmul(rows.T, out)
        self.saved = (rows, cols)
        return out

    def backward(self, g: Array) -> Array:
        rows, cols = self.saved
        grad = g if rows is None else xp.matmul(rows, g)
        result: Array = xp.matmul(grad, cols.T)
        return result
