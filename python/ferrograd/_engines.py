"""The engines, in one registry: the Rust core and the pure-Python reference.

Everything that takes ``engine=`` (``nn``, ``func``, ``testing``), the ``demo`` command's
``--engine`` flag and the tests resolve it here, so a name, a message or a new engine is one edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, NamedTuple, Union

from ferrograd import _core, reference


class Engine(NamedTuple):
    """One engine's public surface: its ``Value`` class, its fused ``sum`` and ``dot``, and its
    forward-mode ``Dual`` (``None`` for an engine module that has none)."""

    name: str
    Value: type
    sum: Callable[[Iterable[Any]], Any]
    dot: Callable[[Iterable[Any], Iterable[Any]], Any]
    Dual: Any = None  # a type, or None


RUST = Engine("rust", _core.Value, _core.sum, _core.dot, _core.Dual)
REFERENCE = Engine("reference", reference.Value, reference.sum, reference.dot, reference.Dual)
#: Every engine, the default first.
ENGINES: tuple[Engine, ...] = (RUST, REFERENCE)
#: Their names, as ``engine=`` and ``--engine`` take them.
NAMES: tuple[str, ...] = tuple(e.name for e in ENGINES)
_BY_NAME = {"ferrograd": RUST, **{e.name: e for e in ENGINES}}
_CHOICES = " or ".join(repr(n) for n in NAMES)

EngineLike = Union[str, ModuleType, Engine, None]


def resolve(engine: EngineLike = None) -> Engine:
    """The engine named by ``engine``: ``None`` or ``"rust"`` (also ``"ferrograd"``: the Rust
    core), ``"reference"`` (the pure-Python twin), an :class:`Engine`, or a module with ``Value``,
    ``sum`` and ``dot`` (``ferrograd``, ``ferrograd.reference``, or a third engine).
    ``ValueError`` for an unknown name, ``TypeError`` for anything else."""
    if engine is None:
        return RUST
    if isinstance(engine, Engine):
        return engine
    if isinstance(engine, str):
        try:
            return _BY_NAME[engine]
        except KeyError:
            raise ValueError(f"unknown engine {engine!r}: use {_CHOICES}") from None
    if isinstance(engine, ModuleType):
        missing = [name for name in ("Value", "sum", "dot") if not hasattr(engine, name)]
        if missing:
            raise TypeError(f"engine module {engine.__name__} has no {', '.join(missing)}")
        for known in ENGINES:
            if engine.Value is known.Value:
                return known
        return Engine(
            engine.__name__, engine.Value, engine.sum, engine.dot, getattr(engine, "Dual", None)
        )
    raise TypeError(f"engine must be {_CHOICES} or an engine module, got {type(engine).__name__}")


def of(values: Iterable[Any]) -> Engine:
    """The engine of the first Value among ``values``; the Rust one when all are numbers."""
    for v in values:
        for known in ENGINES:
            if isinstance(v, known.Value):
                return known
    return RUST


@contextmanager
def thread_setting(
    setters: Sequence[Callable[[bool], bool]], enabled: object, what: str
) -> Iterator[None]:
    """A per-thread switch of every engine (anomaly mode, ``no_grad``) set to ``enabled`` for the
    block: ``setters`` are the engines' functions that set it and return the previous setting,
    which each gets back on leaving, normally or by an exception (so blocks nest). ``TypeError``
    naming ``what`` when ``enabled`` is not a bool."""
    if not isinstance(enabled, bool):
        raise TypeError(f"{what}() takes a bool, got {type(enabled).__name__}")
    previous = [setter(enabled) for setter in setters]
    try:
        yield
    finally:
        for setter, setting in reversed(list(zip(setters, previous))):
            setter(setting)
