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

/// The rows of a table as a grid: a cell spanning columns or rows (`colspan`,
/// `rowspan`) holds its text in its first position and leaves the others empty,
/// as a merged cell of a sheet does. Rows of nested tables are not the table's.
fn table_grid(table: ElementRef<'_>) -> Vec<Vec<String>> {
    let mut grid: Vec<Vec<String>> = Vec::new();
    // Positions taken by a rowspan from a row above: (row, column).
    let mut taken: std::collections::HashSet<(usize, usize)> = Default::default();
    for tr in table
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == "tr")
        .filter(|tr| nearest_table(*tr).map(|t| t.id()) == Some(table.id()))
    {
        let i = grid.len();
        let mut row: Vec<String> = Vec::new();
        let mut j = 0usize;
        for cell in tr
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|e| matches!(e.value().name(), "td" | "th"))
        {
            while taken.contains(&(i, j)) {
                if row.len() <= j {
                    row.resize(j + 1, String::new());
                }
                j += 1;
            }
            let span = |a: &str| {
                cell.value()
                    .attr(a)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(1)
                    .clamp(1, 1000)
            };
            let (cs, rs) = (span("colspan"), span("rowspan"));
            if row.len() < j + cs {
                row.resize(j + cs, String::new());
            }
            row[j] = cell_text(cell);
            for di in 1..rs {
                for dj in 0..cs {
                    taken.insert((i + di, j + dj));
                }
            }
            j += cs;
        }
        while taken.contains(&(i, j)) {
            row.resize(j + 1, String::new());
            j += 1;
        }
        grid.push(row);
    }
    grid
}

fn nearest_table(e: ElementRef<'_>) -> Option<ElementRef<'_>> {
    e.ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| a.value().name() == "table")
}

