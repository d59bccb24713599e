"""One table of ops; every op's backward checked against central differences, its forward against plain numpy.

Each entry holds the op as a function of Tensors, the same computation written in plain numpy, and a strategy
that draws (inputs, keyword arguments). Integer inputs (row indices) pass through gradcheck untouched.
"""
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import toygrad as tg
from strategies import broadcast_pairs, floats, instance_axis, integers, shapes, sizes


@dataclass
class Op:
    f: Callable                                  # Tensors (and integer arrays) -> Tensor
    reference: Callable                          # the same computation in plain numpy
    cases: st.SearchStrategy                     # draws (inputs, kwargs)
    valid: Callable = lambda *inputs: True       # whether the gradient exists at these inputs


# --- what each op is given -------------------------------------------------------------------------------

def one_array(shape_strategy, zero=True):
    return st.tuples(st.tuples(floats(shape_strategy, zero=zero)), st.just({}))


@st.composite
def matmul_inputs(draw, lead_a, lead_b):
    """a: (*lead_a, B, n)   b: (*lead_b, n, m), where "I" in a lead stands for the drawn instance count."""
    I, B, n, m = (draw(sizes) for _ in range(4))
    a_lead, b_lead = (tuple(I if s == "I" else s for s in lead) for lead in (lead_a, lead_b))
    return (draw(floats(a_lead + (B, n))), draw(floats(b_lead + (n, m)))), {}


@st.composite
def broadcasting_pair(draw):
    """Two arrays whose shapes broadcast, with size-1 and missing axes: (3, 1, 2) and (4, 1)."""
    shape_a, shape_b = draw(broadcast_pairs).input_shapes
    return (draw(floats(shape_a)), draw(floats(shape_b))), {}


@st.composite
def reduction_inputs(draw):
    """x and axis: None, an int, or a tuple of distinct axes (possibly empty); ints may be negative."""
    shape = draw(shapes(1, 3))
    ndim = len(shape)
    axis_int = st.integers(-ndim, ndim - 1)
    axis = draw(st.one_of(st.none(), axis_int, st.lists(axis_int, unique_by=lambda a: a % ndim).map(tuple)))
    return (draw(floats(shape)),), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def reshape_inputs(draw):
    shape = draw(shapes(1, 3))
    new_shape = draw(st.one_of(st.permutations(shape).map(tuple), st.just((-1,)), st.just((1, -1, 1))))
    return (draw(floats(shape)),), {"shape": new_shape}


@st.composite
def take_rows_inputs(draw, per_instance):
    """W: (*lead, V, d) and index (B,) shared, or (I, B) per instance; the first index always appears twice."""
    lead = (draw(sizes),) if per_instance else draw(instance_axis)
    V, d, B = draw(sizes), draw(sizes), draw(sizes)
    index = draw(integers(lead + (B,) if per_instance else (B,), V))
    index = np.concatenate([index, index[..., :1]], axis=-1)       # a repeated row: its gradients must add
    return (draw(floats(lead + (V, d))), index), {}


@st.composite
def layer_inputs(draw, bias, tied=False):
    """x: (*lead_x, B, n)   W: (*lead_W, m, n)   b: (*lead_W, m), or (*lead_W, n) when tied.
    Each lead is () or (I,): per-instance or shared weights, per-instance or shared inputs."""
    I, B, n, m = (draw(sizes) for _ in range(4))
    lead_x, lead_W = draw(st.sampled_from([(), (I,)])), draw(st.sampled_from([(), (I,)]))
    inputs = [draw(floats(lead_x + (B, n))), draw(floats(lead_W + (m, n)))]
    if bias:
        inputs.append(draw(floats(lead_W + (n if tied else m,))))
    return tuple(inputs), {}


# --- the same computations in plain numpy -------------------------------------------------------------------

def take_rows_per_instance(W, index):
    return np.stack([W[i][index[i]] for i in range(len(W))])


def linear_numpy(x, W, b=None):
    y = np.einsum("...bn,...mn->...bm", x, W)
    return y if b is None else y + b[..., None, :]


def tied_numpy(x, W, b=None):
    h = np.einsum("...bn,...mn->...bm", x, W)
    y = np.einsum("...bm,...mn->...bn", h, W)
    return y if b is None else y + b[..., None, :]


