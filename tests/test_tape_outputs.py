"""Tapes of functions with several outputs: against JAX, bit for bit against the tape of each
output alone and the graph's backward, batches against points, pickles, and bad input."""

from __future__ import annotations

import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import dask.array as da
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ferrograd
from ferrograd import Value, func, parallel

jax.config.update("jax_enable_x64", True)

GOLDEN = Path(__file__).parent / "golden"


def two(x, y):
    """Two outputs sharing ``t``."""
    t = (x * y).tanh()
    return [t + x.log(), t * y.exp()]


def two_jax(v):
    x, y = v[0], v[1]
    t = jnp.tanh(x * y)
    return jnp.stack([t + jnp.log(x), t * jnp.exp(y)])


def many(a, b, c):
    """Outputs sharing nodes reached in different orders, an input, a constant and a repeat."""
    s = a.sin() * b
    e = a.exp() + a * 0.5
    first = s * e + (a * c).sqrt()
    second = ferrograd.sum([e, (b * c).tanh(), s, a**2.0, c / b])
    return (first, second, b, Value(3.5), first, ferrograd.dot([s, e, c], [e, s, a]))


def many_jax(v):
    a, b, c = v[0], v[1], v[2]
    s = jnp.sin(a) * b
    e = jnp.exp(a) + a * 0.5
    first = s * e + jnp.sqrt(a * c)
    second = e + jnp.tanh(b * c) + s + a**2.0 + c / b
    dot = s * e + e * s + c * a
    return jnp.stack([first, second, b, jnp.asarray(3.5, dtype=a.dtype), first, dot])


def rows(m: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.3, 1.8, size=(m, n))


