"""Lesson 05 — Grokking: a model that memorises a + b mod 67, then, thousands of steps later, generalises.

Replicates Pearce et al. 2023, "Do Machine Learning Models Memorize or Generalize?" (the modular-addition
part, with the settings of the authors' notebook; see ../shared/SETTINGS.md, "Grokking").

What you will see
- Train accuracy reaches 1.0 within a few hundred steps while test accuracy stays near chance: memorisation.
  Weight decay keeps shrinking the weights; tens of thousands of steps later test accuracy jumps to 1.0.
- Taking the model apart: its 24 neurons fall into a handful of groups, one per key frequency f; each
  neuron's input weights are a wave cos(2π f x / 67 - φ), the phases φ of a group go round a circle
  (the "stars"), and the output side turns twice as fast. Each group adds a term ~ cos(2π f (a + b - c) / 67)
  to the logit of class c: largest exactly when c = a + b mod 67.
- A 5-neuron model on a fixed cos/sin embedding (20 trained numbers) learns the same trick, and a
  construction written down by hand with x² in place of ReLU does modular addition exactly.

Run it
    python lessons/05_grokking.py              # the notebook's run, 50,000 steps: 45 s on 2 quiet cores
                                               # (52 s a stop earlier; 58 s through the composed ops)
    python lessons/05_grokking.py --seeds 8    # 8 seeds at once: how often do these settings grok?
    python lessons/05_grokking.py --variants   # also: no weight decay, and training the collapsed matrices
    python lessons/05_grokking.py --quick      # seconds, for the tests
Figures and metrics.json go to figures/05_grokking/ (--out DIR to change); --resume continues a run that
was interrupted, from its last checkpoint.

How often, and in what precision (measured here)
- Seeds 0..7 (`--seeds 8`, each its own split and initialisation; 340 s with two other jobs on the cores): 6 of 8 reach test accuracy 0.95
  within 50,000 steps, at steps 16,400 to 37,900 (median 28,200); seeds 1 and 4 were still memorising at the
  end. The authors report 445 of 450 seeds, with quartiles 20k / 28k / 37k; an independent re-implementation
  saw 4 of 8. The default seed, 0, is one that groks. Results depend on initialisation: see
  toygrad/modular.init_params.
- The exact step depends on rounding: the same seed grokked at step 35,100 on frequencies 15, 20 and 28 with
  the packages installed when this lesson was written; at 26,900 on 20, 23 and 28 with numpy 2.4.6 and numba
  0.68.1, through the composed ops; and at 25,400 on 5, 20 and 28 through the fused loss this lesson now trains
  with (modular.loss: the same function, rounded differently; the figures here). Which seeds grok moves with
  rounding too: through the composed ops 7 of 8 did (seed 1 at step 36,200), through the fused loss 6.
- float32 and float64 tell the same story: one early version of this lesson groked at step 32,700 in float32
  and 34,000 in float64 from the same initialisation, ending on 3 and 4 key frequencies carrying 98.5% of the
  Fourier energy in both. float32 is the default because it is 1.8x faster (0.60 against 1.07 ms a step,
  measured; float64 keeps libm's exp); pass --dtype float64 to check.
- The variants (--variants, seed 0): without weight decay (embed 5, hidden 10) test accuracy peaks at 0.91 at
  step 4,100 and falls back to 0.81 by step 20,000 while train accuracy stays 1.0: it generalises, then
  memorises. Training the collapsed 67x24 and 24x67 matrices directly ends at train 0.70 and test 0.05 after
  50,000 steps: without the shared embedding it does not generalise.

Learning objectives
- See memorisation and generalisation as two solutions the optimiser passes through, and weight decay as
  what makes it leave the first.
- Read a network's weights with the discrete Fourier transform.
- Compute with the collapsed view of a model: E W_in and W_out Eᵀ are all that matter.
"""
# %% Imports
import time
from dataclasses import asdict, dataclass

import numpy as np

import toygrad as tg
from toygrad import cli, modular
from toygrad.files import save_figure, write_json
from toygrad.metrics import first_step_reaching
from toygrad.parallel import beside
from toygrad.plots import COLORS, figure, heatmap, training_curves
from toygrad.train import fit


