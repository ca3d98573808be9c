"""The compiled core of ferrograd. Import from `ferrograd`, not here."""

from collections.abc import Iterable, Sequence
from typing import Any, NoReturn, SupportsFloat, final

import numpy as np
from typing_extensions import TypeAlias

__all__ = [
    "DEFAULT_SLOPE",
    "Dual",
    "Tape",
    "Value",
    "_adam_step",
    "_array_headers_direct",
    "_custom",
    "_dense",
    "_dense_layers",
    "_dense_neurons",
    "_set_detect_anomaly",
    "_set_no_grad",
    "_sgd_step",
    "_value_from_bytes",
    "_vmath",
    "_vmath_isas",
    "dot",
    "op_table",
    "sum",
]

# A real number: int, float, bool or anything with __float__ that is not complex, a container or
# a str. A Value, a Dual or another engine's node is refused at run time (TypeError): read as a
# number it would drop its derivative.
_Number: TypeAlias = int | float | SupportsFloat
# What an operator of Value takes; anything else returns NotImplemented, so Python raises
# TypeError (a Dual and a Value do not mix).
_Operand: TypeAlias = Value | int | float
_DualOperand: TypeAlias = Dual | int | float

@final
class Value:
    """A scalar in a differentiable expression graph (a node held by the Rust core).

    A number combined with a Value by an operator is kept in the new node, not in a leaf node
    of its own; `children` shows it as a fresh leaf. Two handles of the same node (for example
    one taken from `children`) compare equal and hash alike.
    """

    def __new__(cls, data: _Number, label: str = "") -> Value:
        """A leaf holding ``float(data)``, named ``label``.

        Raises ``TypeError`` naming the type when ``data`` is not a real number (str, None,
        complex, containers, a Value).
        """

    @property
    def data(self) -> float:
        """The forward value. Settable; a non-number raises `TypeError`."""
    @data.setter
    def data(self, value: _Number) -> None: ...
    @property
    def grad(self) -> float:
        """The accumulated adjoint, 0.0 until a `backward()` reaches this node. Settable."""
    @grad.setter
    def grad(self, value: _Number) -> None: ...
    @property
    def label(self) -> str:
        """A name shown by pictures and error messages; `""` when unset. Settable to a str."""
    @label.setter
    def label(self, value: str) -> None: ...
    @property
    def op(self) -> str:
        """The op that made this node: `""` for a leaf, else `"+"`, `"*"`, `"**"`, `"tanh"`, ..."""
    @property
    def children(self) -> tuple[Value, ...]:
        """The operands, in operand order (`a * a` has two); they share the graph's state. A
        number operand (`x + 2.0`) comes as a new leaf holding it on each read, outside the
        graph: its grad stays 0.0 and changing it changes nothing.
        """
    def __add__(self, other: _Operand, /) -> Value:
        """``self + other``; a number is kept in the node."""
    def __radd__(self, other: _Operand, /) -> Value:
        """``other + self``; a number is kept in the node."""
    def __sub__(self, other: _Operand, /) -> Value:
        """``self - other``."""
    def __rsub__(self, other: _Operand, /) -> Value:
        """``other - self``."""
    def __mul__(self, other: _Operand, /) -> Value:
        """``self * other``."""
    def __rmul__(self, other: _Operand, /) -> Value:
        """``other * self``."""
    def __truediv__(self, other: _Operand, /) -> Value:
        """IEEE division: ``x / 0`` is ±inf, ``0 / 0`` is nan."""
    def __rtruediv__(self, other: _Operand, /) -> Value:
        """``other / self``, IEEE division."""
    def __pow__(self, exponent: _Operand, modulo: None = None, /) -> Value:
        """IEEE ``pow``; the exponent may be a Value. ``(-8) ** (1/3)`` is nan.

        A modulus (three-argument ``pow``) raises ``TypeError``.
        """
    def __rpow__(self, base: _Operand, modulo: None = None, /) -> Value:
        """``base ** self``, IEEE ``pow``; a modulus raises ``TypeError``."""
    def __neg__(self) -> Value:
        """``-self``."""
    def __pos__(self) -> Value:
        """``self`` itself: no new node."""
    def __abs__(self) -> Value:
        """``|x|``, with derivative 0 at 0."""
    def relu(self) -> Value:
        """`max(0, x)`, with derivative 0 at 0; NaN passes through (with derivative 0,
        as reverse mode).
        """
    def leaky_relu(self, slope: _Number | None = None) -> Value:
        """`x` where positive, else `slope * x`; `slope` None means 0.01 (`DEFAULT_SLOPE`).

        `ValueError` unless the slope is finite and >= 0.
        """
    def tanh(self) -> Value:
        """Hyperbolic tangent (libm's, which never overflows)."""
    def sigmoid(self) -> Value:
        """Logistic sigmoid `1 / (1 + exp(-x))`, in the form that never overflows."""
    def exp(self) -> Value:
        """`e ** x`; overflows to inf."""
    def log(self, base: _Operand | None = None) -> Value:
        """The natural logarithm, or with a base (a number or a Value) the logarithm
        `ln(self) / ln(base)` to that base. `log(0)` is -inf, negative inputs give nan.
        """
    def sin(self) -> Value:
        """Sine (radians)."""
    def cos(self) -> Value:
        """Cosine (radians)."""
    def tan(self) -> Value:
        """Tangent (radians); its derivative is `1 + tan(x) ** 2`."""
    def sqrt(self) -> Value:
        """Square root; negative inputs give nan."""
    def asin(self) -> Value:
        """Arcsine: `asin(x)` for `|x| <= 1`, nan outside; the derivative
        `1 / sqrt(1 - x²)` is inf at ±1.
        """
    arcsin = asin
    def acos(self) -> Value:
        """Arccosine, in [0, pi]: nan outside [-1, 1]; the derivative
        -1 / sqrt(1 - x²) is -inf at ±1.
        """
    arccos = acos
    def atan(self) -> Value:
        """Arctangent, in [-pi/2, pi/2]; the derivative is 1 / (1 + x²)."""
    arctan = atan
    def cot(self) -> Value:
        """Cotangent 1 / tan(x) (radians): ±inf at ±0; the derivative is -(1 + cot²(x))."""
    def sec(self) -> Value:
        """Secant 1 / cos(x) (radians); the derivative is sec(x) tan(x)."""
    def csc(self) -> Value:
        """Cosecant 1 / sin(x) (radians): ±inf at ±0; the derivative is -csc(x) / tan(x)."""
    def acot(self) -> Value:
        """Arccotangent atan(1 / x), in (-pi/2, pi/2]: pi/2 at 0 and -pi/2 at -0.0;
        the derivative is -1 / (1 + x²).
        """
    def asec(self) -> Value:
        """Arcsecant acos(1 / x), in [0, pi]: nan where |x| < 1; the derivative
        1 / (|x| sqrt(x² - 1)) is inf at ±1.
        """
    def acsc(self) -> Value:
        """Arccosecant asin(1 / x), in [-pi/2, pi/2]: nan where |x| < 1; the derivative
        -1 / (|x| sqrt(x² - 1)) is -inf at ±1.
        """
    def sinh(self) -> Value:
        """Hyperbolic sine; overflows to ±inf. The derivative is cosh(x)."""
    def cosh(self) -> Value:
        """Hyperbolic cosine; overflows to inf. The derivative is sinh(x)."""
    def asinh(self) -> Value:
        """Inverse hyperbolic sine; the derivative 1 / sqrt(1 + x²) is taken as 1 / |x|
        where 1 + x² rounds to x², so it never overflows to 0.
        """
    arcsinh = asinh
    def acosh(self) -> Value:
        """Inverse hyperbolic cosine: nan where x < 1; the derivative
        1 / sqrt(x² - 1) is inf at 1.
        """
    arccosh = acosh
    def atanh(self) -> Value:
        """Inverse hyperbolic tangent: ±inf at ±1, nan where |x| > 1; the derivative
        1 / (1 - x²) is inf at ±1 and nan where |x| > 1.
        """
    arctanh = atanh
    def log1p(self) -> Value:
        """`log(1 + x)`, accurate near 0: -inf at -1, nan below -1."""
    def expm1(self) -> Value:
        """`exp(x) - 1`, accurate near 0; overflows to inf."""
    def log2(self) -> Value:
        """Base-2 logarithm: -inf at 0, nan for negative inputs."""
    def log10(self) -> Value:
        """Base-10 logarithm: -inf at 0, nan for negative inputs."""
    def exp2(self) -> Value:
        """`2 ** x`; overflows to inf."""
    def cbrt(self) -> Value:
        """Cube root, negative for negative inputs; the derivative is inf at 0."""
    def erf(self) -> Value:
        """The error function, the C library's."""
    def erfc(self) -> Value:
        """`1 - erf(x)`, accurate where it is small (large x), the C library's."""
    def softplus(self) -> Value:
        """`log(1 + exp(x))` in a form that never overflows; the derivative is `sigmoid(x)`."""
    def silu(self) -> Value:
        """`x * sigmoid(x)` (SiLU, also called swish)."""
    def gelu(self, approximate: str = "none") -> Value:
        """GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation."""
    def backward(self) -> None:
        """One reverse sweep from this node.

        Fresh adjoints, seeded with 1.0 here, are added to the `grad` of every ancestor, so k
        calls give k times the gradient. Linear in the number of nodes, never recursive.
        """
    def item(self) -> float:
        """`data`, the forward value, as a float (torch's `item()`): the number, without its
        gradient.
        """
    def atan2(self, other: _Operand) -> Value:
        """`atan2(self, other)`: the angle of the point `(other, self)` in radians, in
        [-π, π], its quadrant picked by the signs, zeros' included (`atan2(-0.0, -1.0)`
        is -π). Gradient `(other, -self) / (self² + other²)`, nan at the origin.
        """
    def hypot(self, other: _Operand) -> Value:
        """`sqrt(self² + other²)`, without overflow or underflow on the way (libm's
        `hypot`); `hypot(inf, nan)` is inf, as IEEE says. Gradient
        `(self, other) / hypot(self, other)`, nan at the origin.
        """
    def minimum(self, other: _Operand) -> Value:
        """The smaller of `self` and `other`: nan if either is nan, -0.0 below 0.0. At a
        tie the gradient is split evenly between the two, as torch does.
        """
    def maximum(self, other: _Operand) -> Value:
        """The larger of `self` and `other`: nan if either is nan, 0.0 above -0.0. At a
        tie the gradient is split evenly between the two, as torch does.
        """
    def clamp_min(self, other: _Operand) -> Value:
        """`self` bounded below by `other` (`maximum`'s value), with torch's gradient:
        to `self` where `self >= other`, to `other` where `self < other`.
        """
    def clamp_max(self, other: _Operand) -> Value:
        """`self` bounded above by `other` (`minimum`'s value), with torch's gradient:
        to `self` where `self <= other`, to `other` where `self > other`.
        """
    def clamp(self, lo: _Operand | None = None, hi: _Operand | None = None) -> Value:
        """`self` bounded below by `lo` and above by `hi`, each a number, a Value or None (no
        bound): `clamp_min(lo)`, then `clamp_max(hi)`. The gradient reaches `self` where
        `lo <= self <= hi`; where `lo > hi` the result is `hi`.
        """
    def arctan2(self, other: _Operand) -> Value:
        """numpy's name for `atan2()`: the same op."""
    def detach(self) -> Value:
        """A new leaf with this node's value (grad 0.0, no label): gradients stop at it."""
    def __format__(self, spec: str, /) -> str:
        """`format(v.data, spec)`, so f-strings such as `f"{loss:.4f}"` work; an empty spec is
        `str(v)`, as for any object.
        """
    def __float__(self) -> NoReturn:
        """Refused: ``TypeError`` saying what to use (``v.data``, ``v.exp()``, ...)."""
    def __int__(self) -> NoReturn:
        """Refused, as ``float()``."""
    def __index__(self) -> NoReturn:
        """Refused, as ``float()``."""
    def __bool__(self) -> NoReturn:
        """Refused: ``if v:`` would branch on a number that carries no gradient."""
    def __round__(self, ndigits: object = None) -> NoReturn:
        """Refused, as `float()`."""
    def __lt__(self, other: object, /) -> NoReturn:
        """Refused: an ordering compares numbers that carry no gradient."""
    def __le__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __gt__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __ge__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __eq__(self, other: object, /) -> bool:
        """Whether ``other`` is a handle of the same node (not a comparison of ``data``)."""
    def __ne__(self, other: object, /) -> bool:
        """Whether ``other`` is not a handle of the same node."""
    def __hash__(self) -> int:
        """The node's identity, shared by every handle of it."""
    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickles the whole graph behind this node (operands, grads, labels); a custom op's node
        carries its op (pickled by reference) and its partials beside the bytes.
        """

@final
class Dual:
    """A number with a tangent: forward-mode derivatives without a graph.

    Has every op of `Value` (same names, same formulas); `tangent` carries the derivative,
    `d(result)/dt`, along. Duals are immutable and compare by identity, and are refused, as a
    `Value` is, wherever a plain number is expected: the number would carry no tangent.
    """

    def __new__(cls, data: _Number, tangent: _Number | None = None) -> Dual:
        """``data`` with derivative ``tangent`` (None means 0.0: a constant).

        Raises ``TypeError`` naming the type when either is not a real number.
        """

    @property
    def data(self) -> float:
        """The value."""
    @property
    def tangent(self) -> float:
        """The derivative carried along."""
    def __add__(self, other: _DualOperand, /) -> Dual:
        """``self + other``; a number is a constant (tangent 0)."""
    def __radd__(self, other: _DualOperand, /) -> Dual:
        """``other + self``; a number is a constant (tangent 0)."""
    def __sub__(self, other: _DualOperand, /) -> Dual:
        """``self - other``."""
    def __rsub__(self, other: _DualOperand, /) -> Dual:
        """``other - self``."""
    def __mul__(self, other: _DualOperand, /) -> Dual:
        """``self * other``."""
    def __rmul__(self, other: _DualOperand, /) -> Dual:
        """``other * self``."""
    def __truediv__(self, other: _DualOperand, /) -> Dual:
        """IEEE division, as ``Value``'s."""
    def __rtruediv__(self, other: _DualOperand, /) -> Dual:
        """``other / self``, IEEE division."""
    def __pow__(self, exponent: _DualOperand, modulo: None = None, /) -> Dual:
        """IEEE ``pow``, as ``Value``'s; a modulus raises ``TypeError``."""
    def __rpow__(self, base: _DualOperand, modulo: None = None, /) -> Dual:
        """``base ** self``; a modulus raises ``TypeError``."""
    def __neg__(self) -> Dual:
        """``-self``."""
    def __pos__(self) -> Dual:
        """``self`` itself."""
    def __abs__(self) -> Dual:
        """``|x|``, with derivative 0 at 0."""
    def relu(self) -> Dual:
        """`max(0, x)`, with derivative 0 at 0; NaN passes through (with derivative 0,
        as reverse mode).
        """
    def leaky_relu(self, slope: _Number | None = None) -> Dual:
        """`x` where positive, else `slope * x`, with its tangent; `slope` None means 0.01
        (`DEFAULT_SLOPE`).

        `ValueError` unless the slope is finite and >= 0.
        """
    def tanh(self) -> Dual:
        """Hyperbolic tangent (libm's, which never overflows)."""
    def sigmoid(self) -> Dual:
        """Logistic sigmoid `1 / (1 + exp(-x))`, in the form that never overflows."""
    def exp(self) -> Dual:
        """`e ** x`; overflows to inf."""
    def log(self, base: _DualOperand | None = None) -> Dual:
        """The natural logarithm, or with a base (a number or a Dual) the logarithm
        `ln(self) / ln(base)` to that base.
        """
    def sin(self) -> Dual:
        """Sine (radians)."""
    def cos(self) -> Dual:
        """Cosine (radians)."""
    def tan(self) -> Dual:
        """Tangent (radians); its derivative is `1 + tan(x) ** 2`."""
    def sqrt(self) -> Dual:
        """Square root; negative inputs give nan."""
    def asin(self) -> Dual:
        """Arcsine: `asin(x)` for `|x| <= 1`, nan outside; the derivative
        `1 / sqrt(1 - x²)` is inf at ±1.
        """
    arcsin = asin
    def acos(self) -> Dual:
        """Arccosine, in [0, pi]: nan outside [-1, 1]; the derivative
        -1 / sqrt(1 - x²) is -inf at ±1.
        """
    arccos = acos
    def atan(self) -> Dual:
        """Arctangent, in [-pi/2, pi/2]; the derivative is 1 / (1 + x²)."""
    arctan = atan
    def cot(self) -> Dual:
        """Cotangent 1 / tan(x) (radians): ±inf at ±0; the derivative is -(1 + cot²(x))."""
    def sec(self) -> Dual:
        """Secant 1 / cos(x) (radians); the derivative is sec(x) tan(x)."""
    def csc(self) -> Dual:
        """Cosecant 1 / sin(x) (radians): ±inf at ±0; the derivative is -csc(x) / tan(x)."""
    def acot(self) -> Dual:
        """Arccotangent atan(1 / x), in (-pi/2, pi/2]: pi/2 at 0 and -pi/2 at -0.0;
        the derivative is -1 / (1 + x²).
        """
    def asec(self) -> Dual:
        """Arcsecant acos(1 / x), in [0, pi]: nan where |x| < 1; the derivative
        1 / (|x| sqrt(x² - 1)) is inf at ±1.
        """
    def acsc(self) -> Dual:
        """Arccosecant asin(1 / x), in [-pi/2, pi/2]: nan where |x| < 1; the derivative
        -1 / (|x| sqrt(x² - 1)) is -inf at ±1.
        """
    def sinh(self) -> Dual:
        """Hyperbolic sine; overflows to ±inf. The derivative is cosh(x)."""
    def cosh(self) -> Dual:
        """Hyperbolic cosine; overflows to inf. The derivative is sinh(x)."""
    def asinh(self) -> Dual:
        """Inverse hyperbolic sine; the derivative 1 / sqrt(1 + x²) is taken as 1 / |x|
        where 1 + x² rounds to x², so it never overflows to 0.
        """
    arcsinh = asinh
    def acosh(self) -> Dual:
        """Inverse hyperbolic cosine: nan where x < 1; the derivative
        1 / sqrt(x² - 1) is inf at 1.
        """
    arccosh = acosh
    def atanh(self) -> Dual:
        """Inverse hyperbolic tangent: ±inf at ±1, nan where |x| > 1; the derivative
        1 / (1 - x²) is inf at ±1 and nan where |x| > 1.
        """
    arctanh = atanh
    def log1p(self) -> Dual:
        """`log(1 + x)`, accurate near 0: -inf at -1, nan below -1."""
    def expm1(self) -> Dual:
        """`exp(x) - 1`, accurate near 0; overflows to inf."""
    def log2(self) -> Dual:
        """Base-2 logarithm: -inf at 0, nan for negative inputs."""
    def log10(self) -> Dual:
        """Base-10 logarithm: -inf at 0, nan for negative inputs."""
    def exp2(self) -> Dual:
        """`2 ** x`; overflows to inf."""
    def cbrt(self) -> Dual:
        """Cube root, negative for negative inputs; the derivative is inf at 0."""
    def erf(self) -> Dual:
        """The error function, the C library's."""
    def erfc(self) -> Dual:
        """`1 - erf(x)`, accurate where it is small (large x), the C library's."""
    def softplus(self) -> Dual:
        """`log(1 + exp(x))` in a form that never overflows; the derivative is `sigmoid(x)`."""
    def silu(self) -> Dual:
        """`x * sigmoid(x)` (SiLU, also called swish)."""
    def gelu(self, approximate: str = "none") -> Dual:
        """GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation."""
    def atan2(self, other: _DualOperand) -> Dual:
        """`atan2(self, other)`: the angle of the point `(other, self)` in radians, in
        [-π, π], its quadrant picked by the signs, zeros' included (`atan2(-0.0, -1.0)`
        is -π). Gradient `(other, -self) / (self² + other²)`, nan at the origin.
        """
    def hypot(self, other: _DualOperand) -> Dual:
        """`sqrt(self² + other²)`, without overflow or underflow on the way (libm's
        `hypot`); `hypot(inf, nan)` is inf, as IEEE says. Gradient
        `(self, other) / hypot(self, other)`, nan at the origin.
        """
    def minimum(self, other: _DualOperand) -> Dual:
        """The smaller of `self` and `other`: nan if either is nan, -0.0 below 0.0. At a
        tie the gradient is split evenly between the two, as torch does.
        """
    def maximum(self, other: _DualOperand) -> Dual:
        """The larger of `self` and `other`: nan if either is nan, 0.0 above -0.0. At a
        tie the gradient is split evenly between the two, as torch does.
        """
    def clamp_min(self, other: _DualOperand) -> Dual:
        """`self` bounded below by `other` (`maximum`'s value), with torch's gradient:
        to `self` where `self >= other`, to `other` where `self < other`.
        """
    def clamp_max(self, other: _DualOperand) -> Dual:
        """`self` bounded above by `other` (`minimum`'s value), with torch's gradient:
        to `self` where `self <= other`, to `other` where `self > other`.
        """
    def clamp(self, lo: _DualOperand | None = None, hi: _DualOperand | None = None) -> Dual:
        """`self` bounded below by `lo` and above by `hi`, each a number, a Dual or None (no
        bound): `clamp_min(lo)`, then `clamp_max(hi)`.
        """
    def arctan2(self, other: _DualOperand) -> Dual:
        """numpy's name for `atan2()`: the same op."""
    def item(self) -> float:
        """`data`, the value, as a float: the number, without its tangent."""
    def __format__(self, spec: str, /) -> str:
        """`format(d.data, spec)`, so f-strings work; an empty spec is `str(d)`."""
    def __float__(self) -> NoReturn:
        """Refused: ``TypeError`` saying what to use (``d.data``, ``d.exp()``, ...)."""
    def __int__(self) -> NoReturn:
        """Refused, as ``float()``."""
    def __index__(self) -> NoReturn:
        """Refused, as ``float()``."""
    def __bool__(self) -> NoReturn:
        """Refused: ``if d:`` would branch on a number that carries no tangent."""
    def __round__(self, ndigits: object = None) -> NoReturn:
        """Refused, as `float()`."""
    def __lt__(self, other: object, /) -> NoReturn:
        """Refused: an ordering compares numbers that carry no tangent."""
    def __le__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __gt__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __ge__(self, other: object, /) -> NoReturn:
        """Refused, as ``<``."""
    def __hash__(self) -> int:
        """By identity."""

