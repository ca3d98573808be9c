"""A Value is refused wherever a plain number is expected: the number would carry no gradient.

``float(v)``, ``int(v)``, ``bool(v)``, ``math.*(v)``, ``round(v)`` and ordering raise one
``TypeError`` whose text is the same in both engines; ``item()`` and ``format()`` read ``data``.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import ferrograd
from ferrograd import _engines, reference
from tests.conftest import ENGINES, UNARY_OPS, Engine, central_difference

REFUSED: list[tuple[str, Callable[[Any], object]]] = [
    ("float(v)", float),
    ("int(v)", int),
    ("bool(v)", bool),
    ("float(v)", math.exp),
    ("float(v)", math.sqrt),
    ("float(v)", math.floor),
    ("float(v)", math.isfinite),
    ("float(v)", complex),
    ("int(v)", operator.index),
    ("int(v)", lambda v: [1, 2, 3][v]),
    ("int(v)", range),
    ("round(v)", round),
    ("round(v)", lambda v: round(v, 2)),
    ("bool(v)", lambda v: 1 if v else 0),
    ("bool(v)", operator.not_),
    ("v < w", lambda v: v < 1.0),
    ("v <= w", lambda v: v <= v * 2),
    ("v > w", lambda v: v > "a"),
    ("v >= w", lambda v: v >= None),
    ("v > w", lambda v: 1.0 < v),  # the reflected operator is asked
    ("v > w", lambda v: max(v, v)),
    ("v < w", lambda v: sorted([v, v])),
    ("float(v)", np.float64),
    ("float(v)", lambda v: np.array([v], dtype=float)),
    ("float(v)", lambda v: np.array([v]).astype(float)),
    ("v < w", lambda v: np.sort(np.array([v, v * 2], dtype=object))),
]


def _message(engine: Engine, f: Callable[[Any], object]) -> str:
    with pytest.raises(TypeError) as caught:
        f(engine.Value(2.0))
    return str(caught.value)


@pytest.mark.parametrize("what, f", REFUSED, ids=[f"{i}-{w}" for i, (w, _) in enumerate(REFUSED)])
def test_refused_with_one_message_in_both_engines(what: str, f: Callable[[Any], object]) -> None:
    rust, ref = (_message(e, f) for e in ENGINES)
    assert rust == ref
    assert rust.startswith(f"{what}: ")
    # Why, and what to use instead.
    for words in ("carries no gradient", "v.data", "v.item()", "ferrograd.exp(v)", "v.data < 0"):
        assert words in rust, (words, rust)


def test_the_silent_cut_it_prevents(engine: Engine) -> None:
    # x * exp(x): with math.exp the derivative would lose the exp(x) * x term.
    for at in (-1.3, 0.5, 1.0, 2.5):  # not 0, where x e^x and e^x have the same slope
        x = engine.Value(at)
        y = x * ferrograd.exp(x)
        y.backward()
        oracle = autograd.grad(lambda t: t * anp.exp(t))(at)
        assert x.grad == pytest.approx(oracle, rel=1e-15)
        assert x.grad == pytest.approx(central_difference(lambda t: t * math.exp(t), at), rel=1e-8)
        assert x.grad != pytest.approx(math.exp(at), rel=1e-3)  # what the cut would give


@pytest.mark.parametrize("data", [2.5, -0.0, 1e300, math.inf, math.nan, 1 / 3])
def test_item_and_format_read_data(engine: Engine, data: float) -> None:
    v = engine.Value(data, "v")
    v.grad = 7.0
    assert v.item() is not None and repr(v.item()) == repr(data)
    for spec in (".4f", "e", "+.3g", ">12.2f", "%", ".0f"):
        assert format(v, spec) == format(data, spec)
        assert f"{v:{spec}}" == format(data, spec)
    assert format(v, "") == str(v) == repr(v) == f"{v}"
    with pytest.raises(ValueError):
        format(v, "d")  # float's own error for a spec floats do not take


def test_format_spec_must_be_a_str(engine: Engine) -> None:
    with pytest.raises(TypeError):
        engine.Value(1.0).__format__(3)  # type: ignore[arg-type]


def test_equality_and_hash_stay_identity(engine: Engine) -> None:
    a, b = engine.Value(1.0), engine.Value(1.0)
    assert operator.eq(a, a) and a != b and (a == b) is False
    assert hash(a) == hash(a)
    assert {a: 1, b: 2}[a] == 1
    assert (a == 1.0) is False and (a != 1.0) is True
    (c,) = (a * 1.0).children[:1]
    assert c == a and hash(c) == hash(a)


def test_object_arrays_of_values_still_compute(engine: Engine) -> None:
    xs = np.array([engine.Value(1.0), engine.Value(2.0)], dtype=object)
    y = (xs * xs).sum()
    y.backward()
    assert [x.grad for x in xs] == [2.0, 4.0]
    assert np.array([x.data for x in xs], dtype=float).tolist() == [1.0, 2.0]


def test_func_transforms_still_work() -> None:
    for engine in _engines.NAMES:
        g = ferrograd.grad(lambda x: x * ferrograd.exp(x), engine=engine)
        assert g(1.0) == pytest.approx(2 * math.e, rel=1e-15)
        jac = ferrograd.jacobian(lambda x: [x[0] * x[1], x[0].sin()], engine=engine)
        assert np.allclose(jac(np.array([1.0, 2.0])), [[2.0, 1.0], [math.cos(1.0), 0.0]])


def test_loss_value_in_an_fstring_and_a_branch() -> None:
    model = ferrograd.nn.MLP(2, [4, 1], seed=0)
    loss = ferrograd.nn.mse_loss([model([1.0, -1.0])], [0.5])
    assert f"{loss:.4f}" == f"{loss.data:.4f}"
    if loss.data > 0:  # the spelling the message asks for
        loss.backward()


# -- ferrograd.exp(v) and the other unary ops as functions -------------------------------------

FUNCTIONS = [row for row in UNARY_OPS if row.param is None and row.method[:1] not in ("", "_")]


@pytest.mark.parametrize("row", FUNCTIONS, ids=[r.name for r in FUNCTIONS])
def test_every_plain_unary_op_is_a_function(row: Any) -> None:
    f = getattr(ferrograd, row.method)
    assert row.method in ferrograd.__all__
    for kind in (ferrograd.Value, reference.Value, ferrograd.Dual, reference.Dual):
        x = kind(0.5)
        y, want = f(x), getattr(kind(0.5), row.method)()
        assert type(y) is kind and repr(y.data) == repr(want.data)
        if isinstance(y, (ferrograd.Value, reference.Value)):
            assert y.op == row.name and y.children[0] is not None
    # A plain number gives a float, the op's value by the same formula (torch.sin and jnp.sin
    # take numbers too); anything else is a TypeError naming the function.
    for number in (0.5, 1, True, np.float64(0.5), np.int32(2), np.bool_(True), -np.inf):
        y = f(number)
        want = getattr(ferrograd.Value(float(number)), row.method)().data
        assert type(y) is float and repr(y) == repr(want), number
    for bad in ("0.5", b"1", 1j, None, [0.5]):
        with pytest.raises(
            TypeError,
            match=rf"ferrograd.{row.method}\(\) needs a Value, a Dual or a real number, got",
        ):
            f(bad)


def test_gelu_as_a_function_takes_approximate() -> None:
    for kind in (ferrograd.Value, reference.Value, ferrograd.Dual, reference.Dual):
        y = ferrograd.gelu(kind(0.5), approximate="tanh")
        assert repr(y.data) == repr(kind(0.5).gelu(approximate="tanh").data)
    assert ferrograd.gelu(0.5, "tanh") == reference.Value(0.5).gelu("tanh").data
    assert ferrograd.gelu(-1e300) == 0.0 and ferrograd.log1p(-1) == -math.inf
    with pytest.raises(ValueError, match="'erf'"):
        ferrograd.gelu(0.5, approximate="erf")


# -- Dual: the same rule for the tangent --------------------------------------------------------

DUALS = [ferrograd.Dual, reference.Dual]


def _dual_what(what: str) -> str:
    return what.replace("(v)", "(d)").replace("v ", "d ").replace(" w", " e")


def _dual_message(kind: Any, f: Callable[[Any], object]) -> str:
    with pytest.raises(TypeError) as caught:
        f(kind(2.0, 1.0))
    return str(caught.value)


@pytest.mark.parametrize("what, f", REFUSED, ids=[f"{i}-{w}" for i, (w, _) in enumerate(REFUSED)])
def test_a_dual_is_refused_with_one_message_in_both_engines(
    what: str, f: Callable[[Any], object]
) -> None:
    rust, ref = (_dual_message(kind, f) for kind in DUALS)
    assert rust == ref
    assert rust.startswith(f"{_dual_what(what)}: the Dual ")
    for words in ("carries no tangent", "d.data", "d.item()", "ferrograd.exp(d)", "d.data < 0"):
        assert words in rust, (words, rust)


def test_the_silent_cut_it_prevents_in_forward_mode() -> None:
    # jvp of x * exp(x): math.exp on the Dual would drop the exp(x) * x term of the tangent.
    for kind in DUALS:
        for at in (-1.3, 0.5, 2.5):
            y = kind(at, 1.0) * ferrograd.exp(kind(at, 1.0))
            assert y.tangent == pytest.approx(autograd.grad(lambda t: t * anp.exp(t))(at), 1e-15)
            with pytest.raises(TypeError, match="carries no tangent"):
                kind(at, 1.0) * math.exp(kind(at, 1.0))  # type: ignore[arg-type]
        out = ferrograd.jvp(lambda x: x * ferrograd.exp(x), [1.0], [1.0])
        assert out[1] == pytest.approx(2 * math.e, rel=1e-15)


@pytest.mark.parametrize("kind", DUALS, ids=["rust", "reference"])
def test_dual_item_format_equality_and_hash(kind: Any) -> None:
    d = kind(2.5, -1.0)
    assert repr(d.item()) == "2.5"
    for spec in (".4f", "e", "+.3g"):
        assert format(d, spec) == f"{d:{spec}}" == format(2.5, spec)
    assert format(d, "") == repr(d)
    e = kind(2.5, -1.0)
    assert operator.eq(d, d) and d != e and (d == 2.5) is False and (d != 2.5) is True
    assert {d: 1, e: 2}[d] == 1 and hash(d) == hash(d)


def test_log_with_a_base_and_leaky_relu_as_functions() -> None:
    # ferrograd.log(x, base) is x.log(base) on every kind, and ln(x) / ln(base) on numbers;
    # ferrograd.leaky_relu(x, slope) is x.leaky_relu(slope).
    for kind in (ferrograd.Value, reference.Value):
        x = kind(8.0)
        z = ferrograd.log(x, 2.0)
        z.backward()
        assert z.data == kind(8.0).log(2.0).data and x.grad == pytest.approx(1 / (8 * math.log(2)))
        b = kind(2.0)
        ferrograd.log(8.0, b).backward()
        assert b.grad == pytest.approx(-math.log(8.0) / (2.0 * math.log(2.0) ** 2))
        assert ferrograd.leaky_relu(kind(-2.0), 0.5).data == -1.0
    d = ferrograd.log(ferrograd.Dual(8.0, 1.0), 2)
    assert d.tangent == pytest.approx(1 / (8 * math.log(2)))
    assert ferrograd.log(8.0, 2) == ferrograd.Value(8.0).log(2).data
    assert math.isnan(ferrograd.log(-1.0, 2.0)) and ferrograd.log(0.0, 2.0) == -math.inf
    assert ferrograd.leaky_relu(-2.0) == -0.02 and ferrograd.leaky_relu(3.0, 0.5) == 3.0
    with pytest.raises(TypeError, match=r"ferrograd.log\(\) needs Values, Duals or real numbers"):
        ferrograd.log(8.0, "2")
    with pytest.raises(
        TypeError, match=r"ferrograd.leaky_relu\(\) needs a Value, a Dual or a real"
    ):
        ferrograd.leaky_relu("x")
