"""The demo's recipe: train a small MLP on two moons, then check it against the twin engine.

The recipe is micrograd's demo: ``MLP(2, [16, 16, 1])``, SVM hinge loss plus ``1e-4`` L2, plain SGD
with the learning rate falling from 1.0 to 0.1, until every training point is classified right.
The data come from :func:`ferrograd.datasets.make_moons` (100 points, noise 0.1), so nothing is
downloaded. After training, the last step's gradients are computed again on the other engine from
the same parameters: the largest relative difference and the speedup are printed.

``python -m ferrograd demo`` runs it (its flags are :mod:`ferrograd.cli.demo`'s); the pieces are
importable: :func:`loss_and_accuracy`, :func:`train`, :func:`train_tape`, :func:`time_engines`, :func:`time_tape`.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ferrograd import _checks, _engines
from ferrograd.nn import MLP, SGD, FlatSGD, hinge_loss, l2_penalty

DEFAULT_SEED = 0
DEFAULT_STEPS = 100
POINTS = 100
NOISE = 0.1
ALPHA = 1e-4
SIZES = [16, 16, 1]


def loss_and_accuracy(
    model: MLP, X: list[list[float]], y: list[float], alpha: float = ALPHA
) -> tuple[Any, float]:
    """The demo's loss for ``model`` on points ``X`` with labels ``y`` (±1), and its accuracy.

    Loss: mean hinge loss of the scores plus ``alpha`` times the sum of squared parameters.
    Accuracy: the fraction of points whose score has the sign of their label.
    """
    scores: list[Any] = [model(x) for x in X]  # one output: a Value per point
    loss = hinge_loss(scores, y) + l2_penalty(model.parameters(), alpha)
    right = sum((label > 0) == (score.data > 0) for label, score in zip(y, scores))
    return loss, right / len(y)


def learning_rate(step: int, steps: int) -> float:
    """micrograd's schedule: 1.0 at step 0, falling linearly by 0.9 over ``steps`` steps."""
    return 1.0 - 0.9 * step / steps


@dataclass
class TrainResult:
    """What :func:`train` did: updates made, the final loss and accuracy, seconds per step."""

    steps: int
    loss: float
    accuracy: float
    seconds_per_step: float
    history: list[tuple[float, float]] = field(default_factory=list)
    #: Seconds of each update, where the trainer keeps them (:func:`train_tape` does).
    step_seconds: list[float] = field(default_factory=list)


