//! User-defined ops (`ferrograd.custom_op`): a node whose local partials were computed when it
//! was built.
//!
//! The op's forward and derivative are functions the core never calls (the Python bindings
//! call them). What a node keeps is their result at its operands: its value and the partials
//! `∂z/∂xᵢ`. Backward is then the chain rule on stored numbers, `xᵢ += pᵢ · g`, like any other
//! op's, with no call out of the core.

use std::any::Any;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Mutex;

use crate::ops::{Code, OpError};
use crate::value::{Node, Op, Operands, Value};

/// What a custom op's node keeps besides its operands.
pub struct Custom {
    /// The op's name, shown by `op`, pictures and error messages.
    pub name: &'static str,
    /// The op itself, for whoever defined it (the Python bindings keep the Python op object
    /// here, to pickle it); the core never looks inside.
    pub handle: Rc<dyn Any>,
    /// `∂z/∂xᵢ` at the node's operands, one per operand, in operand order.
    pub partials: Box<[f64]>,
}

/// The table entry of every custom op's node; the node's [`Custom`] says which op it is.
pub static CUSTOM: Op = Op {
    name: "custom",
    code: Code::Custom,
    backward: |z| {
        let g = z.grad();
        let extra = z.extra.take();
        if let Some(custom) = extra.as_ref().and_then(|e| e.custom.as_ref()) {
            for (x, p) in z.children().iter().zip(custom.partials.iter()) {
                x.node().add_grad(p * g);
            }
        }
        z.extra.set(extra);
    },
};

/// `name` as a `&'static str`, each distinct name stored once for the life of the process
/// (ops are defined a few times per program, not per node).
pub fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&known) = names.get(name) {
        return known;
    }
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(name);
    name
}

impl Node {
    /// The op's name: the table's ("+", "tanh", ...), or a custom op's own.
    pub fn op_name(&self) -> &'static str {
        let op = self.op();
        if op.code != Code::Custom {
            return op.name;
        }
        self.custom().map_or(op.name, |c| c.name)
    }

    /// A custom op node's [`Custom`]; `None` for every other node.
    pub fn custom(&self) -> Option<Rc<Custom>> {
        let extra = self.extra.take();
        let custom = extra.as_ref().and_then(|e| e.custom.clone());
        self.extra.set(extra);
        custom
    }
}

impl Value {
    /// A node of the custom op `custom` over `operands`, whose forward value is `data`; its
    /// partials must be one per operand (an [`OpError`] otherwise).
    pub fn custom(custom: Custom, data: f64, operands: Vec<Value>) -> Result<Value, OpError> {
        if custom.partials.len() != operands.len() {
            return Err(OpError::Partials {
                op: custom.name,
                operands: operands.len(),
                partials: custom.partials.len(),
            });
        }
        let z = Value::from_op(&CUSTOM, data, Operands::from_vec(operands));
        z.set_custom(custom);
        Ok(z)
    }

    pub(crate) fn set_custom(&self, custom: Custom) {
        let mut extra = self.0.extra.take();
        extra.get_or_insert_with(Default::default).custom = Some(Rc::new(custom));
        self.0.extra.set(extra);
    }

    /// The [`Custom`] of every custom op node this one depends on, in topological order (the
    /// order `to_bytes` writes them and `from_bytes_with` reads them back).
    pub fn customs(&self) -> Vec<Rc<Custom>> {
        self.topo_order()
            .iter()
            .filter_map(|v| v.node().custom())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hypot(x: &Value, y: &Value) -> Value {
        let (a, b) = (x.data(), y.data());
        let r = a.hypot(b);
        let custom = Custom {
            name: intern("hypot"),
            handle: Rc::new(()),
            partials: vec![a / r, b / r].into_boxed_slice(),
        };
        Value::custom(custom, r, vec![x.clone(), y.clone()]).unwrap()
    }

    #[test]
    fn backward_is_the_chain_rule_on_the_stored_partials() {
        let (x, y) = (Value::new(3.0), Value::new(4.0));
        let z = hypot(&x, &y).mul(&x); // x · hypot(x, y)
        z.backward();
        assert_eq!(z.data(), 15.0);
        assert_eq!((x.grad(), y.grad()), (5.0 + 3.0 * 0.6, 3.0 * 0.8));
        assert_eq!(z.children()[0].op(), "hypot");
        assert!(std::ptr::eq(intern("hypot"), intern("hypot")));
    }

    #[test]
    fn partials_must_match_the_operands() {
        let custom = Custom {
            name: intern("f"),
            handle: Rc::new(()),
            partials: vec![1.0].into_boxed_slice(),
        };
        let err = Value::custom(custom, 0.0, vec![Value::new(1.0), Value::new(2.0)]);
        assert_eq!(
            err.err().unwrap().to_string(),
            "custom op 'f' takes 2 operands, so its derivative must give 2 partials, got 1"
        );
    }

    #[test]
    fn a_tape_refuses_a_custom_op_by_name() {
        let (x, y) = (Value::new(3.0), Value::new(4.0));
        let err = crate::Tape::record(&[x.clone(), y.clone()], &hypot(&x, &y).exp());
        assert!(err.err().unwrap().to_string().contains("'hypot'"));
    }

    #[test]
    fn bytes_carry_custom_nodes_only_with_their_ops() {
        let (x, y) = (Value::new(3.0), Value::new(4.0));
        let one = Custom {
            name: intern("twice"),
            handle: Rc::new(()),
            partials: vec![2.0].into_boxed_slice(),
        };
        let twice = Value::custom(one, 6.0, vec![x.clone()]).unwrap();
        let z = hypot(&twice, &y).exp();
        let bytes = z.to_bytes().unwrap();
        assert!(Value::from_bytes(&bytes).is_err());
        let again: Vec<Custom> = z
            .customs()
            .iter()
            .map(|c| Custom {
                name: c.name,
                handle: c.handle.clone(),
                partials: c.partials.clone(),
            })
            .collect();
        let w = Value::from_bytes_with(&bytes, again).unwrap();
        w.backward();
        z.backward();
        let leaves: Vec<Value> = w
            .topo_order()
            .into_iter()
            .filter(|v| v.op().is_empty())
            .collect();
        assert_eq!((leaves[0].grad(), leaves[1].grad()), (x.grad(), y.grad()));
        assert_eq!(w.children()[0].op(), "hypot");
        assert_eq!(w.children()[0].children()[0].op(), "twice");
    }
}
