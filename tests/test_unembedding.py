"""The toy unembedding of toygrad/unembedding.py: the fused cross-entropy op equals the ops (tied or linear, then
cross_entropy) and its NumPy twin, passes a float64 gradient check, and handles chunks, ranks and huge logits;
the targets, the squareness of features in the plane, and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toygrad as tg
from toygrad import unembedding as ue
from toygrad.datasets import fixed_sparse_dataset
from toygrad.gradcheck import gradcheck


@st.composite
def model_and_data(draw, dtype=np.float64):
    """x: (I, B, n) sparse non-negative unit-norm points, a target of either kind, and tied or untied weights."""
    I, B, n, m = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(2, 7)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = fixed_sparse_dataset(rng, draw(st.floats(0.2, 1.0)), B, n, dtype=dtype)
    x = np.ascontiguousarray(np.broadcast_to(x, (I, B, n)))
    target = ue.targets(x, draw(st.sampled_from(ue.TARGETS)))
    params = ue.init_params(rng, I, n, m, tied=draw(st.booleans()), dtype=dtype)
    for p in params.values():
        p.data += rng.standard_normal(p.shape).astype(dtype)       # away from the init's small weights
    return x, target, params


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@given(data=st.data())
def test_the_fused_loss_equals_the_ops(dtype, tol, data):
    x, target, params = data.draw(model_and_data(dtype))
    fused = ue.loss(params, x, target, fused=True)
    fused.sum().backward()
    grads = {name: p.grad.copy() for name, p in params.items()}
    for p in params.values():
        p.grad = None
    ops = ue.loss(params, x, target, fused=False)
    ops.sum().backward()
    assert fused.dtype == dtype
    np.testing.assert_allclose(fused.data, ops.data, rtol=tol, atol=tol)
    for name, p in params.items():
        np.testing.assert_allclose(grads[name], p.grad, rtol=tol, atol=tol, err_msg=name)


@given(data=st.data())
def test_the_kernels_equal_their_numpy_twin(data):
    x, target, params = data.draw(model_and_data())
    W_in, W_out = (W.data for W in ue.weights(params))
    rank = np.full(x.shape[0], W_in.shape[1], np.int64)
    got = ue.fused_cross_entropy(x, target, W_in, W_out, params["b"].data, rank)
    expected = ue.fused_cross_entropy_numpy(x, target, W_in, W_out, params["b"].data)
    for name, a, b in zip(("loss", "dW_in", "dW_out", "db"), got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


@given(data=st.data())
def test_the_fused_loss_passes_a_gradient_check(data):
    x, target, params = data.draw(model_and_data())
    if "W" in params:
        gradcheck(lambda W, b: ue.cross_entropy_loss(x, target, W, W, b), params["W"].data, params["b"].data,
                  name="cross_entropy_loss (tied)")
    else:
        gradcheck(lambda W_in, W_out, b: ue.cross_entropy_loss(x, target, W_in, W_out, b), params["W_in"].data,
                  params["W_out"].data, params["b"].data, name="cross_entropy_loss (untied)")


@given(z=st.integers(1, 40).flatmap(lambda n: st.lists(st.floats(-1e6, 1e6, width=32), min_size=n, max_size=n)))
def test_the_row_maximum_equals_numpy(z):
    """_row_max keeps LANES running maxima: every length, shorter and longer than LANES, gives np.max."""
    z = np.array(z, np.float32)
    assert ue._row_max(z, np.empty(ue.LANES, np.float32)) == z.max()


def test_chunks_that_cross_instances_give_the_same_numbers(monkeypatch):
    """Rows are processed CHUNK at a time over the flattened (I * B) batch: a chunk may hold the end of one
    instance and the start of the next."""
    rng = np.random.default_rng(1)
    x = fixed_sparse_dataset(rng, [0.3, 0.5, 0.4], 7, 9, dtype=np.float64)
    target = ue.targets(x, "soft")
    W_in, W_out, b = rng.standard_normal((3, 2, 9)), rng.standard_normal((3, 2, 9)), rng.standard_normal((3, 9))
    rank = np.full(3, 2, np.int64)
    whole = ue.fused_cross_entropy(x, target, W_in, W_out, b, rank)
    monkeypatch.setattr(ue, "CHUNK", 4)                          # 21 rows: chunks of 4 straddle every instance
    for a, c in zip(whole, ue.fused_cross_entropy(x, target, W_in, W_out, b, rank)):
        np.testing.assert_allclose(a, c, rtol=1e-13, atol=1e-13)


def test_huge_logits_stay_finite():
    """A memorising model's logits reach the hundreds: shifting by the row maximum keeps exp finite, and the
    probabilities that would be subnormal come out exactly 0."""
    rng = np.random.default_rng(2)
    x = fixed_sparse_dataset(rng, 0.5, 6, 8)
    target = ue.targets(x, "hard")
    W = tg.Tensor(300 * rng.standard_normal((1, 2, 8)).astype(np.float32), requires_grad=True)
    b = tg.Tensor(np.zeros((1, 8), np.float32), requires_grad=True)
    loss = ue.cross_entropy_loss(x, target, W, W, b)
    loss.sum().backward()
    expected = tg.cross_entropy(tg.tied(x, tg.Tensor(W.data.astype(np.float64)), tg.Tensor(np.zeros((1, 8)))), target)
    assert np.isfinite(loss.data).all() and np.isfinite(W.grad).all()
    np.testing.assert_allclose(loss.data, expected.data, rtol=1e-5)


@given(data=st.data())
def test_rank_makes_a_smaller_model_of_each_instance(data):
    """Instance i with rank r_i and the rows from r_i on zero is the model with r_i hidden dimensions; those
    rows get no gradient."""
    x, target, params = data.draw(model_and_data())
    W_in, W_out = (W.data for W in ue.weights(params))
    rank = np.array([data.draw(st.integers(0, W_in.shape[1])) for _ in range(W_in.shape[0])])
    unused = np.arange(W_in.shape[1])[None, :] >= rank[:, None]
    W_in[unused], W_out[unused] = 0.0, 0.0
    tensors = [tg.Tensor(W_in, requires_grad=True), tg.Tensor(W_out, requires_grad=True)]
    loss = ue.cross_entropy_loss(x, target, *tensors, tg.Tensor(params["b"].data), rank=rank)
    loss.sum().backward()
    expected, dW_in, dW_out, _ = ue.fused_cross_entropy_numpy(x, target, W_in, W_out, params["b"].data)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12, atol=1e-12)
    for W, dW in zip(tensors, (dW_in, dW_out)):
        np.testing.assert_allclose(W.grad, np.where(unused[..., None], 0.0, dW), rtol=1e-12, atol=1e-12)


def test_adding_a_constant_to_every_logit_changes_nothing():
    """Cross-entropy sees only differences of logits: a bias raised by the same amount for every class leaves
    the loss and every weight's gradient as they were."""
    rng = np.random.default_rng(3)
    x = fixed_sparse_dataset(rng, 0.4, 5, 6, dtype=np.float64)
    target = ue.targets(x, "hard")
    W, b = rng.standard_normal((1, 2, 6)), rng.standard_normal((1, 6))
    rank = np.array([2])
    base, dW_in, dW_out, db = ue.fused_cross_entropy(x, target, W, W, b, rank)
    shifted = ue.fused_cross_entropy(x, target, W, W, b + 7.0, rank)
    for a, c in zip((base, dW_in, dW_out, db), shifted):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)


