//! Excel workbooks for bureau staff: `query_list.xlsx` and `report.xlsx` (query list,
//! scorecard, findings, quarantine). Chinese headings, frozen header row, column
//! widths, filters; grades and yes/no values in Chinese. The document date is the
//! first day of the period under review, so identical runs give identical files.

use std::path::Path;

use polars::prelude::*;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet};

use super::cell_text;
use crate::error::{Error, Result};
use crate::load::QuarantineRow;
use crate::model::Month;

fn xerr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: format!("cannot write the workbook: {e}"),
    }
}

/// Chinese heading and width of an output column.
pub fn heading(name: &str) -> (&'static str, f64) {
    match name {
        "rank" => ("排名", 6.0),
        "uscc" => ("统一社会信用代码", 21.0),
        "name" => ("单位详细名称", 30.0),
        "county_code" => ("行政区划代码", 12.0),
        "industry_code" => ("行业代码", 9.0),
        "grade" => ("风险等级", 9.0),
        "score" => ("风险得分", 10.0),
        "impact" => ("影响系数", 9.0),
        "rule_codes" => ("规则代码", 18.0),
        "findings" => ("疑点数", 7.0),
        "reasons" => ("疑点说明", 80.0),
        "evidence" => ("需提供的凭证", 50.0),
        "verifier" => ("核查单位", 9.0),
        "sampled" => ("随机抽查", 9.0),
        "rule_code" => ("规则代码", 9.0),
        "severity" => ("审核性质", 9.0),
        "project_id" => ("项目代码", 16.0),
        "period" => ("报告期", 9.0),
        "message" => ("疑点说明", 80.0),
        "message_en" => ("Message", 60.0),
        "title" => ("规则", 24.0),
        "level" => ("对象", 9.0),
        "value" => ("数值", 12.0),
        "threshold" => ("阈值", 10.0),
        "strength" => ("强度", 8.0),
        "hint" => ("处理建议", 50.0),
        "hint_en" => ("Hint", 40.0),
        "quality_score" => ("质量得分", 9.0),
        "bottom3" => ("后三位", 8.0),
        "enterprises" => ("企业数", 8.0),
        "expected" => ("应报", 7.0),
        "received" => ("已报", 7.0),
        "late" => ("迟报", 7.0),
        "missing" => ("未报", 7.0),
        "tax_output_ratio" => ("税产比(累计)", 11.0),
        "tax_output_ratio_month" => ("税产比(当月)", 11.0),
        "tax_flag" => ("税产比低于90%", 12.0),
        "hard_rate" => ("强制性错误率", 11.0),
        "soft_rate" => ("核实性疑点率", 11.0),
        "red" => ("红", 6.0),
        "yellow" => ("黄", 6.0),
        "green" => ("绿", 6.0),
        "red_share" => ("红占比", 8.0),
        "yellow_share" => ("黄占比", 8.0),
        "green_share" => ("绿占比", 8.0),
        "risk_share" => ("中高风险占比", 11.0),
        "risk_share_first_month" => ("年初中高风险占比", 14.0),
        "risk_share_change" => ("较年初变化", 10.0),
        "verified_last_month" => ("上月核查数", 10.0),
        "confirmed_error_rate" => ("查询差错率", 10.0),
        "investment_volatility" => ("投资波动系数", 11.0),
        "benford_values" => ("本福特样本数", 11.0),
        "benford_mad" => ("本福特MAD", 10.0),
        "benford_band" => ("本福特符合度", 12.0),
        "query_lines" => ("查询企业数", 10.0),
        "query_city" => ("市级核查", 9.0),
        "query_sampled" => ("随机抽查数", 10.0),
        "table" => ("表", 12.0),
        "file" => ("文件", 30.0),
        "row" => ("行", 7.0),
        "column" => ("列", 16.0),
        "reason" => ("原因", 60.0),
        _ => ("", 12.0),
    }
}

fn translate(column: &str, text: String) -> String {
    match (column, text.as_str()) {
        ("grade", "red") => "红".into(),
        ("grade", "yellow") => "黄".into(),
        ("grade", "green") => "绿".into(),
        ("verifier", "city") => "市级".into(),
        ("verifier", "county") => "区县".into(),
        ("severity", "hard") => "强制性".into(),
        ("severity", "soft") => "核实性".into(),
        ("severity", "info") => "提示性".into(),
        ("level", "enterprise") => "企业".into(),
        ("level", "project") => "项目".into(),
        ("level", "county") => "区县".into(),
        ("benford_band", "close") => "高度符合".into(),
        ("benford_band", "acceptable") => "可接受".into(),
        ("benford_band", "marginal") => "勉强可接受".into(),
        ("benford_band", "nonconformity") => "不符合".into(),
        (_, "true") => "是".into(),
        (_, "false") => "否".into(),
        _ => text,
    }
}

fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_background_color("#DDEBF7")
}

