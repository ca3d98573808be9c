//! float64 numpy arrays whose memory the core reads and writes in place, without the GIL.
//!
//! abi3 has no buffer protocol, so an array's memory is found through its
//! `__array_interface__`, and only for arrays that it describes completely: exactly
//! `numpy.ndarray` (a subclass may report anything), native float64, C-contiguous (no
//! strides), aligned, of the shape the call expects, writable when written. Anything else is a
//! `TypeError` or `ValueError` naming what is wrong, before any memory is touched.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// numpy's type string for a float64 in this machine's byte order.
const NATIVE_F8: &str = if cfg!(target_endian = "little") {
    "<f8"
} else {
    ">f8"
};

/// A numpy array checked for direct use by the core: see the module's documentation.
pub(super) struct Floats<'py> {
    /// Held for as long as the slices are borrowed: the array keeps its memory alive.
    _array: Bound<'py, PyAny>,
    name: &'static str,
    shape: Vec<usize>,
    /// The address of the first float (meaningful only when `len > 0`).
    addr: usize,
    len: usize,
    /// Checked as an output: the core writes it.
    written: bool,
}

impl<'py> Floats<'py> {
    /// `obj` checked as an array the core reads: `name` is its name in error messages.
    pub(super) fn input(obj: &Bound<'py, PyAny>, name: &'static str) -> PyResult<Self> {
        Floats::checked(obj, name, false)
    }

    fn checked(obj: &Bound<'py, PyAny>, name: &'static str, write: bool) -> PyResult<Self> {
        let py = obj.py();
        let ndarray = ndarray_type(py)?;
        if !obj.is_exact_instance(ndarray) {
            let kind = obj.get_type().name()?;
            let what = if obj.is_instance(ndarray)? {
                format!("the ndarray subclass {kind}")
            } else {
                kind.to_string()
            };
            return Err(PyTypeError::new_err(format!(
                "{name} must be a numpy.ndarray, got {what}"
            )));
        }
        let Header {
            typestr,
            contiguous,
            shape,
            addr,
            readonly,
        } = match header_layout_known(py) {
            // SAFETY: `obj` is exactly a numpy.ndarray, whose header this numpy lays out as
            // `ArrayFields` says (checked against `__array_interface__` once).
            true => unsafe { Header::read(obj) },
            false => Header::from_interface(obj, name)?,
        };
        if !typestr {
            let typestr: String = obj
                .getattr("__array_interface__")?
                .get_item("typestr")?
                .extract()?;
            return Err(PyTypeError::new_err(format!(
                "{name} must hold float64 in native byte order ('{NATIVE_F8}'), got '{typestr}'"
            )));
        }
        if !contiguous {
            return Err(PyValueError::new_err(format!(
                "{name} must be C-contiguous, got a strided array (a view or Fortran order)"
            )));
        }
        if write && readonly {
            return Err(PyValueError::new_err(format!("{name} is read-only")));
        }
        let len = shape
            .iter()
            .try_fold(1usize, |len, &d| len.checked_mul(d))
            .filter(|&len| len <= isize::MAX as usize / 8)
            .ok_or_else(|| PyValueError::new_err(format!("{name} is too large")))?;
        if len > 0 && addr == 0 {
            return Err(PyValueError::new_err(format!("{name} has no data")));
        }
        if len > 0 && !addr.is_multiple_of(8) {
            return Err(PyValueError::new_err(format!(
                "{name}'s data is not aligned to 8 bytes"
            )));
        }
        Ok(Floats {
            _array: obj.clone(),
            name,
            shape,
            addr,
            len,
            written: write,
        })
    }

    /// The array's shape.
    pub(super) fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// `ValueError` unless the shape is `shape`, written as `want` in the message.
    pub(super) fn expect_shape(&self, shape: &[usize], want: &str) -> PyResult<()> {
        if self.shape != shape {
            return Err(self.wrong_shape(want));
        }
        Ok(())
    }

    /// The `ValueError` of an array whose shape is not `want`.
    pub(super) fn wrong_shape(&self, want: &str) -> PyErr {
        PyValueError::new_err(format!(
            "{} must have shape {want}, got {}",
            self.name,
            shape_text(&self.shape)
        ))
    }

