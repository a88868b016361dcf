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
            "csv" | "txt" | "tsv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "xlsx" | "xlsm" | "xls" | "et" | "ods" => Some(Format::Excel),
            _ => None,
        }
    }

    /// The format of a file whose name does not tell it, from its first bytes
    /// (a `.dat` export, a file without extension). Backup and temporary copies
    /// (`.bak`, `.old`, `~`…) are not read: their rows would duplicate the file's.
    fn sniffed(path: &Path) -> std::result::Result<Format, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let backup = name.ends_with('~')
            || [
                ".bak",
                ".old",
                ".orig",
                ".tmp",
                ".temp",
                ".swp",
                ".backup",
                ".part",
                ".crdownload",
            ]
            .iter()
            .any(|e| name.ends_with(e));
        if backup {
            return Err(
                "a backup or temporary copy (its rows would duplicate those of the file it copies)"
                    .to_string(),
            );
        }
        use std::io::Read;
        let mut head = Vec::with_capacity(4096);
        std::fs::File::open(path)
            .and_then(|f| f.take(4096).read_to_end(&mut head))
            .map_err(|e| format!("cannot be opened: {e}"))?;
        if head.is_empty() {
            return Err("the file is empty".to_string());
        }
        match super::excel::sniff(&head) {
            super::excel::Sniffed::Workbook | super::excel::Sniffed::Html => Ok(Format::Excel),
            super::excel::Sniffed::Parquet => Ok(Format::Parquet),
            super::excel::Sniffed::Text => Ok(Format::Csv),
            super::excel::Sniffed::Unknown => Err(
                "its name and its bytes match no format zhibao reads (CSV, Parquet, xlsx/xls/et, HTML)"
                    .to_string(),
            ),
        }
    }
}

/// A file in a table's folder that was not read, and why (in `summary.json` and
/// on stderr).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Skipped {
    /// Path relative to the data directory.
    pub file: String,
    /// Why it was not read.
    pub reason: String,
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
    /// The sheet of a workbook with several (`None`: the first or only one).
    pub sheet: Option<String>,
    /// The format was told from the bytes, not the name: a file that turns out not
    /// to be the table's is skipped (and named), not an error.
    pub sniffed: bool,
}

/// The files of `table` in `dir`, sorted by path (empty when the table is absent),
/// and the files of its folder that are not read, with why.
pub fn discover(dir: &Path, table: Table) -> Result<(Vec<SourceFile>, Vec<Skipped>)> {
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
            if stem == name && (Format::of(&path).is_some() || Format::sniffed(&path).is_ok()) {
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
        return Ok((Vec::new(), Vec::new()));
    };
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    if found.is_dir() {
        walk(dir, &found, &mut Vec::new(), &mut files, &mut skipped)?;
    } else if let Some(format) = Format::of(&found).or_else(|| Format::sniffed(&found).ok()) {
        let sniffed = Format::of(&found).is_none();
        files.push(SourceFile {
            rel: relative(dir, &found),
            path: found,
            format,
            partitions: Vec::new(),
            sheet: None,
            sniffed,
        });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, skipped))
}

fn walk(
    root: &Path,
    dir: &Path,
    parts: &mut Vec<(String, String)>,
    out: &mut Vec<SourceFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Some(fname) = path.file_name().and_then(|s| s.to_str()) else {
            // A name that is not UTF-8 (GBK names from a Windows zip): named, not read.
            skipped.push(Skipped {
                file: relative(root, &path),
                reason: "its name is not valid UTF-8 text (rename the file, e.g. after unzipping with -O GBK)".to_string(),
            });
            continue;
        };
        if fname.starts_with('.') || fname.starts_with('_') || fname.starts_with('~') {
            // Hidden files, `_SUCCESS` markers, Excel lock files: named, not read.
            if path.is_file() {
                skipped.push(Skipped {
                    file: relative(root, &path),
                    reason: "a hidden, marker or lock file (its name starts with '.', '_' or '~')"
                        .to_string(),
                });
            }
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
            walk(root, &path, parts, out, skipped)?;
            if pushed {
                parts.pop();
            }
        } else {
            // A `.txt` (often a read-me) counts as told by its bytes: skipped and
            // named when it is not the table's, not an error.
            let weak = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
            let sniffed = Format::of(&path).is_none() || weak;
            match Format::of(&path)
                .ok_or(())
                .or_else(|_| Format::sniffed(&path))
            {
                Ok(format) => out.push(SourceFile {
                    rel: relative(root, &path),
                    path,
                    format,
                    partitions: parts.clone(),
                    sheet: None,
                    sniffed,
                }),
                Err(reason) => skipped.push(Skipped {
                    file: relative(root, &path),
                    reason,
                }),
            }
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

        let tax = discover(d.path(), Table::Tax).unwrap().0;
        assert_eq!(tax.len(), 1);
        assert_eq!(tax[0].format, Format::Csv);

        let (ind, skipped) = discover(d.path(), Table::Industrial).unwrap();
        assert_eq!(ind.len(), 2);
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(ind[0].rel, "industrial/period=2026-08/a.csv");
        assert_eq!(ind[0].partitions, vec![("period".into(), "2026-08".into())]);

        assert!(discover(d.path(), Table::Rd).unwrap().0.is_empty());
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
