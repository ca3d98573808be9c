"""The tape's batch methods read their input and write their results in place: numpy arrays
cross into Rust without a copy. The wrapper converts whatever it is given; the core's own
methods check every array themselves and refuse anything else with a clean exception (those
calls run in a child interpreter, so that a crash fails one test and not the run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from programs import random_program

import ferrograd
from ferrograd import _core


def _f(a, b, c):
    return (a * b).tanh() + c.exp() / (1 + a * a) - (b - c).sin()


def _vector(a, b, c):
    return [a * b + c, (a - c).tanh(), a, b.exp() * c]


@pytest.fixture(scope="module")
def scalar() -> ferrograd.Tape:
    return ferrograd.compile(_f, 3)


@pytest.fixture(scope="module")
def vector() -> ferrograd.Tape:
    return ferrograd.compile(_vector, 3)


def _points(m: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, size=(m, 3))


@pytest.mark.parametrize("threads", [1, 2])
def test_scalar_batches_are_the_single_points_bit_for_bit(scalar, threads) -> None:
    xs = _points(70_001)  # not a multiple of the lanes; enough rows for two threads
    values, grads = scalar.grad_batch(xs, threads=threads)
    sample = range(0, len(xs), 997)
    for i in sample:
        value, grad = scalar.grad(xs[i])
        assert values[i].tobytes() == np.float64(value).tobytes()
        assert grads[i].tobytes() == grad.tobytes()
    assert scalar.eval_batch(xs, threads=threads).tobytes() == values.tobytes()
    assert scalar.jacobian_batch(xs, threads=threads).tobytes() == grads.tobytes()
    assert values.shape == (len(xs),) and grads.shape == xs.shape


@pytest.mark.parametrize("threads", [1, 2])
def test_vector_batches_are_the_single_points_bit_for_bit(vector, threads) -> None:
    xs = _points(50_003, seed=1)
    values = vector.eval_batch(xs, threads=threads)
    jac = vector.jacobian_batch(xs, threads=threads)
    assert values.shape == (len(xs), 4) and jac.shape == (len(xs), 4, 3)
    for i in range(0, len(xs), 1009):
        assert values[i].tobytes() == vector(xs[i]).tobytes()
        assert jac[i].tobytes() == vector.jacobian(xs[i]).tobytes()


def test_results_are_fresh_writable_c_arrays(scalar, vector) -> None:
    xs = _points(40)
    for out in (*scalar.grad_batch(xs), scalar.eval_batch(xs), vector.jacobian_batch(xs)):
        assert type(out) is np.ndarray and out.dtype == np.float64
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata
        assert not np.shares_memory(out, xs)


def _misaligned(base: np.ndarray) -> np.ndarray:
    raw = np.zeros(base.nbytes + 1, dtype=np.uint8)
    view = raw[1:].view(np.float64).reshape(base.shape)
    view[...] = base
    assert not view.flags.aligned
    return view


def _read_only(base: np.ndarray) -> np.ndarray:
    copy = base.copy()
    copy.flags.writeable = False
    return copy


class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize(
    "convert",
    [
        np.asfortranarray,
        lambda b: np.repeat(b, 3, axis=0)[1::3],  # a strided view of every third row
        lambda b: np.repeat(b, 2, axis=1)[:, ::2],  # a view of every other column
        lambda b: b.astype(np.float32),
        lambda b: b.astype(">f8"),  # float64, not in native byte order
        _misaligned,
        _read_only,
        lambda b: b.view(_Sub),
        lambda b: b.tolist(),
    ],
    ids=[
        "fortran",
        "row-view",
        "column-view",
        "float32",
        "big-endian",
        "misaligned",
        "read-only",
        "subclass",
        "list",
    ],
)
def test_the_wrapper_converts_what_the_core_would_refuse(scalar, vector, convert) -> None:
    base = np.round(_points(77, seed=3), 1).astype(np.float32).astype(np.float64)  # float32 too
    xs = convert(base)
    want_v, want_g = scalar.grad_batch(np.ascontiguousarray(base))
    got_v, got_g = scalar.grad_batch(xs)
    assert got_v.tobytes() == want_v.tobytes() and got_g.tobytes() == want_g.tobytes()
    assert scalar.eval_batch(xs).tobytes() == want_v.tobytes()
    want = vector.jacobian_batch(np.ascontiguousarray(base))
    assert vector.jacobian_batch(xs).tobytes() == want.tobytes()
    assert type(got_v) is np.ndarray and type(got_g) is np.ndarray


def test_the_wrapper_leaves_its_input_alone(scalar) -> None:
    xs = _points(100)
    before = xs.copy()
    scalar.grad_batch(xs)
    scalar.eval_batch(xs, threads=2)
    assert xs.tobytes() == before.tobytes()


def test_a_grad_sum_through_arrays_matches_the_rows() -> None:
    tape = ferrograd.compile(random_program(2, 5, n_ops=25), 5)
    shared, rows = np.array([0.3, -0.7]), _points(67, seed=4)
    values, grad = np.empty(67), np.empty(2)
    tape._tape.grad_sum_into(shared, rows, values, grad, 1, 0.5, 0.25)
    points = np.column_stack([np.tile(shared, (67, 1)), rows])
    assert values.tobytes() == tape.eval_batch(points).tobytes()
    summed = tape.grad_batch(points)[1][:, :2].sum(axis=0) * 0.5 + 0.5 * shared
    np.testing.assert_allclose(grad, summed, rtol=1e-13)


# --------------------------------------------------------------------------------------------
# The core's own methods, called with what the wrapper would never pass
# --------------------------------------------------------------------------------------------

_PROLOGUE = """
import numpy as np
import ferrograd
scalar = ferrograd.compile(lambda a, b, c: a * b + c.exp(), 3)._tape
vector = ferrograd.compile(lambda a, b, c: [a * b, c], 3)._tape
xs = np.linspace(-1, 1, 30).reshape(10, 3)
class Sub(np.ndarray):
    pass
