//! Energy (能源消费, monthly): EN001–EN003, and the key-energy-consumer self-check
//! list (重点用能单位自查名单).

use polars::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::panel::{MonthCells, Running};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::{Error, Result};
use crate::load::Batch;
use crate::model::{Month, Table};

const EVIDENCE_ZH: &str = "请企业提供能源购进、消费与库存台账，电费、燃料发票和计量记录";
const EVIDENCE_EN: &str = "Ask for the energy purchase, consumption and stock ledger, the electricity and fuel invoices and the meter records";

/// EN003's default threshold: twelve months' energy consumption from which an
/// enterprise is a key consumer (tce).
pub const KEY_CONSUMER_MIN_TCE: f64 = 5000.0;

/// The energy rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "EN001",
        title: t("单位产值能耗与同行业不符", "Energy intensity implausible against peers"),
        table: Table::Energy,
        also_needs: &[Table::Industrial],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "本年累计单位产值能耗 {intensity:.4} 吨标准煤/千元（综合能源消费量 {ytd_energy} 吨标准煤，工业总产值 {ytd_gross} 千元），同行业中位数 {peer_median:.4}，稳健 z 值 {value:.1}",
            "Energy intensity this year {intensity:.4} tce per thousand yuan ({ytd_energy} tce over gross output {ytd_gross}); industry median {peer_median:.4}; robust z {value:.1}",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "本年累计综合能源消费量与工业总产值之比（取对数）与同行业小类（不足 10 家时同大类、再全部）企业相比的稳健 z 值超过阈值（默认 3.5）。一年前同样偏离同类（z 值同号且相差不超过 1.5）的，为本企业一贯水平：仍列出，强度乘以 0.25。",
            "Energy consumption over gross output this year (log scale) against the enterprise's industry class (or division, or all, when fewer than 10 peers): robust z beyond a threshold (3.5). When the enterprise stood as far from its peers, on the same side, a year earlier (z within 1.5), the deviation is its own level: still listed, at a quarter of the strength.",
        ),
        why: t("能耗强度远离同行业，说明能源消费量或产值有一项不实，影响能耗双控考核。", "An intensity far from the industry's means the energy figure or the output is wrong; it distorts the energy-intensity targets."),
        example: t("同行业 0.08，本企业 0.95 → 不通过。", "Industry 0.08, this enterprise 0.95 → fails."),
        remedy: t("核对能源台账、计量记录和产值。", "Check the energy ledger, the meters and the output."),
        params: &[
            num("max_abs_z", 3.5, Some(0.0), None, "largest accepted |robust z|"),
            int("min_peers", 20, Some(3.0), None, "smallest peer group: industry class, else division, else all"),
            steady_factor(),
            steady_max_dz(),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(intensity),
    },
    RuleDef {
        code: "EN002",
        title: t("产值增长而用电量下降", "Output up while electricity falls"),
        table: Table::Energy,
        also_needs: &[Table::Industrial],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 工业总产值较上月变动 {output_change:%}，电力消费量变动 {electricity_change:%}（同行业分别为 {peer_output:%}、{peer_electricity:%}）",
            "{period}: gross output changed {output_change:%} on the previous month while electricity changed {electricity_change:%} (industry: {peer_output:%} and {peer_electricity:%})",
        ),
        hint: t(EVIDENCE_ZH, EVIDENCE_EN),
        what: t(
            "与上月相比，工业总产值（扣除同行业变动）上升超过阈值，而电力消费量（扣除同行业变动）下降超过阈值。",
            "Against the previous month, output (net of the industry's change) rises beyond a threshold while electricity (net of the industry's change) falls beyond a threshold.",
        ),
        why: t("生产增加而用电减少在工业企业中很少见，提示产值可能虚增。", "More production on less electricity rarely happens in industry; the output may be inflated."),
        example: t("产值 +60%，用电 −40% → 不通过。", "Output +60%, electricity −40% → fails."),
        remedy: t("核对电费单与生产记录。", "Check the electricity bills against the production records."),
        params: &[
            num("min_output_rise_ratio", 0.25, Some(0.0), None, "rise of output, relative to the industry, that counts"),
            num("min_electricity_fall_ratio", 0.2, Some(0.0), Some(1.0), "fall of electricity, relative to the industry, that counts"),
            int("min_peers", 10, Some(3.0), None, "smallest peer group"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(divergence),
    },
    RuleDef {
        code: "EN003",
        title: t("重点用能单位：年末能耗自查", "Key energy consumer: year-end self-check"),
        table: Table::Energy,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Info,
        message: t(
            "近 12 个月综合能源消费量 {annual_energy} 吨标准煤，达到 {key_consumer_min_tce} 吨，列入重点用能单位自查名单（本期综合能源消费量）",
            "Energy consumption over the last 12 months {annual_energy} tce, at least {key_consumer_min_tce}: on the key energy consumers' self-check list",
        ),
        hint: t(
            "请企业对照能源台账自查本期综合能源消费量，12 月底前报送自查表",
            "The enterprise checks its consumption against its energy ledger and files the self-check form by the end of December",
        ),
        what: t(
            "近 12 个月综合能源消费量达到阈值（默认 5,000 吨标准煤）的企业为重点用能单位；其名单另行输出为 energy_key_consumers.csv，12 月为年度自查名单。",
            "Enterprises consuming at least a threshold (5,000 tce by default) over the last 12 months are key energy consumers; they are also written to energy_key_consumers.csv — in December, the year's self-check list.",
        ),
        why: t("文件要求重点用能单位在 12 月开展本期综合能源消费量自查。", "Key energy consumers self-check their consumption every December."),
        example: t("近 12 个月 7,800 吨标准煤 → 列入名单。", "7,800 tce over 12 months → listed."),
        remedy: t("企业自查并报送自查表。", "The enterprise self-checks and files the form."),
        params: &[num("key_consumer_min_tce", KEY_CONSUMER_MIN_TCE, Some(0.0), None, "energy consumption over 12 months from which an enterprise is a key consumer (tce)")],
        basis: Basis::Figures,
        kind: Kind::Months(key_consumers),
    },
];

