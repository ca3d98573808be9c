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

import numpy as np

from ferrograd._core import Dual

__all__ = ["Dual", "jvp"]


def jvp(f: Callable[..., Dual], x: Sequence[float], v: Sequence[float]) -> tuple[float, float]:
    """``f(x)`` and its derivative along ``v``, in one forward pass without a graph.

    ``f`` takes ``len(x)`` Duals and returns a Dual (or a plain number, for a function that does
    not depend on its inputs: derivative 0). ``x`` and ``v`` are sequences of real numbers of the
    same length (``ValueError`` otherwise).
    """
    point, direction = np.asarray(x), np.asarray(v)
    for name, array in (("x", point), ("v", direction)):
        if array.dtype.kind not in "biuf" or array.ndim != 1:
            raise ValueError(
                f"jvp() needs {name} to be a 1-D sequence of real numbers, "
                f"got shape {array.shape} and dtype {array.dtype}"
            )
    if point.shape != direction.shape:
        raise ValueError(f"jvp() needs x and v of the same length, got {len(x)} and {len(v)}")
    out: object = f(*(Dual(a, b) for a, b in zip(point.tolist(), direction.tolist())))
    if isinstance(out, Dual):
        return out.data, out.tangent
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return float(out), 0.0
    raise TypeError(f"jvp() needs f to return a Dual, got {type(out).__name__}")
