"""Training through compiled tapes: the same losses and parameters as the graph path, step by step.

The oracle is the graph path on both engines: ``demo.loss_and_accuracy`` (or the ``nn`` losses),
``backward()``, ``nn.SGD``. The pure-Python engine is an independent implementation of the same
formulas; the flat Adam is checked against optax.
"""

from __future__ import annotations

import numpy as np
import optax
import pytest

from ferrograd import _core, _engines, demo, nn
from ferrograd.datasets import make_moons
from ferrograd.nn import MLP, SGD, FlatAdam, FlatAdamW, FlatSGD, Layer, hinge_loss, l2_penalty
from ferrograd.training import compile_loss

ENGINES = list(_engines.NAMES)
STEPS = 4


def moons(n: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n, noise=0.1, seed=seed)


def graph_loss(model: nn.Module, X: np.ndarray, y: np.ndarray, loss: str, alpha: float) -> object:
    scores = [model(x) for x in X.tolist()]
    total = hinge_loss(scores, y.tolist()) if loss == "hinge" else nn.mse_loss(scores, y)
    return total + l2_penalty(model.parameters(), alpha) if alpha else total


def graph_step(model: nn.Module, X: np.ndarray, y: np.ndarray, loss: str, alpha: float) -> float:
    """One step of the graph path: forward, backward; returns the loss (grads left in place)."""
    model.zero_grad()
    value = graph_loss(model, X, y, loss, alpha)
    value.backward()  # type: ignore[attr-defined]
    return float(value.data)  # type: ignore[attr-defined]


def close(a: object, b: object, tol: float = 1e-12) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    return bool(np.all(np.abs(a - b) <= tol * scale))


# ------------------------------------------------------------------------------------------------
# Against the graph path, over several SGD steps, on both engines.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("method", ["dataset", "examples"])
@pytest.mark.parametrize(("loss", "alpha"), [("hinge", 1e-4), ("hinge", 0.0), ("mse", 1e-3)])
def test_steps_match_the_graph_path(engine: str, method: str, loss: str, alpha: float) -> None:
    X, y = moons()
    if loss == "mse":
        y = np.sin(3.0 * X[:, 0]) * X[:, 1]  # a regression target
    graph = MLP(2, [8, 6, 1], seed=5, engine=engine)
    compiled = graph.compile_loss(X, y, loss=loss, l2=alpha, method=method)
    assert compiled.method == method
    theta = graph.flat_parameters()
    graph_opt, flat_opt = SGD(graph.parameters(), lr=0.3), FlatSGD(theta, lr=0.3)
    for k in range(STEPS):
        expected = graph_step(graph, X, y, loss, alpha)
        value, grad = compiled.value_and_grad(theta)
        assert close(value, expected), (k, value, expected)
        assert close(grad, [p.grad for p in graph.parameters()]), k
        if method == "dataset" and engine == "rust":  # the same operations, in the same order
            assert value == expected
        graph_opt.lr = flat_opt.lr = demo.learning_rate(k, STEPS)
        graph_opt.step()
        flat_opt.step(grad)
        assert close(theta, graph.flat_parameters()), k
    assert compiled(theta) == pytest.approx(graph_loss(graph, X, y, loss, alpha).data, rel=1e-12)


def test_the_demo_recipe_matches_step_for_step() -> None:
    """The demo's model, data and schedule: 100 points, MLP(2, [16, 16, 1]), hinge + 1e-4 L2."""
    X, y = make_moons(demo.POINTS, noise=demo.NOISE, seed=demo.DEFAULT_SEED)
    graph = MLP(2, demo.SIZES, seed=demo.DEFAULT_SEED)
    compiled = graph.compile_loss(X, y, loss="hinge", l2=demo.ALPHA)
    theta = graph.flat_parameters()
    graph_opt, flat_opt = SGD(graph.parameters(), lr=1.0), FlatSGD(theta, lr=1.0)
    for k in range(6):
        graph.zero_grad()
        loss, accuracy = demo.loss_and_accuracy(graph, X.tolist(), y.tolist())
        loss.backward()
        value, grad = compiled.value_and_grad(theta)
        assert close(value, loss.data) and close(grad, [p.grad for p in graph.parameters()])
        assert np.mean(np.sign(compiled.scores(theta)) == y) == accuracy
        graph_opt.lr = flat_opt.lr = demo.learning_rate(k, 100)
        graph_opt.step()
        flat_opt.step(grad)
    assert close(theta, graph.flat_parameters())


