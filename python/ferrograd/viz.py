"""Pictures of expression graphs: Graphviz DOT text, and rendered files.

>>> from ferrograd import Value
>>> from ferrograd.viz import to_dot
>>> x = Value(2.0, "x")
>>> y = (x * x).log()
>>> y.backward()
>>> print(to_dot(y).splitlines()[0])
digraph ferrograd {

``to_dot`` needs nothing beyond ferrograd. ``draw`` renders through the ``graphviz`` Python
package and the Graphviz ``dot`` program: ``pip install "ferrograd[viz]"`` and, on Debian or
Ubuntu, ``apt-get install graphviz`` (``brew install graphviz`` on macOS).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["GraphvizUnavailable", "draw", "to_dot"]

_FORMATS = ("svg", "png", "pdf")
_INSTALL = (
    'pip install "ferrograd[viz]" (the graphviz Python package) and the Graphviz dot program '
    "(apt-get install graphviz, brew install graphviz, or https://graphviz.org/download/)"
)


class GraphvizUnavailable(ImportError):
    """``draw`` cannot render: the ``graphviz`` Python package or the ``dot`` program is missing."""


def _is_value(obj: object) -> bool:
    return all(hasattr(obj, a) for a in ("data", "grad", "op", "label", "children"))


def _nodes(root: Any) -> dict[Any, tuple[Any, ...]]:
    """Every node ``root`` depends on, operands before users, each once, with its children as
    read once (a number operand's leaf is new on each read of ``children``); no recursion."""
    children_of = {root: tuple(root.children)}
    order = {}
    stack = [(root, iter(children_of[root]))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if child not in children_of:
                children_of[child] = tuple(child.children)
                stack.append((child, iter(children_of[child])))
                break
        else:
            stack.pop()
            order[node] = children_of[node]
    return order


def _record_text(text: str) -> str:
    """``text`` as one field of a Graphviz record label inside a quoted DOT string."""
    out = []
    for ch in text:
        if ch in '\\"{}|<> ':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _quoted_text(text: str) -> str:
    """``text`` inside a quoted DOT string, shown literally by Graphviz."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(x: float) -> str:
    return f"{x:.4f}" if 1e-4 <= abs(x) < 1e6 or x == 0.0 else f"{x:.4g}"


def to_dot(root: Any, *, rankdir: str = "LR") -> str:
    """Graphviz DOT text for the graph behind ``root``, operands pointing to their users.

    Each node is a record ``label | data … | grad …``; an op node also gets a small oval with
    its op (``+``, ``tanh``, …) feeding it. Works for ``ferrograd.Value`` and
    ``ferrograd.reference.Value``; labels are escaped, so any string is safe. The walk is
    iterative, so graphs of any depth work (rendering a very large graph with ``dot`` is slow,
    but the text comes at once). ``rankdir`` is Graphviz's layout direction: "LR" or "TB".
    """
    if not _is_value(root):
        raise TypeError(f"to_dot() needs a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be one of LR, RL, TB, BT; got {rankdir!r}")
    nodes = _nodes(root)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    lines = [
        "digraph ferrograd {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    for node in nodes:
        nid = ids[node]
        texts = [f"data {_number(node.data)}", f"grad {_number(node.grad)}"]
        fields = " | ".join(_record_text(t) for t in ([node.label] if node.label else []) + texts)
        lines.append(f'  {nid} [shape=record, label="{{ {fields} }}"];')
        if node.op:
            lines.append(f'  {nid}_op [shape=oval, label="{_quoted_text(node.op)}"];')
            lines.append(f"  {nid}_op -> {nid};")
            for child in nodes[node]:
                lines.append(f"  {ids[child]} -> {nid}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(root: Any, path: str | os.PathLike[str], *, rankdir: str = "LR") -> Path:
    """Renders the graph behind ``root`` to ``path``; the suffix picks the format (.svg, .png,
    .pdf). Returns the path written.

    Needs the ``graphviz`` Python package and the Graphviz ``dot`` program; without either it
    raises :class:`GraphvizUnavailable` (an ``ImportError``) saying what to install.
    """
    text = to_dot(root, rankdir=rankdir)
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(
            f"draw() picks the format from the file suffix: .svg, .png or .pdf; got {path.name!r}"
        )
    try:
        import graphviz
    except ImportError as err:
        raise GraphvizUnavailable(
            f"ferrograd.viz.draw needs the graphviz Python package, which is not installed: "
            f"{_INSTALL}"
        ) from err
    try:
        image = graphviz.Source(text).pipe(format=fmt)
    except graphviz.ExecutableNotFound as err:
        raise GraphvizUnavailable(
            f"ferrograd.viz.draw needs the Graphviz dot program, which is not on PATH: {_INSTALL}"
        ) from err
    path.write_bytes(image)
    return path
