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

use crate::scalar::{k, Lanes, Real, LANES};

/// Leaky ReLU's slope when none is given.
pub const DEFAULT_SLOPE: f64 = 0.01;

/// The code of [`Code::Custom`], the row of every user-defined op: the one place its number is
/// written (pinned like the others, since pickles store it).
pub const CUSTOM_CODE: u8 = 21;

/// The list of ops, handed to `$then!` (a macro that generates something from it), after
/// any tokens given as `$extra` (`extra { … }`).
///
/// Groups: `binary` ops `z = f(x, y)`; `unary` ops `z = f(x)`, each a plain method `x.f()`;
/// `operator` ops, unary ops spelled as Python operators (`-x`, `abs(x)`); `param` ops, unary
/// ops with a parameter `p` kept in the node (leaky ReLU's slope). `p` is 0.0 for the others.
///
/// Each entry: its code (pinned: never reuse or renumber one; a new op takes the next free
/// number, today 22), its `Code` variant, its module and method name, its `Op` static and its
/// name string, then forward and backward over `Real`. `Leaf` (0), `Sum` (18), `Dot` (19) and
/// `Custom` ([`CUSTOM_CODE`], the ops users define, whose nodes keep their partials) are not in
/// the list:
/// they have no fixed arity.
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
                    backward |x, y, z, g| (g / y, -(z / y) * g);
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
                20 Asin asin ASIN "asin"
                    forward |x, p| x.apply(f64::asin, |x| 1.0 / (1.0 - x * x).sqrt()),
                    backward |x, z, g, p| g / (k::<T>(1.0) - x * x).sqrt();
            }
            operator {
                6 Neg neg NEG "neg"
                    forward |x, p| -x,
                    backward |x, z, g, p| -g;
                /// `|x|`, with derivative 0 at 0.
                17 Abs abs ABS "abs"
                    forward |x, p| x.abs(),
                    backward |x, z, g, p| if x.re() > 0.0 { g } else if x.re() < 0.0 { -g } else { k(0.0) };
            }
            param {
                /// `x` where positive, else `slope · x`; the slope `p` is kept in the node.
                8 LeakyRelu leaky_relu LEAKY_RELU "leaky_relu"
                    forward |x, p| if x.re() > 0.0 { x } else { k::<T>(p) * x },
                    backward |x, z, g, p| if x.re() > 0.0 { g } else { k::<T>(p) * g };
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
    pub method: &'static str,
    /// How many operands; `None` for the n-ary `sum` and `dot`.
    pub arity: Option<usize>,
    /// The name of the op's parameter (`slope`), if it has one.
    pub param: Option<&'static str>,
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
                forward |$fx:ident, $fy:ident| $bforward:expr,
                backward |$bx:ident, $by:ident, $bz:ident, $bg:ident| $bbackward:expr;
        )* }
        unary { $($unary:tt)* }
        operator { $($operator:tt)* }
        param { $($param:tt)* }
    ) => {
        define_formulas! {
            @all
            binary { $(
                $(#[$bdoc])*
                $bcode $BCode $bmodule $BOP $bname
                    forward |$fx, $fy| $bforward,
                    backward |$bx, $by, $bz, $bg| $bbackward;
            )* }
            unary { $($unary)* $($operator)* }
            param { $($param)* }
        }
    };
    (
        @all
        binary { $(
            $(#[$bdoc:meta])*
            $bcode:literal $BCode:ident $bmodule:ident $BOP:ident $bname:literal
                forward |$fx:ident, $fy:ident| $bforward:expr,
                backward |$bx:ident, $by:ident, $bz:ident, $bg:ident| $bbackward:expr;
        )* }
        unary { $(
            $(#[$udoc:meta])*
            $ucode:literal $UCode:ident $umodule:ident $UOP:ident $uname:literal
                forward |$ux:ident, $up:ident| $uforward:expr,
                backward |$x:ident, $z:ident, $g:ident, $p:ident| $ubackward:expr;
        )* }
        param { $(
            $(#[$pdoc:meta])*
            $pcode:literal $PCode:ident $pmodule:ident $POP:ident $pname:literal
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
            let mut t = [row("", Code::Leaf, "", Some(0), None); N_CODES];
            t[Code::Sum as usize] = row("sum", Code::Sum, "sum", None, None);
            t[Code::Dot as usize] = row("dot", Code::Dot, "dot", None, None);
            t[Code::Custom as usize] = row("custom", Code::Custom, "custom_op", None, None);
            $(t[Code::$BCode as usize] = row($bname, Code::$BCode, "", Some(2), None);)*
            $(t[Code::$UCode as usize] = row($uname, Code::$UCode, method_name($uname), Some(1), None);)*
            $(t[Code::$PCode as usize] = row($pname, Code::$PCode, $pname, Some(1), Some("slope"));)*
            t
        };

        $(
            #[doc = concat!("The op `", $bname, "`: its forward and backward formulas.")]
            $(#[$bdoc])*
            pub mod $bmodule {
                use super::*;

                /// The result `z` of `x op y`.
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
) -> OpInfo {
    OpInfo {
        name,
        code,
        method,
        arity,
        param,
    }
}

/// The Python method of a unary op without a parameter: its name, or the operator's dunder.
const fn method_name(name: &'static str) -> &'static str {
    match name.as_bytes() {
        b"neg" => "__neg__",
        b"abs" => "__abs__",
        _ => name,
    }
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
    fn names_are_unique() {
        let mut names: Vec<&str> = OP_TABLE.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), N_CODES);
    }
}
