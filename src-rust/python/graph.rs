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
    // Row by row (`Value::neuron`, as `Value::dense` builds them).
    let mut out = Vec::with_capacity(biases.len());
    let mut rows = 0;
    for w in weights.try_iter()? {
        let w = w?;
        if rows == biases.len() {
            return Err(rows_error(weights.len().unwrap_or(rows + 1)).into());
        }
        let row = neuron_row(&w, &xs)?;
        let z = Value::neuron(row, &xs, &biases[rows], nonlins[rows], check_forward)?;
        out.push(recorded(z));
        rows += 1;
    }
    if rows != biases.len() {
        return Err(rows_error(rows).into());
    }
    value_list(py, out)
}

/// A neuron's weights `w` as the start of its dot's operands, with room for the inputs `xs`,
/// which `Value::neuron` appends (a length hint trusted no further than for any other call).
fn neuron_row(w: &Bound<'_, PyAny>, xs: &[Value]) -> PyResult<Vec<Value>> {
    let hint = w.len().unwrap_or(0).min(LENGTH_HINT_CAP);
    let mut row = Vec::with_capacity(hint + xs.len());
    push_values(w, "dense()", &mut row)?;
    Ok(row)
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
    value_list(py, neurons_forward(neurons, &xs)?)
}

/// The outputs of `neurons` (read as `_dense_neurons` reads them) at the inputs `xs`, each
/// `recorded` (a leaf under `no_grad`) as a Value object would hold it.
fn neurons_forward(neurons: &Bound<'_, PyList>, xs: &[Value]) -> PyResult<Vec<Value>> {
    let py = neurons.py();
    let mut out = Vec::with_capacity(neurons.len());
    let mut at = 0;
    // Reading an attribute or a weight's `__float__` may run Python code that changes the list:
    // its length is read again each time, as a Python loop over it reads it.
    while at < neurons.len() {
        let neuron = neurons.get_item(at)?;
        let w = neuron.getattr(pyo3::intern!(py, "w"))?;
        let b = neuron.getattr(pyo3::intern!(py, "b"))?;
        let nonlin: bool = neuron.getattr(pyo3::intern!(py, "nonlin"))?.extract()?;
        let row = neuron_row(&w, xs)?;
        let b = value_of(&b, "dense()")?;
        out.push(recorded(Value::neuron(row, xs, &b, nonlin, check_forward)?));
        at += 1;
    }
    Ok(out)
}

/// `values` as a list of Value objects.
fn value_list(py: Python<'_>, values: Vec<Value>) -> PyResult<Py<PyList>> {
    let out = PyList::empty(py);
    for inner in values {
        out.append(untracked(Py::new(py, PyValue { inner })?)?)?;
    }
    Ok(out.unbind())
}

/// An MLP's layers one after another from the inputs `x`: each layer of exactly the class
/// `layer_type` on the engine `engine`, whose `neurons` are a list, as `_dense_neurons` (the
/// activations between such layers stay in the core, with no Python object each); any other
/// layer through its own `_forward`, with a list of Values. The last layer's outputs, as a
/// list of Values.
#[pyfunction]
pub(super) fn _dense_layers(
    py: Python<'_>,
    layers: &Bound<'_, PyList>,
    x: &Bound<'_, PyAny>,
    layer_type: &Bound<'_, pyo3::types::PyType>,
    engine: &Bound<'_, PyAny>,
) -> PyResult<Py<PyList>> {
    let mut xs = values_from(x, "dense()")?;
    let mut at = 0;
    while at < layers.len() {
        let layer = layers.get_item(at)?;
        let neurons = match layer.get_type().is(layer_type)
            && layer.getattr(pyo3::intern!(py, "engine"))?.is(engine)
        {
            true => Some(layer.getattr(pyo3::intern!(py, "neurons"))?),
            false => None,
        };
        xs = match neurons.as_ref().map(|n| n.cast_exact::<PyList>()) {
            Some(Ok(neurons)) => neurons_forward(neurons, &xs)?,
            _ => {
                let inputs = value_list(py, xs)?;
                let out = layer.call_method1(pyo3::intern!(py, "_forward"), (inputs,))?;
                values_from(&out, "dense()")?
            }
        };
        at += 1;
    }
    value_list(py, xs)
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
