"""Two-dimensional convolution as one fused op with a hand-written backward pass.

Built from primitive ops, a convolution would record kh*kw slices and products per call and walk
all of them backward; as one op it is one matrix product forward and two backward.

Memory layout. The op takes and returns arrays with PyTorch's NCHW *shape*, but it computes in
"CHWN" memory order (channel, row, column, batch). With the batch innermost, the slice of the
input that one kernel offset reads is made of runs of ``out_width * batch`` contiguous numbers,
so each copy and each addition NumPy runs is a few long loops instead of thousands of short ones
(in NCHW a strided window touches every other number; in NHWC it touches runs of ``channels``).
The result is an NCHW-shaped view of CHWN memory; NumPy's elementwise ops (a ReLU) keep that
order, so the next convolution or pooling op reads it without a copy. An ordinary NCHW input is
transposed once (one cheap copy).

Padding is never materialised: each kernel offset copies (or, backward, adds) only the part of
its slice that falls inside the input, and the columns that fall in the padding are zeroed.

Strategies (``choose_strategy`` picks one by the measurements of ``bench/conv.py``):

* ``"im2col"``: copy the kh*kw shifted views of the input into a column matrix
  ``(C*kh*kw, OH*OW*N)`` by a kh*kw slice loop, then one matrix product. The columns are kept
  for the weight gradient, which is one more product. Fastest forward + backward at every shape
  measured, so training uses it.
* ``"tensordot"``: ``tensordot`` of the weight with a ``sliding_window_view`` of the padded
  input. NumPy gathers the windows in one call; only the padded input is kept between forward
  and backward (kh*kw times less memory), at the price of gathering again for the weight
  gradient. Without a weight gradient (inference) it is as fast or faster, so inference uses it.

Both compute the input gradient as ``weight.T @ grad`` summed back onto the input by a kh*kw
slice-add loop (``col2im``), about ten times faster than ``np.add.at``.

Large arrays come from ``buffers``, a cache that hands a step the arrays the previous step let
go of (see ``BufferCache``), and the slice loops run on several threads over channel ranges
(see ``ChannelThreads``).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from forge_core.autograd import Function
from forge_core.backend import Array, xp

Pair = tuple[int, int]
Strategy = Literal["auto", "im2col", "tensordot"]
STRATEGIES = ("im2col", "tensordot")


class BufferCache:
    """Arrays for the convolution and pooling ops, reused from one training step to the next.

    Why: a training step of a CNN allocates tens of megabytes and frees them at its end; glibc
    then hands the top of the heap back to the OS, and the next step page-faults every page in
    again. Measured on the engine benchmark's CNN, that was a third of the conv layers' time.

    An array is handed out again only when nothing but the cache refers to it any more (its
    reference count says so; a view counts as a reference to its base), so an output a caller
    holds or a value saved for backward is never overwritten. Arrays smaller than ``min_bytes``
    come from ``malloc`` as usual. The cache keeps at most ``per_shape`` arrays of each shape
    and dtype, for the ``max_shapes`` most recently used ones; ``clear()`` lets them all go.
    CPython only (it reads reference counts); a CuPy backend would use CuPy's memory pool.
    """

    # References to a cached array while ``empty`` looks at it: the shape's list, the loop
    # variable and ``sys.getrefcount``'s argument. Any more means someone else holds it.
    _UNUSED = 3

    def __init__(self, max_shapes: int = 64, per_shape: int = 8, min_bytes: int = 1 << 16):
        self.max_shapes = max_shapes
        self.per_shape = per_shape
        self.min_bytes = min_bytes
        self._arrays: OrderedDict[tuple[Any, ...], list[Array]] = OrderedDict()
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Array:
        """An uninitialised C-contiguous array, like ``xp.empty``."""
        dtype = xp.dtype(dtype)
        if dtype.itemsize * math.prod(shape) < self.min_bytes:
            return xp.empty(shape, dtype=dtype)
        key = (tuple(shape), dtype)
        with self._lock:
            arrays = self._arrays.get(key)
            if arrays is None:
                arrays = self._arrays[key] = []
                if len(self._arrays) > self.max_shapes:
                    self._arrays.popitem(last=False)
            else:
                self._arrays.move_to_end(key)
            for array in arrays:
                if sys.getrefcount(array) <= self._UNUSED:
                    return array
            array = xp.empty(shape, dtype=dtype)
            if len(arrays) < self.per_shape:
                arrays.append(array)
            return array

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Array:
        array = self.empty(shape, dtype)
        array[...] = 0
        return array

    def clear(self) -> None:
        with self._lock:
            self._arrays.clear()


buffers = BufferCache()


class ChannelThreads:
    """Runs a slice loop on several threads, each over its own range of channels.

    Why: NumPy runs each copy or addition on one core but lets go of the GIL inside it, and the
    slice loops of im2col, col2im and pooling are independent per channel. Split over the
    channel axis, they use every core the user gave the engine, as PyTorch's kernels do: at 2
    threads this took 10-30% off the engine benchmark CNN's conv layers. Loops over fewer than
    ``min_work`` elements run inline, since handing work to a thread costs tens of microseconds.
    """

    def __init__(self, threads: int, min_work: int = 1 << 17) -> None:
        self.threads = threads
        self.min_work = min_work
        self._executor: ThreadPoolExecutor | None = None
        self._workers = 0
        self._lock = threading.Lock()
        # A forked child inherits the executor but not its threads: it would wait forever.
        os.register_at_fork(after_in_child=self._forget_executor)

    def run(self, loop: Callable[[slice], None], channels: int, work: int) -> None:
        """``loop(channel_slice)`` over ``range(channels)`` in contiguous parts, one per thread;
        ``work`` (elements touched) decides whether splitting is worth it."""
        parts = min(self.threads, channels)
        if parts < 2 or work < self.min_work:
            loop(slice(None))
            return
        bounds = [channels * k // parts for k in range(parts + 1)]
        executor = self._pool(parts - 1)
        futures = [executor.submit(loop, slice(bounds[k], bounds[k + 1])) for k in range(1, parts)]
        loop(slice(bounds[0], bounds[1]))
        for future in futures:
            future.result()

    def _pool(self, workers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._workers < workers:
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(workers, thread_name_prefix="forge-conv")
                self._workers = workers
            return self._executor

    def _forget_executor(self) -> None:
        self._executor = None
        self._workers = 0
        self._lock = threading.Lock()


def default_threads() -> int:
    """The thread count the user gave BLAS (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or
    ``MKL_NUM_THREADS``), else the number of cores, at most 4: the loops are memory-bound."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return min(os.cpu_count() or 1, 4)


