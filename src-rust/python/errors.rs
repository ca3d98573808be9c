//! The one error funnel: every error type of the core becomes a Python exception here, and
//! nowhere else.

use pyo3::exceptions::{PyFloatingPointError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString};

use crate::anomaly::{Anomaly, Pass};
use crate::dense::DenseError;
use crate::ops::OpError;
use crate::serial::{CorruptGraph, GraphTooLarge};
use crate::tape::TapeError;

/// A tape that cannot be recorded or evaluated: `ValueError` (`TypeError` for a custom op).
impl From<TapeError> for PyErr {
    fn from(err: TapeError) -> PyErr {
        match err {
            TapeError::OutOfMemory { .. } => PyMemoryError::new_err(err.to_string()),
            TapeError::CustomOp(_) => PyTypeError::new_err(err.to_string()),
            _ => PyValueError::new_err(err.to_string()),
        }
    }
}

/// An op that refused its operands (lengths, slope): `ValueError`.
impl From<OpError> for PyErr {
    fn from(err: OpError) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A dense layer whose rows or lengths do not match: `ValueError`.
impl From<DenseError> for PyErr {
    fn from(err: DenseError) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// Bytes that are not a pickled graph: `ValueError`.
impl From<CorruptGraph> for PyErr {
    fn from(err: CorruptGraph) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A graph too large for the byte format: `ValueError`.
impl From<GraphTooLarge> for PyErr {
    fn from(err: GraphTooLarge) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A NaN or inf found in anomaly mode: `FloatingPointError`, its numbers and labels written
/// as Python's `repr` writes them (`nan`, `1e+300`, `'a'`), so both engines' messages match
/// character for character.
impl From<Anomaly> for PyErr {
    fn from(anomaly: Anomaly) -> PyErr {
        Python::attach(|py| match anomaly_message(py, &anomaly) {
            Ok(message) => PyFloatingPointError::new_err(message),
            Err(err) => err,
        })
    }
}

fn anomaly_message(py: Python<'_>, anomaly: &Anomaly) -> PyResult<String> {
    let float = |x: f64| -> PyResult<String> { Ok(PyFloat::new(py, x).repr()?.to_string()) };
    let string = |s: &str| -> PyResult<String> { Ok(PyString::new(py, s).repr()?.to_string()) };
    let name = if anomaly.label.is_empty() {
        String::new()
    } else {
        format!(" {}", string(&anomaly.label)?)
    };
    let mut inputs = Vec::new();
    for ((label, grad), data) in anomaly.inputs.iter().zip(&anomaly.input_data) {
        let named = if label.is_empty() {
            String::new()
        } else {
            format!("{label}=")
        };
        inputs.push(match anomaly.pass {
            Pass::Forward => format!("{named}{}", float(*data)?),
            Pass::Backward => format!("{named}{} (grad {})", float(*data)?, float(*grad)?),
        });
    }
    let (op, output, inputs) = (
        string(anomaly.op)?,
        float(anomaly.output)?,
        inputs.join(", "),
    );
    Ok(match anomaly.pass {
        Pass::Forward => {
            format!("op {op}{name} produced {output} in its forward pass from inputs ({inputs})")
        }
        Pass::Backward => format!(
            "op {op}{name} produced a non-finite gradient in its backward pass \
             (its own grad {output}); operands: ({inputs})"
        ),
    })
}

/// Room for `extra` more items in `out`, or `MemoryError` naming the size.
pub(super) fn try_reserve<T>(out: &mut Vec<T>, extra: usize, what: &str) -> PyResult<()> {
    out.try_reserve(extra).map_err(|_| {
        let bytes = extra.saturating_mul(std::mem::size_of::<T>());
        PyMemoryError::new_err(format!("{what} cannot allocate {bytes} more bytes"))
    })
}
