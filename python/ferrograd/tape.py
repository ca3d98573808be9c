"""Compiled tapes: record a function once, then evaluate it with derivatives at many points.

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

A function may also return a sequence of Values (a vector function of ``k`` outputs): then
``tape(x)`` is an array of ``k`` numbers, ``tape.jacobian(x)`` the ``k × n`` Jacobian and
``tape.jacobian_batch(xs)`` the ``(m, k, n)`` Jacobians; subexpressions the outputs share are
computed once per point.

The tape records one path. Python control flow that depends on values (``if x.data > 0``), and
constants computed from ``.data``, are frozen as they were at the example point. Pass
``check=True`` to re-trace ``f`` at every point and raise :class:`PathChangedError` when the
recorded program no longer matches.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from ferrograd import _checks
from ferrograd._core import Tape as _RustTape
from ferrograd._core import Value
from ferrograd._grad_mode import enable_grad

__all__ = ["PathChangedError", "Tape", "compile"]


class PathChangedError(RuntimeError):
    """``f`` builds a different program at this point than the one the tape recorded."""


def _trace(f: Callable[..., object], point: Sequence[float]) -> _RustTape:
    inputs = [Value(x, f"x{i}") for i, x in enumerate(point)]
    with enable_grad():  # the tape records f's graph whatever the setting outside compile()
        output = f(*inputs)
    if isinstance(output, Value):
        return _RustTape.record(inputs, output)
    return _RustTape.record_many(inputs, _output_list(output))


def _output_list(output: object) -> list[Value]:
    """``f``'s sequence of outputs as a list of Values, or the error naming what is wrong."""
    if isinstance(output, np.ndarray):
        if output.ndim != 1:
            raise TypeError(
                f"compile() needs f to return a Value or a flat sequence of Values, got an "
                f"array of shape {output.shape} (flatten it with .ravel())"
            )
        output = output.tolist()
    if not isinstance(output, (list, tuple)):
        raise TypeError(
            "compile() needs f to return a ferrograd.Value or a list or tuple of them, "
            f"got {type(output).__name__}"
        )
    if not output:
        raise ValueError(
            f"compile() needs f to return at least one Value, got an empty {type(output).__name__}"
        )
    for i, item in enumerate(output):
        if isinstance(item, Value):
            continue
        kind = type(item).__name__
        if isinstance(item, (list, tuple, np.ndarray)):
            raise TypeError(
                f"compile() needs a flat sequence of Values, but output {i} is a {kind}: "
                "flatten nested or ragged outputs into one list"
            )
        hint = (
            ": wrap a constant as ferrograd.Value(c)"
            if isinstance(item, (int, float, np.number))
            else ""
        )
        raise TypeError(
            f"compile() needs every output to be a ferrograd.Value, output {i} is a {kind}{hint}"
        )
    return list(output)


def compile(
    f: Callable[..., object],
    n_inputs: int,
    example: Sequence[float] | None = None,
    check: bool = False,
) -> Tape:
    """Record ``f(x0, ..., x{n-1})``, a function of ``n_inputs`` Values returning a Value, or a
    non-empty list or tuple (or 1-D array) of Values for a function of several outputs.

    ``f`` runs once, on placeholder Values at ``example`` (default: all ones), and the tape keeps
    the operations it performed. **The tape records one path**: an ``if`` on ``x.data``, a loop
    whose length depends on a value, or a constant computed from ``.data`` is frozen as it was at
    ``example``, and the tape then computes that same program at every other point. With
    ``check=True`` every evaluation traces ``f`` again at its point and raises
    :class:`PathChangedError` when the program differs (slow: it runs ``f`` in Python per point).

    With several outputs (``k`` of them; an output may be an input, a constant Value or another
    output again) ``tape(x)`` and ``tape.eval_batch`` give ``k`` numbers per point,
    ``tape.jacobian`` and ``tape.jacobian_batch`` the ``k × n`` Jacobian per point, and ``jvp``,
    ``vjp`` and ``hessian`` (one ``n × n`` per output) take and give arrays. ``grad``,
    ``grad_batch``, ``gradient`` and ``hessp`` need a scalar function and raise ``ValueError``
    naming the Jacobian method to use instead.

    Raises ``TypeError`` when ``f`` is not callable, ``n_inputs`` is not an int or ``f`` returns
    something other than a Value or a flat sequence of Values (a number, a nested or ragged
    list), and ``ValueError`` when ``n_inputs < 1``, ``f`` returns an empty sequence or
    ``example`` has the wrong shape.
    """
    if not callable(f):
        raise TypeError(f"compile() needs a callable, got {type(f).__name__}")
    n_inputs = _checks.count(n_inputs, "compile() n_inputs")
    try:
        point = [1.0] * n_inputs if example is None else _point(example, n_inputs, "example")
    except MemoryError:
        raise MemoryError(
            f"compile() cannot allocate a point of {n_inputs:,} inputs ({8 * n_inputs:,} bytes)"
        ) from None
    return Tape(_trace(f, point), f if check else None)


