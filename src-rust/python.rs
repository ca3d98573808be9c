//! Python bindings: argument conversion, errors and dunder methods. No maths here; every
//! number comes from the core in `ops.rs`.

use std::borrow::Cow;

use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyFloatingPointError, PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

use crate::anomaly::{detect_anomaly_enabled, set_detect_anomaly, Anomaly, Pass};
use crate::ops::{binary_forward, check_slope, unary_forward, Code, OpError};
use crate::scalar::{Dual, Real};
use crate::tape::{Tape, TapeError};
use crate::value::Value;

impl From<TapeError> for PyErr {
    fn from(err: TapeError) -> PyErr {
        match err {
            TapeError::OutOfMemory { .. } => PyMemoryError::new_err(err.to_string()),
            _ => PyValueError::new_err(err.to_string()),
        }
    }
}

/// How far a length hint (`len()` of an iterable that is not a list or tuple) is trusted when
/// reserving room: a hint is a hint, and `__len__` may claim anything.
const LENGTH_HINT_CAP: usize = 1 << 16;

/// Room for `extra` more items in `out`, or `MemoryError` naming the size.
fn try_reserve<T>(out: &mut Vec<T>, extra: usize, what: &str) -> PyResult<()> {
    out.try_reserve(extra).map_err(|_| {
        let bytes = extra.saturating_mul(std::mem::size_of::<T>());
        PyMemoryError::new_err(format!("{what} cannot allocate {bytes} more bytes"))
    })
}

impl From<OpError> for PyErr {
    fn from(err: OpError) -> PyErr {
        PyValueError::new_err(err.to_string())
    }
}

/// A scalar in a differentiable expression graph.
#[pyclass(name = "Value", module = "ferrograd", frozen, weakref)]
pub struct PyValue {
    inner: Value,
}

// SAFETY: a node's `Rc` counts and `Cell` fields are only touched by code holding the GIL:
// every binding below runs with it, none releases it while it holds a `Value` (the tape's
// batch methods release it, but a `Tape` owns no nodes), and the module declares that it
// needs the GIL (`gil_used = true` on `_core` below: PyO3 0.30 would otherwise declare it
// free-threaded), so even a free-threaded CPython turns the GIL on when it loads it. The GIL
// therefore serialises all access, which is what `Send + Sync` asks for, and Python threads
// can share Values as they share any other object.
unsafe impl Send for PyValue {}
unsafe impl Sync for PyValue {}

/// The one place a new node becomes a Python object; in anomaly mode, the forward check.
fn checked(py: Python<'_>, inner: Value) -> PyResult<Py<PyValue>> {
    check_forward(&inner)?;
    untracked(Py::new(py, PyValue { inner })?)
}

/// In anomaly mode, the forward check of a new node; nothing otherwise.
fn check_forward(inner: &Value) -> PyResult<()> {
    if detect_anomaly_enabled() {
        Anomaly::check_forward(inner).map_err(anomaly_error)?;
    }
    Ok(())
}

