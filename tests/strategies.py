"""Small hypothesis strategies shared by the tests: shapes, bounded float arrays, labels, probability rows.

Every axis has 1..4 elements, so a central-difference check (two forward passes per input element) stays fast.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sizes = st.integers(1, 4)                                   # the length of one axis
instance_axis = st.one_of(st.just(()), sizes.map(lambda i: (i,)))   # () or (I,): with or without instances


TINIEST = 2.0 ** -20            # ~1e-6: products of a few numbers stay far above the smallest normal float


def magnitudes(bound, width=64, zero=True):
    """0 (unless zero=False), or a number in [TINIEST, bound]. Nothing tinier: a product that falls below the
    smallest normal float keeps too few bits for any relative tolerance, and says nothing about the math."""
    size = st.floats(TINIEST, bound, width=width)
    return st.one_of(st.just(0.0), size) if zero else size


def floats(shape, dtype=np.float64, bound=2.0, zero=True):
    """An array of `shape` with elements in [-bound, bound], each 0 (unless zero=False) or at least TINIEST in size."""
    size = magnitudes(bound, 32 if np.dtype(dtype) == np.float32 else 64, zero)
    return hnp.arrays(dtype, shape, elements=st.one_of(size, size.map(lambda v: -v)))


def integer_valued(shape, bound=3):
    """float64 arrays of small whole numbers: sums and products of these are exact, so results compare bit for bit."""
    return hnp.arrays(np.float64, shape, elements=st.integers(-bound, bound).map(float))


def shapes(min_dims=1, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
"""Two shapes that broadcast together, with size-1 and missing axes: e.g. (3, 1, 2) and (4, 1)."""


def integers(shape, high):
    """int64 arrays with values in [0, high): class labels, or row indices into a table of `high` rows."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, high - 1))


@st.composite
def probability_rows(draw, shape, dtype=np.float64):
    """Non-negative rows (last axis) that sum to 1; some entries may be exactly 0."""
    w = draw(hnp.arrays(np.float64, shape, elements=magnitudes(1.0)))
    w = np.where(w.sum(axis=-1, keepdims=True) > 0, w, 1.0)     # an all-zero row becomes uniform
    return (w / w.sum(axis=-1, keepdims=True)).astype(dtype)


@st.composite
def logits_and_labels(draw, kind, dtype=np.float64):
    """logits (*lead, B, C) and a target of `kind`: "shared" (B,), "per_instance" (*lead, B) or "soft" (*lead, B, C)."""
    lead = draw(instance_axis) if kind != "per_instance" else (draw(sizes),)
    B, C = draw(sizes), draw(st.integers(2, 4))
    logits = draw(floats(lead + (B, C), dtype))
    if kind == "shared":
        return logits, draw(integers((B,), C))
    if kind == "per_instance":
        return logits, draw(integers(lead + (B,), C))
    return logits, draw(probability_rows(lead + (B, C), dtype))
