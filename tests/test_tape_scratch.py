"""A tape keeps its batches' scratch blocks from one call to the next: no call may see what an
earlier one left there (stale rows in unused lanes, adjoints of other calls), whatever ran
before it on the same tape."""

from __future__ import annotations

import math
import pickle

import numpy as np

import ferrograd


def _f(a, b, x, z):
    return a * x.log() + (b * z).tanh() + a * b


def _sum_oracle(tape: ferrograd.Tape, shared: np.ndarray, xs: np.ndarray) -> list[float]:
    """The gradient with respect to the shared inputs summed over the rows, row by row with
    ``Tape.grad``, summed exactly (math.fsum)."""
    rows = [tape.grad([*shared, *row])[1][: len(shared)] for row in xs.tolist()]
    return [math.fsum(col) for col in zip(*rows)]


def _grad_sum(tape: ferrograd.Tape, shared: np.ndarray, xs: np.ndarray, threads: int = 1):
    values, grad = np.empty(len(xs)), np.empty(len(shared))
    tape._tape.grad_sum_into(shared, np.ascontiguousarray(xs), values, grad, threads)
    return values, grad


def test_a_short_last_block_ignores_stale_lanes_of_an_earlier_call() -> None:
    tape = ferrograd.compile(_f, 4)
    shared = np.array([0.7, -1.3])
    # 64 rows (two full lane blocks) whose log is -inf and whose gradients are infinite...
    bad = np.column_stack([np.zeros(64), np.linspace(-2, 2, 64)])
    _, grad = _grad_sum(tape, shared, bad)
    assert math.isinf(grad[0])
    # ... then 20 rows (a short lane block) and 5 (run one point at a time) and 45 (a whole
    # block and a short one): the block's unused lanes still hold the rows above.
    for rows in (20, 5, 45):
        good = np.random.default_rng(rows).uniform(0.5, 2.0, size=(rows, 2))
        values, grad = _grad_sum(tape, shared, good)
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(grad, _sum_oracle(tape, shared, good), rtol=1e-14)
        assert values.tolist() == [tape(np.r_[shared, row]) for row in good]


def test_the_same_call_gives_the_same_bits_whatever_ran_before() -> None:
    rng = np.random.default_rng(2)
    first = ferrograd.compile(_f, 4)
    fresh = pickle.loads(pickle.dumps(first))  # a tape of its own: nothing kept yet
    shared = np.array([1.1, 0.4])
    xs = rng.uniform(0.5, 2.0, size=(101, 2))
    points = np.column_stack([np.repeat([shared], 77, axis=0), rng.uniform(0.5, 2, (77, 2))])
    expected = _grad_sum(fresh, shared, xs)
    expected_batch = fresh.grad_batch(points, threads=1)
    # Everything a batch can leave in a block: values, adjoints of every slot, other sizes.
    first.grad_batch(rng.uniform(-3, 3, size=(300, 4)), threads=1)
    first.jacobian_batch(rng.uniform(0.5, 2, size=(33, 4)), threads=1)
    first.eval_batch(rng.uniform(0.5, 2, size=(7, 4)), threads=1)
    _grad_sum(first, np.array([-5.0, 9.0]), rng.uniform(0.5, 2.0, size=(45, 2)))
    for _ in range(2):
        got = _grad_sum(first, shared, xs)
        assert got[0].tobytes() == expected[0].tobytes()
        assert got[1].tobytes() == expected[1].tobytes()
        batch = first.grad_batch(points, threads=1)
        assert batch[0].tobytes() == expected_batch[0].tobytes()
        assert batch[1].tobytes() == expected_batch[1].tobytes()
    np.testing.assert_allclose(expected[1], _sum_oracle(first, shared, xs), rtol=1e-14)


def test_batches_on_several_threads_agree_with_one_thread() -> None:
    rng = np.random.default_rng(3)
    tape = ferrograd.compile(_f, 4)
    xs = rng.uniform(0.5, 2.0, size=(200_003, 4))
    one = tape.grad_batch(xs, threads=1)
    for _ in range(2):
        two = tape.grad_batch(xs, threads=2)
        assert two[0].tobytes() == one[0].tobytes() and two[1].tobytes() == one[1].tobytes()
    shared = np.array([0.3, 0.9])
    data = xs[:, 2:]
    _, g1 = _grad_sum(tape, shared, data, threads=1)
    _, g2 = _grad_sum(tape, shared, data, threads=2)
    np.testing.assert_allclose(g2, g1, rtol=1e-12)
    assert _grad_sum(tape, shared, data, threads=2)[1].tobytes() == g2.tobytes()
