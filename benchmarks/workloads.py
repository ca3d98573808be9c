"""The four workloads, their seeded inputs, and one timed repetition of each on each engine.

Every function here runs one repetition and returns seconds (plus whatever the caller checks);
``run.py`` repeats, takes medians and prints the table.
"""

from __future__ import annotations

import gc
import math
import operator
import random
import time
from collections import deque
from typing import Any, Callable

import numpy as np
from engines import GraphEngine

# ---------------------------------------------------------------------------------------------
# W1: a seeded random graph
# ---------------------------------------------------------------------------------------------

MASK64 = (1 << 64) - 1

#: The ops micrograd has (it has no tanh or exp), the variant with tanh and exp too, and one
#: without relu (micrograd-rust has none).
W1_OPS = ("add", "sub", "mul", "pow", "relu")
W1_OPS_TRANSCENDENTAL = ("add", "sub", "mul", "pow", "relu", "tanh", "exp")
W1_OPS_SMOOTH = ("add", "sub", "mul", "pow", "tanh", "exp")
BINARY = {"add", "sub", "mul"}


class SplitMix64:
    """splitmix64, so the Rust benchmark (benchmarks/core.rs) can draw the same graph."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1)."""
        return (self.next() >> 11) * 2.0**-53

    def below(self, n: int) -> int:
        return self.next() % n


def _forward(op: str, x: float, y: float) -> float:
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "pow":
        return math.pow(x, y)
    if op == "relu":
        return x if x > 0 else 0.0
    if op == "tanh":
        return math.tanh(x)
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _tame(r: float) -> bool:
    """Keeps the graph's numbers ordinary: finite, and neither huge nor subnormal-bound."""
    return r == 0.0 or 1e-3 <= abs(r) <= 1e3


Program = list[tuple[str, int, float]]


def random_graph(
    n_nodes: int, ops: tuple[str, ...], n_leaves: int = 1000, seed: int = 1
) -> tuple[list[float], Program, float]:
    """A DAG of ``n_nodes`` op nodes over ``n_leaves`` leaves: ``(leaves, program, root value)``.

    Each node's first operand is the oldest node nobody uses yet (a FIFO), its second a uniformly
    random earlier node, so every node is an ancestor of the root and the depth stays near
    ``n_nodes / n_leaves`` (micrograd's recursive sort survives). A pairwise sum of what is left
    in the FIFO ends the graph. An op whose result would be non-finite or extreme gives way to
    the next op in the list (ReLU always fits; without it, tanh or exp does). Program entries are ``(op, i, j)`` with ``j`` an
    operand index, the exponent for ``pow``, or -1 for a unary op.
    """
    rng = SplitMix64(seed)
    leaves = [2.0 * rng.uniform() - 1.0 for _ in range(n_leaves)]
    values = list(leaves)
    fifo = deque(range(n_leaves))
    program: Program = []
    for _ in range(n_nodes - (n_leaves - 1)):
        i = fifo.popleft()
        first = rng.below(len(ops))
        other = rng.below(len(values))
        exponent = 2.0 if rng.below(2) == 0 else 3.0
        for t in range(len(ops)):
            op = ops[(first + t) % len(ops)]
            j: float = other if op in BINARY else exponent if op == "pow" else -1
            y = values[other] if op in BINARY else exponent
            r = _forward(op, values[i], y)
            if _tame(r):
                break
        program.append((op, i, j))
        fifo.append(len(values))
        values.append(r)
    while len(fifo) > 1:
        a, b = fifo.popleft(), fifo.popleft()
        program.append(("add", a, b))
        fifo.append(len(values))
        values.append(values[a] + values[b])
    return leaves, program, values[-1]


def _compile(
    program: Program, fns: dict[str, Callable[..., Any]]
) -> list[tuple[Any, int, Any, int]]:
    """The program as ``(fn, i, j, kind)``: kind 0 binary on nodes, 1 unary, 2 with a constant."""
    out = []
    for op, i, j in program:
        if op in BINARY:
            out.append((fns[op], i, int(j), 0))
        elif op == "pow":
            out.append((fns[op], i, j, 2))
        else:
            out.append((fns[op], i, None, 1))
    return out


def _replay(nodes: list[Any], compiled: list[tuple[Any, int, Any, int]]) -> Any:
    push = nodes.append
    for fn, i, j, kind in compiled:
        if kind == 0:
            push(fn(nodes[i], nodes[j]))
        elif kind == 1:
            push(fn(nodes[i]))
        else:
            push(fn(nodes[i], j))
    return nodes[-1]


