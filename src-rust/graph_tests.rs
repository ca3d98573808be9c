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
/// whose bytes `tests/golden/` pins (`tests/test_golden_bytes.py` builds the same one). The
/// exponent 3 is a number kept in its node, or with `leaf_constant` a leaf node, as such
/// numbers were when `graph_v1.bin` was written.
pub(crate) fn every_op(xs: &[Value], leaf_constant: bool) -> Value {
    let (a, b, c) = (&xs[0], &xs[1], &xs[2]);
    let seed = a.log() + a * b - b.sin();
    let cube = if leaf_constant {
        c.pow(&Value::new(3.0))
    } else {
        c.powf(3.0)
    };
    let more = (a * c).tanh() + (b / c).sigmoid() + cube + a.pow(c) - c.exp().sqrt()
        + (a - c).abs()
        + c.relu()
        + (-b).leaky_relu(0.2).unwrap()
        + a.cos() * b.tan();
    Value::sum(&[seed, more]) + Value::dot(xs, xs).unwrap()
}

#[test]
fn graphs_and_tapes_are_written_as_the_pinned_bytes() {
    let v1: &[u8] = include_bytes!("../tests/golden/graph_v1.bin");
    let v2: &[u8] = include_bytes!("../tests/golden/graph_v2.bin");
    for (leaf_constant, graph) in [(true, v1), (false, v2)] {
        let xs = [
            Value::with_label(2.0, "a"),
            Value::with_label(5.0, "b"),
            Value::with_label(0.7, "c"),
        ];
        let y = every_op(&xs, leaf_constant);
        y.set_label("y");
        y.backward();
        assert!(y.to_bytes().unwrap() == graph, "the graph format changed");
        let copy = Value::from_bytes(graph).unwrap();
        assert!(copy.to_bytes().unwrap() == graph);
    }

    let xs = leaves(&[2.0, 5.0, 0.7]);
    let tape = crate::Tape::record(&xs, &every_op(&xs, false)).unwrap();
    let ys = leaves(&[2.0, 5.0, 0.7]);
    assert_eq!(
        crate::Tape::record(&ys, &every_op(&ys, true)).unwrap(),
        tape
    );
    let pinned: &[u8] = include_bytes!("../tests/golden/tape_v2.bin");
    assert!(tape.to_bytes() == pinned, "the tape format changed");
    assert_eq!(crate::Tape::from_bytes(pinned).unwrap(), tape);
    // Tapes pickled in the first format (no field of its own for a binary op's second
    // operand) still read back to the same program.
    let v1: &[u8] = include_bytes!("../tests/golden/tape_v1.bin");
    assert_eq!(crate::Tape::from_bytes(v1).unwrap(), tape);
}

/// Each op's gradient, sums and dots, and the special points, through the graph.
mod ops {
    use crate::{OpError, Value};

