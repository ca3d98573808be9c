"""Training through compiled tapes: a model's loss over a dataset as one call into Rust per step.

``model.compile_loss(X, y, loss="hinge", l2=1e-4)`` records the loss once and returns a
:class:`CompiledLoss`. Its inputs are the model's parameters as one flat float64 array (in
``model.parameters()`` order), so a training step creates no Python object per graph node:

>>> import numpy as np
>>> from ferrograd.datasets import make_moons
>>> from ferrograd.nn import MLP, FlatSGD
>>> X, y = make_moons(100, noise=0.1, seed=0)
>>> model = MLP(2, [16, 16, 1], seed=0)
>>> loss = model.compile_loss(X, y, loss="hinge", l2=1e-4)
>>> theta = model.flat_parameters()
>>> optimiser = FlatSGD(theta, lr=0.5)
>>> for _ in range(3):
...     value, grad = loss.value_and_grad(theta)
...     optimiser.step(grad)             # updates theta in place
>>> model.set_flat_parameters(theta)     # back into the model's Values

Two tapes are recorded:

* the **example tape**, one example's loss term with the parameters *and that example's
  features and target* as inputs. :meth:`CompiledLoss.value_and_grad` runs it over the rows in
  lanes with ``Tape.grad_sum_into``: the parameters are loaded once, not once per row, and the
  rows' gradients are summed inside Rust, so a step over the whole dataset or over a minibatch
  (``rows=``) is one call. :meth:`CompiledLoss.per_example` gives every row's loss term and
  gradient in one ``grad_batch`` call;
* with ``method="dataset"``, also the **dataset tape**: the whole loss (every example, the
  mean, the L2 term) with the data as constants, which the full-batch ``value_and_grad`` then
  runs instead, in one reverse sweep. It performs the same operations in the same order as the
  graph's ``backward()``, so its loss and gradient equal the graph path's bit for bit (the
  example tape's sum over rows is in another order: equal to about 1e-16). It grows with the
  dataset and runs one point at a time, without lanes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ferrograd import _checks, _core
from ferrograd._checks import LearningRate, adam_hyperparameters

if TYPE_CHECKING:
    from ferrograd.nn import Module

__all__ = [
    "LOSSES",
    "CompiledLoss",
    "FlatAdam",
    "FlatAdamW",
    "FlatSGD",
    "compile_loss",
    "flat_grads",
    "flat_parameters",
    "set_flat_parameters",
]

LOSSES = ("hinge", "mse")
"""The losses :func:`compile_loss` knows: ``"hinge"`` (labels ±1) and ``"mse"``."""


# A batch call into the tape moves ``8 × rows × n_inputs`` bytes in and out; past about 128 KiB
# the allocator hands out fresh pages every call and the page faults cost more than the
# arithmetic, so rows go in chunks of whole lane blocks (32 rows) that stay under this size.
_CHUNK_BYTES = 96 * 1024
_LANES = 32


# ------------------------------------------------------------------------------------------------
# Parameters as one flat array.
# ------------------------------------------------------------------------------------------------


def flat_parameters(model: Module) -> np.ndarray:
    """The values of ``model.parameters()`` as a new float64 array, in that order."""
    out: np.ndarray = np.array([p.data for p in model.parameters()], dtype=np.float64)
    return out


def flat_grads(model: Module) -> np.ndarray:
    """The ``grad`` of every parameter of ``model`` as a new float64 array."""
    out: np.ndarray = np.array([p.grad for p in model.parameters()], dtype=np.float64)
    return out


def set_flat_parameters(model: Module, values: object) -> None:
    """Write ``values`` (one number per parameter, ``parameters()`` order) into ``model``."""
    params = model.parameters()
    for p, x in zip(params, _checks.vector(values, len(params), "values").tolist()):
        p.data = x


# ------------------------------------------------------------------------------------------------
# Tracing a model on tape inputs.
# ------------------------------------------------------------------------------------------------


def _traced_forward(
    model: Module,
) -> tuple[list[_core.Value], Callable[[list[Any]], Any], int | None]:
    """Fresh placeholder Values for the parameters, ``forward(x)`` computing the model's output
    from them, and the number of inputs it takes (None when unknown).

    An MLP's neuron is one ``dot(w ++ [b], x ++ [1.0])`` node: the same floats as
    ``dot(w, x) + b`` (``b * 1.0`` is ``b`` exactly, and is added last), one node fewer."""
    from ferrograd.nn import MLP, Layer

    clone = model.to("rust")
    theta: list[_core.Value] = clone.parameters()
    layers = clone.layers if isinstance(clone, MLP) else [clone] if isinstance(clone, Layer) else []
    if not layers:
        call: Callable[[list[Any]], Any] = clone  # type: ignore[assignment]
        return theta, call, None
    one = _core.Value(1.0)

    def forward(x: list[Any]) -> Any:
        for layer in layers:
            out = []
            for n in layer.neurons:
                act = _core.dot([*n.w, n.b], [*x, one])
                out.append(act.relu() if n.nonlin else act)
            x = out
        return x[0] if len(x) == 1 else x

    return theta, forward, len(layers[0].neurons[0].w)


def _one_output(out: object) -> _core.Value:
    if isinstance(out, _core.Value):
        return out
    count = f"{len(out)} outputs" if isinstance(out, list) else f"a {type(out).__name__}"
    raise ValueError(f"compile_loss() needs a model with one output per example, got {count}")


def _term(loss: str, score: _core.Value, target: _core.Value) -> _core.Value:
    """One example's loss term, as the matching ``nn`` loss computes it before the mean."""
    if loss == "hinge":
        return (1 - target * score).relu()
    d = score - target
    return d * d


