"""Lesson 06 — Sparse parity: a model memorises 1,200 bit strings, then finds the 3 bits that matter.

Replicates Pearce et al. 2023, "Do Machine Learning Models Memorize or Generalize?" (the "1s and 0s" part and
its hyperparameter sweep; see ../shared/SETTINGS.md, "Sparse parity").

The task: 30 random bits plus a constant 1; the label is the parity of the first 3 bits (an XOR of three).
A fixed training set of 1,200 strings, 2,000 held out. The model: 31 inputs -> 64 ReLU neurons -> 2 logits,
no biases (the constant input is the bias), mean cross-entropy, Adam with L1 decay: λ sign(w) added to the
gradient before Adam's moments. 8 seeds train at once on the instance axis, each with its own training set
and initialisation, beside 2 seeds trained with L2 decay instead.

What you will see (numbers from the default run, in metrics.json)
- curves.png: seed 0 memorises (train accuracy 1.0) at step 1,050, where test accuracy is 0.515, and
  generalises (test accuracy >= 0.95) at step 3,350: 3.2x later. Both accuracies end at 1.000.
- seeds.png: 7 of the 8 L1 seeds generalise at 3x their memorising step or later (ratios 2.8 to 4.0;
  memorising at steps 1,050-1,250, generalising at 3,350-4,850); all 8 reach test accuracy 1.0.
- weights.png: W_in while memorising uses every bit; at the end, bits 1-3 and the constant: 99.3% of the
  input-weight mass (bits 1-30) is on bits 1-3, and 11 of 64 neurons are live (a neuron is live if
  ||W_in row|| ||W_out column|| is at least 0.1 of the largest neuron's).
- mass.png: the mass on the 27 distracting bits stays flat while the model memorises and starts to fall only
  after it has (seed 0: |W_in| summed over bits 4-30 is 1,008 at the start, 984 at the memorising step, 0.22 at
  the end; over bits 1-3: 114, 121, 30); the share on bits 1-3 for every seed. Seeds that generalise late are still
  being cleaned at step 6,000 (seeds 2 and 3 end at 60% and 75%; the other six at 95-99%).
- train_loss_rise.png: does the train loss rise just before the test loss falls? Not for seed 0 (x1.01 over
  its low before the test loss's steepest fall at step 4,100, within noise); by more than 5% in 4 of the 8
  seeds (x1.06, x1.10, x1.12 and x1.34, seed 3 drawn beside seed 0). Here it shows in some seeds, not all.
- l1_vs_l2.png: with AdamW's decoupled L2 decay instead (1.0, same lr and init) the model also generalises
  (seed 0 at step 3,300, test accuracy 0.983 at the end), but leaves 26.3% of the mass on bits 1-3 and 63 of
  64 neurons live: many small weights on every bit and many redundant neurons. L1 sends them to 0.
- sweep.png: the post's sweep, reduced (see below), drawn as the post draws it: one panel per weight decay,
  hidden size across (largest on the left, as in the post), train size down, one dot per seed. Class counts
  per weight decay (of 12 runs each):
      0.01: high test loss 11, train and test drop together 1
      0.03: high test loss 8, train and test drop together 3, grokking 1
      0.1:  grokking 8, train and test drop together 3, high test loss 1
      0.3:  grokking 5, train and test drop together 7
      1:    high train loss 11, train and test drop together 1
  The post's pattern: the middle decay, 0.1, groks most often; the largest, 1, mostly fails to learn; the
  smallest, 0.01, mostly fails to generalise. A 12,000-step trial of 90 runs (train size 750 added) gave the
  same: 0.01 high test loss in 14 of 18, 0.1 grokking in 13 of 18, 1 high train loss in 17 of 18.

Run it
    python lessons/06_sparse_parity.py           # 72 s on 2 quiet cores (130 CPU-seconds: 37 here, 93 in
                                                 # the sweep's 2 workers); 116 s with another job on one
                                                 # core, 5.9 minutes at a load average of 4-6, 9.5 at 7-9
    python lessons/06_sparse_parity.py --full    # the post's 1,125 models: about 2.5 hours on 2 idle cores
    python lessons/06_sparse_parity.py --full --scheduler tcp://HOST:8786   # the same on a dask cluster
    python lessons/06_sparse_parity.py --quick   # seconds, for the tests
Figures and metrics.json go to figures/06_sparse_parity/ (--out DIR to change). The sweep appends each finished
group to sweep.jsonl there (flushed as it finishes); --resume keeps what an interrupted run finished (the
sweep's groups, and the main run's last checkpoint) and trains only the rest. Without --resume both start
afresh. The main run trains in this process while the sweep's groups train in worker processes (or on the
cluster); a bar shows each.

Settings chosen (the post does not publish its main run's), and why
- Adam, lr 1e-3, betas (0.9, 0.98) (the grokking notebook's), 64 neurons, 6,000 full-batch steps.
- L1 λ = 3e-6, on the gradient of the MEAN loss: the post's numbers are in other units. Between 1e-6 and 1e-5
  the steps hardly move (trials with λ 1e-6, 3e-6 and 1e-5 and both layers at 10x the usual scale: memorising
  at 1,800-2,100 and generalising at 4,500-5,200 for all three): once the train loss is ~0 its gradient is
  tiny, and Adam's normalisation turns λ sign(w) into a step of about lr towards 0 for every weight,
  whatever λ is.
- The initialisation: W_in 4x and W_out 64x the usual scale (std 1/sqrt(fan_in)). With the usual scale the
  two phases run together: memorising at steps 700-800 with test accuracy already 0.63-0.67, generalising
  2.6-3.0x later (4 seeds). A larger initial weight norm lengthens memorisation (Liu et al. 2022,
  "Omnigrok"), and a large output scale starts the network lazy: it fits the training set with the random
  features it starts with, and only later learns the 3 that matter (Kumar et al. 2023, "Grokking as the
  transition from lazy to rich training dynamics"). Generalising step / memorising step in trials (λ 1e-6 or
  3e-6, 3-4 seeds each, log every 100 steps): both layers x10: 2.3-2.9 (0 of 8 at 3x); x16: 2.4-3.0 (0 of 8);
  x24: 2.5-3.1; W_in x4 and W_out x32: 2.6-3.3; x4 and x48: 2.7-4.3; x4 and x64: 3.0-3.9 (4 of 4); x8 and
  x32: 3.0-3.6, but L1 had not finished cleaning by step 8,000. Test accuracy while memorising: 0.51-0.53.
  Adam's beta2 = 0.999 (x10, x16): no seed generalised within 12,000 steps.
- L2 decay 1.0 (AdamW, w *= 1 - lr 1.0 every step): with 0.1 no seed had generalised by step 10,000 in a
  trial (test accuracy 0.84-0.88, 10x init).
- The sweep as the authors' sweep file has it: AdamW with decoupled L2 decay, lr 3e-3, betas (0.99, 0.98), the
  post's decay values unscaled, the usual initialisation, losses logged every 100 steps. Classes as in the
  post: "high train loss" if the train loss never goes below 1e-5; else "high test loss" if the test loss
  never does; else "train and test drop together" if test / train loss stays below 5e4; else "grokking".
  Losses are clipped at 1.2e-7 (float32 cannot tell a smaller loss from 0; the post's runs bottom out at
  exactly that value). Each seed has its own data and initialisation, shared by its 5 weight decays.

Scaled down (and why)
- The sweep: hidden size {16, 32} x train size {1,000, 1,500} x 5 weight decays x 3 seeds = 60 models for
  8,000 steps, to finish the lesson in about 5 minutes on 2 idle cores. The post: hidden {16, 32, 64, 128,
  258} x train size {750, 1,000, 1,250, 1,500, 1,750} x 9 seeds = 1,125 models, 20,000 steps (--full).
  A run that would reach a test loss of 1e-5 between steps 8,000 and 20,000 counts as "high test loss" here:
  in the 12,000-step trial, going from 8,000 to 12,000 steps turned 3 runs at decay 0.03, 3 at 0.1 and 1 at
  0.3 from "high test loss" into "grokking" (of 18 each), and changed nothing else.
- What the full sweep costs, measured (metrics.json, "full_grid_cost"): the CPU time of a training step of
  each of its 25 groups (45 models each), timed in the default run, times 20,000 steps: 4.8 to 5.1 hours on one
  core, 2.4 to 2.5 hours with 2 processes, 7.4 to 7.9 models per minute in the last two course runs (earlier
  runs, with older numpy and numba builds and more load, timed 5.2 to 8.6 hours on one core). (Checked: the
  timed step agrees within 3% with the marginal cost per step of 300- and 900-step runs, evaluation included.)
  A step costs from 0.003 s (hidden 16, 750 strings) to 0.13 s (hidden 258, 1,750 strings); that largest group
  alone takes 0.71 hours, which is what a cluster of 8 or more workers would take for the whole sweep, unless
  the groups are cut smaller (group_by=("hidden", "train_size", "seed"): 225 groups of 5 models). The reduced
  grid here ran at 34 to 39 models per minute per process (CPU time; smaller models).
- 2,000 held-out strings per seed (the authors: 5,000).

Learning objectives
- See memorisation and generalisation as two different sets of weights, one spread over all 30 inputs and one
  on the 3 that matter, and weight decay as what makes the second cheaper.
- See why L1 gives a cleaner picture than L2: it drives unused weights and neurons to 0; L2 only makes them small.
- Run a grid of 1,000+ trainings as a few models on the instance axis, spread over cores or a cluster, saved
  as they finish and resumable.
"""
# %% Imports
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace

