"""Compiled tapes: values, gradients, batches, Hessians and bad input, against independent oracles."""

from __future__ import annotations

import math
import random
import struct

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from programs import random_program

import ferrograd
from ferrograd import PathChangedError, Value, reference
from ferrograd._core import Tape as RustTape


def seed_f(x1, x2):
    return x1.log() + x1 * x2 - x2.sin()


def graph_grad(f, point, engine=Value):
    """Value and gradient of ``f`` at ``point`` by building the graph and calling backward()."""
    xs = [engine(x) for x in point]
    out = f(*xs)
    out.backward()
    return out.data, [x.grad for x in xs]


def close(a, b, rel=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.allclose(a, b, rtol=rel, atol=rel, equal_nan=True)


# --------------------------------------------------------------------------------------------
# The seed's worked example and agreement with the graph
# --------------------------------------------------------------------------------------------


def test_seed_example_value_and_gradient():
    tape = ferrograd.compile(seed_f, 2)
    value, grad = tape.grad([2.0, 5.0])
    assert value == pytest.approx(math.log(2) + 10 - math.sin(5), rel=1e-15)
    assert grad[0] == pytest.approx(5.5, rel=1e-15)
    assert grad[1] == pytest.approx(2 - math.cos(5), rel=1e-15)
    assert tape([2.0, 5.0]) == value


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_match_the_graph_and_the_reference_engine(seed):
    n = 1 + seed % 4
    f = random_program(seed, n)
    rng = np.random.default_rng(seed)
    tape = ferrograd.compile(f, n, example=rng.uniform(-1.5, 1.5, n))
    for point in rng.uniform(-1.5, 1.5, size=(3, n)).tolist():
        value, grad = tape.grad(point)
        for engine in (Value, reference.Value):
            expected_value, expected_grad = graph_grad(f, point, engine)
            assert close(value, expected_value), (engine, value, expected_value)
            assert close(grad, expected_grad), (engine, grad, expected_grad)
        assert tape(point) == value


def test_gradients_match_central_differences():
    f = random_program(7, 3, n_ops=20)
    tape = ferrograd.compile(f, 3)
    x = np.array([0.3, -0.8, 1.1])
    _, grad = tape.grad(x)
    for i in range(3):
        h = np.zeros(3)
        h[i] = 1e-6
        numeric = (tape(x + h) - tape(x - h)) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-6, abs=1e-7)


def w_autograd(x):
    return (
        anp.log(x[0]) + x[0] * x[1] - anp.sin(x[1])
        + anp.tanh(x[0] * x[2]) + anp.exp(x[2] * 0.5) * x[1] ** 2
        + x[0] / (1.0 + x[2] ** 2) + anp.sqrt(x[0] + x[1] ** 2)
    )  # fmt: skip


def w_value(a, b, c):
    return (
        a.log() + a * b - b.sin()
        + (a * c).tanh() + (c * 0.5).exp() * b**2
        + a / (1.0 + c**2) + (a + b**2).sqrt()
    )  # fmt: skip


def test_gradient_and_hessian_match_autograd():
    tape = ferrograd.compile(w_value, 3)
    for point in ([2.0, 5.0, 0.3], [0.7, -1.2, 1.9]):
        x = np.array(point)
        value, grad = tape.grad(x)
        assert close(value, w_autograd(x))
        assert close(grad, autograd.grad(w_autograd)(x))
        assert close(tape.hessian(x), autograd.hessian(w_autograd)(x), rel=1e-10)


