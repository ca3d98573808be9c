"""Neural nets out of scalars: micrograd's ``nn`` with fused nodes, two engines and a seed.

``Neuron``, ``Layer`` and ``MLP`` are drop-in for micrograd's classes (same constructors, same
calls, same ``parameters()`` order, same ``repr``). A neuron is three graph nodes, ``dot(w, x)``,
``+ b`` and ``relu``, however many inputs it has. ``engine=`` picks the engine ("rust", the
default, or "reference"), so the same model can run on both and have its gradients compared:

>>> from ferrograd.nn import MLP
>>> model = MLP(2, [16, 16, 1], seed=0)
>>> len(model.parameters())
337
>>> twin = model.to("reference")   # same parameters, pure-Python engine
>>> model([1.0, -2.0]).data == twin([1.0, -2.0]).data
True

Initialisation follows micrograd: weights uniform in [-1, 1], biases 0, drawn from ``seed`` (an
int or a ``random.Random``), or from Python's global ``random`` state when no seed is given, so
``random.seed(1337)`` before ``MLP(...)`` gives micrograd's very weights.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ferrograd import _checks, _core, _engines
from ferrograd._checks import LearningRate, adam_hyperparameters
from ferrograd._checks import number as _number
from ferrograd._engines import Engine
from ferrograd.training import CompiledLoss, FlatAdam, FlatAdamW, FlatSGD

if TYPE_CHECKING:  # checkers ship typing_extensions; the package does not need it
    from typing_extensions import Self

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "CompiledLoss",
    "FlatAdam",
    "FlatAdamW",
    "FlatSGD",
    "Layer",
    "Module",
    "Neuron",
    "cross_entropy",
    "hinge_loss",
    "l2_penalty",
    "log_softmax",
    "mse_loss",
    "resolve_engine",
]

# A Value of either engine: ``ferrograd.Value`` or ``ferrograd.reference.Value``.
AnyValue = Any
Seed = Union[int, random.Random, None]


# ------------------------------------------------------------------------------------------------
# Engines.
# ------------------------------------------------------------------------------------------------


# ``Engine``, ``RUST`` and the resolution of ``engine=`` are the package's one registry's.
RUST = _engines.RUST


def resolve_engine(engine: str | ModuleType | Engine | None = None) -> Engine:
    """The engine named by ``engine``: ``None``, ``"rust"`` or ``"ferrograd"`` (the Rust core),
    ``"reference"`` (the pure-Python twin), or a module with ``Value``, ``sum`` and ``dot``
    (``ferrograd``, ``ferrograd.reference``). ``ValueError`` for an unknown name, ``TypeError``
    for anything else."""
    return _engines.resolve(engine)


_engine_of = _engines.of


# The module ``random`` itself is how a Layer hands the global state on to its neurons.
def _rng(seed: Seed | ModuleType) -> random.Random | ModuleType:
    if seed is None or seed is random:
        return random  # the global state, as micrograd draws from it
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or a random.Random, got {type(seed).__name__}")
    return random.Random(int(seed))


def _inputs(x: object, nin: int, engine: Engine) -> list[Any]:
    """``x`` as a list of ``nin`` floats or Values of ``engine``, checked once per call."""
    items: list[Any]
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"expected a 1-d array of {nin} inputs, got shape {x.shape}")
        items = x.tolist()
    elif isinstance(x, tuple):
        items = list(x)
    elif isinstance(x, list):
        items = x
    else:
        if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
            raise TypeError(f"expected a sequence of {nin} inputs, got {type(x).__name__}")
        items = list(x)
    if len(items) != nin:
        raise ValueError(f"expected {nin} inputs, got {len(items)}")
    for v in items:
        if not isinstance(v, (float, int, engine.Value)) and isinstance(
            v, (_core.Value, _engines.REFERENCE.Value)
        ):
            raise TypeError(
                f"input is a {type(v).__module__}.Value but the model runs on the "
                f"{engine.name} engine"
            )
    return items


# ------------------------------------------------------------------------------------------------
# Modules.
# ------------------------------------------------------------------------------------------------


class Module:
    """Anything with parameters: ``parameters()`` lists them, ``zero_grad()`` clears their grads."""

    engine: Engine = RUST

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0.0 (``backward()`` adds to grads, so call this
        between steps)."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[AnyValue]:
        """The parameters, as the Values that ``backward()`` fills (none for a bare Module)."""
        return []

    def state_dict(self) -> dict[str, float | list[float]]:
        """The parameters' values as a plain dict, JSON-serialisable: ``name -> float`` for a
        Value attribute, ``name -> [floats]`` for a list of Values, with dotted names into
        sub-modules (``"layers.0.neurons.1.w"``), in attribute order."""
        state: dict[str, float | list[float]] = {}
        for name, held in _named_state(self, ""):
            state[name] = held.data if _is_value(held) else [p.data for p in held]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Sets every parameter's ``data`` from ``state`` (as :meth:`state_dict` gives it).

        All or nothing: ``KeyError`` naming the missing or extra keys, ``ValueError`` naming a
        key whose shape differs (a number for a list, a list of another length), ``TypeError``
        for a non-number; nothing is changed unless every entry fits.
        """
        if not isinstance(state, dict):
            raise TypeError(f"load_state_dict() needs a dict, got {type(state).__name__}")
        named = dict(_named_state(self, ""))
        missing = [k for k in named if k not in state]
        extra = [k for k in state if k not in named]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unexpected key(s) {', '.join(map(repr, extra))}")
            raise KeyError(f"load_state_dict(): {'; '.join(parts)}")
        updates: list[tuple[AnyValue, float]] = []
        for key, held in named.items():
            given = state[key]
            single = _is_value(held)
            want = () if single else (len(held),)
            try:
                shape = np.shape(given)
            except ValueError:  # ragged nesting
                shape = None
            if shape != want:
                what = "one number" if single else f"a list of {len(held)} numbers"
                got = f"shape {shape}" if shape is not None else "a ragged sequence"
                raise ValueError(f"load_state_dict(): {key!r} is {what}, got {got}")
            if single:
                updates.append((held, _number(given, f"state {key!r}")))
            else:
                updates.extend((p, _number(x, f"state {key!r}")) for p, x in zip(held, given))
        for p, x in updates:
            p.data = x

    def to(self, engine: str | ModuleType | Engine) -> Self:
        """A copy of this model on ``engine``: same shape, same parameter values, grads 0."""
        clone = self._blank(resolve_engine(engine))
        for p, q in zip(self.parameters(), clone.parameters()):
            q.data = p.data
        return clone

    def _blank(self, engine: Engine) -> Self:
        raise NotImplementedError(f"{type(self).__name__} cannot be copied to another engine")

    def flat_parameters(self) -> np.ndarray:
        """The parameters' values as one new float64 array, in ``parameters()`` order."""
        from ferrograd.training import flat_parameters

        return flat_parameters(self)

    def set_flat_parameters(self, values: object) -> None:
        """Write ``values`` (one number per parameter, ``parameters()`` order) into the model."""
        from ferrograd.training import set_flat_parameters

        set_flat_parameters(self, values)

    def compile_loss(
        self,
        X: object,
        y: object,
        loss: str = "hinge",
        l2: float = 0.0,
        method: str = "examples",
        threads: int | None = 1,
    ) -> CompiledLoss:
        """This model's loss over the dataset ``(X, y)``, recorded once as tapes whose inputs
        are the flat parameters: see :func:`ferrograd.training.compile_loss`."""
        from ferrograd.training import compile_loss

        return compile_loss(self, X, y, loss=loss, l2=l2, method=method, threads=threads)