import numpy as np

import toygrad as tg
from toygrad import cli, parity
from toygrad.files import save_figure, write_json
from toygrad.metrics import first_step_reaching
from toygrad.plots import COLORS, figure, heatmap, mark_steps, training_curves
from toygrad.sweep import grid, groups, key, load, open_executor, sweep


# %% Settings, each with its reason
@dataclass
class Settings:
    n_train: int = 1_200          # the post's fixed training set
    n_test: int = 2_000           # held out, per seed: accuracy to ±1%
    n_hidden: int = 64            # wide enough to memorise 1,200 strings with room to spare
    init_scale: float = 4.0       # W_in ~ N(0, (init_scale / sqrt(31))²): 4x the usual (see "Settings chosen")
    out_scale: float = 64.0       # W_out ~ N(0, (out_scale / sqrt(64))²): a large output starts the model lazy
    lr: float = 1e-3              # Adam, no schedule
    beta2: float = 0.98           # the grokking notebook's betas (0.9, 0.98)
    l1: float = 3e-6              # λ in g + λ sign(w), g the gradient of the MEAN loss (the post's units differ)
    l2: float = 1.0               # the comparison: AdamW's decoupled decay, w *= 1 - lr l2 each step
    steps: int = 6_000            # every seed had generalised by step 5,000 in trials
    log_every: int = 50           # the resolution of the memorise and generalise steps
    seed: int = 0                 # the seed shown in the figures
    seeds: int = 8                # L1 seeds seed, seed+1, ... on the instance axis: how often is it >= 3x?
    l2_seeds: int = 2             # L2 seeds, on the same instance axis (one run trains both)
    sweep_weight_decay: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)   # the post's values, unscaled
    sweep_hidden: tuple[int, ...] = (16, 32)                  # the post: 16, 32, 64, 128, 258
    sweep_train_size: tuple[int, ...] = (1000, 1500)          # the post: 750, 1000, 1250, 1500, 1750
    sweep_seeds: int = 3                                      # the post: 9
    sweep_steps: int = 8_000                                  # the post: 20,000 (see "Scaled down")
    sweep_lr: float = 3e-3        # the authors' sweep file: AdamW, lr 3e-3, betas (0.99, 0.98), L2 decay
    sweep_beta1: float = 0.99
    sweep_beta2: float = 0.98
    sweep_test_size: int = 2_000  # the authors held out 5,000
    full: bool = False            # run the post's whole grid, 1,125 models (see FULL)
    workers: int = 2              # sweep processes; the main run trains beside them
    scheduler: str = ""           # a dask.distributed scheduler address (tcp://host:8786): the sweep runs there
    time_full_sweep: bool = True  # time a few steps of every group of the full grid: what --full would cost


