//! A compiled tape: a graph flattened into an array of instructions over slots, with no `Rc`
//! per node. Evaluate it at many points, in reverse mode (gradients), forward mode (directional
//! derivatives) or both (Hessians), with the same formulas as the graph (`ops.rs`).

use std::collections::HashMap;

use crate::ops::{
    binary_backward, binary_backward_lanes, binary_backward_one_lanes, binary_forward,
    binary_forward_lanes, check_slope, unary_backward, unary_backward_lanes, unary_forward,
    unary_forward_lanes, Code,
};
use crate::scalar::{Dual, Lanes, Real, LANES};
use crate::value::Value;

/// One slot's instruction. Slot `i` holds instruction `i`'s result; the first `n_inputs` slots
/// are the inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    Input,
    Const(f64),
    Unary {
        code: Code,
        x: u32,
        p: f64,
    },
    Binary {
        code: Code,
        x: u32,
        y: u32,
    },
    /// Operands are `pool[start .. start + len]`.
    Sum {
        start: u32,
        len: u32,
    },
    /// `ws = pool[start .. start + len]`, `xs = pool[start + len .. start + 2 len]`.
    Dot {
        start: u32,
        len: u32,
    },
}

/// A recorded graph. `instrs` is the program as recorded (what `to_bytes` writes and
/// `same_program` compares); `plan` is the same function rewritten for speed, which every
/// evaluation runs.
#[derive(Clone, Debug)]
pub struct Tape {
    n_inputs: usize,
    instrs: Vec<Instr>,
    pool: Vec<u32>,
    output: u32,
    plan: Plan,
}

impl PartialEq for Tape {
    fn eq(&self, other: &Tape) -> bool {
        // The plan is derived from the rest.
        (self.n_inputs, &self.instrs, &self.pool, self.output)
            == (other.n_inputs, &other.instrs, &other.pool, other.output)
    }
}

/// Why a graph could not be recorded or a tape not evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum TapeError {
    DuplicateInput(usize),
    InputLength {
        expected: usize,
        got: usize,
    },
    OutputLength {
        expected: usize,
        got: usize,
    },
    TooLarge,
    Corrupt(&'static str),
    /// An allocation of `bytes` bytes (saturated at `usize::MAX`) for `what` failed.
    OutOfMemory {
        what: &'static str,
        bytes: usize,
    },
}

impl std::fmt::Display for TapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TapeError::DuplicateInput(i) => {
                write!(f, "input {i} is the same Value as an earlier input")
            }
            TapeError::InputLength { expected, got } => {
                write!(f, "the tape takes {expected} inputs, got {got}")
            }
            TapeError::OutputLength { expected, got } => {
                write!(f, "the output buffer needs {expected} numbers, got {got}")
            }
            TapeError::TooLarge => write!(f, "the graph has more than 2^32 nodes"),
            TapeError::Corrupt(why) => write!(f, "not a valid tape: {why}"),
            TapeError::OutOfMemory { what, bytes } => {
                write!(f, "cannot allocate {bytes} bytes for {what}")
            }
        }
    }
}

impl std::error::Error for TapeError {}

/// `len` copies of `fill` in a vector allocated fallibly: a size that comes from outside (a
/// batch, an input count squared) is an error naming it, never an abort.
fn filled<T: Clone>(len: usize, fill: T, what: &'static str) -> Result<Vec<T>, TapeError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| TapeError::OutOfMemory {
            what,
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    v.resize(len, fill);
    Ok(v)
}

/// The threads a batch may use: the machine's cores (read once).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn slot(i: usize) -> Result<u32, TapeError> {
    u32::try_from(i).map_err(|_| TapeError::TooLarge)
}

/// One step of the plan; slot `n_inputs + j` holds step `j`'s result.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Const(f64),
    Unary {
        code: Code,
        x: u32,
        p: f64,
    },
    Binary {
        code: Code,
        x: u32,
        y: u32,
    },
    /// `x op k`: the right operand is a constant, so it gets no adjoint.
    BinaryK {
        code: Code,
        x: u32,
        k: f64,
    },
    /// `k op y`: the left operand is a constant.
    KBinary {
        code: Code,
        k: f64,
        y: u32,
    },
    /// `x ** 2` as `x * x`: exact where libm's `pow` may be one rounding off, and far faster.
    /// Its derivative `2 · x` is what `pow`'s backward gives for a constant exponent 2.
    Square {
        x: u32,
    },
    Sum {
        start: u32,
        len: u32,
    },
    Dot {
        start: u32,
        len: u32,
    },
}

