//! Labour and wages (劳动工资, quarterly): LB001–LB002. Reports revised many times
//! (修改痕迹明显) are IN010, from the industrial report's `revisions`.

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::Result;
use crate::model::Table;

const EVIDENCE_ZH: &str = "请企业提供工资表、社保缴费记录和从业人员花名册";
const EVIDENCE_EN: &str =
    "Ask for the payroll, the social-insurance contribution records and the staff roster";

/// The labour rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "LB001",
        title: t("平均工资与同区县同行业不符", "Average wage implausible against peers"),
        table: Table::Labor,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 季度人均工资 {avg_wage:.1} 千元（工资总额 {wage_total} 千元 / {employees} 人），同类企业中位数 {peer_median:.1} 千元，稳健 z 值 {value:.1}",
            "{period}: average wage {avg_wage:.1} thousand yuan for the quarter ({wage_total} / {employees} employees); peers' median {peer_median:.1}; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "季度平均工资（工资总额/期末从业人员，取对数）与同区县同行业大类企业相比的稳健 z 值超过阈值（默认 3.5）；同类不足 10 家时与同行业、再与全部企业比较。一年前同样偏离同类（z 值同号且相差不超过 1.5）的，为本企业一贯水平：仍列出，强度乘以 0.25。",
            "The quarter's average wage (wage bill / employees, log scale) against enterprises of the same county and industry division: robust z beyond a threshold (3.5); with fewer than 10 peers, against the division, then all enterprises. When the enterprise stood as far from its peers, on the same side, a year earlier (z within 1.5), the deviation is its own level: still listed, at a quarter of the strength.",
        ),
        why: t(
            "人均工资畸高或畸低，说明工资总额或从业人员有一项不实（如漏报人员、把其他支出计入工资）。",
            "An average wage far from peers means the wage bill or the headcount is wrong (staff left out, other costs booked as wages).",
        ),
        example: t("同类中位数 21 千元/季度，本企业 130 千元 → 不通过。", "Peers at 21 per quarter, this enterprise 130 → fails."),
        remedy: t("核对工资表与花名册，按统计口径填报。", "Reconcile the payroll with the roster; report on the statistical definitions."),
        params: &[
            num("max_abs_z", 3.5, Some(0.0), None, "largest accepted |robust z|"),
            int("min_peers", 20, Some(3.0), None, "smallest peer group"),
            steady_factor(),
            steady_max_dz(),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(wage_outlier),
    },
    RuleDef {
        code: "LB002",
        title: t("从业人员与工资总额变动背离", "Headcount and wage bill move apart"),
        table: Table::Labor,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 从业人员较上季度变动 {emp_change:%}，工资总额变动 {wage_change:%}（同类企业工资变动中位数 {peer_change:%}），两者方向相反",
            "{period}: employees changed {emp_change:%} on the previous quarter, the wage bill {wage_change:%} (peers' median {peer_change:%}): they move in opposite directions",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "与上季度相比，从业人员与工资总额（扣除同类企业的季节性变动，如年终奖）反向变动，且幅度都超过阈值。",
            "Against the previous quarter, headcount and wage bill (net of the peers' seasonal change, such as year-end bonuses) move in opposite directions, both beyond thresholds.",
        ),
        why: t("人员大增而工资大减（或相反）在经营中很少见，多为一项数据填报错误。", "Many more staff for much less pay (or the reverse) rarely happens; usually one of the figures is wrong."),
        example: t("人员 +80%，工资 −40%，同类工资 +2% → 不通过。", "Staff +80%, wages −40%, peers +2% → fails."),
        remedy: t("核对两季度的花名册和工资表。", "Check both quarters' rosters and payrolls."),
        params: &[
            num("min_change_ratio", 0.2, Some(0.0), None, "smallest change of each, in opposite directions, that fails"),
            int("min_peers", 10, Some(3.0), None, "smallest peer group for the seasonal median"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(inconsistent),
    },
];

/// LB002's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lb002 {
    min_change_ratio: f64,
    min_peers: i64,
}

