"""The four toygrad benchmark workloads, written the way a JAX user who wants speed would write them (CPU, float32).

    /tmp/jaxvenv/bin/python benchmarks/jax_bench.py [tms dd grok parity-sweep] [--steps N]

(the virtual environment: python3 -m venv /tmp/jaxvenv && /tmp/jaxvenv/bin/pip install jax==0.10.2 jaxlib==0.10.2
optax==0.2.8, the versions the README's table was measured with)

Prints one line per workload in toygrad.bench's format, with `jax` in place of `toygrad`:
    WORKLOAD jax steps=N seconds=S us_per_step=U gflops=G final_loss=L cpu_seconds=C [extras]
Each workload's whole training loop is one jax.lax.scan over the steps, inside one jax.jit: the parameters, the
optimizer state and (for tms) the PRNG key are its carry. seconds: that loop only, after setup and after compiling
it ahead of time (jit(...).lower(...).compile()), one call on fresh state through jax.block_until_ready. gflops uses
the same hand-counted FLOPs per step as toygrad/bench.py (copied here: this script must run without toygrad
installed).

Self-contained on purpose: toygrad never imports it (JAX lives in its own virtual environment), and it imports
nothing from toygrad. Each workload follows the definition in issue 7 / toygrad/bench.py, with its own data draws
(fixed seeds); optax gives AdamW (parity-sweep: Adam, with its per-model decoupled decay applied by hand, as
torch_bench does), the warmup-cosine schedule and the cross-entropy.
"""
import math
import time

import jax
import jax.numpy as jnp
import optax

import report          # benchmarks/report.py: the report line and command line


def update(opt, loss_fn, params, opt_state, *data):
    """One optimizer step: the loss and its gradients at params, then optax's update."""
    loss, grads = jax.value_and_grad(loss_fn)(params, *data)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


def full_batch(opt, loss_fn, steps):
    """train(params, opt_state, *data): `steps` steps on the same data; returns the final params and the last loss."""
    def train(params, opt_state, *data):
        def step(carry, _):
            params, opt_state, loss = update(opt, loss_fn, *carry, *data)
            return (params, opt_state), loss
        (params, _), losses = jax.lax.scan(step, (params, opt_state), length=steps)
        return params, losses[-1]
    return train


def tms(steps):
    """ReLU-output model, 10 instances, n = 20, m = 5, fresh batch of 1,024 per instance each step."""
    I, B, n, m = 10, 1024, 20, 5
    key, k_W = jax.random.split(jax.random.PRNGKey(0))
    params = (jax.random.normal(k_W, (I, m, n)) * math.sqrt(2 / (m + n)), jnp.zeros((I, n)))
    opt = optax.adamw(1e-3, weight_decay=0.0)
    p = (20.0 ** -jnp.linspace(0, 1, I))[:, None, None]
    importance = 0.9 ** jnp.arange(n, dtype=jnp.float32)

    def instance_loss(W, b, x):                                      # one instance: W (m, n), b (n,), x (B, n)
        out = jax.nn.relu(x @ W.T @ W + b)
        return (importance * (x - out) ** 2).sum(-1).mean()

    def loss_fn(params, x):
        return jax.vmap(instance_loss)(*params, x).sum()

    def train(params, opt_state, key):
        def step(carry, _):
            params, opt_state, key = carry
            # threefry, JAX's default: with "rbg" or "unsafe_rbg" (JAX_DEFAULT_PRNG_IMPL) a step took 4.79 ms here,
            # against 2.62 and 2.72 ms (2,000 steps each)
            key, k_present, k_value = jax.random.split(key, 3)
            x = jnp.where(jax.random.uniform(k_present, (I, B, n)) < p, jax.random.uniform(k_value, (I, B, n)), 0.0)
            params, opt_state, loss = update(opt, loss_fn, params, opt_state, x)
            return (params, opt_state, key), loss
        (params, _, _), losses = jax.lax.scan(step, (params, opt_state, key), length=steps)
        return params, losses[-1]
    return train, (params, opt.init(params), key), 5 * 2 * I * B * n * m + 12 * I * B * n, lambda _: {}


def dd(steps):
    """ReLU-output model, n = 1,000, m = 2, a fixed set of 1,000 unit-norm points (p = 0.01), full batch."""
    T, n, m = 1000, 1000, 2
    key = jax.random.PRNGKey(0)

    def draw(key):
        k_value, k_present = jax.random.split(key)
        return jax.random.uniform(k_value, (T, n)) * (jax.random.uniform(k_present, (T, n)) < 0.01)
    key, k_x = jax.random.split(key)
    x = draw(k_x)
    while (empty := ~(x != 0).any(-1, keepdims=True)).any():      # an all-zero point has no direction: redraw
        key, k_x = jax.random.split(key)
        x = jnp.where(empty, draw(k_x), x)
    x = x / jnp.linalg.norm(x, axis=-1, keepdims=True)
    params = (jax.random.normal(key, (m, n)) * math.sqrt(2 / (m + n)), jnp.zeros(n))
    # torch_bench's factor(t) times lr: linear warmup over the first 5% of steps from 0, then cosine decay to 0;
    # optax.adamw scales the decoupled decay by the scheduled lr too, as LambdaLR does.
    schedule = optax.warmup_cosine_decay_schedule(0.0, 1e-3, round(0.05 * steps), steps, 0.0)
    opt = optax.adamw(schedule, weight_decay=1e-2)

    def loss_fn(params, x):
        W, b = params
        out = jax.nn.relu(x @ W.T @ W + b)
        return ((x - out) ** 2).sum(-1).mean()
    return full_batch(opt, loss_fn, steps), (params, opt.init(params), x), 5 * 2 * T * n * m + 12 * T * n, lambda _: {}


