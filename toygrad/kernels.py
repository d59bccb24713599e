"""numba inner loops for the hot paths, each beside the plain NumPy twin that the tests compare it to.

Every kernel is `@njit(**FAST)`: compiled once per dtype on first call, then cached on disk.
A kernel earns its place by being faster than its twin: `python -m toygrad.bench_kernels` measures both
(median of several runs) and prints the ratio. The ops call the numba version.
"""
import math

import numpy as np
from numba import njit

# Compile options shared by the kernels. error_model="numpy" drops Python's divide-by-zero checks, which
# otherwise stop LLVM from vectorising a loop; the fast-math flags let it reorder and fuse float operations
# (results can differ from NumPy in the last bits, still the same from run to run). We leave out "nnan" and
# "ninf" on purpose: a NaN must stay a NaN so the training loop can catch it.
FAST = dict(cache=True, error_model="numpy", fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})


# --- ReLU backward -------------------------------------------------------------------------------
@njit(**FAST)
def _relu_backward_flat(x, g, out):
    for i in range(x.size):                  # one pass, no boolean temporary
        out[i] = g[i] if x[i] > 0 else 0.0   # subgradient 0 at x == 0


def relu_backward(x, g):
    """dx = g where x > 0, else 0.    x, g: same shape and dtype."""
    out = np.empty(x.shape, dtype=g.dtype)
    _relu_backward_flat(np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(g).reshape(-1),
                        out.reshape(-1))
    return out


def relu_backward_numpy(x, g):
    return np.where(x > 0, g, np.zeros((), dtype=g.dtype))


# --- embedding lookup: gather rows, and its backward, scatter-add ----------------------------------------
@njit(**FAST)
def gather_rows(W, idx):
    """out[l, k, :] = W[l, idx[l or 0, k], :]     W: (L, V, d)  idx: (L, B) or (1, B) when shared  ->  (L, B, d)
    NumPy's fancy indexing does the same through a general path, about 4x slower on lesson-sized inputs."""
    L, B, d = W.shape[0], idx.shape[1], W.shape[2]
    out = np.empty((L, B, d), dtype=W.dtype)
    shared = idx.shape[0] == 1
    for l in range(L):
        row = idx[0] if shared else idx[l]
        for k in range(B):
            out[l, k, :] = W[l, row[k], :]
    return out


def gather_rows_numpy(W, idx):
    return np.take_along_axis(W, np.broadcast_to(idx, (W.shape[0], idx.shape[1]))[:, :, None], axis=1)


# --- embedding backward: scatter-add of rows ----------------------------------------------------
@njit(**FAST)
def scatter_add_rows(dW, idx, g):
    """dW[l, idx[l or 0, k], :] += g[l, k, :] for every l, k  (in place).

    dW: (L, V, d)   idx: (L, B) or (1, B) when shared   g: (L, B, d)
    Replaces np.add.at, which handles repeated indices correctly but slowly.
    """
    shared = idx.shape[0] == 1
    for l in range(dW.shape[0]):
        row = idx[0] if shared else idx[l]
        for k in range(row.shape[0]):
            r = row[k]
            for j in range(dW.shape[2]):
                dW[l, r, j] += g[l, k, j]


def scatter_add_rows_numpy(dW, idx, g):
    for l in range(dW.shape[0]):
        np.add.at(dW[l], idx[0] if idx.shape[0] == 1 else idx[l], g[l])


# --- softmax cross-entropy, forward and backward fused ---------------------------------------------
# exp is the one step numba does not vectorise here (it calls scalar libm exp, ~6 ns an element, where
# NumPy's SIMD exp takes under 1 ns). So each kernel is three passes: numba shifts every row by its max,
# NumPy exponentiates in place, numba finishes loss and gradient in one more pass. NumPy alone makes
# about seven passes and several temporaries.
#
# Subnormals: once a model is confident, most softmax probabilities fall below the smallest normal float
# (1.2e-38 in float32). x86 CPUs compute with such subnormal numbers 10-100x slower (measured here: the
# (911, 67) exp 17x, the backward matmuls through the logits 100x), which made late grokking steps 15x
# slower than early ones. We flush them to exactly 0, as GPUs do: they are below the resolution of any
# gradient they would be added to. The loss multiplies dlogits by its reduction's scale (1 / (B C) for the
# grokking notebook's CE/67: 1.6e-5), so the caller passes `flush_below` = tiny / scale: a probability is
# flushed when its share of the final gradient would be subnormal.

