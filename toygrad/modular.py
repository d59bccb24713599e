"""Modular addition, the toy that groks (Pearce et al. 2023, "Do Machine Learning Models Memorize or Generalize?").

The task: given a and b in [0, p), predict (a + b) mod p. The model (the authors' notebook, p = 67):

    E: (p, d_embed)   W_in: (d_embed, n_neurons)   W_out: (n_neurons, d_embed)       no biases
    h      = ReLU(E[a] W_in + E[b] W_in)            (B, n_neurons)
    logits = h W_out Eᵀ                             (B, p)     the output is tied to the embedding

Trained with AdamW and a large weight decay on 40% of the pairs, it first memorises the training set and,
thousands of steps later, generalises ("groks"). The generalising model computes with a few Fourier
frequencies: this module holds the data, the model, the Fourier analysis that reveals them, and a
hand-written construction that does modular addition exactly.

Read it top to bottom:
    data          addition_pairs, train_test_split
    model         init_params, logits, forward_collapsed, collapsed
    Fourier       fourier_basis, fourier_labels, neuron_spectrum, dominant_frequency, key_frequencies,
                  frequency_fraction, star_coordinates
    construction  construction, closed_form_logits, construction_accuracy
    analysis      accuracy, logit_contribution

A training loop, full batch (see lessons/ for the whole experiment):

    rng = np.random.default_rng(0)
    a, b, labels = addition_pairs(67)
    train, test = train_test_split(len(labels), 0.4, rng)
    params = init_params(rng)
    opt = toygrad.AdamW(params.values(), lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    for step in range(50_000):
        loss = toygrad.cross_entropy(logits(params, a[train], b[train]), labels[train], reduction="mean_all")
        opt.zero_grad()
        loss.backward()
        opt.step()
"""
import math

import numpy as np

from . import kernels
from .init import initialise
from .ops import _check_matmul, _mT, _result, relu, square, take_rows, times_seed, unbroadcast
from .tensor import Tensor, as_tensor


