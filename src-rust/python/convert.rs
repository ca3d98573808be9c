//! Python objects as the core's numbers and Values: one set of rules, one set of messages.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use super::value::{wrap, PyValue};
use crate::value::Value;

pub(super) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// `obj` as a real number, or `None` when it is not one (str, None, complex, containers...).
/// Python's own conversion errors (an int too large for a float) pass through.
pub(super) fn real_number(obj: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Some(f.value()));
    }
    if obj.is_exact_instance_of::<PyInt>() {
        // A plain int converts directly; going through `float()` would build a float object.
        // SAFETY: `obj` is a live int and the GIL is held.
        let x = unsafe { pyo3::ffi::PyLong_AsDouble(obj.as_ptr()) };
        if x == -1.0 {
            if let Some(err) = PyErr::take(obj.py()) {
                return Err(err);
            }
        }
        return Ok(Some(x));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<f64>().map(Some);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Ok(None);
    }
    let py = obj.py();
    if !obj.hasattr(pyo3::intern!(py, "__float__"))? || obj.hasattr(pyo3::intern!(py, "__len__"))? {
        return Ok(None);
    }
    // A node of another graph (a `ferrograd.reference.Value`, a tensor) or a dual number can
    // be read as a float too, but as a constant here it would silently drop its derivative.
    if obj.hasattr(pyo3::intern!(py, "backward"))? || obj.hasattr(pyo3::intern!(py, "tangent"))? {
        let name = obj
            .get_type()
            .fully_qualified_name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        return Err(PyTypeError::new_err(format!(
            "a {name} carries a derivative, not a plain number: as a constant it would cut \
             the gradient's path through it; pass float(x) or x.data if a constant is meant"
        )));
    }
    static NUMBERS: PyOnceLock<(Py<PyType>, Py<PyType>)> = PyOnceLock::new();
    let (complex, real) = NUMBERS.get_or_try_init(py, || -> PyResult<_> {
        let numbers = py.import("numbers")?;
        Ok((
            numbers.getattr("Complex")?.cast_into::<PyType>()?.unbind(),
            numbers.getattr("Real")?.cast_into::<PyType>()?.unbind(),
        ))
    })?;
    if obj.is_instance(complex.bind(py))? && !obj.is_instance(real.bind(py))? {
        return Ok(None);
    }
    obj.extract::<f64>().map(Some)
}

pub(super) fn require_real(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    real_number(obj)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} needs a real number, got {}",
            type_name(obj)
        ))
    })
}

/// A `Value` operand as a core value: a Value as it is, a number as a new constant leaf,
/// anything else `None` (so the operator returns NotImplemented).
pub(super) fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if let Ok(v) = obj.cast::<PyValue>() {
        return Ok(Some(v.get().inner.clone()));
    }
    Ok(real_number(obj)?.map(Value::new))
}

/// `f(other)` as a new Python Value where `other` is a Value or a number, else NotImplemented
/// (so Python tries the reflected operator, then raises `TypeError`). A Value operand is lent
/// to `f` as it is, so the node `f` builds holds the only new handle to it.
pub(super) fn with_operand(
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

/// Three-argument `pow(x, y, m)` has no meaning for these numbers.
pub(super) fn no_modulus(modulo: &Bound<'_, PyAny>, class: &str) -> PyResult<()> {
    if modulo.is_none() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "pow() with a modulus is not defined for {class}"
        )))
    }
}

pub(super) fn values_from(iterable: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Value>> {
    let mut out = Vec::with_capacity(iterable.len().unwrap_or(0));
    push_values(iterable, what, &mut out)?;
    Ok(out)
}

/// Appends the operands in `iterable` to `out`; lists and tuples skip the iterator protocol.
pub(super) fn push_values(
    iterable: &Bound<'_, PyAny>,
    what: &str,
    out: &mut Vec<Value>,
) -> PyResult<()> {
    let push = |item: &Bound<'_, PyAny>, out: &mut Vec<Value>| -> PyResult<()> {
        match operand(item)? {
            Some(v) => {
                out.push(v);
                Ok(())
            }
            None => Err(PyTypeError::new_err(format!(
                "{what} needs Values or real numbers, got {}",
                type_name(item)
            ))),
        }
    };
    if let Ok(list) = iterable.cast::<PyList>() {
        out.reserve(list.len());
        for item in list.iter() {
            push(&item, out)?;
        }
    } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
        out.reserve(tuple.len());
        for item in tuple.iter() {
            push(&item, out)?;
        }
    } else {
        for item in iterable.try_iter()? {
            push(&item?, out)?;
        }
    }
    Ok(())
}
