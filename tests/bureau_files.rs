//! Files as bureaus really have them (issue "never a silent wrong answer"): units in
//! headings and unit rows, cumulative columns, missing versus zero, workbooks with a
//! sheet per month, formulas without results, unknown extensions, Hive folders that
//! disagree with their rows, zone-aware Parquet timestamps, typo periods, optional
//! fields, long size-class names, labour months, `--out` over the input, closed
//! pipes, formula-like text, null words and platform ".xls" exports. One test per
//! case; docs/bad-input.md lists them (b01–b22) with what zhibao does.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use polars::prelude::*;
use zhibao::load::{load, Batch, LoadOptions};
use zhibao::model::{Month, Table};

use common::{small_batch as base, MONTHS};

/// The small batch's register alone (the caller writes industrial and tax).
fn register(dir: &Path) -> Vec<String> {
    let ids = base(dir);
    std::fs::remove_file(dir.join("industrial.csv")).unwrap();
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    ids
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    (t, d)
}

fn load_dir(dir: &Path) -> zhibao::Result<Batch> {
    load(dir, &LoadOptions::default())
}

fn assert_balanced(b: &Batch) {
    for (t, s) in &b.stats {
        assert_eq!(s.rows_read, s.rows_accepted + s.rows_quarantined, "{t}");
        let q = b.quarantine.iter().filter(|q| q.table == *t).count() as u64;
        assert_eq!(q, s.rows_quarantined, "{t}: quarantine lines");
    }
}

