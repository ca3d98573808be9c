"""Every op's value and gradient, against central finite differences and against HIPS autograd
computing the same expression: two oracles that share no code with either engine."""

from __future__ import annotations

import math
import pickle
import random
from typing import Any, Callable, NamedTuple

import autograd
import autograd.numpy as anp
import mpmath as mp
import numpy as np
import pytest
from autograd.scipy import special
from conftest import UNARY_OPS, Engine, central_difference

import ferrograd

ANY = [-2.3, -0.7, 0.4, 1.3, 3.1]
POSITIVE = [0.3, 1.3, 4.2]
TAN = [-1.2, -0.4, 0.5, 1.1]
BEYOND_ONE = [-3.1, -1.3, 1.2, 2.5]


class Unary(NamedTuple):
    """``build`` makes the node from a Value; ``oracle`` is the same maths in autograd.numpy."""

    name: str
    op: str
    build: Callable[[Any], Any]
    oracle: Callable[[Any], Any]
    points: list[float]


UNARY = [
    Unary("neg", "neg", lambda x: -x, lambda x: -x, ANY),
    Unary("abs", "abs", lambda x: abs(x), anp.abs, ANY),
    Unary("relu", "relu", lambda x: x.relu(), lambda x: anp.maximum(x, 0.0), ANY),
    Unary(
        "leaky_relu default slope",
        "leaky_relu",
        lambda x: x.leaky_relu(),
        lambda x: anp.where(x > 0, x, 0.01 * x),
        ANY,
    ),
    Unary(
        "leaky_relu slope 0.3",
        "leaky_relu",
        lambda x: x.leaky_relu(0.3),
        lambda x: anp.where(x > 0, x, 0.3 * x),
        ANY,
    ),
    Unary("tanh", "tanh", lambda x: x.tanh(), anp.tanh, ANY),
    Unary("sigmoid", "sigmoid", lambda x: x.sigmoid(), lambda x: 1.0 / (1.0 + anp.exp(-x)), ANY),
    Unary("exp", "exp", lambda x: x.exp(), anp.exp, ANY),
    Unary("log", "log", lambda x: x.log(), anp.log, POSITIVE),
    Unary("sin", "sin", lambda x: x.sin(), anp.sin, ANY),
    Unary("cos", "cos", lambda x: x.cos(), anp.cos, ANY),
    Unary("tan", "tan", lambda x: x.tan(), anp.tan, TAN),
    Unary("sqrt", "sqrt", lambda x: x.sqrt(), anp.sqrt, POSITIVE),
    Unary("asin", "asin", lambda x: x.asin(), anp.arcsin, [-0.9, -0.3, 0.2, 0.7]),
    Unary("acos", "acos", lambda x: x.acos(), anp.arccos, [-0.9, -0.3, 0.2, 0.7]),
    Unary("atan", "atan", lambda x: x.atan(), anp.arctan, ANY),
    Unary("cot", "cot", lambda x: x.cot(), lambda x: 1.0 / anp.tan(x), TAN),
    Unary("sec", "sec", lambda x: x.sec(), lambda x: 1.0 / anp.cos(x), TAN),
    Unary("csc", "csc", lambda x: x.csc(), lambda x: 1.0 / anp.sin(x), ANY),
    Unary("acot", "acot", lambda x: x.acot(), lambda x: anp.arctan(1.0 / x), ANY),
    Unary("asec", "asec", lambda x: x.asec(), lambda x: anp.arccos(1.0 / x), BEYOND_ONE),
    Unary("acsc", "acsc", lambda x: x.acsc(), lambda x: anp.arcsin(1.0 / x), BEYOND_ONE),
    Unary("sinh", "sinh", lambda x: x.sinh(), anp.sinh, ANY),
    Unary("cosh", "cosh", lambda x: x.cosh(), anp.cosh, ANY),
    Unary("asinh", "asinh", lambda x: x.asinh(), anp.arcsinh, ANY),
    Unary("acosh", "acosh", lambda x: x.acosh(), anp.arccosh, [1.2, 2.5, 7.0]),
    Unary("atanh", "atanh", lambda x: x.atanh(), anp.arctanh, [-0.9, -0.3, 0.2, 0.7]),
    Unary("log1p", "log1p", lambda x: x.log1p(), anp.log1p, [-0.7, -1e-9, 3e-12, 0.4, 4.2]),
    Unary("expm1", "expm1", lambda x: x.expm1(), anp.expm1, [-2.3, -1e-9, 3e-12, 0.4, 3.1]),
    Unary("log2", "log2", lambda x: x.log2(), anp.log2, POSITIVE),
    Unary("log10", "log10", lambda x: x.log10(), anp.log10, POSITIVE),
    Unary("exp2", "exp2", lambda x: x.exp2(), anp.exp2, ANY),
    Unary("cbrt", "cbrt", lambda x: x.cbrt(), lambda x: anp.sign(x) * anp.abs(x) ** (1 / 3), ANY),
    Unary("erf", "erf", lambda x: x.erf(), special.erf, ANY),
    Unary("erfc", "erfc", lambda x: x.erfc(), special.erfc, ANY),
    Unary("softplus", "softplus", lambda x: x.softplus(), lambda x: anp.logaddexp(0.0, x), ANY),
    Unary("silu", "silu", lambda x: x.silu(), lambda x: x / (1.0 + anp.exp(-x)), ANY),
    Unary(
        "gelu",
        "gelu",
        lambda x: x.gelu(),
        lambda x: 0.5 * x * (1.0 + special.erf(x / anp.sqrt(2.0))),
        ANY,
    ),
    Unary(
        "gelu tanh",
        "gelu_tanh",
        lambda x: x.gelu(approximate="tanh"),
        lambda x: 0.5 * x * (1.0 + anp.tanh(anp.sqrt(2.0 / anp.pi) * (x + 0.044715 * x**3))),
        ANY,
    ),
    Unary("x ** 3", "**", lambda x: x**3, lambda x: x**3, ANY),
    Unary("x ** -2", "**", lambda x: x**-2, lambda x: x**-2.0, ANY),
    Unary("x ** 0.5", "**", lambda x: x**0.5, lambda x: x**0.5, POSITIVE),
    Unary("2 ** x", "**", lambda x: 2**x, lambda x: 2.0**x, ANY),
    Unary("0.5 ** x", "**", lambda x: 0.5**x, lambda x: 0.5**x, ANY),
    Unary("x + 2.5", "+", lambda x: x + 2.5, lambda x: x + 2.5, ANY),
    Unary("2.5 + x", "+", lambda x: 2.5 + x, lambda x: 2.5 + x, ANY),
    Unary("x - 2.5", "-", lambda x: x - 2.5, lambda x: x - 2.5, ANY),
    Unary("2.5 - x", "-", lambda x: 2.5 - x, lambda x: 2.5 - x, ANY),
    Unary("x * 2.5", "*", lambda x: x * 2.5, lambda x: x * 2.5, ANY),
    Unary("3 * x", "*", lambda x: 3 * x, lambda x: 3.0 * x, ANY),
    Unary("x / 2.5", "/", lambda x: x / 2.5, lambda x: x / 2.5, ANY),
    Unary("2.5 / x", "/", lambda x: 2.5 / x, lambda x: 2.5 / x, ANY),
]


