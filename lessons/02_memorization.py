"""Lesson 02 — Memorization and double descent: a bottleneck stores data points, then learns features instead.

Replicates Henighan et al. 2023, "Superposition, Memorization, and Double Descent", at Hobbhahn's scale
(n = 1,000 features, S = 0.99; the paper used n = 10,000, S = 0.999), and the bottleneck part of Hobbhahn 2023,
"More findings on memorization and double descent"; see ../shared/SETTINGS.md. The model is lesson 01's
ReLU-output bottleneck x' = ReLU(WᵀW x + b) with m = 2, but trained on a FIXED set of T sparse points (each
rescaled to unit norm) instead of fresh data, full batch, for every training-set size T.

What you will see (numbers from the default run, in metrics.json)
- features_and_data.png: for small T, the hidden vectors h_t = W x_t of the T training points form a regular
  T-gon: data dimensionality m/T (T = 3: 0.674, x T/m = 1.01; T = 5: 0.400; T = 6: 0.334), train loss ~0,
  and the features (columns of W) are a mess. For large T the hidden vectors are a mess and a few features
  stand out of the crowd of small ones: at T = 2,000 exactly 5 have ||W_i|| > 0.5, and they form a regular
  pentagon (angles between neighbours 71 to 73 degrees, "feature_angle_gaps" in metrics.json). Their
  dimensionality is below the pentagon's 2/5 (norm-weighted mean 0.22) because the 995 small features also
  lie along them. At T = 1,000 6 features: the pentagon, with two features sharing one corner.
- loss.png: train loss is ~0 up to T = 6 (2 dimensions store 6 points), then rises towards the 1.0 of
  predicting x' = 0. Test loss (10,000 fresh points) is about 1.0 up to T = 100, rises to a peak of 1.26 at
  T = 200, and falls to 0.99 from T = 1,000 on, below the loss of predicting 0: double descent. (T = 3 is
  also high, 1.04: a model that memorises three points in large weights misfires on new ones.)
- dimensionality.png: data dimensionality falls as m/T, feature dimensionality rises after the transition;
  they cross at T ≈ 220, next to the test-loss peak at T = 200.
- norms.png: ||W|| peaks at T = 200 (16.9) and ||b|| at T = 50 (18.1); both collapse to ~2.5 and < 1 once
  the model stores features.
- Where the peak sits: T = 200 with n = 1,000, S = 0.99, inside ARENA's shaded transition (T ≈ 141 to 707)
  and about 10x earlier than the paper's transition (T ≈ 700 to 5,000 for n = 10,000, S = 0.999), as
  Hobbhahn found. In Jermyn's terms the peak sits at T(1 - S) = 2 expected occurrences of each feature, and
  the model stores features once T(1 - S) ≈ 10 (T = 1,000).
- grid.png: test loss over hidden size m x T, one seed per cell and 2,000 steps. The bump beyond the
  memorising end moves to larger T as m grows (m = 2: T = 200; m = 3: 500; m = 4: 500-1,000; m = 6: 1,000),
  as in the paper. Only partly reproduced: the bumps are 1-2% of the loss, a single seed is noisy, and the
  first columns (T = 5, 10) are high too; see "peak_T_per_m" and "peak_T_per_m_beyond_T_10" in metrics.json.
- limits.png: how much survives the bottleneck (Hobbhahn's "limits of reconstruction"): log-loss and the
  accuracy of argmax(x') on one-hot inputs over n x m, for noisy sparse inputs (S = 0.9) with decreasing and
  with uniform importance, and for the noiseless one-hot inputs themselves. With one-hot inputs the model
  recovers every input with few dimensions (n = 20 needs m = 3, n = 50 m = 5, n = 200 m = 8; m = 5 recovers
  82% of 200); trained on noisy sparse inputs the same bottleneck recovers far fewer (n = 200, m = 13: 30%
  with uniform importance, 22% with decreasing importance, which gives up the unimportant features first).

Run it
    python lessons/02_memorization.py           # about 4 minutes on 2 cores (212 to 252 s measured, while
                                                # another job held one of them)
    python lessons/02_memorization.py --quick   # seconds, for the tests (n = 200, S = 0.95, T up to 300)
Figures and metrics.json go to figures/02_memorization/ (--out DIR to change).

Scaled down (and why)
- 5,000 full-batch steps per T instead of the paper's 50,000 (ARENA used 15,000), 3 seeds per T, to finish in
  under 5 minutes. That is enough for the two geometries: exact T-gons at small T, a regular pentagon at
  T = 2,000. A trial with 15,000 steps (ARENA's length; --steps 15000) at T = 2,000, one seed, found the same
  pentagon and test loss 0.989 (0.989 here).
- The m x T grid uses m up to 6 (the paper: ~16), 7 values of T, one seed and 2,000 steps; the limits grids
  use 1,500 steps on fresh batches of 256.
- Training uses superposition.reconstruction_loss: the same loss and gradients as relu(tied(x, W, b)) with mse
  (tests/test_superposition.py checks they agree), fused into one numba pass per point. At n = 1,000 the ops
  spend their time making passes over the (seeds, T, n) outputs; the fused pass is about 3.5x faster here.
  The m x T and limits grids train every m at once on the instance axis: W is stored with max(m) rows and
  instance i reads only its first m_i (reconstruction_loss's `rank`).

Learning objectives
- See memorisation as a geometry: a bottleneck that stores T data points as a T-gon, or features as a pentagon.
- See double descent come from the switch between the two, and measure it with data vs feature dimensionality.
"""
# %% Imports
import time
from dataclasses import asdict, dataclass

