"""Every bad command-line flag is an argparse error (exit 2, one line, no traceback) before any
work starts; ``--at`` names are normalised as Python's parser normalises identifiers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferrograd", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--seed", "-1"], "argument --seed: must be an int >= 0, got -1"),
        (["--seed", "x"], "argument --seed: must be an int >= 0, got 'x'"),
        (["--steps", "0"], "argument --steps: must be an int >= 1, got 0"),
        (["--plot", "/nonexistent/dir/x.png"], "no directory '/nonexistent/dir'"),
        (["--plot", "x.txt"], "'x.txt': the file name must end in one of"),
    ],
)
def test_bad_demo_flags_are_argparse_errors_before_training(
    args: list[str], says: str, tmp_path: Path
) -> None:
    start = time.perf_counter()
    result = cli("demo", "--no-progress", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""  # nothing trained, nothing printed
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m ferrograd demo: error: "), result.stderr
    assert says in last
    assert time.perf_counter() - start < 30
    assert os.listdir(tmp_path) == []


def test_a_good_plot_path_is_accepted(tmp_path: Path) -> None:
    from ferrograd.cli import demo

    assert demo._plot_path(str(tmp_path / "x.png")) == str(tmp_path / "x.png")
    assert demo._plot_path(str(tmp_path / "x.PDF")) == str(tmp_path / "x.PDF")


def test_at_names_are_nfkc_normalised_like_python_identifiers() -> None:
    result = cli("compare", "ﬁ*2", "--at", "ﬁ=2")
    assert result.returncode == 0, result.stderr
    assert "f = 4.0 (rust), 4.0 (reference)" in result.stdout
    # the normalised spelling names the same input
    assert cli("compare", "ﬁ*2", "--at", "fi=2").returncode == 0
    assert cli("compare", "fi*2", "--at", "ﬁ=2").returncode == 0
    twice = cli("compare", "fi*2", "--at", "ﬁ=2,fi=3")
    assert twice.returncode == 2
    assert "--at gives fi twice" in twice.stderr


def test_compare_help_names_every_op_the_language_takes() -> None:
    import re

    from ferrograd.cli.expression import BINARY_FUNCTIONS, FUNCTIONS

    result = cli("compare", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    listed = set(re.findall(r"[a-z_0-9]+", text))
    missing = [name for name in (*FUNCTIONS, *BINARY_FUNCTIONS) if name not in listed]
    assert not missing, missing
    assert "log(x, base)" in text
