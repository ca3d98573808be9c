//! Worker threads kept between batch calls, so that splitting a batch across cores costs a
//! wake-up (about a microsecond while a worker is still waiting awake) instead of starting a
//! thread (tens of microseconds): small batches, such as a training step's 100 rows, can then
//! use every core.
//!
//! `run(n, f)` calls `f(0)` on the calling thread and `f(1) .. f(n - 1)` on workers, and returns
//! once every call has returned, so `f` may borrow from the caller's stack (as
//! `std::thread::scope` allows). A panic in any call is resumed on the caller after all have
//! finished. Only one caller uses the workers at a time; another caller meanwhile (a second
//! Python thread, or a process forked while the workers were in use) runs on threads of its
//! own started for the call, as before. After a `fork` the child starts workers of its own.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

/// How long a worker, and a caller waiting for its workers, keeps checking awake before it
/// sleeps: long enough to span the gap between a training loop's steps.
const AWAKE: Duration = Duration::from_micros(200);

type Call = dyn Fn(usize) + Sync;
type Panic = Box<dyn Any + Send>;

/// One call for a worker: `f(index)`, `f` borrowed from a caller that waits for `done`.
struct Job {
    call: *const Call,
    index: usize,
    done: Arc<Done>,
}

// SAFETY: `call` points at a `Sync` closure that outlives the job: `run` does not return (nor
// unwind) before every job it posted has finished.
unsafe impl Send for Job {}

/// How many of a run's calls are still going, and the first panic among them.
struct Done {
    left: AtomicUsize,
    panic: Mutex<Option<Panic>>,
    /// Whether the caller sleeps on `wake` (set under the lock).
    sleeping: Mutex<bool>,
    wake: Condvar,
}

impl Done {
    fn finish(&self, result: std::thread::Result<()>) {
        if let Err(panic) = result {
            lock(&self.panic).get_or_insert(panic);
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let sleeping = lock(&self.sleeping);
            if *sleeping {
                self.wake.notify_one();
            }
        }
    }

