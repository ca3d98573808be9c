"""Forward mode and reverse mode agree at every special point of every op.

Each op runs at ±0, ±inf, NaN, the domain edges (log and sqrt at 0, exp's overflow at 710, the
largest and a subnormal float) and ordinary points, with the other operand a constant or an
input. The reverse derivatives (both graph engines and ``Tape.grad``) are the oracle; forward
mode (``Dual``, ``jvp``, ``Tape.jvp``) must give the same number: a zero tangent stays zero
through every product with an infinite or NaN value (DESIGN.md §3).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from conftest import UNARY_OPS, same_float

import ferrograd
from ferrograd import Dual, jvp, reference

INF, NAN = math.inf, math.nan
POINTS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, INF, -INF, NAN, 710.0, -710.0, 1e308, 5e-324]

# name -> f(x) written with operators and methods, so it runs on Values and on Duals alike:
# every unary op of the table without a parameter, by its method, then compositions
UNARY: dict[str, Callable[[Any], Any]] = {
    **{
        row.name: (lambda x, m=row.method: getattr(x, m)())
        for row in UNARY_OPS
        if row.param is None and row.method
    },
    "gelu_tanh": lambda x: x.gelu(approximate="tanh"),
    "x + 2": lambda x: x + 2,
    "2 - x": lambda x: 2 - x,
    "x * 2": lambda x: x * 2,
    "2 * x": lambda x: 2 * x,
    "x * 0.5": lambda x: x * 0.5,
    "x / 2": lambda x: x / 2,
    "2 / x": lambda x: 2 / x,
    "x * x": lambda x: x * x,
    "relu(x) * 3": lambda x: x.relu() * 3,
    "sqrt(x) * 1": lambda x: x.sqrt() * 1,
    "exp(x) * 0.5": lambda x: x.exp() * 0.5,
}
# ops Dual does not have: checked on tapes and graphs only
TAPE_ONLY: dict[str, Callable[[Any], Any]] = {
    "leaky_relu(0.1)": lambda x: x.leaky_relu(0.1),
    "leaky_relu(0)": lambda x: x.leaky_relu(0.0),
    "x ** 2": lambda x: x**2,
    "x ** 3": lambda x: x**3,
    "x ** 0": lambda x: x**0,
    "x ** 0.5": lambda x: x**0.5,
    "x ** -1": lambda x: x**-1,
    "2 ** x": lambda x: 2**x,
    "0.5 ** x": lambda x: 0.5**x,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "x + y": lambda x, y: x + y,
    "x - y": lambda x, y: x - y,
    "x * y": lambda x, y: x * y,
    "x / y": lambda x, y: x / y,
}
BINARY_TAPE_ONLY: dict[str, Callable[[Any, Any], Any]] = {"x ** y": lambda x, y: x**y}
SECOND = [1.0, 0.0, -0.0, 2.0, INF, -INF, NAN]


def agree(forward: float, reverse: float) -> bool:
    """The same number: NaN with NaN, infinities exactly, finite values to rounding."""
    if math.isnan(forward) or math.isnan(reverse) or math.isinf(reverse):
        return same_float(forward, reverse) or forward == reverse
    return math.isclose(forward, reverse, rel_tol=1e-12, abs_tol=1e-300)


def reverse_grads(f: Callable[..., Any], point: list[float]) -> list[float]:
    """The gradient from the Rust graph, checked against the reference graph and the tape."""
    grads = []
    for Value in (ferrograd.Value, reference.Value):
        xs = [Value(p) for p in point]
        f(*xs).backward()
        grads.append([x.grad for x in xs])
    _, tape_grad = ferrograd.compile(f, len(point), example=point).grad(point)
    for engine_grad in grads[1:] + [tape_grad.tolist()]:
        assert all(same_float(a, b) for a, b in zip(grads[0], engine_grad)), (grads, tape_grad)
    return grads[0]


def forward_tangents(f: Callable[..., Any], point: list[float], i: int, dual: bool) -> list[float]:
    """The derivative along input ``i`` from ``Tape.jvp`` and, where ``dual``, ``jvp``/``Dual``."""
    direction = [1.0 if j == i else 0.0 for j in range(len(point))]
    tape = ferrograd.compile(f, len(point), example=point)
    out = [tape.jvp(point, direction)[1]]
    if dual:
        out.append(jvp(f, point, direction)[1])
        out.append(f(*(Dual(p, d) for p, d in zip(point, direction))).tangent)
    return out


def _check(f: Callable[..., Any], point: list[float], dual: bool) -> None:
    with np.errstate(all="ignore"):
        grads = reverse_grads(f, point)
        for i, g in enumerate(grads):
            for t in forward_tangents(f, point, i, dual):
                assert agree(t, g), f"forward {t!r} vs reverse {g!r} along x{i} at {point}"


@pytest.mark.parametrize("x", POINTS, ids=repr)
@pytest.mark.parametrize("name", list(UNARY) + list(TAPE_ONLY))
def test_unary_forward_equals_reverse(name: str, x: float) -> None:
    f = UNARY.get(name) or TAPE_ONLY[name]
    _check(f, [x], dual=name in UNARY)


@pytest.mark.parametrize("y", SECOND, ids=repr)
@pytest.mark.parametrize("x", POINTS, ids=repr)
@pytest.mark.parametrize("name", list(BINARY) + list(BINARY_TAPE_ONLY))
def test_binary_forward_equals_reverse(name: str, x: float, y: float) -> None:
    f = BINARY.get(name) or BINARY_TAPE_ONLY[name]
    _check(f, [x, y], dual=name in BINARY)


@pytest.mark.parametrize(
    ("f", "at", "expected"),
    [
        (lambda x: x * 2, INF, 2.0),
        (lambda x: x / 2, INF, 0.5),
        (lambda x: 2 * x, -INF, 2.0),
        (lambda x: x.relu() * 3, INF, 3.0),
        (lambda x: x.sqrt() * 1, INF, 0.0),
        (lambda x: x.leaky_relu(0.1), -INF, 0.1),
        (lambda x: x.relu(), NAN, 0.0),
    ],
)
def test_the_reported_cases_give_the_reverse_mode_number(
    f: Callable[[Any], Any], at: float, expected: float
) -> None:
    tape = ferrograd.compile(f, 1, example=[at])
    assert same_float(tape.jvp([at], [1.0])[1], expected)
    assert same_float(tape.grad([at])[1][0], expected)


def test_exp_times_a_half_at_710_is_infinite_not_nan() -> None:
    tape = ferrograd.compile(lambda x: x.exp() * 0.5, 1, example=[710.0])
    assert tape.jvp([710.0], [1.0])[1] == INF == tape.grad([710.0])[1][0]
    assert Dual(710.0, 1.0).exp().__mul__(0.5).tangent == INF


@pytest.mark.parametrize(
    ("f", "point", "expected"),
    [
        (lambda x: x * 2, [INF], [[0.0]]),
        (lambda x: x.relu() * 3, [INF], [[0.0]]),
        (lambda x, y: x * y, [INF, 1.0], [[0.0, 1.0], [1.0, 0.0]]),
        (lambda x, y: x * y * 2, [-INF, 3.0], [[0.0, 2.0], [2.0, 0.0]]),
        (lambda x: x.relu(), [NAN], [[0.0]]),
    ],
)
def test_hessian_keeps_zero_tangents_zero_at_special_points(
    f: Callable[..., Any], point: list[float], expected: list[list[float]]
) -> None:
    h = ferrograd.compile(f, len(point), example=point).hessian(point)
    assert h.tolist() == expected
