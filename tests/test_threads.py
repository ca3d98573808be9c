"""Values are ordinary Python objects: other threads may use, sweep and free them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import ferrograd
from ferrograd import reference


def _chain(x, depth: int = 300):
    y = x
    for _ in range(depth):
        y = (y * 0.9 + 0.1).tanh()
    return y


def test_value_made_on_one_thread_works_on_another():
    x = ferrograd.Value(0.5, "x")
    results: list[object] = []

    def work() -> None:
        try:
            y = _chain(x)
            y.backward()
            results.append(y.data)
        except BaseException as e:  # noqa: BLE001 - a Rust panic arrives as a BaseException
            results.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert len(results) == 1 and isinstance(results[0], float), results

    ref_x = reference.Value(0.5)
    ref_y = _chain(ref_x)
    ref_y.backward()
    assert results[0] == ref_y.data
    assert x.grad == ref_x.grad != 0.0


def test_concurrent_sweeps_over_one_shared_graph_add_up():
    # Every thread sweeps its own graph over one shared leaf; the sweeps' marks must never be
    # mistaken for each other, so the leaf collects exactly n times one sweep's gradient.
    x = ferrograd.Value(0.3)
    n = 8

    def work(_: int) -> float:
        y = _chain(x)
        y.backward()
        return y.data

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(work, range(n)))
    assert len(set(outs)) == 1

    one = ferrograd.Value(0.3)
    _chain(one).backward()
    assert x.grad == pytest.approx(n * one.grad, rel=1e-14)


def test_value_freed_on_another_thread():
    holder = [_chain(ferrograd.Value(1.0), depth=10_000)]
    t = threading.Thread(target=holder.clear)
    t.start()
    t.join()
    assert holder == []
