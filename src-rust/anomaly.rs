//! Anomaly detection: find the first op whose forward or backward produced NaN or inf.
//!
//! Off by default. When off, forward ops pay nothing and `backward()` one branch per call.

use std::fmt;
use std::sync::atomic::AtomicUsize;

use crate::switch::{self, Flag};

use crate::value::{Node, Side, Value};

/// How many threads have the mode on (see `crate::switch`).
static THREADS_ON: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ENABLED: Flag = const { Flag::new(&THREADS_ON) };
}

/// Turns anomaly detection on or off for this thread; returns the previous setting.
pub fn set_detect_anomaly(on: bool) -> bool {
    switch::set(&ENABLED, on)
}

/// Whether anomaly detection is on for this thread (see [`set_detect_anomaly`]).
#[inline]
pub fn detect_anomaly_enabled() -> bool {
    switch::enabled(&ENABLED, &THREADS_ON)
}

/// Which pass produced the non-finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The forward pass: an op's result.
    Forward,
    /// The backward pass: an op's contribution to an operand's grad.
    Backward,
}

/// The op that first produced NaN or inf, with what it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// Which pass produced it.
    pub pass: Pass,
    /// The op's name, as in [`crate::OP_TABLE`].
    pub op: &'static str,
    /// The result node's label, "" when it has none.
    pub label: String,
    /// The result's value (forward) or adjoint (backward).
    pub output: f64,
    /// Each operand's label and value (forward) or produced grad (backward); a plain-number
    /// operand (`x + 2.0`) has no label and grad 0.0.
    pub inputs: Vec<(String, f64)>,
    /// The operands' values, in operand order.
    pub input_data: Vec<f64>,
}

impl Anomaly {
    fn describe(node: &Node, label: String, pass: Pass, output: f64) -> Anomaly {
        let operands = node.children();
        let mut inputs: Vec<(String, f64)> =
            operands.iter().map(|v| (v.label(), v.grad())).collect();
        let mut input_data: Vec<f64> = operands.iter().map(Value::data).collect();
        // A plain-number operand is listed where it stands, unlabelled, with no grad of its own.
        if let Some((side, k)) = node.scalar_operand() {
            let at = if side == Side::Left { 0 } else { 1 };
            inputs.insert(at, (String::new(), 0.0));
            input_data.insert(at, k);
        }
        Anomaly {
            pass,
            op: node.op_name(),
            label,
            output,
            inputs,
            input_data,
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
        if z.children().iter().all(|v| v.grad().is_finite()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn the_mode_belongs_to_one_thread_and_leaves_with_it() {
        // No other Rust test turns the mode on, so the count is this test's alone.
        let before = THREADS_ON.load(Ordering::Relaxed);
        let (on_here, count_while_on) = std::thread::spawn(|| {
            assert!(!set_detect_anomaly(true));
            let seen = (detect_anomaly_enabled(), THREADS_ON.load(Ordering::Relaxed));
            assert!(!detect_anomaly_enabled_elsewhere());
            seen // the thread ends with the mode still on
        })
        .join()
        .unwrap();
        assert!(on_here);
        assert_eq!(count_while_on, before + 1);
        assert!(!detect_anomaly_enabled());
        assert_eq!(THREADS_ON.load(Ordering::Relaxed), before);
    }

    /// Whether a fresh thread sees the mode on.
    fn detect_anomaly_enabled_elsewhere() -> bool {
        std::thread::spawn(detect_anomaly_enabled).join().unwrap()
    }
}
