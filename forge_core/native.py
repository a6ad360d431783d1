"""forge_core's compiled kernels (``forge_core/_native/``, C), reached through ctypes.

Why: the fused LSTM and GRU (``forge_core/ops/recurrent.py``) run a dozen NumPy calls per time
step around each step's matrix product, and at the sizes people train on a CPU those calls' own
overhead costs more than their arithmetic: on the ``lstm`` benchmark (hidden 64, batch 64) the
elementwise work of a forward step took 28 µs beside a 23 µs product. The kernels run the
whole time loop in C, one pass over the gates per step, with the products on the same BLAS
that NumPy (or ``forge_core.gemm``'s MKL) runs, and without the GIL (docs/benchmarks.md).

They cover float32, the precision people train in; float64 (the gradient checks) stays on
NumPy, whose ``tanh`` is exact to the last bit there. The same tests run both paths.

What runs in C is only the time loops and the products after them; the ops in
``forge_core/ops/recurrent.py`` still build every buffer, and run the NumPy loops where the
kernels do not.

Three more kernels need no BLAS: stride-1 convolutions (``NativeConv``, ``_native/conv.c``),
read straight from the padded input by register tiles, 1.5-2.5x faster than the column matrix
and OpenBLAS's product at the benchmark's shapes; and ReLU (``relu_f32``) and max pooling
(``NativePool``), whose NumPy ``maximum`` was slow on the benchmark machine.

Which one runs:

* ``FORGE_KERNELS=native`` (the default): the compiled kernels, where the install built them
  (it needs a C compiler; ``pip`` goes on without one) and the BLAS is one they can call;
  otherwise NumPy, and ``native_available()`` says False.
* ``FORGE_KERNELS=numpy``: always NumPy.

``set_kernels`` switches at run time (the tests run the layers under both).
"""

from __future__ import annotations

import ctypes
import os
from importlib import util
from typing import Any, TypeVar

import numpy as np

from forge_core import gemm
from forge_core.backend import Array

_p, _i, _n = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64


def _load() -> Any | None:
    spec = util.find_spec("forge_core._native")
    if spec is None or spec.origin is None:
        return None
    try:
        library = ctypes.CDLL(spec.origin)
    except OSError:
        return None
    forward, backward = library.forge_lstm_forward_f32, library.forge_lstm_backward_f32
    forward.argtypes = [_p, _i, _n, _n, _n, _n, _n, *[_p] * 5]
    backward.argtypes = [_p, _i, _n, _n, _n, _n, _n, _n, *[_p] * 14]
    forward.restype = backward.restype = _i
    gru_forward, gru_backward = library.forge_gru_forward_f32, library.forge_gru_backward_f32
    gru_forward.argtypes = [_p, _i, _n, _n, _n, _n, *[_p] * 6]
    gru_backward.argtypes = [_p, _i, _n, _n, _n, _n, _n, *[_p] * 16]
    gru_forward.restype = gru_backward.restype = _i
    library.forge_tanh_f32.argtypes = [_n, _p, _p]
    library.forge_tanh_f32.restype = None
    library.forge_conv_forward_f32.argtypes = [_n, *[_p] * 5]
    library.forge_conv_weight_grad_f32.argtypes = [_n, *[_p] * 4]
    library.forge_conv_forward_f32.restype = library.forge_conv_weight_grad_f32.restype = _i
    library.forge_conv_tiles.argtypes = [_i]
    library.forge_conv_tiles.restype = _i
    library.forge_max_pool_f32.argtypes = [_n, *[_p] * 4]
    library.forge_max_pool_backward_f32.argtypes = [_n, _p, _p, _p, _i, _p]
    library.forge_max_pool_f32.restype = library.forge_max_pool_backward_f32.restype = _i
    library.forge_relu_f32.argtypes = [_n, _p, _p]
    library.forge_relu_backward_f32.argtypes = [_n, _p, _p, _p]
    library.forge_relu_f32.restype = library.forge_relu_backward_f32.restype = None
    return library


_library = _load()
_enabled = True


def set_kernels(name: str | None = None) -> None:
    """Run the layers that have a compiled kernel on ``"native"`` or ``"numpy"``; None reads
    ``FORGE_KERNELS``."""
    global _enabled
    if name is None:
        name = os.environ.get("FORGE_KERNELS", "").strip().lower() or "native"
    if name not in ("native", "numpy"):
        raise ValueError(f"FORGE_KERNELS must be native or numpy, got {name[:40]!r}")
    _enabled = name == "native"


set_kernels()


def native_available() -> bool:
    """Whether the compiled kernels were built and can call the BLAS in use."""
    return _library is not None and gemm.blas() is not None


