"""Type stubs for the Rust extension ``ferrograd._core``. Import from ``ferrograd``, not here."""

from typing import Iterable, SupportsFloat, Union, final

_Number = Union[int, float, SupportsFloat]
_Operand = Union["Value", int, float]

@final
class Value:
    """A scalar in a differentiable expression graph (a node held by the Rust core).

    Numbers combined with a Value become constant leaf nodes. Two handles of the same node
    (for example one taken from ``children``) compare equal and hash alike.
    """

    def __init__(self, data: _Number, label: str = "") -> None:
        """A leaf holding ``float(data)``.

        Raises ``TypeError`` naming the type when ``data`` is not a real number (str, None,
        complex, containers).
        """

    @property
    def data(self) -> float:
        """The forward value. Settable; a non-number raises ``TypeError``."""
    @data.setter
    def data(self, value: _Number) -> None: ...
    @property
    def grad(self) -> float:
        """The accumulated adjoint, 0.0 until a ``backward()`` reaches this node. Settable."""
    @grad.setter
    def grad(self, value: _Number) -> None: ...
    @property
    def label(self) -> str:
        """A name shown by pictures and error messages; "" when unset."""
    @label.setter
    def label(self, value: str) -> None: ...
    @property
    def op(self) -> str:
        """The op that made this node: "" for a leaf, else "+", "*", "**", "tanh", ..."""
    @property
    def children(self) -> tuple[Value, ...]:
        """The operands, in operand order (``a * a`` has two)."""
    def __add__(self, other: _Operand) -> Value: ...
    def __radd__(self, other: _Operand) -> Value: ...
    def __sub__(self, other: _Operand) -> Value: ...
    def __rsub__(self, other: _Operand) -> Value: ...
    def __mul__(self, other: _Operand) -> Value: ...
    def __rmul__(self, other: _Operand) -> Value: ...
    def __truediv__(self, other: _Operand) -> Value:
        """IEEE division: ``x / 0`` is ±inf, ``0 / 0`` is nan."""
    def __rtruediv__(self, other: _Operand) -> Value: ...
    def __pow__(self, exponent: _Operand, modulo: None = None) -> Value:
        """IEEE ``pow``; the exponent may be a Value. ``(-8) ** (1/3)`` is nan."""
    def __rpow__(self, base: _Operand, modulo: None = None) -> Value: ...
    def __neg__(self) -> Value: ...
    def __pos__(self) -> Value: ...
    def __abs__(self) -> Value:
        """``|x|``, with derivative 0 at 0."""
    def relu(self) -> Value:
        """``max(0, x)``, with derivative 0 at 0."""
    def leaky_relu(self, slope: _Number = 0.01) -> Value:
        """``x`` where positive, else ``slope * x``; ``ValueError`` unless slope is finite, >= 0."""
    def tanh(self) -> Value:
        """Hyperbolic tangent (never overflows)."""
    def sigmoid(self) -> Value:
        """Logistic sigmoid ``1 / (1 + exp(-x))`` in its stable form."""
    def exp(self) -> Value:
        """``e ** x``; overflows to inf."""
    def log(self) -> Value:
        """Natural logarithm: ``log(0)`` is -inf, negative inputs give nan."""
    def sin(self) -> Value: ...
    def cos(self) -> Value: ...
    def tan(self) -> Value: ...
    def sqrt(self) -> Value:
        """Square root; negative inputs give nan."""
    def backward(self) -> None:
        """One reverse sweep from this node.

        Fresh adjoints, seeded with 1.0 here, are added to the ``grad`` of every ancestor, so k
        calls give k times the gradient. Linear in the number of nodes, never recursive.
        """
    def __float__(self) -> float: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

def sum(values: Iterable[_Operand]) -> Value:
    """``values[0] + values[1] + ...`` as one graph node."""

def dot(ws: Iterable[_Operand], xs: Iterable[_Operand]) -> Value:
    """``ws[0]*xs[0] + ws[1]*xs[1] + ...`` as one graph node; ``ValueError`` on unequal lengths."""
