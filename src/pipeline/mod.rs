//! Pipelines are data: a TOML file names the rules to run with their parameters,
//! and the settings of grading, the query list and the scorecard. The built-in
//! default (`pipelines/default.toml` and the family packs it includes) is compiled
//! into the binary.
//!
//! A pipeline is validated completely before anything runs: every problem — a
//! syntax error, an unknown key, a code that does not exist, a parameter of the
//! wrong type or out of range, a formula that does not compile — is reported at
//! once with the file, the line, the key and what is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub use crate::error::{PipelineErrors, Problem};
use crate::grade::Grading;
use crate::rank::QueryList;
use crate::report::scorecard::Scorecard;
use crate::rules::anticipate::Anticipation;
pub use crate::rules::config::{RuleConfig, RuleSet};
use crate::rules::registry::{self, Kind as RuleKind, ParamKind, ParamSpec, Scope, Severity};
pub use crate::settings::{Section, Value, Values};

/// The built-in pipeline files, by file name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default.toml", include_str!("../../pipelines/default.toml")),
    (
        "industrial.toml",
        include_str!("../../pipelines/industrial.toml"),
    ),
    ("tax.toml", include_str!("../../pipelines/tax.toml")),
    ("rd.toml", include_str!("../../pipelines/rd.toml")),
    (
        "investment.toml",
        include_str!("../../pipelines/investment.toml"),
    ),
    (
        "detectors.toml",
        include_str!("../../pipelines/detectors.toml"),
    ),
    ("labor.toml", include_str!("../../pipelines/labor.toml")),
    ("energy.toml", include_str!("../../pipelines/energy.toml")),
    (
        "services.toml",
        include_str!("../../pipelines/services.toml"),
    ),
    (
        "anticipate.toml",
        include_str!("../../pipelines/anticipate.toml"),
    ),
];

/// The settings sections a pipeline file may have.
pub fn sections() -> [&'static Section; 4] {
    [
        &crate::rules::anticipate::SETTINGS,
        &crate::grade::SETTINGS,
        &crate::rank::SETTINGS,
        &crate::report::scorecard::SETTINGS,
    ]
}

/// A validated pipeline.
#[derive(Clone)]
pub struct Pipeline {
    /// `name` of the `[pipeline]` table.
    pub name: String,
    /// Where it came from (`built-in default` or a path).
    pub source: String,
    /// The rules to run, in the order first configured.
    pub rules: Vec<RuleConfig>,
    /// The settings sections, defaults filled in; each fits its stage's typed
    /// settings (checked when the pipeline is read, the one way to make one).
    settings: BTreeMap<&'static str, Values>,
    /// The `[grading]` section, read.
    grading: Grading,
    /// The `[query_list]` section, read.
    query_list: QueryList,
    /// The `[scorecard]` section, read.
    scorecard: Scorecard,
    /// The `[anticipation]` section, read.
    anticipation: Anticipation,
}

impl Pipeline {
    /// The built-in default pipeline.
    pub fn builtin() -> Pipeline {
        Pipeline::load_builtin("default.toml").expect("the built-in pipeline is valid (tested)")
    }

