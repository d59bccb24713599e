"""Modular addition: the data, the collapsed model against the uncollapsed one, the Fourier tools, and where
the analytic construction is exact (and where it is not)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import toygrad
from toygrad import modular
from toygrad.modular import (accuracy, addition_pairs, closed_form_logits, collapsed, construction,
                             construction_accuracy, dominant_frequency, forward_collapsed, fourier_basis,
                             fourier_labels, frequency_fraction, init_params, key_frequencies,
                             logit_contribution, neuron_spectrum, star_coordinates, train_test_split)


# --- data ---------------------------------------------------------------------------------------------

def test_the_notebook_dataset_has_2278_pairs_split_911_1367():
    a, b, labels = addition_pairs(67)
    assert len(labels) == 2278 and np.all(a <= b)
    assert len(set(zip(a, b))) == 2278
    assert np.array_equal(labels, (a + b) % 67)
    train, test = train_test_split(len(labels), 0.4, np.random.default_rng(0))
    assert (len(train), len(test)) == (911, 1367)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(2278))


def test_ordered_pairs_are_all_p_squared_pairs():
    a, b, labels = addition_pairs(5, ordered=True)
    assert sorted(zip(a, b)) == [(i, j) for i in range(5) for j in range(5)]
    assert np.array_equal(labels, (a + b) % 5)


@pytest.mark.parametrize("call, message", [
    (lambda: addition_pairs(1), "p must be an integer >= 2"),
    (lambda: addition_pairs(6.5), "p must be an integer >= 2"),
    (lambda: train_test_split(100, 0.0, np.random.default_rng(0)), r"frac must be a fraction in \(0, 1\)"),
    (lambda: train_test_split(100, 1.0, np.random.default_rng(0)), r"frac must be a fraction in \(0, 1\)"),
    (lambda: train_test_split(10, 0.01, np.random.default_rng(0)), "leaves the training or the test set empty"),
    (lambda: init_params(np.random.default_rng(0), p=1), "p must be an integer >= 2"),
    (lambda: init_params(np.random.default_rng(0), n_instances=0), "n_instances must be an integer >= 1"),
    (lambda: fourier_basis(8), "p must be odd"),
    (lambda: forward_collapsed(np.ones((3, 2)), np.ones((2, 3)), [0], [1], "tanh"), "activation must be one of"),
])
def test_bad_arguments_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the model: collapsed = uncollapsed --------------------------------------------------------------------

def uncollapsed_logits(params, a, b):
    """The notebook's order: gather E rows, then W_in; h W_out, then Eᵀ."""
    E, W_in, W_out = params["E"], params["W_in"], params["W_out"]
    h = toygrad.relu(E[a] @ W_in + E[b] @ W_in)
    return (h @ W_out) @ E.T


def small_model(seed, p=7, d_embed=6, n_neurons=5, n_instances=None):
    return init_params(np.random.default_rng(seed), p, d_embed, n_neurons, np.float64, n_instances)


@pytest.mark.parametrize("n_instances", [None, 3])
def test_collapsed_forward_and_gradients_equal_the_uncollapsed_graph(n_instances):
    a, b, labels = addition_pairs(7)
    grads = []
    for forward in (modular.logits, uncollapsed_logits):
        params = small_model(0, n_instances=n_instances)
        out = forward(params, a, b)
        toygrad.cross_entropy(out, labels, reduction="mean_all").sum().backward()
        grads.append((out.data, {name: w.grad for name, w in params.items()}))
    (collapsed_out, collapsed_grads), (plain_out, plain_grads) = grads
    np.testing.assert_allclose(collapsed_out, plain_out, rtol=1e-12, atol=1e-12)
    for name in ("E", "W_in", "W_out"):
        np.testing.assert_allclose(collapsed_grads[name], plain_grads[name], rtol=1e-10, atol=1e-14)


