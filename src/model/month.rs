//! Calendar months (`YYYY-MM`), the period of every monthly table.
//!
//! Inside the pipeline a month is a single integer, `year * 12 + (month - 1)`, so
//! "the previous month" is `m - 1` and "the same month last year" is `m - 12`; it
//! is turned back into `YYYY-MM` only when written out.

use std::fmt;

use super::text;

/// Years a reporting period may fall in. Outside this range a month "does not exist"
/// for our purposes (a typing error such as `0226-09` or `2926-09`).
pub const MIN_YEAR: i32 = 1950;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2100;

/// A calendar month, stored as months since year 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

/// How a month was written, when it was not the canonical `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthRepair {
    /// `2026/09`, `2026.9`, `2026-9`, `202609`, `2026年9月`, or full-width digits.
    Format,
}

impl Month {
    /// The month `month` (1–12) of `year`, if both are in range.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        Some(Month(year * 12 + month as i32 - 1))
    }

    /// Calendar year.
    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// Month of the year, 1–12.
    pub fn month(self) -> u32 {
        (self.0.rem_euclid(12) + 1) as u32
    }

    /// January of the same year.
    pub fn year_start(self) -> Month {
        Month(self.year() * 12)
    }

    /// `n` months later (earlier when negative).
    pub fn plus(self, n: i32) -> Month {
        Month(self.0 + n)
    }

    /// Whether the month closes a quarter (March, June, September, December).
    pub fn is_quarter_end(self) -> bool {
        self.month().is_multiple_of(3)
    }

    /// Parses the canonical form `YYYY-MM` only.
    pub fn parse_strict(s: &str) -> Result<Month, String> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(format!("'{s}' is not a month of the form YYYY-MM"));
        }
        let year: i32 = s[..4]
            .parse()
            .map_err(|_| format!("'{s}' is not a month"))?;
        let month: u32 = s[5..]
            .parse()
            .map_err(|_| format!("'{s}' is not a month"))?;
        Month::new(year, month).ok_or_else(|| month_range_error(s, year, month))
    }

    /// Parses a month as bureau spreadsheets write it. The canonical `YYYY-MM` gives
    /// no repair; `2026/09`, `2026.9`, `2026-9`, `202609`, `2026年9月`, a date such
    /// as `2026-09-01`, and full-width digits are accepted with a repair note.
    /// `2026-13` and anything else is an error message.
    pub fn parse_lenient(raw: &str) -> Result<(Month, Option<MonthRepair>), String> {
        let t = text::trim(raw);
        if let Ok(m) = Month::parse_strict(t) {
            let repair = (t != raw).then_some(MonthRepair::Format);
            return Ok((m, repair));
        }
        let s = text::half_width(t);
        let s = s.as_ref();
        let bad = || {
            format!(
                "'{}' is not a month (expected YYYY-MM)",
                text::clip(raw, 40)
            )
        };
        // 202609
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            let year: i32 = s[..4].parse().map_err(|_| bad())?;
            let month: u32 = s[4..].parse().map_err(|_| bad())?;
            return Month::new(year, month)
                .map(|m| (m, Some(MonthRepair::Format)))
                .ok_or_else(|| month_range_error(raw, year, month));
        }
        // 2026年9月, 2026-9, 2026/09, 2026.09, 2026-09-01, 2026/9/1
        let cleaned = s.trim_end_matches('月').replace('年', "-");
        let parts: Vec<&str> = cleaned.split(['-', '/', '.']).map(str::trim).collect();
        if (parts.len() == 2 || parts.len() == 3)
            && parts[0].len() == 4
            && (1..=2).contains(&parts[1].len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            let year: i32 = parts[0].parse().map_err(|_| bad())?;
            let month: u32 = parts[1].parse().map_err(|_| bad())?;
            if parts.len() == 3 {
                let day: u32 = parts[2].parse().map_err(|_| bad())?;
                if parts[2].len() > 2 || !(1..=31).contains(&day) {
                    return Err(bad());
                }
            }
            return Month::new(year, month)
                .map(|m| (m, Some(MonthRepair::Format)))
                .ok_or_else(|| month_range_error(raw, year, month));
        }
        Err(bad())
    }
}

fn month_range_error(raw: &str, year: i32, month: u32) -> String {
    if !(1..=12).contains(&month) {
        format!("'{}': month {month} does not exist", text::clip(raw, 40))
    } else {
        format!(
            "'{}': year {year} is outside {MIN_YEAR}–{MAX_YEAR}",
            text::clip(raw, 40)
        )
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl std::str::FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Month::parse_strict(s)
    }
}

/// Converts an Excel serial day number (days since 1899-12-30) to a calendar date.
pub fn excel_serial_to_date(serial: f64) -> Option<chrono::NaiveDate> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_signed(chrono::TimeDelta::days(serial.floor() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_round_trip() {
        let m = Month::parse_strict("2026-09").unwrap();
        assert_eq!(m.year(), 2026);
        assert_eq!(m.month(), 9);
        assert_eq!(m.to_string(), "2026-09");
        assert_eq!(m.plus(-9).to_string(), "2025-12");
        assert_eq!(m.year_start().to_string(), "2026-01");
        assert!(m.is_quarter_end());
    }

    #[test]
    fn lenient_forms_are_repaired() {
        for s in [
            "2026/09",
            "2026.9",
            "2026-9",
            "202609",
            "2026年9月",
            "２０２６-０９",
            "2026-09-01",
            " 2026-09 ",
        ] {
            let (m, r) = Month::parse_lenient(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(m.to_string(), "2026-09", "{s}");
            assert_eq!(r, Some(MonthRepair::Format), "{s}");
        }
        assert_eq!(Month::parse_lenient("2026-09").unwrap().1, None);
    }

    #[test]
    fn impossible_months_are_errors() {
        assert!(Month::parse_lenient("2026-13")
            .unwrap_err()
            .contains("month 13 does not exist"));
        assert!(Month::parse_lenient("2026-00").is_err());
        assert!(Month::parse_lenient("26-09").is_err());
        assert!(Month::parse_lenient("September").is_err());
        assert!(Month::parse_lenient("2026-09-45").is_err());
        assert!(Month::parse_lenient("3026-09")
            .unwrap_err()
            .contains("outside"));
    }

    #[test]
    fn excel_serials() {
        assert_eq!(
            excel_serial_to_date(46266.0).unwrap().to_string(),
            "2026-09-01"
        );
    }
}
