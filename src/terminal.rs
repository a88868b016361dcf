//! The short summary `zhibao audit` and `zhibao demo` print when they finish.

use polars::prelude::*;

use crate::audit::AuditResult;

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    crate::model::text::clip(s, n)
}

/// The summary text: accounting, findings by rule, grades, the top of the query
/// list, the weakest counties, where the files are.
pub fn summary(r: &AuditResult, top: usize) -> String {
    let s = &r.summary;
    let mut out = String::new();
    out.push_str(&format!(
        "zhibao audit — period {} · pipeline {} · seed {}\n\n",
        s.period, s.pipeline.name, s.seed
    ));
    out.push_str("Rows read / accepted / quarantined (读入 / 接收 / 隔离):\n");
    for (name, t) in &s.tables {
        if t.present {
            out.push_str(&format!(
                "  {name:<14} {:>12} {:>12} {:>10}\n",
                thousands(t.rows_read),
                thousands(t.rows_accepted),
                thousands(t.rows_quarantined)
            ));
        }
    }
    if !s.tables_not_provided.is_empty() {
        out.push_str(&format!(
            "  not provided (rules not evaluable): {}\n",
            s.tables_not_provided.join(", ")
        ));
    }
    let total: u64 = s.outputs.findings.values().sum();
    out.push_str(&format!(
        "\nFindings 审核疑点: {} ({})\n",
        thousands(total),
        s.outputs
            .findings
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut by_rule: Vec<(&String, u64)> = s
        .rules
        .iter()
        .filter(|(_, r)| r.failed > 0)
        .map(|(k, r)| (k, r.failed))
        .collect();
    by_rule.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let line: Vec<String> = by_rule.iter().map(|(k, v)| format!("{k} {v}")).collect();
    out.push_str(&format!(
        "  failing entities by rule: {}\n",
        line.join(" · ")
    ));
    let errors: Vec<&String> = s
        .rules
        .iter()
        .filter(|(_, r)| r.status == "error")
        .map(|(k, _)| k)
        .collect();
    if !errors.is_empty() {
        out.push_str(&format!(
            "  rules that failed to run (see summary.json): {}\n",
            errors
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let g = &s.outputs.grades;
    out.push_str(&format!(
        "\nGrades 风险等级: red 红 {} · yellow 黄 {} · green 绿 {}   ({})\n",
        thousands(*g.get("red").unwrap_or(&0)),
        thousands(*g.get("yellow").unwrap_or(&0)),
        thousands(*g.get("green").unwrap_or(&0)),
        s.grade_state
    ));
    out.push_str(&format!(
        "\nQuery list 查询清单: {} enterprises ({} by random sampling, {} for the city bureau). Top {}:\n",
        s.outputs.query_lines,
        s.outputs.query_sampled,
        s.outputs.query_city,
        top.min(r.query_list.height())
    ));
    let ql = &r.query_list;
    let get = |c: &str| {
        ql.column(c)
            .ok()
            .and_then(|c| c.cast(&DataType::String).ok())
            .and_then(|c| c.str().ok().cloned())
    };
    if let (Some(rank), Some(uscc), Some(name), Some(grade), Some(score), Some(rules)) = (
        get("rank"),
        get("uscc"),
        get("name"),
        get("grade"),
        get("score"),
        get("rule_codes"),
    ) {
        for i in 0..top.min(ql.height()) {
            out.push_str(&format!(
                "  {:>3}  {}  {:<20}  {:<6} {:>8}  {}\n",
                rank.get(i).unwrap_or(""),
                uscc.get(i).unwrap_or(""),
                clip(name.get(i).unwrap_or(""), 16),
                grade.get(i).unwrap_or(""),
                score.get(i).map(|s| clip(s, 8)).unwrap_or_default(),
                clip(rules.get(i).unwrap_or(""), 40)
            ));
        }
    }
    out.push_str(&format!(
        "\nWeakest counties 后三位: {}\n",
        s.outputs.bottom_counties.join(", ")
    ));
    let sc = &r.scorecard;
    if let (Ok(code), Ok(score), Ok(rank)) = (
        sc.column("county_code"),
        sc.column("quality_score"),
        sc.column("rank"),
    ) {
        let n = sc.height();
        for i in n.saturating_sub(3)..n {
            out.push_str(&format!(
                "  #{} {}  quality score {}\n",
                rank.get(i).map(|v| v.to_string()).unwrap_or_default(),
                code.get(i)
                    .map(|v| v.to_string().trim_matches('"').to_string())
                    .unwrap_or_default(),
                score.get(i).map(|v| v.to_string()).unwrap_or_default()
            ));
        }
    }
    if !s.outputs.tax_flagged_counties.is_empty() {
        out.push_str(&format!(
            "Tax-to-output ratio below 90% 税产比低于90%: {}\n",
            s.outputs.tax_flagged_counties.join(", ")
        ));
    }
    out.push_str(&format!(
        "\nFiles in {}: query_list.csv/.xlsx, findings.parquet, grades.parquet, scorecard.csv/.html, report.xlsx, quarantine.csv, summary.json\n",
        r.out.display()
    ));
    out
}
