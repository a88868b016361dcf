//! Figures not taken from the books (数出无据): series too smooth for their
//! industry (IN011), series identical or proportional across enterprises (IN012),
//! a jump in wage per employee (LB003), and a county whose VAT/output ratio steps
//! down against its own history (TX004).

use polars::prelude::*;
use rayon::prelude::*;

use super::common::*;
use super::config::RuleConfig;
use super::engine::{month_text, Ctx, RuleOutput};
use super::registry::{typed, Basis, Kind, Level, RuleDef, Severity, Typed};
use crate::error::Result;
use crate::model::Table;

/// The rules.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        code: "IN011",
        title: t("产值序列过于平滑", "An output series too smooth for its industry"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "近 {window_months} 个月工业总产值月度变动的标准差 {value:%}，仅为同行业中位数 {peer_spread:%} 的 {share:%}（含春节月份），疑似按趋势推算而非依据台账",
            "Over the last {window_months} months the month-to-month changes of gross output spread by {value:%}, only {share:%} of the industry's median {peer_spread:%} (Spring Festival months included): probably extrapolated rather than taken from the books",
        ),
        hint: t(
            "请企业提供各月产品产量台账、入库单和销售发票，核实各月产值是否据实填报",
            "Ask for the monthly production ledger, warehouse receipts and sales invoices; check each month was reported from the books",
        ),
        what: t(
            "近 12 个月工业总产值逐月对数变动的标准差，低于同行业（大类）企业中位数的一定比例（默认 25%）。",
            "The standard deviation of the month-to-month log changes of gross output over the last 12 months, below a share (25% by default) of the median of the enterprise's industry division.",
        ),
        why: t(
            "真实生产每月都有波动，春节所在月份明显下降；按年度目标平摊或按固定增速推算的数据过于平滑（数出无据）。",
            "Real production varies every month and dips at the Spring Festival; figures spread evenly from a yearly target or a fixed growth rate are too smooth (数出无据).",
        ),
        example: t(
            "同行业月度变动标准差中位数 9%，本企业 1.2% → 不通过。",
            "Industry median spread 9%, this enterprise 1.2% → fails.",
        ),
        remedy: t(
            "企业按月依据统计台账填报；推算的数据逐月更正。",
            "The enterprise reports each month from its ledger; extrapolated months are corrected.",
        ),
        params: &[
            num("max_share", 0.25, Some(0.0), Some(1.0), "largest spread, as a share of the industry's median, that fails"),
            int("window_months", 12, Some(6.0), Some(24.0), "months looked at (all must be reported)"),
            num("min_gross_thousand_yuan", 500.0, Some(0.0), None, "smaller average monthly outputs are not judged (thousand yuan)"),
            int("min_peers", 10, Some(3.0), None, "fewer enterprises in the division: all enterprises are the peers"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(too_smooth),
    },
    RuleDef {
        code: "IN012",
        title: t("企业间产值序列相同或成比例", "Output series identical or proportional across enterprises"),
        table: Table::Industrial,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "近 {window_months} 个月工业总产值与企业 {other_uscc} 的序列成比例（本企业 / 对方 = {value:.4}，各月偏差不超过 {tolerance:%}）",
            "Over the last {window_months} months gross output is proportional to that of enterprise {other_uscc} (this / that = {value:.4}, every month within {tolerance:%})",
        ),
        hint: t(
            "请两家企业分别提供各月产品产量台账和销售发票，核实数据是否由同一人代填或套用",
            "Ask both enterprises for their monthly production ledgers and sales invoices; check whether one person filled in both, or one copied the other",
        ),
        what: t(
            "两家企业近 12 个月的工业总产值逐月之比恒定（完全相同或成固定比例），且序列本身有变动。",
            "Two enterprises whose gross outputs over the last 12 months stand in a constant ratio every month (identical or proportional), the series not being flat.",
        ),
        why: t(
            "不同企业的真实经营不可能逐月同比例变动；这是代填、套用模板编造数据的典型痕迹（数出无据）。",
            "Two real businesses never move in exact proportion month after month; this is the mark of figures filled in by one hand or copied from a template (数出无据).",
        ),
        example: t(
            "企业甲各月产值恰为企业乙的 1.5 倍 → 两家均不通过。",
            "Enterprise A's output is exactly 1.5 × B's every month → both fail.",
        ),
        remedy: t(
            "两家企业依据各自台账重新核实填报。",
            "Both enterprises verify and report again from their own books.",
        ),
        params: &[
            int("window_months", 12, Some(6.0), Some(24.0), "months compared (all must be reported)"),
            num("tolerance", 0.001, Some(0.0), Some(0.1), "largest relative deviation of a month from the constant ratio"),
            num("min_gross_thousand_yuan", 200.0, Some(0.0), None, "smaller average monthly outputs are not compared (thousand yuan)"),
            num("min_variation", 0.05, Some(0.0), None, "series varying less than this (max/min − 1) are left to IN006"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(proportional),
    },
    RuleDef {
        code: "LB003",
        title: t("人均工资跳变", "A jump in wage per employee"),
        table: Table::Labor,
        also_needs: &[],
        level: Level::Enterprise,
        severity: Severity::Soft,
        message: t(
            "{period} 季度人均工资 {avg_wage} 千元，上年同季 {avg_wage_ly} 千元，变动 {change:%}；同类企业中位数 {peer_change:%}，偏离超过 {max_change_ratio:%}",
            "{period}: wage per employee {avg_wage} thousand yuan against {avg_wage_ly} in the same quarter last year, a change of {change:%}; the peers' median is {peer_change:%}, a deviation beyond {max_change_ratio:%}",
        ),
        hint: t(
            "请企业提供两期工资表、花名册和个人所得税代扣代缴明细",
            "Ask for both quarters' payrolls and rosters and the individual income tax withholding records",
        ),
        what: t(
            "季度人均工资（工资总额 / 从业人员）与上年同季相比的变动，扣除同行业（大类）中位数变动后，超过阈值。",
            "Wage per employee (wage bill / headcount) against the same quarter last year, net of the median change of the industry division, beyond a threshold.",
        ),
        why: t(
            "人均工资一年内大幅跳变很少见；多为工资总额或人数一项填错、口径变化或推算。",
            "Wage per employee rarely jumps within a year; usually the wage bill or the headcount is wrong, redefined or estimated.",
        ),
        example: t(
            "上年同季人均 21 千元，本季 36 千元（+71%），同类 +5% → 不通过。",
            "21 in the same quarter last year, 36 now (+71%), peers +5% → fails.",
        ),
        remedy: t("核对工资总额口径和人数。", "Check the wage bill's definition and the headcount."),
        params: &[
            num("max_change_ratio", 0.4, Some(0.0), None, "largest accepted deviation from the peers' median change (0.4 = 40 points)"),
            int("min_employees", 10, Some(1.0), None, "smaller headcounts are not judged"),
            int("min_peers", 10, Some(3.0), None, "fewer enterprises in the division: all enterprises are the peers"),
        ],
        basis: Basis::Figures,
        kind: Kind::Months(wage_jump),
    },
    RuleDef {
        code: "TX004",
        title: t("区县税产比较往年下降", "A county's VAT/output ratio stepping down against its own past"),
        table: Table::Industrial,
        also_needs: &[Table::Tax],
        level: Level::County,
        severity: Severity::Soft,
        message: t(
            "区县 {county_code} 1 月至 {period} 税产比 {value:%}，上年同期 {before:%}，下降 {drop:%}；各区县中位数变动 {peer_change:%}，偏离超过 {max_drop:%}",
            "County {county_code}, January to {period}: VAT/output ratio {value:%} against {before:%} in the same months last year, down {drop:%}; the median county changed {peer_change:%}, a deviation beyond {max_drop:%}",
        ),
        hint: t(
            "对该区县产值增长较快而增值税未同步增长的企业逐户核查",
            "Check the county's enterprises whose output grew faster than their VAT, one by one",
        ),
        what: t(
            "区县本年累计应税销售额与工业总产值之比，较本区县上年同期下降，扣除各区县中位数变动后超过阈值（即使仍高于 90%）。",
            "A county's year-to-date ratio of taxable sales to gross output, against the same months last year, net of the median county's change, falling beyond a threshold — even while above 90%.",
        ),
        why: t(
            "区县整体产值虚增而税收不变时，税产比先相对自身历史下降，后才跌破 90%。",
            "When a county's output is inflated across the board while VAT stays put, its ratio falls against its own past before it falls below 90%.",
        ),
        example: t(
            "上年同期 112%，本年 101%（−10%），各区县中位数 −1% → 不通过。",
            "Last year 112%, this year 101% (−10%), median county −1% → fails.",
        ),
        remedy: t(
            "区县统计局核实产值增长来源，上报整改情况。",
            "The county bureau verifies where the output growth comes from and reports the corrections.",
        ),
        params: &[
            num("max_drop", 0.06, Some(0.0), Some(1.0), "largest accepted fall of the ratio beyond the median county's, relative to last year's"),
            int("min_enterprises", 5, Some(1.0), None, "counties with fewer reporting enterprises are not judged"),
        ],
        basis: Basis::Figures,
        kind: Kind::Builtin(county_step),
    },
];

/// IN011's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In011 {
    max_share: f64,
    window_months: i64,
    min_gross_thousand_yuan: f64,
    min_peers: i64,
}

