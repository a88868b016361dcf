//! `scorecard.html`: one self-contained page (no network, no script) with the
//! scorecard table, charts as inline SVG, a per-county summary of the query list and
//! the run's parameters; Chinese first, English beside; laid out for A4 printing.
//! The page is rendered by a `minijinja` template (`templates/scorecard.html.j2`);
//! this module only computes the chart geometry.

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Month;
use crate::report::scorecard::Scorecard;

const TEMPLATE: &str = include_str!("../../templates/scorecard.html.j2");

fn pe(e: PolarsError) -> Error {
    Error::polars("report", e)
}

#[derive(Serialize)]
struct Tick {
    x: f64,
    y: f64,
    label: String,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    text: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    fill: &'static str,
}

#[derive(Serialize)]
struct RefLine {
    x: f64,
    label: String,
}

#[derive(Serialize)]
struct HBars {
    title: String,
    width: f64,
    height: f64,
    top: f64,
    bottom: f64,
    label_right: f64,
    font: f64,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
    #[serde(rename = "ref")]
    reference: Option<RefLine>,
}

/// A round axis end and tick step for data up to `max` (1, 2, 2.5 or 5 times a
/// power of ten, at most five ticks).
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|st| max / st <= 5.0)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// A horizontal bar chart: one bar per (label, value, text, fill), scaled to `max`.
fn hbars(
    title: &str,
    rows: Vec<(String, f64, String, &'static str)>,
    max: f64,
    reference: Option<(f64, String)>,
    tick_fmt: fn(f64) -> String,
) -> HBars {
    let width = 720.0;
    let label_right = 110.0;
    let left = 116.0;
    let right = width - 60.0;
    let bar_h = if rows.len() > 40 { 9.0 } else { 14.0 };
    let gap = if rows.len() > 40 { 2.0 } else { 4.0 };
    let top = 16.0;
    let (max, step) = nice_axis(max);
    let scale = |v: f64| left + (right - left) * (v.max(0.0) / max).min(1.0);
    let bars: Vec<Bar> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, v, text, fill))| Bar {
            label,
            text,
            x: left,
            y: top + i as f64 * (bar_h + gap),
            w: (scale(v) - left).max(0.5),
            h: bar_h,
            fill,
        })
        .collect();
    let bottom = top + bars.len() as f64 * (bar_h + gap);
    let n_ticks = (max / step).round() as usize;
    let ticks = (0..=n_ticks)
        .map(|k| {
            let v = step * k as f64;
            Tick {
                x: scale(v),
                y: 0.0,
                label: tick_fmt(v),
            }
        })
        .collect();
    HBars {
        title: title.to_string(),
        width,
        height: bottom + 20.0,
        top,
        bottom,
        label_right,
        font: if bar_h < 12.0 { 8.0 } else { 10.0 },
        bars,
        ticks,
        reference: reference.map(|(v, label)| RefLine { x: scale(v), label }),
    }
}

#[derive(Serialize)]
struct Segment {
    name: &'static str,
    y: f64,
    h: f64,
    fill: &'static str,
    text: String,
}

#[derive(Serialize)]
struct MonthColumn {
    label: String,
    x: f64,
    w: f64,
    top: f64,
    risk_text: String,
    segments: Vec<Segment>,
}

