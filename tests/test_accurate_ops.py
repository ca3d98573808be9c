"""log1p, expm1, log2, log10, exp2, cbrt, erf, erfc, softplus, silu, gelu and gelu_tanh: their
accuracy against mpmath over their ranges (tails included), the engines' bit-for-bit agreement,
the reference engine's fallbacks for the Pythons whose ``math`` lacks ``exp2``/``cbrt``, compiled
tapes (batches, ``jvp``, ``hessian``) against HIPS autograd, numpy's object arrays, GELU's
``approximate``, ``compare`` and ``viz``. Their special points are in test_special_points.py."""

from __future__ import annotations

import math
import pickle
import random
import struct
import subprocess
import sys
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import mpmath
import numpy as np
import pytest
from autograd.scipy import special
from conftest import ENGINES, Engine

import ferrograd
from ferrograd import reference
from ferrograd.viz import to_dot

NEW_OPS = [
    "log1p",
    "expm1",
    "log2",
    "log10",
    "exp2",
    "cbrt",
    "erf",
    "erfc",
    "softplus",
    "silu",
    "gelu",
    "gelu_tanh",
]


def _build(op: str) -> Callable[[Any], Any]:
    if op == "gelu_tanh":
        return lambda x: x.gelu(approximate="tanh")
    return lambda x: getattr(x, op)()


def _gelu_tanh_exact(m: Any, x: Any) -> Any:
    return x / (1 + m.exp(-2 * m.sqrt(2 / m.pi) * (x + m.mpf("0.044715") * x**3)))


def _cbrt_exact(m: Any, x: Any) -> Any:
    return m.cbrt(x) if x >= 0 else -m.cbrt(-x)


def _sigmoid(m: Any, x: Any) -> Any:
    return 1 / (1 + m.exp(-x))


def _diff(f: Callable[[Any, Any], Any], n: int) -> Callable[[Any, Any], Any]:
    return lambda m, x: m.diff(lambda t: f(m, t), x, n)


_F = Callable[[Any, Any], Any]
# The exact function and its first two derivatives (on mpmath numbers), and where to sample:
# (lo, hi, scale) ranges, "lin" uniform, "log" log-uniform in |x| with the range's sign.
EXACT: dict[str, tuple[_F, _F, _F, list[tuple[float, float, str]]]] = {
    "log1p": (
        lambda m, x: m.log1p(x),
        lambda m, x: 1 / (1 + x),
        lambda m, x: -1 / (1 + x) ** 2,
        [(-0.99, 20.0, "lin"), (1e-300, 1e-3, "log"), (-1e-3, -1e-300, "log"), (1.0, 1e300, "log")],
    ),
    "expm1": (
        lambda m, x: m.expm1(x),
        lambda m, x: m.exp(x),
        lambda m, x: m.exp(x),
        [(-40.0, 700.0, "lin"), (1e-300, 1e-3, "log"), (-1e-3, -1e-300, "log")],
    ),
    "log2": (
        lambda m, x: m.log(x, 2),
        lambda m, x: 1 / (x * m.log(2)),
        lambda m, x: -1 / (x * x * m.log(2)),
        [(0.01, 100.0, "lin"), (1e-300, 1e300, "log")],
    ),
    "log10": (
        lambda m, x: m.log10(x),
        lambda m, x: 1 / (x * m.log(10)),
        lambda m, x: -1 / (x * x * m.log(10)),
        [(0.01, 100.0, "lin"), (1e-300, 1e300, "log")],
    ),
    "exp2": (
        lambda m, x: m.power(2, x),
        lambda m, x: m.power(2, x) * m.log(2),
        lambda m, x: m.power(2, x) * m.log(2) ** 2,
        [(-1000.0, 1000.0, "lin"), (1e-300, 1e-3, "log")],
    ),
    "cbrt": (
        _cbrt_exact,
        lambda m, x: 1 / (3 * _cbrt_exact(m, x) ** 2),
        lambda m, x: -2 / (9 * x * _cbrt_exact(m, x) ** 2),
        [(-30.0, 30.0, "lin"), (1e-300, 1e300, "log"), (-1e300, -1e-300, "log")],
    ),
    "erf": (
        lambda m, x: m.erf(x),
        lambda m, x: 2 / m.sqrt(m.pi) * m.exp(-x * x),
        lambda m, x: -4 * x / m.sqrt(m.pi) * m.exp(-x * x),
        [(-6.0, 6.0, "lin"), (1e-300, 1e-3, "log")],
    ),
    "erfc": (
        lambda m, x: m.erfc(x),
        lambda m, x: -2 / m.sqrt(m.pi) * m.exp(-x * x),
        lambda m, x: 4 * x / m.sqrt(m.pi) * m.exp(-x * x),
        [(-6.0, 26.0, "lin")],
    ),
    "softplus": (
        lambda m, x: m.log1p(m.exp(x)),
        _sigmoid,
        lambda m, x: _sigmoid(m, x) * _sigmoid(m, -x),
        [(-700.0, 700.0, "lin"), (-30.0, 30.0, "lin")],
    ),
    "silu": (
        lambda m, x: x * _sigmoid(m, x),
        lambda m, x: _sigmoid(m, x) * (1 + x * _sigmoid(m, -x)),
        lambda m, x: _sigmoid(m, x) * _sigmoid(m, -x) * (2 + x * (1 - 2 * _sigmoid(m, x))),
        [(-700.0, 700.0, "lin"), (-30.0, 30.0, "lin")],
    ),
    "gelu": (
        lambda m, x: x * m.ncdf(x),
        lambda m, x: m.ncdf(x) + x * m.npdf(x),
        lambda m, x: m.npdf(x) * (2 - x * x),
        [(-30.0, 30.0, "lin"), (-5.0, 5.0, "lin")],
    ),
    "gelu_tanh": (
        _gelu_tanh_exact,
        _diff(_gelu_tanh_exact, 1),
        _diff(_gelu_tanh_exact, 2),
        [(-12.0, 30.0, "lin"), (-5.0, 5.0, "lin")],
    ),
}
#: Ops whose slope crosses 0 (at x ≈ -1.28, -0.75, -0.75): near that root a relative bound means
#: nothing, so their slopes are held to 1e-15 absolute (slopes of size ~1) as well.
_SLOPE_ROOTS = {"silu", "gelu", "gelu_tanh"}