def test_hessian_matches_differences_of_the_gradient():
    f = random_program(11, 4, n_ops=25)
    tape = ferrograd.compile(f, 4)
    x = np.array([0.4, -0.3, 0.9, -1.1])
    h = tape.hessian(x)
    assert h.shape == (4, 4)
    step = 1e-5
    for j in range(4):
        e = np.zeros(4)
        e[j] = step
        numeric = (tape.grad(x + e)[1] - tape.grad(x - e)[1]) / (2 * step)
        assert np.allclose(h[:, j], numeric, rtol=1e-6, atol=1e-6)
    assert np.allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_hessian_of_a_quadratic_is_exact():
    # f = x^2 y + 3 x y^2 - y: H = [[2y, 2x + 6y], [2x + 6y, 6x]]
    tape = ferrograd.compile(lambda x, y: x**2 * y + 3 * x * y**2 - y, 2)
    x, y = 1.5, -2.0
    expected = [[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * x]]
    assert tape.hessian([x, y]).tolist() == expected


# --------------------------------------------------------------------------------------------
# What the tape records
# --------------------------------------------------------------------------------------------


def test_values_made_inside_f_are_constants_and_inputs_are_variables():
    scale = Value(3.0)  # a leaf made outside f: frozen as a constant
    tape = ferrograd.compile(lambda x, y: x * scale + y * Value(2.0) + 1.0, 2)
    assert tape.grad([5.0, 7.0]) == (5.0 * 3 + 7.0 * 2 + 1, pytest.approx([3.0, 2.0]))
    scale.data = 100.0  # the tape holds the value it saw when recording
    assert tape([5.0, 7.0]) == 30.0


def test_input_not_reached_by_the_output_has_zero_gradient():
    tape = ferrograd.compile(lambda x, y, z: x * z, 3)
    value, grad = tape.grad([2.0, 9.0, 4.0])
    assert value == 8.0
    assert grad.tolist() == [4.0, 0.0, 2.0]
    assert tape.hessian([2.0, 9.0, 4.0]).tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]


def test_output_that_is_an_input_or_a_constant():
    identity = ferrograd.compile(lambda x, y: y, 2)
    assert identity.grad([3.0, 4.0])[1].tolist() == [0.0, 1.0]
    values, grads = identity.grad_batch(np.arange(6.0).reshape(3, 2))
    assert values.tolist() == [1.0, 3.0, 5.0]
    assert grads.tolist() == [[0.0, 1.0]] * 3
    constant = ferrograd.compile(lambda x: Value(2.5), 1)
    assert constant.grad([1.0]) == (2.5, pytest.approx([0.0]))
    assert constant.hessian([1.0]).tolist() == [[0.0]]
    assert constant.jvp([1.0], [1.0]) == (2.5, 0.0)


def test_constant_subexpressions_are_folded_with_the_same_numbers():
    c = Value(0.7)
    f = lambda x: x * (c.exp() + c.tanh()) ** 2 + ferrograd.sum([c, c, x])
    tape = ferrograd.compile(f, 1)
    assert tape.plan_len < len(tape)  # the constant part is computed once, at compile time
    value, grad = tape.grad([1.3])
    expected_value, expected_grad = graph_grad(f, [1.3])
    assert value == expected_value and grad.tolist() == expected_grad


def test_squares_agree_with_pow_to_one_rounding():
    tape = ferrograd.compile(lambda x: x**2, 1)
    xs = np.random.default_rng(3).standard_normal(2000) * 1e3
    for x in xs.tolist():
        value, grad = tape.grad([x])
        assert value == pytest.approx(x**2, rel=2.3e-16)
        assert grad[0] == 2 * x


def fused(module):
    def f(a, b, c):
        return module.dot([a, b, c], [c, a, 2.0]) + module.sum([a * b, c, 1.0])

    return f


def test_fused_sum_and_dot_are_recorded():
    tape = ferrograd.compile(fused(ferrograd), 3)
    point = [0.5, -1.5, 2.0]
    value, grad = tape.grad(point)
    assert (value, grad.tolist()) == graph_grad(fused(ferrograd), point)
    expected_value, expected_grad = graph_grad(fused(reference), point, reference.Value)
    assert close(value, expected_value) and close(grad, expected_grad)


