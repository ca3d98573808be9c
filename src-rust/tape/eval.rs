//! Evaluating one point: the value, reverse mode (gradients), forward mode (directional
//! derivatives) and both (Hessians), over `f64` or `Dual` with the table's formulas.

use super::plan::{Plan, Step};
use super::{filled, Tape, TapeError};
use crate::ops::{binary_backward, binary_forward, dot, square, sum, unary_backward};
use crate::scalar::{Dual, Real};

impl Plan {
    /// Fills `vals` with every slot's value at the inputs `x`.
    pub(super) fn forward<T: Real>(&self, x: &[T], vals: &mut Vec<T>) {
        vals.clear();
        vals.extend_from_slice(x);
        for step in &self.steps {
            let v = match *step {
                Step::Const(c) => T::lift(c),
                Step::Unary { code, x, p } => vals[x as usize].unary_op(code, p),
                Step::Binary { code, x, y } => {
                    binary_forward(code, vals[x as usize], vals[y as usize])
                }
                Step::BinaryK { code, x, k } => binary_forward(code, vals[x as usize], T::lift(k)),
                Step::KBinary { code, k, y } => binary_forward(code, T::lift(k), vals[y as usize]),
                Step::Square { x } => square::forward(vals[x as usize]),
                Step::Sum { start, len } => {
                    sum::forward(self.operands(start, len).iter().map(|&i| vals[i as usize]))
                }
                Step::Chain { start, len, k } => {
                    let (first, rest) = self.operands(start, len).split_at(1);
                    let first = vals[first[0] as usize];
                    let acc = k.map_or(first, |k| T::lift(k) + first);
                    rest.iter().fold(acc, |acc, &o| acc + vals[o as usize])
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    dot::forward(
                        ws.iter()
                            .zip(xs)
                            .map(|(&w, &x)| (vals[w as usize], vals[x as usize])),
                    )
                }
            };
            vals.push(v);
        }
    }

    /// Fills `adj` with every slot's adjoint, given the values from `forward`.
    pub(super) fn reverse<T: Real>(&self, vals: &[T], adj: &mut Vec<T>) {
        let seed = [(self.output, T::lift(1.0))];
        self.reverse_over(vals, adj, &seed, (0..self.steps.len()).rev());
    }

    /// `reverse` for output `k` alone, over its own order of steps.
    pub(super) fn reverse_output<T: Real>(&self, k: usize, vals: &[T], adj: &mut Vec<T>) {
        let seed = [(self.outputs[k], T::lift(1.0))];
        match &self.orders[k] {
            None => self.reverse_over(vals, adj, &seed, (0..self.steps.len()).rev()),
            Some(order) => {
                let steps = order.iter().rev().map(|&j| j as usize);
                self.reverse_over(vals, adj, &seed, steps)
            }
        }
    }

    /// The reverse sweep with the adjoints of the `seeds` slots set (added, for a slot named
    /// twice), over `steps` (step indices, users before their operands).
    pub(super) fn reverse_over<T: Real>(
        &self,
        vals: &[T],
        adj: &mut Vec<T>,
        seeds: &[(u32, T)],
        steps: impl Iterator<Item = usize>,
    ) {
        adj.clear();
        adj.resize(vals.len(), T::lift(0.0));
        for &(slot, g) in seeds {
            adj[slot as usize] = adj[slot as usize] + g;
        }
        for j in steps {
            let (i, step) = (self.n_inputs + j, &self.steps[j]);
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
                    adj[x] = adj[x] + square::backward(vals[x], g);
                }
                Step::Sum { start, len } | Step::Chain { start, len, .. } => {
                    for &w in self.operands(start, len) {
                        adj[w as usize] = adj[w as usize] + g;
                    }
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        let (w, x) = (w as usize, x as usize);
                        let (dw, dx) = dot::backward(vals[w], vals[x], g);
                        adj[w] = adj[w] + dw;
                        adj[x] = adj[x] + dx;
                    }
                }
            }
        }
    }
}

impl Tape {
    pub(super) fn check_len(&self, x: &[f64]) -> Result<(), TapeError> {
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
        self.scalar("eval_all")?;
        self.check_len(x)?;
        let mut vals = Vec::with_capacity(self.plan.n_slots());
        self.plan.forward(x, &mut vals);
        Ok(vals[self.plan.output as usize])
    }

    /// The output and its gradient at `x`.
    pub fn grad(&self, x: &[f64]) -> Result<(f64, Vec<f64>), TapeError> {
        self.scalar("jacobian")?;
        self.check_len(x)?;
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        self.plan.forward(x, &mut vals);
        self.plan.reverse(&vals, &mut adj);
        adj.truncate(self.n_inputs);
        Ok((vals[self.plan.output as usize], adj))
    }

    /// The output and its derivative along `v` at `x`, in forward mode (no reverse sweep).
    pub fn jvp(&self, x: &[f64], v: &[f64]) -> Result<(f64, f64), TapeError> {
        self.scalar("jvp_all")?;
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
        self.scalar("hessians")?;
        self.hessians(x)
    }

    /// Every output's Hessian at `x`, `k × n × n` row-major, each as `hessian` computes it.
    pub fn hessians(&self, x: &[f64]) -> Result<Vec<f64>, TapeError> {
        self.check_len(x)?;
        let n = self.n_inputs;
        let what = if self.vector {
            "the Hessians"
        } else {
            "the Hessian"
        };
        let Some(knn) = n
            .checked_mul(n)
            .and_then(|nn| nn.checked_mul(self.n_outputs()))
        else {
            return Err(TapeError::OutOfMemory {
                what,
                bytes: usize::MAX,
            });
        };
        let mut h = filled(knn, 0.0, what)?;
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        let mut duals: Vec<Dual> = x.iter().map(|&a| Dual::new(a, 0.0)).collect();
        for j in 0..n {
            duals[j].eps = 1.0;
            self.plan.forward(&duals, &mut vals);
            for (k, h) in h.chunks_exact_mut(n * n).enumerate() {
                self.plan.reverse_output(k, &vals, &mut adj);
                for i in 0..n {
                    h[i * n + j] = adj[i].eps;
                }
            }
            duals[j].eps = 0.0;
        }
        Ok(h)
    }
}
