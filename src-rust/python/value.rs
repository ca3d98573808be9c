//! The `Value` class: a handle to a node of the core's graph.

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyList, PyString, PyTuple};

use super::convert::{
    no_modulus, no_number, real_number, ClampHi, ClampLo, DataSetter, GeluForm, GradSetter, Label,
    LogBase, MethodOf, RealArg, Slope, ValueData,
};
use super::operands::ValueArg;
use crate::anomaly::{detect_anomaly_enabled, Anomaly};
use crate::custom::{intern, Custom};
use crate::grad_mode::no_grad_enabled;
use crate::ops::{log, with_op_list, Code};
use crate::value::{Side, Value};

/// The `#[pymethods]` of `Value`: one method per plain unary op of the list (`x.tanh()`) and
/// one per alias of it (`x.arcsin()`), one per binary method (`y.atan2(x)`) and its aliases,
/// then the methods written out below (`extra`). `log` takes an optional base, so its method is
/// written out here too: the unary entries are read one by one (`@unary`), `log` by its own rule.
macro_rules! py_value_methods {
    (
        extra { $($extra:tt)* }
        binary { $($binary:tt)* }
        unary { $($unary:tt)* }
        operator { $($operator:tt)* }
        param { $($param:tt)* }
        binary_method { $(
            $(#[$mdoc:meta])*
            $mcode:literal $MCode:ident $mmodule:ident $MOP:ident $mname:literal
                $(alias $malias:ident)*
                forward |$mfx:ident, $mfy:ident| $mforward:expr,
                backward |$mbx:ident, $mby:ident, $mbz:ident, $mbg:ident| $mbackward:expr;
        )* }
    ) => {
        py_value_methods! {
            @unary [
                $(
                    $(#[$mdoc])*
                    fn $mmodule(
                        &self,
                        py: Python<'_>,
                        other: ValueArg<MethodOf<{ Code::$MCode as usize }>>,
                    ) -> PyResult<Py<PyValue>> {
                        checked(py, self.inner.$mmodule(&other.0))
                    }
                    $(
                        #[doc = concat!("numpy's name for `", $mname, "()`: the same op.")]
                        fn $malias(
                            &self,
                            py: Python<'_>,
                            other: ValueArg<MethodOf<{ Code::$MCode as usize }>>,
                        ) -> PyResult<Py<PyValue>> {
                            self.$mmodule(py, other)
                        }
                    )*
                )*
                $($extra)*
            ]
            $($unary)*
        }
    };
    (@unary [$($out:tt)*]) => {
        #[pymethods]
        impl PyValue {
            $($out)*
        }
    };
    (
        @unary [$($out:tt)*]
        $(#[$doc:meta])*
        $code:literal $Code:ident log $OP:ident $name:literal
            $(alias $alias:ident)*
            forward |$fx:ident, $fp:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
        $($rest:tt)*
    ) => {
        py_value_methods! {
            @unary [
                $($out)*
                /// The natural logarithm, or with a base (a number or a Value) the logarithm
                /// `ln(self) / ln(base)` to that base. `log(0)` is -inf, negative inputs give nan.
                #[pyo3(signature = (base = None))]
                fn log(
                    &self,
                    py: Python<'_>,
                    base: Option<Base>,
                ) -> PyResult<Py<PyValue>> {
                    let ln = self.inner.log();
                    let Some(base) = base else {
                        return checked(py, ln);
                    };
                    check_forward(&ln)?;
                    let ln_base = match base {
                        Base::Value(b) => {
                            let ln_base = b.log();
                            check_forward(&ln_base)?;
                            ln_base
                        }
                        Base::Number(b) => Value::new(log::forward(b, 0.0)),
                    };
                    checked(py, ln.div(&ln_base))
                }
            ]
            $($rest)*
        }
    };
    (
        @unary [$($out:tt)*]
        $(#[$doc:meta])*
        $code:literal $Code:ident $module:ident $OP:ident $name:literal
            $(alias $alias:ident)*
            forward |$fx:ident, $fp:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
        $($rest:tt)*
    ) => {
        py_value_methods! {
            @unary [
                $($out)*
                $(#[$doc])*
                fn $module(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
                    checked(py, self.inner.$module())
                }
                $(
                    #[doc = concat!("numpy's name for `", stringify!($module), "()`: the same op.")]
                    fn $alias(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
                        checked(py, self.inner.$module())
                    }
                )*
            ]
            $($rest)*
        }
    };
}

/// A scalar in a differentiable expression graph (a node held by the Rust core).
///
/// A number combined with a Value by an operator is kept in the new node, not in a leaf node
/// of its own; `children` shows it as a fresh leaf. Two handles of the same node (for example
/// one taken from `children`) compare equal and hash alike.
#[pyclass(name = "Value", module = "ferrograd", frozen, weakref)]
pub struct PyValue {
    pub(super) inner: Value,
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
pub(super) fn checked(py: Python<'_>, inner: Value) -> PyResult<Py<PyValue>> {
    check_forward(&inner)?;
    untracked(Py::new(
        py,
        PyValue {
            inner: recorded(inner),
        },
    )?)
}

/// A new node as `no_grad` wants it: a leaf with its value while the mode is on for this
/// thread (checked after the anomaly check, whose message names the operands), else as it is.
#[inline]
pub(super) fn recorded(inner: Value) -> Value {
    if no_grad_enabled() {
        inner.unrecorded()
    } else {
        inner
    }
}

/// In anomaly mode, the forward check of a new node; nothing otherwise.
pub(super) fn check_forward(inner: &Value) -> PyResult<()> {
    if detect_anomaly_enabled() {
        Anomaly::check_forward(inner)?;
    }
    Ok(())
}

/// Takes a `Value` object out of Python's cycle collector. It holds no Python references, so it
/// can never be part of a cycle; left tracked, every collection walks every live node, and a
/// graph of 100,000 nodes spends most of its build time in the collector.
pub(super) fn untracked(obj: Py<PyValue>) -> PyResult<Py<PyValue>> {
    // SAFETY: `obj` is a live object of a GC type; untracking is allowed at any time and
    // the dealloc PyO3 installs checks whether the object is tracked before untracking it.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

pub(super) fn wrap(py: Python<'_>, inner: Value) -> PyResult<Py<PyAny>> {
    Ok(checked(py, inner)?.into_any())
}

with_op_list! { py_value_methods,
    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.add(o), self.scalar(Code::Add, Side::Right))
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.add(&self.inner), self.scalar(Code::Add, Side::Left))
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.sub(o), self.scalar(Code::Sub, Side::Right))
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.sub(&self.inner), self.scalar(Code::Sub, Side::Left))
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.mul(o), self.scalar(Code::Mul, Side::Right))
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.mul(&self.inner), self.scalar(Code::Mul, Side::Left))
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| self.inner.div(o), self.scalar(Code::Div, Side::Right))
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        with_operand(py, other, |o| o.div(&self.inner), self.scalar(Code::Div, Side::Left))
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.neg())
    }

    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.abs())
    }

    // A slot: its docstring is in `_core.pyi` only. `label=None` is no label, as `""` (both
    // engines); any other non-str is `TypeError`.
    #[new]
    #[pyo3(signature = (data, label = None), text_signature = "(data, label='')")]
    fn py_new(data: RealArg<ValueData>, label: Option<Label>) -> Self {
        let inner = Value::new(data.0);
        if let Some(label) = label {
            inner.set_label(&label.0);
        }
        PyValue { inner }
    }

    /// The forward value. Settable; a non-number raises `TypeError`.
    #[getter]
    fn data(&self) -> f64 {
        self.inner.data()
    }

    #[setter]
    fn set_data(&self, data: RealArg<DataSetter>) {
        self.inner.set_data(data.0);
    }

    /// The accumulated adjoint, 0.0 until a `backward()` reaches this node. Settable.
    #[getter]
    fn grad(&self) -> f64 {
        self.inner.grad()
    }

    #[setter]
    fn set_grad(&self, grad: RealArg<GradSetter>) {
        self.inner.set_grad(grad.0);
    }

    /// A name shown by pictures and error messages; `""` when unset. Settable to a str.
    #[getter]
    fn label(&self) -> String {
        self.inner.label()
    }

    #[setter]
    fn set_label(&self, label: Label) {
        self.inner.set_label(&label.0);
    }

    /// The op that made this node: `""` for a leaf, else `"+"`, `"*"`, `"**"`, `"tanh"`, ...
    #[getter]
    fn op(&self) -> &'static str {
        self.inner.op()
    }

    /// The operands, in operand order (`a * a` has two); they share the graph's state. A
    /// number operand (`x + 2.0`) comes as a new leaf holding it on each read, outside the
    /// graph: its grad stays 0.0 and changing it changes nothing.
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
        with_operand(py, exponent, |e| self.inner.pow(e), self.scalar(Code::Pow, Side::Right))
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        base: &Bound<'_, PyAny>,
        modulo: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        no_modulus(modulo, "Value")?;
        with_operand(py, base, |b| b.pow(&self.inner), self.scalar(Code::Pow, Side::Left))
    }

    /// `x` where positive, else `slope * x`; `slope` None means 0.01 (`DEFAULT_SLOPE`).
    ///
    /// `ValueError` unless the slope is finite and >= 0.
    #[pyo3(signature = (slope = None))]
    fn leaky_relu(&self, py: Python<'_>, slope: Option<Slope>) -> PyResult<Py<PyValue>> {
        checked(py, self.inner.leaky_relu(Slope::or_default(slope))?)
    }

    /// GELU `x * Φ(x)` (Φ the normal CDF); `approximate="tanh"` for its tanh approximation.
    #[pyo3(signature = (approximate = None), text_signature = "($self, approximate='none')")]
    fn gelu(&self, py: Python<'_>, approximate: Option<GeluForm>) -> PyResult<Py<PyValue>> {
        let tanh = GeluForm::or_default(approximate) == Code::GeluTanh;
        checked(py, if tanh { self.inner.gelu_tanh() } else { self.inner.gelu() })
    }

    /// `self` bounded below by `lo` and above by `hi`, each a number, a Value or None (no
    /// bound): `clamp_min(lo)`, then `clamp_max(hi)`. The gradient reaches `self` where
    /// `lo <= self <= hi`; where `lo > hi` the result is `hi`.
    #[pyo3(signature = (lo = None, hi = None))]
    fn clamp(
        &self,
        py: Python<'_>,
        lo: Option<ValueArg<ClampLo>>,
        hi: Option<ValueArg<ClampHi>>,
    ) -> PyResult<Py<PyValue>> {
        if lo.is_none() && hi.is_none() {
            return Err(PyTypeError::new_err("clamp() needs lo or hi (or both), got neither"));
        }
        let mut z = self.inner.clone();
        if let Some(lo) = lo {
            z = z.clamp_min(&lo.0);
            if hi.is_none() {
                return checked(py, z);
            }
            check_forward(&z)?;
        }
        if let Some(hi) = hi {
            z = z.clamp_max(&hi.0);
        }
        checked(py, z)
    }

    /// One reverse sweep from this node.
    ///
    /// Fresh adjoints, seeded with 1.0 here, are added to the `grad` of every ancestor, so k
    /// calls give k times the gradient. Linear in the number of nodes, never recursive.
    fn backward(&self) -> PyResult<()> {
        if detect_anomaly_enabled() {
            Ok(self.inner.backward_checked()?)
        } else {
            self.inner.backward();
            Ok(())
        }
    }

    /// A new leaf with this node's value (grad 0.0, no label): gradients stop at it.
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyValue>> {
        untracked(Py::new(py, PyValue { inner: self.inner.detach() })?)
    }

    // Slots from here to `__bool__`: their docstrings are in `_core.pyi` only.
    // Refused: a plain number carries no gradient (`TypeError` saying what to use).
    fn __float__(&self) -> PyResult<f64> {
        Err(no_number("float(v)"))
    }

    // Refused, as `float()`.
    fn __int__(&self) -> PyResult<i64> {
        Err(no_number("int(v)"))
    }

    // Refused, as `float()` (an index is a plain number too).
    fn __index__(&self) -> PyResult<i64> {
        Err(no_number("int(v)"))
    }

    // Refused: `if v:` would branch on a number that carries no gradient.
    fn __bool__(&self) -> PyResult<bool> {
        Err(no_number("bool(v)"))
    }

    /// Refused, as `float()`.
    #[pyo3(signature = (ndigits = None))]
    fn __round__(&self, ndigits: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
        let _ = ndigits;
        Err(no_number("round(v)"))
    }

    /// `data`, the forward value, as a float (torch's `item()`): the number, without its
    /// gradient.
    fn item(&self) -> f64 {
        self.inner.data()
    }

    /// `format(v.data, spec)`, so f-strings such as `f"{loss:.4f}"` work; an empty spec is
    /// `str(v)`, as for any object.
    fn __format__(&self, py: Python<'_>, spec: &Bound<'_, PyString>) -> PyResult<String> {
        if spec.to_cow()?.is_empty() {
            return self.__repr__(py);
        }
        let text = PyFloat::new(py, self.inner.data()).call_method1("__format__", (spec,))?;
        Ok(text.cast_into::<PyString>()?.to_cow()?.into_owned())
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

    // A slot (the stub documents `__eq__`, `__lt__`, ...): `==`/`!=` by node identity; `<`,
    // `<=`, `>`, `>=` are refused (`TypeError`): they would compare numbers that carry no
    // gradient.
    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        op: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let equal = match op {
            CompareOp::Eq => true,
            CompareOp::Ne => false,
            CompareOp::Lt => return Err(no_number("v < w")),
            CompareOp::Le => return Err(no_number("v <= w")),
            CompareOp::Gt => return Err(no_number("v > w")),
            CompareOp::Ge => return Err(no_number("v >= w")),
        };
        let same = match other.cast::<PyValue>() {
            Ok(o) => o.get().inner.ptr_eq(&self.inner),
            Err(_) => return Ok(py.NotImplemented()),
        };
        Ok(PyBool::new(py, same == equal).to_owned().into_any().unbind())
    }

    /// Pickles the whole graph behind this node (operands, grads, labels); a custom op's node
    /// carries its op (pickled by reference) and its partials beside the bytes.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let rebuild = py.import("ferrograd._core")?.getattr("_value_from_bytes")?;
        let bytes = PyBytes::new(py, &self.inner.to_bytes()?).into_any();
        let customs = self.inner.customs();
        if customs.is_empty() {
            return Ok((rebuild, PyTuple::new(py, [bytes])?));
        }
        let list = PyList::empty(py);
        for custom in &customs {
            let op = match custom.handle.downcast_ref::<OpHandle>() {
                Some(handle) => handle.0.clone_ref(py).into_bound(py),
                None => py.None().into_bound(py),
            };
            list.append((op, PyTuple::new(py, custom.partials.iter())?))?;
        }
        Ok((rebuild, PyTuple::new(py, [bytes, list.into_any()])?))
    }

    fn __hash__(&self) -> u64 {
        self.inner.id() as u64
    }
}