fn f64s(b: &Batch, t: Table, c: &str) -> Vec<Option<f64>> {
    b.table(t)
        .unwrap()
        .column(c)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

/// Every value of a column is `want` (to 1e-9: conversions divide).
fn assert_all(b: &Batch, t: Table, c: &str, want: f64) {
    let vals = f64s(b, t, c);
    assert!(
        vals.iter()
            .all(|v| v.is_some_and(|x| (x - want).abs() < 1e-9)),
        "{t}.{c}: {vals:?}, expected all {want}"
    );
}

fn stop_message(dir: &Path) -> String {
    match load_dir(dir) {
        Ok(_) => panic!("the load should stop"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn b01_a_unit_in_a_heading_is_applied_and_recorded() {
    let (_t, d) = tmp();
    let ids = register(&d);
    let mut ind = String::from(
        "统一社会信用代码,报告期,工业总产值(当月)(万元),工业销售产值（当月，万元）,出口交货值\n",
    );
    let mut tax = String::from("uscc,period,应税销售额(元)\n");
    for u in &ids {
        for m in MONTHS {
            ind.push_str(&format!("{u},{m},100,95,10\n"));
            tax.push_str(&format!("{u},{m},1100000\n"));
        }
    }
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    std::fs::write(d.join("tax.csv"), tax).unwrap();
    let b = load_dir(&d).unwrap();
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert_all(&b, Table::Industrial, "sales_output", 950.0);
    // No unit: thousand yuan, unchanged.
    assert_all(&b, Table::Industrial, "export_delivery", 10.0);
    assert_all(&b, Table::Tax, "taxable_sales", 1100.0);
    let units = &b.stats[&Table::Industrial].units;
    assert!(
        units
            .iter()
            .any(|u| u.column == "gross_output" && u.factor == 10.0 && u.unit == "万元"),
        "{units:?}"
    );
    assert!(b.stats[&Table::Tax]
        .units
        .iter()
        .any(|u| u.column == "taxable_sales" && u.factor == 0.001));
}

#[test]
fn b01b_a_column_of_units_is_applied_row_by_row() {
    let (_t, d) = tmp();
    let ids = base(&d);
    let mut ind = String::from("uscc,period,计量单位,gross_output,sales_output,export_delivery\n");
    for (i, u) in ids.iter().enumerate() {
        for m in MONTHS {
            // Most rows in 万元, one enterprise's in 元.
            if i == 0 {
                ind.push_str(&format!("{u},{m},元,1000000,950000,10000\n"));
            } else {
                ind.push_str(&format!("{u},{m},万元,100,95,1\n"));
            }
        }
    }
    std::fs::write(d.join("industrial.csv"), ind.clone()).unwrap();
    let b = load_dir(&d).unwrap();
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert_all(&b, Table::Industrial, "export_delivery", 10.0);
    let units = &b.stats[&Table::Industrial].units;
    assert!(
        units
            .iter()
            .any(|u| u.column == "gross_output" && u.source == "unit column"),
        "{units:?}"
    );
    // A unit that is not known stops the file.
    std::fs::write(d.join("industrial.csv"), ind.replacen(",万元,", ",台,", 1)).unwrap();
    let m = stop_message(&d);
    assert!(m.contains("计量单位") && m.contains("'台'"), "{m}");
}

#[test]
fn b02_a_unit_row_above_the_header_is_applied() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // CSV: a title line and a unit line above the header.
    let mut ind = String::from("2026年9月工业产销总值\n单位：万元\nuscc,period,gross_output,sales_output,export_delivery\n");
    for u in &ids {
        for m in MONTHS {
            ind.push_str(&format!("{u},{m},100,95,1\n"));
        }
    }
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    // Excel: the same with the unit row in a merged-looking cell.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "增值税申报").unwrap();
    ws.write_string(1, 0, "计量单位：元").unwrap();
    for (j, h) in ["统一社会信用代码", "所属期", "应税销售额"]
        .iter()
        .enumerate()
    {
        ws.write_string(2, j as u16, *h).unwrap();
    }
    let mut r = 3;
    for u in &ids {
        for m in MONTHS {
            ws.write_string(r, 0, u).unwrap();
            ws.write_string(r, 1, m).unwrap();
            ws.write_number(r, 2, 1_100_000.0).unwrap();
            r += 1;
        }
    }
    std::fs::remove_file(d.join("tax.csv")).unwrap();
    wb.save(d.join("tax.xlsx")).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert_all(&b, Table::Industrial, "export_delivery", 10.0);
    assert_all(&b, Table::Tax, "taxable_sales", 1100.0);
    assert!(b.stats[&Table::Industrial]
        .units
        .iter()
        .all(|u| u.source == "unit row"));

    // A title that speaks of 1-9月 over headings that do not say 当月: which figure
    // the columns hold cannot be told, and the file stops.
    let ind = std::fs::read_to_string(d.join("industrial.csv")).unwrap();
    std::fs::write(
        d.join("industrial.csv"),
        ind.replacen("2026年9月工业产销总值", "2026年1-9月工业产销总值", 1),
    )
    .unwrap();
    let m = stop_message(&d);
    assert!(
        m.contains("2026年1-9月工业产销总值") && m.contains("当月"),
        "{m}"
    );
    // The unit inside the title.
    let ind = std::fs::read_to_string(d.join("industrial.csv")).unwrap();
    let ind = ind.replacen(
        "2026年1-9月工业产销总值\n单位：万元\n",
        "2026年9月工业产销总值（单位：万元）\n",
        1,
    );
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    let b = load_dir(&d).unwrap();
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
}

#[test]
fn b03_an_unknown_unit_stops_the_file_naming_it() {
    let (_t, d) = tmp();
    base(&d);
    let tax = std::fs::read_to_string(d.join("tax.csv")).unwrap();
    std::fs::write(
        d.join("tax.csv"),
        tax.replacen("taxable_sales", "应税销售额(美元)", 1),
    )
    .unwrap();
    let m = stop_message(&d);
    assert!(
        m.contains("tax.csv") && m.contains("美元") && m.contains("unknown unit"),
        "{m}"
    );
}

#[test]
fn b04_a_cumulative_or_last_years_column_is_never_read_as_the_month() {
    for heading in [
        "工业总产值(本年累计)",
        "1-本月工业总产值",
        "工业总产值(1-9月)",
        "工业总产值(上年同期)",
        "gross_output_ytd",
    ] {
        let (_t, d) = tmp();
        base(&d);
        let ind = std::fs::read_to_string(d.join("industrial.csv")).unwrap();
        std::fs::write(
            d.join("industrial.csv"),
            ind.replacen("gross_output", heading, 1),
        )
        .unwrap();
        let m = stop_message(&d);
        assert!(
            m.contains("industrial.csv") && m.contains(heading) && m.contains("gross_output"),
            "{heading}: {m}"
        );
    }
}

#[test]
fn b05_a_platform_export_with_month_and_cumulative_columns_takes_the_month() {
    let (_t, d) = tmp();
    let ids = register(&d);
    let mut ind = String::from(
        "统一社会信用代码,报告期,工业总产值(当月),工业总产值(本年累计),工业总产值(上年同期),工业销售产值(当月),工业销售产值(1-本月),出口交货值\n",
    );
    for u in &ids {
        for (k, m) in MONTHS.iter().enumerate() {
            ind.push_str(&format!(
                "{u},{m},1000,{},900,950,{},10\n",
                1000 * (k + 7),
                950 * (k + 7)
            ));
        }
    }
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    base_tax(&d, &ids);
    let b = load_dir(&d).unwrap();
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert_all(&b, Table::Industrial, "sales_output", 950.0);
    let notes = &b.stats[&Table::Industrial].files[0].notes;
    assert!(
        notes.iter().any(|n| n.contains("工业总产值(本年累计)")),
        "{notes:?}"
    );

    // The same export with a two-row header (工业总产值 merged over 本年累计 | 当月),
    // the cumulative column first.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let merged = rust_xlsxwriter::Format::new();
    ws.merge_range(0, 0, 1, 0, "统一社会信用代码", &merged)
        .unwrap();
    ws.merge_range(0, 1, 1, 1, "报告期", &merged).unwrap();
    ws.merge_range(0, 2, 0, 3, "工业总产值", &merged).unwrap();
    ws.merge_range(0, 4, 0, 5, "工业销售产值", &merged).unwrap();
    ws.merge_range(0, 6, 1, 6, "出口交货值", &merged).unwrap();
    for (j, h) in ["本年累计", "当月", "1-本月", "本月"].iter().enumerate() {
        ws.write_string(1, j as u16 + 2, *h).unwrap();
    }
    let mut r = 2;
    for u in &ids {
        for (k, m) in MONTHS.iter().enumerate() {
            ws.write_string(r, 0, u).unwrap();
            ws.write_string(r, 1, *m).unwrap();
            let ytd = (k + 7) as f64;
            for (c, v) in [
                (2, 1000.0 * ytd),
                (3, 1000.0),
                (4, 950.0 * ytd),
                (5, 950.0),
                (6, 10.0),
            ] {
                ws.write_number(r, c, v).unwrap();
            }
            r += 1;
        }
    }
    std::fs::remove_file(d.join("industrial.csv")).unwrap();
    wb.save(d.join("industrial.xlsx")).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 12);
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert_all(&b, Table::Industrial, "sales_output", 950.0);
}

fn base_tax(d: &Path, ids: &[String]) {
    let mut tax = String::from("uscc,period,taxable_sales\n");
    for u in ids {
        for m in MONTHS {
            tax.push_str(&format!("{u},{m},1100\n"));
        }
    }
    std::fs::write(d.join("tax.csv"), tax).unwrap();
}

/// Audits a data directory; the findings of one enterprise and its grade.
fn audit_one(d: &Path, out: &Path, uscc: &str) -> (Vec<(String, String)>, String) {
    let opts = common::audit_opts(d, out, 7);
    zhibao::audit::run(&opts).unwrap();
    let f = common::read_parquet(&out.join("findings.parquet"));
    let codes = common::col_str(&f, "rule_code");
    let us = common::col_str(&f, "uscc");
    let msgs = common::col_str(&f, "message");
    let mine: Vec<(String, String)> = codes
        .into_iter()
        .zip(us)
        .zip(msgs)
        .filter(|((_, u), _)| u.as_deref() == Some(uscc))
        .map(|((c, _), m)| (c.unwrap_or_default(), m.unwrap_or_default()))
        .collect();
    let g = common::read_parquet(&out.join("grades.parquet"));
    let grade = common::col_str(&g, "uscc")
        .into_iter()
        .zip(common::col_str(&g, "grade"))
        .find(|(u, _)| u.as_deref() == Some(uscc))
        .and_then(|(_, g)| g)
        .unwrap_or_default();
    (mine, grade)
}

/// Replaces the first enterprise's September taxable sales by `value`, audits, and
/// checks that no tax finding (and no "no tax record" reason) and no red grade
/// come of it. Returns `summary.json`.
fn audit_with_september_tax(value: &str) -> serde_json::Value {
    audit_with_september_tax_row(&format!("2026-09,{value}"))
}

/// [`audit_with_september_tax`] with the whole `period,taxable_sales` of the row.
fn audit_with_september_tax_row(row: &str) -> serde_json::Value {
    let value = row;
    let (t, d) = tmp();
    let ids = base(&d);
    let tax = std::fs::read_to_string(d.join("tax.csv")).unwrap();
    let target = format!("{},2026-09,1100", ids[0]);
    std::fs::write(
        d.join("tax.csv"),
        tax.replace(&target, &format!("{},{row}", ids[0])),
    )
    .unwrap();
    let (findings, grade) = audit_one(&d, &t.path().join("out"), &ids[0]);
    assert!(
        findings
            .iter()
            .all(|(c, m)| !c.starts_with("TX") && !m.contains("无该月增值税申报记录")),
        "{value}: {findings:?}"
    );
    assert_ne!(grade, "red", "{value}");
    serde_json::from_str(&std::fs::read_to_string(t.path().join("out/summary.json")).unwrap())
        .unwrap()
}

#[test]
fn b06_an_empty_taxable_sales_is_unknown_not_zero() {
    let s = audit_with_september_tax("");
    let ne = s
        .pointer("/rules/TX001/not_evaluable")
        .and_then(|v| v.as_u64());
    assert!(
        ne.unwrap_or(0) >= 1,
        "TX001 not evaluable for the enterprise: {:?}",
        s.pointer("/rules/TX001")
    );
}

#[test]
fn b07_a_quarantined_tax_row_is_a_record_of_unknown_value_not_no_record() {
    let s = audit_with_september_tax("壹仟");
    let ne = s
        .pointer("/rules/TX002/not_evaluable")
        .and_then(|v| v.as_u64());
    assert!(ne.unwrap_or(0) >= 1, "{:?}", s.pointer("/rules/TX002"));
}

#[test]
fn b07b_a_tax_row_whose_month_cannot_be_told_is_not_no_record() {
    for bad in ["2026-13", "2062-09"] {
        audit_with_september_tax_row(&format!("{bad},1100"));
    }
}

#[test]
fn b08_every_sheet_of_a_workbook_with_a_sheet_per_month_is_read() {
    let (_t, d) = tmp();
    let ids = base(&d);
    let mut wb = rust_xlsxwriter::Workbook::new();
    for m in MONTHS {
        let ws = wb.add_worksheet();
        // July's sheet is named in Chinese and has no period column: its name gives it.
        let (name, with_period) = if m == "2026-07" {
            ("2026年7月".to_string(), false)
        } else {
            (m.to_string(), true)
        };
        ws.set_name(&name).unwrap();
        let headings: Vec<&str> = if with_period {
            vec![
                "uscc",
                "period",
                "gross_output",
                "sales_output",
                "export_delivery",
            ]
        } else {
            vec!["uscc", "gross_output", "sales_output", "export_delivery"]
        };
        for (j, h) in headings.iter().enumerate() {
            ws.write_string(0, j as u16, *h).unwrap();
        }
        for (i, u) in ids.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, u).unwrap();
            let first_value = if with_period {
                ws.write_string(r, 1, m).unwrap();
                2
            } else {
                1
            };
            for c in first_value..first_value + 3 {
                ws.write_number(r, c, 1000.0).unwrap();
            }
        }
    }
    // A notes sheet: named in the summary, not read.
    wb.add_worksheet()
        .set_name("填表说明")
        .unwrap()
        .write_string(0, 0, "本表由企业填报")
        .unwrap();
    // A year-to-date sheet with the same plain headings: named, not read (its
    // figures would replace September's as duplicates).
    let ws = wb.add_worksheet();
    ws.set_name("2026年1-9月累计").unwrap();
    for (j, h) in [
        "uscc",
        "period",
        "gross_output",
        "sales_output",
        "export_delivery",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(0, j as u16, *h).unwrap();
    }
    for (i, u) in ids.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, u).unwrap();
        ws.write_string(r, 1, "2026-09").unwrap();
        for c in 2..5 {
            ws.write_number(r, c, 9000.0).unwrap();
        }
    }
    std::fs::remove_file(d.join("industrial.csv")).unwrap();
    wb.save(d.join("industrial.xlsx")).unwrap();
    let b = load_dir(&d).unwrap();
    assert_all(&b, Table::Industrial, "gross_output", 1000.0);
    assert!(b.stats[&Table::Industrial]
        .skipped
        .iter()
        .any(|s| s.file.contains("1-9月累计")));
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 12);
    assert_eq!(b.period, Month::parse_strict("2026-09").unwrap());
    let skipped = &b.stats[&Table::Industrial].skipped;
    assert!(
        skipped.iter().any(|s| s.file.contains("填表说明")),
        "{skipped:?}"
    );
}

