//! Named values: a rule's parameters and a stage's settings, each declared by a
//! [`ParamSpec`] (its name, type, default and range) and held as [`Values`].
//!
//! This module is below every stage: the rules, grading, the query list and the
//! scorecard each declare their own settings with these types, and the pipeline
//! module fills them in from a pipeline file.

use std::collections::BTreeMap;
use std::fmt;

/// The type of a rule parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamKind {
    /// A decimal number.
    Number,
    /// A whole number.
    Integer,
    /// `true` / `false`.
    Bool,
    /// A list of text codes (industry divisions…).
    Codes,
    /// A list of months of the year (1–12).
    Months,
    /// A list of rule codes, or starts of codes (`"LB"`: every LB rule); each
    /// must name at least one rule of the registry.
    Rules,
}

impl ParamKind {
    /// Description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ParamKind::Number => "a number",
            ParamKind::Integer => "a whole number",
            ParamKind::Bool => "true or false",
            ParamKind::Codes => "a list of text codes, e.g. [\"13\", \"14\"]",
            ParamKind::Rules => "a list of rule codes or starts of codes, e.g. [\"LB\", \"EN003\"]",
            ParamKind::Months => "a list of months 1–12, e.g. [1, 2]",
        }
    }
}

/// A parameter's default.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// Number.
    Num(f64),
    /// Whole number.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// Codes.
    Codes(&'static [&'static str]),
    /// Months.
    Months(&'static [u32]),
}

/// One parameter of a rule.
#[derive(Debug)]
pub struct ParamSpec {
    /// snake_case name with its unit (`min_ratio`, `threshold_thousand_yuan`).
    pub name: &'static str,
    /// Type.
    pub kind: ParamKind,
    /// Default value.
    pub default: Default,
    /// Smallest allowed value (numbers).
    pub min: Option<f64>,
    /// Largest allowed value (numbers).
    pub max: Option<f64>,
    /// What it means.
    pub doc: &'static str,
}

/// A number parameter.
pub const fn num(
    name: &'static str,
    default: f64,
    min: Option<f64>,
    max: Option<f64>,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Number,
        default: Default::Num(default),
        min,
        max,
        doc,
    }
}

/// A whole-number parameter.
pub const fn int(
    name: &'static str,
    default: i64,
    min: Option<f64>,
    max: Option<f64>,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Integer,
        default: Default::Int(default),
        min,
        max,
        doc,
    }
}

/// A list-of-codes parameter.
pub const fn codes(
    name: &'static str,
    default: &'static [&'static str],
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Codes,
        default: Default::Codes(default),
        min: None,
        max: None,
        doc,
    }
}

/// A list-of-months parameter.
pub const fn months(name: &'static str, default: &'static [u32], doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Months,
        default: Default::Months(default),
        min: None,
        max: None,
        doc,
    }
}

/// A list of rules: codes, or starts of codes.
pub const fn rules(
    name: &'static str,
    default: &'static [&'static str],
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        kind: ParamKind::Rules,
        ..codes(name, default, doc)
    }
}

/// A boolean parameter.
pub const fn flag(name: &'static str, default: bool, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Bool,
        default: Default::Bool(default),
        min: None,
        max: None,
        doc,
    }
}

/// A parameter or setting value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Number.
    Num(f64),
    /// Whole number.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// Text codes.
    Codes(Vec<String>),
    /// Months of the year.
    Months(Vec<u32>),
}

impl Value {
    fn from_default(d: Default) -> Value {
        match d {
            Default::Num(x) => Value::Num(x),
            Default::Int(x) => Value::Int(x),
            Default::Bool(x) => Value::Bool(x),
            Default::Codes(c) => Value::Codes(c.iter().map(|s| s.to_string()).collect()),
            Default::Months(m) => Value::Months(m.to_vec()),
        }
    }

    /// The value as JSON (a number that is not finite is `null`).
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Num(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Int(x) => J::from(*x),
            Value::Bool(b) => J::Bool(*b),
            Value::Codes(c) => J::from(c.clone()),
            Value::Months(m) => J::from(m.clone()),
        }
    }

    /// The value as a number (integers widen).
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Num(x) => *x,
            Value::Int(x) => *x as f64,
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => f64::NAN,
        }
    }
}

/// A default as a pipeline file writes it.
impl fmt::Display for Default {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Value::from_default(*self).fmt(f)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(x) => write!(f, "{x}"),
            Value::Int(x) => write!(f, "{x}"),
            Value::Bool(x) => write!(f, "{x}"),
            Value::Codes(c) => write!(
                f,
                "[{}]",
                c.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Months(m) => write!(
                f,
                "[{}]",
                m.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A set of named values with their specs (rule parameters or a settings section).
#[derive(Clone, Debug, Default)]
pub struct Values {
    values: BTreeMap<&'static str, Value>,
}

impl Values {
    /// The defaults of `specs`.
    pub fn defaults(specs: &'static [ParamSpec]) -> Values {
        Values {
            values: specs
                .iter()
                .map(|p| (p.name, Value::from_default(p.default)))
                .collect(),
        }
    }

    /// The values as the typed struct `T`. The struct declares no defaults of its
    /// own and rejects unknown fields (`#[serde(deny_unknown_fields)]`), so a
    /// name declared here and missing from the struct, or the reverse, or a
    /// value of another type, is an error naming it: the specs stay the one
    /// source of the defaults, and the struct is how the code reads them.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(name, v)| (name.to_string(), v.to_json()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
    }

    /// Sets a value (the pipeline file's, checked against its spec).
    pub(crate) fn set(&mut self, name: &'static str, value: Value) {
        self.values.insert(name, value);
    }

    /// Every value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&&'static str, &Value)> {
        self.values.iter()
    }

    /// A SQL text with `{name}` placeholders replaced by the values.
    pub fn substitute(&self, sql: &str) -> String {
        let mut out = sql.to_string();
        for (name, v) in self.iter() {
            let text = match v {
                Value::Num(x) => format!("{x:?}"),
                Value::Int(x) => x.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Codes(c) => c
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::Months(m) => m
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            out = out.replace(&format!("{{{name}}}"), &text);
        }
        out
    }
}

/// A settings section (`[grading]`, `[query_list]`, `[scorecard]`).
pub struct Section {
    /// Table name in the file.
    pub name: &'static str,
    /// What the section configures.
    pub doc: &'static str,
    /// Its keys.
    pub settings: &'static [ParamSpec],
    /// Reads the section into the stage's typed settings ([`check::<T>`]); the
    /// error names what does not fit.
    pub check: fn(&Values) -> Result<(), String>,
}

/// Whether `values` fill the typed struct `T` ([`Values::typed`]).
pub fn check<T: serde::de::DeserializeOwned>(values: &Values) -> Result<(), String> {
    values.typed::<T>().map(|_| ())
}
