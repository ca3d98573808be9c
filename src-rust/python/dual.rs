//! The `Dual` class: forward mode without a graph, with the op table's formulas.

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString};

use super::convert::{gelu_code, no_dual_number, no_modulus, real_number, require_real, type_name};
use crate::ops::{binary_forward, check_slope, unary_forward, with_op_list, Code, DEFAULT_SLOPE};
use crate::scalar::{Dual, Real};

/// The `#[pymethods]` of `Dual`: as `Value`'s, each carrying the tangent along (the unary
/// entries read one by one, `log`, which takes an optional base, by its own rule).
macro_rules! py_dual_methods {
    (
        extra { $($extra:tt)* }
        binary { $($binary:tt)* }
        unary { $($unary:tt)* }
        operator { $($operator:tt)* }
        param { $($param:tt)* }
        binary_method { $(
            $(#[$mdoc:meta])*
            $mcode:literal $MCode:ident $mmodule:ident $MOP:ident $mname:literal
                $(alias $malias:ident)*
                forward |$mfx:ident, $mfy:ident| $mforward:expr,
                backward |$mbx:ident, $mby:ident, $mbz:ident, $mbg:ident| $mbackward:expr;
        )* }
    ) => {
        py_dual_methods! {
            @unary [
                $(
                    $(#[$mdoc])*
                    fn $mmodule(&self, other: &Bound<'_, PyAny>) -> PyResult<PyDual> {
                        let other = method_dual(other, concat!($mname, "()"))?;
                        Ok(PyDual {
                            dual: binary_forward(Code::$MCode, self.dual, other),
                        })
                    }
                    $(
                        #[doc = concat!("numpy's name for `", $mname, "()`: the same op.")]
                        fn $malias(&self, other: &Bound<'_, PyAny>) -> PyResult<PyDual> {
                            self.$mmodule(other)
                        }
                    )*
                )*
                $($extra)*
            ]
            $($unary)*
        }
    };
    (@unary [$($out:tt)*]) => {
        #[pymethods]
        impl PyDual {
            $($out)*
        }
    };
    (
        @unary [$($out:tt)*]
        $(#[$doc:meta])*
        $code:literal $Code:ident log $OP:ident $name:literal
            $(alias $alias:ident)*
            forward |$fx:ident, $fp:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
        $($rest:tt)*
    ) => {
        py_dual_methods! {
            @unary [
                $($out)*
                /// The natural logarithm, or with a base (a number or a Dual) the logarithm
                /// `ln(self) / ln(base)` to that base.
                #[pyo3(signature = (base = None))]
                fn log(&self, base: Option<&Bound<'_, PyAny>>) -> PyResult<PyDual> {
                    let ln = self.dual.unary_op(Code::Log, 0.0);
                    let Some(base) = base else {
                        return Ok(PyDual { dual: ln });
                    };
                    let ln_base = match base.cast::<PyDual>() {
                        Ok(b) => b.get().dual.unary_op(Code::Log, 0.0),
                        Err(_) => Dual::lift(unary_forward(
                            Code::Log,
                            require_real(base, "log() base")?,
                            0.0,
                        )),
                    };
                    Ok(PyDual {
                        dual: binary_forward(Code::Div, ln, ln_base),
                    })
                }
            ]
            $($rest)*
        }
    };
    (
        @unary [$($out:tt)*]
        $(#[$doc:meta])*
        $code:literal $Code:ident $module:ident $OP:ident $name:literal
            $(alias $alias:ident)*
            forward |$fx:ident, $fp:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
        $($rest:tt)*
    ) => {
        py_dual_methods! {
            @unary [
                $($out)*
                $(#[$doc])*
                fn $module(&self) -> PyDual {
                    self.unary(Code::$Code, 0.0)
                }
                $(
                    #[doc = concat!("numpy's name for `", stringify!($module), "()`: the same op.")]
                    fn $alias(&self) -> PyDual {
                        self.unary(Code::$Code, 0.0)
                    }
                )*
            ]
            $($rest)*
        }
    };
}

/// A number with a tangent, for forward-mode derivatives without a graph: every op of
/// `Value` (same names, same formulas), carrying `d(result)/dt` along. Refused, as a `Value`
/// is, wherever a plain number is expected: the number would carry no tangent.
#[pyclass(name = "Dual", module = "ferrograd", frozen)]
pub struct PyDual {
    dual: Dual,
}

pub(super) fn dual_operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Dual>> {
    if let Ok(d) = obj.cast::<PyDual>() {
        return Ok(Some(d.get().dual));
    }
    Ok(real_number(obj)?.map(Dual::lift))
}

/// `other` as an operand of a method (`y.atan2(x)`): a Dual as it is, a number as a constant,
/// anything else `TypeError` naming `what`.
fn method_dual(other: &Bound<'_, PyAny>, what: &str) -> PyResult<Dual> {
    dual_operand(other)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} needs a Dual or a real number, got {}",
            type_name(other)
        ))
    })
}

impl PyDual {
    fn unary(&self, code: Code, p: f64) -> PyDual {
        PyDual {
            dual: self.dual.unary_op(code, p),
        }
    }

    fn binary(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        code: Code,
        reflected: bool,
    ) -> PyResult<Py<PyAny>> {
        let Some(o) = dual_operand(other)? else {
            return Ok(py.NotImplemented());
        };
        let (x, y) = if reflected {
            (o, self.dual)
        } else {
            (self.dual, o)
        };
        Ok(Py::new(
            py,
            PyDual {
                dual: binary_forward(code, x, y),
            },
        )?
        .into_any())
    }
}