def _is_value(x: object) -> bool:
    return isinstance(x, (_core.Value, _engines.REFERENCE.Value))


def _named_state(module: Module, prefix: str) -> list[tuple[str, Any]]:
    """``(name, Value or list of Values)`` for each parameter-holding attribute, recursing into
    sub-modules and lists of them."""
    out: list[tuple[str, Any]] = []
    for name, attr in vars(module).items():
        if name.startswith("_"):
            continue
        key = prefix + name
        if _is_value(attr):
            out.append((key, attr))
        elif isinstance(attr, Module):
            out.extend(_named_state(attr, key + "."))
        elif isinstance(attr, (list, tuple)) and attr:
            if all(_is_value(x) for x in attr):
                out.append((key, list(attr)))
            elif all(isinstance(x, Module) for x in attr):
                for i, sub in enumerate(attr):
                    out.extend(_named_state(sub, f"{key}.{i}."))
    return out


class Neuron(Module):
    """``relu(w · x + b)``, or ``w · x + b`` when ``nonlin`` is false: three graph nodes.

    ``w`` is ``nin`` weights drawn uniformly from [-1, 1] (from ``seed``: an int, a
    ``random.Random``, or the global ``random`` state when None); ``b`` starts at 0.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        seed: Seed = None,
        engine: str | ModuleType | Engine | None = None,
    ) -> None:
        nin = _checks.count(nin, "nin")
        self.engine = resolve_engine(engine)
        rng = _rng(seed)
        Value = self.engine.Value
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = bool(nonlin)

    def __call__(self, x: Sequence[Any] | np.ndarray) -> AnyValue:
        """The neuron's output for inputs ``x`` (floats, Values of this engine, or a 1-d array)."""
        return self._forward(_inputs(x, len(self.w), self.engine))

    def _forward(self, x: list[Any]) -> AnyValue:
        act = self.engine.dot(self.w, x) + self.b
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[AnyValue]:
        """The weights, then the bias."""
        return [*self.w, self.b]

    def _blank(self, engine: Engine) -> Neuron:
        return Neuron(len(self.w), self.nonlin, seed=0, engine=engine)

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; ``kwargs`` go to each ``Neuron``.

    Calling it gives a list of ``nout`` Values, or one Value when ``nout`` is 1 (as micrograd).
    """

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        nout = _checks.count(nout, "nout")
        kwargs["seed"] = _rng(kwargs.get("seed"))  # one stream, so neurons differ
        kwargs["engine"] = self.engine = resolve_engine(kwargs.get("engine"))
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Any] | np.ndarray) -> AnyValue | list[AnyValue]:
        """The outputs for inputs ``x``: a list, or a single Value for a one-neuron layer."""
        out = self._forward(_inputs(x, len(self.neurons[0].w), self.engine))
        return out[0] if len(out) == 1 else out

    def _forward(self, x: list[Any]) -> list[AnyValue]:
        ns = self.neurons
        if self.engine is RUST:
            # The same dot, + and relu nodes, built in one call into the core.
            if type(ns) is list:
                return _core._dense_neurons(ns, x)
            return _core._dense([n.w for n in ns], [n.b for n in ns], [n.nonlin for n in ns], x)
        dot = self.engine.dot
        return [(dot(n.w, x) + n.b).relu() if n.nonlin else dot(n.w, x) + n.b for n in ns]

    def parameters(self) -> list[AnyValue]:
        """Each neuron's parameters in turn (its weights, then its bias)."""
        return [p for n in self.neurons for p in n.parameters()]

    def _blank(self, engine: Engine) -> Layer:
        first = self.neurons[0]
        return Layer(len(first.w), len(self.neurons), nonlin=first.nonlin, seed=0, engine=engine)

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then a layer per entry of ``nouts``.

    Hidden layers are ReLU, the last is linear. Calling it gives one Value when the last layer
    has one neuron, else a list. ``MLP(2, [16, 16, 1])`` has 337 parameters.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        seed: Seed = None,
        engine: str | ModuleType | Engine | None = None,
    ) -> None:
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Iterable):
            raise TypeError(f"nouts must be a list of layer sizes, got {type(nouts).__name__}")
        sizes = [_checks.count(nin, "nin")] + [_checks.count(n, "layer size") for n in nouts]
        if len(sizes) < 2:
            raise ValueError("nouts must list at least one layer size")
        self.engine = resolve_engine(engine)
        rng = _rng(seed)
        last = len(sizes) - 2
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != last, seed=rng, engine=self.engine)
            for i in range(len(sizes) - 1)
        ]

    def __call__(self, x: Sequence[Any] | np.ndarray) -> AnyValue | list[AnyValue]:
        """The output for inputs ``x``: a Value for one output, else a list of Values."""
        x = _inputs(x, len(self.layers[0].neurons[0].w), self.engine)
        if self.engine is RUST and type(self.layers) is list:
            # Every layer in one call into the core, the activations between them kept there.
            x = _core._dense_layers(self.layers, x, Layer, RUST)
        else:
            for layer in self.layers:
                x = layer._forward(x)
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[AnyValue]:
        """Each layer's parameters in turn."""
        return [p for layer in self.layers for p in layer.parameters()]

    def _blank(self, engine: Engine) -> MLP:
        nin = len(self.layers[0].neurons[0].w)
        return MLP(nin, [len(layer.neurons) for layer in self.layers], seed=0, engine=engine)

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ------------------------------------------------------------------------------------------------
# Losses: each builds its result with the engine of the Values it is given.
# ------------------------------------------------------------------------------------------------