# %% Settings: the notebook's, each with its reason
@dataclass
class Settings:
    p: int = 67                # the modulus: prime, so the Fourier frequencies 1..33 are all distinct
    train_frac: float = 0.4    # 911 of the 2,278 pairs a <= b train, 1,367 test
    d_embed: int = 500         # the embedding width; the collapsed model never sees it (see modular.logits)
    n_neurons: int = 24        # the hidden ReLU layer
    lr: float = 1e-3           # AdamW, no schedule
    beta2: float = 0.98        # the notebook's betas (0.9, 0.98)
    weight_decay: float = 1.0  # large decoupled decay: what makes memorisation too expensive to keep
    steps: int = 50_000        # the notebook's run length
    log_every: int = 100       # the notebook logs every 100 steps
    seed: int = 0              # seeds 0..7 grok in N of 8 runs (see the docstring); 0 is one that does
    seeds: int = 1             # train this many seeds at once on the instance axis: seed, seed+1, ...
    dtype: str = "float32"     # the notebook ran in 64 bits; float32 groks the same here (see below), 2.4x faster
    five_neuron_steps: int = 4_000    # the post ran 15,000; every seed that solves it had by step 2,500 here
    five_neuron_seeds: int = 4        # some seeds stall at ~15% test accuracy: train 4, show the best
    construction_neurons: int = 24    # the ReLU construction's grid: N = 3 .. this
    construction_moduli: int = 69     # ... and odd M = 5 .. this
    variants: bool = False     # also train the two variants of the post (slower)


QUICK = dict(p=31, train_frac=0.6, lr=1e-2, d_embed=64, steps=2_000, log_every=50, five_neuron_steps=1_500,
             construction_neurons=10,
             construction_moduli=31)


# %% Data and model, one seed at a time: instance k of a --seeds K run is exactly the run --seed (seed + k)
def make_seed(s, seed, n_pairs):
    """A train/test split of the pairs a <= b (40% train, full batch) and a freshly initialised model."""
    rng = np.random.default_rng(seed)
    train_idx, test_idx = modular.train_test_split(n_pairs, s.train_frac, rng)
    return train_idx, test_idx, modular.init_params(rng, s.p, s.d_embed, s.n_neurons, np.dtype(s.dtype))


def make_seeds(s, n_pairs):
    """K seeds stacked on the instance axis: indices (K, B), parameters (K, ...)."""
    seeds = [make_seed(s, s.seed + k, n_pairs) for k in range(s.seeds)]
    params = {name: tg.Tensor(np.stack([p[name].data for _, _, p in seeds]), requires_grad=True)
              for name in seeds[0][2]}
    return np.stack([t for t, _, _ in seeds]), np.stack([t for _, t, _ in seeds]), params


# %% Training: the collapsed model, cross-entropy averaged over batch and classes (CE / 67)
def train(s, out, resume=False):
    a, b, labels = modular.addition_pairs(s.p)
    train_idx, test_idx, params = make_seeds(s, len(labels))
    optimizer = tg.AdamW(params.values(), lr=s.lr, betas=(0.9, s.beta2), weight_decay=s.weight_decay)
    a_train, b_train, y_train = a[train_idx], b[train_idx], labels[train_idx]           # (K, B) each

    def loss_fn(step):              # = cross_entropy(logits(params, a, b), y, "mean_all"), as one op
        return modular.loss(params, a_train, b_train, y_train, "mean_all")

    def evaluate():
        """Loss and accuracy on both sets from one pass over all pairs; the collapsed weights of seed 0.
        The collapsed weights as plain arrays: the same numbers as modular.logits, and no tape to build."""
        W_input, W_output = modular.collapsed(params)
        z = modular.forward_collapsed(W_input, W_output, a, b).data              # (K, P, p)
        row = {"W_input": W_input[0], "W_output": W_output[0]}
        for name, idx in (("train", train_idx), ("test", test_idx)):
            zk = np.take_along_axis(z, idx[..., None], axis=1)
            row[f"{name}_loss"] = tg.cross_entropy(zk, labels[idx], reduction="mean_all").data
            row[f"{name}_acc"] = modular.accuracy(zk, labels[idx])
        return row

    return fit(loss_fn, params, optimizer, s.steps, evaluate=evaluate, log_every=s.log_every,
               checkpoint=out / "run.ckpt.npz", checkpoint_every=5_000, resume=resume,
               desc="grokking a+b mod %d" % s.p, show=("train_acc", "test_acc"))


