//! The default-mode loops against the scalar formulas (bit for bit), and the fast functions
//! against libm at special points (bit for bit) and elsewhere (within a few ulps: the precise
//! bounds are checked against mpmath in `tests/test_vmath.py`).

use super::*;
use crate::scalar::LANES;

/// A deterministic stream of awkward doubles: special values, tiny and huge magnitudes, and
/// ordinary numbers.
fn samples(n: usize) -> Vec<f64> {
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1e-310,
        f64::MAX,
        f64::MIN,
        708.0,
        709.7,
        709.8,
        710.0,
        -708.0,
        -745.1,
        -746.0,
        22.0,
        -22.5,
        1e6,
        1.5e6,
        1e300,
        std::f64::consts::FRAC_PI_2,
        std::f64::consts::PI,
        -std::f64::consts::FRAC_PI_4,
        355.0,
        0.5,
        2.0,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out: Vec<f64> = special.to_vec();
    while out.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = match state % 4 {
            0 => f64::from_bits(state >> 1) * if state & 1 == 0 { 1.0 } else { -1.0 },
            1 => ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 20.0,
            2 => ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1500.0,
            _ => ((state >> 11) as f64 / (1u64 << 53) as f64) * 4.0,
        };
        out.push(x);
    }
    out.truncate(n.next_multiple_of(LANES));
    out
}

type Scalar1 = fn(f64) -> f64;

fn blocks(xs: &[f64]) -> impl Iterator<Item = Lanes> + '_ {
    xs.chunks_exact(LANES).map(|c| c.try_into().unwrap())
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn copies() -> Vec<&'static Kernels> {
    Isa::ALL.iter().filter_map(|&i| kernels_for(i)).collect()
}

#[test]
fn the_best_copy_is_one_the_cpu_runs() {
    assert!(kernels().isa.supported());
    assert_eq!(kernels_for(Isa::Baseline).unwrap().isa, Isa::Baseline);
    for k in copies() {
        assert!(k.isa.supported(), "{}", k.isa.name());
    }
}

#[test]
fn default_arithmetic_is_bit_for_bit_the_scalar_formula() {
    let xs = samples(64 * LANES);
    let ys: Vec<f64> = xs.iter().rev().copied().collect();
    type Scalar2 = fn(f64, f64) -> f64;
    for k in copies() {
        let binary: [(&str, Binary, Scalar2); 7] = [
            ("add", k.add, |x, y| x + y),
            ("sub", k.sub, |x, y| x - y),
            ("mul", k.mul, |x, y| x * y),
            ("div", k.div, |x, y| x / y),
            ("relu_backward", k.relu_backward, |x, g| {
                if x > 0.0 {
                    g
                } else {
                    0.0
                }
            }),
            ("abs_backward", k.abs_backward, |x, g| {
                if x > 0.0 {
                    g
                } else if x < 0.0 {
                    -g
                } else {
                    0.0
                }
            }),
            ("square_backward", k.square_backward, |x, g| 2.0 * x * g),
        ];
        let unary: [(&str, Unary, Scalar1); 5] = [
            ("neg", k.neg, |x| -x),
            (
                "relu",
                k.relu,
                |x| {
                    if x > 0.0 || x.is_nan() {
                        x
                    } else {
                        0.0
                    }
                },
            ),
            ("abs", k.abs, f64::abs),
            ("square", k.square, |x| x * x),
            ("sqrt", k.sqrt, f64::sqrt),
        ];
        for (x, y) in blocks(&xs).zip(blocks(&ys)) {
            let mut z = [0.0; LANES];
            for (name, f, scalar) in binary {
                f(&x, &y, &mut z);
                for l in 0..LANES {
                    let want = scalar(x[l], y[l]);
                    assert!(
                        same(z[l], want),
                        "{} {name}({}, {})",
                        k.isa.name(),
                        x[l],
                        y[l]
                    );
                }
            }
            for (name, f, scalar) in unary {
                f(&x, &mut z);
                for l in 0..LANES {
                    assert!(
                        same(z[l], scalar(x[l])),
                        "{} {name}({})",
                        k.isa.name(),
                        x[l]
                    );
                }
            }
            let mut acc = y;
            (k.accumulate)(&mut acc, &x);
            let mut dot = y;
            (k.dot_accumulate)(&mut dot, &x, &y);
            let mut dy = [0.0; LANES];
            (k.div_backward_y)(&y, &x, &z, &mut dy);
            let mut ds = [0.0; LANES];
            (k.sqrt_backward)(&x, &y, &z, &mut ds);
            for l in 0..LANES {
                assert!(same(acc[l], y[l] + x[l]));
                assert!(same(dot[l], y[l] + x[l] * y[l]));
                assert!(same(dy[l], -((z[l] / y[l]) * x[l])));
                assert!(same(ds[l], (0.5 / y[l]) * z[l]));
            }
        }
    }
}

