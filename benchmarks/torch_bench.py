"""The four toygrad benchmark workloads, written the way a PyTorch user would write them (CPU, float32).

    /tmp/torchvenv/bin/python benchmarks/torch_bench.py [tms dd grok parity-sweep] [--steps N] [--threads T]

(the virtual environment: python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0, which on
this machine installs its CPU build from a local file; elsewhere add --index-url https://download.pytorch.org/whl/cpu)

Prints one line per workload in toygrad.bench's format, with `pytorch` in place of `toygrad`:
    WORKLOAD pytorch steps=N seconds=S us_per_step=U gflops=G final_loss=L cpu_seconds=C [extras]
seconds: the training loop only, after setup and after a warm-up step on a throwaway copy. gflops uses the same
hand-counted FLOPs per step as toygrad/bench.py (copied here: this script must run without toygrad installed).

Self-contained on purpose: toygrad never imports it (torch lives in its own virtual environment), and it imports
nothing from toygrad. Each workload follows the definition in issue 7 / toygrad/bench.py; where PyTorch has an
idiomatic tool (autograd, torch.optim.AdamW, LambdaLR, F.cross_entropy, bmm), it is used.
"""
import math
import time

import torch
import torch.nn.functional as F

import report          # benchmarks/report.py: the report line and command line


def tms():
    """ReLU-output model, 10 instances, n = 20, m = 5, fresh batch of 1,024 per instance each step."""
    I, B, n, m = 10, 1024, 20, 5
    gen = torch.Generator().manual_seed(0)
    W = (torch.randn(I, m, n, generator=gen) * math.sqrt(2 / (m + n))).requires_grad_()
    b = torch.zeros(I, n, requires_grad=True)
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=0.0)
    p = (20.0 ** -torch.linspace(0, 1, I))[:, None, None]
    importance = 0.9 ** torch.arange(n, dtype=torch.float32)

    def step():
        present = torch.rand(I, B, n, generator=gen) < p
        x = torch.where(present, torch.rand(I, B, n, generator=gen), 0.0)
        h = torch.bmm(x, W.transpose(1, 2))                          # (I, B, m)
        out = F.relu(torch.bmm(h, W) + b[:, None, :])
        loss = (importance * (x - out) ** 2).sum(-1).mean(-1)         # (I,)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        return loss
    return step, 5 * 2 * I * B * n * m + 12 * I * B * n, lambda: {}


