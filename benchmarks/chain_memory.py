"""Memory per node of a deep chain, y = tanh(tanh(... x)), on each engine.

Each run is a fresh subprocess that builds the chain, sweeps it and frees it, reading its
resident memory from /proc (Linux) at each stage; the table gives bytes per node. With
``--no-grad`` each engine runs a second time with the chain built inside ``ferrograd.no_grad()``,
where every op's result is a leaf and the chain keeps nothing behind its last value.

    python benchmarks/chain_memory.py                      # both engines, 1e6 nodes
    python benchmarks/chain_memory.py --engines rust --depth 10000000
    python benchmarks/chain_memory.py --no-grad            # what no_grad saves per op
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)

import contextlib
import ferrograd

engine, depth, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if engine == "rust":
    from ferrograd import Value
else:
    from ferrograd.reference import Value

base = status("VmRSS")
t0 = time.perf_counter()
x = Value(0.5)
y = x
with ferrograd.no_grad() if mode == "no_grad" else contextlib.nullcontext():
    for _ in range(depth):
        y = y.tanh()
t1 = time.perf_counter()
built = status("VmRSS")
y.backward()
t2 = time.perf_counter()
peak = status("VmHWM")
del y
t3 = time.perf_counter()
dropped = status("VmRSS")
print(json.dumps({"base": base, "built": built, "peak": peak, "dropped": dropped,
                  "build_s": t1 - t0, "backward_s": t2 - t1, "drop_s": t3 - t2,
                  "grad": x.grad}))
"""


def measure(engine: str, depth: int, mode: str = "grad") -> dict[str, float]:
    """One chain of ``depth`` nodes on ``engine`` in a fresh interpreter; ``mode`` "no_grad"
    builds it inside ``ferrograd.no_grad()``."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, engine, str(depth), mode],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{engine} at depth {depth} exited {done.returncode}: {done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    """Prints one row per engine: bytes per node after building and at the sweep's peak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=1_000_000)
    parser.add_argument("--engines", nargs="+", default=["rust", "reference"])
    parser.add_argument(
        "--no-grad", action="store_true", help="also build each chain inside ferrograd.no_grad()"
    )
    args = parser.parse_args()
    modes = ["grad", "no_grad"] if args.no_grad else ["grad"]
    print(f"chain of {args.depth:,} tanh nodes")
    print(
        f"{'engine':<18} {'built B/node':>13} {'peak B/node':>12} {'left after drop':>16} "
        f"{'build s':>8} {'backward s':>11} {'drop s':>7}"
    )
    for engine in args.engines:
        for mode in modes:
            r = measure(engine, args.depth, mode)
            built = (r["built"] - r["base"]) / args.depth
            peak = (r["peak"] - r["base"]) / args.depth
            left = (r["dropped"] - r["base"]) / 2**20
            name = engine if mode == "grad" else f"{engine} no_grad"
            print(
                f"{name:<18} {built:>13.0f} {peak:>12.0f} {left:>13.1f} MB "
                f"{r['build_s']:>8.2f} {r['backward_s']:>11.2f} {r['drop_s']:>7.2f}"
            )


if __name__ == "__main__":
    main()
