//! How often a count turns up by chance: the binomial tail, and the smallest count
//! a rule should take as more than chance.

use statrs::distribution::{Binomial, DiscreteCDF};

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_tail(n: u32, k: u32, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let p = p.clamp(0.0, 1.0);
    match Binomial::new(p, u64::from(n)) {
        // sf(x) = P(X > x)
        Ok(b) => b.sf(u64::from(k - 1)),
        Err(_) => f64::NAN,
    }
}

/// The smallest count `k ≥ floor` out of `n` trials whose chance of turning up,
/// each trial a success with probability `p`, is at most `alpha`: P(X ≥ k) ≤ alpha.
/// `n + 1` when no count out of `n` is that unlikely (nothing fails).
pub fn least_count_beyond_chance(n: u32, p: f64, alpha: f64, floor: u32) -> u32 {
    (floor..=n)
        .find(|&k| binomial_tail(n, k, p) <= alpha)
        .unwrap_or(n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_matches_a_hand_count() {
        // n = 12, p = 0.01: P(X ≥ 3) = 1 − P(0) − P(1) − P(2).
        let (n, p) = (12.0_f64, 0.01_f64);
        let p0 = (1.0 - p).powf(n);
        let p1 = n * p * (1.0 - p).powf(n - 1.0);
        let p2 = n * (n - 1.0) / 2.0 * p * p * (1.0 - p).powf(n - 2.0);
        let want = 1.0 - p0 - p1 - p2;
        assert!((binomial_tail(12, 3, 0.01) - want).abs() < 1e-12);
        assert_eq!(binomial_tail(12, 0, 0.01), 1.0);
        assert_eq!(binomial_tail(12, 13, 0.01), 0.0);
    }

    #[test]
    fn the_least_count_grows_with_the_chance_of_one_trial() {
        // Whole thousands a multiple of 100 by chance one time in 100: 3 of 12
        // turns up about 2 times in 10,000 enterprises, 4 of 12 about 5 in a million.
        assert_eq!(least_count_beyond_chance(12, 0.01, 1e-5, 3), 4);
        assert_eq!(least_count_beyond_chance(12, 0.01, 1e-3, 3), 3);
        // A multiple of 10 by chance one time in 10 needs far more months.
        assert_eq!(least_count_beyond_chance(12, 0.1, 1e-5, 3), 8);
        // Never beyond chance: nothing fails.
        assert_eq!(least_count_beyond_chance(12, 1.0, 1e-5, 3), 13);
    }
}
