"""The training loop every lesson uses: fit(), with logging, snapshots, atomic checkpoints and resume.

    run = fit(loss_fn, params, optimizer, steps=50_000, evaluate=evaluate, log_every=100,
              checkpoint="runs/grok.ckpt.npz", resume=True, rng=rng)

Each step is the four lines every training loop has:
    optimizer.zero_grad();  loss = loss_fn(step);  loss.sum().backward();  optimizer.step()
and around it the bookkeeping a long run needs:
- at each log step s (every `log_every` steps, or the steps in `log_at`, and always at the end), the history
  records the training loss at step s and whatever `evaluate()` returns for the parameters after s updates;
- at each step in `snapshot_at`, a copy of the parameters (for figures of weights over training);
- every `checkpoint_every` steps, everything needed to continue: parameters, optimizer moments, random
  state, history and snapshots, written atomically (temporary file, then rename: a crash never leaves a
  half-written checkpoint). `resume=True` continues from it to the same final weights, bit for bit, as a
  run that was never interrupted;
- a non-finite loss stops the run with NonFiniteLoss naming the step and the last finite loss, and the last
  good checkpoint stays on disk.
"""
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .files import atomic_open


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or infinite. Names the step and the last finite loss."""

    def __init__(self, step, last_finite, checkpoint=None):
        self.step, self.last_finite = step, last_finite
        kept = f"; the last good checkpoint is {checkpoint}" if checkpoint and Path(checkpoint).exists() else ""
        super().__init__(f"loss is not finite at step {step} (last finite loss: {_fmt(last_finite)}){kept}")


@dataclass
class Run:
    """What fit() returns: the history (arrays over log steps), snapshots {step: {name: array}}, timing."""
    history: dict
    snapshots: dict = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0


def log_spaced(total, count):
    """About `count` integer steps from 0 to `total`, spaced evenly on a log axis (0 and total included)."""
    steps = np.unique(np.round(np.geomspace(1, total + 1, count)).astype(int) - 1)
    return [int(s) for s in steps]


def fit(loss_fn, params, optimizer, steps, *, evaluate=None, log_every=100, log_at=None, snapshot_at=(),
        checkpoint=None, checkpoint_every=1000, resume=False, rng=None, progress=True, desc="training",
        show=("loss",)):
    """Train for `steps` steps and return a Run.

    loss_fn(step) -> Tensor: the loss at this step, a scalar or one value per instance (backpropagates the sum).
    params: {name: Tensor}, the parameters the optimizer updates (named, for checkpoints and snapshots).
    evaluate() -> {name: number or array}: called at log steps; its values join the history.
    rng: a numpy Generator (or a list of them) that loss_fn draws from; saved in checkpoints so a resumed
         run draws the same numbers.
    show: history keys to show beside the progress bar.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"fit: steps must be a non-negative integer, got {steps!r}")
    if log_at is None and (not isinstance(log_every, (int, np.integer)) or log_every < 1):
        raise ValueError(f"fit: log_every must be a positive integer, got {log_every!r}")
    rngs = [] if rng is None else list(rng) if isinstance(rng, (list, tuple)) else [rng]
    log_steps = set(range(0, steps, log_every)) if log_at is None else {int(s) for s in log_at if 0 <= s <= steps}
    log_steps.add(steps)
    snapshot_steps = {int(s) for s in snapshot_at}

    run, start = Run(history={}), 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        start = load_checkpoint(checkpoint, params, optimizer, rngs, run)

    t0, last_finite = time.perf_counter(), None
    bar = tqdm(total=steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True, leave=True)
    for step in range(start, steps + 1):
        if step in snapshot_steps:
            run.snapshots[step] = {name: p.data.copy() for name, p in params.items()}
        loss = loss_fn(step)
        if not np.all(np.isfinite(loss.data)):
            bar.close()
            raise NonFiniteLoss(step, last_finite, checkpoint)
        last_finite = loss.data.copy()
        if step in log_steps:
            _log(run.history, step, loss.data, evaluate)
            bar.set_postfix({k: _fmt(run.history[k][-1]) for k in show if k in run.history}, refresh=False)
        if step == steps:                                  # the final log: no update after it
            break
        optimizer.zero_grad()
        (loss.sum() if loss.ndim else loss).backward()
        optimizer.step()
        bar.update(1)
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            save_checkpoint(checkpoint, step + 1, params, optimizer, rngs, run)
    bar.close()
    run.history = {k: np.asarray(v) for k, v in run.history.items()}
    run.steps, run.seconds = steps, time.perf_counter() - t0
    return run


