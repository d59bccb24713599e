"""Lesson 01 — Superposition: more features than dimensions, once the features are sparse.

Replicates Elhage et al. 2022, "Toy Models of Superposition" (sections "Demonstrating superposition" and
"Feature dimensionality"), with the settings of the authors' notebook; see ../shared/SETTINGS.md,
"Superposition". The model is the ReLU-output bottleneck x' = ReLU(WᵀW x + b) (toygrad/superposition.py):
n features through m < n hidden dimensions and back, trained to reconstruct x with importance-weighted
squared error on fresh sparse data. Each sweep trains every sparsity (and seed) at once on the instance axis.

What you will see (numbers from the default run, in metrics.json)
- intro.png (n = 5, m = 2, importance 0.9^i, 10 sparsities, the lowest-loss of 4 seeds each): with dense
  data the model keeps the 2 most important features, orthogonal, and drops the other 3. From S = 0.49 to
  0.81 it stores 4 features as two antipodal pairs; from S = 0.86 on, all 5 as a pentagon.
- sweep.png (n = 20, m = 5, importance 0.9^i): WᵀW with b beside it, and bars of ||W_i|| coloured by
  superposition. Dense: a 5 x 5 identity block (5 features, each orthogonal to the rest, dark bars) and a
  positive b for the dropped ones; sparser: antipodal pairs (the -1 entries beside the diagonal), then most
  features overlapping, with negative b to filter the interference.
  represented.png: the number of features with ||W_i|| > 0.5 against 1/(1 - S): 5 (= m) when dense, 16 of
  20 at S = 0.95.
- dimensionality.png (batch scaled down, see below): each represented feature's dimensionality D_i against
  1/(1 - S), and dimensions per feature m / ||W||_F². The latter sits at 1, drops to a plateau at 1/2
  (1/(1 - S) from about 2 to 4) and then falls, as in the paper. D_i clusters near 2/3 and on 1/2 as the
  plateau starts, all on 1/2 along it, near 2/5 and 3/8 just after it: for 1/(1 - S) from 1.3 to 4.8, 68%
  to 100% of the represented features lie within 0.05 of a sticky fraction. Sparser still, all the features
  of one model share one value below 3/8 (0.3, 0.25, 0.2, ...), none of the paper's sticky fractions (0%):
  whether that comes from the smaller batch, or the paper's sparsest models do the same, this run cannot tell.
  Dense, with uniform importance, no single feature has norm > 0.5: any 20-dimensional subspace serves
  equally well, and the model spreads the 20 dimensions over all 200 features.

Run it
    python lessons/01_superposition.py          # 144 s on 2 quiet cores (the feature-dimensionality sweep
                                                # runs on the second); 293 s while another job held a core
    python lessons/01_superposition.py --quick  # seconds, for the tests
Figures and metrics.json go to figures/01_superposition/ (--out DIR to change); --resume continues from the
checkpoints in --out.

Scaled down from the paper (and why)
- All three sweeps: 10,000 steps of AdamW, lr 1e-3, weight decay 0.01, as the notebook. The intro and the
  20-feature sweep use its batch of 1,024.
- Feature dimensionality: n = 200, m = 20 and uniform importance as in the paper, but a batch of 256 instead
  of 1,024, 16 sparsities down to S = 0.98 (1/(1 - S) = 50), one seed each: the paper's setting would take
  about 20 minutes here. Which sticky values appear, and how many features sit on them, is what a smaller
  batch could change (it adds gradient noise); metrics.json reports the fraction within 0.05 of a sticky value.
- The intro trains 4 seeds per sparsity and shows the one with the lowest loss on 10,000 fresh points; a single
  seed often settles for 4 features in a square where a pentagon is better (the paper's caveat; in a trial
  run with other seeds, 2 of 4 at S = 0.90 did; "seed_losses" in metrics.json shows the spread). The sweep
  of 20 features trains one seed per sparsity: the count of features represented does not need the best one.

Learning objectives
- See superposition: a model representing more features than it has dimensions, and the price (interference).
- Tie it to sparsity: interference only costs when two features are active together.
- Measure it: superposition per feature, feature dimensionality D_i, and its sticky geometric values.
"""
# %% Imports
import time
from dataclasses import asdict, dataclass

import numpy as np

from toygrad import cli, metrics
from toygrad import superposition as sp
from toygrad.datasets import sparse_batch
from toygrad.files import save_figure, write_json
from toygrad.parallel import beside
from toygrad.plots import COLORS, figure
from toygrad.plots_superposition import (features_in_plane, gram_and_bias, norm_bars, sticky_lines,
                                         superposition_colorbar)


