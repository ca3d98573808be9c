"""Every Python example in the README runs as written, in order, as a reader would paste them."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def test_readme_has_examples():
    assert len(_blocks()) >= 8


def _can_draw() -> bool:
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def test_every_readme_example_runs(tmp_path, monkeypatch):
    from ferrograd.viz import GraphvizUnavailable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    namespace: dict[str, object] = {"__name__": "readme"}
    for line, code in _blocks():
        # An example that shows an exception ends with it as a comment: "# SomeError: message".
        shown = re.search(r"^# (\w+Error): (.*)$", code, re.MULTILINE)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            if shown is None and "draw(" in code and not _can_draw():
                # The README says drawing needs Graphviz; without it, the promised error.
                with pytest.raises(GraphvizUnavailable, match="install"):
                    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102
            elif shown is None:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102
            else:
                with pytest.raises(BaseException) as caught:
                    exec(compile(code, f"README.md:{line}", "exec"), namespace)  # noqa: S102
                assert type(caught.value).__name__ == shown.group(1), f"README.md:{line}"
                assert str(caught.value) == shown.group(2), f"README.md:{line}"


def test_first_example_gives_what_its_comments_say():
    from ferrograd import Value, reference

    code = _blocks()[0][1]
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(code, namespace)  # noqa: S102
    a, b, d = (namespace[k] for k in "abd")
    assert d.data == 4.0
    # ∂e/∂a and ∂e/∂b, as the reference engine computes them on the same expression.
    ra, rb, rc = reference.Value(2.0), reference.Value(-3.0), reference.Value(10.0)
    re_ = (ra * rb + rc).tanh() ** 2 + (ra / rb).exp()
    re_.backward()
    assert (a.grad, b.grad) == (ra.grad, rb.grad)
    assert out.getvalue().split() == [repr(ra.grad), repr(rb.grad)]
    assert isinstance(a, Value)


def test_reference_example_prints_what_the_rust_engine_gives():
    import ferrograd

    code = _blocks()[1][1]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(code, {})  # noqa: S102
    x = ferrograd.Value(2.0)
    (x * x).log().backward()
    assert float(out.getvalue()) == x.grad == 1.0
