"""Seeded random programs, using every op, run on both engines: every node's data and grad agree.

The reference engine computes each op with the Rust engine's formula in the same floating-point
order and sweeps in the same order, so the two agree to the last bit (NaN matching NaN); the
contract's floor is 1e-12 relative, checked as well.
"""

from __future__ import annotations

import math
import operator
import random
import struct
from typing import Any

import pytest
from conftest import (
    BINARY_METHODS,
    ENGINES,
    OP_TABLE,
    REFERENCE,
    UNARY_OPS,
    Engine,
    call_unary,
)

from ferrograd import reference

OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}
BINARY = list(OPERATORS) + [row.method for row in BINARY_METHODS]  # and y.atan2(x), ...
UNARY = [row.name for row in UNARY_OPS]  # every unary op of the table
_ROWS = {row.name: row for row in UNARY_OPS}

Instruction = tuple[Any, ...]


def _operand(rng: random.Random, n: int) -> int:
    """An earlier node, recent ones more often, so graphs are deep as well as wide."""
    return max(0, n - 1 - int(rng.expovariate(0.3))) if rng.random() < 0.8 else rng.randrange(n)


def _constant(rng: random.Random) -> float | int:
    return rng.choice([rng.randint(-3, 3), round(rng.uniform(-2.5, 2.5), 3), 0.5, 2])


def _instruction(rng: random.Random, n: int) -> Instruction:
    kind = rng.choices(["vv", "vc", "cv", "unary", "sum", "dot"], [5, 2, 2, 6, 1, 1])[0]
    if kind == "vv":
        return ("vv", rng.choice(BINARY), _operand(rng, n), _operand(rng, n))
    if kind in ("vc", "cv"):
        return (kind, rng.choice(BINARY), _operand(rng, n), _constant(rng))
    if kind == "unary":
        op = rng.choice(UNARY)
        slope = rng.choice([None, 0.0, 0.2, 1.5]) if op == "leaky_relu" else None
        return ("unary", op, _operand(rng, n), slope)
    length = rng.randint(0 if kind == "sum" else 1, 5)
    items = [_operand(rng, n) if rng.random() < 0.8 else -1 for _ in range(2 * length)]
    return (kind, items, [_constant(rng) for _ in items])


def make_program(seed: int, steps: int = 40) -> tuple[list[float], list[Instruction]]:
    """Inputs and instructions; instruction i makes node len(inputs) + i from earlier nodes.

    A NaN or an overflow poisons every node downstream and every gradient upstream, so an
    instruction whose result would leave [-1e8, 1e8] is usually drawn again (judged on the
    reference engine); one in twenty such results is kept, so special values are still met.
    """
    rng = random.Random(seed)
    inputs = [round(rng.uniform(-2.0, 2.0), 6) for _ in range(rng.randint(2, 5))]
    program: list[Instruction] = []
    nodes = [reference.Value(x) for x in inputs]
    while len(program) < steps:
        ins = _instruction(rng, len(nodes))
        node = _step(REFERENCE, nodes, ins)
        if abs(node.data) <= 1e8 or rng.random() < 0.05:
            program.append(ins)
            nodes.append(node)
    return inputs, program


def _apply(symbol: str, a: Any, b: Any) -> Any:
    if symbol in OPERATORS:
        return OPERATORS[symbol](a, b)
    return getattr(a, symbol)(b)  # a method: y.atan2(x)


def _step(engine: Engine, nodes: list[Any], ins: Instruction) -> Any:
    """The node instruction ``ins`` makes from ``nodes`` on ``engine``."""
    kind = ins[0]
    if kind == "vv":
        return _apply(ins[1], nodes[ins[2]], nodes[ins[3]])
    if kind == "vc":
        return _apply(ins[1], nodes[ins[2]], ins[3])
    if kind == "cv":
        if ins[1] not in OPERATORS:  # a method of a number: a constant leaf first
            return _apply(ins[1], engine.Value(ins[3]), nodes[ins[2]])
        return _apply(ins[1], ins[3], nodes[ins[2]])
    if kind == "unary":
        op, x, slope = ins[1], nodes[ins[2]], ins[3]
        if op == "neg":
            return -x
        if op == "abs":
            return abs(x)
        if op == "leaky_relu":
            return x.leaky_relu() if slope is None else x.leaky_relu(slope)
        return call_unary(_ROWS[op], x)
    items = [nodes[i] if i >= 0 else c for i, c in zip(ins[1], ins[2])]
    if kind == "sum":
        return engine.sum(items)
    half = len(items) // 2
    return engine.dot(items[:half], items[half:])


def run(engine: Engine, inputs: list[float], program: list[Instruction]) -> list[Any]:
    """Builds the program's graph on ``engine``; returns its nodes in program order."""
    nodes = [engine.Value(x, f"x{i}") for i, x in enumerate(inputs)]
    for ins in program:
        nodes.append(_step(engine, nodes, ins))
    return nodes


def walk(root: Any) -> list[tuple[str, float, float, int, str]]:
    """Every ancestor of ``root`` once, depth first in operand order, as comparable records."""
    records = []
    seen = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        children = node.children
        records.append((node.op, node.data, node.grad, len(children), node.label))
        for child in reversed(children):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return records


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _agree_bitwise(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or _bits(a) == _bits(b)


def _agree_relative(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return _agree_bitwise(a, b) or a == b
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b)) or a == b


