"""``ferrograd.no_grad()`` and ``Value.detach()`` on both engines.

Under ``no_grad`` every op returns a leaf holding the value it would have computed; the setting
is per thread, nests, and comes back after an exception. ``detach()`` gives a leaf with the same
data, and a gradient stops there: checked against central differences of the function with the
detached value held constant, and across the engines.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import autograd
import autograd.numpy as anp
import pytest

import ferrograd
from ferrograd import reference
from tests.conftest import ENGINES, UNARY_OPS, Engine, apply_unary, central_difference


def _program(e: Engine, x: Any, y: Any) -> Any:
    """Every kind of node: binary ops, each unary op, a number on either side, sum and dot."""
    z = (x * y + 2.0) / (1.5 - y) - x**2 + 2.0**y
    for row in UNARY_OPS:
        z = z + apply_unary(row, x * 0.25)
    return e.sum([z, x, 3.0]) + e.dot([x, y], [y, 0.5])


def test_ops_give_leaves_with_the_same_values(engine: Engine) -> None:
    x, y = engine.Value(0.7, "x"), engine.Value(-0.4, "y")
    recorded = _program(engine, x, y)
    with ferrograd.no_grad():
        plain = _program(engine, x, y)
        assert not ferrograd.is_grad_enabled()
    assert ferrograd.is_grad_enabled()
    assert repr(plain.data) == repr(recorded.data)
    assert (plain.op, plain.children, plain.label, plain.grad) == ("", (), "", 0.0)
    assert recorded.op != "" and recorded.children
    plain.backward()  # a leaf: the sweep touches nothing else
    assert (plain.grad, x.grad, y.grad) == (1.0, 0.0, 0.0)


def test_every_op_is_a_leaf_under_no_grad(engine: Engine) -> None:
    x = engine.Value(0.3)
    with ferrograd.no_grad():
        results = [apply_unary(row, x) for row in UNARY_OPS]
        results += [x + 1, 1 - x, x * x, x / 2, x**x, 2**x, -x, abs(x), x.leaky_relu(0.5)]
        results += [engine.sum([x, x]), engine.sum([]), engine.dot([x], [x])]
    for z in results:
        assert (z.op, z.children) == ("", ()), z


def test_what_only_the_graph_kept_is_freed() -> None:
    # A reference-engine node is a Python object: that it is gone shows the graph was dropped.
    import weakref

    x = reference.Value(1.0)
    with ferrograd.no_grad():
        a = x * 2.0
        seen = weakref.ref(a)
        b = a.exp()
    del a
    assert seen() is None and b.data == math.exp(2.0)


def test_a_dense_layer_of_the_rust_engine_is_leaves() -> None:
    model = ferrograd.nn.MLP(3, [4, 4, 2], seed=1)
    with ferrograd.no_grad():
        outs = model([0.1, -0.2, 0.3])
    recorded = model([0.1, -0.2, 0.3])
    assert [o.data for o in outs] == [o.data for o in recorded]
    assert all(o.op == "" and o.children == () for o in outs)


def test_blocks_nest_and_enable_grad_records_inside() -> None:
    for e in ENGINES:
        x = e.Value(2.0)
        with ferrograd.no_grad():
            with ferrograd.no_grad():
                assert (x * x).op == ""
            assert (x * x).op == ""
            with ferrograd.enable_grad():
                assert (x * x).op == "*" and ferrograd.is_grad_enabled()
                with ferrograd.no_grad(True):
                    assert (x * x).op == ""
                assert (x * x).op == "*"
            with ferrograd.no_grad(False):
                assert (x * x).op == "*"
            assert (x * x).op == ""
        assert (x * x).op == "*"


def test_the_setting_comes_back_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), ferrograd.no_grad():
        raise ZeroDivisionError
    assert ferrograd.is_grad_enabled()
    for e in ENGINES:
        assert (e.Value(1.0) * 2).op == "*"
    with ferrograd.no_grad():
        with pytest.raises(KeyError), ferrograd.enable_grad():
            raise KeyError
        assert not ferrograd.is_grad_enabled()
        assert (ferrograd.Value(1.0) * 2).op == ""


def test_usable_as_a_decorator() -> None:
    @ferrograd.no_grad()
    def evaluate(v: Any) -> Any:
        return v.tanh() * 3

    for e in ENGINES:
        assert evaluate(e.Value(0.5)).op == ""
        assert (e.Value(0.5).tanh()).op == "tanh"


def test_the_setting_is_per_thread() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def holder() -> None:
        with ferrograd.no_grad():
            entered.set()
            release.wait(10)
            seen["holder"] = [(e.Value(1.0) * 2).op for e in ENGINES]

    def other() -> None:
        seen["other"] = [(e.Value(1.0) * 2).op for e in ENGINES], ferrograd.is_grad_enabled()

    t = threading.Thread(target=holder)
    t.start()
    entered.wait(10)
    u = threading.Thread(target=other)
    u.start()
    u.join()
    assert [(e.Value(1.0) * 2).op for e in ENGINES] == ["*", "*"]  # this thread too
    release.set()
    t.join()
    assert seen == {"holder": ["", ""], "other": (["*", "*"], True)}
    # And the other way round: this thread's block leaves a new thread recording.
    with ferrograd.no_grad():
        u = threading.Thread(target=other)
        u.start()
        u.join()
    assert seen["other"] == (["*", "*"], True)


def test_a_thread_that_ends_inside_a_block_leaves_others_recording() -> None:
    def leave_it_on() -> None:
        ferrograd.no_grad().__enter__()  # never exited

    t = threading.Thread(target=leave_it_on)
    t.start()
    t.join()
    assert [(e.Value(1.0) * 2).op for e in ENGINES] == ["*", "*"]


def test_not_a_bool_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="no_grad\\(\\) takes a bool, got int"):
        ferrograd.no_grad(1).__enter__()  # type: ignore[arg-type]


def test_anomaly_mode_still_checks_and_names_the_operands() -> None:
    messages = []
    for e in ENGINES:
        with ferrograd.detect_anomaly(), ferrograd.no_grad():
            try:
                e.Value(0.0, "x").log()
            except FloatingPointError as caught:
                messages.append(str(caught))
    want = "op 'log' produced -inf in its forward pass from inputs (x=0.0)"
    assert messages == [want, want]


def test_transforms_and_compile_record_their_own_graph() -> None:
    # As torch.func.grad ignores an outer torch.no_grad: the transform's graph is its own.
    f = lambda x: x * ferrograd.exp(x)
    want = autograd.grad(lambda t: t * anp.exp(t))(0.5)
    with ferrograd.no_grad():
        for engine in ("rust", "reference"):
            assert ferrograd.grad(f, engine=engine)(0.5) == pytest.approx(want, rel=1e-15)
            h = ferrograd.hessian(f, engine=engine)(0.5)
            assert h == pytest.approx(autograd.hessian(lambda t: t * anp.exp(t))(0.5), rel=1e-14)
            _, vjp_fn = ferrograd.vjp(f, 0.5, engine=engine)
        assert vjp_fn(2.0)[0] == pytest.approx(2 * want, rel=1e-15)
        tape = ferrograd.compile(f, 1)
        assert tape.grad([0.5])[1][0] == pytest.approx(want, rel=1e-15)

        assert ferrograd.testing.gradcheck(f, [0.5]).passed
        assert ferrograd.testing.compare_engines(f, [0.5]).agree

    # A no_grad inside the function still cuts the graph there.
    def inner(x: Any) -> Any:
        with ferrograd.no_grad():
            c = ferrograd.exp(x)
        return x * c

    for engine in ("rust", "reference"):
        assert ferrograd.grad(inner, engine=engine)(0.5) == pytest.approx(math.exp(0.5), rel=1e-15)


# -- detach -------------------------------------------------------------------------------------


def test_detach_is_a_new_leaf_with_the_same_data(engine: Engine) -> None:
    for data in (2.5, -0.0, math.inf, math.nan):
        v = (engine.Value(data, "v") * 1.0).tanh()
        v.grad = 4.0
        d = v.detach()
        assert type(d) is type(v) and d is not v and d != v
        assert repr(d.data) == repr(v.data)
        assert (d.op, d.children, d.label, d.grad) == ("", (), "", 0.0)
        assert v.op == "tanh" and v.grad == 4.0  # the original is untouched
    leaf = engine.Value(1.0, "leaf")
    assert leaf.detach() is not leaf and leaf.detach().label == ""


@pytest.mark.parametrize("at", [-1.3, 0.4, 2.0])
def test_the_gradient_stops_at_a_detached_value(engine: Engine, at: float) -> None:
    # y = x * tanh(x)_detached + sin(x): dy/dx = c + cos(x), with c = tanh(x) held constant.
    x = engine.Value(at)
    c = x.tanh().detach()
    y = x * c + x.sin()
    y.backward()
    c0 = math.tanh(at)
    assert x.grad == pytest.approx(central_difference(lambda t: t * c0 + math.sin(t), at), rel=1e-8)
    assert x.grad != pytest.approx(
        central_difference(lambda t: t * math.tanh(t) + math.sin(t), at), rel=1e-3
    )
    assert c.grad == at  # the detached leaf gets its own adjoint, and passes none on


def test_detach_agrees_across_engines() -> None:
    grads = []
    for e in ENGINES:
        x, w = e.Value(0.8), e.Value(-1.7)
        h = (x * w).sigmoid()
        loss = (h.detach() - h) ** 2 + h.detach() * w.exp() + e.dot([x, w], [h.detach(), h])
        loss.backward()
        grads.append((loss.data, x.grad, w.grad))
    assert grads[0] == pytest.approx(grads[1], rel=1e-12)
