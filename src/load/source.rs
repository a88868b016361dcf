//! Finding a table's files in the data directory: `<table>.{csv,parquet,xlsx}` or a
//! directory `<table>/` of such files, with Hive-style `key=value/` folders.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Table;

/// A file format the loader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text, UTF-8 or GB18030.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Excel workbook (first sheet); `.xls` is read too.
    Excel,
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "xlsx" | "xlsm" | "xls" => Some(Format::Excel),
            _ => None,
        }
    }
}

/// One input file of a table.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Full path.
    pub path: PathBuf,
    /// Path relative to the data directory, `/`-separated: what quarantine lines name.
    pub rel: String,
    /// Format, from the extension.
    pub format: Format,
    /// `key=value` folders between the table directory and the file.
    pub partitions: Vec<(String, String)>,
}

/// The files of `table` in `dir`, sorted by path. Empty when the table is absent.
pub fn discover(dir: &Path, table: Table) -> Result<Vec<SourceFile>> {
    let name = table.name();
    let mut candidates: Vec<PathBuf> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let fname = entry.file_name();
        let Some(fname) = fname.to_str() else {
            continue;
        };
        if fname.starts_with('.') || fname.starts_with('~') {
            continue;
        }
        if path.is_dir() {
            if fname == name {
                candidates.push(path);
            }
        } else if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            if stem == name && Format::of(&path).is_some() {
                candidates.push(path);
            }
        }
    }
    candidates.sort();
    if candidates.len() > 1 {
        return Err(Error::AmbiguousTable {
            table: name,
            first: candidates[0].clone(),
            second: candidates[1].clone(),
        });
    }
    let Some(found) = candidates.pop() else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    if found.is_dir() {
        walk(dir, &found, &mut Vec::new(), &mut files)?;
    } else if let Some(format) = Format::of(&found) {
        files.push(SourceFile {
            rel: relative(dir, &found),
            path: found,
            format,
            partitions: Vec::new(),
        });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(files)
}

fn walk(
    root: &Path,
    dir: &Path,
    parts: &mut Vec<(String, String)>,
    out: &mut Vec<SourceFile>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Some(fname) = path.file_name().and_then(|s| s.to_str()) else {
            continue;
        };
        if fname.starts_with('.') || fname.starts_with('_') || fname.starts_with('~') {
            continue;
        }
        if path.is_dir() {
            let pushed = match fname.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    parts.push((k.to_string(), v.to_string()));
                    true
                }
                _ => false,
            };
            walk(root, &path, parts, out)?;
            if pushed {
                parts.pop();
            }
        } else if let Some(format) = Format::of(&path) {
            out.push(SourceFile {
                rel: relative(root, &path),
                path,
                format,
                partitions: parts.clone(),
            });
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_files_and_hive_folders() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tax.csv"), "x").unwrap();
        std::fs::create_dir_all(d.path().join("industrial/period=2026-09")).unwrap();
        std::fs::create_dir_all(d.path().join("industrial/period=2026-08")).unwrap();
        std::fs::write(d.path().join("industrial/period=2026-09/a.parquet"), "x").unwrap();
        std::fs::write(d.path().join("industrial/period=2026-08/a.csv"), "x").unwrap();
        std::fs::write(d.path().join("industrial/_SUCCESS"), "").unwrap();

        let tax = discover(d.path(), Table::Tax).unwrap();
        assert_eq!(tax.len(), 1);
        assert_eq!(tax[0].format, Format::Csv);

        let ind = discover(d.path(), Table::Industrial).unwrap();
        assert_eq!(ind.len(), 2);
        assert_eq!(ind[0].rel, "industrial/period=2026-08/a.csv");
        assert_eq!(ind[0].partitions, vec![("period".into(), "2026-08".into())]);

        assert!(discover(d.path(), Table::Rd).unwrap().is_empty());
    }

    #[test]
    fn two_forms_of_one_table_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tax.csv"), "x").unwrap();
        std::fs::write(d.path().join("tax.xlsx"), "x").unwrap();
        let e = discover(d.path(), Table::Tax).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
    }
}
