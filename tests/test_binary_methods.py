"""The binary methods (``y.atan2(x)``, ``hypot``, ``minimum``, ``maximum``, ``clamp_min``,
``clamp_max``), ``x.clamp(lo, hi)``, ``x.log(base)`` and ``a ** x``: against HIPS autograd,
central differences and seed 004's table; at their special points (IEEE, torch's rules at ties
and bounds); on every path (both engines, Dual, compiled tapes, pickles, anomaly mode); as module
functions, through numpy's object loops and in the compare language."""

from __future__ import annotations

import math
import pickle
import random
import subprocess
import sys
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import BINARY_METHODS, ENGINES, Engine, central_difference, same_float

import ferrograd
from ferrograd import reference
from ferrograd.cli.expression import parse_expression

# No ties, every quadrant.
POINTS = [(1.7, -0.6), (-2.2, 0.9), (0.4, 3.3), (-1.0, -2.5), (0.3, 0.2)]

#: autograd's function for each op (away from ties its rule and torch's agree).
ORACLES: dict[str, Callable[[Any, Any], Any]] = {
    "atan2": anp.arctan2,
    "hypot": anp.hypot,
    "minimum": anp.minimum,
    "maximum": anp.maximum,
    "clamp_min": anp.maximum,
    "clamp_max": anp.minimum,
}

DUALS = [ferrograd.Dual, reference.Dual]


def _close(actual: float, expected: float, rel: float) -> bool:
    return abs(actual - expected) <= rel * max(1.0, abs(expected))


def _grads(engine: Engine, method: str, a: float, b: float) -> tuple[float, float, float]:
    x, y = engine.Value(a), engine.Value(b)
    z = getattr(x, method)(y)
    z.backward()
    return z.data, x.grad, y.grad


def test_every_binary_method_of_the_table_has_an_oracle_here() -> None:
    assert set(ORACLES) == {row.name for row in BINARY_METHODS}


@pytest.mark.parametrize("row", BINARY_METHODS, ids=lambda r: r.name)
def test_value_and_both_gradients_match_autograd_and_central_differences(
    engine: Engine, row: Any
) -> None:
    oracle = ORACLES[row.name]
    for a, b in POINTS:
        z, dx, dy = _grads(engine, row.method, a, b)
        assert _close(z, float(oracle(a, b)), 1e-15), (row.name, a, b)
        assert _close(dx, float(autograd.grad(oracle, 0)(a, b)), 1e-12), (row.name, a, b)
        assert _close(dy, float(autograd.grad(oracle, 1)(a, b)), 1e-12), (row.name, a, b)

        def along_x(t: float, b: float = b) -> float:
            return float(getattr(engine.Value(t), row.method)(b).data)

        def along_y(t: float, a: float = a) -> float:
            return float(getattr(engine.Value(a), row.method)(t).data)

        assert _close(dx, central_difference(along_x, a), 1e-6), (row.name, a, b)
        assert _close(dy, central_difference(along_y, b), 1e-6), (row.name, a, b)
        # Forward mode: each tangent is the matching partial derivative.
        for dual in DUALS:
            tx = getattr(dual(a, 1.0), row.method)(dual(b)).tangent
            ty = getattr(dual(a), row.method)(dual(b, 1.0)).tangent
            assert _close(tx, dx, 1e-15) and _close(ty, dy, 1e-15), (dual, row.name)


def _one_sided(f: Callable[[float], float], x: float, h: float = 1e-7) -> tuple[float, float]:
    """The left and the right difference quotients of ``f`` at ``x``."""
    return (f(x) - f(x - h)) / h, (f(x + h) - f(x)) / h


