"""Matrix products through Intel MKL when the ``mkl`` package is installed, else NumPy's matmul.

Why: NumPy's wheels multiply matrices with OpenBLAS, which is 35-40 % slower than MKL at the
recurrent layers' per-step shapes (a ``(32, 258) @ (258, 4 * 256)`` product 128 times a step,
forward and backward; docs/benchmarks.md), and those products are most of an LSTM's training
step. The ``mkl`` wheel ships ``libmkl_rt``, whose C BLAS interface takes pointers and strides,
so ctypes can hand it NumPy's own buffers: no copy, no compiled extension, and one MKL call
computes a whole gate-stacked product (``cblas_?gemm_batch_strided``).

Only the recurrent layers use it. ``Linear`` on MKL made the Transformer benchmark's step 5-10 %
faster single-threaded but 2-4x slower with 2 threads, where its products on MKL alternate with
the ones left on OpenBLAS (attention, the bias GEMV) and the two libraries' threads share the
cores (docs/benchmarks.md).

Which library runs the products:

* ``FORGE_GEMM=numpy``: always NumPy; MKL is not even loaded.
* ``FORGE_GEMM=mkl``: MKL; importing forge_core fails with a hint if it is not installed.
* unset (or ``auto``): MKL on an Intel processor when ``pip install 'azuraforge[mkl]'``
  installed it, else NumPy. On AMD, MKL runs generic AVX2 kernels, while NumPy's OpenBLAS picks
  AVX-512 ones where the processor has them: on an AMD EPYC (Zen 4) MKL was 1-27 % slower at
  the LSTM's products and the ``lstm_large`` step 11 % slower (docs/benchmarks.md).

``set_backend`` switches at run time (the tests run the recurrent layers under both).

MKL gets as many threads as OpenBLAS, read from the variables OpenBLAS reads
(``OPENBLAS_NUM_THREADS``, ``GOTO_NUM_THREADS``, ``OMP_NUM_THREADS``, else every core this
process may use), so a user who gave NumPy one core gives the engine one core.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from forge_core.backend import Array, xp

# CBLAS enum values, from mkl_cblas.h
_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112
_LP64 = 0  # MKL_INTERFACE_LP64: 32-bit integers, what the argument types below declare


def _openblas_threads() -> int:
    """The thread count OpenBLAS picks at start-up, by the same rules."""
    for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_vendor(cpuinfo: str | None = None) -> str:
    """The processor's vendor string (``GenuineIntel``, ``AuthenticAMD``, ...), from
    ``/proc/cpuinfo`` (or the text given), else from ``platform.processor()``; "" if unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id":
            return value.strip()
    described = platform.processor()
    return (
        "GenuineIntel" if "Intel" in described else ("AuthenticAMD" if "AMD" in described else "")
    )


def intel_cpu() -> bool:
    return cpu_vendor() == "GenuineIntel"


def _find_mkl_rt() -> Path | None:
    """``libmkl_rt`` as the ``mkl`` wheel installed it (into the environment's lib folder)."""
    try:
        files = metadata.files("mkl") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        name = file.name
        if name.startswith("libmkl_rt.so") or (name.startswith("mkl_rt") and name.endswith(".dll")):
            path = Path(str(file.locate())).resolve()
            if path.exists():
                return path
    return None


class _MKL:
    """The two CBLAS entry points forge uses, per precision, bound through ctypes."""

    def __init__(self, path: Path, threads: int) -> None:
        lib = ctypes.CDLL(str(path))
        self.library = lib
        # Set before any other call: MKL_INTERFACE_LAYER=ILP64 in the environment would
        # otherwise make MKL read 64-bit integers where these bindings pass 32-bit ones.
        lib.MKL_Set_Interface_Layer(_LP64)
        lib.MKL_Set_Num_Threads(threads)
        lib.MKL_Get_Max_Threads.restype = ctypes.c_int
        lib.MKL_Set_Num_Threads_Local.restype = ctypes.c_int
        self.gemm: dict[Any, Any] = {}
        self.gemm_batch: dict[Any, Any] = {}
        i, p, n = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t
        for dtype, prefix, scalar in (
            (np.dtype(np.float32), "s", ctypes.c_float),
            (np.dtype(np.float64), "d", ctypes.c_double),
        ):
            gemm = getattr(lib, f"cblas_{prefix}gemm")
            gemm.argtypes = [i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i]
            gemm.restype = None
            batch = getattr(lib, f"cblas_{prefix}gemm_batch_strided")
            batch.argtypes = [i, i, i, i, i, i, scalar, p, i, n, p, i, n, scalar, p, i, n, n]
            batch.restype = None
            self.gemm[dtype] = gemm
            self.gemm_batch[dtype] = batch

    def set_threads(self, threads: int) -> None:
        """MKL's thread count for new threads and for this one, which may have a count of its
        own (PyTorch's ``set_num_threads`` gives the calling thread one)."""
        self.library.MKL_Set_Num_Threads(threads)
        self.library.MKL_Set_Num_Threads_Local(threads)


