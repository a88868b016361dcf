//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use zhibao::audit::AuditOptions;

/// Audit options with a fixed seed.
pub fn audit_opts(data: &Path, out: &Path, seed: u64) -> AuditOptions {
    AuditOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        period: None,
        pipeline: None,
        seed: Some(seed),
        previous_grades: None,
        capacity: None,
        force: false,
        progress: None,
    }
}

/// A CSV file (UTF-8, BOM allowed) as rows of named fields.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim_start_matches('\u{FEFF}');
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// A Parquet file.
pub fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// A valid USCC of county `county` (6 digits) for a serial number: distinct
/// serials give distinct codes.
pub fn uscc_for(county: &str, serial: u32) -> String {
    use zhibao::model::uscc;
    let a = uscc::ALPHABET;
    let mut body = String::from("MA");
    let mut n = serial as usize * 7919 + 4242;
    for _ in 0..6 {
        body.push(a[n % 31] as char);
        n /= 31;
    }
    let check = uscc::org_code_check(body.as_bytes()).unwrap() as char;
    uscc::complete(&format!("91{county}{body}{check}")).unwrap()
}

/// Text values of a column.
pub fn col_str(df: &DataFrame, c: &str) -> Vec<Option<String>> {
    df.column(c)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

/// How an audit did against a generated batch's labels.
#[derive(Debug)]
pub struct Evaluation {
    /// Per planted kind: (found under an expected rule, planted).
    pub by_kind: BTreeMap<String, (usize, usize)>,
    /// Per soft or hard rule: share of clean enterprises it flags.
    pub clean_rate: BTreeMap<String, f64>,
    /// Share of the top K lines that are planted (K = planted enterprises).
    pub precision_at_k: f64,
    /// Share of planted enterprises on the list.
    pub recall: f64,
    /// Enterprises with a hard finding whose grade is not red.
    pub hard_not_red: usize,
    /// Planted enterprises.
    pub planted: usize,
    /// Legitimately unusual enterprises (label level `legit`) in the top K lines.
    pub legit_in_top_k: usize,
    /// Precision over the first K lines for the subtle kinds (unit slips, slow
    /// inflation): those enterprises ranked among the clean ones, K = their number.
    pub subtle_precision_at_k: f64,
}

/// The subtle kinds of wrong figures the generator plants.
pub const SUBTLE: [&str; 5] = [
    "unit_slip",
    "slow_inflation",
    "too_smooth",
    "identical_series",
    "wage_jump",
];

/// Scores an audit in `out` against a labels file.
pub fn evaluate(labels: &Path, out: &Path) -> Evaluation {
    let labels = read_csv(labels);
    let f = read_parquet(&out.join("findings.parquet"));
    let (code, sev, uscc, project, county, level) = (
        col_str(&f, "rule_code"),
        col_str(&f, "severity"),
        col_str(&f, "uscc"),
        col_str(&f, "project_id"),
        col_str(&f, "county_code"),
        col_str(&f, "level"),
    );
    let mut by_uscc: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut by_project: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut by_county: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for i in 0..f.height() {
        let c = code[i].as_deref().unwrap();
        if level[i].as_deref() == Some("county") {
            by_county
                .entry(county[i].as_deref().unwrap())
                .or_default()
                .insert(c);
        } else {
            if let Some(u) = uscc[i].as_deref() {
                by_uscc.entry(u).or_default().insert(c);
            }
            if let Some(p) = project[i].as_deref() {
                by_project.entry(p).or_default().insert(c);
            }
        }
    }
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut planted: BTreeSet<String> = BTreeSet::new();
    let mut legit: BTreeSet<String> = BTreeSet::new();
    let mut subtle: BTreeSet<String> = BTreeSet::new();
    // A county whose every enterprise inflated its output: its enterprises are
    // wrong too, though labelled at the county, so they count as neither planted
    // nor clean.
    let stepped: BTreeSet<String> = labels
        .iter()
        .filter(|l| l["kind"] == "county_ratio_step_down")
        .map(|l| l["county_code"].clone())
        .collect();
    for l in &labels {
        if l["level"] == "legit" {
            legit.insert(l["uscc"].clone());
            continue;
        }
        if SUBTLE.contains(&l["kind"].as_str()) && l["level"] != "county" {
            subtle.insert(l["uscc"].clone());
        }
        let rules: Vec<&str> = l["expected_rules"].split(';').collect();
        let hits = match l["level"].as_str() {
            "county" => by_county.get(l["county_code"].as_str()),
            "project" => by_project.get(l["project_id"].as_str()),
            _ => by_uscc.get(l["uscc"].as_str()),
        };
        let found = hits.is_some_and(|h| rules.iter().any(|r| h.contains(r)));
        let e = by_kind.entry(l["kind"].clone()).or_default();
        e.1 += 1;
        if found {
            e.0 += 1;
        }
        if !l["uscc"].is_empty() {
            planted.insert(l["uscc"].clone());
        }
    }
    let grades = read_parquet(&out.join("grades.parquet"));
    let g_uscc = col_str(&grades, "uscc");
    let g_grade = col_str(&grades, "grade");
    let n_clean = g_uscc
        .iter()
        .flatten()
        .filter(|u| !planted.contains(*u))
        .count()
        .max(1);
    let mut clean_flags: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for i in 0..f.height() {
        if sev[i].as_deref() == Some("info") || level[i].as_deref() == Some("county") {
            continue;
        }
        if let Some(u) = uscc[i].as_deref() {
            if !planted.contains(u) && !stepped.contains(county[i].as_deref().unwrap_or("")) {
                clean_flags
                    .entry(code[i].clone().unwrap())
                    .or_default()
                    .insert(u);
            }
        }
    }
    let clean_rate = clean_flags
        .into_iter()
        .map(|(c, s)| (c, s.len() as f64 / n_clean as f64))
        .collect();
    let legit: BTreeSet<String> = legit.difference(&planted).cloned().collect();
    let ql: Vec<HashMap<String, String>> = read_csv(&out.join("query_list.csv"))
        .into_iter()
        .filter(|r| planted.contains(&r["uscc"]) || !stepped.contains(&r["county_code"]))
        .collect();
    let k = planted.len();
    let legit_in_top_k = ql
        .iter()
        .take(k)
        .filter(|r| legit.contains(&r["uscc"]))
        .count();
    let subtle_top = ql
        .iter()
        .filter(|r| subtle.contains(&r["uscc"]) || !planted.contains(&r["uscc"]))
        .take(subtle.len())
        .filter(|r| subtle.contains(&r["uscc"]))
        .count();
    let top = ql
        .iter()
        .take(k)
        .filter(|r| planted.contains(&r["uscc"]))
        .count();
    let listed: BTreeSet<&String> = ql.iter().map(|r| &r["uscc"]).collect();
    let recall = planted.iter().filter(|u| listed.contains(u)).count() as f64 / k.max(1) as f64;
    let grade_of: HashMap<&str, &str> = g_uscc
        .iter()
        .zip(&g_grade)
        .filter_map(|(u, g)| Some((u.as_deref()?, g.as_deref()?)))
        .collect();
    let hard: BTreeSet<&str> = (0..f.height())
        .filter(|&i| sev[i].as_deref() == Some("hard"))
        .filter_map(|i| uscc[i].as_deref())
        .collect();
    let hard_not_red = hard
        .iter()
        .filter(|u| grade_of.get(*u).is_some_and(|g| *g != "red"))
        .count();
    Evaluation {
        by_kind,
        clean_rate,
        precision_at_k: top as f64 / k.max(1) as f64,
        recall,
        hard_not_red,
        planted: k,
        legit_in_top_k,
        subtle_precision_at_k: subtle_top as f64 / subtle.len().max(1) as f64,
    }
}

/// The `zhibao` binary built for the tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zhibao"))
}

