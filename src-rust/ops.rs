//! The op table. One op lives in one place: its name, its forward and its backward.
//!
//! Read each backward line as the chain rule, `x.grad += ∂z/∂x · z.grad`, with `z` the node
//! being swept and `g` its adjoint. `docs/ops.md` is the same table in prose, and
//! `python/ferrograd/reference.py` the same table in Python, in the same order and the same
//! floating-point order, so the two engines agree to the last bit on most programs.

use crate::value::{Node, Operands, Value};

/// An op's table entry.
pub struct Op {
    /// Stable short name, the same in both engines: "+", "*", "tanh", ...
    pub name: &'static str,
    /// Adds this node's contribution to its operands' grads.
    pub backward: fn(&Node),
}

/// A leaf (an input or a constant) has nothing to propagate to.
pub static LEAF: Op = Op {
    name: "",
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

fn binary(op: &'static Op, data: f64, x: &Value, y: &Value) -> Value {
    Value::from_op(op, data, Operands::Two([x.clone(), y.clone()]))
}

fn unary(op: &'static Op, data: f64, x: &Value) -> Value {
    Value::from_op(op, data, Operands::One([x.clone()]))
}

// ---------------------------------------------------------------------------------------------
// Binary ops
// ---------------------------------------------------------------------------------------------

pub static ADD: Op = Op {
    name: "+",
    backward: |z| {
        let [x, y] = two(z);
        x.borrow_mut().grad += z.grad;
        y.borrow_mut().grad += z.grad;
    },
};

pub static SUB: Op = Op {
    name: "-",
    backward: |z| {
        let [x, y] = two(z);
        x.borrow_mut().grad += z.grad;
        y.borrow_mut().grad += -z.grad;
    },
};

pub static MUL: Op = Op {
    name: "*",
    backward: |z| {
        let [x, y] = two(z);
        let (xd, yd) = (x.data(), y.data());
        x.borrow_mut().grad += yd * z.grad;
        y.borrow_mut().grad += xd * z.grad;
    },
};

pub static DIV: Op = Op {
    name: "/",
    backward: |z| {
        let [x, y] = two(z);
        let yd = y.data();
        x.borrow_mut().grad += z.grad / yd;
        y.borrow_mut().grad += -(z.data / yd) * z.grad;
    },
};

/// `pow` keeps its exponent as an operand, a constant leaf when the exponent is a number.
pub static POW: Op = Op {
    name: "**",
    backward: |z| {
        let [x, y] = two(z);
        let (xd, yd) = (x.data(), y.data());
        // d/dx x**0 = 0 everywhere, x = 0 included (the formula would give 0 * inf).
        let dx = if yd == 0.0 {
            0.0
        } else {
            yd * xd.powf(yd - 1.0)
        };
        // d/dy x**y = x**y ln x, taken as 0 where x = 0 and y >= 0 (the limit from x > 0).
        let dy = if xd == 0.0 && yd >= 0.0 {
            0.0
        } else {
            z.data * xd.ln()
        };
        x.borrow_mut().grad += dx * z.grad;
        y.borrow_mut().grad += dy * z.grad;
    },
};

impl Value {
    pub fn add(&self, other: &Value) -> Value {
        binary(&ADD, self.data() + other.data(), self, other)
    }

    pub fn sub(&self, other: &Value) -> Value {
        binary(&SUB, self.data() - other.data(), self, other)
    }

    pub fn mul(&self, other: &Value) -> Value {
        binary(&MUL, self.data() * other.data(), self, other)
    }

    pub fn div(&self, other: &Value) -> Value {
        binary(&DIV, self.data() / other.data(), self, other)
    }

    /// `self ** exponent`, IEEE `pow`: `(-8) ** (1/3)` is NaN, `0 ** -1` is inf.
    pub fn pow(&self, exponent: &Value) -> Value {
        binary(&POW, self.data().powf(exponent.data()), self, exponent)
    }

    /// `self ** exponent` for a number exponent, kept as a constant leaf operand.
    pub fn powf(&self, exponent: f64) -> Value {
        self.pow(&Value::new(exponent))
    }
}

// ---------------------------------------------------------------------------------------------
// Unary ops: `z = f(x)` and `x.grad += f'(x) · g`, with `x`, `z` and `g` as plain numbers.
// ---------------------------------------------------------------------------------------------

macro_rules! unary_ops {
    ($(
        $(#[$doc:meta])*
        $method:ident $OP:ident $name:literal
            forward |$fx:ident| $forward:expr,
            backward |$x:ident, $z:ident, $g:ident| $backward:expr;
    )*) => {$(
        pub static $OP: Op = Op {
            name: $name,
            backward: |node| {
                let operand = &node.prev[0];
                #[allow(unused_variables)]
                let ($x, $z, $g) = (operand.data(), node.data, node.grad);
                operand.borrow_mut().grad += $backward;
            },
        };

        impl Value {
            $(#[$doc])*
            pub fn $method(&self) -> Value {
                let $fx = self.data();
                unary(&$OP, $forward, self)
            }
        }
    )*};
}

unary_ops! {
    /// `-self`.
    neg NEG "neg"
        forward |x| -x,
        backward |x, z, g| -g;
    /// `max(0, self)`; NaN passes through, and the derivative at 0 is 0.
    relu RELU "relu"
        forward |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
        backward |x, z, g| if x > 0.0 { g } else { 0.0 };
    /// Hyperbolic tangent (libm's, which never overflows).
    tanh TANH "tanh"
        forward |x| x.tanh(),
        backward |x, z, g| (1.0 - z * z) * g;
    /// Logistic sigmoid `1 / (1 + e^-x)`, in the form that never overflows.
    sigmoid SIGMOID "sigmoid"
        forward |x| if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { let e = x.exp(); e / (1.0 + e) },
        backward |x, z, g| z * (1.0 - z) * g;
    /// `e^self`.
    exp EXP "exp"
        forward |x| x.exp(),
        backward |x, z, g| z * g;
    /// Natural logarithm: `log(0) = -inf`, `log(x < 0) = NaN`.
    log LOG "log"
        forward |x| x.ln(),
        backward |x, z, g| g / x;
    sin SIN "sin"
        forward |x| x.sin(),
        backward |x, z, g| x.cos() * g;
    cos COS "cos"
        forward |x| x.cos(),
        backward |x, z, g| -x.sin() * g;
    /// Tangent; its derivative is `sec² x = 1 + tan² x`.
    tan TAN "tan"
        forward |x| x.tan(),
        backward |x, z, g| (1.0 + z * z) * g;
    /// Square root: `sqrt(x < 0) = NaN`.
    sqrt SQRT "sqrt"
        forward |x| x.sqrt(),
        backward |x, z, g| (0.5 / z) * g;
    /// `|self|`, with derivative 0 at 0.
    abs ABS "abs"
        forward |x| x.abs(),
        backward |x, z, g| if x > 0.0 { g } else if x < 0.0 { -g } else { 0.0 };
}

/// Leaky ReLU keeps its slope in the node (an op parameter), not as an operand.
pub static LEAKY_RELU: Op = Op {
    name: "leaky_relu",
    backward: |z| {
        let x = &z.prev[0];
        let (xd, slope) = (x.data(), z.param());
        x.borrow_mut().grad += if xd > 0.0 { z.grad } else { slope * z.grad };
    },
};

impl Value {
    /// `self` where positive, else `slope · self`. The slope must be finite and >= 0.
    pub fn leaky_relu(&self, slope: f64) -> Result<Value, OpError> {
        if !(slope.is_finite() && slope >= 0.0) {
            return Err(OpError::BadSlope(slope));
        }
        let x = self.data();
        let z = unary(&LEAKY_RELU, if x > 0.0 { x } else { slope * x }, self);
        z.set_param(slope);
        Ok(z)
    }
}

// ---------------------------------------------------------------------------------------------
// Fused n-ary ops: one node for many operands (fewer nodes, fewer Python crossings).
// ---------------------------------------------------------------------------------------------

pub static SUM: Op = Op {
    name: "sum",
    backward: |z| {
        for x in z.prev.as_slice() {
            x.borrow_mut().grad += z.grad;
        }
    },
};

/// Operands are `w0 … wn-1, x0 … xn-1`.
pub static DOT: Op = Op {
    name: "dot",
    backward: |z| {
        let operands = z.prev.as_slice();
        let (ws, xs) = operands.split_at(operands.len() / 2);
        for (w, x) in ws.iter().zip(xs) {
            let (wd, xd) = (w.data(), x.data());
            w.borrow_mut().grad += xd * z.grad;
            x.borrow_mut().grad += wd * z.grad;
        }
    },
};

impl Value {
    /// `x0 + x1 + …` as one node, summed left to right from 0.0.
    pub fn sum(values: &[Value]) -> Value {
        let data = values.iter().fold(0.0, |acc, v| acc + v.data());
        Value::from_op(&SUM, data, Operands::from_vec(values.to_vec()))
    }

    /// `w0·x0 + w1·x1 + …` as one node, summed left to right from 0.0.
    pub fn dot(ws: &[Value], xs: &[Value]) -> Result<Value, OpError> {
        if ws.len() != xs.len() {
            return Err(OpError::LengthMismatch {
                left: ws.len(),
                right: xs.len(),
            });
        }
        let data = ws
            .iter()
            .zip(xs)
            .fold(0.0, |acc, (w, x)| acc + w.data() * x.data());
        let operands: Vec<Value> = ws.iter().chain(xs).cloned().collect();
        Ok(Value::from_op(&DOT, data, Operands::from_vec(operands)))
    }
}

#[inline]
fn two(z: &Node) -> [&Value; 2] {
    let operands = z.prev.as_slice();
    [&operands[0], &operands[1]]
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
