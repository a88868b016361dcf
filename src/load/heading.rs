//! What a heading says beyond the column it names: the **unit** its values are in
//! (`工业总产值(万元)`, `应税销售额：元`, `gross_output (10k yuan)`) and **which
//! figure** it holds — the month's (`当月`, `本月`, or no mark), the year to date
//! (`本年累计`, `1-本月`, `1-9月`, `year to date`) or last year's (`上年同期`).
//!
//! The rules (docs/data-contract.md):
//! - a unit is converted to the contract's (money in thousand yuan; electricity in
//!   10⁴ kWh; energy in tonnes of standard coal); a unit that is not known stops the file;
//! - a cumulative or previous-year column is never read as the month's value; when
//!   the month's column of the same variable is there it is used, and when it is
//!   not, the file stops naming the column.

use crate::model::schema::{heading_key, ColumnSpec, TableSpec};
use crate::model::text::{half_width, trim};

/// Which figure of a variable a heading holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// The reporting month's value (当月, 本月, or no mark).
    Month,
    /// Year to date (本年累计, 1-本月, 1-N月).
    Cumulative,
    /// Last year's (上年同期, 上年).
    PreviousYear,
}

impl Figure {
    /// How a message names the figure.
    pub fn describe(self) -> &'static str {
        match self {
            Figure::Month => "the month's value (当月)",
            Figure::Cumulative => "a year-to-date (本年累计) column",
            Figure::PreviousYear => "last year's (上年同期) column",
        }
    }
}

/// The dimension of a column's values, for units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// Money: thousand yuan in the contract.
    Money,
    /// Electricity: 10⁴ kWh.
    Electricity,
    /// Energy: tonnes of standard coal.
    Energy,
    /// Persons.
    Persons,
    /// Anything else (codes, months, text): no unit applies.
    None,
}

/// The dimension of a contract column.
pub fn dimension(col: &ColumnSpec) -> Dimension {
    match col.name {
        "gross_output" | "sales_output" | "export_delivery" | "taxable_sales"
        | "rd_expenditure" | "rd_super_deduction" | "planned_total" | "ytd_completed"
        | "wage_total" | "revenue" => Dimension::Money,
        "electricity" => Dimension::Electricity,
        "energy_consumption" => Dimension::Energy,
        "employees" | "rd_staff" => Dimension::Persons,
        _ => Dimension::None,
    }
}

/// A unit found in a heading or a unit row, and the factor to the contract's unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// The unit as written (normalised).
    pub text: String,
    /// What it measures.
    pub dimension: Dimension,
    /// Multiply by this to get the contract's unit.
    pub factor: f64,
}