def _graph_fns(engine: GraphEngine) -> dict[str, Any]:
    return {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "pow": operator.pow,
        "relu": engine.relu,
        "tanh": engine.tanh,
        "exp": engine.exp,
    }


def w1_graph(
    engine: GraphEngine, leaves: list[float], program: Program
) -> tuple[float, float, Any]:
    """One build and one backward of the W1 graph: ``(build s, backward s, (root, leaf grads))``."""
    compiled = _compile(program, _graph_fns(engine))
    gc.collect()
    t0 = time.perf_counter()
    nodes = [engine.leaf(x) for x in leaves]
    root = _replay(nodes, compiled)
    t1 = time.perf_counter()
    engine.backward(root)
    t2 = time.perf_counter()
    result = (engine.data(root), [engine.grad(v) for v in nodes[:8]])
    del nodes, root
    return t1 - t0, t2 - t1, result


def w1_first_wrong_value(engine: GraphEngine, leaves: list[float], program: Program) -> str:
    """Where the engine's forward values first leave plain Python floats, e.g. ``tanh(707): nan``.

    Run only to explain a disagreement; an engine whose values all agree gets a line saying so
    (its gradients are then what differs).
    """
    fns = _graph_fns(engine)
    values = list(leaves)
    nodes = [engine.leaf(x) for x in leaves]
    for op, i, j in program:
        y = values[int(j)] if op in BINARY else j
        expected = _forward(op, values[i], y)
        if op in BINARY:
            node = fns[op](nodes[i], nodes[int(j)])
        elif op == "pow":
            node = fns[op](nodes[i], j)
        else:
            node = fns[op](nodes[i])
        got = engine.data(node)
        if not abs(got - expected) <= 1e-9 * max(1.0, abs(expected)):
            args = f"{values[i]:.6g}" + (f", {y:.6g}" if op in BINARY or op == "pow" else "")
            return f"first wrong value: {op}({args}) = {got:.6g}, not {expected:.6g}"
        values.append(expected)
        nodes.append(node)
    return "every value agrees; the gradients differ"


def w1_autograd(leaves: list[float], program: Program) -> tuple[float, float, Any]:
    """W1 on HIPS autograd: the trace (``make_vjp``) is the build, the vjp the backward."""
    import autograd.numpy as anp
    from autograd import make_vjp

    fns = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "pow": operator.pow,
        "relu": lambda a: anp.maximum(a, 0.0),
        "tanh": anp.tanh,
        "exp": anp.exp,
    }
    compiled = _compile(program, fns)

    def f(x: Any) -> Any:
        return _replay([x[k] for k in range(len(leaves))], compiled)

    x = np.array(leaves)
    gc.collect()
    t0 = time.perf_counter()
    vjp, root = make_vjp(f)(x)
    t1 = time.perf_counter()
    grads = vjp(1.0)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, (float(root), [float(g) for g in grads[:8]])


# ---------------------------------------------------------------------------------------------
# W2: a training step of MLP(2, [16, 16, 1]) on moons
# ---------------------------------------------------------------------------------------------

W2_SIZES = [16, 16, 1]
W2_ALPHA = 1e-4
W2_LR = 0.05


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The demo's two-moons data (``ferrograd.datasets.make_moons``); labels -1 and +1."""
    from ferrograd.datasets import make_moons

    return make_moons(n, noise=noise, seed=seed)


def _initial_weights(
    nin: int, nouts: list[int], seed: int
) -> list[list[tuple[list[float], float]]]:
    """micrograd's initialisation order: per neuron, its weights uniform in [-1, 1], bias 0."""
    rng = random.Random(seed)
    sizes = [nin, *nouts]
    return [
        [([rng.uniform(-1, 1) for _ in range(sizes[i])], 0.0) for _ in range(sizes[i + 1])]
        for i in range(len(nouts))
    ]


class PlainMLP:
    """micrograd's MLP on any graph engine; a neuron is one fused ``dot`` where the engine has it."""

    def __init__(self, engine: GraphEngine, nin: int, nouts: list[int], seed: int) -> None:
        self.engine = engine
        self.layers = [
            [([engine.leaf(w) for w in ws], engine.leaf(b)) for ws, b in layer]
            for layer in _initial_weights(nin, nouts, seed)
        ]

    def __call__(self, x: list[Any]) -> Any:
        dot, relu = self.engine.dot, self.engine.relu
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            if dot is not None:
                out = [dot(ws, x) + b for ws, b in layer]
            else:
                out = [sum((w * xi for w, xi in zip(ws, x)), b) for ws, b in layer]
            x = out if k == last else [relu(o) for o in out]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for ws, b in layer for p in (*ws, b)]


