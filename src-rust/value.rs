//! A node of the expression graph and `Value`, the shared handle to one.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use crate::ops::{binary_forward, check_slope, dot, sum, with_op_list, Code, OpError, N_CODES};

/// One scalar in the graph: its value, its adjoint, the op that made it and that op's operands.
///
/// The fields that change after construction are `Cell`s, so a node needs no borrow flag: the
/// operands never change once the node is built (only `Drop`, which has `&mut`, takes them).
/// `Rc<Node>` is 72 bytes, which malloc serves from an 80-byte chunk.
#[repr(C)]
pub struct Node {
    pub(crate) data: Cell<f64>,
    pub(crate) grad: Cell<f64>,
    /// The op's index in `OPS` (low bits) and the number of the last topological sort that
    /// reached this node (high bits; see `backward.rs`), in one word.
    pub(crate) tag: Cell<u64>,
    /// The operands, in operand order.
    pub(crate) children: Operands,
    /// What only a few nodes carry: a label, an op parameter such as leaky ReLU's slope.
    pub(crate) extra: Cell<Option<Box<Extra>>>,
}

/// The low bits of `Node::tag` that hold the op's index in `OPS`.
pub(crate) const CODE_MASK: u64 = 0x7f;
/// A bit of `Node::tag` the sort sets on a node whose grad it set aside (see `backward.rs`).
pub(crate) const SET_ASIDE: u64 = 0x80;
/// Where the sort number starts in `Node::tag`.
pub(crate) const EPOCH_SHIFT: u32 = 8;

#[derive(Default, Clone)]
pub struct Extra {
    pub label: String,
    pub param: f64,
    /// A custom op's name, op and partials (see `custom.rs`).
    pub custom: Option<std::rc::Rc<crate::custom::Custom>>,
}

/// Operands stored inline for the common one- and two-operand ops.
pub enum Operands {
    /// No operands.
    Leaf,
    /// One operand.
    One([Value; 1]),
    /// Two operands.
    Two([Value; 2]),
    /// Three or more (or none, for an empty `sum`).
    Many(Box<[Value]>),
    /// A binary op's operands `x, k` where `k` is a plain number (`x + 2.0`): the number is
    /// kept here instead of in a leaf node of its own, and gets no adjoint.
    ConstRight([Value; 1], f64),
    /// A binary op's operands `k, x` where `k` is a plain number (`2.0 - x`).
    ConstLeft(f64, [Value; 1]),
}

impl Operands {
    /// The operands, in operand order.
    #[inline]
    pub fn as_slice(&self) -> &[Value] {
        match self {
            Operands::Leaf => &[],
            Operands::One(v) => v,
            Operands::Two(v) => v,
            Operands::Many(v) => v,
            Operands::ConstRight(v, _) | Operands::ConstLeft(_, v) => v,
        }
    }

    /// The operands in `values`, stored inline when there are one or two.
    pub fn from_vec(mut values: Vec<Value>) -> Operands {
        match values.len() {
            0 => Operands::Many(Box::new([])),
            1 => Operands::One([values.pop().unwrap()]),
            2 => {
                let y = values.pop().unwrap();
                let x = values.pop().unwrap();
                Operands::Two([x, y])
            }
            _ => Operands::Many(values.into_boxed_slice()),
        }
    }
}

impl std::ops::Index<usize> for Operands {
    type Output = Value;
    #[inline]
    fn index(&self, i: usize) -> &Value {
        &self.as_slice()[i]
    }
}

impl Node {
    /// The forward value.
    #[inline]
    pub fn data(&self) -> f64 {
        self.data.get()
    }

    /// The accumulated adjoint.
    #[inline]
    pub fn grad(&self) -> f64 {
        self.grad.get()
    }

    /// `grad += d`: how a backward function hands an operand its share.
    #[inline]
    pub fn add_grad(&self, d: f64) {
        self.grad.set(self.grad.get() + d);
    }