    /// Central difference of `f` at `x`.
    fn numeric(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-6 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    fn check_unary(name: &str, op: impl Fn(&Value) -> Value, points: &[f64]) {
        for &p in points {
            let x = Value::new(p);
            let z = op(&x);
            z.backward();
            let expected = numeric(|t| op(&Value::new(t)).data(), p);
            let err = (x.grad() - expected).abs() / expected.abs().max(1.0);
            assert!(
                err < 1e-6,
                "{name}'({p}) = {} but differences give {expected}",
                x.grad()
            );
        }
    }

    #[test]
    fn unary_gradients_match_finite_differences() {
        let any = [-2.5, -0.3, 0.7, 1.9];
        let pos = [0.2, 0.7, 1.9, 4.0];
        check_unary("neg", |x| -x, &any);
        check_unary("relu", |x| x.relu(), &any);
        check_unary("leaky_relu", |x| x.leaky_relu(0.1).unwrap(), &any);
        check_unary("tanh", |x| x.tanh(), &any);
        check_unary("sigmoid", |x| x.sigmoid(), &any);
        check_unary("exp", |x| x.exp(), &any);
        check_unary("log", |x| x.log(), &pos);
        check_unary("sin", |x| x.sin(), &any);
        check_unary("cos", |x| x.cos(), &any);
        check_unary("tan", |x| x.tan(), &[-1.0, -0.3, 0.7, 1.2]);
        check_unary("sqrt", |x| x.sqrt(), &pos);
        check_unary("asin", |x| x.asin(), &[-0.9, -0.3, 0.2, 0.7]);
        let unit = [-0.9, -0.3, 0.2, 0.7];
        let beyond_one = [-3.1, -1.3, 1.2, 2.5];
        check_unary("acos", |x| x.acos(), &unit);
        check_unary("atan", |x| x.atan(), &any);
        check_unary("cot", |x| x.cot(), &[-1.0, -0.3, 0.7, 1.2]);
        check_unary("sec", |x| x.sec(), &[-1.0, -0.3, 0.7, 1.2]);
        check_unary("csc", |x| x.csc(), &any);
        check_unary("acot", |x| x.acot(), &any);
        check_unary("asec", |x| x.asec(), &beyond_one);
        check_unary("acsc", |x| x.acsc(), &beyond_one);
        check_unary("sinh", |x| x.sinh(), &any);
        check_unary("cosh", |x| x.cosh(), &any);
        check_unary("asinh", |x| x.asinh(), &any);
        check_unary("acosh", |x| x.acosh(), &[1.2, 2.5, 7.0]);
        check_unary("atanh", |x| x.atanh(), &unit);
        check_unary("log1p", |x| x.log1p(), &[-0.7, -0.2, 0.7, 1.9]);
        check_unary("expm1", |x| x.expm1(), &any);
        check_unary("log2", |x| x.log2(), &pos);
        check_unary("log10", |x| x.log10(), &pos);
        check_unary("exp2", |x| x.exp2(), &any);
        check_unary("cbrt", |x| x.cbrt(), &any);
        check_unary("erf", |x| x.erf(), &any);
        check_unary("erfc", |x| x.erfc(), &any);
        check_unary("softplus", |x| x.softplus(), &any);
        check_unary("silu", |x| x.silu(), &any);
        check_unary("gelu", |x| x.gelu(), &any);
        check_unary("gelu_tanh", |x| x.gelu_tanh(), &any);
        check_unary("abs", |x| x.abs(), &any);
        check_unary("pow 3", |x| x.powf(3.0), &any);
        check_unary("pow 0.5", |x| x.powf(0.5), &pos);
        check_unary("2 ** x", |x| Value::new(2.0).pow(x), &any);
    }

    #[test]
    fn binary_gradients_match_finite_differences() {
        type Binary = fn(&Value, &Value) -> Value;
        let cases: [(&str, Binary); 5] = [
            ("+", |a, b| a + b),
            ("-", |a, b| a - b),
            ("*", |a, b| a * b),
            ("/", |a, b| a / b),
            ("**", |a, b| a.pow(b)),
        ];
        for (name, f) in cases {
            let (x0, y0) = (1.7, -0.6);
            let (x, y) = (Value::new(x0), Value::new(y0));
            let z = f(&x, &y);
            z.backward();
            let dx = numeric(|t| f(&Value::new(t), &Value::new(y0)).data(), x0);
            let dy = numeric(|t| f(&Value::new(x0), &Value::new(t)).data(), y0);
            assert!(
                (x.grad() - dx).abs() < 1e-6,
                "{name}: d/dx {} vs {dx}",
                x.grad()
            );
            assert!(
                (y.grad() - dy).abs() < 1e-6,
                "{name}: d/dy {} vs {dy}",
                y.grad()
            );
        }
    }

    #[test]
    fn fused_sum_and_dot_give_every_operand_its_gradient() {
        let ws: Vec<Value> = [1.0, -2.0, 3.0].iter().map(|&d| Value::new(d)).collect();
        let xs: Vec<Value> = [0.5, 4.0, -1.0].iter().map(|&d| Value::new(d)).collect();
        let d = Value::dot(&ws, &xs).unwrap();
        assert_eq!(d.data(), 0.5 - 8.0 - 3.0);
        let s = Value::sum(&[d.clone(), ws[0].clone()]);
        s.backward();
        assert_eq!(ws[0].grad(), 0.5 + 1.0);
        assert_eq!(xs[1].grad(), -2.0);
        assert_eq!(
            Value::dot(&ws, &xs[..2]).unwrap_err(),
            OpError::LengthMismatch { left: 3, right: 2 }
        );
        assert_eq!(Value::sum(&[]).data(), 0.0);
    }

    #[test]
    fn owned_sum_and_dot_build_the_same_nodes() {
        let ws: Vec<Value> = [1.5, -2.0].iter().map(|&d| Value::new(d)).collect();
        let xs: Vec<Value> = [4.0, 0.25].iter().map(|&d| Value::new(d)).collect();
        let operands: Vec<Value> = ws.iter().chain(&xs).cloned().collect();
        let d = Value::dot_owned(operands.clone(), 2).unwrap();
        assert_eq!(d.data(), Value::dot(&ws, &xs).unwrap().data());
        assert_eq!(d.op(), "dot");
        d.backward();
        assert_eq!((ws[1].grad(), xs[0].grad()), (0.25, 1.5));
        assert_eq!(
            Value::dot_owned(operands[..3].to_vec(), 2).unwrap_err(),
            OpError::LengthMismatch { left: 2, right: 1 }
        );
        assert_eq!(Value::sum_owned(operands).data(), 1.5 - 2.0 + 4.0 + 0.25);
    }

    #[test]
    fn special_points_follow_ieee_and_pytorch() {
        let zero = Value::new(0.0);
        assert_eq!(zero.log().data(), f64::NEG_INFINITY);
        assert_eq!((1.0 / &zero).data(), f64::INFINITY);
        assert_eq!(zero.powf(-1.0).data(), f64::INFINITY);
        assert!(Value::new(-8.0).powf(1.0 / 3.0).data().is_nan());
        assert_eq!(Value::new(1000.0).exp().data(), f64::INFINITY);
        assert!(Value::new(f64::NAN).relu().data().is_nan());

        for (z, x) in [
            (zero.relu(), &zero),
            (zero.abs(), &zero),
            (zero.powf(0.0), &zero),
        ] {
            x.set_grad(0.0);
            z.backward();
            assert_eq!(x.grad(), 0.0, "derivative at 0 of {}", z.op());
        }
        let x = Value::new(-2.0);
        x.leaky_relu(0.2).unwrap().backward();
        assert_eq!(x.grad(), 0.2);
        let (base, exponent) = (Value::new(0.0), Value::new(2.0));
        base.pow(&exponent).backward();
        assert_eq!(exponent.grad(), 0.0);
        for big in [-1000.0, 1000.0] {
            let x = Value::new(big);
            let s = x.sigmoid();
            s.backward();
            assert!(s.data().is_finite() && x.grad() == 0.0);
        }
        assert!(Value::new(1.0).leaky_relu(-0.1).is_err());
        assert!(Value::new(1.0).leaky_relu(f64::NAN).is_err());
    }

    #[test]
    fn binary_methods_match_finite_differences() {
        type Binary = fn(&Value, &Value) -> Value;
        let cases: [(&str, Binary); 8] = [
            ("atan2", |a, b| a.atan2(b)),
            ("hypot", |a, b| a.hypot(b)),
            ("minimum", |a, b| a.minimum(b)),
            ("maximum", |a, b| a.maximum(b)),
            ("clamp_min", |a, b| a.clamp_min(b)),
            ("clamp_max", |a, b| a.clamp_max(b)),
            ("clamp", |a, b| a.clamp(Some(b), Some(&(b + 1.0)))),
            ("log_base", |a, b| a.log_base(b)),
        ];
        for (name, f) in cases {
            for (x0, y0) in [(1.7, 0.6), (0.4, 2.2), (-0.3, -0.9), (-1.2, 0.8)] {
                if name == "log_base" && x0 < 0.0 {
                    continue;
                }
                let (x, y) = (Value::new(x0), Value::new(y0));
                f(&x, &y).backward();
                let dx = numeric(|t| f(&Value::new(t), &Value::new(y0)).data(), x0);
                let dy = numeric(|t| f(&Value::new(x0), &Value::new(t)).data(), y0);
                let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
                assert!(
                    close(x.grad(), dx),
                    "{name}({x0}, {y0}): d/dx {} vs {dx}",
                    x.grad()
                );
                assert!(
                    close(y.grad(), dy),
                    "{name}({x0}, {y0}): d/dy {} vs {dy}",
                    y.grad()
                );
            }
        }
    }

    #[test]
    fn binary_methods_at_their_special_points() {
        let grads = |f: fn(&Value, &Value) -> Value, a: f64, b: f64| {
            let (x, y) = (Value::new(a), Value::new(b));
            let z = f(&x, &y);
            z.backward();
            (z.data(), x.grad(), y.grad())
        };
        // Ties split the gradient evenly (torch); the bounds of a clamp give it all to x.
        assert_eq!(grads(|a, b| a.maximum(b), 1.5, 1.5), (1.5, 0.5, 0.5));
        assert_eq!(grads(|a, b| a.minimum(b), -2.0, -2.0), (-2.0, 0.5, 0.5));
        assert_eq!(grads(|a, b| a.clamp_min(b), 1.0, 1.0), (1.0, 1.0, 0.0));
        assert_eq!(grads(|a, b| a.clamp_max(b), 1.0, 1.0), (1.0, 1.0, 0.0));
        assert_eq!(grads(|a, b| a.clamp_min(b), 0.0, 1.0), (1.0, 0.0, 1.0));
        // IEEE: signed zeros pick atan2's quadrant; an infinity wins over nan in hypot.
        let pi = std::f64::consts::PI;
        for (y, x, want) in [
            (0.0, 0.0, 0.0),
            (-0.0, 0.0, -0.0),
            (0.0, -0.0, pi),
            (-0.0, -0.0, -pi),
        ] {
            let (z, dy, dx) = grads(|a, b| a.atan2(b), y, x);
            assert_eq!(z.to_bits(), f64::to_bits(want), "atan2({y}, {x})");
            assert!(dy.is_nan() && dx.is_nan());
        }
        assert_eq!(
            grads(|a, b| a.hypot(b), f64::INFINITY, f64::NAN).0,
            f64::INFINITY
        );
        assert_eq!(
            grads(|a, b| a.maximum(b), 0.0, -0.0).0.to_bits(),
            0.0f64.to_bits()
        );
        assert_eq!(
            grads(|a, b| a.minimum(b), 0.0, -0.0).0.to_bits(),
            (-0.0f64).to_bits()
        );
        assert!(grads(|a, b| a.maximum(b), f64::NAN, 1.0).0.is_nan());
        // Neither bound: the node itself.
        let x = Value::new(2.0);
        assert!(x.clamp(None, None).ptr_eq(&x));
    }

    #[test]
    fn children_are_one_list_under_every_name() {
        let (x, y) = (Value::new(2.0), Value::new(3.0));
        let z = &(&x * &y) + &x;
        let node = z.node();
        let ids = |vs: &[Value]| vs.iter().map(Value::id).collect::<Vec<_>>();
        assert_eq!(ids(node.children()), ids(&z.children()));
        assert_eq!(node.children()[1].id(), x.id());
        #[allow(deprecated)]
        let old = node.operands();
        assert_eq!(ids(old), ids(node.children()));
    }
}

/// Number operands kept in their node (`x + 2.0`): the same numbers as a constant leaf gives.
mod number_operands {
    use crate::ops::{Code, OP_TABLE};
    use crate::{Side, Tape, Value};

