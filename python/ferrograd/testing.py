"""Tools for checking gradients: finite differences, and the two engines side by side.

>>> from ferrograd.testing import compare_engines, gradcheck
>>> report = gradcheck(lambda x, y: x.log() + x * y - y.sin(), [2.0, 5.0])
>>> report.passed
True
>>> compare_engines(lambda x, y: x.log() + x * y - y.sin(), [2.0, 5.0]).agree
True

``gradcheck`` holds ferrograd's gradients against central differences of the same function;
``compare_engines`` runs one function on ``ferrograd.Value`` (Rust) and on
``ferrograd.reference.Value`` (plain Python) and pairs their graphs node by node.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from ferrograd import _checks, _engines
from ferrograd._grad_mode import enable_grad

__all__ = [
    "EngineComparison",
    "GradcheckError",
    "GradcheckReport",
    "GradcheckRow",
    "NodeComparison",
    "compare_engines",
    "gradcheck",
]


def _engine(engine: str) -> type:
    value_type: type = _engines.resolve(engine).Value
    return value_type


@enable_grad()  # the checks build the graph they check, whatever the setting outside
def _call(f: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], value_type: type) -> Any:
    out = f(*args, **kwargs)
    if not isinstance(out, value_type):
        raise TypeError(
            f"f must return a {value_type.__module__}.Value built from its inputs, "
            f"got {type(out).__name__}"
        )
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Right-aligned columns, the first left-aligned, under a rule."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


# ---------------------------------------------------------------------------------------------
# gradcheck
# ---------------------------------------------------------------------------------------------


class GradcheckError(AssertionError):
    """A gradient disagrees with its finite-difference estimate. ``report`` holds every input."""

    def __init__(self, report: GradcheckReport) -> None:
        worst = report.worst
        super().__init__(
            f"gradcheck failed: worst input {worst.name} (index {worst.index}): analytic "
            f"{worst.analytic!r}, numeric {worst.numeric!r}, abs error {worst.abs_err:.3g}, "
            f"rel error {worst.rel_err:.3g}\n{report!r}"
        )
        self.report = report


@dataclass(frozen=True)
class GradcheckRow:
    """One input: its value, both derivatives of ``f`` with respect to it, and the verdict."""

    index: int
    name: str
    value: float
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    passed: bool
    #: ``abs_err / (atol + rtol·|numeric|)``: above 1 fails; inf when either is not finite.
    badness: float


@dataclass(frozen=True)
class GradcheckReport:
    """What ``gradcheck`` found: one row per input, and whether all passed.

    ``repr`` is a table. ``bool(report)`` is ``report.passed``.
    """

    rows: tuple[GradcheckRow, ...]
    output: float
    eps: float
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        """True when every input's gradient matches its numeric estimate."""
        return all(r.passed for r in self.rows)

    @property
    def worst(self) -> GradcheckRow:
        """The row furthest outside its tolerance (the first such, on ties)."""
        return max(self.rows, key=lambda r: r.badness)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else f"FAILED (worst input: {self.worst.name})"
        head = (
            f"gradcheck {verdict}: f = {self.output!r}, {len(self.rows)} input(s), "
            f"eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}"
        )
        cells = [
            [
                r.name,
                f"{r.value:.6g}",
                f"{r.analytic:.12g}",
                f"{r.numeric:.12g}",
                f"{r.abs_err:.2e}",
                f"{r.rel_err:.2e}",
                "ok" if r.passed else "FAIL",
            ]
            for r in self.rows
        ]
        header = ["input", "value", "analytic", "numeric", "abs err", "rel err", "check"]
        return "\n".join([head, *_table(header, cells)])


