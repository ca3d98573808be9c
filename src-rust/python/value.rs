//! The `Value` class: a handle to a node of the core's graph.

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyString, PyTuple};

use super::convert::{label_str, no_modulus, no_number, real_number, require_real};
use crate::anomaly::{detect_anomaly_enabled, Anomaly};
use crate::ops::{with_op_list, DEFAULT_SLOPE};
use crate::value::Value;

/// The `#[pymethods]` of `Value`: one method per plain unary op of the list (`x.tanh()`),
/// then the methods written out below (`extra`).
macro_rules! py_value_methods {
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
        impl PyValue {
            $(
                $(#[$doc])*
                fn $module(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
                    checked(py, self.inner.$module())
                }
            )*
            $($extra)*
        }
    };
}

/// A scalar in a differentiable expression graph (a node held by the Rust core).
///
/// Numbers combined with a Value become constant leaf nodes. Two handles of the same node
/// (for example one taken from `children`) compare equal and hash alike.
#[pyclass(name = "Value", module = "ferrograd", frozen, weakref)]
pub struct PyValue {
    pub(super) inner: Value,
}

// SAFETY: a node's `Rc` counts and `Cell` fields are only touched by code holding the GIL:
// every binding below runs with it, none releases it while it holds a `Value` (the tape's
// batch methods release it, but a `Tape` owns no nodes), and the module declares that it
// needs the GIL (`gil_used = true` on `_core` below: PyO3 0.30 would otherwise declare it
// free-threaded), so even a free-threaded CPython turns the GIL on when it loads it. The GIL
// therefore serialises all access, which is what `Send + Sync` asks for, and Python threads
// can share Values as they share any other object.
unsafe impl Send for PyValue {}
unsafe impl Sync for PyValue {}

/// The one place a new node becomes a Python object; in anomaly mode, the forward check.
pub(super) fn checked(py: Python<'_>, inner: Value) -> PyResult<Py<PyValue>> {
    check_forward(&inner)?;
    untracked(Py::new(py, PyValue { inner })?)
}

/// In anomaly mode, the forward check of a new node; nothing otherwise.
pub(super) fn check_forward(inner: &Value) -> PyResult<()> {
    if detect_anomaly_enabled() {
        Anomaly::check_forward(inner)?;
    }
    Ok(())
}

