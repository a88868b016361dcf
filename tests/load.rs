//! Loading: formats and encodings, and the catalogue of bad input — each case with
//! the decision a bureau would want (repair with a note, quarantine the row, or
//! stop with a message) and the exact reason expected. The catalogue is documented
//! in docs/bad-input.md.

mod common;

use std::path::{Path, PathBuf};

use polars::prelude::*;
use proptest::prelude::*;
use zhibao::load::{load, Batch, LoadOptions, QuarantineRow};
use zhibao::model::{uscc, Month, Table};

/// A valid USCC for a serial number.
fn code(serial: u32) -> String {
    common::uscc_for("341002", serial)
}

use common::{small_batch as base, MONTHS};

fn load_dir(dir: &Path) -> zhibao::Result<Batch> {
    load(dir, &LoadOptions::default())
}

fn quarantine_of(b: &Batch, t: Table) -> Vec<&QuarantineRow> {
    b.quarantine.iter().filter(|q| q.table == t).collect()
}

/// Every table balances.
fn assert_balanced(b: &Batch) {
    for (t, s) in &b.stats {
        assert_eq!(s.rows_read, s.rows_accepted + s.rows_quarantined, "{t}");
        let q = b.quarantine.iter().filter(|q| q.table == *t).count() as u64;
        assert_eq!(q, s.rows_quarantined, "{t}: quarantine lines");
        if let Some(df) = b.table(*t) {
            assert_eq!(df.height() as u64, s.rows_accepted, "{t}: accepted rows");
        }
    }
}

/// Appends lines to a base file.
fn append(dir: &Path, file: &str, lines: &str) {
    let p = dir.join(file);
    let mut s = std::fs::read_to_string(&p).unwrap();
    s.push_str(lines);
    std::fs::write(p, s).unwrap();
}

/// One quarantined row is expected: table, row, column, a piece of the reason.
fn expect_quarantine(dir: &Path, t: Table, row: u32, column: &str, reason: &str) -> Batch {
    let b = load_dir(dir).unwrap_or_else(|e| panic!("the load should go on: {e}"));
    assert_balanced(&b);
    let q = quarantine_of(&b, t);
    assert!(
        q.iter()
            .any(|q| q.row == row && q.column == column && q.reason.contains(reason)),
        "expected {t} row {row} column '{column}' quarantined with '{reason}'; got {q:#?}"
    );
    b
}

/// The run stops with a message containing every piece of `parts`.
fn expect_stop(dir: &Path, parts: &[&str]) {
    match load_dir(dir) {
        Ok(_) => panic!("the load should stop"),
        Err(e) => {
            let m = e.to_string();
            for p in parts {
                assert!(m.contains(p), "'{m}' should contain '{p}'");
            }
        }
    }
}

/// The rows are accepted with a repair counted.
fn expect_repair(dir: &Path, t: Table, repair: &str) -> Batch {
    let b = load_dir(dir).unwrap();
    assert_balanced(&b);
    assert!(
        quarantine_of(&b, t).is_empty(),
        "{:#?}",
        quarantine_of(&b, t)
    );
    let s = &b.stats[&t];
    assert!(
        s.repairs.get(repair).copied().unwrap_or(0) > 0,
        "{t}: repairs {:?}",
        s.repairs
    );
    b
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    (t, d)
}

// ---- formats and encodings ----------------------------------------------------

#[test]
fn the_formats_fixture_loads_gb18030_chinese_headings_semicolons_and_hive_folders() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats");
    let b = load_dir(&dir).unwrap();
    assert_balanced(&b);
    assert_eq!(
        b.stats[&Table::Enterprises].files[0].encoding,
        Some("gb18030")
    );
    assert_eq!(b.enterprises.height(), 6);
    assert_eq!(b.period, Month::parse_strict("2026-09").unwrap());
    assert_eq!(
        b.table(Table::Industrial).unwrap().height(),
        18,
        "the period comes from the folder name"
    );
    let tax = &b.stats[&Table::Tax];
    assert_eq!(
        (tax.rows_read, tax.rows_accepted, tax.rows_quarantined),
        (21, 18, 3)
    );
    assert!(tax.repairs.contains_key("thousands_separator"));
    // 中型 → medium
    let sizes = common::col_str(&b.enterprises, "size_class");
    assert!(sizes.iter().all(|s| s.as_deref() == Some("medium")));
}

