//! What a reader hands to the parser: the contract columns a file has, untyped (text
//! and spreadsheet cells) or typed (Parquet), plus the rows it already rejected.

use polars::prelude::Series;

use super::heading::{classify, dimension, Figure, Unit};
use crate::error::Error;
use crate::model::schema::{ColumnSpec, TableSpec};

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
    /// A value that exists but cannot be known (a formula without a computed
    /// result): the text shown for it, and why it is unknown. Typing rejects it, so
    /// its row is quarantined with its key, and the rules see the value as unknown.
    Unknown(String, String),
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
            Cell::Unknown(v, _) => v.clone(),
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
    /// Unit conversions to apply to the columns.
    pub units: Vec<UnitConversion>,
    /// What the reader noted about the file (columns set aside, sheets…).
    pub notes: Vec<String>,
    /// A column of units (`计量单位`: `万元` on every row), with its heading: one
    /// text per accepted row.
    pub unit_column: Option<(String, Vec<String>)>,
}

impl RawFrame {
    /// Rows read from the file (accepted for typing or rejected).
    pub fn rows_read(&self) -> u64 {
        (self.rows.len() + self.rejects.len()) as u64
    }
}

/// A unit conversion applied to one column of one file (in `summary.json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct UnitConversion {
    /// The file (relative to the data directory), filled in by the loader.
    pub file: String,
    /// The contract column.
    pub column: &'static str,
    /// The heading as written.
    pub heading: String,
    /// The unit found (in the heading or in a unit row above the header).
    pub unit: String,
    /// Where the unit was written: `heading` or `unit row`.
    pub source: &'static str,
    /// The factor applied to every value.
    pub factor: f64,
}

