//! Stage 3 — **grade**: findings to a score and a red / yellow / green grade per
//! enterprise, with monthly dynamic adjustment (风险等级动态调整).
//!
//! ## The score
//!
//! For enterprise *e* in the period under review *p*:
//!
//! ```text
//! S(e) = Σ over e's findings   w(severity) · weight(rule) · strength · recency
//! I(e) = clamp( (size(e) / median size in e's county) ^ impact_exponent,
//!               impact_min, impact_max )
//! H(e) = confirmed_error_points · (confirmed errors in the last confirmed_error_months, at most 3)
//!      − explained_points · (explained outcomes in the last explained_months, at most 3)
//! score(e) = max(0, S(e) · I(e) + H(e))
//! ```
//!
//! `w` is `hard_weight` ≫ `soft_weight` ≫ `info_weight`; `strength` comes from the
//! rule (how far beyond its threshold, 1 = typical); `recency` is 1 for findings
//! about the latest report of their table (the period under review, the annual R&D
//! report, the latest quarter of the labour report) and `earlier_month_weight` for
//! earlier months of the year; size is year-to-date gross output, so the same error ranks higher at a
//! large enterprise, whose figures move the county's totals (selective editing).
//! County-level findings do not enter enterprise scores.
//!
//! ## The grade
//!
//! The month's computed grade is red when the enterprise has a hard finding (unless
//! `hard_makes_red = false`, then at least yellow) or `score ≥ red_min_score`,
//! yellow when `score ≥ yellow_min_score`, else green. The grade held rises at once
//! to the computed grade; it falls one step only after `clean_months_to_step_down`
//! consecutive months whose computed grade is below it (so one quiet month does not
//! clear a red enterprise). The state — grade held and the run of clean months — is
//! written to `grades.parquet` and read back next month (`--previous-grades`); when
//! it is not given, it is rebuilt by grading the `rebuild_months` months before the
//! period from the data itself.

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::load::Batch;
use crate::model::{Month, Table};
use crate::rules::common::{flag, int, num, OverExt};
use crate::rules::Checked;
use crate::settings::Section;

/// The `[grading]` settings.
pub static SETTINGS: Section = Section {
    name: "grading",
    doc: "Scores, grades and their monthly dynamic adjustment",
    settings: &[
        num(
            "hard_weight",
            100.0,
            Some(0.0),
            None,
            "points of a hard finding of strength 1",
        ),
        num(
            "soft_weight",
            10.0,
            Some(0.0),
            None,
            "points of a soft finding of strength 1",
        ),
        num(
            "info_weight",
            0.1,
            Some(0.0),
            None,
            "points of an info finding of strength 1 (routing and attention, no error implied: a tenth of a point, so routing lists alone seldom make an enterprise yellow)",
        ),
        num(
            "earlier_month_weight",
            0.5,
            Some(0.0),
            Some(1.0),
            "weight of findings about earlier months of the year",
        ),
        num(
            "impact_exponent",
            0.5,
            Some(0.0),
            Some(2.0),
            "how strongly size scales the score",
        ),
        num("impact_min", 0.5, Some(0.0), None, "smallest impact factor"),
        num("impact_max", 5.0, Some(0.0), None, "largest impact factor"),
        num(
            "confirmed_error_points",
            10.0,
            Some(0.0),
            None,
            "points per confirmed error in earlier verifications",
        ),
        int(
            "confirmed_error_months",
            12,
            Some(1.0),
            None,
            "months a confirmed error counts",
        ),
        num(
            "explained_points",
            5.0,
            Some(0.0),
            None,
            "points off per 'explained' outcome",
        ),
        int(
            "explained_months",
            3,
            Some(1.0),
            None,
            "months an 'explained' outcome counts",
        ),
        num(
            "red_min_score",
            60.0,
            Some(0.0),
            None,
            "score from which the computed grade is red",
        ),
        num(
            "yellow_min_score",
            5.0,
            Some(0.0),
            None,
            "score from which the computed grade is yellow",
        ),
        flag(
            "hard_makes_red",
            true,
            "a hard finding makes the grade red (false: at least yellow)",
        ),
        int(
            "clean_months_to_step_down",
            3,
            Some(1.0),
            Some(24.0),
            "months below the grade held before it falls one step",
        ),
        int(
            "rebuild_months",
            6,
            Some(0.0),
            Some(24.0),
            "months graded from the data when no previous grades are given (at least back to January; 0 = none)",
        ),
    ],
    check: crate::settings::check::<Grading>,
};

