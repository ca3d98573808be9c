//! Anomaly detection: find the first op whose forward or backward produced NaN or inf.
//!
//! Off by default. When off, forward ops pay nothing and `backward()` one branch per call.

use std::cell::Cell;
use std::fmt;

use crate::value::{Node, Value};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

/// Turns anomaly detection on or off for this thread; returns the previous setting.
pub fn set_detect_anomaly(on: bool) -> bool {
    ENABLED.with(|e| e.replace(on))
}

pub fn detect_anomaly_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Which pass produced the non-finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Forward,
    Backward,
}

/// The op that first produced NaN or inf, with what it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    pub pass: Pass,
    pub op: &'static str,
    pub label: String,
    /// The result's value (forward) or adjoint (backward).
    pub output: f64,
    /// Each operand's label and value (forward) or produced grad (backward).
    pub inputs: Vec<(String, f64)>,
    pub input_data: Vec<f64>,
}

impl Anomaly {
    fn describe(node: &Node, label: String, pass: Pass, output: f64) -> Anomaly {
        let operands = node.operands();
        Anomaly {
            pass,
            op: node.op().name,
            label,
            output,
            inputs: operands.iter().map(|v| (v.label(), v.grad())).collect(),
            input_data: operands.iter().map(Value::data).collect(),
        }
    }

    /// `Err` when `z`'s forward value is NaN or inf.
    pub fn check_forward(z: &Value) -> Result<(), Anomaly> {
        let node = z.node();
        if node.data().is_finite() {
            return Ok(());
        }
        Err(Anomaly::describe(
            node,
            z.label(),
            Pass::Forward,
            node.data(),
        ))
    }

    /// `Err` when the backward of `z` just left a NaN or inf in an operand's grad.
    pub(crate) fn check_backward(z: &Node) -> Result<(), Anomaly> {
        if z.operands().iter().all(|v| v.grad().is_finite()) {
            return Ok(());
        }
        Err(Anomaly::describe(z, z.label(), Pass::Backward, z.grad()))
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |label: &str| {
            if label.is_empty() {
                String::new()
            } else {
                format!(" {label:?}")
            }
        };
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .zip(&self.input_data)
            .map(|((label, grad), data)| {
                let named = if label.is_empty() {
                    String::new()
                } else {
                    format!("{label}=")
                };
                match self.pass {
                    Pass::Forward => format!("{named}{data:?}"),
                    Pass::Backward => format!("{named}{data:?} (grad {grad:?})"),
                }
            })
            .collect();
        match self.pass {
            Pass::Forward => write!(
                f,
                "op '{}'{} produced {:?} in its forward pass from inputs ({})",
                self.op,
                name(&self.label),
                self.output,
                inputs.join(", ")
            ),
            Pass::Backward => write!(
                f,
                "op '{}'{} produced a non-finite gradient in its backward pass \
                 (its own grad {:?}); operands: ({})",
                self.op,
                name(&self.label),
                self.output,
                inputs.join(", ")
            ),
        }
    }
}

impl std::error::Error for Anomaly {}
