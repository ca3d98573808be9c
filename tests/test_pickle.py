"""Pickling Value graphs and tapes: same numbers after the round trip, in this process or another."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import ferrograd
from ferrograd import Value
from ferrograd._core import _value_from_bytes


def nodes(root):
    """Every node behind ``root``, operands first, each once (iteratively)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif v not in seen:
            seen.add(v)
            stack.append((v, True))
            stack.extend((c, False) for c in reversed(v.children))
    return order


def build():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = (a * b + a).leaky_relu(0.3) + ferrograd.dot([a, b], [b, 2.0]) + (a / b).exp() ** b
    loss = ferrograd.sum([c.tanh(), a.sigmoid(), abs(b)])
    loss.backward()
    return loss


def describe(root):
    return [(v.op, v.data, v.grad, v.label, len(v.children)) for v in nodes(root)]


def test_value_graph_round_trip_keeps_every_node():
    loss = build()
    copy = pickle.loads(pickle.dumps(loss))
    assert describe(copy) == describe(loss)
    # Sharing survives: `a` is one node in the copy, used by several ops.
    leaves_a = {v for v in nodes(copy) if v.label == "a"}
    assert len(leaves_a) == 1
    # The copy is a live graph: another backward doubles every grad, as it does on the original.
    before = [v.grad for v in nodes(copy)]
    copy.backward()
    assert [v.grad for v in nodes(copy)] == [2 * g for g in before]


def test_value_graph_round_trip_in_another_process():
    loss = build()
    script = (
        "import pickle, sys\n"
        "v = pickle.loads(sys.stdin.buffer.read())\n"
        "v.backward()\n"
        "sys.stdout.buffer.write(pickle.dumps(v))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(loss),
        capture_output=True,
        check=True,
        timeout=60,
    )
    back = pickle.loads(out.stdout)
    assert [d[:2] for d in describe(back)] == [d[:2] for d in describe(loss)]
    assert [v.grad for v in nodes(back)] == [2 * v.grad for v in nodes(loss)]


def test_corrupt_value_bytes_raise_value_error():
    raw = pickle.dumps(build())
    good = build().__reduce__()[1][0]
    rng = np.random.default_rng(0)
    for _ in range(2000):
        data = bytearray(good)
        data[rng.integers(len(data))] = rng.integers(256)
        try:
            v = _value_from_bytes(bytes(data))
        except ValueError:
            continue
        v.backward()  # whatever was accepted is a working graph
    for junk in (b"", b"FGV1", good[:-1], good + b"\0"):
        with pytest.raises(ValueError, match="not a serialised ferrograd graph"):
            _value_from_bytes(junk)
    assert pickle.loads(raw).data == build().data


def quadratic(x, y):
    """Module-level, so a checked tape can pickle it by reference."""
    return x * x * 3.0 + (x * y).sin() if x.data > 0 else -x * y


def test_tape_round_trip_same_values_and_grads():
    tape = ferrograd.compile(quadratic, 2)
    copy = pickle.loads(pickle.dumps(tape))
    assert not copy.checked
    xs = np.random.default_rng(1).uniform(0.1, 2, size=(100, 2))
    for a, b in zip(tape.grad_batch(xs), copy.grad_batch(xs)):
        assert a.tobytes() == b.tobytes()
    assert np.array_equal(tape.hessian([1.0, 2.0]), copy.hessian([1.0, 2.0]))


def test_checked_tape_keeps_its_check_through_pickle():
    tape = ferrograd.compile(quadratic, 2, check=True)
    copy = pickle.loads(pickle.dumps(tape))
    assert copy.checked
    assert copy([1.0, 2.0]) == tape([1.0, 2.0])
    with pytest.raises(ferrograd.PathChangedError):
        copy([-1.0, 2.0])


def test_checked_tape_of_a_lambda_says_how_to_pickle_it():
    tape = ferrograd.compile(lambda x: x * 2, 1, check=True)
    with pytest.raises(pickle.PicklingError, match=r"tape.unchecked\(\)"):
        pickle.dumps(tape)
    copy = pickle.loads(pickle.dumps(tape.unchecked()))
    assert copy([4.0]) == 8.0


def test_tapes_and_graphs_travel_to_worker_processes():
    tape = ferrograd.compile(quadratic, 2)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        value, grad = pool.submit(tape.grad, [1.5, 0.5]).result(timeout=60)
        data = pool.submit(getattr, build(), "data").result(timeout=60)
    assert (value, grad.tolist()) == (tape.grad([1.5, 0.5])[0], tape.grad([1.5, 0.5])[1].tolist())
    assert data == build().data


def test_edited_bytes_with_a_slope_leaky_relu_refuses_are_refused():
    import struct

    good, bad = struct.pack("<d", 0.375), struct.pack("<d", -3.0)
    graph = pickle.dumps(Value(-2.0).leaky_relu(0.375))
    tape = pickle.dumps(ferrograd.compile(lambda x: x.leaky_relu(0.375), 1).unchecked())
    with pytest.raises(ValueError, match="bad leaky_relu slope"):
        pickle.loads(graph.replace(good, bad))
    with pytest.raises(ValueError, match="bad leaky_relu slope"):
        pickle.loads(tape.replace(good, bad))
