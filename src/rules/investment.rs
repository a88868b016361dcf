//! Fixed-asset investment projects (固定资产投资, monthly per project): IV001–IV006.
//! The Hidiroglou–Berthelot check of monthly increments by county (IV007) is in
//! `detectors`.

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Scope, Severity, Typed};
use crate::error::Result;
use crate::model::Table;

const EVIDENCE_ZH: &str = "请项目单位提供项目形象进度表、工程结算单、设备购置发票和付款凭证";
const EVIDENCE_EN: &str = "Ask for the project progress sheets, construction settlement statements, equipment invoices and payment vouchers";

/// Default planned total from which the city bureau supervises a project (thousand yuan).
pub const CITY_TIER_MIN: f64 = 2_000_000.0;
/// Default planned total from which the county bureau supervises a project (thousand yuan).
pub const COUNTY_TIER_MIN: f64 = 50_000.0;

/// The investment rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "IV001",
        title: t("本年累计完成投资减少", "Year-to-date investment falls"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Hard,
        message: t(
            "项目 {project_id} {period} 本年累计完成投资 {ytd_completed} 千元，少于上月累计 {prev_ytd} 千元",
            "Project {project_id}, {period}: year-to-date investment {ytd_completed} thousand yuan is below last month's {prev_ytd}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("同一年内，本年累计完成投资比上月累计数小。", "Within a year, year-to-date completed investment is smaller than the month before."),
        why: t("累计数只能增加；减少说明以前月份多报、本月冲减，或数据录入错误。", "A cumulative figure can only grow; a fall means an earlier over-report being offset, or a keying error."),
        example: t("8 月累计 12,000 千元，9 月累计 10,500 千元 → 不通过。", "August YTD 12,000, September YTD 10,500 → fails."),
        remedy: t("查明多报的月份并在该月更正。", "Find the over-reported month and correct it there."),
        params: &[],
        basis: Basis::Figures,
        kind: Kind::Months(ytd_falls),
    },
    RuleDef {
        code: "IV002",
        title: t("本年累计完成投资超过计划总投资", "Year-to-date investment above the planned total"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Hard,
        message: t(
            "项目 {project_id} {period} 本年累计完成投资 {ytd_completed} 千元，超过计划总投资 {planned_total} 千元",
            "Project {project_id}, {period}: year-to-date investment {ytd_completed} thousand yuan exceeds the planned total {planned_total}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("本年累计完成投资大于项目计划总投资。", "Year-to-date completed investment above the project's planned total investment."),
        why: t("完成投资不能超过计划总投资；超过说明完成额虚报或计划总投资未按调整后的批复更新。", "Completed investment cannot exceed the plan: either the completion is inflated or the plan was not updated after an approved revision."),
        example: t("计划总投资 80,000 千元，本年累计 95,000 千元 → 不通过。", "Plan 80,000, YTD 95,000 → fails."),
        remedy: t("核对投资批复文件和财务支出。", "Check the approval documents and the payments."),
        params: &[],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "ytd_completed > planned_total",
            value: Some("ytd_completed - planned_total"),
            scope: Scope::YearToDate,
        },
    },
    RuleDef {
        code: "IV003",
        title: t("新开工项目首月完成比例过高", "New project books much of its plan in its first month"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Soft,
        message: t(
            "项目 {project_id} 首月（{period}）完成投资 {ytd_completed} 千元，占计划总投资 {planned_total} 千元的 {value:%}，超过 {max_first_month_share:%}",
            "Project {project_id}, first month {period}: {ytd_completed} thousand yuan completed, {value:%} of the planned total {planned_total}, above {max_first_month_share:%}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("项目首个报告月（开工月，或首次出现在数据中的月份）的完成投资占计划总投资的比例超过阈值（默认 50%）。", "In a project's first reported month (its start, or its first month in the data), completed investment above a share of the planned total (50% by default)."),
        why: t("新开工项目一个月内完成大半投资很少见，常见于把以前年度或土地购置等不应计入的支出一次性计入。", "Few projects complete most of their plan in their first month; usually earlier spending or land purchase was booked at once."),
        example: t("计划总投资 60,000 千元，开工当月完成 45,000 千元 → 75%，不通过。", "Plan 60,000, first month 45,000 → 75%, fails."),
        remedy: t("核对首月支出构成，剔除不应计入的部分。", "Check what the first month's figure contains and remove what does not count."),
        params: &[num("max_first_month_share", 0.5, Some(0.0), Some(1.0), "largest plausible share of the planned total completed in the first month")],
        basis: Basis::Figures,
        kind: Kind::Months(first_month_share),
    },
    RuleDef {
        code: "IV004",
        title: t("当月完成投资超过 {min_increment_thousand_yuan:万} 万元需凭证", "A month above {min_increment_thousand_yuan:,} needs vouchers"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Info,
        message: t(
            "项目 {project_id} {period} 当月完成投资 {increment} 千元，超过 {min_increment_thousand_yuan} 千元，需留存凭证",
            "Project {project_id}, {period}: {increment} thousand yuan completed in the month, above {min_increment_thousand_yuan}: vouchers are required",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("单个项目当月完成投资超过阈值（默认 10,000 千元即 1000 万元）。", "A project completing more than a threshold in one month (10,000 thousand yuan, 1000万元, by default)."),
        why: t("地方规定当月完成投资超过 1000 万元的项目必须有凭证支撑。", "Local rules require vouchers for any project month above 1000万元."),
        example: t("9 月完成 14,000 千元 → 需凭证。", "14,000 in September → vouchers required."),
        remedy: t("项目单位留存并提供支出凭证。", "The project keeps and provides the vouchers."),
        params: &[num("min_increment_thousand_yuan", 10000.0, Some(0.0), None, "a month above this needs vouchers (thousand yuan)")],
        basis: Basis::Figures,
        kind: Kind::Months(large_month),
    },
    RuleDef {
        code: "IV005",
        title: t("市级包保项目", "Project supervised by the city"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Info,
        message: t(
            "项目 {project_id} 计划总投资 {planned_total} 千元，达到 {city_min_planned_thousand_yuan} 千元，由市统计局包保核查",
            "Project {project_id}: planned total {planned_total} thousand yuan, at least {city_min_planned_thousand_yuan}: supervised by the city bureau",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("分级包保：计划总投资 ≥2,000,000 千元（20 亿元）的项目由市统计局包保，50,000–2,000,000 千元的由区县统计局包保，其余按一般入库规则。查询清单据此确定核查单位。", "Tiered supervision (分级包保): planned total ≥ 2,000,000 thousand yuan (20亿元) → the city bureau; 50,000–2,000,000 → the county bureau; below → ordinary admission rules. The query list names the verifier accordingly."),
        why: t("大项目对地区投资总量影响大，由更高一级统计机构负责核查。", "Large projects move the region's totals, so a higher level verifies them."),
        example: t("计划总投资 3,500,000 千元 → 市级包保。", "Plan 3,500,000 → city."),
        remedy: t("市统计局按包保责任核查该项目。", "The city bureau verifies the project."),
        params: &[
            num("city_min_planned_thousand_yuan", CITY_TIER_MIN, Some(0.0), None, "planned total from which the city supervises (thousand yuan)"),
            num("county_min_planned_thousand_yuan", COUNTY_TIER_MIN, Some(0.0), None, "planned total from which the county supervises (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(city_tier),
    },
    RuleDef {
        code: "IV006",
        title: t("季末投资异常突增", "Quarter-end spike in investment"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Soft,
        message: t(
            "项目 {project_id} {period}（季末）当月完成投资 {increment} 千元，是此前 12 个月月均（中位数 {typical}）的 {value:.1} 倍",
            "Project {project_id}, {period} (quarter end): {increment} thousand yuan completed in the month, {value:.1} times its usual month (median {typical}) over the previous 12 months",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("季末月份（3、6、9、12 月）当月完成投资超过项目自身此前 12 个月月度完成额中位数的若干倍（默认 3 倍）。", "In a quarter-end month (3, 6, 9, 12), the month's completed investment above several times (3 by default) the project's own median month over the previous 12 months."),
        why: t("季末突击报数是投资统计的常见问题；文件要求对数据波动大的县区加大审核力度。", "Boosting figures at quarter ends is a known problem of investment statistics; the bureaus ask for closer audit where figures swing."),
        example: t("此前月均 2,000 千元，9 月 11,000 千元 → 5.5 倍，不通过。", "Usual month 2,000, September 11,000 → 5.5 times, fails."),
        remedy: t("核对季末支出的合同、发票和付款记录。", "Check the contracts, invoices and payments behind the quarter-end month."),
        params: &[
            num("spike_factor", 3.0, Some(1.0), None, "a month above this multiple of the usual month fails"),
            num("min_increment_thousand_yuan", 1000.0, Some(0.0), None, "smaller months are not judged (thousand yuan)"),
            int("min_history_months", 4, Some(1.0), Some(12.0), "months of history needed to know the usual month"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(quarter_end_spike),
    },
    RuleDef {
        code: "IV008",
        title: t("每个季末集中报数", "Investment padded at every quarter end"),
        table: Table::Investment,
        also_needs: &[],
        level: Level::Project,
        severity: Severity::Soft,
        message: t(
            "项目 {project_id} 截至 {period} 的 12 个月中，4 个季末月完成投资中位数 {qe_median} 千元，是其余月份中位数 {typical} 千元的 {ratio:.1} 倍（最少的季末月也达 {min_ratio:.1} 倍）；同类项目一般为 {peer_ratio:.1} 倍，稳健 z 值 {value:.1}",
            "Project {project_id}, 12 months to {period}: the four quarter-end months' median is {qe_median} thousand yuan, {ratio:.1} times the other months' median {typical} (the smallest quarter end {min_ratio:.1} times); other projects {peer_ratio:.1} times; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "在季末月份（3、6、9、12 月）评价截至该月的 12 个月：4 个季末月完成额中位数与其余 8 个月中位数之比（取对数），与同区县（不足 20 个项目时全部）项目相比的稳健 z 值超过阈值（默认 3.5），且至少是同类项目比值的 1.5 倍，每一个季末月都达到其余月份中位数的若干倍（默认 1.5 倍）。投资本身有季末集中的规律，所以与同类项目的季末比例比较，而不是与 1 比较；单个季末的突增见 IV006。",
            "At a quarter-end month (3, 6, 9, 12), over the 12 months to it: the quarter-end months' median increment over the other eight months' median (log scale), against the projects of the county (all projects with fewer than 20): robust z beyond a threshold (3.5) and the ratio at least 1.5 times other projects', with every quarter end at least a multiple (1.5) of the other months' median. Investment bunches at quarter ends by nature, so the ratio is set against other projects', not against 1; a single quarter-end spike is IV006.",
        ),
        why: t(
            "每到季末都突击报数、平时少报，是投资统计“数出无据”的典型表现：季度考核推动下，完成额被挪到季末。",
            "Booking the work at every quarter end and little in between is a typical sign of figures not taken from the books: quarterly targets pull the completed investment into quarter ends.",
        ),
        example: t(
            "其余月份中位数 800 千元，四个季末月 2,600、2,900、3,100、2,700 千元（3.5 倍），同类项目 1.6 倍 → 不通过。",
            "Other months' median 800; quarter ends 2,600, 2,900, 3,100 and 2,700 (3.5 times), other projects 1.6 times → fails.",
        ),
        remedy: t("核对各季末月的合同、发票、付款和工程进度记录。", "Check each quarter end's contracts, invoices, payments and progress records."),
        params: &[
            num("max_z", 3.5, Some(0.0), None, "largest accepted robust z of the log ratio against other projects"),
            num("min_each_ratio", 1.5, Some(1.0), None, "every quarter end must be at least this multiple of the other months' median"),
            num("min_ratio_over_peers", 1.5, Some(1.0), None, "the project's ratio must also be at least this multiple of other projects' (a floor where projects are much alike)"),
            num("min_total_thousand_yuan", 1000.0, Some(0.0), None, "projects completing less over the 12 months are not judged (thousand yuan)"),
            int("min_peers", 20, Some(3.0), None, "fewer projects in the county: compared with all projects"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(quarter_end_padding),
    },
];

/// IV003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv003 {
    max_first_month_share: f64,
}

/// IV004's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv004 {
    min_increment_thousand_yuan: f64,
}

/// IV005's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv005 {
    city_min_planned_thousand_yuan: f64,
    /// Declared for the pipeline file; no computation reads it (below the city
    /// tier the county verifies).
    #[allow(dead_code)]
    county_min_planned_thousand_yuan: f64,
}

/// IV006's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv006 {
    spike_factor: f64,
    min_increment_thousand_yuan: f64,
    min_history_months: i64,
}

/// IV008's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Iv008 {
    max_z: f64,
    min_each_ratio: f64,
    min_ratio_over_peers: f64,
    min_total_thousand_yuan: f64,
    min_peers: i64,
}

/// The typed parameters of the investment rules.
pub const PARAMS: &[Typed] = &[
    typed::<Iv003>("IV003"),
    typed::<Iv004>("IV004"),
    typed::<Iv005>("IV005"),
    typed::<Iv006>("IV006"),
    typed::<Iv008>("IV008"),
];

/// Planned total from which the city supervises, as the pipeline sets it.
pub fn city_tier_min(ctx: &Ctx<'_>) -> Result<f64> {
    match ctx.set.rule("IV005") {
        Some(r) => Ok(r.params::<Iv005>()?.city_min_planned_thousand_yuan),
        None => Ok(CITY_TIER_MIN),
    }
}

/// Project months with the month's increment: `increment` = YTD minus last month's
/// YTD (in January the YTD itself); `prev_ytd` the previous month's YTD.
fn increments(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("investment_increments", || {
        let inv = ctx.table(Table::Investment)?;
        let from = ctx.from.year_start().0 - 13;
        let cur = inv.clone().filter(
            col("period")
                .gt_eq(lit(from))
                .and(col("period").lt_eq(lit(ctx.period.0))),
        );
        let prev = cur.clone().select([
            col("project_id"),
            (col("period") + lit(1)).alias("period"),
            col("ytd_completed").alias("prev_ytd"),
        ]);
        cur.join(
            prev,
            [col("project_id"), col("period")],
            [col("project_id"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(month_of_year(col("period")).eq(lit(1)))
                .then(col("ytd_completed"))
                .otherwise(col("ytd_completed") - col("prev_ytd"))
                .alias("increment"),
        )
        .sort(["project_id", "period"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)
    })
}

fn with_verifier(df: DataFrame, ctx: &Ctx<'_>) -> Result<DataFrame> {
    let city = city_tier_min(ctx)?;
    df.lazy()
        .with_column(
            when(col("planned_total").gt_eq(lit(city)))
                .then(lit("city"))
                .otherwise(lit("county"))
                .alias("verifier"),
        )
        .collect()
        .map_err(pe)
}

fn output(
    df: DataFrame,
    ctx: &Ctx<'_>,
    value: Expr,
    threshold: f64,
    strength: Expr,
) -> Result<RuleOutput> {
    let found = outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            value.alias("value"),
            lit(threshold).alias("threshold"),
            strength.alias("strength"),
        ],
    )?;
    Ok(RuleOutput {
        failures: with_verifier(found.failures, ctx)?,
        ..found
    })
}

fn ytd_falls(ctx: &Ctx<'_>, _cfg: &RuleConfig) -> Result<RuleOutput> {
    let lf = increments(ctx)?
        .lazy()
        .filter(month_of_year(col("period")).neq(lit(1)))
        .with_column(col("ytd_completed").lt(col("prev_ytd")).alias("_fails"));
    let df = ytd_audits(ctx, lf)?.collect().map_err(pe)?;
    output(
        df,
        ctx,
        col("ytd_completed") - col("prev_ytd"),
        0.0,
        lit(1.0),
    )
}

fn first_month_share(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv003 {
        max_first_month_share: max_share,
    } = cfg.params()?;
    let inv = ctx.table(Table::Investment)?;
    // The first month of the whole table (a live answer for some projects takes
    // the last full audit's).
    let key = format!("IV003@{}:data_start", ctx.period);
    let data_start = ctx.whole_table_figure(&key, || {
        inv.clone()
            .select([col("period").min()])
            .collect()
            .map_err(pe)
    })?;
    let data_start = data_start
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .get(0)
        .unwrap_or(0);
    // The first month: the start month if given, else the first month in the data,
    // unless that is the first month of the data itself (the project may be older).
    let df = inv
        .with_columns([
            col("period")
                .min()
                .over_cols(&["project_id"])
                .alias("_first_seen"),
            // The start month from any row that gives it (not only the first).
            col("start_period")
                .drop_nulls()
                .first()
                .over_cols(&["project_id"])
                .alias("_start"),
        ])
        .with_column(
            when(col("_start").is_not_null())
                .then(col("_start"))
                .when(col("_first_seen").gt(lit(data_start)))
                .then(col("_first_seen"))
                .otherwise(lit(NULL).cast(DataType::Int32))
                .alias("_first"),
        )
        .filter(in_audited_years(ctx).and(col("period").eq(col("_first"))))
        .with_column(
            when(col("planned_total").gt(lit(0.0)))
                .then(col("ytd_completed") / col("planned_total"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("share"),
        )
        .with_column(col("share").gt(lit(max_share)).alias("_fails"))
        .sort(["project_id", "period"], SortMultipleOptions::default());
    let df = ytd_audits(ctx, df)?.collect().map_err(pe)?;
    output(
        df,
        ctx,
        col("share"),
        max_share,
        (col("share") / lit(max_share.max(1e-9))).clip(lit(1.0), lit(3.0)),
    )
}

fn large_month(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv004 {
        min_increment_thousand_yuan: min,
    } = cfg.params()?;
    let lf = increments(ctx)?
        .lazy()
        .with_column(col("increment").gt(lit(min)).alias("_fails"));
    let df = ytd_audits(ctx, lf)?.collect().map_err(pe)?;
    output(df, ctx, col("increment"), min, lit(1.0))
}

fn city_tier(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv005 {
        city_min_planned_thousand_yuan: city,
        ..
    } = cfg.params()?;
    let df = ctx
        .table(Table::Investment)?
        .filter(ctx.audited(col("period")))
        // Each month is its own audit's: the last month's rows are counted.
        .with_columns([
            col("planned_total").gt_eq(lit(city)).alias("_fails"),
            col("period").alias("at"),
        ])
        .sort(["project_id"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    output(df, ctx, col("planned_total"), city, lit(1.0))
}

fn quarter_end_spike(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv006 {
        spike_factor: factor,
        min_increment_thousand_yuan: min_inc,
        min_history_months: min_hist,
    } = cfg.params()?;
    let inc = increments(ctx)?.lazy();
    let targets = inc.clone().filter(
        in_audited_years(ctx).and(
            month_of_year(col("period"))
                .eq(lit(3))
                .or(month_of_year(col("period")).eq(lit(6)))
                .or(month_of_year(col("period")).eq(lit(9)))
                .or(month_of_year(col("period")).eq(lit(12))),
        ),
    );
    let history = inc.select([
        col("project_id"),
        col("period").alias("_hp"),
        col("increment").alias("_hinc"),
    ]);
    let usual = targets
        .clone()
        .select([col("project_id"), col("period")])
        .join(
            history,
            [col("project_id")],
            [col("project_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("_hp")
                .lt(col("period"))
                .and(col("_hp").gt_eq(col("period") - lit(12)))
                .and(col("_hinc").gt(lit(0.0))),
        )
        .group_by([col("project_id"), col("period")])
        .agg([
            col("_hinc").median().alias("typical"),
            col("_hinc").count().alias("_hn"),
        ]);
    let df = targets
        .join(
            usual,
            [col("project_id"), col("period")],
            [col("project_id"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(
                col("_hn")
                    .gt_eq(lit(min_hist))
                    .and(col("increment").is_not_null()),
            )
            .then(
                col("increment")
                    .gt(lit(factor) * col("typical"))
                    .and(col("increment").gt(lit(min_inc))),
            )
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("_fails"),
        )
        .with_column(col("typical").round(0, RoundMode::HalfAwayFromZero))
        .sort(["project_id", "period"], SortMultipleOptions::default());
    let df = ytd_audits(ctx, df)?.collect().map_err(pe)?;
    output(
        df,
        ctx,
        col("increment") / col("typical"),
        factor,
        (col("increment") / col("typical") / lit(factor)).clip(lit(1.0), lit(4.0)),
    )
}

fn quarter_end_padding(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Iv008 {
        max_z,
        min_each_ratio: min_each,
        min_ratio_over_peers: min_over,
        min_total_thousand_yuan: min_total,
        min_peers,
    } = cfg.params()?;
    let min_peers = min_peers as u32;
    let inc = increments(ctx)?.lazy();
    let is_qe = |e: Expr| (month_of_year(e) % lit(3)).eq(lit(0));
    // Each audited quarter end, with the 12 months to it.
    let targets = inc
        .clone()
        .filter(in_audited_years(ctx).and(is_qe(col("period"))))
        .select([
            col("project_id"),
            col("eid"),
            col("period"),
            col("county_code"),
            col("planned_total"),
        ]);
    let window = targets
        .join(
            inc.select([
                col("project_id"),
                col("period").alias("_m"),
                col("increment").alias("_inc"),
            ]),
            [col("project_id")],
            [col("project_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("_m")
                .gt(col("period") - lit(12))
                .and(col("_m").lt_eq(col("period"))),
        )
        .with_column(is_qe(col("_m")).alias("_qe"));
    let stats = window
        .group_by([
            col("project_id"),
            col("eid"),
            col("period"),
            col("county_code"),
            col("planned_total"),
        ])
        .agg([
            col("_inc").count().alias("_n"),
            col("_inc").min().alias("_min_inc"),
            col("_inc").sum().alias("_total"),
            col("_inc").filter(col("_qe")).median().alias("qe_median"),
            col("_inc").filter(col("_qe")).min().alias("_qe_min"),
            col("_inc")
                .filter(col("_qe").not())
                .median()
                .alias("typical"),
        ])
        // Judged only on a whole year of known, non-negative months.
        .with_column(
            when(
                col("_n")
                    .eq(lit(12))
                    .and(col("_min_inc").gt_eq(lit(0.0)))
                    .and(col("typical").gt(lit(0.0)))
                    .and(col("_total").gt_eq(lit(min_total))),
            )
            .then(col("qe_median") / col("typical"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("ratio"),
        )
        .with_column((col("_qe_min") / col("typical")).alias("min_ratio"));
    let df = add_peer_robust_z(
        ctx,
        "IV008",
        stats,
        col("ratio").log(lit(std::f64::consts::E)),
        &[&["period", "county_code"], &["period"]],
        min_peers,
        "value",
    )?
    .with_columns([
        col("peer_median").exp().alias("peer_ratio"),
        when(col("value").is_not_null())
            .then(
                col("value")
                    .gt(lit(max_z))
                    .and(col("min_ratio").gt_eq(lit(min_each)))
                    .and(col("ratio").gt_eq(lit(min_over) * col("peer_median").exp())),
            )
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("_fails"),
        col("qe_median").round(0, RoundMode::HalfAwayFromZero),
        col("typical").round(0, RoundMode::HalfAwayFromZero),
    ])
    .sort(["project_id", "period"], SortMultipleOptions::default());
    let df = ytd_audits(ctx, df)?.collect().map_err(pe)?;
    output(
        df,
        ctx,
        col("value"),
        max_z,
        excess_strength(col("value") / lit(max_z)),
    )
}