fn ulps(got: f64, want: f64) -> f64 {
    if same(got, want) {
        return 0.0;
    }
    if !got.is_finite() || !want.is_finite() {
        return f64::INFINITY;
    }
    let spacing = |x: f64| {
        let a = x.abs().max(f64::MIN_POSITIVE);
        f64::from_bits(a.to_bits() + 1) - a
    };
    (got - want).abs() / spacing(want)
}

fn slope_libm(name: &str, x: f64) -> f64 {
    match name {
        "tanh'" => kernels::tanh_slope_libm(x),
        "sigmoid'" => kernels::sigmoid_slope_libm(x),
        "sin'" => x.cos(),
        "cos'" => -x.sin(),
        "tan'" => kernels::tan_slope_libm(x),
        _ => unreachable!(),
    }
}

#[test]
fn fast_functions_are_close_to_libm_and_are_libm_at_special_points() {
    let xs = samples(256 * LANES);
    for k in copies() {
        let values: [(&str, Unary, Scalar1); 7] = [
            ("exp", k.exp, f64::exp),
            ("log", k.log, f64::ln),
            ("sin", k.sin, f64::sin),
            ("cos", k.cos, f64::cos),
            ("tan", k.tan, f64::tan),
            ("tanh", k.tanh, f64::tanh),
            ("sigmoid", k.sigmoid, kernels::sigmoid_libm),
        ];
        let slopes: [(&str, Backward); 5] = [
            ("tan'", k.tan_backward),
            ("sin'", k.sin_backward),
            ("cos'", k.cos_backward),
            ("tanh'", k.tanh_backward),
            ("sigmoid'", k.sigmoid_backward),
        ];
        let ones = [1.0; LANES];
        for x in blocks(&xs) {
            let mut z = [0.0; LANES];
            for (name, f, libm) in values {
                f(&x, &mut z);
                for l in 0..LANES {
                    let want = libm(x[l]);
                    let special = !x[l].is_finite() || !want.is_finite() || want == 0.0;
                    let err = ulps(z[l], want);
                    assert!(
                        if special { err == 0.0 } else { err <= 3.0 },
                        "{} {name}({:e}) = {:e}, libm {:e}: {err} ulps",
                        k.isa.name(),
                        x[l],
                        z[l],
                        want
                    );
                }
            }
            for (name, f) in slopes {
                f(&x, &x, &ones, &mut z);
                for l in 0..LANES {
                    let want = slope_libm(name, x[l]);
                    // The libm-based slopes themselves lose accuracy where the slope
                    // underflows; compare there in absolute terms.
                    let err = ulps(z[l], want);
                    let close = err <= 4.0 || (z[l] - want).abs() < 1e-300;
                    let special = !x[l].is_finite();
                    assert!(
                        if special { same(z[l], want) } else { close },
                        "{} {name}({:e}) = {:e}, libm {:e}: {err} ulps",
                        k.isa.name(),
                        x[l],
                        z[l],
                        want
                    );
                }
            }
        }
    }
}