/// Reads a unit: `Ok(None)` when the text is not a unit at all, `Err` when it looks
/// like one (ends in 元, mentions yuan, kWh, tonnes…) but is not known.
pub fn parse_unit(text: &str) -> Result<Option<Unit>, String> {
    let n: String = half_width(trim(text))
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    let mut n = n.as_str();
    for p in ["计量单位", "金额单位", "单位", "units", "unit"] {
        if let Some(r) = n.strip_prefix(p) {
            n = r;
            break;
        }
    }
    let n = n.trim_start_matches([':', '：']);
    let n = n.strip_prefix("in").unwrap_or(n);
    let n = n.strip_prefix("人民币").unwrap_or(n);
    let n = n
        .strip_prefix("rmb")
        .filter(|r| !r.is_empty())
        .unwrap_or(n)
        .to_string();
    const TABLE: &[(&[&str], Dimension, f64)] = &[
        (
            &["元", "yuan", "rmb", "人民币元", "cny"],
            Dimension::Money,
            0.001,
        ),
        (
            &[
                "千元",
                "thousandyuan",
                "1000yuan",
                "1,000yuan",
                "kyuan",
                "thousandsofyuan",
                "千元人民币",
                "000yuan",
                "'000yuan",
            ],
            Dimension::Money,
            1.0,
        ),
        (
            &[
                "万元",
                "10kyuan",
                "10000yuan",
                "10,000yuan",
                "tenthousandyuan",
                "10thousandyuan",
                "万元人民币",
            ],
            Dimension::Money,
            10.0,
        ),
        (
            &["百万元", "millionyuan", "1000000yuan", "mnyuan"],
            Dimension::Money,
            1000.0,
        ),
        (
            &[
                "亿元",
                "100millionyuan",
                "hundredmillionyuan",
                "100000000yuan",
            ],
            Dimension::Money,
            100_000.0,
        ),
        (
            &[
                "万千瓦时",
                "万度",
                "10^4kwh",
                "10⁴kwh",
                "10000kwh",
                "10kkwh",
                "10,000kwh",
            ],
            Dimension::Electricity,
            1.0,
        ),
        (&["千瓦时", "度", "kwh"], Dimension::Electricity, 0.0001),
        (
            &["亿千瓦时", "100millionkwh"],
            Dimension::Electricity,
            10_000.0,
        ),
        (
            &[
                "吨标准煤",
                "吨标煤",
                "tce",
                "tonnesofstandardcoal",
                "tonsofstandardcoal",
                "吨",
            ],
            Dimension::Energy,
            1.0,
        ),
        (
            &["万吨标准煤", "万吨标煤", "10ktce", "10000tce"],
            Dimension::Energy,
            10_000.0,
        ),
        (
            &["人", "persons", "person", "people", "名"],
            Dimension::Persons,
            1.0,
        ),
    ];
    for (names, dim, factor) in TABLE {
        if names.contains(&n.as_str()) {
            return Ok(Some(Unit {
                text: n,
                dimension: *dim,
                factor: *factor,
            }));
        }
    }
    let looks_like_unit = n.ends_with('元')
        || n.contains("yuan")
        || n.contains("kwh")
        || n.contains("瓦时")
        || n.contains("标准煤")
        || n.ends_with("吨")
        || n.contains("dollar")
        || n.contains("usd")
        || n.contains("美元");
    if looks_like_unit {
        Err(format!("unknown unit '{}'", trim(text)))
    } else {
        Ok(None)
    }
}

/// A mark of which figure a heading holds, if the text is one.
fn figure_mark(note: &str) -> Option<Figure> {
    if is_months_range(note) {
        return Some(Figure::Cumulative);
    }
    let n: String = note
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-' && *c != '—')
        .flat_map(char::to_lowercase)
        .collect();
    if n.is_empty() {
        return None;
    }
    const MONTH: [&str; 6] = ["当月", "本月", "当期", "本期", "month", "thismonth"];
    const PREV: [&str; 10] = [
        "上年同期",
        "上年",
        "去年同期",
        "上年同月",
        "上年同期累计",
        "上年累计",
        "lastyear",
        "previousyear",
        "prioryear",
        "sameperiodlastyear",
    ];
    const CUM: [&str; 8] = [
        "本年累计",
        "累计",
        "本年",
        "1本月",
        "yeartodate",
        "ytd",
        "cumulative",
        "1至本月",
    ];
    if MONTH.contains(&n.as_str()) {
        return Some(Figure::Month);
    }
    if PREV.contains(&n.as_str()) || n.starts_with("上年") || n.starts_with("去年") {
        return Some(Figure::PreviousYear);
    }
    if CUM.contains(&n.as_str()) {
        return Some(Figure::Cumulative);
    }
    None
}