with_op_list! { py_dual_methods,
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Add, false)
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Add, true)
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Sub, false)
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Sub, true)
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Mul, false)
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Mul, true)
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Div, false)
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Div, true)
    }

    fn __neg__(&self) -> PyDual {
        self.unary(Code::Neg, 0.0)
    }

    fn __abs__(&self) -> PyDual {
        self.unary(Code::Abs, 0.0)
    }

    #[new]
    #[pyo3(signature = (data, tangent = None))]
    fn py_new(data: &Bound<'_, PyAny>, tangent: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let tangent = match tangent {
            Some(t) => require_real(t, "Dual() tangent")?,
            None => 0.0,
        };
        Ok(PyDual {
            dual: Dual::new(require_real(data, "Dual()")?, tangent),
        })
    }

    /// The value.
    #[getter]
    fn data(&self) -> f64 {
        self.dual.re
    }

    /// The derivative carried along.
    #[getter]
    fn tangent(&self) -> f64 {
        self.dual.eps
    }

    fn __pos__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __pow__(
        &self,
        py: Python<'_>,
        exponent: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Dual")?;
        self.binary(py, exponent, Code::Pow, false)
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        base: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Dual")?;
        self.binary(py, base, Code::Pow, true)
    }

    /// `x` where positive, else `slope * x` (slope 0.01 when None), with its tangent.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(&self, slope: Option<&Bound<'_, PyAny>>) -> PyResult<PyDual> {
        let slope = match slope {
            Some(s) => require_real(s, "leaky_relu() slope")?,
            None => DEFAULT_SLOPE,
        };
        let slope = check_slope(slope)?;
        Ok(self.unary(Code::LeakyRelu, slope))
    }

    /// GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation.
    #[pyo3(signature = (approximate = None), text_signature = "($self, approximate='none')")]
    fn gelu(&self, approximate: Option<&Bound<'_, PyAny>>) -> PyResult<PyDual> {
        let code = match approximate {
            Some(a) => gelu_code(a)?,
            None => Code::Gelu,
        };
        Ok(self.unary(code, 0.0))
    }

    /// `self` bounded below by `lo` and above by `hi`, each a number, a Dual or None (no
    /// bound): `clamp_min(lo)`, then `clamp_max(hi)`.
    #[pyo3(signature = (lo = None, hi = None))]
    fn clamp(
        &self,
        lo: Option<&Bound<'_, PyAny>>,
        hi: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDual> {
        if lo.is_none() && hi.is_none() {
            return Err(PyTypeError::new_err("clamp() needs lo or hi (or both), got neither"));
        }
        let mut z = self.dual;
        if let Some(lo) = lo {
            z = binary_forward(Code::ClampMin, z, method_dual(lo, "clamp() lo")?);
        }
        if let Some(hi) = hi {
            z = binary_forward(Code::ClampMax, z, method_dual(hi, "clamp() hi")?);
        }
        Ok(PyDual { dual: z })
    }

    /// Refused: a plain number carries no tangent (`TypeError` saying what to use).
    fn __float__(&self) -> PyResult<f64> {
        Err(no_dual_number("float(d)"))
    }

    /// Refused, as `float()`.
    fn __int__(&self) -> PyResult<i64> {
        Err(no_dual_number("int(d)"))
    }

    /// Refused, as `float()` (an index is a plain number too).
    fn __index__(&self) -> PyResult<i64> {
        Err(no_dual_number("int(d)"))
    }

    /// Refused: `if d:` would branch on a number that carries no tangent.
    fn __bool__(&self) -> PyResult<bool> {
        Err(no_dual_number("bool(d)"))
    }

    /// Refused, as `float()`.
    #[pyo3(signature = (ndigits = None))]
    fn __round__(&self, ndigits: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
        let _ = ndigits;
        Err(no_dual_number("round(d)"))
    }

    /// `data`, the value, as a float: the number, without its tangent.
    fn item(&self) -> f64 {
        self.dual.re
    }

    /// `format(d.data, spec)`, so f-strings work; an empty spec is `str(d)`.
    fn __format__(&self, py: Python<'_>, spec: &Bound<'_, PyString>) -> PyResult<String> {
        if spec.to_cow()?.is_empty() {
            return self.__repr__(py);
        }
        let text = PyFloat::new(py, self.dual.re).call_method1("__format__", (spec,))?;
        Ok(text.cast_into::<PyString>()?.to_cow()?.into_owned())
    }

    /// `==`/`!=` by identity; `<`, `<=`, `>`, `>=` are refused (`TypeError`): they would
    /// compare numbers that carry no tangent.
    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let _ = other;
        match op {
            CompareOp::Eq | CompareOp::Ne => Ok(py.NotImplemented()),
            CompareOp::Lt => Err(no_dual_number("d < e")),
            CompareOp::Le => Err(no_dual_number("d <= e")),
            CompareOp::Gt => Err(no_dual_number("d > e")),
            CompareOp::Ge => Err(no_dual_number("d >= e")),
        }
    }

    /// By identity, as before comparisons were refused.
    fn __hash__(slf: PyRef<'_, Self>) -> u64 {
        slf.as_ptr() as usize as u64
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = PyFloat::new(py, self.dual.re).repr()?;
        let tangent = PyFloat::new(py, self.dual.eps).repr()?;
        Ok(format!("Dual(data={data}, tangent={tangent})"))
    }
}
