"""Copies the docstrings of the compiled ``ferrograd._core`` into its stub, ``_core.pyi``.

One source: the doc comments of the Rust bindings (``src-rust/python/``, and the op list's
entries in ``src-rust/ops.rs`` for the unary ops) are what ``help()`` shows at run time, and this
script writes the same text into the stub, which the documentation site reads. The exceptions
are the objects whose run-time docstring CPython fixes: operator slots (``__add__``, ``__eq__``,
``__len__``, ...) and ``__new__``. For those the stub is the only place of the text.

    python scripts/sync_core_docstrings.py          # after a rebuild: rewrites the stub
    python scripts/sync_core_docstrings.py --check  # lists what differs, exit 1 if anything

``tests/test_core_docstrings.py`` holds the stub to this rule.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Union

STUB = Path(__file__).resolve().parents[1] / "python" / "ferrograd" / "_core.pyi"

#: What ``runtime_doc`` returns for an object whose run-time docstring CPython fixes.
SLOT = "<slot>"

_Def = Union[ast.Module, ast.ClassDef, ast.FunctionDef]


@dataclass
class Entry:
    """One documented object of the stub and its run-time docstring."""

    qualname: str  # "" for the module
    node: _Def
    runtime: str | None  # cleaned; SLOT; or None when the object has no docstring

    @property
    def stub(self) -> str | None:
        return ast.get_docstring(self.node, clean=True)


def runtime_doc(owner: object, name: str) -> str | None:
    """The cleaned ``__doc__`` of ``owner.name`` as the bindings set it, or ``SLOT``."""
    raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    if isinstance(raw, staticmethod):
        raw = raw.__func__
    if name == "__new__" or type(raw).__name__ in ("wrapper_descriptor", "method-wrapper"):
        return SLOT
    doc = raw.__doc__
    return inspect.cleandoc(doc) if doc else None


def _is_accessor(node: ast.FunctionDef) -> bool:
    # `@x.setter` / `@x.deleter`: the property's docstring is on its getter.
    return any(
        isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter")
        for d in node.decorator_list
    )


def entries(tree: ast.Module, core: types.ModuleType) -> list[Entry]:
    """Every docstring place of the stub: the module, its functions, classes and members."""
    doc = core.__doc__
    found = [Entry("", tree, inspect.cleandoc(doc) if doc else None)]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found.append(Entry(node.name, node, runtime_doc(core, node.name)))
        elif isinstance(node, ast.ClassDef):
            cls = getattr(core, node.name)
            doc = cls.__doc__
            found.append(Entry(node.name, node, inspect.cleandoc(doc) if doc else None))
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not _is_accessor(item):
                    qualname = f"{node.name}.{item.name}"
                    found.append(Entry(qualname, item, runtime_doc(cls, item.name)))
    return found


def mismatches(source: str, core: types.ModuleType) -> list[str]:
    """One line per object whose stub docstring is not its run-time docstring."""
    problems = []
    for entry in entries(ast.parse(source), core):
        where = entry.qualname or "the module"
        if entry.runtime == SLOT:
            if entry.stub is None and entry.qualname.rsplit(".", 1)[-1] != "__new__":
                problems.append(f"{where}: a slot, so the stub is its only docstring: write one")
        elif entry.runtime is None:
            problems.append(f"{where}: no docstring at run time: give it a /// doc comment")
        elif entry.stub != entry.runtime:
            problems.append(f"{where}: the stub's docstring is not the run-time one")
    return problems


def _render(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    if len(lines) == 1 and not text.endswith('"'):
        return f'"""{text}"""'
    rest = "".join(f"{indent}{line}".rstrip() + "\n" for line in lines[1:])
    return f'"""{lines[0]}\n{rest}{indent}"""'


def sync(source: str, core: types.ModuleType) -> str:
    """``source`` (the stub) with every docstring that has a run-time source set to it."""
    data = source.encode()
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(line: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return starts[line - 1] + col

    edits: list[tuple[int, int, str]] = []
    for entry in entries(ast.parse(source), core):
        if entry.runtime in (None, SLOT) or entry.stub == entry.runtime:
            continue
        assert isinstance(entry.runtime, str)
        node = entry.node
        body = node.body
        first = body[0] if body else None
        if isinstance(node, ast.Module):
            indent = ""
        else:
            indent = " " * (node.col_offset + 4)
        text = _render(entry.runtime, indent)
        is_doc = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        if first is not None and is_doc:
            assert first.end_lineno is not None and first.end_col_offset is not None
            edits.append(
                (
                    offset(first.lineno, first.col_offset),
                    offset(first.end_lineno, first.end_col_offset),
                    text,
                )
            )
        elif isinstance(node, ast.Module):
            edits.append((0, 0, text + "\n\n"))
        elif (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and first.value.value is Ellipsis
        ):
            # `def f(...) -> T: ...` becomes `def f(...) -> T:` and the docstring below it.
            assert first.end_lineno is not None and first.end_col_offset is not None
            start = offset(first.lineno, first.col_offset)
            while data[start - 1 : start] == b" ":
                start -= 1
            end = offset(first.end_lineno, first.end_col_offset)
            own_line = data[start - 1 : start] == b"\n"
            edits.append((start, end, f"{indent}{text}" if own_line else f"\n{indent}{text}"))
        else:
            assert first is not None
            start = offset(first.lineno, 0)
            edits.append((start, start, f"{indent}{text}\n"))
    for start, end, text in sorted(edits, reverse=True):
        data = data[:start] + text.encode() + data[end:]
    return data.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only list what differs")
    args = parser.parse_args()
    import ferrograd._core as core

    source = STUB.read_text(encoding="utf-8")
    if args.check:
        problems = mismatches(source, core)
        for problem in problems:
            print(f"{STUB.name}: {problem}")
        return 1 if problems else 0
    synced = sync(source, core)
    if synced != source:
        STUB.write_text(synced, encoding="utf-8")
        print(f"{STUB}: docstrings copied from the compiled module")
    for problem in mismatches(synced, core):
        print(f"{STUB.name}: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