fn add_frame_sheet(ws: &mut Worksheet, path: &Path, sheet: &str, df: &DataFrame) -> Result<()> {
    ws.set_name(sheet).map_err(|e| xerr(path, e))?;
    let hf = header_format();
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let quoted = Format::new().set_quote_prefix();
    let quoted_wrap = wrap.clone().set_quote_prefix();
    for (j, c) in df.columns().iter().enumerate() {
        let (zh, width) = heading(c.name());
        let title = if zh.is_empty() {
            c.name().to_string()
        } else {
            format!("{zh}\n{}", c.name())
        };
        ws.write_string_with_format(0, j as u16, &title, &hf)
            .map_err(|e| xerr(path, e))?;
        ws.set_column_width(j as u16, width)
            .map_err(|e| xerr(path, e))?;
    }
    ws.set_row_height(0, 32).map_err(|e| xerr(path, e))?;
    for (j, c) in df.columns().iter().enumerate() {
        let numeric = c.dtype().is_primitive_numeric();
        let long = matches!(
            c.name().as_str(),
            "reasons" | "evidence" | "message" | "hint" | "reason"
        );
        for i in 0..df.height() {
            let r = (i + 1) as u32;
            let v = c.get(i).map_err(|e| Error::polars("report", e))?;
            if matches!(v, AnyValue::Null) {
                continue;
            }
            if numeric {
                if let Some(x) = v.extract::<f64>() {
                    if x.is_finite() {
                        ws.write_number(r, j as u16, x).map_err(|e| xerr(path, e))?;
                    }
                    continue;
                }
            }
            let text = translate(c.name(), cell_text(&v));
            // Text a spreadsheet would run as a formula: stored as text with Excel's
            // quote prefix, so it is shown (and stays text when edited).
            if super::neutralise(&text) != text.as_str() {
                let f = if long {
                    quoted_wrap.clone()
                } else {
                    quoted.clone()
                };
                ws.write_string_with_format(r, j as u16, &text, &f)
                    .map_err(|e| xerr(path, e))?;
                continue;
            }
            if long {
                ws.write_string_with_format(r, j as u16, &text, &wrap)
                    .map_err(|e| xerr(path, e))?;
            } else {
                ws.write_string(r, j as u16, &text)
                    .map_err(|e| xerr(path, e))?;
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(|e| xerr(path, e))?;
    if df.width() > 0 {
        ws.autofilter(0, 0, df.height().max(1) as u32, (df.width() - 1) as u16)
            .map_err(|e| xerr(path, e))?;
    }
    Ok(())
}

fn quarantine_frame(rows: &[QuarantineRow]) -> Result<DataFrame> {
    let n = rows.len();
    DataFrame::new(
        n,
        vec![
            Column::new(
                "table".into(),
                rows.iter().map(|r| r.table.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                "file".into(),
                rows.iter().map(|r| r.file.as_str()).collect::<Vec<_>>(),
            ),
            Column::new("row".into(), rows.iter().map(|r| r.row).collect::<Vec<_>>()),
            Column::new(
                "column".into(),
                rows.iter().map(|r| r.column.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "value".into(),
                rows.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "reason".into(),
                rows.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(|e| Error::polars("report", e))
}

fn workbook(period: Month, title: &str) -> Workbook {
    let mut wb = Workbook::new();
    let date = ExcelDateTime::from_ymd(
        period.year().clamp(1900, 9999) as u16,
        period.month() as u8,
        1,
    )
    .unwrap_or_else(|_| ExcelDateTime::from_ymd(2000, 1, 1).expect("a valid date"));
    let props = DocProperties::new()
        .set_title(title)
        .set_author("zhibao")
        .set_creation_datetime(&date);
    wb.set_properties(&props);
    wb
}

/// Writes `query_list.xlsx`.
pub fn write_query_list(ql: &DataFrame, period: Month, path: &Path) -> Result<()> {
    let mut wb = workbook(period, &format!("{period} 查询清单"));
    add_frame_sheet(wb.add_worksheet(), path, "查询清单", ql)?;
    wb.save(path).map_err(|e| xerr(path, e))
}

/// Writes `report.xlsx`: query list, scorecard, findings, quarantine.
pub fn write_report(
    ql: &DataFrame,
    scorecard: &DataFrame,
    findings: &DataFrame,
    quarantine: &[QuarantineRow],
    period: Month,
    path: &Path,
) -> Result<()> {
    let mut wb = workbook(period, &format!("{period} 数据质量审核报告"));
    add_frame_sheet(wb.add_worksheet(), path, "查询清单", ql)?;
    add_frame_sheet(wb.add_worksheet(), path, "区县评估", scorecard)?;
    // Excel holds at most 1,048,575 data rows on a sheet.
    let limit = 1_048_575usize;
    let f = if findings.height() > limit {
        findings.slice(0, limit)
    } else {
        findings.clone()
    };
    add_frame_sheet(wb.add_worksheet(), path, "审核疑点", &f)?;
    let q = quarantine_frame(&quarantine[..quarantine.len().min(limit)])?;
    add_frame_sheet(wb.add_worksheet(), path, "隔离记录", &q)?;
    wb.save(path).map_err(|e| xerr(path, e))
}
