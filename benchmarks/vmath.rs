//! The lane loops of `ferrograd::vmath` against the plain per-lane loops the tape runs today,
//! on every instruction set this CPU has: ns per lane block (32 numbers), median of 7 runs.
//!
//!     cargo run --release --example bench_vmath
//!
//! "plain" is a loop over the lanes calling the scalar formula (libm for the elementary
//! functions), compiled for the baseline like the rest of the crate.

use std::hint::black_box;
use std::time::Instant;

use ferrograd::scalar::{Lanes, LANES};
use ferrograd::vmath::{kernels_for, Isa};

const BLOCKS: usize = 256;
const ROUNDS: usize = 200;

fn inputs(scale: f64, shift: f64) -> Vec<Lanes> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..BLOCKS)
        .map(|_| {
            std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale + shift
            })
        })
        .collect()
}

/// ns per block of `f` over `xs`, `ys` (median of 7).
fn time(xs: &[Lanes], ys: &[Lanes], f: &Loop) -> f64 {
    let mut z = [0.0; LANES];
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUNDS {
                for (x, y) in xs.iter().zip(ys) {
                    f(black_box(x), black_box(y), &mut z);
                    black_box(&mut z);
                }
            }
            start.elapsed().as_secs_f64() * 1e9 / (ROUNDS * BLOCKS) as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

type Loop = dyn Fn(&Lanes, &Lanes, &mut Lanes);

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn main() {
    let isas: Vec<Isa> = Isa::ALL.iter().copied().filter(|i| i.supported()).collect();
    print!("{:<10} {:>9}", "loop", "plain");
    for isa in &isas {
        print!(" {:>16}", isa.name());
    }
    println!("   (ns per block of {LANES}; × = plain / vmath)");
    let wide = inputs(20.0, 0.0);
    let positive = inputs(10.0, 5.01);
    let ys = inputs(3.0, 2.0);
    // The plain loops, each one inlined closure (as the tape's generic lane loops are).
    macro_rules! plain {
        (|$x:ident, $y:ident| $e:expr) => {
            &|x: &Lanes, y: &Lanes, z: &mut Lanes| {
                for l in 0..LANES {
                    let ($x, $y) = (x[l], y[l]);
                    z[l] = $e;
                }
            }
        };
    }
    let cases: Vec<(&str, &[Lanes], &Loop)> = vec![
        ("add", &wide, plain!(|x, y| x + y)),
        ("mul", &wide, plain!(|x, y| x * y)),
        ("div", &wide, plain!(|x, y| x / y)),
        (
            "relu",
            &wide,
            plain!(|x, _y| if x > 0.0 || x.is_nan() { x } else { 0.0 }),
        ),
        ("square", &wide, plain!(|x, _y| x * x)),
        ("sqrt", &positive, plain!(|x, _y| x.sqrt())),
        ("dot_acc", &wide, &|x: &Lanes, y: &Lanes, z: &mut Lanes| {
            for l in 0..LANES {
                z[l] += x[l] * y[l];
            }
        }),
        ("exp", &wide, plain!(|x, _y| x.exp())),
        ("log", &positive, plain!(|x, _y| x.ln())),
        ("sin", &wide, plain!(|x, _y| x.sin())),
        ("cos", &wide, plain!(|x, _y| x.cos())),
        ("tan", &wide, plain!(|x, _y| x.tan())),
        ("tanh", &wide, plain!(|x, _y| x.tanh())),
        ("sigmoid", &wide, plain!(|x, _y| sigmoid(x))),
    ];
    for (name, xs, plain) in cases {
        let base = time(xs, &ys, plain);
        print!("{name:<10} {base:>9.1}");
        for &isa in &isas {
            let k = kernels_for(isa).unwrap();
            let t = match name {
                "add" => time(xs, &ys, &|x, y, z| (k.add)(x, y, z)),
                "mul" => time(xs, &ys, &|x, y, z| (k.mul)(x, y, z)),
                "div" => time(xs, &ys, &|x, y, z| (k.div)(x, y, z)),
                "relu" => time(xs, &ys, &|x, _, z| (k.relu)(x, z)),
                "square" => time(xs, &ys, &|x, _, z| (k.square)(x, z)),
                "sqrt" => time(xs, &ys, &|x, _, z| (k.sqrt)(x, z)),
                "dot_acc" => time(xs, &ys, &|x, y, z| (k.dot_accumulate)(z, x, y)),
                "exp" => time(xs, &ys, &|x, _, z| (k.exp)(x, z)),
                "log" => time(xs, &ys, &|x, _, z| (k.log)(x, z)),
                "sin" => time(xs, &ys, &|x, _, z| (k.sin)(x, z)),
                "cos" => time(xs, &ys, &|x, _, z| (k.cos)(x, z)),
                "tan" => time(xs, &ys, &|x, _, z| (k.tan)(x, z)),
                "tanh" => time(xs, &ys, &|x, _, z| (k.tanh)(x, z)),
                "sigmoid" => time(xs, &ys, &|x, _, z| (k.sigmoid)(x, z)),
                _ => unreachable!(),
            };
            print!(" {t:>9.1} ({:>4.1}×)", base / t);
        }
        println!();
    }
}
