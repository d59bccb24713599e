"""Kernel threads: the shares cover the work, and the numbers do not depend on how many threads share it."""
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toygrad import datasets, kernels, threads
from toygrad.parallel import beside
from toygrad.sweep import open_executor


@pytest.fixture
def restore_threads():
    yield
    threads.set_threads(None)


@given(n_items=st.integers(0, 200), n_shares=st.integers(1, 16))
def test_shares_cover_the_items_in_order_and_evenly(n_items, n_shares):
    pieces = threads.shares(n_items, n_shares)
    covered = [i for start, stop in pieces for i in range(start, stop)]
    assert covered == list(range(n_items))
    sizes = [stop - start for start, stop in pieces]
    assert len(pieces) == max(1, min(n_shares, n_items))
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_threads_names_what_it_expected(bad):
    with pytest.raises(ValueError, match="set_threads: n must be a positive integer"):
        threads.set_threads(bad)


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("TOYGRAD_THREADS", "3")
    assert threads.threads() == 3
    monkeypatch.setenv("TOYGRAD_THREADS", "zero")
    with pytest.raises(ValueError, match="TOYGRAD_THREADS must be a positive integer, got 'zero'"):
        threads.threads()


def test_split_runs_every_share_and_returns_them_in_order(restore_threads):
    threads.set_threads(4)
    assert threads.split(lambda a, b: list(range(a, b)), 10) == [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]
    assert threads.split(lambda a, b: (a, b), 3) == [(0, 1), (1, 2), (2, 3)]          # no more shares than items


def _threads_in_a_worker():
    return threads.threads()


def test_a_worker_process_runs_on_one_thread():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_threads_in_a_worker).result() == 1


def _run_kernels(seed):
    """Every kernel that shares out its work: the parity MLP, the three reconstruction loops (by instance, and a
    single instance's points in halves) and the sampler."""
    rng = np.random.default_rng(seed)
    out = {}
    I, B, H, n = 40, 150, 32, 30      # 40 models of 32 units: 3 chunks (13, 13, 14) of MLP_UNITS = 512; 3 tiles
    x, y = datasets.parity_bits(rng, B, n, 3)
    mlp = [rng.normal(size=s).astype(np.float32) for s in ((I, H, n), (I, H), (I, 2, H), (I, 2))]
    grads = [np.zeros_like(a) for a in mlp]
    out["mlp"] = [kernels.mlp_cross_entropy(x.astype(np.float32), y, *mlp, True, *grads)] + grads
    for name, n_features, L in (("rows", 80, 5), ("columns", 20, 5), ("rows, one instance", 80, 1),
                                ("columns, one instance", 20, 1)):          # one instance: its points in halves
        m = 3
        x = rng.random((L, B, n_features)).astype(np.float32) * (rng.random((L, B, n_features)) < 0.2)
        W, b = rng.normal(size=(L, m, n_features)).astype(np.float32), rng.normal(size=(L, n_features)).astype(np.float32)
        w, rank = np.ones((L, n_features), np.float32), np.array([3, 1, 2, 3, 0])[:L]
        dW, db = np.zeros_like(W), np.zeros_like(b)
        out[name] = [kernels.reconstruction(x, W, b, w, rank, True, dW, db), dW, db]
        rows = datasets.sparse_rows(x)
        dW, db = np.zeros_like(W), np.zeros_like(b)
        out["sparse " + name] = [kernels.reconstruction_sparse(rows.index, rows.value, rows.count, W, b, w, rank, True,
                                                               dW, db), dW, db]
    for dtype in (np.float32, np.float64):
        sample = np.empty((7, 33, 5), dtype)
        kernels.sample_sparse_counter(rng, sample, np.linspace(0.1, 1, 7))
        out[f"sample {np.dtype(dtype)}"] = [sample]
    return out


@pytest.mark.parametrize("n", [2, 3, 8])
def test_kernels_give_the_same_bits_on_any_number_of_threads(n, restore_threads):
    threads.set_threads(1)
    one = _run_kernels(0)
    threads.set_threads(n)
    many = _run_kernels(0)
    for name in one:
        for a, b in zip(one[name], many[name]):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} on {n} threads")


