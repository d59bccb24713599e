"""The benchmark: four standard toy-model workloads, reported the same way every time.

    python -m toygrad.bench [tms dd grok parity-sweep] [--steps N]

prints one line per workload:
    WORKLOAD toygrad steps=N seconds=S us_per_step=U gflops=G final_loss=L [extras]
seconds: the training loop only, after setup and after a warm-up step (numba compiles on first call), in float32
with fixed seeds. Extras follow: cpu_seconds (the process's CPU time over the same loop: on a machine shared with
other jobs it stays near the unloaded time while wall time does not), and what each workload reports. gflops: the floating-point operations of one step, counted by hand below (a multiply-add is 2),
divided by the time per step; final_loss: the loss of the last step, summed over instances where a workload
trains several. The same workload definitions are used to time other frameworks.
"""
import argparse
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

import toygrad as tg
from toygrad import datasets, modular, superposition

F32 = np.float32


@dataclass
class Workload:
    """A ready-to-train workload: `step()` trains one step and returns the loss Tensor."""
    step: Callable
    flops_per_step: float
    extras: Callable = lambda: {}


def tms():
    """ReLU-output model x' = ReLU(Wᵀ W x + b), 10 instances, n = 20, m = 5, fresh batch of 1,024 each step.

    Written as a user of toygrad would: the batch from datasets.SparseBatches with the counter-based sampler
    (kernels.sample_sparse_counter: 8x faster than drawing on NumPy's stream, which was 20% of a step), the loss
    from superposition.reconstruction_loss (relu(tied(x, W, b)) and mse as one fused numba op; see
    kernels.reconstruction). The same model through the ops (tied, relu, mse) gives the same loss and gradients
    (tests/test_superposition.py) at ~4x the time.

    FLOPs (I = 10, B = 1024, n = 20, m = 5): the tied op's 2 forward and 3 backward products, each 2 I B n m
    (= 2.05 M), plus about 12 elementwise passes over I B n (bias, ReLU and its backward, the weighted squared
    error and its gradient): 5 x 2.05 M + 12 x 0.20 M = 12.7 MFLOP.
    """
    I, B, n, m = 10, 1024, 20, 5
    rng = np.random.default_rng(0)
    W = tg.parameter("xavier_normal", (I, m, n), rng)
    b = tg.parameter("zeros", (I, n), rng)
    opt = tg.AdamW([W, b], lr=1e-3, weight_decay=0.0)
    p, importance = 20.0 ** -np.linspace(0, 1, I), (0.9 ** np.arange(n)).astype(F32)
    batches = datasets.SparseBatches(rng, p, B, n, method="counter")

    def step():
        loss = superposition.reconstruction_loss(batches(), W, b, importance)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        return loss
    return Workload(step, 5 * 2 * I * B * n * m + 12 * I * B * n)


def dd(steps):
    """ReLU-output model, n = 1,000, m = 2, a fixed set of T = 1,000 unit-norm points (p = 0.01), full batch,
    AdamW lr 1e-3, weight decay 1e-2, warmup 5% then cosine.

    The loss is superposition.reconstruction_loss, the fused op lesson 02 trains with (see tms); its instance
    axis holds the one model. The fixed x goes in as its nonzeros (superposition.fixed_data), which the kernel
    reads instead of x: 2m + 2 passes over the n features per point instead of 4m + 3 (1.5x faster).

    FLOPs (T = n = 1000, m = 2): 5 products of 2 T n m (= 4 M) plus about 12 passes over T n: 20 M + 12 M = 32 MFLOP.
    """
    T, n, m = 1000, 1000, 2
    rng = np.random.default_rng(0)
    x = superposition.fixed_data(datasets.fixed_sparse_dataset(rng, [0.01], T, n))   # (1, T, n): its nonzeros
    W = tg.parameter("xavier_normal", (1, m, n), rng)
    b = tg.parameter("zeros", (1, n), rng)
    opt = tg.AdamW([W, b], lr=1e-3, weight_decay=1e-2, schedule=tg.schedule("warmup_cosine", total_steps=steps))

    def step():
        loss = superposition.reconstruction_loss(x, W, b)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        return loss
    return Workload(step, 5 * 2 * T * n * m + 12 * T * n)