#[derive(Serialize)]
struct MonthChart {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    bottom: f64,
    ticks: Vec<Tick>,
    columns: Vec<MonthColumn>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Shares of red and yellow grades per month of the year, from the grade
/// histories (one letter per month from January: `R`, `Y`, `G`).
fn month_chart(histories: &[String], period: Month) -> MonthChart {
    let months = period.month() as usize;
    let (width, left, right, top, bottom) = (720.0, 48.0, 700.0, 24.0, 200.0);
    let slot = (right - left) / months.max(1) as f64;
    let shares: Vec<Option<(f64, f64)>> = (0..months)
        .map(|m| {
            let (mut r, mut y, mut n) = (0usize, 0usize, 0usize);
            for h in histories {
                match h.as_bytes().get(m) {
                    Some(b'R') => r += 1,
                    Some(b'Y') => y += 1,
                    Some(b'G') => {}
                    _ => continue,
                }
                n += 1;
            }
            (n > 0).then(|| (r as f64 / n as f64, y as f64 / n as f64))
        })
        .collect();
    let peak = shares
        .iter()
        .flatten()
        .map(|(r, y)| r + y)
        .fold(0.0, f64::max);
    let (axis, step) = nice_axis(peak.max(0.01));
    let h_of = |share: f64| (bottom - top) * share / axis;
    let mut columns = Vec::new();
    for (m, sh) in shares.iter().enumerate() {
        let x = left + m as f64 * slot + slot * 0.2;
        let w = slot * 0.6;
        let (sr, sy) = sh.unwrap_or((0.0, 0.0));
        let mut segments = Vec::new();
        let mut ybase = bottom;
        for (name, share, fill) in [("红 red", sr, "#c0392b"), ("黄 yellow", sy, "#f1c40f")] {
            let h = h_of(share);
            ybase -= h;
            segments.push(Segment {
                name,
                y: ybase,
                h,
                fill,
                text: pct(share),
            });
        }
        columns.push(MonthColumn {
            label: format!("{}月", m + 1),
            x,
            w,
            top: ybase,
            risk_text: if sh.is_some() {
                pct(sr + sy)
            } else {
                "—".to_string()
            },
            segments,
        });
    }
    let n_ticks = (axis / step).round() as usize;
    let ticks = (0..=n_ticks)
        .map(|k| {
            let v = step * k as f64;
            Tick {
                x: 0.0,
                y: bottom - h_of(v),
                label: pct(v),
            }
        })
        .collect();
    MonthChart {
        width,
        height: bottom + 20.0,
        left,
        right,
        bottom,
        ticks,
        columns,
    }
}

#[derive(Serialize)]
struct CountyRow {
    rank: u32,
    code: String,
    score: String,
    enterprises: u32,
    received: u32,
    late: u32,
    tax: String,
    flag: bool,
    hard: String,
    soft: String,
    red: u32,
    yellow: u32,
    green: u32,
    risk: String,
    change: String,
    confirmed: String,
    benford: String,
    /// Lines of the stopping rule ("12", or "12+" when the county's lines do
    /// not reach the target).
    stop: String,
    bottom: bool,
}

#[derive(Serialize)]
struct FamilyRow {
    code: String,
    labor: String,
    energy: String,
    key: String,
    services: String,
}

#[derive(Serialize)]
struct QLine {
    rank: u32,
    name: String,
    grade: &'static str,
    score: String,
    rules: String,
    verifier: &'static str,
}

#[derive(Serialize)]
struct CountyQueries {
    county: String,
    total: usize,
    lines: Vec<QLine>,
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(pct).unwrap_or_else(|| "—".to_string())
}

/// Everything the page shows.
pub struct PageInput<'a> {
    /// Scorecard (report stage schema).
    pub scorecard: &'a DataFrame,
    /// Query list (rank stage schema).
    pub query_list: &'a DataFrame,
    /// Grade histories (`grade_history` of every enterprise).
    pub histories: Vec<String>,
    /// Period under review.
    pub period: Month,
    /// The pipeline's name.
    pub pipeline_name: &'a str,
    /// The run's parameters, one line each (`Pipeline::describe`).
    pub pipeline_params: Vec<String>,
    /// The `[scorecard]` settings.
    pub settings: &'a Scorecard,
    /// Seed.
    pub seed: u64,
}

/// A column of `df` as strings.
fn strs(df: &DataFrame, c: &str) -> Result<StringChunked> {
    let col = df
        .column(c)
        .map_err(pe)?
        .cast(&DataType::String)
        .map_err(pe)?;
    Ok(col.str().map_err(pe)?.clone())
}

/// A column of `df` as floats.
fn floats(df: &DataFrame, c: &str) -> Result<Float64Chunked> {
    let col = df
        .column(c)
        .map_err(pe)?
        .cast(&DataType::Float64)
        .map_err(pe)?;
    Ok(col.f64().map_err(pe)?.clone())
}

