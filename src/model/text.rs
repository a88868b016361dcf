//! Text clean-up shared by every loader: the repairs a bureau's spreadsheets need.
//!
//! Each function returns the cleaned text and whether anything was changed, so the
//! loader can count repairs per table (reported in `summary.json`).

/// Converts full-width ASCII variants (`１２３`, `Ａ`, `，`, `．`, the ideographic
/// space) to their ASCII forms. Other characters are kept.
pub fn half_width(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let needs = s
        .chars()
        .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}');
    if !needs {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
                _ => c,
            })
            .collect(),
    )
}

/// Trims whitespace of every kind (ASCII, ideographic space, no-break space) and
/// byte-order marks from both ends.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}' || c == '\u{00A0}')
}

/// The normal form of a key (USCC, code, project id): trimmed, half-width, upper case.
/// Returns the text and whether it differed from the input.
pub fn normalize_key(s: &str) -> (String, bool) {
    let t = trim(s);
    let hw = half_width(t);
    let up = hw.to_ascii_uppercase();
    let changed = up != s;
    (up, changed)
}

/// Removes thousands separators from a number written like `1,234,567.8`.
/// Returns `None` when the commas are not in thousands positions (`12,34`), which
/// is then not a number.
pub fn strip_thousands(s: &str) -> Option<String> {
    if !s.contains(',') {
        return Some(s.to_string());
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    if groups.is_empty() || groups[0].is_empty() || groups[0].len() > 3 {
        return None;
    }
    if groups[1..].iter().any(|g| g.len() != 3) {
        return None;
    }
    if !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(sign);
    for g in groups {
        out.push_str(g);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// Shortens a value for display in quarantine lines and messages.
pub fn clip(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max_chars).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(half_width("１２３．５"), "123.5");
        assert_eq!(half_width("ａｂＣ"), "abC");
        assert_eq!(half_width("中文"), "中文");
    }

    #[test]
    fn keys_are_trimmed_and_upper_cased() {
        assert_eq!(
            normalize_key("  91340100ma2xxxxx0x\u{3000}"),
            ("91340100MA2XXXXX0X".to_string(), true)
        );
        assert_eq!(normalize_key("ABC"), ("ABC".to_string(), false));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(strip_thousands("1,234,567.5").as_deref(), Some("1234567.5"));
        assert_eq!(strip_thousands("-1,000").as_deref(), Some("-1000"));
        assert_eq!(strip_thousands("12,34"), None);
        assert_eq!(strip_thousands("1234,567"), None);
        assert_eq!(strip_thousands("12.5").as_deref(), Some("12.5"));
    }
}