def _samples(op: str, n: int = 60) -> list[float]:
    rng = random.Random(op)
    points = []
    for lo, hi, scale in EXACT[op][3]:
        for _ in range(n):
            if scale == "lin":
                points.append(rng.uniform(lo, hi))
            else:
                sign = 1.0 if hi > 0 else -1.0
                a, b = sorted((math.log10(abs(lo)), math.log10(abs(hi))))
                points.append(sign * 10 ** rng.uniform(a, b))
    return points


def _within(got: float, want: Any, ulps: float, floor: float = 0.0) -> bool:
    w = float(want)
    return abs(got - w) <= ulps * math.ulp(w) + floor


@pytest.mark.parametrize("op", NEW_OPS)
def test_value_and_slope_match_mpmath_to_the_ulps_the_conditioning_allows(op: str) -> None:
    # Error bound: a few ulps of libm and of the formula's few roundings, plus the ulps the
    # function's condition number |x f'/f| (|x f''/f'| for the slope) makes of the rounding
    # of intermediate arguments (x/√2 for gelu, x*x for erf's slope, ...).
    exact, first, second, _ = EXACT[op]
    build = _build(op)
    with mpmath.workdps(50):
        m = mpmath.mp
        for x in _samples(op):
            v = ferrograd.Value(x)
            z = build(v)
            z.backward()
            xm = m.mpf(x)
            f = exact(m, xm)
            d1, d2 = first(m, xm), second(m, xm)
            cond_f = abs(xm * d1 / f) if f != 0 else 0
            cond_d = abs(xm * d2 / d1) if d1 != 0 else 0
            floor = 1e-15 if op in _SLOPE_ROOTS else 0.0
            assert _within(z.data, f, 3 + 2 * float(cond_f)), (op, x, z.data, float(f))
            assert _within(v.grad, d1, 4 + 2 * float(cond_d), floor), (op, x, v.grad, float(d1))


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def _same_bits(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or _bits(a) == _bits(b)


def _wide(rng: random.Random) -> float:
    return rng.choice(
        [
            rng.uniform(-3, 3),
            rng.uniform(-40, 40),
            rng.uniform(-800, 800),
            rng.uniform(-1, 1) * 10 ** rng.uniform(-310, 308),
            rng.choice([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 5e-324]),
        ]
    )


@pytest.mark.parametrize("op", NEW_OPS)
def test_the_engines_agree_bit_for_bit_on_values_slopes_and_tangents(op: str) -> None:
    rng = random.Random(f"bits {op}")
    build = _build(op)
    for _ in range(2000):
        x = _wide(rng)
        results = []
        for engine in ENGINES:
            v = engine.Value(x)
            z = build(v)
            z.backward()
            results.append((z.data, v.grad))
        (za, ga), (zb, gb) = results
        assert _same_bits(za, zb) and _same_bits(ga, gb), (op, x, results)
        # Forward mode with a unit tangent: the same slope, to the bit, in both engines' Dual.
        da, db = build(ferrograd.Dual(x, 1.0)), build(reference.Dual(x, 1.0))
        assert _same_bits(da.data, za) and _same_bits(db.data, za), (op, x)
        assert _same_bits(da.tangent, db.tangent), (op, x, da, db)


def test_erf_and_erfc_are_the_c_library_s_as_python_s_math_has_them() -> None:
    rng = random.Random(4)
    for _ in range(5000):
        x = _wide(rng)
        assert _same_bits(ferrograd.Value(x).erf().data, math.erf(x)), x
        assert _same_bits(ferrograd.Value(x).erfc().data, math.erfc(x)), x


def test_cbrt_is_correctly_rounded_in_both_engines() -> None:
    # Rust's f64::cbrt is correctly rounded; the C library's (math.cbrt) is not always, so the
    # reference engine rounds it again. Both must give the double nearest the exact root.
    rng = random.Random(5)
    with mpmath.workdps(60):
        for _ in range(3000):
            x = rng.uniform(-1, 1) * 10 ** rng.uniform(-320, 308)
            want = float(_cbrt_exact(mpmath.mp, mpmath.mpf(x)))
            for engine in ENGINES:
                assert engine.Value(x).cbrt().data == want, (engine.name, x)


def test_the_fallbacks_for_pythons_without_math_cbrt_and_math_exp2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Python 3.9 and 3.10 lack math.cbrt and math.exp2: the reference engine then starts cbrt
    # from its own first guess (rounded as always: still correctly rounded) and takes exp2 as
    # pow(2, x), within 1 ulp of exp2 (docs/ops.md).
    monkeypatch.setattr(reference, "_CBRT_NEAR", reference._cbrt_near)
    monkeypatch.setattr(reference, "_MATH_EXP2", reference._exp2_fallback)
    rng = random.Random(6)
    with mpmath.workdps(60):
        for _ in range(3000):
            x = rng.uniform(-1, 1) * 10 ** rng.uniform(-320, 308)
            want = float(_cbrt_exact(mpmath.mp, mpmath.mpf(x)))
            assert reference.Value(x).cbrt().data == want, x
            guess = reference._cbrt_near(abs(x))
            assert abs(guess - abs(want)) <= 4 * math.ulp(want), x
    for _ in range(5000):
        x = rng.uniform(-1075.0, 1025.0)
        got, want = reference.Value(x).exp2().data, ferrograd.Value(x).exp2().data
        if math.isinf(want) or want == 0.0:
            assert got == want, x
        else:
            assert abs(got - want) <= math.ulp(want), x
    assert reference.Value(1024.0).exp2().data == math.inf
    assert reference.Value(0.0).cbrt().data == 0.0 and reference.Value(-8.0).cbrt().data == -2.0


# -- compiled tapes against HIPS autograd ------------------------------------------------------

# The same maths in autograd.numpy, for a function of two inputs that uses the op twice.
ORACLE: dict[str, Callable[[Any], Any]] = {
    "log1p": anp.log1p,
    "expm1": anp.expm1,
    "log2": anp.log2,
    "log10": anp.log10,
    "exp2": anp.exp2,
    "cbrt": lambda t: anp.sign(t) * anp.abs(t) ** (1.0 / 3.0),
    "erf": special.erf,
    "erfc": special.erfc,
    "softplus": lambda t: anp.logaddexp(0.0, t),
    "silu": lambda t: t / (1.0 + anp.exp(-t)),
    "gelu": lambda t: 0.5 * t * special.erfc(-t / anp.sqrt(2.0)),
    "gelu_tanh": lambda t: (
        0.5 * t * (1.0 + anp.tanh(anp.sqrt(2.0 / anp.pi) * (t + 0.044715 * t**3)))
    ),
}


def _composite(op: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    # Arguments kept in (0.3, 3): in every op's domain, away from cbrt's pole at 0.
    return lambda x, y: op(x * x + 0.3 * y * y + 0.3) * y + op(y + 1.5)


@pytest.mark.parametrize("op", NEW_OPS)
def test_the_tape_matches_autograd_on_points_batches_jvp_and_hessian(op: str) -> None:
    f = _composite(_build(op))
    g = _composite(ORACLE[op])
    tape = ferrograd.compile(f, n_inputs=2)
    grad_g = autograd.grad(lambda v: g(v[0], v[1]))
    hess_g = autograd.hessian(lambda v: g(v[0], v[1]))
    points = np.array([[0.4, 0.9], [-0.6, 1.1], [1.2, -0.5], [0.1, 0.3]])
    values, grads = tape.grad_batch(points)
    for i, (x, y) in enumerate(points):
        want_value, want_grad = g(x, y), grad_g(np.array([x, y]))
        value, grad = tape.grad([x, y])
        assert value == pytest.approx(want_value, rel=1e-13)
        assert np.allclose(grad, want_grad, rtol=1e-12, atol=1e-14)
        # A batch row is the single point, to the bit.
        assert values[i] == value and np.array_equal(grads[i], grad)
        jvp_value, tangent = tape.jvp([x, y], [0.7, -0.2])
        assert jvp_value == value
        assert tangent == pytest.approx(float(want_grad @ [0.7, -0.2]), rel=1e-12, abs=1e-14)
        assert np.allclose(tape.hessian([x, y]), hess_g(np.array([x, y])), rtol=1e-9, atol=1e-11)
        # The graph, on the same point: the same numbers as the tape.
        xv, yv = ferrograd.Value(x), ferrograd.Value(y)
        z = f(xv, yv)
        z.backward()
        assert z.data == value and [xv.grad, yv.grad] == list(grad)
    copy = pickle.loads(pickle.dumps(tape))
    assert np.array_equal(copy.eval_batch(points), tape.eval_batch(points))


@pytest.mark.parametrize("op", NEW_OPS)
def test_graphs_pickle_across_engines(op: str) -> None:
    for engine in ENGINES:
        x = engine.Value(0.7, "x")
        z = _build(op)(x) * x
        copy = pickle.loads(pickle.dumps(z))
        assert [n.op for n in copy.children] == [op, ""]
        copy.backward()
        z.backward()
        assert copy.data == z.data and copy.children[1].grad == x.grad


# -- GELU's approximate ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ferrograd.Value, reference.Value, ferrograd.Dual, reference.Dual])
def test_gelu_approximate_is_torch_s_spelling(kind: Any) -> None:
    x = kind(0.8)
    plain, tanh = x.gelu(), x.gelu(approximate="tanh")
    assert x.gelu("none").data == x.gelu(approximate=None).data == plain.data
    assert tanh.data != plain.data
    assert tanh.data == pytest.approx(
        0.8 * 0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (0.8 + 0.044715 * 0.8**3))), rel=1e-15
    )
    if hasattr(plain, "op"):
        assert (plain.op, tanh.op) == ("gelu", "gelu_tanh")
    for bad in ("Tanh", "erf", "", "none "):
        with pytest.raises(
            ValueError, match=rf"gelu\(\) approximate must be 'none' or 'tanh', got {bad!r}"
        ):
            x.gelu(approximate=bad)
    for wrong in (1, b"tanh", True):
        with pytest.raises(TypeError, match=r"gelu\(\) approximate must be a str"):
            x.gelu(approximate=wrong)


