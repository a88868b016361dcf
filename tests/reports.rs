//! Reports people read: the scorecard flags the counties whose output is not
//! backed by tax records; the workbook reads back with its Chinese text; the HTML
//! page renders in a real headless Chromium; outputs are deterministic and a killed
//! run leaves the previous outputs intact.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use calamine::{open_workbook_auto, Data, Reader};

/// A generated batch audited once: (temporary dir, data dir, out dir, labels).
fn audited() -> &'static (PathBuf, PathBuf, PathBuf) {
    static A: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    A.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        let data = tmp.join("batch");
        let mut o = zhibao::generate::GenOptions::new(&data, 6000);
        o.seed = 21;
        let r = zhibao::generate::generate(&o).unwrap();
        let out = tmp.join("out");
        zhibao::audit::run(&common::audit_opts(&data, &out, 9)).unwrap();
        (data, out, r.labels)
    })
}

#[test]
fn the_three_counties_without_tax_backing_are_flagged() {
    let (_, out, labels) = audited();
    let planted: BTreeSet<String> = common::read_csv(labels)
        .into_iter()
        .filter(|l| l["kind"] == "county_tax_low")
        .map(|l| l["county_code"].clone())
        .collect();
    assert_eq!(planted.len(), 3);
    let sc = common::read_csv(&out.join("scorecard.csv"));
    let flagged: BTreeSet<String> = sc
        .iter()
        .filter(|r| r["tax_flag"] == "true")
        .map(|r| r["county_code"].clone())
        .collect();
    // The three planted counties, and any county whose total a planted unit slip
    // (output keyed in yuan: ×1000) drags below the line — a true finding about
    // the county's reported totals.
    let slipped: BTreeSet<String> = common::read_csv(labels)
        .into_iter()
        .filter(|l| l["kind"] == "unit_slip")
        .map(|l| l["county_code"].clone())
        .collect();
    assert!(flagged.is_superset(&planted), "{flagged:?} {planted:?}");
    for c in flagged.difference(&planted) {
        assert!(slipped.contains(c), "{c} flagged without a planted cause");
    }
    for r in sc.iter().filter(|r| planted.contains(&r["county_code"])) {
        assert!(r["tax_output_ratio"].parse::<f64>().unwrap() < 0.9, "{r:?}");
    }
    // Ranks 1..n, bottom three named.
    let ranks: Vec<u32> = sc.iter().map(|r| r["rank"].parse().unwrap()).collect();
    assert_eq!(ranks, (1..=sc.len() as u32).collect::<Vec<_>>());
    assert_eq!(sc.iter().filter(|r| r["bottom3"] == "true").count(), 3);
}

#[test]
fn the_workbooks_read_back_with_chinese_text_intact() {
    let (_, out, _) = audited();
    let mut wb = open_workbook_auto(out.join("report.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec!["查询清单", "区县评估", "审核疑点", "隔离记录"]
    );
    let ql = common::read_csv(&out.join("query_list.csv"));
    let range = wb.worksheet_range("查询清单").unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), ql.len() + 1);
    let head: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert!(head[1].starts_with("统一社会信用代码"), "{head:?}");
    let reasons_col = head.iter().position(|h| h.starts_with("疑点说明")).unwrap();
    assert_eq!(rows[1][reasons_col].to_string(), ql[0]["reasons"]);
    assert_eq!(rows[1][1].to_string(), ql[0]["uscc"]);
    let grade_col = head.iter().position(|h| h.starts_with("风险等级")).unwrap();
    assert!(["红", "黄", "绿"].contains(&rows[1][grade_col].to_string().as_str()));
    let sc = wb.worksheet_range("区县评估").unwrap();
    assert_eq!(
        sc.rows().count(),
        common::read_csv(&out.join("scorecard.csv")).len() + 1
    );
    let q = open_workbook_auto(out.join("query_list.xlsx")).unwrap();
    assert_eq!(q.sheet_names(), vec!["查询清单"]);
}

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("which").arg(c).output() {
            if o.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string());
            }
        }
    }
    panic!("Chromium is not installed: run `bash scripts/test.sh`, which installs it (apt-get install chromium fonts-noto-cjk)");
}

