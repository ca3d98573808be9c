"""Argument checks shared by the package: counts, real numbers, points and batches, the relative
difference of two floats, and the optimisers' hyperparameters.

Each check returns the argument in the form its caller uses (an int, a float, a float64 array),
or raises the exception that names it, so that one mistake reads the same wherever it is made.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

# ------------------------------------------------------------------------------------------------
# Counts.
# ------------------------------------------------------------------------------------------------


def integer(x: object, what: str) -> int:
    """``x`` as an int when it is integral (an int, a numpy integer, anything with
    ``__index__``) and not a bool; ``TypeError`` naming ``what`` otherwise."""
    if isinstance(x, bool):
        raise TypeError(f"{what} must be an int, got bool")
    try:
        n: int = operator.index(x)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(x).__name__}") from None
    return n


def count(x: object, what: str, minimum: int = 1, hint: str = "") -> int:
    """An :func:`integer` ``>= minimum``; ``ValueError`` otherwise (``hint`` follows the bound
    in the message, e.g. what else the argument may be)."""
    n = integer(x, what)
    if n < minimum:
        raise ValueError(f"{what} must be >= {minimum}{hint}, got {n}")
    return n


def count_text(text: str, minimum: int) -> int:
    """A command-line count: ``text`` as an int ``>= minimum``, else ``ValueError`` (the flag's
    name is the parser's to add)."""
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"must be an int >= {minimum}, got {text!r}") from None
    if n < minimum:
        raise ValueError(f"must be an int >= {minimum}, got {n}")
    return n


# ------------------------------------------------------------------------------------------------
# Real numbers.
# ------------------------------------------------------------------------------------------------


def real(x: object, what: str, kind: str = "a real number") -> float:
    """``x`` as a float when it is a real number (int, float, numpy's, any ``numbers.Real``;
    not a bool); ``TypeError`` saying ``what`` must be ``kind`` otherwise."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.integer, np.floating)):
        raise TypeError(f"{what} must be {kind}, got {type(x).__name__}")
    return float(x)


def number(x: object, what: str) -> float:
    """:func:`real`, in the optimisers' words (``lr must be a number``)."""
    return real(x, what, "a number")


def nonnegative(x: object, what: str) -> float:
    """A :func:`real` that is finite and ``>= 0`` (a tolerance, a rate, a penalty, a noise
    level); ``ValueError`` otherwise."""
    value = real(x, what)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return value


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``: 0 when ``a == b`` (both 0 included) and when both are NaN,
    inf when only one is NaN or they differ and one is infinite. The one rule wherever two
    engines' (or two paths') numbers are compared."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


# ------------------------------------------------------------------------------------------------
# Points and batches.
# ------------------------------------------------------------------------------------------------


class NotRealError(TypeError, ValueError):
    """An array of something other than real numbers: a wrong type and a wrong value at once,
    so ``except TypeError`` and ``except ValueError`` both catch it."""


def real_array(x: object, what: str) -> np.ndarray:
    """``x`` as a numpy array of bools, ints or floats; :class:`NotRealError` otherwise."""
    array: np.ndarray = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise NotRealError(f"{what} must hold real numbers, got dtype {array.dtype}")
    return array


_FLOAT64 = np.dtype(np.float64)


def vector(x: object, n: int, what: str) -> np.ndarray:
    """``x`` as a float64 array of shape ``(n,)`` (one point, one direction); ``ValueError``
    for another shape."""
    if type(x) is np.ndarray and x.dtype is _FLOAT64 and x.shape == (n,):
        return x  # what the checks below return for it, without their cost (a training step's)
    array = real_array(x, what)
    if array.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {array.shape}")
    out: np.ndarray = array.astype(np.float64, copy=False)
    return out


def batch(xs: object, n: int, what: str = "a batch") -> np.ndarray:
    """``xs`` as a C-contiguous float64 array of shape ``(m, n)``: ``m`` points of ``n``
    coordinates, one per row, that the core may read in place (see :func:`in_place`);
    ``ValueError`` for another shape."""
    array = real_array(xs, what)
    if array.ndim != 2 or array.shape[1] != n:
        raise ValueError(f"{what} must have shape (m, {n}), got {array.shape}")
    return in_place(array)


def in_place(array: np.ndarray) -> np.ndarray:
    """``array`` (real numbers) as the core's batch methods read arrays in place: exactly
    ``numpy.ndarray``, native float64, C-contiguous and aligned; copied only when it is not."""
    rows: np.ndarray = np.ascontiguousarray(array, dtype=np.float64)
    if not rows.flags.aligned:  # ascontiguousarray keeps a misaligned buffer as it is
        rows = rows.copy()
    return rows


# ------------------------------------------------------------------------------------------------
# The optimisers' hyperparameters.
# ------------------------------------------------------------------------------------------------


def learning_rate(value: object) -> float:
    """A finite number >= 0; ``ValueError`` otherwise."""
    number(value, "lr")  # a non-number is named in the optimisers' words
    return nonnegative(value, "lr")


def momentum(value: object) -> float:
    """A number in [0, 1); ``ValueError`` otherwise."""
    mu = number(value, "momentum")
    if not (0.0 <= mu < 1.0):
        raise ValueError(f"momentum must be in [0, 1), got {mu}")
    return mu


def adam_hyperparameters(
    who: str, betas: object, eps: object, weight_decay: object
) -> tuple[tuple[float, float], float, float]:
    """``(betas, eps, weight_decay)`` checked for Adam and AdamW: two numbers in [0, 1), then
    two finite numbers >= 0. Messages name the optimiser ``who``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{who}() betas must be a pair of numbers, got {betas!r}")
    b1, b2 = (number(b, "betas") for b in betas)
    for name, b in (("betas[0]", b1), ("betas[1]", b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{who}() {name} must be in [0, 1), got {b}")
    number(eps, "eps"), number(weight_decay, "weight_decay")
    checked_eps = nonnegative(eps, f"{who}() eps")
    return (b1, b2), checked_eps, nonnegative(weight_decay, f"{who}() weight_decay")


class LearningRate:
    """The ``lr`` attribute of an optimiser, checked whenever it is set (so a schedule that
    changes it between steps is checked too)."""

    _lr: float

    def __init__(self, lr: float) -> None:
        self.lr = lr

    @property
    def lr(self) -> float:
        """The learning rate: a finite number >= 0 (``ValueError`` otherwise)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = learning_rate(value)
