"""Lesson 03's quick mode (seconds) must still show what the lesson claims, and say so in its metrics: dense
features get a neuron each and sparse ones share them, the one-hot dictionary is complete with one neuron per
input, the smallest T is stored, and through a random embedding small fish recovers more than big fish."""
import json

from lesson_runner import quick_fixture

quick = quick_fixture("03_mlp_block")


def test_dense_features_get_a_neuron_each_and_sparse_ones_share(quick):
    _, m = quick
    dense, sparse = m["relu_hidden"][0], m["relu_hidden"][-1]
    hidden = m["settings"]["relu_hidden"]
    assert dense["features_per_neuron"] == [1] * hidden                    # monosemantic ...
    assert m["relu_dense_min_top_share"] > 0.8                            # ... the top feature dominates each neuron
    assert sparse["features_in_some_neuron"] > hidden                     # more features than neurons
    assert max(sparse["features_per_neuron"]) >= 2


def test_one_neuron_per_one_hot_input_stores_the_whole_dictionary(quick):
    _, m = quick
    full = next(r for r in m["one_hot"] if r["k"] == m["settings"]["onehot_features"])
    assert full["accuracy"] == 1.0 and full["loss"] < 0.05
    assert full["b1_positive"] >= 0.5                                     # b1 lifts pre-activations
    assert m["one_hot"][0]["accuracy"] < 1.0                              # 2 neurons cannot hold 6 inputs


def test_the_smallest_T_stores_its_points(quick):
    _, m = quick
    smallest = m["sizes"]["uniform 1"]["rows"][0]
    assert smallest["train_accuracy"] == 1.0                              # every point's largest feature recovered
    assert smallest["train_loss"] < 0.5 * (1 - 1 / smallest["T"])         # well below predicting the mean


def test_small_fish_recovers_more_than_big_fish(quick):
    _, m = quick
    fish = m["fish"]
    assert fish["small_at_least_big_accuracy_fraction"] == 1.0
    assert fish["small_minus_big_accuracy_mean"] > 0.1
    assert fish["big_fish_accuracy_change_over_hidden"] > fish["big_fish_accuracy_change_over_bottleneck"]


def test_writes_figures_and_metrics(quick):
    out, m = quick
    names = ["relu_hidden", "one_hot", "loss", "grid", "fish"] + [
        "features_and_data_" + name.replace(" ", "_") for name in m["settings"]["sweeps"]]
    for name in names:
        assert (out / f"{name}.png").stat().st_size > 10_000, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["fish"] == m["fish"]
