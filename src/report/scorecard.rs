//! County data-quality scorecard (区县数据质量评估): one row per county, a composite
//! quality score 0–100, a rank, and the bottom three named.
//!
//! ## The composite score
//!
//! Each component is a sub-score between 0 (worst) and 1 (best); the quality score
//! is `100 · Σ weight · sub-score / Σ weight`, weights in `[scorecard]`:
//!
//! | component | sub-score |
//! |---|---|
//! | tax-to-output ratio (YTD) | `min(1, ratio / min_tax_output_ratio)` |
//! | timeliness | submissions received by the deadline / expected |
//! | hard failures | `1 − min(1, hard-failure rate / hard_rate_worst)` |
//! | soft findings | `1 − min(1, soft-finding rate / soft_rate_worst)` |
//! | risk | `1 − min(1, (red + yellow share) / risk_share_worst)` |
//! | confirmed errors | `1 − confirmed-error rate of last month's queries` (1 without queries) |
//! | Benford | close 1, acceptable 0.75, marginal 0.5, nonconformity 0 (1 when too few values) |
//! | investment volatility | `1 − min(1, volatility / volatility_worst)` (1 without projects) |
//!
//! Rank 1 is the best county; the three lowest are `bottom3`.

use polars::prelude::*;

use crate::detect::benford::Digits;
use crate::error::{Error, Result};
use crate::load::Batch;
use crate::model::{Month, Table};
use crate::settings::{int, num, rules, Section};

/// The `[scorecard]` settings.
pub static SETTINGS: Section = Section {
    name: "scorecard",
    doc: "The county quality scorecard",
    settings: &[
        int(
            "deadline_day",
            8,
            Some(1.0),
            Some(28.0),
            "a submission is late after this day of the following month",
        ),
        num(
            "min_tax_output_ratio",
            0.9,
            Some(0.0),
            Some(2.0),
            "a county below this tax-to-output ratio is flagged",
        ),
        num(
            "hard_rate_worst",
            0.05,
            Some(1e-9),
            None,
            "hard-failure rate scoring 0",
        ),
        num(
            "soft_rate_worst",
            0.3,
            Some(1e-9),
            None,
            "soft-finding rate scoring 0",
        ),
        num(
            "risk_share_worst",
            0.5,
            Some(1e-9),
            None,
            "red + yellow share scoring 0",
        ),
        num(
            "volatility_worst",
            1.5,
            Some(1e-9),
            None,
            "investment volatility (coefficient of variation) scoring 0",
        ),
        num(
            "weight_tax_ratio",
            30.0,
            Some(0.0),
            None,
            "weight of the tax-to-output ratio",
        ),
        num(
            "weight_timeliness",
            15.0,
            Some(0.0),
            None,
            "weight of timeliness",
        ),
        num(
            "weight_hard_rate",
            20.0,
            Some(0.0),
            None,
            "weight of the hard-failure rate",
        ),
        num(
            "weight_soft_rate",
            10.0,
            Some(0.0),
            None,
            "weight of the soft-finding rate",
        ),
        num(
            "weight_risk_share",
            10.0,
            Some(0.0),
            None,
            "weight of the red + yellow share",
        ),
        num(
            "weight_confirmed_errors",
            5.0,
            Some(0.0),
            None,
            "weight of the confirmed-error rate",
        ),
        num(
            "weight_benford",
            5.0,
            Some(0.0),
            None,
            "weight of Benford conformity",
        ),
        num(
            "weight_volatility",
            5.0,
            Some(0.0),
            None,
            "weight of investment volatility",
        ),
        int(
            "bottom_n",
            3,
            Some(0.0),
            None,
            "how many of the lowest counties are named",
        ),
        int(
            "benford_min_values",
            300,
            Some(10.0),
            None,
            "values a county needs for its Benford band (first digits); fewer: no band",
        ),
        int(
            "benford_min_enterprises",
            100,
            Some(1.0),
            None,
            "enterprises a county needs for its Benford band (an enterprise's months share their leading digit)",
        ),
        num(
            "benford_min_value_thousand_yuan",
            10000.0,
            Some(0.0),
            None,
            "only monthly outputs from this size enter the Benford band (thousand yuan)",
        ),
        rules(
            "labor_rules",
            &["LB"],
            "rules (codes, or starts of codes) whose hard and soft findings count in labor_findings",
        ),
        rules(
            "energy_rules",
            &["EN"],
            "rules (codes, or starts of codes) whose hard and soft findings count in energy_findings",
        ),
        rules(
            "key_consumer_rules",
            &["EN003"],
            "rules (codes, or starts of codes) whose findings, of any severity, count in key_energy_consumers",
        ),
        rules(
            "services_rules",
            &["SV"],
            "rules (codes, or starts of codes) whose hard and soft findings count in services_findings",
        ),
    ],
    check: crate::settings::check::<Scorecard>,
};

