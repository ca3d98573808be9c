//! The compiled tape's per-instruction lane operations, dispatched to the vectorised loops:
//! what the tape's lane evaluator calls for each instruction in place of the op table's
//! per-lane formulas. In [`Precision::Default`] every result is bit for bit the op table's
//! (the arithmetic loops compute the same formulas; the elementary functions stay libm per
//! lane); in [`Precision::Fast`] `exp`, `log`, `sin`, `cos`, `tan`, `tanh` and `sigmoid` and
//! their backward steps use the fast functions.

use super::{kernels, Dense, Isa, Kernels, Parts};
use crate::ops::{
    binary_backward_lanes, binary_backward_one_lanes, binary_forward_lanes, unary_backward_lanes,
    unary_forward_lanes, Code,
};
use crate::scalar::{Lanes, LANES};

/// How a batch computes the elementary functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// The op table's formulas with libm: bit for bit a single point, or the graph.
    #[default]
    Default,
    /// Vectorised `exp`, `log`, `sin`, `cos`, `tan`, `tanh`, `sigmoid` within the bounds in
    /// docs/ops.md; everything else as in `Default`.
    Fast,
}

impl Precision {
    /// `"default"` or `"fast"`.
    pub fn from_name(name: &str) -> Option<Precision> {
        match name {
            "default" => Some(Precision::Default),
            "fast" => Some(Precision::Fast),
            _ => None,
        }
    }

    /// The name Python passes for it: "default" or "fast".
    pub fn name(self) -> &'static str {
        match self {
            Precision::Default => "default",
            Precision::Fast => "fast",
        }
    }
}

/// One batch's choice of loops: the instruction set's copy and the precision.
///
/// The arithmetic loops (and the default-mode forms of the backward steps) are called
/// directly and inlined into the caller, so that a whole pass compiled for one instruction
/// set (the tape's `forward_lanes` and reverse sweep, with [`LaneOps::isa`] naming the set
/// the CPU has been checked for) runs them with no call per instruction; the fast
/// elementary functions are called through the copy's table.
#[derive(Clone, Copy)]
pub struct LaneOps {
    k: &'static Kernels,
    fast: bool,
    isa: Isa,
}

impl LaneOps {
    /// The loops of `k` in `precision`.
    pub fn new(k: &'static Kernels, precision: Precision) -> LaneOps {
        LaneOps {
            k,
            fast: precision == Precision::Fast,
            // Checked here, so that a pass may rely on it to run code compiled for `isa`.
            isa: if k.isa.supported() {
                k.isa
            } else {
                Isa::Baseline
            },
        }
    }

    /// With the best copy for this CPU.
    pub fn best(precision: Precision) -> LaneOps {
        LaneOps::new(super::kernels(), precision)
    }

    /// The instruction set of these loops, which the running CPU has.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// `z = op(x)` (`p` is leaky ReLU's slope).
    #[inline(always)]
    pub fn unary_forward(&self, code: Code, x: &Lanes, p: f64, z: &mut Lanes) {
        let k = self.k;
        let f = match code {
            Code::Neg => return kernels::neg(x, z),
            Code::Relu => return kernels::relu(x, z),
            Code::Abs => return kernels::abs(x, z),
            Code::Sqrt => return kernels::sqrt(x, z),
            Code::Exp if self.fast => k.exp,
            Code::Log if self.fast => k.log,
            Code::Sin if self.fast => k.sin,
            Code::Cos if self.fast => k.cos,
            Code::Tan if self.fast => k.tan,
            Code::Tanh if self.fast => k.tanh,
            Code::Sigmoid if self.fast => k.sigmoid,
            _ => return unary_forward_lanes(code, x, p, z),
        };
        f(x, z)
    }

    /// `dx = ∂z/∂x · g` for `z = op(x)`.
    #[inline(always)]
    pub fn unary_backward(&self, code: Code, [x, z, g]: [&Lanes; 3], p: f64, dx: &mut Lanes) {
        // -0 is the identity of IEEE addition (0 is not: 0 + -0 = 0).
        dx.fill(-0.0);
        self.unary_backward_add(code, [x, z, g], p, dx);
    }

    /// `acc += ∂z/∂x · g` for `z = op(x)`: `unary_backward`'s increment added in.
    #[inline(always)]
    pub fn unary_backward_add(&self, code: Code, [x, z, g]: [&Lanes; 3], p: f64, acc: &mut Lanes) {
        let k = self.k;
        let f = match code {
            Code::Neg => return kernels::accumulate_neg(acc, g),
            Code::Relu => return kernels::accumulate_relu(acc, x, g),
            Code::Abs => return kernels::accumulate_abs(acc, x, g),
            Code::Sqrt => return kernels::accumulate_sqrt(acc, z, g),
            Code::Exp => return kernels::dot_accumulate(acc, z, g),
            Code::Log => return kernels::accumulate_quotient(acc, g, x),
            Code::Sin if self.fast => k.sin_backward,
            Code::Cos if self.fast => k.cos_backward,
            Code::Tan if self.fast => k.tan_backward,
            Code::Tanh if self.fast => k.tanh_backward,
            Code::Sigmoid if self.fast => k.sigmoid_backward,
            _ => {
                let mut dx = [0.0; LANES];
                unary_backward_lanes(code, [x, z, g], p, &mut dx);
                return kernels::accumulate(acc, &dx);
            }
        };
        let mut dx = [0.0; LANES];
        f(x, z, g, &mut dx);
        kernels::accumulate(acc, &dx)
    }

