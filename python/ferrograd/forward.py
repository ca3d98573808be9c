"""Forward mode without a graph: run a function on :class:`Dual` numbers.

>>> from ferrograd import jvp
>>> jvp(lambda x1, x2: x1.log() + x1 * x2 - x2.sin(), [2.0, 5.0], [1.0, 0.0])
(11.652071455223084, 5.5)

A ``Dual`` has the same ops as ``Value`` (same names, same formulas from the Rust op table), so a
function written for Values runs on Duals unchanged, as long as it uses operators and methods
(``ferrograd.sum`` and ``ferrograd.dot`` take Values only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from ferrograd._core import Dual

__all__ = ["Dual", "jvp"]


def jvp(f: Callable[..., Dual], x: Sequence[float], v: Sequence[float]) -> tuple[float, float]:
    """``f(x)`` and its derivative along ``v``, in one forward pass."""
    if len(x) != len(v):
        raise ValueError(f"jvp() needs x and v of the same length, got {len(x)} and {len(v)}")
    out = f(*(Dual(a, b) for a, b in zip(x, v)))
    if not isinstance(out, Dual):
        raise TypeError(f"jvp() needs f to return a Dual, got {type(out).__name__}")
    return out.data, out.tangent
