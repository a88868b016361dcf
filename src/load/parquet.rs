//! Parquet files: only the contract columns are read; their stored types are kept
//! and the parser converts them (a number stored as text, a month stored as a date,
//! a key stored as an integer all work; a value that means nothing is quarantined).

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::raw::{map_headings, RawColumn, RawFrame};
use crate::error::{Error, Result};
use crate::model::schema::TableSpec;

/// Reads the contract columns of one Parquet file.
pub fn read(path: &Path, spec: &'static TableSpec, supplied: &[&str]) -> Result<RawFrame> {
    let perr = |source: PolarsError| Error::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = ParquetReader::new(file);
    let schema = reader.schema().map_err(perr)?;
    let headings: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let m = map_headings(path, spec, &headings, supplied, None, None)?;
    let mapping = m.cols;
    let names: Vec<String> = mapping.iter().map(|(_, i)| headings[*i].clone()).collect();
    let df = reader
        .with_columns(Some(names.clone()))
        .finish()
        .map_err(perr)?;
    let height = df.height();
    let mut columns = Vec::with_capacity(mapping.len());
    for ((col, _), name) in mapping.into_iter().zip(&names) {
        let s = df
            .column(name)
            .map_err(perr)?
            .as_materialized_series()
            .clone();
        columns.push((col, RawColumn::Series(s)));
    }
    Ok(RawFrame {
        columns,
        rows: (1..=height as u32).collect(),
        rejects: Vec::new(),
        repairs: Vec::new(),
        units: m.units,
        notes: m.set_aside,
        unit_column: None,
    })
}
