"""The optimizers against their algorithms written out by hand (PyTorch's), per-instance hyperparameters,
schedules, and a seeded run that repeats bit for bit."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import toygrad as tg
from strategies import floats, sizes

P0 = np.array([[0.5, -1.5, 2.0], [0.0, 0.25, -0.75]])
GRADS = [np.array([[0.1, -0.3, 0.0], [1.0, 0.2, -0.05]]) * (t + 1) ** 0.5 for t in range(5)]   # one per step
# the kernel reorders float operations (fast math): float64 agrees with numpy to ~1e-15, so rtol 1e-12
RTOL = 1e-12


def run(optimizer, grads, p0=P0, **kwargs):
    """Parameters after one step per gradient in `grads`."""
    p = tg.Tensor(p0.copy(), requires_grad=True)
    opt = optimizer([p], **kwargs)
    for g in grads:
        opt.zero_grad()
        p.grad = g.copy()
        opt.step()
    return p.data


def adam_by_hand(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, l1=0.0, decoupled=False):
    """torch.optim.Adam / AdamW, plus an L1 term added to the gradient."""
    beta1, beta2 = betas
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + l1 * np.sign(p)
        if decoupled:
            p = p * (1 - lr * weight_decay)             # AdamW: decay the weights themselves
        else:
            g = g + weight_decay * p                    # Adam: L2 added to the gradient
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
        p = p - lr / bias1 * m / (np.sqrt(v) / np.sqrt(bias2) + eps)
    return p


def sgd_by_hand(p, grads, lr, momentum=0.0, weight_decay=0.0):
    """torch.optim.SGD: buf = momentum buf + g (buf = g at the first step); p -= lr buf."""
    buf = None
    for g in grads:
        g = g + weight_decay * p
        buf = g if buf is None else momentum * buf + g
        p = p - lr * buf
    return p


def test_adamw_with_lr_0_changes_nothing():
    np.testing.assert_array_equal(run(tg.AdamW, GRADS, lr=0.0, weight_decay=0.1, l1=0.01), P0)


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("optimizer, decoupled", [(tg.Adam, False), (tg.AdamW, True)], ids=["Adam", "AdamW"])
def test_adam_and_adamw_follow_pytorchs_algorithm(optimizer, decoupled, steps):
    kwargs = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    np.testing.assert_allclose(run(optimizer, GRADS[:steps], **kwargs),
                               adam_by_hand(P0, GRADS[:steps], decoupled=decoupled, **kwargs), rtol=RTOL)


@pytest.mark.parametrize("optimizer, decoupled", [(tg.Adam, False), (tg.AdamW, True)], ids=["Adam", "AdamW"])
def test_l1_adds_l1_sign_p_to_the_gradient(optimizer, decoupled):
    kwargs = dict(lr=0.01, weight_decay=0.1, l1=0.05)
    with_l1 = run(optimizer, GRADS, **kwargs)
    np.testing.assert_allclose(with_l1, adam_by_hand(P0, GRADS, decoupled=decoupled, **kwargs), rtol=RTOL)
    assert not np.allclose(with_l1, run(optimizer, GRADS, **{**kwargs, "l1": 0.0}), rtol=1e-6)


@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.1)])
def test_sgd_follows_pytorchs_formula(momentum, weight_decay):
    kwargs = dict(lr=0.1, momentum=momentum, weight_decay=weight_decay)
    np.testing.assert_allclose(run(tg.SGD, GRADS, **kwargs), sgd_by_hand(P0, GRADS, **kwargs), rtol=RTOL)


# --- per-instance hyperparameters: one stacked model is I separate models --------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", [tg.SGD, tg.Adam, tg.AdamW])
@given(data=st.data(), I=st.integers(2, 4))
def test_instance_i_follows_the_trajectory_of_a_model_trained_with_the_ith_value(optimizer, dtype, data, I):
    shape = (I, data.draw(sizes), data.draw(sizes))
    p0, target = data.draw(floats(shape, dtype)), data.draw(floats(shape, dtype))
    lr = data.draw(floats((I,), bound=0.1).map(np.abs))
    weight_decay = data.draw(floats((I,), bound=0.5).map(np.abs))

    def trajectory(p0, target, lr, weight_decay):
        p = tg.Tensor(p0.copy(), requires_grad=True)
        opt = optimizer([p], lr=lr, weight_decay=weight_decay)
        for _ in range(4):
            opt.zero_grad()
            p.grad = 2 * (p.data - target)      # the gradient of |p - target|², element by element
            opt.step()
        return p.data

    stacked = trajectory(p0, target, lr, weight_decay)
    for i in range(I):
        np.testing.assert_array_equal(stacked[i], trajectory(p0[i], target[i], lr[i], weight_decay[i]))


# --- schedules ---------------------------------------------------------------------------------------------

def test_warmup_cosine_rises_to_1_over_5_percent_of_the_steps_then_decays_to_0():
    factor = tg.schedule("warmup_cosine", total_steps=200)
    f = np.array([factor(t) for t in range(200)])
    assert f[0] == 0
    assert f[10] == 1 and f.max() == 1                      # warmup: 5% of 200 steps
    assert np.all(np.diff(f[:11]) > 0) and np.all(np.diff(f[10:]) < 0)
    assert f[-1] < 1e-3


def test_constant_schedule_is_1():
    factor = tg.schedule("constant")
    assert [factor(t) for t in (0, 1, 10, 10**6)] == [1.0] * 4


def test_the_schedule_scales_the_lr():
    p = tg.Tensor(P0.copy(), requires_grad=True)
    opt = tg.SGD([p], lr=0.1, schedule=tg.schedule("warmup_cosine", total_steps=100))
    p.grad = np.ones_like(P0)
    opt.step()                                               # factor 0 at step 0
    np.testing.assert_array_equal(p.data, P0)
    opt.step()                                               # factor 1/5 at step 1
    np.testing.assert_allclose(p.data, P0 - 0.1 / 5, rtol=RTOL)


BEFORE = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, l1=0.01)
AFTER = dict(lr=[0.05, 0.2], betas=(0.5, 0.9), eps=1e-3, weight_decay=0.3, l1=0.02)


@pytest.mark.parametrize("optimizer", [tg.Adam, tg.AdamW])
@pytest.mark.parametrize("name", sorted(AFTER))
def test_a_hyperparameter_given_anew_takes_effect_at_the_next_step(optimizer, name):
    """Adam keeps what its update multiplies by from step to step; a reassigned hyperparameter must renew it: the
    next step is then a fresh optimizer's with the new value and the same moments (lr becomes one per instance)."""
    g = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)
    p, q = (tg.Tensor(np.array([[1.0, 2.0, -3.0], [0.5, -1.0, 4.0]], np.float32), requires_grad=True) for _ in range(2))
    opt = optimizer([p], **BEFORE)
    p.grad = g.copy()
    opt.step()
    setattr(opt, name, AFTER[name])
    fresh = optimizer([q], **dict(BEFORE, **{name: AFTER[name]}))
    q.data[...] = p.data
    fresh.load_state_dict(opt.state_dict())
    p.grad, q.grad = g.copy(), g.copy()
    opt.step()
    fresh.step()
    np.testing.assert_array_equal(p.data, q.data)


