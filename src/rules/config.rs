//! The rules stage's own settings: each rule as the pipeline configures it
//! ([`RuleConfig`]), and the set the engine runs ([`RuleSet`]) with the settings
//! sections the rules read. The pipeline module composes them from a pipeline
//! file; the engine never sees the file, and of the later stages' settings it is
//! given only the one the explanation of findings needs (`explained_months`).

use super::anticipate::Anticipation;
use super::registry::{Kind as RuleKind, RuleDef, Scope, Severity};
use crate::settings::Values;

/// One rule as a pipeline runs it.
#[derive(Clone)]
pub struct RuleConfig {
    /// The rule.
    pub def: &'static RuleDef,
    /// Severity (the registry's unless the pipeline changes it).
    pub severity: Severity,
    /// Multiplier of the rule's findings in the score.
    pub weight: f64,
    /// Rows looked at (formula rules).
    pub scope: Scope,
    /// The condition (formula rules), parameters substituted in at run time.
    pub fails_when: Option<String>,
    /// Parameters, defaults filled in.
    pub params: Values,
    /// Where the rule was configured (`file:line`).
    pub origin: String,
}

impl RuleConfig {
    /// The rule with its registry defaults, configured at `origin`.
    pub fn new(def: &'static RuleDef, origin: String) -> RuleConfig {
        let (fails_when, scope) = match &def.kind {
            RuleKind::Formula {
                fails_when, scope, ..
            } => (Some(fails_when.to_string()), *scope),
            RuleKind::Builtin(_) | RuleKind::Months(_) | RuleKind::Annual(_) => {
                (None, Scope::Period)
            }
        };
        RuleConfig {
            def,
            severity: def.severity,
            weight: 1.0,
            scope,
            fails_when,
            params: Values::defaults(def.params),
            origin,
        }
    }

    /// The rule's code.
    pub fn code(&self) -> &'static str {
        self.def.code
    }

    /// The title in Chinese and English, with this pipeline's thresholds.
    pub fn title(&self) -> (String, String) {
        self.def.title_with(&self.params)
    }

    /// The parameters as the rule's typed struct `T` (see [`Values::typed`]): a
    /// built-in rule reads its parameters only this way, never by name. The
    /// pipeline checks every rule's parameters against its struct when it is
    /// read ([`super::registry::typed_params`]), so this fails only for code
    /// that asks for another rule's struct: that rule's error, not a panic.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> crate::error::Result<T> {
        self.params
            .typed()
            .map_err(|message| crate::error::Error::Internal {
                stage: "rule parameters",
                message: format!("{}: {message}", self.def.code),
            })
    }

    /// A SQL text with `{param}` placeholders replaced by the parameter values.
    pub fn substitute(&self, sql: &str) -> String {
        self.params.substitute(sql)
    }
}

/// What the engine runs: the rules in pipeline order, with the settings the rules
/// read besides their own parameters.
#[derive(Clone)]
pub struct RuleSet {
    /// The rules to run, in pipeline order.
    pub rules: Vec<RuleConfig>,
    /// The `[anticipation]` settings, read (its keys are declared by
    /// [`super::anticipate::SETTINGS`]).
    pub anticipation: Anticipation,
    /// For how many months a verification that found a figure correct explains
    /// the same finding again (`[grading] explained_months`).
    pub explained_months: i64,
}

impl RuleSet {
    /// A rule's configuration, if the set runs it.
    pub fn rule(&self, code: &str) -> Option<&RuleConfig> {
        self.rules.iter().find(|r| r.code() == code)
    }

    /// The same set with only the rules `keep` accepts.
    pub fn only(&self, keep: impl Fn(&RuleConfig) -> bool) -> RuleSet {
        RuleSet {
            rules: self.rules.iter().filter(|r| keep(r)).cloned().collect(),
            ..self.clone()
        }
    }
}