def _as_list(values: object, what: str, rows: bool = False) -> list[Any]:
    """``values`` as a list: one item per number, or per row where ``rows`` allows a 2-d batch."""
    if isinstance(values, np.ndarray):
        if values.ndim > (2 if rows else 1):
            raise ValueError(f"{what} has too many dimensions: an array of shape {values.shape}")
        # A 0-d array is one number, as a lone prediction or target is.
        items: list[Any] = (values if values.ndim else values.reshape(1)).tolist()
        return items
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return [values]  # a single prediction
    return list(values)


def _pairs(predictions: object, targets: object, what: str) -> tuple[list[Any], list[Any]]:
    p, t = _as_list(predictions, what), _as_list(targets, what)
    if len(p) != len(t):
        raise ValueError(f"{what} needs as many targets as predictions, got {len(t)} and {len(p)}")
    if not p:
        raise ValueError(f"{what} needs at least one prediction")
    return p, t


def mse_loss(predictions: object, targets: object) -> AnyValue:
    """Mean squared error ``mean((p - t) ** 2)``: one ``dot`` node over the differences.

    ``predictions`` is a Value or a sequence of Values; ``targets`` numbers (or Values) of the
    same length.
    """
    p, t = _pairs(predictions, targets, "mse_loss()")
    engine = _engine_of(p + t)
    diffs = [a - b for a, b in zip(p, t)]
    return engine.dot(diffs, diffs) * (1.0 / len(diffs))


