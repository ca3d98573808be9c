//! Vectorised lane loops with runtime CPU dispatch, for the compiled tape's batches.
//!
//! Every function here works on one lane block (`Lanes`, `LANES` numbers side by side). The
//! loops are written once (`kernels.rs`) and compiled several times, each copy for one
//! instruction set: the x86-64 baseline (SSE2), AVX2 with FMA, and AVX-512 (F, DQ) with FMA.
//! [`kernels`] picks the best copy the running CPU has, once; nothing is compiled for the build
//! machine's CPU, so one wheel runs everywhere. On aarch64 (and any other target) only the
//! portable copy exists (on aarch64 it uses fused multiply-add, which the architecture always
//! has).
//!
//! Two kinds of function:
//!
//! - **Default-mode arithmetic** (`add`, `sub`, `mul`, `div`, `neg`, `relu`, `abs`, `square`,
//!   `sqrt`, the dot and accumulation loops and their backward forms): the op table's formulas
//!   exactly, one IEEE rounding per operation as written, never a fused multiply-add. Their
//!   results are bit for bit those of a single point, on every copy.
//! - **Fast elementary functions** (`exp`, `log`, `sin`, `cos`, `tan`, `tanh`, `sigmoid`, and
//!   the slopes the backward pass needs): polynomial approximations after argument reduction,
//!   for `precision="fast"`. Each is within the bound docs/ops.md states (one ulp for the values,
//!   at most two for the slopes) over the whole `f64` domain, checked against mpmath
//!   (`tests/test_vmath.py`); intermediate results are carried in two parts (`hi + lo`) and
//!   rounded once. Lanes outside a
//!   function's vector range (NaN, ±inf, results that would overflow or underflow, subnormal or
//!   non-positive logarithm arguments, trigonometric arguments beyond 10^6 or within 2^-40 of a
//!   multiple of π/2) are recomputed with libm, so special points are libm's. Results may
//!   differ in the last bits between instruction sets (with or without FMA), each within bound.

mod coeffs;
mod kernels;
mod lanes;
#[cfg(feature = "python")]
pub(crate) mod python;

use std::sync::OnceLock;

use crate::scalar::Lanes;

pub use kernels::{Dense, Parts, PARTS};
pub use lanes::{splat, LaneOps, Precision};

/// and of the slope the backward pass computes from it (`name'`), on every instruction set.
/// An instruction set a copy of the loops is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// The target's baseline: SSE2 on x86-64, NEON with FMA on aarch64.
    Baseline,
    /// x86-64 with AVX2 and FMA.
    Avx2Fma,
    /// x86-64 with AVX-512 F and DQ (and AVX2, FMA).
    Avx512,
}

impl Isa {
    /// Every instruction set this build carries a copy for, baseline first.
    pub const ALL: &'static [Isa] = if cfg!(target_arch = "x86_64") {
        &[Isa::Baseline, Isa::Avx2Fma, Isa::Avx512]
    } else {
        &[Isa::Baseline]
    };

    /// A short name for messages: "baseline", "avx2+fma" or "avx512".
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2Fma => "avx2+fma",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this build has a copy for `self` and the running CPU can execute it.
    pub fn supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2Fma.supported()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512dq")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// `z = f(x)` on each lane.
pub type Unary = fn(&Lanes, &mut Lanes);
/// `z = f(x, y)` on each lane.
pub type Binary = fn(&Lanes, &Lanes, &mut Lanes);
/// A backward step `dx = f(x, z, g)` on each lane: input, output, output's adjoint.
pub type Backward = fn(&Lanes, &Lanes, &Lanes, &mut Lanes);
/// `acc = f(acc, a, ...)` on each lane.
pub type Accumulate = fn(&mut Lanes, &Lanes);
/// `acc = f(acc, w, x)` on each lane.
pub type DotAccumulate = fn(&mut Lanes, &Lanes, &Lanes);

/// `z = Σ_j vals[ws[j]] · vals[xs[j]]` on each lane.
pub type Dot = fn(&[Lanes], &[u32], &[u32], &mut Lanes);
/// `adj[ws[j]] += vals[xs[j]] · g; adj[xs[j]] += vals[ws[j]] · g` for each `j`, on each lane.
pub type DotBackward = fn(&[Lanes], &[u32], &[u32], &Lanes, &mut [Lanes]);
/// `z = Σ_j vals[xs[j]]` on each lane.
pub type Sum = fn(&[Lanes], &[u32], &mut Lanes);
/// `adj[xs[j]] += g` for each `j`, on each lane.
pub type SumBackward = fn(&[u32], &Lanes, &mut [Lanes]);