def _load_mkl() -> _MKL | None:
    path = _find_mkl_rt()
    if path is None:
        return None
    try:
        return _MKL(path, _openblas_threads())
    except (OSError, AttributeError):
        return None


_mkl: _MKL | None = None
_loaded: list[_MKL | None] = []


def _library() -> _MKL | None:
    """MKL, loaded on first need: ``FORGE_GEMM=numpy`` never loads it (nor its OpenMP)."""
    if not _loaded:
        _loaded.append(_load_mkl())
    return _loaded[0]


# Below this many multiply-adds per matrix product, NumPy's OpenBLAS is as fast as MKL or
# faster: ctypes and MKL's own checks cost a few microseconds a call. Measured single-threaded
# on the recurrent layers' products: MKL takes 15-45 % off from (64, 130) @ (130, 128) up, and
# is 1.1-1.5x slower at (64, 66) @ (66, 64), 2-2.7x at hidden 32.
MIN_WORK = 1 << 20
_min_work = MIN_WORK


def set_backend(name: str | None = None, *, min_work: int = MIN_WORK) -> None:
    """Run the engine's matrix products with ``"mkl"``, ``"numpy"`` or ``"auto"`` (MKL when
    installed); None reads ``FORGE_GEMM``. MKL takes only products of at least ``min_work``
    multiply-adds (the tests pass 0 to run their small ones through it)."""
    global _mkl, _min_work
    if name is None:
        name = os.environ.get("FORGE_GEMM", "").strip().lower() or "auto"
    if name == "numpy":
        _mkl = None
    elif name == "auto":
        _mkl = _library() if intel_cpu() else None
    elif name == "mkl":
        _mkl = _library()
        if _mkl is None:
            raise RuntimeError(
                "FORGE_GEMM=mkl, but Intel MKL is not installed: "
                "pip install 'azuraforge[mkl]', or set FORGE_GEMM=numpy"
            )
    else:
        raise ValueError(f"FORGE_GEMM must be mkl, numpy or auto, got {name[:40]!r}")
    _min_work = min_work


def get_backend() -> str:
    """``"mkl"`` or ``"numpy"``: the library that runs the engine's large products now."""
    return "numpy" if _mkl is None else "mkl"


def mkl_available() -> bool:
    """Whether the ``mkl`` package is installed and its library loaded."""
    return _library() is not None


