"""A number operand of a binary op (``x + 2.0``, ``0.9 * x``, ``x ** 3``) is kept in its node,
not in a leaf node of its own. What a user can see: the graph has fewer nodes; ``children``
still shows the number, as a fresh leaf Value on each read; every value and gradient is what
a constant leaf ``Value(k)`` gives, bit for bit, in both engines; pickles and tapes carry it.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import pytest
from conftest import ENGINES, OP_TABLE, REFERENCE, RUST, Engine, same_float

import ferrograd
from ferrograd import reference
from ferrograd._core import Tape
from ferrograd.testing import compare_engines
from ferrograd.viz import to_dot

BINARY = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "**": "__pow__"}
REFLECTED = {
    "+": "__radd__",
    "-": "__rsub__",
    "*": "__rmul__",
    "/": "__rtruediv__",
    "**": "__rpow__",
}
POINTS = [0.7, -1.5, 0.0, -0.0, 2.0, 1e300, math.inf, math.nan]
NUMBERS = [0.9, -2.0, 0.0, -0.0, 3.0, 0.5, math.inf, 7]


def test_every_binary_operator_of_the_table_is_covered() -> None:
    # The operators keep a number operand in their node; the binary methods (``y.atan2(2.0)``)
    # make it a constant leaf, as their test in test_binary_methods.py checks.
    assert {row.name for row in OP_TABLE if row.arity == 2 and not row.method} == set(BINARY)


def apply(x: Any, op: str, k: Any, left: bool) -> Any:
    """``k op x`` when ``left``, else ``x op k``, with ``k`` a number or a Value."""
    return getattr(x, REFLECTED[op] if left else BINARY[op])(k)


def link(engine: Engine, x: Any, op: str, k: float, left: bool, leaf: bool) -> Any:
    """``tanh(x op k) * x`` with ``k`` a plain number, or a leaf ``Value(k)``."""
    operand = engine.Value(k) if leaf else k
    if leaf and left:
        z = getattr(operand, BINARY[op])(x)
    else:
        z = apply(x, op, operand, left)
    return z.tanh() * x


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("left", [False, True], ids=["x op k", "k op x"])
def test_values_and_gradients_are_a_constant_leafs_bit_for_bit(op: str, left: bool) -> None:
    for x in POINTS:
        for k in NUMBERS:
            results = []
            for engine in ENGINES:
                for leaf in (False, True):
                    v = engine.Value(x)
                    z = link(engine, v, op, float(k), left, leaf)
                    z.backward()
                    results.append((z.data, v.grad))
            first = results[0]
            for other in results[1:]:
                assert same_float(first[0], other[0]) and same_float(first[1], other[1]), (
                    f"{'k op x' if left else 'x op k'} {op} at x={x}, k={k}: {results}"
                )


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_children_show_the_number_as_a_fresh_leaf(engine: Engine) -> None:
    x = engine.Value(2.0, "x")
    y = 0.9 * x + 0.1
    y.backward()
    product, number = y.children
    assert (number.op, number.data, number.grad, number.label, number.children) == (
        "",
        0.1,
        0.0,
        "",
        (),
    )
    again = y.children
    assert again[0] == product and again[0] is not None
    assert again[1] is not number and again[1] != number
    k, same_x = product.children
    assert same_x == x and k.data == 0.9 and x.grad == 0.9
    # The leaf is outside the graph: changing it changes nothing.
    number.data = 5.0
    number.grad = 3.0
    assert y.children[1].data == 0.1 and y.children[1].grad == 0.0
    y.backward()
    assert x.grad == 2 * 0.9


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_a_chain_of_number_links_has_three_nodes_per_link(engine: Engine) -> None:
    x = engine.Value(0.5)
    y = x
    for _ in range(100):
        y = (0.1 + 0.9 * y).tanh()
    seen, stack, ops = {y}, [y], 0
    while stack:
        v = stack.pop()
        ops += v.op != ""
        for c in v.children:
            if c.op and c not in seen:
                seen.add(c)
                stack.append(c)
    assert ops == 300
    if engine is REFERENCE:
        assert len(y._topo_order()) == 301  # the ops and x, no constant leaves


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_a_value_operand_is_still_a_node_of_the_graph(engine: Engine) -> None:
    x, k = engine.Value(2.0), engine.Value(3.0)
    y = x * k
    y.backward()
    assert y.children[1] == k and k.grad == 2.0


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_pickles_keep_the_number_in_its_node(engine: Engine) -> None:
    x = engine.Value(0.5, "x")
    y = ((2.0 - x) * 3.0) ** 2.0 / 4 + 2**x
    y.backward()
    copy = pickle.loads(pickle.dumps(y))
    assert (copy.data, copy.grad) == (y.data, y.grad)
    walk = [(copy, y)]
    while walk:
        a, b = walk.pop()
        assert (a.op, a.data, a.grad, a.label, len(a.children)) == (
            b.op,
            b.data,
            b.grad,
            b.label,
            len(b.children),
        )
        walk.extend(zip(a.children, b.children))
    # The copy is a live graph: its leaf x is reached through children and gets its gradient.
    x_copy = copy.children[1].children[1]
    assert x_copy.label == "x"
    copy.backward()
    assert x_copy.grad == 2 * x.grad


def test_a_reference_pickle_written_with_constant_leaves_still_loads() -> None:
    # The records a reference graph pickled as before numbers were kept in nodes: 2.0 + x with
    # the 2.0 a leaf of its own (operands are indices only).
    records = [
        ("", 2.0, 1.0, "", 0.0, ()),
        ("", 0.5, 1.0, "x", 0.0, ()),
        ("+", 2.5, 1.0, "", 0.0, (0, 1)),
    ]
    y = reference._graph_from_records(records)
    two, x = y.children
    assert (two.data, two.grad, x.label) == (2.0, 1.0, "x")
    assert y.children[0] is two  # a leaf node, as it was
    y.backward()
    assert (two.grad, x.grad) == (2.0, 2.0)


def test_tapes_record_the_number_as_the_constant_a_leaf_recorded() -> None:
    # A number on the right records as its leaf did: a constant just before its op (each use
    # of a number is a constant of its own, so each use gets a leaf of its own here).
    def f(x: Any, y: Any, k: Any) -> Any:
        return ((x * k() + k()) ** k() / k() - k()).tanh() * y

    xs = [ferrograd.Value(0.3), ferrograd.Value(-1.2)]
    ys = [ferrograd.Value(0.3), ferrograd.Value(-1.2)]
    numbers = Tape.record(xs, f(*xs, lambda: 1.5))
    leaves = Tape.record(ys, f(*ys, lambda: ferrograd.Value(1.5)))
    assert numbers.same_program(leaves)
    assert Tape.from_bytes(numbers.to_bytes()).same_program(leaves)

    # On the left the constant comes later in the recording, the same program all the same.
    def g(x: Any, k: Any) -> Any:
        return (k() - (k() / (k() ** x))).sin()

    a, b = ferrograd.Value(0.3), ferrograd.Value(0.3)
    left = Tape.record([a], g(a, lambda: 1.5))
    left_leaf = Tape.record([b], g(b, lambda: ferrograd.Value(1.5)))
    for point in ([0.3], [-2.0], [4.5]):
        got, want = left.grad(point), left_leaf.grad(point)
        assert same_float(got[0], want[0]) and same_float(got[1][0], want[1][0])
        x = ferrograd.Value(point[0])
        graph = g(x, lambda: 1.5)
        graph.backward()
        assert same_float(got[0], graph.data) and same_float(got[1][0], x.grad)


def test_compiled_functions_with_numbers_match_the_graph() -> None:
    def f(x: Any, y: Any) -> Any:
        return (1 - x / 3) ** 2 + 0.5 * (y - 2) ** 3

    tape = ferrograd.compile(f, 2)
    x, y = ferrograd.Value(0.25), ferrograd.Value(-1.0)
    out = f(x, y)
    out.backward()
    value, grad = tape.grad([0.25, -1.0])
    assert (value, list(grad)) == (out.data, [x.grad, y.grad])


def test_the_engines_agree_node_by_node_on_number_operands() -> None:
    comparison = compare_engines(lambda x, y: (2 - x * 0.5) / (y**2 + 1) - 3**x, [0.4, -1.3])
    assert comparison.agree
    assert sum(1 for row in comparison.rows if row.op == "") == 2 + 5


@pytest.mark.parametrize("engine", [RUST, REFERENCE], ids=["rust", "reference"])
def test_pictures_draw_the_number_as_a_leaf(engine: Engine) -> None:
    x = engine.Value(1.0, "x")
    text = to_dot(x * 2.0 + 1.0)
    # x, two numbers and two op nodes; an edge into each op from both of its operands.
    assert text.count("shape=record") == 5
    assert text.count("_op;") == 4