def _log(history, step, loss, evaluate):
    row = {"step": step, "loss": loss}
    if evaluate is not None:
        row.update(evaluate())
    for key, value in row.items():
        history.setdefault(key, []).append(np.array(value))


def _fmt(value):
    if value is None:
        return "none"
    arr = np.asarray(value, dtype=float)
    return f"{arr.item():.4g}" if arr.size == 1 else f"mean {arr.mean():.4g}"


# --- checkpoints ----------------------------------------------------------------------------------------

def save_checkpoint(path, step, params, optimizer, rngs, run):
    """Write everything needed to resume at `step`, atomically (temporary file, then os.replace)."""
    for name, p in params.items():
        if not np.all(np.isfinite(p.data)):
            raise NonFiniteLoss(step, None, path)
    arrays = {f"param/{name}": p.data for name, p in params.items()}
    arrays.update(_flatten("opt", optimizer.state_dict()))
    arrays.update({f"history/{k}": np.asarray(v) for k, v in run.history.items()})
    for s, snap in run.snapshots.items():
        arrays.update({f"snapshot/{s}/{name}": a for name, a in snap.items()})
    meta = {"step": step, "rngs": [r.bit_generator.state for r in rngs]}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_open(path) as f:
        np.savez(f, **arrays)


def load_checkpoint(path, params, optimizer, rngs, run):
    """Restore params, optimizer, rngs and run (history, snapshots) in place; return the step to continue from."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data.pop("meta")))
    for name, p in params.items():
        saved = data.get(f"param/{name}")
        if saved is None or saved.shape != p.shape or saved.dtype != p.dtype:
            raise ValueError(f"load_checkpoint: {path} has no parameter {name!r} of shape {p.shape} and dtype "
                             f"{p.dtype} (found {None if saved is None else (saved.shape, saved.dtype)})")
        p.data[...] = saved
    optimizer.load_state_dict(_unflatten("opt", data))
    if len(meta["rngs"]) != len(rngs):
        raise ValueError(f"load_checkpoint: {path} saved {len(meta['rngs'])} random generators, got {len(rngs)}")
    for r, state in zip(rngs, meta["rngs"]):
        r.bit_generator.state = state
    run.history = {k.split("/", 1)[1]: [np.array(v) for v in a] for k, a in data.items() if k.startswith("history/")}
    for key, a in data.items():
        if key.startswith("snapshot/"):
            _, s, name = key.split("/", 2)
            run.snapshots.setdefault(int(s), {})[name] = a
    return int(meta["step"])


def _flatten(prefix, obj):
    """{"m": [a0, a1], "steps": 3} -> {"opt/m/0": a0, "opt/m/1": a1, "opt/steps": 3}; None is left out."""
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _flatten(f"{prefix}/{key}", value).items()}
    if isinstance(obj, (list, tuple)):
        flat = {f"{prefix}/#": np.array(len(obj))}
        for i, value in enumerate(obj):
            flat.update(_flatten(f"{prefix}/{i}", value))
        return flat
    return {} if obj is None else {prefix: np.asarray(obj)}


def _present(prefix, data):
    return prefix in data or any(k.startswith(prefix + "/") for k in data)


def _unflatten(prefix, data):
    keys = {k[len(prefix) + 1:].split("/", 1)[0] for k in data if k.startswith(prefix + "/")}
    if prefix in data:
        return data[prefix]
    if "#" in keys:
        return [_unflatten(f"{prefix}/{i}", data) if _present(f"{prefix}/{i}", data) else None
                for i in range(int(data[f"{prefix}/#"]))]
    return {key: _unflatten(f"{prefix}/{key}", data) for key in keys}
