//! CSV files as bureaus produce them: UTF-8 with or without a BOM, GB18030/GBK from
//! Excel on a Chinese Windows (detected, no flag), or a mix of both line by line;
//! UTF-16 "Unicode text" exports; commas (or, repaired with a note, the semicolons
//! or tabs of other locales); CRLF line ends.
//!
//! A row that cannot be split into the header's fields, or whose bytes decode in
//! neither encoding, is rejected here with its row number; the rest goes on to be
//! typed by `parse`.

use std::path::Path;

use super::raw::{
    above_header, below_header, expected_columns, map_headings, names_a_column, unit_column_index,
    Cell, EarlyReject, RawColumn, RawFrame,
};
use crate::error::{Error, Result};
use crate::model::schema::{ColumnSpec, TableSpec};
use crate::model::text::clip;

/// How many lines from the top are searched for the header row.
const HEADER_SEARCH_ROWS: usize = 20;

/// How the bytes of a file are turned into text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The whole file is valid UTF-8 (a BOM, if any, removed).
    Utf8,
    /// Not valid UTF-8: each field is UTF-8 if it is valid as such, else GB18030.
    Gb18030,
}

/// Reads raw bytes as text where the file is UTF-16 (with a BOM): returns UTF-8 bytes.
fn from_utf16(bytes: &[u8]) -> Option<Vec<u8>> {
    let enc = if bytes.starts_with(&[0xFF, 0xFE]) {
        encoding_rs::UTF_16LE
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        encoding_rs::UTF_16BE
    } else {
        return None;
    };
    let (text, _, _) = enc.decode(bytes);
    Some(text.into_owned().into_bytes())
}

/// Decodes one field: UTF-8 if valid, else GB18030; `None` if neither decodes cleanly.
fn decode_field(bytes: &[u8], enc: Encoding) -> Option<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(s.to_string()),
        Err(_) if enc == Encoding::Gb18030 => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            (!had_errors).then(|| text.into_owned())
        }
        Err(_) => None,
    }
}

/// Picks the delimiter from the header line: a comma when there is one, otherwise
/// a semicolon, tab or vertical bar if the header is split by one of them.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    // The first line that has a delimiter at all (a title line above the header has none).
    let first_line = bytes
        .split(|&b| b == b'\n')
        .take(HEADER_SEARCH_ROWS)
        .find(|l| l.iter().any(|b| matches!(b, b',' | b';' | b'\t' | b'|')))
        .unwrap_or(&[]);
    let count = |d: u8| {
        let mut in_quotes = false;
        let mut n = 0;
        for &b in first_line {
            if b == b'"' {
                in_quotes = !in_quotes;
            } else if b == d && !in_quotes {
                n += 1;
            }
        }
        n
    };
    if count(b',') > 0 {
        return b',';
    }
    [b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| count(d))
        .filter(|&d| count(d) > 0)
        .unwrap_or(b',')
}

/// Reads one CSV file of a table.
pub fn read(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
) -> Result<(RawFrame, Encoding)> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_bytes(path, spec, supplied, raw)
}

