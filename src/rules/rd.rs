//! R&D (研究开发活动, annual report 107-1): the six groups of the key verification
//! list (重点工作库) and the routing of large claims: RD001–RD009.
//!
//! The year audited is the latest year in `rd` up to the year of the period under
//! review (in October 2026, the 2025 annual report).

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Scope, Severity, Typed};
use crate::error::{Error, Result};
use crate::model::Table;

/// Industries where R&D is implausible (low-end processing): agricultural food
/// processing 13, food manufacturing 14, wood processing 20.
pub const LOW_END_DIVISIONS: &[&str] = &["13", "14", "20"];

const EVIDENCE_ZH: &str =
    "请企业提供研发项目立项文件、研发费用辅助账、研发人员名单和工时记录、研发费用加计扣除申报表";
const EVIDENCE_EN: &str = "Ask for the R&D project approvals, the R&D expense sub-ledger, the list and timesheets of R&D staff, and the super-deduction filing";

/// The R&D rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "RD001",
        title: t("连续{years:汉}年有研发费用无加计扣除", "R&D spend without super-deduction for {years} years"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{first_year}–{period} 年连续 {years} 年报送研发费用（本年 {rd_expenditure} 千元），但均无研发费用加计扣除减免税",
            "R&D expenditure reported for {years} consecutive years {first_year}–{period} (this year {rd_expenditure} thousand yuan), never with a super-deduction tax relief",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "连续若干年（默认 3 年）报送研发费用，但每年的研究开发费用加计扣除减免税均为零。",
            "R&D expenditure reported in each of several consecutive years (3 by default) with zero super-deduction relief in every one.",
        ),
        why: t(
            "真实开展研发的企业通常会享受加计扣除；长期不享受，说明研发费用可能不符合税务口径，或统计上报的研发费用没有依据（三个不符：报表与台账、台账与账务、报表与实际）。",
            "Enterprises with real R&D normally claim the super-deduction; never claiming suggests the expenditure does not meet the tax definition or has no basis in the books.",
        ),
        example: t("2023、2024、2025 年研发费用 800、900、1,100 千元，加计扣除减免税均为 0 → 不通过。", "R&D 800, 900, 1,100 in 2023–2025, relief 0 each year → fails."),
        remedy: t("核对研发辅助账与财务账，按统计口径重新归集研发费用。", "Reconcile the R&D sub-ledger with the accounts and recompute the expenditure on the statistical definition."),
        params: &[int("years", 3, Some(2.0), Some(10.0), "consecutive years without relief that fail")],
        basis: Basis::Figures,
        kind: Kind::Annual(no_super_deduction),
    },
    RuleDef {
        code: "RD002",
        title: t("研发费用低于 {min_expenditure_thousand_yuan:万} 万元", "R&D expenditure below {min_expenditure_thousand_yuan:,} thousand yuan"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年研发费用 {rd_expenditure} 千元，低于 {min_expenditure_thousand_yuan} 千元",
            "{period}: R&D expenditure {rd_expenditure} thousand yuan, below {min_expenditure_thousand_yuan}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("报送了研发费用，但金额低于阈值（默认 100 千元即 10 万元）。", "R&D expenditure reported but below a threshold (100 thousand yuan, 10万元, by default)."),
        why: t("金额很小的研发费用多为零星支出被误计为研发，或为凑数填报。", "Very small amounts are usually incidental costs booked as R&D, or figures entered to have something."),
        example: t("研发费用 35 千元 → 不通过。", "R&D expenditure 35 → fails."),
        remedy: t("核实是否有研发项目和研发人员；不符合研发活动定义的不应填报。", "Check for an R&D project and staff; spending outside the definition of R&D is not reported."),
        params: &[num("min_expenditure_thousand_yuan", 100.0, Some(0.0), None, "smallest plausible expenditure (thousand yuan)")],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "rd_expenditure > 0 AND rd_expenditure < {min_expenditure_thousand_yuan}",
            value: Some("rd_expenditure"),
            scope: Scope::Period,
        },
    },
    RuleDef {
        code: "RD003",
        title: t("研发人员少于 {min_staff} 人但费用超过 {max_expenditure_thousand_yuan:万} 万元", "Fewer than {min_staff} R&D staff, expenditure above {max_expenditure_thousand_yuan:,}"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年研发人员 {rd_staff} 人，少于 {min_staff} 人，但研发费用 {rd_expenditure} 千元，超过 {max_expenditure_thousand_yuan} 千元",
            "{period}: {rd_staff} R&D staff, fewer than {min_staff}, but R&D expenditure {rd_expenditure} thousand yuan, above {max_expenditure_thousand_yuan}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("研发人员少于阈值（默认 5 人）而研发费用高于阈值（默认 2,000 千元即 200 万元）。", "Fewer R&D staff than a threshold (5) with expenditure above a threshold (2,000 thousand yuan, 200万元)."),
        why: t("人员与费用不匹配：少数人员难以支撑大额研发支出，费用可能虚增或人员漏报。", "Staff and spending do not match: a handful of people rarely spend that much, so the spending is inflated or the staff under-reported."),
        example: t("研发人员 2 人，研发费用 3,500 千元 → 不通过。", "2 R&D staff, expenditure 3,500 → fails."),
        remedy: t("核对研发人员名单和工时，核对费用构成（人员人工、直接投入、折旧等）。", "Check the staff list and timesheets, and the composition of the expenditure."),
        params: &[
            int("min_staff", 5, Some(1.0), None, "fewer R&D staff than this is few"),
            num("max_expenditure_thousand_yuan", 2000.0, Some(0.0), None, "expenditure above this is large (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "rd_staff < {min_staff} AND rd_expenditure > {max_expenditure_thousand_yuan}",
            value: Some("rd_expenditure"),
            scope: Scope::Period,
        },
    },
    RuleDef {
        code: "RD004",
        title: t("首次报送研发费用", "First-time R&D reporter"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年首次报送研发费用 {rd_expenditure} 千元（{reason_zh}）",
            "{period}: R&D expenditure {rd_expenditure} thousand yuan reported for the first time ({reason_en})",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("以前年度没有研发记录、或新入库企业，本年报送了研发费用。", "An enterprise with no earlier R&D record, or newly admitted, reports R&D expenditure."),
        why: t("首次报送者没有历史可比，是研发数据质量核查的重点群体。", "First-time reporters have no history to compare with and are a key group for verification."),
        example: t("2023、2024 年无研发记录，2025 年研发费用 1,600 千元 → 不通过。", "No R&D in 2023–2024, 1,600 in 2025 → fails."),
        remedy: t("核实研发项目是否真实开展、费用是否按研发口径归集。", "Verify that the R&D project exists and that the expenditure follows the definition."),
        params: &[],
        basis: Basis::Figures,
        kind: Kind::Annual(first_time),
    },
    RuleDef {
        code: "RD005",
        title: t("低端行业报送研发费用", "R&D in a low-end industry"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年行业 {industry_code}（低端行业）报送研发费用 {rd_expenditure} 千元",
            "{period}: R&D expenditure {rd_expenditure} thousand yuan reported in industry {industry_code}, a low-end industry",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("农副食品加工、食品制造、木材加工等低端行业的企业报送了研发费用。", "An enterprise in a low-end industry (agricultural food processing, food, wood processing) reports R&D."),
        why: t("这些行业很少开展符合定义的研发，报送研发费用的需要逐一核实。", "These industries rarely carry out R&D in the statistical sense; each claim needs checking."),
        example: t("行业 1311（稻谷加工）研发费用 900 千元 → 不通过。", "Industry 1311 (rice milling) with R&D 900 → fails."),
        remedy: t("核实研发内容是否属于创新活动，而非日常质量检验或工艺维护。", "Check that the work is innovation, not routine quality control or maintenance."),
        params: &[codes("low_end_divisions", LOW_END_DIVISIONS, "industry divisions where R&D is implausible")],
        basis: Basis::Figures,
        kind: Kind::Annual(low_end),
    },
    RuleDef {
        code: "RD006",
        title: t("人均研发费用与同行业不符", "R&D spend per staff implausible against peers"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年人均研发费用 {per_staff:.1} 千元（{rd_expenditure} 千元 / {rd_staff} 人），同行业中位数 {peer_median:.1} 千元，稳健 z 值 {value:.1}",
            "{period}: R&D expenditure per staff {per_staff:.1} thousand yuan ({rd_expenditure} / {rd_staff} staff); industry median {peer_median:.1}; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("人均研发费用（取对数）与同行业大类其他研发企业相比的稳健 z 值超过阈值（默认 3.5）。一年前同样偏离同类（z 值同号且相差不超过 1.5）的，为本企业一贯水平：仍列出，强度乘以 0.25。", "R&D expenditure per R&D staff (on a log scale) against the other R&D reporters of the industry division: robust z beyond a threshold (3.5). When the enterprise stood as far from its peers, on the same side, a year earlier (z within 1.5), the deviation is its own level: still listed, at a quarter of the strength."),
        why: t("人均费用畸高或畸低说明费用或人员有一项不实。", "Spending per person far from peers means either the spending or the headcount is wrong."),
        example: t("同行业人均 180 千元，本企业人均 4,000 千元 → 不通过。", "Peers at 180 per person, this enterprise 4,000 → fails."),
        remedy: t("核对研发人员名单与费用明细。", "Check the staff list against the expense detail."),
        params: &[
            num("max_abs_z", 3.5, Some(0.0), None, "largest accepted |robust z| (Iglewicz–Hoaglin)"),
            int("min_peers", 10, Some(3.0), None, "smaller divisions are compared with all reporters"),
            steady_factor(),
            steady_max_dz(),
        ],
        basis: Basis::Figures,
        kind: Kind::Annual(per_staff),
    },
    RuleDef {
        code: "RD007",
        title: t("研发投入强度与同行业不符", "R&D intensity implausible against peers"),
        table: Table::Rd,
        also_needs: &[Table::Industrial],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年研发投入强度（研发费用/工业总产值）{intensity:%}，同行业中位数 {peer_median:%}，稳健 z 值 {value:.1}",
            "{period}: R&D intensity (expenditure / gross output) {intensity:%}; industry median {peer_median:%}; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("研发费用占全年工业总产值的比重（取对数）与同行业相比的稳健 z 值超过阈值，或强度超过上限（默认 50%）。一年前同样偏离同类（z 值同号且相差不超过 1.5）的，为本企业一贯水平：仍列出，强度乘以 0.25（超过上限的除外）。", "R&D expenditure over the year's gross output (log scale) against the industry division: robust z beyond a threshold, or the intensity above a cap (50%). When the enterprise stood as far from its peers, on the same side, a year earlier (z within 1.5), the deviation is its own level: still listed, at a quarter of the strength (not above the cap)."),
        why: t("研发投入强度远高于同行业，费用往往被夸大。", "An intensity far above the industry's usually means inflated expenditure."),
        example: t("同行业中位数 1.5%，本企业 22% → 不通过。", "Peers at 1.5%, this enterprise 22% → fails."),
        remedy: t("核对研发费用归集范围和产值。", "Check what was booked as R&D and the output figure."),
        params: &[
            num("max_abs_z", 3.5, Some(0.0), None, "largest accepted |robust z|"),
            num("max_intensity_ratio", 0.5, Some(0.0), None, "an intensity above this fails whatever the peers"),
            int("min_peers", 10, Some(3.0), None, "smaller divisions are compared with all reporters"),
            steady_factor(),
            steady_max_dz(),
        ],
        basis: Basis::Figures,
        kind: Kind::Annual(intensity),
    },
    RuleDef {
        code: "RD010",
        title: t("人均研发费用较本企业上年跳变", "R&D spend per staff jumps against the enterprise's own last year"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 年人均研发费用 {per_staff:.1} 千元（{rd_expenditure} 千元 / {rd_staff} 人），上年 {per_staff_ly:.1} 千元，为上年的 {ratio:.2} 倍；同行业中位数 {peer_ratio:.2} 倍",
            "{period}: R&D expenditure per staff {per_staff:.1} thousand yuan ({rd_expenditure} / {rd_staff} staff) against {per_staff_ly:.1} last year, {ratio:.2} times; the industry's median {peer_ratio:.2} times",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "人均研发费用与本企业上年相比的倍数（取对数），扣除同行业大类（不足 10 家时全部）研发企业的中位数后，超过阈值（默认 2.5 倍或不足 1/2.5）。两年研发人员都不少于 3 人才评价。",
            "R&D expenditure per R&D staff against the enterprise's own last year (log ratio), net of the median of the division's reporters (all reporters with fewer than 10), beyond a factor (2.5 up or down). Judged when both years have at least 3 R&D staff.",
        ),
        why: t(
            "同一企业的人均研发费用逐年相对稳定；一年内成倍跳变，多为费用虚增、把其他支出计入研发，或人员填报有误。与同行业比较看不出的持续偏离，与本企业往年比较能看出变化。",
            "An enterprise's R&D spend per staff is fairly stable from year to year; a multiple within a year usually means inflated spending, other costs booked as R&D, or a wrong headcount. It shows a change that a comparison with peers cannot.",
        ),
        example: t(
            "上年人均 180 千元，本年 600 千元（3.3 倍），同行业 1.05 倍 → 不通过。",
            "180 per staff last year, 600 now (3.3 times), the industry 1.05 times → fails.",
        ),
        remedy: t("核对两年的研发人员名单和研发费用辅助账。", "Check both years' R&D staff lists and expense sub-ledgers."),
        params: &[
            num("max_factor", 2.5, Some(1.0), None, "largest accepted multiple (up or down) net of the industry's median"),
            int("min_staff", 3, Some(1.0), None, "fewer R&D staff in either year: not judged"),
            int("min_peers", 10, Some(3.0), None, "smaller divisions: all reporters are the peers"),
        ],
        basis: Basis::Figures,
        kind: Kind::Annual(per_staff_jump),
    },
    RuleDef {
        code: "RD008",
        title: t("研发费用超过 {min_expenditure_thousand_yuan:万} 万元：区县核查", "R&D above {min_expenditure_thousand_yuan:,}: county query"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Info,
        message: t(
            "{period} 年研发费用 {rd_expenditure} 千元，超过 {min_expenditure_thousand_yuan} 千元，由区县统计局查询核实",
            "{period}: R&D expenditure {rd_expenditure} thousand yuan, above {min_expenditure_thousand_yuan}: the county bureau queries it",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("研发费用超过 5,000 千元（500 万元）且不超过市级核查线的，列入区县查询。", "R&D expenditure above 5,000 thousand yuan (500万元), up to the city line, is queried by the county."),
        why: t("大额研发费用对地区研发投入强度影响大，需要有凭证支撑。", "Large claims move the region's R&D intensity and need vouchers."),
        example: t("研发费用 7,200 千元 → 区县查询。", "7,200 → county query."),
        remedy: t("区县统计局调取研发辅助账和加计扣除申报表。", "The county bureau obtains the sub-ledger and the super-deduction filing."),
        params: &[
            num("min_expenditure_thousand_yuan", 5000.0, Some(0.0), None, "expenditure above this is queried by the county (thousand yuan)"),
            num("city_min_expenditure_thousand_yuan", 10000.0, Some(0.0), None, "above this, RD009 (city on-site) applies instead"),
        ],
        basis: Basis::Figures,
        kind: Kind::Annual(route_county),
    },
    RuleDef {
        code: "RD009",
        title: t("研发费用超过 {min_expenditure_thousand_yuan:万} 万元：市级实地核查", "R&D above {min_expenditure_thousand_yuan:,}: city on-site check"),
        table: Table::Rd,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Info,
        message: t(
            "{period} 年研发费用 {rd_expenditure} 千元，超过 {min_expenditure_thousand_yuan} 千元，由市统计局实地核查",
            "{period}: R&D expenditure {rd_expenditure} thousand yuan, above {min_expenditure_thousand_yuan}: the city bureau checks on site",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t("研发费用超过 10,000 千元（1000 万元）的，由市统计局实地核查。", "R&D expenditure above 10,000 thousand yuan (1000万元) is checked on site by the city bureau."),
        why: t("特大额研发费用需要市级实地核查“三个不符”：报表与台账、台账与账务、报表与实际。", "Very large claims get a city on-site check of the three mismatches: report vs ledger, ledger vs accounts, report vs reality."),
        example: t("研发费用 18,000 千元 → 市级实地核查。", "18,000 → city on-site check."),
        remedy: t("市统计局实地查看研发项目、人员、设备和账务。", "The city bureau inspects the projects, staff, equipment and accounts."),
        params: &[num("min_expenditure_thousand_yuan", 10000.0, Some(0.0), None, "expenditure above this is checked on site by the city (thousand yuan)")],
        basis: Basis::Figures,
        kind: Kind::Annual(route_city),
    },
];

/// RD001's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd001 {
    years: i64,
}

/// RD005's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd005 {
    low_end_divisions: Vec<String>,
}

/// RD007's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd007 {
    max_abs_z: f64,
    max_intensity_ratio: f64,
    min_peers: i64,
    steady_factor: f64,
    steady_max_dz: f64,
}

/// RD010's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd010 {
    max_factor: f64,
    min_staff: i64,
    min_peers: i64,
}

/// RD008's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd008 {
    min_expenditure_thousand_yuan: f64,
    city_min_expenditure_thousand_yuan: f64,
}

/// RD009's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rd009 {
    min_expenditure_thousand_yuan: f64,
}

/// The typed parameters of the R&D rules.
pub const PARAMS: &[Typed] = &[
    typed::<Rd001>("RD001"),
    typed::<Rd005>("RD005"),
    typed::<PeerZ>("RD006"),
    typed::<Rd007>("RD007"),
    typed::<Rd010>("RD010"),
    typed::<Rd008>("RD008"),
    typed::<Rd009>("RD009"),
];

/// The year of R&D reports audited: the latest in `rd` up to the year under review.
pub fn rd_year(ctx: &Ctx<'_>) -> Result<Option<i32>> {
    let df = ctx
        .table(Table::Rd)?
        .filter(col("year").lt_eq(lit(ctx.period.year())))
        .select([col("year").max()])
        .collect()
        .map_err(pe)?;
    Ok(df.column("year").map_err(pe)?.i32().map_err(pe)?.get(0))
}

/// Every year of the rd table (for audits of several months).
pub fn rd_years(ctx: &Ctx<'_>) -> Result<Vec<i32>> {
    let df = ctx
        .table(Table::Rd)?
        .select([col("year").unique()])
        .collect()
        .map_err(pe)?;
    Ok(df
        .column("year")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .iter()
        .flatten()
        .collect())
}

/// The R&D year an audit of month `m` (a month number) looks at: the latest of
/// `years` up to the month's year.
pub fn audited_year(years: &[i32], m: i32) -> Option<i32> {
    years
        .iter()
        .copied()
        .filter(|y| *y <= m.div_euclid(12))
        .max()
}

fn year_or_none(ctx: &Ctx<'_>) -> Result<i32> {
    rd_year(ctx)?.ok_or_else(|| Error::Internal {
        stage: "rules",
        message: "the rd table has no year up to the period under review".to_string(),
    })
}

/// Reporters of the audited year (expenditure > 0), with enterprise columns.
fn reporters(ctx: &Ctx<'_>, year: i32) -> Result<LazyFrame> {
    // Rows whose expenditure is missing stay, so that they count as not evaluable.
    let lf = ctx.table(Table::Rd)?.filter(
        col("year").eq(lit(year)).and(
            col("rd_expenditure")
                .gt(lit(0.0))
                .or(col("rd_expenditure").is_null()),
        ),
    );
    with_enterprise(ctx, lf, &["division", "industry_code", "entry_period"])
}

/// `cond`, or null (not evaluable) where the expenditure is missing.
fn unless_missing(cond: Expr) -> Expr {
    when(col("rd_expenditure").is_null())
        .then(lit(NULL).cast(DataType::Boolean))
        .otherwise(cond)
}

/// The outcome of a rule on one year of R&D reports (see [`outcome`]).
fn finish(df: &DataFrame, value: Expr, threshold: f64, strength: Expr) -> Result<RuleOutput> {
    outcome(
        df,
        [
            col("year").cast(DataType::String).alias("period"),
            value.alias("value"),
            lit(threshold).alias("threshold"),
            strength.alias("strength"),
        ],
    )
}

fn no_super_deduction(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Rd001 { years } = cfg.params()?;
    let y = year_or_none(ctx)?;
    let years = years as i32;
    let hist = ctx
        .table(Table::Rd)?
        .filter(
            col("year")
                .gt(lit(y - years))
                .and(col("year").lt_eq(lit(y))),
        )
        .group_by([col("eid")])
        .agg([
            col("year").n_unique().alias("_years"),
            // An empty expenditure is not a year of spending: null when unknown.
            col("rd_expenditure")
                .gt(lit(0.0))
                .all(false)
                .alias("_all_spend"),
            // A missing deduction is unknown, not zero: with one missing and none
            // positive, whether relief was claimed cannot be told (null).
            col("rd_super_deduction")
                .lt_eq(lit(0.0))
                .all(false)
                .alias("_no_relief"),
            col("rd_expenditure")
                .filter(col("year").eq(lit(y)))
                .first()
                .alias("rd_expenditure"),
            col("year").max().alias("year"),
        ])
        .filter(
            col("year").eq(lit(y)).and(
                col("rd_expenditure")
                    .gt(lit(0.0))
                    .or(col("rd_expenditure").is_null()),
            ),
        )
        .with_column(
            when(
                col("_years")
                    .eq(lit(years as u32))
                    .and(col("rd_expenditure").is_not_null()),
            )
            .then(col("_all_spend").and(col("_no_relief")))
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("_fails"),
        )
        .with_columns([
            lit(years).alias("years"),
            lit((y - years + 1).to_string()).alias("first_year"),
        ])
        .collect()
        .map_err(pe)?;
    finish(&hist, col("rd_expenditure"), 0.0, lit(1.0))
}

fn first_time(ctx: &Ctx<'_>, _cfg: &RuleConfig) -> Result<RuleOutput> {
    let y = year_or_none(ctx)?;
    let rd = ctx.table(Table::Rd)?;
    let earlier_years = rd
        .clone()
        .filter(col("year").lt(lit(y)))
        .select([col("year").n_unique()])
        .collect()
        .map_err(pe)?;
    let has_history = earlier_years
        .column("year")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .get(0)
        .unwrap_or(0)
        > 0;
    // Earlier years with spending; an earlier year whose expenditure is empty, or
    // whose row was quarantined, leaves "no earlier record" unknown.
    let earlier = rd
        .filter(col("year").lt(lit(y)))
        .group_by([col("eid")])
        .agg([
            col("rd_expenditure")
                .gt(lit(0.0))
                .any(true)
                .alias("_earlier"),
            col("rd_expenditure")
                .null_count()
                .gt(lit(0))
                .alias("_earlier_null"),
        ]);
    let earlier_quarantined = ctx
        .batch
        .unknown_keys(Table::Rd)
        .lazy()
        .filter(col("year").lt(lit(y)))
        .group_by([col("eid")])
        .agg([col("year").count().gt(lit(0)).alias("_earlier_quarantined")]);
    let new_from = crate::model::Month::new(y, 1)
        .map(|m| m.0)
        .unwrap_or(i32::MIN);
    let df = reporters(ctx, y)?
        .join(
            earlier,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            earlier_quarantined,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            when(col("_earlier").fill_null(lit(false)))
                .then(lit(false))
                .when(
                    col("_earlier_null")
                        .fill_null(lit(false))
                        .or(col("_earlier_quarantined").fill_null(lit(false))),
                )
                .then(lit(NULL).cast(DataType::Boolean))
                .otherwise(lit(true))
                .alias("_first"),
            col("entry_period")
                .gt_eq(lit(new_from))
                .fill_null(lit(false))
                .alias("_new"),
        ])
        .with_column(
            unless_missing(if has_history {
                col("_first").or(col("_new"))
            } else {
                // Without earlier years in the data, only new entrants are known.
                col("_new")
            })
            .alias("_fails"),
        )
        .with_columns([
            when(col("_new"))
                .then(lit("新入库企业"))
                .otherwise(lit("以前年度无研发记录"))
                .alias("reason_zh"),
            when(col("_new"))
                .then(lit("newly admitted enterprise"))
                .otherwise(lit("no earlier R&D record"))
                .alias("reason_en"),
        ])
        .collect()
        .map_err(pe)?;
    let note = (!has_history).then(|| {
        "no earlier R&D years in the data: only newly admitted enterprises are identified"
            .to_string()
    });
    Ok(RuleOutput {
        note,
        ..finish(&df, col("rd_expenditure"), 0.0, lit(1.0))?
    })
}

