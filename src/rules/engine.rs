//! Running a pipeline's rules over a batch. Every rule ends in pass / fail / not
//! evaluable per entity; a rule whose table is absent is not evaluable as a whole;
//! an error inside one rule is recorded against that rule and the run goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use polars::prelude::*;
use serde::Serialize;

use super::config::{RuleConfig, RuleSet};
use super::message;
use super::registry::{Kind, Level, RuleDef};
use crate::error::{Error, Result};
use crate::load::Batch;
use crate::model::{Month, Table};

/// Statistics of the peers a rule judges one enterprise against (the months the
/// tax records cover, a division's median change…), by name; with an index of
/// each statistic's rows by its group columns, built on first use, so that a
/// live answer picks out its few groups' rows without scanning every group's.
#[derive(Default)]
pub struct PeerStats {
    stats: HashMap<String, DataFrame>,
    index: Mutex<HashMap<IndexId, Arc<GroupIndex>>>,
}

/// A statistic's name and the group columns of an index of it.
type IndexId = (String, Vec<String>);

/// A statistic's row numbers by the text of their group columns.
type GroupIndex = HashMap<String, Vec<IdxSize>>;

impl PeerStats {
    /// No statistics.
    pub fn new() -> PeerStats {
        PeerStats::default()
    }

    /// The rows of statistic `key` whose columns `on` equal those of some row of
    /// `rows` (nulls equal), in the statistic's order; `None` when not kept.
    pub fn rows_for(&self, key: &str, on: &[&str], rows: &DataFrame) -> Option<Result<DataFrame>> {
        let stat = self.stats.get(key)?;
        Some((|| {
            let index = self.index_of(key, stat, on)?;
            let mut at: Vec<IdxSize> = group_texts(rows, on)?
                .iter()
                .filter_map(|t| index.get(t))
                .flatten()
                .copied()
                .collect();
            at.sort_unstable();
            at.dedup();
            stat.take(&IdxCa::from_vec("at".into(), at))
                .map_err(|e| Error::polars("rules", e))
        })())
    }

    fn index_of(&self, key: &str, stat: &DataFrame, on: &[&str]) -> Result<Arc<GroupIndex>> {
        let id = (key.to_string(), on.iter().map(|c| c.to_string()).collect());
        if let Some(ix) = self.index.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(ix);
        }
        let mut ix = GroupIndex::with_capacity(stat.height());
        for (i, t) in group_texts(stat, on)?.into_iter().enumerate() {
            ix.entry(t).or_default().push(i as IdxSize);
        }
        let ix = Arc::new(ix);
        if let Ok(mut m) = self.index.lock() {
            m.insert(id, ix.clone());
        }
        Ok(ix)
    }
}

/// Each row's columns `on` as one text (nulls apart from every value).
fn group_texts(df: &DataFrame, on: &[&str]) -> Result<Vec<String>> {
    let pe = |e| Error::polars("rules", e);
    let mut out = vec![String::new(); df.height()];
    for c in on {
        let col = df
            .column(c)
            .map_err(pe)?
            .cast(&DataType::String)
            .map_err(pe)?;
        for (o, v) in out.iter_mut().zip(col.str().map_err(pe)?.iter()) {
            match v {
                Some(v) => {
                    o.push('\u{1}');
                    o.push_str(v);
                }
                None => o.push('\u{0}'),
            }
        }
    }
    Ok(out)
}

impl Clone for PeerStats {
    fn clone(&self) -> PeerStats {
        PeerStats {
            stats: self.stats.clone(),
            index: Mutex::default(),
        }
    }
}

impl std::ops::Deref for PeerStats {
    type Target = HashMap<String, DataFrame>;
    fn deref(&self) -> &Self::Target {
        &self.stats
    }
}

impl std::ops::DerefMut for PeerStats {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.stats
    }
}

impl IntoIterator for PeerStats {
    type Item = (String, DataFrame);
    type IntoIter = std::collections::hash_map::IntoIter<String, DataFrame>;
    fn into_iter(self) -> Self::IntoIter {
        self.stats.into_iter()
    }
}

/// Where a rule's peer statistics come from.
#[derive(Clone, Default)]
pub enum Peers {
    /// Computed from the context's own data (an audit of the whole batch).
    #[default]
    Own,
    /// Computed from the context's own data, and each kept (the statistics of a
    /// full audit, for the live answers that follow it).
    Record(Arc<Mutex<PeerStats>>),
    /// Given (from the last full audit): a live answer audits one enterprise's
    /// rows against the statistics of all. A statistic not given is an error.
    Given(Arc<PeerStats>),
}

/// What rules see: the batch, the period under review, and frames shared between
/// rules (computed once, on first use).
pub struct Ctx<'a> {
    /// The loaded batch.
    pub batch: &'a Batch,
    /// The period under review: the last month audited.
    pub period: Month,
    /// The first month audited (`period` itself unless a `Kind::Months` rule is
    /// asked for several months at once).
    pub from: Month,
    /// The rules being run, with the settings they read.
    pub set: &'a RuleSet,
    shared: Mutex<HashMap<&'static str, DataFrame>>,
    /// Frames given to the context (computed by another run over the same
    /// data): shared like the others, never dropped between families.
    kept: HashMap<&'static str, DataFrame>,
    peers: Peers,
    /// Findings of months before this one get no messages (a pass rebuilding
    /// the grade state writes the last month's findings alone; grading reads
    /// none of the text).
    messages_from: Month,
}

/// Frames a run computed, by the names [`Ctx::shared`] gives them.
pub type Frames = HashMap<&'static str, DataFrame>;

