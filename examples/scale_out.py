"""Spread a tape's gradients over worker processes, then over a Dask cluster.

    python examples/scale_out.py            # ProcessPoolExecutor
    python examples/scale_out.py --dask     # dask.distributed LocalCluster (pip install ".[dask]")

Both give bit for bit the numbers of ``tape.grad_batch(xs)`` in one process.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import ferrograd
from ferrograd import parallel


def f(x, y):
    """The function whose gradients the workers compute (only its tape travels)."""
    return (x * y).sin() + x**2 / (1 + y**2)


def main() -> None:
    tape = ferrograd.compile(f, n_inputs=2)
    xs = np.random.default_rng(0).standard_normal((1_000_000, 2))
    if "--dask" in sys.argv:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1")
        with cluster, Client(cluster) as client:
            values, grads = parallel.grad_batch(tape, xs, client.get_executor())
    else:
        with ProcessPoolExecutor(max_workers=2) as pool:
            values, grads = parallel.grad_batch(tape, xs, pool)
    same = grads.tobytes() == tape.grad_batch(xs)[1].tobytes()
    print(f"{len(values):,} gradients; identical to one process: {same}")


if __name__ == "__main__":
    main()
