"""The op table of the Rust core (``ferrograd._core.op_table()``) is the one list of ops; this
test holds everything that cannot be generated from it against it, so a place forgotten when an
op is added fails here, by name, instead of failing silently (an op missing from the reference
engine's table would unpickle with zero gradients, an op missing from the stubs would not
type-check, one missing from the docs would be a surprise)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ENGINES, OP_TABLE, UNARY_OPS, Engine, OpRow

import ferrograd
from ferrograd import reference
from ferrograd._core import DEFAULT_SLOPE, Dual
from ferrograd._expression import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
OPS = [row for row in OP_TABLE if row.code != 0]


def test_codes_are_dense_and_names_unique() -> None:
    assert [row.code for row in OP_TABLE] == list(range(len(OP_TABLE)))
    assert OP_TABLE[0].name == "" and OP_TABLE[0].arity == 0
    assert len({row.name for row in OP_TABLE}) == len(OP_TABLE)


def test_the_reference_engine_has_every_op_in_the_same_order() -> None:
    assert [op.name for op in reference.OPS] == [row.name for row in OPS]
    kinds = {2: reference.BinaryOp, 1: reference.UnaryOp, None: reference.NaryOp}
    for op, row in zip(reference.OPS, OPS):
        assert isinstance(op, kinds[row.arity]), row.name
    assert reference.DEFAULT_SLOPE == DEFAULT_SLOPE


@pytest.mark.parametrize("row", [r for r in OPS if r.method and r.arity == 1], ids=lambda r: r.name)
def test_each_method_builds_its_op_on_both_engines_and_on_dual(row: OpRow) -> None:
    for engine in ENGINES:
        x = engine.Value(0.5)
        z = getattr(x, row.method)()
        assert isinstance(z, engine.Value) and z.op == row.name, engine.name
        assert z.children == (x,)
    for dual in (Dual, reference.Dual):
        d = getattr(dual(0.5, 1.0), row.method)()
        assert isinstance(d, dual)
        # The same formula: the Dual's value is the graph's.
        assert d.data == getattr(ferrograd.Value(0.5), row.method)().data


def test_sum_and_dot_are_functions_of_both_engines() -> None:
    for row in (r for r in OPS if r.arity is None and r.name != "custom"):
        for engine in ENGINES:
            fn = getattr(engine, row.method)
            args = ([engine.Value(1.0)],) * (1 if row.name == "sum" else 2)
            assert fn(*args).op == row.name


def _stub_methods() -> dict[str, set[str]]:
    tree = ast.parse((ROOT / "python/ferrograd/_core.pyi").read_text())
    return {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def test_the_stubs_declare_every_method() -> None:
    stubs = _stub_methods()
    for row in OPS:
        if row.method and row.arity == 1:
            assert row.method in stubs["Value"], f"_core.pyi: Value.{row.method}"
            assert row.method in stubs["Dual"], f"_core.pyi: Dual.{row.method}"


def test_no_engine_has_a_unary_method_the_table_lacks() -> None:
    # A method added by hand to one engine only, outside the table, is found here.
    known = {row.method for row in OPS} | {"backward", "item", "detach"}
    for cls in (ferrograd.Value, reference.Value, Dual, reference.Dual):
        public = {n for n in dir(cls) if not n.startswith("_")}
        extra = {n for n in public - known if callable(getattr(cls, n)) and n not in known}
        assert not extra, f"{cls.__module__}.{cls.__qualname__}: {sorted(extra)}"


def test_the_compare_language_calls_every_unary_op() -> None:
    expected = {"abs" if m == "__abs__" else m for m in (r.method for r in UNARY_OPS)}
    assert set(FUNCTIONS) == expected - {"__neg__"}


def test_docs_list_every_op_in_table_order() -> None:
    page = (ROOT / "docs/ops.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|", page, flags=re.MULTILINE)
    assert rows == [row.name for row in OPS]


def test_engine_fixture_covers_both_engines(engine: Engine) -> None:
    assert engine.Value in (ferrograd.Value, reference.Value)


def test_the_readme_lists_every_method() -> None:
    readme = (ROOT / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| methods |")]
    listed = re.findall(r"`(\w+)\(", row)
    methods = [r.method for r in OPS if r.arity == 1 and not r.method.startswith("__")]
    assert sorted(listed) == sorted(methods)


def test_the_custom_row_is_every_custom_op_node() -> None:
    # Code 21 is the row of every ferrograd.custom_op; its nodes show their op's own name.
    (row,) = [r for r in OPS if r.name == "custom"]
    assert (row.arity, row.method, row.param) == (None, "custom_op", None)
    assert reference.OPS[row.code - 1] is reference.CUSTOM
    op = ferrograd.custom_op(lambda x: x, lambda x: 1.0, name="ident")
    for engine in ENGINES:
        assert op(engine.Value(1.0)).op == "ident"
