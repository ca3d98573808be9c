"""``ferrograd.custom_op``: an op of your own, from a forward function of floats and its partials.

>>> import math, ferrograd
>>> @ferrograd.custom_op
... def smooth_abs(x):
...     return math.sqrt(x * x + 1.0)
>>> @smooth_abs.derivative
... def smooth_abs(x):
...     return x / math.sqrt(x * x + 1.0)
>>> x = ferrograd.Value(1.0)
>>> y = smooth_abs(x)
>>> y.backward()
>>> y.op, round(y.data, 6), round(x.grad, 6)
('smooth_abs', 1.414214, 0.707107)

The shape of JAX's ``custom_jvp``/``custom_vjp`` (a decorated primal function with its rule
attached by a second decorator), and of torch's ``autograd.Function`` (a forward and a
derivative, one node in the graph); since every ferrograd op is a function of scalars, the rule
is simply the partials ``∂f/∂xᵢ`` at the point. Both are called once, when the node is built:
the node keeps its value and its partials, and ``backward()`` is the chain rule on those stored
numbers (no Python call during the sweep, on either engine). Forward mode (``Dual``, ``jvp``,
``jacfwd``) uses the same partials: the tangent is ``Σ ∂f/∂xᵢ · tᵢ``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pickle
from collections.abc import Sequence
from typing import Any, Callable, Union, overload

from ferrograd import _core, reference
from ferrograd._grad_mode import is_grad_enabled

__all__ = ["CustomOp", "custom_op"]

_Forward = Callable[..., float]
_Derivative = Callable[..., Union[float, Sequence[float]]]
_KINDS = (_core.Value, reference.Value, _core.Dual, reference.Dual)


def _builtin_names() -> set[str]:
    return {row[0] for row in _core.op_table()}


class CustomOp:
    """A user-defined op: ``forward(*xs) -> float`` and ``derivative(*xs) -> partials``.

    Call it on Values of either engine (one node, named ``name``), on Duals of either kind (the
    value and the tangent ``Σ ∂f/∂xᵢ · tᵢ``), or on plain numbers (the forward's float). Numbers
    may stand beside Values or Duals, as constants. Made by :func:`custom_op`.
    """

    def __init__(
        self, forward: _Forward, derivative: _Derivative | None = None, *, name: str | None = None
    ) -> None:
        if not callable(forward):
            raise TypeError(f"custom_op() needs a callable forward, got {type(forward).__name__}")
        if derivative is not None and not callable(derivative):
            raise TypeError(
                f"custom_op() needs a callable derivative, got {type(derivative).__name__}"
            )
        functools.update_wrapper(self, forward)
        if name is None:
            name = getattr(forward, "__name__", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"custom_op() needs a non-empty str name, got {name!r}")
        if name in _builtin_names():
            raise ValueError(
                f"custom_op() name {name!r} is a built-in op's: a graph would show two ops "
                "under one name"
            )
        self.name: str = name
        self.forward: _Forward = forward
        self.derivative_function: _Derivative | None = derivative
        try:
            params = inspect.signature(forward).parameters.values()
        except (TypeError, ValueError):
            params = None
        self._arity: int | None = None
        if params is not None and not any(p.kind is p.VAR_POSITIONAL for p in params):
            self._arity = sum(
                1
                for p in params
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
            )

    def derivative(self, function: _Derivative) -> CustomOp:
        """Sets the derivative: ``function(*xs)`` gives ``∂f/∂xᵢ`` for each argument, a number
        for a function of one argument or a sequence of one number per argument. Returns the
        op, so the function may take the op's name (as ``property.setter`` does)."""
        if not callable(function):
            raise TypeError(
                f"{self.name}.derivative() needs a callable, got {type(function).__name__}"
            )
        self.derivative_function = function
        return self

    def __repr__(self) -> str:
        return f"<ferrograd.custom_op {self.name!r}>"

    # -- one call ---------------------------------------------------------------------------------

    def __call__(self, *args: Any) -> Any:
        if not args:
            raise TypeError(f"custom op {self.name!r} needs at least one argument")
        if self._arity is not None and len(args) != self._arity:
            raise TypeError(
                f"custom op {self.name!r} takes {self._arity} arguments, got {len(args)}"
            )
        kind: Any = self._kind(args)
        xs = [a.data if isinstance(a, _KINDS) else self._number(a, i) for i, a in enumerate(args)]
        z = self._value(self.forward(*xs))
        if kind is None:
            return z
        if kind in (_core.Value, reference.Value):
            # Under no_grad the node is a leaf: its partials would never be read.
            partials = self._partials(xs) if is_grad_enabled() else [0.0] * len(xs)
            if kind is _core.Value:
                return _core._custom(self, self.name, z, partials, args)
            return reference._custom(self, self.name, z, partials, args)
        tangents = [a.tangent if isinstance(a, kind) else 0.0 for a in args]
        if not any(tangents):
            return kind(z, 0.0)
        tangent = 0.0
        for p, t in zip(self._partials(xs), tangents):
            if t != 0.0:  # a zero tangent stays zero, even through an infinite partial
                tangent += p * t
        return kind(z, tangent)

    def _kind(self, args: tuple[Any, ...]) -> type | None:
        kinds = {type(a) for a in args if isinstance(a, _KINDS)}
        if len(kinds) > 1:
            names = sorted(f"{k.__module__}.{k.__qualname__}" for k in kinds)
            raise TypeError(
                f"custom op {self.name!r} needs its arguments from one engine (Values of one "
                f"engine or Duals of one kind, and numbers), got {' and '.join(names)}"
            )
        return kinds.pop() if kinds else None

    def _number(self, a: object, i: int) -> float:
        x = reference._real_number(a)  # a node of another graph raises, naming itself
        if x is None:
            raise TypeError(
                f"custom op {self.name!r} needs Values, Duals or real numbers, "
                f"got {type(a).__name__} for argument {i}"
            )
        return x

    def _value(self, z: object) -> float:
        x = reference._real_number(z) if not isinstance(z, _KINDS) else None
        if x is None:
            raise TypeError(
                f"custom op {self.name!r}: its forward returned {type(z).__name__}, "
                "not a real number"
            )
        return x

    def _partials(self, xs: list[float]) -> list[float]:
        if self.derivative_function is None:
            raise TypeError(
                f"custom op {self.name!r} has no derivative: give one with "
                f"@{self.name}.derivative or custom_op(forward, derivative)"
            )
        out: Any = self.derivative_function(*xs)
        n = len(xs)
        if isinstance(out, (str, bytes)) or not hasattr(out, "__len__"):
            if n == 1 and not isinstance(out, (str, bytes)):
                out = [out]
            else:
                raise TypeError(
                    f"custom op {self.name!r}: its derivative returned {type(out).__name__}, "
                    f"not a sequence of {n} partials"
                )
        if len(out) != n:
            raise ValueError(
                f"custom op {self.name!r} takes {n} operands, so its derivative must give "
                f"{n} partials, got {len(out)}"
            )
        partials = []
        for i, p in enumerate(out):
            x = reference._real_number(p) if not isinstance(p, _KINDS) else None
            if x is None:
                raise TypeError(
                    f"custom op {self.name!r}: partial {i} from its derivative is "
                    f"{type(p).__name__}, not a real number"
                )
            partials.append(x)
        return partials

    # -- pickling ---------------------------------------------------------------------------------

    def __reduce__(self) -> str | tuple[Callable[..., CustomOp], tuple[Any, ...]]:
        """By reference: to the op itself where its module holds it under its forward's name,
        else to its forward and derivative, which must be importable by name."""
        qualname = getattr(self, "__qualname__", None)  # the forward's, set by update_wrapper
        if isinstance(qualname, str) and _lookup(self.__module__, qualname) is self:
            return qualname
        for what, fn in (("forward", self.forward), ("derivative", self.derivative_function)):
            if fn is None:
                continue
            module, qualname = (
                getattr(fn, "__module__", None),
                str(getattr(fn, "__qualname__", "?")),
            )
            if _lookup(module, qualname) is not fn:
                raise pickle.PicklingError(
                    f"custom op {self.name!r} pickles by reference to its functions, and its "
                    f"{what} {qualname!r} cannot be imported by that name from module "
                    f"{module!r} (a lambda, or a function defined inside another): define it "
                    "at the top level of a module"
                )
        return _rebuild, (self.forward, self.derivative_function, self.name)


def _lookup(module: object, qualname: str) -> object:
    """The object ``module.qualname`` names, or None."""
    if not isinstance(module, str) or "<" in qualname:
        return None
    try:
        obj: object = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def _rebuild(forward: _Forward, derivative: _Derivative | None, name: str) -> CustomOp:
    return CustomOp(forward, derivative, name=name)


@overload
def custom_op(
    forward: _Forward, derivative: _Derivative | None = None, *, name: str | None = None
) -> CustomOp: ...
@overload
def custom_op(*, name: str | None = None) -> Callable[[_Forward], CustomOp]: ...
def custom_op(
    forward: _Forward | None = None,
    derivative: _Derivative | None = None,
    *,
    name: str | None = None,
) -> CustomOp | Callable[[_Forward], CustomOp]:
    """An op of your own: ``forward`` computes its value from floats, ``derivative`` its partials.

    As a decorator on the forward function, with the derivative attached by a second one::

        @ferrograd.custom_op
        def hypot(x, y):
            return math.hypot(x, y)

        @hypot.derivative
        def hypot(x, y):          # ∂/∂x, ∂/∂y at (x, y)
            r = math.hypot(x, y)
            return x / r, y / r

    or as a factory, ``custom_op(forward, derivative, name=None)``; ``@custom_op(name="f")``
    names the op otherwise than its function. The name (the forward's ``__name__`` by default)
    is what ``op``, ``repr``, pictures, ``compare_engines`` and error messages show; a built-in
    op's name is refused (``ValueError``).

    Calling the op on Values builds **one node**, on whichever engine they belong to: the
    forward and the derivative are each called once, there, and the node keeps the value and
    the partials, so ``backward()`` never calls back into Python. Under ``no_grad`` the
    derivative is not called. On Duals the result carries ``Σ ∂f/∂xᵢ · tᵢ``; on plain numbers
    it is the forward's float. Works with ``gradcheck``, ``compare_engines`` and
    ``detect_anomaly`` (a NaN or inf from the forward, or from a partial during the sweep, is
    reported under the op's name). A graph holding the op pickles, with the op by reference
    (its functions must be importable by name: a lambda is a ``PicklingError``).

    ``ferrograd.compile`` refuses a function that uses a custom op (``TypeError`` naming it):
    a tape evaluates without Python, its batches releasing the GIL on several threads, and the
    node's stored partials hold at one point only. Second derivatives (``hessian``) are refused
    the same way, since the partials are numbers, not functions that differentiate.

    Bad input: a forward that raises propagates its exception; a forward that returns anything
    but a real number, or a derivative that returns a non-number, is a ``TypeError``; the wrong
    number of partials is a ``ValueError``; each names the op.
    """
    if forward is None:
        if derivative is not None:
            raise TypeError("custom_op() needs the forward function before the derivative")
        return lambda f: CustomOp(f, name=name)
    return CustomOp(forward, derivative, name=name)
