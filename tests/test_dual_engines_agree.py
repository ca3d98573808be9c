"""``ferrograd.Dual`` and ``ferrograd.reference.Dual`` give the same bits, as the two graph
engines do, with tangents other than 1: a unary op's tangent is its slope times the tangent in
both, and the quotient rule rounds as one formula, not one per engine."""

from __future__ import annotations

import itertools
import random
from typing import Any, Callable

import pytest
from conftest import same_float

import ferrograd
from ferrograd import reference

INF, NAN = float("inf"), float("nan")
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, INF, -INF, NAN, 1e308, 5e-324, 1e-300, 710.0]

QUOTIENTS: dict[str, Callable[[Any, Any], Any]] = {
    "x / y": lambda x, y: x / y,
    "3 / y": lambda x, y: 3.0 / y,
    "x / 3": lambda x, y: x / 3.0,
    "x.log(y)": lambda x, y: x.log(y),
    "x.log(2.5)": lambda x, y: x.log(2.5),
    "x ** y": lambda x, y: x**y,
    "x.atan2(y)": lambda x, y: x.atan2(y),
    "x.hypot(y)": lambda x, y: x.hypot(y),
    "x.minimum(y)": lambda x, y: x.minimum(y),
    "x.maximum(y)": lambda x, y: x.maximum(y),
    "x.clamp(y, 1.5)": lambda x, y: x.clamp(y, 1.5),
    "x.leaky_relu(0.2) * y": lambda x, y: x.leaky_relu(0.2) * y,
    "x.gelu('tanh') - abs(y)": lambda x, y: x.gelu("tanh") - abs(y),
}


def _points() -> list[tuple[float, float, float, float]]:
    rng = random.Random(7)
    out = [
        (rng.uniform(0.1, 5.0), rng.uniform(0.1, 5.0), rng.uniform(-2, 2), rng.uniform(-2, 2))
        for _ in range(300)
    ]
    tangents = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)]
    out += [(x, y, tx, ty) for x, y in itertools.product(SPECIAL, SPECIAL) for tx, ty in tangents]
    return out


@pytest.mark.parametrize("name", QUOTIENTS)
def test_both_duals_give_the_same_bits(name: str) -> None:
    f = QUOTIENTS[name]
    for x, y, tx, ty in _points():
        rust = f(ferrograd.Dual(x, tx), ferrograd.Dual(y, ty))
        ref = f(reference.Dual(x, tx), reference.Dual(y, ty))
        assert same_float(rust.data, ref.data), (name, x, y, tx, ty)
        assert same_float(rust.tangent, ref.tangent), (name, x, y, tx, ty, rust, ref)


def test_the_tapes_jvp_gives_the_duals_bits() -> None:
    tape = ferrograd.compile(lambda x, y: x / y, 2)
    for x, y, tx, ty in _points()[:300]:
        value, tangent = tape.jvp([x, y], [tx, ty])
        ref = reference.Dual(x, tx) / reference.Dual(y, ty)
        assert same_float(value, ref.data) and same_float(tangent, ref.tangent), (x, y, tx, ty)


BINARY = ("atan2", "hypot", "minimum", "maximum", "clamp")
UNARY = [n for n in ferrograd._functions.__all__ if n not in BINARY]


@pytest.mark.parametrize("name", UNARY)
def test_both_duals_give_the_same_bits_for_each_unary_op(name: str) -> None:
    rng = random.Random(11)
    points = [(rng.uniform(-4.0, 4.0), rng.uniform(-2.0, 2.0)) for _ in range(400)]
    points += [(rng.uniform(1.0, 4.0), rng.uniform(-2.0, 2.0)) for _ in range(100)]
    points += [(x, t) for x in SPECIAL for t in (1.0, -0.3, 3.7, 0.0)]
    for x, t in points:
        rust = getattr(ferrograd, name)(ferrograd.Dual(x, t))
        ref = getattr(ferrograd, name)(reference.Dual(x, t))
        assert same_float(rust.data, ref.data), (name, x, t)
        assert same_float(rust.tangent, ref.tangent), (name, x, t, rust, ref)


@pytest.mark.parametrize("name", UNARY)
def test_the_tapes_jvp_gives_the_duals_bits_for_each_unary_op(name: str) -> None:
    tape = ferrograd.compile(lambda x: getattr(ferrograd, name)(x), 1)
    rng = random.Random(13)
    for x, t in [(rng.uniform(-4.0, 4.0), rng.uniform(-2.0, 2.0)) for _ in range(200)]:
        value, tangent = tape.jvp([x], [t])
        ref = getattr(ferrograd, name)(reference.Dual(x, t))
        assert same_float(value, ref.data) and same_float(tangent, ref.tangent), (name, x, t)
