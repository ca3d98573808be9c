//! Batches: `LANES` points side by side per instruction, and rows split across threads.

use super::plan::{Plan, Step};
use super::{filled, Tape, TapeError};
use crate::ops::{
    binary_backward_lanes, binary_backward_one_lanes, binary_forward_lanes, dot, square, sum,
    unary_backward_lanes, unary_forward_lanes,
};
use crate::scalar::{Lanes, LANES};

impl Plan {
    /// `forward` for `LANES` points at once; constant slots must already be filled (they
    /// never change, so `Block::new` fills them once).
    pub(super) fn forward_lanes(&self, vals: &mut [Lanes]) {
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
                        z[l] = square::forward(x[l]);
                    }
                }
                Step::Sum { start, len } => {
                    *z = [0.0; LANES];
                    for &i in self.operands(start, len) {
                        let x = v(i);
                        for l in 0..LANES {
                            z[l] = sum::step(z[l], x[l]);
                        }
                    }
                }
                Step::Dot { start, len } => {
                    *z = [0.0; LANES];
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        let (w, x) = (v(w), v(x));
                        for l in 0..LANES {
                            z[l] = dot::step(z[l], w[l], x[l]);
                        }
                    }
                }
            }
        }
    }

    /// `reverse` for `LANES` points at once, in the same order of operations per lane.
    pub(super) fn reverse_lanes(&self, vals: &[Lanes], adj: &mut [Lanes]) {
        self.reverse_lanes_over(self.output, (0..self.steps.len()).rev(), vals, adj);
    }

    /// `reverse_lanes` from the slot `seed` over `steps` (step indices, users first).
    pub(super) fn reverse_lanes_over(
        &self,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
    ) {
        adj.fill([0.0; LANES]);
        adj[seed as usize] = [1.0; LANES];
        let add = |adj: &mut [Lanes], i: u32, d: &Lanes| {
            let a = &mut adj[i as usize];
            for l in 0..LANES {
                a[l] += d[l];
            }
        };
        let (mut dx, mut dy) = ([0.0; LANES], [0.0; LANES]);
        for j in steps {
            let (i, step) = (self.n_inputs + j, &self.steps[j]);
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
                        dx[l] = square::backward(xv[l], g[l]);
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
                            (dx[l], dy[l]) = dot::backward(wv[l], xv[l], g[l]);
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
pub(super) struct Block {
    pub(super) vals: Vec<Lanes>,
    pub(super) adj: Vec<Lanes>,
}

impl Block {
    /// `LANES × 8` bytes per slot for the values, as many again for the adjoints when `adjoints`.
    pub(super) fn new(plan: &Plan, adjoints: bool) -> Result<Block, TapeError> {
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
    pub(super) fn load(&mut self, xs: &[f64], n: usize) {
        for (l, row) in xs.chunks_exact(n).enumerate() {
            for (i, &x) in row.iter().enumerate() {
                self.vals[i][l] = x;
            }
        }
    }
}

impl Tape {
    /// Outputs at each row of `xs` (row-major, `n_inputs` columns), split across `threads`:
    /// `n_outputs` numbers per row.
    pub fn eval_batch(&self, xs: &[f64], threads: usize) -> Result<Vec<f64>, TapeError> {
        let len = self.batch_rows(xs)?.saturating_mul(self.n_outputs());
        let mut values = filled(len, 0.0, "a batch's values")?;
        self.eval_batch_into(xs, threads, &mut values)?;
        Ok(values)
    }

    /// Outputs and gradients (row-major `rows × n_inputs`) at each row of `xs`.
    pub fn grad_batch(
        &self,
        xs: &[f64],
        threads: usize,
    ) -> Result<(Vec<f64>, Vec<f64>), TapeError> {
        self.scalar("jacobian_batch")?;
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
        let (n, k, outs) = (self.n_inputs, self.n_outputs(), &self.plan.outputs);
        let rows = self.batch_rows(xs)?;
        check_out(values.len(), rows.saturating_mul(k))?;
        let work = |xs: &[f64], values: &mut [f64]| {
            let mut block = Block::new(&self.plan, false)?;
            for (xs, values) in xs.chunks(LANES * n).zip(values.chunks_mut(LANES * k)) {
                block.load(xs, n);
                self.plan.forward_lanes(&mut block.vals);
                for (l, row) in values.chunks_exact_mut(k).enumerate() {
                    for (v, &out) in row.iter_mut().zip(outs) {
                        *v = block.vals[out as usize][l];
                    }
                }
            }
            Ok(())
        };
        let per = self.rows_per_thread(rows, threads);
        std::thread::scope(|scope| {
            let mut chunks = xs.chunks(per * n).zip(values.chunks_mut(per * k));
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
        self.scalar("jacobian_batch")?;
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
    pub(super) fn rows_per_thread(&self, rows: usize, threads: usize) -> usize {
        let threads = threads.clamp(1, cores()).min(rows.div_ceil(LANES).max(1));
        if threads == 1 || rows * self.plan.n_slots() < 200_000 {
            rows.max(1)
        } else {
            rows.div_ceil(threads).next_multiple_of(LANES)
        }
    }

    pub(super) fn batch_rows(&self, xs: &[f64]) -> Result<usize, TapeError> {
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
}

/// The threads a batch may use: the machine's cores (read once).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The first error of a batch's threads (the calling thread's result first), after all joined.
pub(super) fn joined(
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

pub(super) fn check_out(len: usize, expected: usize) -> Result<(), TapeError> {
    if len != expected {
        return Err(TapeError::OutputLength { expected, got: len });
    }
    Ok(())
}
