"""``no_grad``: ops compute values without recording their operands (torch's ``no_grad``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ferrograd import _core, reference
from ferrograd._engines import thread_setting

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]


@contextmanager
def no_grad(enabled: bool = True) -> Iterator[None]:
    """Within the block, every op returns a leaf: its value, without its operands.

    What a model computes under ``no_grad`` (an evaluation, a metric, an update written with
    Values) builds no graph: each result is a leaf (``op == ""``, no ``children``) holding the
    same number as outside the block, so nothing behind it is kept alive and a ``backward()``
    from it stops at once. Works for ``ferrograd.Value`` and ``ferrograd.reference.Value``
    (``Dual`` builds no graph either way). The setting is per thread; on leaving the block,
    normally or by an exception, the previous setting comes back, so blocks nest and
    ``no_grad(False)`` (or ``enable_grad()``) records again inside an outer block. Also a
    decorator: ``@ferrograd.no_grad()``.

    The function transforms (``ferrograd.grad``, ``jacobian``, ``hessian``, ...) and
    ``ferrograd.compile`` record their own graph whatever the setting outside them, as
    ``torch.func.grad`` ignores an outer ``torch.no_grad``; a ``no_grad`` inside the function
    they are given still cuts its graph there.

    >>> import ferrograd
    >>> w = ferrograd.Value(3.0)
    >>> with ferrograd.no_grad():
    ...     y = w * w + 1
    >>> y.data, y.op, y.children
    (10.0, '', ())
    """
    with thread_setting((_core._set_no_grad, reference._set_no_grad), enabled, "no_grad"):
        yield


@contextmanager
def enable_grad() -> Iterator[None]:
    """``no_grad(False)``: ops record their operands again inside an outer ``no_grad`` block."""
    with no_grad(False):
        yield


def is_grad_enabled() -> bool:
    """Whether ops record their operands on this thread (False inside ``no_grad``)."""
    return not reference._no_grad_on()
