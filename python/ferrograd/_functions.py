"""The unary ops as functions, ``ferrograd.exp(v)`` for ``v.exp()``, on either engine.

The spelling of torch's ``torch.exp(t)`` and JAX's ``jnp.exp(x)``: where ``math.exp(v)`` would
turn a Value into a plain number and cut its gradient, ``ferrograd.exp(v)`` builds the node.
Each takes a ``Value`` or a ``Dual`` of either engine and returns the same kind.
"""

from __future__ import annotations

from typing import Any, TypeVar, Union

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


# -- the binary methods as functions: ferrograd.atan2(y, x) for y.atan2(x) ----------------------
#
# Either operand may be a plain number. Two numbers give a float, computed by the same formula
# as the op; a number next to a Value or a Dual becomes a constant of that one's kind, so
# ferrograd.atan2(1.0, x) is Value(1.0).atan2(x) and its gradient reaches x.

__all__ += ["atan2", "clamp", "hypot", "maximum", "minimum"]

_Arg = Union[_core.Value, reference.Value, _core.Dual, reference.Dual, float, int]


def _kind(args: tuple[object, ...], name: str) -> type | None:
    """The Value or Dual class among ``args`` (None when all are numbers); ``TypeError`` for an
    argument that is neither."""
    kind = None
    for a in args:
        if isinstance(a, _KINDS):
            kind = kind or type(a)
        elif a is not None and not (isinstance(a, (int, float)) or hasattr(a, "__float__")):
            raise TypeError(
                f"ferrograd.{name}() needs Values, Duals or real numbers, got {type(a).__name__}"
            )
    return kind


def _binary(name: str, a: Any, b: Any) -> Any:
    kind = _kind((a, b), name)
    if kind is None:
        # Two numbers: the op on constants, read back as a float.
        return getattr(_core.Value(a), name)(b).data
    first = a if isinstance(a, _KINDS) else kind(a)
    return getattr(first, name)(b)


def atan2(y: _Arg, x: _Arg) -> Any:
    """``y.atan2(x)``: the angle of the point ``(x, y)`` in radians, in [-π, π]."""
    return _binary("atan2", y, x)


def hypot(x: _Arg, y: _Arg) -> Any:
    """``x.hypot(y)``: ``sqrt(x² + y²)`` without overflow."""
    return _binary("hypot", x, y)


def minimum(a: _Arg, b: _Arg) -> Any:
    """``a.minimum(b)``: the smaller, nan if either is; a tie splits the gradient evenly."""
    return _binary("minimum", a, b)


def maximum(a: _Arg, b: _Arg) -> Any:
    """``a.maximum(b)``: the larger, nan if either is; a tie splits the gradient evenly."""
    return _binary("maximum", a, b)


def clamp(x: _Arg, lo: _Arg | None = None, hi: _Arg | None = None) -> Any:
    """``x.clamp(lo, hi)``: ``x`` bounded to ``[lo, hi]`` (None is no bound); the gradient
    reaches ``x`` where ``lo <= x <= hi``."""
    kind = _kind((x, lo, hi), "clamp")
    bounds: Any = (lo, hi)
    if kind is None:
        return _core.Value(x).clamp(*bounds).data  # type: ignore[arg-type]
    first: Any = x if isinstance(x, _KINDS) else kind(x)
    return first.clamp(*bounds)
