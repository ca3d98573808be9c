"""``python -m ferrograd demo``: its flags, checked before any work, and what it prints.

The training and the timings it runs are :mod:`ferrograd.demo`'s; this module parses and prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any, Callable

import numpy as np

from ferrograd import _checks, _engines
from ferrograd.datasets import make_moons
from ferrograd.demo import (
    ALPHA,
    DEFAULT_SEED,
    DEFAULT_STEPS,
    NOISE,
    POINTS,
    SIZES,
    plot_decision_boundary,
    time_engines,
    time_tape,
    train,
    train_tape,
)
from ferrograd.nn import MLP, resolve_engine


def _count_flag(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for a count flag: an int >= ``minimum``, checked before any work."""

    def parse(text: str) -> int:
        try:
            return _checks.count_text(text, minimum)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


#: ``--seed``: an int >= 0 (what numpy's generators take).
_seed = _count_flag(0)
#: ``--steps``: an int >= 1.
_steps = _count_flag(1)


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
    _print_outcome(result.accuracy, result.steps)
    print(f"final loss {result.loss:.4f}, accuracy {result.accuracy:.0%}, {ms:.2f} ms per step")

    cmp = time_engines(model, points, labels)
    print("one gradient step (forward, loss, backward) from the final parameters, median of 5:")
    print(f"  {cmp.engine:<10} {1e3 * cmp.seconds:8.2f} ms")
    print(f"  {cmp.other:<10} {1e3 * cmp.other_seconds:8.2f} ms")
    print(
        f"  largest relative gradient difference over {len(model.parameters())} parameters: "
        f"{cmp.max_relative_difference:.1e}"
    )
    print(f"  speedup of rust over reference: {cmp.speedup:.1f}x")

    _maybe_plot(args, model, X, y)
    return 0


def _print_outcome(accuracy: float, steps: int) -> None:
    """The line that says how training ended, for either path."""
    if accuracy == 1.0:
        print(f"reached 100% training accuracy after {steps} steps")
    else:
        print(f"stopped after {steps} steps at {accuracy:.0%} training accuracy")


def _maybe_plot(args: argparse.Namespace, model: MLP, X: np.ndarray, y: np.ndarray) -> None:
    """``--plot FILE``: the decision boundary with the training points, drawn to FILE."""
    if args.plot is not None:
        plot_decision_boundary(model, X, y, args.plot)
        print(f"decision boundary drawn to {args.plot}")


def _run_tape(args: argparse.Namespace, model: MLP, X: np.ndarray, y: np.ndarray) -> int:
    """``demo --tape``: train through the tape, then check the last gradient against the graph
    path's from the same parameters, and time one step of each."""
    points, labels = X.tolist(), y.tolist()
    print("through the tape: the loss compiled once, then one call into Rust per step")
    result = train_tape(model, points, labels, steps=args.steps, progress=not args.no_progress)
    ms = 1e3 * result.seconds_per_step
    _print_outcome(result.accuracy, result.steps)
    median = 1e3 * statistics.median(result.step_seconds) if result.step_seconds else ms
    print(
        f"final loss {result.loss:.4f}, accuracy {result.accuracy:.0%}, {ms:.3f} ms per step "
        f"(median {median:.3f} ms)"
    )

    timing = time_tape(model, X, y)
    print("one gradient step from the final parameters, median of 5:")
    print(f"  tape       {1e3 * timing.tape_seconds:8.3f} ms")
    print(f"  graph      {1e3 * timing.graph_seconds:8.3f} ms")
    print(
        f"  largest relative gradient difference over {len(model.parameters())} parameters: "
        f"{timing.max_relative_difference:.1e}"
    )
    print(f"  speedup of the tape over the graph: {timing.speedup:.1f}x")
    _maybe_plot(args, model, X, y)
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
        choices=_engines.NAMES,
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