@njit(**FAST)
def _shift_by_row_max(logits, out, log_tiny):
    """out_rc = z_rc - max_c z_rc  (every exp of it lies in (0, 1]: finite for logits of any size),
    or -inf where exp would be subnormal (below e^log_tiny), so that it comes out exactly 0.
    Returns the row maxima."""
    R, C = logits.shape
    zmax = np.empty(R, dtype=logits.dtype)
    for r in range(R):
        m = logits[r, 0]
        for c in range(1, C):
            z = logits[r, c]
            m = z if z > m else m          # a select, not max(): it vectorises without assuming "no NaN"
        zmax[r] = m
        for c in range(C):
            d = logits[r, c] - m
            out[r, c] = -np.inf if d <= log_tiny else d   # a NaN stays NaN, so the loss reports it
    return zmax


def _softmax_numerators(logits):
    """exp(z - rowmax) with subnormals flushed to 0, and the row maxima."""
    e = np.empty_like(logits)
    zmax = _shift_by_row_max(logits, e, np.log(np.finfo(logits.dtype).tiny))
    np.exp(e, out=e)
    return e, zmax


def _flush_below(x, threshold):
    x[np.abs(x) < threshold] = 0
    return x


@njit(**FAST)
def _finish_hard(logits, labels, zmax, e, tiny):
    R, C = e.shape
    loss = np.empty(R, dtype=e.dtype)
    for r in range(R):
        total = 0.0
        for c in range(C):
            total += e[r, c]
        loss[r] = zmax[r] + math.log(total) - logits[r, labels[r]]
        inv = 1.0 / total
        for c in range(C):
            q = e[r, c] * inv
            e[r, c] = q if q >= tiny else 0.0          # flush subnormal probabilities
        e[r, labels[r]] -= 1.0
    return loss


def softmax_xent_hard(logits, labels, flush_below=None):
    """Per row r: loss_r = logsumexp(z_r) - z_r[label_r];  dz_r = softmax(z_r) - onehot(label_r).

    logits: (R, C) float   labels: (R,) int   ->  loss: (R,), dlogits: (R, C)
    Probabilities below flush_below (default: the smallest normal float) are set to 0 in dlogits.
    """
    e, zmax = _softmax_numerators(logits)
    return _finish_hard(logits, labels, zmax, e, _threshold(logits, flush_below)), e


def _threshold(logits, flush_below):
    return np.finfo(logits.dtype).tiny if flush_below is None else flush_below


def softmax_xent_hard_numpy(logits, labels, flush_below=None):
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    rows = np.arange(len(labels))
    loss = lse - z[rows, labels]
    dlogits = _flush_below(np.exp(z - lse[:, None]), _threshold(logits, flush_below))
    dlogits[rows, labels] -= 1
    return loss, dlogits


@njit(**FAST)
def _finish_soft(logits, target, zmax, e, tiny):
    R, C = e.shape
    loss = np.empty(R, dtype=e.dtype)
    for r in range(R):
        total = 0.0
        mass = 0.0
        tz = 0.0
        for c in range(C):
            total += e[r, c]
            mass += target[r, c]
            tz += target[r, c] * logits[r, c]
        loss[r] = (zmax[r] + math.log(total)) * mass - tz
        scale = mass / total
        for c in range(C):
            q = e[r, c] * scale
            e[r, c] = (q if q >= tiny else 0.0) - target[r, c]
    return loss


def softmax_xent_soft(logits, target, flush_below=None):
    """Per row r: loss_r = sum_c t_rc (logsumexp(z_r) - z_rc);  dz_r = softmax(z_r) sum_c t_rc - t_r.

    logits, target: (R, C), target rows are probabilities  ->  loss: (R,), dlogits: (R, C)
    Probabilities below flush_below (default: the smallest normal float) are set to 0 in dlogits.
    """
    e, zmax = _softmax_numerators(logits)
    return _finish_soft(logits, target, zmax, e, _threshold(logits, flush_below)), e


def softmax_xent_soft_numpy(logits, target, flush_below=None):
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    mass = target.sum(axis=1)
    loss = (lse * mass - (target * z).sum(axis=1))
    dlogits = _flush_below(np.exp(z - lse[:, None]) * mass[:, None], _threshold(logits, flush_below)) - target
    return loss, dlogits