import numpy as np

import toygrad as tg
from toygrad import cli, metrics
from toygrad import superposition as sp
from toygrad.datasets import SparseBatches, fixed_sparse_dataset, one_hot, sparse_batch
from toygrad.files import save_figure, write_json
from toygrad.parallel import beside
from toygrad.plots import COLORS, figure
from toygrad.plots_superposition import DIMENSIONALITY_COLORS, features_in_plane, points_in_plane
from toygrad.train import fit


# %% Settings: Henighan's and Hobbhahn's, each with its reason
@dataclass
class Settings:
    n_features: int = 1000       # Hobbhahn's scale (the paper: 10,000)
    n_hidden: int = 2            # a plane, so we can look at the data points and features
    sparsity: float = 0.99       # Hobbhahn's (the paper: 0.999); ~10 features present per point
    sizes: tuple[int, ...] = (3, 5, 6, 8, 10, 15, 30, 50, 100, 200, 500, 1000, 2000)   # the training-set sizes T
    seeds: int = 3               # per T, on the instance axis; the lowest training loss is kept
    steps: int = 5_000           # full-batch steps (the paper 50,000, ARENA 15,000): scaled to the time budget
    lr: float = 1e-3             # AdamW, warmed up linearly over the first 5% of steps, then cosine decay to 0
    warmup: float = 0.05
    weight_decay: float = 1e-2   # the paper's (Jermyn: decay does not move the transition)
    test_points: int = 10_000    # fresh points from the same distribution: the bump is a few percent of the loss
    shown_sizes: tuple[int, ...] = (3, 5, 8, 15, 50, 200, 1000, 2000)   # the row of features_and_data.png
    grid_hidden: tuple[int, ...] = (1, 2, 3, 4, 6)                # the m axis of the m x T grid (paper: to ~16)
    grid_sizes: tuple[int, ...] = (5, 10, 30, 100, 200, 500, 1000)   # its T axis, dense where m = 2 peaks
    grid_steps: int = 2_000      # one seed per cell: a coarser picture than the T sweep
    limit_features: tuple[int, ...] = (5, 10, 20, 50, 100, 200)  # the n axis of the limits of reconstruction
    limit_hidden: tuple[int, ...] = (1, 2, 3, 5, 8, 13)          # ... and its m axis
    limit_sparsity: float = 0.9  # the noisy inputs' sparsity in the limits grids
    limit_steps: int = 1_500     # fresh batches of 256 each step, or the n one-hot vectors (full batch)
    seed: int = 0                # every experiment draws from its own generator seeded from this


