//! Industrial output against the tax authority's VAT records (税产比): TX001–TX003.

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::panel::{MonthCells, Running};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::{Error, Result};
use crate::model::{Month, Table};

/// The 8 industries with weak statistical foundations the bureaus single out
/// (textiles 17, apparel 18, beverages/liquor/tea 15, furniture 21, agricultural
/// food processing 13), as GB/T 4754-2017 divisions.
pub const WEAK_DIVISIONS: &[&str] = &["13", "15", "17", "18", "21"];

/// The tax rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "TX001",
        title: t("税产比低于 {min_ratio:%}", "Taxable sales below {min_ratio:%} of output"),
        table: Table::Industrial,
        also_needs: &[Table::Tax],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "1 月至 {period} 应税销售额 {ytd_taxable} 千元，占工业总产值 {ytd_gross} 千元的 {value:%}，低于 {min_ratio:%}；无税务记录支撑的产值约 {unbacked} 千元",
            "January to {period}: taxable sales {ytd_taxable} are {value:%} of gross output {ytd_gross} (thousand yuan), below {min_ratio:%}; about {unbacked} of output is not backed by tax records",
        ),
        hint: t(
            "请企业提供本年各月增值税纳税申报表和销售发票，核实工业总产值",
            "Ask for this year's monthly VAT returns and sales invoices; verify gross output against them",
        ),
        what: t(
            "本年累计应税销售额（税务部门增值税申报）占本年累计工业总产值的比例低于阈值（默认 90%）。",
            "Year-to-date taxable sales (from the tax authority's VAT returns) as a share of year-to-date gross output, below a threshold (90% by default).",
        ),
        why: t(
            "税产比低说明产值没有真实销售支撑，是虚报产值的主要信号；文件要求提高应税销售额占工业总产值比重。统计基础较差行业（农副食品加工、酒饮料茶、纺织、服装、家具）加权。",
            "A low ratio means output not backed by real sales — the main sign of inflated output; the bureaus ask to raise this share. Findings in the industries with weak statistical foundations (food processing, beverages, textiles, apparel, furniture) weigh more.",
        ),
        example: t(
            "1–9 月工业总产值 50,000 千元，应税销售额 31,000 千元 → 62%，不通过。",
            "January–September gross output 50,000, taxable sales 31,000 → 62%, fails.",
        ),
        remedy: t(
            "对照增值税申报核实产值；确属库存增加、来料加工等原因的，提供库存和合同证明。",
            "Verify output against the VAT returns; where stock build-up or processing on commission explains the gap, document it.",
        ),
        params: &[
            num("min_ratio", 0.9, Some(0.0), Some(2.0), "lowest accepted year-to-date taxable sales / gross output"),
            num("min_gross_thousand_yuan", 500.0, Some(0.0), None, "smaller year-to-date outputs are not judged (thousand yuan)"),
            codes("weak_divisions", WEAK_DIVISIONS, "industry divisions whose findings weigh more"),
            num("weak_industry_weight", 1.5, Some(1.0), None, "multiplier of the strength in those divisions"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(enterprise_ratio),
    },
    RuleDef {
        code: "TX002",
        title: t("有产值无税务记录", "Output without a tax record"),
        table: Table::Industrial,
        also_needs: &[Table::Tax],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 报送工业总产值 {gross_output} 千元，但税务部门无该月增值税申报记录（本年共 {missing_months} 个月）",
            "{period}: gross output {gross_output} thousand yuan reported, but the tax authority has no VAT return for the month ({missing_months} such months this year)",
        ),
        hint: t(
            "请企业提供该月增值税纳税申报表（或免税、汇总纳税证明）及销售发票",
            "Ask for the month's VAT return (or proof of exemption or consolidated filing) and the sales invoices",
        ),
        what: t(
            "企业当月报送了工业总产值，但税务数据中没有该企业当月的记录。",
            "The enterprise reports output for a month in which the tax data hold no record for it.",
        ),
        why: t(
            "有生产而无纳税申报，产值很可能不真实，或企业由总机构汇总纳税需另行核实；这是最强的疑点之一。",
            "Production without a tax return means the output is likely not real, or the enterprise files through a head office, which must be shown; one of the strongest signals.",
        ),
        example: t("9 月工业总产值 2,300 千元，9 月无增值税申报 → 不通过。", "Output 2,300 in September, no VAT return for September → fails."),
        remedy: t(
            "核实企业纳税主体；汇总纳税的提供分支机构分配表；无法说明的更正产值。",
            "Establish the taxpayer; for consolidated filing, obtain the allocation to the branch; otherwise correct the output.",
        ),
        params: &[
            num("min_gross_thousand_yuan", 0.0, Some(0.0), None, "outputs at or below this are not judged (thousand yuan)"),
            num("min_month_coverage_ratio", 0.5, Some(0.0), Some(1.0), "a month whose tax records cover fewer enterprises than this share of the previous month's is not yet complete and not judged"),
            num("strength", 2.0, Some(0.0), None, "strength of each finding (the rule is a strong signal)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(no_tax_record),
    },
    RuleDef {
        code: "TX003",
        title: t("区县税产比低于 {min_ratio:%}", "County taxable sales below {min_ratio:%} of output"),
        table: Table::Industrial,
        also_needs: &[Table::Tax],
        level: Level::County,
        severity: Severity::Soft,
        message: t(
            "区县 {county_code} 1 月至 {period} 规上工业应税销售额 {ytd_taxable} 千元，占工业总产值 {ytd_gross} 千元的 {value:%}，低于 {min_ratio:%}（{enterprises} 家企业）",
            "County {county_code}, January to {period}: taxable sales {ytd_taxable} are {value:%} of gross output {ytd_gross} (thousand yuan, {enterprises} enterprises), below {min_ratio:%}",
        ),
        hint: t(
            "对该区县加强监测：逐户比对税产比最低的企业，约谈区县统计局",
            "Intensify monitoring of the county: go through its enterprises with the lowest ratios and summon the county bureau",
        ),
        what: t(
            "区县全部规上工业企业本年累计应税销售额占累计工业总产值的比例低于阈值。",
            "A county's year-to-date taxable sales over year-to-date gross output of all its enterprises, below a threshold.",
        ),
        why: t(
            "文件要求对税产比低于 90% 的区县加强监测（三个此类区县被列为重点）。",
            "The bureaus put counties below 90% under intensified monitoring.",
        ),
        example: t("某县 1–9 月产值 1,200,000 千元，应税销售额 960,000 千元 → 80%，不通过。", "A county with output 1,200,000 and taxable sales 960,000 → 80%, fails."),
        remedy: t("区县统计局组织逐户核查，上报整改情况。", "The county bureau checks its enterprises one by one and reports the corrections."),
        params: &[num("min_ratio", 0.9, Some(0.0), Some(2.0), "lowest accepted county year-to-date taxable sales / gross output")],
        basis: Basis::Figures,
        kind: Kind::Builtin(county_ratio),
    },
];

/// TX001's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tx001 {
    min_ratio: f64,
    min_gross_thousand_yuan: f64,
    weak_divisions: Vec<String>,
    weak_industry_weight: f64,
}