    /// The floats, to read.
    pub(super) fn floats(&self) -> &[f64] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `checked` found a C-contiguous, aligned, non-null block of `len` native
        // float64s (any bit pattern is an f64), and `_array` keeps it alive while the slice is
        // borrowed from `self`. The core writes only through `Out::floats_mut`, to an array
        // that `apart` found disjoint from every other.
        unsafe {
            std::slice::from_raw_parts(std::ptr::with_exposed_provenance(self.addr), self.len)
        }
    }

    fn bytes(&self) -> std::ops::Range<usize> {
        // `checked` bounded `len * 8` by isize::MAX; numpy's block ends inside the address space.
        self.addr..self.addr.saturating_add(self.len * 8)
    }
}

/// A [`Floats`] the core writes: not read-only, of the shape the call expects.
pub(super) struct Out<'py>(Floats<'py>);

impl<'py> Out<'py> {
    /// `obj` checked as an array the core writes, of shape `shape`.
    pub(super) fn new(
        obj: &Bound<'py, PyAny>,
        name: &'static str,
        shape: &[usize],
    ) -> PyResult<Self> {
        let out = Floats::checked(obj, name, true)?;
        out.expect_shape(shape, &shape_text(shape))?;
        Ok(Out(out))
    }

    /// The array, as every array of the call is seen by [`apart`].
    pub(super) fn array(&self) -> &Floats<'py> {
        &self.0
    }

    /// The floats, to write.
    pub(super) fn floats_mut(&mut self) -> &mut [f64] {
        let Floats { addr, len, .. } = self.0;
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in `Floats::floats`, and the array is writable; `&mut self` gives out one
        // slice at a time, and `apart` checked that no other array of the call shares its
        // memory.
        unsafe { std::slice::from_raw_parts_mut(std::ptr::with_exposed_provenance_mut(addr), len) }
    }
}

/// `numpy.ndarray`, looked up once.
fn ndarray_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static NDARRAY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let ty = NDARRAY.get_or_try_init(py, || -> PyResult<_> {
        Ok(py
            .import("numpy")?
            .getattr("ndarray")?
            .cast_into::<PyType>()?
            .unbind())
    })?;
    Ok(ty.bind(py))
}

/// What the core needs to know of an array: whether it holds native float64s (`typestr`),
/// is C-contiguous, its shape, where its data starts and whether it is read-only.
struct Header {
    typestr: bool,
    contiguous: bool,
    shape: Vec<usize>,
    addr: usize,
    readonly: bool,
}

/// The start of numpy's array object (`PyArrayObject_fields` in numpy's `ndarraytypes.h`, the
/// same in numpy 1 and 2), after the object header every Python object has.
#[repr(C)]
struct ArrayFields {
    ob_refcnt: isize,
    ob_type: *mut std::ffi::c_void,
    data: *mut u8,
    nd: std::ffi::c_int,
    dimensions: *const isize,
    strides: *const isize,
    base: *mut std::ffi::c_void,
    descr: *const DescrFields,
    flags: std::ffi::c_int,
}

/// The start of numpy's dtype object (`PyArray_Descr`), the same in numpy 1 and 2.
#[repr(C)]
struct DescrFields {
    ob_refcnt: isize,
    ob_type: *mut std::ffi::c_void,
    typeobj: *mut std::ffi::c_void,
    kind: std::ffi::c_char,
    type_: std::ffi::c_char,
    byteorder: std::ffi::c_char,
    flags: std::ffi::c_char,
    type_num: std::ffi::c_int,
}

/// numpy's flags and the type number of float64 (`NPY_DOUBLE`).
const NPY_ARRAY_C_CONTIGUOUS: std::ffi::c_int = 0x0001;
const NPY_ARRAY_WRITEABLE: std::ffi::c_int = 0x0400;
const NPY_DOUBLE: std::ffi::c_int = 12;

