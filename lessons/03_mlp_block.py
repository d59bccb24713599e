"""Lesson 03 — Memorization in an MLP block: neurons, dictionaries, and what a hidden layer can store.

Replicates the "privileged basis" section of Elhage et al. 2022 ("Toy Models of Superposition") and the MLP-block
part of Hobbhahn 2023, "More findings on memorization and double descent"; see ../shared/SETTINGS.md. Lesson 02's
bottleneck had no neurons: any rotation of its hidden space was as good. Here the hidden layer has a ReLU, so
its coordinates are neurons, and the question becomes which features (or which data points) each neuron stores.
The models (toygrad/mlp_block.py):

    ReLU-hidden model    h = ReLU(W x),  x' = ReLU(Wᵀ h + b)             n = 10 features, m = 5 neurons
    MLP autoencoder      x' = W2 ReLU(W1 x + b1) + b2                     W1, W2 independent, squared error

What you will see (numbers from the default run, in metrics.json; "reproduced" is measured against the claims
of the papers as ../shared/SETTINGS.md and issue 5 state them)
- relu_hidden.png, a privileged basis: dense (1 - S = 1), five monosemantic neurons, one feature each (the top
  feature holds >= 0.91 of each neuron's squared positive weight); sparser, features share neurons: 6, 7, 7 and
  9 of the 10 features sit in some neuron at 1 - S = 0.30, 0.17, 0.09, 0.05, up to 3 per neuron. Reproduced.
- one_hot.png, the dictionary of 16 one-hot inputs: 16 neurons store all of it (loss 1e-8, accuracy 1.00), 8,
  4 and 2 neurons reach accuracy 0.94, 0.69, 0.19. b1 > 0 in 88-100% of the neurons: it lifts the
  pre-activations, and 35-48% of the negative weights W1_ji (k >= 4) end within 0.02 of -b1_j, pinned at the
  ReLU's kink. Reproduced.
- features_and_data_*.png, loss.png, the T sweep (n = 1,000, k = 2 neurons, S = 0.99; best of 16 seeds up to
  T = 30, of 3 beyond):
  * T = 3 is stored in every variant: train loss 0.000 (predicting the points' mean gives 0.67), train
    accuracy 1.00. The three hidden vectors form a triangle: D_data T/m = 0.90 (uniform, decay 0.01), 0.94
    (Gaussian), 0.91 (uniform, decay 1) on the centred hidden vectors W1 x_t - mean, 1 for a regular T-gon; on
    the raw W1 x_t (Henighan's definition) 0.56, 0.54 and 1.45: under decay 0.01 the three vectors share a large
    common offset, which the affine read-out W2 a + b2 does not see. With decay 1 the points after the ReLU sit
    at three corners of the quadrant: (0, 0), one neuron on, the other on.
  * Beyond T = 3 nothing is stored, and cannot be: x' = W2 a + b2 lies in one 2-D affine plane, which holds 3
    points, not T. The floor is the best plane through the training points (their mean and top two principal
    directions): ~(T - 3)/T, 0.34-0.37 at T = 5, 0.64-0.66 at T = 10, 0.86-0.87 at T = 30, 0.99 at T = 2,000
    ("train_loss_floor"). Training reaches it: train loss / floor 1.00-1.04 for decay 1 at every T, 1.00-1.20
    for decay 0.01 ("train_loss_over_floor"). That is what memorisation means for this model; "train loss ~0 at
    small T" holds only for T <= k + 1 = 3.
  * Test loss with weight decay 0.01: 14.3 (uniform) and 19.6 (Gaussian) at T = 3, 23-46 for T = 5 to 30,
    15-16 at T = 50, 9-10 at T = 100, 3.5-5.8 for T = 200 to 1,000, 0.99 at T = 2,000. It is what PyTorch's init
    left in the 2 -> 1,000 layer, not memorisation: W2 and b2 start U(+-0.71) (fan-in 2), ||b2|| = 13, loss
    170; training cancels that offset on the training points (||b2|| still 5.6-11 at the end) but not on fresh
    ones. The "peaks" at T = 15 (uniform) and T = 8 (Gaussian) are the top of that noisy plateau. At T = 2,000,
    ||W1|| falls to 0.12-0.14: the model outputs the mean (test = train = 0.99).
  * Weight decay 1 clears it (||b2|| 1.0 at T = 3, 0.11-0.33 from T = 30): test loss 1.64 at T = 3, 1.35, 1.20,
    1.12, 1.11, 1.04, 1.02, 1.00 (T = 100), then 0.997 to 0.991 at T = 2,000, below predicting 0 (1.0), where
    the two neurons hold two features 91 degrees apart (features_represented 2). It falls monotonically: NOT
    reproduced, there is no test-loss bump between memorising and generalising, in any variant. The data and
    feature dimensionalities cross at T ~ 530 (all three variants; ARENA shades 141-707), and ||W1|| peaks at
    T = 500, not near the small-T end.
  * Box or round: the features no training point contains keep the init's shape, box-ness 0.46-0.52 with
    PyTorch's uniform init and 0.27-0.34 with the Gaussian up to T = 200 (0.51 and 0.29 expected; row 1 of
    features_and_data: a square at the origin, or a round blob). Once training has moved them, the two inits
    look alike (decay 0.01, all columns): 0.51 and 0.43 at T = 50, 0.54 and 0.54 at T = 100, 0.21-0.31 from
    T = 500. So "the Gaussian init turns the rectangles into circles" holds for the untouched cloud only:
    partly reproduced.
  * Dead neurons: a neuron pushed below 0 at every training point in the first steps never fires again; 2 to 8
    of 16 seeds keep both neurons up to T = 30, hence the seeds.
- grid.png, hidden size k x T (decay 1, one seed, 3,000 steps): T = 3 is stored from k = 8 (train loss 0.001)
  and T = 10 at k = 16 (0.001); k = 2 ends at 0.65 at T = 3 (one seed, 3,000 steps: the T sweep needs 16 seeds
  and 20,000 steps). Test loss falls with T for k = 2 to 8 (k = 2: 2.84 at T = 3 to 1.07 at T = 1,000) and
  nearly so for k = 16 (1.36, 1.244, 1.251, 1.06, 1.006, 0.995), so "test_loss_peak_T_per_k_beyond_T_3" (10 for
  k <= 8, 30 for k = 16) only names the size after T = 3, or a flat step: no bump for k >= 2. k = 1 (a line) has
  one high cell, 3.14 at T = 10 between 1.27 (T = 3) and 1.03 (T = 30): one seed, not a trend we can vouch for.
  Test accuracy stays at or below 0.03 everywhere: two to 16 neurons cannot name the largest of 1,000 features.
- fish.png, reconstruction through a random embedding E (1,000 points, S = 0.99): in big fish (E x -> x) the
  hidden size, not the bottleneck, limits it: accuracy changes by 0.27 on average from k = 2 to 32 and by 0.04
  between d = 10 and 30 (relative loss: 0.13 and 0.016). Small fish (E x -> E x) recovers more than big fish in
  every cell (accuracy +0.41 on average; 0.96-1.00 at k = 32). The re-projector (E x -> E' x) is the hardest:
  accuracy <= 0.02 for n = 1,000. Reproduced.

Run it
    python lessons/03_mlp_block.py           # 190 s (191 s with start-up; 194 s in another run) on 2 cores,
                                             # other jobs keeping the load average at 0.7 to 1.8: the T sweep
                                             # ~100 s, the other trainings ~70 s, figures ~17 s (the earlier
                                             # version of this lesson: 1,832 s)
    python lessons/03_mlp_block.py --quick   # 14 s (tests/test_lesson03.py; n = 200, S = 0.95, T = 3, 30, 300)
Figures and metrics.json go to figures/03_mlp_block/ (--out DIR to change); --resume keeps the groups of an
interrupted run (out/runs.jsonl).

Scaled down (and why)
- ReLU-hidden model: 8 seeds per sparsity on the instance axis (the paper: 1,000), 10,000 steps (the paper's)
  on fresh batches of 256 (the paper: 1,024), to fit the time budget.
- T sweep: 20,000 full-batch steps up to T = 10 and 10,000 beyond (the paper: 50,000), 16 seeds per T up to
  T = 30 (most seeds lose a neuron in the first steps) and 3 beyond; lr, warm-up, cosine and decay as the paper.
  The length is the lever: with the 5,000 steps of the earlier run, T = 3 ended at train loss 0.62 (uniform,
  decay 0.01) and 0.32 (decay 1), with 10,000 at 0.37 (decay 0.01) and 0.000 (decay 1), with 20,000 at 0.000 in
  all three; training first spends its steps cancelling the init's b2 (loss 170) on the training points. Beyond
  T = 10 the loss is held by the plane's floor, and 10,000 steps reach it (decay 1: within 4%; at 5,000, T = 50
  ended 6% above it and made a spurious test-loss bump of 1.16). A higher lr does not buy the steps back: lr
  1e-2 for 5,000 steps left T = 3 at 0.27 (decay 0.01) and killed more neurons (1 of 16 seeds kept both).
- Test loss on 5,000 fresh points, one set shared by every seed and variant of a T (the seeds' own sets cost
  9 s a group to draw); the accuracies are the argmax of x' against that of x.
- The MLP trains through mlp_block.mlp_loss, one numba op that never forms the (seeds, T, n) output: with
  G = W2ᵀW2 the squared error of a sparse point costs O(k²) instead of O(n k); ~20x faster than the ops here.
  Small fish and the re-projector read and write dense 10- to 30-dimensional E x, where the ops (BLAS) are
  2-3x faster than the fused loss: they train through the ops (mb.train_fixed(..., fused=False)).
- Hidden sizes on the instance axis: an instance with k_i neurons keeps the rest of W1, b1, W2 at 0; those
  neurons compute ReLU(0) = 0 and get no gradient, so it is exactly an MLP with k_i neurons.

Learning objectives
- See a privileged basis: with a ReLU on the hidden layer, dense features get a neuron each, sparse ones share.
- Read a dictionary off an MLP's weights: which neuron fires for which input, and what b1 does.
- See what limits an MLP's memory: the hidden size bounds what the output can span, not the input's bottleneck;
  k neurons and a linear read-out store k + 1 points exactly, and no more (the affine floor).
"""
# %% Imports
import time
from dataclasses import asdict, dataclass

