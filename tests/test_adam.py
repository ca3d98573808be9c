"""nn.Adam and nn.AdamW against optax (float64), step for step on the same gradients; state_dict.

optax's adam/adamw follow the same update rule as torch.optim's when configured alike (Adam's
coupled weight decay is optax's add_decayed_weights before scale_by_adam); torch itself is left
out of the test extra for its size.
"""

from __future__ import annotations

import json
import random

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ferrograd
from ferrograd import _engines, reference
from ferrograd.nn import MLP, SGD, Adam, AdamW, mse_loss

jax.config.update("jax_enable_x64", True)


def gradient_stream(n: int, steps: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) * 10 ** rng.uniform(-3, 1) for _ in range(n)] for _ in range(steps)]


def run_both(ours_factory, theirs, engine, grads, start, rtol=1e-13):
    params = [engine(x) for x in start]
    opt = ours_factory(params)
    jparams = jnp.array(start)
    state = theirs.init(jparams)
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = gi
        opt.step()
        updates, state = theirs.update(jnp.array(g), state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        np.testing.assert_allclose(
            [p.data for p in params], np.asarray(jparams), rtol=rtol, atol=1e-15
        )
    return params


CASES = [
    ("adam defaults", lambda ps: Adam(ps), optax.adam(1e-3)),
    (
        "adam tuned",
        lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
        optax.adam(0.05, b1=0.8, b2=0.99, eps=1e-6),
    ),
    (
        "adam beta1 below one half",  # torch.lerp's other branch
        lambda ps: Adam(ps, lr=0.01, betas=(0.3, 0.9)),
        optax.adam(0.01, b1=0.3, b2=0.9),
    ),
    (
        "adam with L2 weight decay",
        lambda ps: Adam(ps, lr=0.02, weight_decay=0.1),
        optax.chain(optax.add_decayed_weights(0.1), optax.scale_by_adam(), optax.scale(-0.02)),
    ),
    ("adamw defaults", lambda ps: AdamW(ps), optax.adamw(1e-3, weight_decay=1e-2)),
    (
        "adamw tuned",
        lambda ps: AdamW(ps, lr=0.05, betas=(0.85, 0.995), weight_decay=0.3),
        optax.adamw(0.05, b1=0.85, b2=0.995, weight_decay=0.3),
    ),
]


@pytest.mark.parametrize("engine", [ferrograd.Value, reference.Value])
@pytest.mark.parametrize(("name", "ours", "theirs"), CASES, ids=[c[0] for c in CASES])
def test_adam_matches_optax_step_for_step(engine, name, ours, theirs):
    start = [0.5, -1.25, 3.0, 1e-3, -7.5]
    run_both(ours, theirs, engine, gradient_stream(len(start), 60, seed=len(name)), start)


def test_adam_trains_an_mlp_as_optax_does():
    # Gradients from ferrograd's backward, fed to both; the parameters stay together.
    model = MLP(2, [4, 1], seed=3)
    params = model.parameters()
    opt = AdamW(params, lr=0.05)
    adamw = optax.adamw(0.05, weight_decay=1e-2)
    jparams = jnp.array([p.data for p in params])
    state = adamw.init(jparams)
    xs, ys = [[0.5, -1.0], [1.5, 2.0], [-0.3, 0.7]], [1.0, -1.0, 0.5]
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = mse_loss([model(x) for x in xs], ys)
        loss.backward()
        losses.append(loss.data)
        g = jnp.array([p.grad for p in params])
        opt.step()
        updates, state = adamw.update(g, state, jparams)
        jparams = optax.apply_updates(jparams, updates)
        np.testing.assert_allclose([p.data for p in params], np.asarray(jparams), rtol=1e-12)
    assert losses[-1] < losses[0] / 4


def test_amsgrad():
    start = [1.0, -2.0]
    # Gradients growing in size keep v non-decreasing, so AMSGrad is Adam.
    growing = [[0.1 * 1.2**t, -0.05 * 1.3**t] for t in range(30)]
    run_both(lambda ps: Adam(ps, amsgrad=True), optax.adam(1e-3), ferrograd.Value, growing, start)
    # Shrinking gradients: the denominator keeps the largest second moment, which we take from
    # optax's own running moment v.
    shrinking = [[2.0 * 0.7**t, -(0.5**t)] for t in range(30)]
    params = [ferrograd.Value(x) for x in start]
    opt = Adam(params, lr=0.01, amsgrad=True)
    plain = [ferrograd.Value(x) for x in start]
    plain_opt = Adam(plain, lr=0.01)
    moments = optax.scale_by_adam()
    state = moments.init(jnp.zeros(2))
    v_max = np.zeros(2)
    expected = np.array(start)
    for t, g in enumerate(shrinking, start=1):
        for p, q, gi in zip(params, plain, g):
            p.grad = q.grad = gi
        opt.step()
        plain_opt.step()
        _, state = moments.update(jnp.array(g), state)
        mu, nu = np.asarray(state.mu), np.asarray(state.nu)
        v_max = np.maximum(v_max, nu)
        m_hat = mu / (1 - 0.9**t)
        expected = expected - 0.01 * m_hat / (np.sqrt(v_max / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose([p.data for p in params], expected, rtol=1e-13)
    # And it moved less than plain Adam, whose v shrank.
    assert abs(params[0].data - start[0]) < abs(plain[0].data - start[0])


def test_optimiser_arguments_are_checked():
    ps = [ferrograd.Value(1.0)]
    with pytest.raises(TypeError, match="Values to update"):
        Adam([1.0])
    with pytest.raises(ValueError, match="lr"):
        AdamW(ps, lr=-1.0)
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="pair"):
        Adam(ps, betas=0.9)
    with pytest.raises(ValueError, match="eps"):
        Adam(ps, eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(ps, weight_decay=float("nan"))
    opt = AdamW(ps)
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay, opt.amsgrad) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
        1e-2,
        False,
    )
    assert Adam(ps).weight_decay == 0.0
    ps[0].grad = 3.0
    opt.zero_grad()
    assert ps[0].grad == 0.0
    # SGD keeps its API.
    sgd = SGD(ps, lr=0.1, momentum=0.5)
    ps[0].grad = 1.0
    sgd.step()
    assert ps[0].data == pytest.approx(0.9)


@pytest.mark.parametrize("engine", _engines.NAMES)
def test_state_dict_round_trips_through_json(engine):
    model = MLP(3, [4, 2], seed=0, engine=engine)
    state = model.state_dict()
    assert list(state)[:2] == ["layers.0.neurons.0.w", "layers.0.neurons.0.b"]
    assert state["layers.0.neurons.0.w"] == [p.data for p in model.layers[0].neurons[0].w]
    assert sum(len(v) if isinstance(v, list) else 1 for v in state.values()) == len(
        model.parameters()
    )
    other = MLP(3, [4, 2], seed=1, engine="rust")
    other.load_state_dict(json.loads(json.dumps(state)))
    assert [p.data for p in other.parameters()] == [p.data for p in model.parameters()]
    assert other.state_dict() == state


def test_load_state_dict_names_what_is_wrong_and_changes_nothing():
    model = MLP(2, [2, 1], seed=0)
    good = model.state_dict()
    before = [p.data for p in model.parameters()]
    missing = {k: v for k, v in good.items() if k != "layers.1.neurons.0.b"}
    with pytest.raises(KeyError, match="missing key.*'layers.1.neurons.0.b'"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match="unexpected key.*'layers.2.w'"):
        model.load_state_dict({**good, "layers.2.w": [1.0]})
    with pytest.raises(
        ValueError, match=r"'layers.0.neurons.1.w' is a list of 2 numbers, got shape \(3,\)"
    ):
        model.load_state_dict({**good, "layers.0.neurons.1.w": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"'layers.0.neurons.0.b' is one number, got shape \(1,\)"):
        model.load_state_dict({**good, "layers.0.neurons.0.b": [0.0]})
    with pytest.raises(ValueError, match="ragged"):
        model.load_state_dict({**good, "layers.0.neurons.0.w": [[1.0], [2.0, 3.0]]})
    with pytest.raises(TypeError, match="must be a number, got str"):
        model.load_state_dict({**good, "layers.0.neurons.0.b": "0"})
    with pytest.raises(TypeError, match="needs a dict"):
        model.load_state_dict([1.0])
    # The last bad entry came after good ones: still nothing changed.
    assert [p.data for p in model.parameters()] == before
