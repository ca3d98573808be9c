"""The byte formats of pickled graphs and tapes, pinned: files written by an earlier build must
read back to the same graph, and today's build must write the same bytes. An op code renumbered,
a field moved or a float written in another order fails here, not in a user's old pickle.

The graph below uses every op that existed when the files were written, with a label, a slope
and grads set by a backward sweep. Ops added later are appended to the table with new codes, so
they leave these bytes alone.

``graph_v1.bin`` was written when a number operand (``c ** 3.0``) was a leaf node of its own;
``graph_v2.bin`` keeps it in its node, as today's build does. Both read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ferrograd
from ferrograd import Value
from ferrograd._core import Tape, _value_from_bytes

GOLDEN = Path(__file__).parent / "golden"


def every_op(xs: list[Value], three: Value | float = 3.0) -> Value:
    """``ln a + a·b − sin b`` (the seed's example) plus every op of the first op table; the
    exponent ``three`` is a number operand, or a leaf node as such numbers were before v2."""
    a, b, c = xs
    seed = a.log() + a * b - b.sin()
    more = (
        (a * c).tanh()
        + (b / c).sigmoid()
        + c**three
        + a**c
        - c.exp().sqrt()
        + abs(a - c)
        + c.relu()
        + (-b).leaky_relu(0.2)
        + a.cos() * b.tan()
    )
    return ferrograd.sum([seed, more]) + ferrograd.dot(xs, xs)


def graph(leaf_constant: bool = False) -> Value:
    xs = [Value(2.0, "a"), Value(5.0, "b"), Value(0.7, "c")]
    y = every_op(xs, Value(3.0) if leaf_constant else 3.0)
    y.label = "y"
    y.backward()
    return y


def tape(leaf_constant: bool = False) -> Tape:
    xs = [Value(2.0), Value(5.0), Value(0.7)]
    return Tape.record(xs, every_op(xs, Value(3.0) if leaf_constant else 3.0))


def nodes(root: Value) -> list[tuple[str, float, float, str, int]]:
    """Every node behind ``root`` (operands first, each once) as plain data."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append((v.op, v.data, v.grad, v.label, len(v.children)))
        elif v not in seen:
            seen.add(v)
            stack.append((v, True))
            stack.extend((c, False) for c in reversed(v.children))
    return order


@pytest.mark.parametrize(
    ("name", "leaf_constant"), [("graph_v1.bin", True), ("graph_v2.bin", False)]
)
def test_a_graph_is_written_as_the_pinned_bytes(name: str, leaf_constant: bool) -> None:
    # A graph without a number kept in a node is still written as v1, as earlier builds read.
    written = graph(leaf_constant).__reduce__()[1][0]
    assert written == (GOLDEN / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "leaf_constant"), [("graph_v1.bin", True), ("graph_v2.bin", False)]
)
def test_pinned_graph_bytes_read_back_to_the_same_graph(name: str, leaf_constant: bool) -> None:
    pinned = (GOLDEN / name).read_bytes()
    copy = _value_from_bytes(pinned)
    assert nodes(copy) == nodes(graph(leaf_constant))
    assert copy.__reduce__()[1][0] == pinned


def test_a_v1_graph_reads_back_with_its_constant_leaf_as_a_node() -> None:
    # The constant exponent of v1 stays the leaf node it was, grad and all: reading old bytes
    # does not reshape the graph. Its gradients are today's graph's, bit for bit.
    old = _value_from_bytes((GOLDEN / "graph_v1.bin").read_bytes())
    new = graph()
    assert len(nodes(old)) == len(nodes(new))
    differ = [(o, n) for o, n in zip(nodes(old), nodes(new)) if o != n]
    assert [(o[0], o[1], o[4]) for o, n in differ] == [("", 3.0, 0)]
    assert all(o[2] != 0.0 and n[2] == 0.0 for o, n in differ)


@pytest.mark.parametrize("name", ["tape_v1.bin", "tape_v2.bin"])
def test_pinned_tape_bytes_read_back_to_the_same_program(name: str) -> None:
    # v1, the first format, carried a binary op's second operand in its float field; v2, written
    # today, gives it a field of its own. Both read back.
    pinned = Tape.from_bytes((GOLDEN / name).read_bytes())
    assert pinned.same_program(tape())
    point = [1.3, -0.4, 0.9]
    assert pinned.grad(point) == tape().grad(point)


@pytest.mark.parametrize("leaf_constant", [True, False])
def test_a_tape_is_written_as_the_pinned_bytes(leaf_constant: bool) -> None:
    # A number kept in its node records as the constant its leaf node recorded as.
    assert tape(leaf_constant).to_bytes() == (GOLDEN / "tape_v2.bin").read_bytes()


def test_a_v1_tape_cut_short_is_refused_cleanly() -> None:
    pinned = (GOLDEN / "tape_v1.bin").read_bytes()
    for cut in (3, 40, len(pinned) - 1):
        with pytest.raises(ValueError, match="not a valid tape"):
            Tape.from_bytes(pinned[:cut])