@pytest.mark.parametrize("method", ["minimum", "maximum"])
def test_a_tie_splits_the_gradient_evenly_as_torch_does(engine: Engine, method: str) -> None:
    # torch's rule: at a == b each operand gets g / 2, the mean of the one-sided slopes.
    for a in (-1.5, 0.0, 2.0):
        z, dx, dy = _grads(engine, method, a, a)
        assert z == a
        for d, along in (
            (dx, lambda t, a=a: getattr(engine.Value(t), method)(a).data),
            (dy, lambda t, a=a: getattr(engine.Value(a), method)(t).data),
        ):
            left, right = _one_sided(along, a)
            assert {round(left), round(right)} == {0, 1}
            assert d == (left + right) / 2 or _close(d, (left + right) / 2, 1e-6)
            assert d == 0.5
        oracle = getattr(anp, method)  # autograd splits a tie the same way
        assert (dx, dy) == tuple(float(autograd.grad(oracle, i)(a, a)) for i in (0, 1))
        # The same node on both sides gets both halves: max(x, x) = x.
        x = engine.Value(a)
        getattr(x, method)(x).backward()
        assert x.grad == 1.0
    for dual in DUALS:
        d = getattr(dual(1.0, 1.0), method)(dual(1.0, 3.0))
        assert (d.data, d.tangent) == (1.0, 2.0)


def test_minimum_and_maximum_at_nan_and_signed_zeros(engine: Engine) -> None:
    for method in ("minimum", "maximum"):
        for a, b in ((math.nan, 1.0), (1.0, math.nan), (math.nan, math.nan)):
            z, dx, dy = _grads(engine, method, a, b)
            # nan propagates; no comparison holds, so torch's rule gives g to each operand.
            assert math.isnan(z) and (dx, dy) == (1.0, 1.0)
    # IEEE 754-2019: -0.0 is below 0.0.
    for a, b in ((0.0, -0.0), (-0.0, 0.0)):
        assert same_float(_grads(engine, "minimum", a, b)[0], -0.0)
        assert same_float(_grads(engine, "maximum", a, b)[0], 0.0)


def test_atan2_at_signed_zeros_infinities_and_nan(engine: Engine) -> None:
    special = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan]
    for y in special:
        for x in special:
            z, dy, dx = _grads(engine, "atan2", y, x)
            # C99 Annex F's values, as Python's math.atan2 gives them.
            assert same_float(z, math.atan2(y, x)), (y, x, z)
            if y == 0.0 and x == 0.0:
                # (x, -y) / (x² + y²) is 0/0 at the origin: nan, as torch's gradient.
                assert math.isnan(dy) and math.isnan(dx)
            elif math.isfinite(y) and math.isfinite(x):
                r2 = x * x + y * y
                assert _close(dy, x / r2, 1e-15) and _close(dx, -y / r2, 1e-15)
    # Far from 1: the hypotenuse form neither overflows nor underflows where x² + y² would.
    for s in (1e200, 1e-200):
        _, dy, dx = _grads(engine, "atan2", 3.0 * s, 4.0 * s)
        assert _close(dy * s, 4.0 / 25.0, 1e-15) and _close(dx * s, -3.0 / 25.0, 1e-15)


def test_hypot_at_infinities_nan_and_zero(engine: Engine) -> None:
    # IEEE: an infinity wins over nan.
    for a, b in ((math.inf, math.nan), (math.nan, -math.inf), (-math.inf, 2.0)):
        assert _grads(engine, "hypot", a, b)[0] == math.inf
    assert math.isnan(_grads(engine, "hypot", math.nan, 1.0)[0])
    z, dx, dy = _grads(engine, "hypot", 0.0, 0.0)
    assert z == 0.0 and math.isnan(dx) and math.isnan(dy)
    # No overflow on the way.
    assert _close(_grads(engine, "hypot", 3e300, 4e300)[0], 5e300, 1e-15)


def test_the_engines_hypot_is_libms_and_math_hypot_is_within_one_ulp() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        a = rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 8)
        b = rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 8)
        rust = ferrograd.Value(a).hypot(b).data
        assert reference.Value(a).hypot(b).data == rust
        # The fallback where no C library can be reached: within 1 ulp (2 on Python 3.9, whose
        # math.hypot is an older algorithm).
        ulps = 1 if sys.version_info >= (3, 10) else 2
        assert abs(math.hypot(a, b) - rust) <= ulps * math.ulp(rust)
    if sys.platform.startswith(("linux", "darwin")):
        assert reference._hypot is not math.hypot