QUICK = dict(n_test=1_000, init_scale=2.0, out_scale=32.0, lr=3e-3, steps=2_000, seeds=2, l2_seeds=1,
             sweep_weight_decay=(0.01, 0.1, 1.0), sweep_hidden=(8, 16), sweep_train_size=(300,), sweep_seeds=2,
             sweep_steps=1_500, sweep_test_size=500, time_full_sweep=False)

FULL = dict(sweep_hidden=(16, 32, 64, 128, 258), sweep_train_size=(750, 1000, 1250, 1500, 1750), sweep_seeds=9,
            sweep_steps=20_000)
"""The post's grid: 5 weight decays x 5 hidden sizes x 5 train sizes x 9 seeds = 1,125 models."""


# %% The sweep: points, one group per (hidden, train size) with every weight decay and seed on the instance axis
def sweep_points(s):
    """The grid as points that carry every setting of their run. Largest groups first, so that the last
    groups to start are the short ones and the workers finish together."""
    return grid(hidden=sorted(s.sweep_hidden, reverse=True), train_size=sorted(s.sweep_train_size, reverse=True),
                weight_decay=list(s.sweep_weight_decay), seed=list(range(s.sweep_seeds)), steps=[s.sweep_steps],
                lr=[s.sweep_lr], beta1=[s.sweep_beta1], beta2=[s.sweep_beta2], test_size=[s.sweep_test_size])


GROUP_BY = ("hidden", "train_size")


def class_counts(records, weight_decays):
    """{weight decay: {class: how many runs}}, every class listed."""
    counts = {str(wd): {c: 0 for c in parity.CLASSES} for wd in weight_decays}
    for r in records:
        counts[str(r["settings"]["weight_decay"])][r["result"]["class"]] += 1
    return counts


