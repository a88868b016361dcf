//! The Hidiroglou–Berthelot outlier method as Statistics Canada's Banff OUTLIER
//! procedure computes it (methods RATIO / HISTORIC, and CURRENT).
//!
//! For each unit with a current value `x` and a comparison value `y` (the previous
//! period, or an auxiliary variable): `r = x / y`; `r_m` the median of `r`;
//! `s = 1 − r_m / r` when `r < r_m`, else `r / r_m − 1`; the effect
//! `E = s · max(x, y)^U`. With `Q1, M, Q3` the type-6 quartiles of `E`,
//! `D_L = max(M − Q1, |A·M|)`, `D_R = max(Q3 − M, |A·M|)`. A unit is an outlier to
//! impute (FTI) when `E < M − mii·D_L` or `E > M + mii·D_R`; failing that, one to
//! exclude (FTE) when outside the same interval with `mei`. Comparisons are strict.
//!
//! As in Banff: with a comparison variable, zero and negative values are never
//! used (`accept_zero` / `accept_negative` only apply to CURRENT, where `E = x`);
//! missing values are not used; a by-group with fewer usable units than `min_obs`
//! (default 10) is not processed, and that is reported.

use serde::Serialize;

use super::quantile::{median_sorted, sorted, type6_sorted};

/// What the effect is computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `E = x`: the current values alone.
    Current,
    /// `x / y` for two variables of one record, or a variable against its history
    /// (Banff's RATIO and HISTORIC compute identically once units are paired).
    Ratio,
}

/// Which tail is searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// Both tails.
    Both,
    /// Only unusually small effects.
    Left,
    /// Only unusually large effects.
    Right,
}

/// Parameters, with Banff's names.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `U` in [0, 1] (default 0): how much the size of a unit counts.
    pub exponent: f64,
    /// `A` > 0 (default 0.05): the minimum distance multiplier.
    pub mdm: f64,
    /// Multiplier of the imputation interval (FTI).
    pub mii: Option<f64>,
    /// Multiplier of the exclusion interval (FTE).
    pub mei: Option<f64>,
    /// Smallest number of usable units for a by-group to be processed (default 10).
    pub min_obs: usize,
    /// Accept zero values (CURRENT only; default true there).
    pub accept_zero: Option<bool>,
    /// Accept negative values (CURRENT only).
    pub accept_negative: bool,
    /// Tail(s) searched.
    pub side: Side,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            exponent: 0.0,
            mdm: 0.05,
            mii: None,
            mei: None,
            min_obs: 10,
            accept_zero: None,
            accept_negative: false,
            side: Side::Both,
        }
    }
}

impl Params {
    /// Checks the parameters; returns warnings (as Banff prints them) or an error.
    pub fn validate(&self, method: Method) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        if !(0.0..=1.0).contains(&self.exponent) {
            return Err(format!(
                "exponent must be between 0 and 1, got {}",
                self.exponent
            ));
        }
        if self.mdm <= 0.0 || !self.mdm.is_finite() {
            return Err(format!("mdm must be positive, got {}", self.mdm));
        }
        if self.mii.is_none() && self.mei.is_none() {
            return Err(
                "give mii (imputation interval), mei (exclusion interval) or both".to_string(),
            );
        }
        for (name, v) in [("mii", self.mii), ("mei", self.mei)] {
            if let Some(v) = v {
                if v <= 0.0 || !v.is_finite() {
                    return Err(format!("{name} must be positive, got {v}"));
                }
            }
        }
        if let (Some(i), Some(e)) = (self.mii, self.mei) {
            if e >= i {
                return Err(format!("mei ({e}) must be smaller than mii ({i})"));
            }
        }
        if self.min_obs == 0 {
            return Err("min_obs must be positive".to_string());
        }
        if method == Method::Ratio {
            if self.accept_negative {
                warnings.push(
                    "accept_negative does not apply with a comparison variable: zero and negative values are never used".to_string(),
                );
            }
            if self.accept_zero.is_some() {
                warnings.push(
                    "accept_zero does not apply with a comparison variable: zero and negative values are never used".to_string(),
                );
            }
        }
        Ok(warnings)
    }
}

/// Status of a flagged unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Field to impute: outside the imputation interval.
    #[serde(rename = "FTI")]
    Fti,
    /// Field to exclude: outside the exclusion interval only.
    #[serde(rename = "FTE")]
    Fte,
}

impl Status {
    /// `FTI` / `FTE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fti => "FTI",
            Status::Fte => "FTE",
        }
    }
}