# %% The 5-neuron model: a fixed cos/sin embedding, 20 trained numbers
def train_five_neurons(s, rng, progress=True):
    """E = [cos(2π x/p), sin(2π x/p)] (not trained), W_in (2, 5), W_out (5, 2):
    logits = ReLU(E[a] W_in + E[b] W_in) W_out Eᵀ, the same collapsed forward pass as the big model.
    The post's settings: 30% train, AdamW lr 1e-2, weight decay 1e-3. K seeds train at once on the
    instance axis (E is shared); returns the run, and W_in, W_out of every seed."""
    a, b, labels = modular.addition_pairs(s.p)
    train_idx, test_idx = modular.train_test_split(len(labels), 0.3, rng)
    x = 2 * np.pi * np.arange(s.p) / s.p
    dtype, K = np.dtype(s.dtype), s.five_neuron_seeds
    params = {"E": tg.Tensor(np.stack([np.cos(x), np.sin(x)], axis=1).astype(dtype)),   # a constant
              "W_in": tg.parameter("truncated_normal", (K, 2, 5), rng, dtype, std=1 / np.sqrt(2)),
              "W_out": tg.parameter("truncated_normal", (K, 5, 2), rng, dtype, std=1 / np.sqrt(5))}
    trained = {k: params[k] for k in ("W_in", "W_out")}
    optimizer = tg.AdamW(trained.values(), lr=1e-2, betas=(0.9, 0.98), weight_decay=1e-3)
    at, bt, yt = a[train_idx], b[train_idx], labels[train_idx]

    def evaluate():
        z = modular.logits(params, a, b).data
        return {"train_acc": modular.accuracy(z[:, train_idx], labels[train_idx]),
                "test_acc": modular.accuracy(z[:, test_idx], labels[test_idx])}

    run = fit(lambda step: modular.loss(params, at, bt, yt, "mean_all"),
              trained, optimizer, s.five_neuron_steps, evaluate=evaluate, log_every=100,
              desc=f"5 neurons x {K} seeds", show=("test_acc",), progress=progress)
    return run, params["W_in"].data, params["W_out"].data


def angle(points):
    return np.arctan2(points[..., 1], points[..., 0])


def doubling_error(W_in, W_out):
    """How far the out-projection is from turning twice as fast as the in-projection: the spread of
    (out angle - 2 in angle) around its circular mean, in radians (0 = exactly twice as fast)."""
    diff = angle(W_out) - 2 * angle(W_in.T)
    mean = np.angle(np.exp(1j * diff).mean())
    return float(np.abs(np.angle(np.exp(1j * (diff - mean)))).max())


# %% The experiments that do not need the big model run beside it, on the second core
def side_experiments(s):
    """The 5-neuron model and the checks of the hand-written construction."""
    five, W_in5, W_out5 = train_five_neurons(s, np.random.default_rng(s.seed + 1), progress=False)
    neurons, moduli = np.arange(3, s.construction_neurons + 1), np.arange(5, s.construction_moduli + 1, 2)
    relu = np.array([[modular.construction_accuracy(M, N, "relu") for M in moduli] for N in neurons])
    square = {f"{M},{N}": modular.construction_accuracy(M, N, "square") for M in (5, 11, 12, 23, 66, 67, 97)
              for N in (3, 4, 5, 6, 8, 24)}                   # even M and N = 4: where it is not exact
    closed_form_error = max(_closed_form_error(M, N) for M in (7, 23, 67) for N in (5, 8, 24))
    return {"five": five, "W_in5": W_in5, "W_out5": W_out5, "neurons": neurons, "moduli": moduli,
            "relu": relu, "square": square, "closed_form_error": closed_form_error}


def _closed_form_error(M, N):
    """The largest difference between the construction's logits and the closed form, over all M² pairs."""
    W_input, W_output = modular.construction(M, N)
    a, b, _ = modular.addition_pairs(M, ordered=True)
    logits = modular.forward_collapsed(W_input, W_output, a, b, "square").data
    return float(np.abs(logits - modular.closed_form_logits(M, N, a, b)).max())


