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
    /// Another figure of the variable: last month's, a growth rate, a share (上月,
    /// 增速(%), 比重).
    Other,
}

impl Figure {
    /// How a message names the figure.
    pub fn describe(self) -> &'static str {
        match self {
            Figure::Month => "the month's value (当月)",
            Figure::Cumulative => "a year-to-date (本年累计) column",
            Figure::PreviousYear => "last year's (上年同期) column",
            Figure::Other => "a column of another figure (last month's, a growth rate or a share)",
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

/// Whether a column is a flow over the reporting month (whose year-to-date total
/// is another figure).
pub fn is_flow(col: &ColumnSpec) -> bool {
    matches!(
        col.name,
        "gross_output"
            | "sales_output"
            | "export_delivery"
            | "taxable_sales"
            | "wage_total"
            | "energy_consumption"
            | "electricity"
            | "revenue"
    )
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
    let looks_like_unit = ["万", "千", "亿", "百万", "十万", "百", "万亿"].contains(&n.as_str())
        || n.ends_with('元')
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

/// Which figure a note of a heading (or a sub-heading, or a sheet name) says its
/// values are, if it says: anything that mentions a cumulation, a range of months,
/// last year, last month or a rate is not the month's value; only a bare month mark
/// (`当月`, `本月`, `month`) is.
pub fn figure_mark(note: &str) -> Option<Figure> {
    let n: String = half_width(trim(note))
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    if n.is_empty() {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    if has(&[
        "上年",
        "去年",
        "lastyear",
        "previousyear",
        "prioryear",
        "同期",
    ]) {
        return Some(Figure::PreviousYear);
    }
    if has(&[
        "累计",
        "ytd",
        "yeartodate",
        "year-to-date",
        "cumulative",
        "自年初",
        "年初至",
        "1-本月",
        "1—本月",
        "1至本月",
        "1~本月",
    ]) || contains_months_range(&n)
    {
        return Some(Figure::Cumulative);
    }
    if has(&[
        "上月",
        "上期",
        "前期",
        "previousperiod",
        "lastmonth",
        "previousmonth",
        "%",
        "％",
        "增长",
        "增速",
        "增幅",
        "增减",
        "比重",
        "占比",
        "growth",
        "change",
        "share",
        "ratio",
        "同比",
        "环比",
    ]) {
        return Some(Figure::Other);
    }
    const MONTH: [&str; 9] = [
        "当月",
        "本月",
        "当期",
        "本期",
        "月度",
        "month",
        "thismonth",
        "currentmonth",
        "monthly",
    ];
    if MONTH.contains(&n.as_str()) || is_single_month(&n) {
        return Some(Figure::Month);
    }
    if n == "本年" {
        return Some(Figure::Cumulative);
    }
    None
}

/// `9月`, `2026年9月`, `2026-09`: one month, which is the month's value.
fn is_single_month(n: &str) -> bool {
    let body = n.strip_suffix('月').unwrap_or(n);
    let body = match body.split_once('年') {
        Some((y, m)) if y.len() == 4 && y.chars().all(|c| c.is_ascii_digit()) => m,
        Some(_) => return false,
        None => body,
    };
    n.ends_with('月')
        && !body.is_empty()
        && body.len() <= 2
        && body.chars().all(|c| c.is_ascii_digit())
}

/// A range of months anywhere in the text: `1-9月`, `1月-9月`, `1至9月`, `2026年1-9月`,
/// `jan-sep`, `january to september`.
fn contains_months_range(n: &str) -> bool {
    let chars: Vec<char> = n.chars().collect();
    let is_sep = |c: char| matches!(c, '-' | '—' | '–' | '~' | '～' | '至' | '到');
    for i in 0..chars.len() {
        if !is_sep(chars[i]) {
            continue;
        }
        // A number (optionally followed by 月) before, a number or 本 and then 月 after.
        let mut j = i;
        if j > 0 && chars[j - 1] == '月' {
            j -= 1;
        }
        let before = j > 0 && chars[j - 1].is_ascii_digit();
        let mut k = i + 1;
        let mut digits = 0;
        while k < chars.len() && chars[k].is_ascii_digit() {
            k += 1;
            digits += 1;
        }
        let after_num = digits > 0 && k < chars.len() && chars[k] == '月';
        let after_ben = k < chars.len() && chars[k] == '本' && chars.get(k + 1) == Some(&'月');
        if before && (after_num || after_ben) {
            return true;
        }
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS.iter().any(|a| {
        MONTHS.iter().any(|b| {
            a != b
                && (n.contains(&format!("{a}-{b}"))
                    || n.contains(&format!("{a}to{b}"))
                    || (n.contains(a) && n.contains(b) && (n.contains('-') || n.contains("to"))))
        })
    })
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

/// A heading split: the text outside brackets, and its notes (the bracketed
/// parts). A colon outside brackets splits the outside text in two: both parts are
/// returned, the caller decides which names the column (`应税销售额：元`,
/// `其中：出口交货值`).
fn split_heading(heading: &str) -> (String, Option<String>, Vec<String>) {
    let hw = half_width(trim(heading)).into_owned();
    let mut outside = String::new();
    let mut notes = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in hw.chars() {
        match c {
            '(' | '[' | '【' | '〔' | '<' | '《' => {
                if depth > 0 {
                    cur.push(c);
                }
                depth += 1;
            }
            ')' | ']' | '】' | '〕' | '>' | '》' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    push_note_pieces(&cur, &mut notes);
                    cur.clear();
                } else {
                    cur.push(c);
                }
            }
            c if depth > 0 => cur.push(c),
            c => outside.push(c),
        }
    }
    if depth > 0 && !cur.is_empty() {
        push_note_pieces(&cur, &mut notes);
    }
    match outside.split_once([':', '：']) {
        Some((a, b)) => (a.to_string(), Some(b.to_string()), notes),
        None => (outside, None, notes),
    }
}

/// `(10k yuan)` and `(单位：元)` are one note; `(当月,万元)` and `(当月 万元)` two.
fn push_note_pieces(text: &str, out: &mut Vec<String>) {
    let whole = |t: &str| matches!(parse_unit(t), Ok(Some(_))) || figure_mark(t).is_some();
    let t = text.trim();
    if t.is_empty() {
        return;
    }
    if whole(t) {
        out.push(t.to_string());
        return;
    }
    // Split on punctuation, but not on a thousands comma (`10,000 yuan`).
    let chars: Vec<char> = t.chars().collect();
    let mut pieces: Vec<String> = vec![String::new()];
    for (i, &c) in chars.iter().enumerate() {
        let digit = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_ascii_digit())
        };
        let thousands = c == ',' && digit(i.checked_sub(1)) && digit(Some(i + 1));
        if matches!(c, ',' | '，' | ';' | '；' | '/' | '、') && !thousands {
            pieces.push(String::new());
        } else if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
    }
    for piece in &pieces {
        let p = piece.trim();
        if p.is_empty() {
            continue;
        }
        if whole(p) {
            out.push(p.to_string());
        } else {
            for w in p.split_whitespace() {
                out.push(w.to_string());
            }
            // Also the piece as a whole, for the marks found inside it (`1-9月累计数`).
            if p.contains(char::is_whitespace) {
                out.push(p.to_string());
            }
        }
    }
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

/// Whether a cell looks like data rather than a heading: a number, a code, a month.
fn looks_like_data(text: &str) -> bool {
    let t = trim(text);
    if t.is_empty() {
        return false;
    }
    let compact: String = t.chars().filter(|c| *c != ',' && *c != ' ').collect();
    compact.parse::<f64>().is_ok()
        || (t.len() >= 15 && t.chars().all(|c| c.is_ascii_alphanumeric()))
        || crate::model::Month::parse_strict(t).is_ok()
}

/// What a row just below the header says, when it belongs to the header.
pub enum SubRow {
    /// Sub-headings (`当月 | 本年累计`, or units): the headings combined.
    Headings(Vec<String>),
    /// A unit row (`单位：万元`) below the header.
    Unit(Unit),
}

/// A row below the header that belongs to it (as platform exports write them):
/// sub-headings under merged headings (`工业总产值` over `当月 | 本年累计 | 增速(%)`),
/// combined into `工业总产值(当月)`…, or a unit row. `None` when the row is data: it
/// has no sub-heading, or a cell looks like data. An empty cell of the first row
/// takes the heading on its left (the rest of a merged cell).
pub fn sub_header_row(top: &[String], sub: &[String]) -> Result<Option<SubRow>, String> {
    let filled: Vec<&String> = sub.iter().filter(|s| !trim(s).is_empty()).collect();
    if filled.is_empty() || filled.iter().any(|s| looks_like_data(s)) {
        return Ok(None);
    }
    if filled.len() == 1 {
        if let Some(u) = unit_row(filled[0])? {
            return Ok(Some(SubRow::Unit(u)));
        }
    }
    if !filled.iter().any(|s| is_sub_heading(s)) {
        return Ok(None);
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
    Ok(Some(SubRow::Headings(out)))
}

/// The figure a title row above the header speaks of when it is the year to date
/// (`2026年1-9月工业产销总值`).
pub fn title_figure(cell: &str) -> Option<Figure> {
    if unit_row(cell).ok().flatten().is_some() && !cell.contains('月') {
        return None;
    }
    // Only a title of the year to date (`1-9月`, `累计`) says what unmarked columns
    // hold; a remark above the table about last year's figures does not.
    figure_mark(cell).filter(|f| *f == Figure::Cumulative)
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
    /// Whether the heading marks its values as the month's (`当月`, `本月`).
    pub says_month: bool,
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
    let (outside, after_colon, mut notes) = split_heading(heading);
    // `应税销售额：元` (a unit or mark after the colon) or `其中：出口交货值` (the name
    // after it).
    let key = match &after_colon {
        Some(b) if matches!(parse_unit(b), Ok(Some(_))) || figure_mark(b).is_some() => {
            notes.push(b.trim().to_string());
            heading_key(&outside)
        }
        Some(b) if find_column(spec, &heading_key(&outside)).is_none() => heading_key(b),
        _ => heading_key(&outside),
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
    // Whether the heading itself says it holds the month's value (当月, 本月, 9月).
    let mut says_month = figure == Figure::Month && strip_inline_mark(&key).is_some();
    for n in notes {
        if let Some(f) = figure_mark(&n) {
            if f == Figure::Month {
                says_month = true;
            } else {
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
    // Only a flow of the period (output, sales, VAT, revenue, wages, energy) has a
    // month's value distinct from its year to date. For the others — 本年累计完成投资
    // (year to date by definition), the annual R&D figures, planned totals, headcounts
    // at the period's end — a cumulative mark (`本年`, `累计`) is the figure the
    // contract asks for.
    if !is_flow(column) && figure == Figure::Cumulative {
        figure = Figure::Month;
    }
    Ok(Some(Heading {
        column,
        figure,
        unit,
        says_month: says_month && figure == Figure::Month,
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
    let lower = t.to_lowercase();
    // `单位：万元`, `（计量单位：元）`, or inside a title: `2026年9月工业产销总值（单位：万元）`.
    // `单位：` of a unit, not of `填报单位：` (the reporting office) or `统计单位：`:
    // what stands right before it is nothing, a bracket, a space, `计量` or `金额`.
    let start = ["单位:", "单位：", "unit:", "units:"]
        .iter()
        .flat_map(|p| lower.match_indices(p).map(move |(i, _)| (i, p.len())))
        .filter(|(i, _)| {
            let before = &lower[..*i];
            let last = before.chars().last();
            last.is_none()
                || last.is_some_and(|c| {
                    c.is_whitespace()
                        || matches!(
                            c,
                            '(' | '[' | '【' | '〔' | ',' | ';' | '，' | '；' | '、' | '）' | ')'
                        )
                })
                || ["计量", "金额", "货币", "价值量"]
                    .iter()
                    .any(|w| before.ends_with(w))
        })
        .map(|(i, n)| i + n)
        .min();
    let Some(start) = start else {
        return Ok(None);
    };
    // Up to the end of the unit: a bracket, a separator (`万元、人`), or a comma
    // that is not a thousands comma (`10,000 yuan`).
    let chars: Vec<char> = lower[start..].chars().collect();
    let mut rest = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let digit = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_ascii_digit())
        };
        let thousands = c == ',' && digit(i.checked_sub(1)) && digit(Some(i + 1));
        if !thousands
            && matches!(
                c,
                ')' | ']' | '】' | '〕' | ',' | '，' | ';' | '；' | '、' | '/'
            )
        {
            break;
        }
        rest.push(c);
    }
    if rest.is_empty() {
        return Ok(None);
    }
    match parse_unit(&rest)? {
        Some(u) => Ok(Some(u)),
        None => Err(format!("unknown unit '{rest}' in '{}'", trim(cell))),
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
        let Some(SubRow::Headings(h)) = sub_header_row(&top, &sub).unwrap() else {
            panic!("sub-headings expected")
        };
        assert_eq!(h[2], "工业总产值(本年累计)");
        assert_eq!(h[3], "工业总产值(当月)");
        assert_eq!(h[5], "工业销售产值(本年累计)");
        let data: Vec<String> = ["91110000600037341L", "2026-09", "1", "2", "3", "4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(sub_header_row(&top, &data).unwrap().is_none());
        let growth: Vec<String> = ["", "", "本年累计", "当月", "增速(%)", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(matches!(
            sub_header_row(&top, &growth),
            Ok(Some(SubRow::Headings(_)))
        ));
        let unit: Vec<String> = ["单位：万元", "", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(matches!(
            sub_header_row(&top, &unit),
            Ok(Some(SubRow::Unit(_)))
        ));
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
    fn headings_a_review_found_misread() {
        use Figure::*;
        let i = Table::Industrial;
        for (h, want) in [
            ("工业总产值（单位：元）", (Month, Some(0.001))),
            ("工业总产值(计量单位：万元)", (Month, Some(10.0))),
            ("gross_output (month, 10k yuan)", (Month, Some(10.0))),
            ("工业总产值(当月，10,000 yuan)", (Month, Some(10.0))),
            ("工业总产值(1-9月累计)", (Cumulative, None)),
            ("工业总产值(本年累计数)", (Cumulative, None)),
            ("工业总产值(1月-9月)", (Cumulative, None)),
            ("工业总产值(2026年1-9月)", (Cumulative, None)),
            ("工业总产值(自年初累计)", (Cumulative, None)),
            ("gross_output (Jan-Sep)", (Cumulative, None)),
            ("工业总产值(上月)", (Other, None)),
            ("工业总产值(比上年同期增长%)", (PreviousYear, None)),
            ("工业总产值(9月)", (Month, None)),
            ("工业总产值(2026年9月)", (Month, None)),
        ] {
            let h2 = classify(i.spec(), h)
                .unwrap()
                .unwrap_or_else(|| panic!("{h}"));
            assert_eq!(
                (h2.column.name, (h2.figure, h2.unit.map(|u| u.factor))),
                ("gross_output", want),
                "{h}"
            );
        }
        assert_eq!(c(i, "其中：出口交货值").0, "export_delivery");
        // Another variable altogether: not a contract column.
        assert!(classify(i.spec(), "工业总产值增速(%)").unwrap().is_none());
        assert!(classify(i.spec(), "工业总产值(万)").is_err());
        // Annual and stock figures: a cumulative mark is their own figure.
        assert_eq!(c(Table::Rd, "研究开发费用合计(本年)").1, Month);
        assert_eq!(c(Table::Rd, "研究开发费用合计(本年累计)").1, Month);
        assert_eq!(c(Table::Rd, "研究开发费用合计(上年)").1, PreviousYear);
        assert_eq!(c(Table::Investment, "计划总投资(累计)").1, Month);
        assert!(
            classify(i.spec(), "工业总产值(当月)")
                .unwrap()
                .unwrap()
                .says_month
        );
        assert!(
            !classify(i.spec(), "工业总产值")
                .unwrap()
                .unwrap()
                .says_month
        );
        assert_eq!(
            unit_row("2026年9月工业产销总值（单位：万元）")
                .unwrap()
                .unwrap()
                .factor,
            10.0
        );
        assert!(unit_row("单位详细名称").unwrap().is_none());
        assert_eq!(unit_row("单位：万元、人").unwrap().unwrap().factor, 10.0);
        assert_eq!(unit_row("Unit: 10,000 yuan").unwrap().unwrap().factor, 10.0);
        assert!(unit_row("填报单位：肥东县统计局").unwrap().is_none());
        assert_eq!(
            unit_row("填报单位：肥东县统计局    计量单位：万元")
                .unwrap()
                .unwrap()
                .factor,
            10.0
        );
        assert_eq!(c(Table::Industrial, "工业总产值(上期)").1, Figure::Other);
    }

    #[test]
    fn unit_rows() {
        assert_eq!(unit_row("单位：万元").unwrap().unwrap().factor, 10.0);
        assert_eq!(unit_row("计量单位: 元").unwrap().unwrap().factor, 0.001);
        assert!(unit_row("单位：美元").is_err());
        assert!(unit_row("2026年9月工业产销总值").unwrap().is_none());
    }
}
