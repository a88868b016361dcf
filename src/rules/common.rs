//! Small pieces the rule families share: parameter declarations, period filters,
//! peer statistics.

use polars::prelude::*;

use super::engine::{Ctx, RuleOutput};
use super::registry::{ParamSpec, Text};
use crate::error::{Error, Result};
pub use crate::settings::{codes, flag, int, months, num};

/// A text in both languages.
pub const fn t(zh: &'static str, en: &'static str) -> Text {
    Text { zh, en }
}

/// Window expressions over named columns.
pub trait OverExt {
    /// `self` computed within the groups of `by` (a non-empty list of columns).
    fn over_cols(self, by: &[&str]) -> Expr;
}

impl OverExt for Expr {
    fn over_cols(self, by: &[&str]) -> Expr {
        let by: Vec<Expr> = by.iter().map(|c| col(*c)).collect();
        // `over` fails only for an empty partition; every caller names a column.
        self.over(by)
            .expect("a window needs at least one partition column")
    }
}

/// Wraps a Polars error of the rule stage.
pub fn pe(e: PolarsError) -> Error {
    Error::polars("rules", e)
}

/// `period` within the year to date of the period under review.
pub fn in_ytd(ctx: &Ctx<'_>) -> Expr {
    col("period")
        .gt_eq(lit(ctx.period.year_start().0))
        .and(col("period").lt_eq(lit(ctx.period.0)))
}

/// The months of the years audited, from January of `Ctx::from`'s year to the
/// period under review: the rows a year-to-date check looks at.
pub fn in_audited_years(ctx: &Ctx<'_>) -> Expr {
    col("period")
        .gt_eq(lit(ctx.from.year_start().0))
        .and(col("period").lt_eq(lit(ctx.period.0)))
}

