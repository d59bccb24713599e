"""Lesson 04 — Memorization in the final layer: a toy unembedding trained with cross-entropy.

Replicates the "final layer" part of Hobbhahn 2023, "More findings on memorization and double descent"; see
../shared/SETTINGS.md ("Memorization in toy models"). Lesson 02's experiment, with the loss of a language
model's last layer: n features go down into m dimensions and back up into n classes, and the model is
trained with cross-entropy to name a point's class. The models, exactly (toygrad/unembedding.py):

- T sweep and grid, "tied":   logits = Wᵀ W x + b            (no ReLU; W: (m, n), b: (n,))
- T sweep, "untied":          logits = W2 W1 x + b           (W1: (m, n), W2: (n, m), independent)
  trained on hard labels (the class is the largest feature, argmax_i x_i) or soft labels (x / sum_i x_i is
  the target distribution). Xavier-normal weights, zero bias, as the bottleneck of lessons 01-02.
- the grid's MSE counterpart:  x' = ReLU(Wᵀ W x + b)          (lesson 02's bottleneck, superposition.py)
- dictionaries: logits = W2 ReLU(W1 x + b1) + b2              (W1: (h, n_in), W2: (classes, h): lesson 03's
  MLP block, mlp_block.py, PyTorch's Linear init) on one-hot inputs, class i for e_i (and n + i for -e_i).
  "The first bias" is b1; the activations are a = ReLU(W1 x + b1), one point in the plane when h = 2.

What you will see (numbers from the default run, in metrics.json; "reproduced" is measured against the claims
of Hobbhahn's post as ../shared/SETTINGS.md and issue 5 state them)
- loss.png, double descent with hard labels (tied): the test loss is 4.97 at T = 3, rises to a peak of 6.38
  at T = 50 and falls to 4.56 at T = 1,000, below the 4.61 of predicting every class alike (ln n): a bump of
  1.28x the larger end. Reproduced. Train loss rises from 0.02 (T = 3, all points memorised) to 3.70.
- variants.png, test accuracy is NOT its mirror here: 0.018 to 0.039 at every T (chance: 0.01), 0.027 at the
  peak and 0.029 at T = 1,000. Two dimensions cannot name one of 100 classes from points with ~10 features,
  memorised or not; the test loss peaks because the memorising model is confidently wrong (||W|| peaks at
  T = 100, 24.8 against 11.8 at T = 3 and 17.3 at T = 1,000), not because it is wrong more often. The mirror
  was also looked for and not found: in trials at m = 2, 5, 8 and 13 and S = 0.9 to 0.99 (AdamW) the test
  accuracy never dipped where the test loss peaked (it rose or stayed flat), and with SGD at m = 5 it fell from
  0.13 to 0.09 into the peak but recovered only to 0.10: at small T the T training points cover at most T of
  the 100 classes, and at the peak the loss is high because wrong answers are confident, not more frequent.
  Soft labels: a smaller bump (peak 5.29 at T = 10, 1.12x); untied weights: a larger one (8.51 at T = 50, 1.73x).
- features_and_data.png, dimensionality.png: at T = 3 the hidden vectors form a triangle (D_data x T / m =
  0.997, a regular T-gon gives 1); data dimensionality then falls as m / T and crosses the feature
  dimensionality at T ≈ 143. Unlike lesson 02's pentagon, cross-entropy keeps all 100 features in play (feature
  dimensionality 0.02 to 0.03 at every T): every class needs a direction to be named at all.
- features.png, squareness.png, squares (the metric and its null are defined below): hard labels give
  features mildly square in the transition and round once the model generalises: squareness 0.27, 0.28, 0.24,
  0.23, 0.28 for T = 10, 20, 50, 100, 200 (the null of random angles: 0.10 to 0.12), then 0.16 at T = 500 and
  0.03 at T = 1,000, the square's corners within 8° of the diagonals up to T = 200 (angles in metrics.json).
  Weakly reproduced: an X more than a square. Soft labels: 0.04 to 0.15 from T = 10 on, about their null (0.11
  to 0.13): the squares do NOT remain. Untied: the columns of W1 are the squarest of the three (0.50 at T = 100,
  0.37 at the peak, 0.31 at T = 1,000) and the rows of W2 no rounder (0.24 at the peak, 0.31 at T = 1,000): NOT
  the circles Hobbhahn reports. Trained with SGD instead, every variant is round (see "Squares").
- dictionary.png (20 one-hot inputs, 10 neurons): accuracy 1.00 after 1,000 and after 3,000 epochs, the loss
  0.069 then 0.0044. b1 is positive in every neuron (mean 0.75, then 0.94): it lifts the activations above 0,
  and each input uses 8.75 (8.6) of the 10 neurons: the dictionary is a dense code read out by W2 (55% of its
  entries negative), not one neuron per entry.
- two_neurons.png (2 neurons, 64 one-hot inputs, 64 classes): accuracy 1.00; b1 = (8.1, 8.2) lifts 84% of the
  inputs into the open positive quadrant (both neurons on). 42% of the pairs of inputs have activations with
  cosine similarity above 0.9 (mean 0.75), yet every input is told apart: reproduced in kind, though far from
  "all near 1" (uniform angles over a quadrant would give 49%). The rows of W2 lie on an arc in the 2nd and 4th
  quadrants: each class reads one neuron positively and the other negatively (48% of W2 < 0). Weight decay 1
  instead of 0.01: accuracy 0.11, ||W|| 14.7 instead of 204.4, activations pinned to the axes. Reproduced.
  Antipodal inputs (±e_i, 32 pairs, 64 classes): accuracy 0.88; 9 of the 64 inputs switch both neurons off,
  and their classes get W2 rows with both entries negative (the cluster in the 3rd quadrant), so only the one
  with the largest b2 can win (56 of 64 right). Each neuron serves both signs (share of its activation from
  +e_i: 0.50, 0.46; 50% of W1 > 0): "half the weights for each sign" holds only in that sense, with 2 neurons.
- grid.png, hidden size m x T: cross-entropy memorises with fewer dimensions than MSE: train accuracy
  >= 0.95 for T = 10 and 30 from m = 5, T = 100 from m = 8, T = 300 at m = 13, where the MSE bottleneck needs
  m = 8 for T = 10, 13 for T = 30 and no m <= 13 memorises T = 100 ("memorising_m_per_T"). That much of "small
  hidden sizes barely limit it" is reproduced; its test accuracy is limited by m as much as MSE's (T = 1,000:
  0.014 at m = 1 to 0.269 at m = 13, against 0.030 to 0.294).

Run it
    python lessons/04_final_layer.py           # 75 to 86 s on 2 quiet cores (44 s without the SGD control)
    python lessons/04_final_layer.py --quick   # 9 s (tests/test_lesson04.py; n = 40, T up to 100)
Figures and metrics.json go to figures/04_final_layer/ (--out DIR to change); --resume keeps the groups an
interrupted run finished (out/runs.jsonl).

Scaled down (and why)
- n = 100 features, S = 0.9, instead of lesson 02's n = 1,000, S = 0.99: the same 10 features per point,
  and by Jermyn's T(1 - S) ≈ 10 the transition moves 10x earlier, to T ≈ 100. Cross-entropy over 1,000 classes
  costs a softmax over 1,000 logits per point and step; in a trial at n = 1,000 the test loss was still at its
  peak at T = 1,000 (25.3, against 6.9 at T = 5; 2,000 steps at lr 1e-2), so the second descent would need
  T = 5,000 and more: far beyond 5 minutes. At n = 1,000 with 2,000 steps at lr 1e-3 the features fill a square
  at every T, not only in the transition (see "Squares" below).
- 5,000 full-batch steps of AdamW (lr 1e-3 warmed up over 5%, cosine decay, weight decay 1e-2), as lesson 02;
  2 seeds per T on the instance axis, the lowest training loss kept; 5,000 test points. The SGD control trains
  the same points from the same initial weights with plain SGD, lr 0.3 and weight decay 3.3e-5 (lr x wd = 1e-5,
  AdamW's shrink per step), the same schedule and steps.
- Dictionaries: AdamW at constant lr, 1e-3 for n = 20; 3e-2 for the 2-neuron models, which memorise 64 classes
  only slowly at 1e-3 (accuracy 0.3 after 3,000 steps and 0.7 after 10,000, in a trial), 4 seeds each.
- The grids: m up to 13, T up to 1,000, one seed, 2,000 steps.

Squares
The metric (unembedding.squareness) is the four-fold order of the features' angles,
|sum_i ||W_i||² exp(4i θ_i)| / sum_i ||W_i||²: 1 for features on 4 directions 90° apart (weighted by squared
norm, so the tiny ones do not count), 0 for a circle or a pentagon; its angle says where the 4 directions
point, ±45° being the diagonals. Its null (unembedding.squareness_null) is the squareness the same norms would
have at independent, uniformly random angles: about 0.89 / sqrt(k) for k features of equal norm. The squares here
are an imprint of Adam, which divides each coordinate's step by that coordinate's running gradient size: while a
gradient keeps its sign, every coordinate of W moves by about lr per step whatever the size of the gradient, and
weights that are still growing fill the L∞ ball (a square) with features crowding its diagonals. The evidence:
with AdamW, wherever the squareness exceeds 0.2 its 4 directions lie within 10° of the diagonals (a
rotation-invariant loss has no reason to prefer the axes; a per-coordinate optimiser does); in the n = 1,000
trial with 2,000 steps at lr 1e-3 (far from converged) the features filled a square at every T (squareness 0.6 to
0.9), against 0.1 to 0.3 beyond T = 5 at lr 1e-2. And the SGD control (squareness.png, the last row of
features.png; "hard_sgd", "soft_sgd", "untied_sgd" in metrics.json) is round. Hard labels: squareness 0.09, 0.05,
0.02, 0.06, 0.12, 0.08, 0.09 for T = 10, 20, 50, 100, 200, 500, 1,000, at or below its null at every one (0.24,
0.18, 0.13, 0.11, 0.12, 0.12, 0.12), against AdamW's 0.27, 0.28, 0.24, 0.23, 0.28, 0.16, 0.03 (2.2 to 2.7x its
null up to T = 200); the corners fall anywhere (-41° to 31°: SGD's steps, the loss and the initial weights are
all unchanged by a rotation of the plane). Untied: SGD's W1 columns 0.06 to 0.23 from T = 10 on (nulls 0.14 to
0.19; the 0.23, at T = 500, has its corners 6° from an axis), its W2 rows 0.06 to 0.18, against AdamW's 0.29 to
0.50 and 0.16 to 0.66. Soft labels are about at the null with either optimiser from T = 20 on (SGD 0.02 to 0.12,
AdamW 0.04 to 0.11, nulls 0.11 to 0.13). SGD is not the weaker fit: it memorises small sets further (train loss
0.59 at T = 50, AdamW's 1.33), fits T = 1,000 about as far (3.73, 3.70), and its test-loss bump is larger (12.57
at T = 20, 2.42x the larger end; untied 12.35, 2.26x).

Learning objectives
- See memorisation and double descent with a classification loss, and why cross-entropy's test loss blows up
  in the transition (confident wrong answers) while its accuracy barely moves.
- Read a dictionary off the weights of a small MLP: which neurons each input uses, what b1 does.
- Know what cosine similarity of activations does not tell you: whether the model can tell inputs apart.
- Recognise an optimiser's fingerprint (Adam's squares) in a picture of weights, and test it against a control
  (SGD) and a null (random angles).
"""
# %% Imports
import time
from dataclasses import asdict, dataclass

