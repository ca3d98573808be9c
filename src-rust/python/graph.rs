//! Functions that build graph nodes: the fused `sum` and `dot`, and a dense layer.

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::operands::{push_values, value_of, values_from, LENGTH_HINT_CAP};
use super::value::OpHandle;
use super::value::{check_forward, checked, recorded, untracked, PyValue};
use crate::custom::{intern, Custom};
use crate::dense::DenseError;
use crate::value::Value;

/// `values[0] + values[1] + …` as one graph node.
#[pyfunction]
pub(super) fn sum(values: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    checked(values.py(), Value::sum_owned(values_from(values, "sum()")?))
}

/// `ws[0]*xs[0] + ws[1]*xs[1] + …` as one graph node; `ValueError` on unequal lengths.
#[pyfunction]
pub(super) fn dot(ws: &Bound<'_, PyAny>, xs: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    let mut operands = values_from(ws, "dot()")?;
    let n = operands.len();
    push_values(xs, "dot()", &mut operands)?;
    checked(ws.py(), Value::dot_owned(operands, n)?)
}

/// One dense layer of neurons in a single call (see `Value::dense`): for each neuron `i`, the
/// nodes `dot(weights[i], x)`, `+ biases[i]` and, where `nonlins[i]`, `relu` — the very graph
/// that building them one op at a time gives, without a Python object for the inner nodes.
///
/// `ValueError` when the rows, biases and flags differ in number or a row's length differs
/// from `x`'s.
#[pyfunction]
pub(super) fn _dense(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    nonlins: Vec<bool>,
    x: &Bound<'_, PyAny>,
) -> PyResult<Py<PyList>> {
    let xs = values_from(x, "dense()")?;
    let biases = values_from(biases, "dense()")?;
    let rows_error = |weights: usize| DenseError::Rows {
        weights,
        biases: biases.len(),
        nonlins: nonlins.len(),
    };
    // Counts that differ are the error, before any row is read, when `weights` says how many
    // rows it has (a list or tuple does); rows from an iterator are counted as they come.
    let known = weights.len().ok();
    if biases.len() != nonlins.len() || known.is_some_and(|rows| rows != biases.len()) {
        return Err(rows_error(known.unwrap_or(0)).into());
    }
    // Row by row (`Value::neuron`, as `Value::dense` builds them), each read with room for the
    // inputs, which the neuron appends to it (a length hint trusted no further than for any
    // other call).
    let out = PyList::empty(py);
    let mut rows = 0;
    for w in weights.try_iter()? {
        let w = w?;
        if rows == biases.len() {
            return Err(rows_error(weights.len().unwrap_or(rows + 1)).into());
        }
        let hint = w.len().unwrap_or(0).min(LENGTH_HINT_CAP);
        let mut row = Vec::with_capacity(hint + xs.len());
        push_values(&w, "dense()", &mut row)?;
        let z = Value::neuron(row, &xs, &biases[rows], nonlins[rows], check_forward)?;
        out.append(untracked(Py::new(py, PyValue { inner: recorded(z) })?)?)?;
        rows += 1;
    }
    if rows != biases.len() {
        return Err(rows_error(rows).into());
    }
    Ok(out.unbind())
}

/// `_dense` of the neurons in the list `neurons`, each read for its `w`, `b` and `nonlin` as it
/// is reached (`getattr`, as `[n.w for n in neurons]` reads them): the same nodes, values and
/// errors as `_dense([n.w for n in neurons], [n.b for n in neurons], [n.nonlin for n in
/// neurons], x)`, without those three lists.
#[pyfunction]
pub(super) fn _dense_neurons(
    py: Python<'_>,
    neurons: &Bound<'_, PyList>,
    x: &Bound<'_, PyAny>,
) -> PyResult<Py<PyList>> {
    let xs = values_from(x, "dense()")?;
    let out = PyList::empty(py);
    let mut at = 0;
    // Reading an attribute or a weight's `__float__` may run Python code that changes the list:
    // its length is read again each time, as a Python loop over it reads it.
    while at < neurons.len() {
        let neuron = neurons.get_item(at)?;
        let w = neuron.getattr(pyo3::intern!(py, "w"))?;
        let b = neuron.getattr(pyo3::intern!(py, "b"))?;
        let nonlin: bool = neuron.getattr(pyo3::intern!(py, "nonlin"))?.extract()?;
        let hint = w.len().unwrap_or(0).min(LENGTH_HINT_CAP);
        let mut row = Vec::with_capacity(hint + xs.len());
        push_values(&w, "dense()", &mut row)?;
        let b = value_of(&b, "dense()")?;
        let z = Value::neuron(row, &xs, &b, nonlin, check_forward)?;
        out.append(untracked(Py::new(py, PyValue { inner: recorded(z) })?)?)?;
        at += 1;
    }
    Ok(out.unbind())
}

/// A node of the custom op `op` (a `ferrograd.custom_op`, kept for pickling) named `name`,
/// over `operands`, with the value `data` and the partials `∂z/∂xᵢ` its derivative gave.
#[pyfunction]
pub(super) fn _custom(
    py: Python<'_>,
    op: Py<PyAny>,
    name: &str,
    data: f64,
    partials: Vec<f64>,
    operands: &Bound<'_, PyAny>,
) -> PyResult<Py<PyValue>> {
    let operands = values_from(operands, name)?;
    let custom = Custom {
        name: intern(name),
        handle: std::rc::Rc::new(OpHandle(op)),
        partials: partials.into_boxed_slice(),
    };
    checked(py, Value::custom(custom, data, operands)?)
}
