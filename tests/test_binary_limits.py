"""atan2 and hypot where one operand is infinite and the other finite: the slopes are their
limits (0 for atan2, ±1 and 0 for hypot), as docs/ops.md says, not the nan of inf / inf, on every
path (both engines, both Duals, tapes one point at a time and in batches, forward mode)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ferrograd
from ferrograd import reference

INF, NAN = math.inf, math.nan
FINITE = [0.0, -0.0, 1.0, -2.5, 1e300, -1e-300]


def _cases() -> list[tuple[str, float, float, float, float]]:
    """(op, a, b, ∂/∂a, ∂/∂b) with one of a, b infinite and the other finite."""
    out = []
    for big in (INF, -INF):
        for f in FINITE:
            # atan2(y, x): both slopes vanish at an infinity.
            out.append(("atan2", f, big, 0.0, 0.0))
            out.append(("atan2", big, f, 0.0, 0.0))
            # hypot: the infinite operand's slope is its sign, the finite one's 0.
            out.append(("hypot", big, f, math.copysign(1.0, big), 0.0))
            out.append(("hypot", f, big, 0.0, math.copysign(1.0, big)))
    return out


CASES = _cases()


@pytest.mark.parametrize(("op", "a", "b", "da", "db"), CASES)
def test_slopes_at_an_infinity_are_the_limits(
    op: str, a: float, b: float, da: float, db: float
) -> None:
    for Value in (ferrograd.Value, reference.Value):
        x, y = Value(a), Value(b)
        z = getattr(x, op)(y)
        z.backward()
        assert (x.grad, y.grad) == (da, db), (Value, op, a, b, x.grad, y.grad)
    for Dual in (ferrograd.Dual, reference.Dual):
        assert getattr(Dual(a, 1.0), op)(Dual(b)).tangent == da, (Dual, op, a, b)
        assert getattr(Dual(a), op)(Dual(b, 1.0)).tangent == db, (Dual, op, a, b)
    tape = ferrograd.compile(lambda x, y: getattr(x, op)(y), 2)
    assert list(tape.grad([a, b])[1]) == [da, db]
    assert list(tape.grad_batch(np.array([[a, b], [0.5, 0.5]]))[1][0]) == [da, db]
    assert tape.jvp([a, b], [1.0, 0.0])[1] == da and tape.jvp([a, b], [0.0, 1.0])[1] == db


@pytest.mark.parametrize("op", ["atan2", "hypot"])
def test_two_infinities_and_nan_stay_nan(op: str) -> None:
    for a, b in [(INF, INF), (-INF, INF), (INF, NAN), (NAN, -INF), (NAN, 1.0)]:
        for Value in (ferrograd.Value, reference.Value):
            x, y = Value(a), Value(b)
            getattr(x, op)(y).backward()
            assert math.isnan(x.grad) and math.isnan(y.grad), (Value, op, a, b)