#[test]
fn b09_a_formula_without_a_computed_result_is_quarantined_not_read_as_empty_or_zero() {
    // Written by a program (rust_xlsxwriter, like Python's XlsxWriter): a
    // placeholder result 0 and "recalculate on opening"; then the same file as
    // openpyxl writes it: no result at all.
    for kind in ["placeholder result", "no result"] {
        let (_t, d) = tmp();
        let ids = base(&d);
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (j, h) in ["uscc", "period", "taxable_sales"].iter().enumerate() {
            ws.write_string(0, j as u16, *h).unwrap();
        }
        let mut r = 1;
        for u in &ids {
            for m in MONTHS {
                ws.write_string(r, 0, u).unwrap();
                ws.write_string(r, 1, m).unwrap();
                if r == 2 {
                    ws.write_formula(r, 2, rust_xlsxwriter::Formula::new("=1000+100"))
                        .unwrap();
                } else {
                    ws.write_number(r, 2, 1100.0).unwrap();
                }
                r += 1;
            }
        }
        std::fs::remove_file(d.join("tax.csv")).unwrap();
        let path = d.join("tax.xlsx");
        wb.save(&path).unwrap();
        if kind == "no result" {
            common::as_saved_by_excel(&path);
            common::rewrite_xlsx(&path, |_, t| t.replace("</f><v>0</v>", "</f>"));
        }
        let b = load_dir(&d).unwrap();
        assert_balanced(&b);
        let q: Vec<_> = b
            .quarantine
            .iter()
            .filter(|q| q.table == Table::Tax)
            .collect();
        assert_eq!(q.len(), 1, "{kind}: {q:#?}");
        assert_eq!(q[0].row, 2);
        assert!(
            q[0].reason.contains("formula") && q[0].value.contains("1000+100"),
            "{q:#?}"
        );
        // Its value is unknown, which the rules see.
        assert_eq!(b.unknown[&Table::Tax].len(), 1);
        assert_all(&b, Table::Tax, "taxable_sales", 1100.0);
    }
}