/// `1-9月`, `1至9月`, `1—12月`, `1~9月`: the months of the year to date.
fn is_months_range(n: &str) -> bool {
    let t: String = n.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(body) = t.strip_suffix('月') else {
        return false;
    };
    let Some(rest) = body.strip_prefix('1') else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(['-', '—', '–', '~', '～', '至', '到']) else {
        return false;
    };
    rest == "本" || (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
}

/// Marks written into the heading itself, not in brackets (`工业总产值本年累计`,
/// `1-本月工业总产值`, `gross_output_ytd`, `上年同期累计工业总产值`): stripped one by
/// one, with the figure they mean (last year's over cumulative over the month's).
fn strip_inline_mark(key: &str) -> Option<(String, Figure)> {
    const AFFIXES: [(&str, Figure); 24] = [
        ("本年累计", Figure::Cumulative),
        ("1-本月", Figure::Cumulative),
        ("1至本月", Figure::Cumulative),
        ("累计", Figure::Cumulative),
        ("上年同期", Figure::PreviousYear),
        ("去年同期", Figure::PreviousYear),
        ("上年同月", Figure::PreviousYear),
        ("上年", Figure::PreviousYear),
        ("当月", Figure::Month),
        ("本月", Figure::Month),
        ("year_to_date", Figure::Cumulative),
        ("ytd", Figure::Cumulative),
        ("cumulative", Figure::Cumulative),
        ("cum", Figure::Cumulative),
        ("last_year", Figure::PreviousYear),
        ("prev_year", Figure::PreviousYear),
        ("previous_year", Figure::PreviousYear),
        ("prior_year", Figure::PreviousYear),
        ("py", Figure::PreviousYear),
        ("this_month", Figure::Month),
        ("current_month", Figure::Month),
        ("month", Figure::Month),
        ("mtd", Figure::Month),
        ("当期", Figure::Month),
    ];
    const SEPARATORS: [char; 5] = ['_', '-', '—', '·', '.'];
    let mut rest = key.to_string();
    let mut figure: Option<Figure> = None;
    let merge = |a: Option<Figure>, b: Figure| match (a, b) {
        (Some(Figure::PreviousYear), _) | (_, Figure::PreviousYear) => Figure::PreviousYear,
        (Some(Figure::Cumulative), _) | (_, Figure::Cumulative) => Figure::Cumulative,
        _ => Figure::Month,
    };
    for _ in 0..3 {
        let mut stripped = false;
        for (a, fig) in AFFIXES {
            // English marks only as a separate word (`gross_output_ytd`, `ytd_gross_output`).
            let ascii = a.is_ascii();
            let cut = rest
                .strip_suffix(a)
                .filter(|r| !ascii || r.ends_with(SEPARATORS))
                .or_else(|| {
                    rest.strip_prefix(a)
                        .filter(|r| !ascii || r.starts_with(SEPARATORS))
                });
            if let Some(r) = cut {
                let r = r.trim_matches(SEPARATORS);
                if !r.is_empty() {
                    rest = r.to_string();
                    figure = Some(merge(figure, fig));
                    stripped = true;
                    break;
                }
            }
        }
        // `1-9月工业总产值`
        if !stripped {
            let chars: Vec<char> = rest.chars().collect();
            if let Some(end) = chars.iter().position(|&c| c == '月') {
                let head: String = chars[..=end].iter().collect();
                if is_months_range(&head) && end + 1 < chars.len() {
                    rest = chars[end + 1..]
                        .iter()
                        .collect::<String>()
                        .trim_matches(SEPARATORS)
                        .to_string();
                    figure = Some(merge(figure, Figure::Cumulative));
                    stripped = true;
                }
            }
        }
        if !stripped {
            break;
        }
    }
    figure.map(|f| (rest, f))
}

/// The bracketed parts and the part after a colon: where units and marks are written.
fn notes(heading: &str) -> Vec<String> {
    let hw = half_width(trim(heading)).into_owned();
    let (main, after_colon) = match hw.split_once([':', '：']) {
        Some((a, b)) => (a.to_string(), Some(b.to_string())),
        None => (hw.clone(), None),
    };
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in main.chars() {
        match c {
            '(' | '[' | '【' | '〔' => {
                if depth == 0 {
                    cur.clear();
                } else {
                    cur.push(c);
                }
                depth += 1;
            }
            ')' | ']' | '】' | '〕' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    // `(10k yuan)` is one unit; `(当月,万元)` or `(当月 万元)` are two notes.
                    let whole =
                        matches!(parse_unit(&cur), Ok(Some(_))) || figure_mark(&cur).is_some();
                    if whole {
                        out.push(cur.trim().to_string());
                    } else {
                        for part in cur.split([',', '，', ';', '；', '/', '、', ' ']) {
                            if !part.trim().is_empty() {
                                out.push(part.trim().to_string());
                            }
                        }
                    }
                } else {
                    cur.push(c);
                }
            }
            c if depth > 0 => cur.push(c),
            _ => {}
        }
    }
    if let Some(a) = after_colon {
        if !a.trim().is_empty() {
            out.push(a.trim().to_string());
        }
    }
    out
}

