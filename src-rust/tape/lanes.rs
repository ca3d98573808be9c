//! Batches: `LANES` points side by side per instruction, and rows split across threads.

use super::plan::{Plan, Step};
use super::{filled, Tape, TapeError};
use crate::scalar::{Lanes, LANES};
use crate::vmath::{Isa, LaneOps, Parts, Precision, PARTS};

impl Plan {
    /// `forward` for `LANES` points at once; constant slots must already be filled (they
    /// never change, so `Block::new` fills them once). Each instruction is one loop of `ops`,
    /// vectorised for the CPU (bit for bit the op table's formulas in the default precision):
    /// the whole pass is compiled once per instruction set, so the arithmetic loops are
    /// inlined into it.
    pub(super) fn forward_lanes(&self, ops: &LaneOps, vals: &mut [Lanes]) {
        self.forward_lanes_shared(ops, &[], vals, LANES)
    }

    /// `forward_lanes` where the first `shared.len()` inputs are the same on every lane (their
    /// slots filled with `shared` too): dot steps read those as numbers (`LaneOps::dot_shared`),
    /// with the same results. Only the lanes below `live` need be right: a dense layer
    /// (`Plan::layers`) leaves whole chunks of lanes past it as they were.
    pub(super) fn forward_lanes_shared(
        &self,
        ops: &LaneOps,
        shared: &[f64],
        vals: &mut [Lanes],
        live: usize,
    ) {
        match ops.isa() {
            // SAFETY (each call): `LaneOps::isa` is a set the running CPU has.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { self.forward_avx512(ops, shared, vals, live) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { self.forward_avx2(ops, shared, vals, live) },
            _ => self.forward_body(ops, shared, vals, live),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn forward_avx512(
        &self,
        ops: &LaneOps,
        shared: &[f64],
        vals: &mut [Lanes],
        live: usize,
    ) {
        self.forward_body(ops, shared, vals, live)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, ops: &LaneOps, shared: &[f64], vals: &mut [Lanes], live: usize) {
        self.forward_body(ops, shared, vals, live)
    }

    #[inline(always)]
    fn forward_body(&self, ops: &LaneOps, shared: &[f64], vals: &mut [Lanes], live: usize) {
        let n = self.n_inputs;
        for (j, step) in self.steps.iter().enumerate() {
            let (before, after) = vals.split_at_mut(n + j);
            if let (Step::Dot { .. }, false) = (step, shared.is_empty()) {
                if let Some(layer) = self.layer_at(j, shared.len()) {
                    // The layer's first dot computes them all (their operands are all
                    // earlier slots); the others find theirs done.
                    if layer.dots[0] as usize == j {
                        ops.dense_shared(before, shared, layer.kernel(), after, live);
                    }
                    continue;
                }
            }
            let (z, v) = (&mut after[0], |i: u32| &before[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => ops.unary_forward(code, v(x), p, z),
                Step::Binary { code, x, y } => ops.binary_forward(code, v(x), v(y), z),
                Step::BinaryK { code, x, k } => ops.binary_forward_k(code, v(x), k, false, z),
                Step::KBinary { code, k, y } => ops.binary_forward_k(code, v(y), k, true, z),
                // square::forward, sum::step and dot::step, on every lane.
                Step::Square { x } => ops.square(v(x), z),
                Step::Sum { start, len } => ops.sum(before, self.operands(start, len), z),
                Step::Chain { start, len, k } => {
                    ops.chain(before, k, self.operands(start, len), z);
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    if shared.is_empty() {
                        ops.dot(before, ws, xs, z);
                    } else {
                        ops.dot_shared(before, shared, ws, xs, z);
                    }
                }
            }
        }
    }

    /// `reverse` for `LANES` points at once, in the same order of operations per lane, adding
    /// each input's adjoint into `adj[..n_inputs]`.
    ///
    /// `adj` must be zero at every slot from `n_inputs` on, and is left so: each step's
    /// adjoint is cleared as the sweep reads it (while it is in cache), so a block's adjoints
    /// need no clearing between sweeps; only the inputs' slots, which the caller reads, are
    /// the caller's to clear (`Block::clear_inputs`).
    pub(super) fn reverse_lanes(&self, ops: &LaneOps, vals: &[Lanes], adj: &mut [Lanes]) {
        let steps = (0..self.steps.len()).rev();
        self.sweep(ops, self.output, steps, vals, adj, Shared::default())
    }

    /// `reverse_lanes` where the first `shared.len()` inputs are the same on every lane (see
    /// `forward_lanes_shared`): their increments from dot steps, from the first `live` lanes
    /// only, go into `parts` (one `Parts` per shared input, see
    /// `kernels::dot_backward_shared`), their others into `adj` as usual.
    pub(super) fn reverse_lanes_shared(
        &self,
        ops: &LaneOps,
        shared: &[f64],
        vals: &[Lanes],
        adj: &mut [Lanes],
        parts: &mut [Parts],
        live: usize,
    ) {
        let steps = (0..self.steps.len()).rev();
        let shared = Shared {
            shared,
            parts,
            live,
        };
        self.sweep(ops, self.output, steps, vals, adj, shared)
    }

    /// `reverse_lanes` from the slot `seed` over `steps` (step indices, users first), from
    /// adjoints it first sets to zero.
    pub(super) fn reverse_lanes_over(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
    ) {
        adj.as_flattened_mut().fill(0.0);
        self.sweep(ops, seed, steps, vals, adj, Shared::default())
    }

    /// The sweep of `reverse_lanes`: adds 1 to `adj[seed]`, then runs `steps`, clearing each
    /// step's adjoint once it has been passed on. Each increment is added straight into its
    /// operand's adjoint: the same two roundings (the increment's, then the sum's) as
    /// computing it first and adding it after.
    fn sweep(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
        shared: Shared<'_>,
    ) {
        match ops.isa() {
            // SAFETY (each call): `LaneOps::isa` is a set the running CPU has.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { self.sweep_avx512(ops, seed, steps, vals, adj, shared) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => unsafe { self.sweep_avx2(ops, seed, steps, vals, adj, shared) },
            _ => self.sweep_body(ops, seed, steps, vals, adj, shared),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn sweep_avx512(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
        shared: Shared<'_>,
    ) {
        self.sweep_body(ops, seed, steps, vals, adj, shared)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sweep_avx2(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
        shared: Shared<'_>,
    ) {
        self.sweep_body(ops, seed, steps, vals, adj, shared)
    }

    #[inline(always)]
    fn sweep_body(
        &self,
        ops: &LaneOps,
        seed: u32,
        steps: impl Iterator<Item = usize>,
        vals: &[Lanes],
        adj: &mut [Lanes],
        Shared {
            shared,
            parts,
            live,
        }: Shared<'_>,
    ) {
        ops.accumulate(&mut adj[seed as usize], &[1.0; LANES]);
        for j in steps {
            let (i, step) = (self.n_inputs + j, &self.steps[j]);
            // Every operand is an earlier slot: the adjoints below `i` take the increments.
            let (adj, rest) = adj.split_at_mut(i);
            let g = &rest[0];
            let (z, v) = (&vals[i], |i: u32| &vals[i as usize]);
            match *step {
                Step::Const(_) => {}
                Step::Unary { code, x, p } => {
                    ops.unary_backward_add(code, [v(x), z, g], p, &mut adj[x as usize]);
                }
                Step::Binary { code, x, y } => {
                    ops.binary_backward_add(code, [v(x), v(y), z, g], adj, x, y);
                }
                Step::BinaryK { code, x, k } => {
                    let acc = &mut adj[x as usize];
                    ops.binary_backward_k_add(code, [v(x), z, g], k, false, acc);
                }
                Step::KBinary { code, k, y } => {
                    let acc = &mut adj[y as usize];
                    ops.binary_backward_k_add(code, [v(y), z, g], k, true, acc);
                }
                // square::backward and dot::backward, on every lane.
                Step::Square { x } => ops.square_backward_add(v(x), g, &mut adj[x as usize]),
                Step::Sum { start, len } | Step::Chain { start, len, .. } => {
                    ops.sum_backward(self.operands(start, len), g, adj)
                }
                Step::Dot { start, len } => {
                    let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                    if shared.is_empty() {
                        ops.dot_backward(vals, ws, xs, g, adj);
                    } else if let Some(layer) = self.layer_at(j, shared.len()) {
                        // The layer's other dots come first in the sweep and leave their
                        // adjoints for this, its first, to pass on and clear.
                        if layer.dots[0] as usize != j {
                            continue;
                        }
                        ops.dense_backward_shared(
                            vals,
                            shared,
                            layer.kernel(),
                            rest,
                            adj,
                            parts,
                            live,
                        );
                        for &o in &layer.offsets {
                            rest[o as usize] = [0.0; LANES];
                        }
                    } else {
                        ops.dot_backward_shared(vals, shared, ws, xs, g, adj, parts, live);
                    }
                }
            }
            // Cleared in place once passed on (it is in cache): no copy of it is taken.
            rest[0] = [0.0; LANES];
        }
    }
}

/// The shared inputs of a sweep (`reverse_lanes_shared`): none by default.
#[derive(Default)]
pub(super) struct Shared<'a> {
    shared: &'a [f64],
    parts: &'a mut [Parts],
    /// The lanes holding rows: the others' increments to `parts` are left out.
    live: usize,
}

/// One thread's share of `grad_sum_into`'s gradient: its block's shared inputs' adjoints (lane
/// by lane), the dot steps' increments to them (`PARTS` each) and the rows it ran one point at a
/// time (summed in row order).
struct Sums {
    block: Block,
    points: Vec<f64>,
}

/// One job of `grad_batch_into`: rows, their values and their gradients.
type Job3<'a> = ((&'a [f64], &'a mut [f64]), &'a mut [f64]);

/// One thread's scratch space for batches: every slot's values (and adjoints) across the lanes.
pub(super) struct Block {
    pub(super) vals: LaneVec,
    /// Zero between uses, except where a sweep has just added the inputs' adjoints.
    pub(super) adj: LaneVec,
    /// `grad_sum_into`'s partial sums of the dot steps' increments to its shared inputs (one
    /// `Parts` per shared input; empty until a call needs them): zero between uses, cleared
    /// as they are summed.
    parts: Vec<Parts>,
}

/// A slot's lanes on a cache line boundary.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line(Lanes);

/// Slots of lanes, each starting on a 64-byte boundary: a vector load or store of a slot never
/// straddles two cache lines (with `Vec<Lanes>`, aligned to 8 bytes, most of them did).
pub(super) struct LaneVec(Vec<Line>);

impl LaneVec {
    fn new(len: usize, what: &'static str) -> Result<LaneVec, TapeError> {
        filled(len, Line([0.0; LANES]), what).map(LaneVec)
    }
}

impl std::ops::Deref for LaneVec {
    type Target = [Lanes];
    fn deref(&self) -> &[Lanes] {
        // SAFETY: `Line` is a `Lanes` (`repr(C)`, one field) whose size, 256 bytes, is a
        // multiple of its alignment, so a `[Line]` is a `[Lanes]` with a stricter alignment.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<Lanes>(), self.0.len()) }
    }
}

impl std::ops::DerefMut for LaneVec {
    fn deref_mut(&mut self) -> &mut [Lanes] {
        // SAFETY: as `deref`, from a unique borrow.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<Lanes>(), self.0.len()) }
    }
}

impl Block {
    /// `LANES × 8` bytes per slot for the values, as many again for the adjoints when `adjoints`.
    pub(super) fn new(plan: &Plan, adjoints: bool) -> Result<Block, TapeError> {
        let mut vals = LaneVec::new(plan.n_slots(), "a batch's scratch values")?;
        for (j, step) in plan.steps.iter().enumerate() {
            if let Step::Const(c) = *step {
                vals[plan.n_inputs + j] = [c; LANES];
            }
        }
        let adj_len = if adjoints { vals.len() } else { 0 };
        Ok(Block {
            adj: LaneVec::new(adj_len, "a batch's scratch adjoints")?,
            vals,
            parts: Vec::new(),
        })
    }

    /// Clears the inputs' adjoints (`adj[range]`, slots below `n_inputs`) after a sweep.
    pub(super) fn clear_inputs(&mut self, range: std::ops::Range<usize>) {
        if let Some(adj) = self.adj.get_mut(range) {
            adj.as_flattened_mut().fill(0.0);
        }
    }

    /// Loads up to `LANES` rows of `xs` (row-major, `n` columns) into the input slots; lanes
    /// past the last row keep whatever they held, and their results are never read. Whole
    /// blocks go through the loops of `ops`' instruction set (which the CPU has).
    pub(super) fn load(&mut self, ops: &LaneOps, xs: &[f64], n: usize) {
        if n == 0 {
            return;
        }
        if xs.len() == LANES * n {
            transpose(ops.isa(), n, Move::In(xs, &mut self.vals[..n]));
            return;
        }
        for (l, row) in xs.chunks_exact(n).enumerate() {
            for (slot, &x) in self.vals[..n].iter_mut().zip(row) {
                slot[l] = x;
            }
        }
    }

    /// Writes the inputs' adjoints of up to `LANES` rows into `grads` (row-major, `n`
    /// columns), and clears them for the next sweep.
    pub(super) fn unload_gradients(&mut self, ops: &LaneOps, grads: &mut [f64], n: usize) {
        if n == 0 {
            return;
        }
        let adj = &mut self.adj[..n];
        if grads.len() == LANES * n {
            transpose(ops.isa(), n, Move::Out(adj, grads));
        } else {
            for (l, grad) in grads.chunks_exact_mut(n).enumerate() {
                for (g, slot) in grad.iter_mut().zip(adj.iter()) {
                    *g = slot[l];
                }
            }
        }
        adj.as_flattened_mut().fill(0.0);
    }
}

/// The side of the square tiles `transpose` moves: one AVX-512
/// vector each way, so that there a tile is 8 loads, 24 shuffles in registers and 8 stores
/// instead of 64 loads and 64 stores.
const TILE: usize = 8;
const _: () = assert!(LANES.is_multiple_of(TILE));

/// A tile's rows, read.
type Tile<'a> = [&'a [f64; TILE]; TILE];
/// A tile's rows, written.
type TileMut<'a> = [&'a mut [f64; TILE]; TILE];

/// `dst[p][q] = src[q][p]`.
#[inline(always)]
fn transpose_tile(src: Tile<'_>, dst: TileMut<'_>) {
    for (p, d) in dst.into_iter().enumerate() {
        for (x, s) in d.iter_mut().zip(src) {
            *x = s[p];
        }
    }
}

/// `transpose_tile` in AVX-512 registers (`transpose_avx512`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_tile_avx512(src: Tile<'_>, dst: TileMut<'_>) {
    use std::arch::x86_64::{_mm512_loadu_pd, _mm512_storeu_pd};
    // SAFETY: each pointer is to 8 numbers, as `Tile` and `TileMut` hold.
    let r = src.map(|s| unsafe { _mm512_loadu_pd(s.as_ptr()) });
    for (d, c) in dst.into_iter().zip(transpose_avx512(r)) {
        // SAFETY: as the loads.
        unsafe { _mm512_storeu_pd(d.as_mut_ptr(), c) };
    }
}

/// The columns of the 8 × 8 tile whose rows are `r`. Rows are paired (`unpacklo`/`unpackhi`:
/// columns 2j and 2j+1 of two rows in 128-bit lane j), then the pairs' lanes are gathered
/// twice (`shuffle_f64x2`, 0x88 taking lanes 0 and 2 of each operand, 0xdd lanes 1 and 3).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_avx512(r: [std::arch::x86_64::__m512d; TILE]) -> [std::arch::x86_64::__m512d; TILE] {
    use std::arch::x86_64::{
        _mm512_shuffle_f64x2 as lanes, _mm512_unpackhi_pd, _mm512_unpacklo_pd,
    };
    let t = [
        _mm512_unpacklo_pd(r[0], r[1]),
        _mm512_unpackhi_pd(r[0], r[1]),
        _mm512_unpacklo_pd(r[2], r[3]),
        _mm512_unpackhi_pd(r[2], r[3]),
        _mm512_unpacklo_pd(r[4], r[5]),
        _mm512_unpackhi_pd(r[4], r[5]),
        _mm512_unpacklo_pd(r[6], r[7]),
        _mm512_unpackhi_pd(r[6], r[7]),
    ];
    // u[j]: columns j and j + 4 of rows 0-3 (j < 4) or 4-7 (j >= 4), two rows per lane.
    let u = [
        lanes::<0x88>(t[0], t[2]),
        lanes::<0x88>(t[1], t[3]),
        lanes::<0xdd>(t[0], t[2]),
        lanes::<0xdd>(t[1], t[3]),
        lanes::<0x88>(t[4], t[6]),
        lanes::<0x88>(t[5], t[7]),
        lanes::<0xdd>(t[4], t[6]),
        lanes::<0xdd>(t[5], t[7]),
    ];
    [
        lanes::<0x88>(u[0], u[4]),
        lanes::<0x88>(u[1], u[5]),
        lanes::<0x88>(u[2], u[6]),
        lanes::<0x88>(u[3], u[7]),
        lanes::<0xdd>(u[0], u[4]),
        lanes::<0xdd>(u[1], u[5]),
        lanes::<0xdd>(u[2], u[6]),
        lanes::<0xdd>(u[3], u[7]),
    ]
}

