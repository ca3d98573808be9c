"""``ferrograd.custom_op``: one node on either engine from a forward of floats and its partials.

Gradients are checked against central differences and HIPS autograd on the same functions,
each engine against the other, forward mode against reverse; then every bad input.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import ferrograd
from ferrograd import reference
from ferrograd.testing import compare_engines, gradcheck
from tests.conftest import ENGINES, Engine, central_difference

# -- ops at module level, so they pickle by reference ----------------------------------------------


@ferrograd.custom_op
def smooth_abs(x: float) -> float:
    return math.sqrt(x * x + 1.0)


@smooth_abs.derivative
def smooth_abs(x: float) -> float:  # the op keeps its name; this sets its derivative
    return x / math.sqrt(x * x + 1.0)


@ferrograd.custom_op
def norm2(x: float, y: float) -> float:
    return math.hypot(x, y)


@norm2.derivative
def _norm2_partials(x: float, y: float) -> tuple[float, float]:
    r = math.hypot(x, y)
    return x / r, y / r


def _fma(x: float, y: float, z: float) -> float:
    return x * y + z


def _fma_partials(x: float, y: float, z: float) -> list[float]:
    return [y, x, 1.0]


fma = ferrograd.custom_op(_fma, _fma_partials, name="fma")


def _program(x: Any, y: Any) -> Any:
    """Every custom op above, mixed with built-in ops and constants."""
    h = norm2(x * 2.0, y) + smooth_abs(x * y)
    return fma(h, x.tanh(), 0.5) * smooth_abs(-y) + norm2(3.0, x)


def _oracle(t: Any) -> Any:
    x, y = t[0], t[1]
    sp = lambda u: anp.sqrt(u * u + 1.0)
    h = anp.sqrt((x * 2.0) ** 2 + y**2) + sp(x * y)
    return (h * anp.tanh(x) + 0.5) * sp(-y) + anp.sqrt(9.0 + x**2)


@pytest.mark.parametrize("at", [(0.7, -1.3), (-2.0, 0.4), (1.5, 2.5)])
def test_gradients_against_autograd_and_finite_differences(engine: Engine, at: tuple) -> None:
    x, y = engine.Value(at[0]), engine.Value(at[1])
    z = _program(x, y)
    z.backward()
    assert z.data == pytest.approx(float(_oracle(np.array(at))), rel=1e-14)
    want = autograd.grad(_oracle)(np.array(at))
    assert [x.grad, y.grad] == pytest.approx(want.tolist(), rel=1e-12)
    fd = central_difference(lambda t: _program(engine.Value(t), engine.Value(at[1])).data, at[0])
    assert x.grad == pytest.approx(fd, rel=1e-7)


def test_both_engines_agree_node_for_node() -> None:
    report = compare_engines(_program, [0.7, -1.3])
    assert report.agree and report.max_rel_diff == 0.0
    text = repr(report)
    for name in ("norm2", "smooth_abs", "fma"):
        assert name in text


def test_one_node_named_by_the_op(engine: Engine) -> None:
    x, y = engine.Value(3.0, "x"), engine.Value(4.0, "y")
    z = norm2(x, y)
    assert (z.op, z.children, z.data) == ("norm2", (x, y), 5.0)
    assert repr(z) == "Value(data=5.0, grad=0.0)"
    assert repr(norm2) == "<ferrograd.custom_op 'norm2'>" and norm2.__doc__ is None
    w = fma(x, 2, y)  # numbers stand as constant leaves, as for built-in ops
    assert [c.op for c in w.children] == ["", "", ""] and w.children[1].data == 2.0
    dot = ferrograd.viz.to_dot(w * z)
    assert "norm2" in dot and "fma" in dot


def test_gradcheck_passes_and_catches_a_wrong_derivative(engine: Engine) -> None:
    assert gradcheck(lambda a, b: _program(a, b), [0.3, 0.9], engine=engine.name).passed
    wrong = ferrograd.custom_op(math.sin, lambda x: math.cos(x) * 1.01, name="sloppy_sin")
    report = gradcheck(lambda a: wrong(a), [0.4], engine=engine.name)
    assert not report.passed


def test_forward_mode_matches_reverse_mode() -> None:
    f = lambda x: _program(x[0], x[1])
    for engine in ("rust", "reference"):
        rev = ferrograd.jacobian(f, engine=engine)(np.array([0.7, -1.3]))
        fwd = ferrograd.jacfwd(f, engine=engine)(np.array([0.7, -1.3]))
        assert fwd == pytest.approx(rev, rel=1e-13)
    value, tangent = ferrograd.jvp(lambda a, b: norm2(a, b), [3.0, 4.0], [1.0, 2.0])
    assert (value, tangent) == (5.0, pytest.approx(0.6 + 0.8 * 2.0, rel=1e-15))


def test_a_zero_tangent_stays_zero_through_an_infinite_partial() -> None:
    root = ferrograd.custom_op(
        math.sqrt, lambda x: 0.5 / math.sqrt(x) if x else math.inf, name="root"
    )
    for dual in (ferrograd.Dual, reference.Dual):
        both = norm2(dual(0.0, 0.0), dual(2.0, 1.0))
        assert (both.data, both.tangent) == (2.0, 1.0)
        still = root(dual(0.0, 0.0))
        assert (still.data, still.tangent) == (0.0, 0.0)
        assert math.isinf(root(dual(0.0, 1.0)).tangent)


def test_plain_numbers_give_the_forward_float() -> None:
    assert norm2(3, 4) == 5.0 and isinstance(norm2(3.0, 4.0), float)
    assert fma(np.float64(2.0), 3, True) == 7.0


def test_under_no_grad_a_leaf_and_no_derivative_call(engine: Engine) -> None:
    calls = []
    op = ferrograd.custom_op(math.exp, lambda x: calls.append(x) or math.exp(x), name="counted")
    with ferrograd.no_grad():
        z = op(engine.Value(1.0))
    assert (z.op, z.children, z.data, calls) == ("", (), math.e, [])
    op(engine.Value(1.0))
    assert calls == [1.0]


# -- anomaly mode ---------------------------------------------------------------------------


def test_anomaly_mode_names_the_op_in_forward_and_backward() -> None:
    blowup = ferrograd.custom_op(lambda x: math.inf if x > 1 else x, lambda x: 1.0, name="blowup")
    steep = ferrograd.custom_op(lambda x: x, lambda x: math.inf, name="steep")
    forward, backward = [], []
    for e in ENGINES:
        blowup(e.Value(2.0, "x"))  # off: IEEE numbers, no error
        with ferrograd.detect_anomaly():
            with pytest.raises(FloatingPointError) as caught:
                blowup(e.Value(2.0, "x"))
            forward.append(str(caught.value))
            y = steep(e.Value(1.0, "x")) * 1.0
            with pytest.raises(FloatingPointError) as caught:
                y.backward()
            backward.append(str(caught.value))
    assert (
        forward[0]
        == forward[1]
        == "op 'blowup' produced inf in its forward pass from inputs (x=2.0)"
    )
    assert backward[0] == backward[1]
    assert backward[0].startswith("op 'steep' produced a non-finite gradient")


# -- pickling -------------------------------------------------------------------------------


def test_the_op_pickles_by_reference() -> None:
    for op in (smooth_abs, norm2):
        assert pickle.loads(pickle.dumps(op)) is op
    again = pickle.loads(pickle.dumps(fma))  # by its functions: a new op that is the same op
    assert again.name == "fma" and again.forward is _fma and again(1.0, 2.0, 3.0) == 5.0


def test_a_graph_with_custom_nodes_pickles_on_both_engines(engine: Engine) -> None:
    x, y = engine.Value(0.7, "x"), engine.Value(-1.3, "y")
    z = _program(x, y)
    z.backward()
    w = pickle.loads(pickle.dumps(z))
    assert (w.data, w.grad) == (z.data, z.grad)
    leaves: dict[str, Any] = {}
    stack = [w]
    while stack:
        v = stack.pop()
        if v.label:
            leaves[v.label] = v
        stack.extend(v.children)
    for v in leaves.values():
        v.grad = 0.0
    w.backward()
    assert (leaves["x"].grad, leaves["y"].grad) == (x.grad, y.grad)


def test_a_lambda_op_is_a_clear_error_at_pickling(engine: Engine) -> None:
    op = ferrograd.custom_op(lambda x: x * 2.0, lambda x: 2.0, name="twice")
    with pytest.raises(pickle.PicklingError, match="custom op 'twice'.*<lambda>'.*top level"):
        pickle.dumps(op)
    with pytest.raises(pickle.PicklingError, match="custom op 'twice'"):
        pickle.dumps(op(engine.Value(1.0)) + 1)

    def local(x: float) -> float:
        return x

    inner = ferrograd.custom_op(local, lambda x: 1.0)
    with pytest.raises(pickle.PicklingError, match="forward '.*local'"):
        pickle.dumps(inner)


def test_bytes_without_their_custom_ops_are_refused() -> None:
    z = norm2(ferrograd.Value(3.0), ferrograd.Value(4.0))
    rebuild, args = z.__reduce__()
    with pytest.raises(ValueError, match="custom op's node without its op"):
        rebuild(args[0])
    with pytest.raises(ValueError, match="partials do not match"):
        rebuild(args[0], [(norm2, (1.0,))])
    with pytest.raises(ValueError, match="more custom ops"):
        rebuild(args[0], [*args[1], *args[1]])


# -- what a custom op cannot do ------------------------------------------------------------------


def test_compile_refuses_it_naming_the_op() -> None:
    with pytest.raises(TypeError, match="custom op 'norm2' cannot be compiled into a tape"):
        ferrograd.compile(lambda a, b: norm2(a, b).exp(), 2)


def test_hessian_refuses_it_on_both_engines() -> None:
    for engine in ("rust", "reference"):
        with pytest.raises(TypeError, match="norm2"):
            ferrograd.hessian(lambda v: norm2(v[0], v[1]), engine=engine)(np.array([3.0, 4.0]))


# -- bad input ------------------------------------------------------------------------------


def test_a_forward_that_raises_propagates(engine: Engine) -> None:
    class Boom(Exception):
        pass

    def forward(x: float) -> float:
        raise Boom("from the forward")

    op = ferrograd.custom_op(forward, lambda x: 1.0, name="boom")
    with pytest.raises(Boom, match="from the forward"):
        op(engine.Value(1.0))
    bad_derivative = ferrograd.custom_op(math.exp, lambda x: 1.0 / 0.0, name="bad")
    with pytest.raises(ZeroDivisionError):
        bad_derivative(engine.Value(1.0))


@pytest.mark.parametrize(
    "derivative, error, message",
    [
        (
            lambda x, y: (1.0,),
            ValueError,
            "takes 2 operands, so its derivative must give 2 partials, got 1",
        ),
        (lambda x, y: [1.0, 2.0, 3.0], ValueError, "must give 2 partials, got 3"),
        (lambda x, y: 1.0, TypeError, "its derivative returned float, not a sequence of 2"),
        (lambda x, y: "ab", TypeError, "its derivative returned str"),
        (lambda x, y: (1.0, "b"), TypeError, "partial 1 from its derivative is str"),
        (lambda x, y: (None, 1.0), TypeError, "partial 0 from its derivative is NoneType"),
        (lambda x, y: (1.0, 1j), TypeError, "partial 1 from its derivative is complex"),
    ],
)
def test_a_bad_derivative_names_the_op(
    engine: Engine, derivative: Any, error: type, message: str
) -> None:
    op = ferrograd.custom_op(lambda x, y: x + y, derivative, name="plus")
    for args in ((engine.Value(1.0), engine.Value(2.0)), (ferrograd.Dual(1.0, 1.0), 2.0)):
        with pytest.raises(error, match=f"custom op 'plus'.*{message}".replace("(", r"\(")):
            op(*args)


def test_a_derivative_of_one_partial_may_be_a_number_or_a_sequence(engine: Engine) -> None:
    for derivative in (lambda x: 3.0, lambda x: (3.0,), lambda x: np.array([3.0])):
        op = ferrograd.custom_op(lambda x: 3.0 * x, derivative, name="triple")
        x = engine.Value(2.0)
        op(x).backward()
        assert x.grad == 3.0


@pytest.mark.parametrize("out", ["6", None, [6.0], 6j, ferrograd.Value(6.0)])
def test_a_forward_must_return_a_real_number(engine: Engine, out: object) -> None:
    op = ferrograd.custom_op(lambda x: out, lambda x: 1.0, name="odd")
    with pytest.raises(TypeError, match="custom op 'odd': its forward returned"):
        op(engine.Value(1.0))


def test_bad_calls_and_definitions() -> None:
    with pytest.raises(TypeError, match="custom op 'norm2' takes 2 arguments, got 3"):
        norm2(ferrograd.Value(1.0), 2.0, 3.0)
    with pytest.raises(TypeError, match="needs at least one argument"):
        ferrograd.custom_op(lambda *xs: 0.0, lambda *xs: (), name="nothing")()
    with pytest.raises(TypeError, match="from one engine"):
        norm2(ferrograd.Value(1.0), reference.Value(2.0))
    with pytest.raises(TypeError, match="from one engine"):
        norm2(ferrograd.Value(1.0), ferrograd.Dual(2.0))
    with pytest.raises(TypeError, match="got str for argument 1"):
        norm2(ferrograd.Value(1.0), "2")
    with pytest.raises(TypeError, match="has no derivative: give one with @bare.derivative"):
        ferrograd.custom_op(math.exp, name="bare")(ferrograd.Value(1.0))
    with pytest.raises(ValueError, match="'tanh' is a built-in op's"):
        ferrograd.custom_op(math.tanh, lambda x: 1.0)
    with pytest.raises(TypeError, match="non-empty str name"):
        ferrograd.custom_op(math.exp, lambda x: 1.0, name="")
    with pytest.raises(TypeError, match="callable forward"):
        ferrograd.custom_op(3.0)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callable derivative"):
        ferrograd.custom_op(math.exp, 3.0, name="e")  # type: ignore[arg-type]
    named = ferrograd.custom_op(name="renamed")(lambda x: x)
    assert named.name == "renamed"
