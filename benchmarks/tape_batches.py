"""W4 and W5 on batches: ferrograd's tape against JAX and CasADi, on one thread and on all cores.

    python benchmarks/tape_batches.py [--sizes 10000,1000000] [--repeats 3] [--workloads w4,w5]

W4 is the rational 10-input function of ``w4_tape.py``; W5 a transcendental-heavy one of 10
inputs (log, sin, tanh and exp of every input). For each workload and batch size, every engine
computes the value and the gradient at every row:

- ferrograd: ``tape.grad_batch(xs, threads=...)`` (numpy in, numpy out), in the default
  precision and, when this build has it, ``precision="fast"``;
- JAX: ``jax.jit(jax.vmap(jax.value_and_grad(f)))`` with x64, numpy in and numpy out, after a
  warm-up call that compiles;
- CasADi: the SX graph of ``f`` turned into a ``Function`` returning ``[f, gradient(f, x)]``,
  mapped over the batch with ``Function.map`` ("serial" on one thread, "thread" on all cores).

Each thread setting runs in its own child interpreter, because XLA reads its thread flags once at
start-up. One thread: the child is pinned to one core (``os.sched_setaffinity``) and XLA is
told to keep its Eigen pool to one thread (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1``); all cores: no pinning, no flags. Next to each wall time the
child records the process CPU time over the same calls: CPU / wall ≈ 1 shows an engine really ran
on one core, ≈ the core count that it used them all.

Each of the repeats times enough back-to-back calls to last 50 ms (one call at 1,000,000 points).
Each setting runs in ``--processes`` child interpreters in turn, and a row's time is the median
over them of each one's median: on this kind of machine one process runs a batch steadily
faster or slower than another (by up to a fifth at 10,000 points, from where its memory lands
in the caches), so one process's figure is a draw, and the median process is the typical one.
Prints ns per point, CPU/wall, the ratio rows (JAX time / ferrograd time: above 1 means
ferrograd is faster), and writes benchmarks/results_tape_batches.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

N_INPUTS = 10
HERE = Path(__file__).resolve().parent
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def w4(*x: Any) -> Any:
    """Σ_i (x_i·x_{i+1} − ½)² + x_i / (1 + x_i²), plus relu(Σ_i (i+1)/10 · x_i), cyclic in i."""
    n = len(x)
    total, mix = 0.0, 0.0
    for i in range(n):
        total = total + (x[i] * x[(i + 1) % n] - 0.5) ** 2 + x[i] / (1 + x[i] ** 2)
        mix = mix + (i + 1) / n * x[i]
    return total + mix.relu()


def w5(*x: Any) -> Any:
    """Σ_i log(1 + x_i²) + sin(x_i)·tanh(x_{i+1}) + exp(−x_i²/2), cyclic in i."""
    n = len(x)
    total = 0.0
    for i in range(n):
        sq = x[i] * x[i]
        total = total + (1 + sq).log() + x[i].sin() * x[(i + 1) % n].tanh() + (-0.5 * sq).exp()
    return total


def w4_array(x: Any, np_: Any) -> Any:
    """W4 on one point (a vector of 10), for JAX."""
    nxt = np_.roll(x, -1)
    weights = np_.arange(1, N_INPUTS + 1) / N_INPUTS
    terms = (x * nxt - 0.5) ** 2 + x / (1 + x**2)
    return np_.sum(terms) + np_.maximum(np_.sum(weights * x), 0.0)


def w5_array(x: Any, np_: Any) -> Any:
    """W5 on one point, for JAX."""
    sq = x * x
    terms = np_.log(1 + sq) + np_.sin(x) * np_.tanh(np_.roll(x, -1)) + np_.exp(-0.5 * sq)
    return np_.sum(terms)


def casadi_function(name: str) -> Any:
    """CasADi ``Function`` x ↦ [f(x), ∇f(x)] built from an SX graph."""
    import casadi

    x = casadi.SX.sym("x", N_INPUTS)
    xs = [x[i] for i in range(N_INPUTS)]
    if name == "w4":
        n = N_INPUTS
        total, mix = 0, 0
        for i in range(n):
            total = total + (xs[i] * xs[(i + 1) % n] - 0.5) ** 2 + xs[i] / (1 + xs[i] ** 2)
            mix = mix + (i + 1) / n * xs[i]
        f = total + casadi.fmax(mix, 0)
    else:
        f = 0
        for i in range(N_INPUTS):
            sq = xs[i] * xs[i]
            nxt = xs[(i + 1) % N_INPUTS]
            f = (
                f
                + casadi.log(1 + sq)
                + casadi.sin(xs[i]) * casadi.tanh(nxt)
                + casadi.exp(-0.5 * sq)
            )
    return casadi.Function(name, [x], [f, casadi.gradient(f, x)])


WORKLOADS = {"w4": (w4, w4_array), "w5": (w5, w5_array)}
Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def engines(workload: str, m: int, threads: int) -> dict[str, Runner]:
    """name → a function from a batch (m × 10) to its values (m,) and gradients (m × 10)."""
    import ferrograd

    f, f_array = WORKLOADS[workload]
    tape = ferrograd.compile(f, N_INPUTS)
    out: dict[str, Runner] = {
        "ferrograd grad_batch": lambda xs: tape.grad_batch(xs, threads=threads),
    }
    try:
        tape.grad_batch(np.ones((1, N_INPUTS)), precision="fast")
        out["ferrograd grad_batch fast"] = lambda xs: tape.grad_batch(
            xs, threads=threads, precision="fast"
        )
    except TypeError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        jitted = jax.jit(jax.vmap(jax.value_and_grad(lambda x: f_array(x, jnp))))

        def run_jax(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            values, grads = jitted(xs)
            return np.asarray(values), np.asarray(grads)

        out["JAX jit(vmap(value_and_grad))"] = run_jax
    except ImportError:
        pass
    try:
        import casadi  # noqa: F401

        one = casadi_function(workload)
        mapped = one.map(m, "serial") if threads == 1 else one.map(m, "thread", threads)

        def run_casadi(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            values, grads = mapped(xs.T)
            return np.asarray(values).ravel(), np.asarray(grads).T

        kind = "serial" if threads == 1 else f"thread×{threads}"
        out[f"CasADi map ({kind})"] = run_casadi
    except ImportError:
        pass
    return out


def points(m: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((m, N_INPUTS))


#: The least time one sample (of the ``repeats``) spends calling an engine.
SAMPLE_S = 0.05


def measure(workloads: list[str], sizes: list[int], repeats: int, threads: int) -> dict[str, Any]:
    """Times every engine in this process; returns {workload: {size: {engine: row}}}."""
    import ferrograd

    out: dict[str, Any] = {}
    for workload in workloads:
        out[workload] = {}
        for m in sizes:
            xs = points(m)
            reference = ferrograd.compile(WORKLOADS[workload][0], N_INPUTS).grad_batch(xs)
            rows: dict[str, Any] = {}
            for name, run in engines(workload, m, threads).items():
                values, grads = run(xs)  # the warm-up (JAX compiles here)
                warm = time.perf_counter()
                run(xs)
                # Each sample is enough back-to-back calls to last SAMPLE_S, so a small batch's
                # sample is not one call's worth of timer and scheduler noise.
                calls = max(1, round(SAMPLE_S / max(time.perf_counter() - warm, 1e-9)))
                err = max(
                    float(np.max(np.abs(values - reference[0]) / (1 + np.abs(reference[0])))),
                    float(np.max(np.abs(grads - reference[1]) / (1 + np.abs(reference[1])))),
                )
                if not err <= 1e-12:
                    raise AssertionError(f"{workload} {name} disagrees with the tape: {err:.3g}")
                walls, cpus = [], []
                for _ in range(repeats):
                    wall, cpu = time.perf_counter(), time.process_time()
                    for _ in range(calls):
                        run(xs)
                    walls.append((time.perf_counter() - wall) / calls)
                    cpus.append((time.process_time() - cpu) / calls)
                wall_median = statistics.median(walls)
                rows[name] = {
                    "ns_per_point": wall_median / m * 1e9,
                    "calls_per_sample": calls,
                    "cpu_per_wall": sum(cpus) / sum(walls),
                    "max_rel_error_vs_default": err,
                }
            out[workload][str(m)] = rows
    return out


SETTINGS = {
    "one thread": {"threads": 1, "pin": True},
    "all cores": {"threads": os.cpu_count() or 1, "pin": False},
}


def child(args: argparse.Namespace) -> None:
    setting = SETTINGS[args.setting]
    if setting["pin"]:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result = measure(args.workloads, args.sizes, args.repeats, int(setting["threads"]))
    print(json.dumps(result))


def spawn(setting: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if SETTINGS[setting]["pin"]:
        env["XLA_FLAGS"] = ONE_THREAD_XLA
    command = [sys.executable, str(Path(__file__).resolve()), "--child", setting]
    command += ["--sizes", ",".join(map(str, args.sizes)), "--repeats", str(args.repeats)]
    command += ["--workloads", ",".join(args.workloads)]
    print(f"  {setting} ...", file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {setting} run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One setting's rows from several processes' (``measure``'s shape): each row's time and
    CPU/wall the median over the processes, its error the largest; each process's time kept in
    ``ns_per_point_by_process``."""
    out: dict[str, Any] = {}
    for workload, sizes in runs[0].items():
        out[workload] = {}
        for m, rows in sizes.items():
            out[workload][m] = {}
            for name, row in rows.items():
                each = [run[workload][m][name] for run in runs]
                out[workload][m][name] = {
                    **row,
                    "ns_per_point": statistics.median(r["ns_per_point"] for r in each),
                    "cpu_per_wall": statistics.median(r["cpu_per_wall"] for r in each),
                    "max_rel_error_vs_default": max(r["max_rel_error_vs_default"] for r in each),
                    "ns_per_point_by_process": [r["ns_per_point"] for r in each],
                }
    return out


