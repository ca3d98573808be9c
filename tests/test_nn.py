"""ferrograd.nn: micrograd's semantics, both engines, and gradients checked against oracles."""

from __future__ import annotations

import random

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from micrograd import nn as micro_nn

import ferrograd
from ferrograd import nn, reference
from ferrograd.datasets import make_moons
from ferrograd.nn import MLP, Layer, Module, Neuron, hinge_loss, l2_penalty


def rel_diff(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


# ------------------------------------------------------------------------------------------------
# Shapes, counts, order, repr.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nin", "nouts", "count"),
    [(2, [16, 16, 1], 337), (3, [4, 4, 1], 41), (1, [1], 2), (5, [3, 2], 26)],
)
def test_parameter_count_is_weights_plus_biases(nin: int, nouts: list[int], count: int) -> None:
    sizes = [nin, *nouts]
    assert count == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    assert len(MLP(nin, nouts, seed=0).parameters()) == count


def test_parameters_are_distinct_leaves_in_micrograd_order() -> None:
    model = MLP(2, [3, 1], seed=0)
    params = model.parameters()
    assert len(set(params)) == len(params)
    assert all(p.op == "" for p in params)
    expected = []
    for layer in model.layers:
        for neuron in layer.neurons:
            expected += [*neuron.w, neuron.b]
    assert params == expected


def test_repr_matches_micrograd() -> None:
    ours = MLP(2, [16, 16, 1], seed=0)
    theirs = micro_nn.MLP(2, [16, 16, 1])
    assert repr(ours) == repr(theirs)
    assert repr(ours).startswith("MLP of [Layer of [ReLUNeuron(2), ")
    assert repr(Neuron(3, nonlin=False)) == "LinearNeuron(3)"


def test_single_output_is_a_value_several_are_a_list() -> None:
    one = MLP(2, [4, 1], seed=0)([0.5, -1.0])
    assert isinstance(one, ferrograd.Value)
    many = MLP(2, [4, 3], seed=0)([0.5, -1.0])
    assert isinstance(many, list) and len(many) == 3
    assert all(isinstance(v, ferrograd.Value) for v in many)
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), ferrograd.Value)
    assert len(Layer(2, 5, seed=0)([1.0, 2.0])) == 5


def test_hidden_layer_of_one_neuron_still_feeds_the_next() -> None:
    model = MLP(2, [1, 3], seed=0)
    out = model([1.0, 2.0])
    assert len(out) == 3


def test_hidden_layers_are_relu_and_the_last_is_linear() -> None:
    model = MLP(2, [8, 8, 2], seed=1)
    assert [n.nonlin for layer in model.layers for n in layer.neurons] == [True] * 16 + [False] * 2
    neuron = Neuron(2, seed=0)
    neuron.w[0].data, neuron.w[1].data = -1.0, -1.0
    assert neuron([1.0, 1.0]).data == 0.0
    neuron.nonlin = False
    assert neuron([1.0, 1.0]).data == -2.0


def test_neuron_is_three_nodes_whatever_its_width() -> None:
    out = Neuron(50, seed=0)([1.0] * 50)
    assert out.op == "relu"
    (affine,) = out.children
    assert affine.op == "+"
    dot, bias = affine.children
    assert dot.op == "dot" and len(dot.children) == 100
    assert bias.op == ""