impl<'a> Ctx<'a> {
    /// A context for one run.
    pub fn new(batch: &'a Batch, set: &'a RuleSet) -> Ctx<'a> {
        Ctx::months(batch, set, batch.period)
    }

    /// A context auditing every month from `from` to the batch's period.
    pub fn months(batch: &'a Batch, set: &'a RuleSet, from: Month) -> Ctx<'a> {
        Ctx {
            batch,
            period: batch.period,
            from,
            set,
            shared: Mutex::default(),
            kept: HashMap::new(),
            peers: Peers::Own,
            messages_from: Month(i32::MIN),
        }
    }

    /// The same context rendering messages only for findings of `m` and later.
    fn with_messages_from(mut self, m: Month) -> Ctx<'a> {
        self.messages_from = m;
        self
    }

    /// The same context given `frames` a run over the same data computed: a rule
    /// asking for one of them takes it instead of computing it again.
    pub fn with_frames(mut self, frames: Frames) -> Ctx<'a> {
        self.kept.extend(frames);
        self
    }

    /// The frames the context holds: those given it and those computed since the
    /// last family began.
    pub fn into_frames(self) -> Frames {
        let mut all = self.kept;
        all.extend(self.shared.into_inner().unwrap_or_else(|e| e.into_inner()));
        all
    }

    /// The same context with its peer statistics from `peers`.
    pub fn with_peers(mut self, peers: Peers) -> Ctx<'a> {
        self.peers = peers;
        self
    }

    /// Whether peer statistics are computed from this context's data and not
    /// kept ([`Peers::Own`]): a rule may then compute them in place (a window
    /// over the groups) instead of as a frame to join.
    pub fn peers_in_place(&self) -> bool {
        matches!(self.peers, Peers::Own)
    }

    /// A peer statistic given to this context (`Some` only for [`Peers::Given`];
    /// an error when it was not kept).
    pub fn given_peer_stat(&self, key: &str) -> Option<Result<DataFrame>> {
        match &self.peers {
            Peers::Given(given) => Some(given.get(key).cloned().ok_or_else(|| Error::Internal {
                stage: "rules",
                message: format!("peer statistic {key} was not kept by the last full audit"),
            })),
            _ => None,
        }
    }

    /// The rows of a given peer statistic for the groups (columns `on`) of
    /// `rows` (`Some` only for [`Peers::Given`]; an error when it was not kept).
    pub fn given_rows(
        &self,
        key: &str,
        on: &[&str],
        rows: &DataFrame,
    ) -> Option<Result<DataFrame>> {
        match &self.peers {
            Peers::Given(given) => Some(given.rows_for(key, on, rows).unwrap_or_else(|| {
                Err(Error::Internal {
                    stage: "rules",
                    message: format!("peer statistic {key} was not kept by the last full audit"),
                })
            })),
            _ => None,
        }
    }

    /// Keeps a peer statistic computed here, when recording.
    pub fn keep_peer_stat(&self, key: &str, df: DataFrame) {
        if let Peers::Record(kept) = &self.peers {
            if let Ok(mut k) = kept.lock() {
                k.entry(key.to_string()).or_insert(df);
            }
        }
    }

    /// A statistic of the peers, named `key` (which must say everything it
    /// depends on besides the data: the period, a parameter): given, or computed
    /// by `make` from this context's data (and kept when recording).
    pub fn peer_stat(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<DataFrame>,
    ) -> Result<DataFrame> {
        match &self.peers {
            Peers::Own => make(),
            Peers::Record(kept) => {
                if let Some(df) = kept.lock().ok().and_then(|k| k.get(key).cloned()) {
                    return Ok(df);
                }
                let df = make()?;
                if let Ok(mut k) = kept.lock() {
                    k.insert(key.to_string(), df.clone());
                }
                Ok(df)
            }
            Peers::Given(given) => given.get(key).cloned().ok_or_else(|| Error::Internal {
                stage: "rules",
                message: format!("peer statistic {key} was not kept by the last full audit"),
            }),
        }
    }

    /// A figure of the whole table named `key` (as for [`Ctx::peer_stat`]) that
    /// an own check reads: given, when the last full audit kept it; else
    /// computed by `make` from this context's data (and kept when recording).
    /// Unlike a peer statistic, a figure not given is no error: the rule runs
    /// on its own rows, as it does in a month without kept statistics.
    pub fn whole_table_figure(
        &self,
        key: &str,
        make: impl FnOnce() -> Result<DataFrame>,
    ) -> Result<DataFrame> {
        match &self.peers {
            Peers::Given(given) => match given.get(key) {
                Some(df) => Ok(df.clone()),
                None => make(),
            },
            _ => self.peer_stat(key, make),
        }
    }

    /// The same context a year earlier (its own shared frames), for a rule that
    /// sets a comparison against the one a year before.
    pub fn year_earlier(&self) -> Ctx<'a> {
        Ctx {
            batch: self.batch,
            period: self.period.plus(-12),
            from: self.from.plus(-12),
            set: self.set,
            shared: Mutex::default(),
            kept: HashMap::new(),
            peers: self.peers.clone(),
            messages_from: self.messages_from,
        }
    }

    /// `period` (a month-number column) within the months audited.
    pub fn audited(&self, period: Expr) -> Expr {
        period
            .clone()
            .gt_eq(lit(self.from.0))
            .and(period.lt_eq(lit(self.period.0)))
    }

    /// A frame shared between rules, computed by `make` the first time it is asked for.
    pub fn shared(
        &self,
        key: &'static str,
        make: impl FnOnce() -> Result<DataFrame>,
    ) -> Result<DataFrame> {
        if let Some(df) = self.kept.get(key) {
            return Ok(df.clone());
        }
        if let Some(df) = self.frames().get(key) {
            return Ok(df.clone());
        }
        let df = make()?;
        self.frames().insert(key, df.clone());
        Ok(df)
    }

    /// The shared frames (a rule that panicked while holding them leaves them
    /// as they were: a frame is inserted whole or not at all).
    fn frames(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, DataFrame>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the shared frames (between rule families, to free their memory).
    pub fn clear_shared(&self) {
        self.frames().clear();
    }

    /// A context like this one (its batch, months, pipeline, given frames and
    /// peers) with no shared frames of its own yet, to run other rules beside it.
    fn sibling(&self) -> Ctx<'a> {
        Ctx {
            batch: self.batch,
            period: self.period,
            from: self.from,
            set: self.set,
            shared: Mutex::default(),
            kept: self.kept.clone(),
            peers: self.peers.clone(),
            messages_from: self.messages_from,
        }
    }

    /// The shared frames computed so far, taken out of the context.
    fn take_shared(&self) -> Frames {
        std::mem::take(&mut *self.frames())
    }

    /// Takes `frames` (computed by a sibling context) as shared frames of its own.
    fn adopt(&self, frames: Frames) {
        self.frames().extend(frames);
    }

    /// Before running rule `code`: when it starts another family than `family`
    /// (the code's two letters), the frames shared by the last one are dropped.
    fn enter_family(&self, family: &mut &'static str, code: &'static str) {
        if &code[..2] != *family {
            self.clear_shared();
            *family = &code[..2];
        }
    }

    /// A loaded table (present: the engine checks before calling a rule).
    pub fn table(&self, t: Table) -> Result<LazyFrame> {
        self.batch
            .table(t)
            .map(|df| df.clone().lazy())
            .ok_or_else(|| Error::Internal {
                stage: "rules",
                message: format!("table {t} is not loaded"),
            })
    }

    /// The register with derived columns: `eid`, `county_code`, `industry_code`,
    /// `division` (first two digits), `entry_period`, `size_class`.
    pub fn enterprises(&self) -> Result<DataFrame> {
        self.shared("enterprises", || {
            self.batch
                .enterprises
                .clone()
                .lazy()
                .select([
                    col("eid"),
                    col("county_code"),
                    col("industry_code"),
                    col("industry_code")
                        .str()
                        .slice(lit(0), lit(2))
                        .alias("division"),
                    col("entry_period"),
                    col("size_class"),
                ])
                .collect()
                .map_err(|e| Error::polars("rules", e))
        })
    }

    /// Enterprises expected to report this period (admitted on or before it).
    pub fn in_scope(&self) -> Result<usize> {
        let e = self.enterprises()?;
        let ca = e
            .column("entry_period")
            .map_err(|e| Error::polars("rules", e))?
            .i32()
            .map_err(|e| Error::polars("rules", e))?
            .clone();
        Ok(ca
            .iter()
            .filter(|m| m.is_some_and(|m| m <= self.period.0))
            .count())
    }
}

