"""The ReLU-output model of Elhage et al. 2022, "Toy Models of Superposition", on the instance axis.

    h = W x          x' = ReLU(Wᵀ h + b) = ReLU(x Wᵀ W + b)       (one ops.tied and one relu)

    x: (I, B, n)   W: (I, m, n)   b: (I, n)   h: (I, B, m)   x': (I, B, n)

n features squeezed through m < n hidden dimensions and read back out with the same W: the simplest model of
a bottleneck, e.g. an MLP writing into a narrower residual stream. Column W_i is feature i's direction in the
hidden space. Loss: importance-weighted squared error, mean over the batch of sum_i I_i (x_i - x'_i)².

Every instance is its own model (its own W, b, sparsity, importance, data); a sweep of sparsities, or of
seeds, trains as one. Lessons 01 (fresh data each step) and 02 (a fixed training set) both use this module.
"""
import numpy as np

import toygrad as tg
from toygrad import kernels
from toygrad.datasets import SparseBatches, SparseRows, sparse_rows
from toygrad.ops import _result, times_seed
from toygrad.train import fit


# --- settings shared by the sweeps --------------------------------------------------------------------

def sparsity_sweep(n_instances, sparsest=20.0):
    """Feature probability p per instance, from dense (p = 1) to sparse (p = 1/sparsest), evenly on a log axis:
    p_k = sparsest ** -(k / (I - 1))      (the notebook's 20 ** -linspace(0, 1, I))."""
    if not isinstance(n_instances, (int, np.integer)) or n_instances < 1:
        raise ValueError(f"sparsity_sweep: n_instances must be a positive integer, got {n_instances!r}")
    if not sparsest >= 1:
        raise ValueError(f"sparsity_sweep: sparsest must be >= 1 (p goes down to 1/sparsest), got {sparsest!r}")
    return float(sparsest) ** -np.linspace(0, 1, n_instances)


def importance(n_features, kind="uniform", decay=0.9, ratio=100.0):
    """Importance I_i of each feature, (n,):
    "uniform": 1;  "geometric": decay^i (0.9^i in the intro figure);  "log": ratio^(-i/(n-1)), from 1 to 1/ratio."""
    if not isinstance(n_features, (int, np.integer)) or n_features < 1:
        raise ValueError(f"importance: n_features must be a positive integer, got {n_features!r}")
    i = np.arange(n_features)
    if kind == "uniform":
        return np.ones(n_features)
    if kind == "geometric":
        return float(decay) ** i
    if kind == "log":
        return float(ratio) ** -np.linspace(0, 1, n_features)
    raise ValueError(f"importance: kind must be 'uniform', 'geometric' or 'log', got {kind!r}")


# --- the model ---------------------------------------------------------------------------------------------

def init_params(rng, n_instances, n_features, n_hidden, dtype=np.float32):
    """{"W": (I, m, n) Xavier-normal, std sqrt(2 / (m + n)), "b": (I, n) zeros}, as the authors initialise."""
    for name, value in (("n_instances", n_instances), ("n_features", n_features), ("n_hidden", n_hidden)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"init_params: {name} must be a positive integer, got {value!r}")
    return {"W": tg.parameter("xavier_normal", (n_instances, n_hidden, n_features), rng, dtype),
            "b": tg.parameter("zeros", (n_instances, n_features), rng, dtype)}


def init_ranked(rng, ranks, n_features, dtype=np.float32):
    """One model per hidden size m_i = ranks[i], stored as W: (I, max m, n) with the rows from m_i on zero
    (Xavier-normal for an (m_i, n) weight above them), b: (I, n) zeros. Train with reconstruction_loss(...,
    rank=ranks): the zero rows get no gradient and stay zero, so instance i is exactly a model with m_i hidden
    dimensions, and a sweep over m trains on the instance axis."""
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0 or ranks.min() < 1:
        raise ValueError(f"init_ranked: ranks must be a 1-D list of positive hidden sizes, got {ranks.tolist()}")
    W = np.zeros((len(ranks), int(ranks.max()), n_features), dtype)
    for i, m in enumerate(ranks):
        W[i, :m] = tg.init.xavier_normal((int(m), n_features), rng, dtype)
    return {"W": tg.Tensor(W, requires_grad=True), "b": tg.parameter("zeros", (len(ranks), n_features), rng, dtype)}


