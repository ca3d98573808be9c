"""ferrograd against its peers, side by side in one run: ``python benchmarks/run.py [--quick]``.

Workloads (see workloads.py):
  W1  a seeded random graph of op nodes: ns per node to build, and to back-propagate; three op
      mixes: micrograd's ops, + tanh and exp, and tanh and exp without relu
  W2  a training step of MLP(2, [16, 16, 1]) on 100 moons points: ms per step
  W3  a chain x = tanh(0.9 x + 0.1), depth counted in op nodes, each depth in a fresh process:
      ns per node and peak bytes per node, or how the engine failed (a crash is named by its
      signal)
  W4  a 10-input function with its gradient at many points: us per point
  W4/W5 on batches (tape_batches.py): the compiled tape's grad_batch against JAX's
      jit(vmap(value_and_grad)) and CasADi's Function.map, 10,000 and 1,000,000 points, on one
      thread and on all cores, each setting in child interpreters of its own (the median of three,
      as W1)
Every figure is the median of at least five repetitions; "vs micrograd" is micrograd's time
divided by the engine's (above 1 is faster). "agrees" compares an engine's results (W1 root and
leaf grads, W2 loss at step 1, W4 grads) with the first engine's, to 1e-9 relative. An engine
that lacks an op a workload needs is listed with the reason instead of a time.
Results also go to benchmarks/results.json (--out); the tables are printed by report.py, which
renders any results file. The pure-Rust rows come from
``cargo run --release --example bench_core`` (benchmarks/core.rs).

The README's table and the documentation's chart come from one full run, published with
  python benchmarks/run.py --publish
which writes docs/data/benchmark-results.json and, from it, the README's table (between its
markers) and docs/images/benchmark_ratios.png; nothing there is edited by hand.

The peers are optional; each one not installed is reported as not measured:
  pip install micrograd==0.1.0 autograd jax casadi   (or: pip install -e ".[bench]")
  pip install micrograd-rust oxigrad torch           (Rust-backed micrograd ports, PyTorch)
micrograd-rust and oxigrad publish no Linux wheels: there pip builds them from their source
distributions, which needs a Rust toolchain (as building ferrograd does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report
import workloads as wl
from engines import (
    GraphEngine,
    Missing,
    autograd_available,
    graph_engines,
    missing_ops,
    versions,
)

MICROGRAD = "micrograd"
AUTOGRAD = "autograd"


def config(quick: bool) -> dict[str, Any]:
    """Sizes for a full run, or for a quick one (a few minutes in all)."""
    if quick:
        return {
            "repeats": 5,
            "w1_nodes": 20_000,
            "w1_leaves": 200,
            "w1_processes": 1,
            "w2_steps": 5,
            "w3_depths": [1_000, 10_000, 100_000, 1_000_000],
            "w3_time_budget_s": 15.0,
            "w4_points": 1_000,
            "batch_sizes": [10_000, 100_000],
            "batch_repeats": 3,
            "batch_processes": 1,
        }
    return {
        "repeats": 5,
        "w1_nodes": 100_000,
        "w1_leaves": 1_000,
        "w1_processes": 3,
        "w2_steps": 5,
        "w3_depths": [1_000, 10_000, 100_000, 1_000_000, 10_000_000],
        "w3_time_budget_s": 300.0,
        "w4_points": 10_000,
        "batch_sizes": [10_000, 1_000_000],
        "batch_repeats": 5,
        "batch_processes": 3,
    }


def agree(a: list[float], b: list[float], tol: float = 1e-9) -> bool:
    return len(a) == len(b) and all(
        abs(x - y) <= tol * max(1.0, abs(x), abs(y)) for x, y in zip(a, b)
    )


#: W1's op mixes: (key in results.json, ops, table label).
W1_VARIANTS = (
    ("basic", wl.W1_OPS, "add sub mul pow relu"),
    ("tanh_exp", wl.W1_OPS_TRANSCENDENTAL, "+ tanh exp"),
    ("smooth", wl.W1_OPS_SMOOTH, "add sub mul pow tanh exp, no relu"),
)


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------


def run_w1(engines: list[GraphEngine], cfg: dict[str, Any], autograd_ok: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant, ops, _ in W1_VARIANTS:
        leaves, program, root = wl.random_graph(cfg["w1_nodes"], ops, cfg["w1_leaves"])
        n = len(program)
        rows: dict[str, Any] = {}
        runners: list[tuple[str, Any]] = []
        for e in engines:
            why = missing_ops(e, ops) or e.limits.get("w1")
            if why:
                rows[e.name] = {"skipped": why}
                continue
            runners.append((e.name, lambda e=e, lv=leaves, pr=program: wl.w1_graph(e, lv, pr)))
        by_name = {e.name: e for e in engines}
        if autograd_ok:
            runners.append((AUTOGRAD, lambda lv=leaves, pr=program: wl.w1_autograd(lv, pr)))
        check: list[float] | None = None
        for name, once in runners:
            print(f"  W1 {variant}: {name} ...", file=sys.stderr, flush=True)
            builds, backs = [], []
            for _ in range(cfg["repeats"]):
                b, k, (value, grads) = once()
                builds.append(b)
                backs.append(k)
            if check is None:
                check = grads
            rows[name] = {
                "build_ns_per_node": statistics.median(builds) / n * 1e9,
                "backward_ns_per_node": statistics.median(backs) / n * 1e9,
                "total_ns_per_node": statistics.median(b + k for b, k in zip(builds, backs))
                / n
                * 1e9,
                "root": value,
                "root_matches": abs(value - root) <= 1e-9 * max(1.0, abs(root)),
                "grads_match_first_engine": agree(check, grads),
            }
            if name in by_name and not (
                rows[name]["root_matches"] and rows[name]["grads_match_first_engine"]
            ):
                rows[name]["why"] = wl.w1_first_wrong_value(by_name[name], leaves, program)
        out[variant] = {"nodes": n, "ops": list(ops), "root": root, "engines": rows}
    return out


def run_w1_processes(cfg: dict[str, Any], quick: bool) -> dict[str, Any]:
    """``run_w1`` in ``cfg["w1_processes"]`` child interpreters one after another; each row's
    times are the median of the processes' medians (each process's total kept in
    ``total_ns_by_process``), its checks all the processes'. One process builds and sweeps
    W1's graph steadily faster or slower than another (the Rust engine's build: 174 to 226 ns
    per node over six processes), so one process is a draw."""
    runs = []
    for _ in range(cfg["w1_processes"]):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--w1-child"]
        done = subprocess.run(
            cmd + (["--quick"] if quick else []), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"the W1 run failed:\n{done.stderr}")
        sys.stderr.write(done.stderr)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = runs[0]
    times = ("build_ns_per_node", "backward_ns_per_node", "total_ns_per_node")
    checks = ("root_matches", "grads_match_first_engine")
    for variant, result in out.items():
        for name, row in result["engines"].items():
            if "skipped" in row:
                continue
            each = [dict(run[variant]["engines"][name]) for run in runs]
            for key in times:
                row[key] = statistics.median(r[key] for r in each)
            for key in checks:
                row[key] = all(r[key] for r in each)
            row["total_ns_by_process"] = [r["total_ns_per_node"] for r in each]
            whys = [r["why"] for r in each if "why" in r]
            if whys:
                row["why"] = whys[0]
        result["processes"] = len(runs)
    return out


def w1_child(quick: bool) -> None:
    """One process's W1 (``run_w1``), printed as JSON: the parent's ``run_w1_processes``."""
    cfg = config(quick)
    loaded = graph_engines()
    engines = [e for e in loaded if isinstance(e, GraphEngine)]
    print(json.dumps(run_w1(engines, cfg, autograd_available() is None)))


#: How long each sample of W2's loop rows runs: consecutive steps for about this many seconds.
LOOP_SAMPLE_S = 0.01


def loop_run(step_s: float) -> int:
    """Steps per sample of a loop row whose step takes about ``step_s`` seconds."""
    return max(1, math.ceil(LOOP_SAMPLE_S / max(step_s, 1e-9)))


def run_w2(engines: list[GraphEngine], cfg: dict[str, Any], autograd_ok: bool) -> dict[str, Any]:
    x, y = wl.moons()
    xs, ys = x.tolist(), y.tolist()
    rows: dict[str, Any] = {}
    check: float | None = None
    for e in engines:
        why = e.limits.get("w2") or (missing_ops(e, ("relu",)) if e.mlp is None else None)
        if why:
            rows[e.name] = {"skipped": why}
            continue
        print(f"  W2: {e.name} ...", file=sys.stderr, flush=True)
        model = wl.make_model(e, seed=1337)
        times, losses = [], []
        for _ in range(cfg["w2_steps"]):
            t, loss = wl.w2_step(e, model, xs, ys)
            times.append(t)
            losses.append(loss)
        check = losses[0] if check is None else check
        rows[e.name] = {
            "ms_per_step": statistics.median(times) * 1e3,
            "first_loss": losses[0],
            "loss_matches_first_engine": agree([check], [losses[0]]),
            "model": "own MLP" if e.mlp is not None else "MLP of its Values",
            "fused_ops": e.dot is not None,
        }
    # Through the tape: the loss compiled once, then one call into Rust per step (the rows in
    # lanes, summed in Rust; or the whole-dataset tape). Its steps take tens of microseconds, and
    # a collection before each evicts the caches such a step lives in: these rows (and
    # autograd's, for the same footing) time runs of consecutive steps, as a training loop runs
    # them ("loop"), each run about LOOP_SAMPLE_S long whatever the step costs, so that the cold
    # start after each run's collection weighs the same in every such row; and, apart, single
    # steps right after a collection ("cold", the graph rows' protocol).
    for method, name in (("examples", "ferrograd tape"), ("dataset", "ferrograd tape, dataset")):
        print(f"  W2: {name} ...", file=sys.stderr, flush=True)
        guess, _, _ = wl.w2_tape(x, y, 1337, 3, method, run=20)
        run = loop_run(statistics.median(guess))
        times, first, compile_s = wl.w2_tape(x, y, 1337, 4 * cfg["w2_steps"], method, run=run)
        cold, _, _ = wl.w2_tape(x, y, 1337, 40 * cfg["w2_steps"], method)
        rows[name] = {
            "ms_per_step": statistics.median(times) * 1e3,
            "ms_per_step_cold": statistics.median(cold) * 1e3,
            "timing": "loop",
            "run": run,
            "first_loss": first,
            "loss_matches_first_engine": None if check is None else agree([check], [first]),
            "model": "compile_loss " + method,
            "compile_ms": compile_s * 1e3,
        }
    if autograd_ok:
        print("  W2: autograd ...", file=sys.stderr, flush=True)
        guess, _ = wl.w2_autograd(x, y, 1337, 2, run=3)
        run = loop_run(statistics.median(guess))
        times, first = wl.w2_autograd(x, y, 1337, cfg["w2_steps"], run=run)
        cold, _ = wl.w2_autograd(x, y, 1337, cfg["w2_steps"])
        rows[AUTOGRAD + " (numpy matrices)"] = {
            "ms_per_step": statistics.median(times) * 1e3,
            "ms_per_step_cold": statistics.median(cold) * 1e3,
            "timing": "loop",
            "run": run,
            "first_loss": first,
            "loss_matches_first_engine": None if check is None else agree([check], [first]),
            "model": "numpy matrices",
        }
    return {"points": len(xs), "engines": rows}


def _rss_kib(field: str) -> int | None:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process from /proc, in KiB; None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Starts the peak-RSS count afresh (Linux: writing 5 to clear_refs), so imports don't count."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def w3_child(name: str, depth: int) -> None:
    """Runs one chain in this (fresh) process and prints one JSON line."""
    try:
        if name == AUTOGRAD:
            import autograd  # noqa: F401  (imported before the baseline is taken)

            def run() -> tuple[float, float, float]:
                return wl.w3_autograd(depth)
        else:
            (engine,) = [
                e for e in graph_engines() if isinstance(e, GraphEngine) and e.name == name
            ]

            def run() -> tuple[float, float, float]:
                return wl.w3_chain(engine, depth)

        fresh = _reset_peak_rss()
        before = _rss_kib("VmRSS") if fresh else None
        if before is None:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        build, back, dx = run()
        peak = _rss_kib("VmHWM") if fresh else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {"build_s": build, "backward_s": back, "dx": dx, "peak_kib": peak - before}
        print(json.dumps(result))
    except (RecursionError, MemoryError) as err:
        print(json.dumps({"failure": type(err).__name__}))
    sys.stdout.flush()
    os._exit(0)  # skip freeing a huge graph: the parent only needs the line above


def signal_name(number: int) -> str:
    """``SIGSEGV`` for 11, and so on; the number itself for a signal Python does not name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_w3(names: list[str], cfg: dict[str, Any], mem_budget: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    budget = cfg["w3_time_budget_s"]
    for name in names:
        rows[name] = {}
        last: dict[str, Any] | None = None
        for depth in cfg["w3_depths"]:
            print(f"  W3: {name} depth {depth:,} ...", file=sys.stderr, flush=True)
            nodes = depth // 3 * 3
            if last is not None and "failure" in last:
                rows[name][str(depth)] = {"failure": last["failure"], "not_run": True}
                continue
            if last is not None:
                growth = depth / last["nodes"]
                t_pred = (last["build_s"] + last["backward_s"]) * growth
                mem_pred = last["bytes_per_node"] * nodes
                if t_pred > budget:
                    rows[name][str(depth)] = {"skipped": f"~{t_pred:.0f} s > {budget:.0f} s budget"}
                    continue
                if mem_pred > mem_budget:
                    rows[name][str(depth)] = {
                        "skipped": f"~{mem_pred / 1e9:.1f} GB > memory budget"
                    }
                    continue
            cmd = [sys.executable, str(Path(__file__).resolve()), "--w3-child", name, str(depth)]
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, check=False, timeout=budget * 1.5 + 30
                )
            except subprocess.TimeoutExpired:
                res: dict[str, Any] = {"failure": "timeout"}
            else:
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                if lines:
                    res = json.loads(lines[-1])
                elif proc.returncode < 0:
                    res = {"failure": f"crashed: {signal_name(-proc.returncode)}"}
                else:
                    tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
                    res = {"failure": f"exit {proc.returncode}: {tail[0][:80]}"}
            res["wall_s"] = time.perf_counter() - t0
            if "failure" not in res:
                res["nodes"] = nodes
                res["ns_per_node"] = (res["build_s"] + res["backward_s"]) / nodes * 1e9
                res["bytes_per_node"] = res["peak_kib"] * 1024 / nodes
            rows[name][str(depth)] = res
            last = res
    return {"depths": cfg["w3_depths"], "engines": rows}