    /// A built-in pipeline file by name.
    pub fn load_builtin(name: &str) -> Result<Pipeline, PipelineErrors> {
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| PipelineErrors::single(name, 0, "", "no such built-in pipeline"))?;
        Pipeline::parse(
            name,
            None,
            text,
            &format!("built-in {}", name.trim_end_matches(".toml")),
        )
    }

    /// Parses pipeline text (includes resolve to the built-in packs).
    pub fn from_text(name: &str, text: &str) -> Result<Pipeline, PipelineErrors> {
        Pipeline::parse(name, None, text, name)
    }

    /// Loads a pipeline file from disk.
    pub fn load(path: &Path) -> Result<Pipeline, PipelineErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PipelineErrors::single(
                &path.display().to_string(),
                0,
                "",
                &format!("cannot read the file: {e}"),
            )
        })?;
        Pipeline::parse(
            &path.display().to_string(),
            path.parent(),
            &text,
            &path.display().to_string(),
        )
    }

    fn parse(
        name: &str,
        dir: Option<&Path>,
        text: &str,
        source: &str,
    ) -> Result<Pipeline, PipelineErrors> {
        let mut b = Builder::default();
        b.file(name, dir, text, &mut Vec::new());
        if !b.problems.is_empty() {
            return Err(PipelineErrors {
                problems: b.problems,
            });
        }
        let settings: BTreeMap<&'static str, Values> = sections()
            .into_iter()
            .map(|s| {
                let mut v = Values::defaults(s.settings);
                if let Some(given) = b.settings.get(s.name) {
                    for (k, val) in given.iter() {
                        v.set(k, val.clone());
                    }
                }
                (s.name, v)
            })
            .collect();
        // Each stage reads its section into its own typed settings (in the
        // order of `sections()`).
        let mut problems = Vec::new();
        let anticipation = typed_section::<Anticipation>(
            name,
            &settings,
            &crate::rules::anticipate::SETTINGS,
            &mut problems,
        );
        let grading =
            typed_section::<Grading>(name, &settings, &crate::grade::SETTINGS, &mut problems);
        let query_list =
            typed_section::<QueryList>(name, &settings, &crate::rank::SETTINGS, &mut problems);
        let scorecard = typed_section::<Scorecard>(
            name,
            &settings,
            &crate::report::scorecard::SETTINGS,
            &mut problems,
        );
        let (Some(anticipation), Some(grading), Some(query_list), Some(scorecard)) =
            (anticipation, grading, query_list, scorecard)
        else {
            return Err(PipelineErrors { problems });
        };
        Ok(Pipeline {
            name: b.name.unwrap_or_else(|| "unnamed".to_string()),
            source: source.to_string(),
            rules: b
                .rules
                .into_iter()
                .filter(|(_, enabled)| *enabled)
                .map(|(r, _)| r)
                .collect(),
            settings,
            grading,
            query_list,
            scorecard,
            anticipation,
        })
    }

    /// The `[grading]` settings.
    pub fn grading(&self) -> &Grading {
        &self.grading
    }

    /// The `[query_list]` settings.
    pub fn query_list(&self) -> &QueryList {
        &self.query_list
    }

    /// The `[scorecard]` settings.
    pub fn scorecard(&self) -> &Scorecard {
        &self.scorecard
    }

    /// The `[anticipation]` settings.
    pub fn anticipation(&self) -> &Anticipation {
        &self.anticipation
    }

    /// A digest of everything that decides what the pipeline computes: each
    /// rule's code, severity, weight, scope, condition and parameters, and every
    /// settings section (not where they were written). Equal for two loads of
    /// the same file by the same build.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for r in &self.rules {
            format!(
                "{}|{:?}|{}|{:?}|{:?}|{:?}",
                r.def.code, r.severity, r.weight, r.scope, r.fails_when, r.params
            )
            .hash(&mut h);
        }
        format!("{:?}", self.settings).hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// A rule's configuration, if the pipeline runs it.
    pub fn rule(&self, code: &str) -> Option<&RuleConfig> {
        self.rules.iter().find(|r| r.code() == code)
    }

    /// What the rules stage runs: the rules, with the settings they read
    /// besides their own parameters.
    pub fn rule_set(&self) -> RuleSet {
        RuleSet {
            rules: self.rules.clone(),
            anticipation: self.anticipation.clone(),
            explained_months: self.grading.explained_months,
        }
    }

    /// The run's parameters, one line each: the pipeline, its settings, its rules
    /// (the scorecard page lists them).
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("pipeline = {} ({})", self.name, self.source)];
        for (section, values) in &self.settings {
            for (k, v) in values.iter() {
                lines.push(format!("{section}.{k} = {v}"));
            }
        }
        for r in &self.rules {
            let ps: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lines.push(format!("{} [{}] {}", r.code(), r.severity, ps.join(", ")));
        }
        lines
    }
}

/// The section `section` of `settings` read into its stage's typed settings
/// `T`; when it does not fit, `None`, and the problem is added to `problems`.
fn typed_section<T: serde::de::DeserializeOwned>(
    file: &str,
    settings: &BTreeMap<&'static str, Values>,
    section: &Section,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match settings[section.name].typed::<T>() {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(Problem {
                file: file.to_string(),
                line: 0,
                key: section.name.to_string(),
                message: format!("the section does not fit the stage's settings: {e}"),
            });
            None
        }
    }
}