/// EN002's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct En002 {
    min_output_rise_ratio: f64,
    min_electricity_fall_ratio: f64,
    min_peers: i64,
}

/// EN003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct En003 {
    key_consumer_min_tce: f64,
}

/// The typed parameters of the energy rules.
pub const PARAMS: &[Typed] = &[
    typed::<PeerZ>("EN001"),
    typed::<En002>("EN002"),
    typed::<En003>("EN003"),
];

fn intensity(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let params: PeerZ = cfg.params()?;
    let max_z = params.max_abs_z;
    let min_peers = params.min_peers as u32;
    let (p, from) = (ctx.period, ctx.from);
    // Over several months, the counts of the last month's audit.
    let mut last_counts = None;
    let df = if from < p && ctx.peers_in_place() {
        // Several months audited at once: every month's intensity, and the
        // same months' a year earlier, in one frame; peers by month.
        let ytd = ytd_intensity(ctx, &[(from.plus(-12), p.plus(-12)), (from, p)])?;
        let z = intensity_z(ctx, ytd, min_peers, true)?
            .with_column(col("value").abs().gt(lit(max_z)).alias("_fails"))
            .collect()
            .map_err(pe)?;
        let last = z
            .clone()
            .lazy()
            .filter(col("period").eq(lit(p.0)))
            .select([col("_fails")])
            .collect()
            .map_err(pe)?;
        let (_, evaluated, not_evaluable) = counts(&last, "_fails")?;
        last_counts = Some((evaluated, not_evaluable));
        let failing = z
            .clone()
            .lazy()
            .filter(ctx.audited(col("period")).and(col("_fails")))
            .collect()
            .map_err(pe)?;
        z_a_year_earlier_onto(failing, &z)?.lazy()
    } else {
        let ytd = ytd_intensity(ctx, &[(p.plus(-12), p.plus(-12)), (p, p)])?
            .collect()
            .map_err(pe)?;
        let at = |m: Month| ytd.clone().lazy().filter(col("period").eq(lit(m.0)));
        let before = intensity_z(&ctx.year_earlier(), at(p.plus(-12)), min_peers, false)?
            .filter(col("value").is_not_null())
            .select([col("eid"), col("value").alias("z_before")]);
        intensity_z(ctx, at(p), min_peers, false)?
            .with_column(col("value").abs().gt(lit(max_z)).alias("_fails"))
            .join(
                before,
                [col("eid")],
                [col("eid")],
                JoinArgs::new(JoinType::Left),
            )
    };
    let df = df
        .with_columns([shown("ytd_energy", 0), shown("ytd_gross", 0)])
        .sort(["period", "eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    let settings = params.steady();
    let mut out = steady_outcome(ctx, &df, settings, month_text(col("period")), max_z)?;
    if let Some((evaluated, not_evaluable)) = last_counts {
        (out.evaluated, out.not_evaluable) = (evaluated, not_evaluable);
        out.of_last_month = true;
    }
    Ok(out)
}

/// The robust z of the year-to-date energy intensity (`value`, from
/// [`ytd_intensity`]'s frame `ytd`) among the enterprise's peers of the same
/// month, with `peer_median`. `by_month`: `ytd` holds several months, and the
/// peers are taken month by month (peer statistics of the context's own data);
/// otherwise it holds the month `ctx.period` alone.
fn intensity_z(ctx: &Ctx<'_>, ytd: LazyFrame, min_peers: u32, by_month: bool) -> Result<LazyFrame> {
    let levels: &[&[&str]] = if by_month {
        &[
            &["period", "industry_code"],
            &["period", "division"],
            &["period"],
        ]
    } else {
        &[&["industry_code"], &["division"], &[]]
    };
    Ok(add_peer_robust_z(
        ctx,
        "EN001",
        with_enterprise(ctx, ytd, &["division", "industry_code"])?,
        col("intensity").log(lit(std::f64::consts::E)),
        levels,
        min_peers,
        "value",
    )?
    .with_column(col("peer_median").exp()))
}

/// The year-to-date energy consumption (`ytd_energy`), gross output
/// (`ytd_gross`) and their ratio (`intensity`) of every enterprise at every month
/// (`period`) of the spans `[a, b]`.
///
/// Each table is laid out once as a month panel ([`MonthCells`]), and the year
/// to date is a running sum of its month columns, restarted each January: any
/// number of months costs one pass, and a month's figures are the same
/// whichever months are asked for. An enterprise is in a month's comparison
/// when both tables have a row in its year to date. The energy total is known
/// only when both totals cover the same months, every one of them known and
/// none quarantined: a total with a month missing understates the intensity by
/// about 1/n.
fn ytd_intensity(ctx: &Ctx<'_>, spans: &[(Month, Month)]) -> Result<LazyFrame> {
    let first = spans
        .iter()
        .map(|s| s.0.year_start().0)
        .min()
        .unwrap_or(ctx.period.0);
    let last = spans.iter().map(|s| s.1 .0).max().unwrap_or(ctx.period.0);
    let n = ctx.batch.enterprises.height();
    let cells = |t: Table, value: &str| MonthCells::of(ctx.batch, t, value, first, last);
    let (e, g) = (
        cells(Table::Energy, "energy_consumption")?,
        cells(Table::Industrial, "gross_output")?,
    );
    let wanted = |m: i32| spans.iter().any(|(a, b)| a.0 <= m && m <= b.0);
    let (mut ye, mut yg) = (Running::new(n), Running::new(n));
    let mut out = YtdRows::default();
    for m in first..=last {
        if m.rem_euclid(12) == 0 {
            ye = Running::new(n);
            yg = Running::new(n);
        }
        let k = (m - first) as usize;
        ye.add(&e, k);
        yg.add(&g, k);
        if !wanted(m) {
            continue;
        }
        for i in 0..n {
            if ye.rows[i] == 0 || yg.rows[i] == 0 {
                continue;
            }
            let complete = ye.known[i] > 0
                && ye.nulls[i] == 0
                && yg.nulls[i] == 0
                && ye.rows[i] == yg.rows[i]
                && ye.quarantined[i] + yg.quarantined[i] == 0;
            let energy = complete.then_some(ye.sum[i]);
            let gross = yg.sum[i];
            out.eid.push(i as u32);
            out.period.push(m);
            out.energy.push(energy);
            out.gross.push(gross);
            out.intensity.push(
                energy
                    .filter(|v| *v > 0.0 && gross > 0.0)
                    .map(|v| v / gross),
            );
        }
    }
    let height = out.eid.len();
    Ok(DataFrame::new(
        height,
        vec![
            Column::new("eid".into(), out.eid),
            Column::new("period".into(), out.period),
            Column::new("ytd_energy".into(), out.energy),
            Column::new("ytd_gross".into(), out.gross),
            Column::new("intensity".into(), out.intensity),
        ],
    )
    .map_err(pe)?
    .lazy())
}

#[derive(Default)]
struct YtdRows {
    eid: Vec<u32>,
    period: Vec<i32>,
    energy: Vec<Option<f64>>,
    gross: Vec<f64>,
    intensity: Vec<Option<f64>>,
}

fn divergence(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let En002 {
        min_output_rise_ratio: rise,
        min_electricity_fall_ratio: fall,
        min_peers,
    } = cfg.params()?;
    let min_peers = min_peers.max(1) as usize;
    let p = ctx.period.0;
    // The months of the years audited (each month's result is the same for every
    // later audit of its year).
    let start = ctx.from.year_start().0;
    // Both tables are sorted by enterprise and month: align them in one pass and
    // take each month's predecessor from the row before.
    let el = Months::read(ctx.table(Table::Energy)?, "electricity", start - 1, p)?;
    let gross = el.align(&Months::read(
        ctx.table(Table::Industrial)?,
        "gross_output",
        start - 1,
        p,
    )?);
    let prev = el.previous();
    let div = divisions(ctx)?;
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => Some(a / b),
        _ => None,
    };
    let rows: Vec<usize> = (0..el.eid.len())
        .filter(|&i| el.period[i] >= start)
        .collect();
    let gr: Vec<Option<f64>> = rows
        .iter()
        .map(|&i| prev[i].and_then(|j| ratio(gross[i], gross[j])))
        .collect();
    let er: Vec<Option<f64>> = rows
        .iter()
        .map(|&i| prev[i].and_then(|j| ratio(el.value[i], el.value[j])))
        .collect();
    // Peers: the division in the same month, or all enterprises that month.
    let fine: Vec<u32> = rows
        .iter()
        .map(|&i| {
            ((el.period[i] - start) as u32) * 100
                + div.get(el.eid[i] as usize).copied().unwrap_or(0)
        })
        .collect();
    let coarse: Vec<u32> = rows
        .iter()
        .map(|&i| (el.period[i] - start) as u32)
        .collect();
    let (mg_f, mg_c, me_f, me_c) = (
        group_medians(&gr, &fine),
        group_medians(&gr, &coarse),
        group_medians(&er, &fine),
        group_medians(&er, &coarse),
    );
    let peer = |f: &std::collections::HashMap<u32, (f64, usize)>,
                c: &std::collections::HashMap<u32, (f64, usize)>,
                k: usize|
     -> Option<f64> {
        match f.get(&fine[k]) {
            Some((m, n)) if *n >= min_peers => Some(*m),
            _ => c.get(&coarse[k]).map(|(m, _)| *m),
        }
    };
    // Counted for the last month's audit: the rows of its year to date.
    let (mut evaluated, mut not_evaluable) = (0u64, 0u64);
    let last_ytd = ctx.period.year_start().0..=ctx.period.0;
    let mut out: Vec<(u32, i32, f64, f64, f64, f64, f64)> = Vec::new();
    for (k, &i) in rows.iter().enumerate() {
        let counted = last_ytd.contains(&el.period[i]);
        let (Some(g), Some(e), Some(pg), Some(pe_)) =
            (gr[k], er[k], peer(&mg_f, &mg_c, k), peer(&me_f, &me_c, k))
        else {
            not_evaluable += counted as u64;
            continue;
        };
        evaluated += counted as u64;
        let (gdev, edev) = (g / pg - 1.0, e / pe_ - 1.0);
        if gdev > rise && edev < -fall {
            out.push((
                el.eid[i],
                el.period[i],
                g - 1.0,
                e - 1.0,
                pg - 1.0,
                pe_ - 1.0,
                gdev - edev,
            ));
        }
    }
    let failures = DataFrame::new(
        out.len(),
        vec![
            Column::new("eid".into(), out.iter().map(|r| r.0).collect::<Vec<_>>()),
            Column::new("period".into(), out.iter().map(|r| r.1).collect::<Vec<_>>()),
            Column::new(
                "output_change".into(),
                out.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "electricity_change".into(),
                out.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "peer_output".into(),
                out.iter().map(|r| r.4).collect::<Vec<_>>(),
            ),
            Column::new(
                "peer_electricity".into(),
                out.iter().map(|r| r.5).collect::<Vec<_>>(),
            ),
            Column::new("value".into(), out.iter().map(|r| r.6).collect::<Vec<_>>()),
        ],
    )
    .map_err(pe)?;
    let failures = ytd_audits(ctx, failures.lazy())?
        .with_columns([
            month_text(col("period")).alias("period"),
            lit(rise + fall).alias("threshold"),
            (col("value") / lit((rise + fall).max(1e-9)))
                .clip(lit(1.0), lit(4.0))
                .alias("strength"),
        ])
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

/// Consumption over the twelve months up to each month `period` from `from` to
/// `to`, per enterprise with an energy row in them: `eid`, `period`,
/// `annual_energy`, `annual_electricity` (sums of the known values), `months`
/// (known energy values), `_some_unknown` (an energy value missing) and
/// `_quarantined` (an energy row quarantined). From month panels
/// ([`MonthCells`]), so one month and many give the same sums.
fn twelve_months(batch: &Batch, from: Month, to: Month) -> Result<DataFrame> {
    let first = from.plus(-11).0;
    let n = batch.enterprises.height();
    let mut energy = MonthCells::new(first, to.0, n);
    let mut electricity = MonthCells::new(first, to.0, n);
    if let Some(df) = batch.table(Table::Energy) {
        energy.add_rows(df, "energy_consumption")?;
        electricity.add_rows(df, "electricity")?;
    }
    energy.add_quarantined(&batch.unknown_keys(Table::Energy))?;
    let mut eid: Vec<u32> = Vec::new();
    let mut period: Vec<i32> = Vec::new();
    let (mut annual, mut annual_el): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut months: Vec<u32> = Vec::new();
    let (mut unknown, mut quarantined): (Vec<bool>, Vec<bool>) = (Vec::new(), Vec::new());
    for m in from.0..=to.0 {
        let (mut e, mut el) = (Running::new(n), Running::new(n));
        for k in (m - 11 - first) as usize..=(m - first) as usize {
            e.add(&energy, k);
            el.add(&electricity, k);
        }
        for i in (0..n).filter(|&i| e.rows[i] > 0) {
            eid.push(i as u32);
            period.push(m);
            annual.push(e.sum[i]);
            annual_el.push(el.sum[i]);
            months.push(e.known[i]);
            unknown.push(e.nulls[i] > 0);
            quarantined.push(e.quarantined[i] > 0);
        }
    }
    DataFrame::new(
        eid.len(),
        vec![
            Column::new("eid".into(), eid),
            Column::new("period".into(), period),
            Column::new("annual_energy".into(), annual),
            Column::new("annual_electricity".into(), annual_el),
            Column::new("months".into(), months),
            Column::new("_some_unknown".into(), unknown),
            Column::new("_quarantined".into(), quarantined),
        ],
    )
    .map_err(pe)
}

/// A sum of figures keyed with decimals, rounded to `places` after six places:
/// summed in binary, a total of 15,970.5 may come out as 15,970.4999…, and a
/// half stays a half whatever the order of the sum.
fn shown(c: &str, places: u32) -> Expr {
    col(c)
        .round(6, RoundMode::HalfAwayFromZero)
        .round(places, RoundMode::HalfAwayFromZero)
}

fn key_consumers(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let En003 {
        key_consumer_min_tce: min,
    } = cfg.params()?;
    // A total over known months is a lower bound: at or above the threshold it
    // lists the enterprise; below it with a month unknown, it cannot tell.
    let df = twelve_months(ctx.batch, ctx.from, ctx.period)?
        .lazy()
        .with_column(
            when(col("annual_energy").gt_eq(lit(min)))
                .then(lit(true))
                .when(col("_some_unknown").or(col("_quarantined")))
                .then(lit(NULL).cast(DataType::Boolean))
                .otherwise(lit(false))
                .alias("_fails"),
        )
        // Each month's total is its own audit's: the last month's rows are
        // those a run of that month counts.
        .with_columns([shown("annual_energy", 1), col("period").alias("at")])
        .collect()
        .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            col("annual_energy").alias("value"),
            lit(min).alias("threshold"),
            lit(1.0).alias("strength"),
        ],
    )
}

