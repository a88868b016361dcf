//! Services above designated size (规上服务业, monthly): SV001–SV003. SV003 brings
//! the query error rate (数据查询差错率) of the services risk-grade rules
//! (风险等级动态调整办法) into the score of services enterprises.

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::detectors::Hb;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::Result;
use crate::model::Table;

const EVIDENCE_ZH: &str = "请企业提供营业收入明细账、增值税纳税申报表和主要合同";
const EVIDENCE_EN: &str = "Ask for the revenue ledger, the VAT returns and the main contracts";

/// The services rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "SV001",
        title: t("营业收入环比 HB 离群", "Services revenue against last month: HB outlier"),
        table: Table::Services,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 营业收入 {current} 千元，上月 {base} 千元，比值 {ratio:.2}，同行业中位数 {median_ratio:.2}；HB 效应值 {value:.2} 超出 [{lower:.2}, {upper:.2}]（{status_zh}）",
            "{period}: revenue {current} against {base} the month before (thousand yuan), ratio {ratio:.2}, industry median {median_ratio:.2}; HB effect {value:.2} outside [{lower:.2}, {upper:.2}] ({status})",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "Hidiroglou–Berthelot 方法（与 Banff 一致）：同行业大类、同月份的规上服务业企业中，本月与上月营业收入之比的效应值落在区间之外。",
            "Hidiroglou–Berthelot, as Banff: among the services enterprises of one industry division and month, the ratio of revenue to the previous month lies outside the quartile interval.",
        ),
        why: t("营业收入突变而同行业没有同样变化，提示收入可能来自推算或调整。", "A jump the industry does not share suggests estimated or adjusted revenue."),
        example: t("同行业中位数 1.02，本企业 4.10 → 不通过。", "Industry median 1.02, this enterprise 4.10 → fails."),
        remedy: t("核对两个月的收入明细账。", "Check both months' revenue ledgers."),
        params: &[
            num("exponent", 0.0, Some(0.0), Some(1.0), "U: how much the size of an enterprise counts"),
            num("mdm", 0.05, Some(1e-9), None, "A: minimum distance multiplier"),
            num("mii", 7.0, Some(0.0), None, "C of the imputation interval; 0 = not used"),
            num("mei", 0.0, Some(0.0), None, "C of the exclusion interval; 0 = not used"),
            int("min_obs", 10, Some(1.0), None, "smallest group processed; smaller divisions are grouped together"),
            flag("year_to_date", false, "test every month of the year to date (true) or only the period under review"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(revenue_hb),
    },
    RuleDef {
        code: "SV002",
        title: t("人均营业收入与同行业不符", "Revenue per employee implausible against peers"),
        table: Table::Services,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 人均营业收入 {per_employee:.1} 千元（{revenue} 千元 / {employees} 人），同行业中位数 {peer_median:.1} 千元，稳健 z 值 {value:.1}",
            "{period}: revenue per employee {per_employee:.1} thousand yuan ({revenue} / {employees}); industry median {peer_median:.1}; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("当月人均营业收入（取对数）与同行业大类企业相比的稳健 z 值超过阈值（默认 3.5）。一年前同样偏离同类（z 值同号且相差不超过 1.5）的，为本企业一贯水平：仍列出，强度乘以 0.25。", "The month's revenue per employee (log scale) against the industry division: robust z beyond a threshold (3.5). When the enterprise stood as far from its peers, on the same side, a year earlier (z within 1.5), the deviation is its own level: still listed, at a quarter of the strength."),
        why: t("人均收入畸高或畸低，说明收入或从业人员有一项不实。", "Revenue per person far from peers means the revenue or the headcount is wrong."),
        example: t("同行业 12 千元/人，本企业 180 千元/人 → 不通过。", "Industry 12 per person, this enterprise 180 → fails."),
        remedy: t("核对花名册与收入明细账。", "Check the roster and the revenue ledger."),
        params: &[
            num("max_abs_z", 3.5, Some(0.0), None, "largest accepted |robust z|"),
            int("min_peers", 20, Some(3.0), None, "smallest peer group: industry class, else division, else all"),
            steady_factor(),
            steady_max_dz(),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(per_employee),
    },
    RuleDef {
        code: "SV003",
        title: t("规上服务业企业数据查询差错率高", "High query error rate of a services enterprise"),
        table: Table::Services,
        also_needs: &[Table::Verifications],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "近 {months} 个月被查询 {queries} 次，其中核实有误 {errors} 次，数据查询差错率 {value:%}",
            "Queried {queries} times in the last {months} months, {errors} confirmed errors: a query error rate of {value:%}",
        ),
        hint: t(
            "请企业说明以往差错的整改情况，提供本期数据的原始凭证",
            "Ask how earlier errors were corrected and for the source vouchers of this period's figures",
        ),
        what: t(
            "规上服务业企业风险等级动态调整办法把数据查询差错率计入风险等级：近 12 个月被查询企业中核实有误的比例达到阈值（默认 50%）。强度按证据多少计：差错率向全部查询的总体差错率收缩（相当于另加 2 次按总体差错率计的查询），只查过一次的企业强度较低。",
            "The services risk-grade rules count the query error rate: the share of an enterprise's queries in the last 12 months that confirmed an error, at or above a threshold (50%). The strength weighs the evidence: the rate is drawn towards the overall rate of all queries (as if 2 more queries at that rate), so an enterprise queried once weighs less.",
        ),
        why: t("反复查出差错的企业，本期数据出错的可能性也更高。", "An enterprise whose figures were repeatedly wrong is more likely wrong again."),
        example: t("被查询 2 次，2 次核实有误 → 100%，不通过。", "Queried twice, both errors → 100%, fails."),
        remedy: t("提高该企业的核查频次，督促建立统计台账。", "Verify the enterprise more often and have it keep a statistical ledger."),
        params: &[
            num("min_error_rate", 0.5, Some(0.0), Some(1.0), "query error rate from which the rule fails"),
            int("months", 12, Some(1.0), None, "months of verifications counted"),
            int("min_queries", 1, Some(1.0), None, "queries needed to judge"),
            int("prior_queries", 2, Some(0.0), None, "pseudo-queries at the overall error rate added for the strength (0: the raw rate)"),
        ],
        basis: Basis::Record,
        kind: Kind::Months(query_error_rate),
    },
];

