"""The one engine registry: every ``engine=`` in the package takes the same spellings and
refuses the same mistakes with the same words."""

from __future__ import annotations

import math

import pytest

import ferrograd
from ferrograd import _engines, reference
from ferrograd.nn import MLP, resolve_engine
from ferrograd.testing import gradcheck


def _value_type_nn(engine: object) -> type:
    return type(MLP(1, [1], seed=0, engine=engine).parameters()[0])  # type: ignore[arg-type]


def _value_type_func(engine: object) -> type:
    seen: list[type] = []

    def f(x: object) -> object:
        seen.append(type(x))
        return x * x  # type: ignore[operator]

    assert ferrograd.grad(f, engine=engine)(3.0) == 6.0
    return seen[0]


def _value_type_testing(engine: object) -> type:
    seen: list[type] = []

    def f(x: object) -> object:
        seen.append(type(x))
        return x.exp()  # type: ignore[attr-defined]

    assert gradcheck(f, [0.5], engine=engine).passed  # type: ignore[arg-type]
    return seen[0]


USERS = [_value_type_nn, _value_type_func, _value_type_testing]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        (None, ferrograd.Value),
        ("rust", ferrograd.Value),
        ("ferrograd", ferrograd.Value),
        (ferrograd, ferrograd.Value),
        ("reference", reference.Value),
        (reference, reference.Value),
        (_engines.REFERENCE, reference.Value),
    ],
)
def test_every_engine_argument_takes_the_same_spellings(
    user: object, spelling: object, expected: type
) -> None:
    assert user(spelling) is expected  # type: ignore[operator]


@pytest.mark.parametrize("user", USERS)
def test_every_engine_argument_refuses_alike(user: object) -> None:
    with pytest.raises(ValueError, match=r"^unknown engine 'torch': use 'rust' or 'reference'$"):
        user("torch")  # type: ignore[operator]
    with pytest.raises(TypeError, match=r"^engine must be 'rust' or 'reference' .*got int$"):
        user(3)  # type: ignore[operator]


def test_the_registry_lists_each_engine_once_default_first() -> None:
    assert _engines.NAMES == ("rust", "reference")
    assert _engines.ENGINES[0] is _engines.RUST is resolve_engine(None)
    for engine in _engines.ENGINES:
        assert _engines.resolve(engine.name) is engine
        assert isinstance(engine.Value(1.0), engine.Value)
        assert engine.sum([engine.Value(1.0), 2.0]).data == 3.0
        assert engine.dot([engine.Value(2.0)], [3.0]).data == 6.0
        assert engine.Dual(1.0, 1.0).exp().tangent == pytest.approx(math.e, rel=1e-15)
        assert _engines.of([1.0, engine.Value(2.0)]) is engine
    assert _engines.of([1.0, 2]) is _engines.RUST
