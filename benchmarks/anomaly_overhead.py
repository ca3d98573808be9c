"""What anomaly mode costs: off (the default) against no check at all, and on.

    python benchmarks/anomaly_overhead.py [--control-python PATH]

Workload: a chain of ``y = (y * w + b).tanh()`` steps (four nodes each, constants included),
built and swept by ``backward()``; time per node, best of several interleaved rounds.

- reference engine: "off" is the shipped code; "no check" swaps in node-making and sweep
  functions with the anomaly test removed (copies of the shipped ones otherwise); "on" is inside
  ``ferrograd.detect_anomaly()``.
- Rust engine: "off" and "on" as above. The check lives in compiled code, so "no check" needs a
  second build of the extension with it removed: pass that build's interpreter as
  ``--control-python``; the two interpreters then run alternately in this one run.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
from typing import Any

import ferrograd
from ferrograd import reference

STEPS = 2_000
ROUNDS = 15


def build(value: type) -> Any:
    """The measured graph: a chain of ``STEPS`` links ``tanh(y * w + b)``."""
    x = value(0.3, "x")
    w, b = value(0.9, "w"), value(0.05, "b")
    y = x
    for _ in range(STEPS):
        y = (y * w + b).tanh()
    return y


def workload(value: type) -> None:
    build(value).backward()


def nodes_per_run(value: type) -> int:
    y = build(value)
    seen, stack = {y}, [y]
    while stack:
        for c in stack.pop().children:
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return len(seen)


def best_time(run, rounds: int = ROUNDS) -> float:
    best = math.inf
    for _ in range(rounds):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return best


# The reference engine without the anomaly test: the shipped functions minus two lines.
def _node_unchecked(cls, op, data, children, param=0.0):
    v = cls.__new__(cls)
    v._data, v._grad, v._label = data, 0.0, ""
    v._op, v._children, v._param = op, children, param
    return v


def _backward_unchecked(self) -> None:
    order = self._topo_order()
    saved = [v._grad for v in order]
    for v in order:
        v._grad = 0.0
    self._grad = 1.0
    for v, s in zip(reversed(order), reversed(saved)):
        v._propagate()
        v._grad += s


def reference_times() -> dict[str, float]:
    shipped = (reference.Value.__dict__["_node"], reference.Value.backward)
    modes = {"no check": math.inf, "off": math.inf, "on": math.inf}
    for _ in range(ROUNDS):
        reference.Value._node = classmethod(_node_unchecked)
        reference.Value.backward = _backward_unchecked
        modes["no check"] = min(modes["no check"], best_time(lambda: workload(reference.Value), 1))
        reference.Value._node, reference.Value.backward = shipped
        modes["off"] = min(modes["off"], best_time(lambda: workload(reference.Value), 1))
        with ferrograd.detect_anomaly():
            modes["on"] = min(modes["on"], best_time(lambda: workload(reference.Value), 1))
    return modes


def rust_times(rounds: int = ROUNDS) -> dict[str, float]:
    modes = {"off": math.inf, "on": math.inf}
    for _ in range(rounds):
        modes["off"] = min(modes["off"], best_time(lambda: workload(ferrograd.Value), 1))
        with ferrograd.detect_anomaly():
            modes["on"] = min(modes["on"], best_time(lambda: workload(ferrograd.Value), 1))
    return modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control-python", help="interpreter of a build without the check")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(rust_times(rounds=3)))
        return

    n = nodes_per_run(ferrograd.Value)
    assert n == nodes_per_run(reference.Value)
    rows = []
    ref = reference_times()
    for mode in ("no check", "off", "on"):
        rows.append(("reference", mode, ref[mode], ref[mode] / ref["no check"]))

    rust = {"off": math.inf, "on": math.inf, "no check": math.inf}
    control = args.control_python
    for _ in range(5):  # alternate the two builds so drift hits both
        for key, value in rust_times(rounds=3).items():
            rust[key] = min(rust[key], value)
        if control:
            out = subprocess.run(
                [control, __file__, "--worker"], capture_output=True, text=True, check=True
            )
            rust["no check"] = min(rust["no check"], json.loads(out.stdout)["off"])
    base = rust["no check"] if control else rust["off"]
    for mode in ("no check", "off", "on"):
        if mode == "no check" and not control:
            continue
        rows.append(("rust", mode, rust[mode], rust[mode] / base))

    print(f"{n} nodes per run (build + backward), best of {ROUNDS} rounds")
    print(f"{'engine':<10} {'anomaly mode':<13} {'ns/node':>9} {'ratio':>7}")
    for engine, mode, seconds, ratio in rows:
        print(f"{engine:<10} {mode:<13} {seconds / n * 1e9:>9.1f} {ratio:>7.3f}")
    if not control:
        print(
            "(rust ratios are against 'off'; pass --control-python for a build without the check)"
        )


if __name__ == "__main__":
    main()
