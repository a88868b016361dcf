//! Stage 1 — **load**: a data directory in, a [`Batch`] of typed tables out.
//!
//! Every table of the contract is read from CSV, Parquet, Excel or a directory of
//! them, typed and validated. Rows that fail are quarantined with their file, row,
//! column, value and reason; the rest are accepted. A file that cannot be read at
//! all, or lacks a required column, stops the run ([`Error`]).
//!
//! ## The loaded tables (what the rule stage receives)
//!
//! Enterprises are numbered: `eid` (`u32`) is the position of the enterprise in the
//! register sorted by USCC, and every other table refers to enterprises by `eid`.
//! Months are `i32` month numbers (`year * 12 + month - 1`, see [`Month`]).
//!
//! | table | columns |
//! |---|---|
//! | `enterprises` | `eid` u32, `uscc` str, `name` str?, `county_code` str, `industry_code` str, `entry_period` i32, `size_class` str? |
//! | `industrial` | `eid`, `period` i32, `gross_output` f64?, `sales_output` f64?, `export_delivery` f64?, `submitted_at` i64? (seconds since 1970, local time), `revisions` i64? |
//! | `tax` | `eid`, `period`, `taxable_sales` f64? |
//! | `rd` | `eid`, `year` i32, `rd_staff` i64?, `rd_expenditure` f64?, `rd_super_deduction` f64? |
//! | `investment` | `project_id` str, `eid`, `county_code` str, `period`, `planned_total` f64?, `ytd_completed` f64?, `start_period` i32? |
//! | `labor` | `eid`, `period`, `employees` i64?, `wage_total` f64? |
//! | `energy` | `eid`, `period`, `energy_consumption` f64?, `electricity` f64? |
//! | `services` | `eid`, `period`, `revenue` f64?, `employees` i64? |
//! | `verifications` | `eid`, `period`, `outcome` str, `verified_at` i64? |
//!
//! `?` marks a column that may hold nulls (a missing value: the rules using it are
//! not evaluable for that row). Optional columns absent from the files are added as
//! all-null columns, so the schema is always the one above.
//!
//! ## Duplicates
//!
//! When a key occurs more than once, one copy is kept and the others are
//! quarantined, naming the copy kept: the one submitted last (`submitted_at`, where
//! the table has it), else the one read last (files in path order, rows in file
//! order). This mirrors the direct-reporting platform, where a re-submission
//! replaces the earlier one, and keeps the audit running on the figures most likely
//! to be current; the quarantine line lets a statistician check the choice.

pub mod csv;
pub mod excel;
pub mod parquet;
pub mod parse;
pub mod quarantine;
pub mod raw;
pub mod source;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::schema::{match_heading, Kind};
use crate::model::{Month, Table};
use parse::{parse_column, Register, Repairs};
pub use quarantine::QuarantineRow;
use raw::{Cell, RawColumn, RawFrame};
use source::{Format, SourceFile};

/// What loading needs to know.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The period under review; the latest month of `industrial` when `None`.
    pub period: Option<Month>,
}

/// One input file, as reported in `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct FileInfo {
    /// Path relative to the data directory.
    pub file: String,
    /// `csv`, `parquet` or `excel`.
    pub format: &'static str,
    /// Text encoding of a CSV file (`utf-8` or `gb18030`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
    /// Data rows read from the file.
    pub rows_read: u64,
}

/// The accounting of one table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableStats {
    /// Whether the table was given.
    pub present: bool,
    /// Data rows read (blank lines are not rows).
    pub rows_read: u64,
    /// Rows accepted into the audit.
    pub rows_accepted: u64,
    /// Rows quarantined (see `quarantine.csv`).
    pub rows_quarantined: u64,
    /// Values repaired on the way in (e.g. `thousands_separator`), by kind.
    pub repairs: BTreeMap<String, u64>,
    /// The files read.
    pub files: Vec<FileInfo>,
}

/// A loaded batch: the typed tables and everything that was rejected.
pub struct Batch {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The period under review.
    pub period: Month,
    /// The enterprise register (see the module docs for the schema).
    pub enterprises: DataFrame,
    /// The other tables that were given.
    pub tables: BTreeMap<Table, DataFrame>,
    /// Rejected rows.
    pub quarantine: Vec<QuarantineRow>,
    /// Accounting per table (all tables, given or not).
    pub stats: BTreeMap<Table, TableStats>,
}

