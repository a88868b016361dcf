//! Rows that were read but not accepted, each with the reason. Nothing read is
//! dropped silently: `rows_read = rows_accepted + rows_quarantined` for every table.

use serde::Serialize;

use crate::model::Table;

/// One rejected input row (one line of `quarantine.csv`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct QuarantineRow {
    /// The table the row belongs to.
    pub table: Table,
    /// The file, relative to the data directory.
    pub file: String,
    /// 1-based data row in that file (the header is not counted).
    pub row: u32,
    /// The column at fault (empty when the whole row is).
    pub column: String,
    /// The value as read.
    pub value: String,
    /// Why the row was not accepted.
    pub reason: String,
}
