//! The numbers the op table computes with: `f64`, and `Dual`, a value with a tangent, for
//! forward mode and second derivatives. Writing each op once over `Real` keeps one formula
//! per op however it is evaluated.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::ops::{unary_backward, unary_forward, Code};

/// How many points the compiled tape's batches evaluate side by side: each instruction runs
/// over a row of `LANES` numbers, which the compiler turns into vector instructions.
pub const LANES: usize = 32;

/// One slot's numbers across the lanes.
pub type Lanes = [f64; LANES];

/// What an op formula needs of a number. Branches (relu, abs, pow's special points) look at
/// the primal part `re()`.
pub trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// The number `x` as a constant (for a dual number, with a zero tangent).
    fn lift(x: f64) -> Self;
    /// The real part: the value without its derivative.
    fn re(self) -> f64;
    /// The table's unary op `code` (parameter `p`) at `self`: its forward formula. A dual
    /// number carries its tangent by the op's slope instead (see `Dual`'s implementation).
    fn unary_op(self, code: Code, p: f64) -> Self {
        unary_forward(code, self, p)
    }
    /// IEEE `pow(self, y)`.
    fn powf(self, y: Self) -> Self;
    /// `e ** self`.
    fn exp(self) -> Self;
    /// The natural logarithm (`ln 0 = -inf`, `ln(x < 0) = nan`).
    fn ln(self) -> Self;
    /// Sine (radians).
    fn sin(self) -> Self;
    /// Cosine (radians).
    fn cos(self) -> Self;
    /// Tangent (radians).
    fn tan(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root (`sqrt(x < 0) = nan`).
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `self * self`; for a dual number, with `pow`'s rule that a zero tangent stays exactly
    /// zero (a plain product would give `0 · inf = NaN` at an infinite value).
    fn square(self) -> Self;
    /// `f(self)` for an elementary function `f` of f64 whose derivative is `df`: for a dual
    /// number, with the tangent carried by the chain rule (a zero tangent stays exactly zero).
    /// An op whose function `Real` lacks (`asin`, ...) is written with it, so adding one needs
    /// nothing here.
    fn apply(self, f: impl Fn(f64) -> f64, df: impl Fn(f64) -> f64) -> Self;
    /// `f(self, y)` for a function `f` of two f64 whose partial derivatives are `df`: for a
    /// dual number, with the tangent `∂f/∂x · dx + ∂f/∂y · dy` (a zero tangent contributes
    /// exactly zero). The binary ops `Real` lacks (`atan2`, `hypot`, ...) are written with it.
    fn apply2(
        self,
        y: Self,
        f: impl Fn(f64, f64) -> f64,
        df: impl Fn(f64, f64) -> (f64, f64),
    ) -> Self;
}

// The C library's error functions (Rust's std has none): the same `erf`/`erfc` that
// CPython's `math.erf`/`math.erfc` call, so the two engines agree to the last bit.
unsafe extern "C" {
    #[link_name = "erf"]
    safe fn c_erf(x: f64) -> f64;
    #[link_name = "erfc"]
    safe fn c_erfc(x: f64) -> f64;
}

/// The error function `2/√π ∫₀ˣ exp(-t²) dt`, from the platform's C library.
#[inline]
pub fn erf(x: f64) -> f64 {
    c_erf(x)
}

/// The complementary error function `1 - erf(x)`, from the platform's C library (accurate
/// where it is small, for large x).
#[inline]
pub fn erfc(x: f64) -> f64 {
    c_erfc(x)
}

/// A constant of whatever `Real` type the context asks for.
#[inline]
pub fn k<T: Real>(x: f64) -> T {
    T::lift(x)
}

impl Real for f64 {
    #[inline]
    fn lift(x: f64) -> f64 {
        x
    }
    #[inline]
    fn re(self) -> f64 {
        self
    }
    #[inline]
    fn powf(self, y: f64) -> f64 {
        f64::powf(self, y)
    }
    #[inline]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    #[inline]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    #[inline]
    fn sin(self) -> f64 {
        f64::sin(self)
    }
    #[inline]
    fn cos(self) -> f64 {
        f64::cos(self)
    }
    #[inline]
    fn tan(self) -> f64 {
        f64::tan(self)
    }
    #[inline]
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    #[inline]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline]
    fn square(self) -> f64 {
        self * self
    }
    #[inline]
    fn apply(self, f: impl Fn(f64) -> f64, _df: impl Fn(f64) -> f64) -> f64 {
        f(self)
    }
    #[inline]
    fn apply2(
        self,
        y: f64,
        f: impl Fn(f64, f64) -> f64,
        _df: impl Fn(f64, f64) -> (f64, f64),
    ) -> f64 {
        f(self, y)
    }
}

/// `re + eps·ε` with `ε² = 0`: carries a directional derivative alongside a value.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Dual {
    /// The value.
    pub re: f64,
    /// The tangent: the derivative along the chosen direction.
    pub eps: f64,
}

