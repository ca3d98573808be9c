//! Python objects as the core's numbers and Values: one set of rules, one set of messages.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use super::errors::try_reserve;
use super::value::{wrap, PyValue};
use crate::value::Value;

/// How far a length hint (`len()` of an iterable that is not a list or tuple) is trusted when
/// reserving room: a hint is a hint, and `__len__` may claim anything.
const LENGTH_HINT_CAP: usize = 1 << 16;

pub(super) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// `obj` as a real number, or `None` when it is not one (str, None, complex, containers...).
/// Python's own conversion errors (an int too large for a float) pass through.
pub(super) fn real_number(obj: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(Some(f.value()));
    }
    if obj.is_instance_of::<PyFloat>() {
        // A float subclass (numpy's float64 among them) reads as `float(obj)` does, through
        // its `__float__`, as the reference engine reads it.
        // SAFETY: `obj` is live and the GIL is held; the result is a new reference or NULL.
        let float = unsafe {
            Bound::from_owned_ptr_or_err(obj.py(), pyo3::ffi::PyNumber_Float(obj.as_ptr()))?
        };
        return float
            .cast_into::<PyFloat>()
            .map(|f| Some(f.value()))
            .map_err(Into::into);
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
        let ty = obj.get_type();
        let name = match (ty.module(), ty.qualname()) {
            (Ok(module), Ok(qualname)) => format!("{module}.{qualname}"),
            _ => "?".to_owned(),
        };
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

/// A label: a str, else the `TypeError` both engines give (in `Value()` and the setter alike).
pub(super) fn label_str<'a>(label: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, str>> {
    let label = label.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "Value.label must be a str, got {}",
            type_name(label)
        ))
    })?;
    label.to_cow()
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
    let hint = iterable.len().unwrap_or(0).min(LENGTH_HINT_CAP);
    let mut out = Vec::with_capacity(hint);
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
        try_reserve(out, list.len(), what)?;
        for item in list.iter() {
            push(&item, out)?;
        }
    } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
        try_reserve(out, tuple.len(), what)?;
        for item in tuple.iter() {
            push(&item, out)?;
        }
    } else {
        for item in iterable.try_iter()? {
            if out.len() == out.capacity() {
                grow(out, what)?;
            }
            push(&item?, out)?;
        }
    }
    Ok(())
}

/// Doubles the room in `out` for an iterator of unknown length, fallibly; and checks that the
/// leaf nodes those new operands may need (`NODE_BOUND` bytes each) can be allocated too, so an
/// endless or huge iterator ends in `MemoryError` at a doubling rather than in an abort.
fn grow(out: &mut Vec<Value>, what: &str) -> PyResult<()> {
    const NODE_BOUND: usize = 128;
    let extra = out.len().max(64);
    try_reserve(out, extra, what)?;
    let mut probe: Vec<u8> = Vec::new();
    try_reserve(&mut probe, extra.saturating_mul(NODE_BOUND), what)
}