/// The last `slots.len()` (< 8) columns of 8 rows of `rows` (`n` numbers each, those columns
/// from `at`) into lanes `r0..r0 + 8` of `slots`: one masked load per row, a transpose in
/// registers and one store per column.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn rows_tail_avx512(rows: &[f64], n: usize, at: usize, slots: &mut [Lanes], r0: usize) {
    use std::arch::x86_64::{_mm512_maskz_loadu_pd, _mm512_storeu_pd};
    let mask = tail_mask(n, at, slots.len(), rows.len(), r0);
    let mut row = rows.chunks_exact(n);
    // SAFETY: each masked load reads the `rem` numbers of a row from `at` (the mask keeps the
    // others from being read); the stores write 8 lanes from `r0` of a slot, in bounds.
    let r = std::array::from_fn(|_| {
        let row = row.next().expect("8 rows");
        unsafe { _mm512_maskz_loadu_pd(mask, row[at..].as_ptr()) }
    });
    for (slot, c) in slots.iter_mut().zip(transpose_avx512(r)) {
        unsafe { _mm512_storeu_pd(slot[r0..].as_mut_ptr(), c) };
    }
}

/// The mask of a row's last `n - at` (< 8) numbers, for `rows_tail_avx512` and
/// `slots_tail_avx512`, once their shapes are checked: one slot per such column, 8 rows of `n`,
/// 8 lanes from `r0`.
#[cfg(target_arch = "x86_64")]
fn tail_mask(n: usize, at: usize, slots: usize, rows: usize, r0: usize) -> u8 {
    let rem = n - at;
    assert!(rem < TILE && slots == rem && rows == TILE * n && r0 + TILE <= LANES);
    (1u8 << rem) - 1
}

