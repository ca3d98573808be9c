//! The op table. One op lives in one place: its name, its forward and its backward.
//!
//! Each op is a small module with `forward` and `backward` written once over `Real` (so the
//! graph, the compiled tape and forward mode all run the same formula) and a table entry
//! `Op` that the graph's nodes point to. Read each backward as the chain rule: it returns the
//! increments `∂z/∂x · g` for the operands' grads, with `z` the op's output and `g` its adjoint.
//! `docs/ops.md` is the same table in prose, and `python/ferrograd/reference.py` the same
//! table in Python, in the same order and the same floating-point order, so the two engines
//! agree to the last bit on most programs.

use crate::scalar::{k, Lanes, Real, LANES};
use crate::value::{Node, Operands, Value};

/// An op's table entry.
pub struct Op {
    /// Stable short name, the same in both engines: "+", "*", "tanh", ...
    pub name: &'static str,
    pub code: Code,
    /// Adds this node's contribution to its operands' grads.
    pub backward: fn(&Node),
}

/// Which op, as a plain tag (for the compiled tape and serialisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Leaf,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Neg,
    Relu,
    LeakyRelu,
    Tanh,
    Sigmoid,
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Sqrt,
    Abs,
    Sum,
    Dot,
}

/// A leaf (an input or a constant) has nothing to propagate to.
pub static LEAF: Op = Op {
    name: "",
    code: Code::Leaf,
    backward: |_| {},
};

/// Why an op refused its operands.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError {
    /// `dot` of vectors of different lengths.
    LengthMismatch { left: usize, right: usize },
    /// `leaky_relu` with a slope that is negative, infinite or NaN.
    BadSlope(f64),
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::LengthMismatch { left, right } => write!(
                f,
                "dot() needs two sequences of the same length, got {left} and {right}"
            ),
            OpError::BadSlope(s) => write!(f, "leaky_relu() needs a finite slope >= 0, got {s}"),
        }
    }
}

impl std::error::Error for OpError {}

// ---------------------------------------------------------------------------------------------
// Binary ops: `z = f(x, y)`; backward gives `(∂z/∂x · g, ∂z/∂y · g)`.
// ---------------------------------------------------------------------------------------------

