//! Industrial report (工业产销总值) internal logic and history: IN001–IN007, IN010.
//! The Hidiroglou–Berthelot checks of output (IN008, IN009) are in `detectors`.

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::panel::MonthCells;
use super::registry::{typed, Basis, Kind, Level, RuleDef, Scope, Severity, Typed};
use crate::error::Result;
use crate::model::Table;

/// The industrial rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "IN001",
        title: t("出口交货值大于工业销售产值", "Export delivery above sales output"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Hard,
        message: t(
            "{period} 出口交货值 {export_delivery} 千元大于工业销售产值 {sales_output} 千元",
            "{period}: export delivery {export_delivery} exceeds sales output {sales_output} (thousand yuan)",
        ),
        hint: t(
            "请企业提供出口报关单和销售发票，更正出口交货值或工业销售产值",
            "Ask for the customs export declarations and sales invoices; correct export delivery or sales output",
        ),
        what: t(
            "出口交货值是工业销售产值的一部分，不能大于后者。",
            "Export delivery is part of sales output and cannot exceed it.",
        ),
        why: t(
            "违反指标间的包含关系，数据在逻辑上不可能，联网直报平台会拒收。",
            "It breaks the inclusion between the two indicators: the figures are logically impossible and the platform would refuse them.",
        ),
        example: t(
            "工业销售产值 800 千元，出口交货值 950 千元 → 不通过。",
            "Sales output 800, export delivery 950 (thousand yuan) → fails.",
        ),
        remedy: t(
            "核对出口报关单，出口交货值按离岸价折人民币计算，且只计本期已交货部分。",
            "Check against export declarations: export delivery is the FOB value of goods delivered in the period, converted to yuan.",
        ),
        params: &[],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "export_delivery > sales_output",
            value: Some("export_delivery - sales_output"),
            scope: Scope::YearToDate,
        },
    },
    RuleDef {
        code: "IN002",
        title: t("产值填报负数", "Negative output values"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Hard,
        message: t(
            "{period} 填报了负数：工业总产值 {gross_output}，工业销售产值 {sales_output}，出口交货值 {export_delivery}（千元）",
            "{period}: negative value reported: gross output {gross_output}, sales output {sales_output}, export delivery {export_delivery} (thousand yuan)",
        ),
        hint: t(
            "请企业核对当月产值计算表，更正为非负数值",
            "Ask for the month's output calculation sheet; correct the value to a non-negative figure",
        ),
        what: t(
            "工业总产值、工业销售产值、出口交货值均不能为负。",
            "Gross output, sales output and export delivery cannot be negative.",
        ),
        why: t(
            "当月产值是当月生产或销售的价值，不可能为负；负数多来自用累计数相减推算当月数。",
            "A month's output is the value produced or sold in it and cannot be negative; negatives usually come from deriving the month by subtracting cumulative figures.",
        ),
        example: t("工业销售产值 −120 千元 → 不通过。", "Sales output −120 → fails."),
        remedy: t(
            "按当月实际生产、销售重新计算；以前月份多报的，在以前月份更正，不在本月冲减。",
            "Recompute from the month's production and sales; correct an earlier over-report in that month, not by a negative figure now.",
        ),
        params: &[],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "gross_output < 0 OR sales_output < 0 OR export_delivery < 0",
            value: Some("LEAST(gross_output, sales_output, export_delivery)"),
            scope: Scope::YearToDate,
        },
    },
    RuleDef {
        code: "IN003",
        title: t("产销率超出合理区间", "Sales-to-output ratio out of band"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 产销率（工业销售产值/工业总产值）为 {value:%}，超出 {min_ratio:%}–{max_ratio:%} 的合理区间",
            "{period}: sales output is {value:%} of gross output, outside the plausible band {min_ratio:%}–{max_ratio:%}",
        ),
        hint: t(
            "请企业提供产成品入库单、出库单和销售发票，说明产销差异原因",
            "Ask for warehouse receipts and dispatch slips and the sales invoices; the enterprise explains the gap between production and sales",
        ),
        what: t(
            "工业销售产值与工业总产值之比（产销率）应在合理区间内。",
            "Sales output divided by gross output (the sales ratio) should lie in a plausible band.",
        ),
        why: t(
            "产销率长期偏离 100% 说明库存大量积压或产值与销售不匹配，可能是产值虚报或漏报销售。",
            "A sales ratio far from 100% means large stock changes or output not matched by sales — a sign of inflated output or unreported sales.",
        ),
        example: t(
            "工业总产值 1,000 千元，工业销售产值 420 千元 → 产销率 42%，不通过。",
            "Gross output 1,000, sales output 420 → 42%, fails.",
        ),
        remedy: t(
            "核对库存变化；产值应按实际产量和价格计算，销售产值按实际销售计算。",
            "Check the stock movement; output must follow actual production at actual prices, sales output actual sales.",
        ),
        params: &[
            num("min_ratio", 0.5, Some(0.0), Some(1.0), "lowest plausible sales output / gross output"),
            num("max_ratio", 1.2, Some(1.0), None, "highest plausible sales output / gross output"),
            num("min_gross_thousand_yuan", 100.0, Some(0.0), None, "smaller gross outputs are not judged (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Formula {
            fails_when: "gross_output > {min_gross_thousand_yuan} AND (sales_output / gross_output < {min_ratio} OR sales_output / gross_output > {max_ratio})",
            value: Some("sales_output / gross_output"),
            scope: Scope::YearToDate,
        },
    },
    RuleDef {
        code: "IN004",
        title: t("产值同比变动异常", "Year-on-year change of output"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值同比变动 {change:%}（本期 {current} 千元，上年同期 {last_year} 千元），同行业中位数 {peer_change:%}，偏离超过 {max_change_ratio:%}",
            "{period}: gross output changed {change:%} on the same period last year ({current} vs {last_year} thousand yuan); the industry median is {peer_change:%}, a deviation beyond {max_change_ratio:%}",
        ),
        hint: t(
            "请企业说明同比大幅变动原因，提供订单、销售发票和增值税纳税申报表",
            "Ask the enterprise to explain the change; request orders, sales invoices and the VAT returns",
        ),
        what: t(
            "当月工业总产值与上年同月相比的变动，扣除同行业（国民经济行业大类）中位数变动后，超过阈值。春节所在月份（默认 1、2 月）按 1 月至当月累计比较。",
            "Gross output against the same month last year, net of the median change of the enterprise's industry division, beyond a threshold. In the Spring Festival months (January and February by default) the January-to-date totals are compared instead.",
        ),
        why: t(
            "同比比较可以消除季节性；与同行业同期变动相比，可以区分企业自身异常与行业整体景气变化。地方要求对变动超过 30% 的说明原因。",
            "Comparing with the same month last year removes seasonality; comparing with the industry's change separates the enterprise's own anomaly from the business cycle. Local practice asks for an explanation of changes beyond 30%.",
        ),
        example: t(
            "上年 9 月 2,000 千元，本年 9 月 4,600 千元（+130%），行业中位数 +6% → 不通过。",
            "September last year 2,000, this year 4,600 (+130%), industry median +6% → fails.",
        ),
        remedy: t(
            "企业提供变动原因（新增产能、停产检修、订单变化）及佐证；无合理原因的按实际更正。",
            "The enterprise documents the cause (new capacity, shutdown, orders); without one, the figure is corrected.",
        ),
        params: &[
            num("max_change_ratio", 0.5, Some(0.0), None, "largest accepted deviation from the industry's median change (0.5 = 50 points)"),
            num("min_abs_change_thousand_yuan", 1000.0, Some(0.0), None, "smaller absolute changes are not judged (thousand yuan)"),
            months("spring_festival_months", &[1, 2], "months compared as January-to-date totals"),
            int("min_peers", 10, Some(1.0), None, "fewer enterprises in the division: the median of all enterprises is used"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(yoy_change),
    },
    RuleDef {
        code: "IN005",
        title: t("产值环比变动异常", "Month-on-month change of output"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值环比变动 {change:%}（本月 {current} 千元，上月 {previous} 千元），同行业中位数 {peer_change:%}，偏离超过 {max_change_ratio:%}",
            "{period}: gross output changed {change:%} on the previous month ({current} vs {previous} thousand yuan); the industry median is {peer_change:%}, a deviation beyond {max_change_ratio:%}",
        ),
        hint: t(
            "请企业说明环比大幅变动原因，提供生产日报、入库单和销售发票",
            "Ask the enterprise to explain the change; request production logs, warehouse receipts and sales invoices",
        ),
        what: t(
            "当月工业总产值与上月相比的变动，扣除同行业同月的中位数变动（季节性，如春节）后，超过阈值。",
            "Gross output against the previous month, net of the industry division's median change in the same month (which carries seasonality such as the Spring Festival), beyond a threshold.",
        ),
        why: t(
            "环比突变而同行业没有同样变化，说明企业数据可能来自推算或调整，而非当月账簿。",
            "A jump the industry does not share suggests figures estimated or adjusted rather than taken from the month's books.",
        ),
        example: t(
            "上月 1,500 千元，本月 4,200 千元（+180%），行业中位数 +3% → 不通过。",
            "Last month 1,500, this month 4,200 (+180%), industry median +3% → fails.",
        ),
        remedy: t(
            "企业提供生产经营变化的证明；无法说明的按实际更正。",
            "The enterprise documents the change; otherwise the figure is corrected.",
        ),
        params: &[
            num("max_change_ratio", 0.6, Some(0.0), None, "largest accepted deviation from the industry's median change"),
            num("min_abs_change_thousand_yuan", 1000.0, Some(0.0), None, "smaller absolute changes are not judged (thousand yuan)"),
            int("min_peers", 10, Some(1.0), None, "fewer enterprises in the division: the median of all enterprises is used"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(mom_change),
    },
    RuleDef {
        code: "IN006",
        title: t("连续多月数据相同", "Same figures copied forward"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "工业总产值和工业销售产值连续 {run_months} 个月完全相同（{first_period} 至 {period}，{gross_output} 千元）",
            "Gross and sales output identical for {run_months} consecutive months ({first_period} to {period}: {gross_output} thousand yuan)",
        ),
        hint: t(
            "请企业提供各月产品产量统计台账和销售发票，核实是否照抄上月数据",
            "Ask for the monthly production ledger and sales invoices; check whether last month's figures were copied",
        ),
        what: t(
            "工业总产值与工业销售产值连续若干个月（默认 ≥3）完全相同。重复的数值是 100 千元的整数倍且不超过 5,000 千元（单位占数值 2% 以上）的，是小企业的整数估报，取整后自然容易重复：仍列出，强度乘以 0.25。",
            "Gross output and sales output exactly equal for several consecutive months (3 or more by default). When the repeated value is a multiple of 100 thousand yuan and the unit at least 2% of it (up to 5,000), it is a small enterprise's round estimate, which rounding alone often repeats: still listed, at a quarter of the strength.",
        ),
        why: t(
            "真实生产经营每月都有波动，连续相同的数据往往是照抄上月、没有依据台账填报（数出无据）。",
            "Real production varies every month; identical figures are usually copied forward rather than taken from the books (数出无据).",
        ),
        example: t(
            "7、8、9 月工业总产值均为 1,250 千元，销售产值均为 1,180 千元 → 不通过。",
            "July, August and September all 1,250 gross and 1,180 sales → fails.",
        ),
        remedy: t(
            "企业按月依据统计台账填报；照抄的数据逐月更正。",
            "The enterprise reports each month from its statistical ledger; copied months are corrected one by one.",
        ),
        params: &[
            int("min_months", 3, Some(2.0), None, "shortest run of identical months that fails"),
            num("min_gross_thousand_yuan", 0.0, Some(0.0), None, "runs at or below this gross output are not judged (thousand yuan)"),
            num("round_unit_thousand_yuan", 100.0, Some(1.0), None, "a repeated value that is a multiple of this is a round estimate (thousand yuan)"),
            num("coarse_share", 0.02, Some(0.0), Some(1.0), "a round estimate repeats by itself when the unit is at least this share of the value (100 below 5,000)"),
            num("coarse_factor", 0.25, Some(0.0), Some(1.0), "strength multiplier of such a run; 1 turns it off"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(copied_forward),
    },
    RuleDef {
        code: "IN007",
        title: t("数据过于整齐", "Suspiciously round figures"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "近 {window_months} 个月中有 {round_months} 个月工业总产值为 {round_unit_thousand_yuan} 千元的整数倍（本月 {gross_output} 千元）",
            "In {round_months} of the last {window_months} months gross output was a multiple of {round_unit_thousand_yuan} thousand yuan (this month {gross_output})",
        ),
        hint: t(
            "请企业提供产值计算表及原始记录，说明数据是否为估算",
            "Ask for the output calculation sheets and source records; check whether the figures are estimates",
        ),
        what: t(
            "近若干个月中，工业总产值多次恰为整数（默认 100 千元即 10 万元的整数倍）。按账簿计算的整千元数字偶然为 100 的倍数的机会约为百分之一，所以只有偶然出现的概率不超过 max_chance（默认十万分之一）的次数才不通过：近 12 个月中至少 4 个月（且不少于 min_round_months）；3 个月在每一万家企业中偶然出现约 2 家。此前同样长的一段时间里同样多为整数的，是企业一贯的估报习惯（多为小企业）：仍列出，强度为 0.25；此前不是整数而新近改为整数的，照常列出并注明“新近改为整数填报”。",
            "Gross output repeatedly an exact multiple of a round unit (100 thousand yuan, i.e. 10万元, by default) in recent months. A whole figure from the books is a multiple of 100 about one time in 100 by chance, so only a count that turns up by chance at most `max_chance` of the time fails (1 in 100,000 by default): at least 4 of the last 12 months (and no fewer than `min_round_months`); 3 of 12 turns up by chance at about 2 enterprises in 10,000. When the window before was as round, it is the enterprise's habit of estimating (mostly small reporters): still listed, at strength 0.25; a switch from figures that were not round is listed as usual and named so.",
        ),
        why: t(
            "依据账簿计算的产值很少恰为整十万；反复出现整数说明数据是估报或编造的。",
            "Output computed from the books is rarely an exact multiple of 100,000 yuan; repeated round figures point to estimates or invention.",
        ),
        example: t(
            "近 12 个月中有 5 个月产值为 3,000、3,200、2,900… 千元 → 不通过。",
            "5 of the last 12 months at 3,000, 3,200, 2,900… → fails.",
        ),
        remedy: t(
            "企业按实际产量和价格计算产值并保留计算过程。",
            "The enterprise computes output from quantities and prices and keeps the workings.",
        ),
        params: &[
            num("round_unit_thousand_yuan", 100.0, Some(1.0), None, "a value that is a multiple of this is round (thousand yuan)"),
            int("window_months", 12, Some(1.0), Some(36.0), "months looked back, the period under review included"),
            int("min_round_months", 3, Some(1.0), None, "round months in the window that fail, at the least"),
            num("max_chance", 1e-5, Some(0.0), Some(1.0), "a count of round months this likely by chance is not judged (a whole figure is a multiple of the unit one time in unit): with 100, 4 of 12 months"),
            num("habit_factor", 0.25, Some(0.0), Some(1.0), "strength of a finding when the window before was as round (a habit, not a switch); 1 turns the distinction off"),
            num("min_gross_thousand_yuan", 100.0, Some(0.0), None, "smaller values are not counted as round (thousand yuan)"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(round_figures),
    },
    RuleDef {
        code: "IN010",
        title: t("修改痕迹明显", "Many revisions"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 报表修改 {revisions} 次，达到 {max_revisions} 次",
            "{period}: the report was revised {revisions} times, at least {max_revisions}",
        ),
        hint: t(
            "请企业说明多次修改原因，核对最终数据的依据",
            "Ask why the report was revised so often and what the final figures rest on",
        ),
        what: t(
            "同一期报表的修改次数达到阈值（修改痕迹明显单位）。",
            "A report revised at least a threshold number of times (修改痕迹明显单位).",
        ),
        why: t(
            "反复修改说明数据不是来自账簿，或在按要求“调整”数据。",
            "Repeated revision suggests figures not taken from the books, or figures being adjusted to order.",
        ),
        example: t("9 月报表修改 5 次 → 不通过。", "The September report revised 5 times → fails."),
        remedy: t(
            "核查每次修改的原因和依据，确认最终数据与账簿一致。",
            "Check each revision's reason and basis; confirm the final figures match the books.",
        ),
        params: &[int("max_revisions", 3, Some(1.0), None, "revisions of one report that fail")],
        basis: Basis::Figures,
        kind: Kind::Months(many_revisions),
    },
];

/// IN004's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In004 {
    max_change_ratio: f64,
    min_abs_change_thousand_yuan: f64,
    spring_festival_months: Vec<u32>,
    min_peers: i64,
}

/// IN005's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In005 {
    max_change_ratio: f64,
    min_abs_change_thousand_yuan: f64,
    min_peers: i64,
}

/// IN006's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In006 {
    min_months: i64,
    min_gross_thousand_yuan: f64,
    round_unit_thousand_yuan: f64,
    coarse_share: f64,
    coarse_factor: f64,
}

/// IN007's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In007 {
    round_unit_thousand_yuan: f64,
    window_months: i64,
    min_round_months: i64,
    max_chance: f64,
    habit_factor: f64,
    min_gross_thousand_yuan: f64,
}

/// IN010's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In010 {
    max_revisions: i64,
}

/// The typed parameters of the industrial rules (IN001–IN003 are formulas).
pub const PARAMS: &[Typed] = &[
    typed::<In004>("IN004"),
    typed::<In005>("IN005"),
    typed::<In006>("IN006"),
    typed::<In007>("IN007"),
    typed::<In010>("IN010"),
];

/// Industrial rows of the years audited (January of `Ctx::from`'s year to the
/// period) with last year's values for the same month (`gross_ly`) and the
/// previous month (`gross_prev`), their January-to-date sums (`cum_cur`,
/// `cum_ly`), and the months so far with both (`cum_both`).
fn with_history(ctx: &Ctx<'_>) -> Result<DataFrame> {
    ctx.shared("industrial_history", || {
        // One month panel from a year before the first audited year: each row's
        // month a year earlier and the month before are cells of it, and the
        // rows come out in enterprise and month order.
        let start = ctx.from.year_start().0;
        let p = ctx.period.0;
        let cells = MonthCells::of(ctx.batch, Table::Industrial, "gross_output", start - 12, p)?;
        let figure = |e: usize, m: i32| {
            cells
                .at(Some(e as u32), Some(m))
                .filter(|&i| cells.rows[i] > 0 && cells.known[i] > 0)
                .map(|i| cells.sum[i])
        };
        let mut h = History::default();
        for e in 0..cells.n {
            // January-to-date sums of both years, restarted each year.
            let (mut a, mut b, mut c) = (None::<f64>, None::<f64>, 0i32);
            for m in start..=p {
                if m.rem_euclid(12) == 0 {
                    (a, b, c) = (None, None, 0);
                }
                let Some(i) = cells.at(Some(e as u32), Some(m)) else {
                    continue;
                };
                if cells.rows[i] == 0 {
                    continue;
                }
                let (x, y) = (figure(e, m), figure(e, m - 12));
                if let Some(x) = x {
                    a = Some(a.unwrap_or(0.0) + x);
                }
                if let Some(y) = y {
                    b = Some(b.unwrap_or(0.0) + y);
                }
                if x.is_some() && y.is_some() {
                    c += 1;
                }
                h.eid.push(e as u32);
                h.period.push(m);
                h.gross.push(x);
                h.ly.push(y);
                h.prev.push(figure(e, m - 1));
                h.cum_cur.push(a);
                h.cum_ly.push(b);
                h.cum_both.push(c);
            }
        }
        let mut j = DataFrame::new(
            h.eid.len(),
            vec![
                Column::new("eid".into(), h.eid),
                Column::new("period".into(), h.period),
                Column::new("gross_output".into(), h.gross),
                Column::new("gross_ly".into(), h.ly),
                Column::new("gross_prev".into(), h.prev),
            ],
        )
        .map_err(pe)?
        .lazy()
        .with_column(month_of_year(col("period")).alias("month_no"))
        .collect()
        .map_err(pe)?;
        for c in [
            Column::new("cum_cur".into(), h.cum_cur),
            Column::new("cum_ly".into(), h.cum_ly),
            Column::new("cum_both".into(), h.cum_both),
        ] {
            j.with_column(c).map_err(pe)?;
        }
        let j = j.lazy();
        with_enterprise(ctx, j, &["division"])?
            .collect()
            .map_err(pe)
    })
}

/// The columns of [`with_history`], row by row.
#[derive(Default)]
struct History {
    eid: Vec<u32>,
    period: Vec<i32>,
    gross: Vec<Option<f64>>,
    ly: Vec<Option<f64>>,
    prev: Vec<Option<f64>>,
    cum_cur: Vec<Option<f64>>,
    cum_ly: Vec<Option<f64>>,
    cum_both: Vec<i32>,
}

/// Median change of peers: within the division and month when it has `min_peers`
/// enterprises, else within the month.
/// The peers' median of `ratio` (`peer_ratio`): the division's in the month with
/// at least `min_peers` values, else all enterprises' in the month. The medians
/// and counts are a peer statistic of the run (`key`), so a live answer judges
/// one enterprise's change against the last full audit's peers.
fn peer_median(
    ctx: &Ctx<'_>,
    key: &str,
    lf: LazyFrame,
    ratio: &str,
    min_peers: i64,
) -> Result<LazyFrame> {
    if ctx.peers_in_place() {
        // The same medians for every row from its own groups (an audit of the
        // whole batch).
        return division_or_month_median(lf, ratio, min_peers, "peer_ratio");
    }
    let df = lf.collect().map_err(pe)?;
    let stat = |level: &str, by: &[&str]| -> Result<DataFrame> {
        let key = format!("{key}@{}:{level}", ctx.period);
        if let Some(rows) = ctx.given_rows(&key, by, &df) {
            return rows;
        }
        ctx.peer_stat(&key, || {
            let g: Vec<Expr> = by.iter().map(|c| col(*c)).collect();
            df.clone()
                .lazy()
                .group_by(g)
                .agg([
                    col(ratio).median().alias("_med"),
                    col(ratio).count().cast(DataType::UInt32).alias("_n"),
                ])
                .collect()
                .map_err(pe)
        })
    };
    let div = stat("division", &["division", "period"])?.lazy().rename(
        ["_med", "_n"],
        ["_med_div", "_n_div"],
        true,
    );
    let all = stat("all", &["period"])?
        .lazy()
        .select([col("period"), col("_med").alias("_med_all")]);
    let lf = join_stat(df.lazy(), div, &["division", "period"]);
    Ok(join_stat(lf, all, &["period"])
        .with_column(
            when(col("_n_div").gt_eq(lit(min_peers)))
                .then(col("_med_div"))
                .otherwise(col("_med_all"))
                .alias("peer_ratio"),
        )
        .drop(by_name(["_med_div", "_n_div", "_med_all"], true, false)))
}

/// The thresholds of a change of output against the peers': the parameters
/// IN004 and IN005 share.
#[derive(Clone, Copy)]
struct ChangeLimits {
    max_change_ratio: f64,
    min_abs_change_thousand_yuan: f64,
    min_peers: i64,
}

/// A change of output (`current` against `base`, shown as `base_name`) judged
/// against the peers' median change, for rule `code`.
fn change_rule(
    ctx: &Ctx<'_>,
    code: &str,
    limits: ChangeLimits,
    current: Expr,
    base: Expr,
    base_name: &str,
) -> Result<RuleOutput> {
    let h = with_history(ctx)?;
    let max_dev = limits.max_change_ratio;
    let min_abs = limits.min_abs_change_thousand_yuan;
    let lf = h
        .lazy()
        .with_columns([current.alias("current"), base.alias(base_name)])
        .with_column(
            when(
                col("current")
                    .gt_eq(lit(0.0))
                    .and(col(base_name).gt(lit(0.0))),
            )
            .then(col("current") / col(base_name))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("ratio"),
        );
    let lf = peer_median(ctx, code, lf, "ratio", limits.min_peers)?
        .with_columns([
            (col("ratio") - lit(1.0)).alias("change"),
            (col("peer_ratio") - lit(1.0)).alias("peer_change"),
            (col("ratio") / col("peer_ratio") - lit(1.0)).alias("deviation"),
        ])
        .with_column(
            (col("deviation").abs().gt(lit(max_dev)))
                .and((col("current") - col(base_name)).abs().gt(lit(min_abs)))
                .alias("_fails"),
        );
    // A month's result is the same for every later audit of its year.
    let df = ytd_audits(ctx, lf)?.collect().map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            col("deviation").alias("value"),
            lit(max_dev).alias("threshold"),
            excess_strength(col("deviation").abs() / lit(max_dev.max(1e-9))).alias("strength"),
        ],
    )
}

fn yoy_change(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let In004 {
        max_change_ratio,
        min_abs_change_thousand_yuan,
        spring_festival_months,
        min_peers,
    } = cfg.params()?;
    let sf: Vec<i32> = spring_festival_months
        .into_iter()
        .map(|m| m as i32)
        .collect();
    let in_sf = col("month_no").is_in(i32_list(&sf), false);
    // In the Spring Festival months both years are compared January-to-date, and
    // only when every month so far is present in both.
    let cumulative_ok = col("cum_both").eq(col("month_no"));
    let current = when(in_sf.clone())
        .then(
            when(cumulative_ok.clone())
                .then(col("cum_cur"))
                .otherwise(lit(NULL).cast(DataType::Float64)),
        )
        .otherwise(col("gross_output"));
    let base = when(in_sf)
        .then(
            when(cumulative_ok)
                .then(col("cum_ly"))
                .otherwise(lit(NULL).cast(DataType::Float64)),
        )
        .otherwise(col("gross_ly"));
    let limits = ChangeLimits {
        max_change_ratio,
        min_abs_change_thousand_yuan,
        min_peers,
    };
    change_rule(ctx, cfg.code(), limits, current, base, "last_year")
}

fn mom_change(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let In005 {
        max_change_ratio,
        min_abs_change_thousand_yuan,
        min_peers,
    } = cfg.params()?;
    let limits = ChangeLimits {
        max_change_ratio,
        min_abs_change_thousand_yuan,
        min_peers,
    };
    change_rule(
        ctx,
        cfg.code(),
        limits,
        col("gross_output"),
        col("gross_prev"),
        "previous",
    )
}

fn copied_forward(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let p: In006 = cfg.params()?;
    let min_months = p.min_months.max(2) as i32;
    let min_gross = p.min_gross_thousand_yuan;
    // An audit looks back far enough for a run that ends in January to be seen
    // whole: runs are counted from `lookback` months before its January.
    let lookback = min_months + 12;
    let rows = identical_runs(ctx, ctx.from.year_start().0 - lookback)?;
    let (evaluated, not_evaluable) = year_to_date_counts(ctx, rows.clone())?;
    // Months that may end a long enough run, paired with the audits looking at them.
    let candidates = rows.filter(
        col("_known")
            .and(col("gross_output").gt(lit(min_gross)))
            .and((col("period") - col("_first") + lit(1)).gt_eq(lit(min_months))),
    );
    let audit_start = col("at") - month_of_year(col("at")) + lit(1);
    let runs = ytd_audits(ctx, candidates)?
        // The audit at `at` counts the run from `lookback` months before its January.
        .with_column(
            when(col("_first").gt(audit_start.clone() - lit(lookback)))
                .then(col("_first"))
                .otherwise(audit_start - lit(lookback))
                .alias("_first"),
        )
        .with_column((col("period") - col("_first") + lit(1)).alias("run_months"))
        .filter(col("run_months").gt_eq(lit(min_months)))
        // One finding per run and audit: its last month in the year to date.
        .sort(["at", "_run", "period"], SortMultipleOptions::default())
        .group_by_stable([col("at"), col("_run")])
        .agg([
            col("eid").last(),
            col("period").last(),
            col("_first").last(),
            col("run_months").last().cast(DataType::UInt32),
            col("gross_output").last(),
        ])
        .with_columns([
            month_text(col("_first")).alias("first_period"),
            month_text(col("period")).alias("period"),
            col("run_months").cast(DataType::Float64).alias("value"),
            lit(min_months as f64).alias("threshold"),
        ]);
    let failures = with_coarse_strength(runs, &p, min_months)
        .drop(by_name(["_run", "_coarse"], true, false))
        .collect()
        .map_err(pe)?;
    Ok(RuleOutput {
        failures,
        evaluated,
        not_evaluable,
        note: None,
        of_last_month: true,
    })
}

/// The industrial rows from month `first` to the period under review, in
/// enterprise and month order, each with whether it repeats the month before
/// (`_same`: both figures identical), the first month of its run (`_first`), its
/// run's number (`_run`) and whether both figures are known (`_known`).
fn identical_runs(ctx: &Ctx<'_>, first: i32) -> Result<LazyFrame> {
    let prev = |c: &str| col(c).shift(lit(1));
    // A run: consecutive months of one enterprise with both figures identical.
    let same = col("eid")
        .eq(prev("eid"))
        .and(col("period").eq(prev("period") + lit(1)))
        .and(col("gross_output").eq(prev("gross_output")))
        .and(col("sales_output").eq(prev("sales_output")))
        .fill_null(lit(false));
    let window = ctx
        .table(Table::Industrial)?
        .filter(
            col("period")
                .gt_eq(lit(first))
                .and(col("period").lt_eq(lit(ctx.period.0))),
        )
        .select([
            col("eid"),
            col("period"),
            col("gross_output"),
            col("sales_output"),
        ])
        .collect()
        .map_err(pe)?;
    // Enterprise and month order (a linear pass when the table is in month order).
    let window = crate::load::sort_by_key(window, Table::Industrial)?;
    // The first month of each row's run: the latest run start so far, found as a
    // running maximum of a key that grows along the sorted rows.
    let key =
        col("eid").cast(DataType::Int64) * lit(1_000_000i64) + col("period").cast(DataType::Int64);
    let known = col("gross_output")
        .is_not_null()
        .and(col("sales_output").is_not_null());
    Ok(window
        .lazy()
        .with_column(same.alias("_same"))
        .with_column(
            (when(col("_same"))
                .then(lit(i64::MIN))
                .otherwise(key.clone())
                .cum_max(false)
                - (key - col("period").cast(DataType::Int64)))
            .cast(DataType::Int32)
            .alias("_first"),
        )
        .with_column(
            col("_same")
                .not()
                .cast(DataType::UInt32)
                .cum_sum(false)
                .alias("_run"),
        )
        .with_column(known.alias("_known")))
}

/// Rows checked and rows not evaluable: every month of the last month's year to
/// date, as a run of that month counts them.
fn year_to_date_counts(ctx: &Ctx<'_>, rows: LazyFrame) -> Result<(u64, u64)> {
    let counted = rows
        .filter(col("period").gt_eq(lit(ctx.period.year_start().0)))
        .select([
            col("_known").sum().alias("evaluated"),
            col("_known").not().sum().alias("not_evaluable"),
        ])
        .collect()
        .map_err(pe)?;
    let count = |c: &str| -> Result<u64> {
        Ok(counted
            .column(c)
            .map_err(pe)?
            .cast(&DataType::UInt64)
            .map_err(pe)?
            .u64()
            .map_err(pe)?
            .get(0)
            .unwrap_or(0))
    };
    Ok((count("evaluated")?, count("not_evaluable")?))
}

/// A run's strength, and its remark when the figure is a small round estimate (a
/// multiple of the unit, the unit a coarse share of it), which repeats by itself:
/// rounding to 100 at 800 makes equal months likely.
fn with_coarse_strength(runs: LazyFrame, p: &In006, min_months: i32) -> LazyFrame {
    let unit = p.round_unit_thousand_yuan;
    let coarse_share = p.coarse_share;
    let coarse_factor = p.coarse_factor;
    runs.with_column(
        ((col("gross_output") / lit(unit))
            .round(0, RoundMode::HalfAwayFromZero)
            .eq(col("gross_output") / lit(unit)))
        .and(col("gross_output").gt(lit(0.0)))
        .and(lit(unit).gt_eq(lit(coarse_share) * col("gross_output")))
        .and(lit(coarse_factor < 1.0))
        .alias("_coarse"),
    )
    .with_columns([
        ((col("run_months").cast(DataType::Float64) / lit(min_months as f64)).clip_max(lit(4.0))
            * when(col("_coarse"))
                .then(lit(coarse_factor))
                .otherwise(lit(1.0)))
        .alias("strength"),
        when(col("_coarse"))
            .then(lit(
                "；数值小且为整数，取整后连续相同较常见，核查优先级降低",
            ))
            .otherwise(lit(NULL).cast(DataType::String))
            .alias("remark"),
        when(col("_coarse"))
            .then(lit(
                "; a small round figure, which rounding alone often repeats: lower priority",
            ))
            .otherwise(lit(NULL).cast(DataType::String))
            .alias("remark_en"),
    ])
}

fn round_figures(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let params: In007 = cfg.params()?;
    let unit = params.round_unit_thousand_yuan;
    let window = params.window_months as i32;
    let min_round = params.min_round_months;
    let min_gross = params.min_gross_thousand_yuan;
    let habit = params.habit_factor;
    let p = ctx.period.0;
    // The months of every audited month's window, and of the window before it
    // (to tell a habit from a switch to round figures).
    let rows = ctx
        .table(Table::Industrial)?
        .filter(
            col("period")
                .gt(lit(ctx.from.0 - 2 * window))
                .and(col("period").lt_eq(lit(p))),
        )
        .select([col("eid"), col("period"), col("gross_output")])
        .with_column(
            (col("gross_output").gt_eq(lit(min_gross)))
                .and(
                    (col("gross_output") / lit(unit))
                        .round(0, RoundMode::HalfAwayFromZero)
                        .eq(col("gross_output") / lit(unit)),
                )
                .alias("_round"),
        );
    // Only an enterprise with enough round months in the audited windows can fail
    // in one of them: the others are left out before each row is paired with the
    // audited months whose two windows hold it. The others still count as
    // evaluated.
    let in_audited_windows = col("period").gt(lit(ctx.from.0 - window));
    let evaluated = rows
        .clone()
        .filter(in_audited_windows)
        .group_by([col("eid")])
        .agg([
            col("_round").sum().alias("_total"),
            col("_round").count().alias("_n"),
        ])
        .collect()
        .map_err(pe)?;
    let candidates = evaluated
        .clone()
        .lazy()
        .filter(col("_total").gt_eq(lit(min_round)))
        .select([col("eid")]);
    let needed = |known: &str| round_months_needed(&params, known);
    let df = round_windows(ctx, rows.clone(), candidates, window)?
        .with_columns([
            needed("_n").alias("_needed"),
            needed("_before_n").alias("_before_needed"),
        ])
        .with_column(
            when(col("_n").gt(lit(0)))
                .then(
                    col("round_months")
                        .cast(DataType::Float64)
                        .gt_eq(col("_needed")),
                )
                .otherwise(lit(NULL).cast(DataType::Boolean))
                .alias("_fails"),
        )
        .sort(["at", "eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    // A habit: the window before was as round, beyond chance by the same measure
    // (a small reporter estimating its figures all along); a switch: it was not.
    let known_before = col("_before_n").gt_eq(lit(window / 2));
    let was_round = known_before
        .clone()
        .and(
            col("before_round")
                .cast(DataType::Float64)
                .gt_eq(col("_before_needed")),
        )
        .and(lit(habit < 1.0));
    let base = (col("round_months").cast(DataType::Float64) / col("_needed")).clip_max(lit(4.0));
    let remark = |zh: bool| round_remark(window, &was_round, &known_before, zh);
    let mut found = outcome_of(
        ctx,
        &df,
        [
            month_text(col("_last")).alias("period"),
            col("round_months").cast(DataType::Float64).alias("value"),
            col("_needed").alias("threshold"),
            // A habit weighs `habit_factor` of a typical finding, however many
            // round months (all of them, for a habitual estimator).
            when(was_round.clone())
                .then(lit(habit))
                .otherwise(base)
                .alias("strength"),
            remark(true).alias("remark"),
            remark(false).alias("remark_en"),
        ],
    )?;
    // Counted as a run of the last month would: every enterprise with a row in
    // its window, evaluated when a month of it is known.
    let last = if ctx.from == ctx.period {
        evaluated
    } else {
        rows.filter(col("period").gt(lit(p - window)))
            .group_by([col("eid")])
            .agg([col("_round").count().alias("_n")])
            .collect()
            .map_err(pe)?
    };
    let c = last.column("_n").map_err(pe)?.u32().map_err(pe)?;
    let (n, known) = (
        c.len() as u64,
        c.iter().filter(|v| v.is_some_and(|v| v > 0)).count() as u64,
    );
    found.evaluated = known;
    found.not_evaluable = n - known;
    found.of_last_month = true;
    Ok(found)
}

/// The round months needed out of those known (column `known`) so that a count
/// that high turns up by chance at most `max_chance` of the time. Figures in whole
/// thousand yuan are a multiple of the unit one time in `unit` by chance (fewer
/// still with decimals): with 100 and 12 months known, 4 (3 turns up at 2
/// enterprises in 10,000).
fn round_months_needed(p: &In007, known: &str) -> Expr {
    let chance = (1.0 / p.round_unit_thousand_yuan).min(1.0);
    let (window, min_round) = (p.window_months, p.min_round_months);
    let max_chance = p.max_chance;
    (0..=window.max(1) as u32)
        .rev()
        .fold(lit(NULL).cast(DataType::Float64), |rest, n| {
            let k = crate::detect::chance::least_count_beyond_chance(
                n,
                chance,
                max_chance,
                min_round.max(1) as u32,
            );
            when(col(known).eq(lit(n)))
                .then(lit(k as f64))
                .otherwise(rest)
        })
}

/// For each audited month `at` and candidate enterprise: its round months and
/// months known in the window ending at `at` (`round_months`, `_n`) and in the
/// window before (`before_round`, `_before_n`), the figure of `at` and the last
/// month of the window with a figure (`_last`).
fn round_windows(
    ctx: &Ctx<'_>,
    rows: LazyFrame,
    candidates: LazyFrame,
    window: i32,
) -> Result<LazyFrame> {
    let offsets = DataFrame::new(
        (2 * window).max(1) as usize,
        vec![Column::new(
            "_k".into(),
            (0..(2 * window).max(1)).collect::<Vec<i32>>(),
        )],
    )
    .map_err(pe)?;
    let current = col("period").gt(col("at") - lit(window));
    Ok(rows
        .join(
            candidates,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Inner),
        )
        .join(offsets.lazy(), [], [], JoinArgs::new(JoinType::Cross))
        .with_column((col("period") + col("_k")).alias("at"))
        .filter(ctx.audited(col("at")))
        .group_by([col("at"), col("eid")])
        .agg([
            col("_round")
                .filter(current.clone())
                .sum()
                .alias("round_months"),
            col("_round").filter(current.clone()).count().alias("_n"),
            col("_round")
                .filter(current.clone().not())
                .sum()
                .alias("before_round"),
            col("_round")
                .filter(current.clone().not())
                .count()
                .alias("_before_n"),
            col("gross_output")
                .filter(col("period").eq(col("at")))
                .first()
                .alias("gross_output"),
            col("period").filter(current).max().alias("_last"),
        ]))
}

/// The remark on the window before: as round (a habit, lower priority) or only
/// a few round months (a switch to round figures).
fn round_remark(window: i32, was_round: &Expr, known_before: &Expr, zh: bool) -> Expr {
    let n = col("before_round").cast(DataType::String);
    let (same, same_tail, only, only_tail) = if zh {
        (
            format!("；此前 {window} 个月同样有 "),
            " 个月为整数，为企业一贯填报习惯，核查优先级降低",
            format!("；此前 {window} 个月仅 "),
            " 个月为整数：新近改为整数填报",
        )
    } else {
        (
            format!("; the {window} months before: "),
            " round months as well: the enterprise's habit, lower priority",
            format!("; the {window} months before: only "),
            " round: a switch to round figures",
        )
    };
    when(was_round.clone())
        .then(concat_str(
            [lit(same), n.clone(), lit(same_tail)],
            "",
            false,
        ))
        .when(known_before.clone())
        .then(concat_str([lit(only), n, lit(only_tail)], "", false))
        .otherwise(lit(NULL).cast(DataType::String))
}

fn many_revisions(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let In010 { max_revisions: max } = cfg.params()?;
    let rows = ctx
        .table(Table::Industrial)?
        .filter(in_audited_years(ctx))
        .with_column(col("revisions").gt_eq(lit(max)).alias("_fails"));
    let df = ytd_audits(ctx, rows)?.collect().map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            col("revisions").cast(DataType::Float64).alias("value"),
            lit(max as f64).alias("threshold"),
            (col("revisions").cast(DataType::Float64) / lit(max as f64))
                .clip_max(lit(3.0))
                .alias("strength"),
        ],
    )
}