#[test]
fn b10_a_file_of_an_unknown_extension_is_read_by_its_bytes_or_named() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // The tax table as a folder: August as CSV, September saved by WPS as ".et"
    // (an xlsx inside), and a file that is nothing zhibao reads.
    std::fs::remove_file(d.join("tax.csv")).unwrap();
    std::fs::create_dir_all(d.join("tax")).unwrap();
    let mut aug = String::from("uscc,period,taxable_sales\n");
    for u in &ids {
        for m in &MONTHS[..2] {
            aug.push_str(&format!("{u},{m},1100\n"));
        }
    }
    std::fs::write(d.join("tax/2026-07_08.csv"), aug).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (j, h) in ["uscc", "period", "taxable_sales"].iter().enumerate() {
        ws.write_string(0, j as u16, *h).unwrap();
    }
    for (i, u) in ids.iter().enumerate() {
        ws.write_string(i as u32 + 1, 0, u).unwrap();
        ws.write_string(i as u32 + 1, 1, "2026-09").unwrap();
        ws.write_number(i as u32 + 1, 2, 1100.0).unwrap();
    }
    wb.save(d.join("tax/2026-09.et")).unwrap();
    std::fs::write(d.join("tax/scan.dat"), [0u8, 1, 2, 3, 200, 201, 0, 7]).unwrap();
    // An editor's backup of the CSV, with older figures: named, not read.
    let old = std::fs::read_to_string(d.join("tax/2026-07_08.csv"))
        .unwrap()
        .replace(",1100", ",900");
    std::fs::write(d.join("tax/2026-07_08.csv.bak"), old).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Tax].rows_accepted, 12);
    assert_eq!(b.stats[&Table::Tax].rows_quarantined, 0);
    let skipped = &b.stats[&Table::Tax].skipped;
    assert!(
        skipped.iter().any(|s| s.file == "tax/scan.dat"),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|s| s.file == "tax/2026-07_08.csv.bak"),
        "{skipped:?}"
    );
}