/// Pairs each row of a year-to-date check (`period`, a month number) with every
/// audited month (`at`) that looks at it: the months of its year from its own
/// month on, within `Ctx::from` to `Ctx::period`. A row's result does not depend
/// on the month auditing it, so it is computed once and repeated.
///
/// Over several months only failing rows (`_fails` true, when the frame has that
/// column) are repeated for the months before the last: a run over several months
/// keeps only their findings. The last month (`Ctx::period`) has every row of its
/// year to date, as a run of that month alone, so its rows checked can be counted
/// ([`outcome_of`]).
pub fn ytd_audits(ctx: &Ctx<'_>, lf: LazyFrame) -> Result<LazyFrame> {
    // The last month audited: every row of its year to date, audited by it.
    let last = lf
        .clone()
        .filter(in_ytd(ctx))
        .with_column(lit(ctx.period.0).alias("at"));
    if ctx.from == ctx.period {
        return Ok(last);
    }
    let mut lf = lf;
    if lf.collect_schema().map_err(pe)?.contains("_fails") {
        lf = lf.filter(col("_fails").fill_null(lit(false)));
    }
    let months: Vec<i32> = (ctx.from.0..=ctx.period.0).collect();
    let years: Vec<i32> = months.iter().map(|m| m.div_euclid(12)).collect();
    let pairs = DataFrame::new(
        months.len(),
        vec![
            Column::new("at".into(), months),
            Column::new("_audit_year".into(), years),
        ],
    )
    .map_err(pe)?;
    let earlier = lf
        .filter(in_audited_years(ctx))
        .with_column(col("period").floor_div(lit(12)).alias("_audit_year"))
        .join(
            pairs.lazy(),
            [col("_audit_year")],
            [col("_audit_year")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col("at")
                .gt_eq(col("period"))
                .and(col("at").lt(lit(ctx.period.0))),
        )
        .drop(by_name(["_audit_year"], true, false));
    concat([earlier, last], UnionArgs::default()).map_err(pe)
}

/// The first month an audit of month `at` (a month-number expression) reviews
/// in a quarterly table: January of its year, or the December before in January
/// and February, when the latest quarterly report is last year's fourth quarter.
pub fn quarter_window_start(at: Expr) -> Expr {
    let moy = month_of_year(at.clone());
    let latest = at.clone() - moy.clone() % lit(3);
    let year_start = at - (moy - lit(1));
    when(latest.clone().lt(year_start.clone()))
        .then(latest)
        .otherwise(year_start)
}

/// The quarter ends of a quarterly table that the months audited review: from
/// [`quarter_window_start`] of `Ctx::from` to `Ctx::period`.
pub fn audited_quarters(ctx: &Ctx<'_>) -> Expr {
    col("period")
        .gt_eq(quarter_window_start(lit(ctx.from.0)))
        .and(col("period").lt_eq(lit(ctx.period.0)))
        .and((month_of_year(col("period")) % lit(3)).eq(lit(0)))
}

/// [`ytd_audits`] for a quarterly table: each quarter-end row paired with every
/// audited month `at` whose window ([`quarter_window_start`]`(at)` to `at`) holds
/// it, so that a January audit reviews last year's fourth quarter.
pub fn quarter_audits(ctx: &Ctx<'_>, lf: LazyFrame) -> Result<LazyFrame> {
    let lf = lf.filter(audited_quarters(ctx));
    // The last month audited: every quarter of its window (see [`ytd_audits`]).
    let last = lf
        .clone()
        .filter(col("period").gt_eq(quarter_window_start(lit(ctx.period.0))))
        .with_column(lit(ctx.period.0).alias("at"));
    if ctx.from == ctx.period {
        return Ok(last);
    }
    let mut lf = lf;
    if lf.collect_schema().map_err(pe)?.contains("_fails") {
        lf = lf.filter(col("_fails").fill_null(lit(false)));
    }
    let months: Vec<i32> = (ctx.from.0..=ctx.period.0).collect();
    let audits = DataFrame::new(months.len(), vec![Column::new("at".into(), months)])
        .map_err(pe)?
        .lazy()
        .with_column(quarter_window_start(col("at")).alias("_qstart"));
    let earlier = lf
        .join(audits, [], [], JoinArgs::new(JoinType::Cross))
        .filter(
            col("period")
                .gt_eq(col("_qstart"))
                .and(col("period").lt_eq(col("at")))
                .and(col("at").lt(lit(ctx.period.0))),
        )
        .drop(by_name(["_qstart"], true, false));
    concat([earlier, last], UnionArgs::default()).map_err(pe)
}

/// The month of the year (1–12) of a month-number expression.
pub fn month_of_year(e: Expr) -> Expr {
    e.clone() - e.floor_div(lit(12)) * lit(12) + lit(1)
}

/// A list of strings as a literal Series for `is_in`.
pub fn str_list(values: &[String]) -> Expr {
    lit(Series::new("list".into(), values.to_vec())).implode(false)
}

/// A list of integers as a literal Series for `is_in`.
pub fn i32_list(values: &[i32]) -> Expr {
    lit(Series::new("list".into(), values.to_vec())).implode(false)
}

/// Counts of a boolean condition column: (true, non-null, null).
pub fn counts(df: &DataFrame, name: &str) -> Result<(u64, u64, u64)> {
    let ca = df.column(name).map_err(pe)?.bool().map_err(pe)?;
    let nulls = ca.null_count() as u64;
    let non_null = ca.len() as u64 - nulls;
    Ok((ca.sum().unwrap_or(0) as u64, non_null, nulls))
}

/// What a rule found, from a frame with a boolean `_fails` column (true: fails,
/// false: passes, null: could not be evaluated): the failing rows with `columns`
/// added, and the counts of rows evaluated and not.
pub fn outcome<E: AsRef<[Expr]>>(df: &DataFrame, columns: E) -> Result<RuleOutput> {
    let (_, evaluated, not_evaluable) = counts(df, "_fails")?;
    let failures = keep_true(df, "_fails")?
        .lazy()
        .with_columns(columns)
        .collect()
        .map_err(pe)?;
    Ok(RuleOutput {
        failures,
        evaluated,
        not_evaluable,
        note: None,
        of_last_month: false,
    })
}

/// [`outcome`] of a rule run by `ctx`: over several months, when the frame says
/// which month audits each row (`at`, every row of the last month's audit there,
/// as [`ytd_audits`] gives them), the rows counted are those of the last month.
pub fn outcome_of<E: AsRef<[Expr]>>(
    ctx: &Ctx<'_>,
    df: &DataFrame,
    columns: E,
) -> Result<RuleOutput> {
    let mut out = outcome(df, columns)?;
    if ctx.from == ctx.period {
        out.of_last_month = true;
    } else if let Some((evaluated, not_evaluable)) = last_month_counts(ctx, df, "_fails")? {
        out.evaluated = evaluated;
        out.not_evaluable = not_evaluable;
        out.of_last_month = true;
    }
    Ok(out)
}

/// Over several months, the rows of a boolean condition column `name` that the
/// last month (`Ctx::period`) audits, by the frame's `at`: (non-null, null). `None`
/// when the frame has no `at`.
pub fn last_month_counts(ctx: &Ctx<'_>, df: &DataFrame, name: &str) -> Result<Option<(u64, u64)>> {
    let Ok(at) = df.column("at") else {
        return Ok(None);
    };
    let at = at.cast(&DataType::Int32).map_err(pe)?;
    let mask = at.i32().map_err(pe)?.equal(ctx.period.0);
    let c = df.column(name).map_err(pe)?.filter(&mask).map_err(pe)?;
    let nulls = c.null_count() as u64;
    Ok(Some((c.len() as u64 - nulls, nulls)))
}

/// Keeps the rows where a boolean column is true.
pub fn keep_true(df: &DataFrame, name: &str) -> Result<DataFrame> {
    let mask = df
        .column(name)
        .map_err(pe)?
        .bool()
        .map_err(pe)?
        .fill_null_with_values(false)
        .map_err(pe)?;
    df.filter(&mask).map_err(pe)
}

/// Adds columns of the enterprise (`division`, `industry_code`, `county_code`,
/// `entry_period`) to a frame with `eid`.
///
/// The enterprise id is the row of the register, so the columns are gathered by
/// position rather than joined.
pub fn with_enterprise(ctx: &Ctx<'_>, lf: LazyFrame, columns: &[&str]) -> Result<LazyFrame> {
    let df = lf.collect().map_err(pe)?;
    let ents = ctx.enterprises()?;
    let eid = df
        .column("eid")
        .map_err(pe)?
        .as_materialized_series()
        .cast(&DataType::UInt32)
        .map_err(pe)?;
    let idx: IdxCa = eid
        .u32()
        .map_err(pe)?
        .iter()
        .map(|v| v.map(|e| e as IdxSize))
        .collect();
    let mut df = df;
    for &name in columns {
        if df.column(name).is_ok() {
            continue;
        }
        let c = ents.column(name).map_err(pe)?.take(&idx).map_err(pe)?;
        df.with_column(c).map_err(pe)?;
    }
    Ok(df.lazy())
}

/// `eid << 32 | period`: one integer per enterprise-month, to join on.
pub fn em_key(eid: Expr, period: Expr) -> Expr {
    (eid.cast(DataType::UInt64) * lit(1u64 << 32))
        + period.cast(DataType::UInt32).cast(DataType::UInt64)
}

/// Left-joins `right` (with `eid` and `period`, `period` shifted as wanted) onto
/// `left` by enterprise-month, keeping `left`'s order.
pub fn join_em(left: LazyFrame, right: LazyFrame) -> LazyFrame {
    let right = right
        .with_column(em_key(col("eid"), col("period")).alias("_em"))
        .drop(by_name(["eid", "period"], true, false));
    left.with_column(em_key(col("eid"), col("period")).alias("_em"))
        .join(right, [col("_em")], [col("_em")], {
            let mut a = JoinArgs::new(JoinType::Left);
            a.maintain_order = MaintainOrderJoin::Left;
            a
        })
        .drop(by_name(["_em"], true, false))
}

/// Adds a robust z-score of `x` within `groups` as column `out`:
/// `0.6745 (x − median) / MAD`; null where the MAD is zero (no spread), the value
/// is missing, or the group has fewer than `min_obs` values.
pub fn add_robust_z(lf: LazyFrame, x: Expr, groups: &[&str], min_obs: u32, out: &str) -> LazyFrame {
    let over = |e: Expr| {
        if groups.is_empty() {
            e
        } else {
            e.over_cols(groups)
        }
    };
    lf.with_column(x.alias("_rz_x"))
        .with_columns([
            over(col("_rz_x").median()).alias("_rz_med"),
            over(col("_rz_x").count()).alias("_rz_n"),
        ])
        .with_column(over((col("_rz_x") - col("_rz_med")).abs().median()).alias("_rz_mad"))
        .with_column(
            when(
                col("_rz_mad")
                    .gt(lit(0.0))
                    .and(col("_rz_n").gt_eq(lit(min_obs))),
            )
            .then(lit(0.6745) * (col("_rz_x") - col("_rz_med")) / col("_rz_mad"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(out),
        )
        .drop(by_name(
            ["_rz_x", "_rz_med", "_rz_n", "_rz_mad"],
            true,
            false,
        ))
}

/// Flags a positive ratio `x` whose logarithm lies more than `max_z` robust
/// z-scores from its peers' (see [`add_peer_robust_z`]): adds the score as
/// `value`, the peers' median of `x` as `peer_median` and `_fails`.
pub fn log_peer_outliers(
    ctx: &Ctx<'_>,
    key: &str,
    lf: LazyFrame,
    x: Expr,
    levels: &[&[&str]],
    min_peers: u32,
    max_z: f64,
) -> Result<LazyFrame> {
    Ok(add_peer_robust_z(
        ctx,
        key,
        lf,
        x.log(lit(std::f64::consts::E)),
        levels,
        min_peers,
        "value",
    )?
    .with_column(col("peer_median").exp())
    .with_column(col("value").abs().gt(lit(max_z)).alias("_fails")))
}

/// A robust z-score against the narrowest peer group that is large enough: the
/// groups are tried in order (e.g. industry class, then division, then all) and the
/// first with at least `min_peers` values gives the score (`out`), with the peers'
/// median of `x` as `peer_median` (in the units of `x`).
///
/// Each level's median, count and MAD per group are a peer statistic of the run
/// (named `key`, the period and the level's columns), so a live answer scores one
/// enterprise's rows against the last full audit's peers
/// ([`Ctx::peer_stat`]).
pub fn add_peer_robust_z(
    ctx: &Ctx<'_>,
    key: &str,
    lf: LazyFrame,
    x: Expr,
    levels: &[&[&str]],
    min_peers: u32,
    out: &str,
) -> Result<LazyFrame> {
    if ctx.peers_in_place() {
        return peer_robust_z_in_place(lf, x, levels, min_peers, out);
    }
    let df = lf.with_column(x.alias("_pz_x")).collect().map_err(pe)?;
    let mut lf = df.clone().lazy();
    let mut z = lit(NULL).cast(DataType::Float64);
    let mut med = lit(NULL).cast(DataType::Float64);
    let mut drop: Vec<String> = vec!["_pz_x".to_string()];
    for (i, groups) in levels.iter().enumerate() {
        let name = |c: &str| format!("_pz_{c}{i}");
        let key = format!("{key}@{}:{}", ctx.period, groups.join(","));
        let stat = match ctx.given_rows(&key, groups, &df) {
            Some(rows) => rows?,
            None => ctx.peer_stat(&key, || {
                let x = col("_pz_x");
                let aggs = [
                    x.clone().median().alias("_m"),
                    x.clone().count().cast(DataType::UInt32).alias("_n"),
                    (x.clone() - x.median()).abs().median().alias("_mad"),
                ];
                let base = df.clone().lazy();
                let g: Vec<Expr> = groups.iter().map(|c| col(*c)).collect();
                let stat = if groups.is_empty() {
                    base.select(aggs)
                } else {
                    base.group_by(g).agg(aggs)
                };
                stat.collect().map_err(pe)
            })?,
        };
        let stat = stat.lazy().rename(
            ["_m", "_n", "_mad"],
            [name("m"), name("n"), name("mad")],
            true,
        );
        lf = if groups.is_empty() {
            lf.join(stat, [], [], JoinArgs::new(JoinType::Cross))
        } else {
            join_stat(lf, stat, groups)
        };
        let zi = when(
            col(name("mad"))
                .gt(lit(0.0))
                .and(col(name("n")).gt_eq(lit(min_peers))),
        )
        .then(lit(0.6745) * (col("_pz_x") - col(name("m"))) / col(name("mad")))
        .otherwise(lit(NULL).cast(DataType::Float64));
        let mi = when(zi.clone().is_not_null())
            .then(col(name("m")))
            .otherwise(lit(NULL).cast(DataType::Float64));
        z = z.fill_null(zi);
        med = med.fill_null(mi);
        drop.extend([name("m"), name("n"), name("mad")]);
    }
    Ok(lf
        .with_columns([z.alias(out), med.alias("peer_median")])
        .drop(by_name(drop, true, false)))
}

/// Column `c` of `df` as floats (`None` where empty), or `None` when a value is
/// NaN or infinite: those order as Polars orders them only in its own medians,
/// so the statistics over group ids leave them to Polars' windows.
fn finite_or_none(df: &DataFrame, c: &str) -> Result<Option<Vec<Option<f64>>>> {
    let xs = f64s(df, c)?;
    Ok((!xs.iter().flatten().any(|v| !v.is_finite())).then_some(xs))
}

/// Column `name` of `df` as floats, `None` where empty.
pub fn f64s(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    Ok(df
        .column(name)
        .map_err(pe)?
        .cast(&DataType::Float64)
        .map_err(pe)?
        .f64()
        .map_err(pe)?
        .iter()
        .collect())
}

/// [`add_peer_robust_z`] of an audit of the whole batch (nothing kept): every
/// row scored against its own groups, the statistics computed over integer
/// group ids ([`groups`](super::groups)) instead of a window over the key
/// columns per statistic. A test
/// (`checks_against_kept_peer_statistics_find_what_the_whole_run_finds`) holds
/// it equal to the kept statistics' way, and a unit test to
/// [`peer_robust_z_windows`] bit for bit.
fn peer_robust_z_in_place(
    lf: LazyFrame,
    x: Expr,
    levels: &[&[&str]],
    min_peers: u32,
    out: &str,
) -> Result<LazyFrame> {
    use super::groups::{stats, Coder};
    let mut df = lf.with_column(x.alias("_pz_x")).collect().map_err(pe)?;
    let Some(xs) = finite_or_none(&df, "_pz_x")? else {
        return Ok(peer_robust_z_windows(
            df.lazy(),
            col("_pz_x"),
            levels,
            min_peers,
            out,
        ));
    };
    df.drop_in_place("_pz_x").map_err(pe)?;
    let n = df.height();
    let (mut z, mut med) = (vec![None::<f64>; n], vec![None::<f64>; n]);
    let mut coder = Coder::new(&df);
    for by in levels {
        let (ids, groups) = coder.ids(by)?;
        let s = stats(&xs, &ids, groups, true);
        for r in 0..n {
            let (Some(x), None) = (xs[r], z[r]) else {
                continue;
            };
            let g = ids[r] as usize;
            if let (Some(m), Some(mad)) = (s.median[g], s.mad[g]) {
                if mad > 0.0 && s.count[g] >= min_peers {
                    z[r] = Some(0.6745 * (x - m) / mad);
                    med[r] = Some(m);
                }
            }
        }
    }
    drop(coder);
    df.with_column(Column::new(out.into(), z)).map_err(pe)?;
    df.with_column(Column::new("peer_median".into(), med))
        .map_err(pe)?;
    Ok(df.lazy())
}

/// [`add_peer_robust_z`] of an audit of the whole batch over windows of the
/// groups: [`peer_robust_z_in_place`] with Polars' own medians, for values that
/// are not all finite.
fn peer_robust_z_windows(
    lf: LazyFrame,
    x: Expr,
    levels: &[&[&str]],
    min_peers: u32,
    out: &str,
) -> LazyFrame {
    let over = |e: Expr, groups: &[&str]| {
        if groups.is_empty() {
            e
        } else {
            e.over_cols(groups)
        }
    };
    let name = |c: &str, i: usize| format!("_pz_{c}{i}");
    let x_col = || col("_pz_x");
    // Every level's median and count side by side, then every level's MAD: the
    // windows of one step run together, and each median is computed once (the
    // peer median shown is the one the score is taken from).
    let medians: Vec<Expr> = levels
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            [
                over(x_col().median(), g).alias(name("m", i)),
                over(x_col().count(), g).alias(name("n", i)),
            ]
        })
        .collect();
    let mads: Vec<Expr> = levels
        .iter()
        .enumerate()
        .map(|(i, g)| over((x_col() - col(name("m", i))).abs().median(), g).alias(name("mad", i)))
        .collect();
    let mut z = lit(NULL).cast(DataType::Float64);
    let mut med = lit(NULL).cast(DataType::Float64);
    for i in 0..levels.len() {
        let zi = when(
            col(name("mad", i))
                .gt(lit(0.0))
                .and(col(name("n", i)).gt_eq(lit(min_peers))),
        )
        .then(lit(0.6745) * (x_col() - col(name("m", i))) / col(name("mad", i)))
        .otherwise(lit(NULL).cast(DataType::Float64));
        let mi = when(zi.clone().is_not_null())
            .then(col(name("m", i)))
            .otherwise(lit(NULL).cast(DataType::Float64));
        z = z.fill_null(zi);
        med = med.fill_null(mi);
    }
    let drop: Vec<String> = (0..levels.len())
        .flat_map(|i| [name("m", i), name("n", i), name("mad", i)])
        .chain(["_pz_x".to_string()])
        .collect();
    lf.with_column(x.alias("_pz_x"))
        .with_columns(medians)
        .with_columns(mads)
        .with_columns([z.alias(out), med.alias("peer_median")])
        .drop(by_name(drop, true, false))
}

/// The peers' median of `x` for every row of `lf`, as `out`: the median of its
/// division in its month (`division`, `period`) when that has at least
/// `min_peers` known values, else the median of all rows of its month. Over
/// integer group ids ([`groups`](super::groups)); Polars' windows
/// ([`division_or_month_median_windows`]) when the values are not all finite.
pub fn division_or_month_median(
    lf: LazyFrame,
    x: &str,
    min_peers: i64,
    out: &str,
) -> Result<LazyFrame> {
    use super::groups::{stats, Coder};
    let mut df = lf.collect().map_err(pe)?;
    let Some(xs) = finite_or_none(&df, x)? else {
        return Ok(division_or_month_median_windows(
            df.lazy(),
            x,
            min_peers,
            out,
        ));
    };
    let mut coder = Coder::new(&df);
    let (div, n_div) = coder.ids(&["division", "period"])?;
    let (all, n_all) = coder.ids(&["period"])?;
    let (div_s, all_s) = (
        stats(&xs, &div, n_div, false),
        stats(&xs, &all, n_all, false),
    );
    let peer: Vec<Option<f64>> = div
        .iter()
        .zip(&all)
        .map(|(&d, &a)| {
            if i64::from(div_s.count[d as usize]) >= min_peers {
                div_s.median[d as usize]
            } else {
                all_s.median[a as usize]
            }
        })
        .collect();
    df.with_column(Column::new(out.into(), peer)).map_err(pe)?;
    Ok(df.lazy())
}

/// [`division_or_month_median`] over Polars' windows; a unit test holds the
/// two equal bit for bit.
pub fn division_or_month_median_windows(
    lf: LazyFrame,
    x: &str,
    min_peers: i64,
    out: &str,
) -> LazyFrame {
    lf.with_columns([
        col(x)
            .median()
            .over_cols(&["division", "period"])
            .alias("_med_div"),
        col(x)
            .count()
            .over_cols(&["division", "period"])
            .alias("_n_div"),
        col(x).median().over_cols(&["period"]).alias("_med_all"),
    ])
    .with_column(
        when(col("_n_div").gt_eq(lit(min_peers)))
            .then(col("_med_div"))
            .otherwise(col("_med_all"))
            .alias(out),
    )
    .drop(by_name(["_med_div", "_n_div", "_med_all"], true, false))
}

/// `lf` with the columns of a peer statistic `stat` (one row per group) joined on
/// the group columns `on` (a left join that keeps `lf`'s order; null keys
/// match). A live answer's few rows meet only their groups' rows of a kept
/// statistic ([`Ctx::given_rows`]).
pub fn join_stat(lf: LazyFrame, stat: LazyFrame, on: &[&str]) -> LazyFrame {
    let keys: Vec<Expr> = on.iter().map(|c| col(*c)).collect();
    let mut a = JoinArgs::new(JoinType::Left);
    a.nulls_equal = true;
    a.maintain_order = MaintainOrderJoin::Left;
    lf.join(stat, keys.clone(), keys, a)
}

/// Strength of a statistical finding from how far it lies beyond its threshold
/// (`ratio` = distance / threshold distance, ≥ 1 for a finding): 0.5 just beyond
/// it, 1 at one and a half times, at most 4. Marginal outliers — the ones chance
/// produces — weigh half a typical finding.
pub fn excess_strength(ratio: Expr) -> Expr {
    (ratio - lit(0.5)).clip(lit(0.5), lit(4.0))
}

/// Parameter `steady_factor` of a peer comparison judged against the
/// enterprise's own past (see [`steady`]).
pub const fn steady_factor() -> ParamSpec {
    num(
        "steady_factor",
        0.1,
        Some(0.0),
        Some(1.0),
        "strength multiplier when the enterprise stood as far from its peers a year earlier (its own level, not a new error); 1 turns the comparison off",
    )
}

/// Parameter `steady_max_dz` (see [`steady`]).
pub const fn steady_max_dz() -> ParamSpec {
    num(
        "steady_max_dz",
        1.5,
        Some(0.0),
        None,
        "largest change of the robust z since a year earlier for the position to count as the enterprise's own level",
    )
}

/// The settings of [`steady`]: a peer rule's parameters `steady_factor` and
/// `steady_max_dz`.
#[derive(Clone, Copy, Debug)]
pub struct Steady {
    /// Strength multiplier of a position held a year earlier.
    pub factor: f64,
    /// Largest change of the robust z for the position to count as held.
    pub max_dz: f64,
}

/// The parameters of a rule that compares a figure with its peers' by a robust
/// z and damps a position held a year earlier ([`steady`]): EN001, LB001,
/// RD006, SV002.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerZ {
    /// A larger |robust z| fails.
    pub max_abs_z: f64,
    /// Fewer peers: the next, wider group.
    pub min_peers: i64,
    /// See [`Steady::factor`].
    pub steady_factor: f64,
    /// See [`Steady::max_dz`].
    pub steady_max_dz: f64,
}

