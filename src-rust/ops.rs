//! The op table: the one list of ops. One op lives in one place: its code, its name, its
//! forward and its backward.
//!
//! `with_op_list!` holds the list. Everything else that lists ops is generated from it: here
//! the `Code` enum (its numbers pinned, since pickles store them), the formula modules and the
//! dispatch by code; in `value.rs` the graph's `Op` entries and the `Value` methods; in the
//! Python bindings the methods of `Value` and `Dual`. What cannot be generated (the Python
//! engine, the stubs, the docs) is checked against [`OP_TABLE`] by `tests/test_op_table.py`.
//!
//! Each formula is written once over `Real`, so the graph, the compiled tape and forward mode
//! run the same one. Read each backward as the chain rule: it returns the increments
//! `∂z/∂x · g` for the operands' grads, with `z` the op's output and `g` its adjoint.
//! `docs/ops.md` is the same table in prose, and `python/ferrograd/reference.py` the same
//! table in Python, in the same floating-point order, so the two engines agree to the last bit
//! on most programs.
//!
//! This file depends on `scalar.rs` only: it knows numbers, not nodes.

use crate::scalar::{erf, erfc, k, Lanes, Real, LANES};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, LN_10, LN_2};

/// Leaky ReLU's slope when none is given.
pub const DEFAULT_SLOPE: f64 = 0.01;

/// `1 / √(2π)`, the normal density at 0 (torch's `M_2_SQRTPI * M_SQRT1_2 * 0.5`).
const FRAC_1_SQRT_2PI: f64 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5;
/// `√(2/π)`, the tanh approximation of GELU's scale (torch's `M_SQRT2 * M_2_SQRTPI * 0.5`).
const SQRT_2_OVER_PI: f64 = std::f64::consts::SQRT_2 * FRAC_2_SQRT_PI * 0.5;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_KAPPA: f64 = 0.044715;

/// The derivative of `erf`, `2/√π · exp(-x²)`.
fn d_erf(x: f64) -> f64 {
    FRAC_2_SQRT_PI * (-(x * x)).exp()
}

/// The second derivative of `erf`, `-2x · erf'(x)`: 0 where `erf'` underflows to 0 (at ±inf
/// too, where the product would be `inf · 0`).
fn dd_erf(x: f64) -> f64 {
    let d = d_erf(x);
    if d == 0.0 {
        0.0
    } else {
        -2.0 * x * d
    }
}

/// The derivative of `erfc`, `-2/√π · exp(-x²)`.
fn d_erfc(x: f64) -> f64 {
    -d_erf(x)
}

/// `log(1 + exp(x))` without overflow: `x + log1p(exp(-x))` for positive x, else
/// `log1p(exp(x))` (exp is only taken of a non-positive number).
fn softplus_f64(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The normal CDF `Φ(x) = erfc(-x/√2) / 2`, accurate in both tails.
fn normal_cdf<T: Real>(x: T) -> T {
    k::<T>(0.5) * (-x * k(FRAC_1_SQRT_2)).apply(erfc, d_erfc)
}

/// The normal density `φ(x) = exp(-x²/2) / √(2π)`.
fn normal_pdf<T: Real>(x: T) -> T {
    (k::<T>(-0.5) * x * x).exp() * k(FRAC_1_SQRT_2PI)
}

/// The argument `√(2/π) (x + 0.044715 x³)` of tanh in GELU's tanh approximation.
fn gelu_tanh_inner<T: Real>(x: T) -> T {
    k::<T>(SQRT_2_OVER_PI) * (x + k::<T>(GELU_KAPPA) * (x * x * x))
}

// silu, gelu and gelu_tanh are `x · c(x)` with `c` rising from 0 to 1. Their values and slopes
// are written once, over f64 for the value and over `Real` for the slope (the backward, and a
// dual number's tangent through `apply`), so the graph, forward mode and the tape give the
// same slope everywhere. At ±inf, where the formulas meet `inf · 0`, they give the limits:
// value -0.0 at -inf, slope 1 at inf and 0 at -inf; the slope there is a constant, so forward
// over reverse gets 0, not `0 · inf`, for its tangent.

/// `x · sigmoid(x)`; -0.0 at -inf.
fn silu_value(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return -0.0;
    }
    x * sigmoid::forward(x, 0.0)
}

/// The slope of silu, `s · (1 + x · (1 - s))` with `s = sigmoid(x)` (torch's formula), with
/// `1 - s` as `sigmoid(-x)`, which does not cancel for large x.
fn silu_slope<T: Real>(x: T) -> T {
    let s = sigmoid::forward(x, 0.0);
    if x.re().is_infinite() {
        return k(s.re());
    }
    s * (k::<T>(1.0) + x * sigmoid::forward(-x, 0.0))
}

/// `x · Φ(x)`; -0.0 at -inf.
fn gelu_value(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return -0.0;
    }
    x * normal_cdf(x)
}

/// The slope of gelu, `Φ(x) + x · φ(x)` (torch's formula).
fn gelu_slope<T: Real>(x: T) -> T {
    let cdf = normal_cdf(x);
    if x.re().is_infinite() {
        return k(cdf.re());
    }
    cdf + x * normal_pdf(x)
}

/// GELU's tanh approximation `x · sigmoid(2u)`; -0.0 at -inf.
fn gelu_tanh_value(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return -0.0;
    }
    x * sigmoid::forward(2.0 * gelu_tanh_inner(x), 0.0)
}

/// The slope of GELU's tanh approximation, `s + 2 x s (1 - s) u'` with `s = sigmoid(2u)`.
/// Where `s (1 - s)` underflows to 0 (|x| above 13 or so) the second term is 0 too, even where
/// `x u'` overflows (torch's formula gives `0 · inf = nan` from |x| = 1e154), and `s` is flat
/// there: it is taken as a constant.
fn gelu_tanh_slope<T: Real>(x: T) -> T {
    let u2 = k::<T>(2.0) * gelu_tanh_inner(x);
    let s = sigmoid::forward(u2, 0.0);
    let t = s * sigmoid::forward(-u2, 0.0);
    if t.re() == 0.0 {
        return k(s.re());
    }
    let du = k::<T>(SQRT_2_OVER_PI) * (k::<T>(1.0) + k::<T>(3.0 * GELU_KAPPA) * (x * x));
    s + k::<T>(2.0) * x * t * du
}

/// The code of [`Code::Custom`], the row of every user-defined op: the one place its number is
/// written (pinned like the others, since pickles store it).
pub const CUSTOM_CODE: u8 = 52;