/// TX002's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tx002 {
    min_gross_thousand_yuan: f64,
    min_month_coverage_ratio: f64,
    strength: f64,
}

/// TX003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tx003 {
    min_ratio: f64,
}

/// The typed parameters of the tax rules.
pub const PARAMS: &[Typed] = &[
    typed::<Tx001>("TX001"),
    typed::<Tx002>("TX002"),
    typed::<Tx003>("TX003"),
];

/// Share of the previous month's tax records below which a month's records are
/// taken as not yet delivered in full (the year-to-date ratio of TX001/TX003 stops
/// at the month before; TX002 has its own setting, `min_month_coverage_ratio`).
pub const TAX_MONTH_COMPLETE_SHARE: f64 = 0.5;

/// The months of the year to date whose tax records are complete (each holding at
/// least `coverage` × the records of the last complete month before it), and the
/// months of the year that are not.
pub fn tax_months(
    batch: &crate::load::Batch,
    period: crate::model::Month,
    coverage: f64,
) -> Result<(Vec<i32>, Vec<String>)> {
    let Some(tax) = batch.table(Table::Tax) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let per_month = tax
        .clone()
        .lazy()
        .filter(
            col("period")
                .gt_eq(lit(period.year_start().0 - 1))
                .and(col("period").lt_eq(lit(period.0))),
        )
        .group_by([col("period")])
        .agg([col("eid").count().alias("n")])
        .sort(["period"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let periods = per_month
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .clone();
    let ns = per_month
        .column("n")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .clone();
    let mut complete: Vec<i32> = Vec::new();
    let mut prev_n: Option<u32> = None;
    let mut skipped: Vec<String> = Vec::new();
    for (p, n) in periods.iter().zip(ns.iter()) {
        let (Some(p), Some(n)) = (p, n) else { continue };
        let ok = prev_n.is_none_or(|pn| n as f64 >= coverage * pn as f64);
        if ok {
            complete.push(p);
            prev_n = Some(n);
        } else if p >= period.year_start().0 {
            skipped.push(crate::model::Month(p).to_string());
        }
    }
    Ok((complete, skipped))
}

/// [`tax_months`] as a peer statistic of the run: which months the tax
/// authority's records cover depends on every enterprise's records, so a live
/// answer about one enterprise takes it from the last full audit.
pub fn tax_months_in(
    ctx: &Ctx<'_>,
    period: crate::model::Month,
    coverage: f64,
) -> Result<(Vec<i32>, Vec<String>)> {
    let df = ctx.peer_stat(&format!("tax_months:{period}:{coverage}"), || {
        let (complete, skipped) = tax_months(ctx.batch, period, coverage)?;
        let mut periods = complete.clone();
        let mut flags = vec![true; complete.len()];
        for m in &skipped {
            periods.push(
                crate::model::Month::parse_strict(m)
                    .map_err(Error::Usage)?
                    .0,
            );
            flags.push(false);
        }
        DataFrame::new(
            periods.len(),
            vec![
                Column::new("period".into(), periods),
                Column::new("complete".into(), flags),
            ],
        )
        .map_err(pe)
    })?;
    let per = df.column("period").map_err(pe)?.i32().map_err(pe)?;
    let ok = df.column("complete").map_err(pe)?.bool().map_err(pe)?;
    let (mut complete, mut skipped) = (Vec::new(), Vec::new());
    for (p, c) in per.iter().zip(ok.iter()) {
        match (p, c) {
            (Some(p), Some(true)) => complete.push(p),
            (Some(p), Some(false)) => skipped.push(crate::model::Month(p).to_string()),
            _ => {}
        }
    }
    Ok((complete, skipped))
}

/// The last month of the year-to-date ratio: the period, or the last month before
/// it whose tax records are complete (a month the tax authority has not delivered
/// yet would count as zero VAT against the month's output).
fn ratio_through(ctx: &Ctx<'_>) -> Result<Option<i32>> {
    Ok(ratio_months(ctx)?.into_iter().max())
}

/// [`ratio_months_of`] for the run, counted once over the tax table and shared
/// by TX001, TX003 and their notes.
fn ratio_months(ctx: &Ctx<'_>) -> Result<Vec<i32>> {
    let df = ctx.shared("tax_ratio_months", || {
        let (complete, _) = tax_months_in(ctx, ctx.period, TAX_MONTH_COMPLETE_SHARE)?;
        let p = ctx.period;
        let months: Vec<i32> = complete
            .into_iter()
            .filter(|m| *m >= p.year_start().0 && *m <= p.0)
            .collect();
        DataFrame::new(months.len(), vec![Column::new("period".into(), months)]).map_err(pe)
    })?;
    Ok(df
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .into_no_null_iter()
        .collect())
}

/// The months of the year to date whose VAT records are complete: the months the
/// year-to-date ratio adds up (a month whose records are not delivered in full
/// would count as zero VAT against its output).
pub fn ratio_months_of(
    batch: &crate::load::Batch,
    period: crate::model::Month,
) -> Result<Vec<i32>> {
    let (complete, _) = tax_months(batch, period, TAX_MONTH_COMPLETE_SHARE)?;
    Ok(complete
        .into_iter()
        .filter(|m| *m >= period.year_start().0 && *m <= period.0)
        .collect())
}

/// A note when the ratio stops before the period.
fn through_note(ctx: &Ctx<'_>) -> Result<Option<String>> {
    Ok(match ratio_through(ctx)? {
        Some(m) if m < ctx.period.0 => Some(format!(
            "tax records after {} are incomplete: the year-to-date ratio runs to {}",
            crate::model::Month(m),
            crate::model::Month(m)
        )),
        None => Some("no complete month of tax records this year: not judged".to_string()),
        _ => None,
    })
}

/// Enterprise-months of the tax table whose value is unknown: the row was read
/// but quarantined for its value. Such a month has a tax record of unknown value,
/// not "no tax record".
fn unknown_tax(ctx: &Ctx<'_>) -> LazyFrame {
    ctx.batch.unknown_keys(Table::Tax).lazy()
}

/// Year-to-date output and taxable sales per enterprise and audited month `at`
/// (every month from `Ctx::from` to `Ctx::period`, in one pass), with
/// `_unknown` set where a figure the ratio needs is unknown (an empty or
/// quarantined taxable sales, an empty gross output): the ratio is then not
/// evaluable, never a ratio computed with the unknown taken as zero. An
/// enterprise has a row for a month when it reported output in a month its ratio
/// adds up; rows in order of `at`, then `eid`.
fn ytd_totals(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("tax_ytd", || {
        let mut df = YtdYear::default().frame()?;
        for (year, ats) in ytd_months(ctx)? {
            df.vstack_mut(&YtdYear::add_up(ctx, year, &ats)?.frame()?)
                .map_err(pe)?;
        }
        df.rechunk_mut();
        with_enterprise(ctx, df.lazy(), &["division", "county_code"])?
            .collect()
            .map_err(pe)
    })
}

/// An audited month and the months its year-to-date ratio adds up.
type AuditedMonth = (i32, Vec<i32>);

/// Each audited year's months audited, with the months each one's ratio adds up
/// (its year's months whose tax records are complete, up to it: a month's
/// completeness depends only on the months before it, so the year's last month
/// audited tells every month of it).
fn ytd_months(ctx: &Ctx<'_>) -> Result<Vec<(Month, Vec<AuditedMonth>)>> {
    let mut out = Vec::new();
    let mut y = ctx.from.year_start();
    while y <= ctx.period.year_start() {
        let last = Month((y.0 + 11).min(ctx.period.0));
        let complete: Vec<i32> = if last == ctx.period {
            ratio_months(ctx)?
        } else {
            tax_months_in(ctx, last, TAX_MONTH_COMPLETE_SHARE)?
                .0
                .into_iter()
                .filter(|m| *m >= y.0 && *m <= last.0)
                .collect()
        };
        let ats = (y.0.max(ctx.from.0)..=last.0)
            .map(|at| (at, complete.iter().copied().filter(|m| *m <= at).collect()))
            .collect();
        out.push((y, ats));
        y = y.plus(12);
    }
    Ok(out)
}

/// One year's year-to-date totals, a row per audited month `at` and enterprise.
#[derive(Default)]
struct YtdYear {
    at: Vec<i32>,
    eid: Vec<u32>,
    gross: Vec<f64>,
    months: Vec<IdxSize>,
    taxable: Vec<f64>,
    unknown: Vec<bool>,
    through: Vec<i32>,
}

impl YtdYear {
    /// The year starting `year`, for the audited months `ats` with the months
    /// each adds up: the industrial and tax tables laid out as month panels
    /// ([`MonthCells`]) and added up month by month.
    fn add_up(ctx: &Ctx<'_>, year: Month, ats: &[AuditedMonth]) -> Result<YtdYear> {
        for t in [Table::Industrial, Table::Tax] {
            if ctx.batch.table(t).is_none() {
                return Err(Error::Internal {
                    stage: "rules",
                    message: format!("table {t} is not loaded"),
                });
            }
        }
        let mut out = YtdYear::default();
        // The months any audited month adds up: those of the last.
        let Some((last, counted)) = ats.last() else {
            return Ok(out);
        };
        let cells = |t: Table, value: &str| MonthCells::of(ctx.batch, t, value, year.0, *last);
        let (g, t) = (
            cells(Table::Industrial, "gross_output")?,
            cells(Table::Tax, "taxable_sales")?,
        );
        let n = g.n;
        // A record whose month cannot be told may be any month of the year.
        let mut unplaced = vec![false; n];
        for t in [Table::Tax, Table::Industrial] {
            for (e, p) in ctx.batch.unknown.get(&t).into_iter().flatten() {
                if *p == crate::load::UNPLACED && (*e as usize) < n {
                    unplaced[*e as usize] = true;
                }
            }
        }
        let (mut yg, mut yt) = (Running::new(n), Running::new(n));
        // The first month of the year not yet added.
        let mut next = year.0;
        for (at, months) in ats {
            for m in next..=*at {
                if counted.contains(&m) {
                    let k = (m - year.0) as usize;
                    yg.add(&g, k);
                    yt.add(&t, k);
                }
            }
            next = at + 1;
            let Some(through) = months.iter().copied().max() else {
                continue;
            };
            for e in (0..n).filter(|&e| yg.rows[e] > 0) {
                out.at.push(*at);
                out.eid.push(e as u32);
                out.gross.push(yg.sum[e]);
                out.months.push(yg.known[e] as IdxSize);
                out.taxable.push(yt.sum[e]);
                out.unknown.push(
                    yg.nulls[e] > 0
                        || yt.nulls[e] > 0
                        || yg.quarantined[e] + yt.quarantined[e] > 0
                        || unplaced[e],
                );
                out.through.push(through);
            }
        }
        Ok(out)
    }

    fn frame(self) -> Result<DataFrame> {
        DataFrame::new(
            self.at.len(),
            vec![
                Column::new("at".into(), self.at),
                Column::new("eid".into(), self.eid),
                Column::new("ytd_gross".into(), self.gross),
                Column::new("_months".into(), self.months),
                Column::new("ytd_taxable".into(), self.taxable),
                Column::new("_unknown".into(), self.unknown),
                Column::new("_through".into(), self.through),
            ],
        )
        .map_err(pe)
    }
}

fn enterprise_ratio(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Tx001 {
        min_ratio,
        min_gross_thousand_yuan: min_gross,
        weak_divisions: weak,
        weak_industry_weight: weak_w,
    } = cfg.params()?;
    let df = ytd_totals(ctx)?
        .lazy()
        .with_column(
            when(
                col("ytd_gross")
                    .gt(lit(min_gross))
                    .and(col("_unknown").not()),
            )
            .then(col("ytd_taxable") / col("ytd_gross"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("value"),
        )
        .with_column(col("value").lt(lit(min_ratio)).alias("_fails"))
        .collect()
        .map_err(pe)?;
    let note = through_note(ctx)?;
    let found = outcome_of(
        ctx,
        &df,
        [
            month_text(col("_through")).alias("period"),
            lit(min_ratio).alias("threshold"),
            (lit(min_ratio) * col("ytd_gross") - col("ytd_taxable"))
                .round(0, RoundMode::HalfAwayFromZero)
                .alias("unbacked"),
            // 1 per 10 points below the threshold, up to 5; more in the weak industries.
            (((lit(min_ratio) - col("value")) / lit(0.1)).clip(lit(0.2), lit(5.0))
                * when(col("division").is_in(str_list(&weak), false))
                    .then(lit(weak_w))
                    .otherwise(lit(1.0)))
            .alias("strength"),
        ],
    )?;
    Ok(RuleOutput { note, ..found })
}

fn no_tax_record(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Tx002 {
        min_gross_thousand_yuan: min_gross,
        min_month_coverage_ratio: coverage,
        strength,
    } = cfg.params()?;
    let tax = ctx.table(Table::Tax)?;
    // Months whose tax records are not yet complete are not judged. A month's
    // completeness depends only on the months of its year up to it, so each year
    // audited is asked once, at its last month audited.
    let (complete, skipped) = tax_months_in(ctx, ctx.period, coverage)?;
    let of_year = |months: Vec<i32>, y: crate::model::Month| {
        months
            .into_iter()
            .filter(move |m| *m >= y.0 && *m < y.0 + 12)
    };
    let mut complete: Vec<i32> = of_year(complete, ctx.period.year_start()).collect();
    let mut y = ctx.from.year_start();
    while y < ctx.period.year_start() {
        complete.extend(of_year(tax_months_in(ctx, y.plus(11), coverage)?.0, y));
        y = y.plus(12);
    }
    let in_ytd = |_: &Ctx<'_>| in_audited_years(ctx);
    let has_tax =
        tax.filter(in_ytd(ctx))
            .select([col("eid"), col("period"), lit(true).alias("_has_tax")]);
    let unknown = unknown_tax(ctx).filter(in_ytd(ctx)).select([
        col("eid"),
        col("period"),
        lit(true).alias("_tax_unknown"),
    ]);
    // An enterprise with a tax row of unknown month may have its record for any
    // month: no month of it is "without a tax record".
    let unplaced = unknown_tax(ctx)
        .filter(col("period").eq(lit(crate::load::UNPLACED)))
        .group_by([col("eid")])
        .agg([col("period").count().alias("_n")])
        .select([col("eid"), lit(true).alias("_tax_unplaced")]);
    let ind = ctx.table(Table::Industrial)?.filter(in_ytd(ctx)).select([
        col("eid"),
        col("period"),
        col("gross_output"),
    ]);
    let df = join_em(join_em(ind, has_tax), unknown)
        .join(
            unplaced,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(
                col("gross_output")
                    .is_null()
                    .or(col("period").is_in(i32_list(&complete), false).not())
                    // A tax row was read but quarantined: its value is unknown, and
                    // "no tax record" would state what the data do not show.
                    .or(col("_tax_unknown").fill_null(lit(false)))
                    .or(col("_tax_unplaced").fill_null(lit(false))),
            )
            .then(lit(NULL).cast(DataType::Boolean))
            .otherwise(
                col("gross_output")
                    .gt(lit(min_gross))
                    .and(col("_has_tax").is_null()),
            )
            .alias("_fails"),
        );
    // A month's result is the same for every later audit of its year; the months
    // missing are counted up to the audited month.
    let df = ytd_audits(ctx, df)?
        .with_column(
            col("_fails")
                .cast(DataType::UInt32)
                .sum()
                .over_cols(if ctx.from == ctx.period {
                    &["eid"]
                } else {
                    &["at", "eid"]
                })
                .alias("missing_months"),
        )
        .collect()
        .map_err(pe)?;
    let note = (!skipped.is_empty())
        .then(|| format!("tax records incomplete, not judged: {}", skipped.join(", ")));
    let found = outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            col("gross_output").alias("value"),
            lit(min_gross).alias("threshold"),
            lit(strength).alias("strength"),
        ],
    )?;
    Ok(RuleOutput { note, ..found })
}

fn county_ratio(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Tx003 { min_ratio } = cfg.params()?;
    // Enterprises with an unknown figure are left out of both sums: their unknown
    // value is not zero.
    let df = ytd_totals(ctx)?
        .lazy()
        .filter(col("at").eq(lit(ctx.period.0)).and(col("_unknown").not()))
        .group_by([col("county_code")])
        .agg([
            col("ytd_gross").sum().alias("ytd_gross"),
            col("ytd_taxable").sum().alias("ytd_taxable"),
            col("eid").count().alias("enterprises"),
        ])
        .with_column(
            when(col("ytd_gross").gt(lit(0.0)))
                .then(col("ytd_taxable") / col("ytd_gross"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("value"),
        )
        .with_column(col("value").lt(lit(min_ratio)).alias("_fails"))
        .sort(["county_code"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let note = through_note(ctx)?;
    let found = outcome_of(
        ctx,
        &df,
        [
            month_text(lit(ratio_through(ctx)?.unwrap_or(ctx.period.0))).alias("period"),
            lit(min_ratio).alias("threshold"),
            ((lit(min_ratio) - col("value")) / lit(0.1))
                .clip(lit(0.2), lit(5.0))
                .alias("strength"),
            col("ytd_gross").round(0, RoundMode::HalfAwayFromZero),
            col("ytd_taxable").round(0, RoundMode::HalfAwayFromZero),
        ],
    )?;
    Ok(RuleOutput { note, ..found })
}