impl PeerZ {
    /// The settings of [`steady`].
    pub fn steady(&self) -> Steady {
        Steady {
            factor: self.steady_factor,
            max_dz: self.steady_max_dz,
        }
    }
}

/// A comparison with peers set against the same comparison a year earlier.
///
/// `z` is the robust z now, `z_before` the enterprise's robust z among its peers
/// a year earlier (null when unknown). An enterprise that stood as far from its
/// peers, on the same side, a year earlier (`|z − z_before| ≤ steady_max_dz`)
/// shows its own level (a high-paying employer, an energy-hungry process, a
/// research-heavy firm) rather than a new wrong figure, which shows as a change:
/// the finding's `strength` is multiplied by `steady_factor` and its message
/// says so (`remark`, `remark_en`). A systematic misreporting is still listed,
/// below the findings that changed.
///
/// Returns the expressions for `strength`, `remark` and `remark_en`.
pub fn steady(settings: Steady, z: Expr, z_before: Expr, strength: Expr) -> [Expr; 3] {
    let Steady { factor, max_dz } = settings;
    let is = z_before
        .clone()
        .is_not_null()
        .and((z.clone() * z_before.clone()).gt(lit(0.0)))
        .and((z - z_before.clone()).abs().lt_eq(lit(max_dz)))
        .and(lit(factor < 1.0));
    let zb = z_before
        .round(1, RoundMode::HalfAwayFromZero)
        .cast(DataType::String);
    let remark = |pre: &str, post: &str| {
        when(is.clone())
            .then(concat_str([lit(pre), zb.clone(), lit(post)], "", false))
            .otherwise(lit(NULL).cast(DataType::String))
    };
    [
        when(is.clone())
            .then(strength.clone() * lit(factor))
            .otherwise(strength)
            .alias("strength"),
        remark(
            "；一年前同样偏离同类（稳健 z 值 ",
            "），为本企业一贯水平，核查优先级降低",
        )
        .alias("remark"),
        remark(
            "; a year earlier it stood as far from its peers (robust z ",
            "): the enterprise's own level, lower priority",
        )
        .alias("remark_en"),
    ]
}