/// The key energy consumers' self-check list (`energy_key_consumers.csv`): every
/// enterprise at or above EN003's threshold over the twelve months up to the
/// period, largest first, by the threshold `en003` (EN003 as the pipeline
/// configures it) sets. None when the batch has no energy table.
pub fn key_consumer_list(batch: &Batch, en003: Option<&RuleConfig>) -> Result<Option<DataFrame>> {
    if batch.table(Table::Energy).is_none() {
        return Ok(None);
    }
    // EN003 left out of the pipeline: its default.
    let min = match en003 {
        Some(r) => r.params::<En003>()?.key_consumer_min_tce,
        None => KEY_CONSUMER_MIN_TCE,
    };
    let p = batch.period;
    let ents = batch.enterprises.clone().lazy().select([
        col("eid"),
        col("uscc"),
        col("name"),
        col("county_code"),
        col("industry_code"),
    ]);
    let df = twelve_months(batch, p, p)?
        .lazy()
        .filter(col("annual_energy").gt_eq(lit(min)))
        .join(
            ents,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        // By the total as shown, then the code: totals equal to the shown
        // decimal keep one order whatever the order of their sums.
        .sort_by_exprs(
            [shown("annual_energy", 1), col("uscc")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .with_column(
            col("uscc")
                .cum_count(false)
                .cast(DataType::UInt32)
                .alias("rank"),
        )
        .select([
            col("rank"),
            col("uscc"),
            col("name"),
            col("county_code"),
            col("industry_code"),
            lit(format!("{}..{}", p.plus(-11), p)).alias("months_covered"),
            col("months"),
            shown("annual_energy", 1),
            shown("annual_electricity", 1),
            lit(p.month() == 12).alias("year_end_self_check"),
        ])
        .collect()
        .map_err(|e| Error::polars("report", e))?;
    Ok(Some(df))
}