/// Reads CSV bytes as if from `path` (used by the fuzz targets and tests).
pub fn read_bytes(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    raw: Vec<u8>,
) -> Result<(RawFrame, Encoding)> {
    let mut repairs: Vec<(&'static str, u64)> = Vec::new();
    let (bytes, encoding) = as_text(path, spec, raw, &mut repairs)?;
    let delimiter = sniff_delimiter(&bytes);
    if delimiter != b',' {
        repairs.push(("delimiter_not_comma", 1));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let mut records = reader.byte_records();

    let (mut top, header_idx) = find_header(path, spec, &mut records)?;
    let above: Vec<String> = top[..header_idx].iter().flat_map(decode_all).collect();
    let (row_unit, title) = above_header(path, &above)?;
    if header_idx > 0 {
        repairs.push(("title_rows_above_header", header_idx as u64));
    }
    let header = top[header_idx].clone();
    let pending: Vec<::csv::ByteRecord> = top.split_off(header_idx + 1);
    // Rows below the header that belong to it (sub-headings, a unit row): looked at
    // before the data is read.
    let mut records = pending.into_iter().map(Ok).chain(records);
    let mut ahead: Vec<::csv::Result<::csv::ByteRecord>> = Vec::new();
    while ahead.len() < 3 {
        match records.next() {
            Some(r) => {
                let stop = r.is_err();
                ahead.push(r);
                if stop {
                    break;
                }
            }
            None => break,
        }
    }
    let ahead_text: Vec<Vec<String>> = ahead
        .iter()
        .map_while(|r| r.as_ref().ok().map(decode_all))
        .collect();
    let (headings, row_unit, taken) = below_header(path, decode_all(&header), row_unit, |i| {
        ahead_text.get(i).cloned()
    })?;
    if taken > 0 {
        repairs.push(("two_row_header", taken as u64));
    }
    let records = ahead.into_iter().skip(taken).chain(records);
    let m = map_headings(
        path,
        spec,
        &headings,
        supplied,
        row_unit.as_ref(),
        title.as_ref().map(|(f, t)| (*f, t.as_str())),
    )?;
    let layout = Layout {
        mapping: &m.cols,
        headings: &headings,
        encoding,
    };
    let unit_idx = unit_column_index(&headings);
    let mut unit_texts: Vec<String> = Vec::new();
    let mut cols: Vec<Vec<Cell>> = vec![Vec::new(); m.cols.len()];
    let mut rows: Vec<u32> = Vec::new();
    let mut rejects: Vec<EarlyReject> = Vec::new();
    let mut bom_inside = 0u64;
    let mut row: u32 = 0;
    for rec in records {
        row = row.saturating_add(1);
        let decoded = match rec {
            Ok(rec) => match layout.cells(&rec, row, &mut bom_inside) {
                Ok(Some(cells)) => {
                    if let Some(ui) = unit_idx {
                        let f = rec.get(ui).unwrap_or(&[]);
                        unit_texts.push(decode_field(f, encoding).unwrap_or_default());
                    }
                    cells
                }
                Ok(None) => continue,
                Err(r) => {
                    rejects.push(r);
                    continue;
                }
            },
            Err(e) => {
                rejects.push(EarlyReject {
                    row,
                    column: String::new(),
                    value: String::new(),
                    reason: format!("row cannot be split into fields: {e}"),
                });
                continue;
            }
        };
        for (c, v) in cols.iter_mut().zip(decoded) {
            c.push(v);
        }
        rows.push(row);
    }
    if bom_inside > 0 {
        repairs.push(("byte_order_mark_removed", bom_inside));
    }
    let columns = m
        .cols
        .into_iter()
        .zip(cols)
        .map(|((spec_col, _), cells)| (spec_col, RawColumn::Cells(cells)))
        .collect();
    Ok((
        RawFrame {
            columns,
            rows,
            rejects,
            repairs,
            units: m.units,
            notes: m.set_aside,
            unit_column: unit_idx.map(|i| (headings[i].clone(), unit_texts)),
        },
        encoding,
    ))
}

/// The file's bytes as text: UTF-16 decoded, a leading BOM removed, and the
/// encoding its fields are read in. A blank file, or one that is not text (a zero
/// byte, or more than one byte in 20 a control character, near the top), is an
/// error naming the file.
fn as_text(
    path: &Path,
    spec: &'static TableSpec,
    raw: Vec<u8>,
    repairs: &mut Vec<(&'static str, u64)>,
) -> Result<(Vec<u8>, Encoding)> {
    let mut bytes = match from_utf16(&raw) {
        Some(b) => {
            repairs.push(("utf16_decoded", 1));
            b
        }
        None => raw,
    };
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: expected_columns(spec),
        });
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    if let Some(pos) = head.iter().position(|&b| b == 0) {
        return Err(Error::NotText {
            path: path.to_path_buf(),
            why: format!("a zero byte at offset {pos}"),
        });
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t'))
        .count();
    if controls * 20 > head.len().max(1) {
        return Err(Error::NotText {
            path: path.to_path_buf(),
            why: format!("{controls} control bytes in the first {} bytes", head.len()),
        });
    }
    let encoding = if std::str::from_utf8(&bytes).is_ok() {
        Encoding::Utf8
    } else {
        Encoding::Gb18030
    };
    Ok((bytes, encoding))
}

/// Every field of a record as text, whatever its encoding.
fn decode_all(rec: &::csv::ByteRecord) -> Vec<String> {
    rec.iter()
        .map(|f| {
            decode_field(f, Encoding::Gb18030)
                .unwrap_or_else(|| String::from_utf8_lossy(f).into_owned())
        })
        .collect()
}

/// The top records, up to the header, and the header's index among them. The
/// header is the first of the top lines naming two contract columns (an export
/// may put a title and a unit row `单位：万元` above it); else the first.
fn find_header(
    path: &Path,
    spec: &'static TableSpec,
    records: &mut impl Iterator<Item = ::csv::Result<::csv::ByteRecord>>,
) -> Result<(Vec<::csv::ByteRecord>, usize)> {
    let mut top: Vec<::csv::ByteRecord> = Vec::new();
    let mut header_at: Option<usize> = None;
    while top.len() < HEADER_SEARCH_ROWS {
        match records.next() {
            Some(Ok(r)) => {
                let names = decode_all(&r)
                    .iter()
                    .filter(|h| names_a_column(spec, h))
                    .count();
                top.push(r);
                if names >= 2 {
                    header_at = Some(top.len() - 1);
                    break;
                }
            }
            Some(Err(e)) if top.is_empty() => {
                return Err(Error::NotText {
                    path: path.to_path_buf(),
                    why: format!("the header row cannot be read: {e}"),
                })
            }
            Some(Err(_)) | None => break,
        }
    }
    if top.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: expected_columns(spec),
        });
    }
    Ok((top, header_at.unwrap_or(0)))
}

