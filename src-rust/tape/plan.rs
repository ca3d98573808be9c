//! The plan: the recorded program rewritten for speed, which every evaluation runs.

use super::{Instr, Tape, TapeError};
use crate::ops::{binary_forward, dot, sum, unary_forward, Code};

shared_variants! {
    /// One step of the plan; slot `n_inputs + j` holds step `j`'s result.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub(super) enum Step {
        /// `x op k`: the right operand is a constant, so it gets no adjoint.
        BinaryK {
            code: Code,
            x: u32,
            k: f64,
        },
        /// `k op y`: the left operand is a constant.
        KBinary {
            code: Code,
            k: f64,
            y: u32,
        },
        /// `x ** 2` as `x * x`: exact where libm's `pow` may be one rounding off, and far
        /// faster. Its derivative `2 · x` is what `pow`'s backward gives for a constant
        /// exponent 2.
        Square {
            x: u32,
        },
    }
}

/// The recorded program after constant folding (ops whose operands are all constants become
/// constants, with the same formulas), dead-code removal (only what the outputs depend on),
/// constant operands inlined into their ops, and `x ** 2` as a multiplication.
///
/// With several outputs the forward pass computes every step once, and output `k`'s reverse
/// sweep runs `orders[k]`: the steps it depends on in its own topological order (operands
/// first, depth first in operand order, as the graph's `backward` and a tape recorded from
/// that output alone order them), so each row of a Jacobian is bit for bit that output's own
/// gradient. `None` means every step in plan order (always so for one output).
#[derive(Clone, Debug, Default)]
pub(super) struct Plan {
    pub(super) n_inputs: usize,
    pub(super) steps: Vec<Step>,
    pub(super) pool: Vec<u32>,
    /// The first output's slot: a scalar function's only one.
    pub(super) output: u32,
    pub(super) outputs: Vec<u32>,
    pub(super) orders: Vec<Option<Vec<u32>>>,
}

impl Plan {
    pub(super) fn new(tape: &Tape) -> Result<Plan, TapeError> {
        let (n, instrs, pool) = (tape.n_inputs, &tape.instrs, &tape.pool);
        let operands = |start: u32, len: u32| &pool[start as usize..(start + len) as usize];

        // Constant folding, in recording order.
        let mut konst: Vec<Option<f64>> = vec![None; instrs.len()];
        for (i, instr) in instrs.iter().enumerate().skip(n) {
            konst[i] = match *instr {
                Instr::Input => None,
                Instr::Const(c) => Some(c),
                Instr::Unary { code, x, p } => konst[x as usize].map(|x| unary_forward(code, x, p)),
                Instr::Binary { code, x, y } => match (konst[x as usize], konst[y as usize]) {
                    (Some(x), Some(y)) => Some(binary_forward(code, x, y)),
                    _ => None,
                },
                Instr::Sum { start, len } => operands(start, len)
                    .iter()
                    .try_fold(0.0, |acc, &j| Some(sum::step(acc, konst[j as usize]?))),
                Instr::Dot { start, len } => {
                    let all = operands(start, 2 * len);
                    let (ws, xs) = all.split_at(len as usize);
                    ws.iter().zip(xs).try_fold(0.0, |acc, (&w, &x)| {
                        Some(dot::step(acc, konst[w as usize]?, konst[x as usize]?))
                    })
                }
            };
        }

        // Liveness, from the output back; a constant operand inlined into its op needs no slot.
        let mut live = vec![false; instrs.len()];
        for &out in &tape.outputs {
            live[out as usize] = true;
        }
        for i in (n..instrs.len()).rev() {
            if !live[i] || konst[i].is_some() {
                continue;
            }
            match instrs[i] {
                Instr::Input | Instr::Const(_) => {}
                Instr::Unary { x, .. } => live[x as usize] = true,
                Instr::Binary { x, y, .. } => {
                    for j in [x, y] {
                        live[j as usize] |= konst[j as usize].is_none();
                    }
                }
                Instr::Sum { start, len } => {
                    for &j in operands(start, len) {
                        live[j as usize] = true;
                    }
                }
                Instr::Dot { start, len } => {
                    for &j in operands(start, 2 * len) {
                        live[j as usize] = true;
                    }
                }
            }
        }

        // Emit the live instructions, renumbering slots.
        let mut slot_of = vec![u32::MAX; instrs.len()];
        for (i, s) in slot_of.iter_mut().enumerate().take(n) {
            *s = i as u32;
        }
        let mut plan = Plan {
            n_inputs: n,
            ..Plan::default()
        };
        for i in n..instrs.len() {
            if !live[i] {
                continue;
            }
            let step = match (konst[i], instrs[i]) {
                (Some(c), _) => Step::Const(c),
                (None, Instr::Unary { code, x, p }) => Step::Unary {
                    code,
                    x: slot_of[x as usize],
                    p,
                },
                (None, Instr::Binary { code, x, y }) => {
                    match (konst[x as usize], konst[y as usize]) {
                        (None, Some(k)) if code == Code::Pow && k == 2.0 => Step::Square {
                            x: slot_of[x as usize],
                        },
                        (None, Some(k)) => Step::BinaryK {
                            code,
                            x: slot_of[x as usize],
                            k,
                        },
                        (Some(k), None) => Step::KBinary {
                            code,
                            k,
                            y: slot_of[y as usize],
                        },
                        _ => Step::Binary {
                            code,
                            x: slot_of[x as usize],
                            y: slot_of[y as usize],
                        },
                    }
                }
                (None, Instr::Sum { start, len }) => {
                    let at = plan.pool.len() as u32;
                    plan.pool
                        .extend(operands(start, len).iter().map(|&j| slot_of[j as usize]));
                    Step::Sum { start: at, len }
                }
                (None, Instr::Dot { start, len }) => {
                    let at = plan.pool.len() as u32;
                    let all = operands(start, 2 * len);
                    plan.pool.extend(all.iter().map(|&j| slot_of[j as usize]));
                    Step::Dot { start: at, len }
                }
                (None, Instr::Input | Instr::Const(_)) => unreachable!("handled above"),
            };
            slot_of[i] = (n + plan.steps.len()) as u32;
            plan.steps.push(step);
        }
        plan.outputs = tape.outputs.iter().map(|&o| slot_of[o as usize]).collect();
        plan.output = plan.outputs[0];
        plan.orders = plan.reverse_orders()?;
        Ok(plan)
    }