/// A column of `df` as counts.
fn counts(df: &DataFrame, c: &str) -> Result<UInt32Chunked> {
    let col = df
        .column(c)
        .map_err(pe)?
        .cast(&DataType::UInt32)
        .map_err(pe)?;
    Ok(col.u32().map_err(pe)?.clone())
}

/// A boolean column of `df`.
fn flags(df: &DataFrame, c: &str) -> Result<BooleanChunked> {
    Ok(df.column(c).map_err(pe)?.bool().map_err(pe)?.clone())
}

/// The Benford cell: mean absolute deviation and Nigrini's band in Chinese.
fn benford_cell(mad: Option<f64>, band: Option<&str>) -> String {
    match (mad, band) {
        (Some(m), Some(b)) => format!(
            "{m:.4} {}",
            match b {
                "close" => "高度符合",
                "acceptable" => "可接受",
                "marginal" => "勉强",
                _ => "不符合",
            }
        ),
        _ => "—".into(),
    }
}

/// One row of the county table per scorecard row, in the scorecard's order.
fn county_rows(sc: &DataFrame) -> Result<Vec<CountyRow>> {
    let code = strs(sc, "county_code")?;
    let (rank, score, ents, recv, late) = (
        counts(sc, "rank")?,
        floats(sc, "quality_score")?,
        counts(sc, "enterprises")?,
        counts(sc, "received")?,
        counts(sc, "late")?,
    );
    let (tax, flag, hard, soft) = (
        floats(sc, "tax_output_ratio")?,
        flags(sc, "tax_flag")?,
        floats(sc, "hard_rate")?,
        floats(sc, "soft_rate")?,
    );
    let (red, yellow, green, risk, change) = (
        counts(sc, "red")?,
        counts(sc, "yellow")?,
        counts(sc, "green")?,
        floats(sc, "risk_share")?,
        floats(sc, "risk_share_change")?,
    );
    let (conf, bmad, bband, bottom) = (
        floats(sc, "confirmed_error_rate")?,
        floats(sc, "benford_mad")?,
        strs(sc, "benford_band")?,
        flags(sc, "bottom3")?,
    );
    // The stopping rule (absent from a scorecard built without it).
    let stop_lines = sc
        .column("lines_to_stop")
        .ok()
        .and_then(|c| c.cast(&DataType::UInt32).ok())
        .and_then(|c| c.u32().ok().cloned());
    let stop_reached = sc
        .column("stop_reached")
        .ok()
        .and_then(|c| c.bool().ok().cloned());
    let stop = |i: usize| match stop_lines.as_ref().and_then(|s| s.get(i)) {
        Some(n) => {
            let reached = stop_reached.as_ref().and_then(|r| r.get(i)).unwrap_or(true);
            format!("{n}{}", if reached { "" } else { "+" })
        }
        None => "—".into(),
    };
    Ok((0..sc.height())
        .map(|i| CountyRow {
            rank: rank.get(i).unwrap_or(0),
            code: code.get(i).unwrap_or("").to_string(),
            score: format!("{:.1}", score.get(i).unwrap_or(0.0)),
            enterprises: ents.get(i).unwrap_or(0),
            received: recv.get(i).unwrap_or(0),
            late: late.get(i).unwrap_or(0),
            tax: opt_pct(tax.get(i)),
            flag: flag.get(i).unwrap_or(false),
            hard: opt_pct(hard.get(i)),
            soft: opt_pct(soft.get(i)),
            red: red.get(i).unwrap_or(0),
            yellow: yellow.get(i).unwrap_or(0),
            green: green.get(i).unwrap_or(0),
            risk: opt_pct(risk.get(i)),
            change: change
                .get(i)
                .map(|c| format!("{:+.1}", c * 100.0))
                .unwrap_or_else(|| "—".into()),
            confirmed: opt_pct(conf.get(i)),
            benford: benford_cell(bmad.get(i), bband.get(i)),
            stop: stop(i),
            bottom: bottom.get(i).unwrap_or(false),
        })
        .collect())
}

