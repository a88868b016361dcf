//! The one table of rule codes. A code is stable and never reused: a retired rule
//! keeps its code out of circulation. Each entry carries everything a user sees —
//! messages in Chinese and English, the evidence to ask for, the documentation —
//! so `zhibao rules`, the docs and the query list all speak with one voice.

use std::fmt;

use serde::Serialize;

use super::config::RuleConfig;
use super::engine::{Ctx, RuleOutput};
use crate::model::Table;
pub use crate::settings::{Default, ParamKind, ParamSpec};

/// How serious a failed check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 强制性审核: logically impossible; the platform would refuse it.
    Hard,
    /// 核实性审核: possible but suspicious; the enterprise must explain or correct.
    Soft,
    /// Routing or attention; no error implied.
    Info,
}

impl Severity {
    /// `hard`, `soft` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Hard => "hard",
            Severity::Soft => "soft",
            Severity::Info => "info",
        }
    }

    /// Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Severity::Hard => "强制性",
            Severity::Soft => "核实性",
            Severity::Info => "提示性",
        }
    }

    /// Parses `hard`, `soft` or `info`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "hard" => Some(Severity::Hard),
            "soft" => Some(Severity::Soft),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// One enterprise.
    Enterprise,
    /// One investment project (and its legal entity).
    Project,
    /// A county as a whole (scorecard).
    County,
}

impl Level {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Enterprise => "enterprise",
            Level::Project => "project",
            Level::County => "county",
        }
    }
}

/// Which rows a row-wise rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Only the period under review.
    Period,
    /// Every month of the year up to the period under review (still open to correction).
    YearToDate,
}

impl Scope {
    /// Name used in pipeline files.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Period => "period",
            Scope::YearToDate => "year_to_date",
        }
    }

    /// Parses a pipeline value.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "period" => Some(Scope::Period),
            "year_to_date" => Some(Scope::YearToDate),
            _ => None,
        }
    }
}

/// A text in both languages.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Text {
    /// 中文.
    pub zh: &'static str,
    /// English.
    pub en: &'static str,
}

