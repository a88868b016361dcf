//! Statistical detectors wired into the packs: Hidiroglou–Berthelot on output
//! (IN008 against last year, IN009 against last month, by industry division), on
//! investment increments by county (IV007); Benford's law per county (BF001,
//! BF002). Robust z-scores are used by the R&D pack (RD006, RD007).

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::panel::MonthCells;
use super::registry::{typed, Basis, Kind, Level, ParamSpec, RuleDef, Severity, Typed};
use crate::detect::benford::{self, Digits};
use crate::detect::hb::{self, Params, Side, Status};
use crate::error::{Error, Result};
use crate::model::{Month, Table};

const HB_PARAMS: &[ParamSpec] = &[
    num(
        "exponent",
        0.0,
        Some(0.0),
        Some(1.0),
        "U: how much the size of an enterprise counts (0 = not at all; the score adds size)",
    ),
    num(
        "mdm",
        0.05,
        Some(1e-9),
        None,
        "A: minimum distance multiplier",
    ),
    num(
        "mii",
        7.0,
        Some(0.0),
        None,
        "C of the imputation interval: beyond it a finding (FTI); 0 = not used",
    ),
    num(
        "mei",
        0.0,
        Some(0.0),
        None,
        "C of the exclusion interval: beyond it a weaker finding (FTE); 0 = not used",
    ),
    int(
        "min_obs",
        10,
        Some(1.0),
        None,
        "smallest group processed (Banff's default 10); smaller groups are skipped and reported",
    ),
    flag(
        "year_to_date",
        false,
        "test every month of the year to date (true) or only the period under review (false)",
    ),
];

const BENFORD_PARAMS: &[ParamSpec] = &[
    int("min_values", 300, Some(10.0), None, "counties with fewer values are not judged"),
    int(
        "min_enterprises",
        100,
        Some(1.0),
        None,
        "counties with fewer enterprises contributing are not judged: an enterprise's months share their leading digit, so the values are not independent",
    ),
    num(
        "min_value_thousand_yuan",
        10000.0,
        Some(0.0),
        None,
        "only values from this size are tested: above-size enterprises start near 1,700 a month, so the first full decade above that threshold begins at 10,000",
    ),
];