/// The recorded program after constant folding (ops whose operands are all constants become
/// constants, with the same formulas), dead-code removal (only what the output depends on),
/// constant operands inlined into their ops, and `x ** 2` as a multiplication.
#[derive(Clone, Debug, Default)]
struct Plan {
    n_inputs: usize,
    steps: Vec<Step>,
    pool: Vec<u32>,
    output: u32,
}

impl Plan {
    fn new(tape: &Tape) -> Plan {
        let (n, instrs, pool) = (tape.n_inputs, &tape.instrs, &tape.pool);
        let operands = |start: u32, len: u32| &pool[start as usize..(start + len) as usize];

        // Constant folding, in recording order.
        let mut konst: Vec<Option<f64>> = vec![None; instrs.len()];
        for (i, instr) in instrs.iter().enumerate().skip(n) {
            konst[i] = match *instr {
                Instr::Input => None,
                Instr::Const(c) => Some(c),
                Instr::Unary { code, x, p } => konst[x as usize].map(|x| unary_forward(code, x, p)),
                Instr::Binary { code, x, y } => match (konst[x as usize], konst[y as usize]) {
                    (Some(x), Some(y)) => Some(binary_forward(code, x, y)),
                    _ => None,
                },
                Instr::Sum { start, len } => operands(start, len)
                    .iter()
                    .try_fold(0.0, |acc, &j| konst[j as usize].map(|v| acc + v)),
                Instr::Dot { start, len } => {
                    let all = operands(start, 2 * len);
                    let (ws, xs) = all.split_at(len as usize);
                    ws.iter().zip(xs).try_fold(0.0, |acc, (&w, &x)| {
                        Some(acc + konst[w as usize]? * konst[x as usize]?)
                    })
                }
            };
        }

        // Liveness, from the output back; a constant operand inlined into its op needs no slot.
        let mut live = vec![false; instrs.len()];
        live[tape.output as usize] = true;
        for i in (n..instrs.len()).rev() {
            if !live[i] || konst[i].is_some() {
                continue;
            }
            match instrs[i] {
                Instr::Input | Instr::Const(_) => {}
                Instr::Unary { x, .. } => live[x as usize] = true,
                Instr::Binary { x, y, .. } => {
                    for j in [x, y] {
                        live[j as usize] |= konst[j as usize].is_none();
                    }
                }
                Instr::Sum { start, len } => {
                    for &j in operands(start, len) {
                        live[j as usize] = true;
                    }
                }
                Instr::Dot { start, len } => {
                    for &j in operands(start, 2 * len) {
                        live[j as usize] = true;
                    }
                }
            }
        }

        // Emit the live instructions, renumbering slots.
        let mut slot_of = vec![u32::MAX; instrs.len()];
        for (i, s) in slot_of.iter_mut().enumerate().take(n) {
            *s = i as u32;
        }
        let mut plan = Plan {
            n_inputs: n,
            ..Plan::default()
        };
        for i in n..instrs.len() {
            if !live[i] {
                continue;
            }
            let step = match (konst[i], instrs[i]) {
                (Some(c), _) => Step::Const(c),
                (None, Instr::Unary { code, x, p }) => Step::Unary {
                    code,
                    x: slot_of[x as usize],
                    p,
                },
                (None, Instr::Binary { code, x, y }) => {
                    match (konst[x as usize], konst[y as usize]) {
                        (None, Some(k)) if code == Code::Pow && k == 2.0 => Step::Square {
                            x: slot_of[x as usize],
                        },
                        (None, Some(k)) => Step::BinaryK {
                            code,
                            x: slot_of[x as usize],
                            k,
                        },
                        (Some(k), None) => Step::KBinary {
                            code,
                            k,
                            y: slot_of[y as usize],
                        },
                        _ => Step::Binary {
                            code,
                            x: slot_of[x as usize],
                            y: slot_of[y as usize],
                        },
                    }
                }
                (None, Instr::Sum { start, len }) => {
                    let at = plan.pool.len() as u32;
                    plan.pool
                        .extend(operands(start, len).iter().map(|&j| slot_of[j as usize]));
                    Step::Sum { start: at, len }
                }
                (None, Instr::Dot { start, len }) => {
                    let at = plan.pool.len() as u32;
                    let all = operands(start, 2 * len);
                    plan.pool.extend(all.iter().map(|&j| slot_of[j as usize]));
                    Step::Dot { start: at, len }
                }
                (None, Instr::Input | Instr::Const(_)) => unreachable!("handled above"),
            };
            slot_of[i] = (n + plan.steps.len()) as u32;
            plan.steps.push(step);
        }
        plan.output = slot_of[tape.output as usize];
        plan
    }

