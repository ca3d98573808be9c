"""Compiled tapes in scipy.optimize.minimize: exact jac/hess/hessp, against JAX and scipy's own
finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import approx_fprime, check_grad, minimize

import ferrograd

jax.config.update("jax_enable_x64", True)


def rosen(*x):
    return ferrograd.sum([100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(4)])


def rosen_jax(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


TAPE = ferrograd.compile(rosen, n_inputs=5)
X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def test_gradient_hessian_and_hessp_are_jaxs():
    for x in (X0, np.array([-1.2, 1.0, 0.3, -0.5, 2.0])):
        np.testing.assert_allclose(TAPE.gradient(x), jax.grad(rosen_jax)(x), rtol=1e-13)
        np.testing.assert_allclose(TAPE.hessian(x), jax.hessian(rosen_jax)(x), rtol=1e-13)
        p = np.array([0.5, -1.0, 2.0, 0.0, 1.5])
        _, hvp = jax.jvp(jax.grad(rosen_jax), (x,), (p,))
        np.testing.assert_allclose(TAPE.hessp(x, p), hvp, rtol=1e-13)
        assert check_grad(TAPE, TAPE.gradient, x) < 1e-4 * np.linalg.norm(TAPE.gradient(x))


def test_newton_cg_with_exact_derivatives_beats_finite_differences():
    opts = {"xtol": 1e-8}
    exact = minimize(
        TAPE, X0, method="Newton-CG", jac=TAPE.gradient, hess=TAPE.hessian, options=opts
    )
    fd = minimize(TAPE, X0, method="Newton-CG", jac=lambda x: approx_fprime(x, TAPE), options=opts)
    assert exact.success
    assert np.abs(exact.x - 1).max() < 1e-7
    assert np.abs(exact.x - 1).max() < np.abs(fd.x - 1).max() / 100
    assert exact.nfev < fd.nfev


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("Newton-CG", {"hessp": TAPE.hessp}),
        ("trust-exact", {"hess": TAPE.hessian}),
        ("trust-krylov", {"hessp": TAPE.hessp}),
        ("BFGS", {}),
        ("L-BFGS-B", {}),
    ],
)
def test_value_and_gradient_in_one_call(method, kwargs):
    r = minimize(TAPE.grad, X0, method=method, jac=True, tol=1e-10, **kwargs)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, np.ones(5), atol=1e-5)


def test_bad_points_are_value_errors():
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        TAPE.gradient([1.0, 2.0])
    with pytest.raises(ValueError, match=r"p must have shape \(5,\)"):
        TAPE.hessp(X0, [1.0])
    with pytest.raises(ValueError, match="real numbers"):
        TAPE.hessp(X0, ["a"] * 5)