@pytest.mark.parametrize(("f", "fj", "n"), [(two, two_jax, 2), (many, many_jax, 3)])
def test_jacobian_batch_matches_jax_vmap_jacrev(f, fj, n):
    tape = ferrograd.compile(f, n)
    xs = rows(257, n)
    expected = np.asarray(jax.vmap(jax.jacrev(fj))(xs))
    jac = tape.jacobian_batch(xs)
    assert jac.shape == expected.shape == (257, tape.n_outputs, n)
    np.testing.assert_allclose(jac, expected, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(tape.eval_batch(xs), np.asarray(jax.vmap(fj)(xs)), rtol=1e-14)
    x = xs[3]
    np.testing.assert_allclose(tape.jacobian(x), np.asarray(jax.jacrev(fj)(x)), rtol=1e-13)
    np.testing.assert_allclose(tape.hessian(x), np.asarray(jax.hessian(fj)(x)), rtol=1e-12)
    v = np.linspace(-1.0, 1.0, n)
    _, tangent = tape.jvp(x, v)
    np.testing.assert_allclose(tangent, np.asarray(jax.jvp(fj, (x,), (v,))[1]), rtol=1e-13)
    u = np.arange(1.0, tape.n_outputs + 1)
    _, back = tape.vjp(x, u)
    np.testing.assert_allclose(back, np.asarray(jax.vjp(fj, x)[1](u)[0]), rtol=1e-13)


def test_each_row_is_bit_for_bit_its_outputs_own_tape_and_the_graph():
    tape = ferrograd.compile(many, 3)
    xs = rows(70, 3, seed=1)
    jac, values = tape.jacobian_batch(xs), tape.eval_batch(xs)
    for k in range(tape.n_outputs):
        alone = ferrograd.compile(lambda *v, k=k: many(*v)[k], 3)
        own_values, own_grads = alone.grad_batch(xs)
        assert np.array_equal(values[:, k], own_values)
        assert np.array_equal(jac[:, k, :], own_grads)
        x = xs[5].tolist()
        assert np.array_equal(tape.hessian(x)[k], alone.hessian(x))
        assert tape.jvp(x, [0.5, -1.0, 2.0])[1][k] == alone.jvp(x, [0.5, -1.0, 2.0])[1]
    for x in xs[:10].tolist():
        leaves = [Value(c) for c in x]
        outs = many(*leaves)
        for k, out in enumerate(outs):
            for leaf in leaves:
                leaf.grad = 0.0
            out.backward()
            assert tape.jacobian(x)[k].tolist() == [leaf.grad for leaf in leaves]


def test_batches_are_the_points_on_any_thread_count():
    tape = ferrograd.compile(many, 3)
    xs = rows(1000, 3, seed=2)
    one = tape.jacobian_batch(xs, threads=1)
    assert np.array_equal(tape.jacobian_batch(xs, threads=2), one)
    assert np.array_equal(tape.jacobian_batch(np.asfortranarray(xs)), one)
    for i in (0, 31, 32, 999):
        assert np.array_equal(tape.jacobian(xs[i]), one[i])
        assert np.array_equal(tape(xs[i]), tape.eval_batch(xs)[i])
    assert tape.jacobian_batch(np.empty((0, 3))).shape == (0, 6, 3)
    assert tape.eval_batch(np.empty((0, 3))).shape == (0, 6)


def test_outputs_that_are_inputs_constants_or_repeats():
    tape = ferrograd.compile(lambda x, y: [y, Value(2.0), x * y, x * y, x], 2)
    assert tape([3.0, 4.0]).tolist() == [4.0, 2.0, 12.0, 12.0, 3.0]
    assert tape.jacobian([3.0, 4.0]).tolist() == [[0, 1], [0, 0], [4, 3], [4, 3], [1, 0]]
    # Repeated outputs add their cotangents, as jax.vjp does.
    assert tape.vjp([3.0, 4.0], [0, 0, 1, 1, 0])[1].tolist() == [8.0, 6.0]
    one = ferrograd.compile(lambda x: [x.exp()], 1)
    assert one.is_vector and one([0.0]).shape == (1,) and one.jacobian([0.0]).shape == (1, 1)


def test_a_scalar_function_keeps_its_api_and_numbers():
    scalar = ferrograd.compile(lambda x, y: (x * y).tanh() + x.log(), 2)
    assert not scalar.is_vector and scalar.n_outputs == 1
    xs = rows(100, 2)
    assert isinstance(scalar([1.0, 2.0]), float)
    assert np.array_equal(scalar.jacobian_batch(xs), scalar.grad_batch(xs)[1])
    assert np.array_equal(scalar.jacobian([1.0, 2.0]), scalar.grad([1.0, 2.0])[1])
    value, back = scalar.vjp([1.0, 2.0], 1.0)
    assert value == scalar([1.0, 2.0]) and np.array_equal(back, scalar.grad([1.0, 2.0])[1])
    assert scalar.eval_batch(xs).shape == (100,)


def test_scalar_only_methods_name_the_jacobian():
    tape = ferrograd.compile(two, 2)
    for call, instead in [
        (lambda: tape.grad([1.0, 1.0]), "jacobian"),
        (lambda: tape.grad_batch(rows(3, 2)), "jacobian_batch"),
        (lambda: tape.gradient([1.0, 1.0]), "jacobian"),
        (lambda: tape.hessp([1.0, 1.0], [1.0, 0.0]), "hessian"),
    ]:
        with pytest.raises(ValueError, match=instead):
            call()


@pytest.mark.parametrize(
    ("f", "error", "words"),
    [
        (lambda x: [], ValueError, "at least one Value"),
        (lambda x: (), ValueError, "at least one Value"),
        (lambda x: [x, 1.0], TypeError, "output 1 is a float"),
        (lambda x: [x, "x"], TypeError, "output 1 is a str"),
        (lambda x: [[x], [x, x]], TypeError, "flat sequence"),
        (lambda x: [x, [x]], TypeError, "output 1 is a list"),
        (lambda x: np.array([[x, x]], dtype=object), TypeError, "shape"),
        (lambda x: {"a": x}, TypeError, "got dict"),
        (lambda x: 2.0, TypeError, "got float"),
    ],
)
def test_bad_outputs_are_clear_errors(f, error, words):
    with pytest.raises(error, match=words):
        ferrograd.compile(f, 1)


def test_bad_shapes_are_clear_errors():
    tape = ferrograd.compile(two, 2)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        tape.jacobian_batch(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        tape.jacobian_batch(np.ones(4))
    with pytest.raises(ValueError, match=r"x must have shape \(2,\)"):
        tape.jacobian([1.0])
    with pytest.raises(ValueError, match=r"u must have shape \(2,\)"):
        tape.vjp([1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="real numbers"):
        tape.jacobian_batch(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="must be a number"):
        ferrograd.compile(lambda x: x * x, 1).vjp([1.0], [1.0])
    with pytest.raises(ValueError, match="at least one output"):
        ferrograd._core.Tape.record_many([Value(1.0)], [])


def test_pickles_keep_the_outputs_and_the_pinned_bytes_hold():
    tape = ferrograd.compile(many, 3)
    copy = pickle.loads(pickle.dumps(tape))
    xs = rows(40, 3)
    assert copy.n_outputs == 6 and np.array_equal(copy.jacobian_batch(xs), tape.jacobian_batch(xs))
    data = tape._tape.to_bytes()
    assert data[:4] == b"FGT3"
    assert data == (GOLDEN / "tape_outputs_v3.bin").read_bytes()
    pinned = ferrograd._core.Tape.from_bytes((GOLDEN / "tape_outputs_v3.bin").read_bytes())
    assert pinned.same_program(tape._tape) and pinned.n_outputs == 6
    # A scalar tape is written as before.
    scalar = ferrograd.compile(lambda a, b, c: many(a, b, c)[0], 3)
    assert scalar._tape.to_bytes()[:4] == b"FGT2"


def test_corrupt_output_lists_are_value_errors_in_a_child():
    data = ferrograd.compile(two, 2)._tape.to_bytes()
    cases = [data[:14], data[:12] + (0).to_bytes(8, "little") + data[20:]]
    cases.append(data[:12] + (2**62).to_bytes(8, "little") + data[20:])
    cases.append(data[:20] + (10**6).to_bytes(8, "little") + data[28:])
    code = (
        "import sys, ferrograd\n"
        "for case in eval(sys.stdin.read()):\n"
        "    try:\n"
        "        ferrograd._core.Tape.from_bytes(case)\n"
        "    except ValueError as e:\n"
        "        print('ValueError', e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=repr(cases), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ValueError") == 4, done.stdout


def test_parallel_jacobian_batch_numpy_and_dask():
    tape = ferrograd.compile(many, 3)
    xs = rows(500, 3)
    expected = tape.jacobian_batch(xs)
    with ThreadPoolExecutor(2) as pool:
        assert np.array_equal(parallel.jacobian_batch(tape, xs, pool, chunks=3), expected)
        assert parallel.jacobian_batch(tape, xs[:0], pool).shape == (0, 6, 3)
    lazy = parallel.jacobian_batch(tape, da.from_array(xs, chunks=(128, 3)))
    assert isinstance(lazy, da.Array) and lazy.shape == (500, 6, 3)
    with dask.config.set(scheduler="threads"):
        assert np.array_equal(lazy.compute(), expected)


def test_func_hessian_of_several_outputs_matches_jax():
    def f(v):
        return [(v[0] * v[1]).sin(), v[0].exp() * v[1] ** 3.0, v[1]]

    def fj(v):
        return jnp.stack([jnp.sin(v[0] * v[1]), jnp.exp(v[0]) * v[1] ** 3.0, v[1]])

    x = [0.3, -1.2]
    np.testing.assert_allclose(
        func.hessian(f)(x), np.asarray(jax.hessian(fj)(np.array(x))), rtol=1e-13
    )
    # Each output's block is its own tape's Hessian, bit for bit.
    h = func.hessian(f)(x)
    for k in range(3):
        alone = ferrograd.compile(lambda a, b, k=k: f([a, b])[k], 2)
        assert np.array_equal(h[k], alone.hessian(x))
