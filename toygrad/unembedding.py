"""The toy unembedding of Hobbhahn 2023 ("final layer"): features read out into a vocabulary of n classes,
trained with cross-entropy instead of the bottleneck's squared error.

    h = W_in x                        down into m dimensions (the end of the residual stream)
    logits = W_outᵀ h + b             up into n classes, no ReLU
           = x W_inᵀ W_out + b

    tied:    W_in = W_out = W         logits = Wᵀ W x + b   (ops.tied)
    untied:  W1 = W_in, W2 = W_outᵀ   logits = W2 W1 x + b

    x: (I, B, n)   W_in, W_out: (I, m, n)   b: (I, n)   h: (I, B, m)   logits: (I, B, n)

Column i of W_in is how feature i is written into the hidden space, column j of W_out the direction class j
reads; tied, they are one vector, the feature. The target is derived from x:
    hard labels   the largest feature is the class:      t = onehot(argmax_i x_i)
    soft labels   x itself is the target distribution:   t = x / sum_i x_i      (rows of x are >= 0)

Loss: mean over the batch of sum_j t_j (logsumexp(logits) - logits_j), per instance, as tg.cross_entropy.
Lesson 04 trains it on a fixed set of T sparse points for every T, as lesson 02 trains the bottleneck.
"""
import numpy as np
from numba import njit

import toygrad as tg
from toygrad.kernels import FAST
from toygrad.ops import _result, times_seed
from toygrad.train import fit

TARGETS = ("hard", "soft")


# --- the model -----------------------------------------------------------------------------------------

def init_params(rng, n_instances, n_features, n_hidden, tied=True, dtype=np.float32):
    """tied: {"W": (I, m, n), "b": (I, n)}; untied: {"W_in", "W_out": (I, m, n), "b"}. Xavier-normal weights
    (std sqrt(2 / (m + n)), as the bottleneck in superposition.py), zero bias."""
    for name, value in (("n_instances", n_instances), ("n_features", n_features), ("n_hidden", n_hidden)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"init_params: {name} must be a positive integer, got {value!r}")
    shape = (n_instances, n_hidden, n_features)
    weights = ("W",) if tied else ("W_in", "W_out")
    params = {name: tg.parameter("xavier_normal", shape, rng, dtype) for name in weights}
    params["b"] = tg.parameter("zeros", (n_instances, n_features), rng, dtype)
    return params


def weights(params):
    """(W_in, W_out) of a tied or untied parameter dict; the same Tensor twice when tied."""
    if "W" in params:
        return params["W"], params["W"]
    if "W_in" in params and "W_out" in params:
        return params["W_in"], params["W_out"]
    raise ValueError(f"weights: expected params with 'W' (tied) or 'W_in' and 'W_out' (untied), got {sorted(params)}")


def targets(x, kind):
    """The target distribution of each point, (I, B, n): "hard" one-hot at argmax x, "soft" x / sum x."""
    x = np.asarray(x)
    if kind not in TARGETS:
        raise ValueError(f"targets: kind must be one of {TARGETS}, got {kind!r}")
    if x.ndim < 2 or x.min() < 0:
        raise ValueError(f"targets: x must be non-negative points (..., B, n); got shape {x.shape}, "
                         f"smallest value {x.min() if x.size else None}")
    if kind == "hard":
        return (np.arange(x.shape[-1]) == x.argmax(axis=-1)[..., None]).astype(x.dtype)
    total = x.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("targets: soft labels need every point to have a feature present (a row of x sums to 0)")
    return x / total


def logits(params, x):
    """logits = x W_inᵀ W_out + b through the ops (tied: one tg.tied)   x: (I, B, n) -> (I, B, n)"""
    if "W" in params:
        return tg.tied(x, params["W"], params["b"])
    return tg.linear(tg.linear(x, params["W_in"]), tg.transpose(params["W_out"]), params["b"])


def loss(params, x, target, fused=True):
    """Per instance: mean over the batch of the cross-entropy of softmax(logits) against target  ->  (I,)

    fused=True: cross_entropy_loss, the fused op below (what training uses); False: the ops (tied or linear,
    then tg.cross_entropy), which the tests compare it against."""
    if fused:
        return cross_entropy_loss(x, target, *weights(params), params["b"])
    return tg.cross_entropy(logits(params, x), target)


def loss_value(params, x, target):
    """loss() as a plain array (I,), without gradients (for evaluation)."""
    W_in, W_out = (tg.Tensor(W.data) for W in weights(params))
    return cross_entropy_loss(x, target, W_in, W_out, tg.Tensor(params["b"].data)).data