/// The `[grading]` settings, read: one field per key of [`SETTINGS`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    /// Points of a hard finding of strength 1.
    pub hard_weight: f64,
    /// Points of a soft finding of strength 1.
    pub soft_weight: f64,
    /// Points of an info finding of strength 1.
    pub info_weight: f64,
    /// Weight of findings about earlier months of the year.
    pub earlier_month_weight: f64,
    /// How strongly size scales the score.
    pub impact_exponent: f64,
    /// Smallest impact factor.
    pub impact_min: f64,
    /// Largest impact factor.
    pub impact_max: f64,
    /// Points per confirmed error in earlier verifications.
    pub confirmed_error_points: f64,
    /// Months a confirmed error counts.
    pub confirmed_error_months: i64,
    /// Points off per 'explained' outcome.
    pub explained_points: f64,
    /// Months an 'explained' outcome counts.
    pub explained_months: i64,
    /// Score from which the computed grade is red.
    pub red_min_score: f64,
    /// Score from which the computed grade is yellow.
    pub yellow_min_score: f64,
    /// A hard finding makes the grade red (false: at least yellow).
    pub hard_makes_red: bool,
    /// Months below the grade held before it falls one step.
    pub clean_months_to_step_down: i64,
    /// Months graded from the data when no previous grades are given.
    pub rebuild_months: i64,
}

/// A risk grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// Low risk.
    Green,
    /// Medium risk.
    Yellow,
    /// High risk.
    Red,
}

impl Grade {
    /// `green`, `yellow`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Green => "green",
            Grade::Yellow => "yellow",
            Grade::Red => "red",
        }
    }

    /// 绿 / 黄 / 红.
    pub fn zh(self) -> &'static str {
        match self {
            Grade::Green => "绿（低风险）",
            Grade::Yellow => "黄（中风险）",
            Grade::Red => "红（高风险）",
        }
    }

    /// Parses `green`, `yellow`, `red` (or 绿 黄 红).
    pub fn parse(s: &str) -> Option<Grade> {
        match s.trim() {
            "green" | "绿" => Some(Grade::Green),
            "yellow" | "黄" => Some(Grade::Yellow),
            "red" | "红" => Some(Grade::Red),
            _ => None,
        }
    }

    fn down(self) -> Grade {
        match self {
            Grade::Red => Grade::Yellow,
            _ => Grade::Green,
        }
    }
}

/// The state a month's grading leaves for the next: grade held, clean months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Grade held.
    pub grade: Grade,
    /// Consecutive months whose computed grade was below the grade held.
    pub clean_months: u32,
}

/// One month's dynamic adjustment.
pub fn adjust(prev: Option<State>, computed: Grade, step_after: u32) -> State {
    match prev {
        None => State {
            grade: computed,
            clean_months: 0,
        },
        Some(s) if computed >= s.grade => State {
            grade: computed,
            clean_months: 0,
        },
        Some(s) => {
            let clean = s.clean_months + 1;
            if clean >= step_after {
                State {
                    grade: s.grade.down(),
                    clean_months: 0,
                }
            } else {
                State {
                    grade: s.grade,
                    clean_months: clean,
                }
            }
        }
    }
}

fn pe(e: PolarsError) -> Error {
    Error::polars("grade", e)
}

/// Scores every enterprise in scope for the batch's period: `eid`, `score`,
/// `suspicion`, `impact`, `history`, `hard`, `soft`, `info` (finding counts),
/// `computed_grade`.
pub fn score(batch: &Batch, checked: &Checked, s: &Grading) -> Result<DataFrame> {
    score_sized(batch, checked, s, None)
}

