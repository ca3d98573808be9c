//! Functions that build graph nodes: the fused `sum` and `dot`, and a dense layer.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use super::operands::{push_values, values_from};
use super::value::OpHandle;
use super::value::{check_forward, checked, recorded, untracked, PyValue};
use crate::custom::{intern, Custom};
use crate::value::Value;

/// `values[0] + values[1] + …` as a single graph node.
#[pyfunction]
pub(super) fn sum(values: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    checked(values.py(), Value::sum_owned(values_from(values, "sum()")?))
}

/// `ws[0]*xs[0] + ws[1]*xs[1] + …` as a single graph node.
#[pyfunction]
pub(super) fn dot(ws: &Bound<'_, PyAny>, xs: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    let mut operands = values_from(ws, "dot()")?;
    let n = operands.len();
    push_values(xs, "dot()", &mut operands)?;
    checked(ws.py(), Value::dot_owned(operands, n)?)
}

/// One dense layer of neurons in a single call: for each neuron `i`, the nodes
/// `dot(weights[i], x)`, `+ biases[i]` and, where `nonlins[i]`, `relu` — the very graph that
/// `ferrograd.nn` builds one op at a time, without a Python object for the inner nodes.
#[pyfunction]
pub(super) fn _dense(
    py: Python<'_>,
    weights: &Bound<'_, PyAny>,
    biases: &Bound<'_, PyAny>,
    nonlins: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
) -> PyResult<Py<PyList>> {
    let xs = values_from(x, "dense()")?;
    let biases = values_from(biases, "dense()")?;
    let nonlins: Vec<bool> = nonlins.extract()?;
    let out = PyList::empty(py);
    let mut rows = 0;
    for (i, w) in weights.try_iter()?.enumerate() {
        let (Some(b), Some(&nonlin)) = (biases.get(i), nonlins.get(i)) else {
            return Err(PyValueError::new_err(
                "dense() needs one bias and one nonlin flag per row of weights",
            ));
        };
        let w = w?;
        let mut operands = Vec::with_capacity(2 * xs.len());
        push_values(&w, "dense()", &mut operands)?;
        let n = operands.len();
        operands.extend_from_slice(&xs);
        let dot = Value::dot_owned(operands, n)?;
        check_forward(&dot)?;
        let affine = dot.add(b);
        check_forward(&affine)?;
        let z = if nonlin {
            checked(py, affine.relu())?
        } else {
            untracked(Py::new(
                py,
                PyValue {
                    inner: recorded(affine),
                },
            )?)?
        };
        out.append(z)?;
        rows += 1;
    }
    if rows != biases.len() || rows != nonlins.len() {
        return Err(PyValueError::new_err(
            "dense() needs one bias and one nonlin flag per row of weights",
        ));
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