#[derive(Default)]
struct Builder {
    name: Option<String>,
    rules: Vec<(RuleConfig, bool)>,
    settings: BTreeMap<&'static str, Values>,
    problems: Vec<Problem>,
}

struct FileCtx<'a> {
    file: &'a str,
    text: &'a str,
}

impl FileCtx<'_> {
    fn line(&self, span: std::ops::Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|&b| b == b'\n').count() + 1
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "text",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn de_int(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    }
}

fn de_num(v: &DeValue<'_>) -> Option<f64> {
    match v {
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        other => de_int(other).map(|i| i as f64),
    }
}

/// For a list of rules (`ParamKind::Rules`), the entries that name no rule of
/// the registry — neither a code nor the start of codes — as a problem: a
/// misspelt code would silently count nothing.
fn naming_no_rule(kind: ParamKind, given: &[String]) -> Option<String> {
    if kind != ParamKind::Rules {
        return None;
    }
    let unknown: Vec<String> = given
        .iter()
        .filter(|g| {
            g.is_empty()
                || !registry::all()
                    .iter()
                    .any(|r| r.code.starts_with(g.as_str()))
        })
        .map(|u| format!("\"{u}\""))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "{} names no rule: each entry is a rule code (\"EN003\") or the start of codes (\"LB\"); `zhibao rules` lists them",
            unknown.join(", ")
        )
    })
}

impl Builder {
    fn problem(
        &mut self,
        cx: &FileCtx<'_>,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: String,
    ) {
        self.problems.push(Problem {
            file: cx.file.to_string(),
            line: span.map(|s| cx.line(s)).unwrap_or(0),
            key: key.to_string(),
            message,
        });
    }

