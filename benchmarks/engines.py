"""The engines compared: how each one makes a leaf, applies an op and runs a backward pass.

Graph engines (ferrograd, its reference engine, micrograd, the Rust-backed micrograd ports
micrograd-rust and oxigrad, PyTorch scalar tensors) share one shape, :class:`GraphEngine`: a leaf
constructor, ops through Python's operators and a few named functions, ``backward(root)`` and
``grad(leaf)``. An op an engine lacks is None, and a workload that needs it reports the engine as
not measured, with the reason. HIPS autograd differentiates functions rather than graphs, so the
workloads call it through its own entry points (see ``workloads.py``). An engine that is not
installed is reported with the reason instead of a number.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable

Fn = Callable[..., Any]


@dataclass
class GraphEngine:
    """A scalar engine that builds a graph of nodes and back-propagates from a root."""

    name: str
    leaf: Fn
    relu: Fn | None
    tanh: Fn | None
    exp: Fn | None
    backward: Fn
    grad: Fn
    data: Fn
    #: ``dot(ws, xs)`` as one fused node, or None: the engine sums products one node at a time.
    dot: Fn | None = None
    #: ``sum(values)`` as one fused node, or None.
    total: Fn | None = None
    #: Builds ``MLP(2, [16, 16, 1])`` its own way, or None to use the benchmark's plain MLP.
    mlp: Fn | None = None
    #: Sets the parameters' grads to zero before a backward pass.
    zero: Fn = field(default=lambda params: _zero(params))
    #: One plain gradient-descent update of the parameters.
    sgd: Fn = field(default=lambda params, lr: _sgd(params, lr))
    #: Why a workload (key "w1" .. "w4") cannot run on this engine, beyond a missing op.
    limits: dict[str, str] = field(default_factory=dict)


def _zero(params: list[Any]) -> None:
    for p in params:
        p.grad = 0.0


def _sgd(params: list[Any], lr: float) -> None:
    for p in params:
        p.data -= lr * p.grad


@dataclass
class Missing:
    """An engine that could not be loaded, and why."""

    name: str
    reason: str


def _twin(module: Any) -> GraphEngine:
    """``ferrograd`` or ``ferrograd.reference``: one contract, so one adapter serves both."""
    from ferrograd import nn

    return GraphEngine(
        name=module.__name__,
        leaf=module.Value,
        relu=module.Value.relu,
        tanh=module.Value.tanh,
        exp=module.Value.exp,
        backward=module.Value.backward,
        grad=lambda v: v.grad,
        data=lambda v: v.data,
        dot=module.dot,
        total=module.sum,
        # ferrograd.nn without a seed draws from the global `random` as micrograd does, so the
        # benchmark's `random.seed` gives every engine the same initial weights.
        mlp=lambda nin, nouts: nn.MLP(nin, nouts, engine=module),
    )


def _ferrograd() -> GraphEngine:
    import ferrograd

    return _twin(ferrograd)


def _reference() -> GraphEngine:
    from ferrograd import reference

    return _twin(reference)


def _micrograd() -> GraphEngine:
    from micrograd import nn
    from micrograd.engine import Value

    return GraphEngine(
        name="micrograd",
        leaf=Value,
        relu=Value.relu,
        tanh=None,
        exp=None,
        backward=Value.backward,
        grad=lambda v: v.grad,
        data=lambda v: v.data,
        mlp=lambda nin, nouts: _MicrogradMLP(nn.MLP(nin, nouts)),
    )


class _MicrogradMLP:
    """micrograd's own ``nn.MLP``, seen through the benchmark's model interface."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, x: Any) -> Any:
        return self.model(x)

    def parameters(self) -> list[Any]:
        return self.model.parameters()


def _torch() -> GraphEngine:
    import torch

    torch.set_num_threads(1)

    def leaf(x: float) -> Any:
        return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)

    def zero(params: list[Any]) -> None:
        for p in params:
            p.grad = None

    def sgd(params: list[Any], lr: float) -> None:
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad

    return GraphEngine(
        name="torch (scalar tensors)",
        leaf=leaf,
        relu=torch.relu,
        tanh=torch.tanh,
        exp=torch.exp,
        backward=lambda r: r.backward(),
        grad=lambda v: 0.0 if v.grad is None else v.grad.item(),
        data=lambda v: v.item(),
        zero=zero,
        sgd=sgd,
    )


def _micrograd_rust() -> GraphEngine:
    from micrograd_rust import Value

    return GraphEngine(
        name="micrograd-rust",
        leaf=Value,
        # It has no relu; its Value takes a plain number only as the left operand (0.1 + v).
        relu=None,
        tanh=Value.tanh,
        exp=Value.exp,
        backward=Value.backward,
        grad=lambda v: v.grad,
        data=lambda v: v.data,
        limits={
            "w2": "no relu: its own MLP is tanh on every layer; micrograd's model needs ReLU "
            "(hidden layers, hinge loss) and a linear output",
        },
    )


def _oxigrad() -> GraphEngine:
    from oxigrad import Activation, Value

    def zero(params: list[Any]) -> None:
        # Its grad is read-only; zero_grad on a leaf clears that leaf alone.
        for p in params:
            p.zero_grad()

    return GraphEngine(
        name="oxigrad",
        leaf=Value,
        relu=Activation.ReLU,
        tanh=None,
        exp=Value.exp,
        backward=Value.backward,
        grad=lambda v: v.grad,
        data=lambda v: v.data,
        zero=zero,
    )


def graph_engines() -> list[GraphEngine | Missing]:
    """Every graph engine, in table order; a missing one as :class:`Missing`."""
    out: list[GraphEngine | Missing] = []
    makers: list[tuple[str, str, Callable[[], GraphEngine]]] = [
        ("ferrograd", "ferrograd", _ferrograd),
        ("ferrograd.reference", "ferrograd.reference", _reference),
        ("micrograd", "micrograd", _micrograd),
        ("micrograd-rust", "micrograd_rust", _micrograd_rust),
        ("oxigrad", "oxigrad", _oxigrad),
        ("torch (scalar tensors)", "torch", _torch),
    ]
    for name, module, make in makers:
        try:
            if importlib.util.find_spec(module) is None:
                out.append(Missing(name, f"{module} is not installed"))
                continue
            out.append(make())
        except ImportError as err:
            out.append(Missing(name, f"import failed: {err}"))
    return out


#: The distribution each measured package comes from, for the versions in results.json.
DISTRIBUTIONS = {
    "ferrograd": "ferrograd",
    "micrograd": "micrograd",
    "micrograd-rust": "micrograd-rust",
    "oxigrad": "oxigrad",
    "torch (scalar tensors)": "torch",
    "autograd": "autograd",
}


def versions() -> dict[str, str]:
    """The installed version of every package the benchmark can measure, by engine name."""
    from importlib import metadata

    out = {}
    for name, dist in DISTRIBUTIONS.items():
        try:
            out[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def missing_ops(engine: GraphEngine, ops: tuple[str, ...]) -> str | None:
    """``"no relu"``, ``"no tanh/exp"``, ... for the ops in ``ops`` the engine lacks, or None."""
    lacking = [op for op in ("relu", "tanh", "exp") if op in ops and getattr(engine, op) is None]
    return "no " + "/".join(lacking) if lacking else None


def autograd_available() -> str | None:
    """None when HIPS autograd can be imported, else the reason it cannot."""
    if importlib.util.find_spec("autograd") is None:
        return "autograd is not installed"
    return None
