//! **Anticipated values of paired figures** (预期值): the wage bill and the
//! headcount of the quarterly labour report, anticipated from each other and from
//! their own history (AV004); R&D spend, anticipated from the R&D staff and from
//! its own history (AV005); services revenue, anticipated from the month's VAT
//! taxable sales and from its own history (AV006).
//!
//! For a figure `x` paired with `n` (wage bill with headcount, R&D spend with R&D
//! staff), a year apart (`x₀`, `n₀`: the same quarter last year, or last year's
//! report), two sources each give a log anticipation and its uncertainty:
//!
//! * **the pair** — `n × (x₀ / n₀) × g_r`: this period's paired figure times the
//!   enterprise's own ratio a year ago (wage per employee, spend per R&D staff),
//!   moved by `g_r`, the peers' median change of that ratio; uncertainty the peers'
//!   robust spread (1.4826 · MAD) of the ratio's log change;
//! * **own history** — `x₀ × g_x`: the figure a year ago moved by the peers' median
//!   change of the figure; uncertainty the peers' robust spread of its log change.
//!
//! The peers are the enterprises of the industry division in the period (all
//! enterprises when fewer than `min_peers` of the `[anticipation]` settings). The
//! two are combined as the output anticipation combines its sources (inverse
//! variance, the sources' correlation, the Birge ratio when they disagree), and
//! `P(the figure is wrong)` comes from the contamination model fitted to each
//! period's distances. For the labour report both figures are anticipated, the
//! headcount from the wage bill the same way: a wrong wage bill lies far from both
//! of its sources, which agree, while the right headcount's two sources disagree
//! (one carries the wrong wage bill) and its band widens. So **the field most
//! likely wrong** is the one further from its anticipation.

use polars::prelude::*;

use super::anticipate::{combine_two, Mixture, Settings};
use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::Result;
use crate::load::Batch;
use crate::model::Table;