# %% Settings: the paper's and the notebook's, each with its reason
@dataclass
class Settings:
    steps: int = 10_000          # the notebook's run length, for every sweep here
    batch: int = 1024            # the notebook's batch: fresh points every step
    lr: float = 1e-3             # AdamW, constant lr ...
    weight_decay: float = 0.01   # ... and PyTorch's default decay, as SETTINGS.md records
    sparsities: int = 10         # instances from dense to sparse: feature probability 20^-(0 .. 1)
    sparsest: float = 20.0       # the notebook's lowest feature probability, 1/20 (S = 0.95)
    intro_features: int = 5      # the intro figure: 5 features ...
    intro_hidden: int = 2        # ... in a plane, so we can look at them
    intro_decay: float = 0.9     # importance 0.9^i: feature 0 matters most
    intro_seeds: int = 4         # per sparsity; the lowest-loss seed is shown (a pentagon beats a square)
    eval_points: int = 10_000    # fresh points on which the seeds' losses are compared
    sweep_features: int = 20     # Hobbhahn's sweep: 20 features ...
    sweep_hidden: int = 5        # ... in 5 dimensions
    sweep_decay: float = 0.9     # importance 0.9^i, as the intro (and the README's example)
    dim_features: int = 200      # feature dimensionality: the paper's n = 200 ...
    dim_hidden: int = 20         # ... and m = 20, uniform importance
    dim_sparsities: int = 16     # points along 1/(1 - S)
    dim_sparsest: float = 50.0   # down to S = 0.98: past the plateaus, where D_i falls below 1/4
    dim_batch: int = 256         # scaled down from 1,024 to fit the time budget (see the docstring)
    dim_steps: int = 10_000      # the paper's length
    seed: int = 0                # every sweep draws from its own generator seeded from this


QUICK = dict(steps=1_000, batch=512, lr=1e-2, intro_seeds=3, eval_points=2_000, sweep_features=12, sweep_hidden=3,
             sparsities=6, dim_features=30, dim_hidden=5, dim_sparsities=6, dim_batch=128, dim_steps=1_000)


# %% Data and training: one sweep of sparsities (times seeds) on the instance axis
def train_sweep(s, n, m, probability, importance, rng, steps, batch, checkpoint, resume, desc):
    """Train len(probability) models at once on fresh sparse batches; returns W: (I, m, n), b: (I, n)."""
    params = sp.init_params(rng, len(probability), n, m)
    sp.train_fresh(params, probability, rng, importance=importance, steps=steps, batch=batch, lr=s.lr,
                   weight_decay=s.weight_decay, checkpoint=checkpoint, resume=resume, desc=desc)
    return params


def train_intro(s, out, resume):
    """n = 5, m = 2: each sparsity with intro_seeds seeds (seed fastest); keep the lowest loss per sparsity."""
    rng = np.random.default_rng([s.seed, 1])
    probability = np.repeat(sp.sparsity_sweep(s.sparsities, s.sparsest), s.intro_seeds)
    importance = sp.importance(s.intro_features, "geometric", s.intro_decay)
    params = train_sweep(s, s.intro_features, s.intro_hidden, probability, importance, rng, s.steps, s.batch,
                         out / "intro.ckpt.npz", resume, "intro: 5 features in 2 dims")
    x = sparse_batch(np.random.default_rng([s.seed, 4]), probability, s.eval_points, s.intro_features)
    loss = sp.loss_value(params, x, importance.astype(x.dtype))
    best = sp.best_seed(loss, s.intro_seeds)
    return {"W": params["W"].data[best], "b": params["b"].data[best], "probability": probability[best],
            "loss": loss[best], "all_losses": loss.reshape(-1, s.intro_seeds)}


def train_feature_sweep(s, out, resume):
    """n = 20, m = 5, one seed per sparsity."""
    rng = np.random.default_rng([s.seed, 2])
    probability = sp.sparsity_sweep(s.sparsities, s.sparsest)
    importance = sp.importance(s.sweep_features, "geometric", s.sweep_decay)
    params = train_sweep(s, s.sweep_features, s.sweep_hidden, probability, importance, rng, s.steps, s.batch,
                         out / "sweep.ckpt.npz", resume, f"sweep: {s.sweep_features} features in {s.sweep_hidden} dims")
    return {"W": params["W"].data, "b": params["b"].data, "probability": probability}


