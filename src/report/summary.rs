//! `summary.json`: the run in numbers. Everything in it is determined by the
//! inputs, the pipeline and the seed, except the `timings` object.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::TableStats;
use crate::rules::RuleRun;

/// One rule's result.
#[derive(Clone, Debug, Serialize)]
pub struct RuleSummary {
    /// Severity it ran with.
    pub severity: &'static str,
    /// `evaluated`, `not_evaluable` or `error`.
    pub status: &'static str,
    /// Entities checked.
    pub evaluated: u64,
    /// Entities failing.
    pub failed: u64,
    /// Entities not checkable.
    pub not_evaluable: u64,
    /// Remark, reason or error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&RuleRun> for RuleSummary {
    fn from(r: &RuleRun) -> Self {
        RuleSummary {
            severity: r.severity,
            status: r.status,
            evaluated: r.evaluated,
            failed: r.failed,
            not_evaluable: r.not_evaluable,
            note: r.note.clone(),
        }
    }
}

/// The pipeline that ran.
#[derive(Clone, Debug, Serialize)]
pub struct PipelineSummary {
    /// Its name.
    pub name: String,
    /// Where it came from.
    pub source: String,
    /// Rules run.
    pub rules: usize,
}

/// Counts of the outputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    /// Findings by severity.
    pub findings: BTreeMap<String, u64>,
    /// Enterprises by grade.
    pub grades: BTreeMap<String, u64>,
    /// Query list lines.
    pub query_lines: u64,
    /// Of which drawn at random.
    pub query_sampled: u64,
    /// Of which verified by the city bureau.
    pub query_city: u64,
    /// Counties on the scorecard.
    pub counties: u64,
    /// The bottom counties.
    pub bottom_counties: Vec<String>,
    /// Counties with a tax-to-output ratio below the threshold.
    pub tax_flagged_counties: Vec<String>,
    /// The stopping rule per county: lines of the query list that bring the
    /// expected remaining error below `stop_share` of its year-to-date output.
    pub stopping: BTreeMap<String, crate::rank::Stop>,
    /// `[anticipation] stop_share` of the run.
    pub stop_share: f64,
    /// The contamination model fitted to the year's anticipations: the share of
    /// wrong figures, how much wider they spread, and the spread of correct ones.
    pub mixture: Option<MixtureSummary>,
}

/// The fitted contamination model.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MixtureSummary {
    /// π.
    pub prior_error_rate: f64,
    /// λ.
    pub error_scale: f64,
    /// σ₀.
    pub sigma0: f64,
}

/// Stage timings in seconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    /// Loading and validation.
    pub load: f64,
    /// The rules of the period under review (on a first audit, the one pass over
    /// the period and the earlier months whose grades rebuild the state).
    pub rules: f64,
    /// Grading the earlier months' findings into the grade state (a first audit).
    pub state_rebuild: f64,
    /// Scoring and grading.
    pub grade: f64,
    /// Query list.
    pub rank: f64,
    /// Scorecard and files.
    pub report: f64,
    /// The whole run.
    pub total: f64,
    /// Per rule.
    pub per_rule: BTreeMap<String, f64>,
    /// Peak resident memory (MB) at the end of each stage, where the system tells.
    pub peak_rss_mb: BTreeMap<String, u64>,
}

/// The process's peak resident memory so far, in MB (Linux; `None` elsewhere).
pub fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// The whole summary.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// zhibao's version.
    pub zhibao_version: &'static str,
    /// Period under review.
    pub period: String,
    /// Seed of the random sampling.
    pub seed: u64,
    /// Pipeline.
    pub pipeline: PipelineSummary,
    /// Where the grade state came from.
    pub grade_state: String,
    /// Accounting per table (`rows_read = rows_accepted + rows_quarantined`).
    pub tables: BTreeMap<String, TableStats>,
    /// Tables not given: their rules are not evaluable this run.
    pub tables_not_provided: Vec<String>,
    /// Per rule.
    pub rules: BTreeMap<String, RuleSummary>,
    /// Output counts.
    pub outputs: Counts,
    /// Timings (the only part that differs between identical runs).
    pub timings: Timings,
}
