"""The Hessian of ``minimum``/``maximum`` where one operand is nan: the gradient gives ``g`` to
each operand there (torch's rule, the op table's), so the Hessian is the sum of both operands'
second derivatives, on both engines, checked against central differences of the gradient."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import ferrograd
from ferrograd import reference

CASES: dict[str, Callable[[Any], Any]] = {
    "minimum(nan, z*z)": lambda v: (v[0] - 5.0).log().minimum(v[0] * v[0]),
    "minimum(z*z, nan)": lambda v: (v[0] * v[0]).minimum((v[0] - 5.0).log()),
    "maximum(nan, z*z)": lambda v: (v[0] - 5.0).log().maximum(v[0] * v[0]),
    "maximum(z*z, nan)": lambda v: (v[0] * v[0]).maximum((v[0] - 5.0).log()),
}


def _gradient(f: Callable[[Any], Any], z: float) -> float:
    x = reference.Value(z)
    f([x]).backward()
    return x.grad


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("engine", ["rust", "reference"])
def test_the_hessian_is_the_derivative_of_the_gradient(name: str, engine: str) -> None:
    f, z, h = CASES[name], -0.58, 1e-5
    assert np.isnan(f([reference.Value(z)]).data)  # the nan operand is the point of the case
    want = (_gradient(f, z + h) - _gradient(f, z - h)) / (2 * h)
    got = float(np.asarray(ferrograd.func.hessian(f, engine=engine)([z])).ravel()[0])
    assert got == pytest.approx(want, rel=1e-7), (engine, got, want)


@pytest.mark.parametrize("engine", ["rust", "reference"])
@pytest.mark.parametrize("x", [-3.0, -1.5, 1.5, 3.0, 800.0])
def test_atanh_outside_its_domain_has_a_nan_hessian_as_its_gradient_is(
    engine: str, x: float
) -> None:
    # atanh(x) is nan for |x| > 1 and so is its slope; a Hessian of 0 (a constant nan slope)
    # or of the formula's continuation would be a number where there is none.
    for f in (lambda v: v[0].atanh(), lambda v: v[0].atanh().sin() + v[0] * v[0]):
        x_ = reference.Value(x)
        f([x_]).backward()
        assert np.isnan(x_.grad)
        h = float(np.asarray(ferrograd.func.hessian(f, engine=engine)([x])).ravel()[0])
        assert np.isnan(h), (engine, x, h)
    tape = ferrograd.compile(lambda t: t.atanh(), 1)
    assert np.isnan(tape.hessian([x])[0, 0])


@pytest.mark.parametrize("engine", ["rust", "reference"])
@pytest.mark.parametrize("op", ["erf", "erfc"])
@pytest.mark.parametrize("x", [-np.inf, -40.0, 40.0, np.inf])
def test_erf_hessian_is_0_where_its_slope_underflows(engine: str, op: str, x: float) -> None:
    # -2x·erf'(x) with erf'(x) = 0: the limit 0, not inf · 0, on both engines.
    h = float(
        np.asarray(
            ferrograd.func.hessian(lambda v: getattr(v[0], op)(), engine=engine)([x])
        ).ravel()[0]
    )
    assert h == 0.0, (engine, op, x, h)
