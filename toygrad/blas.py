"""BLAS's matrix product, called from inside numba kernels.

A kernel that calls np.matmul between numba passes goes back to Python for each product, and a kernel shared
out over threads then waits its turn for the interpreter's lock at each of them: the grokking model's loss, in
two halves on two cores, spent 45 us of its 265 a step so (measured). numba's own np.dot would call BLAS from
compiled code, but through SciPy, which toygrad does not depend on. NumPy carries a BLAS of its own, and
threadpoolctl (which toygrad already uses to keep BLAS on one thread) finds it: gemm(dtype) returns its cblas
?gemm as a ctypes function, which a kernel takes as an argument (so the kernel still caches on disk: the address
is not compiled into it) and calls through matmul_into. The products are NumPy's, bit for bit: np.matmul calls
the same routine with the same arguments (but for a matrix times a vector, where it calls ?gemv).

gemm(dtype) is None where NumPy's BLAS is not one whose calling convention is known here (the 64-bit-integer
OpenBLAS of NumPy's wheels from PyPI); the kernel's Python function (.py_func) then runs instead, its products
np.matmul calls and its loops still compiled.
"""
import ctypes
import functools

import numpy as np
from numba.core.errors import TypingError
from numba.extending import overload
from threadpoolctl import threadpool_info

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112          # the CBLAS enums (cblas.h)

# (symbol, integer type): the OpenBLAS builds of NumPy's wheels; "64_" marks the interface with 64-bit integers
_SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64),     # NumPy >= 2.0
            ("cblas_{}gemm64_", ctypes.c_int64))           # NumPy 1.22 to 1.26


@functools.cache
def gemm(dtype):
    """cblas_sgemm (float32) or cblas_dgemm (float64) of NumPy's BLAS as a ctypes function, or None (see above).

    gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc):  C = alpha op(A) op(B) + beta C
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        return None
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    for library in threadpool_info():                      # the libraries this process has loaded
        if library["internal_api"] != "openblas":
            continue
        dynlib = ctypes.CDLL(library["filepath"])          # loaded already: this only opens a handle on it
        for symbol, integer in _SYMBOLS:
            name = symbol.format("s" if dtype == np.float32 else "d")
            if hasattr(dynlib, name):
                signature = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
                                             real, ctypes.c_void_p, integer, ctypes.c_void_p, integer, real,
                                             ctypes.c_void_p, integer)
                return signature((name, dynlib))
    return None


def matmul_into(gemm, A, B, C, transpose_a, transpose_b):
    """C = op(A) op(B), op(X) = Xᵀ if asked, else X.    A, B, C: 2-D, C-contiguous, of one float dtype.
    gemm: gemm(C.dtype). The caller checks the shapes: C (M, N), op(A) (M, K), op(B) (K, N). This is the version
    Python runs (np.matmul, which calls the same BLAS routine; gemm may be None); compiled code gets the one below,
    which calls gemm itself."""
    np.matmul(A.T if transpose_a else A, B.T if transpose_b else B, out=C)


@overload(matmul_into, jit_options=dict(cache=True, nogil=True))
def _matmul_into_compiled(gemm, A, B, C, transpose_a, transpose_b):
    if not A.layout == B.layout == C.layout == "C":        # the leading dimensions below are those of C order
        raise TypingError(f"matmul_into: A, B and C must be C-contiguous, got layouts {A.layout}, {B.layout}, {C.layout}")

    def call_gemm(gemm, A, B, C, transpose_a, transpose_b):
        M, N = C.shape
        K = A.shape[0] if transpose_a else A.shape[1]
        if M == 0 or N == 0 or K == 0:              # BLAS rejects a leading dimension of 0; an empty sum is 0
            C[:] = 0
            return
        gemm(ROW_MAJOR, TRANS if transpose_a else NO_TRANS, TRANS if transpose_b else NO_TRANS, M, N, K,
             1.0, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], 0.0, C.ctypes.data, N)
    return call_gemm
