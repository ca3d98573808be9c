//! The lane loops, written once over `f64` lane by lane with no calls and no branches in the
//! loop body, so that the compiler vectorises them for whatever instruction set the function
//! they are inlined into is compiled for (see `mod.rs`). `F` says whether that set has fused
//! multiply-add: only the fast functions' polynomials use it, never the default arithmetic.
//!
//! Each fast function has a core that is exact to the bound stated in `mod.rs` on the range
//! where it returns `ok`, and otherwise defers to libm for that lane after the vector loop:
//! NaN, infinities, overflow and underflow edges, subnormals and huge trigonometric arguments
//! all take that path, so special points give exactly what libm gives.

// `!(x <= limit)` is meant: it is true for NaN, which must take the libm path.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::manual_range_contains)]

use super::coeffs;
use crate::scalar::{Lanes, LANES};

/// Adding `1.5 · 2^52` to a number of magnitude below `2^51` rounds it to an integer, which
/// then sits in the low bits of the sum.
const MAGIC: f64 = 6755399441055744.0;
const MAGIC_BITS: u64 = 0x4338_0000_0000_0000;
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// ln 2 in two parts; the first has 32 significant bits, so `k · LN2_HI` is exact for the
/// exponents `k` these functions meet.
const LN2_HI: f64 = 0.6931471803691238;
const LN2_LO: f64 = 1.9082149292705877e-10;
const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
/// π/2 in three parts: 33, 33 and 53 significant bits (the rest is below 1.1e-37), so
/// `q · P1` and `q · P2` are exact for `|q| < 2^20`.
const P1: f64 = 1.5707963267341256;
const P2: f64 = 6.077100506303966e-11;
const P3: f64 = 2.0222662487959506e-21;
/// Largest argument reduced in the vector path (`|q| < 2^20` with room to spare).
const TRIG_LIMIT: f64 = 1.0e6;
/// A reduced argument smaller than this (away from 0) is recomputed by libm: its relative
/// error could exceed what the bound allows.
const TRIG_TINY: f64 = 9.094947017729282e-13; // 2^-40
/// `exp`'s vector range: results stay normal and finite.
const EXP_LIMIT: f64 = 708.0;
/// `tanh(x)` rounds to ±1 beyond this.
const TANH_ONE: f64 = 22.0;
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;

#[inline(always)]
fn mla<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn poly<const F: bool, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut acc = c[N - 1];
    for i in (0..N - 1).rev() {
        acc = mla::<F>(acc, x, c[i]);
    }
    acc
}

#[inline(always)]
fn select(c: bool, a: f64, b: f64) -> f64 {
    if c {
        a
    } else {
        b
    }
}

/// `2^k` for the integer `k` held in the low bits of `t = k + MAGIC`, `-1022 <= k <= 1023`.
#[inline(always)]
fn two_to(t: f64) -> f64 {
    f64::from_bits(t.to_bits().wrapping_sub(MAGIC_BITS).wrapping_add(1023) << 52)
}

// Double-double arithmetic: a number as an unevaluated sum `hi + lo`, `|lo| <= ulp(hi) / 2`,
// so that a chain of operations rounds once, at the end.

