"""Optimizers, from the simplest to the one the papers use: SGD -> Adam -> AdamW; and lr schedules.

Each follows PyTorch's algorithm and defaults exactly, so numbers compare with papers that used it.
Gradients accumulate in `.grad` until `zero_grad()`: call it once per step, before backward().

Per-instance hyperparameters: lr, weight_decay and l1 may be arrays of shape (I,), one value per model,
applied along the first (instance) axis of every parameter. A weight-decay sweep then trains as one model.
"""
import math

import numpy as np

from . import kernels
from .tensor import Tensor


# --- learning-rate schedules: step -> multiplier of the base lr ----------------------------------------

def constant():
    """lr_t = lr."""
    return lambda step: 1.0


def warmup_cosine(total_steps, warmup=0.05):
    """Linear warmup from 0 over the first `warmup` fraction of steps, then cosine decay to 0.

    factor(t) = t / W                               for t < W = round(warmup * total_steps)
              = (1 + cos(pi (t - W) / (total - W))) / 2   afterwards   (t counts from 0, as torch's LambdaLR)
    """
    if not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
        raise ValueError(f"warmup_cosine: total_steps must be a positive integer, got {total_steps!r}")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup_cosine: warmup must be a fraction in [0, 1), got {warmup!r}")
    warm = int(round(warmup * total_steps))

    def factor(step):
        if step < warm:
            return step / warm
        decay_steps = max(total_steps - warm, 1)
        return 0.5 * (1 + math.cos(math.pi * min(step - warm, decay_steps) / decay_steps))
    return factor


SCHEDULES = {"constant": constant, "warmup_cosine": warmup_cosine}


def schedule(name, **kwargs):
    """A schedule by name: "constant" or "warmup_cosine" (total_steps=..., warmup=0.05)."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule: unknown name {name!r}; expected one of {sorted(SCHEDULES)}")
    return SCHEDULES[name](**kwargs)


# --- the optimizers --------------------------------------------------------------------------------------

def _hyperparameter(name):
    """An attribute whose every value, at construction or assigned later, goes through Optimizer._hyper: a
    read-only float64 array, (1,) or (I,), checked against the parameters."""
    return property(lambda self: getattr(self, "_" + name),
                    lambda self, value: setattr(self, "_" + name, self._hyper(value, name)))


class Optimizer:
    """Holds the parameters, the step count, and turns hyperparameters into per-instance arrays."""
    lr = _hyperparameter("lr")

    def __init__(self, params, lr, schedule=None):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer: params is empty")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"optimizer: params[{i}] must be a Tensor with requires_grad=True, got {p!r}")
            p.data = np.ascontiguousarray(p.data)       # the kernels update parameters in place, as (L, K) views
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("optimizer: a parameter is listed twice")
        self.lr = lr
        self.schedule = schedule or constant()
        self.steps = 0

    def _hyper(self, value, name):
        """A hyperparameter as a float64 array: (1,) for a scalar, (I,) for one value per instance."""
        arr = np.array(value, dtype=np.float64, ndmin=1)     # a copy, read-only: see Adam._prepare
        arr.flags.writeable = False
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a number or a 1-D array (one per instance), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or arr.min() < 0:
            raise ValueError(f"{name}: expected finite non-negative values, got {value!r}")
        if arr.size > 1:
            for i, p in enumerate(self.params):
                if p.ndim == 0 or p.shape[0] != arr.size:
                    raise ValueError(f"{name}: {arr.size} values (one per instance) but params[{i}] has shape "
                                     f"{p.shape}; its first axis must be the instance axis of length {arr.size}")
        return arr

    def zero_grad(self):
        """Forget the accumulated gradients (call once per step, before backward)."""
        for p in self.params:
            p.grad = None

    def current_lr(self):
        """The lr this step uses: base lr times the schedule's factor."""
        return self.lr * self.schedule(self.steps)

    def step(self):
        shared = self._prepare(self.current_lr())
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p, shared)
        self.steps += 1

    def _prepare(self, lr):
        """What every parameter's update shares this step (by default just the lr), computed once."""
        return lr

    def state_dict(self):
        """Everything needed to resume: step count and per-parameter state arrays."""
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])


def _instances(*hypers):
    """How many rows (instances) to view a parameter as: I if a hyperparameter varies per instance, else 1."""
    sizes = {h.size for h in hypers} - {1}
    return sizes.pop() if sizes else 1