def test_clamp_min_and_clamp_max_give_x_the_gradient_at_the_bound(engine: Engine) -> None:
    # torch: clamp_min passes g to x where x >= lo, to lo where x < lo (clamp_max mirrored).
    for x, lo, want in ((0.5, 0.5, (0.5, 1.0, 0.0)), (0.2, 0.5, (0.5, 0.0, 1.0))):
        assert _grads(engine, "clamp_min", x, lo) == want
    for x, hi, want in ((0.5, 0.5, (0.5, 1.0, 0.0)), (0.9, 0.5, (0.5, 0.0, 1.0))):
        assert _grads(engine, "clamp_max", x, hi) == want
    for method in ("clamp_min", "clamp_max"):
        for a, b in ((math.nan, 0.0), (0.0, math.nan)):
            z, dx, dy = _grads(engine, method, a, b)
            assert math.isnan(z) and (dx, dy) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("x", "lo", "hi"),
    [(-0.5, 0.0, 1.0), (0.0, 0.0, 1.0), (0.5, 0.0, 1.0), (1.0, 0.0, 1.0), (1.5, 0.0, 1.0)],
)
def test_clamp_with_number_bounds_is_np_clip_with_torchs_gradient(
    engine: Engine, x: float, lo: float, hi: float
) -> None:
    v = engine.Value(x)
    z = v.clamp(lo, hi)
    assert (z.op, z.children[0].op) == ("clamp_max", "clamp_min")
    z.backward()
    assert z.data == float(np.clip(x, lo, hi))
    # The gradient reaches x where lo <= x <= hi (torch's clamp), else nothing.
    assert v.grad == (1.0 if lo <= x <= hi else 0.0)
    if x not in (lo, hi):
        numeric = central_difference(lambda t: engine.Value(t).clamp(lo, hi).data, x)
        assert _close(v.grad, numeric, 1e-9)
    assert v.clamp(lo=lo).data == max(x, lo) and v.clamp(hi=hi).data == min(x, hi)
    assert v.clamp(hi=hi).op == "clamp_max" and v.clamp(lo).op == "clamp_min"


def test_clamp_with_value_bounds_sends_the_gradient_to_the_bound_that_holds(
    engine: Engine,
) -> None:
    for px, want in ((-2.0, (0.0, 1.0, 0.0)), (0.3, (1.0, 0.0, 0.0)), (2.0, (0.0, 0.0, 1.0))):
        x, lo, hi = engine.Value(px), engine.Value(-1.0), engine.Value(1.0)
        x.clamp(lo, hi).backward()
        assert (x.grad, lo.grad, hi.grad) == want

        def moved(t: float, which: int, px: float = px) -> float:
            args = [px, -1.0, 1.0]
            args[which] = t
            x, lo, hi = (engine.Value(a) for a in args)
            return float(x.clamp(lo, hi).data)

        for which, start in enumerate((px, -1.0, 1.0)):
            numeric = central_difference(lambda t, w=which: moved(t, w), start)
            assert _close(want[which], numeric, 1e-9)
    # lo > hi: the result is hi, as torch's, and the gradient goes to hi.
    x, lo, hi = engine.Value(0.0), engine.Value(2.0), engine.Value(1.0)
    z = x.clamp(lo, hi)
    z.backward()
    assert z.data == 1.0 and (x.grad, lo.grad, hi.grad) == (0.0, 0.0, 1.0)


