"""Losses: importance-weighted squared error and softmax cross-entropy.

Both work per instance: with a leading instance axis, pred: (I, B, n) gives a loss of shape (I,), one
number per model. Train on their sum, `loss.sum().backward()`: the instances share no parameters, so each
model receives exactly the gradient of its own loss.
"""
import numpy as np

from . import kernels
from .ops import _result, times_seed
from .tensor import Tensor, as_tensor


def _constant(x, like, name):
    """A target or weight as an array of like's dtype. Targets are data, not parameters: no gradient
    flows into them (pass a Tensor's .data if it is computed)."""
    if isinstance(x, Tensor):
        if x.dtype != like.dtype:
            raise TypeError(f"{name}: expected dtype {like.dtype} to match the predictions, got {x.dtype}")
        return x.data
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
    return arr.astype(like.dtype, copy=False)


def mse(pred, target, weight=None):
    """Importance-weighted squared error: loss = mean over the batch of sum_f weight_f (pred_f - target_f)².

    pred, target: (..., B, n)   weight: (n,) or (..., n), one importance per feature (default 1)
    -> loss: (...)  one value per instance (a scalar without an instance axis)
    dpred = 2 weight (pred - target) / B
    """
    pred = as_tensor(pred)
    if pred.ndim < 2:
        raise ValueError(f"mse: pred must have shape (..., batch, features), got {pred.shape}")
    target = _constant(target, pred, "mse: target")
    if target.shape != pred.shape:
        raise ValueError(f"mse: target must have the shape of pred {pred.shape}, got {target.shape}")
    batch = pred.shape[-2]
    if weight is None:
        w = np.ones((), dtype=pred.dtype)
    else:
        w = _constant(weight, pred, "mse: weight")
        if w.ndim < 1 or w.shape[-1] != pred.shape[-1] or not _broadcasts_to(w.shape[:-1], pred.shape[:-2]):
            raise ValueError(f"mse: weight must have shape (..., {pred.shape[-1]}), one per feature, with leading axes "
                             f"that broadcast to pred's {pred.shape[:-2]}; got {w.shape} for pred {pred.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("mse: weight contains NaN or infinity")
        w = w[..., None, :]                            # (..., 1, n): the same importance for every example
    diff = pred.data - target
    weighted = diff if weight is None else w * diff

    def backward(g):
        return (np.asarray(g)[..., None, None] * (2.0 / batch) * weighted,)
    loss = np.einsum("...bn,...bn->...", weighted, diff) / batch
    if not np.all(np.isfinite(loss)) and not np.all(np.isfinite(target)):
        # checked only when the loss is not finite: a full pass over the data each step would cost more than the loss
        raise ValueError("mse: target contains NaN or infinity")
    return _result(loss.astype(pred.dtype), (pred,), backward, "mse")


def _broadcasts_to(shape, target):
    """Whether `shape` broadcasts to `target` without growing it (else a gradient would not fit its input)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


REDUCTIONS = ("mean", "mean_all", "sum", "none")


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy, numerically stable for logits of any size.

    logits: (..., B, C)
    target: integer labels (B,) shared by every instance or (..., B) per instance,
            or probabilities (..., B, C) (soft labels; each row sums to 1)
    reduction: "mean" over the batch -> (...); "mean_all" over batch and classes, i.e. CE / C, as in the
               grokking notebook -> (...); "sum" over the batch -> (...); "none" -> (..., B)
    dlogits = (softmax(logits) - target) times the reduction's scale
    """
    logits = as_tensor(logits)
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy: logits must have shape (..., batch, classes), got {logits.shape}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    B, C = logits.shape[-2:]
    scale = {"mean": 1.0 / B, "mean_all": 1.0 / (B * C), "sum": 1.0, "none": 1.0}[reduction]
    flush = np.finfo(logits.dtype).tiny / scale       # see kernels.py: keep subnormals out of the backward
    z = np.ascontiguousarray(logits.data).reshape(-1, C)
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.ndim == logits.ndim and raw.shape[-1] == C and np.issubdtype(raw.dtype, np.floating):
        soft = _probabilities(raw, logits)
        loss, dz = kernels.softmax_xent_soft(z, np.ascontiguousarray(soft).reshape(-1, C), flush)
    else:
        labels = _labels(raw, logits)
        loss, dz = kernels.softmax_xent_hard(z, labels.reshape(-1), flush)
    loss = loss.reshape(logits.shape[:-1])
    dz = dz.reshape(logits.shape)
    if scale != 1.0:
        dz *= logits.dtype.type(scale)                  # the reduction's scale, once, in place (dz is ours)
    out = loss if reduction == "none" else loss.sum(axis=-1) * scale

    def backward(g):
        return times_seed(g, dz)
    return _result(out.astype(logits.dtype), (logits,), backward, "cross_entropy")


def _labels(raw, logits):
    """Integer labels broadcast to logits' (..., B), checked for range."""
    B, C = logits.shape[-2:]
    if raw.dtype == np.bool_ or not np.issubdtype(raw.dtype, np.integer):
        raise TypeError(f"cross_entropy: target must be integer labels of shape (B,) or (..., B), or "
                        f"probabilities of shape {logits.shape}; got dtype {raw.dtype} and shape {raw.shape}")
    lead = logits.shape[:-2]
    if raw.shape != (B,) and raw.shape != lead + (B,):
        raise ValueError(f"cross_entropy: labels must have shape ({B},) or {lead + (B,)} for logits of shape "
                         f"{logits.shape}, got {raw.shape}")
    if raw.size and (raw.min() < 0 or raw.max() >= C):
        raise ValueError(f"cross_entropy: labels must lie in [0, {C}), got range [{raw.min()}, {raw.max()}]")
    return np.ascontiguousarray(np.broadcast_to(raw, lead + (B,))).astype(np.int64, copy=False)


def _probabilities(raw, logits):
    """Soft labels: non-negative rows that sum to 1, of logits' shape and dtype."""
    if raw.shape != logits.shape:
        raise ValueError(f"cross_entropy: soft targets must have the shape of logits {logits.shape}, got {raw.shape}")
    raw = _constant(raw, logits, "cross_entropy: soft targets")
    if not np.all(np.isfinite(raw)) or raw.min() < 0:
        raise ValueError("cross_entropy: soft targets must be finite and non-negative (probabilities), "
                         f"got values from {raw.min():.6g} to {raw.max():.6g}")
    row_sums = raw.sum(axis=-1)
    tol = 1e-4 if raw.dtype == np.float32 else 1e-8
    if not np.allclose(row_sums, 1.0, atol=tol * raw.shape[-1]):
        worst = row_sums.reshape(-1)[np.argmax(np.abs(row_sums - 1).reshape(-1))]
        raise ValueError(f"cross_entropy: each soft-target row must sum to 1, found a row summing to {worst:.6g}")
    return raw


def mlp_cross_entropy(x, W1, b1, W2, b2, labels):
    """A two-layer ReLU MLP and its softmax cross-entropy as one op: per model i, the mean over the batch of
    cross_entropy(relu(x W1ᵢᵀ + b1ᵢ) W2ᵢᵀ + b2ᵢ, labels), the same numbers as composing linear, relu, linear and
    cross_entropy.

    x: (B, n) data shared by every model, or (I, B, n)   W1: (I, H, n)  b1: (I, H) or None  W2: (I, C, H)
    b2: (I, C) or None (None: no bias)   labels: (B,) or (I, B) integers in [0, C)  ->  loss: (I,)
    Gradients for W1, b1, W2, b2 are computed with the loss (kernels.mlp_cross_entropy: the hidden layer never
    leaves cache, and 0/1 inputs make the first layer table lookups) and scaled by each model's incoming gradient.
    An x that needs a gradient goes through the composed ops instead.
    Use it when the models share x: forward and backward of the benchmark's 90 models sharing 1,200 strings take
    6.3 ms against the composed ops' 24 ms on one core (3.8x), 3.4 against 24 ms on two (7.1x). With a separate x
    per model each model is a chunk of its own: at lesson 06's groups (15 models, each on its own strings) the fused
    op was 0.73x the composed ops' speed at 16 neurons and 1,000 strings, 1.33x at 32 neurons and 1,500 (one core,
    a whole AdamW step; measured before two classes took the logit difference, which made the kernel 1.3x faster).
    """
    if isinstance(x, Tensor) and x.requires_grad:
        from .ops import linear, relu
        return cross_entropy(linear(relu(linear(x, W1, b1)), W2, b2), labels)
    W1, W2 = as_tensor(W1), as_tensor(W2)
    dtype = W1.dtype
    given = (True, b1 is not None, True, b2 is not None)          # which of W1, b1, W2, b2 the caller passed
    b1 = as_tensor(b1) if b1 is not None else Tensor(np.zeros(W1.shape[:2], dtype))
    b2 = as_tensor(b2) if b2 is not None else Tensor(np.zeros(W2.shape[:2], dtype))
    for name, p in (("b1", b1), ("W2", W2), ("b2", b2)):
        if p.dtype != dtype:
            raise TypeError(f"mlp_cross_entropy: {name} has dtype {p.dtype}, W1 has {dtype}")
    if W1.ndim != 3 or W2.ndim != 3:
        raise ValueError(f"mlp_cross_entropy: W1 must be (I, H, n) and W2 (I, C, H), got {W1.shape} and {W2.shape}")
    I, H, n = W1.shape
    C = W2.shape[1]
    x = _constant(x, W1, "mlp_cross_entropy: x")
    if W2.shape != (I, C, H) or b1.shape != (I, H) or b2.shape != (I, C) or x.ndim not in (2, 3) \
            or x.shape[-1] != n or (x.ndim == 3 and x.shape[0] != I):
        raise ValueError(f"mlp_cross_entropy: expected x (B, {n}) or ({I}, B, {n}), W1 (I, H, n), b1 (I, H), W2 (I, C, H), "
                         f"b2 (I, C); got x {x.shape}, W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")
    B = x.shape[-2]
    if B == 0:
        raise ValueError(f"mlp_cross_entropy: x must hold at least one point, got x of shape {x.shape}")
    raw = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if raw.dtype == np.bool_ or not np.issubdtype(raw.dtype, np.integer) or raw.shape not in ((B,), (I, B)):
        raise ValueError(f"mlp_cross_entropy: labels must be integers of shape ({B},) or ({I}, {B}), "
                         f"got {raw.dtype} {raw.shape}")
    if raw.size and (raw.min() < 0 or raw.max() >= C):
        raise ValueError(f"mlp_cross_entropy: labels must lie in [0, {C}), got range [{raw.min()}, {raw.max()}]")
    params = (W1, b1, W2, b2)
    want = any(p.requires_grad for p in params)
    grads = [np.zeros(p.shape, dtype) for p in params]
    loss = kernels.mlp_cross_entropy(np.ascontiguousarray(x), raw, *(np.ascontiguousarray(p.data) for p in params),
                                     want, *grads)
    parents = tuple(p for p, passed in zip(params, given) if passed)
    grads = [d for d, passed in zip(grads, given) if passed]

    def backward(g):
        return times_seed(g, *grads)
    return _result(loss.astype(dtype), parents, backward, "mlp_cross_entropy")
