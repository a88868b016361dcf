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
pub mod heading;
pub mod html;
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
use crate::model::schema::{match_heading, ColumnSpec, Kind};
use crate::model::{Month, Table};
pub use parse::Register;
use parse::{parse_column, Rejected, Repairs};
pub use quarantine::QuarantineRow;
use raw::{Cell, RawColumn, RawFrame, UnitConversion};
pub use source::Skipped;
use source::{Format, SourceFile};

/// An enterprise id and a period (or year).
type Key = (u32, i32);

/// The period of an unknown key whose own period cannot be told (a row whose period
/// does not read, or lies after every month of the data): the enterprise has a
/// record of unknown month. See [`Batch::unknown_keys`].
pub const UNPLACED: i32 = i32::MIN;

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
    /// What the reader noted (columns set aside, the sheet read…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    /// Files and sheets of the table that were not read, with why.
    pub skipped: Vec<Skipped>,
    /// Unit conversions applied (a unit in a heading or a unit row).
    pub units: Vec<UnitConversion>,
    /// Values of optional columns that did not parse: read as missing, the row kept
    /// (each is a line of `quarantine.csv` whose action is `value_missing`).
    pub values_set_missing: u64,
    /// What a statistician should know about the table before trusting the run
    /// (also on stderr).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// Values of optional columns read as missing (the rows were kept).
    pub notes: Vec<QuarantineRow>,
    /// Per table, the (enterprise id, period or year) of rows that were read but
    /// quarantined for a value: their figures are *unknown*, which is not the same
    /// as having no row (a rule needing them is not evaluable).
    pub unknown: BTreeMap<Table, Vec<(u32, i32)>>,
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
            notes: Vec::new(),
            unknown: self.unknown.clone(),
            stats: BTreeMap::new(),
        }
    }

    /// The (enterprise id, period) keys of `t` whose values are unknown (their row
    /// was quarantined for a value), as a frame `eid` u32, `period` i32.
    pub fn unknown_keys(&self, t: Table) -> DataFrame {
        let keys = self.unknown.get(&t).map(Vec::as_slice).unwrap_or(&[]);
        let eids: Vec<u32> = keys.iter().map(|k| k.0).collect();
        let periods: Vec<i32> = keys.iter().map(|k| k.1).collect();
        let second = if t == Table::Rd { "year" } else { "period" };
        DataFrame::new(
            keys.len(),
            vec![
                Column::new("eid".into(), eids),
                Column::new(second.into(), periods),
            ],
        )
        .expect("two columns of one length")
    }

    /// The batch restricted to the enterprises `eids`, renumbered `0..` in register
    /// order (so `eid` is still the position in the register), each table in key
    /// order. Quarantine and accounting are left out. This is how one enterprise
    /// is audited alone.
    pub fn subset(&self, eids: &[u32]) -> Result<Batch> {
        self.subset_rows(eids, &BTreeMap::new())
    }

    /// [`Batch::subset`], where `rows` gives the rows of `eids` in some tables
    /// (positions, ascending): those rows are taken instead of the table being
    /// scanned. This is how a live batch, indexed by enterprise, is read.
    pub fn subset_rows(&self, eids: &[u32], rows: &BTreeMap<Table, Vec<IdxSize>>) -> Result<Batch> {
        let pe = |e| Error::polars("load", e);
        let n = self.enterprises.height();
        let mut map: Vec<Option<u32>> = vec![None; n];
        let mut keep: Vec<u32> = eids.iter().copied().filter(|e| (*e as usize) < n).collect();
        keep.sort_unstable();
        keep.dedup();
        for (new, old) in keep.iter().enumerate() {
            map[*old as usize] = Some(new as u32);
        }
        let restrict = |df: &DataFrame, at: Option<&Vec<IdxSize>>| -> Result<DataFrame> {
            let mut out = match at {
                Some(at) => df
                    .take(&IdxCa::from_vec("at".into(), at.clone()))
                    .map_err(pe)?,
                None => {
                    let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
                    let mask: BooleanChunked = e
                        .iter()
                        .map(|v| {
                            Some(
                                v.and_then(|v| map.get(v as usize).copied().flatten())
                                    .is_some(),
                            )
                        })
                        .collect();
                    df.filter(&mask).map_err(pe)?
                }
            };
            let renumbered: Vec<u32> = out
                .column("eid")
                .map_err(pe)?
                .u32()
                .map_err(pe)?
                .iter()
                .map(|v| v.and_then(|v| map[v as usize]).unwrap_or(0))
                .collect();
            out.with_column(Column::new("eid".into(), renumbered))
                .map_err(pe)?;
            Ok(out)
        };
        let mut tables = BTreeMap::new();
        for (t, df) in &self.tables {
            // In key order, as loaded (a live batch appends rows unsorted).
            tables.insert(*t, sort_by_key(restrict(df, rows.get(t))?, *t)?);
        }
        let unknown = self
            .unknown
            .iter()
            .map(|(t, keys)| {
                let ks = keys
                    .iter()
                    .filter_map(|(e, p)| map.get(*e as usize).copied().flatten().map(|n| (n, *p)))
                    .collect();
                (*t, ks)
            })
            .collect();
        Ok(Batch {
            data_dir: self.data_dir.clone(),
            period: self.period,
            // An enterprise's id is its position in the register.
            enterprises: restrict(
                &self.enterprises,
                Some(&keep.iter().map(|e| *e as IdxSize).collect()),
            )?,
            tables,
            quarantine: Vec::new(),
            notes: Vec::new(),
            unknown,
            stats: BTreeMap::new(),
        })
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
    let mut skipped: BTreeMap<Table, Vec<Skipped>> = BTreeMap::new();
    for t in Table::ALL {
        let (files, sk) = source::discover(dir, t)?;
        if files.is_empty() && t.required() {
            return Err(Error::MissingTable {
                table: t.name(),
                dir: dir.to_path_buf(),
            });
        }
        let (files, sheets_skipped) = expand_sheets(t, files);
        sources.insert(t, files);
        skipped.insert(t, sk.into_iter().chain(sheets_skipped).collect());
    }

    let mut quarantine = Vec::new();
    let mut notes = Vec::new();
    let mut unknown = BTreeMap::new();
    let mut stats = BTreeMap::new();

    // The register first: every other table is checked against it.
    let started = std::time::Instant::now();
    let lt = load_table(
        Table::Enterprises,
        &sources[&Table::Enterprises],
        None,
        &mut quarantine,
        &mut notes,
    )?;
    let (ent, mut st, rejected_keys) = (lt.df, lt.stats, lt.rejected_keys);
    st.skipped.splice(
        0..0,
        skipped.remove(&Table::Enterprises).unwrap_or_default(),
    );
    let (ent, dq) = dedup(ent, Table::Enterprises, &sources[&Table::Enterprises], &[])?;
    st.rows_quarantined += dq.len() as u64;
    st.rows_accepted -= dq.len() as u64;
    quarantine.extend(dq);
    let enterprises = number_enterprises(ent)?;
    let register = build_register(&enterprises, rejected_keys)?;
    stats.insert(Table::Enterprises, st);
    tracing::debug!(
        rows = enterprises.height(),
        seconds = started.elapsed().as_secs_f64(),
        "register loaded"
    );
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
    let mut data_end: Option<i32> = None;
    for t in Table::ALL.into_iter().skip(1) {
        let files = &sources[&t];
        if files.is_empty() {
            stats.insert(
                t,
                TableStats {
                    skipped: skipped.remove(&t).unwrap_or_default(),
                    ..Default::default()
                },
            );
            continue;
        }
        let started = std::time::Instant::now();
        let lt = load_table(t, files, Some(&register), &mut quarantine, &mut notes)?;
        let read = started.elapsed().as_secs_f64();
        let (df, mut st) = (lt.df, lt.stats);
        st.skipped
            .splice(0..0, skipped.remove(&t).unwrap_or_default());
        let (df, dq) = dedup(df, t, files, &uscc_of)?;
        let deduplicated = started.elapsed().as_secs_f64();
        st.rows_quarantined += dq.len() as u64;
        st.rows_accepted -= dq.len() as u64;
        quarantine.extend(dq);
        if t == Table::Industrial && period.is_none() {
            let p = default_period(&df, files, &uscc_of)?;
            st.warnings = period_warnings(&df, &lt.unknown, p)?;
            period = Some(p);
        }
        if t == Table::Industrial {
            data_end = df
                .column("period")
                .ok()
                .and_then(|c| c.i32().ok().and_then(|ca| ca.max()));
        }
        let p = period.expect("the period is known once industrial is loaded");
        let (df, late, late_keys) = drop_after_period(df, t, files, &uscc_of, p)?;
        // A row dated after every month of the data (a typo such as 2062-10) belongs
        // to a month that cannot be told: the enterprise has a record of unknown
        // period, which the rules see (not "no record").
        let mut lt_unknown = lt.unknown;
        if t != Table::Industrial {
            if let Some(end) = data_end {
                let end = if t == Table::Rd {
                    Month(end).year()
                } else {
                    end
                };
                lt_unknown.extend(
                    late_keys
                        .iter()
                        .filter(|(_, v)| *v > end)
                        .map(|(e, _)| (*e, UNPLACED)),
                );
            }
        }
        st.rows_quarantined += late.len() as u64;
        st.rows_accepted -= late.len() as u64;
        quarantine.extend(late);
        let df = df
            .drop_many(["_file", "_row"])
            .select(internal_columns(t))
            .map_err(|e| Error::polars("load", e))?;
        // Enterprise by enterprise, each one's months in order: a rule that
        // lays a table out as a month panel, or walks an enterprise's months,
        // then reads and writes memory in order instead of at random (the rows
        // of a month's file come in any order).
        let df = if matches!(key_columns(t), ["eid", _]) {
            sort_by_key(df, t)?
        } else {
            df
        };
        unknown.insert(t, unknown_keys(t, &lt_unknown, &df));
        tracing::debug!(
            table = t.name(),
            rows = df.height(),
            read,
            deduplicated,
            seconds = started.elapsed().as_secs_f64(),
            "table loaded"
        );
        tables.insert(t, df);
        stats.insert(t, st);
    }
    quarantine.sort();
    notes.sort();
    for (t, st) in &stats {
        for s in &st.skipped {
            eprintln!("zhibao: {t}: {} was not read: {}", s.file, s.reason);
        }
        for w in &st.warnings {
            eprintln!("zhibao: warning: {t}: {w}");
        }
    }
    Ok(Batch {
        data_dir: dir.to_path_buf(),
        period: period.expect("industrial is a required table"),
        enterprises,
        tables,
        quarantine,
        notes,
        unknown,
        stats,
    })
}

