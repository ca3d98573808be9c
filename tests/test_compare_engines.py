"""ferrograd.testing.compare_engines and ``python -m ferrograd compare``."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

import ferrograd
from ferrograd import reference
from ferrograd.__main__ import main
from ferrograd.cli.expression import FUNCTIONS, ExpressionError, parse_expression
from ferrograd.testing import EngineComparison, compare_engines


def seed(x, y):
    return x.log() + x * y - y.sin()


def test_seed_example_agrees_node_by_node():
    report = compare_engines(seed, {"x": 2.0, "y": 5.0})
    assert isinstance(report, EngineComparison)
    assert report.agree and bool(report) and report.first_divergence is None
    assert [(r.op, r.label) for r in report.rows] == [
        ("", "x"),
        ("log", ""),
        ("", "y"),
        ("*", ""),
        ("+", ""),
        ("sin", ""),
        ("-", ""),
    ]
    # Operands come first, and point at the right rows.
    assert [r.children for r in report.rows] == [(), (0,), (), (0, 2), (1, 3), (2,), (4, 5)]
    x, y = report.rows[0], report.rows[2]
    assert x.rust_grad == x.reference_grad == 5.5
    assert y.rust_grad == pytest.approx(2.0 - math.cos(5.0), rel=1e-15)
    assert report.rows[-1].rust_data == pytest.approx(math.log(2) + 10 - math.sin(5), rel=1e-15)
    assert "engines agree on all 7 nodes" in repr(report)


def test_positional_inputs_are_labelled_x0_x1():
    report = compare_engines(seed, [2.0, 5.0])
    assert [r.label for r in report.rows if not r.op] == ["x0", "x1"]


def test_shared_nodes_pair_once():
    def f(x):
        h = x.tanh()
        return h * h + h

    report = compare_engines(f, [0.3])
    assert report.agree
    assert [r.op for r in report.rows] == ["", "tanh", "*", "+"]
    assert report.rows[2].children == (1, 1)


def test_node_comparison_operands_is_a_deprecated_name_for_children():
    row = compare_engines(lambda x, y: x * y, [2.0, 3.0]).rows[-1]
    with pytest.warns(DeprecationWarning, match="NodeComparison.children"):
        assert row.operands == row.children == (0, 1)


def _random_program(rng: random.Random, n_inputs: int, n_ops: int):
    unary = ["tanh", "sigmoid", "exp", "sin", "cos", "relu", "abs"]
    plan = [
        (rng.choice(["+", "-", "*", "/", "u"]), rng.randrange(10**6), rng.randrange(10**6))
        for _ in range(n_ops)
    ]

    def f(*xs):
        pool = list(xs)
        for kind, i, j in plan:
            a, b = pool[i % len(pool)], pool[j % len(pool)]
            if kind == "+":
                pool.append(a + b)
            elif kind == "-":
                pool.append(a - b * 0.5)
            elif kind == "*":
                pool.append((a * b).tanh())
            elif kind == "/":
                pool.append(a / (b * b + 1.0))
            else:
                name = unary[j % len(unary)]
                pool.append(abs(a) if name == "abs" else getattr(a, name)())
        return pool[-1] + pool[-2]

    return f


def test_random_programs_agree_to_1e12():
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(1, 4)
        f = _random_program(rng, n, rng.randint(1, 40))
        report = compare_engines(f, [rng.uniform(-2, 2) for _ in range(n)])
        assert report.agree, repr(report)
        assert report.max_rel_diff <= 1e-12


def test_wrong_backward_names_the_node_that_first_gets_a_wrong_grad(monkeypatch):
    wrong = reference.SIN._replace(backward=lambda x, z, g, p: -math.cos(x) * g)
    monkeypatch.setattr(reference, "SIN", wrong)
    report = compare_engines(seed, {"x": 2.0, "y": 5.0})
    assert not report.agree
    first = report.first_divergence
    assert first is not None and (first.index, first.label) == (2, "y")
    assert first.data_agrees and not first.grad_agrees
    assert "#2 leaf 'y'" in report.explanation
    assert "gets its gradient from #3 *, #5 sin" in report.explanation
    # Only y's grad is wrong: sin's backward writes nowhere else.
    assert [r.index for r in report.rows if r.problem] == [2]
    assert "<< grad" in repr(report)


def test_wrong_forward_names_the_op(monkeypatch):
    wrong = reference.MUL._replace(forward=lambda x, y: x * y * (1 + 1e-9))
    monkeypatch.setattr(reference, "MUL", wrong)
    report = compare_engines(seed, {"x": 2.0, "y": 5.0})
    first = report.first_divergence
    assert first is not None and (first.index, first.op) == (3, "*")
    assert not first.data_agrees
    assert "first divergence: node #3 *: data 10.0 (rust)" in report.explanation
    assert "from operands that agree" in report.explanation


def test_different_structure_is_reported_and_not_descended():
    def f(x, y):
        if isinstance(x, reference.Value):
            return (x + y).exp()
        return (x * y).exp()

    report = compare_engines(f, [1.0, 2.0])
    first = report.first_divergence
    assert first is not None and first.index == 0 and first.op == "*"
    assert first.structure == "op '*' (rust) vs '+' (ref)"
    assert [r.op for r in report.rows] == ["*", "exp"]
    assert "structure differs" in report.explanation


def test_different_arity_and_sharing_are_reported():
    def arity(x, y):
        engine = reference if isinstance(x, reference.Value) else ferrograd
        return engine.sum([x, y, y] if engine is reference else [x, y])

    assert "2 operands (rust) vs 3 (ref)" in compare_engines(arity, [1.0, 2.0]).rows[-1].structure

    def sharing(x):
        if isinstance(x, reference.Value):
            return x * reference.Value(x.data)
        return x * x

    report = compare_engines(sharing, [3.0])
    assert not report.agree
    assert "shared differently" in report.first_divergence.structure


def test_tolerances():
    wrong = lambda x: x * (1.0 + (1e-13 if isinstance(x, reference.Value) else 0.0))
    assert not compare_engines(wrong, [1.0], rtol=0.0).agree
    assert compare_engines(wrong, [1.0], rtol=1e-12).agree
    assert compare_engines(wrong, [1.0], rtol=0.0, atol=1e-12).agree


@pytest.mark.parametrize(
    ("f", "inputs", "error", "match"),
    [
        (None, [1.0], TypeError, "callable"),
        (seed, 3.0, TypeError, "sequence of numbers or a mapping"),
        (seed, {1: 2.0}, TypeError, "input names must be str"),
        (seed, ["a", 1.0], TypeError, "real number"),
        (lambda x: 1.0, [1.0], TypeError, "must return"),
    ],
)
def test_bad_arguments(f, inputs, error, match):
    with pytest.raises(error, match=match):
        compare_engines(f, inputs)


# ---------------------------------------------------------------------------------------------
# The expression language and the command
# ---------------------------------------------------------------------------------------------

# Every op of codes 20-33 and numpy's names for them, at x = 2, y = 0.7 (inside every domain).
INVERSE_AND_HYPERBOLIC = (
    "asin(y) * acos(y) + atan(x) + cot(x) + sec(y) + csc(x) + acot(x) + asec(x) + acsc(x)"
    " + sinh(y) * cosh(x) + asinh(x) + acosh(x) + atanh(y)"
    " + arcsin(y) + y.arccos() + arctan(x) + arcsinh(y) + arccosh(x) + x.tanh().arctanh()"
)
EXPRESSIONS = [
    "log(x) + x*y - sin(y)",
    "x.log() + x*y - y.sin()",
    "-x ** 2 + +y / 3 - 2 ** x",
    "tanh(x) * sigmoid(y) + exp(x - y) + relu(y - x) + abs(x - y)",
    "sqrt(x) + cos(y) * tan(x / 10) + leaky_relu(x - y, 0.1) + leaky_relu(y - x)",
    "x.leaky_relu(slope=0.2) + (x * y).tanh().exp() + abs(x)",
    "(x + 1.5e0) ** (y / 2) + 3",
    INVERSE_AND_HYPERBOLIC,
]


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("engine", [ferrograd, reference])
def test_expression_evaluates_like_python_code(text, engine):
    # The oracle: the same text as Python code over Values, with the ops as functions.
    ops = {
        name: (abs if name == "abs" else lambda v, *a, _n=name, **k: getattr(v, _n)(*a, **k))
        for name in FUNCTIONS
        if name != "leaky_relu"
    }
    ops["leaky_relu"] = lambda v, slope=0.01: v.leaky_relu(slope)
    x, y = engine.Value(2.0, "x"), engine.Value(0.7, "y")
    expected = eval(text, {"__builtins__": {}}, {**ops, "x": x, "y": y})  # test oracle only
    expected.backward()
    xe, ye = engine.Value(2.0, "x"), engine.Value(0.7, "y")
    got = parse_expression(text).evaluate({"x": xe, "y": ye})
    got.backward()
    assert (got.data, xe.grad, ye.grad) == (expected.data, x.grad, y.grad)


def test_abs_as_a_method():
    x = ferrograd.Value(-1.5)
    y = parse_expression("x.abs()").evaluate({"x": x})
    assert (y.op, y.data) == ("abs", 1.5)


def test_expression_names_in_order_of_use():
    assert parse_expression("b * a + b.tanh() + c").names == ("b", "a", "c")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("__import__('os').system('true')", "unknown method 'system'"),
        ("__import__('os')", "unknown function '__import__'"),
        ("open('/tmp/x', 'w')", "unknown function 'open'"),
        ("x.data", r"attribute access \(.data\)"),
        ("x.__class__", "attribute access"),
        ("x.grad.real()", "unknown method 'real'"),
        ("(lambda: 1)()", "only named functions and methods"),
        ("x if y else 1", "'if ... else'"),
        ("x // y", "the operator //"),
        ("x % y", "the operator %"),
        ("x < y", "a comparison"),
        ("not x", "'not'"),
        ("x[0]", "indexing"),
        ("'a' + x", "only numbers"),
        ("True * x", "only numbers"),
        ("1j * x", "only numbers"),
        ("sqrt(x, 2)", r"sqrt\(\) takes no other argument"),
        ("log(x, 2, 3)", r"log\(\) takes an optional base"),
        ("atan2(y)", r"atan2\(\) takes two operands"),
        ("x.hypot(y, 1)", r"hypot\(\) takes two operands"),
        ("x.tanh(1)", r"tanh\(\) takes no other argument"),
        ("tanh()", "needs an argument"),
        ("leaky_relu(x, y)", "slope of leaky_relu must be a number"),
        ("leaky_relu(x, 0.1, 0.2)", "optional slope"),
        ("log(x, base=2)", "takes no argument 'base'"),
        ("log(*x)", r"\* and \*\* arguments"),
        ("x +", "not a valid expression"),
        ("x = 1", "not a valid expression"),
        ("2 + 3", "no inputs"),
        ("x * 1" + "0" * 400, "too large"),
        ("leaky_relu(x, 1" + "0" * 400 + ")", "too large"),
        ("(" * 300 + "x" + ")" * 300, "not a valid expression|nested too deeply"),
    ],
)
def test_expression_outside_the_language_is_refused(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_expression(text)


def test_deep_expression_builds_without_recursion():
    # 2500 nested additions: deeper than Python's recursion limit (1000), so the checker and
    # the evaluator must not recurse.
    assert sys.getrecursionlimit() < 2500
    expr = parse_expression(" + ".join(["x"] * 2500))
    assert expr.evaluate({"x": ferrograd.Value(1.0)}).data == 2500.0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferrograd", "compare", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_command_prints_the_table_and_exits_0():
    done = _cli("log(x)+x*y-sin(y)", "--at", "x=2,y=5")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    f = math.log(2.0) + 2.0 * 5.0 - math.sin(5.0)
    assert f"f = {f!r} (rust), {f!r} (reference)" in out
    assert "d/dx = 5.5" in out
    assert "engines agree on all 7 nodes" in out
    table = [line.split() for line in out.splitlines() if line.startswith("#")]
    assert [row[1] for row in table] == ["leaf", "log", "leaf", "*", "+", "sin", "-"]
    assert all(row[-1] == "ok" for row in table)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["__import__('os').system('touch pwned')", "--at", "x=1"], "unknown method"),
        (["x*y", "--at", "x=2"], "--at gives no value for y"),
        (["x*y", "--at", "x=2,y=five"], "--at y='five': not a number"),
        (["x*y", "--at", "x=2", "--at", "y=3,x=1"], "--at gives x twice"),
        (["x", "--at", "x=1,z=2"], "--at gives z, which EXPR does not use"),
        (["x", "--at", "x"], "NAME=NUMBER"),
        (["x.leaky_relu(-1)", "--at", "x=1"], "slope >= 0"),
        (["x", "--at", "x=1", "--rtol", "-1"], "--rtol must be"),
    ],
)
def test_command_errors_exit_2_with_a_message(args, message, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "ferrograd", "compare", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "pwned").exists()


def test_command_reports_divergence_with_exit_1(monkeypatch, capsys):
    wrong = reference.SIN._replace(backward=lambda x, z, g, p: -math.cos(x) * g)
    monkeypatch.setattr(reference, "SIN", wrong)
    assert main(["compare", "log(x)+x*y-sin(y)", "--at", "x=2,y=5"]) == 1
    out = capsys.readouterr().out
    assert "first divergence: node #2 leaf 'y'" in out


def test_command_accepts_repeated_at_and_negative_numbers():
    done = _cli(" -x*y", "--at", "x=-2", "--at", "y=1.5e0")
    assert done.returncode == 0, done.stderr
    assert "f = 3.0 (rust), 3.0 (reference)" in done.stdout


def test_command_agrees_on_every_node_of_the_inverse_and_hyperbolic_ops():
    done = _cli(INVERSE_AND_HYPERBOLIC, "--at", "x=2,y=0.7")
    assert done.returncode == 0, done.stderr
    table = [line.split() for line in done.stdout.splitlines() if line.startswith("#")]
    ops = {row[1] for row in table}
    assert ops >= {"asin", "acos", "atan", "cot", "sec", "csc", "acot", "asec", "acsc"}
    assert ops >= {"sinh", "cosh", "asinh", "acosh", "atanh"}
    assert all(row[-1] == "ok" for row in table)
    assert f"engines agree on all {len(table)} nodes" in done.stdout
