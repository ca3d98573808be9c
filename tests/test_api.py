"""The Python API contract of ``Value``, the same for both engines: construction, settable
state, ``label``/``op``/``children``, operators with numbers on either side, identity equality
and hashing, ``item()`` and ``repr()``."""

from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np
import pytest
from conftest import ENGINES, UNARY_OPS, Engine, call_unary, central_difference


def test_new_value_holds_a_float_and_zero_grad(engine: Engine) -> None:
    v = engine.Value(3)
    assert type(v.data) is float and v.data == 3.0
    assert type(v.grad) is float and v.grad == 0.0
    assert v.label == ""
    assert v.op == ""
    assert v.children == ()


def test_label_is_the_second_positional_argument_and_settable(engine: Engine) -> None:
    v = engine.Value(1.0, "weight")
    assert v.label == "weight"
    assert engine.Value(1.0, label="bias").label == "bias"
    v.label = "w0"
    assert v.label == "w0"
    v.label = ""
    assert v.label == ""
    assert (v * 2).label == ""


def test_data_and_grad_are_settable_with_any_real_number(engine: Engine) -> None:
    v = engine.Value(1.0)
    v.data = 4
    v.grad = True
    assert (v.data, v.grad) == (4.0, 1.0)
    assert type(v.data) is float and type(v.grad) is float
    v.data = -2.5
    assert (v * 2).data == -5.0


OPERATORS: list[tuple[str, str, Callable[[Any, Any], Any], Callable[[float, float], float]]] = [
    ("+", "+", lambda a, b: a + b, lambda a, b: a + b),
    ("-", "-", lambda a, b: a - b, lambda a, b: a - b),
    ("*", "*", lambda a, b: a * b, lambda a, b: a * b),
    ("/", "/", lambda a, b: a / b, lambda a, b: a / b),
    ("**", "**", lambda a, b: a**b, lambda a, b: a**b),
]


@pytest.mark.parametrize("symbol, op, apply, expected", OPERATORS, ids=[o[0] for o in OPERATORS])
@pytest.mark.parametrize("other", [3, 2.5, True], ids=["int", "float", "bool"])
def test_operators_take_numbers_on_either_side_as_constant_first_or_second_operands(
    engine: Engine,
    symbol: str,
    op: str,
    apply: Callable[[Any, Any], Any],
    expected: Callable[[float, float], float],
    other: Any,
) -> None:
    v = engine.Value(1.5)
    right = apply(v, other)
    left = apply(other, v)
    both = apply(v, engine.Value(other))
    assert right.data == expected(1.5, float(other)) == both.data
    assert left.data == expected(float(other), 1.5)
    for z, value_at in ((right, 0), (left, 1)):
        assert z.op == op
        assert len(z.children) == 2
        assert z.children[value_at] == v
        constant = z.children[1 - value_at]
        assert constant.op == "" and constant.data == float(other)


def test_unary_minus_abs_and_plus(engine: Engine) -> None:
    v = engine.Value(-2.0)
    assert (-v).data == 2.0 and (-v).op == "neg" and (-v).children == (v,)
    assert abs(v).data == 2.0 and abs(v).op == "abs"
    assert +v == v


OP_NAMES = [(row.name, lambda v, r=row: call_unary(r, v)) for row in UNARY_OPS]


@pytest.mark.parametrize("name, method", OP_NAMES, ids=[n for n, _ in OP_NAMES])
def test_each_method_makes_one_node_named_for_its_op(
    engine: Engine, name: str, method: Callable[[Any], Any]
) -> None:
    v = engine.Value(0.5)
    z = method(v)
    assert isinstance(z, engine.Value)
    assert z.op == name
    assert z.children == (v,)
    assert z.grad == 0.0


def test_op_strings_are_the_same_in_both_engines() -> None:
    def ops(e: Engine) -> list[str]:
        x, y = e.Value(0.5), e.Value(2.0)
        nodes = [x, x + y, x - y, x * y, x / y, x**y, 2**x, -x, abs(x), e.sum([x]), e.dot([x], [y])]
        nodes += [method(x) for _, method in OP_NAMES]
        return [n.op for n in nodes]

    assert ops(ENGINES[0]) == ops(ENGINES[1])


def test_children_are_live_handles_to_the_operands(engine: Engine) -> None:
    a, b = engine.Value(2.0), engine.Value(3.0)
    c = a * b
    first, second = c.children
    assert first == a and second == b
    first.data = 10.0
    assert a.data == 10.0
    b.grad = 7.0
    assert second.grad == 7.0
    first.label = "a"
    assert a.label == "a"


def test_a_times_a_has_two_children_both_a(engine: Engine) -> None:
    a = engine.Value(2.0)
    assert (a * a).children == (a, a)