/// SV003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Sv003 {
    min_error_rate: f64,
    months: i64,
    min_queries: i64,
    prior_queries: i64,
}

/// The typed parameters of the services rules.
pub const PARAMS: &[Typed] = &[
    typed::<Hb>("SV001"),
    typed::<PeerZ>("SV002"),
    typed::<Sv003>("SV003"),
];

fn revenue_hb(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let hb: Hb = cfg.params()?;
    let (min_obs, year_to_date) = (hb.min_obs, hb.year_to_date);
    let svc = ctx
        .table(Table::Services)?
        .select([col("eid"), col("period"), col("revenue")]);
    let base = svc.clone().select([
        col("eid"),
        (col("period") + lit(1)).alias("period"),
        col("revenue").alias("base"),
    ]);
    let scope = if year_to_date {
        in_audited_years(ctx)
    } else {
        ctx.audited(col("period"))
    };
    let lf = svc
        .filter(scope)
        .join(
            base,
            [col("eid"), col("period")],
            [col("eid"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .rename(["revenue"], ["current"], true);
    // Divisions too small for a group of their own are pooled.
    let df = with_enterprise(ctx, lf, &["division"])?
        .with_column(
            col("eid")
                .count()
                .over_cols(&["period", "division"])
                .alias("_n"),
        )
        .with_column(
            // Divisions too small for a group of their own are pooled (group 0).
            (when(col("_n").gt_eq(lit(min_obs as u32)))
                .then(col("division").cast(DataType::UInt64))
                .otherwise(lit(0u64))
                * lit(100_000u64)
                + col("period").cast(DataType::UInt64))
            .alias("_group"),
        )
        .sort(["period", "eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let out = super::detectors::hb_rule(ctx, df, cfg.code(), &hb)?;
    super::detectors::audited_failures(ctx, year_to_date, out)
}

fn per_employee(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: PeerZ = cfg.params()?;
    let max_z = p.max_abs_z;
    let min_peers = p.min_peers as u32;
    // The audited months and, a year before each, the same comparison to set it
    // against (see `steady`).
    let lf = ctx
        .table(Table::Services)?
        .filter(
            col("period")
                .gt_eq(lit(ctx.from.0 - 12))
                .and(col("period").lt_eq(lit(ctx.period.0))),
        )
        .with_column(
            when(col("employees").gt(lit(0)).and(col("revenue").gt(lit(0.0))))
                .then(col("revenue") / col("employees").cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("per_employee"),
        );
    let df = log_peer_outliers(
        ctx,
        "SV002",
        with_enterprise(ctx, lf, &["division", "industry_code"])?,
        col("per_employee"),
        // Peers of the same month.
        &[
            &["period", "industry_code"],
            &["period", "division"],
            &["period"],
        ],
        min_peers,
        max_z,
    )?;
    let df = with_z_a_year_earlier(df)?
        .filter(ctx.audited(col("period")))
        // Each month is its own audit's: the last month's rows are counted.
        .with_column(col("period").alias("at"))
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let settings = p.steady();
    steady_outcome(ctx, &df, settings, month_text(col("period")), max_z)
}

/// Every month audited (`Ctx::from` to `Ctx::period`) in one call: each month
/// `at` counts the verifications of the `months` months before it, of the
/// enterprises reporting services that month.
fn query_error_rate(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Sv003 {
        min_error_rate: min_rate,
        months,
        min_queries: min_q,
        prior_queries,
    } = cfg.params()?;
    let months = months as i32;
    let (first, p) = (ctx.from.0, ctx.period.0);
    let services = ctx
        .table(Table::Services)?
        .filter(
            col("period")
                .gt_eq(lit(first))
                .and(col("period").lt_eq(lit(p))),
        )
        .select([col("eid"), col("period").alias("at")])
        .unique(None, UniqueKeepStrategy::First);
    // Each verification in the window of every month audited after it, up to
    // `months` months later.
    let verifications = ctx.table(Table::Verifications)?.filter(
        col("period")
            .lt(lit(p))
            .and(col("period").gt_eq(lit(first - months))),
    );
    let shifted: Vec<LazyFrame> = (1..=months)
        .map(|k| {
            verifications
                .clone()
                .with_column((col("period") + lit(k)).alias("at"))
                .filter(col("at").gt_eq(lit(first)).and(col("at").lt_eq(lit(p))))
        })
        .collect();
    let window = concat(shifted, UnionArgs::default()).map_err(pe)?;
    let confirmed = || col("outcome").eq(lit("confirmed_error"));
    // The share of all queries of the window that confirmed an error: the rate an
    // enterprise with few queries is drawn towards for the strength.
    // A figure of all the enterprises: a live answer for some enterprises takes
    // the last full audit's.
    let key = format!("SV003@{}–{}:overall/{months}", ctx.from, ctx.period);
    let overall = ctx
        .whole_table_figure(&key, || {
            window
                .clone()
                .group_by([col("at")])
                .agg([confirmed().cast(DataType::Float64).mean().alias("_r0")])
                .collect()
                .map_err(pe)
        })?
        .lazy();
    let prior = prior_queries as f64;
    let ver = window.group_by([col("at"), col("eid")]).agg([
        col("outcome")
            .count()
            .cast(DataType::UInt32)
            .alias("queries"),
        confirmed().sum().cast(DataType::UInt32).alias("errors"),
    ]);
    let df = services
        .join(
            ver,
            [col("at"), col("eid")],
            [col("at"), col("eid")],
            JoinArgs::new(JoinType::Inner),
        )
        .join(
            overall,
            [col("at")],
            [col("at")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            (col("errors").cast(DataType::Float64) / col("queries").cast(DataType::Float64))
                .alias("value"),
        )
        .with_column(
            when(col("queries").gt_eq(lit(min_q as u32)))
                .then(col("value").gt_eq(lit(min_rate)))
                .otherwise(lit(NULL).cast(DataType::Boolean))
                .alias("_fails"),
        )
        .with_column(lit(months).alias("months"))
        .sort(["at", "eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("at")).alias("period"),
            lit(min_rate).alias("threshold"),
            // One query found wrong is weaker evidence than five: the strength
            // comes from the rate drawn towards the overall rate by `prior_queries`
            // pseudo-queries (the rule still fails on the rate itself).
            (((col("errors").cast(DataType::Float64)
                + lit(prior) * col("_r0").fill_null(lit(0.0)))
                / (col("queries").cast(DataType::Float64) + lit(prior)))
                * lit(2.0))
            .clip(lit(0.5), lit(2.0))
            .alias("strength"),
        ],
    )
}
