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
  predicting x' = 0. Test loss (10,000 fresh points) is about 1.0 up to T = 100, rises to a peak of 1.29 at
  T = 200, and falls to 0.99 from T = 1,000 on, below the loss of predicting 0: double descent. (T = 3 is
  also high, 1.04: a model that memorises three points in large weights misfires on new ones.)
- dimensionality.png: data dimensionality falls as m/T, feature dimensionality rises after the transition;
  they cross at T ≈ 220, next to the test-loss peak at T = 200.
- norms.png: ||W|| peaks at T = 200 (17.0) and ||b|| at T = 50 (18.1); both collapse to ~2.5 and < 1 once
  the model stores features.
- Where the peak sits: T = 200 with n = 1,000, S = 0.99, inside ARENA's shaded transition (T ≈ 141 to 707)
  and about 10x earlier than the paper's transition (T ≈ 700 to 5,000 for n = 10,000, S = 0.999), as
  Hobbhahn found. In Jermyn's terms the peak sits at T(1 - S) = 2 expected occurrences of each feature, and
  the model stores features once T(1 - S) ≈ 10 (T = 1,000).
- grid.png: test loss over hidden size m (1 to 16) x T (5 to 500), at n = 100, S = 0.9 (see below), geometric
  mean of 2 seeds. Double descent along both axes: a ridge of high test loss runs diagonally. For each m the
  peak's T grows with m (m = 2: T = 20; 3: 50; 4: 40; 6: 65; 8: 100; 12: 130; 16: 160; "peak_T_per_m") and
  the peaks stand well above their neighbours (m = 8: 1.52 at T = 100 against 0.91 at T = 40 and 0.97 at
  T = 160; m = 16: 0.87 at T = 160 against 0.69 and 0.64). Along m at fixed T the loss rises and falls too
  (T = 100: 0.92, 0.92, 1.03, 1.27, 1.09, 1.52 at m = 8, then 1.00 and 0.69; "peak_m_per_T"). m = 1 cannot
  memorise even 5 points and is erratic at small T.