def test_collapsed_model_passes_gradcheck():
    params = small_model(1, p=5, d_embed=4, n_neurons=3)
    a, b, labels = addition_pairs(5)

    def loss(E, W_in, W_out):
        out = modular.logits({"E": E, "W_in": W_in, "W_out": W_out}, a, b)
        return toygrad.cross_entropy(out, labels, reduction="mean_all")
    toygrad.gradcheck(loss, *(params[name].data for name in ("E", "W_in", "W_out")))


# --- the fused loss: collapsed_cross_entropy = cross_entropy(forward_collapsed(...)) ---------------------------

@pytest.mark.parametrize("reduction", ["mean", "mean_all", "sum"])
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(2, 9), n=st.integers(1, 6), batch=st.integers(1, 12),
       n_instances=st.sampled_from([None, 1, 3]), shared=st.booleans(), scale=st.floats(0.1, 4.0))
def test_fused_loss_equals_the_composed_ops(reduction, seed, p, n, batch, n_instances, shared, scale):
    """Value and gradients, float64, for one model or several on the instance axis, pairs shared or per instance,
    logits small or large (scale), with rows that repeat and pairs with a = b."""
    rng = np.random.default_rng(seed)
    lead = () if n_instances is None else (n_instances,)
    rows = (batch,) if shared or n_instances is None else lead + (batch,)
    a, b, labels = (rng.integers(0, p, rows) for _ in range(3))
    W_input, W_output = scale * rng.normal(size=lead + (p, n)), scale * rng.normal(size=lead + (n, p))
    results = []
    for fused in (True, False):
        Win, Wout = toygrad.Tensor(W_input.copy(), requires_grad=True), toygrad.Tensor(W_output.copy(), requires_grad=True)
        if fused:
            loss = modular.collapsed_cross_entropy(Win, Wout, a, b, labels, reduction)
        else:
            loss = toygrad.cross_entropy(forward_collapsed(Win, Wout, a, b), labels, reduction)
        loss.sum().backward()
        results.append((loss.data, Win.grad, Wout.grad))
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(seed=st.integers(0, 2**32 - 1), n_instances=st.sampled_from([None, 3]), shared_E=st.booleans(),
       frozen=st.sampled_from([(), ("E",), ("W_in", "W_out")]))
def test_loss_takes_the_collapse_off_the_tape_with_the_same_bits(dtype, seed, n_instances, shared_E, frozen):
    """modular.loss makes the collapse and its gradient itself; the numbers are those of the collapse on the tape
    followed by collapsed_cross_entropy, bit for bit: an E shared by the instances, frozen weights included."""
    rng = np.random.default_rng(seed)
    p, d, n = 7, 4, 3
    lead = () if n_instances is None else (n_instances,)
    shapes = {"E": (p, d) if shared_E else lead + (p, d), "W_in": lead + (d, n), "W_out": lead + (n, d)}
    weights = {name: rng.normal(size=shape).astype(dtype) for name, shape in shapes.items()}
    a, b, labels = addition_pairs(p)
    results = []
    for fused in (True, False):
        params = {name: toygrad.Tensor(w.copy(), requires_grad=name not in frozen) for name, w in weights.items()}
        if fused:
            loss = modular.loss(params, a, b, labels, "mean_all")
        else:
            W_input, W_output = params["E"] @ params["W_in"], params["W_out"] @ params["E"].T
            loss = modular.collapsed_cross_entropy(W_input, W_output, a, b, labels, "mean_all")
        loss.sum().backward()
        results.append([loss.data] + [params[name].grad for name in shapes])
    for fused, taped in zip(*results):
        assert (fused is None and taped is None) or np.array_equal(fused, taped)


def test_fused_loss_passes_gradcheck_through_the_collapse():
    params = small_model(3, p=5, d_embed=4, n_neurons=3)
    a, b, labels = addition_pairs(5)

    def loss(E, W_in, W_out):
        return modular.loss({"E": E, "W_in": W_in, "W_out": W_out}, a, b, labels, "mean_all")
    toygrad.gradcheck(loss, *(params[name].data for name in ("E", "W_in", "W_out")))