/// IN012's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct In012 {
    window_months: i64,
    tolerance: f64,
    min_gross_thousand_yuan: f64,
    min_variation: f64,
}

/// LB003's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lb003 {
    max_change_ratio: f64,
    min_employees: i64,
    min_peers: i64,
}

/// TX004's parameters.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tx004 {
    max_drop: f64,
    min_enterprises: i64,
}

/// The typed parameters of the invented rules.
pub const PARAMS: &[Typed] = &[
    typed::<In011>("IN011"),
    typed::<In012>("IN012"),
    typed::<Lb003>("LB003"),
    typed::<Tx004>("TX004"),
];

/// Monthly gross output of every enterprise over the months a run looks at (the
/// `window` months to each audited month), dense: enterprise × month, read
/// straight from the table's columns once for all the audited months.
struct Outputs {
    first: i32,
    width: usize,
    y: Vec<f64>,
}

impl Outputs {
    fn of(ctx: &Ctx<'_>, window: i32) -> Result<Outputs> {
        let first = ctx.from.0 - window + 1;
        let width = (ctx.period.0 - first + 1).max(0) as usize;
        let n = ctx.batch.enterprises.height();
        let mut y = vec![f64::NAN; n * width];
        if let Some(ind) = ctx.batch.table(Table::Industrial) {
            super::panel::each_row(ind, "gross_output", |e, p, g| {
                let k = p - first;
                if let Some(g) = g {
                    if (0..width as i32).contains(&k) && (e as usize) < n {
                        y[e as usize * width + k as usize] = g;
                    }
                }
            })?;
        }
        Ok(Outputs { first, width, y })
    }