- limits.png: how much survives the bottleneck (Hobbhahn's "limits of reconstruction"): log-loss and the
  accuracy of argmax(x') on one-hot inputs over n x m, for noisy sparse inputs (S = 0.9) with decreasing and
  with uniform importance, and for the noiseless one-hot inputs themselves. With one-hot inputs the model
  recovers every input with few dimensions (n = 20 needs m = 3, n = 50 m = 5, n = 200 m = 8; m = 5 recovers
  82% of 200); trained on noisy sparse inputs the same bottleneck recovers far fewer (n = 200, m = 13: 30%
  with uniform importance, 22% with decreasing importance, which gives up the unimportant features first).

Run it
    python lessons/02_memorization.py           # 54 s on 2 quiet cores, 120 s while another job used one;
                                                # every training is a sweep point, 2 worker processes
    python lessons/02_memorization.py --resume  # keeps the groups an interrupted run finished (out/runs.jsonl)
    python lessons/02_memorization.py --quick   # seconds, for the tests (n = 200, S = 0.95, T up to 300)
Figures and metrics.json go to figures/02_memorization/ (--out DIR to change).

Scaled down (and why)
- 5,000 full-batch steps per T instead of the paper's 50,000 (ARENA used 15,000), 3 seeds per T, to finish in
  under 5 minutes. That is enough for the two geometries: exact T-gons at small T, a regular pentagon at
  T = 2,000. A trial with 15,000 steps (ARENA's length; --steps 15000) at T = 2,000, one seed, found the same
  pentagon and test loss 0.989 (0.989 here).
- The m x T grid runs at n = 100, S = 0.9 (the same ~10 features per point, a tenth of the cost), 3,000
  steps at lr 1e-2, 2 seeds per cell. At n = 1,000 with 2,000 steps the bumps were 1-2% of the loss. lr 1e-2
  stands in for longer training: a trial at lr 1e-3 for 10,000 steps put the peaks at the same T (20 / 50 /
  80 / 130 for m = 2 / 4 / 8 / 16) at 3x the cost. The limits grids use 1,500 steps on fresh batches of 256.
- Training uses superposition.reconstruction_loss: the same loss and gradients as relu(tied(x, W, b)) with mse
  (tests/test_superposition.py checks they agree), fused into one numba pass per point. At n = 1,000 the ops
  spend their time making passes over the (seeds, T, n) outputs; the fused pass is 5 to 6x faster here.
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
from toygrad import cli, memorization
from toygrad import superposition as sp
from toygrad.datasets import SparseBatches, fixed_sparse_dataset, one_hot, sparse_batch
from toygrad.files import save_figure, write_json
from toygrad.plots import figure
from toygrad.plots_superposition import (dimensionality_against_T, features_and_data, grid_image, loss_against_T,
                                         norms_against_T)
from toygrad.sweep import sweep
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
    grid_features: int = 100     # the m x T grid at n = 100, S = 0.9: the same ~10 features per point, 10x cheaper
    grid_sparsity: float = 0.9
    grid_hidden: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16)   # its m axis, as the paper's (to ~16)
    grid_sizes: tuple[int, ...] = (5, 8, 13, 20, 30, 40, 50, 65, 80, 100, 130, 160, 200, 300, 500)   # dense where
                                 # the peaks sit (T = 40 to 160); no peak lies beyond 500 at this n
    grid_seeds: int = 2          # per cell, on the instance axis; the grid shows their geometric mean
    grid_steps: int = 3_000      # with lr 1e-2: a stand-in for longer training (lr 1e-3 for 10,000 steps peaks
    grid_lr: float = 1e-2        # at the same T, 20 / 50 / 80 / 130 for m = 2 / 4 / 8 / 16, at 3x the cost)
    limit_features: tuple[int, ...] = (5, 10, 20, 50, 100, 200)  # the n axis of the limits of reconstruction
    limit_hidden: tuple[int, ...] = (1, 2, 3, 5, 8, 13)          # ... and its m axis
    limit_sparsity: float = 0.9  # the noisy inputs' sparsity in the limits grids
    limit_steps: int = 1_500     # fresh batches of 256 each step, or the n one-hot vectors (full batch)
    workers: int = 2             # processes training groups side by side: one per core of a 2-core laptop
    seed: int = 0                # every experiment draws from its own generator seeded from this


QUICK = dict(n_features=200, sparsity=0.95, sizes=(3, 5, 10, 30, 100, 300), seeds=2, steps=1_500, lr=3e-3,
             test_points=500, shown_sizes=(3, 5, 30, 300), grid_features=50, grid_hidden=(1, 2, 4),
             grid_sizes=(5, 20, 80, 300), grid_seeds=1, grid_steps=400, limit_features=(5, 20, 50), limit_hidden=(1, 2, 5), limit_steps=300)
LIMIT_KINDS = ("decreasing", "uniform", "one_hot")


# %% Every training of the lesson as points of one sweep
# A point names one model and carries the settings that produce it; points that share "experiment" and
# "group" train together on the instance axis, in one of `workers` processes (toygrad.sweep). Groups go
# largest first, so the two processes finish at about the same time. Results are saved as groups finish:
# --resume continues a run that was interrupted.
def sweep_points(s):
    common = dict(lr=s.lr, weight_decay=s.weight_decay, seed=s.seed)
    sizes = [dict(experiment="sizes", group=f"T={T}", T=T, k=k, n=s.n_features, m=s.n_hidden, sparsity=s.sparsity,
                  steps=s.steps, warmup=s.warmup, test_points=s.test_points, **common)
             for T in sorted(s.sizes, reverse=True) for k in range(s.seeds)]
    grid = [dict(experiment="grid", group=f"T={T}", T=T, m=m, k=k, n=s.grid_features, sparsity=s.grid_sparsity,
                 steps=s.grid_steps, warmup=s.warmup, test_points=2_000, **{**common, "lr": s.grid_lr})
            for T in sorted(s.grid_sizes, reverse=True) for k in range(s.grid_seeds) for m in s.grid_hidden]
    limits = [dict(experiment="limits", group=f"{kind} n={n}", kind=kind, n=n, m=m, sparsity=s.limit_sparsity,
                   steps=s.limit_steps, **common)
              for n in sorted(s.limit_features, reverse=True) for kind in LIMIT_KINDS for m in s.limit_hidden]
    return sizes + grid + limits


def train_group(points):
    """Train one group of points (in a worker process); one result dict per point."""
    return {"sizes": train_size, "grid": train_grid_column, "limits": train_limits_row}[points[0]["experiment"]](points)


# %% The T sweep: the seeds of one T on the instance axis
def train_size(points):
    """Every seed of one T, each on its own T points and initialisation; the lowest train loss is described."""
    p, seeds = points[0], len(points)
    rng = np.random.default_rng([p["seed"], p["T"]])
    probability = np.full(seeds, 1 - p["sparsity"])
    x_train = fixed_sparse_dataset(rng, probability, p["T"], p["n"])                # (K, T, n), unit-norm rows
    x_test = fixed_sparse_dataset(rng, probability, p["test_points"], p["n"])
    params = sp.init_params(rng, seeds, p["n"], p["m"])
    sp.train_fixed(params, x_train, steps=p["steps"], lr=p["lr"], weight_decay=p["weight_decay"],
                   warmup=p["warmup"], progress=False)
    train, test = sp.loss_value(params, x_train), sp.loss_value(params, x_test)
    results = [{"train_loss": float(train[k]), "test_loss": float(test[k])} for k in range(seeds)]
    k = int(np.argmin(train))
    W, b = params["W"].data[k], params["b"].data[k]
    results[k]["best"] = memorization.describe(p["T"], W, sp.hidden(W, x_train[k]), b, train[k], test[k])
    return results


# %% The m x T grid: each T trains every m at once on the instance axis
def train_grid_column(points):
    """Test loss of one T for every (m, seed) in the group: W is stored with max(m) rows and instance i reads
    only its first m_i (superposition.init_ranked); the zero rows add nothing to the test loss either."""
    p, ms = points[0], np.array([q["m"] for q in points])
    rng = np.random.default_rng([p["seed"], p["T"], 1])
    probability = np.full(len(ms), 1 - p["sparsity"])
    x_train = fixed_sparse_dataset(rng, probability, p["T"], p["n"])
    x_test = fixed_sparse_dataset(rng, probability, p["test_points"], p["n"])
    params = sp.init_ranked(rng, ms, p["n"])
    optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=p["weight_decay"],
                         schedule=tg.schedule("warmup_cosine", total_steps=p["steps"], warmup=p["warmup"]))
    train = sp.fixed_data(x_train)
    fit(lambda step: sp.reconstruction_loss(train, params["W"], params["b"], rank=ms), params, optimizer,
        p["steps"], log_every=p["steps"], progress=False)
    return [{"test_loss": float(loss)} for loss in sp.loss_value(params, x_test)]


# %% Limits of reconstruction (Hobbhahn): how much of x survives the bottleneck, over n x m
def one_hot_accuracy(W, b):
    """The fraction of one-hot inputs e_i whose reconstruction ReLU(WᵀW e_i + b) has its largest entry at i,
    per instance. W: (I, m, n) -> (I,)"""
    n = W.shape[-1]
    out = np.maximum(np.swapaxes(W, -1, -2) @ W + b[:, None, :], 0)         # row i: the output for e_i
    return (out.argmax(axis=-1) == np.arange(n)).mean(axis=-1)


def train_limits_row(points):
    """Log10 loss and one-hot accuracy of every m for one n and one kind of input: "decreasing" (sparse,
    importance 100^(-i/(n-1))), "uniform" (sparse, uniform importance), both on fresh batches of 256, or
    "one_hot" (the n one-hot vectors, full batch). Every m trains at once, as in the grid."""
    p, ms = points[0], np.array([q["m"] for q in points])
    n, kind = p["n"], p["kind"]
    rng = np.random.default_rng([p["seed"], n, 2])
    weight = sp.importance(n, "log" if kind == "decreasing" else "uniform").astype(np.float32)
    params = sp.init_ranked(rng, ms, n)
    optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=p["weight_decay"])
    probability = np.full(len(ms), 1 - p["sparsity"])
    data = (lambda step: one_hot(n, len(ms))) if kind == "one_hot" else SparseBatches(rng, probability, 256, n)
    fit(lambda step: sp.reconstruction_loss(data(step), params["W"], params["b"], weight, rank=ms), params,
        optimizer, p["steps"], log_every=p["steps"], progress=False)
    x_eval = one_hot(n, len(ms)) if kind == "one_hot" else sparse_batch(rng, probability, 2_000, n)
    log_loss = np.log10(sp.loss_value(params, x_eval, weight))
    accuracy = one_hot_accuracy(params["W"].data, params["b"].data)
    return [{"log10_loss": float(l), "one_hot_accuracy": float(a)} for l, a in zip(log_loss, accuracy)]