def per_process_rate(records):
    """Models per minute of one worker process on an idle core: models over the summed CPU time of their groups."""
    seconds = {(r["settings"]["hidden"], r["settings"]["train_size"]): r["result"]["group_cpu_seconds"]
               for r in records}
    return len(records) / (sum(seconds.values()) / 60) if seconds else None


def full_sweep_cost(s, workers):
    """CPU seconds per step of every group of the full grid, timed here, times its steps: what --full costs
    on idle cores, with `workers` processes."""
    full = replace(s, **FULL)
    per_step = {f"{g[0]['hidden']},{g[0]['train_size']}": parity.seconds_per_step(g)
                for g in groups(sweep_points(full), GROUP_BY)}
    one_process = sum(per_step.values()) * full.sweep_steps
    models = len(sweep_points(full))
    return {"models": models, "seconds_per_step_per_group": per_step, "hours_one_process": one_process / 3600,
            "hours_with_workers": one_process / workers / 3600, "workers": workers,
            "models_per_minute": models / (one_process / workers / 60)}


# %% The main run: L1 seeds and L2 seeds side by side on one instance axis
def make_run(s):
    """Data and parameters of every instance: L1 seeds seed, seed+1, ... then L2 seeds seed, seed+1, ...
    Instance k trains on seed k's own training set from seed k's own initialisation."""
    seeds = [s.seed + k for k in range(s.seeds)] + [s.seed + k for k in range(s.l2_seeds)]
    data = parity.make_data(seeds, s.n_train, s.n_test)
    params = parity.init_params(seeds, s.n_hidden, s.init_scale, s.out_scale)
    l1 = np.array([s.l1] * s.seeds + [0.0] * s.l2_seeds)
    l2 = np.array([0.0] * s.seeds + [s.l2] * s.l2_seeds)
    optimizer = tg.AdamW(params.values(), lr=s.lr, betas=(0.9, s.beta2), weight_decay=l2, l1=l1)
    return data, params, optimizer


def train_main(s, out, resume):
    data, params, optimizer = make_run(s)
    shown = {"W_in_l1": 0, "W_in_l2": s.seeds}            # the weights kept at every log step, for the figures
    return parity.train(params, data, optimizer, s.steps, log_every=s.log_every, keep=shown,
                        checkpoint=out / "run.ckpt.npz", resume=resume,
                        desc=f"L1 x {s.seeds} + L2 x {s.l2_seeds} seeds")


def train_loss_rise(h, k, memorised):
    """Does the train loss rise before the test loss falls? After memorising, find the test loss's steepest
    fall (the largest drop of log test loss between two log steps); up to there, the largest factor by which
    the train loss climbs back above its lowest value so far (1.0: it never rises)."""
    if memorised < 0:
        return None
    steps = h["step"]
    after = np.flatnonzero(steps >= memorised)
    log_test = np.log(np.maximum(h["test_loss"][after, k], parity.FLOOR))
    fall = after[int(np.argmin(np.diff(log_test)))] + 1                    # the log step that ends the drop
    window = np.arange(after[0], fall + 1)
    loss = h["train_loss"][window, k]
    climb = loss / np.minimum.accumulate(loss)
    peak = int(np.argmax(climb))
    low = int(np.argmin(loss[:peak + 1]))
    return {"memorise_step": int(memorised), "test_loss_steepest_fall_step": int(steps[fall]),
            "train_loss_low_step": int(steps[window[low]]), "train_loss_low": float(loss[low]),
            "train_loss_peak_step": int(steps[window[peak]]), "train_loss_peak": float(loss[peak]),
            "rise_factor": float(climb[peak])}


# %% Figures
def _weights(ax, W, title, order, grey_distractors=False):
    """W_in (neurons x 31 inputs), neurons in the given order; the 27 distracting bits greyed if asked."""
    heatmap(ax, W[order], title, "input: bits 1-30, then c, the constant 1", "neuron (largest at the end first)")
    ax.set_xticks([0, 1, 2, 29, 30], ["1", "2", "3", "30", "c"], fontsize=7)
    if grey_distractors:
        ax.axvspan(2.5, 29.5, color="lightgrey", alpha=0.85, lw=0)
        ax.text(16, W.shape[0] / 2, "the 27 distracting bits", ha="center", va="center", fontsize=9)


def neuron_order(h, k):
    """Neurons by their size at the end, largest first."""
    return np.argsort(-h["neuron_size"][-1, k], kind="stable")


def figure_weights(h, memorised, title):
    """W_in of the shown seed at the memorising step and at the end."""
    fig, axes = figure(1, 2, width=5.0, height=5.0)
    row = int(np.searchsorted(h["step"], memorised))
    order = neuron_order(h, 0)
    _weights(axes[0, 0], h["W_in_l1"][row], f"memorising: step {memorised:,}, every bit in use", order)
    _weights(axes[0, 1], h["W_in_l1"][-1], f"generalised: step {int(h['step'][-1]):,}, the first 3 bits", order,
             grey_distractors=True)
    fig.suptitle(title)
    return fig