/// The inverse of `rows_tail_avx512`: lanes `r0..r0 + 8` of `slots` into the last
/// `slots.len()` columns (from `at`) of 8 rows of `rows`, by masked stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn slots_tail_avx512(slots: &[Lanes], n: usize, at: usize, rows: &mut [f64], r0: usize) {
    use std::arch::x86_64::{_mm512_loadu_pd, _mm512_mask_storeu_pd, _mm512_setzero_pd};
    let mask = tail_mask(n, at, slots.len(), rows.len(), r0);
    let mut r = [_mm512_setzero_pd(); TILE];
    for (r, slot) in r.iter_mut().zip(slots) {
        // SAFETY: 8 lanes from `r0` of a slot, in bounds.
        *r = unsafe { _mm512_loadu_pd(slot[r0..].as_ptr()) };
    }
    for (row, c) in rows.chunks_exact_mut(n).zip(transpose_avx512(r)) {
        // SAFETY: the mask writes the `rem` numbers of the row from `at`, and no others.
        unsafe { _mm512_mask_storeu_pd(row[at..].as_mut_ptr(), mask, c) };
    }
}

/// `transpose_tile`, in registers when `AVX512` (only where the caller is compiled for it).
#[inline(always)]
fn tile<const AVX512: bool>(src: Tile<'_>, dst: TileMut<'_>) {
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: `AVX512` is set only by callers compiled for AVX-512 on a CPU that has it.
        return unsafe { transpose_tile_avx512(src, dst) };
    }
    transpose_tile(src, dst)
}