def grok(steps):
    """a + b mod 67 over all 67² ordered pairs, 30% train; logits = ReLU((E[a] + E[b]) W_in) W_out Eᵀ."""
    p, d, n = 67, 32, 24
    k_split, k_E, k_in, k_out = jax.random.split(jax.random.PRNGKey(0), 4)
    a, b = jnp.arange(p * p) // p, jnp.arange(p * p) % p
    labels = (a + b) % p
    order = jax.random.permutation(k_split, p * p)
    n_train = round(0.3 * p * p)
    train_idx, test_idx = order[:n_train], order[n_train:]

    def trunc_normal(key, shape, std):                               # haiku's TruncatedNormal: [-2, 2] times std
        return jax.random.truncated_normal(key, -2.0, 2.0, shape) * std
    params = (trunc_normal(k_E, (p, d), math.sqrt(2 / p) / 0.87962566103423978),
              trunc_normal(k_in, (d, n), 1 / math.sqrt(d)), trunc_normal(k_out, (n, d), 1 / math.sqrt(n)))
    opt = optax.adamw(1e-3, b1=0.9, b2=0.98, eps=1e-8, weight_decay=1.0)

    def logits(params, aa, bb):
        E, W_in, W_out = params
        return jax.nn.relu((E[aa] + E[bb]) @ W_in) @ W_out @ E.T

    def loss_fn(params, aa, bb, yy):
        return optax.softmax_cross_entropy_with_integer_labels(logits(params, aa, bb), yy).mean()

    def extras(params):
        z = logits(params, a, b).argmax(-1) == labels
        return {"train_acc": float(z[train_idx].mean()), "test_acc": float(z[test_idx].mean())}
    B = n_train
    args = (params, opt.init(params), a[train_idx], b[train_idx], labels[train_idx])
    return full_batch(opt, loss_fn, steps), args, 6 * 2 * p * d * n + 3 * 2 * B * n * p + 10 * B * p, extras


def parity_sweep(steps):
    """90 ReLU MLPs 30 -> 32 -> 2 on the parity of the first 3 of 30 bits; weight decay logspace(-3, 0, 10) x 9
    seeds on a leading instance axis; 1,200 training sequences shared by all; AdamW lr 1e-2, full batch."""
    I, B, H, n = 90, 1200, 32, 30
    k_x, k_test, k_W1, k_b1, k_W2, k_b2 = jax.random.split(jax.random.PRNGKey(0), 6)
    x = jax.random.bernoulli(k_x, 0.5, (B, n)).astype(jnp.float32)
    y = x[:, :3].sum(-1).astype(jnp.int32) % 2
    x_test = jax.random.bernoulli(k_test, 0.5, (1000, n)).astype(jnp.float32)
    y_test = x_test[:, :3].sum(-1).astype(jnp.int32) % 2
    decay = jnp.repeat(jnp.logspace(-3, 0, 10), 9)                  # (I,): one weight decay per model

    def uniform(key, shape, fan_in):                                 # nn.Linear's default init
        bound = 1 / math.sqrt(fan_in)
        return jax.random.uniform(key, shape, minval=-bound, maxval=bound)
    params = (uniform(k_W1, (I, H, n), n), uniform(k_b1, (I, H), n),
              uniform(k_W2, (I, 2, H), H), uniform(k_b2, (I, 2), H))
    lr = 1e-2
    # AdamW's decoupled decay is p *= 1 - lr wd before the Adam step; with one wd per model (a per-instance
    # value along the first axis) we apply that factor ourselves and let optax do the Adam step.
    opt = optax.adam(lr)
    shrink = tuple((1 - lr * decay).reshape(-1, *([1] * (q.ndim - 1))) for q in params)

    def model(params, inputs):                                       # one model: (B, 30) -> (B, 2)
        W1, b1, W2, b2 = params
        return jax.nn.relu(inputs @ W1.T + b1) @ W2.T + b2

    def model_loss(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model(params, x), y).mean()

    def loss_fn(params, x, y):                                       # the models share x and y
        return jax.vmap(model_loss, (0, None, None))(params, x, y).sum()

    def train(params, opt_state, x, y):
        def step(carry, _):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            updates, opt_state = opt.update(grads, opt_state)
            params = optax.apply_updates(tuple(q * s for q, s in zip(params, shrink)), updates)
            return (params, opt_state), loss
        (params, _), losses = jax.lax.scan(step, (params, opt_state), length=steps)
        return params, losses[-1]

    def extras(params):
        accuracy = (jax.vmap(model, (0, None))(params, x_test).argmax(-1) == y_test).mean(-1)
        return {"models_above_0.95": int((accuracy > 0.95).sum())}
    flops = 2 * 2 * I * B * n * H + 3 * 2 * I * B * H * 2 + 8 * I * B * H
    return train, (params, opt.init(params), x, y), flops, extras


WORKLOADS = {"tms": (tms, 10_000), "dd": (dd, 10_000), "grok": (grok, 10_000), "parity-sweep": (parity_sweep, 2_000)}


def run(name, steps=None):
    make, default = WORKLOADS[name]
    steps = steps or default
    train, args, flops, extras = make(steps)
    compiled = jax.jit(train).lower(*args).compile()                 # compiles without running: args stay fresh
    jax.block_until_ready(args)                                      # setup's arrays made before the clock starts
    start, cpu = time.perf_counter(), time.process_time()
    params, loss = jax.block_until_ready(compiled(*args))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return report.line(name, "jax", steps, seconds, flops, float(loss), cpu, extras(params))


def main(argv=None):
    args = report.arguments(__doc__, WORKLOADS, argv)
    for name in args.workloads:
        print(run(name, args.steps), flush=True)


if __name__ == "__main__":
    main()