impl PyValue {
    /// `self op k` (or `k op self` for `Side::Left`): a number operand kept in the node.
    fn scalar(&self, code: Code, side: Side) -> impl FnOnce(f64) -> Value + '_ {
        move |k| self.inner.with_scalar(code, k, side)
    }
}

/// Rebuilds a pickled graph and returns its root; `customs` holds each custom op node's
/// `(op, partials)`, in the order `__reduce__` wrote them.
#[pyfunction]
#[pyo3(signature = (data, customs = None))]
pub(super) fn _value_from_bytes(
    data: &[u8],
    customs: Option<Vec<(Py<PyAny>, Vec<f64>)>>,
) -> PyResult<PyValue> {
    let mut rebuilt = Vec::new();
    for (op, partials) in customs.unwrap_or_default() {
        let name: String = Python::attach(|py| op.bind(py).getattr("name")?.extract())?;
        rebuilt.push(Custom {
            name: intern(&name),
            handle: std::rc::Rc::new(OpHandle(op)),
            partials: partials.into_boxed_slice(),
        });
    }
    let inner = Value::from_bytes_with(data, rebuilt)?;
    Ok(PyValue { inner })
}

/// A custom op's Python object, as its nodes keep it (see `crate::custom::Custom::handle`).
pub(super) struct OpHandle(pub(super) Py<PyAny>);

/// `f(other)` as a new Python Value where `other` is a Value, `scalar(other)` where it is a
/// number (kept in the node, not a leaf of its own), else NotImplemented (so Python tries the
/// reflected operator, then raises `TypeError`). A Value operand is lent to `f` as it is, so
/// the node `f` builds holds the only new handle to it.
fn with_operand(
    py: Python<'_>,
    other: &Bound<'_, PyAny>,
    f: impl FnOnce(&Value) -> Value,
    scalar: impl FnOnce(f64) -> Value,
) -> PyResult<Py<PyAny>> {
    if let Ok(v) = other.cast::<PyValue>() {
        return wrap(py, f(&v.get().inner));
    }
    match real_number(other)? {
        Some(x) => wrap(py, scalar(x)),
        None => Ok(py.NotImplemented()),
    }
}

/// `log(base)`'s base: a Value (whose log is a node) or a number (whose log is a constant),
/// else the `TypeError` "log() base needs a real number".
pub(super) enum Base {
    Value(Value),
    Number(f64),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Base {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.cast::<PyValue>() {
            Ok(b) => Ok(Base::Value(b.get().inner.clone())),
            Err(_) => Ok(Base::Number(obj.extract::<RealArg<LogBase>>()?.0)),
        }
    }
}
