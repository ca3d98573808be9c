//! A node of the expression graph and `Value`, the shared handle to one.

use std::cell::{Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;

use crate::ops::{Op, LEAF};

/// One scalar in the graph: its value, its adjoint, the op that made it and that op's operands.
pub struct Node {
    pub data: f64,
    pub grad: f64,
    /// The op's table entry: its name and its backward function.
    pub op: &'static Op,
    /// The operands, in operand order.
    pub prev: Operands,
    /// The number of the last topological sort that reached this node (see `backward.rs`).
    pub(crate) mark: u64,
    /// What only a few nodes carry: a label, an op parameter such as leaky ReLU's slope.
    pub(crate) extra: Option<Box<Extra>>,
}

#[derive(Default)]
pub struct Extra {
    pub label: String,
    pub param: f64,
}

/// Operands stored inline for the common one- and two-operand ops.
pub enum Operands {
    Leaf,
    One([Value; 1]),
    Two([Value; 2]),
    Many(Box<[Value]>),
}

impl Operands {
    #[inline]
    pub fn as_slice(&self) -> &[Value] {
        match self {
            Operands::Leaf => &[],
            Operands::One(v) => v,
            Operands::Two(v) => v,
            Operands::Many(v) => v,
        }
    }

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
    /// The op parameter (leaky ReLU's slope); 0.0 when the op has none.
    #[inline]
    pub fn param(&self) -> f64 {
        self.extra.as_ref().map_or(0.0, |e| e.param)
    }
}

/// A shared handle to a node. Cloning it is cheap and gives another handle to the same node.
#[derive(Clone)]
pub struct Value(pub(crate) Rc<RefCell<Node>>);

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

    /// A node made by `op` from `prev`, whose forward value is `data`.
    #[inline]
    pub(crate) fn from_op(op: &'static Op, data: f64, prev: Operands) -> Value {
        Value(Rc::new(RefCell::new(Node {
            data,
            grad: 0.0,
            op,
            prev,
            mark: 0,
            extra: None,
        })))
    }

    #[inline]
    pub fn borrow(&self) -> Ref<'_, Node> {
        self.0.borrow()
    }

    #[inline]
    pub fn borrow_mut(&self) -> RefMut<'_, Node> {
        self.0.borrow_mut()
    }

    #[inline]
    pub fn data(&self) -> f64 {
        self.0.borrow().data
    }

    #[inline]
    pub fn grad(&self) -> f64 {
        self.0.borrow().grad
    }

    pub fn set_data(&self, data: f64) {
        self.0.borrow_mut().data = data;
    }

    pub fn set_grad(&self, grad: f64) {
        self.0.borrow_mut().grad = grad;
    }

    /// The op's name: "" for a leaf, else "+", "*", "tanh", ... (see `ops.rs`).
    pub fn op(&self) -> &'static str {
        self.0.borrow().op.name
    }

    /// The operands, in operand order (`a * a` has two).
    pub fn children(&self) -> Vec<Value> {
        self.0.borrow().prev.as_slice().to_vec()
    }

    /// The label, "" when none was set.
    pub fn label(&self) -> String {
        self.0
            .borrow()
            .extra
            .as_ref()
            .map_or_else(String::new, |e| e.label.clone())
    }

    pub fn set_label(&self, label: &str) {
        let mut node = self.0.borrow_mut();
        if label.is_empty() && node.extra.is_none() {
            return;
        }
        node.extra.get_or_insert_with(Default::default).label = label.to_owned();
    }

    pub(crate) fn set_param(&self, param: f64) {
        self.0
            .borrow_mut()
            .extra
            .get_or_insert_with(Default::default)
            .param = param;
    }

    /// The op parameter (leaky ReLU's slope); 0.0 when the op has none.
    pub fn param(&self) -> f64 {
        self.0.borrow().param()
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
        let node = self.0.borrow();
        write!(f, "Value(data={:?}, grad={:?}", node.data, node.grad)?;
        if let Some(extra) = &node.extra {
            if !extra.label.is_empty() {
                write!(f, ", label={:?}", extra.label)?;
            }
        }
        write!(f, ")")
    }
}

/// Unlinks a dying node's operands without recursion: an operand this node owned alone is
/// emptied before it is dropped, so freeing a chain of ten million nodes is a loop, not ten
/// million nested drops. A chain needs no heap; only a node with several sole-owned operands
/// parks the extra ones in `pending`.
impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.prev, Operands::Leaf) {
            return;
        }
        let mut pending: Vec<Value> = Vec::new();
        let mut next = take_sole_operands(&mut self.prev, &mut pending);
        while let Some(mut value) = next.take().or_else(|| pending.pop()) {
            if let Some(cell) = Rc::get_mut(&mut value.0) {
                next = take_sole_operands(&mut cell.get_mut().prev, &mut pending);
            }
            // `value` is dropped here with no operands left to recurse into.
        }
    }
}

/// Empties `prev`. Operands that others still hold are released at once (a count decrement);
/// those only `prev` held are returned (the first) or parked in `pending` (the rest).
fn take_sole_operands(prev: &mut Operands, pending: &mut Vec<Value>) -> Option<Value> {
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
    match std::mem::replace(prev, Operands::Leaf) {
        Operands::Leaf => {}
        Operands::One([x]) => keep(x),
        Operands::Two([x, y]) => {
            keep(x);
            keep(y);
        }
        Operands::Many(values) => values.into_vec().into_iter().for_each(keep),
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stays_small() {
        // Rc's two counts (16 bytes) + this + malloc's 8-byte header must stay under 100 bytes.
        let cell = std::mem::size_of::<RefCell<Node>>();
        assert!(cell + 16 + 8 <= 96, "RefCell<Node> is {cell} bytes");
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
        assert!(a.borrow().extra.is_none());
        a.set_label("a");
        assert_eq!(a.label(), "a");
        assert_eq!(format!("{a:?}"), "Value(data=1.0, grad=0.0, label=\"a\")");
    }
}
