//! The core without Python: W1 (a seeded random graph) and W3 (a deep chain) on `ferrograd::Value`,
//! next to a flat arena tape written in plain Rust, the floor for a node-per-op design.
//!
//! `cargo run --release --example bench_core -- [--nodes N] [--leaves L] [--repeats R] [--chain D]`
//! prints a table on stderr and one JSON line on stdout (read by `benchmarks/run.py`).
//! The graph is drawn exactly as `benchmarks/workloads.py` draws it (same splitmix64 stream).

use std::collections::VecDeque;
use std::time::Instant;

use ferrograd::Value;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Op {
    Add,
    Sub,
    Mul,
    Pow,
    Relu,
    Tanh,
    Exp,
}

const BASIC: &[Op] = &[Op::Add, Op::Sub, Op::Mul, Op::Pow, Op::Relu];
const TRANSCENDENTAL: &[Op] = &[
    Op::Add,
    Op::Sub,
    Op::Mul,
    Op::Pow,
    Op::Relu,
    Op::Tanh,
    Op::Exp,
];

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * 2f64.powi(-53)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One instruction: `op(nodes[i], nodes[j])`, or `nodes[i] ** c` for `Pow`.
#[derive(Clone, Copy)]
struct Instr {
    op: Op,
    i: u32,
    j: u32,
    c: f64,
}

fn binary(op: Op) -> bool {
    matches!(op, Op::Add | Op::Sub | Op::Mul)
}

fn forward(op: Op, x: f64, y: f64) -> f64 {
    match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Pow => x.powf(y),
        Op::Relu => {
            if x > 0.0 {
                x
            } else {
                0.0
            }
        }
        Op::Tanh => x.tanh(),
        Op::Exp => x.exp(),
    }
}

fn tame(r: f64) -> bool {
    r == 0.0 || (1e-3..=1e3).contains(&r.abs())
}

/// The W1 graph, as `random_graph` in workloads.py draws it: `(leaves, program, root value)`.
fn random_graph(
    n_nodes: usize,
    ops: &[Op],
    n_leaves: usize,
    seed: u64,
) -> (Vec<f64>, Vec<Instr>, f64) {
    let mut rng = SplitMix64(seed);
    let leaves: Vec<f64> = (0..n_leaves).map(|_| 2.0 * rng.uniform() - 1.0).collect();
    let mut values = leaves.clone();
    let mut fifo: VecDeque<usize> = (0..n_leaves).collect();
    let mut program = Vec::with_capacity(n_nodes);
    for _ in 0..n_nodes - (n_leaves - 1) {
        let i = fifo.pop_front().unwrap();
        let first = rng.below(ops.len());
        let other = rng.below(values.len());
        let exponent = if rng.below(2) == 0 { 2.0 } else { 3.0 };
        let mut chosen = (Op::Relu, 0.0);
        for t in 0..ops.len() {
            let op = ops[(first + t) % ops.len()];
            let y = if binary(op) { values[other] } else { exponent };
            let r = forward(op, values[i], y);
            chosen = (op, r);
            if tame(r) {
                break;
            }
        }
        let (op, r) = chosen;
        program.push(Instr {
            op,
            i: i as u32,
            j: other as u32,
            c: exponent,
        });
        fifo.push_back(values.len());
        values.push(r);
    }
    while fifo.len() > 1 {
        let (a, b) = (fifo.pop_front().unwrap(), fifo.pop_front().unwrap());
        program.push(Instr {
            op: Op::Add,
            i: a as u32,
            j: b as u32,
            c: 0.0,
        });
        fifo.push_back(values.len());
        values.push(values[a] + values[b]);
    }
    let root = *values.last().unwrap();
    (leaves, program, root)
}

/// The program on `ferrograd::Value`: the build, then one backward. Returns seconds of each.
fn run_core(leaves: &[f64], program: &[Instr], root_value: f64) -> (f64, f64) {
    let t0 = Instant::now();
    let mut nodes: Vec<Value> = Vec::with_capacity(leaves.len() + program.len());
    nodes.extend(leaves.iter().map(|&x| Value::new(x)));
    for ins in program {
        let x = &nodes[ins.i as usize];
        let z = match ins.op {
            Op::Add => x + &nodes[ins.j as usize],
            Op::Sub => x - &nodes[ins.j as usize],
            Op::Mul => x * &nodes[ins.j as usize],
            Op::Pow => x.powf(ins.c),
            Op::Relu => x.relu(),
            Op::Tanh => x.tanh(),
            Op::Exp => x.exp(),
        };
        nodes.push(z);
    }
    let build = t0.elapsed().as_secs_f64();
    let root = nodes.last().unwrap().clone();
    assert!((root.data() - root_value).abs() <= 1e-9 * root_value.abs().max(1.0));
    let t1 = Instant::now();
    root.backward();
    let backward = t1.elapsed().as_secs_f64();
    std::hint::black_box(nodes[0].grad());
    (build, backward)
}

