"""The package's one module of argument checks: each mistake reads the same wherever it is made."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ferrograd
from ferrograd import _checks, demo, nn
from ferrograd.datasets import make_moons
from ferrograd.parallel import grad_batch
from ferrograd.testing import compare_engines, gradcheck

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0.0, 0.0, 0.0),
        (0.0, -0.0, 0.0),
        (NAN, NAN, 0.0),  # two NaNs agree
        (1.0, NAN, INF),  # one NaN alone does not
        (NAN, 1.0, INF),
        (INF, INF, 0.0),
        (INF, -INF, INF),
        (INF, 1e308, INF),
        (-2.0, 2.0, 2.0),
        (3.0, 4.0, 0.25),
    ],
)
def test_relative_difference_has_one_nan_rule(a: float, b: float, expected: float) -> None:
    assert _checks.relative_difference(a, b) == expected
    assert _checks.relative_difference(b, a) == expected
    assert demo.relative_difference(a, b) == expected


def test_compare_engines_reports_two_nans_as_agreeing_and_the_demo_agrees() -> None:
    # log of a negative number is NaN on both engines, and so are the grads that flow through it.
    report = compare_engines(lambda x: (x.log() * x).log(), [-1.0])
    assert report.agree, report
    assert report.max_rel_diff == 0.0


@pytest.mark.parametrize("bad", [True, "1", None, 1j, [1.0]])
def test_one_rule_for_real_numbers(bad: object) -> None:
    name = type(bad).__name__
    with pytest.raises(TypeError, match=f"lr must be a number, got {name}"):
        nn.SGD([], lr=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"eps must be a real number, got {name}"):
        gradcheck(lambda x: x, [1.0], eps=bad)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=f"make_moons\\(\\) noise must be a real number, got {name}"
    ):
        make_moons(10, noise=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "error"), [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_one_rule_for_counts(bad: object, error: type[Exception]) -> None:
    tape = ferrograd.compile(lambda x, y: x * y, 2)
    pool = ThreadPoolExecutor(1)
    for call, what in [
        (lambda: nn.MLP(bad, [1]), "nin"),  # type: ignore[arg-type]
        (lambda: ferrograd.compile(lambda x: x, bad), "compile\\(\\) n_inputs"),  # type: ignore[arg-type]
        (lambda: tape.grad_batch(np.ones((2, 2)), threads=bad), "threads"),  # type: ignore[arg-type]
        (lambda: grad_batch(tape, np.ones((2, 2)), pool, chunks=bad), "chunks"),  # type: ignore[arg-type]
    ]:
        message = f"{what} must be an int" if error is TypeError else f"{what} must be >= 1"
        with pytest.raises(error, match=message):
            call()
    pool.shutdown()


def test_an_array_of_non_numbers_is_both_a_type_and_a_value_error() -> None:
    tape = ferrograd.compile(lambda x, y: x * y, 2)
    for call in (lambda: tape.grad(["a", "b"]), lambda: tape.grad_batch([["a", "b"]])):
        with pytest.raises(TypeError, match="real numbers, got dtype"):
            call()
        with pytest.raises(ValueError, match="real numbers, got dtype"):
            call()
