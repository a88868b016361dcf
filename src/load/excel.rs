//! Excel workbooks: **every sheet** whose headings are the table's (one sheet per
//! month is common), the header row found among the first rows (bureau exports put
//! a title and a unit row `单位：万元` above it), cells kept with their Excel type
//! so that a date cell or a number stored for a code can be read as what it means.
//! Formulas count as their last computed value; a formula saved without one (files
//! written by scripts, never opened in Excel) quarantines its row instead of being
//! read as empty. Merged cells hold their value in the top-left cell only, so the
//! others read as empty.
//!
//! Platform ".xls" exports that are really HTML tables or tab-separated text are
//! recognised by their bytes and read as such (see [`super::html`]).

use std::path::Path;

use calamine::{open_workbook_auto_from_rs, Data, Range, Reader};

use super::raw::{
    above_header, below_header, expected_columns, map_headings, names_a_column,
    names_a_value_column, unit_column_index, Cell, EarlyReject, RawColumn, RawFrame,
};
use crate::error::{Error, Result};
use crate::model::schema::{ColumnSpec, TableSpec};

/// How many rows from the top are searched for the header row.
const HEADER_SEARCH_ROWS: usize = 20;

/// What the bytes of a spreadsheet file really are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A workbook (zip: xlsx/xlsm/ods; OLE: xls/et).
    Workbook,
    /// An HTML page (platform exports named .xls).
    Html,
    /// Delimited text (platform exports named .xls).
    Text,
    /// Apache Parquet.
    Parquet,
    /// Something else.
    Unknown,
}

/// Looks at the first bytes of a file.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Sniffed::Workbook;
    }
    if bytes.starts_with(b"PAR1") {
        return Sniffed::Parquet;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    let text = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let lower: Vec<u8> = text[start..]
        .iter()
        .take(512)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if lower.first() == Some(&b'<')
        && (has(b"<html") || has(b"<table") || has(b"<!doctype") || has(b"<?xml") || has(b"<meta"))
    {
        return Sniffed::Html;
    }
    if utf16 {
        return Sniffed::Text;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t'))
        .count();
    if !head.is_empty() && controls == 0 {
        return Sniffed::Text;
    }
    Sniffed::Unknown
}

pub(crate) fn to_cell(d: &Data) -> Cell {
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

/// The sheets of a workbook, in order.
pub fn sheet_names(bytes: &[u8]) -> Result<Vec<String>, String> {
    let wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    Ok(wb.sheet_names())
}

/// Reads a sheet of a workbook (the first when `sheet` is `None`). `Ok(None)` when
/// `skip_foreign` is set and the sheet's headings are not the table's (a notes or
/// summary sheet beside the data sheets).
pub fn read(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    sheet: Option<&str>,
    skip_foreign: bool,
) -> Result<Option<RawFrame>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Only an `.xls` (or a file named by no known extension) may really be a page
    // or text: an `.xlsx` that is not a workbook is an error of its own.
    let zip_named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["xlsx", "xlsm", "ods"].contains(&e.to_ascii_lowercase().as_str()));
    match sniff(&bytes) {
        Sniffed::Html if !zip_named => {
            super::html::read_bytes(path, spec, supplied, &bytes).map(Some)
        }
        Sniffed::Text if !zip_named => {
            super::csv::read_bytes(path, spec, supplied, bytes).map(|(f, _)| Some(f))
        }
        _ => read_sheet(path, spec, supplied, bytes, sheet, skip_foreign),
    }
}

/// Reads the first sheet of a workbook given as bytes, as if from `path` (used by
/// the fuzz targets and tests).
pub fn read_bytes(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    bytes: Vec<u8>,
) -> Result<RawFrame> {
    read_sheet(path, spec, supplied, bytes, None, false)
        .map(|f| f.expect("a sheet is skipped only when asked to"))
}

