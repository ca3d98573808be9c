"""A layer built in one call into the core reads each neuron's ``w``, ``b`` and ``nonlin`` as
Python reads them: whatever changes between calls (an attribute reassigned, a weight replaced,
a neuron swapped, added or removed, the instance dict written or replaced, a subclass with
properties) is what the next call uses, as with the reference engine's plain Python."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import ferrograd
from ferrograd import reference
from ferrograd.nn import MLP, Layer, Neuron


def outputs(layer: Layer, x: list[float]) -> list[float]:
    out = layer(x)
    return [v.data for v in (out if isinstance(out, list) else [out])]


def twins() -> tuple[Layer, Layer]:
    """The same layer on both engines (the reference reads attributes in Python)."""
    rust = Layer(3, 4, seed=5)
    ref = rust.to(reference)
    return rust, ref


def change_both(change: Callable[[Layer, Any], None]) -> tuple[Layer, Layer]:
    rust, ref = twins()
    outputs(rust, [0.5, -1.0, 2.0])  # read once, so the change comes after
    change(rust, ferrograd)
    change(ref, reference)
    return rust, ref


CHANGES: dict[str, Callable[[Layer, Any], None]] = {
    "w reassigned": lambda layer, e: setattr(
        layer.neurons[1], "w", [e.Value(2.0), e.Value(-3.0), e.Value(0.5)]
    ),
    "b reassigned": lambda layer, e: setattr(layer.neurons[2], "b", e.Value(7.0)),
    "nonlin turned off": lambda layer, e: setattr(layer.neurons[0], "nonlin", False),
    "a weight replaced in place": lambda layer, e: layer.neurons[3].w.__setitem__(0, e.Value(-9.0)),
    "a weight's data set": lambda layer, e: setattr(layer.neurons[3].w[2], "data", 4.0),
    "a neuron swapped": lambda layer, e: layer.neurons.__setitem__(
        1, Neuron(3, nonlin=False, seed=11, engine=e)
    ),
    "a neuron added": lambda layer, e: layer.neurons.append(Neuron(3, seed=12, engine=e)),
    "a neuron removed": lambda layer, e: layer.neurons.pop(0),
    "the list replaced": lambda layer, e: setattr(layer, "neurons", layer.neurons[::-1]),
    "the dict written": lambda layer, e: vars(layer.neurons[2]).__setitem__("b", e.Value(-5.0)),
    "the dict replaced": lambda layer, e: setattr(
        layer.neurons[0], "__dict__", {**vars(layer.neurons[0]), "b": e.Value(3.0)}
    ),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_change_between_calls_is_what_the_next_call_reads(name: str) -> None:
    rust, ref = change_both(CHANGES[name])
    for x in ([0.5, -1.0, 2.0], [1.0, 1.0, -1.0]):
        assert outputs(rust, x) == outputs(ref, x)


class Shifted(Neuron):
    """A neuron whose weights are a property: read through ``getattr``, never a dict."""

    @property  # type: ignore[override]
    def w(self) -> list[Any]:
        return [v + 1.0 for v in self.__dict__["w"]]

    @w.setter
    def w(self, value: list[Any]) -> None:
        self.__dict__["w"] = value


def test_a_neuron_subclass_is_read_through_its_attributes() -> None:
    layer = Layer(2, 2, seed=3)
    layer.neurons[1] = Shifted(2, seed=4)
    want = [n._forward([ferrograd.Value(1.0), ferrograd.Value(2.0)]).data for n in layer.neurons]
    assert outputs(layer, [1.0, 2.0]) == want
    plain = Neuron(2, seed=4)
    assert want[1] != plain._forward([ferrograd.Value(1.0), ferrograd.Value(2.0)]).data


def test_a_missing_attribute_is_the_attribute_error() -> None:
    layer = Layer(2, 2, seed=3)
    outputs(layer, [1.0, 2.0])
    del layer.neurons[0].b
    with pytest.raises(AttributeError, match="'b'"):
        layer([1.0, 2.0])
    layer.neurons[0].b = ferrograd.Value(0.0)
    layer.neurons[1].nonlin = "yes"
    with pytest.raises(TypeError):
        layer([1.0, 2.0])


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_of_a_model_that_has_run_run_alike(copier: Callable[[Any], Any]) -> None:
    model = MLP(3, [4, 2], seed=9)
    before = [v.data for v in model([0.1, 0.2, 0.3])]
    twin = copier(model)
    assert [v.data for v in twin([0.1, 0.2, 0.3])] == before
    twin.layers[0].neurons[0].b = ferrograd.Value(1.0)
    assert [v.data for v in model([0.1, 0.2, 0.3])] == before


HOSTILE = r"""
import ferrograd
from ferrograd.nn import Layer, Neuron

layer = Layer(2, 3, seed=1)
layer([1.0, 2.0])

