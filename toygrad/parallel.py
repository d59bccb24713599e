"""Run a function on the machine's other core while this one trains.

    side = beside(small_experiments, settings)     # starts now, in a forked process
    run = fit(...)                                  # meanwhile, the main training here
    results = side.result()                         # waits if it has not finished

The worker runs its kernels on one thread, and this process on one core fewer until the worker is done
(toygrad/threads.py), so the two together use the cores once. Where processes cannot be forked (Windows), the
function simply runs here, before returning.
"""
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from . import threads


def beside(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a forked worker process; returns a concurrent.futures.Future.
    fn must be importable by name (defined at the top level of a module or script)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        done = Future()
        done.set_result(fn(*args, **kwargs))
        return done
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    threads.lend(1)
    future = pool.submit(fn, *args, **kwargs)
    future.add_done_callback(lambda _: threads.lend(-1))
    pool.shutdown(wait=False)                  # the worker exits once fn returns
    return future
