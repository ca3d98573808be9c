"""Small synthetic data sets, generated with numpy from a seed (nothing is downloaded)."""

from __future__ import annotations

import math

import numpy as np

from ferrograd import _checks

__all__ = ["make_moons"]


def make_moons(
    n: int = 100, noise: float = 0.1, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in the plane: a classic non-linearly-separable problem.

    Returns ``(X, y)``: ``X`` is an ``(n, 2)`` float64 array of points, ``y`` an ``(n,)`` float64
    array of labels ``-1.0`` (the upper moon, centred on the origin) and ``+1.0`` (the lower moon,
    shifted to ``(1, 0.5)``), in shuffled order. The upper moon gets ``ceil(n / 2)`` points, spread
    evenly over its arc; ``noise`` is the standard deviation of Gaussian noise added to every
    coordinate. The same ``seed`` always gives the same arrays (``numpy.random.default_rng``).

    >>> X, y = make_moons(100, noise=0.1, seed=0)
    >>> X.shape, y.shape, int((y > 0).sum())
    ((100, 2), (100,), 50)
    """
    n = _checks.count(n, "make_moons() n", minimum=2)
    noise = _checks.nonnegative(noise, "make_moons() noise")
    n_upper = (n + 1) // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0.0, math.pi, n_upper)
    t_lower = np.linspace(0.0, math.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.concatenate([upper, lower])
    y = np.concatenate([-np.ones(n_upper), np.ones(n_lower)])
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    X, y = X[order], y[order]
    if noise > 0.0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y