/// [`score`], with each enterprise's year-to-date gross output (`eid`, `size`)
/// given (from [`ytd_sizes`]) instead of added up from the industrial table.
pub fn score_sized(
    batch: &Batch,
    checked: &Checked,
    s: &Grading,
    sizes: Option<DataFrame>,
) -> Result<DataFrame> {
    let lf = impact(batch, s, sizes)?
        .join(
            suspicion(&contributions(batch, checked, s)?)?,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("suspicion").fill_null(lit(0.0)),
            col("hard").fill_null(lit(0)).cast(DataType::UInt32),
            col("soft").fill_null(lit(0)).cast(DataType::UInt32),
            col("info").fill_null(lit(0)).cast(DataType::UInt32),
        ])
        .join(
            history(batch, s)?,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        );
    graded(lf, s)
}

/// Each enterprise finding's contribution to its enterprise's suspicion: `eid`,
/// `severity`, `_c` (severity weight × rule weight × strength × recency), in the
/// findings' order. County findings do not enter grades.
fn contributions(batch: &Batch, checked: &Checked, s: &Grading) -> Result<DataFrame> {
    let p = batch.period;
    let this_period = p.to_string();
    // Rules of the quarterly tables, and the latest quarter end up to the period.
    let quarterly: Vec<&str> = crate::rules::FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .filter(|d| d.table == Table::Labor)
        .map(|d| d.code)
        .collect();
    let latest_quarter = p.plus(-((p.month() % 3) as i32)).to_string();
    checked
        .findings
        .clone()
        .lazy()
        .filter(
            col("eid")
                .is_not_null()
                .and(col("level").neq(lit("county"))),
        )
        .with_columns([
            when(col("severity").eq(lit("hard")))
                .then(lit(s.hard_weight))
                .when(col("severity").eq(lit("soft")))
                .then(lit(s.soft_weight))
                .otherwise(lit(s.info_weight))
                .alias("_w"),
            when(
                col("period")
                    .eq(lit(this_period.as_str()))
                    // An annual report (R&D: the latest year) counts in full.
                    .or(col("period").str().len_chars().eq(lit(4)))
                    // So does the latest quarter of a quarterly report (labour).
                    .or(col("rule_code")
                        .is_in(
                            lit(Series::new("q".into(), quarterly.clone())).implode(false),
                            false,
                        )
                        .and(col("period").eq(lit(latest_quarter.as_str())))),
            )
            .then(lit(1.0))
            .otherwise(lit(s.earlier_month_weight))
            .alias("_recency"),
        ])
        .select([
            col("eid"),
            col("severity"),
            (col("_w") * col("weight") * col("strength") * col("_recency")).alias("_c"),
        ])
        .collect()
        .map_err(pe)
}

/// Suspicion and finding counts per enterprise: `eid`, `suspicion`, `hard`,
/// `soft`, `info`. Summed in the findings' own (fixed) order, so that identical
/// runs give identical scores to the last bit.
fn suspicion(f: &DataFrame) -> Result<LazyFrame> {
    let eid = f.column("eid").map_err(pe)?.u32().map_err(pe)?.clone();
    let sev = f.column("severity").map_err(pe)?.str().map_err(pe)?.clone();
    let c = f.column("_c").map_err(pe)?.f64().map_err(pe)?.clone();
    let mut acc: std::collections::BTreeMap<u32, (f64, u32, u32, u32)> =
        std::collections::BTreeMap::new();
    for i in 0..eid.len() {
        let Some(e) = eid.get(i) else { continue };
        let a = acc.entry(e).or_default();
        a.0 += c.get(i).unwrap_or(0.0);
        match sev.get(i) {
            Some("hard") => a.1 += 1,
            Some("soft") => a.2 += 1,
            _ => a.3 += 1,
        }
    }
    let n = acc.len();
    DataFrame::new(
        n,
        vec![
            Column::new("eid".into(), acc.keys().copied().collect::<Vec<u32>>()),
            Column::new(
                "suspicion".into(),
                acc.values().map(|a| a.0).collect::<Vec<f64>>(),
            ),
            Column::new(
                "hard".into(),
                acc.values().map(|a| a.1).collect::<Vec<u32>>(),
            ),
            Column::new(
                "soft".into(),
                acc.values().map(|a| a.2).collect::<Vec<u32>>(),
            ),
            Column::new(
                "info".into(),
                acc.values().map(|a| a.3).collect::<Vec<u32>>(),
            ),
        ],
    )
    .map_err(pe)
    .map(DataFrame::lazy)
}