    /// The `window` months to month `end` of every enterprise that reported a
    /// positive output in each of them (in enterprise order).
    fn series(&self, end: i32, window: i32) -> Vec<(u32, &[f64])> {
        let w = window as usize;
        let start = (end - window + 1 - self.first) as usize;
        (0..self.y.len() / self.width.max(1))
            .filter_map(|e| {
                let s = &self.y[e * self.width + start..e * self.width + start + w];
                s.iter().all(|v| *v > 0.0).then_some((e as u32, s))
            })
            .collect()
    }
}

/// Each audited month's frame (with `_month`, its month number) stacked: over
/// several months only the failing rows (`_fails` true) are kept, as a run of
/// each month alone would report them.
fn every_month(
    ctx: &Ctx<'_>,
    mut month: impl FnMut(i32) -> Result<DataFrame>,
) -> Result<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for m in ctx.from.0..=ctx.period.0 {
        let mut df = month(m)?;
        let h = df.height();
        df.with_column(Column::new("_month".into(), vec![m; h]))
            .map_err(pe)?;
        // The audit each row is for: the last month keeps every row, for its
        // counts ([`outcome_of`]); the months before it their failures alone.
        df.with_column(Column::new("at".into(), vec![m; h]))
            .map_err(pe)?;
        if m < ctx.period.0 {
            df = keep_true(&df, "_fails")?;
        }
        match all.as_mut() {
            Some(a) => {
                a.vstack_mut(&df).map_err(pe)?;
            }
            None => all = Some(df),
        }
    }
    Ok(all.unwrap_or_default())
}

