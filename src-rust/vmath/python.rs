//! Private bindings to the lane loops, for testing the fast functions' error bounds against
//! mpmath from Python on every instruction set this CPU runs.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::{kernels_for, Isa, Kernels};
use crate::scalar::{Lanes, LANES};

/// The instruction sets this build carries and this CPU runs, baseline first, best last.
#[pyfunction]
fn _vmath_isas() -> Vec<&'static str> {
    Isa::ALL
        .iter()
        .filter(|i| i.supported())
        .map(|i| i.name())
        .collect()
}

fn unary(k: &Kernels, name: &str) -> Option<super::Unary> {
    Some(match name {
        "exp" => k.exp,
        "log" => k.log,
        "sin" => k.sin,
        "cos" => k.cos,
        "tan" => k.tan,
        "tanh" => k.tanh,
        "sigmoid" => k.sigmoid,
        "sqrt" => k.sqrt,
        _ => return None,
    })
}

fn backward(k: &Kernels, name: &str) -> Option<super::Backward> {
    Some(match name {
        "exp'" => k.exp_backward,
        "log'" => k.log_backward,
        "sin'" => k.sin_backward,
        "cos'" => k.cos_backward,
        "tan'" => k.tan_backward,
        "tanh'" => k.tanh_backward,
        "sigmoid'" => k.sigmoid_backward,
        "sqrt'" => k.sqrt_backward,
        _ => return None,
    })
}

/// `name` ("exp", ..., or "exp'" for the slope the backward pass uses) of every number in
/// `xs` (native-endian f64 bytes) with the lane loops compiled for `isa`, as f64 bytes: for
/// testing their error bounds.
#[pyfunction]
fn _vmath<'py>(py: Python<'py>, name: &str, isa: &str, xs: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let isa = Isa::ALL
        .iter()
        .copied()
        .find(|i| i.name() == isa)
        .ok_or_else(|| PyValueError::new_err(format!("unknown instruction set {isa:?}")))?;
    let k = kernels_for(isa)
        .ok_or_else(|| PyValueError::new_err(format!("this CPU cannot run {}", isa.name())))?;
    if !xs.len().is_multiple_of(8) {
        return Err(PyValueError::new_err("xs must hold whole f64s"));
    }
    let xs: Vec<f64> = xs
        .chunks_exact(8)
        .map(|b| f64::from_ne_bytes(b.try_into().unwrap()))
        .collect();
    let (value, slope) = (unary(k, name), backward(k, name));
    if value.is_none() && slope.is_none() {
        return Err(PyValueError::new_err(format!("unknown function {name:?}")));
    }
    let mut out = Vec::with_capacity(xs.len() * 8);
    for chunk in xs.chunks(LANES) {
        let mut x: Lanes = [1.0; LANES];
        x[..chunk.len()].copy_from_slice(chunk);
        let mut z = [0.0; LANES];
        let base = name.trim_end_matches('\'');
        // The slope takes the fast value as `z` and a unit adjoint.
        unary(k, base).unwrap_or(k.exp)(&x, &mut z);
        let result = match slope {
            Some(f) => {
                let mut dx = [0.0; LANES];
                f(&x, &z, &[1.0; LANES], &mut dx);
                dx
            }
            None => z,
        };
        for v in &result[..chunk.len()] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
    }
    Ok(PyBytes::new(py, &out))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_vmath, m)?)?;
    m.add_function(wrap_pyfunction!(_vmath_isas, m)?)?;
    Ok(())
}