import numpy as np
from matplotlib import colormaps

import toygrad as tg
from toygrad import cli, memorization, metrics
from toygrad import mlp_block as mb
from toygrad import superposition as sp
from toygrad.datasets import SparseBatches, fixed_sparse_dataset, one_hot, sparse_batch, sparse_rows
from toygrad.files import save_figure, write_json
from toygrad.plots import COLORS, figure, heatmap
from toygrad.plots_superposition import (SUPERPOSITION_CMAP, features_in_plane, grid_image, points_in_plane,
                                         superposition_colorbar)
from toygrad.sweep import sweep
from toygrad.train import fit


# %% Settings: the authors', each with its reason
@dataclass
class Settings:
    # (1) the ReLU-hidden model (Elhage et al., "privileged basis")
    relu_features: int = 10      # n = 10 features ...
    relu_hidden: int = 5         # ... in m = 5 neurons
    relu_decay: float = 0.75     # importance 0.75^i, the paper's
    sparsities: int = 6          # feature probability 20^-(0..1): 1 - S = 1, 0.55, 0.30, 0.17, 0.09, 0.05
    relu_seeds: int = 8          # per sparsity on the instance axis, the lowest loss shown (the paper: 1,000)
    relu_steps: int = 10_000     # the paper's length (5,000 left most dense seeds mixing features)
    relu_batch: int = 256        # fresh points each step (the paper: 1,024), scaled to the time budget
    relu_lr: float = 1e-3        # AdamW at constant lr, PyTorch's defaults, as lesson 01
    eval_points: int = 10_000    # fresh points on which the seeds' losses are compared
    # (2a) reading the dictionary: an MLP autoencoder on one-hot inputs
    onehot_features: int = 16    # n orthogonal inputs e_i, the whole training set
    onehot_hidden: tuple[int, ...] = (2, 4, 8, 16)   # neurons: fewer than inputs, up to one per input
    onehot_seeds: int = 4        # per hidden size; the lowest loss is shown
    onehot_steps: int = 3_000
    onehot_lr: float = 1e-2      # 16 points, full batch: a larger step is stable
    # (2b) double descent over T (Henighan's recipe on Hobbhahn's MLP)
    n_features: int = 1000       # Hobbhahn's scale
    n_hidden: int = 2            # two neurons: a plane we can look at
    sparsity: float = 0.99
    sizes: tuple[int, ...] = (3, 5, 8, 10, 15, 30, 50, 100, 200, 500, 1000, 2000)   # training-set sizes T
    sweeps: tuple[str, ...] = ("uniform 0.01", "gaussian 0.01", "uniform 1")   # "init weight_decay" per T sweep:
    #                              Henighan's decay with PyTorch's init and the Gaussian variant, and decay 1
    seeds: int = 3               # per T on the instance axis, the lowest train loss kept ...
    small_T_seeds: int = 16      # ... and up to T = small_T: most seeds lose a neuron at init (cheap: T points)
    small_T: int = 30
    steps: int = 10_000          # full batch (the paper: 50,000), to fit the time budget (see the docstring) ...
    tiny_T_steps: int = 20_000   # ... but 20,000 up to tiny_T: at 5,000 (10,000) steps T = 3 ended at train
    tiny_T: int = 10             # loss 0.62 (0.37) with weight decay 0.01, not 0
    lr: float = 1e-3             # AdamW, linear warmup over 5% of steps, then cosine decay to 0
    warmup: float = 0.05
    test_points: int = 5_000     # fresh points from the same distribution
    shown_sizes: tuple[int, ...] = (3, 5, 10, 30, 100, 500, 2000)   # the columns of features_and_data_*.png
    # (2c) the hidden size x T grid
    grid_hidden: tuple[int, ...] = (1, 2, 4, 8, 16)
    grid_sizes: tuple[int, ...] = (3, 10, 30, 100, 300, 1000)
    grid_steps: int = 3_000      # one seed per cell
    grid_weight_decay: float = 1.0   # the decay under which the T sweep stores points (see the docstring)
    # (3) limits of reconstruction through a random embedding E (d x n)
    fish_features: tuple[int, ...] = (100, 300, 1000)   # n
    fish_hidden: tuple[int, ...] = (2, 4, 8, 16, 32)    # the MLP's hidden size k
    fish_bottlenecks: tuple[int, ...] = (10, 30)        # d: the dimensions of E x
    fish_points: int = 1000      # the data set to reconstruct (Hobbhahn's)
    fish_sparsity: float = 0.99
    fish_steps: int = 2_000
    fish_weight_decay: float = 1e-2
    workers: int = 2             # processes training groups side by side: one per core of a 2-core laptop
    seed: int = 0                # every experiment draws from its own generator seeded from this