def _threads(threads: object) -> int | None:
    if threads is None:
        return None
    threads = _checks.count(threads, "threads", hint=" (or None for one per core)")
    # More threads than cores are clamped (here to the machine's count, in Rust to the cores
    # this process may use): each thread holds a scratch block the size of the plan.
    return min(threads, os.cpu_count() or 1)


def _precision(precision: object) -> str:
    if not isinstance(precision, str):
        raise TypeError(f"precision must be a str, got {type(precision).__name__}")
    if precision not in ("default", "fast"):
        raise ValueError(f'precision must be "default" or "fast", got {precision!r}')
    return precision


def _point(x: object, n: int, what: str = "x") -> list[float]:
    point: list[float] = _checks.vector(x, n, what).tolist()
    return point


class Tape:
    """A recorded function of ``n_inputs`` variables, scalar or of ``n_outputs`` outputs; see
    :func:`compile`."""

    __slots__ = ("_f", "_tape")

    def __init__(self, tape: _RustTape, f: Callable[..., object] | None = None) -> None:
        self._tape = tape
        self._f = f

    @property
    def n_inputs(self) -> int:
        """How many numbers each point has."""
        return self._tape.n_inputs

    @property
    def n_outputs(self) -> int:
        """How many numbers the function returns: 1 for a scalar function."""
        return self._tape.n_outputs

    @property
    def is_vector(self) -> bool:
        """Whether ``f`` returns a sequence of Values (even of one) rather than one Value."""
        return self._tape.is_vector

    def _scalar(self, method: str, instead: str) -> None:
        if self._tape.is_vector:
            raise ValueError(
                f"{method}() needs a scalar function, and this tape's f returns "
                f"{self.n_outputs} outputs: use {instead}"
            )

    @property
    def checked(self) -> bool:
        """Whether every evaluation re-traces ``f`` to detect a changed path."""
        return self._f is not None

    def __len__(self) -> int:
        """Number of slots: inputs, constants and op results."""
        return len(self._tape)

    def __repr__(self) -> str:
        outputs = f", n_outputs={self.n_outputs}" if self.is_vector else ""
        return f"Tape(n_inputs={self.n_inputs}{outputs}, slots={len(self)}, checked={self.checked})"

    def _check(self, point: list[float]) -> None:
        if self._f is not None and not self._tape.same_program(_trace(self._f, point)):
            raise PathChangedError(
                f"f builds a different program at {point} than the one recorded; "
                "the tape only follows the path taken when it was compiled"
            )

    def __call__(self, x: Sequence[float]) -> Any:
        """The function's value at ``x``: a float, or an array of ``n_outputs`` numbers."""
        point = _point(x, self.n_inputs)
        self._check(point)
        if self.is_vector:
            return np.array(self._tape.eval_all(point))
        return self._tape.eval(point)

    def grad(self, x: Sequence[float]) -> tuple[float, np.ndarray]:
        """The value and the gradient (shape ``(n_inputs,)``) at ``x``; scalar functions only
        (``ValueError`` naming :meth:`jacobian` otherwise)."""
        self._scalar("grad", "jacobian(x) for the k × n Jacobian, or vjp(x, u)")
        point = _point(x, self.n_inputs)
        self._check(point)
        value, grad = self._tape.grad(point)
        return value, np.array(grad)

    def jacobian(self, x: Sequence[float]) -> np.ndarray:
        """The Jacobian at ``x``: shape ``(n_outputs, n_inputs)``, or ``(n_inputs,)`` (the
        gradient) for a scalar function, as ``jax.jacrev`` shapes it.

        Reverse mode: one forward pass, then one reverse sweep per output over the same values,
        each over the steps that output depends on in its own order, so row ``k`` is bit for bit
        the gradient a tape of output ``k`` alone (or the graph's ``backward``) gives. Reverse
        mode even when outputs outnumber inputs: forward mode would need fewer passes there but
        would not give those same numbers; :meth:`jvp` gives a column in one forward pass.
        """
        point = _point(x, self.n_inputs)
        self._check(point)
        _, jac = self._tape.jacobian(point)
        shape = (self.n_outputs, self.n_inputs) if self.is_vector else (self.n_inputs,)
        out: np.ndarray = np.array(jac, dtype=np.float64).reshape(shape)
        return out

    def jvp(self, x: Sequence[float], v: Sequence[float]) -> tuple[Any, Any]:
        """The value and the directional derivative along ``v`` at ``x``, in forward mode:
        floats, or two arrays of ``n_outputs`` numbers for a vector function."""
        point = _point(x, self.n_inputs)
        self._check(point)
        direction = _point(v, self.n_inputs, "v")
        if self.is_vector:
            values, tangents = self._tape.jvp_all(point, direction)
            return np.array(values), np.array(tangents)
        return self._tape.jvp(point, direction)

    def vjp(self, x: Sequence[float], u: object) -> tuple[Any, np.ndarray]:
        """The value at ``x`` and ``u · J`` (shape ``(n_inputs,)``), in one reverse sweep.

        ``u`` holds one number per output (shape ``(n_outputs,)``; a number for a scalar
        function). The sweep starts with output ``k``'s adjoint at ``u[k]``, added up for an
        output that appears twice, as ``jax.vjp`` does.
        """
        point = _point(x, self.n_inputs)
        self._check(point)
        if self.is_vector:
            cotangent = _point(u, self.n_outputs, "u")
        elif np.ndim(u) == 0:
            cotangent = _point(np.reshape(u, (1,)), 1, "u")
        else:
            raise ValueError(f"u must be a number for a scalar function, got shape {np.shape(u)}")
        values, g = self._tape.vjp(point, cotangent)
        value: Any = np.array(values) if self.is_vector else values[0]
        return value, np.array(g)

    def hessian(self, x: Sequence[float]) -> np.ndarray:
        """The Hessian (shape ``(n_inputs, n_inputs)``) at ``x``, forward over reverse mode; for
        a vector function one per output, shape ``(n_outputs, n_inputs, n_inputs)`` (as
        ``jax.hessian`` gives), each bit for bit that output's own.

        Needs ``8 × n_outputs × n_inputs²`` bytes; ``MemoryError`` naming the size when that
        cannot be had.
        """
        point = _point(x, self.n_inputs)
        self._check(point)
        n = self.n_inputs
        if self.is_vector:
            full: np.ndarray = np.array(self._tape.hessians(point)).reshape(self.n_outputs, n, n)
            return full
        hessian: np.ndarray = np.array(self._tape.hessian(point)).reshape(n, n)
        return hessian

    def gradient(self, x: Sequence[float]) -> np.ndarray:
        """The gradient alone (shape ``(n_inputs,)``): ``jac=`` for ``scipy.optimize.minimize``.

        ``minimize(tape, x0, jac=tape.gradient, hess=tape.hessian)`` gives scipy exact
        derivatives; ``minimize(tape.grad, x0, jac=True)`` one sweep for value and gradient.
        Scalar functions only.
        """
        self._scalar("gradient", "jacobian(x)")
        return self.grad(x)[1]

    def hessp(self, x: Sequence[float], p: Sequence[float]) -> np.ndarray:
        """The Hessian at ``x`` times the vector ``p``: ``hessp=`` for ``scipy.optimize``.

        Computes the whole Hessian, so it costs what :meth:`hessian` costs. Scalar functions
        only.
        """
        self._scalar("hessp", "hessian(x), one Hessian per output")
        direction = np.array(_point(p, self.n_inputs, "p"))
        product: np.ndarray = self.hessian(x) @ direction
        return product

    def _batch(self, xs: object) -> np.ndarray:
        """``xs`` as the C-contiguous, aligned float64 array the core reads in place."""
        array = _checks.batch(xs, self.n_inputs)
        if self._f is not None:
            for row in array.tolist():
                self._check(row)
        return array

    def eval_batch(
        self, xs: object, threads: int | None = None, precision: str = "default"
    ) -> np.ndarray:
        """Values at each row of ``xs`` (shape ``(m, n_inputs)``) → shape ``(m,)``, or
        ``(m, n_outputs)`` for a vector function.

        Computed in Rust with the GIL released, on ``min(threads, cores, m / 32)`` threads
        (``threads=None`` means one per core; a ``threads`` above the core count is clamped to
        it, not refused; small batches stay on one). Scratch memory is bounded by the threads
        used, not by ``m``: ``256 × plan_len`` bytes per thread here, ``512 × plan_len`` for
        :meth:`grad_batch` (32 rows of every slot's value, and adjoint), besides the input and
        the result; the tape keeps those blocks for its next batch call (one per core at most,
        and only blocks up to 4 MiB), so a loop of small batches allocates nothing after its
        first call. An allocation that fails raises ``MemoryError`` naming its size. Any real
        dtype and memory order is accepted: a C-contiguous, aligned float64 ``xs`` is read in
        place, without a copy (so no other thread may write to it during the call), anything
        else converted to one first; the result is a new array that the threads fill directly.
        Rows with NaN or inf give the IEEE results the graph would.

        ``precision="default"`` computes every row bit for bit as :meth:`grad` and the graph
        do. ``precision="fast"`` runs ``exp``, ``log``, ``sin``, ``cos``, ``tan``, ``tanh`` and
        ``sigmoid`` (and their derivatives in :meth:`grad_batch`) as vectorised polynomials,
        each within 1 ulp of the exact result for values and 2 ulps for derivatives (the table
        in docs/ops.md), several times faster than a libm call per row; NaN, infinities and
        overflow still give libm's results. Anything else is a ``ValueError``.
        """
        threads = _threads(threads)
        precision = _precision(precision)
        array = self._batch(xs)
        m = array.shape[0]
        # np.empty: the pages are first touched by the threads that fill them, in parallel.
        out: np.ndarray = np.empty((m, self.n_outputs) if self.is_vector else (m,))
        self._tape.eval_batch_into(array, out, threads, precision)
        return out

    def grad_batch(
        self, xs: object, threads: int | None = None, precision: str = "default"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values ``(m,)`` and gradients ``(m, n_inputs)`` at each row of ``xs``.

        As :meth:`eval_batch` (same thread rule; scratch ``512 × plan_len`` bytes per
        thread); in the default precision each row's numbers are bit for bit those of
        :meth:`grad`, and ``precision="fast"`` is as for :meth:`eval_batch`. Scalar functions
        only: :meth:`jacobian_batch` for a vector function.
        """
        self._scalar("grad_batch", "jacobian_batch(xs)")
        threads = _threads(threads)
        precision = _precision(precision)
        array = self._batch(xs)
        values, grads = np.empty(array.shape[0]), np.empty(array.shape)
        self._tape.grad_batch_into(array, values, grads, threads, precision)
        return values, grads

    def jacobian_batch(
        self, xs: object, threads: int | None = None, precision: str = "default"
    ) -> np.ndarray:
        """The Jacobian at each row of ``xs``: shape ``(m, n_outputs, n_inputs)``, or
        ``(m, n_inputs)`` for a scalar function (what ``jax.vmap(jax.jacrev(f))`` gives).

        As :meth:`eval_batch` (GIL released, same thread rule; scratch ``512 × plan_len`` bytes
        per thread, as :meth:`grad_batch`), besides the ``8 × m × n_outputs × n_inputs`` bytes
        of the result; each row is bit for bit what :meth:`jacobian` gives at that point. A
        tape whose outputs reach their steps in orders other than the plan's keeps each such
        order, 4 bytes per step the output depends on, computed once at compile time.
        ``precision="fast"`` is as for :meth:`eval_batch`.
        """
        threads = _threads(threads)
        precision = _precision(precision)
        array = self._batch(xs)
        m, n = array.shape
        out: np.ndarray = np.empty((m, self.n_outputs, n) if self.is_vector else (m, n))
        self._tape.jacobian_batch_into(array, out, threads, precision)
        return out

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


def _tape_from_bytes(data: bytes, f: Callable[..., object] | None = None) -> Tape:
    return Tape(_RustTape.from_bytes(data), f)