/// The header's fields and the contract columns read from them.
struct Layout<'a> {
    mapping: &'a [(&'static ColumnSpec, usize)],
    headings: &'a [String],
    encoding: Encoding,
}

impl Layout<'_> {
    /// The cells of the contract columns of data row `row`; `None` for a line of
    /// empty fields (`,,,,`: it carries nothing, it is not a row). A row with
    /// fewer fields than the header, with values beyond it, with bytes that decode
    /// in neither encoding, or repeating the header is rejected with its reason.
    /// BOMs inside a field are removed and counted in `bom_inside`.
    fn cells(
        &self,
        rec: &::csv::ByteRecord,
        row: u32,
        bom_inside: &mut u64,
    ) -> std::result::Result<Option<Vec<Cell>>, EarlyReject> {
        if rec
            .iter()
            .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
        {
            return Ok(None);
        }
        let n_fields = self.headings.len();
        let reject = |reason: String| {
            let joined: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            EarlyReject {
                row,
                column: String::new(),
                value: clip(&joined.join(","), 200),
                reason,
            }
        };
        if rec.len() < n_fields {
            return Err(reject(format!(
                "row has {} fields, the header has {n_fields} (a truncated or broken line)",
                rec.len()
            )));
        }
        if rec.len() > n_fields && rec.iter().skip(n_fields).any(|f| !f.is_empty()) {
            return Err(reject(format!(
                "row has {} fields, the header has {n_fields} (an unquoted comma inside a value?)",
                rec.len()
            )));
        }
        let mut decoded: Vec<Cell> = Vec::with_capacity(self.mapping.len());
        for (spec_col, idx) in self.mapping {
            let f = rec.get(*idx).unwrap_or(&[]);
            let Some(mut s) = decode_field(f, self.encoding) else {
                return Err(EarlyReject {
                    row,
                    column: spec_col.name.to_string(),
                    value: clip(&String::from_utf8_lossy(f), 80),
                    reason: "bytes that are neither UTF-8 nor GB18030 text".to_string(),
                });
            };
            if s.contains('\u{FEFF}') {
                s = s.replace('\u{FEFF}', "");
                *bom_inside += 1;
            }
            decoded.push(if s.trim().is_empty() {
                Cell::Empty
            } else {
                Cell::Text(s)
            });
        }
        // A second header inside the data (files concatenated with their headers).
        let repeats_header = self
            .mapping
            .iter()
            .zip(&decoded)
            .all(|((_, idx), c)| match c {
                Cell::Text(s) => {
                    s.trim() == self.headings[*idx].trim().trim_start_matches('\u{FEFF}')
                }
                _ => false,
            });
        if repeats_header {
            return Err(reject(
                "the header row repeated inside the data".to_string(),
            ));
        }
        Ok(Some(decoded))
    }
}

