//! The one error funnel: every error type of the core becomes a Python exception here, and
//! nowhere else.

use pyo3::exceptions::{PyFloatingPointError, PyValueError};
use pyo3::PyErr;

use crate::anomaly::Anomaly;
use crate::ops::OpError;
use crate::serial::CorruptGraph;
use crate::tape::TapeError;

/// A tape that cannot be recorded or evaluated: `ValueError`.
impl From<TapeError> for PyErr {
    fn from(err: TapeError) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// An op that refused its operands (lengths, slope): `ValueError`.
impl From<OpError> for PyErr {
    fn from(err: OpError) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// Bytes that are not a pickled graph: `ValueError`.
impl From<CorruptGraph> for PyErr {
    fn from(err: CorruptGraph) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A NaN or inf found in anomaly mode: `FloatingPointError`, as numpy's error state raises.
impl From<Anomaly> for PyErr {
    fn from(anomaly: Anomaly) -> PyErr {
        PyFloatingPointError::new_err(anomaly.to_string())
    }
}