/// The list of ops, handed to `$then!` (a macro that generates something from it), after
/// any tokens given as `$extra` (`extra { … }`).
///
/// Groups: `binary` ops `z = f(x, y)`; `unary` ops `z = f(x)`, each a plain method `x.f()`;
/// `operator` ops, unary ops spelled as Python operators (`-x`, `abs(x)`) or whose Python
/// method is written by hand (`x.gelu(approximate=...)`, two ops); `param` ops, unary
/// ops with a parameter `p` kept in the node (leaky ReLU's slope). `p` is 0.0 for the others.
/// `binary_method` ops are binary ops built by a method, `x.f(y)`, named as the op.
///
/// Each entry: its code (pinned: never reuse or renumber one; a new op takes the next free
/// number, today 53), its `Code` variant, its module and method name, its `Op` static and its
/// name string, its aliases if any (`alias arcsin`: numpy's name, which numpy's ufuncs call on
/// arrays of Values; the bindings give `Value` and `Dual` a method of that name building the
/// same op), then forward and backward over `Real`. `Leaf` (0), `Sum` (18), `Dot` (19) and
/// `Custom` ([`CUSTOM_CODE`], the ops users define, whose nodes keep their partials) are not in
/// the list: they have no fixed arity.
macro_rules! with_op_list {
    ($then:ident $(, $($extra:tt)*)?) => {
        $then! {
            extra { $($($extra)*)? }
            binary {
                1 Add add ADD "+"
                    forward |x, y| x + y,
                    backward |x, y, z, g| (g, g);
                2 Sub sub SUB "-"
                    forward |x, y| x - y,
                    backward |x, y, z, g| (g, -g);
                3 Mul mul MUL "*"
                    forward |x, y| x * y,
                    backward |x, y, z, g| (y * g, x * g);
                4 Div div DIV "/"
                    forward |x, y| x / y,
                    // `y`'s increment reuses `x`'s quotient: one division for both.
                    backward |x, y, z, g| {
                        let dx = g / y;
                        (dx, -(dx * z))
                    };
                /// IEEE `pow`: `(-8) ** (1/3)` is NaN, `0 ** -1` is inf. The exponent is an
                /// operand, a constant leaf when it is a number. `d/dx x**0 = 0` everywhere, 0
                /// included (the formula would give 0 · inf); `d/dy x**y = x**y ln x` is taken
                /// as 0 at x = 0, y >= 0.
                5 Pow pow POW "**"
                    forward |x, y| x.powf(y),
                    backward |x, y, z, g| (
                        (if y.re() == 0.0 { k(0.0) } else { y * x.powf(y - k(1.0)) }) * g,
                        (if x.re() == 0.0 && y.re() >= 0.0 { k(0.0) } else { z * x.ln() }) * g,
                    );
            }
            unary {
                /// `max(0, x)`, with derivative 0 at 0; NaN passes through (with derivative 0,
                /// as reverse mode).
                7 Relu relu RELU "relu"
                    forward |x, p| if x.re() > 0.0 { x } else if x.re().is_nan() { k(x.re()) } else { k(0.0) },
                    backward |x, z, g, p| if x.re() > 0.0 { g } else { k(0.0) };
                /// Hyperbolic tangent (libm's, which never overflows).
                9 Tanh tanh TANH "tanh"
                    forward |x, p| x.tanh(),
                    backward |x, z, g, p| (k::<T>(1.0) - z * z) * g;
                /// Logistic sigmoid `1 / (1 + exp(-x))`, in the form that never overflows.
                10 Sigmoid sigmoid SIGMOID "sigmoid"
                    forward |x, p| if x.re() >= 0.0 {
                        k::<T>(1.0) / (k::<T>(1.0) + (-x).exp())
                    } else {
                        let e = x.exp();
                        e / (k::<T>(1.0) + e)
                    },
                    backward |x, z, g, p| z * (k::<T>(1.0) - z) * g;
                /// `e ** x`; overflows to inf.
                11 Exp exp EXP "exp"
                    forward |x, p| x.exp(),
                    backward |x, z, g, p| z * g;
                /// Natural logarithm: `log(0)` is -inf, negative inputs give nan.
                12 Log log LOG "log"
                    forward |x, p| x.ln(),
                    backward |x, z, g, p| g / x;
                /// Sine (radians).
                13 Sin sin SIN "sin"
                    forward |x, p| x.sin(),
                    backward |x, z, g, p| x.cos() * g;
                /// Cosine (radians).
                14 Cos cos COS "cos"
                    forward |x, p| x.cos(),
                    backward |x, z, g, p| -x.sin() * g;
                /// Tangent (radians); its derivative is `1 + tan(x) ** 2`.
                15 Tan tan TAN "tan"
                    forward |x, p| x.tan(),
                    backward |x, z, g, p| (k::<T>(1.0) + z * z) * g;
                /// Square root; negative inputs give nan.
                16 Sqrt sqrt SQRT "sqrt"
                    forward |x, p| x.sqrt(),
                    backward |x, z, g, p| (k::<T>(0.5) / z) * g;
                /// Arcsine: `asin(x)` for `|x| <= 1`, nan outside; the derivative
                /// `1 / sqrt(1 - x²)` is inf at ±1.
                20 Asin asin ASIN "asin" alias arcsin
                    forward |x, p| x.apply(f64::asin, |x| 1.0 / ((1.0 - x) * (1.0 + x)).sqrt()),
                    backward |x, z, g, p| g / ((k::<T>(1.0) - x) * (k::<T>(1.0) + x)).sqrt();
                /// Arccosine, in [0, pi]: nan outside [-1, 1]; the derivative
                /// -1 / sqrt(1 - x²) is -inf at ±1.
                21 Acos acos ACOS "acos" alias arccos
                    forward |x, p| x.apply(f64::acos, |x| -1.0 / ((1.0 - x) * (1.0 + x)).sqrt()),
                    backward |x, z, g, p| -(g / ((k::<T>(1.0) - x) * (k::<T>(1.0) + x)).sqrt());
                /// Arctangent, in [-pi/2, pi/2]; the derivative is 1 / (1 + x²).
                22 Atan atan ATAN "atan" alias arctan
                    forward |x, p| x.apply(f64::atan, |x| 1.0 / (1.0 + x * x)),
                    backward |x, z, g, p| g / (k::<T>(1.0) + x * x);
                /// Cotangent 1 / tan(x) (radians): ±inf at ±0; the derivative is -(1 + cot²(x)).
                23 Cot cot COT "cot"
                    forward |x, p| k::<T>(1.0) / x.tan(),
                    backward |x, z, g, p| -(k::<T>(1.0) + z * z) * g;
                /// Secant 1 / cos(x) (radians); the derivative is sec(x) tan(x).
                24 Sec sec SEC "sec"
                    forward |x, p| k::<T>(1.0) / x.cos(),
                    backward |x, z, g, p| z * x.tan() * g;
                /// Cosecant 1 / sin(x) (radians): ±inf at ±0; the derivative is -csc(x) / tan(x).
                25 Csc csc CSC "csc"
                    forward |x, p| k::<T>(1.0) / x.sin(),
                    backward |x, z, g, p| -(z / x.tan()) * g;
                /// Arccotangent atan(1 / x), in (-pi/2, pi/2]: pi/2 at 0 and -pi/2 at -0.0;
                /// the derivative is -1 / (1 + x²).
                26 Acot acot ACOT "acot"
                    forward |x, p| x.apply(|x| (1.0 / x).atan(), |x| -1.0 / (1.0 + x * x)),
                    backward |x, z, g, p| -(g / (k::<T>(1.0) + x * x));
                /// Arcsecant acos(1 / x), in [0, pi]: nan where |x| < 1; the derivative
                /// 1 / (|x| sqrt(x² - 1)) is inf at ±1.
                27 Asec asec ASEC "asec"
                    forward |x, p| x.apply(asec_f64, |x| 1.0 / x.abs() / sqrt_sq_minus_1(x.abs())),
                    backward |x, z, g, p| g / x.abs() / sqrt_sq_minus_1(x.abs());
                /// Arccosecant asin(1 / x), in [-pi/2, pi/2]: nan where |x| < 1; the derivative
                /// -1 / (|x| sqrt(x² - 1)) is -inf at ±1.
                28 Acsc acsc ACSC "acsc"
                    forward |x, p| x.apply(acsc_f64, |x| -1.0 / x.abs() / sqrt_sq_minus_1(x.abs())),
                    backward |x, z, g, p| -(g / x.abs() / sqrt_sq_minus_1(x.abs()));
                /// Hyperbolic sine; overflows to ±inf. The derivative is cosh(x).
                29 Sinh sinh SINH "sinh"
                    forward |x, p| x.apply(f64::sinh, f64::cosh),
                    backward |x, z, g, p| x.apply(f64::cosh, f64::sinh) * g;
                /// Hyperbolic cosine; overflows to inf. The derivative is sinh(x).
                30 Cosh cosh COSH "cosh"
                    forward |x, p| x.apply(f64::cosh, f64::sinh),
                    backward |x, z, g, p| x.apply(f64::sinh, f64::cosh) * g;
                /// Inverse hyperbolic sine; the derivative 1 / sqrt(1 + x²) is taken as 1 / |x|
                /// where 1 + x² rounds to x², so it never overflows to 0.
                31 Asinh asinh ASINH "asinh" alias arcsinh
                    forward |x, p| x.apply(libm::asinh, |x| 1.0 / sqrt_1_plus_sq(x)),
                    backward |x, z, g, p| g / sqrt_1_plus_sq(x);
                /// Inverse hyperbolic cosine: nan where x < 1; the derivative
                /// 1 / sqrt(x² - 1) is inf at 1.
                32 Acosh acosh ACOSH "acosh" alias arccosh
                    forward |x, p| x.apply(libm::acosh, |x| 1.0 / sqrt_sq_minus_1(x)),
                    backward |x, z, g, p| g / sqrt_sq_minus_1(x);
                /// Inverse hyperbolic tangent: ±inf at ±1, nan where |x| > 1; the derivative
                /// 1 / (1 - x²) is inf at ±1 and nan where |x| > 1.
                33 Atanh atanh ATANH "atanh" alias arctanh
                    forward |x, p| x.apply(libm::atanh, |x| if x.abs() > 1.0 {
                        f64::NAN
                    } else {
                        1.0 / ((1.0 - x) * (1.0 + x))
                    }),
                    backward |x, z, g, p| if x.re().abs() > 1.0 {
                        // nan that moves with x, so that forward over reverse (a Hessian) is
                        // nan here too, not the 0 of a constant.
                        x * k(f64::NAN)
                    } else {
                        g / ((k::<T>(1.0) - x) * (k::<T>(1.0) + x))
                    };
                /// `log(1 + x)`, accurate near 0: -inf at -1, nan below -1.
                34 Log1p log1p LOG1P "log1p"
                    forward |x, p| x.apply(f64::ln_1p, |x| 1.0 / (x + 1.0)),
                    backward |x, z, g, p| g / (x + k(1.0));
                /// `exp(x) - 1`, accurate near 0; overflows to inf.
                35 Expm1 expm1 EXPM1 "expm1"
                    forward |x, p| x.apply(f64::exp_m1, f64::exp),
                    backward |x, z, g, p| x.exp() * g;
                /// Base-2 logarithm: -inf at 0, nan for negative inputs.
                36 Log2 log2 LOG2 "log2"
                    forward |x, p| x.apply(f64::log2, |x| 1.0 / (x * LN_2)),
                    backward |x, z, g, p| g / (x * k(LN_2));
                /// Base-10 logarithm: -inf at 0, nan for negative inputs.
                37 Log10 log10 LOG10 "log10"
                    forward |x, p| x.apply(f64::log10, |x| 1.0 / (x * LN_10)),
                    backward |x, z, g, p| g / (x * k(LN_10));
                /// `2 ** x`; overflows to inf.
                38 Exp2 exp2 EXP2 "exp2"
                    forward |x, p| x.apply(f64::exp2, |x| x.exp2() * LN_2),
                    backward |x, z, g, p| z * k(LN_2) * g;
                /// Cube root, negative for negative inputs; the derivative is inf at 0.
                39 Cbrt cbrt CBRT "cbrt"
                    forward |x, p| x.apply(f64::cbrt, |x| 1.0 / (3.0 * x.cbrt() * x.cbrt())),
                    backward |x, z, g, p| g / (k::<T>(3.0) * z * z);
                /// The error function, the C library's.
                40 Erf erf ERF "erf"
                    forward |x, p| x.apply(erf, d_erf),
                    backward |x, z, g, p| x.apply(d_erf, dd_erf) * g;
                /// `1 - erf(x)`, accurate where it is small (large x), the C library's.
                41 Erfc erfc ERFC "erfc"
                    forward |x, p| x.apply(erfc, d_erfc),
                    backward |x, z, g, p| -(x.apply(d_erf, dd_erf) * g);
                /// `log(1 + exp(x))` in a form that never overflows; the derivative is `sigmoid(x)`.
                42 Softplus softplus SOFTPLUS "softplus"
                    forward |x, p| x.apply(softplus_f64, |x| sigmoid::forward(x, 0.0)),
                    backward |x, z, g, p| sigmoid::forward(x, p) * g;
                /// `x * sigmoid(x)` (SiLU, also called swish).
                43 Silu silu SILU "silu"
                    forward |x, p| x.apply(silu_value, silu_slope),
                    backward |x, z, g, p| silu_slope(x) * g;
            }
            operator {
                6 Neg neg NEG "neg"
                    forward |x, p| -x,
                    backward |x, z, g, p| -g;
                /// `|x|`, with derivative 0 at 0.
                17 Abs abs ABS "abs"
                    forward |x, p| x.abs(),
                    backward |x, z, g, p| if x.re() > 0.0 { g } else if x.re() < 0.0 { -g } else { k(0.0) };
                /// GELU, `x · Φ(x)` with `Φ` the normal CDF, as `x/2 · erfc(-x/√2)` (accurate
                /// for very negative x); its derivative is `Φ(x) + x · φ(x)`. Python spells it
                /// `x.gelu()`.
                44 Gelu gelu GELU "gelu"
                    forward |x, p| x.apply(gelu_value, gelu_slope),
                    backward |x, z, g, p| gelu_slope(x) * g;
                /// GELU's tanh approximation `x/2 · (1 + tanh(u))`, `u = √(2/π) (x + 0.044715 x³)`,
                /// as `x · sigmoid(2u)` (accurate for very negative x). Python spells it
                /// `x.gelu(approximate="tanh")`.
                45 GeluTanh gelu_tanh GELU_TANH "gelu_tanh"
                    forward |x, p| x.apply(gelu_tanh_value, gelu_tanh_slope),
                    backward |x, z, g, p| gelu_tanh_slope(x) * g;
            }
            param {
                /// `x` where positive, else `slope · x`; the slope `p` is kept in the node.
                8 LeakyRelu leaky_relu LEAKY_RELU "leaky_relu"
                    forward |x, p| if x.re() > 0.0 { x } else { k::<T>(p) * x },
                    backward |x, z, g, p| if x.re() > 0.0 { g } else { k::<T>(p) * g };
            }
            binary_method {
                /// `atan2(self, other)`: the angle of the point `(other, self)` in radians, in
                /// [-π, π], its quadrant picked by the signs, zeros' included (`atan2(-0.0, -1.0)`
                /// is -π). Gradient `(other, -self) / (self² + other²)`, nan at the origin.
                46 Atan2 atan2 ATAN2 "atan2" alias arctan2
                    forward |x, y| x.apply2(y, f64::atan2, atan2_partials),
                    backward |x, y, z, g| {
                        let r = hypot::forward(x, y);
                        (over_hypot(y, r, x) / r * g, -(over_hypot(x, r, y) / r) * g)
                    };
                /// `sqrt(self² + other²)`, without overflow or underflow on the way (libm's
                /// `hypot`); `hypot(inf, nan)` is inf, as IEEE says. Gradient
                /// `(self, other) / hypot(self, other)`, nan at the origin.
                47 Hypot hypot HYPOT "hypot"
                    forward |x, y| x.apply2(y, f64::hypot, hypot_partials),
                    backward |x, y, z, g| (over_hypot(x, z, y) * g, over_hypot(y, z, x) * g);
                /// The smaller of `self` and `other`: nan if either is nan, -0.0 below 0.0. At a
                /// tie the gradient is split evenly between the two, as torch does.
                48 Minimum minimum MINIMUM "minimum"
                    forward |x, y| x.apply2(y, minimum_f64, minimum_partials),
                    backward |x, y, z, g| share(minimum_partials(x.re(), y.re()), g);
                /// The larger of `self` and `other`: nan if either is nan, 0.0 above -0.0. At a
                /// tie the gradient is split evenly between the two, as torch does.
                49 Maximum maximum MAXIMUM "maximum"
                    forward |x, y| x.apply2(y, maximum_f64, maximum_partials),
                    backward |x, y, z, g| share(maximum_partials(x.re(), y.re()), g);
                /// `self` bounded below by `other` (`maximum`'s value), with torch's gradient:
                /// to `self` where `self >= other`, to `other` where `self < other`.
                50 ClampMin clamp_min CLAMP_MIN "clamp_min"
                    forward |x, y| x.apply2(y, maximum_f64, clamp_min_partials),
                    backward |x, y, z, g| share(clamp_min_partials(x.re(), y.re()), g);
                /// `self` bounded above by `other` (`minimum`'s value), with torch's gradient:
                /// to `self` where `self <= other`, to `other` where `self > other`.
                51 ClampMax clamp_max CLAMP_MAX "clamp_max"
                    forward |x, y| x.apply2(y, minimum_f64, clamp_max_partials),
                    backward |x, y, z, g| share(clamp_max_partials(x.re(), y.re()), g);
            }
        }
    };
}
pub(crate) use with_op_list;

