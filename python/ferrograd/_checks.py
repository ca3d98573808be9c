"""Argument checks shared by the optimisers of ``ferrograd.nn`` (on Values and on flat arrays).

Each check returns the argument as a float, or raises the exception that names it.
"""

from __future__ import annotations

import math

import numpy as np


def number(x: object, what: str) -> float:
    """``x`` as a float when it is a real number; ``TypeError`` naming ``what`` otherwise."""
    if isinstance(x, (str, bytes)) or not isinstance(x, (int, float, np.number)):
        raise TypeError(f"{what} must be a number, got {type(x).__name__}")
    return float(x)


def learning_rate(value: object) -> float:
    """A finite number >= 0; ``ValueError`` otherwise."""
    lr = number(value, "lr")
    if not math.isfinite(lr) or lr < 0.0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr}")
    return lr


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
    checked_eps, wd = number(eps, "eps"), number(weight_decay, "weight_decay")
    for name, x in (("eps", checked_eps), ("weight_decay", wd)):
        if not (math.isfinite(x) and x >= 0.0):
            raise ValueError(f"{who}() {name} must be a finite number >= 0, got {x}")
    return (b1, b2), checked_eps, wd


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
