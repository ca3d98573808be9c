"""ferrograd.detect_anomaly: the first op making NaN or inf raises, naming op, inputs, labels."""

from __future__ import annotations

import math
import threading

import pytest

import ferrograd
from ferrograd import reference

ENGINES = [ferrograd, reference]


@pytest.mark.parametrize("engine", ENGINES)
def test_off_by_default_ieee_results(engine):
    assert engine.Value(0.0).log().data == -math.inf
    assert math.isnan((engine.Value(0.0) / engine.Value(0.0)).data)


@pytest.mark.parametrize("engine", ENGINES)
def test_log_of_zero_names_op_input_and_label(engine):
    x = engine.Value(0.0, "x")
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        x.log()
    message = str(info.value)
    assert "op 'log'" in message
    assert "-inf" in message
    assert "forward" in message
    assert "x=0.0" in message


@pytest.mark.parametrize("engine", ENGINES)
def test_zero_over_zero_names_both_operands(engine):
    a, b = engine.Value(0.0, "a"), engine.Value(0.0, "b")
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        a / b
    message = str(info.value).lower()
    assert "op '/'" in message and "nan" in message
    assert "a=0.0" in message and "b=0.0" in message


@pytest.mark.parametrize("engine", ENGINES)
def test_unlabelled_operands_are_shown_by_value(engine):
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError, match=r"\(0\.0, 0\.0\)"):
        engine.Value(0.0) * 1 / 0.0


@pytest.mark.parametrize("engine", ENGINES)
def test_the_first_op_raises_not_its_users(engine):
    # exp(1000) overflows first; the "*" after it is never built.
    x = engine.Value(1000.0, "x")
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError, match="op 'exp'"):
        x.exp() * 0.0


@pytest.mark.parametrize("engine", ENGINES)
def test_backward_names_the_op_and_its_label_and_keeps_the_grads(engine):
    x, y = engine.Value(0.0, "x"), engine.Value(0.0, "y")
    s1, s2 = x.sqrt(), y.sqrt()  # finite forward, infinite derivative at 0
    s1.label, s2.label = "s1", "s2"
    f = s1 + s2
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        f.backward()
    message = str(info.value)
    # The reverse sweep reaches s2 before s1 (operands first in the topological order).
    assert "op 'sqrt' 's2'" in message.replace('"', "'")
    assert "backward" in message
    assert "y=0.0 (grad inf)" in message
    # The sweep completed: grads are those of an unchecked backward.
    assert (x.grad, y.grad) == (math.inf, math.inf)


@pytest.mark.parametrize("engine", ENGINES)
def test_backward_nan_from_zero_times_inf(engine):
    x = engine.Value(0.0, "x")
    f = x.log() * engine.Value(0.0)  # forward: -inf * 0 = nan, so build it with the mode off
    # The leaf 0.0's grad is log(0) * 1 = -inf.
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError, match="op '\\*'"):
        f.backward()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_number_operand_gets_no_gradient_to_be_anomalous(engine):
    # With 0.0 a plain number, nothing receives log(0) * 1 = -inf: the first non-finite
    # gradient is x's, 0 / 0 from log's backward, and the message lists the number unlabelled.
    x = engine.Value(0.0, "x")
    f = x.log() * 0.0
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as err:
        f.backward()
    assert "op 'log'" in str(err.value) and "operands: (x=0.0 (grad nan))" in str(err.value)
    log_x = x.log()
    with ferrograd.detect_anomaly(), pytest.raises(FloatingPointError) as err:
        2.0 - log_x * 0.0
    assert str(err.value).endswith("from inputs (-inf, 0.0)")


@pytest.mark.parametrize("engine", ENGINES)
def test_finite_graphs_do_not_raise(engine):
    x, y = engine.Value(2.0, "x"), engine.Value(5.0, "y")
    with ferrograd.detect_anomaly():
        f = x.log() + x * y - y.sin()
        f.backward()
    assert x.grad == 5.5


def test_previous_setting_comes_back_after_an_exception():
    with pytest.raises(FloatingPointError), ferrograd.detect_anomaly():
        ferrograd.Value(0.0).log()
    for engine in ENGINES:
        assert engine.Value(0.0).log().data == -math.inf


def test_blocks_nest():
    with ferrograd.detect_anomaly():
        with ferrograd.detect_anomaly(False):
            for engine in ENGINES:
                assert engine.Value(0.0).log().data == -math.inf
            with ferrograd.detect_anomaly():
                pass
            for engine in ENGINES:
                assert engine.Value(0.0).log().data == -math.inf
        for engine in ENGINES:
            with pytest.raises(FloatingPointError):
                engine.Value(0.0).log()
    for engine in ENGINES:
        assert engine.Value(0.0).log().data == -math.inf


def test_usable_as_a_decorator():
    @ferrograd.detect_anomaly()
    def f():
        return ferrograd.Value(-1.0).sqrt()

    with pytest.raises(FloatingPointError, match="op 'sqrt'"):
        f()
    with pytest.raises(FloatingPointError):
        f()  # a second call is checked too
    assert math.isnan(ferrograd.Value(-1.0).sqrt().data)


def test_the_setting_is_per_thread():
    seen: list[float] = []

    def other() -> None:
        seen.extend(engine.Value(0.0).log().data for engine in ENGINES)

    with ferrograd.detect_anomaly():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [-math.inf, -math.inf]


def test_not_a_bool_is_a_type_error():
    with pytest.raises(TypeError, match="takes a bool, got str"), ferrograd.detect_anomaly("no"):
        pass
