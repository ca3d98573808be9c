//! `std::ops` for `Value`, so Rust code reads like the maths: `&a * &b + 2.0`.
//! A number operand is kept in the node (see [`Value::with_scalar`]), as in the Python API.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::ops::Code;
use crate::value::{Side, Value};

macro_rules! binary_operator {
    ($Trait:ident, $method:ident, $Code:ident) => {
        impl $Trait<&Value> for &Value {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                Value::$method(self, rhs)
            }
        }
        impl $Trait<Value> for Value {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                Value::$method(&self, &rhs)
            }
        }
        impl $Trait<&Value> for Value {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                Value::$method(&self, rhs)
            }
        }
        impl $Trait<Value> for &Value {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                Value::$method(self, &rhs)
            }
        }
        impl $Trait<f64> for &Value {
            type Output = Value;
            fn $method(self, rhs: f64) -> Value {
                self.with_scalar(Code::$Code, rhs, Side::Right)
            }
        }
        impl $Trait<f64> for Value {
            type Output = Value;
            fn $method(self, rhs: f64) -> Value {
                self.with_scalar(Code::$Code, rhs, Side::Right)
            }
        }
        impl $Trait<&Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                rhs.with_scalar(Code::$Code, self, Side::Left)
            }
        }
        impl $Trait<Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                rhs.with_scalar(Code::$Code, self, Side::Left)
            }
        }
    };
}

binary_operator!(Add, add, Add);
binary_operator!(Sub, sub, Sub);
binary_operator!(Mul, mul, Mul);
binary_operator!(Div, div, Div);

impl Neg for &Value {
    type Output = Value;
    fn neg(self) -> Value {
        Value::neg(self)
    }
}

impl Neg for Value {
    type Output = Value;
    fn neg(self) -> Value {
        Value::neg(&self)
    }
}

impl From<f64> for Value {
    fn from(data: f64) -> Value {
        Value::new(data)
    }
}