def dd(steps):
    """ReLU-output model, n = 1,000, m = 2, a fixed set of 1,000 unit-norm points (p = 0.01), full batch."""
    T, n, m = 1000, 1000, 2
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(T, n, generator=gen) * (torch.rand(T, n, generator=gen) < 0.01)
    while True:                                                       # an all-zero point has no direction: redraw
        empty = (x != 0).sum(-1) == 0
        if not empty.any():
            break
        k = int(empty.sum())
        x[empty] = torch.rand(k, n, generator=gen) * (torch.rand(k, n, generator=gen) < 0.01)
    x = x / x.norm(dim=-1, keepdim=True)
    W = (torch.randn(m, n, generator=gen) * math.sqrt(2 / (m + n))).requires_grad_()
    b = torch.zeros(n, requires_grad=True)
    opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=1e-2)
    warm = round(0.05 * steps)

    def factor(t):                                                    # linear warmup, then cosine decay to 0
        if t < warm:
            return t / warm
        return 0.5 * (1 + math.cos(math.pi * min(t - warm, steps - warm) / max(steps - warm, 1)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)

    def step():
        out = F.relu(x @ W.T @ W + b)
        loss = ((x - out) ** 2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return loss
    return step, 5 * 2 * T * n * m + 12 * T * n, lambda: {}


def _trunc_normal(shape, std, gen):
    """haiku's TruncatedNormal, as toygrad.init: a standard normal truncated to [-2, 2], times std."""
    z = torch.randn(shape, generator=gen)
    while (bad := z.abs() > 2).any():
        z[bad] = torch.randn(int(bad.sum()), generator=gen)
    return z * std


def grok():
    """a + b mod 67 over all 67² ordered pairs, 30% train; logits = ReLU((E[a] + E[b]) W_in) W_out Eᵀ."""
    p, d, n = 67, 32, 24
    gen = torch.Generator().manual_seed(0)
    a, b = torch.arange(p * p) // p, torch.arange(p * p) % p
    labels = (a + b) % p
    order = torch.randperm(p * p, generator=gen)
    n_train = round(0.3 * p * p)
    train, test = order[:n_train], order[n_train:]
    E = _trunc_normal((p, d), math.sqrt(2 / p) / 0.87962566103423978, gen).requires_grad_()
    W_in = _trunc_normal((d, n), 1 / math.sqrt(d), gen).requires_grad_()
    W_out = _trunc_normal((n, d), 1 / math.sqrt(n), gen).requires_grad_()
    opt = torch.optim.AdamW([E, W_in, W_out], lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0)
    at, bt, yt = a[train], b[train], labels[train]

    def logits(aa, bb):
        return F.relu((E[aa] + E[bb]) @ W_in) @ W_out @ E.T

    def step():
        loss = F.cross_entropy(logits(at, bt), yt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def extras():
        with torch.no_grad():
            z = logits(a, b).argmax(-1) == labels
        return {"train_acc": float(z[train].float().mean()), "test_acc": float(z[test].float().mean())}
    B = n_train
    return step, 6 * 2 * p * d * n + 3 * 2 * B * n * p + 10 * B * p, extras


def parity_sweep():
    """90 ReLU MLPs 30 -> 32 -> 2 on the parity of the first 3 of 30 bits; weight decay logspace(-3, 0, 10) x 9
    seeds on a leading instance axis; 1,200 training sequences shared by all; AdamW lr 1e-2, full batch."""
    I, B, H, n = 90, 1200, 32, 30
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (B, n), generator=gen).float()
    y = (x[:, :3].sum(-1) % 2).long()
    x_test = torch.randint(0, 2, (1000, n), generator=gen).float()
    y_test = (x_test[:, :3].sum(-1) % 2).long()
    decay = torch.logspace(-3, 0, 10).repeat_interleave(9)           # (I,): one weight decay per model

    def uniform(shape, fan_in):                                       # nn.Linear's default init
        bound = 1 / math.sqrt(fan_in)
        return (torch.rand(shape, generator=gen) * 2 - 1).mul_(bound).requires_grad_()
    W1, b1, W2, b2 = uniform((I, H, n), n), uniform((I, H), n), uniform((I, 2, H), H), uniform((I, 2), H)
    params = [W1, b1, W2, b2]
    lr = 1e-2
    # AdamW's decoupled decay is p *= 1 - lr wd before the Adam step; with one wd per model (a per-instance
    # value along the first axis) we apply that factor ourselves and let AdamW do the Adam step (wd 0).
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    shrink = [(1 - lr * decay).view(-1, *([1] * (p.dim() - 1))) for p in params]

    def logits(inputs):
        h = F.relu(torch.baddbmm(b1[:, None, :], inputs.expand(I, -1, -1), W1.transpose(1, 2)))   # (I, B, H)
        return torch.baddbmm(b2[:, None, :], h, W2.transpose(1, 2))                                # (I, B, 2)

    def step():
        z = logits(x)
        loss = F.cross_entropy(z.reshape(-1, 2), y.repeat(I), reduction="none").view(I, B).mean(-1)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        with torch.no_grad():
            for p, s in zip(params, shrink):
                p.mul_(s)
        opt.step()
        return loss

    def extras():
        with torch.no_grad():
            accuracy = (logits(x_test).argmax(-1) == y_test).float().mean(-1)
        return {"models_above_0.95": int((accuracy > 0.95).sum())}
    return step, 2 * 2 * I * B * n * H + 3 * 2 * I * B * H * 2 + 8 * I * B * H, extras


WORKLOADS = {"tms": (tms, 10_000), "dd": (dd, 10_000), "grok": (grok, 10_000), "parity-sweep": (parity_sweep, 2_000)}


def build(name, steps):
    make, _ = WORKLOADS[name]
    return make(steps) if name == "dd" else make()


def run(name, steps=None):
    steps = steps or WORKLOADS[name][1]
    build(name, steps)[0]()                                          # warm-up on a throwaway copy
    step, flops, extras = build(name, steps)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = step()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return report.line(name, "pytorch", steps, seconds, flops, float(loss.detach().sum()), cpu, extras())


def main(argv=None):
    def threads(parser):
        parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's own, one per core)")
    args = report.arguments(__doc__, WORKLOADS, argv, threads)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.workloads:
        print(run(name, args.steps), flush=True)


if __name__ == "__main__":
    main()