/// One source per sheet of a workbook with several sheets (a sheet per month is
/// common); workbooks that cannot be opened stay as they are and fail when read.
fn expand_sheets(t: Table, files: Vec<SourceFile>) -> (Vec<SourceFile>, Vec<Skipped>) {
    let mut out = Vec::with_capacity(files.len());
    let mut skipped = Vec::new();
    for f in files {
        if f.format != Format::Excel {
            out.push(f);
            continue;
        }
        let names = std::fs::read(&f.path)
            .ok()
            .filter(|b| excel::sniff(b) == excel::Sniffed::Workbook)
            .and_then(|b| excel::sheet_names(&b).ok())
            .unwrap_or_default();
        if names.len() <= 1 {
            out.push(f);
            continue;
        }
        for n in names {
            // A sheet whose name says it holds another figure (`1-9月累计`, `上年同期`)
            // is not the month's report: named, not read.
            if let Some(fig) = heading::figure_mark(&n).filter(|f| *f != heading::Figure::Month) {
                skipped.push(Skipped {
                    file: format!("{}[{n}]", f.rel),
                    reason: format!(
                        "the sheet's name says it holds {}, not the month's figures",
                        fig.describe()
                    ),
                });
                continue;
            }
            // A sheet named by its month (`2026-09`, `2026年9月`) gives the period of
            // rows without one, like a Hive folder, and is checked against those with one.
            let mut partitions = f.partitions.clone();
            if t.has_period() && !partitions.iter().any(|(k, _)| k == "period") {
                let one_month =
                    heading::figure_mark(&n).is_none_or(|f| f == heading::Figure::Month);
                if let (true, Ok((m, _))) = (one_month, Month::parse_lenient(&n)) {
                    partitions.push(("period".to_string(), m.to_string()));
                }
            }
            out.push(SourceFile {
                rel: format!("{}[{n}]", f.rel),
                sheet: Some(n),
                partitions,
                ..f.clone()
            });
        }
    }
    (out, skipped)
}