/// Whether a cell of a second header row holds only a mark of the figure (`当月`,
/// `本年累计`) or a unit (`万元`): the sub-headings of a two-row header.
pub fn is_sub_heading(text: &str) -> bool {
    let t = trim(text);
    if t.is_empty() {
        return false;
    }
    let inner = t
        .trim_start_matches(['(', '（', '['])
        .trim_end_matches([')', '）', ']']);
    figure_mark(inner).is_some() || matches!(parse_unit(inner), Ok(Some(_)))
}

/// A two-row header (`工业总产值` merged over `当月 | 本年累计`, as platform exports
/// write it): the headings combined (`工业总产值(当月)`, `工业总产值(本年累计)`), when
/// every filled cell of the second row is a sub-heading. An empty cell of the first
/// row takes the heading on its left (the rest of a merged cell).
pub fn combine_two_row_header(top: &[String], sub: &[String]) -> Option<Vec<String>> {
    let filled: Vec<&String> = sub.iter().filter(|s| !trim(s).is_empty()).collect();
    if filled.is_empty() || !filled.iter().all(|s| is_sub_heading(s)) {
        return None;
    }
    let n = top.len().max(sub.len());
    let mut out = Vec::with_capacity(n);
    let mut last = String::new();
    for j in 0..n {
        let t = top.get(j).map(|s| trim(s).to_string()).unwrap_or_default();
        let u = sub.get(j).map(|s| trim(s).to_string()).unwrap_or_default();
        if !t.is_empty() {
            last = t.clone();
        }
        let base = if t.is_empty() { last.clone() } else { t };
        out.push(if u.is_empty() {
            base
        } else {
            format!("{base}({u})")
        });
    }
    Some(out)
}

/// A heading read: the column it names, which figure it holds, and its unit.
#[derive(Clone, Debug)]
pub struct Heading {
    /// The contract column.
    pub column: &'static ColumnSpec,
    /// Which figure of the variable.
    pub figure: Figure,
    /// The unit written in the heading, if any.
    pub unit: Option<Unit>,
}

