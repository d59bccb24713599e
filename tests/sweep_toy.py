"""A group-training function for the sweep tests: module level, so worker processes can import it by name.
It trains a real (tiny) toygrad model per group, with the group's points on the instance axis."""
import os

import numpy as np

import toygrad as tg


def train_group(points):
    """Fit y = 2x with one weight per point (instance axis), lr and seed from the settings."""
    marker = os.environ.get("SWEEP_FAIL_ON")                  # the tests use it to kill a sweep half-way
    if marker and any(p["width"] == int(marker) for p in points):
        raise RuntimeError(f"killed at width {marker}")
    rng = np.random.default_rng([p["seed"] for p in points])
    W = tg.Tensor(rng.standard_normal((len(points), 1, points[0]["width"])), requires_grad=True)
    x = rng.standard_normal((len(points), 16, points[0]["width"]))
    opt = tg.SGD([W], lr=np.array([p["lr"] for p in points]))
    for _ in range(20):
        loss = tg.mse(x @ W.T, 2 * x.sum(axis=-1, keepdims=True))
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return [{"loss": float(v)} for v in loss.data]
