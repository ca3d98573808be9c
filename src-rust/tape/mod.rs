//! A compiled tape: a graph flattened into an array of instructions over slots, with no `Rc`
//! per node. Evaluate it at many points, in reverse mode (gradients), forward mode (directional
//! derivatives) or both (Hessians), with the same formulas as the graph (`ops.rs`).
//!
//! One job per file: `record.rs` flattens a graph, `plan.rs` rewrites the recording for speed,
//! `eval.rs` evaluates one point (reverse, forward, Hessian), `lanes.rs` evaluates batches
//! across lanes and threads, `bytes.rs` writes and reads the byte format.

mod bytes;
mod eval;
mod lanes;
mod plan;
mod record;
#[cfg(test)]
mod tests;

use plan::Plan;

use crate::ops::Code;

/// One slot's instruction. Slot `i` holds instruction `i`'s result; the first `n_inputs` slots
/// are the inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// One of the inputs (slots `0 .. n_inputs`).
    Input,
    /// A constant: a leaf of the graph that is not an input.
    Const(f64),
    /// A one-operand op, or `leaky_relu` with its slope `p`.
    Unary {
        /// The op.
        code: Code,
        /// The operand's slot.
        x: u32,
        /// The op's parameter (the slope of `leaky_relu`; 0 otherwise).
        p: f64,
    },
    /// A two-operand op.
    Binary {
        /// The op.
        code: Code,
        /// The first operand's slot.
        x: u32,
        /// The second operand's slot.
        y: u32,
    },
    /// Operands are `pool[start .. start + len]`.
    Sum {
        /// Where the operands start in the pool.
        start: u32,
        /// How many operands.
        len: u32,
    },
    /// `ws = pool[start .. start + len]`, `xs = pool[start + len .. start + 2 len]`.
    Dot {
        /// Where the weights start in the pool.
        start: u32,
        /// How many products.
        len: u32,
    },
}

/// A recorded graph. `instrs` is the program as recorded (what `to_bytes` writes and
/// `same_program` compares); `plan` is the same function rewritten for speed, which every
/// evaluation runs.
#[derive(Clone, Debug)]
pub struct Tape {
    n_inputs: usize,
    instrs: Vec<Instr>,
    pool: Vec<u32>,
    output: u32,
    plan: Plan,
}

impl PartialEq for Tape {
    fn eq(&self, other: &Tape) -> bool {
        // The plan is derived from the rest.
        (self.n_inputs, &self.instrs, &self.pool, self.output)
            == (other.n_inputs, &other.instrs, &other.pool, other.output)
    }
}

/// Why a graph could not be recorded or a tape not evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum TapeError {
    /// The same input node was given twice; the index of its second place.
    DuplicateInput(usize),
    /// A point whose length is not the tape's input count.
    InputLength {
        /// The tape's input count.
        expected: usize,
        /// The point's length.
        got: usize,
    },
    /// An output buffer whose length is not what the batch needs.
    OutputLength {
        /// The length needed.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A graph of more than 2^32 nodes.
    TooLarge,
    /// Bytes that `Tape::to_bytes` did not write; what is wrong with them.
    Corrupt(&'static str),
    /// A `grad_sum_into` batch shares `shared` inputs of a tape that has only `n_inputs`: at
    /// least one input must come from the rows.
    SharedInputs {
        /// The tape's input count.
        n_inputs: usize,
        /// How many inputs were given as shared.
        shared: usize,
    },
    /// An allocation of `bytes` bytes (saturated at `usize::MAX`) for `what` failed.
    OutOfMemory {
        /// What the memory was for.
        what: &'static str,
        /// How many bytes were asked for.
        bytes: usize,
    },
}

impl std::fmt::Display for TapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TapeError::DuplicateInput(i) => {
                write!(f, "input {i} is the same Value as an earlier input")
            }
            TapeError::InputLength { expected, got } => {
                write!(f, "the tape takes {expected} inputs, got {got}")
            }
            TapeError::OutputLength { expected, got } => {
                write!(f, "the output buffer needs {expected} numbers, got {got}")
            }
            TapeError::TooLarge => write!(f, "the graph has more than 2^32 nodes"),
            TapeError::SharedInputs { n_inputs, shared } => write!(
                f,
                "{shared} shared inputs leave none of the tape's {n_inputs} inputs to the rows"
            ),
            TapeError::Corrupt(why) => write!(f, "not a valid tape: {why}"),
            TapeError::OutOfMemory { what, bytes } => {
                write!(f, "cannot allocate {bytes} bytes for {what}")
            }
        }
    }
}

impl std::error::Error for TapeError {}

/// `len` copies of `fill` in a vector allocated fallibly: a size that comes from outside (a
/// batch, an input count squared) is an error naming it, never an abort.
fn filled<T: Clone>(len: usize, fill: T, what: &'static str) -> Result<Vec<T>, TapeError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| TapeError::OutOfMemory {
            what,
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    v.resize(len, fill);
    Ok(v)
}

fn slot(i: usize) -> Result<u32, TapeError> {
    u32::try_from(i).map_err(|_| TapeError::TooLarge)
}

impl Tape {
    fn new(n_inputs: usize, instrs: Vec<Instr>, pool: Vec<u32>, output: u32) -> Tape {
        let mut tape = Tape {
            n_inputs,
            instrs,
            pool,
            output,
            plan: Plan::default(),
        };
        tape.plan = Plan::new(&tape);
        tape
    }

    /// Whether `other` runs the same program: same instructions, operands and constants
    /// (compared bit for bit, so a NaN constant equals itself).
    pub fn same_program(&self, other: &Tape) -> bool {
        self.to_bytes() == other.to_bytes()
    }

    /// How many inputs each evaluation takes.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Number of slots as recorded (inputs, constants and op results).
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    /// Whether the tape has no slots.
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// The program as recorded, one instruction per slot.
    pub fn instrs(&self) -> &[Instr] {
        &self.instrs
    }

    /// Number of slots each evaluation computes, after constant folding and dead-code removal.
    pub fn plan_len(&self) -> usize {
        self.plan.n_slots()
    }
}
