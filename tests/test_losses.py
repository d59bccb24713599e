"""mse and cross_entropy: gradient checks, values against plain numpy, and the properties a loss must keep."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import toygrad as tg
from strategies import floats, instance_axis, logits_and_labels, sizes

REDUCTIONS = ["mean", "mean_all", "sum", "none"]
KINDS = ["shared", "per_instance", "soft"]        # labels (B,), labels (I, B), probabilities (I, B, C)


# --- plain numpy references ----------------------------------------------------------------------------------

def mse_numpy(pred, target, weight=None):
    w = np.ones(pred.shape[-1]) if weight is None else weight
    return (w[..., None, :] * (pred - target) ** 2).sum(axis=-1).mean(axis=-1)


def cross_entropy_numpy(logits, target, reduction):
    z = logits - logits.max(axis=-1, keepdims=True)                           # exp(z) <= 1: no overflow
    log_softmax = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    if target.dtype.kind == "f":
        per_example = -(target * log_softmax).sum(axis=-1)
    else:
        per_example = -np.take_along_axis(log_softmax, np.broadcast_to(target, logits.shape[:-1])[..., None],
                                          axis=-1)[..., 0]
    B, C = logits.shape[-2:]
    return {"mean": per_example.mean(-1), "mean_all": per_example.sum(-1) / (B * C),
            "sum": per_example.sum(-1), "none": per_example}[reduction]


@st.composite
def mse_inputs(draw, weight):
    """pred, target: (*lead, B, n); weight: None, (n,) or per instance (I, n), importances in [0, 2]."""
    lead = (draw(sizes),) if weight == "per_instance" else draw(instance_axis)
    shape = lead + (draw(sizes), draw(sizes))
    w = {None: None, "shared": shape[-1:], "per_instance": lead + shape[-1:]}[weight]
    return draw(floats(shape)), draw(floats(shape)), None if w is None else draw(floats(w).map(np.abs))


# --- gradients and values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight", [None, "shared", "per_instance"])
@given(data=st.data())
def test_mse_gradient_and_value(weight, data):
    pred, target, w = data.draw(mse_inputs(weight))
    assert tg.gradcheck(lambda p: tg.mse(p, target, w), pred, name=f"mse, weight {weight}")
    # a sum of non-negative terms: no cancellation, so rtol alone fits
    np.testing.assert_allclose(tg.mse(tg.Tensor(pred), target, w).data, mse_numpy(pred, target, w),
                               rtol=1e-12, strict=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_cross_entropy_gradient_and_value(kind, reduction, data):
    logits, target = data.draw(logits_and_labels(kind))
    assert tg.gradcheck(lambda z: tg.cross_entropy(z, target, reduction), logits, wrt=[0],    # targets are data
                        name=f"cross_entropy, {kind} labels, {reduction}")
    # every per-example loss is at least log(1 + e^-4) for logits in [-2, 2]: no cancellation, rtol alone fits
    np.testing.assert_allclose(tg.cross_entropy(tg.Tensor(logits), target, reduction).data,
                               cross_entropy_numpy(logits, target, reduction), rtol=1e-12, strict=True)


# --- properties ------------------------------------------------------------------------------------------------

def loss_and_gradient(logits, target, reduction="mean"):
    z = tg.Tensor(logits, requires_grad=True)
    loss = tg.cross_entropy(z, target, reduction)
    loss.sum().backward()
    return loss.data, z.grad


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data(), shift=st.integers(-10, 10))
def test_cross_entropy_unchanged_by_a_constant_added_to_the_logits(kind, data, shift):
    logits, target = data.draw(logits_and_labels(kind))
    shifted = logits + (1 + np.arange(logits.shape[-2]))[:, None] * shift   # another constant in every row
    loss, grad = loss_and_gradient(logits, target)
    loss_shifted, grad_shifted = loss_and_gradient(shifted, target)
    # the shift (up to 40) rounds each logit by up to 4e-15; losses are >= 0.018, softmax entries >= 0.004
    np.testing.assert_allclose(loss_shifted, loss, rtol=1e-12)
    np.testing.assert_allclose(grad_shifted, grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_soft_labels_that_are_one_hot_give_the_hard_label_loss(reduction, data):
    logits, labels = data.draw(logits_and_labels("per_instance"))
    one_hot = np.eye(logits.shape[-1])[labels]
    loss_hard, grad_hard = loss_and_gradient(logits, labels, reduction)
    loss_soft, grad_soft = loss_and_gradient(logits, one_hot, reduction)
    np.testing.assert_allclose(loss_soft, loss_hard, rtol=1e-12)
    np.testing.assert_allclose(grad_soft, grad_hard, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_huge_logits_give_a_finite_loss_and_gradient(dtype, kind, data):
    logits, target = data.draw(logits_and_labels(kind, dtype))
    huge = logits * dtype(5e3)                                               # logits up to 1e4 in size
    loss, grad = loss_and_gradient(huge, target, "none")
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    # right, too, to the precision of the dtype relative to the logits' size
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    expected = cross_entropy_numpy(huge.astype(np.float64), target, "none")
    np.testing.assert_allclose(loss, expected, rtol=rtol, atol=rtol * 1e4)


# --- per-instance losses: instances share nothing ------------------------------------------------------------

def gradients_of(x, W, loss_fn):
    """dW of loss_fn(linear(x, W)).sum(), and the loss."""
    W = tg.Tensor(W, requires_grad=True)
    loss = loss_fn(tg.linear(tg.Tensor(x), W))
    loss.sum().backward()
    return W.grad, loss.data


@st.composite
def stacked_models(draw):
    """x: (I, B, n) and W: (I, m, n): I independent linear models."""
    I, B, n, m = (draw(sizes) for _ in range(4))
    return draw(floats((I, B, n))), draw(floats((I, m, n)))


@given(models=stacked_models(), data=st.data())
def test_each_instance_of_cross_entropy_gets_the_gradient_it_would_get_alone(models, data):
    x, W = models
    labels = data.draw(st.lists(st.integers(0, W.shape[1] - 1), min_size=x.shape[1], max_size=x.shape[1]))
    per_instance_labels = np.stack([np.roll(labels, i) for i in range(len(W))])     # (I, B), differing by instance
    dW, loss = gradients_of(x, W, lambda z: tg.cross_entropy(z, per_instance_labels))
    for i in range(len(W)):
        dW_alone, loss_alone = gradients_of(x[i], W[i], lambda z: tg.cross_entropy(z, per_instance_labels[i]))
        # the stacked and the single matmul may sum in another order: values are O(1), so rtol and atol 1e-12
        np.testing.assert_allclose(dW[i], dW_alone, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(loss[i], loss_alone, rtol=1e-12)


@given(models=stacked_models(), data=st.data())
def test_each_instance_of_mse_gets_the_gradient_it_would_get_alone(models, data):
    x, W = models
    target = data.draw(floats(x.shape[:2] + W.shape[1:2]))
    weight = data.draw(floats((len(W), W.shape[1])).map(np.abs))                      # one importance per instance
    dW, loss = gradients_of(x, W, lambda y: tg.mse(y, target, weight))
    for i in range(len(W)):
        dW_alone, loss_alone = gradients_of(x[i], W[i], lambda y: tg.mse(y, target[i], weight[i]))
        np.testing.assert_allclose(dW[i], dW_alone, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(loss[i], loss_alone, rtol=1e-12)


# --- the MLP's fused cross-entropy ------------------------------------------------------------------------------

@st.composite
def mlp_inputs(draw):
    """x: (B, n) shared or (I, B, n), 0/1 bits (the table path) or real numbers; weights; labels (B,) or (I, B)."""
    I, B, H, n, C = draw(sizes), draw(sizes), draw(sizes), draw(st.integers(1, 8)), draw(st.integers(2, 3))
    shared, bits = draw(st.booleans()), draw(st.booleans())
    x_shape = (B, n) if shared else (I, B, n)
    x = draw(hnp.arrays(np.float64, x_shape, elements=st.sampled_from([0.0, 1.0]))) if bits else draw(floats(x_shape))
    weights = [draw(floats(shape)) for shape in ((I, H, n), (I, H), (I, C, H), (I, C))]
    weights[1] = _off_the_kink(x, weights[0], weights[1])
    labels = draw(hnp.arrays(np.int64, (B,) if draw(st.booleans()) else (I, B), elements=st.integers(0, C - 1)))
    return x, weights, labels


def _pre_activations(x, W1, b1):
    return np.einsum("ibn,ihn->ibh", np.broadcast_to(x, (len(W1),) + x.shape[-2:]), W1) + b1[:, None, :]


def _off_the_kink(x, W1, b1):
    """b1 moved, per hidden unit, by the smallest multiple of 0.01 that leaves every pre-activation more than 1e-3
    from ReLU's kink, where the finite differences would straddle it. Each of the B points rules out at most one
    multiple, so one of the first B + 1 is clear: no drawn example has to be thrown away (hypothesis had failed
    its health check on the share it filtered out, drawing zeros)."""
    shifts = 0.01 * np.arange(x.shape[-2] + 1)
    clear = (np.abs(_pre_activations(x, W1, b1)[..., None] + shifts) > 2e-3).all(axis=1)     # (I, H, shifts)
    return b1 + shifts[clear.argmax(axis=-1)]


def mlp_composed(x, W1, b1, W2, b2, labels):
    return tg.cross_entropy(tg.linear(tg.relu(tg.linear(x, W1, b1)), W2, b2), labels)


@given(inputs=mlp_inputs())
def test_mlp_cross_entropy_gradient_and_value(inputs):
    x, (W1, b1, W2, b2), labels = inputs
    assert np.abs(_pre_activations(x, W1, b1)).min() > 1e-3          # off ReLU's kink (see _off_the_kink)
    assert tg.gradcheck(lambda *w: tg.mlp_cross_entropy(x, *w, labels), W1, b1, W2, b2, name="mlp_cross_entropy")
    fused = tg.mlp_cross_entropy(x, W1, b1, W2, b2, labels).data
    np.testing.assert_allclose(fused, mlp_composed(tg.Tensor(x), W1, b1, W2, b2, labels).data, rtol=1e-12, atol=1e-12)


def test_mlp_cross_entropy_takes_the_composed_path_when_x_needs_a_gradient():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.integers(0, 2, (5, 4)).astype(float), requires_grad=True)
    weights = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 6, 4), (3, 6), (3, 2, 6), (3, 2))]
    labels = rng.integers(0, 2, 5)
    tg.mlp_cross_entropy(x, *weights, labels).sum().backward()
    x2 = tg.Tensor(x.data, requires_grad=True)
    mlp_composed(x2, *(tg.Tensor(w.data) for w in weights), labels).sum().backward()
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-12)


def test_mlp_cross_entropy_scales_its_gradients_by_the_incoming_gradient():
    rng = np.random.default_rng(1)
    x, labels = rng.integers(0, 2, (6, 5)).astype(float), rng.integers(0, 2, 6)
    W = [rng.standard_normal(s) for s in ((2, 3, 5), (2, 3), (2, 2, 3), (2, 2))]
    seed = np.array([0.5, -2.0])
    fused = [tg.Tensor(w, requires_grad=True) for w in W]
    tg.mlp_cross_entropy(x, *fused, labels).backward(seed)
    composed = [tg.Tensor(w, requires_grad=True) for w in W]
    mlp_composed(tg.Tensor(x), *composed, labels).backward(seed)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_backward_with_a_seed_of_1_and_of_2(reduction):
    """The seed-1 shortcut (the gradient returned as computed) and any other seed agree: twice the seed, twice the gradient."""
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, 4)
    grads = []
    for seed in (1.0, 2.0):
        z = tg.Tensor(logits, requires_grad=True)
        loss = tg.cross_entropy(z, labels, reduction)
        loss.backward(np.full(loss.shape, seed))
        grads.append(z.grad)
    np.testing.assert_allclose(grads[1], 2 * grads[0], rtol=1e-15)


def test_mlp_cross_entropy_without_biases_is_the_mlp_without_biases():
    rng = np.random.default_rng(3)
    x, labels = rng.integers(0, 2, (3, 7, 5)).astype(float), rng.integers(0, 3, 7)   # per-instance 0/1 inputs
    W1, W2 = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 3, 4))
    assert tg.gradcheck(lambda a, b: tg.mlp_cross_entropy(x, a, None, b, None, labels), W1, W2,
                        name="mlp_cross_entropy without biases")
    composed = tg.cross_entropy(tg.linear(tg.relu(tg.linear(tg.Tensor(x), W1)), W2), labels)
    np.testing.assert_allclose(tg.mlp_cross_entropy(x, W1, None, W2, None, labels).data, composed.data, rtol=1e-12)


def test_mlp_cross_entropy_names_an_empty_batch_and_labels_of_the_wrong_shape():
    W1, W2 = tg.Tensor(np.ones((2, 3, 4)), requires_grad=True), tg.Tensor(np.ones((2, 2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"mlp_cross_entropy: x must hold at least one point, got x of shape \(0, 4\)"):
        tg.mlp_cross_entropy(np.ones((0, 4)), W1, None, W2, None, np.zeros(0, np.int64))
    with pytest.raises(ValueError, match=r"mlp_cross_entropy: labels must be integers of shape \(5,\) or \(2, 5\)"):
        tg.mlp_cross_entropy(np.ones((5, 4)), W1, None, W2, None, np.zeros(10, np.int64))