def test_targets():
    x = np.array([[[0.0, 0.6, 0.8], [0.3, 0.0, 0.0]]])
    np.testing.assert_array_equal(ue.targets(x, "hard"), [[[0, 0, 1], [1, 0, 0]]])
    np.testing.assert_allclose(ue.targets(x, "soft"), [[[0, 0.6 / 1.4, 0.8 / 1.4], [1, 0, 0]]])


def test_predictions_and_accuracy_read_the_largest_logit():
    rng = np.random.default_rng(4)
    params = ue.init_params(rng, 2, 6, 2, tied=False, dtype=np.float64)
    for p in params.values():
        p.data += rng.standard_normal(p.shape)
    x = fixed_sparse_dataset(rng, [0.5, 0.5], 9, 6, dtype=np.float64)
    logits = ue.logits(params, x).data
    np.testing.assert_array_equal(ue.predictions(params, x, chunk=4), logits.argmax(-1))
    np.testing.assert_allclose(ue.accuracy(params, x), (logits.argmax(-1) == x.argmax(-1)).mean(-1))


def test_squareness_of_squares_circles_and_polygons():
    def polygon(k, turn=0.0, radius=1.0):
        angle = np.radians(turn) + np.linspace(0, 2 * np.pi, k, endpoint=False)
        return radius * np.stack([np.cos(angle), np.sin(angle)])
    order, angle = ue.squareness(polygon(4, 45))
    assert order == pytest.approx(1) and abs(angle) == pytest.approx(45)
    assert ue.squareness(polygon(4, 10, radius=3))[0] == pytest.approx(1)
    assert ue.squareness(polygon(4, 10))[1] == pytest.approx(10)                 # the square's orientation
    for k in (3, 5, 6, 8, 360):
        assert ue.squareness(polygon(k, 17))[0] == pytest.approx(0, abs=1e-12), k
    tiny = np.concatenate([polygon(4), 1e-4 * polygon(7, 3)], axis=1)           # small features barely count
    assert ue.squareness(tiny)[0] > 0.999
    assert ue.squareness(np.zeros((2, 5))) == (0.0, None)


