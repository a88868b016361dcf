//! Benford's law on leading digits, judged by the mean absolute deviation (MAD)
//! between observed and expected digit shares, with Nigrini's conformity bands,
//! and a chi-square test (p-value from `statrs`).

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Which digits are tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Digits {
    /// The first digit, 1–9.
    First,
    /// The first two digits, 10–99.
    FirstTwo,
}

impl Digits {
    /// The leading digits tested: 1–9 or 10–99.
    pub fn range(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Digits::First => 1..=9,
            Digits::FirstTwo => 10..=99,
        }
    }

    /// Nigrini's MAD limits: close, acceptable, marginal conformity.
    pub fn bands(self) -> [f64; 3] {
        match self {
            Digits::First => [0.006, 0.012, 0.015],
            Digits::FirstTwo => [0.0012, 0.0018, 0.0022],
        }
    }
}

/// Nigrini's conformity band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conformity {
    /// Close conformity.
    Close,
    /// Acceptable conformity.
    Acceptable,
    /// Marginally acceptable conformity.
    Marginal,
    /// Nonconformity: a sign of invented figures.
    Nonconformity,
}

impl Conformity {
    /// Name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Conformity::Close => "close",
            Conformity::Acceptable => "acceptable",
            Conformity::Marginal => "marginal",
            Conformity::Nonconformity => "nonconformity",
        }
    }

    /// Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Conformity::Close => "高度符合",
            Conformity::Acceptable => "可接受",
            Conformity::Marginal => "勉强可接受",
            Conformity::Nonconformity => "不符合",
        }
    }
}

/// The result of a test.
#[derive(Clone, Debug, Serialize)]
pub struct BenfordResult {
    /// Digits tested.
    pub digits: Digits,
    /// Values with a usable leading digit (positive, and ≥ 10 for two digits).
    pub n: usize,
    /// Mean absolute deviation of the digit shares.
    pub mad: f64,
    /// Band of the MAD.
    pub conformity: Conformity,
    /// Chi-square statistic.
    pub chi2: f64,
    /// Its p-value.
    pub p_value: f64,
}

/// Benford's expected share of a leading digit (or pair).
pub fn expected(d: u32) -> f64 {
    (1.0 + 1.0 / d as f64).log10()
}

/// The leading one or two digits of a positive value.
pub fn leading(x: f64, digits: Digits) -> Option<u32> {
    if !(x.is_finite() && x > 0.0) {
        return None;
    }
    let width = match digits {
        Digits::First => 0,
        Digits::FirstTwo => 1,
    };
    let exp = x.log10().floor() as i32;
    if digits == Digits::FirstTwo && exp < 1 {
        return None;
    }
    let scaled = x / 10f64.powi(exp - width);
    let mut d = scaled.floor() as i64;
    // log10 can land one decade off at exact powers of ten; correct for it.
    let (lo, hi) = if width == 0 { (1, 9) } else { (10, 99) };
    if d > hi {
        d /= 10;
    } else if d < lo {
        d = (scaled * 10.0).floor() as i64;
    }
    (lo..=hi).contains(&d).then_some(d as u32)
}

/// Tests values against Benford's law; None when no value has a leading digit.
pub fn test(values: &[f64], digits: Digits) -> Option<BenfordResult> {
    let range = digits.range();
    let k = (range.end() - range.start() + 1) as usize;
    let mut counts = vec![0usize; k];
    for &x in values {
        if let Some(i) = digit_index(x, digits) {
            counts[i] += 1;
        }
    }
    test_counts(&counts, digits)
}

/// The position of a value's leading digits among the digits tested (0 for the
/// first of them), or None when it has none.
pub fn digit_index(x: f64, digits: Digits) -> Option<usize> {
    let range = digits.range();
    leading(x, digits)
        .filter(|d| range.contains(d))
        .map(|d| (d - range.start()) as usize)
}

/// Tests counts of leading digits (`counts[i]` values whose leading digits are the
/// `i`-th tested: 1–9 or 10–99) against Benford's law; None when there are none.
pub fn test_counts(counts: &[usize], digits: Digits) -> Option<BenfordResult> {
    let range = digits.range();
    let k = (range.end() - range.start() + 1) as usize;
    debug_assert_eq!(counts.len(), k);
    let n: usize = counts.iter().sum();
    if n == 0 {
        return None;
    }
    let mut mad = 0.0;
    let mut chi2 = 0.0;
    for (i, &c) in counts.iter().enumerate() {
        let e = expected(range.start() + i as u32);
        let o = c as f64 / n as f64;
        mad += (o - e).abs();
        chi2 += (c as f64 - e * n as f64).powi(2) / (e * n as f64);
    }
    mad /= k as f64;
    let [close, acceptable, marginal] = digits.bands();
    let conformity = if mad <= close {
        Conformity::Close
    } else if mad <= acceptable {
        Conformity::Acceptable
    } else if mad <= marginal {
        Conformity::Marginal
    } else {
        Conformity::Nonconformity
    };
    let p_value = ChiSquared::new((k - 1) as f64)
        .map(|d| 1.0 - d.cdf(chi2))
        .unwrap_or(f64::NAN);
    Some(BenfordResult {
        digits,
        n,
        mad,
        conformity,
        chi2,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_digits() {
        assert_eq!(leading(1234.5, Digits::First), Some(1));
        assert_eq!(leading(1234.5, Digits::FirstTwo), Some(12));
        assert_eq!(leading(0.0042, Digits::First), Some(4));
        assert_eq!(leading(20.0, Digits::FirstTwo), Some(20));
        assert_eq!(leading(1000.0, Digits::FirstTwo), Some(10));
        assert_eq!(leading(7.0, Digits::FirstTwo), None);
        for (x, d1, d2) in [
            (1e15, 1, 10),
            (999.999, 9, 99),
            (0.1, 1, 0),
            (123456.0, 1, 12),
            (10.0, 1, 10),
            (99.99, 9, 99),
        ] {
            assert_eq!(leading(x, Digits::First), Some(d1), "{x}");
            if d2 > 0 {
                assert_eq!(leading(x, Digits::FirstTwo), Some(d2), "{x}");
            }
        }
        assert_eq!(leading(-5.0, Digits::First), None);
    }

    #[test]
    fn a_benford_sample_conforms_and_a_uniform_one_does_not() {
        // 10^u for u uniform on [0, 4) follows Benford's law exactly in the limit.
        let n = 20_000;
        let benford: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(4.0 * (i as f64 + 0.5) / n as f64))
            .collect();
        let r = test(&benford, Digits::First).unwrap();
        assert_eq!(r.conformity, Conformity::Close, "{r:?}");
        assert!(r.p_value > 0.05);
        let uniform: Vec<f64> = (0..n).map(|i| 1000.0 + (i % 9000) as f64).collect();
        let r = test(&uniform, Digits::First).unwrap();
        assert_eq!(r.conformity, Conformity::Nonconformity);
        assert!(r.p_value < 1e-6);
        let r2 = test(&uniform, Digits::FirstTwo).unwrap();
        assert_eq!(r2.conformity, Conformity::Nonconformity);
    }

    #[test]
    fn expected_shares_sum_to_one() {
        let s: f64 = (1..=9).map(expected).sum();
        assert!((s - 1.0).abs() < 1e-12);
        let s2: f64 = (10..=99).map(expected).sum();
        assert!((s2 - 1.0).abs() < 1e-12);
    }
}
