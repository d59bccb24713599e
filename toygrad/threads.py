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

Spinning before sleeping. A split hands work to a sleeping thread and then waits for it, and on this virtual
machine a put that wakes a sleeping thread costs the caller 7 us and the woken thread starts 10 to 15 us later. So
each side first spins, for up to SPIN_SECONDS, on a count the other side raises (_spin_until, compiled, holding no
lock): a worker, after each call, for the next one; the caller, for the worker's outcome. The counts are hints
only: the SimpleQueues are still the hand-off, so a count seen late costs a sleep, never a wrong result. A step of
the bench (medians of 3 interleaved runs): grok 365 to 350 us, tms 476 to 453, parity-sweep 3.11 to 3.09 ms, dd
the same (487 and 496 us). The price: a worker's core kept busy for up to SPIN_SECONDS after each call, and the
caller's for up to SPIN_SECONDS per worker while it waits; with more threads than cores neither side spins.
"""
import functools
import multiprocessing
import os
import queue
import threading
import time

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

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


SPIN_SECONDS = 1e-3          # how long a waiting side spins before it sleeps: longer than the Python between
                             # two kernel calls of a training step (150 to 250 us), short beside a lesson's pauses
_POSTED, _DONE = 0, 8        # a worker's counts: the last call put in its queue, the last one done (64 bytes apart)


@intrinsic
def _load_acquire(typingctx, counts, i):
    """counts[i] of a 1-D int64 array, read from memory every time it is called (an atomic load, which the
    compiler cannot hoist out of a loop as it would a plain one). No bounds check: the callers pass _POSTED, _DONE."""
    if not (isinstance(counts, types.Array) and counts.dtype == types.int64 and counts.ndim == 1
            and isinstance(i, types.Integer)):
        return None                                       # numba then reports a typing error, naming the types

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(counts, i), codegen


@njit(cache=True, nogil=True)
def _spin_until(counts, i, value, spins):
    """Whether counts[i] reached value within `spins` reads of it (int64 counts; holds no lock meanwhile)."""
    for _ in range(spins):
        if _load_acquire(counts, i) >= value:
            return True
    return False


@functools.cache
def _spins():
    """How many reads _spin_until makes in SPIN_SECONDS here (timed once, on a count never reached; at most 100
    times the reads timed, should the clock say they took no time)."""
    never, reads = np.zeros(1, np.int64), 200_000
    _spin_until(never, 0, 1, 1)                          # compiled (or loaded) before it is timed
    start = time.perf_counter()
    _spin_until(never, 0, 1, reads)
    return max(1, min(100 * reads, int(reads * SPIN_SECONDS / max(time.perf_counter() - start, 1e-9))))


class _Worker:
    """A daemon thread that runs the calls put in its queue, one at a time, and puts each outcome in the queue
    that came with the call (one per split, so two threads splitting at once never get each other's results).
    SimpleQueues are the lightest hand-off Python has: 13 us a call here, against 20 us for a ThreadPoolExecutor's
    submit and result (measured), paid on every kernel call that is shared out. Each call carries its number and
    how long the two sides may spin (see the module docstring): counts[_POSTED] is the number of the last call put
    in the queue, counts[_DONE] that of the last one done (the queue runs them in order)."""

    def __init__(self):
        self.calls = queue.SimpleQueue()
        self.counts = np.zeros(_DONE + 1, np.int64)
        self.lock = threading.Lock()                    # keeps the calls' numbers in their queue order
        threading.Thread(target=self._run, name="toygrad-kernel", daemon=True).start()

    def post(self, work, args, outcomes, spins):
        """Put a call in the queue; returns its number (counts[_DONE] reaches it once its outcome is put)."""
        with self.lock:
            number = int(self.counts[_POSTED]) + 1
            self.calls.put((work, args, outcomes, number, spins))
            self.counts[_POSTED] = number               # raised only after the put: the worker's get() finds it
            return number

    def _run(self):
        _inside.worker = True
        done, spins = 0, 0
        while True:
            _spin_until(self.counts, _POSTED, done + 1, spins)          # a hint: get() waits if it must
            work, args, outcomes, done, spins = self.calls.get()
            try:
                outcomes.put((True, work(*args)))
            except BaseException as error:              # handed to the caller, which raises it
                outcomes.put((False, error))
            self.counts[_DONE] = done                   # after the put: a caller that sees it finds its outcome
            del work, args, outcomes                    # hold on to nothing of a finished call (its arrays)


def _workers(size):
    global _pool, _pool_pid
    if _pool_pid != os.getpid():                         # a forked child has none of its parent's threads
        _pool, _pool_pid = [], os.getpid()
    while len(_pool) < size:
        _spins()                                         # compiled and timed here, where an error reaches the caller
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
    workers, outcomes = _workers(len(pieces) - 1), [queue.SimpleQueue() for _ in pieces[1:]]
    spins = _spins() if len(pieces) <= cores() else 0    # more threads than cores: a spinning one takes a core
    numbers = [worker.post(work, piece, outcome, spins)   # that another needs
               for worker, piece, outcome in zip(workers, pieces[1:], outcomes)]
    try:
        first = work(*pieces[0])
    finally:                                             # wait for every share, so none is left running
        rest = []
        for worker, number, outcome in zip(workers, numbers, outcomes):
            _spin_until(worker.counts, _DONE, number, spins)           # a hint, as in the worker
            rest.append(outcome.get())
    for ok, value in rest:
        if not ok:
            raise value
    return [first] + [value for _, value in rest]

