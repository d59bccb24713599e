"""Lesson 03's quick mode (seconds) must still show what the lesson claims, and say so in its metrics: dense
features get a neuron each and sparse ones share them, the one-hot dictionary is complete with one neuron per
input, T = 3 points are stored as a triangle while more are bounded by the plane two neurons span, weight decay 1
clears what PyTorch's init leaves in b2, and through a random embedding small fish recovers more than big fish."""
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


def test_the_smallest_T_is_stored_as_a_triangle_in_every_variant(quick):
    _, m = quick
    hidden = m["settings"]["n_hidden"]
    for name, sweep in m["sizes"].items():
        smallest = sweep["rows"][0]
        assert smallest["T"] == hidden + 1, name                          # k + 1 points: the most a plane holds
        assert smallest["train_loss"] < 0.01, name                        # predicting their mean: 1 - 1/T = 0.67
        assert smallest["train_accuracy"] == 1.0, name
        triangle = smallest["data_dimensionality_centered"] * smallest["T"] / hidden
        assert abs(triangle - 1) < 0.15, (name, triangle)                 # a regular T-gon gives 1
        assert sweep["smallest_T_centered_data_dimensionality_times_T_over_m"] == triangle


def test_beyond_k_plus_1_points_the_plane_bounds_the_train_loss(quick):
    _, m = quick
    for name, sweep in m["sizes"].items():
        for row in sweep["rows"][1:]:
            assert row["train_loss_floor"] > 0.5, (name, row["T"])         # no 2-neuron MLP can store 30 points
            assert row["train_loss"] >= row["train_loss_floor"] - 1e-3, (name, row["T"])   # nor beat the floor
    T30 = next(r for r in m["sizes"]["uniform 1"]["rows"] if r["T"] == 30)
    assert T30["train_loss"] < 1.05 * T30["train_loss_floor"]             # ... which decay 1 reaches


def test_weight_decay_1_removes_what_the_init_left_in_b2(quick):
    _, m = quick
    weak, strong = (m["sizes"][name]["rows"][0] for name in ("uniform 0.01", "uniform 1"))
    assert strong["b2_norm"] < 0.5 * weak["b2_norm"]
    assert strong["test_loss"] < 2.0 < 3 * strong["test_loss"] < weak["test_loss"]


def test_features_no_training_point_touches_keep_the_shape_of_the_init(quick):
    _, m = quick
    uniform, gaussian = (m["sizes"][name]["rows"][0]["boxiness_unseen"] for name in ("uniform 0.01", "gaussian 0.01"))
    assert abs(uniform - 0.51) < 0.05 and abs(gaussian - 0.29) < 0.05


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
