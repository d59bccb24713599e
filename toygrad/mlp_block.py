"""Two models with a ReLU between two weights, on the instance axis (lesson 03).

The ReLU-hidden model of Elhage et al. 2022 ("privileged basis"): a bottleneck whose hidden layer has a ReLU,
so the m hidden dimensions are neurons, a basis the model can align features with.

    h = ReLU(W x)          x' = ReLU(Wᵀ h + b)
    x: (I, B, n)   W: (I, m, n)   b: (I, n)   h: (I, B, m)

The MLP autoencoder of Hobbhahn 2023: a transformer's MLP block on its own, up through W1 and a ReLU, down
through an independent W2, trained with squared error to reproduce its target.

    a = ReLU(W1 x + b1)    x' = W2 a + b2
    x: (I, B, n_in)   W1: (I, k, n_in)   b1: (I, k)   a: (I, B, k)   W2: (I, n_out, k)   b2: (I, n_out)

The target is x itself (an autoencoder), or something computed from it (lesson 03's "fish"). Column i of W1 is
input i's direction in the hidden space before the ReLU; ReLU(W1 e_i + b1) its code after it; W2 reads codes back.

One instance per model: seeds, training-set sizes T and hidden sizes k go on the instance axis. Hidden sizes
are zero-padded: instance i with k_i < k keeps its rows of W1 and b1 from k_i on at 0, and its columns of W2
too. Those neurons compute ReLU(0) = 0 and, as ReLU passes no gradient at 0, they get none and stay 0 under
AdamW: instance i is exactly an MLP with k_i neurons (no rank argument needed, unlike superposition.init_ranked).

mlp_loss is the autoencoder's loss as one numba op, for sparse data: it never forms the (I, B, n) output.
"""
import numpy as np
from numba import njit

import toygrad as tg
from toygrad.datasets import SparseRows, sparse_rows
from toygrad.kernels import FAST
from toygrad.ops import _result, times_seed
from toygrad.train import fit

INITS = ("uniform", "gaussian")


# --- the ReLU-hidden model ----------------------------------------------------------------------------------

def init_relu_hidden(rng, n_instances, n_features, n_hidden, dtype=np.float32):
    """{"W": (I, m, n) Xavier-normal, "b": (I, n) zeros}, as the authors initialise the ReLU-output model."""
    for name, value in (("n_instances", n_instances), ("n_features", n_features), ("n_hidden", n_hidden)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"init_relu_hidden: {name} must be a positive integer, got {value!r}")
    return {"W": tg.parameter("xavier_normal", (n_instances, n_hidden, n_features), rng, dtype),
            "b": tg.parameter("zeros", (n_instances, n_features), rng, dtype)}


def relu_hidden(params, x):
    """x' = ReLU(Wᵀ ReLU(W x) + b)      x: (I, B, n)  ->  (I, B, n)   (two ops.linear, two relu)"""
    W, b = params["W"], params["b"]
    return tg.relu(tg.linear(tg.relu(tg.linear(x, W)), tg.transpose(W), b))


def neuron_profile(W, threshold=0.5):
    """How the features share the neurons of a ReLU-hidden model, W: (m, n) (row j: neuron j's input weights).
    Only positive weights make a neuron fire; negative ones keep it off (inhibition), so both read W⁺ = max(W, 0):

    top_share_j = max_i (W⁺_ji)² / sum_i (W⁺_ji)²   (1: one feature fires neuron j; 1/n: all alike; 0: none)
    features_j  = the number of features i with W_ji > threshold (excited enough to fire neuron j)
    Returns (top_share: (m,), features: (m,) ints)."""
    W = np.asarray(W, np.float64)
    if W.ndim != 2:
        raise ValueError(f"neuron_profile: W must have shape (m, n), got {W.shape}")
    square = np.maximum(W, 0) ** 2
    total = square.sum(axis=1)
    top = np.divide(square.max(axis=1), total, out=np.zeros(len(W)), where=total > 0)
    return top, (W > threshold).sum(axis=1)


# --- the MLP autoencoder: parameters ------------------------------------------------------------------------

def _hidden_sizes(hidden):
    hidden = np.atleast_1d(np.asarray(hidden))
    if hidden.ndim != 1 or hidden.size == 0 or not np.issubdtype(hidden.dtype, np.integer) or hidden.min() < 1:
        raise ValueError(f"init_mlp: hidden must be a positive integer or a 1-D list of them, one per instance; "
                         f"got {hidden.tolist()}")
    return hidden


