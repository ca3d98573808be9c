//! Tests of whole graphs: sweeps that share nodes, grads set aside and restored, and freeing
//! deep graphs of every operand shape (one, two and many operands) without recursion.

use std::rc::Rc;

use crate::Value;

fn leaves(data: &[f64]) -> Vec<Value> {
    data.iter().map(|&d| Value::new(d)).collect()
}

#[test]
fn topo_order_leaves_grads_as_they_were() {
    let (a, b) = (Value::new(1.0), Value::new(2.0));
    let c = &a * &b;
    a.set_grad(3.0);
    c.set_grad(-4.0);
    let order = c.topo_order();
    assert_eq!(order.len(), 3);
    assert_eq!((a.grad(), b.grad(), c.grad()), (3.0, 0.0, -4.0));
}

#[test]
fn sweeps_from_two_roots_sharing_a_subgraph_each_see_all_their_ancestors() {
    let x = Value::new(0.5);
    let shared = x.exp();
    let left = &shared * 2.0;
    let right = shared.sin();
    for _ in 0..3 {
        left.backward();
        right.backward();
    }
    let e = 0.5f64.exp();
    let expected = 3.0 * (2.0 * e + e.cos() * e);
    assert!((x.grad() - expected).abs() < 1e-14 * expected);
    assert_eq!(left.grad(), 3.0);
    assert_eq!(right.grad(), 3.0);
}

#[test]
fn grads_set_by_hand_are_added_back_after_a_sweep_through_fused_ops() {
    let ws = leaves(&[1.0, 2.0]);
    let xs = leaves(&[3.0, 4.0]);
    let d = Value::dot(&ws, &xs).unwrap();
    let s = Value::sum(&[d.clone(), ws[0].clone()]);
    ws[0].set_grad(100.0);
    d.set_grad(-50.0);
    s.backward();
    // s = w0·x0 + w1·x1 + w0: ds/dw0 = x0 + 1, ds/dd = 1.
    assert_eq!(ws[0].grad(), 100.0 + 4.0);
    assert_eq!(d.grad(), -50.0 + 1.0);
    assert_eq!(xs[1].grad(), 2.0);
}

#[test]
fn each_leaky_relu_node_keeps_its_own_slope() {
    let x = Value::new(-2.0);
    let a = x.leaky_relu(0.1).unwrap();
    let b = x.leaky_relu(0.5).unwrap();
    assert_eq!(
        (a.data(), b.data(), a.param(), b.param()),
        (-0.2, -1.0, 0.1, 0.5)
    );
    Value::sum(&[a, b]).backward();
    assert_eq!(x.grad(), 0.6);
}

#[test]
fn deep_chain_of_fused_sums_sweeps_and_drops() {
    let x = Value::new(1.0);
    let mut y = x.clone();
    for i in 0..1_000_000 {
        y = Value::sum(&[y, Value::new(1.0), Value::new(f64::from(i % 3))]);
    }
    y.backward();
    assert_eq!(x.grad(), 1.0);
    assert_eq!(y.data(), 1.0 + 1_000_000.0 + 999_999.0);
    drop(y);
    assert_eq!(Rc::strong_count(&x.0), 1);
}

#[test]
fn deep_chain_of_dots_sweeps_and_drops() {
    let w = Value::new(1.0);
    let mut y = Value::new(0.5);
    let first = y.clone();
    for _ in 0..500_000 {
        y = Value::dot(&[w.clone(), y.clone()], &[y, Value::new(0.0)]).unwrap();
    }
    y.backward();
    assert_eq!(y.data(), 0.5);
    assert_eq!(first.grad(), 1.0);
    assert_eq!(w.grad(), 0.5 * 500_000.0);
    drop(y);
    assert_eq!(Rc::strong_count(&w.0), 1);
    assert_eq!(Rc::strong_count(&first.0), 1);
}

#[test]
fn deep_tree_whose_nodes_own_two_deep_branches_drops() {
    // Each level adds a fresh 20-deep chain as the second operand: freeing it parks the side
    // chains while it walks down the spine, never recursing into either.
    let x = Value::new(0.1);
    let mut y = x.clone();
    for _ in 0..50_000 {
        let mut side = Value::new(0.2);
        for _ in 0..20 {
            side = side.sin();
        }
        y = &side + &y;
    }
    y.backward();
    assert_eq!(x.grad(), 1.0);
    drop(y);
    assert_eq!(Rc::strong_count(&x.0), 1);
}

#[test]
fn many_operand_node_of_deep_chains_drops() {
    let chains: Vec<Value> = (0..1_000)
        .map(|i| {
            let mut c = Value::new(f64::from(i));
            for _ in 0..1_000 {
                c = c.neg();
            }
            c
        })
        .collect();
    let s = Value::sum(&chains);
    drop(chains);
    assert_eq!(s.data(), (0..1_000).map(f64::from).sum::<f64>());
    drop(s);
}

/// `ln a + a·b − sin b` (the seed's example) plus every op of the first op table: the graph
/// whose bytes `tests/golden/` pins (`tests/test_golden_bytes.py` builds the same one).
pub(crate) fn every_op(xs: &[Value]) -> Value {
    let (a, b, c) = (&xs[0], &xs[1], &xs[2]);
    let seed = a.log() + a * b - b.sin();
    let more = (a * c).tanh() + (b / c).sigmoid() + c.powf(3.0) + a.pow(c) - c.exp().sqrt()
        + (a - c).abs()
        + c.relu()
        + (-b).leaky_relu(0.2).unwrap()
        + a.cos() * b.tan();
    Value::sum(&[seed, more]) + Value::dot(xs, xs).unwrap()
}

#[test]
fn graphs_and_tapes_are_written_as_the_pinned_bytes() {
    let xs = [
        Value::with_label(2.0, "a"),
        Value::with_label(5.0, "b"),
        Value::with_label(0.7, "c"),
    ];
    let y = every_op(&xs);
    y.set_label("y");
    y.backward();
    let graph: &[u8] = include_bytes!("../tests/golden/graph_v1.bin");
    assert!(y.to_bytes() == graph, "the graph format changed");
    let copy = Value::from_bytes(graph).unwrap();
    assert!(copy.to_bytes() == graph);

    let xs = leaves(&[2.0, 5.0, 0.7]);
    let tape = crate::Tape::record(&xs, &every_op(&xs)).unwrap();
    let pinned: &[u8] = include_bytes!("../tests/golden/tape_v1.bin");
    assert!(tape.to_bytes() == pinned, "the tape format changed");
    assert_eq!(crate::Tape::from_bytes(pinned).unwrap(), tape);
}