impl Header {
    /// The header read from the array object itself: a few loads instead of building the
    /// `__array_interface__` dict (about a microsecond per array, which a training step over a
    /// hundred rows would pay four times).
    ///
    /// # Safety
    /// `obj` must be exactly a `numpy.ndarray` of a numpy whose layout `header_layout_known`
    /// has confirmed.
    unsafe fn read(obj: &Bound<'_, PyAny>) -> Header {
        // SAFETY: the caller's promise; numpy keeps `dimensions` (`nd` of them) and `descr`
        // alive as long as the array, which `obj` holds.
        unsafe {
            let a = &*(obj.as_ptr() as *const ArrayFields);
            let d = &*a.descr;
            let native = if cfg!(target_endian = "little") {
                b'<'
            } else {
                b'>'
            };
            let order = d.byteorder as u8;
            let nd = usize::try_from(a.nd).unwrap_or(0);
            let dims = if nd == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(a.dimensions, nd)
            };
            Header {
                typestr: d.type_num == NPY_DOUBLE && (order == b'=' || order == native),
                contiguous: a.flags & NPY_ARRAY_C_CONTIGUOUS != 0,
                shape: dims.iter().map(|&n| n.max(0) as usize).collect(),
                addr: a.data as usize,
                readonly: a.flags & NPY_ARRAY_WRITEABLE == 0,
            }
        }
    }

    /// The header from `obj.__array_interface__`, numpy's documented description of it.
    fn from_interface(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Header> {
        let interface = obj.getattr("__array_interface__")?;
        let interface = interface.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("{name}'s __array_interface__ is not a dict"))
        })?;
        let item = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            interface.get_item(key)?.ok_or_else(|| {
                PyTypeError::new_err(format!("{name}'s __array_interface__ has no {key:?}"))
            })
        };
        let typestr: String = item("typestr")?.extract()?;
        let (addr, readonly): (usize, bool) = item("data")?.extract()?;
        Ok(Header {
            typestr: typestr == NATIVE_F8,
            contiguous: item("strides")?.is_none(),
            shape: item("shape")?.extract()?,
            addr,
            readonly,
        })
    }
}

/// Whether this numpy's array objects start as `ArrayFields` says: checked once, on arrays of
/// several kinds (a float64 matrix, a read-only strided float64 view, a big-endian float64
/// and a float32 array), by comparing what `Header::read` finds with their
/// `__array_interface__`. Otherwise every array is read through `__array_interface__`.
fn header_layout_known(py: Python<'_>) -> bool {
    static KNOWN: PyOnceLock<bool> = PyOnceLock::new();
    *KNOWN.get_or_init(py, || check_layout(py).unwrap_or(false))
}

/// Whether batches read numpy's array headers directly (this numpy's layout was confirmed)
/// rather than through `__array_interface__`: for tests.
#[pyfunction]
pub(super) fn _array_headers_direct(py: Python<'_>) -> bool {
    header_layout_known(py)
}