#[test]
fn b11_rows_whose_period_contradicts_their_folder_are_quarantined() {
    let (_t, d) = tmp();
    let ids = base(&d);
    std::fs::remove_file(d.join("industrial.csv")).unwrap();
    for m in MONTHS {
        let dir = d.join(format!("industrial/period={m}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = String::from("uscc,period,gross_output,sales_output,export_delivery\n");
        for u in &ids {
            // The October folder of a careless export holds September's rows.
            let own = if m == "2026-09" && u == &ids[0] {
                "2026-08"
            } else {
                m
            };
            s.push_str(&format!("{u},{own},1000,950,10\n"));
        }
        std::fs::write(dir.join("part.csv"), s).unwrap();
    }
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    let q: Vec<_> = b
        .quarantine
        .iter()
        .filter(|q| q.table == Table::Industrial)
        .collect();
    assert!(
        q.iter()
            .any(|q| q.file == "industrial/period=2026-09/part.csv"
                && q.row == 1
                && q.column == "period"
                && q.reason
                    .contains("contradicts the period=2026-09 of its folder or sheet")),
        "{q:#?}"
    );
}

#[test]
fn b11b_a_whole_file_in_the_wrong_folder_is_quarantined_not_stopped() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // September's file (24 rows) saved in October's folder: every row contradicts it.
    let dir = d.join("tax/period=2026-10");
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = String::from("uscc,period,taxable_sales\n");
    for k in 0..6 {
        for u in &ids {
            s.push_str(&format!("{u},2026-0{},1100\n", k + 1));
        }
    }
    std::fs::write(dir.join("part.csv"), s).unwrap();
    let tax = std::fs::read_to_string(d.join("tax.csv")).unwrap();
    std::fs::remove_file(d.join("tax.csv")).unwrap();
    std::fs::create_dir_all(d.join("tax/period=2026-07")).unwrap();
    let july: String = tax
        .lines()
        .filter(|l| l.starts_with("uscc") || l.contains(",2026-07,"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("tax/period=2026-07/part.csv"), july).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    let q = b
        .quarantine
        .iter()
        .filter(|q| q.table == Table::Tax)
        .count();
    assert_eq!(q, 24);
}

#[test]
fn b12_a_time_zone_aware_parquet_period_keeps_its_month() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // Midnight of the 1st in Beijing is 16:00 UTC on the last day of the month before.
    let first_of = |y: i32, m: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 8 * 3_600_000
    };
    let mut us = Vec::new();
    let mut ps = Vec::new();
    let mut vs = Vec::new();
    for u in &ids {
        for m in [7u32, 8, 9] {
            us.push(u.clone());
            ps.push(first_of(2026, m));
            vs.push(1100.0);
        }
    }
    std::fs::remove_file(d.join("tax.csv")).unwrap();
    // The zone written with the values; then the same instants marked UTC, as a
    // platform storing Beijing midnights in UTC writes them.
    for zone in ["Asia/Shanghai", "UTC"] {
        let tz = unsafe { TimeZone::new_unchecked(zone) };
        let period = Series::new("period".into(), ps.clone())
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, Some(tz)))
            .unwrap();
        let mut df = DataFrame::new(
            us.len(),
            vec![
                Column::new("uscc".into(), us.clone()),
                period.into_column(),
                Column::new("taxable_sales".into(), vs.clone()),
            ],
        )
        .unwrap();
        let f = std::fs::File::create(d.join("tax.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
        let b = load_dir(&d).unwrap();
        assert_balanced(&b);
        let periods: Vec<i32> = b
            .table(Table::Tax)
            .unwrap()
            .column("period")
            .unwrap()
            .i32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        let want: Vec<i32> = ["2026-07", "2026-08", "2026-09"]
            .iter()
            .map(|m| Month::parse_strict(m).unwrap().0)
            .collect();
        let mut got = periods.clone();
        got.sort();
        got.dedup();
        assert_eq!(got, want, "{zone}");
        assert_eq!(periods.len(), 12, "{zone}");
    }
}

