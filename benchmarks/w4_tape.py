"""W4 on the compiled tape: one fixed function of 10 inputs, value and gradient at 10,000 points.

    python benchmarks/w4_tape.py [--points 10000] [--repeats 5]

Prints µs per point for each engine (the median of the repeats) and the speedup over micrograd,
checks every engine's gradients against the tape's, and writes benchmarks/results_w4.json.
Engines that walk a Python graph per point are timed on a slice of the points (their cost per
point does not depend on which point). JAX is measured when installed (``pip install jax``),
numpy in and numpy out, after one warm-up call that compiles.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import ferrograd

N_INPUTS = 10


def w4(*x: Any) -> Any:
    """Σ_i (x_i·x_{i+1} − ½)² + x_i / (1 + x_i²), plus relu(Σ_i (i+1)/10 · x_i), cyclic in i.

    Written with the ops every engine here has (micrograd has no tanh or exp).
    """
    n = len(x)
    total, mix = 0.0, 0.0
    for i in range(n):
        total = total + (x[i] * x[(i + 1) % n] - 0.5) ** 2 + x[i] / (1 + x[i] ** 2)
        mix = mix + (i + 1) / n * x[i]
    return total + mix.relu()


def w4_numpy(x: Any, np_: Any = np) -> Any:
    """W4 on arrays whose last axis holds the 10 inputs, for autograd and JAX."""
    nxt = np_.roll(x, -1, axis=-1)
    weights = np_.arange(1, N_INPUTS + 1) / N_INPUTS
    terms = (x * nxt - 0.5) ** 2 + x / (1 + x**2)
    return np_.sum(terms, axis=-1) + np_.maximum(np_.sum(weights * x, axis=-1), 0.0)


def points(m: int, seed: int = 0) -> np.ndarray:
    """The W4 inputs: ``m`` rows of 10 standard normals."""
    return np.random.default_rng(seed).standard_normal((m, N_INPUTS))


def _per_point_graph(value_type: Callable[[float], Any]) -> Callable[[np.ndarray], np.ndarray]:
    def run(xs: np.ndarray) -> np.ndarray:
        grads = np.empty_like(xs)
        for r, row in enumerate(xs.tolist()):
            leaves = [value_type(v) for v in row]
            w4(*leaves).backward()
            grads[r] = [leaf.grad for leaf in leaves]
        return grads

    return run


def engines(tape: ferrograd.Tape) -> dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]]:
    """name → (gradients of a batch, how many points to time it on at most)."""
    out: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {}
    try:
        from micrograd.engine import Value as MicroValue

        out["micrograd"] = (_per_point_graph(MicroValue), 300)
    except ImportError:
        pass
    out["ferrograd Value"] = (_per_point_graph(ferrograd.Value), 2_000)

    def tape_grad(xs: np.ndarray) -> np.ndarray:
        return np.array([tape.grad(row)[1] for row in xs])

    out["Tape.grad"] = (tape_grad, 5_000)
    out["Tape.grad_batch (1 thread)"] = (lambda xs: tape.grad_batch(xs, threads=1)[1], 10**9)
    out["Tape.grad_batch"] = (lambda xs: tape.grad_batch(xs)[1], 10**9)
    try:
        import autograd
        import autograd.numpy as anp

        one = autograd.grad(lambda x: w4_numpy(x, anp))
        batched = autograd.elementwise_grad(lambda xs: w4_numpy(xs, anp))
        out["autograd grad"] = (lambda xs: np.array([one(row) for row in xs]), 300)
        out["autograd elementwise_grad"] = (batched, 10**9)
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        jitted = jax.jit(jax.vmap(jax.grad(lambda x: w4_numpy(x, jnp))))
        out["JAX jit(vmap(grad))"] = (lambda xs: np.asarray(jitted(xs)), 10**9)
    except ImportError:
        pass
    return out


def run(m: int = 10_000, repeats: int = 5) -> dict[str, Any]:
    """Times every engine on W4; returns the table as a dict (also what the JSON file holds)."""
    tape = ferrograd.compile(w4, N_INPUTS)
    xs = points(m)
    reference = tape.grad_batch(xs, threads=1)[1]
    rows: dict[str, dict[str, float]] = {}
    for name, (grad, cap) in engines(tape).items():
        batch = xs[: min(m, cap)]
        got = grad(batch)  # also the warm-up (JAX compiles here)
        error = float(np.max(np.abs(got - reference[: len(batch)]) / (1 + np.abs(got))))
        if error > 1e-12:
            raise AssertionError(f"{name} disagrees with the tape: {error:.3g}")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            grad(batch)
            times.append((time.perf_counter() - start) / len(batch) * 1e6)
        rows[name] = {"us_per_point": statistics.median(times), "points": len(batch)}
    base = rows.get("micrograd", {}).get("us_per_point")
    for row in rows.values():
        row["speedup_vs_micrograd"] = base / row["us_per_point"] if base else float("nan")
    notes = [] if "JAX jit(vmap(grad))" in rows else ["JAX not installed: pip install jax"]
    return {"workload": "W4", "points": m, "repeats": repeats, "engines": rows, "notes": notes}


def table(result: dict[str, Any]) -> str:
    """The result as a fixed-width text table."""
    title = f"W4: value and gradient of a 10-input function at {result['points']:,} points"
    lines = [
        f"{title} (median of {result['repeats']})",
        f"{'engine':<28} {'µs/point':>10} {'× micrograd':>12} {'timed on':>9}",
    ]
    for name, row in result["engines"].items():
        lines.append(
            f"{name:<28} {row['us_per_point']:>10.3f} {row['speedup_vs_micrograd']:>12.0f}"
            f" {row['points']:>9,}"
        )
    jax = result["engines"].get("JAX jit(vmap(grad))")
    batch = result["engines"]["Tape.grad_batch"]
    if jax:
        ratio = batch["us_per_point"] / jax["us_per_point"]
        lines.append(f"Tape.grad_batch / JAX: {ratio:.2f}× the time per point")
    lines.extend(result["notes"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    result = run(args.points, args.repeats)
    print(table(result))
    path = Path(__file__).with_name("results_w4.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
