"""Check a hand-written backward against central finite differences, in float64.

    d f / d x_k  ≈  (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)

The error of this estimate is O(eps²) from the Taylor series plus O(1e-16 |f| / eps) from rounding; with
eps = 1e-6 in float64 both are far below the 1e-6 relative tolerance, so a failure means a wrong backward
(or a kink: keep inputs away from ReLU's 0 rather than loosening the tolerance).
"""
import numpy as np

from .tensor import Tensor


class GradcheckError(AssertionError):
    """A gradient that disagrees with finite differences; the message names op, input and index."""


def gradcheck(f, *inputs, wrt=None, eps=1e-6, rtol=1e-6, atol=1e-8, name=None, seed=0):
    """Compare the tape's gradients of f(*inputs) with central differences; raise GradcheckError if any differ.

    f: a function of Tensors returning a Tensor. A non-scalar output y is checked through sum(y * r) for a
       fixed random r, so every output element takes part.
    inputs: arrays, numbers or Tensors. Floating ones are copied to float64; integer ones (indices, labels)
       are passed through unchanged.
    wrt: positions of the inputs to check (default: every floating input).
    Passes when |analytic - numeric| <= atol + rtol |numeric| at every element. Returns True.
    """
    name = name or getattr(f, "__name__", "f")
    floating = [i for i, x in enumerate(inputs) if np.issubdtype(np.asarray(_raw(x)).dtype, np.floating)]
    wrt = floating if wrt is None else list(wrt)
    for i in wrt:
        if i not in floating:
            raise ValueError(f"gradcheck: wrt includes input {i}, which is not a floating array")
    args = [Tensor(np.array(_raw(x), dtype=np.float64), requires_grad=i in wrt) if i in floating else _raw(x)
            for i, x in enumerate(inputs)]

    out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: {name} must return a Tensor, got {type(out).__name__}")
    if out.dtype != np.float64:
        raise GradcheckError(f"{name}: float64 inputs gave a {out.dtype} output (an op changed the dtype)")
    r = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(r)).sum().backward()

    def value():
        return float((f(*args).data * r).sum())

    for i in wrt:
        x = args[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        if analytic.shape != x.shape:
            raise GradcheckError(f"{name}: gradient of input {i} has shape {analytic.shape}, input has {x.shape}")
        for index in np.ndindex(x.shape):
            saved = x.data[index]
            x.data[index] = saved + eps
            up = value()
            x.data[index] = saved - eps
            down = value()
            x.data[index] = saved
            numeric = (up - down) / (2 * eps)
            actual = analytic[index]
            if not abs(actual - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(f"{name}: gradient of input {i} at index {index}: expected {numeric:.10g} "
                                     f"(central differences), got {actual:.10g} (backward)")
    return True


def _raw(x):
    return x.data if isinstance(x, Tensor) else x
