"""IEEE-754 results and PyTorch's derivative conventions at special points, in both engines.

Python's own float maths raises at many of these points (``1 / 0``, ``math.log(0)``,
``10.0 ** 400``); both engines must return what IEEE (and numpy, the oracle here) returns.
"""

from __future__ import annotations

import math
import pickle
from typing import Any, Callable

import mpmath
import numpy as np
import pytest
from conftest import Engine, same_float

import ferrograd
from ferrograd import reference

INF, NAN = math.inf, math.nan


def _numpy(f: Callable[[], Any]) -> float:
    with np.errstate(all="ignore"):
        return float(f())


f64 = np.float64

# (name, expression on Values made by V, the same in numpy float64)
FORWARD = [
    ("log(0) = -inf", lambda V: V(0.0).log(), lambda: np.log(f64(0.0))),
    ("log(-0.0) = -inf", lambda V: V(-0.0).log(), lambda: np.log(f64(-0.0))),
    ("log(-1) = nan", lambda V: V(-1.0).log(), lambda: np.log(f64(-1.0))),
    ("log(inf) = inf", lambda V: V(INF).log(), lambda: np.log(f64(INF))),
    ("1 / 0 = inf", lambda V: 1 / V(0.0), lambda: f64(1.0) / f64(0.0)),
    ("-1 / 0 = -inf", lambda V: -1 / V(0.0), lambda: f64(-1.0) / f64(0.0)),
    ("1 / -0.0 = -inf", lambda V: V(1.0) / V(-0.0), lambda: f64(1.0) / f64(-0.0)),
    ("0 / 0 = nan", lambda V: V(0.0) / 0, lambda: f64(0.0) / f64(0.0)),
    ("inf / inf = nan", lambda V: V(INF) / INF, lambda: f64(INF) / f64(INF)),
    ("0 ** -1 = inf", lambda V: V(0.0) ** -1, lambda: f64(0.0) ** f64(-1.0)),
    ("-0.0 ** -1 = -inf", lambda V: V(-0.0) ** -1, lambda: f64(-0.0) ** f64(-1.0)),
    ("-0.0 ** -2 = inf", lambda V: V(-0.0) ** -2, lambda: f64(-0.0) ** f64(-2.0)),
    ("0 ** 0 = 1", lambda V: V(0.0) ** 0, lambda: f64(0.0) ** f64(0.0)),
    ("nan ** 0 = 1", lambda V: V(NAN) ** 0, lambda: f64(NAN) ** f64(0.0)),
    ("(-8) ** (1/3) = nan", lambda V: V(-8.0) ** (1 / 3), lambda: f64(-8.0) ** f64(1 / 3)),
    ("(-8) ** V(1/3) = nan", lambda V: V(-8.0) ** V(1 / 3), lambda: f64(-8.0) ** f64(1 / 3)),
    ("(-2) ** 3 = -8", lambda V: V(-2.0) ** 3, lambda: f64(-2.0) ** f64(3.0)),
    ("10 ** 400 = inf", lambda V: V(10.0) ** 400, lambda: f64(10.0) ** f64(400.0)),
    ("(-10) ** 401 = -inf", lambda V: V(-10.0) ** 401, lambda: f64(-10.0) ** f64(401.0)),
    ("2 ** V(2000) = inf", lambda V: 2 ** V(2000.0), lambda: f64(2.0) ** f64(2000.0)),
    ("1e-300 ** -2 = inf", lambda V: V(1e-300) ** -2, lambda: f64(1e-300) ** f64(-2.0)),
    ("exp(1000) = inf", lambda V: V(1000.0).exp(), lambda: np.exp(f64(1000.0))),
    ("exp(-inf) = 0", lambda V: V(-INF).exp(), lambda: np.exp(f64(-INF))),
    ("1e308 * 10 = inf", lambda V: V(1e308) * 10, lambda: f64(1e308) * f64(10.0)),
    ("1e308 + 1e308 = inf", lambda V: V(1e308) + 1e308, lambda: f64(1e308) + f64(1e308)),
    ("-1e308 - 1e308 = -inf", lambda V: V(-1e308) - 1e308, lambda: f64(-1e308) - f64(1e308)),
    ("inf - inf = nan", lambda V: V(INF) - INF, lambda: f64(INF) - f64(INF)),
    ("0 * inf = nan", lambda V: V(0.0) * INF, lambda: f64(0.0) * f64(INF)),
    ("sqrt(-1) = nan", lambda V: V(-1.0).sqrt(), lambda: np.sqrt(f64(-1.0))),
    ("sqrt(-0.0) = -0.0", lambda V: V(-0.0).sqrt(), lambda: np.sqrt(f64(-0.0))),
    ("sin(inf) = nan", lambda V: V(INF).sin(), lambda: np.sin(f64(INF))),
    ("cos(-inf) = nan", lambda V: V(-INF).cos(), lambda: np.cos(f64(-INF))),
    ("tan(inf) = nan", lambda V: V(INF).tan(), lambda: np.tan(f64(INF))),
    ("tanh(1000) = 1", lambda V: V(1000.0).tanh(), lambda: np.tanh(f64(1000.0))),
    ("tanh(-inf) = -1", lambda V: V(-INF).tanh(), lambda: np.tanh(f64(-INF))),
    ("sigmoid(inf) = 1", lambda V: V(INF).sigmoid(), lambda: 1.0),
    ("sigmoid(-inf) = 0", lambda V: V(-INF).sigmoid(), lambda: 0.0),
    ("abs(-0.0) = 0.0", lambda V: abs(V(-0.0)), lambda: np.abs(f64(-0.0))),
    ("abs(-inf) = inf", lambda V: abs(V(-INF)), lambda: np.abs(f64(-INF))),
    ("-(0.0) = -0.0", lambda V: -V(0.0), lambda: -f64(0.0)),
    ("relu(-inf) = 0", lambda V: V(-INF).relu(), lambda: 0.0),
    ("relu(inf) = inf", lambda V: V(INF).relu(), lambda: INF),
    ("leaky_relu(-inf) = -inf", lambda V: V(-INF).leaky_relu(0.1), lambda: -INF),
]