/// A flagged unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flag {
    /// Index of the unit in the input.
    pub index: usize,
    /// FTI or FTE.
    pub status: Status,
    /// `L` (too small) or `R` (too large).
    pub side: char,
    /// The effect `E`.
    pub effect: f64,
}

/// What happened in one by-group.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GroupResult {
    /// Units in the group.
    pub n_obs: usize,
    /// Units used.
    pub n_used: usize,
    /// Units not used: current value missing.
    pub rejected_var_missing: usize,
    /// Units not used: comparison value missing.
    pub rejected_aux_missing: usize,
    /// Units not used: current value zero.
    pub rejected_var_zero: usize,
    /// Units not used: comparison value zero.
    pub rejected_aux_zero: usize,
    /// Units not used: current value negative.
    pub rejected_var_negative: usize,
    /// Units not used: comparison value negative.
    pub rejected_aux_negative: usize,
    /// Whether the group had at least `min_obs` usable units.
    pub processed: bool,
    /// Median of the ratios (RATIO).
    pub median_ratio: Option<f64>,
    /// First quartile of the effects.
    pub q1: Option<f64>,
    /// Median of the effects.
    pub m: Option<f64>,
    /// Third quartile of the effects.
    pub q3: Option<f64>,
    /// Lower bound of the imputation interval.
    pub imp_l: Option<f64>,
    /// Lower bound of the exclusion interval.
    pub excl_l: Option<f64>,
    /// Upper bound of the exclusion interval.
    pub excl_r: Option<f64>,
    /// Upper bound of the imputation interval.
    pub imp_r: Option<f64>,
    /// Units flagged FTI.
    pub n_fti: usize,
    /// Units flagged FTE.
    pub n_fte: usize,
}

impl GroupResult {
    /// Units not used.
    pub fn n_rejected(&self) -> usize {
        self.n_obs - self.n_used
    }
}

/// Runs HB on one group. `y` is the comparison variable (RATIO) or `None` (CURRENT).
/// Returns the group's result, the flagged units (indices into `x`) and every
/// unit's effect (None where not used).
pub fn run_group(
    x: &[Option<f64>],
    y: Option<&[Option<f64>]>,
    p: &Params,
) -> (GroupResult, Vec<Flag>, Vec<Option<f64>>) {
    let method = if y.is_some() {
        Method::Ratio
    } else {
        Method::Current
    };
    let mut g = GroupResult {
        n_obs: x.len(),
        ..Default::default()
    };
    let mut used: Vec<usize> = Vec::with_capacity(x.len());
    let accept_zero = method == Method::Current && p.accept_zero.unwrap_or(true);
    let accept_negative = method == Method::Current && p.accept_negative;
    for i in 0..x.len() {
        let xi = match x[i] {
            Some(v) if v.is_finite() => v,
            _ => {
                g.rejected_var_missing += 1;
                continue;
            }
        };
        let yi = match y {
            Some(y) => match y[i] {
                Some(v) if v.is_finite() => Some(v),
                _ => {
                    g.rejected_aux_missing += 1;
                    continue;
                }
            },
            None => None,
        };
        if xi == 0.0 && !accept_zero {
            g.rejected_var_zero += 1;
            continue;
        }
        if xi < 0.0 && !accept_negative {
            g.rejected_var_negative += 1;
            continue;
        }
        if let Some(yi) = yi {
            if yi == 0.0 {
                g.rejected_aux_zero += 1;
                continue;
            }
            if yi < 0.0 {
                g.rejected_aux_negative += 1;
                continue;
            }
        }
        used.push(i);
    }
    g.n_used = used.len();
    let mut effects: Vec<Option<f64>> = vec![None; x.len()];
    if used.len() < p.min_obs || used.is_empty() {
        return (g, Vec::new(), effects);
    }
    g.processed = true;
    let e: Vec<f64> = match y {
        None => used.iter().map(|&i| x[i].unwrap_or(f64::NAN)).collect(),
        Some(y) => {
            let r: Vec<f64> = used
                .iter()
                .map(|&i| x[i].unwrap_or(f64::NAN) / y[i].unwrap_or(f64::NAN))
                .collect();
            let rm = median_sorted(&sorted(&r));
            g.median_ratio = Some(rm);
            used.iter()
                .zip(&r)
                .map(|(&i, &ri)| {
                    let s = if ri < rm {
                        1.0 - rm / ri
                    } else {
                        ri / rm - 1.0
                    };
                    let (xi, yi) = (x[i].unwrap_or(f64::NAN), y[i].unwrap_or(f64::NAN));
                    let size = xi.max(yi);
                    if p.exponent == 0.0 {
                        s
                    } else {
                        s * size.powf(p.exponent)
                    }
                })
                .collect()
        }
    };
    for (&i, &ei) in used.iter().zip(&e) {
        effects[i] = Some(ei);
    }
    let se = sorted(&e);
    let (q1, m, q3) = (
        type6_sorted(&se, 0.25),
        type6_sorted(&se, 0.5),
        type6_sorted(&se, 0.75),
    );
    let floor = (p.mdm * m).abs();
    let dl = (m - q1).max(floor);
    let dr = (q3 - m).max(floor);
    g.q1 = Some(q1);
    g.m = Some(m);
    g.q3 = Some(q3);
    g.imp_l = p.mii.map(|c| m - c * dl);
    g.imp_r = p.mii.map(|c| m + c * dr);
    g.excl_l = p.mei.map(|c| m - c * dl);
    g.excl_r = p.mei.map(|c| m + c * dr);
    let left_ok = p.side != Side::Right;
    let right_ok = p.side != Side::Left;
    let mut flags = Vec::new();
    for (&i, &ei) in used.iter().zip(&e) {
        let verdict = |lo: Option<f64>, hi: Option<f64>| -> Option<char> {
            if left_ok && lo.is_some_and(|b| ei < b) {
                Some('L')
            } else if right_ok && hi.is_some_and(|b| ei > b) {
                Some('R')
            } else {
                None
            }
        };
        if let Some(side) = verdict(g.imp_l, g.imp_r) {
            flags.push(Flag {
                index: i,
                status: Status::Fti,
                side,
                effect: ei,
            });
            g.n_fti += 1;
        } else if let Some(side) = verdict(g.excl_l, g.excl_r) {
            flags.push(Flag {
                index: i,
                status: Status::Fte,
                side,
                effect: ei,
            });
            g.n_fte += 1;
        }
    }
    (g, flags, effects)
}