#[test]
fn parquet_and_excel_load_like_csv() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    // industrial as Parquet, tax as Excel.
    let mut df = df!(
        "uscc" => ids.iter().flat_map(|u| MONTHS.iter().map(move |_| u.clone())).collect::<Vec<_>>(),
        "period" => ids.iter().flat_map(|_| MONTHS.iter().map(|m| m.to_string())).collect::<Vec<_>>(),
        "gross_output" => vec![1000.0; 12],
        "sales_output" => vec![950i64; 12],
        "export_delivery" => vec![10.0; 12],
    )
    .unwrap();
    std::fs::remove_file(dir.join("industrial.csv")).unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("industrial.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "2026年第三季度增值税申报").unwrap();
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
            ws.write_number(r, 2, 1100.0).unwrap();
            r += 1;
        }
    }
    wb.save(dir.join("tax.xlsx")).unwrap();
    let b = load_dir(&dir).unwrap();
    assert_balanced(&b);
    assert_eq!(b.table(Table::Industrial).unwrap().height(), 12);
    assert_eq!(b.table(Table::Tax).unwrap().height(), 12);
    assert!(b.stats[&Table::Tax]
        .repairs
        .contains_key("title_rows_above_header"));
}

#[test]
fn utf16_text_exports_load() {
    let (_t, dir) = tmp();
    base(&dir);
    let text = std::fs::read_to_string(dir.join("tax.csv")).unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(dir.join("tax.csv"), bytes).unwrap();
    let b = expect_repair(&dir, Table::Tax, "utf16_decoded");
    assert_eq!(b.table(Table::Tax).unwrap().height(), 12);
}

// ---- the catalogue of bad input -------------------------------------------------

#[test]
fn c01_an_empty_file_stops_with_the_columns_expected() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::write(dir.join("tax.csv"), "").unwrap();
    expect_stop(
        &dir,
        &["tax.csv", "the file is empty", "taxable_sales (应税销售额)"],
    );
}

#[test]
fn c02_a_header_only_file_is_a_table_without_rows() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::write(dir.join("tax.csv"), "uscc,period,taxable_sales\r\n").unwrap();
    let b = load_dir(&dir).unwrap();
    assert_eq!(b.stats[&Table::Tax].rows_read, 0);
    assert_eq!(b.table(Table::Tax).unwrap().height(), 0);
}

#[test]
fn c03_a_truncated_last_line_is_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-0", ids[0]));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "",
        "row has 2 fields, the header has 3",
    );
}

#[test]
fn c04_semicolons_and_tabs_are_read_with_a_note() {
    for d in [";", "\t"] {
        let (_t, dir) = tmp();
        base(&dir);
        let text = std::fs::read_to_string(dir.join("tax.csv"))
            .unwrap()
            .replace(',', d);
        std::fs::write(dir.join("tax.csv"), text).unwrap();
        expect_repair(&dir, Table::Tax, "delimiter_not_comma");
    }
}

#[test]
fn c05_windows_line_endings_are_read() {
    let (_t, dir) = tmp();
    base(&dir);
    let text = std::fs::read_to_string(dir.join("tax.csv"))
        .unwrap()
        .replace('\n', "\r\n");
    std::fs::write(dir.join("tax.csv"), text).unwrap();
    let b = load_dir(&dir).unwrap();
    assert!(b.quarantine.is_empty());
}

#[test]
fn c06_a_byte_order_mark_in_the_wrong_place_is_removed() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    // A BOM doubled at the start, and one before a value inside the data.
    let text = std::fs::read_to_string(dir.join("tax.csv")).unwrap();
    std::fs::write(
        dir.join("tax.csv"),
        format!("\u{FEFF}\u{FEFF}{text}{},2026-06,\u{FEFF}900\n", ids[0]),
    )
    .unwrap();
    expect_repair(&dir, Table::Tax, "byte_order_mark_removed");
}

