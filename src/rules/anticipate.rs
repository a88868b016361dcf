//! **Anticipated values** (预期值): what each enterprise's gross output should have
//! been, from sources that do not depend on the figure itself, and how far the
//! reported figure lies from them (AV001–AV003).
//!
//! For every enterprise and month of the audited years, four sources each give an
//! anticipated value `a_i` with a log-scale uncertainty `s_i`:
//!
//! * **own history** — the same month last year times the enterprise's recent
//!   growth (its last three months against the same months a year before);
//! * **peers' movement** — the same month last year times the median year-on-year
//!   change of its industry division in its province this month (division alone,
//!   or all enterprises, when fewer than `min_peers`);
//! * **VAT** — this month's taxable sales times the enterprise's own output/VAT
//!   ratio in its earlier year (months 13–24 back; the last 12 months when that year
//!   is too short);
//! * **electricity** — this month's electricity times its own output/electricity
//!   ratio, the same way.
//!
//! History and peers both rest on last year's figure, so each counts half (its
//! variance is doubled when both are present). The sources are combined on the
//! log scale with inverse-variance weights; when they disagree among themselves
//! beyond their uncertainties, the combined uncertainty is widened by the Birge
//! ratio `Q / (k − 1)`. The reported figure's distance is `z = (ln y − ln â) / s`.
//!
//! **P(the figure is wrong)** follows the contamination model of selective editing
//! (Statistics Netherlands' SeleMix): a correct figure lies at `z ~ N(0, 1)`, a
//! wrong one at `z ~ N(0, λ²)`, with a prior share `π` of wrong figures:
//! `P = π φ(z/λ)/λ / (π φ(z/λ)/λ + (1 − π) φ(z))`. The **expected error** a check
//! removes is `P · |y − â|` (thousand yuan).
//!
//! A change of output the independent sources (VAT, electricity) confirm is
//! **explained**: the output-movement findings IN004, IN005, IN008 and IN009 about
//! it become information, with the reason in their message (see [`explain`]); so
//! does SV001 about a services revenue change the enterprise's VAT moved with.

use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use rayon::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, Frames, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::Result;
use crate::load::Batch;
use crate::model::{Month, Table};
use crate::settings::Section;

/// The `[anticipation]` settings.
pub static SETTINGS: Section = Section {
    name: "anticipation",
    doc: "Anticipated values, P(wrong), explained changes and the stopping rule",
    settings: &[
        num(
            "prior_error_rate",
            0.05,
            Some(0.0001),
            Some(0.5),
            "prior share of wrong figures (π of the contamination model)",
        ),
        num(
            "error_scale",
            5.0,
            Some(1.01),
            Some(100.0),
            "how much wider wrong figures spread than correct ones (λ, on the z scale)",
        ),
        flag(
            "estimate_mixture",
            true,
            "fit the prior share of wrong figures, their spread and the correct figures' spread to the data by EM (the two settings above are then starting values)",
        ),
        num(
            "spread_prior_df",
            4.0,
            Some(0.0),
            None,
            "weight, in degrees of freedom, of the pooled spread that each enterprise's own VAT and electricity ratio spread is drawn towards (twelve months estimate a spread poorly); 0 uses the own spread alone",
        ),
        num(
            "min_error_scale",
            4.0,
            Some(1.01),
            Some(100.0),
            "smallest λ the fit may reach: wrong figures spread at least this much wider than correct ones, so heavy tails of correct figures are not taken for errors",
        ),
        num(
            "sigma_floor",
            0.03,
            Some(0.001),
            Some(1.0),
            "smallest log-scale uncertainty of a source (0.03 ≈ 3%)",
        ),
        num(
            "explain_z",
            2.5,
            Some(0.0),
            None,
            "a change is explained when every independent source is within this many of its uncertainties",
        ),
        num(
            "explain_share",
            0.25,
            Some(0.0),
            Some(1.0),
            "a change is also explained when every independent source lies within this share of the figure's distance from its history (the sources account for the rest of the movement)",
        ),
        num(
            "source_correlation",
            0.5,
            Some(0.0),
            Some(1.0),
            "correlation of the sources' errors (they share the reported figure's own noise): 0 independent, 1 one source",
        ),
        int(
            "min_peers",
            10,
            Some(3.0),
            None,
            "fewest enterprises of a peer group (division × province, then division, then all)",
        ),
        flag(
            "explain_by_sources",
            true,
            "output-movement findings (IN004, IN005, IN008, IN009) the VAT and electricity records confirm become information",
        ),
        num(
            "stop_share",
            0.001,
            Some(0.0),
            Some(1.0),
            "stopping rule: lines until the expected remaining error is below this share of the county's year-to-date output",
        ),
    ],
    check: crate::settings::check::<Anticipation>,
};

/// The `[anticipation]` settings, read: one field per key of [`SETTINGS`]
/// (the model reads them as [`Settings`]).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anticipation {
    /// Prior share of wrong figures (π of the contamination model).
    pub prior_error_rate: f64,
    /// How much wider wrong figures spread than correct ones (λ).
    pub error_scale: f64,
    /// Fit the mixture to the data by EM.
    pub estimate_mixture: bool,
    /// Weight, in degrees of freedom, of the pooled spread of the own ratios.
    pub spread_prior_df: f64,
    /// Smallest λ the fit may reach.
    pub min_error_scale: f64,
    /// Smallest log-scale uncertainty of a source.
    pub sigma_floor: f64,
    /// A change is explained when every independent source is within this many
    /// of its uncertainties.
    pub explain_z: f64,
    /// A change is also explained when every independent source lies within this
    /// share of the figure's distance from its history.
    pub explain_share: f64,
    /// Correlation of the sources' errors.
    pub source_correlation: f64,
    /// Fewest enterprises of a peer group.
    pub min_peers: i64,
    /// Output-movement findings the VAT and electricity records confirm become
    /// information.
    pub explain_by_sources: bool,
    /// Stopping rule: share of the county's year-to-date output.
    pub stop_share: f64,
}

/// The findings an independent source can explain.
pub const EXPLAINABLE: &[&str] = &["IN004", "IN005", "IN008", "IN009"];

/// The rules whose findings read the anticipation: its own (AV001–AV003), the
/// changes it explains ([`EXPLAINABLE`]), the services revenue change the VAT
/// explains (SV001); their findings also fall to information when a verification
/// explained them.
pub const READERS: &[&str] = &[
    "AV001", "AV002", "AV003", "IN004", "IN005", "IN008", "IN009", "SV001",
];

/// The tables the anticipation reads, and so every rule of [`READERS`] with it.
pub const TABLES: &[Table] = &[
    Table::Industrial,
    Table::Tax,
    Table::Energy,
    Table::Verifications,
];

/// Of [`EXPLAINABLE`], the year-on-year changes (the others are month-on-month).
const YEAR_ON_YEAR: &[&str] = &["IN004", "IN008"];

/// The anticipation rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "AV001",
        title: t("产值远离各独立来源的预期", "Output far from every source"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值 {current} 千元，预期 {anticipated} 千元（{low}–{high}）；同月增值税应税销售额 {taxable} 千元，去年同月产值 {last_year} 千元、应税销售额 {taxable_ly} 千元 → {direction}，可能误差约 {expected_error} 千元",
            "{period}: gross output {current} thousand yuan, anticipated {anticipated} ({low}–{high}); taxable sales this month {taxable}, last year's output {last_year} and taxable sales {taxable_ly} → {direction_en}; expected error about {expected_error}",
        ),
        hint: t(
            "请企业提供本月产品产量和销售台账、增值税纳税申报表和销售发票，核实工业总产值",
            "Ask for this month's production and sales ledgers, the VAT return and sales invoices; verify gross output against them",
        ),
        what: t(
            "本月工业总产值与由本企业历史（去年同月 × 近期增长）、同行业同地区变动、增值税应税销售额和用电量共同推算的预期值相差超过 far_z 个标准差，独立来源（增值税、用电）不能解释，且按污染模型估计的数据有误概率不低于 min_p。",
            "This month's gross output lies more than far_z uncertainties from the value anticipated from the enterprise's own history (same month last year × recent growth), its peers' movement, its VAT taxable sales and its electricity together; the independent sources (VAT, electricity) do not explain it, and the contamination model's probability that the figure is wrong is at least min_p.",
        ),
        why: t(
            "数出无据：有账簿依据的产值会与增值税和用电同步变动。独立来源都不支持的产值最可能是推算、估报或虚报。增值税同步证实的增长不是疑点。",
            "Figures not taken from the books (数出无据): output kept from the books moves with VAT and electricity. Output no independent source supports is most likely estimated or inflated; growth the VAT records confirm is not a query.",
        ),
        example: t(
            "工业总产值 38,827 千元；同月增值税应税销售额 9,795 千元，去年同月产值 10,124 千元 → 预期约 10,500 千元，疑似多报。",
            "Gross output 38,827; taxable sales this month 9,795; last year's output in the month 10,124 → anticipated about 10,500: probably over-reported.",
        ),
        remedy: t(
            "对照增值税申报、产量台账和用电记录核实；确有未开票销售或库存增加的，提供证明；否则按实际更正。",
            "Verify against the VAT return, the production ledger and the electricity bill; document uninvoiced sales or stock build-up, otherwise correct the figure.",
        ),
        params: &[
            num("min_p", 0.9, Some(0.0), Some(1.0), "smallest probability that the figure is wrong"),
            num("far_z", 3.0, Some(0.0), None, "distance from the combined anticipation, in its uncertainties"),
            num("min_abs_thousand_yuan", 300.0, Some(0.0), None, "smaller gaps to the anticipated value are not judged (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(far_from_sources),
    },
    RuleDef {
        code: "AV002",
        title: t("疑似计量单位错误", "A unit slip"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值 {current} 千元，约为预期 {anticipated} 千元的 {factor_text}，疑似{slip}；按预期应约为 {suggested} 千元",
            "{period}: gross output {current} thousand yuan is about {factor_text} the anticipated {anticipated}: probably {slip_en}; about {suggested} expected",
        ),
        hint: t(
            "请企业核对填报计量单位（千元），提供本月财务报表，按千元更正",
            "Ask the enterprise to check the reporting unit (thousand yuan) against this month's accounts and correct it",
        ),
        what: t(
            "工业总产值约为各来源预期值的 10 倍、1000 倍或十分之一，且除以该倍数后与预期相符。",
            "Gross output about 10 times, 1,000 times or a tenth of the anticipated value, and in line with it once divided by that factor.",
        ),
        why: t(
            "元、万元误作千元填报是最常见的差错之一，对区县合计影响很大；按倍数更正后的数值就是应核实的建议值。",
            "Yuan or ten-thousand yuan keyed as thousand yuan is one of the commonest slips and moves the county's totals; the figure divided by the factor is the value to confirm.",
        ),
        example: t(
            "预期约 2,400 千元，填报 2,395,000 千元（约 1000 倍）→ 疑似以元填报，建议值约 2,395 千元。",
            "Anticipated about 2,400; reported 2,395,000 (about 1,000 times) → yuan keyed as thousand yuan; about 2,395 suggested.",
        ),
        remedy: t(
            "按千元更正。",
            "Correct the figure in thousand yuan.",
        ),
        params: &[num("min_abs_thousand_yuan", 100.0, Some(0.0), None, "smaller gaps are not judged (thousand yuan)")],
        basis: Basis::Figures,
        kind: Kind::Months(unit_slip),
    },
    RuleDef {
        code: "AV003",
        title: t("税产比较本企业往年下降", "VAT/output ratio falling against the enterprise's own past"),
        table: Table::Industrial,
        also_needs: &[Table::Tax],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "1 月至 {period} 应税销售额占工业总产值 {value:%}，上年同期 {before:%}，下降 {drop:%}（产值 {ytd_gross} 千元，按上年比例应税销售额应约 {expected_taxable} 千元）",
            "January to {period}: taxable sales are {value:%} of gross output against {before:%} in the same months last year, down {drop:%} (output {ytd_gross}; last year's ratio would give taxable sales of about {expected_taxable})",
        ),
        hint: t(
            "请企业说明税产比下降原因，提供本年与上年同期增值税纳税申报表、产品价格和库存变化",
            "Ask why the ratio fell; request this year's and last year's VAT returns, prices and stock changes",
        ),
        what: t(
            "本年累计应税销售额与工业总产值之比，较本企业上年同期下降超过 max_drop，且下降在统计上显著（按本企业月度比值的离散度，超过 min_z 个标准误），即使仍高于 90%。",
            "The year-to-date ratio of taxable sales to gross output fell more than max_drop against the same months last year, significantly so given the spread of the enterprise's monthly ratios (beyond min_z standard errors) — even while above 90%.",
        ),
        why: t(
            "产值逐月小幅虚增而增值税不变，税产比会缓慢下行；与自身往年比，比与 90% 红线比更早发现。",
            "Output inflated a little each month while VAT stays put lowers the ratio slowly; against the enterprise's own past it shows long before the 90% line.",
        ),
        example: t(
            "上年同期税产比 118%，本年 1–9 月 98% → 下降 17%，不通过。",
            "Last year 118% in the same months, this year 98% for January–September → down 17%, fails.",
        ),
        remedy: t(
            "核实产值与销售；价格或产品结构变化的，提供证明。",
            "Verify output against sales; document any change of prices or product mix.",
        ),
        params: &[
            num("max_drop", 0.12, Some(0.0), Some(1.0), "largest accepted fall of the ratio, relative to last year's"),
            num("min_z", 3.0, Some(0.0), None, "the fall in standard errors of the enterprise's monthly ratios"),
            int("min_months", 3, Some(1.0), Some(12.0), "fewest months with both figures in each year"),
            num("min_gross_thousand_yuan", 1000.0, Some(0.0), None, "smaller year-to-date outputs are not judged (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(ratio_drift),
    },
];

/// AV001's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av001 {
    min_p: f64,
    far_z: f64,
    min_abs_thousand_yuan: f64,
}