    /// `z = x op y`.
    #[inline(always)]
    pub fn binary_forward(&self, code: Code, x: &Lanes, y: &Lanes, z: &mut Lanes) {
        match code {
            Code::Add => kernels::add(x, y, z),
            Code::Sub => kernels::sub(x, y, z),
            Code::Mul => kernels::mul(x, y, z),
            Code::Div => kernels::div(x, y, z),
            _ => binary_forward_lanes(code, x, y, z),
        }
    }

    /// `z = x op k`, or `z = k op x` when `right` (`k` one number for every lane: the
    /// arithmetic ops take it as it is, in a register, where a block of it would be built
    /// on the stack and read back).
    #[inline(always)]
    pub fn binary_forward_k(&self, code: Code, x: &Lanes, k: f64, right: bool, z: &mut Lanes) {
        match (code, right) {
            (Code::Add, false) => kernels::map_k(x, z, |x| x + k),
            (Code::Add, true) => kernels::map_k(x, z, |x| k + x),
            (Code::Sub, false) => kernels::map_k(x, z, |x| x - k),
            (Code::Sub, true) => kernels::map_k(x, z, |x| k - x),
            (Code::Mul, false) => kernels::map_k(x, z, |x| x * k),
            (Code::Mul, true) => kernels::map_k(x, z, |x| k * x),
            (Code::Div, false) => kernels::map_k(x, z, |x| x / k),
            (Code::Div, true) => kernels::map_k(x, z, |x| k / x),
            (_, false) => binary_forward_lanes(code, x, &splat(k), z),
            (_, true) => binary_forward_lanes(code, &splat(k), x, z),
        }
    }

    /// `(dx, dy)` for `z = x op y`.
    #[inline(always)]
    pub fn binary_backward(
        &self,
        code: Code,
        [x, y, z, g]: [&Lanes; 4],
        dx: &mut Lanes,
        dy: &mut Lanes,
    ) {
        let mut adj = [[-0.0; LANES]; 2];
        self.binary_backward_add(code, [x, y, z, g], &mut adj, 0, 1);
        [*dx, *dy] = adj;
    }

    /// `adj[i] += ∂z/∂x · g`, then `adj[j] += ∂z/∂y · g`, for `z = x op y`: `binary_backward`'s
    /// increments added in, in that order (`i` and `j` may be the same slot).
    #[inline(always)]
    pub fn binary_backward_add(
        &self,
        code: Code,
        [x, y, z, g]: [&Lanes; 4],
        adj: &mut [Lanes],
        i: u32,
        j: u32,
    ) {
        let (i, j) = (i as usize, j as usize);
        match code {
            Code::Add => {
                kernels::accumulate(&mut adj[i], g);
                kernels::accumulate(&mut adj[j], g);
            }
            Code::Sub => {
                kernels::accumulate(&mut adj[i], g);
                kernels::accumulate_neg(&mut adj[j], g);
            }
            Code::Mul => {
                kernels::dot_accumulate(&mut adj[i], y, g);
                kernels::dot_accumulate(&mut adj[j], x, g);
            }
            Code::Div => {
                // One division for both: `y`'s increment is `-(dx · z)`.
                let mut dx = [0.0; LANES];
                kernels::div(g, y, &mut dx);
                kernels::accumulate(&mut adj[i], &dx);
                kernels::accumulate_neg_product(&mut adj[j], &dx, z);
            }
            _ => {
                let (mut dx, mut dy) = ([0.0; LANES], [0.0; LANES]);
                binary_backward_lanes(code, [x, y, z, g], &mut dx, &mut dy);
                kernels::accumulate(&mut adj[i], &dx);
                kernels::accumulate(&mut adj[j], &dy);
            }
        }
    }