@pytest.mark.parametrize("engine", ENGINES)
def test_minibatches_match_the_graph_on_those_rows(engine: str) -> None:
    X, y = moons(50)
    graph = MLP(2, [5, 4, 1], seed=1, engine=engine)
    compiled = graph.compile_loss(X, y, loss="hinge", l2=1e-3)
    theta = graph.flat_parameters()
    flat_opt, graph_opt = FlatSGD(theta, lr=0.2, momentum=0.9), SGD(graph.parameters(), 0.2, 0.9)
    rng = np.random.default_rng(0)
    for k in range(STEPS):
        rows = rng.choice(len(X), size=16, replace=False)
        expected = graph_step(graph, X[rows], y[rows], "hinge", 1e-3)
        value, grad = compiled.value_and_grad(theta, rows=rows)
        assert close(value, expected) and close(compiled(theta, rows=rows), expected), k
        assert close(grad, [p.grad for p in graph.parameters()]), k
        graph_opt.step()
        flat_opt.step(grad)
    mask = np.zeros(len(X), dtype=bool)
    mask[rows] = True
    assert close(
        compiled.value_and_grad(theta, rows=mask)[1],
        compiled.value_and_grad(theta, rows=np.sort(rows))[1],
    )


@pytest.mark.parametrize("loss", ["hinge", "mse"])
def test_per_example_gradients_are_each_examples_own(loss: str) -> None:
    X, y = moons(37)  # not a whole number of 32-row lane blocks
    if loss == "mse":
        y = X[:, 0] ** 2
    model = MLP(2, [6, 1], seed=2, engine="reference")
    compiled = compile_loss(model, X, y, loss=loss, l2=0.5)  # the L2 term is not per example
    values, grads = compiled.per_example(model.flat_parameters())
    assert values.shape == (37,) and grads.shape == (37, len(model.parameters()))
    for i in range(len(X)):
        model.zero_grad()
        out = model(X[i].tolist())
        term = (1 - y[i] * out).relu() if loss == "hinge" else (out - y[i]) ** 2
        term.backward()
        assert close(values[i], term.data) and close(grads[i], [p.grad for p in model.parameters()])
    sub_values, sub_grads = compiled.per_example(model.flat_parameters(), rows=[3, 0, 3])
    assert np.array_equal(sub_values, values[[3, 0, 3]]) and np.array_equal(
        sub_grads, grads[[3, 0, 3]]
    )


def test_many_rows_go_through_in_chunks_the_same_as_one_by_one() -> None:
    X, y = moons(300, seed=9)
    model = MLP(2, [16, 16, 1], seed=4)
    compiled = model.compile_loss(X, y, method="examples")
    theta = model.flat_parameters()
    values, grads = compiled.per_example(theta)
    for i in (0, 31, 32, 95, 96, 299):
        v, g = compiled.per_example(theta, rows=[i])
        assert values[i] == v[0] and np.array_equal(grads[i], g[0])
    assert np.array_equal(compiled.scores(theta), [model(x).data for x in X.tolist()])


def test_a_layer_and_the_default_method() -> None:
    X, y = moons(20)
    layer = Layer(2, 1, nonlin=False, seed=0)
    compiled = layer.compile_loss(X, y, l2=0.1)
    assert compiled.method == "examples"
    value, grad = compiled.value_and_grad(layer.flat_parameters())
    assert close(value, graph_step(layer, X, y, "hinge", 0.1))
    assert close(grad, [p.grad for p in layer.parameters()])
    assert "n_examples=20" in repr(compiled)


def test_threads_change_only_the_last_bits_of_the_sum() -> None:
    X, y = moons(3000, seed=11)  # enough rows and slots for the batch to use every core
    model = MLP(2, [16, 16, 1], seed=6)
    theta = model.flat_parameters()
    one = model.compile_loss(X, y, l2=1e-4)
    every = model.compile_loss(X, y, l2=1e-4, threads=None)
    exact = model.compile_loss(X, y, l2=1e-4, method="dataset")
    v1, g1 = one.value_and_grad(theta)
    vn, gn = every.value_and_grad(theta)
    ve, ge = exact.value_and_grad(theta)
    assert close(v1, ve) and close(vn, ve) and close(g1, ge) and close(gn, ge)
    assert np.array_equal(one.value_and_grad(theta)[1], g1)  # the same threads, the same bits
    with pytest.raises(ValueError, match="threads"):
        model.compile_loss(X, y, threads=0)