import numpy as np

import toygrad as tg
from toygrad import cli, memorization, mlp_block
from toygrad import superposition as sp
from toygrad import unembedding as ue
from toygrad.datasets import fixed_sparse_dataset, one_hot
from toygrad.files import save_figure, write_json
from toygrad.plots import COLORS, figure, heatmap
from toygrad.plots_superposition import (dimensionality_against_T, features_and_data, features_in_plane, grid_image,
                                         loss_against_T, points_in_plane)
from toygrad.sweep import sweep
from toygrad.train import fit


# %% Settings, each with its reason
@dataclass
class Settings:
    n_features: int = 100        # 10x fewer than lesson 02, with S below: the same 10 features per point
    n_hidden: int = 2            # a plane, to look at the features
    sparsity: float = 0.9        # with n = 100: ~10 features present per point, as n = 1,000, S = 0.99
    sizes: tuple[int, ...] = (3, 5, 10, 20, 50, 100, 200, 500, 1000)   # training-set sizes T
    seeds: int = 2               # per T and variant, on the instance axis; the lowest training loss is kept
    steps: int = 5_000           # full-batch steps, as lesson 02
    lr: float = 1e-3             # AdamW, warmed up linearly over the first 5% of steps, then cosine decay to 0
    warmup: float = 0.05
    weight_decay: float = 1e-2   # Henighan et al.'s
    sgd_lr: float = 0.3          # the control for Adam's squares: the T sweep again with plain SGD (same schedule
                                 # and steps); at 0.3 it fits T = 1,000 about as far as AdamW (train loss 3.73
                                 # against 3.70); 0.1 to 10 were as round in a trial (T = 10, 50, 1,000)
    test_points: int = 5_000     # fresh points from the same distribution
    shown_sizes: tuple[int, ...] = (3, 10, 50, 100, 200, 1000)   # the columns of the feature figures
    dict_features: int = 20      # Hobbhahn's one-hot dictionary: n = 20 inputs ...
    dict_hidden: int = 10        # ... through 10 neurons
    dict_epochs: tuple[int, ...] = (1000, 3000)   # Hobbhahn's two lengths (full batch: an epoch is a step)
    dict_lr: float = 1e-3        # AdamW at constant lr, PyTorch's default
    pair_inputs: int = 64        # the 2-neuron model: 64 one-hot inputs, 64 classes
    pair_steps: int = 4_000      # full batch: every seed memorises all 64 classes at lr 3e-2
    pair_lr: float = 3e-2        # at 1e-3 the 2 neurons reach 0.7 accuracy in 10,000 steps (a trial)
    pair_decays: tuple[float, ...] = (1e-2, 1.0)  # "low" (AdamW's default) against 1
    pair_seeds: int = 4          # per weight decay, on the instance axis; the lowest loss is shown
    grid_hidden: tuple[int, ...] = (1, 2, 3, 5, 8, 13)          # the m axis of the m x T grids
    grid_sizes: tuple[int, ...] = (10, 30, 100, 300, 1000)      # their T axis, around the transition (T ≈ 100)
    grid_steps: int = 2_000      # one seed per cell: a coarser picture than the T sweep
    workers: int = 2             # processes training groups side by side: one per core of a 2-core laptop
    seed: int = 0                # every experiment draws from its own generator seeded from this

    @property
    def sgd_weight_decay(self):
        """SGD's (coupled) weight decay: sgd_lr x it = lr x weight_decay, each step shrinks W as AdamW's does."""
        return self.lr * self.weight_decay / self.sgd_lr