fn find_column(spec: &'static TableSpec, key: &str) -> Option<&'static ColumnSpec> {
    if key.is_empty() {
        return None;
    }
    spec.columns
        .iter()
        .find(|c| heading_key(c.name) == key || c.zh.iter().any(|z| heading_key(z) == key))
}

/// Reads a heading. `Ok(None)`: not a contract column. `Err`: a contract column
/// with a unit that is unknown or does not fit the column.
pub fn classify(spec: &'static TableSpec, heading: &str) -> Result<Option<Heading>, String> {
    let key_full = heading_key(heading);
    // The heading without the part after a colon (`应税销售额：元`).
    let key = match half_width(trim(heading)).split_once([':', '：']) {
        Some((a, _)) => heading_key(a),
        None => key_full,
    };
    // A unit written after the name without brackets (`工业总产值万元`).
    let (key, suffix_unit) = match find_column(spec, &key) {
        Some(_) => (key, None),
        None => match unit_suffix(&key) {
            Some((rest, u)) => (rest, Some(u)),
            None => (key, None),
        },
    };
    let (column, mut figure) = match find_column(spec, &key) {
        Some(c) => (c, Figure::Month),
        None => match strip_inline_mark(&key) {
            Some((rest, fig)) => match find_column(spec, &rest) {
                Some(c) => (c, fig),
                None => return Ok(None),
            },
            None => return Ok(None),
        },
    };
    if let Some(u) = &suffix_unit {
        if u.dimension != dimension(column) {
            return Ok(None);
        }
    }
    let mut unit = suffix_unit;
    for n in notes(heading) {
        if let Some(f) = figure_mark(&n) {
            if f != Figure::Month {
                figure = f;
            }
            continue;
        }
        match parse_unit(&n) {
            Ok(Some(u)) => {
                let dim = dimension(column);
                if u.dimension != dim {
                    return Err(format!(
                        "the heading '{}' gives the unit '{}', which does not fit the column {} ({})",
                        trim(heading),
                        u.text,
                        column.name,
                        unit_expected(dim)
                    ));
                }
                unit = Some(u);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(format!(
                    "the heading '{}': {e}; the known units are {}",
                    trim(heading),
                    unit_expected(dimension(column))
                ))
            }
        }
    }
    // 本年累计完成投资 is a year-to-date figure by definition: for that column the
    // cumulative figure is the one the contract asks for.
    if column.name == "ytd_completed" && figure == Figure::Cumulative {
        figure = Figure::Month;
    }
    Ok(Some(Heading {
        column,
        figure,
        unit,
    }))
}

/// A known unit at the end of a heading key (`工业总产值万元` → `工业总产值`, 万元).
fn unit_suffix(key: &str) -> Option<(String, Unit)> {
    const SUFFIXES: [&str; 7] = ["亿元", "百万元", "万元", "千元", "元", "万千瓦时", "千瓦时"];
    for suf in SUFFIXES {
        if let Some(rest) = key.strip_suffix(suf) {
            let rest = rest.trim_end_matches(['_', '-', '/', ':']);
            if rest.is_empty() {
                continue;
            }
            if let Ok(Some(u)) = parse_unit(suf) {
                return Some((rest.to_string(), u));
            }
        }
    }
    None
}

/// The units accepted for a dimension, for messages.
pub fn unit_expected(d: Dimension) -> &'static str {
    match d {
        Dimension::Money => "元, 千元, 万元, 百万元, 亿元 (converted to thousand yuan)",
        Dimension::Electricity => "千瓦时, 万千瓦时, 亿千瓦时 (converted to 10⁴ kWh)",
        Dimension::Energy => "吨标准煤, 万吨标准煤",
        Dimension::Persons => "人",
        Dimension::None => "none (the column takes no unit)",
    }
}

