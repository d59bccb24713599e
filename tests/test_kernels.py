"""Every numba kernel equals its plain NumPy twin on drawn inputs, in float32 and float64.

The kernels compile with fast-math reassociation (kernels.FAST): LLVM may reorder sums and fuse multiply-adds,
so results can differ from NumPy in the last bits. Hence rtol 1e-5 in float32 and 1e-12 in float64: room
for reordering (float32 eps is 1.2e-7, float64's 2.2e-16), far too little for a wrong formula. The inputs are
O(1), so a rounding difference is about that size in absolute terms too, also in an entry that cancels to ~0:
the same number serves as atol.
"""
import math

import numpy as np
from numba import njit
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies import floats, integers, probability_rows, shapes, sizes
from toygrad import kernels
from toygrad.datasets import sparse_rows

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def assert_twins(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype], strict=True)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_relu_backward(dtype, data):
    shape = data.draw(shapes())
    x, g = data.draw(floats(shape, dtype)), data.draw(floats(shape, dtype))
    np.testing.assert_array_equal(kernels.relu_backward(x, g), kernels.relu_backward_numpy(x, g), strict=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shared", [True, False], ids=["shared index", "per-instance index"])
@given(data=st.data())
def test_gather_rows(dtype, shared, data):
    L, V, d, B = (data.draw(sizes) for _ in range(4))
    W = data.draw(floats((L, V, d), dtype))
    index = data.draw(integers((1 if shared else L, B), V))
    np.testing.assert_array_equal(kernels.gather_rows(W, index), kernels.gather_rows_numpy(W, index), strict=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shared", [True, False], ids=["shared index", "per-instance index"])
@given(data=st.data())
def test_scatter_add_rows(dtype, shared, data):
    L, V, d, B = (data.draw(sizes) for _ in range(4))
    dW = data.draw(floats((L, V, d), dtype))                   # not zeros: the kernel must add, not overwrite
    index = data.draw(integers((1 if shared else L, B + 2), V))
    g = data.draw(floats((L, B + 2, d), dtype))
    expected = dW.copy()
    kernels.scatter_add_rows(dW, index, g)
    kernels.scatter_add_rows_numpy(expected, index, g)
    assert_twins(dW, expected, dtype)


# probabilities below flush_below become 0 in dlogits (None: below the smallest normal float); with logits in
# [-2, 2] softmax entries lie in [0.004, 1], so 0.05 and 0.3 flush some of them
FLUSH_BELOW = st.sampled_from([None, 0.05, 0.3])


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), flush_below=FLUSH_BELOW)
def test_softmax_xent_hard(dtype, flush_below, data):
    R, C = data.draw(sizes), data.draw(st.integers(2, 5))
    logits, labels = data.draw(floats((R, C), dtype)), data.draw(integers((R,), C))
    for actual, expected in zip(kernels.softmax_xent_hard(logits, labels, flush_below),
                                kernels.softmax_xent_hard_numpy(logits, labels, flush_below)):
        assert_twins(actual, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), flush_below=FLUSH_BELOW)
