"""The unary ops as functions, ``ferrograd.exp(v)`` for ``v.exp()``, on either engine.

The spelling of torch's ``torch.exp(t)`` and JAX's ``jnp.exp(x)``: where ``math.exp(v)`` would
turn a Value into a plain number and cut its gradient, ``ferrograd.exp(v)`` builds the node.
Each takes a ``Value`` or a ``Dual`` of either engine and returns the same kind; a plain real
number (what ``Value()`` takes: int, float, numpy scalar, ``Decimal``, ``Fraction``) gives a
float, the op's value by the same formula, with the op table's IEEE conventions (``ferrograd.acos(2.0)`` is nan where ``math.acos`` raises).
"""

from __future__ import annotations

from typing import Any, TypeVar, Union

from ferrograd import _core, reference

__all__ = [
    "acos",
    "acosh",
    "acot",
    "acsc",
    "asec",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "cbrt",
    "cos",
    "cosh",
    "cot",
    "csc",
    "erf",
    "erfc",
    "exp",
    "exp2",
    "expm1",
    "gelu",
    "leaky_relu",
    "log",
    "log1p",
    "log2",
    "log10",
    "relu",
    "sec",
    "sigmoid",
    "silu",
    "sin",
    "sinh",
    "softplus",
    "sqrt",
    "tan",
    "tanh",
]

_T = TypeVar("_T", _core.Value, reference.Value, _core.Dual, reference.Dual, float)
_KINDS = (_core.Value, reference.Value, _core.Dual, reference.Dual)


def _of_number(x: object, name: str) -> float:
    """The op ``name`` of the plain number ``x`` (a Dual's value: no graph node is made);
    ``TypeError`` if ``x`` is not a real number."""
    try:
        constant = _core.Dual(x)  # type: ignore[arg-type]  # Value()'s numbers, Decimal too
    except TypeError:
        raise TypeError(
            f"ferrograd.{name}() needs a Value, a Dual or a real number, got {type(x).__name__}"
        ) from None
    return float(getattr(constant, name)().data)


def relu(x: _T) -> _T:
    """``x.relu()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.relu()
    return _of_number(x, "relu")


def leaky_relu(x: _T, slope: float = _core.DEFAULT_SLOPE) -> _T:
    """``x.leaky_relu(slope)``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.leaky_relu(slope)
    _of_number(x, "leaky_relu")  # the TypeError for what is not a real number
    return _core.Dual(float(x)).leaky_relu(slope).data


def tanh(x: _T) -> _T:
    """``x.tanh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.tanh()
    return _of_number(x, "tanh")


def sigmoid(x: _T) -> _T:
    """``x.sigmoid()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.sigmoid()
    return _of_number(x, "sigmoid")


def exp(x: _T) -> _T:
    """``x.exp()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.exp()
    return _of_number(x, "exp")


def log(x: _T, base: Any = None) -> _T:
    """``x.log()``, or ``x.log(base)`` with a base (a number, or a Value or Dual of ``x``'s
    kind); on plain numbers, the value as a float."""
    if base is None:
        if isinstance(x, _KINDS):
            return x.log()
        return _of_number(x, "log")
    return _binary("log", x, base)  # type: ignore[no-any-return]


def sin(x: _T) -> _T:
    """``x.sin()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.sin()
    return _of_number(x, "sin")


def cos(x: _T) -> _T:
    """``x.cos()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.cos()
    return _of_number(x, "cos")


def tan(x: _T) -> _T:
    """``x.tan()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.tan()
    return _of_number(x, "tan")


def sqrt(x: _T) -> _T:
    """``x.sqrt()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.sqrt()
    return _of_number(x, "sqrt")


def asin(x: _T) -> _T:
    """``x.asin()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.asin()
    return _of_number(x, "asin")


def acos(x: _T) -> _T:
    """``x.acos()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.acos()
    return _of_number(x, "acos")


def atan(x: _T) -> _T:
    """``x.atan()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.atan()
    return _of_number(x, "atan")


def cot(x: _T) -> _T:
    """``x.cot()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.cot()
    return _of_number(x, "cot")


def sec(x: _T) -> _T:
    """``x.sec()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.sec()
    return _of_number(x, "sec")