QUICK = dict(sparsities=2, relu_seeds=4, relu_steps=3_000, relu_batch=128, relu_lr=1e-2, eval_points=2_000,
             onehot_features=6, onehot_hidden=(2, 6), onehot_seeds=2, onehot_steps=1_000,
             n_features=200, sparsity=0.95, sizes=(3, 30, 300), seeds=2, small_T_seeds=8, small_T=10,
             steps=3_000, tiny_T_steps=10_000, tiny_T=3, lr=3e-3, test_points=500,
             shown_sizes=(3, 30, 300),
             grid_hidden=(1, 4), grid_sizes=(3, 300), grid_steps=800,
             fish_features=(200,), fish_hidden=(2, 16), fish_bottlenecks=(4, 12), fish_points=300, fish_steps=800)
FISH = {"big": "big fish: E x → x", "small": "small fish: E x → E x", "reproject": "re-projector: E x → E' x"}


# %% Every training of the lesson as points of one sweep
# A point names one model and carries the settings that produce it; points that share "experiment" and
# "group" train together on the instance axis, in one of `workers` processes (toygrad.sweep), largest first.
def sweep_points(s):
    relu = [dict(experiment="relu", group=f"S={k}", k=k, seed_k=j, n=s.relu_features, m=s.relu_hidden,
                 decay=s.relu_decay, probability=float(p), steps=s.relu_steps, batch=s.relu_batch, lr=s.relu_lr,
                 eval_points=s.eval_points, seed=s.seed)
            for k, p in enumerate(sp.sparsity_sweep(s.sparsities)) for j in range(s.relu_seeds)]
    onehot = [dict(experiment="onehot", group="one-hot", n=s.onehot_features, k=k, seed_k=j, steps=s.onehot_steps,
                   lr=s.onehot_lr, seed=s.seed)
              for k in s.onehot_hidden for j in range(s.onehot_seeds)]
    sizes = [dict(experiment="sizes", group=f"T={T}", variant=variant, T=T, seed_k=j, n=s.n_features,
                  k=s.n_hidden, sparsity=s.sparsity, steps=s.tiny_T_steps if T <= s.tiny_T else s.steps,
                  lr=s.lr, warmup=s.warmup, test_points=s.test_points, seed=s.seed)     # long where the sets are small
             for T in sorted(s.sizes, reverse=True) for variant in s.sweeps
             for j in range(s.small_T_seeds if T <= s.small_T else s.seeds)]
    grid = [dict(experiment="grid", group=f"T={T}", T=T, k=k, n=s.n_features, sparsity=s.sparsity,
                 steps=s.grid_steps, lr=s.lr, warmup=s.warmup, weight_decay=s.grid_weight_decay,
                 test_points=s.test_points, seed=s.seed)
            for T in sorted(s.grid_sizes, reverse=True) for k in s.grid_hidden]
    fish = [dict(experiment="fish", group=f"{task} n={n} d={d}", task=task, n=n, d=d, k=k, points=s.fish_points,
                 sparsity=s.fish_sparsity, steps=s.fish_steps, lr=s.lr, warmup=s.warmup,
                 weight_decay=s.fish_weight_decay, seed=s.seed)
            for n in sorted(s.fish_features, reverse=True) for d in s.fish_bottlenecks for task in FISH
            for k in s.fish_hidden]
    return sizes + fish + grid + relu + onehot