    /// `acc +=` one operand's increment for `z = x op k` (`z = k op x` when `right`, the
    /// increment then `y`'s), `k` one number (see `binary_forward_k`).
    #[inline(always)]
    pub fn binary_backward_k_add(
        &self,
        code: Code,
        [x, z, g]: [&Lanes; 3],
        k: f64,
        right: bool,
        acc: &mut Lanes,
    ) {
        match (code, right) {
            (Code::Add, _) | (Code::Sub, false) => kernels::accumulate(acc, g),
            (Code::Sub, true) => kernels::accumulate_neg(acc, g),
            // `y · g` and `x · g` of `Mul` (the product commutes).
            (Code::Mul, _) => kernels::dot_accumulate_scalar(acc, k, g),
            (Code::Div, false) => kernels::accumulate_quotient_k(acc, g, k),
            (Code::Div, true) => kernels::accumulate_div_y(acc, x, z, g),
            _ => {
                let mut d = [0.0; LANES];
                let k = splat(k);
                let xy = if right { [&k, x] } else { [x, &k] };
                binary_backward_one_lanes(code, [xy[0], xy[1], z, g], right, &mut d);
                kernels::accumulate(acc, &d)
            }
        }
    }

    /// `z = x · x`.
    #[inline(always)]
    pub fn square(&self, x: &Lanes, z: &mut Lanes) {
        kernels::square(x, z)
    }

    /// `acc += 2 · x · g` for `z = x · x`.
    #[inline(always)]
    pub fn square_backward_add(&self, x: &Lanes, g: &Lanes, acc: &mut Lanes) {
        kernels::accumulate_square(acc, x, g)
    }

    /// `acc += d`.
    #[inline(always)]
    pub fn accumulate(&self, acc: &mut Lanes, d: &Lanes) {
        kernels::accumulate(acc, d)
    }

    /// A dot step: `z = Σ_j vals[ws[j]] · vals[xs[j]]`, from 0 in `j` order (a product then a
    /// sum per term).
    #[inline(always)]
    pub fn dot(&self, vals: &[Lanes], ws: &[u32], xs: &[u32], z: &mut Lanes) {
        kernels::dot(vals, ws, xs, z)
    }

    /// A dot step's backward from its adjoint `g`: per term in order, `adj[w] += x · g` then
    /// `adj[x] += w · g`.
    #[inline(always)]
    pub fn dot_backward(
        &self,
        vals: &[Lanes],
        ws: &[u32],
        xs: &[u32],
        g: &Lanes,
        adj: &mut [Lanes],
    ) {
        kernels::dot_backward(vals, ws, xs, g, adj)
    }

    /// `dot` where the slots below `shared.len()` are shared inputs, read from `shared`.
    #[inline(always)]
    pub fn dot_shared(
        &self,
        vals: &[Lanes],
        shared: &[f64],
        ws: &[u32],
        xs: &[u32],
        z: &mut Lanes,
    ) {
        kernels::dot_shared(vals, shared, ws, xs, z)
    }

    /// `dot_backward` where the slots below `shared.len()` are shared inputs, whose increments
    /// from the first `live` lanes go into `parts` (see `kernels::dot_backward_shared`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn dot_backward_shared(
        &self,
        vals: &[Lanes],
        shared: &[f64],
        ws: &[u32],
        xs: &[u32],
        g: &Lanes,
        adj: &mut [Lanes],
        parts: &mut [Parts],
        live: usize,
    ) {
        kernels::dot_backward_shared(vals, shared, ws, xs, g, adj, parts, live)
    }

    /// A dense layer's dot steps in one forward pass (see `kernels::dense_shared`).
    #[inline(always)]
    pub fn dense_shared(
        &self,
        vals: &[Lanes],
        shared: &[f64],
        layer: Dense<'_>,
        above: &mut [Lanes],
        live: usize,
    ) {
        kernels::dense_shared(vals, shared, layer, above, live)
    }

    /// A dense layer's dot steps in one backward (see `kernels::dense_backward_shared`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn dense_backward_shared(
        &self,
        vals: &[Lanes],
        shared: &[f64],
        layer: Dense<'_>,
        above: &[Lanes],
        adj: &mut [Lanes],
        parts: &mut [Parts],
        live: usize,
    ) {
        kernels::dense_backward_shared(vals, shared, layer, above, adj, parts, live)
    }

    /// A sum step: `z = Σ_j vals[xs[j]]`, from 0 in order.
    #[inline(always)]
    pub fn sum(&self, vals: &[Lanes], xs: &[u32], z: &mut Lanes) {
        kernels::sum(vals, xs, z)
    }

    /// A chain step: `z = ((k + vals[xs[0]]) + vals[xs[1]]) + ...`, without `k` when it is
    /// `None`.
    #[inline(always)]
    pub fn chain(&self, vals: &[Lanes], k: Option<f64>, xs: &[u32], z: &mut Lanes) {
        kernels::chain(vals, k, xs, z)
    }

    /// A sum step's backward: `adj[x] += g` for each operand `x`, in order.
    #[inline(always)]
    pub fn sum_backward(&self, xs: &[u32], g: &Lanes, adj: &mut [Lanes]) {
        kernels::sum_backward(xs, g, adj)
    }
}

/// A block of one constant, for ops with a constant operand.
#[inline]
pub fn splat(c: f64) -> Lanes {
    [c; LANES]
}