def test_softmax_xent_soft(dtype, flush_below, data):
    R, C = data.draw(sizes), data.draw(st.integers(2, 5))
    logits, target = data.draw(floats((R, C), dtype)), data.draw(probability_rows((R, C), dtype))
    for actual, expected in zip(kernels.softmax_xent_soft(logits, target, flush_below),
                                kernels.softmax_xent_soft_numpy(logits, target, flush_below)):
        assert_twins(actual, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_instance", [False, True], ids=["scalar hyperparameters", "per-instance"])
@given(data=st.data(), beta1=st.floats(0, 0.99), beta2=st.floats(0.5, 0.999), step=st.integers(1, 20))
def test_adam_update(dtype, per_instance, data, beta1, beta2, step):
    L, K = data.draw(sizes), data.draw(st.integers(1, 9))
    p, g, m = (data.draw(floats((L, K), dtype)) for _ in range(3))
    v = data.draw(floats((L, K), dtype).map(np.abs))                # a running mean of squares
    # lr, decoupled decay, coupled l2, l1: (L,) or (1,), float64 as the optimizers pass them
    hypers = [data.draw(floats((L if per_instance else 1,), bound=0.1).map(np.abs)) for _ in range(4)]
    scalars = (beta1, beta2, 1e-8, 1 - beta1 ** step, 1 - beta2 ** step)
    state = [a.copy() for a in (p, g, m, v)]
    kernels.adam_update(p, g, m, v, *hypers, *scalars)
    kernels.adam_update_numpy(*state, *hypers, *scalars)
    for actual, expected in zip((p, m, v), (state[0], state[2], state[3])):
        assert_twins(actual, expected, dtype)


# --- sample_sparse: random, so compared with a plain loop of the same algorithm ------------------------------

def sample_sparse_reference(rng, out, p):
    """The kernel's algorithm in plain Python: skip a Geometric(p) number of absent entries, draw a present one."""
    for l in range(out.shape[0]):
        flat = np.zeros(out[l].size, out.dtype)
        if 0 < p[l] < 1:
            i = -1
            while True:
                i += 1 + math.floor(math.log(1.0 - rng.random()) / math.log1p(-p[l]))
                if i >= flat.size:
                    break
                flat[i] = rng.random()
        elif p[l] >= 1:
            for i in range(flat.size):
                flat[i] = rng.random()
        out[l] = flat.reshape(out[l].shape)


probabilities = st.one_of(st.floats(0.001, 0.999), st.sampled_from([0.0, 1.0, 1e-30]))


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=st.integers(0, 2**32 - 1), shape=st.tuples(sizes, st.integers(1, 8), st.integers(1, 8)),
       data=st.data())
def test_sample_sparse_is_the_geometric_skip_algorithm_on_numpys_stream(dtype, seed, shape, data):
    p = np.array(data.draw(st.lists(probabilities, min_size=shape[0], max_size=shape[0])))
    out, again, expected = (np.full(shape, np.nan, dtype) for _ in range(3))
    kernels.sample_sparse(np.random.default_rng(seed), out, p)
    kernels.sample_sparse(np.random.default_rng(seed), again, p)
    sample_sparse_reference(np.random.default_rng(seed), expected, p)   # numba's Generator draws NumPy's stream
    np.testing.assert_array_equal(out, again)                              # the same seed, the same batch
    np.testing.assert_array_equal(out, expected)                           # bit for bit


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_sample_sparse_statistics(seed):
    p = np.array([0.01, 0.1, 0.5, 0.9, 0.0, 1.0, 1e-30])
    out = np.empty((len(p), 1000, 20))
    kernels.sample_sparse(np.random.default_rng(seed), out, p)
    present = out != 0
    n = out[0].size
    for l in (0, 1, 2, 3):
        standard_error = math.sqrt(p[l] * (1 - p[l]) / n)
        assert abs(present[l].mean() - p[l]) < 5 * standard_error
        values = out[l][present[l]]
        assert values.min() > 0 and values.max() < 1
        assert abs(values.mean() - 0.5) < 5 * math.sqrt(1 / 12 / values.size)    # Uniform(0, 1)
    assert not present[4].any()                     # p = 0: all zeros
    assert present[5].all()                         # p = 1: no zeros
    assert not present[6].any()                     # p far below 1 / size: all zeros (and no overflow)


def test_sample_sparse_float32_values_stay_below_1():
    """A float64 draw within 2^-25 of 1 rounds up to 1.0 in float32; the kernel keeps values in [0, 1)."""
    out = np.empty((1, 2000, 1000), np.float32)
    kernels.sample_sparse(np.random.default_rng(0), out, np.ones(1))
    assert out.max() < 1.0 and out.min() >= 0.0


RECONSTRUCTION_KERNELS = {"rows (wide n)": kernels._reconstruction_rows, "columns (narrow n)": kernels._reconstruction_columns}