@pytest.mark.parametrize("name, build, oracle", FORWARD, ids=[f[0] for f in FORWARD])
def test_special_point_value_is_the_ieee_result(
    engine: Engine, name: str, build: Callable[[Any], Any], oracle: Callable[[], Any]
) -> None:
    z = build(engine.Value)
    expected = _numpy(oracle)
    assert same_float(z.data, expected), f"{name}: got {z.data!r}, IEEE gives {expected!r}"
    z.backward()  # must not raise either, whatever the numbers


# (op, d op / dx at NaN): NaN where the derivative depends on x; a piecewise-constant
# derivative takes its "not > 0" branch (NaN compares false), a linear op its constant.
AT_NAN = [
    (lambda x: -x, -1.0),
    (abs, 0.0),
    (lambda x: x.relu(), 0.0),
    (lambda x: x.leaky_relu(0.2), 0.2),
    (lambda x: x.tanh(), NAN),
    (lambda x: x.sigmoid(), NAN),
    (lambda x: x.exp(), NAN),
    (lambda x: x.log(), NAN),
    (lambda x: x.sin(), NAN),
    (lambda x: x.cos(), NAN),
    (lambda x: x.tan(), NAN),
    (lambda x: x.sqrt(), NAN),
    (lambda x: x.asin(), NAN),
    (lambda x: x.acos(), NAN),
    (lambda x: x.atan(), NAN),
    (lambda x: x.cot(), NAN),
    (lambda x: x.sec(), NAN),
    (lambda x: x.csc(), NAN),
    (lambda x: x.acot(), NAN),
    (lambda x: x.asec(), NAN),
    (lambda x: x.acsc(), NAN),
    (lambda x: x.sinh(), NAN),
    (lambda x: x.cosh(), NAN),
    (lambda x: x.asinh(), NAN),
    (lambda x: x.acosh(), NAN),
    (lambda x: x.atanh(), NAN),
    (lambda x: x**2.5, NAN),
    (lambda x: 2.5**x, NAN),
    (lambda x: x + 1, 1.0),
    (lambda x: x - 1, 1.0),
    (lambda x: 3 * x, 3.0),
    (lambda x: x / 4, 0.25),
    (lambda x: 3 / x, NAN),
    (lambda x: x.log1p(), NAN),
    (lambda x: x.expm1(), NAN),
    (lambda x: x.log2(), NAN),
    (lambda x: x.log10(), NAN),
    (lambda x: x.exp2(), NAN),
    (lambda x: x.cbrt(), NAN),
    (lambda x: x.erf(), NAN),
    (lambda x: x.erfc(), NAN),
    (lambda x: x.softplus(), NAN),
    (lambda x: x.silu(), NAN),
    (lambda x: x.gelu(), NAN),
    (lambda x: x.gelu(approximate="tanh"), NAN),
]