/// What one rule produces.
pub struct RuleOutput {
    /// One row per failure: `eid` (u32) and/or `project_id` / `county_code`,
    /// `period` (text), `value`, `threshold`, `strength` (f64, ≥ 0: how strongly
    /// the finding points to an error, 1 = typical), optional `verifier`
    /// (`city`/`county`), optional `remark` and `remark_en` (text appended to the
    /// message), and any column the message templates name.
    pub failures: DataFrame,
    /// Entities checked.
    pub evaluated: u64,
    /// Entities that could not be checked (missing values, too little history).
    pub not_evaluable: u64,
    /// A remark for the summary (e.g. groups skipped by a detector).
    pub note: Option<String>,
    /// Over several months (`Ctx::from` before `Ctx::period`): whether
    /// `evaluated`, `not_evaluable` and `note` are those of the last month's audit
    /// alone, as a run of that month gives them. When not, a pass that must say
    /// how the rule ended in its last month runs it on that month again. A run
    /// of one month always counts its own.
    pub of_last_month: bool,
}

/// How a rule's run ended, for `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RuleRun {
    /// Code.
    pub code: &'static str,
    /// Severity it ran with.
    pub severity: &'static str,
    /// `evaluated`, `not_evaluable` (table absent) or `error`.
    pub status: &'static str,
    /// Entities checked.
    pub evaluated: u64,
    /// Entities failing.
    pub failed: u64,
    /// Entities not checkable.
    pub not_evaluable: u64,
    /// Why not evaluable, the error, or a remark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// All findings of a run, and how every rule ended.
pub struct Checked {
    /// Findings (schema: see [`FINDING_COLUMNS`]).
    pub findings: DataFrame,
    /// One entry per rule of the pipeline.
    pub runs: Vec<RuleRun>,
    /// The frames the run computed and held at its end (the anticipation of the
    /// year to date, the last family's), for the stages after it
    /// ([`Ctx::with_frames`]).
    pub frames: Frames,
}

/// Columns of the findings frame handed to grading.
pub const FINDING_COLUMNS: [&str; 14] = [
    "rule_code",
    "severity",
    "level",
    "eid",
    "project_id",
    "county_code",
    "period",
    "value",
    "threshold",
    "strength",
    "weight",
    "verifier",
    "message",
    "message_en",
];

fn empty_findings() -> DataFrame {
    DataFrame::new(
        0,
        vec![
            Column::new_empty("rule_code".into(), &DataType::String),
            Column::new_empty("severity".into(), &DataType::String),
            Column::new_empty("level".into(), &DataType::String),
            Column::new_empty("eid".into(), &DataType::UInt32),
            Column::new_empty("project_id".into(), &DataType::String),
            Column::new_empty("county_code".into(), &DataType::String),
            Column::new_empty("period".into(), &DataType::String),
            Column::new_empty("value".into(), &DataType::Float64),
            Column::new_empty("threshold".into(), &DataType::Float64),
            Column::new_empty("strength".into(), &DataType::Float64),
            Column::new_empty("weight".into(), &DataType::Float64),
            Column::new_empty("verifier".into(), &DataType::String),
            Column::new_empty("message".into(), &DataType::String),
            Column::new_empty("message_en".into(), &DataType::String),
        ],
    )
    .expect("static schema")
}