/// Takes a `Value` object out of Python's cycle collector. It holds no Python references, so it
/// can never be part of a cycle; left tracked, every collection walks every live node, and a
/// graph of 100,000 nodes spends most of its build time in the collector.
fn untracked(obj: Py<PyValue>) -> PyResult<Py<PyValue>> {
    // SAFETY: `obj` is a live object of a GC type; untracking is allowed at any time and
    // the dealloc PyO3 installs checks whether the object is tracked before untracking it.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

fn wrap(py: Python<'_>, inner: Value) -> PyResult<Py<PyAny>> {
    Ok(checked(py, inner)?.into_any())
}

/// The anomaly as `FloatingPointError`, its numbers and labels written as Python's `repr`
/// writes them (`nan`, `1e+300`, `'a'`), so both engines' messages match character for character.
fn anomaly_error(anomaly: Anomaly) -> PyErr {
    Python::attach(|py| match anomaly_message(py, &anomaly) {
        Ok(message) => PyFloatingPointError::new_err(message),
        Err(err) => err,
    })
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

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// `obj` as a real number, or `None` when it is not one (str, None, complex, containers...).
/// Python's own conversion errors (an int too large for a float) pass through.
fn real_number(obj: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(Some(f.value()));
    }
    if obj.is_instance_of::<PyFloat>() {
        // A float subclass (numpy's float64 among them) reads as `float(obj)` does, through
        // its `__float__`, as the reference engine reads it.
        // SAFETY: `obj` is live and the GIL is held; the result is a new reference or NULL.
        let float = unsafe {
            Bound::from_owned_ptr_or_err(obj.py(), pyo3::ffi::PyNumber_Float(obj.as_ptr()))?
        };
        return float
            .cast_into::<PyFloat>()
            .map(|f| Some(f.value()))
            .map_err(Into::into);
    }
    if obj.is_exact_instance_of::<PyInt>() {
        // A plain int converts directly; going through `float()` would build a float object.
        // SAFETY: `obj` is a live int and the GIL is held.
        let x = unsafe { pyo3::ffi::PyLong_AsDouble(obj.as_ptr()) };
        if x == -1.0 {
            if let Some(err) = PyErr::take(obj.py()) {
                return Err(err);
            }
        }
        return Ok(Some(x));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<f64>().map(Some);
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Ok(None);
    }
    let py = obj.py();
    if !obj.hasattr(pyo3::intern!(py, "__float__"))? || obj.hasattr(pyo3::intern!(py, "__len__"))? {
        return Ok(None);
    }
    // A node of another graph (a `ferrograd.reference.Value`, a tensor) or a dual number can
    // be read as a float too, but as a constant here it would silently drop its derivative.
    if obj.hasattr(pyo3::intern!(py, "backward"))? || obj.hasattr(pyo3::intern!(py, "tangent"))? {
        let ty = obj.get_type();
        let name = match (ty.module(), ty.qualname()) {
            (Ok(module), Ok(qualname)) => format!("{module}.{qualname}"),
            _ => "?".to_owned(),
        };
        return Err(PyTypeError::new_err(format!(
            "a {name} carries a derivative, not a plain number: as a constant it would cut \
             the gradient's path through it; pass float(x) or x.data if a constant is meant"
        )));
    }
    static NUMBERS: PyOnceLock<(Py<PyType>, Py<PyType>)> = PyOnceLock::new();
    let (complex, real) = NUMBERS.get_or_try_init(py, || -> PyResult<_> {
        let numbers = py.import("numbers")?;
        Ok((
            numbers.getattr("Complex")?.cast_into::<PyType>()?.unbind(),
            numbers.getattr("Real")?.cast_into::<PyType>()?.unbind(),
        ))
    })?;
    if obj.is_instance(complex.bind(py))? && !obj.is_instance(real.bind(py))? {
        return Ok(None);
    }
    obj.extract::<f64>().map(Some)
}

/// A label: a str, else the `TypeError` both engines give (in `Value()` and the setter alike).
fn label_str<'a>(label: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, str>> {
    let label = label.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "Value.label must be a str, got {}",
            type_name(label)
        ))
    })?;
    label.to_cow()
}

fn require_real(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    real_number(obj)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} needs a real number, got {}",
            type_name(obj)
        ))
    })
}

/// A `Value` operand as a core value: a Value as it is, a number as a new constant leaf,
/// anything else `None` (so the operator returns NotImplemented).
fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if let Ok(v) = obj.cast::<PyValue>() {
        return Ok(Some(v.get().inner.clone()));
    }
    Ok(real_number(obj)?.map(Value::new))
}

/// `f(other)` as a new Python Value where `other` is a Value or a number, else NotImplemented
/// (so Python tries the reflected operator, then raises `TypeError`). A Value operand is lent
/// to `f` as it is, so the node `f` builds holds the only new handle to it.
fn with_operand(
    py: Python<'_>,
    other: &Bound<'_, PyAny>,
    f: impl FnOnce(&Value) -> Value,
) -> PyResult<Py<PyAny>> {
    if let Ok(v) = other.cast::<PyValue>() {
        return wrap(py, f(&v.get().inner));
    }
    match real_number(other)? {
        Some(x) => wrap(py, f(&Value::new(x))),
        None => Ok(py.NotImplemented()),
    }
}

/// Three-argument `pow(x, y, m)` has no meaning for these numbers.
fn no_modulus(modulo: &Bound<'_, PyAny>, class: &str) -> PyResult<()> {
    if modulo.is_none() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "pow() with a modulus is not defined for {class}"
        )))
    }
}