/// How a rule computes.
pub enum Kind {
    /// A SQL condition over one table's columns (`fails_when`), editable in the
    /// pipeline; `value` is an optional SQL expression carried into the finding.
    Formula {
        /// Default condition.
        fails_when: &'static str,
        /// Value reported with the finding.
        value: Option<&'static str>,
        /// Default scope.
        scope: Scope,
    },
    /// A built-in computation over the whole table (history, groups, detectors),
    /// for the period under review only: over several months the engine calls it
    /// once per month.
    Builtin(fn(&Ctx<'_>, &RuleConfig) -> crate::Result<RuleOutput>),
    /// A built-in computation that audits every month from `Ctx::from` to
    /// `Ctx::period` in one call. Its failures carry the audited month as `at`
    /// (month number), or their `period` is the audited month.
    Months(fn(&Ctx<'_>, &RuleConfig) -> crate::Result<RuleOutput>),
    /// A built-in computation over the annual R&D reports, for the period under
    /// review, whose result depends on the period only through the R&D year it
    /// audits (the latest year up to the period): over several months the engine
    /// calls it once per R&D year.
    Annual(fn(&Ctx<'_>, &RuleConfig) -> crate::Result<RuleOutput>),
}

/// What a rule's finding rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A figure of the reports under review (almost every rule).
    Figures,
    /// The enterprise's record of earlier verifications, not a figure under review
    /// (the services risk-grade's query error rate, SV003). It raises the grade, but
    /// on the query list it ranks after every finding on a figure: a yellow
    /// enterprise queried for its record alone is cut first when a county's list is
    /// capped, and joins the random sample (中风险企业随机抽查).
    Record,
}

impl Basis {
    /// The name written in findings (`figures`, `record`).
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Figures => "figures",
            Basis::Record => "record",
        }
    }
}

/// One rule.
pub struct RuleDef {
    /// Stable code (`TX001`).
    pub code: &'static str,
    /// Short title; a threshold in it is a `{param}` placeholder (formats as in
    /// `message`, and `{x:,}` / `{x:汉}`), so the title says what the pipeline
    /// checks ([`RuleDef::title_with`]).
    pub title: Text,
    /// The table whose presence makes the rule evaluable.
    pub table: Table,
    /// Further tables it needs (not evaluable without them).
    pub also_needs: &'static [Table],
    /// What a finding is about.
    pub level: Level,
    /// Default severity.
    pub severity: Severity,
    /// Message template: `{column}` / `{param}` placeholders, `{x:.1}` decimals,
    /// `{x:%}` a ratio as a percentage.
    pub message: Text,
    /// The action and evidence to request.
    pub hint: Text,
    /// Documentation: what it checks.
    pub what: Text,
    /// Why it matters.
    pub why: Text,
    /// A worked example.
    pub example: Text,
    /// The remedy.
    pub remedy: Text,
    /// Parameters.
    pub params: &'static [ParamSpec],
    /// What a finding rests on.
    pub basis: Basis,
    /// Computation.
    pub kind: Kind,
}

impl RuleDef {
    /// The title in Chinese and English with the thresholds of `params`.
    pub fn title_with(&self, params: &crate::settings::Values) -> (String, String) {
        (
            super::message::render_plain(self.title.zh, &[], params),
            super::message::render_plain(self.title.en, &[], params),
        )
    }

    /// The title with the default thresholds.
    pub fn default_title(&self) -> (String, String) {
        self.title_with(&crate::settings::Values::defaults(self.params))
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every table whose rows of an enterprise its findings about that enterprise
    /// may depend on: the register, its table, the further tables it needs, and
    /// the anticipation's tables for a rule that reads the anticipation. A
    /// rule none of whose tables changed for an enterprise finds for it what it
    /// found before (`zhibao serve` takes such findings from its last full audit
    /// instead of running the rule again). The test
    /// `a_rule_reads_only_the_tables_it_names` changes each table in turn and
    /// checks that no other rule's findings move.
    pub fn reads(&self) -> Vec<Table> {
        let mut v = vec![Table::Enterprises, self.table];
        v.extend(self.also_needs.iter().copied());
        if super::anticipate::READERS.contains(&self.code) {
            v.extend(super::anticipate::TABLES.iter().copied());
        }
        v.sort();
        v.dedup();
        v
    }
}

/// The typed parameters of a built-in rule: the struct its computation reads
/// them into ([`super::RuleConfig::params`]), checked against the rule's declared
/// parameters by the pipeline and by the tests.
pub struct Typed {
    /// The rule.
    pub code: &'static str,
    /// Reads `values` into the rule's struct; the error names what does not fit.
    pub check: fn(&crate::settings::Values) -> Result<(), String>,
}

/// The entry of rule `code`, whose parameters are the struct `T`.
pub const fn typed<T: serde::de::DeserializeOwned>(code: &'static str) -> Typed {
    Typed {
        code,
        check: crate::settings::check::<T>,
    }
}

/// The typed parameters of rule `code` (none for a formula rule, whose
/// parameters are the placeholders of its condition, or a rule without any).
pub fn typed_params(code: &str) -> Option<&'static Typed> {
    super::TYPED
        .iter()
        .flat_map(|f| f.iter())
        .find(|t| t.code == code)
}

/// Every rule, in code order.
pub fn all() -> Vec<&'static RuleDef> {
    let mut v: Vec<&'static RuleDef> = Vec::new();
    for family in super::FAMILIES {
        v.extend(family.iter());
    }
    v.sort_by_key(|r| r.code);
    v
}

/// A rule by code.
pub fn get(code: &str) -> Option<&'static RuleDef> {
    super::FAMILIES
        .iter()
        .flat_map(|f| f.iter())
        .find(|r| r.code == code)
}
