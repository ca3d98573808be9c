//! Topological order (iterative) and the reverse sweep.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::anomaly::Anomaly;
use crate::value::OPS;
use crate::value::{Node, Operands, Value, CODE_MASK, EPOCH_SHIFT, SET_ASIDE};

/// Numbers each topological sort; a node whose tag holds the current number has been reached
/// by this sort, so no hash set is needed. One count for the whole process: a graph built on
/// one thread may be swept on another (the Python bindings allow it under the GIL), and two
/// sorts must never share a number.
static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Buffers kept between sweeps so a training loop does not reallocate them every step.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

type NodeRef = *const Node;

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
            // The last byte of the operands, the end of what the sort and the sweep read.
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(47));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Prefetches the first operands of `node`, those the sort goes to next: a wide node's others
/// (a neuron's shared weights, its layer's activations) are mostly in cache already, reached
/// through an earlier neuron, and a hint for each costs more than the few misses it saves.
#[inline(always)]
fn prefetch_children(node: &Node) {
    for v in node.children().iter().take(PREFETCH_OPERANDS) {
        prefetch(Rc::as_ptr(&v.0));
    }
}

/// How many of a node's operands `prefetch_children` asks for.
const PREFETCH_OPERANDS: usize = 4;

/// What the sort and the sweep need besides the nodes themselves: 8 bytes per node in the
/// order, 8 per node on the stack, and 16 per node whose grad was not +0.0 before the sweep
/// (a fresh graph has none).
#[derive(Default)]
struct Scratch {
    order: Vec<NodeRef>,
    stack: Vec<NodeRef>,
    set_aside: Vec<(NodeRef, f64)>,
}

impl Scratch {
    /// Entries kept per buffer between sweeps: a training loop reuses them, while one huge
    /// sweep does not pin its buffers for the rest of the thread's life.
    const KEEP: usize = 1 << 18;

    fn clear(&mut self) {
        self.order.clear();
        self.stack.clear();
        self.set_aside.clear();
        self.order.shrink_to(Self::KEEP);
        self.stack.shrink_to(Self::KEEP);
        self.set_aside.shrink_to(Self::KEEP);
    }
}

/// Appends to `order` every node `root` depends on, operands before the nodes that use them,
/// each once, with an explicit stack instead of recursion. Each node's grad is zeroed when the
/// sort reaches it, so the sweep starts from fresh adjoints; a grad that was not +0.0 goes to
/// `set_aside` first, and the node's tag gets the `SET_ASIDE` bit.
///
/// While a node is on the stack its grad holds, as raw bits, the index of the next operand to
/// visit: the stack needs only the node's address.
///
/// The pointers stay valid while `root` is alive: every node in the order is owned, directly
/// or through operands, by `root`, and operands never change while a node is shared.
fn topo_into(root: &Value, s: &mut Scratch) {
    let epoch = EPOCH.fetch_add(1, Ordering::Relaxed) + 1;
    assert!(
        epoch < 1 << (64 - EPOCH_SHIFT),
        "topological sort count overflowed"
    );
    let mark = epoch << EPOCH_SHIFT;
    let visit = |node: &Node, ptr: NodeRef, s: &mut Scratch| {
        let grad = node.grad.get();
        let mut tag = mark | (node.tag.get() & CODE_MASK);
        if grad.to_bits() != 0 {
            s.set_aside.push((ptr, grad));
            tag |= SET_ASIDE;
        }
        node.tag.set(tag);
        // A zero grad, and operand index 0 for a node that goes on the stack.
        node.grad.set(0.0);
        if matches!(node.children, Operands::Leaf) {
            s.order.push(ptr);
        } else {
            prefetch_children(node);
            s.stack.push(ptr);
        }
    };
    visit(root.node(), Rc::as_ptr(&root.0), s);
    'nodes: while let Some(&top) = s.stack.last() {
        // SAFETY: see above; `root` outlives this function call.
        let node = unsafe { &*top };
        let children = node.children();
        let mut next = node.grad.get().to_bits() as usize;
        // Past the operands this sort has reached already (a shared weight, an activation
        // that an earlier neuron read) without coming back to the stack for each.
        while let Some(child) = children.get(next) {
            next += 1;
            let child_node = child.node();
            if child_node.tag.get() >> EPOCH_SHIFT != epoch {
                node.grad.set(f64::from_bits(next as u64));
                visit(child_node, Rc::as_ptr(&child.0), s);
                continue 'nodes;
            }
        }
        node.grad.set(0.0);
        s.stack.pop();
        s.order.push(top);
    }
}

