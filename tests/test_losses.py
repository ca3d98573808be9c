"""Losses and SGD in ferrograd.nn, against closed forms and central finite differences."""

from __future__ import annotations

import math
import random
from typing import Any, Callable

import numpy as np
import pytest

import ferrograd
from ferrograd import nn, reference
from ferrograd.nn import (
    SGD,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    log_softmax,
    mse_loss,
)

ENGINES = [ferrograd, reference]


def leaves(engine: Any, xs: list[float]) -> list[Any]:
    return [engine.Value(x) for x in xs]


def central_difference(f: Callable[[list[float]], float], xs: list[float]) -> list[float]:
    out = []
    for i in range(len(xs)):
        h = 1e-6 * max(1.0, abs(xs[i]))
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        out.append((f(up) - f(down)) / (2 * h))
    return out


def check_gradient(engine: Any, loss: Callable[[list[Any]], Any], xs: list[float]) -> None:
    """The loss's gradient from backward() matches central differences of its forward value."""
    vs = leaves(engine, xs)
    loss(vs).backward()
    numeric = central_difference(lambda p: loss(leaves(engine, p)).data, xs)
    np.testing.assert_allclose([v.grad for v in vs], numeric, rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------------------------------------------
# Mean squared error.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_mse_is_mean_of_squares_with_gradient_2d_over_n(engine: Any) -> None:
    p, t = [0.5, -1.0, 2.0, 3.5], [1.0, -1.0, 0.0, 4.0]
    vs = leaves(engine, p)
    loss = mse_loss(vs, t)
    assert isinstance(loss, engine.Value)
    assert loss.data == pytest.approx(np.mean((np.array(p) - t) ** 2), rel=1e-15)
    loss.backward()
    assert [v.grad for v in vs] == pytest.approx(2 * (np.array(p) - t) / 4, rel=1e-15)
    check_gradient(engine, lambda v: mse_loss(v, t), p)


def test_mse_of_a_single_prediction_and_of_value_targets() -> None:
    assert mse_loss(ferrograd.Value(3.0), 1.0).data == 4.0
    assert mse_loss([ferrograd.Value(3.0)], np.array([1.0])).data == 4.0
    target = ferrograd.Value(2.0)
    loss = mse_loss([ferrograd.Value(5.0)], [target])
    loss.backward()
    assert loss.data == 9.0 and target.grad == -6.0


def test_mse_rejects_mismatched_and_empty() -> None:
    with pytest.raises(ValueError, match="as many targets"):
        mse_loss([ferrograd.Value(1.0)], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least one"):
        mse_loss([], [])


# ------------------------------------------------------------------------------------------------
# Hinge.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_hinge_is_mean_max_margin_with_closed_form_gradient(engine: Any) -> None:
    s, y = [2.0, 0.3, -0.5, -3.0, 0.9], [1.0, 1.0, 1.0, -1.0, -1.0]
    vs = leaves(engine, s)
    loss = hinge_loss(vs, y)
    expected = np.mean([max(0.0, 1 - yi * si) for si, yi in zip(s, y)])
    assert loss.data == pytest.approx(expected, rel=1e-15)
    loss.backward()
    grads = [(-yi / 5 if 1 - yi * si > 0 else 0.0) for si, yi in zip(s, y)]
    assert [v.grad for v in vs] == pytest.approx(grads, rel=1e-15)
    check_gradient(engine, lambda v: hinge_loss(v, y), s)


def test_hinge_accepts_integer_and_array_labels() -> None:
    s = leaves(ferrograd, [0.5, -0.5])
    assert hinge_loss(s, [1, -1]).data == hinge_loss(s, np.array([1.0, -1.0])).data == 0.5


@pytest.mark.parametrize("label", [0, 0.5, 2, float("nan")])
def test_hinge_rejects_labels_other_than_plus_minus_one(label: float) -> None:
    with pytest.raises(ValueError, match="-1 or \\+1"):
        hinge_loss(leaves(ferrograd, [0.5, 1.0]), [1.0, label])


# ------------------------------------------------------------------------------------------------
# L2.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_l2_is_alpha_sum_of_squares_with_gradient_2_alpha_p(engine: Any) -> None:
    p = [0.5, -2.0, 3.0]
    vs = leaves(engine, p)
    loss = l2_penalty(vs, 0.01)
    assert loss.data == pytest.approx(0.01 * (0.25 + 4 + 9), rel=1e-15)
    loss.backward()
    assert [v.grad for v in vs] == pytest.approx([0.01, -0.04, 0.06], rel=1e-15)


@pytest.mark.parametrize("alpha", [-1e-4, float("inf"), float("nan")])
def test_l2_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        l2_penalty(leaves(ferrograd, [1.0]), alpha)


# ------------------------------------------------------------------------------------------------
# Log-softmax and cross-entropy.
# ------------------------------------------------------------------------------------------------


def softmax(z: list[float]) -> np.ndarray:
    e = np.exp(np.array(z) - max(z))
    return e / e.sum()


@pytest.mark.parametrize("engine", ENGINES)
def test_log_softmax_matches_closed_form(engine: Any) -> None:
    z = [0.1, -1.2, 2.5, 0.0]
    out = log_softmax(leaves(engine, z))
    closed = [zi - math.log(math.fsum(math.exp(zj) for zj in z)) for zi in z]
    assert [v.data for v in out] == pytest.approx(closed, rel=1e-14)
    assert math.fsum(math.exp(v.data) for v in out) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize("engine", ENGINES)
def test_log_softmax_gradient_matches_finite_differences(engine: Any) -> None:
    rng = random.Random(4)
    z = [rng.uniform(-3, 3) for _ in range(5)]
    weights = [rng.uniform(-1, 1) for _ in range(5)]
    check_gradient(engine, lambda v: engine.dot(log_softmax(v), weights), z)


@pytest.mark.parametrize("engine", ENGINES)
def test_log_softmax_and_cross_entropy_survive_huge_logits(engine: Any) -> None:
    z = [1000.0, -1000.0, 999.0]
    out = log_softmax(leaves(engine, z))
    expected = [-math.log1p(math.exp(-1.0)), -2000.0 - math.log1p(math.exp(-1.0))]
    expected.insert(2, -1.0 - math.log1p(math.exp(-1.0)))
    assert [v.data for v in out] == pytest.approx(expected, rel=1e-14)
    vs = leaves(engine, z)
    loss = cross_entropy(vs, 1)
    assert loss.data == pytest.approx(2000.0 + math.log1p(math.exp(-1.0)), rel=1e-14)
    loss.backward()
    grads = [v.grad for v in vs]
    assert all(math.isfinite(g) for g in grads)
    assert grads == pytest.approx(softmax(z) - np.eye(3)[1], rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("engine", ENGINES)
def test_cross_entropy_gradient_is_softmax_minus_one_hot(engine: Any) -> None:
    z = [0.3, -0.2, 1.7, 0.0]
    vs = leaves(engine, z)
    loss = cross_entropy(vs, 2)
    assert loss.data == pytest.approx(-math.log(softmax(z)[2]), rel=1e-14)
    loss.backward()
    assert [v.grad for v in vs] == pytest.approx(softmax(z) - np.eye(4)[2], rel=1e-12)
    check_gradient(engine, lambda v: cross_entropy(v, 0), z)


def test_cross_entropy_of_a_batch_is_the_mean() -> None:
    batch = [[0.3, -0.2, 1.7], [2.0, 0.5, -1.0]]
    targets = [2, 0]
    values = [leaves(ferrograd, row) for row in batch]
    loss = cross_entropy(values, targets)
    expected = np.mean([-math.log(softmax(row)[t]) for row, t in zip(batch, targets)])
    assert loss.data == pytest.approx(expected, rel=1e-14)
    loss.backward()
    assert [v.grad for v in values[1]] == pytest.approx((softmax(batch[1]) - np.eye(3)[0]) / 2)


def test_cross_entropy_rejects_bad_targets() -> None:
    z = leaves(ferrograd, [0.0, 1.0])
    with pytest.raises(ValueError, match="out of range"):
        cross_entropy(z, 2)
    with pytest.raises(ValueError, match="out of range"):
        cross_entropy(z, -1)
    with pytest.raises(TypeError, match="integer class index"):
        cross_entropy(z, 1.0)
    with pytest.raises(ValueError, match="one target per sample"):
        cross_entropy([z, z], [0])
    with pytest.raises(ValueError, match="at least one logit"):
        log_softmax([])


# ------------------------------------------------------------------------------------------------
# SGD.
# ------------------------------------------------------------------------------------------------


def test_sgd_step_moves_against_the_gradient() -> None:
    ps = leaves(ferrograd, [1.0, -2.0])
    ps[0].grad, ps[1].grad = 0.5, -4.0
    opt = SGD(ps, lr=0.1)
    opt.step()
    assert [p.data for p in ps] == [1.0 - 0.1 * 0.5, -2.0 - 0.1 * -4.0]
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_sgd_momentum_follows_the_heavy_ball_recurrence(engine: Any) -> None:
    (p,) = leaves(engine, [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    grads = [1.0, 0.5, -2.0]
    expected, v = 1.0, 0.0
    for g in grads:
        p.grad = g
        opt.step()
        v = 0.9 * v + g
        expected -= 0.1 * v
        assert p.data == pytest.approx(expected, rel=1e-15)


def test_sgd_minimises_a_quadratic() -> None:
    x = ferrograd.Value(5.0)
    opt = SGD([x], lr=0.1, momentum=0.5)
    for _ in range(200):
        opt.zero_grad()
        ((x - 3.0) ** 2).backward()
        opt.step()
    assert x.data == pytest.approx(3.0, abs=1e-9)


def test_sgd_lr_can_follow_a_schedule_and_is_checked() -> None:
    opt = SGD([], lr=1.0)
    opt.lr = 0.25
    assert opt.lr == 0.25
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match="lr"):
        SGD([], lr=float("nan"))
    with pytest.raises(ValueError, match="momentum"):
        SGD([], lr=0.1, momentum=1.0)


def test_zero_d_arrays_are_single_numbers():
    # np.array(0.5) is a lone prediction, as 0.5 is: not a "float has no len()" crash.
    assert (
        nn.hinge_loss(np.array(0.5), np.array(1.0)).data
        == nn.hinge_loss(ferrograd.Value(0.5), 1.0).data
    )
    assert nn.mse_loss(ferrograd.Value(0.5), np.array(2.0)).data == 2.25


def test_arrays_with_too_many_dimensions_are_refused():
    with pytest.raises(ValueError, match=r"too many dimensions.*\(1, 1\)"):
        nn.mse_loss([ferrograd.Value(1.0)], np.ones((1, 1)))
    with pytest.raises(ValueError, match="too many dimensions"):
        nn.cross_entropy(np.zeros((2, 2, 2)), [0, 1])


def test_cross_entropy_takes_a_2d_array_of_logits_as_a_batch():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    batch = nn.cross_entropy(logits, np.array([1, 2]))
    each = [nn.cross_entropy(list(row), t) for row, t in zip(logits.tolist(), [1, 2])]
    assert batch.data == pytest.approx((each[0].data + each[1].data) / 2, rel=1e-15)


def test_sgd_refuses_what_it_cannot_update_or_use_as_a_rate():
    with pytest.raises(TypeError, match="SGD.*Values.*float"):
        nn.SGD([1.0], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        nn.SGD([ferrograd.Value(1.0)], lr="a")
    with pytest.raises(TypeError, match="momentum must be a number, got NoneType"):
        nn.SGD([ferrograd.Value(1.0)], lr=0.1, momentum=None)
    opt = nn.SGD([reference.Value(1.0)], lr=np.float32(0.5))
    assert opt.lr == 0.5