    fn n_slots(&self) -> usize {
        self.n_inputs + self.steps.len()
    }

    fn operands(&self, start: u32, len: u32) -> &[u32] {
        &self.pool[start as usize..(start + len) as usize]
    }

    /// Fills `vals` with every slot's value at the inputs `x`.
    fn forward<T: Real>(&self, x: &[T], vals: &mut Vec<T>) {
        vals.clear();
        vals.extend_from_slice(x);
        for step in &self.steps {
            let v = match *step {
                Step::Const(c) => T::lift(c),
                Step::Unary { code, x, p } => unary_forward(code, vals[x as usize], p),
                Step::Binary { code, x, y } => {
                    binary_forward(code, vals[x as usize], vals[y as usize])
                }
                Step::BinaryK { code, x, k } => binary_forward(code, vals[x as usize], T::lift(k)),
                Step::KBinary { code, k, y } => binary_forward(code, T::lift(k), vals[y as usize]),
                Step::Square { x } => vals[x as usize].square(),
                Step::Sum { start, len } => self
                    .operands(start, len)
                    .iter()
                    .fold(T::lift(0.0), |acc, &i| acc + vals[i as usize]),
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    ws.iter().zip(xs).fold(T::lift(0.0), |acc, (&w, &x)| {
                        acc + vals[w as usize] * vals[x as usize]
                    })
                }
            };
            vals.push(v);
        }
    }

    /// Fills `adj` with every slot's adjoint, given the values from `forward`.
    fn reverse<T: Real>(&self, vals: &[T], adj: &mut Vec<T>) {
        adj.clear();
        adj.resize(vals.len(), T::lift(0.0));
        adj[self.output as usize] = T::lift(1.0);
        for (j, step) in self.steps.iter().enumerate().rev() {
            let i = self.n_inputs + j;
            let (g, z) = (adj[i], vals[i]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => {
                    let x = x as usize;
                    adj[x] = adj[x] + unary_backward(code, vals[x], z, g, p);
                }
                Step::Binary { code, x, y } => {
                    let (x, y) = (x as usize, y as usize);
                    let (dx, dy) = binary_backward(code, vals[x], vals[y], z, g);
                    adj[x] = adj[x] + dx;
                    adj[y] = adj[y] + dy;
                }
                Step::BinaryK { code, x, k } => {
                    let x = x as usize;
                    adj[x] = adj[x] + binary_backward(code, vals[x], T::lift(k), z, g).0;
                }
                Step::KBinary { code, k, y } => {
                    let y = y as usize;
                    adj[y] = adj[y] + binary_backward(code, T::lift(k), vals[y], z, g).1;
                }
                Step::Square { x } => {
                    let x = x as usize;
                    adj[x] = adj[x] + T::lift(2.0) * vals[x] * g;
                }
                Step::Sum { start, len } => {
                    for &w in self.operands(start, len) {
                        adj[w as usize] = adj[w as usize] + g;
                    }
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        let (w, x) = (w as usize, x as usize);
                        let (wd, xd) = (vals[w], vals[x]);
                        adj[w] = adj[w] + xd * g;
                        adj[x] = adj[x] + wd * g;
                    }
                }
            }
        }
    }

    /// `forward` for `LANES` points at once; constant slots must already be filled (they
    /// never change, so `Block::new` fills them once).
    fn forward_lanes(&self, vals: &mut [Lanes]) {
        let n = self.n_inputs;
        for (j, step) in self.steps.iter().enumerate() {
            let (before, after) = vals.split_at_mut(n + j);
            let (z, v) = (&mut after[0], |i: u32| &before[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => unary_forward_lanes(code, v(x), p, z),
                Step::Binary { code, x, y } => binary_forward_lanes(code, v(x), v(y), z),
                Step::BinaryK { code, x, k } => binary_forward_lanes(code, v(x), &[k; LANES], z),
                Step::KBinary { code, k, y } => binary_forward_lanes(code, &[k; LANES], v(y), z),
                Step::Square { x } => {
                    let x = v(x);
                    for l in 0..LANES {
                        z[l] = x[l] * x[l];
                    }
                }
                Step::Sum { start, len } => {
                    *z = [0.0; LANES];
                    for &i in self.operands(start, len) {
                        let x = v(i);
                        for l in 0..LANES {
                            z[l] += x[l];
                        }
                    }
                }
                Step::Dot { start, len } => {
                    *z = [0.0; LANES];
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        let (w, x) = (v(w), v(x));
                        for l in 0..LANES {
                            z[l] += w[l] * x[l];
                        }
                    }
                }
            }
        }
    }

    /// `reverse` for `LANES` points at once, in the same order of operations per lane.
    fn reverse_lanes(&self, vals: &[Lanes], adj: &mut [Lanes]) {
        adj.fill([0.0; LANES]);
        adj[self.output as usize] = [1.0; LANES];
        let add = |adj: &mut [Lanes], i: u32, d: &Lanes| {
            let a = &mut adj[i as usize];
            for l in 0..LANES {
                a[l] += d[l];
            }
        };
        let (mut dx, mut dy) = ([0.0; LANES], [0.0; LANES]);
        for (j, step) in self.steps.iter().enumerate().rev() {
            let i = self.n_inputs + j;
            let (g, z, v) = (adj[i], &vals[i], |i: u32| &vals[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => {
                    unary_backward_lanes(code, [v(x), z, &g], p, &mut dx);
                    add(adj, x, &dx);
                }
                Step::Binary { code, x, y } => {
                    binary_backward_lanes(code, [v(x), v(y), z, &g], &mut dx, &mut dy);
                    add(adj, x, &dx);
                    add(adj, y, &dy);
                }
                Step::BinaryK { code, x, k } => {
                    binary_backward_one_lanes(code, [v(x), &[k; LANES], z, &g], false, &mut dx);
                    add(adj, x, &dx);
                }
                Step::KBinary { code, k, y } => {
                    binary_backward_one_lanes(code, [&[k; LANES], v(y), z, &g], true, &mut dy);
                    add(adj, y, &dy);
                }
                Step::Square { x } => {
                    let xv = v(x);
                    for l in 0..LANES {
                        dx[l] = 2.0 * xv[l] * g[l];
                    }
                    add(adj, x, &dx);
                }
                Step::Sum { start, len } => {
                    for &w in self.operands(start, len) {
                        add(adj, w, &g);
                    }
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        let (wv, xv) = (v(w), v(x));
                        for l in 0..LANES {
                            dx[l] = xv[l] * g[l];
                            dy[l] = wv[l] * g[l];
                        }
                        add(adj, w, &dx);
                        add(adj, x, &dy);
                    }
                }
            }
        }
    }
}