def test_fused_loss_in_float32_is_the_float64_loss_rounded():
    """float32 takes the vectorised exp (kernels.exp_nonpositive): within float32 rounding of the float64 numbers."""
    rng = np.random.default_rng(0)
    a, b, labels = addition_pairs(67, ordered=True)
    W_input, W_output = rng.normal(size=(67, 24)), rng.normal(size=(24, 67))
    out = {}
    for dtype in (np.float32, np.float64):
        Win, Wout = (toygrad.Tensor(w.astype(dtype), requires_grad=True) for w in (W_input, W_output))
        loss = modular.collapsed_cross_entropy(Win, Wout, a, b, labels, "mean_all")
        loss.backward()
        out[dtype] = (loss.data, Win.grad, Wout.grad)
    for single, double in zip(out[np.float32], out[np.float64]):
        np.testing.assert_allclose(single, double, rtol=2e-5, atol=1e-6 * np.abs(double).max())


@pytest.mark.parametrize("call, error, message", [
    (lambda: modular.collapsed_cross_entropy(np.ones((3, 2)), np.ones((3, 2)), [0], [1], [2]), ValueError,
     r"expected W_input \(K\?, p, n\) and W_output \(K\?, n, p\), got \(3, 2\) and \(3, 2\)"),
    (lambda: modular.collapsed_cross_entropy(np.ones((3, 2)), np.ones((2, 3)), [0], [3], [2]), ValueError,
     r"b must lie in \[0, 3\), got range \[3, 3\]"),
    (lambda: modular.collapsed_cross_entropy(np.ones((3, 2)), np.ones((2, 3)), [0.5], [1], [2]), TypeError,
     "a must be integers, got dtype float64"),
    (lambda: modular.collapsed_cross_entropy(np.ones((3, 2)), np.ones((2, 3)), [0, 1], [1], [2]), ValueError,
     "a, b and labels must have one length"),
    (lambda: modular.collapsed_cross_entropy(np.ones((3, 2)), np.ones((2, 3)), [0], [1], [2], "none"), ValueError,
     "reduction must be 'mean', 'mean_all' or 'sum', got 'none'"),
])
def test_fused_loss_bad_arguments_say_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_fused_loss_gives_the_same_bits_on_any_number_of_threads():
    from toygrad import threads
    rng = np.random.default_rng(1)
    a, b, labels = addition_pairs(67, ordered=True)
    W_input, W_output = rng.normal(size=(3, 67, 24)).astype(np.float32), rng.normal(size=(3, 24, 67)).astype(np.float32)
    out = []
    try:
        for n in (1, 2, 5):
            threads.set_threads(n)
            Win, Wout = toygrad.Tensor(W_input, requires_grad=True), toygrad.Tensor(W_output, requires_grad=True)
            loss = modular.collapsed_cross_entropy(Win, Wout, a, b, labels)
            loss.sum().backward()
            out.append((loss.data, Win.grad, Wout.grad))
    finally:
        threads.set_threads(None)
    for other in out[1:]:
        for x, y in zip(out[0], other):
            np.testing.assert_array_equal(x, y)


def test_collapsed_returns_the_two_products():
    params = small_model(2)
    W_input, W_output = collapsed(params)
    np.testing.assert_allclose(W_input, params["E"].data @ params["W_in"].data)
    np.testing.assert_allclose(W_output, params["W_out"].data @ params["E"].data.T)


def test_initialisation_matches_haiku_scales():
    params = init_params(np.random.default_rng(0))            # the notebook's sizes, float32
    assert params["E"].data.dtype == np.float32 and all(w.requires_grad for w in params.values())
    truncated = 0.8796                                          # std of a standard normal cut at ±2
    assert params["E"].data.std() == pytest.approx(np.sqrt(2 / 67), rel=0.02)
    assert params["W_in"].data.std() == pytest.approx(truncated / np.sqrt(500), rel=0.04)
    assert params["W_out"].data.std() == pytest.approx(truncated / np.sqrt(24), rel=0.04)
    assert np.abs(params["W_in"].data).max() <= 2 / np.sqrt(500)