@pytest.mark.parametrize("case", range(len(AT_NAN)))
def test_nan_propagates_through_every_op_and_into_x_dependent_derivatives(
    engine: Engine, case: int
) -> None:
    build, derivative = AT_NAN[case]
    x = engine.Value(NAN)
    z = build(x)
    assert math.isnan(z.data)
    z.backward()
    assert same_float(x.grad, derivative)


def test_nan_propagates_through_sum_and_dot(engine: Engine) -> None:
    a, b = engine.Value(NAN), engine.Value(1.0)
    assert math.isnan(engine.sum([a, b]).data)
    d = engine.dot([a, b], [b, b])
    assert math.isnan(d.data)
    d.backward()
    assert a.grad == 1.0
    assert math.isnan(b.grad)  # b's grad includes a's data


def _grad_at(engine: Engine, build: Callable[[Any], Any], at: float) -> float:
    x = engine.Value(at)
    build(x).backward()
    return x.grad


def test_relu_derivative_at_zero_is_zero(engine: Engine) -> None:
    assert _grad_at(engine, lambda x: x.relu(), 0.0) == 0.0
    assert _grad_at(engine, lambda x: x.relu(), -0.0) == 0.0
    assert _grad_at(engine, lambda x: x.relu(), 1e-300) == 1.0


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.3, 2.0])
def test_leaky_relu_derivative_is_the_slope_at_and_below_zero(engine: Engine, slope: float) -> None:
    assert _grad_at(engine, lambda x: x.leaky_relu(slope), 0.0) == slope
    assert _grad_at(engine, lambda x: x.leaky_relu(slope), -3.0) == slope
    assert _grad_at(engine, lambda x: x.leaky_relu(slope), 3.0) == 1.0
    assert engine.Value(-3.0).leaky_relu(slope).data == -3.0 * slope


def test_abs_derivative_at_zero_is_zero(engine: Engine) -> None:
    assert _grad_at(engine, abs, 0.0) == 0.0
    assert _grad_at(engine, abs, -0.0) == 0.0
    assert _grad_at(engine, abs, -2.0) == -1.0
    assert _grad_at(engine, abs, 2.0) == 1.0


@pytest.mark.parametrize("base", [0.0, -0.0, 2.0, -3.0, INF])
def test_derivative_of_x_to_the_zero_is_zero_everywhere(engine: Engine, base: float) -> None:
    z_grad = _grad_at(engine, lambda x: x**0, base)
    assert same_float(z_grad, 0.0) or z_grad == 0.0
    x, y = engine.Value(base), engine.Value(0.0)
    (x**y).backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("exponent", [0.0, 0.5, 2.0, 3.0])
