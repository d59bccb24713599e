"""toygrad: a small NumPy + numba autodiff library for toy models of interpretability research.

Read it in this order: tensor.py (the tape), ops.py, losses.py, optim.py, init.py, kernels.py, gradcheck.py.
"""
from . import init, kernels, optim
from .gradcheck import GradcheckError, gradcheck
from .init import initialise
from .losses import cross_entropy, mse
from .ops import add, linear, matmul, mean, mul, relu, reshape, square, sub, sum, take_rows, tied, transpose
from .optim import SGD, Adam, AdamW, schedule
from .tensor import Tensor

__version__ = "0.1.0"


def parameter(name, shape, rng, dtype="float32", **kwargs):
    """A trainable Tensor initialised by name: parameter("xavier_normal", (I, m, n), rng)."""
    return Tensor(initialise(name, shape, rng, dtype, **kwargs), requires_grad=True)
