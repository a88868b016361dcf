//! Parameters and settings are declared once (their name, type, default and range)
//! and read without a chance of a typo going unnoticed.
//!
//! A built-in rule reads its parameters into its own typed struct
//! (`cfg.params::<Tx001>()`); the struct has no defaults and rejects unknown
//! fields, so it must name exactly the parameters the registry declares, with
//! their types: the first tests check that for every rule. A settings section is
//! still read by name (`settings.num("bottom_n")`); a name no settings section
//! declares would fail only when that line runs, so the last tests read the
//! sources and check every name written in such a lookup.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use zhibao::rules::registry::{self, Kind};
use zhibao::settings::{codes, int, num, ParamSpec, Values};

#[test]
fn every_built_in_rule_reads_its_parameters_into_a_struct_that_fits_them() {
    let mut typed = BTreeSet::new();
    for family in zhibao::rules::TYPED {
        for t in family.iter() {
            assert!(typed.insert(t.code), "{} has two structs", t.code);
            assert!(registry::get(t.code).is_some(), "{} is not a rule", t.code);
        }
    }
    for r in registry::all() {
        let entry = registry::typed_params(r.code);
        match r.kind {
            // A formula rule's parameters are the placeholders of its condition.
            Kind::Formula { .. } => assert!(entry.is_none(), "{}: formula with a struct", r.code),
            _ if r.params.is_empty() => {}
            _ => {
                let entry = entry.unwrap_or_else(|| panic!("{} has no typed parameters", r.code));
                // The defaults fill the struct: every field is declared, every
                // declared parameter is a field, each of its type.
                (entry.check)(&Values::defaults(r.params))
                    .unwrap_or_else(|e| panic!("{}: {e}", r.code));
            }
        }
    }
    assert!(
        typed.len() > 30,
        "only {} rules with typed parameters",
        typed.len()
    );
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Example {
    min_ratio: f64,
    min_peers: i64,
    divisions: Vec<String>,
}

static DECLARED: [ParamSpec; 3] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
];
static ONE_MORE: [ParamSpec; 4] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
    num("max_ratio", 1.1, None, None, "a ratio"),
];
static ONE_LESS: [ParamSpec; 2] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    int("min_peers", 10, None, None, "peers"),
];
static OTHER_TYPE: [ParamSpec; 3] = [
    num("min_ratio", 0.9, None, None, "a ratio"),
    num("min_peers", 10.5, None, None, "peers"),
    codes("divisions", &["13"], "divisions"),
];

#[test]
fn a_struct_that_does_not_fit_the_declared_parameters_is_an_error_naming_the_field() {
    let ok: Example = Values::defaults(&DECLARED).typed().unwrap();
    assert_eq!((ok.min_ratio, ok.min_peers), (0.9, 10));
    assert_eq!(ok.divisions, vec!["13".to_string()]);
    let err = |specs: &'static [ParamSpec]| Values::defaults(specs).typed::<Example>().unwrap_err();
    assert!(err(&ONE_MORE).contains("max_ratio"), "{}", err(&ONE_MORE));
    assert!(err(&ONE_LESS).contains("divisions"), "{}", err(&ONE_LESS));
    assert!(err(&OTHER_TYPE).contains("10.5"), "{}", err(&OTHER_TYPE));
}

/// The names in `text` written as `.num("…")`, `.int("…")`, `.bool("…")`,
/// `.codes("…")` or `.months("…")`, with their line.
fn lookups(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for method in [".num(\"", ".int(\"", ".bool(\"", ".codes(\"", ".months(\""] {
            for (i, _) in line.match_indices(method) {
                let rest = &line[i + method.len()..];
                if let Some(end) = rest.find("\")") {
                    let name = &rest[..end];
                    if name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        found.push((n + 1, name.to_string()));
                    }
                }
            }
        }
    }
    found
}

fn declared() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&'static str> = zhibao::rules::registry::all()
        .into_iter()
        .flat_map(|r| r.params.iter().map(|p| p.name))
        .collect();
    for section in zhibao::pipeline::sections() {
        names.extend(section.settings.iter().map(|p| p.name));
    }
    names
}

#[test]
fn every_name_the_code_looks_up_is_declared() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    common::rust_sources(&src, &mut files);
    let names = declared();
    let mut seen = 0;
    let mut undeclared = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (line, name) in lookups(&text) {
            seen += 1;
            if !names.contains(name.as_str()) {
                undeclared.push(format!("{}:{line}: {name}", file.display()));
            }
        }
    }
    assert!(seen > 30, "only {seen} lookups found: the scan is broken");
    assert!(
        undeclared.is_empty(),
        "names looked up that no rule or settings section declares:\n{}",
        undeclared.join("\n")
    );
}

#[test]
fn the_scan_finds_a_misspelt_name() {
    let text = "let x = cfg.num(\"tolerence\");\nlet y = s.int(\"bottom_n\");";
    let found = lookups(text);
    assert_eq!(
        found,
        vec![(1, "tolerence".to_string()), (2, "bottom_n".to_string())]
    );
    let names = declared();
    assert!(!names.contains("tolerence") && names.contains("bottom_n"));
}