/// Adds `z_before`: the robust z (`value`) of the same enterprise twelve months
/// earlier, from the same frame (see [`steady`]).
pub fn with_z_a_year_earlier(lf: LazyFrame) -> Result<LazyFrame> {
    let df = lf.collect().map_err(pe)?;
    Ok(z_a_year_earlier_onto(df.clone(), &df)?.lazy())
}

/// Adds `z_before` to the rows of `left`: the robust z (`value`) of the same
/// enterprise twelve months earlier among the rows of `all` (both with `eid`
/// and `period`), as a left join by enterprise-month would, `left`'s order
/// kept. Looked up in a dense enterprise × month grid of `all`'s rows; by the
/// join itself when the grid would be sparse, a key repeats in `all`, or the
/// columns are not of the loaded types.
pub fn z_a_year_earlier_onto(left: DataFrame, all: &DataFrame) -> Result<DataFrame> {
    let by_join = |left: DataFrame| {
        let before = all.clone().lazy().select([
            col("eid"),
            (col("period") + lit(12)).alias("period"),
            col("value").alias("z_before"),
        ]);
        join_em(left.lazy(), before).collect().map_err(pe)
    };
    let typed = |df: &DataFrame| {
        df.column("eid")
            .is_ok_and(|c| c.dtype() == &DataType::UInt32)
            && df
                .column("period")
                .is_ok_and(|c| c.dtype() == &DataType::Int32)
    };
    let value_f64 = all
        .column("value")
        .is_ok_and(|c| c.dtype() == &DataType::Float64);
    if !(typed(&left) && typed(all) && value_f64) {
        return by_join(left);
    }
    // Each row's enterprise and month.
    type Keys = (Vec<Option<u32>>, Vec<Option<i32>>);
    let keys = |df: &DataFrame| -> Result<Keys> {
        Ok((
            df.column("eid")
                .map_err(pe)?
                .u32()
                .map_err(pe)?
                .iter()
                .collect(),
            df.column("period")
                .map_err(pe)?
                .i32()
                .map_err(pe)?
                .iter()
                .collect(),
        ))
    };
    let (ae, ap) = keys(all)?;
    let known = || ae.iter().zip(&ap).filter_map(|(e, p)| Some(((*e)?, (*p)?)));
    let (Some(max_e), Some(min_p), Some(max_p)) = (
        known().map(|k| k.0).max(),
        known().map(|k| k.1).min(),
        known().map(|k| k.1).max(),
    ) else {
        return by_join(left);
    };
    let (n, width) = (max_e as u64 + 1, (max_p as i64 - min_p as i64 + 1) as u64);
    if n * width > (all.height() as u64).max(1 << 16) * 4 {
        return by_join(left);
    }
    // Row of `all` + 1 at each enterprise-month, 0 where none.
    let mut grid = vec![0u32; (n * width) as usize];
    for (r, (e, p)) in ae.iter().zip(&ap).enumerate() {
        let (Some(e), Some(p)) = (e, p) else { continue };
        let cell = &mut grid[(p - min_p) as usize * n as usize + *e as usize];
        if *cell != 0 {
            return by_join(left);
        }
        *cell = r as u32 + 1;
    }
    let values = all
        .column("value")
        .map_err(pe)?
        .f64()
        .map_err(pe)?
        .rechunk();
    let (le, lp) = keys(&left)?;
    let before: Float64Chunked = le
        .iter()
        .zip(&lp)
        .map(|(e, p)| {
            let (e, p) = ((*e)? as u64, (*p)?.checked_sub(12)?);
            if e >= n || p < min_p || p > max_p {
                return None;
            }
            match grid[(p - min_p) as usize * n as usize + e as usize] {
                0 => None,
                r => values.get(r as usize - 1),
            }
        })
        .collect();
    let mut left = left;
    left.with_column(before.with_name("z_before".into()).into_column())
        .map_err(pe)?;
    Ok(left)
}