def test_grad_sum_into_refuses_bad_shapes() -> None:
    import ferrograd

    tape = ferrograd.compile(lambda a, b, x: a * x + b, 3)._tape
    values, grad = np.empty(4), np.empty(2)
    tape.grad_sum_into(np.array([2.0, 1.0]), np.arange(4.0).reshape(4, 1), values, grad)
    assert values.tolist() == [1.0, 3.0, 5.0, 7.0]
    assert grad.tolist() == [6.0, 4.0]
    with pytest.raises(ValueError, match="3 shared inputs leave none"):
        tape.grad_sum_into(np.zeros(3), np.zeros((0, 0)), np.empty(0), np.empty(3))
    with pytest.raises(ValueError, match=r"xs must have shape \(m, 1\), got \(3,\)"):
        tape.grad_sum_into(np.zeros(2), np.zeros(3), np.empty(3), np.empty(2))
    with pytest.raises(ValueError, match=r"shared must have shape \(p,\), got \(1, 2\)"):
        tape.grad_sum_into(np.zeros((1, 2)), np.zeros((3, 1)), np.empty(3), np.empty(2))
    with pytest.raises(ValueError, match=r"grad must have shape \(2,\), got \(3,\)"):
        tape.grad_sum_into(np.zeros(2), np.zeros((3, 1)), np.empty(3), np.empty(3))
    with pytest.raises(ValueError, match=r"xs must have shape \(m, 2\), got \(3, 1\)"):
        ferrograd.compile(lambda a, b, x, z: a * x + b * z, 4)._tape.grad_sum_into(
            np.zeros(2), np.zeros((3, 1)), np.empty(3), np.empty(2)
        )
    with pytest.raises(ValueError, match="overlap"):
        tape.grad_sum_into(grad, np.arange(4.0).reshape(4, 1), values, grad)


def test_compiling_does_not_touch_the_model() -> None:
    X, y = moons(10)
    model = MLP(2, [3, 1], seed=0)
    before = model.flat_parameters()
    model.compile_loss(X, y, l2=1e-4)
    assert np.array_equal(model.flat_parameters(), before)
    assert all(p.grad == 0.0 for p in model.parameters())


# ------------------------------------------------------------------------------------------------
# Flat parameters and optimisers.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_flat_parameters_round_trip(engine: str) -> None:
    model = MLP(3, [4, 2], seed=0, engine=engine)
    theta = model.flat_parameters()
    assert theta.dtype == np.float64 and theta.tolist() == [p.data for p in model.parameters()]
    model.set_flat_parameters(theta[::-1] * 2)
    assert model.flat_parameters().tolist() == (theta[::-1] * 2).tolist()
    with pytest.raises(ValueError, match=r"shape \(26,\)"):
        model.set_flat_parameters(theta[:-1])
    with pytest.raises(TypeError, match="real numbers"):
        model.set_flat_parameters(["a"] * len(theta))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_flat_sgd_is_bit_for_bit_sgd(momentum: float) -> None:
    model = MLP(2, [3, 1], seed=0)
    theta = model.flat_parameters()
    values, flat = SGD(model.parameters(), lr=0.7, momentum=momentum), FlatSGD(theta, 0.7, momentum)
    rng = np.random.default_rng(1)
    for _ in range(5):
        g = rng.normal(size=theta.size)
        for p, gi in zip(model.parameters(), g.tolist()):
            p.grad = gi
        values.step()
        flat.step(g)
        assert theta.tolist() == model.flat_parameters().tolist()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize(
    "layout", ["contiguous", "strided params", "strided grad", "aliased", "list"]
)
def test_flat_sgd_steps_any_array_as_numpy_would(momentum: float, layout: str) -> None:
    """The in-place core update and numpy's operators (taken for arrays the core cannot use in
    place) give the same floats, however params and grad are laid out."""
    rng = np.random.default_rng(7)
    base = rng.normal(size=12)
    params = base[::2] if layout == "strided params" else base[:6]
    grads = [rng.normal(size=12) for _ in range(3)]
    want, v = params.copy(), np.zeros(6)
    opt = FlatSGD(params, lr=0.3, momentum=momentum)
    for g12 in grads:
        g: object = {"strided grad": g12[1::2], "aliased": params, "list": g12[:6].tolist()}.get(
            layout, g12[:6]
        )
        g_now = np.array(g, dtype=np.float64)  # its values before the step
        v = v * momentum + g_now if momentum else g_now
        want = want - 0.3 * v
        opt.step(g)
        assert params.tolist() == want.tolist()