    /// The op's table entry.
    #[inline]
    pub fn op(&self) -> &'static Op {
        OPS[(self.tag.get() & CODE_MASK) as usize]
    }

    /// The children (the op's operands), in operand order; Python's `Value.children`.
    #[inline]
    pub fn children(&self) -> &[Value] {
        self.children.as_slice()
    }

    /// The children, under their 0.1 name.
    #[deprecated(note = "renamed `children()`, the name Python uses")]
    pub fn operands(&self) -> &[Value] {
        self.children()
    }

    /// A copy of the label and parameter, if the node has any.
    fn extra(&self) -> Option<Extra> {
        let extra = self.extra.take();
        let copy = extra.as_deref().cloned();
        self.extra.set(extra);
        copy
    }

    /// The op parameter (leaky ReLU's slope); 0.0 when the op has none.
    #[inline]
    pub fn param(&self) -> f64 {
        let extra = self.extra.take();
        let param = extra.as_ref().map_or(0.0, |e| e.param);
        self.extra.set(extra);
        param
    }

    /// The label, "" when none was set.
    pub fn label(&self) -> String {
        self.extra().map(|e| e.label).unwrap_or_default()
    }

    /// Where the node keeps a plain-number operand, and the number (see [`Operands`]).
    #[inline]
    pub fn scalar_operand(&self) -> Option<(Side, f64)> {
        match self.children {
            Operands::ConstRight(_, k) => Some((Side::Right, k)),
            Operands::ConstLeft(k, _) => Some((Side::Left, k)),
            _ => None,
        }
    }
}

/// A shared handle to a node. Cloning it is cheap and gives another handle to the same node.
#[derive(Clone)]
pub struct Value(pub(crate) Rc<Node>);

impl Value {
    /// A leaf holding `data`, with grad 0.
    pub fn new(data: f64) -> Value {
        Value::from_op(&LEAF, data, Operands::Leaf)
    }

    /// A leaf with a label, shown by graph pictures and error messages.
    pub fn with_label(data: f64, label: &str) -> Value {
        let v = Value::new(data);
        v.set_label(label);
        v
    }

    /// A node made by `op` from `children`, whose forward value is `data`.
    #[inline]
    pub(crate) fn from_op(op: &'static Op, data: f64, children: Operands) -> Value {
        debug_assert!(std::ptr::eq(op_for(op.code), op));
        Value(Rc::new(Node {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            tag: Cell::new(op.code as u64),
            children,
            extra: Cell::new(None),
        }))
    }

    /// The node this handle names.
    #[inline]
    pub fn node(&self) -> &Node {
        &self.0
    }

    /// The forward value.
    #[inline]
    pub fn data(&self) -> f64 {
        self.0.data.get()
    }

    /// The accumulated adjoint, 0.0 until a [`Value::backward`] reaches this node.
    #[inline]
    pub fn grad(&self) -> f64 {
        self.0.grad.get()
    }

    /// Sets the forward value (as an optimizer's step does).
    pub fn set_data(&self, data: f64) {
        self.0.data.set(data);
    }

    /// Sets the accumulated adjoint (to 0.0 between steps, say).
    pub fn set_grad(&self, grad: f64) {
        self.0.grad.set(grad);
    }

    /// The op's name: "" for a leaf, else "+", "*", "tanh", ... (see `ops.rs`).
    pub fn op(&self) -> &'static str {
        self.0.op_name()
    }

    /// The operands, in operand order (`a * a` has two). A plain-number operand (`x + 2.0`)
    /// comes as a new leaf holding the number each time: it is not part of the graph, so its
    /// grad stays 0.0 and changing it changes nothing.
    pub fn children(&self) -> Vec<Value> {
        match &self.0.children {
            Operands::ConstRight([x], k) => vec![x.clone(), Value::new(*k)],
            Operands::ConstLeft(k, [x]) => vec![Value::new(*k), x.clone()],
            prev => prev.as_slice().to_vec(),
        }
    }

    /// The label, "" when none was set.
    pub fn label(&self) -> String {
        self.0.label()
    }

    /// Names the node, for pictures and error messages; "" removes the name.
    pub fn set_label(&self, label: &str) {
        let mut extra = self.0.extra.take();
        if !(label.is_empty() && extra.is_none()) {
            extra.get_or_insert_with(Default::default).label = label.to_owned();
        }
        self.0.extra.set(extra);
    }

    pub(crate) fn set_param(&self, param: f64) {
        let mut extra = self.0.extra.take();
        extra.get_or_insert_with(Default::default).param = param;
        self.0.extra.set(extra);
    }

    /// The op parameter (leaky ReLU's slope); 0.0 when the op has none.
    pub fn param(&self) -> f64 {
        self.0.param()
    }

    /// Whether two handles name the same node.
    #[inline]
    pub fn ptr_eq(&self, other: &Value) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// A number that identifies the node while it lives (its address).
    #[inline]
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value(data={:?}, grad={:?}", self.data(), self.grad())?;
        let label = self.label();
        if !label.is_empty() {
            write!(f, ", label={label:?}")?;
        }
        write!(f, ")")
    }
}