/// The outcome of a comparison with peers (`value` the robust z, `z_before` the
/// same a year earlier, `_fails`): its findings with `period`, the threshold, and
/// the strength and remark of [`steady`].
pub fn steady_outcome(
    ctx: &Ctx<'_>,
    df: &DataFrame,
    settings: Steady,
    period: Expr,
    max_z: f64,
) -> Result<RuleOutput> {
    let [strength, remark, remark_en] = steady(
        settings,
        col("value"),
        col("z_before"),
        excess_strength(col("value").abs() / lit(max_z)),
    );
    outcome_of(
        ctx,
        df,
        [
            period.alias("period"),
            lit(max_z).alias("threshold"),
            strength,
            remark,
            remark_en,
        ],
    )
}

/// [`excess_strength`] for one value.
pub fn excess(ratio: f64) -> f64 {
    (ratio - 0.5).clamp(0.5, 4.0)
}

/// Columns of a month-keyed table, sorted by enterprise and month.
pub struct Months {
    /// Enterprise ids.
    pub eid: Vec<u32>,
    /// Month numbers.
    pub period: Vec<i32>,
    /// The values.
    pub value: Vec<Option<f64>>,
}

impl Months {
    /// Reads `value` of a table within `[from, to]`, sorted by enterprise and month.
    pub fn read(lf: LazyFrame, value: &str, from: i32, to: i32) -> Result<Months> {
        let df = lf
            .filter(
                col("period")
                    .gt_eq(lit(from))
                    .and(col("period").lt_eq(lit(to))),
            )
            .select([
                col("eid"),
                col("period"),
                col(value).cast(DataType::Float64),
            ])
            .collect()
            .map_err(pe)?;
        let df = crate::load::sort_by_key(df, crate::model::Table::Industrial)?;
        Ok(Months {
            eid: df
                .column("eid")
                .map_err(pe)?
                .u32()
                .map_err(pe)?
                .iter()
                .map(|v| v.unwrap_or(u32::MAX))
                .collect(),
            period: df
                .column("period")
                .map_err(pe)?
                .i32()
                .map_err(pe)?
                .iter()
                .map(|v| v.unwrap_or(i32::MIN))
                .collect(),
            value: df
                .column(value)
                .map_err(pe)?
                .f64()
                .map_err(pe)?
                .iter()
                .collect(),
        })
    }

