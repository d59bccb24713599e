"""Numbers the lessons report, computed from a model or a training history."""
import numpy as np


def first_step_reaching(history, key, threshold):
    """The first logged step at which history[key] >= threshold, per instance; -1 where it never does.

    history: fit()'s history ({"step": (T,), key: (T,) or (T, I)})  ->  an int, or (I,) ints
    """
    values = np.asarray(history[key])
    reached = values >= threshold
    first = np.where(reached.any(axis=0), np.asarray(history["step"])[reached.argmax(axis=0)], -1)
    return first if first.ndim else int(first)