# %% Collecting the sweep's records into the lesson's tables
def collect(records, s):
    """The best seed of each T (memorization.describe's rows, by T), the m x T test-loss grid and the limits
    grids, from the sweep's records."""
    by = {}
    for r in records:
        by.setdefault(r["settings"]["experiment"], []).append(r)
    rows = []
    for T in sorted(s.sizes):
        seeds = [r["result"] for r in by["sizes"] if r["settings"]["T"] == T]
        best = next(res["best"] for res in seeds if "best" in res)
        rows.append({**best, "seed_train_losses": [res["train_loss"] for res in seeds]})
    cell = {}
    for r in by["grid"]:
        cell.setdefault((r["settings"]["m"], r["settings"]["T"]), []).append(np.log(r["result"]["test_loss"]))
    grid = np.exp([[np.mean(cell[m, T]) for T in s.grid_sizes] for m in s.grid_hidden])   # geometric mean of seeds
    limits = {}
    for kind in LIMIT_KINDS:
        cell = {(r["settings"]["n"], r["settings"]["m"]): r["result"] for r in by["limits"] if r["settings"]["kind"] == kind}
        limits[kind] = tuple(np.array([[cell[n, m][key] for m in s.limit_hidden] for n in s.limit_features])
                             for key in ("log10_loss", "one_hot_accuracy"))
    return rows, grid, limits