/// A unit row above the header (`单位：万元`, `计量单位：元`): the unit it states.
/// `Ok(None)` when the cell is not a unit row.
pub fn unit_row(cell: &str) -> Result<Option<Unit>, String> {
    let t: String = half_width(trim(cell))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // `(单位：万元)`, `【单位：万元】`
    let t = t
        .trim_start_matches(['(', '[', '【', '〔'])
        .trim_end_matches([')', ']', '】', '〕'])
        .to_string();
    let lower = t.to_lowercase();
    let rest = [
        "计量单位:",
        "计量单位：",
        "单位:",
        "单位：",
        "金额单位:",
        "金额单位：",
        "unit:",
        "units:",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p));
    match rest {
        Some(r) if !r.is_empty() => match parse_unit(r)? {
            Some(u) => Ok(Some(u)),
            None => Err(format!(
                "unknown unit '{r}' in the unit row '{}'",
                trim(cell)
            )),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Table;

    fn c(t: Table, h: &str) -> (String, Figure, Option<f64>) {
        let h = classify(t.spec(), h).unwrap().unwrap();
        (
            h.column.name.to_string(),
            h.figure,
            h.unit.map(|u| u.factor),
        )
    }

    #[test]
    fn units_and_figures_are_read_from_headings() {
        use Figure::*;
        let i = Table::Industrial;
        assert_eq!(c(i, "工业总产值"), ("gross_output".into(), Month, None));
        assert_eq!(
            c(i, "工业总产值(当月)(万元)"),
            ("gross_output".into(), Month, Some(10.0))
        );
        assert_eq!(
            c(i, "工业总产值（当月，千元）"),
            ("gross_output".into(), Month, Some(1.0))
        );
        assert_eq!(
            c(i, "工业总产值(本年累计)"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(i, "工业总产值本年累计"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(i, "1-本月工业总产值"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(i, "工业总产值(1-9月)"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(i, "1-9月工业总产值"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(i, "工业总产值(上年同期)"),
            ("gross_output".into(), PreviousYear, None)
        );
        assert_eq!(
            c(i, "gross_output (10k yuan)"),
            ("gross_output".into(), Month, Some(10.0))
        );
        assert_eq!(
            c(i, "gross_output_ytd"),
            ("gross_output".into(), Cumulative, None)
        );
        assert_eq!(
            c(Table::Tax, "应税销售额（元）"),
            ("taxable_sales".into(), Month, Some(0.001))
        );
        assert_eq!(
            c(Table::Tax, "应税销售额：元"),
            ("taxable_sales".into(), Month, Some(0.001))
        );
        assert_eq!(
            c(Table::Tax, "应税销售额(亿元)"),
            ("taxable_sales".into(), Month, Some(100_000.0))
        );
        assert_eq!(
            c(Table::Investment, "本年累计完成投资(万元)"),
            ("ytd_completed".into(), Month, Some(10.0))
        );
        assert_eq!(
            c(Table::Energy, "电力消费量(千瓦时)"),
            ("electricity".into(), Month, Some(0.0001))
        );
        assert_eq!(
            c(Table::Labor, "从业人员期末人数(人)"),
            ("employees".into(), Month, Some(1.0))
        );
        assert!(classify(Table::Tax.spec(), "备注").unwrap().is_none());
    }

    #[test]
    fn unknown_or_misplaced_units_are_errors() {
        assert!(classify(Table::Tax.spec(), "应税销售额(美元)").is_err());
        assert!(classify(Table::Tax.spec(), "应税销售额(十万元)").is_err());
        assert!(classify(Table::Energy.spec(), "电力消费量(万元)").is_err());
    }

    #[test]
    fn two_row_headers_are_combined() {
        let top: Vec<String> = ["uscc", "period", "工业总产值", "", "工业销售产值", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let sub: Vec<String> = ["", "", "本年累计", "当月", "当月", "本年累计"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let h = combine_two_row_header(&top, &sub).unwrap();
        assert_eq!(h[2], "工业总产值(本年累计)");
        assert_eq!(h[3], "工业总产值(当月)");
        assert_eq!(h[5], "工业销售产值(本年累计)");
        let data: Vec<String> = ["91110000600037341L", "2026-09", "1", "2", "3", "4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(combine_two_row_header(&top, &data).is_none());
    }

    #[test]
    fn more_heading_forms() {
        use Figure::*;
        let i = Table::Industrial;
        for (h, want) in [
            ("ytd_gross_output", (Cumulative, None)),
            ("工业总产值_本年累计", (Cumulative, None)),
            ("上年同期累计工业总产值", (PreviousYear, None)),
            ("工业总产值上年同期累计", (PreviousYear, None)),
            ("工业总产值(人民币万元)", (Month, Some(10.0))),
            ("工业总产值万元", (Month, Some(10.0))),
            ("工业总产值(本年累计)万元", (Cumulative, Some(10.0))),
            ("gross_output (YTD)", (Cumulative, None)),
        ] {
            let (name, fig, unit) = c(i, h);
            assert_eq!((name.as_str(), (fig, unit)), ("gross_output", want), "{h}");
        }
        assert_eq!(unit_row("（单位：元）").unwrap().unwrap().factor, 0.001);
    }

    #[test]
    fn unit_rows() {
        assert_eq!(unit_row("单位：万元").unwrap().unwrap().factor, 10.0);
        assert_eq!(unit_row("计量单位: 元").unwrap().unwrap().factor, 0.001);
        assert!(unit_row("单位：美元").is_err());
        assert!(unit_row("2026年9月工业产销总值").unwrap().is_none());
    }
}
