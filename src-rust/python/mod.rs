//! Python bindings (the `python` feature): argument conversion, one error funnel, one file per
//! class. No maths here; every number comes from the core.
//!
//! `errors.rs` turns every core error into a Python exception; `convert.rs` reads Python
//! objects as numbers and labels, `operands.rs` as Values; `value.rs`, `dual.rs` and `tape.rs`
//! are the three classes (their op methods generated from the op list in `ops.rs`); `graph.rs`
//! the functions that build nodes; `buffers.rs` the float64 buffers of batches.

mod buffers;
mod convert;
mod dual;
mod errors;
mod graph;
mod operands;
mod tape;
mod value;

use pyo3::prelude::*;

use crate::anomaly::set_detect_anomaly;
use crate::grad_mode::set_no_grad;
use crate::ops::{DEFAULT_SLOPE, OP_TABLE};
use dual::PyDual;
use tape::PyTape;
use value::PyValue;

/// One row of `op_table()`.
type OpRow = (
    &'static str,
    u8,
    Option<usize>,
    Option<&'static str>,
    &'static str,
    Vec<&'static str>,
);

/// Every op, by code: `(name, code, arity, param, method, aliases)`.
///
/// `arity` is None for the n-ary `sum` and `dot`; `param` names the op's parameter (`"slope"`)
/// or is None; `method` is the `Value` method or operator dunder that builds the op ("" for a
/// leaf and for `+ - * / **`); `aliases` are the other names of that method (numpy's:
/// `["arcsin"]` for `asin`). Codes are pinned: pickles store them.
#[pyfunction]
fn op_table() -> Vec<OpRow> {
    OP_TABLE
        .iter()
        .map(|r| {
            (
                r.name,
                r.code as u8,
                r.arity,
                r.param,
                r.method,
                r.aliases.to_vec(),
            )
        })
        .collect()
}

/// Turns anomaly detection on or off for this thread; returns the previous setting.
#[pyfunction]
fn _set_detect_anomaly(on: bool) -> bool {
    set_detect_anomaly(on)
}

/// Turns `no_grad` on or off for this thread; returns the previous setting.
#[pyfunction]
fn _set_no_grad(on: bool) -> bool {
    set_no_grad(on)
}

/// The compiled core of ferrograd. Import from `ferrograd`, not here.
// `gil_used = true`: the soundness of sharing Values between threads rests on the GIL (see the
// SAFETY note on `PyValue`), so a free-threaded interpreter must keep it on for this module.
#[pymodule(gil_used = true)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyValue>()?;
    m.add_function(wrap_pyfunction!(graph::sum, m)?)?;
    m.add_function(wrap_pyfunction!(graph::dot, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_dense, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_dense_neurons, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_dense_layers, m)?)?;
    m.add_function(wrap_pyfunction!(graph::_custom, m)?)?;
    m.add_function(wrap_pyfunction!(_set_detect_anomaly, m)?)?;
    m.add_function(wrap_pyfunction!(_set_no_grad, m)?)?;
    m.add_function(wrap_pyfunction!(value::_value_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(op_table, m)?)?;
    m.add_function(wrap_pyfunction!(buffers::_array_headers_direct, m)?)?;
    m.add_function(wrap_pyfunction!(buffers::_sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(buffers::_adam_step, m)?)?;
    m.add("DEFAULT_SLOPE", DEFAULT_SLOPE)?;
    m.add_class::<PyTape>()?;
    m.add_class::<PyDual>()?;
    crate::vmath::python::register(m)?;
    Ok(())
}