class Meddles:
    # A weight that is a number whose float() changes the layer while it is being read.
    def __init__(self, how):
        self.how = how
    def __float__(self):
        if self.how == "clear":
            layer.neurons.clear()
        elif self.how == "again":
            self.how = "again, inside"
            layer([1.0, 2.0])  # the same layer, re-entered once
        elif self.how == "swap":
            layer.neurons[-1] = Neuron(2, seed=2)
        return 0.5

for how in ("clear", "again", "swap"):
    layer = Layer(2, 3, seed=1)
    layer([1.0, 2.0])
    layer.neurons[0].w = [Meddles(how), ferrograd.Value(1.0)]
    try:
        out = layer([1.0, 2.0])
        print(how, "ok", len(out) if isinstance(out, list) else 1)
    except Exception as e:
        print(how, type(e).__name__)
"""


def outcomes(script: str) -> dict[str, str]:
    """What each case of ``script`` printed (``case outcome`` lines), run in a child
    interpreter, which must exit cleanly."""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_a_layer_changed_while_it_is_read_reads_on_as_python_would() -> None:
    lines = outcomes(HOSTILE)
    assert lines["clear"] == "ok 1"  # the list was emptied after its first neuron
    assert lines["again"] == "ok 3"  # the same layer, re-entered while it is read
    assert lines["swap"] == "ok 3"


def test_neurons_in_a_tuple_read_alike() -> None:
    layer = Layer(2, 3, seed=8)
    want = outputs(layer, [0.3, -0.7])
    layer.neurons = tuple(layer.neurons)  # type: ignore[assignment]
    assert outputs(layer, [0.3, -0.7]) == want


class Doubling(Layer):
    """A layer with a forward of its own: an MLP runs it through that, not through the core."""

    def _forward(self, x: list[Any]) -> list[Any]:
        return [2 * v for v in super()._forward(x)]


def test_an_mlp_runs_its_layers_as_their_own_calls_would() -> None:
    model = MLP(3, [4, 4, 2], seed=4)
    x = [ferrograd.Value(v) for v in (0.3, -1.2, 0.8)]
    h = x
    for layer in model.layers:
        h = layer._forward(h)  # one layer at a time, each through Python
    fast = model(x)
    assert [v.op for v in fast] == [v.op for v in h] == ["+", "+"]
    assert [v.data for v in fast] == [v.data for v in h]
    ferrograd.sum(fast).backward()
    grads = [p.grad for p in [*model.parameters(), *x]]
    for p in [*model.parameters(), *x]:
        p.grad = 0.0
    ferrograd.sum(h).backward()
    assert grads == [p.grad for p in [*model.parameters(), *x]]
    ref = model.to(reference)
    assert [v.data for v in fast] == [v.data for v in ref([0.3, -1.2, 0.8])]


def test_an_mlp_with_a_layer_of_another_kind_or_changed_layers_reads_them_afresh() -> None:
    model = MLP(2, [3, 1], seed=6)
    x = [0.5, -0.25]
    plain = model(x).data
    special = Doubling(2, 3, seed=7)
    special.neurons = model.layers[0].neurons
    model.layers[0] = special
    assert model(x).data != plain
    model.layers[0].__class__ = Layer
    assert model(x).data == plain
    model.layers.append(Layer(1, 2, nonlin=False, seed=8))
    out = model(x)
    assert isinstance(out, list) and len(out) == 2
    model.layers = tuple(model.layers)  # type: ignore[assignment]
    assert [v.data for v in model(x)] == [v.data for v in out]


def test_an_mlp_under_no_grad_keeps_no_graph() -> None:
    model = MLP(2, [4, 1], seed=2)
    with ferrograd.no_grad():
        out = model([1.0, 2.0])
    assert out.op == "" and out.children == ()
    assert out.data == model([1.0, 2.0]).data


HOSTILE_MLP = r"""
import ferrograd
from ferrograd.nn import MLP

class Meddles:
    # A weight that is a number whose float() changes the model while it is being read.
    def __init__(self, how):
        self.how = how
    def __float__(self):
        if self.how == "clear":
            model.layers.clear()
        elif self.how == "again":
            self.how = "again, inside"
            model([1.0, 2.0])
        elif self.how == "emptied":
            model.layers[1].neurons = []
        return 0.5

for how in ("clear", "again", "emptied"):
    model = MLP(2, [3, 2], seed=1)
    model.layers[0].neurons[0].w = [Meddles(how), ferrograd.Value(1.0)]
    try:
        out = model([1.0, 2.0])
        print(how, "ok", len(out) if isinstance(out, list) else 1)
    except Exception as e:
        print(how, type(e).__name__)
"""


def test_an_mlp_changed_while_it_is_read_reads_on_as_python_would() -> None:
    lines = outcomes(HOSTILE_MLP)
    assert lines["clear"] == "ok 3"  # the first layer's outputs: no layer left after it
    assert lines["again"] == "ok 2"
    assert lines["emptied"] == "ok 0"  # a layer of no neurons gives no outputs