/// `a + b = s + e` exactly, given `|a| >= |b|` (or `a = 0`).
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a + b = s + e` exactly, whatever their sizes.
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// `a * b = p + e` exactly (barring underflow): by FMA, or by Dekker's splitting without it.
#[inline(always)]
fn two_prod<const F: bool>(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    if F {
        (p, a.mul_add(b, -p))
    } else {
        const SPLIT: f64 = 134217729.0; // 2^27 + 1
        let split = |x: f64| {
            let t = SPLIT * x;
            let hi = t - (t - x);
            (hi, x - hi)
        };
        let ((ah, al), (bh, bl)) = (split(a), split(b));
        (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
    }
}

#[inline(always)]
fn dd_mul<const F: bool>((ah, al): (f64, f64), (bh, bl): (f64, f64)) -> (f64, f64) {
    let (p, e) = two_prod::<F>(ah, bh);
    fast_two_sum(p, e + (ah * bl + al * bh))
}

#[inline(always)]
fn dd_div<const F: bool>((ah, al): (f64, f64), (bh, bl): (f64, f64)) -> (f64, f64) {
    let q = ah / bh;
    let (p, e) = two_prod::<F>(q, bh);
    let r = (((ah - p) - e) + al) - q * bl;
    fast_two_sum(q, r / bh)
}

/// `e^x = 2^k (hi + lo)` for `|x| <= EXP_LIMIT`: returns `(k + MAGIC, hi, lo)`, the sum good
/// to far better than an ulp.
#[inline(always)]
fn exp_dd<const F: bool>(x: f64) -> (f64, f64, f64) {
    let t = mla::<F>(x, LOG2E, MAGIC);
    let k = t - MAGIC;
    // x - k ln 2 = r + r_lo: the first difference is exact, the second's error kept.
    let (r, r_lo) = two_sum(x - k * LN2_HI, -(k * LN2_LO));
    let c = r * r * poly::<F, 11>(r, &coeffs::EXP);
    let (p, p_lo) = fast_two_sum(r, c);
    // e^(r + r_lo) - 1 ≈ p + p_lo + r_lo (1 + p)
    let p_lo = p_lo + mla::<F>(r_lo, p, r_lo);
    let (hi, lo) = fast_two_sum(1.0, p);
    (t, hi, lo + p_lo)
}

// ---------------------------------------------------------------------------------------------
// Cores: one lane, valid where the flag is false ("no fallback needed").
// ---------------------------------------------------------------------------------------------

#[inline(always)]
fn exp_core<const F: bool>(x: f64) -> (f64, bool) {
    let (t, hi, lo) = exp_dd::<F>(x);
    ((hi + lo) * two_to(t), !(x.abs() <= EXP_LIMIT))
}

#[inline(always)]
fn log_core<const F: bool>(x: f64) -> (f64, bool) {
    // x = 2^k · m with m in [√½, √2): shift the bits so that the exponent steps at √½.
    let ix = x
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_BITS);
    // Through i32: every instruction set converts packed i32 to f64 (not so u64).
    let k = ((ix >> 52) as i32 - 1023) as f64;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff).wrapping_add(SQRT_HALF_BITS));
    // log(1 + f) = f - f²/2 + s (f²/2 + R), s = f / (2 + f), R = s² · LOG(s²).
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * poly::<F, 7>(z, &coeffs::LOG);
    let hfsq = 0.5 * f * f;
    let tail = mla::<F>(s, hfsq + r, k * LN2_LO);
    let value = k * LN2_HI + (f - (hfsq - tail));
    (value, !(x >= f64::MIN_POSITIVE && x < f64::INFINITY))
}

/// `x = q π/2 + (y + ylo)`: returns `(y, ylo, q + MAGIC)` and whether libm must take over.
#[inline(always)]
fn trig_reduce<const F: bool>(x: f64) -> (f64, f64, f64, bool) {
    let t = mla::<F>(x, TWO_OVER_PI, MAGIC);
    let q = t - MAGIC;
    let a = x - q * P1; // exact
    let b = q * P2; // exact
    let hi = a - b;
    let bb = hi - a;
    let err = (a - (hi - bb)) + (-b - bb); // a - b = hi + err exactly
    let lo = err - q * P3;
    // q = 0 leaves x as it is (and keeps the sign of -0).
    let y = select(q == 0.0, x, hi + lo);
    let ylo = select(q == 0.0, 0.0, lo - (y - hi));
    let bad = !(x.abs() <= TRIG_LIMIT) || (y.abs() < TRIG_TINY && x.abs() > 0.5);
    (y, ylo, t, bad)
}

/// `(sin(y + ylo), cos(y + ylo))` for `|y| <= π/4` (plus rounding), each as `hi + lo`.
#[inline(always)]
fn sincos_reduced<const F: bool>(y: f64, ylo: f64) -> ((f64, f64), (f64, f64)) {
    let z = y * y;
    let s_tail = mla::<F>(y * z, poly::<F, 7>(z, &coeffs::SIN), ylo * (1.0 - 0.5 * z));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let c_tail = ((1.0 - w) - hz) + mla::<F>(z * z, poly::<F, 6>(z, &coeffs::COS), -(y * ylo));
    (fast_two_sum(y, s_tail), fast_two_sum(w, c_tail))
}

#[inline(always)]
fn flip_if(c: bool, v: f64) -> f64 {
    f64::from_bits(v.to_bits() ^ ((c as u64) << 63))
}

#[inline(always)]
fn sin_core<const F: bool>(x: f64) -> (f64, bool) {
    let (y, ylo, t, bad) = trig_reduce::<F>(x);
    let ((s, s_lo), (c, c_lo)) = sincos_reduced::<F>(y, ylo);
    let q = t.to_bits();
    let v = flip_if(q & 2 != 0, select(q & 1 != 0, c + c_lo, s + s_lo));
    (select(x == 0.0, x, v), bad) // sin(±0) = ±0
}

#[inline(always)]
fn cos_core<const F: bool>(x: f64) -> (f64, bool) {
    let (y, ylo, t, bad) = trig_reduce::<F>(x);
    let ((s, s_lo), (c, c_lo)) = sincos_reduced::<F>(y, ylo);
    let q = t.to_bits();
    let v = select(q & 1 != 0, s + s_lo, c + c_lo);
    (flip_if(q.wrapping_add(1) & 2 != 0, v), bad)
}

#[inline(always)]
fn neg_sin_core<const F: bool>(x: f64) -> (f64, bool) {
    let (v, bad) = sin_core::<F>(x);
    (-v, bad)
}

#[inline(always)]
fn tan_core<const F: bool>(x: f64) -> (f64, bool) {
    let (y, ylo, t, bad) = trig_reduce::<F>(x);
    let (s, c) = sincos_reduced::<F>(y, ylo);
    let odd = t.to_bits() & 1 != 0;
    let pick = |a: (f64, f64), b: (f64, f64)| (select(odd, a.0, b.0), select(odd, a.1, b.1));
    let (num, den) = (pick((-c.0, -c.1), s), pick(s, c));
    let (hi, lo) = dd_div::<F>(num, den);
    (select(x == 0.0, x, hi + lo), bad) // tan(±0) = ±0
}

/// `tan'(x) = 1 / cos² x`.
#[inline(always)]
fn tan_slope_core<const F: bool>(x: f64) -> (f64, bool) {
    let (y, ylo, t, bad) = trig_reduce::<F>(x);
    let (s, c) = sincos_reduced::<F>(y, ylo);
    let odd = t.to_bits() & 1 != 0;
    let cos = (select(odd, s.0, c.0), select(odd, s.1, c.1));
    let (hi, lo) = dd_div::<F>((1.0, 0.0), dd_mul::<F>(cos, cos));
    (hi + lo, bad)
}