QUICK = dict(n_features=200, sparsity=0.95, sizes=(3, 5, 10, 30, 100, 300), seeds=2, steps=1_500, lr=3e-3,
             test_points=500, shown_sizes=(3, 5, 30, 300), grid_hidden=(1, 2, 4), grid_sizes=(5, 30, 300),
             grid_steps=400, limit_features=(5, 20, 50), limit_hidden=(1, 2, 5), limit_steps=300)


# %% Training on a fixed dataset: the seeds of one T on the instance axis
def train_size(s, T, progress=False):
    """Train s.seeds models on T points each (each seed its own points and initialisation); returns the
    trained weights and data of every seed, and its final train and test loss."""
    rng = np.random.default_rng([s.seed, T])
    p = np.full(s.seeds, 1 - s.sparsity)
    x_train = fixed_sparse_dataset(rng, p, T, s.n_features)                      # (K, T, n), unit-norm rows
    x_test = fixed_sparse_dataset(rng, p, s.test_points, s.n_features)
    params = sp.init_params(rng, s.seeds, s.n_features, s.n_hidden)
    run = sp.train_fixed(params, x_train, steps=s.steps, lr=s.lr, weight_decay=s.weight_decay, warmup=s.warmup,
                         progress=progress, desc=f"T = {T}")
    return {"T": T, "W": params["W"].data, "b": params["b"].data, "x_train": x_train,
            "train_loss": sp.loss_value(params, x_train), "test_loss": sp.loss_value(params, x_test),
            "seconds": run.seconds}


def train_sizes(s, sizes, progress=False):
    return [train_size(s, T, progress) for T in sizes]


def split_work(sizes, share=0.75):
    """The largest sizes, holding about `share` of the total T, for this core; the rest for the other, which
    also trains the m x T grid and the limits grids (the cost of a step is proportional to T)."""
    here = []
    for T in sorted(sizes, reverse=True):
        if sum(here) < share * sum(sizes):
            here.append(T)
    return sorted(here), sorted(set(sizes) - set(here))


# %% Analysis: keep the lowest training loss of each T; dimensionalities and norms
def summarise(result):
    """The best seed of one T and the numbers metrics.json keeps for it."""
    k = int(np.argmin(result["train_loss"]))
    W, b, x = result["W"][k], result["b"][k], result["x_train"][k]
    h = sp.hidden(W, x)                                                          # (T, m)
    return {"T": result["T"], "seed": k, "W": W, "b": b, "h": h,
            "train_loss": float(result["train_loss"][k]), "test_loss": float(result["test_loss"][k]),
            "data_dimensionality": weighted_mean(metrics.data_dimensionality(h), (h ** 2).sum(axis=1)),
            "feature_dimensionality": weighted_mean(metrics.feature_dimensionality(W), (W ** 2).sum(axis=0)),
            "data_dimensionality_plain_mean": float(metrics.data_dimensionality(h).mean()),
            "feature_dimensionality_plain_mean": float(metrics.feature_dimensionality(W).mean()),
            "W_norm": float(np.linalg.norm(W)), "b_norm": float(np.linalg.norm(b)),
            "features_represented": int(metrics.features_represented(W)),
            "feature_angle_gaps": angle_gaps(W),
            "seed_train_losses": result["train_loss"].tolist()}


def angle_gaps(W, threshold=0.5, most=12):
    """In the plane (m = 2): the angles in degrees between neighbouring represented features (||W_i|| > 0.5)
    going round the origin; k features on a regular k-gon give k gaps of 360/k (72 for a pentagon).
    None when more than `most` features are represented (then it is no polygon)."""
    big = np.flatnonzero(metrics.feature_norms(W) > threshold)
    if W.shape[0] != 2 or not 0 < len(big) <= most:
        return None
    angles = np.sort(np.degrees(np.arctan2(W[1, big], W[0, big]).astype(np.float64)))
    return np.round(np.diff(np.append(angles, angles[0] + 360)), 1).tolist()


