"""The reference engine: ferrograd's contract in plain Python, written to be read.

``reference.Value`` behaves like ``ferrograd.Value`` (the Rust engine) in every respect a user can
see: the same constructor and type checks, the same op strings, the same IEEE results at special
points, the same ``backward()`` semantics. It also computes the same numbers: each op below runs
the formula of its entry in ``src-rust/ops.rs``, in the same floating-point order, and
``backward()`` visits nodes in the same order as ``src-rust/backward.rs``. So the two engines
agree to the last bit on most programs, and that agreement is a test and a tool
(``ferrograd.testing.compare_engines``).

>>> from ferrograd import reference
>>> x = reference.Value(2.0)
>>> y = (x * x).log()
>>> y.backward()
>>> x.grad
1.0

How to read it: the op table comes first (one line per op: name, forward, backward, where
backward returns ``∂z/∂operand · g`` for each operand, ``z`` being the op's output and ``g`` its
adjoint); then ``Value``, whose methods each link one node; then ``backward``.
"""

from __future__ import annotations

import ctypes
import math
import numbers
import threading
from collections.abc import Iterable
from fractions import Fraction
from typing import Callable, NamedTuple, NoReturn, Union

__all__ = ["Dual", "Value", "dot", "sum"]

# ------------------------------------------------------------------------------------------------
# IEEE arithmetic. Python's float operators already follow IEEE-754 for +, -, * (overflow gives
# inf, inf - inf gives nan), but division by zero and the math module raise where IEEE returns
# inf or nan. These wrappers return what C's libm (and so the Rust engine) returns.
# ------------------------------------------------------------------------------------------------

_INF = math.inf
_NAN = math.nan


def _div(x: float, y: float) -> float:
    if y != 0.0:
        return x / y
    if x == 0.0 or math.isnan(x):
        return _NAN
    # x / ±0 is an infinity whose sign is the product of the signs.
    return math.copysign(_INF, x) * math.copysign(1.0, y)


def _div_backward(dx: float, z: float) -> tuple[float, float]:
    """``z = x / y``'s increments from ``dx = g / y``: ``(dx, -(dx * z))``, one division."""
    return dx, -(dx * z)


def _is_odd_integer(y: float) -> bool:
    return y.is_integer() and math.fmod(y, 2.0) != 0.0


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return -_INF if x < 0.0 and _is_odd_integer(y) else _INF
    except ValueError:
        if x == 0.0:  # 0 ** negative
            return math.copysign(_INF, x) if _is_odd_integer(y) else _INF
        return _NAN  # negative base, non-integer exponent


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _log(x: float) -> float:
    if x == 0.0:
        return -_INF
    if x < 0.0 or math.isnan(x):
        return _NAN
    return math.log(x)


def _sqrt(x: float) -> float:
    return _NAN if x < 0.0 else math.sqrt(x)


def _asin(x: float) -> float:
    return _NAN if abs(x) > 1.0 else math.asin(x)


def _acos(x: float) -> float:
    return _NAN if abs(x) > 1.0 else math.acos(x)


def _sqrt_sq_minus_1(a: float) -> float:
    # sqrt(a² - 1) as sqrt(a - 1) · sqrt(a + 1), as src-rust/ops.rs: nan for a < 1.
    return _sqrt(a - 1.0) * _sqrt(a + 1.0)


_SQ_ABSORBS_ONE = 134217728.0  # 2^27: beyond it, 1 + x² rounds to x²


def _sqrt_1_plus_sq(x: float) -> float:
    return math.sqrt(1.0 + x * x) if abs(x) < _SQ_ABSORBS_ONE else abs(x)


def _asec(x: float) -> float:
    return math.atan2(_sqrt_sq_minus_1(abs(x)), math.copysign(1.0, x))


def _acsc(x: float) -> float:
    return math.atan2(math.copysign(1.0, x), _sqrt_sq_minus_1(abs(x)))


def _sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(_INF, x)


def _cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return _INF


def _acosh(x: float) -> float:
    return _NAN if not x >= 1.0 else math.acosh(x)


def _atanh(x: float) -> float:
    if abs(x) == 1.0:
        return math.copysign(_INF, x)
    return _NAN if abs(x) > 1.0 else math.atanh(x)


def _atanh_backward(x: float, z: float, g: float, p: float) -> float:
    return _NAN if abs(x) > 1.0 else _div(g, (1.0 - x) * (1.0 + x))


def _log1p(x: float) -> float:
    if x == -1.0:
        return -_INF
    return _NAN if x < -1.0 else math.log1p(x)


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return _INF


def _log_base(f: Callable[[float], float]) -> Callable[[float], float]:
    """``f`` (``math.log2``, ``math.log10``) with libm's -inf at 0 and nan below, where ``math``
    raises."""

    def g(x: float) -> float:
        if x == 0.0:
            return -_INF
        return _NAN if x < 0.0 else f(x)

    g.__name__ = f.__name__
    return g


_log2, _log10 = _log_base(math.log2), _log_base(math.log10)


def _exp2_fallback(x: float) -> float:
    """``2 ** x`` by libm's ``pow`` where ``math.exp2`` is missing (Python < 3.11): within
    1 ulp of libm's ``exp2`` (tests/test_special_ops.py checks it)."""
    return _pow(2.0, x)


def _cbrt_near(x: float) -> float:
    """A cube root within a few ulps where ``math.cbrt`` is missing (Python < 3.11):
    ``m ** (1/3)`` of the mantissa scaled into [0.5, 4), then one Newton step."""
    m, e = math.frexp(x)
    shift, r = divmod(e, 3)
    m = math.ldexp(m, r)
    y = m ** (1.0 / 3.0)
    y -= (y * y * y - m) / (3.0 * y * y)
    return math.ldexp(y, shift)


def _cbrt(x: float) -> float:
    """The correctly rounded cube root, as Rust's ``f64::cbrt`` gives it (the C library's,
    which ``math.cbrt`` calls, can be 1 ulp off): a first guess, then moved to whichever
    neighbour's rounding interval holds the exact root, decided in exact rational arithmetic
    (``c`` is the rounded root when the midpoints around it cube to either side of ``|x|``)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    a = Fraction(abs(x))
    c = _CBRT_NEAR(abs(x))
    while True:
        up = math.nextafter(c, _INF)
        if ((Fraction(c) + Fraction(up)) / 2) ** 3 < a:
            c = up
            continue
        down = math.nextafter(c, 0.0)
        if ((Fraction(c) + Fraction(down)) / 2) ** 3 > a:
            c = down
            continue
        return math.copysign(c, x)


def _exp2(x: float) -> float:
    try:
        return _MATH_EXP2(x)
    except OverflowError:
        return _INF


def _libm_exp2() -> Callable[[float], float]:
    """libm's ``exp2``, the one the Rust engine calls: ``math.exp2`` where Python has it (3.11
    on), else C's through ctypes, else ``2 ** x`` by ``pow`` (within 1 ulp of it)."""
    if hasattr(math, "exp2"):
        return math.exp2  # type: ignore[no-any-return, unused-ignore]
    try:
        f = ctypes.CDLL(None).exp2
    except (OSError, AttributeError, TypeError):  # no C library to reach (Windows)
        return _exp2_fallback
    f.restype, f.argtypes = ctypes.c_double, (ctypes.c_double,)
    return f


_MATH_EXP2: Callable[[float], float] = _libm_exp2()
_CBRT_NEAR: Callable[[float], float] = getattr(math, "cbrt", _cbrt_near)

# The constants of src-rust/ops.rs, as Rust's std::f64::consts spells them (correctly rounded).
_LN_2 = 0.6931471805599453
_LN_10 = 2.302585092994046
_FRAC_2_SQRT_PI = 1.1283791670955126
_FRAC_1_SQRT_2 = 0.7071067811865476
_SQRT_2 = 1.4142135623730951
_FRAC_1_SQRT_2PI = _FRAC_2_SQRT_PI * _FRAC_1_SQRT_2 * 0.5
_SQRT_2_OVER_PI = _SQRT_2 * _FRAC_2_SQRT_PI * 0.5
_GELU_KAPPA = 0.044715


