"""The ``gemm_backend`` fixture: a test that uses it runs once on MKL (when the ``mkl`` extra is
installed) and once on NumPy, so both libraries' products stay checked."""

from collections.abc import Iterator

import pytest

from forge_core import gemm

needs_mkl = pytest.mark.skipif(not gemm.mkl_available(), reason="the mkl extra is not installed")


@pytest.fixture(params=[pytest.param("mkl", marks=needs_mkl), "numpy"])
def gemm_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """MKL takes even the tests' tiny products here (``min_work=0``)."""
    gemm.set_backend(request.param, min_work=0)
    yield request.param
    gemm.set_backend()
