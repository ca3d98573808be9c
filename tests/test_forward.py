"""Forward mode: Dual numbers and tape.jvp, against reverse mode and the conventions of DESIGN.md."""

from __future__ import annotations

import math

import numpy as np
import pytest
from programs import random_program

import ferrograd
from ferrograd import Dual, Value
from ferrograd.forward import jvp


def seed_f(x1, x2):
    return x1.log() + x1 * x2 - x2.sin()


def test_seed_forward_tangent_trace():
    # The seed's trace: f = ln x1 + x1·x2 − sin x2 at (2, 5).
    value, d1 = jvp(seed_f, [2.0, 5.0], [1.0, 0.0])
    _, d2 = jvp(seed_f, [2.0, 5.0], [0.0, 1.0])
    assert value == pytest.approx(math.log(2) + 10 - math.sin(5), rel=1e-15)
    assert d1 == pytest.approx(5.5, rel=1e-15)
    assert d2 == pytest.approx(2 - math.cos(5), rel=1e-15)
    tape = ferrograd.compile(seed_f, 2)
    assert tape.jvp([2.0, 5.0], [1.0, 0.0]) == (value, d1)
    assert tape.jvp([2.0, 5.0], [0.0, 1.0]) == (value, d2)


@pytest.mark.parametrize("seed", range(30))
def test_dual_tape_jvp_and_reverse_mode_agree(seed):
    n = 1 + seed % 4
    f = random_program(100 + seed, n, n_ops=15)
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-1.5, 1.5, n), rng.standard_normal(n)
    tape = ferrograd.compile(f, n)
    value, grad = tape.grad(x)
    expected = float(np.dot(grad, v))
    for got_value, got in (jvp(f, x, v), tape.jvp(x, v)):
        assert got_value == pytest.approx(value, rel=1e-12, abs=1e-12)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # Reverse mode on the graph, too.
    xs = [Value(a) for a in x]
    f(*xs).backward()
    assert np.dot([a.grad for a in xs], v) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [
        (lambda x: x.relu(), 0.0, 0.0),
        (lambda x: abs(x), 0.0, 0.0),
        (lambda x: x.leaky_relu(0.2), 0.0, 0.2),
        (lambda x: x**0, 0.0, 0.0),
        (lambda x: x**0, 3.0, 0.0),
        (lambda x: x**1, 0.0, 1.0),
        (lambda x: x**2, 0.0, 0.0),
        (lambda x: x**0.5, 0.0, math.inf),
        (lambda x: 0.0**x, 2.0, 0.0),  # d/dy x**y at x = 0, y >= 0 is taken as 0
        (lambda x: 0.0**x, 0.0, 0.0),
        (lambda x: 0.0**x, -1.0, -math.inf),
        (lambda x: (-8.0) ** x, 1 / 3, math.nan),
        (lambda x: x.sigmoid(), 1000.0, 0.0),
        (lambda x: x.sigmoid(), -1000.0, 0.0),
        (lambda x: x.tanh(), 1000.0, 0.0),
        (lambda x: x.log(), 0.0, math.inf),
        (lambda x: x.sqrt(), 0.0, math.inf),
    ],
)
def test_special_points_match_reverse_mode(f, x, expected):
    _, tangent = jvp(f, [x], [1.0])
    leaf = Value(x)
    f(leaf).backward()
    _, tape_tangent = ferrograd.compile(f, 1).jvp([x], [1.0])
    for got in (tangent, leaf.grad, tape_tangent):
        if math.isnan(expected):
            assert math.isnan(got)
        else:
            assert got == expected


def test_a_zero_tangent_stays_zero_where_the_derivative_is_infinite():
    # Moving only y, sqrt(x) at x = 0 does not move: its tangent is 0, not 0 * inf = nan.
    value, tangent = jvp(lambda x, y: x.sqrt() + y, [0.0, 1.0], [0.0, 1.0])
    assert (value, tangent) == (1.0, 1.0)


def test_dual_has_the_value_api():
    d = Dual(2.0, 1.0)
    assert (d.data, d.tangent, d.item()) == (2.0, 1.0, 2.0)
    assert repr(Dual(1.5, -0.5)) == "Dual(data=1.5, tangent=-0.5)"
    assert Dual(3).tangent == 0.0
    y = (2 * d + 1 - d / 4) ** 2
    assert y.data == pytest.approx((4 + 1 - 0.5) ** 2)
    assert y.tangent == pytest.approx(2 * (4 + 1 - 0.5) * (2 - 0.25))
    assert (+d).data == 2.0 and (-d).tangent == -1.0
    assert (2**d).tangent == pytest.approx(4 * math.log(2))


def test_values_and_duals_do_not_mix():
    # Either would convert to float and silently drop a tangent or cut a graph.
    for a, b in ((Value(1.0), Dual(2.0, 1.0)), (Dual(2.0, 1.0), Value(1.0))):
        for op in (
            lambda a, b: a + b,
            lambda a, b: a * b,
            lambda a, b: a - b,
            lambda a, b: a / b,
            lambda a, b: a**b,
        ):
            with pytest.raises(TypeError):
                op(a, b)


def test_dual_bad_input():
    with pytest.raises(TypeError, match="Dual"):
        Dual("1.0")
    with pytest.raises(TypeError, match="tangent"):
        Dual(1.0, "x")
    with pytest.raises(ValueError, match="slope"):
        Dual(1.0).leaky_relu(-0.1)
    with pytest.raises(TypeError):
        pow(Dual(1.0), 2, 3)
    with pytest.raises(TypeError):
        Dual(1.0) + "a"


def test_jvp_bad_input_and_constant_functions():
    with pytest.raises(ValueError, match="same length"):
        jvp(seed_f, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="real numbers"):
        jvp(seed_f, ["a", "b"], [1.0, 0.0])
    with pytest.raises(ValueError, match="1-D"):
        jvp(seed_f, [[1.0, 2.0]], [[1.0, 0.0]])
    with pytest.raises(TypeError, match="return a Dual"):
        jvp(lambda x: "nope", [1.0], [1.0])
    assert jvp(lambda x: 3, [1.0], [1.0]) == (3.0, 0.0)


def test_tape_squares_keep_a_zero_tangent_zero_at_an_infinite_base():
    # The tape computes x**2 as a square; along a direction that leaves x alone, its tangent
    # must stay 0 as pow's does (a plain dual product would give 0 * inf = nan).
    inf = float("inf")
    for power in (2, 3):
        tape = ferrograd.compile(lambda x, y, p=power: x**p + y, 2)
        graphless = ferrograd.jvp(lambda x, y, p=power: x**p + y, [inf, 1.0], [0.0, 1.0])
        assert tape.jvp([inf, 1.0], [0.0, 1.0]) == graphless == (inf, 1.0)
