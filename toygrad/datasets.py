"""Data for the toy models: sparse feature vectors, fresh or fixed, and one-hot inputs.

A sparse feature vector x has n features; each is 0 with probability S (the sparsity), else Uniform[0, 1).
p = 1 - S is the feature probability. Every array carries a leading instance axis, one model each, and each
instance may have its own p: x: (I, B, n)  p: (I,).

    x = sparse_batch(rng, p, batch=1024, n_features=20)            # fresh every step (Elhage et al. 2022)
    x = fixed_sparse_dataset(rng, p, size=T, n_features=1000)      # T unit-norm points (Henighan et al. 2023)
    x = one_hot(n_features=20)                                     # the n basis vectors, as a batch
    rows = sparse_rows(x)                                          # a fixed x as its nonzeros, for the fused losses
"""
from dataclasses import dataclass

import numpy as np

from . import kernels


def _count(value, name, minimum=1):
    """A whole number >= minimum, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _probabilities(p, name="feature_probability", positive=False):
    """p as a float64 array (I,), one probability per instance, each in [0, 1] (or (0, 1] if positive)."""
    arr = np.atleast_1d(np.asarray(p, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D array, one per instance; got shape {arr.shape}")
    low_ok = arr > 0 if positive else arr >= 0
    if not np.all(np.isfinite(arr) & low_ok & (arr <= 1)):
        bounds = "(0, 1]" if positive else "[0, 1]"
        raise ValueError(f"{name} must lie in {bounds}, got {arr.min()}..{arr.max()}")
    return arr


def _float_dtype(dtype):
    dt = np.dtype(dtype)
    if dt.type not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


SAMPLERS = {"skip": kernels.sample_sparse, "counter": kernels.sample_sparse_counter}
"""How a sparse batch is drawn (kernels.py): "skip", geometric gaps on NumPy's own stream (the default, and what
every committed figure was drawn with); "counter", one hashed uniform per entry, the same distribution from other
numbers, 8x faster on the intro's batch of 10 x 1,024 x 20 (129 against 1,093 us, python -m toygrad.bench_kernels):
use it where drawing is most of a step."""


def _sampler(method):
    if method not in SAMPLERS:
        raise ValueError(f"method must be one of {sorted(SAMPLERS)}, got {method!r}")
    return SAMPLERS[method]


def sparse_batch(rng, feature_probability, batch, n_features, dtype=np.float32, out=None, method="skip"):
    """A fresh batch x: (I, batch, n_features): each feature is Uniform[0, 1) with probability p[i], else 0.

    feature_probability: a number or (I,), one per instance.
    out: an array of that shape and dtype to fill (saves an allocation per step; it is overwritten).
    method: "skip" or "counter", see SAMPLERS.
    """
    sample = _sampler(method)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    p = _probabilities(feature_probability)
    shape = (p.size, _count(batch, "batch"), _count(n_features, "n_features"))
    if out is None:
        out = np.empty(shape, dtype=_float_dtype(dtype))
    elif not isinstance(out, np.ndarray) or out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous array of shape {shape}, got {getattr(out, 'shape', out)}")
    sample(rng, out, p)
    return out


class SparseBatches:
    """Fresh sparse batches from one reused buffer: batches(step) -> x: (I, batch, n_features).

    The array returned is overwritten by the next call: use it within the step (as a loss_fn does).
    method: "skip" or "counter", see SAMPLERS.
    """

    def __init__(self, rng, feature_probability, batch, n_features, dtype=np.float32, method="skip"):
        self.sample = _sampler(method)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
        self.rng = rng
        self.p = _probabilities(feature_probability)
        shape = (self.p.size, _count(batch, "batch"), _count(n_features, "n_features"))
        self.x = np.empty(shape, dtype=_float_dtype(dtype))     # nothing drawn yet: step 0 draws the first batch

    def __call__(self, step=None):
        self.sample(self.rng, self.x, self.p)
        return self.x


def fixed_sparse_dataset(rng, feature_probability, size, n_features, dtype=np.float32):
    """A fixed training set x: (I, size, n_features) of sparse points, each rescaled to unit norm.

    x_t = z_t / ||z_t||  with z_t sparse as in sparse_batch; a point with no feature present (z_t = 0) has no
    direction, so it is drawn again until it has one (Henighan et al. 2023). Each instance gets its own points.
    feature_probability must be positive, or no point could ever be drawn.
    """
    p = _probabilities(feature_probability, positive=True)
    x = sparse_batch(rng, p, size, n_features, dtype)
    norm = np.linalg.norm(x, axis=-1)                                   # (I, size)
    while True:
        empty = norm == 0
        missing = int(empty.sum(axis=1).max())
        if missing == 0:
            break
        redraw = sparse_batch(rng, p, missing, n_features, dtype)         # (I, missing, n)
        for i in range(p.size):
            rows = np.flatnonzero(empty[i])
            x[i, rows] = redraw[i, :rows.size]
            norm[i, rows] = np.linalg.norm(x[i, rows], axis=-1)
    x /= norm[..., None].astype(x.dtype)
    return x


@dataclass(frozen=True)
class SparseRows:
    """The rows of x: (I, T, n) as their nonzero entries, padded to the longest row with (index 0, value 0).

    index: (I, T, z) int64   value: (I, T, z)   count: (I, T) int64, the nonzeros of each row (the rest is
    padding)   square: (I, T) float64, ||x_t||²   n: the row length.
    At S = 0.99 and n = 1,000 a row has ~10 nonzeros: z ~ 25 instead of 1,000. A dense x (e.g. E x) is a
    valid SparseRows too, with z = n. The fused losses take it for a fixed data set, made once."""
    index: np.ndarray
    value: np.ndarray
    count: np.ndarray
    square: np.ndarray
    n: int

    @property
    def shape(self):
        return self.index.shape[:2] + (self.n,)

    def dense(self):
        """Back to x: (I, T, n)."""
        x = np.zeros(self.shape, self.value.dtype)
        I, T, _ = self.index.shape
        lead = np.arange(I)[:, None, None], np.arange(T)[None, :, None]
        np.add.at(x, lead + (self.index,), self.value)                  # padding adds 0 at index 0
        return x


def sparse_rows(x):
    """x: (I, T, n) as SparseRows (the nonzeros of each row in column order, found by one pass of np.nonzero)."""
    x = np.asarray(x)
    if x.ndim != 3 or x.dtype.type not in (np.float32, np.float64):
        raise ValueError(f"sparse_rows: x must be a float32 or float64 array (I, T, n), got {x.dtype} {x.shape}")
    I, T, n = x.shape
    row, column = np.nonzero(x.reshape(I * T, n))                       # row-major: each row's columns in order
    count = np.bincount(row, minlength=I * T)
    z = max(int(count.max(initial=0)), 1)
    slot = np.arange(row.size) - (np.cumsum(count) - count)[row]       # the place of each nonzero in its row
    index, value = np.zeros((I * T, z), np.int64), np.zeros((I * T, z), x.dtype)
    index[row, slot], value[row, slot] = column, x.reshape(I * T, n)[row, column]
    value = value.reshape(I, T, z)
    return SparseRows(index.reshape(I, T, z), value, count.reshape(I, T).astype(np.int64),
                      (value.astype(np.float64) ** 2).sum(axis=-1), n)


def one_hot(n_features, n_instances=None, scale=1.0, dtype=np.float32):
    """The n basis vectors as a batch: x: (n, n) = scale * identity, or (I, n, n) with n_instances."""
    n = _count(n_features, "n_features")
    x = (scale * np.eye(n)).astype(_float_dtype(dtype))
    if n_instances is None:
        return x
    return np.ascontiguousarray(np.broadcast_to(x, (_count(n_instances, "n_instances"), n, n)))


def parity_bits(rng, size, n_bits=30, k=3, constant=False, dtype=np.float32):
    """`size` random bit strings and their labels: the sparse-parity task ("1s and 0s").

    x: (size, n_bits) of 0s and 1s, plus a last column of 1s when constant=True (the post's bias input)
    y: (size,) integers, the parity of the first k bits
    """
    size, n_bits, k = _count(size, "size"), _count(n_bits, "n_bits"), _count(k, "k")
    if k > n_bits:
        raise ValueError(f"parity_bits: k must be at most n_bits={n_bits}, got {k}")
    bits = rng.integers(0, 2, (size, n_bits))
    x = np.concatenate([bits, np.ones((size, 1), bits.dtype)], axis=1) if constant else bits
    return x.astype(_float_dtype(dtype)), bits[:, :k].sum(axis=1) % 2