#[inline(always)]
fn tanh_core<const F: bool>(x: f64) -> (f64, bool) {
    // tanh |x| = m / (m + 2) with m = e^(2|x|) - 1, all in two parts.
    let ax = x.abs();
    let (t, hi, lo) = exp_dd::<F>(2.0 * ax.min(TANH_ONE));
    let scale = two_to(t);
    let (m, m_err) = two_sum(scale * hi, -1.0);
    let (m, m_lo) = fast_two_sum(m, m_err + scale * lo);
    let (d, d_err) = two_sum(m, 2.0);
    let (d, d_lo) = fast_two_sum(d, d_err + m_lo);
    let (q, q_lo) = dd_div::<F>((m, m_lo), (d, d_lo));
    let v = select(ax > TANH_ONE, 1.0, q + q_lo);
    (v.copysign(x), x.is_nan())
}

/// `e^-|x|` as `hi + lo` (scaled), for `|x| <= EXP_LIMIT`.
#[inline(always)]
fn exp_neg_abs<const F: bool>(x: f64) -> (f64, f64) {
    let (t, hi, lo) = exp_dd::<F>(-x.abs());
    let scale = two_to(t);
    (scale * hi, scale * lo)
}

/// `1 + e` in two parts, `0 <= e <= 1`.
#[inline(always)]
fn one_plus(e: (f64, f64)) -> (f64, f64) {
    let (s, s_lo) = fast_two_sum(1.0, e.0);
    (s, s_lo + e.1)
}

#[inline(always)]
fn sigmoid_core<const F: bool>(x: f64) -> (f64, bool) {
    let e = exp_neg_abs::<F>(x);
    let num = (select(x >= 0.0, 1.0, e.0), select(x >= 0.0, 0.0, e.1));
    let (q, q_lo) = dd_div::<F>(num, one_plus(e));
    (q + q_lo, !(x.abs() <= EXP_LIMIT))
}

/// `e / (1 + e)²` for `0 <= e <= 1`, rounded once.
#[inline(always)]
fn bell<const F: bool>(e: (f64, f64)) -> f64 {
    let d = one_plus(e);
    let (hi, lo) = dd_div::<F>(e, dd_mul::<F>(d, d));
    hi + lo
}

/// `tanh'(x) = sech² x = 4 e / (1 + e)²` with `e = exp(-2|x|)`.
#[inline(always)]
fn tanh_slope_core<const F: bool>(x: f64) -> (f64, bool) {
    let e = exp_neg_abs::<F>(2.0 * x);
    (4.0 * bell::<F>(e), !(2.0 * x.abs() <= EXP_LIMIT))
}

/// `sigmoid'(x) = e / (1 + e)²` with `e = exp(-|x|)`.
#[inline(always)]
fn sigmoid_slope_core<const F: bool>(x: f64) -> (f64, bool) {
    (bell::<F>(exp_neg_abs::<F>(x)), !(x.abs() <= EXP_LIMIT))
}

// ---------------------------------------------------------------------------------------------
// Scalar fallbacks: libm, and the same formulas over it.
// ---------------------------------------------------------------------------------------------

