//! Robust z-scores (Iglewicz–Hoaglin): `z = 0.6745 (x − median) / MAD`, with MAD
//! the median absolute deviation; `|z| > 3.5` marks an outlier. Undefined (None)
//! when the MAD is zero.

use super::quantile::{median_sorted, sorted};

/// Iglewicz and Hoaglin's recommended threshold.
pub const DEFAULT_THRESHOLD: f64 = 3.5;

/// Median and MAD of the finite values, or None if there are none.
pub fn median_mad(values: &[f64]) -> Option<(f64, f64)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let med = median_sorted(&sorted(&v));
    let dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    Some((med, median_sorted(&sorted(&dev))))
}

/// The robust z-score of every value (None for non-finite values or a zero MAD).
pub fn robust_z(values: &[f64]) -> Vec<Option<f64>> {
    match median_mad(values) {
        Some((med, mad)) if mad > 0.0 => values
            .iter()
            .map(|&x| x.is_finite().then(|| 0.6745 * (x - med) / mad))
            .collect(),
        _ => vec![None; values.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // median 3, deviations 2 1 0 1 97 → MAD 1; z(100) = 0.6745 · 97.
        let z = robust_z(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(z[2], Some(0.0));
        assert!((z[4].unwrap() - 0.6745 * 97.0).abs() < 1e-12);
        assert!(z[4].unwrap() > DEFAULT_THRESHOLD);
        assert!(z[3].unwrap() < DEFAULT_THRESHOLD);
    }

    #[test]
    fn zero_mad_is_undefined() {
        assert!(robust_z(&[5.0, 5.0, 5.0, 9.0]).iter().all(Option::is_none));
    }
}
