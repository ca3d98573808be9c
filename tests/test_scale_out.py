"""grad_batch spread over worker processes, or over a dask array's blocks on a Dask cluster, gives
bit for bit the single-process result."""

from __future__ import annotations

import math
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import dask
import dask.array as da
import distributed
import numpy as np
import pytest

import ferrograd
from ferrograd import parallel


def w(a, b, c, d):
    """Module-level, so worker processes can unpickle tapes that refer to it."""
    return (a * b - 0.5) ** 2 + c / (1 + d**2) + (a + c).tanh() * d.sin() + (b * d).relu()


def branchy(a, b, c, d):
    """A path that depends on a value: a tape compiled with check=True refuses rows with a < 0."""
    return a * b + c * d if a.data > 0 else a - b


@pytest.fixture(scope="module")
def problem():
    tape = ferrograd.compile(w, 4)
    xs = np.random.default_rng(0).standard_normal((20_001, 4))
    return tape, xs, tape.grad_batch(xs, threads=1)


@pytest.fixture(scope="module")
def client():
    """Two worker processes on loopback, for this module's tests; closed at the end."""
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
        yield client


def assert_identical(got, expected):
    assert got[0].shape == expected[0].shape and got[1].shape == expected[1].shape
    assert got[0].dtype == expected[0].dtype == got[1].dtype == np.float64
    assert got[0].tobytes() == expected[0].tobytes()
    assert got[1].tobytes() == expected[1].tobytes()


class CountingPool(ThreadPoolExecutor):
    """A thread pool that counts the shares submitted to it."""

    def __init__(self) -> None:
        super().__init__(2)
        self.submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


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
        for chunks in (1, 7, 64, np.int64(3), np.uint8(2)):
            assert_identical(parallel.grad_batch(tape, xs, pool, chunks=chunks), expected)
        few = parallel.grad_batch(tape, xs[:3], pool, chunks=10)
        assert_identical(few, (expected[0][:3], expected[1][:3]))
        empty = parallel.grad_batch(tape, xs[:0], pool)
        assert empty[0].shape == (0,) and empty[1].shape == (0, 4)
        assert parallel.eval_batch(tape, xs[:0], pool).shape == (0,)
        with pytest.raises(ValueError, match=r"shape \(m, 4\)"):
            parallel.grad_batch(tape, xs[:, :3], pool)
        with pytest.raises(TypeError, match="Tape"):
            parallel.grad_batch(w, xs, pool)


def test_chunks_is_any_integral_number_and_nothing_else(problem):
    tape, xs, _ = problem
    with ThreadPoolExecutor(2) as pool:
        for bad, error in ((True, TypeError), (2.0, TypeError), ("3", TypeError), (0, ValueError)):
            with pytest.raises(error, match="chunks"):
                parallel.grad_batch(tape, xs, pool, chunks=bad)
            with pytest.raises(error, match="chunks"):
                parallel.eval_batch(tape, xs, pool, chunks=bad)
        with pytest.raises(ValueError, match="chunks must be >= 1, got -1"):
            parallel.grad_batch(tape, xs, pool, chunks=np.int64(-1))


def test_huge_chunks_submit_one_share_per_row_at_most(problem):
    tape, xs, expected = problem
    # Shares are cut to the number of rows before anything is split, so asking for 10**7 or
    # 10**18 shares of 3 rows submits 3 (it used to build 10**7 empty views first).
    for chunks in (10**7, 10**18):
        with CountingPool() as pool:
            got = parallel.grad_batch(tape, xs[:3], pool, chunks=chunks)
        assert pool.submitted == 3
        assert_identical(got, (expected[0][:3], expected[1][:3]))
    with CountingPool() as pool:
        assert parallel.grad_batch(tape, xs[:0], pool, chunks=10**7)[1].shape == (0, 4)
    assert pool.submitted == 0


def test_numpy_input_on_a_dask_cluster_matches_one_process(problem, client):
    tape, xs, expected = problem
    pool = client.get_executor()
    # 20,001 rows in 4 shares: the last share is one row shorter than the others.
    got = parallel.grad_batch(tape, xs, pool, chunks=4, timeout=120)
    workers = client.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2  # two separate worker processes did the work
    assert_identical(got, expected)
    empty = parallel.grad_batch(tape, xs[:0], pool, timeout=120)
    assert_identical(empty, (expected[0][:0], expected[1][:0]))


