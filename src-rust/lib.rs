//! ferrograd: scalar reverse-mode automatic differentiation.
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

pub mod anomaly;
mod arith;
mod backward;
#[cfg(test)]
mod graph_tests;
pub mod ops;
pub mod scalar;
mod serial;
pub mod tape;
mod value;

pub use anomaly::{set_detect_anomaly, Anomaly};
pub use ops::{Code, OpError, OpInfo, DEFAULT_SLOPE, OP_TABLE};
pub use scalar::{Dual, Real};
pub use serial::{CorruptGraph, GraphTooLarge};
pub use tape::{Tape, TapeError};
pub use value::{Node, Op, Operands, Value};

#[cfg(feature = "python")]
mod python;

/// The README's Rust example, compiled and run by `cargo test` so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