# --- the ReLU-output model's loss, fused: ReLU(Wᵀ W x + b) against x, with gradients ---------------------
@njit(**FAST)
def reconstruction(x, W, b, w, rank, want_grad, dW, db):
    """Per instance l: loss_l = (1/B) sum_t sum_j w_j (relu(y_tj) - x_tj)²,  y_t = Wᵀ W x_t + b, and, if
    want_grad, its gradients added into dW_l and db_l. One point at a time, so the (B, n) outputs never
    reach memory; each loop below runs over the n features of one point and vectorises.

        h = W x_t                       (over the nonzero x_tj only: the data is sparse)
        y = Wᵀ h + b                    g_j = 2 w_j (y_j - x_tj) / B  where y_j > 0, else 0
        db += g     dW += h gᵀ (the up-projection)     dW += (W g) x_tᵀ (the down-projection)
    x: (L, B, n)  W: (L, m, n)  b: (L, n)  w: (L, n)  rank: (L,) rows of W in use  ->  loss (L,) float64
    Composing tied, relu and mse makes a pass over the whole (L, B, n) output per op; at n = 1,000 those passes,
    not the arithmetic, are the cost (3.5x slower than this, measured on lesson 02's data).
    """
    L, B, n = x.shape
    loss = np.zeros(L)
    h = np.empty(W.shape[1], dtype=W.dtype)
    dh = np.empty(W.shape[1], dtype=W.dtype)
    y = np.empty(n, dtype=W.dtype)
    g = np.empty(n, dtype=W.dtype)
    scale = W.dtype.type(2.0 / B)
    for l in range(L):
        Wl, bl, wl, dWl, dbl = W[l], b[l], w[l], dW[l], db[l]
        m = rank[l]
        total = 0.0
        for t in range(B):
            xt = x[l, t]
            for k in range(m):
                acc = 0.0
                for j in range(n):
                    if xt[j] != 0.0:
                        acc += Wl[k, j] * xt[j]
                h[k] = acc
            y[:] = bl
            for k in range(m):
                hk = h[k]
                for j in range(n):
                    y[j] += hk * Wl[k, j]
            for j in range(n):
                out = y[j] if y[j] > 0.0 else 0.0
                d = out - xt[j]
                total += wl[j] * d * d
                g[j] = scale * wl[j] * d if y[j] > 0.0 else 0.0     # relu passes no gradient below 0
            if not want_grad:
                continue
            for j in range(n):
                dbl[j] += g[j]
            for k in range(m):
                hk = h[k]
                acc = 0.0
                for j in range(n):
                    dWl[k, j] += hk * g[j]
                    acc += g[j] * Wl[k, j]
                dh[k] = acc
            for k in range(m):
                dhk = dh[k]
                for j in range(n):
                    if xt[j] != 0.0:
                        dWl[k, j] += dhk * xt[j]
        loss[l] = total / B
    return loss

def reconstruction_numpy(x, W, b, w):
    """The twin, with whole arrays (rank = m for every instance): loss (L,), dW, db."""
    B = x.shape[1]
    h = x @ np.swapaxes(W, 1, 2)                                  # (L, B, m)
    y = h @ W + b[:, None, :]
    d = np.maximum(y, 0) - x
    g = np.where(y > 0, 2.0 / B * w[:, None, :] * d, 0)
    dW = np.swapaxes(h, 1, 2) @ g + np.swapaxes(g @ np.swapaxes(W, 1, 2), 1, 2) @ x
    return (w[:, None, :] * d * d).sum(axis=(1, 2)) / B, dW, g.sum(axis=1)


# --- the Adam family's update --------------------------------------------------------------------------
@njit(**FAST)
def _adam_row(p, g, m, v, step_size, shrink, l2, l1, beta1, one_minus_beta1, beta2, one_minus_beta2, eps,
              sqrt_bias2):
    """One instance's Adam(W) step, in place, one pass over p, g, m, v (see adam_update)."""
    for k in range(p.shape[0]):
        w = p[k]
        gk = g[k] + l2 * w + (math.copysign(l1, w) if w != 0 else l1 - l1)   # + l1 sign(w), branch-free
        mk = beta1 * m[k] + one_minus_beta1 * gk
        vk = beta2 * v[k] + one_minus_beta2 * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] = w * shrink - step_size * mk / (math.sqrt(vk) / sqrt_bias2 + eps)


@njit(**FAST)
def adam_rows(p, g, m, v, step_size, shrink, l2, l1, beta1, one_minus_beta1, beta2, one_minus_beta2, eps,
               sqrt_bias2):
    for l in range(p.shape[0]):
        pick = lambda a: a[0] if a.shape[0] == 1 else a[l]  # noqa: E731 (scalar or per-instance value)
        _adam_row(p[l], g[l], m[l], v[l], pick(step_size), pick(shrink), pick(l2), pick(l1), beta1,
                  one_minus_beta1, beta2, one_minus_beta2, eps, sqrt_bias2)


