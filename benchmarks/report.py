"""The tables of a ``benchmarks/run.py`` results file, and the README's copy of them.

    python benchmarks/report.py [RESULTS_JSON]            # print the tables
    python benchmarks/report.py --readme [RESULTS_JSON]   # rewrite the README's table and chart
    python benchmarks/report.py --check [RESULTS_JSON]    # exit 1 if the README's table differs

The default file is ``docs/data/benchmark-results.json``, the one full run the README and the
documentation show. The README's table sits between the two ``BENCHMARK TABLE`` markers and is
only ever written by this script, from that file, so the table, the chart
(``scripts/draw_benchmark_chart.py``) and the JSON are always the same run. Standard library
only: the test suite imports it to check the README.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "docs" / "data" / "benchmark-results.json"
README = ROOT / "README.md"
BEGIN = "<!-- BENCHMARK TABLE: written by benchmarks/report.py from docs/data/benchmark-results.json; do not edit -->"
END = "<!-- BENCHMARK TABLE END -->"

MICROGRAD = "micrograd"
AUTOGRAD = "autograd"

#: W1's op mixes: (key in the results, table label).
W1_LABELS = (
    ("basic", "add sub mul pow relu"),
    ("tanh_exp", "+ tanh exp"),
    ("smooth", "add sub mul pow tanh exp, no relu"),
)


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def ratio_text(base: float | None, x: float | None) -> str:
    if base is None or x is None or x <= 0:
        return "-"
    r = base / x
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def table(
    title: str, header: list[str], rows: list[list[str]], notes: list[str] | None = None
) -> list[str]:
    """A fixed-width table: a blank line, the title, the header, a rule, the rows, the notes."""

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    out = ["", title, line(header), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    out.extend(f"  {note}" for note in notes or [])
    return out


def measured_first(rows: dict[str, Any]) -> list[tuple[str, Any]]:
    """The rows in engine order, those not measured last."""
    return sorted(rows.items(), key=lambda kv: "skipped" in kv[1])


def skipped_cell(name: str, reason: str, notes: list[str]) -> str:
    """The short reason (up to its first colon) for the table; the whole one goes in ``notes``."""
    short, _, rest = reason.partition(":")
    if rest:
        notes.append(f"{name}: {reason}")
    return "not measured: " + short


def yes_no(ok: bool | None) -> str:
    return "-" if ok is None else "yes" if ok else "NO"


def render(results: dict[str, Any]) -> str:
    """The tables of a results file, as ``benchmarks/run.py`` prints them."""
    out: list[str] = []
    w1 = results.get("w1")
    rust = results.get("rust", {})
    if w1:
        for variant, label in W1_LABELS:
            if variant not in w1:
                continue
            data = w1[variant]
            rows = data["engines"]
            base = rows.get(MICROGRAD, {})
            body = []
            notes: list[str] = []
            for name, r in measured_first(rows):
                if "skipped" in r:
                    body.append([name, skipped_cell(name, r["skipped"], notes), *[""] * 6])
                    continue
                body.append([
                    name, fmt(r["build_ns_per_node"]), fmt(r["backward_ns_per_node"]),
                    fmt(r["total_ns_per_node"]),
                    ratio_text(base.get("build_ns_per_node"), r["build_ns_per_node"]),
                    ratio_text(base.get("backward_ns_per_node"), r["backward_ns_per_node"]),
                    ratio_text(base.get("total_ns_per_node"), r["total_ns_per_node"]),
                    yes_no(r["root_matches"] and r["grads_match_first_engine"]),
                ])  # fmt: skip
                if "why" in r:
                    notes.append(f"{name} disagrees: root {r['root']:.6g}, not "
                                 f"{data['root']:.6g}; {r['why']}")  # fmt: skip
            for key, name in (
                ("core", "ferrograd core, Rust only"),
                ("arena", "flat arena tape, Rust"),
            ):
                r = rust.get("w1", {}).get(variant, {}).get(key)
                if r:
                    total = r["build_ns_per_node"] + r["backward_ns_per_node"]
                    body.append([
                        name, fmt(r["build_ns_per_node"]), fmt(r["backward_ns_per_node"]),
                        fmt(total), "", "", "", "",
                    ])  # fmt: skip
            out += table(
                f"W1 random graph, {data['nodes']:,} nodes ({label}): ns per node"
                + (
                    f" (the median of {data['processes']} processes' medians)"
                    if data.get("processes", 1) > 1
                    else ""
                ),
                ["engine", "build", "backward", "total", "build vs mg", "bwd vs mg", "total vs mg",
                 "agrees"],
                body,
                notes,
            )  # fmt: skip
    w2 = results.get("w2")
    if w2:
        rows = w2["engines"]
        base = rows.get(MICROGRAD, {}).get("ms_per_step")
        body = []
        notes = []
        for name, r in measured_first(rows):
            if "skipped" in r:
                body.append([name, skipped_cell(name, r["skipped"], notes), "", "", "", ""])
                continue
            body.append([
                name, r.get("model", ""), fmt(r["ms_per_step"]), ratio_text(base, r["ms_per_step"]),
                f"{r['first_loss']:.6f}", yes_no(r.get("loss_matches_first_engine")),
            ])  # fmt: skip
        auto = rows.get(AUTOGRAD + " (numpy matrices)", {}).get("ms_per_step")
        for name, r in rows.items():
            if name.startswith("ferrograd tape") and "ms_per_step" in r:
                notes.append(
                    f"{name}: the loss compiled once in {r['compile_ms']:.1f} ms, then one call "
                    "into Rust per step"
                    + (f"; {auto / r['ms_per_step']:.1f}x autograd's step" if auto else "")
                )
        loop = [(n, r) for n, r in rows.items() if r.get("timing") == "loop"]
        if loop:
            notes.append(
                "timed as a training loop runs (the mean step of runs of consecutive steps"
                + (", about 10 ms each" if all("run" in r for _, r in loop) else "")
                + "): "
                + "; ".join(f"{n} ({r['run']} steps a run)" if "run" in r else n for n, r in loop)
                + ". Their single steps right after gc.collect(), as the other rows are timed: "
                + "; ".join(f"{n} {fmt(r['ms_per_step_cold'])} ms" for n, r in loop)
            )
        out += table(
            f"W2 MLP(2, [16, 16, 1]) training step on {w2['points']} moons points",
            ["engine", "model", "ms/step", "vs micrograd", "loss at step 1", "agrees"],
            body,
            notes,
        )
    w3 = results.get("w3")
    if w3:
        depths = [str(d) for d in w3["depths"]]
        body = []
        for name, per in w3["engines"].items():
            cells = [name]
            for d in depths:
                r = per.get(d, {})
                if "failure" in r:
                    cells.append(
                        ("(" if r.get("not_run") else "")
                        + r["failure"]
                        + (")" if r.get("not_run") else "")
                    )
                elif "skipped" in r:
                    cells.append("skipped " + r["skipped"])
                elif r:
                    cells.append(f"{fmt(r['ns_per_node'])} ns, {fmt(r['bytes_per_node'])} B")
                else:
                    cells.append("-")
            body.append(cells)
        chain = rust.get("w3")
        if chain:
            cells = ["ferrograd core, Rust only"] + ["" for _ in depths]
            cells[-1] = (
                f"{fmt(chain['ns_per_node'])} ns, {fmt(chain['bytes_per_node'])} B"
                f" ({chain['nodes']:,} tanh nodes)"
            )
            body.append(cells)
        relu = w3.get("relu_instead_of_tanh", [])
        out += table(
            "W3 chain x = tanh(0.9 x + 0.1), depth in op nodes: ns per node, peak bytes per node"
            + (f" ({', '.join(relu)}: relu, no tanh)" if relu else ""),
            ["engine", *[f"{int(d):,}" for d in depths]],
            body,
        )
    w4 = results.get("w4")
    if w4:
        rows = w4["engines"]
        base = rows.get(MICROGRAD, {}).get("us_per_point")
        body = []
        notes = []
        for name, r in measured_first(rows):
            if "skipped" in r:
                body.append([name, skipped_cell(name, r["skipped"], notes), "", ""])
                continue
            body.append([
                name, fmt(r["us_per_point"]), ratio_text(base, r["us_per_point"]),
                yes_no(r["grads_match_first_engine"]),
            ])  # fmt: skip
        out += table(
            f"W4 f of 10 inputs with its gradient at {w4['points']:,} points",
            ["engine", "us/point", "vs micrograd", "grads agree"],
            body,
            notes,
        )
    batches = results.get("batches")
    if batches and "settings" in batches:
        out += batches_table(batches)
    for m in results.get("not_measured", []):
        out += ["", f"not measured: {m['name']} ({m['reason']})"]
    return "\n".join(out).strip("\n") + "\n"


#: The batch rows, in table order: (engine name in the results, label).
BATCH_ENGINES = (
    ("ferrograd grad_batch", "ferrograd grad_batch"),
    ("ferrograd grad_batch fast", "ferrograd grad_batch, fast"),
    ("JAX jit(vmap(value_and_grad))", "JAX jit(vmap(value_and_grad))"),
)


def _batch_row(rows: dict[str, Any], name: str) -> dict[str, Any] | None:
    if name == "CasADi":
        return next((r for n, r in rows.items() if n.startswith("CasADi")), None)
    row: dict[str, Any] | None = rows.get(name)
    return row


def batches_table(batches: dict[str, Any]) -> list[str]:
    """W4/W5 batches: ns per point for each engine, workload and size, per thread setting,
    then the ratio rows (a peer's time over ferrograd's: above 1, ferrograd is faster)."""
    settings: dict[str, Any] = batches["settings"]
    columns = [
        (w, size)
        for w in ("w4", "w5")
        for size in (str(s) for s in batches["sizes"])
        if any(size in by.get(w, {}) for by in settings.values())
    ]
    header = ["engine", *[f"{w.upper()} {_size(size)}" for w, size in columns]]
    rows: list[list[str]] = []
    ratios: list[list[str]] = []
    for setting, by_workload in settings.items():
        rows.append([setting + ":", *[""] * len(columns)])
        casadi = next(
            (
                n
                for size_rows in by_workload.get("w4", {}).values()
                for n in size_rows
                if n.startswith("CasADi")
            ),
            "CasADi",
        )
        for name, label in (*BATCH_ENGINES, ("CasADi", casadi)):
            cells = []
            for w, size in columns:
                r = _batch_row(by_workload.get(w, {}).get(size, {}), name)
                cells.append("-" if r is None else f"{r['ns_per_point']:.1f}")
            rows.append(["  " + label, *cells])
        for ours, ours_label in BATCH_ENGINES[:2]:
            for peer, peer_label in (
                ("JAX jit(vmap(value_and_grad))", "JAX"),
                ("CasADi", "CasADi"),
            ):
                cells = []
                for w, size in columns:
                    at = by_workload.get(w, {}).get(size, {})
                    a, b = _batch_row(at, peer), _batch_row(at, ours)
                    cells.append("-" if a is None or b is None else
                                 f"{a['ns_per_point'] / b['ns_per_point']:.2f}x")  # fmt: skip
                ratios.append(
                    [f"  {setting}: {peer_label} / {ours_label.removeprefix('ferrograd ')}", *cells]
                )
    notes = [
        "one thread: the process pinned to one core, XLA_FLAGS="
        + batches.get("xla_flags_one_thread", "?")
        + ", CasADi map 'serial'; all cores: no pinning, no flags, CasADi map 'thread' with one"
        + " thread per core",
        "CPU/wall over the timed calls, lowest and highest of each setting: "
        + "; ".join(
            f"{setting} {lo:.2f}-{hi:.2f}" for setting, (lo, hi) in _cpu_spans(settings).items()
        ),
    ]
    title = (
        "W4 (rational) and W5 (log, sin, tanh, exp of each input): value and gradient of a "
        f"10-input function per row of a batch, ns per point (median of {batches['repeats']}"
        + (
            f" in each of {batches['processes']} processes, then their median"
            if batches.get("processes", 1) > 1
            else ""
        )
        + f"); {batches['cores']} cores"
    )
    out = table(title, header, rows)
    out += table(
        "Ratios: the peer's time over ferrograd's (above 1: ferrograd is faster)",
        ["ratio", *header[1:]],
        ratios,
        notes,
    )
    return out


def _size(size: str) -> str:
    n = int(size)
    return (
        f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else size
    )


def _cpu_spans(settings: dict[str, Any]) -> dict[str, tuple[float, float]]:
    spans = {}
    for setting, by_workload in settings.items():
        cpus = [
            r["cpu_per_wall"]
            for by_size in by_workload.values()
            for rows in by_size.values()
            for r in rows.values()
        ]
        if cpus:
            spans[setting] = (min(cpus), max(cpus))
    return spans


def readme_block(results: dict[str, Any]) -> str:
    """What goes between the README's markers: the run's command, machine and load, then the
    tables in a text block."""
    machine = results.get("machine", {})
    load = results.get("load_average")
    words = [
        f"One run of `{_public_command(results.get('command', 'python benchmarks/run.py'))}`",
        f"Python {machine.get('python', '?')}, {machine.get('cpus', '?')} CPUs"
        + (f" ({machine['cpu']})" if machine.get("cpu") else ""),
    ]
    if load:
        words.append(
            "the machine's 1-minute load average before each part of the run and at its end: "
            + ", ".join(f"{when} {value:.1f}" for when, value in load)
        )
    if machine.get("lane_isas"):
        words.append("lane loops: " + machine["lane_isas"][-1])
    versions = results.get("versions", {})
    if versions:
        words.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    return "; ".join(words) + ".\n\n```text\n" + render(results) + "```\n"


def _public_command(command: str) -> str:
    """The run's command without ``--out PATH`` (where it wrote is no part of what it measured)."""
    words = command.split()
    keep = [w for i, w in enumerate(words) if w != "--out" and (i == 0 or words[i - 1] != "--out")]
    return " ".join(keep)