fn check_layout(py: Python<'_>) -> PyResult<bool> {
    let np = py.import("numpy")?;
    let matrix = np
        .call_method1("arange", (6.0,))?
        .call_method1("reshape", (2, 3))?;
    let view = matrix.get_item((pyo3::types::PySlice::full(py), 1))?;
    view.getattr("flags")?.setattr("writeable", false)?;
    let big = np.call_method1("zeros", (3, ">f8"))?;
    let single = np.call_method1("zeros", (4, "f4"))?;
    let ndarray = ndarray_type(py)?;
    for array in [&matrix, &view, &big, &single] {
        if !array.is_exact_instance(ndarray) {
            return Ok(false);
        }
        let known = Header::from_interface(array, "a test array")?;
        // First the fields that need no dereference: the data pointer, the dimension count
        // and the dtype object (`array.dtype` is the array's descr itself).
        // SAFETY: an exact numpy.ndarray is a Python object at least as large as its header
        // in every numpy release (their fields only ever grew), so these reads are in bounds.
        let fields = unsafe { &*(array.as_ptr() as *const ArrayFields) };
        let dtype = array.getattr("dtype")?;
        if fields.data as usize != known.addr
            || usize::try_from(fields.nd).ok() != Some(known.shape.len())
            || !std::ptr::eq(fields.descr.cast(), dtype.as_ptr())
        {
            return Ok(false);
        }
        // SAFETY: the layout matched so far: `dimensions` and `descr` are numpy's pointers.
        let read = unsafe { Header::read(array) };
        if read.typestr != known.typestr
            || read.contiguous != known.contiguous
            || read.shape != known.shape
            || read.addr != known.addr
            || read.readonly != known.readonly
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `ValueError` when an array written (an output) shares memory with any other of `arrays`.
pub(super) fn apart(arrays: &[&Floats<'_>]) -> PyResult<()> {
    for (i, a) in arrays.iter().enumerate() {
        for b in &arrays[i + 1..] {
            if !(a.written || b.written) || a.len == 0 || b.len == 0 {
                continue;
            }
            let (x, y) = (a.bytes(), b.bytes());
            if x.start < y.end && y.start < x.end {
                return Err(PyValueError::new_err(format!(
                    "{} and {} overlap in memory: an output must not share memory with another \
                     array of the call",
                    a.name, b.name
                )));
            }
        }
    }
    Ok(())
}

/// `shape` as Python writes a tuple: `(3,)`, `(2, 3)`.
pub(super) fn shape_text(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

pub(super) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `crate::optim::sgd_step` on numpy arrays in place (`FlatSGD.step`): `params`, `grad` and
/// `velocity` of one length, `velocity` read and written only when `momentum` is not zero.
/// False, touching nothing, when an array is not one the core can use in place (a view, a
/// subclass, read-only, overlapping another): the caller then does the same with numpy.
#[pyfunction]
pub(super) fn _sgd_step(
    params: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    velocity: &Bound<'_, PyAny>,
    lr: f64,
    momentum: f64,
) -> bool {
    let (Ok(p), Ok(g), Ok(v)) = (
        Floats::checked(params, "params", true),
        Floats::input(grad, "grad"),
        Floats::checked(velocity, "velocity", true),
    ) else {
        return false;
    };
    if !one_length_apart(&[&p, &g, &v]) {
        return false;
    }
    let (mut p, mut v) = (Out(p), Out(v));
    crate::optim::sgd_step(p.floats_mut(), g.floats(), v.floats_mut(), lr, momentum);
    true
}

/// Whether `arrays` (the first a parameter vector) are all of its one-dimensional shape, and
/// no array written shares memory with another: what the in-place optimiser steps need.
fn one_length_apart(arrays: &[&Floats<'_>]) -> bool {
    let shape = arrays[0].shape();
    shape.len() == 1 && arrays.iter().all(|a| a.shape() == shape) && apart(arrays).is_ok()
}

/// `crate::optim::adam_step` on numpy arrays in place (`FlatAdam.step`), with the step's numbers
/// as `AdamStep` names them; `v_max` is read and written only with `amsgrad`. False, touching
/// nothing, when an array is not one the core can use in place (the caller then does the same
/// with numpy).
#[pyfunction]
#[pyo3(signature = (params, grad, m, v, v_max, neg_step, bias2_sqrt, eps, w, beta2, shrink, l2, amsgrad))]
#[allow(clippy::too_many_arguments)]
pub(super) fn _adam_step<'py>(
    params: &Bound<'py, PyAny>,
    grad: &Bound<'py, PyAny>,
    m: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    v_max: &Bound<'py, PyAny>,
    neg_step: f64,
    bias2_sqrt: f64,
    eps: f64,
    w: f64,
    beta2: f64,
    shrink: Option<f64>,
    l2: Option<f64>,
    amsgrad: bool,
) -> bool {
    let out = |array: &Bound<'py, PyAny>, name: &'static str| Floats::checked(array, name, true);
    let (Ok(p), Ok(g), Ok(m), Ok(v), Ok(v_max)) = (
        out(params, "params"),
        Floats::input(grad, "grad"),
        out(m, "m"),
        out(v, "v"),
        out(v_max, "v_max"),
    ) else {
        return false;
    };
    if !one_length_apart(&[&p, &g, &m, &v, &v_max]) {
        return false;
    }
    let (mut p, mut m, mut v, mut v_max) = (Out(p), Out(m), Out(v), Out(v_max));
    let step = crate::optim::AdamStep {
        neg_step,
        bias2_sqrt,
        eps,
        w,
        beta2,
        shrink,
        l2,
        amsgrad,
    };
    crate::optim::adam_step(
        p.floats_mut(),
        g.floats(),
        m.floats_mut(),
        v.floats_mut(),
        v_max.floats_mut(),
        &step,
    );
    true
}