def adam_coefficients(dtype, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2):
    """Everything the update multiplies by, in the parameters' dtype, so float32 parameters are updated in
    float32 arithmetic (as PyTorch does) and the loop vectorises: 3.6x faster than mixing in float64 (measured).
    They depend only on the step and the dtype: an optimizer computes them once a step for all its parameters."""
    t = np.dtype(dtype).type
    return ((lr / bias1).astype(dtype), (1 - lr * decay).astype(dtype), l2.astype(dtype), l1.astype(dtype),
            t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps), t(math.sqrt(bias2)))


def adam_update(p, g, m, v, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2):
    """One Adam(W) step for every element, in place, in one pass over p, g, m and v.

    p, g, m, v: (L, K), L instances of K numbers each.  lr, decay, l2, l1: (L,) or (1,), one per instance.
      g' = g + l2 p + l1 sign(p)           (coupled L2, as torch Adam's weight_decay; L1 of the grokking post)
      p  = p (1 - lr decay)                (decoupled decay, as torch AdamW)
      m  = beta1 m + (1 - beta1) g'        v = beta2 v + (1 - beta2) g'²
      p  = p - (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps)      bias_k = 1 - beta_k^step
    """
    adam_rows(p, g, m, v, *adam_coefficients(p.dtype, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2))


def adam_update_numpy(p, g, m, v, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2):
    step_size, shrink, l2, l1, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, sqrt_bias2 = \
        adam_coefficients(p.dtype, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2)
    step_size, shrink, l2, l1 = (a[:, None] for a in (step_size, shrink, l2, l1))
    g = g + l2 * p + l1 * np.sign(p)
    p *= shrink
    m *= beta1
    m += one_minus_beta1 * g
    v *= beta2
    v += one_minus_beta2 * g * g
    p -= step_size * m / (np.sqrt(v) / sqrt_bias2 + eps)


# --- sparse feature batches ---------------------------------------------------------------------------
def sample_sparse(rng, out, p):
    """Fill out[l] with features that are 0 with probability 1 - p[l], else Uniform[0, 1).

    rng: a numpy Generator (numba draws the same stream NumPy would, and advances it)
    out: (L, B, n) float32 or float64, C-contiguous, overwritten.   p: (L,) feature probability per instance.
    Instead of one uniform draw per entry to decide presence, jump straight to the next present entry:
    the gap between present entries is Geometric(p), drawn as floor(log U / log(1 - p)). At p = 0.01 that
    is ~2 draws per 100 entries instead of 200.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"sample_sparse: rng must be a numpy Generator, got {type(rng).__name__}")
    if not isinstance(out, np.ndarray) or out.ndim != 3 or out.dtype.type not in (np.float32, np.float64) \
            or not out.flags.c_contiguous:
        raise ValueError("sample_sparse: out must be a C-contiguous float32 or float64 array of shape (L, B, n), "
                         f"got {type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}")
    p = np.asarray(p, dtype=np.float64)
    if p.shape != out.shape[:1] or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"sample_sparse: p must hold {out.shape[0]} probabilities in [0, 1] (one per instance), "
                         f"got shape {p.shape} with values {p.min() if p.size else None}..{p.max() if p.size else None}")
    below_one = np.nextafter(out.dtype.type(1), out.dtype.type(0))   # a float64 draw near 1 rounds up in float32
    _sample_sparse(rng, out, p, below_one)


@njit(**FAST)
def _sample_sparse(rng, out, p, below_one):
    L = out.shape[0]
    size = out.shape[1] * out.shape[2]
    for l in range(L):
        flat = out[l].reshape(size)
        flat[:] = 0.0
        pl = p[l]
        if pl <= 0.0:
            continue
        if pl >= 1.0:
            for i in range(size):
                flat[i] = min(rng.random(), below_one)
            continue
        log_q = math.log1p(-pl)
        i = -1
        while True:
            u = 1.0 - rng.random()                     # in (0, 1]: log is finite
            gap = math.log(u) / log_q                  # compare as a float: at tiny p it overflows an int
            if gap >= size - 1 - i:
                break
            i += 1 + int(gap)
            flat[i] = min(rng.random(), below_one)


def sample_sparse_numpy(rng, out, p):
    present = rng.random(out.shape) < p[:, None, None]
    below_one = np.nextafter(out.dtype.type(1), out.dtype.type(0))
    out[...] = np.where(present, np.minimum(rng.random(out.shape), below_one), 0.0)