#[test]
fn c07_a_file_mixing_utf8_and_gbk_lines_is_read_line_by_line() {
    let (_t, dir) = tmp();
    base(&dir);
    let u = code(9);
    let line = format!("{u},格式混合有限公司,341002,3670,2020-01,大型\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&line);
    let mut bytes = std::fs::read(dir.join("enterprises.csv")).unwrap();
    bytes.extend_from_slice(&gbk);
    std::fs::write(dir.join("enterprises.csv"), bytes).unwrap();
    let b = load_dir(&dir).unwrap();
    assert!(quarantine_of(&b, Table::Enterprises).is_empty());
    let names = common::col_str(&b.enterprises, "name");
    assert!(names
        .iter()
        .any(|n| n.as_deref() == Some("格式混合有限公司")));
}

#[test]
fn c08_bytes_of_no_encoding_are_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    let mut bytes = std::fs::read(dir.join("tax.csv")).unwrap();
    bytes.extend_from_slice(format!("{},2026-06,", ids[0]).as_bytes());
    bytes.extend_from_slice(&[0x81, 0x20, 0xFF, b'\n']);
    std::fs::write(dir.join("tax.csv"), bytes).unwrap();
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "taxable_sales",
        "neither UTF-8 nor GB18030",
    );
}

#[test]
fn c09_binary_garbage_stops() {
    let (_t, dir) = tmp();
    base(&dir);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(dir.join("tax.csv"), garbage).unwrap();
    expect_stop(&dir, &["tax.csv", "not a text CSV file"]);
}

#[test]
fn c10_two_headings_for_one_column_stop() {
    let (_t, dir) = tmp();
    base(&dir);
    let text = std::fs::read_to_string(dir.join("tax.csv")).unwrap();
    let text = text.replacen(
        "uscc,period,taxable_sales",
        "uscc,period,taxable_sales,应税销售额",
        1,
    );
    std::fs::write(dir.join("tax.csv"), text.replace("1100\n", "1100,1100\n")).unwrap();
    expect_stop(
        &dir,
        &[
            "tax.csv",
            "'taxable_sales' and '应税销售额'",
            "taxable_sales",
        ],
    );
}

#[test]
fn c11_an_empty_heading_and_unknown_columns_are_ignored() {
    let (_t, dir) = tmp();
    base(&dir);
    let text = std::fs::read_to_string(dir.join("tax.csv")).unwrap();
    let text = text
        .replacen(
            "uscc,period,taxable_sales",
            "uscc,period,taxable_sales,,备注",
            1,
        )
        .replace("1100\n", "1100,x,note\n");
    std::fs::write(dir.join("tax.csv"), text).unwrap();
    let b = load_dir(&dir).unwrap();
    assert!(b.quarantine.is_empty());
    assert_eq!(b.table(Table::Tax).unwrap().width(), 3);
}

#[test]
fn c12_missing_required_columns_stop_naming_each_one() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::write(dir.join("industrial.csv"), "uscc,period,gross_output\n").unwrap();
    expect_stop(
        &dir,
        &[
            "industrial.csv",
            "sales_output (工业销售产值(当月))",
            "export_delivery (出口交货值(当月))",
            "'gross_output'",
        ],
    );
}

#[test]
fn c13_nan_inf_and_overflow_are_quarantined() {
    for (v, row) in [("NaN", 13), ("inf", 13), ("-Infinity", 13), ("1e400", 13)] {
        let (_t, dir) = tmp();
        let ids = base(&dir);
        append(&dir, "tax.csv", &format!("{},2026-06,{v}\n", ids[0]));
        expect_quarantine(
            &dir,
            Table::Tax,
            row,
            "taxable_sales",
            "is not a finite number",
        );
    }
}

#[test]
fn c14_negative_money_is_accepted_and_becomes_a_finding() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    let text = std::fs::read_to_string(dir.join("industrial.csv")).unwrap();
    std::fs::write(
        dir.join("industrial.csv"),
        text.replacen(
            &format!("{},2026-09,1000,950,10", ids[0]),
            &format!("{},2026-09,1000,-950,10", ids[0]),
            1,
        ),
    )
    .unwrap();
    let b = load_dir(&dir).unwrap();
    assert!(b.quarantine.is_empty());
    let checked =
        zhibao::rules::run(&b, &zhibao::pipeline::Pipeline::builtin().rule_set()).unwrap();
    let codes = common::col_str(&checked.findings, "rule_code");
    assert!(codes.iter().any(|c| c.as_deref() == Some("IN002")));
}

