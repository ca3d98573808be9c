//! A dense layer of neurons built as graph nodes in one call: for each row `i` of weights, the
//! nodes `dot(weights[i], xs)`, `+ biases[i]` and, where `nonlins[i]`, `relu`, the very graph a
//! neuron builds one op at a time.

use crate::ops::OpError;
use crate::value::Value;

/// Why a dense layer could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum DenseError {
    /// The rows of weights, the biases and the nonlin flags are not equally many.
    Rows {
        /// How many rows of weights.
        weights: usize,
        /// How many biases.
        biases: usize,
        /// How many nonlin flags.
        nonlins: usize,
    },
    /// A row of weights and the inputs differ in length.
    Op(OpError),
}

impl std::fmt::Display for DenseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DenseError::Rows { .. } => {
                f.write_str("dense() needs one bias and one nonlin flag per row of weights")
            }
            DenseError::Op(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for DenseError {}

impl From<OpError> for DenseError {
    fn from(err: OpError) -> DenseError {
        DenseError::Op(err)
    }
}

impl Value {
    /// One dense layer over the inputs `xs`: for row `i`, `dot(weights[i], xs) + biases[i]`,
    /// then `relu` where `nonlins[i]`. `check` sees every new node as it is made (the dot, the
    /// sum, the relu of row 0, then row 1's, ...), so a caller can stop at the first one it
    /// refuses (anomaly mode does). Each row of `weights` becomes its dot's operands, the
    /// inputs appended to it, so a row given with room for `xs.len()` more is not copied.
    pub fn dense<E: From<DenseError>>(
        weights: Vec<Vec<Value>>,
        biases: &[Value],
        nonlins: &[bool],
        xs: &[Value],
        mut check: impl FnMut(&Value) -> Result<(), E>,
    ) -> Result<Vec<Value>, E> {
        if weights.len() != biases.len() || weights.len() != nonlins.len() {
            return Err(DenseError::Rows {
                weights: weights.len(),
                biases: biases.len(),
                nonlins: nonlins.len(),
            }
            .into());
        }
        let mut out = Vec::with_capacity(weights.len());
        for ((row, b), &nonlin) in weights.into_iter().zip(biases).zip(nonlins) {
            out.push(Value::neuron(row, xs, b, nonlin, &mut check)?);
        }
        Ok(out)
    }

    /// One row of `dense`: `dot(row, xs) + b`, then `relu` when `nonlin`, each new node shown
    /// to `check`. The inputs are appended to `row` (the dot's operands), so a row given with
    /// room for `xs.len()` more is not copied.
    pub fn neuron<E: From<DenseError>>(
        mut row: Vec<Value>,
        xs: &[Value],
        b: &Value,
        nonlin: bool,
        mut check: impl FnMut(&Value) -> Result<(), E>,
    ) -> Result<Value, E> {
        let n = row.len();
        row.extend_from_slice(xs);
        let dot = Value::dot_owned(row, n).map_err(DenseError::from)?;
        check(&dot)?;
        let affine = dot.add(b);
        check(&affine)?;
        Ok(if nonlin {
            let z = affine.relu();
            check(&z)?;
            z
        } else {
            affine
        })
    }
}

#[cfg(test)]
mod tests {
    use super::DenseError;
    use crate::ops::OpError;
    use crate::Value;

    fn leaves(data: &[f64]) -> Vec<Value> {
        data.iter().map(|&d| Value::new(d)).collect()
    }

    #[test]
    fn builds_the_graph_of_neurons_op_by_op_with_the_same_gradients() {
        let weights = vec![
            leaves(&[0.5, -1.0]),
            leaves(&[2.0, 0.25]),
            leaves(&[-3.0, 1.5]),
        ];
        let biases = leaves(&[0.1, -0.2, 0.3]);
        let nonlins = [true, false, true];
        let xs = leaves(&[0.7, -1.3]);
        let fast = Value::dense::<DenseError>(weights.clone(), &biases, &nonlins, &xs, |_| Ok(()))
            .unwrap();
        let slow: Vec<Value> = (0..3)
            .map(|i| {
                let affine = Value::dot(&weights[i], &xs).unwrap().add(&biases[i]);
                if nonlins[i] {
                    affine.relu()
                } else {
                    affine
                }
            })
            .collect();
        let ops = |vs: &[Value]| vs.iter().map(Value::op).collect::<Vec<_>>();
        assert_eq!(ops(&fast), ["relu", "+", "relu"]);
        assert_eq!(ops(&fast), ops(&slow));
        let data = |vs: &[Value]| vs.iter().map(Value::data).collect::<Vec<_>>();
        assert_eq!(data(&fast), data(&slow));
        let params: Vec<Value> = weights
            .iter()
            .flatten()
            .chain(&biases)
            .chain(&xs)
            .cloned()
            .collect();
        let grads = |root: &Value| {
            params.iter().for_each(|p| p.set_grad(0.0));
            root.backward();
            params.iter().map(Value::grad).collect::<Vec<_>>()
        };
        let (fast_sum, slow_sum) = (Value::sum(&fast), Value::sum(&slow));
        let fast_grads = grads(&fast_sum);
        assert_eq!(fast_grads, grads(&slow_sum));
        // The gradient of a weight is its input where the row is live: row 1 has no relu.
        assert_eq!(fast_grads[2], xs[0].data());
    }

    #[test]
    fn check_sees_each_new_node_in_order_and_stops_the_build() {
        let weights = vec![leaves(&[1.0]), leaves(&[2.0])];
        let (biases, xs) = (leaves(&[0.0, 0.0]), leaves(&[3.0]));
        let mut seen = Vec::new();
        let out = Value::dense::<DenseError>(weights.clone(), &biases, &[true, false], &xs, |v| {
            seen.push(v.op());
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(seen, ["dot", "+", "relu", "dot", "+"]);
        let mut calls = 0;
        let refused = Value::dense(weights.clone(), &biases, &[true, true], &xs, |v| {
            calls += 1;
            if v.op() == "+" {
                Err(DenseError::Op(OpError::BadSlope(v.data())))
            } else {
                Ok(())
            }
        });
        assert_eq!(refused.err(), Some(DenseError::Op(OpError::BadSlope(3.0))));
        assert_eq!(calls, 2);
    }

    #[test]
    fn refuses_rows_that_do_not_match() {
        let w = leaves(&[1.0, 2.0]);
        let b = leaves(&[0.0]);
        let none = |_: &Value| Ok::<(), DenseError>(());
        let short = Value::dense(vec![w.clone()], &b, &[true], &leaves(&[1.0]), none);
        assert_eq!(
            short.err(),
            Some(DenseError::Op(OpError::LengthMismatch {
                left: 2,
                right: 1
            }))
        );
        let xs = leaves(&[1.0, 2.0]);
        let rows = Value::dense(vec![w.clone(), w.clone()], &b, &[true, true], &xs, none);
        let rows = rows.err().unwrap();
        assert_eq!(
            rows,
            DenseError::Rows {
                weights: 2,
                biases: 1,
                nonlins: 2
            }
        );
        assert!(rows
            .to_string()
            .contains("one bias and one nonlin flag per row"));
        assert!(Value::dense(vec![w], &b, &[true, false], &xs, none).is_err());
    }
}