/// One op as the outside world sees it (what `ferrograd._core.op_table()` returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    /// The op's stable short name, the same in both engines: "" for a leaf, else "+", "tanh", ...
    pub name: &'static str,
    /// The op's tag.
    pub code: Code,
    /// The method that builds it (`x.tanh()`), or the Python operator's dunder (`__neg__`);
    /// "" for a leaf and for the operators `+ - * / **`, and the function for `sum`/`dot`.
    /// A binary op's method takes the other operand: `y.atan2(x)`.
    pub method: &'static str,
    /// How many operands; `None` for the n-ary `sum` and `dot`.
    pub arity: Option<usize>,
    /// The name of the op's parameter (`slope`), if it has one.
    pub param: Option<&'static str>,
    /// Other names of the method that builds the op: numpy's (`arcsin` for `asin`), which
    /// numpy's ufuncs call on arrays of Values.
    pub aliases: &'static [&'static str],
}

/// Whether `codes` holds each of `0 .. codes.len()` exactly once (checked at compile time).
const fn dense(codes: &[u8]) -> bool {
    let mut i = 0;
    while i < codes.len() {
        let (mut seen, mut j) = (0, 0);
        while j < codes.len() {
            if codes[j] as usize == i {
                seen += 1;
            }
            j += 1;
        }
        if seen != 1 {
            return false;
        }
        i += 1;
    }
    true
}