def predictions(params, x, chunk=2_000):
    """argmax of the logits for every point, (I, B): the class the model picks. In chunks of points, so a
    test set of 10,000 points x 1,000 classes never sits in memory at once."""
    W_in, W_out = (W.data for W in weights(params))
    x = np.asarray(x)
    return np.concatenate([(x[:, s:s + chunk] @ np.swapaxes(W_in, 1, 2) @ W_out + params["b"].data[:, None, :])
                           .argmax(axis=-1) for s in range(0, x.shape[1], chunk)], axis=1)


def accuracy(params, x):
    """Per instance, the fraction of points whose largest logit is their largest feature (the hard label;
    for soft labels too: the class the target distribution favours)  ->  (I,)"""
    return (predictions(params, x) == np.asarray(x).argmax(axis=-1)).mean(axis=-1)


# --- the loss as one fused op ---------------------------------------------------------------------------
# Composing tied (or two linears) with cross_entropy makes several passes over the (I, B, n) logits and
# allocates each of them. The fused op splits the work in two:
# - the products with x, BLAS does for the whole batch at once:   h = W_in x   and, backward,   dW_in = dhᵀ x
# - the softmax goes through the points in chunks of CHUNK rows, small enough to stay in cache: numba computes
#   the chunk's logits z = W_outᵀ h + b and shifts them by their row maximum, NumPy exponentiates them in place
#   (its SIMD exp is ~6x faster than the scalar exp numba calls, see kernels.py), numba finishes the loss and
#   the gradients g = (softmax(z) sum_j t_j - t) / B:   db += g,  dW_out += h gᵀ,  dh = W_out g.
# Few NumPy calls per step (a step on 3 points costs its calls, not its arithmetic) and few passes per point.
# Measured on a 2-core machine under load: a training step on 2 x 1,000 points 1.6x faster than the ops at
# n = 100 (lesson 04's size; 1.4x on 2 x 200 points), the loss with its backward 2.2x faster at n = 1,000.

CHUNK = 256
LANES = 16


@njit(**FAST)
def _row_max(z, lanes):
    """max_j z_j, keeping LANES running maxima side by side: LLVM turns that into SIMD max instructions,
    where a single running maximum is a chain of dependent compares (measured 2.7x slower at n = 1,000)."""
    n = z.shape[0]
    lanes[:] = z[0]
    for j0 in range(0, n - LANES + 1, LANES):
        for q in range(LANES):
            v = z[j0 + q]
            lanes[q] = v if v > lanes[q] else lanes[q]
    top = z[0]
    for q in range(LANES):
        top = lanes[q] if lanes[q] > top else top
    for j in range(n - n % LANES, n):
        top = z[j] if z[j] > top else top
    return top


@njit(**FAST)
def _shifted_logits(h, target, W_out, b, rank, B, start, e, zmax, tz, log_tiny):
    """For the rows start.. of the flattened batch h: (L * B, M), target: (L * B, n) (row r is point r % B of
    instance r // B):
        z = W_outᵀ h_r + b      e = z - max z   (-inf where exp(e) would be subnormal)
        zmax = max z            tz = sum_j t_rj z_j
    into the chunk buffers e: (C, n), zmax, tz: (C,); rank: (L,), the rows of W_out in use per instance."""
    n = e.shape[1]
    lanes = np.empty(LANES, e.dtype)
    for i in range(e.shape[0]):
        r = start + i
        l = r // B
        z, bl, tr = e[i], b[l], target[r]
        for j in range(n):
            z[j] = bl[j]
        for k in range(rank[l]):
            hk, w = h[r, k], W_out[l, k]
            for j in range(n):
                z[j] += hk * w[j]
        top = _row_max(z, lanes)
        dot = 0.0
        for j in range(n):
            dot += tr[j] * z[j]
        zmax[i], tz[i] = top, dot
        for j in range(n):
            d = z[j] - top
            z[j] = -np.inf if d <= log_tiny else d


@njit(**FAST)
def _finish(h, target, W_out, rank, B, start, e, zmax, tz, flush, want_grad, loss, dh, dW_out, db):
    """With e = exp(z - max z) for the chunk's rows: add each row's loss (1/B) sum_j t_j (logsumexp z - z_j) to
    its instance's loss and, if want_grad, its gradients, with g = (softmax(z) sum_j t_j - t) / B:
        db += g        dW_out += h gᵀ   (the read-out)        dh_r = W_out g   (back into the hidden space)
    Probabilities below `flush` are set to 0 (their share of g would be subnormal; see kernels.py)."""
    n = e.shape[1]
    scale = 1.0 / B
    for i in range(e.shape[0]):
        r = start + i
        l = r // B
        g, tr = e[i], target[r]
        total = 0.0
        mass = 0.0
        for j in range(n):
            total += g[j]
            mass += tr[j]
        loss[l] += ((zmax[i] + np.log(total)) * mass - tz[i]) * scale
        if not want_grad:
            continue
        c = mass / total
        dbl = db[l]
        for j in range(n):
            q = g[j] * c
            g[j] = ((q if q >= flush else 0.0) - tr[j]) * scale
            dbl[j] += g[j]
        for k in range(rank[l]):
            hk, w, dw = h[r, k], W_out[l, k], dW_out[l, k]
            acc = 0.0
            for j in range(n):
                dw[j] += hk * g[j]
                acc += w[j] * g[j]
            dh[r, k] = acc