def test_raw_record_with_a_non_leaf_input_cuts_the_graph():
    a, b = Value(2.0), Value(3.0)
    z = a * b
    out = z.tanh() + a
    tape = RustTape.record([z], out)  # z is the variable; a is frozen at 2.0
    value, grad = tape.grad([0.5])
    assert value == pytest.approx(math.tanh(0.5) + 2.0)
    assert grad == [pytest.approx(1 - math.tanh(0.5) ** 2)]
    with pytest.raises(ValueError, match="same Value"):
        RustTape.record([a, a], out)


# --------------------------------------------------------------------------------------------
# Value-dependent control flow
# --------------------------------------------------------------------------------------------


def branchy(x):
    return x * 2 if x.data > 0 else -x


def test_the_tape_records_one_path_and_check_catches_another():
    loose = ferrograd.compile(branchy, 1, example=[1.0])
    assert loose([-3.0]) == -6.0  # the recorded path, at a point where f would take the other
    checked = ferrograd.compile(branchy, 1, example=[1.0], check=True)
    assert checked([4.0]) == 8.0
    assert checked.grad([4.0])[1].tolist() == [2.0]
    with pytest.raises(PathChangedError, match="different program"):
        checked([-3.0])
    with pytest.raises(PathChangedError):
        checked.grad_batch(np.array([[1.0], [-1.0]]))
    assert checked.unchecked()([-3.0]) == -6.0


def test_check_also_catches_constants_taken_from_data():
    tape = ferrograd.compile(lambda x: x * x.data, 1, example=[2.0], check=True)
    assert tape([2.0]) == 4.0
    with pytest.raises(PathChangedError):
        tape([3.0])


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tape3():
    return ferrograd.compile(random_program(5, 3, n_ops=30), 3)


def rowwise(tape, xs):
    pairs = [tape.grad(row) for row in xs]
    return np.array([v for v, _ in pairs]), np.array([g for _, g in pairs]).reshape(len(xs), -1)


def test_grad_batch_is_bit_identical_to_single_points(tape3):
    xs = np.random.default_rng(0).uniform(-2, 2, size=(203, 3))  # not a multiple of the lanes
    values, grads = tape3.grad_batch(xs)
    expected_values, expected_grads = rowwise(tape3, xs)
    assert values.shape == (203,) and grads.shape == (203, 3)
    assert values.tobytes() == expected_values.tobytes()
    assert grads.tobytes() == expected_grads.tobytes()
    assert tape3.eval_batch(xs).tobytes() == values.tobytes()


def test_huge_batches_across_threads_are_bit_identical(tape3):
    xs = np.random.default_rng(1).uniform(-2, 2, size=(100_003, 3))
    one = tape3.grad_batch(xs, threads=1)
    for threads in (2, 3, 7, None):
        many = tape3.grad_batch(xs, threads=threads)
        assert many[0].tobytes() == one[0].tobytes()
        assert many[1].tobytes() == one[1].tobytes()
        assert tape3.eval_batch(xs, threads=threads).tobytes() == one[0].tobytes()
    sample = xs[::9973]
    assert rowwise(tape3, sample)[1].tobytes() == one[1][::9973].tobytes()


def test_any_real_dtype_and_memory_order_gives_the_same_numbers(tape3):
    base = np.random.default_rng(2).integers(-3, 4, size=(17, 3)).astype(np.float64)
    expected = tape3.grad_batch(base)
    variants = [
        base.astype(np.int64),
        base.astype(np.int8),
        base.astype(np.float32),
        np.asfortranarray(base),
        np.repeat(base, 2, axis=0)[::2],  # a strided view
        base.tolist(),
    ]
    for xs in variants:
        values, grads = tape3.grad_batch(xs)
        assert values.tobytes() == expected[0].tobytes()
        assert grads.tobytes() == expected[1].tobytes()
    flags = np.array([[True, False, True]])
    assert tape3.grad_batch(flags)[1].tolist() == [tape3.grad([1.0, 0.0, 1.0])[1].tolist()]