/// Each month's year-to-date gross output per enterprise (`eid`, `size`) for the
/// months `from..=to`, as [`impact`] adds it up (an enterprise with a row in the
/// year to date, its empty figures counted as nothing), from one month panel of
/// the industrial table instead of a scan per month.
pub fn ytd_sizes(batch: &Batch, from: Month, to: Month) -> Result<Vec<(Month, DataFrame)>> {
    use crate::rules::panel::{MonthCells, Running};
    let Some(_) = batch.table(Table::Industrial) else {
        return Ok(Vec::new());
    };
    let first = from.year_start().0;
    let cells = MonthCells::of(batch, Table::Industrial, "gross_output", first, to.0)?;
    let mut ytd = Running::new(cells.n);
    let mut out = Vec::new();
    for m in first..=to.0 {
        if m.rem_euclid(12) == 0 {
            ytd = Running::new(cells.n);
        }
        ytd.add(&cells, (m - first) as usize);
        if m < from.0 {
            continue;
        }
        let eids: Vec<u32> = (0..cells.n as u32)
            .filter(|&e| ytd.rows[e as usize] > 0)
            .collect();
        let size: Vec<f64> = eids.iter().map(|&e| ytd.sum[e as usize]).collect();
        let df = DataFrame::new(
            eids.len(),
            vec![
                Column::new("eid".into(), eids),
                Column::new("size".into(), size),
            ],
        )
        .map_err(pe)?;
        out.push((Month(m), df));
    }
    Ok(out)
}

/// Size and impact of every enterprise in scope: year-to-date gross output
/// (`size`), and `impact`, its size relative to its county's median.
fn impact(batch: &Batch, s: &Grading, sizes: Option<DataFrame>) -> Result<LazyFrame> {
    let p = batch.period;
    let ents = batch
        .enterprises
        .clone()
        .lazy()
        .filter(col("entry_period").lt_eq(lit(p.0)))
        .select([col("eid"), col("county_code")]);
    let size = match (sizes, batch.table(Table::Industrial)) {
        (Some(sizes), _) => sizes.lazy(),
        (None, Some(ind)) => ind
            .clone()
            .lazy()
            .filter(
                col("period")
                    .gt_eq(lit(p.year_start().0))
                    .and(col("period").lt_eq(lit(p.0))),
            )
            .group_by([col("eid")])
            .agg([col("gross_output").sum().alias("size")]),
        (None, None) => DataFrame::new(
            0,
            vec![
                Column::new_empty("eid".into(), &DataType::UInt32),
                Column::new_empty("size".into(), &DataType::Float64),
            ],
        )
        .map_err(pe)?
        .lazy(),
    };
    let (imin, imax, iexp) = (s.impact_min, s.impact_max, s.impact_exponent);
    Ok(ents
        .join(
            size,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            col("size")
                .filter(col("size").gt(lit(0.0)))
                .median()
                .over_cols(&["county_code"])
                .alias("_county_median"),
        )
        .with_column(
            when(
                col("size")
                    .gt(lit(0.0))
                    .and(col("_county_median").gt(lit(0.0))),
            )
            .then(
                (col("size") / col("_county_median"))
                    .pow(lit(iexp))
                    .clip(lit(imin), lit(imax)),
            )
            .otherwise(lit(1.0))
            .alias("impact"),
        ))
}