def run_w4(engines: list[GraphEngine], cfg: dict[str, Any], autograd_ok: bool) -> dict[str, Any]:
    points = wl.w4_points(cfg["w4_points"])
    rows_list = points.tolist()
    rows: dict[str, Any] = {}
    runners: list[tuple[str, Any]] = []
    for e in engines:
        why = missing_ops(e, ("relu",)) or e.limits.get("w4")
        if why:
            rows[e.name] = {"skipped": why}
        else:
            runners.append((e.name, lambda e=e: wl.w4_graph(e, rows_list)))
    if autograd_ok:
        runners.append((AUTOGRAD + " (grad of a numpy function)", lambda: wl.w4_autograd(points)))
    # Compiled-tape rows: the graph recorded once, then re-run in Rust.
    runners.append(("ferrograd.compile: tape.grad per point", lambda: wl.w4_tape_per_point(points)))
    runners.append(("ferrograd.compile: tape.grad_batch", lambda: wl.w4_tape_batch(points)))
    check: list[float] | None = None
    for name, once in runners:
        print(f"  W4: {name} ...", file=sys.stderr, flush=True)
        times = []
        for _ in range(cfg["repeats"]):
            t, grads = once()
            times.append(t)
        check = grads if check is None else check
        rows[name] = {
            "us_per_point": statistics.median(times) / len(rows_list) * 1e6,
            "grads_match_first_engine": agree(check, grads),
        }
    return {"points": len(rows_list), "engines": rows}