def test_exponent_derivative_is_zero_at_base_zero_for_nonnegative_exponent(
    engine: Engine, exponent: float
) -> None:
    x, y = engine.Value(0.0), engine.Value(exponent)
    (x**y).backward()
    assert y.grad == 0.0
    # 2 ** y the usual way, for contrast: x ** y · ln x.
    x2, y2 = engine.Value(2.0), engine.Value(exponent)
    (x2**y2).backward()
    assert y2.grad == pytest.approx(2.0**exponent * math.log(2.0), rel=1e-15)


def test_exponent_derivative_of_a_negative_base_is_nan(engine: Engine) -> None:
    # d/dy (-2) ** y = (-2) ** y · ln(-2): ln of a negative number is nan, as in PyTorch.
    x, y = engine.Value(-2.0), engine.Value(3.0)
    z = x**y
    z.backward()
    assert z.data == -8.0
    assert x.grad == 12.0
    assert math.isnan(y.grad)


@pytest.mark.parametrize("big", [-1000.0, -745.0, -40.0, 40.0, 745.0, 1000.0, -INF, INF])
def test_sigmoid_and_tanh_are_stable_far_from_zero(engine: Engine, big: float) -> None:
    for method, limit in [("sigmoid", 1.0 if big > 0 else 0.0), ("tanh", math.copysign(1, big))]:
        x = engine.Value(big)
        z = getattr(x, method)()
        z.backward()
        assert math.isfinite(z.data)
        assert z.data == pytest.approx(limit, abs=1e-15)
        assert math.isfinite(x.grad) and 0.0 <= x.grad < 1e-15


def test_sigmoid_matches_the_logaddexp_form_across_the_range(engine: Engine) -> None:
    for p in np.linspace(-50.0, 50.0, 101):
        z = engine.Value(float(p)).sigmoid().data
        assert z == pytest.approx(float(np.exp(-np.logaddexp(0.0, -p))), rel=1e-13, abs=1e-300)


def test_log_and_sqrt_derivatives_at_zero_are_infinite(engine: Engine) -> None:
    assert _grad_at(engine, lambda x: x.log(), 0.0) == INF
    assert _grad_at(engine, lambda x: x.sqrt(), 0.0) == INF
    assert _grad_at(engine, lambda x: 1 / x, 0.0) == -INF


def test_division_by_zero_gradients_follow_ieee(engine: Engine) -> None:
    x, y = engine.Value(1.0), engine.Value(0.0)
    z = x / y
    z.backward()
    assert z.data == INF
    assert x.grad == INF  # 1 / y
    assert y.grad == -INF  # -(z / y)


def test_python_float_maths_would_raise_where_the_engines_do_not(engine: Engine) -> None:
    # The contract exists because these raise in plain Python.
    with pytest.raises(ZeroDivisionError):
        _ = 1.0 / 0.0
    with pytest.raises(OverflowError):
        _ = 10.0**400
    with pytest.raises(ValueError):
        math.log(0.0)
    assert (1 / engine.Value(0.0)).data == INF
    assert (engine.Value(10.0) ** 400).data == INF
    assert engine.Value(0.0).log().data == -INF


# -- the inverse, reciprocal and hyperbolic functions at their special points ------------------
# (op, value in numpy float64, slope in numpy float64, points). The slope is PyTorch's backward
# formula where torch has the op (acos, atan, sinh, cosh, asinh, acosh, atanh), with nan outside
# the domain where torch's formula returns a number there; for the ops torch lacks, the maths.
# A pole gives ±inf, a domain error nan, the edge of a domain the one-sided limit.
HALF_PI, PI = math.pi / 2, math.pi
JUST_BELOW_ONE, JUST_ABOVE_ONE = 1.0 - 2.0**-53, 1.0 + 2.0**-52


def _outside(mask: Any, slope: Any) -> Any:
    return np.where(mask, NAN, slope)


