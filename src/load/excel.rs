//! Excel workbooks: the first sheet, its header row found among the first rows (bureau
//! exports often put a title above it), cells kept with their Excel type so that a
//! date cell or a number stored for a code can be read as what it means. Formulas
//! count as their last computed value; merged cells hold their value in the
//! top-left cell only, so the others read as empty.

use std::path::Path;

use calamine::{open_workbook_auto_from_rs, Data, Reader};

use super::raw::{expected_columns, map_headings, Cell, EarlyReject, RawColumn, RawFrame};
use crate::error::{Error, Result};
use crate::model::schema::{match_heading, TableSpec};

/// How many rows from the top are searched for the header row.
const HEADER_SEARCH_ROWS: usize = 20;

fn to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Cell::Int(*f as i64)
            } else {
                Cell::Float(*f)
            }
        }
        Data::String(s) if s.trim().is_empty() => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => Cell::Date(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("{e}")),
    }
}

fn heading_text(d: &Data) -> String {
    match d {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// Reads the first sheet of a workbook.
pub fn read(path: &Path, spec: &'static TableSpec, supplied: &[&str]) -> Result<RawFrame> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(path, spec, supplied, bytes)
}

/// Reads the first sheet of a workbook given as bytes, as if from `path`.
pub fn read_bytes(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    bytes: Vec<u8>,
) -> Result<RawFrame> {
    let excel_err = |message: String| Error::Excel {
        path: path.to_path_buf(),
        message,
    };
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| excel_err(e.to_string()))?;
    let range = match wb.worksheet_range_at(0) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(excel_err(e.to_string())),
        None => return Err(excel_err("the workbook has no sheet".to_string())),
    };
    let all_rows: Vec<&[Data]> = range.rows().collect();
    if all_rows
        .iter()
        .all(|r| r.iter().all(|c| matches!(c, Data::Empty)))
    {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: expected_columns(spec),
        });
    }
    // The header is the first row naming at least two contract columns; failing
    // that, the first non-empty row (whose headings the error message then shows).
    let header_idx = all_rows
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .position(|r| {
            r.iter()
                .filter(|c| match_heading(spec, &heading_text(c)).is_some())
                .count()
                >= 2
        })
        .or_else(|| {
            all_rows
                .iter()
                .position(|r| r.iter().any(|c| !matches!(c, Data::Empty)))
        })
        .unwrap_or(0);
    let headings: Vec<String> = all_rows[header_idx].iter().map(heading_text).collect();
    let mapping = map_headings(path, spec, &headings, supplied)?;

    let mut cols: Vec<Vec<Cell>> = vec![Vec::new(); mapping.len()];
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    for (i, r) in all_rows.iter().enumerate().skip(header_idx + 1) {
        let row = (i - header_idx) as u32;
        if r.iter().all(|c| match c {
            Data::Empty => true,
            Data::String(s) => s.trim().is_empty(),
            _ => false,
        }) {
            continue;
        }
        let cells: Vec<Cell> = mapping
            .iter()
            .map(|(_, idx)| r.get(*idx).map(to_cell).unwrap_or(Cell::Empty))
            .collect();
        if let Some((j, Cell::Error(e))) = cells
            .iter()
            .enumerate()
            .find(|(_, c)| matches!(c, Cell::Error(_)))
        {
            rejects.push(EarlyReject {
                row,
                column: mapping[j].0.name.to_string(),
                value: e.clone(),
                reason: format!("the cell holds the Excel error {e}"),
            });
            continue;
        }
        for (c, v) in cols.iter_mut().zip(cells) {
            c.push(v);
        }
        rows.push(row);
    }
    let mut repairs = Vec::new();
    if header_idx > 0 {
        repairs.push(("title_rows_above_header", header_idx as u64));
    }
    Ok(RawFrame {
        columns: mapping
            .into_iter()
            .zip(cols)
            .map(|((c, _), cells)| (c, RawColumn::Cells(cells)))
            .collect(),
        rows,
        rejects,
        repairs,
    })
}
