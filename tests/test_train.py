"""The training loop: history, snapshots, checkpoints that resume bit for bit, and the non-finite-loss stop."""
from dataclasses import dataclass

import numpy as np
import pytest

import toygrad as tg
from toygrad import cli
from toygrad.train import NonFiniteLoss, fit, log_spaced


def toy(seed=0):
    """A stochastic toy: 3 tied autoencoders, a fresh sparse batch each step drawn from `rng`."""
    rng = np.random.default_rng(seed)
    params = {"W": tg.parameter("xavier_normal", (3, 2, 6), rng), "b": tg.parameter("zeros", (3, 6), rng)}
    opt = tg.AdamW(params.values(), lr=1e-2, schedule=tg.schedule("warmup_cosine", total_steps=60))
    x = np.empty((3, 32, 6), np.float32)
    probs = np.array([1.0, 0.3, 0.1])

    def loss_fn(step):
        tg.kernels.sample_sparse(rng, x, probs)
        return tg.mse(tg.relu(tg.tied(x, params["W"], params["b"])), x)
    return params, opt, loss_fn, rng


def test_fit_logs_history_and_snapshots():
    params, opt, loss_fn, rng = toy()
    run = fit(loss_fn, params, opt, 60, log_every=20, snapshot_at=(0, 60), rng=rng, progress=False,
              evaluate=lambda: {"w_norm": np.linalg.norm(params["W"].data)})
    assert run.history["step"].tolist() == [0, 20, 40, 60]
    assert run.history["loss"].shape == (4, 3)                      # one loss per instance at each log step
    assert run.history["w_norm"].shape == (4,)
    assert run.history["loss"][-1].mean() < run.history["loss"][0].mean()
    assert set(run.snapshots) == {0, 60}
    assert np.array_equal(run.snapshots[60]["W"], params["W"].data)
    assert not np.array_equal(run.snapshots[0]["W"], run.snapshots[60]["W"])


def test_resume_gives_the_same_final_weights_as_an_uninterrupted_run(tmp_path):
    params, opt, loss_fn, rng = toy()
    whole = fit(loss_fn, params, opt, 60, log_every=10, snapshot_at=(5, 45), rng=rng, progress=False)

    ckpt = tmp_path / "run.ckpt.npz"
    params2, opt2, loss_fn2, rng2 = toy()

    def crashing_loss(step):
        if step == 37:
            raise KeyboardInterrupt                                  # killed between checkpoints
        return loss_fn2(step)
    with pytest.raises(KeyboardInterrupt):
        fit(crashing_loss, params2, opt2, 60, log_every=10, snapshot_at=(5, 45), checkpoint=ckpt,
            checkpoint_every=15, rng=rng2, progress=False)
    assert ckpt.exists() and not list(tmp_path.glob("*.tmp"))        # the step-30 checkpoint, no leftovers

    params3, opt3, loss_fn3, rng3 = toy(seed=123)                    # a fresh process: state comes from disk
    resumed = fit(loss_fn3, params3, opt3, 60, log_every=10, snapshot_at=(5, 45), checkpoint=ckpt,
                  checkpoint_every=15, resume=True, rng=rng3, progress=False)
    for name in params:
        assert np.array_equal(params3[name].data, params[name].data), name
    for key in whole.history:
        assert np.array_equal(resumed.history[key], whole.history[key]), key
    assert np.array_equal(resumed.snapshots[5]["W"], whole.snapshots[5]["W"])
    assert np.array_equal(resumed.snapshots[45]["W"], whole.snapshots[45]["W"])


def test_non_finite_loss_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    params, opt, loss_fn, rng = toy()
    ckpt = tmp_path / "run.ckpt.npz"

    def exploding(step):
        loss = loss_fn(step)
        return loss * np.float32(np.inf) if step == 23 else loss
    with pytest.raises(NonFiniteLoss, match=r"step 23 \(last finite loss: mean [0-9.]+") as err:
        fit(exploding, params, opt, 60, checkpoint=ckpt, checkpoint_every=10, rng=rng, progress=False)
    assert err.value.step == 23 and np.all(np.isfinite(err.value.last_finite))
    assert "last good checkpoint" in str(err.value)
    with np.load(ckpt) as f:
        assert "step\": 20" in str(f["meta"])                       # the step-20 checkpoint survived


def test_log_spaced_covers_the_run():
    steps = log_spaced(50_000, 30)
    assert steps[0] == 0 and steps[-1] == 50_000 and steps == sorted(set(steps))
    assert len(steps) <= 30


def test_fit_rejects_bad_arguments():
    params, opt, loss_fn, rng = toy()
    with pytest.raises(ValueError, match="steps must be a non-negative integer, got -1"):
        fit(loss_fn, params, opt, -1)
    with pytest.raises(ValueError, match="log_every must be a positive integer, got 0"):
        fit(loss_fn, params, opt, 10, log_every=0)


@dataclass
class Settings:
    steps: int = 100
    lr: float = 1e-3
    sizes: tuple[int, ...] = (1, 2)
    fancy: bool = False


def test_cli_flags_quick_and_out():
    settings, options = cli.parse(Settings, [], default_out="figures/x")
    assert settings == Settings() and str(options.out) == "figures/x" and not options.quick
    settings, options = cli.parse(Settings, ["--quick", "--steps", "7", "--sizes", "3", "4", "--fancy",
                                             "--out", "elsewhere"], quick=dict(steps=10, lr=0.5))
    assert settings == Settings(steps=7, lr=0.5, sizes=(3, 4), fancy=True)   # explicit flags beat --quick
    assert str(options.out) == "elsewhere"
    with pytest.raises(SystemExit):
        cli.parse(Settings, ["--steps", "many"])
