"""Compiled tapes: record a scalar function once, then evaluate it with gradients at many points.

>>> import numpy as np
>>> import ferrograd
>>> tape = ferrograd.compile(lambda x, y: (x * y).tanh() + x.log(), n_inputs=2)
>>> value, grad = tape.grad([2.0, 0.5])
>>> values, grads = tape.grad_batch(np.array([[2.0, 0.5], [1.0, 1.0]]))
>>> grads.shape
(2, 2)

``compile`` runs ``f`` once on placeholder Values and flattens the graph into an array of
instructions held in Rust (no Python object per node). Every later evaluation runs that array:
``tape(x)``, ``tape.grad(x)``, forward mode ``tape.jvp(x, v)``, ``tape.hessian(x)``, and the
batched ``eval_batch`` / ``grad_batch`` over the rows of a numpy array, computed in Rust with the
GIL released and split across threads.

The tape records one path. Python control flow that depends on values (``if x.data > 0``), and
constants computed from ``.data``, are frozen as they were at the example point. Pass
``check=True`` to re-trace ``f`` at every point and raise :class:`PathChangedError` when the
recorded program no longer matches.
"""

from __future__ import annotations

import operator
import os
import pickle
from collections.abc import Sequence
from typing import Callable

import numpy as np

from ferrograd._core import Tape as _RustTape
from ferrograd._core import Value

__all__ = ["PathChangedError", "Tape", "compile"]


class PathChangedError(RuntimeError):
    """``f`` builds a different program at this point than the one the tape recorded."""


def _trace(f: Callable[..., Value], point: Sequence[float]) -> _RustTape:
    inputs = [Value(x, f"x{i}") for i, x in enumerate(point)]
    output = f(*inputs)
    if not isinstance(output, Value):
        raise TypeError(
            f"compile() needs f to return a ferrograd.Value, got {type(output).__name__}"
        )
    return _RustTape.record(inputs, output)


def compile(
    f: Callable[..., Value],
    n_inputs: int,
    example: Sequence[float] | None = None,
    check: bool = False,
) -> Tape:
    """Record ``f(x0, ..., x{n-1})``, a function of ``n_inputs`` Values returning a Value.

    ``f`` runs once, on placeholder Values at ``example`` (default: all ones), and the tape keeps
    the operations it performed. **The tape records one path**: an ``if`` on ``x.data``, a loop
    whose length depends on a value, or a constant computed from ``.data`` is frozen as it was at
    ``example``, and the tape then computes that same program at every other point. With
    ``check=True`` every evaluation traces ``f`` again at its point and raises
    :class:`PathChangedError` when the program differs (slow: it runs ``f`` in Python per point).

    Raises ``TypeError`` when ``f`` is not callable, ``n_inputs`` is not an int or ``f`` does not
    return a Value, and ``ValueError`` when ``n_inputs < 1`` or ``example`` has the wrong shape.
    """
    if not callable(f):
        raise TypeError(f"compile() needs a callable, got {type(f).__name__}")
    n_inputs = _count(n_inputs, "compile() n_inputs")
    if n_inputs < 1:
        raise ValueError(f"compile() needs n_inputs >= 1, got {n_inputs}")
    point = [1.0] * n_inputs if example is None else _point(example, n_inputs, "example")
    return Tape(_trace(f, point), f if check else None)


def _count(x: object, what: str) -> int:
    if isinstance(x, bool):
        raise TypeError(f"{what} must be an int, got bool")
    try:
        return operator.index(x)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(x).__name__}") from None


def _threads(threads: object) -> int | None:
    if threads is None:
        return None
    threads = _count(threads, "threads")
    if threads < 1:
        raise ValueError(f"threads must be >= 1 (or None for one per core), got {threads}")
    # More threads than cores are clamped (here to the machine's count, in Rust to the cores
    # this process may use): each thread holds a scratch block the size of the plan.
    return min(threads, os.cpu_count() or 1)


def _point(x: object, n: int, what: str = "x") -> list[float]:
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold real numbers, got dtype {array.dtype}")
    if array.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {array.shape}")
    point: list[float] = array.astype(np.float64).tolist()
    return point


