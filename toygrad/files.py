"""Writing files so that nothing is ever half-written: write a temporary file beside the target, flush it
to disk, then rename it over the target (a rename is atomic: readers see the old file or the new one)."""
import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_open(path, mode="wb"):
    """open() for writing that only replaces `path` once the block finishes without an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path, obj):
    """obj as indented JSON; numpy numbers and arrays become plain numbers and lists."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=2, default=_plain)
        f.write("\n")


def save_figure(fig, path, dpi=110):
    """Save a matplotlib figure atomically and close it (figures are never shown from the library)."""
    import matplotlib.pyplot as plt
    path = Path(path)
    with atomic_open(path) as f:
        fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"write_json: cannot write {type(x).__name__}")