/// One thread's scratch space for batches: every slot's values (and adjoints) across the lanes.
struct Block {
    vals: Vec<Lanes>,
    adj: Vec<Lanes>,
}

impl Block {
    /// `LANES × 8` bytes per slot for the values, as many again for the adjoints when `adjoints`.
    fn new(plan: &Plan, adjoints: bool) -> Result<Block, TapeError> {
        let mut vals = filled(plan.n_slots(), [0.0; LANES], "a batch's scratch values")?;
        for (j, step) in plan.steps.iter().enumerate() {
            if let Step::Const(c) = *step {
                vals[plan.n_inputs + j] = [c; LANES];
            }
        }
        let adj_len = if adjoints { vals.len() } else { 0 };
        Ok(Block {
            adj: filled(adj_len, [0.0; LANES], "a batch's scratch adjoints")?,
            vals,
        })
    }

    /// Loads up to `LANES` rows of `xs` (row-major, `n` columns) into the input slots; lanes
    /// past the last row keep whatever they held, and their results are never read.
    fn load(&mut self, xs: &[f64], n: usize) {
        for (l, row) in xs.chunks_exact(n).enumerate() {
            for (i, &x) in row.iter().enumerate() {
                self.vals[i][l] = x;
            }
        }
    }
}

impl Tape {
    fn new(n_inputs: usize, instrs: Vec<Instr>, pool: Vec<u32>, output: u32) -> Tape {
        let mut tape = Tape {
            n_inputs,
            instrs,
            pool,
            output,
            plan: Plan::default(),
        };
        tape.plan = Plan::new(&tape);
        tape
    }