# %% The variants of the post
def train_variant(s, name, rng):
    """"no_decay": embed 5, hidden 10, 40% train, lr 1e-3, no weight decay, 20,000 steps: generalises, then
    memorises. "collapsed": train W_input (p, n) and W_output (n, p) directly: does not generalise."""
    a, b, labels = modular.addition_pairs(s.p)
    train_idx, test_idx = modular.train_test_split(len(labels), s.train_frac, rng)
    dtype = np.dtype(s.dtype)
    at, bt, yt = a[train_idx], b[train_idx], labels[train_idx]
    if name == "no_decay":
        params = modular.init_params(rng, s.p, 5, 10, dtype)
        forward, decay, steps = lambda aa, bb: modular.logits(params, aa, bb), 0.0, 20_000
        loss_fn = lambda step: modular.loss(params, at, bt, yt, "mean_all")
    else:
        W_input, W_output = modular.collapsed(modular.init_params(rng, s.p, s.d_embed, s.n_neurons, dtype))
        params = {"W_input": tg.Tensor(W_input, requires_grad=True), "W_output": tg.Tensor(W_output, requires_grad=True)}
        forward = lambda aa, bb: modular.forward_collapsed(params["W_input"], params["W_output"], aa, bb)
        loss_fn = lambda step: modular.collapsed_cross_entropy(params["W_input"], params["W_output"], at, bt, yt,
                                                               "mean_all")
        decay, steps = s.weight_decay, s.steps
    steps = min(steps, s.steps)
    optimizer = tg.AdamW(params.values(), lr=s.lr, betas=(0.9, s.beta2), weight_decay=decay)

    def evaluate():
        z = forward(a, b).data
        return {"train_acc": modular.accuracy(z[train_idx], labels[train_idx]),
                "test_acc": modular.accuracy(z[test_idx], labels[test_idx])}
    return fit(loss_fn, params, optimizer, steps, evaluate=evaluate, log_every=s.log_every, desc=name,
               show=("train_acc", "test_acc"))


# %% Analysis of the trained model
def alive_neurons(W_input, W_output, fraction=0.1):
    """Neurons whose in- and out-weights both keep at least `fraction` of the largest neuron's norm:
    weight decay shrinks unused neurons towards 0, and their 'frequency' would be noise."""
    size = np.linalg.norm(W_input, axis=0) * np.linalg.norm(W_output, axis=1)
    return np.flatnonzero(size >= fraction * size.max())


def analyse(s, history):
    W_input, W_output = history["W_input"][-1], history["W_output"][-1]
    alive = alive_neurons(W_input, W_output)
    frequency = modular.dominant_frequency(W_input)
    key = sorted(set(int(f) for f in frequency[alive]))
    return {"alive": alive, "frequency": frequency, "key_frequencies": key,
            "fourier_fraction": float(modular.frequency_fraction(W_input, key)),
            "stars": modular.star_coordinates(W_input[:, alive], W_output[alive])}


# %% Figures
def figure_weights(history, steps, order, title):
    """W_input and W_output at the given steps, neurons sorted by their final frequency."""
    fig, axes = figure(2, len(steps), width=4.2, height=3.2)
    for col, (label, step) in enumerate(steps.items()):
        row = int(np.searchsorted(history["step"], step))
        heatmap(axes[0, col], history["W_input"][row][:, order], f"W_input = E W_in, {label} (step {step:,})",
                "neuron (sorted by frequency)", "input x")
        heatmap(axes[1, col], history["W_output"][row][order].T, f"W_output = W_out Eᵀ, {label}",
                "neuron (sorted by frequency)", "output class c")
    fig.suptitle(title)
    return fig


def figure_waves(W_input, analysis, p):
    groups = analysis["key_frequencies"]
    fig, axes = figure(1, len(groups), width=3.6, height=2.8)
    x = np.arange(p)
    for ax, f in zip(axes[0], groups):
        for i in analysis["alive"][analysis["frequency"][analysis["alive"]] == f]:
            ax.plot(x, W_input[:, i], lw=1)
        ax.set_title(f"frequency {f}: neurons' W_input columns", fontsize=9)
        ax.set_xlabel("input x")
    axes[0, 0].set_ylabel("weight")
    fig.suptitle("Each neuron reads a wave cos(2π f x / p − φ) of its input (final model)")
    return fig