/// The score (suspicion × impact + history) and the grade it computes.
fn graded(lf: LazyFrame, s: &Grading) -> Result<DataFrame> {
    let red = s.red_min_score;
    let yellow = s.yellow_min_score;
    let hard_grade = if s.hard_makes_red { "red" } else { "yellow" };
    lf.with_column(col("history").fill_null(lit(0.0)))
        .with_column(
            (col("suspicion") * col("impact") + col("history"))
                .clip_min(lit(0.0))
                .round(4, RoundMode::HalfAwayFromZero)
                .alias("score"),
        )
        .with_column(
            when(col("hard").gt(lit(0)).and(lit(hard_grade == "red")))
                .then(lit("red"))
                .when(col("score").gt_eq(lit(red)))
                .then(lit("red"))
                .when(col("hard").gt(lit(0)).or(col("score").gt_eq(lit(yellow))))
                .then(lit("yellow"))
                .otherwise(lit("green"))
                .alias("computed_grade"),
        )
        .drop(by_name(["_county_median"], true, false))
        .sort(["eid"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)
}

/// Points from earlier verifications: `eid`, `history`, `confirmed`, `explained`.
fn history(batch: &Batch, s: &Grading) -> Result<LazyFrame> {
    let p = batch.period.0;
    let Some(v) = batch.table(Table::Verifications) else {
        return DataFrame::new(
            0,
            vec![
                Column::new_empty("eid".into(), &DataType::UInt32),
                Column::new_empty("history".into(), &DataType::Float64),
                Column::new_empty("confirmed".into(), &DataType::UInt32),
                Column::new_empty("explained".into(), &DataType::UInt32),
            ],
        )
        .map(|d| d.lazy())
        .map_err(pe);
    };
    let cm = s.confirmed_error_months as i32;
    let em = s.explained_months as i32;
    Ok(v.clone()
        .lazy()
        .filter(col("period").lt(lit(p)))
        .group_by([col("eid")])
        .agg([
            (col("outcome")
                .eq(lit("confirmed_error"))
                .and(col("period").gt_eq(lit(p - cm))))
            .sum()
            .cast(DataType::UInt32)
            .alias("confirmed"),
            (col("outcome")
                .eq(lit("explained"))
                .and(col("period").gt_eq(lit(p - em))))
            .sum()
            .cast(DataType::UInt32)
            .alias("explained"),
        ])
        .with_column(
            (col("confirmed").clip_max(lit(3)).cast(DataType::Float64)
                * lit(s.confirmed_error_points)
                - col("explained").clip_max(lit(3)).cast(DataType::Float64)
                    * lit(s.explained_points))
            .alias("history"),
        ))
}

/// Previous state per enterprise id.
pub type StateMap = PlHashMap<u32, State>;

/// Reads the state left by an earlier run's `grades.parquet` for the month before
/// `period`. A file of the same month (a re-run) gives the state it started from.
pub fn read_state(path: &std::path::Path, batch: &Batch) -> Result<StateMap> {
    let err = |m: String| Error::Usage(format!("--previous-grades {}: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| err(e.to_string()))?;
    let need = [
        "uscc",
        "period",
        "grade",
        "clean_months",
        "previous_grade",
        "previous_clean_months",
    ];
    for c in need {
        if df.column(c).is_err() {
            return Err(err(format!(
                "not a zhibao grades.parquet (no column '{c}')"
            )));
        }
    }
    let period_of = |i: usize| -> Option<Month> {
        df.column("period")
            .ok()?
            .str()
            .ok()?
            .get(i)
            .and_then(|s| Month::parse_strict(s).ok())
    };
    let file_period = (0..df.height()).find_map(period_of);
    let p = batch.period;
    let (grade_col, clean_col) = match file_period {
        Some(m) if m == p.plus(-1) => ("grade", "clean_months"),
        Some(m) if m == p => ("previous_grade", "previous_clean_months"),
        Some(m) => {
            return Err(err(format!(
                "the grades are for {m}; the period under review is {p}, so grades for {} (or {p}) are needed",
                p.plus(-1)
            )))
        }
        None => return Ok(StateMap::new()),
    };
    let uscc = df.column("uscc").map_err(pe)?.str().map_err(pe)?.clone();
    let grade = df.column(grade_col).map_err(pe)?.str().map_err(pe)?.clone();
    let clean = df
        .column(clean_col)
        .map_err(pe)?
        .cast(&DataType::UInt32)
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .clone();
    let ids: HashMap<String, u32> = batch
        .uscc_by_eid()
        .into_iter()
        .enumerate()
        .map(|(i, u)| (u, i as u32))
        .collect();
    let mut out = StateMap::new();
    for i in 0..df.height() {
        let (Some(u), Some(g)) = (uscc.get(i), grade.get(i).and_then(Grade::parse)) else {
            continue;
        };
        if let Some(&e) = ids.get(u) {
            out.insert(
                e,
                State {
                    grade: g,
                    clean_months: clean.get(i).unwrap_or(0),
                },
            );
        }
    }
    Ok(out)
}

/// Applies the dynamic adjustment to a month's scores: adds `grade`,
/// `clean_months`, `previous_grade`, `previous_clean_months`.
pub fn apply(scored: DataFrame, prev: &StateMap, s: &Grading) -> Result<DataFrame> {
    let step = s.clean_months_to_step_down as u32;
    let eids = scored.column("eid").map_err(pe)?.u32().map_err(pe)?.clone();
    let computed = scored
        .column("computed_grade")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let n = scored.height();
    let (mut g, mut c, mut pg, mut pc) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (e, comp) in eids.iter().zip(computed.iter()) {
        let e = e.unwrap_or(0);
        let comp = comp.and_then(Grade::parse).unwrap_or(Grade::Green);
        let before = prev.get(&e).copied();
        let st = adjust(before, comp, step);
        g.push(st.grade.as_str());
        c.push(st.clean_months);
        pg.push(before.map(|b| b.grade.as_str()));
        pc.push(before.map(|b| b.clean_months));
    }
    let mut out = scored;
    for col in [
        Column::new("grade".into(), g),
        Column::new("clean_months".into(), c),
        Column::new("previous_grade".into(), pg),
        Column::new("previous_clean_months".into(), pc),
    ] {
        out.with_column(col).map_err(pe)?;
    }
    Ok(out)
}

/// The state after a month's grading, for the next month.
pub fn state_of(graded: &DataFrame) -> Result<StateMap> {
    let eids = graded.column("eid").map_err(pe)?.u32().map_err(pe)?;
    let grade = graded.column("grade").map_err(pe)?.str().map_err(pe)?;
    let clean = graded
        .column("clean_months")
        .map_err(pe)?
        .u32()
        .map_err(pe)?;
    let mut out = StateMap::with_capacity(graded.height());
    for ((e, g), c) in eids.iter().zip(grade.iter()).zip(clean.iter()) {
        if let (Some(e), Some(g)) = (e, g.and_then(Grade::parse)) {
            out.insert(
                e,
                State {
                    grade: g,
                    clean_months: c.unwrap_or(0),
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Grade::*;

    /// The grades held month by month when the computed grades are `months`.
    fn held(months: &[Grade]) -> Vec<Grade> {
        let mut st = None;
        let mut held = Vec::new();
        for &m in months {
            let s = adjust(st, m, 3);
            held.push(s.grade);
            st = Some(s);
        }
        held
    }

    #[test]
    fn rises_at_once_and_falls_one_step_after_three_clean_months() {
        // Six months: red, then five quiet months.
        assert_eq!(
            held(&[Red, Green, Green, Green, Green, Green, Green]),
            vec![Red, Red, Red, Yellow, Yellow, Yellow, Green]
        );
    }

    #[test]
    fn a_relapse_resets_the_run() {
        // The yellow month is still below red, so it counts as clean for red.
        assert_eq!(
            held(&[Red, Green, Green, Yellow, Green, Green, Green]),
            vec![Red, Red, Red, Yellow, Yellow, Yellow, Green]
        );
        assert_eq!(
            held(&[Red, Green, Green, Red, Green, Green, Green]),
            vec![Red, Red, Red, Red, Red, Red, Yellow]
        );
    }

    #[test]
    fn grades_parse_in_both_languages() {
        assert_eq!(Grade::parse("红"), Some(Red));
        assert_eq!(Grade::parse("yellow"), Some(Yellow));
        assert_eq!(Grade::parse("purple"), None);
    }
}