def _periodic(f: Callable[[float], float]) -> Callable[[float], float]:
    """``f`` with nan for infinite arguments, where ``math`` raises."""

    def g(x: float) -> float:
        return _NAN if math.isinf(x) else f(x)

    g.__name__ = f.__name__
    return g


_sin, _cos, _tan = _periodic(math.sin), _periodic(math.cos), _periodic(math.tan)


def _libm_hypot() -> Callable[[float, float], float]:
    """C's ``hypot``, the one the Rust engine calls, where the C library can be reached: Python's
    ``math.hypot`` is its own algorithm and differs from it in the last bit now and then."""
    try:
        f = ctypes.CDLL(None).hypot
    except (OSError, AttributeError, TypeError):  # no C library to reach (Windows)
        return math.hypot
    f.restype, f.argtypes = ctypes.c_double, (ctypes.c_double, ctypes.c_double)
    return f


#: ``sqrt(x² + y²)`` without overflow; ``hypot(inf, nan)`` is inf. libm's where Python reaches
#: it, so the engines agree to the last bit; else ``math.hypot``, within 1 ulp of it (2 on
#: Python 3.9).
_hypot = _libm_hypot()

# ------------------------------------------------------------------------------------------------
# The op table, in the order of src-rust/ops.rs.
# ------------------------------------------------------------------------------------------------


class BinaryOp(NamedTuple):
    """``z = forward(x, y)``; ``backward(x, y, z, g)`` gives ``(∂z/∂x · g, ∂z/∂y · g)``."""

    name: str
    forward: Callable[[float, float], float]
    backward: Callable[[float, float, float, float], tuple[float, float]]


class UnaryOp(NamedTuple):
    """``z = forward(x, p)``; ``backward(x, z, g, p)`` gives ``∂z/∂x · g``. ``p`` is the op's
    parameter (leaky ReLU's slope), unused by the others."""

    name: str
    forward: Callable[[float, float], float]
    backward: Callable[[float, float, float, float], float]


def _pow_backward(x: float, y: float, z: float, g: float) -> tuple[float, float]:
    # d/dx x**0 = 0 everywhere (the formula would give 0 · inf at x = 0);
    # d/dy x**y = x**y ln x, taken as 0 at x = 0, y >= 0.
    dx = 0.0 if y == 0.0 else y * _pow(x, y - 1.0)
    dy = 0.0 if x == 0.0 and y >= 0.0 else z * _log(x)
    return dx * g, dy * g


ADD = BinaryOp("+", lambda x, y: x + y, lambda x, y, z, g: (g, g))
SUB = BinaryOp("-", lambda x, y: x - y, lambda x, y, z, g: (g, -g))
MUL = BinaryOp("*", lambda x, y: x * y, lambda x, y, z, g: (y * g, x * g))
DIV = BinaryOp("/", _div, lambda x, y, z, g: _div_backward(_div(g, y), z))
POW = BinaryOp("**", _pow, _pow_backward)


def _relu(x: float, p: float) -> float:
    return x if x > 0.0 or math.isnan(x) else 0.0


def _sigmoid(x: float, p: float) -> float:
    # Never overflows: exp is only taken of a non-positive number.
    if x >= 0.0:
        return _div(1.0, 1.0 + _exp(-x))
    e = _exp(x)
    return _div(e, 1.0 + e)


def _abs_backward(x: float, z: float, g: float, p: float) -> float:
    return g if x > 0.0 else -g if x < 0.0 else 0.0


NEG = UnaryOp("neg", lambda x, p: -x, lambda x, z, g, p: -g)
RELU = UnaryOp("relu", _relu, lambda x, z, g, p: g if x > 0.0 else 0.0)
LEAKY_RELU = UnaryOp(
    "leaky_relu",
    lambda x, p: x if x > 0.0 else p * x,
    lambda x, z, g, p: g if x > 0.0 else p * g,
)
TANH = UnaryOp("tanh", lambda x, p: math.tanh(x), lambda x, z, g, p: (1.0 - z * z) * g)
SIGMOID = UnaryOp("sigmoid", _sigmoid, lambda x, z, g, p: z * (1.0 - z) * g)
EXP = UnaryOp("exp", lambda x, p: _exp(x), lambda x, z, g, p: z * g)
LOG = UnaryOp("log", lambda x, p: _log(x), lambda x, z, g, p: _div(g, x))
SIN = UnaryOp("sin", lambda x, p: _sin(x), lambda x, z, g, p: _cos(x) * g)
COS = UnaryOp("cos", lambda x, p: _cos(x), lambda x, z, g, p: -_sin(x) * g)
TAN = UnaryOp("tan", lambda x, p: _tan(x), lambda x, z, g, p: (1.0 + z * z) * g)
SQRT = UnaryOp("sqrt", lambda x, p: _sqrt(x), lambda x, z, g, p: _div(0.5, z) * g)
ABS = UnaryOp("abs", lambda x, p: abs(x), _abs_backward)
ASIN = UnaryOp(
    "asin", lambda x, p: _asin(x), lambda x, z, g, p: _div(g, _sqrt((1.0 - x) * (1.0 + x)))
)
ACOS = UnaryOp(
    "acos", lambda x, p: _acos(x), lambda x, z, g, p: -_div(g, _sqrt((1.0 - x) * (1.0 + x)))
)
ATAN = UnaryOp("atan", lambda x, p: math.atan(x), lambda x, z, g, p: _div(g, 1.0 + x * x))
COT = UnaryOp("cot", lambda x, p: _div(1.0, _tan(x)), lambda x, z, g, p: -(1.0 + z * z) * g)
SEC = UnaryOp("sec", lambda x, p: _div(1.0, _cos(x)), lambda x, z, g, p: z * _tan(x) * g)
CSC = UnaryOp("csc", lambda x, p: _div(1.0, _sin(x)), lambda x, z, g, p: -_div(z, _tan(x)) * g)
ACOT = UnaryOp(
    "acot", lambda x, p: math.atan(_div(1.0, x)), lambda x, z, g, p: -_div(g, 1.0 + x * x)
)
ASEC = UnaryOp(
    "asec",
    lambda x, p: _asec(x),
    lambda x, z, g, p: _div(_div(g, abs(x)), _sqrt_sq_minus_1(abs(x))),
)
ACSC = UnaryOp(
    "acsc",
    lambda x, p: _acsc(x),
    lambda x, z, g, p: -_div(_div(g, abs(x)), _sqrt_sq_minus_1(abs(x))),
)
SINH = UnaryOp("sinh", lambda x, p: _sinh(x), lambda x, z, g, p: _cosh(x) * g)
COSH = UnaryOp("cosh", lambda x, p: _cosh(x), lambda x, z, g, p: _sinh(x) * g)
ASINH = UnaryOp("asinh", lambda x, p: math.asinh(x), lambda x, z, g, p: _div(g, _sqrt_1_plus_sq(x)))
ACOSH = UnaryOp("acosh", lambda x, p: _acosh(x), lambda x, z, g, p: _div(g, _sqrt_sq_minus_1(x)))
ATANH = UnaryOp("atanh", lambda x, p: _atanh(x), _atanh_backward)


def _softplus(x: float, p: float) -> float:
    # log(1 + exp(x)) without overflow: exp is only taken of a non-positive number.
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


# silu, gelu and gelu_tanh: a value and a slope each, as in src-rust/ops.rs; at ±inf, where
# the formulas meet inf · 0, the limits: value -0.0 at -inf, slope 1 at inf and 0 at -inf.


def _silu(x: float, p: float) -> float:
    return -0.0 if x == -_INF else x * _sigmoid(x, p)


def _silu_slope(x: float) -> float:
    s = _sigmoid(x, 0.0)
    return s if math.isinf(x) else s * (1.0 + x * _sigmoid(-x, 0.0))


def _gelu(x: float, p: float) -> float:
    return -0.0 if x == -_INF else x * _normal_cdf(x)


def _gelu_slope(x: float) -> float:
    cdf = _normal_cdf(x)
    return cdf if math.isinf(x) else cdf + x * _normal_pdf(x)


def _gelu_tanh(x: float, p: float) -> float:
    return -0.0 if x == -_INF else x * _sigmoid(2.0 * _gelu_tanh_inner(x), p)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x * _FRAC_1_SQRT_2)


def _normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) * _FRAC_1_SQRT_2PI