pub(super) fn sigmoid_libm(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn bell_libm(e: f64) -> f64 {
    e / ((1.0 + e) * (1.0 + e))
}

pub(super) fn tan_slope_libm(x: f64) -> f64 {
    let c = x.cos();
    let (hi, lo) = dd_div::<false>((1.0, 0.0), dd_mul::<false>((c, 0.0), (c, 0.0)));
    hi + lo
}

pub(super) fn tanh_slope_libm(x: f64) -> f64 {
    4.0 * bell_libm((-2.0 * x.abs()).exp())
}

pub(super) fn sigmoid_slope_libm(x: f64) -> f64 {
    bell_libm((-x.abs()).exp())
}

// ---------------------------------------------------------------------------------------------
// Lane drivers.
// ---------------------------------------------------------------------------------------------

/// `z = core(x)` lane by lane, then libm for the lanes the core flagged. A macro, not a
/// function taking closures: the core must be called directly to be inlined whatever its size.
macro_rules! map {
    ($x:expr, $z:expr, $core:path, $libm:expr) => {{
        let (x, z): (&Lanes, &mut Lanes) = ($x, $z);
        // Flags as 64-bit words, the width of the numbers, so they stay in vector registers.
        let mut bad = [0u64; LANES];
        for l in 0..LANES {
            let (v, b) = $core(x[l]);
            z[l] = v;
            bad[l] = b as u64;
        }
        if bad.iter().fold(0, |a, &b| a | b) != 0 {
            for l in 0..LANES {
                if bad[l] != 0 {
                    z[l] = $libm(x[l]);
                }
            }
        }
    }};
}

/// `dx = slope(x) · g`, the slope from `core` or, for flagged lanes, `libm`.
macro_rules! map_scaled {
    ($x:expr, $g:expr, $dx:expr, $core:path, $libm:expr) => {{
        let (g, dx): (&Lanes, &mut Lanes) = ($g, $dx);
        map!($x, dx, $core, $libm);
        for l in 0..LANES {
            dx[l] *= g[l];
        }
    }};
}

macro_rules! fast_value {
    ($($name:ident $core:ident $libm:expr;)*) => {$(
        #[inline(always)]
        pub fn $name<const F: bool>(x: &Lanes, z: &mut Lanes) {
            map!(x, z, $core::<F>, $libm);
        }
    )*};
}

fast_value! {
    exp exp_core f64::exp;
    log log_core f64::ln;
    sin sin_core f64::sin;
    cos cos_core f64::cos;
    tan tan_core f64::tan;
    tanh tanh_core f64::tanh;
    sigmoid sigmoid_core sigmoid_libm;
}

/// `sqrt` is correctly rounded in hardware: the same bits as `f64::sqrt` in every mode.
#[inline(always)]
pub fn sqrt(x: &Lanes, z: &mut Lanes) {
    for l in 0..LANES {
        z[l] = x[l].sqrt();
    }
}

// Backward of the fast ops: `dx = dz/dx · g` given the input `x`, the output `z` and `g`.

#[inline(always)]
pub fn exp_backward(_x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    mul(z, g, dx);
}

#[inline(always)]
pub fn log_backward(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    div(g, x, dx);
}

#[inline(always)]
pub fn sin_backward<const F: bool>(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    map_scaled!(x, g, dx, cos_core::<F>, f64::cos);
}

#[inline(always)]
pub fn cos_backward<const F: bool>(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    map_scaled!(x, g, dx, neg_sin_core::<F>, |x: f64| -x.sin());
}

#[inline(always)]
pub fn tan_backward<const F: bool>(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    map_scaled!(x, g, dx, tan_slope_core::<F>, tan_slope_libm);
}

#[inline(always)]
pub fn tanh_backward<const F: bool>(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    map_scaled!(x, g, dx, tanh_slope_core::<F>, tanh_slope_libm);
}

#[inline(always)]
pub fn sigmoid_backward<const F: bool>(x: &Lanes, _z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    map_scaled!(x, g, dx, sigmoid_slope_core::<F>, sigmoid_slope_libm);
}

#[inline(always)]
pub fn sqrt_backward(_x: &Lanes, z: &Lanes, g: &Lanes, dx: &mut Lanes) {
    for l in 0..LANES {
        dx[l] = (0.5 / z[l]) * g[l];
    }
}

// ---------------------------------------------------------------------------------------------
// Default-mode arithmetic: exactly the scalar formulas of the op table, one rounding per
// operation as written (Rust never fuses `a * b + c`), so every lane is bit for bit a point.
// ---------------------------------------------------------------------------------------------

macro_rules! binary {
    ($($(#[$doc:meta])* $name:ident |$x:ident, $y:ident| $e:expr;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(x: &Lanes, y: &Lanes, z: &mut Lanes) {
            for l in 0..LANES {
                let ($x, $y) = (x[l], y[l]);
                z[l] = $e;
            }
        }
    )*};
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident |$x:ident| $e:expr;)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(x: &Lanes, z: &mut Lanes) {
            for l in 0..LANES {
                let $x = x[l];
                z[l] = $e;
            }
        }
    )*};
}

