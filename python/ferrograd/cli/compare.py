"""``python -m ferrograd compare EXPR --at x=2,y=5``: both engines on one expression, node by node."""

from __future__ import annotations

import argparse
import math
import sys
import unicodedata

from ferrograd import _checks
from ferrograd.cli.expression import (
    BINARY_FUNCTIONS,
    FUNCTIONS,
    ExpressionError,
    parse_expression,
)
from ferrograd.testing import compare_engines

__all__ = ["parse_point", "register", "run"]

_DESCRIPTION = f"""\
Build EXPR on the Rust engine and on the reference engine, run backward() on both, and print
every node (operands first) with its op, both data values, both grads and their relative
difference; the first node where the engines diverge is named. Exit status: 0 when they agree,
1 when they diverge, 2 for a bad expression or bad --at values.

EXPR may use names (the inputs), numbers, + - * / **, unary -, and the ops
{", ".join(FUNCTIONS)}, called as functions, log(x), or as methods, x.log();
leaky_relu takes a slope: leaky_relu(x, 0.1); gelu an approximate: gelu(x, approximate='tanh');
the two-operand ops {", ".join(BINARY_FUNCTIONS)}, as atan2(y, x)
or y.atan2(x), and log(x, base).
Python never evaluates the text.
Quote EXPR for the shell; start it with a space if it begins with '-': " -x*y"."""


class _UsageError(Exception):
    pass


def parse_point(items: list[str]) -> dict[str, float]:
    """``["x=2,y=5", "z=1"]`` as ``{"x": 2.0, "y": 5.0, "z": 1.0}``; ValueError if malformed."""
    point: dict[str, float] = {}
    for item in items:
        for pair in item.split(","):
            name, sep, number = (part.strip() for part in pair.partition("="))
            # Python's parser reads identifiers in NFKC form ("ﬁ" is "fi"); so do these names.
            name = unicodedata.normalize("NFKC", name)
            if not sep or not name:
                raise ValueError(f"--at takes NAME=NUMBER pairs separated by commas, got {pair!r}")
            if name in point:
                raise ValueError(f"--at gives {name} twice")
            try:
                value = float(number)
            except ValueError:
                raise ValueError(f"--at {name}={number!r}: not a number") from None
            if math.isnan(value) and number.strip().lower() not in ("nan", "+nan", "-nan"):
                raise ValueError(f"--at {name}={number!r}: not a number")
            point[name] = value
    return point


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds the ``compare`` command to the ``python -m ferrograd`` parser."""
    parser = commands.add_parser(
        "compare",
        help="run an expression on both engines and compare them node by node",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expression", metavar="EXPR", help='e.g. "log(x)+x*y-sin(y)"')
    parser.add_argument(
        "--at",
        action="append",
        required=True,
        metavar="NAME=NUMBER,...",
        help="the point: a value for every name in EXPR (may be repeated)",
    )
    parser.add_argument(
        "--rtol",
        type=float,
        default=1e-12,
        help="relative difference allowed between the engines (default 1e-12)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs ``compare``; returns the exit status (0 agree, 1 diverge, 2 bad input)."""
    try:
        expression = parse_expression(args.expression)
        point = parse_point(args.at)
        missing = [n for n in expression.names if n not in point]
        if missing:
            raise _UsageError(f"--at gives no value for {', '.join(missing)}")
        unused = [n for n in point if n not in expression.names]
        if unused:
            raise _UsageError(f"--at gives {', '.join(unused)}, which EXPR does not use")
        _checks.nonnegative(args.rtol, "--rtol")
        inputs = {name: point[name] for name in expression.names}
        report = compare_engines(lambda **xs: expression.evaluate(xs), inputs, rtol=args.rtol)
    except (ExpressionError, _UsageError, ValueError) as err:
        print(f"ferrograd compare: error: {err}", file=sys.stderr)
        return 2

    at = ", ".join(f"{n}={v:g}" for n, v in inputs.items())
    root = report.rows[-1]
    leaves = {r.label: r for r in report.rows if not r.op and r.label in inputs}
    grads = ", ".join(f"d/d{n} = {leaves[n].rust_grad!r}" for n in inputs if n in leaves)
    print(f"f = {expression.text.strip()}  at {at}")
    print(f"f = {root.rust_data!r} (rust), {root.reference_data!r} (reference)")
    print(f"gradient (rust): {grads}")
    print()
    print(repr(report))
    return 0 if report.agree else 1