def _gelu_tanh_inner(x: float) -> float:
    return _SQRT_2_OVER_PI * (x + _GELU_KAPPA * (x * x * x))


def _gelu_tanh_slope(x: float) -> float:
    # s + 2 x s (1 - s) u'; where s (1 - s) underflows to 0 the second term is 0 too.
    u2 = 2.0 * _gelu_tanh_inner(x)
    s = _sigmoid(u2, 0.0)
    t = s * _sigmoid(-u2, 0.0)
    if t == 0.0:
        return s
    du = _SQRT_2_OVER_PI * (1.0 + (3.0 * _GELU_KAPPA) * (x * x))
    return s + 2.0 * x * t * du


LOG1P = UnaryOp("log1p", lambda x, p: _log1p(x), lambda x, z, g, p: _div(g, x + 1.0))
EXPM1 = UnaryOp("expm1", lambda x, p: _expm1(x), lambda x, z, g, p: _exp(x) * g)
LOG2 = UnaryOp("log2", lambda x, p: _log2(x), lambda x, z, g, p: _div(g, x * _LN_2))
LOG10 = UnaryOp("log10", lambda x, p: _log10(x), lambda x, z, g, p: _div(g, x * _LN_10))
EXP2 = UnaryOp("exp2", lambda x, p: _exp2(x), lambda x, z, g, p: z * _LN_2 * g)
CBRT = UnaryOp("cbrt", lambda x, p: _cbrt(x), lambda x, z, g, p: _div(g, 3.0 * z * z))
ERF = UnaryOp(
    "erf",
    lambda x, p: math.erf(x),
    lambda x, z, g, p: _FRAC_2_SQRT_PI * math.exp(-(x * x)) * g,
)
ERFC = UnaryOp(
    "erfc",
    lambda x, p: math.erfc(x),
    lambda x, z, g, p: -(_FRAC_2_SQRT_PI * math.exp(-(x * x)) * g),
)
SOFTPLUS = UnaryOp("softplus", _softplus, lambda x, z, g, p: _sigmoid(x, p) * g)
SILU = UnaryOp("silu", _silu, lambda x, z, g, p: _silu_slope(x) * g)
GELU = UnaryOp("gelu", _gelu, lambda x, z, g, p: _gelu_slope(x) * g)
GELU_TANH = UnaryOp("gelu_tanh", _gelu_tanh, lambda x, z, g, p: _gelu_tanh_slope(x) * g)


def _gelu_op(approximate: object) -> UnaryOp:
    """GELU's op for ``approximate``, as torch spells it (``None`` means ``"none"``)."""
    if approximate is None:
        return GELU
    if not isinstance(approximate, str):
        raise TypeError(f"gelu() approximate must be a str, got {type(approximate).__name__}")
    if approximate == "none":
        return GELU
    if approximate == "tanh":
        return GELU_TANH
    raise ValueError(f"gelu() approximate must be 'none' or 'tanh', got {approximate!r}")


# The binary methods (``y.atan2(x)``, ...): their partial derivatives, then their entries.


def _over_hypot(a: float, r: float, b: float) -> float:
    # a / r for r = hypot(a, b), and its limit ±1 where a is infinite and b finite (not the nan
    # of inf / inf), so atan2's and hypot's slopes at an infinity are their limits.
    if math.isinf(a) and math.isfinite(b):
        return math.copysign(1.0, a)
    return _div(a, r)


def _atan2_backward(x: float, y: float, z: float, g: float) -> tuple[float, float]:
    # (y, -x) / (x² + y²), dividing by the hypotenuse twice so that no square overflows.
    r = _hypot(x, y)
    return _div(_over_hypot(y, r, x), r) * g, -_div(_over_hypot(x, r, y), r) * g


def _minimum(x: float, y: float) -> float:
    if math.isnan(x) or math.isnan(y):
        return _NAN
    return x if x < y or (x == y and math.copysign(1.0, x) < 0.0) else y


def _maximum(x: float, y: float) -> float:
    if math.isnan(x) or math.isnan(y):
        return _NAN
    return x if x > y or (x == y and math.copysign(1.0, x) > 0.0) else y


def _share(wx: float, wy: float, g: float) -> tuple[float, float]:
    """``g`` shared out by weights of 0, 1/2 or 1: 0 is exactly 0, 1 is ``g`` itself."""

    def part(w: float) -> float:
        return 0.0 if w == 0.0 else g if w == 1.0 else w * g

    return part(wx), part(wy)


def _minimum_backward(x: float, y: float, z: float, g: float) -> tuple[float, float]:
    # torch's rule: all to the smaller, half each at a tie, all to each where one is nan.
    if x == y:
        return _share(0.5, 0.5, g)
    return _share(0.0 if x > y else 1.0, 0.0 if x < y else 1.0, g)


def _maximum_backward(x: float, y: float, z: float, g: float) -> tuple[float, float]:
    if x == y:
        return _share(0.5, 0.5, g)
    return _share(0.0 if x < y else 1.0, 0.0 if x > y else 1.0, g)


ATAN2 = BinaryOp("atan2", math.atan2, _atan2_backward)
HYPOT = BinaryOp(
    "hypot", _hypot, lambda x, y, z, g: (_over_hypot(x, z, y) * g, _over_hypot(y, z, x) * g)
)
MINIMUM = BinaryOp("minimum", _minimum, _minimum_backward)
MAXIMUM = BinaryOp("maximum", _maximum, _maximum_backward)
# torch's gradient at the bound: to x where x >= lo (x <= hi), to the bound where x < lo (x > hi).
CLAMP_MIN = BinaryOp(
    "clamp_min", _maximum, lambda x, y, z, g: _share(float(x >= y), float(x < y), g)
)
CLAMP_MAX = BinaryOp(
    "clamp_max", _minimum, lambda x, y, z, g: _share(float(x <= y), float(x > y), g)
)


class NaryOp(NamedTuple):
    """``z = forward(xs)`` over all the operands' values; ``backward(xs, z, g)`` gives the
    increments as ``(operand index, ∂z/∂operand · g)`` pairs, in the order they are added."""

    name: str
    forward: Callable[[list[float]], float]
    backward: Callable[[list[float], float, float], Iterable[tuple[int, float]]]


def _sum_forward(xs: list[float]) -> float:
    z = 0.0  # left to right from 0.0
    for x in xs:
        z += x
    return z


def _dot_forward(xs: list[float]) -> float:
    n = len(xs) // 2
    z = 0.0  # left to right from 0.0; operands w0 ... wn-1, x0 ... xn-1
    for w, x in zip(xs[:n], xs[n:]):
        z += w * x
    return z


def _dot_backward(xs: list[float], z: float, g: float) -> Iterable[tuple[int, float]]:
    n = len(xs) // 2
    for i in range(n):
        w, x = xs[i], xs[n + i]
        yield i, x * g
        yield n + i, w * g


SUM = NaryOp("sum", _sum_forward, lambda xs, z, g: ((i, g) for i in range(len(xs))))
DOT = NaryOp("dot", _dot_forward, _dot_backward)


def _custom_refused(*args: object) -> NoReturn:
    raise TypeError("a custom op's node keeps its own op and partials (see CustomNode)")


#: The table's row of every user-defined op (ferrograd.custom_op): a node of one holds a
#: CustomNode instead, with the op's own name, forward and partials.
CUSTOM = NaryOp("custom", _custom_refused, _custom_refused)


class CustomNode(NamedTuple):
    """What a node of a custom op (``ferrograd.custom_op``) keeps as its op: the op, and the
    partials ``∂z/∂xᵢ`` its derivative gave at the node's operands when the node was built.
    Backward is ``xᵢ += pᵢ · g``."""

    op: object
    partials: tuple[float, ...]

    @property
    def name(self) -> str:
        """The custom op's own name."""
        return str(getattr(self.op, "name", "custom"))


