//! A graph as bytes and back, for pickling: every node reachable from a root, operands first,
//! with its op, data, grad, parameter and label. Sharing inside the graph is kept.
//!
//! Two versions, one layout. `FGV1`: each operand is the index of an earlier node. `FGV2`, written
//! only for a graph with a plain-number operand kept in a node (`x + 2.0`): an operand index of
//! `SCALAR` stands for that number, which the node's parameter field holds. A graph without one
//! is written as `FGV1`, the bytes earlier builds wrote and read; both versions read back.

use std::collections::HashMap;

use crate::custom::Custom;
use crate::ops::{check_slope, Code};
use crate::value::op_for;
use crate::value::{Operands, Side, Value};

const MAGIC: &[u8; 4] = b"FGV1";
const MAGIC_V2: &[u8; 4] = b"FGV2";
/// The operand index that stands for a node's plain-number operand (in `FGV2`).
const SCALAR: u32 = u32::MAX;

/// Why bytes could not be read back into a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptGraph(pub &'static str);

impl std::fmt::Display for CorruptGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a serialised ferrograd graph: {}", self.0)
    }
}

impl std::error::Error for CorruptGraph {}

/// A graph the byte format cannot hold: a label, an operand list or a node count past what its
/// 32-bit length fields store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTooLarge {
    /// What overflowed its length field: "label", "operands" or "nodes".
    pub what: &'static str,
    /// Its length.
    pub len: usize,
}

impl std::fmt::Display for GraphTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot serialise a graph: {} is {}, more than the format's {}",
            self.what,
            self.len,
            u32::MAX
        )
    }
}

impl std::error::Error for GraphTooLarge {}

/// `len` as the format's u32 length field, or the error naming what is too long.
fn length_field(len: usize, what: &'static str) -> Result<[u8; 4], GraphTooLarge> {
    u32::try_from(len)
        .map(u32::to_le_bytes)
        .map_err(|_| GraphTooLarge { what, len })
}

impl Value {
    /// The graph of this node as bytes (see `from_bytes`); an error where a label, an operand
    /// list or the node count exceeds the format's 32-bit lengths.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GraphTooLarge> {
        let order = self.topo_order();
        length_field(order.len(), "the node count")?;
        let index: HashMap<usize, u32> = order
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id(), i as u32))
            .collect();
        let mut out = MAGIC.to_vec();
        let mut v2 = false;
        out.extend_from_slice(&(order.len() as u64).to_le_bytes());
        for v in &order {
            let node = v.node();
            let code = node.op().code as u8;
            out.push(code);
            let scalar = node.scalar_operand();
            let param = scalar.map_or(node.param(), |(_, k)| k);
            for x in [node.data(), node.grad(), param] {
                out.extend_from_slice(&x.to_le_bytes());
            }
            let label = node.label();
            out.extend_from_slice(&length_field(label.len(), "a label's length in bytes")?);
            out.extend_from_slice(label.as_bytes());
            let operands: Vec<u32> = node.children().iter().map(|o| index[&o.id()]).collect();
            let operands = match scalar {
                None => operands,
                Some((side, _)) => {
                    v2 = true;
                    match side {
                        Side::Left => vec![SCALAR, operands[0]],
                        Side::Right => vec![operands[0], SCALAR],
                    }
                }
            };
            out.extend_from_slice(&length_field(operands.len(), "an operand count")?);
            for i in operands {
                out.extend_from_slice(&i.to_le_bytes());
            }
        }
        if v2 {
            out[..4].copy_from_slice(MAGIC_V2);
        }
        Ok(out)
    }

    /// Rebuilds a graph written by `to_bytes` and returns its root (the last node).
    pub fn from_bytes(bytes: &[u8]) -> Result<Value, CorruptGraph> {
        Value::from_bytes_with(bytes, Vec::new())
    }

    /// `from_bytes` of a graph with custom op nodes: `customs` gives each its op and partials,
    /// in the order of [`Value::customs`] (the bytes hold only their operands and values).
    pub fn from_bytes_with(bytes: &[u8], customs: Vec<Custom>) -> Result<Value, CorruptGraph> {
        let mut customs = customs.into_iter();
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], CorruptGraph> {
            let end = at
                .checked_add(n)
                .filter(|&e| e <= bytes.len())
                .ok_or(CorruptGraph("truncated"))?;
            let out = &bytes[at..end];
            at = end;
            Ok(out)
        };
        let v2 = match take(4)? {
            m if m == MAGIC => false,
            m if m == MAGIC_V2 => true,
            _ => return Err(CorruptGraph("bad header")),
        };
        let count = u64::from_le_bytes(take(8)?.try_into().unwrap()) as usize;
        let mut nodes: Vec<Value> = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let code =
                Code::from_index(u64::from(take(1)?[0])).ok_or(CorruptGraph("unknown op"))?;
            let mut f = [0.0; 3];
            for x in &mut f {
                *x = f64::from_le_bytes(take(8)?.try_into().unwrap());
            }
            let label_len = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
            let label = std::str::from_utf8(take(label_len)?)
                .map_err(|_| CorruptGraph("label is not UTF-8"))?
                .to_owned();
            let n = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
            let ok = match code.arity() {
                Some(k) => n == k,
                None => matches!(code, Code::Sum | Code::Custom) || n.is_multiple_of(2),
            };
            if !ok {
                return Err(CorruptGraph("wrong number of operands"));
            }
            let mut operands = Vec::with_capacity(n.min(1 << 20));
            let mut scalar = None;
            for j in 0..n {
                let i = u32::from_le_bytes(take(4)?.try_into().unwrap());
                if v2 && i == SCALAR {
                    if code.arity() != Some(2) || scalar.is_some() {
                        return Err(CorruptGraph("a plain-number operand where none can be"));
                    }
                    scalar = Some(if j == 0 { Side::Left } else { Side::Right });
                    continue;
                }
                let i = i as usize;
                operands.push(
                    nodes
                        .get(i)
                        .cloned()
                        .ok_or(CorruptGraph("operand after its user"))?,
                );
            }
            let children = if let Some(side) = scalar {
                let x = [operands.pop().expect("a binary op's other operand")];
                match side {
                    Side::Left => Operands::ConstLeft(f[2], x),
                    Side::Right => Operands::ConstRight(x, f[2]),
                }
            } else if operands.is_empty() && code == Code::Leaf {
                Operands::Leaf
            } else {
                Operands::from_vec(operands)
            };
            let v = Value::from_op(op_for(code), f[0], children);
            if code == Code::Custom {
                let custom = customs
                    .next()
                    .ok_or(CorruptGraph("a custom op's node without its op"))?;
                if custom.partials.len() != v.node().children().len() {
                    return Err(CorruptGraph(
                        "a custom op's partials do not match its operands",
                    ));
                }
                v.set_custom(custom);
            }
            v.set_grad(f[1]);
            if code == Code::LeakyRelu {
                v.set_param(check_slope(f[2]).map_err(|_| CorruptGraph("bad leaky_relu slope"))?);
            }
            v.set_label(&label);
            nodes.push(v);
        }
        if at != bytes.len() {
            return Err(CorruptGraph("trailing bytes"));
        }
        if customs.next().is_some() {
            return Err(CorruptGraph("more custom ops than custom op nodes"));
        }
        nodes.pop().ok_or(CorruptGraph("empty graph"))
    }
}