def train(
    model: MLP,
    X: list[list[float]],
    y: list[float],
    *,
    steps: int = DEFAULT_STEPS,
    alpha: float = ALPHA,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` with SGD until 100% training accuracy or ``steps`` updates.

    Each step is a forward pass over every point, the loss, ``backward()`` and an update; it
    stops without updating once the forward pass classifies every point right. ``history`` holds
    (loss, accuracy) per forward pass. ``seconds_per_step`` is the mean over the updates made.
    """
    from tqdm import tqdm

    params = model.parameters()
    optimiser = SGD(params, lr=learning_rate(0, steps))
    history: list[tuple[float, float]] = []
    elapsed = 0.0
    made = 0
    with tqdm(total=steps, desc="training", unit="step", disable=not progress) as bar:
        while True:
            start = time.perf_counter()
            loss, accuracy = loss_and_accuracy(model, X, y, alpha)
            history.append((loss.data, accuracy))
            if accuracy == 1.0 or made == steps:
                break
            optimiser.zero_grad()
            loss.backward()
            optimiser.lr = learning_rate(made, steps)
            optimiser.step()
            elapsed += time.perf_counter() - start
            made += 1
            bar.set_postfix(loss=f"{loss.data:.4f}", acc=f"{accuracy:.0%}")
            bar.update()
        bar.set_postfix(loss=f"{loss.data:.4f}", acc=f"{accuracy:.0%}")
    return TrainResult(made, loss.data, accuracy, elapsed / max(made, 1), history)


def train_tape(
    model: MLP,
    X: list[list[float]],
    y: list[float],
    *,
    steps: int = DEFAULT_STEPS,
    alpha: float = ALPHA,
    progress: bool = True,
) -> TrainResult:
    """:func:`train` through the tape: the loss compiled once (``model.compile_loss``), then
    each step one call into Rust for the loss, its gradient and every point's hinge term, and a
    :class:`~ferrograd.nn.FlatSGD` update of the flat parameters. Same schedule, same stopping
    rule (a point is right when its hinge term is below 1: its margin is positive). The final
    parameters are written back into ``model``."""
    from tqdm import tqdm

    labels = np.asarray(y, dtype=np.float64)
    compiled = model.compile_loss(np.asarray(X, dtype=np.float64), labels, "hinge", alpha)
    theta = model.flat_parameters()
    optimiser = FlatSGD(theta, lr=learning_rate(0, steps))
    history: list[tuple[float, float]] = []
    times: list[float] = []
    made = 0
    with tqdm(total=steps, desc="training", unit="step", disable=not progress) as bar:
        while True:
            start = time.perf_counter()
            loss, grad, terms = compiled.value_grad_terms(theta)
            accuracy = float(np.count_nonzero(terms < 1.0)) / len(terms)
            history.append((loss, accuracy))
            if accuracy == 1.0 or made == steps:
                break
            optimiser.lr = learning_rate(made, steps)
            optimiser.step(grad)
            times.append(time.perf_counter() - start)
            made += 1
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.0%}")
            bar.update()
        bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.0%}")
    model.set_flat_parameters(theta)
    return TrainResult(made, loss, accuracy, sum(times) / max(made, 1), history, times)


def _gradient_step(model: MLP, X: list[list[float]], y: list[float], alpha: float) -> float:
    """One forward and backward pass from zeroed grads; returns the seconds it took."""
    start = time.perf_counter()
    model.zero_grad()
    loss, _ = loss_and_accuracy(model, X, y, alpha)
    loss.backward()
    return time.perf_counter() - start


#: The package's one relative difference (two NaNs agree; one NaN or infinity alone is inf).
relative_difference = _checks.relative_difference


@dataclass
class EngineTiming:
    """The same gradient step timed on two engines: median seconds on each, and how far apart
    their gradients came out."""

    engine: str
    other: str
    seconds: float
    other_seconds: float
    max_relative_difference: float

    @property
    def speedup(self) -> float:
        """How many times faster the Rust engine ran the step than the reference engine."""
        rust, ref = (
            (self.seconds, self.other_seconds)
            if self.engine == "rust"
            else (self.other_seconds, self.seconds)
        )
        return ref / rust


def time_engines(
    model: MLP,
    X: list[list[float]],
    y: list[float],
    *,
    alpha: float = ALPHA,
    repeats: int = 5,
) -> EngineTiming:
    """Time one gradient step (forward, loss, backward) on ``model`` and on a copy of it on the
    other engine (the reference for the Rust one, else the Rust one), ``repeats`` times each,
    side by side; the medians, and the largest relative difference of the parameters' gradients
    after the last step."""
    repeats = _checks.count(repeats, "repeats")
    other = _engines.REFERENCE if model.engine is _engines.RUST else _engines.RUST
    twin = model.to(other)
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(_gradient_step(model, X, y, alpha))
        theirs.append(_gradient_step(twin, X, y, alpha))
    worst = max(
        relative_difference(p.grad, q.grad) for p, q in zip(model.parameters(), twin.parameters())
    )
    return EngineTiming(
        model.engine.name, other.name, statistics.median(mine), statistics.median(theirs), worst
    )


@dataclass
class TapeTiming:
    """The same gradient step timed through the compiled loss and through the graph: median
    seconds of each, and how far apart their gradients came out."""

    tape_seconds: float
    graph_seconds: float
    max_relative_difference: float

    @property
    def speedup(self) -> float:
        """How many times faster the tape ran the step than the graph."""
        return self.graph_seconds / self.tape_seconds


def time_tape(
    model: MLP, X: np.ndarray, y: np.ndarray, *, alpha: float = ALPHA, repeats: int = 5
) -> TapeTiming:
    """Time one gradient step of the demo's loss on ``model`` (a Rust-engine model) at its
    current parameters, ``repeats`` times each, side by side: through ``model.compile_loss``
    (one call into Rust) and through the graph (forward, loss, ``backward()``), each path's
    steps one after another as a training loop runs them, after one step of each that is not
    timed (the tape's first call sets up its scratch memory); the medians, and the largest
    relative difference of the two gradients."""
    repeats = _checks.count(repeats, "repeats")
    compiled = model.compile_loss(X, y, "hinge", alpha)
    theta = model.flat_parameters()
    points, labels = np.asarray(X).tolist(), np.asarray(y).tolist()
    tape_times, graph_times = [], []
    _, grad = compiled.value_and_grad(theta)
    _gradient_step(model, points, labels, alpha)
    for _ in range(repeats):
        start = time.perf_counter()
        _, grad = compiled.value_and_grad(theta)
        tape_times.append(time.perf_counter() - start)
    for _ in range(repeats):
        graph_times.append(_gradient_step(model, points, labels, alpha))
    worst = max(relative_difference(g, p.grad) for g, p in zip(grad.tolist(), model.parameters()))
    return TapeTiming(statistics.median(tape_times), statistics.median(graph_times), worst)


def _forward_numpy(model: MLP, points: np.ndarray) -> np.ndarray:
    """The MLP's scores for many points at once, from its parameter values (for drawing)."""
    h = points
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        b = np.array([n.b.data for n in layer.neurons])
        h = h @ W.T + b
        if i != last:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def plot_decision_boundary(model: MLP, X: np.ndarray, y: np.ndarray, path: str) -> None:
    """Draw the model's decision regions and the labelled points into the image file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 200)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 200)
    gx, gy = np.meshgrid(xs, ys)
    scores = _forward_numpy(model, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    regions = {-1: "#c6dbef", 1: "#f4c7c3"}
    points = {-1: "#2166ac", 1: "#b2182b"}
    fig, ax = plt.subplots(figsize=(6.4, 5))
    ax.contourf(gx, gy, scores > 0, levels=[-0.5, 0.5, 1.5], colors=[regions[-1], regions[1]])
    ax.contour(gx, gy, scores, levels=[0.0], colors="k", linewidths=1)
    for label in (-1, 1):
        mine = y == label
        ax.scatter(X[mine, 0], X[mine, 1], color=points[label], edgecolors="k", s=30)
    ax.legend(
        handles=[
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color=points[-1],
                markeredgecolor="k",
                label="training point, label −1",
            ),
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color=points[1],
                markeredgecolor="k",
                label="training point, label +1",
            ),
            Patch(color=regions[-1], label="model predicts −1"),
            Patch(color=regions[1], label="model predicts +1"),
            Line2D([], [], color="k", linewidth=1, label="decision boundary (score 0)"),
        ],
        loc="upper right",
        fontsize="small",
        framealpha=0.9,
    )
    ax.set_xlabel("first coordinate $x_1$")
    ax.set_ylabel("second coordinate $x_2$")
    ax.set_title(f"MLP(2, {SIZES}) decision boundary on two moons")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