def misaligned(shape):
    raw = np.zeros(8 * int(np.prod(shape)) + 1, dtype=np.uint8)
    return raw[1:].view(np.float64).reshape(shape)
def read_only(a):
    a.flags.writeable = False
    return a
"""

# case: (call, exception, message); the call runs after _PROLOGUE, and the exception it raises
# must name the problem.
_BAD_CALLS: dict[str, tuple[str, str, str]] = {
    "list input": (
        "scalar.grad_batch_into(xs.tolist(), np.empty(10), np.empty((10, 3)))",
        "TypeError",
        "xs must be a numpy.ndarray, got list",
    ),
    "bytes input": (
        "scalar.eval_batch_into(xs.tobytes(), np.empty(10))",
        "TypeError",
        "xs must be a numpy.ndarray, got bytes",
    ),
    "list output": (
        "scalar.eval_batch_into(xs, [0.0] * 10)",
        "TypeError",
        "values must be a numpy.ndarray, got list",
    ),
    "float32 input": (
        "scalar.grad_batch_into(xs.astype(np.float32), np.empty(10), np.empty((10, 3)))",
        "TypeError",
        "xs must hold float64 in native byte order",
    ),
    "int64 output": (
        "scalar.eval_batch_into(xs, np.empty(10, dtype=np.int64))",
        "TypeError",
        "values must hold float64",
    ),
    "big-endian input": (
        "scalar.eval_batch_into(xs.astype('>f8'), np.empty(10))",
        "TypeError",
        "xs must hold float64 in native byte order",
    ),
    "float32 shared": (
        "scalar.grad_sum_into(np.ones(2, np.float32), xs[:, :1].copy(), np.empty(10), np.empty(2))",
        "TypeError",
        "shared must hold float64",
    ),
    "non-contiguous input": (
        "scalar.grad_batch_into(np.repeat(xs, 2, axis=0)[::2], np.empty(10), np.empty((10, 3)))",
        "ValueError",
        "xs must be C-contiguous",
    ),
    "fortran input": (
        "scalar.eval_batch_into(np.asfortranarray(xs), np.empty(10))",
        "ValueError",
        "xs must be C-contiguous",
    ),
    "non-contiguous output": (
        "scalar.grad_batch_into(xs, np.empty(10), np.empty((10, 6))[:, ::2])",
        "ValueError",
        "grads must be C-contiguous",
    ),
    "misaligned input": (
        "a = misaligned((10, 3)); a[...] = xs; scalar.eval_batch_into(a, np.empty(10))",
        "ValueError",
        "xs's data is not aligned to 8 bytes",
    ),
    "misaligned output": (
        "scalar.eval_batch_into(xs, misaligned((10,)))",
        "ValueError",
        "values's data is not aligned to 8 bytes",
    ),
    "read-only output": (
        "scalar.grad_batch_into(xs, read_only(np.empty(10)), np.empty((10, 3)))",
        "ValueError",
        "values is read-only",
    ),
    "read-only jacobian": (
        "vector.jacobian_batch_into(xs, read_only(np.empty((10, 2, 3))))",
        "ValueError",
        "jac is read-only",
    ),
    "read-only grad sum": (
        "scalar.grad_sum_into(np.ones(2), xs[:, :1].copy(), np.empty(10), read_only(np.empty(2)))",
        "ValueError",
        "grad is read-only",
    ),
    "input of the wrong width": (
        "scalar.eval_batch_into(np.ones((10, 2)), np.empty(10))",
        "ValueError",
        r"xs must have shape (m, 3), got (10, 2)",
    ),
    "flat input": (
        "scalar.eval_batch_into(xs.ravel(), np.empty(30))",
        "ValueError",
        r"xs must have shape (m, 3), got (30,)",
    ),
    "0-d input": (
        "scalar.eval_batch_into(np.array(1.0), np.empty(1))",
        "ValueError",
        r"xs must have shape (m, 3), got ()",
    ),
    "output rows": (
        "scalar.grad_batch_into(xs, np.empty(9), np.empty((10, 3)))",
        "ValueError",
        r"values must have shape (10,), got (9,)",
    ),
    "output flat": (
        "scalar.grad_batch_into(xs, np.empty(10), np.empty(30))",
        "ValueError",
        r"grads must have shape (10, 3), got (30,)",
    ),
    "vector values shape": (
        "vector.eval_batch_into(xs, np.empty(20))",
        "ValueError",
        r"values must have shape (10, 2), got (20,)",
    ),
    "jacobian shape": (
        "vector.jacobian_batch_into(xs, np.empty((10, 6)))",
        "ValueError",
        r"jac must have shape (10, 2, 3), got (10, 6)",
    ),
    "subclass input": (
        "scalar.eval_batch_into(xs.view(Sub), np.empty(10))",
        "TypeError",
        "xs must be a numpy.ndarray, got the ndarray subclass Sub",
    ),
    "matrix input": (
        "scalar.eval_batch_into(np.asmatrix(xs), np.empty(10))",
        "TypeError",
        "got the ndarray subclass matrix",
    ),
    "subclass output": (
        "scalar.eval_batch_into(xs, np.empty(10).view(Sub))",
        "TypeError",
        "values must be a numpy.ndarray, got the ndarray subclass Sub",
    ),
    "masked output": (
        "scalar.eval_batch_into(xs, np.ma.masked_array(np.empty(10)))",
        "TypeError",
        "got the ndarray subclass MaskedArray",
    ),
    "output over the input": (
        "scalar.grad_batch_into(xs, np.empty(10), xs)",
        "ValueError",
        "xs and grads overlap in memory",
    ),
    "output inside the input": (
        "scalar.eval_batch_into(xs, xs.ravel()[5:15])",
        "ValueError",
        "xs and values overlap in memory",
    ),
    "outputs over each other": (
        "g = np.empty((10, 3)); scalar.grad_batch_into(xs, g.ravel()[20:], g)",
        "ValueError",
        "values and grads overlap in memory",
    ),
    "jacobian sharing the input": (
        "j = np.empty((10, 2, 3)); vector.jacobian_batch_into(j.reshape(20, 3)[:10], j)",
        "ValueError",
        "xs and jac overlap in memory",
    ),
    "grad sum over shared": (
        "g = np.ones(2); scalar.grad_sum_into(g, xs[:, :1].copy(), np.empty(10), g)",
        "ValueError",
        "shared and grad overlap in memory",
    ),
    "grad sum values over xs": (
        "x = xs[:, :1].copy(); scalar.grad_sum_into(np.ones(2), x, x.ravel(), np.empty(2))",
        "ValueError",
        "xs and values overlap in memory",
    ),
    "grad sum shared leaves nothing": (
        "scalar.grad_sum_into(np.ones(3), np.empty((10, 0)), np.empty(10), np.empty(3))",
        "ValueError",
        "3 shared inputs leave none",
    ),
    "grad sum shared not flat": (
        "scalar.grad_sum_into(np.ones((1, 2)), xs[:, :1].copy(), np.empty(10), np.empty(2))",
        "ValueError",
        r"shared must have shape (p,), got (1, 2)",
    ),
    "vector grad batch": (
        "vector.grad_batch_into(xs, np.empty(10), np.empty((10, 3)))",
        "ValueError",
        "jacobian_batch",
    ),
    "none output": (
        "scalar.eval_batch_into(xs, None)",
        "TypeError",
        "values must be a numpy.ndarray, got NoneType",
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD_CALLS))
def test_the_core_refuses_bad_arrays_by_name(case: str) -> None:
    call, error, message = _BAD_CALLS[case]
    code = _PROLOGUE + textwrap.dedent(
        f"""
        try:
            {call}
        except Exception as err:
            print(type(err).__name__)
            print(err)
        else:
            print("no error")
        print("still running")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "still running"
    assert lines[0] == error, result.stdout
    assert message in "\n".join(lines[1:-1]), result.stdout