// ---------------------------------------------------------------------------------------------
// The graph's side of the op table (`ops.rs`): each op's entry with its backward as a plain
// function pointer over nodes, and the `Value` method that computes the forward value and
// links a node.
// ---------------------------------------------------------------------------------------------

/// An op's table entry, as a node points to it.
pub struct Op {
    /// Stable short name, the same in both engines: "+", "*", "tanh", ...
    pub name: &'static str,
    /// The op's tag, as in [`crate::OP_TABLE`].
    pub code: Code,
    /// Adds this node's contribution to its operands' grads.
    pub backward: fn(&Node),
}

/// A leaf (an input or a constant) has nothing to propagate to.
pub static LEAF: Op = Op {
    name: "",
    code: Code::Leaf,
    backward: |_| {},
};

macro_rules! graph_ops {
    (
        extra {}
        binary { $(
            $(#[$bdoc:meta])*
            $bcode:literal $BCode:ident $bmodule:ident $BOP:ident $bname:literal
                $(alias $balias:ident)*
                forward |$fx:ident, $fy:ident| $bforward:expr,
                backward |$bx:ident, $by:ident, $bz:ident, $bg:ident| $bbackward:expr;
        )* }
        unary { $(
            $(#[$udoc:meta])*
            $ucode:literal $UCode:ident $umodule:ident $UOP:ident $uname:literal
                $(alias $ualias:ident)*
                forward |$ux:ident, $up:ident| $uforward:expr,
                backward |$x:ident, $z:ident, $g:ident, $p:ident| $ubackward:expr;
        )* }
        operator { $(
            $(#[$odoc:meta])*
            $ocode:literal $OCode:ident $omodule:ident $OOP:ident $oname:literal
                $(alias $oalias:ident)*
                forward |$ox:ident, $op:ident| $oforward:expr,
                backward |$obx:ident, $obz:ident, $obg:ident, $obp:ident| $obackward:expr;
        )* }
        param { $(
            $(#[$pdoc:meta])*
            $pcode:literal $PCode:ident $pmodule:ident $POP:ident $pname:literal
                $(alias $palias:ident)*
                forward |$px:ident, $pp:ident| $pforward:expr,
                backward |$pbx:ident, $pbz:ident, $pbg:ident, $pbp:ident| $pbackward:expr;
        )* }
        binary_method { $(
            $(#[$mdoc:meta])*
            $mcode:literal $MCode:ident $mmodule:ident $MOP:ident $mname:literal
                $(alias $malias:ident)*
                forward |$mfx:ident, $mfy:ident| $mforward:expr,
                backward |$mbx:ident, $mby:ident, $mbz:ident, $mbg:ident| $mbackward:expr;
        )* }
    ) => {
        $(
            pub static $BOP: Op = binary_op!($bname, $BCode, $bmodule);
        )*
        $(
            pub static $MOP: Op = binary_op!($mname, $MCode, $mmodule);
        )*
        $(
            pub static $UOP: Op = unary_op!($uname, $UCode, $umodule);
        )*
        $(
            pub static $OOP: Op = unary_op!($oname, $OCode, $omodule);
        )*
        $(
            pub static $POP: Op = unary_op!($pname, $PCode, $pmodule);
        )*

        /// Every op, indexed by `Code as usize`: a node keeps only that index.
        pub(crate) static OPS: [&Op; N_CODES] = {
            let mut ops = [&LEAF; N_CODES];
            ops[Code::Sum as usize] = &SUM;
            ops[Code::Dot as usize] = &DOT;
            ops[Code::Custom as usize] = &crate::custom::CUSTOM;
            $(ops[Code::$BCode as usize] = &$BOP;)*
            $(ops[Code::$UCode as usize] = &$UOP;)*
            $(ops[Code::$OCode as usize] = &$OOP;)*
            $(ops[Code::$PCode as usize] = &$POP;)*
            $(ops[Code::$MCode as usize] = &$MOP;)*
            ops
        };

        impl Value {
            $(
                #[doc = concat!("A new node: `self ", $bname, " other`.")]
                $(#[$bdoc])*
                pub fn $bmodule(&self, other: &Value) -> Value {
                    let data = crate::ops::$bmodule::forward(self.data(), other.data());
                    Value::from_op(&$BOP, data, Operands::Two([self.clone(), other.clone()]))
                }
            )*
            $(
                #[doc = concat!("A new node: the op `", $uname, "` of this one.")]
                $(#[$udoc])*
                pub fn $umodule(&self) -> Value {
                    let data = crate::ops::$umodule::forward(self.data(), 0.0);
                    Value::from_op(&$UOP, data, Operands::One([self.clone()]))
                }
            )*
            $(
                #[doc = concat!("A new node: the op `", $oname, "` of this one.")]
                $(#[$odoc])*
                pub fn $omodule(&self) -> Value {
                    let data = crate::ops::$omodule::forward(self.data(), 0.0);
                    Value::from_op(&$OOP, data, Operands::One([self.clone()]))
                }
            )*
            $(
                #[doc = concat!("A new node: the op `", $mname, "` of this one and `other`.")]
                $(#[$mdoc])*
                pub fn $mmodule(&self, other: &Value) -> Value {
                    let data = crate::ops::$mmodule::forward(self.data(), other.data());
                    Value::from_op(&$MOP, data, Operands::Two([self.clone(), other.clone()]))
                }
            )*
        }
    };
}

/// The entry of a binary op whose formulas are `crate::ops::$module`.
macro_rules! binary_op {
    ($name:literal, $Code:ident, $module:ident) => {
        Op {
            name: $name,
            code: Code::$Code,
            backward: |node| binary_backward(node, crate::ops::$module::backward::<f64>),
        }
    };
}

/// The entry of a unary op whose formulas are `crate::ops::$module`.
macro_rules! unary_op {
    ($name:literal, $Code:ident, $module:ident) => {
        Op {
            name: $name,
            code: Code::$Code,
            backward: |node| {
                let x = node.children[0].node();
                let dx =
                    crate::ops::$module::backward(x.data(), node.data(), node.grad(), node.param());
                x.add_grad(dx);
            },
        }
    };
}

with_op_list!(graph_ops);

impl Value {
    /// A new node: this one bounded below by `lo` and above by `hi` (either may be absent),
    /// as `clamp_min(lo)` then `clamp_max(hi)`, so the gradient reaches `self` where
    /// `lo <= self <= hi`. With neither bound, this node itself.
    pub fn clamp(&self, lo: Option<&Value>, hi: Option<&Value>) -> Value {
        let z = lo.map_or_else(|| self.clone(), |lo| self.clamp_min(lo));
        hi.map_or(z.clone(), |hi| z.clamp_max(hi))
    }

    /// A new node: the logarithm to the base `base`, `ln(self) / ln(base)`.
    pub fn log_base(&self, base: &Value) -> Value {
        self.log().div(&base.log())
    }
}

/// `x0 + x1 + …`, left to right from 0; backward: every `xi += g`.
pub static SUM: Op = Op {
    name: "sum",
    code: Code::Sum,
    backward: |z| {
        let g = z.grad();
        for x in z.children() {
            x.node().add_grad(g);
        }
    },
};

/// `w0·x0 + w1·x1 + …`, operands `w0 … wn-1, x0 … xn-1`; backward: `wi += xi · g`,
/// `xi += wi · g`.
pub static DOT: Op = Op {
    name: "dot",
    code: Code::Dot,
    backward: |z| {
        let g = z.grad();
        let operands = z.children();
        let (ws, xs) = operands.split_at(operands.len() / 2);
        for (w, x) in ws.iter().zip(xs) {
            let (w, x) = (w.node(), x.node());
            let (dw, dx) = dot::backward(w.data(), x.data(), g);
            w.add_grad(dw);
            x.add_grad(dx);
        }
    },
};

/// Every op's entry by code, for rebuilding nodes from a tag.
#[inline]
pub fn op_for(code: Code) -> &'static Op {
    OPS[code as usize]
}

/// A binary op's backward over `z`'s operands: both get their increments, or only the one that
/// is a node when the other is a plain number (whose increment is never added anywhere).
#[inline(always)]
fn binary_backward(z: &Node, backward: fn(f64, f64, f64, f64) -> (f64, f64)) {
    let (out, g) = (z.data(), z.grad());
    match &z.children {
        Operands::Two([x, y]) => {
            let (x, y) = (x.node(), y.node());
            let (dx, dy) = backward(x.data(), y.data(), out, g);
            x.add_grad(dx);
            y.add_grad(dy);
        }
        Operands::ConstRight([x], k) => {
            let x = x.node();
            x.add_grad(backward(x.data(), *k, out, g).0);
        }
        Operands::ConstLeft(k, [y]) => {
            let y = y.node();
            y.add_grad(backward(*k, y.data(), out, g).1);
        }
        Operands::Leaf | Operands::One(_) | Operands::Many(_) => {
            unreachable!("a binary op's node has two operands")
        }
    }
}

/// Which operand of a binary op is a plain number, in [`Value::with_scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `k op x`: the number is the first operand.
    Left,
    /// `x op k`: the number is the second operand.
    Right,
}

impl Value {
    /// `self ** exponent` for a number exponent, kept in the node (see [`Value::with_scalar`]).
    pub fn powf(&self, exponent: f64) -> Value {
        self.with_scalar(Code::Pow, exponent, Side::Right)
    }

    /// The binary op `code` with a plain number `k` as one operand: `self op k` when `side` is
    /// [`Side::Right`], `k op self` when it is [`Side::Left`]. The number is kept in the node,
    /// not in a leaf node of its own, so `x * 0.9` is one node, not two; it gets no adjoint,
    /// and `self`'s is what `self op Value::new(k)` would give it, bit for bit.
    /// [`Value::children`] shows the number as a fresh leaf.
    ///
    /// # Panics
    ///
    /// If `code` is not a binary op (one of arity 2 in [`crate::OP_TABLE`]).
    pub fn with_scalar(&self, code: Code, k: f64, side: Side) -> Value {
        assert!(
            code.arity() == Some(2),
            "with_scalar() needs a binary op, got {code:?}"
        );
        let op = op_for(code);
        let x = [self.clone()];
        let (data, prev) = match side {
            Side::Right => (
                binary_forward(code, self.data(), k),
                Operands::ConstRight(x, k),
            ),
            Side::Left => (
                binary_forward(code, k, self.data()),
                Operands::ConstLeft(k, x),
            ),
        };
        Value::from_op(op, data, prev)
    }

    /// Where this node keeps a plain-number operand, and the number: `None` for a node whose
    /// operands are all nodes.
    pub fn scalar_operand(&self) -> Option<(Side, f64)> {
        self.0.scalar_operand()
    }

    /// `self` where positive, else `slope · self`. The slope must be finite and >= 0.
    pub fn leaky_relu(&self, slope: f64) -> Result<Value, OpError> {
        let slope = check_slope(slope)?;
        let data = crate::ops::leaky_relu::forward(self.data(), slope);
        let z = Value::from_op(&LEAKY_RELU, data, Operands::One([self.clone()]));
        z.set_param(slope);
        Ok(z)
    }

    /// `x0 + x1 + …` as one node, summed left to right from 0.0.
    pub fn sum(values: &[Value]) -> Value {
        Self::sum_owned(values.to_vec())
    }

    /// [`Value::sum`] over operands the caller already owns (no second copy of the handles).
    pub fn sum_owned(values: Vec<Value>) -> Value {
        let data = sum::forward(values.iter().map(Value::data));
        Value::from_op(&SUM, data, Operands::from_vec(values))
    }

    /// `w0·x0 + w1·x1 + …` as one node, summed left to right from 0.0.
    pub fn dot(ws: &[Value], xs: &[Value]) -> Result<Value, OpError> {
        if ws.len() != xs.len() {
            return Err(OpError::LengthMismatch {
                left: ws.len(),
                right: xs.len(),
            });
        }
        let mut operands = Vec::with_capacity(ws.len() + xs.len());
        operands.extend_from_slice(ws);
        operands.extend_from_slice(xs);
        Self::dot_owned(operands, ws.len())
    }

    /// [`Value::dot`] over operands the caller already owns, laid out as the node keeps them:
    /// the first `n` are the `w`s, the rest the `x`s (there must be `n` of those too).
    pub fn dot_owned(operands: Vec<Value>, n: usize) -> Result<Value, OpError> {
        if operands.len() != 2 * n {
            return Err(OpError::LengthMismatch {
                left: n,
                right: operands.len().saturating_sub(n),
            });
        }
        let (ws, xs) = operands.split_at(n);
        let data = dot::forward(ws.iter().zip(xs).map(|(w, x)| (w.data(), x.data())));
        Ok(Value::from_op(&DOT, data, Operands::from_vec(operands)))
    }
}

/// Unlinks a dying node's operands without recursion: an operand this node owned alone is
/// emptied before it is dropped, so freeing a chain of ten million nodes is a loop, not ten
/// million nested drops. A chain needs no heap; only a node with several sole-owned operands
/// parks the extra ones in `pending`.
impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.children, Operands::Leaf) {
            return;
        }
        let mut pending: Vec<Value> = Vec::new();
        let mut next = take_sole_children(&mut self.children, &mut pending);
        while let Some(mut value) = next.take().or_else(|| pending.pop()) {
            if let Some(node) = Rc::get_mut(&mut value.0) {
                next = take_sole_children(&mut node.children, &mut pending);
            }
            // `value` is dropped here with no operands left to recurse into.
        }
    }
}

/// Empties `children`. Operands that others still hold are released at once (a count decrement);
/// those only `children` held are returned (the first) or parked in `pending` (the rest).
fn take_sole_children(children: &mut Operands, pending: &mut Vec<Value>) -> Option<Value> {
    let mut first = None;
    let mut keep = |mut value: Value| {
        if Rc::get_mut(&mut value.0).is_some() {
            if first.is_none() {
                first = Some(value);
            } else {
                pending.push(value);
            }
        }
    };
    match std::mem::replace(children, Operands::Leaf) {
        Operands::Leaf => {}
        Operands::One([x]) => keep(x),
        Operands::Two([x, y]) => {
            keep(x);
            keep(y);
        }
        Operands::Many(values) => values.into_vec().into_iter().for_each(keep),
        Operands::ConstRight([x], _) | Operands::ConstLeft(_, [x]) => keep(x),
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stays_small() {
        // Rc's two counts (16 bytes) + the node must fit malloc's 80-byte chunk (72 bytes of
        // payload with its 8-byte header), well under the 100 bytes per node aimed for.
        let node = std::mem::size_of::<Node>();
        assert!(node + 16 <= 72, "Node is {node} bytes");
    }

    #[test]
    fn cells_save_the_borrow_flag_of_the_seeds_refcell() {
        // The seeds' shape: the same fields, plain, behind `Rc<RefCell<_>>`. `Cell<T>` is as
        // big as `T`, so the whole difference is `RefCell`'s borrow flag, the 8 bytes that
        // docs/ops.md and the README cite.
        #[allow(dead_code)]
        struct SeedNode {
            data: f64,
            grad: f64,
            tag: u64,
            prev: Operands,
            extra: Option<Box<Extra>>,
        }
        use std::cell::RefCell;
        use std::mem::size_of;
        assert_eq!(size_of::<SeedNode>(), size_of::<Node>());
        assert_eq!(
            size_of::<RefCell<SeedNode>>(),
            size_of::<Node>() + 8,
            "RefCell adds its borrow flag"
        );
        // With Rc's two counts: 72 bytes against 80, which glibc's malloc serves from chunks of
        // 80 and 96 bytes (payload + 8, rounded up to 16).
        assert_eq!(16 + size_of::<Node>(), 72);
        assert_eq!(16 + size_of::<RefCell<SeedNode>>(), 80);
    }

    #[test]
    fn operands_keep_their_order() {
        let (a, b) = (Value::new(1.0), Value::new(2.0));
        let c = b.sub(&a);
        let kids = c.children();
        assert!(kids[0].ptr_eq(&b) && kids[1].ptr_eq(&a));
        assert_eq!(c.data(), 1.0);
    }

    #[test]
    fn labels_are_stored_only_when_set() {
        let a = Value::new(1.0);
        assert_eq!(a.label(), "");
        assert!(a.node().extra().is_none());
        a.set_label("a");
        assert_eq!(a.label(), "a");
        assert_eq!(format!("{a:?}"), "Value(data=1.0, grad=0.0, label=\"a\")");
    }
}
