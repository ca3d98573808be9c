"""Draw the documentation's benchmark chart from a results file of ``benchmarks/run.py``.

    python scripts/draw_benchmark_chart.py [RESULTS_JSON] [--out PNG]

Defaults: ``docs/data/benchmark-results.json`` (the run the site shows) and
``docs/images/benchmark_ratios.png``. The chart is always drawn from the JSON, never edited by
hand: ``python benchmarks/run.py --publish`` writes that JSON, then the README's table and this
chart from it (``python benchmarks/report.py --readme`` redraws both from the JSON alone). Each
bar is micrograd's time over the engine's time on one workload, measured side by side in that
run (above 1: faster than micrograd); engines a workload could not run are left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "docs" / "data" / "benchmark-results.json"
DEFAULT_OUT = ROOT / "docs" / "images" / "benchmark_ratios.png"
BASELINE = "micrograd"

#: (title, how to find the engines' figures in the results, the time's key).
WORKLOADS = [
    ("W1: build + backward of a random graph\n(ns per node)", ("w1", "basic"), "total_ns_per_node"),
    ("W2: one MLP(2, [16, 16, 1]) training step\n(ms per step)", ("w2",), "ms_per_step"),
    ("W4: value and gradient at many points\n(µs per point)", ("w4",), "us_per_point"),
]


def ratios(results: dict[str, Any], path: tuple[str, ...], key: str) -> list[tuple[str, float]]:
    """(engine, micrograd's time / engine's time) for every engine with a figure, fastest first."""
    node: Any = results
    for part in path:
        node = node[part]
    times = {name: e[key] for name, e in node["engines"].items() if isinstance(e.get(key), float)}
    if BASELINE not in times:
        raise SystemExit(f"draw_benchmark_chart: no {BASELINE} time for {'/'.join(path)}")
    base = times[BASELINE]
    return sorted(((name, base / t) for name, t in times.items()), key=lambda r: r[1])


def draw(results: dict[str, Any], out: Path) -> None:
    """Write the chart: one panel per workload, one horizontal bar per engine, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (title, ratios(results, path, key))
        for title, path, key in WORKLOADS
        if path[0] in results  # a run of some workloads (--only) draws those
    ]
    if not panels:
        raise SystemExit("draw_benchmark_chart: the results hold none of W1, W2, W4")
    heights = [len(rows) for _, rows in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(8, 1.1 + 0.42 * sum(heights) + 0.9 * len(panels)),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    axes = axes[:, 0]
    for ax, (title, rows) in zip(axes, panels):
        names = [name for name, _ in rows]
        values = [value for _, value in rows]
        colors = [
            "#d95f02"
            if name.startswith("ferrograd") and "reference" not in name
            else "#7f7f7f"
            if name == BASELINE
            else "#1b9e77"
            for name in names
        ]
        bars = ax.barh(names, values, color=colors)
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", linewidth=0.8)
        for bar, value in zip(bars, values):
            ax.annotate(
                f"{value:,.0f}×" if value >= 100 else f"{value:.3g}×",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize="small",
            )
        ax.set_title(title, fontsize="medium", loc="left")
        ax.tick_params(axis="y", labelsize="small")
    everything = [value for _, rows in panels for _, value in rows]
    axes[-1].set_xlim(min(min(everything) / 2, 0.5), max(everything) * 4)
    axes[-1].set_xlabel("speed relative to micrograd (micrograd's time ÷ engine's time, log scale)")
    machine = results.get("machine", {})
    # Where that run wrote its file is no part of what it measured.
    words = str(results.get("command", "python benchmarks/run.py")).split()
    command = " ".join(w for i, w in enumerate(words) if w != "--out" and words[i - 1] != "--out")
    fig.suptitle(
        f"ferrograd and its peers, one run of `{command}`\n"
        f"Python {machine.get('python', '?')}, {machine.get('cpus', '?')} CPUs",
        fontsize="small",
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """The command line: read the results, draw the chart, say where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        print(f"draw_benchmark_chart: cannot read {args.results}: {err}", file=sys.stderr)
        return 2
    draw(results, args.out)
    print(f"benchmark chart drawn to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
