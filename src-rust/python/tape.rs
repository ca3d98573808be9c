//! The `Tape` class: a recorded graph, evaluated at points and batches.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use super::buffers::{bytearray_of, default_threads, float_bytearray, floats_from_bytes, zeros};
use super::value::PyValue;
use crate::tape::{Tape, TapeError};
use crate::value::Value;
use crate::vmath::Precision;

/// `"default"` or `"fast"`; anything else is a ValueError naming the choices.
fn precision_from(name: &str) -> PyResult<Precision> {
    Precision::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "precision must be \"default\" or \"fast\", got {name:?}"
        ))
    })
}

/// A batch's arguments as the core takes them: the rows' floats, how many rows, the thread
/// count (default: one per core) and the precision.
struct Batch<'a> {
    xs: Cow<'a, [f64]>,
    rows: usize,
    threads: usize,
    precision: Precision,
}

/// A recorded graph as a flat instruction array. Use `ferrograd.compile`, which wraps it.
///
/// Not constructible directly: `record`, `record_many` and `from_bytes` make tapes.
#[pyclass(name = "Tape", module = "ferrograd._core", frozen)]
pub struct PyTape {
    tape: Tape,
}

impl PyTape {
    /// Reads a batch's arguments, checking the precision's name and that `xs` is whole rows.
    fn batch<'a>(
        &self,
        xs: &'a [u8],
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<Batch<'a>> {
        let precision = precision_from(precision)?;
        let xs = floats_from_bytes(xs)?;
        let rows = self.rows(&xs)?;
        Ok(Batch {
            xs,
            rows,
            threads: threads.unwrap_or_else(default_threads),
            precision,
        })
    }

    /// How many rows a flat batch holds, or the error naming the mismatch.
    fn rows(&self, xs: &[f64]) -> PyResult<usize> {
        let n = self.tape.n_inputs();
        if n == 0 || !xs.len().is_multiple_of(n) {
            return Err(TapeError::InputLength {
                expected: n,
                got: xs.len() % n.max(1),
            }
            .into());
        }
        Ok(xs.len() / n)
    }
}

fn too_many(rows: usize) -> PyErr {
    pyo3::exceptions::PyMemoryError::new_err(format!(
        "cannot allocate the results of a batch of {rows} rows"
    ))
}

#[pymethods]
impl PyTape {
    /// Flattens the graph of `output` with `inputs` as the variables (other leaves are
    /// constants); `ValueError` when an input appears twice.
    #[staticmethod]
    fn record(inputs: Vec<PyRef<'_, PyValue>>, output: PyRef<'_, PyValue>) -> PyResult<Self> {
        let inputs: Vec<Value> = inputs.iter().map(|v| v.inner.clone()).collect();
        Ok(PyTape {
            tape: Tape::record(&inputs, &output.inner)?,
        })
    }

    /// `record` for a function returning the sequence `outputs` (at least one; `ValueError`
    /// for none); a node that several outputs share is recorded once.
    #[staticmethod]
    fn record_many(
        inputs: Vec<PyRef<'_, PyValue>>,
        outputs: Vec<PyRef<'_, PyValue>>,
    ) -> PyResult<Self> {
        let inputs: Vec<Value> = inputs.iter().map(|v| v.inner.clone()).collect();
        let outputs: Vec<Value> = outputs.iter().map(|v| v.inner.clone()).collect();
        Ok(PyTape {
            tape: Tape::record_many(&inputs, &outputs)?,
        })
    }

    /// How many numbers the recorded function returns (1 for a scalar function).
    #[getter]
    fn n_outputs(&self) -> usize {
        self.tape.n_outputs()
    }

    /// Whether the recorded function returns a sequence of Values (`record_many`).
    #[getter]
    fn is_vector(&self) -> bool {
        self.tape.is_vector()
    }

    /// How many variables each evaluation takes.
    #[getter]
    fn n_inputs(&self) -> usize {
        self.tape.n_inputs()
    }

    fn __len__(&self) -> usize {
        self.tape.len()
    }

    /// Slots each evaluation computes, after constant folding and dead-code removal.
    #[getter]
    fn plan_len(&self) -> usize {
        self.tape.plan_len()
    }

    /// Whether `other` records the same program: same instructions, operands and constants.
    fn same_program(&self, other: PyRef<'_, PyTape>) -> bool {
        self.tape.same_program(&other.tape)
    }

    /// The output at `x`; `ValueError` unless `len(x) == n_inputs`.
    fn eval(&self, x: Vec<f64>) -> PyResult<f64> {
        Ok(self.tape.eval(&x)?)
    }

    /// The output and its gradient at `x`, one reverse sweep.
    fn grad(&self, x: Vec<f64>) -> PyResult<(f64, Vec<f64>)> {
        Ok(self.tape.grad(&x)?)
    }

    /// The output at `x` and its derivative along `v`, one forward sweep.
    fn jvp(&self, x: Vec<f64>, v: Vec<f64>) -> PyResult<(f64, f64)> {
        Ok(self.tape.jvp(&x, &v)?)
    }

    /// The Hessian at `x`, row-major `n × n`, forward mode over reverse mode; `MemoryError`
    /// naming the `8 n²` bytes when they cannot be allocated.
    fn hessian(&self, x: Vec<f64>) -> PyResult<Vec<f64>> {
        Ok(self.tape.hessian(&x)?)
    }

    /// Every output at `x`.
    fn eval_all(&self, x: Vec<f64>) -> PyResult<Vec<f64>> {
        Ok(self.tape.eval_all(&x)?)
    }