/// The rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "AV004",
        title: t(
            "工资总额或从业人员远离预期",
            "Wage bill or headcount far from its anticipated value",
        ),
        table: Table::Labor,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} {field_zh} {current}{unit_zh}，预期 {anticipated}{unit_zh}（{low}–{high}）；本季工资总额 {wage_total} 千元、从业人员 {employees} 人，去年同季 {wage_total_ly} 千元、{employees_ly} 人 → {field_zh}{direction}",
            "{period}: {field_en} {current}{unit_en}, anticipated {anticipated} ({low}–{high}); wage bill {wage_total} thousand yuan and headcount {employees} this quarter, {wage_total_ly} and {employees_ly} in the same quarter last year → {field_en} {direction_en}",
        ),
        hint: t(
            "请企业提供本季度工资表、职工花名册、社会保险缴费和个人所得税代扣代缴明细，核实所指一项",
            "Ask for the quarter's payroll, staff roster, social insurance contributions and income tax withholding records; verify the field named",
        ),
        what: t(
            "季度工资总额和从业人员各有预期值：一由另一项 × 本企业去年同季人均工资（按同行业人均工资变动调整）推算，一由本企业去年同季数值 × 同行业变动推算。偏离预期更远的一项，距离超过 far_z 个标准差、有误概率不低于 min_p、且相对偏离不小于 min_gap 时不通过。",
            "The quarter's wage bill and headcount each have an anticipated value: from the other figure × the enterprise's own wage per employee in the same quarter last year (moved by the division's change), and from its own figure last year × the division's change. The one further from its anticipation fails when it is more than far_z uncertainties away, the contamination model's probability that it is wrong is at least min_p, and the gap is at least min_gap of the anticipated value.",
        ),
        why: t(
            "工资总额与从业人员互为印证：二者同步变动是经营变化，只有一项变动而另一项和本企业历史都不支持时，多为填报差错或推算（数出无据）。",
            "The wage bill and the headcount corroborate each other: moving together they are a change in the business; one moving alone, supported neither by the other nor by the enterprise's own past, is most often a keying error or an estimate (数出无据).",
        ),
        example: t(
            "去年同季 2,300 人、工资总额 48,000 千元；本季 2,314 人、89,311 千元 → 工资总额预期约 49,700 千元，疑似多报。",
            "Last year 2,300 employees and a wage bill of 48,000; this quarter 2,314 and 89,311 → wage bill anticipated about 49,700: probably over-reported.",
        ),
        remedy: t(
            "对照工资表和花名册核实；确有人员或工资制度变动的，提供说明；否则按实际更正。",
            "Verify against the payroll and the roster; document a change in staff or pay, otherwise correct the figure.",
        ),
        params: &[
            num("min_p", 0.9, Some(0.0), Some(1.0), "smallest probability that the figure is wrong"),
            num("far_z", 3.5, Some(0.0), None, "distance from the anticipation, in its uncertainties"),
            num("min_gap", 0.2, Some(0.0), None, "smallest gap to the anticipated value, as a share of it"),
            int("min_employees", 10, Some(1.0), None, "smaller headcounts (either year) are not judged"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(labour_far),
    },
    RuleDef {
        code: "AV005",
        title: t(
            "研发费用远离按研发人员的预期",
            "R&D spend far from what its R&D staff anticipate",
        ),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年研发费用 {current} 千元，预期 {anticipated} 千元（{low}–{high}）；研发人员 {rd_staff} 人，上年 {rd_staff_ly} 人、研发费用 {rd_expenditure_ly} 千元 → 研发费用{direction}",
            "{period}: R&D expenditure {current} thousand yuan, anticipated {anticipated} ({low}–{high}); {rd_staff} R&D staff, {rd_staff_ly} last year with an expenditure of {rd_expenditure_ly} → R&D expenditure {direction_en}",
        ),
        hint: t(
            "请企业提供研发项目立项资料、研发费用辅助账和研发人员名单及工时记录",
            "Ask for the R&D project files, the R&D expense sub-ledger, and the R&D staff list with time records",
        ),
        what: t(
            "研发费用的预期值由本年研发人员 × 本企业上年人均研发费用（按同行业变动调整）和本企业上年研发费用 × 同行业变动共同推算；距离超过 far_z 个标准差、有误概率不低于 min_p、且相对偏离不小于 min_gap 时不通过。",
            "R&D expenditure is anticipated from this year's R&D staff × the enterprise's own spend per staff last year (moved by the division's change) and from its own spend last year × the division's change; it fails when more than far_z uncertainties away, the contamination model's probability that it is wrong is at least min_p, and the gap is at least min_gap of the anticipated value.",
        ),
        why: t(
            "研发费用主要是研发人员的人工和项目支出，随研发人员同步变动；人员不变而费用成倍变动，多为把其他支出计入研发或虚报。",
            "R&D spend is mostly the R&D staff's pay and project costs and moves with the staff; a spend that multiplies while the staff stays is most often other costs booked as R&D, or inflation.",
        ),
        example: t(
            "上年 12 人、研发费用 2,400 千元；本年 12 人、7,900 千元 → 预期约 2,500 千元，疑似多报。",
            "Last year 12 staff and 2,400; this year 12 staff and 7,900 → anticipated about 2,500: probably over-reported.",
        ),
        remedy: t(
            "对照研发费用辅助账核实归集范围，按实际更正。",
            "Check what was booked as R&D against the sub-ledger and correct the figure.",
        ),
        params: &[
            num("min_p", 0.9, Some(0.0), Some(1.0), "smallest probability that the figure is wrong"),
            num("far_z", 3.5, Some(0.0), None, "distance from the anticipation, in its uncertainties"),
            num("min_gap", 0.3, Some(0.0), None, "smallest gap to the anticipated value, as a share of it"),
            int("min_staff", 3, Some(1.0), None, "fewer R&D staff (either year) are not judged"),
        ],
        basis: Basis::Figures,
        kind: Kind::Annual(rd_far),
    },
    RuleDef {
        code: "AV006",
        title: t(
            "服务业营业收入远离增值税和历史的预期",
            "Services revenue far from what its VAT and its own past anticipate",
        ),
        table: Table::Services,
        also_needs: &[Table::Tax],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 营业收入 {current} 千元，预期 {anticipated} 千元（{low}–{high}）；同月增值税应税销售额 {taxable_sales} 千元，去年同月营业收入 {revenue_ly} 千元、应税销售额 {taxable_sales_ly} 千元 → 营业收入{direction}",
            "{period}: services revenue {current} thousand yuan, anticipated {anticipated} ({low}–{high}); taxable sales this month {taxable_sales}, last year's revenue {revenue_ly} and taxable sales {taxable_sales_ly} → revenue {direction_en}",
        ),
        hint: t(
            "请企业提供本月收入明细账、增值税纳税申报表和开具发票汇总表，核实营业收入",
            "Ask for this month's revenue ledger, the VAT return and the summary of invoices issued; verify the revenue",
        ),
        what: t(
            "本月营业收入的预期值由同月增值税应税销售额 × 本企业去年同月收入与应税销售额之比（按同行业变动调整）和本企业去年同月收入 × 同行业变动共同推算；距离超过 far_z 个标准差、有误概率不低于 min_p、且相对偏离不小于 min_gap 时不通过。",
            "This month's revenue is anticipated from its VAT taxable sales × the enterprise's own revenue/VAT ratio in the same month last year (moved by the division's change) and from its own revenue last year × the division's change; it fails when more than far_z uncertainties away, the contamination model's probability that it is wrong is at least min_p, and the gap is at least min_gap of the anticipated value.",
        ),
        why: t(
            "有账簿依据的营业收入与开票和纳税申报同步变动；增值税证实的增长不是疑点，增值税和历史都不支持的收入最可能是估报或虚报（数出无据）。",
            "Revenue kept from the books moves with invoicing and the VAT return; growth the VAT confirms is not a query, revenue neither the VAT nor the enterprise's past supports is most likely estimated or inflated (数出无据).",
        ),
        example: t(
            "去年同月收入 5,000 千元、应税销售额 4,800 千元；本月应税销售额 5,100 千元，收入 12,400 千元 → 预期约 5,300 千元，疑似多报。",
            "Last year 5,000 of revenue and 4,800 of taxable sales in the month; this month taxable sales 5,100 and revenue 12,400 → anticipated about 5,300: probably over-reported.",
        ),
        remedy: t(
            "对照收入明细账和增值税申报核实，按实际更正。",
            "Verify against the revenue ledger and the VAT return, and correct the figure.",
        ),
        params: &[
            num("min_p", 0.9, Some(0.0), Some(1.0), "smallest probability that the figure is wrong"),
            num("far_z", 3.5, Some(0.0), None, "distance from the anticipation, in its uncertainties"),
            num("min_gap", 0.3, Some(0.0), None, "smallest gap to the anticipated value, as a share of it"),
            num("min_abs_thousand_yuan", 300.0, Some(0.0), None, "smaller gaps to the anticipated value are not judged (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(services_far),
    },
];

/// AV004's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av004 {
    min_p: f64,
    far_z: f64,
    min_gap: f64,
    min_employees: i64,
}

/// AV005's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av005 {
    min_p: f64,
    far_z: f64,
    min_gap: f64,
    min_staff: i64,
}

/// AV006's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Av006 {
    min_p: f64,
    far_z: f64,
    min_gap: f64,
    min_abs_thousand_yuan: f64,
}

/// The typed parameters of the paired-figure rules.
pub const PARAMS: &[Typed] = &[
    typed::<Av004>("AV004"),
    typed::<Av005>("AV005"),
    typed::<Av006>("AV006"),
];

/// The parameters every rule of this file shares: how far from its
/// anticipation a figure fails ([`far`], [`strength`]).
#[derive(Clone, Copy)]
struct Far {
    /// Smallest probability that the figure is wrong.
    min_p: f64,
    /// Distance from the anticipation, in its uncertainties.
    far_z: f64,
    /// Smallest gap to the anticipated value, as a share of it.
    min_gap: f64,
}