def figure_spectrum(history, p):
    """Share of W_input's (non-constant) Fourier energy per frequency, over training."""
    energy = modular.neuron_spectrum(history["W_input"])[:, 1:, :].sum(axis=-1)       # (T, (p-1)/2)
    share = energy / energy.sum(axis=1, keepdims=True)
    fig, axes = figure(1, 1, width=9, height=3.5)
    ax = axes[0, 0]
    steps = history["step"]
    image = ax.imshow(share.T, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                      extent=(steps[0], steps[-1], 0.5, share.shape[1] + 0.5))
    fig.colorbar(image, ax=ax, label="share of Fourier energy")
    ax.set_xlabel("training step")
    ax.set_ylabel("frequency f")
    ax.set_title("W_input's DFT over training: from spread over all frequencies to a few")
    return fig


def figure_stars(analysis):
    stars = analysis["stars"]
    fig, axes = figure(2, len(stars), width=3.0, height=3.0)
    for col, (f, star) in enumerate(stars.items()):
        for row, side in enumerate(("input", "output")):
            ax = axes[row, col]
            points = np.concatenate([star[side], star[side][:1]])          # join back to the first neuron
            ax.plot(points[:, 0], points[:, 1], "-o", color=COLORS["weight"], ms=4)
            for (u, v), i in zip(star[side], star["neurons"]):
                ax.annotate(str(i), (u, v), fontsize=7)
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_aspect("equal")
            ax.set_title(f"f = {f}, {side} (cos, sin)", fontsize=9)
    fig.suptitle("Stars: each group's neurons joined in order of input phase; the output side goes round twice")
    return fig


def logit_contributions(W_input, W_output, analysis):
    """Per key frequency f: the group's logit contribution as a function of k = (a + b - c) mod p, and its
    correlation with cos(2π f k / p)."""
    p = W_input.shape[0]
    k = np.arange(p)
    result = {}
    for f in analysis["key_frequencies"]:
        neurons = analysis["alive"][analysis["frequency"][analysis["alive"]] == f]
        contribution = modular.logit_contribution(W_input, W_output, neurons)
        result[f] = (contribution, float(np.corrcoef(contribution, np.cos(2 * np.pi * f * k / p))[0, 1]))
    return result


def figure_logit_contributions(contributions, p):
    """Each group's contribution against j = f k mod p: cos(2π f k / p) = cos(2π j / p) is then one smooth
    period, and so is the group's logit if it computes what we think it does."""
    fig, axes = figure(1, len(contributions), width=3.4, height=2.8)
    for ax, (f, (contribution, correlation)) in zip(axes[0], contributions.items()):
        j = (f * np.arange(p)) % p
        order = np.argsort(j)
        centred = contribution - contribution.mean()
        ax.plot(j[order], (centred / np.abs(centred).max())[order], "o", ms=3, color=COLORS["weight"],
                label="group's logit (scaled)")
        ax.plot(np.arange(p), np.cos(2 * np.pi * np.arange(p) / p), color="grey", lw=1, label="cos(2π j / p)")
        ax.set_xlabel(f"j = {f} (a + b − c) mod {p}")
        ax.set_title(f"frequency {f}: correlation {correlation:.4f}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("What each frequency group adds to the logit of class c: A cos(2π f (a + b − c) / p), "
                 "largest at c = a + b")
    return fig


def figure_five_neurons(run, W_in, W_out, best):
    fig, axes = figure(1, 2, width=4.2, height=3.6)
    ax = axes[0, 0]
    for k in range(run.history["test_acc"].shape[1]):
        ax.plot(run.history["step"], run.history["test_acc"][:, k], color=COLORS["test"],
                alpha=1.0 if k == best else 0.35, label="test acc, shown seed" if k == best else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    ax.set_title(f"5 neurons on a fixed cos/sin embedding, {len(W_in)} seeds", fontsize=9)
    ax = axes[0, 1]
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="lightgrey", lw=0.8)
    for points, label, marker in ((W_in[best].T, "in (W_in column)", "o"), (W_out[best], "out (W_out row)", "s")):
        unit = points / np.linalg.norm(points, axis=1, keepdims=True)
        ax.scatter(unit[:, 0], unit[:, 1], marker=marker, label=label)
        for i, (u, v) in enumerate(unit):
            ax.annotate(str(i), (u * 1.12, v * 1.12), fontsize=8, ha="center", va="center")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("neurons on the circle: out angle = 2 × in angle + const", fontsize=9)
    return fig