/// The unknown keys of a table: rows quarantined for a value whose key is sound,
/// and which have no accepted row with the same key (a duplicate's kept copy is known).
fn unknown_keys(t: Table, keys: &[(u32, i32)], accepted: &DataFrame) -> Vec<(u32, i32)> {
    if keys.is_empty() {
        return Vec::new();
    }
    let second = if t == Table::Rd { "year" } else { "period" };
    let have: std::collections::HashSet<(u32, i32)> = match (
        accepted.column("eid").ok().and_then(|c| c.u32().ok()),
        accepted.column(second).ok().and_then(|c| c.i32().ok()),
    ) {
        (Some(e), Some(p)) => e
            .iter()
            .zip(p.iter())
            .filter_map(|(e, p)| Some((e?, p?)))
            .collect(),
        _ => Default::default(),
    };
    let mut out: Vec<(u32, i32)> = keys.iter().copied().filter(|k| !have.contains(k)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What may make the default period not the one meant: rows of a later month that
/// were all quarantined (their month would have been the period), rows whose month
/// cannot be told, and a latest month still filling up.
fn period_warnings(df: &DataFrame, unknown: &[(u32, i32)], p: Month) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let later: std::collections::BTreeSet<i32> = unknown
        .iter()
        .filter(|(_, m)| *m != UNPLACED && *m > p.0)
        .map(|(_, m)| *m)
        .collect();
    if !later.is_empty() {
        let n = unknown
            .iter()
            .filter(|(_, m)| *m != UNPLACED && *m > p.0)
            .count();
        out.push(format!(
            "{n} row(s) of {} were quarantined, so the period under review is {p}; \
             correct them (see quarantine.csv) or give --period",
            later
                .iter()
                .map(|m| Month(*m).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let unplaced = unknown.iter().filter(|(_, m)| *m == UNPLACED).count();
    if unplaced > 0 {
        out.push(format!(
            "{unplaced} row(s) have a period that does not read (see quarantine.csv): \
             if they are the latest month, the period under review {p} is not the one meant"
        ));
    }
    let pe = |e| Error::polars("load", e);
    let periods = df.column("period").map_err(pe)?.i32().map_err(pe)?;
    let n_p = periods.iter().filter(|m| *m == Some(p.0)).count();
    let n_prev = periods.iter().filter(|m| *m == Some(p.0 - 1)).count();
    if n_p * 2 < n_prev {
        out.push(format!(
            "the period under review {p} holds {n_p} report(s) against {n_prev} in {}: \
             reports may still be arriving; give --period {} to audit the last complete month",
            Month(p.0 - 1),
            Month(p.0 - 1)
        ));
    }
    Ok(out)
}

/// The period under review when `--period` is not given: the latest month of
/// `industrial`, unless that month stands apart from the rest of the data (a typo
/// such as `2062-10` for `2026-10`): then the run stops and names its rows.
fn default_period(df: &DataFrame, files: &[SourceFile], uscc_of: &[String]) -> Result<Month> {
    let pe = |e| Error::polars("load", e);
    let periods = df.column("period").map_err(pe)?.i32().map_err(pe)?;
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for p in periods.iter().flatten() {
        *counts.entry(p).or_default() += 1;
    }
    let Some((&latest, &n_latest)) = counts.iter().next_back() else {
        return Err(Error::NoPeriod(
            "the industrial table has no accepted row; give --period YYYY-MM".to_string(),
        ));
    };
    let previous = counts.range(..latest).next_back().map(|(&m, &n)| (m, n));
    // Separated from the month before it by a gap of months while holding fewer than
    // half its rows. (The month right after the last full one is not suspect: during
    // the reporting window it fills up; nor is the computer's clock a judge of it.)
    let apart = previous.is_some_and(|(m, n)| latest - m > 1 && n_latest * 2 < n);
    if !apart {
        return Ok(Month(latest));
    }
    let files_col = df.column("_file").map_err(pe)?.u32().map_err(pe)?;
    let rows_col = df.column("_row").map_err(pe)?.u32().map_err(pe)?;
    let eids = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
    let mut named = Vec::new();
    for i in 0..df.height() {
        if periods.get(i) == Some(latest) {
            let file = files
                .get(files_col.get(i).unwrap_or(0) as usize)
                .map(|f| f.rel.as_str())
                .unwrap_or("?");
            let who = eids
                .get(i)
                .and_then(|e| uscc_of.get(e as usize))
                .map(String::as_str)
                .unwrap_or("?");
            named.push(format!(
                "{file} row {} ({who})",
                rows_col.get(i).unwrap_or(0)
            ));
            if named.len() == 10 {
                break;
            }
        }
    }
    let why = format!(
        "stands apart from the rest of the data (the month before it with rows is {})",
        Month(previous.map(|p| p.0).unwrap_or(latest))
    );
    Err(Error::NoPeriod(format!(
        "the latest month of industrial, {} ({n_latest} row(s)), {why}: is it a typo? \
         The rows: {}{}. Correct them, or give --period YYYY-MM (later rows are then quarantined)",
        Month(latest),
        named.join("; "),
        if n_latest > named.len() { "; …" } else { "" }
    )))
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

/// What reading a file gave: its contract columns, or the reason it was skipped.
enum Read {
    Frame(RawFrame, Option<&'static str>),
    Skipped(String),
}

fn read_file(t: Table, f: &SourceFile) -> Result<Read> {
    let spec = t.spec();
    let supplied: Vec<&str> = f
        .partitions
        .iter()
        .filter_map(|(k, _)| match_heading(spec, k).map(|c| c.name))
        .collect();
    // A workbook saved under a .csv name is read as the workbook it is.
    let format = match f.format {
        Format::Csv if starts_like_workbook(&f.path) => Format::Excel,
        other => other,
    };
    let read = match format {
        Format::Csv => csv::read(&f.path, spec, &supplied).map(|(fr, enc)| {
            let enc = match enc {
                csv::Encoding::Utf8 => "utf-8",
                csv::Encoding::Gb18030 => "gb18030",
            };
            Some((fr, Some(enc)))
        }),
        Format::Parquet => parquet::read(&f.path, spec, &supplied).map(|fr| Some((fr, None))),
        Format::Excel => excel::read(
            &f.path,
            spec,
            &supplied,
            f.sheet.as_deref(),
            f.sheet.is_some(),
        )
        .map(|fr| fr.map(|fr| (fr, None))),
    };
    let (mut frame, enc) = match read {
        Ok(Some(x)) => x,
        Ok(None) => {
            return Ok(Read::Skipped(
                "the sheet's headings are not the table's (no row of its first 20 names two of its columns)"
                    .to_string(),
            ))
        }
        // A file whose name did not say it was the table's, and which turns out not
        // to be: named and skipped, not an error.
        Err(
            e @ (Error::MissingColumns { .. }
            | Error::EmptyFile { .. }
            | Error::NotText { .. }
            | Error::Excel { .. }
            | Error::Parquet { .. }),
        ) if f.sniffed => return Ok(Read::Skipped(e.to_string())),
        Err(e) => return Err(e),
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
    Ok(Read::Frame(frame, enc))
}

fn starts_like_workbook(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && excel::sniff(&head) == excel::Sniffed::Workbook
}

/// A column of units (`计量单位` = `万元` on each row): each row's figures of the
/// unit's dimension, in columns whose heading gives no unit, are converted with its
/// row's factor. A text that is not a known unit stops the file.
fn apply_unit_column(
    f: &SourceFile,
    frame: &RawFrame,
    spec: &'static crate::model::schema::TableSpec,
    cols: &mut [Column],
    mut units: Vec<UnitConversion>,
) -> Result<Vec<UnitConversion>> {
    use heading::{dimension, parse_unit, Dimension};
    let Some((head, texts)) = &frame.unit_column else {
        return Ok(units);
    };
    let n = frame.rows.len();
    let mut per_dim: BTreeMap<
        &'static str,
        (Dimension, Vec<f64>, std::collections::BTreeSet<String>),
    > = BTreeMap::new();
    // Each distinct text is read once (a column of units repeats a few values).
    let mut read: HashMap<&str, Option<heading::Unit>> = HashMap::new();
    for (i, t) in texts.iter().enumerate() {
        if t.trim().is_empty() || parse::is_null_word(t) {
            continue;
        }
        let u = read
            .entry(t.as_str())
            .or_insert_with(|| parse_unit(t).ok().flatten())
            .clone();
        let u = match u {
            Some(u) => u,
            None => {
                return Err(Error::Layout {
                    path: f.path.clone(),
                    message: format!(
                        "the unit column '{}' holds '{}' (row {}), a unit zhibao does not know; \
                         money is converted from 元, 千元, 万元, 百万元, 亿元",
                        head.trim(),
                        t.trim(),
                        frame.rows.get(i).copied().unwrap_or(0)
                    ),
                })
            }
        };
        let key = match u.dimension {
            Dimension::Money => "money",
            Dimension::Electricity => "electricity",
            Dimension::Energy => "energy",
            Dimension::Persons => "persons",
            Dimension::None => continue,
        };
        let e = per_dim
            .entry(key)
            .or_insert_with(|| (u.dimension, vec![1.0; n], Default::default()));
        e.1[i] = u.factor;
        e.2.insert(u.text.clone());
    }
    for col in spec.columns {
        if col.kind != Kind::Num || units.iter().any(|u| u.column == col.name) {
            continue;
        }
        let Some((_, factors, seen)) = per_dim.values().find(|(d, _, _)| *d == dimension(col))
        else {
            continue;
        };
        let Some(c) = cols.iter_mut().find(|c| c.name().as_str() == col.name) else {
            continue;
        };
        let fs = Series::new("factor".into(), factors.clone());
        let converted = (c.as_materialized_series() * &fs)
            .map_err(|e| Error::polars("load", e))?
            .with_name(col.name.into());
        *c = converted.into_column();
        units.push(UnitConversion {
            file: f.rel.clone(),
            column: col.name,
            heading: head.trim().to_string(),
            unit: seen.iter().cloned().collect::<Vec<_>>().join("/"),
            source: "unit column",
            factor: if factors.windows(2).all(|w| w[0] == w[1]) {
                factors.first().copied().unwrap_or(1.0)
            } else {
                f64::NAN
            },
        });
    }
    Ok(units)
}

/// One file, read and typed.
struct FileLoad {
    df: DataFrame,
    info: FileInfo,
    quarantine: Vec<QuarantineRow>,
    notes: Vec<QuarantineRow>,
    repairs: Repairs,
    rejected_keys: Vec<(String, String)>,
    /// Keys (eid, period) of rows quarantined for a value.
    unknown: Vec<(u32, i32)>,
    units: Vec<UnitConversion>,
}

/// A file of a table: loaded, or not the table's (a sheet of notes…) and skipped.
enum Loaded {
    File(Box<FileLoad>),
    Skipped(Skipped),
}

/// A value's rejection, before it becomes a quarantine line.
type Fault = (&'static str, String, String);

/// Checks a typed row cannot pass by type alone: a Hive folder's value the row
/// contradicts, a quarterly table's month that is not a quarter's end.
fn row_checks(
    t: Table,
    f: &SourceFile,
    frame: &RawFrame,
    cols: &[Column],
    register: Option<&Register>,
    first_error: &mut HashMap<usize, Fault>,
) {
    let spec = t.spec();
    for (k, v) in &f.partitions {
        let Some(col) = match_heading(spec, k) else {
            continue;
        };
        // Only when the file has the column itself (else the folder supplied it).
        let Some((_, raw)) = frame.columns.iter().find(|(c, _)| c.name == col.name) else {
            continue;
        };
        if matches!(raw, RawColumn::Constant(..)) {
            continue;
        }
        let folder = parse_column(
            col,
            &RawColumn::Cells(vec![Cell::Text(v.clone())]),
            register,
            &mut Repairs::new(),
        );
        let Ok(fv) = folder.series.get(0).map(|v| v.into_static()) else {
            continue;
        };
        if fv.is_null() {
            continue;
        }
        let name = if col.kind == Kind::Uscc && register.is_some() {
            "eid"
        } else {
            col.name
        };
        let Some(c) = cols.iter().find(|c| c.name().as_str() == name) else {
            continue;
        };
        // One vectorised comparison; only the rows that differ are looked at.
        let differ: Vec<usize> = match c
            .as_materialized_series()
            .not_equal(&folder.series.new_from_index(0, 1))
        {
            Ok(mask) => mask
                .iter()
                .enumerate()
                .filter_map(|(i, d)| (d == Some(true)).then_some(i))
                .collect(),
            Err(_) => (0..c.len()).collect(),
        };
        for pos in differ {
            let Ok(rv) = c.get(pos) else { continue };
            if !rv.is_null() && rv != fv {
                let shown = match (&rv, col.kind) {
                    (AnyValue::Int32(m), Kind::Month) => Month(*m).to_string(),
                    (other, _) => other.to_string().trim_matches('"').to_string(),
                };
                first_error.entry(pos).or_insert((
                    col.name,
                    shown.clone(),
                    format!(
                        "{} {shown} contradicts the {k}={v} of its folder or sheet; which is right cannot be told",
                        col.name
                    ),
                ));
            }
        }
    }
    if t == Table::Labor {
        if let Some(c) = cols.iter().find(|c| c.name().as_str() == "period") {
            if let Ok(ca) = c.i32() {
                for (pos, m) in ca.iter().enumerate() {
                    let Some(m) = m else { continue };
                    let month = Month(m);
                    if !month.is_quarter_end() {
                        first_error.entry(pos).or_insert((
                            "period",
                            month.to_string(),
                            format!(
                                "labor is quarterly: its period is the quarter's last month (03, 06, 09, 12), not {month}"
                            ),
                        ));
                    }
                }
            }
        }
    }
}

/// Share of a file's rows that one column may quarantine before the file is
/// stopped as a structural fault (a wrong layout, unit or code list), when the file
/// has at least [`STRUCTURAL_MIN_ROWS`] rows.
const STRUCTURAL_SHARE: f64 = 0.5;
/// Smallest file judged for structural faults.
const STRUCTURAL_MIN_ROWS: usize = 20;

/// Stops a file in which one column rejects most rows: a fault of the file (layout,
/// encoding, a code list), not of its rows. Enterprises not in the register are
/// left out: a register that lacks them is the register's fault, and each row says so.
fn structural_fault(
    f: &SourceFile,
    n: usize,
    first_error: &HashMap<usize, Fault>,
    spec_cols: &[ColumnSpec],
) -> Result<()> {
    if n < STRUCTURAL_MIN_ROWS {
        return Ok(());
    }
    let mut by_col: BTreeMap<&str, Vec<(usize, &String, &String)>> = BTreeMap::new();
    for (pos, (c, v, why)) in first_error {
        if why.contains("not in the enterprise register") || why.contains("is not in the register")
        {
            continue;
        }
        by_col.entry(c).or_default().push((*pos, v, why));
    }
    for (c, mut errs) in by_col {
        if (errs.len() as f64) < STRUCTURAL_SHARE * n as f64 {
            continue;
        }
        errs.sort_by_key(|e| e.0);
        let examples: Vec<String> = errs
            .iter()
            .take(3)
            .map(|(_, v, why)| format!("'{v}': {why}"))
            .collect();
        let expected = spec_cols
            .iter()
            .find(|s| s.name == c)
            .map(|s| s.kind.describe())
            .unwrap_or("a valid value");
        return Err(Error::Layout {
            path: f.path.clone(),
            message: format!(
                "{} of {n} rows fail on column {c} ({expected} expected), e.g. {}; a fault of the whole file \
                 (layout, encoding, codes or units), so it is stopped rather than quarantined row by row",
                errs.len(),
                examples.join("; ")
            ),
        });
    }
    Ok(())
}

/// Reads and types one file of a table.
fn load_file(
    t: Table,
    f: &SourceFile,
    file_idx: usize,
    register: Option<&Register>,
) -> Result<Loaded> {
    let spec = t.spec();
    let (frame, encoding) = match read_file(t, f)? {
        Read::Frame(fr, enc) => (fr, enc),
        Read::Skipped(reason) => {
            return Ok(Loaded::Skipped(Skipped {
                file: f.rel.clone(),
                reason,
            }))
        }
    };
    let info = FileInfo {
        file: f.rel.clone(),
        format: match f.format {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Excel => "excel",
        },
        encoding,
        rows_read: frame.rows_read(),
        notes: frame.notes.clone(),
    };
    let mut repairs = Repairs::new();
    for (k, n) in &frame.repairs {
        *repairs.entry(k).or_default() += n;
    }
    let quarantined = |row: u32, column: String, value: String, reason: String| QuarantineRow {
        table: t,
        file: f.rel.clone(),
        row,
        column,
        value,
        reason,
    };
    let mut quarantine: Vec<QuarantineRow> = frame
        .rejects
        .iter()
        .map(|r| quarantined(r.row, r.column.clone(), r.value.clone(), r.reason.clone()))
        .collect();
    let units: Vec<UnitConversion> = frame
        .units
        .iter()
        .map(|u| UnitConversion {
            file: f.rel.clone(),
            ..u.clone()
        })
        .collect();

    // Type every contract column; optional ones the file lacks become nulls.
    let n = frame.rows.len();
    let mut first_error: HashMap<usize, Fault> = HashMap::new();
    let mut notes = Vec::new();
    let mut cols: Vec<Column> = Vec::with_capacity(spec.columns.len() + 2);
    for col in spec.columns {
        let typed = typed_column(col, &frame, register, &mut repairs, &units);
        for r in typed.rejected {
            if col.required {
                first_error
                    .entry(r.pos)
                    .or_insert((col.name, r.value, r.reason));
            } else {
                // An optional value that does not parse is missing; the row stays.
                notes.push(quarantined(
                    frame.rows.get(r.pos).copied().unwrap_or(0),
                    col.name.to_string(),
                    r.value,
                    format!(
                        "{}; {} is optional: the value is read as missing and the row is kept",
                        r.reason, col.name
                    ),
                ));
            }
        }
        cols.push(typed.column);
    }
    let units = apply_unit_column(f, &frame, spec, &mut cols, units)?;
    // A fault of the file shows in values that do not read; the rules of the table
    // checked below (a row against its folder, a labour month) quarantine row by row
    // however many rows they concern.
    structural_fault(f, n + frame.rejects.len(), &first_error, spec.columns)?;
    row_checks(t, f, &frame, &cols, register, &mut first_error);
    cols.push(Column::new_scalar(
        "_file".into(),
        Scalar::from(file_idx as u32),
        n,
    ));
    cols.push(Column::new("_row".into(), frame.rows));
    let df = DataFrame::new(n, cols).map_err(|e| Error::polars("load", e))?;
    let faulty = without_faulty_rows(t, df, first_error, register.is_some())?;
    quarantine.extend(
        faulty
            .rows
            .into_iter()
            .map(|(row, column, value, reason)| quarantined(row, column, value, reason)),
    );
    Ok(Loaded::File(Box::new(FileLoad {
        df: faulty.df,
        info,
        quarantine,
        notes,
        repairs,
        rejected_keys: faulty.rejected_keys,
        unknown: faulty.unknown,
        units,
    })))
}

/// A contract column typed, with its rejected values.
struct TypedColumn {
    column: Column,
    rejected: Vec<Rejected>,
}

/// Contract column `col` of a file: typed, in the contract's unit (`units`); all
/// nulls when the file lacks it (an optional column).
fn typed_column(
    col: &'static ColumnSpec,
    frame: &RawFrame,
    register: Option<&Register>,
    repairs: &mut Repairs,
    units: &[UnitConversion],
) -> TypedColumn {
    let Some((_, raw)) = frame.columns.iter().find(|(c, _)| c.name == col.name) else {
        let as_eid = col.kind == Kind::Uscc && register.is_some();
        let name = if as_eid { "eid" } else { col.name };
        return TypedColumn {
            column: Column::full_null(name.into(), frame.rows.len(), &dtype_of(col.kind, as_eid)),
            rejected: Vec::new(),
        };
    };
    let typed = parse_column(col, raw, register, repairs);
    let mut series = typed.series;
    if let Some(u) = units.iter().find(|u| u.column == col.name) {
        if u.factor != 1.0 && col.kind == Kind::Num {
            series = (&series * u.factor).with_name(series.name().clone());
        }
    }
    TypedColumn {
        column: series.into_column(),
        rejected: typed.rejected,
    }
}

/// A file's rows with a fault taken out.
struct WithoutFaulty {
    df: DataFrame,
    /// (row, column, value, reason) of each row taken out.
    rows: Vec<(u32, String, String, String)>,
    /// The USCCs of the register's rows taken out, with the reason.
    rejected_keys: Vec<(String, String)>,
    /// Keys (eid, period) of the rows taken out for a value: a record exists, its
    /// value is unknown.
    unknown: Vec<(u32, i32)>,
}

/// Takes out of `df` the rows with a fault (`first_error`, by position).
fn without_faulty_rows(
    t: Table,
    df: DataFrame,
    first_error: HashMap<usize, Fault>,
    with_register: bool,
) -> Result<WithoutFaulty> {
    let mut out = WithoutFaulty {
        df: DataFrame::empty(),
        rows: Vec::new(),
        rejected_keys: Vec::new(),
        unknown: Vec::new(),
    };
    if first_error.is_empty() {
        out.df = df;
        return Ok(out);
    }
    let mut errs: Vec<_> = first_error.into_iter().collect();
    errs.sort_by_key(|(pos, _)| *pos);
    let mut keep = vec![true; df.height()];
    let usccs = (t == Table::Enterprises)
        .then(|| df.column("uscc").ok().and_then(|c| c.str().ok().cloned()))
        .flatten();
    let second = if t == Table::Rd { "year" } else { "period" };
    let key_cols = (with_register && key_columns(t) == ["eid", second])
        .then(|| {
            Some((
                df.column("eid").ok()?.u32().ok()?.clone(),
                df.column(second).ok()?.i32().ok()?.clone(),
            ))
        })
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
            out.rejected_keys
                .push((u.to_string(), format!("{col}: {reason}")));
        }
        if let Some((e, p)) = &key_cols {
            let is_key = col == "uscc" || col == second;
            match (is_key, e.get(pos), p.get(pos)) {
                (false, Some(e), Some(p)) => out.unknown.push((e, p)),
                // The period itself does not read (`2026-13`): a record of the
                // enterprise whose month cannot be told.
                (true, Some(e), None) if col == second => out.unknown.push((e, UNPLACED)),
                _ => {}
            }
        }
        out.rows
            .push((rows.get(pos).unwrap_or(0), col.to_string(), value, reason));
    }
    let mask = BooleanChunked::from_slice("keep".into(), &keep);
    out.df = df.filter(&mask).map_err(|e| Error::polars("load", e))?;
    Ok(out)
}

/// USCCs of register rows rejected for another column, with the reason.
type RejectedUsccs = Vec<(String, String)>;

/// A table, read and typed.
struct TableLoad {
    df: DataFrame,
    stats: TableStats,
    rejected_keys: RejectedUsccs,
    unknown: Vec<(u32, i32)>,
}

/// Reads, types and concatenates the files of one table (several files in
/// parallel). For the register, the USCCs of rows rejected for another column are
/// returned with their reason, so that the submissions of those enterprises can say
/// why they are not recognised.
fn load_table(
    t: Table,
    files: &[SourceFile],
    register: Option<&Register>,
    quarantine: &mut Vec<QuarantineRow>,
    notes: &mut Vec<QuarantineRow>,
) -> Result<TableLoad> {
    use rayon::prelude::*;
    let loads: Vec<Result<Loaded>> = files
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
    let mut unknown = Vec::new();
    let mut frames: Vec<DataFrame> = Vec::with_capacity(loads.len());
    for l in loads {
        let l = l?;
        let l = match l {
            Loaded::File(l) => l,
            Loaded::Skipped(s) => {
                st.skipped.push(s);
                continue;
            }
        };
        st.rows_read += l.info.rows_read;
        st.rows_quarantined += l.quarantine.len() as u64;
        st.values_set_missing += l.notes.len() as u64;
        st.files.push(l.info);
        st.units.extend(l.units);
        quarantine.extend(l.quarantine);
        notes.extend(l.notes);
        for (k, n) in l.repairs {
            *repairs.entry(k).or_default() += n;
        }
        rejected_keys.extend(l.rejected_keys);
        unknown.extend(l.unknown);
        frames.push(l.df);
    }
    if frames.is_empty() {
        // Every file of the table was skipped.
        return Err(Error::Layout {
            path: files.first().map(|f| f.path.clone()).unwrap_or_default(),
            message: format!(
                "no file of table '{t}' could be read: {}",
                st.skipped
                    .iter()
                    .map(|s| format!("{}: {}", s.file, s.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    let mut it = frames.into_iter();
    let mut df = it.next().expect("at least one frame was read");
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
    Ok(TableLoad {
        df,
        stats: st,
        rejected_keys,
        unknown,
    })
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
    if in_key_order(&df, t) {
        return Ok(df);
    }
    // Monthly files read in path order (Hive folders) already come in month order:
    // then a stable sort by enterprise gives enterprise-and-month order.
    if key_columns(t) == ["eid", "period"] && df.height() > 0 {
        let periods = df.column("period").map_err(pe)?.i32().map_err(pe)?;
        let ordered = periods
            .iter()
            .zip(periods.iter().skip(1))
            .all(|(a, b)| a <= b);
        let eids = df.column("eid").map_err(pe)?.u32().map_err(pe)?.rechunk();
        if let (true, Ok(eids)) = (ordered && eids.null_count() == 0, eids.cont_slice()) {
            let idx = stable_order_by(eids);
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

/// The rows in the order of their `keys`, rows of equal keys in their own
/// order: a least-significant-digit radix sort, eleven bits a pass. Each pass
/// reads in order and writes to 2,048 places at a time, which stay in the
/// cache; a counting sort by the whole key writes every row to a place of its
/// own, a cache miss each for tens of millions of rows.
fn stable_order_by(keys: &[u32]) -> Vec<IdxSize> {
    const BITS: u32 = 11;
    let top = keys.iter().copied().max().unwrap_or(0);
    let passes = (32 - top.leading_zeros()).div_ceil(BITS).max(1);
    let mut a: Vec<u64> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| u64::from(k) << 32 | i as u64)
        .collect();
    let mut b = vec![0u64; a.len()];
    let mask = (1u64 << BITS) - 1;
    for pass in 0..passes {
        let shift = 32 + pass * BITS;
        let mut at = vec![0usize; 1 << BITS];
        for x in &a {
            at[(x >> shift & mask) as usize] += 1;
        }
        let mut sum = 0;
        for c in at.iter_mut() {
            (*c, sum) = (sum, sum + *c);
        }
        for &x in &a {
            let slot = &mut at[(x >> shift & mask) as usize];
            b[*slot] = x;
            *slot += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    a.into_iter().map(|x| x as u32 as IdxSize).collect()
}

/// Whether a frame keyed by enterprise and time (`eid` and `period`, or
/// `year`) is already in that order, without nulls in either.
fn in_key_order(df: &DataFrame, t: Table) -> bool {
    let ["eid", second] = key_columns(t) else {
        return false;
    };
    let (Ok(e), Ok(m)) = (df.column("eid"), df.column(second)) else {
        return false;
    };
    let (Ok(e), Ok(m)) = (e.u32(), m.i32()) else {
        return false;
    };
    if e.null_count() > 0 || m.null_count() > 0 {
        return false;
    }
    let (e, m) = (e.rechunk(), m.rechunk());
    let (Ok(e), Ok(m)) = (e.cont_slice(), m.cont_slice()) else {
        return false;
    };
    e.windows(2)
        .zip(m.windows(2))
        .all(|(a, b)| (a[0], b[0]) <= (a[1], b[1]))
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
) -> Result<(DataFrame, Vec<QuarantineRow>, Vec<Key>)> {
    let pe = |e| Error::polars("load", e);
    let (col, limit, show): (&str, i32, fn(i32) -> String) = if t == Table::Rd {
        ("year", period.year(), |y| y.to_string())
    } else if t.has_period() {
        ("period", period.0, |m| Month(m).to_string())
    } else {
        return Ok((df, Vec::new(), Vec::new()));
    };
    let vals = df.column(col).map_err(pe)?.i32().map_err(pe)?.clone();
    let late = vals.gt(limit);
    if !late.any() {
        return Ok((df, Vec::new(), Vec::new()));
    }
    let mut late_keys = Vec::new();
    let files_col = df.column("_file").map_err(pe)?.u32().map_err(pe)?.clone();
    let rows_col = df.column("_row").map_err(pe)?.u32().map_err(pe)?.clone();
    let eids = df.column("eid").ok().and_then(|c| c.u32().ok().cloned());
    let mut out = Vec::new();
    for (i, l) in late.iter().enumerate() {
        if l != Some(true) {
            continue;
        }
        let v = vals.get(i).unwrap_or(0);
        if let Some(e) = eids.as_ref().and_then(|e| e.get(i)) {
            late_keys.push((e, v));
        }
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
    Ok((df.filter(&keep).map_err(pe)?, out, late_keys))
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
    let ids = parse::UsccIds::new(
        ca.iter()
            .enumerate()
            .filter_map(|(i, u)| Some((u?, i as u32))),
    );
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
    let perr = |source: PolarsError| Error::Parquet {
        path: path.to_path_buf(),
        source,
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

/// The rows of one submitted table, checked as [`load`] checks a table of a data
/// directory (see [`check_submission`]).
pub struct Submitted {
    /// The accepted rows, typed, with the loaded schema of the table (`eid` numbered
    /// as in the register given; the register itself has no `eid`).
    pub df: DataFrame,
    /// Rows rejected, with their reason.
    pub quarantine: Vec<QuarantineRow>,
    /// Values of optional columns read as missing (the rows were kept).
    pub notes: Vec<QuarantineRow>,
    /// Rows read.
    pub rows_read: u64,
}

/// Checks the files of table `t` in `dir` (one submission written there) exactly as
/// a data directory's table is checked: headings (Chinese or English, units),
/// types, keys against `enterprises` (the register loaded, `eid` = position),
/// duplicates within the submission, and rows after `period` when it is given.
pub fn check_submission(
    dir: &Path,
    t: Table,
    enterprises: &DataFrame,
    period: Option<Month>,
) -> Result<Submitted> {
    let register = register_of(enterprises)?;
    let uscc_of: Vec<String> = enterprises
        .column("uscc")
        .map_err(|e| Error::polars("load", e))?
        .str()
        .map_err(|e| Error::polars("load", e))?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect();
    check_submission_with(dir, t, &register, &uscc_of, period)
}

/// The register of a loaded `enterprises` table (`eid` = position), as the
/// other tables' keys are checked against it.
pub fn register_of(enterprises: &DataFrame) -> Result<Register> {
    build_register(enterprises, Vec::new())
}

/// [`check_submission`] with the register and the USCC of each `eid` at hand.
pub fn check_submission_with(
    dir: &Path,
    t: Table,
    register: &Register,
    uscc_of: &[String],
    period: Option<Month>,
) -> Result<Submitted> {
    let pe = |e| Error::polars("load", e);
    let (files, skipped) = source::discover(dir, t)?;
    let (files, _) = expand_sheets(t, files);
    if files.is_empty() {
        let why = skipped
            .first()
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| "no rows".to_string());
        return Err(Error::Usage(format!("the body is not a {t} table: {why}")));
    }
    let mut quarantine = Vec::new();
    let mut notes = Vec::new();
    let register = (t != Table::Enterprises).then_some(register);
    let lt = load_table(t, &files, register, &mut quarantine, &mut notes)?;
    let rows_read = lt.stats.rows_read;
    let (df, dq) = dedup(lt.df, t, &files, uscc_of)?;
    quarantine.extend(dq);
    let df = match period {
        Some(p) => {
            let (df, late, _) = drop_after_period(df, t, &files, uscc_of, p)?;
            quarantine.extend(late);
            df
        }
        None => df,
    };
    let df = if t == Table::Enterprises {
        df.drop_many(["_file", "_row"])
    } else {
        df.drop_many(["_file", "_row"])
            .select(internal_columns(t))
            .map_err(pe)?
    };
    quarantine.sort();
    notes.sort();
    Ok(Submitted {
        df,
        quarantine,
        notes,
        rows_read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_radix_order_is_a_stable_sort() {
        let mut x = 99u64;
        let mut next = |range: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % range
        };
        for range in [1, 5, 3000, 1 << 23, u32::MAX as u64 + 1] {
            let keys: Vec<u32> = (0..20_000).map(|_| next(range) as u32).collect();
            let mut want: Vec<IdxSize> = (0..keys.len() as IdxSize).collect();
            want.sort_by_key(|&i| keys[i as usize]);
            assert_eq!(stable_order_by(&keys), want, "keys below {range}");
        }
        assert!(stable_order_by(&[]).is_empty());
    }
}
