"""grad_batch spread over worker processes gives bit for bit the single-process result."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import ferrograd
from ferrograd import parallel


def w(a, b, c, d):
    """Module-level, so worker processes can unpickle tapes that refer to it."""
    return (a * b - 0.5) ** 2 + c / (1 + d**2) + (a + c).tanh() * d.sin() + (b * d).relu()


@pytest.fixture(scope="module")
def problem():
    tape = ferrograd.compile(w, 4)
    xs = np.random.default_rng(0).standard_normal((20_001, 4))
    return tape, xs, tape.grad_batch(xs, threads=1)


def assert_identical(got, expected):
    assert got[0].shape == expected[0].shape and got[1].shape == expected[1].shape
    assert got[0].tobytes() == expected[0].tobytes()
    assert got[1].tobytes() == expected[1].tobytes()


def test_process_pool_matches_one_process(problem):
    tape, xs, expected = problem
    # Fresh interpreters (spawn): the tape must really travel pickled, and no thread of this
    # process is forked mid-flight.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        assert_identical(parallel.grad_batch(tape, xs, pool, chunks=5, timeout=120), expected)
        values = parallel.eval_batch(tape, xs, pool, timeout=120)
    assert values.tobytes() == expected[0].tobytes()


def test_any_chunking_and_tiny_batches(problem):
    tape, xs, expected = problem
    with ThreadPoolExecutor(3) as pool:
        for chunks in (1, 7, 64):
            assert_identical(parallel.grad_batch(tape, xs, pool, chunks=chunks), expected)
        few = parallel.grad_batch(tape, xs[:3], pool, chunks=10)
        assert_identical(few, (expected[0][:3], expected[1][:3]))
        empty = parallel.grad_batch(tape, xs[:0], pool)
        assert empty[0].shape == (0,) and empty[1].shape == (0, 4)
        with pytest.raises(ValueError, match=r"shape \(m, 4\)"):
            parallel.grad_batch(tape, xs[:, :3], pool)
        with pytest.raises(ValueError, match="chunks"):
            parallel.grad_batch(tape, xs, pool, chunks=0)
        with pytest.raises(TypeError, match="Tape"):
            parallel.grad_batch(w, xs, pool)


def test_dask_local_cluster_matches_one_process(problem):
    # Part of the `test` extra (through `dask`), so this runs wherever the suite does.
    import distributed

    tape, xs, expected = problem
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, timeout="60s") as client,
    ):
        got = parallel.grad_batch(tape, xs, client.get_executor(), chunks=4, timeout=120)
        workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2  # two separate worker processes did the work
    assert_identical(got, expected)


def test_something_that_cannot_run_work_is_refused(problem):
    tape, xs, _ = problem
    for not_an_executor in ("pool", None, 2):
        with pytest.raises(TypeError, match="concurrent.futures.Executor"):
            parallel.grad_batch(tape, xs, not_an_executor)
        with pytest.raises(TypeError, match="concurrent.futures.Executor"):
            parallel.eval_batch(tape, xs, not_an_executor)