fn headless(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_scorecard_page_renders_in_chromium() {
    let (_, out, _) = audited();
    let page = out.join("scorecard.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page must not load anything"
    );
    assert!(!html.contains("<script"), "no script is needed");
    let url = format!("file://{}", page.display());
    let tmp = tempfile::tempdir().unwrap();
    let dom = headless(&["--dump-dom", &url], &tmp.path().join("p1"));
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    for line in stderr.lines() {
        assert!(
            !(line.contains("CONSOLE") && (line.contains("Error") || line.contains("Uncaught"))),
            "console error: {line}"
        );
        assert!(!line.contains("Failed to load resource"), "{line}");
    }
    for r in common::read_csv(&out.join("scorecard.csv")) {
        assert!(
            dom_text.contains(&r["county_code"]),
            "county {} missing from the page",
            r["county_code"]
        );
    }
    assert!(
        dom_text.contains("区县数据质量评估") && dom_text.contains("County data-quality scorecard")
    );
    let shot = tmp.path().join("shot.png");
    let s = headless(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1240,1754",
            "--hide-scrollbars",
            &url,
        ],
        &tmp.path().join("p2"),
    );
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px = info.color_type.samples();
    let mut colours = BTreeSet::new();
    let mut non_white = 0usize;
    for p in bytes.chunks(px) {
        colours.insert(p[..3.min(px)].to_vec());
        if p[..3.min(px)].iter().any(|&c| c < 240) {
            non_white += 1;
        }
    }
    let total = bytes.len() / px;
    assert!(
        colours.len() > 20,
        "the screenshot is nearly uniform ({} colours)",
        colours.len()
    );
    assert!(
        non_white * 100 > total,
        "the screenshot is blank ({non_white} of {total} pixels drawn)"
    );
    // Keep the picture for a look.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scorecard.png");
    std::fs::copy(&shot, keep).unwrap();
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .map(|(n, b)| {
            if n == "summary.json" {
                let mut j: serde_json::Value = serde_json::from_slice(&b).unwrap();
                j.as_object_mut().unwrap().remove("timings");
                (n, serde_json::to_vec(&j).unwrap())
            } else {
                (n, b)
            }
        })
        .collect();
    v.sort();
    v
}

#[test]
fn identical_inputs_give_byte_identical_outputs() {
    let (data, out, _) = audited();
    let tmp = tempfile::tempdir().unwrap();
    let again = tmp.path().join("again");
    zhibao::audit::run(&common::audit_opts(data, &again, 9)).unwrap();
    let (a, b) = (files(out), files(&again));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((n, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{n} differs between identical runs");
    }
    // Another seed: the same findings, possibly another sample.
    let other = tmp.path().join("other");
    zhibao::audit::run(&common::audit_opts(data, &other, 10)).unwrap();
    assert_eq!(
        std::fs::read(out.join("findings.parquet")).unwrap(),
        std::fs::read(other.join("findings.parquet")).unwrap()
    );
}

#[test]
fn a_killed_run_leaves_the_previous_outputs_intact() {
    let (data, out, _) = audited();
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("out");
    zhibao::audit::run(&common::audit_opts(data, &target, 9)).unwrap();
    let before = files(&target);
    for delay_ms in [30u64, 150, 400, 900, 1600] {
        let mut child = Command::new(common::bin())
            .args([
                "-q",
                "audit",
                "--data",
                data.to_str().unwrap(),
                "--out",
                target.to_str().unwrap(),
                "--seed",
                "12345",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        let after = files(&target);
        if finished {
            // The run completed before the kill: the outputs are a whole new set.
            assert_ne!(after, before);
            break;
        }
        assert!(
            after == before,
            "killed after {delay_ms} ms: the outputs changed"
        );
    }
    // A later run cleans up and replaces the outputs in one step.
    zhibao::audit::run(&common::audit_opts(data, &target, 9)).unwrap();
    assert!(files(&target) == files(out));
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["out".to_string()],
        "no staging directory is left behind"
    );
}

#[test]
fn the_key_energy_consumers_list_is_written() {
    let (_, out, _) = audited();
    let list = common::read_csv(&out.join("energy_key_consumers.csv"));
    assert!(!list.is_empty());
    let energy: Vec<f64> = list
        .iter()
        .map(|r| r["annual_energy"].parse().unwrap())
        .collect();
    assert!(energy.iter().all(|e| *e >= 5000.0));
    assert!(energy.windows(2).all(|w| w[0] >= w[1]), "largest first");
    // Equal totals as shown are in the order of their codes, whatever the
    // order their sums were added in.
    for w in list.windows(2) {
        if w[0]["annual_energy"] == w[1]["annual_energy"] {
            assert!(w[0]["uscc"] < w[1]["uscc"], "{:?} before {:?}", w[0], w[1]);
        }
    }
}

#[test]
fn a_batch_without_the_other_families_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("core");
    let mut o = zhibao::generate::GenOptions::new(&data, 800);
    o.other_families = false;
    o.months = 14;
    zhibao::generate::generate(&o).unwrap();
    for t in ["labor.parquet", "energy", "services.parquet"] {
        assert!(!data.join(t).exists());
    }
    let out = tmp.path().join("out");
    let r = zhibao::audit::run(&common::audit_opts(&data, &out, 1)).unwrap();
    for code in [
        "LB001", "LB002", "EN001", "EN002", "EN003", "SV001", "SV002", "SV003",
    ] {
        let s = &r.summary.rules[code];
        assert_eq!(s.status, "not_evaluable", "{code}");
        assert!(
            s.note.as_deref().unwrap_or("").contains("not provided"),
            "{code}"
        );
    }
    assert!(r
        .summary
        .tables_not_provided
        .contains(&"energy".to_string()));
    assert!(!out.join("energy_key_consumers.csv").exists());
}
