"""Initialisers by name, every one drawn from an explicit numpy Generator so a seed fixes the run.

Results change with initialisation (the grokking seeds show it), so the choice is always written out:
    W = init.initialise("xavier_normal", (I, m, n), rng)

Fans: toygrad reads the last two axes as (fan_out, fan_in), like a PyTorch Linear weight (out, in), and
treats leading axes as instances (PyTorch would fold them into the fans). Pass fan_in=/fan_out= to
override, e.g. for a matrix used as x @ W, whose fan_in is shape[-2] (haiku's convention).
"""
import math

import numpy as np

TRUNCATED_STD = 0.87962566103423978   # std of a standard normal truncated to [-2, 2]


def _fans(shape, fan_in=None, fan_out=None):
    if len(shape) == 0:
        raise ValueError("initialiser: shape must have at least one axis")
    fan_in = shape[-1] if fan_in is None else fan_in
    fan_out = (shape[-2] if len(shape) > 1 else shape[-1]) if fan_out is None else fan_out
    return fan_in, fan_out


def _check(shape, rng, dtype):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"initialiser: rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if np.dtype(dtype).type not in (np.float32, np.float64):
        raise TypeError(f"initialiser: dtype must be float32 or float64, got {np.dtype(dtype)}")
    return tuple(int(n) for n in shape)


def zeros(shape, rng=None, dtype=np.float32):
    """All zeros (rng unused; accepted so every initialiser has one signature)."""
    return np.zeros(tuple(shape), dtype=dtype)


def normal(shape, rng, dtype=np.float32, std=1.0):
    """N(0, std²)."""
    shape = _check(shape, rng, dtype)
    return (std * rng.standard_normal(shape)).astype(dtype)


def uniform(shape, rng, dtype=np.float32, bound=1.0):
    """Uniform[-bound, bound)."""
    shape = _check(shape, rng, dtype)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def xavier_normal(shape, rng, dtype=np.float32, gain=1.0, fan_in=None, fan_out=None):
    """N(0, std²) with std = gain sqrt(2 / (fan_in + fan_out))   (Glorot & Bengio 2010)."""
    fi, fo = _fans(shape, fan_in, fan_out)
    return normal(shape, rng, dtype, std=gain * math.sqrt(2.0 / (fi + fo)))


def xavier_uniform(shape, rng, dtype=np.float32, gain=1.0, fan_in=None, fan_out=None):
    """Uniform[-a, a) with a = gain sqrt(6 / (fan_in + fan_out))."""
    fi, fo = _fans(shape, fan_in, fan_out)
    return uniform(shape, rng, dtype, bound=gain * math.sqrt(6.0 / (fi + fo)))


def torch_linear(shape, rng, dtype=np.float32, fan_in=None):
    """PyTorch's default Linear init: kaiming_uniform with a = sqrt(5), i.e. Uniform[-1/sqrt(fan_in), 1/sqrt(fan_in)).
    The same bound is what PyTorch uses for the bias (pass the layer's fan_in)."""
    fi, _ = _fans(shape, fan_in)
    return uniform(shape, rng, dtype, bound=1.0 / math.sqrt(fi))


def truncated_normal(shape, rng, dtype=np.float32, std=1.0, mean=0.0):
    """haiku's TruncatedNormal: a standard normal truncated to [-2, 2] (redrawn outside), times std, plus mean.
    The result's standard deviation is about 0.88 std."""
    shape = _check(shape, rng, dtype)
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return (mean + std * z).astype(dtype)


def variance_scaling(shape, rng, dtype=np.float32, scale=1.0, mode="fan_in", fan_in=None, fan_out=None):
    """haiku's VarianceScaling(scale, mode, "truncated_normal"): target variance scale / fan, drawn from a
    truncated normal whose std is corrected for the truncation, so the result's std is sqrt(scale / fan)."""
    fi, fo = _fans(shape, fan_in, fan_out)
    fans = {"fan_in": fi, "fan_out": fo, "fan_avg": (fi + fo) / 2}
    if mode not in fans:
        raise ValueError(f"variance_scaling: mode must be one of {sorted(fans)}, got {mode!r}")
    std = math.sqrt(scale / max(1.0, fans[mode])) / TRUNCATED_STD
    return truncated_normal(shape, rng, dtype, std=std)


INITIALISERS = {f.__name__: f for f in (zeros, normal, uniform, xavier_normal, xavier_uniform, torch_linear,
                                        truncated_normal, variance_scaling)}


def initialise(name, shape, rng, dtype=np.float32, **kwargs):
    """An array of `shape` from the initialiser called `name` (see INITIALISERS)."""
    if name not in INITIALISERS:
        raise ValueError(f"initialise: unknown initialiser {name!r}; expected one of {sorted(INITIALISERS)}")
    return INITIALISERS[name](shape, rng, dtype, **kwargs)