def train_dimensionality(s, out, resume):
    """n = 200, m = 20, uniform importance, from dense to S = 0.99. Runs on the second core (no progress bar)."""
    rng = np.random.default_rng([s.seed, 3])
    probability = sp.sparsity_sweep(s.dim_sparsities, s.dim_sparsest)
    params = sp.init_params(rng, len(probability), s.dim_features, s.dim_hidden)
    sp.train_fresh(params, probability, rng, steps=s.dim_steps, batch=s.dim_batch, lr=s.lr,
                   weight_decay=s.weight_decay, checkpoint=out / "dimensionality.ckpt.npz", resume=resume,
                   progress=False)
    return {"W": params["W"].data, "b": params["b"].data, "probability": probability}


# %% Analysis
def geometry(W, tol=0.06):
    """Name the arrangement of one model's represented features (||W_i|| > 0.5) from their dimensionalities:
    k features with D = 1 are "k orthogonal", D = 1/2 "k/2 antipodal pairs", 5 with D = 2/5 a "pentagon"."""
    represented = metrics.feature_norms(W) > 0.5
    D = metrics.feature_dimensionality(W)[represented]
    k = int(represented.sum())
    if k and np.all(np.abs(D - 1) < tol):
        return f"{k} orthogonal"
    if k and k % 2 == 0 and np.all(np.abs(D - 0.5) < tol):
        return f"{k // 2} antipodal pairs"
    if k == 5 and np.all(np.abs(D - 0.4) < tol):
        return "pentagon"
    return "other"


def per_instance(W, probability):
    """The numbers metrics.json keeps for each instance of a sweep."""
    represented = metrics.feature_norms(W) > 0.5
    D = metrics.feature_dimensionality(W)
    shared = metrics.superposition(W)
    rows = []
    for k in range(len(W)):
        rows.append({"sparsity": float(1 - probability[k]),
                     "features_represented": int(represented[k].sum()),
                     "mean_superposition": float(shared[k][represented[k]].mean()) if represented[k].any() else 0.0,
                     "sticky_fraction": float(metrics.sticky_fraction(D[k], among=represented[k])),
                     "dimensions_per_feature": float(W.shape[1] / (W[k] ** 2).sum())})   # m / ||W||_F²
    return rows


# %% Figures
def figure_intro(intro, s):
    I = len(intro["W"])
    fig, axes = figure(1, I, width=1.9, height=2.2)
    limit = 1.25 * np.abs(intro["W"]).max()
    for k, ax in enumerate(axes[0]):
        S = 1 - intro["probability"][k]
        features_in_plane(ax, intro["W"][k], f"S = {S:.2f}\n{geometry(intro['W'][k])}", limit=limit)
    fig.suptitle(f"{s.intro_features} features in {s.intro_hidden} dimensions, dense (left) to sparse (right): "
                 f"columns of W, coloured by importance 0.9^i (dark = most important); lowest loss of "
                 f"{s.intro_seeds} seeds each", fontsize=10)
    return fig


def figure_sweep(sweep, s):
    """Per instance: WᵀW with b beside it (top), bars of ||W_i|| coloured by superposition (bottom)."""
    I = len(sweep["W"])
    fig = figure(1, 1, width=1.7 * I, height=4.4)[0]
    fig.clear()
    grid = fig.add_gridspec(2, 2 * I, width_ratios=[12, 1] * I, height_ratios=[1, 1.1])
    bars = []
    for k in range(I):
        S = 1 - sweep["probability"][k]
        gram_and_bias(fig.add_subplot(grid[0, 2 * k]), fig.add_subplot(grid[0, 2 * k + 1]), sweep["W"][k],
                      sweep["b"][k], f"S = {S:.2f}: WᵀW")
        ax = fig.add_subplot(grid[1, 2 * k:2 * k + 2])
        norm_bars(ax, sweep["W"][k], f"{metrics.features_represented(sweep['W'][k])} features > 0.5")
        ax.set_xlabel("||W_i||", fontsize=8)
        bars.append(ax)
    superposition_colorbar(fig, bars)
    fig.suptitle(f"{s.sweep_features} features in {s.sweep_hidden} dimensions, importance 0.9^i (feature 0 at top "
                 f"left), dense to sparse. Red/blue: + / − (b on the same scale)", fontsize=10)
    return fig


def figure_represented(rows, s):
    fig, axes = figure(1, 1, width=5.5, height=3.5)
    ax = axes[0, 0]
    density = [1 / (1 - r["sparsity"]) for r in rows]
    ax.plot(density, [r["features_represented"] for r in rows], "o-", color=COLORS["weight"])
    ax.axhline(s.sweep_hidden, color="grey", ls="--", lw=1, label=f"m = {s.sweep_hidden} dimensions")
    ax.axhline(s.sweep_features, color="grey", ls=":", lw=1, label=f"n = {s.sweep_features} features")
    ax.set_xscale("log")
    ax.set_xlabel("1 / (1 − S)  (= 1 / feature probability)")
    ax.set_ylabel("features with ||W_i|| > 0.5")
    ax.set_ylim(0, s.sweep_features + 1)
    ax.legend(fontsize=8)
    ax.set_title("Sparser features: more of them fit in the same dimensions", fontsize=10)
    return fig


