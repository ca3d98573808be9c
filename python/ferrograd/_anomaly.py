"""Anomaly mode: the first op whose forward or backward makes NaN or inf raises at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ferrograd import _core, reference
from ferrograd._engines import thread_setting

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
    setters = (_core._set_detect_anomaly, reference._set_detect_anomaly)
    with thread_setting(setters, enabled, "detect_anomaly"):
        yield
