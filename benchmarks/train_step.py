"""One training step of the demo's model, on every engine and through the tape, in one run.

The step is the one ``python -m ferrograd demo`` takes: ``MLP(2, [16, 16, 1])`` on 100 two-moons
points, forward pass over every point, hinge loss + 1e-4 L2, gradient, SGD update. Every engine
starts from the same parameters and runs the same steps; the table gives the median milliseconds
per step, each engine's time as a multiple of the ferrograd graph's, and micrograd's time as a
multiple of each engine's.

Rows: the graph path on both engines (a Value per node, ``backward()``, ``nn.SGD``); the tape
path (``model.compile_loss`` once, then ``value_and_grad`` and ``FlatSGD`` on a flat array), with
the per-example tape run over the rows in lanes and summed in Rust (the default) and with the
whole-dataset tape (``method="dataset"``, one reverse sweep); HIPS autograd on numpy matrices; micrograd. The tape rows must reach the graph
path's losses and parameters to 1e-12: the largest difference after the steps is printed.

    python benchmarks/train_step.py [--steps N]

micrograd (``pip install micrograd==0.1.0``) and autograd are timed when they are installed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np

from ferrograd import demo
from ferrograd.datasets import make_moons
from ferrograd.nn import MLP, SGD, FlatSGD, Module


def ferrograd_steps(
    model: Module,
    X: list[list[float]],
    y: list[float],
    steps: int,
    losses: list[float] | None = None,
) -> list[float]:
    """Seconds for each of ``steps`` training steps of the demo on ``model``'s engine (the loss
    of each step goes to ``losses`` when given)."""
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
        if losses is not None:
            losses.append(loss.data)
    return times


def tape_steps(
    model: MLP, X: np.ndarray, y: np.ndarray, steps: int, method: str, out: dict[str, Any]
) -> list[float]:
    """The same steps through the tape: one ``value_and_grad`` call and a flat SGD update each.
    Leaves the losses and final parameters in ``out`` for checking against the graph path."""
    start = time.perf_counter()
    loss = model.compile_loss(X, y, loss="hinge", l2=demo.ALPHA, method=method)
    out["compile_s"] = time.perf_counter() - start
    theta = model.flat_parameters()
    optimiser = FlatSGD(theta, lr=1.0)
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        value, grad = loss.value_and_grad(theta)
        optimiser.lr = demo.learning_rate(min(k, 99), 100)  # the schedule, then its end
        optimiser.step(grad)
        times.append(time.perf_counter() - start)
        losses.append(value)
    out["losses"], out["theta"] = losses, theta
    return times


def autograd_steps(
    params: list[float], X: np.ndarray, y: np.ndarray, steps: int
) -> list[float] | None:
    """The same steps on HIPS autograd, written its natural way: numpy matrices per layer."""
    try:
        import autograd.numpy as anp
        from autograd import value_and_grad
    except ImportError:
        return None
    sizes, mats, k = [2, *demo.SIZES], [], 0
    for nin, nout in zip(sizes, sizes[1:]):
        block = np.array(params[k : k + (nin + 1) * nout]).reshape(nout, nin + 1)
        mats += [block[:, :nin].T.copy(), block[:, nin].copy()]
        k += (nin + 1) * nout

    def loss(ps: list[Any]) -> Any:
        h = X
        for j in range(0, len(ps), 2):
            h = anp.dot(h, ps[j]) + ps[j + 1]
            if j + 2 < len(ps):
                h = anp.maximum(h, 0.0)
        data_loss = anp.mean(anp.maximum(1.0 - y * h[:, 0], 0.0))
        return data_loss + demo.ALPHA * sum(anp.sum(p * p) for p in ps)

    step = value_and_grad(loss)
    times = []
    for k in range(steps):
        start = time.perf_counter()
        _, grads = step(mats)
        lr = demo.learning_rate(min(k, 99), 100)
        mats = [p - lr * g for p, g in zip(mats, grads)]
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
    # The tape rows repeat their steps many times over (they are short): the median then
    # rests on as many samples as a graph row's.
    tape_steps_n = max(args.steps, 200)
    checks: dict[str, dict[str, Any]] = {"examples": {}, "dataset": {}}
    graph_losses: list[float] = []

    def graph_run() -> list[float]:
        times = ferrograd_steps(model, points, labels, args.steps, graph_losses)
        return times

    runs: dict[str, Callable[[], list[float] | None]] = {
        "ferrograd graph (rust)": graph_run,
        "ferrograd.reference": lambda: ferrograd_steps(
            model.to("reference"), points, labels, args.steps
        ),
        "ferrograd tape": lambda: tape_steps(
            model, X, y, tape_steps_n, "examples", checks["examples"]
        ),
        "ferrograd tape, dataset": lambda: tape_steps(
            model, X, y, tape_steps_n, "dataset", checks["dataset"]
        ),
        "autograd (numpy)": lambda: autograd_steps(start, X, y, max(args.steps, 50)),
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
        times = run()
        if times is None:
            print(f"{name}: not installed, left out")
            continue
        results[name] = statistics.median(times)
        if name == "ferrograd graph (rust)":
            graph_theta = model.flat_parameters()
    base = results["ferrograd graph (rust)"]
    micro = results.get("micrograd 0.1.0")
    print(
        f"one training step, MLP(2, {demo.SIZES}) on {demo.POINTS} points, hinge + "
        f"{demo.ALPHA:g} L2, median of {args.steps} steps ({tape_steps_n} for the tape rows, "
        "50 for autograd)"
    )
    print(f"{'engine':<24}{'ms/step':>10}{'x graph':>10}{'micrograd / this':>19}")
    for name, seconds in results.items():
        vs_micro = f"{micro / seconds:>19,.0f}" if micro else f"{'-':>19}"
        print(f"{name:<24}{1e3 * seconds:>10.4f}{seconds / base:>10.3f}{vs_micro}")
    auto = results.get("autograd (numpy)")
    for method, name in (("examples", "ferrograd tape"), ("dataset", "ferrograd tape, dataset")):
        check = checks[method]
        n = args.steps
        loss_gap = max(abs(a - b) for a, b in zip(check["losses"][:n], graph_losses))
        # Replay the tape's first n steps to compare parameters with the graph's after n steps.
        replay: dict[str, Any] = {}
        for p, data in zip(model.parameters(), start):
            p.data = data
        tape_steps(model, X, y, n, method, replay)
        theta_gap = float(np.max(np.abs(replay["theta"] - graph_theta)))
        ratio = f", {auto / results[name]:.1f}x autograd" if auto else ""
        print(
            f"{name}: compiled once in {1e3 * check['compile_s']:.1f} ms; after {n} steps the "
            f"largest loss difference from the graph path is {loss_gap:.1e} and parameter "
            f"difference {theta_gap:.1e}{ratio}"
        )


if __name__ == "__main__":
    main()