def fused_cross_entropy(x, target, W_in, W_out, b, rank, want_grad=True):
    """The loss and its gradients on plain arrays: loss (L,) float64 and dW_in, dW_out, db (zeros if not
    want_grad). x, target: (L, B, n)   W_in, W_out: (L, M, n)   b: (L, n)   rank: (L,) int64."""
    L, B, n = x.shape
    M, dtype = W_in.shape[1], W_in.dtype
    h = (x @ np.swapaxes(W_in, 1, 2)).reshape(L * B, M)         # rows of W_in past rank_l are never read
    tf = target.reshape(L * B, n)
    rows = min(CHUNK, L * B)
    e, zmax, tz = np.empty((rows, n), dtype), np.empty(rows, dtype), np.empty(rows, dtype)
    loss = np.zeros(L)
    dh, dW_out, db = np.zeros_like(h), np.zeros_like(W_out), np.zeros_like(b)
    log_tiny, flush = np.log(np.finfo(dtype).tiny), np.finfo(dtype).tiny * B
    for start in range(0, L * B, rows):
        c = min(rows, L * B - start)
        _shifted_logits(h, tf, W_out, b, rank, B, start, e[:c], zmax[:c], tz[:c], log_tiny)
        np.exp(e[:c], out=e[:c])
        _finish(h, tf, W_out, rank, B, start, e[:c], zmax[:c], tz[:c], flush, want_grad, loss, dh, dW_out, db)
    return loss, np.swapaxes(dh.reshape(L, B, M), 1, 2) @ x, dW_out, db


def fused_cross_entropy_numpy(x, target, W_in, W_out, b):
    """The twin, with whole arrays (every row of W in use): loss (L,), dW_in, dW_out, db."""
    B = x.shape[1]
    h = x @ np.swapaxes(W_in, 1, 2)                                    # (L, B, M)
    z = h @ W_out + b[:, None, :]
    z = z - z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    mass = target.sum(axis=-1, keepdims=True)
    g = (np.exp(z - lse) * mass - target) / B
    dW_out = np.swapaxes(h, 1, 2) @ g
    dW_in = np.swapaxes(g @ np.swapaxes(W_out, 1, 2), 1, 2) @ x
    return (target * (lse - z)).sum(axis=(1, 2)) / B, dW_in, dW_out, g.sum(axis=1)


def cross_entropy_loss(x, target, W_in, W_out, b, rank=None):
    """loss = mean over the batch of sum_j t_j (logsumexp(z) - z_j),  z = W_outᵀ W_in x + b, per instance,
    as one op: the numbers of tg.cross_entropy(logits(...), target), gradients from fused_cross_entropy.

    x, target: (I, B, n) data (no gradient; target rows are probabilities)   W_in, W_out: (I, m, n) Tensors,
    the same Tensor twice for the tied model (the tape adds both paths)   b: (I, n) Tensor   ->  (I,)
    rank: None, or (I,) ints: instance i reads only the first rank_i rows of W_in and W_out, the rest get no
    gradient (see superposition.init_ranked: a sweep over m on the instance axis).
    """
    x = np.asarray(x.data if isinstance(x, tg.Tensor) else x)
    target = np.asarray(target.data if isinstance(target, tg.Tensor) else target)
    if x.ndim != 3 or W_in.ndim != 3 or W_in.shape != W_out.shape or b.shape != (W_in.shape[0], W_in.shape[2]) \
            or x.shape[0] != W_in.shape[0] or x.shape[2] != W_in.shape[2] or target.shape != x.shape:
        raise ValueError(f"cross_entropy_loss: expected x and target (I, B, n), W_in and W_out (I, m, n), b (I, n); "
                         f"got x {x.shape}, target {target.shape}, W_in {W_in.shape}, W_out {W_out.shape}, b {b.shape}")
    if target.size and not target.min() >= 0:
        raise ValueError(f"cross_entropy_loss: target must hold probabilities (>= 0), got a smallest value of "
                         f"{target.min()}")
    dtype = W_in.dtype
    rank = np.full(W_in.shape[0], W_in.shape[1], np.int64) if rank is None else np.asarray(rank, np.int64)
    if rank.shape != (W_in.shape[0],) or rank.min() < 0 or rank.max() > W_in.shape[1]:
        raise ValueError(f"cross_entropy_loss: rank must hold {W_in.shape[0]} integers in [0, {W_in.shape[1]}], "
                         f"got {rank}")
    want = W_in.requires_grad or W_out.requires_grad or b.requires_grad
    value, dW_in, dW_out, db = fused_cross_entropy(
        np.ascontiguousarray(x, dtype), np.ascontiguousarray(target, dtype), np.ascontiguousarray(W_in.data),
        np.ascontiguousarray(W_out.data), np.ascontiguousarray(b.data), rank, want)

    def backward(g):
        return times_seed(g, dW_in, dW_out, db)
    return _result(value.astype(dtype), (W_in, W_out, b), backward, "cross_entropy_loss")