def test_dask_input_on_a_dask_cluster_matches_one_process(problem, client):
    tape, xs, expected = problem
    # Blocks of 3,000 rows: the seventh and last has 2,001.
    dxs = da.from_array(xs, chunks=(3_000, 4))
    values, grads = parallel.grad_batch(tape, dxs)
    assert isinstance(values, da.Array) and isinstance(grads, da.Array)
    assert values.chunks == (dxs.chunks[0],) and grads.chunks == dxs.chunks
    assert values.dtype == grads.dtype == np.float64
    assert type(values._meta) is np.ndarray and values._meta.ndim == 1
    assert type(grads._meta) is np.ndarray and grads._meta.ndim == 2
    evaluated = parallel.eval_batch(tape, dxs)
    got_values, got_grads, got_evaluated = client.compute([values, grads, evaluated], sync=True)
    assert_identical((got_values, got_grads), expected)
    assert got_evaluated.tobytes() == expected[0].tobytes()

    empty = parallel.grad_batch(tape, da.from_array(xs[:0], chunks=(10, 4)))
    assert_identical(client.compute(list(empty), sync=True), (expected[0][:0], expected[1][:0]))


def test_dask_points_made_on_the_workers_stay_there(problem, client):
    tape = problem[0]
    # Points generated on the workers, in blocks whose column split is merged, results kept on
    # the cluster; only a sample comes back.
    dxs = da.random.default_rng(1).standard_normal((49_001, 4), chunks=(7_000, 2))
    values, grads = client.persist(list(parallel.grad_batch(tape, dxs)))
    assert grads.chunks == ((7_000,) * 7 + (1,), (4,))
    sample = slice(48_000, 49_001)
    expected = tape.grad_batch(dxs[sample].compute(), threads=1)
    assert_identical((values[sample].compute(), grads[sample].compute()), expected)


def test_dask_rows_of_unknown_lengths(problem, client):
    tape, xs, expected = problem
    # Boolean indexing leaves the block lengths unknown (nan), as a dataframe's to_dask_array()
    # does; the results keep them unknown and still line up row for row.
    keep = xs[:, 0] > 0
    dxs = da.from_array(xs, chunks=(5_000, 4))
    values, grads = parallel.grad_batch(tape, dxs[da.from_array(keep, chunks=5_000)])
    assert all(math.isnan(c) for c in grads.chunks[0])
    got = client.compute([values, grads], sync=True)
    assert_identical(got, (expected[0][keep], expected[1][keep]))


def _count_tape_loads():
    """Count, in this process, every tape unpickled from here on."""
    import ferrograd.tape as module

    original = module._tape_from_bytes
    loads = []

    def counting(*args):
        loads.append(1)
        return original(*args)

    module._tape_from_bytes = counting
    module.tape_loads = loads


def _tape_loads():
    import ferrograd.tape as module

    return len(module.tape_loads)


def test_the_tape_travels_to_each_worker_once(client):
    # A long tape, so sending it once per block would also show in the task sizes below.
    def long(a, b, c, d):
        for _ in range(300):
            a = (a * b - 0.5).tanh() + c / (1 + d**2)
        return a

    tape = ferrograd.compile(long, 4)
    dxs = da.random.default_rng(2).standard_normal((40_000, 4), chunks=(2_000, 4))
    values, grads = parallel.grad_batch(tape, dxs)
    (optimized,) = dask.optimize(grads)
    tasks = dict(optimized.__dask_graph__())
    tape_size = len(pickle.dumps(tape))
    assert sum(len(pickle.dumps(task)) >= tape_size for task in tasks.values()) == 1

    client.run(_count_tape_loads)
    got_values, got_grads = client.compute([values, grads], sync=True)
    loads = client.run(_tape_loads)
    assert len(loads) == 2 and all(count <= 1 for count in loads.values())  # 20 blocks
    assert_identical((got_values, got_grads), tape.grad_batch(dxs.compute(), threads=1))


def _boom():
    raise AssertionError("a task ran")


def _untouchable(shape, dtype="float64", chunks=None):
    """A dask array whose one block fails if computed: whatever reads it runs a task."""
    array = da.from_delayed(dask.delayed(_boom)(), shape=shape, dtype=dtype)
    return array if chunks is None else array.rechunk(chunks)


def test_dask_results_are_lazy_and_bad_input_fails_before_any_task_runs(problem):
    tape = problem[0]
    _, grads = parallel.grad_batch(tape, _untouchable((100, 4)))
    assert grads.shape == (100, 4)
    with pytest.raises(AssertionError, match="a task ran"):
        grads.compute(scheduler="sync")

    for shape in ((100, 3), (100,), (100, 4, 1), (100, math.nan)):
        with pytest.raises(ValueError, match=r"shape \(m, 4\), got .*chunks"):
            parallel.grad_batch(tape, _untouchable(shape))
        with pytest.raises(ValueError, match=r"shape \(m, 4\)"):
            parallel.eval_batch(tape, _untouchable(shape))
    for dtype in ("complex128", "object", "<U3", "datetime64[s]"):
        with pytest.raises(ValueError, match=r"real numbers, got dtype"):
            parallel.grad_batch(tape, _untouchable((100, 4), dtype))
    with pytest.raises(ValueError, match="numpy blocks"):
        parallel.grad_batch(tape, _untouchable((100, 4)).map_blocks(np.ma.masked_invalid))
    # Column blocks are merged (lazily too), integer and float32 points are cast per block.
    _, split = parallel.grad_batch(tape, _untouchable((100, 4), chunks=(30, 1)))
    assert split.chunks == ((30, 30, 30, 10), (4,))
    for dtype in ("int16", "float32", "bool"):
        assert parallel.grad_batch(tape, _untouchable((100, 4), dtype))[1].dtype == np.float64

    with ThreadPoolExecutor(1) as pool:
        for options in ({"executor": pool}, {"chunks": 3}, {"timeout": 5.0}):
            with pytest.raises(ValueError, match="drop (executor|chunks|timeout)"):
                parallel.grad_batch(tape, _untouchable((100, 4)), **options)