fn values_from(iterable: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Value>> {
    let hint = iterable.len().unwrap_or(0).min(LENGTH_HINT_CAP);
    let mut out = Vec::with_capacity(hint);
    push_values(iterable, what, &mut out)?;
    Ok(out)
}

/// Appends the operands in `iterable` to `out`; lists and tuples skip the iterator protocol.
fn push_values(iterable: &Bound<'_, PyAny>, what: &str, out: &mut Vec<Value>) -> PyResult<()> {
    let push = |item: &Bound<'_, PyAny>, out: &mut Vec<Value>| -> PyResult<()> {
        match operand(item)? {
            Some(v) => {
                out.push(v);
                Ok(())
            }
            None => Err(PyTypeError::new_err(format!(
                "{what} needs Values or real numbers, got {}",
                type_name(item)
            ))),
        }
    };
    if let Ok(list) = iterable.cast::<PyList>() {
        try_reserve(out, list.len(), what)?;
        for item in list.iter() {
            push(&item, out)?;
        }
    } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
        try_reserve(out, tuple.len(), what)?;
        for item in tuple.iter() {
            push(&item, out)?;
        }
    } else {
        for item in iterable.try_iter()? {
            if out.len() == out.capacity() {
                grow(out, what)?;
            }
            push(&item?, out)?;
        }
    }
    Ok(())
}

/// Doubles the room in `out` for an iterator of unknown length, fallibly; and checks that the
/// leaf nodes those new operands may need (`NODE_BOUND` bytes each) can be allocated too, so an
/// endless or huge iterator ends in `MemoryError` at a doubling rather than in an abort.
fn grow(out: &mut Vec<Value>, what: &str) -> PyResult<()> {
    const NODE_BOUND: usize = 128;
    let extra = out.len().max(64);
    try_reserve(out, extra, what)?;
    let mut probe: Vec<u8> = Vec::new();
    try_reserve(&mut probe, extra.saturating_mul(NODE_BOUND), what)
}

#[pymethods]
impl PyValue {
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.add(o))
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.add(&self.inner))
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.sub(o))
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.sub(&self.inner))
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.mul(o))
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.mul(&self.inner))
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.div(o))
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.div(&self.inner))
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.neg())
    }

    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.abs())
    }

    /// `max(0, x)`, with derivative 0 at 0; NaN passes through.
    fn relu(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.relu())
    }

    /// Hyperbolic tangent (never overflows).
    fn tanh(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.tanh())
    }

    /// Logistic sigmoid `1 / (1 + exp(-x))`, in its stable form.
    fn sigmoid(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.sigmoid())
    }

    /// `e ** x`; overflows to inf.
    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.exp())
    }

    /// Natural logarithm: `log(0)` is -inf, negative inputs give nan.
    fn log(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.log())
    }

    /// Sine.
    fn sin(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.sin())
    }

    /// Cosine.
    fn cos(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.cos())
    }

    /// Tangent; its derivative is `1 + tan(x) ** 2`.
    fn tan(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.tan())
    }

    /// Square root; negative inputs give nan.
    fn sqrt(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.sqrt())
    }

    #[new]
    /// `label=None` is no label, as `""` (both engines); any other non-str is `TypeError`.
    #[pyo3(signature = (data, label = None), text_signature = "(data, label='')")]
    fn py_new(data: &Bound<'_, PyAny>, label: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let inner = Value::new(require_real(data, "Value()")?);
        if let Some(label) = label {
            inner.set_label(&label_str(label)?);
        }
        Ok(PyValue { inner })
    }

    /// The forward value. Settable; a non-number raises `TypeError`.
    #[getter]
    fn data(&self) -> f64 {
        self.inner.data()
    }

    #[setter]
    fn set_data(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_data(require_real(data, "Value.data")?);
        Ok(())
    }

    /// The accumulated adjoint, 0.0 until a `backward()` reaches this node. Settable.
    #[getter]
    fn grad(&self) -> f64 {
        self.inner.grad()
    }

    #[setter]
    fn set_grad(&self, grad: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_grad(require_real(grad, "Value.grad")?);
        Ok(())
    }

    /// A name shown by pictures and error messages; "" when unset.
    #[getter]
    fn label(&self) -> String {
        self.inner.label()
    }

    #[setter]
    fn set_label(&self, label: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_label(&label_str(label)?);
        Ok(())
    }

    /// The op that made this node: "" for a leaf, else "+", "*", "**", "tanh", ...
    #[getter]
    fn op(&self) -> &'static str {
        self.inner.op()
    }

    /// The operands, in operand order (`a * a` has two); they share the graph's state.
    #[getter]
    fn children<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let children = self.inner.children();
        let objects = children
            .into_iter()
            .map(|inner| untracked(Py::new(py, PyValue { inner })?))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, objects)
    }

    fn __pos__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __pow__(
        &self,
        py: Python<'_>,
        exponent: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Value")?;
        with_operand(py, exponent, |e| self.inner.pow(e))
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        base: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Value")?;
        with_operand(py, base, |b| b.pow(&self.inner))
    }

    /// `x` where positive, else `slope * x` (slope 0.01 when None).
    ///
    /// `ValueError` unless the slope is finite and >= 0.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(
        &self,
        py: Python<'_>,
        slope: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyValue>> {
        let slope = match slope {
            Some(s) => require_real(s, "leaky_relu() slope")?,
            None => 0.01,
        };
        checked(py, self.inner.leaky_relu(slope)?)
    }

    /// One reverse sweep from this node.
    ///
    /// Fresh adjoints, seeded with 1.0 here, are added to the `grad` of every ancestor, so k
    /// calls give k times the gradient. Linear in the number of nodes, never recursive.
    fn backward(&self) -> PyResult<()> {
        if detect_anomaly_enabled() {
            self.inner.backward_checked().map_err(anomaly_error)
        } else {
            self.inner.backward();
            Ok(())
        }
    }

    fn __float__(&self) -> f64 {
        self.inner.data()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let float_repr =
            |x: f64| -> PyResult<String> { Ok(PyFloat::new(py, x).repr()?.to_string()) };
        let (data, grad) = (
            float_repr(self.inner.data())?,
            float_repr(self.inner.grad())?,
        );
        let label = self.inner.label();
        Ok(if label.is_empty() {
            format!("Value(data={data}, grad={grad})")
        } else {
            let label = PyString::new(py, &label).repr()?;
            format!("Value(data={data}, grad={grad}, label={label})")
        })
    }

    fn __richcmp__(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: CompareOp) -> Py<PyAny> {
        let same = match other.cast::<PyValue>() {
            Ok(o) => o.get().inner.ptr_eq(&self.inner),
            Err(_) => return py.NotImplemented(),
        };
        match op {
            CompareOp::Eq => same
                .into_pyobject(py)
                .unwrap()
                .to_owned()
                .into_any()
                .unbind(),
            CompareOp::Ne => (!same)
                .into_pyobject(py)
                .unwrap()
                .to_owned()
                .into_any()
                .unbind(),
            _ => py.NotImplemented(),
        }
    }

    /// Pickles the whole graph behind this node (operands, grads, labels).
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let rebuild = py.import("ferrograd._core")?.getattr("_value_from_bytes")?;
        let bytes = self
            .inner
            .to_bytes()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((rebuild, (PyBytes::new(py, &bytes),)))
    }

    fn __hash__(&self) -> u64 {
        self.inner.id() as u64
    }
}