binary! {
    add |x, y| x + y;
    sub |x, y| x - y;
    mul |x, y| x * y;
    div |x, y| x / y;
    /// `relu`'s backward: `g` where `x > 0`, else 0 (`x` first, `g` second).
    relu_backward |x, g| if x > 0.0 { g } else { 0.0 };
    /// `abs`'s backward: `±g` by the sign of `x`, 0 at 0 and NaN.
    abs_backward |x, g| if x > 0.0 { g } else if x < 0.0 { -g } else { 0.0 };
    /// `x ** 2`'s backward: `2 · x · g`, rounded in that order.
    square_backward |x, g| 2.0 * x * g;
}

unary! {
    neg |x| -x;
    /// `max(0, x)`, NaN passing through.
    relu |x| if x > 0.0 || x.is_nan() { x } else { 0.0 };
    abs |x| x.abs();
    square |x| x * x;
}

/// `-((g / y) · z)`: the divisor's increment in `z = x / y`.
#[inline(always)]
pub fn div_backward_y(y: &Lanes, z: &Lanes, g: &Lanes, dy: &mut Lanes) {
    for l in 0..LANES {
        dy[l] = -((g[l] / y[l]) * z[l]);
    }
}

/// `z = f(x)` lane by lane.
#[inline(always)]
pub fn map_k(x: &Lanes, z: &mut Lanes, f: impl Fn(f64) -> f64) {
    for l in 0..LANES {
        z[l] = f(x[l]);
    }
}

/// `acc += g / k`.
#[inline(always)]
pub fn accumulate_quotient_k(acc: &mut Lanes, g: &Lanes, k: f64) {
    for l in 0..LANES {
        acc[l] += g[l] / k;
    }
}

/// `acc += d`.
#[inline(always)]
pub fn accumulate(acc: &mut Lanes, d: &Lanes) {
    for l in 0..LANES {
        acc[l] += d[l];
    }
}

/// `acc += -d`: what adding a negated increment gives.
#[inline(always)]
pub fn accumulate_neg(acc: &mut Lanes, d: &Lanes) {
    for l in 0..LANES {
        acc[l] += -d[l];
    }
}

/// `acc += a / b`, a quotient then a sum.
#[inline(always)]
pub fn accumulate_quotient(acc: &mut Lanes, a: &Lanes, b: &Lanes) {
    for l in 0..LANES {
        acc[l] += a[l] / b[l];
    }
}

/// `acc += -((g / y) · z)`: `div_backward_y` added in.
#[inline(always)]
pub fn accumulate_div_y(acc: &mut Lanes, y: &Lanes, z: &Lanes, g: &Lanes) {
    for l in 0..LANES {
        acc[l] += -((g[l] / y[l]) * z[l]);
    }
}

/// `acc += -(q · z)`: the divisor's increment from `x`'s, `q = g / y`.
#[inline(always)]
pub fn accumulate_neg_product(acc: &mut Lanes, q: &Lanes, z: &Lanes) {
    for l in 0..LANES {
        acc[l] += -(q[l] * z[l]);
    }
}

/// `acc += 2 · x · g`: `square_backward` added in.
#[inline(always)]
pub fn accumulate_square(acc: &mut Lanes, x: &Lanes, g: &Lanes) {
    for l in 0..LANES {
        acc[l] += 2.0 * x[l] * g[l];
    }
}

/// `acc += (0.5 / z) · g`: `sqrt_backward` added in.
#[inline(always)]
pub fn accumulate_sqrt(acc: &mut Lanes, z: &Lanes, g: &Lanes) {
    for l in 0..LANES {
        acc[l] += (0.5 / z[l]) * g[l];
    }
}

/// `acc += relu_backward(x, g)`.
#[inline(always)]
pub fn accumulate_relu(acc: &mut Lanes, x: &Lanes, g: &Lanes) {
    for l in 0..LANES {
        acc[l] += if x[l] > 0.0 { g[l] } else { 0.0 };
    }
}

/// `acc += abs_backward(x, g)`.
#[inline(always)]
pub fn accumulate_abs(acc: &mut Lanes, x: &Lanes, g: &Lanes) {
    for l in 0..LANES {
        let (x, g) = (x[l], g[l]);
        acc[l] += if x > 0.0 {
            g
        } else if x < 0.0 {
            -g
        } else {
            0.0
        };
    }
}