class Binary(NamedTuple):
    name: str
    op: str
    build: Callable[[Any, Any], Any]
    oracle: Callable[[Any, Any], Any]
    points: list[tuple[float, float]]


MIXED_SIGNS = [(1.7, -0.6), (-2.2, 0.9), (0.4, 3.3)]
BINARY = [
    Binary("x + y", "+", lambda x, y: x + y, lambda x, y: x + y, MIXED_SIGNS),
    Binary("x - y", "-", lambda x, y: x - y, lambda x, y: x - y, MIXED_SIGNS),
    Binary("x * y", "*", lambda x, y: x * y, lambda x, y: x * y, MIXED_SIGNS),
    Binary("x / y", "/", lambda x, y: x / y, lambda x, y: x / y, MIXED_SIGNS),
    Binary("x ** y", "**", lambda x, y: x**y, lambda x, y: x**y, [(1.7, -0.6), (0.4, 3.3)]),
]


def _close(actual: float, expected: float, rel: float) -> bool:
    return abs(actual - expected) <= rel * max(1.0, abs(expected))


@pytest.mark.parametrize("case", UNARY, ids=[c.name for c in UNARY])
def test_unary_op_value_and_gradient_match_finite_differences_and_autograd(
    engine: Engine, case: Unary
) -> None:
    for p in case.points:
        x = engine.Value(p)
        z = case.build(x)
        assert z.op == case.op
        z.backward()
        assert z.grad == 1.0

        assert _close(z.data, float(case.oracle(p)), 1e-13), (case.name, p, z.data)
        assert _close(x.grad, float(autograd.grad(case.oracle)(p)), 1e-12), (case.name, p)
        numeric = central_difference(lambda t: case.build(engine.Value(t)).data, p)
        assert _close(x.grad, numeric, 1e-6), (case.name, p, x.grad, numeric)