/// Runs HB within by-groups: `group[i]` is the group number of unit `i` (0-based,
/// below `n_groups`). Flags carry indices into the whole input.
pub fn run_grouped(
    x: &[Option<f64>],
    y: Option<&[Option<f64>]>,
    group: &[u32],
    n_groups: usize,
    p: &Params,
) -> (Vec<GroupResult>, Vec<Flag>, Vec<Option<f64>>) {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
    for (i, &g) in group.iter().enumerate() {
        members[g as usize].push(i);
    }
    let mut results = Vec::with_capacity(n_groups);
    let mut flags = Vec::new();
    let mut effects = vec![None; x.len()];
    for idx in members {
        let gx: Vec<Option<f64>> = idx.iter().map(|&i| x[i]).collect();
        let gy: Option<Vec<Option<f64>>> = y.map(|y| idx.iter().map(|&i| y[i]).collect());
        let (r, f, e) = run_group(&gx, gy.as_deref(), p);
        for mut fl in f {
            fl.index = idx[fl.index];
            flags.push(fl);
        }
        for (k, ev) in e.into_iter().enumerate() {
            effects[idx[k]] = ev;
        }
        results.push(r);
    }
    flags.sort_by_key(|f| f.index);
    (results, flags, effects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().copied().map(Some).collect()
    }

    fn params(mii: f64) -> Params {
        Params {
            mii: Some(mii),
            ..Default::default()
        }
    }

    #[test]
    fn hand_computed_example() {
        // Ten units growing by exactly 25% (exact in binary), one by 50%, one
        // tripling. Ratios: eight at 1.25, 1.5, 3.75; median 1.25.
        let y = some(&[
            100.0, 200.0, 160.0, 120.0, 80.0, 96.0, 112.0, 128.0, 144.0, 160.0,
        ]);
        let mut xv: Vec<f64> = y.iter().map(|v| v.unwrap() * 1.25).collect();
        xv[3] = 120.0 * 1.5;
        xv[9] = 160.0 * 3.75;
        let x = some(&xv);
        let (g, flags, effects) = run_group(&x, Some(&y), &params(4.0));
        assert!(g.processed);
        assert_eq!(g.median_ratio, Some(1.25));
        // s = 0 for the eight, 1.5/1.25 − 1 = 0.2 and 3.75/1.25 − 1 = 2.
        assert_eq!(effects[3], Some(0.19999999999999996));
        assert_eq!(effects[9], Some(2.0));
        // Sorted effects: eight 0, then 0.2, 2. Q1 and M are 0; Q3 at position
        // 8.25 is 0 + 0.25 · 0.2; D_R = Q3 − M, so the bound M + 4 D_R is exactly
        // unit 3's effect — which the strict comparison does not flag.
        assert_eq!((g.q1, g.m), (Some(0.0), Some(0.0)));
        assert_eq!(g.q3, Some(0.25 * effects[3].unwrap()));
        assert_eq!(g.imp_r, Some(4.0 * g.q3.unwrap()));
        assert_eq!(g.imp_r, effects[3]);
        let idx: Vec<usize> = flags.iter().map(|f| f.index).collect();
        assert_eq!(idx, vec![9]);
        assert!(flags
            .iter()
            .all(|f| f.side == 'R' && f.status == Status::Fti));
    }

    #[test]
    fn quartiles_at_p_n_plus_1() {
        // CURRENT method: E = x. n = 10 → Q1 at position 2.75, M at 5.5, Q3 at 8.25.
        let x = some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0]);
        let (g, flags, _) = run_group(&x, None, &params(3.0));
        assert_eq!(g.q1, Some(2.75));
        assert_eq!(g.m, Some(5.5));
        assert_eq!(g.q3, Some(8.25));
        // D_R = 2.75; the imputation bound is 5.5 + 3 · 2.75 = 13.75: 100 is outside.
        assert_eq!(g.imp_r, Some(13.75));
        assert_eq!(g.imp_l, Some(5.5 - 3.0 * 2.75));
        assert_eq!(flags.len(), 1);
        assert_eq!((flags[0].index, flags[0].side), (9, 'R'));
    }

    #[test]
    fn small_groups_are_skipped() {
        let x = some(&[1.0; 9]);
        let (g, flags, _) = run_group(&x, Some(&x), &params(4.0));
        assert!(!g.processed);
        assert!(flags.is_empty());
        assert_eq!(g.n_used, 9);
    }

    #[test]
    fn zeros_negatives_and_missing_are_not_used_with_a_comparison_variable() {
        let mut x = some(&[10.0; 14]);
        let y = some(&[10.0; 14]);
        x[0] = Some(0.0);
        x[1] = Some(-5.0);
        x[2] = None;
        let mut y2 = y.clone();
        y2[3] = Some(0.0);
        let p = Params {
            accept_zero: Some(true),
            accept_negative: true,
            ..params(4.0)
        };
        let (g, _, _) = run_group(&x, Some(&y2), &p);
        assert_eq!(g.n_used, 10);
        assert_eq!(
            (
                g.rejected_var_zero,
                g.rejected_var_negative,
                g.rejected_var_missing,
                g.rejected_aux_zero
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(p.validate(Method::Ratio).unwrap().len(), 2);
    }

    #[test]
    fn comparisons_are_strict() {
        // n = 11: M = 6, Q3 = 9 (position 9), D_R = 3; with mii = 2 the bound is 12.
        let mut xv: Vec<f64> = (1..=10).map(f64::from).collect();
        xv.push(12.0);
        let (g, flags, _) = run_group(&some(&xv), None, &params(2.0));
        assert_eq!(g.imp_r, Some(12.0));
        assert!(flags.is_empty(), "an effect on the bound is not an outlier");
        xv[10] = 12.000001;
        let (_, flags, _) = run_group(&some(&xv), None, &params(2.0));
        assert_eq!(flags.len(), 1);
    }

    #[test]
    fn fte_between_the_intervals() {
        let y = some(&[100.0; 12]);
        let mut xv = vec![100.0; 12];
        for (i, v) in xv.iter_mut().enumerate() {
            *v += i as f64;
        }
        xv[11] = 125.0;
        let x = some(&xv);
        let p = Params {
            mii: Some(10.0),
            mei: Some(2.0),
            ..Default::default()
        };
        let (_, flags, _) = run_group(&x, Some(&y), &p);
        assert!(flags
            .iter()
            .any(|f| f.index == 11 && f.status == Status::Fte));
    }

    #[test]
    fn parameters_are_checked() {
        assert!(Params::default().validate(Method::Ratio).is_err());
        assert!(Params {
            exponent: 1.5,
            ..params(4.0)
        }
        .validate(Method::Ratio)
        .is_err());
        assert!(Params {
            mii: Some(2.0),
            mei: Some(3.0),
            ..Default::default()
        }
        .validate(Method::Ratio)
        .is_err());
    }
}