#[test]
fn b13_a_typo_period_far_from_the_rest_stops_the_run_naming_its_rows() {
    let (_t, d) = tmp();
    let ids = base(&d);
    let mut ind = std::fs::read_to_string(d.join("industrial.csv")).unwrap();
    ind = ind.replacen(
        &format!("{},2026-09", ids[1]),
        &format!("{},2062-09", ids[1]),
        1,
    );
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    let m = stop_message(&d);
    assert!(
        m.contains("2062-09") && m.contains("industrial.csv row 6") && m.contains("--period"),
        "{m}"
    );
    // With the period given, the run goes on and the typo row is quarantined.
    let b = load(
        &d,
        &LoadOptions {
            period: Some(Month::parse_strict("2026-09").unwrap()),
        },
    )
    .unwrap();
    assert!(b.quarantine.iter().any(|q| q.value == "2062-09"));
}

#[test]
fn b13b_a_latest_month_lost_to_quarantine_is_said() {
    let (_t, d) = tmp();
    base(&d);
    // Every September output unreadable: the period falls back to August, and says why.
    let ind = std::fs::read_to_string(d.join("industrial.csv"))
        .unwrap()
        .replace(",2026-09,1000,", ",2026-09,壹仟,");
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    let b = load_dir(&d).unwrap();
    assert_eq!(b.period, Month::parse_strict("2026-08").unwrap());
    let w = &b.stats[&Table::Industrial].warnings;
    assert!(
        w.iter()
            .any(|w| w.contains("2026-09") && w.contains("--period")),
        "{w:?}"
    );
}

#[test]
fn b14_a_bad_optional_value_becomes_missing_and_keeps_its_row() {
    let (t, d) = tmp();
    let ids = base(&d);
    let mut ind = String::from(
        "uscc,period,gross_output,sales_output,export_delivery,submitted_at,revisions\n",
    );
    for u in &ids {
        for m in MONTHS {
            let ts = if u == &ids[2] && m == "2026-09" {
                "昨天下午"
            } else {
                "2026-10-05T10:00:00"
            };
            ind.push_str(&format!("{u},{m},1000,950,10,{ts},0\n"));
        }
    }
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 12);
    assert_eq!(b.stats[&Table::Industrial].values_set_missing, 1);
    assert!(b
        .notes
        .iter()
        .any(|n| n.column == "submitted_at" && n.value == "昨天下午" && n.row == 9));
    // The note is a line of quarantine.csv.
    let out = t.path().join("out");
    zhibao::audit::run(&common::audit_opts(&d, &out, 1)).unwrap();
    let q = common::read_csv(&out.join("quarantine.csv"));
    assert!(
        q.iter()
            .any(|r| r["column"] == "submitted_at" && r["action"] == "value_missing"),
        "{q:?}"
    );
}