/// One instruction set's copy of every loop.
pub struct Kernels {
    /// The instruction set these loops are compiled for.
    pub isa: Isa,
    // Default mode: bit for bit the scalar formulas.
    /// `z = x + y`.
    pub add: Binary,
    /// `z = x - y`.
    pub sub: Binary,
    /// `z = x · y`.
    pub mul: Binary,
    /// `z = x / y`.
    pub div: Binary,
    /// `z = -x`.
    pub neg: Unary,
    /// `z = max(x, 0)`.
    pub relu: Unary,
    /// `z = |x|`.
    pub abs: Unary,
    /// `z = x · x`.
    pub square: Unary,
    /// `z = √x`.
    pub sqrt: Unary,
    /// `dx = g` where `x > 0`, else 0: `relu_backward(x, g, dx)`.
    pub relu_backward: Binary,
    /// `dx = ±g` by the sign of `x`, 0 at 0: `abs_backward(x, g, dx)`.
    pub abs_backward: Binary,
    /// `dx = 2 · x · g`: `square_backward(x, g, dx)`.
    pub square_backward: Binary,
    /// `dy = -((g / y) · z)`: `div_backward_y(y, z, g, dy)`.
    pub div_backward_y: Backward,
    /// `dx = (0.5 / z) · g`: `sqrt_backward(x, z, g, dx)`.
    pub sqrt_backward: Backward,
    /// `acc += d`.
    pub accumulate: Accumulate,
    /// `acc += w · x`.
    pub dot_accumulate: DotAccumulate,
    /// A whole dot step: `dot(vals, ws, xs, z)`, `z = Σ_j vals[ws[j]] · vals[xs[j]]` in order.
    pub dot: Dot,
    /// A whole dot step's backward: `dot_backward(vals, ws, xs, g, adj)`.
    pub dot_backward: DotBackward,
    /// A whole sum step: `sum(vals, xs, z)`, `z = Σ_j vals[xs[j]]` in order.
    pub sum: Sum,
    /// A whole sum step's backward: `sum_backward(xs, g, adj)`, `adj[x] += g` per operand.
    pub sum_backward: SumBackward,
    // Fast mode: within `ULP_BOUNDS`.
    /// `z = exp(x)`, vectorised.
    pub exp: Unary,
    /// `z = log(x)`, vectorised.
    pub log: Unary,
    /// `z = sin(x)`, vectorised.
    pub sin: Unary,
    /// `z = cos(x)`, vectorised.
    pub cos: Unary,
    /// `z = tan(x)`, vectorised.
    pub tan: Unary,
    /// `z = tanh(x)`, vectorised.
    pub tanh: Unary,
    /// `z = sigmoid(x)`, vectorised.
    pub sigmoid: Unary,
    /// The derivative of `exp` times `g`: `exp_backward(x, z, g, dx)`.
    pub exp_backward: Backward,
    /// The derivative of `log` times `g`: `log_backward(x, z, g, dx)`.
    pub log_backward: Backward,
    /// The derivative of `sin` times `g`: `sin_backward(x, z, g, dx)`.
    pub sin_backward: Backward,
    /// The derivative of `cos` times `g`: `cos_backward(x, z, g, dx)`.
    pub cos_backward: Backward,
    /// The derivative of `tan` times `g`: `tan_backward(x, z, g, dx)`.
    pub tan_backward: Backward,
    /// The derivative of `tanh` times `g`: `tanh_backward(x, z, g, dx)`.
    pub tanh_backward: Backward,
    /// The derivative of `sigmoid` times `g`: `sigmoid_backward(x, z, g, dx)`.
    pub sigmoid_backward: Backward,
}

