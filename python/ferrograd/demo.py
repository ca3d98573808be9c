"""``python -m ferrograd demo``: train a small MLP on two moons, then check it against the twin engine.

The recipe is micrograd's demo: ``MLP(2, [16, 16, 1])``, SVM hinge loss plus ``1e-4`` L2, plain SGD
with the learning rate falling from 1.0 to 0.1, until every training point is classified right.
The data come from :func:`ferrograd.datasets.make_moons` (100 points, noise 0.1), so nothing is
downloaded. After training, the last step's gradients are computed again on the other engine from
the same parameters: the largest relative difference and the speedup are printed.

The pieces are importable: :func:`loss_and_accuracy`, :func:`train`, :func:`compare_engines`.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ferrograd.datasets import make_moons
from ferrograd.nn import MLP, SGD, FlatSGD, hinge_loss, l2_penalty, resolve_engine

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


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``, 0 when both are 0 (and inf when they differ in nan/inf)."""
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


@dataclass
class Comparison:
    """The same gradient step on two engines: median seconds on each and their agreement."""

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


def compare_engines(
    model: MLP,
    X: list[list[float]],
    y: list[float],
    *,
    alpha: float = ALPHA,
    repeats: int = 5,
) -> Comparison:
    """Run one gradient step (forward, loss, backward) on ``model`` and on a copy of it on the
    other engine, ``repeats`` times each, side by side; compare every parameter's gradient."""
    other = "reference" if model.engine.name == "rust" else "rust"
    twin = model.to(other)
    mine, theirs = [], []
    for _ in range(repeats):
        mine.append(_gradient_step(model, X, y, alpha))
        theirs.append(_gradient_step(twin, X, y, alpha))
    worst = max(
        relative_difference(p.grad, q.grad) for p, q in zip(model.parameters(), twin.parameters())
    )
    return Comparison(
        model.engine.name, other, statistics.median(mine), statistics.median(theirs), worst
    )


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