def hinge_loss(scores: object, labels: object) -> AnyValue:
    """SVM max-margin loss ``mean(relu(1 - y * s))`` for labels ``y`` of -1 or +1."""
    s, y = _pairs(scores, labels, "hinge_loss()")
    for label in y:
        if label not in (-1, 1):
            raise ValueError(f"hinge_loss() needs labels of -1 or +1, got {label!r}")
    engine = _engine_of(s)
    s = [v if isinstance(v, engine.Value) else engine.Value(v) for v in s]
    return engine.sum([(1 - label * score).relu() for score, label in zip(s, y)]) * (1.0 / len(s))


def l2_penalty(params: Iterable[AnyValue], alpha: float = 1e-4) -> AnyValue:
    """L2 regularisation ``alpha * sum(p ** 2)``: one ``dot`` node over the parameters."""
    ps = list(params)
    alpha = _checks.nonnegative(alpha, "l2_penalty() alpha")
    return alpha * _engine_of(ps).dot(ps, ps)


def _logits(logits: object) -> tuple[list[Any], Engine]:
    z = _as_list(logits, "logits")
    if not z:
        raise ValueError("log_softmax() needs at least one logit")
    engine = _engine_of(z)
    return [v if isinstance(v, engine.Value) else engine.Value(v) for v in z], engine


def _shift_and_normaliser(z: list[Any], engine: Engine) -> tuple[list[Any], Any]:
    """``z - max(z)`` and ``log(sum(exp(z - max(z))))``: every exponent is <= 0, so nothing
    overflows, and the sum is >= 1, so the log is finite. The shift is a constant, which is
    exact: log-softmax does not change when every logit moves by the same amount."""
    top = max(v.data for v in z)
    shifted = [v - top for v in z]
    return shifted, engine.sum([v.exp() for v in shifted]).log()


def log_softmax(logits: object) -> list[AnyValue]:
    """``z_i - log(sum_j exp(z_j))`` for each logit, computed stably (logits of ±1000 are fine)."""
    z, engine = _logits(logits)
    shifted, lse = _shift_and_normaliser(z, engine)
    return [v - lse for v in shifted]