def _pointer(a: Array | None) -> int:
    """The data address of a float32 array, 0 (NULL) for None."""
    if a is None:
        return 0
    if not (a.flags.c_contiguous and a.dtype == np.float32):
        raise ValueError("the compiled kernels take C-contiguous float32 arrays")
    return int(a.ctypes.data)


class _Kernels:
    """The compiled library, with the BLAS in use: its thread count is the user's."""

    # The work (a kernel's own measure) below which one thread does it all, for the kernels
    # that split their work without BLAS (``_call``).
    MIN_SPLIT = 0

    def __init__(self, library: Any, blas: gemm.Blas) -> None:
        self._library = library
        self._blas = blas

    def _call(self, kernel: str, work: int, *arguments: Any) -> None:
        """``kernel(threads, *arguments)``: on the BLAS's thread count, or one thread where
        ``work`` is below ``MIN_SPLIT``; an OSError if it fails."""
        threads = self._blas.get_threads() if work >= self.MIN_SPLIT else 1
        error = getattr(self._library, kernel)(threads, *arguments)
        if error:
            raise OSError(error, f"{kernel} failed: {os.strerror(error)}")


class _Threads(_Kernels):
    """Calls kernels that split their work between as many threads as the BLAS may use, and
    holds the BLAS to one thread of its own meanwhile: each thread's products are small, and
    the BLAS's own threads would only wait for a core (or spin on it)."""

    def run(self, kernel: str, at_most: int, *arguments: Any) -> None:
        """``kernel(sgemm, ilp64, threads, *arguments)`` on up to ``at_most`` threads."""
        blas = self._blas
        before = blas.get_threads()
        threads = max(1, min(before, at_most))
        if before > 1:
            blas.set_threads(1)
        try:
            error = getattr(self._library, kernel)(blas.sgemm, blas.ilp64, threads, *arguments)
        finally:
            if before > 1:
                blas.set_threads(before)
        if error:
            message = f"{kernel} could not start its threads: {os.strerror(error)}"
            raise OSError(error, message)


_K = TypeVar("_K", bound=_Kernels)


class NativeLSTM(_Threads):
    """The fused LSTM's forward and backward time loops in C (``_native/lstm.c``). They split
    the batch rows between the threads: an LSTM's rows never meet, so the threads run the whole
    sequence without waiting for each other."""

    def forward(self, state: Array, weights: Array, acts: Array, cs: Array, tanh_cs: Array) -> None:
        _, steps, batch, hidden = acts.shape
        arrays = (state, weights, acts, cs, tanh_cs)
        self.run(
            "forge_lstm_forward_f32", batch, steps, batch, hidden, state.shape[2],
            *(_pointer(a) for a in arrays),
        )  # fmt: skip

    def backward(
        self,
        saved: tuple[Array, Array, Array, Array],
        w_rec: Array,
        w_in: Array | None,
        d_out: Array,
        d_hn: Array,
        dc: Array,
        needs: tuple[bool, bool, bool],
    ) -> tuple[Array | None, Array | None, Array | None]:
        """The gradients of x, h0 and the stacked ``[W_hh | W_ih | b]`` of each gate
        (4, H, W), each where ``needs`` asks for it, in that order; ``dc`` leaves holding c0's
        gradient. ``saved`` is the forward's ``acts``,
        ``cs``, ``tanh_cs`` and ``state``."""
        acts, cs, tanh_cs, state = saved
        _, steps, batch, hidden = acts.shape
        width = state.shape[2]
        features = 0 if w_in is None else w_in.shape[2]
        need_x, need_h0, need_weights = needs
        empty = np.empty
        d = empty(acts.shape, np.float32)
        dh = empty((batch, hidden), np.float32)
        d_x = empty((steps, batch, features), np.float32) if need_x else None
        d_h0 = empty((batch, hidden), np.float32) if need_h0 else None
        d_weights = empty((4, hidden, width), np.float32) if need_weights else None
        arrays = (acts, cs, tanh_cs, state, w_rec, w_in, d_out, d_hn, dc, d, dh, d_x, d_h0)
        self.run(
            "forge_lstm_backward_f32", batch, steps, batch, hidden, width, features,
            *(_pointer(a) for a in (*arrays, d_weights)),
        )  # fmt: skip
        return d_x, d_h0, d_weights


def native_lstm(dtype: Any) -> NativeLSTM | None:
    """The compiled LSTM loops for arrays of ``dtype``, or None where NumPy runs them."""
    return _kernels(NativeLSTM, dtype)


def _kernels(kind: type[_K], dtype: Any) -> _K | None:
    """``kind`` bound to the library and the BLAS in use, where the kernels run ``dtype``."""
    if not _enabled or _library is None or np.dtype(dtype) != np.float32:
        return None
    blas = gemm.blas()
    return None if blas is None else kind(_library, blas)