/// AV002's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av002 {
    min_abs_thousand_yuan: f64,
}

/// AV003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av003 {
    max_drop: f64,
    min_z: f64,
    min_months: i64,
    min_gross_thousand_yuan: f64,
}

/// The typed parameters of the anticipation rules.
pub const PARAMS: &[Typed] = &[
    typed::<Av001>("AV001"),
    typed::<Av002>("AV002"),
    typed::<Av003>("AV003"),
];

/// The settings of the anticipation model.
#[derive(Clone, Debug)]
pub struct Settings {
    pub(super) prior: f64,
    pub(super) scale: f64,
    pub(super) floor: f64,
    explain_z: f64,
    pub(super) rho: f64,
    explain_share: f64,
    pub(super) min_peers: usize,
    pub(super) estimate: bool,
    spread_df: f64,
    pub(super) min_scale: f64,
}

impl Settings {
    /// From the `[anticipation]` section, read.
    pub fn from_typed(a: &Anticipation) -> Settings {
        Settings {
            prior: a.prior_error_rate,
            scale: a.error_scale,
            floor: a.sigma_floor,
            explain_z: a.explain_z,
            rho: a.source_correlation,
            explain_share: a.explain_share,
            estimate: a.estimate_mixture,
            min_peers: a.min_peers.max(1) as usize,
            spread_df: a.spread_prior_df,
            min_scale: a.min_error_scale,
        }
    }
}

/// The contamination model fitted to a panel's distances: correct figures at
/// `z ~ N(0, sigma0²)`, wrong ones at `z ~ N(0, (scale · sigma0)²)`, a share
/// `prior` of them wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    /// Share of wrong figures (π).
    pub prior: f64,
    /// How much wider wrong figures spread (λ).
    pub scale: f64,
    /// Spread of correct figures' distances (1 when the uncertainties are right).
    pub sigma0: f64,
}

impl Mixture {
    /// Fits the mixture by EM (as SeleMix does), from `prior` and `scale` and the
    /// robust spread of `z`. The prior stays within [0.0001, 0.5], the scale at
    /// least `min_scale` (and 2), so the components keep their meaning: a
    /// component barely wider than the correct figures would take their heavy
    /// tails for errors.
    pub fn fit(z: &[f64], prior: f64, scale: f64, min_scale: f64) -> Mixture {
        // At most 20,000 distances, taken at an even stride (deterministic): the
        // fit of three numbers needs no more.
        let finite: Vec<f64> = z.iter().copied().filter(|x| x.is_finite()).collect();
        let stride = finite.len().div_ceil(20_000).max(1);
        let z: Vec<f64> = finite.into_iter().step_by(stride).collect();
        if z.len() < 50 {
            return Mixture {
                prior,
                scale,
                sigma0: 1.0,
            };
        }
        let mut v = z.clone();
        let (_, mad) = centre_spread(&mut v);
        let mut m = Mixture {
            prior,
            scale,
            sigma0: mad.clamp(0.5, 3.0),
        };
        let z2: Vec<f64> = z.iter().map(|x| x * x).collect();
        for _ in 0..100 {
            let (mut sr, mut srz, mut s1z) = (0.0, 0.0, 0.0);
            for &q in &z2 {
                let r = m.p_wrong(q.sqrt());
                sr += r;
                srz += r * q;
                s1z += (1.0 - r) * q;
            }
            let n = z2.len() as f64;
            let prior = (sr / n).clamp(0.0001, 0.5);
            let sigma0 = (s1z / (n - sr).max(1.0)).sqrt().clamp(0.3, 5.0);
            let scale = ((srz / sr.max(1e-9)).sqrt() / sigma0).clamp(min_scale.max(2.0), 1000.0);
            let next = Mixture {
                prior,
                scale,
                sigma0,
            };
            let done = (next.prior - m.prior).abs() < 1e-7
                && (next.sigma0 - m.sigma0).abs() < 1e-7
                && (next.scale - m.scale).abs() < 1e-6;
            m = next;
            if done {
                break;
            }
        }
        m
    }

    /// P(the figure is wrong) at distance `z`.
    pub fn p_wrong(&self, z: f64) -> f64 {
        p_wrong(z / self.sigma0, self.prior, self.scale)
    }
}

/// P(the figure is wrong) at distance `z` under the contamination model.
pub fn p_wrong(z: f64, prior: f64, scale: f64) -> f64 {
    if !z.is_finite() {
        return 1.0;
    }
    // Densities up to the common factor 1/√(2π); computed as a ratio to stay finite.
    // P = 1 / (1 + (1−π)/π · λ · exp(−z²/2 · (1 − 1/λ²)))
    let k = (1.0 - prior) / prior * scale * (-0.5 * z * z * (1.0 - 1.0 / (scale * scale))).exp();
    1.0 / (1.0 + k)
}

/// The median of non-empty `v` (reordered).
fn median(v: &mut [f64]) -> f64 {
    crate::detect::quantile::median_unsorted(v)
}

/// Median and 1.4826 · MAD.
fn centre_spread(v: &mut [f64]) -> (f64, f64) {
    let m = median(v);
    // An enterprise's own window (a dozen months) needs no allocation.
    let mut small = [0.0; 16];
    let mut large = Vec::new();
    let d: &mut [f64] = if v.len() <= small.len() {
        &mut small[..v.len()]
    } else {
        large.resize(v.len(), 0.0);
        &mut large
    };
    for (d, x) in d.iter_mut().zip(v.iter()) {
        *d = (x - m).abs();
    }
    (m, 1.4826 * median(d))
}

/// One source's anticipation: log value and log uncertainty.
#[derive(Clone, Copy, Debug)]
struct Src {
    a: f64,
    s: f64,
}

/// Combines sources: log anticipation and its uncertainty. The sources' errors
/// are taken as equicorrelated with correlation `rho` (each residual carries the
/// reported figure's own noise), so k sources of equal weight narrow the
/// variance to `s² (rho + (1 − rho)/k)`, not `s²/k`; and the uncertainty is
/// widened by the Birge ratio when the sources disagree beyond it.
fn combine(srcs: &[Src], floor: f64, rho: f64) -> Option<(f64, f64)> {
    if srcs.is_empty() {
        return None;
    }
    let w = |x: &Src| 1.0 / (x.s * x.s);
    let sw: f64 = srcs.iter().map(w).sum();
    let a = srcs.iter().map(|x| w(x) * x.a).sum::<f64>() / sw;
    let k_eff = sw * sw / srcs.iter().map(|x| w(x) * w(x)).sum::<f64>();
    let mut var = (1.0 + rho * (k_eff - 1.0)) / sw;
    if srcs.len() > 1 {
        let q: f64 = srcs.iter().map(|x| w(x) * (x.a - a).powi(2)).sum();
        var *= (q / (srcs.len() - 1) as f64 / (1.0 + rho * (k_eff - 1.0))).max(1.0);
    }
    Some((a, var.sqrt().max(floor)))
}

/// [`combine`] for two sources given as `(log anticipation, uncertainty)`, each
/// uncertainty at least the floor; a source that is not finite is left out.
pub(super) fn combine_two(a: (f64, f64), b: (f64, f64), s: &Settings) -> Option<(f64, f64)> {
    let srcs: Vec<Src> = [a, b]
        .into_iter()
        .filter(|(a, sd)| a.is_finite() && sd.is_finite())
        .map(|(a, sd)| Src {
            a,
            s: sd.max(s.floor),
        })
        .collect();
    combine(&srcs, s.floor, s.rho)
}

/// The own ratio `ln(y / x)` of an enterprise over a window: median and spread.
fn own_ratio(y: &[f64], x: &[f64], m: usize, min_x: f64) -> Option<(f64, f64, usize)> {
    own_ratio_in(
        |k| (y[k] > 0.0 && x[k] >= min_x && x[k] > 0.0).then(|| (y[k] / x[k]).ln()),
        m,
    )
}

/// Each month's `ln(y / x)`, NaN where [`own_ratio`] takes none, written to `out`
/// (an enterprise's ratios computed once for all its months).
fn log_ratios(y: &[f64], x: &[f64], min_x: f64, out: &mut Vec<f64>) {
    out.clear();
    out.extend(y.iter().zip(x).map(|(&y, &x)| {
        if y > 0.0 && x >= min_x && x > 0.0 {
            (y / x).ln()
        } else {
            f64::NAN
        }
    }));
}

