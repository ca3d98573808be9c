//! The `Dual` class: forward mode without a graph, with the op table's formulas.

use pyo3::prelude::*;
use pyo3::types::PyFloat;

use super::convert::{no_modulus, real_number, require_real};
use crate::ops::{binary_forward, check_slope, unary_forward, with_op_list, Code, DEFAULT_SLOPE};
use crate::scalar::{Dual, Real};

/// The `#[pymethods]` of `Dual`: as `Value`'s, each carrying the tangent along.
macro_rules! py_dual_methods {
    (
        extra { $($extra:tt)* }
        binary { $($binary:tt)* }
        unary { $(
            $(#[$doc:meta])*
            $code:literal $Code:ident $module:ident $OP:ident $name:literal
                forward |$fx:ident, $fp:ident| $forward:expr,
                backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
        )* }
        operator { $($operator:tt)* }
        param { $($param:tt)* }
    ) => {
        #[pymethods]
        impl PyDual {
            $(
                $(#[$doc])*
                fn $module(&self) -> PyDual {
                    self.unary(Code::$Code, 0.0)
                }
            )*
            $($extra)*
        }
    };
}

/// A number with a tangent: forward-mode derivatives without a graph.
///
/// Has every op of `Value` (same names, same formulas); `tangent` carries the derivative,
/// `d(result)/dt`, along. Duals are immutable and compare by identity.
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

impl PyDual {
    fn unary(&self, code: Code, p: f64) -> PyDual {
        PyDual {
            dual: unary_forward(code, self.dual, p),
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

    /// `x` where positive, else `slope * x`, with its tangent; `slope` None means 0.01
    /// (`DEFAULT_SLOPE`).
    ///
    /// `ValueError` unless the slope is finite and >= 0.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(&self, slope: Option<&Bound<'_, PyAny>>) -> PyResult<PyDual> {
        let slope = match slope {
            Some(s) => require_real(s, "leaky_relu() slope")?,
            None => DEFAULT_SLOPE,
        };
        let slope = check_slope(slope)?;
        Ok(self.unary(Code::LeakyRelu, slope))
    }

    fn __float__(&self) -> f64 {
        self.dual.re
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = PyFloat::new(py, self.dual.re).repr()?;
        let tangent = PyFloat::new(py, self.dual.eps).repr()?;
        Ok(format!("Dual(data={data}, tangent={tangent})"))
    }
}
