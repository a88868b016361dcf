//! What a reader hands to the parser: the contract columns a file has, untyped (text
//! and spreadsheet cells) or typed (Parquet), plus the rows it already rejected.

use polars::prelude::Series;

use crate::error::Error;
use crate::model::schema::{match_heading, ColumnSpec, TableSpec};

/// A spreadsheet or CSV cell before typing.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Nothing in the cell.
    Empty,
    /// Text as written.
    Text(String),
    /// A number cell (Excel); whole numbers keep their exact value.
    Int(i64),
    /// A number cell with a fraction.
    Float(f64),
    /// A boolean cell.
    Bool(bool),
    /// An Excel date or date-time, as a serial day number.
    Date(f64),
    /// An Excel error value such as `#DIV/0!`.
    Error(String),
}

impl Cell {
    /// The cell as a user would read it, for quarantine lines.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Bool(b) => b.to_string(),
            Cell::Date(d) => crate::model::month::excel_serial_to_date(*d)
                .map(|d| d.to_string())
                .unwrap_or_else(|| format!("{d}")),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// A column's values as read.
pub enum RawColumn {
    /// Cells from CSV or Excel.
    Cells(Vec<Cell>),
    /// A typed column from Parquet.
    Series(Series),
    /// One value for every row (a Hive folder's `key=value`).
    Constant(Cell, usize),
}

impl RawColumn {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Cells(c) => c.len(),
            RawColumn::Series(s) => s.len(),
            RawColumn::Constant(_, n) => *n,
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A row a reader rejected before typing (bad field count, undecodable bytes…).
#[derive(Clone, Debug)]
pub struct EarlyReject {
    /// 1-based data row.
    pub row: u32,
    /// Column concerned, or empty for the whole row.
    pub column: String,
    /// The offending value (clipped).
    pub value: String,
    /// Why.
    pub reason: String,
}

/// One file's contract columns, ready for typing.
pub struct RawFrame {
    /// The contract columns found, each with its values.
    pub columns: Vec<(&'static ColumnSpec, RawColumn)>,
    /// 1-based data row of each value position.
    pub rows: Vec<u32>,
    /// Rows rejected while reading.
    pub rejects: Vec<EarlyReject>,
    /// Repairs made while reading (name → count).
    pub repairs: Vec<(&'static str, u64)>,
}

impl RawFrame {
    /// Rows read from the file (accepted for typing or rejected).
    pub fn rows_read(&self) -> u64 {
        (self.rows.len() + self.rejects.len()) as u64
    }
}

/// Maps a file's headings to contract columns: the index of each matched column,
/// an error naming every missing required column, or a duplicate.
pub fn map_headings(
    path: &std::path::Path,
    spec: &'static TableSpec,
    headings: &[String],
    supplied: &[&str],
) -> Result<Vec<(&'static ColumnSpec, usize)>, Error> {
    let mut found: Vec<(&'static ColumnSpec, usize)> = Vec::new();
    for (i, h) in headings.iter().enumerate() {
        if let Some(col) = match_heading(spec, h) {
            if let Some((_, j)) = found.iter().find(|(c, _)| c.name == col.name) {
                return Err(Error::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: col.name,
                    first: headings[*j].clone(),
                    second: h.clone(),
                });
            }
            found.push((col, i));
        }
    }
    let missing: Vec<String> = spec
        .columns
        .iter()
        .filter(|c| c.required)
        .filter(|c| !found.iter().any(|(f, _)| f.name == c.name))
        .filter(|c| !supplied.contains(&c.name))
        .map(|c| format!("{} ({})", c.name, c.zh.first().copied().unwrap_or("")))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = headings
            .iter()
            .take(30)
            .map(|h| format!("'{}'", crate::model::text::clip(h, 40)))
            .collect();
        return Err(Error::MissingColumns {
            path: path.to_path_buf(),
            missing: missing.join(", "),
            found: if shown.is_empty() {
                "(no headings)".to_string()
            } else {
                shown.join(", ")
            },
        });
    }
    Ok(found)
}

/// The required columns of a table, for "expected" messages.
pub fn expected_columns(spec: &TableSpec) -> String {
    spec.columns
        .iter()
        .filter(|c| c.required)
        .map(|c| format!("{} ({})", c.name, c.zh.first().copied().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(", ")
}
