"""A griffe extension for the documentation site: the reStructuredText in docstrings that
Markdown would print as it is.

The Python modules' docstrings name other objects with Sphinx roles (``:func:`compile```,
``:class:`~ferrograd.nn.FlatSGD```) and open literal blocks with ``::``, which read well in
``help()``. Before mkdocstrings renders a docstring, this turns each role into a code span of
the name (the last part only, for a ``~`` target) and a line's closing ``::`` into ``:`` (the
indented block after it is already code in Markdown). mkdocs.yml loads it by path.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")
_LITERAL = re.compile(r"(\S)::$", flags=re.MULTILINE)


def code_spans(text: str) -> str:
    """``text`` with every Sphinx cross-reference role written as a Markdown code span."""

    def span(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"

    return _LITERAL.sub(r"\1:", _ROLE.sub(span, text))


class SphinxRoles(griffe.Extension):
    """Rewrites the roles and literal-block markers of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has either."""
        if obj.docstring is not None and (
            ":`" in obj.docstring.value or "::" in obj.docstring.value
        ):
            obj.docstring.value = code_spans(obj.docstring.value)