@pytest.mark.parametrize(
    ("flat", "kwargs"),
    [
        (FlatAdam, {"lr": 0.03}),
        (FlatAdam, {"lr": 0.03, "betas": (0.3, 0.9)}),  # the other lerp form (weight >= 0.5)
        (FlatAdam, {"lr": 0.03, "weight_decay": 0.2, "amsgrad": True}),
        (FlatAdamW, {"lr": 0.03, "weight_decay": 0.5}),
        (FlatAdamW, {"lr": 0.03, "weight_decay": 0.5, "amsgrad": True, "eps": 1e-3}),
    ],
)
def test_flat_adam_in_place_is_numpy_bit_for_bit(flat: type, kwargs: dict) -> None:
    """The in-place core update (a contiguous array) against numpy's operators (taken for a
    strided view, which the core cannot use in place), steps with huge, tiny, zero, infinite
    and NaN gradients included."""
    rng = np.random.default_rng(3)
    start = rng.normal(size=8)
    flat_params = start.copy()
    strided = np.zeros(16)
    strided[::2] = start
    view = strided[::2]
    ours, numpy_path = flat(flat_params, **kwargs), flat(view, **kwargs)
    grads = [rng.normal(size=8) * 10.0**k for k in (-300, 0, 5, 300)]
    grads.append(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-320, -5.0, 2.0]))
    grads += [rng.normal(size=8) for _ in range(3)]
    z = np.zeros(8)
    assert _core._sgd_step(z, z.copy(), z.copy(), 0.1, 0.0)  # what the core takes in place
    assert not _core._sgd_step(view, z, z.copy(), 0.1, 0.0)  # and what it leaves to numpy
    for g in grads:
        ours.step(g)
        with np.errstate(all="ignore"):  # numpy warns of the overflows; the core is silent
            numpy_path.step(g)
        assert flat_params.tobytes() == view.copy().tobytes()
        assert ours._m.tobytes() == numpy_path._m.tobytes()
        assert ours._v.tobytes() == numpy_path._v.tobytes()


@pytest.mark.parametrize(
    ("flat", "kwargs"),
    [
        (FlatAdam, {"lr": 0.03}),
        (FlatAdam, {"lr": 0.03, "weight_decay": 0.2, "amsgrad": True}),
        (FlatAdamW, {"lr": 0.03, "betas": (0.4, 0.9)}),
        (FlatAdamW, {"lr": 0.03, "weight_decay": 0.5, "amsgrad": True}),
    ],
)
def test_flat_adam_is_bit_for_bit_adam_on_values(flat: type, kwargs: dict) -> None:
    model = MLP(2, [3, 1], seed=0)
    theta = model.flat_parameters()
    on_values = (nn.AdamW if flat is FlatAdamW else nn.Adam)(model.parameters(), **kwargs)
    on_array = flat(theta, **kwargs)
    rng = np.random.default_rng(4)
    for _ in range(6):
        g = rng.normal(size=theta.size) * 10.0 ** rng.integers(-5, 2, size=theta.size)
        for p, gi in zip(model.parameters(), g.tolist()):
            p.grad = gi
        on_values.step()
        on_array.step(g)
        assert theta.tolist() == model.flat_parameters().tolist()


def torch_adam_oracle(theta, grads, lr, betas, eps, weight_decay, decoupled, amsgrad):
    """torch.optim.Adam/AdamW as its documentation writes the algorithm, one float at a time."""
    b1, b2 = betas
    theta = [float(t) for t in theta]
    m, v, v_max = [0.0] * len(theta), [0.0] * len(theta), [0.0] * len(theta)
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g.tolist()):
            if decoupled:
                theta[i] -= lr * weight_decay * theta[i]
            elif weight_decay:
                gi += weight_decay * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            m_hat = m[i] / (1 - b1**t)
            v_max[i] = max(v_max[i], v[i])
            v_hat = (v_max[i] if amsgrad else v[i]) / (1 - b2**t)
            theta[i] -= lr * m_hat / (v_hat**0.5 + eps)
        yield np.array(theta)


