//! `scorecard.html`: one self-contained page (no network, no script) with the
//! scorecard table, charts as inline SVG, a per-county summary of the query list and
//! the run's parameters; Chinese first, English beside; laid out for A4 printing.
//! The page is rendered by a `minijinja` template (`templates/scorecard.html.j2`);
//! this module only computes the chart geometry.

use polars::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Month;
use crate::pipeline::Pipeline;

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
    /// The pipeline.
    pub pipeline: &'a Pipeline,
    /// Seed.
    pub seed: u64,
}

/// Renders the page.
pub fn render(input: &PageInput<'_>) -> Result<String> {
    let sc = input.scorecard;
    let get_s = |c: &str| -> Result<StringChunked> {
        Ok(sc
            .column(c)
            .map_err(pe)?
            .cast(&DataType::String)
            .map_err(pe)?
            .str()
            .map_err(pe)?
            .clone())
    };
    let get_f = |c: &str| -> Result<Float64Chunked> {
        Ok(sc
            .column(c)
            .map_err(pe)?
            .cast(&DataType::Float64)
            .map_err(pe)?
            .f64()
            .map_err(pe)?
            .clone())
    };
    let get_u = |c: &str| -> Result<UInt32Chunked> {
        Ok(sc
            .column(c)
            .map_err(pe)?
            .cast(&DataType::UInt32)
            .map_err(pe)?
            .u32()
            .map_err(pe)?
            .clone())
    };
    let get_b = |c: &str| -> Result<BooleanChunked> {
        Ok(sc.column(c).map_err(pe)?.bool().map_err(pe)?.clone())
    };
    let code = get_s("county_code")?;
    let (rank, score, ents, recv, late) = (
        get_u("rank")?,
        get_f("quality_score")?,
        get_u("enterprises")?,
        get_u("received")?,
        get_u("late")?,
    );
    let (tax, flag, hard, soft) = (
        get_f("tax_output_ratio")?,
        get_b("tax_flag")?,
        get_f("hard_rate")?,
        get_f("soft_rate")?,
    );
    let (red, yellow, green, risk, change) = (
        get_u("red")?,
        get_u("yellow")?,
        get_u("green")?,
        get_f("risk_share")?,
        get_f("risk_share_change")?,
    );
    let (conf, bmad, bband, bottom, vol) = (
        get_f("confirmed_error_rate")?,
        get_f("benford_mad")?,
        get_s("benford_band")?,
        get_b("bottom3")?,
        get_f("investment_volatility")?,
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
    let min_ratio = input
        .pipeline
        .section("scorecard")
        .num("min_tax_output_ratio");
    // Sections of the other report families present in the batch.
    let (lab, ene, key, svc) = (
        get_u("labor_findings")?,
        get_u("energy_findings")?,
        get_u("key_energy_consumers")?,
        get_u("services_findings")?,
    );
    let present = |ca: &UInt32Chunked| ca.null_count() < ca.len();
    let families_present = [present(&lab), present(&ene), present(&svc)];
    let show = |ca: &UInt32Chunked, i: usize| {
        ca.get(i)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "—".into())
    };
    let family_rows: Vec<FamilyRow> = (0..sc.height())
        .map(|i| FamilyRow {
            code: code.get(i).unwrap_or("").to_string(),
            labor: show(&lab, i),
            energy: show(&ene, i),
            key: show(&key, i),
            services: show(&svc, i),
        })
        .collect();

    let n = sc.height();
    let mut counties = Vec::with_capacity(n);
    let mut rank_rows = Vec::new();
    let mut tax_rows = Vec::new();
    let mut vol_rows = Vec::new();
    let (mut tr, mut ty, mut tg) = (0u32, 0u32, 0u32);
    for i in 0..n {
        let c = code.get(i).unwrap_or("").to_string();
        let is_bottom = bottom.get(i).unwrap_or(false);
        let sc_v = score.get(i).unwrap_or(0.0);
        tr += red.get(i).unwrap_or(0);
        ty += yellow.get(i).unwrap_or(0);
        tg += green.get(i).unwrap_or(0);
        rank_rows.push((
            c.clone(),
            sc_v,
            format!("{sc_v:.1}"),
            if is_bottom { "#c0392b" } else { "#2f5597" },
        ));
        if let Some(t) = tax.get(i) {
            tax_rows.push((
                c.clone(),
                t,
                pct(t),
                if t < min_ratio { "#c0392b" } else { "#2f5597" },
            ));
        }
        if let Some(v) = vol.get(i) {
            vol_rows.push((c.clone(), v, format!("{v:.2}"), "#7f8c8d"));
        }
        counties.push(CountyRow {
            rank: rank.get(i).unwrap_or(0),
            code: c,
            score: format!("{sc_v:.1}"),
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
            benford: match (bmad.get(i), bband.get(i)) {
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
            },
            stop: match stop_lines.as_ref().and_then(|s| s.get(i)) {
                Some(n) => {
                    let reached = stop_reached.as_ref().and_then(|r| r.get(i)).unwrap_or(true);
                    format!("{n}{}", if reached { "" } else { "+" })
                }
                None => "—".into(),
            },
            bottom: is_bottom,
        });
    }
    // Many counties: the chart keeps the 40 best and the 40 worst.
    let trim = |mut rows: Vec<(String, f64, String, &'static str)>| {
        if rows.len() > 80 {
            let tail = rows.split_off(rows.len() - 40);
            rows.truncate(40);
            rows.push(("…".to_string(), 0.0, String::new(), "#ffffff"));
            rows.extend(tail);
        }
        rows
    };
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

    // The query list by county: the first lines of each.
    let ql = input.query_list;
    let q_county = ql
        .column("county_code")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let q_rank = ql.column("rank").map_err(pe)?.u32().map_err(pe)?.clone();
    let q_name = ql.column("name").map_err(pe)?.str().map_err(pe)?.clone();
    let q_grade = ql.column("grade").map_err(pe)?.str().map_err(pe)?.clone();
    let q_score = ql.column("score").map_err(pe)?.f64().map_err(pe)?.clone();
    let q_rules = ql
        .column("rule_codes")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let q_ver = ql
        .column("verifier")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
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
        if let Ok(k) = queries.binary_search_by(|q| q.county.as_str().cmp(c)) {
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
    }
    let bottom_list: Vec<String> = counties
        .iter()
        .filter(|c| c.bottom)
        .map(|c| c.code.clone())
        .collect();
    let flagged: Vec<String> = counties
        .iter()
        .filter(|c| c.flag)
        .map(|c| c.code.clone())
        .collect();
    let mut params: Vec<String> = Vec::new();
    params.push(format!(
        "pipeline = {} ({})",
        input.pipeline.name, input.pipeline.source
    ));
    for (section, values) in &input.pipeline.settings {
        for (k, v) in values.iter() {
            params.push(format!("{section}.{k} = {v}"));
        }
    }
    for r in &input.pipeline.rules {
        let ps: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        params.push(format!("{} [{}] {}", r.code(), r.severity, ps.join(", ")));
    }
    let query_city = (0..ql.height())
        .filter(|&i| q_ver.get(i) == Some("city"))
        .count();
    let query_sampled = ql
        .column("sampled")
        .map_err(pe)?
        .bool()
        .map_err(pe)?
        .sum()
        .unwrap_or(0);

    let mut env = minijinja::Environment::new();
    env.add_template("scorecard.html", TEMPLATE)
        .map_err(|e| Error::Internal {
            stage: "report",
            message: e.to_string(),
        })?;
    let tmpl = env
        .get_template("scorecard.html")
        .map_err(|e| Error::Internal {
            stage: "report",
            message: e.to_string(),
        })?;
    tmpl.render(minijinja::context! {
        period => input.period.to_string(),
        first_month => input.period.year_start().to_string(),
        pipeline => input.pipeline.name.clone(),
        seed => input.seed,
        enterprises => counties.iter().map(|c| c.enterprises as u64).sum::<u64>(),
        counties => counties,
        bottom => bottom_list,
        flagged => flagged,
        min_ratio_pct => format!("{:.0}%", min_ratio * 100.0),
        query_lines => ql.height(),
        query_city => query_city,
        query_sampled => query_sampled,
        red => tr,
        yellow => ty,
        green => tg,
        ranking => ranking,
        tax => tax,
        volatility => volatility,
        months => month_chart(&input.histories, input.period),
        queries => queries,
        families => family_rows,
        has_labor => families_present[0],
        has_energy => families_present[1],
        has_services => families_present[2],
        params => params,
    })
    .map_err(|e| Error::Internal {
        stage: "report",
        message: format!("rendering the scorecard page: {e}"),
    })
}