/// The typed parameters of the labour rules.
pub const PARAMS: &[Typed] = &[typed::<PeerZ>("LB001"), typed::<Lb002>("LB002")];

fn wage_outlier(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: PeerZ = cfg.params()?;
    let max_z = p.max_abs_z;
    let min_peers = p.min_peers as u32;
    // Every quarter up to the period: the audited ones and, a year before each,
    // the same comparison to set it against (see `steady`).
    let lf = ctx
        .table(Table::Labor)?
        .filter(
            col("period")
                .gt_eq(lit(ctx.from.year_start().0 - 15))
                .and(col("period").lt_eq(lit(ctx.period.0)))
                .and((month_of_year(col("period")) % lit(3)).eq(lit(0))),
        )
        .with_column(
            when(
                col("employees")
                    .gt(lit(0))
                    .and(col("wage_total").gt(lit(0.0))),
            )
            .then(col("wage_total") / col("employees").cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("avg_wage"),
        );
    let df = log_peer_outliers(
        ctx,
        "LB001",
        with_enterprise(ctx, lf, &["county_code", "division"])?,
        col("avg_wage"),
        &[
            &["period", "county_code", "division"],
            &["period", "division"],
            &["period"],
        ],
        min_peers,
        max_z,
    )?;
    let df = with_z_a_year_earlier(df)?.sort(["eid", "period"], SortMultipleOptions::default());
    // A quarter's result is the same for every later audit of its year.
    let df = quarter_audits(ctx, df)?.collect().map_err(pe)?;
    let settings = p.steady();
    steady_outcome(ctx, &df, settings, month_text(col("period")), max_z)
}

fn inconsistent(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Lb002 {
        min_change_ratio: min_change,
        min_peers,
    } = cfg.params()?;
    let lab = ctx.table(Table::Labor)?;
    let prev = lab.clone().select([
        col("eid"),
        (col("period") + lit(3)).alias("period"),
        col("employees").alias("_emp_prev"),
        col("wage_total").alias("_wage_prev"),
    ]);
    let lf = lab
        .filter(audited_quarters(ctx))
        .join(
            prev,
            [col("eid"), col("period")],
            [col("eid"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            when(col("_emp_prev").gt(lit(0)).and(col("employees").gt(lit(0))))
                .then(
                    col("employees").cast(DataType::Float64)
                        / col("_emp_prev").cast(DataType::Float64),
                )
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("_emp_ratio"),
            when(
                col("_wage_prev")
                    .gt(lit(0.0))
                    .and(col("wage_total").gt(lit(0.0))),
            )
            .then(col("wage_total") / col("_wage_prev"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("_wage_ratio"),
        ]);
    let lf = with_enterprise(ctx, lf, &["division"])?;
    let lf = division_or_month_median(lf, "_wage_ratio", min_peers, "_peer")?
        .with_columns([
            (col("_emp_ratio") - lit(1.0)).alias("emp_change"),
            (col("_wage_ratio") - lit(1.0)).alias("wage_change"),
            (col("_peer") - lit(1.0)).alias("peer_change"),
            (col("_wage_ratio") / col("_peer") - lit(1.0)).alias("_wage_dev"),
        ])
        .with_column(
            ((col("emp_change")
                .gt(lit(min_change))
                .and(col("_wage_dev").lt(lit(-min_change))))
            .or(col("emp_change")
                .lt(lit(-min_change))
                .and(col("_wage_dev").gt(lit(min_change)))))
            .alias("_fails"),
        );
    let df = quarter_audits(
        ctx,
        lf.sort(["eid", "period"], SortMultipleOptions::default()),
    )?
    .collect()
    .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            (col("emp_change").abs() + col("_wage_dev").abs()).alias("value"),
            lit(min_change).alias("threshold"),
            ((col("emp_change").abs() + col("_wage_dev").abs()) / lit(2.0 * min_change.max(1e-9)))
                .clip(lit(1.0), lit(4.0))
                .alias("strength"),
        ],
    )
}