#[cfg(test)]
mod tests {
    use crate::Value;

    #[test]
    fn graph_round_trips_with_sharing_grads_and_labels() {
        let a = Value::with_label(2.0, "a");
        let b = Value::new(-3.0);
        let c = (&a * &b + &a).leaky_relu(0.3).unwrap()
            + Value::dot(std::slice::from_ref(&a), std::slice::from_ref(&b)).unwrap();
        c.backward();
        let copy = Value::from_bytes(&c.to_bytes().unwrap()).unwrap();
        let (before, after) = (c.topo_order(), copy.topo_order());
        assert_eq!(before.len(), after.len());
        for (x, y) in before.iter().zip(&after) {
            assert_eq!(
                (x.op(), x.data(), x.grad(), x.label(), x.param()),
                (y.op(), y.data(), y.grad(), y.label(), y.param())
            );
        }
        // The copy is a live graph: backward works and doubles the grads.
        copy.backward();
        let a2 = after.iter().find(|v| v.label() == "a").unwrap();
        assert_eq!(a2.grad(), 2.0 * a.grad());
    }

    /// `bytes` with every copy of `from`'s eight bytes replaced by `to`'s.
    fn replace_f64(bytes: &[u8], from: f64, to: f64) -> Vec<u8> {
        let (from, to) = (from.to_le_bytes(), to.to_le_bytes());
        let mut out = bytes.to_vec();
        let mut i = 0;
        while i + 8 <= out.len() {
            if out[i..i + 8] == from {
                out[i..i + 8].copy_from_slice(&to);
                i += 8;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn a_slope_leaky_relu_would_refuse_is_refused_when_read_back() {
        let c = Value::new(-2.0).leaky_relu(0.375).unwrap();
        let bytes = c.to_bytes().unwrap();
        assert!(Value::from_bytes(&bytes).is_ok());
        for bad in [-3.0, f64::NAN, f64::INFINITY] {
            let err = Value::from_bytes(&replace_f64(&bytes, 0.375, bad)).err();
            assert_eq!(
                err.map(|e| e.0),
                Some("bad leaky_relu slope"),
                "slope {bad}"
            );
        }
    }

    #[test]
    fn lengths_past_u32_are_refused_not_truncated() {
        use super::{length_field, GraphTooLarge};
        assert_eq!(length_field(7, "x"), Ok(7u32.to_le_bytes()));
        assert_eq!(
            length_field(u32::MAX as usize, "x"),
            Ok(u32::MAX.to_le_bytes())
        );
        let big = u32::MAX as usize + 1;
        let err = length_field(big, "a label's length in bytes").unwrap_err();
        assert_eq!(
            err,
            GraphTooLarge {
                what: "a label's length in bytes",
                len: big
            }
        );
        assert_eq!(
            err.to_string(),
            "cannot serialise a graph: a label's length in bytes is 4294967296, \
             more than the format's 4294967295"
        );
    }

    #[test]
    fn garbage_is_refused() {
        let c = Value::new(1.0).exp();
        let bytes = c.to_bytes().unwrap();
        assert!(Value::from_bytes(&bytes[..bytes.len() - 2]).is_err());
        assert!(Value::from_bytes(b"FGV1").is_err());
        let mut bad = bytes.clone();
        bad[12] = 200;
        assert!(Value::from_bytes(&bad).is_err());
    }
}