def test_instances_are_independent_seeded_models():
    K = 3
    params = small_model(5, n_instances=K)
    a, b, labels = addition_pairs(7)
    out = modular.logits(params, a, b)
    assert out.shape == (K, len(a), 7)
    assert not np.allclose(params["E"].data[0], params["E"].data[1])
    assert not np.allclose(out.data[1], out.data[2])
    seeds = np.random.default_rng(5).integers(2**32, size=K)
    for k, seed in enumerate(seeds):
        alone = small_model(seed)
        np.testing.assert_array_equal(alone["W_in"].data, params["W_in"].data[k])
        np.testing.assert_allclose(modular.logits(alone, a, b).data, out.data[k], rtol=1e-12)
    assert accuracy(out, labels).shape == (K,)


def test_accuracy_is_per_instance():
    logits = np.zeros((2, 3, 4))
    logits[0, [0, 1, 2], [1, 2, 3]] = 1                          # instance 0 predicts 1, 2, 3
    logits[1, :, 0] = 1                                           # instance 1 always predicts 0
    np.testing.assert_allclose(accuracy(logits, np.array([1, 2, 0])), [2 / 3, 1 / 3])


# --- Fourier analysis ------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [3, 5, 67])
def test_fourier_basis_is_orthonormal(p):
    F = fourier_basis(p)
    np.testing.assert_allclose(F @ F.T, np.eye(p), atol=1e-12)
    np.testing.assert_allclose(F[0], 1 / np.sqrt(p))
    assert fourier_labels(p)[:3] == ["const", "cos 1", "sin 1"] and len(fourier_labels(p)) == p


def wave(frequency, phase=0.0, p=67):
    return np.cos(2 * np.pi * frequency * np.arange(p) / p - phase)


def test_spectrum_adds_up_to_the_squared_norm_and_finds_a_pure_cosine():
    W_input = np.stack([wave(5), wave(12, phase=1.0), np.random.default_rng(0).standard_normal(67)], axis=1)
    energy = neuron_spectrum(W_input)
    assert energy.shape == (34, 3)
    np.testing.assert_allclose(energy.sum(axis=0), (W_input**2).sum(axis=0))       # Parseval
    assert list(dominant_frequency(W_input)[:2]) == [5, 12]
    assert energy[5, 0] == pytest.approx(67 / 2)


def test_key_frequencies_find_the_frequencies_of_a_mixture():
    rng = np.random.default_rng(0)
    waves = np.stack([wave(5, rng.uniform(0, 6)), wave(11, rng.uniform(0, 6)), wave(23, rng.uniform(0, 6))], axis=1)
    W_input = waves @ rng.standard_normal((3, 24)) + 3.0      # 24 neurons mixing 3 frequencies, plus a constant
    assert set(key_frequencies(W_input, top=3)) == {5, 11, 23}
    assert frequency_fraction(W_input, [5, 11, 23]) == pytest.approx(1.0, abs=1e-12)   # the constant is excluded
    assert frequency_fraction(W_input, [5]) < 0.9
    W_noisy = W_input + 0.1 * rng.standard_normal(W_input.shape)
    assert set(key_frequencies(W_noisy, top=3)) == {5, 11, 23}


# --- the analytic construction ------------------------------------------------------------------------------

@given(M=st.integers(1, 20).map(lambda k: 2 * k + 1), N=st.integers(3, 16).filter(lambda n: n != 4))
def test_x_squared_construction_is_exact_for_odd_M(M, N):
    assert construction_accuracy(M, N, "square") == 1.0


