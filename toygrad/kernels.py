"""numba inner loops for the hot paths, each beside the plain NumPy twin that the tests compare it to.

Every kernel is `@njit(**FAST)`: compiled once per dtype on first call, then cached on disk.
A kernel earns its place by being faster than its twin: `python -m toygrad.bench_kernels` measures both
(median of several runs) and prints the ratio. The ops call the numba version.
"""
import functools
import math

import numpy as np
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import overload

from . import blas
from .threads import shares, split

# Compile options shared by the kernels. error_model="numpy" drops Python's divide-by-zero checks, which
# otherwise stop LLVM from vectorising a loop; the fast-math flags let it reorder and fuse float operations
# (results can differ from NumPy in the last bits, still the same from run to run). We leave out "nnan" and
# "ninf" on purpose: a NaN must stay a NaN so the training loop can catch it. nogil lets threads run kernels side
# by side (toygrad/threads.py).
FAST = dict(cache=True, nogil=True, error_model="numpy", fastmath={"nsz", "arcp", "contract", "afn", "reassoc"})


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
# Composing tied, relu and mse makes a pass over the whole (L, B, n) output per op, plus temporaries; fused, the
# outputs never reach memory. Two loop orders, one for each shape of model (the dispatcher picks by n):
#   wide (n >= 64, e.g. lesson 02's n = 1,000): one point at a time, every loop runs over the n features.
#   narrow (n < 64, e.g. the intro's n = 20): a loop over 20 features is too short to vectorise (LLVM's vector
#   body takes 32 at once), so 128 points at a time, transposed, and every loop runs over the points.

def reconstruction(x, W, b, w, rank, want_grad, dW, db):
    """Per instance l: loss_l = (1/B) sum_t sum_j w_j (relu(y_tj) - x_tj)²,  y_t = Wᵀ W x_t + b, and, if
    want_grad, its gradients added into dW_l and db_l.

        h = W x_t                       y = Wᵀ h + b
        g_j = 2 w_j (y_j - x_tj) / B  where y_j > 0, else 0     (relu passes no gradient below 0)
        db += g     dW += h gᵀ (the up-projection)     dW += (W g) x_tᵀ (the down-projection)
    x: (L, B, n)  W: (L, m, n)  b: (L, n)  w: (L, n)  rank: (L,) rows of W in use  ->  loss (L,) float64
    All arrays C-contiguous, of one float dtype.
    """
    kernel = _reconstruction_rows if x.shape[2] >= 64 else _reconstruction_columns
    return _by_instance(kernel, (x,), (W, b, w, rank), want_grad, dW, db)


