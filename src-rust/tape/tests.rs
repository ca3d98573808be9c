//! The tape against the graph, single points against batches, bytes against garbage.

use super::*;
use crate::scalar::LANES;
use crate::value::Value;

/// f(x1, x2) = ln x1 + x1·x2 − sin x2, the seed's worked example, plus every other op.
fn build(xs: &[Value]) -> Value {
    let (a, b, c) = (&xs[0], &xs[1], &xs[2]);
    let seed = a.log() + a * b - b.sin();
    let more = (a * c).tanh() + (b / c).sigmoid() + c.powf(3.0) + a.pow(c) - c.exp().sqrt()
        + (a - c).abs()
        + c.relu()
        + (-b).leaky_relu(0.2).unwrap()
        + a.cos() * b.tan();
    Value::sum(&[seed, more]) + Value::dot(xs, xs).unwrap()
}

fn leaves(point: &[f64]) -> Vec<Value> {
    point.iter().map(|&x| Value::new(x)).collect()
}

#[test]
fn tape_matches_the_graph_bit_for_bit() {
    let xs = leaves(&[2.0, 5.0, 0.7]);
    let y = build(&xs);
    let tape = Tape::record(&xs, &y).unwrap();
    y.backward();
    let (value, grad) = tape.grad(&[2.0, 5.0, 0.7]).unwrap();
    assert_eq!(value, y.data());
    let graph: Vec<f64> = xs.iter().map(Value::grad).collect();
    assert_eq!(grad, graph);

    // At another point the tape recomputes; the graph rebuilt there agrees.
    let point = [1.3, -0.4, 0.9];
    let xs2 = leaves(&point);
    let y2 = build(&xs2);
    y2.backward();
    let (value2, grad2) = tape.grad(&point).unwrap();
    assert_eq!(value2, y2.data());
    assert_eq!(grad2, xs2.iter().map(Value::grad).collect::<Vec<_>>());
    assert_eq!(tape.eval(&point).unwrap(), y2.data());
}

#[test]
fn seed_forward_tangent_trace() {
    let xs = leaves(&[2.0, 5.0]);
    let f = xs[0].log() + &xs[0] * &xs[1] - xs[1].sin();
    let tape = Tape::record(&xs, &f).unwrap();
    let (_, d1) = tape.jvp(&[2.0, 5.0], &[1.0, 0.0]).unwrap();
    let (_, d2) = tape.jvp(&[2.0, 5.0], &[0.0, 1.0]).unwrap();
    assert!((d1 - 5.5).abs() < 1e-15);
    assert!((d2 - (2.0 - 5f64.cos())).abs() < 1e-15);
}

#[test]
fn jvp_agrees_with_reverse_mode() {
    let xs = leaves(&[1.1, 0.3, 0.8]);
    let tape = Tape::record(&xs, &build(&xs)).unwrap();
    let (x, v) = ([1.1, 0.3, 0.8], [0.5, -1.5, 2.0]);
    let (_, grad) = tape.grad(&x).unwrap();
    let (_, d) = tape.jvp(&x, &v).unwrap();
    let expected: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
    assert!((d - expected).abs() <= 1e-12 * expected.abs().max(1.0));
}

#[test]
fn hessian_matches_differences_of_the_gradient() {
    let x = [1.1, 0.3, 0.8];
    let xs = leaves(&x);
    let tape = Tape::record(&xs, &build(&xs)).unwrap();
    let h = tape.hessian(&x).unwrap();
    for j in 0..3 {
        let step = 1e-6;
        let (mut up, mut down) = (x, x);
        up[j] += step;
        down[j] -= step;
        let (_, gu) = tape.grad(&up).unwrap();
        let (_, gd) = tape.grad(&down).unwrap();
        for i in 0..3 {
            let numeric = (gu[i] - gd[i]) / (2.0 * step);
            let err = (h[i * 3 + j] - numeric).abs() / numeric.abs().max(1.0);
            assert!(err < 1e-5, "H[{i}][{j}] = {} vs {numeric}", h[i * 3 + j]);
        }
    }
    // Symmetric, as second derivatives are.
    for i in 0..3 {
        for j in 0..3 {
            assert!((h[i * 3 + j] - h[j * 3 + i]).abs() < 1e-9);
        }
    }
}