def make_model(engine: GraphEngine, seed: int) -> Any:
    """``MLP(2, [16, 16, 1])`` on ``engine``, seeded so every engine starts from the same weights."""
    if engine.mlp is not None:
        random.seed(seed)
        return engine.mlp(2, W2_SIZES)
    return PlainMLP(engine, 2, W2_SIZES, seed)


def w2_step(
    engine: GraphEngine, model: Any, xs: list[list[float]], ys: list[float]
) -> tuple[float, float]:
    """One forward + backward + SGD step over the whole batch (micrograd's demo loss)."""
    params = model.parameters()
    gc.collect()
    t0 = time.perf_counter()
    scores = [model(x) for x in xs]
    losses = [engine.relu(1 + -y * s) for y, s in zip(ys, scores)]
    data_loss = (engine.total(losses) if engine.total else sum(losses)) * (1.0 / len(losses))
    if engine.dot is not None:
        reg = W2_ALPHA * engine.dot(params, params)
    else:
        reg = W2_ALPHA * sum(p * p for p in params)
    loss = data_loss + reg
    engine.zero(params)
    engine.backward(loss)
    engine.sgd(params, W2_LR)
    t1 = time.perf_counter()
    return t1 - t0, engine.data(loss)


def w2_autograd(
    xs: np.ndarray, ys: np.ndarray, seed: int, steps: int, run: int = 1
) -> tuple[list[float], float]:
    """The same model and loss on HIPS autograd, written its natural way: numpy matrices.

    Each of the ``steps`` samples times ``run`` consecutive training steps (a training loop)
    after one ``gc.collect()``, and counts their mean; ``run=1`` times single steps, each
    right after a collection (cold caches)."""
    import autograd.numpy as anp
    from autograd import value_and_grad

    params = []
    for layer in _initial_weights(2, W2_SIZES, seed):
        params.append(np.array([ws for ws, _ in layer]).T)
        params.append(np.array([b for _, b in layer]))

    def loss(ps: list[Any]) -> Any:
        h = xs
        for k in range(0, len(ps), 2):
            h = anp.dot(h, ps[k]) + ps[k + 1]
            if k + 2 < len(ps):
                h = anp.maximum(h, 0.0)
        scores = h[:, 0]
        data_loss = anp.mean(anp.maximum(1.0 - ys * scores, 0.0))
        reg = W2_ALPHA * sum(anp.sum(p * p) for p in ps)
        return data_loss + reg

    step = value_and_grad(loss)
    times = []
    first = math.nan
    for s in range(steps):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(run):
            value, grads = step(params)
            params = [p - W2_LR * g for p, g in zip(params, grads)]
            if math.isnan(first):
                first = float(value)
        times.append((time.perf_counter() - t0) / run)
    return times, first


def w2_tape(
    xs: np.ndarray,
    ys: np.ndarray,
    seed: int,
    steps: int,
    method: str = "examples",
    run: int = 1,
) -> tuple[list[float], float, float]:
    """The same steps through ferrograd's tape: ``compile_loss`` once (not timed per step),
    then ``value_and_grad`` on the flat parameters and a ``FlatSGD`` update per step. The model
    is ferrograd's own MLP seeded as the graph rows' (``random.seed(seed)``), so the first loss
    must equal theirs. Samples as ``w2_autograd``'s (``run`` consecutive steps each). Returns
    the step times, the first loss and the compile seconds."""
    from ferrograd.nn import MLP, FlatSGD

    random.seed(seed)
    model = MLP(2, W2_SIZES)
    t0 = time.perf_counter()
    loss = model.compile_loss(xs, ys, loss="hinge", l2=W2_ALPHA, method=method)
    compile_s = time.perf_counter() - t0
    theta = model.flat_parameters()
    optimiser = FlatSGD(theta, lr=W2_LR)
    times, first = [], math.nan
    for _ in range(steps):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(run):
            value, grad = loss.value_and_grad(theta)
            optimiser.step(grad)
            if math.isnan(first):
                first = value
        times.append((time.perf_counter() - t0) / run)
    return times, first, compile_s