    /// `other`'s value for each of this frame's rows (same enterprise and month),
    /// by one merging pass over the two sorted frames.
    pub fn align(&self, other: &Months) -> Vec<Option<f64>> {
        let mut out = Vec::with_capacity(self.eid.len());
        let mut j = 0usize;
        for i in 0..self.eid.len() {
            let k = (self.eid[i], self.period[i]);
            while j < other.eid.len() && (other.eid[j], other.period[j]) < k {
                j += 1;
            }
            out.push(
                if j < other.eid.len() && (other.eid[j], other.period[j]) == k {
                    other.value[j]
                } else {
                    None
                },
            );
        }
        out
    }

    /// For each row, the row of the same enterprise's previous month, if present.
    pub fn previous(&self) -> Vec<Option<usize>> {
        (0..self.eid.len())
            .map(|i| {
                (i > 0
                    && self.eid[i - 1] == self.eid[i]
                    && self.period[i - 1] + 1 == self.period[i])
                    .then(|| i - 1)
            })
            .collect()
    }
}

/// The median of the values of each group, the group's count with it.
pub fn group_medians(
    values: &[Option<f64>],
    group: &[u32],
) -> std::collections::HashMap<u32, (f64, usize)> {
    let mut by: PlHashMap<u32, Vec<f64>> = PlHashMap::new();
    for (v, g) in values.iter().zip(group) {
        if let Some(v) = v.filter(|x| x.is_finite()) {
            by.entry(*g).or_default().push(v);
        }
    }
    by.into_iter()
        .map(|(g, mut v)| {
            let n = v.len();
            (g, (crate::detect::quantile::median_unsorted(&mut v), n))
        })
        .collect()
}

