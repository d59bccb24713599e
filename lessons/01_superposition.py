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
- dimensionality.png (batch scaled down, see below). Right: dimensions per feature m / ||W||_F² against
  1/(1 - S). It sits at 1, drops to a plateau at 1/2 (0.53 to 0.50 for 1/(1 - S) from 2.2 to 3.3), then falls
  (0.37 at 4.9, 0.14 at 20), as in the paper. Left: the dimensionality D_i of each represented feature
  (||W_i|| > 0.5), the sticky fractions dashed; purple where the feature lies in a small polytope (at most 8
  features linked by |cos| > 0.1, orthogonal to all the others: a factor of the paper's "tegum product"), grey
  where it lies in a larger linked group. At 1.5, 20 features near 2/3 but as one group, not triangles; at
  1.8, 15 antipodal pairs and a group of 3; along the plateau, 19 antipodal pairs (D_i = 1/2, 100% sticky);
  at 4.0, 40 features spread evenly over 18 dimensions (D_i = 18/40 = 0.45) beside 2 pairs. At 4.9 the model
  is a tegum product of 5 factors: a pentagon (2 dimensions, D_i = 0.39), a square antiprism (8 features in 3
  dimensions, D_i = 0.36), and groups of 11, 14 and 15 features spread over 4, 5 and about 6 dimensions.
  From 6.0 on, all the represented features of a model are one group over all 20 dimensions (63 features at
  6.0, 131 at 20), all with about one D_i, m / ||W||_F²: within 0.05 of a sticky fraction 19% at 6.0, 0% from
  7.4 on. Why the sparse end does not stick: see the experiments below.
  metrics.json gives per sparsity the fraction of represented features within 0.05 of a sticky value (94% to
  100% from 1.5 to 4.9) and the fraction in small polytopes. Read the first with care: every D_i from 0.325
  to 0.55 is within 0.05 of 3/8, 2/5 or 1/2, so it is 100% at 4.0 (one group of 40) and 94% at 4.9, where
  25% of the features are in small polytopes.
  Dense (S = 0), with uniform importance, no feature has norm > 0.5: any 20-dimensional subspace serves
  equally well, and the model spreads the 20 dimensions over all 200 features.

Run it
    python lessons/01_superposition.py          # 106 s on 2 quiet cores (the feature-dimensionality sweep
                                                # runs on the second); 176 to 293 s while another job held a
                                                # core, 326 s with other jobs loading both (load 3 to 7)
    python lessons/01_superposition.py --quick  # seconds, for the tests
Figures and metrics.json go to figures/01_superposition/ (--out DIR to change); --resume continues from the
checkpoints in --out.

Scaled down from the paper (and why)
- All three sweeps: 10,000 steps of AdamW, lr 1e-3, weight decay 0.01, as the notebook. The intro and the
  20-feature sweep use its batch of 1,024.
- Feature dimensionality: n = 200, m = 20 and uniform importance as in the paper, 16 sparsities from dense to
  S = 0.95 (the notebook's 20^-(0 .. 1)), one seed each, but a batch of 256 instead of 1,024. A step of this
  sweep costs about 4x as much at 1,024: 70 to 76 ms against 17 to 20 (54 to 67 against 17 to 18 through the
  fused kernel, sp.train_fresh(fused=True)), measured on cores shared with other jobs. That is 9 to 13 minutes
  for the sweep instead of about 3, far over the 5-minute budget; and the experiments below found nothing
  the larger batch changes in what this lesson measures.
- The intro trains 4 seeds per sparsity and shows the one with the lowest loss on 10,000 fresh points; a single
  seed often settles for 4 features in a square where a pentagon is better (the paper's caveat; in a trial
  run with other seeds, 2 of 4 at S = 0.90 did; "seed_losses" in metrics.json shows the spread). The sweep
  of 20 features trains one seed per sparsity: the count of features represented does not need the best one.

Why the sparse end does not stick (experiments run outside this script, one seed each, n = 200, m = 20)
- Not the settings. At 1/(1 - S) = 4, 5.5, 7.5, 10, 14 and 20 we trained with batch 256 and 1,024, weight decay
  0.01 and 0 (at batch 1,024), lr 1e-3, 3e-3 and 3e-4, for 10,000 and 20,000 steps. In every run each model
  from 7.5 on is one linked group holding all its represented features, 0% sticky, and the median D_i agrees
  within 0.015 (0.27, 0.22, 0.19, 0.15 at 7.5, 10, 14, 20). Batch 1,024 with no decay: 0% sticky at 7.5, 10,
  14 and 20. At 5.5 it is one group too, its D_i near 3/8 (76% to 91% "sticky", no antiprism). Weight decay
  0.01 shrinks a weight by 1e-5 a step (lr x decay): with and without it the same groups form and m / ||W||_F²
  agrees within 0.003. What varies from run to run is the middle. At 4: all antipodal pairs (batch 256), 3
  pentagons beside pairs (batch 1,024, with and without decay), a square antiprism (8 features, D_i = 0.37)
  and a pentagon beside pairs (lr 3e-3), 3 pentagons, pairs and a group of 18 (lr 3e-4). This lesson's sweep
  at batch 1,024 (1/(1 - S) = 1.5 to 6) made 5 triangles (D_i ≈ 2/3) at 1.5 where batch 256 made one group of
  20 to 22 features at D_i ≈ 0.65, 2 pentagons beside pairs at 4.0, one group at 4.9; sticky 100% from 1.5
  to 4.0, 95% at 4.9, 12% at 6.0 (19% to 25% at batch 256).
- The linked group is the better minimum. We started models as tegum products of sticky polytopes (pentagons,
  D = 2/5; square antiprisms, 3/8; icosahedra, 1/4), each turned by a random rotation, and trained them at
  batch 1,024 (4,000 to 6,000 steps; losses on 100,000 fresh points). At 1/(1 - S) = 7.5 pentagons and
  antiprisms stay (100% sticky) but end with a higher loss than the group trained from random weights, 6.417
  and 6.420 against 6.337 (+1.3%); at 14 the pentagons keep D_i = 2/5 and the antiprisms merge into one group,
  3.526 and 3.435 against 3.293 (+7% and +4%); icosahedra dissolve into one group at both. At 5.5 the
  pentagons do as well (8.534 against 8.539), yet training from random weights does not find them. So for
  this model and loss the sticky geometries belong to the middle of the sweep: sparser, one arrangement over
  all 20 dimensions, with many small overlaps that a negative bias filters out, costs less than small
  polytopes with their large overlaps (cos 72° = 0.31 in a pentagon), and more of the same training should
  not make the sparse end stick.

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
    dim_sparsest: float = 20.0   # down to S = 0.95, as the notebook: sparser, nothing sticks (see the docstring)
    dim_batch: int = 256         # scaled down from 1,024 to fit the time budget; 1,024 changes nothing we measure
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
    """n = 200, m = 20, uniform importance, from dense to S = 0.95. Runs on the second core (no progress bar)."""
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


SMALL_POLYTOPE = 8      # the largest sticky geometry, the square antiprism: 8 features in 3 dimensions


def polytopes(W, overlap=0.1):
    """Which features of one model share their dimensions: features i and j (represented, ||W_i|| > 0.5) are
    linked when |cos(W_i, W_j)| > overlap, and a polytope is a connected set of links. The paper's sticky
    geometries are small polytopes in orthogonal subspaces (a "tegum product"): many groups of 2, 5 or 8.
    W: (m, n)  ->  a label per feature, (n,) ints (-1 for features not represented), and the group sizes."""
    represented = metrics.feature_norms(W) > 0.5
    unit = W / np.maximum(np.linalg.norm(W, axis=0), 1e-12)
    linked = (np.abs(unit.T @ unit) > overlap) & represented[:, None] & represented[None, :]
    label = np.full(W.shape[1], -1)
    sizes = []
    for i in np.flatnonzero(represented):
        if label[i] >= 0:
            continue
        label[i], frontier = len(sizes), [i]                 # flood fill from feature i
        while frontier:
            reached = np.flatnonzero(linked[frontier].any(axis=0) & (label < 0))
            label[reached] = len(sizes)
            frontier = list(reached)
        sizes.append(int((label == len(sizes)).sum()))
    return label, sizes


def in_small_polytope(W):
    """Per feature: True where it is represented and its polytope has at most SMALL_POLYTOPE features."""
    label, sizes = polytopes(W)
    return (label >= 0) & (np.asarray(sizes + [0])[label] <= SMALL_POLYTOPE)


def per_instance(W, probability):
    """The numbers metrics.json keeps for each instance of a sweep."""
    represented = metrics.feature_norms(W) > 0.5
    D = metrics.feature_dimensionality(W)
    shared = metrics.superposition(W)
    rows = []
    for k in range(len(W)):
        count = int(represented[k].sum())
        sizes = polytopes(W[k])[1]
        rows.append({"sparsity": float(1 - probability[k]),
                     "features_represented": count,
                     "mean_superposition": float(shared[k][represented[k]].mean()) if count else 0.0,
                     "sticky_fraction": float(metrics.sticky_fraction(D[k], among=represented[k])),
                     "dimensions_per_feature": float(W.shape[1] / (W[k] ** 2).sum()),   # m / ||W||_F²
                     "largest_polytope": max(sizes, default=0),
                     "small_polytope_fraction": float(in_small_polytope(W[k]).sum() / count) if count else 0.0})
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
        small = in_small_polytope(W[k])
        large = represented[k] & ~small
        ax.scatter(x[small], D[k][small], s=4, alpha=0.5, color=COLORS["weight"], lw=0,
                   label=f"in a polytope of ≤ {SMALL_POLYTOPE} features" if k == 0 else None)
        ax.scatter(x[large], D[k][large], s=4, alpha=0.5, color="grey", lw=0,
                   label=f"in a larger group (> {SMALL_POLYTOPE})" if k == 0 else None)
    sticky_lines(ax)
    ax.legend(fontsize=7, loc="lower left", markerscale=3)
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
    print("per sparsity 1/(1-S): % of represented features within 0.05 of a sticky D_i, % in small polytopes "
          f"(<= {SMALL_POLYTOPE} features), largest polytope:")
    for r in m["dimensionality"]:
        print(f"  {1 / (1 - r['sparsity']):5.1f}: {r['features_represented']:3d} features, sticky "
              f"{r['sticky_fraction']:4.0%}, in small polytopes {r['small_polytope_fraction']:4.0%}, "
              f"largest {r['largest_polytope']}")
    print(f"sticky fraction, mean over sparsities: {m['dimensionality_sticky_fraction_mean']:.2f}")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/01_superposition", description=__doc__)
    main(settings, options.out, options.resume)