/// `values[0] + values[1] + …` as a single graph node.
#[pyfunction]
fn sum(values: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    checked(values.py(), Value::sum_owned(values_from(values, "sum()")?))
}

/// `ws[0]*xs[0] + ws[1]*xs[1] + …` as a single graph node.
#[pyfunction]
fn dot(ws: &Bound<'_, PyAny>, xs: &Bound<'_, PyAny>) -> PyResult<Py<PyValue>> {
    let mut operands = values_from(ws, "dot()")?;
    let n = operands.len();
    push_values(xs, "dot()", &mut operands)?;
    checked(ws.py(), Value::dot_owned(operands, n)?)
}

/// One dense layer of neurons in a single call: for each neuron `i`, the nodes
/// `dot(weights[i], x)`, `+ biases[i]` and, where `nonlins[i]`, `relu` — the very graph that
/// `ferrograd.nn` builds one op at a time, without a Python object for the inner nodes.
#[pyfunction]
fn _dense(
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
            untracked(Py::new(py, PyValue { inner: affine })?)?
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

/// A number with a tangent, for forward-mode derivatives without a graph: every op of
/// `Value` (same names, same formulas), carrying `d(result)/dt` along.
#[pyclass(name = "Dual", module = "ferrograd", frozen)]
pub struct PyDual {
    dual: Dual,
}

fn dual_operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Dual>> {
    if let Ok(d) = obj.cast::<PyDual>() {
        return Ok(Some(d.get().dual));
    }
    Ok(real_number(obj)?.map(Dual::lift))
}

impl PyDual {
    fn unary(&self, code: Code, p: f64) -> PyDual {
        PyDual {
            dual: unary_forward(code, self.dual, p),
        }
    }

    fn binary(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        code: Code,
        reflected: bool,
    ) -> PyResult<Py<PyAny>> {
        let Some(o) = dual_operand(other)? else {
            return Ok(py.NotImplemented());
        };
        let (x, y) = if reflected {
            (o, self.dual)
        } else {
            (self.dual, o)
        };
        Ok(Py::new(
            py,
            PyDual {
                dual: binary_forward(code, x, y),
            },
        )?
        .into_any())
    }
}

#[pymethods]
impl PyDual {
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Add, false)
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Add, true)
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Sub, false)
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Sub, true)
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Mul, false)
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Mul, true)
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Div, false)
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.binary(py, other, Code::Div, true)
    }

    fn __neg__(&self) -> PyDual {
        self.unary(Code::Neg, 0.0)
    }

    fn __abs__(&self) -> PyDual {
        self.unary(Code::Abs, 0.0)
    }

    /// `max(0, x)` with its tangent (0 at 0).
    fn relu(&self) -> PyDual {
        self.unary(Code::Relu, 0.0)
    }

    /// Hyperbolic tangent with its tangent.
    fn tanh(&self) -> PyDual {
        self.unary(Code::Tanh, 0.0)
    }

    /// Logistic sigmoid with its tangent.
    fn sigmoid(&self) -> PyDual {
        self.unary(Code::Sigmoid, 0.0)
    }

    /// `e ** x` with its tangent.
    fn exp(&self) -> PyDual {
        self.unary(Code::Exp, 0.0)
    }

    /// Natural logarithm with its tangent.
    fn log(&self) -> PyDual {
        self.unary(Code::Log, 0.0)
    }

    /// Sine with its tangent.
    fn sin(&self) -> PyDual {
        self.unary(Code::Sin, 0.0)
    }

    /// Cosine with its tangent.
    fn cos(&self) -> PyDual {
        self.unary(Code::Cos, 0.0)
    }

    /// Tangent with its tangent.
    fn tan(&self) -> PyDual {
        self.unary(Code::Tan, 0.0)
    }

    /// Square root with its tangent.
    fn sqrt(&self) -> PyDual {
        self.unary(Code::Sqrt, 0.0)
    }

    #[new]
    #[pyo3(signature = (data, tangent = None))]
    fn py_new(data: &Bound<'_, PyAny>, tangent: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let tangent = match tangent {
            Some(t) => require_real(t, "Dual() tangent")?,
            None => 0.0,
        };
        Ok(PyDual {
            dual: Dual::new(require_real(data, "Dual()")?, tangent),
        })
    }

    /// The value.
    #[getter]
    fn data(&self) -> f64 {
        self.dual.re
    }

    /// The derivative carried along.
    #[getter]
    fn tangent(&self) -> f64 {
        self.dual.eps
    }

    fn __pos__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __pow__(
        &self,
        py: Python<'_>,
        exponent: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Dual")?;
        self.binary(py, exponent, Code::Pow, false)
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        base: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Dual")?;
        self.binary(py, base, Code::Pow, true)
    }

    /// `x` where positive, else `slope * x` (slope 0.01 when None), with its tangent.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(&self, slope: Option<&Bound<'_, PyAny>>) -> PyResult<PyDual> {
        let slope = match slope {
            Some(s) => require_real(s, "leaky_relu() slope")?,
            None => 0.01,
        };
        let slope = check_slope(slope)?;
        Ok(self.unary(Code::LeakyRelu, slope))
    }

    fn __float__(&self) -> f64 {
        self.dual.re
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let data = PyFloat::new(py, self.dual.re).repr()?;
        let tangent = PyFloat::new(py, self.dual.eps).repr()?;
        Ok(format!("Dual(data={data}, tangent={tangent})"))
    }
}

