"""``forge_core.gemm``: MKL's products give NumPy's results for every layout the engine passes,
and whatever MKL cannot take goes to NumPy instead of giving a wrong answer."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from forge_core import gemm
from tests.forge_core.fresh_process import report_of

needs_mkl = pytest.mark.skipif(not gemm.mkl_available(), reason="the mkl extra is not installed")


def _random(shape: tuple[int, ...], dtype: Any = np.float32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    tolerance = 1e-5 if actual.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def _on_mkl(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> bool:
    """Whether the MKL backend would run this product itself (not hand it to NumPy)."""
    return gemm._mkl is not None and gemm._product(gemm._mkl, a, b, out) is not None


# (a, b) pairs: plain, stacked, shared by the stack, broadcast from a stack of one, transposed
# views, rows with a gap (a leading dimension above the width), and views BLAS cannot read
# (negative and gapped column strides), which are copied first.
LAYOUTS: dict[str, Callable[[Any], tuple[np.ndarray, np.ndarray]]] = {
    "2d@2d": lambda t: (_random((5, 7), t), _random((7, 3), t, 1)),
    "3d@2d": lambda t: (_random((4, 5, 7), t), _random((7, 3), t, 1)),
    "2d@3d": lambda t: (_random((5, 7), t), _random((4, 7, 3), t, 1)),
    "3d@3d": lambda t: (_random((4, 5, 7), t), _random((4, 7, 3), t, 1)),
    "stack-of-one@3d": lambda t: (_random((1, 5, 7), t), _random((4, 7, 3), t, 1)),
    "a.T": lambda t: (_random((7, 5), t).T, _random((7, 3), t, 1)),
    "b.T": lambda t: (_random((5, 7), t), _random((3, 7), t, 1).T),
    "stacked transposes": lambda t: (
        _random((4, 7, 5), t).transpose(0, 2, 1),
        _random((4, 3, 7), t, 1).transpose(0, 2, 1),
    ),
    "row gap": lambda t: (_random((10, 9), t)[::2, :7], _random((7, 6), t, 1)[:, :3]),
    "gate slice of a time-major buffer": lambda t: (
        _random((5, 7), t),
        _random((4, 6, 7, 3), t, 1)[:, 2],
    ),
    "column gap (copied)": lambda t: (_random((5, 14), t)[:, ::2], _random((7, 3), t, 1)),
    "reversed rows (copied)": lambda t: (_random((5, 7), t)[::-1], _random((7, 3), t, 1)),
    "reversed stack (copied)": lambda t: (_random((4, 5, 7), t)[::-1], _random((7, 3), t, 1)),
    "one row": lambda t: (_random((1, 7), t), _random((7, 3), t, 1)),
    "one column": lambda t: (_random((5, 7), t), _random((7, 1), t, 1)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_matmul_matches_numpy(gemm_backend: str, layout: str, dtype: Any):
    a, b = LAYOUTS[layout](dtype)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(dtype)
    if gemm_backend == "mkl":
        assert _on_mkl(a, b)
    _close(gemm.matmul(a, b), expected)


@pytest.mark.parametrize("layout", ["2d@2d", "3d@3d", "b.T"])
def test_matmul_writes_into_out_and_returns_it(gemm_backend: str, layout: str):
    a, b = LAYOUTS[layout](np.float32)
    out = np.full(np.matmul(a, b).shape, np.nan, dtype=np.float32)
    assert gemm.matmul(a, b, out=out) is out
    _close(out, np.matmul(a, b))


def test_matmul_into_strided_and_transposed_outs(gemm_backend: str):
    a, b = _random((5, 7)), _random((4, 7, 3), seed=1)
    # a time step of a gate-major (gates, T, B, H) buffer, as the LSTM's forward writes it
    buffer = np.zeros((4, 6, 5, 3), dtype=np.float32)
    if gemm_backend == "mkl":
        assert _on_mkl(a, b, buffer[:, 2])
    gemm.matmul(a, b, out=buffer[:, 2])
    _close(buffer[:, 2], np.matmul(a, b))
    assert not buffer[:, [0, 1, 3, 4, 5]].any(), "wrote outside its step"
    # out stored transposed: BLAS computes out.T = b.T @ a.T
    transposed = np.empty((4, 3, 5), dtype=np.float32).transpose(0, 2, 1)
    if gemm_backend == "mkl":
        assert _on_mkl(a, b, transposed)
    gemm.matmul(a, b, out=transposed)
    _close(transposed, np.matmul(a, b))


def test_matmul_leaves_to_numpy_what_blas_cannot_do(gemm_backend: str):
    a, b = _random((5, 7)), _random((7, 3), seed=1)
    # integers, mixed precision, an out that overlaps an input, 4-D stacks: NumPy's results
    ints = np.arange(35).reshape(5, 7)
    np.testing.assert_array_equal(gemm.matmul(ints, ints.T), ints @ ints.T)
    mixed = gemm.matmul(a, b.astype(np.float64))
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, a @ b.astype(np.float64), rtol=1e-6)
    square = _random((6, 6))
    expected = square @ square
    gemm.matmul(square, square, out=square)
    _close(square, expected)
    four = _random((2, 2, 5, 7))
    _close(gemm.matmul(four, b), four @ b)
    assert not _on_mkl(ints, ints.T) and not _on_mkl(four, b)


def test_matmul_raises_numpys_errors(gemm_backend: str):
    with pytest.raises(ValueError):
        gemm.matmul(_random((5, 7)), _random((6, 3)))
    with pytest.raises(ValueError):
        gemm.matmul(_random((5, 7)), _random((7, 3)), out=np.empty((5, 4), np.float32))


def test_products_below_min_work_go_to_numpy():
    if not gemm.mkl_available():
        pytest.skip("the mkl extra is not installed")
    gemm.set_backend("mkl")
    try:
        assert not _on_mkl(_random((8, 8)), _random((8, 8)))
        assert _on_mkl(_random((64, 130)), _random((130, 128)))
    finally:
        gemm.set_backend()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matmul_sum_matches_numpy(gemm_backend: str, dtype: Any):
    a, b = _random((4, 5, 7), dtype), _random((4, 7, 3), dtype, 1)
    expected = np.matmul(a, b).sum(axis=0)
    _close(gemm.matmul_sum(a, b), expected)
    out = np.full((5, 3), np.nan, dtype=dtype)
    scratch = np.empty((4, 5, 3), dtype=dtype)
    assert gemm.matmul_sum(a, b, out=out, scratch=scratch) is out
    _close(out, expected)
    # a gate slice of a gate-major buffer, gapped stacks (copied) and a transposed out
    buffer = _random((4, 6, 5, 7), dtype)
    _close(gemm.matmul_sum(buffer[:, 3], b), np.matmul(buffer[:, 3], b).sum(axis=0))
    _close(gemm.matmul_sum(a[:, :, ::-1], b[:, ::-1]), expected)
    transposed = np.empty((3, 5), dtype=dtype).T
    gemm.matmul_sum(a, b, out=transposed)
    _close(transposed, expected)


@needs_mkl
def test_auto_takes_mkl_on_intel_only():
    report = _backend_in_child({})
    assert report["backend"] == ("mkl" if gemm.intel_cpu() else "numpy")


@pytest.mark.parametrize(
    ("cpuinfo", "vendor"),
    [
        ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n", "GenuineIntel"),
        ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n", "AuthenticAMD"),
    ],
)
def test_cpu_vendor_reads_proc_cpuinfo(cpuinfo: str, vendor: str):
    assert gemm.cpu_vendor(cpuinfo) == vendor


def test_set_backend_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="mkl, numpy or auto"):
        gemm.set_backend("openblas")


def test_asking_for_mkl_without_it_says_what_to_install():
    if gemm.mkl_available():
        pytest.skip("the mkl extra is installed")
    with pytest.raises(RuntimeError, match=r"azuraforge\[mkl\]"):
        gemm.set_backend("mkl")


def _backend_in_child(environment: dict[str, str]) -> dict[str, Any]:
    """Import the engine in a fresh process with ``environment`` and report what it chose."""
    script = (
        "import json, threadpoolctl\n"
        "from forge_core import gemm\n"
        "pools = {p['internal_api']: p['num_threads'] for p in threadpoolctl.threadpool_info()}\n"
        "print(json.dumps({'backend': gemm.get_backend(), 'threads': pools}))\n"
    )
    names = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    return report_of(script, (*names, "FORGE_GEMM"), environment)


@needs_mkl
@pytest.mark.parametrize(
    "environment",
    [{}, {"OPENBLAS_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2"}],
    ids=["unset", "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1"],
)
def test_mkl_gets_as_many_threads_as_openblas(environment: dict[str, str]):
    pytest.importorskip("threadpoolctl")
    report = _backend_in_child({**environment, "FORGE_GEMM": "mkl"})
    assert report["backend"] == "mkl"
    assert report["threads"]["mkl"] == report["threads"]["openblas"]


@needs_mkl
def test_forge_gemm_numpy_turns_mkl_off():
    pytest.importorskip("threadpoolctl")
    report = _backend_in_child({"FORGE_GEMM": "numpy"})
    assert report["backend"] == "numpy"
    assert "mkl" not in report["threads"], "MKL was loaded all the same"


def _runs_on_mkl(step: Callable[[int], np.ndarray]) -> bool:
    return step.__name__ != "numpy_step"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matmul_steps_match_numpy_step_by_step(gemm_backend: str, dtype: Any):
    # the LSTM's forward: a state row block of each step times the gate-stacked weights, into
    # the step's slice of a gate-major buffer; then the GRU's, into one buffer for every step
    states, weights = _random((6, 5, 7), dtype), _random((4, 7, 3), dtype, 1)
    acts = np.zeros((4, 5, 5, 3), dtype=dtype)
    step = gemm.matmul_steps(states[:5], weights, acts.transpose(1, 0, 2, 3))
    assert _runs_on_mkl(step) == (gemm_backend == "mkl")
    for t in (2, 0, 4):
        _close(step(t), np.matmul(states[t], weights))
        _close(acts[:, t], np.matmul(states[t], weights))
    assert not acts[:, [1, 3]].any(), "wrote outside the steps asked for"
    with pytest.raises(IndexError):
        step(5)
    buffer = np.empty((4, 5, 3), dtype=dtype)
    shared = gemm.matmul_steps(states, weights, buffer)
    assert _runs_on_mkl(shared) == (gemm_backend == "mkl")
    for t in range(6):
        assert shared(t) is buffer
        _close(buffer, np.matmul(states[t], weights))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_matmul_sum_steps_match_numpy_step_by_step(gemm_backend: str, dtype: Any):
    # the LSTM's backward: the gate gradients of each step (gate-major) times W_hh's gate blocks
    grads, weights = _random((4, 5, 6, 7), dtype), _random((4, 7, 3), dtype, 1)
    out = np.empty((6, 3), dtype=dtype)
    step = gemm.matmul_sum_steps(
        grads.transpose(1, 0, 2, 3), weights, out=out, scratch=np.empty((4, 6, 3), dtype=dtype)
    )
    assert _runs_on_mkl(step) == (gemm_backend == "mkl")
    for t in (4, 1, 0):
        assert step(t) is out
        _close(out, np.matmul(grads[:, t], weights).sum(axis=0))
    with pytest.raises(IndexError):
        step(-1)


def test_steps_leave_to_numpy_what_they_cannot_step_through(gemm_backend: str):
    weights = _random((7, 3), seed=1)
    # gapped columns: each step's matrix would be a copy, so the pointers cannot step
    gapped = _random((5, 6, 14))[:, :, ::2]
    out = np.empty((5, 6, 3), dtype=np.float32)
    step = gemm.matmul_steps(gapped, weights, out)
    assert not _runs_on_mkl(step)
    _close(step(3), np.matmul(gapped[3], weights))
    # an out that overlaps the input
    joint = _random((5, 6, 10))
    step = gemm.matmul_steps(joint[:, :, :7], weights, joint[:, :, 7:])
    assert not _runs_on_mkl(step)
    expected = np.matmul(joint[2, :, :7], weights)
    _close(step(2), expected)


def test_blas_gives_compiled_kernels_a_working_sgemm(gemm_backend: str):
    blas = gemm.blas()
    assert blas is not None
    # NumPy's bundled OpenBLAS takes 64-bit integers, MKL's LP64 interface 32-bit ones
    assert blas.ilp64 == (gemm_backend == "numpy")
    integer = ctypes.c_int64 if blas.ilp64 else ctypes.c_int32
    f, p, i = ctypes.c_float, ctypes.c_void_p, ctypes.c_int
    signature = ctypes.CFUNCTYPE(
        None, i, i, i, *[integer] * 3, f, p, integer, p, integer, f, p, integer
    )
    sgemm = signature(blas.sgemm)
    a, b = _random((5, 7)), _random((7, 3), seed=1)
    c = np.ones((5, 3), np.float32)
    # row-major, no transposes: c = a @ b + 0.5 * c
    sgemm(101, 111, 111, 5, 3, 7, 1.0, a.ctypes.data, 7, b.ctypes.data, 3, 0.5, c.ctypes.data, 3)
    _close(c, a @ b + np.float32(0.5))
    before = blas.get_threads()
    blas.set_threads(1)
    assert blas.get_threads() == 1
    blas.set_threads(before)
    assert blas.get_threads() == before