/// The figures of one pair, a year apart, as columns of the frame given to
/// [`anticipate`].
struct Pair {
    /// The figure anticipated (`x`).
    x: &'static str,
    /// The figure paired with it (`n`).
    n: &'static str,
    /// Whether `n` is anticipated from `x` as well.
    both: bool,
}

const LABOUR: Pair = Pair {
    x: "wage_total",
    n: "employees",
    both: true,
};

const RD: Pair = Pair {
    x: "rd_expenditure",
    n: "rd_staff",
    both: false,
};

const SERVICES: Pair = Pair {
    x: "revenue",
    n: "taxable_sales",
    both: false,
};

/// The anticipation of a pair. `lf` has `eid`, `period`, `division`, the pair's
/// two figures and the same with `_ly` (a year before). Returns one row per
/// enterprise, period and anticipated field: `eid`, `period`, `field`,
/// `current`, `anticipated`, `sigma`, `z`, `p_wrong`, `expected_error`,
/// `from_pair`, `from_history`, `z_other` (the other field's distance, NaN
/// when it is not anticipated), and the four figures.
fn anticipate(lf: LazyFrame, pair: &Pair, s: &Settings) -> Result<DataFrame> {
    let (x, n) = (pair.x, pair.n);
    let (x0, n0) = (format!("{x}_ly"), format!("{n}_ly"));
    let lf = with_peer_changes(lf, [x, n, &x0, &n0], s)?;
    let df = lf
        .sort(["period", "eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let f = |c: &str| -> Result<Vec<f64>> {
        Ok(df
            .column(c)
            .map_err(pe)?
            .cast(&DataType::Float64)
            .map_err(pe)?
            .f64()
            .map_err(pe)?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    let (vx, vn, vx0, vn0) = (f(x)?, f(n)?, f(&x0)?, f(&n0)?);
    let (mx, sx, mn, sn, mr, sr) = (
        f("_dx_m")?,
        f("_dx_s")?,
        f("_dn_m")?,
        f("_dn_s")?,
        f("_dr_m")?,
        f("_dr_s")?,
    );
    let eid: Vec<u32> = df
        .column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let period: Vec<i32> = df
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let rows = df.height();
    // Per field: its name, the reported figures, and per row (log anticipation,
    // sigma, from the pair, from history).
    type Field<'a> = (&'a str, Vec<f64>, Vec<[f64; 4]>);
    let l = |v: f64| v.ln();
    let mut fields: Vec<Field> = vec![(
        x,
        vx.clone(),
        estimates(
            rows,
            s,
            |i| (l(vn[i]) + l(vx0[i]) - l(vn0[i]) + mr[i], sr[i]),
            |i| (l(vx0[i]) + mx[i], sx[i]),
        ),
    )];
    if pair.both {
        fields.push((
            n,
            vn.clone(),
            estimates(
                rows,
                s,
                |i| (l(vx[i]) - l(vx0[i]) + l(vn0[i]) - mr[i], sr[i]),
                |i| (l(vn0[i]) + mn[i], sn[i]),
            ),
        ));
    }
    // The distances, and P(wrong) from each period's fitted mixture.
    let z_of = |current: &[f64], est: &[[f64; 4]]| -> Vec<f64> {
        (0..rows)
            .map(|i| (current[i].ln() - est[i][0]) / est[i][1])
            .collect()
    };
    let zs: Vec<Vec<f64>> = fields.iter().map(|(_, c, e)| z_of(c, e)).collect();
    let mut out: Vec<DataFrame> = Vec::new();
    for (k, (name, current, est)) in fields.iter().enumerate() {
        let z = &zs[k];
        let p = p_wrong_by_month(z, &period, s);
        let anticipated: Vec<f64> = est.iter().map(|e| e[0].exp()).collect();
        let expected: Vec<f64> = (0..rows)
            .map(|i| p[i] * (current[i] - anticipated[i]).abs())
            .collect();
        let other: Vec<f64> = if pair.both {
            zs[1 - k].clone()
        } else {
            vec![f64::NAN; rows]
        };
        let fcol = |name: &str, v: Vec<f64>| Column::new(name.into(), v);
        out.push(
            DataFrame::new(
                rows,
                vec![
                    Column::new("eid".into(), eid.clone()),
                    Column::new("period".into(), period.clone()),
                    Column::new("field".into(), vec![*name; rows]),
                    fcol("current", current.clone()),
                    fcol("anticipated", anticipated),
                    fcol("sigma", est.iter().map(|e| e[1]).collect()),
                    fcol("z", z.clone()),
                    fcol("p_wrong", p),
                    fcol("expected_error", expected),
                    fcol("from_pair", est.iter().map(|e| e[2]).collect()),
                    fcol("from_history", est.iter().map(|e| e[3]).collect()),
                    fcol("z_other", other),
                    fcol(x, vx.clone()),
                    fcol(n, vn.clone()),
                    fcol(&x0, vx0.clone()),
                    fcol(&n0, vn0.clone()),
                ],
            )
            .map_err(pe)?,
        );
    }
    let mut all = out.remove(0);
    for df in out {
        all.vstack_mut(&df).map_err(pe)?;
    }
    // Rows with no anticipation (a source missing) are left out.
    let known = all
        .column("z")
        .map_err(pe)?
        .as_materialized_series()
        .is_not_nan()
        .map_err(pe)?;
    all.filter(&known).map_err(pe)
}

/// The log changes on the same month last year of the pair's figures (`_dx`,
/// `_dn`) and of their ratio (`_dr`), with their median (`_m`) and 1.4826 · MAD
/// (`_s`) among the peers: the division in the period, or every enterprise of the
/// period when the division has fewer than `min_peers`. Rows with a figure
/// (`cols`: x, n and their values last year) not positive are left out.
fn with_peer_changes(lf: LazyFrame, cols: [&str; 4], s: &Settings) -> Result<LazyFrame> {
    use super::groups::{stats, Coder};
    let changes = log_changes(lf, cols).collect().map_err(pe)?;
    let column = |c: &str| -> Result<Vec<Option<f64>>> {
        Ok(changes
            .column(c)
            .map_err(pe)?
            .f64()
            .map_err(pe)?
            .iter()
            .collect())
    };
    let values = [column("_dx")?, column("_dn")?, column("_dr")?];
    if values.iter().flatten().flatten().any(|v| !v.is_finite()) {
        // NaN and infinities order as Polars orders them only in its own medians.
        return Ok(peer_changes_windows(changes.lazy(), s));
    }
    // The peers: the division in the period when it has `min_peers` rows, else
    // every row of the period (after the divisions' groups).
    let mut coder = Coder::new(&changes);
    let (div, n_div) = coder.ids(&["period", "division"])?;
    let (month, n_month) = coder.ids(&["period"])?;
    let eid = changes.column("eid").map_err(pe)?;
    let mut rows = vec![0u32; n_div];
    for (d, known) in div.iter().zip(eid.is_not_null().iter()) {
        rows[*d as usize] += known.unwrap_or(false) as u32;
    }
    let ids: Vec<u32> = div
        .iter()
        .zip(&month)
        .map(|(&d, &m)| {
            if rows[d as usize] >= s.min_peers as u32 {
                d
            } else {
                n_div as u32 + m
            }
        })
        .collect();
    let mut df = changes;
    for (v, x) in ["_dx", "_dn", "_dr"].into_iter().zip(&values) {
        let st = stats(x, &ids, n_div + n_month, true);
        let m: Vec<Option<f64>> = ids.iter().map(|&g| st.median[g as usize]).collect();
        let spread: Vec<Option<f64>> = ids
            .iter()
            .map(|&g| st.mad[g as usize].map(|d| 1.4826 * d))
            .collect();
        df.with_column(Column::new(format!("{v}_m").into(), m))
            .map_err(pe)?;
        df.with_column(Column::new(format!("{v}_s").into(), spread))
            .map_err(pe)?;
    }
    Ok(df.lazy())
}

/// The rows of [`with_peer_changes`] with their log changes (`_dx`, `_dn`,
/// `_dr`).
fn log_changes(lf: LazyFrame, cols: [&str; 4]) -> LazyFrame {
    let [x, n, x0, n0] = cols;
    let ln = |c: &str| col(c).cast(DataType::Float64).log(lit(std::f64::consts::E));
    let positive = cols
        .into_iter()
        .map(|c| {
            let v = col(c).cast(DataType::Float64);
            v.clone().gt(lit(0.0)).and(v.is_not_nan())
        })
        .reduce(|a, b| a.and(b))
        .expect("four columns");
    lf.filter(positive)
        .with_columns([(ln(x) - ln(x0)).alias("_dx"), (ln(n) - ln(n0)).alias("_dn")])
        .with_column((col("_dx") - col("_dn")).alias("_dr"))
}

/// [`with_peer_changes`] of [`log_changes`]' rows over Polars' windows, for
/// changes that are not all finite; a unit test holds the two equal bit for
/// bit.
fn peer_changes_windows(lf: LazyFrame, s: &Settings) -> LazyFrame {
    let mut lf = lf
        .with_column(
            col("eid")
                .count()
                .over_cols(&["period", "division"])
                .alias("_ng"),
        )
        .with_column(
            when(col("_ng").gt_eq(lit(s.min_peers as u32)))
                .then(col("division"))
                .otherwise(lit("*"))
                .alias("_g"),
        );
    let by = ["period", "_g"];
    for v in ["_dx", "_dn", "_dr"] {
        lf = lf.with_column(col(v).median().over_cols(&by).alias(format!("{v}_m")));
        lf = lf.with_column(
            (lit(1.4826)
                * (col(v) - col(format!("{v}_m")))
                    .abs()
                    .median()
                    .over_cols(&by))
            .alias(format!("{v}_s")),
        );
    }
    lf
}

/// Per row: (log anticipation, sigma, from the pair, from history), the pair's
/// and the history's anticipations combined; NaN where neither is known.
fn estimates(
    rows: usize,
    s: &Settings,
    pair_of: impl Fn(usize) -> (f64, f64),
    hist_of: impl Fn(usize) -> (f64, f64),
) -> Vec<[f64; 4]> {
    (0..rows)
        .map(|i| {
            let (pa, ps) = pair_of(i);
            let (ha, hs) = hist_of(i);
            match combine_two((pa, ps), (ha, hs), s) {
                Some((a, sg)) => [a, sg, pa.exp(), ha.exp()],
                None => [f64::NAN; 4],
            }
        })
        .collect()
}

/// P(wrong) of each distance `z`, from the mixture fitted to its period's
/// distances (rows ordered by period).
fn p_wrong_by_month(z: &[f64], period: &[i32], s: &Settings) -> Vec<f64> {
    let rows = z.len();
    let mut p = vec![f64::NAN; rows];
    let mut start = 0;
    while start < rows {
        let mut end = start;
        while end < rows && period[end] == period[start] {
            end += 1;
        }
        let m = if s.estimate {
            Mixture::fit(&z[start..end], s.prior, s.scale, s.min_scale)
        } else {
            Mixture {
                prior: s.prior,
                scale: s.scale,
                sigma0: 1.0,
            }
        };
        for i in start..end {
            if z[i].is_finite() {
                p[i] = m.p_wrong(z[i]);
            }
        }
        start = end;
    }
    p
}

/// `lf` (`eid`, `period`, the pair `x`, `n`) with the same two figures `back`
/// periods before as `x_ly`, `n_ly` (rows without them dropped), its periods
/// limited to `first..=last` when given, and the division.
fn with_year_before(
    batch: &Batch,
    lf: LazyFrame,
    pair: &Pair,
    back: i32,
    within: Option<(i32, i32)>,
) -> LazyFrame {
    let before = lf.clone().select([
        col("eid"),
        (col("period") + lit(back)).alias("period"),
        col(pair.x).alias(format!("{}_ly", pair.x)),
        col(pair.n).alias(format!("{}_ly", pair.n)),
    ]);
    let lf = match within {
        Some((first, last)) => lf.filter(
            col("period")
                .gt_eq(lit(first))
                .and(col("period").lt_eq(lit(last))),
        ),
        None => lf,
    };
    let lf = lf.join(
        before,
        [col("eid"), col("period")],
        [col("eid"), col("period")],
        JoinArgs::new(JoinType::Inner),
    );
    with_division(batch, lf)
}

/// The labour report's quarters from `first` to `last` (month numbers), with
/// the same quarter last year and the division.
fn labour_rows(batch: &Batch, first: i32, last: i32) -> Option<LazyFrame> {
    let lab = batch
        .table(Table::Labor)?
        .clone()
        .lazy()
        .filter((month_of_year(col("period")) % lit(3)).eq(lit(0)))
        .select([
            col("eid"),
            col("period"),
            col("wage_total").cast(DataType::Float64),
            col("employees").cast(DataType::Float64),
        ]);
    Some(with_year_before(
        batch,
        lab,
        &LABOUR,
        12,
        Some((first, last)),
    ))
}

/// Services revenue with the month's VAT taxable sales, from `first` to `last`
/// (month numbers), with the same month last year and the division.
fn services_rows(batch: &Batch, first: i32, last: i32) -> Option<LazyFrame> {
    let sv = batch.table(Table::Services)?.clone().lazy().select([
        col("eid"),
        col("period"),
        col("revenue").cast(DataType::Float64),
    ]);
    let tax = batch.table(Table::Tax)?.clone().lazy().select([
        col("eid"),
        col("period"),
        col("taxable_sales").cast(DataType::Float64),
    ]);
    let both = join_em(sv, tax);
    Some(with_year_before(
        batch,
        both,
        &SERVICES,
        12,
        Some((first, last)),
    ))
}

/// The R&D reports of every year with last year's, and the division.
fn rd_rows(batch: &Batch) -> Option<LazyFrame> {
    let rd = batch.table(Table::Rd)?.clone().lazy().select([
        col("eid"),
        col("year").alias("period"),
        col("rd_expenditure").cast(DataType::Float64),
        col("rd_staff").cast(DataType::Float64),
    ]);
    Some(with_year_before(batch, rd, &RD, 1, None))
}

fn with_division(batch: &Batch, lf: LazyFrame) -> LazyFrame {
    let ents = batch.enterprises.clone().lazy().select([
        col("eid"),
        col("industry_code")
            .str()
            .slice(lit(0), lit(2))
            .alias("division"),
    ]);
    lf.join(
        ents,
        [col("eid")],
        [col("eid")],
        JoinArgs::new(JoinType::Left),
    )
    .with_column(col("division").fill_null(lit("")))
}

fn settings(ctx: &Ctx<'_>) -> Settings {
    Settings::from_typed(&ctx.set.anticipation)
}

/// The anticipated wage bills and headcounts of the quarters a run looks at
/// (from last year's fourth quarter, which a January audit reviews).
fn labour_panel(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("labour_anticipation", || {
        let first = quarter_window_start_of(ctx.from.0);
        match labour_rows(ctx.batch, first, ctx.period.0) {
            Some(lf) => anticipate(lf, &LABOUR, &settings(ctx)),
            None => Ok(DataFrame::empty()),
        }
    })
}

/// The anticipated wage bills and headcounts a run of month `to` computes, from
/// those of a run auditing months up to `to` (`panel`, whose window starts no
/// later): its rows from the month's window on. Each row's anticipation reads its
/// own quarter and its peers of that quarter, so the rows are the same.
pub fn labour_of_month(panel: &DataFrame, to: crate::model::Month) -> Result<DataFrame> {
    panel
        .clone()
        .lazy()
        .filter(col("period").gt_eq(lit(quarter_window_start_of(to.0))))
        .collect()
        .map_err(pe)
}

/// The first month an audit of month `m` (a month number) reviews in the labour
/// table: [`quarter_window_start`] for one month.
fn quarter_window_start_of(m: i32) -> i32 {
    let moy = m.rem_euclid(12) + 1;
    let latest = m - moy % 3;
    let year_start = m - (moy - 1);
    latest.min(year_start)
}

/// The direction of a gap, in both languages.
fn direction() -> [Expr; 2] {
    [
        when(col("current").gt(col("anticipated")))
            .then(lit("疑似多报"))
            .otherwise(lit("疑似少报"))
            .alias("direction"),
        when(col("current").gt(col("anticipated")))
            .then(lit("probably over-reported"))
            .otherwise(lit("probably under-reported"))
            .alias("direction_en"),
    ]
}

/// One end of the band `â · e^(±2s)`, rounded.
fn band(sign: f64, digits: u32) -> Expr {
    (col("anticipated") * (lit(2.0 * sign) * col("sigma")).exp())
        .round(digits, RoundMode::HalfAwayFromZero)
}

/// Whether a row is far from its anticipation by the rule's parameters.
fn far(f: Far) -> Expr {
    col("p_wrong")
        .gt_eq(lit(f.min_p))
        .and(col("z").abs().gt(lit(f.far_z)))
        .and(
            ((col("current") - col("anticipated")).abs() / col("anticipated"))
                .gt_eq(lit(f.min_gap)),
        )
}

fn strength(far_z: f64) -> Expr {
    (col("z").abs() / lit(far_z.max(0.1)))
        .clip(lit(0.2), lit(5.0))
        .alias("strength")
}

fn labour_far(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av004 {
        min_p,
        far_z,
        min_gap,
        min_employees,
    } = cfg.params()?;
    let f = Far {
        min_p,
        far_z,
        min_gap,
    };
    let panel = labour_panel(ctx)?;
    let note =
        (panel.height() == 0).then(|| "no quarter with the same quarter a year before".to_string());
    let min_emp = min_employees as f64;
    let lf = panel
        .lazy()
        .filter(
            col("employees")
                .gt_eq(lit(min_emp))
                .and(col("employees_ly").gt_eq(lit(min_emp))),
        )
        // The field further from its anticipation speaks for the pair.
        .filter(
            col("z_other")
                .is_nan()
                .or(col("z").abs().gt_eq(col("z_other").abs())),
        )
        .with_column(far(f).alias("_fails"))
        .sort(["eid", "period"], SortMultipleOptions::default());
    let df = quarter_audits(ctx, lf)?.collect().map_err(pe)?;
    let is_wage = col("field").eq(lit(LABOUR.x));
    with_note(
        note,
        outcome_of(
            ctx,
            &df,
            [
                month_text(col("period")).alias("period"),
                col("current").alias("value"),
                col("anticipated")
                    .round(1, RoundMode::HalfAwayFromZero)
                    .alias("threshold"),
                col("anticipated").round(0, RoundMode::HalfAwayFromZero),
                band(-1.0, 0).alias("low"),
                band(1.0, 0).alias("high"),
                when(is_wage.clone())
                    .then(lit("工资总额"))
                    .otherwise(lit("从业人员"))
                    .alias("field_zh"),
                when(is_wage.clone())
                    .then(lit("wage bill"))
                    .otherwise(lit("headcount"))
                    .alias("field_en"),
                when(is_wage.clone())
                    .then(lit(" 千元"))
                    .otherwise(lit(" 人"))
                    .alias("unit_zh"),
                when(is_wage)
                    .then(lit(" thousand yuan"))
                    .otherwise(lit(""))
                    .alias("unit_en"),
                col("wage_total_ly").round(0, RoundMode::HalfAwayFromZero),
                col("employees_ly").round(0, RoundMode::HalfAwayFromZero),
                col("expected_error").round(0, RoundMode::HalfAwayFromZero),
                strength(far_z),
            ]
            .into_iter()
            .chain(direction())
            .collect::<Vec<_>>(),
        ),
    )
}

/// The anticipated services revenues of the years to date a run looks at.
fn services_panel(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("services_anticipation", || {
        match services_rows(ctx.batch, ctx.from.year_start().0, ctx.period.0) {
            Some(lf) => anticipate(lf, &SERVICES, &settings(ctx)),
            None => Ok(DataFrame::empty()),
        }
    })
}

/// The anticipated R&D spends of every R&D year.
fn rd_panel(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("rd_anticipation", || match rd_rows(ctx.batch) {
        Some(lf) => anticipate(lf, &RD, &settings(ctx)),
        None => Ok(DataFrame::empty()),
    })
}

fn services_far(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av006 {
        min_p,
        far_z,
        min_gap,
        min_abs_thousand_yuan: min_abs,
    } = cfg.params()?;
    let f = Far {
        min_p,
        far_z,
        min_gap,
    };
    let panel = services_panel(ctx)?;
    let note = (panel.height() == 0).then(|| {
        "no month with revenue and VAT records both this year and a year before".to_string()
    });
    let lf = panel
        .lazy()
        .with_column(
            far(f)
                .and(
                    (col("current") - col("anticipated"))
                        .abs()
                        .gt_eq(lit(min_abs)),
                )
                .alias("_fails"),
        )
        .sort(["eid", "period"], SortMultipleOptions::default());
    let df = ytd_audits(ctx, lf)?.collect().map_err(pe)?;
    with_note(
        note,
        outcome_of(
            ctx,
            &df,
            [
                month_text(col("period")).alias("period"),
                col("current").alias("value"),
                col("anticipated")
                    .round(0, RoundMode::HalfAwayFromZero)
                    .alias("threshold"),
                col("anticipated").round(0, RoundMode::HalfAwayFromZero),
                band(-1.0, 0).alias("low"),
                band(1.0, 0).alias("high"),
                col("revenue_ly").round(0, RoundMode::HalfAwayFromZero),
                col("taxable_sales_ly").round(0, RoundMode::HalfAwayFromZero),
                col("expected_error").round(0, RoundMode::HalfAwayFromZero),
                strength(far_z),
            ]
            .into_iter()
            .chain(direction())
            .collect::<Vec<_>>(),
        ),
    )
}

fn rd_far(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Av005 {
        min_p,
        far_z,
        min_gap,
        min_staff,
    } = cfg.params()?;
    let f = Far {
        min_p,
        far_z,
        min_gap,
    };
    // No R&D year up to the period: nothing to look at (the note below says so).
    let year = super::rd::rd_year(ctx)?.unwrap_or(i32::MIN);
    let panel = rd_panel(ctx)?;
    let note = (panel.height() == 0).then(|| "no R&D report with last year's".to_string());
    let min_staff = min_staff as f64;
    let df = panel
        .lazy()
        .filter(
            col("period")
                .eq(lit(year))
                .and(col("rd_staff").gt_eq(lit(min_staff)))
                .and(col("rd_staff_ly").gt_eq(lit(min_staff))),
        )
        .with_column(far(f).alias("_fails"))
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    with_note(
        note,
        outcome_of(
            ctx,
            &df,
            [
                col("period").cast(DataType::String).alias("period"),
                col("current").alias("value"),
                col("anticipated")
                    .round(0, RoundMode::HalfAwayFromZero)
                    .alias("threshold"),
                col("anticipated").round(0, RoundMode::HalfAwayFromZero),
                band(-1.0, 0).alias("low"),
                band(1.0, 0).alias("high"),
                col("rd_expenditure_ly").round(0, RoundMode::HalfAwayFromZero),
                col("rd_staff_ly").round(0, RoundMode::HalfAwayFromZero),
                col("expected_error").round(0, RoundMode::HalfAwayFromZero),
                strength(far_z),
            ]
            .into_iter()
            .chain(direction())
            .collect::<Vec<_>>(),
        ),
    )
}

/// The rule's outcome with a note when nothing could be anticipated, so that
/// "nothing found" is not read as "nothing wrong".
fn with_note(note: Option<String>, out: Result<RuleOutput>) -> Result<RuleOutput> {
    let mut out = out?;
    if note.is_some() {
        out.note = note;
    }
    Ok(out)
}

/// The anticipated wage bills and headcounts of the year to date of the period
/// (its quarters), services revenue of its months, and the R&D spend of the R&D
/// year it reviews, as rows of
/// `anticipated.parquet` (`field` names the figure; the period is the quarter's
/// last month, or the R&D year).
///
/// `ctx` audits the period alone ([`Ctx::new`]); the anticipations the rules of
/// its run computed are taken from it ([`Ctx::with_frames`]).
pub fn output(ctx: &Ctx<'_>) -> Result<DataFrame> {
    let (batch, p) = (ctx.batch, ctx.period);
    let mut parts: Vec<DataFrame> = Vec::new();
    let labour = labour_panel(ctx)?;
    if labour.height() > 0 {
        parts.push(rows_out(labour, month_text(col("period")), batch)?);
    }
    let services = services_panel(ctx)?;
    if services.height() > 0 {
        parts.push(rows_out(services, month_text(col("period")), batch)?);
    }
    let rd = rd_panel(ctx)?;
    if rd.height() > 0 {
        let y = p.year();
        // The latest R&D year up to the period's.
        let latest = rd
            .column("period")
            .map_err(pe)?
            .i32()
            .map_err(pe)?
            .iter()
            .flatten()
            .filter(|v| *v <= y)
            .max();
        if let Some(latest) = latest {
            let df = rd
                .lazy()
                .filter(col("period").eq(lit(latest)))
                .collect()
                .map_err(pe)?;
            parts.push(rows_out(df, col("period").cast(DataType::String), batch)?);
        }
    }
    let mut it = parts.into_iter();
    let Some(mut all) = it.next() else {
        return Ok(DataFrame::empty());
    };
    for df in it {
        all.vstack_mut(&df).map_err(pe)?;
    }
    Ok(all)
}

fn rows_out(df: DataFrame, period: Expr, batch: &Batch) -> Result<DataFrame> {
    let uscc = batch
        .enterprises
        .clone()
        .lazy()
        .select([col("eid"), col("uscc")]);
    let r = |c: &str, d: u32| col(c).round(d, RoundMode::HalfAwayFromZero);
    let nothing = |c: &str| lit(NULL).cast(DataType::Float64).alias(c);
    df.lazy()
        .join(
            uscc,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("uscc"),
            period.alias("period"),
            col("field"),
            col("current").alias("reported"),
            r("anticipated", 0),
            r("sigma", 4),
            band(-1.0, 0).alias("low"),
            band(1.0, 0).alias("high"),
            r("z", 3),
            r("p_wrong", 4),
            r("expected_error", 0),
            r("from_history", 0),
            nothing("from_peers"),
            nothing("from_vat"),
            nothing("from_electricity"),
            r("from_pair", 0),
            nothing("z_history"),
            nothing("z_vat"),
            nothing("z_electricity"),
            lit(false).alias("explained"),
        ])
        .collect()
        .map_err(pe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, Normal};

    fn settings() -> Settings {
        let defaults =
            crate::settings::Values::defaults(crate::rules::anticipate::SETTINGS.settings);
        Settings::from_typed(&defaults.typed().unwrap())
    }

    /// The peers' changes over integer group ids equal those over Polars'
    /// windows bit for bit: divisions large and small (pooled), a division of
    /// exactly `min_peers` rows, an unknown division, figures not positive or
    /// unknown (left out), ties.
    #[test]
    fn peer_changes_over_group_ids_equal_the_windows() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let n = 3000u32;
        let divs = [Some("13"), Some("26"), Some("31"), None];
        let figure = |rng: &mut rand_chacha::ChaCha8Rng| -> Option<f64> {
            match rng.random_range(0..20) {
                0 => None,
                1 => Some(0.0),
                2 => Some(-5.0),
                _ => Some(rng.random_range(1..40) as f64 * 25.0),
            }
        };
        let (mut eid, mut period, mut division) = (vec![], vec![], vec![]);
        let (mut x, mut m, mut x0, mut m0) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            eid.push(i);
            // Two small divisions in the first month: "99" of 6 rows, "98" of 3.
            let (p, d) = match i {
                0..6 => (24300, Some("99")),
                6..9 => (24300, Some("98")),
                _ => (
                    24300 + rng.random_range(0..3),
                    divs[rng.random_range(0..divs.len())],
                ),
            };
            period.push(p);
            division.push(d);
            for v in [&mut x, &mut m, &mut x0, &mut m0] {
                let f = figure(&mut rng);
                v.push(if i < 9 {
                    Some(100.0 + (i * 7 % 5) as f64 * 25.0 + f.unwrap_or(0.0).abs())
                } else {
                    f
                });
            }
        }
        let df = df!("eid" => eid, "period" => period, "division" => division,
            "x" => x, "n" => m, "x_ly" => x0, "n_ly" => m0)
        .unwrap();
        let cols = ["x", "n", "x_ly", "n_ly"];
        let mut s = settings();
        // 6: "99" kept at `>=` and pooled at `>` (with "98").
        for min_peers in [1, 6, 10, 300] {
            s.min_peers = min_peers;
            let fast = with_peer_changes(df.clone().lazy(), cols, &s)
                .unwrap()
                .collect()
                .unwrap();
            let slow = peer_changes_windows(log_changes(df.clone().lazy(), cols), &s)
                .collect()
                .unwrap();
            assert!(fast.height() > 1000 && fast.height() < n as usize);
            for c in ["_dx_m", "_dx_s", "_dn_m", "_dn_s", "_dr_m", "_dr_s"] {
                let what = format!("min_peers {min_peers}");
                crate::rules::groups::assert_same_bits(&fast, &slow, c, &what);
            }
        }
    }

    /// 300 enterprises of one division over a year, wage per employee and
    /// headcount each moving a few percent; enterprise 0's wage bill is keyed
    /// 1.8 times too high, enterprise 1's headcount ten times, enterprise 2 grew
    /// both by half (a new line), enterprise 3 has no last year.
    fn labour() -> LazyFrame {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let noise: Normal<f64> = Normal::new(0.0, 0.04).unwrap();
        let (mut eid, mut w, mut e, mut w0, mut e0) = (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..300u32 {
            let staff0: f64 = rng.random_range(20.0..2000.0_f64).round();
            let pay0: f64 = rng.random_range(15.0..40.0);
            let staff = (staff0 * noise.sample(&mut rng).exp()).round();
            let pay = pay0 * 1.05 * noise.sample(&mut rng).exp();
            let (mut wage, mut staff) = (staff * pay, staff);
            match i {
                0 => wage *= 1.8,
                1 => staff *= 10.0,
                2 => {
                    wage *= 1.5;
                    staff = (staff * 1.5).round();
                }
                _ => {}
            }
            eid.push(i);
            w.push(wage);
            e.push(staff);
            w0.push((i != 3).then_some(staff0 * pay0));
            e0.push(staff0);
        }
        let n = eid.len();
        df!(
            "eid" => eid,
            "period" => vec![24_320i32; n],
            "division" => vec!["13"; n],
            "wage_total" => w,
            "employees" => e,
            "wage_total_ly" => w0,
            "employees_ly" => e0,
        )
        .unwrap()
        .lazy()
    }

    fn row(df: &DataFrame, eid: u32, field: &str) -> Option<(f64, f64, f64, f64)> {
        let d = df
            .clone()
            .lazy()
            .filter(col("eid").eq(lit(eid)).and(col("field").eq(lit(field))))
            .collect()
            .unwrap();
        if d.height() == 0 {
            return None;
        }
        let g = |c: &str| d.column(c).unwrap().f64().unwrap().get(0).unwrap();
        Some((g("current"), g("anticipated"), g("z"), g("p_wrong")))
    }

    #[test]
    fn the_field_keyed_wrong_is_the_one_far_from_its_sources() {
        let df = anticipate(labour(), &LABOUR, &settings()).unwrap();
        // The wrong wage bill: far, probably wrong, anticipated near the truth;
        // the headcount beside it is not.
        let (cur, ant, z, p) = row(&df, 0, "wage_total").unwrap();
        assert!(z > 5.0 && p > 0.9, "z {z} p {p}");
        assert!((cur / ant / 1.8 - 1.0).abs() < 0.15, "{cur} against {ant}");
        let (_, _, z_e, _) = row(&df, 0, "employees").unwrap();
        assert!(z_e.abs() < z.abs() / 2.0, "headcount z {z_e} against {z}");
        // The headcount keyed ten times: that field, and anticipated near a tenth.
        let (cur, ant, z, p) = row(&df, 1, "employees").unwrap();
        assert!(z > 5.0 && p > 0.9, "z {z} p {p}");
        assert!((cur / ant / 10.0 - 1.0).abs() < 0.25, "{cur} against {ant}");
        let (_, _, z_w, _) = row(&df, 1, "wage_total").unwrap();
        assert!(z_w.abs() < z.abs() / 2.0, "wage z {z_w} against {z}");
        // Both grown together: the pair agrees, history does not; the band widens
        // and neither field is probably wrong.
        for f in ["wage_total", "employees"] {
            let (_, _, z, p) = row(&df, 2, f).unwrap();
            assert!(p < 0.5, "{f}: z {z} p {p}");
        }
        // No last year: not anticipated.
        assert!(row(&df, 3, "wage_total").is_none());
        // Ordinary enterprises are seldom probably wrong.
        let wrong = df
            .clone()
            .lazy()
            .filter(col("eid").gt(lit(3u32)).and(col("p_wrong").gt_eq(lit(0.5))))
            .collect()
            .unwrap()
            .height();
        assert!(wrong <= 3, "{wrong} ordinary figures probably wrong");
    }

    /// Services revenue against VAT: 200 enterprises; enterprise 0's revenue is
    /// 2.5 times what it invoiced, enterprise 1 doubled its revenue and its VAT
    /// together (real growth the VAT confirms).
    #[test]
    fn revenue_the_vat_does_not_support_is_far_and_growth_it_confirms_is_not() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let noise: Normal<f64> = Normal::new(0.0, 0.05).unwrap();
        let (mut eid, mut r, mut v, mut r0, mut v0) = (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..200u32 {
            let rev0: f64 = rng.random_range(1_000.0..50_000.0);
            let ratio: f64 = rng.random_range(0.8..1.2);
            let grow = 1.04 * noise.sample(&mut rng).exp();
            let mut rev = rev0 * grow;
            let mut vat = rev * ratio * noise.sample(&mut rng).exp();
            match i {
                0 => rev *= 2.5,
                1 => {
                    rev *= 2.0;
                    vat *= 2.0;
                }
                _ => {}
            }
            eid.push(i);
            r.push(rev);
            v.push(vat);
            r0.push(rev0);
            v0.push(rev0 * ratio);
        }
        let n = eid.len();
        let lf = df!(
            "eid" => eid,
            "period" => vec![24_320i32; n],
            "division" => vec!["72"; n],
            "revenue" => r,
            "taxable_sales" => v,
            "revenue_ly" => r0,
            "taxable_sales_ly" => v0,
        )
        .unwrap()
        .lazy();
        let df = anticipate(lf, &SERVICES, &settings()).unwrap();
        let (cur, ant, z, p) = row(&df, 0, "revenue").unwrap();
        assert!(z > 5.0 && p > 0.9, "z {z} p {p}");
        assert!((cur / ant / 2.5 - 1.0).abs() < 0.2, "{cur} against {ant}");
        let (_, _, z, p) = row(&df, 1, "revenue").unwrap();
        assert!(p < 0.5, "growth the VAT confirms: z {z} p {p}");
        // The VAT is a source, not anticipated.
        assert!(row(&df, 0, "taxable_sales").is_none());
    }

    #[test]
    fn an_audit_reviews_the_quarters_of_its_year_or_last_years_fourth() {
        let m = |y: i32, mo: i32| y * 12 + mo - 1;
        assert_eq!(quarter_window_start_of(m(2026, 10)), m(2026, 1));
        assert_eq!(quarter_window_start_of(m(2026, 1)), m(2025, 12));
        assert_eq!(quarter_window_start_of(m(2026, 2)), m(2025, 12));
        assert_eq!(quarter_window_start_of(m(2026, 3)), m(2026, 1));
    }
}
