"""NumPy's own BLAS, for numba kernels to call.

A kernel that calls np.matmul between numba passes goes back to Python for each product, and a kernel shared
out over threads then waits its turn for the interpreter's lock at each of them: the grokking model's loss, in
two halves on two cores, spent 45 us of its 265 a step so (measured). numba's own np.dot would call BLAS from
compiled code, but through SciPy, which toygrad does not depend on. NumPy's wheels carry a BLAS of their own
(OpenBLAS, in numpy.libs or numpy/.dylibs), and threadpoolctl (which toygrad already uses to keep BLAS on one
thread) lists it among the libraries the process has loaded: gemm(dtype) returns its cblas ?gemm as a ctypes
function. A kernel takes it as an argument, so the kernel still caches on disk (the address is not compiled into
it), and calls it through kernels.matmul_into.

gemm(dtype) is None where NumPy's BLAS is not one whose calling convention is known here (the 64-bit-integer
OpenBLAS of NumPy's wheels from PyPI): NumPy built against MKL, Accelerate or a system BLAS. The kernels then run
their Python function (.py_func) instead, each product an np.matmul, their loops still compiled.
"""
import ctypes
import functools
import os

import numpy as np
from threadpoolctl import threadpool_info

# The symbols of the OpenBLAS builds in NumPy's wheels; "64_" marks the interface with 64-bit integers (blasint)
_SYMBOLS = ("scipy_cblas_{}gemm64_",           # NumPy >= 2.0 (scipy-openblas64)
            "cblas_{}gemm64_")                  # NumPy 1.22 to 1.26 (openblas64_)
_NUMPY_LIBS = tuple(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), d) + os.sep
                    for d in ("numpy.libs", os.path.join("numpy", ".dylibs")))


@functools.cache
def gemm(dtype):
    """cblas_sgemm (float32) or cblas_dgemm (float64) of NumPy's own BLAS as a ctypes function, or None (see above).

    gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc):  C = alpha op(A) op(B) + beta C
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        return None
    real, letter = (ctypes.c_float, "s") if dtype == np.float32 else (ctypes.c_double, "d")
    for library in threadpool_info():                       # the libraries this process has loaded
        if library["internal_api"] != "openblas" or not library["filepath"].startswith(_NUMPY_LIBS):
            continue                                        # another package's BLAS: not the one np.matmul calls
        try:
            dynlib = ctypes.CDLL(library["filepath"])       # loaded already: this only opens a handle on it
        except OSError:
            continue
        for symbol in _SYMBOLS:
            if hasattr(dynlib, symbol.format(letter)):
                integer = ctypes.c_int64
                signature = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
                                             real, ctypes.c_void_p, integer, ctypes.c_void_p, integer, real,
                                             ctypes.c_void_p, integer)
                return signature((symbol.format(letter), dynlib))
    return None