def figure_mass(h, k, n_l1, marks, title):
    """The absolute input-weight mass on bits 1-3 and on bits 4-30 over training (shown seed), and the
    first-3 share for every seed."""
    fig, axes = figure(1, 2, width=5.0, height=3.6)
    ax = axes[0, 0]
    ax.plot(h["step"], h["mass_first3"][:, k], color=COLORS["generalise"], label="bits 1-3 (the parity)")
    ax.plot(h["step"], h["mass_others"][:, k], color="grey", label="bits 4-30 (distracting)")
    ax.set_yscale("log")
    ax.set_ylabel("sum of |W_in| over neurons and inputs")
    mark_steps(ax, marks)
    ax.legend(fontsize=8)
    ax.set_title("input-weight mass, shown seed", fontsize=9)
    ax = axes[0, 1]
    for j in range(h["first3_fraction"].shape[1]):
        ax.plot(h["step"], h["first3_fraction"][:, j], lw=1,
                color=COLORS["weight"] if j < n_l1 else COLORS["bias"], alpha=1.0 if j == k else 0.5)
    ax.plot([], [], color=COLORS["weight"], label="L1 seeds")
    ax.plot([], [], color=COLORS["bias"], label="L2 seeds")
    ax.axhline(3 / 30, color="grey", ls=":", lw=1, label="3/30: spread evenly")
    ax.set_ylabel("share of |W_in| mass on bits 1-3")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("share on the first 3 bits, every seed", fontsize=9)
    for ax in axes[0]:
        ax.set_xlabel("training step")
    fig.suptitle(title)
    return fig


def figure_rise(h, rises, shown, s):
    """Train and test loss from memorising to past the test loss's steepest fall, for the shown seed and for
    the L1 seed whose train loss climbs back the most, with the train loss's low and its peak after the low."""
    most = int(np.argmax([r["rise_factor"] if r else 0 for r in rises]))
    panels = [shown] if most == shown else [shown, most]
    fig, axes = figure(1, len(panels), width=6.0, height=3.8)
    for ax, k in zip(axes[0], panels):
        rise = rises[k]
        keep = (h["step"] >= rise["memorise_step"]) & (h["step"] <= rise["test_loss_steepest_fall_step"] + 1_000)
        for key in ("train", "test"):
            ax.plot(h["step"][keep], h[f"{key}_loss"][keep, k], color=COLORS[key], label=f"{key} loss")
        ax.set_yscale("log")
        ax.axvline(rise["test_loss_steepest_fall_step"], color="grey", lw=1, ls=":",
                   label="the test loss's steepest fall")
        if rise["rise_factor"] > RISES:
            ax.plot([rise["train_loss_low_step"], rise["train_loss_peak_step"]],
                    [rise["train_loss_low"], rise["train_loss_peak"]], "v", color="black",
                    label=f"train loss: its low, then its peak (x{rise['rise_factor']:.2f})")
        ax.set_xlabel("training step (from the memorising step)")
        ax.set_ylabel("cross-entropy (mean over the set)")
        ax.legend(fontsize=8)
        verdict = "climbs back" if rise["rise_factor"] > RISES else "does not climb back"
        ax.set_title(f"seed {s.seed + k}{' (shown)' if k == shown else ', the largest rise'}: the train loss "
                     f"{verdict}, x{rise['rise_factor']:.2f}", fontsize=9)
    fig.suptitle("Before the test loss falls, does the train loss rise? (L1 seeds)")
    return fig


RISES = 1.05
"""A train loss more than 5% above its lowest value so far counts as rising (smaller moves are float noise)."""


def figure_l1_l2(h, s, l1_k, l2_k):
    """Final W_in of an L1 and an L2 model, and each neuron's size ||W_in row|| ||W_out column||, sorted."""
    fig, axes = figure(1, 3, width=4.6, height=4.6)
    _weights(axes[0, 0], h["W_in_l1"][-1], f"L1 (λ = {s.l1:g}): a few neurons, 3 bits", neuron_order(h, l1_k))
    _weights(axes[0, 1], h["W_in_l2"][-1], f"L2 (AdamW decay {s.l2:g}): every neuron, every bit",
             neuron_order(h, l2_k))
    ax = axes[0, 2]
    for k, label, color in ((l1_k, "L1", COLORS["weight"]), (l2_k, "L2", COLORS["bias"])):
        size = np.sort(h["neuron_size"][-1, k])[::-1]
        ax.plot(np.arange(1, len(size) + 1), size / size.max(), "o-", ms=3, color=color, label=label)
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="live: at least 0.1 of the largest")
    ax.set_yscale("log")
    ax.set_xlabel("neuron (largest first)")
    ax.set_ylabel("||W_in row|| ||W_out column||, relative")
    ax.legend(fontsize=8)
    ax.set_title("neuron sizes at the end", fontsize=9)
    fig.suptitle(f"The same task, seed {s.seed}, after {s.steps:,} steps: L1 against L2")
    return fig