def test_initialisation_is_uniform_weights_and_zero_biases() -> None:
    model = MLP(4, [32, 32, 1], seed=7)
    ws = [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    bs = [n.b.data for layer in model.layers for n in layer.neurons]
    assert all(-1.0 <= w <= 1.0 for w in ws)
    assert abs(np.mean(ws)) < 0.1 and 0.25 < np.var(ws) < 0.42  # uniform(-1, 1) has var 1/3
    assert bs == [0.0] * 65


# ------------------------------------------------------------------------------------------------
# Seeds and engines.
# ------------------------------------------------------------------------------------------------


def datas(model: Module) -> list[float]:
    return [p.data for p in model.parameters()]


def test_same_seed_same_parameters_different_seed_different() -> None:
    assert datas(MLP(2, [8, 1], seed=3)) == datas(MLP(2, [8, 1], seed=3))
    assert datas(MLP(2, [8, 1], seed=3)) != datas(MLP(2, [8, 1], seed=4))
    assert datas(MLP(2, [8, 1], seed=random.Random(3))) == datas(MLP(2, [8, 1], seed=3))


def test_neurons_of_a_seeded_layer_differ() -> None:
    layer = Layer(3, 4, seed=0)
    ws = [tuple(w.data for w in n.w) for n in layer.neurons]
    assert len(set(ws)) == 4


def test_no_seed_draws_from_global_random_like_micrograd() -> None:
    random.seed(1337)
    theirs = micro_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    assert datas(ours) == [p.data for p in theirs.parameters()]
    x = [0.3, -1.2]
    assert ours(x).data == pytest.approx(theirs(x).data, rel=1e-12)


@pytest.mark.parametrize("engine", ["reference", reference, nn.resolve_engine("reference")])
def test_engine_choice_builds_reference_values(engine: object) -> None:
    model = MLP(2, [4, 1], seed=5, engine=engine)
    assert model.engine.name == "reference"
    assert all(isinstance(p, reference.Value) for p in model.parameters())
    assert isinstance(model([1.0, 2.0]), reference.Value)


@pytest.mark.parametrize("engine", [None, "rust", "ferrograd", ferrograd])
def test_engine_choice_builds_rust_values(engine: object) -> None:
    model = MLP(2, [4, 1], seed=5, engine=engine)
    assert model.engine.name == "rust"
    assert all(isinstance(p, ferrograd.Value) for p in model.parameters())


def test_same_seed_gives_same_parameters_on_both_engines() -> None:
    assert datas(MLP(2, [16, 16, 1], seed=9)) == datas(
        MLP(2, [16, 16, 1], seed=9, engine="reference")
    )


def test_to_copies_parameters_onto_the_other_engine() -> None:
    model = MLP(3, [5, 2], seed=2)
    for p in model.parameters():
        p.data += 0.25
        p.grad = 3.0
    twin = model.to("reference")
    assert twin.engine.name == "reference"
    assert datas(twin) == datas(model)
    assert all(q.grad == 0.0 for q in twin.parameters())
    assert repr(twin) == repr(model)
    back = twin.to("rust")
    assert isinstance(back.parameters()[0], ferrograd.Value) and datas(back) == datas(model)


def test_bad_engine_and_sizes_raise() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        MLP(2, [1], engine="torch")
    with pytest.raises(TypeError, match="engine"):
        MLP(2, [1], engine=3)
    with pytest.raises(TypeError, match="nin"):
        MLP(2.0, [1])
    with pytest.raises(ValueError, match="layer size"):
        MLP(2, [4, 0])
    with pytest.raises(ValueError, match="at least one"):
        MLP(2, [])
    with pytest.raises(TypeError, match="nouts"):
        MLP(2, 3)
    with pytest.raises(TypeError, match="seed"):
        MLP(2, [1], seed="x")
    with pytest.raises(ValueError, match="nout"):
        Layer(2, 0)


# ------------------------------------------------------------------------------------------------
# Inputs.
# ------------------------------------------------------------------------------------------------


def test_inputs_may_be_floats_ints_values_or_arrays() -> None:
    model = MLP(2, [4, 1], seed=0)
    expected = model([1.0, -2.0]).data
    assert model([1, -2]).data == expected
    assert model((1.0, -2.0)).data == expected
    assert model(np.array([1.0, -2.0])).data == expected
    assert model([ferrograd.Value(1.0), ferrograd.Value(-2.0)]).data == expected
    assert model(iter([1.0, -2.0])).data == expected


def test_gradient_flows_into_value_inputs() -> None:
    model = MLP(2, [4, 1], seed=0, engine="reference")
    x = [reference.Value(0.5), reference.Value(-0.25)]
    model(x).backward()
    h = 1e-6
    for i in range(2):
        up = [v.data for v in x]
        down = list(up)
        up[i] += h
        down[i] -= h
        numeric = (model(up).data - model(down).data) / (2 * h)
        assert x[i].grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_wrong_inputs_raise_named_errors() -> None:
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="1-d array"):
        model(np.zeros((2, 1)))
    with pytest.raises(TypeError, match="sequence"):
        model(1.0)
    with pytest.raises(TypeError, match="sequence"):
        model("ab")
    with pytest.raises(TypeError):
        model([1.0, "b"])
    with pytest.raises(TypeError, match="rust engine"):
        model([reference.Value(1.0), 2.0])
    with pytest.raises(TypeError, match="reference engine"):
        model.to("reference")([ferrograd.Value(1.0), 2.0])
    with pytest.raises(ValueError, match="expected 3 inputs"):
        Neuron(3, seed=0)([1.0])


