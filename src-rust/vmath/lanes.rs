//! The compiled tape's per-instruction lane operations, dispatched to the vectorised loops:
//! what the tape's lane evaluator calls for each instruction in place of the op table's
//! per-lane formulas. In [`Precision::Default`] every result is bit for bit the op table's
//! (the arithmetic loops compute the same formulas; the elementary functions stay libm per
//! lane); in [`Precision::Fast`] `exp`, `log`, `sin`, `cos`, `tan`, `tanh` and `sigmoid` and
//! their backward steps use the fast functions.

use super::Kernels;
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
#[derive(Clone, Copy)]
pub struct LaneOps {
    k: &'static Kernels,
    fast: bool,
}

impl LaneOps {
    /// The loops of `k` in `precision`.
    pub fn new(k: &'static Kernels, precision: Precision) -> LaneOps {
        LaneOps {
            k,
            fast: precision == Precision::Fast,
        }
    }

    /// With the best copy for this CPU.
    pub fn best(precision: Precision) -> LaneOps {
        LaneOps::new(super::kernels(), precision)
    }

    /// `z = op(x)` (`p` is leaky ReLU's slope).
    #[inline]
    pub fn unary_forward(&self, code: Code, x: &Lanes, p: f64, z: &mut Lanes) {
        let k = self.k;
        let f = match code {
            Code::Neg => k.neg,
            Code::Relu => k.relu,
            Code::Abs => k.abs,
            Code::Sqrt => k.sqrt,
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
    #[inline]
    pub fn unary_backward(&self, code: Code, [x, z, g]: [&Lanes; 3], p: f64, dx: &mut Lanes) {
        let k = self.k;
        let f = match code {
            Code::Neg => return (k.neg)(g, dx),
            Code::Relu => return (k.relu_backward)(x, g, dx),
            Code::Abs => return (k.abs_backward)(x, g, dx),
            Code::Sqrt => k.sqrt_backward,
            Code::Exp => k.exp_backward,
            Code::Log => k.log_backward,
            Code::Sin if self.fast => k.sin_backward,
            Code::Cos if self.fast => k.cos_backward,
            Code::Tan if self.fast => k.tan_backward,
            Code::Tanh if self.fast => k.tanh_backward,
            Code::Sigmoid if self.fast => k.sigmoid_backward,
            _ => return unary_backward_lanes(code, [x, z, g], p, dx),
        };
        f(x, z, g, dx)
    }

    /// `z = x op y`.
    #[inline]
    pub fn binary_forward(&self, code: Code, x: &Lanes, y: &Lanes, z: &mut Lanes) {
        let k = self.k;
        let f = match code {
            Code::Add => k.add,
            Code::Sub => k.sub,
            Code::Mul => k.mul,
            Code::Div => k.div,
            _ => return binary_forward_lanes(code, x, y, z),
        };
        f(x, y, z)
    }

    /// `(dx, dy)` for `z = x op y`.
    #[inline]
    pub fn binary_backward(
        &self,
        code: Code,
        [x, y, z, g]: [&Lanes; 4],
        dx: &mut Lanes,
        dy: &mut Lanes,
    ) {
        let k = self.k;
        match code {
            Code::Add => {
                *dx = *g;
                *dy = *g;
            }
            Code::Sub => {
                *dx = *g;
                (k.neg)(g, dy);
            }
            Code::Mul => {
                (k.mul)(y, g, dx);
                (k.mul)(x, g, dy);
            }
            Code::Div => {
                (k.div)(g, y, dx);
                (k.div_backward_y)(y, z, g, dy);
            }
            _ => binary_backward_lanes(code, [x, y, z, g], dx, dy),
        }
    }

    /// One operand's increment for `z = x op y` (`right` picks `y`); the other is a constant.
    #[inline]
    pub fn binary_backward_one(
        &self,
        code: Code,
        [x, y, z, g]: [&Lanes; 4],
        right: bool,
        d: &mut Lanes,
    ) {
        let k = self.k;
        match (code, right) {
            (Code::Add, _) | (Code::Sub, false) => *d = *g,
            (Code::Sub, true) => (k.neg)(g, d),
            (Code::Mul, false) => (k.mul)(y, g, d),
            (Code::Mul, true) => (k.mul)(x, g, d),
            (Code::Div, false) => (k.div)(g, y, d),
            (Code::Div, true) => (k.div_backward_y)(y, z, g, d),
            _ => binary_backward_one_lanes(code, [x, y, z, g], right, d),
        }
    }

    /// `z = x · x`.
    #[inline]
    pub fn square(&self, x: &Lanes, z: &mut Lanes) {
        (self.k.square)(x, z)
    }

    /// `dx = 2 · x · g` for `z = x · x`.
    #[inline]
    pub fn square_backward(&self, x: &Lanes, g: &Lanes, dx: &mut Lanes) {
        (self.k.square_backward)(x, g, dx)
    }

    /// `acc += d`.
    #[inline]
    pub fn accumulate(&self, acc: &mut Lanes, d: &Lanes) {
        (self.k.accumulate)(acc, d)
    }

    /// `acc += w · x`.
    #[inline]
    pub fn dot_accumulate(&self, acc: &mut Lanes, w: &Lanes, x: &Lanes) {
        (self.k.dot_accumulate)(acc, w, x)
    }

    /// A dot step: `z = Σ_j vals[ws[j]] · vals[xs[j]]`, from 0 in `j` order (what
    /// `dot_accumulate` term by term gives).
    #[inline]
    pub fn dot(&self, vals: &[Lanes], ws: &[u32], xs: &[u32], z: &mut Lanes) {
        (self.k.dot)(vals, ws, xs, z)
    }

    /// A dot step's backward from its adjoint `g`: per term in order, `adj[w] += x · g` then
    /// `adj[x] += w · g`.
    #[inline]
    pub fn dot_backward(
        &self,
        vals: &[Lanes],
        ws: &[u32],
        xs: &[u32],
        g: &Lanes,
        adj: &mut [Lanes],
    ) {
        (self.k.dot_backward)(vals, ws, xs, g, adj)
    }

    /// A sum step: `z = Σ_j vals[xs[j]]`, from 0 in order.
    #[inline]
    pub fn sum(&self, vals: &[Lanes], xs: &[u32], z: &mut Lanes) {
        (self.k.sum)(vals, xs, z)
    }

    /// A sum step's backward: `adj[x] += g` for each operand `x`, in order.
    #[inline]
    pub fn sum_backward(&self, xs: &[u32], g: &Lanes, adj: &mut [Lanes]) {
        (self.k.sum_backward)(xs, g, adj)
    }

    /// `dx = a · b` (the dot product's backward: `w`'s increment is `x · g`).
    #[inline]
    pub fn mul(&self, a: &Lanes, b: &Lanes, dx: &mut Lanes) {
        (self.k.mul)(a, b, dx)
    }
}

/// A block of one constant, for ops with a constant operand.
#[inline]
pub fn splat(c: f64) -> Lanes {
    [c; LANES]
}