#[test]
fn b15_long_size_class_names_are_accepted() {
    let (_t, d) = tmp();
    base(&d);
    let e = std::fs::read_to_string(d.join("enterprises.csv")).unwrap();
    let e = e.replace(",medium\n", ",中型企业\n");
    let e = e.replacen(",中型企业\n", ",大型企业\n", 1);
    std::fs::write(d.join("enterprises.csv"), e).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Enterprises].rows_quarantined, 0);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 12);
    let sizes = common::col_str(&b.enterprises, "size_class");
    assert!(sizes.iter().any(|s| s.as_deref() == Some("large")));
    assert!(sizes.iter().any(|s| s.as_deref() == Some("medium")));
}

#[test]
fn b16_labour_rows_not_at_a_quarters_end_are_quarantined() {
    let (_t, d) = tmp();
    let ids = base(&d);
    let mut l = String::from("uscc,period,employees,wage_total\n");
    for u in &ids {
        l.push_str(&format!("{u},2026-06,100,1500\n{u},2026-08,100,1500\n"));
    }
    std::fs::write(d.join("labor.csv"), l).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    let q: Vec<_> = b
        .quarantine
        .iter()
        .filter(|q| q.table == Table::Labor)
        .collect();
    assert_eq!(q.len(), 4);
    assert!(q
        .iter()
        .all(|q| q.column == "period" && q.reason.contains("quarter")));
    assert_eq!(b.stats[&Table::Labor].rows_accepted, 4);
}

fn zhibao(args: &[&str]) -> std::process::Output {
    Command::new(common::bin()).args(args).output().unwrap()
}

#[test]
fn b17_out_may_never_be_or_contain_the_input_even_with_force() {
    let (t, d) = tmp();
    base(&d);
    let ds = d.to_str().unwrap();
    let parent = t.path().to_str().unwrap();
    let pdir = t.path().join("pipelines");
    std::fs::create_dir_all(&pdir).unwrap();
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), pdir.join(e.file_name())).unwrap();
    }
    let pipeline = pdir.join("default.toml");
    let cases: Vec<Vec<&str>> = vec![
        vec!["audit", "--data", ds, "--out", ds, "--force"],
        vec!["audit", "--data", ds, "--out", parent, "--force"],
        vec!["audit", "--data", ds, "--out", ds],
        vec![
            "audit",
            "--data",
            ds,
            "--out",
            parent,
            "--force",
            "--pipeline",
            pipeline.to_str().unwrap(),
        ],
    ];
    for args in cases {
        let out = zhibao(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Choose another --out") && !err.contains("give --force"),
            "{err}"
        );
        assert!(
            d.join("industrial.csv").is_file() && d.join("tax.csv").is_file(),
            "{args:?}: input gone"
        );
    }
    // A pipeline file as --out.
    let out = zhibao(&[
        "audit",
        "--data",
        ds,
        "--out",
        pipeline.to_str().unwrap(),
        "--force",
        "--pipeline",
        pipeline.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(pipeline.is_file());
}

#[test]
fn b18_a_closed_pipe_ends_the_program_quietly() {
    // The reader goes away before the program writes (`zhibao rules | head -0`):
    // the read end is closed right after the start, long before the first line.
    for args in [vec!["rules"], vec!["rules", "TX001"], vec!["--help"]] {
        let mut child = Command::new(common::bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn b19_text_a_spreadsheet_would_run_as_a_formula_is_neutralised() {
    let (t, d) = tmp();
    base(&d);
    let e = std::fs::read_to_string(d.join("enterprises.csv")).unwrap();
    let e = e.replacen("测试0有限公司", "=cmd|'/C calc'!A0", 1);
    let e = e.replacen("测试1有限公司", "@SUM(1+1)", 1);
    let e = e.replacen("测试2有限公司", "+86-551-1234", 1);
    let e = e.replacen("测试3有限公司", "-2+cmd", 1);
    std::fs::write(d.join("enterprises.csv"), e).unwrap();
    // A negative tax figure makes findings with these names on the list.
    let tax = std::fs::read_to_string(d.join("tax.csv")).unwrap();
    std::fs::write(d.join("tax.csv"), tax.replace(",1100\n", ",100\n")).unwrap();
    let out = t.path().join("out");
    zhibao::audit::run(&common::audit_opts(&d, &out, 1)).unwrap();
    let text = std::fs::read_to_string(out.join("query_list.csv")).unwrap();
    assert!(
        text.contains("'=cmd|")
            && text.contains("'@SUM")
            && text.contains("'+86-551")
            && text.contains("'-2+cmd"),
        "{text}"
    );
    for line in text.lines() {
        for cell in line.split(',') {
            let c = cell.trim_matches('"');
            assert!(!c.starts_with(['=', '@', '+']), "{line}");
            assert!(!c.starts_with('-') || c.parse::<f64>().is_ok(), "{line}");
        }
    }
    // In the workbook: stored as text with Excel's quote prefix.
    let xml = unzip(&out.join("query_list.xlsx"), "xl/styles.xml");
    assert!(xml.contains("quotePrefix=\"1\""), "{xml}");
}

fn unzip(path: &Path, member: &str) -> String {
    use calamine::Reader;
    // calamine opens the workbook; the style part is read with the zip reader it uses.
    let _ = calamine::open_workbook_auto(path).unwrap().sheet_names();
    let f = std::fs::File::open(path).unwrap();
    let mut z = ::zip::ZipArchive::new(f).unwrap();
    let mut s = String::new();
    use std::io::Read;
    z.by_name(member).unwrap().read_to_string(&mut s).unwrap();
    s
}

#[test]
fn b20_null_words_are_read_as_missing() {
    let (_t, d) = tmp();
    let ids = base(&d);
    let mut ind = String::from("uscc,period,gross_output,sales_output,export_delivery\n");
    for u in &ids {
        for m in MONTHS {
            ind.push_str(&format!("{u},{m},1000,950,10\n"));
        }
    }
    ind.push_str(&format!("{},2026-06,NULL,N/A,—\n", ids[0]));
    ind.push_str(&format!("{},2026-05,NA,-,null\n", ids[0]));
    std::fs::write(d.join("industrial.csv"), ind).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Industrial].rows_quarantined, 0);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 14);
    let nulls = f64s(&b, Table::Industrial, "gross_output")
        .iter()
        .filter(|v| v.is_none())
        .count();
    assert_eq!(nulls, 2);
}

#[test]
fn b21_platform_xls_exports_that_are_html_or_text_are_read() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // tax.xls: an HTML table in GBK with a title row.
    let mut page = String::from("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body><table border=1>\
        <tr><td colspan=3>增值税申报数据</td></tr><tr><th>统一社会信用代码</th><th>所属期</th><th>应税销售额</th></tr>");
    for u in &ids {
        for m in MONTHS {
            page.push_str(&format!(
                "<tr><td>{u}</td><td>{m}</td><td>1,100.00</td></tr>"
            ));
        }
    }
    page.push_str("</table></body></html>");
    let (gbk, _, _) = encoding_rs::GBK.encode(&page);
    std::fs::remove_file(d.join("tax.csv")).unwrap();
    std::fs::write(d.join("tax.xls"), gbk).unwrap();
    // industrial.xls: tab-separated text.
    let ind = std::fs::read_to_string(d.join("industrial.csv"))
        .unwrap()
        .replace(',', "\t");
    std::fs::remove_file(d.join("industrial.csv")).unwrap();
    std::fs::write(d.join("industrial.xls"), ind).unwrap();
    let b = load_dir(&d).unwrap();
    assert_balanced(&b);
    assert_eq!(b.stats[&Table::Tax].rows_accepted, 12);
    assert_eq!(b.stats[&Table::Industrial].rows_accepted, 12);
    assert_all(&b, Table::Tax, "taxable_sales", 1100.0);
}