@pytest.mark.parametrize("case", BINARY, ids=[c.name for c in BINARY])
def test_binary_op_value_and_both_gradients_match_finite_differences_and_autograd(
    engine: Engine, case: Binary
) -> None:
    for px, py in case.points:
        x, y = engine.Value(px), engine.Value(py)
        z = case.build(x, y)
        assert z.op == case.op
        assert z.children == (x, y)
        z.backward()

        assert _close(z.data, float(case.oracle(px, py)), 1e-13)
        assert _close(x.grad, float(autograd.grad(case.oracle, 0)(px, py)), 1e-12)
        assert _close(y.grad, float(autograd.grad(case.oracle, 1)(px, py)), 1e-12)

        def along_x(t: float, py: float = py) -> float:
            return case.build(engine.Value(t), engine.Value(py)).data

        def along_y(t: float, px: float = px) -> float:
            return case.build(engine.Value(px), engine.Value(t)).data

        dx, dy = central_difference(along_x, px), central_difference(along_y, py)
        assert _close(x.grad, dx, 1e-6), (case.name, x.grad, dx)
        assert _close(y.grad, dy, 1e-6), (case.name, y.grad, dy)


WS = [0.5, -1.25, 2.0, 3.5]
XS = [-0.75, 1.5, 0.25, -2.0]


def test_sum_is_one_node_whose_gradient_is_one_for_every_operand(engine: Engine) -> None:
    xs = [engine.Value(p) for p in XS]
    s = engine.sum(xs)
    assert s.op == "sum"
    assert s.children == tuple(xs)
    assert s.data == float(anp.sum(anp.array(XS)))
    (s * s).backward()
    expected = autograd.grad(lambda v: anp.sum(v) ** 2)(anp.array(XS))
    for x, e in zip(xs, expected):
        assert _close(x.grad, float(e), 1e-13)


def test_sum_mixes_values_and_numbers_numbers_becoming_constants(engine: Engine) -> None:
    x = engine.Value(2.0)
    s = engine.sum([1, x, 2.5, x])
    assert s.data == 7.5
    assert len(s.children) == 4
    assert s.children[1] == x and s.children[3] == x
    s.backward()
    assert x.grad == 2.0


def test_sum_of_nothing_is_zero(engine: Engine) -> None:
    s = engine.sum([])
    assert s.data == 0.0
    assert s.op == "sum"
    assert s.children == ()
    s.backward()
    assert s.grad == 1.0


def test_dot_value_and_gradients_match_autograd_and_finite_differences(engine: Engine) -> None:
    ws = [engine.Value(p) for p in WS]
    xs = [engine.Value(p) for p in XS]
    d = engine.dot(ws, xs)
    assert d.op == "dot"
    assert d.children == tuple(ws + xs)
    assert _close(d.data, float(anp.dot(anp.array(WS), anp.array(XS))), 1e-15)
    d.tanh().backward()

    def f(w: Any, x: Any) -> Any:
        return anp.tanh(anp.dot(w, x))

    gw = autograd.grad(f, 0)(anp.array(WS), anp.array(XS))
    gx = autograd.grad(f, 1)(anp.array(WS), anp.array(XS))
    for i in range(len(WS)):
        assert _close(ws[i].grad, float(gw[i]), 1e-12)
        assert _close(xs[i].grad, float(gx[i]), 1e-12)

        def moved(t: float, i: int = i) -> float:
            vals = [engine.Value(p) for p in WS]
            vals[i] = engine.Value(t)
            return engine.dot(vals, [engine.Value(p) for p in XS]).tanh().data

        assert _close(ws[i].grad, central_difference(moved, WS[i]), 1e-6)


def test_dot_of_a_vector_with_itself_counts_both_roles(engine: Engine) -> None:
    xs = [engine.Value(p) for p in XS]
    d = engine.dot(xs, xs)
    d.backward()
    for x, p in zip(xs, XS):
        assert x.grad == 2.0 * p


def test_dot_accepts_numbers_as_weights(engine: Engine) -> None:
    xs = [engine.Value(p) for p in XS]
    d = engine.dot(WS, xs)
    d.backward()
    assert [x.grad for x in xs] == WS
    assert [c.data for c in d.children[: len(WS)]] == WS