def forward(params, x):
    """x' = ReLU(x Wᵀ W + b)      x: (I, B, n)  ->  (I, B, n)"""
    return tg.relu(tg.tied(x, params["W"], params["b"]))


def hidden(W, x):
    """h = W x for every point, as plain arrays: W: (I, m, n)  x: (I, B, n)  ->  h: (I, B, m)."""
    return x @ np.swapaxes(W, -1, -2)


def loss(params, x, weight=None, fused=False):
    """Per instance: mean over the batch of sum_i I_i (x_i - x'_i)²  ->  (I,)

    fused=False composes the ops (tied, relu, mse); fused=True computes the same loss and gradients with
    reconstruction_loss, one numba kernel (kernels.reconstruction): a forward and backward on 2,000 points at
    n = 1,000, m = 2, S = 0.99 takes 3.3 to 4.0 ms against 21 ms through the ops (5 to 6x), whose passes over the
    (I, B, n) output cost more than their arithmetic; on the intro's 10 x 1,024 points at n = 20, m = 5, 1.1 to
    1.4 ms against 2.0 to 2.2 (1.6 to 1.8x). Medians of 15 steps, in two runs."""
    if fused:
        return reconstruction_loss(x, params["W"], params["b"], weight)
    return tg.mse(forward(params, x), x, weight)


# --- the same loss as one fused op ------------------------------------------------------------------------

def _reconstruction_numpy(x, W, b, w):
    """The twin: the same loss and gradients from the ops, through the tape (what the kernel must equal)."""
    Wt, bt = tg.Tensor(W, requires_grad=True), tg.Tensor(b, requires_grad=True)
    value = tg.mse(tg.relu(tg.tied(x, Wt, bt)), x, w)
    value.sum().backward()
    return value.data, Wt.grad, bt.grad


def reconstruction_loss(x, W, b, weight=None, rank=None):
    """loss = mean over the batch of sum_j I_j (ReLU(x Wᵀ W + b)_j - x_j)², per instance, as one op.

    x: (I, B, n) data (no gradient)   W: (I, m, n)   b: (I, n) Tensors   weight: None, (n,) or (I, n)  ->  (I,)
    The same numbers as tg.mse(relu(tied(x, W, b)), x, weight); dW, db from kernels.reconstruction, scaled
    by the incoming gradient of each instance's loss.
    x may also be a fixed data set as its nonzeros, datasets.sparse_rows(x) made once: the kernel then reads
    only those (kernels.reconstruction_sparse; 1.5x faster at lesson 02's n = 1,000 with 1% nonzero).
    rank: None, or (I,) ints: instance i reads only the first rank_i rows of W, and the rest get no gradient.
    With those rows 0 (and AdamW keeps a 0 with no gradient at 0) instance i is a model with rank_i hidden
    dimensions: a sweep over m trains on the instance axis, and costs the sum of the m, not I times the largest.
    """
    sparse = isinstance(x, SparseRows)
    if not sparse:
        x = np.asarray(x.data if isinstance(x, tg.Tensor) else x)
    if W.ndim != 3 or b.ndim != 2 or len(x.shape) != 3 or b.shape != (W.shape[0], W.shape[2]) \
            or x.shape[0] != W.shape[0] or x.shape[2] != W.shape[2]:
        raise ValueError(f"reconstruction_loss: expected x (I, B, n), W (I, m, n), b (I, n); got x {x.shape}, "
                         f"W {W.shape}, b {b.shape}")
    dtype = W.dtype
    w = np.empty(b.shape, dtype)
    w[...] = 1 if weight is None else weight              # broadcast into place: cheaper than broadcast_to + a copy
    if rank is None:
        rank = np.full(W.shape[0], W.shape[1], np.int64)
    else:
        rank = np.asarray(rank, np.int64)
        if rank.shape != (W.shape[0],) or rank.min() < 0 or rank.max() > W.shape[1]:
            raise ValueError(f"reconstruction_loss: rank must hold {W.shape[0]} integers in [0, {W.shape[1]}], "
                             f"got {rank}")
    want = W.requires_grad or b.requires_grad
    dW, db = np.zeros(W.shape, dtype), np.zeros(b.shape, dtype)
    W_, b_ = np.ascontiguousarray(W.data), np.ascontiguousarray(b.data)
    if sparse:
        value = kernels.reconstruction_sparse(x.index, np.asarray(x.value, dtype), x.count, W_, b_, w, rank, want,
                                              dW, db)
    else:
        value = kernels.reconstruction(np.ascontiguousarray(x, dtype=dtype), W_, b_, w, rank, want, dW, db)

    def backward(g):
        return times_seed(g, dW, db)
    return _result(value.astype(dtype), (W, b), backward, "reconstruction_loss")


