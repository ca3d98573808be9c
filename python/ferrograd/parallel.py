"""Spread a tape's batches over worker processes or machines: any executor, or a Dask cluster.

>>> from concurrent.futures import ProcessPoolExecutor
>>> import numpy as np
>>> import ferrograd
>>> from ferrograd import parallel
>>> tape = ferrograd.compile(lambda x, y: (x * y).tanh() + x.log(), n_inputs=2)
>>> xs = np.random.default_rng(0).uniform(0.5, 2.0, size=(10_000, 2))
>>> with ProcessPoolExecutor(max_workers=2) as pool:  # doctest: +SKIP
...     values, grads = parallel.grad_batch(tape, xs, pool)

Two ways in:

- **A numpy array and an executor.** The rows are cut into ``chunks`` shares here, the tape
  travels with each share by pickle (a few bytes per instruction), each worker runs
  ``Tape.grad_batch`` on its share and the shares come back in order. Any
  ``concurrent.futures.Executor`` works: ``ProcessPoolExecutor``, or a Dask cluster through
  ``client.get_executor()``.
- **A dask array** of shape ``(m, n_inputs)``, chunked along rows, for points that live on a
  cluster and may not fit in this process. The result is dask arrays with the same row blocks,
  built lazily (nothing runs until they are computed, by whichever Dask scheduler is active).
  The tape is one key of the graph, so it travels to each worker once whatever the number of
  blocks; each block runs ``Tape.grad_batch`` with the GIL released on one of the worker's
  threads, so a worker with ``t`` threads works on ``t`` blocks at once.

Every row is computed by the same instructions wherever it runs, so the numbers are bit for bit
the ones ``tape.grad_batch(xs)`` gives in one process, for any chunking (and with
``precision="fast"``, those of ``tape.grad_batch(xs, precision="fast")`` on the same CPU). A failure on a worker
comes back as the original exception type, its message prefixed with the failing share or block.
"""

from __future__ import annotations

import operator
import os
import pickle
import sys
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ferrograd import _checks
from ferrograd.tape import Tape, _precision

__all__ = ["eval_batch", "grad_batch", "jacobian_batch"]

# One batch method's outputs, always as a tuple: (values,), (values, grads) or (jacobians,).
_Outputs = tuple[np.ndarray, ...]


def _tape(tape: object) -> Tape:
    if not isinstance(tape, Tape):
        raise TypeError(f"needs a ferrograd.Tape, got {type(tape).__name__}")
    return tape


def _rows(tape: Tape, xs: object) -> np.ndarray:
    return _checks.batch(xs, tape.n_inputs)


def _submitter(executor: object) -> Executor:
    """``executor`` when it can run work (anything with ``submit``, as every Executor has)."""
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "needs a concurrent.futures.Executor (ProcessPoolExecutor, or a Dask client's "
            f"get_executor()), got {type(executor).__name__}"
        )
    return executor  # type: ignore[return-value]


def _count(chunks: object) -> int:
    """``chunks`` as an int >= 1: any integral number (``np.int64`` too), as ``threads`` takes."""
    return _checks.count(chunks, "chunks")


def _shares(array: np.ndarray, chunks: object) -> list[np.ndarray]:
    """At most ``chunks`` non-empty, contiguous row shares of ``array``, in order (none if empty).

    Never more shares than rows, so a huge ``chunks`` costs nothing.
    """
    count = 2 * (os.cpu_count() or 1) if chunks is None else _count(chunks)
    count = min(count, len(array))
    if count == 0:
        return []
    shares: list[np.ndarray] = np.array_split(array, count)
    return shares


def _located(err: Exception, where: str) -> Exception:
    """``err`` as the same exception type whose message starts with ``where``."""
    try:
        located = type(err)(f"{where}: {err}")
    except (TypeError, ValueError):
        # A type whose constructor needs other arguments: keep it, with a note where possible.
        if hasattr(err, "add_note"):
            err.add_note(where)
        return err
    located.__cause__ = err
    return located