/// `acc += w · x`, a product then a sum (no fused multiply-add).
#[inline(always)]
pub fn dot_accumulate(acc: &mut Lanes, w: &Lanes, x: &Lanes) {
    for l in 0..LANES {
        acc[l] += w[l] * x[l];
    }
}

/// The dot step's forward: `z = Σ_j vals[ws[j]] · vals[xs[j]]`, from 0 and in `j` order, each
/// term a product then a sum (`dot_accumulate` term by term, the sum kept in registers).
#[inline(always)]
pub fn dot(vals: &[Lanes], ws: &[u32], xs: &[u32], z: &mut Lanes) {
    let mut acc = [0.0; LANES];
    for (&w, &x) in ws.iter().zip(xs) {
        let (w, x) = (&vals[w as usize], &vals[x as usize]);
        for l in 0..LANES {
            acc[l] += w[l] * x[l];
        }
    }
    *z = acc;
}

/// The dot step's backward for the output adjoint `g`: term by term in `j` order,
/// `adj[ws[j]] += vals[xs[j]] · g`, then `adj[xs[j]] += vals[ws[j]] · g`.
#[inline(always)]
pub fn dot_backward(vals: &[Lanes], ws: &[u32], xs: &[u32], g: &Lanes, adj: &mut [Lanes]) {
    for (&w, &x) in ws.iter().zip(xs) {
        let (vw, vx) = (&vals[w as usize], &vals[x as usize]);
        let (mut dw, mut dx) = ([0.0; LANES], [0.0; LANES]);
        for l in 0..LANES {
            dw[l] = vx[l] * g[l];
            dx[l] = vw[l] * g[l];
        }
        accumulate(&mut adj[w as usize], &dw);
        accumulate(&mut adj[x as usize], &dx);
    }
}

/// The sum step's forward: `z = Σ_j vals[xs[j]]`, from 0 and in order.
#[inline(always)]
pub fn sum(vals: &[Lanes], xs: &[u32], z: &mut Lanes) {
    let mut acc = [0.0; LANES];
    for &x in xs {
        accumulate(&mut acc, &vals[x as usize]);
    }
    *z = acc;
}

/// A chain of additions: `z = ((k + vals[xs[0]]) + vals[xs[1]]) + ...` (from `vals[xs[0]]`
/// when `k` is `None`), the sum kept in registers.
#[inline(always)]
pub fn chain(vals: &[Lanes], k: Option<f64>, xs: &[u32], z: &mut Lanes) {
    let (first, rest) = xs.split_at(1);
    let mut acc = vals[first[0] as usize];
    if let Some(k) = k {
        for a in &mut acc {
            *a += k;
        }
    }
    for &x in rest {
        accumulate(&mut acc, &vals[x as usize]);
    }
    *z = acc;
}

/// The sum step's backward: `adj[xs[j]] += g` for each operand, in order.
#[inline(always)]
pub fn sum_backward(xs: &[u32], g: &Lanes, adj: &mut [Lanes]) {
    for &x in xs {
        accumulate(&mut adj[x as usize], g);
    }
}

/// How many partial sums a shared input's adjoint keeps per lane block in `dot_backward_shared`:
/// one vector of the widest instruction set.
pub const PARTS: usize = 8;

/// One shared input's adjoint within a lane block: `PARTS` partial sums, lane `l`'s increments
/// going to part `l % PARTS`.
pub type Parts = [f64; PARTS];

/// A dot step's forward when some operands are *shared* (`slot < k`: the same number on every
/// lane, `shared[slot]`): the products with a shared operand read it as one number instead of
/// a lane block. The same products and sums in the same order as `dot`, so the same bits.
#[inline(always)]
pub fn dot_shared(vals: &[Lanes], shared: &[f64], ws: &[u32], xs: &[u32], z: &mut Lanes) {
    let k = shared.len();
    let mut acc = [0.0; LANES];
    for (&w, &x) in ws.iter().zip(xs) {
        let (w, x) = (w as usize, x as usize);
        if w < k {
            let (w, x) = (shared[w], &vals[x]);
            for l in 0..LANES {
                acc[l] += w * x[l];
            }
        } else if x < k {
            let (w, x) = (&vals[w], shared[x]);
            for l in 0..LANES {
                acc[l] += w[l] * x;
            }
        } else {
            let (w, x) = (&vals[w], &vals[x]);
            for l in 0..LANES {
                acc[l] += w[l] * x[l];
            }
        }
    }
    *z = acc;
}