    /// Flattens the graph of `output` with `inputs` as the variables; every other leaf becomes
    /// a constant holding its current value. An input need not be a leaf: the tape then treats
    /// it as a variable and cuts the graph above it.
    pub fn record(inputs: &[Value], output: &Value) -> Result<Tape, TapeError> {
        let mut slots: HashMap<usize, u32> = HashMap::new();
        let mut instrs = Vec::new();
        for (i, v) in inputs.iter().enumerate() {
            if slots.insert(v.id(), slot(i)?).is_some() {
                return Err(TapeError::DuplicateInput(i));
            }
            instrs.push(Instr::Input);
        }
        let mut pool = Vec::new();
        for value in output.topo_order() {
            if slots.contains_key(&value.id()) {
                continue;
            }
            let node = value.node();
            let operand = |j: usize| slots[&node.prev[j].id()];
            let instr = match node.op().code {
                Code::Leaf => Instr::Const(node.data()),
                Code::Sum | Code::Dot => {
                    let start = slot(pool.len())?;
                    pool.extend(node.prev.as_slice().iter().map(|v| slots[&v.id()]));
                    let len = slot(node.prev.as_slice().len())?;
                    if node.op().code == Code::Sum {
                        Instr::Sum { start, len }
                    } else {
                        Instr::Dot {
                            start,
                            len: len / 2,
                        }
                    }
                }
                code if node.prev.as_slice().len() == 1 => Instr::Unary {
                    code,
                    x: operand(0),
                    p: node.param(),
                },
                code => Instr::Binary {
                    code,
                    x: operand(0),
                    y: operand(1),
                },
            };
            slots.insert(value.id(), slot(instrs.len())?);
            instrs.push(instr);
        }
        let output = slots[&output.id()];
        Ok(Tape::new(inputs.len(), instrs, pool, output))
    }

    /// Whether `other` runs the same program: same instructions, operands and constants
    /// (compared bit for bit, so a NaN constant equals itself).
    pub fn same_program(&self, other: &Tape) -> bool {
        self.to_bytes() == other.to_bytes()
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Number of slots as recorded (inputs, constants and op results).
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
    }

    /// Number of slots each evaluation computes, after constant folding and dead-code removal.
    pub fn plan_len(&self) -> usize {
        self.plan.n_slots()
    }

    fn check_len(&self, x: &[f64]) -> Result<(), TapeError> {
        if x.len() != self.n_inputs {
            return Err(TapeError::InputLength {
                expected: self.n_inputs,
                got: x.len(),
            });
        }
        Ok(())
    }

    /// The output at `x`.
    pub fn eval(&self, x: &[f64]) -> Result<f64, TapeError> {
        self.check_len(x)?;
        let mut vals = Vec::with_capacity(self.plan.n_slots());
        self.plan.forward(x, &mut vals);
        Ok(vals[self.plan.output as usize])
    }

    /// The output and its gradient at `x`.
    pub fn grad(&self, x: &[f64]) -> Result<(f64, Vec<f64>), TapeError> {
        self.check_len(x)?;
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        self.plan.forward(x, &mut vals);
        self.plan.reverse(&vals, &mut adj);
        adj.truncate(self.n_inputs);
        Ok((vals[self.plan.output as usize], adj))
    }