@pytest.mark.parametrize("M", [2, 4, 6, 10, 20])
@pytest.mark.parametrize("N", [3, 5, 8])
def test_even_M_ties_exactly_on_the_M_pairs_with_a_minus_b_half_of_M(M, N):
    """cos²((a - b) π / M) = 0 there, so every logit is 0: a tie, counted as wrong."""
    W_input, W_output = construction(M, N)
    a, b, _ = addition_pairs(M, ordered=True)
    half = np.abs(a - b) == M // 2
    assert half.sum() == M
    np.testing.assert_allclose(forward_collapsed(W_input, W_output, a[half], b[half], "square").data, 0, atol=1e-12)
    assert construction_accuracy(M, N, "square") == pytest.approx(1 - 1 / M)


@pytest.mark.parametrize("N", [1, 2, 4])
def test_x_squared_construction_fails_for_N_1_2_4(N):
    assert construction_accuracy(11, N, "square") < 0.5


@pytest.mark.parametrize("M", [2, 3, 4, 7, 10, 13, 20])
@pytest.mark.parametrize("N", [3, 5, 6, 7, 12, 16])
def test_closed_form_is_N_cos2_cos(M, N):
    W_input, W_output = construction(M, N)
    a, b, _ = addition_pairs(M, ordered=True)
    built = forward_collapsed(W_input, W_output, a, b, "square").data
    assert np.allclose(built, closed_form_logits(M, N, a, b), rtol=0, atol=1e-9)


def test_closed_form_does_not_hold_for_N_4():
    W_input, W_output = construction(7, 4)
    a, b, _ = addition_pairs(7, ordered=True)
    built = forward_collapsed(W_input, W_output, a, b, "square").data
    assert not np.allclose(built, closed_form_logits(7, 4, a, b), atol=1e-3)


@pytest.mark.parametrize("M, N, expected", [
    (67, 24, 1.0), (41, 7, 1.0), (41, 5, 1.0),          # exact
    (41, 6, 0.317), (67, 8, 0.642), (41, 3, 0.036),     # aliased harmonics of ReLU(cos) win
    (66, 24, 1 - 1 / 66),                               # even M: the all-zero tie
])
def test_relu_construction_is_exact_only_for_some_M_N(M, N, expected):
    assert construction_accuracy(M, N, "relu") == pytest.approx(expected, abs=1e-3)


def test_stars_of_the_construction_turn_twice_as_fast_on_the_output_side():
    M, N = 67, 24
    W_input, W_output = construction(M, N)
    stars = star_coordinates(W_input, W_output)
    assert list(stars) == [1]                                   # every neuron is at frequency 1
    star = stars[1]
    assert sorted(star["neurons"]) == list(range(N))
    angle = np.arctan2(star["input"][:, 1], star["input"][:, 0])
    assert np.all(np.diff(angle) > 0)                           # sorted by input angle
    radius = np.sqrt(M / 2)
    np.testing.assert_allclose(np.linalg.norm(star["input"], axis=1), radius)
    np.testing.assert_allclose(star["output"], radius * np.stack([np.cos(2 * angle), np.sin(2 * angle)], 1),
                               atol=1e-9)


def test_logit_contribution_of_the_construction_is_a_cosine_of_a_plus_b_minus_c():
    """Averaging N cos²Δ cos(k ω) over all pairs leaves (N / 2) cos(k ω): the mean of cos²Δ is 1/2."""
    M, N = 13, 7
    W_input, W_output = construction(M, N)
    contribution = logit_contribution(W_input, W_output, np.arange(N), "square")
    np.testing.assert_allclose(contribution, N / 2 * np.cos(2 * np.pi * np.arange(M) / M), atol=1e-12)


def test_loss_takes_plain_arrays_as_constants_and_names_a_bad_weight():
    params = small_model(3, p=5, d_embed=4, n_neurons=3)
    a, b, labels = addition_pairs(5)
    as_arrays = {name: w.data for name, w in params.items()}
    assert modular.loss(as_arrays, a, b, labels).data == modular.loss(params, a, b, labels).data
    with pytest.raises(ValueError, match=r"loss: both operands need at least 2 axes, got params\['E'\] \(5,\)"):
        modular.loss({**params, "E": np.ones(5)}, a, b, labels)
