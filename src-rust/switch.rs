//! A setting each thread turns on or off for itself (anomaly mode, `no_grad`), read on every op:
//! while no thread has it on, one relaxed load of a shared count answers, without the
//! thread-local lookup. A thread sees its own updates of the count, so for a thread with the
//! setting on the count is never 0; another thread's setting only sends a reader on to its
//! own flag.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;

/// One thread's setting, and the count of threads that have it on; a thread that ends with the
/// setting on takes itself out of the count.
pub(crate) struct Flag {
    on: Cell<bool>,
    threads_on: &'static AtomicUsize,
}

impl Flag {
    /// A thread's setting, off, counted in `threads_on`.
    pub(crate) const fn new(threads_on: &'static AtomicUsize) -> Flag {
        Flag {
            on: Cell::new(false),
            threads_on,
        }
    }
}

impl Drop for Flag {
    fn drop(&mut self) {
        if self.on.get() {
            self.threads_on.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Turns the setting `flag` on or off for this thread; returns the previous setting.
pub(crate) fn set(flag: &'static LocalKey<Flag>, on: bool) -> bool {
    flag.with(|f| {
        let previous = f.on.replace(on);
        match (previous, on) {
            (false, true) => f.threads_on.fetch_add(1, Ordering::Relaxed),
            (true, false) => f.threads_on.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        previous
    })
}

/// Whether the setting `flag`, counted in `threads_on`, is on for this thread.
#[inline]
pub(crate) fn enabled(flag: &'static LocalKey<Flag>, threads_on: &AtomicUsize) -> bool {
    threads_on.load(Ordering::Relaxed) != 0 && flag.try_with(|f| f.on.get()).unwrap_or(false)
}