/// [`own_ratio`] from each month's ratio (`None` where there is none): the year
/// before last if it has six, else the last twelve months if they have three.
fn own_ratio_in(ratio: impl Fn(usize) -> Option<f64>, m: usize) -> Option<(f64, f64, usize)> {
    let mut v = [0.0; 12];
    // Twelve months at most: the window `from..=to` is a year.
    let collect = |from: isize, to: isize, v: &mut [f64; 12]| -> usize {
        let mut n = 0;
        for k in from.max(0)..=to {
            if let Some(r) = ratio(k as usize) {
                v[n] = r;
                n += 1;
            }
        }
        n
    };
    let m = m as isize;
    let mut n = collect(m - 24, m - 13, &mut v);
    if n < 6 {
        n = collect(m - 12, m - 1, &mut v);
        if n < 3 {
            return None;
        }
    }
    let (c, s) = centre_spread(&mut v[..n]);
    Some((c, s, n))
}

/// The anticipation's statistics of the peers, as a frame (`kind`, `group`,
/// `period`, `a`, `b`, `c`): per group and month the centre (`a`) and spread
/// (`b`) of the peers' year-on-year changes (`yoy_dp`: division × province,
/// `yoy_div`, `yoy_all`) and of the own-history anticipation's errors
/// (`hist_div`, `hist_all`); per month the pooled spread of the own VAT and
/// electricity ratios (`s0_vat`, `s0_el`: `a`) and the mixture (`mix`: prior,
/// scale, σ₀).
#[derive(Default)]
struct StatRows {
    kind: Vec<&'static str>,
    group: Vec<String>,
    period: Vec<i32>,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
}

impl StatRows {
    fn push(&mut self, kind: &'static str, group: &str, period: i32, v: [f64; 3]) {
        self.kind.push(kind);
        self.group.push(group.to_string());
        self.period.push(period);
        self.a.push(v[0]);
        self.b.push(v[1]);
        self.c.push(v[2]);
    }

    fn frame(self) -> Result<DataFrame> {
        let n = self.kind.len();
        DataFrame::new(
            n,
            vec![
                Column::new("kind".into(), self.kind),
                Column::new("group".into(), self.group),
                Column::new("period".into(), self.period),
                Column::new("a".into(), self.a),
                Column::new("b".into(), self.b),
                Column::new("c".into(), self.c),
            ],
        )
        .map_err(pe)
    }
}

/// Given peer statistics, by kind, group and period.
type Given = HashMap<(String, String, i32), [f64; 3]>;

fn given_of(rows: GivenRows<'_>, groups: &[String]) -> Result<Given> {
    // Only the groups asked for (a live answer's few enterprises' groups and
    // all): the whole frame is every group of the register.
    let wanted = DataFrame::new(
        groups.len(),
        vec![Column::new("group".into(), groups.to_vec())],
    )
    .map_err(pe)?;
    let df = &rows(&wanted)?;
    let k = df.column("kind").map_err(pe)?.str().map_err(pe)?;
    let g = df.column("group").map_err(pe)?.str().map_err(pe)?;
    let p = df.column("period").map_err(pe)?.i32().map_err(pe)?;
    let f = |c: &str| -> Result<Float64Chunked> {
        Ok(df.column(c).map_err(pe)?.f64().map_err(pe)?.clone())
    };
    let (a, b, c) = (f("a")?, f("b")?, f("c")?);
    let mut out = Given::with_capacity(df.height());
    for i in 0..df.height() {
        if let (Some(k), Some(g), Some(p)) = (k.get(i), g.get(i), p.get(i)) {
            out.insert(
                (k.to_string(), g.to_string(), p),
                [
                    a.get(i).unwrap_or(f64::NAN),
                    b.get(i).unwrap_or(f64::NAN),
                    c.get(i).unwrap_or(f64::NAN),
                ],
            );
        }
    }
    Ok(out)
}

/// The anticipation of every enterprise-month from `first` to `last` (with the
/// 24 months before as history): one row per reported gross output.
pub fn compute(batch: &Batch, first: Month, last: Month, s: &Settings) -> Result<DataFrame> {
    Ok(compute_with(batch, first, last, s, None)?.0)
}

/// The rows of given peer statistics for some groups (a frame of their codes in
/// `group`).
type GivenRows<'a> = &'a dyn Fn(&DataFrame) -> Result<DataFrame>;

/// [`compute`], with its peers' statistics `given` (a live answer about a few
/// enterprises, against the last full audit's peers) or computed from the batch;
/// returns them too.
fn compute_with(
    batch: &Batch,
    first: Month,
    last: Month,
    s: &Settings,
    given: Option<GivenRows<'_>>,
) -> Result<(DataFrame, DataFrame)> {
    let Some(ind) = batch.table(Table::Industrial) else {
        return Ok((empty(), StatRows::default().frame()?));
    };
    let panel = Panel::build(batch, ind, first.0 - 24, last.0)?;
    let peers = Peers::of(&batch.enterprises)?;
    let given = given.map(|g| given_of(g, &peers.groups())).transpose()?;
    let mut stats = StatRows::default();
    // The enterprises with an output in the window.
    let slices: Vec<usize> = (0..panel.n_ent)
        .filter(|&e| panel.enterprise(e).0.iter().any(|v| *v > 0.0))
        .collect();
    let f0 = (first.0 - panel.lo) as usize;
    let peer = peer_stats(&panel, &peers, &slices, f0, s, given.as_ref(), &mut stats);
    let (s0_vat, s0_el) = pooled_spreads(&panel, f0, given.as_ref(), &mut stats);
    let sources = Sources {
        panel: &panel,
        peers: &peers,
        peer: &peer,
        s0_vat: &s0_vat,
        s0_el: &s0_el,
        s,
    };
    // Every enterprise-month. Rows come in enterprise order, months ascending
    // (the parallel fold keeps the order of the enterprises).
    let parts: Vec<Rows> = slices
        .par_chunks(4096)
        .map(|chunk| {
            let mut out = Rows::default();
            let (mut lr_vat, mut lr_el) = (Vec::new(), Vec::new());
            for &e in chunk {
                let (y, t, el) = panel.enterprise(e);
                log_ratios(y, t, 0.0, &mut lr_vat);
                log_ratios(y, el, 5.0, &mut lr_el);
                for m in f0..panel.width {
                    if let Some(a) = sources.assess(e, m, [&lr_vat, &lr_el]) {
                        out.push(e, panel.lo + m as i32, a);
                    }
                }
            }
            out
        })
        .collect();
    let rows = Rows::concat(parts);
    let mixes = month_mixtures(&rows, s, given.as_ref(), &mut stats);
    Ok((rows.frame(&mixes, fixed_mixture(s))?, stats.frame()?))
}

/// Enterprise × month arrays (the enterprise id is the register's row, the months
/// `lo, lo + 1, …` side by side): no join and no sort.
struct Panel {
    lo: i32,
    width: usize,
    n_ent: usize,
    /// Gross output, taxable sales and electricity; NaN where not reported.
    ys: Vec<f64>,
    ts: Vec<f64>,
    els: Vec<f64>,
}

impl Panel {
    /// The months `lo..=hi` of the industrial, tax and energy tables.
    fn build(batch: &Batch, ind: &DataFrame, lo: i32, hi: i32) -> Result<Panel> {
        let width = (hi - lo + 1) as usize;
        let n_ent = batch.enterprises.height();
        let column = |df: &DataFrame, c: &str| -> Result<Vec<f64>> {
            Ok(dense(df, c, n_ent, lo, width)?.unwrap_or_else(|| vec![f64::NAN; n_ent * width]))
        };
        let table = |t: Table, c: &str| -> Result<Vec<f64>> {
            match batch.table(t) {
                Some(df) => column(df, c),
                None => Ok(vec![f64::NAN; n_ent * width]),
            }
        };
        // The three tables side by side.
        let (ys, (ts, els)) = rayon::join(
            || column(ind, "gross_output"),
            || {
                rayon::join(
                    || table(Table::Tax, "taxable_sales"),
                    || table(Table::Energy, "electricity"),
                )
            },
        );
        Ok(Panel {
            lo,
            width,
            n_ent,
            ys: ys?,
            ts: ts?,
            els: els?,
        })
    }

    /// An enterprise's months of output, taxable sales and electricity.
    fn enterprise(&self, e: usize) -> (&[f64], &[f64], &[f64]) {
        let r = e * self.width..(e + 1) * self.width;
        (&self.ys[r.clone()], &self.ts[r.clone()], &self.els[r])
    }
}

/// Column `c` of a long table (`eid`, `period`) laid out enterprise × month;
/// `None` when the table has no such column.
fn dense(df: &DataFrame, c: &str, n_ent: usize, lo: i32, width: usize) -> Result<Option<Vec<f64>>> {
    if df.column(c).is_err() {
        return Ok(None);
    }
    let mut out = vec![f64::NAN; n_ent * width];
    super::panel::each_row(df, c, |e, p, v| {
        if let Some(k) = p.checked_sub(lo) {
            if (0..width as i32).contains(&k) && (e as usize) < n_ent {
                out[e as usize * width + k as usize] = v.unwrap_or(f64::NAN);
            }
        }
    })?;
    Ok(Some(out))
}

/// The register's peer groups: industry division (the code's first two digits)
/// × province (the county code's first two), and division alone.
struct Peers {
    /// Each enterprise's group id.
    div_of: Vec<u32>,
    dp_of: Vec<u32>,
    /// Each group id's code (`"13"`, `"13/44"`).
    div_code: Vec<String>,
    dp_code: Vec<String>,
}

impl Peers {
    fn of(ents: &DataFrame) -> Result<Peers> {
        let col = |c: &str| -> Result<StringChunked> {
            Ok(ents.column(c).map_err(pe)?.str().map_err(pe)?.clone())
        };
        let (ind_code, county) = (col("industry_code")?, col("county_code")?);
        let mut div_ids: HashMap<String, u32> = HashMap::new();
        let mut dp_ids: HashMap<String, u32> = HashMap::new();
        let mut div_of = Vec::with_capacity(ents.height());
        let mut dp_of = Vec::with_capacity(ents.height());
        for i in 0..ents.height() {
            let d: String = ind_code.get(i).unwrap_or("").chars().take(2).collect();
            let p: String = county.get(i).unwrap_or("").chars().take(2).collect();
            let n = div_ids.len() as u32;
            div_of.push(*div_ids.entry(d.clone()).or_insert(n));
            let n = dp_ids.len() as u32;
            dp_of.push(*dp_ids.entry(format!("{d}/{p}")).or_insert(n));
        }
        // Group codes by id, for the statistics.
        let codes = |ids: &HashMap<String, u32>| -> Vec<String> {
            let mut v = vec![String::new(); ids.len().max(1)];
            for (c, i) in ids {
                v[*i as usize] = c.clone();
            }
            v
        };
        Ok(Peers {
            div_of,
            dp_of,
            div_code: codes(&div_ids),
            dp_code: codes(&dp_ids),
        })
    }

    /// Every group's code, and `""` for all enterprises.
    fn groups(&self) -> Vec<String> {
        let all = [String::new()];
        self.div_code
            .iter()
            .chain(&self.dp_code)
            .chain(&all)
            .cloned()
            .collect()
    }
}

/// The output's growth over the same three months a year before, from at least
/// two of them, within a factor of three.
fn growth(y: &[f64], m: usize) -> Option<f64> {
    let (mut a, mut b, mut n) = (0.0, 0.0, 0);
    for k in 1..=3 {
        if m >= 12 + k && y[m - k] > 0.0 && y[m - 12 - k] > 0.0 {
            a += y[m - k];
            b += y[m - 12 - k];
            n += 1;
        }
    }
    (n >= 2).then(|| (a / b).clamp(1.0 / 3.0, 3.0))
}

