"""Spread a tape's batches over worker processes or machines, with any executor.

>>> from concurrent.futures import ProcessPoolExecutor
>>> import numpy as np
>>> import ferrograd
>>> from ferrograd import parallel
>>> tape = ferrograd.compile(lambda x, y: (x * y).tanh() + x.log(), n_inputs=2)
>>> xs = np.random.default_rng(0).uniform(0.5, 2.0, size=(10_000, 2))
>>> with ProcessPoolExecutor(max_workers=2) as pool:  # doctest: +SKIP
...     values, grads = parallel.grad_batch(tape, xs, pool)

The tape travels to the workers by pickle (a few bytes per instruction); each worker runs
``Tape.grad_batch`` on its share of the rows, and the shares come back in order. Every row is
computed by the same instructions wherever it runs, so the result is bit for bit the one
``tape.grad_batch(xs)`` gives in one process. Any ``concurrent.futures.Executor`` works:
``ProcessPoolExecutor``, or a Dask cluster through ``client.get_executor()``.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor

import numpy as np

from ferrograd.tape import Tape

__all__ = ["eval_batch", "grad_batch"]


def _rows(tape: Tape, xs: object) -> np.ndarray:
    if not isinstance(tape, Tape):
        raise TypeError(f"needs a ferrograd.Tape, got {type(tape).__name__}")
    array = np.asarray(xs)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"a batch must hold real numbers, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != tape.n_inputs:
        raise ValueError(f"a batch must have shape (m, {tape.n_inputs}), got {array.shape}")
    rows: np.ndarray = np.ascontiguousarray(array, dtype=np.float64)
    return rows


def _submitter(executor: object) -> Executor:
    """``executor`` when it can run work (anything with ``submit``, as every Executor has)."""
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "needs a concurrent.futures.Executor (ProcessPoolExecutor, or a Dask client's "
            f"get_executor()), got {type(executor).__name__}"
        )
    return executor  # type: ignore[return-value]


def _shares(array: np.ndarray, chunks: int | None) -> list[np.ndarray]:
    if chunks is None:
        chunks = 2 * (os.cpu_count() or 1)
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunks must be an int >= 1, got {chunks!r}")
    return [share for share in np.array_split(array, chunks) if len(share)] or [array]


def _grad_share(tape: Tape, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return tape.grad_batch(share, threads=1)


def _eval_share(tape: Tape, share: np.ndarray) -> np.ndarray:
    return tape.eval_batch(share, threads=1)


def grad_batch(
    tape: Tape,
    xs: object,
    executor: Executor,
    chunks: int | None = None,
    timeout: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``tape.grad_batch(xs)``, its rows split into ``chunks`` shares run on ``executor``.

    ``chunks`` defaults to twice the cores here; ``timeout`` (seconds) bounds the wait for each
    share (``TimeoutError`` past it). Returns values ``(m,)`` and gradients ``(m, n_inputs)``.
    """
    array, pool = _rows(tape, xs), _submitter(executor)
    futures = [pool.submit(_grad_share, tape, share) for share in _shares(array, chunks)]
    results = [future.result(timeout=timeout) for future in futures]
    values = np.concatenate([values for values, _ in results])
    grads = np.concatenate([grads for _, grads in results]).reshape(len(array), tape.n_inputs)
    return values, grads


def eval_batch(
    tape: Tape,
    xs: object,
    executor: Executor,
    chunks: int | None = None,
    timeout: float | None = None,
) -> np.ndarray:
    """``tape.eval_batch(xs)`` spread over ``executor`` as :func:`grad_batch` does."""
    array, pool = _rows(tape, xs), _submitter(executor)
    futures = [pool.submit(_eval_share, tape, share) for share in _shares(array, chunks)]
    values: np.ndarray = np.concatenate([future.result(timeout=timeout) for future in futures])
    return values