    /// The output and its derivative along `v` at `x`, in forward mode (no reverse sweep).
    pub fn jvp(&self, x: &[f64], v: &[f64]) -> Result<(f64, f64), TapeError> {
        self.check_len(x)?;
        self.check_len(v)?;
        let duals: Vec<Dual> = x.iter().zip(v).map(|(&a, &b)| Dual::new(a, b)).collect();
        let mut vals = Vec::with_capacity(self.plan.n_slots());
        self.plan.forward(&duals, &mut vals);
        let out = vals[self.plan.output as usize];
        Ok((out.re, out.eps))
    }

    /// The Hessian at `x`, row-major `n × n`, by forward mode over reverse mode: column `j` is
    /// the derivative of the gradient along the `j`-th unit vector.
    pub fn hessian(&self, x: &[f64]) -> Result<Vec<f64>, TapeError> {
        self.check_len(x)?;
        let n = self.n_inputs;
        let Some(nn) = n.checked_mul(n) else {
            return Err(TapeError::OutOfMemory {
                what: "the Hessian",
                bytes: usize::MAX,
            });
        };
        let mut h = filled(nn, 0.0, "the Hessian")?;
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        let mut duals: Vec<Dual> = x.iter().map(|&a| Dual::new(a, 0.0)).collect();
        for j in 0..n {
            duals[j].eps = 1.0;
            self.plan.forward(&duals, &mut vals);
            self.plan.reverse(&vals, &mut adj);
            for i in 0..n {
                h[i * n + j] = adj[i].eps;
            }
            duals[j].eps = 0.0;
        }
        Ok(h)
    }

    /// Outputs at each row of `xs` (row-major, `n_inputs` columns), split across `threads`.
    pub fn eval_batch(&self, xs: &[f64], threads: usize) -> Result<Vec<f64>, TapeError> {
        let mut values = filled(self.batch_rows(xs)?, 0.0, "a batch's values")?;
        self.eval_batch_into(xs, threads, &mut values)?;
        Ok(values)
    }

    /// Outputs and gradients (row-major `rows × n_inputs`) at each row of `xs`.
    pub fn grad_batch(
        &self,
        xs: &[f64],
        threads: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        let rows = self.batch_rows(xs)?;
        let mut values = filled(rows, 0.0, "a batch's values")?;
        let mut grads = filled(xs.len(), 0.0, "a batch's gradients")?;
        self.grad_batch_into(xs, threads, &mut values, &mut grads)?;
        Ok((values, grads))
    }

    /// `eval_batch` writing into `values` (one per row).
    pub fn eval_batch_into(
        &self,
        xs: &[f64],
        threads: usize,
        values: &mut [f64],
    ) -> Result<(), TapeError> {
        let (n, out) = (self.n_inputs, self.plan.output as usize);
        let rows = self.batch_rows(xs)?;
        check_out(values.len(), rows)?;
        let work = |xs: &[f64], values: &mut [f64]| {
            let mut block = Block::new(&self.plan, false)?;
            for (xs, values) in xs.chunks(LANES * n).zip(values.chunks_mut(LANES)) {
                block.load(xs, n);
                self.plan.forward_lanes(&mut block.vals);
                values.copy_from_slice(&block.vals[out][..values.len()]);
            }
            Ok(())
        };
        let per = self.rows_per_thread(rows, threads);
        std::thread::scope(|scope| {
            let mut chunks = xs.chunks(per * n).zip(values.chunks_mut(per));
            let first = chunks.next();
            let others: Vec<_> = chunks
                .map(|(xs, values)| scope.spawn(move || work(xs, values)))
                .collect();
            let first = first.map_or(Ok(()), |(xs, values)| work(xs, values));
            joined(first, others)
        })
    }

