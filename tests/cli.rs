//! The command line: help texts, exit codes, error messages, and a whole small
//! audit's outputs pinned as snapshots.

mod common;

use std::path::Path;
use std::process::Command;

fn zhibao(args: &[&str]) -> std::process::Output {
    Command::new(common::bin()).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_texts() {
    let out = zhibao(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help", text(&out.stdout));
    let out = zhibao(&["audit", "--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help_audit", text(&out.stdout));
    let out = zhibao(&["outlier", "--help"]);
    insta::assert_snapshot!("help_outlier", text(&out.stdout));
}

#[test]
fn rules_are_explained_in_both_languages() {
    let out = zhibao(&["rules", "tx001"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("税产比低于 90%") && s.contains("Taxable sales below 90% of output"),
        "{s}"
    );
    let out = zhibao(&["rules", "XX999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no rule has the code 'XX999'"));
}

#[test]
fn check_pipeline_reports_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "[pipeline]\ninclude = [\"tax.toml\", \"nope.toml\"]\n\n[query_list]\nyellow_sample_rate = 2.0\n\n[[rule]]\ncode = \"TX001\"\nparams = { min_ratio = \"0.9\" }\n",
    )
    .unwrap();
    let out = zhibao(&["check-pipeline", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("p.toml:2: pipeline.include: 'nope.toml' is neither a file beside this one nor a built-in pack"), "{err}");
    assert!(
        err.contains(
            "p.toml:5: query_list.yellow_sample_rate: 2 is above the largest allowed value 1"
        ),
        "{err}"
    );
    assert!(
        err.contains("p.toml:9: rule TX001.params.min_ratio: must be a number, found text"),
        "{err}"
    );
    let ok = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/default.toml");
    let out = zhibao(&["check-pipeline", ok.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("OK"));
}

#[test]
fn an_audit_that_cannot_run_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = zhibao(&[
        "audit",
        "--data",
        "/nonexistent/batch",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("data directory /nonexistent/batch does not exist"));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats");
    let out = zhibao(&[
        "audit",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
        "--period",
        "2026-13",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // An --out that zhibao did not write is not replaced without --force.
    let precious = dir.path().join("thesis");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("chapter1.docx"), "…").unwrap();
    let out = zhibao(&[
        "audit",
        "--data",
        data.to_str().unwrap(),
        "--out",
        precious.to_str().unwrap(),
        "--seed",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("was not written by zhibao"),
        "{}",
        text(&out.stderr)
    );
    assert!(precious.join("chapter1.docx").exists());
}

/// The files of a small audit, pinned (summary without timings).
#[test]
fn a_small_audit_writes_every_contract_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules/industrial");
    let run = zhibao(&[
        "audit",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("Query list 查询清单") && stdout.contains("Weakest counties"),
        "{stdout}"
    );
    for f in [
        "query_list.csv",
        "query_list.xlsx",
        "findings.parquet",
        "grades.parquet",
        "scorecard.csv",
        "scorecard.html",
        "report.xlsx",
        "quarantine.csv",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let csv = |f: &str| {
        let b = std::fs::read(out.join(f)).unwrap();
        assert!(b.starts_with(b"\xEF\xBB\xBF"), "{f}: UTF-8 with BOM");
        String::from_utf8(b).unwrap()
    };
    insta::assert_snapshot!("small_query_list", csv("query_list.csv"));
    insta::assert_snapshot!("small_scorecard", csv("scorecard.csv"));
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    summary.as_object_mut().unwrap().remove("timings");
    insta::assert_json_snapshot!("small_summary", summary);
}

#[test]
fn generate_writes_labels_beside_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b");
    let out = zhibao(&[
        "generate",
        "--out",
        data.to_str().unwrap(),
        "--enterprises",
        "300",
        "--months",
        "14",
        "--format",
        "csv",
        "--seed",
        "4",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(data.join("industrial.csv").is_file());
    assert!(dir.path().join("b.labels.csv").is_file());
    assert!(!data.join("b.labels.csv").exists());
    // Not over an existing batch.
    let again = zhibao(&["generate", "--out", data.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn the_demo_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = Command::new(common::bin())
        .args([
            "demo",
            "--out",
            out.to_str().unwrap(),
            "--enterprises",
            "600",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    let s = text(&run.stdout);
    assert!(
        s.contains("Rows read / accepted / quarantined") && s.contains("quarantined"),
        "{s}"
    );
    assert!(
        s.contains("Top 10") && s.contains("Weakest counties"),
        "{s}"
    );
    assert!(out.join("scorecard.html").is_file());
    let q = std::fs::read_to_string(out.join("quarantine.csv")).unwrap();
    assert_eq!(
        q.lines().count(),
        6,
        "the demo shows five quarantined rows: {q}"
    );
}