def grok():
    """a + b mod 67 over all 67² ordered pairs, 30% train; E (67, 32), W_in (32, 24), W_out (24, 32);
    logits = ReLU((E[a] + E[b]) W_in) W_out Eᵀ, computed in the collapsed view (modular.logits: the same
    function); cross-entropy mean over the batch; AdamW lr 1e-3, betas (0.9, 0.98), weight decay 1.0.
    The loss is modular.loss, what lesson 05 trains with: the collapse, the logits and the cross-entropy as one
    op (kernels.collapsed_cross_entropy: the batch in two halves on the two cores, each one compiled call, with BLAS
    for its three products called from numba, one numba pass between each and the vectorised exp; the collapse's
    products are made in the op, off the tape).

    FLOPs (B = 1,347 train pairs, p = 67, d = 32, n = 24): E W_in and W_out Eᵀ (2 p d n each) and their 4 backward
    products: 6 x 0.10 M; h W_output and its 2 backward products: 3 x 2 B n p = 13.0 M; softmax cross-entropy
    and gathers: about 10 B p = 0.9 M. Total 14.5 MFLOP.
    """
    p, d, n = 67, 32, 24
    rng = np.random.default_rng(0)
    a, b, labels = modular.addition_pairs(p, ordered=True)
    train, test = modular.train_test_split(len(labels), 0.3, rng)
    params = modular.init_params(rng, p, d, n, F32)
    opt = tg.AdamW(params.values(), lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)

    a_train, b_train, y_train = a[train], b[train], labels[train]

    def step():
        loss = modular.loss(params, a_train, b_train, y_train)      # = cross_entropy(logits(...)), fused
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def extras():
        z = modular.logits(params, a, b).data
        return {"train_acc": modular.accuracy(z[train], labels[train]), "test_acc": modular.accuracy(z[test], labels[test])}
    B = len(train)
    return Workload(step, 6 * 2 * p * d * n + 3 * 2 * B * n * p + 10 * B * p, extras)


def parity_sweep():
    """90 ReLU MLPs (30 bits -> 32 hidden, with biases -> 2 logits) on the parity of the first 3 bits, trained
    together: weight decay logspace(-3, 0, 10) x 9 seeds on the instance axis; 1,200 training sequences shared
    by all, full batch; AdamW lr 1e-2. The loss is tg.mlp_cross_entropy, the two layers and the cross-entropy as
    one fused op (kernels.mlp_cross_entropy: 15 models at a time as one wide layer, 64 points at a time from the
    first layer to its gradient, and the inputs are bits, so the first layer and its weight gradient are table
    lookups, and the two classes one logit difference); the composed ops give the same numbers (tests/test_losses.py)
    at 7.1x the time on 2 cores, 3.8x on one.

    FLOPs (I = 90, B = 1,200): the first layer's forward and weight gradient, 2 x 2 I B 30 32 = 414.7 M; the second
    layer's 3 products, 3 x 2 I B 32 2 = 41.5 M; elementwise about 8 I B 32 = 27.6 M. Total 484 MFLOP.
    """
    I, B, H = 90, 1200, 32
    rng = np.random.default_rng(0)
    x, y = datasets.parity_bits(rng, B, 30, 3)
    x_test, y_test = datasets.parity_bits(rng, 1000, 30, 3)
    decay = np.repeat(np.logspace(-3, 0, 10), 9)
    W1, b1 = (tg.parameter("torch_linear", shape, rng, fan_in=30) for shape in ((I, H, 30), (I, H)))
    W2, b2 = (tg.parameter("torch_linear", shape, rng, fan_in=H) for shape in ((I, 2, H), (I, 2)))
    opt = tg.AdamW([W1, b1, W2, b2], lr=1e-2, weight_decay=decay)

    def logits(inputs):
        return tg.linear(tg.relu(tg.linear(inputs, W1, b1)), W2, b2)

    def step():
        loss = tg.mlp_cross_entropy(x, W1, b1, W2, b2, y)      # = cross_entropy(logits(x), y), fused
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        return loss

    def extras():
        accuracy = (logits(x_test).data.argmax(-1) == y_test).mean(-1)
        return {"models_above_0.95": int((accuracy > 0.95).sum())}
    return Workload(step, 2 * 2 * I * B * 30 * H + 3 * 2 * I * B * H * 2 + 8 * I * B * H, extras)


WORKLOADS = {"tms": (tms, 10_000), "dd": (dd, 10_000), "grok": (grok, 10_000), "parity-sweep": (parity_sweep, 2_000)}


def build(name, steps):
    make, _ = WORKLOADS[name]
    return make(steps) if name == "dd" else make()


def run(name, steps=None):
    """Train one workload; returns its report line."""
    steps = steps or WORKLOADS[name][1]
    build(name, steps).step()                            # warm-up on a throwaway copy: compiles every kernel
    workload = build(name, steps)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = workload.step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    extras = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in workload.extras().items())
    return (f"{name} toygrad steps={steps} seconds={seconds:.3f} us_per_step={seconds / steps * 1e6:.1f} "
            f"gflops={workload.flops_per_step * steps / seconds / 1e9:.2f} final_loss={float(loss.data.sum()):.6g}"
            + f" cpu_seconds={cpu:.3f}" + (f" {extras}" if extras else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m toygrad.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--steps", type=int, help="training steps (default: each workload's own)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    for name in args.workloads or WORKLOADS:
        print(run(name, args.steps), flush=True)


if __name__ == "__main__":
    main()
