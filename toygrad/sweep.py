"""Sweeps: many trainings over a grid of settings, grouped so that runs sharing shapes train as one model,
spread over processes (or a dask cluster), saved as they finish, and resumable.

    points = grid(weight_decay=[0.01, 0.1, 1.0], hidden=[16, 32], seed=range(9))
    records = sweep(train_group, points, group_by=("hidden",), results="runs/parity.jsonl")

- `train_group(points)` trains one group (here: every weight decay and seed of one hidden size, stacked on
  the instance axis) and returns one result dict per point, in order.
- Groups go to a concurrent.futures Executor: local processes by default; `scheduler="tcp://host:8786"` sends
  them to a dask.distributed cluster through dask's own executor (dask is imported only then).
- Each finished group is appended to the results file (JSON lines, flushed and synced) with the settings that
  produced it; a rerun skips every point already there, so a sweep killed half-way loses nothing.
"""
import itertools
import json
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack
from pathlib import Path

from tqdm.auto import tqdm

from . import threads


def grid(**axes):
    """Every combination of the given values, as a list of dicts: grid(a=[1, 2], b="xy") -> 4 points."""
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"grid: {name} must be a list of values, got {values!r}")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(v) for v in axes.values()))]


def groups(points, group_by):
    """Points split into groups that agree on every key in group_by, in order of first appearance."""
    out = {}
    for point in points:
        missing = [k for k in group_by if k not in point]
        if missing:
            raise ValueError(f"sweep: group_by names {missing}, which the point {point} does not have")
        out.setdefault(tuple(point[k] for k in group_by), []).append(point)
    return list(out.values())


def key(point):
    """A point's identity in the results file: its settings as canonical JSON."""
    return json.dumps(point, sort_keys=True)


def load(results):
    """The records already in a results file ([] if there is none)."""
    path = Path(results)
    if not path.exists():
        return []
    records = []
    with open(path) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))          # a torn last line would raise: never written, see _append
    return records


def _append(path, records):
    """Append whole lines and sync, so a crash leaves only complete records behind."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with open(path, "a") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def open_executor(stack, scheduler=None, workers=None):
    """A concurrent.futures Executor, closed with `stack`: local processes, or, given a scheduler address,
    dask.distributed's executor for that cluster (no scheduling code of our own either way)."""
    if scheduler is None:
        workers = workers or os.cpu_count()
        pool = ProcessPoolExecutor(max_workers=workers)
        stack.callback(pool.shutdown, wait=False, cancel_futures=True)
        threads.lend(workers)                  # the workers take that many cores while the pool is open
        stack.callback(threads.lend, -workers)
        return pool
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("sweep: a scheduler address needs dask.distributed: pip install 'toygrad[dask]'") from None
    client = stack.enter_context(Client(scheduler))
    return client.get_executor()


def sweep(train_group, points, *, group_by=(), results, resume=True, executor=None, scheduler=None,
          workers=None, progress=True, desc="sweep"):
    """Train every point not yet in `results`, group by group; return all records, old and new, in the
    order of `points`. A record is {"settings": point, "result": dict}.

    train_group: a function importable by name (module level), list of points -> list of result dicts
    resume: keep what `results` holds and train only the rest; False deletes it first (a fresh run)
    executor: any concurrent.futures Executor (default: local processes, or dask's with `scheduler`)
    """
    path = Path(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not resume:
        path.unlink(missing_ok=True)
    done = {key(r["settings"]): r for r in load(path)}
    todo = [g for g in groups(points, group_by) if any(key(p) not in done for p in g)]
    with ExitStack() as stack:
        executor = executor or open_executor(stack, scheduler, workers)
        bar = stack.enter_context(tqdm(total=len(todo), desc=desc, disable=not progress, dynamic_ncols=True))
        running = {executor.submit(train_group, g): g for g in todo}
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                group = running.pop(future)
                result = future.result()
                if len(result) != len(group):
                    raise ValueError(f"sweep: train_group returned {len(result)} results for {len(group)} points")
                records = [{"settings": p, "result": r} for p, r in zip(group, result)]
                _append(path, records)
                done.update((key(r["settings"]), r) for r in records)
                bar.update(1)
                oldest = list(running.values())[:workers or os.cpu_count()]    # a pool takes groups in order
                bar.set_postfix_str(f"{len(running)} to go, now: " + "; ".join(_label(g, group_by) for g in oldest),
                                    refresh=False)
    return [done[key(p)] for p in points if key(p) in done]


def _label(group, group_by):
    return ", ".join(f"{k}={group[0][k]}" for k in group_by) or f"{len(group)} points"