#[test]
fn c15_thousands_separators_and_full_width_digits_are_repaired() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(
        &dir,
        "tax.csv",
        &format!("{},2026-06,\"1,234.5\"\n", ids[0]),
    );
    let b = expect_repair(&dir, Table::Tax, "thousands_separator");
    let v: f64 = b
        .table(Table::Tax)
        .unwrap()
        .column("taxable_sales")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .fold(0.0, f64::max);
    assert_eq!(v, 1234.5);
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-06,１２３４\n", ids[0]));
    expect_repair(&dir, Table::Tax, "full_width_digits");
}

#[test]
fn c16_spaces_lower_case_and_full_width_letters_in_keys_are_normalised() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    let messy = format!("  {} ", ids[0].to_lowercase());
    append(&dir, "tax.csv", &format!("{messy},2026-06,900\n"));
    let b = expect_repair(&dir, Table::Tax, "key_normalised");
    assert_eq!(b.table(Table::Tax).unwrap().height(), 13);
}

#[test]
fn c17_a_wrong_check_character_is_quarantined_with_the_right_one() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    let mut bad = ids[0].clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '1' { '2' } else { '1' });
    append(&dir, "tax.csv", &format!("{bad},2026-06,900\n"));
    let expected = format!("GB 32100-2015 requires '{last}'");
    expect_quarantine(&dir, Table::Tax, 13, "uscc", &expected);
}

#[test]
fn c18_a_uscc_of_the_wrong_length_or_with_forbidden_letters_is_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-06,900\n", &ids[0][..17]));
    append(
        &dir,
        "tax.csv",
        &format!("{}O,2026-06,900\n", &ids[0][..17]),
    );
    let b = expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "uscc",
        "a USCC has 18 characters, this one has 17",
    );
    assert!(quarantine_of(&b, Table::Tax)
        .iter()
        .any(|q| q.row == 14 && q.reason.contains("'O' at position 18 is not allowed")));
}

#[test]
fn c19_county_and_industry_codes_of_the_wrong_length_are_quarantined() {
    let (_t, dir) = tmp();
    base(&dir);
    append(
        &dir,
        "enterprises.csv",
        &format!("{},短码企业,34100,3670,2020-01,\n", code(11)),
    );
    append(
        &dir,
        "enterprises.csv",
        &format!("{},短码企业,341002,367,2020-01,\n", code(12)),
    );
    append(
        &dir,
        "enterprises.csv",
        &format!("{},省码不存在,991002,3670,2020-01,\n", code(13)),
    );
    let b = expect_quarantine(
        &dir,
        Table::Enterprises,
        5,
        "county_code",
        "is not a 6-digit division code",
    );
    let q = quarantine_of(&b, Table::Enterprises);
    assert!(q
        .iter()
        .any(|q| q.row == 6 && q.column == "industry_code" && q.reason.contains("4-digit")));
    assert!(q
        .iter()
        .any(|q| q.row == 7 && q.reason.contains("province code 99 does not exist")));
}

#[test]
fn c20_months_that_do_not_exist_are_quarantined_and_other_forms_repaired() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-13,900\n", ids[0]));
    expect_quarantine(&dir, Table::Tax, 13, "period", "month 13 does not exist");
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(
        &dir,
        "tax.csv",
        &format!("{},2026/06,900\n{},2026年5月,900\n", ids[0], ids[0]),
    );
    expect_repair(&dir, Table::Tax, "month_format");
}

#[test]
fn c21_periods_after_the_period_under_review_are_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-10,900\n", ids[0]));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "period",
        "is after the period under review 2026-09",
    );
    // Also when --period is earlier than the data.
    let b = load(
        &dir,
        &LoadOptions {
            period: Some(Month::parse_strict("2026-08").unwrap()),
        },
    )
    .unwrap();
    assert_balanced(&b);
    assert_eq!(quarantine_of(&b, Table::Industrial).len(), 4);
}