@pytest.mark.parametrize("kernel", RECONSTRUCTION_KERNELS.values(), ids=RECONSTRUCTION_KERNELS.keys())
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_reconstruction(kernel, dtype, data):
    """The fused ReLU-output loss and its gradients equal the whole-array twin, with both loop orders (the
    dispatcher kernels.reconstruction picks by n). rank_l < m: the kernel must ignore rows of W from rank_l on, as
    if they were 0 (then the twin's gradient for them is 0 too), whatever they hold."""
    L, B, n, m = data.draw(sizes), data.draw(st.integers(1, 9)), data.draw(st.integers(1, 8)), data.draw(sizes)
    x = np.abs(data.draw(floats((L, B, n), dtype)))
    W, b, w = data.draw(floats((L, m, n), dtype)), data.draw(floats((L, n), dtype)), np.abs(data.draw(floats((L, n), dtype)))
    rank = np.array(data.draw(st.lists(st.integers(0, m), min_size=L, max_size=L)))
    in_use = W * (np.arange(m)[None, :, None] < rank[:, None, None])
    dW, db = np.zeros_like(W), np.zeros_like(b)
    loss = kernel(x, W, b, w, rank, True, dW, db, B)
    expected, dW_twin, db_twin = kernels.reconstruction_numpy(x, in_use, b, w)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)   # sums reassociated
    np.testing.assert_allclose(loss, expected, **tol)
    np.testing.assert_allclose(dW, dW_twin, **tol)
    np.testing.assert_allclose(db, db_twin, **tol)
    untouched = np.zeros_like(W)
    np.testing.assert_array_equal(kernel(x, W, b, w, rank, False, untouched, np.zeros_like(b), B), loss)
    assert not untouched.any()                                   # want_grad=False: no gradient written


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_reconstruction_sparse(dtype, data):
    """The kernel that reads a fixed x by its nonzeros (datasets.sparse_rows) equals the whole-array twin, with
    rows of x that are empty, full or in between, and rank as in test_reconstruction."""
    L, B, n, m = data.draw(sizes), data.draw(st.integers(1, 9)), data.draw(st.integers(1, 12)), data.draw(sizes)
    keep = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).random((L, B, n)) < data.draw(st.floats(0, 1))
    x = np.abs(data.draw(floats((L, B, n), dtype))) * keep
    W, b, w = data.draw(floats((L, m, n), dtype)), data.draw(floats((L, n), dtype)), np.abs(data.draw(floats((L, n), dtype)))
    rank = np.array(data.draw(st.lists(st.integers(0, m), min_size=L, max_size=L)))
    in_use = W * (np.arange(m)[None, :, None] < rank[:, None, None])
    rows = sparse_rows(x)
    dW, db = np.zeros_like(W), np.zeros_like(b)
    loss = kernels.reconstruction_sparse(rows.index, rows.value, rows.count, W, b, w, rank, True, dW, db)
    expected, dW_twin, db_twin = kernels.reconstruction_numpy(x, in_use, b, w)
    for actual, twin in ((loss, expected), (dW, dW_twin), (db, db_twin)):
        np.testing.assert_allclose(actual, twin, rtol=TOL[dtype], atol=TOL[dtype])
    untouched = np.zeros_like(W)
    again = kernels.reconstruction_sparse(rows.index, rows.value, rows.count, W, b, w, rank, False, untouched,
                                          np.zeros_like(b))
    np.testing.assert_array_equal(again, loss)
    assert not untouched.any()                                   # want_grad=False: no gradient written


@pytest.mark.parametrize("B", [128, 129, 300])
def test_reconstruction_columns_over_several_blocks(B):
    """The narrow kernel takes 128 points a block, and a short last block leaves its per-point loss sums from nb
    on as earlier blocks left them: one full block, one point over, and two blocks and a short one."""
    rng = np.random.default_rng(B)
    x, W = rng.random((3, B, 20)) * (rng.random((3, B, 20)) < 0.3), rng.standard_normal((3, 5, 20))
    b, w, rank = rng.standard_normal((3, 20)) * 0.1, rng.random((3, 20)), np.array([5, 2, 0])
    dW, db = np.zeros_like(W), np.zeros_like(b)
    loss = kernels._reconstruction_columns(x, W, b, w, rank, True, dW, db, B)
    in_use = W * (np.arange(5)[None, :, None] < rank[:, None, None])
    expected, dW_twin, db_twin = kernels.reconstruction_numpy(x, in_use, b, w)
    for actual, twin in ((loss, expected), (dW, dW_twin), (db, db_twin)):
        np.testing.assert_allclose(actual, twin, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [20, 100], ids=["columns", "rows and sparse"])
