"""ferrograd: scalar reverse-mode automatic differentiation with a Rust core.

>>> from ferrograd import Value
>>> a, b = Value(2.0), Value(-3.0)
>>> d = a * b + 10
>>> d.backward()
>>> a.grad, b.grad
(-3.0, 2.0)

``ferrograd.Value`` is the fast engine (Rust); ``ferrograd.reference.Value`` is the same contract
in plain Python, for reading and for checking the fast one.
"""

from importlib.metadata import version as _version

from ferrograd import _functions, func, nn, reference, testing, viz
from ferrograd._anomaly import detect_anomaly
from ferrograd._core import Value, dot
from ferrograd._core import sum as sum  # ferrograd.sum, kept out of a star import's reach
from ferrograd._custom import CustomOp, custom_op
from ferrograd._functions import *  # the ops as functions: _functions.__all__
from ferrograd._grad_mode import enable_grad, is_grad_enabled, no_grad
from ferrograd.forward import Dual
from ferrograd.func import grad, hessian, jacfwd, jacobian, jvp, value_and_grad, vjp
from ferrograd.tape import PathChangedError, Tape, compile

# One version, set in Cargo.toml: maturin writes it into the installed metadata, read here.
__version__: str = _version("ferrograd")

__all__ = [
    "CustomOp",
    "Dual",
    "PathChangedError",
    "Tape",
    "Value",
    "__version__",
    "compile",
    "custom_op",
    "detect_anomaly",
    "dot",
    "enable_grad",
    "func",
    "grad",
    "hessian",
    "is_grad_enabled",
    "jacfwd",
    "jacobian",
    "jvp",
    "nn",
    "no_grad",
    "reference",
    "testing",
    "value_and_grad",
    "viz",
    "vjp",
]
__all__ += _functions.__all__