QUICK = dict(n_features=40, sparsity=0.75, sizes=(3, 10, 30, 100), seeds=2, steps=800, lr=6e-3,
             test_points=1_000, shown_sizes=(3, 30), dict_epochs=(200, 600), dict_lr=3e-3, pair_inputs=16,
             pair_steps=1_000, pair_seeds=2, grid_hidden=(1, 3, 8), grid_sizes=(10, 60), grid_steps=400)
VARIANTS = {"hard": dict(target="hard", tied=True),       # the three models of the T sweep, by name
            "soft": dict(target="soft", tied=True),
            "untied": dict(target="hard", tied=False)}
RUNS = {v + suffix: (v, optimizer) for optimizer, suffix in (("adamw", ""), ("sgd", "_sgd")) for v in VARIANTS}
"""The T sweep's runs by name: every variant with AdamW (the lesson's) and with SGD ("hard_sgd", ...: the control)."""


# %% Every training of the lesson as points of one sweep
# A point names one model and the settings that produce it; points that share "experiment" and "group" train
# together on the instance axis, in one of `workers` processes (toygrad.sweep). Results are saved as groups
# finish: --resume continues an interrupted run.
def sweep_points(s):
    common = dict(seed=s.seed, weight_decay=s.weight_decay)
    data = dict(n=s.n_features, sparsity=s.sparsity, test_points=s.test_points, warmup=s.warmup)
    optimizers = {"adamw": dict(common, lr=s.lr), "sgd": dict(common, lr=s.sgd_lr, weight_decay=s.sgd_weight_decay)}
    sizes = [dict(experiment="sizes", group=f"{name} T={T}", variant=v, optimizer=o, T=T, k=k, m=s.n_hidden,
                  steps=s.steps, **data, **optimizers[o])
             for T in sorted(s.sizes, reverse=True) for name, (v, o) in RUNS.items() for k in range(s.seeds)]
    grid = [dict(experiment="grid", group=f"{loss} T={T}", loss=loss, T=T, m=m, steps=s.grid_steps, **data,
                 **optimizers["adamw"])
            for T in sorted(s.grid_sizes, reverse=True) for loss in ("cross_entropy", "mse") for m in s.grid_hidden]
    dictionary = [dict(experiment="dictionary", group="one-hot", n=s.dict_features, h=s.dict_hidden, epochs=e,
                       last=max(s.dict_epochs), lr=s.dict_lr, **common) for e in s.dict_epochs]
    pair = dict(h=2, steps=s.pair_steps, lr=s.pair_lr, seed=s.seed)
    two_neurons = [dict(experiment="two_neurons", group="one-hot", n=s.pair_inputs, antipodal=False, k=k,
                        weight_decay=wd, **pair) for wd in s.pair_decays for k in range(s.pair_seeds)]
    antipodal = [dict(experiment="two_neurons", group="antipodal", n=s.pair_inputs // 2, antipodal=True, k=k,
                      weight_decay=s.pair_decays[0], **pair) for k in range(s.pair_seeds)]
    return two_neurons + antipodal + sizes + grid + dictionary     # long groups first: the workers end together