# %% Figures
def figure_grid(test, s):
    fig, axes = figure(1, 1, width=6, height=4)
    grid_image(axes[0, 0], np.log10(test), s.grid_hidden, s.grid_sizes,
               f"Test loss over m × T (n = {s.grid_features}, S = {s.grid_sparsity}, geometric mean of "
               f"{s.grid_seeds} seeds, {s.grid_steps:,} steps at lr {s.grid_lr:g})",
               "log10 test loss (0: predicting x' = 0), clipped at log10 2", vmax=np.log10(2))
    return fig


def figure_limits(limits, s):
    kinds = {"decreasing": "sparse, importance 100^(−i/(n−1))", "uniform": "sparse, uniform importance",
             "one_hot": "one-hot inputs (no noise)"}
    fig, axes = figure(2, 3, width=3.6, height=3.0)
    for col, (kind, label) in enumerate(kinds.items()):
        log_loss, accuracy = limits[kind]
        grid_image(axes[0, col], log_loss, s.limit_features, s.limit_hidden, f"{label}\nlog10 loss", "",
                   row_name="features n", column_name="hidden dimensions m")
        grid_image(axes[1, col], accuracy, s.limit_features, s.limit_hidden, f"{label}\none-hot argmax accuracy",
                   "", row_name="features n", column_name="hidden dimensions m", cmap="magma", vmin=0, vmax=1)
    fig.suptitle(f"Limits of reconstruction through the bottleneck (S = {s.limit_sparsity} for sparse inputs, "
                 f"{s.limit_steps:,} steps)", fontsize=10)
    return fig


def draw(rows, grid, limits, summary, s, out):
    setting = f"n = {s.n_features}, m = {s.n_hidden}, S = {s.sparsity}, best of {s.seeds} seeds, {s.steps:,} steps"
    save_figure(features_and_data([r for r in rows if r["T"] in s.shown_sizes],
                                  f"Small T stores the data points (a T-gon), large T stores features (a pentagon). "
                                  f"{setting}"), out / "features_and_data.png")
    save_figure(loss_against_T(rows, summary["test_loss_peak_T"], f"Double descent in T: {setting}",
                               ylabel="loss  (1/T) Σ_t ||x_t − x'_t||²", baseline=(1.0, "predicting x' = 0")),
                out / "loss.png")
    save_figure(dimensionality_against_T(rows, summary["dimensionality_crossing_T"], s.n_hidden,
                                         "Small T: the model stores data points; large T: features"),
                out / "dimensionality.png")
    save_figure(norms_against_T(rows, "Weight and bias norms against T"), out / "norms.png")
    save_figure(figure_grid(grid, s), out / "grid.png")
    save_figure(figure_limits(limits, s), out / "limits.png")


# %% The whole lesson
def main(s, out, resume=False):
    """Train everything (a sweep over two processes), draw, write metrics.json. resume: keep the groups an
    interrupted run already finished (saved in out/runs.jsonl) instead of starting over."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = sweep(train_group, sweep_points(s), group_by=("experiment", "group"), results=out / "runs.jsonl",
                    resume=resume, workers=s.workers, desc="lesson 02: groups of models")
    rows, grid, limits = collect(records, s)
    summary = memorization.summary(rows, s.n_hidden)
    draw(rows, grid, limits, summary, s, out)

    metrics_ = {
        "settings": asdict(s),
        "sizes": [{k: v for k, v in r.items() if k not in memorization.ARRAYS} for r in rows],
        **summary,
        "grid": {"hidden": list(s.grid_hidden), "sizes": list(s.grid_sizes), "test_loss": grid.tolist(),
                 "peak_T_per_m": memorization.peaks_beyond(grid, s.grid_sizes, s.grid_sizes[0]),
                 "peak_m_per_T": [s.grid_hidden[int(i)] for i in grid.argmax(axis=0)]},
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
          f"{m['dimensionality_crossing_T']}; ||W|| peaks at T = {m['W_norm_peak_T']}, ||b|| at T = {m['b_norm_peak_T']}")
    print(f"smallest T: data dimensionality x T / m = {m['smallest_T_data_dimensionality_times_T_over_m']:.3f} "
          "(1 for a regular T-gon)")
    print(f"m x T grid: test-loss peak T per m (beyond the first column) "
          f"{dict(zip(m['grid']['hidden'], m['grid']['peak_T_per_m']))}; peak m per T "
          f"{dict(zip(m['grid']['sizes'], m['grid']['peak_m_per_T']))}")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/02_memorization", description=__doc__)
    main(settings, options.out, options.resume)
