"""``forge_core.native``: the compiled LSTM and GRU loops give the NumPy loops' results for every
shape, option and thread count, on both matrix libraries, and their ``tanh`` is exact to
float32."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import forge_core as fc
from forge_core import gemm, native
from forge_core.ops.recurrent import GRUSequence, LSTMSequence
from tests.forge_core.fresh_process import report_of


@pytest.fixture(autouse=True)
def _default_kernels() -> Iterator[None]:
    yield
    native.set_kernels()


def test_the_install_built_the_kernels():
    # `pip install -e .` compiles forge_core/_native.c; without a C compiler it goes on
    # without it, and forge_core runs everything on NumPy. This install must have it.
    assert native.native_available(), "forge_core/_native.c was not built: is gcc installed?"
    assert native.native_lstm(np.float32) is not None
    assert native.native_gru(np.float32) is not None


def _ulps(actual: np.ndarray, x: np.ndarray) -> np.ndarray:
    exact = np.tanh(x.astype(np.float64))
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def test_tanh_is_within_two_ulps_everywhere():
    x = np.concatenate(
        [
            np.linspace(-12, 12, 2_000_001),
            np.geomspace(1e-38, 12, 200_001),
            -np.geomspace(1e-38, 12, 20_001),
        ]
    ).astype(np.float32)
    assert _ulps(native.tanh_f32(x), x).max() <= 2.0


def test_tanh_of_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 10.0, -10.0, 3e38, 1e-45], np.float32)
    out = native.tanh_f32(x)
    expected = np.array([0, 1, -1, 1, -1, 1, x[8]], np.float32)  # tanh(x) = x this small
    np.testing.assert_array_equal(out[[0, 2, 3, 5, 6, 7, 8]], expected)
    assert np.signbit(out[1]) and not np.signbit(out[0])
    assert np.isnan(out[4])


OPS = {"LSTM": (LSTMSequence, 4), "GRU": (GRUSequence, 3)}


def _inputs(
    kind: str, steps: int, batch: int, features: int, hidden: int, bias: bool, seed: int = 0
) -> list[np.ndarray]:
    """x, h0[, c0], w_ih, w_hh[, b_ih, b_hh] of an LSTM or a GRU, in float64."""
    rng = np.random.default_rng(seed)
    rows = OPS[kind][1] * hidden
    shapes = [(steps, batch, features), (batch, hidden)]
    shapes += [(batch, hidden)] if kind == "LSTM" else []
    shapes += [(rows, features), (rows, hidden)]
    shapes += [(rows,), (rows,)] if bias else []
    return [rng.uniform(-0.5, 0.5, shape) for shape in shapes]


def _run(
    kind: str,
    kernels: str,
    arrays: list[np.ndarray],
    dtype: Any,
    reverse: bool,
    needs: list[bool] | None = None,
) -> list[np.ndarray | None]:
    """Outputs and input gradients of one fused LSTM or GRU call, on ``kernels``."""
    native.set_kernels(kernels)
    needs = [True] * len(arrays) if needs is None else needs
    inputs = [
        fc.tensor(a.astype(dtype), requires_grad=n) for a, n in zip(arrays, needs, strict=True)
    ]
    outputs = OPS[kind][0].apply(*inputs, reverse=reverse)
    probes = np.random.default_rng(9).standard_normal(sum(o.data.size for o in outputs))
    flat = fc.cat([o.reshape(-1) for o in outputs])
    (flat * fc.tensor(probes.astype(dtype))).sum().backward()
    grads = [None if t.grad is None else t.grad.data for t in inputs]
    return [o.data for o in outputs] + grads


def _assert_same(native_results: list[Any], reference: list[Any], rtol: float, atol: float) -> None:
    assert len(native_results) == len(reference)
    for i, (a, b) in enumerate(zip(native_results, reference, strict=True)):
        assert (a is None) == (b is None), f"result {i}"
        if a is not None:
            assert a.dtype == np.float32, f"result {i}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"result {i}")


CASES = {
    # steps, batch, features, hidden, bias, reverse
    "plain": (7, 4, 3, 5, True, False),
    "no bias": (7, 4, 3, 5, False, False),
    "reverse": (6, 3, 2, 4, True, True),
    "one feature": (9, 5, 1, 6, True, False),
    "one row": (5, 1, 3, 4, True, False),
    "one step": (1, 4, 2, 3, True, True),
    "wide": (4, 6, 3, 40, True, False),
}


@pytest.mark.parametrize("blas_threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", list(OPS))
def test_kernels_match_numpy_loops_and_float64(
    gemm_backend: str, blas_threads: int, kind: str, case: str
):
    steps, batch, features, hidden, bias, reverse = CASES[case]
    arrays = _inputs(kind, steps, batch, features, hidden, bias)
    compiled = _run(kind, "native", arrays, np.float32, reverse)
    _assert_same(compiled, _run(kind, "numpy", arrays, np.float32, reverse), 1e-5, 1e-6)
    _assert_same(compiled, _run(kind, "numpy", arrays, np.float64, reverse), 1e-4, 1e-5)


# which inputs need a gradient: x, the initial state(s), the weights and biases
NEEDS = {
    "input": lambda state: [True] + [False] * state + [False] * 4,  # an attribution
    "weights": lambda state: [False] + [False] * state + [True] * 4,  # training
    "state": lambda state: [False] + [True] * state + [False] * 4,
}


@pytest.mark.parametrize("which", list(NEEDS))
@pytest.mark.parametrize("kind", list(OPS))
def test_kernels_compute_only_the_gradients_asked_for(kind: str, which: str):
    arrays = _inputs(kind, 5, 3, 2, 4, bias=True, seed=3)
    needs = NEEDS[which](2 if kind == "LSTM" else 1)
    compiled = _run(kind, "native", arrays, np.float32, False, needs)
    _assert_same(compiled, _run(kind, "numpy", arrays, np.float32, False, needs), 1e-5, 1e-6)


@pytest.mark.parametrize("blas_threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("batch", [1, 2, 5])
@pytest.mark.parametrize("kind", list(OPS))
def test_kernels_leave_the_blas_thread_count_as_it_was(blas_threads: int, batch: int, kind: str):
    blas = gemm.blas()
    assert blas is not None
    _run(kind, "native", _inputs(kind, 4, batch, 2, 3, bias=True), np.float32, False)
    assert blas.get_threads() == blas_threads


def test_float64_and_numpy_choice_stay_on_numpy():
    assert native.native_lstm(np.float64) is None and native.native_gru(np.float64) is None
    native.set_kernels("numpy")
    assert native.native_lstm(np.float32) is None and native.native_gru(np.float32) is None


def test_a_bad_kernels_setting_names_the_variable():
    with pytest.raises(ValueError, match="FORGE_KERNELS must be native or numpy, got 'fast'"):
        native.set_kernels("fast")


def test_forge_kernels_is_read_at_import():
    script = (
        "import json; import numpy as np; from forge_core import native; "
        "print(json.dumps({'native': native.native_lstm(np.float32) is not None}))"
    )
    for value, expected in (("numpy", False), (" Native ", True), ("", True)):
        report = report_of(script, unset=["FORGE_KERNELS"], environment={"FORGE_KERNELS": value})
        assert report == {"native": expected}, value


def test_kernels_refuse_arrays_they_cannot_read():
    with pytest.raises(ValueError, match="C-contiguous float32"):
        native.tanh_f32(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="C-contiguous float32"):
        native.tanh_f32(np.zeros(4, np.float64))
