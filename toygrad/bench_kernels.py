"""How much faster each numba kernel is than its NumPy twin: `python -m toygrad.bench_kernels`.

Inputs are lesson-sized (a grokking batch, a superposition batch); each time is the median of several runs
after a warm-up call (so compilation is not counted).
"""
import time

import numpy as np

from .kernels import (adam_update, adam_update_numpy, collapsed_cross_entropy, collapsed_cross_entropy_numpy, gather_rows, gather_rows_numpy, mlp_cross_entropy,
                      mlp_cross_entropy_numpy, reconstruction, reconstruction_numpy, relu_backward, relu_backward_numpy,
                      sample_sparse, sample_sparse_counter, sample_sparse_counter_numpy, sample_sparse_numpy,
                      scatter_add_rows, scatter_add_rows_numpy, softmax_xent_hard, softmax_xent_hard_numpy,
                      softmax_xent_soft, softmax_xent_soft_numpy)


def _timeit(fn, *args, repeat=7):
    fn(*args)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def compare(repeat=7):
    """Median seconds of each kernel and its NumPy twin on a typical lesson-sized input."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((10, 1024, 20)).astype(f32)
    g = rng.standard_normal(x.shape).astype(f32)
    logits = rng.standard_normal((911, 67)).astype(f32)
    labels = rng.integers(0, 67, 911)
    soft = rng.random((911, 67)).astype(f32)
    soft /= soft.sum(1, keepdims=True)
    idx = rng.integers(0, 67, (1, 911))
    rows_g = rng.standard_normal((1, 911, 24)).astype(f32)
    p = rng.standard_normal((1, 60_000)).astype(f32)
    one = np.ones(1, f32)

    def adam(fn):
        def run():
            fn(p, p * 0.1, np.zeros_like(p), np.zeros_like(p), one * 1e-3, one * 1e-2, one * 0, one * 0,
               0.9, 0.999, 1e-8, 0.1, 0.001)
        return run
    sparse_out = np.empty((10, 1024, 20), f32)
    probs = 20.0 ** -np.linspace(0, 1, 10)
    W3 = rng.standard_normal((1, 67, 24)).astype(f32)
    x_dd = (rng.random((1, 1000, 1000)) * (rng.random((1, 1000, 1000)) < 0.01)).astype(f32)   # lesson 02's data
    W_dd, b_dd, w_dd = (0.1 * rng.standard_normal(s).astype(f32) for s in ((1, 2, 1000), (1, 1000), (1, 1000)))

    W_tms, b_tms = (0.3 * rng.standard_normal(s).astype(f32) for s in ((10, 5, 20), (10, 20)))
    w_tms = np.ascontiguousarray(np.broadcast_to((0.9 ** np.arange(20)).astype(f32), (10, 20)))
    bits = rng.integers(0, 2, (1200, 30)).astype(f32)                                   # the parity sweep's data
    mlp = [rng.uniform(-0.2, 0.2, s).astype(f32) for s in ((90, 32, 30), (90, 32), (90, 2, 32), (90, 2))]
    parity = rng.integers(0, 2, 1200)
    W_in, W_out = rng.standard_normal((1, 67, 24)).astype(f32), rng.standard_normal((1, 24, 67)).astype(f32)
    pairs = [rng.integers(0, 67, (1, 1347)) for _ in range(3)]                       # the grok bench's batch

    def fused(x, W, b, w):
        return lambda: reconstruction(x, W, b, w, np.full(len(W), W.shape[1]), True, np.zeros_like(W), np.zeros_like(b))
    cases = {
        "reconstruction (1000 points, n=1000, m=2)": (fused(x_dd, W_dd, b_dd, w_dd),
                                                      lambda: reconstruction_numpy(x_dd, W_dd, b_dd, w_dd)),
        "reconstruction (10x1024 points, n=20, m=5)": (fused(x, W_tms, b_tms, w_tms),
                                                       lambda: reconstruction_numpy(x, W_tms, b_tms, w_tms)),
        "mlp_cross_entropy (90 MLPs 30-32-2, 1200 bits)": (
            lambda: mlp_cross_entropy(bits, parity, *mlp, True, *(np.zeros_like(a) for a in mlp)),
            lambda: mlp_cross_entropy_numpy(bits, parity, *mlp)),
        "collapsed_cross_entropy (1347 pairs, p=67, n=24)": (
            lambda: collapsed_cross_entropy(W_in, W_out, *pairs, 1e-5, 1e-33, True),
            lambda: collapsed_cross_entropy_numpy(W_in, W_out, *pairs, 1e-5, 1e-33)),
        "gather_rows (911 rows of 24 from 67)": (lambda: gather_rows(W3, idx), lambda: gather_rows_numpy(W3, idx)),
        "relu_backward (10x1024x20)": (lambda: relu_backward(x, g), lambda: relu_backward_numpy(x, g)),
        "scatter_add_rows (911 rows of 24 into 67)": (
            lambda: scatter_add_rows(np.zeros((1, 67, 24), f32), idx, rows_g),
            lambda: scatter_add_rows_numpy(np.zeros((1, 67, 24), f32), idx, rows_g)),
        "softmax_xent_hard (911x67)": (lambda: softmax_xent_hard(logits, labels),
                                       lambda: softmax_xent_hard_numpy(logits, labels)),
        "softmax_xent_soft (911x67)": (lambda: softmax_xent_soft(logits, soft),
                                       lambda: softmax_xent_soft_numpy(logits, soft)),
        "adam_update (60k params)": (adam(adam_update), adam(adam_update_numpy)),
        "sample_sparse (10x1024x20, p=20^-linspace(0,1,10))": (
            lambda: sample_sparse(rng, sparse_out, probs), lambda: sample_sparse_numpy(rng, sparse_out, probs)),
        "sample_sparse_counter (10x1024x20, the same p)": (
            lambda: sample_sparse_counter(rng, sparse_out, probs), lambda: sample_sparse_counter_numpy(rng, sparse_out, probs)),
    }
    return {name: (_timeit(fast, repeat=repeat), _timeit(slow, repeat=repeat)) for name, (fast, slow) in cases.items()}


if __name__ == "__main__":
    print(f"{'kernel':52s} {'numba':>10s} {'numpy':>10s} {'speed-up':>9s}")
    for name, (fast, slow) in compare().items():
        print(f"{name:52s} {fast * 1e6:8.1f}us {slow * 1e6:8.1f}us {slow / fast:8.1f}x")
