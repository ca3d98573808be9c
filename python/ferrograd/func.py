"""Function transforms in JAX's spelling: ``grad``, ``value_and_grad``, ``jacobian``, ``jacfwd``,
``hessian``, ``jvp`` and ``vjp``.

>>> from ferrograd import grad, hessian
>>> f = lambda x, y: x * y + x.sin()
>>> grad(f)(1.0, 2.0)
2.5403023058681398
>>> grad(f, argnums=(0, 1))(1.0, 2.0)
(2.5403023058681398, 1.0)
>>> hessian(lambda x: (x[0] * x[1]).exp())([0.0, 1.0]).tolist()
[[1.0, 1.0], [1.0, 0.0]]

``f`` is written for Values (operators and methods such as ``x.exp()``; numpy's ufuncs on an
array argument call those methods). Each argument it is differentiated by (``argnums``, an int
or a tuple of ints; negative counts from the end) is a real number, a (nested) list or tuple of
them, or a numpy array; ``f`` receives a Value, a list or tuple of Values, or an object array of
Values in its place. The other arguments pass through untouched. ``f`` returns a Value, a number
(a constant: derivative 0), or a rectangular list, tuple or array of them.

Results are floats for scalars and float64 arrays otherwise, shaped as JAX shapes them: the
gradient like the argument, a Jacobian ``output shape + argument shape``, a Hessian ``output shape
+ argument shape + argument shape``; with an ``argnums`` tuple, a tuple (of tuples, for
``hessian``) with one entry per argument. One difference: JAX answers a list argument with a list
(a pytree); here it is an array of the same shape.

``engine="rust"`` (the default) or ``engine="reference"`` picks the engine. Reverse mode builds
the graph once and runs one backward sweep per output. Forward mode (``jacfwd``, ``jvp``) runs
``f`` on ``ferrograd.Dual`` numbers, or ``ferrograd.reference.Dual`` on the reference engine,
once per input component. ``hessian`` is forward over reverse on one tape of all the outputs,
recorded at the point, on the Rust engine; the reference engine has no tape and its backward computes floats, so there it
is reverse over reverse: the backward sweep is replayed with Value operations, which makes each
gradient component a graph whose own backward gives a row of the Hessian.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable, NamedTuple, Union

import numpy as np

from ferrograd import _core, _engines
from ferrograd import reference as _R
from ferrograd._grad_mode import enable_grad

__all__ = ["grad", "hessian", "jacfwd", "jacobian", "jvp", "value_and_grad", "vjp"]

Argnums = Union[int, Sequence[int]]
# Values, Duals and arrays of them are of either engine: typed loosely on purpose.
Fn = Callable[..., Any]


def _kit(engine: object) -> _engines.Engine:
    kit = _engines.resolve(engine)  # type: ignore[arg-type]  # checked there
    if kit.Dual is None:
        raise TypeError(f"engine {kit.name} has no Dual: forward mode needs one")
    return kit


# ------------------------------------------------------------------------------------------------
# Arguments: which ones, and each as a shape and a flat list of floats.
# ------------------------------------------------------------------------------------------------


def _argnums(argnums: object, nargs: int, who: str) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of non-negative indices, and whether it was a single int."""
    single = not isinstance(argnums, (tuple, list))
    items = [argnums] if single else list(argnums)  # type: ignore[call-overload]
    if not items:
        raise ValueError(
            f"{who}() needs at least one argnum, got an empty {type(argnums).__name__}"
        )
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{who}() argnums must be an int or a tuple of ints, got {a!r}")
        i = int(a) + nargs if a < 0 else int(a)
        if not 0 <= i < nargs:
            raise ValueError(
                f"{who}() argnums={argnums!r} needs at least {int(a) + 1 if a >= 0 else -int(a)} "
                f"positional arguments, but f was called with {nargs}"
            )
        out.append(i)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}() argnums={argnums!r} names an argument twice")
    return tuple(out), single


class _Arg(NamedTuple):
    """A differentiated argument: its shape (``()`` for a number), container and numbers."""

    shape: tuple[int, ...]
    kind: str  # "scalar", "list", "tuple" or "array"
    flat: list[float]


