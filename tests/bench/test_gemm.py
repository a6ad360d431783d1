"""bench/gemm.py compares like with like: each product gives the same values on NumPy and MKL."""

import numpy as np
import pytest

from bench.gemm import products
from forge_core import gemm


@pytest.mark.skipif(not gemm.mkl_available(), reason="the mkl extra is not installed")
def test_each_product_gives_the_same_values_on_both_libraries() -> None:
    try:
        for name, run in products().items():
            gemm.set_backend("numpy")
            expected = run().copy()
            gemm.set_backend("mkl")
            np.testing.assert_allclose(run(), expected, rtol=1e-4, atol=1e-3, err_msg=name)
    finally:
        gemm.set_backend()
