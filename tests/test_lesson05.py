"""Lesson 05's quick mode (modulus 31, 2,000 steps, seconds) must still show the phenomenon, and say so in
its metrics: memorise first, generalise much later, through a few Fourier frequencies."""
import json

from lesson_runner import quick_fixture

quick = quick_fixture("05_grokking")


def test_memorises_then_generalises_much_later(quick):
    _, m = quick
    memorised, generalised = m["first_step_train_acc_0.99"], m["first_step_test_acc_0.95"]
    assert 0 < memorised <= 500
    assert generalised >= 3 * memorised            # quick mode; the default run shows >= 10x
    assert m["final_train_acc"] == 1.0 and m["final_test_acc"] >= 0.99


def test_the_grokked_model_uses_a_few_frequencies(quick):
    _, m = quick
    assert 2 <= len(m["key_frequencies"]) <= 5
    assert m["fourier_fraction_in_key_frequencies"] > 0.8


def test_five_neurons_and_the_construction(quick):
    _, m = quick
    assert m["five_neurons"]["final_test_acc"] == 1.0
    assert m["five_neurons"]["out_angle_minus_twice_in_angle_spread"] < 0.3   # out turns twice as fast
    for key, acc in m["construction"]["square_accuracy"].items():
        M, N = map(int, key.split(","))
        if M % 2 and N != 4:
            assert acc == 1.0, key                                  # exact: odd M, N = 3 or N >= 5
        elif N != 4:
            assert acc == 1 - 1 / M, key                            # even M: the M pairs with a - b = M/2 tie
        else:
            assert acc < 0.5, key                                   # N = 4: an extra term moves the argmax
    assert m["construction"]["closed_form_max_abs_error"] < 1e-9


def test_writes_figures_and_metrics(quick):
    out, m = quick
    for name in ("curves", "weights", "waves", "spectrum", "stars", "logits", "five_neurons", "construction"):
        assert (out / f"{name}.png").stat().st_size > 10_000, name
    assert json.loads((out / "metrics.json").read_text())["key_frequencies"] == m["key_frequencies"]
