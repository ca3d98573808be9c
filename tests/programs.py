"""Random scalar programs that run unchanged on ferrograd.Value, reference.Value and Dual."""

from __future__ import annotations

import random
from typing import Any, Callable

# Each op keeps its operands where it is smooth and defined, so finite differences and
# autograd have a derivative to agree with.
_UNARY: list[Callable[[Any], Any]] = [
    lambda a: a.tanh(),
    lambda a: a.sigmoid(),
    lambda a: a.sin(),
    lambda a: a.cos(),
    lambda a: (a * 0.3).exp(),
    lambda a: (a * a + 1.0).log(),
    lambda a: (a * a + 0.5).sqrt(),
    lambda a: -a,
    lambda a: a**2,
    lambda a: a**3,
    lambda a: (a * a + 1.0) ** -0.5,
    lambda a: abs(a) + 0.1,
    lambda a: a.leaky_relu(0.2),
    lambda a: (a + 3.0).relu(),
    lambda a: (a.tanh() * 0.9).asin(),
    lambda a: (a.tanh() * 0.9).acos(),
    lambda a: a.atan(),
    lambda a: (a.sigmoid() * 2.5 + 0.3).cot(),  # in (0.3, 2.8): away from the poles 0, pi
    lambda a: (a.tanh() * 1.2).sec(),
    lambda a: (a.sigmoid() * 2.5 + 0.3).csc(),
    lambda a: (a * a + 0.5).acot(),
    lambda a: (a * a + 1.5).asec(),
    lambda a: (-(a * a) - 1.5).acsc(),
    lambda a: (a * 0.5).sinh(),
    lambda a: (a * 0.5).cosh(),
    lambda a: a.asinh(),
    lambda a: (a * a + 1.2).acosh(),
    lambda a: (a.tanh() * 0.9).atanh(),
    lambda a: (a * a).log1p(),
    lambda a: (a * 0.3).expm1(),
    lambda a: (a * a + 0.5).log2(),
    lambda a: (a * a + 0.5).log10(),
    lambda a: (a * 0.3).exp2(),
    lambda a: (a * a + 0.5).cbrt(),
    lambda a: a.erf(),
    lambda a: a.erfc(),
    lambda a: a.softplus(),
    lambda a: a.silu(),
    lambda a: a.gelu(),
    lambda a: a.gelu(approximate="tanh"),
]
_BINARY: list[Callable[[Any, Any], Any]] = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: 2.0 - a * 0.5 + b,
    lambda a, b: (a * a + 1.0) ** (b.tanh()),
    lambda a, b: 1.5**a * b,
    lambda a, b: a.atan2(b * b + 0.5),
    lambda a, b: a.hypot(b * b + 0.5),
    lambda a, b: a.minimum(b) + a.maximum(b * 0.5),
    lambda a, b: a.clamp(b - 1.0, b + 1.0) + a.clamp_min(-0.5) * b.clamp_max(0.5),
    lambda a, b: (a * a + 1.0).log(b * b + 2.0) + a.clamp(hi=1.0),
]


def random_program(seed: int, n_inputs: int, n_ops: int = 12) -> Callable[..., Any]:
    """A function of ``n_inputs`` scalars built from ``n_ops`` random ops; same seed, same f."""
    rng = random.Random(seed)
    plan = []
    for k in range(n_ops):
        if rng.random() < 0.4:
            plan.append(("u", rng.randrange(len(_UNARY)), rng.randrange(n_inputs + k)))
        else:
            plan.append(
                (
                    "b",
                    rng.randrange(len(_BINARY)),
                    rng.randrange(n_inputs + k),
                    rng.randrange(n_inputs + k),
                )
            )

    def f(*xs: Any) -> Any:
        slots = list(xs)
        for step in plan:
            if step[0] == "u":
                slots.append(_UNARY[step[1]](slots[step[2]]))
            else:
                slots.append(_BINARY[step[1]](slots[step[2]], slots[step[3]]))
        # Mix in the last few results so the output depends on most of the program.
        out = slots[-1]
        for s in slots[-4:-1]:
            out = out + s * 0.25
        return out

    return f