# --- training on a fixed set of points ------------------------------------------------------------------

OPTIMIZERS = {"adamw": tg.AdamW, "sgd": tg.SGD}


def train_fixed(params, x_train, target, *, steps, lr=1e-3, weight_decay=1e-2, warmup=0.05, rank=None,
                optimizer="adamw"):
    """Full-batch training on x_train, target: (I, T, n) as in Henighan et al. 2023: AdamW (or "sgd", plain
    SGD with coupled L2 decay, the control for Adam's per-coordinate steps), lr warmed up linearly over the
    first `warmup` fraction of steps, then cosine decay to 0. Returns fit()'s Run."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"train_fixed: optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    W_in, W_out = weights(params)
    x = np.ascontiguousarray(x_train, params["b"].dtype)
    t = np.ascontiguousarray(target, params["b"].dtype)
    optimizer = OPTIMIZERS[optimizer](params.values(), lr=lr, weight_decay=weight_decay,
                                      schedule=tg.schedule("warmup_cosine", total_steps=steps, warmup=warmup))
    return fit(lambda step: cross_entropy_loss(x, t, W_in, W_out, params["b"], rank), params, optimizer, steps,
               log_every=steps, progress=False)


# --- what a trained model stored ---------------------------------------------------------------------

def squareness(W):
    """How square the cloud of features in the plane is: the four-fold order of their angles,

        |sum_i ||W_i||² exp(4i θ_i)| / sum_i ||W_i||²      θ_i = the angle of column W_i of W: (2, n)

    1 when every feature (weighted by its squared norm, so that the many tiny ones do not count) points along
    one of 4 directions 90° apart (a square's corners, or an X); 0 for directions spread evenly around a
    circle, and for any regular k-gon but k = 1, 2, 4. Also the square's orientation: the angle in degrees, in
    (-45, 45], of one of the 4 directions (±45 when the corners lie on the diagonals, where Adam's
    per-coordinate steps put them). Returns (order, angle); (0.0, None) if every W_i is 0."""
    W = np.asarray(W, np.float64)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"squareness: expected W of shape (2, n), features as columns in a plane; got {W.shape}")
    weight = (W ** 2).sum(axis=0)
    if weight.sum() == 0:
        return 0.0, None
    z = (weight * np.exp(4j * np.arctan2(W[1], W[0]))).sum() / weight.sum()
    return float(abs(z)), float(np.degrees(np.angle(z)) / 4)


def squareness_null(norms, draws=4_000, seed=0):
    """The squareness features with these norms would have at independent uniform angles, on average:

        E|z|,   z = sum_i w_i exp(i φ_i) / sum_i w_i      w_i = norms_i²,  φ_i = 4 θ_i uniform on the circle

    (θ_i uniform makes 4 θ_i uniform), by a Monte Carlo over `draws` sets of angles from a fixed seed: its
    standard error is at most sqrt(E|z|² / draws), and E|z|² = sum_i w_i² / (sum_i w_i)² exactly. For k equal
    norms E|z| = 1 at k = 1, 2/π at k = 2, and about sqrt(π / 4k) for large k (the mean length of a 2-D random
    walk). The baseline a measured squareness must clear before it means anything; 0.0 if every norm is 0."""
    weight = np.asarray(norms, np.float64) ** 2
    if weight.ndim != 1:
        raise ValueError(f"squareness_null: expected a vector of norms (n,), got shape {weight.shape}")
    if weight.sum() == 0:
        return 0.0
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, (draws, weight.size))
    return float(np.abs(np.exp(1j * phase) @ weight).mean() / weight.sum())


def cosine_similarities(a):
    """The cosine similarity of every pair of rows of a: (B, h) with a nonzero row, as a flat array of the
    B'(B'-1)/2 pairs (B' rows that are not 0: a zero vector has no direction)."""
    a = np.asarray(a, np.float64)
    norm = np.linalg.norm(a, axis=-1)
    unit = a[norm > 0] / norm[norm > 0, None]
    upper = np.triu_indices(len(unit), 1)
    return (unit @ unit.T)[upper]
