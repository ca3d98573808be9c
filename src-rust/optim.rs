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

/// One Adam step's numbers, worked out once per step from the hyperparameters and the step
/// count (as `FlatAdam.step` computes them in Python).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// `-lr / (1 - beta1 ** t)`.
    pub neg_step: f64,
    /// `sqrt(1 - beta2 ** t)`.
    pub bias2_sqrt: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// `1 - beta1`: the weight of the gradient in the first moment.
    pub w: f64,
    /// The second moment's decay.
    pub beta2: f64,
    /// AdamW's decoupled decay: the parameters are first multiplied by `1 - lr * weight_decay`.
    pub shrink: Option<f64>,
    /// Adam's L2 term: the gradient becomes `g + weight_decay * p`.
    pub l2: Option<f64>,
    /// Divide by the largest second moment so far (`v_max`) instead of the current one.
    pub amsgrad: bool,
}

/// One Adam step in place, element by element as `FlatAdam.step` writes it with numpy (each
/// operation rounded once, in that order):
///
/// ```text
/// p = p * shrink                 (AdamW)        g = g + l2 * p                  (Adam, L2)
/// m = m + w * (g - m)            (w < 0.5)      m = g - (g - m) * (1 - w)       (otherwise)
/// v = v * beta2 + (1 - beta2) * g * g
/// v_max = maximum(v_max, v)      (amsgrad: a NaN in either is the NaN; v_max replaces v below)
/// p = p + neg_step * m / (sqrt(v) / bias2_sqrt + eps)
/// ```
///
/// `grad` is only read; `v_max` is read and written only with `amsgrad`.
///
/// # Panics
/// When the slices' lengths differ (`v_max`'s only matters with `amsgrad`).
pub fn adam_step(
    params: &mut [f64],
    grad: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    v_max: &mut [f64],
    h: &AdamStep,
) {
    let n = params.len();
    assert!(
        grad.len() == n && m.len() == n && v.len() == n && (!h.amsgrad || v_max.len() == n),
        "Adam's arrays differ in length"
    );
    let (one_minus_w, one_minus_beta2) = (1.0 - h.w, 1.0 - h.beta2);
    for i in 0..n {
        let mut p = params[i];
        let mut g = grad[i];
        if let Some(shrink) = h.shrink {
            p *= shrink;
        }
        if let Some(l2) = h.l2 {
            g += l2 * p;
        }
        m[i] = if h.w < 0.5 {
            m[i] + h.w * (g - m[i])
        } else {
            g - (g - m[i]) * one_minus_w
        };
        v[i] = v[i] * h.beta2 + one_minus_beta2 * g * g;
        let second = if h.amsgrad {
            let (a, b) = (v_max[i], v[i]);
            // numpy's maximum: `a` when it is at least `b` or is a NaN, else `b` (so a NaN on
            // either side is the result).
            v_max[i] = if a >= b || a.is_nan() { a } else { b };
            v_max[i]
        } else {
            v[i]
        };
        params[i] = p + h.neg_step * m[i] / (second.sqrt() / h.bias2_sqrt + h.eps);
    }
}

#[cfg(test)]
mod tests {
    use super::{adam_step, sgd_step, AdamStep};

    #[test]
    fn adam_steps_round_as_the_formulas_written_out() {
        let h = AdamStep {
            neg_step: -0.01 / (1.0 - 0.9),
            bias2_sqrt: (1.0f64 - 0.999).sqrt(),
            eps: 1e-8,
            w: 1.0 - 0.9,
            beta2: 0.999,
            shrink: None,
            l2: Some(0.1),
            amsgrad: true,
        };
        let (mut p, g) = ([1.0, -2.0, 0.5], [0.3, f64::NAN, -4.0]);
        let (mut m, mut v, mut v_max) = ([0.0; 3], [0.0; 3], [0.0, 0.0, 100.0]);
        let p0 = p;
        adam_step(&mut p, &g, &mut m, &mut v, &mut v_max, &h);
        let g0 = 0.3 + 0.1 * p0[0];
        let m0 = 0.0 + h.w * (g0 - 0.0);
        let v0 = 0.0 * h.beta2 + (1.0 - h.beta2) * g0 * g0;
        assert_eq!((m[0], v[0], v_max[0]), (m0, v0, v0));
        assert_eq!(
            p[0],
            p0[0] + h.neg_step * m0 / (v0.sqrt() / h.bias2_sqrt + h.eps)
        );
        assert!(
            p[1].is_nan() && v_max[1].is_nan(),
            "a NaN gradient is a NaN step"
        );
        assert_eq!(v_max[2], 100.0, "the largest second moment so far");
        let g2 = -4.0 + 0.1 * p0[2];
        let m2 = h.w * g2;
        assert_eq!(
            p[2],
            p0[2] + h.neg_step * m2 / (100.0f64.sqrt() / h.bias2_sqrt + h.eps)
        );
    }

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
