"""toygrad: a small NumPy + numba autodiff library for toy models of interpretability research.

Read it in this order: tensor.py (the tape), ops.py, losses.py, optim.py, init.py, kernels.py, gradcheck.py.
"""
import ctypes
import os
import sys

from threadpoolctl import threadpool_limits

from . import init, kernels, optim, train
from .gradcheck import GradcheckError, gradcheck
from .init import initialise
from .losses import cross_entropy, mlp_cross_entropy, mse
from .ops import add, linear, matmul, mean, mul, relu, reshape, square, sub, sum, take_rows, tied, transpose
from .optim import SGD, Adam, AdamW, schedule
from .tensor import Tensor
from .threads import set_threads

__version__ = "0.1.0"

# Toy models multiply small matrices. At those sizes a second BLAS thread costs more in hand-off than it
# gains, and when the cores are busy OpenBLAS threads spin and wait: measured on this project's 2-core
# machine under load, (24x500) @ (500x67) took 24 ms with OpenBLAS's 2 threads and 0.06 ms with one, while
# a 2048² matmul ran at the same 87 GFLOP/s either way. So toygrad runs BLAS on one thread from import on.
# Set TOYGRAD_BLAS_THREADS=N before importing toygrad to choose otherwise.
BLAS_THREADS = int(os.environ.get("TOYGRAD_BLAS_THREADS", "1"))
_blas_limit = threadpool_limits(BLAS_THREADS, user_api="blas")

# glibc's malloc gives a freed block back to the system when it is big (by default over a threshold that starts at
# 128 KB and moves) or sits at the top of the heap, and the next allocation faults its pages in again, one system
# call and one zeroed page per 4 KB. A training step allocates the same arrays every time (gradients, a kernel's
# tables: the parity sweep's are 1.3 MB a chunk), so it paid for that every step: the sweep's MLP kernel took 5.4
# or 3.2 ms a call, by turns, and `bench parity-sweep` 7.7 to 7.8 s against 6.9 to 7.0 s now (measured).
# toygrad keeps freed memory for reuse instead: blocks up to 32 MB come from the heap, which is trimmed only past
# 256 MB free. Set TOYGRAD_SYSTEM_MALLOC=1 before importing toygrad to leave malloc as it is; off Linux, or on a
# Linux libc without mallopt (musl), nothing changes.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3                   # glibc's malloc.h


def _keep_freed_memory():
    """Set glibc's malloc to keep freed memory (see above); True if it did."""
    if os.environ.get("TOYGRAD_SYSTEM_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)                                # the process's own symbols, libc among them
    except (OSError, TypeError):
        return False
    if not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))


_kept_freed_memory = _keep_freed_memory()


def parameter(name, shape, rng, dtype="float32", **kwargs):
    """A trainable Tensor initialised by name: parameter("xavier_normal", (I, m, n), rng)."""
    return Tensor(initialise(name, shape, rng, dtype, **kwargs), requires_grad=True)
