"""BLAS called from compiled code (toygrad/blas.py, kernels.matmul_into): the same products as np.matmul, bit for bit."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError
from threadpoolctl import threadpool_info

from strategies import floats
from toygrad import blas, kernels

DTYPES = [np.float32, np.float64]


@njit
def compiled_matmul_into(gemm, A, B, C, transpose_a, transpose_b):
    kernels.matmul_into(gemm, A, B, C, transpose_a, transpose_b)


def gemm_or_skip(dtype):
    gemm = blas.gemm(dtype)
    if gemm is None:
        pytest.skip("NumPy's BLAS here is not one that compiled code can call")
    return gemm


def test_numpys_own_openblas_is_found_in_both_dtypes():
    """NumPy's wheels from PyPI carry a 64-bit-integer OpenBLAS (scipy_openblas64_, or openblas64_ before 2.0):
    where it is loaded, gemm must find it, or the kernels quietly fall back to np.matmul from Python."""
    if not any(lib["internal_api"] == "openblas" and "openblas64_" in lib["filepath"] for lib in threadpool_info()):
        pytest.skip("NumPy's BLAS here is not the OpenBLAS of its wheels")
    assert blas.gemm(np.float32) is not None and blas.gemm(np.float64) is not None


def test_there_is_no_gemm_for_other_dtypes():
    assert blas.gemm(np.int64) is None and blas.gemm(np.complex128) is None and blas.gemm(np.float16) is None


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_matmul_into_gives_the_bits_of_np_matmul(dtype, data):
    """Every combination of transposes, and empty products: M, N or K of 0 (nothing to multiply; the sum over
    K = 0 terms is 0). With M or N of 1 np.matmul calls a matrix-vector routine instead, and with K of 1 a loop of
    its own, which may round differently: there the product must agree to rounding."""
    gemm = gemm_or_skip(dtype)
    M, N, K = (data.draw(st.integers(0, 40)) for _ in range(3))
    transpose_a, transpose_b = data.draw(st.booleans()), data.draw(st.booleans())
    A = data.draw(floats((K, M) if transpose_a else (M, K), dtype))
    B = data.draw(floats((N, K) if transpose_b else (K, N), dtype))
    C = np.full((M, N), np.nan, dtype)                          # every entry must be written
    compiled_matmul_into(gemm, A, B, C, transpose_a, transpose_b)
    expected = np.matmul(A.T if transpose_a else A, B.T if transpose_b else B)
    if 1 in (M, N, K):
        tol = {np.float32: 1e-5, np.float64: 1e-12}[dtype]
        np.testing.assert_allclose(C, expected, rtol=tol, atol=tol * max(K, 1), strict=True)
    else:
        np.testing.assert_array_equal(C, expected, strict=True)


def test_matmul_into_refuses_what_it_cannot_multiply():
    """Compiled, matmul_into hands raw pointers to BLAS, which would read and write past arrays of the wrong shape or
    dtype: those are refused, by name."""
    gemm = gemm_or_skip(np.float64)
    A, B, C = np.ones((4, 3)), np.ones((3, 5)), np.empty((4, 5))
    with pytest.raises(TypingError, match="must be C-contiguous 2-D arrays of gemm's dtype float64"):
        compiled_matmul_into(gemm, A[:, ::2], np.ones((2, 5)), C, False, False)
    with pytest.raises(TypingError, match="must be C-contiguous 2-D arrays of gemm's dtype float64"):
        compiled_matmul_into(gemm, A.astype(np.float32), B, C, False, False)
    with pytest.raises(TypingError, match="must be C-contiguous 2-D arrays"):
        compiled_matmul_into(gemm, A.reshape(-1), B, C, False, False)
    with pytest.raises(TypingError, match="expected a gemm from blas.gemm and three arrays"):
        compiled_matmul_into(None, A, B, C, False, False)
    for a, b, c, ta, tb in ((A, B, np.empty((4, 4)), False, False), (A, B, C, True, False), (A, np.ones((4, 5)), C, False, False),
                            (A, B, np.empty((5, 4)), False, False), (A, np.ones((5, 3)), C, False, False)):
        with pytest.raises(ValueError, match="do not make a product"):
            compiled_matmul_into(gemm, a, b, c, ta, tb)
    compiled_matmul_into(gemm, A, np.ones((5, 3)), C, False, True)       # op(B) = Bᵀ (3, 5): fine
    np.testing.assert_array_equal(C, np.full((4, 5), 3.0))
