"""Anomaly mode: the first op whose forward or backward makes NaN or inf raises at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ferrograd import _core, reference

__all__ = ["detect_anomaly"]


@contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Within the block, an op whose result or backward is NaN or inf raises ``FloatingPointError``.

    The message names the op, its operands' values (and grads, for a backward), and their labels
    where set. Works for ``ferrograd.Value`` and ``ferrograd.reference.Value``. On leaving the
    block, normally or by an exception, the previous setting comes back, so blocks nest
    (``detect_anomaly(False)`` turns the mode off inside an outer block). Off by default; when
    off, an op pays one flag test. The setting is per thread.

    A backward sweep always completes before it raises, so grads are the same as without the
    check; the error names the first op in sweep order that produced a non-finite grad.

    >>> import ferrograd
    >>> with ferrograd.detect_anomaly():
    ...     ferrograd.Value(0.0, "x").log()
    Traceback (most recent call last):
    ...
    FloatingPointError: op 'log' produced -inf in its forward pass from inputs (x=0.0)
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"detect_anomaly() takes a bool, got {type(enabled).__name__}")
    previous_core = _core._set_detect_anomaly(enabled)
    previous_reference = reference._set_detect_anomaly(enabled)
    try:
        yield
    finally:
        reference._set_detect_anomaly(previous_reference)
        _core._set_detect_anomaly(previous_core)
