"""Lesson 02's quick mode (n = 200, S = 0.95, T up to 300, seconds) must still show memorisation turning into
features, and say so in its metrics: the smallest T stores its points as a T-gon, the largest stores features."""
import json

import pytest

from lesson_runner import quick_fixture

quick = quick_fixture("02_memorization")


def test_the_smallest_T_stores_its_points_as_a_T_gon(quick):
    _, m = quick
    smallest = m["sizes"][0]
    assert abs(m["smallest_T_data_dimensionality_times_T_over_m"] - 1) < 0.1      # D_data = m / T
    assert smallest["train_loss"] < 1e-2                                            # memorised
    assert smallest["data_dimensionality"] > 5 * smallest["feature_dimensionality"]       # points, not features


def test_the_largest_T_stores_features_and_the_dimensionalities_cross(quick):
    _, m = quick
    largest = m["sizes"][-1]
    assert largest["feature_dimensionality"] > largest["data_dimensionality"]
    assert m["dimensionality_crossing_T"] is not None
    assert m["sizes"][0]["T"] < m["dimensionality_crossing_T"] < largest["T"]
    train = [r["train_loss"] for r in m["sizes"]]
    assert train[-1] > train[0]                                                     # no longer memorised


def test_the_best_seed_is_kept(quick):
    _, m = quick
    for r in m["sizes"]:
        assert r["train_loss"] == pytest.approx(min(r["seed_train_losses"]), rel=1e-6)


def test_limits_of_reconstruction_one_hot(quick):
    _, m = quick
    acc = m["limits"]["one_hot"]["one_hot_accuracy"]            # rows: n, columns: m
    hidden, features = m["limits"]["one_hot"]["hidden"], m["limits"]["one_hot"]["features"]
    for i, n in enumerate(features):
        for j, h in enumerate(hidden):
            if h >= n:
                assert acc[i][j] == 1.0, (n, h)                 # as many dimensions as inputs: all recovered


def test_writes_figures_and_metrics(quick):
    out, m = quick
    for name in ("features_and_data", "loss", "dimensionality", "norms", "grid", "limits"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test_loss_peak_T"] == m["test_loss_peak_T"]