/// Centre and spread by group and month (dense: group × month).
type ByGroup = Vec<Option<(f64, f64)>>;

/// The peers' year-on-year changes (division × province, division, all) and the
/// spread of the own-history anticipation (division, all).
struct PeerStats {
    width: usize,
    yoy_dp: ByGroup,
    yoy_div: ByGroup,
    yoy_all: ByGroup,
    hist_div: ByGroup,
    hist_all: ByGroup,
}

impl PeerStats {
    fn at(&self, v: &ByGroup, g: u32, m: usize) -> Option<(f64, f64)> {
        v.get(g as usize * self.width + m).copied().flatten()
    }
}

/// [`PeerStats`] from one pass over the enterprises (medians do not depend on the
/// order of the values, so one sequential pass is deterministic), recorded in
/// `stats`; or taken from `given`.
fn peer_stats(
    panel: &Panel,
    peers: &Peers,
    slices: &[usize],
    f0: usize,
    s: &Settings,
    given: Option<&Given>,
    stats: &mut StatRows,
) -> PeerStats {
    let width = panel.width;
    let (n_dp, n_div) = (peers.dp_code.len(), peers.div_code.len());
    let slices: &[usize] = if given.is_some() { &[] } else { slices };
    let mut yoy_dp: Vec<Vec<f64>> = vec![Vec::new(); n_dp * width];
    let mut yoy_div: Vec<Vec<f64>> = vec![Vec::new(); n_div * width];
    let mut yoy_all: Vec<Vec<f64>> = vec![Vec::new(); width];
    let mut hist_div: Vec<Vec<f64>> = vec![Vec::new(); n_div * width];
    let mut hist_all: Vec<Vec<f64>> = vec![Vec::new(); width];
    for &e in slices {
        let (y, _, _) = panel.enterprise(e);
        let (dp, dv) = (peers.dp_of[e] as usize, peers.div_of[e] as usize);
        for m in f0..width {
            if !(y[m] > 0.0 && m >= 12 && y[m - 12] > 0.0) {
                continue;
            }
            let r = (y[m] / y[m - 12]).ln();
            yoy_dp[dp * width + m].push(r);
            yoy_div[dv * width + m].push(r);
            yoy_all[m].push(r);
            if let Some(g) = growth(y, m) {
                let h = r - g.ln();
                hist_div[dv * width + m].push(h);
                hist_all[m].push(h);
            }
        }
    }
    let summarise = |b: Vec<Vec<f64>>| -> ByGroup {
        b.into_par_iter()
            .map(|mut v| (v.len() >= s.min_peers).then(|| centre_spread(&mut v)))
            .collect()
    };
    let mut out = PeerStats {
        width,
        yoy_dp: summarise(yoy_dp),
        yoy_div: summarise(yoy_div),
        yoy_all: summarise(yoy_all),
        hist_div: summarise(hist_div),
        hist_all: summarise(hist_all),
    };
    // Kept (computed) or taken (given), group by group and month by month.
    let all_code = vec![String::new()];
    for (kind, v, code) in [
        ("yoy_dp", &mut out.yoy_dp, &peers.dp_code),
        ("yoy_div", &mut out.yoy_div, &peers.div_code),
        ("yoy_all", &mut out.yoy_all, &all_code),
        ("hist_div", &mut out.hist_div, &peers.div_code),
        ("hist_all", &mut out.hist_all, &all_code),
    ] {
        for (g, c) in code.iter().enumerate() {
            for m in f0..width {
                let k = g * width + m;
                let period = panel.lo + m as i32;
                match given {
                    Some(gv) => {
                        v[k] = gv
                            .get(&(kind.to_string(), c.clone(), period))
                            .map(|x| (x[0], x[1]));
                    }
                    None => {
                        if let Some((a, b)) = v[k] {
                            stats.push(kind, c, period, [a, b, f64::NAN]);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The pooled spread of the enterprises' own VAT and electricity ratios, per
/// month, recorded in `stats`; or taken from `given`. Each enterprise's own
/// spread, from a dozen months, is drawn towards it (moderated variance).
fn pooled_spreads(
    panel: &Panel,
    f0: usize,
    given: Option<&Given>,
    stats: &mut StatRows,
) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    if let Some(gv) = given {
        let of = |kind: &str| -> Vec<Option<f64>> {
            (0..panel.width)
                .map(|m| {
                    gv.get(&(kind.to_string(), String::new(), panel.lo + m as i32))
                        .map(|x| x[0])
                })
                .collect()
        };
        return (of("s0_vat"), of("s0_el"));
    }
    let (v, e) = (pooled(panel, f0, 0, 0.0), pooled(panel, f0, 1, 5.0));
    for (kind, x) in [("s0_vat", &v), ("s0_el", &e)] {
        for (m, x) in x.iter().enumerate() {
            if let Some(x) = x {
                stats.push(kind, "", panel.lo + m as i32, [*x, f64::NAN, f64::NAN]);
            }
        }
    }
    (v, e)
}

/// The median own spread of VAT (`which` 0) or electricity (1) ratios per month,
/// over a sample of up to 5,000 enterprises, every k-th of the register, so that a
/// month's value does not depend on the months audited with it.
fn pooled(panel: &Panel, f0: usize, which: usize, min_x: f64) -> Vec<Option<f64>> {
    let stride = panel.n_ent.div_ceil(5_000).max(1);
    (0..panel.width)
        .into_par_iter()
        .map(|m| {
            if m < f0 {
                return None;
            }
            let mut v: Vec<f64> = (0..panel.n_ent)
                .step_by(stride)
                .filter_map(|e| {
                    let (y, t, el) = panel.enterprise(e);
                    let x = if which == 0 { t } else { el };
                    own_ratio(y, x, m, min_x).map(|r| r.1)
                })
                .collect();
            (v.len() >= 20).then(|| median(&mut v))
        })
        .collect()
}

/// An enterprise's spread `sp` from `n` ratios, drawn towards the pooled `s0`.
fn moderate(s: &Settings, sp: f64, n: usize, s0: Option<f64>) -> f64 {
    // A MAD from n values carries about 0.37 n degrees of freedom.
    match s0 {
        Some(s0) if s.spread_df > 0.0 => {
            let nu = 0.37 * n as f64;
            ((nu * sp * sp + s.spread_df * s0 * s0) / (nu + s.spread_df)).sqrt()
        }
        _ => sp,
    }
}

/// Everything an enterprise-month is judged against.
struct Sources<'a> {
    panel: &'a Panel,
    peers: &'a Peers,
    peer: &'a PeerStats,
    s0_vat: &'a [Option<f64>],
    s0_el: &'a [Option<f64>],
    s: &'a Settings,
}

/// What the sources make of one enterprise-month: the values of [`COLUMNS`] (P(wrong)
/// and the expected error left for the mixture) and the flags.
struct Assessed {
    vals: [Option<f64>; 16],
    explained: bool,
    explained_yoy: bool,
    explained_mom: bool,
    independent: bool,
}

impl Sources<'_> {
    /// Enterprise `e` in month `m` of the panel, with its [`log_ratios`] of VAT
    /// and of electricity; `None` without an output or any source.
    fn assess(&self, e: usize, m: usize, lr: [&[f64]; 2]) -> Option<Assessed> {
        let (s, peer, peers) = (self.s, self.peer, self.peers);
        let (y, t, el) = self.panel.enterprise(e);
        if y[m].is_nan() || y[m] <= 0.0 {
            return None;
        }
        let ly = y[m].ln();
        let y12 = (m >= 12 && y[m - 12] > 0.0).then(|| y[m - 12]);
        let mut hist = None;
        let mut from_peers = None;
        if let Some(y12) = y12 {
            if let (Some(g), Some((_, sp))) = (
                growth(y, m),
                peer.at(&peer.hist_div, peers.div_of[e], m)
                    .or_else(|| peer.at(&peer.hist_all, 0, m)),
            ) {
                hist = Some(Src {
                    a: (y12 * g).ln(),
                    s: sp.max(s.floor),
                });
            }
            if let Some((c, sp)) = peer
                .at(&peer.yoy_dp, peers.dp_of[e], m)
                .or_else(|| peer.at(&peer.yoy_div, peers.div_of[e], m))
                .or_else(|| peer.at(&peer.yoy_all, 0, m))
            {
                from_peers = Some(Src {
                    a: y12.ln() + c,
                    s: sp.max(s.floor),
                });
            }
        }
        if let (Some(h), Some(p)) = (hist.as_mut(), from_peers.as_mut()) {
            h.s *= std::f64::consts::SQRT_2;
            p.s *= std::f64::consts::SQRT_2;
        }
        let indep = |x: &[f64], lr: &[f64], min_x: f64, s0: Option<f64>| -> Option<Src> {
            if !(x[m] >= min_x && x[m] > 0.0) {
                return None;
            }
            let (c, sp, n) = own_ratio_in(|k| Some(lr[k]).filter(|r| !r.is_nan()), m)?;
            let sp = moderate(s, sp, n, s0);
            // The median of n ratios is itself uncertain (≈ 1.25 s / √n).
            let sp = sp.max(s.floor) * (1.0 + 1.57 / n as f64).sqrt();
            Some(Src {
                a: x[m].ln() + c,
                s: sp,
            })
        };
        let vat = indep(t, lr[0], 0.0, self.s0_vat[m]);
        let elec = indep(el, lr[1], 5.0, self.s0_el[m]);
        let mut srcs = [Src { a: 0.0, s: 0.0 }; 4];
        let mut k = 0;
        for x in [hist, from_peers, vat, elec].into_iter().flatten() {
            srcs[k] = x;
            k += 1;
        }
        let (la, sa) = combine(&srcs[..k], s.floor, s.rho)?;
        let z = (ly - la) / sa;
        let zof = |x: Option<Src>| x.map(|x| (ly - x.a) / x.s);
        let independent = vat.is_some() || elec.is_some();
        // Explained: every independent source agrees with the figure, or
        // accounts for most of its distance from the history-based value;
        // Or the figure agrees with the sources together and with one
        // independent source.
        let moved = hist.or(from_peers).map(|h| (ly - h.a).abs());
        let agrees = |x: &Src| (ly - x.a).abs() <= s.explain_z * x.s;
        let explained = independent
            && ([vat, elec].into_iter().flatten().all(|x| {
                agrees(&x) || moved.is_some_and(|m| (ly - x.a).abs() <= s.explain_share * m)
            }) || (z.abs() <= s.explain_z && [vat, elec].iter().flatten().any(agrees)));
        // A change from a given figure (the same month last year, the month
        // before) is also explained when every independent source accounts for
        // all but `explain_share` of it: a grower whose history anticipates its
        // growth still has its year-on-year jump confirmed by the VAT that moved
        // with it.
        let covers = |base: Option<f64>| {
            base.is_some_and(|b| {
                let moved = (ly - b.ln()).abs();
                independent
                    && [vat, elec]
                        .into_iter()
                        .flatten()
                        .all(|x| agrees(&x) || (ly - x.a).abs() <= s.explain_share * moved)
            })
        };
        let y1 = (m >= 1 && y[m - 1] > 0.0).then(|| y[m - 1]);
        let tat = |k: usize| (t[k] >= 0.0).then(|| t[k]);
        Some(Assessed {
            vals: [
                Some(y[m]),
                Some(la.exp()),
                Some(sa),
                Some(z),
                None,
                None,
                hist.map(|x| x.a.exp()),
                from_peers.map(|x| x.a.exp()),
                vat.map(|x| x.a.exp()),
                elec.map(|x| x.a.exp()),
                zof(hist).or(zof(from_peers)),
                zof(vat),
                zof(elec),
                tat(m),
                if m >= 12 { tat(m - 12) } else { None },
                y12,
            ],
            explained,
            explained_yoy: explained || covers(y12),
            explained_mom: explained || covers(y1),
            independent,
        })
    }
}

/// The assessed enterprise-months, column by column: each float column's values
/// (0 where missing) and validity side by side, the layout of the frame's arrays,
/// so that building the frame copies nothing.
#[derive(Default)]
struct Rows {
    eid: Vec<u32>,
    period: Vec<i32>,
    cols: [Vec<f64>; 16],
    valid: [MutableBitmap; 16],
    /// `explained`, `explained_yoy`, `explained_mom`, `independent`.
    flags: [Vec<bool>; 4],
}

impl Rows {
    fn push(&mut self, e: usize, period: i32, a: Assessed) {
        self.eid.push(e as u32);
        self.period.push(period);
        for ((c, ok), v) in self.cols.iter_mut().zip(&mut self.valid).zip(a.vals) {
            c.push(v.unwrap_or(0.0));
            ok.push(v.is_some());
        }
        let flags = [a.explained, a.explained_yoy, a.explained_mom, a.independent];
        for (c, v) in self.flags.iter_mut().zip(flags) {
            c.push(v);
        }
    }

    fn len(&self) -> usize {
        self.eid.len()
    }

    /// The value of column `c` in row `i`.
    fn get(&self, c: usize, i: usize) -> Option<f64> {
        self.valid[c].get(i).then(|| self.cols[c][i])
    }

    /// `parts` one after the other, each column allocated once at its final
    /// length and each part's column freed as soon as it is copied.
    fn concat(mut parts: Vec<Rows>) -> Rows {
        let n: usize = parts.iter().map(Rows::len).sum();
        fn joined<T: Copy>(
            parts: &mut [Rows],
            n: usize,
            of: impl Fn(&mut Rows) -> &mut Vec<T>,
        ) -> Vec<T> {
            let mut out = Vec::with_capacity(n);
            for p in parts.iter_mut() {
                out.extend_from_slice(of(p));
                *of(p) = Vec::new();
            }
            out
        }
        let mut out = Rows {
            eid: joined(&mut parts, n, |p| &mut p.eid),
            period: joined(&mut parts, n, |p| &mut p.period),
            ..Rows::default()
        };
        for c in 0..16 {
            out.cols[c] = joined(&mut parts, n, |p| &mut p.cols[c]);
            let mut ok = MutableBitmap::with_capacity(n);
            for p in parts.iter_mut() {
                ok.extend_from_bitmap(&std::mem::take(&mut p.valid[c]).into());
            }
            out.valid[c] = ok;
        }
        for c in 0..4 {
            out.flags[c] = joined(&mut parts, n, |p| &mut p.flags[c]);
        }
        out
    }

    /// The anticipation frame: the rows with P(wrong), the expected error and
    /// their month's mixture.
    fn frame(mut self, mixes: &HashMap<i32, Mixture>, fixed: Mixture) -> Result<DataFrame> {
        let n = self.len();
        let mut mix_cols: [Vec<f64>; 3] = [
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        ];
        let (mut p_wrong, mut expected) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let mix = mixes.get(&self.period[i]).copied().unwrap_or(fixed);
            mix_cols[0].push(mix.prior);
            mix_cols[1].push(mix.scale);
            mix_cols[2].push(mix.sigma0);
            let z = self.get(3, i).unwrap_or(0.0);
            let p = mix.p_wrong(z);
            let gap = (self.get(0, i).unwrap_or(0.0) - self.get(1, i).unwrap_or(0.0)).abs();
            p_wrong.push(p);
            expected.push(p * gap);
        }
        self.cols[4] = p_wrong;
        self.cols[5] = expected;
        for c in [4, 5] {
            self.valid[c] = MutableBitmap::new();
            self.valid[c].extend_constant(n, true);
        }
        let mut columns = vec![
            Column::new("eid".into(), self.eid),
            Column::new("period".into(), self.period),
        ];
        for ((name, v), ok) in COLUMNS.iter().zip(self.cols).zip(self.valid) {
            let ok: Bitmap = ok.into();
            let ok = (ok.unset_bits() > 0).then_some(ok);
            columns.push(Float64Chunked::from_vec_validity((*name).into(), v, ok).into_column());
        }
        let [ex, ex_yoy, ex_mom, indep] = self.flags;
        columns.push(Column::new("explained".into(), ex));
        columns.push(Column::new("explained_yoy".into(), ex_yoy));
        columns.push(Column::new("explained_mom".into(), ex_mom));
        columns.push(Column::new("independent".into(), indep));
        let [mp, ms, m0] = mix_cols;
        columns.push(Column::new("mix_prior".into(), mp));
        columns.push(Column::new("mix_scale".into(), ms));
        columns.push(Column::new("mix_sigma0".into(), m0));
        DataFrame::new(n, columns).map_err(pe)
    }
}

/// The mixture with the pipeline's prior and scale.
fn fixed_mixture(s: &Settings) -> Mixture {
    Mixture {
        prior: s.prior,
        scale: s.scale,
        sigma0: 1.0,
    }
}

/// P(wrong)'s mixture for each month, fitted to the month's distances across
/// enterprises (so a month's figures are judged the same whichever months are
/// audited with it) and recorded in `stats`; or taken from `given`.
fn month_mixtures(
    rows: &Rows,
    s: &Settings,
    given: Option<&Given>,
    stats: &mut StatRows,
) -> HashMap<i32, Mixture> {
    let mut by_month: HashMap<i32, Vec<f64>> = HashMap::new();
    for (i, p) in rows.period.iter().enumerate() {
        if let Some(z) = rows.get(3, i) {
            by_month.entry(*p).or_default().push(z);
        }
    }
    let fixed = fixed_mixture(s);
    if let Some(gv) = given {
        return by_month
            .keys()
            .map(|p| {
                let m = gv
                    .get(&("mix".to_string(), String::new(), *p))
                    .map(|x| Mixture {
                        prior: x[0],
                        scale: x[1],
                        sigma0: x[2],
                    })
                    .unwrap_or(fixed);
                (*p, m)
            })
            .collect();
    }
    let mixes: HashMap<i32, Mixture> = by_month
        .into_par_iter()
        .map(|(p, z)| {
            let m = if s.estimate {
                Mixture::fit(&z, s.prior, s.scale, s.min_scale)
            } else {
                fixed
            };
            (p, m)
        })
        .collect();
    let mut ps: Vec<_> = mixes.iter().collect();
    ps.sort_by_key(|(p, _)| **p);
    for (p, m) in ps {
        stats.push("mix", "", *p, [m.prior, m.scale, m.sigma0]);
    }
    mixes
}

/// The float columns of the anticipation frame, in order.
const COLUMNS: [&str; 16] = [
    "current",
    "anticipated",
    "sigma",
    "z",
    "p_wrong",
    "expected_error",
    "from_history",
    "from_peers",
    "from_vat",
    "from_electricity",
    "z_history",
    "z_vat",
    "z_electricity",
    "taxable",
    "taxable_ly",
    "last_year",
];

fn empty() -> DataFrame {
    let mut cols = vec![
        Column::new_empty("eid".into(), &DataType::UInt32),
        Column::new_empty("period".into(), &DataType::Int32),
    ];
    for c in COLUMNS {
        cols.push(Column::new_empty(c.into(), &DataType::Float64));
    }
    cols.push(Column::new_empty("explained".into(), &DataType::Boolean));
    cols.push(Column::new_empty(
        "explained_yoy".into(),
        &DataType::Boolean,
    ));
    cols.push(Column::new_empty(
        "explained_mom".into(),
        &DataType::Boolean,
    ));
    cols.push(Column::new_empty("independent".into(), &DataType::Boolean));
    for c in ["mix_prior", "mix_scale", "mix_sigma0"] {
        cols.push(Column::new_empty(c.into(), &DataType::Float64));
    }
    DataFrame::new(0, cols).expect("static schema")
}

/// The name of the anticipation's peer statistics over the months `first` to
/// `last` (a run of one period: its year to date).
pub fn stat_key(first: Month, last: Month) -> String {
    format!("anticipation@{first}..{last}")
}

/// The anticipation over the years audited by `ctx`, shared by the rules.
pub fn panel(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("anticipation", || {
        let started = std::time::Instant::now();
        let panel = anticipation(ctx);
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "anticipated {}–{}",
            ctx.from.year_start(),
            ctx.period
        );
        panel
    })
}

/// The anticipation a run of `period` computed (in `frames`), as a run auditing
/// the months `from` to `to` would compute it: its rows up to `to`, when both runs
/// look back from the same January. A month's row reads only that month and the
/// months before it back to the window's start, its peers' figures of the same
/// months and its month's mixture, so the rows are the same to the last bit.
/// Empty when the frame is not there or the windows differ.
pub fn narrowed(frames: &Frames, period: Month, from: Month, to: Month) -> Result<Frames> {
    let mut out = Frames::new();
    let Some(a) = frames.get("anticipation") else {
        return Ok(out);
    };
    if from.year_start() != period.year_start() || to > period || from > to {
        return Ok(out);
    }
    let rows = a
        .clone()
        .lazy()
        .filter(col("period").lt_eq(lit(to.0)))
        .collect()
        .map_err(pe)?;
    out.insert("anticipation", rows);
    Ok(out)
}

/// [`panel`], computed.
fn anticipation(ctx: &Ctx<'_>) -> Result<DataFrame> {
    {
        let (first, last) = (ctx.from.year_start(), ctx.period);
        let s = Settings::from_typed(&ctx.set.anticipation);
        // The peers' statistics (changes, spreads, the mixture) as a peer
        // statistic of the run: given to a live answer, else computed here.
        let key = stat_key(first, last);
        match ctx.given_peer_stat(&key) {
            Some(Ok(whole)) => {
                let rows = |groups: &DataFrame| {
                    ctx.given_rows(&key, &["group"], groups)
                        .unwrap_or_else(|| Ok(whole.clone()))
                };
                Ok(compute_with(ctx.batch, first, last, &s, Some(&rows))?.0)
            }
            // Not kept (a snapshot of another pipeline or period): the peers are
            // the context's own enterprises, as before statistics were kept.
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the anticipation's peers are the context's own");
                Ok(compute_with(ctx.batch, first, last, &s, None)?.0)
            }
            None => {
                let (panel, stats) = compute_with(ctx.batch, first, last, &s, None)?;
                ctx.keep_peer_stat(&key, stats);
                Ok(panel)
            }
        }
    }
}

/// The anticipation rows each audited month looks at, with `_fails` computed
/// from `extra` columns and `fails` first (so that over several months only
/// failing rows are repeated).
fn audited_rows(ctx: &Ctx<'_>, extra: Vec<Expr>, fails: Expr) -> Result<DataFrame> {
    let lf = panel(ctx)?
        .lazy()
        .with_columns(extra)
        .with_column(fails.alias("_fails"));
    ytd_audits(ctx, lf)?.collect().map_err(pe)
}

/// The figure's columns of an AV001 or AV002 finding: period, reported value,
/// anticipated value (as the threshold and by name).
fn figure_columns() -> [Expr; 4] {
    [
        month_text(col("period")).alias("period"),
        col("current").alias("value"),
        col("anticipated")
            .round(0, RoundMode::HalfAwayFromZero)
            .alias("threshold"),
        col("anticipated").round(0, RoundMode::HalfAwayFromZero),
    ]
}

/// One end of the anticipation's band, `â · e^(±2s)`, in whole thousands.
fn band(sign: f64) -> Expr {
    (col("anticipated") * (lit(2.0 * sign) * col("sigma")).exp())
        .round(0, RoundMode::HalfAwayFromZero)
}

/// A note when no figure of the months audited could be anticipated (too little
/// history: a year, or three months with VAT or electricity, is needed), so that
/// "nothing found" is not read as "nothing wrong".
fn with_history_note(mut out: RuleOutput, ctx: &Ctx<'_>) -> Result<RuleOutput> {
    if panel(ctx)?.height() == 0 {
        out.note = Some(
            "no figure could be anticipated: too little history (a year, or three months with VAT or electricity)"
                .to_string(),
        );
    }
    Ok(out)
}

fn far_from_sources(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av001 {
        min_p,
        far_z: far,
        min_abs_thousand_yuan: min_abs,
    } = cfg.params()?;
    let df = audited_rows(
        ctx,
        vec![],
        when(col("independent"))
            .then(
                col("p_wrong")
                    .gt_eq(lit(min_p))
                    .and(col("z").abs().gt(lit(far)))
                    .and(
                        (col("current") - col("anticipated"))
                            .abs()
                            .gt_eq(lit(min_abs)),
                    )
                    .and(col("explained").not()),
            )
            .otherwise(lit(NULL).cast(DataType::Boolean)),
    )?;
    let mut columns = figure_columns().to_vec();
    columns.extend([
        band(-1.0).alias("low"),
        band(1.0).alias("high"),
        col("expected_error").round(0, RoundMode::HalfAwayFromZero),
        when(col("current").gt(col("anticipated")))
            .then(lit("疑似多报"))
            .otherwise(lit("疑似少报"))
            .alias("direction"),
        when(col("current").gt(col("anticipated")))
            .then(lit("probably over-reported"))
            .otherwise(lit("probably under-reported"))
            .alias("direction_en"),
        // 1 at the far line, up to 5.
        (col("z").abs() / lit(far.max(0.1)))
            .clip(lit(0.2), lit(5.0))
            .alias("strength"),
    ]);
    with_history_note(outcome_of(ctx, &df, columns)?, ctx)
}

fn unit_slip(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av002 {
        min_abs_thousand_yuan: min_abs,
    } = cfg.params()?;
    // The factor whose correction lands within the anticipation's band.
    let ratio = (col("current") / col("anticipated")).log(lit(std::f64::consts::E));
    let tol = (lit(2.5) * col("sigma")).clip_min(lit(0.15));
    let near = |k: f64| (ratio.clone() - lit(k.ln())).abs().lt_eq(tol.clone());
    let factor = when(near(10.0))
        .then(lit(10.0))
        .when(near(1000.0))
        .then(lit(1000.0))
        .when(near(0.1))
        .then(lit(0.1))
        .otherwise(lit(NULL).cast(DataType::Float64));
    let df = audited_rows(
        ctx,
        vec![factor.alias("factor")],
        when(col("independent").or(col("z_history").is_not_null()))
            .then(
                col("factor")
                    .is_not_null()
                    .and(col("z").abs().gt(lit(4.0)))
                    .and(
                        (col("current") - col("anticipated"))
                            .abs()
                            .gt_eq(lit(min_abs)),
                    ),
            )
            .otherwise(lit(NULL).cast(DataType::Boolean)),
    )?;
    let by = |a: &str, b: &str, c: &str| {
        when(col("factor").eq(lit(10.0)))
            .then(lit(a))
            .when(col("factor").eq(lit(1000.0)))
            .then(lit(b))
            .otherwise(lit(c))
    };
    let mut columns = figure_columns().to_vec();
    columns.extend([
        (col("current") / col("factor"))
            .round(0, RoundMode::HalfAwayFromZero)
            .alias("suggested"),
        by("10 倍", "1000 倍", "十分之一").alias("factor_text"),
        by(
            "以百元填报（放大 10 倍）",
            "以元填报（放大 1000 倍）",
            "以万元填报（缩小 10 倍）",
        )
        .alias("slip"),
        by(
            "hundreds of yuan keyed as thousands (×10)",
            "yuan keyed as thousands (×1,000)",
            "ten-thousands keyed as thousands (÷10)",
        )
        .alias("slip_en"),
        lit(3.0).alias("strength"),
    ]);
    with_history_note(outcome_of(ctx, &df, columns)?, ctx)
}

fn ratio_drift(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av003 {
        max_drop,
        min_z,
        min_months,
        min_gross_thousand_yuan: min_gross,
    } = cfg.params()?;
    let min_months = min_months as u32;
    let frame = year_to_date_ratios(ctx, &panel(ctx)?)?;
    let frames = vec![frame.lazy()];
    let floor = ctx.set.anticipation.sigma_floor;
    let df = concat(frames, UnionArgs::default())
        .map_err(pe)?
        .with_columns([
            (col("ytd_taxable") / col("ytd_gross")).alias("value"),
            (col("_t0") / col("_g0")).alias("before"),
        ])
        .with_columns([
            (lit(1.0) - col("value") / col("before")).alias("drop"),
            ((col("before") / col("value")).log(lit(std::f64::consts::E))
                / ((lit(1.4826) * col("_mad")).clip_min(lit(floor))
                    * (lit(1.0) / col("_n1").cast(DataType::Float64)
                        + lit(1.0) / col("_n0").cast(DataType::Float64))
                    .sqrt()))
            .alias("_z"),
        ])
        .with_column(
            when(
                col("_n1")
                    .gt_eq(lit(min_months))
                    .and(col("_n0").gt_eq(lit(min_months)))
                    .and(col("ytd_gross").gt_eq(lit(min_gross))),
            )
            .then(
                col("drop")
                    .gt(lit(max_drop))
                    .and(col("_z").gt_eq(lit(min_z))),
            )
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("_fails"),
        )
        .collect()
        .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            lit(max_drop).alias("threshold"),
            (col("before") * col("ytd_gross"))
                .round(0, RoundMode::HalfAwayFromZero)
                .alias("expected_taxable"),
            (col("drop") / lit(max_drop.max(0.01)))
                .clip(lit(0.2), lit(5.0))
                .alias("strength"),
        ],
    )
}