def init_mlp(rng, hidden, n_in, n_out, init="uniform", dtype=np.float32):
    """{"W1": (I, k, n_in), "b1": (I, k), "W2": (I, n_out, k), "b2": (I, n_out)}, k = max(hidden).

    hidden: the hidden size k_i of each instance (I = len(hidden)); rows, columns and biases beyond k_i are 0.
    init: one name for every instance, or one per instance:
    init "uniform": PyTorch's Linear default, every weight and bias ~ Uniform[-1/sqrt(fan_in), 1/sqrt(fan_in)),
         fan_in = n_in for W1 and b1, k_i for W2 and b2.
    init "gaussian": N(0, 1/(3 fan_in)), the same variance: only the shape of the distribution changes (a box
         of features in the hidden plane becomes a round cloud)."""
    hidden = _hidden_sizes(hidden)
    inits = [init] * len(hidden) if isinstance(init, str) else list(init)
    if len(inits) != len(hidden) or any(name not in INITS for name in inits):
        raise ValueError(f"init_mlp: init must be one of {INITS}, or a list of them, one per instance "
                         f"({len(hidden)}); got {init!r}")
    for name, value in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"init_mlp: {name} must be a positive integer, got {value!r}")

    def draw(shape, fan_in, init):
        if init == "uniform":
            return tg.init.torch_linear(shape, rng, dtype, fan_in=fan_in)
        return tg.init.normal(shape, rng, dtype, std=1 / np.sqrt(3 * fan_in))

    I, k = len(hidden), int(hidden.max())
    W1, b1 = np.zeros((I, k, n_in), dtype), np.zeros((I, k), dtype)
    W2, b2 = np.zeros((I, n_out, k), dtype), np.zeros((I, n_out), dtype)
    for i, (ki, name) in enumerate(zip(hidden, inits)):
        W1[i, :ki], b1[i, :ki] = draw((ki, n_in), n_in, name), draw((ki,), n_in, name)
        W2[i, :, :ki], b2[i] = draw((n_out, ki), ki, name), draw((n_out,), ki, name)
    return {name: tg.Tensor(value, requires_grad=True) for name, value in
            (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}


def mlp(params, x):
    """x' = W2 ReLU(W1 x + b1) + b2 through the ops (two linear, one relu): x: (I, B, n_in) -> (I, B, n_out)."""
    return tg.linear(tg.relu(tg.linear(x, params["W1"], params["b1"])), params["W2"], params["b2"])


def arrays(params):
    """The parameters as plain arrays, W1, b1, W2, b2."""
    return tuple(np.asarray(params[k].data if isinstance(params[k], tg.Tensor) else params[k])
                 for k in ("W1", "b1", "W2", "b2"))


def pre_activations(params, x):
    """W1 x + b1 as a plain array: x: (I, B, n_in) -> (I, B, k)."""
    W1, b1, _, _ = arrays(params)
    return x @ np.swapaxes(W1, -1, -2) + b1[:, None, :]


def outputs(params, x):
    """x' = W2 ReLU(W1 x + b1) + b2 as a plain array, without the tape: x: (I, B, n_in) -> (I, B, n_out)."""
    _, _, W2, b2 = arrays(params)
    return np.maximum(pre_activations(params, x), 0) @ np.swapaxes(W2, -1, -2) + b2[:, None, :]


# --- sparse rows: a fixed data set kept as its nonzeros (datasets.SparseRows) ------------------------------------

def _rows(x):
    return x if isinstance(x, SparseRows) else sparse_rows(np.asarray(x.data if isinstance(x, tg.Tensor) else x))


# --- the autoencoder's loss as one op ---------------------------------------------------------------------------

@njit(**FAST)
def _mlp_kernel(x_index, x_value, x_count, y_index, y_value, y_count, y_square, W1, b1, W2, b2, hidden, want_grad):
    """Per instance l: loss_l = (1/B) sum_t ||W2 a_t + b2 - y_t||²,  a_t = ReLU(W1 x_t + b1), with the sparse
    rows x_t, y_t (index, value). With G = W2ᵀ W2 and c = W2ᵀ b2 (k x k and k, computed once per instance) the
    squared error of a point needs no pass over n_out:

        ||W2 a + b2 - y||² = aᵀ G a + 2 a·c + ||b2||² - 2 (W2 a + b2)·y + ||y||²     (y·(...) over y's nonzeros)

    and, if want_grad, the gradients (zeros otherwise), with S = sum_t a_t a_tᵀ and s = sum_t a_t:
        d/da = (2/B) (G a + c - W2ᵀ y)        d/dW1 = d/da ⊙ [a > 0] x_tᵀ   (x's nonzeros only)
        d/dW2 = (2/B) (W2 S + b2 sᵀ - sum_t y_t a_tᵀ)    d/db2 = (2/B) (W2 s - sum_t y_t) + 2 b2
    Only the neurons that fire enter (on[:active]); instance l has hidden[l] neurons (init_mlp's zero padding
    computes 0 and gets no gradient, so skipping it only saves time). Sums run in float64 (the dW2 terms cancel
    near a minimum) and are written out in the parameters' dtype. A step costs ~B (z k + f²), f the neurons that
    fire, plus n_out k² for G, c and the dense terms, where the ops (two linear, relu, mse) pass over the
    (B, n_out) output several times: ~20x slower at n = 1,000, k = 2 and ~10 nonzeros a row (lesson 03's data).
    One kernel for all of it, not BLAS for G and the dense terms: at k = 2 numpy's calls on (I, 1000, 2) arrays
    cost more than the arithmetic (a step of lesson 03's T = 3 groups, 48 models: 7.8 ms with BLAS and numpy
    around the kernel, 2.9 ms in one kernel, both measured on a loaded machine).
    x or y may have one instance for all (a leading axis of 1): every model then reads the same rows.
    Returns loss: (I,) float64, dW1, db1, dW2, db2 (zeros when not want_grad).
    """
    L, B = W1.shape[0], x_index.shape[1]
    shared_x, shared_y = x_index.shape[0] == 1, y_index.shape[0] == 1
    K, n_in, n_out = W1.shape[1], W1.shape[2], W2.shape[1]
    loss = np.zeros(L)
    dW1, db1, dW2, db2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    on, a, da = np.empty(K, np.int64), np.empty(K), np.empty(K)
    G, c, S, s = np.empty((K, K)), np.empty(K), np.empty((K, K)), np.empty(K)
    gW1, gb1, gW2, gb2 = np.empty((K, n_in)), np.empty(K), np.empty((n_out, K)), np.empty(n_out)
    scale = 2.0 / B
    for l in range(L):
        k, lx, ly = hidden[l], 0 if shared_x else l, 0 if shared_y else l
        G[:], c[:], S[:], s[:] = 0.0, 0.0, 0.0, 0.0
        b2_square = 0.0
        for j in range(n_out):                                   # G = W2ᵀ W2, c = W2ᵀ b2, ||b2||²
            bj = np.float64(b2[l, j])
            b2_square += bj * bj
            for p in range(k):
                wp = np.float64(W2[l, j, p])
                c[p] += wp * bj
                for q in range(k):
                    G[p, q] += wp * W2[l, j, q]
        if want_grad:
            gW1[:], gb1[:], gW2[:], gb2[:] = 0.0, 0.0, 0.0, 0.0
        total = 0.0
        for t in range(B):
            active = 0                                           # a = ReLU(W1 x_t + b1): keep the neurons that
            for p in range(k):                                   # fire (on[:active]); the rest add nothing
                acc = np.float64(b1[l, p])
                for z in range(x_count[lx, t]):
                    acc += W1[l, p, x_index[lx, t, z]] * np.float64(x_value[lx, t, z])
                if acc > 0.0:                                    # ReLU passes no gradient at or below 0 either
                    on[active], a[active] = p, acc
                    active += 1
            quadratic = 0.0
            for u in range(active):                              # aᵀ G a + 2 a·c,  and d/da = G a + c ...
                Ga = 0.0
                for v in range(active):
                    Ga += G[on[u], on[v]] * a[v]
                quadratic += a[u] * (Ga + 2.0 * c[on[u]])
                da[u] = Ga + c[on[u]]
            cross = 0.0
            for z in range(y_count[ly, t]):                      # (W2 a + b2)·y,  and d/da -= W2ᵀ y
                j, value = y_index[ly, t, z], np.float64(y_value[ly, t, z])
                out = np.float64(b2[l, j])
                for u in range(active):
                    out += W2[l, j, on[u]] * a[u]
                    da[u] -= W2[l, j, on[u]] * value
                cross += out * value
            total += quadratic + b2_square - 2.0 * cross + y_square[ly, t]
            if not want_grad:
                continue
            for u in range(active):
                p, g = on[u], scale * da[u]
                gb1[p] += g
                for z in range(x_count[lx, t]):
                    gW1[p, x_index[lx, t, z]] += g * x_value[lx, t, z]
                s[p] += a[u]
                for v in range(active):
                    S[p, on[v]] += a[u] * a[v]
            for z in range(y_count[ly, t]):                      # the - sum_t y_t a_tᵀ and - sum_t y_t terms
                j, value = y_index[ly, t, z], np.float64(y_value[ly, t, z])
                gb2[j] -= scale * value
                for u in range(active):
                    gW2[j, on[u]] -= scale * value * a[u]
        loss[l] = total / B
        if not want_grad:
            continue
        for p in range(k):
            db1[l, p] = gb1[p]
            for i in range(n_in):
                dW1[l, p, i] = gW1[p, i]
        for j in range(n_out):                                   # the dense terms: W2 S + b2 sᵀ and W2 s + B b2
            bj = np.float64(b2[l, j])
            Ws = 0.0
            for p in range(k):
                wp = np.float64(W2[l, j, p])
                Ws += wp * s[p]
                WS = 0.0
                for q in range(k):
                    WS += W2[l, j, q] * S[q, p]
                dW2[l, j, p] = gW2[j, p] + scale * (WS + bj * s[p])
            db2[l, j] = gb2[j] + scale * Ws + 2.0 * bj
    return loss, dW1, db1, dW2, db2


def mlp_loss(x, y, W1, b1, W2, b2, hidden=None):
    """loss = (1/B) sum_t ||W2 ReLU(W1 x_t + b1) + b2 - y_t||², per instance, as one op (see _mlp_kernel).

    x: SparseRows (I, B, n_in) or an array   y: SparseRows (I, B, n_out) or an array (x itself for an autoencoder);
       either may be (1, B, .): one set of rows that every instance reads (a shared test set, one embedding)
    W1: (I, k, n_in)  b1: (I, k)  W2: (I, n_out, k)  b2: (I, n_out)  Tensors  ->  loss: (I,)
    hidden: None, or (I,) the hidden sizes init_mlp padded to k (only a shortcut: the padding computes 0).
    The same numbers as tg.mse(mlp(params, x), y); pass SparseRows made once (sparse_rows) when x is fixed.
    """
    x, y = _rows(x), _rows(y)
    I, k, n_in = W1.shape
    n_out = W2.shape[1]
    expected = {"W1": (I, k, n_in), "b1": (I, k), "W2": (I, n_out, k), "b2": (I, n_out)}
    got = {"W1": W1.shape, "b1": b1.shape, "W2": W2.shape, "b2": b2.shape}
    if (got != expected or x.shape[1] != y.shape[1] or x.shape[0] not in (1, I) or y.shape[0] not in (1, I)
            or x.n != n_in or y.n != n_out):
        raise ValueError(f"mlp_loss: expected x (I or 1, B, n_in), y (I or 1, B, n_out), W1 (I, k, n_in), b1 (I, k), "
                         f"W2 (I, n_out, k), b2 (I, n_out); got x {x.shape}, y {y.shape}, " +
                         ", ".join(f"{name} {shape}" for name, shape in got.items()))
    hidden = np.full(I, k, np.int64) if hidden is None else np.asarray(hidden, np.int64)
    if hidden.shape != (I,) or hidden.min() < 0 or hidden.max() > k:
        raise ValueError(f"mlp_loss: hidden must hold {I} integers in [0, {k}], got {hidden.tolist()}")
    dtype = W1.dtype
    params = [np.ascontiguousarray(p.data) for p in (W1, b1, W2, b2)]
    want = any(p.requires_grad for p in (W1, b1, W2, b2))
    value, *grads = _mlp_kernel(x.index, x.value, x.count, y.index, y.value, y.count, y.square, *params, hidden,
                                want)

    def backward(g):
        return times_seed(g, *grads)
    return _result(value.astype(dtype), (W1, b1, W2, b2), backward, "mlp_loss")


def _mlp_loss_numpy(x, y, W1, b1, W2, b2):
    """The twin: the same loss and gradients from the ops through the tape (what the kernel must equal)."""
    params = {name: tg.Tensor(p, requires_grad=True) for name, p in zip(("W1", "b1", "W2", "b2"), (W1, b1, W2, b2))}
    value = tg.mse(mlp(params, x), y)
    value.sum().backward()
    return (value.data,) + tuple(params[name].grad for name in ("W1", "b1", "W2", "b2"))


def loss_value(params, x, y, hidden=None):
    """mlp_loss as a plain array (I,), without gradients (for evaluation)."""
    return mlp_loss(x, y, *(tg.Tensor(a) for a in arrays(params)), hidden=hidden).data


def train_fixed(params, x, y, *, steps, lr=1e-3, weight_decay=1e-2, warmup=0.05, hidden=None, fused=True):
    """Full-batch training on a fixed data set (Henighan et al. 2023's recipe): AdamW, lr warmed up linearly over
    the first `warmup` fraction of steps, then cosine decay to 0. x, y: SparseRows or arrays (I or 1, T, .).
    weight_decay: a number or (I,), one per instance. Returns fit()'s Run.
    fused: through mlp_loss (for sparse rows or a large n_out), else tg.mse(mlp(params, x), y) on dense arrays:
    BLAS wins when x and y are dense and small, 2-3x at lesson 03's E x of 10 to 30 dimensions (hidden is not
    needed there: the zero padding computes 0 and gets no gradient through the ops either)."""
    optimizer = tg.AdamW(params.values(), lr=lr, weight_decay=weight_decay,
                         schedule=tg.schedule("warmup_cosine", total_steps=steps, warmup=warmup))
    if fused:
        x, y = _rows(x), _rows(y)
        loss = lambda step: mlp_loss(x, y, *params.values(), hidden=hidden)
    else:
        I = params["W1"].shape[0]
        x, y = (np.ascontiguousarray(np.broadcast_to(a.dense() if isinstance(a, SparseRows) else a,
                                                     (I,) + a.shape[1:])) for a in (x, y))
        loss = lambda step: tg.mse(mlp(params, x), y)
    return fit(loss, params, optimizer, steps, log_every=steps, progress=False)


# --- what a trained autoencoder recovers ----------------------------------------------------------------------

def argmax_accuracy(params, x):
    """The fraction of points whose largest feature is the largest entry of the autoencoder's output, per
    instance: x: (I, B, n) or (1, B, n) shared by all -> (I,). One instance at a time: a sweep's (I, B, n)
    outputs need not fit in memory."""
    W1, b1, W2, b2 = arrays(params)
    accuracy = np.empty(len(W1))
    for i in range(len(W1)):
        one = {"W1": W1[i:i + 1], "b1": b1[i:i + 1], "W2": W2[i:i + 1], "b2": b2[i:i + 1]}
        xi = x[i if len(x) > 1 else 0]
        accuracy[i] = (outputs(one, xi[None])[0].argmax(axis=-1) == xi.argmax(axis=-1)).mean()
    return accuracy


def retrieval_accuracy(out, y):
    """The fraction of points t whose output lies no farther from its own target y_t than from any other point's
    target y_s: the point can be looked up from the output alone (points with the same target, e.g. the same
    single feature, count as found). out, y: (I, B, d) -> (I,)."""
    out, y = np.asarray(out, np.float64), np.asarray(y, np.float64)
    distance = (y ** 2).sum(-1)[:, None, :] - 2 * out @ np.swapaxes(y, -1, -2)    # ||out_t - y_s||² - ||out_t||²
    own = np.diagonal(distance, axis1=1, axis2=2)
    return (own <= distance.min(axis=-1) + 1e-9 * (1 + np.abs(own))).mean(axis=-1)


def boxiness(W):
    """How box-like the cloud of features (columns of W: (k, n)) is along the neuron axes: per neuron, the
    interquartile range over the central 98% range of its weights, averaged over neurons. A uniform
    distribution (PyTorch's init) gives 0.5/0.98 = 0.51, a Gaussian 1.35/4.65 = 0.29. Quantiles, not moments: the
    few features that training grows out of the cloud do not move it."""
    W = np.asarray(W, np.float64)
    if W.ndim != 2:
        raise ValueError(f"boxiness: W must have shape (k, n), features as columns; got {W.shape}")
    q01, q25, q75, q99 = np.percentile(W, [1, 25, 75, 99], axis=1)
    return float(np.mean((q75 - q25) / (q99 - q01)))


def embedding(rng, n_instances, bottleneck, n_features, dtype=np.float32):
    """A random Gaussian embedding E: (I, d, n), entries N(0, 1/d): E x keeps ||x|| on average (Johnson-
    Lindenstrauss), so a bottleneck of d dimensions holds the n features as random, nearly orthogonal directions."""
    return tg.init.normal((n_instances, bottleneck, n_features), rng, dtype, std=1 / np.sqrt(bottleneck))


def embed(E, x):
    """E x for every point: E: (I, d, n)  x: (I, T, n)  ->  (I, T, d)."""
    return np.ascontiguousarray(x @ np.swapaxes(E, -1, -2))
