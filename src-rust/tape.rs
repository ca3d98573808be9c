//! A compiled tape: a graph flattened into an array of instructions over slots, with no `Rc`
//! per node. Evaluate it at many points, in reverse mode (gradients), forward mode (directional
//! derivatives) or both (Hessians), with the same formulas as the graph (`ops.rs`).

use std::collections::HashMap;

use crate::ops::{binary_backward, binary_forward, unary_backward, unary_forward, Code};
use crate::scalar::{Dual, Real};
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

#[derive(Clone, Debug, PartialEq)]
pub struct Tape {
    n_inputs: usize,
    instrs: Vec<Instr>,
    pool: Vec<u32>,
    output: u32,
}

/// Why a graph could not be recorded or a tape not evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum TapeError {
    DuplicateInput(usize),
    InputLength { expected: usize, got: usize },
    TooLarge,
    Corrupt(&'static str),
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
            TapeError::TooLarge => write!(f, "the graph has more than 2^32 nodes"),
            TapeError::Corrupt(why) => write!(f, "not a valid tape: {why}"),
        }
    }
}

impl std::error::Error for TapeError {}

fn slot(i: usize) -> Result<u32, TapeError> {
    u32::try_from(i).map_err(|_| TapeError::TooLarge)
}

impl Tape {
    /// Flattens the graph of `output` with `inputs` as the variables; every other leaf becomes
    /// a constant holding its current value.
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
            let node = value.borrow();
            let operand = |j: usize| slots[&node.prev[j].id()];
            let instr = match node.op.code {
                Code::Leaf => Instr::Const(node.data),
                Code::Sum | Code::Dot => {
                    let start = slot(pool.len())?;
                    pool.extend(node.prev.as_slice().iter().map(|v| slots[&v.id()]));
                    let len = slot(node.prev.as_slice().len())?;
                    if node.op.code == Code::Sum {
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
            drop(node);
            slots.insert(value.id(), slot(instrs.len())?);
            instrs.push(instr);
        }
        let output = slots[&output.id()];
        Ok(Tape {
            n_inputs: inputs.len(),
            instrs,
            pool,
            output,
        })
    }

    /// Whether `other` runs the same program: same instructions, operands and constants
    /// (compared bit for bit, so a NaN constant equals itself).
    pub fn same_program(&self, other: &Tape) -> bool {
        self.to_bytes() == other.to_bytes()
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Number of slots (inputs, constants and op results).
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
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

    /// Fills `vals` with every slot's value at the inputs `x`.
    fn forward<T: Real>(&self, x: &[T], vals: &mut Vec<T>) {
        vals.clear();
        vals.extend_from_slice(x);
        for instr in &self.instrs[self.n_inputs..] {
            let v = match *instr {
                Instr::Input => unreachable!("inputs come first"),
                Instr::Const(c) => T::lift(c),
                Instr::Unary { code, x, p } => unary_forward(code, vals[x as usize], p),
                Instr::Binary { code, x, y } => {
                    binary_forward(code, vals[x as usize], vals[y as usize])
                }
                Instr::Sum { start, len } => {
                    let operands = &self.pool[start as usize..(start + len) as usize];
                    operands
                        .iter()
                        .fold(T::lift(0.0), |acc, &i| acc + vals[i as usize])
                }
                Instr::Dot { start, len } => {
                    let (s, n) = (start as usize, len as usize);
                    let (ws, xs) = (&self.pool[s..s + n], &self.pool[s + n..s + 2 * n]);
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
        for (i, instr) in self.instrs.iter().enumerate().skip(self.n_inputs).rev() {
            let g = adj[i];
            match *instr {
                Instr::Input | Instr::Const(_) => {}
                Instr::Unary { code, x, p } => {
                    let x = x as usize;
                    let dx = unary_backward(code, vals[x], vals[i], g, p);
                    adj[x] = adj[x] + dx;
                }
                Instr::Binary { code, x, y } => {
                    let (x, y) = (x as usize, y as usize);
                    let (dx, dy) = binary_backward(code, vals[x], vals[y], vals[i], g);
                    adj[x] = adj[x] + dx;
                    adj[y] = adj[y] + dy;
                }
                Instr::Sum { start, len } => {
                    for &j in &self.pool[start as usize..(start + len) as usize] {
                        adj[j as usize] = adj[j as usize] + g;
                    }
                }
                Instr::Dot { start, len } => {
                    let (s, n) = (start as usize, len as usize);
                    for k in 0..n {
                        let (w, x) = (self.pool[s + k] as usize, self.pool[s + n + k] as usize);
                        let (wd, xd) = (vals[w], vals[x]);
                        adj[w] = adj[w] + xd * g;
                        adj[x] = adj[x] + wd * g;
                    }
                }
            }
        }
    }

    /// The output at `x`.
    pub fn eval(&self, x: &[f64]) -> Result<f64, TapeError> {
        self.check_len(x)?;
        let mut vals = Vec::with_capacity(self.len());
        self.forward(x, &mut vals);
        Ok(vals[self.output as usize])
    }

    /// The output and its gradient at `x`, writing the gradient into `grad`.
    fn grad_into(
        &self,
        x: &[f64],
        grad: &mut [f64],
        vals: &mut Vec<f64>,
        adj: &mut Vec<f64>,
    ) -> f64 {
        self.forward(x, vals);
        self.reverse(vals, adj);
        grad.copy_from_slice(&adj[..self.n_inputs]);
        vals[self.output as usize]
    }

    /// The output and its gradient at `x`.
    pub fn grad(&self, x: &[f64]) -> Result<(f64, Vec<f64>), TapeError> {
        self.check_len(x)?;
        let mut grad = vec![0.0; self.n_inputs];
        let value = self.grad_into(x, &mut grad, &mut Vec::new(), &mut Vec::new());
        Ok((value, grad))
    }

    /// The output and its derivative along `v` at `x`, in forward mode (no reverse sweep).
    pub fn jvp(&self, x: &[f64], v: &[f64]) -> Result<(f64, f64), TapeError> {
        self.check_len(x)?;
        self.check_len(v)?;
        let duals: Vec<Dual> = x.iter().zip(v).map(|(&a, &b)| Dual::new(a, b)).collect();
        let mut vals = Vec::with_capacity(self.len());
        self.forward(&duals, &mut vals);
        let out = vals[self.output as usize];
        Ok((out.re, out.eps))
    }

    /// The Hessian at `x`, row-major `n × n`, by forward mode over reverse mode: column `j` is
    /// the derivative of the gradient along the `j`-th unit vector.
    pub fn hessian(&self, x: &[f64]) -> Result<Vec<f64>, TapeError> {
        self.check_len(x)?;
        let n = self.n_inputs;
        let mut h = vec![0.0; n * n];
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        let mut duals: Vec<Dual> = x.iter().map(|&a| Dual::new(a, 0.0)).collect();
        for j in 0..n {
            duals[j].eps = 1.0;
            self.forward(&duals, &mut vals);
            self.reverse(&vals, &mut adj);
            for i in 0..n {
                h[i * n + j] = adj[i].eps;
            }
            duals[j].eps = 0.0;
        }
        Ok(h)
    }

    /// Outputs at each row of `xs` (row-major, `n_inputs` columns), split across `threads`.
    pub fn eval_batch(&self, xs: &[f64], threads: usize) -> Result<Vec<f64>, TapeError> {
        let n = self.n_inputs;
        let rows = self.batch_rows(xs)?;
        let mut values = vec![0.0; rows];
        let per = self.rows_per_thread(rows, threads);
        let work = |xs: &[f64], values: &mut [f64]| {
            let mut vals = Vec::with_capacity(self.len());
            for (x, value) in xs.chunks_exact(n).zip(values) {
                self.forward(x, &mut vals);
                *value = vals[self.output as usize];
            }
        };
        if per >= rows {
            work(xs, &mut values);
            return Ok(values);
        }
        std::thread::scope(|scope| {
            for (xs, values) in xs.chunks(per * n).zip(values.chunks_mut(per)) {
                scope.spawn(move || work(xs, values));
            }
        });
        Ok(values)
    }

    /// Outputs and gradients (row-major `rows × n_inputs`) at each row of `xs`.
    pub fn grad_batch(
        &self,
        xs: &[f64],
        threads: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        let n = self.n_inputs;
        let rows = self.batch_rows(xs)?;
        let (mut values, mut grads) = (vec![0.0; rows], vec![0.0; rows * n]);
        let per = self.rows_per_thread(rows, threads);
        let work = |xs: &[f64], values: &mut [f64], grads: &mut [f64]| {
            let (mut vals, mut adj) = (Vec::with_capacity(self.len()), Vec::new());
            let rows = xs.chunks_exact(n).zip(grads.chunks_exact_mut(n));
            for ((x, grad), value) in rows.zip(values) {
                *value = self.grad_into(x, grad, &mut vals, &mut adj);
            }
        };
        if per >= rows {
            work(xs, &mut values, &mut grads);
            return Ok((values, grads));
        }
        std::thread::scope(|scope| {
            let chunks = xs
                .chunks(per * n)
                .zip(values.chunks_mut(per))
                .zip(grads.chunks_mut(per * n));
            for ((xs, values), grads) in chunks {
                scope.spawn(move || work(xs, values, grads));
            }
        });
        Ok((values, grads))
    }

    /// Rows per thread: one chunk per thread, but a single chunk when the batch is too small
    /// for a thread to pay for itself.
    fn rows_per_thread(&self, rows: usize, threads: usize) -> usize {
        let threads = threads.clamp(1, rows.max(1));
        if threads == 1 || rows * self.len() < 50_000 {
            rows.max(1)
        } else {
            rows.div_ceil(threads)
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
                    let span = if tag == 4 { b } else { 2 * b };
                    if a + span > pool.len() as u64
                        || pool[a as usize..(a + span) as usize]
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
        if output as usize >= instrs.len() || r.at != bytes.len() {
            return Err(TapeError::Corrupt("bad length"));
        }
        let tape = Tape {
            n_inputs,
            instrs,
            pool,
            output,
        };
        tape.check_codes()?;
        Ok(tape)
    }

    fn check_codes(&self) -> Result<(), TapeError> {
        for instr in &self.instrs {
            let ok = match instr {
                Instr::Unary { code, .. } => UNARY.contains(code),
                Instr::Binary { code, .. } => BINARY.contains(code),
                _ => true,
            };
            if !ok {
                return Err(TapeError::Corrupt("op of the wrong arity"));
            }
        }
        Ok(())
    }
}

const UNARY: [Code; 12] = [
    Code::Neg,
    Code::Relu,
    Code::LeakyRelu,
    Code::Tanh,
    Code::Sigmoid,
    Code::Exp,
    Code::Log,
    Code::Sin,
    Code::Cos,
    Code::Tan,
    Code::Sqrt,
    Code::Abs,
];
const BINARY: [Code; 5] = [Code::Add, Code::Sub, Code::Mul, Code::Div, Code::Pow];

fn code_from(x: u64) -> Result<Code, TapeError> {
    UNARY
        .iter()
        .chain(&BINARY)
        .find(|c| **c as u64 == x)
        .copied()
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