def test_results_are_writable_arrays_of_their_own(tape3):
    values, grads = tape3.grad_batch(np.ones((4, 3)))
    values[0] = 7.0
    grads[0, 0] = 7.0
    assert values.dtype == grads.dtype == np.float64
    assert tape3.grad_batch(np.ones((4, 3)))[0][0] != 7.0


def test_empty_batch():
    tape = ferrograd.compile(seed_f, 2)
    values, grads = tape.grad_batch(np.zeros((0, 2)))
    assert values.shape == (0,) and grads.shape == (0, 2)
    assert tape.eval_batch(np.zeros((0, 2)), threads=4).shape == (0,)


def test_non_finite_inputs_follow_ieee_row_by_row():
    tape = ferrograd.compile(seed_f, 2)
    xs = np.array([[2.0, 5.0], [np.nan, 1.0], [0.0, 1.0], [np.inf, 0.0], [-1.0, 2.0], [2.0, 5.0]])
    values, grads = tape.grad_batch(xs)
    for row, value, grad in zip(xs.tolist(), values, grads):
        expected_value, expected_grad = graph_grad(seed_f, row)
        assert close(value, expected_value) and close(grad, expected_grad), row
    assert math.isnan(values[1]) and values[2] == -math.inf and math.isnan(values[4])
    assert values[0] == values[5]  # a NaN in one lane does not leak into the others


@pytest.mark.parametrize(
    "xs",
    [np.zeros(3), np.zeros((4, 2)), np.zeros((4, 4)), np.zeros((2, 3, 1)), np.zeros(())],
)
def test_batch_shape_mismatch_is_a_value_error(tape3, xs):
    with pytest.raises(ValueError, match=r"shape \(m, 3\)"):
        tape3.grad_batch(xs)
    with pytest.raises(ValueError, match=r"shape \(m, 3\)"):
        tape3.eval_batch(xs)


@pytest.mark.parametrize(
    "xs",
    [
        np.array([[1, 2, 3]], dtype=object),
        np.array([[1j, 2, 3]]),
        np.array([["a", "b", "c"]]),
        [[Value(1.0), 2.0, 3.0]],
    ],
)
def test_batch_dtype_mismatch_is_a_value_error(tape3, xs):
    with pytest.raises(ValueError, match="real numbers"):
        tape3.grad_batch(xs)


@pytest.mark.parametrize("threads", [0, -1, -(2**70)])
def test_bad_thread_counts_are_value_errors(tape3, threads):
    with pytest.raises(ValueError, match="threads must be >= 1"):
        tape3.grad_batch(np.ones((2, 3)), threads=threads)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        tape3.eval_batch(np.ones((2, 3)), threads=threads)


@pytest.mark.parametrize("threads", [1.5, "2", True])
def test_non_integer_thread_counts_are_type_errors(tape3, threads):
    with pytest.raises(TypeError, match="threads"):
        tape3.grad_batch(np.ones((2, 3)), threads=threads)


def test_the_gil_is_released_during_batches(tape3):
    # Python threads running batches side by side finish with the right numbers.
    from concurrent.futures import ThreadPoolExecutor

    xs = np.random.default_rng(4).uniform(-1, 1, size=(20_000, 3))
    expected = tape3.grad_batch(xs, threads=1)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: tape3.grad_batch(xs, threads=1), range(4)))
    for values, grads in results:
        assert values.tobytes() == expected[0].tobytes()
        assert grads.tobytes() == expected[1].tobytes()


# --------------------------------------------------------------------------------------------
# Bad input to compile and to single points
# --------------------------------------------------------------------------------------------