def _dataset(X: object, y: object, loss: str) -> tuple[np.ndarray, np.ndarray]:
    xs = _checks.real_array(X, "X")
    if xs.ndim != 2 or xs.shape[0] < 1 or xs.shape[1] < 1:
        raise ValueError(f"X must have shape (examples, features), got {xs.shape}")
    ys = _checks.real_array(y, "y")
    if ys.shape != (xs.shape[0],):
        raise ValueError(f"y must have shape ({xs.shape[0]},), one target per row, got {ys.shape}")
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    if loss == "hinge" and not np.all((ys == 1.0) | (ys == -1.0)):
        raise ValueError("the hinge loss needs labels of -1 or +1")
    return xs, ys


def compile_loss(
    model: Module,
    X: object,
    y: object,
    loss: str = "hinge",
    l2: float = 0.0,
    method: str = "examples",
    threads: int | None = 1,
) -> CompiledLoss:
    """Record ``model``'s loss over the dataset ``(X, y)`` as tapes whose inputs are the
    parameters; see :class:`CompiledLoss`.

    ``X`` has shape ``(m, features)`` and ``y`` shape ``(m,)``. ``loss`` is ``"hinge"``
    (``nn.hinge_loss``: mean of ``relu(1 - y * score)``, labels ±1) or ``"mse"``
    (``nn.mse_loss``); ``l2`` adds ``nn.l2_penalty(parameters, l2)``. The model needs one output
    per example. ``method`` is ``"examples"`` (the default) or ``"dataset"`` (module docstring).
    ``threads`` is how many threads a batch over the rows may use (None: one per core; a batch
    too small to pay for a thread stays on one); the summed gradient's last bits depend on it.
    The model's current parameter values do not matter: the tapes take them as inputs.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: use one of {', '.join(map(repr, LOSSES))}")
    if method not in ("dataset", "examples"):
        raise ValueError(f"unknown method {method!r}: use 'examples' or 'dataset'")
    from ferrograd.tape import _threads

    threads = _threads(threads)
    if isinstance(l2, bool) or not isinstance(l2, (int, float, np.floating, np.integer)):
        raise TypeError(f"l2 must be a number, got {type(l2).__name__}")
    alpha = float(l2)
    if not math.isfinite(alpha) or alpha < 0.0:
        raise ValueError(f"l2 must be a finite number >= 0, got {alpha}")
    xs, ys = _dataset(X, y, loss)
    d = xs.shape[1]
    theta, forward, nin = _traced_forward(model)
    if nin is not None and d != nin:
        raise ValueError(f"X has {d} features per row but the model takes {nin} inputs")
    n_params = len(theta)

    # The example tape: parameters, then one example's features and target.
    data = [_core.Value(v, f"x{i}") for i, v in enumerate(xs[0].tolist())]
    target = _core.Value(float(ys[0]), "y")
    score = _one_output(forward(data))
    example = _core.Tape.record([*theta, *data, target], _term(loss, score, target))
    scores = _core.Tape.record([*theta, *data], score)

    dataset: _core.Tape | None = None
    if method == "dataset":
        from ferrograd import nn

        outs = [_one_output(forward(row)) for row in xs.tolist()]
        total = nn.hinge_loss(outs, ys.tolist()) if loss == "hinge" else nn.mse_loss(outs, ys)
        if alpha != 0.0:
            total = total + nn.l2_penalty(theta, alpha)
        dataset = _core.Tape.record(theta, total)
    return CompiledLoss(n_params, xs, ys, loss, alpha, example, scores, dataset, threads)


# ------------------------------------------------------------------------------------------------
# The compiled loss.
# ------------------------------------------------------------------------------------------------


def _chunks(m: int, n_inputs: int) -> Iterable[slice]:
    step = max(_LANES, (_CHUNK_BYTES // (8 * n_inputs)) // _LANES * _LANES)
    return (slice(s, min(s + step, m)) for s in range(0, m, step))


class CompiledLoss:
    """A model's loss over a dataset, recorded once; made by :func:`compile_loss` (or
    ``Module.compile_loss``). Every method takes the parameters ``theta`` as one flat array.

    The loss is ``mean(term(score_i, y_i)) + l2 * sum(theta ** 2)`` with ``term`` the hinge
    ``relu(1 - y * s)`` or the squared error ``(s - y) ** 2``.
    """

    def __init__(
        self,
        n_params: int,
        X: np.ndarray,
        y: np.ndarray,
        loss: str,
        l2: float,
        example: _core.Tape,
        scores: _core.Tape,
        dataset: _core.Tape | None,
        threads: int | None = 1,
    ) -> None:
        self.n_params = n_params
        self.X, self.y = X, y
        self.loss, self.l2 = loss, l2
        self._example, self._scores, self._dataset = example, scores, dataset
        self.threads = threads
        # The example tape's data columns, as the core reads them in place.
        self._data = _checks.in_place(np.column_stack([X, y]))

    @property
    def n_examples(self) -> int:
        """Rows in the dataset."""
        return int(self.X.shape[0])

    @property
    def method(self) -> str:
        """How the full-batch :meth:`value_and_grad` runs: ``"dataset"`` or ``"examples"``."""
        return "dataset" if self._dataset is not None else "examples"

    def __repr__(self) -> str:
        return (
            f"CompiledLoss(loss={self.loss!r}, l2={self.l2:g}, n_params={self.n_params}, "
            f"n_examples={self.n_examples}, method={self.method!r})"
        )

    def _theta(self, theta: object) -> np.ndarray:
        return _checks.vector(theta, self.n_params, "theta")

    def _rows(self, rows: object) -> np.ndarray | None:
        if rows is None:
            return None
        index = np.asarray(rows)
        if index.size == 0:
            raise ValueError("rows selects no examples")
        if index.dtype == bool:
            if index.shape != (self.n_examples,):
                raise ValueError(f"a boolean row mask must have shape ({self.n_examples},)")
            index = np.flatnonzero(index)
        elif index.dtype.kind not in "iu" or index.ndim != 1:
            raise TypeError("rows must be a 1-d array of row indices or a boolean mask")
        if index.size == 0:
            raise ValueError("rows selects no examples")
        if index.min() < -self.n_examples or index.max() >= self.n_examples:
            raise IndexError(f"a row index is out of range for {self.n_examples} examples")
        out: np.ndarray = index
        return out

    def _batch(self, tape: _core.Tape, theta: np.ndarray, data: np.ndarray, grads: bool) -> Any:
        """``tape`` over rows ``[theta | data_i]``, in chunks of whole lane blocks."""
        m, n = data.shape[0], self.n_params + data.shape[1]
        values = np.empty(m)
        per_row = np.empty((m, self.n_params)) if grads else None
        rows = min(m, next(iter(_chunks(m, n))).stop)
        block = np.empty((rows, n))
        block[:, : self.n_params] = theta
        block_grads = np.empty((rows, n)) if grads else None
        for part in _chunks(m, n):
            k = part.stop - part.start
            block[:k, self.n_params :] = data[part]
            # values[part] is a contiguous slice of values: the core writes it in place.
            if block_grads is not None:
                tape.grad_batch_into(block[:k], values[part], block_grads[:k], 1)
                per_row[part] = block_grads[:k, : self.n_params]  # type: ignore[index]
            else:
                tape.eval_batch_into(block[:k], values[part], 1)
        return (values, per_row) if grads else values

    def per_example(self, theta: object, rows: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Every example's loss term (``relu(1 - y s)`` or ``(s - y) ** 2``, before the mean and
        without the L2 term) and its gradient with respect to ``theta``: shapes ``(m,)`` and
        ``(m, n_params)``, for the rows ``rows`` (indices or a boolean mask; default all).

        One small tape of one example, run over the rows in lanes by ``grad_batch``."""
        index = self._rows(rows)
        data = self._data if index is None else self._data[index]
        values, grads = self._batch(self._example, self._theta(theta), data, grads=True)
        return values, grads

    def _sum(self, params: np.ndarray, rows: object) -> tuple[float, np.ndarray, np.ndarray]:
        """The loss (as :meth:`_mean` computes it), each selected row's loss term, and the
        gradient of the loss (the mean of the terms plus the L2 term), from one call."""
        index = self._rows(rows)
        data = self._data if index is None else _checks.in_place(self._data[index])
        shared = _checks.in_place(params)
        values, grad = np.empty(len(data)), np.empty(self.n_params)
        total = self._example.grad_sum_into(
            shared, data, values, grad, self.threads, 1.0 / len(data), self.l2
        )
        return self._mean(params, values, total), values, grad

    def _mean(self, params: np.ndarray, values: np.ndarray, total: float | None = None) -> float:
        """The loss from each row's term: their mean (summed exactly: ``total`` when the core
        has summed them, as ``math.fsum`` would), plus the L2 term."""
        if total is None:
            total = math.fsum(values.tolist())
        value = total * (1.0 / len(values))
        if self.l2 != 0.0:
            value += self.l2 * float(np.dot(params, params))
        return value

    def value_and_grad(self, theta: object, rows: object = None) -> tuple[float, np.ndarray]:
        """The loss at ``theta`` and its gradient (shape ``(n_params,)``), in one call into
        Rust: over the whole dataset, or over the examples ``rows`` (indices or a boolean mask)
        when given, a minibatch. With ``method="dataset"`` the full batch runs the dataset tape.
        """
        params = self._theta(theta)
        if rows is None and self._dataset is not None:
            value, grads = self._dataset.grad(params.tolist())
            return value, np.array(grads)
        value, _, grad = self._sum(params, rows)
        return value, grad

    def value_grad_terms(
        self, theta: object, rows: object = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """:meth:`value_and_grad` (always through the example tape) and each row's loss term,
        from the same call: a hinge term below 1 is a row whose margin ``y * s`` is positive,
        so accuracy costs nothing more."""
        params = self._theta(theta)
        value, values, grad = self._sum(params, rows)
        return value, grad, values

    def __call__(self, theta: object, rows: object = None) -> float:
        """The loss at ``theta`` (over ``rows`` when given)."""
        params = self._theta(theta)
        if rows is None and self._dataset is not None:
            return self._dataset.eval(params.tolist())
        index = self._rows(rows)
        data = self._data if index is None else self._data[index]
        return self._mean(params, self._batch(self._example, params, data, False))

    def scores(self, theta: object, X: object = None) -> np.ndarray:
        """The model's output at every row of ``X`` (default: the training data), shape
        ``(m,)``, from a tape of one example run over the rows in lanes."""
        xs = self.X if X is None else np.asarray(X, dtype=np.float64)
        if xs.ndim != 2 or xs.shape[1] != self.X.shape[1]:
            raise ValueError(f"X must have shape (m, {self.X.shape[1]}), got {xs.shape}")
        out: np.ndarray = self._batch(self._scores, self._theta(theta), xs, grads=False)
        return out


# ------------------------------------------------------------------------------------------------
# Optimisers on flat arrays.
# ------------------------------------------------------------------------------------------------


def _params_array(params: object, who: str) -> np.ndarray:
    if not isinstance(params, np.ndarray) or params.dtype != np.float64 or params.ndim != 1:
        raise TypeError(f"{who}() updates a 1-d float64 numpy array in place")
    if not params.flags.writeable:
        raise ValueError(f"{who}() needs a writeable array")
    return params


class FlatSGD(LearningRate):
    """``nn.SGD`` on a flat float64 array: ``step(grad)`` does ``v = momentum * v + grad;
    params -= lr * v`` in place, the same floats as ``nn.SGD`` on the model's Values."""

    def __init__(self, params: np.ndarray, lr: float, momentum: float = 0.0) -> None:
        self.params = _params_array(params, "FlatSGD")
        super().__init__(lr)
        self.momentum = _checks.momentum(momentum)
        self._velocity = np.zeros_like(self.params)

    def step(self, grad: object) -> None:
        """Move ``params`` against ``grad`` (shape ``params.shape``)."""
        g = _checks.vector(grad, self.params.size, "grad")
        if _core._sgd_step(self.params, g, self._velocity, self._lr, self.momentum):
            return  # the same floats as below, without a temporary array
        if self.momentum == 0.0:
            self.params -= self._lr * g
            return
        v = self._velocity
        v *= self.momentum
        v += g
        self.params -= self._lr * v


class FlatAdam(LearningRate):
    """Adam on a flat float64 array, with PyTorch's defaults and update rule
    (``torch.optim.Adam``), vectorised: per element, at step ``t`` with gradient ``g``::

        g = g + weight_decay * p                      (Adam: L2 added to the gradient)
        p = p * (1 - lr * weight_decay)               (AdamW: decoupled weight decay)
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                         (amsgrad only; v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params: np.ndarray,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        who = type(self).__name__
        self.params = _params_array(params, who)
        super().__init__(lr)
        self.betas, self.eps, self.weight_decay = adam_hyperparameters(
            who, betas, eps, weight_decay
        )
        self.amsgrad = bool(amsgrad)
        self.t = 0
        self._m = np.zeros_like(self.params)
        self._v = np.zeros_like(self.params)
        self._v_max = np.zeros_like(self.params)

    def step(self, grad: object) -> None:
        """One Adam step of ``params`` from ``grad``, in place."""
        g = _checks.vector(grad, self.params.size, "grad")
        self.t += 1
        p, lr, (b1, b2), eps, wd = self.params, self._lr, self.betas, self.eps, self.weight_decay
        bias1 = 1.0 - b1**self.t
        bias2_sqrt = math.sqrt(1.0 - b2**self.t)
        step_size = lr / bias1
        w = 1.0 - b1
        if _core._adam_step(
            p,
            g,
            self._m,
            self._v,
            self._v_max,
            -step_size,
            bias2_sqrt,
            eps,
            w,
            b2,
            1.0 - lr * wd if wd != 0.0 and self._decoupled else None,
            wd if wd != 0.0 and not self._decoupled else None,
            self.amsgrad,
        ):
            return  # the same floats as below, in place, without a temporary array
        if wd != 0.0:
            if self._decoupled:
                p *= 1.0 - lr * wd
            else:
                g = g + wd * p
        # torch.lerp(m, g, 1 - beta1), in its two forms either side of a weight of 0.5
        m = self._m + w * (g - self._m) if w < 0.5 else g - (g - self._m) * (1.0 - w)
        self._m = m
        self._v = v = self._v * b2 + (1.0 - b2) * g * g
        if self.amsgrad:
            self._v_max = v = np.maximum(self._v_max, v)
        p += -step_size * m / (np.sqrt(v) / bias2_sqrt + eps)


class FlatAdamW(FlatAdam):
    """:class:`FlatAdam` with decoupled weight decay (``torch.optim.AdamW``): ``weight_decay``
    defaults to 0.01 and shrinks the parameters, ``p *= 1 - lr * weight_decay``, first."""

    _decoupled = True

    def __init__(
        self,
        params: np.ndarray,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
