"""The op table of the Rust core (``ferrograd._core.op_table()``) is the one list of ops; this
test holds everything that cannot be generated from it against it, so a place forgotten when an
op is added fails here, by name, instead of failing silently (an op missing from the reference
engine's table would unpickle with zero gradients, an op missing from the stubs would not
type-check, one missing from the docs would be a surprise)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from conftest import BINARY_METHODS, ENGINES, OP_TABLE, UNARY_OPS, Engine, OpRow

import ferrograd
from ferrograd import reference
from ferrograd._core import DEFAULT_SLOPE, Dual
from ferrograd.cli.expression import BINARY_FUNCTIONS, FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
OPS = [row for row in OP_TABLE if row.code != 0]
#: Every alias of a method (numpy's names), with the op it builds.
ALIASES = {alias: row for row in OPS for alias in row.aliases}


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
        # The same formula: the Dual's value is the graph's (nan where 0.5 is out of domain).
        assert repr(d.data) == repr(getattr(ferrograd.Value(0.5), row.method)().data)


def test_sum_and_dot_are_functions_of_both_engines() -> None:
    for row in (r for r in OPS if r.arity is None and r.name != "custom"):
        for engine in ENGINES:
            fn = getattr(engine, row.method)
            args = ([engine.Value(1.0)],) * (1 if row.name == "sum" else 2)
            assert fn(*args).op == row.name


def _stub_methods() -> dict[str, set[str]]:
    """The methods each class of the stub declares: ``def f(...)``, or ``alias = f``."""
    tree = ast.parse((ROOT / "python/ferrograd/_core.pyi").read_text())
    return {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        | {
            t.id
            for a in node.body
            if isinstance(a, ast.Assign)
            for t in a.targets
            if isinstance(t, ast.Name)
        }
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
    known = {row.method for row in OPS} | set(ALIASES) | {"backward", "item", "detach"}
    known |= set(COMPOSED)
    for cls in (ferrograd.Value, reference.Value, Dual, reference.Dual):
        public = {n for n in dir(cls) if not n.startswith("_")}
        extra = {n for n in public - known if callable(getattr(cls, n)) and n not in known}
        assert not extra, f"{cls.__module__}.{cls.__qualname__}: {sorted(extra)}"


def test_the_compare_language_calls_every_unary_op() -> None:
    expected = {"abs" if m == "__abs__" else m for m in (r.method for r in UNARY_OPS if r.method)}
    expected |= {alias for r in UNARY_OPS for alias in r.aliases}
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
    methods = [r.method for r in OPS if r.arity == 1 and r.method and r.method[0] != "_"]
    assert sorted(listed) == sorted(methods)


def test_numpys_names_are_aliases_of_the_table() -> None:
    # numpy's ufuncs call the method of their own name on an object array's elements.
    assert set(ALIASES) >= {"arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh"}
    assert len(ALIASES) == sum(len(row.aliases) for row in OPS), "an alias named twice"
    assert not set(ALIASES) & {row.method for row in OPS}, "an alias that is a method's name"


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_each_alias_builds_the_same_op_everywhere(alias: str) -> None:
    row = ALIASES[alias]
    args = (2.0,) * (row.arity - 1)  # a binary method's other operand
    for engine in ENGINES:
        x = engine.Value(0.5)
        z, want = getattr(x, alias)(*args), getattr(x, row.method)(*args)
        assert z.op == row.name and z.children[0] == x, engine.name
        assert len(z.children) == row.arity and repr(z.data) == repr(want.data)
    for dual in (Dual, reference.Dual):
        d = getattr(dual(0.5, 1.0), alias)(*args)
        want = getattr(dual(0.5, 1.0), row.method)(*args)
        assert isinstance(d, dual) and repr((d.data, d.tangent)) == repr((want.data, want.tangent))
    stubs = _stub_methods()
    assert alias in stubs["Value"], f"_core.pyi: Value.{alias}"
    assert alias in stubs["Dual"], f"_core.pyi: Dual.{alias}"
    assert f"`{alias}`" in (ROOT / "docs/ops.md").read_text(), f"docs/ops.md: {alias}"
    (readme_row,) = [
        r for r in (ROOT / "README.md").read_text().splitlines() if r.startswith("| methods |")
    ]
    assert f"`{alias}`" in readme_row, f"README.md methods row: {alias}"


# -- the binary ops with a method: y.atan2(x), a.hypot(b), ... ---------------------------------

#: Methods built from table ops rather than being one (``x.clamp(lo, hi)``), with those ops.
COMPOSED = {"clamp": ("clamp_min", "clamp_max")}
#: numpy's names for table methods: an object array's ufunc calls the method of that name.
NUMPY_NAMES = {"arctan2": "atan2"}


def test_binary_methods_are_binary_ops_named_as_their_method() -> None:
    assert BINARY_METHODS, "no binary op has a method"
    for row in BINARY_METHODS:
        assert row.method == row.name and row.param is None


@pytest.mark.parametrize("row", BINARY_METHODS, ids=lambda r: r.name)
def test_each_binary_method_builds_its_op_on_both_engines_and_on_dual(row: OpRow) -> None:
    for engine in ENGINES:
        x, y = engine.Value(0.5), engine.Value(-1.5)
        z = getattr(x, row.method)(y)
        assert isinstance(z, engine.Value) and z.op == row.name, engine.name
        assert z.children == (x, y)
        # A number on the other side becomes a constant leaf, as in ``x + 2.0``.
        c = getattr(x, row.method)(-1.5)
        assert c.op == row.name and c.children[0] == x
        assert c.children[1].op == "" and c.children[1].data == -1.5
        assert repr(c.data) == repr(z.data)
        with pytest.raises(TypeError, match=rf"{row.method}\(\) needs a Value or a real number"):
            getattr(x, row.method)("1")
    want = getattr(ferrograd.Value(0.5), row.method)(-1.5).data
    for dual in (Dual, reference.Dual):
        for other in (dual(-1.5, 1.0), -1.5):
            d = getattr(dual(0.5, 1.0), row.method)(other)
            assert isinstance(d, dual) and repr(d.data) == repr(want)
        with pytest.raises(TypeError, match=rf"{row.method}\(\) needs a Dual or a real number"):
            getattr(dual(0.5), row.method)(None)


def test_composed_methods_and_numpy_names_build_the_table_ops() -> None:
    for engine in ENGINES:
        x = engine.Value(0.5)
        z = x.clamp(0.0, 1.0)
        assert (z.op, z.children[0].op) == tuple(reversed(COMPOSED["clamp"]))
        for alias, method in NUMPY_NAMES.items():
            assert getattr(x, alias)(2.0).op == method
    for dual in (Dual, reference.Dual):
        for alias, method in NUMPY_NAMES.items():
            a, b = getattr(dual(0.5, 1.0), alias)(2.0), getattr(dual(0.5, 1.0), method)(2.0)
            assert (a.data, a.tangent) == (b.data, b.tangent)


def test_the_stubs_declare_every_binary_method() -> None:
    stubs = _stub_methods()
    for name in [r.method for r in BINARY_METHODS] + list(COMPOSED) + list(NUMPY_NAMES):
        assert name in stubs["Value"], f"_core.pyi: Value.{name}"
        assert name in stubs["Dual"], f"_core.pyi: Dual.{name}"


def _stub_docstrings() -> dict[tuple[str, str], str | None]:
    tree = ast.parse((ROOT / "python/ferrograd/_core.pyi").read_text())
    return {
        (cls.name, f.name): ast.get_docstring(f)
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for f in cls.body
        if isinstance(f, ast.FunctionDef)
    }


def test_the_binary_methods_docstrings_are_the_same_in_the_core_and_the_stubs() -> None:
    # Written twice (the table's doc comment in ops.rs, the stub): the same words.
    docs = _stub_docstrings()
    names = [r.method for r in BINARY_METHODS] + list(COMPOSED) + list(NUMPY_NAMES) + ["log"]
    for cls in (ferrograd.Value, Dual):
        for name in names:
            runtime = inspect.cleandoc(getattr(cls, name).__doc__ or "")
            assert docs[(cls.__name__, name)] == runtime, f"{cls.__name__}.{name}"


def test_the_compare_language_calls_every_binary_method() -> None:
    names = {r.method for r in BINARY_METHODS} | {a for r in BINARY_METHODS for a in r.aliases}
    assert set(BINARY_FUNCTIONS) == names


def test_the_readme_lists_every_binary_method() -> None:
    readme = (ROOT / "README.md").read_text()
    (row,) = [line for line in readme.splitlines() if line.startswith("| two-operand methods |")]
    listed = set(re.findall(r"`\w+\.(\w+)\(", row))
    assert listed == {r.method for r in BINARY_METHODS} | set(COMPOSED) | {"log"}


def test_the_custom_row_is_every_custom_op_node() -> None:
    # Code 52 is the row of every ferrograd.custom_op; its nodes show their op's own name.
    (row,) = [r for r in OPS if r.name == "custom"]
    assert (row.arity, row.method, row.param) == (None, "custom_op", None)
    assert reference.OPS[row.code - 1] is reference.CUSTOM
    op = ferrograd.custom_op(lambda x: x, lambda x: 1.0, name="ident")
    for engine in ENGINES:
        assert op(engine.Value(1.0)).op == "ident"
