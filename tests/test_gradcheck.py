"""ferrograd.testing.gradcheck: finite differences against backward()."""

from __future__ import annotations

import math

import pytest

import ferrograd
from ferrograd import _engines, reference
from ferrograd.testing import GradcheckError, GradcheckReport, gradcheck

ENGINES = list(_engines.NAMES)


def seed(x1, x2):
    return x1.log() + x1 * x2 - x2.sin()


def _fused(x, y, z):
    engine = reference if isinstance(x, reference.Value) else ferrograd
    return engine.sum([x, y, z]) * engine.dot([x, y], [z, z])


# (function, point): every op, away from its kinks.
FUNCTIONS = [
    (lambda x, y: x + y * 3 - 2 / x, [1.5, -0.5]),
    (lambda x, y: x**y + 2**x + (-x) ** 2, [1.3, 0.7]),
    (lambda x: x.relu() * 2 + (-x).relu() + abs(x), [0.8]),
    (lambda x: x.leaky_relu(0.2) + (-x).leaky_relu(0.3), [0.6]),
    (lambda x: x.tanh() * x.sigmoid() + x.exp().log(), [0.4]),
    (lambda x: x.sin() * x.cos() + x.tan() + x.sqrt(), [0.9]),
    (_fused, [0.5, -1.5, 2.0]),
    (seed, [2.0, 5.0]),
]


def _wrong_square(x):
    """x ** 2 forward, but its graph says 3·x, so backward() gives 3 instead of 2·x."""
    y = x * 3
    y.data = x.data**2
    return y


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("f", "point"), FUNCTIONS)
def test_correct_gradients_pass(f, point, engine):
    report = gradcheck(f, point, engine=engine)
    assert isinstance(report, GradcheckReport)
    assert report.passed, repr(report)
    assert bool(report)
    assert [r.name for r in report.rows] == [f"x{i}" for i in range(len(point))]


def test_analytic_column_is_backward_and_numeric_column_is_close_to_the_true_derivative():
    report = gradcheck(seed, [2.0, 5.0])
    x1, x2 = report.rows
    # The seed's worked example: d/dx1 = 1/x1 + x2, d/dx2 = x1 - cos x2.
    assert x1.analytic == 5.5
    assert x2.analytic == pytest.approx(2.0 - math.cos(5.0), rel=1e-15)
    assert x1.numeric == pytest.approx(5.5, rel=1e-8)
    assert x2.numeric == pytest.approx(2.0 - math.cos(5.0), rel=1e-8)
    assert report.output == pytest.approx(math.log(2.0) + 10.0 - math.sin(5.0), rel=1e-15)


def test_richardson_step_is_fourth_order():
    # Central differences alone at h = 1e-2 are off by h²/6·cos(1) ≈ 9e-6; combined with h/2
    # the error is O(h⁴) ≈ 1e-11.
    report = gradcheck(lambda x: x.sin(), [1.0], eps=1e-2)
    assert abs(report.rows[0].numeric - math.cos(1.0)) < 1e-9
    plain = (math.sin(1.01) - math.sin(0.99)) / 0.02
    assert abs(plain - math.cos(1.0)) > 1e-6


@pytest.mark.parametrize("engine", ENGINES)
def test_planted_wrong_gradient_is_caught(engine):
    report = gradcheck(lambda a, b: a * b + _wrong_square(b), [1.0, 2.0], engine=engine)
    assert not report.passed
    a, b = report.rows
    assert a.passed and not b.passed
    assert b.analytic == pytest.approx(1.0 + 3.0)  # what the graph says
    assert b.numeric == pytest.approx(1.0 + 4.0, rel=1e-8)  # the true derivative
    assert report.worst is b
    assert "FAIL" in repr(report) and "worst input: x1" in repr(report)


def test_planted_wrong_backward_in_the_engine_is_caught(monkeypatch):
    # A sign error in sin's backward, the kind of bug gradcheck exists for.
    wrong = reference.SIN._replace(backward=lambda x, z, g, p: -math.cos(x) * g)
    monkeypatch.setattr(reference, "SIN", wrong)
    with pytest.raises(GradcheckError) as info:
        gradcheck(seed, [2.0, 5.0], engine="reference", raise_on_fail=True)
    message = str(info.value)
    assert "worst input x1 (index 1)" in message
    assert info.value.report.rows[0].passed
    assert not info.value.report.rows[1].passed
    # The Rust engine, untouched, still passes.
    assert gradcheck(seed, [2.0, 5.0]).passed


def test_raise_on_fail_names_the_worst_of_several_failures():
    f = lambda a, b, c: _wrong_square(a) * 0.01 + _wrong_square(b) + c
    with pytest.raises(GradcheckError, match=r"worst input x1 \(index 1\)"):
        gradcheck(f, [2.0, 2.0, 1.0], raise_on_fail=True)
    assert issubclass(GradcheckError, AssertionError)


def test_non_finite_derivative_fails():
    report = gradcheck(lambda x: x.sqrt(), [0.0])  # sqrt(-h) is nan; 0.5/0 is inf
    assert not report.passed
    assert report.rows[0].badness == math.inf


def test_tolerances_decide():
    # numeric error of a step this coarse is ~1e-4 relative: passes loosely, fails tightly.
    f = lambda x: x.exp()
    assert gradcheck(f, [1.0], eps=0.5, rtol=1e-2).passed
    assert not gradcheck(f, [1.0], eps=0.5, atol=0.0, rtol=1e-8).passed


def test_input_not_used_has_zero_gradient_and_passes():
    report = gradcheck(lambda x, y: x * 2, [1.0, 7.0])
    assert report.passed and report.rows[1].analytic == 0.0 and report.rows[1].numeric == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": 3}, TypeError, "f must be callable"),
        ({"inputs": "12"}, TypeError, "sequence of numbers"),
        ({"inputs": [1.0, "2"]}, TypeError, r"inputs\[1\] must be a real number, got str"),
        ({"inputs": [True]}, TypeError, "got bool"),
        ({"inputs": []}, ValueError, "at least one input"),
        ({"inputs": [math.nan]}, ValueError, "finite"),
        ({"eps": 0.0}, ValueError, "eps must be finite and > 0"),
        ({"eps": "1"}, TypeError, "eps must be a real number"),
        ({"atol": -1.0}, ValueError, "atol"),
        ({"rtol": math.inf}, ValueError, "rtol"),
        ({"engine": "torch"}, ValueError, "'rust' or 'reference'"),
        ({"f": lambda x: 2.0}, TypeError, "must return a ferrograd.Value .* got float"),
        ({"f": lambda x: reference.Value(1.0)}, TypeError, "got Value"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, error, match):
    args = {"f": lambda x: x * x, "inputs": [1.0], **kwargs}
    with pytest.raises(error, match=match):
        gradcheck(args.pop("f"), args.pop("inputs"), **args)


def test_repr_is_a_table_with_every_input():
    text = repr(gradcheck(seed, [2.0, 5.0]))
    lines = text.splitlines()
    assert lines[0].startswith("gradcheck passed")
    assert lines[1].split() == [
        "input",
        "value",
        "analytic",
        "numeric",
        "abs",
        "err",
        "rel",
        "err",
        "check",
    ]
    assert lines[3].split()[:3] == ["x0", "2", "5.5"]
    assert lines[4].split()[0] == "x1" and lines[4].split()[-1] == "ok"