def _numpy_openblas() -> Path | None:
    """The OpenBLAS that NumPy's wheels bundle (``numpy.libs``, or ``numpy/.dylibs`` on macOS),
    built with 64-bit integers and its symbols prefixed ``scipy_``; None for a NumPy built
    against another BLAS."""
    package = Path(np.__file__).parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        found = sorted(folder.glob("libscipy_openblas64_*")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


class Blas(NamedTuple):
    """The float32 product of the BLAS the engine runs on, for compiled kernels to call."""

    sgemm: int  # the address of its cblas_sgemm
    ilp64: bool  # whether that takes 64-bit integers
    get_threads: Callable[[], int]
    set_threads: Callable[[int], Any]


def blas() -> Blas | None:
    """The BLAS that runs the engine's products now: MKL's (32-bit integers) when MKL runs
    them, else NumPy's own OpenBLAS (64-bit), so that compiled kernels share its threads.
    None when neither can be found."""
    if _mkl is not None:
        sgemm = _address(_mkl.gemm[np.dtype(np.float32)])
        return Blas(sgemm, False, _mkl.library.MKL_Get_Max_Threads, _mkl.set_threads)
    if not _numpy_blas:
        _numpy_blas.append(_load_numpy_blas())
    return _numpy_blas[0]


def _load_numpy_blas() -> Blas | None:
    path = _numpy_openblas()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(str(path))
        sgemm, get, set_ = (
            lib.scipy_cblas_sgemm64_,
            lib.scipy_openblas_get_num_threads64_,
            lib.scipy_openblas_set_num_threads64_,
        )
    except (OSError, AttributeError):
        return None
    get.argtypes, get.restype = [], ctypes.c_int
    set_.argtypes, set_.restype = [ctypes.c_int], None
    return Blas(_address(sgemm), True, get, set_)


_numpy_blas: list[Blas | None] = []


def _address(function: Any) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value or 0


set_backend()


def _blas_layout(rows: int, cols: int, s0: int, s1: int, size: int) -> tuple[int, int] | None:
    """How BLAS reads a 2-D view with byte strides ``(s0, s1)``: (transpose flag, leading
    dimension), or None when it cannot (negative or element-gapped strides)."""
    if rows == 1:
        s0 = cols * size
    if cols == 1:
        s1 = size
    if s1 == size and s0 % size == 0 and s0 >= cols * size:
        return _NO_TRANS, s0 // size
    if s0 == size and s1 % size == 0 and s1 >= rows * size:
        return _TRANS, s1 // size
    return None


def _operand(m: Array, size: int) -> tuple[Array, int, int, int]:
    """``m`` (a copy if BLAS cannot read it in place), its transpose flag, leading dimension
    and batch stride in elements (0 for a matrix shared by the whole batch)."""
    layout = _blas_layout(m.shape[-2], m.shape[-1], m.strides[-2], m.strides[-1], size)
    batch_stride = m.strides[0] if m.ndim == 3 and m.shape[0] > 1 else 0
    if layout is None or batch_stride < 0 or batch_stride % size:
        m = xp.ascontiguousarray(m)
        layout = (_NO_TRANS, m.shape[-1])
        batch_stride = m.strides[0] if m.ndim == 3 and m.shape[0] > 1 else 0
    return m, layout[0], layout[1], batch_stride // size


def _flip(trans: int) -> int:
    return _TRANS if trans == _NO_TRANS else _NO_TRANS


class _Product:
    """One checked BLAS call, ``out = a @ b`` for a whole (stacked) product.

    The call's arguments stay in a list, in CBLAS order, so that the step products below can
    move the pointers along their stacks and call again without checking every operand afresh.
    """

    def __init__(
        self,
        function: Any,
        arguments: list[Any],
        operands: tuple[Array, Array, Array],
        swapped: bool,
    ) -> None:
        self.function = function
        self.arguments = arguments
        # the arrays behind the pointers, copies among them, live as long as the call
        self.operands = operands
        self.out = operands[2]
        batched = len(arguments) > 14
        # where the pointers to a, b and out and the factor beta sit in the argument list; with
        # out stored transposed, BLAS computes out.T = b.T @ a.T, with b in a's place
        slot_a, slot_b = (7, 10) if batched else (7, 9)
        self.slot_a, self.slot_b = (slot_b, slot_a) if swapped else (slot_a, slot_b)
        self.slot_beta, self.slot_out = (13, 14) if batched else (11, 12)

    def run(self) -> Array:
        self.function(*self.arguments)
        return self.out


def _writable_by_blas(out: Array, shape: tuple[int, ...], a: Array, b: Array) -> bool:
    """Whether BLAS may write the product of ``a`` and ``b`` into ``out`` (NumPy copies
    through a buffer where they overlap)."""
    if out.shape != shape or out.dtype != a.dtype or not out.flags.writeable:
        return False
    return _apart(out, a, b)


def _product(mkl: _MKL, a: Array, b: Array, out: Array | None) -> _Product | None:
    """The MKL call for ``a @ b`` into ``out``, for 2-D and 3-D float operands large enough to
    pay; None, having written nothing, for what it leaves to NumPy."""
    dtype = a.dtype
    if b.dtype != dtype or dtype not in mkl.gemm or not (2 <= a.ndim <= 3 and 2 <= b.ndim <= 3):
        return None
    m, k = a.shape[-2:]
    k_b, n = b.shape[-2:]
    if k != k_b or m * n * k < max(_min_work, 1):
        return None
    batch_a = a.shape[0] if a.ndim == 3 else 1
    batch_b = b.shape[0] if b.ndim == 3 else 1
    batch = max(batch_a, batch_b)
    if batch_a not in (1, batch) or batch_b not in (1, batch):
        return None
    shape = (batch, m, n) if max(a.ndim, b.ndim) == 3 else (m, n)
    if out is None:
        out = xp.empty(shape, dtype=dtype)
    elif not _writable_by_blas(out, shape, a, b):
        return None
    size = dtype.itemsize
    c_layout = _blas_layout(m, n, out.strides[-2], out.strides[-1], size)
    stride_c = out.strides[0] if out.ndim == 3 and batch > 1 else 0
    if c_layout is None or stride_c < (0 if batch == 1 else 1) or stride_c % size:
        return None
    a, trans_a, ld_a, stride_a = _operand(a, size)
    b, trans_b, ld_b, stride_b = _operand(b, size)
    ptr_a, ptr_b = a.ctypes.data, b.ctypes.data
    trans_c, ld_c = c_layout
    swapped = trans_c == _TRANS
    if swapped:
        m, n = n, m
        ptr_a, ptr_b = ptr_b, ptr_a
        trans_a, trans_b = _flip(trans_b), _flip(trans_a)
        ld_a, ld_b = ld_b, ld_a
        stride_a, stride_b = stride_b, stride_a
    ptr_c = out.ctypes.data
    if batch == 1:
        arguments = [_ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, ptr_a, ld_a, ptr_b, ld_b, 0.0]
        return _Product(mkl.gemm[dtype], [*arguments, ptr_c, ld_c], (a, b, out), swapped)
    arguments = [_ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, ptr_a, ld_a, stride_a, ptr_b, ld_b]
    arguments += [stride_b, 0.0, ptr_c, ld_c, stride_c // size, batch]
    return _Product(mkl.gemm_batch[dtype], arguments, (a, b, out), swapped)


def matmul(a: Array, b: Array, out: Array | None = None) -> Array:
    """``numpy.matmul(a, b, out=out)``, run by MKL for float32 and float64 matrices and stacks
    of them (3-D, a 2-D operand shared by the whole stack) when they are large enough to gain;
    anything else goes to NumPy.

    Transposed views are passed to BLAS as transposes; other views it cannot read (negative or
    gapped strides) are copied first.
    """
    if _mkl is not None:
        product = _product(_mkl, a, b, out)
        if product is not None:
            return product.run()
    return xp.matmul(a, b, out=out)


def matmul_sum(a: Array, b: Array, out: Array | None = None, scratch: Array | None = None) -> Array:
    """``(a @ b).sum(axis=0)`` for stacks ``a`` and ``b`` (3-D, the same batch size), into
    ``out``: the backward step of a gate-stacked recurrent layer.

    MKL adds every product into ``out`` as it computes it (GEMM's ``beta = 1``); NumPy
    multiplies into ``scratch`` (allocated if not given) and sums that.
    """
    if _mkl is not None and a.ndim == b.ndim == 3 and 0 < a.shape[0] == b.shape[0]:
        run = _summed_products(_mkl, _readable(a), _readable(b), out)
        if run is not None:
            return run(0)
    products = xp.matmul(a, b, out=scratch)
    if out is None:
        return products.sum(axis=0)
    xp.add.reduce(products, axis=0, out=out)
    return out


def matmul_steps(a: Array, b: Array, out: Array) -> Callable[[int], Array]:
    """``step(t)`` computes ``a[t] @ b`` into ``out[t]`` (``out`` a stack over the steps) or into
    ``out`` itself (one buffer for every step), for ``0 <= t < len(a)``, as ``matmul`` would: a
    recurrent layer's product of each time step, which has to run between the step's
    elementwise work. ``out`` must not overlap ``a`` or ``b``.

    The operands are checked once, here, instead of on every step (that cost 1-2 ms of a
    128-step sequence); MKL then runs each step from pointers.
    """
    steps = a.shape[0]
    stacked = out.ndim > max(a.ndim - 1, b.ndim)
    if _mkl is not None and 0 < steps == (out.shape[0] if stacked else steps) and _apart(out, a, b):
        a0 = a[0]
        product = _product(_mkl, a0, b, out[0] if stacked else out)
        # the pointer steps through a itself: a copy of its first matrix won't do
        if product is not None and product.operands[0] is a0:
            arguments, slot_a, slot_out = product.arguments, product.slot_a, product.slot_out
            base_a, step_a = arguments[slot_a], a.strides[0]
            base_out, step_out = arguments[slot_out], out.strides[0] if stacked else 0

            def step(t: int) -> Array:
                if not 0 <= t < steps:
                    raise IndexError(f"step {t} is outside a sequence of {steps}")
                arguments[slot_a] = base_a + t * step_a
                arguments[slot_out] = base_out + t * step_out
                product.run()
                return out[t] if stacked else out

            return step

    def numpy_step(t: int) -> Array:
        if not 0 <= t < steps:
            raise IndexError(f"step {t} is outside a sequence of {steps}")
        return xp.matmul(a[t], b, out=out[t] if stacked else out)

    return numpy_step


def matmul_sum_steps(a: Array, b: Array, out: Array, scratch: Array) -> Callable[[int], Array]:
    """``step(t)`` computes ``out = (a[t] @ b).sum(axis=0)``, as ``matmul_sum`` would, for a
    stack over time steps ``a`` of gate stacks: a recurrent layer's backward product of each
    step, checked once here. ``out`` must not overlap ``a`` or ``b``."""
    steps = a.shape[0]
    fits = a.ndim == 4 and b.ndim == 3 and steps > 0 and 0 < a.shape[1] == b.shape[0]
    if _mkl is not None and fits and _apart(out, a, b):
        run = _summed_products(_mkl, a[0], b, out)
        if run is not None:
            step_a = a.strides[0]

            def step(t: int) -> Array:
                if not 0 <= t < steps:
                    raise IndexError(f"step {t} is outside a sequence of {steps}")
                return run(t * step_a)

            return step

    def numpy_step(t: int) -> Array:
        if not 0 <= t < steps:
            raise IndexError(f"step {t} is outside a sequence of {steps}")
        xp.matmul(a[t], b, out=scratch)
        return xp.add.reduce(scratch, axis=0, out=out)

    return numpy_step


def _apart(out: Array, a: Array, b: Array) -> bool:
    return not (np.may_share_memory(out, a) or np.may_share_memory(out, b))


def _summed_products(
    mkl: _MKL, a: Array, b: Array, out: Array | None
) -> Callable[[int], Array] | None:
    """``run(offset)``: ``out = sum_k a[k] @ b[k]`` with ``a``'s pointers moved ``offset``
    bytes on, each product added into ``out`` by GEMM's ``beta = 1``; None if MKL cannot."""
    a0, b0 = a[0], b[0]
    product = _product(mkl, a0, b0, out)
    # the pointers step through a and b themselves: a copy of their first matrices won't do
    if product is None or product.operands[0] is not a0 or product.operands[1] is not b0:
        return None
    arguments, function, count = product.arguments, product.function, a.shape[0]
    slot_a, slot_b, slot_beta = product.slot_a, product.slot_b, product.slot_beta
    base_a, base_b = arguments[slot_a], arguments[slot_b]
    step_a, step_b = a.strides[0], b.strides[0]

    def run(offset: int) -> Array:
        arguments[slot_beta] = 0.0
        for k in range(count):
            arguments[slot_a] = base_a + offset + k * step_a
            arguments[slot_b] = base_b + k * step_b
            function(*arguments)
            arguments[slot_beta] = 1.0
        return product.out

    return run


def _readable(stack: Array) -> Array:
    """``stack``, or a contiguous copy if BLAS cannot read its matrices in place."""
    rows, cols = stack.shape[-2:]
    if _blas_layout(rows, cols, stack.strides[-2], stack.strides[-1], stack.itemsize) is None:
        return xp.ascontiguousarray(stack)
    return stack
