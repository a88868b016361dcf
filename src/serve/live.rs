//! The live state of `zhibao serve`: the batch as it stands (history and every
//! submission), the last full audit of it (the snapshot), and the work of one
//! submission: check, store, apply, audit the enterprise.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use serde_json::{json, Map, Value};

use super::store::{now_iso, Store};
use super::users::User;
use crate::audit::{self, AuditOptions};
use crate::error::{Error, Result};
use crate::grade;
use crate::load::{self, Batch, LoadOptions, QuarantineRow};
use crate::model::{Month, Table};
use crate::pipeline::Pipeline;
use crate::report;
use crate::rules::engine::RuleRun;
use crate::rules::{self, Checked};

/// Rules whose result depends on other enterprises (peer medians, HB quartiles,
/// Benford, county totals): an answer takes them from the last full audit.
/// LB002 and EN002 net out their peers' median change; IN008, IN009, IV007 and
/// SV001 are Hidiroglou–Berthelot outliers against their group's quartiles;
/// IN011 and LB003 are judged against their industry's median; IN012 compares
/// enterprises with each other; RD006 and RD007 are scored against their
/// division; RD010 is a change net of its industry's median; TX003 and TX004 are
/// a county's; AV004–AV006 anticipate from their division's changes and
/// each period's fitted mixture.
pub const PEER_RULES: [&str; 19] = [
    "BF001", "BF002", "IN011", "IN012", "LB003", "RD010", "TX004", "EN002", "IN008", "IN009",
    "IV007", "LB002", "RD006", "RD007", "SV001", "TX003", "AV004", "AV005", "AV006",
];

/// The checks that compare an enterprise with others through statistics the last
/// full audit keeps (`peer_stats/` beside its snapshot): an answer runs them now,
/// on the new figures, against those statistics. TX001 and TX002 judge a month
/// only once the tax authority's records of it cover enough enterprises; which
/// months do is the statistic. LB001, SV002, EN001 and IV008 score a robust z
/// against their peer groups; each group's median, count and MAD are the
/// statistics. IN004 and IN005 net out their division's median change, and are
/// explained by the anticipation; AV001 and AV002 are the anticipation's: its
/// statistics are the peers' year-on-year changes and spreads per group and
/// month, the pooled spreads of the own VAT and electricity ratios, and each
/// month's fitted mixture. Should a statistic be missing (a snapshot of another
/// period), the rule's findings are taken from the last full audit, as for
/// [`PEER_RULES`].
pub const LIVE_PEER_RULES: [&str; 10] = [
    "TX001", "TX002", "LB001", "SV002", "EN001", "IV008", "AV001", "AV002", "IN004", "IN005",
];

/// Own checks (run on the group's rows in every month of an answer) that read
/// one figure of the whole table: SV003 draws an enterprise's query error rate
/// towards the rate of all recent queries, IV003 tells a new project from one
/// older than the data by the first month of the investment table. The full
/// audit keeps that figure with the peer statistics, and an answer at their
/// period reads it; elsewhere the group's own rows give it.
pub const OWN_RULES_WITH_KEPT_FIGURES: [&str; 2] = ["SV003", "IV003"];

/// Where a full audit keeps its peer statistics, beside its snapshot.
const PEER_STATS_DIR: &str = "peer_stats";

/// The file a submission's rows are written to in an exported data directory.
pub const SUBMISSIONS_FILE: &str = "zz-service-submissions.csv";

