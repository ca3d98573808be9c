//! The correctly rounded sum of a list of floats, by Shewchuk's partials: the same number as
//! Python's `math.fsum`, which a training step's loss is defined with, computed without a
//! Python float per term.

/// `Σ xs` correctly rounded (what `math.fsum(xs)` returns), or `None` when a term is not
/// finite or a partial sum overflows: there `math.fsum` has its own rules (infinities,
/// NaN, `OverflowError`) and the caller should ask it.
pub fn exact_sum(xs: &[f64]) -> Option<f64> {
    // Non-overlapping partials, smallest magnitude first, whose exact sum is the sum so far.
    let mut partials: Vec<f64> = Vec::new();
    for &term in xs {
        if !term.is_finite() {
            return None;
        }
        let mut x = term;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        if x != 0.0 {
            if !x.is_finite() {
                return None;
            }
            partials.push(x);
        }
    }
    // Add the partials from the largest down until the sum is inexact, then round half to
    // even by hand: the rest can only decide a tie.
    let mut n = partials.len();
    if n == 0 {
        return Some(0.0);
    }
    n -= 1;
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::exact_sum;

    #[test]
    fn sums_are_correctly_rounded() {
        assert_eq!(exact_sum(&[]), Some(0.0));
        assert_eq!(exact_sum(&[-0.0]).map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(exact_sum(&[0.1; 10]), Some(1.0));
        assert_eq!(exact_sum(&[1e100, 1.0, -1e100, 1e-100]), Some(1.0));
        // A tie that only the smallest partial breaks (math.fsum's own test case).
        let a = 2f64.powi(53);
        assert_eq!(exact_sum(&[a, 1.0, 2f64.powi(-100)]), Some(a + 2.0));
        assert_eq!(exact_sum(&[a, 1.0, 0.25]), Some(a + 2.0));
        assert_eq!(exact_sum(&[a, -1.0, -0.25]), Some(a - 1.0));
        assert_eq!(exact_sum(&[1.0, f64::NAN]), None);
        assert_eq!(
            exact_sum(&[f64::MAX, f64::MAX]),
            None,
            "intermediate overflow"
        );
    }
}
