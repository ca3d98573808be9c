"""One training step of the demo's model on three engines, side by side in one run.

The step is the one ``python -m ferrograd demo`` takes: ``MLP(2, [16, 16, 1])`` on 100 two-moons
points, forward pass over every point, hinge loss + 1e-4 L2, ``backward()``, SGD update. Every
engine starts from the same parameters and runs the same steps; the table gives the median
milliseconds per step and each engine's time as a multiple of ferrograd's.

    python benchmarks/train_step.py [--steps N]

micrograd (``pip install micrograd==0.1.0``) is timed when it is installed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

from ferrograd import demo
from ferrograd.datasets import make_moons
from ferrograd.nn import MLP, SGD, Module


def ferrograd_steps(model: Module, X: list[list[float]], y: list[float], steps: int) -> list[float]:
    """Seconds for each of ``steps`` training steps of the demo on ``model``'s engine."""
    optimiser = SGD(model.parameters(), lr=1.0)
    times = []
    for k in range(steps):
        start = time.perf_counter()
        optimiser.zero_grad()
        loss, _ = demo.loss_and_accuracy(model, X, y)
        loss.backward()
        optimiser.lr = demo.learning_rate(k, 100)
        optimiser.step()
        times.append(time.perf_counter() - start)
    return times


def micrograd_steps(
    params: list[float], X: list[list[float]], y: list[float], steps: int
) -> list[float]:
    """The same steps written with micrograd's own classes, as its demo notebook does them."""
    from micrograd.engine import Value
    from micrograd.nn import MLP as MicroMLP

    model = MicroMLP(2, demo.SIZES)
    for p, data in zip(model.parameters(), params):
        p.data = data
    times = []
    for k in range(steps):
        start = time.perf_counter()
        model.zero_grad()
        scores = [model([Value(a), Value(b)]) for a, b in X]
        losses = [(1 + -label * score).relu() for label, score in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        loss = data_loss + demo.ALPHA * sum(p * p for p in model.parameters())
        loss.backward()
        lr = demo.learning_rate(k, 100)
        for p in model.parameters():
            p.data -= lr * p.grad
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per engine (default 10)")
    args = parser.parse_args()
    X, y = make_moons(demo.POINTS, noise=demo.NOISE, seed=demo.DEFAULT_SEED)
    points, labels = X.tolist(), y.tolist()
    model = MLP(2, demo.SIZES, seed=demo.DEFAULT_SEED)
    start = [p.data for p in model.parameters()]

    runs: dict[str, Callable[[], list[float]]] = {
        "ferrograd (rust)": lambda: ferrograd_steps(model, points, labels, args.steps),
        "ferrograd.reference": lambda: ferrograd_steps(
            model.to("reference"), points, labels, args.steps
        ),
    }
    try:
        import micrograd  # noqa: F401

        runs["micrograd 0.1.0"] = lambda: micrograd_steps(start, points, labels, args.steps)
    except ImportError:
        print("micrograd is not installed: its row is left out")

    results: dict[str, Any] = {}
    for name, run in runs.items():
        for p, data in zip(model.parameters(), start):
            p.data = data
        results[name] = statistics.median(run())
    base = results["ferrograd (rust)"]
    print(
        f"one training step, MLP(2, {demo.SIZES}) on {demo.POINTS} points, median of {args.steps}"
    )
    print(f"{'engine':<22}{'ms/step':>10}{'x ferrograd':>14}")
    for name, seconds in results.items():
        print(f"{name:<22}{1e3 * seconds:>10.2f}{seconds / base:>14.1f}")


if __name__ == "__main__":
    main()
