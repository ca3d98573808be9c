//! Python objects as the core's numbers and labels: one set of rules, one set of messages.

use pyo3::exceptions::{PyTypeError, PyValueError};
use std::borrow::Cow;
use std::marker::PhantomData;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString, PyType};

pub(super) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// `obj` as a real number, or `None` when it is not one (str, None, complex, containers...).
/// Python's own conversion errors (an int too large for a float) pass through.
pub(super) fn real_number(obj: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
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
             the gradient's path through it; pass x.data if a constant is meant"
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

/// The `TypeError` for `float(v)`, `int(v)`, `bool(v)`, `math.exp(v)` and `v < w` on a Value
/// (`what` names the conversion, e.g. "float(v)"): the same text as the reference engine's.
pub(super) fn no_number(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{what}: the Value would become a plain number that carries no gradient, cutting \
         the path through it without a word (math.exp(v), float(v), int(v), bool(v), `if v:` \
         and v < w all do this); use v.data or v.item() for the number, v.exp() or \
         ferrograd.exp(v) for the op, v.data < 0 for a branch"
    ))
}

/// The `TypeError` for `float(d)`, `int(d)`, `bool(d)`, `math.exp(d)` and `d < e` on a `Dual`:
/// the rule of [`no_number`] for the tangent; the same text as the reference engine's.
pub(super) fn no_dual_number(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{what}: the Dual would become a plain number that carries no tangent, cutting \
         the derivative through it without a word (math.exp(d), float(d), int(d), bool(d), \
         `if d:` and d < e all do this); use d.data or d.item() for the number, d.exp() or \
         ferrograd.exp(d) for the op, d.data < 0 for a branch"
    ))
}

/// A label: a str, else the `TypeError` both engines give (in `Value()` and the setter alike).
pub(super) fn label_str<'a>(label: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, str>> {
    let label = label.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "Value.label must be a str, got {}",
            type_name(label)
        ))
    })?;
    label.to_cow()
}

pub(super) fn require_real(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<f64> {
    real_number(obj)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} needs a real number, got {}",
            type_name(obj)
        ))
    })
}

/// What an argument is called in the `TypeError` about it ("Value()", "leaky_relu() slope").
pub(super) trait Named {
    /// The argument's name, as the message begins.
    fn what() -> Cow<'static, str>;
}

/// Marker types naming the arguments that are read as numbers, one per message.
macro_rules! named {
    ($($(#[$doc:meta])* $name:ident = $what:literal;)*) => {$(
        $(#[$doc])*
        pub(super) enum $name {}
        impl Named for $name {
            fn what() -> Cow<'static, str> {
                Cow::Borrowed($what)
            }
        }
    )*};
}

named! {
    /// `Value(data)`.
    ValueData = "Value()";
    /// The `Value.data` setter.
    DataSetter = "Value.data";
    /// The `Value.grad` setter.
    GradSetter = "Value.grad";
    /// `Dual(data)`.
    DualData = "Dual()";
    /// `Dual(data, tangent)`.
    DualTangent = "Dual() tangent";
    /// `log(base)` of either class.
    LogBase = "log() base";
    /// `clamp(lo)` of either class.
    ClampLo = "clamp() lo";
    /// `clamp(hi)` of either class.
    ClampHi = "clamp() hi";
}

/// The operand of the binary method of the op with code `CODE` (`y.atan2(x)`), named as
/// its method is ("atan2()").
pub(super) enum MethodOf<const CODE: usize> {}

impl<const CODE: usize> Named for MethodOf<CODE> {
    fn what() -> Cow<'static, str> {
        Cow::Owned(format!("{}()", crate::ops::OP_TABLE[CODE].name))
    }
}

/// A real number argument (`W` names it): a float, an int or another real, never a str,
/// complex, container or something that carries a derivative; else the `TypeError` both
/// engines give, "`W` needs a real number, got `type`".
pub(super) struct RealArg<W>(pub(super) f64, PhantomData<W>);

impl<'a, 'py, W: Named> FromPyObject<'a, 'py> for RealArg<W> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        require_real(&obj, &W::what()).map(|x| RealArg(x, PhantomData))
    }
}

/// The slope of `leaky_relu(slope)`: a real number (checked by the op itself).
pub(super) struct Slope(f64);

impl Slope {
    /// The slope given, or the default one when none was.
    pub(super) fn or_default(slope: Option<Slope>) -> f64 {
        slope.map_or(crate::ops::DEFAULT_SLOPE, |s| s.0)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Slope {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        require_real(&obj, "leaky_relu() slope").map(Slope)
    }
}

/// A node's label: a str, else the `TypeError` both engines give (in `Value()` and the
/// setter alike).
pub(super) struct Label(pub(super) String);

impl<'a, 'py> FromPyObject<'a, 'py> for Label {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Label(label_str(&obj)?.into_owned()))
    }
}

/// GELU's `approximate`, read as [`gelu_code`] reads it.
pub(super) struct GeluForm(pub(super) crate::ops::Code);

impl GeluForm {
    /// The op `approximate` picks, the erf form when it was not given.
    pub(super) fn or_default(form: Option<GeluForm>) -> crate::ops::Code {
        form.map_or(crate::ops::Code::Gelu, |f| f.0)
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for GeluForm {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        gelu_code(&obj).map(GeluForm)
    }
}

/// Three-argument `pow(x, y, m)` has no meaning for these numbers.
pub(super) fn no_modulus(modulo: &Bound<'_, PyAny>, class: &str) -> PyResult<()> {
    if modulo.is_none() {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "pow() with a modulus is not defined for {class}"
        )))
    }
}

/// Which GELU `approximate` picks, as torch spells it: `"none"` (the erf form, `Gelu`) or
/// `"tanh"` (`GeluTanh`); anything else is the error both engines give.
pub(super) fn gelu_code(approximate: &Bound<'_, PyAny>) -> PyResult<crate::ops::Code> {
    let text = approximate.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "gelu() approximate must be a str, got {}",
            type_name(approximate)
        ))
    })?;
    match &*text.to_cow()? {
        "none" => Ok(crate::ops::Code::Gelu),
        "tanh" => Ok(crate::ops::Code::GeluTanh),
        _ => Err(PyValueError::new_err(format!(
            "gelu() approximate must be 'none' or 'tanh', got {}",
            approximate.repr()?
        ))),
    }
}