def _arg(x: object, i: int, who: str) -> _Arg:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{who}() argument {i} is a bool, not a number to differentiate by")
    if isinstance(x, (int, float, np.integer, np.floating)):
        return _Arg((), "scalar", [float(x)])
    if isinstance(x, np.ndarray):
        kind = "array"
        array = x
    elif isinstance(x, (list, tuple)):
        kind = type(x).__name__
        try:
            array = np.array(x)
        except ValueError:  # numpy >= 1.24 refuses ragged nesting
            array = np.array(x, dtype=object)
        if array.dtype == object:
            raise ValueError(f"{who}() argument {i} is ragged: its lists differ in length")
    else:
        raise TypeError(
            f"{who}() argument {i} must be a real number, a sequence of them or a numpy array, "
            f"got {type(x).__name__}"
        )
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{who}() argument {i} must hold real numbers, got dtype {array.dtype}")
    return _Arg(array.shape, kind, array.astype(np.float64).ravel().tolist())


def _shaped(items: list[Any], spec: _Arg) -> Any:
    """``items`` (Values or Duals) in the container and shape of the argument they stand for."""
    if spec.kind == "scalar":
        return items[0]
    flat: np.ndarray = np.empty(len(items), dtype=object)
    flat[:] = items
    array = flat.reshape(spec.shape)
    if spec.kind == "array":
        return array
    nested = array.tolist()
    return tuple(nested) if spec.kind == "tuple" else nested


def _prepare(
    args: tuple[Any, ...], argnums: object, who: str
) -> tuple[tuple[int, ...], bool, list[_Arg]]:
    nums, single = _argnums(argnums, len(args), who)
    return nums, single, [_arg(args[i], i, who) for i in nums]


def _call_with(
    f: Fn, args: tuple[Any, ...], nums: tuple[int, ...], specs: list[_Arg], leaves: list[list[Any]]
) -> Any:
    call = list(args)
    for i, spec, items in zip(nums, specs, leaves):
        call[i] = _shaped(items, spec)
    return f(*call)


# ------------------------------------------------------------------------------------------------
# Outputs: a shape and a flat list of Values (or Duals) and numbers.
# ------------------------------------------------------------------------------------------------


def _split_aux(out: Any, has_aux: bool, who: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{who}() with has_aux=True needs f to return a pair (output, aux)")
    return out[0], out[1]


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_)
    )


def _flatten(out: Any, node: type, who: str) -> tuple[tuple[int, ...], list[Any]]:
    """The shape of ``f``'s output and its items, each a ``node`` or a float."""
    if isinstance(out, np.ndarray):
        shape: tuple[int, ...] = out.shape
        items: list[Any] = out.ravel().tolist()
    elif isinstance(out, (list, tuple)):
        shape, items = _nested(out, who)
    else:
        shape, items = (), [out]
    for k, item in enumerate(items):
        if isinstance(item, node):
            continue
        if _is_number(item):
            items[k] = float(item)
            continue
        where = "" if not shape else f" (item {k} of an output of shape {shape})"
        kind = f"{type(item).__module__}.{type(item).__qualname__}"
        raise TypeError(
            f"{who}() needs f to return {node.__module__}.{node.__qualname__}s or numbers, "
            f"got a {kind}{where}"
        )
    return shape, items


def _nested(out: list[Any] | tuple[Any, ...], who: str) -> tuple[tuple[int, ...], list[Any]]:
    def is_seq(x: object) -> bool:
        return isinstance(x, (list, tuple, np.ndarray))

    if not out or not is_seq(out[0]):
        if any(is_seq(x) for x in out):
            raise ValueError(f"{who}() needs f's output to be rectangular, got ragged nesting")
        return (len(out),), list(out)
    parts = [_nested(list(x) if isinstance(x, np.ndarray) else x, who) for x in out]
    if any(p[0] != parts[0][0] for p in parts) or not all(is_seq(x) for x in out):
        raise ValueError(f"{who}() needs f's output to be rectangular, got ragged nesting")
    return (len(out), *parts[0][0]), [item for p in parts for item in p[1]]


def _scalar_output(shape: tuple[int, ...], who: str) -> None:
    if shape != ():
        raise TypeError(
            f"{who}() needs f to return a scalar, got an output of shape {shape}; "
            "use jacobian() for a function with several outputs"
        )


def _number_or_array(flat: list[float], shape: tuple[int, ...]) -> Any:
    if shape == ():
        return flat[0]
    return np.array(flat, dtype=np.float64).reshape(shape)