def test_value_to_the_value_power_against_autograd_on_a_composite(engine: Engine) -> None:
    # z = (x * y) ** (sin x) + y ** x: both operands of ** depend on both inputs.
    def build(x: Any, y: Any) -> Any:
        return (x * y) ** x.sin() + y**x

    def oracle(x: Any, y: Any) -> Any:
        return (x * y) ** anp.sin(x) + y**x

    px, py = 1.3, 2.1
    x, y = engine.Value(px), engine.Value(py)
    z = build(x, y)
    z.backward()
    assert _close(z.data, oracle(px, py), 1e-13)
    assert _close(x.grad, autograd.grad(oracle, 0)(px, py), 1e-12)
    assert _close(y.grad, autograd.grad(oracle, 1)(px, py), 1e-12)


def test_every_unary_op_of_the_table_has_an_oracle_here() -> None:
    assert {u.op for u in UNARY} >= {row.name for row in UNARY_OPS}


def test_asin_at_its_special_points_on_every_path(engine: Engine) -> None:
    # Values as libm (and torch) give them; derivative 1/sqrt(1 - x²), inf at ±1, nan outside.
    for x, value, slope in [
        (1.0, math.pi / 2, math.inf),
        (-1.0, -math.pi / 2, math.inf),
        (0.0, 0.0, 1.0),
        (1.5, math.nan, math.nan),
    ]:
        v = engine.Value(x)
        z = v.asin()
        z.backward()
        for got, want in ((z.data, value), (v.grad, slope)):
            assert got == want or (math.isnan(got) and math.isnan(want)), (x, got, want)
        copy = pickle.loads(pickle.dumps(z))
        assert copy.op == "asin" and copy.children[0].data == x
        if engine.Value is ferrograd.Value:
            # The compiled tape and forward mode run the same formulas.
            tape_value, tape_grad = ferrograd.compile(lambda t: t.asin(), n_inputs=1).grad([x])
            d = ferrograd.Dual(x, 1.0).asin()
            want = repr((z.data, v.grad))
            assert repr((float(tape_value), float(tape_grad[0]))) == want
            assert repr((d.data, d.tangent)) == want


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # autograd, on x + 2.5
@pytest.mark.parametrize("case", UNARY, ids=[c.name for c in UNARY])
def test_unary_op_through_the_compiled_tape_at_points_in_batches_jvp_and_hessian(
    case: Unary,
) -> None:
    tape = ferrograd.compile(case.build, n_inputs=1)
    values, grads = tape.grad_batch([[p] for p in case.points])
    for i, p in enumerate(case.points):
        x = ferrograd.Value(p)
        z = case.build(x)
        z.backward()
        want = repr((z.data, x.grad))  # the graph's numbers, which the tape must give exactly
        value, grad = tape.grad([p])
        assert repr((float(value), float(grad[0]))) == want, (case.name, p)
        assert repr((float(values[i]), float(grads[i][0]))) == want, (case.name, p)
        jvp_value, tangent = tape.jvp([p], [1.0])
        assert float(jvp_value) == z.data and _close(float(tangent), x.grad, 1e-14)
        second = float(autograd.grad(autograd.grad(case.oracle))(p))
        assert _close(float(tape.hessian([p])[0][0]), second, 1e-10), (case.name, p)


# -- numpy's names: np.arcsin(a) calls .arcsin() on each Value of an object array -------------

ALIASES = [(alias, row) for row in UNARY_OPS for alias in row.aliases]
_POINTS = {u.op: u.points for u in UNARY}


@pytest.mark.parametrize("alias, row", ALIASES, ids=[a for a, _ in ALIASES])
def test_numpy_ufuncs_on_object_arrays_of_values_build_the_op_and_differentiate(
    engine: Engine, alias: str, row: Any
) -> None:
    points = _POINTS[row.name]
    xs = np.array([engine.Value(p) for p in points], dtype=object)
    zs = getattr(np, alias)(xs)  # numpy calls xs[i].<alias>()
    assert zs.dtype == object and all(z.op == row.name for z in zs)
    total = engine.sum([z * (i + 1) for i, z in enumerate(zs)])
    total.backward()
    floats = getattr(np, alias)(np.array(points))  # numpy's own float64 loop: an oracle
    for i, (p, x, z) in enumerate(zip(points, xs, zs)):
        assert _close(z.data, float(floats[i]), 1e-14), (alias, p)
        leaf = engine.Value(p)
        (getattr(leaf, row.method)() * (i + 1)).backward()
        assert repr(x.grad) == repr(leaf.grad), (alias, p)
        numeric = central_difference(lambda t: getattr(engine.Value(t), row.method)().data, p)
        assert _close(x.grad, (i + 1) * numeric, 1e-6), (alias, p)