class NativeGRU(_Threads):
    """The fused GRU's forward and backward time loops in C (``_native/gru.c``), split over
    the batch rows as the LSTM's are."""

    def forward(
        self, acts: Array, hs: Array, hg_n: Array, rec: Array, w_rec: Array, b_hn: Array
    ) -> None:
        _, steps, batch, hidden = acts.shape
        arrays = (acts, hs, hg_n, rec, w_rec, b_hn)
        self.run(
            "forge_gru_forward_f32", batch, steps, batch, hidden, *(_pointer(a) for a in arrays)
        )

    def backward(
        self,
        saved: tuple[Array, Array, Array, Array],
        w_hh: Array,
        w_ih: Array,
        d_out: Array,
        d_hn: Array,
        needs: tuple[bool, ...],
    ) -> tuple[Array | None, ...]:
        """The gradients of x (T * B, I), h0, w_ih, w_hh, b_ih and b_hh, each where ``needs``
        asks for it. ``saved`` is the forward's ``acts``, ``hs``, ``hg_n`` and its inputs
        ``x`` (T * B, I) in the order it visited them."""
        acts, hs, hg_n, x = saved
        _, steps, batch, hidden = acts.shape
        features = x.shape[1]
        need_x, need_h0, need_w_ih, need_w_hh, *need_bias = needs
        empty, f32 = np.empty, np.float32
        inputs = [np.ascontiguousarray(a, dtype=f32) for a in (w_hh, w_ih, x, d_out)]
        carry = np.array(d_hn, dtype=f32, order="C")
        scratch = [empty((batch, hidden), f32), empty(acts.shape, f32), empty(hs[1:].shape, f32)]
        results = [
            empty((steps * batch, features), f32) if need_x else None,
            empty((batch, hidden), f32) if need_h0 else None,
            empty((3 * hidden, features), f32) if need_w_ih else None,
            empty((3 * hidden, hidden), f32) if need_w_hh else None,
            empty((2, 3 * hidden), f32) if any(need_bias) else None,
        ]
        arrays = (acts, hs, hg_n, *inputs, carry, *scratch, *results)
        self.run(
            "forge_gru_backward_f32", batch, steps, batch, hidden, features,
            *(_pointer(a) for a in arrays),
        )  # fmt: skip
        d_x, d_h0, d_w_ih, d_w_hh, d_b = results
        d_b_ih, d_b_hh = (None, None) if d_b is None else (d_b[0], d_b[1])
        return d_x, d_h0, d_w_ih, d_w_hh, d_b_ih, d_b_hh


def native_gru(dtype: Any) -> NativeGRU | None:
    """The compiled GRU loops for arrays of ``dtype``, or None where NumPy runs them."""
    return _kernels(NativeGRU, dtype)


class NativeConv(_Kernels):
    """Stride-1 float32 convolutions in C (``_native/conv.c``), read straight from a padded
    CHWN input (``forge_core/ops/conv.py``): ``forward`` is also the input's gradient, run on
    the padded output gradient with the kernel flipped and transposed."""

    # Below this many multiply-adds one thread finishes before a second would have started.
    MIN_SPLIT = 1 << 21

    def forward(
        self, padded: Array, weight: Array, bias: Array | None, dilation: tuple[int, int],
        out: Array,
    ) -> None:  # fmt: skip
        """``out`` (O, OH, OW, N) = the convolution of ``padded`` (C, H, W, N) by ``weight``
        (O, C, kh, kw), plus ``bias``."""
        geometry = self._geometry(padded, weight.shape[2:], dilation, weight.shape[0])
        contiguous = [None if a is None else np.ascontiguousarray(a) for a in (weight, bias)]
        arrays = (padded, *contiguous, out)
        self._call("forge_conv_forward_f32", weight.size * out[0].size, geometry.ctypes.data,
                   *(_pointer(a) for a in arrays))  # fmt: skip

    def weight_grad(
        self, padded: Array, grad: Array, kernel: tuple[int, int], dilation: tuple[int, int],
        out: Array,
    ) -> None:  # fmt: skip
        """``out`` (O, C * kh * kw) = the weight's gradient, for ``grad`` (O, OH * OW * N)."""
        geometry = self._geometry(padded, kernel, dilation, grad.shape[0])
        self._call("forge_conv_weight_grad_f32", out.size * grad.shape[1], geometry.ctypes.data,
                   *(_pointer(a) for a in (padded, grad, out)))  # fmt: skip

    @staticmethod
    def _geometry(
        padded: Array, kernel: tuple[int, int], dilation: tuple[int, int], out_channels: int
    ) -> Array:
        return np.array([*padded.shape, *kernel, *dilation, out_channels], dtype=np.int64)


