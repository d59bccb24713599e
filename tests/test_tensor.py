"""The tape's promises: gradients of every path add up, accumulate until zero_grad, and keep their dtype.

Most inputs here are small whole numbers in float64, so every sum and product is exact and two ways of
computing a gradient must agree bit for bit.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toygrad as tg
from strategies import floats, instance_axis, integer_valued, integers, sizes
from test_ops import OPS, as_tensors


@st.composite
def tied_layer(draw):
    """x: (*lead, B, n)   W: (*lead, m, n)   b: (*lead, n)   g: (*lead, B, n), all whole numbers."""
    lead = draw(instance_axis)
    B, n, m = draw(sizes), draw(sizes), draw(sizes)
    return tuple(draw(integer_valued(lead + shape)) for shape in [(B, n), (m, n), (n,), (B, n)])


@given(tied_layer())
def test_a_tied_weight_gets_the_sum_of_both_paths(layer):
    x, W, b, g = layer
    W_tied, b_tied = tg.Tensor(W, requires_grad=True), tg.Tensor(b, requires_grad=True)
    y_tied = tg.tied(tg.Tensor(x), W_tied, b_tied)
    y_tied.backward(g)

    W1, W2, b_untied = (tg.Tensor(a.copy(), requires_grad=True) for a in (W, W, b))    # W down, a copy of W up
    y = tg.linear(tg.linear(tg.Tensor(x), W1), W2.T) + b_untied.reshape(*b.shape[:-1], 1, b.shape[-1])
    y.backward(g)

    np.testing.assert_array_equal(y_tied.data, y.data)
    np.testing.assert_array_equal(W_tied.grad, W1.grad + W2.grad)
    np.testing.assert_array_equal(b_tied.grad, b_untied.grad)


def scalar_loss(x, W):
    return tg.relu(tg.linear(x, W)).square().sum()


@given(x=integer_valued((3, 4)), W=integer_valued((2, 4)))
def test_backward_twice_doubles_the_gradients_and_zero_grad_resets_them(x, W):
    x, W = tg.Tensor(x, requires_grad=True), tg.Tensor(W, requires_grad=True)
    loss = scalar_loss(x, W)
    loss.backward()
    once = x.grad.copy(), W.grad.copy()
    loss.backward()                                       # gradients accumulate: now twice as large
    np.testing.assert_array_equal(x.grad, 2 * once[0])
    np.testing.assert_array_equal(W.grad, 2 * once[1])

    tg.SGD([x, W], lr=0.1).zero_grad()
    assert x.grad is None and W.grad is None
    scalar_loss(x, W).backward()
    np.testing.assert_array_equal(x.grad, once[0])
    np.testing.assert_array_equal(W.grad, once[1])


@given(x=integer_valued((2, 3)), a=integer_valued((2, 3)), c=integer_valued((2, 3)))
def test_a_tensor_used_twice_gets_both_paths(x, a, c):
    t = tg.Tensor(x, requires_grad=True)
    (t * a + t * c).sum().backward()                      # d/dt = a + c
    np.testing.assert_array_equal(t.grad, a + c)

    t.grad = None
    (t * t).sum().backward()                              # one op, the same tensor as both operands: d/dt = 2t
    np.testing.assert_array_equal(t.grad, 2 * x)


def test_backward_of_a_non_scalar_needs_a_seed_gradient():
    y = tg.Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ValueError, match=r"shape \(2, 3\) needs a seed gradient"):
        y.backward()


# --- dtypes: float32 stays float32, float64 stays float64 --------------------------------------------------

LOSSES = {
    "mse": lambda pred, target: tg.mse(pred, target, weight=np.arange(pred.shape[-1])),
    "cross_entropy": lambda logits, labels: tg.cross_entropy(logits, labels),
}


@st.composite
def loss_inputs(draw, name):
    """pred and target (B, C) for mse; logits (B, C) and labels (B,) for cross_entropy."""
    B, C = draw(sizes), draw(st.integers(2, 4))
    x = draw(floats((B, C)))
    return x, draw(floats((B, C)) if name == "mse" else integers((B,), C))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPS) + list(LOSSES))
@settings(max_examples=10)                              # 42 cases; a dtype slip shows on any input
@given(data=st.data())
def test_every_op_keeps_the_dtype_of_its_inputs(name, dtype, data):
    if name in OPS:
        f, (inputs, kwargs) = OPS[name].f, data.draw(OPS[name].cases)
        args = as_tensors(inputs, dtype, requires_grad=True)
    else:
        f, kwargs = LOSSES[name], {}
        x, target = data.draw(loss_inputs(name))
        args = [tg.Tensor(x.astype(dtype), requires_grad=True), target]      # targets are data of any dtype
    y = f(*args, **kwargs)
    assert y.dtype == dtype
    y.backward(np.ones(y.shape, dtype))
    for t in args:
        if isinstance(t, tg.Tensor):
            assert t.grad.dtype == dtype and t.grad.shape == t.shape


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a @ b, tg.linear, tg.tied])
def test_mixing_float32_and_float64_tensors_is_a_type_error(op):
    a = tg.Tensor(np.ones((2, 2), np.float32))
    b = tg.Tensor(np.ones((2, 2), np.float64))
    with pytest.raises(TypeError, match="expected dtype float32 .* got float64"):
        op(a, b)


def test_numpy_arrays_on_the_left_give_tensors_on_the_tape():
    x = np.arange(6.0).reshape(2, 3)
    W = tg.Tensor(np.ones((4, 3)), requires_grad=True)
    for y in (x @ W.T, x[:, :1] * W[np.array([0, 1])], 1.0 - W[np.array([0, 1])] + x[:, :3]):
        assert isinstance(y, tg.Tensor) and y.requires_grad
    (x @ W.T).sum().backward()
    np.testing.assert_array_equal(W.grad, np.tile(x.sum(axis=0), (4, 1)))
