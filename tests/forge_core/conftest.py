"""The ``gemm_backend`` fixture: a test that uses it runs once on MKL (when the ``mkl`` extra is
installed) and once on NumPy, so both libraries' products stay checked; and ``blas_threads``,
the thread count the compiled kernels run on."""

from collections.abc import Iterator

import pytest

from forge_core import gemm, native

needs_mkl = pytest.mark.skipif(not gemm.mkl_available(), reason="the mkl extra is not installed")


@pytest.fixture(params=[pytest.param("mkl", marks=needs_mkl), "numpy"])
def gemm_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """MKL takes even the tests' tiny products here (``min_work=0``)."""
    gemm.set_backend(request.param, min_work=0)
    yield request.param
    gemm.set_backend()


@pytest.fixture
def blas_threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The BLAS's thread count for the test (the compiled kernels use as many), with even tiny
    convolutions and pools split between them; restored after the test."""
    blas = gemm.blas()
    assert blas is not None
    before = blas.get_threads()
    blas.set_threads(request.param)
    for kind in (native.NativeConv, native.NativePool):
        monkeypatch.setattr(kind, "MIN_SPLIT", 0)
    yield request.param
    blas.set_threads(before)