def peaks_beyond(test, sizes, smallest):
    """Per row (one m) of the grid, the T > smallest of the highest test loss: the bump between memorising
    and generalising. The first columns are left out because a model that memorises a handful of points has
    a high test loss too (T = 3 in the sweep), which is not the bump."""
    keep = np.flatnonzero(np.asarray(sizes) > smallest)
    return [int(sizes[keep[i]]) for i in test[:, keep].argmax(axis=1)]


def weighted_mean(D, weight):
    """sum_i w_i D_i / sum_i w_i with w_i = ||v_i||²: the dimensionality of the vectors that carry the norm.
    Of 1,000 features only a few are large; the plain mean is dominated by the ~0 of the tiny ones."""
    return float((D * weight).sum() / weight.sum()) if weight.sum() > 0 else 0.0


def crossing(sizes, a, b):
    """The T at which curve a - b changes sign first, interpolated on log T; None if it never does."""
    diff = np.asarray(a) - np.asarray(b)
    for i in range(len(diff) - 1):
        if diff[i] == 0:
            return float(sizes[i])
        if diff[i] * diff[i + 1] < 0:
            f = diff[i] / (diff[i] - diff[i + 1])
            return float(np.exp(np.log(sizes[i]) + f * (np.log(sizes[i + 1]) - np.log(sizes[i]))))
    return None


# %% The m x T grid: each T trains every m at once on the instance axis
def params_of_ranks(rng, ms, n):
    """One model per hidden size m_i, stored as W: (I, max m, n) with the rows from m_i on zero (Xavier-normal
    for an (m_i, n) weight above them), b: (I, n) zeros. Train with reconstruction_loss(..., rank=ms): the
    zero rows get no gradient and stay zero, so instance i is exactly a model with m_i hidden dimensions."""
    m_max = int(max(ms))
    W = np.zeros((len(ms), m_max, n), np.float32)
    for i, m in enumerate(ms):
        W[i, :m] = tg.init.xavier_normal((m, n), rng)
    return {"W": tg.Tensor(W, requires_grad=True), "b": tg.parameter("zeros", (len(ms), n), rng)}


def train_grid(s, progress=False):
    """Test loss (len(grid_hidden), len(grid_sizes)): for each T, every m trains at once, one seed each."""
    ms = np.asarray(s.grid_hidden)
    test = np.zeros((len(ms), len(s.grid_sizes)))
    for col, T in enumerate(s.grid_sizes):
        rng = np.random.default_rng([s.seed, T, 1])
        p = np.full(len(ms), 1 - s.sparsity)
        x_train = fixed_sparse_dataset(rng, p, T, s.n_features)
        x_test = fixed_sparse_dataset(rng, p, s.test_points, s.n_features)
        params = params_of_ranks(rng, ms, s.n_features)
        optimizer = tg.AdamW(params.values(), lr=s.lr, weight_decay=s.weight_decay,
                             schedule=tg.schedule("warmup_cosine", total_steps=s.grid_steps, warmup=s.warmup))
        fit(lambda step: sp.reconstruction_loss(x_train, params["W"], params["b"], rank=ms), params, optimizer,
            s.grid_steps, log_every=s.grid_steps, progress=progress, desc=f"m x T grid, T = {T}")
        test[:, col] = sp.loss_value(params, x_test)
    return test


# %% Limits of reconstruction (Hobbhahn): how much of x survives the bottleneck, over n x m
def one_hot_accuracy(W, b):
    """The fraction of one-hot inputs e_i whose reconstruction ReLU(WᵀW e_i + b) has its largest entry at i,
    per instance. W: (I, m, n) -> (I,)"""
    n = W.shape[-1]
    out = np.maximum(np.swapaxes(W, -1, -2) @ W + b[:, None, :], 0)         # row i: the output for e_i
    return (out.argmax(axis=-1) == np.arange(n)).mean(axis=-1)