fn low_end(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Rd005 {
        low_end_divisions: divs,
    } = cfg.params()?;
    let y = year_or_none(ctx)?;
    let df = reporters(ctx, y)?
        .with_column(unless_missing(col("division").is_in(str_list(&divs), false)).alias("_fails"))
        .collect()
        .map_err(pe)?;
    finish(&df, col("rd_expenditure"), 0.0, lit(1.0))
}

/// Robust z of `x` within the division, or among all reporters where the division
/// is smaller than `min_peers`; with the median used as `peer_median`.
fn peer_z(lf: LazyFrame, x: Expr, min_peers: u32) -> LazyFrame {
    let lf = lf.with_column(x.alias("_x"));
    let lf = add_robust_z(lf, col("_x"), &["division"], min_peers, "_z_div");
    let lf = add_robust_z(lf, col("_x"), &[], min_peers, "_z_all");
    lf.with_columns([
        col("_x").median().over_cols(&["division"]).alias("_m_div"),
        col("_x").count().over_cols(&["division"]).alias("_n_div"),
        col("_x").median().alias("_m_all"),
    ])
    .with_columns([
        when(col("_n_div").gt_eq(lit(min_peers)))
            .then(col("_z_div"))
            .otherwise(col("_z_all"))
            .alias("value"),
        when(col("_n_div").gt_eq(lit(min_peers)))
            .then(col("_m_div"))
            .otherwise(col("_m_all"))
            .exp()
            .alias("peer_median"),
    ])
}

