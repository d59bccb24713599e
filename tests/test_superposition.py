"""The ReLU-output model of toygrad/superposition.py: the fused reconstruction_loss equals its twin (the ops
tied, relu and mse through the tape) and passes a gradient check; the seed picker and the sweeps' settings."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import toygrad as tg
from toygrad import superposition as sp
from toygrad.gradcheck import gradcheck
from toygrad.datasets import fixed_sparse_dataset, sparse_rows


@st.composite
def model_and_data(draw, dtype=np.float64):
    """x: (I, B, n) sparse non-negative points, W: (I, m, n), b: (I, n), importance (I, n)."""
    I, B, n, m = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = fixed_sparse_dataset(rng, draw(st.floats(0.2, 1.0)), B, n, dtype=dtype)
    x = np.ascontiguousarray(np.broadcast_to(x, (I, B, n)))
    W = rng.standard_normal((I, m, n)).astype(dtype)
    b = (0.5 * rng.standard_normal((I, n))).astype(dtype)
    weight = rng.uniform(0.1, 1.0, (I, n)).astype(dtype)
    return x, W, b, weight


@pytest.mark.parametrize("form", [np.asarray, sparse_rows], ids=["x as an array", "x as its nonzeros"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@given(data=st.data())
def test_the_fused_loss_equals_the_ops(form, dtype, tol, data):
    x, W, b, weight = data.draw(model_and_data(dtype))
    Wt, bt = tg.Tensor(W, requires_grad=True), tg.Tensor(b, requires_grad=True)
    loss = sp.reconstruction_loss(form(x), Wt, bt, weight)
    loss.sum().backward()
    expected, dW, db = sp._reconstruction_numpy(x, W, b, weight)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.data, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(Wt.grad, dW, rtol=tol, atol=tol)
    np.testing.assert_allclose(bt.grad, db, rtol=tol, atol=tol)


@given(data=st.data())
def test_the_fused_loss_passes_a_gradient_check(data):
    x, W, b, weight = data.draw(model_and_data())
    y = np.einsum("ibm,imn->ibn", np.einsum("ibn,imn->ibm", x, W), W) + b[:, None, :]
    assume(np.abs(y).min() > 1e-3)                      # stay off ReLU's kink
    gradcheck(lambda W_, b_: sp.reconstruction_loss(x, W_, b_, weight), W, b, name="reconstruction_loss")


def test_a_loss_without_gradients_needs_none():
    rng = np.random.default_rng(0)
    x = fixed_sparse_dataset(rng, [0.5, 0.3], 6, 5, dtype=np.float64)
    W, b = rng.standard_normal((2, 2, 5)), rng.standard_normal((2, 5))
    loss = sp.reconstruction_loss(x, tg.Tensor(W), tg.Tensor(b))
    np.testing.assert_allclose(loss.data, sp._reconstruction_numpy(x, W, b, None)[0], rtol=1e-12)
    assert not loss.requires_grad


@given(data=st.data())
def test_rank_makes_a_smaller_model_of_each_instance(data):
    """Instance i with rank r_i and the rows from r_i on zero is the model with r_i hidden dimensions; those
    rows get no gradient."""
    x, W, b, weight = data.draw(model_and_data())
    rank = np.array([data.draw(st.integers(0, W.shape[1])) for _ in range(W.shape[0])])
    W[np.arange(W.shape[1])[None, :] >= rank[:, None]] = 0.0
    Wt = tg.Tensor(W, requires_grad=True)
    loss = sp.reconstruction_loss(x, Wt, tg.Tensor(b, requires_grad=True), weight, rank=rank)
    loss.sum().backward()
    expected, dW, _ = sp._reconstruction_numpy(x, W, b, weight)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Wt.grad, np.where(W != 0, dW, 0.0), rtol=1e-12, atol=1e-12)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"reconstruction_loss: expected x \(I, B, n\), W \(I, m, n\), b \(I, n\)"):
        sp.reconstruction_loss(np.zeros((2, 3, 4)), tg.Tensor(np.zeros((2, 1, 5))), tg.Tensor(np.zeros((2, 5))))


def test_best_seed_picks_the_lowest_value_in_each_group():
    values = np.array([3.0, 1.0, 2.0, 0.5, 0.7, 0.9])           # 2 groups x 3 seeds, seed fastest
    np.testing.assert_array_equal(sp.best_seed(values, 3), [1, 3])
    with pytest.raises(ValueError, match=r"best_seed: values must be 1-D with a multiple of n_seeds = 4"):
        sp.best_seed(values, 4)


def test_sweep_settings():
    np.testing.assert_allclose(sp.sparsity_sweep(3, 20.0), [1.0, 20 ** -0.5, 1 / 20])
    np.testing.assert_allclose(sp.importance(3, "geometric", 0.9), [1, 0.9, 0.81])
    np.testing.assert_allclose(sp.importance(3, "log", ratio=100.0), [1, 0.1, 0.01])
    with pytest.raises(ValueError, match=r"importance: kind must be 'uniform', 'geometric' or 'log', got 'exp'"):
        sp.importance(3, "exp")
    with pytest.raises(ValueError, match=r"init_params: n_hidden must be a positive integer, got 0"):
        sp.init_params(np.random.default_rng(0), 2, 5, 0)