/// Rewrites the text parts of an xlsx file (a zip) with `edit(name, text)`.
pub fn rewrite_xlsx(path: &Path, edit: impl Fn(&str, String) -> String) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(path).unwrap();
    let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        let data = match String::from_utf8(data) {
            Ok(text) if name.ends_with(".xml") => edit(&name, text).into_bytes(),
            Ok(text) => text.into_bytes(),
            Err(e) => e.into_bytes(),
        };
        out.start_file(name, ::zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    let cur = out.finish().unwrap();
    std::fs::write(path, cur.into_inner()).unwrap();
}

/// An xlsx written by rust_xlsxwriter as if Excel had opened and saved it: the
/// formulas' results are real, so the "recalculate on opening" flag is gone.
pub fn as_saved_by_excel(path: &Path) {
    rewrite_xlsx(path, |name, text| {
        if name == "xl/workbook.xml" {
            text.replace(" fullCalcOnLoad=\"1\"", "")
        } else {
            text
        }
    });
}

/// The months of [`small_batch`].
pub const MONTHS: [&str; 3] = ["2026-07", "2026-08", "2026-09"];

/// A small valid batch in `dir`: 4 enterprises of county 341002, 3 months of
/// industrial (output 1000, sales 950, export 10) and tax (1100) rows. Returns the
/// USCCs.
pub fn small_batch(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let ids: Vec<String> = (1..=4).map(|s| uscc_for("341002", s)).collect();
    let mut e = String::from("uscc,name,county_code,industry_code,entry_period,size_class\n");
    for (i, u) in ids.iter().enumerate() {
        e.push_str(&format!("{u},测试{i}有限公司,341002,3670,2020-01,medium\n"));
    }
    std::fs::write(dir.join("enterprises.csv"), e).unwrap();
    let mut ind = String::from("uscc,period,gross_output,sales_output,export_delivery\n");
    let mut tax = String::from("uscc,period,taxable_sales\n");
    for u in &ids {
        for m in MONTHS {
            ind.push_str(&format!("{u},{m},1000,950,10\n"));
            tax.push_str(&format!("{u},{m},1100\n"));
        }
    }
    std::fs::write(dir.join("industrial.csv"), ind).unwrap();
    std::fs::write(dir.join("tax.csv"), tax).unwrap();
    ids
}

/// Every `.rs` file under `dir` (the crate's sources, for tests that read them).
pub fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