/// The `[scorecard]` settings, read: one field per key of [`SETTINGS`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    /// A submission is late after this day of the following month.
    pub deadline_day: i64,
    /// A county below this tax-to-output ratio is flagged.
    pub min_tax_output_ratio: f64,
    /// Hard-failure rate scoring 0.
    pub hard_rate_worst: f64,
    /// Soft-finding rate scoring 0.
    pub soft_rate_worst: f64,
    /// Red + yellow share scoring 0.
    pub risk_share_worst: f64,
    /// Investment volatility (coefficient of variation) scoring 0.
    pub volatility_worst: f64,
    /// Weight of the tax-to-output ratio.
    pub weight_tax_ratio: f64,
    /// Weight of timeliness.
    pub weight_timeliness: f64,
    /// Weight of the hard-failure rate.
    pub weight_hard_rate: f64,
    /// Weight of the soft-finding rate.
    pub weight_soft_rate: f64,
    /// Weight of the red + yellow share.
    pub weight_risk_share: f64,
    /// Weight of the confirmed-error rate.
    pub weight_confirmed_errors: f64,
    /// Weight of Benford conformity.
    pub weight_benford: f64,
    /// Weight of investment volatility.
    pub weight_volatility: f64,
    /// How many of the lowest counties are named.
    pub bottom_n: i64,
    /// Values a county needs for its Benford band.
    pub benford_min_values: i64,
    /// Enterprises a county needs for its Benford band.
    pub benford_min_enterprises: i64,
    /// Only monthly outputs from this size enter the Benford band (thousand yuan).
    pub benford_min_value_thousand_yuan: f64,
    /// Rules whose hard and soft findings count in `labor_findings`.
    pub labor_rules: Vec<String>,
    /// Rules whose hard and soft findings count in `energy_findings`.
    pub energy_rules: Vec<String>,
    /// Rules whose findings, of any severity, count in `key_energy_consumers`.
    pub key_consumer_rules: Vec<String>,
    /// Rules whose hard and soft findings count in `services_findings`.
    pub services_rules: Vec<String>,
}

fn pe(e: PolarsError) -> Error {
    Error::polars("scorecard", e)
}

/// Seconds since 1970 of midnight ending `day` of the month after `m` (naive time).
fn deadline_seconds(m: Month, day: i64) -> i64 {
    let next = m.plus(1);
    let date = chrono::NaiveDate::from_ymd_opt(next.year(), next.month(), 1).expect("valid month");
    (date
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp())
        + day * 86_400
}

/// A per-family count: 0 where the county has none, null when the family's table
/// was not given (its section of the scorecard is then left out).
fn family(b: &Batch, t: Table, name: &str) -> Expr {
    if b.table(t).is_some() {
        col(name).fill_null(lit(0u32)).alias(name)
    } else {
        lit(NULL).cast(DataType::UInt32).alias(name)
    }
}

