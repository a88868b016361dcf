//! Quantiles the way Banff takes them: position `p (n + 1)` in the sorted values
//! with linear interpolation (Hyndman–Fan type 6), clamped to the extremes. Most
//! libraries default to type 7 (`p (n − 1) + 1`), which gives different quartiles
//! and therefore different outliers.

/// The type-6 quantile `p` of sorted, non-empty `v`.
pub fn type6_sorted(v: &[f64], p: f64) -> f64 {
    debug_assert!(!v.is_empty());
    let n = v.len();
    let h = p * (n as f64 + 1.0);
    if h <= 1.0 {
        return v[0];
    }
    if h >= n as f64 {
        return v[n - 1];
    }
    let lo = h.floor() as usize;
    let f = h - lo as f64;
    v[lo - 1] + f * (v[lo] - v[lo - 1])
}

/// The median of sorted, non-empty `v`.
pub fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of non-empty `v`, as [`median_sorted`] of `v` sorted gives it,
/// found without sorting (`v` is reordered).
pub fn median_unsorted(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (left, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let mid = *mid;
    if n % 2 == 1 {
        mid
    } else {
        let below = left.iter().copied().max_by(f64::total_cmp).unwrap_or(mid);
        (below + mid) / 2.0
    }
}

/// Sorts a copy of `v` (total order; NaN last).
pub fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_without_sorting_is_the_sorted_median() {
        let mut rng = 7u64;
        for n in 1..60 {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    rng = rng
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((rng >> 40) % 17) as f64 - 8.0
                })
                .collect();
            let mut w = v.clone();
            assert_eq!(
                median_unsorted(&mut w).to_bits(),
                median_sorted(&sorted(&v)).to_bits()
            );
        }
    }

    #[test]
    fn type6_by_hand() {
        // n = 7: Q1 at position 2, Q3 at position 6 exactly.
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        assert_eq!(type6_sorted(&v, 0.25), 2.0);
        assert_eq!(type6_sorted(&v, 0.5), 4.0);
        assert_eq!(type6_sorted(&v, 0.75), 6.0);
        // n = 10: Q1 at 2.75 → 2 + 0.75·(3 − 2); Q3 at 8.25 → 8 + 0.25·(9 − 8).
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(type6_sorted(&v, 0.25), 2.75);
        assert_eq!(type6_sorted(&v, 0.75), 8.25);
        assert_eq!(type6_sorted(&v, 0.5), 5.5);
        // Clamped at the ends.
        assert_eq!(type6_sorted(&[3.0, 9.0], 0.25), 3.0);
        assert_eq!(type6_sorted(&[3.0, 9.0], 0.75), 9.0);
    }

    #[test]
    fn differs_from_type7() {
        // Type 7 gives 3.25 for Q1 of 1..=10; Banff's type 6 gives 2.75.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_ne!(type6_sorted(&v, 0.25), 3.25);
    }

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median_sorted(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median_sorted(&[1.0, 2.0, 4.0, 10.0]), 3.0);
    }
}
