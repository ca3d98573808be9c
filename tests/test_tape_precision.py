"""Tape batches in both precisions: "default" is bit for bit a single point, "fast" runs the
vectorised elementary functions (whose error bounds tests/test_vmath.py checks against mpmath)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ferrograd
from ferrograd import _core

FAST_OPS = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid"]
BEST = _core._vmath_isas()[-1]


def every_op(*x: ferrograd.Value) -> ferrograd.Value:
    a, b, c = x
    return ferrograd.sum(
        [
            a.log() + a * b - b.sin(),
            (a * c).tanh() + (b / c).sigmoid() + c**3 + a**c - c.exp().sqrt(),
            abs(a - c) + c.relu() + (-b).leaky_relu(0.2) + a.cos() * b.tan() + a**2,
            ferrograd.dot([a, b, c], [c, a, b]),
        ]
    )


def rows(m: int = 1000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0.1, 3.0, size=(m, 3))
    xs[::7, 1] *= -1
    return xs


@pytest.mark.parametrize("threads", [1, 2])
def test_default_precision_is_bit_for_bit_single_points(threads: int) -> None:
    tape = ferrograd.compile(every_op, 3)
    xs = rows()
    values, grads = tape.grad_batch(xs, threads=threads, precision="default")
    evals = tape.eval_batch(xs, threads=threads)
    for r, x in enumerate(xs):
        value, grad = tape.grad(x)
        assert values[r].tobytes() == np.float64(value).tobytes()
        assert evals[r].tobytes() == np.float64(value).tobytes()
        assert grads[r].tobytes() == np.array(grad).tobytes()


@pytest.mark.parametrize("name", FAST_OPS)
def test_fast_precision_runs_the_vectorised_functions(name: str) -> None:
    tape = ferrograd.compile(lambda x: getattr(x, name)(), 1)
    xs = np.concatenate([np.linspace(-9.0, 9.0, 501), np.linspace(0.01, 50.0, 301)])
    if name == "log":
        xs = np.abs(xs) + 1e-3
    values, grads = tape.grad_batch(xs[:, None], precision="fast")
    want = np.frombuffer(_core._vmath(name, BEST, xs.tobytes()), dtype=np.float64)
    slope = np.frombuffer(_core._vmath(name + "'", BEST, xs.tobytes()), dtype=np.float64)
    assert values.tobytes() == want.tobytes()
    # The tape adds each increment to an adjoint that starts at 0.0, so -0.0 becomes 0.0.
    assert grads[:, 0].tobytes() == (0.0 + slope).tobytes()
    assert tape.eval_batch(xs[:, None], precision="fast").tobytes() == want.tobytes()
    # Close to libm everywhere (the exact bounds are tests/test_vmath.py's business).
    default, _ = tape.grad_batch(xs[:, None])
    np.testing.assert_allclose(values, default, rtol=4e-16, atol=0)


def test_ops_without_a_fast_function_are_the_same_in_both_precisions() -> None:
    from conftest import UNARY_OPS, call_unary

    xs = np.concatenate([np.linspace(-9.0, 9.0, 301), [0.0, -0.0, 1.0, -1.0, math.inf, math.nan]])
    for row in UNARY_OPS:
        if row.name in FAST_OPS:
            continue
        tape = ferrograd.compile(lambda x, r=row: call_unary(r, x), 1)
        fast, default = (tape.grad_batch(xs[:, None], precision=p) for p in ("fast", "default"))
        assert fast[0].tobytes() == default[0].tobytes(), row.name
        assert fast[1].tobytes() == default[1].tobytes(), row.name


def test_fast_precision_agrees_with_default_on_a_whole_program() -> None:
    tape = ferrograd.compile(every_op, 3)
    xs = rows(3000)
    fast_values, fast_grads = tape.grad_batch(xs, precision="fast")
    values, grads = tape.grad_batch(xs)
    np.testing.assert_allclose(fast_values, values, rtol=1e-13)
    np.testing.assert_allclose(fast_grads, grads, rtol=1e-12, atol=1e-12)
    assert not np.array_equal(fast_values, values), "fast mode ran the default formulas"


def test_fast_precision_keeps_special_points() -> None:
    tape = ferrograd.compile(lambda x, y: x.exp() + y.log() + x.tanh() * y.sin(), 2)
    inf, nan = math.inf, math.nan
    xs = np.array([[710.0, 1.0], [1.0, 0.0], [1.0, -1.0], [nan, 1.0], [-inf, inf], [0.0, 5e-324]])
    fast_values, fast_grads = tape.grad_batch(xs, precision="fast")
    values, grads = tape.grad_batch(xs)
    for got, want in [(fast_values, values), (fast_grads, grads)]:
        assert np.array_equal(np.isnan(got), np.isnan(want))
        assert np.array_equal(np.isinf(got), np.isinf(want))
        assert np.array_equal(np.sign(got), np.sign(want), equal_nan=True)


def test_a_bad_precision_is_refused_with_its_name() -> None:
    tape = ferrograd.compile(lambda x: x.exp(), 1)
    with pytest.raises(ValueError, match="'float32'"):
        tape.grad_batch(np.ones((2, 1)), precision="float32")
    with pytest.raises(ValueError, match="precision"):
        tape.eval_batch(np.ones((2, 1)), precision="FAST")
    with pytest.raises(TypeError, match="precision must be a str"):
        tape.eval_batch(np.ones((2, 1)), precision=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        tape._tape.eval_batch_into(np.ones((2, 1)), np.empty(2), None, "quick")
