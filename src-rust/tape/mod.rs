//! A compiled tape: a graph flattened into an array of instructions over slots, with no `Rc`
//! per node. Evaluate it at many points, in reverse mode (gradients), forward mode (directional
//! derivatives) or both (Hessians), with the same formulas as the graph (`ops.rs`).
//!
//! One job per file: `record.rs` flattens a graph, `plan.rs` rewrites the recording for speed,
//! `eval.rs` evaluates one point (reverse, forward, Hessian), `lanes.rs` evaluates batches
//! across lanes and threads, `outputs.rs` drives tapes with several outputs (Jacobians, `vjp`),
//! `bytes.rs` writes and reads the byte format.

/// Defines an enum of instructions over slots with its own variants first, then the ones a
/// recorded [`Instr`] and a plan's step share, written once here: `Const`, `Unary`, `Binary`,
/// `Sum` and `Dot`.
macro_rules! shared_variants {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($own:tt)* }) => {
        $(#[$meta])*
        $vis enum $name {
            $($own)*
            /// A constant: a leaf of the graph that is not an input (in a plan, also an op
            /// whose operands are all constants, folded).
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
    };
}

mod bytes;
mod eval;
mod lanes;
mod outputs;
mod plan;
mod record;
#[cfg(test)]
mod tests;

use plan::Plan;

use crate::ops::Code;

shared_variants! {
    /// One slot's instruction. Slot `i` holds instruction `i`'s result; the first `n_inputs`
    /// slots are the inputs.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Instr {
        /// One of the inputs (slots `0 .. n_inputs`).
        Input,
    }
}

/// A recorded graph. `instrs` is the program as recorded (what `to_bytes` writes and
/// `same_program` compares); `plan` is the same function rewritten for speed, which every
/// evaluation runs.
///
/// `outputs` are the slots the function returns: one for a function returning a Value
/// (`vector` false, today's scalar tape), one or more for a function returning a sequence of
/// Values (`vector` true, even for a sequence of one).
#[derive(Clone, Debug)]
pub struct Tape {
    n_inputs: usize,
    instrs: Vec<Instr>,
    pool: Vec<u32>,
    outputs: Vec<u32>,
    vector: bool,
    plan: Plan,
    /// Lane blocks kept from one batch call to the next (see `lanes::Scratch`).
    scratch: lanes::Scratch,
}

impl PartialEq for Tape {
    fn eq(&self, other: &Tape) -> bool {
        // The plan is derived from the rest.
        (
            self.n_inputs,
            &self.instrs,
            &self.pool,
            &self.outputs,
            self.vector,
        ) == (
            other.n_inputs,
            &other.instrs,
            &other.pool,
            &other.outputs,
            other.vector,
        )
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
    /// A tape with several outputs was asked for what only a scalar function has; `instead`
    /// names the method to use.
    NotScalar {
        /// The tape's output count.
        outputs: usize,
        /// The method that handles several outputs.
        instead: &'static str,
    },
    /// A function of several outputs recorded with none.
    NoOutputs,
    /// A cotangent for `vjp` whose length is not the number of outputs.
    CotangentLength {
        /// The tape's output count.
        expected: usize,
        /// The cotangent's length.
        got: usize,
    },
    /// An output index past the last output.
    NoSuchOutput {
        /// The index asked for.
        index: usize,
        /// The tape's output count.
        outputs: usize,
    },
    /// Bytes that `Tape::to_bytes` did not write; what is wrong with them.
    Corrupt(&'static str),
    /// A `grad_sum_into` batch shares `shared` inputs of a tape that has only `n_inputs`: at
    /// least one input must come from the rows.
    SharedInputs {
        /// The tape's input count.
        n_inputs: usize,
        /// The number of shared inputs given.
        shared: usize,
    },
    /// The graph holds a node of the custom op of this name: a tape runs without calling out
    /// of the core, and a custom op's forward and derivative are the caller's functions.
    CustomOp(&'static str),
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
            TapeError::NotScalar { outputs, instead } => write!(
                f,
                "the tape has {outputs} outputs and this needs a scalar function: use {instead}"
            ),
            TapeError::NoOutputs => write!(f, "a tape needs at least one output, got none"),
            TapeError::CotangentLength { expected, got } => write!(
                f,
                "the cotangent needs one number per output ({expected}), got {got}"
            ),
            TapeError::NoSuchOutput { index, outputs } => {
                write!(f, "output {index} does not exist: the tape has {outputs}")
            }
            TapeError::SharedInputs { n_inputs, shared } => write!(
                f,
                "{shared} shared inputs leave none of the tape's {n_inputs} inputs to the rows"
            ),
            TapeError::Corrupt(why) => write!(f, "not a valid tape: {why}"),
            TapeError::CustomOp(name) => write!(
                f,
                "the custom op '{name}' cannot be compiled into a tape: a tape evaluates \
                 without Python (its batches release the GIL and run on several threads), \
                 while the op's forward and derivative are Python functions; differentiate the \
                 graph instead (backward(), ferrograd.grad), or write the op with ferrograd's \
                 own ops"
            ),
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
    /// `outputs` is non-empty, and holds one slot when `vector` is false.
    fn new(
        n_inputs: usize,
        instrs: Vec<Instr>,
        pool: Vec<u32>,
        outputs: Vec<u32>,
        vector: bool,
    ) -> Result<Tape, TapeError> {
        debug_assert!(!outputs.is_empty() && (vector || outputs.len() == 1));
        let mut tape = Tape {
            n_inputs,
            instrs,
            pool,
            outputs,
            vector,
            plan: Plan::default(),
            scratch: lanes::Scratch::default(),
        };
        tape.plan = Plan::new(&tape)?;
        Ok(tape)
    }

    /// How many numbers the function returns (1 for a scalar function).
    pub fn n_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Whether the function returns a sequence of Values rather than one Value.
    pub fn is_vector(&self) -> bool {
        self.vector
    }

    /// `Ok` for a scalar function; else the error naming `instead`.
    fn scalar(&self, instead: &'static str) -> Result<(), TapeError> {
        if self.vector {
            return Err(TapeError::NotScalar {
                outputs: self.outputs.len(),
                instead,
            });
        }
        Ok(())
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