/// Brings a rule's failures to the findings schema, rendering its messages.
fn normalise(
    def: &RuleDef,
    cfg: &RuleConfig,
    out: &DataFrame,
    ctx: &Ctx<'_>,
    months: bool,
) -> Result<DataFrame> {
    let pe = |e| Error::polars("rules", e);
    let schema = out.schema().clone();
    let zh =
        message::render(def.message.zh, &cfg.params, &schema).map_err(|m| Error::Internal {
            stage: "rules",
            message: format!("{}: {m}", def.code),
        })?;
    let en =
        message::render(def.message.en, &cfg.params, &schema).map_err(|m| Error::Internal {
            stage: "rules",
            message: format!("{}: {m}", def.code),
        })?;
    // Nothing found: the templates are checked above, and there is nothing to
    // shape (most rules on one enterprise of a live submission end here).
    if out.height() == 0 {
        return Ok(empty_findings());
    }
    // A rule may add a remark to a finding (`remark`, `remark_en`: text appended to
    // the message where not null), e.g. that the enterprise stood as far from its
    // peers a year earlier.
    let (zh, en) = if schema.contains("remark") && schema.contains("remark_en") {
        let with = |m: Expr, r: &str| {
            when(col(r).is_not_null())
                .then(concat_str([m.clone(), col(r)], "", false))
                .otherwise(m)
        };
        (with(zh, "remark"), with(en, "remark_en"))
    } else {
        (zh, en)
    };
    let opt = |name: &str, dt: DataType| -> Expr {
        if schema.contains(name) {
            col(name).cast(dt).alias(name)
        } else {
            lit(NULL).cast(dt).alias(name)
        }
    };
    let exprs = vec![
        lit(def.code).alias("rule_code"),
        lit(cfg.severity.as_str()).alias("severity"),
        lit(def.level.as_str()).alias("level"),
        opt("eid", DataType::UInt32),
        opt("project_id", DataType::String),
        opt("county_code", DataType::String),
        opt("period", DataType::String),
        opt("value", DataType::Float64),
        opt("threshold", DataType::Float64),
        if schema.contains("strength") {
            col("strength")
                .cast(DataType::Float64)
                .fill_null(lit(1.0))
                .alias("strength")
        } else {
            lit(1.0).alias("strength")
        },
        lit(cfg.weight).alias("weight"),
        opt("verifier", DataType::String),
    ];
    let mut base = out.clone().lazy();
    // Over several months, each finding keeps the month it was found in.
    if months {
        base = base.with_column(if schema.contains("at") {
            col("at").cast(DataType::Int32).alias("at")
        } else {
            let text = col("period").cast(DataType::String);
            (text
                .clone()
                .str()
                .slice(lit(0), lit(4))
                .cast(DataType::Int32)
                * lit(12)
                + text.str().slice(lit(5), lit(2)).cast(DataType::Int32)
                - lit(1))
            .alias("at")
        });
    }
    let columns = |zh: Expr, en: Expr| {
        let mut all = exprs.clone();
        all.extend([zh.alias("message"), en.alias("message_en")]);
        all.extend(months.then(|| col("at")));
        all
    };
    // Messages only for the months that are written: rendering them is a good
    // part of a rule's time over many months.
    let none = || lit(NULL).cast(DataType::String);
    let from = ctx.messages_from;
    let mut lf = if ctx.period < from {
        base.select(columns(none(), none()))
    } else if ctx.from >= from || !months {
        base.select(columns(zh, en))
    } else {
        concat(
            [
                base.clone()
                    .filter(col("at").gt_eq(lit(from.0)))
                    .select(columns(zh, en)),
                base.filter(col("at").lt(lit(from.0)))
                    .select(columns(none(), none())),
            ],
            UnionArgs::default(),
        )
        .map_err(pe)?
    };
    // Enterprise findings carry the county of the enterprise for the reports.
    if def.level != Level::County && !schema.contains("county_code") {
        let ents = ctx
            .enterprises()?
            .lazy()
            .select([col("eid"), col("county_code").alias("_county")]);
        lf = lf
            .join(
                ents,
                [col("eid")],
                [col("eid")],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(
                col("county_code")
                    .fill_null(col("_county"))
                    .alias("county_code"),
            )
            .drop(by_name(["_county"], true, false));
    }
    // A fixed order and rounded numbers: identical runs give identical bytes
    // whatever the order in which threads summed things.
    let round6 = |c: &str| col(c).round(6, RoundMode::HalfAwayFromZero);
    lf.with_columns([round6("value"), round6("threshold"), round6("strength")])
        .sort_by_exprs(
            months
                .then(|| col("at"))
                .into_iter()
                .chain([
                    col("eid"),
                    col("project_id"),
                    col("county_code"),
                    col("period"),
                    col("message"),
                    // Findings without messages, in an order all the same.
                    col("value"),
                    col("threshold"),
                    col("strength"),
                ])
                .collect::<Vec<_>>(),
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .collect()
        .map_err(pe)
}

fn missing_tables(def: &RuleDef, batch: &Batch) -> Vec<Table> {
    std::iter::once(def.table)
        .chain(def.also_needs.iter().copied())
        .filter(|t| batch.table(*t).is_none())
        .collect()
}

/// Runs every rule of the pipeline.
pub fn run(batch: &Batch, set: &RuleSet) -> Result<Checked> {
    run_with_progress(batch, set, None)
}

/// The peer statistics the rules `codes` of the pipeline use at the batch's
/// period, computed from the whole batch (kept by a full audit for the live
/// answers that follow it).
pub fn record_peer_stats(batch: &Batch, set: &RuleSet, codes: &[&str]) -> Result<PeerStats> {
    let some = set.only(|c| codes.contains(&c.def.code));
    let kept = Arc::new(Mutex::new(PeerStats::new()));
    let ctx = Ctx::new(batch, &some).with_peers(Peers::Record(kept.clone()));
    let mut family = "";
    for cfg in &some.rules {
        ctx.enter_family(&mut family, cfg.def.code);
        let (run, _) = run_rule(&ctx, cfg, false);
        if run.status == "error" {
            tracing::warn!(rule = run.code, note = ?run.note, "peer statistics not kept");
        }
    }
    // The anticipation's statistics, whichever rules ran: the explanation of
    // findings by independent sources and the own rules reading the anticipation
    // (AV003, a figure explained at an earlier verification) use them too.
    if batch.table(Table::Industrial).is_some() {
        if let Err(e) = super::anticipate::panel(&ctx) {
            tracing::warn!(error = %e, "the anticipation's peer statistics not kept");
        }
    }
    drop(ctx);
    let kept = Arc::try_unwrap(kept)
        .map(|m| m.into_inner().unwrap_or_default())
        .unwrap_or_else(|a| a.lock().map(|k| k.clone()).unwrap_or_default());
    Ok(kept)
}

/// Runs every rule of the pipeline with its peer statistics from `peers`.
pub fn run_with_peers(batch: &Batch, set: &RuleSet, peers: Peers) -> Result<Checked> {
    run_in(Ctx::new(batch, set).with_peers(peers), None)
}

/// Runs every rule of the pipeline, showing each on a progress bar.
pub fn run_with_progress(
    batch: &Batch,
    set: &RuleSet,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Checked> {
    run_in(Ctx::new(batch, set), progress)
}

fn run_in(ctx: Ctx<'_>, progress: Option<&indicatif::ProgressBar>) -> Result<Checked> {
    let (batch, set) = (ctx.batch, ctx.set);
    let mut frames: Vec<DataFrame> = Vec::new();
    let mut runs = Vec::new();
    let n = set.rules.len();
    let mut family = "";
    for (k, cfg) in set.rules.iter().enumerate() {
        let def = cfg.def;
        // Shared frames serve the rules of one family; drop them after it.
        ctx.enter_family(&mut family, def.code);
        if let Some(pb) = progress {
            pb.set_message(format!(
                "{} rules {}/{n}: {} {}",
                batch.period,
                k + 1,
                def.code,
                cfg.title().0
            ));
        }
        let (run, f) = run_rule(&ctx, cfg, false);
        runs.push(run);
        frames.extend(f);
    }
    let findings = explained(&ctx, stack(empty_findings(), frames)?);
    Ok(Checked {
        findings,
        runs,
        frames: ctx.into_frames(),
    })
}

/// Audits every month from `from` to `to` (the months before the period under
/// review, when the grade state is rebuilt from the data): the findings of each
/// month as [`run`] of that month would give them, with the month in `at`
/// (month number). A formula or `Kind::Months` rule runs once for all the months,
/// a `Kind::Annual` rule once per R&D year, a `Kind::Builtin` rule once per month.
pub fn run_months(
    batch: &Batch,
    set: &RuleSet,
    from: Month,
    to: Month,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<DataFrame> {
    run_months_given(batch, set, from, to, progress, &Frames::new())
}

/// [`run_months`], given the frames a run of the batch's period computed
/// ([`Checked::frames`]): those that hold the months audited are taken, not
/// computed again (today the anticipation, when it looks back from the same
/// January).
pub fn run_months_given(
    batch: &Batch,
    set: &RuleSet,
    from: Month,
    to: Month,
    progress: Option<&indicatif::ProgressBar>,
    given: &Frames,
) -> Result<DataFrame> {
    Ok(run_pass(
        batch,
        set,
        from,
        to,
        progress,
        given,
        PassOptions::default(),
    )?
    .findings)
}

/// What a pass over several months gives.
pub struct Pass {
    /// The first month audited.
    pub from: Month,
    /// The last month audited.
    pub to: Month,
    /// The findings of every month, the month in `at` (month number), ordered by
    /// month, then by the pipeline's order of rules.
    pub findings: DataFrame,
    /// How each rule of the pipeline ended for the last month audited, as
    /// [`run`] of that month reports it (its `seconds` are the whole pass's).
    pub last: Vec<RuleRun>,
    /// The frames the pass's context computed and held at its end.
    pub frames: Frames,
    /// The rules run again on the last month alone for its counts.
    pub recounted: Vec<&'static str>,
}

/// Frames whose rows are the same whichever month of its year a run's first
/// month audited is: each looks back to January of that month's year (the
/// anticipation of output and of services revenue) or over every year (of R&D).
const YEAR_FRAMES: [&str; 3] = ["anticipation", "services_anticipation", "rd_anticipation"];

impl Pass {
    /// The last month's findings and runs as a run of that month alone gives
    /// them ([`run`]), with the frames of the pass that such a run would compute
    /// the same (those of [`YEAR_FRAMES`], when the pass began in the last
    /// month's year, and the month's rows of the labour anticipation) for the
    /// stages after the rules.
    pub fn last_month(&self) -> Result<Checked> {
        let findings = self
            .findings
            .clone()
            .lazy()
            .filter(col("at").eq(lit(self.to.0)))
            .drop(by_name(["at"], true, false))
            .collect()
            .map_err(|e| Error::polars("rules", e))?;
        let mut frames = if self.from.year_start() == self.to.year_start() {
            self.frames
                .iter()
                .filter(|(k, _)| YEAR_FRAMES.contains(k))
                .map(|(k, v)| (*k, v.clone()))
                .collect()
        } else {
            Frames::new()
        };
        if let Some(labour) = self.frames.get("labour_anticipation") {
            frames.insert(
                "labour_anticipation",
                super::paired::labour_of_month(labour, self.to)?,
            );
        }
        Ok(Checked {
            findings,
            runs: self.last.clone(),
            frames,
        })
    }
}

/// What a pass ([`run_pass`]) is asked for besides the findings of every month.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassOptions {
    /// How each rule ended in the last month, counts included, as [`run`] of that
    /// month reports it. Without it, the counts of the rules whose counts over
    /// the months are not the last month's ([`RuleOutput::of_last_month`]) are
    /// left as the pass gives them.
    pub counted: bool,
    /// Rules of these levels are audited in the last month alone (a pass that
    /// rebuilds the grade state needs no county findings of earlier months: they
    /// do not enter enterprises' scores).
    pub last_only: &'static [Level],
    /// Only the last month's findings get messages (the earlier months' serve
    /// the grading, which reads no text): their `message` and `message_en` are
    /// null.
    pub last_month_messages: bool,
}

impl PassOptions {
    /// The first month whose findings get messages.
    fn messages_from(&self, to: Month) -> Month {
        if self.last_month_messages {
            to
        } else {
            Month(i32::MIN)
        }
    }
}

/// [`run_months_given`] with how each rule ended for the last month `to`: a run of
/// every month from `from` to `to`, the last one included, in one pass.
pub fn run_pass(
    batch: &Batch,
    set: &RuleSet,
    from: Month,
    to: Month,
    progress: Option<&indicatif::ProgressBar>,
    given: &Frames,
    opts: PassOptions,
) -> Result<Pass> {
    if from > to {
        return Ok(Pass {
            from,
            to,
            findings: at_month(empty_findings(), from)?,
            last: Vec::new(),
            frames: Frames::new(),
            recounted: Vec::new(),
        });
    }
    let mut pass = PassRun {
        batch,
        set,
        from,
        to,
        progress,
        opts,
        frames: Vec::new(),
        last: HashMap::new(),
    };
    let last_batch = batch.at(to);
    // Rules that audit all the months in one call.
    let ctx = Ctx::months(&last_batch, set, from)
        .with_frames(super::anticipate::narrowed(given, batch.period, from, to)?)
        .with_messages_from(opts.messages_from(to));
    let recount = pass.in_one_call(&ctx)?;
    let recounted: Vec<&'static str> = recount.iter().map(|c| c.def.code).collect();
    pass.count_again(recount);
    if last_batch.table(Table::Rd).is_some() {
        pass.annual(&ctx)?;
    }
    // The others, month by month (the context of the pass keeps its anticipation
    // for explaining the findings at the end).
    pass.month_by_month()?;
    let t = std::time::Instant::now();
    let all = stack(at_month(empty_findings(), from)?, pass.frames)?;
    let all = explained(&ctx, all);
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        rows = all.height(),
        "findings stacked and explained"
    );
    let frames = ctx.into_frames();
    let last = set
        .rules
        .iter()
        .filter_map(|c| pass.last.remove(c.def.code))
        .collect();
    let t = std::time::Instant::now();
    let findings = in_pipeline_order(all, set)?;
    tracing::debug!(
        seconds = t.elapsed().as_secs_f64(),
        "findings in pipeline order"
    );
    Ok(Pass {
        from,
        to,
        findings,
        last,
        frames,
        recounted,
    })
}

/// Findings with null messages (of a month that is not written).
fn without_messages(df: &DataFrame) -> Result<DataFrame> {
    let none = || lit(NULL).cast(DataType::String);
    df.clone()
        .lazy()
        .with_columns([none().alias("message"), none().alias("message_en")])
        .collect()
        .map_err(|e| Error::polars("rules", e))
}

/// `df` with the month it audits in `at`.
fn at_month(df: DataFrame, m: Month) -> Result<DataFrame> {
    df.lazy()
        .with_column(lit(m.0).alias("at"))
        .collect()
        .map_err(|e| Error::polars("rules", e))
}

/// One order whatever the order the rules ran in: month, then pipeline order.
fn in_pipeline_order(all: DataFrame, set: &RuleSet) -> Result<DataFrame> {
    let order: HashMap<&str, u32> = set
        .rules
        .iter()
        .enumerate()
        .map(|(i, c)| (c.def.code, i as u32))
        .collect();
    let codes = all
        .column("rule_code")
        .map_err(|e| Error::polars("rules", e))?;
    let rank: Vec<u32> = codes
        .str()
        .map_err(|e| Error::polars("rules", e))?
        .iter()
        .map(|c| c.and_then(|c| order.get(c).copied()).unwrap_or(u32::MAX))
        .collect();
    all.lazy()
        .with_column(lit(Series::new("_rank".into(), rank)))
        .sort(
            ["at", "_rank"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .drop(by_name(["_rank"], true, false))
        .collect()
        .map_err(|e| Error::polars("rules", e))
}

impl PassOptions {
    /// Whether `cfg` is audited in the last month alone.
    fn last_month_alone(&self, cfg: &RuleConfig) -> bool {
        self.last_only.contains(&cfg.def.level)
    }
}

/// A pass under way: the findings of every month so far (each with its month in
/// `at`) and how each rule ended in the last month.
struct PassRun<'a> {
    batch: &'a Batch,
    set: &'a RuleSet,
    from: Month,
    to: Month,
    progress: Option<&'a indicatif::ProgressBar>,
    opts: PassOptions,
    frames: Vec<DataFrame>,
    last: HashMap<&'static str, RuleRun>,
}

impl<'a> PassRun<'a> {
    /// The rules that audit every month in one call (formulas and
    /// [`Kind::Months`]), their last month's failures counted as a run of that
    /// month counts them. Returns the rules whose other counts over the months are
    /// not the last month's, when the options ask for them.
    fn in_one_call(&mut self, ctx: &Ctx<'_>) -> Result<Vec<&'a RuleConfig>> {
        let (from, to, opts, set) = (self.from, self.to, self.opts, self.set);
        let rules: Vec<&'a RuleConfig> = set
            .rules
            .iter()
            .filter(|c| {
                matches!(c.def.kind, Kind::Formula { .. } | Kind::Months(_))
                    && !opts.last_month_alone(c)
            })
            .collect();
        let progress = self.progress.map(|pb| {
            move |cfg: &RuleConfig| {
                pb.set_message(format!(
                    "{from}–{to} rules: {} {}",
                    cfg.def.code,
                    cfg.title().0
                ));
            }
        });
        let say = progress
            .as_ref()
            .map(|f| f as &(dyn Fn(&RuleConfig) + Sync));
        let ran = families_side_by_side(ctx, &rules, say);
        let mut recount = Vec::new();
        for (cfg, (mut run, f, of_last_month)) in rules.into_iter().zip(ran) {
            if opts.counted && !of_last_month && from < to {
                recount.push(cfg);
            }
            if let Some(f) = f {
                let f_last = f
                    .clone()
                    .lazy()
                    .filter(col("at").eq(lit(to.0)))
                    .collect()
                    .map_err(|e| Error::polars("rules", e))?;
                run.failed = count_failed(&f_last, cfg.def.level);
                self.frames.push(f);
            }
            self.last.insert(cfg.def.code, run);
        }
        Ok(recount)
    }

    /// Runs `rules` again on the last month alone for its counts.
    fn count_again(&mut self, rules: Vec<&RuleConfig>) {
        if rules.is_empty() {
            return;
        }
        let to = self.to;
        let b = self.batch.at(to);
        // Counts alone: the findings are not kept, so no messages.
        let mctx = Ctx::new(&b, self.set).with_messages_from(Month(i32::MAX));
        let mut family = "";
        for cfg in rules {
            mctx.enter_family(&mut family, cfg.def.code);
            let (alone, _) = run_rule(&mctx, cfg, false);
            if let Some(run) = self.last.get_mut(cfg.def.code) {
                tracing::debug!(rule = run.code, "counted again on {to} alone");
                run.evaluated = alone.evaluated;
                run.not_evaluable = alone.not_evaluable;
                run.note = alone.note;
                run.seconds += alone.seconds;
            }
        }
    }

    /// The rules of the annual R&D reports, once per R&D year audited; their
    /// findings stand for every month that audits that year.
    fn annual(&mut self, ctx: &Ctx<'_>) -> Result<()> {
        let (opts, set) = (self.opts, self.set);
        let annual: Vec<&RuleConfig> = set
            .rules
            .iter()
            .filter(|c| matches!(c.def.kind, Kind::Annual(_)) && !opts.last_month_alone(c))
            .collect();
        if annual.is_empty() {
            return Ok(());
        }
        let years = super::rd::rd_years(ctx)?;
        let year_of = |m: i32| super::rd::audited_year(&years, m);
        let mut m = self.from.0;
        let to = self.to.0;
        while m <= to {
            // The months whose audits look at the same R&D year.
            let y = year_of(m);
            let mut end = m;
            while end < to && year_of(end + 1) == y {
                end += 1;
            }
            // The last months are run even without an R&D year, for how the rules
            // ended in the last month.
            if y.is_some() || end == to {
                let b = self.batch.at(Month(end));
                let words = opts.messages_from(self.to);
                let actx = Ctx::new(&b, set).with_messages_from(words);
                for cfg in &annual {
                    let (run, f) = run_rule(&actx, cfg, false);
                    if end == to {
                        self.last.insert(cfg.def.code, run);
                    }
                    if let (Some(f), true) = (f, y.is_some()) {
                        // Copies for months before `words` lose their messages
                        // (a run ending before it rendered none).
                        let bare = (m < words.0 && end >= words.0)
                            .then(|| without_messages(&f))
                            .transpose()?;
                        for month in m..=end {
                            let f = match &bare {
                                Some(bare) if month < words.0 => bare.clone(),
                                _ => f.clone(),
                            };
                            self.frames.push(at_month(f, Month(month))?);
                        }
                    }
                }
            }
            m = end + 1;
        }
        Ok(())
    }

    /// The built-in rules, the rules audited in the last month alone and, without
    /// R&D reports, the annual rules: month by month.
    fn month_by_month(&mut self) -> Result<()> {
        let (opts, set, batch, to) = (self.opts, self.set, self.batch, self.to);
        let per_month = |cfg: &&RuleConfig| {
            matches!(cfg.def.kind, Kind::Builtin(_))
                || (matches!(cfg.def.kind, Kind::Annual(_)) && batch.table(Table::Rd).is_none())
                || opts.last_month_alone(cfg)
        };
        let rules: Vec<&RuleConfig> = set.rules.iter().filter(per_month).collect();
        let months: Vec<Month> = (self.from.0..=to.0).map(Month).collect();
        let progress = self.progress;
        // The months are independent: side by side, then taken in order.
        let done = side_by_side(&months, |_, &m| {
            let b = batch.at(m);
            let ctx = Ctx::new(&b, set).with_messages_from(opts.messages_from(to));
            let mut family = "";
            let mut runs = Vec::new();
            for cfg in &rules {
                if m < to && opts.last_month_alone(cfg) {
                    continue;
                }
                ctx.enter_family(&mut family, cfg.def.code);
                if let Some(pb) = progress {
                    pb.set_message(format!("{m} rules: {} {}", cfg.def.code, cfg.title().0));
                }
                let (run, f) = run_rule(&ctx, cfg, false);
                runs.push((cfg.def.code, run, f));
            }
            runs
        });
        for (m, runs) in months.into_iter().zip(done) {
            for (code, run, f) in runs {
                if m == to {
                    self.last.insert(code, run);
                }
                if let Some(f) = f {
                    self.frames.push(at_month(f, m)?);
                }
            }
        }
        Ok(())
    }
}

/// What [`run_counted`] gives for one rule.
type Counted = (RuleRun, Option<DataFrame>, bool);

/// Runs `rules` (over the months of `ctx`) a family at a time, families side by
/// side ([`side_by_side`]): each family (a run of rules whose codes share their
/// two letters, as [`Ctx::enter_family`] groups them) in a context of its own, so
/// that its shared frames serve it alone, the families reading the most rows
/// first. Returns each rule's [`run_counted`] in the order of `rules`; the last family's shared frames are left in `ctx`, as a
/// run of the families one after the other leaves them.
fn families_side_by_side(
    ctx: &Ctx<'_>,
    rules: &[&RuleConfig],
    progress: Option<&(dyn Fn(&RuleConfig) + Sync)>,
) -> Vec<Counted> {
    let mut families: Vec<&[&RuleConfig]> = Vec::new();
    let mut start = 0;
    for i in 1..=rules.len() {
        if i == rules.len() || rules[i].def.code[..2] != rules[start].def.code[..2] {
            families.push(&rules[start..i]);
            start = i;
        }
    }
    let last = families.len().saturating_sub(1);
    // The costliest families first, so that none of them starts when the other
    // worker has nothing left to do: the cost is taken as the rows its rules read.
    let rows_read = |family: &[&RuleConfig]| -> usize {
        family
            .iter()
            .flat_map(|c| std::iter::once(c.def.table).chain(c.def.also_needs.iter().copied()))
            .map(|t| ctx.batch.table(t).map_or(0, |df| df.height()))
            .sum()
    };
    let mut order: Vec<usize> = (0..families.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(rows_read(families[k])));
    let mut done = side_by_side(&order, |_, &k| {
        let family = families[k];
        let fctx = ctx.sibling();
        let runs: Vec<Counted> = family
            .iter()
            .map(|cfg| {
                if let Some(say) = progress {
                    say(cfg);
                }
                run_counted(&fctx, cfg, true)
            })
            .collect();
        let frames = (k == last).then(|| fctx.take_shared());
        (k, runs, frames)
    });
    ctx.clear_shared();
    done.sort_by_key(|(k, _, _)| *k);
    let mut all = Vec::with_capacity(rules.len());
    for (_, runs, frames) in done {
        all.extend(runs);
        if let Some(frames) = frames {
            ctx.adopt(frames);
        }
    }
    all
}

/// `f` of every task, the tasks taken in order by [`at_once`] threads (each
/// takes the next task when done with its last), the results in the tasks'
/// order.
///
/// Much of a rule's time is spent on one core (building plans, Rust loops, the
/// parts of Polars' queries that do not split), so a second task keeps the other
/// core busy. Two at most by default: each task running holds its own frames in
/// memory.
fn side_by_side<T: Sync, R: Send>(tasks: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let workers = at_once().min(tasks.len());
    if workers <= 1 {
        return tasks.iter().enumerate().map(|(k, t)| f(k, t)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(task) = tasks.get(k) else { break };
                        mine.push((k, f(k, task)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            // A rule's panic is caught where it runs; a worker's own panic is a
            // bug that must not pass unseen.
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, r)| r).collect()
}

/// How many tasks of a pass run side by side: `ZHIBAO_RULE_TASKS` when set (1
/// runs them one after the other and holds the least memory), otherwise two, or
/// one on a single core.
fn at_once() -> usize {
    std::env::var("ZHIBAO_RULE_TASKS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(2)))
}

/// The findings with the changes the independent sources explain turned into
/// information ([`super::anticipate::explain`]); when that fails, the findings as
/// they were, with a warning.
fn explained(ctx: &Ctx<'_>, findings: DataFrame) -> DataFrame {
    match super::anticipate::explain(ctx, findings.clone()) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "Explaining findings by independent sources failed; they are kept as found.");
            findings
        }
    }
}

fn stack(mut all: DataFrame, frames: Vec<DataFrame>) -> Result<DataFrame> {
    for f in frames {
        all.vstack_mut(&f).map_err(|e| Error::polars("rules", e))?;
    }
    all.rechunk_mut();
    Ok(all)
}

/// Runs one rule: how it ended, and its findings when it found any. Its time is
/// logged at debug level (`RUST_LOG=zhibao=debug`).
fn run_rule(ctx: &Ctx<'_>, cfg: &RuleConfig, months: bool) -> (RuleRun, Option<DataFrame>) {
    let (run, f, _) = run_counted(ctx, cfg, months);
    (run, f)
}

/// [`run_rule`], and whether its counts are those of the last month alone
/// ([`RuleOutput::of_last_month`]; always for a rule that did not run).
fn run_counted(
    ctx: &Ctx<'_>,
    cfg: &RuleConfig,
    months: bool,
) -> (RuleRun, Option<DataFrame>, bool) {
    let (run, f, of_last_month) = evaluate_rule(ctx, cfg, months);
    tracing::debug!(
        rule = run.code,
        seconds = run.seconds,
        status = run.status,
        "audited {}–{}",
        ctx.from,
        ctx.period
    );
    (run, f, of_last_month)
}

fn evaluate_rule(
    ctx: &Ctx<'_>,
    cfg: &RuleConfig,
    months: bool,
) -> (RuleRun, Option<DataFrame>, bool) {
    let def = cfg.def;
    let started = Instant::now();
    let missing = missing_tables(def, ctx.batch);
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|t| t.name()).collect();
        let not_evaluable = match def.level {
            Level::Enterprise => ctx.in_scope().unwrap_or(0) as u64,
            _ => 0,
        };
        let run = RuleRun {
            code: def.code,
            severity: cfg.severity.as_str(),
            status: "not_evaluable",
            evaluated: 0,
            failed: 0,
            not_evaluable,
            note: Some(format!("table {} not provided", names.join(", "))),
            seconds: started.elapsed().as_secs_f64(),
        };
        return (run, None, true);
    }
    // A panic inside one rule is that rule's error: the run goes on without it.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &def.kind {
        Kind::Formula { .. } => super::formula::eval(ctx, cfg),
        Kind::Builtin(f) | Kind::Months(f) | Kind::Annual(f) => f(ctx, cfg),
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown cause".to_string());
        Err(crate::error::Error::Internal {
            stage: "rules",
            message: format!("rule {} panicked: {why}", def.code),
        })
    })
    .and_then(|out| {
        let f = normalise(def, cfg, &out.failures, ctx, months)?;
        Ok((out, f))
    });
    match result {
        Ok((out, f)) => {
            let failed = count_failed(&f, def.level);
            let of_last_month = out.of_last_month || ctx.from == ctx.period;
            let run = RuleRun {
                code: def.code,
                severity: cfg.severity.as_str(),
                status: "evaluated",
                evaluated: out.evaluated,
                failed,
                not_evaluable: out.not_evaluable,
                note: out.note,
                seconds: started.elapsed().as_secs_f64(),
            };
            (run, (f.height() > 0).then_some(f), of_last_month)
        }
        Err(e) => {
            tracing::warn!(rule = def.code, error = %e, "The rule failed; the run goes on without it.");
            let run = RuleRun {
                code: def.code,
                severity: cfg.severity.as_str(),
                status: "error",
                evaluated: 0,
                failed: 0,
                not_evaluable: 0,
                note: Some(e.to_string()),
                seconds: started.elapsed().as_secs_f64(),
            };
            (run, None, true)
        }
    }
}

