"""Spread a tape's gradients over worker processes, then over a Dask cluster.

    python examples/scale_out.py                # ProcessPoolExecutor, points in this process
    python examples/scale_out.py --dask         # dask.distributed LocalCluster (pip install ".[dask]")
    python examples/scale_out.py --dask --points 20000000

With ``--dask`` the points are a dask array generated on the workers, the gradients come back as
a dask array kept on the workers, and only a sample travels to this process, to be checked
against ``tape.grad_batch`` here. Either way the numbers are bit for bit those of one process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import ferrograd
from ferrograd import parallel


def f(x, y):
    """The function whose gradients the workers compute (only its tape travels)."""
    return (x * y).sin() + x**2 / (1 + y**2)


def peak_mib() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def with_processes(tape: ferrograd.Tape, m: int) -> None:
    xs = np.random.default_rng(0).standard_normal((m, 2))
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: no thread of ours is forked
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        values, grads = parallel.grad_batch(tape, xs, pool)
    same = grads.tobytes() == tape.grad_batch(xs)[1].tobytes()
    print(f"{len(values):,} gradients; identical to one process: {same}")


def with_dask(tape: ferrograd.Tape, m: int) -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        # Made on the workers, block by block: the points never exist in this process.
        xs = da.random.default_rng(0).standard_normal((m, 2), chunks=(1_000_000, -1))
        values, grads = parallel.grad_batch(tape, xs)  # lazy dask arrays, same row blocks
        values, grads = client.persist([values, grads])  # computed, kept on the workers
        print(f"gradients: {grads!r}")
        # Two windows of 1,000 rows, the first block's start and the last block's end.
        same = True
        for rows in (slice(0, 1_000), slice(m - 1_000, m)):
            sample_values, sample_grads = tape.grad_batch(xs[rows].compute())  # one process
            same &= values[rows].compute().tobytes() == sample_values.tobytes()
            same &= grads[rows].compute().tobytes() == sample_grads.tobytes()
        total = float(grads.sum().compute())  # reductions run on the workers too
    size_mib = m * (2 + 1 + 2) * 8 / 2**20  # points, values and gradients as float64
    print(f"{m:,} gradients on the cluster; samples identical to one process: {same}")
    print(f"sum of all gradients: {total:.6g}")
    print(f"client peak memory: {peak_mib():,.0f} MiB (points and results: {size_mib:,.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dask", action="store_true", help="run on a Dask LocalCluster")
    parser.add_argument("--points", type=int, default=None, help="how many points")
    args = parser.parse_args()
    tape = ferrograd.compile(f, n_inputs=2)
    if args.dask:
        with_dask(tape, args.points or 10_000_000)
    else:
        with_processes(tape, args.points or 1_000_000)


if __name__ == "__main__":
    main()
