//! Recording: a graph flattened into instructions over slots.

use std::collections::HashMap;

use super::{slot, Instr, Tape, TapeError};
use crate::ops::Code;
use crate::value::Value;

impl Tape {
    /// Flattens the graph of `output` with `inputs` as the variables; every other leaf becomes
    /// a constant holding its current value. An input need not be a leaf: the tape then treats
    /// it as a variable and cuts the graph above it.
    pub fn record(inputs: &[Value], output: &Value) -> Result<Tape, TapeError> {
        let mut slots: HashMap<usize, u32> = HashMap::new();
        let mut instrs = Vec::new();
        for (i, v) in inputs.iter().enumerate() {
            if slots.insert(v.id(), slot(i)?).is_some() {
                return Err(TapeError::DuplicateInput(i));
            }
            instrs.push(Instr::Input);
        }
        let mut pool = Vec::new();
        for value in output.topo_order() {
            if slots.contains_key(&value.id()) {
                continue;
            }
            let node = value.node();
            let operand = |j: usize| slots[&node.prev[j].id()];
            let instr = match node.op().code {
                Code::Leaf => Instr::Const(node.data()),
                Code::Sum | Code::Dot => {
                    let start = slot(pool.len())?;
                    pool.extend(node.prev.as_slice().iter().map(|v| slots[&v.id()]));
                    let len = slot(node.prev.as_slice().len())?;
                    if node.op().code == Code::Sum {
                        Instr::Sum { start, len }
                    } else {
                        Instr::Dot {
                            start,
                            len: len / 2,
                        }
                    }
                }
                code if node.prev.as_slice().len() == 1 => Instr::Unary {
                    code,
                    x: operand(0),
                    p: node.param(),
                },
                code => Instr::Binary {
                    code,
                    x: operand(0),
                    y: operand(1),
                },
            };
            slots.insert(value.id(), slot(instrs.len())?);
            instrs.push(instr);
        }
        let output = slots[&output.id()];
        Ok(Tape::new(inputs.len(), instrs, pool, output))
    }
}