# ------------------------------------------------------------------------------------------------
# Reverse mode.
# ------------------------------------------------------------------------------------------------


class _Traced(NamedTuple):
    shape: tuple[int, ...]
    items: list[Any]  # Values and floats
    leaves: list[list[Any]]  # per differentiated argument
    aux: Any


@enable_grad()  # an outer no_grad does not apply to the transforms' own graph (torch.func's rule)
def _trace(
    f: Fn,
    args: tuple[Any, ...],
    nums: tuple[int, ...],
    specs: list[_Arg],
    kit: _engines.Engine,
    has_aux: bool,
    who: str,
) -> _Traced:
    leaves = [[kit.Value(x) for x in spec.flat] for spec in specs]
    out, aux = _split_aux(_call_with(f, args, nums, specs, leaves), has_aux, who)
    shape, items = _flatten(out, kit.Value, who)
    return _Traced(shape, items, leaves, aux)


def _sweep(item: Any, leaves: list[list[Any]]) -> list[list[float]]:
    """The gradient of one output item with respect to every leaf, from one backward sweep."""
    for group in leaves:
        for v in group:
            v.grad = 0.0
    if isinstance(item, float):
        return [[0.0] * len(group) for group in leaves]
    item.backward()
    return [[v.grad for v in group] for group in leaves]


def _values(traced: _Traced) -> Any:
    flat = [x if isinstance(x, float) else x.data for x in traced.items]
    return _number_or_array(flat, traced.shape)


def _jacobian_blocks(traced: _Traced, specs: list[_Arg]) -> list[Any]:
    rows = [_sweep(item, traced.leaves) for item in traced.items]  # one sweep per output item
    blocks = []
    for a, spec in enumerate(specs):
        flat = [x for row in rows for x in row[a]]
        blocks.append(_number_or_array(flat, traced.shape + spec.shape))
    return blocks


def _pick(blocks: list[Any], single: bool) -> Any:
    return blocks[0] if single else tuple(blocks)


def _check_callable(f: object, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who}() needs a callable, got {type(f).__name__}")


def value_and_grad(
    f: Fn, argnums: Argnums = 0, has_aux: bool = False, *, engine: str | None = None
) -> Fn:
    """A function giving ``(f(*args), grad)``, or ``((f(*args), aux), grad)`` with ``has_aux``.

    ``f`` must return a scalar (a Value or a number); ``TypeError`` otherwise. One graph, one
    backward sweep.
    """
    _check_callable(f, "value_and_grad")
    kit = _kit(engine)

    def value_and_grad_f(*args: Any) -> Any:
        nums, single, specs = _prepare(args, argnums, "value_and_grad")
        traced = _trace(f, args, nums, specs, kit, has_aux, "value_and_grad")
        _scalar_output(traced.shape, "value_and_grad")
        grads = _pick(_jacobian_blocks(traced, specs), single)
        value = _values(traced)
        return ((value, traced.aux) if has_aux else value), grads

    return value_and_grad_f


def grad(f: Fn, argnums: Argnums = 0, has_aux: bool = False, *, engine: str | None = None) -> Fn:
    """The gradient of scalar ``f`` with respect to argument ``argnums`` (or a tuple of them).

    Shaped like the argument: a float for a number, an array for a sequence or array. With
    ``has_aux``, ``f`` returns ``(output, aux)`` and the function gives ``(grad, aux)``.
    """
    _check_callable(f, "grad")
    inner = value_and_grad(f, argnums, has_aux, engine=engine)

    def grad_f(*args: Any) -> Any:
        value, g = inner(*args)
        return (g, value[1]) if has_aux else g

    return grad_f


def jacobian(
    f: Fn, argnums: Argnums = 0, has_aux: bool = False, *, engine: str | None = None
) -> Fn:
    """The Jacobian of ``f`` in reverse mode (JAX's ``jacrev``), shape ``output + argument``.

    ``f`` runs once; each output item gets one backward sweep over that shared graph.
    """
    _check_callable(f, "jacobian")
    kit = _kit(engine)

    def jacobian_f(*args: Any) -> Any:
        nums, single, specs = _prepare(args, argnums, "jacobian")
        traced = _trace(f, args, nums, specs, kit, has_aux, "jacobian")
        jac = _pick(_jacobian_blocks(traced, specs), single)
        return (jac, traced.aux) if has_aux else jac

    return jacobian_f