macro_rules! define_formulas {
    (
        extra {}
        binary { $(
            $(#[$bdoc:meta])*
            $bcode:literal $BCode:ident $bmodule:ident $BOP:ident $bname:literal
                $(alias $balias:ident)*
                forward |$fx:ident, $fy:ident| $bforward:expr,
                backward |$bx:ident, $by:ident, $bz:ident, $bg:ident| $bbackward:expr;
        )* }
        unary { $($unary:tt)* }
        operator { $($operator:tt)* }
        param { $($param:tt)* }
        binary_method { $(
            $(#[$mdoc:meta])*
            $mcode:literal $MCode:ident $mmodule:ident $MOP:ident $mname:literal
                $(alias $malias:ident)*
                forward |$mfx:ident, $mfy:ident| $mforward:expr,
                backward |$mbx:ident, $mby:ident, $mbz:ident, $mbg:ident| $mbackward:expr;
        )* }
    ) => {
        define_formulas! {
            @all
            binary {
                $(
                    $(#[$bdoc])*
                    $bcode $BCode $bmodule $BOP $bname [""] $(alias $balias)*
                        forward |$fx, $fy| $bforward,
                        backward |$bx, $by, $bz, $bg| $bbackward;
                )*
                $(
                    $(#[$mdoc])*
                    $mcode $MCode $mmodule $MOP $mname [$mname] $(alias $malias)*
                        forward |$mfx, $mfy| $mforward,
                        backward |$mbx, $mby, $mbz, $mbg| $mbackward;
                )*
            }
            unary { $($unary)* $($operator)* }
            param { $($param)* }
        }
    };
    (
        @all
        binary { $(
            $(#[$bdoc:meta])*
            $bcode:literal $BCode:ident $bmodule:ident $BOP:ident $bname:literal [$bmethod:literal]
                $(alias $balias:ident)*
                forward |$fx:ident, $fy:ident| $bforward:expr,
                backward |$bx:ident, $by:ident, $bz:ident, $bg:ident| $bbackward:expr;
        )* }
        unary { $(
            $(#[$udoc:meta])*
            $ucode:literal $UCode:ident $umodule:ident $UOP:ident $uname:literal
                $(alias $ualias:ident)*
                forward |$ux:ident, $up:ident| $uforward:expr,
                backward |$x:ident, $z:ident, $g:ident, $p:ident| $ubackward:expr;
        )* }
        param { $(
            $(#[$pdoc:meta])*
            $pcode:literal $PCode:ident $pmodule:ident $POP:ident $pname:literal
                $(alias $palias:ident)*
                forward |$px:ident, $pp:ident| $pforward:expr,
                backward |$pbx:ident, $pbz:ident, $pbg:ident, $pbp:ident| $pbackward:expr;
        )* }
    ) => {
        /// Which op, as a plain tag (for the compiled tape and serialisation). The numbers
        /// are pinned: pickles store them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Code {
            /// A leaf: an input or a constant.
            Leaf = 0,
            $(#[doc = concat!("The op `", $bname, "`.")] $BCode = $bcode,)*
            $(#[doc = concat!("The op `", $uname, "`.")] $UCode = $ucode,)*
            $(#[doc = concat!("The op `", $pname, "`.")] $PCode = $pcode,)*
            /// The n-ary `sum`.
            Sum = 18,
            /// The n-ary `dot`.
            Dot = 19,
            /// A user-defined op (`ferrograd.custom_op`): its partials are kept in the node.
            Custom = CUSTOM_CODE,
        }

        /// How many codes there are: one more than the largest.
        pub const N_CODES: usize = 4 $(+ { let _ = $bcode; 1 })* $(+ { let _ = $ucode; 1 })*
            $(+ { let _ = $pcode; 1 })*;

        const _: () = assert!(
            dense(&[0, 18, 19, CUSTOM_CODE, $($bcode,)* $($ucode,)* $($pcode,)*]),
            "op codes must be 0, 1, 2, ... with none repeated"
        );

        impl Code {
            /// The code whose number (`code as u64`) is `x`, if any.
            pub fn from_index(x: u64) -> Option<Code> {
                match x {
                    0 => Some(Code::Leaf),
                    18 => Some(Code::Sum),
                    19 => Some(Code::Dot),
                    x if x == CUSTOM_CODE as u64 => Some(Code::Custom),
                    $($bcode => Some(Code::$BCode),)*
                    $($ucode => Some(Code::$UCode),)*
                    $($pcode => Some(Code::$PCode),)*
                    _ => None,
                }
            }

            /// How many operands the op takes; `None` for the n-ary `sum` and `dot`.
            pub fn arity(self) -> Option<usize> {
                self.info().arity
            }

            /// The op's stable short name: "" for a leaf, else "+", "*", "tanh", ...
            pub fn name(self) -> &'static str {
                self.info().name
            }

            /// The op's row of [`OP_TABLE`].
            pub fn info(self) -> &'static OpInfo {
                &OP_TABLE[self as usize]
            }
        }

        /// Every op, indexed by code.
        pub static OP_TABLE: [OpInfo; N_CODES] = {
            let mut t = [row("", Code::Leaf, "", Some(0), None, &[]); N_CODES];
            t[Code::Sum as usize] = row("sum", Code::Sum, "sum", None, None, &[]);
            t[Code::Dot as usize] = row("dot", Code::Dot, "dot", None, None, &[]);
            t[Code::Custom as usize] = row("custom", Code::Custom, "custom_op", None, None, &[]);
            $(t[Code::$BCode as usize] =
                row($bname, Code::$BCode, $bmethod, Some(2), None, &[$(stringify!($balias)),*]);)*
            $(t[Code::$UCode as usize] = row(
                $uname, Code::$UCode, method_name($uname), Some(1), None, &[$(stringify!($ualias)),*],
            );)*
            $(t[Code::$PCode as usize] =
                row($pname, Code::$PCode, $pname, Some(1), Some("slope"), &[$(stringify!($palias)),*]);)*
            t
        };

        $(
            #[doc = concat!("The op `", $bname, "`: its forward and backward formulas.")]
            $(#[$bdoc])*
            pub mod $bmodule {
                use super::*;

                /// The result `z` of the op on `x` and `y`.
                #[inline]
                pub fn forward<T: Real>($fx: T, $fy: T) -> T {
                    $bforward
                }

                /// The adjoints of `x` and `y`, from the operands, the result `z` and its adjoint `g`.
                #[inline]
                #[allow(unused_variables)]
                pub fn backward<T: Real>($bx: T, $by: T, $bz: T, $bg: T) -> (T, T) {
                    $bbackward
                }
            }
        )*

        $(
            #[doc = concat!("The op `", $uname, "`: its forward and backward formulas.")]
            $(#[$udoc])*
            pub mod $umodule {
                use super::*;

                /// The result `z` of the op on `x` (`p` is unused).
                #[inline]
                #[allow(unused_variables)]
                pub fn forward<T: Real>($ux: T, $up: f64) -> T {
                    $uforward
                }

                /// The adjoint of `x`, from `x`, the result `z` and its adjoint `g`.
                #[inline]
                #[allow(unused_variables)]
                pub fn backward<T: Real>($x: T, $z: T, $g: T, $p: f64) -> T {
                    $ubackward
                }
            }
        )*

        $(
            #[doc = concat!("The op `", $pname, "`: its forward and backward formulas.")]
            $(#[$pdoc])*
            pub mod $pmodule {
                use super::*;

                /// The result `z` of the op on `x` with the parameter `p`.
                #[inline]
                #[allow(unused_variables)]
                pub fn forward<T: Real>($px: T, $pp: f64) -> T {
                    $pforward
                }

                /// The adjoint of `x`, from `x`, the result `z`, its adjoint `g` and `p`.
                #[inline]
                #[allow(unused_variables)]
                pub fn backward<T: Real>($pbx: T, $pbz: T, $pbg: T, $pbp: f64) -> T {
                    $pbackward
                }
            }
        )*

        /// `forward` of the binary op `code`.
        #[inline]
        pub fn binary_forward<T: Real>(code: Code, x: T, y: T) -> T {
            match code {
                $(Code::$BCode => $bmodule::forward(x, y),)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `backward` of the binary op `code`.
        #[inline]
        pub fn binary_backward<T: Real>(code: Code, x: T, y: T, z: T, g: T) -> (T, T) {
            match code {
                $(Code::$BCode => $bmodule::backward(x, y, z, g),)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `forward` of the binary op `code` on each lane.
        pub fn binary_forward_lanes(code: Code, x: &Lanes, y: &Lanes, z: &mut Lanes) {
            match code {
                $(Code::$BCode => for l in 0..LANES {
                    z[l] = $bmodule::forward(x[l], y[l]);
                },)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `backward` of the binary op `code` on each lane: the increments for both operands.
        pub fn binary_backward_lanes(
            code: Code,
            [x, y, z, g]: [&Lanes; 4],
            dx: &mut Lanes,
            dy: &mut Lanes,
        ) {
            match code {
                $(Code::$BCode => for l in 0..LANES {
                    (dx[l], dy[l]) = $bmodule::backward(x[l], y[l], z[l], g[l]);
                },)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `backward` of the binary op `code` on each lane, for one operand only (`right`
        /// picks `y`): the other is a constant, and what only it needs is never computed.
        pub fn binary_backward_one_lanes(
            code: Code,
            [x, y, z, g]: [&Lanes; 4],
            right: bool,
            d: &mut Lanes,
        ) {
            match code {
                $(Code::$BCode => if right {
                    for l in 0..LANES {
                        d[l] = $bmodule::backward(x[l], y[l], z[l], g[l]).1;
                    }
                } else {
                    for l in 0..LANES {
                        d[l] = $bmodule::backward(x[l], y[l], z[l], g[l]).0;
                    }
                },)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `forward` of the unary op `code`.
        #[inline]
        pub fn unary_forward<T: Real>(code: Code, x: T, p: f64) -> T {
            match code {
                $(Code::$UCode => $umodule::forward(x, p),)*
                $(Code::$PCode => $pmodule::forward(x, p),)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `backward` of the unary op `code`.
        #[inline]
        pub fn unary_backward<T: Real>(code: Code, x: T, z: T, g: T, p: f64) -> T {
            match code {
                $(Code::$UCode => $umodule::backward(x, z, g, p),)*
                $(Code::$PCode => $pmodule::backward(x, z, g, p),)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `forward` of the unary op `code` on each lane.
        pub fn unary_forward_lanes(code: Code, x: &Lanes, p: f64, z: &mut Lanes) {
            match code {
                $(Code::$UCode => for l in 0..LANES {
                    z[l] = $umodule::forward(x[l], p);
                },)*
                $(Code::$PCode => for l in 0..LANES {
                    z[l] = $pmodule::forward(x[l], p);
                },)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `backward` of the unary op `code` on each lane, into `dx`.
        pub fn unary_backward_lanes(code: Code, [x, z, g]: [&Lanes; 3], p: f64, dx: &mut Lanes) {
            match code {
                $(Code::$UCode => for l in 0..LANES {
                    dx[l] = $umodule::backward(x[l], z[l], g[l], p);
                },)*
                $(Code::$PCode => for l in 0..LANES {
                    dx[l] = $pmodule::backward(x[l], z[l], g[l], p);
                },)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }
    };
}

with_op_list!(define_formulas);

const fn row(
    name: &'static str,
    code: Code,
    method: &'static str,
    arity: Option<usize>,
    param: Option<&'static str>,
    aliases: &'static [&'static str],
) -> OpInfo {
    OpInfo {
        name,
        code,
        method,
        arity,
        param,
        aliases,
    }
}

/// The Python method of a unary op without a parameter: its name, or the operator's dunder.
const fn method_name(name: &'static str) -> &'static str {
    match name.as_bytes() {
        b"neg" => "__neg__",
        b"abs" => "__abs__",
        // `x.gelu(approximate="tanh")`: no method of its own.
        b"gelu_tanh" => "",
        _ => name,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers of the entries above.
// ---------------------------------------------------------------------------------------------

/// `sqrt(a² - 1)` as `sqrt(a - 1) · sqrt(a + 1)`: no cancellation near `a = 1`, no overflow for
/// large `a`, and nan for every `a < 1` (where `a - 1 < 0`).
#[inline]
fn sqrt_sq_minus_1<T: Real>(a: T) -> T {
    (a - k(1.0)).sqrt() * (a + k(1.0)).sqrt()
}

/// Beyond this `|x|`, `1 + x²` rounds to `x²`, so `sqrt(1 + x²)` rounds to `|x|`.
const SQ_ABSORBS_ONE: f64 = 134_217_728.0; // 2^27

/// `sqrt(1 + x²)`, taken as `|x|` where `1 + x²` rounds to `x²` (the correctly rounded result
/// there), so that it does not overflow for large `|x|`.
#[inline]
fn sqrt_1_plus_sq<T: Real>(x: T) -> T {
    if x.re().abs() < SQ_ABSORBS_ONE {
        (k::<T>(1.0) + x * x).sqrt()
    } else {
        x.abs()
    }
}

/// `asec(x) = acos(1 / x)`, as the angle of the point `(sign(x), sqrt(x² - 1))`: accurate near
/// `|x| = 1`, where `acos(1 / x)` loses the low bits of `1 / x`.
fn asec_f64(x: f64) -> f64 {
    sqrt_sq_minus_1(x.abs()).atan2(1.0f64.copysign(x))
}

/// `acsc(x) = asin(1 / x)`, as the angle of the point `(sqrt(x² - 1), sign(x))` (see [`asec_f64`]).
fn acsc_f64(x: f64) -> f64 {
    1.0f64.copysign(x).atan2(sqrt_sq_minus_1(x.abs()))
}

/// The C library's inverse hyperbolic functions, which Python's `math` calls too (`f64::asinh`,
/// `acosh` and `atanh` are other formulas, computed in Rust, that differ in the last bits).
mod libm {
    extern "C" {
        #[link_name = "asinh"]
        fn c_asinh(x: f64) -> f64;
        #[link_name = "acosh"]
        fn c_acosh(x: f64) -> f64;
        #[link_name = "atanh"]
        fn c_atanh(x: f64) -> f64;
    }

    /// The C library's `asinh`.
    #[inline]
    pub fn asinh(x: f64) -> f64 {
        // SAFETY: a pure function of one double, in every C library std links against.
        unsafe { c_asinh(x) }
    }

    /// The C library's `acosh` (nan where `x < 1`).
    #[inline]
    pub fn acosh(x: f64) -> f64 {
        // SAFETY: as above.
        unsafe { c_acosh(x) }
    }

    /// The C library's `atanh` (±inf at ±1, nan where `|x| > 1`).
    #[inline]
    pub fn atanh(x: f64) -> f64 {
        // SAFETY: as above.
        unsafe { c_atanh(x) }
    }
}

// ---------------------------------------------------------------------------------------------
// Pieces of the binary methods' formulas, over f64 (forward mode reads the partials, reverse mode
// the same partials through `share`, so both give the same derivative).
// ---------------------------------------------------------------------------------------------

/// `(∂/∂x, ∂/∂y)` of `atan2(x, y)`: `(y, -x) / (x² + y²)`, divided by the hypotenuse twice so
/// that no square overflows or underflows.
fn atan2_partials(x: f64, y: f64) -> (f64, f64) {
    let r = x.hypot(y);
    (over_hypot(y, r, x) / r, -(over_hypot(x, r, y) / r))
}

/// `a / r` for `r = hypot(a, b)`, and its limit `±1` where `a` is infinite and `b` finite (where
/// `inf / inf` would be nan): so the slopes of atan2 (0) and hypot (±1, 0) at an infinity are
/// their limits. Two infinities, or a nan, still give nan.
#[inline]
fn over_hypot<T: Real>(a: T, r: T, b: T) -> T {
    if a.re().is_infinite() && b.re().is_finite() {
        k::<T>(a.re().signum())
    } else {
        a / r
    }
}

/// `(∂/∂x, ∂/∂y)` of `hypot(x, y)`: `(x, y) / hypot(x, y)`.
fn hypot_partials(x: f64, y: f64) -> (f64, f64) {
    let r = x.hypot(y);
    (over_hypot(x, r, y), over_hypot(y, r, x))
}

/// The smaller of `x` and `y`; nan if either is; `-0.0` where they tie at zero.
fn minimum_f64(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x < y || (x == y && x.is_sign_negative()) {
        x
    } else {
        y
    }
}

/// The larger of `x` and `y`; nan if either is; `0.0` where they tie at zero.
fn maximum_f64(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > y || (x == y && x.is_sign_positive()) {
        x
    } else {
        y
    }
}

/// Torch's shares of `minimum(x, y)`'s gradient: all to the smaller, half each at a tie (and
/// all to each where one is nan, where no comparison holds).
fn minimum_partials(x: f64, y: f64) -> (f64, f64) {
    if x == y {
        (0.5, 0.5)
    } else {
        (if x > y { 0.0 } else { 1.0 }, if x < y { 0.0 } else { 1.0 })
    }
}

/// Torch's shares of `maximum(x, y)`'s gradient: all to the larger, half each at a tie (and all
/// to each where one is nan).
fn maximum_partials(x: f64, y: f64) -> (f64, f64) {
    if x == y {
        (0.5, 0.5)
    } else {
        (if x < y { 0.0 } else { 1.0 }, if x > y { 0.0 } else { 1.0 })
    }
}

/// Torch's shares of `clamp_min(x, lo)`'s gradient: to `x` where `x >= lo`, to `lo` where
/// `x < lo` (to neither at nan).
fn clamp_min_partials(x: f64, lo: f64) -> (f64, f64) {
    (f64::from(u8::from(x >= lo)), f64::from(u8::from(x < lo)))
}

/// Torch's shares of `clamp_max(x, hi)`'s gradient: to `x` where `x <= hi`, to `hi` where
/// `x > hi` (to neither at nan).
fn clamp_max_partials(x: f64, hi: f64) -> (f64, f64) {
    (f64::from(u8::from(x <= hi)), f64::from(u8::from(x > hi)))
}

/// The adjoint `g` shared out by `(wx, wy)`, each 0, 1/2 or 1: a share of 0 is exactly 0 and a
/// share of 1 is `g` itself, so an infinite or nan `g` reaches only the operand it belongs to.
#[inline]
fn share<T: Real>((wx, wy): (f64, f64), g: T) -> (T, T) {
    let part = |w: f64| {
        if w == 0.0 {
            k(0.0)
        } else if w == 1.0 {
            g
        } else {
            k::<T>(w) * g
        }
    };
    (part(wx), part(wy))
}

// ---------------------------------------------------------------------------------------------
// The fused n-ary ops and the tape's square, as formulas the graph and the tape share.
// ---------------------------------------------------------------------------------------------

/// `x0 + x1 + …`, left to right from 0: `z = fold(0, step)`; backward: every `xi += g`.
pub mod sum {
    use super::*;

    /// One step of the fold: `acc + x`.
    #[inline]
    pub fn step<T: Real>(acc: T, x: T) -> T {
        acc + x
    }

    /// The sum of `xs`, left to right from 0.
    #[inline]
    pub fn forward<T: Real>(xs: impl IntoIterator<Item = T>) -> T {
        xs.into_iter().fold(k(0.0), step)
    }
}

/// `w0·x0 + w1·x1 + …`, left to right from 0, operands `w0 … wn-1, x0 … xn-1`;
/// backward: `wi += xi · g`, `xi += wi · g`.
pub mod dot {
    use super::*;

    /// One step of the fold: `acc + w · x`.
    #[inline]
    pub fn step<T: Real>(acc: T, w: T, x: T) -> T {
        acc + w * x
    }

    /// The dot product of the pairs, left to right from 0.
    #[inline]
    pub fn forward<T: Real>(pairs: impl IntoIterator<Item = (T, T)>) -> T {
        pairs
            .into_iter()
            .fold(k(0.0), |acc, (w, x)| step(acc, w, x))
    }

    /// The increments `(∂z/∂w · g, ∂z/∂x · g)` for one pair.
    #[inline]
    pub fn backward<T: Real>(w: T, x: T, g: T) -> (T, T) {
        (x * g, w * g)
    }
}

/// `x ** 2` as `x * x` (the tape's rewrite of `pow` with a constant exponent 2): exact where
/// libm's `pow` may be one rounding off. Its derivative `2 · x` is what `pow`'s backward gives.
pub mod square {
    use super::*;

    /// `x * x`.
    #[inline]
    pub fn forward<T: Real>(x: T) -> T {
        x.square()
    }

    /// The adjoint `2 · x · g` of `x`.
    #[inline]
    pub fn backward<T: Real>(x: T, g: T) -> T {
        k::<T>(2.0) * x * g
    }
}

/// Why an op refused its operands.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError {
    /// `dot` of vectors of different lengths.
    LengthMismatch {
        /// The weights' length.
        left: usize,
        /// The inputs' length.
        right: usize,
    },
    /// `leaky_relu` with a slope that is negative, infinite or NaN.
    BadSlope(f64),
    /// A custom op given a number of partials other than its number of operands.
    Partials {
        /// The op's name.
        op: &'static str,
        /// How many operands.
        operands: usize,
        /// How many partials.
        partials: usize,
    },
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::LengthMismatch { left, right } => write!(
                f,
                "dot() needs two sequences of the same length, got {left} and {right}"
            ),
            OpError::BadSlope(s) => write!(f, "leaky_relu() needs a finite slope >= 0, got {s}"),
            OpError::Partials {
                op,
                operands,
                partials,
            } => write!(
                f,
                "custom op '{op}' takes {operands} operands, so its derivative must give \
                 {operands} partials, got {partials}"
            ),
        }
    }
}

impl std::error::Error for OpError {}

/// `slope` when leaky ReLU may take it: finite and >= 0 (wherever a slope comes from: a call,
/// or bytes being read back).
pub fn check_slope(slope: f64) -> Result<f64, OpError> {
    if slope.is_finite() && slope >= 0.0 {
        Ok(slope)
    } else {
        Err(OpError::BadSlope(slope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_indexed_by_code_and_codes_are_pinned() {
        for (i, row) in OP_TABLE.iter().enumerate() {
            assert_eq!(row.code as usize, i, "{}", row.name);
            assert_eq!(Code::from_index(i as u64), Some(row.code));
        }
        assert_eq!(Code::from_index(N_CODES as u64), None);
        assert_eq!(Code::from_index(u64::MAX), None);
        // The numbers pickles already hold (tests/golden/ pins the bytes as well).
        let pinned = [
            (Code::Leaf, 0),
            (Code::Add, 1),
            (Code::Pow, 5),
            (Code::Neg, 6),
            (Code::LeakyRelu, 8),
            (Code::Abs, 17),
            (Code::Sum, 18),
            (Code::Dot, 19),
        ];
        for (code, n) in pinned {
            assert_eq!(code as u8, n, "{code:?}");
        }
    }

    #[test]
    fn erf_and_erfc_come_from_the_c_library_and_are_consistent() {
        use crate::scalar::{erf, erfc};
        for x in [-3.0, -0.7, -1e-300, 0.0, 0.4, 1.5, 5.0] {
            assert_eq!(erf(-x), -erf(x), "erf is odd at {x}");
            assert!(
                (erf(x) + erfc(x) - 1.0).abs() <= 2.0 * f64::EPSILON,
                "erf + erfc at {x}"
            );
        }
        assert_eq!((erf(f64::INFINITY), erfc(f64::INFINITY)), (1.0, 0.0));
        assert_eq!(
            (erf(f64::NEG_INFINITY), erfc(f64::NEG_INFINITY)),
            (-1.0, 2.0)
        );
        assert!(erf(f64::NAN).is_nan() && erfc(f64::NAN).is_nan());
        // erfc keeps its digits where 1 - erf(x) has none left.
        assert!(erfc(10.0) > 2.0e-45 && erfc(10.0) < 2.1e-45 && 1.0 - erf(10.0) == 0.0);
    }

    #[test]
    fn the_gelu_and_silu_family_take_their_limits_at_infinities() {
        for (name, f, df) in [
            (
                "silu",
                silu::forward::<f64> as fn(f64, f64) -> f64,
                silu::backward::<f64> as fn(f64, f64, f64, f64) -> f64,
            ),
            ("gelu", gelu::forward::<f64>, gelu::backward::<f64>),
            (
                "gelu_tanh",
                gelu_tanh::forward::<f64>,
                gelu_tanh::backward::<f64>,
            ),
        ] {
            let inf = f64::INFINITY;
            assert_eq!(f(inf, 0.0), inf, "{name}");
            assert_eq!(f(-inf, 0.0).to_bits(), (-0.0f64).to_bits(), "{name}");
            assert_eq!(df(inf, inf, 1.0, 0.0), 1.0, "{name}");
            assert_eq!(df(-inf, -0.0, 1.0, 0.0), 0.0, "{name}");
            assert_eq!(df(1e300, 1e300, 1.0, 0.0), 1.0, "{name}");
            assert_eq!(df(-1e300, -0.0, 1.0, 0.0), 0.0, "{name}");
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = OP_TABLE.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_CODES);
    }
}
