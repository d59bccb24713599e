"""Numbers the lessons report, computed from a model or a training history."""
import numpy as np


def first_step_reaching(history, key, threshold):
    """The first logged step at which history[key] >= threshold, per instance; -1 where it never does.

    history: fit()'s history ({"step": (T,), key: (T,) or (T, I)})  ->  an int, or (I,) ints
    """
    values = np.asarray(history[key])
    reached = values >= threshold
    first = np.where(reached.any(axis=0), np.asarray(history["step"])[reached.argmax(axis=0)], -1)
    return first if first.ndim else int(first)


# --- superposition: how features (or data points) share the hidden space ---------------------------------
# Vectors are the rows of an array: v: (..., k, d), k vectors in d dimensions. Features are the columns of a
# weight W: (..., m, n), so feature metrics read W's transpose. A zero vector has no direction: its unit
# vector is taken as 0, so it interferes with nothing and has dimensionality 0.

STICKY = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8)
"""Fractions feature dimensionality sticks at: alone, tetrahedron, triangle, antipodal pair, pentagon,
square antiprism (Elhage et al. 2022, "Feature dimensionality")."""


def _rows(v, name):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim < 2:
        raise ValueError(f"{name}: expected vectors as rows of an array (..., k, d), got shape {v.shape}")
    return v


def _overlaps(v):
    """(v̂_i · v_j)² for every pair: (..., k, k), row i for v̂_i. And the squared norms ||v_i||²: (..., k)."""
    sq = (v * v).sum(axis=-1)
    norm = np.sqrt(sq)
    unit = np.divide(v, norm[..., None], out=np.zeros_like(v), where=norm[..., None] > 0)
    return (unit @ np.swapaxes(v, -1, -2)) ** 2, sq


def interference(v):
    """sum_{j != i} (v̂_i · v_j)² per vector: how much of the others lies along v_i.   v: (..., k, d) -> (..., k)"""
    dots, sq = _overlaps(_rows(v, "interference"))
    return dots.sum(axis=-1) - np.where(sq > 0, sq, 0.0)       # the j = i term, (v̂_i · v_i)² = ||v_i||²


def dimensionality(v):
    """D_i = ||v_i||² / sum_j (v̂_i · v_j)²   (j = i included), the fraction of a dimension v_i gets.

    1 for a vector orthogonal to all others, 1/2 for an antipodal pair, 2/k for a regular k-gon (k >= 3) in a
    plane. v: (..., k, d) -> (..., k); 0 for a zero vector."""
    dots, sq = _overlaps(_rows(v, "dimensionality"))
    total = dots.sum(axis=-1)
    return np.divide(sq, total, out=np.zeros_like(sq), where=total > 0)


def superposition(W):
    """Per feature: sum_{j != i} (Ŵ_i · W_j)², with W_i the columns of W: (..., m, n)  ->  (..., n).
    0 for a feature orthogonal to every other; the notebook colours bars by its square root."""
    return interference(np.swapaxes(_rows(W, "superposition"), -1, -2))


def feature_dimensionality(W):
    """D_i = ||W_i||² / sum_j (Ŵ_i · W_j)² over the columns W_i of W: (..., m, n)  ->  (..., n)."""
    return dimensionality(np.swapaxes(_rows(W, "feature_dimensionality"), -1, -2))


def data_dimensionality(h):
    """D_t = ||h_t||² / sum_s (ĥ_t · h_s)² over hidden vectors h_t = W x_t, the rows of h: (..., T, m) -> (..., T).
    m/T for points spread as a regular T-gon in m = 2 dimensions (Henighan et al. 2023)."""
    return dimensionality(_rows(h, "data_dimensionality"))


def feature_norms(W):
    """||W_i|| per feature: W: (..., m, n) -> (..., n)."""
    return np.linalg.norm(_rows(W, "feature_norms"), axis=-2)


def features_represented(W, threshold=0.5):
    """How many features have ||W_i|| > threshold (0.5, as Hobbhahn counts): W: (..., m, n) -> (...) ints."""
    return (feature_norms(W) > threshold).sum(axis=-1)


def sticky_fraction(D, values=STICKY, tol=0.05, among=None):
    """The fraction of dimensionalities D: (..., k) lying within tol of one of `values`, per row -> (...).
    among: a boolean mask (..., k) of the entries to count (e.g. represented features); default all."""
    D = np.asarray(D, dtype=np.float64)
    near = (np.abs(D[..., None] - np.asarray(values)) <= tol).any(axis=-1)
    among = np.ones(D.shape, dtype=bool) if among is None else np.asarray(among, dtype=bool)
    count = among.sum(axis=-1)
    return np.divide((near & among).sum(axis=-1), count, out=np.zeros(count.shape), where=count > 0)