CLASS_STYLE = {"high train loss": "#aaaaaa", "high test loss": "#ffffff", "train and test drop together": "#faec84",
               "grokking": "#7b75c2"}
"""The post's colours: grey, white, yellow, purple."""


def figure_sweep(records, s):
    """As the post draws it: one panel per weight decay; in it hidden size across, train size down, and in
    each cell one dot per seed coloured by the run's class."""
    hidden = sorted(s.sweep_hidden, reverse=True)             # the post puts the largest models on the left
    sizes, decays = sorted(s.sweep_train_size), sorted(s.sweep_weight_decay)
    per_row = int(np.ceil(np.sqrt(s.sweep_seeds)))
    fig, axes = figure(1, len(decays), width=2.6, height=2.8)
    by_point = {(r["settings"]["weight_decay"], r["settings"]["hidden"], r["settings"]["train_size"],
                 r["settings"]["seed"]): r["result"]["class"] for r in records}
    for ax, wd in zip(axes[0], decays):
        for (d, hsize, n, seed), cls in by_point.items():
            if d != wd:
                continue
            x = hidden.index(hsize) + (seed % per_row + 0.5) / per_row - 0.5
            y = sizes.index(n) + (seed // per_row + 0.5) / per_row - 0.5
            ax.scatter(x, y, s=140 / per_row ** 2, color=CLASS_STYLE[cls], edgecolors="#333333", linewidths=0.6)
        ax.set_xticks(range(len(hidden)), [str(v) for v in hidden])
        ax.set_yticks(range(len(sizes)), [str(v) for v in sizes])
        ax.set_xlim(-0.5, len(hidden) - 0.5)
        ax.set_ylim(len(sizes) - 0.5, -0.5)
        for edge in np.arange(0.5, max(len(hidden), len(sizes)) - 0.5):
            ax.axvline(edge, color="#dddddd", lw=0.8)
            ax.axhline(edge, color="#dddddd", lw=0.8)
        ax.set_xlabel("hidden size")
        ax.set_title(f"weight decay {wd:g}", fontsize=9)
    axes[0, 0].set_ylabel("train size")
    for cls, color in CLASS_STYLE.items():
        axes[0, -1].scatter([], [], color=color, edgecolors="#333333", label=cls)
    fig.legend(loc="outside lower center", ncols=4, fontsize=8)
    fig.suptitle(f"{len(records)} runs (AdamW, lr {s.sweep_lr:g}, up to {s.sweep_steps:,} steps), one dot per seed")
    return fig


def figure_seeds(memorised, generalised, s):
    """Each L1 seed's generalising step against its memorising step, with the lines 1x and 3x."""
    fig, axes = figure(1, 1, width=5.0, height=4.0)
    ax = axes[0, 0]
    ok = (memorised > 0) & (generalised > 0)
    late = ok & (generalised >= 3 * memorised)
    for pick, color, label in ((late, COLORS["generalise"], "at 3x or later"), (ok & ~late, "grey", "earlier")):
        ax.scatter(memorised[pick], generalised[pick], color=color, label=f"{pick.sum()} seeds {label}")
    top = max(1, memorised[ok].max(initial=1)) * 1.1
    for ratio, style in ((1, ":"), (3, "--")):
        ax.plot([0, top], [0, ratio * top], style, color="grey", lw=1, label=f"generalise = {ratio} x memorise")
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(generalised[ok].max(initial=1) * 1.1, 1))
    ax.set_xlabel("memorising step (train accuracy 1.0)")
    ax.set_ylabel("generalising step (test accuracy 0.95)")
    ax.legend(fontsize=8)
    ax.set_title(f"{int(late.sum())} of {len(memorised)} L1 seeds generalise at >= 3x their memorising step "
                 f"({int((~ok).sum())} never)", fontsize=9)
    return fig


# %% The whole lesson
def run_sweep(s, out, resume, executor):
    """The grid through toygrad.sweep: groups to `executor`, each finished group appended to sweep.jsonl."""
    results = out / "sweep.jsonl"
    if not resume and results.exists():
        results.unlink()                                   # a fresh run; --resume keeps the finished groups
    points = sweep_points(s)
    started = time.perf_counter()
    before = len(parity_records(results, points))
    records = sweep(parity.train_group, points, group_by=GROUP_BY, results=results, executor=executor,
                    desc=f"sweep, {len(points)} models in groups of {s.sweep_seeds * len(s.sweep_weight_decay)}")
    return records, len(records) - before, time.perf_counter() - started