fn read_sheet(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    bytes: Vec<u8>,
    sheet: Option<&str>,
    skip_foreign: bool,
) -> Result<Option<RawFrame>> {
    let excel_err = |message: String| Error::Excel {
        path: path.to_path_buf(),
        message,
    };
    let stale = results_are_stale(&bytes);
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| excel_err(e.to_string()))?;
    let name = match sheet {
        Some(s) => s.to_string(),
        None => wb
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| excel_err("the workbook has no sheet".to_string()))?,
    };
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| excel_err(format!("sheet '{name}': {e}")))?;
    let formulas = wb.worksheet_formula(&name).ok();
    read_grid(
        path,
        spec,
        supplied,
        &range,
        formulas.as_ref(),
        stale,
        skip_foreign,
    )
}

/// Whether the saved results of a workbook's formulas cannot be trusted: programs
/// that write formulas without computing them (XlsxWriter, rust_xlsxwriter…) store
/// a placeholder result (0) and ask Excel to recalculate on opening
/// (`<calcPr fullCalcOnLoad="1"/>`). Excel and WPS save real results and drop the flag.
fn results_are_stale(bytes: &[u8]) -> bool {
    use std::io::Read;
    if !bytes.starts_with(b"PK\x03\x04") {
        return false;
    }
    let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    let Ok(f) = z.by_name("xl/workbook.xml") else {
        return false;
    };
    let mut xml = String::new();
    if f.take(4 << 20).read_to_string(&mut xml).is_err() {
        return false;
    }
    xml.contains("fullCalcOnLoad=\"1\"") || xml.contains("fullCalcOnLoad=\"true\"")
}

/// Reads a grid of cells (a sheet, or an HTML table) as a file of the table.
pub(crate) fn read_grid(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    range: &Range<Data>,
    formulas: Option<&Range<String>>,
    stale: bool,
    skip_foreign: bool,
) -> Result<Option<RawFrame>> {
    let all_rows: Vec<&[Data]> = range.rows().collect();
    if all_rows
        .iter()
        .all(|r| r.iter().all(|c| matches!(c, Data::Empty)))
    {
        if skip_foreign {
            return Ok(None);
        }
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: expected_columns(spec),
        });
    }
    // The header is the first row naming at least two contract columns; failing
    // that, the first non-empty row (whose headings the error message then shows).
    let found = all_rows.iter().take(HEADER_SEARCH_ROWS).position(|r| {
        r.iter()
            .filter(|c| names_a_column(spec, &heading_text(c)))
            .count()
            >= 2
    });
    if found.is_none() && skip_foreign {
        return Ok(None);
    }
    let header_idx = found
        .or_else(|| {
            all_rows
                .iter()
                .position(|r| r.iter().any(|c| !matches!(c, Data::Empty)))
        })
        .unwrap_or(0);
    // Title and unit rows above the header (`2026年9月…`, `单位：万元`).
    let above: Vec<String> = all_rows[..header_idx]
        .iter()
        .flat_map(|r| r.iter().map(heading_text))
        .filter(|t| !t.trim().is_empty())
        .collect();
    let (row_unit, title) = above_header(path, &above)?;
    // Rows below the header that belong to it: sub-headings (当月 / 本年累计 under a
    // merged heading), a unit row.
    let (headings, row_unit, taken) = below_header(
        path,
        all_rows[header_idx].iter().map(heading_text).collect(),
        row_unit,
        |i| {
            all_rows
                .get(header_idx + 1 + i)
                .map(|r| r.iter().map(heading_text).collect())
        },
    )?;
    let first_data = header_idx + 1 + taken;
    if skip_foreign && !names_a_value_column(spec, &headings) {
        return Ok(None);
    }
    let mapping = map_headings(
        path,
        spec,
        &headings,
        supplied,
        row_unit.as_ref(),
        title.as_ref().map(|(f, t)| (*f, t.as_str())),
    )?;
    let sheet = Sheet {
        mapping: &mapping.cols,
        formulas,
        start: range.start().unwrap_or((0, 0)),
        stale,
    };
    let unit_idx = unit_column_index(&headings);
    let mut unit_texts: Vec<String> = Vec::new();
    let mut cols: Vec<Vec<Cell>> = vec![Vec::new(); mapping.cols.len()];
    let mut rows = Vec::new();
    let mut rejects = Vec::new();
    for (i, r) in all_rows.iter().enumerate().skip(first_data) {
        let row = (i - header_idx) as u32;
        let cells = match sheet.cells(i, r, row) {
            Ok(Some(cells)) => cells,
            Ok(None) => continue,
            Err(reject) => {
                rejects.push(reject);
                continue;
            }
        };
        if let Some(ui) = unit_idx {
            unit_texts.push(r.get(ui).map(heading_text).unwrap_or_default());
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
    if taken > 0 {
        repairs.push(("two_row_header", taken as u64));
    }
    Ok(Some(RawFrame {
        columns: mapping
            .cols
            .into_iter()
            .zip(cols)
            .map(|((c, _), cells)| (c, RawColumn::Cells(cells)))
            .collect(),
        rows,
        rejects,
        repairs,
        units: mapping.units,
        notes: mapping.set_aside,
        unit_column: unit_idx.map(|i| (headings[i].clone(), unit_texts)),
    }))
}

/// A sheet's contract columns, its formulas and where its range starts.
struct Sheet<'a> {
    mapping: &'a [(&'static ColumnSpec, usize)],
    formulas: Option<&'a Range<String>>,
    start: (u32, u32),
    /// The saved results of formulas are placeholders.
    stale: bool,
}

