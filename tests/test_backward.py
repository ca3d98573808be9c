"""``backward()``: one reverse sweep that adds fresh adjoints to ``.grad``, touches only the
root's ancestors, counts every path (fan-out, diamonds) in time linear in the nodes."""

from __future__ import annotations

import math

import pytest
from conftest import Engine


def test_backward_seeds_the_root_with_one(engine: Engine) -> None:
    x = engine.Value(3.0)
    y = x * x
    y.backward()
    assert y.grad == 1.0
    assert x.grad == 6.0


def test_backward_of_a_leaf_gives_it_gradient_one(engine: Engine) -> None:
    x = engine.Value(3.0)
    x.backward()
    assert x.grad == 1.0
    x.backward()
    assert x.grad == 2.0


@pytest.mark.parametrize("k", [2, 3, 7])
def test_repeated_backward_accumulates_k_times_the_gradient(engine: Engine, k: int) -> None:
    x = engine.Value(0.7)
    y = x * x
    z = (y + x).tanh()
    z.backward()
    gx, gy, gz = x.grad, y.grad, z.grad
    for _ in range(k - 1):
        z.backward()
    # Leaves, intermediates and the root alike; exact, since each sweep adds the same numbers
    # and k * g is reached by adding g k times only up to rounding: compare with a tolerance
    # of a few ulps.
    assert x.grad == pytest.approx(k * gx, rel=4e-16 * k)
    assert y.grad == pytest.approx(k * gy, rel=4e-16 * k)
    assert z.grad == k * gz == float(k)


def test_grads_left_from_earlier_sweeps_never_feed_into_the_next(engine: Engine) -> None:
    x = engine.Value(0.5)
    y = x.exp()
    z = y * y
    z.grad = 1000.0
    y.grad = -77.0
    x.grad = 5.0
    z.backward()
    # Fresh adjoints: dz/dy = 2y, dz/dx = 2y · y; each added to what was there.
    assert z.grad == 1001.0
    assert y.grad == -77.0 + 2 * y.data
    assert x.grad == 5.0 + 2 * y.data * y.data


def test_zeroing_grads_by_hand_restarts_accumulation(engine: Engine) -> None:
    x = engine.Value(2.0)
    z = x**3
    z.backward()
    z.backward()
    assert x.grad == 24.0
    x.grad = 0
    assert type(x.grad) is float
    z.backward()
    assert x.grad == 12.0


def test_backward_touches_only_ancestors_of_the_root(engine: Engine) -> None:
    x = engine.Value(1.5)
    w = engine.Value(4.0)
    y = x * 2.0
    downstream = y * w  # uses y but is not an ancestor of y
    sibling = w + 1.0
    for v, g in ((w, 11.0), (downstream, 12.0), (sibling, 13.0)):
        v.grad = g
    y.backward()
    assert x.grad == 2.0
    assert (w.grad, downstream.grad, sibling.grad) == (11.0, 12.0, 13.0)


def test_backward_from_an_intermediate_node_reaches_only_its_subgraph(engine: Engine) -> None:
    a, b = engine.Value(2.0), engine.Value(-3.0)
    c = a * b
    d = c + b
    c.backward()
    assert (a.grad, b.grad, c.grad, d.grad) == (-3.0, 2.0, 1.0, 0.0)
    d.backward()
    # d = a·b + b: da = b, db = a + 1; c's grad gets dd/dc = 1 more.
    assert (a.grad, b.grad, c.grad, d.grad) == (-6.0, 5.0, 2.0, 1.0)


def test_fan_out_sums_the_gradient_over_every_use(engine: Engine) -> None:
    x = engine.Value(0.3)
    uses = [x * float(i) for i in range(1, 51)]
    total = engine.sum(uses)
    total.backward()
    assert x.grad == sum(range(1, 51))
    assert all(u.grad == 1.0 for u in uses)


def test_the_same_operand_twice_counts_twice(engine: Engine) -> None:
    a = engine.Value(3.0)
    for z, expected in [(a * a, 6.0), (a + a, 2.0), (a - a, 0.0), (a / a, 0.0), (a**a, None)]:
        a.grad = 0.0
        z.backward()
        if expected is None:  # d/da a**a = a**a (ln a + 1)
            expected = 27.0 * (math.log(3.0) + 1.0)
            assert a.grad == pytest.approx(expected, rel=1e-15)
        else:
            assert a.grad == expected


def test_diamond_gets_both_paths(engine: Engine) -> None:
    #     x
    #   /   \
    #  sin  exp
    #   \   /
    #    mul
    x = engine.Value(0.4)
    z = x.sin() * x.exp()
    z.backward()
    expected = math.cos(0.4) * math.exp(0.4) + math.sin(0.4) * math.exp(0.4)
    assert x.grad == pytest.approx(expected, rel=1e-15)


def test_two_to_the_hundred_paths_are_counted_exactly(engine: Engine) -> None:
    # 100 levels of y = y + y: 201 nodes, 2**100 paths from the root to x.
    x = engine.Value(1.0)
    y = x
    for _ in range(100):
        y = y + y
    y.backward()
    assert y.data == 2.0**100
    assert x.grad == 2.0**100


def test_ten_thousand_stacked_diamonds_finish_in_linear_time(engine: Engine) -> None:
    # 2**10000 paths: only a sweep linear in the nodes can finish. Each level averages its two
    # copies, so the gradient stays exactly 1.
    x = engine.Value(0.25)
    y = x
    for _ in range(10_000):
        y = (y + y) * 0.5
    y.backward()
    assert y.data == 0.25
    assert x.grad == 1.0


def test_wide_graph_of_shared_subexpressions(engine: Engine) -> None:
    # Every node uses the two before it (Fibonacci-shaped): the gradient counts paths.
    x = engine.Value(1.0)
    prev, cur = x, x * 1.0
    for _ in range(60):
        prev, cur = cur, prev + cur
    cur.backward()
    # cur = F(62) · x with F the Fibonacci numbers (1, 1, 2, ...).
    fib = [1, 1]
    while len(fib) < 62:
        fib.append(fib[-1] + fib[-2])
    assert cur.data == float(fib[61])
    assert x.grad == float(fib[61])


def test_backward_follows_data_changed_by_hand(engine: Engine) -> None:
    # The sweep reads the operands' current data: changing a leaf after the forward pass is
    # seen by its users' backward (as in micrograd).
    x, y = engine.Value(2.0), engine.Value(5.0)
    z = x * y
    y.data = 7
    z.backward()
    assert x.grad == 7.0
    assert z.data == 10.0


def test_backward_returns_none(engine: Engine) -> None:
    assert engine.Value(1.0).backward() is None