def _compare(seed: int) -> tuple[int, int]:
    """Runs program ``seed`` on both engines and asserts agreement; returns (finite, all)."""
    inputs, program = make_program(seed)
    graphs = [run(e, inputs, program) for e in ENGINES]
    rng = random.Random(seed + 1)
    # Two sweeps: from the last node, then from a random one, so grads accumulate.
    second = rng.randrange(len(graphs[0]))
    for nodes in graphs:
        nodes[-1].backward()
        nodes[second].backward()

    finite = total = 0
    for index, (a, b) in enumerate(zip(*graphs)):
        for field in ("data", "grad"):
            x, y = getattr(a, field), getattr(b, field)
            assert _agree_relative(x, y), f"seed {seed}: node {index} {field}: {x!r} vs {y!r}"
            assert _agree_bitwise(x, y), f"seed {seed}: node {index} {field}: {x!r} vs {y!r}"
        assert a.op == b.op
    walks = [walk(nodes[-1]) for nodes in graphs]
    assert len(walks[0]) == len(walks[1])
    for ra, rb in zip(*walks):
        assert ra[0] == rb[0] and ra[3:] == rb[3:], f"seed {seed}: {ra} vs {rb}"
        assert _agree_bitwise(ra[1], rb[1]) and _agree_bitwise(ra[2], rb[2]), f"seed {seed}"
        total += 1
        finite += math.isfinite(ra[1]) and math.isfinite(ra[2])
    return finite, total


@pytest.mark.parametrize("block", range(10))
def test_random_programs_agree_bit_for_bit_on_every_node(block: int) -> None:
    finite = total = 0
    for seed in range(block * 50, (block + 1) * 50):
        f, t = _compare(seed)
        finite += f
        total += t
    # The programs must mostly exercise ordinary numbers, not only NaN and inf.
    assert finite > 0.6 * total, (finite, total)


def test_random_programs_use_every_op() -> None:
    ops: set[str] = set()
    for seed in range(100):
        inputs, program = make_program(seed)
        ops.update(node.op for node in run(ENGINES[1], inputs, program))
    # "custom" is the row of user-defined ops, each shown by its own name (test_custom_op.py).
    assert ops >= {row.name for row in OP_TABLE if row.code != 0 and row.name != "custom"}


def test_the_walk_sees_a_difference_when_there_is_one() -> None:
    # The comparison is only as good as its ability to fail: perturb one engine's leaf.
    inputs, program = make_program(7)
    a = run(ENGINES[0], inputs, program)
    # An input the root depends on (its label is x<i>).
    i = next(int(label[1:]) for *_, label in walk(a[-1]) if label)
    inputs[i] = math.nextafter(inputs[i], math.inf)
    b = run(ENGINES[1], inputs, program)
    a[-1].backward()
    b[-1].backward()
    assert walk(a[-1]) != walk(b[-1])


SPECIAL = [
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    1e308,
    -1e308,
    5e-324,
    -5e-324,
    1e-300,
    710.0,
    -745.5,
    math.pi / 2,
    -1.0,
    0.5,
    2.0,
    3,
]


@pytest.mark.parametrize("block", range(4))
def test_programs_on_special_values_agree_bit_for_bit(block: int) -> None:
    # Inputs and constants drawn from zeros, infinities, NaN, extremes and poles, with no
    # redrawing: every IEEE special case of every op, met in the same way by both engines.
    for seed in range(block * 150, (block + 1) * 150):
        rng = random.Random(seed)
        inputs = [rng.choice(SPECIAL) for _ in range(rng.randint(2, 5))]
        program = []
        for i in range(25):
            ins = _instruction(rng, len(inputs) + i)
            if ins[0] in ("vc", "cv"):
                ins = (*ins[:3], rng.choice(SPECIAL))
            program.append(ins)
        graphs = [run(e, inputs, program) for e in ENGINES]
        for nodes in graphs:
            nodes[-1].backward()
        for index, (a, b) in enumerate(zip(*graphs)):
            for field in ("data", "grad"):
                x, y = getattr(a, field), getattr(b, field)
                assert _agree_bitwise(x, y), f"seed {seed}: node {index} {field}: {x!r} vs {y!r}"


def _spread(rng: random.Random) -> float:
    """A point anywhere: ordinary, next to ±1 (the inverse functions' edges), tiny or huge."""
    x = rng.choice(
        [
            rng.uniform(-4.0, 4.0),
            1.0 + rng.choice([-1, 1]) * 10 ** rng.uniform(-16, -1),
            10 ** rng.uniform(-320, 308),
            rng.choice(SPECIAL),
        ]
    )
    return -x if rng.random() < 0.5 else x


@pytest.mark.parametrize("row", UNARY_OPS, ids=[r.name for r in UNARY_OPS])
def test_each_unary_op_agrees_bit_for_bit_across_its_domain(row: Any) -> None:
    # Both engines call the same libm (the C library's asinh/acosh/atanh included), so each op's
    # value and slope are the same double at every point, its special points among them.
    rng = random.Random(row.name)
    for _ in range(1500):
        x = _spread(rng)
        leaves = [engine.Value(x) for engine in ENGINES]
        outs = [call_unary(row, leaf) for leaf in leaves]
        for z in outs:
            z.backward()
        assert _agree_bitwise(outs[0].data, outs[1].data), (row.name, x, outs)
        assert _agree_bitwise(leaves[0].grad, leaves[1].grad), (row.name, x, leaves)