/// What the scorecard is built from.
pub struct ScorecardInput<'a> {
    /// The batch.
    pub batch: &'a Batch,
    /// Findings of the run.
    pub findings: &'a DataFrame,
    /// Grades of the run (`eid`, `grade`, `grade_history` …).
    pub grades: &'a DataFrame,
    /// Query list of the run.
    pub query_list: &'a DataFrame,
}

/// Builds the scorecard: each county's counts from the batch, the findings,
/// the grades and the query list, side by side, then its rates, composite score
/// and rank.
pub fn build(input: &ScorecardInput<'_>, s: &Scorecard) -> Result<DataFrame> {
    let b = input.batch;
    let ents = b
        .enterprises
        .clone()
        .lazy()
        .filter(col("entry_period").lt_eq(lit(b.period.0)));
    let mut lf = coverage(&ents);
    for other in [
        submissions(b, &ents, s),
        tax_ratio(b)?,
        finding_counts(input.findings, s),
        grade_counts(b, input.grades),
        verification_counts(b)?,
        investment_volatility(b)?,
        query_counts(input.query_list),
        benford_bands(b, s)?.lazy(),
    ] {
        lf = lf.join(
            other,
            [col("county_code")],
            [col("county_code")],
            JoinArgs::new(JoinType::Left),
        );
    }
    ranked(with_rates(lf, b, s), s)
}

/// The enterprises of each county, and those expected to file an industrial report.
fn coverage(ents: &LazyFrame) -> LazyFrame {
    // Industrial reports are expected from enterprises of the industrial divisions
    // (mining, manufacturing, utilities: 06–46); services enterprises file theirs.
    let industrial_division = col("industry_code").str().slice(lit(0), lit(2));
    ents.clone().group_by([col("county_code")]).agg([
        col("eid")
            .count()
            .cast(DataType::UInt32)
            .alias("enterprises"),
        col("eid")
            .filter(
                industrial_division
                    .clone()
                    .gt_eq(lit("06"))
                    .and(industrial_division.lt_eq(lit("46"))),
            )
            .count()
            .cast(DataType::UInt32)
            .alias("expected"),
    ])
}

/// The industrial reports of the period received, and those received late.
fn submissions(b: &Batch, ents: &LazyFrame, s: &Scorecard) -> LazyFrame {
    let p = b.period;
    let deadline = deadline_seconds(p, s.deadline_day);
    b.table(Table::Industrial)
        .cloned()
        .unwrap_or_default()
        .lazy()
        .filter(col("period").eq(lit(p.0)))
        .join(
            ents.clone().select([col("eid"), col("county_code")]),
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("county_code")])
        .agg([
            col("eid").count().cast(DataType::UInt32).alias("received"),
            col("submitted_at")
                .gt(lit(deadline))
                .sum()
                .cast(DataType::UInt32)
                .alias("late"),
        ])
}

/// `lf` with each enterprise's county (enterprises not in the register left out).
fn with_county(b: &Batch, lf: LazyFrame) -> LazyFrame {
    lf.join(
        b.enterprises
            .clone()
            .lazy()
            .select([col("eid"), col("county_code")]),
        [col("eid")],
        [col("eid")],
        JoinArgs::new(JoinType::Inner),
    )
}