    fn wait(&self) {
        if awake_until(|| self.left.load(Ordering::Acquire) == 0) {
            return;
        }
        let mut sleeping = lock(&self.sleeping);
        *sleeping = true;
        while self.left.load(Ordering::Acquire) != 0 {
            sleeping = self
                .wake
                .wait(sleeping)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

struct Worker {
    /// A job is in `slot` (checked without the lock while awake).
    posted: AtomicBool,
    slot: Mutex<Slot>,
    wake: Condvar,
}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    sleeping: bool,
}

impl Worker {
    fn post(&self, job: Job) {
        let mut slot = lock(&self.slot);
        slot.job = Some(job);
        self.posted.store(true, Ordering::Release);
        if slot.sleeping {
            self.wake.notify_one();
        }
    }

    fn serve(&self) {
        loop {
            awake_until(|| self.posted.load(Ordering::Acquire));
            let job = {
                let mut slot = lock(&self.slot);
                loop {
                    if let Some(job) = slot.job.take() {
                        break job;
                    }
                    slot.sleeping = true;
                    slot = self
                        .wake
                        .wait(slot)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    slot.sleeping = false;
                }
            };
            self.posted.store(false, Ordering::Release);
            // SAFETY: see `Job`: the closure is alive until `done` counts this call finished.
            let call = unsafe { &*job.call };
            let result = catch_unwind(AssertUnwindSafe(|| call(job.index)));
            job.done.finish(result);
        }
    }
}

/// Checks `ready` for up to `AWAKE`; whether it became true.
fn awake_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() > AWAKE {
            return ready();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Pool {
    /// The process that started `workers` (a forked child has none of them).
    pid: u32,
    workers: Vec<Arc<Worker>>,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Calls `f(i)` for every `i < n`, `f(0)` on this thread and the others on workers, and returns
/// when all have returned; resumes the first panic (this thread's first) after that.
pub(crate) fn run(n: usize, f: &(dyn Fn(usize) + Sync)) {
    if n <= 1 {
        if n == 1 {
            f(0);
        }
        return;
    }
    let mut guard = match POOL.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return scoped(n, f),
    };
    let pid = std::process::id();
    let pool = guard.get_or_insert_with(|| Pool {
        pid,
        workers: Vec::new(),
    });
    if pool.pid != pid {
        // Forked: the parent's workers are not in this process (their memory is left alone).
        std::mem::forget(std::mem::replace(
            pool,
            Pool {
                pid,
                workers: Vec::new(),
            },
        ));
    }
    while pool.workers.len() < n - 1 {
        let worker = Arc::new(Worker {
            posted: AtomicBool::new(false),
            slot: Mutex::new(Slot::default()),
            wake: Condvar::new(),
        });
        let serving = Arc::clone(&worker);
        let started = std::thread::Builder::new()
            .name("ferrograd-batch".into())
            .spawn(move || serving.serve());
        if started.is_err() {
            break; // the calls without a worker run on this thread below
        }
        pool.workers.push(worker);
    }
    let done = Arc::new(Done {
        left: AtomicUsize::new(0),
        panic: Mutex::new(None),
        sleeping: Mutex::new(false),
        wake: Condvar::new(),
    });
    let posted = pool.workers.len().min(n - 1);
    done.left.store(posted, Ordering::Release);
    let call: *const (dyn Fn(usize) + Sync + '_) = f;
    // SAFETY: erases the borrow's lifetime only; `done.wait()` below outlives every use.
    let call: *const Call = unsafe { std::mem::transmute(call) };
    for (i, worker) in pool.workers.iter().take(posted).enumerate() {
        worker.post(Job {
            call,
            index: i + 1,
            done: Arc::clone(&done),
        });
    }
    let here = catch_unwind(AssertUnwindSafe(|| {
        f(0);
        for i in posted + 1..n {
            f(i);
        }
    }));
    done.wait();
    drop(guard);
    if let Err(panic) = here {
        resume_unwind(panic);
    }
    let panic = lock(&done.panic).take();
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

/// `run` on threads started for this call (another caller has the workers).
fn scoped(n: usize, f: &(dyn Fn(usize) + Sync)) {
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..n).map(|i| scope.spawn(move || f(i))).collect();
        let here = catch_unwind(AssertUnwindSafe(|| f(0)));
        let mut first = here.err();
        for handle in others {
            if let Err(panic) = handle.join() {
                first.get_or_insert(panic);
            }
        }
        if let Some(panic) = first {
            resume_unwind(panic);
        }
    })
}

/// `run` collecting each call's result, in index order.
pub(crate) fn map<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let out: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    run(n, &|i| *lock(&out[i]) = Some(f(i)));
    out.into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .expect("every call ran")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_call_runs_once_and_borrows_work() {
        for n in [0, 1, 2, 3, 8] {
            let seen: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
            for round in 1..=50 {
                run(n, &|i| {
                    seen[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == round));
            }
            assert_eq!(map(n, |i| i * i), (0..n).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panic_reaches_the_caller_after_every_call_has_finished() {
        let finished = AtomicU64::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            run(3, &|i| {
                std::thread::sleep(Duration::from_millis(20 * (2 - i as u64)));
                finished.fetch_add(1, Ordering::SeqCst);
                if i == 2 {
                    panic!("call 2");
                }
            })
        }));
        assert_eq!(finished.load(Ordering::SeqCst), 3);
        let message = caught.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"call 2"));
        // The workers are still there for the next run.
        assert_eq!(map(3, |i| i + 1), vec![1, 2, 3]);
    }

    #[test]
    fn callers_at_once_all_finish() {
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                scope.spawn(move || {
                    for _ in 0..200 {
                        let sum: u64 = map(3, |i| i as u64 * t).into_iter().sum();
                        assert_eq!(sum, 3 * t);
                    }
                });
            }
        });
    }

    #[test]
    fn sleeping_workers_wake() {
        for _ in 0..3 {
            std::thread::sleep(AWAKE * 5);
            assert_eq!(map(2, |i| i), vec![0, 1]);
        }
    }
}