SPECIAL = [
    ("asin", np.arcsin, lambda x: 1 / np.sqrt(1 - x * x),
     [1.0, -1.0, 0.0, -0.0, 1.5, -1.5, INF, NAN, JUST_BELOW_ONE]),
    ("acos", np.arccos, lambda x: -1 / np.sqrt(1 - x * x),
     [1.0, -1.0, 0.0, -0.0, 1.5, -1.5, INF, NAN, JUST_BELOW_ONE]),
    ("atan", np.arctan, lambda x: 1 / (1 + x * x), [0.0, -0.0, INF, -INF, 1e300, NAN]),
    ("cot", lambda x: 1 / np.tan(x), lambda x: -1 / np.sin(x) ** 2,
     [0.0, -0.0, HALF_PI, PI, INF, NAN]),
    ("sec", lambda x: 1 / np.cos(x), lambda x: np.sin(x) / np.cos(x) ** 2,
     [0.0, -0.0, HALF_PI, PI, -INF, NAN]),
    ("csc", lambda x: 1 / np.sin(x), lambda x: -np.cos(x) / np.sin(x) ** 2,
     [0.0, -0.0, HALF_PI, PI, INF, NAN]),
    ("acot", lambda x: np.arctan(1 / x), lambda x: -1 / (1 + x * x),
     [0.0, -0.0, 1.0, -1.0, INF, -INF, 5e-324, NAN]),
    ("asec", lambda x: np.arccos(1 / x), lambda x: 1 / (np.abs(x) * np.sqrt(x * x - 1)),
     [1.0, -1.0, 0.5, 0.0, -0.0, INF, -INF, JUST_ABOVE_ONE, 1e200, NAN]),
    ("acsc", lambda x: np.arcsin(1 / x), lambda x: -1 / (np.abs(x) * np.sqrt(x * x - 1)),
     [1.0, -1.0, 0.5, 0.0, -0.0, INF, -INF, JUST_ABOVE_ONE, 1e200, NAN]),
    ("sinh", np.sinh, np.cosh, [0.0, -0.0, 710.0, 711.0, -711.0, INF, -INF, NAN]),
    ("cosh", np.cosh, np.sinh, [0.0, -0.0, 710.0, 711.0, -711.0, INF, -INF, NAN]),
    # numpy's hypot does not overflow: 1 / hypot(1, x) is the maths at 1e300, where torch's
    # rsqrt(x² + 1) gives 0.
    ("asinh", np.arcsinh, lambda x: 1 / np.hypot(1.0, x),
     [0.0, -0.0, 1e300, -1e300, 1e-300, INF, -INF, NAN]),
    ("acosh", np.arccosh, lambda x: _outside(x < 1, 1 / np.sqrt(x * x - 1)),
     [1.0, 0.5, -2.0, JUST_ABOVE_ONE, INF, -INF, NAN]),
    ("atanh", np.arctanh, lambda x: _outside(np.abs(x) > 1, 1 / (1 - x * x)),
     [1.0, -1.0, 0.0, -0.0, 2.0, -2.0, INF, NAN, JUST_BELOW_ONE]),
]  # fmt: skip
SPECIAL_CASES = [(op, f, df, x) for op, f, df, points in SPECIAL for x in points]


def _agrees(got: float, want: float, ulps: float, signed_zero: bool = True) -> bool:
    """The same IEEE special value (nan, ±inf, ±0 with its sign unless ``signed_zero`` is
    off: a grad is a sum from 0.0, where -0.0 becomes 0.0), else within ``ulps``."""
    if want == 0.0 and not signed_zero:
        return got == 0.0
    if not math.isfinite(want) or want == 0.0:
        return same_float(got, want)
    return abs(got - want) <= ulps * math.ulp(want)