def test_gelu_tanh_has_no_method_of_its_own() -> None:
    rows = {row[0]: row for row in ferrograd._core.op_table()}
    assert rows["gelu_tanh"][4] == "" and rows["gelu"][4] == "gelu"
    for kind in (ferrograd.Value, reference.Value, ferrograd.Dual, reference.Dual):
        assert not hasattr(kind, "gelu_tanh")


# -- numpy's object arrays, compare, viz ---------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES, ids=[e.name for e in ENGINES])
def test_numpy_ufuncs_on_object_arrays_build_the_ops(engine: Engine) -> None:
    xs = [engine.Value(0.5), engine.Value(2.0)]
    arr = np.array(xs, dtype=object)
    ufuncs = [np.log1p, np.expm1, np.log2, np.log10, np.exp2, np.cbrt]
    for ufunc in ufuncs:
        out = ufunc(arr)
        assert [v.op for v in out] == [ufunc.__name__] * 2
        assert [v.data for v in out] == [getattr(v, ufunc.__name__)().data for v in xs]
    # np.square's object loop multiplies the element by itself: a "*" node, whose gradient
    # is 2x.
    squares = np.square(arr)
    assert [v.op for v in squares] == ["*", "*"]
    total = engine.sum(list(squares))
    total.backward()
    assert [v.grad for v in xs] == [1.0, 4.0]


