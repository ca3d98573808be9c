//! Python objects as the graph's operands: a Value as it is, a number as a constant leaf, and
//! sequences of them, read with fallible allocation.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyRange, PyTuple};

use std::marker::PhantomData;

use super::convert::{real_number, type_name, Named};
use super::errors::try_reserve;
use super::value::PyValue;
use crate::value::Value;

/// How far a length hint (`len()` of an iterable that is not a list or tuple) is trusted when
/// reserving room: a hint is a hint, and `__len__` may claim anything.
pub(super) const LENGTH_HINT_CAP: usize = 1 << 16;

/// A `Value` operand as a core value: a Value as it is, a number as a new constant leaf,
/// anything else `None` (so the operator returns NotImplemented).
#[inline(always)]
fn operand(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    if let Ok(v) = obj.cast::<PyValue>() {
        return Ok(Some(v.get().inner.clone()));
    }
    Ok(real_number(obj)?.map(Value::new))
}

/// `obj` as one operand of `what`: a Value as it is, a number as a new constant leaf, anything
/// else the `TypeError` "`what` needs Values or real numbers, got `type`".
pub(super) fn value_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    operand(obj)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} needs Values or real numbers, got {}",
            type_name(obj)
        ))
    })
}

/// The core value of `item` when it is a `Value` (exactly: the class has no subclasses), else
/// `None`; read without taking a reference to it, for a sequence's items.
///
/// # Safety
/// The GIL is held and `item` is a live object, or null (`None`).
#[inline(always)]
unsafe fn borrowed_value(py: Python<'_>, item: *mut pyo3::ffi::PyObject) -> Option<Value> {
    use pyo3::type_object::PyTypeInfo;
    if item.is_null() {
        return None;
    }
    // SAFETY: `item` is live (the caller's promise), so it has a type.
    if unsafe { pyo3::ffi::Py_TYPE(item) } != PyValue::type_object_raw(py) {
        return None;
    }
    // SAFETY: `item` is a live `PyValue` (its type was just checked), borrowed for this call.
    let value = unsafe { Borrowed::from_ptr(py, item).cast_unchecked::<PyValue>() };
    Some(value.get().inner.clone())
}

/// An operand of a method (`y.atan2(x)`, `clamp(lo)`; `W` names it): a Value as it is, a
/// number as a new constant leaf, anything else the `TypeError` "`W` needs a Value or a real
/// number, got `type`".
pub(super) struct ValueArg<W>(pub(super) Value, PhantomData<W>);

impl<'a, 'py, W: Named> FromPyObject<'a, 'py> for ValueArg<W> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match operand(&obj)? {
            Some(v) => Ok(ValueArg(v, PhantomData)),
            None => Err(PyTypeError::new_err(format!(
                "{} needs a Value or a real number, got {}",
                W::what(),
                type_name(&obj)
            ))),
        }
    }
}

pub(super) fn values_from(iterable: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Value>> {
    let len = iterable.len().unwrap_or(0);
    // A list, tuple or range says exactly how many operands follow: when their nodes cannot
    // fit, say so now instead of after building most of them. Below the hint cap they take a
    // few MB at most, so the common small call (a neuron's `dot`) makes no probe.
    if len > LENGTH_HINT_CAP
        && (iterable.is_instance_of::<PyList>()
            || iterable.is_instance_of::<PyTuple>()
            || iterable.is_instance_of::<PyRange>())
    {
        probe(len, what)?;
    }
    let mut out = Vec::with_capacity(len.min(LENGTH_HINT_CAP));
    push_values(iterable, what, &mut out)?;
    Ok(out)
}

/// Appends the operands in `iterable` to `out`; lists and tuples skip the iterator protocol.
pub(super) fn push_values(
    iterable: &Bound<'_, PyAny>,
    what: &str,
    out: &mut Vec<Value>,
) -> PyResult<()> {
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
        let mut at = 0;
        while at < list.len() {
            // SAFETY: the GIL is held and `list` is a live list; `at` is below its length.
            let item = unsafe { pyo3::ffi::PyList_GetItem(list.as_ptr(), at as isize) };
            // SAFETY: as above: a borrowed reference to the item, used before any Python code
            // can run (which could remove it from the list).
            if let Some(v) = unsafe { borrowed_value(list.py(), item) } {
                out.push(v);
            } else {
                // Anything else is read with a reference of its own (a number's `__float__`
                // may run Python code, and change the list: its length is read again).
                push(&list.get_item(at)?, out)?;
            }
            at += 1;
        }
    } else if let Ok(tuple) = iterable.cast::<PyTuple>() {
        try_reserve(out, tuple.len(), what)?;
        for at in 0..tuple.len() {
            // SAFETY: as for a list; a tuple cannot change, and it keeps its items alive.
            let item = unsafe { pyo3::ffi::PyTuple_GetItem(tuple.as_ptr(), at as isize) };
            // SAFETY: as above.
            if let Some(v) = unsafe { borrowed_value(tuple.py(), item) } {
                out.push(v);
            } else {
                push(&tuple.get_item(at)?, out)?;
            }
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

/// Bytes that one operand may need at most: its handle and a leaf node for a number.
const NODE_BOUND: usize = 128;

/// Checks that `count` operands (`NODE_BOUND` bytes each) can be had in one allocation, which
/// is made and freed untouched: a size the system cannot give at all is `MemoryError` at once
/// (on Linux the kernel refuses a single request beyond its memory, where many smaller ones
/// would each succeed until the out-of-memory killer ends the process).
fn probe(count: usize, what: &str) -> PyResult<()> {
    let mut room: Vec<u8> = Vec::new();
    try_reserve(&mut room, count.saturating_mul(NODE_BOUND), what)
}

/// Doubles the room in `out` for an iterator of unknown length, fallibly; and checks that all
/// the operands so far and those the doubling makes room for fit in one allocation, so an
/// endless or huge iterator ends in `MemoryError` at a doubling rather than in an abort.
fn grow(out: &mut Vec<Value>, what: &str) -> PyResult<()> {
    let extra = out.len().max(64);
    try_reserve(out, extra, what)?;
    probe(out.len().saturating_add(extra), what)
}