class Tape:
    """A recorded scalar function of ``n_inputs`` variables; see :func:`compile`."""

    __slots__ = ("_f", "_tape")

    def __init__(self, tape: _RustTape, f: Callable[..., Value] | None = None) -> None:
        self._tape = tape
        self._f = f

    @property
    def n_inputs(self) -> int:
        """How many numbers each point has."""
        return self._tape.n_inputs

    @property
    def checked(self) -> bool:
        """Whether every evaluation re-traces ``f`` to detect a changed path."""
        return self._f is not None

    def __len__(self) -> int:
        """Number of slots: inputs, constants and op results."""
        return len(self._tape)

    def __repr__(self) -> str:
        return f"Tape(n_inputs={self.n_inputs}, slots={len(self)}, checked={self.checked})"

    def _check(self, point: list[float]) -> None:
        if self._f is not None and not self._tape.same_program(_trace(self._f, point)):
            raise PathChangedError(
                f"f builds a different program at {point} than the one recorded; "
                "the tape only follows the path taken when it was compiled"
            )

    def __call__(self, x: Sequence[float]) -> float:
        """The function's value at ``x``."""
        point = _point(x, self.n_inputs)
        self._check(point)
        return self._tape.eval(point)

    def grad(self, x: Sequence[float]) -> tuple[float, np.ndarray]:
        """The value and the gradient (shape ``(n_inputs,)``) at ``x``."""
        point = _point(x, self.n_inputs)
        self._check(point)
        value, grad = self._tape.grad(point)
        return value, np.array(grad)

    def jvp(self, x: Sequence[float], v: Sequence[float]) -> tuple[float, float]:
        """The value and the directional derivative along ``v`` at ``x``, in forward mode."""
        point = _point(x, self.n_inputs)
        self._check(point)
        return self._tape.jvp(point, _point(v, self.n_inputs, "v"))

    def hessian(self, x: Sequence[float]) -> np.ndarray:
        """The Hessian (shape ``(n_inputs, n_inputs)``) at ``x``, forward over reverse mode.

        Needs ``8 × n_inputs²`` bytes; ``MemoryError`` naming the size when that cannot be had.
        """
        point = _point(x, self.n_inputs)
        self._check(point)
        n = self.n_inputs
        hessian: np.ndarray = np.array(self._tape.hessian(point)).reshape(n, n)
        return hessian

    def gradient(self, x: Sequence[float]) -> np.ndarray:
        """The gradient alone (shape ``(n_inputs,)``): ``jac=`` for ``scipy.optimize.minimize``.

        ``minimize(tape, x0, jac=tape.gradient, hess=tape.hessian)`` gives scipy exact
        derivatives; ``minimize(tape.grad, x0, jac=True)`` one sweep for value and gradient.
        """
        return self.grad(x)[1]

    def hessp(self, x: Sequence[float], p: Sequence[float]) -> np.ndarray:
        """The Hessian at ``x`` times the vector ``p``: ``hessp=`` for ``scipy.optimize``.

        Computes the whole Hessian, so it costs what :meth:`hessian` costs.
        """
        direction = np.array(_point(p, self.n_inputs, "p"))
        product: np.ndarray = self.hessian(x) @ direction
        return product

    def _batch(self, xs: object) -> bytes:
        array = np.asarray(xs)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"a batch must hold real numbers, got dtype {array.dtype}")
        if array.ndim != 2 or array.shape[1] != self.n_inputs:
            raise ValueError(f"a batch must have shape (m, {self.n_inputs}), got {array.shape}")
        array = np.ascontiguousarray(array, dtype=np.float64)
        if self._f is not None:
            for row in array.tolist():
                self._check(row)
        flat: bytes = array.tobytes()
        return flat

    def eval_batch(self, xs: object, threads: int | None = None) -> np.ndarray:
        """Values at each row of ``xs`` (shape ``(m, n_inputs)``) → shape ``(m,)``.

        Computed in Rust with the GIL released, on ``min(threads, cores, m / 32)`` threads
        (``threads=None`` means one per core; a ``threads`` above the core count is clamped to
        it, not refused; small batches stay on one). Scratch memory is bounded by the threads
        used, not by ``m``: ``256 × plan_len`` bytes per thread here, ``512 × plan_len`` for
        :meth:`grad_batch` (32 rows of every slot's value, and adjoint), besides the input and
        the result. An allocation that fails raises ``MemoryError`` naming its size. Any real
        dtype and memory order is accepted; rows with NaN or inf give the IEEE results the graph
        would.
        """
        threads = _threads(threads)
        values = self._tape.eval_batch_bytes(self._batch(xs), threads)
        out: np.ndarray = np.frombuffer(values, dtype=np.float64)
        return out

    def grad_batch(self, xs: object, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(m,)`` and gradients ``(m, n_inputs)`` at each row of ``xs``.

        As :meth:`eval_batch` (same thread rule; scratch ``512 × plan_len`` bytes per
        thread); each row's numbers are bit for bit those of :meth:`grad`.
        """
        threads = _threads(threads)
        values, grads = self._tape.grad_batch_bytes(self._batch(xs), threads)
        m = len(values) // 8
        return (
            np.frombuffer(values, dtype=np.float64),
            np.frombuffer(grads, dtype=np.float64).reshape(m, self.n_inputs),
        )

    def __reduce__(self) -> tuple[object, tuple[bytes, object]]:
        """Pickles the recorded program; a checked tape also pickles ``f``, by reference."""
        if self._f is not None:
            try:
                pickle.dumps(self._f)
            except Exception as err:
                raise pickle.PicklingError(
                    f"a Tape compiled with check=True pickles f, and f cannot be pickled ({err}); "
                    "pickle tape.unchecked() to send the recorded program alone"
                ) from err
        return (_tape_from_bytes, (self._tape.to_bytes(), self._f))

    def unchecked(self) -> Tape:
        """The same tape without the re-tracing check."""
        return Tape(self._tape)

    @property
    def plan_len(self) -> int:
        """Slots each evaluation computes, after constant folding and dead-code removal."""
        return self._tape.plan_len


def _tape_from_bytes(data: bytes, f: Callable[..., Value] | None = None) -> Tape:
    return Tape(_RustTape.from_bytes(data), f)