/// A dot step's backward when some operands are shared (see `dot_shared`): a shared operand's
/// increments `x · g` from the first `live` lanes go into its `parts[slot]` (the lanes'
/// products added `PARTS` apart, in lane order; the other lanes add nothing, whatever they
/// hold) instead of a lane block of its own adjoint, so the shared inputs' adjoints take
/// `8 · PARTS` bytes each instead of `8 · LANES`, and stay in cache. The other operand's
/// increment is `dot_backward`'s, bit for bit.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn dot_backward_shared(
    vals: &[Lanes],
    shared: &[f64],
    ws: &[u32],
    xs: &[u32],
    g: &Lanes,
    adj: &mut [Lanes],
    parts: &mut [Parts],
    live: usize,
) {
    let k = shared.len();
    for (&w, &x) in ws.iter().zip(xs) {
        let (w, x) = (w as usize, x as usize);
        if w < k && x >= k {
            add_parts(&mut parts[w], &vals[x], g, live);
            dot_accumulate_scalar(&mut adj[x], shared[w], g);
        } else if x < k && w >= k {
            dot_accumulate_scalar(&mut adj[w], shared[x], g);
            add_parts(&mut parts[x], &vals[w], g, live);
        } else {
            let (vw, vx) = (&vals[w], &vals[x]);
            let (mut dw, mut dx) = ([0.0; LANES], [0.0; LANES]);
            for l in 0..LANES {
                dw[l] = vx[l] * g[l];
                dx[l] = vw[l] * g[l];
            }
            accumulate(&mut adj[w], &dw);
            accumulate(&mut adj[x], &dx);
        }
    }
}

/// A dense layer's dot steps (`Plan::layers`): dot `j` is `Σ_i w[ws[j·I + i]] · x[xs[i]]`
/// (`I = xs.len()`), and its result (or adjoint) is at `gs[j]` of the slots it is given.
#[derive(Clone, Copy)]
pub struct Dense<'a> {
    /// The weights' slots, dot by dot.
    pub ws: &'a [u32],
    /// The same, operand by operand: `wt[i·J + j] = ws[j·I + i]` (`J = gs.len()`), in the
    /// order the backward reads them.
    pub wt: &'a [u32],
    /// The operands every dot reads.
    pub xs: &'a [u32],
    /// Where each dot's result is.
    pub gs: &'a [u32],
}

/// The lane blocks' chunks of `PARTS` lanes (one AVX-512 vector each).
const CHUNKS: usize = LANES / PARTS;
const _: () = assert!(
    CHUNKS == 4,
    "dense_shared and dense_backward_shared match on 1..=4"
);

/// The dot steps of a dense layer (`Plan::layers`) in one forward pass, when their weights are
/// shared: `above[gs[j]] = Σ_i shared[ws[j·I + i]] · vals[xs[i]]` (`I = xs.len()`), on the
/// lanes below `live` rounded up to whole chunks of `PARTS` (the others are left as they
/// were). Four dots at a time, so each `xs[i]` is loaded once per four dots. Each dot's
/// products and sums are `dot_shared`'s, in the same order, so the same bits.
#[inline(always)]
pub fn dense_shared(
    vals: &[Lanes],
    shared: &[f64],
    layer: Dense<'_>,
    above: &mut [Lanes],
    live: usize,
) {
    let args = (vals, shared, layer);
    match live.div_ceil(PARTS) {
        1 => dense_chunks::<1>(args, above),
        2 => dense_chunks::<2>(args, above),
        3 => dense_chunks::<3>(args, above),
        _ => dense_chunks::<CHUNKS>(args, above),
    }
}