jacrev = jacobian


def vjp(f: Fn, *primals: Any, has_aux: bool = False, engine: str | None = None) -> Any:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` gives one cotangent per primal.

    The cotangent has the output's shape; each call of ``vjp_fn`` is one backward sweep over
    the graph built here. With ``has_aux``, the result is ``(output, vjp_fn, aux)``.
    """
    _check_callable(f, "vjp")
    kit = _kit(engine)
    nums = tuple(range(len(primals)))
    specs = [_arg(x, i, "vjp") for i, x in enumerate(primals)]
    traced = _trace(f, primals, nums, specs, kit, has_aux, "vjp")
    values = [x for x in traced.items if not isinstance(x, float)]
    weights_at = [k for k, x in enumerate(traced.items) if not isinstance(x, float)]
    dot = kit.dot

    @enable_grad()
    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        ct = np.asarray(cotangent)
        if ct.dtype.kind not in "biuf" or ct.shape != traced.shape:
            raise ValueError(
                f"vjp_fn() needs a cotangent of real numbers shaped like the output "
                f"{traced.shape}, got shape {ct.shape} and dtype {ct.dtype}"
            )
        weights = ct.astype(np.float64).ravel().tolist()
        rows = _sweep(
            dot([weights[k] for k in weights_at], values) if values else 0.0, traced.leaves
        )
        return tuple(_number_or_array(row, spec.shape) for row, spec in zip(rows, specs))

    out = _values(traced)
    return (out, vjp_fn, traced.aux) if has_aux else (out, vjp_fn)


# ------------------------------------------------------------------------------------------------
# Forward mode.
# ------------------------------------------------------------------------------------------------


def _dual_parts(
    out: Any, kit: _engines.Engine, who: str
) -> tuple[tuple[int, ...], list[float], list[float]]:
    shape, items = _flatten(out, kit.Dual, who)
    data = [x if isinstance(x, float) else x.data for x in items]
    tangents = [0.0 if isinstance(x, float) else x.tangent for x in items]
    return shape, data, tangents


def jacfwd(f: Fn, argnums: Argnums = 0, has_aux: bool = False, *, engine: str | None = None) -> Fn:
    """The Jacobian of ``f`` in forward mode: ``f`` runs on Duals once per input component.

    Same shapes as :func:`jacobian`; the better choice when outputs outnumber inputs.
    """
    _check_callable(f, "jacfwd")
    kit = _kit(engine)

    def jacfwd_f(*args: Any) -> Any:
        nums, single, specs = _prepare(args, argnums, "jacfwd")
        columns: list[list[list[float]]] = []  # per argument, per component: d output
        shape: tuple[int, ...] = ()
        aux = None
        for a, spec in enumerate(specs):
            per_arg = []
            for j in range(len(spec.flat)):
                duals = [
                    [kit.Dual(x, 1.0 if (b == a and k == j) else 0.0) for k, x in enumerate(s.flat)]
                    for b, s in enumerate(specs)
                ]
                out, aux = _split_aux(_call_with(f, args, nums, specs, duals), has_aux, "jacfwd")
                shape, _, tangent = _dual_parts(out, kit, "jacfwd")
                per_arg.append(tangent)
            columns.append(per_arg)
        if not any(s.flat for s in specs):  # nothing to seed: one pass for the output's shape
            duals = [[] for _ in specs]
            out, aux = _split_aux(_call_with(f, args, nums, specs, duals), has_aux, "jacfwd")
            shape = _dual_parts(out, kit, "jacfwd")[0]
        blocks = []
        for spec, cols in zip(specs, columns):
            # cols[j][k] = d out_k / d x_j; the block is out-major.
            n_out = math.prod(shape)
            flat = [cols[j][k] for k in range(n_out) for j in range(len(spec.flat))]
            blocks.append(_number_or_array(flat, shape + spec.shape))
        jac = _pick(blocks, single)
        return (jac, aux) if has_aux else jac

    return jacfwd_f


def jvp(
    f: Fn,
    primals: Sequence[Any],
    tangents: Sequence[Any],
    has_aux: bool = False,
    *,
    engine: str | None = None,
) -> Any:
    """``(f(*primals), derivative of f along tangents)`` in one forward pass on Duals.

    ``primals`` and ``tangents`` are lists or tuples with one entry per argument of ``f``, each
    tangent shaped like its primal. Gives floats for a scalar output, else arrays shaped like it;
    with ``has_aux``, ``(output, tangent, aux)``.
    """
    _check_callable(f, "jvp")
    kit = _kit(engine)
    for name, seq in (("primals", primals), ("tangents", tangents)):
        if not isinstance(seq, (list, tuple)):
            raise TypeError(
                f"jvp() needs {name} as a list or tuple (one entry per argument of f), "
                f"got {type(seq).__name__}"
            )
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp() needs as many tangents as primals, got {len(tangents)} and {len(primals)}"
        )
    specs = [_arg(x, i, "jvp") for i, x in enumerate(primals)]
    duals = []
    for i, (spec, t) in enumerate(zip(specs, tangents)):
        tspec = _arg(t, i, "jvp")
        if tspec.shape != spec.shape:
            raise ValueError(
                f"jvp() tangent {i} has shape {tspec.shape} but its primal has shape {spec.shape}"
            )
        duals.append([kit.Dual(x, dx) for x, dx in zip(spec.flat, tspec.flat)])
    nums = tuple(range(len(primals)))
    out, aux = _split_aux(_call_with(f, tuple(primals), nums, specs, duals), has_aux, "jvp")
    shape, data, tangent = _dual_parts(out, kit, "jvp")
    result = (_number_or_array(data, shape), _number_or_array(tangent, shape))
    return (*result, aux) if has_aux else result


# ------------------------------------------------------------------------------------------------
# Second order.
# ------------------------------------------------------------------------------------------------


def hessian(f: Fn, argnums: Argnums = 0, has_aux: bool = False, *, engine: str | None = None) -> Fn:
    """The Hessian of ``f``: shape ``output + argument + argument``, exact.

    With an ``argnums`` tuple, ``H[i][j]`` is the block for arguments ``argnums[i]`` and
    ``argnums[j]``. On the Rust engine the graph built at the point is recorded as one tape of
    every output item and each item differentiated forward over reverse; on the reference
    engine, reverse over reverse.
    """
    _check_callable(f, "hessian")
    kit = _kit(engine)

    @enable_grad()
    def hessian_f(*args: Any) -> Any:
        nums, single, specs = _prepare(args, argnums, "hessian")
        traced = _trace(f, args, nums, specs, kit, has_aux, "hessian")
        n = sum(len(s.flat) for s in specs)
        if kit.name == "rust":
            full = _hessians_by_tape(traced)
        else:
            full = [_hessian_by_replay(item, traced.leaves, n) for item in traced.items]
        offsets = np.cumsum([0] + [len(s.flat) for s in specs]).tolist()
        stacked = np.array(full, dtype=np.float64).reshape(len(traced.items), n, n)
        blocks = []
        for a, sa in enumerate(specs):
            row = []
            for b, sb in enumerate(specs):
                part = stacked[:, offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]]
                row.append(
                    _number_or_array(part.ravel().tolist(), traced.shape + sa.shape + sb.shape)
                )
            blocks.append(row[0] if single else tuple(row))
        h = blocks[0] if single else tuple(blocks)
        return (h, traced.aux) if has_aux else h

    return hessian_f


def _hessians_by_tape(traced: _Traced) -> list[list[float]]:
    """Every output item's Hessian from one tape of all the items, recorded from the graph
    built at the point: shared subexpressions once, each Hessian bit for bit its item's own."""
    inputs = [v for group in traced.leaves for v in group]
    point = [v.data for v in inputs]
    n = len(inputs)
    if not traced.items or n == 0:
        return [[] for _ in traced.items]
    outputs = [_core.Value(x) if isinstance(x, float) else x for x in traced.items]
    flat = _core.Tape.record_many(inputs, outputs).hessians(point)
    return [flat[k * n * n : (k + 1) * n * n] for k in range(len(outputs))]


def _hessian_by_replay(item: Any, leaves: list[list[Any]], n: int) -> list[float]:
    """The Hessian of one reference-engine output: its gradient rebuilt as graphs, then each
    gradient component swept backward."""
    flat = [v for group in leaves for v in group]
    if isinstance(item, float):
        return [0.0] * (n * n)
    adjoint = _symbolic_adjoints(item, flat)
    rows: list[float] = []
    for v in flat:
        g = adjoint.get(id(v))
        rows.extend(
            _sweep(g, [flat])[0] if g is not None and not isinstance(g, float) else [0.0] * n
        )
    return rows


def _symbolic_adjoints(out: Any, inputs: list[Any]) -> dict[int, Any]:
    """Every ancestor's adjoint as a reference Value (or a float when it is constant): the
    reference engine's backward formulas, written with Value operations so they differentiate.
    Only nodes that depend on ``inputs`` get adjoints."""
    order = out._topo_order()
    needs = {id(v) for v in inputs}
    for v in order:
        if any(id(c) in needs for c in v.children):
            needs.add(id(v))
    adj: dict[int, Any] = {id(out): 1.0}
    for z in reversed(order):
        g = adj.get(id(z))
        if g is None or not z.children:
            continue
        for child, contribution in _adjoint_terms(z, g, needs):
            key = id(child)
            if key in needs:
                adj[key] = contribution if key not in adj else adj[key] + contribution
    return adj


def _silu_slope(x: Any, z: Any) -> Any:
    # The limit (a constant) at ±inf, as the op table's slope.
    s = x.sigmoid()
    return s.data if math.isinf(x.data) else s * (1.0 + x * (-x).sigmoid())


def _gelu_slope(x: Any, z: Any) -> Any:
    cdf = 0.5 * (-x * _R._FRAC_1_SQRT_2).erfc()
    if math.isinf(x.data):
        return cdf.data
    return cdf + x * ((-0.5 * x * x).exp() * _R._FRAC_1_SQRT_2PI)


def _gelu_tanh_slope(x: Any, z: Any) -> Any:
    u2 = 2.0 * (_R._SQRT_2_OVER_PI * (x + _R._GELU_KAPPA * (x * x * x)))
    s = u2.sigmoid()
    t = s * (-u2).sigmoid()
    if t.data == 0.0:
        return s.data  # flat: a constant
    du = _R._SQRT_2_OVER_PI * (1.0 + (3.0 * _R._GELU_KAPPA) * (x * x))
    return s + 2.0 * x * t * du


def _sqrt_sq_minus_1(a: Any) -> Any:
    return (a - 1.0).sqrt() * (a + 1.0).sqrt()


def _erf_slope(x: Any, z: Any) -> Any:
    # Where the slope underflows to 0 (at ±inf too) it is the constant 0, so its derivative is
    # 0, as the core's, and not -2x · 0 = nan at ±inf.
    if _R._FRAC_2_SQRT_PI * math.exp(-(x.data * x.data)) == 0.0:
        return 0.0
    return _R._FRAC_2_SQRT_PI * (-(x * x)).exp()


def _share(x: Any, y: Any, below: bool) -> tuple[float, float]:
    # torch's shares of minimum's (below) or maximum's gradient: half each at a tie, all to
    # each where one is nan (no comparison holds), as the op table's backward gives them.
    a, b = x.data, y.data
    if a == b:
        return 0.5, 0.5
    if math.isnan(a) or math.isnan(b):
        return 1.0, 1.0
    first = a < b if below else a > b
    return (1.0, 0.0) if first else (0.0, 1.0)


# The binary methods: (∂z/∂x, ∂z/∂y) as Value operations, or as plain numbers where they are
# piecewise constant (minimum, maximum, the clamps).
_BINARY_PARTIALS: dict[str, Callable[[Any, Any, Any], tuple[Any, Any]]] = {
    "atan2": lambda x, y, z: (y / (x * x + y * y), -x / (x * x + y * y)),
    "hypot": lambda x, y, z: (x / z, y / z),
    "minimum": lambda x, y, z: _share(x, y, True),
    "maximum": lambda x, y, z: _share(x, y, False),
    "clamp_min": lambda x, y, z: (float(x.data >= y.data), float(x.data < y.data)),
    "clamp_max": lambda x, y, z: (float(x.data <= y.data), float(x.data > y.data)),
}


# acos ... gelu_tanh: each slope ∂z/∂x as Value operations (the op table's formulas), so that
# the adjoint differentiates again.
_SLOPES: dict[str, Callable[[Any, Any], Any]] = {
    "acos": lambda x, z: -1.0 / ((1.0 - x) * (1.0 + x)).sqrt(),
    "atan": lambda x, z: 1.0 / (1.0 + x * x),
    "cot": lambda x, z: -(1.0 + z * z),
    "sec": lambda x, z: z * x.tan(),
    "csc": lambda x, z: -(z / x.tan()),
    "acot": lambda x, z: -1.0 / (1.0 + x * x),
    "asec": lambda x, z: 1.0 / abs(x) / _sqrt_sq_minus_1(abs(x)),
    "acsc": lambda x, z: -1.0 / abs(x) / _sqrt_sq_minus_1(abs(x)),
    "sinh": lambda x, z: x.cosh(),
    "cosh": lambda x, z: x.sinh(),
    "asinh": lambda x, z: 1.0 / (1.0 + x * x).sqrt(),
    "acosh": lambda x, z: 1.0 / _sqrt_sq_minus_1(x),
    # nan outside [-1, 1], as the gradient, and moving with x, so the Hessian is nan there too.
    "atanh": lambda x, z: 1.0 / ((1.0 - x) * (1.0 + x)) if abs(x.data) <= 1.0 else x * math.nan,
    "log1p": lambda x, z: 1.0 / (x + 1.0),
    "expm1": lambda x, z: x.exp(),
    "log2": lambda x, z: 1.0 / (x * _R._LN_2),
    "log10": lambda x, z: 1.0 / (x * _R._LN_10),
    "exp2": lambda x, z: z * _R._LN_2,
    "cbrt": lambda x, z: 1.0 / (3.0 * z * z),
    "erf": _erf_slope,
    "erfc": lambda x, z: -_erf_slope(x, z),
    "softplus": lambda x, z: x.sigmoid(),
    "silu": _silu_slope,
    "gelu": _gelu_slope,
    "gelu_tanh": _gelu_tanh_slope,
}


def _adjoint_terms(z: Any, g: Any, needs: set[int]) -> list[tuple[Any, Any]]:
    op, ch = z.op, z.children
    if op == "+":
        return [(ch[0], g), (ch[1], g)]
    if op == "-":
        return [(ch[0], g), (ch[1], -g)]
    if op == "*":
        return [(ch[0], ch[1] * g), (ch[1], ch[0] * g)]
    if op == "/":
        return [(ch[0], g / ch[1]), (ch[1], -(z / ch[1]) * g)]
    if op == "**":
        base, power = ch
        terms = []
        if power.data != 0.0 and id(base) in needs:
            terms.append((base, power * base ** (power - 1.0) * g))
        if not (base.data == 0.0 and power.data >= 0.0) and id(power) in needs:
            terms.append((power, z * base.log() * g))
        return terms
    if op in _BINARY_PARTIALS:
        # A share of exactly 0 (a piecewise-constant op's other side) adds no term.
        partials = zip(ch, _BINARY_PARTIALS[op](ch[0], ch[1], z))
        return [(c, d * g) for c, d in partials if not (isinstance(d, float) and d == 0.0)]
    x = ch[0]
    if op == "neg":
        return [(x, -g)]
    if op == "relu":
        return [(x, g)] if x.data > 0.0 else []
    if op == "leaky_relu":
        return [(x, g if x.data > 0.0 else z._param * g)]
    if op == "abs":
        return [(x, g)] if x.data > 0.0 else [(x, -g)] if x.data < 0.0 else []
    if op == "tanh":
        return [(x, (1.0 - z * z) * g)]
    if op == "sigmoid":
        return [(x, z * (1.0 - z) * g)]
    if op == "exp":
        return [(x, z * g)]
    if op == "log":
        return [(x, g / x)]
    if op == "sin":
        return [(x, x.cos() * g)]
    if op == "cos":
        return [(x, -x.sin() * g)]
    if op == "tan":
        return [(x, (1.0 + z * z) * g)]
    if op == "sqrt":
        return [(x, (0.5 / z) * g)]
    if op == "asin":
        return [(x, g / ((1.0 - x) * (1.0 + x)).sqrt())]
    if op in _SLOPES:
        return [(x, _SLOPES[op](x, z) * g)]
    if op == "sum":
        return [(c, g) for c in ch]
    if op == "dot":
        m = len(ch) // 2
        return [(w, x * g) for w, x in zip(ch[:m], ch[m:])] + [
            (x, w * g) for w, x in zip(ch[:m], ch[m:])
        ]
    raise TypeError(f"hessian() cannot differentiate the op {op!r} twice on the reference engine")