    fn binary_codes() -> Vec<Code> {
        OP_TABLE
            .iter()
            // The operators: binary methods (`atan2`, ...) keep a number as a leaf node.
            .filter(|row| row.arity == Some(2) && row.method.is_empty())
            .map(|row| row.code)
            .collect()
    }

    /// `f(x op k)` with the number kept in the node, or given as a leaf node.
    fn link(x: &Value, code: Code, k: f64, side: Side, leaf: bool) -> Value {
        let z = if leaf {
            let (a, b) = match side {
                Side::Left => (Value::new(k), x.clone()),
                Side::Right => (x.clone(), Value::new(k)),
            };
            match code {
                Code::Add => a.add(&b),
                Code::Sub => a.sub(&b),
                Code::Mul => a.mul(&b),
                Code::Div => a.div(&b),
                Code::Pow => a.pow(&b),
                other => panic!("no binary method for {other:?}"),
            }
        } else {
            x.with_scalar(code, k, side)
        };
        z.tanh() * x
    }

    #[test]
    fn values_and_gradients_are_a_constant_leafs_bit_for_bit() {
        let points = [0.7, -1.5, 0.0, -0.0, 2.0, 1e300, f64::INFINITY, f64::NAN];
        let numbers = [0.9, -2.0, 0.0, -0.0, 3.0, 0.5, f64::INFINITY];
        for code in binary_codes() {
            for side in [Side::Left, Side::Right] {
                for &x in &points {
                    for &k in &numbers {
                        let (a, b) = (Value::new(x), Value::new(x));
                        let (za, zb) = (
                            link(&a, code, k, side, false),
                            link(&b, code, k, side, true),
                        );
                        za.backward();
                        zb.backward();
                        let what = format!("{code:?} {side:?} x={x} k={k}");
                        assert_eq!(za.data().to_bits(), zb.data().to_bits(), "{what}");
                        assert_eq!(a.grad().to_bits(), b.grad().to_bits(), "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_number_is_no_node_and_children_show_it_as_a_fresh_leaf() {
        let x = Value::new(2.0);
        let y = &(0.9 * &x) + 0.1;
        assert_eq!(y.topo_order().len(), 3, "x, the product and the sum");
        assert_eq!(y.scalar_operand(), Some((Side::Right, 0.1)));
        let product = &y.children()[0];
        assert_eq!(product.scalar_operand(), Some((Side::Left, 0.9)));
        y.backward();
        assert_eq!(x.grad(), 0.9);
        let (first, again) = (product.children(), product.children());
        assert!(first[1].ptr_eq(&x) && again[1].ptr_eq(&x));
        assert!(!first[0].ptr_eq(&again[0]));
        assert_eq!(
            (first[0].data(), first[0].grad(), first[0].op()),
            (0.9, 0.0, "")
        );
        // The leaf is not part of the graph: changing it changes nothing.
        first[0].set_data(5.0);
        assert_eq!(product.children()[0].data(), 0.9);
    }

    #[test]
    fn a_graph_with_numbers_round_trips_as_v2_and_one_without_stays_v1() {
        let x = Value::with_label(0.5, "x");
        let w = Value::new(3.0);
        let y = (&(2.0 - &x) * &w).powf(2.0) / 4.0;
        y.backward();
        let bytes = y.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"FGV2");
        let copy = Value::from_bytes(&bytes).unwrap();
        let (before, after) = (y.topo_order(), copy.topo_order());
        assert_eq!(before.len(), after.len());
        for (p, q) in before.iter().zip(&after) {
            assert_eq!(
                (p.op(), p.data(), p.grad(), p.label(), p.scalar_operand()),
                (q.op(), q.data(), q.grad(), q.label(), q.scalar_operand())
            );
        }
        assert_eq!(copy.to_bytes().unwrap(), bytes);
        let plain = (&x * &w).tanh();
        assert_eq!(&plain.to_bytes().unwrap()[..4], b"FGV1");
    }

    #[test]
    fn a_number_marker_where_none_can_be_is_refused() {
        let marker = u32::MAX.to_le_bytes();
        let x = Value::new(0.5);
        // `x.exp()` is two nodes: the leaf, then exp with one operand, index 0.
        let mut bytes = x.exp().to_bytes().unwrap();
        let last = bytes.len() - 4;
        bytes[last..].copy_from_slice(&marker);
        assert!(Value::from_bytes(&bytes).is_err(), "v1 has no marker");
        bytes[..4].copy_from_slice(b"FGV2");
        assert!(Value::from_bytes(&bytes).is_err(), "exp takes no number");
        let mut two = (&x + 1.0).to_bytes().unwrap();
        let last = two.len() - 8;
        two[last..last + 4].copy_from_slice(&marker);
        assert!(Value::from_bytes(&two).is_err(), "two numbers");
    }

    #[test]
    fn a_tape_records_the_number_as_the_constant_a_leaf_recorded() {
        for code in binary_codes() {
            let (a, b) = (Value::new(0.7), Value::new(0.7));
            let right = (
                link(&a, code, 3.0, Side::Right, false),
                link(&b, code, 3.0, Side::Right, true),
            );
            let (ta, tb) = (
                Tape::record(&[a], &right.0).unwrap(),
                Tape::record(&[b], &right.1).unwrap(),
            );
            assert!(ta == tb, "{code:?}: the same program");
            let (c, d) = (Value::new(0.7), Value::new(0.7));
            let left = (
                link(&c, code, 3.0, Side::Left, false),
                link(&d, code, 3.0, Side::Left, true),
            );
            let (tc, td) = (
                Tape::record(&[c], &left.0).unwrap(),
                Tape::record(&[d], &left.1).unwrap(),
            );
            for x in [0.7, -0.2, 2.5] {
                let (gc, gd) = (tc.grad(&[x]).unwrap(), td.grad(&[x]).unwrap());
                assert_eq!(gc.0.to_bits(), gd.0.to_bits(), "{code:?}");
                assert_eq!(gc.1[0].to_bits(), gd.1[0].to_bits(), "{code:?}");
            }
        }
    }

    #[test]
    fn a_deep_chain_of_number_links_builds_sweeps_and_drops() {
        let x = Value::new(0.5);
        let mut y = x.clone();
        for _ in 0..1_000_000 {
            y = (0.1 + 0.9 * &y).tanh();
        }
        y.backward();
        assert!(x.grad().is_finite() && x.grad() > 0.0);
        drop(y);
        assert_eq!(std::rc::Rc::strong_count(&x.0), 1);
    }
}