fn too_smooth(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let In011 {
        max_share,
        window_months,
        min_gross_thousand_yuan: min_gross,
        min_peers,
    } = cfg.params()?;
    let window = window_months as i32;
    let min_peers = min_peers.max(1) as usize;
    let outputs = Outputs::of(ctx, window)?;
    let ents = ctx.enterprises()?;
    let division = ents
        .column("division")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    // Each enterprise's division as a number (a missing division is "", as
    // its text would be).
    let mut numbers: PlHashMap<&str, u32> = PlHashMap::new();
    let divisions: Vec<u32> = division
        .iter()
        .map(|d| {
            let next = numbers.len() as u32;
            *numbers.entry(d.unwrap_or("")).or_insert(next)
        })
        .collect();
    let groups = Groups {
        of: &divisions,
        count: numbers.len(),
    };
    // The months are independent: computed side by side, then stacked in order.
    let frames: Vec<Result<DataFrame>> = (ctx.from.0..=ctx.period.0)
        .into_par_iter()
        .map(|m| {
            smooth_month(
                &outputs.series(m, window),
                groups,
                max_share,
                min_gross,
                min_peers,
            )
        })
        .collect();
    let mut frames = frames.into_iter();
    let df = every_month(ctx, |_| {
        frames.next().unwrap_or_else(|| Ok(DataFrame::empty()))
    })?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("_month")).alias("period"),
            (lit(max_share) * col("peer_spread")).alias("threshold"),
            (col("value") / col("peer_spread")).alias("share"),
            lit(window).alias("window_months"),
            // 1 at the line, up to 5 for a flat series.
            (lit(max_share) * col("peer_spread") / col("value").clip_min(lit(1e-6)))
                .clip(lit(0.2), lit(5.0))
                .alias("strength"),
        ],
    )
}

/// The enterprises' groups: `of[e]` in `0..count`.
#[derive(Clone, Copy)]
struct Groups<'a> {
    of: &'a [u32],
    count: usize,
}

/// IN011 at one month: each series' spread against its division's median.
fn smooth_month(
    rows: &[(u32, &[f64])],
    division: Groups<'_>,
    max_share: f64,
    min_gross: f64,
    min_peers: usize,
) -> Result<DataFrame> {
    // The spread of each series' month-to-month log changes.
    let mut d: Vec<f64> = Vec::new();
    let spread: Vec<(u32, f64, f64)> = rows
        .iter()
        .map(|(e, y)| {
            d.clear();
            d.extend(y.windows(2).map(|w| (w[1] / w[0]).ln()));
            let m = d.iter().sum::<f64>() / d.len() as f64;
            let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (d.len() - 1) as f64).sqrt();
            (*e, sd, y.iter().sum::<f64>() / y.len() as f64)
        })
        .collect();
    let mut by_div: Vec<Vec<f64>> = vec![Vec::new(); division.count];
    let mut all: Vec<f64> = Vec::with_capacity(spread.len());
    for (e, sd, _) in &spread {
        by_div[division.of[*e as usize] as usize].push(*sd);
        all.push(*sd);
    }
    // The upper of the two middle values of an even count.
    let median = |v: &mut Vec<f64>| {
        if v.is_empty() {
            f64::NAN
        } else {
            let k = v.len() / 2;
            *v.select_nth_unstable_by(k, f64::total_cmp).1
        }
    };
    let all_median = median(&mut all);
    let div_median: Vec<Option<f64>> = by_div
        .iter_mut()
        .map(|v| (v.len() >= min_peers).then(|| median(v)))
        .collect();
    let (mut eids, mut values, mut peers, mut fails) = (vec![], vec![], vec![], vec![]);
    for (e, sd, mean) in spread {
        let peer = div_median[division.of[e as usize] as usize].unwrap_or(all_median);
        eids.push(e);
        values.push(sd);
        peers.push(peer);
        fails.push(
            if mean < min_gross || !peer.is_finite() || all.len() < min_peers {
                None
            } else {
                Some(sd < max_share * peer)
            },
        );
    }
    DataFrame::new(
        eids.len(),
        vec![
            Column::new("eid".into(), eids),
            Column::new("value".into(), values),
            Column::new("peer_spread".into(), peers),
            Column::new("_fails".into(), fails),
        ],
    )
    .map_err(pe)
}

