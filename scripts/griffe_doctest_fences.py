"""A griffe extension for the documentation site: doctest examples in docstrings become code.

Docstrings show examples as interactive sessions (``>>>`` lines and their output), which
Markdown would read as nested block quotes. This wraps each such run of lines in a ``pycon``
fence before mkdocstrings renders the docstring. mkdocs.yml loads it by path.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with every run of ``>>>`` lines (and the output lines after them) fenced."""
    out: list[str] = []
    in_session = in_fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if not in_session and stripped.startswith("```"):
            in_fence = not in_fence  # an example already fenced stays as it is
        elif not in_session and not in_fence and stripped.startswith(">>>"):
            out.append("```pycon")
            in_session = True
        elif in_session and not stripped:
            out.append("```")
            in_session = False
        out.append(line)
    if in_session:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fences the interactive examples of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one with examples."""
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
