"""The superposition metrics on configurations whose answer is known: orthogonal vectors get a whole dimension,
an antipodal pair half of one each, a regular k-gon in a plane 2/k each; plus the data generators they are used on."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toygrad import datasets, metrics


def rotation(d, rng):
    """A random orthogonal d x d matrix: the metrics only see angles and lengths, so they must not change."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def polygon(k, angle=0.0, radius=1.0):
    """W: (2, k), columns the corners of a regular k-gon."""
    t = angle + 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(t), np.sin(t)])


@given(d=st.integers(1, 8), extra=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_orthogonal_unit_vectors_have_dimensionality_1(d, extra, seed):
    rng = np.random.default_rng(seed)
    W = rotation(d + extra, rng)[:, :d]                      # d orthonormal columns in d + extra dimensions
    np.testing.assert_allclose(metrics.feature_dimensionality(W), 1.0, atol=1e-12)
    np.testing.assert_allclose(metrics.superposition(W), 0.0, atol=1e-12)


@given(d=st.integers(1, 6), scale=st.floats(0.1, 10), seed=st.integers(0, 2**32 - 1))
def test_an_antipodal_pair_has_dimensionality_one_half(d, scale, seed):
    v = scale * rotation(d, np.random.default_rng(seed))[:, 0]
    W = np.stack([v, -v], axis=1)                            # (d, 2): W_1 = -W_0
    np.testing.assert_allclose(metrics.feature_dimensionality(W), 0.5, rtol=1e-12)
    np.testing.assert_allclose(metrics.superposition(W), scale**2, rtol=1e-12)


@given(k=st.integers(3, 40), angle=st.floats(0, 2 * np.pi), radius=st.floats(0.1, 10))
def test_a_regular_k_gon_has_dimensionality_2_over_k(k, angle, radius):
    W = polygon(k, angle, radius)
    np.testing.assert_allclose(metrics.feature_dimensionality(W), 2 / k, rtol=1e-9)
    # sum_j cos²(θ_j) = k/2 for k >= 3, so the others contribute k/2 - 1 times ||W_i||²
    np.testing.assert_allclose(metrics.superposition(W), (k / 2 - 1) * radius**2, rtol=1e-9)


@given(k=st.integers(3, 30), seed=st.integers(0, 2**32 - 1))
def test_data_dimensionality_of_points_on_a_k_gon_is_m_over_k(k, seed):
    h = polygon(k, np.random.default_rng(seed).uniform(0, 2 * np.pi)).T      # rows: T = k hidden vectors, m = 2
    np.testing.assert_allclose(metrics.data_dimensionality(h), 2 / k, rtol=1e-9)


def test_zero_features_have_dimensionality_0_and_interfere_with_nothing():
    W = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])         # feature 1 is not represented
    np.testing.assert_allclose(metrics.feature_dimensionality(W), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(metrics.superposition(W), 0.0)
    assert metrics.features_represented(W) == 2


def test_metrics_keep_the_instance_axis():
    square = np.concatenate([polygon(4), np.zeros((2, 1))], axis=1)      # 4 features and one not represented
    W = np.stack([polygon(5), square, np.eye(2, 5)])         # (3, 2, 5)
    D = metrics.feature_dimensionality(W)
    assert D.shape == (3, 5)
    np.testing.assert_allclose(D[0], 0.4)
    np.testing.assert_allclose(metrics.features_represented(W), [5, 4, 2])
    np.testing.assert_allclose(metrics.sticky_fraction(D, among=metrics.feature_norms(W) > 0.5), [1, 1, 1])


def test_sticky_fraction_counts_values_near_the_sticky_fractions():
    D = np.array([[1.0, 0.52, 0.6, 0.4, 0.0]])
    np.testing.assert_allclose(metrics.sticky_fraction(D), [3 / 5])           # 0.6 and 0.0 are not sticky
    np.testing.assert_allclose(metrics.sticky_fraction(D, among=D > 0.1), [3 / 4])


def test_metrics_reject_a_single_vector():
    with pytest.raises(ValueError, match=r"feature_dimensionality: expected vectors as rows .* got shape \(3,\)"):
        metrics.feature_dimensionality(np.ones(3))


# --- the data the metrics are computed on -----------------------------------------------------------------

def test_sparse_batch_has_the_feature_probability_of_each_instance():
    p = np.array([1.0, 0.5, 0.05])
    x = datasets.sparse_batch(np.random.default_rng(0), p, 4000, 50)
    assert x.shape == (3, 4000, 50) and x.dtype == np.float32
    np.testing.assert_allclose((x > 0).mean(axis=(1, 2)), p, atol=0.01)
    assert x.min() >= 0 and x.max() < 1


@given(p=st.floats(0.01, 1), size=st.integers(1, 40), n=st.integers(1, 12), seed=st.integers(0, 1000))
def test_a_fixed_dataset_has_unit_norm_points_and_no_empty_ones(p, size, n, seed):
    x = datasets.fixed_sparse_dataset(np.random.default_rng(seed), [p, p / 2], size, n, dtype=np.float64)
    assert x.shape == (2, size, n)
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1), 1.0, rtol=1e-12)
    assert x.min() >= 0


def test_one_hot_is_the_identity_per_instance():
    x = datasets.one_hot(4, n_instances=3)
    assert x.shape == (3, 4, 4)
    np.testing.assert_array_equal(x[2], np.eye(4))


@pytest.mark.parametrize("call, message", [
    (lambda rng: datasets.sparse_batch(rng, 1.5, 8, 4), r"feature_probability must lie in \[0, 1\], got 1.5"),
    (lambda rng: datasets.sparse_batch(rng, 0.5, 0, 4), r"batch must be an integer >= 1, got 0"),
    (lambda rng: datasets.sparse_batch(rng, 0.5, 8, 2.0), r"n_features must be an integer >= 1, got 2.0"),
    (lambda rng: datasets.fixed_sparse_dataset(rng, 0.0, 8, 4), r"feature_probability must lie in \(0, 1\]"),
    (lambda rng: datasets.one_hot(0), r"n_features must be an integer >= 1, got 0"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.random.default_rng(0))


def test_sparse_batch_wants_a_generator():
    with pytest.raises(TypeError, match=r"rng must be a numpy Generator"):
        datasets.sparse_batch(0, 0.5, 8, 4)
