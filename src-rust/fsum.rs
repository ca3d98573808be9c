//! The correctly rounded sum of a list of floats, by Shewchuk's partials: the same number as
//! Python's `math.fsum`, which a training step's loss is defined with, computed without a
//! Python float per term.

/// `Σ xs` correctly rounded (what `math.fsum(xs)` returns), or `None` when a term is not
/// finite or a partial sum overflows: there `math.fsum` has its own rules (infinities,
/// NaN, `OverflowError`) and the caller should ask it.
pub fn exact_sum(xs: &[f64]) -> Option<f64> {
    fixed_point_sum(xs).or_else(|| partials_sum(xs))
}

/// `exact_sum` where the terms' binary exponents are close enough that their exact sum fits
/// one 128-bit integer of units of the smallest term's last place: the integer sum is exact,
/// its conversion to `f64` rounds once (to nearest, ties to even), and scaling by that unit
/// is exact (the range is kept away from the subnormals and from overflow). `None` when the
/// terms are not all finite or their exponents are too far apart: `partials_sum` decides.
fn fixed_point_sum(xs: &[f64]) -> Option<f64> {
    // Biased exponents (a subnormal's counts as 1: it has no implicit bit) of the nonzero terms.
    let exponent = |bits: u64| (((bits >> 52) & 0x7ff) as i32).max(1);
    let (mut lo, mut hi) = (i32::MAX, i32::MIN);
    for &x in xs {
        let bits = x.to_bits();
        if bits << 1 == 0 {
            continue; // ±0
        }
        let e = exponent(bits);
        lo = lo.min(e);
        hi = hi.max(e);
    }
    if lo == i32::MAX {
        return xs.iter().all(|x| x.is_finite()).then_some(0.0);
    }
    // 53 bits per term, shifted by up to `hi - lo`, and room for `len` of them to add up.
    let carry = (usize::BITS - xs.len().leading_zeros()) as i32;
    if hi == 0x7ff || hi - lo + 53 + carry > 126 || lo < 60 || hi > 2046 - 60 - carry {
        return None;
    }
    let mut sum: i128 = 0;
    for &x in xs {
        let bits = x.to_bits();
        if bits << 1 == 0 {
            continue;
        }
        let e = exponent(bits);
        let implicit = if (bits >> 52) & 0x7ff == 0 {
            0
        } else {
            1 << 52
        };
        let m = ((bits & ((1 << 52) - 1)) | implicit) as i128;
        let term = m << (e - lo);
        sum += if bits >> 63 == 1 { -term } else { term };
    }
    // `sum` units of 2^(lo - 1075): at least 2^-1015 and below 2^(hi - 1075 + 53 + carry).
    let unit = f64::from_bits(((lo - 1075 + 1023) as u64) << 52);
    Some(sum as f64 * unit)
}

/// `exact_sum` by Shewchuk's partials, for any terms.
fn partials_sum(xs: &[f64]) -> Option<f64> {
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
    use super::{exact_sum, fixed_point_sum, partials_sum};

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

    /// A small deterministic generator (xorshift), so the cases need no dependency.
    fn numbers(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn the_fixed_point_sum_is_the_partials_sum_wherever_it_answers() {
        let mut next = numbers(0x5eed);
        let mut answered = 0;
        for case in 0..4000 {
            let len = (next() % 200) as usize;
            // Exponent spreads from none to past what 128 bits hold; signs mixed or not;
            // some terms exact negatives of others (cancellation), some zeros.
            let spread = [0u64, 4, 30, 60, 80, 200][case % 6];
            let mut xs: Vec<f64> = (0..len)
                .map(|_| {
                    let e = 1023 - spread / 2 + next() % (spread + 1);
                    let sign = if case % 3 == 0 { 0 } else { next() & 1 };
                    f64::from_bits(sign << 63 | e << 52 | next() >> 12)
                })
                .collect();
            for i in (0..len).step_by(7) {
                let j = (next() % len as u64) as usize;
                xs[i] = if case % 2 == 0 { -xs[j] } else { 0.0 };
            }
            let want = partials_sum(&xs).map(f64::to_bits);
            if let Some(got) = fixed_point_sum(&xs) {
                answered += 1;
                assert_eq!(Some(got.to_bits()), want, "case {case}: {xs:?}");
            }
            assert_eq!(exact_sum(&xs).map(f64::to_bits), want, "case {case}");
        }
        assert!(
            answered > 2000,
            "the fast path answered only {answered} of 4000"
        );
    }

    #[test]
    fn the_fixed_point_sum_rounds_ties_to_even_and_leaves_hard_cases_to_the_partials() {
        let a = 2f64.powi(53);
        // Ties broken by a term far below (out of its range) or near (in it).
        assert_eq!(fixed_point_sum(&[a, 1.0, 2f64.powi(-100)]), None);
        assert_eq!(fixed_point_sum(&[a, 1.0, 0.25]), Some(a + 2.0));
        assert_eq!(fixed_point_sum(&[a, 1.0]), Some(a));
        assert_eq!(fixed_point_sum(&[a, 3.0]), Some(a + 4.0));
        assert_eq!(fixed_point_sum(&[a, -1.0, -0.25]), Some(a - 1.0));
        assert_eq!(fixed_point_sum(&[0.1; 10]), Some(1.0));
        assert_eq!(fixed_point_sum(&[1.5, -1.5]).map(f64::to_bits), Some(0));
        assert_eq!(
            fixed_point_sum(&[-0.0, 0.0, -0.0]).map(f64::to_bits),
            Some(0)
        );
        // Subnormals, huge terms and non-finite terms go to the partials.
        assert_eq!(fixed_point_sum(&[5e-324, 1e-310]), None);
        assert_eq!(fixed_point_sum(&[f64::MAX, -f64::MAX]), None);
        assert_eq!(fixed_point_sum(&[1.0, f64::INFINITY]), None);
        assert_eq!(fixed_point_sum(&[0.0, f64::NAN]), None);
        assert_eq!(exact_sum(&[0.0, f64::NAN]), None);
    }
}