def _by_instance(kernel, data, params, want_grad, dW, db):
    """kernel(*data, *params, want_grad, dW, db, points) -> loss (L,), run on shares of the instances side by side: each
    instance reads and writes only its own rows, so the numbers do not depend on the shares (toygrad/threads.py).
    data: arrays (L, B, ...) of the points; params: arrays (L, ...). A single instance (lesson 02's double descent)
    would leave a core idle, so its points go in two halves instead, each with gradients of its own, added in order:
    the halves do not depend on the number of threads either. At n = T = 1,000 (the dd bench) the kernel takes
    621 us on one core and 394 us in halves on two (measured; 549 before its scratch vectors were set apart, _apart)."""
    L, B = dW.shape[0], data[0].shape[1]
    if L > 1 or B < 2:
        def share(l0, l1):
            return kernel(*(a[l0:l1] for a in data + params), want_grad, dW[l0:l1], db[l0:l1], B)
        return np.concatenate(split(share, L))
    second = (np.zeros_like(dW), np.zeros_like(db)) if want_grad else (dW, db)     # (untouched without want_grad)
    halves = [(0, B // 2, dW, db), (B // 2, B) + second]

    def half(first, last):
        return [kernel(*(a[:, t0:t1] for a in data), *params, want_grad, dW_, db_, B)   # one instance's rows
                for t0, t1, dW_, db_ in halves[first:last]]                            # t0..t1: contiguous
    losses = [loss for share in split(half, 2) for loss in share]
    if want_grad:
        dW += second[0]
        db += second[1]
    return losses[0] + losses[1]


@njit(**FAST)
def _apart(like, n):
    """Two scratch vectors of n elements of like's dtype: the first on a 4 KB boundary, the second an odd multiple
    of 2 KB after it. The CPU matches a load against earlier stores by the address's last 12 bits first, and one
    that seems to match waits ("4K aliasing"). malloc in a kernel thread put y and g of the kernels below 4,016
    bytes apart (n = 1,000 float32), and the dd bench's half batch took 480 us there against 320 on the main thread
    (measured)."""
    page = 4096 // like.itemsize
    buf = np.empty(2 * n + 3 * page, like.dtype)
    first = (page - (buf.ctypes.data // like.itemsize) % page) % page          # on a 4 KB boundary
    second = first + (n + page - 1) // page * page + page // 2
    return buf[first:first + n], buf[second:second + n]


@njit(**FAST)
def _reconstruction_rows(x, W, b, w, rank, want_grad, dW, db, points):
    """reconstruction, one point at a time: every loop below runs over the n features of one point and
    vectorises; the point's h, y and g stay in L1 cache. At lesson 02's shape (n = 1,000, m = 2, 1% of x nonzero)
    2x faster than this kernel was when it skipped the zeros of x with a branch, which kept LLVM from vectorising
    (measured), and ~10x faster than composing tied, relu and mse."""
    L, B, n = x.shape
    loss = np.zeros(L)
    zero = W.dtype.type(0)                    # accumulate in the arrays' dtype: a float64 sum would halve the SIMD width
    h = np.empty(W.shape[1], dtype=W.dtype)
    dh = np.empty(W.shape[1], dtype=W.dtype)
    y, g = _apart(W, n)
    scale = W.dtype.type(2.0 / points)       # the mean is over `points` (B, or more when x is part of a batch)
    for l in range(L):
        Wl, bl, wl, dWl, dbl = W[l], b[l], w[l], dW[l], db[l]
        m = rank[l]
        total = 0.0
        for t in range(B):
            xt = x[l, t]
            for k in range(m):                # h = W x_t, dense: a branch on x_tj != 0 would stop vectorisation
                acc = zero
                for j in range(n):
                    acc += Wl[k, j] * xt[j]
                h[k] = acc
            for j in range(n):
                y[j] = bl[j]
            for k in range(m):                # y = Wᵀ h + b
                hk = h[k]
                for j in range(n):
                    y[j] += hk * Wl[k, j]
            part = zero
            for j in range(n):
                d = max(y[j], zero) - xt[j]
                part += wl[j] * d * d
                g[j] = scale * wl[j] * d if y[j] > zero else zero
            total += part
            if not want_grad:
                continue
            for j in range(n):
                dbl[j] += g[j]
            for k in range(m):                # the up-projection's gradient, and dh = W g
                hk = h[k]
                acc = zero
                for j in range(n):
                    dWl[k, j] += hk * g[j]
                    acc += g[j] * Wl[k, j]
                dh[k] = acc
            for k in range(m):                # the down-projection's gradient
                dhk = dh[k]
                for j in range(n):
                    dWl[k, j] += dhk * xt[j]
        loss[l] = total / points
    return loss


@njit(**FAST)
def _reconstruction_columns(x, W, b, w, rank, want_grad, dW, db, points, V=128):
    """reconstruction, V points at a time: the block is transposed to xb (n, V), and every inner loop runs over
    the V points (long, so it vectorises) while its sums over j and k accumulate in short rows of length V.
    Per block, three sweeps over the features:
        h_k = Σ_j W_kj x_j                                  for each k (rows of V)
        y_j = b_j + Σ_k W_kj h_k,  the loss and g_j,  dh_k += W_kj g_j   feature by feature: g_j is used while in L1
        dW_kj += Σ_v h_kv g_jv + dh_kv x_jv                 a sum over the block's points, in registers
    At n = 20, m = 5 (the intro's model), 5 instances of 1,024 points on one core: 205 us, against 362 us when dh
    was a sweep of its own and dW summed per lane into an (m, n, V) array (100 KB at V = 256, out of L1), and
    561 us for _reconstruction_rows (measured)."""
    L, B, n = x.shape
    M = W.shape[1]
    zero = W.dtype.type(0)
    scale = W.dtype.type(2.0 / points)       # the mean is over `points` (B, or more when x is part of a batch)
    loss = np.zeros(L)
    xb, gb = np.empty((n, V), dtype=W.dtype), np.empty((n, V), dtype=W.dtype)
    hb, dhb = np.empty((M, V), dtype=W.dtype), np.empty((M, V), dtype=W.dtype)
    lossv = np.empty(V, dtype=W.dtype)
    for l in range(L):
        Wl, bl, wl, xl, dWl, dbl = W[l], b[l], w[l], x[l], dW[l], db[l]
        m = rank[l]
        lossv[:] = zero
        for t0 in range(0, B, V):
            nb = min(V, B - t0)               # points in this block: every loop over the points stops at nb
            for v in range(nb):
                for j in range(n):
                    xb[j, v] = xl[t0 + v, j]  # indexed, not sliced: a view per point costs a reference count
            for k in range(m):                # h = W x for the block
                hk, dhk = hb[k], dhb[k]
                hk[:nb] = zero
                dhk[:nb] = zero
                for j in range(n):
                    wkj, xj = Wl[k, j], xb[j]
                    for v in range(nb):
                        hk[v] += wkj * xj[v]
            for j in range(n):                # y = Wᵀ h + b, the loss and g, and g's share of dh = W g
                bj, wj, gj, xj = bl[j], wl[j], gb[j], xb[j]
                gj[:nb] = bj
                for k in range(m):
                    wkj, hk = Wl[k, j], hb[k]
                    for v in range(nb):
                        gj[v] += wkj * hk[v]
                gscale = scale * wj
                gsum = zero
                for v in range(nb):
                    y = gj[v]
                    d = max(y, zero) - xj[v]
                    lossv[v] += wj * d * d
                    gj[v] = gscale * d if y > zero else zero
                    gsum += gj[v]
                if want_grad:
                    dbl[j] += gsum
                    for k in range(m):
                        wkj, dhk = Wl[k, j], dhb[k]
                        for v in range(nb):
                            dhk[v] += wkj * gj[v]
            if not want_grad:
                continue
            for k in range(m):                # both projections' gradients: the up-projection h gᵀ, the down (W g) xᵀ
                hk, dhk = hb[k], dhb[k]
                for j in range(n):
                    gj, xj = gb[j], xb[j]
                    acc = zero
                    for v in range(nb):
                        acc += hk[v] * gj[v] + dhk[v] * xj[v]
                    dWl[k, j] += acc
        loss[l] = lossv.sum() / points     # lanes from a short last block's nb on hold earlier blocks' sums (or 0)
    return loss


def reconstruction_sparse(index, value, count, W, b, w, rank, want_grad, dW, db):
    """reconstruction for a fixed sparse x given as its nonzeros (_reconstruction_sparse), the instances side by side."""
    return _by_instance(_reconstruction_sparse, (index, value, count), (W, b, w, rank), want_grad, dW, db)


@njit(**FAST)
def _reconstruction_sparse(index, value, count, W, b, w, rank, want_grad, dW, db, points):
    """reconstruction for a fixed sparse x given as its nonzeros: row t of instance l holds x[l, t, index[l, t, z]]
    = value[l, t, z] for z < count[l, t] (datasets.sparse_rows). The same loss and gradients; x itself is never
    read. With x_t zero but for its nonzeros Z:

        h = sum_{j in Z} W_j x_tj                  (m x |Z| instead of m x n)
        r = relu(Wᵀ h + b)   loss = sum_j w_j r_j²,  g_j = (2/B) w_j r_j      as if x_t were 0 (dense, one pass)
        then for j in Z: loss += w_j ((r_j - x_tj)² - r_j²),  g_j = (2/B) w_j (r_j - x_tj) if y_j > 0 else 0
        dW += h gᵀ and dh = W g (dense, one pass)      dW_j += dh x_tj for j in Z (sparse)
    At lesson 02's shape (n = 1,000, m = 2, 1% of x nonzero) that is 2m + 2 passes over the n features per point
    instead of 4m + 3 for _reconstruction_rows, and no pass over x."""
    L, B, _ = index.shape
    n = W.shape[2]
    loss = np.zeros(L)
    zero = W.dtype.type(0)
    h = np.empty(W.shape[1], dtype=W.dtype)
    dh = np.empty(W.shape[1], dtype=W.dtype)
    y, g = _apart(W, n)
    scale = W.dtype.type(2.0 / points)       # the mean is over `points` (B, or more when x is part of a batch)
    for l in range(L):
        Wl, bl, wl, dWl, dbl = W[l], b[l], w[l], dW[l], db[l]
        m = rank[l]
        total = 0.0
        for t in range(B):
            nz = count[l, t]
            for k in range(m):                # h = W x_t over the nonzeros
                acc = zero
                for z in range(nz):
                    acc += Wl[k, index[l, t, z]] * value[l, t, z]
                h[k] = acc
            for j in range(n):                # y = Wᵀ h + b (the loops over j innermost: they vectorise)
                y[j] = bl[j]
            for k in range(m):
                hk = h[k]
                for j in range(n):
                    y[j] += hk * Wl[k, j]
            part = zero
            for j in range(n):                # loss, g and db as if x_t were 0 ...
                r = max(y[j], zero)
                part += wl[j] * r * r
                g[j] = scale * wl[j] * r
                dbl[j] += g[j] if want_grad else zero
            for z in range(nz):               # ... corrected where x_t is not 0
                j, xv = index[l, t, z], value[l, t, z]
                r = max(y[j], zero)
                d = r - xv
                part += wl[j] * (d * d - r * r)
                gj = scale * wl[j] * d if y[j] > zero else zero
                dbl[j] += gj - g[j] if want_grad else zero
                g[j] = gj
            total += part
            if not want_grad:
                continue
            for k in range(m):                # the up-projection's gradient, and dh = W g
                hk = h[k]
                acc = zero
                for j in range(n):
                    dWl[k, j] += hk * g[j]
                    acc += g[j] * Wl[k, j]
                dh[k] = acc
            for k in range(m):                # the down-projection's gradient, over the nonzeros
                dhk = dh[k]
                for z in range(count[l, t]):
                    dWl[k, index[l, t, z]] += dhk * value[l, t, z]
        loss[l] = total / points
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


def adam_constants(dtype, l2, l1, beta1, beta2, eps):
    """What the update multiplies by that stays the same from step to step, in dtype (see adam_coefficients)."""
    t = np.dtype(dtype).type
    return l2.astype(dtype), l1.astype(dtype), t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps)


def adam_coefficients(dtype, lr, decay, bias1, bias2, constants):
    """Everything the update multiplies by, in adam_rows' order and in the parameters' dtype, so float32 parameters
    are updated in float32 arithmetic (as PyTorch does) and the loop vectorises: 3.6x faster than mixing in float64
    (measured). lr / bias1, 1 - lr decay ((L,) or (1,) arrays, from float64 lr and decay) and sqrt(bias2) change
    each step; constants = adam_constants(...), which an optimizer makes once, the rest."""
    return ((lr / bias1).astype(dtype), (1 - lr * decay).astype(dtype), *constants,
            np.dtype(dtype).type(math.sqrt(bias2)))


def adam_update(p, g, m, v, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2):
    """One Adam(W) step for every element, in place, in one pass over p, g, m and v.

    p, g, m, v: (L, K), L instances of K numbers each.  lr, decay, l2, l1: (L,) or (1,), one per instance.
      g' = g + l2 p + l1 sign(p)           (coupled L2, as torch Adam's weight_decay; L1 of the grokking post)
      p  = p (1 - lr decay)                (decoupled decay, as torch AdamW)
      m  = beta1 m + (1 - beta1) g'        v = beta2 v + (1 - beta2) g'²
      p  = p - (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps)      bias_k = 1 - beta_k^step
    """
    constants = adam_constants(p.dtype, l2, l1, beta1, beta2, eps)
    adam_rows(p, g, m, v, *adam_coefficients(p.dtype, lr, decay, bias1, bias2, constants))


def adam_update_numpy(p, g, m, v, lr, decay, l2, l1, beta1, beta2, eps, bias1, bias2):
    constants = adam_constants(p.dtype, l2, l1, beta1, beta2, eps)
    step_size, shrink, l2, l1, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, sqrt_bias2 = \
        adam_coefficients(p.dtype, lr, decay, bias1, bias2, constants)
    step_size, shrink, l2, l1 = (a[:, None] for a in (step_size, shrink, l2, l1))
    g = g + l2 * p + l1 * np.sign(p)
    p *= shrink
    m *= beta1
    m += one_minus_beta1 * g
    v *= beta2
    v += one_minus_beta2 * g * g
    p -= step_size * m / (np.sqrt(v) / sqrt_bias2 + eps)


# --- sparse feature batches ---------------------------------------------------------------------------
def _check_sparse_arguments(rng, out, p, name):
    """p as float64 (L,), after checking rng, out and p; a ValueError or TypeError that names the function."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name}: rng must be a numpy Generator, got {type(rng).__name__}")
    if not isinstance(out, np.ndarray) or out.ndim != 3 or out.dtype.type not in (np.float32, np.float64) \
            or not out.flags.c_contiguous:
        raise ValueError(f"{name}: out must be a C-contiguous float32 or float64 array of shape (L, B, n), "
                         f"got {type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}")
    p = np.asarray(p, dtype=np.float64)
    if p.shape != out.shape[:1] or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"{name}: p must hold {out.shape[0]} probabilities in [0, 1] (one per instance), "
                         f"got shape {p.shape} with values {p.min() if p.size else None}..{p.max() if p.size else None}")
    return p


def sample_sparse(rng, out, p):
    """Fill out[l] with features that are 0 with probability 1 - p[l], else Uniform[0, 1).

    rng: a numpy Generator (numba draws the same stream NumPy would, and advances it)
    out: (L, B, n) float32 or float64, C-contiguous, overwritten.   p: (L,) feature probability per instance.
    Instead of one uniform draw per entry to decide presence, jump straight to the next present entry:
    the gap between present entries is Geometric(p), drawn as floor(log U / log(1 - p)). At p = 0.01 that
    is ~2 draws per 100 entries instead of 200.
    """
    p = _check_sparse_arguments(rng, out, p, "sample_sparse")
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


# --- sparse feature batches, counter-based: one hashed uniform per entry ------------------------------------
# The geometric skip above costs two draws from NumPy's generator and a log per present entry, one at a time:
# ~1 ms for the intro's batch (10 x 1,024 x 20), most of a training step. Here entry i gets u = hash(key, i): a pure
# function of its index, so every entry is computed independently and the loop vectorises. key is one 64-bit draw
# from the caller's Generator, so a seed still fixes every batch and a resumed run (the Generator's state saved)
# continues the same stream. One uniform gives both decisions: present iff u < p, and then u / p is Uniform[0, 1).
#   float64: u from SplitMix64's finaliser over a Weyl sequence (the generator of Java's SplittableRandom, which
#            passes BigCrush), 53 bits per entry.
#   float32: 24 bits per entry are enough, and AVX2 multiplies 8 32-bit integers at once but has no 64-bit multiply
#            (SplitMix64's two become ~6 instructions each), so a 32-bit hash: u = mix32(mix32(i + k1) ^ k2) with
#            (k1, k2) the halves of a 64-bit key per instance (SplitMix64 of key and l, once) and mix32 Wellons's
#            "lowbias32". Both rounds are bijections of the 32 bits, so within an instance no two entries share a
#            hash (their u, its top 24 bits, may repeat), and two instances' streams overlap, shifted, only if their
#            k2 are equal (a 2^-32 chance a pair). 168 to 123 us on one core for the intro's batch, against
#            SplitMix64 with two entries per hash (measured).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31, _S32 = (np.uint64(s) for s in (11, 27, 30, 31, 32))
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint32
_MIX32_1, _MIX32_2 = _U32(0x21F0AAAD), _U32(0x735A2D97)
_R8, _R15, _R16 = _U32(8), _U32(15), _U32(16)


@njit(**FAST)
def _splitmix(z):
    """SplitMix64's output function: 64 well-mixed bits from any 64-bit counter."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(**FAST)
def _mix32(z):
    """lowbias32 (C. Wellons, "Hash Prospector", 2022 constants): 32 well-mixed bits from any 32-bit counter,
    each step invertible. Every product is cast back to 32 bits, so LLVM keeps 8 lanes a vector."""
    z = _U32(z ^ (z >> _R16))
    z = _U32(z * _MIX32_1)
    z = _U32(z ^ (z >> _R15))
    z = _U32(z * _MIX32_2)
    return _U32(z ^ (z >> _R15))


@njit(**FAST)
def _present_value(bits, u, threshold, inv_p, below_one):
    """u = bits * 2^-k in [0, 1): 0 if u >= p (bits >= threshold = ceil(p 2^k)), else u / p."""
    value = min(u * inv_p, below_one)
    return value if bits < threshold else u - u


def sample_sparse_counter(rng, out, p):
    """Fill out[l] with features that are 0 with probability 1 - p[l], else Uniform[0, 1): as sample_sparse,
    from a counter-based hash instead of NumPy's stream (other numbers from the same seed; ~10x faster).

    rng: a numpy Generator, advanced by one draw (the key).   out: (L, B, n) float32 or float64, C-contiguous.
    p: (L,) feature probability per instance.
    """
    p = _check_sparse_arguments(rng, out, p, "sample_sparse_counter")
    if out.dtype == np.float32 and out.shape[1] * out.shape[2] > 2**32:
        raise ValueError(f"sample_sparse_counter: a float32 instance holds at most 2^32 entries (a 32-bit counter), "
                         f"got {out.shape[1]} x {out.shape[2]}")
    kernel = _sample_sparse_counter_32 if out.dtype == np.float32 else _sample_sparse_counter_64
    key = rng.integers(0, 2**64, dtype=np.uint64)
    threshold, inv_p, unit, below_one = _counter_constants(out.dtype.str, p.tobytes())

    def share(l0, l1):                  # instance l's numbers depend on l, not on the share it is drawn in
        kernel(out[l0:l1], l0, key, threshold[l0:l1], inv_p[l0:l1], unit, below_one)
    split(share, out.shape[0])


@functools.lru_cache(maxsize=64)
def _counter_constants(dtype, p_bytes):
    """The sampler's thresholds for a dtype and the bytes of p (float64): the same every step, so made once."""
    dtype, p = np.dtype(dtype), np.frombuffer(p_bytes)
    bits = 24 if dtype == np.float32 else 53                       # a float's significand
    threshold = np.ceil(p * 2.0 ** bits).astype(np.int64)          # u < p  <=>  bits < ceil(p 2^bits)
    inv_p = np.minimum(np.where(p > 0, 1 / np.maximum(p, 1e-300), 0), np.finfo(dtype).max).astype(dtype)   # finite:
    # at p below 2.9e-39 1/p overflows a float32, and the one present u (0) would get 0 x inf = NaN
    t = dtype.type
    return threshold, inv_p, t(2.0 ** -bits), np.nextafter(t(1), t(0))


@njit(**FAST)
def _instance_key(key, l):
    """Instance l's 32-bit keys (k1, k2) for the float32 hash: the halves of SplitMix64(key + l gamma)."""
    k = _splitmix(key + np.uint64(l) * _GAMMA)
    return _U32(k >> _S32), _U32(k & _LOW32)


@njit(**FAST)
def _sample_sparse_counter_32(out, l0, key, threshold, inv_p, unit, below_one):
    """float32: entry i of instance l takes the top 24 bits of mix32(mix32(i + k1) ^ k2). out[l] is instance l0 + l."""
    L = out.shape[0]
    size = out.shape[1] * out.shape[2]
    dt = out.dtype.type
    for l in range(L):
        flat = out[l].reshape(size)
        th, ip = np.int32(threshold[l]), inv_p[l]               # int32 compares: 8 lanes, as the hash
        k1, k2 = _instance_key(key, l0 + l)
        for i in range(size):
            bits = np.int32(_mix32(_U32(_mix32(_U32(_U32(i) + k1)) ^ k2)) >> _R8)
            flat[i] = _present_value(bits, dt(bits) * unit, th, ip, below_one)


@njit(**FAST)
def _sample_sparse_counter_64(out, l0, key, threshold, inv_p, unit, below_one):
    """float64: one 53-bit uniform from each SplitMix64 hash. out[l] is instance l0 + l."""
    L = out.shape[0]
    size = out.shape[1] * out.shape[2]
    dt = out.dtype.type
    for l in range(L):
        flat = out[l].reshape(size)
        th, ip = threshold[l], inv_p[l]
        base = key + np.uint64(l0 + l) * np.uint64(size) * _GAMMA
        for i in range(size):
            bits = np.int64(_splitmix(base + np.uint64(i) * _GAMMA) >> _S11)
            flat[i] = _present_value(bits, dt(bits) * unit, th, ip, below_one)


def sample_sparse_counter_numpy(rng, out, p):
    """The twin: the same hashes and the same decisions with whole NumPy arrays. The hashes are the kernels' own
    Python functions (.py_func) applied to arrays, whose unsigned arithmetic wraps as the compiled code's does."""
    p = np.asarray(p, dtype=np.float64)
    key = rng.integers(0, 2**64, dtype=np.uint64)
    threshold, inv_p, unit, below_one = _counter_constants(out.dtype.str, p.tobytes())
    L, size = out.shape[0], out.shape[1] * out.shape[2]
    splitmix, mix32 = _splitmix.py_func, _mix32.py_func
    keys = splitmix(key + np.arange(L, dtype=np.uint64) * _GAMMA)
    for l in range(L):
        if out.dtype == np.float32:
            k1, k2 = (keys[l:l + 1] >> _S32).astype(_U32), (keys[l:l + 1] & _LOW32).astype(_U32)
            bits = (mix32(mix32(np.arange(size, dtype=_U32) + k1) ^ k2) >> _R8).astype(np.int64)
        else:
            bits = (splitmix(key + (np.uint64(l * size) + np.arange(size, dtype=np.uint64)) * _GAMMA)
                    >> _S11).astype(np.int64)
        value = np.minimum(bits.astype(out.dtype) * unit * inv_p[l], below_one)
        out[l] = np.where(bits < threshold[l], value, out.dtype.type(0)).reshape(out.shape[1:])


# --- a ReLU MLP's cross-entropy, fused: relu(x W1ᵀ + b1) W2ᵀ + b2 against labels, with gradients ------------
# The parity sweep's shape: 90 models of 30 -> 32 -> 2 on one shared batch. Through the ops the (I, B, H) hidden
# layer makes a dozen passes through memory (15 MB each at the sweep's size) and the first layer runs as 90 small
# matmuls. Here the models go a chunk at a time (models sharing one x, MLP_UNITS hidden units in all, side by side as
# one wide layer), and the points a tile at a time: a tile's hidden layer stays in cache from the first layer to its
# gradient, and each point's loss and gradient need only its own logits.
# Two facts about the inputs make the first layer cheap. Zeros: x_t W1ᵀ adds only the rows of W1ᵀ where x_t is not
# 0. Bits: when every x is 0 or 1, group the inputs k at a time and tabulate the 2^k sums of each group's rows
# once; then each point's first layer is n / k table rows added, 5 instead of ~15 at n = 30 (the "four Russians"
# trick for 0/1 matrix products). The weight gradient runs the same trick backwards: dW1 = Σ_t da_t x_t adds each
# point's da into one row per group (the row of its bit pattern), and input j's gradient is the sum of the rows
# whose pattern has j's bit set: 5 row additions per point instead of 30 multiply-adds.
# What each loop cost, per chunk of 8 models (256 units) and 1,200 points on one core, before two classes took the
# logit difference (measured, 697 us in all): the first layer 148 us, logits 85, softmax 57 (the vectorised exp, one
# log per tile), backward 187, dW1 173. The two-class road halves the logits and the exps and makes the backward
# one pass over the units instead of four: the whole sweep's kernel went from 4.02 to 3.19 ms on 2 cores.
# Tried and not kept, as no faster (measured): two classes per pass in the logits; two groups per pass in dW1 and
# the bias folded into the first table row; 128-, 256- and 768-unit chunks (512 is 4% faster than 256); tiles of
# 32 or 128 points.

MLP_UNITS = 512     # hidden units per chunk (models x H), at most: the sweep's 90 x 32 go as 6 chunks of 15 models
MLP_TILE = 64       # points per tile: the tile's hidden layer is 64 x 512 floats (128 KB, in L2)


@njit(**FAST)
def _subset_sums(w1t, width, k, tab):
    """tab[g, s, :width] = the sum of the rows g k + b of w1t over the bits b set in s (each from one smaller sum)."""
    n = w1t.shape[0]
    for g in range(tab.shape[0]):
        j0 = g * k
        for c in range(width):
            tab[g, 0, c] = 0
        for s in range(1, 1 << min(k, n - j0)):
            top = 0
            while (s >> (top + 1)) != 0:
                top += 1
            rest = s - (1 << top)
            for c in range(width):
                tab[g, s, c] = tab[g, rest, c] + w1t[j0 + top, c]


@njit(**FAST)
def mlp_chunk(x, gx, codes, k, labels, W1, b1, W2, b2, i0, ci, want_grad, scale, dW1, db1, dW2, db2):
    """Models i0 .. i0 + ci - 1 on the points x[gx]: per model the summed softmax cross-entropy over the batch
    (returned, (ci,) float64) and, if want_grad, the gradients of scale times it, added into dW1, db1, dW2, db2.

    x: (Gx, B, n)  codes: (Gx, B, n / k) bit patterns when k > 0 (0/1 inputs), else unused
    labels: (I, B), or (1, B) shared by every model
    W1: (I, H, n)  b1: (I, H)  W2: (I, C, H)  b2: (I, C). Unit u = ii H + h of the chunk is model i0 + ii's unit h.
    Per tile of points:
        pre = x W1ᵀ + b1 (a row of the chunk's units per point)      z = relu(pre) W2ᵀ + b2
        dz = scale (softmax(z) - onehot)      dW2 += dzᵀ relu(pre)      db2 += Σ dz
        da = dz W2 where pre > 0               db1 += Σ da              dW1 += daᵀ x
    Two classes (C = 2, the parity sweep's) take a shorter road through the same function: the softmax of two
    logits depends only on their difference d = z_1 - z_0, so each point needs one logit per model, not two:
        d = relu(pre) (W2_1 - W2_0)ᵀ + (b2_1 - b2_0)      loss = softplus(d) if the label is 0, else softplus(-d)
        dd = scale (sigmoid(d) - label)      dz_1 = dd = -dz_0      da = dd (W2_1 - W2_0) where pre > 0
    half the logits, half the exps, and one pass over the units per point for dW2 and da instead of four.
    """
    B, n = x.shape[1], x.shape[2]
    H, C = W1.shape[1], W2.shape[1]
    binary = C == 2
    width, tile = ci * H, MLP_TILE
    dtype = W1.dtype
    zero = dtype.type(0)
    w1t, bias, w2 = np.empty((n, width), dtype), np.empty(width, dtype), np.empty((C, width), dtype)
    b2c = np.empty((C, ci), dtype)
    for ii in range(ci):                             # the chunk's weights as one wide layer, unit u = ii H + h
        for c in range(C):
            b2c[c, ii] = b2[i0 + ii, c]
        for h in range(H):
            u = ii * H + h
            bias[u] = b1[i0 + ii, h]
            for j in range(n):
                w1t[j, u] = W1[i0 + ii, h, j]
            for c in range(C):
                w2[c, u] = W2[i0 + ii, c, h]
    if binary:                                       # row 0: the weights and bias of the difference d = z_1 - z_0
        for u in range(width):
            w2[0, u] = w2[1, u] - w2[0, u]
        for ii in range(ci):
            b2c[0, ii] = b2c[1, ii] - b2c[0, ii]
    G, rows = (-(-n // k), 1 << k) if k > 0 else (0, 0)
    tab = np.empty((G, rows, width), dtype)
    if k > 0:
        _subset_sums(w1t, width, k, tab)
    grad_tab = np.zeros((G if want_grad else 0, rows, width), dtype)
    dw1t = np.zeros((n if want_grad else 0, width), dtype)
    dw2, dbias = np.zeros((C, width), dtype), np.zeros(width, dtype)
    pre, z = np.empty((tile, width), dtype), np.empty((ci, C, tile), dtype)
    shifted, e, bits = np.empty(C * tile, dtype), np.empty(C * tile, dtype), np.empty(C * tile, np.int32)
    zmax, total = np.empty(tile, dtype), np.empty(tile, dtype)
    da, dz_units = np.empty(width, dtype), np.empty((C, width), dtype)
    loss = np.zeros(ci)
    for t0 in range(0, B, tile):
        T = min(tile, B - t0)
        for r in range(T):                           # the first layer
            pr = pre[r]
            for u in range(width):
                pr[u] = bias[u]
            if k > 0:
                code = codes[gx, t0 + r]
                for g in range(0, G - 1, 2):         # two table rows per pass: half the loads and stores of pre
                    ts, tr = tab[g, code[g]], tab[g + 1, code[g + 1]]
                    for u in range(width):
                        pr[u] += ts[u] + tr[u]
                if G % 2:
                    ts = tab[G - 1, code[G - 1]]
                    for u in range(width):
                        pr[u] += ts[u]
            else:
                xt = x[gx, t0 + r]
                for j in range(n):
                    if xt[j] != 0:                   # only the inputs that are present
                        xj, wj = xt[j], w1t[j]
                        for u in range(width):
                            pr[u] += xj * wj[u]
        for r in range(T):                           # the logits, z[ii, c, r] (binary: d in z[ii, 0, r])
            pr = pre[r]
            for ii in range(ci):
                a = pr[ii * H:ii * H + H]
                for c in range(1 if binary else C):
                    w = w2[c, ii * H:ii * H + H]
                    acc = zero
                    for h in range(H):
                        acc += max(a[h], zero) * w[h]
                    z[ii, c, r] = acc + b2c[c, ii]
        for ii in range(ci):                         # the loss and dz (binary: dd), each loop over the tile's points
            i, zi = i0 + ii, z[ii]
            y = labels[i if labels.shape[0] > 1 else 0, t0:t0 + T]
            if binary:
                _binary_tile(zi[0, :T], y, scale, shifted, e, bits, total, loss, ii)
            else:
                _softmax_tile(zi, T, y, scale, shifted, e, bits, zmax, total, loss, ii)
        if not want_grad:
            continue
        for ii in range(ci):
            for c in range(1 if binary else C):
                s = zero
                for r in range(T):
                    s += z[ii, c, r]
                if binary:
                    db2[i0 + ii, 1] += s
                    db2[i0 + ii, 0] -= s
                else:
                    db2[i0 + ii, c] += s
        for r in range(T):
            pr = pre[r]
            for c in range(1 if binary else C):      # dz spread over each model's units: the loops below run over
                gc = dz_units[c]                     # all the chunk's units at once (3x faster than per model)
                for ii in range(ci):
                    zc, part = z[ii, c, r], gc[ii * H:ii * H + H]
                    for h in range(H):
                        part[h] = zc
            if binary:                               # one pass: dW2's row of d, and da through the relu
                gd, dwd, wd = dz_units[0], dw2[0], w2[0]
                for u in range(width):
                    dwd[u] += gd[u] * max(pr[u], zero)
                    d = gd[u] * wd[u] if pr[u] > zero else zero
                    pr[u] = d
                    dbias[u] += d
            else:
                for u in range(width):
                    da[u] = zero
                for c in range(C):
                    gc, dw, w = dz_units[c], dw2[c], w2[c]
                    for u in range(width):
                        dw[u] += gc[u] * max(pr[u], zero)
                        da[u] += gc[u] * w[u]
                for u in range(width):
                    d = da[u] if pr[u] > zero else zero  # relu: no gradient below 0
                    pr[u] = d
                    dbias[u] += d
            if k > 0:                                # dW1 += da x: into the row of each group's bit pattern
                code = codes[gx, t0 + r]
                for g in range(G):
                    row = grad_tab[g, code[g]]
                    for u in range(width):
                        row[u] += pr[u]
            else:                                    # or into the rows of the inputs present
                xt = x[gx, t0 + r]
                for j in range(n):
                    if xt[j] != 0:
                        xj, row = xt[j], dw1t[j]
                        for u in range(width):
                            row[u] += xj * pr[u]
    if want_grad:
        for g in range(G):                           # input g k + b: the sum of the rows whose pattern has bit b set
            for b in range(min(k, n - g * k)):
                row = dw1t[g * k + b]
                for s in range(1 << k):
                    if (s >> b) & 1:
                        ts = grad_tab[g, s]
                        for u in range(width):
                            row[u] += ts[u]
        for ii in range(ci):
            for h in range(H):
                u = ii * H + h
                db1[i0 + ii, h] += dbias[u]
                for j in range(n):
                    dW1[i0 + ii, h, j] += dw1t[j, u]
                if binary:                           # dz_0 = -dz_1
                    dW2[i0 + ii, 1, h] += dw2[0, u]
                    dW2[i0 + ii, 0, h] -= dw2[0, u]
                else:
                    for c in range(C):
                        dW2[i0 + ii, c, h] += dw2[c, u]
    return loss


@njit(**FAST)
def _softmax_tile(zi, T, y, scale, shifted, e, bits, zmax, total, loss, ii):
    """C classes: loss[ii] += Σ_r logsumexp(zi[:, r]) - zi[y_r, r] over the tile's T points, and zi[:, :T]
    overwritten with dz = scale (softmax - onehot). zi: (C, tile); the rest scratch."""
    C = zi.shape[0]
    for r in range(T):
        zmax[r] = zi[0, r]
    for c in range(1, C):
        for r in range(T):
            zmax[r] = zi[c, r] if zi[c, r] > zmax[r] else zmax[r]     # a select: a NaN stays NaN
    for c in range(C):
        for r in range(T):
            shifted[c * T + r] = zi[c, r] - zmax[r]
    exp_nonpositive(shifted[:C * T], e[:C * T], bits[:C * T])
    for r in range(T):
        total[r] = e[r]
    for c in range(1, C):
        for r in range(T):
            total[r] += e[c * T + r]
    # loss_t = log(total_t) - shifted[label_t], and a sum of logs is the log of a product: each total lies in
    # [1, C], so the product is taken a log of only when it grows past 1e250 (once a tile at most, for C < 10^3)
    # instead of once per point
    product, picked = 1.0, 0.0
    for r in range(T):
        product *= total[r]
        picked += shifted[y[r] * T + r]
        if product > 1e250:
            loss[ii] += math.log(product)
            product = 1.0
    loss[ii] += math.log(product) - picked
    for r in range(T):
        total[r] = scale / total[r]
    for c in range(C):
        for r in range(T):
            zi[c, r] = e[c * T + r] * total[r]
    for r in range(T):
        zi[y[r], r] -= scale                         # zi is now dz


@njit(**FAST)
def _binary_tile(d, y, scale, shifted, e, bits, total, loss, ii):
    """Two classes, from the logit difference d = z_1 - z_0 of the tile's points: loss[ii] += Σ_r softplus(±d_r)
    (+ for label 0), as max(t, 0) + log(1 + exp(-|t|)) with one log for the tile, and d overwritten with
    dd = scale (sigmoid(d) - label), sigmoid(d) = 1 / (1 + exp(-d)) for d >= 0, exp(d) / (1 + exp(d)) below."""
    T = d.shape[0]
    zero, one = d.dtype.type(0), d.dtype.type(1)
    for r in range(T):
        shifted[r] = -abs(d[r])
    exp_nonpositive(shifted[:T], e[:T], bits[:T])
    positive = 0.0
    product = 1.0                                    # each 1 + exp(-|d|) lies in [1, 2]: 2^T at most (MLP_TILE < 1024)
    for r in range(T):
        t = d[r] if y[r] == 0 else -d[r]
        positive += max(t, zero)
        total[r] = one + e[r]
        product *= total[r]
    loss[ii] += positive + math.log(product)
    for r in range(T):
        q = (one if d[r] >= zero else e[r]) / total[r]
        d[r] = scale * q - (scale if y[r] != 0 else zero)


def mlp_cross_entropy(x, labels, W1, b1, W2, b2, want_grad, dW1, db1, dW2, db2):
    """Per model i: loss_i = mean over the batch of softmax cross-entropy of relu(x W1ᵢᵀ + b1ᵢ) W2ᵢᵀ + b2ᵢ,
    and, if want_grad, its gradients added into dW1, db1, dW2, db2.

    x: (B, n) shared by every model, or (I, B, n)   labels: (B,) or (I, B) ints in [0, C)
    W1: (I, H, n)  b1: (I, H)  W2: (I, C, H)  b2: (I, C), all C-contiguous, one float dtype  ->  loss: (I,) float64
    """
    I, H, n = W1.shape
    B = x.shape[-2]
    x3 = x[None] if x.ndim == 2 else x
    labels = np.ascontiguousarray(np.asarray(labels).reshape(-1, B), dtype=np.int64)
    if labels.shape[0] not in (1, I):
        raise ValueError(f"mlp_cross_entropy: labels must have shape ({B},) or ({I}, {B}), got {np.shape(labels)}")
    shared = x3.shape[0] == 1
    # chunks of models as equal as can be, ~MLP_UNITS units each (one model each when every model has its own x);
    # a model's numbers do not depend on which chunk it is in
    chunks = shares(I, -(-I * H // MLP_UNITS) if shared else I)
    codes = np.empty(x3.shape[:2] + (-(-n // _BITS),), np.int64)
    k = _BITS if bit_codes(x3, _BITS, codes) else 0
    loss = np.empty(I)
    scale = W1.dtype.type(1.0 / B)                   # the mean over the batch

    def work(first, last):
        for i0, i1 in chunks[first:last]:
            loss[i0:i1] = mlp_chunk(x3, 0 if shared else i0, codes, k, labels, W1, b1, W2, b2, i0, i1 - i0, want_grad,
                                    scale, dW1, db1, dW2, db2) / B
    split(work, len(chunks))            # the chunks are independent: one share of them per core (toygrad/threads.py)
    return loss


_BITS = 6           # inputs per table: 2^6 rows of sums per group; at n = 30, 5 table rows per point instead of ~15


@njit(**FAST)
def bit_codes(x3, k, codes):
    """Whether every x3 is 0 or 1, and if so codes[g, t, q] = the integer whose bits are x3[g, t, q k .. q k + k - 1].
    x3: (G, B, n)  codes: (G, B, ceil(n / k)) int64, written. Two passes: the check, each row in a loop without a
    branch that vectorises, then the codes (with the check and the codes in one loop that returned at the first
    other value: 263 us a step of the parity bench, 1,200 x 30 inputs, against 45; measured)."""
    G, B, n = x3.shape
    for g in range(G):
        for t in range(B):
            row, ok = x3[g, t], True
            for j in range(n):
                ok &= (row[j] == 0) | (row[j] == 1)
            if not ok:                              # other inputs: the rest need not be read
                return False
    for g in range(G):
        for t in range(B):
            row, out = x3[g, t], codes[g, t]
            for q in range(out.shape[0]):
                code = 0
                for b in range(min(k, n - q * k)):
                    code |= (1 if row[q * k + b] != 0 else 0) << b
                out[q] = code
    return True


def mlp_cross_entropy_numpy(x, labels, W1, b1, W2, b2):
    """The twin, with whole arrays: loss (I,), dW1, db1, dW2, db2."""
    I, B = W1.shape[0], x.shape[-2]
    x = np.broadcast_to(x, (I,) + x.shape[-2:])
    pre = np.einsum("ibn,ihn->ibh", x, W1) + b1[:, None, :]
    a = np.maximum(pre, 0)
    logits = np.einsum("ibh,ich->ibc", a, W2) + b2[:, None, :]
    labels = np.broadcast_to(labels, (I, B))
    z = logits - logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1))
    loss = (lse - np.take_along_axis(z, labels[..., None], axis=-1)[..., 0]).mean(axis=-1)
    dz = np.exp(z - lse[..., None])
    np.put_along_axis(dz, labels[..., None], np.take_along_axis(dz, labels[..., None], axis=-1) - 1, axis=-1)
    dz /= B
    da = np.where(pre > 0, dz @ W2, 0)
    dW1 = np.einsum("ibh,ibn->ihn", da, x)
    return loss, dW1, da.sum(axis=1), np.swapaxes(dz, 1, 2) @ a, dz.sum(axis=1)


# --- exp, vectorised -------------------------------------------------------------------------------------
# numba calls libm's scalar exp (~3 ns an element here), and a loop around a call does not vectorise. For float32
# exp is written out below in operations LLVM does vectorise: x = k ln 2 + r with k whole and |r| <= ln 2 / 2,
# exp(r) by Cephes' degree-7 polynomial, and 2^k by writing k + 127 into a float's exponent bits. 0.44 ns an
# element, within 1.4e-7 of exp in float64 (NumPy's float32 exp: 1.2 ns and 1.8e-7; measured, 90,000 elements).
# float64 keeps libm's exp: a model trains in float64 for accuracy, not speed.

def exp_nonpositive(x, out, bits):
    """out = exp(x) for x <= 0 (x, out: (C,), may be one array), exactly 0 where exp(x) would be subnormal (see the
    softmax note above), NaN where x is NaN; bits: (C,) int32 scratch. This is the NumPy twin; compiled code gets
    the version below."""
    out[:] = np.where(x < np.log(np.finfo(x.dtype).tiny), 0, np.exp(x))


@overload(exp_nonpositive, jit_options=FAST)
def _exp_nonpositive_compiled(x, out, bits):
    if x.dtype == types.float64:
        def exp_libm(x, out, bits):
            log_tiny = np.log(np.finfo(np.float64).tiny)
            for i in range(x.shape[0]):
                out[i] = 0.0 if x[i] < log_tiny else math.exp(x[i])
        return exp_libm

    def exp_float32(x, out, bits):
        log2e, ln2_hi, ln2_lo = np.float32(1.4426950408889634), np.float32(0.693359375), np.float32(-2.12194440e-4)
        log_tiny = np.float32(-87.33654)                    # ln(2^-126), the smallest normal float32
        for i in range(x.shape[0]):
            keep = x[i] >= log_tiny
            v = max(x[i], log_tiny)
            k = np.int32(v * log2e - np.float32(0.5))       # round(v / ln 2), as v <= 0 (a cast truncates toward 0)
            kf = np.float32(k)
            r = v - kf * ln2_hi - kf * ln2_lo               # ln 2 in two parts, so r keeps its low bits
            q = np.float32(1.9875691500e-4)
            q = q * r + np.float32(1.3981999507e-3)
            q = q * r + np.float32(8.3334519073e-3)
            q = q * r + np.float32(4.1665795894e-2)
            q = q * r + np.float32(1.6666665459e-1)
            q = q * r + np.float32(5.0000001201e-1)
            # exp(r); below log_tiny 0, and a NaN stays NaN (neither comparison holds for it)
            out[i] = q * r * r + r + np.float32(1) if keep else (np.float32(0) if x[i] < log_tiny else x[i])
            bits[i] = (k + np.int32(127)) << np.int32(23)                            # the float 2^k, as bits
        two_to_k = bits.view(np.float32)
        for i in range(x.shape[0]):
            out[i] *= two_to_k[i]
    return exp_float32


# --- the grokking model's loss, fused: cross-entropy of relu(W_input[a] + W_input[b]) W_output ------------------
# Through the ops a step builds seven tape nodes and makes about ten passes over the (B, p) logits. Here the three
# products stay BLAS calls (numba's loops are slower at these shapes, measured), made from compiled code
# (toygrad/blas.py), and everything between them is one numba pass: the gather and ReLU; the softmax, loss and
# gradient in one (with the vectorised exp); the ReLU's mask and the scatter into W_input's rows. So a block of rows
# is one call that holds no lock from start to end. The rows go in COLLAPSED_BLOCKS blocks per instance, shared out
# over the threads, each with its own gradient, summed in order: the numbers do not depend on the number of threads.

COLLAPSED_BLOCKS = 2          # per instance, of equal size: one per core of a 2-core laptop (a block costs ~10 us
                              # of Python a step, so more blocks than cores only add overhead)


@njit(**FAST)
def collapsed_hidden(W_input, a, b, h):
    """h_t = relu(W_input[a_t] + W_input[b_t])      W_input: (p, n)  a, b: (R,) ints  h: (R, n), written."""
    zero = W_input.dtype.type(0)
    for t in range(a.shape[0]):
        wa, wb, ht = W_input[a[t]], W_input[b[t]], h[t]      # row views: W_input[a[t], j] in the loop is 6x slower
        for j in range(ht.shape[0]):
            ht[j] = max(wa[j] + wb[j], zero)


SOFTMAX_ROWS = 32        # rows whose exps are taken in one call: 10% faster than a call per row of 67 (measured)


@njit(**FAST)
def softmax_xent_rows(z, labels, scale, flush_below, scratch, bits):
    """Per row t: loss_t = logsumexp(z_t) - z_t[label_t], and z_t overwritten with its gradient, scale (q_t - onehot)
    with q = softmax(z_t) set to 0 below flush_below. Returns the sum of the losses (float64).
    z: (R, C)  labels: (R,) ints  scratch: (2, SOFTMAX_ROWS C) (exp's input and output must be separate arrays to
    vectorise)  bits: (SOFTMAX_ROWS C,) int32. The rows go SOFTMAX_ROWS at a time: shifted by their max into one
    flat array, one exp over it, then each row's sum and gradient; one log for many rows' sums."""
    R, C = z.shape
    zero = z.dtype.type(0)
    shifted, e = scratch[0], scratch[1]
    rows = shifted.shape[0] // C
    total_loss, product = 0.0, 1.0          # the sum of log(total_t) is taken as the log of their product
    for t0 in range(0, R, rows):
        T = min(rows, R - t0)
        for r in range(T):
            zt, s = z[t0 + r], shifted[r * C:r * C + C]
            zmax = zt[0]
            for c in range(1, C):
                zmax = zt[c] if zt[c] > zmax else zmax       # a select, not max(): a NaN stays NaN
            for c in range(C):
                s[c] = zt[c] - zmax
        exp_nonpositive(shifted[:T * C], e[:T * C], bits[:T * C])
        for r in range(T):
            zt, er, y = z[t0 + r], e[r * C:r * C + C], labels[t0 + r]
            total = zero
            for c in range(C):
                total += er[c]
            total_loss -= shifted[r * C + y]
            # each total lies in [1, C] (exp(0) for the max, at most 1 for the rest): one log for many rows, taken
            # when the product passes 1e250 (a log per row: 69 us against 63 for the grok bench's half batch)
            product *= total
            if product > 1e250:
                total_loss += math.log(product)
                product = 1.0
            inv = 1 / total
            for c in range(C):
                q = er[c] * inv
                zt[c] = (q if q >= flush_below else zero) * scale
            zt[y] -= scale
    return total_loss + math.log(product)


@njit(**FAST)
def collapsed_input_grad(dh, h, a, b, dW_input, g):
    """dW_input[a_t] += g_t and dW_input[b_t] += g_t, g_t = dh_t where h_t > 0 (the ReLU passes no gradient below 0).
    dh, h: (R, n)  a, b: (R,) ints  dW_input: (p, n), added into  g: (n,) scratch (a separate row: a and b may be
    the same row of dW_input, and the loops vectorise only over arrays that cannot overlap)."""
    zero = h.dtype.type(0)
    n = h.shape[1]
    for t in range(a.shape[0]):
        dht, ht, rows_a, rows_b = dh[t], h[t], dW_input[a[t]], dW_input[b[t]]
        for j in range(n):
            g[j] = dht[j] if ht[j] > zero else zero
        for j in range(n):
            rows_a[j] += g[j]
        for j in range(n):
            rows_b[j] += g[j]


@njit(**FAST)
def all_in_range(index, stop):
    """Whether every entry of the integer array index (1-D) lies in [0, stop)."""
    ok = True
    for i in range(index.shape[0]):
        ok &= (index[i] >= 0) & (index[i] < stop)
    return ok


ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112          # the CBLAS enums (cblas.h)


def matmul_into(gemm, A, B, C, transpose_a, transpose_b):
    """C = op(A) op(B), op(X) = Xᵀ if asked, else X.    A, B, C: 2-D, C-contiguous, of one float dtype; C (M, N),
    op(A) (M, K), op(B) (K, N).  gemm: blas.gemm(C.dtype). This is the version Python runs (np.matmul; gemm may be
    None); compiled code gets the one below, which calls gemm itself: the same routine np.matmul calls for a
    matrix times a matrix, with the same arguments, so the same bits (for a side of 1 np.matmul calls ?gemv, and
    for K = 1 a loop of its own)."""
    np.matmul(A.T if transpose_a else A, B.T if transpose_b else B, out=C)


@overload(matmul_into, jit_options=FAST)
def _matmul_into_compiled(gemm, A, B, C, transpose_a, transpose_b):
    arrays = (A, B, C)
    if not (isinstance(gemm, types.ExternalFunctionPointer) and all(isinstance(x, types.Array) for x in arrays)):
        raise TypingError(f"matmul_into: expected a gemm from blas.gemm and three arrays, got {gemm}, {A}, {B}, {C}")
    if not (all(x.ndim == 2 and x.layout == "C" for x in arrays) and A.dtype == B.dtype == C.dtype == gemm.sig.args[6]):
        raise TypingError(f"matmul_into: A, B and C must be C-contiguous 2-D arrays of gemm's dtype "
                          f"{gemm.sig.args[6]}, got {A}, {B}, {C}")     # the leading dimensions below are C order's

    def call_gemm(gemm, A, B, C, transpose_a, transpose_b):
        M, N = C.shape
        K = A.shape[0] if transpose_a else A.shape[1]
        if (A.shape[1] if transpose_a else A.shape[0]) != M or (B.shape[1] if transpose_b else B.shape[0]) != K \
                or (B.shape[0] if transpose_b else B.shape[1]) != N:
            raise ValueError("matmul_into: the shapes of op(A), op(B) and C do not make a product")
        if M == 0 or N == 0 or K == 0:              # nothing to multiply (BLAS rejects a leading dimension of 0)
            C[:] = 0                                # and a sum over K = 0 terms is 0
            return
        gemm(ROW_MAJOR, TRANS if transpose_a else NO_TRANS, TRANS if transpose_b else NO_TRANS, M, N, K,
             1.0, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], 0.0, C.ctypes.data, N)
    return call_gemm


@njit(**FAST)
def collapsed_block(gemm, W_input, W_output, a, b, labels, scale, flush_below, dW_input, dW_output, want_grad):
    """One block of rows, start to end in compiled code, its products by BLAS (gemm = blas.gemm(dtype)): returns
    the summed loss (float64); if want_grad, writes dW_output = hᵀ dz and adds dh where h > 0 into dW_input's rows.
    W_input: (p, n)  W_output, dW_output: (n, p)  a, b, labels: (R,) ints  dW_input: (p, n)."""
    R, p, n = a.shape[0], W_input.shape[0], W_input.shape[1]
    h, z = np.empty((R, n), W_input.dtype), np.empty((R, p), W_input.dtype)
    collapsed_hidden(W_input, a, b, h)
    matmul_into(gemm, h, W_output, z, False, False)                      # z = h W_output
    loss = softmax_xent_rows(z, labels, scale, flush_below, np.empty((2, SOFTMAX_ROWS * p), W_input.dtype),
                             np.empty(SOFTMAX_ROWS * p, np.int32))      # z is now dz
    if want_grad:
        dh = np.empty((R, n), W_input.dtype)
        matmul_into(gemm, h, z, dW_output, True, False)                  # dW_output = hᵀ dz
        matmul_into(gemm, z, W_output, dh, False, True)                  # dh = dz W_outputᵀ
        collapsed_input_grad(dh, h, a, b, dW_input, np.empty(n, W_input.dtype))
    return loss


def collapsed_cross_entropy(W_input, W_output, a, b, labels, scale, flush_below, want_grad):
    """Per instance k: the summed cross-entropy over B rows of logits = relu(W_input[a] + W_input[b]) W_output
    against labels, and, if want_grad, the gradients of scale times it:

        h = relu(W_input[a] + W_input[b])   z = h W_output (BLAS)   dz = scale (softmax(z) - onehot)
        dW_output = hᵀ dz (BLAS)   dh = dz W_outputᵀ (BLAS)   dW_input[a] += dh, dW_input[b] += dh where h > 0
    W_input: (K, p, n)  W_output: (K, n, p)  a, b, labels: (K, B) int64, all C-contiguous
    ->  loss (K,) float64, dW_input (K, p, n), dW_output (K, n, p) (None without want_grad).

    A block runs in collapsed_block, one compiled call that holds no lock; where NumPy's BLAS is not one toygrad
    can call from compiled code (blas.gemm is None), its Python function runs, each product an np.matmul."""
    K, p, n = W_input.shape
    blocks = _collapsed_blocks(K, a.shape[1])
    dtype = W_input.dtype
    loss = np.zeros(len(blocks))
    shape_in, shape_out = ((p, n), (n, p)) if want_grad else ((0, 0), (0, 0))      # untouched without want_grad
    dW_in = np.zeros((len(blocks),) + shape_in, dtype)
    dW_out = np.empty((len(blocks),) + shape_out, dtype)
    scale, flush_below = dtype.type(scale), dtype.type(flush_below)
    gemm = blas.gemm(dtype)
    block = collapsed_block if gemm is not None else collapsed_block.py_func

    def share(first, last):
        for i in range(first, last):
            k, r0, r1 = blocks[i]                          # r0 == r1 (fewer rows than blocks) adds 0 throughout
            loss[i] = block(gemm, W_input[k], W_output[k], a[k, r0:r1], b[k, r0:r1], labels[k, r0:r1], scale,
                            flush_below, dW_in[i], dW_out[i], want_grad)
    split(share, len(blocks))
    loss = _sum_blocks(loss)
    if not want_grad:
        return loss, None, None
    return loss, _sum_blocks(dW_in), _sum_blocks(dW_out)


@functools.lru_cache(maxsize=64)            # the same (K, B) on every step: made once (1.4 us a call, 0.1 so)
def _collapsed_blocks(K, B):
    """The blocks as (instance, first row, end row): COLLAPSED_BLOCKS per instance, of equal size."""
    edges = [B * i // COLLAPSED_BLOCKS for i in range(COLLAPSED_BLOCKS + 1)]
    return tuple((k, r0, r1) for k in range(K) for r0, r1 in zip(edges[:-1], edges[1:]))


def _sum_blocks(parts, blocks=COLLAPSED_BLOCKS):
    """parts: (K * blocks, ...), each instance's blocks in a row  ->  (K, ...), their sum, added in order, block 0
    first (a strided view per block and one add each: 1.3 us for the grok bench's dW_input, where a compiled pass
    took 3.3, measured)."""
    total = parts[0::blocks] + parts[1::blocks]                 # blocks >= 2, as COLLAPSED_BLOCKS is
    for c in range(2, blocks):
        total += parts[c::blocks]
    return total


def collapsed_cross_entropy_numpy(W_input, W_output, a, b, labels, scale, flush_below):
    """The twin, with whole arrays per instance: loss (K,), dW_input, dW_output."""
    K, p, n = W_input.shape
    loss, dW_input, dW_output = np.empty(K), np.zeros_like(W_input), np.empty_like(W_output)
    for k in range(K):
        h = np.maximum(W_input[k][a[k]] + W_input[k][b[k]], 0)
        z = h @ W_output[k]
        z = z - z.max(axis=1, keepdims=True)
        e = np.where(z < np.log(np.finfo(z.dtype).tiny), 0, np.exp(z))
        rows = np.arange(len(labels[k]))
        loss[k] = (np.log(e.sum(axis=1)) - z[rows, labels[k]]).sum()
        q = e / e.sum(axis=1, keepdims=True)
        dz = np.where(q >= flush_below, q, 0) * scale
        dz[rows, labels[k]] -= scale
        dW_output[k] = h.T @ dz
        dh = np.where(h > 0, dz @ W_output[k].T, 0)
        np.add.at(dW_input[k], a[k], dh)
        np.add.at(dW_input[k], b[k], dh)
    return loss, dW_input, dW_output