def train_limits(s, kind):
    """Log10 loss and one-hot accuracy over (limit_features x limit_hidden) for one kind of input:
    "decreasing" (sparse, importance 100^(-i/(n-1))), "uniform" (sparse, uniform importance), both on fresh
    batches of 256, or "one_hot" (the n one-hot vectors, full batch). Every m trains at once, as in the grid."""
    ms = np.asarray(s.limit_hidden)
    log_loss = np.zeros((len(s.limit_features), len(ms)))
    accuracy = np.zeros_like(log_loss)
    for row, n in enumerate(s.limit_features):
        rng = np.random.default_rng([s.seed, n, 2])
        weight = sp.importance(n, "log" if kind == "decreasing" else "uniform").astype(np.float32)
        params = params_of_ranks(rng, ms, n)
        optimizer = tg.AdamW(params.values(), lr=s.lr, weight_decay=s.weight_decay)
        p = np.full(len(ms), 1 - s.limit_sparsity)
        data = (lambda step: one_hot(n, len(ms))) if kind == "one_hot" else SparseBatches(rng, p, 256, n)
        fit(lambda step: sp.reconstruction_loss(data(step), params["W"], params["b"], weight, rank=ms), params,
            optimizer, s.limit_steps, log_every=s.limit_steps, progress=False)
        x_eval = one_hot(n, len(ms)) if kind == "one_hot" else sparse_batch(rng, p, 2_000, n)
        log_loss[row] = np.log10(sp.loss_value(params, x_eval, weight))
        accuracy[row] = one_hot_accuracy(params["W"].data, params["b"].data)
    return log_loss, accuracy


def side_experiments(s, sizes):
    """The second core's share: the smaller T of the sweep, the m x T grid and the limits of reconstruction."""
    results = train_sizes(s, sizes)
    grid = train_grid(s)
    limits = {kind: train_limits(s, kind) for kind in ("decreasing", "uniform", "one_hot")}
    return results, grid, limits


# %% Figures
def figure_features_and_data(rows, s):
    shown = [r for r in rows if r["T"] in s.shown_sizes]
    fig, axes = figure(2, len(shown), width=2.0, height=2.1)
    for col, r in enumerate(shown):
        features_in_plane(axes[0, col], r["W"], f"T = {r['T']}: features\nD_feat = {r['feature_dimensionality']:.2f}",
                          labels=False)
        points_in_plane(axes[1, col], r["h"], f"hidden vectors h_t = W x_t\nD_data = {r['data_dimensionality']:.2f}")
    axes[0, 0].set_ylabel("columns W_i of W", fontsize=8)
    axes[1, 0].set_ylabel("training points", fontsize=8)
    fig.suptitle(f"n = {s.n_features}, m = {s.n_hidden}, S = {s.sparsity}: small T stores the data points "
                 f"(a T-gon), large T stores features (a pentagon). Best of {s.seeds} seeds, {s.steps:,} steps",
                 fontsize=10)
    return fig


def _against_T(ax, sizes, ylabel):
    ax.set_xscale("log")
    ax.set_xlabel("training-set size T")
    ax.set_ylabel(ylabel)


def figure_loss(rows, peak, s):
    """Train and test loss against T on log axes; beside it the test loss alone on a linear axis, where the
    bump (a few percent above the loss of predicting 0, which is 1 for unit-norm points) can be seen."""
    fig, axes = figure(1, 2, width=5.2, height=3.8)
    sizes = [r["T"] for r in rows]
    ax = axes[0, 0]
    for key in ("train", "test"):
        ax.plot(sizes, [max(r[f"{key}_loss"], 1e-6) for r in rows], "o-", color=COLORS[key],
                label=f"{key} loss" + (" (clipped at 1e-6)" if key == "train" else ""))
    _against_T(ax, sizes, "loss  (1/T) Σ_t ||x_t − x'_t||²")
    ax.set_yscale("log")
    ax = axes[0, 1]
    ax.plot(sizes, [r["test_loss"] for r in rows], "o-", color=COLORS["test"], label="test loss")
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="predicting x' = 0")
    _against_T(ax, sizes, "test loss (linear axis)")
    for ax in axes[0]:
        ax.axvline(peak, color="grey", ls="--", lw=1, label=f"test-loss peak, T = {peak}")
        ax.legend(fontsize=8)
    fig.suptitle(f"Double descent in T: n = {s.n_features}, m = {s.n_hidden}, S = {s.sparsity}, best of {s.seeds} "
                 f"seeds, {s.steps:,} steps", fontsize=10)
    return fig