/// An answer that is not `200`.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with the reason.
    BadRequest(String),
    /// 403.
    Forbidden,
    /// 404 with what was not found.
    NotFound(String),
    /// 500.
    Internal(String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

/// What the service was started with.
#[derive(Clone)]
pub struct Config {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Its file (handed to the full audits).
    pub pipeline_path: Option<PathBuf>,
    /// The period under review, when fixed.
    pub period: Option<Month>,
    /// Seed of the query list's sampling.
    pub seed: u64,
    /// Working directory (exports and audits), under `--state`.
    pub work: PathBuf,
    /// The state directory.
    pub state: PathBuf,
    /// This program, to run the background refreshes in a process of their own
    /// (`None`: in this one).
    pub refresh_exe: Option<PathBuf>,
}

/// The last full audit of the state: what `zhibao audit` gives on its export.
pub struct Snapshot {
    /// `findings.parquet`.
    pub findings: DataFrame,
    /// `grades.parquet`.
    pub grades: DataFrame,
    /// `query_list.csv`.
    pub query_list: DataFrame,
    /// `scorecard.csv`.
    pub scorecard: DataFrame,
    /// When the audit finished (ISO-8601).
    pub refreshed_at: String,
    /// The state's generation it audited.
    pub generation: u64,
    /// Its output directory.
    pub out: PathBuf,
    /// Its period under review.
    pub period: Month,
    /// The grade state each enterprise started the period with (by USCC).
    pub states: HashMap<String, grade::State>,
    /// The peer statistics of [`LIVE_PEER_RULES`] at its period.
    pub peers: Arc<rules::PeerStats>,
    /// Whether it was computed under the server's pipeline (the pipeline file
    /// may have been edited since the start): only then are its findings taken
    /// for checks an answer does not run again.
    pub same_pipeline: bool,
}

/// The state each enterprise started the period with, from `grades.parquet`.
fn states_of(grades: &DataFrame) -> HashMap<String, grade::State> {
    let mut out = HashMap::new();
    let (Ok(u), Ok(g), Ok(c)) = (
        grades.column("uscc").and_then(|c| c.str().cloned()),
        grades
            .column("previous_grade")
            .and_then(|c| c.str().cloned()),
        grades
            .column("previous_clean_months")
            .and_then(|c| c.cast(&DataType::UInt32))
            .and_then(|c| c.u32().cloned()),
    ) else {
        return out;
    };
    for i in 0..grades.height() {
        if let (Some(u), Some(g)) = (u.get(i), g.get(i).and_then(grade::Grade::parse)) {
            out.insert(
                u.to_string(),
                grade::State {
                    grade: g,
                    clean_months: c.get(i).unwrap_or(0),
                },
            );
        }
    }
    out
}

/// One submission, as received.
pub struct Request {
    /// The table.
    pub table: Table,
    /// The body.
    pub body: Vec<u8>,
    /// JSON (else CSV).
    pub is_json: bool,
    /// Who sent it.
    pub user: User,
    /// An explanation stored with the rows (verification outcomes).
    pub note: Option<String>,
}

/// What a body is checked against: the register as of the last reload of the
/// state. It is shared with the request handlers, so that a body is checked on
/// its request's own thread while the writer audits the group before it.
pub struct Checker {
    register: load::Register,
    uscc_of: Vec<String>,
    period: Option<Month>,
    work: PathBuf,
    /// Which reload of the state it is: a body checked by another version may
    /// number its enterprises differently, and is checked again by the writer.
    pub version: u64,
    scratch: std::sync::atomic::AtomicU64,
}

/// A body checked by a [`Checker`] of some version.
pub type Prechecked = (u64, std::result::Result<load::Submitted, ApiError>);

impl Checker {
    /// Checks a body with the loader, as the writer would.
    pub fn check(&self, req: &Request) -> Prechecked {
        let n = self
            .scratch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = self.work.join(format!("checking-{}-{n}", self.version));
        let checked = Live::check(req, &dir, &self.register, &self.uscc_of, self.period);
        (self.version, checked)
    }
}

/// A submission checked, before it is stored.
struct Prepared {
    table: Table,
    df: DataFrame,
    quarantine: Vec<QuarantineRow>,
    rows: Vec<Map<String, Value>>,
    keys: Vec<String>,
    periods: BTreeSet<String>,
    usccs: BTreeSet<String>,
    user: String,
    reload: bool,
}

/// The live state.
pub struct Live {
    /// The database.
    pub store: Store,
    /// Settings.
    pub cfg: Config,
    /// Every table as it stands.
    pub batch: Batch,
    /// The last full audit.
    pub snap: Arc<Snapshot>,
    /// Changes accepted since start.
    pub generation: u64,
    runs: u64,
    /// Enterprise id and county by USCC.
    index: HashMap<String, (u32, String)>,
    /// Per table, where each key and each enterprise's rows sit.
    positions: HashMap<Table, Positions>,
    /// Revisions of every industrial row held, by (enterprise id, period).
    revisions: HashMap<(u32, i32), i64>,
    /// What bodies are checked against, as of the last reload.
    pub checker: Arc<Checker>,
    /// Each own rule's recent time on a submission group (ms, a moving average),
    /// to share the rules of the next group fairly between two threads.
    rule_ms: HashMap<&'static str, f64>,
    /// The generation that last changed each enterprise's rows of each table
    /// (since the last reload).
    changed_at: HashMap<(u32, Table), u64>,
    /// The generation of the last reload (enterprise ids may have moved).
    reloaded_at: u64,
    /// The checks of the last answer taken from the last full audit instead of
    /// being run, none of their tables having changed since (the peer rules
    /// aside, which always are).
    pub taken_from_snapshot: Vec<&'static str>,
}

/// `df` with the columns of `like`, in its order and types (to stack onto it).
fn cast_like(df: DataFrame, like: &DataFrame) -> Result<DataFrame> {
    df.lazy()
        .select(
            like.schema()
                .iter()
                .map(|(n, dt)| col(n.clone()).cast(dt.clone()))
                .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(pe)
}

/// Revisions of the rows of an industrial table, by (enterprise id, period).
fn revisions_of(df: &DataFrame) -> Result<HashMap<(u32, i32), i64>> {
    let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
    let p = df.column("period").map_err(pe)?.i32().map_err(pe)?;
    let r = df.column("revisions").map_err(pe)?.i64().map_err(pe)?;
    Ok(e.iter()
        .zip(p.iter())
        .zip(r.iter())
        .filter_map(|((e, p), r)| Some(((e?, p?), r.unwrap_or(0))))
        .collect())
}

/// A row's key: `eid << 32 | period` (or year) where the key is an enterprise's,
/// else the key columns' text (an investment project's).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RowKey {
    Exact(u64),
    Text(Box<str>),
}

/// The key of each row of `df`, a table `t` of the batch.
fn row_keys(df: &DataFrame, t: Table) -> Result<Vec<RowKey>> {
    let keys = load::key_columns(t);
    if let ["eid", second] = keys {
        let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let m = df.column(second).map_err(pe)?.i32().map_err(pe)?;
        return Ok(e
            .iter()
            .zip(m.iter())
            .map(|(e, m)| {
                RowKey::Exact(
                    ((e.unwrap_or(u32::MAX) as u64) << 32) | (m.unwrap_or(0) as u32 as u64),
                )
            })
            .collect());
    }
    let cols: Vec<&Column> = keys
        .iter()
        .map(|k| df.column(k))
        .collect::<PolarsResult<_>>()
        .map_err(pe)?;
    Ok((0..df.height())
        .map(|i| {
            let text: Vec<String> = cols
                .iter()
                .map(|c| c.get(i).map(|v| v.to_string()).unwrap_or_default())
                .collect();
            RowKey::Text(text.join("|").into())
        })
        .collect())
}

/// Where each key and each enterprise's rows sit in one table of the live batch.
/// A revision appends its row and retires the row it replaces (left in the table
/// until the table is compacted), so that applying a submission and reading an
/// enterprise cost that enterprise's rows, not the table's.
#[derive(Default)]
struct Positions {
    /// The live row of each key, and its enterprise.
    by_key: HashMap<RowKey, (IdxSize, u32)>,
    /// The live rows of each enterprise.
    by_eid: HashMap<u32, Vec<IdxSize>>,
    /// Rows replaced by a later one.
    retired: usize,
}

impl Positions {
    /// The positions of a table as it stands (a key held twice: the later row).
    fn of(df: &DataFrame, t: Table) -> Result<Positions> {
        let mut p = Positions::default();
        p.add(&row_keys(df, t)?, &eids_of(df)?, 0);
        Ok(p)
    }

    /// Rows appended at `base..`: a key already held retires its row. Returns the
    /// enterprises whose rows were retired (a project's rows may move from one
    /// enterprise to another).
    fn add(&mut self, keys: &[RowKey], eids: &[u32], base: IdxSize) -> Vec<u32> {
        let mut retired = Vec::new();
        for (j, (k, e)) in keys.iter().zip(eids).enumerate() {
            let at = base + j as IdxSize;
            if let Some((old, old_e)) = self.by_key.insert(k.clone(), (at, *e)) {
                if let Some(rows) = self.by_eid.get_mut(&old_e) {
                    rows.retain(|r| *r != old);
                }
                retired.push(old_e);
            }
            self.by_eid.entry(*e).or_default().push(at);
        }
        self.retired += retired.len();
        retired
    }

    /// The live rows of some enterprises, in table order.
    fn rows_of(&self, eids: &[u32]) -> Vec<IdxSize> {
        let mut rows: Vec<IdxSize> = eids
            .iter()
            .filter_map(|e| self.by_eid.get(e))
            .flatten()
            .copied()
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }

    /// Every live row, in table order.
    fn live(&self) -> Vec<IdxSize> {
        let mut rows: Vec<IdxSize> = self.by_key.values().map(|(r, _)| *r).collect();
        rows.sort_unstable();
        rows
    }
}

/// The enterprise id of each row (`u32::MAX` where unknown).
fn eids_of(df: &DataFrame) -> Result<Vec<u32>> {
    Ok(df
        .column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .iter()
        .map(|e| e.unwrap_or(u32::MAX))
        .collect())
}

/// Merges a table's most recent chunks (one is appended per applied group) while
/// together they are at least half the size of the chunk before them. Chunk sizes
/// then fall geometrically from the oldest, so a table holds O(log n) chunks and
/// a row is copied O(log n) times; the history's chunk is copied only once as
/// many rows have been appended as half of it. (Merging every chunk at once, as
/// before, copied the whole table and held submissions up for a quarter of a
/// second every 512 groups.) Row positions do not change.
fn merge_recent_chunks(df: DataFrame) -> Result<DataFrame> {
    let Some(first) = df.columns().first() else {
        return Ok(df);
    };
    let sizes: Vec<usize> = first.as_materialized_series().chunk_lengths().collect();
    let (mut k, mut tail) = (1, sizes.last().copied().unwrap_or(0));
    while k < sizes.len() && tail * 2 >= sizes[sizes.len() - 1 - k] {
        tail += sizes[sizes.len() - 1 - k];
        k += 1;
    }
    if k == 1 {
        return Ok(df);
    }
    let start = df.height() - tail;
    let mut recent = df.slice(start as i64, tail);
    recent.rechunk_mut();
    let mut out = df.slice(0, start);
    out.vstack_mut(&recent).map_err(pe)?;
    Ok(out)
}

fn pe(e: PolarsError) -> Error {
    Error::polars("serve", e)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The table a history file belongs to (its first path component, without extension).
fn table_of(rel: &str) -> Option<Table> {
    let first = rel.split('/').next()?;
    let stem = first.split('.').next()?;
    Table::from_name(stem)
}

/// Writes the state as a contract data directory: the history files as given, and
/// per table one CSV of the latest submitted row of each key (read after the
/// history, so that the loader keeps it over an older copy).
pub fn export(store: &Store, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let rows = store.rows()?;
    let mut latest: BTreeMap<String, BTreeMap<String, Map<String, Value>>> = BTreeMap::new();
    for r in rows {
        latest.entry(r.table).or_default().insert(r.key, r.row);
    }
    for (rel, bytes) in store.history_files()? {
        let t = table_of(&rel);
        let moved = match t {
            // A table given as one file gets a folder, beside the submissions.
            Some(t) if latest.contains_key(t.name()) && !rel.contains('/') => {
                format!("{}/{rel}", t.name())
            }
            _ => rel,
        };
        let path = dir.join(&moved);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    for (table, keyed) in latest {
        let Some(t) = Table::from_name(&table) else {
            continue;
        };
        let mut header: Vec<String> = t
            .spec()
            .columns
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        for row in keyed.values() {
            for k in row.keys() {
                if !header.contains(k) {
                    header.push(k.clone());
                }
            }
        }
        let folder = dir.join(t.name());
        std::fs::create_dir_all(&folder).map_err(io(&folder))?;
        let path = folder.join(SUBMISSIONS_FILE);
        let mut w = csv::Writer::from_path(&path).map_err(|e| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let werr = |e: csv::Error| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        };
        w.write_record(&header).map_err(werr)?;
        for row in keyed.values() {
            let rec: Vec<String> = header
                .iter()
                .map(|h| match row.get(h) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect();
            w.write_record(&rec).map_err(werr)?;
        }
        w.flush().map_err(io(&path))?;
    }
    Ok(())
}

/// Stores the files of a data directory as the history.
pub fn import_history(store: &mut Store, data: &Path) -> Result<usize> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else if p.is_file() {
                let rel = p
                    .strip_prefix(base)
                    .map(|r| r.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                let bytes = std::fs::read(&p).map_err(io(&p))?;
                out.push((rel, bytes));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(data, data, &mut files)?;
    let n = files.len();
    if n > 0 {
        store.replace_history(&files)?;
    }
    Ok(n)
}

/// Files a snapshot needs beside the audit's own outputs: the query list and
/// scorecard as audited (typed, not as rendered in CSV).
const SNAPSHOT_QUERY_LIST: &str = "serve-query-list.parquet";
const SNAPSHOT_SCORECARD: &str = "serve-scorecard.parquet";

/// Runs the full audit of an exported directory into `out`, with the files a
/// snapshot is read from (`read_snapshot`). A refresh runs it in a process of its
/// own (`zhibao serve` → `serve-refresh`).
pub fn audit_to(
    pipeline: Option<&Path>,
    period: Option<Month>,
    seed: u64,
    data: &Path,
    out: &Path,
) -> Result<()> {
    let res = audit::run(&AuditOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        period,
        pipeline: pipeline.map(Path::to_path_buf),
        seed: Some(seed),
        previous_grades: None,
        capacity: None,
        force: true,
        progress: None,
    })?;
    for (name, mut df) in [
        (SNAPSHOT_QUERY_LIST, res.query_list),
        (SNAPSHOT_SCORECARD, res.scorecard),
    ] {
        let path = out.join(name);
        let f = std::fs::File::create(&path).map_err(io(&path))?;
        ParquetWriter::new(f).finish(&mut df).map_err(pe)?;
    }
    // The peer statistics of the checks an answer runs on new figures.
    let pipeline = match pipeline {
        Some(p) => Pipeline::load(p)?,
        None => Pipeline::builtin(),
    };
    let codes: Vec<&str> = LIVE_PEER_RULES
        .iter()
        .chain(&OWN_RULES_WITH_KEPT_FIGURES)
        .copied()
        .collect();
    let stats = rules::record_peer_stats(&res.batch, &pipeline.rule_set(), &codes)?;
    write_peer_stats(&out.join(PEER_STATS_DIR), stats, &pipeline.fingerprint())
}

/// Writes peer statistics: one Parquet file each, and `index.json` naming them
/// and the pipeline they were computed under (its fingerprint).
fn write_peer_stats(dir: &Path, stats: rules::PeerStats, pipeline: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut index = Map::new();
    let mut keys: Vec<_> = stats.into_iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, (key, mut df)) in keys.into_iter().enumerate() {
        let name = format!("{k}.parquet");
        let path = dir.join(&name);
        let f = std::fs::File::create(&path).map_err(io(&path))?;
        ParquetWriter::new(f).finish(&mut df).map_err(pe)?;
        index.insert(key, Value::String(name));
    }
    let path = dir.join("index.json");
    let body = serde_json::json!({ "pipeline": pipeline, "stats": index });
    std::fs::write(&path, body.to_string()).map_err(io(&path))
}

/// The peer statistics kept beside a snapshot, when they were computed under the
/// pipeline whose fingerprint is `pipeline` (none otherwise: the pipeline file
/// changed between the server's start and the refresh, and the statistics'
/// parameters are not the ones the server's checks use).
/// Also says whether they were kept under that pipeline.
fn read_peer_stats(dir: &Path, pipeline: &str) -> Result<(rules::PeerStats, bool)> {
    let path = dir.join("index.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok((rules::PeerStats::new(), false));
    };
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Internal {
        stage: "serve",
        message: format!("{}: {e}", path.display()),
    })?;
    let kept_under = body.get("pipeline").and_then(Value::as_str);
    let index = match body.get("stats").and_then(Value::as_object) {
        Some(index) if kept_under == Some(pipeline) => index.clone(),
        _ => {
            tracing::warn!(
                path = %path.display(),
                "peer statistics kept under another pipeline: the live peer checks are taken from the snapshot"
            );
            return Ok((rules::PeerStats::new(), false));
        }
    };
    let mut out = rules::PeerStats::new();
    for (key, name) in index {
        let Some(name) = name.as_str() else { continue };
        let path = dir.join(name);
        let f = std::fs::File::open(&path).map_err(io(&path))?;
        out.insert(key, ParquetReader::new(f).finish().map_err(pe)?);
    }
    Ok((out, true))
}

/// The snapshot of a full audit written to `out` by `audit_to`.
pub fn read_snapshot(out: &Path, generation: u64, pipeline: &Pipeline) -> Result<Snapshot> {
    let read = |name: &str| -> Result<DataFrame> {
        let path = out.join(name);
        let f = std::fs::File::open(&path).map_err(io(&path))?;
        ParquetReader::new(f).finish().map_err(pe)
    };
    let path = out.join("summary.json");
    let summary: Value = std::fs::read(&path).map_err(io(&path)).and_then(|b| {
        serde_json::from_slice(&b).map_err(|e| Error::Internal {
            stage: "serve",
            message: format!("{}: {e}", path.display()),
        })
    })?;
    let period = summary
        .get("period")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal {
            stage: "serve",
            message: format!("{}: no period", path.display()),
        })?;
    let grades = read("grades.parquet")?;
    let (peers, same_pipeline) =
        read_peer_stats(&out.join(PEER_STATS_DIR), &pipeline.fingerprint())?;
    Ok(Snapshot {
        peers: Arc::new(peers),
        same_pipeline,
        states: states_of(&grades),
        findings: read("findings.parquet")?,
        grades,
        query_list: read(SNAPSHOT_QUERY_LIST)?,
        scorecard: read(SNAPSHOT_SCORECARD)?,
        refreshed_at: now_iso(),
        generation,
        out: out.to_path_buf(),
        period: Month::parse_strict(period).map_err(Error::Usage)?,
    })
}

/// Runs the full audit of an exported directory here and reads its snapshot.
pub fn audit_dir(cfg: &Config, data: &Path, out: &Path, generation: u64) -> Result<Snapshot> {
    audit_to(
        cfg.pipeline_path.as_deref(),
        cfg.period,
        cfg.seed,
        data,
        out,
    )?;
    read_snapshot(out, generation, &cfg.pipeline)
}

/// A value of a typed table in the contract's words.
fn render(name: &str, v: &AnyValue<'_>, uscc_of: &[String]) -> Value {
    match (name, v) {
        (_, AnyValue::Null) => Value::Null,
        ("eid", AnyValue::UInt32(e)) => {
            Value::String(uscc_of.get(*e as usize).cloned().unwrap_or_default())
        }
        ("period" | "entry_period" | "start_period", AnyValue::Int32(m)) => {
            Value::String(Month(*m).to_string())
        }
        ("submitted_at" | "verified_at", AnyValue::Int64(s)) => Value::String(
            chrono::DateTime::from_timestamp(*s, 0)
                .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default(),
        ),
        (_, AnyValue::String(s)) => Value::String(s.to_string()),
        (_, AnyValue::StringOwned(s)) => Value::String(s.to_string()),
        (_, AnyValue::Float64(x)) => Value::String(format!("{x}")),
        (_, other) => Value::String(other.to_string().trim_matches('"').to_string()),
    }
}

fn public(name: &str) -> &str {
    if name == "eid" {
        "uscc"
    } else {
        name
    }
}

/// The rows of a typed frame as JSON objects in the contract's words.
pub fn rows_of(df: &DataFrame, uscc_of: &[String]) -> Vec<Map<String, Value>> {
    let cols = df.columns();
    (0..df.height())
        .map(|i| {
            let mut m = Map::new();
            for c in cols {
                if c.name().starts_with('_') {
                    continue;
                }
                let v = c.get(i).unwrap_or(AnyValue::Null);
                m.insert(public(c.name()).to_string(), render(c.name(), &v, uscc_of));
            }
            m
        })
        .collect()
}

/// The rows of an output frame (findings, query list…) as JSON objects.
pub fn json_rows(df: &DataFrame) -> Vec<Value> {
    let cols = df.columns();
    (0..df.height())
        .map(|i| {
            let mut m = Map::new();
            for c in cols {
                let v = match c.get(i).unwrap_or(AnyValue::Null) {
                    AnyValue::Null => Value::Null,
                    AnyValue::Boolean(b) => Value::Bool(b),
                    AnyValue::String(s) => Value::String(s.to_string()),
                    AnyValue::StringOwned(s) => Value::String(s.to_string()),
                    AnyValue::Float64(x) if x.is_finite() => json!(x),
                    AnyValue::Float32(x) if x.is_finite() => json!(x),
                    AnyValue::Float64(_) | AnyValue::Float32(_) => Value::Null,
                    AnyValue::Int64(x) => json!(x),
                    AnyValue::Int32(x) => json!(x),
                    AnyValue::Int16(x) => json!(x),
                    AnyValue::Int8(x) => json!(x),
                    AnyValue::UInt64(x) => json!(x),
                    AnyValue::UInt32(x) => json!(x),
                    AnyValue::UInt16(x) => json!(x),
                    AnyValue::UInt8(x) => json!(x),
                    other => Value::String(other.to_string()),
                };
                m.insert(c.name().to_string(), v);
            }
            Value::Object(m)
        })
        .collect()
}

fn quarantine_json(q: &[QuarantineRow]) -> Vec<Value> {
    q.iter()
        .map(|r| json!({"row": r.row, "column": r.column, "value": r.value, "reason": r.reason}))
        .collect()
}

/// A JSON array of objects as CSV text (header: the keys in order of appearance).
pub fn json_to_csv(body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Array(items) = v else {
        return Err("the body must be a JSON array of objects (one per row)".into());
    };
    let mut header: Vec<String> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let Value::Object(o) = it else {
            return Err(format!("item {} of the array is not an object", i + 1));
        };
        for k in o.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    if items.is_empty() {
        return Err("the array is empty: no rows".into());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| e.to_string())?;
    for it in &items {
        let o = it.as_object().expect("checked above");
        let rec: Vec<String> = header
            .iter()
            .map(|h| match o.get(h) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => other.to_string(),
            })
            .collect();
        w.write_record(&rec).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

impl Live {
    /// Starts from the store: exports it, loads it, audits it.
    pub fn start(store: Store, cfg: Config) -> Result<Live> {
        std::fs::create_dir_all(&cfg.work).map_err(io(&cfg.work))?;
        // Directories of an earlier process are stale.
        if let Ok(rd) = std::fs::read_dir(&cfg.work) {
            for e in rd.flatten().filter(|e| e.path().is_dir()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let mut live = Live {
            store,
            batch: empty_batch(),
            snap: Arc::new(Snapshot {
                findings: DataFrame::empty(),
                grades: DataFrame::empty(),
                query_list: DataFrame::empty(),
                scorecard: DataFrame::empty(),
                refreshed_at: String::new(),
                generation: 0,
                out: PathBuf::new(),
                period: Month(0),
                states: HashMap::new(),
                peers: Arc::new(rules::PeerStats::new()),
                same_pipeline: false,
            }),
            cfg,
            generation: 0,
            runs: 0,
            index: HashMap::new(),
            positions: HashMap::new(),
            revisions: HashMap::new(),
            rule_ms: HashMap::new(),
            changed_at: HashMap::new(),
            reloaded_at: 0,
            taken_from_snapshot: Vec::new(),
            checker: Arc::new(Checker {
                register: load::Register::default(),
                uscc_of: Vec::new(),
                period: None,
                work: PathBuf::new(),
                version: 0,
                scratch: Default::default(),
            }),
        };
        let dir = live.reload()?;
        let out = live.next_dir("out");
        let snap = audit_dir(&live.cfg, &dir, &out, 0)?;
        let _ = std::fs::remove_dir_all(&dir);
        live.snap = Arc::new(snap);
        Ok(live)
    }

    fn next_dir(&mut self, what: &str) -> PathBuf {
        self.runs += 1;
        self.cfg.work.join(format!("{what}-{}", self.runs))
    }

    /// Exports the state and loads it as the batch; returns the export.
    fn reload(&mut self) -> Result<PathBuf> {
        self.reloaded_at = self.generation;
        self.changed_at.clear();
        let dir = self.next_dir("export");
        export(&self.store, &dir)?;
        self.batch = load::load(
            &dir,
            &LoadOptions {
                period: self.cfg.period,
            },
        )?;
        self.batch.quarantine.clear();
        self.batch.notes.clear();
        // The register of the batch and the USCC of each enterprise id live in
        // the checker, which the request handlers share.
        self.checker = Arc::new(Checker {
            register: load::register_of(&self.batch.enterprises)?,
            uscc_of: self.batch.uscc_by_eid(),
            period: self.cfg.period,
            work: self.cfg.work.clone(),
            version: self.checker.version + 1,
            scratch: Default::default(),
        });
        let counties: Vec<String> = self
            .batch
            .enterprises
            .column("county_code")
            .map_err(pe)?
            .str()
            .map_err(pe)?
            .iter()
            .map(|c| c.unwrap_or("").to_string())
            .collect();
        self.index = self
            .checker
            .uscc_of
            .iter()
            .zip(counties)
            .enumerate()
            .map(|(i, (u, c))| (u.clone(), (i as u32, c)))
            .collect();
        self.positions.clear();
        for (t, df) in &self.batch.tables {
            self.positions.insert(*t, Positions::of(df, *t)?);
        }
        self.revisions = match self.batch.table(Table::Industrial) {
            Some(df) => revisions_of(df)?,
            None => HashMap::new(),
        };
        Ok(dir)
    }

    /// Directories for a full audit (an export and its output), and the
    /// generation it will cover at least.
    pub fn dirs_for_refresh(&mut self) -> (PathBuf, PathBuf, u64) {
        (
            self.next_dir("export"),
            self.next_dir("out"),
            self.generation,
        )
    }

    /// Installs a newer snapshot; returns the output directory no longer needed,
    /// for the caller to remove once it has let go of the state (removing a
    /// directory of thousands of files takes long enough to hold up submissions).
    #[must_use]
    pub fn install(&mut self, snap: Snapshot) -> Option<PathBuf> {
        if snap.generation >= self.snap.generation {
            let old = self.snap.out.clone();
            self.snap = Arc::new(snap);
            (!old.as_os_str().is_empty() && old != self.snap.out).then_some(old)
        } else {
            Some(snap.out)
        }
    }

    /// The USCC of every enterprise id of the batch.
    pub fn usccs(&self) -> Vec<String> {
        self.checker.uscc_of.clone()
    }

    /// The enterprise id and county of an enterprise (by USCC), if registered.
    pub fn county_of(&self, uscc: &str) -> Option<(u32, String)> {
        self.index.get(uscc).cloned()
    }

    /// Checks, stores and applies one submission; audits its enterprises.
    pub fn submit(&mut self, req: Request) -> std::result::Result<Value, ApiError> {
        self.submit_group(vec![(req, None)])
            .pop()
            .unwrap_or_else(|| Err(ApiError::Internal("no answer".into())))
    }

    /// Several submissions at once, answered one by one as if they came in turn:
    /// each is checked on its own, their rows are stored in one transaction,
    /// applied in one merge per table, and their enterprises audited together.
    /// A register submission must end its group (its enterprises change the
    /// register the next ones are checked against).
    ///
    /// A body checked beforehand by the current [`Checker`] is taken as checked;
    /// the others (none given, or checked before a reload) are checked here.
    pub fn submit_group(
        &mut self,
        reqs: Vec<(Request, Option<Prechecked>)>,
    ) -> Vec<std::result::Result<Value, ApiError>> {
        let t0 = std::time::Instant::now();
        let n = reqs.len();
        let mut held: HashMap<(u32, i32), i64> = HashMap::new();
        let (reqs, pre): (Vec<Request>, Vec<Option<Prechecked>>) = reqs.into_iter().unzip();
        let checks: Vec<std::result::Result<load::Submitted, ApiError>> = {
            use rayon::prelude::*;
            let checker = &self.checker;
            reqs.par_iter()
                .zip(pre.into_par_iter())
                .map(|(r, pre)| match pre {
                    Some((v, c)) if v == checker.version => c,
                    _ => checker.check(r).1,
                })
                .collect()
        };
        let mut prepared: Vec<std::result::Result<Prepared, ApiError>> = reqs
            .into_iter()
            .zip(checks)
            .map(|(r, c)| self.prepare(r, c, &mut held))
            .collect();
        // Store, in one transaction: a 200 means these rows are on disk.
        let mut all: Vec<(&'static str, String, String, String)> = Vec::new();
        for p in prepared.iter().flatten() {
            for (k, r) in p.keys.iter().zip(&p.rows) {
                all.push((
                    p.table.name(),
                    k.clone(),
                    Value::Object(r.clone()).to_string(),
                    p.user.clone(),
                ));
            }
        }
        if all.is_empty() {
            return prepared
                .into_iter()
                .map(|p| p.map(|p| self.answer(&p, &[], &[])))
                .collect();
        }
        let t_prepare = t0.elapsed().as_secs_f64() * 1000.0;
        if let Err(e) = self.store.add_rows(&all) {
            let msg = format!("the submission could not be stored: {e}");
            return prepared
                .into_iter()
                .map(|p| p.and(Err(ApiError::Internal(msg.clone()))))
                .collect();
        }
        self.generation += 1;
        let t_store = t0.elapsed().as_secs_f64() * 1000.0;
        // Apply to the batch as it stands.
        let reload = prepared.iter().flatten().any(|p| p.reload);
        let applied = if reload {
            self.reload().map(|dir| {
                let _ = std::fs::remove_dir_all(dir);
            })
        } else {
            let mut by_table: BTreeMap<Table, Vec<DataFrame>> = BTreeMap::new();
            for p in prepared.iter_mut().flatten() {
                if p.df.height() > 0 {
                    by_table
                        .entry(p.table)
                        .or_default()
                        .push(std::mem::take(&mut p.df));
                }
            }
            let mut r = Ok(());
            for (t, dfs) in by_table {
                match self.apply(t, dfs) {
                    // A replaced row's enterprise changed too (a project may
                    // have moved to another).
                    Ok(replaced) => {
                        for e in replaced {
                            self.changed_at.insert((e, t), self.generation);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "applying submissions in place failed; reloading the state");
                        r = self.reload().map(|dir| {
                            let _ = std::fs::remove_dir_all(dir);
                        });
                        break;
                    }
                }
            }
            r
        };
        if let Err(e) = applied {
            let msg = format!("the rows are stored but the state could not be updated: {e}");
            return prepared
                .into_iter()
                .map(|p| p.and(Err(ApiError::Internal(msg.clone()))))
                .collect();
        }
        for p in prepared.iter().flatten() {
            for u in &p.usccs {
                if let Some((e, _)) = self.index.get(u) {
                    self.changed_at.insert((*e, p.table), self.generation);
                }
            }
        }
        // Audit every enterprise of the group together, then answer each request.
        let usccs: BTreeSet<String> = prepared
            .iter()
            .flatten()
            .flat_map(|p| p.usccs.iter().cloned())
            .collect();
        let periods: BTreeSet<String> = prepared
            .iter()
            .flatten()
            .flat_map(|p| p.periods.iter().cloned())
            .collect();
        let t_apply = t0.elapsed().as_secs_f64() * 1000.0;
        // In Polars' own pool, so that each of the audit's Polars operations
        // runs on this thread instead of being handed to the pool and waited for
        // (on a few enterprises the hand-over cost more than the work).
        let audited =
            polars_core::runtime::THREAD_POOL.install(|| self.audit_enterprises(&usccs, &periods));
        tracing::debug!(
            requests = n,
            prepare_ms = t_prepare,
            store_ms = t_store - t_prepare,
            apply_ms = t_apply - t_store,
            audit_ms = t0.elapsed().as_secs_f64() * 1000.0 - t_apply,
            "submission group"
        );
        match audited {
            Ok((findings, grades)) => prepared
                .into_iter()
                .map(|p| p.map(|p| self.answer(&p, &findings, &grades)))
                .collect(),
            Err(e) => {
                let msg = format!("the rows are stored but could not be audited: {e}");
                prepared
                    .into_iter()
                    .map(|p| p.and(Err(ApiError::Internal(msg.clone()))))
                    .collect()
            }
        }
    }

    fn answer(&self, p: &Prepared, findings: &[Value], grades: &[Value]) -> Value {
        let of = |v: &&Value| {
            v.get("uscc")
                .and_then(Value::as_str)
                .is_some_and(|u| p.usccs.contains(u))
        };
        let f: Vec<&Value> = findings
            .iter()
            .filter(of)
            .filter(|v| {
                // A register row has no period: the period under review.
                let now = self.batch.period.to_string();
                v.get("period")
                    .and_then(Value::as_str)
                    .is_some_and(|s| p.periods.contains(s) || (p.periods.is_empty() && s == now))
            })
            .collect();
        let g: Vec<&Value> = grades.iter().filter(of).collect();
        json!({
            "accepted": p.rows.len(),
            "quarantined": quarantine_json(&p.quarantine),
            "findings": f,
            "grades": g,
            "peer_statistics_refreshed_at": self.snap.refreshed_at,
        })
    }

    /// Checks one submission against the batch as it stands (and the rows of its
    /// group before it, for revisions).
    /// Checks a body with the loader (read-only: the bodies of a group are
    /// checked in parallel).
    fn check(
        req: &Request,
        dir: &Path,
        register: &load::Register,
        uscc_of: &[String],
        period: Option<Month>,
    ) -> std::result::Result<load::Submitted, ApiError> {
        let t = req.table;
        let csv_bytes = if req.is_json {
            json_to_csv(&req.body).map_err(ApiError::BadRequest)?
        } else {
            req.body.clone()
        };
        if csv_bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ApiError::BadRequest("the body is empty: no rows".into()));
        }
        std::fs::create_dir_all(dir).map_err(|e| ApiError::Internal(e.to_string()))?;
        let file = dir.join(format!("{}.csv", t.name()));
        std::fs::write(&file, &csv_bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
        let checked = load::check_submission_with(dir, t, register, uscc_of, period);
        let _ = std::fs::remove_dir_all(dir);
        checked.map_err(|e| {
            // A file-level fault (a missing column, an unknown unit…): the request is bad.
            ApiError::BadRequest(e.to_string().replace(&format!("{}/", dir.display()), ""))
        })
    }

    fn prepare(
        &mut self,
        req: Request,
        checked: std::result::Result<load::Submitted, ApiError>,
        group_held: &mut HashMap<(u32, i32), i64>,
    ) -> std::result::Result<Prepared, ApiError> {
        let t = req.table;
        let sub = checked?;
        let mut df = sub.df;
        let ie = |e: PolarsError| ApiError::Internal(e.to_string());
        if let Some(county) = req.user.county() {
            if !self.owns(&df, t, county).map_err(ApiError::from)? {
                return Err(ApiError::Forbidden);
            }
        }
        // Revisions: a row whose key is held counts one more; an industrial row
        // without submitted_at was submitted now.
        if t == Table::Industrial && df.height() > 0 {
            let held = self.held_revisions(&df).map_err(ApiError::from)?;
            let own_rev = df
                .column("revisions")
                .and_then(|c| c.i64().cloned())
                .map_err(ie)?;
            let e = df
                .column("eid")
                .and_then(|c| c.u32().cloned())
                .map_err(ie)?;
            let m = df
                .column("period")
                .and_then(|c| c.i32().cloned())
                .map_err(ie)?;
            let mut revs: Vec<Option<i64>> = Vec::with_capacity(df.height());
            for (i, held_i) in held.iter().enumerate() {
                let key = (e.get(i).unwrap_or(0), m.get(i).unwrap_or(0));
                let h = group_held.get(&key).copied().or(*held_i);
                let r = match h {
                    Some(h) => Some(std::cmp::max(own_rev.get(i).unwrap_or(0), h + 1)),
                    None => own_rev.get(i),
                };
                group_held.insert(key, r.unwrap_or(0));
                revs.push(r);
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let sub_at: Vec<Option<i64>> = df
                .column("submitted_at")
                .and_then(|c| c.i64().cloned())
                .map_err(ie)?
                .iter()
                .map(|v| Some(v.unwrap_or(now)))
                .collect();
            df.with_column(Column::new("revisions".into(), revs))
                .map_err(ie)?;
            df.with_column(Column::new("submitted_at".into(), sub_at))
                .map_err(ie)?;
        }
        let mut rows = rows_of(&df, &self.checker.uscc_of);
        if let Some(n) = &req.note {
            for r in &mut rows {
                r.insert("note".into(), Value::String(n.clone()));
            }
        }
        let keys: Vec<String> = rows
            .iter()
            .map(|r| {
                key_of(t)
                    .iter()
                    .map(|k| match r.get(*k) {
                        Some(Value::String(s)) => s.clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        let text = |r: &Map<String, Value>, k: &str| match r.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let periods: BTreeSet<String> = rows
            .iter()
            .filter_map(|r| text(r, if t == Table::Rd { "year" } else { "period" }))
            .collect();
        let usccs: BTreeSet<String> = rows.iter().filter_map(|r| text(r, "uscc")).collect();
        let later = t.has_period()
            && self.cfg.period.is_none()
            && periods
                .iter()
                .filter_map(|p| Month::parse_strict(p).ok())
                .any(|m| m > self.batch.period);
        Ok(Prepared {
            table: t,
            reload: !rows.is_empty() && (t == Table::Enterprises || later),
            df,
            quarantine: sub.quarantine,
            rows,
            keys,
            periods,
            usccs,
            user: req.user.name.clone(),
        })
    }

    /// Whether every row of a checked submission is of `county`.
    fn owns(&self, df: &DataFrame, t: Table, county: &str) -> Result<bool> {
        let mut own = true;
        if t == Table::Enterprises || t == Table::Investment {
            let c = df.column("county_code").map_err(pe)?.str().map_err(pe)?;
            own &= c.iter().all(|c| c == Some(county));
        }
        if t == Table::Enterprises {
            // Moving another county's enterprise is writing it.
            let us = df.column("uscc").map_err(pe)?.str().map_err(pe)?;
            for u in us.iter().flatten() {
                if let Some((_, c)) = self.county_of(u) {
                    own &= c == county;
                }
            }
        } else {
            let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
            let ec = self
                .batch
                .enterprises
                .column("county_code")
                .map_err(pe)?
                .str()
                .map_err(pe)?;
            for id in e.iter().flatten() {
                own &= ec.get(id as usize) == Some(county);
            }
        }
        Ok(own)
    }

    fn held_revisions(&self, df: &DataFrame) -> Result<Vec<Option<i64>>> {
        let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let p = df.column("period").map_err(pe)?.i32().map_err(pe)?;
        Ok(e.iter()
            .zip(p.iter())
            .map(|(e, p)| match (e, p) {
                (Some(e), Some(p)) => self.revisions.get(&(e, p)).copied(),
                _ => None,
            })
            .collect())
    }

    /// Replaces the rows of the same keys in the batch's table and adds the new ones.
    /// Returns the enterprises whose rows were replaced.
    fn apply(&mut self, t: Table, frames: Vec<DataFrame>) -> Result<Vec<u32>> {
        let keys: Vec<&str> = load::key_columns(t).to_vec();
        let cur = self.batch.table(t).cloned().unwrap_or_else(|| {
            load::empty_table(t)
                .select(load::internal_columns(t))
                .expect("schema")
        });
        let names: Vec<PlSmallStr> = cur.get_column_names().into_iter().cloned().collect();
        let mut new = DataFrame::empty();
        for f in frames {
            let f = f.select(names.iter().cloned()).map_err(pe)?;
            if new.width() == 0 {
                new = f;
            } else {
                new.vstack_mut(&f).map_err(pe)?;
            }
        }
        // The same key twice in a group: the later row wins.
        let new = new
            .unique_stable(
                Some(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>()),
                UniqueKeepStrategy::Last,
                None,
            )
            .map_err(pe)?;
        let mut merged = cur;
        let new = cast_like(new, &merged)?;
        // Appended, not sorted: a subset takes and sorts its own rows. A revision
        // retires the row it replaces.
        let base = merged.height() as IdxSize;
        let at = self.positions.entry(t).or_default();
        let replaced = at.add(&row_keys(&new, t)?, &eids_of(&new)?, base);
        if t == Table::Industrial {
            self.revisions.extend(revisions_of(&new)?);
        }
        merged.vstack_mut(&new).map_err(pe)?;
        // Once a quarter of the rows are retired, they are dropped (the rows
        // are renumbered, so the positions are made again); otherwise only the
        // recent chunks are merged, which keeps the positions.
        if at.retired * 4 > merged.height() {
            let live = IdxCa::from_vec("live".into(), at.live());
            merged = merged.take(&live).map_err(pe)?;
            *at = Positions::of(&merged, t)?;
        } else {
            merged = merge_recent_chunks(merged)?;
        }
        self.batch.tables.insert(t, merged);
        Ok(replaced)
    }

    /// The batch restricted to some enterprises (`Batch::subset`), read through
    /// the positions: the cost of their rows, not of the tables.
    pub fn subset(&self, eids: &[u32]) -> Result<Batch> {
        let rows: BTreeMap<Table, Vec<IdxSize>> = self
            .positions
            .iter()
            .map(|(t, at)| (*t, at.rows_of(eids)))
            .collect();
        self.batch.subset_rows(eids, &rows)
    }

    /// The rows of one enterprise in a table as it stands (revised rows as revised).
    pub fn rows_of_enterprise(&self, t: Table, eid: u32) -> Result<Option<DataFrame>> {
        let (Some(df), Some(at)) = (self.batch.table(t), self.positions.get(&t)) else {
            return Ok(None);
        };
        let rows = IdxCa::from_vec("at".into(), at.rows_of(&[eid]));
        df.take(&rows).map(Some).map_err(pe)
    }

    /// The own checks (neither [`PEER_RULES`] nor [`LIVE_PEER_RULES`]) that can
    /// find anything in `sub`. A rule whose table holds no row of these
    /// enterprises is left out: every own check finds an enterprise (or project)
    /// through its rows in the rule's table, so it would find nothing (an
    /// enterprise with no investment project, no R&D report, no energy or services
    /// rows).
    fn own_rules(&self, sub: &Batch) -> Vec<usize> {
        let has_rows = |t: Table| sub.table(t).is_some_and(|d| d.height() > 0);
        (0..self.cfg.pipeline.rules.len())
            .filter(|&i| {
                let def = self.cfg.pipeline.rules[i].def;
                !PEER_RULES.contains(&def.code)
                    && !LIVE_PEER_RULES.contains(&def.code)
                    && has_rows(def.table)
            })
            .collect()
    }

    /// Rules of the pipeline (by index) in two halves of about the same recent
    /// time, run side by side: on a few enterprises each rule is mostly fixed
    /// cost. Each half keeps the pipeline's order, so a family's shared frames
    /// are computed once per half.
    fn in_halves(&self, own: Vec<usize>) -> [rules::RuleSet; 2] {
        let cost = |i: usize| {
            let code = self.cfg.pipeline.rules[i].def.code;
            self.rule_ms.get(code).copied().unwrap_or(1.0)
        };
        // Longest first, each to the lighter half.
        let mut by_cost = own.clone();
        by_cost.sort_by(|a, b| cost(*b).total_cmp(&cost(*a)).then(a.cmp(b)));
        let mut load = [0.0f64; 2];
        let mut half_of: HashMap<usize, usize> = HashMap::new();
        for i in by_cost {
            let h = usize::from(load[1] < load[0]);
            load[h] += cost(i);
            half_of.insert(i, h);
        }
        let half = |h: usize| {
            let mut p = self.cfg.pipeline.rule_set();
            p.rules = own
                .iter()
                .filter(|i| half_of.get(i) == Some(&h))
                .map(|&i| self.cfg.pipeline.rules[i].clone())
                .collect();
            p
        };
        [half(0), half(1)]
    }

    /// Findings (rows' periods) and grades of some enterprises: their own checks
    /// run now on their rows alone, the peer checks from the last full audit, and
    /// at the period under review the checks none of whose tables changed for
    /// them since that audit taken from it.
    pub fn audit_enterprises(
        &mut self,
        usccs: &BTreeSet<String>,
        periods: &BTreeSet<String>,
    ) -> Result<(Vec<Value>, Vec<Value>)> {
        let eids: Vec<u32> = usccs
            .iter()
            .filter_map(|u| self.index.get(u).map(|(e, _)| *e))
            .collect();
        if eids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let t0 = std::time::Instant::now();
        let sub = self.subset(&eids)?;
        let t_subset = t0.elapsed().as_secs_f64() * 1000.0;
        let sub_usccs = sub.uscc_by_eid();
        let p = self.batch.period;
        let mut months: BTreeSet<i32> = periods
            .iter()
            .filter_map(|s| Month::parse_strict(s).ok())
            .filter(|m| *m <= p)
            .map(|m| m.0)
            .collect();
        months.insert(p.0);
        let plan = self.rule_plan(&sub, &eids);
        let run = self.run_months(&sub, &plan, months, periods)?;
        for r in run.times.iter().filter(|r| r.status == "evaluated") {
            let ms = r.seconds * 1000.0;
            self.rule_ms
                .entry(r.code)
                .and_modify(|m| *m = 0.8 * *m + 0.2 * ms)
                .or_insert(ms);
        }
        // Peer checks from the last full audit (same period only): the peer
        // checks, and the live ones not run now.
        self.taken_from_snapshot = plan
            .own_kept
            .iter()
            .map(|&i| self.cfg.pipeline.rules[i].def.code)
            .chain(
                LIVE_PEER_RULES
                    .iter()
                    .copied()
                    .filter(|c| !run.live_done.contains(c) && plan.kept_live.contains(c)),
            )
            .collect();
        let peer_rows = self.snapshot_rows(&plan, &run.live_done, &sub_usccs)?;
        let mut findings = run.findings;
        for v in json_rows(&peer_rows) {
            if v.get("period")
                .and_then(Value::as_str)
                .is_some_and(|s| periods.contains(s))
            {
                findings.push(v);
            }
        }
        // Grades at the period under review from both.
        let at_period = run.at_period.unwrap_or_else(DataFrame::empty);
        let f = self.with_snapshot_rows(at_period, &peer_rows, &sub_usccs)?;
        let t_rules = t0.elapsed().as_secs_f64() * 1000.0;
        let grades = self.grades_of(&sub, f, &sub_usccs)?;
        tracing::debug!(
            enterprises = eids.len(),
            subset_ms = t_subset,
            rules_ms = t_rules - t_subset,
            own_rules_ms = run.own_ms,
            grade_ms = t0.elapsed().as_secs_f64() * 1000.0 - t_rules,
            "audit of submitted enterprises"
        );
        Ok((findings, grades))
    }

    /// Which checks an answer about `eids` (their rows `sub`) runs now.
    fn rule_plan(&self, sub: &Batch, eids: &[u32]) -> RulePlan {
        let p = self.batch.period;
        // The checks against the last full audit's peer statistics run now at
        // the period under review (the statistics are of it) when a table the
        // rule reads changed since that audit (TX001 and TX002: industrial or
        // tax; EN001: energy and industrial; the anticipation's readers:
        // industrial, tax, energy or verifications); a rule whose statistics are
        // missing, or none of whose tables changed, is taken from the last full
        // audit (which judged the same rows against the same statistics).
        let stats_of_period = self.snap.period == p;
        let anticipation_kept = self
            .snap
            .peers
            .contains_key(&rules::anticipate::stat_key(p.year_start(), p));
        let has_rows = |t: Table| sub.table(t).is_some_and(|d| d.height() > 0);
        // A rule none of whose tables changed for the group's enterprises since
        // the last full audit finds at its period what that audit found
        // (`RuleDef::reads`, and the test `a_rule_reads_only_the_tables_it_names`):
        // its findings are taken from there instead of running it again. The
        // tables the group submitted changed, and so did any an earlier group
        // submitted since.
        let snap_gen = self.snap.generation;
        let unchanged = |def: &rules::registry::RuleDef| {
            stats_of_period
                && self.snap.same_pipeline
                && self.reloaded_at <= snap_gen
                && def.reads().iter().all(|t| {
                    eids.iter().all(|e| {
                        self.changed_at
                            .get(&(*e, *t))
                            .is_none_or(|g| *g <= snap_gen)
                    })
                })
        };
        let defs = || self.cfg.pipeline.rules.iter().map(|r| r.def);
        let live: Vec<usize> = (0..self.cfg.pipeline.rules.len())
            .filter(|&i| {
                let def = self.cfg.pipeline.rules[i].def;
                let reads_anticipation = rules::anticipate::READERS.contains(&def.code);
                stats_of_period
                    && LIVE_PEER_RULES.contains(&def.code)
                    && has_rows(def.table)
                    && !unchanged(def)
                    && (anticipation_kept || !reads_anticipation)
            })
            .collect();
        let kept_live: Vec<&'static str> = defs()
            .filter(|def| {
                LIVE_PEER_RULES.contains(&def.code) && has_rows(def.table) && unchanged(def)
            })
            .map(|def| def.code)
            .collect();
        let own = self.own_rules(sub);
        let (own_p, own_kept): (Vec<usize>, Vec<usize>) = own
            .iter()
            .partition(|&&i| !unchanged(self.cfg.pipeline.rules[i].def));
        RulePlan {
            stats_of_period,
            halves: self.in_halves(own),
            halves_p: self.in_halves(own_p.into_iter().chain(live).collect()),
            kept_live,
            own_kept,
        }
    }

    /// Runs the plan's checks on `sub` at each of `months`; keeps the own checks'
    /// findings in `periods` (or at the period under review when none is asked).
    fn run_months(
        &self,
        sub: &Batch,
        plan: &RulePlan,
        months: BTreeSet<i32>,
        periods: &BTreeSet<String>,
    ) -> Result<MonthRuns> {
        let p = self.batch.period;
        let peer = lit(Series::new("peer".into(), PEER_RULES.to_vec())).implode(false);
        let mut out = MonthRuns::default();
        for m in months {
            let b = sub.at(Month(m));
            // At the period of the statistics every check of the answer reads
            // them (the own checks too: AV003 and the explanations read the
            // anticipation), so that an answer does not depend on the tables
            // the group submitted.
            let at_p = m == p.0 && plan.stats_of_period;
            let (hv, peers) = if at_p {
                (&plan.halves_p, rules::Peers::Given(self.snap.peers.clone()))
            } else {
                (&plan.halves, rules::Peers::Own)
            };
            let t = std::time::Instant::now();
            // In Polars' own pool (the caller runs there): the rules' Polars work
            // runs on the thread that asks for it.
            let (a, c) = polars_core::runtime::THREAD_POOL.install(|| {
                rayon::join(
                    || rules::run_with_peers(&b, &hv[0], peers.clone()),
                    || rules::run_with_peers(&b, &hv[1], peers.clone()),
                )
            });
            out.own_ms += t.elapsed().as_secs_f64() * 1000.0;
            let (mut checked, c) = (a?, c?);
            if at_p {
                out.live_done = checked
                    .runs
                    .iter()
                    .chain(&c.runs)
                    .filter(|r| LIVE_PEER_RULES.contains(&r.code) && r.status == "evaluated")
                    .map(|r| r.code)
                    .collect();
            }
            out.times.extend(checked.runs.drain(..).chain(c.runs));
            let cols = rules::engine::FINDING_COLUMNS;
            checked.findings = checked.findings.select(cols).map_err(pe)?;
            checked
                .findings
                .vstack_mut(&c.findings.select(cols).map_err(pe)?)
                .map_err(pe)?;
            let own = checked
                .findings
                .clone()
                .lazy()
                .filter(col("rule_code").is_in(peer.clone(), false).not())
                .collect()
                .map_err(pe)?;
            let written = report::findings_output(&own, &b, &self.cfg.pipeline.rules)?;
            let wanted = |s: &str| periods.contains(s) || (m == p.0 && periods.is_empty());
            for v in json_rows(&written) {
                if v.get("period").and_then(Value::as_str).is_some_and(wanted) {
                    out.findings.push(v);
                }
            }
            if m == p.0 {
                out.at_period = Some(own);
            }
        }
        Ok(out)
    }

    /// The last full audit's findings (same period only) for the checks not run
    /// now: the peer checks, the live ones not run and the own ones kept.
    fn snapshot_rows(
        &self,
        plan: &RulePlan,
        live_done: &[&'static str],
        sub_usccs: &[String],
    ) -> Result<DataFrame> {
        let from_snapshot: Vec<&str> = PEER_RULES
            .iter()
            .chain(LIVE_PEER_RULES.iter().filter(|c| !live_done.contains(c)))
            .copied()
            .chain(
                plan.own_kept
                    .iter()
                    .map(|&i| self.cfg.pipeline.rules[i].def.code),
            )
            .collect();
        let snap = &self.snap;
        if snap.period != self.batch.period || snap.findings.height() == 0 {
            return Ok(DataFrame::empty());
        }
        let peer = lit(Series::new("peer".into(), from_snapshot)).implode(false);
        let us = Series::new("u".into(), sub_usccs.to_vec());
        snap.findings
            .clone()
            .lazy()
            .filter(
                col("rule_code")
                    .is_in(peer, false)
                    .and(col("uscc").is_in(lit(us).implode(false), false)),
            )
            .collect()
            .map_err(pe)
    }

    /// The findings at the period under review `f`, with the snapshot's rows
    /// given the subset's enterprise ids and the rules' weights.
    fn with_snapshot_rows(
        &self,
        mut f: DataFrame,
        peer_rows: &DataFrame,
        sub_usccs: &[String],
    ) -> Result<DataFrame> {
        if peer_rows.height() == 0 {
            return Ok(f);
        }
        let weights: HashMap<&str, f64> = self
            .cfg
            .pipeline
            .rules
            .iter()
            .map(|r| (r.def.code, r.weight))
            .collect();
        let idx: HashMap<&str, u32> = sub_usccs
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i as u32))
            .collect();
        let u = peer_rows.column("uscc").map_err(pe)?.str().map_err(pe)?;
        let code = peer_rows
            .column("rule_code")
            .map_err(pe)?
            .str()
            .map_err(pe)?;
        let eid: Vec<Option<u32>> = u
            .iter()
            .map(|x| x.and_then(|x| idx.get(x).copied()))
            .collect();
        let w: Vec<f64> = code
            .iter()
            .map(|c| c.and_then(|c| weights.get(c).copied()).unwrap_or(1.0))
            .collect();
        let extra = peer_rows
            .clone()
            .lazy()
            .with_columns([
                lit(Series::new("eid".into(), eid)),
                lit(Series::new("weight".into(), w)),
            ])
            .collect()
            .map_err(pe)?;
        if f.width() > 0 {
            f.vstack_mut(&cast_like(extra, &f)?).map_err(pe)?;
        }
        Ok(f)
    }

    /// The subset's grades at the period under review from `findings`, each
    /// enterprise starting from its state in the last full audit (same period).
    fn grades_of(
        &self,
        sub: &Batch,
        findings: DataFrame,
        sub_usccs: &[String],
    ) -> Result<Vec<Value>> {
        let gs = self.cfg.pipeline.grading();
        let checked = Checked {
            frames: Default::default(),
            findings,
            runs: Vec::new(),
        };
        let snap = &self.snap;
        let state: grade::StateMap = if snap.period == self.batch.period {
            sub_usccs
                .iter()
                .enumerate()
                .filter_map(|(e, u)| snap.states.get(u).map(|st| (e as u32, *st)))
                .collect()
        } else {
            grade::StateMap::new()
        };
        let scored = grade::score(sub, &checked, gs)?;
        let graded = grade::apply(scored, &state, gs)?;
        let e = graded.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let g = graded.column("grade").map_err(pe)?.str().map_err(pe)?;
        let s = graded.column("score").map_err(pe)?.f64().map_err(pe)?;
        Ok((0..graded.height())
            .map(|i| {
                json!({
                    "uscc": e.get(i).and_then(|e| sub_usccs.get(e as usize)).cloned().unwrap_or_default(),
                    "grade": g.get(i).unwrap_or(""),
                    "score": s.get(i).filter(|x| x.is_finite()),
                })
            })
            .collect())
    }
}

/// Which checks a live answer runs now and which it takes from the last full
/// audit.
struct RulePlan {
    /// The last full audit's statistics are of the period under review.
    stats_of_period: bool,
    /// The own checks, in two halves run side by side (months before the period).
    halves: [rules::RuleSet; 2],
    /// At the period: the own checks whose tables changed and the live peer checks.
    halves_p: [rules::RuleSet; 2],
    /// Live peer checks taken from the last full audit: nothing they read changed.
    kept_live: Vec<&'static str>,
    /// Own checks taken from it for the same reason (indices of the pipeline's
    /// rules).
    own_kept: Vec<usize>,
}

/// What the checks run now found and took.
#[derive(Default)]
struct MonthRuns {
    /// The own checks' findings asked for, as JSON rows.
    findings: Vec<Value>,
    /// The own checks' findings at the period under review.
    at_period: Option<DataFrame>,
    /// Every rule run.
    times: Vec<RuleRun>,
    /// The live peer checks evaluated at the period.
    live_done: Vec<&'static str>,
    /// Milliseconds in the checks.
    own_ms: f64,
}

/// The key columns of a table in the contract's words.
pub fn key_of(t: Table) -> Vec<&'static str> {
    load::key_columns(t).iter().map(|k| public(k)).collect()
}

fn empty_batch() -> Batch {
    Batch {
        data_dir: PathBuf::new(),
        period: Month(0),
        enterprises: load::empty_table(Table::Enterprises),
        tables: BTreeMap::new(),
        quarantine: Vec::new(),
        notes: Vec::new(),
        unknown: BTreeMap::new(),
        stats: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(eids: &[u32], periods: &[i32], values: &[f64]) -> DataFrame {
        df!("eid" => eids, "period" => periods, "gross_output" => values).unwrap()
    }

    fn values_of(df: &DataFrame, rows: &[IdxSize]) -> Vec<(u32, i32, f64)> {
        let t = df
            .take(&IdxCa::from_vec("at".into(), rows.to_vec()))
            .unwrap();
        let e = t.column("eid").unwrap().u32().unwrap().clone();
        let p = t.column("period").unwrap().i32().unwrap().clone();
        let v = t.column("gross_output").unwrap().f64().unwrap().clone();
        (0..t.height())
            .map(|i| (e.get(i).unwrap(), p.get(i).unwrap(), v.get(i).unwrap()))
            .collect()
    }

    #[test]
    fn recent_chunks_merge_without_moving_rows_or_copying_the_history() {
        let n = 10_000u32;
        let ids: Vec<u32> = (0..n).collect();
        let mut df = table(&ids, &vec![1; n as usize], &vec![0.0; n as usize]);
        let mut all: Vec<(u32, i32, f64)> = values_of(&df, &(0..n).collect::<Vec<_>>());
        for g in 0..2_000u32 {
            let new = table(&[g % n, (g * 7) % n], &[2, 3], &[g as f64, -(g as f64)]);
            all.extend(values_of(&new, &[0, 1]));
            df.vstack_mut(&new).unwrap();
            df = merge_recent_chunks(df).unwrap();
        }
        let rows: Vec<IdxSize> = (0..df.height() as IdxSize).collect();
        assert_eq!(
            values_of(&df, &rows),
            all,
            "every row where it was appended"
        );
        let chunks = df.first_col_n_chunks();
        assert!(chunks <= 14, "{chunks} chunks for 4,000 appended rows");
        // 4,000 rows appended to 10,000: the history's chunk was never merged.
        let first = df
            .column("eid")
            .unwrap()
            .as_materialized_series()
            .chunk_lengths()
            .next();
        assert_eq!(first, Some(n as usize));
    }

    #[test]
    fn a_revision_retires_the_row_it_replaces() {
        let mut df = table(
            &[0, 0, 1, 1, 2],
            &[10, 11, 10, 11, 10],
            &[1., 2., 3., 4., 5.],
        );
        let t = Table::Industrial;
        let mut at = Positions::of(&df, t).unwrap();
        assert_eq!(at.rows_of(&[1]), vec![2, 3]);
        // Enterprise 1 revises month 11 and adds month 12; enterprise 3 is new.
        let new = table(&[1, 1, 3], &[11, 12, 10], &[40., 50., 60.]);
        let base = df.height() as IdxSize;
        let retired = at.add(&row_keys(&new, t).unwrap(), &eids_of(&new).unwrap(), base);
        df.vstack_mut(&new).unwrap();
        assert_eq!(retired, vec![1]);
        assert_eq!(
            values_of(&df, &at.rows_of(&[1])),
            vec![(1, 10, 3.), (1, 11, 40.), (1, 12, 50.)]
        );
        assert_eq!(values_of(&df, &at.rows_of(&[0, 3])).len(), 3);
        // Compaction keeps every live row once, in table order.
        let live = df.take(&IdxCa::from_vec("live".into(), at.live())).unwrap();
        assert_eq!(live.height(), 7);
        let again = Positions::of(&live, t).unwrap();
        assert_eq!(again.retired, 0);
        assert_eq!(
            values_of(&live, &again.rows_of(&[1])),
            vec![(1, 10, 3.), (1, 11, 40.), (1, 12, 50.)]
        );
    }

    #[test]
    fn an_investment_key_is_its_text() {
        let df = df!(
            "eid" => [0u32, 0, 1, 0],
            "project_id" => ["P1", "P2", "P1", "P1"],
            "period" => [10i32, 10, 11, 10],
        )
        .unwrap();
        let keys = row_keys(&df, Table::Investment).unwrap();
        assert!(matches!(keys[0], RowKey::Text(_)));
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_eq!(keys[0], keys[3]);
    }

    #[test]
    fn peer_statistics_are_read_only_under_the_pipeline_that_kept_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(PEER_STATS_DIR);
        let builtin = Pipeline::builtin();
        let mut other = builtin.clone();
        let at = other
            .rules
            .iter()
            .position(|r| r.def.code == "TX001")
            .unwrap();
        other.rules[at].weight *= 2.0;
        assert_eq!(builtin.fingerprint(), Pipeline::builtin().fingerprint());
        assert_ne!(builtin.fingerprint(), other.fingerprint());
        let mut stats = rules::PeerStats::new();
        stats.insert("k@2024-06".into(), table(&[1], &[1], &[2.0]));
        write_peer_stats(&dir, stats, &builtin.fingerprint()).unwrap();
        let (same, under_it) = read_peer_stats(&dir, &builtin.fingerprint()).unwrap();
        assert!(under_it);
        assert_eq!(same.keys().collect::<Vec<_>>(), ["k@2024-06"]);
        assert!(same["k@2024-06"].equals(&table(&[1], &[1], &[2.0])));
        let (other_stats, under_it) = read_peer_stats(&dir, &other.fingerprint()).unwrap();
        assert!(other_stats.is_empty() && !under_it);
    }
}
