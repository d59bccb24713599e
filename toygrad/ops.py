"""The ops: each forward, and beside it its backward written by hand.

Shapes broadcast over leading axes like np.matmul, so a leading instance axis I trains I
independent models at once: x: (I, B, n) with W: (I, m, n) is I models, each with its own W.

A backward receives g = dL/d(output) and returns dL/d(input) for each input, in order.
The tape (tensor.py) adds these into the inputs' gradients.
"""
import numpy as np

from . import kernels
from .tensor import Tensor, as_tensor


def _result(data, parents, backward_fn, op):
    """Wrap an op's output; it needs a gradient if any parent does."""
    return Tensor._from_op(np.asarray(data), parents, backward_fn, op)


def _pair(a, b, op):
    """Both operands as Tensors of one float dtype."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, like=a, name=f"{op}: right operand")
    b = as_tensor(b, name=f"{op}: right operand")
    return as_tensor(a, like=b, name=f"{op}: left operand"), b


def _broadcast_shape(a, b, op):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None


def unbroadcast(g, shape):
    """Sum g over the axes that broadcasting added or stretched, so that it has `shape` again."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def times_seed(g, *grads):
    """The gradients of a loss per instance times the incoming gradient g (one number per instance: g's axes are
    their leading ones), as a tuple. When g is all ones, the usual seed of loss.sum().backward(), they come back as
    they are: a product with 1 is exact, and backward never writes into a gradient, so sharing them is safe."""
    g = np.asarray(g, dtype=grads[0].dtype)
    if g == 1 if g.ndim == 0 else (g == 1).all():    # 1 us for one number, 2.3 for 90; np.all takes 5 and 3.7
        return grads
    return tuple(g.reshape(g.shape + (1,) * (d.ndim - g.ndim)) * d for d in grads)


# --- elementwise arithmetic ------------------------------------------------------------------------

def add(a, b):
    """y = a + b (broadcasting).    da = g,  db = g  (each summed back to its own shape)"""
    a, b = _pair(a, b, "add")
    _broadcast_shape(a, b, "add")

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)
    return _result(a.data + b.data, (a, b), backward, "add")


def sub(a, b):
    """y = a - b (broadcasting).    da = g,  db = -g"""
    a, b = _pair(a, b, "sub")
    _broadcast_shape(a, b, "sub")

    def backward(g):
        return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)
    return _result(a.data - b.data, (a, b), backward, "sub")


def mul(a, b):
    """y = a * b (broadcasting).    da = g b,  db = g a"""
    a, b = _pair(a, b, "mul")
    _broadcast_shape(a, b, "mul")

    def backward(g):
        return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)
    return _result(a.data * b.data, (a, b), backward, "mul")


def square(x):
    """y = x²    dx = 2 x g"""
    x = as_tensor(x)

    def backward(g):
        return (2 * x.data * g,)
    return _result(x.data * x.data, (x,), backward, "square")


def relu(x):
    """y = max(x, 0)    dx = g where x > 0, else 0   (subgradient 0 at x == 0)"""
    x = as_tensor(x)

    def backward(g):
        return (kernels.relu_backward(x.data, g),)
    return _result(np.maximum(x.data, 0), (x,), backward, "relu")


# --- reductions and shape ----------------------------------------------------------------------------

