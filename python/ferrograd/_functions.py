"""The unary ops as functions, ``ferrograd.exp(v)`` for ``v.exp()``, on either engine.

The spelling of torch's ``torch.exp(t)`` and JAX's ``jnp.exp(x)``: where ``math.exp(v)`` would
turn a Value into a plain number and cut its gradient, ``ferrograd.exp(v)`` builds the node.
Each takes a ``Value`` or a ``Dual`` of either engine and returns the same kind; those of
log1p ... gelu also take a plain number (as ``torch.erf`` takes a tensor) and return a float.
"""

from __future__ import annotations

from typing import TypeVar, cast

from ferrograd import _core, reference

__all__ = [
    "asin",
    "cbrt",
    "cos",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "gelu",
    "log",
    "log1p",
    "log2",
    "log10",
    "relu",
    "sigmoid",
    "silu",
    "sin",
    "softplus",
    "sqrt",
    "tan",
    "tanh",
]

_T = TypeVar("_T", _core.Value, reference.Value, _core.Dual, reference.Dual)
#: The functions that take plain numbers too (``ferrograd.erf(0.5)`` is a float).
_N = TypeVar("_N", _core.Value, reference.Value, _core.Dual, reference.Dual, float)
_KINDS = (_core.Value, reference.Value, _core.Dual, reference.Dual)


def _number(x: object, name: str) -> float:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    raise TypeError(
        f"ferrograd.{name}() needs a Value, a Dual or a real number, got {type(x).__name__}"
    )


def _call(x: _N, name: str) -> _N:
    """``x.name()`` on a Value or a Dual; on a plain number, the op's value as a float (the
    Rust engine's formula, so IEEE results: ``log1p(-1)`` is -inf, never an exception)."""
    result: object = (
        getattr(x, name)()
        if isinstance(x, _KINDS)
        else getattr(_core.Dual(_number(x, name)), name)().data
    )
    return cast(_N, result)


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


def log1p(x: _N) -> _N:
    """``x.log1p()``; for a plain number, the op's value as a float."""
    return _call(x, "log1p")


def expm1(x: _N) -> _N:
    """``x.expm1()``; for a plain number, the op's value as a float."""
    return _call(x, "expm1")


def log2(x: _N) -> _N:
    """``x.log2()``; for a plain number, the op's value as a float."""
    return _call(x, "log2")


def log10(x: _N) -> _N:
    """``x.log10()``; for a plain number, the op's value as a float."""
    return _call(x, "log10")


def exp2(x: _N) -> _N:
    """``x.exp2()``; for a plain number, the op's value as a float."""
    return _call(x, "exp2")


def cbrt(x: _N) -> _N:
    """``x.cbrt()``; for a plain number, the op's value as a float."""
    return _call(x, "cbrt")


def erf(x: _N) -> _N:
    """``x.erf()``; for a plain number, the op's value as a float."""
    return _call(x, "erf")


def erfc(x: _N) -> _N:
    """``x.erfc()``; for a plain number, the op's value as a float."""
    return _call(x, "erfc")


def softplus(x: _N) -> _N:
    """``x.softplus()``; for a plain number, the op's value as a float."""
    return _call(x, "softplus")


def silu(x: _N) -> _N:
    """``x.silu()``; for a plain number, the op's value as a float."""
    return _call(x, "silu")


def gelu(x: _N, approximate: str = "none") -> _N:
    """``x.gelu(approximate)``; for a plain number, the op's value as a float."""
    result: object = (
        x.gelu(approximate)
        if isinstance(x, _KINDS)
        else _core.Dual(_number(x, "gelu")).gelu(approximate).data
    )
    return cast(_N, result)