def cross_entropy(logits: object, target: object) -> AnyValue:
    """Negative log-likelihood of class ``target`` under ``softmax(logits)``, computed stably.

    For a batch, pass a list of logit lists and a list of targets: the result is their mean.
    """
    z = _as_list(logits, "logits", rows=True)
    if z and not isinstance(z[0], (int, float)) and isinstance(z[0], Iterable):
        targets = _as_list(target, "targets")
        if len(targets) != len(z):
            raise ValueError(
                f"cross_entropy() needs one target per sample, got {len(targets)} and {len(z)}"
            )
        losses = [cross_entropy(sample, t) for sample, t in zip(z, targets)]
        return _engine_of(losses).sum(losses) * (1.0 / len(losses))
    z, engine = _logits(z)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(
            f"cross_entropy() needs an integer class index, got {type(target).__name__}"
        )
    if not 0 <= target < len(z):
        raise ValueError(f"class index {target} is out of range for {len(z)} logits")
    shifted, lse = _shift_and_normaliser(z, engine)
    return lse - shifted[int(target)]


# ------------------------------------------------------------------------------------------------
# Optimiser.
# ------------------------------------------------------------------------------------------------


class SGD(LearningRate):
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

    ``step()`` does ``v = momentum * v + grad; p.data -= lr * v`` for every parameter (PyTorch's
    form; with ``momentum=0`` simply ``p.data -= lr * grad``). ``lr`` may be changed between
    steps, for a schedule.
    """

    def __init__(self, params: Iterable[AnyValue], lr: float, momentum: float = 0.0) -> None:
        self.params = _check_params(params, "SGD")
        super().__init__(lr)
        self.momentum = _checks.momentum(momentum)
        self._velocity = [0.0] * len(self.params)

    def step(self) -> None:
        """Move every parameter against its gradient."""
        lr = self._lr
        if self.momentum == 0.0:
            for p in self.params:
                p.data -= lr * p.grad
            return
        mu, velocity = self.momentum, self._velocity
        for i, p in enumerate(self.params):
            v = mu * velocity[i] + p.grad
            velocity[i] = v
            p.data -= lr * v

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0.0."""
        for p in self.params:
            p.grad = 0.0


def _check_params(params: Iterable[AnyValue], who: str) -> list[AnyValue]:
    out = list(params)
    for p in out:
        if not all(hasattr(p, a) for a in ("data", "grad", "backward")):
            raise TypeError(f"{who}() needs Values to update, got {type(p).__name__}")
    return out


class Adam(LearningRate):
    """Adam, with PyTorch's defaults and update rule (``torch.optim.Adam``).

    Per parameter, at step ``t`` with gradient ``g``::

        g = g + weight_decay * p                      (Adam: L2 added to the gradient)
        p = p * (1 - lr * weight_decay)               (AdamW: decoupled weight decay)
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                         (amsgrad only; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    in PyTorch's order of floating-point operations. ``lr`` may be changed between steps.
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[AnyValue],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        who = type(self).__name__
        self.params = _check_params(params, who)
        super().__init__(lr)
        self.betas, self.eps, self.weight_decay = adam_hyperparameters(
            who, betas, eps, weight_decay
        )
        self.amsgrad = bool(amsgrad)
        self.t = 0  # steps taken
        n = len(self.params)
        self._m, self._v, self._v_max = [0.0] * n, [0.0] * n, [0.0] * n

    def step(self) -> None:
        """One Adam step for every parameter, from its current ``grad``."""
        self.t += 1
        lr, (b1, b2), eps, wd = self._lr, self.betas, self.eps, self.weight_decay
        bias1 = 1.0 - b1**self.t
        bias2_sqrt = math.sqrt(1.0 - b2**self.t)
        step_size = lr / bias1
        m, v, v_max = self._m, self._v, self._v_max
        for i, p in enumerate(self.params):
            g = p.grad
            if wd != 0.0:
                if self._decoupled:
                    p.data *= 1.0 - lr * wd
                else:
                    g = g + wd * p.data
            # torch.lerp(m, g, 1 - beta1), in its two forms either side of a weight of 0.5
            w = 1.0 - b1
            m[i] = m[i] + w * (g - m[i]) if w < 0.5 else g - (g - m[i]) * (1.0 - w)
            v[i] = v[i] * b2 + (1.0 - b2) * g * g
            second = v[i]
            if self.amsgrad:
                v_max[i] = second = max(v_max[i], second)
            p.data += -step_size * m[i] / (math.sqrt(second) / bias2_sqrt + eps)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0.0."""
        for p in self.params:
            p.grad = 0.0


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): ``weight_decay`` defaults to
    0.01 and shrinks the parameter, ``p *= 1 - lr * weight_decay``, before the Adam step."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[AnyValue],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
