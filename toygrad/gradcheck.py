"""Check a hand-written backward against central finite differences, in float64.

    d f / d x_k  ≈  (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)

The error of this estimate is O(eps²) from the Taylor series plus O(1e-16 S / eps) from rounding, S the size of
the output elements that depend on x_k: the two outputs are subtracted element by element before they are summed
against r, so an element that does not depend on x_k is computed the same way both times and cancels exactly.
(Summed first, every element's rounding would count: in a batched op, another instance's outputs summing to -67
against r put an error of 1e-8 on a gradient of 2e-4, over the tolerance.) With eps = 1e-6 in float64 both errors
are far below the 1e-6 relative tolerance, so a failure means a wrong backward (or a kink: keep inputs away from
ReLU's 0 rather than loosening the tolerance).
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
        return f(*args).data.copy()          # a copy: an op may return a view of its input, which moves next

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
            numeric = float(((up - down) * r).sum()) / (2 * eps)        # d/dx_k of sum(y r), element by element
            actual = analytic[index]
            if not abs(actual - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(f"{name}: gradient of input {i} at index {index}: expected {numeric:.10g} "
                                     f"(central differences), got {actual:.10g} (backward)")
    return True


def _raw(x):
    return x.data if isinstance(x, Tensor) else x