def fixed_data(x):
    """A fixed data set x: (I, T, n) as reconstruction_loss reads it fastest: its nonzeros (datasets.sparse_rows)
    when it is wide (n >= 64) and at most a quarter nonzero, as Henighan's sparse points are; else x itself."""
    x = np.asarray(x)
    sparse = x.ndim == 3 and x.shape[2] >= 64 and np.count_nonzero(x) <= x.size / 4
    return sparse_rows(x) if sparse else x


def loss_value(params, x, weight=None):
    """loss() as a plain array (I,), without computing gradients (for evaluation)."""
    W, b = (tg.Tensor(params[k].data) for k in ("W", "b"))
    return reconstruction_loss(x, W, b, weight).data


# --- training ----------------------------------------------------------------------------------------------

def _weight(importance_, params):
    """Importance as an array of the parameters' dtype, (n,) or (I, n)."""
    return None if importance_ is None else np.asarray(importance_, dtype=params["W"].dtype)


def train_fresh(params, feature_probability, rng, *, importance=None, steps=10_000, batch=1024, lr=1e-3,
                weight_decay=0.01, log_every=None, checkpoint=None, resume=False, fused=False, progress=True,
                desc="superposition"):
    """Train on a fresh sparse batch every step (Elhage et al.): AdamW at constant lr, PyTorch's defaults.

    feature_probability: (I,), one per instance. importance: (n,) or (I, n). Returns fit()'s Run; its history
    holds the training loss per instance at each log step. checkpoint, resume: as in fit() (a resumed run
    continues the same stream of batches). fused: train through reconstruction_loss (see loss()).
    """
    n = params["W"].shape[-1]
    batches = SparseBatches(rng, feature_probability, batch, n, params["W"].dtype)
    weight = _weight(importance, params)
    optimizer = tg.AdamW(params.values(), lr=lr, weight_decay=weight_decay)
    return fit(lambda step: loss(params, batches(step), weight, fused), params, optimizer, steps,
               log_every=log_every or max(steps // 20, 1), rng=rng, checkpoint=checkpoint, resume=resume,
               progress=progress, desc=desc)


def train_fixed(params, x_train, *, steps=10_000, lr=1e-3, weight_decay=1e-2, warmup=0.05, evaluate=None,
                log_every=None, checkpoint=None, resume=False, fused=True, weight=None, progress=True,
                desc="fixed dataset"):
    """Full-batch training on a fixed set x_train: (I, T, n) (Henighan et al. 2023): AdamW, lr warmed up
    linearly over the first `warmup` fraction of steps, then cosine decay to 0. weight: importance, (n,) or
    (I, n) (default uniform). Returns fit()'s Run."""
    if x_train.ndim != 3 or x_train.shape[0] != params["W"].shape[0] or x_train.shape[2] != params["W"].shape[2]:
        raise ValueError(f"train_fixed: x_train must have shape (I, T, n) = ({params['W'].shape[0]}, T, "
                         f"{params['W'].shape[2]}), got {x_train.shape}")
    x = np.ascontiguousarray(x_train, dtype=params["W"].dtype)
    x = fixed_data(x) if fused else x
    optimizer = tg.AdamW(params.values(), lr=lr, weight_decay=weight_decay,
                         schedule=tg.schedule("warmup_cosine", total_steps=steps, warmup=warmup))
    weight = _weight(weight, params)
    return fit(lambda step: loss(params, x, weight, fused), params, optimizer, steps, evaluate=evaluate,
               log_every=log_every or max(steps // 20, 1), checkpoint=checkpoint, resume=resume,
               progress=progress, desc=desc)


def best_seed(values, n_seeds):
    """Instances laid out as (groups x seeds), seed fastest: the index, per group, of the seed whose value is
    lowest (e.g. the final loss), as instance indices (G,). values: (G * n_seeds,)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.size % n_seeds:
        raise ValueError(f"best_seed: values must be 1-D with a multiple of n_seeds = {n_seeds} entries, "
                         f"got shape {values.shape}")
    per_group = values.reshape(-1, n_seeds)
    return np.arange(per_group.shape[0]) * n_seeds + per_group.argmin(axis=1)