#[test]
fn batches_match_single_points_on_any_thread_count() {
    let xs = leaves(&[1.0, 1.0, 1.0]);
    let tape = Tape::record(&xs, &build(&xs)).unwrap();
    let rows: Vec<f64> = (0..3000).map(|i| 0.3 + (i % 97) as f64 / 50.0).collect();
    for threads in [1, 2, 3] {
        let (values, grads) = tape.grad_batch(&rows, threads).unwrap();
        let evals = tape.eval_batch(&rows, threads).unwrap();
        for (r, x) in rows.chunks(3).enumerate() {
            let (v, g) = tape.grad(x).unwrap();
            assert_eq!(values[r].to_bits(), v.to_bits());
            assert_eq!(evals[r].to_bits(), v.to_bits());
            assert_eq!(&grads[r * 3..r * 3 + 3], &g[..]);
        }
    }
    assert!(tape.grad_batch(&rows[..4], 1).is_err());
}

#[test]
fn bytes_round_trip_and_garbage_is_refused() {
    let xs = leaves(&[1.0, 2.0, 3.0]);
    let tape = Tape::record(&xs, &build(&xs)).unwrap();
    let bytes = tape.to_bytes();
    assert_eq!(Tape::from_bytes(&bytes).unwrap(), tape);
    assert!(Tape::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(Tape::from_bytes(b"nonsense").is_err());
    let mut flipped = bytes.clone();
    let last_tag = bytes.len() - 33;
    flipped[last_tag] = 9;
    assert!(Tape::from_bytes(&flipped).is_err());
}

#[test]
fn more_inputs_than_slots_is_corrupt_not_a_panic() {
    let x = leaves(&[1.0]);
    let mut bytes = Tape::record(&x, &x[0]).unwrap().to_bytes();
    bytes[4..12].copy_from_slice(&5u64.to_le_bytes());
    assert!(matches!(
        Tape::from_bytes(&bytes),
        Err(TapeError::Corrupt(_))
    ));
}

#[test]
fn the_plan_folds_constants_and_drops_dead_code() {
    let xs = leaves(&[0.5, 2.0]);
    let c = Value::new(0.3);
    let unused = xs[1].exp();
    let y = &xs[0] * &(c.exp() + c.tanh()) + xs[0].powf(2.0) + (&c * 2.0);
    drop(unused);
    let tape = Tape::record(&xs, &y).unwrap();
    // x0, x1, then x0 * K, x0 * x0 and two additions (the constant sum inlined).
    assert_eq!(tape.plan_len(), 2 + 4, "{:?}", tape.plan.steps);
    let (value, grad) = tape.grad(&[0.5, 2.0]).unwrap();
    y.backward();
    assert_eq!(value, y.data());
    assert_eq!(grad, [xs[0].grad(), 0.0]);
}

#[test]
fn a_tape_with_a_slope_leaky_relu_would_refuse_is_refused() {
    let xs = leaves(&[-2.0]);
    let y = xs[0].leaky_relu(0.375).unwrap();
    let bytes = Tape::record(&xs, &y).unwrap().to_bytes();
    assert!(Tape::from_bytes(&bytes).is_ok());
    let (good, bad) = (0.375f64.to_le_bytes(), (-3.0f64).to_le_bytes());
    let at = bytes.windows(8).position(|w| w == good).unwrap();
    let mut edited = bytes.clone();
    edited[at..at + 8].copy_from_slice(&bad);
    assert_eq!(
        Tape::from_bytes(&edited),
        Err(TapeError::Corrupt("bad leaky_relu slope"))
    );
}

#[test]
fn wrong_input_counts_and_duplicate_inputs_are_errors() {
    let xs = leaves(&[1.0, 2.0]);
    let y = &xs[0] * &xs[1];
    let tape = Tape::record(&xs, &y).unwrap();
    assert_eq!(
        tape.eval(&[1.0]),
        Err(TapeError::InputLength {
            expected: 2,
            got: 1
        })
    );
    let twice = [xs[0].clone(), xs[0].clone()];
    assert_eq!(Tape::record(&twice, &y), Err(TapeError::DuplicateInput(1)));
}

/// Outputs that share nodes, reach them in different orders (the second output visits `b`
/// before `a`, the first `a` before `b`; `x` has four users), and repeat an input, a constant
/// and an output.
fn outputs(xs: &[Value]) -> Vec<Value> {
    let (x, y) = (&xs[0], &xs[1]);
    let a = x.sin() * y;
    let b = x.exp() + x * 0.5;
    let c = (x * y).tanh();
    let first = &a * &b + x.log();
    let second = Value::sum(&[b.clone(), c.clone(), a.clone(), x.powf(2.0)]);
    vec![
        first.clone(),
        second,
        c,
        y.clone(),
        Value::new(3.5),
        first,
        Value::dot(&[a.clone(), b.clone()], &[b, a]).unwrap(),
    ]
}

#[test]
fn each_jacobian_row_is_its_outputs_own_gradient_bit_for_bit() {
    let point = [0.7, -1.3];
    let xs = leaves(&point);
    let outs = outputs(&xs);
    let tape = Tape::record_many(&xs, &outs).unwrap();
    assert_eq!((tape.n_outputs(), tape.is_vector()), (7, true));
    let (values, jac) = tape.jacobian(&point).unwrap();
    assert_eq!(tape.eval_all(&point).unwrap(), values);
    for (k, out) in outs.iter().enumerate() {
        let single = Tape::record(&xs, out).unwrap();
        let (value, grad) = single.grad(&point).unwrap();
        assert_eq!(values[k].to_bits(), value.to_bits(), "output {k}");
        assert_eq!(&jac[2 * k..2 * k + 2], &grad[..], "output {k}");
        for x in &xs {
            x.set_grad(0.0);
        }
        out.backward();
        let graph: Vec<f64> = xs.iter().map(Value::grad).collect();
        assert_eq!(
            &jac[2 * k..2 * k + 2],
            &graph[..],
            "output {k} against the graph"
        );
        let h = tape.hessians(&point).unwrap();
        assert_eq!(&h[4 * k..4 * k + 4], &single.hessian(&point).unwrap()[..]);
        let (v, d) = single.jvp(&point, &[0.25, -2.0]).unwrap();
        let (vs, ds) = tape.jvp_all(&point, &[0.25, -2.0]).unwrap();
        assert_eq!(
            (vs[k].to_bits(), ds[k].to_bits()),
            (v.to_bits(), d.to_bits())
        );
    }
    // The constant and the input: zero and a unit row.
    assert_eq!(&jac[6..10], &[0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn vector_batches_match_points_and_bytes_round_trip() {
    let xs = leaves(&[1.0, 1.0]);
    let tape = Tape::record_many(&xs, &outputs(&xs)).unwrap();
    let rows: Vec<f64> = (0..70)
        .flat_map(|i| [0.1 + i as f64 * 0.03, 1.0 - i as f64 * 0.05])
        .collect();
    let copy = Tape::from_bytes(&tape.to_bytes()).unwrap();
    assert!(copy == tape && copy.to_bytes()[..4] == *b"FGT3");
    for threads in [1, 3] {
        let values = copy.eval_batch(&rows, threads).unwrap();
        let jac = copy.jacobian_batch(&rows, threads).unwrap();
        for (r, x) in rows.chunks(2).enumerate() {
            let (v, j) = tape.jacobian(x).unwrap();
            assert_eq!(&values[7 * r..7 * r + 7], &v[..]);
            assert_eq!(&jac[14 * r..14 * r + 14], &j[..]);
        }
    }
    // A scalar tape keeps its format, and its Jacobian batch is its gradient batch.
    let scalar = Tape::record(&xs, &outputs(&xs)[1]).unwrap();
    assert_eq!(scalar.to_bytes()[..4], *b"FGT2");
    assert_eq!(
        scalar.jacobian_batch(&rows, 2).unwrap(),
        scalar.grad_batch(&rows, 2).unwrap().1
    );
}

#[test]
fn vjp_seeds_every_output_and_scalar_only_methods_refuse_vectors() {
    let point = [0.4, 0.9];
    let xs = leaves(&point);
    let tape = Tape::record_many(&xs, &outputs(&xs)).unwrap();
    let u = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let (_, g) = tape.vjp(&point, &u).unwrap();
    let (_, jac) = tape.jacobian(&point).unwrap();
    // Outputs 0 and 5 are one node: its adjoint is seeded 2.
    for i in 0..2 {
        assert!((g[i] - 2.0 * jac[i]).abs() <= 1e-12 * jac[i].abs());
    }
    let err = tape.vjp(&point, &[1.0]).unwrap_err();
    assert_eq!(
        err,
        TapeError::CotangentLength {
            expected: 7,
            got: 1
        }
    );
    assert!(matches!(
        tape.grad(&point),
        Err(TapeError::NotScalar {
            outputs: 7,
            instead: "jacobian"
        })
    ));
    assert!(tape.eval(&point).is_err() && tape.hessian(&point).is_err());
    assert!(tape.grad_batch(&point, 1).is_err());
    assert_eq!(
        Tape::record_many(&xs, &[]).unwrap_err(),
        TapeError::NoOutputs
    );
    let mut bad = tape.to_bytes();
    bad[12..20].copy_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        Tape::from_bytes(&bad).unwrap_err(),
        TapeError::Corrupt("no outputs")
    );
    bad[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Tape::from_bytes(&bad).is_err());
}

/// f(p0, p1, p2; x, t): a tanh neuron under a hinge, and a term in both kinds of input.
fn shared_and_rows(vars: &[Value]) -> Value {
    let (p, x) = (&vars[..3], &vars[3..]);
    let neuron = (&p[0] * &x[0] + &p[1]).tanh() * &p[2];
    (1.0 - &x[1] * &neuron).relu() + (&p[0] * &x[1]).sin()
}

#[test]
fn grad_sum_is_the_rows_gradients_summed() {
    let shared = [0.3, -0.2, 1.5];
    let vars = leaves(&[0.3, -0.2, 1.5, 0.7, 1.0]);
    let tape = Tape::record(&vars, &shared_and_rows(&vars)).unwrap();
    for rows in [1usize, 31, 32, 33, 100, 20_000] {
        let xs: Vec<f64> = (0..rows)
            .flat_map(|r| [(r as f64 * 0.37).sin(), if r % 3 == 0 { 1.0 } else { -1.0 }])
            .collect();
        let full: Vec<f64> = xs
            .chunks_exact(2)
            .flat_map(|d| shared.iter().chain(d).copied())
            .collect();
        let (values, grads) = tape.grad_batch(&full, 1).unwrap();
        for threads in [1, 2] {
            let (mut v, mut g) = (vec![0.0; rows], vec![0.0; 3]);
            tape.grad_sum_into(&shared, &xs, threads, &mut v, &mut g)
                .unwrap();
            assert_eq!(v, values, "{rows} rows on {threads} threads");
            for (i, &got) in g.iter().enumerate() {
                let want = grads.chunks_exact(5).fold(0.0, |s, row| s + row[i]);
                if rows <= LANES && threads == 1 {
                    assert_eq!(got, want, "one lane block adds the rows in order");
                }
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{got} {want}"
                );
            }
        }
    }
}

#[test]
fn grad_sum_refuses_bad_shapes() {
    let vars = leaves(&[0.3, -0.2, 1.5, 0.7, 1.0]);
    let tape = Tape::record(&vars, &shared_and_rows(&vars)).unwrap();
    let shared = [0.3, -0.2, 1.5];
    let err = tape.grad_sum_into(&[0.0; 5], &[], 1, &mut [], &mut [0.0; 5]);
    assert!(matches!(
        err,
        Err(TapeError::SharedInputs {
            n_inputs: 5,
            shared: 5
        })
    ));
    let err = tape.grad_sum_into(&shared, &[1.0, 2.0, 3.0], 1, &mut [0.0], &mut [0.0; 3]);
    assert!(matches!(
        err,
        Err(TapeError::InputLength {
            expected: 2,
            got: 1
        })
    ));
    let err = tape.grad_sum_into(&shared, &[1.0, 2.0], 1, &mut [0.0; 2], &mut [0.0; 3]);
    assert!(matches!(err, Err(TapeError::OutputLength { .. })));
    let err = tape.grad_sum_into(&shared, &[1.0, 2.0], 1, &mut [0.0], &mut [0.0; 2]);
    assert!(matches!(err, Err(TapeError::OutputLength { .. })));
}

#[test]
fn lane_blocks_start_every_slot_on_a_cache_line() {
    let xs = leaves(&[1.0, 1.0, 1.0]);
    let f = build(&xs) * &xs[2];
    let tape = Tape::record(&xs, &f).unwrap();
    for _ in 0..8 {
        let block = lanes::Block::new(&tape.plan, true).unwrap();
        for slots in [&block.vals, &block.adj] {
            assert!(slots.len() > 3);
            assert!(slots
                .iter()
                .all(|s| (s.as_ptr() as usize).is_multiple_of(64)));
        }
    }
}

#[test]
fn lane_blocks_load_rows_and_unload_gradients_on_every_instruction_set() {
    use crate::vmath::{kernels_for, Isa, LaneOps, Precision};
    // Every width of the columns past the last whole 8 x 8 tile, with and without whole tiles.
    for n in (1..=17).chain([19, 24, 30]) {
        let xs = leaves(&vec![1.0; n]);
        let f = Value::sum(&xs) * &xs[0];
        let tape = Tape::record(&xs, &f).unwrap();
        // Every number distinct, so that a misplaced one shows.
        let rows: Vec<f64> = (0..LANES * n).map(|i| i as f64 + 0.5).collect();
        for &isa in Isa::ALL {
            let Some(k) = kernels_for(isa) else { continue };
            let ops = LaneOps::new(k, Precision::Default);
            for len in [LANES, LANES - 1, 1] {
                let mut block = lanes::Block::new(&tape.plan, true).unwrap();
                // The slots past the inputs are left as they were.
                block.vals[n..].iter_mut().flatten().for_each(|v| *v = -7.0);
                block.load(&ops, &rows[..len * n], n);
                assert!(block.vals[n..].iter().flatten().all(|&v| v == -7.0));
                for r in 0..len {
                    for c in 0..n {
                        assert_eq!(
                            block.vals[c][r],
                            rows[r * n + c],
                            "{} n={n} {r},{c}",
                            isa.name()
                        );
                    }
                }
                for (c, slot) in block.adj[..n].iter_mut().enumerate() {
                    for (r, a) in slot.iter_mut().enumerate() {
                        *a = -((r * n + c) as f64);
                    }
                }
                let mut grads = vec![f64::NAN; len * n];
                block.unload_gradients(&ops, &mut grads, n);
                for (i, g) in grads.iter().enumerate() {
                    assert_eq!(*g, -(i as f64), "{} n={n} at {i}", isa.name());
                }
                assert!(block.adj.iter().flatten().all(|&a| a.to_bits() == 0));
            }
        }
    }
}

#[test]
fn lane_passes_match_single_points_on_every_instruction_set() {
    use crate::vmath::{kernels_for, Isa, LaneOps, Precision};
    let xs = leaves(&[1.0, 1.0, 1.0]);
    let f = build(&xs) + (&xs[0] / 3.0) * (2.0 - &xs[1]) + (&xs[2] - 0.5) / &xs[0];
    let tape = Tape::record(&xs, &f).unwrap();
    let plan = &tape.plan;
    let rows: Vec<f64> = (0..3 * LANES)
        .map(|i| 0.3 + (i % 37) as f64 / 20.0)
        .collect();
    for &isa in Isa::ALL {
        let Some(k) = kernels_for(isa) else { continue };
        let ops = LaneOps::new(k, Precision::Default);
        assert_eq!(ops.isa(), isa);
        let mut block = lanes::Block::new(plan, true).unwrap();
        block.load(&ops, &rows, 3);
        plan.forward_lanes(&ops, &mut block.vals);
        plan.reverse_lanes(&ops, &block.vals, &mut block.adj);
        for (l, x) in rows.chunks(3).enumerate() {
            let (v, g) = tape.grad(x).unwrap();
            let what = format!("{} row {l}", isa.name());
            assert_eq!(
                block.vals[plan.output as usize][l].to_bits(),
                v.to_bits(),
                "{what}"
            );
            for (i, gi) in g.iter().enumerate() {
                assert_eq!(block.adj[i][l].to_bits(), gi.to_bits(), "{what} input {i}");
            }
        }
        // Every adjoint past the inputs is left zero for the next sweep.
        assert!(block.adj[3..].iter().flatten().all(|&a| a.to_bits() == 0));
    }
}

/// f(w0..w3, b; x0, x1): dot steps with the shared weights on either side, one term of two
/// shared inputs, and a bias, the shapes a dense layer's loss has.
fn dense_rows(vars: &[Value]) -> Value {
    let (w, b, x) = (&vars[..4], &vars[4], &vars[5..]);
    let layer = (Value::dot(&w[..2], x).unwrap() + b).relu();
    let other = Value::dot(&[x[1].clone(), w[3].clone()], &[w[2].clone(), w[0].clone()]).unwrap();
    let right = Value::dot(x, &w[1..3]).unwrap();
    (layer * other + right.tanh()) * &x[0]
}

#[test]
fn grad_sum_on_one_tape_with_other_numbers_of_shared_inputs_gives_a_fresh_tapes_bits() {
    let all = [0.3, -0.2, 1.5, 0.8, 0.1, 0.7, 1.0];
    let vars = leaves(&all);
    let tape = Tape::record(&vars, &dense_rows(&vars)).unwrap();
    // Each k in turn, twice, on the same tape (whose kept state is per k), against a clone
    // (which keeps nothing) on its first call.
    for k in [5usize, 3, 5, 0, 6, 3] {
        let d = all.len() - k;
        let xs: Vec<f64> = (0..70 * d)
            .map(|i| ((i * 7 % 23) as f64 - 11.0) / 9.0)
            .collect();
        let run = |tape: &Tape| {
            let (mut v, mut g) = (vec![0.0; 70], vec![0.0; k]);
            tape.grad_sum_into(&all[..k], &xs, 1, &mut v, &mut g)
                .unwrap();
            (v, g)
        };
        let bits = |(v, g): (Vec<f64>, Vec<f64>)| -> Vec<u64> {
            v.iter().chain(&g).map(|x| x.to_bits()).collect()
        };
        let fresh = bits(run(&tape.clone()));
        assert_eq!(bits(run(&tape)), fresh, "k = {k}");
        assert_eq!(bits(run(&tape)), fresh, "k = {k}, again");
    }
}

#[test]
fn grad_sum_over_dot_steps_matches_the_rows_and_ignores_stale_lanes() {
    let shared = [0.3, -0.2, 1.5, 0.8, 0.1];
    let vars = leaves(&[0.3, -0.2, 1.5, 0.8, 0.1, 0.7, 1.0]);
    let tape = Tape::record(&vars, &dense_rows(&vars)).unwrap();
    assert_eq!(tape.plan.shared_lane_slots(5), vec![0, 3, 4]);
    // A first batch leaves infinities and NaNs in every lane of the kept block.
    let bad: Vec<f64> = (0..64).flat_map(|_| [f64::INFINITY, f64::NAN]).collect();
    let (mut v, mut g) = (vec![0.0; 64], vec![0.0; 5]);
    tape.grad_sum_into(&shared, &bad, 1, &mut v, &mut g)
        .unwrap();
    assert!(g.iter().any(|x| !x.is_finite()));
    for rows in [3usize, 5, 31, 32, 33, 100, 5_000] {
        let xs: Vec<f64> = (0..rows)
            .flat_map(|r| [(r as f64 * 0.37).sin(), (r as f64 * 0.11).cos()])
            .collect();
        let full: Vec<f64> = xs
            .chunks_exact(2)
            .flat_map(|d| shared.iter().chain(d).copied())
            .collect();
        let (values, grads) = tape.grad_batch(&full, 1).unwrap();
        for threads in [1, 2] {
            let (mut v, mut g) = (vec![0.0; rows], vec![0.0; 5]);
            tape.grad_sum_into(&shared, &xs, threads, &mut v, &mut g)
                .unwrap();
            assert_eq!(v, values, "{rows} rows on {threads} threads");
            for (i, &got) in g.iter().enumerate() {
                let want = grads.chunks_exact(7).fold(0.0, |s, row| s + row[i]);
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{rows} rows, input {i}: {got} {want}"
                );
            }
            let (mut v2, mut g2) = (vec![0.0; rows], vec![0.0; 5]);
            tape.grad_sum_into(&shared, &xs, threads, &mut v2, &mut g2)
                .unwrap();
            assert_eq!(
                g, g2,
                "the same rows on the same threads give the same bits"
            );
        }
    }
}

/// An MLP's score, 2 → 3 → 4 → 1: weights `w` then the inputs `x0, x1` (the last two slots).
/// `between` reads a first-layer operand between that layer's dots; `twice` gives the second
/// layer one weight in two places.
fn mlp(vars: &[Value], between: bool, twice: bool) -> Value {
    let (w, x) = vars.split_at(vars.len() - 2);
    let (w1, rest) = w.split_at(3 * 3);
    let (w2, w3) = rest.split_at(4 * 4);
    let mut hidden = Vec::new();
    for j in 0..3 {
        let z = Value::dot(&w1[3 * j..3 * j + 2], x).unwrap() + &w1[3 * j + 2];
        hidden.push(z.relu());
        if between && j == 0 {
            hidden[0] = &hidden[0] * &x[1];
        }
    }
    let mut second = Vec::new();
    for j in 0..4 {
        let mut ws: Vec<Value> = w2[4 * j..4 * j + 3].to_vec();
        if twice && j == 2 {
            ws[1] = w2[0].clone();
        }
        second.push((Value::dot(&ws, &hidden).unwrap() + &w2[4 * j + 3]).tanh());
    }
    Value::dot(&w3[..4], &second).unwrap() * &x[0]
}

fn mlp_tape(between: bool, twice: bool) -> (Tape, Vec<f64>) {
    let weights: Vec<f64> = (0..29).map(|i| ((i * 7 % 11) as f64 - 5.0) / 6.0).collect();
    let point: Vec<f64> = weights.iter().copied().chain([0.4, -0.9]).collect();
    let vars = leaves(&point);
    (
        Tape::record(&vars, &mlp(&vars, between, twice)).unwrap(),
        weights,
    )
}

#[test]
fn dense_layers_are_runs_of_dots_over_the_same_operands() {
    let dots =
        |tape: &Tape| -> Vec<usize> { tape.plan.layers.iter().map(|l| l.dots.len()).collect() };
    // Both hidden layers; the output's single dot is no layer.
    let (tape, _) = mlp_tape(false, false);
    assert_eq!(dots(&tape), vec![3, 4]);
    let first = &tape.plan.layers[0];
    assert_eq!(first.xs, vec![29, 30]);
    assert_eq!(first.ws.len(), 3 * 2);
    // A step reading an operand of the first layer between its dots ends it there: the
    // first dot alone is no layer, the other two are one.
    let (tape, _) = mlp_tape(true, false);
    assert_eq!(dots(&tape), vec![2, 4]);
    // A weight in two places of the second layer: that layer is not one.
    let (tape, _) = mlp_tape(false, true);
    assert_eq!(dots(&tape), vec![3]);
    // The same operand twice in a dot: no layer.
    let vars = leaves(&[0.5, 0.25, 1.5, -1.0, 2.0]);
    let x = [vars[4].clone(), vars[4].clone()];
    let y = Value::dot(&vars[..2], &x).unwrap() * Value::dot(&vars[2..4], &x).unwrap();
    assert!(Tape::record(&vars, &y).unwrap().plan.layers.is_empty());
}

#[test]
fn dense_layers_give_the_bits_of_one_dot_at_a_time() {
    use crate::vmath::{kernels_for, Isa, LaneOps, Parts, Precision, PARTS};
    for (between, twice) in [(false, false), (true, false), (false, true)] {
        let (tape, shared) = mlp_tape(between, twice);
        let (plan, dots) = (&tape.plan, tape.plan.without_layers());
        let k = shared.len();
        for &isa in Isa::ALL {
            let Some(kernels) = kernels_for(isa) else {
                continue;
            };
            let ops = LaneOps::new(kernels, Precision::Default);
            for live in [LANES, 31, 20, 9, 8, 3, 1] {
                let rows: Vec<f64> = (0..LANES)
                    .flat_map(|l| {
                        shared
                            .iter()
                            .copied()
                            .chain([0.1 * l as f64 - 1.3, (l as f64).cos()])
                    })
                    .collect();
                let mut runs = Vec::new();
                for plan in [plan, &dots] {
                    let mut block = lanes::Block::new(plan, true).unwrap();
                    // Stale lanes: what a block kept from an earlier batch may hold.
                    block.vals.iter_mut().flatten().for_each(|v| *v = f64::NAN);
                    block.load(&ops, &rows, plan.n_inputs);
                    let mut parts: Vec<Parts> = vec![[0.0; PARTS]; k];
                    plan.forward_lanes_shared(&ops, &shared, &mut block.vals, live);
                    plan.reverse_lanes_shared(
                        &ops,
                        &shared,
                        &block.vals,
                        &mut block.adj,
                        &mut parts,
                        live,
                    );
                    let value: Vec<u64> = block.vals[plan.output as usize][..live]
                        .iter()
                        .map(|v| v.to_bits())
                        .collect();
                    let lane_adj: Vec<u64> = block.adj[..plan.n_inputs]
                        .iter()
                        .flat_map(|a| a[..live].iter().map(|v| v.to_bits()))
                        .collect();
                    let parts: Vec<u64> = parts.iter().flatten().map(|v| v.to_bits()).collect();
                    assert!(block.adj[plan.n_inputs..]
                        .iter()
                        .flatten()
                        .all(|&a| a.to_bits() == 0));
                    runs.push((value, lane_adj, parts));
                }
                let what = format!("{} live {live} between {between} twice {twice}", isa.name());
                assert_eq!(runs[0], runs[1], "{what}");
                assert!(
                    runs[0].2.iter().any(|&p| f64::from_bits(p) != 0.0),
                    "{what}"
                );
            }
        }
        // Whole batches, tails and threads: the same bits with and without layers, and the
        // rows' gradients summed.
        let mut flat = tape.clone();
        flat.plan = dots.clone();
        for rows in [1usize, 3, 5, 9, 31, 32, 33, 100, 257] {
            let xs: Vec<f64> = (0..rows)
                .flat_map(|r| [(r as f64 * 0.37).sin(), (r as f64 * 0.11).cos()])
                .collect();
            for threads in [1, 2] {
                let mut out = Vec::new();
                for t in [&tape, &flat] {
                    let (mut v, mut g) = (vec![0.0; rows], vec![0.0; k]);
                    t.grad_sum_into(&shared, &xs, threads, &mut v, &mut g)
                        .unwrap();
                    out.push((v, g));
                }
                assert_eq!(out[0].0, out[1].0, "{rows} rows on {threads} threads");
                let bits = |g: &[f64]| g.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&out[0].1),
                    bits(&out[1].1),
                    "{rows} rows on {threads} threads"
                );
                let full: Vec<f64> = xs
                    .chunks_exact(2)
                    .flat_map(|d| shared.iter().chain(d).copied())
                    .collect();
                let (_, grads) = tape.grad_batch(&full, 1).unwrap();
                for (i, &got) in out[0].1.iter().enumerate() {
                    let want = grads.chunks_exact(k + 2).fold(0.0, |s, row| s + row[i]);
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "{rows} rows, input {i}"
                    );
                }
            }
        }
    }
}