/// Calls `$callback! { $args ; <every loop as `name(args) = body;`> }`: the one list of loops
/// that each instruction set gets a copy of. `FMA` is the copy's constant.
macro_rules! kernel_list {
    ($callback:ident! { $($args:tt)* }) => {
        $callback! { $($args)* ;
            add(x: &Lanes, y: &Lanes, z: &mut Lanes) = k::add(x, y, z);
            sub(x: &Lanes, y: &Lanes, z: &mut Lanes) = k::sub(x, y, z);
            mul(x: &Lanes, y: &Lanes, z: &mut Lanes) = k::mul(x, y, z);
            div(x: &Lanes, y: &Lanes, z: &mut Lanes) = k::div(x, y, z);
            neg(x: &Lanes, z: &mut Lanes) = k::neg(x, z);
            relu(x: &Lanes, z: &mut Lanes) = k::relu(x, z);
            abs(x: &Lanes, z: &mut Lanes) = k::abs(x, z);
            square(x: &Lanes, z: &mut Lanes) = k::square(x, z);
            sqrt(x: &Lanes, z: &mut Lanes) = k::sqrt(x, z);
            relu_backward(x: &Lanes, g: &Lanes, dx: &mut Lanes) = k::relu_backward(x, g, dx);
            abs_backward(x: &Lanes, g: &Lanes, dx: &mut Lanes) = k::abs_backward(x, g, dx);
            square_backward(x: &Lanes, g: &Lanes, dx: &mut Lanes) = k::square_backward(x, g, dx);
            div_backward_y(y: &Lanes, z: &Lanes, g: &Lanes, dy: &mut Lanes) =
                k::div_backward_y(y, z, g, dy);
            sqrt_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::sqrt_backward(x, z, g, dx);
            accumulate(acc: &mut Lanes, d: &Lanes) = k::accumulate(acc, d);
            dot_accumulate(acc: &mut Lanes, w: &Lanes, x: &Lanes) = k::dot_accumulate(acc, w, x);
            dot(vals: &[Lanes], ws: &[u32], xs: &[u32], z: &mut Lanes) = k::dot(vals, ws, xs, z);
            dot_backward(vals: &[Lanes], ws: &[u32], xs: &[u32], g: &Lanes, adj: &mut [Lanes]) =
                k::dot_backward(vals, ws, xs, g, adj);
            sum(vals: &[Lanes], xs: &[u32], z: &mut Lanes) = k::sum(vals, xs, z);
            sum_backward(xs: &[u32], g: &Lanes, adj: &mut [Lanes]) = k::sum_backward(xs, g, adj);
            exp(x: &Lanes, z: &mut Lanes) = k::exp::<FMA>(x, z);
            log(x: &Lanes, z: &mut Lanes) = k::log::<FMA>(x, z);
            sin(x: &Lanes, z: &mut Lanes) = k::sin::<FMA>(x, z);
            cos(x: &Lanes, z: &mut Lanes) = k::cos::<FMA>(x, z);
            tan(x: &Lanes, z: &mut Lanes) = k::tan::<FMA>(x, z);
            tanh(x: &Lanes, z: &mut Lanes) = k::tanh::<FMA>(x, z);
            sigmoid(x: &Lanes, z: &mut Lanes) = k::sigmoid::<FMA>(x, z);
            exp_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::exp_backward(x, z, g, dx);
            log_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::log_backward(x, z, g, dx);
            sin_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::sin_backward::<FMA>(x, z, g, dx);
            cos_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::cos_backward::<FMA>(x, z, g, dx);
            tan_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::tan_backward::<FMA>(x, z, g, dx);
            tanh_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::tanh_backward::<FMA>(x, z, g, dx);
            sigmoid_backward(x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) =
                k::sigmoid_backward::<FMA>(x, z, g, dx);
        }
    };
}

/// One copy of every loop in module `$module`, compiled with `$features` enabled (none: the
/// target's baseline); `$fma` tells the fast functions whether fused multiply-add is there.
macro_rules! copy {
    ($module:ident, $isa:expr, $fma:literal $(, $features:literal)? ;
     $($name:ident($($arg:ident: $ty:ty),*) = $body:expr;)*) => {
        mod $module {
            use super::{Isa, Kernels};
            use crate::scalar::Lanes;

            const FMA: bool = $fma;

            mod imp {
                #[allow(unused_imports)]
                use super::super::kernels as k;
                #[allow(unused_imports)]
                use super::FMA;
                use crate::scalar::Lanes;

                copy!(@functions [$($features)?] $($name($($arg: $ty),*) = $body;)*);
            }

            // SAFETY (every `unsafe` call below): `KERNELS` is only handed out by
            // `kernels_for`, after checking that the CPU has the features `imp` is compiled
            // with, which is all those functions require.
            pub static KERNELS: Kernels = Kernels {
                isa: $isa,
                $($name: {
                    fn f($($arg: $ty),*) {
                        unsafe { imp::$name($($arg),*) }
                    }
                    f
                },)*
            };
        }
    };
    (@functions [$features:literal] $($name:ident($($arg:ident: $ty:ty),*) = $body:expr;)*) => {$(
        #[target_feature(enable = $features)]
        pub(super) unsafe fn $name($($arg: $ty),*) {
            $body
        }
    )*};
    (@functions [] $($name:ident($($arg:ident: $ty:ty),*) = $body:expr;)*) => {$(
        pub(super) unsafe fn $name($($arg: $ty),*) {
            $body
        }
    )*};
}

#[cfg(target_arch = "aarch64")]
kernel_list!(copy! { baseline, Isa::Baseline, true });
#[cfg(not(target_arch = "aarch64"))]
kernel_list!(copy! { baseline, Isa::Baseline, false });
#[cfg(target_arch = "x86_64")]
kernel_list!(copy! { avx2, Isa::Avx2Fma, true, "avx2,fma" });
#[cfg(target_arch = "x86_64")]
kernel_list!(copy! { avx512, Isa::Avx512, true, "avx512f,avx512dq,avx2,fma" });

/// The copy for `isa`, if this build has one and the running CPU can execute it.
pub fn kernels_for(isa: Isa) -> Option<&'static Kernels> {
    if !isa.supported() {
        return None;
    }
    match isa {
        Isa::Baseline => Some(&baseline::KERNELS),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => Some(&avx2::KERNELS),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Some(&avx512::KERNELS),
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

/// The best copy for the running CPU, chosen once.
pub fn kernels() -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    BEST.get_or_init(|| {
        Isa::ALL
            .iter()
            .rev()
            .find_map(|&isa| kernels_for(isa))
            .unwrap_or(&baseline::KERNELS)
    })
}

#[cfg(test)]
mod tests;
