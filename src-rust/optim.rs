//! Optimiser updates on flat parameter vectors, element by element in the order and with the
//! roundings numpy's in-place operators give them, without a temporary array per step.

/// One SGD step in place: `params -= lr * grad`, or with momentum `velocity = momentum *
/// velocity + grad; params -= lr * velocity` (each operation rounded once, in that order).
/// `velocity` is read and written only when `momentum` is not zero.
///
/// # Panics
/// When the slices' lengths differ (`velocity`'s only matters with momentum).
pub fn sgd_step(params: &mut [f64], grad: &[f64], velocity: &mut [f64], lr: f64, momentum: f64) {
    assert_eq!(params.len(), grad.len(), "params and grad differ in length");
    if momentum == 0.0 {
        for (p, &g) in params.iter_mut().zip(grad) {
            *p -= lr * g;
        }
        return;
    }
    assert_eq!(
        params.len(),
        velocity.len(),
        "params and velocity differ in length"
    );
    for ((p, &g), v) in params.iter_mut().zip(grad).zip(velocity) {
        *v *= momentum;
        *v += g;
        *p -= lr * *v;
    }
}

#[cfg(test)]
mod tests {
    use super::sgd_step;

    #[test]
    fn sgd_steps_round_as_the_formula_written_out() {
        let grad = [0.1, -3.0, 1e-300, f64::INFINITY];
        let mut params = [1.0, 2.0, 3.0, 4.0];
        sgd_step(&mut params, &grad, &mut [], 0.3, 0.0);
        assert_eq!(
            params[..3],
            [1.0 - 0.3 * 0.1, 2.0 + 0.3 * 3.0, 3.0 - 0.3 * 1e-300]
        );
        assert_eq!(params[3], f64::NEG_INFINITY);

        let (mut params, mut velocity) = ([1.0, 2.0], [0.5, -0.25]);
        sgd_step(&mut params, &grad[..2], &mut velocity, 0.3, 0.9);
        let v = [0.5 * 0.9 + 0.1, -0.25 * 0.9 - 3.0];
        assert_eq!(velocity, v);
        assert_eq!(params, [1.0 - 0.3 * v[0], 2.0 - 0.3 * v[1]]);
    }
}