/// A bar of a chart: label, value, text and fill.
type BarRow = (String, f64, String, &'static str);

/// Many counties: a chart keeps the 40 best and the 40 worst.
fn trim(mut rows: Vec<BarRow>) -> Vec<BarRow> {
    if rows.len() > 80 {
        let tail = rows.split_off(rows.len() - 40);
        rows.truncate(40);
        rows.push(("…".to_string(), 0.0, String::new(), "#ffffff"));
        rows.extend(tail);
    }
    rows
}

/// The three charts: quality score in scorecard order (the bottom counties in red),
/// tax-to-output ratio from the lowest (below `min_ratio` in red) and investment
/// volatility from the highest.
fn charts(sc: &DataFrame, min_ratio: f64) -> Result<[HBars; 3]> {
    let code = strs(sc, "county_code")?;
    let (score, tax, vol, bottom) = (
        floats(sc, "quality_score")?,
        floats(sc, "tax_output_ratio")?,
        floats(sc, "investment_volatility")?,
        flags(sc, "bottom3")?,
    );
    let mut rank_rows = Vec::new();
    let mut tax_rows = Vec::new();
    let mut vol_rows = Vec::new();
    for i in 0..sc.height() {
        let c = code.get(i).unwrap_or("").to_string();
        let s = score.get(i).unwrap_or(0.0);
        let fill = if bottom.get(i).unwrap_or(false) {
            "#c0392b"
        } else {
            "#2f5597"
        };
        rank_rows.push((c.clone(), s, format!("{s:.1}"), fill));
        if let Some(t) = tax.get(i) {
            let fill = if t < min_ratio { "#c0392b" } else { "#2f5597" };
            tax_rows.push((c.clone(), t, pct(t), fill));
        }
        if let Some(v) = vol.get(i) {
            vol_rows.push((c, v, format!("{v:.2}"), "#7f8c8d"));
        }
    }
    let ranking = hbars("quality score", trim(rank_rows), 100.0, None, |v| {
        format!("{v:.0}")
    });
    tax_rows.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let tax_max = tax_rows
        .iter()
        .map(|r| r.1)
        .fold(min_ratio * 1.25, f64::max)
        .min(3.0);
    let tax = hbars(
        "tax ratio",
        trim(tax_rows),
        tax_max,
        Some((min_ratio, format!("{:.0}%", min_ratio * 100.0))),
        |v| format!("{:.0}%", v * 100.0),
    );
    vol_rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let vol_max = vol_rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let volatility = hbars("volatility", trim(vol_rows), vol_max, None, |v| {
        format!("{v:.2}")
    });
    Ok([ranking, tax, volatility])
}

/// The other report families' findings by county, and which of labour, energy and
/// services are present in the batch (a family absent has only nulls).
fn family_rows(sc: &DataFrame) -> Result<(Vec<FamilyRow>, [bool; 3])> {
    let code = strs(sc, "county_code")?;
    let (lab, ene, key, svc) = (
        counts(sc, "labor_findings")?,
        counts(sc, "energy_findings")?,
        counts(sc, "key_energy_consumers")?,
        counts(sc, "services_findings")?,
    );
    let present = |ca: &UInt32Chunked| ca.null_count() < ca.len();
    let show = |ca: &UInt32Chunked, i: usize| {
        ca.get(i)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "—".into())
    };
    let rows = (0..sc.height())
        .map(|i| FamilyRow {
            code: code.get(i).unwrap_or("").to_string(),
            labor: show(&lab, i),
            energy: show(&ene, i),
            key: show(&key, i),
            services: show(&svc, i),
        })
        .collect();
    Ok((rows, [present(&lab), present(&ene), present(&svc)]))
}