def test_equality_and_hash_are_by_node_identity(engine: Engine) -> None:
    a, b = engine.Value(1.0), engine.Value(1.0)
    same = a
    assert a == same
    assert a != b
    assert (a == b) is False
    assert a != 1.0
    assert (a == 1.0) is False
    c = a + b
    handle = c.children[0]
    assert handle == a
    assert (handle != a) is False
    assert hash(handle) == hash(a)
    assert len({a, b, handle, c.children[1]}) == 2
    grads = {a: "a", b: "b"}
    assert grads[handle] == "a"


def test_hash_is_stable_while_the_node_lives(engine: Engine) -> None:
    a = engine.Value(1.0)
    h = hash(a)
    a.data = 5.0
    a.grad = 3.0
    (a * 2).backward()
    assert hash(a) == h


def test_item_gives_data(engine: Engine) -> None:
    v = engine.Value(2.5)
    assert v.item() == 2.5
    v.data = -1
    assert v.item() == -1.0
    assert type(v.item()) is float


def test_repr_shows_data_grad_and_label(engine: Engine) -> None:
    v = engine.Value(2.0)
    assert repr(v) == "Value(data=2.0, grad=0.0)"
    v.grad = 0.5
    assert repr(v) == "Value(data=2.0, grad=0.5)"
    assert repr(engine.Value(-0.1, "w")) == "Value(data=-0.1, grad=0.0, label='w')"
    assert repr(engine.Value(float("nan"))) == "Value(data=nan, grad=0.0)"
    assert repr(engine.Value(float("-inf"))) == "Value(data=-inf, grad=0.0)"
    assert repr(engine.Value(1e-300)) == "Value(data=1e-300, grad=0.0)"


def test_repr_is_the_same_in_both_engines() -> None:
    for data, label in [(1 / 3, ""), (1e22, "big"), (-0.0, "it's")]:
        r = [repr(e.Value(data, label)) for e in ENGINES]
        assert r[0] == r[1]


def test_compound_assignment_builds_new_nodes(engine: Engine) -> None:
    a = engine.Value(1.0)
    b = a
    b += 2
    assert b.data == 3.0 and a.data == 1.0
    assert b.children[0] == a
    b *= b
    b -= 1
    b /= 2
    b **= 2
    b.backward()
    # b = (((a + 2)^2 - 1) / 2)^2 = 16 at a = 1; db/da = 2 · 4 · (a + 2) = 24.
    assert b.data == 16.0
    assert a.grad == 24.0


def test_value_to_a_value_power_and_number_to_a_value_power(engine: Engine) -> None:
    x, y = engine.Value(2.0), engine.Value(3.0)
    z = x**y
    assert z.data == 8.0 and z.children == (x, y)
    w = 2**y
    assert w.data == 8.0 and w.children[1] == y and w.children[0].data == 2.0


def test_pickle_copies_the_whole_graph_with_grads_labels_slopes_and_sharing(
    engine: Engine,
) -> None:
    x = engine.Value(-2.0, "x")
    y = engine.dot([x * x, x], [x, 3]).leaky_relu(0.3)
    y.backward()
    copy = pickle.loads(pickle.dumps(y))
    assert copy != y
    assert (copy.data, copy.grad, copy.op) == (y.data, y.grad, "leaky_relu")
    square = copy.children[0].children[0]
    leaf = square.children[0]
    assert square.children[1] == leaf  # x * x still has one operand twice
    assert copy.children[0].children[1] == leaf  # and x is shared across the graph
    assert (leaf.label, leaf.grad, leaf.data) == ("x", x.grad, -2.0)
    copy.backward()  # the copy sweeps like the original: same slope, same sharing
    assert leaf.grad == 2 * x.grad
    assert x.grad == leaf.grad / 2


def test_pickle_of_a_deep_graph_needs_no_recursion(engine: Engine) -> None:
    y = engine.Value(0.5)
    for _ in range(100_000):
        y = y.sin()
    copy = pickle.loads(pickle.dumps(y))
    assert copy.data == y.data


@pytest.mark.parametrize("symbol, op, apply, expected", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_numpy_scalars_on_either_side_keep_the_graph(
    engine: Engine,
    symbol: str,
    op: str,
    apply: Callable[[Any, Any], Any],
    expected: Callable[[float, float], float],
) -> None:
    # numpy's own operators run first when its scalar is on the left; the result must still be
    # a node of the graph, not a float that dropped the Value's gradient.
    for scalar in (np.float64(2.0), np.float32(2.0), np.int64(2)):
        for value_first in (True, False):

            def build(t: float, scalar: Any = scalar, value_first: bool = value_first) -> Any:
                v = engine.Value(t)
                return v, apply(v, scalar) if value_first else apply(scalar, v)

            v, z = build(3.0)
            assert isinstance(z, engine.Value)
            assert z.op == op
            assert z.data == (expected(3.0, 2.0) if value_first else expected(2.0, 3.0))
            z.backward()
            numeric = central_difference(lambda t, build=build: build(t)[1].data, 3.0)
            assert v.grad == pytest.approx(numeric, rel=1e-6)