#: Every op, in the order of its code in src-rust/ops.rs (a leaf, code 0, has no entry).
OPS: tuple[BinaryOp | UnaryOp | NaryOp, ...] = (
    ADD,
    SUB,
    MUL,
    DIV,
    POW,
    NEG,
    RELU,
    LEAKY_RELU,
    TANH,
    SIGMOID,
    EXP,
    LOG,
    SIN,
    COS,
    TAN,
    SQRT,
    ABS,
    SUM,
    DOT,
    ASIN,
    ACOS,
    ATAN,
    COT,
    SEC,
    CSC,
    ACOT,
    ASEC,
    ACSC,
    SINH,
    COSH,
    ASINH,
    ACOSH,
    ATANH,
    LOG1P,
    EXPM1,
    LOG2,
    LOG10,
    EXP2,
    CBRT,
    ERF,
    ERFC,
    SOFTPLUS,
    SILU,
    GELU,
    GELU_TANH,
    ATAN2,
    HYPOT,
    MINIMUM,
    MAXIMUM,
    CLAMP_MIN,
    CLAMP_MAX,
    CUSTOM,
)
_OPS_BY_NAME = {op.name: op for op in OPS}

#: Leaky ReLU's slope when none is given.
DEFAULT_SLOPE = 0.01

# ------------------------------------------------------------------------------------------------
# Argument conversion: the same rules, messages and exception types as the Rust bindings.
# ------------------------------------------------------------------------------------------------


def _real_number(obj: object) -> float | None:
    """``obj`` as a float when it is a real number (bool, int, float, numpy scalar), else None."""
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, int):
        return float(obj)
    if isinstance(obj, (str, bytes)):
        return None
    if not hasattr(obj, "__float__") or hasattr(obj, "__len__"):
        return None
    if hasattr(obj, "backward") or hasattr(obj, "tangent"):
        # A node of another graph (a ferrograd.Value, a tensor) or a dual number can be read as
        # a float too, but as a constant here it would silently drop its derivative.
        name = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise TypeError(
            f"a {name} carries a derivative, not a plain number: as a constant it would cut "
            "the gradient's path through it; pass x.data if a constant is meant"
        )
    if isinstance(obj, numbers.Complex) and not isinstance(obj, numbers.Real):
        return None
    return float(obj)


def _no_number(what: str) -> TypeError:
    """The ``TypeError`` for ``float(v)``, ``int(v)``, ``bool(v)``, ``math.exp(v)`` and ``v < w``
    on a Value (``what`` names the conversion): the same text as the Rust engine's."""
    return TypeError(
        f"{what}: the Value would become a plain number that carries no gradient, cutting "
        "the path through it without a word (math.exp(v), float(v), int(v), bool(v), `if v:` "
        "and v < w all do this); use v.data or v.item() for the number, v.exp() or "
        "ferrograd.exp(v) for the op, v.data < 0 for a branch"
    )


def _require_real(obj: object, what: str) -> float:
    x = _real_number(obj)
    if x is None:
        raise TypeError(f"{what} needs a real number, got {type(obj).__name__}")
    return x


def _operand(obj: object) -> Value | None:
    """A Value as it is, a number as a new constant leaf, anything else None."""
    if isinstance(obj, Value):
        return obj
    x = _real_number(obj)
    return None if x is None else Value(x)


def _method_operand(obj: object, what: str) -> Value:
    """The other operand of a method (``y.atan2(x)``): a Value as it is, a number as a new
    constant leaf, anything else ``TypeError`` naming ``what``."""
    o = _operand(obj)
    if o is None:
        raise TypeError(f"{what} needs a Value or a real number, got {type(obj).__name__}")
    return o


def _binary_operand(obj: object) -> Value | float | None:
    """A binary op's operand: a Value as it is, a number as a float (kept in the node, not a leaf
    node of its own), anything else None."""
    if isinstance(obj, Value):
        return obj
    return _real_number(obj)


def _values(items: Iterable[object], what: str) -> list[Value]:
    out = []
    for item in items:
        v = _operand(item)
        if v is None:
            raise TypeError(f"{what} needs Values or real numbers, got {type(item).__name__}")
        out.append(v)
    return out


# ------------------------------------------------------------------------------------------------
# The node.
# ------------------------------------------------------------------------------------------------

_Op = Union[BinaryOp, UnaryOp, NaryOp, CustomNode, str]
_Operand = Union["Value", int, float]