    fn file(&mut self, name: &str, dir: Option<&Path>, text: &str, stack: &mut Vec<String>) {
        if stack.iter().any(|s| s == name) {
            self.problems.push(Problem {
                file: stack.last().cloned().unwrap_or_default(),
                line: 0,
                key: "pipeline.include".into(),
                message: format!("'{name}' includes itself (through {})", stack.join(" → ")),
            });
            return;
        }
        stack.push(name.to_string());
        let cx = FileCtx { file: name, text };
        let (doc, errors) = DeTable::parse_recoverable(text);
        for e in errors {
            let msg = e.message().trim().to_string();
            self.problem(&cx, e.span(), "", format!("TOML syntax: {msg}"));
        }
        let doc = doc.into_inner();
        // Includes come first, so this file's own entries override theirs.
        if let Some(p) = doc.get("pipeline") {
            self.pipeline_table(&cx, dir, p, stack);
        }
        for (k, v) in doc.iter() {
            let key = k.get_ref().as_ref();
            match key {
                "pipeline" => {}
                "rule" => match v.get_ref() {
                    DeValue::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.rule_entry(&cx, i, item);
                        }
                    }
                    other => self.problem(
                        &cx,
                        Some(v.span()),
                        "rule",
                        format!(
                            "'rule' must be a list of tables ([[rule]]), found {}",
                            type_name(other)
                        ),
                    ),
                },
                other => match sections().into_iter().find(|s| s.name == other) {
                    Some(section) => self.section(&cx, section, v),
                    None => {
                        let allowed: Vec<&str> = ["pipeline", "rule"]
                            .into_iter()
                            .chain(sections().into_iter().map(|s| s.name))
                            .collect();
                        self.problem(
                            &cx,
                            Some(k.span()),
                            other,
                            format!(
                                "unknown key; allowed at the top level: {}",
                                allowed.join(", ")
                            ),
                        );
                    }
                },
            }
        }
        stack.pop();
    }

    fn pipeline_table(
        &mut self,
        cx: &FileCtx<'_>,
        dir: Option<&Path>,
        v: &Spanned<DeValue<'_>>,
        stack: &mut Vec<String>,
    ) {
        let DeValue::Table(t) = v.get_ref() else {
            self.problem(
                cx,
                Some(v.span()),
                "pipeline",
                "must be a table [pipeline]".into(),
            );
            return;
        };
        for (k, val) in t.iter() {
            let key = k.get_ref().as_ref();
            let full = format!("pipeline.{key}");
            match key {
                "name" | "description" => match val.get_ref().as_str() {
                    Some(s) => {
                        if key == "name" && stack.len() == 1 {
                            self.name = Some(s.to_string());
                        }
                    }
                    None => self.problem(
                        cx,
                        Some(val.span()),
                        &full,
                        format!("must be text, found {}", type_name(val.get_ref())),
                    ),
                },
                "include" => {
                    let DeValue::Array(items) = val.get_ref() else {
                        self.problem(
                            cx,
                            Some(val.span()),
                            &full,
                            "must be a list of file names".into(),
                        );
                        continue;
                    };
                    for item in items.iter() {
                        let Some(f) = item.get_ref().as_str() else {
                            self.problem(
                                cx,
                                Some(item.span()),
                                &full,
                                "must be a list of file names".into(),
                            );
                            continue;
                        };
                        self.include(cx, dir, f, item.span(), stack);
                    }
                }
                _ => self.problem(
                    cx,
                    Some(k.span()),
                    &full,
                    "unknown key; allowed in [pipeline]: name, description, include".into(),
                ),
            }
        }
    }

    fn include(
        &mut self,
        cx: &FileCtx<'_>,
        dir: Option<&Path>,
        f: &str,
        span: std::ops::Range<usize>,
        stack: &mut Vec<String>,
    ) {
        let on_disk: Option<PathBuf> = dir.map(|d| d.join(f)).filter(|p| p.is_file());
        if let Some(path) = on_disk {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let name = path.display().to_string();
                    self.file(&name, path.parent(), &text, stack);
                }
                Err(e) => self.problem(
                    cx,
                    Some(span),
                    "pipeline.include",
                    format!("cannot read '{}': {e}", path.display()),
                ),
            }
        } else if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == f) {
            self.file(n, None, text, stack);
        } else {
            let builtin: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            self.problem(
                cx,
                Some(span),
                "pipeline.include",
                format!(
                    "'{f}' is neither a file beside this one nor a built-in pack ({})",
                    builtin.join(", ")
                ),
            );
        }
    }

    fn value(
        &mut self,
        cx: &FileCtx<'_>,
        spec: &ParamSpec,
        v: &Spanned<DeValue<'_>>,
        key: &str,
    ) -> Option<Value> {
        let bad = |b: &mut Builder, msg: String| -> Option<Value> {
            b.problem(cx, Some(v.span()), key, msg);
            None
        };
        let range = |b: &mut Builder, x: f64| -> Option<()> {
            if let Some(min) = spec.min {
                if x < min {
                    bad(b, format!("{x} is below the smallest allowed value {min}"));
                    return None;
                }
            }
            if let Some(max) = spec.max {
                if x > max {
                    bad(b, format!("{x} is above the largest allowed value {max}"));
                    return None;
                }
            }
            Some(())
        };
        match spec.kind {
            ParamKind::Number => match de_num(v.get_ref()) {
                Some(x) if x.is_finite() => range(self, x).map(|_| Value::Num(x)),
                _ => bad(
                    self,
                    format!(
                        "must be {}, found {}",
                        spec.kind.describe(),
                        type_name(v.get_ref())
                    ),
                ),
            },
            ParamKind::Integer => match de_int(v.get_ref()) {
                Some(x) => range(self, x as f64).map(|_| Value::Int(x)),
                None => bad(
                    self,
                    format!(
                        "must be {}, found {}",
                        spec.kind.describe(),
                        type_name(v.get_ref())
                    ),
                ),
            },
            ParamKind::Bool => match v.get_ref().as_bool() {
                Some(b) => Some(Value::Bool(b)),
                None => bad(
                    self,
                    format!(
                        "must be {}, found {}",
                        spec.kind.describe(),
                        type_name(v.get_ref())
                    ),
                ),
            },
            ParamKind::Codes | ParamKind::Rules => match v.get_ref() {
                DeValue::Array(items) if items.iter().all(|i| i.get_ref().as_str().is_some()) => {
                    let given: Vec<String> = items
                        .iter()
                        .filter_map(|i| i.get_ref().as_str().map(str::to_string))
                        .collect();
                    match naming_no_rule(spec.kind, &given) {
                        Some(problem) => bad(self, problem),
                        None => Some(Value::Codes(given)),
                    }
                }
                other => bad(
                    self,
                    format!(
                        "must be {}, found {}",
                        spec.kind.describe(),
                        type_name(other)
                    ),
                ),
            },
            ParamKind::Months => match v.get_ref() {
                DeValue::Array(items)
                    if items
                        .iter()
                        .all(|i| de_int(i.get_ref()).is_some_and(|m| (1..=12).contains(&m))) =>
                {
                    Some(Value::Months(
                        items
                            .iter()
                            .filter_map(|i| de_int(i.get_ref()))
                            .map(|m| m as u32)
                            .collect(),
                    ))
                }
                other => bad(
                    self,
                    format!(
                        "must be {}, found {}",
                        spec.kind.describe(),
                        type_name(other)
                    ),
                ),
            },
        }
    }

    fn section(&mut self, cx: &FileCtx<'_>, section: &'static Section, v: &Spanned<DeValue<'_>>) {
        let DeValue::Table(t) = v.get_ref() else {
            self.problem(
                cx,
                Some(v.span()),
                section.name,
                format!("must be a table [{}]", section.name),
            );
            return;
        };
        let mut values = self.settings.remove(section.name).unwrap_or_default();
        for (k, val) in t.iter() {
            let key = k.get_ref().as_ref();
            let full = format!("{}.{key}", section.name);
            match section.settings.iter().find(|s| s.name == key) {
                Some(spec) => {
                    if let Some(x) = self.value(cx, spec, val, &full) {
                        values.set(spec.name, x);
                    }
                }
                None => {
                    let allowed: Vec<&str> = section.settings.iter().map(|s| s.name).collect();
                    self.problem(
                        cx,
                        Some(k.span()),
                        &full,
                        format!(
                            "unknown key; allowed in [{}]: {}",
                            section.name,
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
        self.settings.insert(section.name, values);
    }

    fn rule_entry(&mut self, cx: &FileCtx<'_>, i: usize, item: &Spanned<DeValue<'_>>) {
        let at = format!("rule[{}]", i + 1);
        let DeValue::Table(t) = item.get_ref() else {
            self.problem(
                cx,
                Some(item.span()),
                &at,
                "each [[rule]] must be a table".into(),
            );
            return;
        };
        let code_v = t.get("code");
        let Some(code_v) = code_v else {
            self.problem(cx, Some(item.span()), &at, "a rule needs a 'code'".into());
            return;
        };
        let Some(code) = code_v.get_ref().as_str() else {
            self.problem(
                cx,
                Some(code_v.span()),
                &format!("{at}.code"),
                "must be text".into(),
            );
            return;
        };
        let Some(def) = registry::get(code) else {
            self.problem(
                cx,
                Some(code_v.span()),
                &format!("{at}.code"),
                format!("no rule has the code '{code}'; `zhibao rules` lists them"),
            );
            return;
        };
        let at = format!("rule {code}");
        let origin = format!("{}:{}", cx.file, cx.line(item.span()));
        let idx = match self.rules.iter().position(|(r, _)| r.code() == code) {
            Some(i) => i,
            None => {
                self.rules
                    .push((RuleConfig::new(def, origin.clone()), true));
                self.rules.len() - 1
            }
        };
        let mut cfg = self.rules[idx].0.clone();
        let mut enabled = self.rules[idx].1;
        cfg.origin = origin;
        let is_formula = matches!(def.kind, RuleKind::Formula { .. });
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let full = format!("{at}.{key}");
            match key {
                "code" => {}
                "severity" => match v.get_ref().as_str().and_then(Severity::parse) {
                    Some(s) => cfg.severity = s,
                    None => self.problem(
                        cx,
                        Some(v.span()),
                        &full,
                        "must be one of hard, soft, info".into(),
                    ),
                },
                "enabled" => match v.get_ref().as_bool() {
                    Some(b) => enabled = b,
                    None => self.problem(cx, Some(v.span()), &full, "must be true or false".into()),
                },
                "weight" => match de_num(v.get_ref()) {
                    Some(w) if w.is_finite() && w >= 0.0 => cfg.weight = w,
                    _ => self.problem(cx, Some(v.span()), &full, "must be a number ≥ 0".into()),
                },
                "scope" if is_formula => match v.get_ref().as_str().and_then(Scope::parse) {
                    Some(s) => cfg.scope = s,
                    None => self.problem(
                        cx,
                        Some(v.span()),
                        &full,
                        "must be one of period, year_to_date".into(),
                    ),
                },
                "fails_when" if is_formula => match v.get_ref().as_str() {
                    Some(s) => cfg.fails_when = Some(s.to_string()),
                    None => self.problem(
                        cx,
                        Some(v.span()),
                        &full,
                        "must be a SQL condition as text".into(),
                    ),
                },
                "params" => self.rule_params(cx, &mut cfg, v, &full),
                _ => {
                    let mut allowed = vec!["code", "severity", "enabled", "weight", "params"];
                    if is_formula {
                        allowed.extend(["scope", "fails_when"]);
                    }
                    self.problem(
                        cx,
                        Some(k.span()),
                        &full,
                        format!(
                            "unknown key; allowed in a {} rule: {}",
                            if is_formula { "formula" } else { "built-in" },
                            allowed.join(", ")
                        ),
                    );
                }
            }
        }
        if let Some(typed) = registry::typed_params(code) {
            if let Err(e) = (typed.check)(&cfg.params) {
                self.problem(
                    cx,
                    t.get("params").map(|v| v.span()).or(Some(item.span())),
                    &format!("{at}.params"),
                    format!("the parameters do not fit the rule's settings: {e}"),
                );
            }
        }
        if let Some(sql) = &cfg.fails_when {
            if let Err(e) = crate::rules::formula::check(def, &cfg.params.substitute(sql)) {
                self.problem(
                    cx,
                    t.get("fails_when").map(|v| v.span()).or(Some(item.span())),
                    &format!("{at}.fails_when"),
                    e,
                );
            }
        }
        self.rules[idx] = (cfg, enabled);
    }

    /// A rule's `params` table: each known parameter read and checked, an unknown
    /// one a problem naming the parameters the rule takes.
    fn rule_params(
        &mut self,
        cx: &FileCtx<'_>,
        cfg: &mut RuleConfig,
        v: &Spanned<DeValue<'_>>,
        full: &str,
    ) {
        let (def, code) = (cfg.def, cfg.def.code);
        let DeValue::Table(pt) = v.get_ref() else {
            self.problem(
                cx,
                Some(v.span()),
                full,
                "must be a table of parameters".into(),
            );
            return;
        };
        for (pk, pv) in pt.iter() {
            let pname = pk.get_ref().as_ref();
            let pfull = format!("{full}.{pname}");
            match def.param(pname) {
                Some(spec) => {
                    if let Some(x) = self.value(cx, spec, pv, &pfull) {
                        cfg.params.set(spec.name, x);
                    }
                }
                None => {
                    let allowed: Vec<&str> = def.params.iter().map(|p| p.name).collect();
                    self.problem(
                        cx,
                        Some(pk.span()),
                        &pfull,
                        if allowed.is_empty() {
                            format!("{code} takes no parameters")
                        } else {
                            format!("unknown parameter; {code} takes: {}", allowed.join(", "))
                        },
                    );
                }
            }
        }
    }
}

/// The codes configured in every built-in pipeline file (for registry tests).
pub fn builtin_codes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, _) in BUILTIN {
        if let Ok(p) = Pipeline::load_builtin(name) {
            out.extend(p.rules.iter().map(|r| r.code().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `values` named `name`.
    fn value<'a>(values: &'a Values, name: &str) -> &'a Value {
        values
            .iter()
            .find(|(n, _)| **n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("'{name}' is not declared"))
    }

    /// Each threshold has one meaning: the built-in pipeline's value of every rule
    /// parameter is the registry's default (the pipeline files show the values a
    /// user may change; the registry documents them). A change to one without the
    /// other fails here.
    #[test]
    fn the_builtin_pipeline_and_the_registry_defaults_agree() {
        let p = Pipeline::builtin();
        let mut differ = Vec::new();
        for r in &p.rules {
            let defaults = Values::defaults(r.def.params);
            for spec in r.def.params {
                let (a, b) = (value(&r.params, spec.name), value(&defaults, spec.name));
                let same = match (a, b) {
                    (Value::Num(x), Value::Int(y)) | (Value::Int(y), Value::Num(x)) => {
                        *x == *y as f64
                    }
                    (Value::Num(x), Value::Num(y)) => (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                    (a, b) => a == b,
                };
                if !same {
                    differ.push(format!(
                        "{}.{}: pipeline {a:?}, registry {b:?}",
                        r.code(),
                        spec.name
                    ));
                }
            }
        }
        assert!(differ.is_empty(), "{differ:#?}");
    }

    #[test]
    fn every_builtin_pipeline_is_valid() {
        for (name, _) in BUILTIN {
            if let Err(e) = Pipeline::load_builtin(name) {
                panic!("{name}: {e}");
            }
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[pipeline]
name = "bad"
colour = "red"

[grading]
no_such_key = 1

[[rule]]
code = "ZZ999"

[[rule]]
code = "IN003"
params = { min_ratio = "half", bogus = 2 }
"#;
        let e = Pipeline::parse("bad.toml", None, text, "bad.toml")
            .err()
            .unwrap();
        let all = e.to_string();
        assert_eq!(e.problems.len(), 5, "{all}");
        assert!(
            all.contains("bad.toml:4: pipeline.colour: unknown key"),
            "{all}"
        );
        assert!(all.contains("bad.toml:7: grading.no_such_key"), "{all}");
        assert!(
            all.contains("bad.toml:10: rule[1].code: no rule has the code 'ZZ999'"),
            "{all}"
        );
        assert!(
            all.contains("rule IN003.params.min_ratio: must be a number"),
            "{all}"
        );
        assert!(
            all.contains("rule IN003.params.bogus: unknown parameter"),
            "{all}"
        );
    }

    /// A setting that names rules takes codes and starts of codes of the
    /// registry; an entry that names no rule is an error on its line.
    #[test]
    fn a_setting_naming_rules_takes_only_rules_that_exist() {
        let good = "[scorecard]\nlabor_rules = [\"LB\", \"AV004\"]\n\n[query_list]\nmagnitude_rules = [\"AV\"]\n";
        let p = Pipeline::from_text("good.toml", good).unwrap();
        assert_eq!(
            p.scorecard().labor_rules,
            vec!["LB".to_string(), "AV004".to_string()]
        );
        let bad = "[scorecard]\nkey_consumer_rules = [\"EN030\", \"EN\"]\nlabor_rules = [\"\"]\n\n[query_list]\nmagnitude_rules = [\"av001\"]\n";
        let e = Pipeline::from_text("bad.toml", bad).err().unwrap();
        let all = e.to_string();
        assert_eq!(e.problems.len(), 3, "{all}");
        assert!(
            all.contains("bad.toml:2: scorecard.key_consumer_rules: \"EN030\" names no rule"),
            "{all}"
        );
        assert!(
            all.contains("bad.toml:3: scorecard.labor_rules: \"\" names no rule"),
            "{all}"
        );
        assert!(
            all.contains("bad.toml:6: query_list.magnitude_rules: \"av001\" names no rule"),
            "{all}"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = Pipeline::parse("x.toml", None, "[pipeline]\nname = \n", "x.toml")
            .err()
            .unwrap();
        assert!(e.problems[0].line == 2, "{e}");
    }

    #[test]
    fn a_formula_that_does_not_compile_is_reported() {
        let text = "[[rule]]\ncode = \"IN001\"\nfails_when = \"export_delivery >>> sales_output\"\n\n[[rule]]\ncode = \"IN003\"\nfails_when = \"no_such_column > 1\"\n";
        let e = Pipeline::parse("f.toml", None, text, "f.toml")
            .err()
            .unwrap();
        assert_eq!(e.problems.len(), 2, "{e}");
        assert!(e.problems[1].message.contains("no_such_column"), "{e}");
    }

    #[test]
    fn later_entries_override_earlier_ones() {
        #[derive(serde::Deserialize)]
        struct Ratios {
            min_ratio: f64,
            max_ratio: f64,
        }
        let text = "[pipeline]\ninclude = [\"industrial.toml\"]\n\n[[rule]]\ncode = \"IN003\"\nseverity = \"info\"\nparams = { min_ratio = 0.4 }\n";
        let p = Pipeline::parse("o.toml", None, text, "o.toml").unwrap();
        let r = p.rule("IN003").unwrap();
        assert_eq!(r.severity, Severity::Info);
        let ratios: Ratios = r.params.typed().unwrap();
        assert_eq!(ratios.min_ratio, 0.4);
        assert_eq!(ratios.max_ratio, 1.2);
    }
}