@pytest.mark.parametrize(
    "op, value, slope, x", SPECIAL_CASES, ids=[f"{c[0]}({c[3]!r})" for c in SPECIAL_CASES]
)
def test_inverse_reciprocal_and_hyperbolic_ops_at_special_points_on_every_path(
    engine: Engine, op: str, value: Callable[[Any], Any], slope: Callable[[Any], Any], x: float
) -> None:
    import pickle

    import ferrograd
    from ferrograd import reference

    want_value, want_slope = _numpy(lambda: value(f64(x))), _numpy(lambda: slope(f64(x)))
    v = engine.Value(x)
    z = getattr(v, op)()
    z.backward()
    # numpy's float64 loops may be SIMD code within a few ulps of libm's.
    assert _agrees(z.data, want_value, 4), (op, x, z.data, want_value)
    assert _agrees(v.grad, want_slope, 4, signed_zero=False), (op, x, v.grad, want_slope)
    copy = pickle.loads(pickle.dumps(z))
    assert copy.op == op and same_float(copy.children[0].data, x) and same_float(copy.data, z.data)
    dual = ferrograd.Dual if engine.Value is ferrograd.Value else reference.Dual
    d = getattr(dual(x, 1.0), op)()
    assert same_float(d.data, z.data), (op, x, d.data)
    assert _agrees(d.tangent, want_slope, 4, signed_zero=False), (op, x, d.tangent, want_slope)
    if engine.Value is ferrograd.Value:
        # The compiled tape runs the graph's formulas: bit for bit, at one point and in a batch,
        # before and after pickling; its jvp runs the Dual's.
        tape = ferrograd.compile(lambda t: getattr(t, op)(), n_inputs=1)
        for t in (tape, pickle.loads(pickle.dumps(tape))):
            point_value, point_grad = t.grad([x])
            values, grads = t.grad_batch([[x], [0.25], [x]])
            for got_value, got_grad in [(point_value, point_grad[0]), (values[2], grads[2][0])]:
                assert same_float(float(got_value), z.data), (op, x)
                assert same_float(float(got_grad), v.grad), (op, x)
            assert same_float(float(t.eval_batch([[x]])[0]), z.data)
            jvp_value, jvp_tangent = t.jvp([x], [1.0])
            assert same_float(float(jvp_value), z.data)
            assert same_float(float(jvp_tangent), d.tangent), (op, x, jvp_tangent, d.tangent)


def test_every_op_with_special_points_here_is_in_the_table() -> None:
    from conftest import UNARY_OPS

    assert {op for op, *_ in SPECIAL} <= {row.name for row in UNARY_OPS}


# -- log1p ... gelu at their special points, on every path -------------------------------------


def _mp(f: Callable[[Any], Any]) -> float:
    """``f`` evaluated in 40-digit arithmetic, rounded to a float: the exact value's double."""
    with mpmath.workdps(40):
        return float(f(mpmath))


_LN2 = _mp(lambda m: m.log(2))
_LN10 = _mp(lambda m: m.log(10))
_TWO_OVER_SQRT_PI = _mp(lambda m: 2 / m.sqrt(m.pi))


def _gelu_tanh_exact(m: Any, x: Any) -> Any:
    """``x/2 (1 + tanh(u))`` as ``x / (1 + exp(-2u))``, ``u = √(2/π) (x + 0.044715 x³)``."""
    return x / (1 + m.exp(-2 * m.sqrt(2 / m.pi) * (x + m.mpf("0.044715") * x**3)))


