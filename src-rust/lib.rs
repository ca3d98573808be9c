//! ferrograd: scalar reverse-mode automatic differentiation.
//!
//! A [`Value`] is a handle to one node of an expression graph of `f64` scalars. Arithmetic on
//! Values builds new nodes; [`Value::backward`] sweeps the graph once in reverse topological
//! order and adds each node's adjoint to its `grad`. Nothing recurses over the graph, so deep
//! chains build, sweep and drop without growing the stack.
//!
//! ```
//! use ferrograd::Value;
//! let a = Value::new(2.0);
//! let b = Value::new(-3.0);
//! let c = Value::new(10.0);
//! let d = &a * &b + &c;
//! d.backward();
//! assert_eq!(d.data(), 4.0);
//! assert_eq!((a.grad(), b.grad()), (-3.0, 2.0));
//! ```
//!
//! Numbers follow IEEE-754 rather than panicking: `ln 0 = -inf`, `1 / 0 = inf`, NaN
//! propagates. Fused ops take many operands in one node:
//!
//! ```
//! use ferrograd::Value;
//! let ws = [Value::new(0.5), Value::new(-1.0)];
//! let xs = [Value::new(2.0), Value::new(3.0)];
//! let z = Value::dot(&ws, &xs).unwrap().tanh(); // tanh(0.5·2 − 1·3)
//! z.backward();
//! let dz = 1.0 - z.data() * z.data();
//! assert_eq!(ws[0].grad(), 2.0 * dz);
//! assert!(Value::dot(&ws, &xs[..1]).is_err()); // unequal lengths: an OpError, not a panic
//! ```
//!
//! # The op table
//!
//! Every op has one row in [`OP_TABLE`], indexed by its [`Code`]: its name, its arity and the
//! method that builds it. The codes are pinned numbers (serialised graphs and tapes store them).
//!
//! ```
//! use ferrograd::{Code, OP_TABLE};
//! let tanh = OP_TABLE.iter().find(|op| op.name == "tanh").unwrap();
//! assert_eq!(tanh.code.arity(), Some(1));
//! assert_eq!(Code::from_index(tanh.code as u64), Some(tanh.code));
//! assert_eq!(Code::Sum.arity(), None); // n-ary
//! assert_eq!(Code::Leaf.name(), "");
//! ```
//!
//! # Compiled tapes
//!
//! [`Tape::record`] flattens a graph into a flat array of instructions, which then evaluates
//! the function, its gradient, directional derivatives and Hessians at any point, or at many
//! points on several threads.
//!
//! ```
//! use ferrograd::{Tape, Value};
//! let (x, y) = (Value::new(1.0), Value::new(2.0));
//! let f = &(&x * &y) + &x.sin();
//! let tape = Tape::record(&[x, y], &f).unwrap();
//! let (value, grad) = tape.grad(&[3.0, 0.5]).unwrap();
//! assert_eq!(value, 3.0 * 0.5 + 3.0_f64.sin());
//! assert_eq!(grad, vec![0.5 + 3.0_f64.cos(), 3.0]);
//! // Two points, row-major, on up to two threads: the same numbers as one point at a time.
//! let (values, grads) = tape.grad_batch(&[3.0, 0.5, 1.0, 2.0], 2).unwrap();
//! assert_eq!((values[0], &grads[..2]), (value, &grad[..]));
//! assert!(tape.eval(&[1.0]).is_err()); // a point of the wrong length: a TapeError
//! ```
//!
//! The Python bindings (cargo feature `python`, used by the `ferrograd` Python package) add
//! nothing to this API.

#![warn(missing_docs)]

pub mod anomaly;
mod arith;
mod backward;
pub mod custom;
mod dense;
pub mod fsum;
pub mod grad_mode;
#[cfg(test)]
mod graph_tests;
pub mod ops;
pub mod optim;
mod pool;
pub mod scalar;
mod serial;
mod switch;
pub mod tape;
mod value;
pub mod vmath;

pub use anomaly::{set_detect_anomaly, Anomaly};
pub use custom::Custom;
pub use dense::DenseError;
pub use grad_mode::set_no_grad;
pub use ops::{Code, OpError, OpInfo, DEFAULT_SLOPE, OP_TABLE};
pub use scalar::{Dual, Real};
pub use serial::{CorruptGraph, GraphTooLarge};
pub use tape::{Tape, TapeError};
pub use value::{Node, Op, Operands, Side, Value};

#[cfg(feature = "python")]
mod python;

/// The README's Rust example, compiled and run by `cargo test` so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