/// The rows of an XML Spreadsheet 2003 document (`<Row><Cell><Data>…`), read
/// through the HTML parser (which lower-cases the names).
fn spreadsheet_ml_grid(doc: &Html) -> Vec<Vec<String>> {
    let row_sel = Selector::parse("row").expect("static selector");
    let mut grid = Vec::new();
    for r in doc.select(&row_sel) {
        let mut row: Vec<String> = Vec::new();
        for c in r
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|e| e.value().name() == "cell")
        {
            // `ss:Index` (1-based) skips empty cells.
            if let Some(ix) = c
                .value()
                .attrs()
                .find(|(k, _)| k.ends_with("index"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
            {
                if ix > row.len() + 1 {
                    row.resize(ix - 1, String::new());
                }
            }
            row.push(cell_text(c));
        }
        grid.push(row);
    }
    grid
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
    let mut best: Option<Vec<Vec<String>>> = None;
    let header_row = |grid: &[Vec<String>]| {
        grid.iter()
            .take(20)
            .position(|r| r.iter().filter(|h| names_a_column(spec, h)).count() >= 2)
    };
    let has_header = |grid: &[Vec<String>]| header_row(grid).is_some();
    // The tables holding the headings; a layout table around one of them repeats its
    // rows, so only the innermost count.
    let with_header: Vec<ElementRef<'_>> = doc
        .select(&table_sel)
        .filter(|t| has_header(&table_grid(*t)))
        .collect();
    let innermost: Vec<ElementRef<'_>> = with_header
        .iter()
        .copied()
        .filter(|t| {
            !with_header
                .iter()
                .any(|o| o.id() != t.id() && o.ancestors().any(|a| a.id() == t.id()))
        })
        .collect();
    // Several data tables (a page per block of rows): read one after the other when
    // their headings agree, else stop.
    for t in &innermost {
        let grid = table_grid(*t);
        match &mut best {
            None => best = Some(grid),
            Some(first) => {
                let (Some(h1), Some(h2)) = (header_row(first), header_row(&grid)) else {
                    continue;
                };
                if first[h1] != grid[h2] {
                    return Err(Error::Layout {
                        path: path.to_path_buf(),
                        message: "the page holds several tables of the table's columns with different headings; \
                                  export one table"
                            .to_string(),
                    });
                }
                first.extend(grid.into_iter().skip(h2 + 1));
            }
        }
    }
    // A unit or a title written outside the table (`<p>单位：万元</p>`, a caption):
    // put above it, where the reader looks for them.
    if let (Some(grid), Some(first)) = (&mut best, innermost.first()) {
        let caption = Selector::parse("caption").expect("static selector");
        let mut texts: Vec<String> = first.select(&caption).map(cell_text).collect();
        texts.extend(
            doc.root_element()
                .descendants()
                .filter_map(|n| n.value().as_text().map(|t| (n, t.to_string())))
                .filter(|(n, _)| {
                    !n.ancestors().any(|a| {
                        a.value()
                            .as_element()
                            .is_some_and(|e| matches!(e.name(), "table" | "script" | "style"))
                    })
                })
                .map(|(_, t)| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        );
        for t in texts.into_iter().rev() {
            let unit = matches!(super::heading::unit_row(&t), Ok(Some(_)) | Err(_));
            if unit || super::heading::title_figure(&t).is_some() {
                grid.insert(0, vec![t]);
            }
        }
    }
    // XML Spreadsheet 2003 (`<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">`),
    // another form of platform ".xls": rows of cells.
    if best.is_none() {
        let grid = spreadsheet_ml_grid(&doc);
        if has_header(&grid) {
            best = Some(grid);
        }
    }
    let Some(grid) = best else {
        return Err(Error::Layout {
            path: path.to_path_buf(),
            message: format!(
                "an HTML or XML page (a platform export named .xls) with no table whose headings are the table's; expected {}",
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

    #[test]
    fn spans_and_two_row_headers_in_html() {
        let page = "<table><tr><th rowspan=2>统一社会信用代码</th><th rowspan=2>所属期</th>\
            <th colspan=2>应税销售额</th></tr><tr><th>本年累计</th><th>当月</th></tr>\
            <tr><td>91110000600037341L</td><td>2026-09</td><td>9000</td><td>1000</td></tr></table>";
        let f = read_bytes(Path::new("t.xls"), Table::Tax.spec(), &[], page.as_bytes()).unwrap();
        assert_eq!(f.rows.len(), 1);
        let (_, col) = f
            .columns
            .iter()
            .find(|(c, _)| c.name == "taxable_sales")
            .unwrap();
        match col {
            crate::load::raw::RawColumn::Cells(c) => {
                assert_eq!(c[0], crate::load::raw::Cell::Text("1000".into()))
            }
            _ => panic!("cells expected"),
        }
    }

    #[test]
    fn several_tables_and_a_unit_outside_them() {
        let head = "<tr><th>统一社会信用代码</th><th>所属期</th><th>应税销售额</th></tr>";
        let page = format!(
            "<html><body><p>单位：万元</p><table>{head}<tr><td>91110000600037341L</td><td>2026-08</td><td>1</td></tr></table>\
             <table>{head}<tr><td>91110000600037341L</td><td>2026-09</td><td>2</td></tr></table></body></html>"
        );
        let f = read_bytes(Path::new("t.xls"), Table::Tax.spec(), &[], page.as_bytes()).unwrap();
        assert_eq!(f.rows.len(), 2);
        assert_eq!(f.units.len(), 1);
        assert_eq!(f.units[0].factor, 10.0);
    }

    #[test]
    fn xml_spreadsheet_2003() {
        let page = r#"<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"><Table>
            <Row><Cell><Data ss:Type="String">uscc</Data></Cell><Cell><Data ss:Type="String">period</Data></Cell><Cell><Data ss:Type="String">taxable_sales</Data></Cell></Row>
            <Row><Cell><Data ss:Type="String">91110000600037341L</Data></Cell><Cell><Data ss:Type="String">2026-09</Data></Cell><Cell><Data ss:Type="Number">12</Data></Cell></Row>
            </Table></Worksheet></Workbook>"#;
        let f = read_bytes(Path::new("t.xls"), Table::Tax.spec(), &[], page.as_bytes()).unwrap();
        assert_eq!(f.rows, vec![1]);
    }
}