def test_reconstruction_of_one_instance_in_two_halves(n):
    """A single instance's points go in two halves (B // 2 and the rest), each with gradients of its own: the sum is
    the whole batch's mean loss and gradients, dense and (n = 100) by its nonzeros, and adds into dW and db."""
    rng = np.random.default_rng(n)
    B = 301
    x = rng.random((1, B, n)) * (rng.random((1, B, n)) < 0.05)
    W, b, w = rng.standard_normal((1, 3, n)), 0.1 * rng.standard_normal((1, n)), rng.random((1, n))
    rank = np.array([3])
    expected, dW_twin, db_twin = kernels.reconstruction_numpy(x, W, b, w)
    rows = sparse_rows(x)
    runs = {"dense": lambda dW, db: kernels.reconstruction(x, W, b, w, rank, True, dW, db)}
    if n >= 64:
        runs["sparse"] = lambda dW, db: kernels.reconstruction_sparse(rows.index, rows.value, rows.count, W, b, w,
                                                                       rank, True, dW, db)
    for name, run in runs.items():
        dW, db = np.ones_like(W), np.ones_like(b)                # added into what is there
        loss = run(dW, db)
        for actual, twin in ((loss, expected), (dW, dW_twin + 1), (db, db_twin + 1)):
            np.testing.assert_allclose(actual, twin, rtol=1e-12, atol=1e-12, err_msg=name)


def test_reconstruction_dispatches_on_the_number_of_features():
    rng = np.random.default_rng(0)
    for n in (20, 64, 100):
        x, W, b, w = rng.random((2, 40, n)), rng.standard_normal((2, 3, n)), rng.standard_normal((2, n)), rng.random((2, n))
        dW, db = np.zeros_like(W), np.zeros_like(b)
        loss = kernels.reconstruction(x, W, b, w, np.full(2, 3), True, dW, db)
        expected, dW_twin, db_twin = kernels.reconstruction_numpy(x, W, b, w)
        for actual, twin in ((loss, expected), (dW, dW_twin), (db, db_twin)):
            np.testing.assert_allclose(actual, twin, rtol=1e-12, atol=1e-12)


# --- sample_sparse_counter: a pure function of (key, index), so equal to its whole-array twin bit for bit ----

@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=st.integers(0, 2**32 - 1), shape=st.tuples(sizes, st.integers(1, 9), st.integers(1, 9)), data=st.data())
def test_sample_sparse_counter(dtype, seed, shape, data):
    p = np.array(data.draw(st.lists(probabilities, min_size=shape[0], max_size=shape[0])))
    out, again, expected = (np.full(shape, np.nan, dtype) for _ in range(3))
    kernels.sample_sparse_counter(np.random.default_rng(seed), out, p)
    kernels.sample_sparse_counter(np.random.default_rng(seed), again, p)
    kernels.sample_sparse_counter_numpy(np.random.default_rng(seed), expected, p)
    np.testing.assert_array_equal(out, again)                              # the same seed, the same batch
    np.testing.assert_array_equal(out, expected)                           # bit for bit


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_sample_sparse_counter_statistics(seed):
    """Presence at rate p, values Uniform[0, 1) given presence (u / p), in float32 (the 32-bit hash) and float64
    (SplitMix64), each half of each instance on its own: the rates hold along the counter, not only on average."""
    p = np.array([0.01, 0.1, 0.5, 0.9, 0.0, 1.0, 1e-30])
    for dtype in DTYPES:
        out = np.empty((len(p), 1000, 20), dtype)
        kernels.sample_sparse_counter(np.random.default_rng(seed), out, p)
        present = out != 0
        for l in (0, 1, 2, 3):
            for half in (out[l, :500], out[l, 500:]):
                n = half.size
                standard_error = math.sqrt(p[l] * (1 - p[l]) / n)
                assert abs((half != 0).mean() - p[l]) < 5 * standard_error
                values = half[half != 0]
                assert values.max() < 1
                assert abs(values.mean() - 0.5) < 5 * math.sqrt(1 / 12 / values.size)    # Uniform(0, 1)
        # p = 1: every entry is drawn, and a draw is exactly 0 with probability 2^-24 in float32 (seed 917 has one
        # in these 20,000 entries), 2^-53 in float64: expected 0.001 zeros here, more than 3 has odds below 1e-13
        assert not present[4].any() and (~present[5]).sum() <= 3 and not present[6].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_sparse_counter_at_the_edges(dtype):
    """No instances, no entries, and a p so small that 1 / p overflows a float32: nothing drawn, nothing NaN."""
    for shape in ((0, 4, 5), (3, 0, 5)):
        kernels.sample_sparse_counter(np.random.default_rng(0), np.empty(shape, dtype), np.full(shape[0], 0.5))
    for seed in range(3):        # at p = 1e-40 about 1 of these 16.8 M entries has the hash bits 0, so is "present"
        out = np.empty((1, 4096, 4096), dtype)
        kernels.sample_sparse_counter(np.random.default_rng(seed), out, np.array([1e-40]))
        assert np.isfinite(out).all() and out.max() < 1