def test_casts_and_column_merges_give_the_same_numbers(problem):
    tape, xs, _ = problem
    small = np.round(xs[:1_000] * 100).astype(np.int32)
    dxs = da.from_array(small, chunks=(300, 1))
    got = dask.compute(*parallel.grad_batch(tape, dxs), scheduler="threads")
    assert_identical(got, tape.grad_batch(small, threads=1))


def test_a_failing_block_raises_its_own_error_with_its_index(client):
    tape = ferrograd.compile(branchy, 4, check=True)
    xs = np.abs(np.random.default_rng(3).standard_normal((1_000, 4)))
    xs[650, 0] = -1.0  # in block 2 of 4 (rows 500..749)
    _, grads = parallel.grad_batch(tape, da.from_array(xs, chunks=(250, 4)))
    with pytest.raises(ferrograd.PathChangedError, match=r"^block 2 of 4: f builds a different"):
        client.compute(grads, sync=True)

    # A block that is not what the array's metadata promised: the tape's own ValueError.
    parts = [
        da.from_array(xs[:10], chunks=-1),
        da.from_delayed(dask.delayed(xs[:5, :3]), (5, 4), float),
    ]
    with pytest.raises(ValueError, match=r"^block 1 of 2: a batch must have shape \(m, 4\)"):
        client.compute(parallel.eval_batch(tape.unchecked(), da.concatenate(parts)), sync=True)

    # The same through an executor: the share's index.
    with pytest.raises(ferrograd.PathChangedError, match=r"^share 1 of 2: f builds a different"):
        parallel.grad_batch(tape, xs, client.get_executor(), chunks=2, timeout=120)


def test_fast_precision_travels_with_every_share_and_block(problem):
    tape, xs, default = problem
    fast = tape.grad_batch(xs, threads=1, precision="fast")
    # w has tanh and sin: the fast functions round differently from libm at some rows.
    assert fast[0].tobytes() != default[0].tobytes()
    np.testing.assert_allclose(fast[0], default[0], rtol=1e-14, atol=1e-14)
    with ThreadPoolExecutor(3) as pool:
        assert_identical(parallel.grad_batch(tape, xs, pool, chunks=7, precision="fast"), fast)
        got = parallel.eval_batch(tape, xs, pool, chunks=3, precision="fast")
        assert got.tobytes() == tape.eval_batch(xs, threads=1, precision="fast").tobytes()
        jac = parallel.jacobian_batch(tape, xs, pool, chunks=2, precision="fast")
        assert jac.tobytes() == fast[1].tobytes()
        assert_identical(parallel.grad_batch(tape, xs, pool, precision="default"), default)
    dxs = da.from_array(xs, chunks=(3_000, 4))
    values, grads = parallel.grad_batch(tape, dxs, precision="fast")
    assert_identical(dask.compute(values, grads, scheduler="threads"), fast)
    # A fast block and a default block of the same rows are different graph keys.
    assert values.name != parallel.grad_batch(tape, dxs)[0].name


def test_an_unknown_precision_is_refused_before_any_share_is_sent(problem):
    tape, xs, _ = problem
    with CountingPool() as pool:
        for bad, error in (("exact", ValueError), (None, TypeError), (1, TypeError)):
            for method in (parallel.grad_batch, parallel.eval_batch, parallel.jacobian_batch):
                with pytest.raises(error, match="precision"):
                    method(tape, xs, pool, precision=bad)
    assert pool.submitted == 0
    with pytest.raises(ValueError, match="precision"):
        parallel.grad_batch(tape, da.from_array(xs, chunks=(3_000, 4)), precision="fastest")


def test_something_that_cannot_run_work_is_refused(problem):
    tape, xs, _ = problem
    for not_an_executor in ("pool", None, 2):
        with pytest.raises(TypeError, match="concurrent.futures.Executor"):
            parallel.grad_batch(tape, xs, not_an_executor)
        with pytest.raises(TypeError, match="concurrent.futures.Executor"):
            parallel.eval_batch(tape, xs, not_an_executor)


def test_the_dask_example_runs_and_agrees_with_one_process():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "scale_out.py"
    done = subprocess.run(
        [sys.executable, str(example), "--dask", "--points", "30000"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "30,000 gradients on the cluster; samples identical to one process: True" in done.stdout
    assert "client peak memory:" in done.stdout
