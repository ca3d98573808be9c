//! float64 buffers between Python bytes and the core's slices, filled without the GIL.

use std::borrow::Cow;

use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyByteArray;

use super::errors::try_reserve;
use crate::tape::TapeError;

/// `data` (native-endian float64) as numbers: borrowed when aligned, copied when not.
pub(super) fn floats_from_bytes(data: &[u8]) -> PyResult<Cow<'_, [f64]>> {
    if !data.len().is_multiple_of(8) {
        return Err(PyValueError::new_err(
            "float64 data must be a multiple of 8 bytes",
        ));
    }
    // SAFETY: every bit pattern is a valid f64, and `align_to` only hands out aligned parts.
    let (head, floats, tail) = unsafe { data.align_to::<f64>() };
    if head.is_empty() && tail.is_empty() {
        return Ok(Cow::Borrowed(floats));
    }
    Ok(Cow::Owned(
        data.chunks_exact(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
            .collect(),
    ))
}

/// A new bytearray of `len` float64s filled by `fill`, which runs without the GIL: numpy then
/// wraps the buffer without a copy. The bytearray is not yet visible to any other code.
pub(super) fn float_bytearray<'py>(
    py: Python<'py>,
    len: usize,
    fill: impl FnOnce(&mut [f64]) -> Result<(), TapeError> + Send,
) -> PyResult<Bound<'py, PyByteArray>> {
    let mut result = Ok(());
    let bytes = len.checked_mul(8).ok_or_else(|| {
        PyMemoryError::new_err(format!(
            "cannot allocate {len} float64s for a batch's result"
        ))
    })?;
    let array = PyByteArray::new_with(py, bytes, |buf| {
        // SAFETY: as in `floats_from_bytes`.
        let (head, floats, tail) = unsafe { buf.align_to_mut::<f64>() };
        result = if head.is_empty() && tail.is_empty() {
            py.detach(|| fill(floats))
        } else {
            let mut floats = zeros(len, "a batch's result")?;
            let filled = py.detach(|| fill(&mut floats));
            for (chunk, x) in buf.chunks_exact_mut(8).zip(&floats) {
                chunk.copy_from_slice(&x.to_ne_bytes());
            }
            filled
        };
        Ok(())
    })?;
    result?;
    Ok(array)
}

/// `len` zeros in a vector whose allocation may fail: `MemoryError` naming `what`.
pub(super) fn zeros(len: usize, what: &str) -> PyResult<Vec<f64>> {
    let mut out = Vec::new();
    try_reserve(&mut out, len, what)?;
    out.resize(len, 0.0);
    Ok(out)
}

/// A new bytearray holding `floats` (native-endian float64).
pub(super) fn bytearray_of<'py>(
    py: Python<'py>,
    floats: &[f64],
) -> PyResult<Bound<'py, PyByteArray>> {
    float_bytearray(py, floats.len(), |out| {
        out.copy_from_slice(floats);
        Ok(())
    })
}

pub(super) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
