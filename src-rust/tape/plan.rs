//! The plan: the recorded program rewritten for speed, which every evaluation runs.

use super::{Instr, Tape, TapeError};
use crate::ops::{binary_forward, dot, sum, unary_forward, Code};
use crate::vmath::Dense;

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
        /// `pool[start] + pool[start + 1] + ...`, added left to right from the first operand
        /// (from `k + pool[start]` when `k` is given): a chain of additions whose partial
        /// sums nothing else reads, as `Plan::fuse_sums` finds them. The same additions in
        /// the same order as the chain, so the same bits; each operand's increment is `g`.
        Chain {
            start: u32,
            len: u32,
            k: Option<f64>,
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
    /// Dense layers: runs of dot steps that read the same operands (see `Layer`).
    pub(super) layers: Vec<Layer>,
    /// Each step's layer in `layers`, `u32::MAX` for none; empty when there are no layers.
    layer_of: Vec<u32>,
}

/// A dense layer: dot steps `Σ_i w_ji · x_i` that read the same operands `x_i` (the second
/// half of each dot's operands), with nothing else in between reading an `x_i`, no slot twice
/// among the `x_i` and no `w_ji` twice in the layer. In a batch whose weights are shared
/// inputs and whose `x_i` are not (`grad_sum_into`), the reverse sweep runs the layer's dots
/// in one pass at its first dot (`kernels::dense_backward_shared`), with the same bits: each
/// `x_i` takes the same increments in the same order, and nothing in between touches them.
#[derive(Clone, Debug)]
pub(super) struct Layer {
    /// The dot steps, in plan order.
    pub(super) dots: Vec<u32>,
    /// Each dot's slot less the first's (where its adjoint is, from the first's on).
    pub(super) offsets: Vec<u32>,
    /// The operands every dot reads.
    pub(super) xs: Vec<u32>,
    /// The weights, dot by dot (`xs.len()` each).
    pub(super) ws: Vec<u32>,
    /// The weights, operand by operand (`dots.len()` each): `Dense::wt`.
    wt: Vec<u32>,
    /// The largest weight slot and the smallest `xs` slot: with `k` shared inputs, the layer
    /// runs as one when `max_w < k <= min_x`.
    max_w: u32,
    min_x: u32,
}

