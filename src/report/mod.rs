//! Stage 5 — **report**: the run's results to the files of the data contract.
//!
//! CSV files are UTF-8 with a byte-order mark (so Excel shows Chinese correctly),
//! comma-separated; Parquet files carry USCCs, not internal ids; everything goes
//! through [`outdir::Staging`], so a run replaces `--out` in one step or not at all.

pub mod html;
pub mod outdir;
pub mod scorecard;
pub mod summary;
pub mod xlsx;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::load::{Batch, QuarantineRow};

fn pe(e: PolarsError) -> Error {
    Error::polars("report", e)
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A number as written in CSV: whole numbers without decimals, others with at
/// most six, trailing zeros removed.
pub fn fmt_f64(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// The text of one cell.
pub fn cell_text(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Float64(f) => fmt_f64(*f),
        AnyValue::Float32(f) => fmt_f64(f64::from(*f)),
        other => other.to_string(),
    }
}

/// Writes a frame as CSV, UTF-8 with BOM.
pub fn write_csv(df: &DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| io(path, e))?;
    let mut buf = BufWriter::new(file);
    buf.write_all(b"\xEF\xBB\xBF").map_err(|e| io(path, e))?;
    let mut w = csv::WriterBuilder::new().from_writer(buf);
    let cols = df.columns();
    w.write_record(cols.iter().map(|c| c.name().as_str()))
        .map_err(|e| io(path, e.into()))?;
    let mut row: Vec<String> = Vec::with_capacity(cols.len());
    for i in 0..df.height() {
        row.clear();
        for c in cols {
            let v = c.get(i).map_err(pe)?;
            let text = cell_text(&v);
            row.push(
                if matches!(v, AnyValue::String(_) | AnyValue::StringOwned(_)) {
                    neutralise(&text).into_owned()
                } else {
                    text
                },
            );
        }
        w.write_record(&row).map_err(|e| io(path, e.into()))?;
    }
    let buf = w.into_inner().map_err(|e| io(path, e.into_error()))?;
    let file = buf.into_inner().map_err(|e| io(path, e.into_error()))?;
    file.sync_all().map_err(|e| io(path, e))
}

/// Text that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`,
/// `@`, or a tab or carriage return before one) is written with a leading
/// apostrophe, so that Excel and WPS show it instead of running it. A number
/// written as text (`-12.5`) is left alone.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = text
        .trim_start_matches(['\t', '\r', '\n', ' '])
        .starts_with(['=', '+', '-', '@'])
        || text.starts_with(['\t', '\r']);
    // A plain number (`-12.5`, `+3`) is left alone; `-inf`, `+nan` are not numbers here.
    let plain_number = {
        let t = text.trim();
        t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            && t.parse::<f64>().is_ok_and(f64::is_finite)
    };
    if risky && !plain_number {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Writes `quarantine.csv`: the rejected rows (`action` = `row_quarantined`), then
/// the values of optional columns read as missing, whose rows were kept
/// (`action` = `value_missing`).
pub fn write_quarantine(
    rows: &[QuarantineRow],
    notes: &[QuarantineRow],
    path: &Path,
) -> Result<()> {
    let file = File::create(path).map_err(|e| io(path, e))?;
    let mut buf = BufWriter::new(file);
    buf.write_all(b"\xEF\xBB\xBF").map_err(|e| io(path, e))?;
    let mut w = csv::WriterBuilder::new().from_writer(buf);
    w.write_record([
        "table", "file", "row", "column", "value", "reason", "action",
    ])
    .map_err(|e| io(path, e.into()))?;
    let tagged = rows
        .iter()
        .map(|r| (r, "row_quarantined"))
        .chain(notes.iter().map(|r| (r, "value_missing")));
    for (r, action) in tagged {
        w.write_record([
            r.table.name(),
            &neutralise(&r.file),
            &r.row.to_string(),
            &r.column,
            &neutralise(&r.value),
            &neutralise(&r.reason),
            action,
        ])
        .map_err(|e| io(path, e.into()))?;
    }
    let buf = w.into_inner().map_err(|e| io(path, e.into_error()))?;
    let file = buf.into_inner().map_err(|e| io(path, e.into_error()))?;
    file.sync_all().map_err(|e| io(path, e))
}

/// Writes a frame as Parquet, compressed with zstd at its fastest level: the
/// default level (3) took 12 of the 380 processor-seconds of an audit of a
/// million enterprises (`anticipated.parquet` alone is half a gigabyte), and
/// level 1 writes files about as small.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| io(path, e))?;
    let level = polars_parquet::write::ZstdLevel::try_new(1).map_err(pe)?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(Some(level)))
        .finish(df)
        .map_err(pe)?;
    file.sync_all().map_err(|e| io(path, e))
}

/// `eid` → `uscc` (and `name`) for output.
fn with_uscc(df: &DataFrame, batch: &Batch, name: bool) -> Result<LazyFrame> {
    let mut cols = vec![col("eid"), col("uscc")];
    if name {
        cols.push(col("name"));
    }
    let ents = batch.enterprises.clone().lazy().select(cols);
    Ok(df.clone().lazy().join(
        ents,
        [col("eid")],
        [col("eid")],
        JoinArgs::new(JoinType::Left),
    ))
}