def train_group(points):
    """Train one group of points (in a worker process); one result dict per point."""
    return {"sizes": train_size, "grid": train_grid_column, "dictionary": train_dictionary,
            "two_neurons": train_two_neurons}[points[0]["experiment"]](points)


# %% Data: a fixed set of sparse points, and its labels
def sparse_points(p, instances, *salt):
    """Training and test points for one group: (instances, T, n) and (instances, test_points, n), unit norm.
    The generator is seeded by (seed, T, *salt): every variant of one T sees the same points."""
    rng = np.random.default_rng([p["seed"], p["T"], *salt])
    probability = np.full(instances, 1 - p["sparsity"])
    x_train = fixed_sparse_dataset(rng, probability, p["T"], p["n"])
    return rng, x_train, fixed_sparse_dataset(rng, probability, p["test_points"], p["n"])


# %% The T sweep: the seeds of one T and one variant on the instance axis
def train_size(points):
    """Every seed of one T for one variant and optimizer; the seed with the lowest train loss is described (W:
    the features, i.e. W_in; h = W_in x for the training points) with its accuracies, squareness and the
    squareness its features would have at random angles (the null)."""
    p, seeds = points[0], len(points)
    variant = VARIANTS[p["variant"]]
    rng, x_train, x_test = sparse_points(p, seeds)
    t_train, t_test = ue.targets(x_train, variant["target"]), ue.targets(x_test, variant["target"])
    params = ue.init_params(rng, seeds, p["n"], p["m"], tied=variant["tied"])
    ue.train_fixed(params, x_train, t_train, steps=p["steps"], lr=p["lr"], weight_decay=p["weight_decay"],
                   warmup=p["warmup"], optimizer=p["optimizer"])
    train, test = ue.loss_value(params, x_train, t_train), ue.loss_value(params, x_test, t_test)
    train_acc, test_acc = ue.accuracy(params, x_train), ue.accuracy(params, x_test)
    results = [{"train_loss": float(train[k]), "test_loss": float(test[k])} for k in range(seeds)]
    k = int(np.argmin(train))
    W_in, W_out = (W.data[k] for W in ue.weights(params))
    best = memorization.describe(p["T"], W_in, x_train[k] @ W_in.T, params["b"].data[k], train[k], test[k])
    square, angle = ue.squareness(W_in)
    best.update(train_accuracy=float(train_acc[k]), test_accuracy=float(test_acc[k]), squareness=square,
                square_angle=angle, squareness_null=ue.squareness_null(np.linalg.norm(W_in, axis=0)),
                squareness_out=ue.squareness(W_out)[0], W_out=W_out.round(6).tolist())
    results[k]["best"] = best
    return results


# %% The m x T grids: each T trains every m at once on the instance axis, for cross-entropy and for MSE
def train_grid_column(points):
    """Test loss and train and test accuracy of one T for every m of the group (one seed each), with cross-
    entropy on hard labels (the tied unembedding) or with MSE (lesson 02's bottleneck). W is stored with
    max(m) rows and instance i reads only its first m_i (superposition.init_ranked). Accuracy: the largest
    output (for MSE before the ReLU, so that outputs tied at 0 do not count) is the largest feature."""
    p, ms = points[0], np.array([q["m"] for q in points])
    rng, x_train, x_test = sparse_points(p, len(ms), 1)
    params = sp.init_ranked(rng, ms, p["n"])
    if p["loss"] == "cross_entropy":
        t_train, t_test = ue.targets(x_train, "hard"), ue.targets(x_test, "hard")
        ue.train_fixed(params, x_train, t_train, steps=p["steps"], lr=p["lr"], weight_decay=p["weight_decay"],
                       warmup=p["warmup"], rank=ms)
        test_loss = ue.loss_value(params, x_test, t_test)
    else:
        optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=p["weight_decay"],
                             schedule=tg.schedule("warmup_cosine", total_steps=p["steps"], warmup=p["warmup"]))
        fit(lambda step: sp.reconstruction_loss(x_train, params["W"], params["b"], rank=ms), params, optimizer,
            p["steps"], log_every=p["steps"], progress=False)
        test_loss = sp.loss_value(params, x_test)
    train_acc, test_acc = ue.accuracy(params, x_train), ue.accuracy(params, x_test)
    return [{"test_loss": float(l), "train_accuracy": float(a), "test_accuracy": float(b)}
            for l, a, b in zip(test_loss, train_acc, test_acc)]