/// R&D spend per R&D staff of year `y`, with its robust z among the peers
/// (`value`) and `peer_median`.
fn per_staff_z(ctx: &Ctx<'_>, y: i32, min_peers: u32) -> Result<LazyFrame> {
    let lf = reporters(ctx, y)?.with_column(
        when(col("rd_staff").gt(lit(0)))
            .then(col("rd_expenditure") / col("rd_staff").cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("per_staff"),
    );
    Ok(peer_z(
        lf,
        col("per_staff").log(lit(std::f64::consts::E)),
        min_peers,
    ))
}

/// The robust z of `y - 1` as `z_before`, by enterprise (see `steady`).
fn with_year_before(
    now: LazyFrame,
    before: impl FnOnce(i32) -> Result<LazyFrame>,
    y: i32,
) -> Result<LazyFrame> {
    let before = before(y - 1)?
        .filter(col("value").is_not_null())
        .select([col("eid"), col("value").alias("z_before")]);
    Ok(now.join(
        before,
        [col("eid")],
        [col("eid")],
        JoinArgs::new(JoinType::Left),
    ))
}

fn per_staff(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: PeerZ = cfg.params()?;
    let y = year_or_none(ctx)?;
    let max_z = p.max_abs_z;
    let min_peers = p.min_peers as u32;
    let now = per_staff_z(ctx, y, min_peers)?;
    let df = with_year_before(now, |y| per_staff_z(ctx, y, min_peers), y)?
        .with_column(col("value").abs().gt(lit(max_z)).alias("_fails"))
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let settings = p.steady();
    steady_outcome(
        ctx,
        &df,
        settings,
        col("year").cast(DataType::String),
        max_z,
    )
}

/// R&D spend over the year's gross output (`intensity`, with `annual_output`) of
/// year `y`, with its robust z among the peers (`value`) and `peer_median`.
fn intensity_z(ctx: &Ctx<'_>, y: i32, min_peers: u32) -> Result<LazyFrame> {
    let from = crate::model::Month::new(y, 1).map(|m| m.0).unwrap_or(0);
    // The year's output, scaled up when months are missing.
    let output = ctx
        .table(Table::Industrial)?
        .filter(
            col("period")
                .gt_eq(lit(from))
                .and(col("period").lt(lit(from + 12))),
        )
        .group_by([col("eid")])
        .agg([
            col("gross_output").sum().alias("_gross"),
            col("gross_output").count().alias("_m"),
        ])
        .with_column(
            // No known month: no annual output (not 0 × 12 / 0).
            when(col("_m").gt(lit(0)))
                .then(col("_gross") * lit(12.0) / col("_m").cast(DataType::Float64))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("annual_output"),
        );
    let lf = reporters(ctx, y)?
        .join(
            output,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(col("annual_output").gt(lit(0.0)))
                .then(col("rd_expenditure") / col("annual_output"))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("intensity"),
        );
    Ok(peer_z(
        lf,
        col("intensity").log(lit(std::f64::consts::E)),
        min_peers,
    ))
}

fn intensity(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: Rd007 = cfg.params()?;
    let y = year_or_none(ctx)?;
    let max_z = p.max_abs_z;
    let cap = p.max_intensity_ratio;
    let min_peers = p.min_peers as u32;
    let now = intensity_z(ctx, y, min_peers)?;
    let df = with_year_before(now, |y| intensity_z(ctx, y, min_peers), y)?
        .with_column(
            col("value")
                .abs()
                .gt(lit(max_z))
                .fill_null(lit(false))
                .or(col("intensity").gt(lit(cap)))
                .alias("_fails"),
        )
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    // An intensity above the cap is implausible whatever the enterprise's past.
    let [strength, remark, remark_en] = steady(
        Steady {
            factor: p.steady_factor,
            max_dz: p.steady_max_dz,
        },
        col("value"),
        when(col("intensity").gt(lit(cap)))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col("z_before")),
        excess_strength(col("value").abs() / lit(max_z)).fill_null(lit(1.0)),
    );
    outcome_of(
        ctx,
        &df,
        [
            col("year").cast(DataType::String).alias("period"),
            col("value").fill_null(lit(f64::NAN)),
            lit(max_z).alias("threshold"),
            strength,
            remark,
            remark_en,
        ],
    )
}