#[test]
fn c22_duplicate_keys_keep_the_copy_read_last() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-09,777\n", ids[0]));
    let b = load_dir(&dir).unwrap();
    assert_balanced(&b);
    let q = quarantine_of(&b, Table::Tax);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].row, 3, "the earlier copy is quarantined");
    assert!(q[0]
        .reason
        .contains("duplicate key: row 13 of tax.csv has the same uscc+period"));
}

#[test]
fn c23_the_latest_submission_wins_a_duplicate() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    std::fs::write(
        dir.join("industrial.csv"),
        format!(
            "uscc,period,gross_output,sales_output,export_delivery,submitted_at\n\
             {u},2026-09,1200,1100,0,2026-10-06T10:00:00\n\
             {u},2026-09,1000,950,0,2026-10-03T10:00:00\n",
            u = ids[0]
        ),
    )
    .unwrap();
    let b = load_dir(&dir).unwrap();
    let q = quarantine_of(&b, Table::Industrial);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].row, 2, "the earlier submission is quarantined");
}

#[test]
fn c24_submissions_of_enterprises_not_in_the_register_are_quarantined() {
    let (_t, dir) = tmp();
    base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-09,900\n", code(77)));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "uscc",
        "is not in the enterprise register",
    );
}

#[test]
fn c25_submissions_of_an_enterprise_whose_register_row_was_quarantined_say_why() {
    let (_t, dir) = tmp();
    base(&dir);
    let u = code(33);
    append(
        &dir,
        "enterprises.csv",
        &format!("{u},区划错误,34100,3670,2020-01,\n"),
    );
    append(&dir, "tax.csv", &format!("{u},2026-09,900\n"));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "uscc",
        "its row in enterprises was quarantined (county_code:",
    );
}

#[test]
fn c26_text_in_a_number_column_is_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(
        &dir,
        "tax.csv",
        &format!("{},2026-06,一千二\n{},2026-05,12元\n", ids[0], ids[0]),
    );
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "taxable_sales",
        "'一千二' is not a number",
    );
}

#[test]
fn c27_a_repeated_header_row_is_quarantined() {
    let (_t, dir) = tmp();
    base(&dir);
    append(&dir, "tax.csv", "uscc,period,taxable_sales\n");
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "",
        "the header row repeated inside the data",
    );
}

#[test]
fn c28_an_unquoted_comma_inside_a_value_is_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},2026-06,1,200,5\n", ids[0]));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "",
        "row has 5 fields, the header has 3",
    );
}

#[test]
fn c29_an_empty_key_is_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    append(&dir, "tax.csv", &format!("{},,900\n", ids[0]));
    expect_quarantine(
        &dir,
        Table::Tax,
        13,
        "period",
        "period is empty; a key column needs a value",
    );
}

#[test]
fn c30_very_long_strings_are_quarantined() {
    let (_t, dir) = tmp();
    base(&dir);
    let name = "很长的名称".repeat(200);
    append(
        &dir,
        "enterprises.csv",
        &format!("{},{name},341002,3670,2020-01,\n", code(21)),
    );
    expect_quarantine(
        &dir,
        Table::Enterprises,
        5,
        "name",
        "text of 1000 characters; at most 300 are accepted",
    );
}

