"""Shared fixtures: most contract tests run once per engine (Rust and pure Python)."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import pytest

from ferrograd import _engines
from ferrograd._core import op_table
from ferrograd._engines import Engine


class OpRow(NamedTuple):
    """One op of the core's op table (``ferrograd._core.op_table()``)."""

    name: str
    code: int
    arity: int | None
    param: str | None
    method: str
    aliases: list[str]


#: Every op, by code: the list every test that means "all ops" reads.
OP_TABLE = [OpRow(*row) for row in op_table()]
#: The unary ops, by code.
UNARY_OPS = [row for row in OP_TABLE if row.arity == 1]
#: The unary ops without a method of their own, and how they are built.
SPELLED: dict[str, Callable[[Any], Any]] = {"gelu_tanh": lambda x: x.gelu(approximate="tanh")}


def call_unary(row: OpRow, x: Any) -> Any:
    """The unary op ``row`` of ``x`` (a Value or a Dual of either engine), by its method, or
    as ``SPELLED`` says for an op that has none."""
    spelled = SPELLED.get(row.name)
    return spelled(x) if spelled else getattr(x, row.method)()


#: The binary ops with a method (``y.atan2(x)``), by code.
BINARY_METHODS = [row for row in OP_TABLE if row.arity == 2 and row.method]


# The package's engine registry: every engine the package has, so every contract test meets
# each of them (a new engine there is tested here without an edit).
RUST, REFERENCE = _engines.RUST, _engines.REFERENCE
ENGINES = list(_engines.ENGINES)


@pytest.fixture(params=ENGINES, ids=[e.name for e in ENGINES])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn."""
    return request.param


def same_float(a: float, b: float) -> bool:
    """Equal as IEEE numbers, with NaN equal to NaN and 0.0 distinct from -0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def central_difference(f: Callable[[float], float], x: float, h: float = 1e-6) -> float:
    """``f'(x)`` by a central difference with a step relative to ``|x|``."""
    step = h * max(1.0, abs(x))
    return (f(x + step) - f(x - step)) / (2.0 * step)


# JAX, an oracle in these modules, starts threads once it first computes, and forking after that
# can deadlock the child (JAX warns as much). Tests that fork (process pools, Dask workers) run
# first, the JAX-checked ones last; the order within each group stays as collected.
_JAX_MODULES = {"test_func", "test_adam", "test_scipy"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def uses_jax(item: pytest.Item) -> bool:
        module = getattr(item, "module", None)
        return module is not None and module.__name__ in _JAX_MODULES

    items.sort(key=uses_jax)


def apply_unary(row: OpRow, x: Any, param: float | None = None) -> Any:
    """The unary op ``row`` applied to ``x`` by its method, with its parameter if given."""
    if param is None:
        return call_unary(row, x)
    return getattr(x, row.method)(param)