/// `dense_shared` on the first `C` chunks of lanes.
#[inline(always)]
fn dense_chunks<const C: usize>(
    (vals, shared, Dense { ws, xs, gs, .. }): (&[Lanes], &[f64], Dense<'_>),
    above: &mut [Lanes],
) {
    const AT_ONCE: usize = 4;
    let (n, width) = (xs.len(), C * PARTS);
    let mut four = gs.chunks_exact(AT_ONCE);
    let mut j = 0;
    for slots in four.by_ref() {
        let mut acc = [[0.0; LANES]; AT_ONCE];
        for (i, &x) in xs.iter().enumerate() {
            let x = &vals[x as usize];
            for (a, acc) in acc.iter_mut().enumerate() {
                let w = shared[ws[(j + a) * n + i] as usize];
                for l in 0..width {
                    acc[l] += w * x[l];
                }
            }
        }
        for (&g, acc) in slots.iter().zip(acc) {
            above[g as usize][..width].copy_from_slice(&acc[..width]);
        }
        j += AT_ONCE;
    }
    for (a, &g) in four.remainder().iter().enumerate() {
        let ws = &ws[(j + a) * n..(j + a + 1) * n];
        let mut acc = [0.0; LANES];
        for (&w, &x) in ws.iter().zip(xs) {
            let (w, x) = (shared[w as usize], &vals[x as usize]);
            for l in 0..width {
                acc[l] += w * x[l];
            }
        }
        above[g as usize][..width].copy_from_slice(&acc[..width]);
    }
}

/// The dot steps of a dense layer (`Plan::layers`) in one backward, when their weights are
/// shared: dot `j` is `Σ_i shared[ws[j·I + i]] · vals[xs[i]]` (`I = xs.len()`), and its adjoint
/// is `above[gs[j]]`. Each `xs[i]`'s adjoint takes the dots' increments `w · g` in the order a
/// sweep gives them one dot at a time (the last dot's first), held in registers in between
/// instead of loaded and stored once per dot; each weight's increment from the lanes below
/// `live` goes to its `parts`. Only the chunks of `PARTS` lanes that hold a live lane are
/// computed (a chunk of dead lanes would add `+0` to each part, which changes nothing: a part's
/// sum starts at `+0` and is never `-0`). The same bits as `dot_backward_shared` on each dot in
/// turn, last first, on the live lanes, when no weight appears twice and no slot twice among
/// `xs` (`Plan::layers` finds only such layers).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn dense_backward_shared(
    vals: &[Lanes],
    shared: &[f64],
    layer: Dense<'_>,
    above: &[Lanes],
    adj: &mut [Lanes],
    parts: &mut [Parts],
    live: usize,
) {
    let args = (vals, shared, layer, above);
    match live.div_ceil(PARTS) {
        1 => dense_backward_chunks::<1, false>(args, adj, parts, live),
        2 => dense_backward_chunks::<2, false>(args, adj, parts, live),
        3 => dense_backward_chunks::<3, false>(args, adj, parts, live),
        _ if live >= LANES => dense_backward_chunks::<CHUNKS, true>(args, adj, parts, live),
        _ => dense_backward_chunks::<CHUNKS, false>(args, adj, parts, live),
    }
}

type DenseArgs<'a> = (&'a [Lanes], &'a [f64], Dense<'a>, &'a [Lanes]);

/// `dense_backward_shared` on the first `C` chunks of lanes; `FULL` when every lane is live.
#[inline(always)]
fn dense_backward_chunks<const C: usize, const FULL: bool>(
    (vals, shared, Dense { wt, xs, gs, .. }, above): DenseArgs<'_>,
    adj: &mut [Lanes],
    parts: &mut [Parts],
    live: usize,
) {
    let width = C * PARTS;
    for (&x, wt) in xs.iter().zip(wt.chunks_exact(gs.len())) {
        let x = x as usize;
        let v = vals[x];
        let mut acc = adj[x];
        for (&g, &w) in gs.iter().zip(wt).rev() {
            let (g, w) = (&above[g as usize], w as usize);
            let k = shared[w];
            for l in 0..width {
                acc[l] += k * g[l];
            }
            // The products added chunk by chunk from the first's: `+0 +` the first product
            // would change only the sign of a zero, which adding to a part (never -0) loses.
            let t: Parts = if FULL {
                let mut t: Parts = std::array::from_fn(|p| v[p] * g[p]);
                for c in 1..C {
                    for (p, t) in t.iter_mut().enumerate() {
                        *t += v[c * PARTS + p] * g[c * PARTS + p];
                    }
                }
                t
            } else {
                let mut t = [0.0; PARTS];
                for c in 0..C {
                    for (p, t) in t.iter_mut().enumerate() {
                        let l = c * PARTS + p;
                        *t += if l < live { v[l] * g[l] } else { 0.0 };
                    }
                }
                t
            };
            for (part, t) in parts[w].iter_mut().zip(t) {
                *part += t;
            }
        }
        adj[x][..width].copy_from_slice(&acc[..width]);
    }
}

/// `parts[j] += v[j]·g[j] + v[j + PARTS]·g[j + PARTS] + ...`, the products summed in lane order,
/// of the lanes below `live` only.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lane `l` of several slots, in lane order.
fn add_parts(parts: &mut Parts, v: &Lanes, g: &Lanes, live: usize) {
    let mut t = [0.0; PARTS];
    if live >= LANES {
        for c in 0..LANES / PARTS {
            for j in 0..PARTS {
                t[j] += v[c * PARTS + j] * g[c * PARTS + j];
            }
        }
    } else {
        for c in 0..LANES / PARTS {
            for j in 0..PARTS {
                let l = c * PARTS + j;
                t[j] += if l < live { v[l] * g[l] } else { 0.0 };
            }
        }
    }
    for j in 0..PARTS {
        parts[j] += t[j];
    }
}

/// `acc += w · g` for one number `w`.
#[inline(always)]
pub fn dot_accumulate_scalar(acc: &mut Lanes, w: f64, g: &Lanes) {
    for l in 0..LANES {
        acc[l] += w * g[l];
    }
}