def _check_integer(value, smallest, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < smallest:
        raise ValueError(f"{name} must be an integer >= {smallest}, got {value!r}")
    return int(value)


# --- data ----------------------------------------------------------------------------------------------

def addition_pairs(p=67, ordered=False):
    """Every pair (a, b) of residues mod p with its label (a + b) mod p.

    ordered=False: the pairs with a <= b, as in the notebook (a + b = b + a, so the other half adds nothing):
                   p (p + 1) / 2 of them, 2,278 for p = 67.
    ordered=True:  all p² ordered pairs, a = 0,0,...,1,1,... (used to test a model on every input).
    Returns a, b, labels: integer arrays of shape (P,).
    """
    p = _check_integer(p, 2, "addition_pairs: p")
    if ordered:
        a, b = np.divmod(np.arange(p * p), p)
    else:
        a, b = np.triu_indices(p)                  # rows a <= columns b
    return a, b, (a + b) % p


def train_test_split(n, frac, rng):
    """A random split of range(n): round(frac n) training indices, the rest for testing.

    40% of the 2,278 pairs for p = 67 gives round(911.2) = 911 training and 1,367 test pairs.
    Returns train, test: integer arrays, together a permutation of range(n).
    """
    n = _check_integer(n, 2, "train_test_split: n")
    if not 0 < frac < 1:
        raise ValueError(f"train_test_split: frac must be a fraction in (0, 1), got {frac!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"train_test_split: rng must be a numpy Generator, got {type(rng).__name__}")
    n_train = int(round(frac * n))
    if not 0 < n_train < n:
        raise ValueError(f"train_test_split: frac={frac} of n={n} leaves the training or the test set empty")
    order = rng.permutation(n)
    return order[:n_train], order[n_train:]


# --- the model -------------------------------------------------------------------------------------------

def _init_one(rng, p, d_embed, n_neurons, dtype):
    """One model's weights, initialised as the notebook's haiku code does (see init_params)."""
    return {
        "E": initialise("variance_scaling", (p, d_embed), rng, dtype, scale=2.0, mode="fan_in", fan_in=p),
        "W_in": initialise("truncated_normal", (d_embed, n_neurons), rng, dtype, std=1 / math.sqrt(d_embed)),
        "W_out": initialise("truncated_normal", (n_neurons, d_embed), rng, dtype, std=1 / math.sqrt(n_neurons)),
    }


def init_params(rng, p=67, d_embed=500, n_neurons=24, dtype=np.float32, n_instances=None):
    """The trainable weights {"E", "W_in", "W_out"} as Tensors with requires_grad, initialised as the notebook:

    E: (p, d_embed)            haiku VarianceScaling(2.0, "fan_in", truncated normal), fan_in = p:
                               std sqrt(2 / p) after truncation at 2 std (0.173 for p = 67)
    W_in: (d_embed, n_neurons) haiku's hk.Linear default: TruncatedNormal(stddev = 1 / sqrt(d_embed)),
    W_out: (n_neurons, d_embed)     ... and 1 / sqrt(n_neurons); truncation leaves 0.88 of that std

    n_instances=K puts a leading instance axis on every weight: K independent models that train as one.
    Each has its own seed s_k, drawn as s = rng.integers(2**32, size=K), so instance k is exactly the
    model init_params(np.random.default_rng(s_k)) would give.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"init_params: rng must be a numpy Generator, got {type(rng).__name__}")
    sizes = (_check_integer(p, 2, "init_params: p"), _check_integer(d_embed, 1, "init_params: d_embed"),
             _check_integer(n_neurons, 1, "init_params: n_neurons"))
    if n_instances is None:
        weights = _init_one(rng, *sizes, dtype)
    else:
        seeds = rng.integers(2**32, size=_check_integer(n_instances, 1, "init_params: n_instances"))
        models = [_init_one(np.random.default_rng(seed), *sizes, dtype) for seed in seeds]
        weights = {name: np.stack([model[name] for model in models]) for name in models[0]}
    return {name: Tensor(w, requires_grad=True) for name, w in weights.items()}


def _collapse(params):
    """W_input = E W_in: (K?, p, n)  and  W_output = W_out Eᵀ: (K?, n, p), as Tensors on the tape."""
    E, W_in, W_out = params["E"], params["W_in"], params["W_out"]
    return E @ W_in, W_out @ E.T


ACTIVATIONS = {"relu": relu, "square": square}


def forward_collapsed(W_input, W_output, a, b, activation="relu"):
    """logits = act(W_input[a] + W_input[b]) W_output      act: "relu" (the model) or "square" (the construction)

    W_input: (K?, p, n)  W_output: (K?, n, p)  a, b: (B,) integers  ->  logits: (K?, B, p)
    Tensors or numpy arrays (an array is a constant); returns a Tensor.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"forward_collapsed: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    pre = take_rows(W_input, a) + take_rows(W_input, b)              # (K?, B, n)
    return ACTIVATIONS[activation](pre) @ W_output


def logits(params, a, b):
    """The model's logits for the pairs (a, b): (K?, B, p), through the collapsed weights.

    Multiplying by E and then by W_in is multiplying by one matrix, E W_in, and picking row a commutes with
    multiplying on the right: E[a] W_in = (E W_in)[a]. Likewise h W_out Eᵀ = h (W_out Eᵀ). So

        h      = ReLU(W_input[a] + W_input[b])     W_input  = E W_in:  (p, n)
        logits = h W_output                        W_output = W_out Eᵀ: (n, p)

    is the same function of (E, W_in, W_out), and therefore has the same gradients (up to rounding); on the
    tape E is used twice, so its gradient is the sum of both paths. The work, in multiply-adds per forward
    pass on a batch of B pairs:
        gathering E rows first:  E[a] W_in, E[b] W_in, h W_out, then Eᵀ   B d (3n + p)
        collapsed:               E W_in and W_out Eᵀ once, then h W_output  2 p d n + B n p
    For the notebook (B = 911, d = 500, n = 24, p = 67): 63.3 M against 3.1 M, 20 times less; the backward
    pass costs about twice the forward in both, so it saves the same factor.
    """
    W_input, W_output = _collapse(params)
    return forward_collapsed(W_input, W_output, a, b, "relu")


def loss(params, a, b, labels, reduction="mean"):
    """cross_entropy(logits(params, a, b), labels, reduction), the same function and gradients up to rounding, as
    one op on E, W_in and W_out: what the lesson trains with. reduction: "mean", "mean_all" (CE / p, the notebook's)
    or "sum". The collapse and its gradient are computed in the op, off the tape (3 nodes fewer a step), with the
    very products the tape would make (a weight shared by several instances gets the sum over them), so the
    numbers are the tape's, bit for bit:

        W_input = E W_in      W_output = W_out Eᵀ      loss, dW_input, dW_output = collapsed_cross_entropy(...)
        dE = dW_input W_inᵀ + (W_outᵀ dW_output)ᵀ      dW_in = Eᵀ dW_input      dW_out = dW_output E
    """
    names = ("E", "W_in", "W_out")
    like = next((params[k] for k in names if isinstance(params[k], Tensor)), None)   # arrays are constants of its dtype
    E, W_in, W_out = (as_tensor(params[k], like=like, name=f"loss: params[{k!r}]") for k in names)
    _check_matmul(E.shape, W_in.shape, "loss", "params['E']", "params['W_in']")
    Et = _mT(E.data)
    _check_matmul(W_out.shape, Et.shape, "loss", "params['W_out']", "params['E'] transposed")
    value, dW_input, dW_output = _fused_cross_entropy(E.data @ W_in.data, W_out.data @ Et, a, b, labels, reduction,
                                                      E.requires_grad or W_in.requires_grad or W_out.requires_grad)

    def backward(g):
        dWi, dWo = times_seed(g, dW_input, dW_output)
        return (unbroadcast(dWi @ _mT(W_in.data), E.shape) + _mT(unbroadcast(_mT(W_out.data) @ dWo, Et.shape))
                if E.requires_grad else None,
                unbroadcast(_mT(E.data) @ dWi, W_in.shape) if W_in.requires_grad else None,
                unbroadcast(dWo @ E.data, W_out.shape) if W_out.requires_grad else None)
    return _result(value, (E, W_in, W_out), backward, "loss")


def collapsed_cross_entropy(W_input, W_output, a, b, labels, reduction="mean"):
    """cross_entropy(forward_collapsed(W_input, W_output, a, b), labels, reduction), fused into one op
    (kernels.collapsed_cross_entropy; forward and backward at the grok bench's shape, 1,347 pairs: 296 us on 2
    cores against 689 us for the composed ops, 2.3x; 416 us on one core, 1.7x, measured).

    W_input: (K?, p, n)  W_output: (K?, n, p) Tensors of one float dtype   a, b, labels: (B,) or (K?, B) ints
    -> loss (K?,). With h = relu(W_input[a] + W_input[b]) and z = h W_output:
        dz = scale (softmax(z) - onehot(labels))       scale: 1 / B ("mean"), 1 / (B p) ("mean_all"), 1 ("sum")
        dW_output = hᵀ dz        dW_input[a] += dh, dW_input[b] += dh,  dh = dz W_outputᵀ where h > 0
    Probabilities whose share of the gradient would be subnormal are flushed to 0, as in cross_entropy.
    """
    W_input, W_output = as_tensor(W_input), as_tensor(W_output, like=W_input, name="collapsed_cross_entropy: W_output")
    value, dW_input, dW_output = _fused_cross_entropy(W_input.data, W_output.data, a, b, labels, reduction,
                                                      W_input.requires_grad or W_output.requires_grad)

    def backward(g):
        return times_seed(g, dW_input, dW_output)
    return _result(value, (W_input, W_output), backward, "collapsed_cross_entropy")


def _fused_cross_entropy(W_input, W_output, a, b, labels, reduction, want_grad):
    """The checks and the kernel behind loss and collapsed_cross_entropy, on arrays: the loss (K?,) in W_input's
    dtype, dW_input and dW_output of W_input's and W_output's shapes (None without want_grad)."""
    if W_input.dtype not in (np.float32, np.float64):
        raise TypeError(f"collapsed_cross_entropy: W_input must be float32 or float64, got {W_input.dtype}")
    single = W_input.ndim == 2
    Win, Wout = (W_input[None], W_output[None]) if single else (W_input, W_output)
    if Win.ndim != 3 or Wout.shape != (Win.shape[0], Win.shape[2], Win.shape[1]):
        raise ValueError(f"collapsed_cross_entropy: expected W_input (K?, p, n) and W_output (K?, n, p), got "
                         f"{W_input.shape} and {W_output.shape}")
    K, p, n = Win.shape
    rows = [_rows(x, name, K, p, single) for name, x in (("a", a), ("b", b), ("labels", labels))]
    if not rows[0].shape == rows[1].shape == rows[2].shape:
        raise ValueError(f"collapsed_cross_entropy: a, b and labels must have one length, got "
                         f"{[np.shape(x) for x in (a, b, labels)]}")
    if reduction not in _SCALES:
        raise ValueError(f"collapsed_cross_entropy: reduction must be 'mean', 'mean_all' or 'sum', got {reduction!r}")
    B = rows[0].shape[1]
    scale = _SCALES[reduction](B, p)
    value, dW_in, dW_out = kernels.collapsed_cross_entropy(
        np.ascontiguousarray(Win), np.ascontiguousarray(Wout), *rows, scale, np.finfo(Win.dtype).tiny / scale, want_grad)
    value = (value * scale).astype(Win.dtype)
    if single:
        return value[0], *(None if d is None else d[0] for d in (dW_in, dW_out))
    return value, dW_in, dW_out


_SCALES = {"mean": lambda B, p: 1.0 / B, "mean_all": lambda B, p: 1.0 / (B * p), "sum": lambda B, p: 1.0}


def _rows(x, name, K, p, single):
    """An index array as (K, B) int64 in [0, p): a (B,) one is shared by every instance."""
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    if x.dtype.kind not in "iu":                                        # signed or unsigned integers, not bool
        raise TypeError(f"collapsed_cross_entropy: {name} must be integers, got dtype {x.dtype}")
    if not (x.ndim == 1 or (not single and x.shape[:-1] == (K,) and x.ndim == 2)):
        raise ValueError(f"collapsed_cross_entropy: {name} must have shape (B,)" + ("" if single else f" or ({K}, B)")
                         + f", got {x.shape}")
    if x.size and not kernels.all_in_range(x.reshape(-1), p):           # one pass; min and max only to say why
        raise ValueError(f"collapsed_cross_entropy: {name} must lie in [0, {p}), got range [{x.min()}, {x.max()}]")
    x = np.ascontiguousarray(x, dtype=np.int64)
    return x.reshape(1, -1) if x.ndim == 1 and K == 1 else np.ascontiguousarray(np.broadcast_to(x, (K, x.shape[-1])))


def collapsed(params):
    """What the model computes with, as numpy arrays: W_input = E W_in (K?, p, n), W_output = W_out Eᵀ (K?, n, p).

    2 p n numbers: the "3,216-parameter model" for p = 67, n = 24.
    """
    W_input, W_output = _collapse(params)
    return W_input.data, W_output.data


# --- Fourier analysis ------------------------------------------------------------------------------------

def fourier_basis(p):
    """F: (p, p), an orthonormal basis of functions of x in [0, p), one per row (F Fᵀ = I), for odd p:

    row 0          1 / sqrt(p)                          the constant
    row 2f - 1     cos(2π f x / p) sqrt(2 / p)          f = 1 .. (p - 1) / 2
    row 2f         sin(2π f x / p) sqrt(2 / p)
    F @ W gives W's Fourier coefficients along x. (For even p the frequency p / 2 would have a cosine and no
    sine; the lesson's p = 67 is prime, so only odd p is supported.)
    """
    p = _check_integer(p, 3, "fourier_basis: p")
    if p % 2 == 0:
        raise ValueError(f"fourier_basis: p must be odd, got {p}")
    x = np.arange(p)
    rows = [np.full(p, 1 / math.sqrt(p))]
    for f in range(1, (p - 1) // 2 + 1):
        rows += [np.cos(2 * np.pi * f * x / p), np.sin(2 * np.pi * f * x / p)]
    F = np.stack(rows)
    F[1:] *= math.sqrt(2 / p)
    return F


def fourier_labels(p):
    """The names of fourier_basis(p)'s rows: ["const", "cos 1", "sin 1", "cos 2", ...]."""
    p = _check_integer(p, 3, "fourier_labels: p")
    return ["const"] + [f"{kind} {f}" for f in range(1, (p - 1) // 2 + 1) for kind in ("cos", "sin")]


def neuron_spectrum(W_input):
    """How much of each neuron's weights lies at each frequency: energy (K?, (p + 1) / 2, n).

    W_input: (K?, p, n), a function of the input x in [0, p) per neuron (pass W_outputᵀ for the output side).
    With c = F W_input:   energy[0] = c_const²,   energy[f] = c_cos f² + c_sin f²   for f = 1 .. (p - 1) / 2.
    F is orthonormal, so each neuron's energies sum to the squared norm of its column (Parseval).
    """
    W_input = np.asarray(W_input, dtype=np.float64)
    c = fourier_basis(W_input.shape[-2]) @ W_input                    # (K?, p, n)
    c2 = c * c
    return np.concatenate([c2[..., :1, :], c2[..., 1::2, :] + c2[..., 2::2, :]], axis=-2)


def dominant_frequency(W_input):
    """Each neuron's frequency: the f >= 1 with the most energy. (K?, p, n) -> (K?, n) integers in [1, (p-1)/2].

    The constant is left out: it is the same for every input (a bias), so it names no frequency group.
    """
    return np.argmax(neuron_spectrum(W_input)[..., 1:, :], axis=-2) + 1


def key_frequencies(W_input, top):
    """The `top` frequencies (f >= 1) with the most energy summed over all neurons, largest first.

    W_input: (K?, p, n) -> (K?, top). A grokked model has 3 or 4 of them (see frequency_fraction).
    """
    energy = neuron_spectrum(W_input)[..., 1:, :].sum(axis=-1)       # (K?, (p - 1) / 2)
    return np.argsort(-energy, axis=-1, kind="stable")[..., :top] + 1


def frequency_fraction(W_input, frequencies):
    """The fraction of ||F W_input||² carried by `frequencies`, the constant excluded:

        sum over f in frequencies of energy[f]  /  sum over f >= 1 of energy[f]

    The constant is excluded because it is a bias, the same for every input; the denominator is then the
    squared norm of W_input with each column's mean removed. 1.0 means the weights use only these frequencies.
    W_input: (K?, p, n), frequencies: a list of f in [1, (p-1)/2] -> (K?,)
    """
    energy = neuron_spectrum(W_input)
    return energy[..., list(frequencies), :].sum(axis=(-2, -1)) / energy[..., 1:, :].sum(axis=(-2, -1))


def star_coordinates(W_input, W_output):
    """The star plots' points: per frequency group, each neuron's (cos, sin) Fourier coefficient.

    W_input: (p, n), W_output: (n, p), one model (pass W_input[k], W_output[k] for instance k).
    Neurons are grouped by dominant_frequency(W_input). Returns {f: {"neurons": (k,), "input": (k, 2),
    "output": (k, 2)}} with the rows cos f and sin f of F W_input and of F W_outputᵀ, neurons sorted by the
    angle of their input point, the order in which a plot joins them. In a generalising model (and in the
    construction) the input points go once round a circle and the output points twice: a neuron that reads
    cos(x ω - φ) writes at phase 2φ, because ReLU or x² of cos(x ω - φ) carries cos(2x ω - 2φ).
    """
    F = fourier_basis(W_input.shape[-2])
    c_in, c_out = F @ W_input, F @ W_output.T                         # (p, n) each
    frequency = dominant_frequency(W_input)
    stars = {}
    for f in np.unique(frequency):
        neurons = np.flatnonzero(frequency == f)
        rows = [2 * f - 1, 2 * f]                                     # cos f, sin f
        angle = np.arctan2(c_in[rows[1], neurons], c_in[rows[0], neurons])
        neurons = neurons[np.argsort(angle, kind="stable")]
        stars[int(f)] = {"neurons": neurons, "input": c_in[rows][:, neurons].T, "output": c_out[rows][:, neurons].T}
    return stars


# --- the analytic construction -----------------------------------------------------------------------------

def construction(M, N):
    """Weights that do addition mod M with N neurons and x² in place of ReLU, written down by hand:

    W_input[a, i]  = cos(a ω - i θ)       (M, N)       ω = 2π / M,  θ = 2π / N
    W_output[i, j] = cos(j ω - 2 i θ)     (N, M)
    Neuron i reads the input's phase shifted by i θ and writes its output at twice that shift.
    Run them with forward_collapsed(W_input, W_output, a, b, "square") or "relu"; see closed_form_logits
    for what they compute and construction_accuracy for where it is exact.
    """
    M, N = _check_integer(M, 2, "construction: M"), _check_integer(N, 1, "construction: N")
    omega, theta = 2 * np.pi / M, 2 * np.pi / N
    x, i = np.arange(M)[:, None], np.arange(N)[None, :]
    return np.cos(x * omega - i * theta), np.cos(x.T * omega - 2 * i.T * theta)


def closed_form_logits(M, N, a, b):
    """l_j = N cos²((a - b) ω / 2) cos((a + b - j) ω): the x² construction's logits, for N = 3 and N >= 5.

    a, b: (B,) -> (B, M). Derivation, with Δ = (a - b) ω / 2 and s = a + b:
        cos(a ω - iθ) + cos(b ω - iθ) = 2 cos Δ cos(s ω/2 - iθ)                     (sum to product)
        squared:  4 cos²Δ cos²(s ω/2 - iθ) = 2 cos²Δ (1 + cos(s ω - 2iθ))
        times cos(j ω - 2iθ):  2 cos²Δ [cos(j ω - 2iθ) + ½ cos((s - j) ω) + ½ cos((s + j) ω - 4iθ)]
    Summed over i = 0 .. N-1, cos(c - k i θ) sums to 0 unless N divides k: the first term vanishes unless
    N divides 2, the last unless N divides 4, and the middle one adds up N times. So for N not in {1, 2, 4}
    l_j = N cos²Δ cos((s - j) ω): the positive constant is N. (N = 4 adds N cos²Δ cos((s + j) ω), which moves
    the argmax; N = 1 or 2 make every neuron write cos(j ω), so the argmax is always j = 0.)
    """
    a, b = np.asarray(a)[:, None], np.asarray(b)[:, None]
    omega, j = 2 * np.pi / M, np.arange(M)[None, :]
    return N * np.cos((a - b) * omega / 2) ** 2 * np.cos((a + b - j) * omega)


TIE_TOLERANCE = 1e-12   # margins below this fraction of the largest |logit| count as ties (rounding is ~1e-15)


def construction_accuracy(M, N, activation="square"):
    """The fraction of the M² ordered pairs (a, b) whose logits have their largest value at (a + b) mod M,
    alone: a tie, or a win by less than TIE_TOLERANCE of the largest |logit|, counts as wrong.

    x² ("square"), from closed_form_logits: argmax_j cos((s - j) ω) is j = s mod M, so it is exact whenever
    cos²Δ > 0 and N is not 1, 2 or 4. cos Δ = 0 exactly when M is even and a - b = ±M/2: those M ordered
    pairs get all-zero logits, a tie. So the accuracy is 1.0 for odd M and 1 - 1/M for even M. (The smallest
    margin, at |a - b| = (M ± 1)/2, is about 49 / M⁴ of the largest logit: above TIE_TOLERANCE for M up to ~2,600.)
    ReLU: ReLU(cos x) = 1/π + ½ cos x + (2/3π) cos 2x - (2/15π) cos 4x + ... (no odd harmonics above the
    first). The sum over the N neurons keeps the wanted harmonic 2 but also every harmonic m with m ± 2
    divisible by N (aliases), and the margin they must not overturn shrinks as M grows. Found over every
    odd M from 3 to 307: N = 3 and 4 never work (accuracy 0.02 and 0.01 at M = 67); N = 6 fails from M = 23
    (0.19 at 67), N = 8 from M = 57 (0.64 at 67), N = 5 and 10 from M = 119, N = 12 from M = 213; N = 7, 9, 11
    and every N from 13 to 32 were exact throughout (for odd N the first alias is m = 2N - 2, and small).
    Even M has the same all-zero tie as x², so at best 1 - 1/M.
    """
    W_input, W_output = construction(M, N)
    a, b, labels = addition_pairs(M, ordered=True)
    scores = forward_collapsed(W_input, W_output, a, b, activation).data          # (M², M)
    tolerance = TIE_TOLERANCE * np.abs(scores).max()
    rows = np.arange(len(labels))
    correct = scores[rows, labels]
    scores[rows, labels] = -np.inf                                               # the best of the others
    return float(np.mean(correct - scores.max(axis=-1) > tolerance))


# --- analysis helpers ----------------------------------------------------------------------------------------

def accuracy(logits, labels):
    """The fraction of pairs whose argmax logit is the label, per instance: (K?, B, p), (B,) -> (K?,).

    A Tensor or numpy array. Ties go to the first class (np.argmax): trained float logits practically never
    tie; the construction has exact ties, and construction_accuracy handles them itself.
    """
    values = logits.data if isinstance(logits, Tensor) else np.asarray(logits)
    return np.mean(np.argmax(values, axis=-1) == labels, axis=-1)


def logit_contribution(W_input, W_output, neurons, activation="relu"):
    """What a group of neurons writes to the logits, as a function of k = (a + b - c) mod p: (p,).

    W_input: (p, n), W_output: (n, p), one model; neurons: the indices of the group (e.g. one frequency's,
    from star_coordinates). Runs the model on all p² ordered pairs with only these neurons, and averages the
    logit of class c over the p² triples (a, b, c) that share each k. A group of frequency f that does modular
    addition writes A cos(2π f k / p) + const, largest at k = 0, i.e. at c = a + b: compare with
    np.corrcoef(contribution, np.cos(2 * np.pi * f * np.arange(p) / p)).
    """
    p = W_input.shape[-2]
    a, b, _ = addition_pairs(p, ordered=True)
    group = forward_collapsed(W_input[:, neurons], W_output[neurons], a, b, activation).data   # (p², p)
    k = (a[:, None] + b[:, None] - np.arange(p)[None, :]) % p
    return np.bincount(k.ravel(), weights=group.ravel(), minlength=p) / p**2