def _run(
    method: str, tape: Tape, rows: np.ndarray, where: str, precision: str = "default"
) -> _Outputs:
    """``tape.<method>(rows)`` on one thread, as a tuple of arrays; a failure names ``where``."""
    try:
        out = getattr(tape, method)(rows, threads=1, precision=precision)
    except Exception as err:
        raise _located(err, where) from err
    return out if isinstance(out, tuple) else (out,)


def _run_share(
    method: str, tape: Tape, rows: np.ndarray, index: int, count: int, precision: str
) -> _Outputs:
    return _run(method, tape, rows, f"share {index} of {count}", precision)


def _run_block(
    tape: Tape,
    rows: np.ndarray,
    method: str,
    blocks: int,
    precision: str = "default",
    block_id: tuple[int, ...] = (0,),
) -> _Outputs:
    return _run(method, tape, rows, f"block {block_id[0]} of {blocks}", precision)


def _empty(method: str, tape: Tape) -> _Outputs:
    """The method's outputs for zero rows: each output's trailing shape and dtype."""
    return _run(method, tape, np.empty((0, tape.n_inputs)), "zero rows")


def _map_shares(
    method: str,
    tape: Tape,
    xs: object,
    executor: object,
    chunks: object,
    timeout: float | None,
    precision: str,
) -> _Outputs:
    array, pool = _rows(tape, xs), _submitter(executor)
    shares = _shares(array, chunks)
    if not shares:
        return _empty(method, tape)
    futures = [
        pool.submit(_run_share, method, tape, share, i, len(shares), precision)
        for i, share in enumerate(shares)
    ]
    results = [future.result(timeout=timeout) for future in futures]
    return tuple(np.concatenate(outputs) for outputs in zip(*results))


def _is_dask_array(xs: object) -> bool:
    # Without dask.array imported, nothing can be one: numpy callers never import dask.
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(xs, module.Array)


def _dask_rows(tape: Tape, xs: Any) -> Any:
    """``xs`` checked from its metadata alone, its columns in one block; no task runs."""
    n = tape.n_inputs
    if xs.ndim != 2 or xs.shape[1] != n:
        raise ValueError(
            f"a dask batch must have shape (m, {n}), got {xs.shape} (chunks {xs.chunks})"
        )
    if np.dtype(xs.dtype).kind not in "biuf":
        raise ValueError(f"a dask batch must hold real numbers, got dtype {xs.dtype}")
    if type(xs._meta) is not np.ndarray:
        raise ValueError(
            f"a dask batch must have numpy blocks, got {type(xs._meta).__name__} blocks "
            "(convert them with map_blocks(np.asarray))"
        )
    if len(xs.chunks[1]) > 1:
        xs = xs.rechunk({1: -1})  # n columns in one block: cheap, and each row stays whole
    return xs


def _map_blocks(method: str, tape: Tape, xs: Any, precision: str) -> tuple[Any, ...]:
    """``tape.<method>`` over the row blocks of dask array ``xs``: one lazy dask array per output.

    Each output keeps ``xs``'s row blocks and the trailing shape and dtype the method gives for
    zero rows. The tape is one graph key that every block task depends on, so Dask sends it to a
    worker once and keeps it there while blocks need it.
    """
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    xs = _dask_rows(tape, xs)
    try:
        payload = pickle.dumps(tape)  # fails here, not on a worker, for an unpicklable tape
    except Exception as err:
        raise _located(err, "the tape must pickle to reach the workers") from err
    token = tokenize(payload, method, precision, xs.name)
    shared = dask.delayed(tape, name=f"ferrograd-tape-{tokenize(payload)}", pure=True)
    empty = _empty(method, tape)
    blocks = xs.numblocks[0]
    name = f"ferrograd-{method}"
    # Each block's task returns the tuple of outputs; one getitem task per block and output
    # takes it apart, as dask's own apply_gufunc does for functions with several outputs.
    both = da.map_blocks(
        _run_block,
        shared,
        xs,
        method,
        blocks,
        precision,
        name=f"{name}-outputs-{token}",
        chunks=(xs.chunks[0],),
        drop_axis=1,
        meta=tuple(out[:0] for out in empty),
        dtype=np.float64,
    )
    results = []
    for i, out in enumerate(empty):
        leaf = f"{name}-out{i}-{token}"
        trailing = (0,) * (out.ndim - 1)
        layer = {(leaf, b, *trailing): (operator.getitem, (both.name, b), i) for b in range(blocks)}
        graph = HighLevelGraph.from_collections(leaf, layer, dependencies=[both])
        results.append(
            da.Array(graph, leaf, chunks=(xs.chunks[0], *((s,) for s in out.shape[1:])), meta=out)
        )
    return tuple(results)