def test_the_squareness_null_of_equal_norms():
    assert ue.squareness_null(np.ones(1)) == 1.0                                  # one feature is always square
    assert ue.squareness_null(np.ones(2)) == pytest.approx(2 / np.pi, abs=0.02)    # E|cos(φ/2)|, 3 standard errors
    k = 400
    assert ue.squareness_null(np.full(k, 3.0)) == pytest.approx(np.sqrt(np.pi / (4 * k)), rel=0.04)
    assert ue.squareness_null(np.zeros(3)) == 0.0


def test_the_squareness_null_is_the_mean_squareness_at_random_angles():
    rng = np.random.default_rng(7)
    norms = rng.exponential(size=30)
    angle = rng.uniform(0, 2 * np.pi, (2_000, 30))
    measured = [ue.squareness(norms * np.stack([np.cos(a), np.sin(a)]))[0] for a in angle]
    standard_error = np.std(measured) * np.sqrt(1 / 2_000 + 1 / 4_000)         # both are means of samples
    assert abs(ue.squareness_null(norms) - np.mean(measured)) < 4 * standard_error
    assert ue.squareness_null(5 * norms) == pytest.approx(ue.squareness_null(norms), rel=1e-12)


def test_train_fixed_takes_sgd_steps():
    """One SGD step at full lr (no warm-up): W <- W - lr (dW + weight_decay W), dW the loss's gradient."""
    rng = np.random.default_rng(8)
    x = fixed_sparse_dataset(rng, np.full(2, 0.5), 6, 5, dtype=np.float64)
    target = ue.targets(x, "hard")
    params = ue.init_params(rng, 2, 5, 2, dtype=np.float64)
    ue.loss(params, x, target).sum().backward()
    expected = {name: p.data - 0.3 * (p.grad + 1e-2 * p.data) for name, p in params.items()}
    ue.train_fixed(params, x, target, steps=1, lr=0.3, weight_decay=1e-2, warmup=0, optimizer="sgd")
    for name, p in params.items():
        np.testing.assert_allclose(p.data, expected[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_cosine_similarities_skip_zero_rows():
    a = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(ue.cosine_similarities(a), [np.sqrt(0.5), 0.0, np.sqrt(0.5)])


def test_bad_input_is_named():
    rng = np.random.default_rng(6)
    W = tg.Tensor(np.zeros((2, 1, 5)))
    with pytest.raises(ValueError, match=r"cross_entropy_loss: expected x and target \(I, B, n\)"):
        ue.cross_entropy_loss(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), W, W, tg.Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"cross_entropy_loss: rank must hold 2 integers in \[0, 1\]"):
        ue.cross_entropy_loss(np.zeros((2, 3, 5)), np.zeros((2, 3, 5)), W, W, tg.Tensor(np.zeros((2, 5))), rank=[1, 2])
    with pytest.raises(ValueError, match=r"cross_entropy_loss: target must hold probabilities \(>= 0\)"):
        ue.cross_entropy_loss(np.zeros((2, 3, 5)), -np.ones((2, 3, 5)), W, W, tg.Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="targets: kind must be one of"):
        ue.targets(np.ones((1, 2, 3)), "fuzzy")
    with pytest.raises(ValueError, match="targets: x must be non-negative"):
        ue.targets(-np.ones((1, 2, 3)), "hard")
    with pytest.raises(ValueError, match="targets: soft labels need every point to have a feature"):
        ue.targets(np.zeros((1, 2, 3)), "soft")
    with pytest.raises(ValueError, match="init_params: n_hidden must be a positive integer, got 0"):
        ue.init_params(rng, 1, 5, 0)
    with pytest.raises(ValueError, match="weights: expected params with 'W'"):
        ue.weights({"b": W})
    with pytest.raises(ValueError, match=r"squareness: expected W of shape \(2, n\)"):
        ue.squareness(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"squareness_null: expected a vector of norms \(n,\)"):
        ue.squareness_null(np.ones((2, 3)))
    with pytest.raises(ValueError, match="train_fixed: optimizer must be one of"):
        ue.train_fixed(ue.init_params(rng, 1, 3, 2), np.ones((1, 2, 3)), np.ones((1, 2, 3)) / 3, steps=1,
                       optimizer="lbfgs")
