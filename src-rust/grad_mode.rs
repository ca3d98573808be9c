//! `no_grad`: ops that compute values without recording their operands.
//!
//! Off by default. While it is on for a thread, the Python bindings turn every node an op
//! builds into a leaf before handing it out (see [`Value::unrecorded`]): the result keeps its
//! value, forgets its operands, and a graph built in the mode holds no more than its leaves.
//! When no thread has it on, an op pays one relaxed load of a counter, as for anomaly mode.

use std::sync::atomic::AtomicUsize;

use crate::switch::{self, Flag};

use crate::value::{Operands, Value, CODE_MASK};

/// How many threads have the mode on (see `crate::switch`).
static THREADS_ON: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ENABLED: Flag = const { Flag::new(&THREADS_ON) };
}

/// Turns `no_grad` on or off for this thread; returns the previous setting.
pub fn set_no_grad(on: bool) -> bool {
    switch::set(&ENABLED, on)
}

/// Whether `no_grad` is on for this thread (see [`set_no_grad`]).
#[inline]
pub fn no_grad_enabled() -> bool {
    switch::enabled(&ENABLED, &THREADS_ON)
}

impl Value {
    /// A new leaf holding this node's value, with grad 0 and no label: what is computed from
    /// it is not linked back to this node, so gradients stop there (torch's `detach()`).
    pub fn detach(&self) -> Value {
        Value::new(self.data())
    }

    /// This node as a leaf with the same value: its operands (and an op parameter) are let go,
    /// so whatever only they kept alive is freed. A node that only this handle holds (one an
    /// op has just built) becomes the leaf in place; a shared one is [`Value::detach`]ed.
    pub fn unrecorded(mut self) -> Value {
        let Some(node) = std::rc::Rc::get_mut(&mut self.0) else {
            return self.detach();
        };
        node.tag.set(node.tag.get() & !CODE_MASK);
        node.extra.set(None);
        // Dropped here: `Node`'s own drop frees a long chain behind the operands iteratively.
        drop(std::mem::replace(&mut node.children, Operands::Leaf));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_belongs_to_one_thread() {
        let seen = std::thread::spawn(|| {
            assert!(!set_no_grad(true));
            let on = no_grad_enabled();
            let elsewhere = std::thread::spawn(no_grad_enabled).join().unwrap();
            assert!(set_no_grad(false));
            (on, elsewhere, no_grad_enabled())
        })
        .join()
        .unwrap();
        assert_eq!(seen, (true, false, false));
        assert!(!no_grad_enabled());
    }

    #[test]
    fn an_unrecorded_node_is_a_leaf_with_its_value() {
        let x = Value::new(-2.0);
        let y = x.leaky_relu(0.5).unwrap().unrecorded();
        assert_eq!(
            (y.data(), y.op(), y.children().len(), y.param()),
            (-1.0, "", 0, 0.0)
        );
        y.backward();
        assert_eq!((y.grad(), x.grad()), (1.0, 0.0));
        // A node someone else holds is copied, not changed.
        let z = x.exp();
        let kept = z.clone();
        let w = z.unrecorded();
        assert!(!w.ptr_eq(&kept) && kept.op() == "exp" && w.op() == "" && w.data() == kept.data());
    }

    #[test]
    fn detach_stops_the_gradient() {
        let x = Value::new(3.0);
        let y = &x.mul(&x.detach()) + &x; // d/dx (x · c + x) with c = x held constant
        y.backward();
        assert_eq!(x.grad(), 3.0 + 1.0);
        assert_eq!(x.detach().label(), "");
    }

    #[test]
    fn a_long_chain_let_go_at_once_is_freed_without_recursion() {
        let mut y = Value::new(0.5);
        for _ in 0..1_000_000 {
            y = y.tanh();
        }
        let z = y.exp();
        drop(y);
        let z = z.unrecorded();
        assert_eq!(z.children().len(), 0);
    }
}