# %% Dictionaries: an MLP with cross-entropy on one-hot inputs
def one_hot_classes(n, instances, antipodal):
    """x: (instances, B, n) and labels (B,): e_i is class i; with antipodal, -e_i is class n + i too."""
    x = one_hot(n, instances)
    if antipodal:
        x = np.ascontiguousarray(np.concatenate([x, -x], axis=1))
    return x, np.arange(x.shape[1])


def describe_mlp(weights, k, x, y):
    """What instance k of an MLP ({name: array with an instance axis}) stored for the one-hot inputs
    x: (B, n): its weights, the activations a = ReLU(W1 x + b1): (B, h) and how alike they are, loss and accuracy."""
    W1, b1, W2, b2 = (weights[name][k].astype(np.float64) for name in ("W1", "b1", "W2", "b2"))
    a = np.maximum(x @ W1.T + b1, 0)
    logits = a @ W2.T + b2
    cosines = ue.cosine_similarities(a)                    # empty if fewer than 2 inputs activate any neuron
    return {"loss": float(tg.cross_entropy(logits, y).data), "accuracy": float((logits.argmax(-1) == y).mean()),
            "cosine_above_0.9": float((cosines > 0.9).mean()) if cosines.size else None,
            "cosine_mean": float(cosines.mean()) if cosines.size else None,
            "inputs_with_no_activation": int((a == 0).all(axis=1).sum()),
            "inputs_in_open_positive_quadrant": float((a > 0).all(axis=1).mean()),   # no activation cut to 0
            "active_neurons_per_input": float((a > 0).sum(axis=1).mean()),
            "W2_negative_fraction": float((W2 < 0).mean()), "b1_mean": float(b1.mean()),
            "weight_norm": float(np.sqrt((W1 ** 2).sum() + (W2 ** 2).sum())),
            "W1": W1.round(5).tolist(), "b1": b1.round(5).tolist(), "W2": W2.round(5).tolist(),
            "b2": b2.round(5).tolist(), "activations": a.round(5).tolist()}


MLP_ARRAYS = ("W1", "b1", "W2", "b2", "activations")


def train_dictionary(points):
    """n one-hot inputs through h neurons: one model trained for the longest length, with a copy of its weights
    at each shorter one (constant lr: the copy is the model trained that long)."""
    p = points[0]
    rng = np.random.default_rng([p["seed"], p["n"], 3])
    x, y = one_hot_classes(p["n"], 1, antipodal=False)
    params = mlp_block.init_mlp(rng, [p["h"]], p["n"], p["n"])
    optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=p["weight_decay"])
    run = fit(lambda step: tg.cross_entropy(mlp_block.mlp(params, x), y), params, optimizer, p["last"],
              log_every=p["last"], snapshot_at=[q["epochs"] for q in points], progress=False)
    return [describe_mlp(run.snapshots[q["epochs"]], 0, x[0], y) for q in points]


def train_two_neurons(points):
    """2 neurons for many one-hot (or antipodal) inputs: every (weight decay, seed) of the group at once."""
    p = points[0]
    rng = np.random.default_rng([p["seed"], p["n"], 4 + p["antipodal"]])
    x, y = one_hot_classes(p["n"], len(points), p["antipodal"])
    params = mlp_block.init_mlp(rng, [p["h"]] * len(points), p["n"], len(y))
    decays = np.array([q["weight_decay"] for q in points])
    optimizer = tg.AdamW(params.values(), lr=p["lr"], weight_decay=decays)
    fit(lambda step: tg.cross_entropy(mlp_block.mlp(params, x), y), params, optimizer, p["steps"],
        log_every=p["steps"], progress=False)
    weights = {name: p.data for name, p in params.items()}
    return [describe_mlp(weights, k, x[k], y) for k in range(len(points))]


def sign_shares(activations, n):
    """Antipodal inputs: per neuron, the share of its activation that the positive inputs e_i cause,
    sum_i a(e_i) / sum_i (a(e_i) + a(-e_i)); 1 or 0 for a neuron that serves one sign only."""
    a = np.asarray(activations)
    total = a.sum(axis=0)
    return np.divide(a[:n].sum(axis=0), total, out=np.full(a.shape[1], 0.5), where=total > 0)