def test_sample_sparse_counter_advances_the_generator_and_draws_anew():
    rng, out = np.random.default_rng(0), np.empty((2, 64, 8), np.float32)
    kernels.sample_sparse_counter(rng, out, np.full(2, 0.5))
    first = out.copy()
    kernels.sample_sparse_counter(rng, out, np.full(2, 0.5))
    assert not np.array_equal(first, out)


# --- the MLP's fused cross-entropy --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bits", [True, False], ids=["0/1 inputs (tables)", "real inputs (sparse rows)"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared x (B, n)", "per-instance x (I, B, n)"])
@given(data=st.data())
def test_mlp_cross_entropy(dtype, bits, shared, data):
    I, H, C = data.draw(sizes), data.draw(st.integers(1, 40)), data.draw(st.integers(2, 4))
    B = data.draw(st.sampled_from([1, 3, 64, 65, 130]))                   # within a tile of 64, one full, several
    n = data.draw(st.integers(1, 14))                                     # up to 3 groups of 6 bits, a partial one
    x_shape = (B, n) if shared else (I, B, n)
    x = data.draw(integers(x_shape, 2)).astype(dtype) if bits else data.draw(floats(x_shape, dtype))
    labels = data.draw(integers(data.draw(st.sampled_from([(B,), (I, B)])), C))   # shared by the models or not
    W1, b1 = data.draw(floats((I, H, n), dtype)), data.draw(floats((I, H), dtype))
    W2, b2 = data.draw(floats((I, C, H), dtype)), data.draw(floats((I, C), dtype))
    grads = [np.zeros_like(a) for a in (W1, b1, W2, b2)]
    loss = kernels.mlp_cross_entropy(x, labels, W1, b1, W2, b2, True, *grads)
    expected = kernels.mlp_cross_entropy_numpy(x, labels, W1, b1, W2, b2)
    # the logits are sums of many terms (up to 14 x 40 products); summed in another order, each is off by about
    # eps times the sum of its terms' sizes, and so are the loss and (through the softmax) the gradients: scale atol
    # by the largest such sum, |b2| + |W2| (|W1| |x| + |b1|)
    hidden = np.einsum("ibn,ihn->ibh", np.broadcast_to(np.abs(x), (I,) + x.shape[-2:]), np.abs(W1)) + np.abs(b1)[:, None, :]
    magnitude = 1 + float((np.einsum("ibh,ich->ibc", hidden, np.abs(W2)) + np.abs(b2)[:, None, :]).max())
    for actual, twin in zip([loss] + grads, expected):
        np.testing.assert_allclose(actual, twin, rtol=TOL[dtype], atol=TOL[dtype] * magnitude)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_cross_entropy_over_several_chunks_and_many_classes(dtype):
    """Shapes the drawn ones do not reach: 20 models of 32 units share x (1,280 units: 3 chunks of MLP_UNITS),
    and 10,000 classes, where the product of a tile's softmax totals passes 1e250 and its log is taken early."""
    rng = np.random.default_rng(1)
    for I, B, H, n, C in ((20, 130, 32, 14, 2), (2, 64, 1, 1, 10_000)):
        x = (rng.random((B, n)) < 0.5).astype(dtype)
        labels = rng.integers(0, C, B)
        weights = [(0.5 * rng.normal(size=s)).astype(dtype) for s in ((I, H, n), (I, H), (I, C, H), (I, C))]
        grads = [np.zeros_like(a) for a in weights]
        loss = kernels.mlp_cross_entropy(x, labels, *weights, True, *grads)
        for actual, twin in zip([loss] + grads, kernels.mlp_cross_entropy_numpy(x, labels, *weights)):
            np.testing.assert_allclose(actual, twin, rtol=TOL[dtype], atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_cross_entropy_with_two_classes_is_stable_at_large_logits(dtype):
    """C = 2 goes through the logit difference d (softplus and sigmoid of d): at |d| past 710, where exp(d)
    overflows even a float64 and exp(-|d|) flushes to 0, the loss and gradients still equal the twin's shifted
    softmax, with half the points confidently wrong."""
    rng = np.random.default_rng(2)
    I, B, H, n = 3, 130, 8, 12
    x = (rng.random((B, n)) < 0.5).astype(dtype)
    weights = [(s * rng.normal(size=shape)).astype(dtype)
               for s, shape in ((3.0, (I, H, n)), (1.0, (I, H)), (30.0, (I, 2, H)), (1.0, (I, 2)))]
    d = np.diff(np.einsum("bn,ihn->ibh", x, weights[0]).clip(0) @ weights[2].transpose(0, 2, 1), axis=-1)[0, :, 0]
    labels = np.where(np.arange(B) % 2 == 0, d > 0, d < 0).astype(np.int64)      # model 0: half confidently wrong
    assert (np.abs(d) > 710).sum() >= 10
    grads = [np.zeros_like(a) for a in weights]
    loss = kernels.mlp_cross_entropy(x, labels, *weights, True, *grads)
    expected = kernels.mlp_cross_entropy_numpy(x, labels, *weights)
    for actual, twin in zip([loss] + grads, expected):
        np.testing.assert_allclose(actual, twin, rtol=TOL[dtype], atol=TOL[dtype] * 500)


@pytest.mark.parametrize("C", [2, 3], ids=["two classes (the logit difference)", "three"])
def test_mlp_cross_entropy_without_gradients_gives_the_same_loss_and_writes_none(C):
    rng = np.random.default_rng(C)
    I, B, H, n = 4, 130, 8, 12
    x = (rng.random((B, n)) < 0.5).astype(np.float32)
    labels = rng.integers(0, C, B)
    weights = [rng.normal(size=shape).astype(np.float32) for shape in ((I, H, n), (I, H), (I, C, H), (I, C))]
    with_grads = kernels.mlp_cross_entropy(x, labels, *weights, True, *(np.zeros_like(a) for a in weights))
    untouched = [np.zeros_like(a) for a in weights]
    np.testing.assert_array_equal(kernels.mlp_cross_entropy(x, labels, *weights, False, *untouched), with_grads)
    assert not any(a.any() for a in untouched)


# --- the vectorised exp ----------------------------------------------------------------------------------

@njit
def _exp_compiled(x, out, bits):
    kernels.exp_nonpositive(x, out, bits)


@pytest.mark.parametrize("dtype", DTYPES)
@given(x=st.lists(st.floats(-120, 0), min_size=1, max_size=70))
def test_exp_nonpositive_equals_its_twin(dtype, x):
    """Within 4e-7 relative in float32 (two or three ulp; NumPy's own float32 exp is off by up to 1.8e-7), libm's
    exp in float64; exactly 0 below the smallest normal float, in both."""
    x = np.array(x, dtype)
    out, expected, bits = np.empty_like(x), np.empty_like(x), np.empty(x.shape, np.int32)
    _exp_compiled(x, out, bits)
    kernels.exp_nonpositive(x, expected, bits)
    np.testing.assert_allclose(out, expected, rtol=4e-7 if dtype == np.float32 else 1e-15, atol=0)
    assert np.all((out == 0) == (x < np.log(np.finfo(dtype).tiny)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_nonpositive_keeps_a_nan(dtype):
    """A NaN must come out NaN (the training loop watches for it), not 0 like the values below the smallest normal."""
    x = np.array([0.0, np.nan, -1.0, -1000.0, np.nan] + [-0.5] * 11, dtype)      # 16: the vectorised loop and its tail
    out, bits = np.empty_like(x), np.empty(x.shape, np.int32)
    _exp_compiled(x, out, bits)
    assert np.array_equal(np.isnan(out), np.isnan(x)) and out[3] == 0 and out[0] == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_losses_turn_a_nan_weight_into_a_nan_loss(dtype):
    """A NaN on a class that no label names still reaches that model's loss, in both fused cross-entropies."""
    rng = np.random.default_rng(0)
    I, B, H, n = 3, 70, 8, 12
    x = (rng.random((B, n)) < 0.5).astype(dtype)
    for C in (2, 3):                                             # the two-class road (the logit difference) too
        W1, b1, W2, b2 = (rng.normal(size=s).astype(dtype) for s in ((I, H, n), (I, H), (I, C, H), (I, C)))
        W2[1, C - 1, 0] = np.nan
        loss = kernels.mlp_cross_entropy(x, np.zeros(B, np.int64), W1, b1, W2, b2, False,
                                         *(np.zeros_like(a) for a in (W1, b1, W2, b2)))
        assert np.isnan(loss[1]) and np.isfinite(loss[[0, 2]]).all()
    W_input, W_output = rng.normal(size=(1, 5, 4)).astype(dtype), rng.normal(size=(1, 4, 5)).astype(dtype)
    W_output[0, 0, 4] = np.nan
    rows = np.zeros((1, 40), np.int64)
    value = kernels.collapsed_cross_entropy(W_input, W_output, rows, rows, rows, 0.025, 1e-30, False)[0]
    assert np.isnan(value).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_rows_sum_their_losses_through_products_without_overflow(dtype):
    """The row losses' log-sum-exps are summed as the log of a running product of the rows' totals (each up to C),
    logged whenever it passes 1e250: 700 rows of 67 classes multiply to about 1e714 (more than a float64 holds)."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(700, 67)).astype(dtype)
    labels = rng.integers(0, 67, 700)
    z64 = z.astype(np.float64)
    zmax = z64.max(axis=1, keepdims=True)
    expected = (np.log(np.exp(z64 - zmax).sum(axis=1)) + zmax[:, 0] - z64[np.arange(700), labels]).sum()
    scratch, bits = np.empty((2, kernels.SOFTMAX_ROWS * 67), dtype), np.empty(kernels.SOFTMAX_ROWS * 67, np.int32)
    total = kernels.softmax_xent_rows(z.copy(), labels, dtype(1), dtype(0), scratch, bits)
    np.testing.assert_allclose(total, expected, rtol=TOL[dtype])
    for row, column in ((0, 5), (350, labels[350]), (699, 66)):          # one NaN logit in one row of 700
        poisoned = z.copy()
        poisoned[row, column] = np.nan
        assert np.isnan(kernels.softmax_xent_rows(poisoned, labels, dtype(1), dtype(0), scratch, bits))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_collapsed_cross_entropy_equals_its_twin(dtype, data):
    """Loss and both gradients, with rows that repeat, a = b, and more blocks than rows (B = 1)."""
    K, p, n = data.draw(sizes), data.draw(st.integers(2, 9)), data.draw(sizes)
    B = data.draw(st.sampled_from([1, 5, 12, 70, 130]))        # a block of fewer rows than SOFTMAX_ROWS, or several
    W_input, W_output = data.draw(floats((K, p, n), dtype, bound=4.0)), data.draw(floats((K, n, p), dtype, bound=4.0))
    a, b, labels = (data.draw(integers((K, B), p)).astype(np.int64) for _ in range(3))
    scale = 1.0 / (B * p)
    flush = np.finfo(dtype).tiny / scale
    actual = kernels.collapsed_cross_entropy(W_input, W_output, a, b, labels, scale, flush, True)
    expected = kernels.collapsed_cross_entropy_numpy(W_input, W_output, a, b, labels, scale, flush)
    for x, y in zip(actual, expected):
        np.testing.assert_allclose(x, y, rtol=TOL[dtype], atol=TOL[dtype])
    loss_only = kernels.collapsed_cross_entropy(W_input, W_output, a, b, labels, scale, flush, False)
    np.testing.assert_array_equal(loss_only[0], actual[0])
    assert loss_only[1] is None and loss_only[2] is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_collapsed_cross_entropy_gives_the_same_bits_without_a_compiled_blas(dtype, monkeypatch):
    """Where NumPy's BLAS cannot be called from compiled code (blas.gemm is None) the block's Python function runs,
    its products np.matmul calls: the same numbers, bit for bit, loss and both gradients."""
    if kernels.blas.gemm(dtype) is None:
        pytest.skip("NumPy's BLAS here is not one that compiled code can call: both runs would be the Python one")
    rng = np.random.default_rng(7)
    K, p, n, B = 2, 11, 6, 130
    W_input, W_output = rng.normal(size=(K, p, n)).astype(dtype), rng.normal(size=(K, n, p)).astype(dtype)
    a, b, labels = (rng.integers(0, p, size=(K, B)) for _ in range(3))
    args = (W_input, W_output, a, b, labels, 1.0 / (B * p), np.finfo(dtype).tiny * B * p)
    compiled = kernels.collapsed_cross_entropy(*args, True)
    monkeypatch.setattr(kernels.blas, "gemm", lambda dtype: None)
    from_python = kernels.collapsed_cross_entropy(*args, True)
    for x, y in zip(compiled, from_python):
        np.testing.assert_array_equal(x, y, strict=True)


def test_blocks_are_added_left_to_right():
    """In float32 1e8 + 1 rounds to 1e8, so the order of the blocks shows: (1 + 1e8) - 1e8 = 0 but 1 + (1e8 - 1e8)
    = 1, and (1e8 - 1e8) + 1 = 1 but 1e8 + (-1e8 + 1) = 0."""
    parts = np.array([[1.0, 1e8], [1e8, -1e8], [-1e8, 1.0]], np.float32)      # (K 1 x 3 blocks, m 2)
    np.testing.assert_array_equal(kernels._sum_blocks(parts, 3), np.array([[0.0, 1.0]], np.float32))


@njit
def _apart_addresses(like, n):
    first, second = kernels._apart(like, n)
    first[:] = 1
    second[:] = 2
    return first.ctypes.data, second.ctypes.data, first.size, second.size, first.sum(), second.sum()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 1000, 1024, 5000])
def test_scratch_vectors_are_set_apart_by_half_a_page(dtype, n):
    """_apart's two vectors: n elements each, not overlapping, the first on a 4 KB boundary and the second 2 KB
    past one, so their addresses never agree in their last 12 bits (4K aliasing)."""
    a, b, size_a, size_b, sum_a, sum_b = _apart_addresses(np.zeros(1, dtype), n)
    assert size_a == size_b == n and sum_a == n and sum_b == 2 * n       # each its own n elements
    assert b >= a + n * np.dtype(dtype).itemsize                          # one after the other, apart
    assert a % 4096 == 0 and (b - a) % 4096 == 2048


@pytest.mark.parametrize("want_grad", [True, False])
def test_collapsed_cross_entropy_of_no_instances_is_empty(want_grad):
    """K = 0 (an empty sweep): empty results of the right shapes, not a reshape error."""
    W_input, W_output = np.zeros((0, 5, 3), np.float32), np.zeros((0, 3, 5), np.float32)
    rows = np.zeros((0, 4), np.int64)
    loss, dW_input, dW_output = kernels.collapsed_cross_entropy(W_input, W_output, rows, rows, rows, 0.1, 1e-30,
                                                                want_grad)
    assert loss.shape == (0,)
    if want_grad:
        assert dW_input.shape == (0, 5, 3) and dW_output.shape == (0, 3, 5)
    else:
        assert dW_input is None and dW_output is None


@given(data=st.data())
def test_bit_codes_pack_0_1_inputs_and_refuse_any_other_value(data):
    """codes[g, t, q] holds bits x[g, t, q k + b] at b = 0 .. k - 1 (the last group shorter when k does not divide
    n); a single value other than 0 and 1, anywhere, and bit_codes says no."""
    G, B = data.draw(sizes), data.draw(st.integers(1, 9))
    n, k = data.draw(st.integers(1, 14)), data.draw(st.integers(1, 6))
    x = data.draw(integers((G, B, n), 2)).astype(np.float32)
    codes = np.empty((G, B, -(-n // k)), np.int64)
    assert kernels.bit_codes(x, k, codes)
    expected = np.zeros_like(codes)
    for j in range(n):
        expected[..., j // k] |= x[..., j].astype(np.int64) << (j % k)
    np.testing.assert_array_equal(codes, expected)
    g, t, j = data.draw(st.integers(0, G - 1)), data.draw(st.integers(0, B - 1)), data.draw(st.integers(0, n - 1))
    x[g, t, j] = data.draw(st.sampled_from([0.5, -1.0, 2.0, np.nan]))
    assert not kernels.bit_codes(x, k, codes)