class NativePool(_Kernels):
    """Max pooling in C (``_native/pool.c``) over CHWN arrays, with the offset that holds each
    maximum kept (a byte each) for the backward pass; the threads split the channels."""

    # Input numbers below which one thread does it all: the loops are bound by memory, and on
    # the benchmark CNN's first pool (802,816 numbers) two threads were no faster than one.
    MIN_SPLIT = 1 << 22

    def max_pool(self, source: Array, window: Any, out: Array, won: Array) -> None:
        """``out`` (C, OH, OW, N) = the maxima of ``source`` (C, H, W, N), ``won`` the kernel
        offset ``i * kw + j`` that holds each."""
        geometry = self._geometry(source.shape, window, out.shape)
        self._call("forge_max_pool_f32", source.size, geometry.ctypes.data, _pointer(source),
                   _pointer(out), won.ctypes.data)  # fmt: skip

    def max_pool_backward(
        self, g: Array, won: Array, window: Any, assign: bool, grad: Array
    ) -> None:
        """``grad`` (C, H, W, N) = each of ``g``'s numbers routed to the position that won;
        ``assign`` when each input position lies in exactly one window (``grad`` is then
        written, not zeroed and added to)."""
        geometry = self._geometry(grad.shape, window, g.shape)
        self._call("forge_max_pool_backward_f32", grad.size, geometry.ctypes.data, _pointer(g),
                   won.ctypes.data, int(assign), _pointer(grad))  # fmt: skip

    @staticmethod
    def _geometry(shape: tuple[int, ...], window: Any, out_shape: tuple[int, ...]) -> Array:
        top, _, left, _ = window.pads
        return np.array(
            [*shape, *window.kernel, *window.stride, *window.dilation, top, left, *out_shape[1:3]],
            dtype=np.int64,
        )


def native_pool(dtype: Any) -> NativePool | None:
    """The compiled max pooling for arrays of ``dtype``, or None where NumPy runs it."""
    return _kernels(NativePool, dtype)


CONV_TILES = ("plain", "avx2", "avx512")


def set_conv_tiles(name: str | None) -> bool:
    """Run the compiled convolution on one instruction set's tiles (``CONV_TILES``), for the
    tests; None goes back to the best the processor runs. False if it lacks that set."""
    if _library is None:
        return False
    return _library.forge_conv_tiles(-1 if name is None else CONV_TILES.index(name)) == 0


def native_conv(dtype: Any) -> NativeConv | None:
    """The compiled stride-1 convolution for arrays of ``dtype``, or None where NumPy runs it."""
    return _kernels(NativeConv, dtype)


# Below this many numbers NumPy's call costs less than reaching C through ctypes.
MIN_ELEMENTWISE = 1 << 14


def _laid_out_alike(*arrays: Array) -> bool:
    """True when the arrays are float32, of one shape and one memory layout, and each fills its
    memory without gaps (a permutation of its axes is C-contiguous), so that the same offset
    from each one's first element is the same element."""
    first = arrays[0]
    if any(a.dtype != np.float32 or a.strides != first.strides for a in arrays):
        return False
    if first.flags.c_contiguous:
        return True
    order = sorted(range(first.ndim), key=lambda axis: -first.strides[axis])
    return min(first.strides) >= 0 and first.transpose(order).flags.c_contiguous


def relu_f32(x: Array) -> Array | None:
    """``max(x, 0)`` in C, laid out as ``x`` is; None where NumPy computes it (not float32, few
    numbers, a strided view, or ``FORGE_KERNELS=numpy``)."""
    if not _enabled or _library is None or x.size < MIN_ELEMENTWISE or x.dtype != np.float32:
        return None
    out = np.empty_like(x)
    if not _laid_out_alike(x, out):
        return None
    _library.forge_relu_f32(x.size, x.ctypes.data, out.ctypes.data)
    return out


def relu_backward_f32(out: Array, g: Array) -> Array | None:
    """ReLU's gradient: ``g`` where ``out`` > 0, else 0; None where NumPy computes it."""
    if not _enabled or _library is None or out.size < MIN_ELEMENTWISE:
        return None
    if out.shape != g.shape or not _laid_out_alike(out, g):
        return None
    grad = np.empty_like(out)
    _library.forge_relu_backward_f32(out.size, out.ctypes.data, g.ctypes.data, grad.ctypes.data)
    return grad


def tanh_f32(x: Array) -> Array:
    """The kernels' own float32 ``tanh`` of a C-contiguous array, for testing its accuracy."""
    if _library is None:
        raise RuntimeError("forge_core's compiled kernels are not built")
    out = np.empty_like(x)
    _library.forge_tanh_f32(x.size, _pointer(x), _pointer(out))
    return out