    /// `grad_batch` writing into `values` (one per row) and `grads` (row-major).
    pub fn grad_batch_into(
        &self,
        xs: &[f64],
        threads: usize,
        values: &mut [f64],
        grads: &mut [f64],
    ) -> Result<(), TapeError> {
        let (n, out) = (self.n_inputs, self.plan.output as usize);
        let rows = self.batch_rows(xs)?;
        check_out(values.len(), rows)?;
        check_out(grads.len(), rows * n)?;
        let work = |xs: &[f64], values: &mut [f64], grads: &mut [f64]| {
            let mut block = Block::new(&self.plan, true)?;
            let blocks = xs
                .chunks(LANES * n)
                .zip(values.chunks_mut(LANES))
                .zip(grads.chunks_mut(LANES * n));
            for ((xs, values), grads) in blocks {
                block.load(xs, n);
                self.plan.forward_lanes(&mut block.vals);
                self.plan.reverse_lanes(&block.vals, &mut block.adj);
                values.copy_from_slice(&block.vals[out][..values.len()]);
                for (l, grad) in grads.chunks_exact_mut(n).enumerate() {
                    for (i, g) in grad.iter_mut().enumerate() {
                        *g = block.adj[i][l];
                    }
                }
            }
            Ok(())
        };
        let per = self.rows_per_thread(rows, threads);
        std::thread::scope(|scope| {
            let mut chunks = xs
                .chunks(per * n)
                .zip(values.chunks_mut(per))
                .zip(grads.chunks_mut(per * n));
            let first = chunks.next();
            let others: Vec<_> = chunks
                .map(|((xs, values), grads)| scope.spawn(move || work(xs, values, grads)))
                .collect();
            let first = first.map_or(Ok(()), |((xs, values), grads)| work(xs, values, grads));
            joined(first, others)
        })
    }

    /// Rows per thread: one chunk per thread (a whole number of lane blocks), but a single
    /// chunk when the batch is too small for a thread to pay for itself.
    /// Threads above the core count are clamped to it, so scratch memory stays at most
    /// `cores × plan_len × 512` bytes (256 without adjoints) however many are asked for.
    fn rows_per_thread(&self, rows: usize, threads: usize) -> usize {
        let threads = threads.clamp(1, cores()).min(rows.div_ceil(LANES).max(1));
        if threads == 1 || rows * self.plan.n_slots() < 200_000 {
            rows.max(1)
        } else {
            rows.div_ceil(threads).next_multiple_of(LANES)
        }
    }

    fn batch_rows(&self, xs: &[f64]) -> Result<usize, TapeError> {
        if self.n_inputs == 0 {
            return Err(TapeError::InputLength {
                expected: 0,
                got: xs.len(),
            });
        }
        if xs.len() % self.n_inputs != 0 {
            return Err(TapeError::InputLength {
                expected: self.n_inputs,
                got: xs.len() % self.n_inputs,
            });
        }
        Ok(xs.len() / self.n_inputs)
    }