#[test]
fn b22_a_fault_in_most_rows_of_a_file_stops_it_instead_of_a_red_run() {
    let (_t, d) = tmp();
    let ids = base(&d);
    // Every period written as a number of days (a layout the loader cannot read).
    let mut tax = String::from("uscc,period,taxable_sales\n");
    for _ in 0..3 {
        for u in &ids {
            for k in 0..3 {
                tax.push_str(&format!("{u},第{k}期,1100\n"));
            }
        }
    }
    std::fs::write(d.join("tax.csv"), tax).unwrap();
    let m = stop_message(&d);
    assert!(
        m.contains("tax.csv") && m.contains("36 of 36 rows") && m.contains("period"),
        "{m}"
    );
}

#[test]
fn b23_a_month_the_tax_authority_has_not_delivered_yet_is_not_zero_vat() {
    let (t, d) = tmp();
    let ids = base(&d);
    // September's VAT records have arrived for one enterprise of four.
    let tax = std::fs::read_to_string(d.join("tax.csv")).unwrap();
    let kept: String = tax
        .lines()
        .filter(|l| !l.contains(",2026-09,") || l.starts_with(&ids[0]))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("tax.csv"), kept).unwrap();
    let out = t.path().join("out");
    for u in &ids {
        let (findings, grade) = audit_one(&d, &out, u);
        assert!(
            findings.iter().all(|(c, _)| !c.starts_with("TX")),
            "{u}: {findings:?}"
        );
        assert_ne!(grade, "red");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let note = s
        .pointer("/rules/TX001/note")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    assert!(note.contains("runs to 2026-08"), "{note}");
    let sc = common::read_csv(&out.join("scorecard.csv"));
    let ratio: f64 = sc[0]["tax_output_ratio"].parse().unwrap();
    assert!((ratio - 1.1).abs() < 1e-9, "{ratio}");
}