impl Layer {
    /// The layer as the lane kernels take it, its results at `offsets` from the first dot's.
    pub(super) fn kernel(&self) -> Dense<'_> {
        Dense {
            ws: &self.ws,
            wt: &self.wt,
            xs: &self.xs,
            gs: &self.offsets,
        }
    }
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
        if plan.outputs.len() == 1 {
            plan.fuse_sums();
            plan.find_layers();
        }
        plan.orders = plan.reverse_orders()?;
        Ok(plan)
    }

    /// Fuses chains of additions `((a + b) + c) + d` into one `Chain` step when every partial
    /// sum and every operand is used once (the next link; its own operand slot): the partial
    /// sums then need no slot, no store and no adjoint of their own.
    ///
    /// Bit for bit the same values and gradients, with one output: the additions are the
    /// same, in the same order, and in the reverse sweep each partial sum's adjoint would be
    /// `0 + g = g` exactly (an adjoint starts at +0 and only ever has increments added, so it
    /// is never -0), then passed on unchanged; an operand used once receives that one
    /// increment whichever step gives it.
    fn fuse_sums(&mut self) {
        let n = self.n_inputs;
        let steps = self.steps.len();
        // Uses of each slot (an output counts as one), and the last step using it.
        let mut uses = vec![0u32; n + steps];
        let mut user = vec![u32::MAX; n + steps];
        for &o in &self.outputs {
            uses[o as usize] += 1;
        }
        for j in 0..steps {
            let mut i = 0;
            while let Some(slot) = self.operand(j as u32, i) {
                uses[slot as usize] += 1;
                user[slot as usize] = j as u32;
                i += 1;
            }
        }
        let once = |slot: u32| uses[slot as usize] == 1;
        // The operands an addition step adds, and its constant.
        let add = |step: &Step| -> Option<(Option<f64>, [Option<u32>; 2])> {
            match *step {
                Step::Binary {
                    code: Code::Add,
                    x,
                    y,
                } => Some((None, [Some(x), Some(y)])),
                Step::BinaryK {
                    code: Code::Add,
                    x,
                    k,
                } => Some((Some(k), [Some(x), None])),
                Step::KBinary {
                    code: Code::Add,
                    k,
                    y,
                } => Some((Some(k), [Some(y), None])),
                _ => None,
            }
        };
        // `from[j]`: the link step `j` continues (its partial sum is one of `j`'s operands).
        let mut from: Vec<Option<u32>> = vec![None; steps];
        let mut eligible = vec![false; steps]; // a chain may run through step `j`
        for j in 0..steps {
            let Some((k, ops)) = add(&self.steps[j]) else {
                continue;
            };
            let own = ops.iter().flatten().all(|&o| once(o));
            eligible[j] = own;
            if let (None, [Some(x), Some(y)]) = (k, ops) {
                for (chain, term) in [(x, y), (y, x)] {
                    if chain as usize >= n && chain != term && once(chain) && once(term) {
                        let p = chain as usize - n;
                        if eligible[p] && user[chain as usize] == j as u32 {
                            from[j] = Some(p as u32);
                            eligible[j] = true;
                            break;
                        }
                    }
                }
            }
        }
        let continued: Vec<bool> = {
            let mut c = vec![false; steps];
            for p in from.iter().flatten() {
                c[*p as usize] = true;
            }
            c
        };
        if !from.iter().any(Option::is_some) {
            return;
        }
        // Rebuild: each chain's end becomes a `Chain` step; its other links go; slots shift.
        let mut slot_of: Vec<u32> = (0..(n + steps) as u32).collect();
        let mut new_steps = Vec::with_capacity(steps);
        let mut pool = std::mem::take(&mut self.pool);
        for j in 0..steps {
            if continued[j] {
                slot_of[n + j] = u32::MAX; // folded into the link that continues it
                continue;
            }
            let step = match from[j] {
                None => self.steps[j],
                Some(_) => {
                    // Walk back to the first link, collecting each link's new operand.
                    let mut terms = Vec::new();
                    let mut link = j;
                    while let Some(p) = from[link] {
                        let (_, ops) = add(&self.steps[link]).expect("a link is an addition");
                        let chain = n as u32 + p;
                        let term = ops.iter().flatten().find(|&&o| o != chain).copied();
                        terms.push(term.expect("a link adds a term"));
                        link = p as usize;
                    }
                    let (k, first) = add(&self.steps[link]).expect("a chain starts with one");
                    terms.extend(first.iter().flatten().rev());
                    terms.reverse();
                    let start = pool.len() as u32;
                    pool.extend(terms.iter().copied());
                    Step::Chain {
                        start,
                        len: terms.len() as u32,
                        k,
                    }
                }
            };
            slot_of[n + j] = (n + new_steps.len()) as u32;
            new_steps.push(step);
        }
        let remap = |s: u32| slot_of[s as usize];
        for step in &mut new_steps {
            match step {
                Step::Const(_) => {}
                Step::Unary { x, .. } | Step::BinaryK { x, .. } | Step::Square { x } => {
                    *x = remap(*x)
                }
                Step::KBinary { y, .. } => *y = remap(*y),
                Step::Binary { x, y, .. } => {
                    *x = remap(*x);
                    *y = remap(*y);
                }
                Step::Sum { .. } | Step::Dot { .. } | Step::Chain { .. } => {}
            }
        }
        for s in &mut pool {
            *s = remap(*s);
        }
        self.pool = pool;
        self.steps = new_steps;
        self.outputs = self.outputs.iter().map(|&o| remap(o)).collect();
        self.output = self.outputs[0];
    }

    /// Finds the dense layers (`Layer`): runs of dot steps with the same operand list `xs`,
    /// closed by any other step that reads one of them.
    fn find_layers(&mut self) {
        let slots = self.n_slots();
        let mut marked = vec![false; slots]; // the open layer's `xs`
        let mut open: Option<Layer> = None;
        let mut layers = Vec::new();
        let close = |open: &mut Option<Layer>, marked: &mut [bool], layers: &mut Vec<Layer>| {
            let Some(mut layer) = open.take() else {
                return;
            };
            for &x in &layer.xs {
                marked[x as usize] = false;
            }
            let mut ws = layer.ws.clone();
            ws.sort_unstable();
            ws.dedup();
            if layer.dots.len() >= 2 && ws.len() == layer.ws.len() {
                let (n, m) = (layer.xs.len(), layer.dots.len());
                layer.wt = (0..n * m).map(|t| layer.ws[t % m * n + t / m]).collect();
                layer.max_w = ws.last().copied().unwrap_or(0);
                layer.min_x = layer.xs.iter().copied().min().unwrap_or(0);
                layers.push(layer);
            }
        };
        for j in 0..self.steps.len() {
            if let Step::Dot { start, len } = self.steps[j] {
                let (ws, xs) = self.operands(start, 2 * len).split_at(len as usize);
                if let Some(layer) = open.as_mut().filter(|l| l.xs == xs) {
                    layer.offsets.push(j as u32 - layer.dots[0]);
                    layer.dots.push(j as u32);
                    layer.ws.extend_from_slice(ws);
                    continue;
                }
                close(&mut open, &mut marked, &mut layers);
                let (ws, xs) = (ws.to_vec(), xs.to_vec());
                if xs
                    .iter()
                    .all(|&x| !std::mem::replace(&mut marked[x as usize], true))
                {
                    open = Some(Layer {
                        dots: vec![j as u32],
                        offsets: vec![0],
                        xs,
                        ws,
                        wt: Vec::new(),
                        max_w: 0,
                        min_x: 0,
                    });
                } else {
                    for &x in &xs {
                        marked[x as usize] = false;
                    }
                }
                continue;
            }
            let mut i = 0;
            while let Some(slot) = self.operand(j as u32, i) {
                if marked[slot as usize] {
                    close(&mut open, &mut marked, &mut layers);
                    break;
                }
                i += 1;
            }
        }
        close(&mut open, &mut marked, &mut layers);
        if layers.is_empty() {
            return;
        }
        self.layer_of = vec![u32::MAX; self.steps.len()];
        for (l, layer) in layers.iter().enumerate() {
            for &d in &layer.dots {
                self.layer_of[d as usize] = l as u32;
            }
        }
        self.layers = layers;
    }

    /// The same plan with no dense layers: its dots run one at a time.
    #[cfg(test)]
    pub(super) fn without_layers(&self) -> Plan {
        Plan {
            layers: Vec::new(),
            layer_of: Vec::new(),
            ..self.clone()
        }
    }

    /// Step `j`'s dense layer, where its dots run as one with `k` shared inputs.
    #[inline]
    pub(super) fn layer_at(&self, j: usize, k: usize) -> Option<&Layer> {
        let &l = self.layer_of.get(j)?;
        let layer = self.layers.get(l as usize)?;
        ((layer.max_w as usize) < k && k <= layer.min_x as usize).then_some(layer)
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
            Step::Chain { start, len, .. } => self.operands(start, len).get(i).copied(),
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
