//! Message templates: `"应税销售额占工业总产值 {ratio:%}，低于 {min_ratio:%}"` becomes
//! a Polars expression that renders one message per finding, with the values of the
//! finding's own columns and the rule's parameters.
//!
//! Placeholders: `{name}` (a number shows without decimals when whole, else with
//! two), `{name:.N}` (N decimals), `{name:%}` (a ratio as a percentage with one
//! decimal), `{name:万}` (thousand yuan shown in 万元). A name is a column of the
//! rule's failures or one of its parameters. Two formats are for parameters
//! only, as rule titles write them: `{name:,}` (a number with thousands
//! separators, `10,000`) and `{name:汉}` (a whole number from 1 to 99 in Chinese
//! numerals, `三`).

use polars::prelude::*;

use crate::settings::{Value, Values};

enum Piece<'a> {
    Lit(&'a str),
    Slot { name: &'a str, fmt: Fmt },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fmt {
    Auto,
    Decimals(u32),
    Percent,
    /// Thousand yuan in 万元 (÷ 10).
    Wan,
    /// Thousands separators (parameters only).
    Grouped,
    /// Chinese numerals (parameters only).
    Han,
}

fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Lit(&rest[..open]));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in template '{template}'"))?
            + open;
        let inner = &rest[open + 1..close];
        let (name, fmt) = match inner.split_once(':') {
            None => (inner, Fmt::Auto),
            Some((n, "%")) => (n, Fmt::Percent),
            Some((n, "万")) => (n, Fmt::Wan),
            Some((n, ",")) => (n, Fmt::Grouped),
            Some((n, "汉")) => (n, Fmt::Han),
            Some((n, f)) => match f.strip_prefix('.').and_then(|d| d.parse::<u32>().ok()) {
                Some(d) if d <= 6 => (n, Fmt::Decimals(d)),
                _ => return Err(format!("bad format '{f}' in template '{template}'")),
            },
        };
        out.push(Piece::Slot { name, fmt });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest));
    }
    Ok(out)
}

fn format_number(x: f64, fmt: Fmt) -> String {
    match fmt {
        Fmt::Percent => {
            let p = (x * 1000.0).round() / 10.0;
            if p.fract() == 0.0 {
                format!("{}%", p as i64)
            } else {
                format!("{p:.1}%")
            }
        }
        Fmt::Decimals(d) => format!("{x:.*}", d as usize),
        Fmt::Wan => format_number(x / 10.0, Fmt::Auto),
        Fmt::Grouped => grouped(x),
        Fmt::Han => han(x),
        Fmt::Auto if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
        Fmt::Auto => format!("{x:.2}"),
    }
}