def replace_block(readme: str, block: str) -> str:
    """``readme`` with the text between the markers replaced by ``block``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"report.py: the README has no {BEGIN!r} ... {END!r} markers")
    return readme[: start + len(BEGIN)] + "\n" + block + readme[end:]


def current_block(readme: str) -> str:
    """The README's text between the markers."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"report.py: the README has no {BEGIN!r} ... {END!r} markers")
    return readme[start + len(BEGIN) + 1 : end]


def load(path: Path) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--readme", action="store_true", help="rewrite the README's table and the chart"
    )
    what.add_argument("--check", action="store_true", help="exit 1 if the README's table is stale")
    args = parser.parse_args(argv)
    results = load(args.results)
    if args.check:
        if current_block(README.read_text(encoding="utf-8")) != readme_block(results):
            print(f"the README's benchmark table is not {args.results}'s: run "
                  "python benchmarks/report.py --readme", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    if args.readme:
        README.write_text(
            replace_block(README.read_text(encoding="utf-8"), readme_block(results)),
            encoding="utf-8",
        )
        chart = ROOT / "scripts" / "draw_benchmark_chart.py"
        subprocess.run([sys.executable, str(chart), str(args.results)], check=True)
        print(f"README table written from {args.results}")
        return 0
    print(render(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