fn per_staff_jump(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: Rd010 = cfg.params()?;
    let y = year_or_none(ctx)?;
    let max = p.max_factor.max(1.0);
    let min_staff = p.min_staff;
    let min_peers = p.min_peers as u32;
    let per_staff = |lf: LazyFrame| {
        lf.with_column(
            when(
                col("rd_staff")
                    .gt_eq(lit(min_staff))
                    .and(col("rd_expenditure").gt(lit(0.0))),
            )
            .then(col("rd_expenditure") / col("rd_staff").cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("per_staff"),
        )
    };
    let before = per_staff(reporters(ctx, y - 1)?)
        .select([col("eid"), col("per_staff").alias("per_staff_ly")]);
    let lf = per_staff(reporters(ctx, y)?)
        .join(
            before,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col("per_staff") / col("per_staff_ly")).alias("ratio"))
        .with_column(col("ratio").log(lit(std::f64::consts::E)).alias("_lr"));
    // The peers' median change: the division's, or all reporters'.
    let n_div = col("_lr").count().over_cols(&["division"]);
    let peer = when(n_div.gt_eq(lit(min_peers)))
        .then(col("_lr").median().over_cols(&["division"]))
        .otherwise(col("_lr").median());
    let df = lf
        .with_column(peer.alias("_peer"))
        .with_columns([
            col("_peer").exp().alias("peer_ratio"),
            (col("_lr") - col("_peer")).abs().alias("_dev"),
        ])
        .with_column(col("_dev").gt(lit(max.ln())).alias("_fails"))
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    finish(
        &df,
        col("_dev").exp(),
        max,
        excess_strength(col("_dev") / lit(max.ln().max(1e-9))),
    )
}

fn route(ctx: &Ctx<'_>, low: f64, high: Option<f64>, verifier: &str) -> Result<RuleOutput> {
    let y = year_or_none(ctx)?;
    let mut cond = col("rd_expenditure").gt(lit(low));
    if let Some(h) = high {
        cond = cond.and(col("rd_expenditure").lt_eq(lit(h)));
    }
    let df = reporters(ctx, y)?
        .with_column(cond.alias("_fails"))
        .collect()
        .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            col("year").cast(DataType::String).alias("period"),
            col("rd_expenditure").alias("value"),
            lit(low).alias("threshold"),
            lit(1.0).alias("strength"),
            lit(verifier).alias("verifier"),
        ],
    )
}

fn route_county(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: Rd008 = cfg.params()?;
    route(
        ctx,
        p.min_expenditure_thousand_yuan,
        Some(p.city_min_expenditure_thousand_yuan),
        "county",
    )
}

fn route_city(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: Rd009 = cfg.params()?;
    route(ctx, p.min_expenditure_thousand_yuan, None, "city")
}