/// Takes a `Value` object out of Python's cycle collector. It holds no Python references, so it
/// can never be part of a cycle; left tracked, every collection walks every live node, and a
/// graph of 100,000 nodes spends most of its build time in the collector.
pub(super) fn untracked(obj: Py<PyValue>) -> PyResult<Py<PyValue>> {
    // SAFETY: `obj` is a live object of a GC type; untracking is allowed at any time and
    // the dealloc PyO3 installs checks whether the object is tracked before untracking it.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

pub(super) fn wrap(py: Python<'_>, inner: Value) -> PyResult<Py<PyAny>> {
    Ok(checked(py, inner)?.into_any())
}

with_op_list! { py_value_methods,
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.add(o))
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.add(&self.inner))
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.sub(o))
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.sub(&self.inner))
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.mul(o))
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.mul(&self.inner))
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.div(o))
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.div(&self.inner))
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.neg())
    }

    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.abs())
    }

    // A slot: its docstring is in `_core.pyi` only. `label=None` is no label, as `""` (both
    // engines); any other non-str is `TypeError`.
    #[new]
    #[pyo3(signature = (data, label = None), text_signature = "(data, label='')")]
    fn py_new(data: &Bound<'_, PyAny>, label: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let inner = Value::new(require_real(data, "Value()")?);
        if let Some(label) = label {
            inner.set_label(&label_str(label)?);
        }
        Ok(PyValue { inner })
    }

    /// The forward value. Settable; a non-number raises `TypeError`.
    #[getter]
    fn data(&self) -> f64 {
        self.inner.data()
    }

    #[setter]
    fn set_data(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_data(require_real(data, "Value.data")?);
        Ok(())
    }

    /// The accumulated adjoint, 0.0 until a `backward()` reaches this node. Settable.
    #[getter]
    fn grad(&self) -> f64 {
        self.inner.grad()
    }

    #[setter]
    fn set_grad(&self, grad: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_grad(require_real(grad, "Value.grad")?);
        Ok(())
    }

    /// A name shown by pictures and error messages; `""` when unset. Settable to a str.
    #[getter]
    fn label(&self) -> String {
        self.inner.label()
    }

    #[setter]
    fn set_label(&self, label: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_label(&label_str(label)?);
        Ok(())
    }

    /// The op that made this node: `""` for a leaf, else `"+"`, `"*"`, `"**"`, `"tanh"`, ...
    #[getter]
    fn op(&self) -> &'static str {
        self.inner.op()
    }

    /// The operands, in operand order (`a * a` has two); they share the graph's state.
    #[getter]
    fn children<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let children = self.inner.children();
        let objects = children
            .into_iter()
            .map(|inner| untracked(Py::new(py, PyValue { inner })?))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, objects)
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
        no_modulus(modulo, "Value")?;
        with_operand(py, exponent, |e| self.inner.pow(e))
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        base: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Value")?;
        with_operand(py, base, |b| b.pow(&self.inner))
    }

    /// `x` where positive, else `slope * x`; `slope` None means 0.01 (`DEFAULT_SLOPE`).
    ///
    /// `ValueError` unless the slope is finite and >= 0.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(
        &self,
        py: Python<'_>,
        slope: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyValue>> {
        let slope = match slope {
            Some(s) => require_real(s, "leaky_relu() slope")?,
            None => DEFAULT_SLOPE,
        };
        checked(py, self.inner.leaky_relu(slope)?)
    }

    /// One reverse sweep from this node.
    ///
    /// Fresh adjoints, seeded with 1.0 here, are added to the `grad` of every ancestor, so k
    /// calls give k times the gradient. Linear in the number of nodes, never recursive.
    fn backward(&self) -> PyResult<()> {
        if detect_anomaly_enabled() {
            Ok(self.inner.backward_checked()?)
        } else {
            self.inner.backward();
            Ok(())
        }
    }

    // Slots from here to `__bool__`: their docstrings are in `_core.pyi` only.
    // Refused: a plain number carries no gradient (`TypeError` saying what to use).
    fn __float__(&self) -> PyResult<f64> {
        Err(no_number("float(v)"))
    }

    // Refused, as `float()`.
    fn __int__(&self) -> PyResult<i64> {
        Err(no_number("int(v)"))
    }

    // Refused, as `float()` (an index is a plain number too).
    fn __index__(&self) -> PyResult<i64> {
        Err(no_number("int(v)"))
    }

    // Refused: `if v:` would branch on a number that carries no gradient.
    fn __bool__(&self) -> PyResult<bool> {
        Err(no_number("bool(v)"))
    }

    /// Refused, as `float()`.
    #[pyo3(signature = (ndigits = None))]
    fn __round__(&self, ndigits: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
        let _ = ndigits;
        Err(no_number("round(v)"))
    }

    /// `data`, the forward value, as a float (torch's `item()`): the number, without its
    /// gradient.
    fn item(&self) -> f64 {
        self.inner.data()
    }

    /// `format(v.data, spec)`, so f-strings such as `f"{loss:.4f}"` work; an empty spec is
    /// `str(v)`, as for any object.
    fn __format__(&self, py: Python<'_>, spec: &Bound<'_, PyString>) -> PyResult<String> {
        if spec.to_cow()?.is_empty() {
            return self.__repr__(py);
        }
        let text = PyFloat::new(py, self.inner.data()).call_method1("__format__", (spec,))?;
        Ok(text.cast_into::<PyString>()?.to_cow()?.into_owned())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let float_repr =
            |x: f64| -> PyResult<String> { Ok(PyFloat::new(py, x).repr()?.to_string()) };
        let (data, grad) = (
            float_repr(self.inner.data())?,
            float_repr(self.inner.grad())?,
        );
        let label = self.inner.label();
        Ok(if label.is_empty() {
            format!("Value(data={data}, grad={grad})")
        } else {
            let label = PyString::new(py, &label).repr()?;
            format!("Value(data={data}, grad={grad}, label={label})")
        })
    }

    // A slot (the stub documents `__eq__`, `__lt__`, ...): `==`/`!=` by node identity; `<`,
    // `<=`, `>`, `>=` are refused (`TypeError`): they would compare numbers that carry no
    // gradient.
    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let equal = match op {
            CompareOp::Eq => true,
            CompareOp::Ne => false,
            CompareOp::Lt => return Err(no_number("v < w")),
            CompareOp::Le => return Err(no_number("v <= w")),
            CompareOp::Gt => return Err(no_number("v > w")),
            CompareOp::Ge => return Err(no_number("v >= w")),
        };
        let same = match other.cast::<PyValue>() {
            Ok(o) => o.get().inner.ptr_eq(&self.inner),
            Err(_) => return Ok(py.NotImplemented()),
        };
        Ok(PyBool::new(py, same == equal).to_owned().into_any().unbind())
    }

    /// Pickles the whole graph behind this node (operands, grads, labels).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let rebuild = py.import("ferrograd._core")?.getattr("_value_from_bytes")?;
        let bytes = self.inner.to_bytes()?;
        Ok((rebuild, (PyBytes::new(py, &bytes),)))
    }

    fn __hash__(&self) -> u64 {
        self.inner.id() as u64
    }
}

/// Rebuilds a pickled graph and returns its root.
#[pyfunction]
pub(super) fn _value_from_bytes(data: &[u8]) -> PyResult<PyValue> {
    let inner = Value::from_bytes(data)?;
    Ok(PyValue { inner })
}

/// `f(other)` as a new Python Value where `other` is a Value or a number, else NotImplemented
/// (so Python tries the reflected operator, then raises `TypeError`). A Value operand is lent
/// to `f` as it is, so the node `f` builds holds the only new handle to it.
fn with_operand(
    py: Python<'_>,
    other: &Bound<'_, PyAny>,
    f: impl FnOnce(&Value) -> Value,
) -> PyResult<Py<PyAny>> {
    if let Ok(v) = other.cast::<PyValue>() {
        return wrap(py, f(&v.get().inner));
    }
    match real_number(other)? {
        Some(x) => wrap(py, f(&Value::new(x))),
        None => Ok(py.NotImplemented()),
    }
}