impl Sheet<'_> {
    /// The formula of the cell at row `i` of the range in field `idx`, if any.
    fn formula(&self, i: usize, idx: usize) -> Option<&String> {
        let (r0, c0) = self.start;
        self.formulas?.get_value((r0 + i as u32, c0 + idx as u32))
    }

    /// The contract columns' cells of row `i` of the range (data row `row`); `None`
    /// for a row left empty (unless its cells are formulas without a result). A
    /// row with an Excel error (`#DIV/0!`) is rejected; a formula without a usable
    /// result is an unknown value, neither missing nor zero.
    fn cells(
        &self,
        i: usize,
        r: &[Data],
        row: u32,
    ) -> std::result::Result<Option<Vec<Cell>>, EarlyReject> {
        let blank = r.iter().all(|c| match c {
            Data::Empty => true,
            Data::String(s) => s.trim().is_empty(),
            _ => false,
        });
        let pending = || {
            self.mapping
                .iter()
                .any(|(_, idx)| self.formula(i, *idx).is_some_and(|t| !t.is_empty()))
        };
        if blank && !pending() {
            return Ok(None);
        }
        let mut cells: Vec<Cell> = self
            .mapping
            .iter()
            .map(|(_, idx)| r.get(*idx).map(to_cell).unwrap_or(Cell::Empty))
            .collect();
        if let Some((j, Cell::Error(e))) = cells
            .iter()
            .enumerate()
            .find(|(_, c)| matches!(c, Cell::Error(_)))
        {
            return Err(EarlyReject {
                row,
                column: self.mapping[j].0.name.to_string(),
                value: e.clone(),
                reason: format!("the cell holds the Excel error {e}"),
            });
        }
        // A formula saved without its result reads as empty, and one saved with a
        // placeholder result by a program that never computed it reads as 0: its
        // value is unknown either way, neither missing nor zero.
        for ((_, idx), cell) in self.mapping.iter().zip(cells.iter_mut()) {
            let Some(formula) = self.formula(i, *idx) else {
                continue;
            };
            if formula.is_empty() || !(self.stale || matches!(cell, Cell::Empty)) {
                continue;
            }
            let why = if self.stale {
                "the cell holds a formula whose saved result is a placeholder (the program \
                 that wrote the file asks Excel to recalculate on opening); its value is \
                 unknown: open the file in Excel or WPS and save it again"
            } else {
                "the cell holds a formula saved without its result (the file was not \
                 recalculated); its value is unknown: open the file in Excel or WPS and save it again"
            };
            *cell = Cell::Unknown(
                format!("={}", formula.trim_start_matches('=')),
                why.to_string(),
            );
        }
        Ok(Some(cells))
    }
}