# (op, x, value, slope): each value is IEEE's (libm's, numpy's) or the exact value's double;
# each slope torch's formula or the limit, as docs/ops.md says which.
SPECIAL_OPS: list[tuple[str, float, float, float]] = [
    ("log1p", -1.0, -INF, INF),
    ("log1p", -2.0, NAN, -1.0),
    ("log1p", 0.0, 0.0, 1.0),
    ("log1p", -0.0, -0.0, 1.0),
    ("log1p", 1e-17, 1e-17, 1.0),  # log(1 + 1e-17) would be 0
    ("log1p", 1e-300, 1e-300, 1.0),
    ("log1p", INF, INF, 0.0),
    ("expm1", 0.0, 0.0, 1.0),
    ("expm1", -0.0, -0.0, 1.0),
    ("expm1", 1e-17, 1e-17, 1.0),  # exp(1e-17) - 1 would be 0
    ("expm1", 710.0, INF, INF),
    ("expm1", -INF, -1.0, 0.0),
    ("log2", 0.0, -INF, INF),
    ("log2", -0.0, -INF, -INF),
    ("log2", -1.0, NAN, -1.0 / _LN2),
    ("log2", 8.0, 3.0, _mp(lambda m: 1 / (8 * m.log(2)))),
    ("log2", INF, INF, 0.0),
    ("log10", 0.0, -INF, INF),
    ("log10", -1.0, NAN, -1.0 / _LN10),
    ("log10", 1000.0, 3.0, _mp(lambda m: 1 / (1000 * m.log(10)))),
    ("log10", INF, INF, 0.0),
    ("exp2", 0.0, 1.0, _LN2),
    ("exp2", 10.0, 1024.0, 1024.0 * _LN2),
    ("exp2", 1024.0, INF, INF),
    ("exp2", -1075.0, 0.0, 0.0),
    ("exp2", -INF, 0.0, 0.0),
    ("cbrt", 0.0, 0.0, INF),
    ("cbrt", -0.0, -0.0, INF),
    ("cbrt", -8.0, -2.0, 1.0 / 12.0),
    ("cbrt", INF, INF, 0.0),
    ("cbrt", -INF, -INF, 0.0),
    ("erf", 0.0, 0.0, _TWO_OVER_SQRT_PI),
    ("erf", -0.0, -0.0, _TWO_OVER_SQRT_PI),
    ("erf", 30.0, 1.0, 0.0),
    ("erf", INF, 1.0, 0.0),
    ("erf", -INF, -1.0, 0.0),
    ("erfc", 0.0, 1.0, -_TWO_OVER_SQRT_PI),
    ("erfc", 10.0, _mp(lambda m: m.erfc(10)), _mp(lambda m: -2 / m.sqrt(m.pi) * m.exp(-100))),
    ("erfc", INF, 0.0, 0.0),
    ("erfc", -INF, 2.0, 0.0),
    ("softplus", 0.0, _LN2, 0.5),
    ("softplus", 40.0, 40.0, 1.0),
    ("softplus", -700.0, _mp(lambda m: m.log1p(m.exp(-700))), _mp(lambda m: 1 / (1 + m.exp(700)))),
    ("softplus", 1e300, 1e300, 1.0),
    ("softplus", -1e300, 0.0, 0.0),
    ("softplus", INF, INF, 1.0),
    ("softplus", -INF, 0.0, 0.0),
    ("silu", 0.0, 0.0, 0.5),
    ("silu", 1000.0, 1000.0, 1.0),
    ("silu", -1000.0, -0.0, 0.0),  # a grad of -0.0 adds to 0.0
    ("silu", 1e300, 1e300, 1.0),
    ("silu", -1e300, -0.0, 0.0),
    ("silu", INF, INF, 1.0),  # the limit (torch's formula: 1 + inf * 0 = nan)
    ("silu", -INF, -0.0, 0.0),  # the limits (torch's formula: -inf * 0 = nan)
    ("gelu", 0.0, 0.0, 0.5),
    (
        "gelu",
        -10.0,
        _mp(lambda m: -10 * m.ncdf(-10)),
        _mp(lambda m: m.ncdf(-10) - 10 * m.npdf(-10)),
    ),
    ("gelu", 1e300, 1e300, 1.0),
    ("gelu", -1e300, -0.0, 0.0),
    ("gelu", INF, INF, 1.0),  # the limit (torch's formula: 1 + inf * 0 = nan)
    ("gelu", -INF, -0.0, 0.0),  # the limits (torch's formula: -inf * 0 = nan)
    ("gelu_tanh", 0.0, 0.0, 0.5),
    (
        "gelu_tanh",
        -10.0,
        _mp(lambda m: _gelu_tanh_exact(m, m.mpf(-10))),
        _mp(lambda m: m.diff(lambda t: _gelu_tanh_exact(m, t), -10)),
    ),
    ("gelu_tanh", 1e300, 1e300, 1.0),
    ("gelu_tanh", -1e300, -0.0, 0.0),
    ("gelu_tanh", INF, INF, 1.0),  # the limit (torch's formula: nan)
    ("gelu_tanh", -INF, -0.0, 0.0),  # the limits (torch's: nan)
]