def test_clamp_refuses_no_bounds_and_non_numbers(engine: Engine) -> None:
    x = engine.Value(0.5)
    with pytest.raises(TypeError, match="clamp\\(\\) needs lo or hi"):
        x.clamp()
    with pytest.raises(TypeError, match="clamp\\(\\) needs lo or hi"):
        x.clamp(None, None)
    with pytest.raises(TypeError, match="clamp\\(\\) lo needs a Value or a real number, got str"):
        x.clamp("0")
    with pytest.raises(TypeError, match="clamp\\(\\) hi needs a Value or a real number, got list"):
        x.clamp(0.0, [1.0])
    for dual in DUALS:
        with pytest.raises(TypeError, match="clamp\\(\\) needs lo or hi"):
            dual(0.5).clamp()
        d = dual(0.5, 1.0).clamp(dual(0.0, 2.0), 1.0)
        assert (d.data, d.tangent) == (0.5, 1.0)
        d = dual(-0.5, 1.0).clamp(dual(0.0, 2.0), 1.0)
        assert (d.data, d.tangent) == (0.0, 2.0)


def test_one_engines_value_is_refused_by_the_others_methods() -> None:
    for a, b in (
        (ferrograd.Value(1.0), reference.Value(2.0)),
        (reference.Value(1.0), ferrograd.Value(2.0)),
    ):
        for method in (
            "atan2",
            "hypot",
            "minimum",
            "maximum",
            "clamp_min",
            "clamp_max",
            "log",
            "clamp",
        ):
            with pytest.raises(TypeError, match="carries a derivative"):
                getattr(a, method)(b)


# -- log to a base, and a ** x: the seed's table ------------------------------------------------


@pytest.mark.parametrize("base", [2.0, 10.0, 0.5, math.e, 7])
def test_log_to_a_number_base_matches_the_seeds_table(engine: Engine, base: float) -> None:
    for p in (0.3, 1.0, 2.5, 40.0):
        x = engine.Value(p)
        z = x.log(base)
        z.backward()
        # log_a x = ln x / ln a; (log_a x)' = 1 / (x ln a).
        assert _close(z.data, math.log(p) / math.log(base), 1e-15)
        assert _close(x.grad, 1.0 / (p * math.log(base)), 1e-15)
        assert _close(x.grad, central_difference(lambda t: engine.Value(t).log(base).data, p), 1e-6)
        assert z.op == "/" and z.children[0].op == "log" and z.children[1].op == ""
    # Without a base, the natural log, the op itself.
    assert engine.Value(2.0).log().op == "log"
    assert engine.Value(2.0).log(None).op == "log"


def test_log_to_a_value_base_differentiates_in_the_base_too(engine: Engine) -> None:
    def oracle(x: Any, a: Any) -> Any:
        return anp.log(x) / anp.log(a)

    for px, pa in ((2.5, 3.0), (0.4, 0.2), (9.0, 1.5)):
        x, a = engine.Value(px), engine.Value(pa)
        z = x.log(a)
        z.backward()
        assert _close(z.data, oracle(px, pa), 1e-15)
        assert _close(x.grad, float(autograd.grad(oracle, 0)(px, pa)), 1e-13)
        assert _close(a.grad, float(autograd.grad(oracle, 1)(px, pa)), 1e-13)
        # d/da log_a x = -ln x / (a ln² a)
        assert _close(a.grad, -math.log(px) / (pa * math.log(pa) ** 2), 1e-13)
    with pytest.raises(TypeError, match="log\\(\\) base needs a real number, got str"):
        engine.Value(2.0).log("e")


def test_log_to_a_base_in_forward_mode() -> None:
    for dual in DUALS:
        d = dual(8.0, 1.0).log(2.0)
        assert d.data == math.log(8.0) / math.log(2.0)
        assert _close(d.tangent, 1.0 / (8.0 * math.log(2.0)), 1e-15)
        d = dual(8.0).log(dual(2.0, 1.0))
        assert _close(d.tangent, -math.log(8.0) / (2.0 * math.log(2.0) ** 2), 1e-15)
        assert dual(8.0, 1.0).log().data == math.log(8.0)