def test_numpy_ufuncs_on_object_arrays_of_duals() -> None:
    for alias, row in ALIASES:
        for dual in (ferrograd.Dual, ferrograd.reference.Dual):
            p = _POINTS[row.name][-1]
            (d,) = getattr(np, alias)(np.array([dual(p, 1.0)], dtype=object))
            want = getattr(dual(p, 1.0), row.method)()
            assert repr((d.data, d.tangent)) == repr((want.data, want.tangent)), (alias, dual)


# -- accuracy against mpmath, over the whole domain --------------------------------------------

# (op, value, slope, where to draw x): the exact maths at 200 bits.
EXACT = [
    ("asin", lambda x: mp.asin(x), lambda x: 1 / mp.sqrt(1 - x * x), "in"),
    ("acos", lambda x: mp.acos(x), lambda x: -1 / mp.sqrt(1 - x * x), "in"),
    ("atan", mp.atan, lambda x: 1 / (1 + x * x), "any"),
    ("cot", mp.cot, lambda x: -(mp.csc(x) ** 2), "any"),
    ("sec", mp.sec, lambda x: mp.sec(x) * mp.tan(x), "any"),
    ("csc", mp.csc, lambda x: -mp.csc(x) * mp.cot(x), "any"),
    ("acot", lambda x: mp.atan(1 / x), lambda x: -1 / (1 + x * x), "any"),
    ("asec", lambda x: mp.acos(1 / x), lambda x: 1 / (abs(x) * mp.sqrt(x * x - 1)), "out"),
    ("acsc", lambda x: mp.asin(1 / x), lambda x: -1 / (abs(x) * mp.sqrt(x * x - 1)), "out"),
    ("sinh", mp.sinh, mp.cosh, "exp"),
    ("cosh", mp.cosh, mp.sinh, "exp"),
    ("asinh", mp.asinh, lambda x: 1 / mp.sqrt(1 + x * x), "any"),
    ("acosh", mp.acosh, lambda x: 1 / mp.sqrt(x * x - 1), "ge1"),
    ("atanh", mp.atanh, lambda x: 1 / (1 - x * x), "in"),
]


def _draw(rng: random.Random, where: str) -> float:
    near_one = 1.0 + 10 ** rng.uniform(-15, 0)
    if where == "in":  # (-1, 1), often next to the edges
        x = rng.choice([rng.uniform(-1, 1), 2.0 - near_one, 10 ** rng.uniform(-300, 0)])
    elif where in ("out", "ge1"):  # |x| > 1, often next to 1, up to 1e300
        x = rng.choice([near_one, 10 ** rng.uniform(0, 300)])
    elif where == "exp":  # where sinh and cosh are finite
        x = rng.uniform(-710, 710)
    else:
        x = rng.choice([rng.uniform(-10, 10), 10 ** rng.uniform(-300, 300)])
    return x if where == "ge1" or rng.random() < 0.5 else -x


@pytest.mark.parametrize("op, value, slope, where", EXACT, ids=[e[0] for e in EXACT])
def test_values_and_slopes_are_within_a_few_ulps_of_the_exact_maths(
    engine: Engine, op: str, value: Callable[[Any], Any], slope: Callable[[Any], Any], where: str
) -> None:
    # docs/ops.md states the bounds: values within 2.5 ulps, slopes within 3.5.
    rng = random.Random(op)
    worst = [0.0, 0.0]
    with mp.workprec(200):
        for _ in range(300):
            x = _draw(rng, where)
            v = engine.Value(x)
            z = getattr(v, op)()
            z.backward()
            for i, (got, exact) in enumerate(
                [(z.data, value(mp.mpf(x))), (v.grad, slope(mp.mpf(x)))]
            ):
                e = float(exact)
                if not math.isfinite(e) or abs(e) < 1e-300:
                    continue  # overflow and underflow: the special points' business
                worst[i] = max(worst[i], float(abs(mp.mpf(got) - exact) / math.ulp(e)))
    assert worst[0] <= 2.5 and worst[1] <= 3.5, (op, worst)
