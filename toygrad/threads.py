"""Kernel threads: a kernel's independent pieces of work (models, instances) shared out over this process's cores.

    toygrad.set_threads(1)           # or TOYGRAD_THREADS=1 in the environment; threads() reads it back
    split(work, n_items)             # work(start, stop) on contiguous shares of range(n_items), side by side

The kernels are compiled with nogil=True, so Python threads run them at the same time. Each piece writes only
its own rows of the output (instance l's loss and gradient, say), and how the pieces are shared out does not
change what each one computes: a run gives the same numbers, bit for bit, on 1 thread or 8 (tests/test_threads.py).

Why Python threads rather than numba's parallel=True: numba's OpenMP layer aborts a child process that uses it
after a fork from a parent that did ("fork() called from a process already using GNU OpenMP"), and the sweeps
fork their workers. A thread pool is created per process, the first time it is needed.

The policy. The main process uses every core it may run on. A worker process (one started by another Python
process: a sweep's or a dask worker) uses one, because its siblings take the other cores; parallel.beside and a
local sweep pool keep the parent to the cores their processes leave free (lend). BLAS stays on one thread
throughout (see __init__).
"""
import functools
import multiprocessing
import os
import queue
import threading

_chosen = None                      # set_threads(n); None: the policy above
_lent, _lent_lock = 0, threading.Lock()      # cores given to other processes (parallel.beside, sweep pools)
_pool, _pool_pid = [], None         # kernel worker threads (_Worker), of this process
_inside = threading.local()         # .worker is True in a kernel worker thread
_cores, _cores_pid = 1, None


def cores():
    """The cores this process may run on (asked once per process: it is a system call)."""
    global _cores, _cores_pid
    if _cores_pid != os.getpid():
        _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        _cores_pid = os.getpid()
    return _cores


def set_threads(n):
    """Run kernels on n threads from now on (None: back to the policy in the module docstring)."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads: n must be a positive integer or None, got {n!r}")
    global _chosen
    _chosen = n


def threads():
    """How many threads the kernels use now."""
    if _chosen is not None:
        return _chosen
    from_env = os.environ.get("TOYGRAD_THREADS")
    if from_env:
        if not from_env.isdigit() or int(from_env) < 1:
            raise ValueError(f"TOYGRAD_THREADS must be a positive integer, got {from_env!r}")
        return int(from_env)
    return 1 if multiprocessing.parent_process() is not None else max(1, cores() - _lent)


def lend(n):
    """Leave n more cores (negative: fewer) to work outside this process, until it gives them back."""
    global _lent
    with _lent_lock:
        _lent += n


class _Worker:
    """A daemon thread that runs the calls put in its queue, one at a time, and puts each outcome in the queue
    that came with the call (one per split, so two threads splitting at once never get each other's results).
    SimpleQueues are the lightest hand-off Python has: 13 us a call here, against 20 us for a ThreadPoolExecutor's
    submit and result (measured), paid on every kernel call that is shared out."""

    def __init__(self):
        self.calls = queue.SimpleQueue()
        threading.Thread(target=self._run, name="toygrad-kernel", daemon=True).start()

    def _run(self):
        _inside.worker = True
        while True:
            work, args, outcomes = self.calls.get()
            try:
                outcomes.put((True, work(*args)))
            except BaseException as error:              # handed to the caller, which raises it
                outcomes.put((False, error))
            del work, args, outcomes                    # hold on to nothing of a finished call (its arrays)


def _workers(size):
    global _pool, _pool_pid
    if _pool_pid != os.getpid():                         # a forked child has none of its parent's threads
        _pool, _pool_pid = [], os.getpid()
    while len(_pool) < size:
        _pool.append(_Worker())
    return _pool[:size]


@functools.lru_cache(maxsize=256)          # asked on every split with the same few sizes: 1.6 us, 0.1 from here
def shares(n_items, n_shares):
    """range(n_items) cut into n_shares contiguous (start, stop) pieces, as equal as can be (a tuple of pairs)."""
    n_shares = max(1, min(n_shares, n_items))
    edges = [n_items * s // n_shares for s in range(n_shares + 1)]
    return tuple(zip(edges[:-1], edges[1:]))


def split(work, n_items):
    """work(start, stop) for contiguous shares of range(n_items), on up to threads() threads; the calling thread
    takes the first share. Returns the results in order."""
    pieces = shares(n_items, threads())
    if len(pieces) == 1 or getattr(_inside, "worker", False):     # a split inside a share runs in its thread: a
        return [work(*piece) for piece in pieces]                  # worker waiting on itself would never finish
    outcomes = [queue.SimpleQueue() for _ in pieces[1:]]
    for worker, piece, outcome in zip(_workers(len(pieces) - 1), pieces[1:], outcomes):
        worker.calls.put((work, piece, outcome))
    try:
        first = work(*pieces[0])
    finally:                                             # wait for every share, so none is left running
        rest = [outcome.get() for outcome in outcomes]
    for ok, value in rest:
        if not ok:
            raise value
    return [first] + [value for _, value in rest]