/// Output and VAT taxable sales summed per county, year to date and for the month.
fn tax_ratio(b: &Batch) -> Result<LazyFrame> {
    let p = b.period;
    // Per enterprise reporting industrial output: output and VAT taxable sales, year
    // to date and for the month. Only these enterprises' VAT counts (a services
    // enterprise's VAT has no output to back), and an enterprise with an unknown
    // figure (an empty value, or a tax row quarantined for its value) is left out of
    // both sums of the period concerned: unknown is not zero.
    // The year to date stops at the last month whose tax records are complete
    // (as TX001 does): a month not yet delivered would count as zero VAT.
    let months: Vec<i32> = crate::rules::tax::ratio_months_of(b, p)?;
    let ytd = col("period").is_in(
        lit(Series::new("months".into(), months)).implode(false),
        false,
    );
    let month = col("period").eq(lit(p.0));
    let out_e = b
        .table(Table::Industrial)
        .cloned()
        .unwrap_or_default()
        .lazy()
        .filter(ytd.clone())
        .group_by([col("eid")])
        .agg([
            col("gross_output").sum().alias("_g_ytd"),
            col("gross_output")
                .null_count()
                .gt(lit(0))
                .alias("_g_ytd_unknown"),
            col("gross_output")
                .filter(month.clone())
                .sum()
                .alias("_g_m"),
            col("gross_output")
                .filter(month.clone())
                .null_count()
                .gt(lit(0))
                .alias("_g_m_unknown"),
            month.clone().any(true).alias("_g_m_present"),
        ]);
    let tax_rows = b
        .table(Table::Tax)
        .cloned()
        .unwrap_or_else(|| crate::load::empty_table(Table::Tax))
        .lazy()
        .filter(ytd.clone());
    let tax_e = tax_rows.group_by([col("eid")]).agg([
        col("taxable_sales").sum().alias("_t_ytd"),
        col("taxable_sales")
            .null_count()
            .gt(lit(0))
            .alias("_t_ytd_unknown"),
        col("taxable_sales")
            .filter(month.clone())
            .sum()
            .alias("_t_m"),
        col("taxable_sales")
            .filter(month.clone())
            .null_count()
            .gt(lit(0))
            .alias("_t_m_unknown"),
    ]);
    let q_e = concat(
        [
            b.unknown_keys(Table::Tax).lazy(),
            b.unknown_keys(Table::Industrial).lazy(),
        ],
        UnionArgs::default(),
    )
    .map_err(pe)?
    .filter(ytd.clone().or(col("period").eq(lit(crate::load::UNPLACED))))
    .group_by([col("eid")])
    .agg([month
        .clone()
        .or(col("period").eq(lit(crate::load::UNPLACED)))
        .any(true)
        .alias("_q_m")])
    .with_column(lit(true).alias("_q_ytd"));
    let left = |a: LazyFrame, o: LazyFrame| {
        a.join(o, [col("eid")], [col("eid")], JoinArgs::new(JoinType::Left))
    };
    let unknown = |cols: &[&str]| {
        cols.iter()
            .map(|c| col(*c).fill_null(lit(false)))
            .reduce(|a, b| a.or(b))
            .expect("at least one column")
    };
    Ok(with_county(b, left(left(out_e, tax_e), q_e))
        .with_columns([
            unknown(&["_g_ytd_unknown", "_t_ytd_unknown", "_q_ytd"]).alias("_ytd_unknown"),
            unknown(&["_g_m_unknown", "_t_m_unknown", "_q_m"])
                .or(col("_g_m_present").not())
                .alias("_m_unknown"),
        ])
        .group_by([col("county_code")])
        .agg([
            col("_g_ytd")
                .filter(col("_ytd_unknown").not())
                .sum()
                .alias("_gross_ytd"),
            col("_t_ytd")
                .fill_null(lit(0.0))
                .filter(col("_ytd_unknown").not())
                .sum()
                .alias("_tax_ytd"),
            col("_g_m")
                .filter(col("_m_unknown").not())
                .sum()
                .alias("_gross_month"),
            col("_t_m")
                .fill_null(lit(0.0))
                .filter(col("_m_unknown").not())
                .sum()
                .alias("_tax_month"),
        ]))
}