def train_group(points):
    """Train one group of points (in a worker process); one result dict per point."""
    experiments = {"relu": train_relu_hidden, "onehot": train_one_hot, "sizes": train_size,
                   "grid": train_grid_column, "fish": train_fish}
    return experiments[points[0]["experiment"]](points)


# %% (1) The ReLU-hidden model: the seeds of one sparsity on the instance axis
def train_relu_hidden(points):
    """Every seed of one sparsity on fresh batches; each seed's loss on the same fresh points, and its W, b."""
    p, seeds = points[0], len(points)
    rng = np.random.default_rng([p["seed"], 1, p["k"]])
    probability = np.full(seeds, p["probability"])
    weight = sp.importance(p["n"], "geometric", p["decay"]).astype(np.float32)
    params = mb.init_relu_hidden(rng, seeds, p["n"], p["m"])
    batches = SparseBatches(rng, probability, p["batch"], p["n"])
    optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=1e-2)
    fit(lambda step: tg.mse(mb.relu_hidden(params, batches(step)), batches.x, weight), params, optimizer,
        p["steps"], log_every=p["steps"], progress=False)
    x = sparse_batch(rng, probability, p["eval_points"], p["n"])
    loss = tg.mse(mb.relu_hidden({k: tg.Tensor(v.data) for k, v in params.items()}, x), x, weight).data
    return [{"loss": float(loss[j]), "W": params["W"].data[j].round(5).tolist(),
             "b": params["b"].data[j].round(5).tolist()} for j in range(seeds)]


def describe_neurons(W):
    """What metrics.json keeps of one ReLU-hidden model, W: (m, n)."""
    top, counts = mb.neuron_profile(W)
    return {"features_represented": int(metrics.features_represented(W)),
            "features_per_neuron": counts.tolist(), "features_in_some_neuron": int((np.asarray(W) > 0.5).any(0).sum()),
            "top_feature_share": top.round(4).tolist(), "monosemantic_neurons": int((top > 0.9).sum())}


# %% (2a) Reading the dictionary: one-hot inputs
def train_one_hot(points):
    """Every hidden size (and seed) on the n one-hot inputs at once: the training set is the identity."""
    p, hidden = points[0], np.array([q["k"] for q in points])
    rng = np.random.default_rng([p["seed"], 2])
    x = one_hot(p["n"], len(hidden))
    params = mb.init_mlp(rng, hidden, p["n"], p["n"])
    mb.train_fixed(params, x, x, steps=p["steps"], lr=p["lr"], hidden=hidden)
    loss = mb.loss_value(params, x, x, hidden)
    accuracy = mb.argmax_accuracy(params, x)
    W1, b1, W2, b2 = mb.arrays(params)
    return [{"loss": float(loss[i]), "accuracy": float(accuracy[i]), "W1": W1[i, :k].round(5).tolist(),
             "b1": b1[i, :k].round(5).tolist(), "W2": W2[i, :, :k].round(5).tolist(), "b2": b2[i].round(5).tolist()}
            for i, k in enumerate(hidden)]


def read_dictionary(W1, b1, W2, b2, near=0.02):
    """Read one-hot model's dictionary: input i's pre-activations are column i of W1 + b1 (the "key" each neuron
    matches), its output W2 ReLU(W1 e_i + b1) + b2 (the "value"). Counts how b1 is used: the pairs (neuron j,
    input i) where W1_ji < 0 but b1 lifts the pre-activation to within `near` of 0 (W1_ji ≈ -b1_j)."""
    W1, b1, W2, b2 = (np.asarray(a, np.float64) for a in (W1, b1, W2, b2))
    pre = W1 + b1[:, None]                                            # (k, n): column i for input e_i
    lifted = (W1 < -near) & (np.abs(pre) <= near)
    return {"b1_positive": float((b1 > 0).mean()), "pinned_at_zero": float((np.abs(pre) <= near).mean()),
            "negative_weights_lifted_to_zero": float(lifted.sum() / max((W1 < -near).sum(), 1)),
            "inputs_with_no_neuron_firing": int((pre <= near).all(axis=0).sum())}