def figure_dimensionality(rows, cross, s):
    fig, axes = figure(1, 1, width=6, height=4)
    ax = axes[0, 0]
    sizes = [r["T"] for r in rows]
    ax.plot(sizes, [r["data_dimensionality"] for r in rows], "o-", color=DIMENSIONALITY_COLORS["data"],
            label="data dimensionality (mean over points, weighted by ||h_t||²)")
    ax.plot(sizes, [r["feature_dimensionality"] for r in rows], "o-", color=DIMENSIONALITY_COLORS["feature"],
            label="feature dimensionality (mean over features, weighted by ||W_i||²)")
    ax.plot(sizes, [s.n_hidden / T for T in sizes], ":", color="grey", label="m / T (a regular T-gon)")
    if cross:
        ax.axvline(cross, color="grey", ls="--", lw=1, label=f"they cross at T ≈ {cross:.0f}")
    _against_T(ax, sizes, "dimensionality")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Small T: the model stores data points; large T: features", fontsize=10)
    return fig


def figure_norms(rows, s):
    fig, axes = figure(1, 1, width=6, height=3.6)
    ax = axes[0, 0]
    sizes = [r["T"] for r in rows]
    ax.plot(sizes, [r["W_norm"] for r in rows], "o-", color=COLORS["weight"], label="||W||  (Frobenius)")
    ax.plot(sizes, [r["b_norm"] for r in rows], "o-", color=COLORS["bias"], label="||b||")
    _against_T(ax, sizes, "norm")
    ax.legend(fontsize=8)
    ax.set_title("Weight and bias norms against T", fontsize=10)
    return fig


def figure_grid(test, s):
    fig, axes = figure(1, 1, width=6, height=4)
    ax = axes[0, 0]
    image = ax.imshow(np.log10(test), origin="lower", aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="log10 test loss")
    ax.set_xticks(range(len(s.grid_sizes)), [str(T) for T in s.grid_sizes])
    ax.set_yticks(range(len(s.grid_hidden)), [str(m) for m in s.grid_hidden])
    ax.set_xlabel("training-set size T")
    ax.set_ylabel("hidden dimensions m")
    ax.set_title(f"Test loss over m × T (n = {s.n_features}, S = {s.sparsity}, one seed, {s.grid_steps:,} steps)",
                 fontsize=10)
    return fig


def figure_limits(limits, s):
    kinds = {"decreasing": "sparse, importance 100^(−i/(n−1))", "uniform": "sparse, uniform importance",
             "one_hot": "one-hot inputs (no noise)"}
    fig, axes = figure(2, 3, width=3.6, height=3.0)
    for col, (kind, label) in enumerate(kinds.items()):
        for row, (array, what, cmap) in enumerate(((limits[kind][0], "log10 loss", "viridis"),
                                                   (limits[kind][1], "one-hot argmax accuracy", "magma"))):
            ax = axes[row, col]
            image = ax.imshow(array, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest",
                              **({"vmin": 0, "vmax": 1} if row else {}))
            fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_xticks(range(len(s.limit_hidden)), [str(m) for m in s.limit_hidden])
            ax.set_yticks(range(len(s.limit_features)), [str(n) for n in s.limit_features])
            ax.set_xlabel("hidden dimensions m")
            ax.set_ylabel("features n")
            ax.set_title(f"{label}\n{what}", fontsize=8)
    fig.suptitle(f"Limits of reconstruction through the bottleneck (S = {s.limit_sparsity} for sparse inputs, "
                 f"{s.limit_steps:,} steps)", fontsize=10)
    return fig