def run_rust(cfg: dict[str, Any]) -> dict[str, Any]:
    """The core without Python (benchmarks/core.rs): W1 and W3 next to a flat arena tape."""
    cargo = shutil.which("cargo")
    if cargo is None:
        return {"skipped": "cargo not found"}
    print("  Rust core: cargo run --release --example bench_core ...", file=sys.stderr, flush=True)
    cmd = [
        cargo, "run", "--quiet", "--release", "--example", "bench_core", "--",
        "--nodes", str(cfg["w1_nodes"]), "--leaves", str(cfg["w1_leaves"]),
        "--repeats", str(cfg["repeats"]), "--chain", str(max(cfg["w3_depths"])),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=HERE.parent)
    if proc.returncode != 0:
        return {"skipped": f"cargo failed: {proc.stderr.strip()[-200:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_batches(cfg: dict[str, Any]) -> dict[str, Any]:
    """W4 and W5 over batches against JAX and CasADi (tape_batches.py), each thread setting in
    child interpreters of its own (the median of ``batch_processes`` of them)."""
    import tape_batches

    args = argparse.Namespace(
        sizes=cfg["batch_sizes"],
        repeats=cfg["batch_repeats"],
        workloads=["w4", "w5"],
        processes=cfg["batch_processes"],
    )
    return tape_batches.collect(args, list(tape_batches.SETTINGS))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a few minutes in all")
    parser.add_argument("--only", default="w1,w2,w3,w4,batches,rust", help="comma-separated subset")
    parser.add_argument("--out", default=str(HERE / "results.json"), help="where the JSON goes")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write the JSON to docs/data/benchmark-results.json and, from it, the README's "
        "table and the chart (benchmarks/report.py --readme)",
    )
    parser.add_argument(
        "--mem-budget-gb", type=float, default=4.0, help="W3 skips depths predicted to need more"
    )
    parser.add_argument("--w3-child", nargs=2, metavar=("ENGINE", "DEPTH"), help=argparse.SUPPRESS)
    parser.add_argument("--w1-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.w1_child:
        w1_child(args.quick)
        return
    if args.w3_child:
        w3_child(args.w3_child[0], int(args.w3_child[1]))
        return

    cfg = config(args.quick)
    only = set(args.only.split(","))
    loaded = graph_engines()
    engines = [e for e in loaded if isinstance(e, GraphEngine)]
    missing = [e for e in loaded if isinstance(e, Missing)]
    autograd_reason = autograd_available()
    if autograd_reason:
        missing.append(Missing(AUTOGRAD, autograd_reason))

    import ferrograd
    from ferrograd import _core

    out = Path(report.DEFAULT_RESULTS if args.publish else args.out)
    results: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "config": cfg,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "lane_isas": _core._vmath_isas(),
        },
        "versions": {**versions(), "ferrograd": ferrograd.__version__},
        "not_measured": [{"name": m.name, "reason": m.reason} for m in missing],
        # The machine is shared: the 1-minute load average before each workload and at the end.
        "load_average": [],
    }

    def load(when: str) -> None:
        results["load_average"].append([when, os.getloadavg()[0]])

    t0 = time.perf_counter()
    if "w1" in only:
        load("w1")
        results["w1"] = run_w1_processes(cfg, args.quick)
    if "w2" in only:
        load("w2")
        results["w2"] = run_w2(engines, cfg, autograd_reason is None)
    if "w3" in only:
        load("w3")
        names = [e.name for e in engines] + ([AUTOGRAD] if autograd_reason is None else [])
        results["w3"] = run_w3(names, cfg, args.mem_budget_gb * 1e9)
        results["w3"]["relu_instead_of_tanh"] = [e.name for e in engines if e.tanh is None]
    if "w4" in only:
        load("w4")
        results["w4"] = run_w4(engines, cfg, autograd_reason is None)
    if "batches" in only:
        load("batches")
        results["batches"] = run_batches(cfg)
    if "rust" in only:
        load("rust")
        results["rust"] = run_rust(cfg)
    load("end")
    results["seconds"] = time.perf_counter() - t0
    print(report.render(results))
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['seconds']:.0f} s; results in {out}")
    if args.publish:
        report.main(["--readme", str(out)])


if __name__ == "__main__":
    main()