def parity_records(results, points):
    """The records of `points` already in the results file."""
    wanted = {key(p) for p in points}
    return [r for r in load(results) if key(r["settings"]) in wanted]


def main(s, out, resume=False):
    """Train the main run (L1 and L2 seeds) here while the sweep trains in worker processes; analyse, draw,
    and write out/metrics.json; returns the metrics."""
    if s.full:
        s = replace(s, **FULL)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ExitStack() as stack:
        background = stack.enter_context(ThreadPoolExecutor(max_workers=1))   # waits for the sweep, here
        executor = open_executor(stack, s.scheduler or None, s.workers)        # closed first on an error
        executor.submit(int).result()          # fork the workers now, before this process starts a thread
        swept = background.submit(run_sweep, s, out, resume, executor)
        run = train_main(s, out, resume)
        records, trained, sweep_seconds = swept.result()
        executor.shutdown(wait=True)                       # local workers exit, so their CPU time is counted
    main_done = time.perf_counter()
    h = run.history
    k, l2_k = 0, s.seeds                                   # the shown L1 and L2 instances
    memorised = first_step_reaching(h, "train_acc", 1.0)
    generalised = first_step_reaching(h, "test_acc", 0.95)
    mem, gen = int(memorised[k]), int(generalised[k])
    l1_mem, l1_gen = memorised[:s.seeds], generalised[:s.seeds]
    ratios = np.where((l1_mem > 0) & (l1_gen > 0), l1_gen / np.maximum(l1_mem, 1), np.nan)
    marks = {"memorise": mem if mem >= 0 else None, "generalise": gen if gen >= 0 else None}
    rises = [train_loss_rise(h, j, int(memorised[j])) for j in range(s.seeds)]
    rise = rises[k]

    title = (f"sparse parity (first 3 of 30 bits), {s.n_train:,} training strings, {s.n_hidden} neurons, "
             f"L1 λ = {s.l1:g}, init W_in x{s.init_scale:g} W_out x{s.out_scale:g}, seed {s.seed}")
    seed_history = {key: h[key][:, k] if h[key].ndim == 2 else h[key] for key in
                    ("step", "train_loss", "test_loss", "train_acc", "test_acc")}
    save_figure(training_curves(seed_history, title, marks), out / "curves.png")
    if mem >= 0:
        save_figure(figure_weights(h, mem, "W_in of the shown seed (neurons x inputs)"), out / "weights.png")
    save_figure(figure_mass(h, k, s.seeds, marks, title), out / "mass.png")
    if rise:
        save_figure(figure_rise(h, rises, k, s), out / "train_loss_rise.png")
    save_figure(figure_l1_l2(h, s, k, l2_k), out / "l1_vs_l2.png")
    save_figure(figure_seeds(l1_mem, l1_gen, s), out / "seeds.png")
    save_figure(figure_sweep(records, s), out / "sweep.png")
    counts = class_counts(records, s.sweep_weight_decay)
    cost = full_sweep_cost(s, s.workers) if s.time_full_sweep and not s.full else None

    final = {key: h[key][-1] for key in ("train_acc", "test_acc", "first3_fraction", "live_neurons")}
    at_mem = int(np.searchsorted(h["step"], max(mem, 0)))                    # the log row of the memorising step
    mass = {when: {"bits_1_3": float(h["mass_first3"][row, k]), "bits_4_30": float(h["mass_others"][row, k])}
            for when, row in (("start", 0), ("memorise", at_mem), ("end", -1))}
    metrics = {
        "settings": asdict(s),
        "memorise_step": mem, "generalise_step": gen,
        "generalise_over_memorise": gen / mem if mem > 0 and gen >= 0 else None,
        "test_acc_at_memorise_step": float(h["test_acc"][at_mem, k]) if mem >= 0 else None,
        "final_train_acc": float(final["train_acc"][k]), "final_test_acc": float(final["test_acc"][k]),
        "first3_fraction_final": {"l1": float(final["first3_fraction"][k]),
                                  "l2": float(final["first3_fraction"][l2_k])},
        "live_neurons_final": {"l1": int(final["live_neurons"][k]), "l2": int(final["live_neurons"][l2_k])},
        "input_mass_shown_seed": mass,
        "train_loss_rise": rise,
        "train_loss_rise_factor_per_l1_seed": [r and round(r["rise_factor"], 4) for r in rises],
        "l1_seeds_whose_train_loss_rises": sum(bool(r) and r["rise_factor"] > RISES for r in rises),
        "l1_seeds": {"seeds": [s.seed + j for j in range(s.seeds)], "memorise_steps": l1_mem.tolist(),
                     "generalise_steps": l1_gen.tolist(),
                     "ratios": [None if np.isnan(r) else round(float(r), 3) for r in ratios],
                     "at_least_3x": int(np.nansum(ratios >= 3)), "generalised": int((l1_gen >= 0).sum()),
                     "first3_fraction_final": final["first3_fraction"][:s.seeds].tolist(),
                     "live_neurons_final": final["live_neurons"][:s.seeds].tolist(),
                     "final_test_acc": final["test_acc"][:s.seeds].tolist()},
        "l2_seeds": {"seeds": [s.seed + j for j in range(s.l2_seeds)],
                     "memorise_steps": memorised[s.seeds:].tolist(),
                     "generalise_steps": generalised[s.seeds:].tolist(),
                     "first3_fraction_final": final["first3_fraction"][s.seeds:].tolist(),
                     "live_neurons_final": final["live_neurons"][s.seeds:].tolist(),
                     "final_test_acc": final["test_acc"][s.seeds:].tolist()},
        "sweep": {"models": len(records), "trained_now": trained, "class_counts": counts,
                  "grid": {"weight_decay": list(s.sweep_weight_decay), "hidden": list(s.sweep_hidden),
                           "train_size": list(s.sweep_train_size), "seeds": s.sweep_seeds, "steps": s.sweep_steps},
                  "seconds": sweep_seconds,
                  "models_per_minute": trained / (sweep_seconds / 60) if trained else None,
                  "models_per_minute_note": "wall clock, with the main run training beside the sweep's workers",
                  "models_per_minute_one_process": per_process_rate(records),
                  "full_grid_cost": cost},
        "train_seconds": run.seconds, "main_and_sweep_seconds": main_done - started,
        "wall_seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds(),
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    write_json(out / "metrics.json", metrics)
    report(metrics)
    return metrics


def cpu_seconds():
    """CPU time of this process and of its finished children (the sweep's workers): what the run costs on
    idle cores, whatever else the machine was doing."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"this_process": me.ru_utime + me.ru_stime, "sweep_workers": children.ru_utime + children.ru_stime}


def report(m):
    ratio = m["generalise_over_memorise"]
    print(f"\nmemorised (train acc 1.0) at step {m['memorise_step']:,} with test acc {m['test_acc_at_memorise_step']}; "
          f"generalised (test acc >= 0.95) at step {m['generalise_step']:,}"
          + (f": {ratio:.2f}x later" if ratio else " (not within the run)"))
    seeds = m["l1_seeds"]
    print(f"L1 seeds: {seeds['at_least_3x']} of {len(seeds['seeds'])} generalise at >= 3x their memorising step; "
          f"ratios {seeds['ratios']}")
    print(f"final accuracy: train {m['final_train_acc']:.3f}, test {m['final_test_acc']:.3f}")
    f3, live = m["first3_fraction_final"], m["live_neurons_final"]
    print(f"input-weight mass on the first 3 bits at the end: L1 {f3['l1']:.1%} ({live['l1']} live neurons), "
          f"L2 {f3['l2']:.1%} ({live['l2']} live neurons)")
    if m["train_loss_rise"]:
        r = m["train_loss_rise"]
        print(f"train loss before the test loss's steepest fall (step {r['test_loss_steepest_fall_step']:,}): "
              f"x{r['rise_factor']:.3f} over its low; it rises by more than {RISES - 1:.0%} in "
              f"{m['l1_seeds_whose_train_loss_rises']} of {len(m['l1_seeds']['seeds'])} L1 seeds")
    sw = m["sweep"]
    print(f"sweep, {sw['models']} models: class counts per weight decay")
    for wd, counts in sw["class_counts"].items():
        print(f"  {wd:>5}: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if sw["models_per_minute"]:
        print(f"  {sw['models_per_minute']:.2f} models per minute here (wall clock, beside the main run); "
              f"{sw['models_per_minute_one_process']:.2f} per process on an idle core")
    if sw["full_grid_cost"]:
        c = sw["full_grid_cost"]
        print(f"  the full grid ({c['models']:,} models) would take {c['hours_with_workers']:.1f} h with "
              f"{c['workers']} processes here: {c['models_per_minute']:.2f} models per minute")
    cpu = m["cpu_seconds"]
    print(f"wall time {m['wall_seconds']:.0f} s; CPU time {cpu['this_process']:.0f} s here and "
          f"{cpu['sweep_workers']:.0f} s in the sweep's workers (load average {m['load_average_1min_at_end']:.1f})")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/06_sparse_parity", description=__doc__)
    main(settings, options.out, options.resume)