/// The detector rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "IN008",
        title: t("产值同比 HB 离群", "Output against last year: HB outlier"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值 {current} 千元，上年同月 {base} 千元，比值 {ratio:.2}，同行业中位数 {median_ratio:.2}；HB 效应值 {value:.2} 超出 [{lower:.2}, {upper:.2}]（{status_zh}）",
            "{period}: gross output {current} against {base} a year earlier (thousand yuan), ratio {ratio:.2}, industry median {median_ratio:.2}; HB effect {value:.2} outside [{lower:.2}, {upper:.2}] ({status})",
        ),
        hint: t(
            "请企业说明与上年同期差异的原因，提供订单、销售发票和增值税纳税申报表",
            "Ask why the month differs from last year; request orders, sales invoices and VAT returns",
        ),
        what: t(
            "Hidiroglou–Berthelot 方法（与加拿大统计局 Banff 系统 OUTLIER 过程一致）：在同行业大类、同月份的企业中，比较本期与上年同期工业总产值之比，按规模加权后的效应值落在四分位数区间之外。",
            "The Hidiroglou–Berthelot method, exactly as Statistics Canada's Banff OUTLIER procedure: among the enterprises of one industry division and month, the ratio of output to the same month last year, weighted by size, lies outside the quartile-based interval.",
        ),
        why: t(
            "HB 方法是企业调查审核的国际标准：比值相对于同行业中位数判断（自然消除季节性和行业景气），并按规模加权，使对总量影响大的企业优先。",
            "HB is the standard of business-survey editing: ratios are judged against the industry median (removing seasonality and the cycle) and weighted by size, so units that move the totals come first.",
        ),
        example: t(
            "同行业同比中位数 1.05，本企业 2.80，规模大 → 效应值超出上界 → 不通过。",
            "Industry median ratio 1.05, this enterprise 2.80 and large → effect beyond the upper bound → fails.",
        ),
        remedy: t("核实本期和上年同期数据，更正有误的一期。", "Verify both periods and correct the wrong one."),
        params: HB_PARAMS,
        basis: Basis::Figures,
        kind: Kind::Months(hb_yoy),
    },
    RuleDef {
        code: "IN009",
        title: t("产值环比 HB 离群", "Output against last month: HB outlier"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值 {current} 千元，上月 {base} 千元，比值 {ratio:.2}，同行业中位数 {median_ratio:.2}；HB 效应值 {value:.2} 超出 [{lower:.2}, {upper:.2}]（{status_zh}）",
            "{period}: gross output {current} against {base} the month before (thousand yuan), ratio {ratio:.2}, industry median {median_ratio:.2}; HB effect {value:.2} outside [{lower:.2}, {upper:.2}] ({status})",
        ),
        hint: t(
            "请企业说明本月与上月差异的原因，提供生产日报、入库单和销售发票",
            "Ask why the month differs from the one before; request production logs, warehouse receipts and sales invoices",
        ),
        what: t(
            "Hidiroglou–Berthelot 方法：在同行业大类、同月份的企业中，比较本月与上月工业总产值之比（同行业中位数反映春节等季节性）。",
            "Hidiroglou–Berthelot: among the enterprises of one industry division and month, the ratio of output to the previous month (the industry median carries seasonality such as the Spring Festival).",
        ),
        why: t("与 IN008 相同，比较的是相邻月份。", "As IN008, on consecutive months."),
        example: t("同行业环比中位数 0.78（春节），本企业 1.90 → 不通过。", "Industry median 0.78 (Spring Festival), this enterprise 1.90 → fails."),
        remedy: t("核实两个月的数据。", "Verify both months."),
        params: HB_PARAMS,
        basis: Basis::Figures,
        kind: Kind::Months(hb_mom),
    },
    RuleDef {
        code: "IV007",
        title: t("投资月度完成额 HB 离群", "Monthly investment increment: HB outlier"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Soft,
        message: t(
            "项目 {project_id} {period} 当月完成投资 {current} 千元，上月 {base} 千元，比值 {ratio:.2}，本县中位数 {median_ratio:.2}；HB 效应值 {value:.2} 超出 [{lower:.2}, {upper:.2}]（{status_zh}）",
            "Project {project_id}, {period}: {current} completed in the month against {base} the month before (thousand yuan), ratio {ratio:.2}, county median {median_ratio:.2}; HB effect {value:.2} outside [{lower:.2}, {upper:.2}] ({status})",
        ),
        hint: t(
            "请项目单位提供形象进度表和当月支出凭证",
            "Ask for the progress sheets and the month's payment vouchers",
        ),
        what: t(
            "Hidiroglou–Berthelot 方法：在同一区县、同一月份的项目中，比较当月完成投资与上月完成投资之比。",
            "Hidiroglou–Berthelot: among the projects of one county and month, the month's completed investment against the previous month's.",
        ),
        why: t("文件要求对数据波动较大的县区加大审核力度。", "The bureaus ask for closer audit where figures swing."),
        example: t("本县中位数 1.1，本项目 6.0 → 不通过。", "County median 1.1, this project 6.0 → fails."),
        remedy: t("核对当月支出的合同、发票和付款记录。", "Check the month's contracts, invoices and payments."),
        params: &[
            num("exponent", 0.0, Some(0.0), Some(1.0), "U: how much the size of a project counts"),
            num("mdm", 0.05, Some(1e-9), None, "A: minimum distance multiplier"),
            num("mii", 7.0, Some(0.0), None, "C of the imputation interval; 0 = not used"),
            num("mei", 0.0, Some(0.0), None, "C of the exclusion interval; 0 = not used"),
            int("min_obs", 10, Some(1.0), None, "smallest group processed"),
            int("group_digits", 6, Some(2.0), Some(6.0), "digits of the division code forming a group: 6 county, 4 city, 2 province"),
            flag("year_to_date", false, "test every month of the year to date (true) or only the period under review (false)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(hb_investment),
    },
    RuleDef {
        code: "BF001",
        title: t("区县产值首位数字不符合本福特定律", "County output: first digits against Benford"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::County,
        severity: Severity::Info,
        message: t(
            "区县 {county_code} 本年 {n} 个月度工业总产值的首位数字分布与本福特定律的平均绝对偏差 {value:.4}，{band_zh}（卡方检验 p = {p_value:.4}）",
            "County {county_code}: the first digits of {n} monthly gross outputs this year deviate from Benford's law by MAD {value:.4}, {band} (chi-square p = {p_value:.4})",
        ),
        hint: t(
            "对该区县抽查数据来源：核对企业统计台账与原始记录",
            "Sample the county's sources: check enterprises' statistical ledgers against their records",
        ),
        what: t(
            "区县内企业本年各月工业总产值的首位数字分布，与本福特定律的平均绝对偏差（MAD）超过 Nigrini 的“不符合”界限 0.015。",
            "The first digits of the county's monthly gross outputs this year, against Benford's law: mean absolute deviation beyond Nigrini's nonconformity limit 0.015.",
        ),
        why: t("来自账簿的经济数据服从本福特定律；编造的数据往往不服从，是“数出无据”的统计信号。", "Figures from real books follow Benford's law; invented ones usually do not."),
        example: t("MAD 0.021 → 不符合。", "MAD 0.021 → nonconformity."),
        remedy: t("区县统计局抽查企业数据来源。", "The county bureau samples enterprises' sources."),
        params: BENFORD_PARAMS,
        basis: Basis::Figures,
        kind: Kind::Months(benford_first),
    },
    RuleDef {
        code: "BF002",
        title: t("区县产值前两位数字不符合本福特定律", "County output: first two digits against Benford"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::County,
        severity: Severity::Info,
        message: t(
            "区县 {county_code} 本年 {n} 个月度工业总产值的前两位数字分布与本福特定律的平均绝对偏差 {value:.4}，{band_zh}（卡方检验 p = {p_value:.4}）",
            "County {county_code}: the first two digits of {n} monthly gross outputs this year deviate from Benford's law by MAD {value:.4}, {band} (chi-square p = {p_value:.4})",
        ),
        hint: t(
            "对该区县抽查数据来源：核对企业统计台账与原始记录",
            "Sample the county's sources: check enterprises' statistical ledgers against their records",
        ),
        what: t(
            "同 BF001，检验前两位数字（10–99），不符合界限 0.0022；对整数化、凑数更敏感。",
            "As BF001 on the first two digits (10–99), nonconformity beyond 0.0022; more sensitive to rounding and made-up figures.",
        ),
        why: t("前两位数字检验能发现集中在某些整数附近的编造数据。", "The two-digit test finds figures clustered on favourite numbers."),
        example: t("MAD 0.0031 → 不符合。", "MAD 0.0031 → nonconformity."),
        remedy: t("区县统计局抽查企业数据来源。", "The county bureau samples enterprises' sources."),
                params: &[
            int("min_values", 1000, Some(10.0), None, "counties with fewer values are not judged"),
            int("min_enterprises", 100, Some(1.0), None, "counties with fewer enterprises contributing are not judged (see BF001)"),
            num("min_value_thousand_yuan", 10000.0, Some(0.0), None, "only values from this size are tested (see BF001)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(benford_two),
    },
];

/// The parameters of a Hidiroglou–Berthelot rule on month pairs ([`HB_PARAMS`]):
/// IN008, IN009 and SV001 ([`hb_rule`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hb {
    /// Exponent of the size in the effect.
    pub exponent: f64,
    /// Minimum distance to the median.
    pub mdm: f64,
    /// Inner bound multiplier (0: the default method).
    pub mii: f64,
    /// Outer bound multiplier (0: the default method).
    pub mei: f64,
    /// Smallest group tested.
    pub min_obs: i64,
    /// Whether a run tests the months of the year to date or the period alone.
    pub year_to_date: bool,
}

/// IV007's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv007 {
    exponent: f64,
    mdm: f64,
    mii: f64,
    mei: f64,
    min_obs: i64,
    group_digits: i64,
    year_to_date: bool,
}

/// BF001's and BF002's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Benford {
    min_values: i64,
    min_enterprises: i64,
    min_value_thousand_yuan: f64,
}

/// The typed parameters of the detector rules.
pub const PARAMS: &[Typed] = &[
    typed::<Hb>("IN008"),
    typed::<Hb>("IN009"),
    typed::<Iv007>("IV007"),
    typed::<Benford>("BF001"),
    typed::<Benford>("BF002"),
];

/// The HB settings of rule `code` from its parameters `s`.
fn hb_params(code: &str, s: &Hb) -> Result<Params> {
    let opt = |v: f64| (v > 0.0).then_some(v);
    let p = Params {
        exponent: s.exponent,
        mdm: s.mdm,
        mii: opt(s.mii),
        mei: opt(s.mei),
        min_obs: s.min_obs.max(1) as usize,
        accept_zero: None,
        accept_negative: false,
        side: Side::Both,
    };
    p.validate(hb::Method::Ratio).map_err(|m| Error::Internal {
        stage: "rules",
        message: format!("{code}: {m}"),
    })?;
    Ok(p)
}

/// HB with the rule's parameters on prepared pairs (`current`, `base`, `_group`,
/// `period` as a month number): the flagged rows with effect, bounds and status.
pub fn hb_rule(ctx: &Ctx<'_>, df: DataFrame, code: &str, s: &Hb) -> Result<RuleOutput> {
    let p = hb_params(code, s)?;
    run_hb(df, &p, last_tested(ctx, s.year_to_date))
}

/// The months a run of the last month audited (`Ctx::period`) tests (see
/// [`scope`]): its counts are those of the groups of these months.
fn last_tested(ctx: &Ctx<'_>, year_to_date: bool) -> std::ops::RangeInclusive<i32> {
    if year_to_date {
        ctx.period.year_start().0..=ctx.period.0
    } else {
        ctx.period.0..=ctx.period.0
    }
}

/// The months a detector tests: the year to date, or the period under review
/// (each month audited, over several).
fn scope(ctx: &Ctx<'_>, year_to_date: bool) -> Expr {
    if year_to_date {
        in_audited_years(ctx)
    } else {
        ctx.audited(col("period"))
    }
}

/// Over the year to date, a tested month's flags belong to every later audit of
/// its year: each failure is repeated with the month auditing it (`at`). Over
/// the period alone, the failure's month is the audited month.
pub fn audited_failures(
    ctx: &Ctx<'_>,
    year_to_date: bool,
    mut out: RuleOutput,
) -> Result<RuleOutput> {
    if year_to_date {
        out.failures = ytd_audits(
            ctx,
            out.failures
                .lazy()
                .rename(["period", "_period_no"], ["_period_text", "period"], true),
        )?
        .rename(["period", "_period_text"], ["_period_no", "period"], true)
        .collect()
        .map_err(pe)?;
    }
    Ok(out)
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    Ok(df
        .column(name)
        .map_err(pe)?
        .cast(&DataType::String)
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

/// Runs HB on pairs (`current`, `base`) within groups (`_group`, an integer
/// column, each of one month `period`) and returns the flagged rows with the
/// effect, bounds and status. The counts and the note are those of the groups
/// of the months `counted` (the last month's audit, over several months).
fn run_hb(df: DataFrame, p: &Params, counted: std::ops::RangeInclusive<i32>) -> Result<RuleOutput> {
    let months: Vec<Option<i32>> = df
        .column("period")
        .map_err(pe)?
        .cast(&DataType::Int32)
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .iter()
        .collect();
    let x = f64s(&df, "current")?;
    let y = f64s(&df, "base")?;
    let keys: Vec<Option<u64>> = df
        .column("_group")
        .map_err(pe)?
        .cast(&DataType::UInt64)
        .map_err(pe)?
        .u64()
        .map_err(pe)?
        .iter()
        .collect();
    let mut ids: PlHashMap<Option<u64>, u32> = PlHashMap::new();
    let mut group = Vec::with_capacity(keys.len());
    // Whether each group is counted (by its month).
    let mut in_count: Vec<bool> = Vec::new();
    let is_counted = |m: &Option<i32>| m.is_some_and(|m| counted.contains(&m));
    for (k, m) in keys.iter().zip(&months) {
        let n = ids.len() as u32;
        let g = *ids.entry(*k).or_insert(n);
        if g == n {
            in_count.push(is_counted(m));
        }
        group.push(g);
    }
    let (results, flags, _) = hb::run_grouped(&x, Some(&y), &group, ids.len(), p);
    let counted_groups = || {
        results
            .iter()
            .zip(&in_count)
            .filter(|(_, c)| **c)
            .map(|(g, _)| g)
    };
    let skipped = counted_groups().filter(|g| !g.processed).count();
    let groups = counted_groups().count();
    let evaluated: u64 = counted_groups()
        .filter(|g| g.processed)
        .map(|g| g.n_used as u64)
        .sum();
    let not_evaluable = months.iter().filter(|m| is_counted(m)).count() as u64 - evaluated;
    let mut rows: Vec<IdxSize> = Vec::with_capacity(flags.len());
    let (
        mut effect,
        mut lower,
        mut upper,
        mut median,
        mut status,
        mut status_zh,
        mut strength,
        mut thr,
    ) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for f in &flags {
        let g = &results[group[f.index] as usize];
        let (lo, hi) = match f.status {
            Status::Fti => (g.imp_l, g.imp_r),
            Status::Fte => (g.excl_l, g.excl_r),
        };
        let m = g.m.unwrap_or(0.0);
        let bound = if f.side == 'L' { lo } else { hi }.unwrap_or(m);
        let dist = (bound - m).abs().max(1e-12);
        rows.push(f.index as IdxSize);
        effect.push(f.effect);
        lower.push(lo);
        upper.push(hi);
        median.push(g.median_ratio);
        let high = f.side == 'R';
        status.push(format!(
            "{}, {}",
            f.status.as_str(),
            if high { "high" } else { "low" }
        ));
        status_zh.push(format!(
            "{}，{}",
            if f.status == Status::Fti {
                "离群值 FTI"
            } else {
                "可疑值 FTE"
            },
            if high { "偏高" } else { "偏低" }
        ));
        thr.push(bound);
        let base = if f.status == Status::Fti { 1.0 } else { 0.5 };
        strength.push(base * excess((f.effect - m).abs() / dist));
    }
    let idx = IdxCa::from_vec("idx".into(), rows);
    let mut out = df.take(&idx).map_err(pe)?;
    let n = out.height();
    for c in [
        Column::new("value".into(), effect),
        Column::new("lower".into(), lower),
        Column::new("upper".into(), upper),
        Column::new("median_ratio".into(), median),
        Column::new("status".into(), status),
        Column::new("status_zh".into(), status_zh),
        Column::new("threshold".into(), thr),
        Column::new("strength".into(), strength),
    ] {
        debug_assert_eq!(c.len(), n);
        out.with_column(c).map_err(pe)?;
    }
    let out = out
        .lazy()
        .with_columns([
            (col("current") / col("base")).alias("ratio"),
            col("period").alias("_period_no"),
            month_text(col("period")).alias("period"),
        ])
        .collect()
        .map_err(pe)?;
    let note = (skipped > 0).then(|| {
        format!(
            "{skipped} of {groups} groups had fewer than {} usable values and were skipped",
            p.min_obs
        )
    });
    Ok(RuleOutput {
        failures: out,
        evaluated,
        not_evaluable,
        note,
        of_last_month: true,
    })
}

/// HB on each enterprise's gross output against its own `lag` months earlier,
/// within its division and month. The rows tested, and the figures they are
/// compared with, are read from one month panel of the table ([`MonthCells`]):
/// no join, and the rows come out in month and enterprise order without a sort.
fn hb_output(ctx: &Ctx<'_>, cfg: &RuleConfig, lag: i32) -> Result<RuleOutput> {
    let s: Hb = cfg.params()?;
    let year_to_date = s.year_to_date;
    let p = hb_params(cfg.code(), &s)?;
    // Only the months the tested months are compared with.
    let first = if year_to_date {
        ctx.from.year_start().0
    } else {
        ctx.from.0
    };
    let last = ctx.period.0;
    let tested = months_in(scope(ctx, year_to_date), first, last)?;
    let cells = MonthCells::of(
        ctx.batch,
        Table::Industrial,
        "gross_output",
        first - lag,
        last,
    )?;
    let ents = ctx.enterprises()?;
    // Each enterprise's division as a number, as a cast of the text gives it.
    let division = ents
        .clone()
        .lazy()
        .select([col("division").cast(DataType::UInt64)])
        .collect()
        .map_err(pe)?;
    let division: Vec<Option<u64>> = division
        .column("division")
        .map_err(pe)?
        .u64()
        .map_err(pe)?
        .iter()
        .collect();
    let figure = |i: usize| (cells.known[i] > 0).then(|| cells.sum[i]);
    let (mut eid, mut period) = (Vec::new(), Vec::new());
    let (mut current, mut base, mut group) = (Vec::new(), Vec::new(), Vec::new());
    for m in tested {
        for e in 0..cells.n {
            let Some(i) = cells
                .at(Some(e as u32), Some(m))
                .filter(|&i| cells.rows[i] > 0)
            else {
                continue;
            };
            eid.push(e as u32);
            period.push(m);
            current.push(figure(i));
            base.push(
                cells
                    .at(Some(e as u32), Some(m - lag))
                    .filter(|&j| cells.rows[j] > 0)
                    .and_then(figure),
            );
            group.push(
                division
                    .get(e)
                    .copied()
                    .flatten()
                    .map(|d| d * 100_000 + m as u64),
            );
        }
    }
    let idx = IdxCa::from_vec("idx".into(), eid.iter().map(|&e| e as IdxSize).collect());
    let division = ents
        .column("division")
        .map_err(pe)?
        .take(&idx)
        .map_err(pe)?;
    let df = DataFrame::new(
        eid.len(),
        vec![
            Column::new("eid".into(), eid),
            Column::new("period".into(), period),
            Column::new("current".into(), current),
            Column::new("base".into(), base),
            division,
            Column::new("_group".into(), group),
        ],
    )
    .map_err(pe)?;
    audited_failures(
        ctx,
        year_to_date,
        run_hb(df, &p, last_tested(ctx, year_to_date))?,
    )
}

/// The months from `first` to `last` that `filter` (an expression of `period`)
/// keeps.
fn months_in(filter: Expr, first: i32, last: i32) -> Result<Vec<i32>> {
    let months: Vec<i32> = (first..=last).collect();
    let df = DataFrame::new(months.len(), vec![Column::new("period".into(), months)])
        .map_err(pe)?
        .lazy()
        .filter(filter)
        .collect()
        .map_err(pe)?;
    Ok(df
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .iter()
        .flatten()
        .collect())
}

fn hb_yoy(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    hb_output(ctx, cfg, 12)
}

fn hb_mom(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    hb_output(ctx, cfg, 1)
}

fn hb_investment(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv007 {
        exponent,
        mdm,
        mii,
        mei,
        min_obs,
        group_digits,
        year_to_date,
    } = cfg.params()?;
    let s = Hb {
        exponent,
        mdm,
        mii,
        mei,
        min_obs,
        year_to_date,
    };
    let p = hb_params(cfg.code(), &s)?;
    let digits = group_digits.clamp(2, 6);
    let inv = ctx.table(Table::Investment)?;
    // Every month audited (`Ctx::from` to `Ctx::period`) in one call: a group is a
    // county's projects in one month, whichever month audits it. A month's
    // increment needs the month before, its base the one before that.
    let from = ctx.from.year_start().0 - 2;
    let months = inv
        .clone()
        .filter(
            col("period")
                .gt_eq(lit(from))
                .and(col("period").lt_eq(lit(ctx.period.0))),
        )
        .select([
            col("project_id"),
            col("eid"),
            col("county_code"),
            col("period"),
            col("planned_total"),
            col("ytd_completed"),
        ]);
    let prev = months.clone().select([
        col("project_id"),
        (col("period") + lit(1)).alias("period"),
        col("ytd_completed").alias("_prev_ytd"),
    ]);
    let inc = months
        .join(
            prev,
            [col("project_id"), col("period")],
            [col("project_id"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(month_of_year(col("period")).eq(lit(1)))
                .then(col("ytd_completed"))
                .otherwise(col("ytd_completed") - col("_prev_ytd"))
                .alias("current"),
        );
    let base = inc.clone().select([
        col("project_id"),
        (col("period") + lit(1)).alias("period"),
        col("current").alias("base"),
    ]);
    let df = inc
        .filter(scope(ctx, year_to_date))
        .join(
            base,
            [col("project_id"), col("period")],
            [col("project_id"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            (col("county_code")
                .str()
                .slice(lit(0), lit(digits as u64))
                .cast(DataType::UInt64)
                * lit(100_000u64)
                + col("period").cast(DataType::UInt64))
            .alias("_group"),
        )
        .sort(["period", "project_id"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let mut out = run_hb(df, &p, last_tested(ctx, year_to_date))?;
    let city = super::investment::city_tier_min(ctx)?;
    out.failures = out
        .failures
        .lazy()
        .with_column(
            when(col("planned_total").gt_eq(lit(city)))
                .then(lit("city"))
                .otherwise(lit("county"))
                .alias("verifier"),
        )
        .collect()
        .map_err(pe)?;
    Ok(out)
}

/// Benford's test of each county's monthly gross outputs in the year to date:
/// `county_code`, `n`, `mad`, `band`, `band_zh`, `chi2`, `p_value`.
pub fn county_benford(
    batch: &crate::load::Batch,
    period: Month,
    digits: Digits,
    min_value: f64,
) -> Result<DataFrame> {
    let df = county_benford_months(batch, period, period, digits, min_value)?;
    if df.get_column_index("at").is_none() {
        return Ok(df);
    }
    df.drop("at").map_err(pe)
}

/// [`county_benford`] of every month from `from` to `to`, with the month in `at`:
/// the digits are counted once per county and month, then added up over each
/// month's year to date.
pub fn county_benford_months(
    batch: &crate::load::Batch,
    from: Month,
    to: Month,
    digits: Digits,
    min_value: f64,
) -> Result<DataFrame> {
    let Some(ind) = batch.table(Table::Industrial) else {
        return Ok(DataFrame::empty());
    };
    let first = from.year_start().0;
    let df = ind
        .clone()
        .lazy()
        .filter(
            col("period")
                .gt_eq(lit(first))
                .and(col("period").lt_eq(lit(to.0)))
                .and(col("gross_output").gt_eq(lit(min_value))),
        )
        .select([col("eid"), col("period"), col("gross_output")])
        .collect()
        .map_err(pe)?;
    // Counties by enterprise id (the id is the register's row).
    let county_of = strings(&batch.enterprises, "county_code")?;
    let values = f64s(&df, "gross_output")?;
    let eids: Vec<Option<u32>> = df
        .column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .iter()
        .collect();
    let periods: Vec<Option<i32>> = df
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .iter()
        .collect();
    let range = digits.range();
    let k = (range.end() - range.start() + 1) as usize;
    let months = (to.0 - first + 1).max(0) as usize;
    // Counties numbered in the order of their codes, the order of the output
    // ("" for an enterprise outside the register).
    let mut codes: Vec<&str> = county_of.iter().map(String::as_str).collect();
    codes.push("");
    codes.sort_unstable();
    codes.dedup();
    let number: PlHashMap<&str, u32> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i as u32))
        .collect();
    let county_id: Vec<u32> = county_of.iter().map(|c| number[c.as_str()]).collect();
    let outside = number[""];
    // Per county and month, the digit counts; per enterprise and year, the
    // month it first contributes in (u32::MAX: none).
    let first_year = first.div_euclid(12);
    let years = (to.0.div_euclid(12) - first_year + 1).max(1) as usize;
    let ents_n = eids.iter().flatten().max().map_or(0, |e| *e as usize + 1);
    let mut counts = vec![0u32; codes.len() * months * k];
    let mut present = vec![false; codes.len()];
    let mut first_in_year = vec![u32::MAX; ents_n * years];
    for ((v, e), m) in values.into_iter().zip(eids).zip(periods) {
        let (Some(v), Some(e), Some(m)) = (v, e, m) else {
            continue;
        };
        let c = county_id.get(e as usize).copied().unwrap_or(outside) as usize;
        present[c] = true;
        let i = (m - first) as usize;
        if let Some(d) = benford::digit_index(v, digits) {
            counts[(c * months + i) * k + d] += 1;
        }
        let f = &mut first_in_year[e as usize * years + (m.div_euclid(12) - first_year) as usize];
        *f = (*f).min(i as u32);
    }
    // Per county and month, the enterprises that first contribute in it.
    let mut starting = vec![0u32; codes.len() * months];
    for (slot, &i) in first_in_year.iter().enumerate() {
        if i != u32::MAX {
            let e = slot / years;
            let c = county_id.get(e).copied().unwrap_or(outside) as usize;
            starting[c * months + i as usize] += 1;
        }
    }
    let (mut at, mut code, mut n, mut ents, mut mad, mut band, mut band_zh, mut chi2, mut pv) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for m in from.0..=to.0 {
        let (ys, end) = (
            (Month(m).year_start().0 - first) as usize,
            (m - first) as usize,
        );
        for (c, name) in codes.iter().enumerate() {
            if !present[c] {
                continue;
            }
            let mut total = vec![0usize; k];
            for i in ys..=end {
                let row = &counts[(c * months + i) * k..(c * months + i + 1) * k];
                for (t, x) in total.iter_mut().zip(row) {
                    *t += *x as usize;
                }
            }
            // The enterprises of the year to date: those whose first month
            // in the year is one of its months.
            let contributing: u32 = starting[c * months + ys..=c * months + end].iter().sum();
            if let Some(r) = benford::test_counts(&total, digits) {
                at.push(m);
                code.push(name.to_string());
                n.push(r.n as u32);
                ents.push(contributing);
                mad.push(r.mad);
                band.push(r.conformity.as_str());
                band_zh.push(r.conformity.zh());
                chi2.push(r.chi2);
                pv.push(r.p_value);
            }
        }
    }
    let h = code.len();
    DataFrame::new(
        h,
        vec![
            Column::new("at".into(), at),
            Column::new("county_code".into(), code),
            Column::new("n".into(), n),
            Column::new("enterprises".into(), ents),
            Column::new("mad".into(), mad),
            Column::new("band".into(), band),
            Column::new("band_zh".into(), band_zh),
            Column::new("chi2".into(), chi2),
            Column::new("p_value".into(), pv),
        ],
    )
    .map_err(pe)
}

fn benford_rule(ctx: &Ctx<'_>, cfg: &RuleConfig, digits: Digits) -> Result<RuleOutput> {
    let Benford {
        min_values,
        min_enterprises: min_ents,
        min_value_thousand_yuan,
    } = cfg.params()?;
    let limit = digits.bands()[2];
    let df = county_benford_months(
        ctx.batch,
        ctx.from,
        ctx.period,
        digits,
        min_value_thousand_yuan,
    )?
    .lazy()
    .with_column(
        when(
            col("n")
                .gt_eq(lit(min_values))
                .and(col("enterprises").gt_eq(lit(min_ents))),
        )
        .then(col("mad").gt(lit(limit)))
        .otherwise(lit(NULL).cast(DataType::Boolean))
        .alias("_fails"),
    )
    .collect()
    .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("at")).alias("period"),
            col("mad").alias("value"),
            lit(limit).alias("threshold"),
            (col("mad") / lit(limit))
                .clip(lit(1.0), lit(4.0))
                .alias("strength"),
        ],
    )
}

fn benford_first(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    benford_rule(ctx, cfg, Digits::First)
}

fn benford_two(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    benford_rule(ctx, cfg, Digits::FirstTwo)
}
