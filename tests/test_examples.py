"""Worked examples with known answers: the seed's two, and micrograd's README example, checked
against closed forms, against HIPS autograd and against the installed micrograd itself."""

from __future__ import annotations

import math
from typing import Any

import autograd
import autograd.numpy as anp
import micrograd.engine
import pytest
from conftest import Engine


def test_seed_example_a_times_b_plus_c(engine: Engine) -> None:
    a, b, c = engine.Value(2.0), engine.Value(-3.0), engine.Value(10.0)
    d = a * b + c
    d.backward()
    assert d.data == 4.0
    assert (a.grad, b.grad, c.grad) == (-3.0, 2.0, 1.0)


def test_seed_worked_example_log_mul_sin(engine: Engine) -> None:
    # f(x1, x2) = ln x1 + x1·x2 − sin x2 at (2, 5): ∂f/∂x1 = 1/x1 + x2 = 5.5,
    # ∂f/∂x2 = x1 − cos x2 = 2 − cos 5 ≈ 1.7163.
    x1, x2 = engine.Value(2.0, "x1"), engine.Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.backward()
    assert f.data == pytest.approx(math.log(2.0) + 10.0 - math.sin(5.0), rel=1e-15)
    assert x1.grad == 5.5
    assert x2.grad == pytest.approx(2.0 - math.cos(5.0), rel=1e-15)
    assert round(x2.grad, 4) == 1.7163

    def oracle(x1: Any, x2: Any) -> Any:
        return anp.log(x1) + x1 * x2 - anp.sin(x2)

    assert x1.grad == pytest.approx(autograd.grad(oracle, 0)(2.0, 5.0), rel=1e-15)
    assert x2.grad == pytest.approx(autograd.grad(oracle, 1)(2.0, 5.0), rel=1e-15)


def _micrograd_readme(Value: Any) -> tuple[Any, Any, Any]:
    """micrograd's README example, written once for any engine with its operators."""
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return g, a, b


def test_micrograd_readme_example_matches_micrograd_and_its_printed_numbers(
    engine: Engine,
) -> None:
    g, a, b = _micrograd_readme(engine.Value)
    mg, ma, mb = _micrograd_readme(micrograd.engine.Value)
    # micrograd divides as x * y**-1, a different rounding path: equal to 1e-12, not bitwise.
    assert g.data == pytest.approx(mg.data, rel=1e-12)
    assert a.grad == pytest.approx(ma.grad, rel=1e-12)
    assert b.grad == pytest.approx(mb.grad, rel=1e-12)
    # The numbers micrograd's README prints.
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def _micrograd_sanity(Value: Any) -> tuple[Any, Any]:
    """micrograd's own test_sanity_check expression."""
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return y, x


def test_micrograd_sanity_check_expression_matches_micrograd(engine: Engine) -> None:
    y, x = _micrograd_sanity(engine.Value)
    my, mx = _micrograd_sanity(micrograd.engine.Value)
    assert y.data == my.data
    assert x.grad == mx.grad
    # Closed form: z = 3x + 2 = -10, q = z·x = 40 (relu(z) = 0), h = z² = 100,
    # y = h + q + q·x = -20; dy/dx = 18x + 12 + (6x + 2)(1 + x) = 46.
    assert (y.data, x.grad) == (-20.0, 46.0)


def test_lecture_tanh_neuron_matches_autograd(engine: Engine) -> None:
    # The neuron from micrograd's lecture notebook, o = tanh(x1·w1 + x2·w2 + b), with the
    # engine's tanh and with tanh written out through exp as the notebook spells it.
    point = [2.0, 0.0, -3.0, 1.0, 6.8813735870195432]

    def oracle(p: Any) -> Any:
        return anp.tanh(p[0] * p[2] + p[1] * p[3] + p[4])

    expected = autograd.grad(oracle)(anp.array(point))
    for own_tanh in (True, False):
        inputs = [engine.Value(p) for p in point]
        x1, x2, w1, w2, bias = inputs
        n = x1 * w1 + x2 * w2 + bias
        if own_tanh:
            o = n.tanh()
        else:
            e = (2 * n).exp()
            o = (e - 1) / (e + 1)
        o.backward()
        assert o.data == pytest.approx(math.sqrt(0.5), rel=1e-12)
        for v, g in zip(inputs, expected):
            assert v.grad == pytest.approx(float(g), rel=1e-12, abs=1e-15)