impl Dual {
    /// `re + eps·ε`.
    pub fn new(re: f64, eps: f64) -> Dual {
        Dual { re, eps }
    }

    /// `f(self)` given `f(re)` and `f'(re)`; a zero tangent stays exactly zero, so an infinite
    /// derivative where nothing moves does not turn into NaN.
    #[inline]
    fn chain(self, value: f64, derivative: f64) -> Dual {
        let eps = if self.eps == 0.0 {
            0.0
        } else {
            derivative * self.eps
        };
        Dual { re: value, eps }
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual::new(self.re + o.re, self.eps + o.eps)
    }
}

impl Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual::new(self.re - o.re, self.eps - o.eps)
    }
}

/// `tangent · factor`, where a zero tangent stays exactly zero whatever the factor (a constant's
/// zero tangent times an infinite value is 0, not `0 · inf = NaN`), as in reverse mode.
#[inline]
fn scaled(tangent: f64, factor: f64) -> f64 {
    if tangent == 0.0 {
        0.0
    } else {
        tangent * factor
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual::new(
            self.re * o.re,
            scaled(self.eps, o.re) + scaled(o.eps, self.re),
        )
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let re = self.re / o.re;
        let eps = if self.eps == 0.0 && o.eps == 0.0 {
            0.0
        } else {
            (self.eps - scaled(o.eps, re)) / o.re
        };
        Dual::new(re, eps)
    }
}

impl Neg for Dual {
    type Output = Dual;
    fn neg(self) -> Dual {
        Dual::new(-self.re, -self.eps)
    }
}

impl Real for Dual {
    fn lift(x: f64) -> Dual {
        Dual::new(x, 0.0)
    }
    fn re(self) -> f64 {
        self.re
    }
    /// The value, and the op's slope (its backward with `g = 1`, the number reverse mode
    /// computes) times the tangent, a zero tangent staying zero: one formula per op, so
    /// `ferrograd.reference.Dual` gives the same bits. Composing the forward formula over dual
    /// numbers (`1 / tan(x)` for cot) would round differently.
    fn unary_op(self, code: Code, p: f64) -> Dual {
        let z = unary_forward(code, self.re, p);
        let eps = if self.eps == 0.0 {
            0.0
        } else {
            unary_backward(code, self.re, z, 1.0, p) * self.eps
        };
        Dual::new(z, eps)
    }
    fn powf(self, y: Dual) -> Dual {
        let re = self.re.powf(y.re);
        // Same conventions as the op table: d/dx x**0 = 0, and d/dy x**y = 0 at x = 0, y >= 0.
        let dx = if self.eps == 0.0 || y.re == 0.0 {
            0.0
        } else {
            y.re * self.re.powf(y.re - 1.0) * self.eps
        };
        let dy = if y.eps == 0.0 || (self.re == 0.0 && y.re >= 0.0) {
            0.0
        } else {
            re * self.re.ln() * y.eps
        };
        Dual::new(re, dx + dy)
    }
    fn exp(self) -> Dual {
        let e = self.re.exp();
        self.chain(e, e)
    }
    fn ln(self) -> Dual {
        self.chain(self.re.ln(), 1.0 / self.re)
    }
    fn sin(self) -> Dual {
        self.chain(self.re.sin(), self.re.cos())
    }
    fn cos(self) -> Dual {
        self.chain(self.re.cos(), -self.re.sin())
    }
    fn tan(self) -> Dual {
        let t = self.re.tan();
        self.chain(t, 1.0 + t * t)
    }
    fn tanh(self) -> Dual {
        let t = self.re.tanh();
        self.chain(t, 1.0 - t * t)
    }
    fn sqrt(self) -> Dual {
        let s = self.re.sqrt();
        self.chain(s, 0.5 / s)
    }
    fn abs(self) -> Dual {
        let sign = if self.re > 0.0 {
            1.0
        } else if self.re < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.chain(self.re.abs(), sign)
    }
    fn square(self) -> Dual {
        self.chain(self.re * self.re, 2.0 * self.re)
    }
    fn apply(self, f: impl Fn(f64) -> f64, df: impl Fn(f64) -> f64) -> Dual {
        let eps = if self.eps == 0.0 {
            0.0
        } else {
            df(self.re) * self.eps
        };
        Dual {
            re: f(self.re),
            eps,
        }
    }
    fn apply2(
        self,
        y: Dual,
        f: impl Fn(f64, f64) -> f64,
        df: impl Fn(f64, f64) -> (f64, f64),
    ) -> Dual {
        let eps = if self.eps == 0.0 && y.eps == 0.0 {
            0.0
        } else {
            let (dx, dy) = df(self.re, y.re);
            scaled(self.eps, dx) + scaled(y.eps, dy)
        };
        Dual {
            re: f(self.re, y.re),
            eps,
        }
    }
}
