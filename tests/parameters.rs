//! Every parameter or setting the code asks for by name is declared. A value is
//! looked up by its name (`cfg.num("tolerance")`); a name no rule and no settings
//! section declares would fail only when that line runs. This test reads the
//! sources and checks every name written in such a lookup against the registry's
//! parameters and the settings sections, so a typo fails here, not in a run.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

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
    assert!(seen > 100, "only {seen} lookups found: the scan is broken");
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