class SGD(Optimizer):
    """p -= lr (g + weight_decay p), with optional momentum (torch: buf = momentum buf + g'; p -= lr buf)."""
    weight_decay = _hyperparameter("weight_decay")

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, schedule=None):
        super().__init__(params, lr, schedule)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must lie in [0, 1), got {momentum!r}")
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.buffers = [None] * len(self.params)

    def _update(self, i, p, lr):
        L = _instances(lr, self.weight_decay)
        view = p.data.reshape(L, -1)
        g = p.grad.reshape(L, -1) + self.weight_decay[:, None] * view
        if self.momentum:
            buf = self.buffers[i]
            self.buffers[i] = g if buf is None else self.momentum * buf + g
            g = self.buffers[i]
        view -= (lr[:, None] * g).astype(p.dtype)

    def state_dict(self):
        return {"steps": self.steps, "buffers": [b for b in self.buffers]}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])
        self.buffers = list(state["buffers"])


class Adam(Optimizer):
    """Adam as torch.optim.Adam: weight_decay is L2 added to the gradient (coupled).

    g' = g + weight_decay p + l1 sign(p)
    m = beta1 m + (1 - beta1) g'           v = beta2 v + (1 - beta2) g'²
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)      (eps after the square root)

    l1 adds λ sign(p) to the gradient before the moments: the L1 decay of the grokking post.
    """
    weight_decay, l1 = _hyperparameter("weight_decay"), _hyperparameter("l1")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, l1=0.0, schedule=None):
        super().__init__(params, lr, schedule)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps!r}")
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        self.weight_decay, self.l1 = weight_decay, l1
        self.m = tuple(np.zeros_like(p.data) for p in self.params)      # updated in place, never replaced
        self.v = tuple(np.zeros_like(p.data) for p in self.params)
        self._fixed = None      # (the hyperparameters they came from, L, decay, constants by dtype, moments' views)

    def __getstate__(self):
        """A copy (copy.deepcopy, pickle) keeps nothing of _fixed: its views are of these moments, not the copy's."""
        return dict(self.__dict__, _fixed=None)

    def _prepare(self, lr):
        """The update's coefficients for each dtype among the parameters (see kernels.adam_rows): lr / bias1,
        1 - lr decay and sqrt(bias2) each step, the rest once, with the moments' (L, K) views (15 to 6 us a step,
        measured), and again when a hyperparameter is given anew (assigned values go through _hyper: read-only
        arrays, which cannot change in place)."""
        hypers = (self.lr, self.weight_decay, self.l1, self.betas, self.eps)
        L = _instances(lr, self.weight_decay, self.l1)
        if self._fixed is None or self._fixed[1] != L or any(a is not b for a, b in zip(self._fixed[0], hypers)):
            beta1, beta2 = self.betas
            decay, l2 = (self.weight_decay, np.zeros(1)) if self.decoupled else (np.zeros(1), self.weight_decay)
            constants = {dtype: kernels.adam_constants(dtype, l2, self.l1, beta1, beta2, self.eps)
                         for dtype in {p.dtype for p in self.params}}
            moments = [(m.reshape(L, -1), v.reshape(L, -1)) for m, v in zip(self.m, self.v)]
            self._fixed = hypers, L, decay, constants, moments
        _, _, decay, constants, moments = self._fixed
        t = self.steps + 1
        bias1, bias2 = 1 - self.betas[0] ** t, 1 - self.betas[1] ** t
        coefficients = {dtype: kernels.adam_coefficients(dtype, lr, decay, bias1, bias2, constant)
                        for dtype, constant in constants.items()}
        return L, coefficients, moments

    def _update(self, i, p, shared):
        L, coefficients, moments = shared
        if p.dtype not in coefficients:
            raise TypeError(f"{type(self).__name__}: params[{i}] is now {p.dtype}; an optimizer keeps the dtypes "
                            f"its parameters had ({', '.join(sorted(str(d) for d in coefficients))})")
        kernels.adam_rows(p.data.reshape(L, -1), np.ascontiguousarray(p.grad).reshape(L, -1), *moments[i],
                          *coefficients[p.dtype])

    def state_dict(self):
        return {"steps": self.steps, "m": [m.copy() for m in self.m], "v": [v.copy() for v in self.v]}

    def load_state_dict(self, state):
        self.steps = int(state["steps"])
        for mine, theirs in zip(self.m + self.v, list(state["m"]) + list(state["v"])):
            if mine.shape != np.shape(theirs):
                raise ValueError(f"load_state_dict: moment of shape {np.shape(theirs)} for a parameter of shape {mine.shape}")
            mine[...] = theirs


class AdamW(Adam):
    """AdamW as torch.optim.AdamW: the same as Adam, but weight decay is decoupled from the gradient,
    p *= (1 - lr weight_decay) before the Adam step, and defaults to 0.01."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, l1=0.0, schedule=None):
        super().__init__(params, lr, betas, eps, weight_decay, l1, schedule)