/// Per county, the enterprises with a hard / soft finding, and those with a
/// warning (not an info) of each report family, the family's rules as the
/// settings name them.
fn finding_counts(findings: &DataFrame, s: &Scorecard) -> LazyFrame {
    let enterprises_where = |cond: Expr| col("eid").filter(cond).n_unique().cast(DataType::UInt32);
    let of_rules = |codes: Vec<String>| {
        codes
            .into_iter()
            .map(|c| col("rule_code").str().starts_with(lit(c)))
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false))
    };
    let warned_in = |codes: Vec<String>| of_rules(codes).and(col("severity").neq(lit("info")));
    findings
        .clone()
        .lazy()
        .filter(col("eid").is_not_null())
        .group_by([col("county_code")])
        .agg([
            enterprises_where(warned_in(s.labor_rules.clone())).alias("labor_findings"),
            enterprises_where(warned_in(s.energy_rules.clone())).alias("energy_findings"),
            enterprises_where(of_rules(s.key_consumer_rules.clone())).alias("key_energy_consumers"),
            enterprises_where(warned_in(s.services_rules.clone())).alias("services_findings"),
            enterprises_where(col("severity").eq(lit("hard"))).alias("_hard_ents"),
            enterprises_where(col("severity").eq(lit("soft"))).alias("_soft_ents"),
        ])
}

/// Per county, the grades now and in the first month of the year.
fn grade_counts(b: &Batch, grades: &DataFrame) -> LazyFrame {
    grades
        .clone()
        .lazy()
        .join(
            b.enterprises
                .clone()
                .lazy()
                .select([col("eid"), col("county_code")]),
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col("grade_history")
                .str()
                .slice(lit(0), lit(1))
                .alias("_first"),
        )
        .group_by([col("county_code")])
        .agg([
            col("grade")
                .eq(lit("red"))
                .sum()
                .cast(DataType::UInt32)
                .alias("red"),
            col("grade")
                .eq(lit("yellow"))
                .sum()
                .cast(DataType::UInt32)
                .alias("yellow"),
            col("grade")
                .eq(lit("green"))
                .sum()
                .cast(DataType::UInt32)
                .alias("green"),
            (col("_first").eq(lit("R")).or(col("_first").eq(lit("Y"))))
                .sum()
                .cast(DataType::Float64)
                .alias("_ry_first"),
            col("_first")
                .is_in(
                    lit(Series::new("l".into(), ["R", "Y", "G"])).implode(false),
                    false,
                )
                .sum()
                .cast(DataType::Float64)
                .alias("_n_first"),
        ])
}

/// Per county, the verifications of last month's queries and the errors confirmed.
fn verification_counts(b: &Batch) -> Result<LazyFrame> {
    let p = b.period;
    Ok(match b.table(Table::Verifications) {
        Some(v) => with_county(b, v.clone().lazy().filter(col("period").eq(lit(p.0 - 1))))
            .group_by([col("county_code")])
            .agg([
                col("eid")
                    .count()
                    .cast(DataType::UInt32)
                    .alias("verified_last_month"),
                col("outcome")
                    .eq(lit("confirmed_error"))
                    .sum()
                    .cast(DataType::UInt32)
                    .alias("_confirmed"),
            ]),
        None => DataFrame::new(
            0,
            vec![
                Column::new_empty("county_code".into(), &DataType::String),
                Column::new_empty("verified_last_month".into(), &DataType::UInt32),
                Column::new_empty("_confirmed".into(), &DataType::UInt32),
            ],
        )
        .map_err(pe)?
        .lazy(),
    })
}