/// A flat arena tape: nodes are indices into vectors, creation order is already topological,
/// so backward is one reverse loop with no sort, no reference counts and no borrow flags.
#[derive(Default)]
struct Arena {
    data: Vec<f64>,
    grad: Vec<f64>,
    ops: Vec<(Op, u32, u32, f64)>,
}

impl Arena {
    fn leaf(&mut self, x: f64) -> u32 {
        self.push(x, (Op::Add, u32::MAX, u32::MAX, 0.0))
    }
    fn push(&mut self, x: f64, op: (Op, u32, u32, f64)) -> u32 {
        self.data.push(x);
        self.ops.push(op);
        (self.data.len() - 1) as u32
    }
    fn apply(&mut self, ins: &Instr) -> u32 {
        let x = self.data[ins.i as usize];
        let y = if binary(ins.op) {
            self.data[ins.j as usize]
        } else {
            ins.c
        };
        self.push(forward(ins.op, x, y), (ins.op, ins.i, ins.j, ins.c))
    }
    fn backward(&mut self, root: u32) {
        self.grad.clear();
        self.grad.resize(self.data.len(), 0.0);
        self.grad[root as usize] = 1.0;
        for z in (0..=root as usize).rev() {
            let (op, i, j, c) = self.ops[z];
            if i == u32::MAX {
                continue;
            }
            let (i, j) = (i as usize, j as usize);
            let (g, x, out) = (self.grad[z], self.data[i], self.data[z]);
            match op {
                Op::Add => {
                    self.grad[i] += g;
                    self.grad[j] += g;
                }
                Op::Sub => {
                    self.grad[i] += g;
                    self.grad[j] -= g;
                }
                Op::Mul => {
                    let y = self.data[j];
                    self.grad[i] += y * g;
                    self.grad[j] += x * g;
                }
                Op::Pow => self.grad[i] += c * x.powf(c - 1.0) * g,
                Op::Relu => self.grad[i] += if x > 0.0 { g } else { 0.0 },
                Op::Tanh => self.grad[i] += (1.0 - out * out) * g,
                Op::Exp => self.grad[i] += out * g,
            }
        }
    }
}

fn run_arena(leaves: &[f64], program: &[Instr]) -> (f64, f64) {
    let t0 = Instant::now();
    let mut arena = Arena::default();
    for &x in leaves {
        arena.leaf(x);
    }
    let mut root = 0;
    for ins in program {
        root = arena.apply(ins);
    }
    let build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    arena.backward(root);
    let backward = t1.elapsed().as_secs_f64();
    std::hint::black_box(arena.grad[0]);
    (build, backward)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Peak resident set size of this process in bytes (Linux), or None.
fn peak_rss() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a whole number"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--nodes", 100_000);
    let leaves_n = arg(&args, "--leaves", 1_000);
    let repeats = arg(&args, "--repeats", 5).max(5);
    let depth = arg(&args, "--chain", 10_000_000);

    let mut w1 = Vec::new();
    for (variant, ops) in [("basic", BASIC), ("tanh_exp", TRANSCENDENTAL)] {
        let (leaves, program, root) = random_graph(n, ops, leaves_n, 1);
        let mut per = Vec::new();
        for (name, core) in [("core", true), ("arena", false)] {
            let (mut builds, mut backs) = (Vec::new(), Vec::new());
            for _ in 0..repeats {
                let (b, k) = if core {
                    run_core(&leaves, &program, root)
                } else {
                    run_arena(&leaves, &program)
                };
                builds.push(b);
                backs.push(k);
            }
            let (b, k) = (
                median(builds) / n as f64 * 1e9,
                median(backs) / n as f64 * 1e9,
            );
            eprintln!("W1 {variant:8} {name:5}: build {b:6.1} ns/node, backward {k:6.1} ns/node");
            per.push(format!(
                "\"{name}\": {{\"build_ns_per_node\": {b:.3}, \"backward_ns_per_node\": {k:.3}}}"
            ));
        }
        w1.push(format!("\"{variant}\": {{{}}}", per.join(", ")));
    }

    // W3 in the core: one tanh node per link, so nodes = depth. Measured last: peak RSS only grows.
    let before = peak_rss();
    let t0 = Instant::now();
    let x = Value::new(0.5);
    let mut y = x.clone();
    for _ in 0..depth {
        y = y.tanh();
    }
    y.backward();
    let seconds = t0.elapsed().as_secs_f64();
    let bytes = match (before, peak_rss()) {
        (Some(b), Some(a)) => format!("{:.1}", (a - b) / depth as f64),
        _ => "null".to_owned(),
    };
    let ns = seconds / depth as f64 * 1e9;
    eprintln!("W3 chain of {depth} tanh nodes: {ns:.1} ns/node, {bytes} bytes/node (peak RSS)");
    std::hint::black_box(x.grad());
    println!(
        "{{\"w1\": {{{}}}, \"w3\": {{\"nodes\": {depth}, \"ns_per_node\": {ns:.3}, \"bytes_per_node\": {bytes}}}}}",
        w1.join(", ")
    );
}