/// Failed entities: distinct enterprises, projects or counties (a rule may report
/// several periods of one entity).
fn count_failed(f: &DataFrame, level: Level) -> u64 {
    let key = match level {
        Level::Enterprise => "eid",
        Level::Project => "project_id",
        Level::County => "county_code",
    };
    f.column(key)
        .ok()
        .and_then(|c| c.n_unique().ok())
        .unwrap_or(f.height()) as u64
}

/// Formats a month-number column as `YYYY-MM` text.
pub fn month_text(e: Expr) -> Expr {
    let year = e.clone().floor_div(lit(12));
    let month = e - year.clone() * lit(12) + lit(1);
    concat_str(
        [
            year.cast(DataType::String),
            when(month.clone().lt(lit(10)))
                .then(lit("-0"))
                .otherwise(lit("-")),
            month.cast(DataType::String),
        ],
        "",
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_side_by_side_come_back_in_their_order() {
        // The first tasks take longest, so they end after later ones.
        let tasks: Vec<u64> = (0..9).rev().collect();
        let got = side_by_side(&tasks, |k, t| {
            std::thread::sleep(std::time::Duration::from_millis(3 * t));
            (k, *t * 10)
        });
        let want: Vec<(usize, u64)> = tasks.iter().enumerate().map(|(k, t)| (k, t * 10)).collect();
        assert_eq!(got, want);
        assert!(side_by_side(&[] as &[u8], |_, t| *t).is_empty());
    }

    #[test]
    fn a_task_that_panics_is_not_lost() {
        let r = std::panic::catch_unwind(|| {
            side_by_side(&[1, 2, 3], |_, t| {
                assert!(*t != 2, "task two");
                *t
            })
        });
        assert!(r.is_err());
    }

    #[test]
    fn a_kept_statistic_gives_the_rows_of_the_groups_asked_for() {
        let mut stats = PeerStats::new();
        let stat = df!(
            "division" => [Some("13"), Some("13"), Some("14"), None],
            "period" => [1, 2, 1, 1],
            "_m" => [1.0, 2.0, 3.0, 4.0]
        )
        .unwrap();
        stats.insert("k".into(), stat);
        let rows = df!(
            "division" => [Some("13"), None, Some("13"), Some("99")],
            "period" => [2, 1, 2, 1]
        )
        .unwrap();
        let got = stats
            .rows_for("k", &["division", "period"], &rows)
            .unwrap()
            .unwrap();
        let m: Vec<Option<f64>> = got.column("_m").unwrap().f64().unwrap().iter().collect();
        // Group 13/2 once however often asked, the null division as a group of its
        // own, 99/1 not kept; in the statistic's order. Asked again: the same.
        assert_eq!(m, [Some(2.0), Some(4.0)]);
        let again = stats
            .rows_for("k", &["division", "period"], &rows)
            .unwrap()
            .unwrap();
        assert!(again.equals_missing(&got));
        assert!(stats.rows_for("absent", &["period"], &rows).is_none());
    }
}