# %% The whole lesson
def main(s, out, resume=False):
    """Train the T sweep (split over two cores), the m x T grid and the limits grids; draw; write metrics.json.
    resume is accepted for a uniform interface; these runs are short and keep no checkpoints."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    here, there = split_work(s.sizes)
    side = beside(side_experiments, s, there)
    results = train_sizes(s, here, progress=True)
    side_results, grid, limits = side.result()
    rows = sorted((summarise(r) for r in results + side_results), key=lambda r: r["T"])

    sizes = [r["T"] for r in rows]
    peak = sizes[int(np.argmax([r["test_loss"] for r in rows]))]
    cross = crossing(sizes, [r["data_dimensionality"] for r in rows], [r["feature_dimensionality"] for r in rows])
    save_figure(figure_features_and_data(rows, s), out / "features_and_data.png")
    save_figure(figure_loss(rows, peak, s), out / "loss.png")
    save_figure(figure_dimensionality(rows, cross, s), out / "dimensionality.png")
    save_figure(figure_norms(rows, s), out / "norms.png")
    save_figure(figure_grid(grid, s), out / "grid.png")
    save_figure(figure_limits(limits, s), out / "limits.png")

    keep = ("T", "seed", "train_loss", "test_loss", "data_dimensionality", "feature_dimensionality",
            "data_dimensionality_plain_mean", "feature_dimensionality_plain_mean", "W_norm", "b_norm",
            "features_represented", "feature_angle_gaps", "seed_train_losses")
    metrics_ = {
        "settings": asdict(s),
        "sizes": [{k: r[k] for k in keep} for r in rows],
        "test_loss_peak_T": peak,
        "dimensionality_crossing_T": cross,
        "W_norm_peak_T": sizes[int(np.argmax([r["W_norm"] for r in rows]))],
        "smallest_T_data_dimensionality_times_T_over_m": rows[0]["data_dimensionality"] * rows[0]["T"] / s.n_hidden,
        "grid": {"hidden": list(s.grid_hidden), "sizes": list(s.grid_sizes), "test_loss": grid.tolist(),
                 "peak_T_per_m": [s.grid_sizes[int(i)] for i in grid.argmax(axis=1)],
                 "peak_T_per_m_beyond_T_10": peaks_beyond(grid, s.grid_sizes, 10)},
        "limits": {kind: {"features": list(s.limit_features), "hidden": list(s.limit_hidden),
                          "log10_loss": ll.tolist(), "one_hot_accuracy": acc.tolist()}
                   for kind, (ll, acc) in limits.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "metrics.json", metrics_)
    report(metrics_)
    return metrics_


def report(m):
    print("\n    T   train loss   test loss   D_data   D_feat   ||W||   ||b||   features > 0.5")
    for r in m["sizes"]:
        print(f"{r['T']:5d}   {r['train_loss']:10.4f}  {r['test_loss']:10.4f}   {r['data_dimensionality']:6.3f}   "
              f"{r['feature_dimensionality']:6.3f}  {r['W_norm']:6.2f}  {r['b_norm']:6.2f}   "
              f"{r['features_represented']:4d}")
    largest = m["sizes"][-1]
    print(f"largest T = {largest['T']}: {largest['features_represented']} features with norm > 0.5, "
          f"angles between neighbours {largest['feature_angle_gaps']} degrees (a pentagon: 72 each)")
    print(f"test loss peaks at T = {m['test_loss_peak_T']}; data and feature dimensionality cross at T ≈ "
          f"{m['dimensionality_crossing_T']}")
    print(f"smallest T: data dimensionality x T / m = {m['smallest_T_data_dimensionality_times_T_over_m']:.3f} "
          "(1 for a regular T-gon)")
    print(f"m x T grid: test-loss peak T per m {dict(zip(m['grid']['hidden'], m['grid']['peak_T_per_m']))}; "
          f"beyond T = 10: {dict(zip(m['grid']['hidden'], m['grid']['peak_T_per_m_beyond_T_10']))}")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/02_memorization", description=__doc__)
    main(settings, options.out, options.resume)