class Value:
    """A scalar in a differentiable expression graph, in plain Python.

    ``data`` is the forward value, ``grad`` the accumulated adjoint; ``children`` are the operands
    in operand order and ``op`` the name of the op that made the node ("" for a leaf).

    A binary op's operand that is a plain number (``x + 2.0``) is kept in ``_children`` as the float
    itself, not as a leaf node: it gets no adjoint, and ``children`` shows it as a new leaf.
    """

    __slots__ = ("__weakref__", "_children", "_data", "_grad", "_label", "_op", "_param")

    def __init__(self, data: object, label: str = "") -> None:
        """A leaf holding ``float(data)``; ``TypeError`` naming the type if not a real number."""
        self._data = _require_real(data, "Value()")
        self._grad = 0.0
        self._op: _Op = ""
        self._children: tuple[Value | float, ...] = ()
        self._param = 0.0
        # None is no label, as in the Rust engine (where an omitted and a None argument are one)
        self.label = "" if label is None else label

    @classmethod
    def _node(
        cls, op: _Op, data: float, children: tuple[Value | float, ...], param: float = 0.0
    ) -> Value:
        v = cls.__new__(cls)
        v._data, v._grad, v._label = data, 0.0, ""
        v._op, v._children, v._param = op, children, param
        if _anomaly_threads and _anomaly.on and not math.isfinite(data):
            raise FloatingPointError(_forward_anomaly(v))
        if _no_grad_threads and _no_grad.on:
            # no_grad: a leaf with the value (after the anomaly check, which names operands).
            v._op, v._children, v._param = "", (), 0.0
        return v

    # -- state --------------------------------------------------------------------------------

    @property
    def data(self) -> float:
        """The forward value. Settable; a non-number raises ``TypeError``."""
        return self._data

    @data.setter
    def data(self, value: object) -> None:
        self._data = _require_real(value, "Value.data")

    @property
    def grad(self) -> float:
        """The accumulated adjoint, 0.0 until a ``backward()`` reaches this node. Settable."""
        return self._grad

    @grad.setter
    def grad(self, value: object) -> None:
        self._grad = _require_real(value, "Value.grad")

    @property
    def label(self) -> str:
        """A name shown by pictures and error messages; "" when unset."""
        return self._label

    @label.setter
    def label(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Value.label must be a str, got {type(value).__name__}")
        if value:
            value.encode()  # UnicodeEncodeError for a lone surrogate, as the Rust engine raises
        self._label = value

    @property
    def op(self) -> str:
        """The op that made this node: "" for a leaf, else "+", "*", "**", "tanh", ..."""
        return self._op if isinstance(self._op, str) else self._op.name

    @property
    def children(self) -> tuple[Value, ...]:
        """The operands, in operand order (``a * a`` has two). A plain-number operand
        (``x + 2.0``) comes as a new leaf holding the number on each read: it is not part of the
        graph, so its grad stays 0.0 and changing it changes nothing."""
        return tuple(Value(c) if isinstance(c, float) else c for c in self._children)

    # -- linking nodes ------------------------------------------------------------------------

    def _binary(self, op: BinaryOp, x: Value | float, y: Value | float) -> Value:
        xd = x if isinstance(x, float) else x._data
        yd = y if isinstance(y, float) else y._data
        return Value._node(op, op.forward(xd, yd), (x, y))

    def _unary(self, op: UnaryOp, param: float = 0.0) -> Value:
        return Value._node(op, op.forward(self._data, param), (self,), param)

    def __add__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(ADD, self, o)

    def __radd__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(ADD, o, self)

    def __sub__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(SUB, self, o)

    def __rsub__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(SUB, o, self)

    def __mul__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(MUL, self, o)

    def __rmul__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(MUL, o, self)

    def __truediv__(self, other: _Operand) -> Value:
        """IEEE division: ``x / 0`` is ±inf, ``0 / 0`` is nan."""
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(DIV, self, o)

    def __rtruediv__(self, other: _Operand) -> Value:
        o = _binary_operand(other)
        return NotImplemented if o is None else self._binary(DIV, o, self)

    def __pow__(self, exponent: _Operand, modulo: None = None) -> Value:
        """IEEE ``pow``; the exponent may be a Value. ``(-8) ** (1/3)`` is nan."""
        if modulo is not None:
            raise TypeError("pow() with a modulus is not defined for Value")
        o = _binary_operand(exponent)
        return NotImplemented if o is None else self._binary(POW, self, o)

    def __rpow__(self, base: _Operand, modulo: None = None) -> Value:
        if modulo is not None:
            raise TypeError("pow() with a modulus is not defined for Value")
        o = _binary_operand(base)
        return NotImplemented if o is None else self._binary(POW, o, self)

    def __neg__(self) -> Value:
        return self._unary(NEG)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        """``|x|``, with derivative 0 at 0."""
        return self._unary(ABS)

    def relu(self) -> Value:
        """``max(0, x)``, with derivative 0 at 0."""
        return self._unary(RELU)

    def leaky_relu(self, slope: object = DEFAULT_SLOPE) -> Value:
        """``x`` where positive, else ``slope * x``; ``ValueError`` unless slope is finite, >= 0.

        ``slope=None`` means the default, 0.01, as in the Rust engine.
        """
        s = DEFAULT_SLOPE if slope is None else _require_real(slope, "leaky_relu() slope")
        if not (math.isfinite(s) and s >= 0.0):
            raise ValueError(f"leaky_relu() needs a finite slope >= 0, got {s}")
        return self._unary(LEAKY_RELU, s)

    def tanh(self) -> Value:
        """Hyperbolic tangent (never overflows)."""
        return self._unary(TANH)

    def sigmoid(self) -> Value:
        """Logistic sigmoid ``1 / (1 + exp(-x))`` in its stable form."""
        return self._unary(SIGMOID)

    def exp(self) -> Value:
        """``e ** x``; overflows to inf."""
        return self._unary(EXP)

    def log(self, base: object = None) -> Value:
        """The natural logarithm, or with a base (a number or a Value) the logarithm
        ``ln(self) / ln(base)`` to that base. ``log(0)`` is -inf, negative inputs give nan."""
        ln = self._unary(LOG)
        if base is None:
            return ln
        if isinstance(base, Value):
            ln_base = base._unary(LOG)
        else:
            ln_base = Value(_log(_require_real(base, "log() base")))
        return ln._binary(DIV, ln, ln_base)

    def sin(self) -> Value:
        return self._unary(SIN)

    def cos(self) -> Value:
        return self._unary(COS)

    def tan(self) -> Value:
        return self._unary(TAN)

    def sqrt(self) -> Value:
        """Square root; negative inputs give nan."""
        return self._unary(SQRT)

    def asin(self) -> Value:
        """Arcsine: nan outside [-1, 1]; the derivative is inf at ±1."""
        return self._unary(ASIN)

    arcsin = asin

    def acos(self) -> Value:
        """Arccosine, in [0, pi]: nan outside [-1, 1]; the derivative
        -1 / sqrt(1 - x²) is -inf at ±1.
        """
        return self._unary(ACOS)

    arccos = acos

    def atan(self) -> Value:
        """Arctangent, in [-pi/2, pi/2]; the derivative is 1 / (1 + x²)."""
        return self._unary(ATAN)

    arctan = atan

    def cot(self) -> Value:
        """Cotangent 1 / tan(x) (radians): ±inf at ±0; the derivative is -(1 + cot²(x))."""
        return self._unary(COT)

    def sec(self) -> Value:
        """Secant 1 / cos(x) (radians); the derivative is sec(x) tan(x)."""
        return self._unary(SEC)

    def csc(self) -> Value:
        """Cosecant 1 / sin(x) (radians): ±inf at ±0; the derivative is -csc(x) / tan(x)."""
        return self._unary(CSC)

    def acot(self) -> Value:
        """Arccotangent atan(1 / x), in (-pi/2, pi/2]: pi/2 at 0 and -pi/2 at -0.0;
        the derivative is -1 / (1 + x²).
        """
        return self._unary(ACOT)

    def asec(self) -> Value:
        """Arcsecant acos(1 / x), in [0, pi]: nan where |x| < 1; the derivative
        1 / (|x| sqrt(x² - 1)) is inf at ±1.
        """
        return self._unary(ASEC)

    def acsc(self) -> Value:
        """Arccosecant asin(1 / x), in [-pi/2, pi/2]: nan where |x| < 1; the derivative
        -1 / (|x| sqrt(x² - 1)) is -inf at ±1.
        """
        return self._unary(ACSC)

    def sinh(self) -> Value:
        """Hyperbolic sine; overflows to ±inf. The derivative is cosh(x)."""
        return self._unary(SINH)

    def cosh(self) -> Value:
        """Hyperbolic cosine; overflows to inf. The derivative is sinh(x)."""
        return self._unary(COSH)

    def asinh(self) -> Value:
        """Inverse hyperbolic sine; the derivative 1 / sqrt(1 + x²) is taken as 1 / |x|
        where 1 + x² rounds to x², so it never overflows to 0.
        """
        return self._unary(ASINH)

    arcsinh = asinh

    def acosh(self) -> Value:
        """Inverse hyperbolic cosine: nan where x < 1; the derivative
        1 / sqrt(x² - 1) is inf at 1.
        """
        return self._unary(ACOSH)

    arccosh = acosh

    def atanh(self) -> Value:
        """Inverse hyperbolic tangent: ±inf at ±1, nan where |x| > 1; the derivative
        1 / (1 - x²) is inf at ±1 and nan where |x| > 1.
        """
        return self._unary(ATANH)

    arctanh = atanh

    def log1p(self) -> Value:
        """`log(1 + x)`, accurate near 0: -inf at -1, nan below -1."""
        return self._unary(LOG1P)

    def expm1(self) -> Value:
        """`exp(x) - 1`, accurate near 0; overflows to inf."""
        return self._unary(EXPM1)

    def log2(self) -> Value:
        """Base-2 logarithm: -inf at 0, nan for negative inputs."""
        return self._unary(LOG2)

    def log10(self) -> Value:
        """Base-10 logarithm: -inf at 0, nan for negative inputs."""
        return self._unary(LOG10)

    def exp2(self) -> Value:
        """`2 ** x`; overflows to inf."""
        return self._unary(EXP2)

    def cbrt(self) -> Value:
        """Cube root, negative for negative inputs; the derivative is inf at 0."""
        return self._unary(CBRT)

    def erf(self) -> Value:
        """The error function, the C library's."""
        return self._unary(ERF)

    def erfc(self) -> Value:
        """`1 - erf(x)`, accurate where it is small (large x), the C library's."""
        return self._unary(ERFC)

    def softplus(self) -> Value:
        """`log(1 + exp(x))` in a form that never overflows; the derivative is `sigmoid(x)`."""
        return self._unary(SOFTPLUS)

    def silu(self) -> Value:
        """`x * sigmoid(x)` (SiLU, also called swish)."""
        return self._unary(SILU)

    def gelu(self, approximate: object = "none") -> Value:
        """GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation."""
        return self._unary(_gelu_op(approximate))

    def atan2(self, other: _Operand) -> Value:
        """``atan2(self, other)``: the angle of the point ``(other, self)`` in radians, in
        [-π, π], its quadrant picked by the signs, zeros' included (``atan2(-0.0, -1.0)`` is
        -π). Gradient ``(other, -self) / (self² + other²)``, nan at the origin."""
        return self._binary(ATAN2, self, _method_operand(other, "atan2()"))

    def hypot(self, other: _Operand) -> Value:
        """``sqrt(self² + other²)``, without overflow or underflow on the way (libm's
        ``hypot``); ``hypot(inf, nan)`` is inf, as IEEE says. Gradient
        ``(self, other) / hypot(self, other)``, nan at the origin."""
        return self._binary(HYPOT, self, _method_operand(other, "hypot()"))

    def minimum(self, other: _Operand) -> Value:
        """The smaller of ``self`` and ``other``: nan if either is nan, -0.0 below 0.0. At a
        tie the gradient is split evenly between the two, as torch does."""
        return self._binary(MINIMUM, self, _method_operand(other, "minimum()"))

    def maximum(self, other: _Operand) -> Value:
        """The larger of ``self`` and ``other``: nan if either is nan, 0.0 above -0.0. At a
        tie the gradient is split evenly between the two, as torch does."""
        return self._binary(MAXIMUM, self, _method_operand(other, "maximum()"))

    def clamp_min(self, other: _Operand) -> Value:
        """``self`` bounded below by ``other`` (``maximum``'s value), with torch's gradient:
        to ``self`` where ``self >= other``, to ``other`` where ``self < other``."""
        return self._binary(CLAMP_MIN, self, _method_operand(other, "clamp_min()"))

    def clamp_max(self, other: _Operand) -> Value:
        """``self`` bounded above by ``other`` (``minimum``'s value), with torch's gradient:
        to ``self`` where ``self <= other``, to ``other`` where ``self > other``."""
        return self._binary(CLAMP_MAX, self, _method_operand(other, "clamp_max()"))

    def clamp(self, lo: _Operand | None = None, hi: _Operand | None = None) -> Value:
        """``self`` bounded below by ``lo`` and above by ``hi``, each a number, a Value or None
        (no bound): ``clamp_min(lo)``, then ``clamp_max(hi)``. The gradient reaches ``self``
        where ``lo <= self <= hi``; where ``lo > hi`` the result is ``hi``."""
        if lo is None and hi is None:
            raise TypeError("clamp() needs lo or hi (or both), got neither")
        z = self
        if lo is not None:
            z = z._binary(CLAMP_MIN, z, _method_operand(lo, "clamp() lo"))
        if hi is not None:
            z = z._binary(CLAMP_MAX, z, _method_operand(hi, "clamp() hi"))
        return z

    def arctan2(self, other: _Operand) -> Value:
        """numpy's name for ``atan2()``: the same op."""
        return self.atan2(other)

    def detach(self) -> Value:
        """A new leaf with this node's value (grad 0.0, no label): gradients stop at it."""
        return Value(self._data)

    # -- the reverse sweep --------------------------------------------------------------------

    def _topo_order(self) -> list[Value]:
        """Every ancestor of this node, operands before their users, each once, itself last.

        Depth-first with an explicit stack, children in operand order; a leaf joins the order
        as soon as it is first seen, an op node once all its operands have joined. This is the
        exact order of the Rust engine, so gradients accumulate in the same order.
        """
        order: list[Value] = []
        seen = {id(self)}
        stack: list[tuple[Value, int]] = [(self, 0)]
        while stack:
            node, i = stack[-1]
            if i < len(node._children):
                stack[-1] = (node, i + 1)
                child = node._children[i]
                if isinstance(child, float):
                    continue  # a plain-number operand, not a node
                if id(child) not in seen:
                    seen.add(id(child))
                    if child._children or child._op:
                        stack.append((child, 0))
                    else:
                        order.append(child)
            else:
                stack.pop()
                order.append(node)
        return order

    def backward(self) -> None:
        """One reverse sweep from this node.

        Fresh adjoints, seeded with 1.0 here, are added to the ``grad`` of every ancestor, so k
        calls give k times the gradient. Linear in the number of nodes, never recursive.
        """
        order = self._topo_order()
        saved = [v._grad for v in order]
        for v in order:
            v._grad = 0.0
        self._grad = 1.0
        anomaly = ""
        for v, s in zip(reversed(order), reversed(saved)):
            v._propagate()
            if _anomaly_threads and _anomaly.on and not anomaly:
                anomaly = _backward_anomaly(v)
            v._grad += s
        if anomaly:
            raise FloatingPointError(anomaly)

    def _propagate(self) -> None:
        """Adds this node's contribution to its operands' grads (the chain rule, one step)."""
        op, g = self._op, self._grad
        if isinstance(op, BinaryOp):
            x, y = self._children
            if isinstance(y, float):  # x op k: k gets no adjoint
                assert isinstance(x, Value)
                x._grad += op.backward(x._data, y, self._data, g)[0]
            elif isinstance(x, float):  # k op y
                y._grad += op.backward(x, y._data, self._data, g)[1]
            else:
                dx, dy = op.backward(x._data, y._data, self._data, g)
                x._grad += dx
                y._grad += dy
        elif isinstance(op, UnaryOp):
            (x,) = self._children
            assert isinstance(x, Value)
            x._grad += op.backward(x._data, self._data, g, self._param)
        elif isinstance(op, NaryOp):
            children = self._nodes()
            for i, d in op.backward([x._data for x in children], self._data, g):
                children[i]._grad += d
        elif isinstance(op, CustomNode):
            for x, p in zip(self._nodes(), op.partials):
                x._grad += p * g

    def _nodes(self) -> list[Value]:
        """The operands that are nodes (every operand but a plain number), in operand order."""
        return [c for c in self._children if not isinstance(c, float)]

    # -- Python protocols ---------------------------------------------------------------------

    # A Value is refused wherever a plain number is expected: the number would carry no
    # gradient, and the path through it would be cut silently (``x * math.exp(x)``).

    def __float__(self) -> float:
        """Refused: ``TypeError`` saying what to use (``v.data``, ``v.exp()``, ...)."""
        raise _no_number("float(v)")

    def __int__(self) -> int:
        """Refused, as ``float()``."""
        raise _no_number("int(v)")

    def __index__(self) -> int:
        """Refused, as ``float()`` (an index is a plain number too)."""
        raise _no_number("int(v)")

    def __bool__(self) -> bool:
        """Refused: ``if v:`` would branch on a number that carries no gradient."""
        raise _no_number("bool(v)")

    def __round__(self, ndigits: object = None) -> int:
        """Refused, as ``float()``."""
        raise _no_number("round(v)")

    def __lt__(self, other: object) -> bool:
        """Refused: an ordering compares numbers that carry no gradient."""
        raise _no_number("v < w")

    def __le__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_number("v <= w")

    def __gt__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_number("v > w")

    def __ge__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_number("v >= w")

    def item(self) -> float:
        """``data``, the forward value, as a float (torch's ``item()``): the number, without its
        gradient."""
        return self._data

    def __format__(self, spec: str) -> str:
        """``format(v.data, spec)``, so f-strings such as ``f"{loss:.4f}"`` work; an empty spec is
        ``str(v)``, as for any object."""
        return format(self._data, spec) if spec else repr(self)

    def __repr__(self) -> str:
        label = f", label={self._label!r}" if self._label else ""
        return f"Value(data={self._data!r}, grad={self._grad!r}{label})"

    def __eq__(self, other: object) -> bool:
        """Identity: two handles are equal when they are the same node."""
        if not isinstance(other, Value):
            return NotImplemented
        return self is other

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self is not other

    __hash__ = object.__hash__

    def __reduce__(self) -> tuple[Callable[..., Value], tuple[list[_Record]]]:
        """Pickles the whole graph behind this node (operands, grads, labels), as the Rust
        engine does: flattened into a list, so a graph of any depth pickles without recursion."""
        order = self._topo_order()
        index = {id(v): i for i, v in enumerate(order)}
        # An operand is its node's index in the list, or the plain number itself.
        records = [
            (
                v._op if isinstance(v._op, CustomNode) else v.op,
                v._data,
                v._grad,
                v._label,
                v._param,
                tuple(c if isinstance(c, float) else index[id(c)] for c in v._children),
            )
            for v in order
        ]
        return _graph_from_records, (records,)


_Record = tuple[Union[str, CustomNode], float, float, str, float, tuple[Union[int, float], ...]]


def _graph_from_records(records: list[_Record]) -> Value:
    """Rebuilds a graph pickled by ``Value.__reduce__`` and returns its root.

    Restoring runs no op, so anomaly mode does not check it (as in the Rust engine): a graph
    that holds a NaN unpickles, and the anomaly is reported where an op computes with it.
    An operand is an index into the records or, for a plain-number operand, a float (records
    written before numbers were kept in nodes hold indices only, and read back as they were).
    """
    built: list[Value] = []
    for op, data, grad, label, param, children in records:
        v = Value.__new__(Value)
        v._data, v._grad, v._label = data, grad, label
        entry = op if isinstance(op, CustomNode) else _OPS_BY_NAME.get(op, op)
        operands = tuple(i if isinstance(i, float) else built[i] for i in children)
        v._op, v._children, v._param = entry, operands, param
        built.append(v)
    return built[-1]


# ------------------------------------------------------------------------------------------------
# Fused n-ary ops: one node for many operands.
# ------------------------------------------------------------------------------------------------


def sum(values: Iterable[_Operand]) -> Value:
    """``values[0] + values[1] + ...`` as one graph node, summed left to right from 0.0."""
    operands = _values(values, "sum()")
    return Value._node(SUM, SUM.forward([v._data for v in operands]), tuple(operands))


def dot(ws: Iterable[_Operand], xs: Iterable[_Operand]) -> Value:
    """``ws[0]*xs[0] + ws[1]*xs[1] + ...`` as one graph node; ``ValueError`` on unequal lengths."""
    w, x = _values(ws, "dot()"), _values(xs, "dot()")
    if len(w) != len(x):
        raise ValueError(f"dot() needs two sequences of the same length, got {len(w)} and {len(x)}")
    operands = w + x
    return Value._node(DOT, DOT.forward([v._data for v in operands]), tuple(operands))


def _custom(
    op: object, name: str, data: float, partials: list[float], operands: Iterable[object]
) -> Value:
    """A node of the custom op ``op`` (see ``ferrograd.custom_op``) with value ``data`` and the
    partials its derivative gave, over ``operands`` (Values or numbers, as constants)."""
    prev = tuple(_values(operands, name))
    if len(partials) != len(prev):
        raise ValueError(
            f"custom op {name!r} takes {len(prev)} operands, so its derivative must give "
            f"{len(prev)} partials, got {len(partials)}"
        )
    return Value._node(CustomNode(op, tuple(partials)), data, prev)


# ------------------------------------------------------------------------------------------------
# Forward mode: a dual number whose tangent rules are the op table's backward entries, read with
# the adjoint g replaced by the tangent (∂z/∂x · t is what backward(x, z, t) returns). The Rust
# Dual evaluates the op table's forward formulas in dual arithmetic instead, so the two agree to
# rounding, not always to the last bit.
# ------------------------------------------------------------------------------------------------


class Dual:
    """A number with a tangent, in plain Python: ``ferrograd.Dual``'s twin for this engine.

    >>> from ferrograd import reference
    >>> y = reference.Dual(2.0, 1.0).log()
    >>> y.data, y.tangent
    (0.6931471805599453, 0.5)

    Has every op of ``Value``; a zero tangent stays exactly zero (so an infinite derivative where
    nothing moves gives no NaN). Immutable; mixing with a Value raises ``TypeError``.
    """

    __slots__ = ("_data", "_tangent")

    def __init__(self, data: object, tangent: object = None) -> None:
        """``data`` with derivative ``tangent`` (None means 0.0: a constant)."""
        self._data = _require_real(data, "Dual()")
        self._tangent = 0.0 if tangent is None else _require_real(tangent, "Dual() tangent")

    @classmethod
    def _make(cls, data: float, tangent: float) -> Dual:
        d = cls.__new__(cls)
        d._data, d._tangent = data, tangent
        return d

    @property
    def data(self) -> float:
        """The value."""
        return self._data

    @property
    def tangent(self) -> float:
        """The derivative carried along."""
        return self._tangent

    def _binary(self, op: BinaryOp, x: Dual, y: Dual) -> Dual:
        z = op.forward(x._data, y._data)
        if op is DIV:
            # The quotient rule as the core's dual numbers round it, (tx - ty·z) / y, so the
            # two Duals (and Tape.jvp) agree bit for bit; a zero tangent stays zero.
            if x._tangent == 0.0 and y._tangent == 0.0:
                return Dual._make(z, 0.0)
            ty_z = y._tangent * z if y._tangent != 0.0 else 0.0
            return Dual._make(z, _div(x._tangent - ty_z, y._data))
        tx = op.backward(x._data, y._data, z, x._tangent)[0] if x._tangent != 0.0 else 0.0
        ty = op.backward(x._data, y._data, z, y._tangent)[1] if y._tangent != 0.0 else 0.0
        return Dual._make(z, tx + ty)

    def _unary(self, op: UnaryOp, param: float = 0.0) -> Dual:
        x, t = self._data, self._tangent
        z = op.forward(x, param)
        # The slope at x (the op's backward with g = 1) times the tangent, as ferrograd.Dual
        # computes it: backward with g = t would round g / x differently from (1 / x) * t.
        return Dual._make(z, op.backward(x, z, 1.0, param) * t if t != 0.0 else 0.0)

    def __add__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(ADD, self, o)

    def __radd__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(ADD, o, self)

    def __sub__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(SUB, self, o)

    def __rsub__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(SUB, o, self)

    def __mul__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(MUL, self, o)

    def __rmul__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(MUL, o, self)

    def __truediv__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(DIV, self, o)

    def __rtruediv__(self, other: _DualOperand) -> Dual:
        o = _dual_operand(other)
        return NotImplemented if o is None else self._binary(DIV, o, self)

    def __pow__(self, exponent: _DualOperand, modulo: None = None) -> Dual:
        if modulo is not None:
            raise TypeError("pow() with a modulus is not supported for Dual")
        o = _dual_operand(exponent)
        return NotImplemented if o is None else self._binary(POW, self, o)

    def __rpow__(self, base: _DualOperand, modulo: None = None) -> Dual:
        if modulo is not None:
            raise TypeError("pow() with a modulus is not supported for Dual")
        o = _dual_operand(base)
        return NotImplemented if o is None else self._binary(POW, o, self)

    def __neg__(self) -> Dual:
        return self._unary(NEG)

    def __pos__(self) -> Dual:
        return self

    def __abs__(self) -> Dual:
        return self._unary(ABS)

    def relu(self) -> Dual:
        """``max(0, x)``, with derivative 0 at 0."""
        return self._unary(RELU)

    def leaky_relu(self, slope: object = DEFAULT_SLOPE) -> Dual:
        """``x`` where positive, else ``slope * x``; ``slope=None`` means 0.01."""
        s = DEFAULT_SLOPE if slope is None else _require_real(slope, "leaky_relu() slope")
        if not (math.isfinite(s) and s >= 0.0):
            raise ValueError(f"leaky_relu() needs a finite slope >= 0, got {s}")
        return self._unary(LEAKY_RELU, s)

    def tanh(self) -> Dual:
        return self._unary(TANH)

    def sigmoid(self) -> Dual:
        return self._unary(SIGMOID)

    def exp(self) -> Dual:
        return self._unary(EXP)

    def log(self, base: object = None) -> Dual:
        """The natural logarithm, or with a base (a number or a Dual) the logarithm
        ``ln(self) / ln(base)`` to that base."""
        ln = self._unary(LOG)
        if base is None:
            return ln
        if isinstance(base, Dual):
            ln_base = base._unary(LOG)
        else:
            ln_base = Dual._make(_log(_require_real(base, "log() base")), 0.0)
        return ln._binary(DIV, ln, ln_base)

    def sin(self) -> Dual:
        return self._unary(SIN)

    def cos(self) -> Dual:
        return self._unary(COS)

    def tan(self) -> Dual:
        return self._unary(TAN)

    def sqrt(self) -> Dual:
        return self._unary(SQRT)

    def asin(self) -> Dual:
        return self._unary(ASIN)

    arcsin = asin

    def acos(self) -> Dual:
        return self._unary(ACOS)

    arccos = acos

    def atan(self) -> Dual:
        return self._unary(ATAN)

    arctan = atan

    def cot(self) -> Dual:
        return self._unary(COT)

    def sec(self) -> Dual:
        return self._unary(SEC)

    def csc(self) -> Dual:
        return self._unary(CSC)

    def acot(self) -> Dual:
        return self._unary(ACOT)

    def asec(self) -> Dual:
        return self._unary(ASEC)

    def acsc(self) -> Dual:
        return self._unary(ACSC)

    def sinh(self) -> Dual:
        return self._unary(SINH)

    def cosh(self) -> Dual:
        return self._unary(COSH)

    def asinh(self) -> Dual:
        return self._unary(ASINH)

    arcsinh = asinh

    def acosh(self) -> Dual:
        return self._unary(ACOSH)

    arccosh = acosh

    def atanh(self) -> Dual:
        return self._unary(ATANH)

    arctanh = atanh

    def log1p(self) -> Dual:
        """`log(1 + x)`, accurate near 0: -inf at -1, nan below -1."""
        return self._unary(LOG1P)

    def expm1(self) -> Dual:
        """`exp(x) - 1`, accurate near 0; overflows to inf."""
        return self._unary(EXPM1)

    def log2(self) -> Dual:
        """Base-2 logarithm: -inf at 0, nan for negative inputs."""
        return self._unary(LOG2)

    def log10(self) -> Dual:
        """Base-10 logarithm: -inf at 0, nan for negative inputs."""
        return self._unary(LOG10)

    def exp2(self) -> Dual:
        """`2 ** x`; overflows to inf."""
        return self._unary(EXP2)

    def cbrt(self) -> Dual:
        """Cube root, negative for negative inputs; the derivative is inf at 0."""
        return self._unary(CBRT)

    def erf(self) -> Dual:
        """The error function, the C library's."""
        return self._unary(ERF)

    def erfc(self) -> Dual:
        """`1 - erf(x)`, accurate where it is small (large x), the C library's."""
        return self._unary(ERFC)

    def softplus(self) -> Dual:
        """`log(1 + exp(x))` in a form that never overflows; the derivative is `sigmoid(x)`."""
        return self._unary(SOFTPLUS)

    def silu(self) -> Dual:
        """`x * sigmoid(x)` (SiLU, also called swish)."""
        return self._unary(SILU)

    def gelu(self, approximate: object = "none") -> Dual:
        """GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation."""
        return self._unary(_gelu_op(approximate))

    def atan2(self, other: _DualOperand) -> Dual:
        return self._binary(ATAN2, self, _method_dual(other, "atan2()"))

    def hypot(self, other: _DualOperand) -> Dual:
        return self._binary(HYPOT, self, _method_dual(other, "hypot()"))

    def minimum(self, other: _DualOperand) -> Dual:
        return self._binary(MINIMUM, self, _method_dual(other, "minimum()"))

    def maximum(self, other: _DualOperand) -> Dual:
        return self._binary(MAXIMUM, self, _method_dual(other, "maximum()"))

    def clamp_min(self, other: _DualOperand) -> Dual:
        return self._binary(CLAMP_MIN, self, _method_dual(other, "clamp_min()"))

    def clamp_max(self, other: _DualOperand) -> Dual:
        return self._binary(CLAMP_MAX, self, _method_dual(other, "clamp_max()"))

    def clamp(self, lo: _DualOperand | None = None, hi: _DualOperand | None = None) -> Dual:
        """``self`` bounded below by ``lo`` and above by ``hi``, each a number, a Dual or None
        (no bound): ``clamp_min(lo)``, then ``clamp_max(hi)``."""
        if lo is None and hi is None:
            raise TypeError("clamp() needs lo or hi (or both), got neither")
        z = self
        if lo is not None:
            z = z._binary(CLAMP_MIN, z, _method_dual(lo, "clamp() lo"))
        if hi is not None:
            z = z._binary(CLAMP_MAX, z, _method_dual(hi, "clamp() hi"))
        return z

    def arctan2(self, other: _DualOperand) -> Dual:
        """numpy's name for ``atan2()``: the same op."""
        return self.atan2(other)

    # A Dual is refused wherever a plain number is expected, as a Value is: the number would
    # carry no tangent, and the derivative through it would be cut silently.

    def __float__(self) -> float:
        """Refused: ``TypeError`` saying what to use (``d.data``, ``d.exp()``, ...)."""
        raise _no_dual_number("float(d)")

    def __int__(self) -> int:
        """Refused, as ``float()``."""
        raise _no_dual_number("int(d)")

    def __index__(self) -> int:
        """Refused, as ``float()`` (an index is a plain number too)."""
        raise _no_dual_number("int(d)")

    def __bool__(self) -> bool:
        """Refused: ``if d:`` would branch on a number that carries no tangent."""
        raise _no_dual_number("bool(d)")

    def __round__(self, ndigits: object = None) -> int:
        """Refused, as ``float()``."""
        raise _no_dual_number("round(d)")

    def __lt__(self, other: object) -> bool:
        """Refused: an ordering compares numbers that carry no tangent."""
        raise _no_dual_number("d < e")

    def __le__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_dual_number("d <= e")

    def __gt__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_dual_number("d > e")

    def __ge__(self, other: object) -> bool:
        """Refused, as ``<``."""
        raise _no_dual_number("d >= e")

    def item(self) -> float:
        """``data``, the value, as a float: the number, without its tangent."""
        return self._data

    def __format__(self, spec: str) -> str:
        """``format(d.data, spec)``, so f-strings work; an empty spec is ``str(d)``."""
        return format(self._data, spec) if spec else repr(self)

    def __repr__(self) -> str:
        return f"Dual(data={self._data!r}, tangent={self._tangent!r})"


def _no_dual_number(what: str) -> TypeError:
    """The ``TypeError`` for ``float(d)``, ``int(d)``, ``bool(d)``, ``math.exp(d)`` and ``d < e``
    on a Dual: the same text as the Rust engine's."""
    return TypeError(
        f"{what}: the Dual would become a plain number that carries no tangent, cutting "
        "the derivative through it without a word (math.exp(d), float(d), int(d), bool(d), "
        "`if d:` and d < e all do this); use d.data or d.item() for the number, d.exp() or "
        "ferrograd.exp(d) for the op, d.data < 0 for a branch"
    )


_DualOperand = Union[Dual, int, float]


def _dual_operand(obj: object) -> Dual | None:
    """A Dual as it is, a number as a constant (tangent 0), anything else None."""
    if isinstance(obj, Dual):
        return obj
    x = _real_number(obj)
    return None if x is None else Dual._make(x, 0.0)


def _method_dual(obj: object, what: str) -> Dual:
    """The other operand of a method: a Dual, a number as a constant, else ``TypeError``."""
    o = _dual_operand(obj)
    if o is None:
        raise TypeError(f"{what} needs a Dual or a real number, got {type(obj).__name__}")
    return o


# ------------------------------------------------------------------------------------------------
# Anomaly mode (ferrograd.detect_anomaly): per thread, off by default. The messages read like the
# Rust engine's. While no thread has it on, an op tests one module global and nothing else.
# ------------------------------------------------------------------------------------------------


class _AnomalyMode(threading.local):
    on = False


_anomaly = _AnomalyMode()
_anomaly_threads = 0  # how many threads have the mode on
_anomaly_lock = threading.Lock()


def _set_detect_anomaly(on: bool) -> bool:
    """Turns anomaly mode on or off for this thread; returns the previous setting."""
    global _anomaly_threads
    with _anomaly_lock:
        previous, _anomaly.on = _anomaly.on, bool(on)
        _anomaly_threads += _anomaly.on - previous
    return previous


# no_grad (ferrograd.no_grad): per thread, off by default, kept as anomaly mode is.


class _NoGradMode(threading.local):
    on = False


_no_grad = _NoGradMode()
_no_grad_threads = 0  # how many threads have the mode on


def _set_no_grad(on: bool) -> bool:
    """Turns no_grad on or off for this thread; returns the previous setting."""
    global _no_grad_threads
    with _anomaly_lock:
        previous, _no_grad.on = _no_grad.on, bool(on)
        _no_grad_threads += _no_grad.on - previous
    return previous


def _no_grad_on() -> bool:
    """Whether no_grad is on for this thread."""
    return _no_grad.on


def _operand_text(v: Value, with_grad: bool) -> str:
    named = f"{v._label}=" if v._label else ""
    return f"{named}{v._data!r}" + (f" (grad {v._grad!r})" if with_grad else "")


def _forward_anomaly(z: Value) -> str:
    inputs = ", ".join(_operand_text(v, False) for v in z.children)
    return f"op {z.op!r} produced {z._data!r} in its forward pass from inputs ({inputs})"


def _backward_anomaly(z: Value) -> str:
    """The message when ``z``'s backward left NaN or inf in an operand's grad, else ""."""
    if all(math.isfinite(v._grad) for v in z._nodes()):
        return ""
    label = f" {z._label!r}" if z._label else ""
    operands = ", ".join(_operand_text(v, True) for v in z.children)
    return (
        f"op {z.op!r}{label} produced a non-finite gradient in its backward pass "
        f"(its own grad {z._grad!r}); operands: ({operands})"
    )