@final
class Tape:
    """A recorded graph as a flat instruction array. Use `ferrograd.compile`, which wraps it.

    Not constructible directly: `record`, `record_many` and `from_bytes` make tapes.
    """

    @staticmethod
    def record(inputs: Sequence[Value], output: Value) -> Tape:
        """Flattens the graph of `output` with `inputs` as the variables (other leaves are
        constants); `ValueError` when an input appears twice.
        """
    @staticmethod
    def record_many(inputs: Sequence[Value], outputs: Sequence[Value]) -> Tape:
        """`record` for a function returning the sequence `outputs` (at least one; `ValueError`
        for none); a node that several outputs share is recorded once.
        """
    @property
    def n_inputs(self) -> int:
        """How many variables each evaluation takes."""
    @property
    def n_outputs(self) -> int:
        """How many numbers the recorded function returns (1 for a scalar function)."""
    @property
    def is_vector(self) -> bool:
        """Whether the recorded function returns a sequence of Values (`record_many`)."""
    @property
    def plan_len(self) -> int:
        """Slots each evaluation computes, after constant folding and dead-code removal."""
    def __len__(self) -> int:
        """Slots as recorded: inputs, constants and op results."""
    def same_program(self, other: Tape) -> bool:
        """Whether `other` records the same program: same instructions, operands and constants."""
    def eval(self, x: Sequence[float]) -> float:
        """The output at `x`; `ValueError` unless `len(x) == n_inputs`."""
    def grad(self, x: Sequence[float]) -> tuple[float, list[float]]:
        """The output and its gradient at `x`, one reverse sweep."""
    def jvp(self, x: Sequence[float], v: Sequence[float]) -> tuple[float, float]:
        """The output at `x` and its derivative along `v`, one forward sweep."""
    def hessian(self, x: Sequence[float]) -> list[float]:
        """The Hessian at `x`, row-major `n × n`, forward mode over reverse mode; `MemoryError`
        naming the `8 n²` bytes when they cannot be allocated.
        """
    def eval_all(self, x: Sequence[float]) -> list[float]:
        """Every output at `x`."""
    def jacobian(self, x: Sequence[float]) -> tuple[list[float], list[float]]:
        """Every output and the row-major `k × n` Jacobian at `x`: one forward pass, one reverse
        sweep per output, each row bit for bit that output's own gradient.
        """
    def jvp_all(self, x: Sequence[float], v: Sequence[float]) -> tuple[list[float], list[float]]:
        """Every output at `x` and its derivative along `v`, one forward sweep."""
    def vjp(self, x: Sequence[float], u: Sequence[float]) -> tuple[list[float], list[float]]:
        """Every output at `x` and `u · J`, one reverse sweep seeded with `u`."""
    def hessians(self, x: Sequence[float]) -> list[float]:
        """Every output's Hessian at `x`, row-major `k × n × n`."""
    def eval_batch_into(
        self,
        xs: np.ndarray,
        values: np.ndarray,
        threads: int | None = None,
        precision: str = "default",
    ) -> None:
        """Writes the outputs (`k` per row) at each row of `xs` (shape `(m, n_inputs)`) to
        `values` (shape `(m,)`, or `(m, k)` for a vector function), computed with the GIL
        released on `min(threads, cores, m / 32)` threads (default: one per core; more than the
        cores are clamped), each with `256 × plan_len` bytes of scratch.

        Every array is read or written in place, so each must be exactly a `numpy.ndarray` of
        native float64, C-contiguous and aligned (`TypeError` or `ValueError` naming the one
        that is not); outputs must be writable and share no memory with another array of the
        call (`ValueError`). `precision` is `"default"` (bit for bit single points) or `"fast"`
        (vectorised elementary functions within the bounds in docs/ops.md), `ValueError`
        otherwise; `MemoryError` naming the size when an allocation fails.
        """
    def jacobian_batch_into(
        self,
        xs: np.ndarray,
        jac: np.ndarray,
        threads: int | None = None,
        precision: str = "default",
    ) -> None:
        """Writes the Jacobian at each row of `xs` to `jac`, shape `(m, k, n)` (`(m, n)` for a
        scalar function); GIL released; arrays, threads and precision as `eval_batch_into`.
        """
    def grad_batch_into(
        self,
        xs: np.ndarray,
        values: np.ndarray,
        grads: np.ndarray,
        threads: int | None = None,
        precision: str = "default",
    ) -> None:
        """Writes the output at each row of `xs` to `values` (shape `(m,)`) and its gradient to
        `grads` (shape `(m, n_inputs)`); GIL released; arrays, threads and precision as
        `eval_batch_into`, `512 × plan_len` bytes of scratch each.
        """
    def grad_sum_into(
        self,
        shared: np.ndarray,
        xs: np.ndarray,
        values: np.ndarray,
        grad: np.ndarray,
        threads: int | None = None,
        scale: float = 1.0,
        l2: float = 0.0,
    ) -> float | None:
        """Writes the output at each row to `values` (shape `(m,)`) and the gradient with respect
        to the shared inputs summed over the rows to `grad` (the shape of `shared`); GIL
        released; arrays and threads as `eval_batch_into`.

        `shared` (shape `(p,)`) holds the first inputs, the same at every row (loaded once per
        thread); `xs` (shape `(m, n_inputs - p)`) the others. The same rows on the same threads
        give the same bits. The summed gradient `g` is written as `g * scale + (2 * l2) *
        shared` (each operation rounded once, in that order; `l2 = 0` adds nothing): a mean over
        the rows plus an L2 penalty's gradient, without a numpy temporary per step.

        Returns the correctly rounded sum of `values` (what `math.fsum` gives), or None where
        `math.fsum` has rules of its own (a value that is not finite, a partial sum that
        overflows).
        `ValueError` when `shared` leaves no input to the rows or a shape is wrong;
        `MemoryError` naming the size when an allocation fails.
        """
    def to_bytes(self) -> bytes:
        """The tape in a flat little-endian byte format (what pickling stores); `from_bytes`
        reads it back.
        """
    @staticmethod
    def from_bytes(data: bytes) -> Tape:
        """Rebuilds a tape from `to_bytes` output; `ValueError` for anything else."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]:
        """Pickles the tape as its `to_bytes`."""

def sum(values: Iterable[_Operand]) -> Value:
    """`values[0] + values[1] + …` as one graph node."""

def dot(ws: Iterable[_Operand], xs: Iterable[_Operand]) -> Value:
    """`ws[0]*xs[0] + ws[1]*xs[1] + …` as one graph node; `ValueError` on unequal lengths."""

def _dense(
    weights: Iterable[Iterable[_Operand]],
    biases: Iterable[_Operand],
    nonlins: Sequence[bool],
    x: Iterable[_Operand],
) -> list[Value]:
    """One dense layer of neurons in a single call (see `Value::dense`): for each neuron `i`, the
    nodes `dot(weights[i], x)`, `+ biases[i]` and, where `nonlins[i]`, `relu` — the very graph
    that building them one op at a time gives, without a Python object for the inner nodes.

    `ValueError` when the rows, biases and flags differ in number or a row's length differs
    from `x`'s.
    """

def _dense_neurons(neurons: list[Any], x: Iterable[_Operand]) -> list[Value]:
    """`_dense` of the neurons in the list `neurons`, each read for its `w`, `b` and `nonlin` as it
    is reached (`getattr`, as `[n.w for n in neurons]` reads them): the same nodes, values and
    errors as `_dense([n.w for n in neurons], [n.b for n in neurons], [n.nonlin for n in
    neurons], x)`, without those three lists.
    """

def _dense_layers(
    layers: list[Any], x: Iterable[_Operand], layer_type: type, engine: object
) -> list[Value]:
    """An MLP's layers one after another from the inputs `x`: each layer of exactly the class
    `layer_type` on the engine `engine`, whose `neurons` are a list, as `_dense_neurons` (the
    activations between such layers stay in the core, with no Python object each); any other
    layer through its own `_forward`, with a list of Values. The last layer's outputs, as a
    list of Values.
    """

def _value_from_bytes(
    data: bytes, customs: Sequence[tuple[object, Sequence[float]]] | None = None
) -> Value:
    """Rebuilds a pickled graph and returns its root; `customs` holds each custom op node's
    `(op, partials)`, in the order `__reduce__` wrote them.
    """

def _custom(
    op: object, name: str, data: float, partials: Sequence[float], operands: Iterable[_Operand]
) -> Value:
    """A node of the custom op `op` (a `ferrograd.custom_op`, kept for pickling) named `name`,
    over `operands`, with the value `data` and the partials `∂z/∂xᵢ` its derivative gave.
    """

def _set_detect_anomaly(on: bool) -> bool:
    """Turns anomaly detection on or off for this thread; returns the previous setting."""

def _set_no_grad(on: bool) -> bool:
    """Turns `no_grad` on or off for this thread; returns the previous setting."""

def _vmath(name: str, isa: str, xs: bytes) -> bytes:
    """`name` ("exp", ..., or "exp'" for the slope the backward pass uses) of every number in
    `xs` (native-endian f64 bytes) with the lane loops compiled for `isa`, as f64 bytes: for
    testing their error bounds.
    """

def _array_headers_direct() -> bool:
    """Whether batches read numpy's array headers directly (this numpy's layout was confirmed)
    rather than through `__array_interface__`: for tests."""

def _adam_step(
    params: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    v_max: np.ndarray,
    neg_step: float,
    bias2_sqrt: float,
    eps: float,
    w: float,
    beta2: float,
    shrink: float | None,
    l2: float | None,
    amsgrad: bool,
) -> bool:
    """`crate::optim::adam_step` on numpy arrays in place (`FlatAdam.step`), with the step's numbers
    as `AdamStep` names them; `v_max` is read and written only with `amsgrad`. False, touching
    nothing, when an array is not one the core can use in place (the caller then does the same
    with numpy)."""

def _sgd_step(
    params: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, momentum: float
) -> bool:
    """`crate::optim::sgd_step` on numpy arrays in place (`FlatSGD.step`): `params`, `grad` and
    `velocity` of one length, `velocity` read and written only when `momentum` is not zero.
    False, touching nothing, when an array is not one the core can use in place (a view, a
    subclass, read-only, overlapping another): the caller then does the same with numpy."""

def _vmath_isas() -> list[str]:
    """The instruction sets this build carries and this CPU runs, baseline first, best last."""

#: Leaky ReLU's slope when none is given.
DEFAULT_SLOPE: float

def op_table() -> list[tuple[str, int, int | None, str | None, str, list[str]]]:
    """Every op, by code: `(name, code, arity, param, method, aliases)`.

    `arity` is None for the n-ary `sum` and `dot`; `param` names the op's parameter (`"slope"`)
    or is None; `method` is the `Value` method or operator dunder that builds the op ("" for a
    leaf and for `+ - * / **`); `aliases` are the other names of that method (numpy's:
    `["arcsin"]` for `asin`). Codes are pinned: pickles store them.
    """