    /// Each output's reverse order (see `orders`), `None` where it is the plan's own.
    fn reverse_orders(&self) -> Result<Vec<Option<Vec<u32>>>, TapeError> {
        if self.outputs.len() == 1 {
            // Recorded from this output alone: the plan is already in its order.
            return Ok(vec![None]);
        }
        let n = self.n_inputs;
        let all: Vec<u32> = (0..self.steps.len() as u32)
            .filter(|&j| !matches!(self.steps[j as usize], Step::Const(_)))
            .collect();
        let mut seen = vec![u32::MAX; self.steps.len()];
        let mut stack: Vec<(u32, usize)> = Vec::new();
        let mut orders = Vec::new();
        for (k, &out) in self.outputs.iter().enumerate() {
            let mut order = Vec::new();
            if out as usize >= n {
                // Depth first from the output, each step after its operands.
                let root = out - n as u32;
                seen[root as usize] = k as u32;
                stack.push((root, 0));
                while let Some(top) = stack.last_mut() {
                    let (j, next) = *top;
                    top.1 += 1;
                    match self.operand(j, next) {
                        Some(slot) if slot as usize >= n => {
                            let child = slot - n as u32;
                            if seen[child as usize] != k as u32 {
                                seen[child as usize] = k as u32;
                                stack.push((child, 0));
                            }
                        }
                        Some(_) => {}
                        None => {
                            stack.pop();
                            if !matches!(self.steps[j as usize], Step::Const(_)) {
                                order.try_reserve(1).map_err(|_| TapeError::OutOfMemory {
                                    what: "the outputs' reverse orders",
                                    bytes: order.len().saturating_mul(8),
                                })?;
                                order.push(j);
                            }
                        }
                    }
                }
            }
            orders.push(if order == all { None } else { Some(order) });
        }
        Ok(orders)
    }

    /// Step `j`'s operand number `i` (in the graph's operand order), or `None` past the last.
    fn operand(&self, j: u32, i: usize) -> Option<u32> {
        match self.steps[j as usize] {
            Step::Const(_) => None,
            Step::Unary { x, .. }
            | Step::BinaryK { x, .. }
            | Step::Square { x }
            | Step::KBinary { y: x, .. } => (i == 0).then_some(x),
            Step::Binary { x, y, .. } => [x, y].get(i).copied(),
            Step::Sum { start, len } => self.operands(start, len).get(i).copied(),
            Step::Dot { start, len } => self.operands(start, 2 * len).get(i).copied(),
        }
    }

    /// The inputs below `k` (shared by every lane of a batch) that some step reads as a lane
    /// block: every use but a dot product with an operand that is not shared, which reads the
    /// shared one as a number (`LaneOps::dot_shared`). In increasing order.
    pub(super) fn shared_lane_slots(&self, k: usize) -> Vec<u32> {
        let mut used = vec![false; k.min(self.n_inputs)];
        let mut mark = |slot: u32| {
            if let Some(u) = used.get_mut(slot as usize) {
                *u = true;
            }
        };
        for (j, step) in self.steps.iter().enumerate() {
            if let Step::Dot { start, len } = *step {
                let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                for (&w, &x) in ws.iter().zip(xs) {
                    if (w as usize) < k && (x as usize) < k {
                        mark(w);
                        mark(x);
                    }
                }
            } else {
                let mut i = 0;
                while let Some(slot) = self.operand(j as u32, i) {
                    mark(slot);
                    i += 1;
                }
            }
        }
        (0..used.len() as u32)
            .filter(|&s| used[s as usize])
            .collect()
    }

    pub(super) fn n_slots(&self) -> usize {
        self.n_inputs + self.steps.len()
    }

    pub(super) fn operands(&self, start: u32, len: u32) -> &[u32] {
        &self.pool[start as usize..(start + len) as usize]
    }
}
