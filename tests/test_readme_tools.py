"""The README's "Checking gradients" examples run, and print what the README shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ferrograd.viz import GraphvizUnavailable

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Checking gradients", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)


BLOCKS = _blocks()


def _run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102 - the README example
    return out.getvalue()


def test_section_has_the_examples():
    assert [kind for kind, _ in BLOCKS] == ["python", "text", "sh", "text", "python", "python"]


def test_gradcheck_example_prints_the_table_shown():
    assert _run(BLOCKS[0][1]) == BLOCKS[1][1]


def test_compare_command_prints_the_table_shown():
    argv = shlex.split(BLOCKS[2][1])
    assert argv[:3] == ["python", "-m", "ferrograd"]
    done = subprocess.run(
        [sys.executable, *argv[1:]], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == BLOCKS[3][1]


def test_draw_example_writes_the_png(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    try:
        _run(BLOCKS[4][1])
    except GraphvizUnavailable as err:
        assert "pip install" in str(err)
        return
    assert (tmp_path / "docs" / "seed_graph.png").read_bytes()[:4] == b"\x89PNG"


def test_checked_in_picture_exists():
    assert (README.parent / "docs" / "seed_graph.png").read_bytes()[:4] == b"\x89PNG"


def test_anomaly_example_raises_the_error_shown():
    code = BLOCKS[5][1]
    shown = re.search(r"# FloatingPointError: (.*)", code).group(1)
    with pytest.raises(FloatingPointError) as info:
        _run(code)
    assert str(info.value) == shown