channel_threads = ChannelThreads(default_threads())


@dataclass(frozen=True)
class Offset:
    """Kernel offset ``(i, j)`` and where it meets the input: output positions ``out_rows``,
    ``out_cols`` read input positions ``in_rows``, ``in_cols`` (the part inside the padding is
    left out). ``None`` slices mean the offset reads only padding."""

    i: int
    j: int
    out_rows: slice | None
    out_cols: slice | None
    in_rows: slice | None
    in_cols: slice | None

    @property
    def empty(self) -> bool:
        return self.out_rows is None or self.out_cols is None


def _axis_overlap(
    start: int, stride: int, out_size: int, in_size: int
) -> tuple[slice, slice] | tuple[None, None]:
    """Output indices ``o`` whose input index ``start + o * stride`` lies in ``[0, in_size)``,
    as an output slice and the matching input slice."""
    first = max(0, (stride - 1 - start) // stride)
    last = min(out_size - 1, (in_size - 1 - start) // stride)
    if last < first:
        return None, None
    return (
        slice(first, last + 1),
        slice(start + first * stride, start + last * stride + 1, stride),
    )


@dataclass(frozen=True)
class Window:
    """Where a sliding kernel goes over an image: kernel, stride, dilation and padding.

    ``pads`` is ``(top, bottom, left, right)``: PyTorch's ``padding='same'`` pads one more on
    the bottom and right when the total is odd, so the two sides are kept apart.
    """

    kernel: Pair
    stride: Pair
    dilation: Pair
    pads: tuple[int, int, int, int]

    def output_size(self, height: int, width: int) -> Pair:
        top, bottom, left, right = self.pads
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        return (
            (height + top + bottom - dh * (kh - 1) - 1) // sh + 1,
            (width + left + right - dw * (kw - 1) - 1) // sw + 1,
        )

    def validate(self, op: str) -> None:
        """Raise a ValueError that says what is wrong, if anything, with the geometry."""
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(
                f"{op}: kernel size {self.kernel}, stride {self.stride} and dilation "
                f"{self.dilation} must all be at least 1"
            )
        if min(self.pads) < 0:
            raise ValueError(f"{op}: padding {self.pads} must not be negative")

    def check(self, op: str, height: int, width: int) -> Pair:
        """The output size for an input of ``height`` x ``width``, or a ValueError that says
        what is wrong."""
        self.validate(op)
        out = self.output_size(height, width)
        if min(out) < 1:
            raise ValueError(
                f"{op}: the input ({height}x{width}, padded by {self.pads}) is smaller than "
                f"the kernel {self.kernel} with dilation {self.dilation}; pad it or use a "
                "smaller kernel"
            )
        return out

    def padded_slices(self, out_size: Pair) -> list[tuple[int, int, slice, slice]]:
        """``(i, j, rows, cols)`` per kernel offset in row-major order: the slices of the
        *padded* input that offset ``(i, j)`` of every window reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        oh, ow = out_size
        return [
            (
                i,
                j,
                slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (ow - 1) + 1, sw),
            )
            for i in range(kh)
            for j in range(kw)
        ]

    def offsets(self, in_size: Pair, out_size: Pair) -> list[Offset]:
        """Each kernel offset in row-major order with the part of the *unpadded* input it reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        top, _, left, _ = self.pads
        result = []
        for i in range(kh):
            out_rows, in_rows = _axis_overlap(i * dh - top, sh, out_size[0], in_size[0])
            for j in range(kw):
                out_cols, in_cols = _axis_overlap(j * dw - left, sw, out_size[1], in_size[1])
                result.append(Offset(i, j, out_rows, out_cols, in_rows, in_cols))
        return result


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
    """``grad @ cols.T`` for a (O, M) gradient and (K, M) columns, M running over positions."""
    if cols.shape[0] >= THIN_COLUMNS:
        result: Array = grad @ cols.T
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
    # An offset that reads every input position can be assigned first, sparing a zero fill.
    first = next((o for o in offsets if _covers(o, in_size)), None)
    if first is not None:
        offsets.remove(first)
    out = buffers.empty((c, *in_size, n), cols.dtype)

    def scatter(channels: slice) -> None:
        part, source = out[channels], blocks[channels]
        if first is None:
            part[...] = 0
        else:
            part[...] = source[:, first.i, first.j, first.out_rows, first.out_cols]
        for o in offsets:
            part[:, o.in_rows, o.in_cols] += source[:, o.i, o.j, o.out_rows, o.out_cols]

    channel_threads.run(scatter, c, cols.size)
    return out


def _covers(offset: Offset, in_size: Pair) -> bool:
    full = [slice(0, in_size[0], 1), slice(0, in_size[1], 1)]
    return [offset.in_rows, offset.in_cols] == full


def windows_view(padded: Array, window: Window) -> Array:
    """A (C, OH, OW, N, kh, kw) view of every window of a padded (C, H', W', N) input."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = xp.lib.stride_tricks.sliding_window_view(padded, span, axis=(1, 2))
    return view[:, ::sh, ::sw, :, ::dh, ::dw]


def choose_strategy(weight_grad: bool) -> str:
    """im2col when the weight needs a gradient: its kept columns make that gradient one product,
    where tensordot gathers the windows again, and it is the faster forward + backward at every
    shape of ``bench/conv.py``. Without one (inference), tensordot's single gather is as fast
    at one thread and faster at two, and keeps nothing."""
    return "im2col" if weight_grad else "tensordot"


class Conv2d(Function):
    """``conv2d(x, weight, bias)`` on NCHW arrays, weight ``(out, in, kh, kw)`` as in PyTorch."""

    def forward(
        self,
        x: Array,
        weight: Array,
        bias: Array | None = None,
        *,
        window: Window,
        strategy: Strategy = "auto",
    ) -> Array:
        n, _, h, w = _check_conv_inputs(x, weight, bias)
        out_channels = weight.shape[0]
        out_size = window.check("conv2d", h, w)
        need_weight = self.needs_input_grad[1]
        chosen = choose_strategy(need_weight) if strategy == "auto" else strategy
        flat_weight = weight.reshape(out_channels, -1)
        if chosen == "im2col":
            cols = im2col(contiguous(to_chwn(x)), window, out_size, bias is not None)
            if bias is not None:
                flat_weight = xp.concatenate([flat_weight, bias[:, None]], axis=1)
            out = xp.matmul(
                flat_weight, cols, out=buffers.empty((out_channels, cols.shape[1]), x.dtype)
            )
            kept: Array | None = cols if need_weight else None
        elif chosen == "tensordot":
            padded = pad_chwn(x, window.pads, 0.0)
            out = xp.tensordot(weight, windows_view(padded, window), axes=([1, 2, 3], [0, 4, 5]))
            out = out.reshape(out_channels, -1)
            if bias is not None:
                out += bias[:, None]
            kept = padded if need_weight else None
        else:
            raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES} or 'auto'")
        self.saved = (kept, weight, window, chosen, (h, w), out_size)
        return from_chwn(out.reshape(out_channels, *out_size, n))

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        kept, weight, window, strategy, in_size, out_size = self.saved
        need_x, need_weight, *need_bias = self.needs_input_grad
        out_channels, weight_size = weight.shape[0], weight[0].size
        grad = contiguous(to_chwn(g)).reshape(out_channels, -1)
        grad_x = grad_weight = grad_bias = None
        if need_weight and strategy == "im2col":
            product = weight_product(grad, kept, out_size[0])
            grad_weight = product[:, :weight_size].reshape(weight.shape)
            if need_bias and need_bias[0]:
                grad_bias = product[:, weight_size]  # the column of the ones row
        elif need_weight:
            grad_weight = xp.tensordot(
                grad.reshape(out_channels, *out_size, -1),
                windows_view(kept, window),
                axes=([1, 2, 3], [1, 2, 3]),
            )
        if need_bias and need_bias[0] and grad_bias is None:
            grad_bias = grad.sum(axis=1)
        if need_x:
            flat_weight = weight.reshape(out_channels, -1)
            cols = buffers.empty((flat_weight.shape[1], grad.shape[1]), grad.dtype)
            xp.matmul(flat_weight.T, grad, out=cols)
            grad_x = from_chwn(col2im(cols, window, in_size, out_size))
        if need_bias:
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def _check_conv_inputs(x: Array, weight: Array, bias: Array | None) -> tuple[int, int, int, int]:
    """(N, C, H, W) of the input, or an error that names the mismatch."""
    if x.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D (N, C, H, W) input, got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D (out, in, kh, kw) weight, got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: input {x.shape} has {x.shape[1]} channels but weight {weight.shape} "
            f"expects {weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"conv2d: bias {bias.shape} must have shape ({weight.shape[0]},), one per "
            "output channel"
        )
    dtypes = {x.dtype, weight.dtype} | ({bias.dtype} if bias is not None else set())
    if len(dtypes) > 1:
        raise TypeError(
            f"conv2d: input, weight and bias must share a dtype, got {sorted(map(str, dtypes))}; "
            "convert with .float() or .double()"
        )
    n, c, h, w = x.shape
    return n, c, h, w