fn proportional(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let In012 {
        window_months,
        tolerance: tol,
        min_gross_thousand_yuan: min_gross,
        min_variation: min_var,
    } = cfg.params()?;
    let window = window_months as i32;
    let outputs = Outputs::of(ctx, window)?;
    let uscc = ctx
        .batch
        .enterprises
        .column("uscc")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let (mut eids, mut others, mut values, mut months) = (vec![], vec![], vec![], vec![]);
    let mut evaluated = 0;
    // The months are independent: searched side by side, then taken in order.
    let found: Vec<(i32, usize, Vec<Pair>)> = (ctx.from.0..=ctx.period.0)
        .into_par_iter()
        .map(|m| {
            let (n, pairs) =
                proportional_pairs(&outputs.series(m, window), tol, min_gross, min_var);
            (m, n, pairs)
        })
        .collect();
    for (m, n, pairs) in found {
        evaluated = n;
        for (a, b, r) in pairs {
            for (x, y, v) in [(a, b, r), (b, a, 1.0 / r)] {
                eids.push(x);
                others.push(uscc.get(y as usize).unwrap_or("").to_string());
                values.push(v);
                months.push(m);
            }
        }
    }
    let failures = DataFrame::new(
        eids.len(),
        vec![
            Column::new("eid".into(), eids),
            Column::new("other_uscc".into(), others),
            Column::new("value".into(), values),
            Column::new("_month".into(), months),
        ],
    )
    .map_err(pe)?
    .lazy()
    .with_columns([
        month_text(col("_month")).alias("period"),
        lit(tol).alias("threshold"),
        lit(window).alias("window_months"),
        // Twelve months in a constant ratio do not happen by chance.
        lit(5.0).alias("strength"),
    ])
    .collect()
    .map_err(pe)?;
    Ok(RuleOutput {
        failures,
        // The months are taken in order: the last month's count.
        evaluated: evaluated as u64,
        not_evaluable: 0,
        note: None,
        of_last_month: true,
    })
}

/// How many of a series' shares place it in IN012's grid.
const DIMS: usize = 6;

/// Which cells of IN012's grid hold a series, as bits of a hash of the cell
/// (about sixteen bits to a cell): a clear bit says the cell is empty, a set
/// bit that it may hold one. Asked before the grid itself, which is larger
/// than the caches.
struct Occupied {
    bits: Vec<u64>,
    shift: u32,
}