def collect(args: argparse.Namespace, settings: list[str]) -> dict[str, Any]:
    """Every setting's measurements (``args``: sizes, repeats, workloads, processes), with how
    the threads were set."""
    processes = max(1, getattr(args, "processes", 1))
    return {
        "sizes": args.sizes,
        "repeats": args.repeats,
        "processes": processes,
        "cores": len(os.sched_getaffinity(0)),
        "xla_flags_one_thread": ONE_THREAD_XLA,
        "casadi": "Function.map(m, 'serial') on one thread; Function.map(m, 'thread', cores)",
        "settings": {s: combine([spawn(s, args) for _ in range(processes)]) for s in settings},
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "Value and gradient of a 10-input function per row of a batch: ns per point "
        + f"(median of {result['repeats']}), CPU/wall",
        "W4: rational (no transcendental functions); W5: log, sin, tanh, exp of every input",
    ]
    ratios = []
    for setting, by_workload in result["settings"].items():
        for workload, by_size in by_workload.items():
            for size, rows in by_size.items():
                lines.append(f"{workload.upper()} {int(size):>9,} points, {setting}:")
                for name, row in rows.items():
                    lines.append(
                        f"    {name:<36} {row['ns_per_point']:>9.1f} ns  "
                        f"CPU/wall {row['cpu_per_wall']:.2f}"
                    )
                for name in ("ferrograd grad_batch", "ferrograd grad_batch fast"):
                    ours = rows.get(name)
                    if ours is None:
                        continue
                    for peer in rows:
                        if peer.startswith(("JAX", "CasADi")):
                            ratio = rows[peer]["ns_per_point"] / ours["ns_per_point"]
                            ratios.append(
                                f"{workload.upper()} {int(size):>9,} {setting:<10} "
                                f"{peer:<30} / {name:<26} {ratio:6.2f}×"
                            )
    lines.append("Ratios (peer time / ferrograd time; > 1: ferrograd is faster):")
    lines.extend("    " + r for r in ratios)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[10_000, 1_000_000]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="child interpreters a setting")
    parser.add_argument("--workloads", type=lambda s: s.split(","), default=["w4", "w5"])
    parser.add_argument("--settings", type=lambda s: s.split(","), default=list(SETTINGS))
    parser.add_argument("--child", choices=list(SETTINGS), dest="setting")
    parser.add_argument("--out", default=str(HERE / "results_tape_batches.json"))
    args = parser.parse_args()
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown --settings {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown --workloads {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    if args.setting:
        child(args)
        return
    result = collect(args, args.settings)
    print(table(result))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