/// The query list by county (every county of the scorecard, in code order): its
/// number of lines and its first five.
fn queries_by_county(ql: &DataFrame, counties: &[CountyRow]) -> Result<Vec<CountyQueries>> {
    let (q_county, q_rank, q_name, q_grade) = (
        strs(ql, "county_code")?,
        counts(ql, "rank")?,
        strs(ql, "name")?,
        strs(ql, "grade")?,
    );
    let (q_score, q_rules, q_ver) = (
        floats(ql, "score")?,
        strs(ql, "rule_codes")?,
        strs(ql, "verifier")?,
    );
    let mut queries: Vec<CountyQueries> = counties
        .iter()
        .map(|c| CountyQueries {
            county: c.code.clone(),
            total: 0,
            lines: Vec::new(),
        })
        .collect();
    queries.sort_by(|a, b| a.county.cmp(&b.county));
    for i in 0..ql.height() {
        let c = q_county.get(i).unwrap_or("");
        let Ok(k) = queries.binary_search_by(|q| q.county.as_str().cmp(c)) else {
            continue;
        };
        let q = &mut queries[k];
        q.total += 1;
        if q.lines.len() < 5 {
            q.lines.push(QLine {
                rank: q_rank.get(i).unwrap_or(0),
                name: q_name.get(i).unwrap_or("").to_string(),
                grade: match q_grade.get(i) {
                    Some("red") => "红",
                    Some("yellow") => "黄",
                    _ => "绿",
                },
                score: format!("{:.1}", q_score.get(i).unwrap_or(0.0)),
                rules: q_rules.get(i).unwrap_or("").replace(';', " "),
                verifier: if q_ver.get(i) == Some("city") {
                    "市级"
                } else {
                    "区县"
                },
            });
        }
    }
    Ok(queries)
}

fn template_error(e: minijinja::Error) -> Error {
    Error::Internal {
        stage: "report",
        message: format!("rendering the scorecard page: {e}"),
    }
}

/// Renders the page.
pub fn render(input: &PageInput<'_>) -> Result<String> {
    let sc = input.scorecard;
    let ql = input.query_list;
    let min_ratio = input.settings.min_tax_output_ratio;
    let counties = county_rows(sc)?;
    let [ranking, tax, volatility] = charts(sc, min_ratio)?;
    let (families, present) = family_rows(sc)?;
    let queries = queries_by_county(ql, &counties)?;
    let codes_where = |keep: fn(&CountyRow) -> bool| -> Vec<String> {
        counties
            .iter()
            .filter(|c| keep(c))
            .map(|c| c.code.clone())
            .collect()
    };
    let verifier = strs(ql, "verifier")?;
    let query_city = (0..ql.height())
        .filter(|&i| verifier.get(i) == Some("city"))
        .count();
    let query_sampled = flags(ql, "sampled")?.sum().unwrap_or(0);
    let total = |grade: fn(&CountyRow) -> u32| counties.iter().map(grade).sum::<u32>();

    let mut env = minijinja::Environment::new();
    env.add_template("scorecard.html", TEMPLATE)
        .map_err(template_error)?;
    let tmpl = env.get_template("scorecard.html").map_err(template_error)?;
    tmpl.render(minijinja::context! {
        period => input.period.to_string(),
        first_month => input.period.year_start().to_string(),
        pipeline => input.pipeline_name,
        seed => input.seed,
        enterprises => counties.iter().map(|c| c.enterprises as u64).sum::<u64>(),
        bottom => codes_where(|c| c.bottom),
        flagged => codes_where(|c| c.flag),
        min_ratio_pct => format!("{:.0}%", min_ratio * 100.0),
        query_lines => ql.height(),
        query_city => query_city,
        query_sampled => query_sampled,
        red => total(|c| c.red),
        yellow => total(|c| c.yellow),
        green => total(|c| c.green),
        counties => counties,
        ranking => ranking,
        tax => tax,
        volatility => volatility,
        months => month_chart(&input.histories, input.period),
        queries => queries,
        families => families,
        has_labor => present[0],
        has_energy => present[1],
        has_services => present[2],
        params => input.pipeline_params.clone(),
    })
    .map_err(template_error)
}