def _axes(axis, ndim, op):
    """`axis` (None, an int or a tuple of ints) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}(axis=...): expected None, an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}(axis={axis!r}): out of range for a tensor with {ndim} axes")
    return tuple(sorted(int(a) % ndim for a in axes))


def sum(x, axis=None, keepdims=False):
    """y = sum of x over `axis` (all axes if None).    dx = g copied back along the summed axes"""
    x = as_tensor(x)
    axes = _axes(axis, x.ndim, "sum")

    def backward(g):
        g = g if keepdims else np.expand_dims(g, axes)
        return (np.broadcast_to(g, x.shape),)
    return _result(x.data.sum(axis=axes, keepdims=keepdims), (x,), backward, "sum")


def mean(x, axis=None, keepdims=False):
    """y = mean of x over `axis`.    dx = g / (number of elements averaged), copied back"""
    x = as_tensor(x)
    axes = _axes(axis, x.ndim, "mean")
    count = int(np.prod([x.shape[a] for a in axes]))
    return mul(sum(x, axis, keepdims), 1.0 / count)


def transpose(x):
    """y = x with its last two axes swapped (x.T).    dx = g with its last two axes swapped"""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"transpose: needs at least 2 axes, got shape {x.shape}")

    def backward(g):
        return (np.swapaxes(g, -1, -2),)
    return _result(np.swapaxes(x.data, -1, -2), (x,), backward, "transpose")


def reshape(x, shape):
    """y = x with a new shape, same elements in the same order.    dx = g reshaped back"""
    x = as_tensor(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        data = x.data.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}") from None

    def backward(g):
        return (g.reshape(x.shape),)
    return _result(data, (x,), backward, "reshape")


# --- embedding lookup ---------------------------------------------------------------------------------

def take_rows(W, index):
    """Rows of W picked by an integer array: an embedding lookup (W[index]).

    W: (*lead, V, d)  index: (B,) shared by every instance, or (*lead, B) one per instance
    y: (*lead, B, d)  with y[..., k, :] = W[..., index[k], :]
    dW = scatter-add: each g[..., k, :] is added to row index[k]; a row picked twice gets both.
    """
    W = as_tensor(W)
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if W.ndim < 2:
        raise ValueError(f"take_rows: W needs shape (..., V, d), got {W.shape}")
    if idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"take_rows: index must be an integer array, got dtype {idx.dtype} "
                        "(toygrad tensors support indexing by integer arrays only)")
    lead, V = W.shape[:-2], W.shape[-2]
    if not (idx.ndim == 1 or (idx.ndim == W.ndim - 1 and idx.shape[:-1] == lead)):
        raise ValueError(f"take_rows: index must have shape (B,) or {lead + ('B',)} for W of shape {W.shape}, "
                         f"got {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        raise ValueError(f"take_rows: index values must lie in [0, {V}), got range [{idx.min()}, {idx.max()}]")

    L = int(np.prod(lead, dtype=np.int64))
    W3 = W.data.reshape(L, V, W.shape[-1])
    idx2 = idx.reshape(-1 if idx.ndim > 1 else 1, idx.shape[-1]).astype(np.int64)
    data = kernels.gather_rows(np.ascontiguousarray(W3), idx2).reshape(lead + (idx.shape[-1], W.shape[-1]))

    def backward(g):
        dW = np.zeros_like(W3)
        kernels.scatter_add_rows(dW, idx2, np.ascontiguousarray(g).reshape(L, idx.shape[-1], W.shape[-1]))
        return (dW.reshape(W.shape),)
    return _result(data, (W,), backward, "take_rows")


# --- matrix products ------------------------------------------------------------------------------------

def _check_weight(W, op):
    if W.ndim < 2:
        raise ValueError(f"{op}: W must have shape (..., m, n), got {W.shape}")


def _check_matmul(a_shape, b_shape, op, a_name="a", b_name="b"):
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"{op}: both operands need at least 2 axes, got {a_name} {a_shape} and {b_name} {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(f"{op}: inner dimensions differ: {a_name} {a_shape} has {a_shape[-1]} columns, "
                         f"{b_name} {b_shape} has {b_shape[-2]} rows")
    if a_shape[:-2] == b_shape[:-2]:                 # the common case, without broadcast_shapes's 5 us
        return
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: leading (instance) axes of {a_name} {a_shape} and {b_name} {b_shape} "
                         "do not broadcast") from None


def _mT(x):
    return x.swapaxes(-1, -2)              # the method: np.swapaxes goes through a Python wrapper (0.7 against 0.2 us)


def matmul(a, b):
    """y = a @ b      a: (..., n, k)  b: (..., k, m)  y: (..., n, m)

    da = g @ bᵀ     db = aᵀ @ g     (each summed over the leading axes it was broadcast along)
    """
    a, b = _pair(a, b, "matmul")
    _check_matmul(a.shape, b.shape, "matmul")

    def backward(g):
        da = unbroadcast(g @ _mT(b.data), a.shape) if a.requires_grad else None
        db = unbroadcast(_mT(a.data) @ g, b.shape) if b.requires_grad else None
        return da, db
    return _result(a.data @ b.data, (a, b), backward, "matmul")


def _bias(b, lead, n, op):
    """Check a bias of shape (*lead, n) and give it a batch axis: (*lead, 1, n)."""
    if b.ndim < 1 or b.shape[-1] != n:
        raise ValueError(f"{op}: b must have shape (..., {n}), got {b.shape}")
    try:
        np.broadcast_shapes(b.shape[:-1], lead)
    except ValueError:
        raise ValueError(f"{op}: b of shape {b.shape} does not match the instance axes {lead}") from None
    return b.data[..., None, :]


def linear(x, W, b=None):
    """y = x Wᵀ + b, a PyTorch Linear      x: (..., B, n_in)  W: (..., n_out, n_in)  b: (..., n_out)

    dx = g W      dW = gᵀ x      db = sum of g over the batch
    """
    x, W = _pair(x, W, "linear")
    _check_weight(W, "linear")
    _check_matmul(x.shape, W.shape[:-2] + (W.shape[-1], W.shape[-2]), "linear", "x", "Wᵀ")
    parents = (x, W)
    y = x.data @ _mT(W.data)
    if b is not None:
        b = as_tensor(b, like=x, name="linear: b")
        y = y + _bias(b, y.shape[:-2], W.shape[-2], "linear")
        parents = (x, W, b)

    def backward(g):
        dx = unbroadcast(g @ W.data, x.shape) if x.requires_grad else None
        dW = unbroadcast(_mT(g) @ x.data, W.shape) if W.requires_grad else None
        db = unbroadcast(g.sum(axis=-2), b.shape) if b is not None and b.requires_grad else None
        return dx, dW, db
    return _result(y, parents, backward, "linear")


def tied(x, W, b=None):
    """y = x Wᵀ W + b: down into m dimensions with W and back up with the same W.

    x: (..., B, n)   W: (..., m, n)   b: (..., n)     write h = x Wᵀ: (..., B, m)

    dW = W (gᵀ x + xᵀ g)   -- W is used twice; both contributions add
       = hᵀ g + (g Wᵀ)ᵀ x     (the same, computed through h: B·m·n work instead of B·n·n)
    dx = g Wᵀ W            db = sum of g over the batch
    """
    x, W = _pair(x, W, "tied")
    _check_weight(W, "tied")
    _check_matmul(x.shape, W.shape[:-2] + (W.shape[-1], W.shape[-2]), "tied", "x", "Wᵀ")
    h = x.data @ _mT(W.data)
    y = h @ W.data
    parents = (x, W)
    if b is not None:
        b = as_tensor(b, like=x, name="tied: b")
        y = y + _bias(b, y.shape[:-2], W.shape[-1], "tied")
        parents = (x, W, b)

    def backward(g):
        dh = g @ _mT(W.data)                                    # (..., B, m): g pulled back through the up-projection
        dW = unbroadcast(_mT(h) @ g + _mT(dh) @ x.data, W.shape) if W.requires_grad else None
        dx = unbroadcast(dh @ W.data, x.shape) if x.requires_grad else None
        db = unbroadcast(g.sum(axis=-2), b.shape) if b is not None and b.requires_grad else None
        return dx, dW, db
    return _result(y, parents, backward, "tied")