# ------------------------------------------------------------------------------------------------
# zero_grad and gradients.
# ------------------------------------------------------------------------------------------------


def test_zero_grad_clears_every_parameter() -> None:
    model = MLP(2, [4, 4, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_backward_twice_without_zero_grad_doubles() -> None:
    model = MLP(2, [4, 1], seed=0)
    out = model([1.0, 2.0])
    out.backward()
    once = [p.grad for p in model.parameters()]
    out.backward()
    assert [p.grad for p in model.parameters()] == [2 * g for g in once]


def demo_loss(model: Module, X: np.ndarray, y: np.ndarray, alpha: float = 1e-4) -> object:
    scores = [model(x) for x in X]
    return hinge_loss(scores, y) + l2_penalty(model.parameters(), alpha)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_gradients_agree_between_engines(seed: int) -> None:
    X, y = make_moons(40, noise=0.1, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    twin = model.to("reference")
    loss, twin_loss = demo_loss(model, X, y), demo_loss(twin, X, y)
    loss.backward()
    twin_loss.backward()
    assert rel_diff(loss.data, twin_loss.data) <= 1e-12
    grads = [(p.grad, q.grad) for p, q in zip(model.parameters(), twin.parameters())]
    assert sum(g != 0.0 for g, _ in grads) > 100  # the comparison is not vacuous
    assert max(rel_diff(g, h) for g, h in grads) <= 1e-12


def autograd_mlp(sizes: list[int]) -> object:
    """The same MLP written for HIPS autograd over a flat parameter vector, in nn's order."""

    def forward(flat: object, X: object) -> object:
        h, k = X, 0
        for i, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
            block = flat[k : k + nout * (nin + 1)].reshape(nout, nin + 1)
            k += nout * (nin + 1)
            h = anp.dot(h, block[:, :nin].T) + block[:, nin]
            if i != len(sizes) - 2:
                h = anp.maximum(h, 0.0)
        return h

    return forward


@pytest.mark.parametrize("seed", [0, 3])
def test_mlp_gradients_match_autograd(seed: int) -> None:
    sizes = [2, 16, 16, 1]
    X, y = make_moons(50, noise=0.1, seed=seed)
    model = MLP(2, sizes[1:], seed=seed)
    # Move biases off zero so they matter in the forward pass too.
    rng = random.Random(seed)
    for layer in model.layers:
        for n in layer.neurons:
            n.b.data = rng.uniform(-0.5, 0.5)
    flat = np.array(datas(model))
    forward = autograd_mlp(sizes)

    def loss_fn(params: object) -> object:
        scores = forward(params, X)[:, 0]
        data_loss = anp.mean(anp.maximum(1.0 - y * scores, 0.0))
        return data_loss + 1e-4 * anp.sum(params * params)

    loss = demo_loss(model, X, y)
    loss.backward()
    expected = autograd.grad(loss_fn)(flat)
    assert loss.data == pytest.approx(float(loss_fn(flat)), rel=1e-12)
    assert np.count_nonzero(expected) > 100
    np.testing.assert_allclose(
        [p.grad for p in model.parameters()], expected, rtol=1e-9, atol=1e-13
    )


def test_multi_output_mlp_matches_autograd() -> None:
    sizes = [3, 5, 4]
    model = MLP(3, sizes[1:], seed=11)
    x = np.array([0.2, -0.7, 1.3])
    weights = np.array([0.5, -1.0, 2.0, 0.25])
    outs = model(x)
    ferrograd.dot(outs, weights.tolist()).backward()
    forward = autograd_mlp(sizes)
    expected = autograd.grad(lambda p: anp.dot(forward(p, x[None, :])[0], weights))(
        np.array(datas(model))
    )
    np.testing.assert_allclose([p.grad for p in model.parameters()], expected, rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Documentation examples.
# ------------------------------------------------------------------------------------------------


def test_docstring_examples_run() -> None:
    import doctest

    from ferrograd import datasets

    for module in (nn, datasets):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


def test_readme_neural_net_example_trains() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## Neural nets.*?```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)  # noqa: S102 -- running the README's own example is the test
    model, X, y = namespace["model"], namespace["X"], namespace["y"]
    right = sum((model(x).data > 0) == (label > 0) for x, label in zip(X, y))
    assert right >= 95


# ------------------------------------------------------------------------------------------------
# The core's one-call dense layer, which Layer uses on the Rust engine.
# ------------------------------------------------------------------------------------------------


def test_dense_builds_the_same_graph_as_op_by_op() -> None:

    layer = Layer(3, 4, seed=2)
    layer.neurons[1].nonlin = False
    for n in layer.neurons:
        n.b.data = 0.5
    x = [ferrograd.Value(v) for v in (0.3, -1.1, 2.0)]
    fast = layer(x)
    slow = [n(x) for n in layer.neurons]
    assert [v.op for v in fast] == [v.op for v in slow] == ["relu", "+", "relu", "relu"]
    assert [v.data for v in fast] == [v.data for v in slow]
    dot, bias = fast[0].children[0].children
    assert dot.op == "dot" and bias == layer.neurons[0].b
    assert list(dot.children) == [*layer.neurons[0].w, *x]
    ferrograd.sum(fast).backward()
    fast_grads = [p.grad for p in [*layer.parameters(), *x]]
    for v in [*layer.parameters(), *x]:
        v.grad = 0.0
    ferrograd.sum(slow).backward()
    assert fast_grads == [p.grad for p in [*layer.parameters(), *x]]


def test_dense_rejects_mismatched_shapes() -> None:
    from ferrograd import _core

    w = [ferrograd.Value(1.0), ferrograd.Value(2.0)]
    b = ferrograd.Value(0.0)
    with pytest.raises(ValueError, match="same length"):
        _core._dense([w], [b], [True], [1.0])
    with pytest.raises(ValueError, match="one bias"):
        _core._dense([w, w], [b], [True, True], [1.0, 2.0])
    with pytest.raises(ValueError, match="one bias"):
        _core._dense([w], [b, b], [True, True], [1.0, 2.0])
    with pytest.raises(TypeError):
        _core._dense([w], [b], [True], [1.0, "x"])
    # Counts that differ are the error, whatever the rows hold, when the rows are a list.
    short = [ferrograd.Value(1.0)]
    with pytest.raises(ValueError, match="one bias"):
        _core._dense([short], [b, b], [True, True], [1.0, 2.0])
    with pytest.raises(ValueError, match="one bias"):
        _core._dense([w, ["x"]], [b], [True], [1.0, 2.0])
    with pytest.raises(ValueError, match="one bias"):
        _core._dense([w], [b], [True, False], [1.0, 2.0])
    # Rows from an iterator are counted as they come.
    with pytest.raises(ValueError, match="one bias"):
        _core._dense(iter([w, w]), [b], [True], [1.0, 2.0])
    with pytest.raises(ValueError, match="one bias"):
        _core._dense(iter([w]), [b, b], [True, True], [1.0, 2.0])
    out = _core._dense(iter([w, w]), [b, b], [True, False], [1.0, 2.0])
    assert [v.data for v in out] == [5.0, 5.0]
    with pytest.raises(TypeError):
        _core._dense([w, 5], [b, b], [True, True], [1.0, 2.0])
