"""ferrograd.func against JAX (float64) on the same functions, on both engines."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ferrograd
from ferrograd import _engines, func, reference

jax.config.update("jax_enable_x64", True)

ENGINES = list(_engines.NAMES)


class Ops:
    """The elementary functions each side spells differently: methods for ferrograd, jnp for JAX."""

    def __init__(self, jax_side: bool) -> None:
        self.jax = jax_side

    def __getattr__(self, name):
        if self.jax:
            return getattr(jnp, name)
        # A non-differentiated argument stays a float: numpy's function then.
        return lambda v: getattr(v, name)() if hasattr(v, name) else getattr(np, name)(v)


FG, JX = Ops(False), Ops(True)


def scalar_f(x, y, o):
    return o.sin(x * y) + o.exp(x) / (1.0 + y**2) - o.log(y) * x**3


def vector_f(x, o):  # R^3 -> R^4
    return [x[0] * x[1], o.tanh(x[2] - x[0]), o.sqrt(x[1]) ** 3 + x[2], x[0] / x[2]]


def matrix_f(x, o):  # (2, 2) -> (2, 3)
    return [
        [x[0][0] * x[1][1], o.cos(x[0][1]), x[1][0] ** 2],
        [o.sigmoid(x[0][0]) if not o.jax else jax.nn.sigmoid(x[0][0]), x[1][1], 3.0],
    ]


def as_jax_out(out):
    return jnp.array(out) if isinstance(out, list) else out


def close(ours, theirs, rtol=1e-12):
    theirs = np.asarray(theirs)
    ours_array = np.asarray(ours)
    assert ours_array.shape == theirs.shape
    np.testing.assert_allclose(ours_array, theirs, rtol=rtol, atol=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_grad_and_value_and_grad_match_jax(engine):
    point = (0.7, 1.3)
    ours = ferrograd.grad(lambda x, y: scalar_f(x, y, FG), engine=engine)(*point)
    assert isinstance(ours, float)
    close(ours, jax.grad(lambda x, y: scalar_f(x, y, JX))(*point))
    for argnums in [1, -1, (0, 1), (1, 0), [0]]:
        mine = ferrograd.grad(lambda x, y: scalar_f(x, y, FG), argnums, engine=engine)(*point)
        jaxs = jax.grad(lambda x, y: scalar_f(x, y, JX), argnums)(*point)
        if isinstance(argnums, (tuple, list)):
            assert isinstance(mine, tuple) and len(mine) == len(argnums)
            for a, b in zip(mine, jaxs):
                close(a, b)
        else:
            close(mine, jaxs)
    value, g = ferrograd.value_and_grad(lambda x, y: scalar_f(x, y, FG), (0, 1), engine=engine)(
        *point
    )
    jvalue, jg = jax.value_and_grad(lambda x, y: scalar_f(x, y, JX), (0, 1))(*point)
    close(value, jvalue)
    close(g, jg)


@pytest.mark.parametrize("engine", ENGINES)
def test_grad_of_arrays_lists_and_tuples_is_shaped_like_the_argument(engine):
    x = np.array([[0.3, -1.2, 2.0], [0.5, 0.25, -0.75]])

    def f(w, o):  # numpy's ufuncs call the Values' methods on an object array
        return (o.tanh(w) * w).sum() + w[0, 1] * w[1, 2]

    jaxs = jax.grad(lambda w: f(w, jnp))(x)
    for arg in (x, x.tolist(), tuple(map(tuple, x.tolist()))):
        ours = ferrograd.grad(lambda w: f(np.asarray(w, dtype=object), np), engine=engine)(arg)
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float64
        close(ours, jaxs)
    # The argument arrives in its own container.
    seen = []
    ferrograd.grad(lambda w: seen.append(type(w)) or w[0], engine=engine)((1.0, 2.0))
    ferrograd.grad(lambda w: seen.append(type(w)) or w[0], engine=engine)([1.0, 2.0])
    ferrograd.grad(lambda w: seen.append(type(w)) or w[0], engine=engine)(np.ones(2))
    assert seen == [tuple, list, np.ndarray]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("transform", ["jacobian", "jacfwd"])
def test_jacobians_match_jax_for_vector_and_matrix_outputs(engine, transform):
    ours_t = getattr(ferrograd, transform)
    theirs_t = jax.jacrev if transform == "jacobian" else jax.jacfwd
    x = np.array([0.4, 1.7, 2.2])
    ours = ours_t(lambda v: vector_f(v, FG), engine=engine)(x)
    theirs = theirs_t(lambda v: as_jax_out(vector_f(v, JX)))(x)
    assert ours.shape == (4, 3)
    close(ours, theirs)
    m = np.array([[0.3, -0.8], [1.1, 0.6]])
    ours = ours_t(lambda v: matrix_f(v, FG), engine=engine)(m.tolist())
    theirs = theirs_t(lambda v: as_jax_out(matrix_f(v, JX)))(m)
    assert ours.shape == (2, 3, 2, 2)
    close(ours, theirs)
    # Several arguments: a tuple of blocks, each output shape + that argument's shape.
    g = lambda a, b, s: [a[0] * b, (a[1] * s).sin(), a[0] + a[1]]
    gj = lambda a, b, s: jnp.array([a[0] * b, jnp.sin(a[1] * s), a[0] + a[1]])
    ours = ours_t(g, argnums=(0, 1), engine=engine)([0.5, 1.5], 2.0, 3.0)
    theirs = theirs_t(gj, argnums=(0, 1))(np.array([0.5, 1.5]), 2.0, 3.0)
    assert [o.shape for o in ours] == [(3, 2), (3,)]
    for a, b in zip(ours, theirs):
        close(a, b)
    # A scalar function of a scalar: a float.
    assert isinstance(ours_t(lambda x: x * x, engine=engine)(3.0), float)


@pytest.mark.parametrize("engine", ENGINES)
def test_hessian_matches_jax(engine):
    point = (0.7, 1.3)
    ours = ferrograd.hessian(lambda x, y: scalar_f(x, y, FG), (0, 1), engine=engine)(*point)
    theirs = jax.hessian(lambda x, y: scalar_f(x, y, JX), (0, 1))(*point)
    for i in range(2):
        for j in range(2):
            close(ours[i][j], theirs[i][j], rtol=1e-11)
    x = np.array([0.4, 1.7, 2.2])
    ours = ferrograd.hessian(lambda v: vector_f(v, FG), engine=engine)(x)
    theirs = jax.hessian(lambda v: as_jax_out(vector_f(v, JX)))(x)
    assert ours.shape == (4, 3, 3)
    close(ours, theirs, rtol=1e-11)

    def rosen(v, o):
        return sum(100.0 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(3))

    x = np.array([-1.2, 1.0, 0.5, 2.0])
    close(
        ferrograd.hessian(lambda v: rosen(v, FG), engine=engine)(x),
        jax.hessian(lambda v: rosen(v, JX))(x),
    )

    # Ops where the second derivative needs the node itself (division, pow with a Value
    # exponent, fused sum and dot, leaky_relu, abs).
    def mixed(v, o):
        if o.jax:
            return (v[0] ** v[1]) / v[2] + jnp.abs(v[2]) * v[0] + jnp.dot(v, v) * v[1]
        return (v[0] ** v[1]) / v[2] + abs(v[2]) * v[0] + o.dot(list(v), list(v)) * v[1]

    kit = ferrograd if engine == "rust" else reference
    FG.dot = kit.dot
    try:
        x = np.array([1.3, 2.5, -0.7])
        close(
            ferrograd.hessian(lambda v: mixed(v, FG), engine=engine)(x),
            jax.hessian(lambda v: mixed(v, JX))(x),
            rtol=1e-11,
        )
    finally:
        del FG.dot


@pytest.mark.parametrize("engine", ENGINES)
def test_jvp_and_vjp_match_jax(engine):
    x, v = np.array([0.4, 1.7, 2.2]), np.array([1.0, -0.5, 2.0])
    out, tangent = ferrograd.jvp(lambda a: vector_f(a, FG), (x,), (v,), engine=engine)
    jout, jtangent = jax.jvp(lambda a: as_jax_out(vector_f(a, JX)), (x,), (v,))
    close(out, jout)
    close(tangent, jtangent)
    out, tangent = ferrograd.jvp(lambda a, b: scalar_f(a, b, FG), (0.7, 1.3), (1.0, 0.5))
    jout, jtangent = jax.jvp(lambda a, b: scalar_f(a, b, JX), (0.7, 1.3), (1.0, 0.5))
    assert isinstance(out, float) and isinstance(tangent, float)
    close(out, jout)
    close(tangent, jtangent)

    out, back = ferrograd.vjp(lambda a, b: [a[0] * b, (a[1] / b).exp()], x[:2], 3.0, engine=engine)
    jout, jback = jax.vjp(lambda a, b: jnp.array([a[0] * b, jnp.exp(a[1] / b)]), x[:2], 3.0)
    close(out, jout)
    for cotangent in ([1.0, 0.0], [0.25, -2.0]):
        mine, theirs = back(cotangent), jback(np.array(cotangent))
        assert len(mine) == 2 and mine[0].shape == (2,) and isinstance(mine[1], float)
        for a, b in zip(mine, theirs):
            close(a, b)


def test_has_aux_returns_the_auxiliary_value_untouched():
    def f(x):
        return x * x, {"note": "aux"}

    assert ferrograd.grad(f, has_aux=True)(3.0) == (6.0, {"note": "aux"})
    assert ferrograd.value_and_grad(f, has_aux=True)(3.0) == ((9.0, {"note": "aux"}), 6.0)
    assert ferrograd.jacobian(f, has_aux=True)(3.0) == (6.0, {"note": "aux"})
    assert ferrograd.jacfwd(f, has_aux=True)(3.0) == (6.0, {"note": "aux"})
    assert ferrograd.hessian(f, has_aux=True)(3.0) == (2.0, {"note": "aux"})
    assert ferrograd.jvp(f, (3.0,), (1.0,), has_aux=True) == (9.0, 6.0, {"note": "aux"})
    with pytest.raises(TypeError, match="pair"):
        ferrograd.grad(lambda x: x, has_aux=True)(1.0)


def test_the_engines_agree_bit_for_bit_in_reverse_mode_and_to_rounding_in_forward_mode():
    x = [0.4, 1.7, 2.2]
    f = lambda v: vector_f(v, FG)
    rust, ref = ferrograd.jacobian(f)(x), ferrograd.jacobian(f, engine="reference")(x)
    assert rust.tolist() == ref.tolist()
    fwd_rust, fwd_ref = ferrograd.jacfwd(f)(x), ferrograd.jacfwd(f, engine="reference")(x)
    np.testing.assert_allclose(fwd_ref, fwd_rust, rtol=4e-15, atol=0)
    np.testing.assert_allclose(fwd_rust, rust, rtol=1e-14)


def test_reference_dual_follows_the_rust_dual():
    ops = ["relu", "tanh", "sigmoid", "exp", "log", "sin", "cos", "tan", "sqrt", "__neg__"]
    ops += ["__abs__", "leaky_relu"]
    for x in (-1.5, 0.0, 0.3, 2.0, float("inf")):
        for name in ops:
            a = getattr(reference.Dual(x, 0.75), name)()
            b = getattr(ferrograd.Dual(x, 0.75), name)()
            np.testing.assert_allclose([a.data, a.tangent], [b.data, b.tangent], rtol=4e-15)
    for x, y in [(2.0, 3.0), (0.0, 2.0), (-2.0, 3.0), (1.5, -0.5)]:
        for sym in ("__add__", "__sub__", "__mul__", "__truediv__", "__pow__", "__rsub__"):
            a = getattr(reference.Dual(x, 1.0), sym)(reference.Dual(y, 0.5))
            b = getattr(ferrograd.Dual(x, 1.0), sym)(ferrograd.Dual(y, 0.5))
            np.testing.assert_allclose([a.data, a.tangent], [b.data, b.tangent], rtol=4e-15)
    # A zero tangent stays zero where the derivative is infinite.
    assert reference.Dual(0.0).sqrt().tangent == 0.0
    with pytest.raises(TypeError):
        reference.Dual(1.0) + reference.Value(1.0)
    with pytest.raises(TypeError, match="Dual"):
        reference.Dual("a")


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_argnums(engine):
    f = lambda x, y: x * y
    with pytest.raises(ValueError, match="at least 3 positional"):
        ferrograd.grad(f, argnums=2, engine=engine)(1.0, 2.0)
    with pytest.raises(ValueError, match="at least 3 positional"):
        ferrograd.jacobian(f, argnums=(0, -3), engine=engine)(1.0, 2.0)
    with pytest.raises(TypeError, match="argnums must be an int"):
        ferrograd.grad(f, argnums=1.0, engine=engine)(1.0, 2.0)
    with pytest.raises(TypeError, match="argnums must be an int"):
        ferrograd.hessian(f, argnums=True, engine=engine)(1.0, 2.0)
    with pytest.raises(ValueError, match="at least one argnum"):
        ferrograd.jacfwd(f, argnums=(), engine=engine)(1.0, 2.0)
    with pytest.raises(ValueError, match="twice"):
        ferrograd.grad(f, argnums=(0, -2), engine=engine)(1.0, 2.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_outputs_and_inputs(engine):
    other = ferrograd.Value if engine == "reference" else reference.Value
    for transform in ("grad", "jacobian", "jacfwd", "hessian"):
        t = getattr(ferrograd, transform)
        with pytest.raises(TypeError, match="got a builtins.str"):
            t(lambda x: "nope", engine=engine)(1.0)
        with pytest.raises(TypeError, match=r"item 1 of an output of shape \(2,\)"):
            t(lambda x: [x, None], engine=engine)(1.0)
        with pytest.raises(TypeError, match="numbers, got a"):
            t(lambda x: other(1.0) * 2, engine=engine)(1.0)
        with pytest.raises(ValueError, match="rectangular"):
            t(lambda x: [[x, x], [x]], engine=engine)(1.0)
        with pytest.raises(ValueError, match="rectangular"):
            t(lambda x: [x, [x, x]], engine=engine)(1.0)
        with pytest.raises(ValueError, match="ragged"):
            t(lambda x: x[0], engine=engine)([[1.0, 2.0], [3.0]])
        with pytest.raises(TypeError, match="real numbers"):
            t(lambda x: x, engine=engine)(["a"])
        with pytest.raises(TypeError, match="must be a real number"):
            t(lambda x: x, engine=engine)(None)
        with pytest.raises(TypeError, match="bool"):
            t(lambda x: x, engine=engine)(True)
        with pytest.raises(TypeError, match="needs a callable"):
            t(3.0, engine=engine)
    with pytest.raises(TypeError, match=r"scalar, got an output of shape \(2,\)"):
        ferrograd.grad(lambda x: [x, x], engine=engine)(1.0)
    # A function that does not depend on its input: derivatives 0, as in JAX.
    assert ferrograd.grad(lambda x: 3, engine=engine)(1.0) == 0.0
    assert ferrograd.hessian(lambda x: 3.0, engine=engine)([1.0, 2.0]).tolist() == [[0.0] * 2] * 2
    assert ferrograd.jacobian(lambda x: [x[0], 2.0], engine=engine)([1.0, 2.0]).tolist() == [
        [1.0, 0.0],
        [0.0, 0.0],
    ]


def test_bad_jvp_vjp_and_engine_arguments():
    f = lambda x, y: x * y
    with pytest.raises(TypeError, match="list or tuple"):
        ferrograd.jvp(f, np.array([1.0, 2.0]), (1.0, 0.0))
    with pytest.raises(ValueError, match="as many tangents"):
        ferrograd.jvp(f, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\)"):
        ferrograd.jvp(lambda x: x[0], ([1.0, 2.0],), ([1.0, 0.0, 0.0],))
    _, back = ferrograd.vjp(lambda x: [x, x * x], 2.0)
    with pytest.raises(ValueError, match=r"shaped like the output \(2,\)"):
        back([1.0])
    with pytest.raises(ValueError, match="unknown engine"):
        ferrograd.grad(f, engine="torch")
    with pytest.raises(TypeError, match="engine must be"):
        ferrograd.grad(f, engine=3)
    assert func.jacrev is func.jacobian


@pytest.mark.parametrize("engine", ENGINES)
def test_hessian_covers_every_op(engine):
    kit = ferrograd if engine == "rust" else reference

    def ours(v):
        a, b, c = v
        terms = [a.tanh() * b, b.sigmoid() * c, c.tan() * a, (a * b).sqrt(), c.log() * a]
        terms += [(a - c).cos() * b, (a * c).leaky_relu(0.2) * b, (b * c).relu() * a, -(a / c)]
        return kit.sum(terms) + kit.dot([a, b], [c, c]) * b

    def theirs(v):
        a, b, c = v
        leaky = jnp.where(a * c > 0, a * c, 0.2 * a * c)
        terms = [jnp.tanh(a) * b, jax.nn.sigmoid(b) * c, jnp.tan(c) * a, jnp.sqrt(a * b)]
        terms += [jnp.log(c) * a, jnp.cos(a - c) * b, leaky * b, jax.nn.relu(b * c) * a, -(a / c)]
        return sum(terms) + (a * c + b * c) * b

    # The second point takes leaky_relu's and relu's negative branches.
    for x in ([0.6, 1.4, 0.9], [-0.3, -2.0, 0.4]):
        close(
            ferrograd.hessian(ours, engine=engine)(x), jax.hessian(theirs)(np.array(x)), rtol=1e-11
        )


@pytest.mark.parametrize("transform", ["jacobian", "jacfwd"])
def test_an_empty_argument_gives_an_empty_jacobian_of_jaxs_shape(transform):
    ours = getattr(ferrograd, transform)(lambda x, y: [y * 2, y * 3])([], 1.0)
    theirs = jax.jacfwd(lambda x, y: jnp.array([y * 2, y * 3]))(jnp.zeros(0), 1.0)
    assert ours.shape == theirs.shape == (2, 0)


def test_the_reference_hessian_differentiates_every_unary_op_of_the_table_twice():
    # The reference engine's second-order adjoints are a list of their own: every unary op of
    # the table must be in it, with the Rust engine's second derivative.
    from conftest import UNARY_OPS, call_unary

    for row in UNARY_OPS:
        # Arguments in (0.3, 0.95): in every op's domain (asin's too), or past 1 for the ops
        # defined there only.
        shift = 1.3 if row.name in ("asec", "acsc", "acosh") else 0.3

        def f(x, row=row, shift=shift):
            return call_unary(row, x * x * 0.25 + shift) * x

        for x in (-0.9, 0.4, 1.2):
            rust = ferrograd.hessian(f)(x)
            ref = ferrograd.hessian(f, engine="reference")(x)
            assert ref == pytest.approx(rust, rel=1e-12, abs=1e-14), (row.name, x)


@pytest.mark.parametrize("name", ["atan2", "hypot", "minimum", "maximum", "clamp_min", "clamp_max"])
def test_the_reference_hessian_differentiates_the_binary_methods_twice(name):
    def f(v, name=name):
        x, y = v[0], v[1]
        return getattr(x * x * 0.5 + y, name)(y * x + 0.25) * x

    for point in ([0.4, 1.3], [-0.9, 0.2], [1.1, -0.7]):
        rust = ferrograd.hessian(f)(point)
        ref = ferrograd.hessian(f, engine="reference")(point)
        np.testing.assert_allclose(ref, rust, rtol=1e-12, atol=1e-14)