/// `x` with thousands separators (`12,500`, `2,000.5`).
fn grouped(x: f64) -> String {
    let text = format_number(x.abs(), Fmt::Auto);
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if x < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A whole number from 1 to 99 in Chinese numerals (`三`, `十二`, `二十`);
/// anything else as digits.
fn han(x: f64) -> String {
    const DIGITS: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    if x.fract() != 0.0 || !(1.0..100.0).contains(&x) {
        return format_number(x, Fmt::Auto);
    }
    let n = x as usize;
    let (tens, ones) = (n / 10, n % 10);
    match tens {
        0 => DIGITS[ones].to_string(),
        1 => format!("十{}", DIGITS[ones]),
        _ => format!("{}十{}", DIGITS[tens], DIGITS[ones]),
    }
}

fn number_expr(e: Expr, fmt: Fmt) -> Expr {
    let e = e.cast(DataType::Float64);
    match fmt {
        Fmt::Wan => number_expr(e / lit(10.0), Fmt::Auto),
        // Refused for columns by `render`.
        Fmt::Grouped | Fmt::Han => number_expr(e, Fmt::Auto),
        Fmt::Percent => concat_str(
            [
                (e * lit(100.0))
                    .round(1, RoundMode::HalfAwayFromZero)
                    .cast(DataType::String),
                lit("%"),
            ],
            "",
            false,
        ),
        Fmt::Decimals(0) => e
            .round(0, RoundMode::HalfAwayFromZero)
            .cast(DataType::Int64)
            .cast(DataType::String),
        Fmt::Decimals(d) => e
            .round(d, RoundMode::HalfAwayFromZero)
            .cast(DataType::String),
        Fmt::Auto => when(
            e.clone()
                .round(0, RoundMode::HalfAwayFromZero)
                .eq(e.clone())
                .and(e.clone().abs().lt(lit(1e15))),
        )
        .then(e.clone().cast(DataType::Int64).cast(DataType::String))
        .otherwise(
            e.round(2, RoundMode::HalfAwayFromZero)
                .cast(DataType::String),
        ),
    }
}

/// Compiles a template into an expression over a frame with `schema`.
pub fn render(template: &str, params: &Values, schema: &Schema) -> Result<Expr, String> {
    let pieces = parse(template)?;
    let mut parts: Vec<Expr> = Vec::with_capacity(pieces.len());
    for p in pieces {
        match p {
            Piece::Lit(s) => parts.push(lit(s.to_string())),
            Piece::Slot { name, fmt } => {
                if let Some(dt) = schema.get(name) {
                    if matches!(fmt, Fmt::Grouped | Fmt::Han) {
                        return Err(format!(
                            "the template writes the column '{name}' in a format for parameters only"
                        ));
                    }
                    let e = col(name);
                    let text = if dt.is_primitive_numeric() {
                        number_expr(e, fmt)
                    } else {
                        e.cast(DataType::String)
                    };
                    parts.push(text.fill_null(lit("—")));
                } else if let Some((_, v)) = params.iter().find(|(n, _)| **n == name) {
                    let s = match v {
                        Value::Num(_) | Value::Int(_) => format_number(v.as_f64(), fmt),
                        other => other.to_string(),
                    };
                    parts.push(lit(s));
                } else {
                    return Err(format!(
                        "the template names '{name}', which is neither a column nor a parameter"
                    ));
                }
            }
        }
    }
    if parts.is_empty() {
        return Ok(lit(""));
    }
    Ok(concat_str(parts, "", false))
}

/// Renders a template with plain values (for `zhibao rules` examples and reports).
pub fn render_plain(template: &str, values: &[(&str, f64)], params: &Values) -> String {
    let Ok(pieces) = parse(template) else {
        return template.to_string();
    };
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Slot { name, fmt } => {
                if let Some((_, x)) = values.iter().find(|(n, _)| *n == name) {
                    out.push_str(&format_number(*x, fmt));
                } else if let Some((_, v)) = params.iter().find(|(n, _)| **n == name) {
                    match v {
                        Value::Num(_) | Value::Int(_) => {
                            out.push_str(&format_number(v.as_f64(), fmt))
                        }
                        other => out.push_str(&other.to_string()),
                    }
                } else {
                    out.push('{');
                    out.push_str(name);
                    match fmt {
                        Fmt::Auto => {}
                        Fmt::Percent => out.push_str(":%"),
                        Fmt::Wan => out.push_str(":万"),
                        Fmt::Grouped => out.push_str(":,"),
                        Fmt::Han => out.push_str(":汉"),
                        Fmt::Decimals(d) => out.push_str(&format!(":.{d}")),
                    }
                    out.push('}');
                }
            }
        }
    }
    out
}

/// The placeholder names of a template.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Slot { name, .. } => Some(name.to_string()),
            Piece::Lit(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_and_parameters() {
        let df = df!("ratio" => [0.724, f64::NAN], "gross_output" => [1200.0, 15.5]).unwrap();
        let mut params = Values::default();
        let _ = &mut params;
        let e = render("占比 {ratio:%}，产值 {gross_output}", &params, df.schema()).unwrap();
        let out = df.lazy().select([e.alias("m")]).collect().unwrap();
        let m = out.column("m").unwrap().str().unwrap();
        assert_eq!(m.get(0), Some("占比 72.4%，产值 1200"));
        assert_eq!(m.get(1).map(|s| s.starts_with("占比 NaN")), Some(true));
    }

    #[test]
    fn unknown_names_are_errors() {
        let df = df!("a" => [1.0]).unwrap();
        assert!(render("{b}", &Values::default(), df.schema()).is_err());
        assert!(render("{a:x}", &Values::default(), df.schema()).is_err());
    }

    #[test]
    fn formats_of_titles() {
        assert_eq!(format_number(2000.0, Fmt::Grouped), "2,000");
        assert_eq!(format_number(1234567.5, Fmt::Grouped), "1,234,567.50");
        assert_eq!(format_number(-950.0, Fmt::Grouped), "-950");
        assert_eq!(format_number(100.0, Fmt::Wan), "10");
        assert_eq!(format_number(10000.0, Fmt::Wan), "1000");
        assert_eq!(format_number(15.0, Fmt::Wan), "1.50");
        assert_eq!(format_number(3.0, Fmt::Han), "三");
        assert_eq!(format_number(10.0, Fmt::Han), "十");
        assert_eq!(format_number(12.0, Fmt::Han), "十二");
        assert_eq!(format_number(40.0, Fmt::Han), "四十");
        assert_eq!(format_number(120.0, Fmt::Han), "120");
        let df = df!("a" => [1.0]).unwrap();
        assert!(render("{a:,}", &Values::default(), df.schema()).is_err());
        assert!(render("{a:万}", &Values::default(), df.schema()).is_ok());
    }

    #[test]
    fn plain_rendering() {
        assert_eq!(
            render_plain(
                "{r:%} < {t:.0}",
                &[("r", 0.724), ("t", 90.0)],
                &Values::default()
            ),
            "72.4% < 90"
        );
    }
}