/// For every enterprise and audited month m, from the anticipation panel (rows in
/// enterprise order, months ascending): output and taxable sales from January to
/// m this year (`ytd_gross`, `ytd_taxable`) and the same months last year (`_g0`,
/// `_t0`), each month counted when both years have both figures (`_n1`, `_n0`),
/// and the median absolute deviation of the months' log ratios (`_mad`).
fn year_to_date_ratios(ctx: &Ctx<'_>, panel: &DataFrame) -> Result<DataFrame> {
    let get = |c: &str| -> Result<Vec<f64>> {
        Ok(panel
            .column(c)
            .map_err(pe)?
            .f64()
            .map_err(pe)?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    let eid = panel.column("eid").map_err(pe)?.u32().map_err(pe)?.clone();
    let per = panel
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .clone();
    let (g1, t1, g0, t0) = (
        get("current")?,
        get("taxable")?,
        get("last_year")?,
        get("taxable_ly")?,
    );
    let mut out: [Vec<f64>; 6] = Default::default();
    let (mut o_eid, mut o_at, mut o_n1, mut o_n0) = (vec![], vec![], vec![], vec![]);
    let mut i = 0;
    let n = panel.height();
    let deviations = |v: &[f64]| -> Vec<f64> {
        if v.is_empty() {
            return Vec::new();
        }
        let mut w = v.to_vec();
        let m = median(&mut w);
        v.iter().map(|x| (x - m).abs()).collect()
    };
    while i < n {
        let e = eid.get(i);
        let mut j = i;
        // One enterprise-year at a time.
        let (mut sg1, mut st1, mut sg0, mut st0) = (0.0, 0.0, 0.0, 0.0);
        let (mut lr1, mut lr0): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        let mut year = None;
        while j < n && eid.get(j) == e {
            let p = per.get(j).unwrap_or(0);
            if year != Some(p.div_euclid(12)) {
                year = Some(p.div_euclid(12));
                (sg1, st1, sg0, st0) = (0.0, 0.0, 0.0, 0.0);
                lr1.clear();
                lr0.clear();
            }
            if g1[j] > 0.0 && t1[j] > 0.0 && g0[j] > 0.0 && t0[j] > 0.0 {
                sg1 += g1[j];
                st1 += t1[j];
                sg0 += g0[j];
                st0 += t0[j];
                lr1.push((g1[j] / t1[j]).ln());
                lr0.push((g0[j] / t0[j]).ln());
            }
            if p >= ctx.from.0 && p <= ctx.period.0 {
                let mut dev = deviations(&lr1);
                dev.extend(deviations(&lr0));
                let mad = if dev.is_empty() {
                    f64::NAN
                } else {
                    median(&mut dev)
                };
                o_eid.push(e.unwrap_or(0));
                o_at.push(p);
                o_n1.push(lr1.len() as u32);
                o_n0.push(lr0.len() as u32);
                for (k, v) in [sg1, st1, sg0, st0, mad, 0.0].into_iter().enumerate() {
                    out[k].push(v);
                }
            }
            j += 1;
        }
        i = j;
    }
    let periods: Vec<String> = o_at.iter().map(|m| Month(*m).to_string()).collect();
    let [ytd_gross, ytd_taxable, g0s, t0s, mads, _] = out;
    DataFrame::new(
        o_eid.len(),
        vec![
            Column::new("eid".into(), o_eid),
            Column::new("at".into(), o_at),
            Column::new("period".into(), periods),
            Column::new("ytd_gross".into(), ytd_gross),
            Column::new("ytd_taxable".into(), ytd_taxable),
            Column::new("_g0".into(), g0s),
            Column::new("_t0".into(), t0s),
            Column::new("_mad".into(), mads),
            Column::new("_n1".into(), o_n1),
            Column::new("_n0".into(), o_n0),
        ],
    )
    .map_err(pe)
}

/// Findings about a change of output that the independent sources confirm become
/// information: their severity is `info` and their message says why. Only the
/// codes of [`EXPLAINABLE`] are touched, and only when `explain_by_sources` is on.
/// Then the figures an enterprise explained at a recent verification drop unless
/// they moved further (`explained_before`).
pub fn explain(ctx: &Ctx<'_>, findings: DataFrame) -> Result<DataFrame> {
    let findings = explain_by_sources(ctx, findings)?;
    let findings = explain_services_by_vat(ctx, findings)?;
    explained_before(ctx, findings)
}

/// Services revenue changes (SV001) that the enterprise's own VAT records confirm
/// become information, the way output changes do ([`explain_by_sources`]): the
/// month's taxable sales times the enterprise's own revenue/VAT ratio of its
/// earlier year (months 13–24 back, else the last 12) anticipates the revenue,
/// with the ratio's spread as its uncertainty. The change is explained when the
/// reported revenue lies within `explain_z` uncertainties of it, or within
/// `explain_share` of the change from last month.
fn explain_services_by_vat(ctx: &Ctx<'_>, findings: DataFrame) -> Result<DataFrame> {
    let s = &ctx.set.anticipation;
    let (Some(svc), Some(tax)) = (
        ctx.batch.table(Table::Services),
        ctx.batch.table(Table::Tax),
    ) else {
        return Ok(findings);
    };
    if !s.explain_by_sources || findings.height() == 0 {
        return Ok(findings);
    }
    let codes = findings
        .column("rule_code")
        .map_err(pe)?
        .str()
        .map_err(pe)?;
    let sev = findings.column("severity").map_err(pe)?.str().map_err(pe)?;
    let eids = findings.column("eid").map_err(pe)?.u32().map_err(pe)?;
    let periods = findings.column("period").map_err(pe)?.str().map_err(pe)?;
    let mut targets: Vec<(usize, u32, i32)> = Vec::new();
    for i in 0..findings.height() {
        if codes.get(i) != Some("SV001") || sev.get(i) == Some("hard") {
            continue;
        }
        if let (Some(e), Some(m)) = (
            eids.get(i),
            periods.get(i).and_then(|p| Month::parse_strict(p).ok()),
        ) {
            targets.push((i, e, m.0));
        }
    }
    if targets.is_empty() {
        return Ok(findings);
    }
    let wanted: Vec<u32> = {
        let mut v: Vec<u32> = targets.iter().map(|t| t.1).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let values = |df: &DataFrame, c: &str| -> Result<HashMap<(u32, i32), f64>> {
        let df = df
            .clone()
            .lazy()
            .filter(col("eid").is_in(
                lit(Series::new("w".into(), wanted.clone())).implode(false),
                false,
            ))
            .select([col("eid"), col("period"), col(c).cast(DataType::Float64)])
            .collect()
            .map_err(pe)?;
        let (e, p, v) = (
            df.column("eid").map_err(pe)?.u32().map_err(pe)?,
            df.column("period").map_err(pe)?.i32().map_err(pe)?,
            df.column(c).map_err(pe)?.f64().map_err(pe)?,
        );
        Ok(e.iter()
            .zip(p.iter())
            .zip(v.iter())
            .filter_map(|((e, p), v)| Some(((e?, p?), v?)))
            .collect())
    };
    let rev = values(svc, "revenue")?;
    let vat = values(tax, "taxable_sales")?;
    let (floor, ez, share) = (s.sigma_floor, s.explain_z, s.explain_share);
    let h = findings.height();
    let mut is = vec![false; h];
    let mut vat_col: Vec<Option<f64>> = vec![None; h];
    let mut from_vat: Vec<Option<f64>> = vec![None; h];
    for (i, e, m) in targets {
        let at = |map: &HashMap<(u32, i32), f64>, k: i32| {
            map.get(&(e, m - 24 + k)).copied().unwrap_or(f64::NAN)
        };
        let ys: Vec<f64> = (0..=24).map(|k| at(&rev, k)).collect();
        let xs: Vec<f64> = (0..=24).map(|k| at(&vat, k)).collect();
        let (y, x) = (ys[24], xs[24]);
        if !(y > 0.0 && x > 0.0) {
            continue;
        }
        let Some((c, sp, n)) = own_ratio(&ys, &xs, 24, 0.0) else {
            continue;
        };
        let sp = sp.max(floor) * (1.0 + 1.57 / n as f64).sqrt();
        let a = x.ln() + c;
        let d = (y.ln() - a).abs();
        let moved = (ys[23] > 0.0).then(|| (y / ys[23]).ln().abs());
        if d <= ez * sp || moved.is_some_and(|mv| d <= share * mv) {
            is[i] = true;
            vat_col[i] = Some(x);
            from_vat[i] = Some(a.exp());
        }
    }
    if !is.iter().any(|b| *b) {
        return Ok(findings);
    }
    let names: Vec<String> = findings
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let text = |zh: bool| vat_moved(zh, "_vat", "_from_vat", ("营业收入 ", "revenue of "));
    let mut df = findings;
    df.with_column(Column::new("_is".into(), is)).map_err(pe)?;
    df.with_column(Column::new("_vat".into(), vat_col))
        .map_err(pe)?;
    df.with_column(Column::new("_from_vat".into(), from_vat))
        .map_err(pe)?;
    df.lazy()
        .with_row_index("_row", None)
        .pipe_demote(col("_is"), text(true), text(false), &names)
}

/// The figures whose enterprise explained them at a recent verification.
const VERIFIED_CODES: &[&str] = &["AV001", "AV003", "IN004", "IN005", "IN008", "IN009"];

/// An enterprise whose pattern was explained at a verification (outcome
/// `explained` for a month within `[grading] explained_months` before the period)
/// drops: its findings about its output (AV001, AV003 and the output changes)
/// from that month on become information, unless the figure has moved further
/// from its anticipation since (`|z| > 1.25 · |z at the verified month| + 1`).
/// A confirmed error is not touched (grading raises it).
fn explained_before(ctx: &Ctx<'_>, findings: DataFrame) -> Result<DataFrame> {
    let Some(ver) = ctx.batch.table(Table::Verifications) else {
        return Ok(findings);
    };
    if findings.height() == 0 || ctx.batch.table(Table::Industrial).is_none() {
        return Ok(findings);
    }
    let months = ctx.set.explained_months as i32;
    let p = ctx.period.0;
    let panel = panel(ctx)?
        .lazy()
        .select([col("eid"), col("period"), col("z").abs().alias("_z")]);
    // Every explained month that may count, with the figure's distance then.
    let explained = ver
        .clone()
        .lazy()
        .filter(
            col("outcome")
                .eq(lit("explained"))
                .and(col("period").gt_eq(lit(ctx.from.0 - months)))
                .and(col("period").lt_eq(lit(p))),
        )
        .select([col("eid"), col("period").alias("_v")])
        .join(
            panel.clone(),
            [col("eid"), col("_v")],
            [col("eid"), col("period")],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col("eid"), col("_v"), col("_z").alias("_zv")])
        .collect()
        .map_err(pe)?;
    if explained.height() == 0 {
        return Ok(findings);
    }
    let codes: Vec<String> = VERIFIED_CODES.iter().map(|c| c.to_string()).collect();
    let now = panel.select([
        col("eid"),
        col("period").alias("_pm"),
        col("_z").alias("_zm"),
    ]);
    // The month a finding was audited in: `at` over several months, else the period.
    let audited = if findings
        .get_column_names()
        .iter()
        .any(|c| c.as_str() == "at")
    {
        col("at")
    } else {
        lit(p)
    };
    // The findings that may drop, each with every verification that may drop it.
    let candidates = findings
        .clone()
        .lazy()
        .with_row_index("_row", None)
        .filter(
            col("rule_code")
                .is_in(str_list(&codes), false)
                .and(col("severity").eq(lit("soft"))),
        )
        .with_column(audited.alias("_at"))
        .select([col("_row"), col("eid"), col("period"), col("_at")])
        .join(
            explained.lazy(),
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Inner),
        )
        .collect()
        .map_err(pe)?;
    // The findings that drop, with the latest verification that drops them.
    let dropped = with_month_number(candidates, "period", "_pm")?
        .lazy()
        .join(
            now,
            [col("eid"), col("_pm")],
            [col("eid"), col("_pm")],
            JoinArgs::new(JoinType::Left),
        )
        .filter(
            // A verification within `months` before the audit, of this month or an
            // earlier one, and the figure no further from its anticipation.
            // (and of the audit's year: the anticipation starts in January).
            col("_v")
                .gt_eq(col("_at") - lit(months))
                .and(col("_v").gt_eq(col("_at").floor_div(lit(12)) * lit(12)))
                .and(col("_v").lt_eq(col("_at")))
                .and(col("period").gt_eq(month_text(col("_v"))))
                .and(
                    col("_zm")
                        .lt_eq(lit(1.25) * col("_zv") + lit(1.0))
                        .fill_null(lit(true)),
                ),
        )
        .group_by([col("_row")])
        .agg([col("_v").max()])
        .collect()
        .map_err(pe)?;
    let mut rows = vec![false; findings.height()];
    for r in dropped
        .column("_row")
        .map_err(pe)?
        .idx()
        .map_err(pe)?
        .iter()
        .flatten()
    {
        rows[r as usize] = true;
    }
    let rows = BooleanChunked::from_slice("rows".into(), &rows);
    let drop = col("_v").is_not_null();
    let note = |zh: bool| {
        concat_str(
            [
                lit(if zh {
                    "；该企业 "
                } else {
                    "; the enterprise explained its "
                }),
                month_text(col("_v")),
                lit(if zh {
                    " 核查已说明原因，此后偏离未扩大，不再列入"
                } else {
                    " figure at a verification and it has not moved further since: not queried again"
                }),
            ],
            "",
            false,
        )
    };
    demote_rows(findings, &rows, |some| {
        Ok(some.lazy().join(
            dropped.lazy(),
            [col("_row")],
            [col("_row")],
            JoinArgs::new(JoinType::Left),
        ))
    })?
    .apply(drop, note(true), note(false))
}

/// Findings made information where `cond` holds, their messages extended by
/// `zh` and `en`; the frame (with `_row`, the findings' order) back to the
/// findings' columns and order.
trait Demote {
    fn pipe_demote(self, cond: Expr, zh: Expr, en: Expr, names: &[String]) -> Result<DataFrame>;
}

impl Demote for LazyFrame {
    fn pipe_demote(self, cond: Expr, zh: Expr, en: Expr, names: &[String]) -> Result<DataFrame> {
        self.with_columns([
            when(cond.clone())
                .then(lit("info"))
                .otherwise(col("severity"))
                .alias("severity"),
            // An explained figure is no sign of an error: it weighs nothing in
            // the score (routing and attention lists keep `info_weight`).
            when(cond.clone())
                .then(lit(0.0))
                .otherwise(col("strength"))
                .alias("strength"),
            when(cond.clone())
                .then(concat_str([col("message"), zh], "", false))
                .otherwise(col("message"))
                .alias("message"),
            when(cond)
                .then(concat_str([col("message_en"), en], "", false))
                .otherwise(col("message_en"))
                .alias("message_en"),
        ])
        .sort(["_row"], SortMultipleOptions::default())
        .select(names.iter().map(|c| col(c.as_str())).collect::<Vec<_>>())
        .collect()
        .map_err(pe)
    }
}

/// The reason appended to a change the VAT records explain: the month's taxable
/// sales (column `vat`) and what the enterprise's own ratio anticipates from them
/// (column `anticipated`), naming the figure (`what`: Chinese, English).
fn vat_moved(zh: bool, vat: &str, anticipated: &str, what: (&str, &str)) -> Expr {
    let (lead, mid, tail) = if zh {
        (
            "；同月增值税应税销售额 ".to_string(),
            format!(" 千元同步变动（按本企业往年比例预期{}", what.0),
            " 千元），已由独立来源解释",
        )
    } else {
        (
            "; taxable sales this month ".to_string(),
            format!(
                " moved with it (the enterprise's own ratio anticipates {}",
                what.1
            ),
            "): explained by independent sources",
        )
    };
    concat_str(
        [
            lit(lead),
            whole_text(col(vat)),
            lit(mid),
            whole_text(col(anticipated)),
            lit(tail),
        ],
        "",
        false,
    )
}

/// A number as whole thousands of yuan, as text.
fn whole_text(e: Expr) -> Expr {
    e.round(0, RoundMode::HalfAwayFromZero)
        .cast(DataType::Int64)
        .cast(DataType::String)
}

/// Findings about a change of output that the independent sources confirm become
/// information (see [`explain`]).
fn explain_by_sources(ctx: &Ctx<'_>, findings: DataFrame) -> Result<DataFrame> {
    let s = &ctx.set.anticipation;
    if !s.explain_by_sources || ctx.batch.table(Table::Industrial).is_none() {
        return Ok(findings);
    }
    let codes: Vec<String> = EXPLAINABLE.iter().map(|c| c.to_string()).collect();
    // The findings that may be explained: of an explainable rule, not hard.
    let candidates: BooleanChunked = findings
        .column("rule_code")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .zip(
            findings
                .column("severity")
                .map_err(pe)?
                .str()
                .map_err(pe)?
                .iter(),
        )
        .map(|(c, s)| {
            Some(c.is_some_and(|c| EXPLAINABLE.contains(&c)) && s.is_some_and(|s| s != "hard"))
        })
        .collect();
    if !candidates.any() {
        return Ok(findings);
    }
    let p = panel(ctx)?
        .lazy()
        .filter(col("explained_yoy").or(col("explained_mom")))
        .select([
            col("eid"),
            col("period").alias("_pm"),
            col("from_vat"),
            col("taxable"),
            col("explained_yoy").alias("_yoy"),
            col("explained_mom").alias("_mom"),
        ]);
    // A year-on-year change is explained against the same month last year, a
    // month-on-month change against the month before.
    let yoy: Vec<String> = YEAR_ON_YEAR.iter().map(|c| c.to_string()).collect();
    let is = col("rule_code")
        .is_in(str_list(&codes), false)
        .and(col("severity").neq(lit("hard")))
        .and(
            when(col("rule_code").is_in(str_list(&yoy), false))
                .then(col("_yoy"))
                .otherwise(col("_mom"))
                .fill_null(lit(false)),
        );
    let vat_text = |zh: bool| {
        when(col("from_vat").is_not_null())
            .then(vat_moved(zh, "taxable", "from_vat", ("产值 ", "")))
            .otherwise(lit(if zh {
                "；用电量同步变动，已由独立来源解释"
            } else {
                "; electricity moved with it: explained by independent sources"
            }))
    };
    demote_rows(findings, &candidates, |rows| {
        Ok(with_month_number(rows, "period", "_pm")?.lazy().join(
            p,
            [col("eid"), col("_pm")],
            [col("eid"), col("_pm")],
            JoinArgs::new(JoinType::Left),
        ))
    })
    .and_then(|d| d.apply(is, vat_text(true), vat_text(false)))
}

/// `df` with column `out`: the month number of its text column `text` where
/// that is a month as [`month_text`] writes it (`YYYY-MM`), else empty.
fn with_month_number(mut df: DataFrame, text: &str, out: &str) -> Result<DataFrame> {
    let m: Vec<Option<i32>> = df
        .column(text)
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .map(|t| t.and_then(|t| Month::parse_strict(t).ok()).map(|m| m.0))
        .collect();
    df.with_column(Column::new(out.into(), m)).map_err(pe)?;
    Ok(df)
}

/// Findings of which only some rows (`rows`, a mask) may be demoted: those rows
/// (with `_row`, their place) prepared by `prepare` (the columns the condition
/// and texts read joined on), to be passed to [`Demoting::apply`]. The other
/// rows are left as they are, and no text is built for them.
fn demote_rows(
    findings: DataFrame,
    rows: &BooleanChunked,
    prepare: impl FnOnce(DataFrame) -> Result<LazyFrame>,
) -> Result<Demoting> {
    let names: Vec<String> = findings
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let indexed = findings.with_row_index("_row".into(), None).map_err(pe)?;
    let rest = indexed.filter(&!rows).map_err(pe)?;
    let some = prepare(indexed.filter(rows).map_err(pe)?)?;
    Ok(Demoting { names, rest, some })
}

/// The rows of [`demote_rows`], to be demoted and put back in place.
struct Demoting {
    names: Vec<String>,
    rest: DataFrame,
    some: LazyFrame,
}

impl Demoting {
    /// The findings in their order, the prepared rows where `cond` holds made
    /// information with `zh` and `en` added to their messages.
    fn apply(self, cond: Expr, zh: Expr, en: Expr) -> Result<DataFrame> {
        let mut keep = self.names.clone();
        keep.push("_row".into());
        let done = self.some.pipe_demote(cond, zh, en, &keep)?;
        let mut all = self
            .rest
            .select(keep.iter().map(|c| c.as_str()))
            .map_err(pe)?;
        all.vstack_mut(&done).map_err(pe)?;
        all.lazy()
            .sort(["_row"], SortMultipleOptions::default())
            .select(
                self.names
                    .iter()
                    .map(|c| col(c.as_str()))
                    .collect::<Vec<_>>(),
            )
            .collect()
            .map_err(pe)
    }
}

/// `anticipated.parquet`: the anticipation with the enterprise's USCC and the
/// period as text, rounded for reading.
pub fn output(panel: &DataFrame, batch: &Batch) -> Result<DataFrame> {
    let uscc = batch
        .enterprises
        .column("uscc")
        .map_err(pe)?
        .as_materialized_series()
        .clone();
    let idx: IdxCa = panel
        .column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .iter()
        .map(|v| v.map(|e| e as IdxSize))
        .collect();
    let u = uscc.take(&idx).map_err(pe)?;
    let r = |c: &str, d: u32| col(c).round(d, RoundMode::HalfAwayFromZero);
    panel
        .clone()
        .lazy()
        .with_column(lit(u).alias("uscc"))
        .select([
            col("uscc"),
            month_text(col("period")).alias("period"),
            lit("gross_output").alias("field"),
            col("current").alias("reported"),
            r("anticipated", 0),
            r("sigma", 4),
            band(-1.0).alias("low"),
            band(1.0).alias("high"),
            r("z", 3),
            r("p_wrong", 4),
            r("expected_error", 0),
            r("from_history", 0),
            r("from_peers", 0),
            r("from_vat", 0),
            r("from_electricity", 0),
            lit(NULL).cast(DataType::Float64).alias("from_pair"),
            r("z_history", 3),
            r("z_vat", 3),
            r("z_electricity", 3),
            col("explained"),
        ])
        .collect()
        .map_err(pe)
}

/// The expected error per enterprise over the months of `panel` (the year to
/// date: [`year_to_date`]), thousand yuan, with the month that carries most of it: `eid`,
/// `expected_error`, `ee_period`, `ee_current`, `ee_anticipated`, `ee_p_wrong`.
pub fn expected_errors(panel: &DataFrame) -> Result<DataFrame> {
    panel
        .clone()
        .lazy()
        .sort(
            ["eid", "expected_error"],
            SortMultipleOptions::default().with_order_descending_multi([false, true]),
        )
        .group_by_stable([col("eid")])
        .agg([
            col("expected_error").sum(),
            month_text(col("period")).first().alias("ee_period"),
            col("current").first().alias("ee_current"),
            col("anticipated").first().alias("ee_anticipated"),
            col("p_wrong").first().alias("ee_p_wrong"),
        ])
        .collect()
        .map_err(pe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_wrong_rises_with_the_distance() {
        let p = |z| p_wrong(z, 0.05, 5.0);
        assert!(p(0.0) < 0.02);
        assert!(p(2.0) < 0.2);
        assert!(p(4.0) > 0.9);
        assert!(p(-4.0) > 0.9);
        assert!(p(30.0) > 0.999_999);
        assert!((p(3.0) - p(-3.0)).abs() < 1e-12);
    }

    /// 40,000 draws: a share `wide` from N(0, b²), the rest from N(0, a²).
    fn two_normals(seed: u64, wide: f64, a: f64, b: f64) -> Vec<f64> {
        use rand::{RngExt, SeedableRng};
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (narrow, broad) = (Normal::new(0.0, a).unwrap(), Normal::new(0.0, b).unwrap());
        (0..40_000)
            .map(|_| {
                if rng.random::<f64>() < wide {
                    broad.sample(&mut rng)
                } else {
                    narrow.sample(&mut rng)
                }
            })
            .collect()
    }

    #[test]
    fn the_mixture_is_recovered_from_its_draws() {
        let z = two_normals(3, 0.02, 1.2, 12.0);
        let m = Mixture::fit(&z, 0.05, 5.0, 2.0);
        assert!((m.prior - 0.02).abs() < 0.005, "{m:?}");
        assert!((m.sigma0 - 1.2).abs() < 0.05, "{m:?}");
        assert!((m.scale - 10.0).abs() < 1.5, "{m:?}");
        // A figure at 4 clean spreads is more likely right than wrong at a 2% prior.
        assert!(m.p_wrong(3.0 * 1.2) < 0.5);
        assert!(m.p_wrong(40.0) > 0.99);
    }

    /// Correct figures with heavier tails than a normal (5% of them twice as
    /// spread) and no errors at all: free, the fit takes the tail for errors and a
    /// distance of 3.5 looks wrong; with the smallest λ at 4, it does not.
    #[test]
    fn heavy_tails_of_correct_figures_are_not_taken_for_errors() {
        let z = two_normals(5, 0.05, 1.0, 2.0);
        let free = Mixture::fit(&z, 0.05, 5.0, 2.0);
        let guarded = Mixture::fit(&z, 0.05, 5.0, 4.0);
        assert!(free.p_wrong(3.5) > 0.5, "{free:?}");
        assert!(guarded.scale >= 4.0, "{guarded:?}");
        assert!(guarded.p_wrong(3.5) < 0.5, "{guarded:?}");
    }

    #[test]
    fn sources_that_agree_narrow_and_sources_that_disagree_widen() {
        let agree = combine(
            &[Src { a: 0.0, s: 0.1 }, Src { a: 0.01, s: 0.1 }],
            0.01,
            0.0,
        )
        .unwrap();
        assert!(agree.1 < 0.1);
        // Fully correlated sources narrow nothing.
        let same = combine(
            &[Src { a: 0.0, s: 0.1 }, Src { a: 0.01, s: 0.1 }],
            0.01,
            1.0,
        )
        .unwrap();
        assert!((same.1 - 0.1).abs() < 1e-9, "{}", same.1);
        let disagree =
            combine(&[Src { a: 0.0, s: 0.1 }, Src { a: 1.0, s: 0.1 }], 0.01, 0.0).unwrap();
        assert!((disagree.0 - 0.5).abs() < 1e-9);
        assert!(disagree.1 > 0.4, "{}", disagree.1);
    }

    #[test]
    fn the_own_ratio_prefers_the_earlier_year() {
        let mut y = vec![100.0; 30];
        let x = vec![100.0; 30];
        // The last 12 months inflated by 20%: the earlier year still says 1.
        for v in y.iter_mut().skip(17) {
            *v = 120.0;
        }
        let (c, _, n) = own_ratio(&y, &x, 29, 0.0).unwrap();
        assert_eq!(n, 12);
        assert!(c.abs() < 1e-9);
    }
}
