"""One source for the compiled module's docstrings.

The doc comments of the Rust bindings are what ``help()`` shows; ``_core.pyi`` is what the API
pages are made from. Every stub docstring of an object that has a docstring at run time must be
that docstring, and scripts/sync_core_docstrings.py must be able to make it so.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import ferrograd._core as core

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "python" / "ferrograd" / "_core.pyi"


def _sync_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sync_core_docstrings", ROOT / "scripts" / "sync_core_docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sync = _sync_script()


def test_every_stub_docstring_is_the_runtime_one() -> None:
    source = STUB.read_text(encoding="utf-8")
    problems = sync.mismatches(source, core)
    detail = []
    for entry in sync.entries(ast.parse(source), core):
        if entry.runtime not in (None, sync.SLOT) and entry.stub != entry.runtime:
            detail.append(
                f"{entry.qualname or 'module'}:\n  stub:    {entry.stub!r}\n"
                f"  runtime: {entry.runtime!r}"
            )
    assert not problems, (
        "The Rust doc comments are the source: rebuild, then run "
        "`python scripts/sync_core_docstrings.py`.\n" + "\n".join(problems + detail)
    )


def test_the_check_covers_every_class_and_method() -> None:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    names = {entry.qualname for entry in sync.entries(tree, core)}
    # numpy's names are declared as aliases (``arcsin = asin``): an assignment has no docstring
    # of its own, and the method's is checked under its own name.
    aliases = {
        f"{node.name}.{target.id}"
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for stmt in node.body
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
        if isinstance(target, ast.Name)
    }
    for cls in (core.Value, core.Dual, core.Tape):
        assert cls.__name__ in names
        public = {n for n in vars(cls) if not n.startswith("_")}
        assert {f"{cls.__name__}.{n}" for n in public} <= names | aliases, cls.__name__
    assert {"sum", "dot", "op_table"} <= names


def test_slots_take_their_docstrings_from_the_stub_alone() -> None:
    # CPython gives an operator slot its own fixed docstring, whatever the Rust side writes.
    assert sync.runtime_doc(core.Value, "__add__") == sync.SLOT
    assert sync.runtime_doc(core.Value, "__new__") == sync.SLOT
    assert sync.runtime_doc(core.Tape, "__len__") == sync.SLOT
    # ... while an ordinary method, a property and a static method carry the Rust doc comment.
    assert sync.runtime_doc(core.Value, "backward") == core.Value.backward.__doc__
    assert sync.runtime_doc(core.Value, "data") == core.Value.data.__doc__
    assert sync.runtime_doc(core.Tape, "from_bytes") == core.Tape.from_bytes.__doc__
    assert core.Value.backward.__doc__ and core.Tape.from_bytes.__doc__


def _replace_docstring(source: str, qualname: str, replacement: str) -> str:
    tree = ast.parse(source)
    (entry,) = [e for e in sync.entries(tree, core) if e.qualname == qualname]
    doc = entry.node.body[0]
    lines = source.splitlines(keepends=True)
    start = sum(len(line.encode()) for line in lines[: doc.lineno - 1]) + doc.col_offset
    end = sum(len(line.encode()) for line in lines[: doc.end_lineno - 1]) + doc.end_col_offset
    data = source.encode()
    return (data[:start] + replacement.encode() + data[end:]).decode()


def test_the_check_finds_a_drifted_stub_and_the_script_repairs_it() -> None:
    source = STUB.read_text(encoding="utf-8")
    drifted = _replace_docstring(source, "Value.backward", '"""Out of date."""')
    drifted = _replace_docstring(drifted, "Tape.eval", "...")  # no docstring at all
    drifted = _replace_docstring(drifted, "Tape", '"""Out of date\n    too."""')
    assert sorted(p.split(":")[0] for p in sync.mismatches(drifted, core)) == [
        "Tape",
        "Tape.eval",
        "Value.backward",
    ]
    assert sync.sync(drifted, core) == sync.sync(source, core)


def test_a_missing_slot_docstring_is_found() -> None:
    source = STUB.read_text(encoding="utf-8")
    drifted = _replace_docstring(source, "Value.__add__", "...")
    assert [p.split(":")[0] for p in sync.mismatches(drifted, core)] == ["Value.__add__"]