@pytest.mark.parametrize("a", [2.0, 0.5, 10.0, math.e, 1.0])
def test_a_to_the_x_matches_the_seeds_table(engine: Engine, a: float) -> None:
    # (a^x)' = a^x ln a
    for p in (-2.3, -0.5, 0.0, 0.7, 3.1):
        x = engine.Value(p)
        z = a**x
        z.backward()
        assert z.op == "**"
        assert _close(z.data, a**p, 1e-15)
        assert _close(x.grad, a**p * math.log(a), 1e-15)
        for dual in DUALS:
            assert _close((a ** dual(p, 1.0)).tangent, a**p * math.log(a), 1e-15)
    tape = ferrograd.compile(lambda t: a**t, 1)
    assert _close(float(tape.grad([0.7])[1][0]), a**0.7 * math.log(a), 1e-15)


# -- every path: tapes, batches, jvp, hessian, pickles, anomaly mode ----------------------------


def every_binary_op(x: Any, y: Any) -> Any:
    return (
        x.atan2(y) * y.hypot(x * 0.5)
        + x.minimum(y) * 0.7 + x.maximum(y * 0.3)
        + x.clamp(-1.0, y) * x.clamp_min(y * 0.2) - y.clamp_max(x)
        + (x * x + 1.0).log(y * y + 2.0) + x.log(3.0 + y * 0.0)
    )  # fmt: skip


def _graph(engine: Engine, f: Callable[..., Any], point: list[float]) -> tuple[float, list[float]]:
    xs = [engine.Value(p) for p in point]
    z = f(*xs)
    z.backward()
    return z.data, [x.grad for x in xs]


POINTS_2D = [[0.8, 1.7], [1.3, -0.4], [0.25, 0.6], [1.9, 2.4]]


def test_tapes_compute_the_graphs_numbers_at_points_and_in_batches() -> None:
    tape = ferrograd.compile(every_binary_op, 2, example=[0.8, 1.7])
    for point in POINTS_2D:
        value, grad = tape.grad(point)
        got = (float(value), [float(g) for g in grad])
        for engine in ENGINES:
            want_value, want_grad = _graph(engine, every_binary_op, point)
            assert repr(got) == repr((want_value, want_grad)), engine.name
        assert tape(point) == value
    batch = np.array(POINTS_2D)
    assert list(tape.eval_batch(batch)) == [tape(p) for p in POINTS_2D]
    values, grads = tape.grad_batch(batch)
    for point, v, g in zip(POINTS_2D, values, grads):
        assert (v, list(g)) == (tape.grad(point)[0], list(tape.grad(point)[1]))
    # No fast kernel of their own: precision="fast" runs the same formulas (log has one).
    plain = ferrograd.compile(
        lambda x, y: x.atan2(y) * y.hypot(x) + x.minimum(y) - x.maximum(y) + x.clamp(-1.0, y), 2
    )
    assert list(plain.eval_batch(batch, precision="fast")) == list(plain.eval_batch(batch))
    fast, slow = plain.grad_batch(batch, precision="fast"), plain.grad_batch(batch)
    assert np.array_equal(fast[1], slow[1])
    # A pickled tape stores the ops' codes; read back, it runs the same formulas.
    copy = pickle.loads(pickle.dumps(tape))
    for p in POINTS_2D:
        assert repr(copy.grad(p)) == repr(tape.grad(p))