def test_compare_runs_every_new_op_and_gelu_approximate() -> None:
    expression = (
        "log1p(x) + expm1(y) + log2(x) * log10(y) + exp2(x) - cbrt(y) + erf(x) * erfc(y)"
        " + softplus(x) + silu(y) + gelu(x) + gelu(y, approximate='tanh')"
        " + x.gelu(approximate='tanh')"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ferrograd", "compare", expression, "--at", "x=0.5,y=2"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "engines agree on all" in done.stdout
    for op in NEW_OPS:
        assert f" {op} " in done.stdout, op


@pytest.mark.parametrize(
    "expression, says",
    [
        ("gelu(x, approximate='erf')", "the approximate of gelu must be 'none' or 'tanh'"),
        ("gelu(x, approximate=1)", "the approximate of gelu must be 'none' or 'tanh'"),
        ("gelu(x, slope=1)", "gelu() takes no argument 'slope'"),
        ("gelu(x, 'tanh', 'tanh')", "gelu() takes an optional approximate"),
        ("gelu_tanh(x)", "unknown function 'gelu_tanh'"),
        ("erf(x, 2)", "erf() takes no other argument"),
    ],
)
def test_compare_s_language_checks_gelu_s_argument(expression: str, says: str) -> None:
    from ferrograd.cli.expression import ExpressionError, parse_expression

    with pytest.raises(ExpressionError, match=re_escape(says)):
        parse_expression(expression)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_viz_labels_the_new_ops() -> None:
    x = ferrograd.Value(0.5)
    dot = to_dot(x.gelu(approximate="tanh").softplus().erfc())
    for op in ("gelu_tanh", "softplus", "erfc"):
        assert f'label="{op}"' in dot


def test_the_random_program_generator_meets_every_new_op() -> None:
    from programs import random_program

    seen: set[str] = set()
    for seed in range(60):
        xs = [reference.Value(0.3), reference.Value(-0.8), reference.Value(1.1)]
        out = random_program(seed, 3, n_ops=20)(*xs)
        stack, visited = [out], set()
        while stack:
            node = stack.pop()
            if id(node) not in visited:
                visited.add(id(node))
                seen.add(node.op)
                stack.extend(node.children)
    assert seen >= set(NEW_OPS)


@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_the_function_transforms_match_autograd_through_every_new_op(engine: str) -> None:
    def f(x: Any) -> Any:
        total = x * 0.0
        for op in NEW_OPS:
            total = total + _build(op)(x * x + 0.4)
        return total

    def g(x: Any) -> Any:
        return sum(ORACLE[op](x * x + 0.4) for op in NEW_OPS)

    for x in (-0.9, 0.3, 1.4):
        assert ferrograd.grad(f, engine=engine)(x) == pytest.approx(autograd.grad(g)(x), rel=1e-12)
        second = autograd.grad(autograd.grad(g))(x)
        assert ferrograd.hessian(f, engine=engine)(x) == pytest.approx(second, rel=1e-10)
    value, tangent = ferrograd.jvp(f, (0.3,), (2.0,))
    assert value == pytest.approx(g(0.3), rel=1e-13)
    assert tangent == pytest.approx(2.0 * autograd.grad(g)(0.3), rel=1e-12)