def csc(x: _T) -> _T:
    """``x.csc()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.csc()
    return _of_number(x, "csc")


def acot(x: _T) -> _T:
    """``x.acot()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.acot()
    return _of_number(x, "acot")


def asec(x: _T) -> _T:
    """``x.asec()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.asec()
    return _of_number(x, "asec")


def acsc(x: _T) -> _T:
    """``x.acsc()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.acsc()
    return _of_number(x, "acsc")


def sinh(x: _T) -> _T:
    """``x.sinh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.sinh()
    return _of_number(x, "sinh")


def cosh(x: _T) -> _T:
    """``x.cosh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.cosh()
    return _of_number(x, "cosh")


def asinh(x: _T) -> _T:
    """``x.asinh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.asinh()
    return _of_number(x, "asinh")


def acosh(x: _T) -> _T:
    """``x.acosh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.acosh()
    return _of_number(x, "acosh")


def atanh(x: _T) -> _T:
    """``x.atanh()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.atanh()
    return _of_number(x, "atanh")


def log1p(x: _T) -> _T:
    """``x.log1p()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.log1p()
    return _of_number(x, "log1p")


def expm1(x: _T) -> _T:
    """``x.expm1()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.expm1()
    return _of_number(x, "expm1")


def log2(x: _T) -> _T:
    """``x.log2()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.log2()
    return _of_number(x, "log2")


def log10(x: _T) -> _T:
    """``x.log10()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.log10()
    return _of_number(x, "log10")


def exp2(x: _T) -> _T:
    """``x.exp2()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.exp2()
    return _of_number(x, "exp2")


def cbrt(x: _T) -> _T:
    """``x.cbrt()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.cbrt()
    return _of_number(x, "cbrt")


def erf(x: _T) -> _T:
    """``x.erf()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.erf()
    return _of_number(x, "erf")


def erfc(x: _T) -> _T:
    """``x.erfc()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.erfc()
    return _of_number(x, "erfc")


def softplus(x: _T) -> _T:
    """``x.softplus()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.softplus()
    return _of_number(x, "softplus")


def silu(x: _T) -> _T:
    """``x.silu()``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.silu()
    return _of_number(x, "silu")


def gelu(x: _T, approximate: str = "none") -> _T:
    """``x.gelu(approximate)``; on a plain number, its value as a float."""
    if isinstance(x, _KINDS):
        return x.gelu(approximate)
    _of_number(x, "gelu")  # the same TypeError for what is not a real number
    return _core.Dual(x).gelu(approximate).data


# -- the binary methods as functions: ferrograd.atan2(y, x) for y.atan2(x) ----------------------
#
# Either operand may be a plain number. Two numbers give a float, computed by the same formula
# as the op; a number next to a Value or a Dual becomes a constant of that one's kind, so
# ferrograd.atan2(1.0, x) is Value(1.0).atan2(x) and its gradient reaches x.

__all__ += ["atan2", "clamp", "hypot", "maximum", "minimum"]

_Arg = Union[_core.Value, reference.Value, _core.Dual, reference.Dual, float, int]


def _kind(args: tuple[object, ...], name: str, optional: int = 0) -> type | None:
    """The Value or Dual class among ``args`` (None when all are numbers); ``TypeError`` naming
    ``name`` for an argument that is neither a Value, a Dual nor a number ``Value()`` takes (the
    last ``optional`` arguments may also be None)."""
    kind = None
    for i, a in enumerate(args):
        if isinstance(a, _KINDS):
            kind = kind or type(a)
        elif a is None and i >= len(args) - optional:
            continue
        else:
            try:
                _core.Dual(a)  # type: ignore[arg-type]
            except TypeError:
                raise TypeError(
                    f"ferrograd.{name}() needs Values, Duals or real numbers, "
                    f"got {type(a).__name__}"
                ) from None
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
    kind = _kind((x, lo, hi), "clamp", optional=2)
    bounds: Any = (lo, hi)
    if kind is None:
        return _core.Value(x).clamp(*bounds).data
    first: Any = x if isinstance(x, _KINDS) else kind(x)
    return first.clamp(*bounds)