/// Which way `transpose` moves a block's numbers.
enum Move<'a> {
    /// Rows (row-major) into slots: `rows_to_slots_body`.
    In(&'a [f64], &'a mut [Lanes]),
    /// Slots into rows: `slots_to_rows_body`.
    Out(&'a [Lanes], &'a mut [f64]),
}

/// `rows_to_slots_body` or `slots_to_rows_body` (`n` columns) compiled for `isa`, which the CPU
/// must have (as `LaneOps::isa`).
fn transpose(isa: Isa, n: usize, how: Move<'_>) {
    #[inline(always)]
    fn body<const AVX512: bool>(n: usize, how: Move<'_>) {
        match how {
            Move::In(rows, slots) => rows_to_slots_body::<AVX512>(rows, n, slots),
            Move::Out(slots, rows) => slots_to_rows_body::<AVX512>(slots, n, rows),
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    fn avx512(n: usize, how: Move<'_>) {
        body::<true>(n, how)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn avx2(n: usize, how: Move<'_>) {
        body::<false>(n, how)
    }
    match isa {
        // SAFETY (each call): the caller's `isa` is one the running CPU has.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(n, how) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2(n, how) },
        _ => body::<false>(n, how),
    }
}

/// `slots[c][r] = rows[r * n + c]` for the `LANES` rows of `rows` (row-major, `n` columns, one
/// slot per column): a transpose by `TILE × TILE` tiles, the columns past the last whole tile
/// by masked moves on AVX-512 (`rows_tail_avx512`), else one number at a time.
#[inline(always)]
fn rows_to_slots_body<const AVX512: bool>(rows: &[f64], n: usize, slots: &mut [Lanes]) {
    let whole = n - n % TILE;
    for (r0, rows) in (0..LANES).step_by(TILE).zip(rows.chunks_exact(TILE * n)) {
        for c0 in (0..whole).step_by(TILE) {
            let mut src = rows.chunks_exact(n);
            let mut dst = slots[c0..c0 + TILE].iter_mut();
            tile::<AVX512>(
                std::array::from_fn(|_| segment(src.next(), c0)),
                std::array::from_fn(|_| segment_mut(dst.next().map(|s| &mut s[..]), r0)),
            );
        }
        #[cfg(target_arch = "x86_64")]
        if AVX512 && whole < n {
            // SAFETY: `AVX512` is set only by callers compiled for AVX-512 on a CPU that has it.
            unsafe { rows_tail_avx512(rows, n, whole, &mut slots[whole..n], r0) };
            continue;
        }
        for (c, slot) in slots.iter_mut().enumerate().skip(whole) {
            for (x, row) in slot[r0..r0 + TILE].iter_mut().zip(rows.chunks_exact(n)) {
                *x = row[c];
            }
        }
    }
}

/// `rows[r * n + c] = slots[c][r]`: the inverse of `rows_to_slots_body`.
#[inline(always)]
fn slots_to_rows_body<const AVX512: bool>(slots: &[Lanes], n: usize, rows: &mut [f64]) {
    let whole = n - n % TILE;
    for (r0, rows) in (0..LANES)
        .step_by(TILE)
        .zip(rows.chunks_exact_mut(TILE * n))
    {
        for c0 in (0..whole).step_by(TILE) {
            let mut src = slots[c0..c0 + TILE].iter();
            let mut dst = rows.chunks_exact_mut(n);
            tile::<AVX512>(
                std::array::from_fn(|_| segment(src.next().map(|s| &s[..]), r0)),
                std::array::from_fn(|_| segment_mut(dst.next(), c0)),
            );
        }
        #[cfg(target_arch = "x86_64")]
        if AVX512 && whole < n {
            // SAFETY: as in `rows_to_slots_body`.
            unsafe { slots_tail_avx512(&slots[whole..n], n, whole, rows, r0) };
            continue;
        }
        for (c, slot) in slots.iter().enumerate().skip(whole) {
            for (&x, row) in slot[r0..r0 + TILE].iter().zip(rows.chunks_exact_mut(n)) {
                row[c] = x;
            }
        }
    }
}

/// The `TILE` numbers of `line` from `at` (a tile's row: `line` is one of `TILE` there are).
#[inline(always)]
fn segment(line: Option<&[f64]>, at: usize) -> &[f64; TILE] {
    let line = line.expect("a tile has TILE rows");
    line[at..at + TILE]
        .try_into()
        .expect("a tile's row has TILE numbers")
}

/// `segment`, to write.
#[inline(always)]
fn segment_mut(line: Option<&mut [f64]>, at: usize) -> &mut [f64; TILE] {
    let line = line.expect("a tile has TILE rows");
    (&mut line[at..at + TILE])
        .try_into()
        .expect("a tile's row has TILE numbers")
}

/// Lane blocks kept between batch calls, at most one per core: a batch's thread `i` takes
/// block `i` and gives it back, so a loop of small batches (a training step over a hundred rows)
/// neither allocates nor faults in fresh pages for its scratch each call, and each block stays
/// in the cache of the core whose worker (`crate::pool`) uses it. Only blocks up to
/// `KEEP_BYTES` are kept, so a huge tape holds no memory between calls. A clone of the tape
/// starts with none. Also `grad_sum_into`'s last `Plan::shared_lane_slots` (a scan of the
/// whole plan, about as long as a lane block's forward pass on the moons model), with its `k`.
#[derive(Default)]
pub(super) struct Scratch {
    blocks: std::sync::Mutex<Vec<Option<Block>>>,
    lane_slots: std::sync::Mutex<Option<(usize, std::sync::Arc<[u32]>)>>,
}

/// `grad_sum_into` runs up to this many rows past a thread's last whole lane block one point at
/// a time (bit for bit what lanes give each row), instead of in a block of `LANES` lanes.
const POINT_TAIL: usize = 2;

/// The least work (rows × slots) a batch needs before it runs on more than one thread: below
/// it, handing rows to a worker (`crate::pool`) costs more than it saves (W4, 83 slots, gains
/// from a second thread from about 500 rows).
pub(super) const THREAD_WORK: usize = 40_000;

/// `THREAD_WORK` for `grad_sum_into`, whose threads each also gather and add up a gradient of
/// their own (about 2 µs for the moons model's 337 parameters): a second thread pays from about
/// 300 rows there.
const SUM_THREAD_WORK: usize = 150_000;

/// How many jobs `split` cuts a batch into per thread: enough that the threads finish within a
/// small job of each other, however late one of them starts (each job is whole lane blocks).
const JOBS_PER_THREAD: usize = 32;

/// The largest block (values and adjoints) a tape keeps between calls.
const KEEP_BYTES: usize = 4 << 20;

impl Clone for Scratch {
    fn clone(&self) -> Scratch {
        Scratch::default()
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

impl Block {
    fn bytes(&self) -> usize {
        (self.vals.len() + self.adj.len()) * std::mem::size_of::<Lanes>()
            + self.parts.len() * std::mem::size_of::<Parts>()
    }
}

impl Tape {
    /// A block for thread `at` of a batch: the one it kept when there is one (its constants
    /// are filled; inputs and results are overwritten before they are read), else a new one.
    pub(super) fn block(&self, at: usize, adjoints: bool) -> Result<Block, TapeError> {
        let kept = self
            .scratch
            .blocks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get_mut(at)
            .and_then(Option::take);
        match kept {
            Some(mut block) => {
                if adjoints && block.adj.len() != block.vals.len() {
                    block.adj = LaneVec::new(block.vals.len(), "a batch's scratch adjoints")?;
                }
                Ok(block)
            }
            None => Block::new(&self.plan, adjoints),
        }
    }

    /// `Plan::shared_lane_slots(k)`, computed once for the `k` the calls use.
    fn shared_lane_slots(&self, k: usize) -> std::sync::Arc<[u32]> {
        let mut cached = self
            .scratch
            .lane_slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*cached {
            Some((at, slots)) if *at == k => std::sync::Arc::clone(slots),
            _ => {
                let slots: std::sync::Arc<[u32]> = self.plan.shared_lane_slots(k).into();
                *cached = Some((k, std::sync::Arc::clone(&slots)));
                slots
            }
        }
    }

    /// Gives `block` back for the next batch call (dropped when too big or enough are kept),
    /// its adjoints all zero again.
    pub(super) fn keep(&self, at: usize, mut block: Block) {
        if block.bytes() > KEEP_BYTES {
            return;
        }
        block.clear_inputs(0..self.n_inputs);
        self.keep_cleared(at, block);
    }

    /// `keep` for a block whose adjoints are already all zero.
    fn keep_cleared(&self, at: usize, block: Block) {
        if block.bytes() > KEEP_BYTES || at >= cores() {
            return;
        }
        let mut kept = self
            .scratch
            .blocks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() <= at {
            kept.resize_with(at + 1, || None);
        }
        kept[at] = Some(block);
    }

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
        let work = |block: &mut Block, (xs, values): (&[f64], &mut [f64])| {
            for (xs, values) in xs.chunks(LANES * n).zip(values.chunks_mut(LANES * k)) {
                block.load(&ops, xs, n);
                self.plan.forward_lanes(&ops, &mut block.vals);
                for (l, row) in values.chunks_exact_mut(k).enumerate() {
                    for (v, &out) in row.iter_mut().zip(outs) {
                        *v = block.vals[out as usize][l];
                    }
                }
            }
            Ok(())
        };
        let (threads, per) = self.split(rows, threads);
        let jobs = xs.chunks(per * n).zip(values.chunks_mut(per * k));
        self.run_jobs(jobs, threads, false, work)
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
        let work = |block: &mut Block, ((xs, values), grads): Job3<'_>| {
            let blocks = xs
                .chunks(LANES * n)
                .zip(values.chunks_mut(LANES))
                .zip(grads.chunks_mut(LANES * n));
            for ((xs, values), grads) in blocks {
                block.load(&ops, xs, n);
                self.plan.forward_lanes(&ops, &mut block.vals);
                self.plan.reverse_lanes(&ops, &block.vals, &mut block.adj);
                values.copy_from_slice(&block.vals[out][..values.len()]);
                block.unload_gradients(&ops, grads, n);
            }
            Ok(())
        };
        let (threads, per) = self.split(rows, threads);
        let jobs = xs
            .chunks(per * n)
            .zip(values.chunks_mut(per))
            .zip(grads.chunks_mut(per * n));
        self.run_jobs(jobs, threads, true, work)
    }

    /// The output at every row and the gradient summed over the rows, for a batch whose first
    /// `shared.len()` inputs are the same at every row (a model's parameters) and whose other
    /// inputs come from the rows of `xs` (row-major, `n_inputs - shared.len()` columns: one
    /// example's data). Writes each row's output to `values` and the sum over the rows of the
    /// gradient with respect to the shared inputs to `grad` (`shared.len()` numbers).
    ///
    /// The shared inputs are loaded once per thread, not once per row, and no per-row gradient
    /// leaves the lanes. Each thread's sweeps add row `r`'s gradient into lane `r % LANES` of
    /// the shared inputs' adjoints, which are not cleared between its lane blocks (its last,
    /// shorter block first, then the others in order), except for what dot steps add to a
    /// shared input (a layer's weights): that goes into `PARTS` partial sums per input, lane
    /// `r % LANES` into part `r % PARTS`, so the weights need neither a lane block of values
    /// nor one of adjoints. Up to `POINT_TAIL` rows past its last whole block run one point at
    /// a time instead, summed in row order. The sum is then taken thread by thread (the lanes
    /// in order, then the parts in order, then those rows), so the same rows on the same
    /// number of threads give the same bits.
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
        // The shared inputs only dot steps read need no lane block: their slots are neither
        // filled nor summed (their adjoints stay zero: their increments go to `parts`).
        let lane_slots = self.shared_lane_slots(k);
        let work = |at: usize, xs: &[f64], values: &mut [f64]| -> Result<Sums, TapeError> {
            // A few rows past the last whole lane block run one point at a time: a block of
            // their own would cost more than they do.
            let tail = values.len() % LANES;
            let points = if tail <= POINT_TAIL { tail } else { 0 };
            let (xs, point_xs) = xs.split_at(xs.len() - points * d);
            let (values, point_values) = values.split_at_mut(values.len() - points);
            let mut point_sums = Vec::new();
            if points > 0 {
                point_sums = filled(k, 0.0, "a batch's gradient sums")?;
                let mut point = Vec::with_capacity(self.n_inputs);
                let (mut point_vals, mut point_adj) = (Vec::new(), Vec::new());
                for (row, value) in point_xs.chunks_exact(d).zip(point_values) {
                    point.clear();
                    point.extend_from_slice(shared);
                    point.extend_from_slice(row);
                    self.plan.forward(&point, &mut point_vals);
                    self.plan.reverse(&point_vals, &mut point_adj);
                    *value = point_vals[out];
                    for (s, a) in point_sums.iter_mut().zip(&point_adj) {
                        *s += a;
                    }
                }
            }
            let mut block = self.block(at, true)?;
            if block.parts.len() != k {
                block.parts = filled(k, [0.0; PARTS], "a batch's gradient sums")?;
            }
            let Block { vals, adj, parts } = &mut block;
            on_isa(
                ops.isa(),
                #[inline(always)]
                || {
                    for &s in lane_slots.iter() {
                        vals[s as usize] = [shared[s as usize]; LANES];
                    }
                },
            );
            // The shared inputs' adjoints (zero to start with) gather every block's gradient
            // lane by lane, but for dot steps' increments, which `parts` gathers. The last
            // block, when it has fewer than `LANES` rows, goes first, and its unused lanes'
            // adjoints are cleared after its sweep, whatever those lanes computed (stale
            // rows); they add nothing to `parts`.
            let blocks = xs.chunks(LANES * d).zip(values.chunks_mut(LANES));
            for (xs, values) in blocks.rev() {
                for (l, row) in xs.chunks_exact(d).enumerate() {
                    for (slot, &x) in vals[k..].iter_mut().zip(row) {
                        slot[l] = x;
                    }
                }
                let len = values.len();
                self.plan.forward_lanes_shared(&ops, shared, vals, len);
                self.plan
                    .reverse_lanes_shared(&ops, shared, vals, adj, parts, len);
                if len < LANES {
                    for &s in lane_slots.iter() {
                        for (l, x) in adj[s as usize].iter_mut().enumerate() {
                            *x = if l < len { *x } else { 0.0 };
                        }
                    }
                }
                values.copy_from_slice(&vals[out][..len]);
                adj[k..self.n_inputs].as_flattened_mut().fill(0.0);
            }
            Ok(Sums {
                block,
                points: point_sums,
            })
        };
        let per = self.rows_per_thread(rows, threads, SUM_THREAD_WORK);
        let chunks = xs.chunks(per * d).zip(values.chunks_mut(per));
        let blocks = on_threads(chunks.collect(), |at, (xs, values)| work(at, xs, values))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        grad.fill(0.0);
        for (at, Sums { mut block, points }) in blocks.into_iter().enumerate() {
            // The shared inputs' adjoints and parts are cleared as they are summed, and the
            // others' adjoints were after each sweep.
            on_isa(
                ops.isa(),
                #[inline(always)]
                || {
                    add_lanes(grad, &mut block.adj, &lane_slots);
                    add_parts_into(grad, &mut block.parts);
                },
            );
            for (g, s) in grad.iter_mut().zip(points) {
                *g += s;
            }
            self.keep_cleared(at, block);
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

    /// How many threads a batch of `rows` runs on, and the rows of each job they share out:
    /// whole lane blocks, about `JOBS_PER_THREAD` jobs per thread, so that a thread the machine
    /// starts late (another program has its core) takes fewer jobs instead of holding the
    /// batch up. One thread and one job when `batch_threads` gives one.
    pub(super) fn split(&self, rows: usize, threads: usize) -> (usize, usize) {
        match self.batch_threads(rows, threads, THREAD_WORK) {
            1 => (1, rows.max(1)),
            threads => (
                threads,
                rows.div_ceil(JOBS_PER_THREAD * threads)
                    .next_multiple_of(LANES),
            ),
        }
    }

    /// The threads a batch of `rows` runs on: `threads`, clamped to the core count (so scratch
    /// memory stays at most `cores × plan_len × 512` bytes, 256 without adjoints, however many
    /// are asked for) and to one per lane block; one when the batch is too small for a thread
    /// to pay for itself (rows × slots below `least`: `THREAD_WORK`, or `SUM_THREAD_WORK` for
    /// `grad_sum_into`).
    fn batch_threads(&self, rows: usize, threads: usize, least: usize) -> usize {
        let threads = threads.clamp(1, cores()).min(rows.div_ceil(LANES).max(1));
        if rows * self.plan.n_slots() < least {
            1
        } else {
            threads
        }
    }

    /// Runs `work` on every job of `jobs` on `threads` threads, the calling one among them:
    /// each takes the next job left until there is none, with one block of its own (taken
    /// from the tape's kept ones, `adjoints` as `Block::new`, only once it has a job) that it
    /// gives back at the end. Every row is computed the same way whichever thread runs it.
    /// The first error, after every thread has stopped.
    pub(super) fn run_jobs<I>(
        &self,
        jobs: I,
        threads: usize,
        adjoints: bool,
        work: impl Fn(&mut Block, I::Item) -> Result<(), TapeError> + Sync,
    ) -> Result<(), TapeError>
    where
        I: Iterator + Send,
    {
        let queue = std::sync::Mutex::new(jobs);
        let next = || {
            queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .next()
        };
        let worker = |at: usize| -> Result<(), TapeError> {
            let mut block: Option<Block> = None;
            while let Some(job) = next() {
                let b = match &mut block {
                    Some(b) => b,
                    None => block.insert(self.block(at, adjoints)?),
                };
                work(b, job)?;
            }
            if let Some(b) = block {
                self.keep(at, b);
            }
            Ok(())
        };
        if threads <= 1 {
            return worker(0);
        }
        let results = crate::pool::map(threads, worker);
        results.into_iter().fold(Ok(()), Result::and)
    }

    /// Rows per thread: one chunk per thread of `batch_threads(rows, threads, least)` (a whole
    /// number of lane blocks), a single chunk when that is one thread.
    pub(super) fn rows_per_thread(&self, rows: usize, threads: usize, least: usize) -> usize {
        match self.batch_threads(rows, threads, least) {
            1 => rows.max(1),
            threads => rows.div_ceil(threads).next_multiple_of(LANES),
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

/// `grad[s] += adj[s][0]`, then `+= adj[s][1]`, ... lane by lane in order, for every slot `s` of
/// `slots`, leaving those adjoints zero: eight slots at a time, so that eight sums are under
/// way at once instead of one chain of dependent additions (the same additions in the same
/// order per slot).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane `l` of several slots, in lane order.
fn add_lanes(grad: &mut [f64], adj: &mut [Lanes], slots: &[u32]) {
    const WIDTH: usize = 8;
    for group in slots.chunks(WIDTH) {
        let mut acc = [0.0; WIDTH];
        for (a, &s) in acc.iter_mut().zip(group) {
            *a = grad[s as usize];
        }
        for l in 0..LANES {
            for (a, &s) in acc.iter_mut().zip(group) {
                *a += adj[s as usize][l];
            }
        }
        for (a, &s) in acc.iter().zip(group) {
            grad[s as usize] = *a;
            adj[s as usize] = [0.0; LANES];
        }
    }
}

/// `grad[i] += parts[i][0] + parts[i][1] + ...`, added one part at a time in order, then the
/// parts cleared: `WIDTH` inputs side by side, so that the additions, each input's in its own
/// order, run as vectors.
#[inline(always)]
fn add_parts_into(grad: &mut [f64], parts: &mut [Parts]) {
    const WIDTH: usize = 8;
    #[inline(always)]
    fn add<const W: usize>(acc: &mut [f64; W], parts: &mut [Parts; W]) {
        for j in 0..PARTS {
            for (a, p) in acc.iter_mut().zip(parts.iter()) {
                *a += p[j];
            }
        }
        *parts = [[0.0; PARTS]; W];
    }
    let mut grads = grad.chunks_exact_mut(WIDTH);
    let mut groups = parts.chunks_exact_mut(WIDTH);
    for (g, p) in (&mut grads).zip(&mut groups) {
        let g: &mut [f64; WIDTH] = g.try_into().expect("chunks of WIDTH");
        add(g, p.try_into().expect("chunks of WIDTH"));
    }
    for (g, p) in grads
        .into_remainder()
        .iter_mut()
        .zip(groups.into_remainder())
    {
        add(std::array::from_mut(g), std::array::from_mut(p));
    }
}

/// Runs `f`, a small loop over lane blocks, compiled for `isa` (which the CPU must have, as
/// `LaneOps::isa` guarantees): `f` is inlined into a function with that set's features when the
/// closure is marked `#[inline(always)]` (without it the compiler may keep it a call, compiled
/// for the baseline).
#[inline(always)]
fn on_isa<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
    unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
    match isa {
        // SAFETY (each call): the caller's `isa` is one the running CPU has.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2(f) },
        _ => f(),
    }
}

/// The threads a batch may use: the machine's cores (read once).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` on each of `chunks`, one thread each (the first on this one; see `crate::pool`), the
/// results in order.
pub(super) fn on_threads<T: Send, R: Send>(
    chunks: Vec<T>,
    f: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    let chunks: Vec<std::sync::Mutex<Option<T>>> = chunks
        .into_iter()
        .map(|c| std::sync::Mutex::new(Some(c)))
        .collect();
    crate::pool::map(chunks.len(), |i| {
        let chunk = chunks[i].lock().unwrap_or_else(|p| p.into_inner()).take();
        f(i, chunk.expect("each chunk is taken once"))
    })
}

pub(super) fn check_out(len: usize, expected: usize) -> Result<(), TapeError> {
    if len != expected {
        return Err(TapeError::OutputLength { expected, got: len });
    }
    Ok(())
}
