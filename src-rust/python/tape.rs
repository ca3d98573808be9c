//! The `Tape` class: a recorded graph, evaluated at points and batches.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buffers::{apart, default_threads, Floats, Out};
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

/// A batch's arguments as the core takes them: the rows, how many, the thread count (default:
/// one per core) and the precision.
struct Batch<'py> {
    xs: Floats<'py>,
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
    /// Reads a batch's arguments, checking the precision's name and that `xs` is an array of
    /// shape `(rows, n_inputs)`.
    fn batch<'py>(
        &self,
        xs: &Bound<'py, PyAny>,
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<Batch<'py>> {
        let precision = precision_from(precision)?;
        let xs = Floats::input(xs, "xs")?;
        let n = self.tape.n_inputs();
        let rows = match *xs.shape() {
            [rows, cols] if cols == n => rows,
            _ => return Err(xs.wrong_shape(&format!("(m, {n})"))),
        };
        Ok(Batch {
            xs,
            rows,
            threads: threads.unwrap_or_else(default_threads),
            precision,
        })
    }
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

    /// Writes the outputs (`k` per row) at each row of `xs` (shape `(m, n_inputs)`) to
    /// `values` (shape `(m,)`, or `(m, k)` for a vector function), computed with the GIL
    /// released on `min(threads, cores, m / 32)` threads (default: one per core; more than the
    /// cores are clamped), each with `256 × plan_len` bytes of scratch.
    ///
    /// Every array is read or written in place, so each must be exactly a `numpy.ndarray` of
    /// native float64, C-contiguous and aligned (`TypeError` or `ValueError` naming the one
    /// that is not); outputs must be writable and share no memory with another array of the
    /// call (`ValueError`). `precision` is `"default"` (bit for bit single points) or `"fast"`
    /// (vectorised elementary functions within the bounds in docs/ops.md), `ValueError`
    /// otherwise; `MemoryError` naming the size when an allocation fails.
    #[pyo3(signature = (xs, values, threads = None, precision = "default"))]
    fn eval_batch_into(
        &self,
        py: Python<'_>,
        xs: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<()> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        let shape = if self.tape.is_vector() {
            vec![rows, self.tape.n_outputs()]
        } else {
            vec![rows]
        };
        let mut values = Out::new(values, "values", &shape)?;
        apart(&[&xs, values.array()])?;
        let (xs, values) = (xs.floats(), values.floats_mut());
        py.detach(|| self.tape.eval_batch_into(xs, threads, precision, values))?;
        Ok(())
    }

    /// Writes the Jacobian at each row of `xs` to `jac`, shape `(m, k, n)` (`(m, n)` for a
    /// scalar function); GIL released; arrays, threads and precision as `eval_batch_into`.
    #[pyo3(signature = (xs, jac, threads = None, precision = "default"))]
    fn jacobian_batch_into(
        &self,
        py: Python<'_>,
        xs: &Bound<'_, PyAny>,
        jac: &Bound<'_, PyAny>,
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<()> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        let (k, n) = (self.tape.n_outputs(), self.tape.n_inputs());
        let shape = if self.tape.is_vector() {
            vec![rows, k, n]
        } else {
            vec![rows, n]
        };
        let mut jac = Out::new(jac, "jac", &shape)?;
        apart(&[&xs, jac.array()])?;
        let (xs, jac) = (xs.floats(), jac.floats_mut());
        py.detach(|| self.tape.jacobian_batch_into(xs, threads, precision, jac))?;
        Ok(())
    }

    /// Writes the output at each row of `xs` to `values` (shape `(m,)`) and its gradient to
    /// `grads` (shape `(m, n_inputs)`); GIL released; arrays, threads and precision as
    /// `eval_batch_into`, `512 × plan_len` bytes of scratch each.
    #[pyo3(signature = (xs, values, grads, threads = None, precision = "default"))]
    fn grad_batch_into(
        &self,
        py: Python<'_>,
        xs: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        grads: &Bound<'_, PyAny>,
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<()> {
        let Batch {
            xs,
            rows,
            threads,
            precision,
        } = self.batch(xs, threads, precision)?;
        if self.tape.is_vector() {
            return Err(TapeError::NotScalar {
                outputs: self.tape.n_outputs(),
                instead: "jacobian_batch",
            }
            .into());
        }
        let mut values = Out::new(values, "values", &[rows])?;
        let mut grads = Out::new(grads, "grads", &[rows, self.tape.n_inputs()])?;
        apart(&[&xs, values.array(), grads.array()])?;
        let (xs, values, grads) = (xs.floats(), values.floats_mut(), grads.floats_mut());
        py.detach(|| {
            self.tape
                .grad_batch_into(xs, threads, precision, values, grads)
        })?;
        Ok(())
    }

    /// Writes the output at each row to `values` (shape `(m,)`) and the gradient with respect
    /// to the shared inputs summed over the rows to `grad` (the shape of `shared`); GIL
    /// released; arrays and threads as `eval_batch_into`.
    ///
    /// `shared` (shape `(p,)`) holds the first inputs, the same at every row (loaded once per
    /// thread); `xs` (shape `(m, n_inputs - p)`) the others. The same rows on the same threads
    /// give the same bits. The summed gradient `g` is written as `g * scale + (2 * l2) *
    /// shared` (each operation rounded once, in that order; `l2 = 0` adds nothing): a mean over
    /// the rows plus an L2 penalty's gradient, without a numpy temporary per step.
    ///
    /// Returns the correctly rounded sum of `values` (what `math.fsum` gives), or None where
    /// `math.fsum` has rules of its own (a value that is not finite, a partial sum that
    /// overflows).
    /// `ValueError` when `shared` leaves no input to the rows or a shape is wrong;
    /// `MemoryError` naming the size when an allocation fails.
    #[pyo3(signature = (shared, xs, values, grad, threads = None, scale = 1.0, l2 = 0.0))]
    #[allow(clippy::too_many_arguments)]
    fn grad_sum_into(
        &self,
        py: Python<'_>,
        shared: &Bound<'_, PyAny>,
        xs: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        grad: &Bound<'_, PyAny>,
        threads: Option<usize>,
        scale: f64,
        l2: f64,
    ) -> PyResult<Option<f64>> {
        let shared = Floats::input(shared, "shared")?;
        let p = match *shared.shape() {
            [p] => p,
            _ => return Err(shared.wrong_shape("(p,)")),
        };
        let xs = Floats::input(xs, "xs")?;
        self.tape.sum_rows(p, 0)?; // refuses a `shared` that leaves no input to the rows
        let d = self.tape.n_inputs() - p;
        let rows = match *xs.shape() {
            [rows, cols] if cols == d => rows,
            _ => return Err(xs.wrong_shape(&format!("(m, {d})"))),
        };
        let mut values = Out::new(values, "values", &[rows])?;
        let mut grad = Out::new(grad, "grad", &[p])?;
        apart(&[&shared, &xs, values.array(), grad.array()])?;
        let threads = threads.unwrap_or_else(default_threads);
        let (shared, xs) = (shared.floats(), xs.floats());
        let (values, grad) = (values.floats_mut(), grad.floats_mut());
        py.detach(|| self.tape.grad_sum_into(shared, xs, threads, values, grad))?;
        if scale != 1.0 || l2 != 0.0 {
            let decay = 2.0 * l2;
            for (g, &p) in grad.iter_mut().zip(shared) {
                *g *= scale;
                if l2 != 0.0 {
                    *g += decay * p;
                }
            }
        }
        Ok(crate::fsum::exact_sum(values))
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