# %% Collecting the sweep's records into the lesson's tables
def collect(records, s):
    """rows[run]: the best seed of each T (memorization.describe's rows plus accuracies and squareness);
    grids[loss][key]: (m, T) arrays; dictionary {epochs: description}; two_neurons {name: the best seed}."""
    by = {}
    for r in records:
        by.setdefault(r["settings"]["experiment"], []).append(r)
    rows = {}
    for name, (v, o) in RUNS.items():
        rows[name] = []
        for T in sorted(s.sizes):
            seeds = [r["result"] for r in by["sizes"]
                     if (r["settings"]["variant"], r["settings"]["optimizer"], r["settings"]["T"]) == (v, o, T)]
            best = next(res["best"] for res in seeds if "best" in res)
            rows[name].append({**best, "seed_train_losses": [res["train_loss"] for res in seeds]})
    grids = {}
    for loss in ("cross_entropy", "mse"):
        cell = {(r["settings"]["m"], r["settings"]["T"]): r["result"]
                for r in by["grid"] if r["settings"]["loss"] == loss}
        grids[loss] = {key: np.array([[cell[m, T][key] for T in s.grid_sizes] for m in s.grid_hidden])
                       for key in ("test_loss", "train_accuracy", "test_accuracy")}
    dictionary = {r["settings"]["epochs"]: r["result"] for r in by["dictionary"]}
    two_neurons = {}
    for r in by["two_neurons"]:
        q = r["settings"]
        name = "antipodal" if q["antipodal"] else f"weight_decay={q['weight_decay']:g}"
        if name not in two_neurons or r["result"]["loss"] < two_neurons[name]["loss"]:
            two_neurons[name] = r["result"]
    anti = two_neurons["antipodal"]
    anti["sign_share_per_neuron"] = sign_shares(anti["activations"], s.pair_inputs // 2).round(3).tolist()
    anti["W1_positive_fraction"] = float((np.asarray(anti["W1"]) > 0).mean())
    return rows, grids, dictionary, two_neurons


def memorising_m(train_accuracy, hidden, threshold=0.95):
    """Per T (a column of train_accuracy: (m, T)), the smallest m whose train accuracy reaches threshold: how
    many dimensions it takes to memorise T points; None where no m in the grid does."""
    return [next((int(m) for m, a in zip(hidden, column) if a >= threshold), None) for column in train_accuracy.T]


def sweep_summary(rows, n_hidden):
    """Per run, where the test loss peaks and what accuracy and squareness do there (memorization.summary
    plus the classification numbers). Squareness is compared beyond T = 10: with a handful of points only a
    few features are large, and 2 of them (orthogonal, or antipodal) already make a perfect "square"."""
    out = {}
    for v, vrows in rows.items():
        summary = memorization.summary(vrows, n_hidden)
        sizes = [r["T"] for r in vrows]
        peak = sizes.index(summary["test_loss_peak_T"])
        square = [r["squareness"] for r in vrows]
        beyond = [q for T, q in zip(sizes, square) if T > 10]
        ends = max(vrows[0]["test_loss"], vrows[-1]["test_loss"])
        out[v] = {**summary,
                  "test_loss_peak_over_ends": vrows[peak]["test_loss"] / ends,
                  "test_accuracy_at_peak": vrows[peak]["test_accuracy"],
                  "test_accuracy_smallest_and_largest_T": [vrows[0]["test_accuracy"], vrows[-1]["test_accuracy"]],
                  "test_accuracy_min_T": sizes[int(np.argmin([r["test_accuracy"] for r in vrows]))],
                  "squareness_at_peak": square[peak],
                  "squareness_max_beyond_T_10": max(beyond),
                  "squareness_peak_T_beyond_T_10": memorization.peaks_beyond([square], sizes, 10)[0],
                  "squareness_at_largest_T": square[-1],
                  "squareness_out_at_peak_and_largest_T": [vrows[peak]["squareness_out"], vrows[-1]["squareness_out"]]}
    return out


# %% Figures
STYLES = {"hard": ("o-", COLORS["test"]), "soft": ("s--", COLORS["train"]), "untied": ("^:", COLORS["weight"])}


def figure_features(rows, s):
    """The features (columns of W_in) of every variant at the shown T; for the untied model also the
    directions W_out reads each class along (rows of W2); last, the hard-label features trained with SGD."""
    panels = [(v, "W_in" if v == "untied" else "W") for v in VARIANTS] + [("untied", "W_out"), ("hard_sgd", "W")]
    fig, axes = figure(len(panels), len(s.shown_sizes), width=2.0, height=2.15)
    for i, (v, name) in enumerate(panels):
        for j, r in enumerate(r for r in rows[v] if r["T"] in s.shown_sizes):
            W = np.asarray(r["W"] if name != "W_out" else r["W_out"])
            square = r["squareness"] if name != "W_out" else r["squareness_out"]
            features_in_plane(axes[i, j], W, f"{v}, T = {r['T']}: {name}\nsquareness {square:.2f}", labels=False)
        axes[i, 0].set_ylabel(f"{v}: {name}", fontsize=8)
    fig.suptitle(f"Features in the plane (n = {s.n_features}, m = 2, S = {s.sparsity}): tied W on hard labels, on "
                 "soft labels, the untied model's W1 columns and W2 rows; last row: hard labels, SGD", fontsize=10)
    return fig


def figure_variants(rows, summary, s):
    """Test loss, test accuracy and squareness against T for the three variants (AdamW)."""
    fig, axes = figure(1, 3, width=4.3, height=3.5)
    for key, ax, label in (("test_loss", axes[0, 0], "test loss (cross-entropy)"),
                           ("test_accuracy", axes[0, 1], "test accuracy (argmax logit = argmax x)"),
                           ("squareness", axes[0, 2], "squareness of the features")):
        for v, (style, color) in STYLES.items():
            ax.plot([r["T"] for r in rows[v]], [r[key] for r in rows[v]], style, color=color, label=v)
            ax.axvline(summary[v]["test_loss_peak_T"], color=color, lw=0.8, alpha=0.5)
        ax.set_xscale("log")
        ax.set_xlabel("training-set size T")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    axes[0, 1].axhline(1 / s.n_features, color="grey", ls=":", lw=1, label="chance")
    fig.suptitle("Hard labels, soft labels, untied weights (thin lines: each one's test-loss peak)", fontsize=10)
    return fig


def figure_squareness(rows, s):
    """Per variant, AdamW against the SGD control: the squareness of the features against T with the null
    (the squareness the same norms would have at random angles), and the angle of the square's corners."""
    fig, axes = figure(2, len(VARIANTS), width=3.6, height=3.0)
    for j, (v, (style, color)) in enumerate(STYLES.items()):
        for name, label, line, fill in ((v, "AdamW", "-", color), (f"{v}_sgd", "SGD", "--", "white")):
            T = [r["T"] for r in rows[name]]
            axes[0, j].plot(T, [r["squareness"] for r in rows[name]], style[0] + line, color=color, mfc=fill,
                            label=label)
            axes[0, j].plot(T, [r["squareness_null"] for r in rows[name]], line, color="grey", lw=1,
                            label=f"{label}: null")
            axes[1, j].plot(T, [np.nan if r["square_angle"] is None else r["square_angle"] for r in rows[name]],
                            style[0], color=color, mfc=fill, ls="none", label=label)
        axes[0, j].set_title(f"{v}: squareness of the features", fontsize=9)
        axes[0, j].set_ylabel("squareness")
        axes[1, j].set_title(f"{v}: where the corners point", fontsize=9)
        axes[1, j].set_ylabel("angle of a corner (degrees)")
        axes[1, j].set_ylim(-50, 50)
        for angle in (-45, 45):
            axes[1, j].axhline(angle, color="grey", ls=":", lw=1)       # the diagonals, where Adam's steps point
        for ax in axes[:, j]:
            ax.set_xscale("log")
            ax.set_xlabel("training-set size T")
            ax.legend(fontsize=7)
    fig.suptitle(f"Squareness with AdamW (lr {s.lr:g}) and with SGD (lr {s.sgd_lr:g}): the same schedule, steps and "
                 f"shrink per step (n = {s.n_features}, m = 2, S = {s.sparsity}; grey: at random angles; dotted: the "
                 "diagonals)", fontsize=10)
    return fig


def figure_dictionary(dictionary, s):
    """For each length of training: W1, b1, the activations of every one-hot input, and W2."""
    fig, axes = figure(len(dictionary), 4, width=3.2, height=3.0)
    for i, (epochs, d) in enumerate(sorted(dictionary.items())):
        heatmap(axes[i, 0], np.asarray(d["W1"]), f"{epochs:,} epochs: W1", "input i", "neuron")
        heatmap(axes[i, 1], np.asarray(d["b1"])[:, None], f"b1 (mean {d['b1_mean']:.2f})", None, "neuron")
        axes[i, 1].set_xticks([])
        heatmap(axes[i, 2], np.asarray(d["activations"]), f"activations ReLU(W1 e_i + b1)\n"
                f"{d['active_neurons_per_input']:.1f} neurons active per input", "neuron", "input i")
        heatmap(axes[i, 3], np.asarray(d["W2"]), f"W2: loss {d['loss']:.3f}, accuracy {d['accuracy']:.2f}",
                "neuron", "class")
    fig.suptitle(f"Reading the dictionary: {s.dict_features} one-hot inputs, {s.dict_hidden} neurons, cross-entropy",
                 fontsize=10)
    return fig


def percent(fraction):
    """0.423 -> "42%"; None (fewer than two inputs with an activation to compare) -> "-"."""
    return "-" if fraction is None else f"{100 * fraction:.0f}%"


def figure_two_neurons(two_neurons, s):
    """Per model: the activations of all inputs in the plane, the rows of W2 in the plane, and the pairwise
    cosine similarities of the activations."""
    fig, axes = figure(3, len(two_neurons), width=3.2, height=3.0)
    for j, (name, d) in enumerate(two_neurons.items()):
        a = np.asarray(d["activations"])
        points_in_plane(axes[0, j], a, f"{name}: activations, accuracy {d['accuracy']:.2f}\n"
                        f"b1 = ({d['b1'][0]:.1f}, {d['b1'][1]:.1f})")
        features_in_plane(axes[1, j], np.asarray(d["W2"]).T, f"rows of W2 ({100 * d['W2_negative_fraction']:.0f}% of "
                          "entries < 0)", labels=False)
        axes[2, j].hist(ue.cosine_similarities(a), bins=40, range=(-1, 1), color=COLORS["memorise"])
        axes[2, j].axvline(0.9, color="grey", ls="--", lw=1)
        axes[2, j].set_xlabel("cosine similarity of two inputs' activations")
        axes[2, j].set_title(f"{percent(d['cosine_above_0.9'])} of pairs above 0.9", fontsize=8)
    fig.suptitle(f"2 neurons, {s.pair_inputs} classes: one-hot inputs at two weight decays, and {s.pair_inputs // 2} "
                 "antipodal pairs ±e_i", fontsize=10)
    return fig


def figure_grids(grids, s):
    fig, axes = figure(2, 2, width=4.6, height=3.4)
    for col, (loss, title) in enumerate((("cross_entropy", "cross-entropy, tied unembedding"),
                                         ("mse", "MSE, ReLU bottleneck (lesson 02)"))):
        grid_image(axes[0, col], grids[loss]["test_accuracy"], s.grid_hidden, s.grid_sizes,
                   f"{title}: test accuracy", "", cmap="magma", vmin=0, vmax=max(g["test_accuracy"].max()
                                                                                for g in grids.values()))
        grid_image(axes[1, col], grids[loss]["train_accuracy"], s.grid_hidden, s.grid_sizes,
                   f"{title}: train accuracy", "", cmap="magma", vmin=0, vmax=1)
    fig.suptitle(f"Hidden size m × training-set size T (n = {s.n_features}, S = {s.sparsity}, one seed, "
                 f"{s.grid_steps:,} steps)", fontsize=10)
    return fig


def draw(rows, summary, grids, dictionary, two_neurons, s, out):
    setting = f"n = {s.n_features}, m = 2, S = {s.sparsity}, best of {s.seeds} seeds, {s.steps:,} steps"
    hard = rows["hard"]
    save_figure(features_and_data([r for r in hard if r["T"] in s.shown_sizes],
                                  f"Tied unembedding, hard labels: features and hidden vectors. {setting}"),
                out / "features_and_data.png")
    save_figure(figure_features(rows, s), out / "features.png")
    save_figure(loss_against_T(hard, summary["hard"]["test_loss_peak_T"],
                               f"Double descent with cross-entropy (hard labels): {setting}",
                               ylabel="cross-entropy", baseline=(np.log(s.n_features), "uniform prediction, ln n")),
                out / "loss.png")
    save_figure(dimensionality_against_T(hard, summary["hard"]["dimensionality_crossing_T"], 2,
                                         "Tied unembedding, hard labels: data points, then features"),
                out / "dimensionality.png")
    save_figure(figure_variants(rows, summary, s), out / "variants.png")
    save_figure(figure_squareness(rows, s), out / "squareness.png")
    save_figure(figure_dictionary(dictionary, s), out / "dictionary.png")
    save_figure(figure_two_neurons(two_neurons, s), out / "two_neurons.png")
    save_figure(figure_grids(grids, s), out / "grid.png")


# %% The whole lesson
def main(s, out, resume=False):
    """Train everything (a sweep over two processes), draw, write metrics.json. resume: keep the groups an
    interrupted run already finished (saved in out/runs.jsonl) instead of starting over."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = sweep(train_group, sweep_points(s), group_by=("experiment", "group"), results=out / "runs.jsonl",
                    resume=resume, workers=s.workers, desc="lesson 04: groups of models")
    rows, grids, dictionary, two_neurons = collect(records, s)
    summary = sweep_summary(rows, s.n_hidden)
    draw(rows, summary, grids, dictionary, two_neurons, s, out)

    arrays = set(memorization.ARRAYS) | {"W_out"}
    metrics_ = {
        "settings": {**asdict(s), "sgd_weight_decay": s.sgd_weight_decay},
        "sizes": {v: [{k: x for k, x in r.items() if k not in arrays} for r in vrows] for v, vrows in rows.items()},
        "summary": summary,
        "grid": {"hidden": list(s.grid_hidden), "sizes": list(s.grid_sizes),
                 **{loss: {**{key: a.tolist() for key, a in g.items()},
                           "memorising_m_per_T": memorising_m(g["train_accuracy"], s.grid_hidden)}
                    for loss, g in grids.items()}},
        "dictionary": {str(e): {k: x for k, x in d.items() if k not in MLP_ARRAYS or k == "b1"}
                       for e, d in sorted(dictionary.items())},
        "two_neurons": {name: {k: x for k, x in d.items() if k not in MLP_ARRAYS or k == "b1"}
                        for name, d in two_neurons.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "metrics.json", metrics_)
    report(metrics_)
    return metrics_


def report(m):
    for v, vrows in m["sizes"].items():
        print(f"\n{v}:    T   train loss   test loss   train acc   test acc   D_data   D_feat   squareness (angle) "
              "null")
        for r in vrows:
            angle = f"{r['square_angle']:6.1f}" if r["square_angle"] is not None else "     -"
            print(f"{r['T']:12d}   {r['train_loss']:10.3f}  {r['test_loss']:10.3f}   {r['train_accuracy']:9.3f}  "
                  f"{r['test_accuracy']:9.3f}   {r['data_dimensionality']:6.3f}   {r['feature_dimensionality']:6.3f}"
                  f"   {r['squareness']:.2f} ({angle})  {r['squareness_null']:.2f}")
        sm = m["summary"][v]
        print(f"{v}: test loss peaks at T = {sm['test_loss_peak_T']} ({sm['test_loss_peak_over_ends']:.2f}x the "
              f"larger end), test accuracy there {sm['test_accuracy_at_peak']:.3f} (ends "
              f"{sm['test_accuracy_smallest_and_largest_T']}); squareness {sm['squareness_at_peak']:.2f} at the peak, "
              f"highest beyond T = 10 at T = {sm['squareness_peak_T_beyond_T_10']} "
              f"({sm['squareness_max_beyond_T_10']:.2f}), {sm['squareness_at_largest_T']:.2f} at the largest T")
    for e, d in m["dictionary"].items():
        print(f"dictionary, {e} epochs: loss {d['loss']:.4f}, accuracy {d['accuracy']:.2f}, "
              f"{d['active_neurons_per_input']:.1f} neurons active per input, b1 mean {d['b1_mean']:.2f}, "
              f"W2 < 0: {d['W2_negative_fraction']:.2f}")
    for name, d in m["two_neurons"].items():
        print(f"2 neurons, {name}: accuracy {d['accuracy']:.2f}, loss {d['loss']:.4f}, b1 {np.round(d['b1'], 2)}, "
              f"inputs in the open positive quadrant {d['inputs_in_open_positive_quadrant']:.2f}, cosine > 0.9 for "
              f"{percent(d['cosine_above_0.9'])} of pairs (mean {percent(d['cosine_mean'])}), W2 < 0: "
              f"{d['W2_negative_fraction']:.2f}, ||W|| {d['weight_norm']:.1f}"
              + (f", sign share per neuron {d['sign_share_per_neuron']}" if "sign_share_per_neuron" in d else ""))
    for loss in ("cross_entropy", "mse"):
        g = m["grid"][loss]
        print(f"grid, {loss}: train / test accuracy (rows m = {m['grid']['hidden']}, columns T = {m['grid']['sizes']})")
        for mm, train, test in zip(m["grid"]["hidden"], g["train_accuracy"], g["test_accuracy"]):
            print(f"   m = {mm:2d}: " + "  ".join(f"{a:.2f}/{b:.3f}" for a, b in zip(train, test)))
        print(f"   smallest m memorising each T (train accuracy >= 0.95): {g['memorising_m_per_T']}")
    print(f"wall time {m['wall_seconds']:.0f} s")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/04_final_layer", description=__doc__)
    main(settings, options.out, options.resume)
