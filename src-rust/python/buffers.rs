//! float64 numpy arrays whose memory the core reads and writes in place, without the GIL.
//!
//! abi3 has no buffer protocol, so an array's memory is found through its
//! `__array_interface__`, and only for arrays that it describes completely: exactly
//! `numpy.ndarray` (a subclass may report anything), native float64, C-contiguous (no
//! strides), aligned, of the shape the call expects, writable when written. Anything else is a
//! `TypeError` or `ValueError` naming what is wrong, before any memory is touched.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

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
        let ndarray = py.import("numpy")?.getattr("ndarray")?;
        if !obj.is_exact_instance(&ndarray) {
            let kind = obj.get_type().name()?;
            let what = if obj.is_instance(&ndarray)? {
                format!("the ndarray subclass {kind}")
            } else {
                kind.to_string()
            };
            return Err(PyTypeError::new_err(format!(
                "{name} must be a numpy.ndarray, got {what}"
            )));
        }
        let interface = obj.getattr("__array_interface__")?;
        let interface = interface.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("{name}'s __array_interface__ is not a dict"))
        })?;
        let item = |key: &str| -> PyResult<Bound<'py, PyAny>> {
            interface.get_item(key)?.ok_or_else(|| {
                PyTypeError::new_err(format!("{name}'s __array_interface__ has no {key:?}"))
            })
        };
        let typestr: String = item("typestr")?.extract()?;
        if typestr != NATIVE_F8 {
            return Err(PyTypeError::new_err(format!(
                "{name} must hold float64 in native byte order ('{NATIVE_F8}'), got '{typestr}'"
            )));
        }
        if !item("strides")?.is_none() {
            return Err(PyValueError::new_err(format!(
                "{name} must be C-contiguous, got a strided array (a view or Fortran order)"
            )));
        }
        let shape: Vec<usize> = item("shape")?.extract()?;
        let (addr, readonly): (usize, bool) = item("data")?.extract()?;
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
