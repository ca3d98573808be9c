"""A small, safe expression language for the command line: ``log(x) + x*y - sin(y)``.

The text is parsed with :mod:`ast` and checked node by node; only names (the inputs), numbers,
``+ - * / **``, unary ``-``/``+``, and the Value ops, called as functions (``tanh(x)``,
``atan2(y, x)``) or as methods (``x.tanh()``, ``y.atan2(x)``), get through. Nothing is ever evaluated by Python: the checked tree
becomes a list of stack instructions that run on any engine's Value.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Union

from ferrograd._core import op_table

__all__ = ["BINARY_FUNCTIONS", "FUNCTIONS", "Expression", "ExpressionError", "parse_expression"]

#: The ops an expression may call, as ``f(x)`` or ``x.f()``: every unary op of the op table
#: that has a method (``abs`` for ``__abs__``) and the aliases of their methods (numpy's
#: ``arcsin``), sorted; ``leaky_relu`` takes a slope, ``gelu`` an ``approximate="tanh"`` (the op
#: ``gelu_tanh``, which has no method of its own).
FUNCTIONS = tuple(
    sorted(
        name
        for _, _, arity, _, method, aliases in op_table()
        if arity == 1 and method and method != "__neg__"
        for name in ("abs" if method == "__abs__" else method, *aliases)
    )
)

#: The two-operand ops an expression may call, as ``f(a, b)`` or ``a.f(b)``: every binary op of
#: the op table that has a method (``atan2(y, x)``, ``hypot``, ...) and the aliases of those
#: methods (numpy's ``arctan2``), sorted. ``log(x, base)`` takes an optional base as well.
BINARY_FUNCTIONS = tuple(
    sorted(
        name
        for _, _, arity, _, method, aliases in op_table()
        if arity == 2 and method
        for name in (method, *aliases)
    )
)
_CALLABLE = FUNCTIONS + BINARY_FUNCTIONS

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_NOT_ALLOWED = {
    ast.FloorDiv: "the operator //",
    ast.Mod: "the operator %",
    ast.MatMult: "the operator @",
    ast.LShift: "the operator <<",
    ast.RShift: "the operator >>",
    ast.BitAnd: "the operator &",
    ast.BitOr: "the operator |",
    ast.BitXor: "the operator ^",
    ast.Invert: "the operator ~",
    ast.Not: "'not'",
    ast.Compare: "a comparison",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if ... else'",
    ast.Subscript: "indexing",
    ast.Lambda: "lambda",
    ast.Tuple: "a tuple",
    ast.List: "a list",
}


class ExpressionError(ValueError):
    """The expression text is not in the allowed language; the message says where and why."""


# One instruction of the stack program: ("name", str), ("const", float), ("binary", op),
# ("unary", op), ("call", function, slope or approximate or None), ("call2", function) (two
# operands).
_Instruction = tuple[Any, ...]


def _where(node: ast.AST) -> str:
    col = getattr(node, "col_offset", None)
    return "" if col is None else f" at column {col + 1}"


def _describe(node: ast.AST) -> str:
    kind = _NOT_ALLOWED.get(type(node))
    if kind is None and isinstance(node, (ast.BinOp, ast.UnaryOp)):
        kind = _NOT_ALLOWED.get(type(node.op))
    return kind or type(node).__name__


def _float(value: float, node: ast.AST) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ExpressionError(f"the number {value} is too large{_where(node)}") from None


def _number(node: ast.AST, what: str) -> float:
    """A number literal, optionally signed (the slope of ``leaky_relu``)."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return sign * _float(node.value, node)
    raise ExpressionError(f"{what} must be a number{_where(node)}")


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, its input names (in order of first use), its program."""

    text: str
    names: tuple[str, ...]
    program: tuple[_Instruction, ...]

    def evaluate(self, inputs: Mapping[str, Any]) -> Any:
        """Runs the expression on Values given by name; numbers become constants of the same
        engine as the inputs, so every operation is the engine's own (IEEE, never Python's
        exceptions)."""
        missing = [n for n in self.names if n not in inputs]
        if missing:
            raise ExpressionError(f"no value given for {', '.join(missing)}")
        value_type = type(inputs[self.names[0]])
        stack: list[Any] = []
        for instruction in self.program:
            kind = instruction[0]
            if kind == "name":
                stack.append(inputs[instruction[1]])
            elif kind == "const":
                stack.append(value_type(instruction[1]))
            elif kind == "unary":
                x = stack.pop()
                stack.append(-x if instruction[1] == "-" else x)
            elif kind == "binary":
                y, x = stack.pop(), stack.pop()
                stack.append(_APPLY_BINARY[instruction[1]](x, y))
            elif kind == "call2":
                y, x = stack.pop(), stack.pop()
                stack.append(getattr(x, instruction[1])(y))
            else:
                _, function, slope = instruction
                x = stack.pop()
                if function == "abs":
                    stack.append(abs(x))
                elif function == "leaky_relu" and slope is not None:
                    stack.append(x.leaky_relu(slope))
                elif function == "gelu" and slope is not None:
                    stack.append(x.gelu(approximate=slope))
                else:
                    stack.append(getattr(x, function)())
        (result,) = stack
        return result


# What each binary symbol does, on whatever Values the expression is evaluated with.
_APPLY_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}


def _call_parts(node: ast.Call) -> tuple[str, ast.expr, list[ast.expr]]:
    """(function name, operand, extra arguments) of ``f(x, ...)`` or ``x.f(...)``."""
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        raise ExpressionError(f"* and ** arguments are not allowed{_where(node)}")
    func = node.func
    if isinstance(func, ast.Name):
        name = func.id
        if name not in _CALLABLE:
            raise ExpressionError(
                f"unknown function {name!r}{_where(node)}; allowed: {', '.join(_CALLABLE)}"
            )
        if not node.args:
            raise ExpressionError(f"{name}() needs an argument{_where(node)}")
        operand, extra = node.args[0], list(node.args[1:])
    elif isinstance(func, ast.Attribute):
        name = func.attr
        if name not in _CALLABLE:
            raise ExpressionError(
                f"unknown method {name!r}{_where(func)}; allowed: {', '.join(_CALLABLE)}"
            )
        operand, extra = func.value, list(node.args)
    else:
        raise ExpressionError(f"only named functions and methods can be called{_where(node)}")
    for keyword in node.keywords:
        if (name, keyword.arg) not in (("leaky_relu", "slope"), ("gelu", "approximate")):
            raise ExpressionError(f"{name}() takes no argument {keyword.arg!r}{_where(keyword)}")
        extra.append(keyword.value)
    if name in BINARY_FUNCTIONS:
        if len(extra) != 1:
            raise ExpressionError(f"{name}() takes two operands{_where(node)}")
        return name, operand, extra
    limit = 1 if name in ("leaky_relu", "gelu", "log") else 0
    if len(extra) > limit:
        takes = {
            "leaky_relu": "an optional slope",
            "gelu": "an optional approximate",
            "log": "an optional base",
        }
        raise ExpressionError(
            f"{name}() takes {takes.get(name, 'no other argument')}{_where(node)}"
        )
    return name, operand, extra


def _approximate(node: ast.AST) -> str:
    """GELU's ``approximate``: the string ``"none"`` or ``"tanh"``."""
    if isinstance(node, ast.Constant) and node.value in ("none", "tanh"):
        return str(node.value)
    raise ExpressionError(f"the approximate of gelu must be 'none' or 'tanh'{_where(node)}")