impl Value {
    /// Every node this one depends on, itself last, operands before their users, each once.
    pub fn topo_order(&self) -> Vec<Value> {
        let mut scratch = Scratch::default();
        topo_into(self, &mut scratch);
        // Put back the grads the sort set aside.
        for &(p, g) in &scratch.set_aside {
            // SAFETY: `self` keeps every node in the order alive.
            unsafe { &*p }.grad.set(g);
        }
        scratch
            .order
            .into_iter()
            .map(|ptr| {
                // SAFETY: `self` keeps every node in the order alive; we take a new strong count.
                unsafe {
                    Rc::increment_strong_count(ptr);
                    Value(Rc::from_raw(ptr))
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
        topo_into(self, &mut scratch);
        let order = &scratch.order;

        // SAFETY (all derefs below): `self` keeps every node in `order` alive, and backward
        // functions only change grads, never operand lists.
        self.0.grad.set(1.0);
        let mut outcome = Ok(());
        // Load ahead: the node AHEAD steps on, and the operands of the one half as far on.
        const AHEAD: usize = 8;
        for k in (0..order.len()).rev() {
            if k >= AHEAD {
                prefetch(order[k - AHEAD]);
            }
            if k >= AHEAD / 2 {
                prefetch_children(unsafe { &*order[k - AHEAD / 2] });
            }
            let node = unsafe { &*order[k] };
            let tag = node.tag.get();
            // Every user of this node has run: its grad is its final adjoint.
            (OPS[(tag & CODE_MASK) as usize].backward)(node);
            if check && outcome.is_ok() {
                outcome = Anomaly::check_backward(node);
            }
            // Adding back the set-aside +0.0 (it turns an adjoint of -0.0 into +0.0); other
            // set-aside grads are added below, after the sweep, to the same final adjoints.
            if tag & SET_ASIDE == 0 {
                node.grad.set(node.grad.get() + 0.0);
            }
        }
        for &(p, g) in &scratch.set_aside {
            unsafe { &*p }.add_grad(g);
        }

        scratch.clear();
        SCRATCH.with(|s| *s.borrow_mut() = scratch);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::{Scratch, SCRATCH};
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
    fn set_aside_grads_are_added_back_under_ieee_rules() {
        // x's adjoint is 0.0 + -0.0 = +0.0, and +0.0 + -0.0 is +0.0: a grad of -0.0 set aside
        // comes back as +0.0, as in the reference engine, which adds every grad back.
        for (before, after) in [(0.0, 0.0), (-0.0, 0.0), (5.0, 5.0)] {
            let x = Value::new(2.0);
            x.set_grad(before);
            let y = &x * -0.0;
            y.backward();
            assert_eq!(
                x.grad().to_bits(),
                f64::to_bits(after),
                "grad before {before:?}"
            );
        }
    }

    #[test]
    fn scratch_shrinks_after_a_big_sweep() {
        let x = Value::new(0.5);
        let mut y = x.clone();
        for _ in 0..(1 << 20) {
            y = y.sin();
        }
        x.set_grad(1.0);
        y.backward();
        SCRATCH.with(|s| {
            let s = s.borrow();
            for cap in [
                s.order.capacity(),
                s.stack.capacity(),
                s.set_aside.capacity(),
            ] {
                assert!(cap <= Scratch::KEEP, "kept {cap} entries");
            }
        });
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