/// Investment volatility: coefficient of variation of the county's monthly
/// completed investment over the year to date (from three months).
fn investment_volatility(b: &Batch) -> Result<LazyFrame> {
    let p = b.period;
    Ok(match b.table(Table::Investment) {
        Some(inv) => {
            let months = inv.clone().lazy().filter(
                col("period")
                    .gt_eq(lit(p.year_start().0))
                    .and(col("period").lt_eq(lit(p.0))),
            );
            let prev = months.clone().select([
                col("project_id"),
                (col("period") + lit(1)).alias("period"),
                col("ytd_completed").alias("_prev"),
            ]);
            months
                .join(
                    prev,
                    [col("project_id"), col("period")],
                    [col("project_id"), col("period")],
                    JoinArgs::new(JoinType::Left),
                )
                .with_column(
                    when(col("period").eq(lit(p.year_start().0)))
                        .then(col("ytd_completed"))
                        .otherwise(col("ytd_completed") - col("_prev").fill_null(lit(0.0)))
                        .alias("_inc"),
                )
                .group_by([col("county_code"), col("period")])
                .agg([col("_inc").sum().alias("_month_total")])
                .group_by([col("county_code")])
                .agg([
                    (col("_month_total").std(1) / col("_month_total").mean())
                        .alias("investment_volatility"),
                    col("_month_total").count().alias("_inv_months"),
                ])
                .with_column(
                    when(col("_inv_months").gt_eq(lit(3)))
                        .then(col("investment_volatility"))
                        .otherwise(lit(NULL).cast(DataType::Float64))
                        .alias("investment_volatility"),
                )
        }
        None => DataFrame::new(
            0,
            vec![
                Column::new_empty("county_code".into(), &DataType::String),
                Column::new_empty("investment_volatility".into(), &DataType::Float64),
                Column::new_empty("_inv_months".into(), &DataType::UInt32),
            ],
        )
        .map_err(pe)?
        .lazy(),
    })
}

/// Query list lines per county, those for the city and those sampled.
fn query_counts(query_list: &DataFrame) -> LazyFrame {
    query_list
        .clone()
        .lazy()
        .group_by([col("county_code")])
        .agg([
            col("rank")
                .count()
                .cast(DataType::UInt32)
                .alias("query_lines"),
            col("verifier")
                .eq(lit("city"))
                .sum()
                .cast(DataType::UInt32)
                .alias("query_city"),
            col("sampled")
                .sum()
                .cast(DataType::UInt32)
                .alias("query_sampled"),
        ])
}