/// Rebuilds a pickled graph and returns its root.
#[pyfunction]
fn _value_from_bytes(data: &[u8]) -> PyResult<PyValue> {
    let inner = Value::from_bytes(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyValue { inner })
}

/// A graph flattened into an array of instructions; see `ferrograd.compile`.
#[pyclass(name = "Tape", module = "ferrograd._core", frozen)]
pub struct PyTape {
    tape: Tape,
}

/// `data` (native-endian float64) as numbers: borrowed when aligned, copied when not.
fn floats_from_bytes(data: &[u8]) -> PyResult<Cow<'_, [f64]>> {
    if data.len() % 8 != 0 {
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
fn float_bytearray<'py>(
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
            let mut floats = Vec::new();
            try_reserve(&mut floats, len, "a batch's result")?;
            floats.resize(len, 0.0);
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

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl PyTape {
    /// How many rows a flat batch holds, or the error naming the mismatch.
    fn rows(&self, xs: &[f64]) -> PyResult<usize> {
        let n = self.tape.n_inputs();
        if n == 0 || xs.len() % n != 0 {
            return Err(TapeError::InputLength {
                expected: n,
                got: xs.len() % n.max(1),
            }
            .into());
        }
        Ok(xs.len() / n)
    }
}

#[pymethods]
impl PyTape {
    /// Flattens the graph of `output`, with `inputs` as the variables.
    #[staticmethod]
    fn record(inputs: Vec<PyRef<'_, PyValue>>, output: PyRef<'_, PyValue>) -> PyResult<Self> {
        let inputs: Vec<Value> = inputs.iter().map(|v| v.inner.clone()).collect();
        Ok(PyTape {
            tape: Tape::record(&inputs, &output.inner)?,
        })
    }

    /// How many inputs the recorded function takes.
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

    /// The output at the point `x`.
    fn eval(&self, x: Vec<f64>) -> PyResult<f64> {
        Ok(self.tape.eval(&x)?)
    }

    /// The output and its gradient at the point `x`.
    fn grad(&self, x: Vec<f64>) -> PyResult<(f64, Vec<f64>)> {
        Ok(self.tape.grad(&x)?)
    }

    /// The output and its derivative along `v` at `x`, in forward mode.
    fn jvp(&self, x: Vec<f64>, v: Vec<f64>) -> PyResult<(f64, f64)> {
        Ok(self.tape.jvp(&x, &v)?)
    }

    /// Row-major n × n.
    fn hessian(&self, x: Vec<f64>) -> PyResult<Vec<f64>> {
        Ok(self.tape.hessian(&x)?)
    }

    /// Outputs at each row of `xs` (native-endian float64 bytes, row-major), computed with
    /// the GIL released on at most `threads` threads.
    #[pyo3(signature = (xs, threads = None))]
    fn eval_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        xs: &[u8],
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyByteArray>> {
        let xs = floats_from_bytes(xs)?;
        let threads = threads.unwrap_or_else(default_threads);
        let rows = self.rows(&xs)?;
        float_bytearray(py, rows, |values| {
            self.tape.eval_batch_into(&xs, threads, values)
        })
    }

    /// Outputs and gradients at each row of `xs`, as float64 bytes; GIL released.
    #[pyo3(signature = (xs, threads = None))]
    fn grad_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        xs: &[u8],
        threads: Option<usize>,
    ) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
        let xs = floats_from_bytes(xs)?;
        let threads = threads.unwrap_or_else(default_threads);
        let rows = self.rows(&xs)?;
        let mut values = Vec::new();
        try_reserve(&mut values, rows, "grad_batch()")?;
        values.resize(rows, 0.0);
        let grads = float_bytearray(py, xs.len(), |grads| {
            self.tape.grad_batch_into(&xs, threads, &mut values, grads)
        })?;
        let values = float_bytearray(py, rows, |out| {
            out.copy_from_slice(&values);
            Ok(())
        })?;
        Ok((values, grads))
    }

    /// The tape as bytes (what pickling stores).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.tape.to_bytes())
    }

    /// A tape from `to_bytes` output; `ValueError` for anything else.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(PyTape {
            tape: Tape::from_bytes(data)?,
        })
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let rebuild = py.get_type::<PyTape>().getattr("from_bytes")?;
        Ok((rebuild, (self.to_bytes(py),)))
    }
}

/// Turns anomaly detection on or off for this thread; returns the previous setting.
#[pyfunction]
fn _set_detect_anomaly(on: bool) -> bool {
    set_detect_anomaly(on)
}

/// `gil_used = true`: the soundness of sharing Values between threads rests on the GIL (see the
/// SAFETY note on `PyValue`), so a free-threaded interpreter must keep it on for this module.
#[pymodule(gil_used = true)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyValue>()?;
    m.add_function(wrap_pyfunction!(sum, m)?)?;
    m.add_function(wrap_pyfunction!(dot, m)?)?;
    m.add_function(wrap_pyfunction!(_dense, m)?)?;
    m.add_function(wrap_pyfunction!(_set_detect_anomaly, m)?)?;
    m.add_function(wrap_pyfunction!(_value_from_bytes, m)?)?;
    m.add_class::<PyTape>()?;
    m.add_class::<PyDual>()?;
    Ok(())
}