# %% (2b) Double descent over T: the seeds and variants of one T on the instance axis
def affine_floor(x, k):
    """The lowest train loss any MLP with k neurons can reach on the points x: (T, n). Its outputs
    W2 a + b2 all lie in one k-dimensional affine plane, so the best it can do is the plane through the points'
    mean along their top k principal directions: (1/T) sum_{i > k} λ_i, the λ_i the eigenvalues of the centred
    points' scatter matrix. 0 for T <= k + 1 (three points always lie in a plane); ~(T - k - 1) / T for nearly
    orthogonal unit points: a linear read-out cannot store more than k + 1 points exactly."""
    centred = np.asarray(x, np.float64) - np.mean(x, axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return float((singular[k:] ** 2).sum() / len(x))


def variant(name):
    """ "uniform 0.01" -> ("uniform", 0.01): the init and the weight decay of a T sweep."""
    init, decay = name.split()
    return init, float(decay)


def train_size(points):
    """Every seed of every variant of one T, each on its own T points; per variant, the lowest train loss is
    described."""
    p, seeds = points[0], len(points)
    inits, decays = zip(*(variant(q["variant"]) for q in points))
    rng = np.random.default_rng([p["seed"], 3, p["T"]])
    probability = np.full(seeds, 1 - p["sparsity"])
    x_train = fixed_sparse_dataset(rng, probability, p["T"], p["n"])              # (K, T, n), unit-norm rows
    x_test = fixed_sparse_dataset(rng, probability[:1], p["test_points"], p["n"])  # (1, ., n): one for all
    train, test = sparse_rows(x_train), sparse_rows(x_test)
    params = mb.init_mlp(rng, [p["k"]] * seeds, p["n"], p["n"], inits)
    mb.train_fixed(params, train, train, steps=p["steps"], lr=p["lr"], weight_decay=decays, warmup=p["warmup"])
    train_loss, test_loss = mb.loss_value(params, train, train), mb.loss_value(params, test, test)
    alive = (mb.pre_activations(params, x_train) > 0).any(axis=1).sum(axis=1)   # neurons firing for some point
    results = [{"train_loss": float(train_loss[j]), "test_loss": float(test_loss[j]), "alive": int(alive[j])}
               for j in range(seeds)]
    train_accuracy = mb.argmax_accuracy(params, x_train)
    test_accuracy = mb.argmax_accuracy(params, x_test)
    names = np.array([q["variant"] for q in points])
    for name in dict.fromkeys(names):
        j = int(np.flatnonzero(names == name)[np.argmin(train_loss[names == name])])
        W1, b1, W2, b2 = (a[j] for a in mb.arrays(params))
        h = x_train[j] @ W1.T
        centred = h - h.mean(0)
        seen = (x_train[j] != 0).any(axis=0)                     # features present in some training point
        best = memorization.describe(p["T"], W1, h, b1, train_loss[j], test_loss[j])
        best.update(train_accuracy=float(train_accuracy[j]), test_accuracy=float(test_accuracy[j]),
                    alive=int(alive[j]), boxiness=mb.boxiness(W1), W2_norm=float(np.linalg.norm(W2)),
                    b2_norm=float(np.linalg.norm(b2)), train_loss_floor=affine_floor(x_train[j], p["k"]),
                    features_seen=int(seen.sum()),
                    boxiness_seen=mb.boxiness(W1[:, seen]) if seen.sum() >= 20 else None,
                    boxiness_unseen=mb.boxiness(W1[:, ~seen]) if (~seen).sum() >= 20 else None,
                    data_dimensionality_centered=memorization.weighted_mean(
                        metrics.data_dimensionality(centred), (centred ** 2).sum(1)))
        results[j]["best"] = best
    return results


# %% (2c) The hidden size x T grid: each T trains every hidden size at once
def train_grid_column(points):
    """Test loss, train and test accuracy of one T for every hidden size k in the group (one seed each)."""
    p, hidden = points[0], np.array([q["k"] for q in points])
    rng = np.random.default_rng([p["seed"], 4, p["T"]])
    probability = np.full(len(hidden), 1 - p["sparsity"])
    x_train = fixed_sparse_dataset(rng, probability, p["T"], p["n"])
    x_test = fixed_sparse_dataset(rng, probability[:1], p["test_points"], p["n"])    # one test set for all k
    train, test = sparse_rows(x_train), sparse_rows(x_test)
    params = mb.init_mlp(rng, hidden, p["n"], p["n"])
    mb.train_fixed(params, train, train, steps=p["steps"], lr=p["lr"], weight_decay=p["weight_decay"],
                   warmup=p["warmup"], hidden=hidden)
    test_loss = mb.loss_value(params, test, test, hidden)
    train_accuracy = mb.argmax_accuracy(params, x_train)
    test_accuracy = mb.argmax_accuracy(params, x_test)
    return [{"test_loss": float(test_loss[i]), "train_loss": float(l), "train_accuracy": float(train_accuracy[i]),
             "test_accuracy": float(test_accuracy[i])}
            for i, l in enumerate(mb.loss_value(params, train, train, hidden))]


# %% (3) Limits of reconstruction through a random embedding: every hidden size of one (task, n, d) at once
def train_fish(points):
    """The MLP reads u = E x (d dimensions) and reconstructs x ("big"), u itself ("small") or E' x ("reproject")
    for a fixed set of points. Loss relative to the target's mean squared norm, and retrieval accuracy."""
    p, hidden = points[0], np.array([q["k"] for q in points])
    rng = np.random.default_rng([p["seed"], 5, p["n"], p["d"]])                 # the same E and points per task
    x = fixed_sparse_dataset(rng, np.full(1, 1 - p["sparsity"]), p["points"], p["n"])
    E, E_other = mb.embedding(rng, 1, p["d"], p["n"]), mb.embedding(rng, 1, p["d"], p["n"])
    u = mb.embed(E, x)
    y = {"big": x, "small": u, "reproject": mb.embed(E_other, x)}[p["task"]]
    inputs, targets = sparse_rows(u), sparse_rows(y)          # (1, points, .): every hidden size reads them
    params = mb.init_mlp(np.random.default_rng([p["seed"], 6]), hidden, p["d"], y.shape[-1])
    mb.train_fixed(params, inputs, targets, steps=p["steps"], lr=p["lr"], weight_decay=p["weight_decay"],
                   warmup=p["warmup"], hidden=hidden, fused=p["task"] == "big")
    relative = mb.loss_value(params, inputs, targets, hidden) / (y[0] ** 2).sum(-1).mean()
    accuracy = mb.retrieval_accuracy(mb.outputs(params, u), y)
    return [{"relative_loss": float(l), "accuracy": float(a)} for l, a in zip(relative, accuracy)]


# %% Collecting the sweep's records into the lesson's tables
def collect(records, s):
    """The sweep's records as tables: the lowest-loss ReLU-hidden model per sparsity, the lowest-loss one-hot
    model per hidden size, the T rows of each variant, the grid and the fish grids."""
    by = {}
    for r in records:
        by.setdefault(r["settings"]["experiment"], []).append(r)

    def best(rows, key):
        return min(rows, key=lambda r: r["result"][key])
    relu = []
    for k, p in enumerate(sp.sparsity_sweep(s.sparsities)):
        seeds = [r for r in by["relu"] if r["settings"]["k"] == k]
        chosen = best(seeds, "loss")["result"]
        relu.append({"sparsity": float(1 - p), "loss": chosen["loss"], "W": np.array(chosen["W"]),
                     "b": np.array(chosen["b"]), "seed_losses": [r["result"]["loss"] for r in seeds]})
    onehot = [{"k": k, **best([r for r in by["onehot"] if r["settings"]["k"] == k], "loss")["result"]}
              for k in s.onehot_hidden]
    sizes = {}
    for name in s.sweeps:
        rows = []
        for T in sorted(s.sizes):
            seeds = [r["result"] for r in by["sizes"] if r["settings"]["variant"] == name and r["settings"]["T"] == T]
            rows.append({**next(res["best"] for res in seeds if "best" in res),
                         "seed_train_losses": [res["train_loss"] for res in seeds],
                         "seeds_with_every_neuron_alive": sum(res["alive"] == s.n_hidden for res in seeds)})
        sizes[name] = rows
    cell = {(r["settings"]["k"], r["settings"]["T"]): r["result"] for r in by["grid"]}
    grid = {key: np.array([[cell[k, T][key] for T in s.grid_sizes] for k in s.grid_hidden])
            for key in ("test_loss", "train_loss", "train_accuracy", "test_accuracy")}
    fish = {}
    for task in FISH:
        for d in s.fish_bottlenecks:
            cell = {(r["settings"]["n"], r["settings"]["k"]): r["result"] for r in by["fish"]
                    if r["settings"]["task"] == task and r["settings"]["d"] == d}
            fish[task, d] = {key: np.array([[cell[n, k][key] for k in s.fish_hidden] for n in s.fish_features])
                             for key in ("relative_loss", "accuracy")}
    return relu, onehot, sizes, grid, fish


def sweep_summary(rows, s):
    """What the lesson adds to memorization.summary for the MLP: the triangle at the smallest T measured on
    centred hidden vectors (an affine read-out ignores their common offset), how close training came to the
    plane's floor, and the test-loss peak once the smallest T is left out."""
    sizes = [r["T"] for r in rows]
    first = rows[0]
    return {"smallest_T_centered_data_dimensionality_times_T_over_m":
            first["data_dimensionality_centered"] * first["T"] / s.n_hidden,
            "train_loss_over_floor": {str(r["T"]): r["train_loss"] / r["train_loss_floor"] for r in rows
                                      if r["train_loss_floor"] > 1e-6},          # T = 3: a floor of 0 (rounding)
            "test_loss_peak_T_beyond_smallest": memorization.peaks_beyond([[r["test_loss"] for r in rows]], sizes,
                                                                          sizes[0])[0]}


# %% Figures
def neuron_stacks(ax, W):
    """Per neuron j (a column), its weights W_ji from every feature i stacked: positive above 0, negative below,
    each segment coloured by feature i's superposition (as norm_bars: dark = alone, bright = shared)."""
    W = np.asarray(W)
    shared = colormaps[SUPERPOSITION_CMAP](np.sqrt(np.clip(metrics.superposition(W), 0, 1)) * 0.9)
    for j, row in enumerate(W):
        up = down = 0.0
        for i in np.argsort(-np.abs(row)):                       # the largest weight at the bottom of its stack
            bottom = up if row[i] > 0 else down
            ax.bar(j, row[i], bottom=bottom, color=shared[i], edgecolor="white", linewidth=0.4, width=0.8)
            if abs(row[i]) > 0.3:
                ax.annotate(str(i), (j, bottom + row[i] / 2), ha="center", va="center", fontsize=6, color="white")
            up, down = (up + row[i], down) if row[i] > 0 else (up, down + row[i])
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks(range(len(W)), [str(j) for j in range(len(W))], fontsize=7)
    ax.set_xlabel("neuron", fontsize=8)


def figure_relu_hidden(relu, s):
    fig, axes = figure(2, len(relu), width=2.2, height=2.4)
    limit = max(np.abs(r["W"]).max() for r in relu)
    for col, r in enumerate(relu):
        top = axes[0, col]
        top.imshow(r["W"], cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
        top.set_title(f"1 − S = {1 - r['sparsity']:.2f}\nW (neuron × feature)", fontsize=8)
        top.set_xlabel("feature i", fontsize=7)
        top.set_ylabel("neuron j", fontsize=7)
        neuron_stacks(axes[1, col], r["W"])
        axes[1, col].set_title(f"{describe_neurons(r['W'])['features_in_some_neuron']} features in a neuron",
                               fontsize=8)
    superposition_colorbar(fig, axes[1, :])
    fig.suptitle(f"ReLU-hidden model, n = {s.relu_features}, m = {s.relu_hidden}, importance {s.relu_decay}^i, dense "
                 f"(left) to sparse: first-layer weights (red +, blue −) and each neuron's features stacked "
                 f"(numbers: feature i); lowest loss of {s.relu_seeds} seeds", fontsize=10)
    return fig


def figure_one_hot(onehot, s):
    fig, axes = figure(len(onehot), 4, width=3.0, height=2.4, gridspec_kw={"width_ratios": [4, 1, 4, 4]})
    for row, r in zip(axes, onehot):
        W1, b1, W2, b2 = (np.array(r[key]) for key in ("W1", "b1", "W2", "b2"))
        pre = W1 + b1[:, None]
        out = (np.maximum(pre, 0).T @ W2.T + b2).T                      # column i: the output for e_i
        heatmap(row[0], W1, f"k = {r['k']}: W1 (neuron × input)", "input i", "neuron j")
        heatmap(row[1], b1[:, None], "b1", None, "neuron j")
        heatmap(row[2], pre, "pre-activations W1 e_i + b1\n(white: ≈ 0, at the ReLU's kink)", "input i", "neuron j")
        heatmap(row[3], out, f"outputs x'(e_i): accuracy {r['accuracy']:.2f}", "input i", "output feature")
        for ax in row:                                                  # whole-number ticks: neurons and inputs
            rows_, columns = ax.images[0].get_array().shape
            ax.set_yticks(range(0, rows_, max(1, rows_ // 8)))
            ax.set_xticks(range(0, columns, max(1, columns // 8)) if columns > 1 else [])
    fig.suptitle(f"Reading the dictionary: an MLP autoencoder on the {s.onehot_features} one-hot inputs "
                 f"(lowest loss of {s.onehot_seeds} seeds per hidden size k)", fontsize=10)
    return fig


def figure_features_and_data(rows, name, s):
    """Per T (columns): features before and after the ReLU, hidden vectors before the bias (b1 as an arrow)
    and after the ReLU."""
    fig, axes = figure(4, len(rows), width=2.0, height=2.1)
    for col, r in enumerate(rows):
        W1, h, b1 = (np.asarray(r[key]) for key in ("W", "h", "b"))
        unseen = "" if r["boxiness_unseen"] is None else f" (unseen {r['boxiness_unseen']:.2f})"
        features_in_plane(axes[0, col], W1, f"T = {r['T']}: columns of W1\nbox-ness {r['boxiness']:.2f}{unseen}")
        points_in_plane(axes[1, col], np.maximum(W1.T + b1, 0), "features after the ReLU\nReLU(W1 e_i + b1)",
                        color=COLORS["generalise"])
        per_point = r["T"] / s.n_hidden                               # D_data T/m: 1 for a regular T-gon
        points_in_plane(axes[2, col], h, f"W1 x_t (no bias), b1 →\nD_data T/m = "
                        f"{r['data_dimensionality'] * per_point:.2f}, centred "
                        f"{r['data_dimensionality_centered'] * per_point:.2f}")
        limit = 1.25 * max(np.abs(h).max(), np.abs(b1).max(), 0.1)
        axes[2, col].annotate("", xy=b1, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=COLORS["bias"]))
        axes[2, col].set_xlim(-limit, limit)
        axes[2, col].set_ylim(-limit, limit)
        points_in_plane(axes[3, col], np.maximum(h + b1, 0),
                        f"ReLU(W1 x_t + b1)\ntrain {r['train_loss']:.3f} (floor {r['train_loss_floor']:.3f}), "
                        f"test {r['test_loss']:.2f}")
    for ax, label in zip(axes[:, 0], ("features (before)", "features (after ReLU)", "training points (pre-bias)",
                                     "training points (after ReLU)")):
        ax.set_ylabel(label, fontsize=8)
    init, decay = variant(name)
    fig.suptitle(f"MLP autoencoder, n = {s.n_features}, k = {s.n_hidden} neurons, S = {s.sparsity}: {init} init, "
                 f"weight decay {decay:g}, best of {s.seeds} seeds ({s.small_T_seeds} up to T = {s.small_T}), "
                 f"{s.tiny_T_steps:,} steps up to T = {s.tiny_T}, {s.steps:,} beyond", fontsize=10)
    return fig


def figure_loss(sizes, s):
    fig, axes = figure(1, 3, width=4.6, height=3.8)
    styles = dict(zip(s.sweeps, ("o-", "s--", "^-.")))
    colors = dict(zip(s.sweeps, ("tab:blue", "tab:cyan", "tab:purple")))
    for name, rows in sizes.items():
        T = [r["T"] for r in rows]
        axes[0, 0].plot(T, [r["test_loss"] for r in rows], styles[name], color=colors[name], label=f"test, {name}")
        axes[0, 0].plot(T, [max(r["train_loss"], 1e-4) for r in rows], styles[name], color=colors[name], alpha=0.4,
                        label=f"train, {name}")
        axes[0, 0].plot(T, [max(r["train_loss_floor"], 1e-4) for r in rows], ":", color=colors[name], lw=1,
                        label="floor: best 2-D affine plane" if name == s.sweeps[0] else None)
        axes[0, 1].plot(T, [r["seeds_with_every_neuron_alive"] / len(r["seed_train_losses"]) for r in rows],
                        styles[name], color=colors[name], label=name)
        axes[0, 2].plot(T, [r["boxiness"] for r in rows], styles[name], color=colors[name], label=name)
        unseen = [(r["T"], r["boxiness_unseen"]) for r in rows if r["boxiness_unseen"] is not None]
        if unseen:
            axes[0, 2].plot(*zip(*unseen), "x", color=colors[name], ms=7,
                            label=f"{name}: features in no training point")
    axes[0, 0].axhline(1.0, color="grey", ls=":", lw=1, label="predicting x' = 0")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("loss (1/T) Σ_t ||x_t − x'_t||²")
    axes[0, 1].set_ylabel(f"fraction of seeds with all {s.n_hidden} neurons alive")
    axes[0, 2].axhline(0.51, color="grey", ls=":", lw=1, label="uniform: 0.51")
    axes[0, 2].axhline(0.29, color="grey", ls="--", lw=1, label="Gaussian: 0.29")
    axes[0, 2].set_ylabel("box-ness of W1's columns")
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_xlabel("training-set size T")
        ax.legend(fontsize=7)
    fig.suptitle("Train and test loss, neurons that survive training, and the shape of the feature cloud, "
                 "against T (init, weight decay)", fontsize=10)
    return fig


def figure_grid(grid, s):
    fig, axes = figure(1, 3, width=4.2, height=3.4)
    grid_image(axes[0, 0], np.log10(grid["test_loss"]), s.grid_hidden, s.grid_sizes, "log10 test loss", "",
               row_name="hidden size k")
    for ax, key in zip(axes[0, 1:], ("train_accuracy", "test_accuracy")):
        grid_image(ax, grid[key], s.grid_hidden, s.grid_sizes, key.replace("_", " ") + " (argmax of x' = of x)", "",
                   row_name="hidden size k", cmap="magma", vmin=0, vmax=1)
    fig.suptitle(f"Hidden size × T, n = {s.n_features}, S = {s.sparsity}, weight decay {s.grid_weight_decay:g}, "
                 f"one seed, {s.grid_steps:,} steps", fontsize=10)
    return fig


def figure_fish(fish, s):
    panels = [(task, d) for task in FISH for d in s.fish_bottlenecks]
    fig, axes = figure(2, len(panels), width=3.0, height=2.8)
    for col, (task, d) in enumerate(panels):
        grid_image(axes[0, col], fish[task, d]["relative_loss"], s.fish_features, s.fish_hidden,
                   f"{FISH[task]}, d = {d}\nloss / mean ||target||²", "", row_name="features n",
                   column_name="hidden size k", vmin=0, vmax=1)
        grid_image(axes[1, col], fish[task, d]["accuracy"], s.fish_features, s.fish_hidden,
                   f"{FISH[task]}, d = {d}\npoints looked up from x'", "", row_name="features n",
                   column_name="hidden size k", cmap="magma", vmin=0, vmax=1)
    fig.suptitle(f"Limits of reconstruction through a random embedding E (d × n): {s.fish_points:,} points, "
                 f"S = {s.fish_sparsity}, {s.fish_steps:,} steps", fontsize=10)
    return fig


def draw(relu, onehot, sizes, grid, fish, s, out):
    save_figure(figure_relu_hidden(relu, s), out / "relu_hidden.png")
    save_figure(figure_one_hot(onehot, s), out / "one_hot.png")
    for name, rows in sizes.items():
        shown = [r for r in rows if r["T"] in s.shown_sizes]
        save_figure(figure_features_and_data(shown, name, s), out / f"features_and_data_{name.replace(' ', '_')}.png")
    save_figure(figure_loss(sizes, s), out / "loss.png")
    save_figure(figure_grid(grid, s), out / "grid.png")
    save_figure(figure_fish(fish, s), out / "fish.png")


# %% The numbers behind each figure
def fish_summary(fish, s):
    """The two claims of the fish grids, as numbers: in big fish the hidden size moves accuracy and loss more
    than the bottleneck d does, and small fish recovers more than big fish (same n, d, k)."""
    big = {key: np.stack([fish["big", d][key] for d in s.fish_bottlenecks]) for key in ("accuracy", "relative_loss")}
    summary = {}
    for key, values in big.items():                                   # values: (d, n, k)
        summary[f"big_fish_{key}_change_over_hidden"] = float(np.abs(values[..., -1] - values[..., 0]).mean())
        summary[f"big_fish_{key}_change_over_bottleneck"] = float((values.max(0) - values.min(0)).mean())
    small, big_acc = (np.stack([fish[task, d]["accuracy"] for d in s.fish_bottlenecks]) for task in ("small", "big"))
    summary["small_minus_big_accuracy_mean"] = float((small - big_acc).mean())
    summary["small_at_least_big_accuracy_fraction"] = float((small >= big_acc - 1e-9).mean())
    return summary


def main(s, out, resume=False):
    """Train everything (a sweep over two processes), draw, write metrics.json. resume: keep the groups an
    interrupted run already finished (saved in out/runs.jsonl) instead of starting over."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = sweep(train_group, sweep_points(s), group_by=("experiment", "group"), results=out / "runs.jsonl",
                    resume=resume, workers=s.workers, desc="lesson 03: groups of models")
    relu, onehot, sizes, grid, fish = collect(records, s)
    draw(relu, onehot, sizes, grid, fish, s, out)

    relu_rows = [{"sparsity": r["sparsity"], "loss": r["loss"], "seed_losses": r["seed_losses"],
                  **describe_neurons(r["W"])} for r in relu]
    metrics_ = {
        "settings": asdict(s),
        "relu_hidden": relu_rows,
        "relu_dense_min_top_share": min(relu_rows[0]["top_feature_share"]),
        "relu_sparse_features_in_some_neuron": relu_rows[-1]["features_in_some_neuron"],
        "one_hot": [{"k": r["k"], "loss": r["loss"], "accuracy": r["accuracy"],
                     **read_dictionary(r["W1"], r["b1"], r["W2"], r["b2"])} for r in onehot],
        "sizes": {name: {"rows": [{k: v for k, v in r.items() if k not in memorization.ARRAYS} for r in rows],
                         **memorization.summary(rows, s.n_hidden), **sweep_summary(rows, s)}
                  for name, rows in sizes.items()},
        "grid": {"hidden": list(s.grid_hidden), "sizes": list(s.grid_sizes),
                 **{key: values.tolist() for key, values in grid.items()},
                 "test_loss_peak_T_per_k_beyond_T_3": memorization.peaks_beyond(grid["test_loss"], s.grid_sizes, 3)},
        "fish": {"features": list(s.fish_features), "hidden": list(s.fish_hidden),
                 **{f"{task} d={d}": {key: values.tolist() for key, values in cells.items()}
                    for (task, d), cells in fish.items()},
                 **fish_summary(fish, s)},
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "metrics.json", metrics_)
    report(metrics_)
    return metrics_


def report(m):
    print("\nReLU-hidden model, lowest-loss seed per sparsity:")
    for r in m["relu_hidden"]:
        print(f"  1 - S = {1 - r['sparsity']:.2f}: features per neuron {r['features_per_neuron']}, top-feature share "
              f"{[round(v, 2) for v in r['top_feature_share']]}, {r['features_in_some_neuron']} features in a neuron")
    print("one-hot dictionary:")
    for r in m["one_hot"]:
        print(f"  k = {r['k']:3d}: loss {r['loss']:.3f}, accuracy {r['accuracy']:.2f}, b1 > 0 for "
              f"{r['b1_positive']:.0%} of neurons, negative weights lifted to ~0 by b1: "
              f"{r['negative_weights_lifted_to_zero']:.0%}")
    for name, sweep_ in m["sizes"].items():
        print(f"T sweep, {name}:  T  train (floor)  test  train acc  test acc  alive  seeds all alive  "
              f"D_data T/m (centred)  ||b2||  box-ness (unseen features)")
        for r in sweep_["rows"]:
            unseen = "" if r["boxiness_unseen"] is None else f" ({r['boxiness_unseen']:.2f})"
            per_point = r["T"] / m["settings"]["n_hidden"]
            print(f"  {r['T']:5d} {r['train_loss']:7.3f} ({r['train_loss_floor']:.3f}) {r['test_loss']:7.3f} "
                  f"{r['train_accuracy']:6.2f} {r['test_accuracy']:8.3f} {r['alive']:5d} "
                  f"{r['seeds_with_every_neuron_alive']:4d}/{len(r['seed_train_losses'])} "
                  f"{r['data_dimensionality'] * per_point:7.2f} ({r['data_dimensionality_centered'] * per_point:.2f}) "
                  f"{r['b2_norm']:6.2f} {r['boxiness']:8.2f}{unseen}")
        print(f"  test loss peaks at T = {sweep_['test_loss_peak_T']}, beyond the smallest T at "
              f"T = {sweep_['test_loss_peak_T_beyond_smallest']}")
    g = m["grid"]
    print(f"grid: test-loss peak T per hidden size {dict(zip(g['hidden'], g['test_loss_peak_T_per_k_beyond_T_3']))}")
    f = m["fish"]
    print(f"fish: big-fish accuracy changes by {f['big_fish_accuracy_change_over_hidden']:.2f} over the hidden sizes "
          f"and by {f['big_fish_accuracy_change_over_bottleneck']:.2f} over the bottlenecks; small fish minus big "
          f"fish accuracy {f['small_minus_big_accuracy_mean']:+.2f} (small >= big in "
          f"{f['small_at_least_big_accuracy_fraction']:.0%} of cells)")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/03_mlp_block", description=__doc__)
    main(settings, options.out, options.resume)