def _relative_error(analytic: float, numeric: float) -> float:
    diff = abs(analytic - numeric)
    if diff == 0.0:
        return 0.0
    return diff / abs(numeric) if numeric != 0.0 else math.inf


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[float],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    raise_on_fail: bool = False,
    engine: str = "rust",
) -> GradcheckReport:
    """Checks ``f``'s gradient from ``backward()`` against finite differences at ``inputs``.

    ``f`` takes one Value per input, positionally (labelled ``x0``, ``x1``, ...), and returns a
    Value. The analytic gradient is ``backward()`` from ``f``'s result. The numeric one calls the
    same ``f`` on fresh Values of the same engine at shifted points and reads only ``.data``, so
    it trusts the forward pass and tests the backward one: for each input, central differences
    ``D(h) = (f(x+h) - f(x-h)) / 2h`` at ``h = eps`` and ``eps/2``, combined by Richardson
    extrapolation into ``(4·D(eps/2) - D(eps)) / 3``, whose error is O(eps⁴) instead of O(eps²).

    An input passes when ``|analytic - numeric| <= atol + rtol·|numeric|`` and both are finite.
    Returns a :class:`GradcheckReport` (its ``repr`` is a table); with ``raise_on_fail=True`` a
    failure raises :class:`GradcheckError` naming the worst input. ``engine`` is ``"rust"``
    (``ferrograd.Value``) or ``"reference"`` (``ferrograd.reference.Value``).
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(f"inputs must be a sequence of numbers, got {type(inputs).__name__}")
    point = [_checks.real(x, f"inputs[{i}]") for i, x in enumerate(inputs)]
    if not point:
        raise ValueError("gradcheck needs at least one input")
    for i, x in enumerate(point):
        if not math.isfinite(x):
            raise ValueError(f"inputs[{i}] must be finite, got {x!r}")
    eps = _checks.real(eps, "eps")
    if not (math.isfinite(eps) and eps > 0.0):
        raise ValueError(f"eps must be finite and > 0, got {eps!r}")
    atol, rtol = _checks.nonnegative(atol, "atol"), _checks.nonnegative(rtol, "rtol")
    value_type = _engine(engine)

    leaves = [value_type(x, f"x{i}") for i, x in enumerate(point)]
    out = _call(f, leaves, {}, value_type)
    out.backward()
    analytic = [leaf.grad for leaf in leaves]

    def f_at(i: int, shift: float) -> float:
        shifted = list(point)
        shifted[i] += shift
        args = [value_type(x, f"x{j}") for j, x in enumerate(shifted)]
        value: float = _call(f, args, {}, value_type).data
        return value

    rows = []
    for i, x in enumerate(point):
        d_h = (f_at(i, eps) - f_at(i, -eps)) / (2 * eps)
        d_half = (f_at(i, eps / 2) - f_at(i, -eps / 2)) / eps
        numeric = (4 * d_half - d_h) / 3
        a = analytic[i]
        abs_err = abs(a - numeric)
        badness = math.inf
        if math.isfinite(a) and math.isfinite(numeric):
            allowed = atol + rtol * abs(numeric)
            badness = abs_err / allowed if allowed > 0 else (0.0 if abs_err == 0 else math.inf)
        rows.append(
            GradcheckRow(
                index=i,
                name=f"x{i}",
                value=x,
                analytic=a,
                numeric=numeric,
                abs_err=abs_err,
                rel_err=_relative_error(a, numeric),
                passed=badness <= 1.0,
                badness=badness,
            )
        )
    report = GradcheckReport(tuple(rows), out.data, eps, atol, rtol)
    if raise_on_fail and not report.passed:
        raise GradcheckError(report)
    return report


# ---------------------------------------------------------------------------------------------
# compare_engines
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeComparison:
    """One node of the graph, as each engine computed it.

    ``structure`` is ``""`` when both engines built this node alike, else what differs
    (different op, different number of operands, an operand shared in one graph only); a pair
    whose structure differs is not descended. ``children`` are the rows of its children (its
    op's operands), as ``Value.children`` lists them.
    """

    index: int
    op: str
    label: str
    rust_data: float
    reference_data: float
    rust_grad: float
    reference_grad: float
    rel_diff: float
    data_agrees: bool
    grad_agrees: bool
    structure: str
    children: tuple[int, ...]

    @property
    def operands(self) -> tuple[int, ...]:
        """Deprecated: :attr:`children`, under its 0.1 name."""
        warnings.warn(
            "NodeComparison.operands is now NodeComparison.children",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.children

    @property
    def name(self) -> str:
        """How the report names this node: ``#index op 'label'``."""
        what = self.op or "leaf"
        return f"#{self.index} {what}" + (f" {self.label!r}" if self.label else "")

    @property
    def problem(self) -> str:
        """``""`` where the engines agree, else ``"data"``, ``"grad"``, ``"data, grad"`` or the
        structural difference."""
        if self.structure:
            return self.structure
        bad = [w for w, ok in (("data", self.data_agrees), ("grad", self.grad_agrees)) if not ok]
        return ", ".join(bad)


@dataclass(frozen=True)
class EngineComparison:
    """Both engines' graphs of one function, paired node by node in topological order.

    ``rows`` lists operands before the nodes that use them (the root last). ``agree`` is true
    when every node's data and grad match within tolerance and the structures are the same;
    ``first_divergence`` is the node to look at, and ``explanation`` says why. ``repr`` is a table.
    """

    rows: tuple[NodeComparison, ...]
    rtol: float
    atol: float
    first_divergence: NodeComparison | None
    explanation: str

    @property
    def agree(self) -> bool:
        """True when no node diverges."""
        return self.first_divergence is None

    @property
    def max_rel_diff(self) -> float:
        """The largest relative difference over every node's data and grad."""
        return max((r.rel_diff for r in self.rows), default=0.0)

    def __bool__(self) -> bool:
        return self.agree

    def __repr__(self) -> str:
        first = self.first_divergence
        cells = []
        for r in self.rows:
            children = ",".join(f"#{i}" for i in r.children)
            mark = "<< " if first is not None and r.index == first.index else ""
            cells.append(
                [
                    f"#{r.index}",
                    r.op or "leaf",
                    r.label,
                    children,
                    f"{r.rust_data:.12g}",
                    f"{r.reference_data:.12g}",
                    f"{r.rust_grad:.12g}",
                    f"{r.reference_grad:.12g}",
                    f"{r.rel_diff:.1e}",
                    mark + (r.problem or "ok"),
                ]
            )
        header = [
            "node",
            "op",
            "label",
            "children",
            "data (rust)",
            "data (ref)",
            "grad (rust)",
            "grad (ref)",
            "rel diff",
            "check",
        ]
        return "\n".join([*_table(header, cells), self.explanation])


def compare_engines(
    f: Callable[..., Any],
    inputs: Sequence[float] | Mapping[str, float],
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
) -> EngineComparison:
    """Runs ``f`` on both engines, calls ``backward()`` on each result, and pairs the graphs.

    ``inputs`` is a sequence of numbers (``f`` gets them as positional Values labelled ``x0``,
    ``x1``, ...) or a mapping from names to numbers (``f`` gets keyword Values labelled by name).
    ``f`` should build its result with operators and Value methods only, so the same code runs
    on ``ferrograd.Value`` and ``ferrograd.reference.Value``.

    Both graphs are walked by the same iterative depth-first search, operands in operand order,
    so nodes pair up and come out operands first. A node diverges when its data or grad differ
    by more than ``atol + rtol·max(|rust|, |ref|)`` (equal infinities and two NaNs agree), or
    when the structures differ there. The first divergence named is the earliest node whose
    data differ (its operands agree, so its own op is to blame); if all data agree, the first
    node the reverse sweep reaches with a different grad (one of its users' backward is to
    blame, and the explanation names them).
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if isinstance(inputs, Mapping):
        names = list(inputs)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"input names must be str, got {type(name).__name__}")
        point = [_checks.real(inputs[n], f"inputs[{n!r}]") for n in names]
        keyword = True
    elif isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        point = [_checks.real(x, f"inputs[{i}]") for i, x in enumerate(inputs)]
        names = [f"x{i}" for i in range(len(point))]
        keyword = False
    else:
        raise TypeError(
            f"inputs must be a sequence of numbers or a mapping of names to numbers, "
            f"got {type(inputs).__name__}"
        )
    rtol, atol = _checks.nonnegative(rtol, "rtol"), _checks.nonnegative(atol, "atol")

    roots = []
    for value_type in (e.Value for e in (_engines.RUST, _engines.REFERENCE)):
        leaves = [value_type(x, n) for x, n in zip(point, names)]
        if keyword:
            out = _call(f, [], dict(zip(names, leaves)), value_type)
        else:
            out = _call(f, leaves, {}, value_type)
        out.backward()
        roots.append(out)
    return _pair_graphs(roots[0], roots[1], rtol, atol)


def _structure_problem(r: Any, p: Any) -> str:
    if r.op != p.op:
        return f"op {r.op or 'leaf'!r} (rust) vs {p.op or 'leaf'!r} (ref)"
    nr, np_ = len(r.children), len(p.children)
    if nr != np_:
        return f"{nr} operands (rust) vs {np_} (ref)"
    return ""


def _pair_graphs(rust_root: Any, ref_root: Any, rtol: float, atol: float) -> EngineComparison:
    # Each side maps a node to its partner, set when the pair is first reached. Rust handles
    # compare and hash by node identity; reference Values are the nodes themselves.
    partner_of_rust: dict[Any, Any] = {}
    partner_of_ref: dict[Any, Any] = {}
    index_of_rust: dict[Any, int] = {}
    rows: list[NodeComparison] = []

    def close(a: float, b: float) -> bool:
        return _checks.relative_difference(a, b) <= rtol or abs(a - b) <= atol

    # A stack entry: [rust node, ref node, rust operands, ref operands, next operand, structural
    # difference found at this pair]. A pair that differs in op or arity is not descended.
    def enter(r: Any, p: Any) -> list[Any]:
        partner_of_rust[r], partner_of_ref[p] = p, r
        structure = _structure_problem(r, p)
        kids = ((), ()) if structure else (r.children, p.children)
        return [r, p, kids[0], kids[1], 0, structure]

    stack = [enter(rust_root, ref_root)]
    while stack:
        top = stack[-1]
        r, p, r_kids, p_kids, k, _ = top
        if k < len(r_kids):
            top[4] += 1
            rc, pc = r_kids[k], p_kids[k]
            seen_r, seen_p = rc in partner_of_rust, pc in partner_of_ref
            if not seen_r and not seen_p:
                stack.append(enter(rc, pc))
            elif not (seen_r and seen_p and partner_of_rust[rc] is pc):
                # This operand slot leads to a node met before in one graph only.
                top[5] = top[5] or f"operand {k} is shared differently in the two graphs"
            continue
        stack.pop()
        index_of_rust[r] = len(rows)
        rows.append(
            NodeComparison(
                index=len(rows),
                op=r.op,
                label=r.label,
                rust_data=r.data,
                reference_data=p.data,
                rust_grad=r.grad,
                reference_grad=p.grad,
                rel_diff=max(
                    _checks.relative_difference(r.data, p.data),
                    _checks.relative_difference(r.grad, p.grad),
                ),
                data_agrees=close(r.data, p.data),
                grad_agrees=close(r.grad, p.grad),
                structure=top[5],
                children=tuple(index_of_rust[c] for c in r_kids if c in index_of_rust),
            )
        )
    first, explanation = _first_divergence(rows, rtol, atol)
    return EngineComparison(tuple(rows), rtol, atol, first, explanation)


def _first_divergence(
    rows: list[NodeComparison], rtol: float, atol: float
) -> tuple[NodeComparison | None, str]:
    for row in rows:
        if row.structure:
            return row, f"first divergence: node {row.name}: structure differs: {row.structure}"
        if not row.data_agrees:
            return row, (
                f"first divergence: node {row.name}: data {row.rust_data!r} (rust) vs "
                f"{row.reference_data!r} (ref)" + (", from operands that agree" if row.op else "")
            )
    for row in reversed(rows):
        if not row.grad_agrees:
            users = [u.name for u in rows if row.index in u.children]
            fed = f"; it gets its gradient from {', '.join(users)}" if users else ""
            return row, (
                f"first divergence: node {row.name}: grad {row.rust_grad!r} (rust) vs "
                f"{row.reference_grad!r} (ref), the first the reverse sweep reaches; all data "
                f"agree{fed}"
            )
    worst = max((r.rel_diff for r in rows), default=0.0)
    return None, (
        f"engines agree on all {len(rows)} nodes (max relative difference {worst:.1e}, "
        f"rtol {rtol:g}, atol {atol:g})"
    )