/// A file's headings mapped to contract columns.
pub struct Mapping {
    /// Each contract column found, with its position among the headings.
    pub cols: Vec<(&'static ColumnSpec, usize)>,
    /// Unit conversions to apply, per column.
    pub units: Vec<UnitConversion>,
    /// Headings of the table's variables that are not read (year-to-date or last
    /// year's columns beside the month's), with why.
    pub set_aside: Vec<String>,
}

/// Maps a file's headings to contract columns: the index of each matched column and
/// its unit; an error naming every missing required column, a duplicate, an unknown
/// unit, or a cumulative column where the month's value is needed. `row_unit` is
/// the unit of a unit row above the header (`单位：万元`), applied to the columns of
/// its dimension that carry no unit of their own.
pub fn map_headings(
    path: &std::path::Path,
    spec: &'static TableSpec,
    headings: &[String],
    supplied: &[&str],
    row_unit: Option<&Unit>,
    title: Option<(Figure, &str)>,
) -> Result<Mapping, Error> {
    let mut found: Vec<(&'static ColumnSpec, usize)> = Vec::new();
    let mut units = Vec::new();
    let mut aside: Vec<(&'static ColumnSpec, String, Figure)> = Vec::new();
    for (i, h) in headings.iter().enumerate() {
        let head = classify(spec, h).map_err(|message| Error::Layout {
            path: path.to_path_buf(),
            message,
        })?;
        let Some(head) = head else { continue };
        let col = head.column;
        if head.figure != Figure::Month {
            aside.push((col, h.clone(), head.figure));
            continue;
        }
        if let Some((_, j)) = found.iter().find(|(c, _)| c.name == col.name) {
            return Err(Error::DuplicateColumn {
                path: path.to_path_buf(),
                column: col.name,
                first: headings[*j].clone(),
                second: h.clone(),
            });
        }
        // A title that speaks of the year to date (`2026年1-9月…`) over a value column
        // that does not say it holds the month's figure: which it is cannot be told.
        if let Some((fig, text)) = title {
            if !head.says_month && dimension(col) != super::heading::Dimension::None {
                return Err(Error::Layout {
                    path: path.to_path_buf(),
                    message: format!(
                        "the title '{}' speaks of {}, and the heading '{}' does not say which figure it holds; \
                         mark the month's columns (当月) or export the month's report",
                        crate::model::text::trim(text),
                        fig.describe(),
                        crate::model::text::trim(h)
                    ),
                });
            }
        }
        let (unit, source) = match (&head.unit, row_unit) {
            (Some(u), _) => (Some(u.clone()), "heading"),
            (None, Some(u)) if u.dimension == dimension(col) => (Some(u.clone()), "unit row"),
            _ => (None, ""),
        };
        if let Some(u) = unit {
            units.push(UnitConversion {
                file: String::new(),
                column: col.name,
                heading: crate::model::text::trim(h).to_string(),
                unit: u.text,
                source,
                factor: u.factor,
            });
        }
        found.push((col, i));
    }
    let missing_cols: Vec<&'static ColumnSpec> = spec
        .columns
        .iter()
        .filter(|c| c.required)
        .filter(|c| !found.iter().any(|(f, _)| f.name == c.name))
        .filter(|c| !supplied.contains(&c.name))
        .collect();
    // A required column given only as a cumulative or last year's figure: never
    // read in place of the month's value.
    if let Some((col, h, fig)) = missing_cols
        .iter()
        .find_map(|c| aside.iter().find(|(a, _, _)| a.name == c.name))
    {
        return Err(Error::Layout {
            path: path.to_path_buf(),
            message: format!(
                "the column '{}' is {}, not the month's value of {} ({}); zhibao never reads it as the month's figure. \
                 Export the month's column (当月) as well",
                crate::model::text::trim(h),
                fig.describe(),
                col.name,
                col.zh.first().copied().unwrap_or("")
            ),
        });
    }
    if !missing_cols.is_empty() {
        let missing: Vec<String> = missing_cols
            .iter()
            .map(|c| format!("{} ({})", c.name, c.zh.first().copied().unwrap_or("")))
            .collect();
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
    let set_aside = aside
        .into_iter()
        .map(|(c, h, fig)| {
            format!(
                "'{}' is {} of {}: kept aside, the month's column is read",
                crate::model::text::trim(&h),
                fig.describe(),
                c.name
            )
        })
        .collect();
    Ok(Mapping {
        cols: found,
        units,
        set_aside,
    })
}

/// A title row's figure (not the month's) and its text.
pub type Title = (Figure, String);

/// What the rows above a header say: the unit of a unit row (`单位：万元`, also
/// inside a title), and the figure a title speaks of (`2026年1-9月…`: the year to
/// date), with the title's text.
pub fn above_header(
    path: &std::path::Path,
    cells: &[String],
) -> Result<(Option<Unit>, Option<Title>), Error> {
    let mut unit = None;
    let mut title = None;
    for c in cells {
        if let Some(u) = super::heading::unit_row(c).map_err(|message| Error::Layout {
            path: path.to_path_buf(),
            message,
        })? {
            unit = Some(u);
        }
        if title.is_none() {
            if let Some(f) = super::heading::title_figure(c) {
                title = Some((f, c.clone()));
            }
        }
    }
    Ok((unit, title))
}

/// Takes the rows below a header that belong to it (sub-headings, a unit row):
/// `next` gives the next row's cells without consuming it, `take` consumes it.
/// Returns the headings and the unit found, and how many rows were taken.
pub fn below_header(
    path: &std::path::Path,
    mut headings: Vec<String>,
    mut unit: Option<Unit>,
    mut next: impl FnMut(usize) -> Option<Vec<String>>,
) -> Result<(Vec<String>, Option<Unit>, usize), Error> {
    let mut taken = 0;
    while taken < 3 {
        let Some(sub) = next(taken) else { break };
        match super::heading::sub_header_row(&headings, &sub).map_err(|message| Error::Layout {
            path: path.to_path_buf(),
            message,
        })? {
            Some(super::heading::SubRow::Headings(h)) => headings = h,
            Some(super::heading::SubRow::Unit(u)) => unit = Some(u),
            None => break,
        }
        taken += 1;
    }
    Ok((headings, unit, taken))
}

/// Whether the headings name a column of the table beyond its keys (a sheet that
/// has only `uscc` and `period` is another table's).
pub fn names_a_value_column(spec: &'static TableSpec, headings: &[String]) -> bool {
    headings.iter().any(
        |h| matches!(classify(spec, h), Ok(Some(head)) if !spec.key.contains(&head.column.name)),
    )
}

/// The position of a column of units (`计量单位`, `单位`, `unit`) among the headings.
pub fn unit_column_index(headings: &[String]) -> Option<usize> {
    headings.iter().position(|h| {
        matches!(
            crate::model::schema::heading_key(h).as_str(),
            "计量单位" | "单位" | "金额单位" | "unit" | "units" | "计量单位名称"
        )
    })
}

/// Whether a heading names a column of the table (for finding the header row).
pub fn names_a_column(spec: &'static TableSpec, heading: &str) -> bool {
    !matches!(classify(spec, heading), Ok(None))
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