def test_tapes_jvp_and_hessian_match_differences() -> None:
    tape = ferrograd.compile(every_binary_op, 2, example=[0.8, 1.7])
    for point in POINTS_2D:
        x = np.array(point)
        _, grad = tape.grad(x)
        for v in ([1.0, 0.0], [0.3, -1.2]):
            value, tangent = tape.jvp(x, v)
            assert value == tape(x)
            assert _close(tangent, float(np.dot(grad, v)), 1e-12)
            _, dual_tangent = ferrograd.jvp(every_binary_op, tuple(point), tuple(v))
            assert _close(dual_tangent, tangent, 1e-12)
        h = tape.hessian(x)
        step = 1e-5
        for j in range(2):
            e = np.zeros(2)
            e[j] = step
            numeric = (tape.grad(x + e)[1] - tape.grad(x - e)[1]) / (2 * step)
            assert np.allclose(h[:, j], numeric, rtol=1e-5, atol=1e-6), (point, j)
        assert np.allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_tapes_keep_the_special_points() -> None:
    for method, a, b in [
        ("atan2", -0.0, -0.0),
        ("atan2", 0.0, -1.0),
        ("hypot", math.inf, math.nan),
        ("maximum", 2.0, 2.0),
        ("minimum", math.nan, 1.0),
        ("clamp_min", 1.0, 1.0),
        ("clamp_max", 3.0, 1.0),
    ]:
        tape = ferrograd.compile(lambda s, t, m=method: getattr(s, m)(t), 2, example=[a, b])
        value, grad = tape.grad([a, b])
        want = _grads(ENGINES[0], method, a, b)
        assert repr((float(value), *map(float, grad))) == repr(want), method
        d = getattr(ferrograd.Dual(a, 1.0), method)(ferrograd.Dual(b))
        assert repr(d.data) == repr(want[0])


def test_pickles_keep_the_new_ops(engine: Engine) -> None:
    x, y = engine.Value(0.8, "x"), engine.Value(-1.7, "y")
    z = every_binary_op(x, y)
    z.backward()
    copy = pickle.loads(pickle.dumps(z))
    ops = set()
    stack = [copy]
    while stack:
        n = stack.pop()
        ops.add(n.op)
        stack.extend(n.children)
    assert ops >= {row.name for row in BINARY_METHODS}
    # The copy's backward (the op's formulas, found by name or code) gives the same gradient.
    copy.backward()
    leaves = {}
    stack = [copy]
    while stack:
        n = stack.pop()
        if n.label:
            leaves[n.label] = n.grad
        stack.extend(n.children)
    assert leaves == {"x": 2 * x.grad, "y": 2 * y.grad}


def test_pictures_name_the_new_ops(engine: Engine) -> None:
    dot = ferrograd.viz.to_dot(every_binary_op(engine.Value(0.8), engine.Value(-1.7)))
    for row in BINARY_METHODS:
        assert f'label="{row.name}"' in dot, row.name


def test_anomaly_mode_names_the_new_op_alike_on_both_engines() -> None:
    messages = []
    for engine in ENGINES:
        y, x = engine.Value(0.0, "y"), engine.Value(0.0, "x")
        z = y.atan2(x)
        with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as info:
            z.backward()
        messages.append(str(info.value))
    assert "'atan2'" in messages[0] and messages[0] == messages[1]


# -- module functions, the star import, numpy -------------------------------------------------


def test_module_functions_take_values_duals_and_numbers() -> None:
    for name, method in [
        ("atan2", "atan2"),
        ("hypot", "hypot"),
        ("minimum", "minimum"),
        ("maximum", "maximum"),
    ]:
        f = getattr(ferrograd, name)
        assert name in ferrograd.__all__
        # Two numbers: a float, the op's own value.
        assert repr(f(2.0, -0.5)) == repr(getattr(ferrograd.Value(2.0), method)(-0.5).data)
        for kind in (ferrograd.Value, reference.Value, ferrograd.Dual, reference.Dual):
            a = kind(2.0)
            out = f(a, -0.5)
            assert type(out) is kind
            # A number first becomes a constant of the other operand's kind.
            flipped = f(-0.5, a)
            assert type(flipped) is kind
            assert repr(flipped.data) == repr(getattr(kind(-0.5), method)(kind(2.0)).data)
            if kind in (ferrograd.Value, reference.Value):
                flipped.backward()
                direct = kind(2.0)
                getattr(kind(-0.5), method)(direct).backward()
                assert a.grad == direct.grad
                assert flipped.op == name and flipped.children[1] == a
        with pytest.raises(
            TypeError, match=f"ferrograd.{name}\\(\\) needs Values, Duals or real numbers, got str"
        ):
            f("1", 2.0)
    assert math.atan2(1.0, -1.0) == ferrograd.atan2(1.0, -1.0)
    assert ferrograd.clamp(1.5, 0.0, 1.0) == 1.0 and ferrograd.clamp(-1.0, hi=0.5) == -1.0
    x = ferrograd.Value(0.5)
    c = ferrograd.clamp(x, 0.0, ferrograd.Value(1.0))
    c.backward()
    assert c.op == "clamp_max" and x.grad == 1.0
    assert type(ferrograd.clamp(0.5, reference.Value(0.0))) is reference.Value


