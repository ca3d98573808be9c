"""The README's benchmark table is the committed results file, rendered by benchmarks/report.py:
no figure in it is typed by hand, and it goes stale the moment the JSON changes."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benchmarks" / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results(report):
    return json.loads(report.DEFAULT_RESULTS.read_text(encoding="utf-8"))


def test_the_readme_table_is_the_committed_run(report, results):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert report.current_block(readme) == report.readme_block(results)


def test_the_committed_run_is_a_full_one_with_every_peer_the_issue_names(results):
    assert "--quick" not in results["command"] and "--only" not in results["command"]
    w2 = results["w2"]["engines"]
    for row in ("micrograd", "autograd (numpy matrices)", "ferrograd tape"):
        assert "ms_per_step" in w2[row], row
    for setting in ("one thread", "all cores"):
        for workload in ("w4", "w5"):
            for size in ("10000", "1000000"):
                rows = results["batches"]["settings"][setting][workload][size]
                names = " ".join(rows)
                assert "ferrograd grad_batch" in rows and "JAX" in names and "CasADi" in names
    assert results["load_average"], "the run records the machine's load"


def test_any_changed_figure_makes_the_table_stale(report, results):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    changed = copy.deepcopy(results)
    row = changed["w2"]["engines"]["ferrograd tape"]
    row["ms_per_step"] *= 3.0
    assert report.current_block(readme) != report.readme_block(changed)
    rewritten = report.replace_block(readme, report.readme_block(changed))
    assert report.current_block(rewritten) == report.readme_block(changed)
    # Only the text between the markers changes.
    begin, end = readme.index(report.BEGIN), readme.index(report.END)
    assert rewritten[:begin] == readme[:begin]
    assert rewritten[rewritten.index(report.END) :] == readme[end:]