/// Reads any CSV file as text columns (for `zhibao outlier`): the headings and
/// each column's values, empty fields as `None`. Same encoding rules as the
/// contract tables; rows with a wrong number of fields are an error here, since
/// there is no quarantine for an arbitrary table.
pub fn read_generic_csv(path: &Path) -> Result<super::TextColumns> {
    let raw = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = from_utf16(&raw).unwrap_or(raw);
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: "a header row".to_string(),
        });
    }
    let encoding = if std::str::from_utf8(&bytes).is_ok() {
        Encoding::Utf8
    } else {
        Encoding::Gb18030
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&bytes))
        .from_reader(bytes.as_slice());
    let mut headings: Vec<String> = Vec::new();
    let mut cols: Vec<Vec<Option<String>>> = Vec::new();
    for (i, rec) in reader.byte_records().enumerate() {
        let rec = rec.map_err(|e| Error::NotText {
            path: path.to_path_buf(),
            why: format!("row {i}: {e}"),
        })?;
        let fields: Vec<String> = rec
            .iter()
            .map(|f| {
                decode_field(f, encoding).unwrap_or_else(|| String::from_utf8_lossy(f).into_owned())
            })
            .collect();
        if i == 0 {
            headings = fields
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{FEFF}').to_string())
                .collect();
            cols = vec![Vec::new(); headings.len()];
            continue;
        }
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if fields.len() < headings.len() {
            return Err(Error::NotText {
                path: path.to_path_buf(),
                why: format!(
                    "data row {i} has {} fields, the header has {}",
                    fields.len(),
                    headings.len()
                ),
            });
        }
        for (c, f) in cols.iter_mut().zip(fields) {
            c.push((!f.trim().is_empty()).then_some(f));
        }
    }
    Ok((headings, cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Table;

    fn read_str(bytes: &[u8]) -> Result<(RawFrame, Encoding)> {
        read_bytes(Path::new("t.csv"), Table::Tax.spec(), &[], bytes.to_vec())
    }

    #[test]
    fn utf8_with_bom_and_crlf() {
        let (f, enc) =
            read_str(b"\xEF\xBB\xBFuscc,period,taxable_sales\r\n91110000600037341L,2026-09,12\r\n")
                .unwrap();
        assert_eq!(enc, Encoding::Utf8);
        assert_eq!(f.rows, vec![1]);
        assert_eq!(f.columns.len(), 3);
    }

    #[test]
    fn gbk_headers_are_decoded() {
        let text = "统一社会信用代码,所属期,应税销售额\n91110000600037341L,2026-09,12\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let (f, enc) = read_str(&gbk).unwrap();
        assert_eq!(enc, Encoding::Gb18030);
        assert_eq!(f.columns[0].0.name, "uscc");
    }

    #[test]
    fn short_and_long_rows_are_rejected_with_their_row() {
        let (f, _) =
            read_str(b"uscc,period,taxable_sales\na,2026-09\nb,2026-09,1,9\nc,2026-09,1,\n")
                .unwrap();
        assert_eq!(f.rejects.len(), 2);
        assert_eq!(f.rejects[0].row, 1);
        assert!(f.rejects[0].reason.contains("2 fields"));
        assert_eq!(f.rejects[1].row, 2);
        assert_eq!(f.rows, vec![3]);
    }

    #[test]
    fn semicolons_are_accepted_with_a_note() {
        let (f, _) = read_str(b"uscc;period;taxable_sales\na;2026-09;1\n").unwrap();
        assert_eq!(f.rows.len(), 1);
        assert!(f.repairs.iter().any(|(k, _)| *k == "delimiter_not_comma"));
    }

    #[test]
    fn empty_and_binary_files_stop() {
        assert!(matches!(read_str(b""), Err(Error::EmptyFile { .. })));
        assert!(matches!(
            read_str(b"\xEF\xBB\xBF\r\n"),
            Err(Error::EmptyFile { .. })
        ));
        assert!(matches!(
            read_str(b"PK\x03\x04\x00\x00binary"),
            Err(Error::NotText { .. })
        ));
    }

    #[test]
    fn missing_columns_are_named() {
        let e = read_str(b"uscc,taxable_sales\n").err().unwrap().to_string();
        assert!(e.contains("period (所属期)"), "{e}");
    }
}
