//! `std::ops` for `Value`, so Rust code reads like the maths: `&a * &b + 2.0`.
//! A number operand becomes a constant leaf, as in the Python API.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::value::Value;

macro_rules! binary_operator {
    ($Trait:ident, $method:ident) => {
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
                Value::$method(self, &Value::new(rhs))
            }
        }
        impl $Trait<f64> for Value {
            type Output = Value;
            fn $method(self, rhs: f64) -> Value {
                Value::$method(&self, &Value::new(rhs))
            }
        }
        impl $Trait<&Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                Value::$method(&Value::new(self), rhs)
            }
        }
        impl $Trait<Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                Value::$method(&Value::new(self), &rhs)
            }
        }
    };
}

binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

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