impl Batch {
    /// A table, if it was given.
    pub fn table(&self, t: Table) -> Option<&DataFrame> {
        if t == Table::Enterprises {
            Some(&self.enterprises)
        } else {
            self.tables.get(&t)
        }
    }

    /// The same batch viewed from an earlier (or later) period: the tables are
    /// shared, the quarantine and accounting are left out. Rules filter by period,
    /// so this is how earlier months are graded when the state is rebuilt.
    pub fn at(&self, period: Month) -> Batch {
        Batch {
            data_dir: self.data_dir.clone(),
            period,
            enterprises: self.enterprises.clone(),
            tables: self.tables.clone(),
            quarantine: Vec::new(),
            stats: BTreeMap::new(),
        }
    }

    /// USCC of every enterprise id.
    pub fn uscc_by_eid(&self) -> Vec<String> {
        self.enterprises
            .column("uscc")
            .ok()
            .and_then(|c| c.str().ok().cloned())
            .map(|ca| ca.iter().map(|v| v.unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    }
}

/// Loads a data directory.
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Batch> {
    if !dir.is_dir() {
        return Err(Error::NoDataDir(dir.to_path_buf()));
    }
    let mut sources: BTreeMap<Table, Vec<SourceFile>> = BTreeMap::new();
    for t in Table::ALL {
        let files = source::discover(dir, t)?;
        if files.is_empty() && t.required() {
            return Err(Error::MissingTable {
                table: t.name(),
                dir: dir.to_path_buf(),
            });
        }
        sources.insert(t, files);
    }

    let mut quarantine = Vec::new();
    let mut stats = BTreeMap::new();

    // The register first: every other table is checked against it.
    let (ent, st, rejected_keys) = load_table(
        Table::Enterprises,
        &sources[&Table::Enterprises],
        None,
        &mut quarantine,
    )?;
    let (ent, dq) = dedup(ent, Table::Enterprises, &sources[&Table::Enterprises], &[])?;
    let mut st = st;
    st.rows_quarantined += dq.len() as u64;
    st.rows_accepted -= dq.len() as u64;
    quarantine.extend(dq);
    let enterprises = number_enterprises(ent)?;
    let register = build_register(&enterprises, rejected_keys)?;
    stats.insert(Table::Enterprises, st);
    let uscc_of: Vec<String> = {
        let ca = enterprises
            .column("uscc")
            .map_err(|e| Error::polars("load", e))?
            .str()
            .map_err(|e| Error::polars("load", e))?
            .clone();
        ca.iter().map(|v| v.unwrap_or("").to_string()).collect()
    };

    let mut tables = BTreeMap::new();
    let mut period = opts.period;
    for t in Table::ALL.into_iter().skip(1) {
        let files = &sources[&t];
        if files.is_empty() {
            stats.insert(t, TableStats::default());
            continue;
        }
        let (df, mut st, _) = load_table(t, files, Some(&register), &mut quarantine)?;
        let (df, dq) = dedup(df, t, files, &uscc_of)?;
        st.rows_quarantined += dq.len() as u64;
        st.rows_accepted -= dq.len() as u64;
        quarantine.extend(dq);
        if t == Table::Industrial && period.is_none() {
            let latest = df
                .column("period")
                .ok()
                .and_then(|c| c.i32().ok().and_then(|ca| ca.max()));
            period = Some(Month(latest.ok_or_else(|| {
                Error::NoPeriod(
                    "the industrial table has no accepted row; give --period YYYY-MM".to_string(),
                )
            })?));
        }
        let p = period.expect("the period is known once industrial is loaded");
        let (df, late) = drop_after_period(df, t, files, &uscc_of, p)?;
        st.rows_quarantined += late.len() as u64;
        st.rows_accepted -= late.len() as u64;
        quarantine.extend(late);
        let df = df
            .drop_many(["_file", "_row"])
            .select(internal_columns(t))
            .map_err(|e| Error::polars("load", e))?;
        tables.insert(t, df);
        stats.insert(t, st);
    }
    quarantine.sort();
    Ok(Batch {
        data_dir: dir.to_path_buf(),
        period: period.expect("industrial is a required table"),
        enterprises,
        tables,
        quarantine,
        stats,
    })
}

/// Column names of a loaded table, in order.
pub fn internal_columns(t: Table) -> Vec<&'static str> {
    let mut cols = Vec::new();
    if t == Table::Enterprises {
        cols.push("eid");
    }
    for c in t.spec().columns {
        if c.kind == Kind::Uscc && t != Table::Enterprises {
            cols.push("eid");
        } else {
            cols.push(c.name);
        }
    }
    cols
}

fn dtype_of(kind: Kind, as_eid: bool) -> DataType {
    match kind {
        Kind::Uscc if as_eid => DataType::UInt32,
        Kind::Int | Kind::Ts => DataType::Int64,
        Kind::Num => DataType::Float64,
        Kind::Month | Kind::Year => DataType::Int32,
        _ => DataType::String,
    }
}

fn read_file(t: Table, f: &SourceFile) -> Result<(RawFrame, Option<&'static str>)> {
    let spec = t.spec();
    let supplied: Vec<&str> = f
        .partitions
        .iter()
        .filter_map(|(k, _)| match_heading(spec, k).map(|c| c.name))
        .collect();
    let (mut frame, enc) = match f.format {
        Format::Csv => {
            let (fr, enc) = csv::read(&f.path, spec, &supplied)?;
            (
                fr,
                Some(match enc {
                    csv::Encoding::Utf8 => "utf-8",
                    csv::Encoding::Gb18030 => "gb18030",
                }),
            )
        }
        Format::Parquet => (parquet::read(&f.path, spec, &supplied)?, None),
        Format::Excel => (excel::read(&f.path, spec, &supplied)?, None),
    };
    // Hive folders (`period=2026-09/`) supply a column the file itself lacks.
    for (k, v) in &f.partitions {
        if let Some(col) = match_heading(spec, k) {
            if !frame.columns.iter().any(|(c, _)| c.name == col.name) {
                let n = frame.rows.len();
                frame
                    .columns
                    .push((col, RawColumn::Constant(Cell::Text(v.clone()), n)));
            }
        }
    }
    Ok((frame, enc))
}

/// One file, read and typed.
struct FileLoad {
    df: DataFrame,
    info: FileInfo,
    quarantine: Vec<QuarantineRow>,
    repairs: Repairs,
    rejected_keys: Vec<(String, String)>,
}

/// Reads and types one file of a table.
fn load_file(
    t: Table,
    f: &SourceFile,
    file_idx: usize,
    register: Option<&Register>,
) -> Result<FileLoad> {
    let spec = t.spec();
    let (frame, enc) = read_file(t, f)?;
    let read = frame.rows_read();
    let mut repairs = Repairs::new();
    for (k, n) in &frame.repairs {
        *repairs.entry(k).or_default() += n;
    }
    let mut quarantine: Vec<QuarantineRow> = frame
        .rejects
        .iter()
        .map(|r| QuarantineRow {
            table: t,
            file: f.rel.clone(),
            row: r.row,
            column: r.column.clone(),
            value: r.value.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    let mut rejected_keys = Vec::new();

    // Type every contract column; optional ones the file lacks become nulls.
    let n = frame.rows.len();
    let mut first_error: HashMap<usize, (&'static str, String, String)> = HashMap::new();
    let mut cols: Vec<Column> = Vec::with_capacity(spec.columns.len() + 2);
    for col in spec.columns {
        let as_eid = col.kind == Kind::Uscc && register.is_some();
        match frame.columns.iter().find(|(c, _)| c.name == col.name) {
            Some((_, raw)) => {
                let typed = parse_column(col, raw, register, &mut repairs);
                for r in typed.rejected {
                    first_error
                        .entry(r.pos)
                        .or_insert((col.name, r.value, r.reason));
                }
                cols.push(typed.series.into_column());
            }
            None => {
                let name = if as_eid { "eid" } else { col.name };
                cols.push(Column::full_null(
                    name.into(),
                    n,
                    &dtype_of(col.kind, as_eid),
                ));
            }
        }
    }
    cols.push(Column::new_scalar(
        "_file".into(),
        Scalar::from(file_idx as u32),
        n,
    ));
    cols.push(Column::new("_row".into(), frame.rows));
    let df = DataFrame::new(n, cols).map_err(|e| Error::polars("load", e))?;
    let df = if first_error.is_empty() {
        df
    } else {
        let mut errs: Vec<_> = first_error.into_iter().collect();
        errs.sort_by_key(|(pos, _)| *pos);
        let mut keep = vec![true; n];
        let usccs = (t == Table::Enterprises)
            .then(|| df.column("uscc").ok().and_then(|c| c.str().ok().cloned()))
            .flatten();
        let rows = df
            .column("_row")
            .map_err(|e| Error::polars("load", e))?
            .u32()
            .map_err(|e| Error::polars("load", e))?
            .clone();
        for (pos, (col, value, reason)) in errs {
            keep[pos] = false;
            if let Some(u) = usccs.as_ref().and_then(|u| u.get(pos)) {
                rejected_keys.push((u.to_string(), format!("{col}: {reason}")));
            }
            quarantine.push(QuarantineRow {
                table: t,
                file: f.rel.clone(),
                row: rows.get(pos).unwrap_or(0),
                column: col.to_string(),
                value,
                reason,
            });
        }
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        df.filter(&mask).map_err(|e| Error::polars("load", e))?
    };
    let info = FileInfo {
        file: f.rel.clone(),
        format: match f.format {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Excel => "excel",
        },
        encoding: enc,
        rows_read: read,
    };
    Ok(FileLoad {
        df,
        info,
        quarantine,
        repairs,
        rejected_keys,
    })
}

/// USCCs of register rows rejected for another column, with the reason.
type RejectedUsccs = Vec<(String, String)>;

/// Reads, types and concatenates the files of one table (several files in
/// parallel). For the register, the USCCs of rows rejected for another column are
/// returned with their reason, so that the submissions of those enterprises can say
/// why they are not recognised.
fn load_table(
    t: Table,
    files: &[SourceFile],
    register: Option<&Register>,
    quarantine: &mut Vec<QuarantineRow>,
) -> Result<(DataFrame, TableStats, RejectedUsccs)> {
    use rayon::prelude::*;
    let loads: Vec<Result<FileLoad>> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| load_file(t, f, i, register))
        .collect();
    let mut st = TableStats {
        present: true,
        ..Default::default()
    };
    let mut repairs = Repairs::new();
    let mut rejected_keys = Vec::new();
    let mut frames: Vec<DataFrame> = Vec::with_capacity(loads.len());
    for l in loads {
        let l = l?;
        st.rows_read += l.info.rows_read;
        st.rows_quarantined += l.quarantine.len() as u64;
        st.files.push(l.info);
        quarantine.extend(l.quarantine);
        for (k, n) in l.repairs {
            *repairs.entry(k).or_default() += n;
        }
        rejected_keys.extend(l.rejected_keys);
        frames.push(l.df);
    }
    let mut it = frames.into_iter();
    let mut df = it
        .next()
        .expect("load_table is called with at least one file");
    for f in it {
        df.vstack_mut_owned(f)
            .map_err(|e| Error::polars("load", e))?;
    }
    // One contiguous chunk per column: every rule reads these tables many times.
    df.rechunk_mut();
    st.rows_accepted = df.height() as u64;
    st.repairs = repairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    debug_assert_eq!(st.rows_read, st.rows_accepted + st.rows_quarantined);
    Ok((df, st, rejected_keys))
}

/// Key columns of a loaded table.
pub fn key_columns(t: Table) -> &'static [&'static str] {
    match t {
        Table::Enterprises => &["uscc"],
        Table::Rd => &["eid", "year"],
        Table::Investment => &["project_id", "period"],
        _ => &["eid", "period"],
    }
}

fn render_value(name: &str, v: &AnyValue<'_>, uscc_of: &[String]) -> String {
    match (name, v) {
        ("eid", AnyValue::UInt32(e)) => uscc_of.get(*e as usize).cloned().unwrap_or_default(),
        ("period", AnyValue::Int32(m)) => Month(*m).to_string(),
        (_, AnyValue::String(s)) => s.to_string(),
        (_, AnyValue::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

fn public_name(col: &str) -> &str {
    if col == "eid" {
        "uscc"
    } else {
        col
    }
}

/// `eid << 32 | period` (or year) for the tables keyed by enterprise and time.
fn numeric_key(df: &DataFrame, t: Table) -> Result<Option<Series>> {
    let pe = |e| Error::polars("load", e);
    let second = match key_columns(t) {
        ["eid", second] => *second,
        _ => return Ok(None),
    };
    let out = df
        .clone()
        .lazy()
        .select([((col("eid").cast(DataType::UInt64) * lit(1u64 << 32))
            + col(second).cast(DataType::UInt32).cast(DataType::UInt64))
        .alias("_key")])
        .collect()
        .map_err(pe)?;
    Ok(Some(
        out.column("_key")
            .map_err(pe)?
            .as_materialized_series()
            .clone(),
    ))
}

/// Sorts a frame with `eid` and `period` (or `year`) by enterprise and time, for
/// the computations that read each enterprise's months in order.
pub fn sort_by_key(df: DataFrame, t: Table) -> Result<DataFrame> {
    let pe = |e| Error::polars("load", e);
    // Monthly files read in path order (Hive folders) already come in month order:
    // then a stable counting sort by enterprise gives enterprise-and-month order in
    // two linear passes.
    if key_columns(t) == ["eid", "period"] && df.height() > 0 {
        let periods = df.column("period").map_err(pe)?.i32().map_err(pe)?;
        let ordered = periods
            .iter()
            .zip(periods.iter().skip(1))
            .all(|(a, b)| a <= b);
        let eids = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
        if ordered && eids.null_count() == 0 {
            let n_ent = eids.max().unwrap_or(0) as usize + 1;
            let mut start = vec![0usize; n_ent + 1];
            for e in eids.iter().flatten() {
                start[e as usize + 1] += 1;
            }
            for k in 1..=n_ent {
                start[k] += start[k - 1];
            }
            let mut idx = vec![0 as IdxSize; df.height()];
            for (i, e) in eids.iter().flatten().enumerate() {
                let slot = &mut start[e as usize];
                idx[*slot] = i as IdxSize;
                *slot += 1;
            }
            return df.take(&IdxCa::from_vec("idx".into(), idx)).map_err(pe);
        }
    }
    match numeric_key(&df, t)? {
        Some(k) => {
            let idx = k.arg_sort(SortOptions::default().with_multithreaded(true));
            df.take(&idx).map_err(pe)
        }
        None => df
            .sort(
                key_columns(t).iter().copied(),
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .map_err(pe),
    }
}

/// Keeps one copy of each key (see the module docs) and quarantines the others.
fn dedup(
    df: DataFrame,
    t: Table,
    files: &[SourceFile],
    uscc_of: &[String],
) -> Result<(DataFrame, Vec<QuarantineRow>)> {
    let pe = |e| Error::polars("load", e);
    let key = key_columns(t);
    // Enterprise-month tables: a table of the cells seen finds duplicates in one
    // pass; only when there are some does the general path below run.
    if let ["eid", second] = key_columns(t) {
        let eids = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let times = df.column(second).map_err(pe)?.i32().map_err(pe)?;
        let (lo, hi) = (times.min().unwrap_or(0), times.max().unwrap_or(0));
        let n_ent = eids.max().map(|m| m as usize + 1).unwrap_or(0);
        let cells = n_ent.saturating_mul((hi - lo) as usize + 1);
        if eids.null_count() == 0 && times.null_count() == 0 && cells <= 400_000_000 {
            let mut seen = vec![false; cells];
            let mut any = false;
            for (e, m) in eids.iter().flatten().zip(times.iter().flatten()) {
                let k = (m - lo) as usize * n_ent + e as usize;
                if seen[k] {
                    any = true;
                    break;
                }
                seen[k] = true;
            }
            if !any {
                return Ok((df, Vec::new()));
            }
        }
    }
    let dup = match numeric_key(&df, t)? {
        // One u64 per row hashes much faster than two columns.
        Some(k) => DataFrame::new(k.len(), vec![k.into_column()])
            .map_err(pe)?
            .is_duplicated()
            .map_err(pe)?,
        None => df
            .select(key.iter().copied())
            .map_err(pe)?
            .is_duplicated()
            .map_err(pe)?,
    };
    if !dup.any() {
        return Ok((df, Vec::new()));
    }
    let positions: Vec<usize> = dup
        .iter()
        .enumerate()
        .filter_map(|(i, d)| (d == Some(true)).then_some(i))
        .collect();
    let submitted = if t == Table::Industrial {
        df.column("submitted_at")
            .ok()
            .and_then(|c| c.i64().ok().cloned())
    } else {
        None
    };
    let files_col = df.column("_file").map_err(pe)?.u32().map_err(pe)?.clone();
    let rows_col = df.column("_row").map_err(pe)?.u32().map_err(pe)?.clone();
    let mut groups: BTreeMap<Vec<String>, Vec<usize>> = BTreeMap::new();
    for &i in &positions {
        let mut k = Vec::with_capacity(key.len());
        for c in key {
            let v = df.column(c).map_err(pe)?.get(i).map_err(pe)?;
            k.push(render_value(c, &v, uscc_of));
        }
        groups.entry(k).or_default().push(i);
    }
    let mut keep = vec![true; df.height()];
    let mut out = Vec::new();
    let key_name = key
        .iter()
        .map(|c| public_name(c))
        .collect::<Vec<_>>()
        .join("+");
    for (k, idxs) in groups {
        // Latest submission wins; among equals (or without submitted_at), the last read.
        let winner = *idxs
            .iter()
            .max_by_key(|&&i| (submitted.as_ref().and_then(|s| s.get(i)), i))
            .expect("a duplicate group has members");
        let wf = &files[files_col.get(winner).unwrap_or(0) as usize].rel;
        let wr = rows_col.get(winner).unwrap_or(0);
        let why = if submitted.is_some() {
            "the copy submitted last (submitted_at), or read last, is kept"
        } else {
            "the copy read last is kept"
        };
        for &i in &idxs {
            if i == winner {
                continue;
            }
            keep[i] = false;
            out.push(QuarantineRow {
                table: t,
                file: files[files_col.get(i).unwrap_or(0) as usize].rel.clone(),
                row: rows_col.get(i).unwrap_or(0),
                column: key_name.clone(),
                value: k.join(","),
                reason: format!("duplicate key: row {wr} of {wf} has the same {key_name}; {why}"),
            });
        }
    }
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    Ok((df.filter(&mask).map_err(pe)?, out))
}

/// Quarantines rows dated after the period under review.
fn drop_after_period(
    df: DataFrame,
    t: Table,
    files: &[SourceFile],
    uscc_of: &[String],
    period: Month,
) -> Result<(DataFrame, Vec<QuarantineRow>)> {
    let pe = |e| Error::polars("load", e);
    let (col, limit, show): (&str, i32, fn(i32) -> String) = if t == Table::Rd {
        ("year", period.year(), |y| y.to_string())
    } else if t.has_period() {
        ("period", period.0, |m| Month(m).to_string())
    } else {
        return Ok((df, Vec::new()));
    };
    let vals = df.column(col).map_err(pe)?.i32().map_err(pe)?.clone();
    let late = vals.gt(limit);
    if !late.any() {
        return Ok((df, Vec::new()));
    }
    let files_col = df.column("_file").map_err(pe)?.u32().map_err(pe)?.clone();
    let rows_col = df.column("_row").map_err(pe)?.u32().map_err(pe)?.clone();
    let eids = df.column("eid").ok().and_then(|c| c.u32().ok().cloned());
    let mut out = Vec::new();
    for (i, l) in late.iter().enumerate() {
        if l != Some(true) {
            continue;
        }
        let v = vals.get(i).unwrap_or(0);
        let who = eids
            .as_ref()
            .and_then(|e| e.get(i))
            .and_then(|e| uscc_of.get(e as usize))
            .map(|u| format!(" (enterprise {u})"))
            .unwrap_or_default();
        out.push(QuarantineRow {
            table: t,
            file: files[files_col.get(i).unwrap_or(0) as usize].rel.clone(),
            row: rows_col.get(i).unwrap_or(0),
            column: col.to_string(),
            value: show(v),
            reason: format!(
                "{col} {} is after the period under review {}{who}; it belongs to a later audit",
                show(v),
                if t == Table::Rd {
                    period.year().to_string()
                } else {
                    period.to_string()
                }
            ),
        });
    }
    let keep = !late;
    Ok((df.filter(&keep).map_err(pe)?, out))
}

/// Sorts the register by USCC and numbers it: `eid` = position.
fn number_enterprises(df: DataFrame) -> Result<DataFrame> {
    let pe = |e| Error::polars("load", e);
    let mut df = df
        .sort(["uscc"], SortMultipleOptions::default())
        .map_err(pe)?;
    let n = df.height();
    df.insert_column(
        0,
        Column::new("eid".into(), (0..n as u32).collect::<Vec<u32>>()),
    )
    .map_err(pe)?;
    df.drop_many(["_file", "_row"])
        .select(internal_columns(Table::Enterprises))
        .map_err(pe)
}

fn build_register(
    enterprises: &DataFrame,
    rejected_keys: Vec<(String, String)>,
) -> Result<Register> {
    let pe = |e| Error::polars("load", e);
    let ca = enterprises.column("uscc").map_err(pe)?.str().map_err(pe)?;
    let mut ids = PlHashMap::with_capacity(ca.len());
    for (i, u) in ca.iter().enumerate() {
        if let Some(u) = u {
            ids.insert(u.to_string(), i as u32);
        }
    }
    let mut rejected = HashMap::new();
    for (u, why) in rejected_keys {
        if !ids.contains_key(&u) {
            rejected.entry(u).or_insert(why);
        }
    }
    Ok(Register { ids, rejected })
}

/// An empty frame with the loaded schema of `t` (for checking formulas).
pub fn empty_table(t: Table) -> DataFrame {
    let spec = t.spec();
    let mut cols: Vec<Column> = Vec::new();
    if t == Table::Enterprises {
        cols.push(Column::new_empty("eid".into(), &DataType::UInt32));
    }
    for c in spec.columns {
        let as_eid = c.kind == Kind::Uscc && t != Table::Enterprises;
        let name = if as_eid { "eid" } else { c.name };
        cols.push(Column::new_empty(name.into(), &dtype_of(c.kind, as_eid)));
    }
    DataFrame::new(0, cols).expect("static schema")
}

/// A table read as text: the column names, and each column's cells.
pub type TextColumns = (Vec<String>, Vec<Vec<Option<String>>>);

/// Reads any CSV or Parquet file as text columns (for commands that work on
/// arbitrary tables, such as `zhibao outlier`).
pub fn read_generic(path: &Path) -> Result<TextColumns> {
    let is_parquet = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    if !is_parquet {
        return csv::read_generic_csv(path);
    }
    let perr = |e: PolarsError| Error::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let df = ParquetReader::new(file).finish().map_err(perr)?;
    let mut headings = Vec::new();
    let mut cols = Vec::new();
    for c in df.columns() {
        headings.push(c.name().to_string());
        let s = c
            .as_materialized_series()
            .cast(&DataType::String)
            .map_err(perr)?;
        cols.push(
            s.str()
                .map_err(perr)?
                .iter()
                .map(|v| v.map(str::to_string))
                .collect(),
        );
    }
    Ok((headings, cols))
}

/// Reads and types one file's bytes as a file of `table`, without the register
/// or the other tables (for the fuzz targets and property tests): rows read and
/// rows rejected. Never panics; an unusable file is an error.
pub fn read_and_type(table: Table, format: Format, bytes: Vec<u8>) -> Result<(u64, u64)> {
    let spec = table.spec();
    let path = Path::new("input");
    let frame = match format {
        Format::Csv => csv::read_bytes(path, spec, &[], bytes)?.0,
        Format::Excel => excel::read_bytes(path, spec, &[], bytes)?,
        Format::Parquet => {
            return Err(Error::Usage(
                "read_and_type takes CSV or Excel bytes".to_string(),
            ));
        }
    };
    let mut repairs = Repairs::new();
    let mut bad: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    for (col, raw) in &frame.columns {
        for r in parse_column(col, raw, None, &mut repairs).rejected {
            bad.insert(r.pos);
        }
    }
    Ok((frame.rows_read(), (frame.rejects.len() + bad.len()) as u64))
}