macro_rules! binary_ops {
    ($(
        $(#[$doc:meta])*
        $module:ident $OP:ident $Code:ident $name:literal
            forward |$fx:ident, $fy:ident| $forward:expr,
            backward |$x:ident, $y:ident, $z:ident, $g:ident| $backward:expr;
    )*) => {
        $(
            $(#[$doc])*
            pub mod $module {
                use super::*;

                #[inline]
                pub fn forward<T: Real>($fx: T, $fy: T) -> T {
                    $forward
                }

                #[inline]
                #[allow(unused_variables)]
                pub fn backward<T: Real>($x: T, $y: T, $z: T, $g: T) -> (T, T) {
                    $backward
                }
            }

            pub static $OP: Op = Op {
                name: $name,
                code: Code::$Code,
                backward: |node| {
                    let [x, y] = two(node);
                    let (dx, dy) = $module::backward(x.data(), y.data(), node.data(), node.grad());
                    x.add_grad(dx);
                    y.add_grad(dy);
                },
            };
        )*

        /// `forward` of the binary op `code`.
        pub fn binary_forward<T: Real>(code: Code, x: T, y: T) -> T {
            match code {
                $(Code::$Code => $module::forward(x, y),)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `backward` of the binary op `code`.
        pub fn binary_backward<T: Real>(code: Code, x: T, y: T, z: T, g: T) -> (T, T) {
            match code {
                $(Code::$Code => $module::backward(x, y, z, g),)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }

        /// `forward` of the binary op `code` on each lane.
        pub fn binary_forward_lanes(code: Code, x: &Lanes, y: &Lanes, z: &mut Lanes) {
            match code {
                $(Code::$Code => for l in 0..LANES {
                    z[l] = $module::forward(x[l], y[l]);
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
                $(Code::$Code => for l in 0..LANES {
                    (dx[l], dy[l]) = $module::backward(x[l], y[l], z[l], g[l]);
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
                $(Code::$Code => if right {
                    for l in 0..LANES {
                        d[l] = $module::backward(x[l], y[l], z[l], g[l]).1;
                    }
                } else {
                    for l in 0..LANES {
                        d[l] = $module::backward(x[l], y[l], z[l], g[l]).0;
                    }
                },)*
                _ => unreachable!("{code:?} is not a binary op"),
            }
        }
    };
}

binary_ops! {
    add ADD Add "+"
        forward |x, y| x + y,
        backward |x, y, z, g| (g, g);
    sub SUB Sub "-"
        forward |x, y| x - y,
        backward |x, y, z, g| (g, -g);
    mul MUL Mul "*"
        forward |x, y| x * y,
        backward |x, y, z, g| (y * g, x * g);
    div DIV Div "/"
        forward |x, y| x / y,
        backward |x, y, z, g| (g / y, -(z / y) * g);
    /// IEEE `pow`: `(-8) ** (1/3)` is NaN, `0 ** -1` is inf. The exponent is an operand, a
    /// constant leaf when it is a number. `d/dx x**0 = 0` everywhere, 0 included (the formula
    /// would give 0 · inf); `d/dy x**y = x**y ln x` is taken as 0 at x = 0, y >= 0.
    pow POW Pow "**"
        forward |x, y| x.powf(y),
        backward |x, y, z, g| (
            (if y.re() == 0.0 { k(0.0) } else { y * x.powf(y - k(1.0)) }) * g,
            (if x.re() == 0.0 && y.re() >= 0.0 { k(0.0) } else { z * x.ln() }) * g,
        );
}

// ---------------------------------------------------------------------------------------------
// Unary ops: `z = f(x)`; backward gives `∂z/∂x · g`. `p` is the op's parameter (leaky ReLU's
// slope), unused by the others.
// ---------------------------------------------------------------------------------------------

macro_rules! unary_ops {
    ($(
        $(#[$doc:meta])*
        $module:ident $OP:ident $Code:ident $name:literal
            forward |$fx:ident, $fp:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident, $p:ident| $backward:expr;
    )*) => {
        $(
            $(#[$doc])*
            pub mod $module {
                use super::*;

                #[inline]
                #[allow(unused_variables)]
                pub fn forward<T: Real>($fx: T, $fp: f64) -> T {
                    $forward
                }

                #[inline]
                #[allow(unused_variables)]
                pub fn backward<T: Real>($x: T, $z: T, $g: T, $p: f64) -> T {
                    $backward
                }
            }

            pub static $OP: Op = Op {
                name: $name,
                code: Code::$Code,
                backward: |node| {
                    let x = node.prev[0].node();
                    let dx = $module::backward(x.data(), node.data(), node.grad(), node.param());
                    x.add_grad(dx);
                },
            };
        )*

        /// `forward` of the unary op `code`.
        pub fn unary_forward<T: Real>(code: Code, x: T, p: f64) -> T {
            match code {
                $(Code::$Code => $module::forward(x, p),)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `backward` of the unary op `code`.
        pub fn unary_backward<T: Real>(code: Code, x: T, z: T, g: T, p: f64) -> T {
            match code {
                $(Code::$Code => $module::backward(x, z, g, p),)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `forward` of the unary op `code` on each lane.
        pub fn unary_forward_lanes(code: Code, x: &Lanes, p: f64, z: &mut Lanes) {
            match code {
                $(Code::$Code => for l in 0..LANES {
                    z[l] = $module::forward(x[l], p);
                },)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }

        /// `backward` of the unary op `code` on each lane, into `dx`.
        pub fn unary_backward_lanes(code: Code, [x, z, g]: [&Lanes; 3], p: f64, dx: &mut Lanes) {
            match code {
                $(Code::$Code => for l in 0..LANES {
                    dx[l] = $module::backward(x[l], z[l], g[l], p);
                },)*
                _ => unreachable!("{code:?} is not a unary op"),
            }
        }
    };
}

unary_ops! {
    neg NEG Neg "neg"
        forward |x, p| -x,
        backward |x, z, g, p| -g;
    /// `max(0, x)`; NaN passes through (with derivative 0, as reverse mode), and the derivative
    /// at 0 is 0.
    relu RELU Relu "relu"
        forward |x, p| if x.re() > 0.0 { x } else if x.re().is_nan() { k(x.re()) } else { k(0.0) },
        backward |x, z, g, p| if x.re() > 0.0 { g } else { k(0.0) };
    /// `x` where positive, else `slope · x`; the slope `p` is kept in the node.
    leaky_relu LEAKY_RELU LeakyRelu "leaky_relu"
        forward |x, p| if x.re() > 0.0 { x } else { k::<T>(p) * x },
        backward |x, z, g, p| if x.re() > 0.0 { g } else { k::<T>(p) * g };
    /// libm's tanh, which never overflows.
    tanh TANH Tanh "tanh"
        forward |x, p| x.tanh(),
        backward |x, z, g, p| (k::<T>(1.0) - z * z) * g;
    /// `1 / (1 + e^-x)`, in the form that never overflows.
    sigmoid SIGMOID Sigmoid "sigmoid"
        forward |x, p| if x.re() >= 0.0 {
            k::<T>(1.0) / (k::<T>(1.0) + (-x).exp())
        } else {
            let e = x.exp();
            e / (k::<T>(1.0) + e)
        },
        backward |x, z, g, p| z * (k::<T>(1.0) - z) * g;
    exp EXP Exp "exp"
        forward |x, p| x.exp(),
        backward |x, z, g, p| z * g;
    /// Natural logarithm: `log(0) = -inf`, `log(x < 0) = NaN`.
    log LOG Log "log"
        forward |x, p| x.ln(),
        backward |x, z, g, p| g / x;
    sin SIN Sin "sin"
        forward |x, p| x.sin(),
        backward |x, z, g, p| x.cos() * g;
    cos COS Cos "cos"
        forward |x, p| x.cos(),
        backward |x, z, g, p| -x.sin() * g;
    /// `d/dx tan x = sec² x = 1 + tan² x`.
    tan TAN Tan "tan"
        forward |x, p| x.tan(),
        backward |x, z, g, p| (k::<T>(1.0) + z * z) * g;
    /// `sqrt(x < 0) = NaN`.
    sqrt SQRT Sqrt "sqrt"
        forward |x, p| x.sqrt(),
        backward |x, z, g, p| (k::<T>(0.5) / z) * g;
    /// `|x|`, with derivative 0 at 0.
    abs ABS Abs "abs"
        forward |x, p| x.abs(),
        backward |x, z, g, p| if x.re() > 0.0 { g } else if x.re() < 0.0 { -g } else { k(0.0) };
}

// ---------------------------------------------------------------------------------------------
// Fused n-ary ops: one node for many operands (fewer nodes, fewer Python crossings).
// ---------------------------------------------------------------------------------------------

/// `x0 + x1 + …`, left to right from 0; backward: every `xi += g`.
pub static SUM: Op = Op {
    name: "sum",
    code: Code::Sum,
    backward: |z| {
        let g = z.grad();
        for x in z.operands() {
            x.node().add_grad(g);
        }
    },
};

/// `w0·x0 + w1·x1 + …`, left to right from 0, operands `w0 … wn-1, x0 … xn-1`;
/// backward: `wi += xi · g`, `xi += wi · g`.
pub static DOT: Op = Op {
    name: "dot",
    code: Code::Dot,
    backward: |z| {
        let g = z.grad();
        let operands = z.operands();
        let (ws, xs) = operands.split_at(operands.len() / 2);
        for (w, x) in ws.iter().zip(xs) {
            let (w, x) = (w.node(), x.node());
            let (wd, xd) = (w.data(), x.data());
            w.add_grad(xd * g);
            x.add_grad(wd * g);
        }
    },
};

/// Every op, indexed by `Code as usize`: a node keeps only that index.
pub(crate) static OPS: [&Op; 20] = [
    &LEAF,
    &ADD,
    &SUB,
    &MUL,
    &DIV,
    &POW,
    &NEG,
    &RELU,
    &LEAKY_RELU,
    &TANH,
    &SIGMOID,
    &EXP,
    &LOG,
    &SIN,
    &COS,
    &TAN,
    &SQRT,
    &ABS,
    &SUM,
    &DOT,
];

impl Code {
    /// The code whose number (`code as u64`, its index in the op table) is `x`, if any.
    pub fn from_index(x: u64) -> Option<Code> {
        OPS.get(usize::try_from(x).ok()?).map(|op| op.code)
    }

    /// How many operands the op takes; `None` for the n-ary `sum` and `dot`.
    pub fn arity(self) -> Option<usize> {
        match self {
            Code::Leaf => Some(0),
            Code::Add | Code::Sub | Code::Mul | Code::Div | Code::Pow => Some(2),
            Code::Sum | Code::Dot => None,
            _ => Some(1),
        }
    }
}

/// `slope` when leaky ReLU may take it: finite and >= 0 (wherever a slope comes from: a call,
/// or bytes being read back).
pub fn check_slope(slope: f64) -> Result<f64, OpError> {
    if slope.is_finite() && slope >= 0.0 {
        Ok(slope)
    } else {
        Err(OpError::BadSlope(slope))
    }
}

/// Every op by code, for rebuilding nodes from a tag.
#[inline]
pub fn op_for(code: Code) -> &'static Op {
    OPS[code as usize]
}

// ---------------------------------------------------------------------------------------------
// The graph API: each method computes the forward value and links a node.
// ---------------------------------------------------------------------------------------------

fn binary(op: &'static Op, x: &Value, y: &Value) -> Value {
    let data = binary_forward(op.code, x.data(), y.data());
    Value::from_op(op, data, Operands::Two([x.clone(), y.clone()]))
}

fn unary(op: &'static Op, x: &Value) -> Value {
    let data = unary_forward(op.code, x.data(), 0.0);
    Value::from_op(op, data, Operands::One([x.clone()]))
}

impl Value {
    pub fn add(&self, other: &Value) -> Value {
        binary(&ADD, self, other)
    }
    pub fn sub(&self, other: &Value) -> Value {
        binary(&SUB, self, other)
    }
    pub fn mul(&self, other: &Value) -> Value {
        binary(&MUL, self, other)
    }
    pub fn div(&self, other: &Value) -> Value {
        binary(&DIV, self, other)
    }
    /// `self ** exponent`, IEEE `pow`.
    pub fn pow(&self, exponent: &Value) -> Value {
        binary(&POW, self, exponent)
    }
    /// `self ** exponent` for a number exponent, kept as a constant leaf operand.
    pub fn powf(&self, exponent: f64) -> Value {
        self.pow(&Value::new(exponent))
    }
    pub fn neg(&self) -> Value {
        unary(&NEG, self)
    }
    pub fn relu(&self) -> Value {
        unary(&RELU, self)
    }
    pub fn tanh(&self) -> Value {
        unary(&TANH, self)
    }
    pub fn sigmoid(&self) -> Value {
        unary(&SIGMOID, self)
    }
    pub fn exp(&self) -> Value {
        unary(&EXP, self)
    }
    pub fn log(&self) -> Value {
        unary(&LOG, self)
    }
    pub fn sin(&self) -> Value {
        unary(&SIN, self)
    }
    pub fn cos(&self) -> Value {
        unary(&COS, self)
    }
    pub fn tan(&self) -> Value {
        unary(&TAN, self)
    }
    pub fn sqrt(&self) -> Value {
        unary(&SQRT, self)
    }
    pub fn abs(&self) -> Value {
        unary(&ABS, self)
    }

    /// `self` where positive, else `slope · self`. The slope must be finite and >= 0.
    pub fn leaky_relu(&self, slope: f64) -> Result<Value, OpError> {
        let slope = check_slope(slope)?;
        let data = leaky_relu::forward(self.data(), slope);
        let z = Value::from_op(&LEAKY_RELU, data, Operands::One([self.clone()]));
        z.set_param(slope);
        Ok(z)
    }

    /// `x0 + x1 + …` as one node, summed left to right from 0.0.
    pub fn sum(values: &[Value]) -> Value {
        Self::sum_owned(values.to_vec())
    }

    /// [`Value::sum`] over operands the caller already owns (no second copy of the handles).
    pub fn sum_owned(values: Vec<Value>) -> Value {
        let data = values.iter().fold(0.0, |acc, v| acc + v.data());
        Value::from_op(&SUM, data, Operands::from_vec(values))
    }

    /// `w0·x0 + w1·x1 + …` as one node, summed left to right from 0.0.
    pub fn dot(ws: &[Value], xs: &[Value]) -> Result<Value, OpError> {
        if ws.len() != xs.len() {
            return Err(OpError::LengthMismatch {
                left: ws.len(),
                right: xs.len(),
            });
        }
        let mut operands = Vec::with_capacity(ws.len() + xs.len());
        operands.extend_from_slice(ws);
        operands.extend_from_slice(xs);
        Self::dot_owned(operands, ws.len())
    }

    /// [`Value::dot`] over operands the caller already owns, laid out as the node keeps them:
    /// the first `n` are the `w`s, the rest the `x`s (there must be `n` of those too).
    pub fn dot_owned(operands: Vec<Value>, n: usize) -> Result<Value, OpError> {
        if operands.len() != 2 * n {
            return Err(OpError::LengthMismatch {
                left: n,
                right: operands.len().saturating_sub(n),
            });
        }
        let (ws, xs) = operands.split_at(n);
        let data = ws
            .iter()
            .zip(xs)
            .fold(0.0, |acc, (w, x)| acc + w.data() * x.data());
        Ok(Value::from_op(&DOT, data, Operands::from_vec(operands)))
    }
}

#[inline]
fn two(z: &Node) -> [&Node; 2] {
    let operands = z.operands();
    [operands[0].node(), operands[1].node()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central difference of `f` at `x`.
    fn numeric(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-6 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    fn check_unary(name: &str, op: impl Fn(&Value) -> Value, points: &[f64]) {
        for &p in points {
            let x = Value::new(p);
            let z = op(&x);
            z.backward();
            let expected = numeric(|t| op(&Value::new(t)).data(), p);
            let err = (x.grad() - expected).abs() / expected.abs().max(1.0);
            assert!(
                err < 1e-6,
                "{name}'({p}) = {} but differences give {expected}",
                x.grad()
            );
        }
    }

    #[test]
    fn op_table_is_indexed_by_code() {
        for (i, op) in OPS.iter().enumerate() {
            assert_eq!(op.code as usize, i, "{}", op.name);
        }
    }

    #[test]
    fn unary_gradients_match_finite_differences() {
        let any = [-2.5, -0.3, 0.7, 1.9];
        let pos = [0.2, 0.7, 1.9, 4.0];
        check_unary("neg", |x| -x, &any);
        check_unary("relu", |x| x.relu(), &any);
        check_unary("leaky_relu", |x| x.leaky_relu(0.1).unwrap(), &any);
        check_unary("tanh", |x| x.tanh(), &any);
        check_unary("sigmoid", |x| x.sigmoid(), &any);
        check_unary("exp", |x| x.exp(), &any);
        check_unary("log", |x| x.log(), &pos);
        check_unary("sin", |x| x.sin(), &any);
        check_unary("cos", |x| x.cos(), &any);
        check_unary("tan", |x| x.tan(), &[-1.0, -0.3, 0.7, 1.2]);
        check_unary("sqrt", |x| x.sqrt(), &pos);
        check_unary("abs", |x| x.abs(), &any);
        check_unary("pow 3", |x| x.powf(3.0), &any);
        check_unary("pow 0.5", |x| x.powf(0.5), &pos);
        check_unary("2 ** x", |x| Value::new(2.0).pow(x), &any);
    }

    #[test]
    fn binary_gradients_match_finite_differences() {
        type Binary = fn(&Value, &Value) -> Value;
        let cases: [(&str, Binary); 5] = [
            ("+", |a, b| a + b),
            ("-", |a, b| a - b),
            ("*", |a, b| a * b),
            ("/", |a, b| a / b),
            ("**", |a, b| a.pow(b)),
        ];
        for (name, f) in cases {
            let (x0, y0) = (1.7, -0.6);
            let (x, y) = (Value::new(x0), Value::new(y0));
            let z = f(&x, &y);
            z.backward();
            let dx = numeric(|t| f(&Value::new(t), &Value::new(y0)).data(), x0);
            let dy = numeric(|t| f(&Value::new(x0), &Value::new(t)).data(), y0);
            assert!(
                (x.grad() - dx).abs() < 1e-6,
                "{name}: d/dx {} vs {dx}",
                x.grad()
            );
            assert!(
                (y.grad() - dy).abs() < 1e-6,
                "{name}: d/dy {} vs {dy}",
                y.grad()
            );
        }
    }

    #[test]
    fn fused_sum_and_dot_give_every_operand_its_gradient() {
        let ws: Vec<Value> = [1.0, -2.0, 3.0].iter().map(|&d| Value::new(d)).collect();
        let xs: Vec<Value> = [0.5, 4.0, -1.0].iter().map(|&d| Value::new(d)).collect();
        let d = Value::dot(&ws, &xs).unwrap();
        assert_eq!(d.data(), 0.5 - 8.0 - 3.0);
        let s = Value::sum(&[d.clone(), ws[0].clone()]);
        s.backward();
        assert_eq!(ws[0].grad(), 0.5 + 1.0);
        assert_eq!(xs[1].grad(), -2.0);
        assert_eq!(
            Value::dot(&ws, &xs[..2]).unwrap_err(),
            OpError::LengthMismatch { left: 3, right: 2 }
        );
        assert_eq!(Value::sum(&[]).data(), 0.0);
    }

    #[test]
    fn the_op_table_is_indexed_by_code() {
        for (i, op) in OPS.iter().enumerate() {
            assert_eq!(op.code as usize, i, "{}", op.name);
            assert_eq!(Code::from_index(i as u64), Some(op.code));
        }
        assert_eq!(Code::from_index(OPS.len() as u64), None);
        assert_eq!(Code::from_index(u64::MAX), None);
    }

    #[test]
    fn owned_sum_and_dot_build_the_same_nodes() {
        let ws: Vec<Value> = [1.5, -2.0].iter().map(|&d| Value::new(d)).collect();
        let xs: Vec<Value> = [4.0, 0.25].iter().map(|&d| Value::new(d)).collect();
        let operands: Vec<Value> = ws.iter().chain(&xs).cloned().collect();
        let d = Value::dot_owned(operands.clone(), 2).unwrap();
        assert_eq!(d.data(), Value::dot(&ws, &xs).unwrap().data());
        assert_eq!(d.op(), "dot");
        d.backward();
        assert_eq!((ws[1].grad(), xs[0].grad()), (0.25, 1.5));
        assert_eq!(
            Value::dot_owned(operands[..3].to_vec(), 2).unwrap_err(),
            OpError::LengthMismatch { left: 2, right: 1 }
        );
        assert_eq!(Value::sum_owned(operands).data(), 1.5 - 2.0 + 4.0 + 0.25);
    }

    #[test]
    fn special_points_follow_ieee_and_pytorch() {
        let zero = Value::new(0.0);
        assert_eq!(zero.log().data(), f64::NEG_INFINITY);
        assert_eq!((1.0 / &zero).data(), f64::INFINITY);
        assert_eq!(zero.powf(-1.0).data(), f64::INFINITY);
        assert!(Value::new(-8.0).powf(1.0 / 3.0).data().is_nan());
        assert_eq!(Value::new(1000.0).exp().data(), f64::INFINITY);
        assert!(Value::new(f64::NAN).relu().data().is_nan());

        for (z, x) in [
            (zero.relu(), &zero),
            (zero.abs(), &zero),
            (zero.powf(0.0), &zero),
        ] {
            x.set_grad(0.0);
            z.backward();
            assert_eq!(x.grad(), 0.0, "derivative at 0 of {}", z.op());
        }
        let x = Value::new(-2.0);
        x.leaky_relu(0.2).unwrap().backward();
        assert_eq!(x.grad(), 0.2);
        let (base, exponent) = (Value::new(0.0), Value::new(2.0));
        base.pow(&exponent).backward();
        assert_eq!(exponent.grad(), 0.0);
        for big in [-1000.0, 1000.0] {
            let x = Value::new(big);
            let s = x.sigmoid();
            s.backward();
            assert!(s.data().is_finite() && x.grad() == 0.0);
        }
        assert!(Value::new(1.0).leaky_relu(-0.1).is_err());
        assert!(Value::new(1.0).leaky_relu(f64::NAN).is_err());
    }
}