def test_a_refused_call_writes_nothing() -> None:
    tape = ferrograd.compile(_f, 3)._tape
    xs = _points(10)
    values, grads = np.full(10, 7.0), np.full((10, 3), 7.0)
    with pytest.raises(ValueError, match="values and grads overlap"):
        tape.grad_batch_into(xs, grads.ravel()[:10], grads, 1)
    with pytest.raises(ValueError, match="grads must have shape"):
        tape.grad_batch_into(xs, values, grads[:9], 1)
    assert np.all(values == 7.0) and np.all(grads == 7.0)
    tape.grad_batch_into(xs, values, grads, 1)
    assert values.tobytes() == ferrograd.compile(_f, 3).eval_batch(xs).tobytes()


def test_empty_arrays_need_no_memory() -> None:
    tape = ferrograd.compile(_f, 3)._tape
    values, grads = np.empty(0), np.empty((0, 3))
    tape.grad_batch_into(np.empty((0, 3)), values, grads)
    tape.eval_batch_into(np.empty((0, 3)), values, 4)
    shared = np.ones(2)
    tape.grad_sum_into(shared, np.empty((0, 1)), values, np.full(2, 7.0))
    # the same empty array as input and output overlaps nothing
    tape.eval_batch_into(values.reshape(0, 3), values)


def test_array_headers_are_read_directly_and_agree_with_the_interface() -> None:
    # The fast path (numpy's header read in place) is the one batches take on this numpy;
    # the batches above already check its results and refusals against single points.
    assert _core._array_headers_direct()
