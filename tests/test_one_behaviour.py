"""Where the two engines could differ in what a user sees, they do not: float subclasses,
anomaly mode on unpickled and copied graphs, error messages character for character, weak
references."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import weakref
from typing import Any

import pytest
from conftest import ENGINES, Engine

import ferrograd
from ferrograd import reference


class F(float):
    """A float that reads as 42.0 through ``float()``."""

    def __float__(self) -> float:
        return 42.0


class IntSub(int):
    """An int that reads as 7.0 through ``float()``."""

    def __float__(self) -> float:
        return 7.0


def _outcome(f: Any) -> tuple[str, Any]:
    try:
        return ("ok", f())
    except Exception as err:  # noqa: BLE001 (the type and message are what is compared)
        return (type(err).__name__, str(err))


def both(f: Any) -> tuple[str, Any]:
    """``f(engine)`` on both engines: the same outcome, returned."""
    rust, ref = (_outcome(lambda e=e: f(e)) for e in ENGINES)
    assert rust == ref
    return rust


@pytest.mark.parametrize(
    "use",
    [
        lambda e, x: e.Value(x).data,
        lambda e, x: (e.Value(1.0) + x).data,
        lambda e, x: (x - e.Value(1.0)).data,
        lambda e, x: (e.Value(2.0) * x).data,
        lambda e, x: (x / e.Value(2.0)).data,
        lambda e, x: (e.Value(2.0) ** x).data,
        lambda e, x: e.sum([x, 1.0]).data,
        lambda e, x: e.sum(iter([x, 1.0])).data,
        lambda e, x: e.dot([x], [1.0]).data,
        lambda e, x: e.Value(-1.0).leaky_relu(x).data,
    ],
)
@pytest.mark.parametrize("number", [F(2.0), IntSub(3)], ids=["float subclass", "int subclass"])
def test_number_subclasses_read_through_float_in_both_engines(use: Any, number: Any) -> None:
    read = both(lambda e: use(e, number))
    assert read[0] == "ok"
    assert read == both(lambda e: use(e, float(number)))


def test_a_float_subclass_reads_as_42_everywhere() -> None:
    assert both(lambda e: e.Value(F(2.0)).data) == ("ok", 42.0)
    assert both(lambda e: e.sum([F(2.0), F(2.0)]).data) == ("ok", 84.0)

    def set_data(e: Engine) -> float:
        v = e.Value(0.0)
        v.data = F(2.0)
        v.grad = F(2.0)
        return v.data + v.grad

    assert both(set_data) == ("ok", 84.0)


def test_unpickling_and_deepcopy_of_a_non_finite_graph_under_anomaly_mode() -> None:
    for e in ENGINES:
        v = e.Value(0.0).log() * 2
        data = pickle.dumps(v)
        with ferrograd.detect_anomaly():
            assert math.isinf(pickle.loads(data).data)
            assert math.isinf(copy.deepcopy(v).data)
            with pytest.raises(FloatingPointError):
                _ = pickle.loads(data) + 1


def test_a_label_that_is_not_a_str_is_the_same_type_error() -> None:
    assert both(lambda e: e.Value(1.0, 5)) == ("TypeError", "Value.label must be a str, got int")
    assert both(lambda e: e.Value(1.0, label=b"x")) == (
        "TypeError",
        "Value.label must be a str, got bytes",
    )
    assert both(lambda e: e.Value(1.0, None).label) == ("ok", "")


@pytest.mark.parametrize("label", ["", "a", "it's", 'say "hi"', "x\ny", "é"])
@pytest.mark.parametrize(
    ("x", "build"),
    [
        (1e300, lambda v: v * 1e300),
        (1e-5, lambda v: v / 0.0),
        (0.0, lambda v: v.log()),
        (-1.0, lambda v: v.sqrt()),
        (1e16, lambda v: v * math.inf),
    ],
)
def test_anomaly_messages_are_the_same_character_for_character(
    label: str, x: float, build: Any
) -> None:
    def forward(e: Engine) -> Any:
        with ferrograd.detect_anomaly():
            return build(e.Value(x, label)).data

    kind, message = both(forward)
    assert kind == "FloatingPointError"
    assert repr(x) in message

    def backward(e: Engine) -> Any:
        a = e.Value(1e-300, label)
        z = a * 1e300
        z.label = label
        with ferrograd.detect_anomaly():
            (z * 1e300).backward()  # finite forward, a's grad 1e600 = inf

    kind, message = both(backward)
    assert kind == "FloatingPointError"
    assert (repr(label) in message) == bool(label)


def test_python_reprs_in_anomaly_messages() -> None:
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as err:
        ferrograd.Value(1e300, "big") * 1e300
    assert (
        str(err.value) == "op '*' produced inf in its forward pass from inputs (big=1e+300, 1e+300)"
    )
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as err:
        ferrograd.Value(-1e-5).sqrt()
    assert str(err.value) == "op 'sqrt' produced nan in its forward pass from inputs (-1e-05)"


def test_carries_a_derivative_names_the_module_and_class_in_both_engines() -> None:
    class Tensorish:
        def __float__(self) -> float:
            return 1.0

        def backward(self) -> None:
            pass

    kind, message = both(lambda e: e.Value(1.0) + Tensorish())
    assert kind == "TypeError"
    assert f"a {__name__}.{Tensorish.__qualname__} carries a derivative" in message
    assert both(lambda e: e.Value(1.0) + ferrograd.Dual(1.0, 1.0))[1].startswith(
        "a ferrograd.Dual carries"
    )
    assert (
        "a ferrograd.reference.Value carries"
        in _outcome(lambda: ferrograd.Value(1.0) + reference.Value(1.0))[1]
    )


@pytest.mark.parametrize("e", ENGINES, ids=[e.name for e in ENGINES])
def test_values_can_be_weakly_referenced(e: Engine) -> None:
    v = e.Value(1.0)
    ref = weakref.ref(v)
    assert ref() is v
    cache = weakref.WeakKeyDictionary({v: "x"})
    assert cache[v] == "x"
    del v
    gc.collect()
    assert ref() is None
    assert len(cache) == 0
