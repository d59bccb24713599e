"""Tensor and the tape: reverse-mode autodiff in one page.

Every op (see ops.py) returns a new Tensor that remembers its parents and a closure
`backward_fn(g) -> (grad for parent 0, grad for parent 1, ...)`. Calling `loss.backward()`:

1. sorts the graph so that every tensor comes after the tensors it was computed from,
2. walks it in reverse, handing each node the gradient g = dloss/dnode,
3. ADDS each parent's share into that parent's gradient.

Step 3 is the whole chain rule, and "adds" is what makes tied weights work: a tensor used twice
receives the sum of both paths. Gradients of leaf tensors (parameters) land in `.grad` and
accumulate across calls to backward() until the optimizer's `zero_grad()` resets them.
"""
import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


class Tensor:
    """A numpy array `.data` plus, if `requires_grad`, a gradient `.grad` of the same shape.

    Floating arrays keep their dtype (float32 stays float32); Python numbers, lists and
    integer arrays become float64 unless `dtype` says otherwise.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward_fn", "op")
    __array_ufunc__ = None      # array @ tensor, array * tensor: NumPy defers to our reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, *, _parents=(), _backward_fn=None, op="leaf"):
        if isinstance(data, Tensor):
            raise TypeError("Tensor(data): data is already a Tensor; use it directly or pass data.data")
        arr = np.asarray(data, dtype=dtype)
        if arr.dtype.type not in FLOAT_DTYPES:
            if dtype is not None:
                raise TypeError(f"Tensor(dtype=...): expected float32 or float64, got {arr.dtype}")
            if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
                raise TypeError(f"Tensor(data): expected numbers, got an array of dtype {arr.dtype}")
            arr = arr.astype(np.float64)
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = _parents
        self._backward_fn = _backward_fn
        self.op = op

    @classmethod
    def _from_op(cls, data, parents, backward_fn, op):
        """An op's result (see ops._result): data is already a float array of the right dtype, so skip
        __init__'s conversions, which would cost more than many small ops themselves."""
        t = cls.__new__(cls)
        t.data, t.grad, t.op = data, None, op
        t.requires_grad = any(p.requires_grad for p in parents)
        t._parents, t._backward_fn = (parents, backward_fn) if t.requires_grad else ((), None)
        return t

    # --- plain array facts -------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def numpy(self):
        """The data as a numpy array (not a copy)."""
        return self.data

    def item(self):
        return self.data.item()

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}, op={self.op}{grad})"

    # --- the tape ----------------------------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        `grad` is the seed dL/dself; it may be omitted only when self is a scalar (seed 1).
        """
        if not self.requires_grad:
            raise ValueError("backward(): this tensor does not depend on anything that requires a gradient")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward(): a tensor of shape {self.shape} needs a seed gradient of that "
                                 "shape; call loss.sum().backward() or pass grad=...")
            grad = np.array(1, self.dtype).reshape(self.shape)      # the seed 1 (np.ones_like costs 5x more)
        else:
            grad = np.asarray(grad)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad=...): expected shape {self.shape}, got {grad.shape}")
            if grad.dtype != self.dtype:
                raise TypeError(f"backward(grad=...): expected dtype {self.dtype}, got {grad.dtype}")

        grads = {id(self): grad}                      # dL/dnode for the nodes reached so far
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:                              # every path to it was cut (e.g. an index input)
                continue
            if node._backward_fn is None:             # a leaf: accumulate, never overwrite
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, dparent in zip(node._parents, node._backward_fn(g)):
                if dparent is None or not parent.requires_grad:
                    continue
                key = id(parent)
                grads[key] = dparent if key not in grads else grads[key] + dparent

    # --- operators, defined in ops.py ----------------------------------------------------------
    def __add__(self, other):
        from .ops import add
        return add(self, other)

    def __radd__(self, other):
        from .ops import add
        return add(other, self)

    def __sub__(self, other):
        from .ops import sub
        return sub(self, other)

    def __rsub__(self, other):
        from .ops import sub
        return sub(other, self)

    def __mul__(self, other):
        from .ops import mul
        return mul(self, other)

    def __rmul__(self, other):
        from .ops import mul
        return mul(other, self)

    def __neg__(self):
        from .ops import mul
        return mul(self, -1.0)

    def __matmul__(self, other):
        from .ops import matmul
        return matmul(self, other)

    def __rmatmul__(self, other):
        from .ops import matmul
        return matmul(other, self)

    def __getitem__(self, index):
        from .ops import take_rows
        return take_rows(self, index)

    @property
    def T(self):
        """Transpose of the last two axes (leading instance axes stay put)."""
        from .ops import transpose
        return transpose(self)

    def sum(self, axis=None, keepdims=False):
        from .ops import sum as sum_
        return sum_(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        from .ops import mean
        return mean(self, axis, keepdims)

    def reshape(self, *shape):
        from .ops import reshape
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def relu(self):
        from .ops import relu
        return relu(self)

    def square(self):
        from .ops import square
        return square(self)


def _topological_order(root):
    """Nodes that need a gradient, each after all of its parents (iterative DFS: no recursion limit)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def as_tensor(x, like=None, name="input"):
    """x as a Tensor. Numpy arrays and numbers become constants (no gradient).

    With `like`, a constant (number or numpy array) takes like's dtype: it is data, and the op's result
    keeps the dtype of the tensor it was given. Two Tensors of different dtypes are an error rather than
    a silent cast.
    """
    if isinstance(x, Tensor):
        if like is not None and x.dtype != like.dtype:
            raise TypeError(f"{name}: expected dtype {like.dtype} to match the other operand, got {x.dtype} "
                            "(toygrad never casts tensors silently; build them in one dtype)")
        return x
    if like is None:
        return Tensor(x)
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
    return Tensor(arr.astype(like.dtype, copy=False))