# --- the table -----------------------------------------------------------------------------------------------

OPS = {
    "matmul (I,B,n) @ (I,n,m)": Op(lambda a, b: a @ b, np.matmul, matmul_inputs(("I",), ("I",))),
    "matmul (I,B,n) @ (n,m)": Op(lambda a, b: a @ b, np.matmul, matmul_inputs(("I",), ())),
    "matmul (B,n) @ (I,n,m)": Op(lambda a, b: a @ b, np.matmul, matmul_inputs((), ("I",))),
    "matmul (I,B,n) @ (1,n,m)": Op(lambda a, b: a @ b, np.matmul, matmul_inputs(("I",), (1,))),
    "add": Op(lambda a, b: a + b, np.add, broadcasting_pair()),
    "sub": Op(lambda a, b: a - b, np.subtract, broadcasting_pair()),
    "mul": Op(lambda a, b: a * b, np.multiply, broadcasting_pair()),
    "sum": Op(tg.sum, np.sum, reduction_inputs()),
    "mean": Op(tg.mean, np.mean, reduction_inputs()),
    "transpose": Op(lambda x: x.T, lambda x: np.swapaxes(x, -1, -2), one_array(shapes(2, 3))),
    "reshape": Op(tg.reshape, np.reshape, reshape_inputs()),
    "take_rows, shared index (B,)": Op(tg.take_rows, lambda W, index: W[..., index, :], take_rows_inputs(False)),
    "take_rows, per-instance index (I,B)": Op(tg.take_rows, take_rows_per_instance, take_rows_inputs(True)),
    "relu": Op(tg.relu, lambda x: np.maximum(x, 0), one_array(shapes(), zero=False),
               valid=lambda x: np.all(np.abs(x) > 1e-3)),                 # off the kink at 0
    "square": Op(tg.square, np.square, one_array(shapes())),
    "linear": Op(tg.linear, linear_numpy, layer_inputs(bias=False)),
    "linear + b": Op(tg.linear, linear_numpy, layer_inputs(bias=True)),
    "tied": Op(tg.tied, tied_numpy, layer_inputs(bias=False, tied=True)),
    "tied + b": Op(tg.tied, tied_numpy, layer_inputs(bias=True, tied=True)),
}


def as_tensors(inputs, dtype=np.float64, requires_grad=False):
    """Floating arrays become Tensors of `dtype`; integer arrays (indices) stay arrays."""
    return [tg.Tensor(x.astype(dtype), requires_grad=requires_grad) if x.dtype.kind == "f" else x for x in inputs]


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_backward_matches_central_differences(name, data):
    op = OPS[name]
    inputs, kwargs = data.draw(op.cases)
    assume(op.valid(*inputs))
    assert tg.gradcheck(partial(op.f, **kwargs), *inputs, name=name)     # float64, rtol 1e-6


@pytest.mark.parametrize("name", OPS)
@given(data=st.data())
def test_forward_matches_numpy(name, data):
    op = OPS[name]
    inputs, kwargs = data.draw(op.cases)
    y = op.f(*as_tensors(inputs), **kwargs)
    # inputs lie in [-2, 2] and axes hold <= 4 elements, so outputs are below ~100 and rounding differences
    # (another summation order) below 1e-13: atol 1e-12 catches any wrong element and nothing else
    np.testing.assert_allclose(y.data, op.reference(*inputs, **kwargs), rtol=1e-12, atol=1e-12, strict=True)


def test_times_seed_scales_each_gradient_along_its_leading_axes_and_shares_them_for_a_seed_of_ones():
    from toygrad.ops import times_seed
    dW, db = np.arange(12.0).reshape(2, 3, 2), np.arange(6.0).reshape(2, 3)
    scaled = times_seed(np.array([2.0, -1.0]), dW, db)
    np.testing.assert_array_equal(scaled[0], dW * np.array([2.0, -1.0])[:, None, None])
    np.testing.assert_array_equal(scaled[1], db * np.array([2.0, -1.0])[:, None])
    np.testing.assert_array_equal(times_seed(np.float64(3.0), db)[0], 3.0 * db)          # one instance: a scalar seed
    same = times_seed(np.ones(2), dW, db)
    assert same[0] is dW and same[1] is db
