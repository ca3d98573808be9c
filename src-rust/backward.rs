//! Topological order (iterative) and the reverse sweep.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::anomaly::Anomaly;
use crate::value::{Node, Operands, Value};

/// Numbers each topological sort; a node whose `mark` equals the current number has been
/// reached by this sort, so no hash set is needed. One count for the whole process: a graph
/// built on one thread may be swept on another (the Python bindings allow it under the GIL),
/// and two sorts must never share a number.
static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Buffers kept between sweeps so a training loop does not reallocate them every step.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

type NodeRef = *const RefCell<Node>;

/// Asks the CPU to start loading a node (both cache lines it may span). On a graph larger than
/// the cache, the sort and the sweep wait on one node after another in random memory order;
/// starting the loads early lets several misses overlap. A hint only: it never faults.
#[inline(always)]
fn prefetch(ptr: NodeRef) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = ptr.cast::<i8>();
        // SAFETY: SSE is part of x86_64; a prefetch of any address is harmless.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Prefetches every operand of `node`.
#[inline(always)]
fn prefetch_operands(node: &Node) {
    for v in node.prev.as_slice() {
        prefetch(std::rc::Rc::as_ptr(&v.0));
    }
}

#[derive(Default)]
struct Scratch {
    order: Vec<NodeRef>,
    stack: Vec<(NodeRef, usize)>,
    saved: Vec<f64>,
}

/// Appends to `order` every node `root` depends on, operands before the nodes that use them,
/// each once, with an explicit stack instead of recursion. Each node's grad is moved to `saved`
/// (same index) and zeroed as it joins the order, so the sweep starts from fresh adjoints.
///
/// The pointers stay valid while `root` is alive and no operand list changes: every node in
/// the order is owned, directly or through operands, by `root`.
fn topo_into(
    root: &Value,
    order: &mut Vec<NodeRef>,
    saved: &mut Vec<f64>,
    stack: &mut Vec<(NodeRef, usize)>,
) {
    let epoch = EPOCH.fetch_add(1, Ordering::Relaxed) + 1;
    root.borrow_mut().mark = epoch;
    prefetch_operands(&root.borrow());
    stack.push((std::rc::Rc::as_ptr(&root.0), 0));
    while let Some(top) = stack.last_mut() {
        // SAFETY: see above; `root` outlives this function call.
        let node = unsafe { &*top.0 }.borrow();
        if let Some(child) = node.prev.as_slice().get(top.1) {
            top.1 += 1;
            let mut child_node = child.borrow_mut();
            if child_node.mark != epoch {
                child_node.mark = epoch;
                let ptr = std::rc::Rc::as_ptr(&child.0);
                if matches!(child_node.prev, Operands::Leaf) {
                    saved.push(std::mem::replace(&mut child_node.grad, 0.0));
                    order.push(ptr);
                } else {
                    prefetch_operands(&child_node);
                    stack.push((ptr, 0));
                }
            }
        } else {
            let ptr = top.0;
            drop(node);
            stack.pop();
            // SAFETY: as above.
            let mut node = unsafe { &*ptr }.borrow_mut();
            saved.push(std::mem::replace(&mut node.grad, 0.0));
            order.push(ptr);
        }
    }
}

impl Value {
    /// Every node this one depends on, itself last, operands before their users, each once.
    pub fn topo_order(&self) -> Vec<Value> {
        let (mut order, mut saved, mut stack) = (Vec::new(), Vec::new(), Vec::new());
        topo_into(self, &mut order, &mut saved, &mut stack);
        // Put back the grads the sort set aside.
        for (&p, &s) in order.iter().zip(&saved) {
            // SAFETY: `self` keeps every node in `order` alive.
            unsafe { &*p }.borrow_mut().grad = s;
        }
        order
            .into_iter()
            .map(|ptr| {
                // SAFETY: `self` keeps every node in `order` alive; we take a new strong count.
                unsafe {
                    std::rc::Rc::increment_strong_count(ptr);
                    Value(std::rc::Rc::from_raw(ptr))
                }
            })
            .collect()
    }

    /// One reverse sweep from this node: fresh adjoints, 1.0 at the root, each node's adjoint
    /// added to its `grad`. k calls give k times the gradient; grads left from earlier calls
    /// never feed into the sweep. Touches only this node's ancestors; linear in their number.
    pub fn backward(&self) {
        // Without the check the sweep cannot fail.
        let _ = self.sweep(false);
    }

    /// `backward()` that also names the first op (in sweep order) whose backward left NaN or
    /// inf in an operand's grad. The sweep always completes, so grads are the same either way.
    pub fn backward_checked(&self) -> Result<(), Anomaly> {
        self.sweep(true)
    }