def figure_dimensionality(dim, s):
    W, probability = dim["W"], dim["probability"]
    fig, axes = figure(1, 2, width=5.2, height=3.8)
    ax = axes[0, 0]
    D = metrics.feature_dimensionality(W)
    represented = metrics.feature_norms(W) > 0.5
    jitter = np.random.default_rng(0).uniform(-0.04, 0.04, D.shape)      # spread the dots of one instance
    density = 1 / probability
    for k in range(len(W)):
        x = density[k] * np.exp(jitter[k])
        ax.scatter(x[represented[k]], D[k][represented[k]], s=4, alpha=0.5, color=COLORS["weight"], lw=0)
    sticky_lines(ax)
    ax.set_xscale("log")
    ax.tick_params(axis="x", which="minor", labelbottom=False)
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlabel("1 / (1 − S)")
    ax.set_ylabel("feature dimensionality D_i")
    ax.set_title("D_i of each represented feature (||W_i|| > 0.5)", fontsize=9)
    ax = axes[0, 1]
    ax.plot(density, s.dim_hidden / (W ** 2).sum(axis=(1, 2)), "o-", color=COLORS["weight"])
    sticky_lines(ax, (1.0, 0.5))
    ax.set_xscale("log")
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("1 / (1 − S)")
    ax.set_ylabel("m / ||W||_F²  (dimensions per feature)")
    ax.set_title("Dimensions per feature: sticks at 1, then at 1/2", fontsize=9)
    fig.suptitle(f"Feature dimensionality, n = {s.dim_features}, m = {s.dim_hidden}, uniform importance "
                 f"(batch {s.dim_batch}, scaled down from 1,024)", fontsize=10)
    return fig


# %% The whole lesson
def main(s, out, resume=False):
    """Train the three sweeps, draw them, write out/metrics.json; returns the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    side = beside(train_dimensionality, s, out, resume)      # the longest sweep, on the second core
    intro = train_intro(s, out, resume)
    sweep = train_feature_sweep(s, out, resume)
    save_figure(figure_intro(intro, s), out / "intro.png")
    save_figure(figure_sweep(sweep, s), out / "sweep.png")
    sweep_rows = per_instance(sweep["W"], sweep["probability"])
    save_figure(figure_represented(sweep_rows, s), out / "represented.png")
    dim = side.result()
    save_figure(figure_dimensionality(dim, s), out / "dimensionality.png")

    intro_rows = per_instance(intro["W"], intro["probability"])
    for row, W, loss, losses in zip(intro_rows, intro["W"], intro["loss"], intro["all_losses"]):
        row.update(geometry=geometry(W), loss=float(loss), seed_losses=losses.tolist())
    dim_rows = per_instance(dim["W"], dim["probability"])
    metrics_ = {
        "settings": asdict(s),
        "intro": intro_rows,
        "sweep": sweep_rows,
        "dimensionality": dim_rows,
        "sweep_features_represented_dense": sweep_rows[0]["features_represented"],
        "sweep_features_represented_sparse": sweep_rows[-1]["features_represented"],
        "dimensionality_sticky_fraction_mean": float(np.mean([r["sticky_fraction"] for r in dim_rows])),
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "metrics.json", metrics_)
    report(metrics_)
    return metrics_


def report(m):
    print("\nintro (5 features in 2 dimensions), the lowest-loss seed per sparsity:")
    for r in m["intro"]:
        print(f"  S = {r['sparsity']:.2f}: {r['features_represented']} features represented, {r['geometry']}")
    counts = [r["features_represented"] for r in m["sweep"]]
    print(f"sweep: features represented, dense -> sparse: {counts} (m = {m['settings']['sweep_hidden']}, "
          f"n = {m['settings']['sweep_features']})")
    dims = ", ".join(f"{1 / (1 - r['sparsity']):.1f}: {r['dimensions_per_feature']:.2f}" for r in m["dimensionality"])
    print(f"dimensions per feature m/||W||_F² at 1/(1-S) = {dims}")
    print(f"fraction of represented features within 0.05 of a sticky dimensionality, mean over sparsities: "
          f"{m['dimensionality_sticky_fraction_mean']:.2f}")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/01_superposition", description=__doc__)
    main(settings, options.out, options.resume)
