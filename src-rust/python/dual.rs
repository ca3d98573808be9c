//! The `Dual` class: forward mode without a graph, with the op table's formulas.

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString};

use std::marker::PhantomData;

use super::convert::{
    no_dual_number, no_modulus, real_number, type_name, ClampHi, ClampLo, DualData, DualTangent,
    GeluForm, LogBase, MethodOf, Named, RealArg, Slope,
};
use crate::ops::{binary_forward, check_slope, unary_forward, with_op_list, Code};
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
                    fn $mmodule(
                        &self,
                        other: DualArg<MethodOf<{ Code::$MCode as usize }>>,
                    ) -> PyDual {
                        PyDual {
                            dual: binary_forward(Code::$MCode, self.dual, other.0),
                        }
                    }
                    $(
                        #[doc = concat!("numpy's name for `", $mname, "()`: the same op.")]
                        fn $malias(
                            &self,
                            other: DualArg<MethodOf<{ Code::$MCode as usize }>>,
                        ) -> PyDual {
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
                fn log(&self, base: Option<DualBase>) -> PyDual {
                    let ln = self.dual.unary_op(Code::Log, 0.0);
                    let Some(base) = base else {
                        return PyDual { dual: ln };
                    };
                    let ln_base = match base {
                        DualBase::Dual(b) => b.unary_op(Code::Log, 0.0),
                        DualBase::Number(b) => Dual::lift(unary_forward(Code::Log, b, 0.0)),
                    };
                    PyDual {
                        dual: binary_forward(Code::Div, ln, ln_base),
                    }
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

/// A number with a tangent: forward-mode derivatives without a graph.
///
/// Has every op of `Value` (same names, same formulas); `tangent` carries the derivative,
/// `d(result)/dt`, along. Duals are immutable and compare by identity, and are refused, as a
/// `Value` is, wherever a plain number is expected: the number would carry no tangent.
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

/// An operand of a method (`y.atan2(x)`, `clamp(lo)`; `W` names it): a Dual as it is, a
/// number as a constant, anything else the `TypeError` "`W` needs a Dual or a real number".
struct DualArg<W>(Dual, PhantomData<W>);

impl<'a, 'py, W: Named> FromPyObject<'a, 'py> for DualArg<W> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match dual_operand(&obj)? {
            Some(d) => Ok(DualArg(d, PhantomData)),
            None => Err(PyTypeError::new_err(format!(
                "{} needs a Dual or a real number, got {}",
                W::what(),
                type_name(&obj)
            ))),
        }
    }
}

/// `log(base)`'s base: a Dual or a number, else "log() base needs a real number".
enum DualBase {
    Dual(Dual),
    Number(f64),
}

impl<'a, 'py> FromPyObject<'a, 'py> for DualBase {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.cast::<PyDual>() {
            Ok(b) => Ok(DualBase::Dual(b.get().dual)),
            Err(_) => Ok(DualBase::Number(obj.extract::<RealArg<LogBase>>()?.0)),
        }
    }
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
    fn py_new(data: RealArg<DualData>, tangent: Option<RealArg<DualTangent>>) -> Self {
        PyDual {
            dual: Dual::new(data.0, tangent.map_or(0.0, |t| t.0)),
        }
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

    /// `x` where positive, else `slope * x`, with its tangent; `slope` None means 0.01
    /// (`DEFAULT_SLOPE`).
    ///
    /// `ValueError` unless the slope is finite and >= 0.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(&self, slope: Option<Slope>) -> PyResult<PyDual> {
        let slope = check_slope(Slope::or_default(slope))?;
        Ok(self.unary(Code::LeakyRelu, slope))
    }

    /// GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation.
    #[pyo3(signature = (approximate = None), text_signature = "($self, approximate='none')")]
    fn gelu(&self, approximate: Option<GeluForm>) -> PyDual {
        self.unary(GeluForm::or_default(approximate), 0.0)
    }

    /// `self` bounded below by `lo` and above by `hi`, each a number, a Dual or None (no
    /// bound): `clamp_min(lo)`, then `clamp_max(hi)`.
    #[pyo3(signature = (lo = None, hi = None))]
    fn clamp(
        &self,
        lo: Option<DualArg<ClampLo>>,
        hi: Option<DualArg<ClampHi>>,
    ) -> PyResult<PyDual> {
        if lo.is_none() && hi.is_none() {
            return Err(PyTypeError::new_err("clamp() needs lo or hi (or both), got neither"));
        }
        let mut z = self.dual;
        if let Some(lo) = lo {
            z = binary_forward(Code::ClampMin, z, lo.0);
        }
        if let Some(hi) = hi {
            z = binary_forward(Code::ClampMax, z, hi.0);
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
