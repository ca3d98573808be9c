"""Every Python example on the documentation site's pages runs as written, page by page in order."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted(p for p in DOCS.rglob("*.md") if FENCE.search(p.read_text(encoding="utf-8")))


def test_the_guide_has_examples():
    assert len(PAGES) >= 6, [p.name for p in PAGES]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_example_on_the_page_runs(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = page.read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "docs"}
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 2
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(m.group(1), f"{page.name}:{line}", "exec"), namespace)  # noqa: S102


def test_the_compare_engines_example_prints_what_it_says():
    from ferrograd.testing import compare_engines

    report = compare_engines(lambda x, y: x.log() + x * y - y.sin(), [2.0, 5.0])
    assert (report.agree, report.max_rel_diff) == (True, 0.0)