def figure_construction(relu_accuracy, neurons, moduli):
    fig, axes = figure(1, 1, width=7, height=4)
    ax = axes[0, 0]
    image = ax.imshow(relu_accuracy, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1,
                      extent=(moduli[0] - 1, moduli[-1] + 1, neurons[0] - 0.5, neurons[-1] + 0.5))
    fig.colorbar(image, ax=ax, label="accuracy over all M² pairs")
    ax.set_xlabel("modulus M (odd)")
    ax.set_ylabel("neurons N")
    ax.set_yticks(neurons[::max(1, len(neurons) // 8)])
    ax.set_title("The hand-written construction with ReLU instead of x²: exact only for some N")
    return fig


def figure_seeds(grok_steps, steps):
    fig, axes = figure(1, 1, width=6, height=3)
    ax = axes[0, 0]
    grokked = grok_steps[grok_steps >= 0]
    ax.hist(grokked, bins=np.linspace(0, steps, 21), color=COLORS["generalise"])
    ax.set_xlabel("first step with test accuracy ≥ 0.95")
    ax.set_ylabel("seeds")
    ax.set_title(f"{len(grokked)} of {len(grok_steps)} seeds grokked within {steps:,} steps")
    return fig


# %% The whole lesson
def main(s, out, resume=False):
    """Train, analyse, draw, and write out/metrics.json; returns the metrics."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    side = beside(side_experiments, s)                      # the other core, while the main model trains
    run = train(s, out, resume)
    h = run.history
    memorised = first_step_reaching(h, "train_acc", 0.99)                          # (K,)
    grokked = first_step_reaching(h, "test_acc", 0.95)
    shown = 0                                                                       # the default seed
    analysis = analyse(s, h)
    W_input, W_output = h["W_input"][-1], h["W_output"][-1]

    mem, grok = int(memorised[shown]), int(grokked[shown])
    crossing = first_step_reaching(h, "test_acc", 0.5)[shown]
    marks = {"memorise": mem if mem >= 0 else None, "generalise": grok if grok >= 0 else None}
    title = f"a + b mod {s.p}, {s.n_neurons} neurons, weight decay {s.weight_decay}, seed {s.seed} ({s.dtype})"
    seed_history = {k: (v[:, shown] if v.ndim == 2 else v) for k, v in h.items() if k in
                    ("step", "train_loss", "test_loss", "train_acc", "test_acc")}
    save_figure(training_curves(seed_history, title, marks), out / "curves.png")
    order = np.argsort(analysis["frequency"], kind="stable")
    middle = int(crossing) if crossing >= 0 else s.steps // 2
    save_figure(figure_weights(h, {"memorising": max(mem, 0), "transition": middle, "final": s.steps}, order,
                               "The collapsed weights while memorising, in transition, and at the end"),
                out / "weights.png")
    save_figure(figure_waves(W_input, analysis, s.p), out / "waves.png")
    save_figure(figure_spectrum(h, s.p), out / "spectrum.png")
    save_figure(figure_stars(analysis), out / "stars.png")
    contributions = logit_contributions(W_input, W_output, analysis)
    save_figure(figure_logit_contributions(contributions, s.p), out / "logits.png")

    side = side.result()
    five, W_in5, W_out5 = side["five"], side["W_in5"], side["W_out5"]
    five_final = five.history["test_acc"][-1]
    best = int(np.argmax(five_final))
    save_figure(figure_five_neurons(five, W_in5, W_out5, best), out / "five_neurons.png")

    relu, square_checks = side["relu"], side["square"]
    save_figure(figure_construction(relu, side["neurons"], side["moduli"]), out / "construction.png")

    if s.seeds > 1:
        save_figure(figure_seeds(grokked, s.steps), out / "seeds.png")
    variants = {}
    if s.variants:
        for name in ("no_decay", "collapsed"):
            v = train_variant(s, name, np.random.default_rng(s.seed))
            variants[name] = {"final_train_acc": float(v.history["train_acc"][-1]),
                              "final_test_acc": float(v.history["test_acc"][-1]),
                              "max_test_acc": float(v.history["test_acc"].max()),
                              "step_of_max_test_acc": int(v.history["step"][v.history["test_acc"].argmax()])}
            save_figure(training_curves(v.history, f"variant: {name}", loss_keys=()), out / f"variant_{name}.png")

    metrics = {
        "settings": asdict(s),
        "first_step_train_acc_0.99": mem, "first_step_test_acc_0.95": grok,
        "grok_over_memorise": grok / mem if mem > 0 and grok >= 0 else None,
        "final_train_acc": float(h["train_acc"][-1][shown]), "final_test_acc": float(h["test_acc"][-1][shown]),
        "final_train_loss": float(h["train_loss"][-1][shown]), "final_test_loss": float(h["test_loss"][-1][shown]),
        "key_frequencies": analysis["key_frequencies"], "alive_neurons": len(analysis["alive"]),
        "fourier_fraction_in_key_frequencies": analysis["fourier_fraction"],
        "logit_cosine_correlation": {int(f): c for f, (_, c) in contributions.items()},
        "seeds": {"count": s.seeds, "grokked": int((grokked >= 0).sum()), "grok_steps": grokked.tolist(),
                  "memorise_steps": memorised.tolist()},
        "five_neurons": {"final_test_acc": float(five_final[best]), "final_test_acc_per_seed": five_final.tolist(),
                         "seeds_at_100_percent": int((five_final == 1.0).sum()),
                         "first_step_test_acc_0.9": int(first_step_reaching(five.history, "test_acc", 0.9)[best]),
                         "first_step_test_acc_1.0": int(first_step_reaching(five.history, "test_acc", 1.0)[best]),
                         "out_angle_minus_twice_in_angle_spread": doubling_error(W_in5[best], W_out5[best])},
        "construction": {"square_accuracy": square_checks,
                         "square_exact": sorted(k for k, v in square_checks.items() if v == 1.0),
                         "closed_form_max_abs_error": side["closed_form_error"],
                         "relu_accuracy_at_largest_M": {int(N): float(relu[i, -1])
                                                        for i, N in enumerate(side["neurons"])}},
        "variants": variants,
        "train_seconds": run.seconds, "wall_seconds": time.perf_counter() - started,
    }
    write_json(out / "metrics.json", metrics)
    report(metrics)
    return metrics


def report(m):
    print(f"\nmemorised (train acc >= 0.99) at step {m['first_step_train_acc_0.99']:,}; "
          f"generalised (test acc >= 0.95) at step {m['first_step_test_acc_0.95']:,}"
          + (f": {m['grok_over_memorise']:.0f}x later" if m["grok_over_memorise"] else " (not within the run)"))
    print(f"final accuracy: train {m['final_train_acc']:.3f}, test {m['final_test_acc']:.3f}")
    print(f"key frequencies {m['key_frequencies']} carry {m['fourier_fraction_in_key_frequencies']:.1%} of "
          f"W_input's Fourier energy ({m['alive_neurons']} neurons alive)")
    if m["seeds"]["count"] > 1:
        print(f"seeds: {m['seeds']['grokked']} of {m['seeds']['count']} grokked; steps {m['seeds']['grok_steps']}")
    five = m["five_neurons"]
    print(f"5-neuron model: test accuracy {five['final_test_acc']:.3f} (best seed); "
          f"{five['seeds_at_100_percent']} of {len(five['final_test_acc_per_seed'])} seeds at 100%")
    square = m["construction"]["square_accuracy"]
    print(f"x² construction: exact for {len(m['construction']['square_exact'])} of {len(square)} (M, N) checked; "
          f"not exact: {', '.join(f'({k}) {v:.3f}' for k, v in square.items() if v < 1)}")
    print(f"wall time {m['wall_seconds']:.0f} s (training {m['train_seconds']:.0f} s)")


if __name__ == "__main__":
    settings, options = cli.parse(Settings, quick=QUICK, default_out="figures/05_grokking", description=__doc__)
    main(settings, options.out, options.resume)
