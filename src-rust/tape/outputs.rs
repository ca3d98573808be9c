//! Every output at once: values, Jacobians (one forward pass, then one reverse sweep per output
//! over the same values), forward and reverse products, at a point and over batches. For a
//! scalar function these are its value, gradient, `jvp` and `u ·` gradient.
//!
//! Jacobians are always reverse mode, even where outputs outnumber inputs: row `k` is then bit
//! for bit output `k`'s own gradient (the same steps in the same order as a tape recorded from
//! that output alone, or the graph's `backward`), which forward mode's columns would not be.

use super::lanes::{self, check_out, on_threads};
use super::{filled, Tape, TapeError};
use crate::scalar::{Dual, LANES};
use crate::vmath::{LaneOps, Precision};

impl Tape {
    /// Every output at `x`.
    pub fn eval_all(&self, x: &[f64]) -> Result<Vec<f64>, TapeError> {
        self.check_len(x)?;
        let mut vals = Vec::with_capacity(self.plan.n_slots());
        self.plan.forward(x, &mut vals);
        Ok(self
            .plan
            .outputs
            .iter()
            .map(|&o| vals[o as usize])
            .collect())
    }

    /// Every output at `x` and the Jacobian, row-major `n_outputs × n_inputs`.
    pub fn jacobian(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        self.check_len(x)?;
        let n = self.n_inputs;
        let mut jac = filled(self.jacobian_len(1)?, 0.0, "the Jacobian")?;
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        self.plan.forward(x, &mut vals);
        for (k, row) in jac.chunks_exact_mut(n.max(1)).enumerate() {
            self.plan.reverse_output(k, &vals, &mut adj);
            row.copy_from_slice(&adj[..n]);
        }
        let values = self
            .plan
            .outputs
            .iter()
            .map(|&o| vals[o as usize])
            .collect();
        Ok((values, jac))
    }

    /// Every output at `x` and its derivative along `v`: one forward pass on dual numbers.
    pub fn jvp_all(&self, x: &[f64], v: &[f64]) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        self.check_len(x)?;
        self.check_len(v)?;
        let duals: Vec<Dual> = x.iter().zip(v).map(|(&a, &b)| Dual::new(a, b)).collect();
        let mut vals = Vec::with_capacity(self.plan.n_slots());
        self.plan.forward(&duals, &mut vals);
        let outs = self.plan.outputs.iter().map(|&o| vals[o as usize]);
        Ok(outs.map(|d| (d.re, d.eps)).unzip())
    }

    /// Every output at `x` and `u · J` (one number per input): one reverse sweep with output
    /// `k`'s adjoint set to `u[k]` (added up for an output that appears twice).
    pub fn vjp(&self, x: &[f64], u: &[f64]) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        self.check_len(x)?;
        if u.len() != self.n_outputs() {
            return Err(TapeError::CotangentLength {
                expected: self.n_outputs(),
                got: u.len(),
            });
        }
        let (mut vals, mut adj) = (Vec::new(), Vec::new());
        self.plan.forward(x, &mut vals);
        let seeds: Vec<(u32, f64)> = self.plan.outputs.iter().copied().zip(u.to_vec()).collect();
        let steps = (0..self.plan.steps.len()).rev();
        self.plan.reverse_over(&vals, &mut adj, &seeds, steps);
        adj.truncate(self.n_inputs);
        let values = self
            .plan
            .outputs
            .iter()
            .map(|&o| vals[o as usize])
            .collect();
        Ok((values, adj))
    }

    /// `rows × n_outputs × n_inputs`, or the error naming a size past `usize`.
    fn jacobian_len(&self, rows: usize) -> Result<usize, TapeError> {
        rows.checked_mul(self.n_outputs())
            .and_then(|x| x.checked_mul(self.n_inputs))
            .ok_or(TapeError::OutOfMemory {
                what: "a batch's Jacobians",
                bytes: usize::MAX,
            })
    }

    /// The Jacobian at each row of `xs`: `rows × n_outputs × n_inputs`, row-major.
    pub fn jacobian_batch(&self, xs: &[f64], threads: usize) -> Result<Vec<f64>, TapeError> {
        let len = self.jacobian_len(self.batch_rows(xs)?)?;
        let mut jac = filled(len, 0.0, "a batch's Jacobians")?;
        self.jacobian_batch_into(xs, threads, Precision::Default, &mut jac)?;
        Ok(jac)
    }

    /// `jacobian_batch` writing into `jac`; threads and scratch as `grad_batch_into`. Each row
    /// is bit for bit what `jacobian` gives at that point in the default `precision` (see
    /// `eval_batch_into`).
    pub fn jacobian_batch_into(
        &self,
        xs: &[f64],
        threads: usize,
        precision: Precision,
        jac: &mut [f64],
    ) -> Result<(), TapeError> {
        let (n, k) = (self.n_inputs, self.n_outputs());
        let rows = self.batch_rows(xs)?;
        check_out(jac.len(), self.jacobian_len(rows)?)?;
        let (plan, ops) = (&self.plan, LaneOps::best(precision));
        let work = |at: usize, xs: &[f64], jac: &mut [f64]| {
            let mut block = self.block(at, true)?;
            for (xs, jac) in xs.chunks(LANES * n).zip(jac.chunks_mut(LANES * k * n)) {
                block.load(&ops, xs, n);
                plan.forward_lanes(&ops, &mut block.vals);
                for (q, &seed) in plan.outputs.iter().enumerate() {
                    match &plan.orders[q] {
                        None => {
                            let steps = (0..plan.steps.len()).rev();
                            plan.reverse_lanes_over(&ops, seed, steps, &block.vals, &mut block.adj);
                        }
                        Some(order) => {
                            let steps = order.iter().rev().map(|&j| j as usize);
                            plan.reverse_lanes_over(&ops, seed, steps, &block.vals, &mut block.adj);
                        }
                    }
                    for (l, point) in jac.chunks_exact_mut(k * n).enumerate() {
                        let row = &mut point[q * n..(q + 1) * n];
                        for (i, d) in row.iter_mut().enumerate() {
                            *d = block.adj[i][l];
                        }
                    }
                }
            }
            self.keep(at, block);
            Ok(())
        };
        let per = self.rows_per_thread(rows, threads, lanes::THREAD_WORK);
        let chunks = xs.chunks(per * n).zip(jac.chunks_mut(per * k * n));
        on_threads(chunks.collect(), |at, (xs, jac)| work(at, xs, jac))
            .into_iter()
            .fold(Ok(()), Result::and)
    }
}
