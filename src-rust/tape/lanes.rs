//! Batches: `LANES` points side by side per instruction, and rows split across threads.

use super::plan::{Plan, Step};
use super::{filled, Tape, TapeError};
use crate::scalar::{Lanes, LANES};
use crate::vmath::{splat, LaneOps, Precision};

impl Plan {
    /// `forward` for `LANES` points at once; constant slots must already be filled (they
    /// never change, so `Block::new` fills them once). Each instruction is one loop of `ops`,
    /// vectorised for the CPU (bit for bit the op table's formulas in the default precision).
    pub(super) fn forward_lanes(&self, ops: &LaneOps, vals: &mut [Lanes]) {
        let n = self.n_inputs;
        for (j, step) in self.steps.iter().enumerate() {
            let (before, after) = vals.split_at_mut(n + j);
            let (z, v) = (&mut after[0], |i: u32| &before[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => ops.unary_forward(code, v(x), p, z),
                Step::Binary { code, x, y } => ops.binary_forward(code, v(x), v(y), z),
                Step::BinaryK { code, x, k } => ops.binary_forward(code, v(x), &splat(k), z),
                Step::KBinary { code, k, y } => ops.binary_forward(code, &splat(k), v(y), z),
                // square::forward, sum::step and dot::step, on every lane.
                Step::Square { x } => ops.square(v(x), z),
                Step::Sum { start, len } => {
                    *z = [0.0; LANES];
                    for &i in self.operands(start, len) {
                        ops.accumulate(z, v(i));
                    }
                }
                Step::Dot { start, len } => {
                    *z = [0.0; LANES];
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    for (&w, &x) in ws.iter().zip(xs) {
                        ops.dot_accumulate(z, v(w), v(x));
                    }
                }
            }
        }
    }

    /// `reverse` for `LANES` points at once, in the same order of operations per lane.
    pub(super) fn reverse_lanes(&self, ops: &LaneOps, vals: &[Lanes], adj: &mut [Lanes]) {
        self.reverse_lanes_over(ops, self.output, (0..self.steps.len()).rev(), vals, adj);
    }

    /// `reverse_lanes` from the slot `seed` over `steps` (step indices, users first).
    pub(super) fn reverse_lanes_over(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
    ) {
        adj.fill([0.0; LANES]);
        adj[seed as usize] = [1.0; LANES];
        let add = |adj: &mut [Lanes], i: u32, d: &Lanes| ops.accumulate(&mut adj[i as usize], d);
        let (mut dx, mut dy) = ([0.0; LANES], [0.0; LANES]);
        for j in steps {
            let (i, step) = (self.n_inputs + j, &self.steps[j]);
            let (g, z, v) = (adj[i], &vals[i], |i: u32| &vals[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => {
                    ops.unary_backward(code, [v(x), z, &g], p, &mut dx);
                    add(adj, x, &dx);
                }
                Step::Binary { code, x, y } => {
                    ops.binary_backward(code, [v(x), v(y), z, &g], &mut dx, &mut dy);
                    add(adj, x, &dx);
                    add(adj, y, &dy);
                }
                Step::BinaryK { code, x, k } => {
                    ops.binary_backward_one(code, [v(x), &splat(k), z, &g], false, &mut dx);
                    add(adj, x, &dx);
                }
                Step::KBinary { code, k, y } => {
                    ops.binary_backward_one(code, [&splat(k), v(y), z, &g], true, &mut dy);
                    add(adj, y, &dy);
                }
                // square::backward and dot::backward, on every lane.
                Step::Square { x } => {
                    ops.square_backward(v(x), &g, &mut dx);
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
                        ops.mul(v(x), &g, &mut dx);
                        ops.mul(v(w), &g, &mut dy);
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
        self.eval_batch_into(xs, threads, Precision::Default, &mut values)?;
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
        self.grad_batch_into(xs, threads, Precision::Default, &mut values, &mut grads)?;
        Ok((values, grads))
    }

    /// `eval_batch` writing into `values` (one per row), in `precision` (`Default`: bit for bit
    /// single points; `Fast`: the vectorised elementary functions of `vmath`).
    pub fn eval_batch_into(
        &self,
        xs: &[f64],
        threads: usize,
        precision: Precision,
        values: &mut [f64],
    ) -> Result<(), TapeError> {
        let ops = LaneOps::best(precision);
        let (n, k, outs) = (self.n_inputs, self.n_outputs(), &self.plan.outputs);
        let rows = self.batch_rows(xs)?;
        check_out(values.len(), rows.saturating_mul(k))?;
        let work = |xs: &[f64], values: &mut [f64]| {
            let mut block = Block::new(&self.plan, false)?;
            for (xs, values) in xs.chunks(LANES * n).zip(values.chunks_mut(LANES * k)) {
                block.load(xs, n);
                self.plan.forward_lanes(&ops, &mut block.vals);
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

    /// `grad_batch` writing into `values` (one per row) and `grads` (row-major), in
    /// `precision` as `eval_batch_into`.
    pub fn grad_batch_into(
        &self,
        xs: &[f64],
        threads: usize,
        precision: Precision,
        values: &mut [f64],
        grads: &mut [f64],
    ) -> Result<(), TapeError> {
        self.scalar("jacobian_batch")?;
        let ops = LaneOps::best(precision);
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
                self.plan.forward_lanes(&ops, &mut block.vals);
                self.plan.reverse_lanes(&ops, &block.vals, &mut block.adj);
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

    /// The output at every row and the gradient summed over the rows, for a batch whose first
    /// `shared.len()` inputs are the same at every row (a model's parameters) and whose other
    /// inputs come from the rows of `xs` (row-major, `n_inputs - shared.len()` columns: one
    /// example's data). Writes each row's output to `values` and the sum over the rows of the
    /// gradient with respect to the shared inputs to `grad` (`shared.len()` numbers).
    ///
    /// The shared inputs are loaded once per thread, not once per row, and no per-row gradient
    /// leaves the lanes. Each thread adds row `r`'s gradient into lane `r % LANES` of its own
    /// accumulator; the sum is then taken thread by thread, lane by lane, in order, so the same
    /// rows on the same number of threads give the same bits.
    pub fn grad_sum_into(
        &self,
        shared: &[f64],
        xs: &[f64],
        threads: usize,
        values: &mut [f64],
        grad: &mut [f64],
    ) -> Result<(), TapeError> {
        self.scalar("jacobian_batch")?;
        let ops = LaneOps::best(Precision::Default);
        let (k, out) = (shared.len(), self.plan.output as usize);
        let rows = self.sum_rows(k, xs.len())?;
        let d = self.n_inputs - k;
        check_out(values.len(), rows)?;
        check_out(grad.len(), k)?;
        let work = |xs: &[f64], values: &mut [f64]| -> Result<Vec<Lanes>, TapeError> {
            let mut block = Block::new(&self.plan, true)?;
            for (slot, &p) in block.vals.iter_mut().zip(shared) {
                *slot = [p; LANES];
            }
            let mut acc = filled(k, [0.0; LANES], "a batch's gradient sums")?;
            for (xs, values) in xs.chunks(LANES * d).zip(values.chunks_mut(LANES)) {
                for (l, row) in xs.chunks_exact(d).enumerate() {
                    for (slot, &x) in block.vals[k..].iter_mut().zip(row) {
                        slot[l] = x;
                    }
                }
                self.plan.forward_lanes(&ops, &mut block.vals);
                self.plan.reverse_lanes(&ops, &block.vals, &mut block.adj);
                let len = values.len();
                values.copy_from_slice(&block.vals[out][..len]);
                for (a, g) in acc.iter_mut().zip(&block.adj[..k]) {
                    for (a, g) in a[..len].iter_mut().zip(&g[..len]) {
                        *a += g;
                    }
                }
            }
            Ok(acc)
        };
        let per = self.rows_per_thread(rows, threads);
        let sums = std::thread::scope(|scope| {
            let mut chunks = xs.chunks(per * d).zip(values.chunks_mut(per));
            let first = chunks.next();
            let others: Vec<_> = chunks
                .map(|(xs, values)| scope.spawn(move || work(xs, values)))
                .collect();
            let mut sums = vec![first.map_or_else(
                || filled(k, [0.0; LANES], "a batch's gradient sums"),
                |(xs, values)| work(xs, values),
            )];
            for handle in others {
                sums.push(
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            sums.into_iter().collect::<Result<Vec<_>, _>>()
        })?;
        grad.fill(0.0);
        for acc in &sums {
            for (g, a) in grad.iter_mut().zip(acc) {
                for x in a {
                    *g += x;
                }
            }
        }
        Ok(())
    }

    /// Rows of a `grad_sum_into` batch of `len` numbers whose first `shared` inputs are the
    /// same at every row.
    pub fn sum_rows(&self, shared: usize, len: usize) -> Result<usize, TapeError> {
        if shared >= self.n_inputs {
            return Err(TapeError::SharedInputs {
                n_inputs: self.n_inputs,
                shared,
            });
        }
        let d = self.n_inputs - shared;
        if !len.is_multiple_of(d) {
            return Err(TapeError::InputLength {
                expected: d,
                got: len % d,
            });
        }
        Ok(len / d)
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
        if !xs.len().is_multiple_of(self.n_inputs) {
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
