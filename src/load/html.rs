//! HTML tables: what reporting platforms export under an `.xls` name. The page is
//! parsed with `scraper` (html5ever); the table holding the table's headings is
//! read as a grid, exactly like a sheet (title rows and a unit row above the header
//! allowed). Text is UTF-8, or GB18030 when it is not valid UTF-8.

use std::path::Path;

use calamine::{Data, Range};
use scraper::{ElementRef, Html, Selector};

use super::raw::{names_a_column, RawFrame};
use crate::error::{Error, Result};
use crate::model::schema::TableSpec;

fn decode(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return encoding_rs::UTF_16LE.decode(bytes).0.into_owned();
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return encoding_rs::UTF_16BE.decode(bytes).0.into_owned();
    }
    let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling(b)
            .0
            .into_owned(),
    }
}

fn cell_text(e: ElementRef<'_>) -> String {
    let t: String = e.text().collect::<Vec<_>>().join("");
    t.replace('\u{00A0}', " ").trim().to_string()
}

/// Reads the data table of an HTML page as a file of `spec`.
pub fn read_bytes(
    path: &Path,
    spec: &'static TableSpec,
    supplied: &[&str],
    bytes: &[u8],
) -> Result<RawFrame> {
    let doc = Html::parse_document(&decode(bytes));
    let table_sel = Selector::parse("table").expect("static selector");
    let row_sel = Selector::parse("tr").expect("static selector");
    let cell_sel = Selector::parse("td, th").expect("static selector");
    let mut best: Option<Vec<Vec<String>>> = None;
    for table in doc.select(&table_sel) {
        let grid: Vec<Vec<String>> = table
            .select(&row_sel)
            .map(|tr| tr.select(&cell_sel).map(cell_text).collect())
            .collect();
        let has_header = grid
            .iter()
            .take(20)
            .any(|r| r.iter().filter(|h| names_a_column(spec, h)).count() >= 2);
        // Nested layout tables repeat the rows of the inner table: the innermost
        // table with the headings is the data.
        if has_header {
            best = Some(grid);
        }
    }
    let Some(grid) = best else {
        return Err(Error::Layout {
            path: path.to_path_buf(),
            message: format!(
                "an HTML page (a platform export named .xls) with no table whose headings are the table's; expected {}",
                super::raw::expected_columns(spec)
            ),
        });
    };
    let height = grid.len();
    let width = grid.iter().map(Vec::len).max().unwrap_or(0);
    if height == 0 || width == 0 {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
            expected: super::raw::expected_columns(spec),
        });
    }
    let mut range: Range<Data> = Range::new((0, 0), ((height - 1) as u32, (width - 1) as u32));
    for (i, r) in grid.into_iter().enumerate() {
        for (j, v) in r.into_iter().enumerate() {
            if !v.is_empty() {
                range.set_value((i as u32, j as u32), Data::String(v));
            }
        }
    }
    super::excel::read_grid(path, spec, supplied, &range, None, false, false)
        .map(|f| f.expect("an HTML table is never skipped"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Table;

    #[test]
    fn a_platform_html_export_is_read() {
        let page = "<html><head><meta charset=\"utf-8\"></head><body>\
            <table><tr><td colspan=3>2026年9月 增值税</td></tr><tr><td>单位：万元</td></tr>\
            <tr><th>统一社会信用代码</th><th>所属期</th><th>应税销售额</th></tr>\
            <tr><td>91110000600037341L</td><td>2026-09</td><td>1,234.5</td></tr></table></body></html>";
        let f = read_bytes(Path::new("t.xls"), Table::Tax.spec(), &[], page.as_bytes()).unwrap();
        assert_eq!(f.rows, vec![1]);
        assert_eq!(f.units.len(), 1);
        assert_eq!(f.units[0].factor, 10.0);
    }
}