/// A hash of a cell of IN012's grid.
fn cell_hash(k: &[i64; DIMS]) -> u64 {
    let mut h = 0u64;
    for &x in k {
        h = (h ^ x as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    h.wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

impl Occupied {
    fn new(cells: usize) -> Occupied {
        let n = (cells.max(1) * 16)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 30);
        Occupied {
            bits: vec![0; n / 64],
            shift: 64 - n.trailing_zeros(),
        }
    }

    fn slot(&self, k: &[i64; DIMS]) -> usize {
        (cell_hash(k) >> self.shift) as usize
    }

    fn insert(&mut self, k: &[i64; DIMS]) {
        let s = self.slot(k);
        self.bits[s / 64] |= 1 << (s % 64);
    }

    fn may_hold(&self, k: &[i64; DIMS]) -> bool {
        let s = self.slot(k);
        self.bits[s / 64] >> (s % 64) & 1 == 1
    }
}

/// Two enterprises whose series stand in a constant ratio: the first, the
/// second, and the ratio of the first to the second.
type Pair = (u32, u32, f64);

/// IN012 at one month: how many series were compared, and the pairs in a
/// constant ratio (in order), with the ratio of the first to the second.
fn proportional_pairs(
    rows: &[(u32, &[f64])],
    tol: f64,
    min_gross: f64,
    min_var: f64,
) -> (usize, Vec<(u32, u32, f64)>) {
    // Each series as its shape: the months' shares of its total, side by side
    // in one vector (`w` to a series).
    let w = rows.first().map_or(0, |(_, y)| y.len());
    let mut ents: Vec<(u32, f64)> = Vec::new();
    let mut shares: Vec<f64> = Vec::new();
    for &(e, y) in rows {
        let total: f64 = y.iter().sum();
        let (lo, hi) = y
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        if total / y.len() as f64 >= min_gross && hi / lo - 1.0 >= min_var {
            ents.push((e, total));
            shares.extend(y.iter().map(|x| x / total));
        }
    }
    let shape = |i: usize| &shares[i * w..(i + 1) * w];
    // Candidates share a cell of a grid over the logarithms of the first `dims`
    // shares (cells four tolerances wide). A pair within the tolerance stands at
    // most `reach` of a cell apart on every coordinate, so the partner of a series
    // lies in its cell, or in the neighbouring one on a coordinate where the
    // series stands within `reach` of the cell's edge. Six coordinates leave
    // almost every cell with one series: with three, a million enterprises left
    // many near-alike seasonal series in a cell, each compared with the others.
    let evaluated = ents.len();
    let cell = 4.0 * tol.max(1e-9);
    let reach = -(1.0 - tol.min(0.5)).ln() / cell + 1e-9;
    let dims = w.min(DIMS);
    // Each series' cell, and on each coordinate the side of the cell whose
    // edge it stands near (0: neither), from one logarithm per coordinate.
    let placed: Vec<([i64; DIMS], [i8; DIMS])> = (0..evaluated)
        .into_par_iter()
        .map(|i| {
            let v = shape(i);
            let (mut k, mut side) = ([0i64; DIMS], [0i8; DIMS]);
            for d in 0..dims {
                let pos = v[d].ln() / cell;
                k[d] = pos.floor() as i64;
                let f = pos - k[d] as f64;
                side[d] = if f < reach {
                    -1
                } else if f > 1.0 - reach {
                    1
                } else {
                    0
                };
            }
            (k, side)
        })
        .collect();
    let key = |i: u32| &placed[i as usize].0;
    // The series in the order of their cells' hashes (equal cells side by
    // side): a sort of small records, not of indices into the placings.
    let mut order: Vec<(u64, u32)> = (0..evaluated as u32)
        .map(|i| (cell_hash(key(i)), i))
        .collect();
    order.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| key(a.1).cmp(key(b.1)))
            .then(a.1.cmp(&b.1))
    });
    // Each cell's run of the order.
    let same_cell = |a: (u64, u32), b: (u64, u32)| a.0 == b.0 && key(a.1) == key(b.1);
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut start = 0;
    for end in 1..=order.len() {
        if end == order.len() || !same_cell(order[end], order[start]) {
            runs.push((start as u32, end as u32));
            start = end;
        }
    }
    let mut grid: PlHashMap<[i64; DIMS], (u32, u32)> = PlHashMap::with_capacity(runs.len());
    let mut occupied = Occupied::new(runs.len());
    for &(from, to) in &runs {
        let k = *key(order[from as usize].1);
        occupied.insert(&k);
        grid.insert(k, (from, to));
    }
    let alike = |i: usize, j: usize| {
        shape(i)
            .iter()
            .zip(shape(j))
            .all(|(a, b)| (a - b).abs() <= tol * a.max(*b))
    };
    // The pairs of the series at `p` in the order: with the later series of
    // its own cell (up to `to`), and with the later enterprises of the
    // neighbouring cells it stands near.
    let near = |p: usize, to: usize, pairs: &mut Vec<Pair>| {
        let i = order[p].1 as usize;
        let (ei, ti) = ents[i];
        let pair = |j: usize| {
            let (ej, tj) = ents[j];
            if ei < ej {
                (ei, ej, ti / tj)
            } else {
                (ej, ei, tj / ti)
            }
        };
        for &(_, j) in &order[p + 1..to] {
            if alike(i, j as usize) {
                pairs.push(pair(j as usize));
            }
        }
        // The coordinates where the series stands near its cell's edge, and
        // the neighbour on that side.
        let (k, side) = &placed[i];
        let mut edges = [(0usize, 0i64); DIMS];
        let mut n_edges = 0;
        for (d, &s) in side.iter().enumerate().take(dims) {
            if s != 0 {
                edges[n_edges] = (d, i64::from(s));
                n_edges += 1;
            }
        }
        for mask in 1..1u32 << n_edges {
            let mut c = *k;
            for (b, &(d, step)) in edges[..n_edges].iter().enumerate() {
                if mask >> b & 1 == 1 {
                    c[d] = c[d].wrapping_add(step);
                }
            }
            // Most neighbouring cells are empty: the occupancy bits say so
            // without a probe of the grid.
            if !occupied.may_hold(&c) {
                continue;
            }
            let Some(&(from, to)) = grid.get(&c) else {
                continue;
            };
            for &(_, j) in &order[from as usize..to as usize] {
                if ents[j as usize].0 > ei && alike(i, j as usize) {
                    pairs.push(pair(j as usize));
                }
            }
        }
    };
    let mut pairs: Vec<Pair> = runs
        .par_iter()
        .flat_map_iter(|&(from, to)| {
            let mut pairs = Vec::new();
            for p in from as usize..to as usize {
                near(p, to as usize, &mut pairs);
            }
            pairs
        })
        .collect();
    pairs.sort_by_key(|p| (p.0, p.1));
    (evaluated, pairs)
}

