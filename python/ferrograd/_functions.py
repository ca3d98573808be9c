"""The unary ops as functions, ``ferrograd.exp(v)`` for ``v.exp()``, on either engine.

The spelling of torch's ``torch.exp(t)`` and JAX's ``jnp.exp(x)``: where ``math.exp(v)`` would
turn a Value into a plain number and cut its gradient, ``ferrograd.exp(v)`` builds the node.
Each takes a ``Value`` or a ``Dual`` of either engine and returns the same kind.
"""

from __future__ import annotations

from typing import TypeVar

from ferrograd import _core, reference

__all__ = ["asin", "cos", "exp", "log", "relu", "sigmoid", "sin", "sqrt", "tan", "tanh"]

_T = TypeVar("_T", _core.Value, reference.Value, _core.Dual, reference.Dual)
_KINDS = (_core.Value, reference.Value, _core.Dual, reference.Dual)


def _check(x: object, name: str) -> None:
    if not isinstance(x, _KINDS):
        raise TypeError(f"ferrograd.{name}() needs a Value or a Dual, got {type(x).__name__}")


def relu(x: _T) -> _T:
    """``x.relu()``."""
    _check(x, "relu")
    return x.relu()


def tanh(x: _T) -> _T:
    """``x.tanh()``."""
    _check(x, "tanh")
    return x.tanh()


def sigmoid(x: _T) -> _T:
    """``x.sigmoid()``."""
    _check(x, "sigmoid")
    return x.sigmoid()


def exp(x: _T) -> _T:
    """``x.exp()``."""
    _check(x, "exp")
    return x.exp()


def log(x: _T) -> _T:
    """``x.log()``."""
    _check(x, "log")
    return x.log()


def sin(x: _T) -> _T:
    """``x.sin()``."""
    _check(x, "sin")
    return x.sin()


def cos(x: _T) -> _T:
    """``x.cos()``."""
    _check(x, "cos")
    return x.cos()


def tan(x: _T) -> _T:
    """``x.tan()``."""
    _check(x, "tan")
    return x.tan()


def sqrt(x: _T) -> _T:
    """``x.sqrt()``."""
    _check(x, "sqrt")
    return x.sqrt()


def asin(x: _T) -> _T:
    """``x.asin()``."""
    _check(x, "asin")
    return x.asin()