def test_the_star_import_does_not_shadow_builtins() -> None:
    # A fresh interpreter: nothing imported before can hide a shadowing.
    code = (
        "import builtins\n"
        "from ferrograd import *\n"
        "for name in ('sum', 'min', 'max', 'abs'):\n"
        "    assert globals().get(name, getattr(builtins, name)) is getattr(builtins, name), name\n"
        "assert sum([1, 2]) == 3 and max(1, 2) == 2\n"
        "y = atan2(Value(1.0), 2.0); y.backward()\n"
        "assert (hypot, minimum, maximum, clamp) and y.op == 'atan2'\n"
        "import ferrograd\n"
        "assert ferrograd.sum([Value(1.0)]).op == 'sum'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert not {"sum", "min", "max", "abs"} & set(ferrograd.__all__)


@pytest.mark.parametrize("kind", [ferrograd.Value, reference.Value])
def test_numpy_arctan2_and_hypot_on_object_arrays_differentiate(kind: Any) -> None:
    ys = np.array([kind(1.0), kind(-2.0)], dtype=object)
    xs = np.array([kind(0.5), kind(3.0)], dtype=object)
    for ufunc, name in ((np.arctan2, "atan2"), (np.hypot, "hypot")):
        out = ufunc(ys, xs)
        assert [v.op for v in out] == [name, name]
        for v in (*ys, *xs):
            v.grad = 0.0
        engine_sum = ferrograd.sum if kind is ferrograd.Value else reference.sum
        engine_sum(list(out)).backward()
        want = [
            autograd.grad(getattr(anp, ufunc.__name__), i)(ys[0].data, xs[0].data) for i in (0, 1)
        ]
        assert _close(ys[0].grad, float(want[0]), 1e-12) and _close(
            xs[0].grad, float(want[1]), 1e-12
        )
    # Ordering is refused, so numpy's minimum (which compares) says so; frompyfunc is the way.
    with pytest.raises(TypeError, match="v < w|v <= w|v > w|v >= w"):
        np.minimum(ys, xs)
    out = np.frompyfunc(ferrograd.minimum, 2, 1)(ys, xs)
    assert [v.op for v in out] == ["minimum", "minimum"] and out[1].data == -2.0


def test_numpy_arctan2_on_duals() -> None:
    ys = np.array([ferrograd.Dual(1.0, 1.0)], dtype=object)
    out = np.arctan2(ys, np.array([ferrograd.Dual(0.5)], dtype=object))
    assert _close(out[0].tangent, 0.5 / 1.25, 1e-15)


# -- the compare language -----------------------------------------------------------------------


def test_the_compare_language_takes_two_operand_functions() -> None:
    text = "atan2(y, x) * hypot(x, y) + x.minimum(y) + maximum(x, 2) - clamp_max(x, y) + log(x, y)"
    expr = parse_expression(text)
    assert expr.names == ("y", "x")
    for engine in ENGINES:
        x, y = engine.Value(0.5), engine.Value(2.0)
        z = expr.evaluate({"x": x, "y": y})
        want = y.atan2(x) * x.hypot(y) + x.minimum(y) + x.maximum(2) - x.clamp_max(y) + x.log(y)
        assert repr(z.data) == repr(want.data)


def test_compare_agrees_on_every_node_of_asin_times_atan2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ferrograd", "compare", "asin(x)*atan2(y, x)", "--at", "x=0.5,y=2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "engines agree on all 5 nodes" in out.stdout
    assert "atan2" in out.stdout