def _seed(text: str) -> int:
    """``--seed``: an int >= 0 (what numpy's generators take), checked before any work."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {seed}")
    return seed


def _steps(text: str) -> int:
    """``--steps``: an int >= 1."""
    try:
        steps = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}") from None
    if steps < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {steps}")
    return steps


def _plot_path(path: str) -> str:
    """``--plot``: matplotlib installed, a format its Agg canvas writes, a writable directory;
    all checked when the flags are parsed, before any training."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise argparse.ArgumentTypeError(
            "needs matplotlib: pip install 'ferrograd[plot]'"
        ) from None
    formats = FigureCanvasAgg.get_supported_filetypes()
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    if extension not in formats:
        raise argparse.ArgumentTypeError(
            f"{path!r}: the file name must end in one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise argparse.ArgumentTypeError(f"{path!r}: no directory {directory!r}")
    if os.path.isdir(path) or not os.access(directory, os.W_OK):
        raise argparse.ArgumentTypeError(f"{path!r}: cannot write there")
    return path


def run(args: argparse.Namespace) -> int:
    """The ``demo`` command: train, report, compare engines, optionally plot. Returns 0."""
    engine = resolve_engine(args.engine)
    X, y = make_moons(POINTS, noise=NOISE, seed=args.seed)
    points, labels = X.tolist(), y.tolist()
    model = MLP(2, SIZES, seed=args.seed, engine=engine)
    print(
        f"MLP(2, {SIZES}), {len(model.parameters())} parameters, {engine.name} engine; "
        f"two moons: {POINTS} points, noise {NOISE}, seed {args.seed}"
    )
    print(f"hinge loss + {ALPHA:g} L2, SGD with lr 1.0 -> 0.1 over {args.steps} steps")
    if getattr(args, "tape", False):
        return _run_tape(args, model, X, y)
    result = train(model, points, labels, steps=args.steps, progress=not args.no_progress)
    ms = 1e3 * result.seconds_per_step
    if result.accuracy == 1.0:
        print(f"reached 100% training accuracy after {result.steps} steps")
    else:
        print(f"stopped after {result.steps} steps at {result.accuracy:.0%} training accuracy")
    print(f"final loss {result.loss:.4f}, accuracy {result.accuracy:.0%}, {ms:.2f} ms per step")

    cmp = compare_engines(model, points, labels)
    print("one gradient step (forward, loss, backward) from the final parameters, median of 5:")
    print(f"  {cmp.engine:<10} {1e3 * cmp.seconds:8.2f} ms")
    print(f"  {cmp.other:<10} {1e3 * cmp.other_seconds:8.2f} ms")
    print(
        f"  largest relative gradient difference over {len(model.parameters())} parameters: "
        f"{cmp.max_relative_difference:.1e}"
    )
    print(f"  speedup of rust over reference: {cmp.speedup:.1f}x")

    if args.plot is not None:
        plot_decision_boundary(model, X, y, args.plot)
        print(f"decision boundary drawn to {args.plot}")
    return 0


def _run_tape(args: argparse.Namespace, model: MLP, X: np.ndarray, y: np.ndarray) -> int:
    """``demo --tape``: train through the tape, then check the last gradient against the graph
    path's from the same parameters, and time one step of each."""
    points, labels = X.tolist(), y.tolist()
    print("through the tape: the loss compiled once, then one call into Rust per step")
    result = train_tape(model, points, labels, steps=args.steps, progress=not args.no_progress)
    ms = 1e3 * result.seconds_per_step
    if result.accuracy == 1.0:
        print(f"reached 100% training accuracy after {result.steps} steps")
    else:
        print(f"stopped after {result.steps} steps at {result.accuracy:.0%} training accuracy")
    median = 1e3 * statistics.median(result.step_seconds) if result.step_seconds else ms
    print(
        f"final loss {result.loss:.4f}, accuracy {result.accuracy:.0%}, {ms:.3f} ms per step "
        f"(median {median:.3f} ms)"
    )

    compiled = model.compile_loss(X, y, "hinge", ALPHA)
    theta = model.flat_parameters()
    tape_times, graph_times = [], []
    for _ in range(5):
        start = time.perf_counter()
        _, grad = compiled.value_and_grad(theta)
        tape_times.append(time.perf_counter() - start)
        graph_times.append(_gradient_step(model, points, labels, ALPHA))
    worst = max(relative_difference(g, p.grad) for g, p in zip(grad.tolist(), model.parameters()))
    tape_s, graph_s = statistics.median(tape_times), statistics.median(graph_times)
    print("one gradient step from the final parameters, median of 5:")
    print(f"  tape       {1e3 * tape_s:8.3f} ms")
    print(f"  graph      {1e3 * graph_s:8.3f} ms")
    print(f"  largest relative gradient difference over {len(theta)} parameters: {worst:.1e}")
    print(f"  speedup of the tape over the graph: {graph_s / tape_s:.1f}x")
    if args.plot is not None:
        plot_decision_boundary(model, X, y, args.plot)
        print(f"decision boundary drawn to {args.plot}")
    return 0


def register(commands: Any) -> None:
    """Add the ``demo`` command to ``commands`` (an argparse subparsers object)."""
    parser = commands.add_parser(
        "demo",
        help="train an MLP on two moons and compare the two engines",
        description=(
            "Train MLP(2, [16, 16, 1]) on a generated two-moons data set (100 points, noise 0.1) "
            "with the hinge loss, 1e-4 L2 and SGD (learning rate 1.0 falling to 0.1), until "
            "100% training accuracy or --steps steps. Then run one gradient step on both "
            "engines from the same parameters and print the largest relative gradient "
            "difference and the speedup."
        ),
    )
    parser.add_argument(
        "--engine",
        choices=["rust", "reference"],
        default="rust",
        help="engine to train on: the Rust core (default) or the pure-Python reference",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULT_SEED,
        help=f"seed for the data and the initial weights (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--steps",
        type=_steps,
        default=DEFAULT_STEPS,
        help=f"most training steps; the learning rate decays over them (default {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--plot",
        type=_plot_path,
        metavar="FILE.png",
        help="draw the decision boundary and the points to this image (needs matplotlib: "
        "pip install 'ferrograd[plot]')",
    )
    parser.add_argument(
        "--tape",
        action="store_true",
        help="train through a compiled tape (model.compile_loss: one call into Rust per step, "
        "no Python object per node), print ms per step, then check a step against the graph",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)
