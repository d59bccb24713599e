"""The models of toygrad/mlp_block.py: the fused mlp_loss equals its twin (the ops through the tape) and passes a
gradient check; zero-padded hidden sizes are exact smaller models; the init, the sparse rows and the measures."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import toygrad as tg
from toygrad import mlp_block as mb
from toygrad.datasets import fixed_sparse_dataset, sparse_rows
from toygrad.gradcheck import gradcheck


@st.composite
def mlp_and_data(draw, dtype=np.float64):
    """x: (I, B, n_in) sparse points, y: (I, B, n_out) targets (sparse or dense), and the four parameters with
    hidden sizes k_i <= k, zero-padded as init_mlp pads them."""
    I, B = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    n_in, n_out, k = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = fixed_sparse_dataset(rng, draw(st.floats(0.2, 1.0)), B, n_in, dtype=dtype)
    x = np.ascontiguousarray(np.broadcast_to(x, (I, B, n_in)))
    y = fixed_sparse_dataset(rng, np.full(I, draw(st.floats(0.2, 1.0))), B, n_out, dtype=dtype)
    if draw(st.booleans()):
        y = rng.standard_normal((I, B, n_out)).astype(dtype)              # a dense target, as E x
    hidden = rng.integers(1, k + 1, I)
    params = mb.arrays(mb.init_mlp(rng, hidden, n_in, n_out, draw(st.sampled_from(mb.INITS)), dtype))
    params = tuple(3 * p for p in params)                                 # large enough that some neurons fire
    return x, y, params, hidden


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@given(data=st.data())
def test_the_fused_loss_equals_the_ops(dtype, tol, data):
    x, y, params, hidden = data.draw(mlp_and_data(dtype))
    tensors = [tg.Tensor(p, requires_grad=True) for p in params]
    loss = mb.mlp_loss(x, y, *tensors, hidden=hidden)
    loss.sum().backward()
    expected = mb._mlp_loss_numpy(x, y, *params)
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.data, expected[0], rtol=tol, atol=tol)
    for tensor, grad in zip(tensors, expected[1:]):
        assert tensor.grad.dtype == dtype
        np.testing.assert_allclose(tensor.grad, grad, rtol=tol, atol=tol)


@given(data=st.data())
def test_the_fused_loss_passes_a_gradient_check(data):
    x, y, params, hidden = data.draw(mlp_and_data())
    W1, b1 = params[:2]
    pre = x @ np.swapaxes(W1, -1, -2) + b1[:, None, :]
    live = np.arange(W1.shape[1]) < hidden[:, None]                      # the padding sits at 0 on purpose
    assume(np.abs(pre[np.broadcast_to(live[:, None, :], pre.shape)]).min() > 1e-3)   # stay off ReLU's kink
    gradcheck(lambda *p: mb.mlp_loss(x, y, *p, hidden=hidden), *params, name="mlp_loss")


def test_the_padded_neurons_stay_zero_and_each_instance_is_a_smaller_mlp():
    rng = np.random.default_rng(0)
    x = fixed_sparse_dataset(rng, np.full(3, 0.3), 20, 8)
    params = mb.init_mlp(rng, [1, 3, 2], 8, 8)
    mb.train_fixed(params, x, x, steps=200, lr=1e-2, hidden=[1, 3, 2])
    W1, b1, W2, _ = mb.arrays(params)
    assert not W1[0, 1:].any() and not b1[0, 1:].any() and not W2[0, :, 1:].any()
    assert not W1[2, 2:].any() and not W2[2, :, 2:].any()
    alone = {"W1": W1[2:3, :2], "b1": b1[2:3, :2], "W2": W2[2:3, :, :2], "b2": mb.arrays(params)[3][2:3]}
    np.testing.assert_allclose(mb.loss_value(params, x, x)[2], mb.loss_value(alone, x[2:3], x[2:3])[0], rtol=1e-6)


def test_the_inits_have_pytorch_bounds_and_one_variance():
    rng = np.random.default_rng(1)
    for init in mb.INITS:
        W1, b1, W2, b2 = mb.arrays(mb.init_mlp(rng, [400] * 4, 400, 300, init))
        for p, fan_in in ((W1, 400), (b1, 400), (W2, 400), (b2, 400)):
            assert p.std() == pytest.approx(1 / np.sqrt(3 * fan_in), rel=0.06)   # >= 1,200 draws: 3 standard errors
            if init == "uniform":
                assert np.abs(p).max() <= 1 / np.sqrt(fan_in)
        assert mb.boxiness(W1[0]) == pytest.approx(0.51 if init == "uniform" else 0.29, abs=0.03)


def test_rows_shared_by_every_instance_give_what_copies_give():
    rng = np.random.default_rng(5)
    x = fixed_sparse_dataset(rng, 0.3, 12, 7)                            # (1, 12, 7): one set of rows
    params = mb.init_mlp(rng, [2, 3, 1], 7, 7)
    tensors = list(params.values())
    shared = mb.mlp_loss(sparse_rows(x), sparse_rows(x), *tensors, hidden=[2, 3, 1])
    shared.sum().backward()
    grads = [t.grad.copy() for t in tensors]
    for t in tensors:
        t.grad = None
    copies = sparse_rows(np.ascontiguousarray(np.broadcast_to(x, (3, 12, 7))))
    copied = mb.mlp_loss(copies, copies, *tensors, hidden=[2, 3, 1])
    copied.sum().backward()
    np.testing.assert_array_equal(shared.data, copied.data)
    for t, g in zip(tensors, grads):
        np.testing.assert_array_equal(t.grad, g)
    np.testing.assert_array_equal(mb.argmax_accuracy(params, x), mb.argmax_accuracy(params, np.repeat(x, 3, 0)))


def test_training_through_the_ops_or_the_fused_loss_gives_the_same_model():
    rng = np.random.default_rng(6)
    x = fixed_sparse_dataset(rng, 0.4, 10, 6, dtype=np.float64)          # (1, 10, 6), shared by both instances
    start = mb.init_mlp(rng, [2, 3], 6, 6, dtype=np.float64)
    trained = {}
    for fused in (True, False):
        params = {name: tg.Tensor(p.data.copy(), requires_grad=True) for name, p in start.items()}
        mb.train_fixed(params, x, x, steps=200, lr=1e-2, hidden=[2, 3], fused=fused)
        trained[fused] = mb.arrays(params)
    for fused, ops in zip(trained[True], trained[False]):
        np.testing.assert_allclose(fused, ops, rtol=1e-9, atol=1e-12)
    assert np.abs(trained[False][0] - start["W1"].data).max() > 0.1      # and training moved them


def test_sparse_rows_round_trip():
    rng = np.random.default_rng(2)
    x = fixed_sparse_dataset(rng, [0.1, 0.5], 30, 12)
    x[0, 0, 0] = 0.25                                                     # a nonzero at index 0, where padding points
    rows = sparse_rows(x)
    assert rows.index.shape[-1] == (x != 0).sum(-1).max()
    np.testing.assert_array_equal(rows.dense(), x)
    np.testing.assert_allclose(rows.square, (x.astype(np.float64) ** 2).sum(-1))


def test_retrieval_accuracy_counts_points_nearest_their_own_target():
    y = np.eye(4)[None]                                                   # 4 distinct targets
    assert mb.retrieval_accuracy(y, y)[0] == 1.0
    out = y.copy()
    out[0, 0] = y[0, 1]                                                   # point 0 now looks like point 1
    assert mb.retrieval_accuracy(out, y)[0] == 0.75
    same = np.concatenate([y, y], axis=1)                                 # duplicates: either copy counts
    assert mb.retrieval_accuracy(same, same)[0] == 1.0


def test_neuron_profile():
    W = np.array([[1.0, 0.0, -3.0], [0.6, 0.6, 0.0], [0.0, 0.0, -1.0]])     # negative weights only inhibit
    top, counts = mb.neuron_profile(W)
    np.testing.assert_allclose(top, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(counts, [1, 2, 0])


def test_relu_hidden_is_two_relus_around_one_weight():
    rng = np.random.default_rng(3)
    params = mb.init_relu_hidden(rng, 2, 5, 3)
    params["b"].data[:] = rng.standard_normal((2, 5))
    x = rng.random((2, 4, 5))
    W, b = params["W"].data, params["b"].data
    expected = np.maximum(np.maximum(x @ np.swapaxes(W, 1, 2), 0) @ W + b[:, None, :], 0)
    np.testing.assert_allclose(mb.relu_hidden(params, x).data, expected, rtol=1e-6)


def test_bad_input_names_the_argument():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=r"init_mlp: init must be one of .* got 'xavier'"):
        mb.init_mlp(rng, [2], 3, 3, "xavier")
    with pytest.raises(ValueError, match=r"init_mlp: hidden must be a positive integer .* got \[0, 2\]"):
        mb.init_mlp(rng, [0, 2], 3, 3)
    params = mb.init_mlp(rng, [2], 3, 4)
    with pytest.raises(ValueError, match=r"mlp_loss: expected x \(I or 1, B, n_in\).* got x \(1, 5, 4\)"):
        mb.mlp_loss(np.ones((1, 5, 4), np.float32), np.ones((1, 5, 4), np.float32), *params.values())
    with pytest.raises(ValueError, match=r"mlp_loss: hidden must hold 1 integers in \[0, 2\], got \[3\]"):
        mb.mlp_loss(np.ones((1, 5, 3), np.float32), np.ones((1, 5, 4), np.float32), *params.values(), hidden=[3])
    with pytest.raises(ValueError, match=r"sparse_rows: x must be a float32 or float64 array \(I, T, n\)"):
        sparse_rows(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"boxiness: W must have shape \(k, n\)"):
        mb.boxiness(np.ones(3))


def test_argmax_accuracy_of_an_identity_mlp_and_of_a_constant_one():
    n = 5
    eye = np.eye(n, dtype=np.float32)[None]
    identity = {"W1": eye, "b1": np.zeros((1, n), np.float32), "W2": eye, "b2": np.zeros((1, n), np.float32)}
    constant = {**identity, "W2": np.zeros_like(eye), "b2": np.arange(n, dtype=np.float32)[None]}
    x = np.concatenate([eye, eye])                                        # two instances, the n one-hot inputs
    both = {name: np.concatenate([identity[name], constant[name]]) for name in identity}
    np.testing.assert_allclose(mb.argmax_accuracy(both, x), [1.0, 1 / n])