fn wage_jump(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Lb003 {
        max_change_ratio: max_change,
        min_employees: min_emp,
        min_peers,
    } = cfg.params()?;
    let avg = |lf: LazyFrame| {
        lf.with_column(
            when(
                col("employees")
                    .gt_eq(lit(min_emp))
                    .and(col("wage_total").gt(lit(0.0))),
            )
            .then(col("wage_total") / col("employees").cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("avg_wage"),
        )
    };
    let cur = avg(ctx.table(Table::Labor)?.filter(audited_quarters(ctx)));
    let ly = avg(ctx.table(Table::Labor)?).select([
        col("eid"),
        (col("period") + lit(12)).alias("period"),
        col("avg_wage").alias("avg_wage_ly"),
    ]);
    let lf = cur
        .join(
            ly,
            [col("eid"), col("period")],
            [col("eid"), col("period")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column((col("avg_wage") / col("avg_wage_ly") - lit(1.0)).alias("change"));
    let lf = with_enterprise(ctx, lf, &["division"])?;
    // The peers' median change: the division's in the quarter, or all enterprises'.
    let lf = division_or_month_median(lf, "change", min_peers, "peer_change")?
        .with_column((col("change") - col("peer_change")).abs().alias("value"))
        .with_column(col("value").gt(lit(max_change)).alias("_fails"))
        .sort(["eid", "period"], SortMultipleOptions::default());
    let df = quarter_audits(ctx, lf)?.collect().map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(col("period")).alias("period"),
            lit(max_change).alias("threshold"),
            col("avg_wage").round(1, RoundMode::HalfAwayFromZero),
            col("avg_wage_ly").round(1, RoundMode::HalfAwayFromZero),
            excess_strength(col("value") / lit(max_change.max(0.01))).alias("strength"),
        ],
    )
}

fn county_step(ctx: &Ctx<'_>, cfg: &RuleConfig) -> Result<RuleOutput> {
    let Tx004 {
        max_drop,
        min_enterprises,
    } = cfg.params()?;
    let min_ents = min_enterprises as u32;
    // The months of this year whose VAT records are complete, and the same
    // months last year.
    let months = super::tax::ratio_months_of(ctx.batch, ctx.period)?;
    let through = months.iter().copied().max();
    let before: Vec<i32> = months.iter().map(|m| m - 12).collect();
    let totals = |ms: &[i32], suffix: &str| -> Result<LazyFrame> {
        let ind = ctx
            .table(Table::Industrial)?
            .filter(col("period").is_in(i32_list(ms), false))
            .select([col("eid"), col("period"), col("gross_output")]);
        let tax = ctx
            .table(Table::Tax)?
            .filter(col("period").is_in(i32_list(ms), false))
            .select([col("eid"), col("period"), col("taxable_sales")]);
        // Enterprise-months with both figures known: an unknown is not zero.
        let both = join_em(ind, tax).filter(
            col("gross_output")
                .is_not_null()
                .and(col("taxable_sales").is_not_null()),
        );
        Ok(with_enterprise(ctx, both, &["county_code"])?
            .group_by([col("county_code")])
            .agg([
                col("gross_output").sum().alias(format!("_g{suffix}")),
                col("taxable_sales").sum().alias(format!("_t{suffix}")),
                col("eid").n_unique().alias(format!("_n{suffix}")),
            ]))
    };
    let df = totals(&months, "1")?
        .join(
            totals(&before, "0")?,
            [col("county_code")],
            [col("county_code")],
            JoinArgs::new(JoinType::Inner),
        )
        .with_columns([
            (col("_t1") / col("_g1")).alias("value"),
            (col("_t0") / col("_g0")).alias("before"),
        ])
        .with_column((col("value") / col("before") - lit(1.0)).alias("_change"))
        .with_column(col("_change").median().alias("peer_change"))
        .with_column((col("peer_change") - col("_change")).alias("drop"))
        .with_column(
            when(
                col("_n1")
                    .gt_eq(lit(min_ents))
                    .and(col("_n0").gt_eq(lit(min_ents))),
            )
            .then(col("drop").gt(lit(max_drop)))
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("_fails"),
        )
        .sort(["county_code"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)?;
    outcome_of(
        ctx,
        &df,
        [
            month_text(lit(through.unwrap_or(ctx.period.0))).alias("period"),
            lit(max_drop).alias("threshold"),
            (col("drop") / lit(max_drop.max(0.01)))
                .clip(lit(0.2), lit(5.0))
                .alias("strength"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Every pair within the tolerance, by comparing each series with every other.
    fn every_pair(rows: &[(u32, &[f64])], tol: f64, min_gross: f64, min_var: f64) -> Vec<Pair> {
        let kept: Vec<(u32, f64, Vec<f64>)> = rows
            .iter()
            .filter(|(_, y)| {
                let total: f64 = y.iter().sum();
                let (lo, hi) = y
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
                total / y.len() as f64 >= min_gross && hi / lo - 1.0 >= min_var
            })
            .map(|(e, y)| {
                let total: f64 = y.iter().sum();
                (*e, total, y.iter().map(|x| x / total).collect())
            })
            .collect();
        let mut pairs = Vec::new();
        for (a, (ea, ta, sa)) in kept.iter().enumerate() {
            for (eb, tb, sb) in &kept[a + 1..] {
                if sa
                    .iter()
                    .zip(sb)
                    .all(|(x, y)| (x - y).abs() <= tol * x.max(*y))
                {
                    pairs.push((*ea, *eb, ta / tb));
                }
            }
        }
        pairs.sort_by_key(|p| (p.0, p.1));
        pairs
    }

    #[test]
    fn the_grid_finds_every_pair_a_comparison_of_all_pairs_finds() {
        // Seasonal series that differ little, so that many stand in neighbouring
        // cells; some copied from another and scaled, some of the copies moved
        // by just under or just over the tolerance on one month.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let tol = 0.01;
        let mut series: Vec<Vec<f64>> = Vec::new();
        for i in 0..3000 {
            let y: Vec<f64> = if i >= 100 && i % 10 == 0 {
                let src = &series[rng.random_range(0..series.len())];
                let scale = rng.random_range(0.2..5.0);
                let mut y: Vec<f64> = src.iter().map(|v| v * scale).collect();
                let m = rng.random_range(0..12);
                y[m] *= 1.0 + tol * rng.random_range(0.0..2.0);
                y
            } else {
                (0..12)
                    .map(|m| {
                        1000.0
                            * (1.0 + 0.3 * (m as f64 / 2.0).sin())
                            * (1.0 + 0.03 * rng.random_range(-1.0..1.0))
                    })
                    .collect()
            };
            series.push(y);
        }
        let rows: Vec<(u32, &[f64])> = series
            .iter()
            .enumerate()
            .map(|(e, y)| (e as u32, y.as_slice()))
            .collect();
        let want = every_pair(&rows, tol, 0.0, 0.0);
        let (evaluated, got) = proportional_pairs(&rows, tol, 0.0, 0.0);
        assert_eq!(evaluated, rows.len());
        assert!(want.len() > 100, "the test plants pairs: {}", want.len());
        assert_eq!(got, want);
    }
}