#[test]
fn special_points_follow_ieee() {
    let k = kernels();
    let mut x = [1.0; LANES];
    x[..8].copy_from_slice(&[
        710.0,
        -800.0,
        0.0,
        -0.0,
        -1.0,
        f64::INFINITY,
        f64::NAN,
        5e-324,
    ]);
    let mut z = [0.0; LANES];
    (k.exp)(&x, &mut z);
    assert_eq!(z[0], f64::INFINITY);
    assert_eq!(z[1], 0.0);
    assert_eq!(z[2], 1.0);
    (k.log)(&x, &mut z);
    assert_eq!(z[2], f64::NEG_INFINITY);
    assert_eq!(z[3], f64::NEG_INFINITY);
    assert!(z[4].is_nan() && z[6].is_nan());
    assert_eq!(z[5], f64::INFINITY);
    assert_eq!(z[7], (5e-324f64).ln());
    (k.sin)(&x, &mut z);
    assert!(z[5].is_nan() && z[3].to_bits() == (-0.0f64).to_bits());
    (k.tanh)(&x, &mut z);
    assert_eq!((z[0], z[1], z[5]), (1.0, -1.0, 1.0));
    assert!(z[3].to_bits() == (-0.0f64).to_bits() && z[6].is_nan());
    (k.sigmoid)(&x, &mut z);
    assert_eq!((z[0], z[1], z[2]), (1.0, 0.0, 0.5));
}

#[test]
fn lane_ops_in_default_precision_are_the_op_tables_formulas_bit_for_bit() {
    use crate::ops::{
        binary_backward_lanes, binary_backward_one_lanes, binary_forward_lanes,
        unary_backward_lanes, unary_forward_lanes, Code, OP_TABLE,
    };
    let xs = samples(16 * LANES);
    let ys: Vec<f64> = xs.iter().rev().copied().collect();
    let gs: Vec<f64> = xs.iter().map(|x| x * 0.37 - 1.5).collect();
    // Every op of the table with one operand, and with two.
    let with_arity = |n| -> Vec<Code> {
        OP_TABLE
            .iter()
            .filter(|r| r.arity == Some(n))
            .map(|r| r.code)
            .collect()
    };
    let (unary, binary) = (with_arity(1), with_arity(2));
    let all_same = |a: &Lanes, b: &Lanes| (0..LANES).all(|l| same(a[l], b[l]));
    for k in copies() {
        let ops = LaneOps::new(k, Precision::Default);
        for ((x, y), g) in blocks(&xs).zip(blocks(&ys)).zip(blocks(&gs)) {
            let (mut a, mut b, mut c, mut d) =
                ([0.0; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
            for &code in &unary {
                ops.unary_forward(code, &x, 0.25, &mut a);
                unary_forward_lanes(code, &x, 0.25, &mut b);
                assert!(all_same(&a, &b), "{code:?} forward on {}", k.isa.name());
                ops.unary_backward(code, [&x, &b, &g], 0.25, &mut a);
                unary_backward_lanes(code, [&x, &b, &g], 0.25, &mut c);
                assert!(all_same(&a, &c), "{code:?} backward on {}", k.isa.name());
            }
            for &code in &binary {
                ops.binary_forward(code, &x, &y, &mut a);
                binary_forward_lanes(code, &x, &y, &mut b);
                assert!(all_same(&a, &b), "{code:?} forward on {}", k.isa.name());
                let z = b;
                ops.binary_backward(code, [&x, &y, &z, &g], &mut a, &mut b);
                binary_backward_lanes(code, [&x, &y, &z, &g], &mut c, &mut d);
                assert!(
                    all_same(&a, &c) && all_same(&b, &d),
                    "{code:?} on {}",
                    k.isa.name()
                );
                // With one operand a constant, `x op k` and `k op x`: the increment added to
                // `x`'s adjoint (here `x` itself).
                let constants = [y[0], y[7], 2.0, -0.0, 0.0, f64::INFINITY, -f64::NAN];
                let orders = constants
                    .into_iter()
                    .flat_map(|kc| [(kc, false), (kc, true)]);
                for (kc, right) in orders {
                    let kk = [kc; LANES];
                    let what = format!("{code:?} with {kc} (right {right}) on {}", k.isa.name());
                    let xy = if right { [&kk, &x] } else { [&x, &kk] };
                    ops.binary_forward_k(code, &x, kc, right, &mut a);
                    binary_forward_lanes(code, xy[0], xy[1], &mut b);
                    assert!(all_same(&a, &b), "{what}: forward");
                    let z = b;
                    binary_backward_one_lanes(code, [xy[0], xy[1], &z, &g], right, &mut c);
                    a = x;
                    ops.binary_backward_k_add(code, [&x, &z, &g], kc, right, &mut a);
                    let expected: Lanes = std::array::from_fn(|l| x[l] + c[l]);
                    assert!(all_same(&a, &expected), "{what}: backward");
                }
            }
        }
    }
}