    fn sweep(&self, check: bool) -> Result<(), Anomaly> {
        let mut scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let Scratch {
            order,
            stack,
            saved,
        } = &mut scratch;
        order.clear();
        saved.clear();
        topo_into(self, order, saved, stack);

        // SAFETY (all derefs below): `self` keeps every node in `order` alive, and backward
        // functions only change grads, never operand lists.
        self.borrow_mut().grad = 1.0;
        let mut outcome = Ok(());
        // Load ahead: the node AHEAD steps on, and the operands of the one half as far on.
        const AHEAD: usize = 8;
        for (k, (&p, &s)) in order.iter().zip(saved.iter()).enumerate().rev() {
            if k >= AHEAD {
                prefetch(order[k - AHEAD]);
            }
            if k >= AHEAD / 2 {
                prefetch_operands(&unsafe { &*order[k - AHEAD / 2] }.borrow());
            }
            let cell = unsafe { &*p };
            let node = cell.borrow();
            // Every user of this node has run: its grad is its final adjoint.
            (node.op.backward)(&node);
            if check && outcome.is_ok() {
                outcome = Anomaly::check_backward(&node);
            }
            drop(node);
            cell.borrow_mut().grad += s;
        }

        order.clear();
        SCRATCH.with(|s| *s.borrow_mut() = scratch);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use crate::Value;

    #[test]
    fn seed_example_mul_add() {
        let (a, b, c) = (Value::new(2.0), Value::new(-3.0), Value::new(10.0));
        let d = &a * &b + &c;
        d.backward();
        assert_eq!(d.data(), 4.0);
        assert_eq!((a.grad(), b.grad(), c.grad()), (-3.0, 2.0, 1.0));
    }

    #[test]
    fn seed_worked_example_log_mul_sin() {
        let (x1, x2) = (Value::new(2.0), Value::new(5.0));
        let f = x1.log() + &x1 * &x2 - x2.sin();
        f.backward();
        assert!((f.data() - (2f64.ln() + 10.0 - 5f64.sin())).abs() < 1e-15);
        assert!((x1.grad() - 5.5).abs() < 1e-15);
        assert!((x2.grad() - (2.0 - 5f64.cos())).abs() < 1e-15);
    }

    #[test]
    fn repeated_backward_accumulates_linearly() {
        let x = Value::new(3.0);
        let y = &x * &x;
        let z = y.tanh();
        z.backward();
        let (gx, gy) = (x.grad(), y.grad());
        z.backward();
        z.backward();
        assert_eq!(x.grad(), 3.0 * gx);
        assert_eq!(y.grad(), 3.0 * gy);
        assert_eq!(z.grad(), 3.0);
    }

    #[test]
    fn backward_touches_only_ancestors() {
        let x = Value::new(1.0);
        let unrelated = Value::new(5.0);
        unrelated.set_grad(7.0);
        let y = &x * 2.0;
        let _other = &unrelated * &x;
        y.backward();
        assert_eq!(unrelated.grad(), 7.0);
        assert_eq!(x.grad(), 2.0);
    }

    #[test]
    fn same_operand_twice_counts_twice() {
        let a = Value::new(3.0);
        let b = &a * &a;
        b.backward();
        assert_eq!(a.grad(), 6.0);
        assert_eq!(b.children().len(), 2);
    }

    #[test]
    fn diamond_chain_is_linear_not_exponential() {
        // Each level doubles the number of paths: 2^100 of them, a few hundred nodes.
        let x = Value::new(1.0);
        let mut y = x.clone();
        for _ in 0..100 {
            y = &y + &y;
        }
        y.backward();
        assert_eq!(x.grad(), 2f64.powi(100));
    }

    #[test]
    fn topo_order_puts_operands_first() {
        let a = Value::new(1.0);
        let b = Value::new(2.0);
        let c = &a * &b;
        let d = &c + &a;
        let order = d.topo_order();
        assert_eq!(order.len(), 4);
        let pos = |v: &Value| order.iter().position(|o| o.ptr_eq(v)).unwrap();
        assert!(pos(&a) < pos(&c) && pos(&b) < pos(&c) && pos(&c) < pos(&d));
        assert!(order.last().unwrap().ptr_eq(&d));
    }

    #[test]
    fn ten_million_node_chain_builds_backprops_and_drops() {
        let x = Value::new(0.5);
        let mut y = x.clone();
        for _ in 0..10_000_000 {
            y = y.tanh();
        }
        y.backward();
        assert!(x.grad().is_finite() && x.grad() > 0.0);
        drop(y);
        assert_eq!(std::rc::Rc::strong_count(&x.0), 1);
    }

    #[test]
    fn deep_binary_chain_with_shared_leaves_drops() {
        let w = Value::new(0.999);
        let mut y = Value::new(1.0);
        for _ in 0..1_000_000 {
            y = &y * &w + 0.001;
        }
        y.backward();
        drop(y);
        assert_eq!(std::rc::Rc::strong_count(&w.0), 1);
    }
}