#[test]
fn c31_excel_merged_cells_formulas_several_sheets_dates_and_errors() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (j, h) in ["uscc", "period", "taxable_sales"].iter().enumerate() {
        ws.write_string(0, j as u16, *h).unwrap();
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm");
    let mut r = 1u32;
    for u in &ids {
        for (k, m) in MONTHS.iter().enumerate() {
            ws.write_string(r, 0, u).unwrap();
            // A real date cell in the month column.
            let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 7 + k as u8, 1).unwrap();
            ws.write_datetime_with_format(r, 1, &dt, &date).unwrap();
            // A formula with its cached value.
            ws.write_formula(
                r,
                2,
                rust_xlsxwriter::Formula::new("=1000+100").set_result("1100"),
            )
            .unwrap();
            let _ = m;
            r += 1;
        }
    }
    // Merged key cells: the lower rows read as empty and are quarantined.
    ws.merge_range(r, 0, r + 1, 0, &ids[0], &rust_xlsxwriter::Format::new())
        .unwrap();
    ws.write_string(r, 1, "2026-06").unwrap();
    ws.write_number(r, 2, 5.0).unwrap();
    ws.write_string(r + 1, 1, "2026-05").unwrap();
    ws.write_number(r + 1, 2, 5.0).unwrap();
    // An error value.
    ws.write_string(r + 2, 0, &ids[1]).unwrap();
    ws.write_string(r + 2, 1, "2026-06").unwrap();
    ws.write_formula(
        r + 2,
        2,
        rust_xlsxwriter::Formula::new("=1/0").set_result("#DIV/0!"),
    )
    .unwrap();
    // A second sheet, not the table's: named in the summary, not read.
    let ws2 = wb.add_worksheet();
    ws2.write_string(0, 0, "not data").unwrap();
    wb.save(dir.join("tax.xlsx")).unwrap();
    // Formulas with their results, as Excel saves them.
    common::as_saved_by_excel(&dir.join("tax.xlsx"));
    let b = load_dir(&dir).unwrap();
    assert_balanced(&b);
    let q = quarantine_of(&b, Table::Tax);
    assert_eq!(b.table(Table::Tax).unwrap().height(), 13, "{q:#?}");
    assert!(
        q.iter()
            .any(|q| q.row == 14 && q.column == "uscc" && q.reason.contains("is empty")),
        "{q:#?}"
    );
    assert!(
        q.iter()
            .any(|q| q.row == 15 && q.reason.contains("Excel error")),
        "{q:#?}"
    );
    assert!(b.stats[&Table::Tax].repairs.contains_key("date_as_month"));
    let sum: f64 = b
        .table(Table::Tax)
        .unwrap()
        .column("taxable_sales")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap();
    assert_eq!(sum, 12.0 * 1100.0 + 5.0);
}

#[test]
fn c32_parquet_with_the_wrong_column_types() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    let n = 4;
    let mut df = df!(
        "uscc" => ids.clone(),
        "period" => vec![202609i64; n],
        "taxable_sales" => vec!["1100", "1,200", "abc", "900"],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("tax.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    let b = expect_quarantine(
        &dir,
        Table::Tax,
        3,
        "taxable_sales",
        "'abc' is not a number",
    );
    assert_eq!(b.table(Table::Tax).unwrap().height(), 3);
    // A boolean where money is expected.
    let (_t, dir) = tmp();
    let ids = base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    let mut df = df!("uscc" => ids.clone(), "period" => vec!["2026-09"; 4], "taxable_sales" => vec![true, false, true, true]).unwrap();
    ParquetWriter::new(std::fs::File::create(dir.join("tax.parquet")).unwrap())
        .finish(&mut df)
        .unwrap();
    expect_quarantine(
        &dir,
        Table::Tax,
        1,
        "taxable_sales",
        "a true/false value is not a number",
    );
}

#[test]
fn c33_a_missing_required_table_or_one_given_twice_stops() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    expect_stop(
        &dir,
        &[
            "required table 'tax' not found",
            "tax.csv, tax.parquet, tax.xlsx",
        ],
    );
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::copy(dir.join("tax.csv"), dir.join("tax.txt")).unwrap();
    expect_stop(&dir, &["table 'tax' is given twice"]);
}

#[test]
fn c34_invalid_values_of_enumerations_timestamps_and_years_are_quarantined() {
    let (_t, dir) = tmp();
    let ids = base(&dir);
    std::fs::write(dir.join("verifications.csv"), format!("uscc,period,outcome,verified_at\n{u},2026-08,maybe,\n{u},2026-07,explained,yesterday\n{u},2026-06,核实有误,2026-07-10\n", u = ids[0])).unwrap();
    std::fs::write(dir.join("rd.csv"), format!("uscc,year,rd_staff,rd_expenditure,rd_super_deduction\n{u},3025,5,100,20\n{u},2025,5.5,100,20\n", u = ids[0])).unwrap();
    let b = expect_quarantine(
        &dir,
        Table::Verifications,
        1,
        "outcome",
        "'maybe' is not one of confirmed_error, explained, no_issue",
    );
    // verified_at is optional: its bad value is read as missing, the row is kept.
    assert!(b.notes.iter().any(|q| q.table == Table::Verifications
        && q.row == 2
        && q.column == "verified_at"
        && q.reason.contains("ISO-8601")
        && q.reason.contains("the row is kept")));
    let r = quarantine_of(&b, Table::Rd);
    assert!(r
        .iter()
        .any(|q| q.row == 1 && q.column == "year" && q.reason.contains("is not a year")));
    assert!(r
        .iter()
        .any(|q| q.row == 2 && q.column == "rd_staff" && q.reason.contains("not a whole number")));
    assert_eq!(
        b.table(Table::Verifications).unwrap().height(),
        2,
        "核实有误 is confirmed_error; the row with a bad verified_at is kept"
    );
}

