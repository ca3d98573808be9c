"""A node of one graph never silently becomes a constant in another."""

from __future__ import annotations

import pytest

import ferrograd
from ferrograd import reference

RUST = ferrograd
REF = reference


@pytest.mark.parametrize(("mine", "other"), [(RUST, REF), (REF, RUST)], ids=["rust", "reference"])
@pytest.mark.parametrize(
    "combine",
    [
        lambda E, o: E.Value(2.0) + o,
        lambda E, o: o * E.Value(2.0),
        lambda E, o: E.Value(2.0) ** o,
        lambda E, o: o / E.Value(2.0),
        lambda E, o: E.sum([E.Value(1.0), o]),
        lambda E, o: E.dot([E.Value(1.0)], [o]),
        lambda E, o: E.Value(o),
    ],
    ids=["add", "rmul", "pow", "rtruediv", "sum", "dot", "construct"],
)
def test_other_engines_value_is_refused_with_a_type_error(mine, other, combine):
    with pytest.raises(TypeError, match=r"carries a derivative.*x\.data"):
        combine(mine, other.Value(3.0))


@pytest.mark.parametrize("engine", [RUST, REF], ids=["rust", "reference"])
def test_its_data_is_accepted_as_a_constant(engine):
    other = (REF if engine is RUST else RUST).Value(3.0)
    z = engine.Value(2.0) * other.data + other.item()
    assert z.data == 9.0
