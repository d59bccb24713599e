"""Lesson 04's quick mode (n = 40, S = 0.75, T up to 100, seconds) must still show what the lesson is about, and
say so in its metrics: cross-entropy's test loss peaks between memorising and generalising, AdamW squares the
features where SGD leaves them round, 2 neurons lifted by b1 memorise a one-hot dictionary, weight decay 1
prevents it, and the grids fill in."""
import json

import numpy as np
import pytest

from lesson_runner import quick_fixture

quick = quick_fixture("04_final_layer")


def test_the_test_loss_peaks_between_memorising_and_generalising(quick):
    _, m = quick
    for variant in ("hard", "untied"):
        rows, summary = m["sizes"][variant], m["summary"][variant]
        assert rows[0]["T"] < summary["test_loss_peak_T"] < rows[-1]["T"], variant
        assert summary["test_loss_peak_over_ends"] > 1.1, variant      # a bump, not noise
        assert rows[0]["train_accuracy"] == 1.0                         # the smallest T is memorised ...
        assert rows[-1]["train_accuracy"] < 0.5                         # ... the largest is not


def test_the_smallest_T_stores_its_points_as_a_T_gon(quick):
    _, m = quick
    smallest = m["sizes"]["hard"][0]
    assert abs(m["summary"]["hard"]["smallest_T_data_dimensionality_times_T_over_m"] - 1) < 0.1   # D_data = m / T
    assert smallest["data_dimensionality"] > 5 * smallest["feature_dimensionality"]


def test_squareness_is_reported_with_its_orientation(quick):
    _, m = quick
    for rows in m["sizes"].values():
        for r in rows:
            assert 0 <= r["squareness"] <= 1
            assert r["square_angle"] is None or -45 <= r["square_angle"] <= 45
            assert 0 < r["squareness_null"] < 1


def test_sgd_leaves_round_the_features_that_adamw_squares(quick):
    """The control for Adam's squares (the same points, init, schedule and shrink per step): where AdamW's
    hard-label features are squarest beyond T = 10, they are far above the random-angle null with corners near
    the diagonals; SGD's are no squarer than chance at any T beyond 10."""
    _, m = quick
    s = m["settings"]
    assert s["sgd_lr"] * s["sgd_weight_decay"] == pytest.approx(s["lr"] * s["weight_decay"])
    T = m["summary"]["hard"]["squareness_peak_T_beyond_T_10"]
    adamw, sgd = (next(r for r in m["sizes"][run] if r["T"] == T) for run in ("hard", "hard_sgd"))
    assert adamw["squareness"] > 2 * adamw["squareness_null"] and abs(adamw["square_angle"]) > 35
    assert sgd["squareness"] < adamw["squareness"] / 2
    for r in m["sizes"]["hard_sgd"]:
        if r["T"] > 10:
            assert r["squareness"] < r["squareness_null"] + 0.05, r["T"]


def test_the_dictionary_is_memorised_and_b1_lifts_the_activations(quick):
    _, m = quick
    lengths = sorted(m["dictionary"], key=int)
    short, long = (m["dictionary"][e] for e in (lengths[0], lengths[-1]))
    assert long["accuracy"] == 1.0
    assert long["loss"] < short["loss"]                         # longer training: more confident
    assert long["b1_mean"] > 0


def test_two_neurons_memorise_every_class_unless_weight_decay_is_1(quick):
    _, m = quick
    low, high = m["two_neurons"]["weight_decay=0.01"], m["two_neurons"]["weight_decay=1"]
    assert low["accuracy"] == 1.0
    assert min(low["b1"]) > 1                                   # the first bias lifts both neurons
    assert low["cosine_above_0.9"] > 0.2                        # many pairs look alike, yet every one is told apart
    assert high["accuracy"] < 0.6 and high["weight_norm"] < low["weight_norm"] / 2
    antipodal = m["two_neurons"]["antipodal"]
    assert antipodal["accuracy"] > 0.5 and len(antipodal["sign_share_per_neuron"]) == 2


def test_grids_fill_in(quick):
    _, m = quick
    hidden = m["grid"]["hidden"]
    for loss in ("cross_entropy", "mse"):
        test = np.array(m["grid"][loss]["test_accuracy"])
        assert test.shape == (len(hidden), len(m["grid"]["sizes"]))
        assert test[-1, -1] > test[0, -1]                     # more dimensions, more test accuracy at the largest T
    train = np.array(m["grid"]["cross_entropy"]["train_accuracy"])
    assert train[-1, 0] == 1.0                                 # the smallest T, the largest m: memorised


def test_writes_figures_and_metrics(quick):
    out, m = quick
    for name in ("features_and_data", "features", "loss", "dimensionality", "variants", "squareness", "dictionary",
                 "two_neurons", "grid"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["summary"]["hard"]["test_loss_peak_T"] == m["summary"]["hard"]["test_loss_peak_T"]