def _build(op: str) -> Callable[[Any], Any]:
    if op == "gelu_tanh":
        return lambda x: x.gelu(approximate="tanh")
    return lambda x: getattr(x, op)()


#: Far in a tail, the rounding of the argument (x/√2, u) is magnified by the function's
#: steepness (by about 2x² for erfc(x/√2) at x = -10): there, 64 ulps, where 1 - erf would be
#: off by 100%.
_TAIL_ULPS = {("gelu", -10.0): 64, ("gelu_tanh", -10.0): 64}


def _close(got: float, want: float, ulps: int = 2) -> bool:
    """``want`` exactly where it is 0, ±inf or nan (the sign of zero too); else within ``ulps``."""
    if want == 0.0 or not math.isfinite(want):
        return same_float(got, want)
    return abs(got - want) <= ulps * math.ulp(want)


def _loose(got: float, want: float) -> bool:
    """For forward mode against reverse mode: a zero of either sign, else within 2 ulps."""
    return (got == 0.0 and want == 0.0) or _close(got, want)


@pytest.mark.parametrize(
    "op, at, value, slope", SPECIAL_OPS, ids=[f"{c[0]}({c[1]})" for c in SPECIAL_OPS]
)
def test_new_ops_at_their_special_points_on_every_path(
    engine: Engine, op: str, at: float, value: float, slope: float
) -> None:
    build = _build(op)
    ulps = _TAIL_ULPS.get((op, at), 2)
    x = engine.Value(at)
    z = build(x)
    copy = pickle.loads(pickle.dumps(z))
    z.backward()
    assert _close(z.data, value, ulps), (op, at, z.data, value)
    assert _close(x.grad, slope, ulps), (op, at, x.grad, slope)
    # Pickled, the graph is the same graph.
    assert copy.op == z.op and same_float(copy.children[0].data, at)
    copy.backward()
    assert same_float(copy.children[0].grad, x.grad)
    if engine.Value is not ferrograd.Value:
        d = build(reference.Dual(at, 1.0))
        assert same_float(d.data, z.data) and _loose(d.tangent, x.grad), (d, x.grad)
        return
    # The Rust engine's Dual and compiled tape run the same formulas.
    d = build(ferrograd.Dual(at, 1.0))
    assert same_float(d.data, z.data) and _loose(d.tangent, x.grad), (d, x.grad)
    tape = ferrograd.compile(build, n_inputs=1)
    tape_value, tape_grad = tape.grad([at])
    assert same_float(float(tape_value), z.data) and same_float(float(tape_grad[0]), x.grad)
    values, grads = tape.grad_batch(np.array([[at], [0.5], [at]]))
    assert same_float(float(values[2]), z.data) and same_float(float(grads[2, 0]), x.grad)
    assert same_float(float(tape.eval_batch(np.array([[at]]))[0]), z.data)
    jvp_value, tangent = tape.jvp([at], [1.0])
    assert same_float(float(jvp_value), z.data) and _loose(float(tangent), x.grad)
    # Forward over reverse: never an exception, and no nan from inf · 0 in dual arithmetic
    # (erf's slope at ±inf once gave one); cbrt's pole at 0 has no second derivative.
    second = float(tape.hessian([at])[0, 0])
    assert not math.isnan(second) or (op, at) == ("cbrt", 0.0), (op, at, second)