# ---------------------------------------------------------------------------------------------
# W3: a deep chain x = tanh(0.9 x + 0.1), three op nodes per link
# ---------------------------------------------------------------------------------------------


def w3_chain(engine: GraphEngine, depth: int) -> tuple[float, float, float]:
    """Builds and back-propagates a chain ``depth`` op nodes deep: ``(build s, backward s, dx)``.

    An engine without tanh (micrograd, oxigrad) uses ReLU, which makes the same graph shape.
    The constant goes on the left of ``+``: micrograd-rust takes plain numbers only there.
    """
    act = engine.tanh or engine.relu
    if act is None:
        raise TypeError(f"{engine.name} has neither tanh nor relu")
    x = engine.leaf(0.5)
    t0 = time.perf_counter()
    y = x
    for _ in range(depth // 3):
        y = act(0.1 + 0.9 * y)
    t1 = time.perf_counter()
    engine.backward(y)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, engine.grad(x)


def w3_autograd(depth: int) -> tuple[float, float, float]:
    """The chain on HIPS autograd: trace, then vjp."""
    import autograd.numpy as anp
    from autograd import make_vjp

    def f(x: Any) -> Any:
        for _ in range(depth // 3):
            x = anp.tanh(0.9 * x + 0.1)
        return x

    t0 = time.perf_counter()
    vjp, _ = make_vjp(f)(0.5)
    t1 = time.perf_counter()
    dx = vjp(1.0)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, float(dx)


# ---------------------------------------------------------------------------------------------
# W4: one small function of 10 inputs, value and gradient at many points
# ---------------------------------------------------------------------------------------------

W4_INPUTS = 10


def w4_function(xs: Any, relu: Callable[[Any], Any]) -> Any:
    """``sum_i (x_i x_{i+1} - 0.5)^2 + 0.1 relu(x_i)``, indices mod 10: 70 op nodes."""
    s: Any = 0.0
    n = len(xs)
    for i in range(n):
        a = xs[i] * xs[(i + 1) % n] - 0.5
        s = s + a * a + relu(xs[i]) * 0.1
    return s


def w4_points(n: int, seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, W4_INPUTS))


def w4_graph(engine: GraphEngine, points: list[list[float]]) -> tuple[float, list[float]]:
    """Builds the graph and back-propagates at every point: ``(seconds, grads at point 0)``."""
    leaf, relu, backward, grad = engine.leaf, engine.relu, engine.backward, engine.grad
    first: list[float] | None = None
    gc.collect()
    t0 = time.perf_counter()
    for point in points:
        xs = [leaf(v) for v in point]
        backward(w4_function(xs, relu))
        g = [grad(x) for x in xs]
        if first is None:
            first = g
    return time.perf_counter() - t0, first or []


def w4_autograd(points: np.ndarray) -> tuple[float, list[float]]:
    """``autograd.grad`` of the same function written with numpy, called at every point."""
    import autograd.numpy as anp
    from autograd import grad

    shift = [(i + 1) % W4_INPUTS for i in range(W4_INPUTS)]

    def f(x: Any) -> Any:
        a = x * x[shift] - 0.5
        return anp.sum(a * a + anp.maximum(x, 0.0) * 0.1)

    g = grad(f)
    gc.collect()
    t0 = time.perf_counter()
    grads = [g(p) for p in points]
    return time.perf_counter() - t0, [float(v) for v in grads[0]]


def w4_tape_per_point(points: np.ndarray) -> tuple[float, list[float]]:
    """``ferrograd.compile`` once, then ``tape.grad(x)`` from Python at every point."""
    import ferrograd

    tape = ferrograd.compile(lambda *xs: w4_function(xs, ferrograd.Value.relu), W4_INPUTS)
    rows = points.tolist()
    gc.collect()
    t0 = time.perf_counter()
    grads = [tape.grad(p)[1] for p in rows]
    return time.perf_counter() - t0, [float(v) for v in grads[0]]


def w4_tape_batch(points: np.ndarray) -> tuple[float, list[float]]:
    """``ferrograd.compile`` once, then one ``tape.grad_batch`` over all points (one thread)."""
    import ferrograd

    tape = ferrograd.compile(lambda *xs: w4_function(xs, ferrograd.Value.relu), W4_INPUTS)
    gc.collect()
    t0 = time.perf_counter()
    _, grads = tape.grad_batch(points, threads=1)
    return time.perf_counter() - t0, [float(v) for v in grads[0]]