def _slow_threads_count():
    time.sleep(0.5)
    return threads.threads()


def test_beside_lends_a_core_until_its_job_is_done(restore_threads, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    side = beside(_slow_threads_count)
    assert threads.threads() == 1                              # this process, while the side job runs
    assert side.result() == 1                                  # the side job itself
    for _ in range(100):                                       # the done-callback runs just after the result
        if threads.threads() == 2:
            break
        time.sleep(0.01)
    assert threads.threads() == 2


def test_a_local_sweep_pool_takes_its_workers_cores(restore_threads, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    with ExitStack() as stack:
        open_executor(stack, workers=3)
        assert threads.threads() == 1
    assert threads.threads() == 4



def test_split_raises_what_a_share_raised_after_every_share_ends(restore_threads):
    threads.set_threads(3)
    finished = []

    def work(start, stop):
        if start == 0:                                      # the caller's own share fails at once
            raise ArithmeticError(f"share {start}..{stop}")
        time.sleep(0.05)
        finished.append(start)
        return start
    with pytest.raises(ArithmeticError, match="share 0..1"):
        threads.split(work, 3)
    assert sorted(finished) == [1, 2]                       # the workers' shares ran to the end before it raised
    assert threads.split(lambda a, b: a, 3) == [0, 1, 2]   # and the workers still serve calls


def test_a_split_inside_a_share_runs_in_that_thread(restore_threads):
    threads.set_threads(2)
    inner = lambda a, b: threading.current_thread().name
    outer = lambda a, b: threads.split(inner, 2)
    assert threads.split(outer, 2) == [["MainThread", "toygrad-kernel"], ["toygrad-kernel"] * 2]


def test_spin_until_sees_a_count_raised_by_another_thread():
    counts = np.zeros(9, np.int64)
    assert not threads._spin_until(counts, 8, 1, 1000)                 # never raised: gives up after its reads
    raiser = threading.Timer(0.01, counts.__setitem__, (8, 3))
    raiser.start()
    assert threads._spin_until(counts, 8, 2, 1000 * threads._spins())  # returns once the other thread raised it,
    raiser.join()                                                       # well within its 1 s of reads


@pytest.mark.parametrize("spins", [1, None])          # 1: neither side waits for the other but in its queue
def test_a_hand_off_longer_than_the_spin_goes_through_the_queues(spins, restore_threads, monkeypatch):
    """The counts the two sides spin on are hints: a worker that has gone to sleep, and a caller whose worker's
    share outlasts its spin (SPIN_SECONDS is 1 ms), still get their calls and outcomes."""
    threads.set_threads(2)
    if spins is not None:
        monkeypatch.setattr(threads, "_spins", lambda: spins)

    def work(start, stop):
        time.sleep(0.005 if start else 0)
        return start, threading.current_thread().name
    for _ in range(5):
        time.sleep(0.005)                                               # past the worker's spin: it sleeps
        assert threads.split(work, 2) == [(0, "MainThread"), (1, "toygrad-kernel")]


def test_two_threads_splitting_at_once_get_their_own_results(restore_threads):
    threads.set_threads(2)
    results, worker = {}, threads._workers(1)[0]
    before = int(worker.counts[threads._POSTED])

    def caller(tag):
        results[tag] = [threads.split(lambda a, b: (tag, i, a), 2) for i in range(200)]
    callers = [threading.Thread(target=caller, args=(tag,), daemon=True) for tag in "xy"]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in callers)
    assert all(results[tag] == [[(tag, i, 0), (tag, i, 1)] for i in range(200)] for tag in "xy")
    # every call numbered once, and each one done (the worker raises its count just after its put: wait for it)
    assert threads._spin_until(worker.counts, threads._DONE, before + 400, 1000 * threads._spins())
    assert worker.counts[threads._POSTED] == worker.counts[threads._DONE] == before + 400