/// `findings.parquet`: one row per failed check. A rule's title carries the
/// thresholds `rules` (the pipeline's) set; a rule they do not configure keeps
/// its default title.
pub fn findings_output(
    findings: &DataFrame,
    batch: &Batch,
    rules: &[crate::rules::config::RuleConfig],
) -> Result<DataFrame> {
    let hints: Vec<(&str, &str, &str, String, &str)> = crate::rules::registry::all()
        .into_iter()
        .map(|r| {
            let title = match rules.iter().find(|c| c.code() == r.code) {
                Some(c) => c.title().0,
                None => r.default_title().0,
            };
            (r.code, r.hint.zh, r.hint.en, title, r.basis.as_str())
        })
        .collect();
    let lookup = DataFrame::new(
        hints.len(),
        vec![
            Column::new(
                "rule_code".into(),
                hints.iter().map(|h| h.0).collect::<Vec<_>>(),
            ),
            Column::new("hint".into(), hints.iter().map(|h| h.1).collect::<Vec<_>>()),
            Column::new(
                "hint_en".into(),
                hints.iter().map(|h| h.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "title".into(),
                hints.iter().map(|h| h.3.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "basis".into(),
                hints.iter().map(|h| h.4).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(pe)?;
    with_uscc(findings, batch, false)?
        .join(
            lookup.lazy(),
            [col("rule_code")],
            [col("rule_code")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("rule_code"),
            col("severity"),
            col("uscc"),
            col("project_id"),
            col("period"),
            col("message"),
            col("message_en"),
            col("title"),
            col("level"),
            col("county_code"),
            col("value"),
            col("threshold"),
            col("strength"),
            col("verifier"),
            col("hint"),
            col("hint_en"),
            col("basis"),
        ])
        .sort_by_exprs(
            [
                col("rule_code"),
                col("county_code"),
                col("uscc"),
                col("project_id"),
                col("period"),
            ],
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true),
        )
        .collect()
        .map_err(pe)
}

/// `grades.parquet`: every enterprise in scope, with the state for next month.
pub fn grades_output(grades: &DataFrame, batch: &Batch) -> Result<DataFrame> {
    let ents =
        batch
            .enterprises
            .clone()
            .lazy()
            .select([col("eid"), col("uscc"), col("county_code")]);
    grades
        .clone()
        .lazy()
        .join(
            ents,
            [col("eid")],
            [col("eid")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("uscc"),
            lit(batch.period.to_string()).alias("period"),
            col("grade"),
            col("score"),
            col("computed_grade"),
            col("clean_months"),
            col("previous_grade"),
            col("previous_clean_months"),
            col("grade_history"),
            col("county_code"),
            col("suspicion").round(6, RoundMode::HalfAwayFromZero),
            col("impact").round(6, RoundMode::HalfAwayFromZero),
            col("history").round(6, RoundMode::HalfAwayFromZero),
            col("hard"),
            col("soft"),
            col("info"),
        ])
        .sort(["uscc"], SortMultipleOptions::default())
        .collect()
        .map_err(pe)
}

/// `query_list.csv` columns (the internal id dropped).
pub fn query_list_output(ql: &DataFrame) -> Result<DataFrame> {
    ql.clone()
        .lazy()
        .select([
            col("rank"),
            col("uscc"),
            col("name"),
            col("county_code"),
            col("industry_code"),
            col("grade"),
            col("score"),
            col("impact").round(3, RoundMode::HalfAwayFromZero),
            col("priority").round(4, RoundMode::HalfAwayFromZero),
            col("expected_error").round(0, RoundMode::HalfAwayFromZero),
            col("field"),
            col("reported"),
            col("anticipated"),
            col("rule_codes"),
            col("findings"),
            col("reasons"),
            col("evidence"),
            col("verifier"),
            col("sampled"),
        ])
        .collect()
        .map_err(pe)
}

/// `scorecard.csv` with ratios rounded for reading.
pub fn scorecard_output(sc: &DataFrame) -> Result<DataFrame> {
    let ratio_cols = [
        "tax_output_ratio",
        "tax_output_ratio_month",
        "hard_rate",
        "soft_rate",
        "red_share",
        "yellow_share",
        "green_share",
        "risk_share",
        "risk_share_first_month",
        "risk_share_change",
        "confirmed_error_rate",
        "investment_volatility",
    ];
    let mut lf = sc.clone().lazy();
    for c in ratio_cols {
        lf = lf.with_column(col(c).round(4, RoundMode::HalfAwayFromZero));
    }
    lf.with_column(col("benford_mad").round(5, RoundMode::HalfAwayFromZero))
        .collect()
        .map_err(pe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_plainly() {
        assert_eq!(fmt_f64(12.0), "12");
        assert_eq!(fmt_f64(0.724), "0.724");
        assert_eq!(fmt_f64(1.0 / 3.0), "0.333333");
        assert_eq!(fmt_f64(-0.0000001), "0");
        assert_eq!(fmt_f64(f64::NAN), "");
    }
}