/// The county Benford test of monthly output. It needs enough values and
/// enterprises: below, no band.
fn benford_bands(b: &Batch, s: &Scorecard) -> Result<DataFrame> {
    let min_values = s.benford_min_values;
    let min_enterprises = s.benford_min_enterprises;
    let benford = crate::rules::detectors::county_benford(
        b,
        b.period,
        Digits::First,
        s.benford_min_value_thousand_yuan,
    )?;
    let benford = if benford.height() > 0 {
        benford
            .lazy()
            .with_column(
                when(
                    col("n")
                        .gt_eq(lit(min_values))
                        .and(col("enterprises").gt_eq(lit(min_enterprises))),
                )
                .then(col("band"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("band"),
            )
            .collect()
            .map_err(pe)?
    } else {
        benford
    };
    if benford.height() == 0 {
        DataFrame::new(
            0,
            vec![
                Column::new_empty("county_code".into(), &DataType::String),
                Column::new_empty("benford_values".into(), &DataType::UInt32),
                Column::new_empty("benford_mad".into(), &DataType::Float64),
                Column::new_empty("benford_band".into(), &DataType::String),
            ],
        )
        .map_err(pe)
    } else {
        benford
            .lazy()
            .select([
                col("county_code"),
                col("n").alias("benford_values"),
                col("mad").alias("benford_mad"),
                col("band").alias("benford_band"),
            ])
            .collect()
            .map_err(pe)
    }
}

/// A count or total as a float.
fn f(name: &str) -> Expr {
    col(name).cast(DataType::Float64)
}

/// The counts with zero where a county has none, and the rates and shares.
fn with_rates(lf: LazyFrame, b: &Batch, s: &Scorecard) -> LazyFrame {
    let min_ratio = s.min_tax_output_ratio;
    lf.with_columns([
        col("received").fill_null(lit(0u32)),
        col("late").fill_null(lit(0u32)),
        col("query_lines").fill_null(lit(0u32)),
        col("query_city").fill_null(lit(0u32)),
        col("query_sampled").fill_null(lit(0u32)),
        col("_hard_ents").fill_null(lit(0u32)),
        col("_soft_ents").fill_null(lit(0u32)),
        col("verified_last_month").fill_null(lit(0u32)),
        col("_confirmed").fill_null(lit(0u32)),
        col("red").fill_null(lit(0u32)),
        col("yellow").fill_null(lit(0u32)),
        col("green").fill_null(lit(0u32)),
        family(b, Table::Labor, "labor_findings"),
        family(b, Table::Energy, "energy_findings"),
        family(b, Table::Energy, "key_energy_consumers"),
        family(b, Table::Services, "services_findings"),
    ])
    .with_columns([
        (f("expected") - f("received"))
            .clip_min(lit(0.0))
            .cast(DataType::UInt32)
            .alias("missing"),
        when(col("_gross_ytd").gt(lit(0.0)))
            .then(col("_tax_ytd").fill_null(lit(0.0)) / col("_gross_ytd"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("tax_output_ratio"),
        when(col("_gross_month").gt(lit(0.0)))
            .then(col("_tax_month").fill_null(lit(0.0)) / col("_gross_month"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("tax_output_ratio_month"),
        (f("_hard_ents") / f("enterprises")).alias("hard_rate"),
        (f("_soft_ents") / f("enterprises")).alias("soft_rate"),
        (f("red") / f("enterprises")).alias("red_share"),
        (f("yellow") / f("enterprises")).alias("yellow_share"),
        (f("green") / f("enterprises")).alias("green_share"),
        when(col("verified_last_month").gt(lit(0)))
            .then(f("_confirmed") / f("verified_last_month"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("confirmed_error_rate"),
    ])
    .with_columns([
        col("tax_output_ratio")
            .lt(lit(min_ratio))
            .fill_null(lit(false))
            .alias("tax_flag"),
        ((f("red") + f("yellow")) / f("enterprises")).alias("risk_share"),
        when(col("_n_first").gt(lit(0.0)))
            .then(col("_ry_first") / col("_n_first"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("risk_share_first_month"),
    ])
    .with_column((col("risk_share") - col("risk_share_first_month")).alias("risk_share_change"))
}

/// The composite quality score, 0–100 (see the module's documentation).
fn quality_score(s: &Scorecard) -> Expr {
    let min_ratio = s.min_tax_output_ratio;
    let sub = |e: Expr| e.clip(lit(0.0), lit(1.0));
    let comps = [
        (
            s.weight_tax_ratio,
            sub(col("tax_output_ratio").fill_null(lit(min_ratio)) / lit(min_ratio.max(1e-9))),
        ),
        (
            s.weight_timeliness,
            sub((f("received") - f("late")) / f("expected")),
        ),
        (
            s.weight_hard_rate,
            sub(lit(1.0) - col("hard_rate") / lit(s.hard_rate_worst)),
        ),
        (
            s.weight_soft_rate,
            sub(lit(1.0) - col("soft_rate") / lit(s.soft_rate_worst)),
        ),
        (
            s.weight_risk_share,
            sub(lit(1.0) - col("risk_share") / lit(s.risk_share_worst)),
        ),
        (
            s.weight_confirmed_errors,
            sub(lit(1.0) - col("confirmed_error_rate").fill_null(lit(0.0))),
        ),
        (
            s.weight_benford,
            when(col("benford_band").eq(lit("close")))
                .then(lit(1.0))
                .when(col("benford_band").eq(lit("acceptable")))
                .then(lit(0.75))
                .when(col("benford_band").eq(lit("marginal")))
                .then(lit(0.5))
                .when(col("benford_band").eq(lit("nonconformity")))
                .then(lit(0.0))
                .otherwise(lit(1.0)),
        ),
        (
            s.weight_volatility,
            sub(lit(1.0)
                - col("investment_volatility").fill_null(lit(0.0)) / lit(s.volatility_worst)),
        ),
    ];
    let total_w: f64 = comps.iter().map(|(w, _)| w).sum::<f64>().max(1e-9);
    let mut score = lit(0.0);
    for (wt, e) in comps {
        score = score + lit(wt) * e.fill_null(lit(1.0));
    }
    (score * lit(100.0 / total_w))
        .round(1, RoundMode::HalfAwayFromZero)
        .alias("quality_score")
}

/// The counties ranked by their score, the lowest named, in the output's columns.
fn ranked(lf: LazyFrame, s: &Scorecard) -> Result<DataFrame> {
    let bottom_n = s.bottom_n;
    lf.with_column(quality_score(s))
        .sort_by_exprs(
            [col("quality_score"), col("county_code")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .with_column(
            (col("county_code").cum_count(false))
                .cast(DataType::UInt32)
                .alias("rank"),
        )
        // The lowest `bottom_n` counties, but never all of them: with n counties
        // at most n − 1 are named.
        .with_column(
            (col("rank")
                .cast(DataType::Int64)
                .gt(col("rank").max().cast(DataType::Int64)
                    - (col("rank").max().cast(DataType::Int64) - lit(1i64))
                        .clip_max(lit(bottom_n))))
            .alias("bottom3"),
        )
        .select([
            col("county_code"),
            col("rank"),
            col("quality_score"),
            col("bottom3"),
            col("enterprises"),
            col("expected"),
            col("received"),
            col("late"),
            col("missing"),
            col("tax_output_ratio"),
            col("tax_output_ratio_month"),
            col("tax_flag"),
            col("hard_rate"),
            col("soft_rate"),
            col("red"),
            col("yellow"),
            col("green"),
            col("red_share"),
            col("yellow_share"),
            col("green_share"),
            col("risk_share"),
            col("risk_share_first_month"),
            col("risk_share_change"),
            col("verified_last_month"),
            col("confirmed_error_rate"),
            col("investment_volatility"),
            col("benford_values"),
            col("benford_mad"),
            col("benford_band"),
            col("query_lines"),
            col("query_city"),
            col("query_sampled"),
            col("labor_findings"),
            col("energy_findings"),
            col("key_energy_consumers"),
            col("services_findings"),
        ])
        .collect()
        .map_err(pe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Values;

    #[test]
    fn deadline_is_the_given_day_of_the_next_month() {
        let m = Month::parse_strict("2026-09").unwrap();
        let d = deadline_seconds(m, 8);
        let expected = chrono::NaiveDate::from_ymd_opt(2026, 10, 9)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        assert_eq!(d, expected);
    }

    /// The family counts take their rules from the settings: the defaults count
    /// a warning of an LB rule and EN003 of any severity; other settings count
    /// what they name, and a family without rules counts nobody.
    #[test]
    fn family_counts_follow_the_settings() {
        let findings = df!(
            "eid" => [1u32, 2, 3, 4],
            "county_code" => ["c", "c", "c", "c"],
            "rule_code" => ["LB001", "LB002", "EN003", "AV004"],
            "severity" => ["soft", "info", "info", "soft"],
        )
        .unwrap();
        let counts = |s: &Scorecard| {
            let df = finding_counts(&findings, s).collect().unwrap();
            let n = |c: &str| df.column(c).unwrap().u32().unwrap().get(0).unwrap();
            (
                n("labor_findings"),
                n("key_energy_consumers"),
                n("energy_findings"),
            )
        };
        let mut s: Scorecard = Values::defaults(SETTINGS.settings).typed().unwrap();
        assert_eq!(counts(&s), (1, 1, 0));
        s.labor_rules = vec!["LB".into(), "AV004".into()];
        s.key_consumer_rules = vec![];
        assert_eq!(counts(&s), (2, 0, 0));
    }
}
