"""The module functions (``ferrograd.log(x)``, ``ferrograd.atan2(y, x)``, ...) take the plain
numbers ``Value()`` takes (``Decimal`` and ``Fraction`` too) and refuse the rest in their own
name, whichever operand is wrong."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import ferrograd
from ferrograd import _functions

BINARY = ("atan2", "hypot", "minimum", "maximum", "clamp")
UNARY = [n for n in _functions.__all__ if n not in BINARY]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("number", [Decimal("0.25"), Fraction(1, 4)], ids=["Decimal", "Fraction"])
def test_a_unary_function_takes_what_value_takes(name: str, number: object) -> None:
    want = getattr(ferrograd.Value(number), name)().data
    got = getattr(ferrograd, name)(number)
    assert isinstance(got, float)
    assert got == want or (math.isnan(got) and math.isnan(want))


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("bad", [None, np.array([1.0, 2.0]), np.array(1.0), "a", [1.0]], ids=repr)
def test_a_bad_first_operand_is_named_by_the_function(name: str, bad: object) -> None:
    with pytest.raises(TypeError, match=rf"^ferrograd\.{name}\(\) needs Values, Duals or real"):
        getattr(ferrograd, name)(bad, 1.0)


@pytest.mark.parametrize("name", ["atan2", "hypot", "minimum", "maximum"])
@pytest.mark.parametrize("bad", [None, np.array([1.0, 2.0]), np.array(1.0)], ids=repr)
def test_a_bad_second_operand_is_named_by_the_function(name: str, bad: object) -> None:
    for first in (1.0, ferrograd.Value(1.0), ferrograd.reference.Value(1.0)):
        with pytest.raises(TypeError, match=rf"^ferrograd\.{name}\(\) needs Values, Duals or real"):
            getattr(ferrograd, name)(first, bad)


def test_two_fractions_give_the_values_number() -> None:
    assert ferrograd.atan2(Fraction(1, 3), Decimal("0.5")) == math.atan2(1 / 3, 0.5)
    assert ferrograd.clamp(Fraction(5, 2), Decimal(0), 1) == 1.0
