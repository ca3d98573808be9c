"""Reference-engine graphs survive pickle round trips, like the Rust engine's."""

from __future__ import annotations

import pickle

from ferrograd import reference as R


def _graph():
    a = R.Value(2.0, "a")
    b = a * 3
    c = b.tanh() + a.leaky_relu(0.2) + R.dot([a, b], [b, a]) + R.sum([a, 2.0]) ** a
    return a, c


def test_reference_graph_round_trips_with_data_grads_labels_and_ops():
    _, c = _graph()
    c.backward()
    copy = pickle.loads(pickle.dumps(c))
    before, after = c._topo_order(), copy._topo_order()
    assert [(v.op, v.data, v.grad, v.label) for v in before] == [
        (v.op, v.data, v.grad, v.label) for v in after
    ]


def test_unpickled_reference_graph_is_live():
    a, c = _graph()
    c.backward()
    copy = pickle.loads(pickle.dumps(c))
    copy.backward()
    a2 = next(v for v in copy._topo_order() if v.label == "a")
    assert a2.grad == 2 * a.grad != 0.0
    # Sharing survives: `a` is one node in the copy, reached along several paths.
    assert sum(1 for v in copy._topo_order() if v.label == "a") == 1
