//! Recording: a graph flattened into instructions over slots.

use std::collections::HashMap;

use super::{slot, Instr, Tape, TapeError};
use crate::ops::Code;
use crate::value::{Side, Value};

impl Tape {
    /// Flattens the graph of `output` with `inputs` as the variables; every other leaf becomes
    /// a constant holding its current value. An input need not be a leaf: the tape then treats
    /// it as a variable and cuts the graph above it.
    pub fn record(inputs: &[Value], output: &Value) -> Result<Tape, TapeError> {
        Tape::record_outputs(inputs, std::slice::from_ref(output), false)
    }

    /// `record` for a function returning the sequence `outputs` (at least one; an output may
    /// be an input, a constant or another output again). The instructions are recorded once,
    /// in the topological order of the first output, then what the second adds, and so on.
    pub fn record_many(inputs: &[Value], outputs: &[Value]) -> Result<Tape, TapeError> {
        if outputs.is_empty() {
            return Err(TapeError::NoOutputs);
        }
        Tape::record_outputs(inputs, outputs, true)
    }

    fn record_outputs(
        inputs: &[Value],
        outputs: &[Value],
        vector: bool,
    ) -> Result<Tape, TapeError> {
        let mut slots: HashMap<usize, u32> = HashMap::new();
        let mut instrs = Vec::new();
        for (i, v) in inputs.iter().enumerate() {
            if slots.insert(v.id(), slot(i)?).is_some() {
                return Err(TapeError::DuplicateInput(i));
            }
            instrs.push(Instr::Input);
        }
        let mut pool = Vec::new();
        for out in outputs {
            // An output already recorded (a repeat, or a node of an earlier output) adds nothing.
            if slots.contains_key(&out.id()) {
                continue;
            }
            for value in out.topo_order() {
                record_one(&value, &mut slots, &mut instrs, &mut pool)?;
            }
        }
        let outputs = outputs.iter().map(|out| slots[&out.id()]).collect();
        Tape::new(inputs.len(), instrs, pool, outputs, vector)
    }
}

/// Appends `value`'s instruction unless it has a slot already; its operands must have theirs.
fn record_one(
    value: &Value,
    slots: &mut HashMap<usize, u32>,
    instrs: &mut Vec<Instr>,
    pool: &mut Vec<u32>,
) -> Result<(), TapeError> {
    if slots.contains_key(&value.id()) {
        return Ok(());
    }
    let node = value.node();
    let operand = |j: usize| slots[&node.children[j].id()];
    let instr = match node.op().code {
        Code::Leaf => Instr::Const(node.data()),
        Code::Custom => return Err(TapeError::CustomOp(node.op_name())),
        Code::Sum | Code::Dot => {
            let start = slot(pool.len())?;
            pool.extend(node.children.as_slice().iter().map(|v| slots[&v.id()]));
            let len = slot(node.children.as_slice().len())?;
            if node.op().code == Code::Sum {
                Instr::Sum { start, len }
            } else {
                Instr::Dot {
                    start,
                    len: len / 2,
                }
            }
        }
        // A plain-number operand kept in the node becomes the constant a leaf would have been,
        // recorded just before its op (the plan then inlines it, as any constant operand).
        code if node.scalar_operand().is_some() => {
            let (side, k) = node.scalar_operand().unwrap();
            let c = slot(instrs.len())?;
            instrs.push(Instr::Const(k));
            let x = operand(0);
            let (x, y) = match side {
                Side::Left => (c, x),
                Side::Right => (x, c),
            };
            Instr::Binary { code, x, y }
        }
        code if node.children.as_slice().len() == 1 => Instr::Unary {
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
    Ok(())
}