    /// Every output and the row-major `k × n` Jacobian at `x`: one forward pass, one reverse
    /// sweep per output, each row bit for bit that output's own gradient.
    fn jacobian(&self, x: Vec<f64>) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Ok(self.tape.jacobian(&x)?)
    }

    /// Every output at `x` and its derivative along `v`, one forward sweep.
    fn jvp_all(&self, x: Vec<f64>, v: Vec<f64>) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Ok(self.tape.jvp_all(&x, &v)?)
    }

    /// Every output at `x` and `u · J`, one reverse sweep seeded with `u`.
    fn vjp(&self, x: Vec<f64>, u: Vec<f64>) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Ok(self.tape.vjp(&x, &u)?)
    }

    /// Every output's Hessian at `x`, row-major `k × n × n`.
    fn hessians(&self, x: Vec<f64>) -> PyResult<Vec<f64>> {
        Ok(self.tape.hessians(&x)?)
    }

    /// Outputs (`k` per row) at each row of `xs` (native-endian float64, row-major), computed
    /// with the GIL released on `min(threads, cores, rows / 32)` threads (default: one per
    /// core; more than the cores are clamped), each with `256 × plan_len` bytes of scratch.
    ///
    /// `precision` is `"default"` (bit for bit single points) or `"fast"` (vectorised
    /// elementary functions within the bounds in docs/ops.md). `ValueError` when `xs` is not
    /// whole rows of float64s or `precision` is neither; `MemoryError` naming the size when an
    /// allocation fails.
    #[pyo3(signature = (xs, threads = None, precision = "default"))]
    fn eval_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        xs: &[u8],
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<Bound<'py, PyByteArray>> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        let len = rows
            .checked_mul(self.tape.n_outputs())
            .ok_or_else(|| too_many(rows))?;
        float_bytearray(py, len, |values| {
            self.tape.eval_batch_into(&xs, threads, precision, values)
        })
    }

    /// The Jacobian at each row of `xs` as `rows × k × n` float64 bytes; GIL released;
    /// threads and precision as `eval_batch_bytes`.
    #[pyo3(signature = (xs, threads = None, precision = "default"))]
    fn jacobian_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        xs: &[u8],
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<Bound<'py, PyByteArray>> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        let len = rows
            .checked_mul(self.tape.n_outputs())
            .and_then(|x| x.checked_mul(self.tape.n_inputs()))
            .ok_or_else(|| too_many(rows))?;
        float_bytearray(py, len, |jac| {
            self.tape.jacobian_batch_into(&xs, threads, precision, jac)
        })
    }

    /// Outputs and row-major gradients at each row of `xs`, as float64 bytes; GIL released;
    /// threads and precision as `eval_batch_bytes`, `512 × plan_len` bytes of scratch each.
    #[pyo3(signature = (xs, threads = None, precision = "default"))]
    fn grad_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        xs: &[u8],
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        if self.tape.is_vector() {
            // Before allocating anything: the same error the core gives.
            return Err(TapeError::NotScalar {
                outputs: self.tape.n_outputs(),
                instead: "jacobian_batch",
            }
            .into());
        }
        let mut values = zeros(rows, "grad_batch()")?;
        let grads = float_bytearray(py, xs.len(), |grads| {
            self.tape
                .grad_batch_into(&xs, threads, precision, &mut values, grads)
        })?;
        Ok((bytearray_of(py, &values)?, grads))
    }

    /// The output at each row and the gradient with respect to the shared inputs summed over
    /// the rows, as float64 bytes; GIL released; threads as `eval_batch_bytes`.
    ///
    /// `shared` holds the first inputs, the same at every row (loaded once per thread); `xs`
    /// the others, row-major. The same rows on the same threads give the same bits. The summed
    /// gradient `g` comes back as `g * scale + (2 * l2) * shared` (each operation rounded once,
    /// in that order; `l2 = 0` adds nothing): a mean over the rows plus an L2 penalty's
    /// gradient, without a numpy temporary per step. `ValueError` when `shared` leaves no input
    /// to the rows or `xs` is not whole rows; `MemoryError` naming the size when an allocation
    /// fails.
    #[pyo3(signature = (shared, xs, threads = None, scale = 1.0, l2 = 0.0))]
    fn grad_sum_bytes<'py>(
        &self,
        py: Python<'py>,
        shared: &[u8],
        xs: &[u8],
        threads: Option<usize>,
        scale: f64,
        l2: f64,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
        let (shared, xs) = (floats_from_bytes(shared)?, floats_from_bytes(xs)?);
        let threads = threads.unwrap_or_else(default_threads);
        let rows = self.tape.sum_rows(shared.len(), xs.len())?;
        let mut grad = zeros(shared.len(), "grad_sum()")?;
        let values = float_bytearray(py, rows, |values| {
            self.tape
                .grad_sum_into(&shared, &xs, threads, values, &mut grad)
        })?;
        if scale != 1.0 || l2 != 0.0 {
            let decay = 2.0 * l2;
            for (g, &p) in grad.iter_mut().zip(shared.iter()) {
                *g *= scale;
                if l2 != 0.0 {
                    *g += decay * p;
                }
            }
        }
        Ok((values, bytearray_of(py, &grad)?))
    }

    /// The tape in a flat little-endian byte format (what pickling stores); `from_bytes`
    /// reads it back.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.tape.to_bytes())
    }

    /// Rebuilds a tape from `to_bytes` output; `ValueError` for anything else.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(PyTape {
            tape: Tape::from_bytes(data)?,
        })
    }

    /// Pickles the tape as its `to_bytes`.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let rebuild = py.get_type::<PyTape>().getattr("from_bytes")?;
        Ok((rebuild, (self.to_bytes(py),)))
    }
}