def test_hyperparameter_arrays_are_copies_and_cannot_be_edited_in_place():
    decay = np.array([0.1, 0.2])
    opt = tg.AdamW([tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)], weight_decay=decay)
    decay[0] = 5.0                                           # the caller's array is not the optimizer's
    assert opt.weight_decay[0] == 0.1
    with pytest.raises(ValueError, match="read-only"):
        opt.weight_decay[0] = 5.0
    opt.weight_decay = decay                                 # an assigned one goes through the same checks
    decay[0] = 7.0
    assert opt.weight_decay[0] == 5.0
    with pytest.raises(ValueError, match="weight_decay: 3 values .* params\\[0\\] has shape"):
        opt.weight_decay = [0.1, 0.2, 0.3]

# --- the same seed gives the same run ------------------------------------------------------------------------

def train_tiny_model(seed, steps=20):
    """A per-instance ReLU autoencoder on sparse data, everything drawn from one seed."""
    rng = np.random.default_rng(seed)
    W = tg.parameter("xavier_normal", (3, 2, 5), rng)
    b = tg.parameter("zeros", (3, 5), rng)
    opt = tg.AdamW([W, b], lr=1e-2, weight_decay=np.array([0.0, 0.01, 0.1]))
    x = np.empty((3, 16, 5), np.float32)
    losses = []
    for _ in range(steps):
        tg.kernels.sample_sparse(rng, x, np.array([0.1, 0.3, 0.9]))
        loss = tg.mse(tg.relu(tg.tied(x, W, b)), x)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        losses.append(loss.data)
    return np.array(losses), W.data, b.data


def test_the_same_seed_gives_the_same_run_bit_for_bit():
    first, second, other = train_tiny_model(seed=1), train_tiny_model(seed=1), train_tiny_model(seed=2)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])          # the seed does matter


def test_warmup_cosine_with_a_single_step_after_warmup_is_defined():
    factor = tg.optim.warmup_cosine(total_steps=1, warmup=0.9)        # warmup rounds to the whole run
    assert [factor(0), factor(1)] == [0.0, 1.0]


def test_a_copy_of_adam_updates_its_own_moments():
    """Adam keeps views of its moments from step to step; a deep copy must make views of its own."""
    import copy
    p = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    opt = tg.AdamW([p], lr=0.1)
    p.grad = np.full((2, 3), 0.5, np.float32)
    opt.step()
    twin = copy.deepcopy(opt)                            # its params are copies of p, with p's gradient
    twin.step()
    np.testing.assert_allclose(twin.m[0], 0.9 * opt.m[0] + 0.1 * 0.5, rtol=1e-6)
    assert not np.array_equal(twin.m[0], opt.m[0])      # the original's moments did not move