_Work = Union[ast.AST, _Instruction]


def parse_expression(text: str) -> Expression:
    """Parses and checks ``text``; raises :class:`ExpressionError` saying what is not allowed."""
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a str, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise ExpressionError(f"not a valid expression: {err.msg}{where}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None

    names: dict[str, None] = {}
    program: list[_Instruction] = []
    # Post-order without recursion: a node is replaced on the stack by its instruction (emitted
    # once its operands' instructions are out) and then its operands, last operand deepest.
    work: list[tuple[bool, _Work]] = [(False, tree.body)]
    while work:
        ready, item = work.pop()
        if ready:
            program.append(item)  # type: ignore[arg-type]
            continue
        node = item
        assert isinstance(node, ast.AST)
        if isinstance(node, ast.Name):
            names.setdefault(node.id)
            program.append(("name", node.id))
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExpressionError(
                    f"only numbers are allowed as constants, got {node.value!r}{_where(node)}"
                )
            program.append(("const", _float(node.value, node)))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            work.append((True, ("binary", _BINARY[type(node.op)])))
            work.append((False, node.right))
            work.append((False, node.left))
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            work.append((True, ("unary", _UNARY[type(node.op)])))
            work.append((False, node.operand))
        elif isinstance(node, ast.Call):
            name, operand, extra = _call_parts(node)
            if name in BINARY_FUNCTIONS or (name == "log" and extra):
                work.append((True, ("call2", name)))
                work.append((False, extra[0]))
                work.append((False, operand))
                continue
            argument: float | str | None = None
            if extra and name == "gelu":
                argument = _approximate(extra[0])
            elif extra:
                argument = _number(extra[0], "the slope of leaky_relu")
            work.append((True, ("call", name, argument)))
            work.append((False, operand))
        elif isinstance(node, ast.Attribute):
            raise ExpressionError(
                f"attribute access (.{node.attr}) is not allowed{_where(node)}; "
                f"methods must be called: x.tanh()"
            )
        else:
            raise ExpressionError(f"{_describe(node)} is not allowed{_where(node)}")
    if not names:
        raise ExpressionError("the expression has no inputs (no names)")
    return Expression(text, tuple(names), tuple(program))