/// Each enterprise's industry division as a number (first two digits), by id.
pub fn divisions(ctx: &Ctx<'_>) -> Result<Vec<u32>> {
    let e = ctx.enterprises()?;
    Ok(e.column("division")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .iter()
        .map(|d| d.and_then(|d| d.parse().ok()).unwrap_or(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The z a year earlier looked up in the grid equals the join by
    /// enterprise-month: months without a row a year before, unknown values,
    /// rows without an enterprise or a month, the left rows in their own order;
    /// and with a key repeated (where the join repeats rows) it is the join.
    #[test]
    fn z_a_year_earlier_by_lookup_equals_the_join() {
        let by_join = |left: &DataFrame, all: &DataFrame| {
            let before = all.clone().lazy().select([
                col("eid"),
                (col("period") + lit(12)).alias("period"),
                col("value").alias("z_before"),
            ]);
            join_em(left.clone().lazy(), before).collect().unwrap()
        };
        let all = df!(
            "eid" => [Some(3u32), Some(0), Some(3), Some(1), None, Some(0), Some(1), Some(2)],
            "period" => [Some(24290i32), Some(24290), Some(24302), Some(24291), Some(24302), Some(24302), Some(24303), None],
            "value" => [Some(1.5f64), None, Some(-2.0), Some(4.0), Some(9.0), Some(0.25), Some(-0.0), Some(7.0)],
        )
        .unwrap();
        let left = all.slice(2, 6);
        let looked = z_a_year_earlier_onto(left.clone(), &all).unwrap();
        assert!(looked.equals_missing(&by_join(&left, &all)));
        let z: Vec<Option<f64>> = looked
            .column("z_before")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(z, vec![Some(1.5), None, None, None, Some(4.0), None]);
        let repeated = all.vstack(&all.slice(0, 1)).unwrap();
        let looked = z_a_year_earlier_onto(left.clone(), &repeated).unwrap();
        assert_eq!(looked.height(), 7);
        assert!(looked.equals_missing(&by_join(&left, &repeated)));
    }

    /// The robust z of a whole-batch audit over integer group ids equals the
    /// one over Polars' windows bit for bit: text keys with nulls, months, small
    /// groups, groups of equal values (MAD 0), unknown values and ties.
    #[test]
    fn peer_scores_over_group_ids_equal_the_windows() {
        let n = 5000;
        let df = super::super::groups::peer_frame(n, 11);
        let levels: &[&[&str]] = &[
            &["period", "industry_code"],
            &["period", "division"],
            &["period"],
        ];
        for min_peers in [1, 5, 40] {
            let fast =
                peer_robust_z_in_place(df.clone().lazy(), col("x"), levels, min_peers, "value")
                    .unwrap()
                    .collect()
                    .unwrap();
            let slow =
                peer_robust_z_windows(df.clone().lazy(), col("x"), levels, min_peers, "value")
                    .collect()
                    .unwrap();
            assert_eq!(fast.get_column_names(), slow.get_column_names());
            for c in ["value", "peer_median"] {
                let what = format!("min_peers {min_peers}");
                super::super::groups::assert_same_bits(&fast, &slow, c, &what);
            }
            let scored = fast
                .column("value")
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .flatten()
                .count();
            assert!(scored > n / 2, "{scored} scored of {n}");
        }
    }

    /// The peer medians of a whole-batch audit over integer group ids equal
    /// those over Polars' windows bit for bit (text keys with nulls, ties,
    /// divisions too small, unknown values).
    #[test]
    fn division_medians_over_group_ids_equal_the_windows() {
        let df = super::super::groups::peer_frame(4000, 5);
        // 1: the lone division's one value is enough at `>=`, not at `>`.
        for min_peers in [0, 1, 3, 200, 900] {
            let fast = division_or_month_median(df.clone().lazy(), "x", min_peers, "peer")
                .unwrap()
                .collect()
                .unwrap();
            let slow = division_or_month_median_windows(df.clone().lazy(), "x", min_peers, "peer")
                .collect()
                .unwrap();
            assert_eq!(fast.get_column_names(), slow.get_column_names());
            let what = format!("min_peers {min_peers}");
            super::super::groups::assert_same_bits(&fast, &slow, "peer", &what);
        }
    }

    /// A position held a year earlier damps the finding and says so; a new one,
    /// one on the other side, or one that moved further does not.
    #[test]
    fn a_peer_position_held_a_year_earlier_is_the_enterprises_own_level() {
        let settings = Steady {
            factor: 0.1,
            max_dz: 1.5,
        };
        let df = df!(
            "value" => [-4.0, -4.0, -4.0, 4.0, -4.0],
            "z_before" => [Some(-3.6), None, Some(-1.0), Some(-4.0), Some(-2.6)],
        )
        .unwrap();
        let [strength, remark, remark_en] =
            steady(settings, col("value"), col("z_before"), lit(1.0));
        let out = df
            .lazy()
            .select([strength, remark, remark_en])
            .collect()
            .unwrap();
        let s: Vec<f64> = out
            .column("strength")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(s, [0.1, 1.0, 1.0, 1.0, 0.1]);
        let r = out.column("remark").unwrap().str().unwrap();
        assert_eq!(
            r.get(0),
            Some("；一年前同样偏离同类（稳健 z 值 -3.6），为本企业一贯水平，核查优先级降低")
        );
        assert_eq!(r.get(1), None);
        assert_eq!(r.get(3), None);
        assert!(out
            .column("remark_en")
            .unwrap()
            .str()
            .unwrap()
            .get(4)
            .unwrap()
            .contains("-2.6"));
    }
}
