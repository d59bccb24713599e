"""BLAS called from compiled code (toygrad/blas.py): the same products as np.matmul, bit for bit."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError
from threadpoolctl import threadpool_info

from strategies import floats
from toygrad import blas

DTYPES = [np.float32, np.float64]


@njit
def compiled_matmul_into(gemm, A, B, C, transpose_a, transpose_b):
    blas.matmul_into(gemm, A, B, C, transpose_a, transpose_b)


def test_numpys_own_openblas_is_found_in_both_dtypes():
    """NumPy's wheels from PyPI carry scipy-openblas (64-bit integers): where it is loaded, gemm must find it, or the
    kernels quietly fall back to np.matmul from Python and lose the speed."""
    if not any(lib["internal_api"] == "openblas" and "scipy_openblas64_" in lib["filepath"] for lib in threadpool_info()):
        pytest.skip("NumPy's BLAS here is not the scipy-openblas of its wheels")
    assert blas.gemm(np.float32) is not None and blas.gemm(np.float64) is not None
    assert blas.gemm(np.float32) is not blas.gemm(np.float64)


def test_there_is_no_gemm_for_other_dtypes():
    assert blas.gemm(np.int64) is None and blas.gemm(np.complex128) is None and blas.gemm(np.float16) is None


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_matmul_into_gives_the_bits_of_np_matmul(dtype, data):
    """Every combination of transposes, and empty products: M, N or K of 0 (BLAS itself rejects a leading
    dimension of 0; the sum over K = 0 terms is 0). With M or N of 1 np.matmul calls a matrix-vector routine
    instead, which may add in another order: there the product must agree to rounding."""
    gemm = blas.gemm(dtype)
    if gemm is None:
        pytest.skip("no BLAS that compiled code can call here")
    M, N, K = (data.draw(st.integers(0, 40)) for _ in range(3))
    transpose_a, transpose_b = data.draw(st.booleans()), data.draw(st.booleans())
    A = data.draw(floats((K, M) if transpose_a else (M, K), dtype))
    B = data.draw(floats((N, K) if transpose_b else (K, N), dtype))
    C = np.full((M, N), np.nan, dtype)                          # every entry must be written
    compiled_matmul_into(gemm, A, B, C, transpose_a, transpose_b)
    expected = np.matmul(A.T if transpose_a else A, B.T if transpose_b else B)
    if M == 1 or N == 1:
        tol = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
        np.testing.assert_allclose(C, expected, rtol=tol, atol=tol * max(K, 1), strict=True)
    else:
        np.testing.assert_array_equal(C, expected, strict=True)
    python_C = np.full((M, N), np.nan, dtype)
    blas.matmul_into(None, A, B, python_C, transpose_a, transpose_b)    # the version Python runs
    np.testing.assert_array_equal(python_C, expected, strict=True)


def test_matmul_into_refuses_arrays_that_are_not_c_contiguous():
    gemm = blas.gemm(np.float64)
    if gemm is None:
        pytest.skip("no BLAS that compiled code can call here")
    A = np.ones((4, 3))
    with pytest.raises(TypingError, match="must be C-contiguous, got layouts A, C, C"):
        compiled_matmul_into(gemm, A[:, ::2], np.ones((2, 5)), np.empty((4, 5)), False, False)
