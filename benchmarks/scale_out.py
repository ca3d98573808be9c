"""Scale-out: W4's gradients (10 inputs) on a Dask LocalCluster against one process.

    python benchmarks/scale_out.py [--points 1000000 10000000] [--clusters 1x1 2x1]
                                   [--rows-per-block 250000] [--repeats 3] [--sweep]

For each number of points: ``Tape.grad_batch`` in one process (1 thread, then every core), and
``parallel.grad_batch`` on a dask array whose points are generated on the workers, for each
cluster ``WxT`` (W worker processes of T threads). The dask figure times building the lazy
result and computing it into worker memory (``persist``, then ``wait``): no result comes back to
the client, which is the point of keeping data on the cluster. Each figure is the best of the
repeats (the machine is shared: the best run is the one least slowed by others). "client peak" is the peak resident memory of the process that holds the Client (and,
on a LocalCluster, the scheduler), each configuration in a fresh process; for one process it is
that process's peak, points and results included. ``--sweep`` also times the largest run on
the largest cluster with blocks of 10^4, 10^5 and 10^6 rows, to show the cost per block.
Every run checks a sample of rows against one process, bit for bit.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import ferrograd
from ferrograd import parallel

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from w4_tape import N_INPUTS, w4


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def one_process(m: int, repeats: int) -> dict[str, Any]:
    tape = ferrograd.compile(w4, N_INPUTS)
    xs = np.random.default_rng(0).standard_normal((m, N_INPUTS))
    out: dict[str, Any] = {}
    for threads in (1, None):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            tape.grad_batch(xs, threads=threads)
            times.append(time.perf_counter() - start)
        out[f"threads={threads}"] = m / min(times)
    out["peak_mib"] = _peak_mib()
    return out


def _ferrograd_keys(dask_scheduler: Any) -> int:
    return sum("ferrograd-" in str(key) for key in dask_scheduler.tasks)


def on_cluster(m: int, workers: int, threads: int, rows: int, repeats: int) -> dict[str, Any]:
    import dask.array as da
    import distributed

    tape = ferrograd.compile(w4, N_INPUTS)
    with (
        distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        started_mib = _peak_mib()
        # The points are made on the workers and stay there; timing starts once they exist.
        (xs,) = client.persist(
            [da.random.default_rng(0).standard_normal((m, N_INPUTS), chunks=(rows, -1))]
        )
        distributed.wait(xs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            values, grads = client.persist(list(parallel.grad_batch(tape, xs)))
            distributed.wait([values, grads])
            times.append(time.perf_counter() - start)
            sample = slice(m - 1_000, m)
            expected = tape.grad_batch(xs[sample].compute(), threads=1)
            assert grads[sample].compute().tobytes() == expected[1].tobytes()
            assert values[sample].compute().tobytes() == expected[0].tobytes()
            del values, grads
            while client.run_on_scheduler(_ferrograd_keys):  # forgotten before the next run
                time.sleep(0.05)
    return {
        "points_per_s": m / min(times),
        "peak_mib": _peak_mib(),
        "started_mib": started_mib,
        "blocks": -(-m // rows),
    }


def _child(args: list[str]) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter, so its peak memory is its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(args)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--clusters", nargs="+", default=["1x1", "2x1"])
    parser.add_argument("--rows-per-block", type=int, default=250_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        result = one_process(*rest) if kind == "one" else on_cluster(*rest)
        print(json.dumps(result))
        return

    header = (
        f"{'points':>12}  {'run':<34}  {'points/s':>12}  {'vs 1 thread':>11}  {'client peak':>11}"
    )
    print(
        f"W4, 10 inputs, value and gradient; blocks of {args.rows_per_block:,} rows on the cluster"
    )
    print(header)
    print("-" * len(header))
    for m in args.points:
        one = _child(["one", m, args.repeats])
        base = one["threads=1"]
        rows = [
            ("one process, 1 thread", base, one["peak_mib"]),
            ("one process, every core", one["threads=None"], one["peak_mib"]),
        ]
        for spec in args.clusters:
            workers, threads = (int(part) for part in spec.split("x"))
            got = _child(["dask", m, workers, threads, args.rows_per_block, args.repeats])
            name = f"dask, {workers} worker{'s' * (workers > 1)} x {threads} thread{'s' * (threads > 1)}"
            rows.append((name, got["points_per_s"], got["peak_mib"]))
        for name, rate, peak in rows:
            print(f"{m:>12,}  {name:<34}  {rate:>12,.0f}  {rate / base:>10.2f}x  {peak:>7,.0f} MiB")
    if args.sweep:
        m = max(args.points)
        workers, threads = (int(part) for part in args.clusters[-1].split("x"))
        print(f"\nrows per block, {m:,} points, {workers}x{threads} cluster")
        for rows_per_block in (10_000, 100_000, 1_000_000):
            got = _child(["dask", m, workers, threads, rows_per_block, args.repeats])
            print(
                f"{rows_per_block:>12,}  {got['blocks']:>6,} blocks  {got['points_per_s']:>12,.0f} points/s"
            )


if __name__ == "__main__":
    main()