def test_compile_rejects_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        ferrograd.compile(3, 1)
    for n in (0, -2):
        with pytest.raises(ValueError, match="n_inputs must be >= 1"):
            ferrograd.compile(seed_f, n)
    for n in (2.0, "2", True, None):
        with pytest.raises(TypeError, match="n_inputs must be an int"):
            ferrograd.compile(seed_f, n)
    assert ferrograd.compile(seed_f, np.int64(2)).n_inputs == 2
    with pytest.raises(TypeError, match="return a ferrograd.Value"):
        ferrograd.compile(lambda x: x.data * 2, 1)
    with pytest.raises(TypeError):  # f takes two arguments, compile offers three
        ferrograd.compile(seed_f, 3)
    with pytest.raises(ValueError, match=r"example must have shape \(2,\)"):
        ferrograd.compile(seed_f, 2, example=[1.0])


def test_single_points_reject_wrong_lengths_and_types():
    tape = ferrograd.compile(seed_f, 2)
    for method in (tape, tape.grad, tape.hessian):
        with pytest.raises(ValueError, match=r"shape \(2,\)"):
            method([1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match="real numbers"):
            method(["a", "b"])
    with pytest.raises(ValueError, match=r"v must have shape \(2,\)"):
        tape.jvp([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        RustTape.eval(tape._tape, [1.0])


# --------------------------------------------------------------------------------------------
# Serialised tapes: round trips, and corrupt bytes never panic
# --------------------------------------------------------------------------------------------


def test_to_bytes_round_trip_runs_the_same_program(tape3):
    copy = RustTape.from_bytes(tape3._tape.to_bytes())
    assert copy.same_program(tape3._tape)
    xs = np.random.default_rng(5).uniform(-1, 1, size=(50, 3))
    (v1, g1), (v2, g2) = (np.empty(50), np.empty((50, 3))), (np.empty(50), np.empty((50, 3)))
    copy.grad_batch_into(xs, v1, g1)
    tape3._tape.grad_batch_into(xs, v2, g2)
    assert v1.tobytes() == v2.tobytes() and g1.tobytes() == g2.tobytes()


def test_corrupt_tape_bytes_raise_value_error_never_a_panic():
    tapes = [
        ferrograd.compile(lambda x: x, 1),
        ferrograd.compile(lambda a, b: ferrograd.dot([a, b], [b, 2.0]) + a.leaky_relu(0.2) ** b, 2),
        ferrograd.compile(random_program(3, 3), 3),
    ]
    rng = random.Random(0)
    accepted = 0
    for tape in tapes:
        raw = tape._tape.to_bytes()
        for _ in range(1500):
            data = bytearray(raw)
            for _ in range(rng.randint(1, 3)):
                if not data:
                    break
                i = rng.randrange(len(data))
                r = rng.random()
                if r < 0.45:
                    data[i] = rng.randrange(256)
                elif r < 0.9:
                    word = rng.choice([0, 1, 2, 3, 7, 100, 2**32, 2**63, 2**64 - 1])
                    data[i : i + 8] = struct.pack("<Q", word)[: len(data) - i]
                else:
                    del data[i:]
            try:
                copy = RustTape.from_bytes(bytes(data))
            except ValueError:
                continue
            accepted += 1
            n = copy.n_inputs
            try:  # whatever was accepted evaluates, or refuses with ValueError
                copy.eval([0.5] * n)
                copy.grad([0.5] * n)
                copy.jvp([0.5] * n, [1.0] * n)
                copy.hessian([0.5] * n)
                copy.grad_batch_into(np.full((9, n), 0.5), np.empty(9), np.empty((9, n)), 2)
            except ValueError:
                pass
    assert accepted > 0  # some mutations (of constants, say) are valid programs
    identity = tapes[0]._tape.to_bytes()
    more_inputs_than_slots = identity[:4] + struct.pack("<Q", 5) + identity[12:]
    for junk in (b"", b"FGT1", b"nonsense", b"FGT1" + b"\xff" * 64, more_inputs_than_slots):
        with pytest.raises(ValueError, match="not a valid tape"):
            RustTape.from_bytes(junk)