def _no_pool_options(executor: object, chunks: object, timeout: float | None) -> None:
    given = [
        what
        for what, value in (("executor", executor), ("chunks", chunks), ("timeout", timeout))
        if value is not None
    ]
    if given:
        raise ValueError(
            f"a dask array is computed by the active Dask scheduler and keeps its own row "
            f"blocks: drop {', '.join(given)} (rechunk rows with xs.rechunk({{0: rows}}); "
            "bound the wait when computing the result)"
        )


def _batch(
    method: str,
    tape: object,
    xs: object,
    executor: object,
    chunks: object,
    timeout: float | None,
    precision: object,
) -> tuple[Any, ...]:
    """Any tape batch method over shares (numpy input) or blocks (dask input), one result each."""
    checked = _tape(tape)
    mode = _precision(precision)  # checked here, before anything is sent to a worker
    if _is_dask_array(xs):
        _no_pool_options(executor, chunks, timeout)
        return _map_blocks(method, checked, xs, mode)
    return _map_shares(method, checked, xs, executor, chunks, timeout, mode)


def grad_batch(
    tape: Tape,
    xs: Any,
    executor: Executor | None = None,
    chunks: int | None = None,
    timeout: float | None = None,
    precision: str = "default",
) -> tuple[Any, Any]:
    """``tape.grad_batch(xs)``: values ``(m,)`` and gradients ``(m, n_inputs)``, spread out.

    With a numpy (or array-like) ``xs``, its rows are split into ``chunks`` shares (default:
    twice the cores here; never more shares than rows) run on ``executor``, and numpy arrays come
    back; ``timeout`` (seconds) bounds the wait for each share (``TimeoutError`` past it).
    ``chunks`` is any integral number >= 1 (``TypeError`` for a bool or a non-integer,
    ``ValueError`` below 1).

    With a ``dask.array.Array`` ``xs`` (leave out ``executor``, ``chunks`` and ``timeout``), two
    lazy dask arrays come back with ``xs``'s row blocks: compute them, persist them on the
    cluster or keep working on them there. Column blocks are merged into one first. A wrong
    shape, an unknown number of columns or a non-real dtype is a ``ValueError`` here, before any
    task runs.

    ``precision`` is :meth:`Tape.grad_batch`'s (``"default"``: every row bit for bit
    ``tape.grad(row)``; ``"fast"``: the vectorised elementary functions, within the bounds in
    docs/ops.md), checked here before any share or block is sent out.

    A failure in a share or block raises its original exception type, its message starting
    with the share or block index.
    """
    values, grads = _batch("grad_batch", tape, xs, executor, chunks, timeout, precision)
    return values, grads


def eval_batch(
    tape: Tape,
    xs: Any,
    executor: Executor | None = None,
    chunks: int | None = None,
    timeout: float | None = None,
    precision: str = "default",
) -> Any:
    """``tape.eval_batch(xs)``, values ``(m,)``, spread out as :func:`grad_batch` does (and
    ``precision`` as there)."""
    (values,) = _batch("eval_batch", tape, xs, executor, chunks, timeout, precision)
    return values


def jacobian_batch(
    tape: Tape,
    xs: Any,
    executor: Executor | None = None,
    chunks: int | None = None,
    timeout: float | None = None,
    precision: str = "default",
) -> Any:
    """``tape.jacobian_batch(xs)``, Jacobians ``(m, n_outputs, n_inputs)`` (``(m, n_inputs)``
    for a scalar function), spread out as :func:`grad_batch` does: a numpy array back for a
    numpy ``xs``, a lazy dask array with ``xs``'s row blocks for a dask ``xs``; ``precision`` as
    for :func:`grad_batch`."""
    (jacobians,) = _batch("jacobian_batch", tape, xs, executor, chunks, timeout, precision)
    return jacobians