    // -----------------------------------------------------------------------------------------
    // Serialisation: a flat little-endian byte format, for pickling.
    // -----------------------------------------------------------------------------------------

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, x: u64| out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(b"FGT1");
        put(&mut out, self.n_inputs as u64);
        put(&mut out, self.output as u64);
        put(&mut out, self.pool.len() as u64);
        for &p in &self.pool {
            put(&mut out, p as u64);
        }
        put(&mut out, self.instrs.len() as u64);
        for instr in &self.instrs {
            let (tag, a, b, c): (u8, u64, u64, f64) = match *instr {
                Instr::Input => (0, 0, 0, 0.0),
                Instr::Const(v) => (1, 0, 0, v),
                Instr::Unary { code, x, p } => (2, code as u64, x as u64, p),
                Instr::Binary { code, x, y } => {
                    (3, code as u64, x as u64, f64::from_bits(y as u64))
                }
                Instr::Sum { start, len } => (4, start as u64, len as u64, 0.0),
                Instr::Dot { start, len } => (5, start as u64, len as u64, 0.0),
            };
            out.push(tag);
            put(&mut out, a);
            put(&mut out, b);
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Tape, TapeError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != b"FGT1" {
            return Err(TapeError::Corrupt("bad header"));
        }
        let n_inputs = r.u64()? as usize;
        let output = r.u32()?;
        let pool_len = r.u64()? as usize;
        let pool = (0..pool_len)
            .map(|_| r.u32())
            .collect::<Result<Vec<_>, _>>()?;
        let len = r.u64()? as usize;
        let mut instrs = Vec::with_capacity(len.min(1 << 20));
        for i in 0..len {
            let tag = r.take(1)?[0];
            let (a, b, c) = (r.u64()?, r.u64()?, r.f64()?);
            let below = |s: u64| -> Result<u32, TapeError> {
                if (s as usize) < i {
                    Ok(s as u32)
                } else {
                    Err(TapeError::Corrupt("operand after its user"))
                }
            };
            let instr = match tag {
                0 => Instr::Input,
                1 => Instr::Const(c),
                2 => Instr::Unary {
                    code: code_from(a)?,
                    x: below(b)?,
                    p: c,
                },
                3 => Instr::Binary {
                    code: code_from(a)?,
                    x: below(b)?,
                    y: below(c.to_bits())?,
                },
                4 | 5 => {
                    let span = if tag == 4 { Some(b) } else { b.checked_mul(2) };
                    let end = span.and_then(|s| s.checked_add(a));
                    let Some(end) = end.filter(|&e| e <= pool.len() as u64) else {
                        return Err(TapeError::Corrupt("bad operand list"));
                    };
                    if pool[a as usize..end as usize]
                        .iter()
                        .any(|&p| p as usize >= i)
                    {
                        return Err(TapeError::Corrupt("bad operand list"));
                    }
                    if tag == 4 {
                        Instr::Sum {
                            start: a as u32,
                            len: b as u32,
                        }
                    } else {
                        Instr::Dot {
                            start: a as u32,
                            len: b as u32,
                        }
                    }
                }
                _ => return Err(TapeError::Corrupt("unknown instruction")),
            };
            if (i < n_inputs) != (instr == Instr::Input) {
                return Err(TapeError::Corrupt("inputs must come first"));
            }
            instrs.push(instr);
        }
        if n_inputs > instrs.len() {
            return Err(TapeError::Corrupt("more inputs than slots"));
        }
        if output as usize >= instrs.len() || r.at != bytes.len() {
            return Err(TapeError::Corrupt("bad length"));
        }
        check_codes(&instrs)?;
        Ok(Tape::new(n_inputs, instrs, pool, output))
    }
}

/// The first error of a batch's threads (the calling thread's result first), after all joined.
fn joined(
    first: Result<(), TapeError>,
    others: Vec<std::thread::ScopedJoinHandle<'_, Result<(), TapeError>>>,
) -> Result<(), TapeError> {
    others.into_iter().fold(first, |acc, handle| {
        let result = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        acc.and(result)
    })
}

fn check_out(len: usize, expected: usize) -> Result<(), TapeError> {
    if len != expected {
        return Err(TapeError::OutputLength { expected, got: len });
    }
    Ok(())
}

fn check_codes(instrs: &[Instr]) -> Result<(), TapeError> {
    for instr in instrs {
        let ok = match instr {
            Instr::Unary { code, .. } => code.arity() == Some(1),
            Instr::Binary { code, .. } => code.arity() == Some(2),
            _ => true,
        };
        if !ok {
            return Err(TapeError::Corrupt("op of the wrong arity"));
        }
        if let Instr::Unary {
            code: Code::LeakyRelu,
            p,
            ..
        } = *instr
        {
            check_slope(p).map_err(|_| TapeError::Corrupt("bad leaky_relu slope"))?;
        }
    }
    Ok(())
}

/// The unary or binary op numbered `x`; the tape's other instructions are not ops.
fn code_from(x: u64) -> Result<Code, TapeError> {
    Code::from_index(x)
        .filter(|c| matches!(c.arity(), Some(1 | 2)))
        .ok_or(TapeError::Corrupt("unknown op"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TapeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(TapeError::Corrupt("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u64(&mut self) -> Result<u64, TapeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, TapeError> {
        u32::try_from(self.u64()?).map_err(|_| TapeError::Corrupt("index too large"))
    }
    fn f64(&mut self) -> Result<f64, TapeError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let last_tag = bytes.len() - 25;
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
}
