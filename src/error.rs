//! Errors that stop a run. Problems with single rows never appear here: they are
//! quarantined (see `load::quarantine`). Each variant names the file or key at fault
//! and what was expected, so the message alone tells a user what to fix.

use std::fmt;
use std::path::PathBuf;

/// Anything that stops `zhibao` before it can write its outputs (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory is missing or not a directory.
    #[error("data directory {0} does not exist or is not a directory")]
    NoDataDir(PathBuf),

    /// A required table has no file in the data directory.
    #[error(
        "required table '{table}' not found in {dir}: expected {table}.csv, {table}.parquet, \
         {table}.xlsx or a directory {table}/ of such files"
    )]
    MissingTable {
        /// Table name.
        table: &'static str,
        /// The data directory searched.
        dir: PathBuf,
    },

    /// A table is given in two forms (e.g. `tax.csv` and `tax.parquet`).
    #[error("table '{table}' is given twice, as {first} and {second}; keep one of them")]
    AmbiguousTable {
        /// Table name.
        table: &'static str,
        /// First candidate.
        first: PathBuf,
        /// Second candidate.
        second: PathBuf,
    },

    /// A file could not be read at all.
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },

    /// A file is empty: there is no header row.
    #[error("{path}: the file is empty; expected a header row with the columns {expected}")]
    EmptyFile {
        /// The file.
        path: PathBuf,
        /// The required columns, English and Chinese.
        expected: String,
    },

    /// A CSV file holds binary data rather than text.
    #[error("{path}: not a text CSV file ({why}); save it as CSV (UTF-8 or GBK) or as .xlsx")]
    NotText {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        why: String,
    },

    /// Required columns are missing from a file's header.
    #[error("{path}: missing required column(s) {missing}; the header has: {found}")]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// Missing columns, as `name (中文)`.
        missing: String,
        /// The headings the file does have.
        found: String,
    },

    /// Two headings of one file name the same contract column.
    #[error(
        "{path}: the headings '{first}' and '{second}' both name the column '{column}'; keep one"
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The contract column.
        column: &'static str,
        /// First heading.
        first: String,
        /// Second heading.
        second: String,
    },

    /// A file's layout cannot be read as the table without risking a wrong answer:
    /// an unknown unit, a cumulative column where the month's is needed, or a fault
    /// that would quarantine most of the file.
    #[error("{path}: {message}")]
    Layout {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },

    /// An Excel workbook could not be opened or has no sheet.
    #[error("{path}: cannot read the Excel workbook: {message}")]
    Excel {
        /// The file.
        path: PathBuf,
        /// The reader's reason.
        message: String,
    },

    /// A Parquet file could not be read.
    #[error("{path}: cannot read the Parquet file: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The reader's reason.
        #[source]
        source: polars::error::PolarsError,
    },

    /// The period under review could not be determined.
    #[error("the period under review cannot be determined: {0}")]
    NoPeriod(String),

    /// A pipeline file has problems (every one is listed).
    #[error("{0}")]
    Pipeline(#[from] PipelineErrors),

    /// The output directory cannot be used.
    #[error("output directory {path}: {message}")]
    Output {
        /// The `--out` directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// An input given on the command line is not usable.
    #[error("{0}")]
    Usage(String),

    /// A Polars computation failed inside a stage (a bug, reported rather than a
    /// panic); the Polars error is kept as the source.
    #[error("internal error in {stage}: {source}")]
    Polars {
        /// The stage that failed.
        stage: &'static str,
        /// Polars' error.
        #[source]
        source: polars::error::PolarsError,
    },

    /// An internal computation failed (a bug, reported rather than a panic).
    #[error("internal error in {stage}: {message}")]
    Internal {
        /// The stage that failed.
        stage: &'static str,
        /// The cause.
        message: String,
    },
}

impl Error {
    /// Wraps a Polars error raised inside a stage.
    pub fn polars(stage: &'static str, e: polars::error::PolarsError) -> Error {
        Error::Polars { stage, source: e }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the whole file is concerned).
    pub line: usize,
    /// The key at fault (`rule[3].params.min_ratio`).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (0, true) => write!(f, "{}: {}", self.file, self.message),
            (0, false) => write!(f, "{}: {}: {}", self.file, self.key, self.message),
            (l, true) => write!(f, "{}:{}: {}", self.file, l, self.message),
            (l, false) => write!(f, "{}:{}: {}: {}", self.file, l, self.key, self.message),
        }
    }
}

/// Every problem found in a pipeline.
#[derive(Clone, Debug, thiserror::Error)]
pub struct PipelineErrors {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl PipelineErrors {
    pub(crate) fn single(file: &str, line: usize, key: &str, message: &str) -> PipelineErrors {
        PipelineErrors {
            problems: vec![Problem {
                file: file.to_string(),
                line,
                key: key.to_string(),
                message: message.to_string(),
            }],
        }
    }
}

impl fmt::Display for PipelineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the pipeline has {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}