@pytest.mark.parametrize(
    ("cls", "kwargs", "oracle"),
    [
        (FlatAdam, {"lr": 0.01}, lambda: optax.adam(0.01, eps=1e-8)),
        (FlatAdamW, {"lr": 0.01, "weight_decay": 0.1}, lambda: optax.adamw(0.01, weight_decay=0.1)),
    ],
)
def test_flat_adam_against_optax(cls: type, kwargs: dict, oracle: object) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=20)
    ours = cls(theta, **kwargs)
    transform = oracle()  # type: ignore[operator]
    theirs = theta.copy()
    state = transform.init(theirs)
    for _ in range(6):
        g = rng.normal(size=20) * 10.0 ** rng.integers(-4, 2, size=20)
        ours.step(g)
        updates, state = transform.update(g, state, theirs)
        theirs = np.asarray(optax.apply_updates(theirs, updates))
        assert np.allclose(theta, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (FlatAdam, {"lr": 0.02, "betas": (0.8, 0.99), "amsgrad": True}),
        (FlatAdam, {"lr": 0.02, "weight_decay": 0.3}),
        (FlatAdamW, {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ],
)
def test_flat_adam_against_the_documented_algorithm(cls: type, kwargs: dict) -> None:
    rng = np.random.default_rng(3)
    theta = rng.normal(size=15)
    start = theta.copy()
    ours = cls(theta, **kwargs)
    grads = [rng.normal(size=15) * 10.0 ** rng.integers(-4, 2, size=15) for _ in range(8)]
    settings = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": ours.weight_decay}
    settings.update(kwargs)
    settings.pop("amsgrad", None)
    expected = torch_adam_oracle(
        start, grads, decoupled=cls is FlatAdamW, amsgrad=ours.amsgrad, **settings
    )
    for g, want in zip(grads, expected):
        ours.step(g)
        assert np.allclose(theta, want, rtol=1e-9, atol=1e-12)


def test_flat_optimisers_refuse_what_they_cannot_update() -> None:
    with pytest.raises(TypeError, match="float64 numpy array"):
        FlatSGD([1.0, 2.0], lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float64 numpy array"):
        FlatAdam(np.zeros(3, dtype=np.float32))
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        FlatSGD(frozen, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        FlatSGD(np.zeros(3), lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        FlatSGD(np.zeros(3), lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        FlatAdam(np.zeros(3), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        FlatSGD(np.zeros(3), lr=0.1).step(np.zeros(4))


# ------------------------------------------------------------------------------------------------
# Bad input: a Python exception naming the problem.
# ------------------------------------------------------------------------------------------------


def test_bad_input_is_named() -> None:
    X, y = moons(10)
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile_loss(X, y, loss="huber")
    with pytest.raises(ValueError, match="unknown method"):
        model.compile_loss(X, y, method="fast")
    with pytest.raises(ValueError, match="-1 or \\+1"):
        model.compile_loss(X, y * 2)
    with pytest.raises(ValueError, match="one target per row"):
        model.compile_loss(X, y[:-1])
    with pytest.raises(ValueError, match="shape \\(examples, features\\)"):
        model.compile_loss(X[:, 0], y)
    with pytest.raises(ValueError, match="3 features per row but the model takes 2"):
        model.compile_loss(np.ones((10, 3)), y)
    with pytest.raises(ValueError, match="l2"):
        model.compile_loss(X, y, l2=float("nan"))
    with pytest.raises(TypeError, match="l2"):
        model.compile_loss(X, y, l2="0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one output per example"):
        MLP(2, [3, 2], seed=0).compile_loss(X, y)
    compiled = model.compile_loss(X, y)
    with pytest.raises(ValueError, match=r"theta must have shape \(13,\)"):
        compiled.value_and_grad(np.zeros(12))
    with pytest.raises(IndexError, match="out of range"):
        compiled.value_and_grad(np.zeros(13), rows=[10])
    with pytest.raises(ValueError, match="no examples"):
        compiled.per_example(np.zeros(13), rows=[])
    with pytest.raises(TypeError, match="row indices"):
        compiled.per_example(np.zeros(13), rows=[0.5])
    with pytest.raises(ValueError, match="shape \\(m, 2\\)"):
        compiled.scores(np.zeros(13), X=np.ones(3))


@pytest.mark.parametrize("loss", ["hinge", "mse"])
def test_the_core_sums_the_terms_as_math_fsum_does(loss: str) -> None:
    # The loss is the terms' mean summed exactly: the core's sum against math.fsum's, on
    # terms whose naive sum would round differently, and on a minibatch.
    import math

    X, y = moons(n=97, seed=11)
    X = X * np.array([1e8, 1e-8])  # terms of very different sizes
    model = MLP(2, [8, 1], seed=4)
    compiled = model.compile_loss(X, y, loss=loss, l2=1e-3)
    theta = model.flat_parameters()
    for rows in (None, np.arange(0, 97, 3)):
        value, _, terms = compiled.value_grad_terms(theta, rows=rows)
        want = math.fsum(terms.tolist()) * (1.0 / len(terms)) + 1e-3 * float(np.dot(theta, theta))
        assert value == want
        assert value == compiled(theta, rows=rows)  # the loss alone sums in Python