#[test]
fn c35_a_missing_data_directory_stops() {
    expect_stop(
        Path::new("/nonexistent/zhibao-data"),
        &["data directory /nonexistent/zhibao-data does not exist"],
    );
}

#[test]
fn c36_an_unreadable_parquet_file_stops() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    std::fs::write(dir.join("tax.parquet"), b"PAR1 this is not parquet").unwrap();
    expect_stop(&dir, &["tax.parquet", "cannot read the Parquet file"]);
}

#[test]
fn c37_an_excel_file_that_is_not_a_workbook_stops() {
    let (_t, dir) = tmp();
    base(&dir);
    std::fs::remove_file(dir.join("tax.csv")).unwrap();
    std::fs::write(dir.join("tax.xlsx"), b"not a zip at all").unwrap();
    expect_stop(&dir, &["tax.xlsx", "cannot read the Excel workbook"]);
}

// ---- properties --------------------------------------------------------------------

/// A corruption applied to one data row of tax.csv, and the column it hits.
fn corrupt(kind: u8, u: &str) -> (String, &'static str) {
    match kind % 8 {
        0 => (format!("{u},2026-13,5"), "period"),
        1 => (format!("{u},2026-05,abc"), "taxable_sales"),
        2 => (format!("{}X,2026-05,5", &u[..17]), "uscc"),
        3 => (format!("{u},2026-05"), ""),
        4 => (format!("{u},2026-05,NaN"), "taxable_sales"),
        5 => (format!("{u},,5"), "period"),
        6 => (format!("{u},2026-05,5,6,7"), ""),
        _ => (format!("{},2026-05,5", code(999)), "uscc"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Whatever rows are spoiled, every row read is accepted or quarantined, and
    /// each spoiled row is quarantined naming its row and column.
    #[test]
    fn rows_read_equal_accepted_plus_quarantined(spoil in proptest::collection::vec((0u8..8, 0usize..12), 0..10)) {
        let (_t, dir) = tmp();
        let ids = base(&dir);
        let text = std::fs::read_to_string(dir.join("tax.csv")).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut expected: Vec<(u32, &'static str)> = Vec::new();
        for (kind, at) in &spoil {
            let (line, column) = corrupt(*kind, &ids[at % 4]);
            lines.push(line);
            expected.push((lines.len() as u32 - 1, column));
        }
        std::fs::write(dir.join("tax.csv"), lines.join("\n") + "\n").unwrap();
        let b = load_dir(&dir).unwrap();
        assert_balanced(&b);
        let q = quarantine_of(&b, Table::Tax);
        for (row, column) in expected {
            prop_assert!(q.iter().any(|q| q.row == row && q.column == column), "row {row} ({column}) not quarantined: {q:#?}");
        }
        prop_assert_eq!(b.table(Table::Tax).unwrap().height(), 12);
    }

    /// Valid codes validate; changing one character of the first 17 never does.
    #[test]
    fn uscc_check_catches_every_single_change(serial in 0u32..1_000_000, pos in 0usize..17, to in 0usize..31) {
        let c = code(serial);
        prop_assert!(uscc::validate(&c).is_ok());
        let mut b = c.clone().into_bytes();
        let new = uscc::ALPHABET[to];
        prop_assume!(b[pos] != new);
        b[pos] = new;
        prop_assert!(uscc::validate(std::str::from_utf8(&b).unwrap()).is_err());
    }
}
