//! Typing: every value of a contract column is turned into its type, repaired when
//! the intent is unambiguous (full-width digits, thousands separators, `2026/09`,
//! a trimmed or lower-case key, a date cell in a month column), or rejected with
//! the reason. The first rejected value of a row quarantines the row.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;

use super::raw::{Cell, RawColumn};
use crate::model::month::excel_serial_to_date;
use crate::model::schema::{ColumnSpec, Kind, PROVINCES};
use crate::model::text::{clip, half_width, normalize_key, strip_thousands, trim};
use crate::model::{uscc, Month};

/// The enterprise register as the other tables see it: USCC → enterprise id.
#[derive(Clone, Default)]
pub struct Register {
    /// Accepted enterprises.
    pub ids: UsccIds,
    /// USCCs whose register row was quarantined, with the reason.
    pub rejected: HashMap<String, String>,
}

/// Enterprise ids by USCC. A code of 18 ASCII characters (every valid USCC) is
/// kept as one number, seven bits to a character, in a sorted array; any other
/// text in a map. A month's tables look up tens of millions of codes, and a
/// hash table of a million codes misses the processor's cache at almost every
/// lookup: [`UsccIds::get_many`] groups a column's codes by the stretch of the
/// sorted array they fall in (a counting sort over fences every
/// [`UsccIds::FENCE`] codes), then looks them up stretch after stretch, each in
/// the cache and in the array's order.
#[derive(Clone, Default)]
pub struct UsccIds {
    /// The codes as numbers, ascending.
    keys: Vec<u128>,
    /// The id of each of `keys`.
    ids: Vec<u32>,
    /// Every [`UsccIds::FENCE`]-th of `keys`.
    fences: Vec<u128>,
    other: PlHashMap<String, u32>,
}

impl UsccIds {
    /// Codes between fences.
    const FENCE: usize = 1024;

    /// The ids of `codes`; of a code given twice, the later id.
    pub fn new<'a>(codes: impl IntoIterator<Item = (&'a str, u32)>) -> UsccIds {
        let mut packed = Vec::new();
        let mut other = PlHashMap::new();
        for (u, id) in codes {
            match Self::pack(u) {
                Some(k) => packed.push((k, id)),
                None => {
                    other.insert(u.to_string(), id);
                }
            }
        }
        // Stable: of equal codes, the later stays later.
        packed.sort_by_key(|p| p.0);
        let (mut keys, mut ids) = (
            Vec::with_capacity(packed.len()),
            Vec::with_capacity(packed.len()),
        );
        for (k, id) in packed {
            if keys.last() == Some(&k) {
                *ids.last_mut().expect("an id to each key") = id;
            } else {
                keys.push(k);
                ids.push(id);
            }
        }
        let fences = keys.iter().step_by(Self::FENCE).copied().collect();
        UsccIds {
            keys,
            ids,
            fences,
            other,
        }
    }

    /// An 18-character ASCII code as a number (distinct codes, distinct
    /// numbers, in the codes' order).
    fn pack(u: &str) -> Option<u128> {
        let b = u.as_bytes();
        (b.len() == 18 && b.is_ascii())
            .then(|| b.iter().fold(0u128, |k, &c| k << 7 | u128::from(c)))
    }

    /// The stretch of `keys` (between two fences) where `k` would be.
    fn stretch(&self, k: u128) -> usize {
        self.fences.partition_point(|f| *f <= k).saturating_sub(1)
    }

    /// The id of the number `k` in stretch `s`.
    fn find_in(&self, s: usize, k: u128) -> Option<u32> {
        let from = s * Self::FENCE;
        let to = (from + Self::FENCE).min(self.keys.len());
        let at = self.keys.get(from..to)?.binary_search(&k).ok()?;
        Some(self.ids[from + at])
    }

    /// The id of `u`.
    pub fn get(&self, u: &str) -> Option<u32> {
        match Self::pack(u) {
            Some(k) => self.find_in(self.stretch(k), k),
            None => self.other.get(u).copied(),
        }
    }

    /// The ids of `codes`, in their order; a share of the column to each
    /// thread.
    pub fn get_many(&self, codes: &[Option<&str>]) -> Vec<Option<u32>> {
        use rayon::prelude::*;
        let mut out = vec![None; codes.len()];
        let share = codes
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1 << 14);
        out.par_chunks_mut(share)
            .zip(codes.par_chunks(share))
            .for_each(|(out, codes)| self.get_grouped(codes, out));
        out
    }

    /// [`UsccIds::get_many`] of one share, grouped by stretch.
    fn get_grouped(&self, codes: &[Option<&str>], out: &mut [Option<u32>]) {
        let stretches = self.fences.len().max(1);
        let placed: Vec<Option<(u128, u32)>> = codes
            .iter()
            .map(|c| {
                let k = Self::pack((*c)?)?;
                Some((k, self.stretch(k) as u32))
            })
            .collect();
        let mut start = vec![0u32; stretches + 1];
        for (_, s) in placed.iter().flatten() {
            start[*s as usize + 1] += 1;
        }
        for s in 1..=stretches {
            start[s] += start[s - 1];
        }
        let mut grouped = vec![(0u128, 0u32); start[stretches] as usize];
        for (i, (p, c)) in placed.iter().zip(codes).enumerate() {
            match p {
                Some((k, s)) => {
                    let slot = &mut start[*s as usize];
                    grouped[*slot as usize] = (*k, i as u32);
                    *slot += 1;
                }
                None => out[i] = c.and_then(|c| self.other.get(c).copied()),
            }
        }
        // `start[s]` is now where stretch s's run ends; the runs follow each
        // other.
        let mut from = 0;
        for (s, &to) in start[..stretches].iter().enumerate() {
            for &(k, i) in &grouped[from..to as usize] {
                out[i as usize] = self.find_in(s, k);
            }
            from = to as usize;
        }
    }

    /// Whether `u` has an id.
    pub fn contains_key(&self, u: &str) -> bool {
        self.get(u).is_some()
    }

    /// How many codes have an id.
    pub fn len(&self) -> usize {
        self.keys.len() + self.other.len()
    }

    /// No code has an id.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value as read, borrowed.
#[derive(Clone, Copy, Debug)]
pub enum CellRef<'a> {
    /// Nothing.
    Empty,
    /// Text.
    Text(&'a str),
    /// Whole number.
    Int(i64),
    /// Number with a fraction.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Date as an Excel serial day number.
    Date(f64),
    /// A value that cannot be known: what is shown, and why.
    Unknown(&'a str, &'a str),
}

impl CellRef<'_> {
    fn display(&self) -> String {
        match self {
            CellRef::Empty => String::new(),
            CellRef::Text(s) => clip(s, 80),
            CellRef::Int(i) => i.to_string(),
            CellRef::Float(f) => format!("{f}"),
            CellRef::Bool(b) => b.to_string(),
            CellRef::Unknown(v, _) => clip(v, 80),
            CellRef::Date(d) => excel_serial_to_date(*d)
                .map(|d| d.to_string())
                .unwrap_or_else(|| format!("{d}")),
        }
    }
}

impl<'a> From<&'a Cell> for CellRef<'a> {
    fn from(c: &'a Cell) -> Self {
        match c {
            Cell::Empty => CellRef::Empty,
            Cell::Text(s) => CellRef::Text(s),
            Cell::Int(i) => CellRef::Int(*i),
            Cell::Float(f) => CellRef::Float(*f),
            Cell::Bool(b) => CellRef::Bool(*b),
            Cell::Date(d) => CellRef::Date(*d),
            Cell::Error(e) => CellRef::Text(e),
            Cell::Unknown(v, why) => CellRef::Unknown(v, why),
        }
    }
}

/// Counts of repairs, by name.
pub type Repairs = HashMap<&'static str, u64>;

/// A rejected value: position in the file's value list, the value, the reason.
pub struct Rejected {
    /// Position (0-based) among the file's rows.
    pub pos: usize,
    /// The value as read.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A typed column, with its rejected values.
pub struct Typed {
    /// Name in the loaded table (`eid` for a USCC outside the register).
    pub name: &'static str,
    /// Values; rejected positions hold nulls.
    pub series: Series,
    /// Rejected values.
    pub rejected: Vec<Rejected>,
}

enum Out {
    Str(Vec<Option<String>>),
    U32(Vec<Option<u32>>),
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
}

enum Val {
    Str(String),
    U32(u32),
    I32(i32),
    I64(i64),
    F64(f64),
}

impl Out {
    fn with_capacity(kind: Kind, as_eid: bool, n: usize) -> Out {
        match kind {
            Kind::Uscc if as_eid => Out::U32(Vec::with_capacity(n)),
            Kind::Uscc
            | Kind::Text { .. }
            | Kind::Id
            | Kind::County
            | Kind::Industry
            | Kind::SizeClass
            | Kind::Outcome => Out::Str(Vec::with_capacity(n)),
            Kind::Int | Kind::Ts => Out::I64(Vec::with_capacity(n)),
            Kind::Num => Out::F64(Vec::with_capacity(n)),
            Kind::Month | Kind::Year => Out::I32(Vec::with_capacity(n)),
        }
    }

    fn push(&mut self, v: Option<Val>) {
        match (self, v) {
            (Out::Str(o), Some(Val::Str(s))) => o.push(Some(s)),
            (Out::Str(o), _) => o.push(None),
            (Out::U32(o), Some(Val::U32(x))) => o.push(Some(x)),
            (Out::U32(o), _) => o.push(None),
            (Out::I32(o), Some(Val::I32(x))) => o.push(Some(x)),
            (Out::I32(o), _) => o.push(None),
            (Out::I64(o), Some(Val::I64(x))) => o.push(Some(x)),
            (Out::I64(o), _) => o.push(None),
            (Out::F64(o), Some(Val::F64(x))) => o.push(Some(x)),
            (Out::F64(o), _) => o.push(None),
        }
    }

    fn into_series(self, name: &str) -> Series {
        let name: PlSmallStr = name.into();
        match self {
            Out::Str(v) => Series::new(name, v),
            Out::U32(v) => Series::new(name, v),
            Out::I32(v) => Series::new(name, v),
            Out::I64(v) => Series::new(name, v),
            Out::F64(v) => Series::new(name, v),
        }
    }
}

/// Parses one column. `register` is given for tables keyed by an enterprise of the
/// register: their USCC becomes the enterprise id `eid`.
pub fn parse_column(
    spec: &'static ColumnSpec,
    raw: &RawColumn,
    register: Option<&Register>,
    repairs: &mut Repairs,
) -> Typed {
    let as_eid = spec.kind == Kind::Uscc && register.is_some();
    let name = if as_eid { "eid" } else { spec.name };
    if let Some(shifted) = beijing_midnights(spec, raw) {
        *repairs.entry("utc_time_read_as_beijing_time").or_default() += 1;
        return parse_column(spec, &shifted, register, repairs);
    }
    if let Some(t) = fast_path(spec, raw, register, repairs, name) {
        return t;
    }
    let n = raw.len();
    let mut out = Out::with_capacity(spec.kind, as_eid, n);
    let mut rejected = Vec::new();
    let mut memo: HashMap<String, (Result<i32, String>, bool)> = HashMap::new();
    let mut each = |pos: usize, c: CellRef<'_>, out: &mut Out| {
        let r = match c {
            CellRef::Text(s) if spec.kind == Kind::Month && !is_empty(c) => {
                parse_month_memo(s, &mut memo, repairs).map(|m| Some(Val::I32(m)))
            }
            _ => parse_cell(spec, c, register, repairs),
        };
        match r {
            Ok(v) => out.push(v),
            Err(reason) => {
                out.push(None);
                rejected.push(Rejected {
                    pos,
                    value: c.display(),
                    reason,
                });
            }
        }
    };
    match raw {
        RawColumn::Cells(cells) => {
            for (i, c) in cells.iter().enumerate() {
                each(i, CellRef::from(c), &mut out);
            }
        }
        RawColumn::Series(s) => series_cells(s, |i, c| each(i, c, &mut out)),
        RawColumn::Constant(..) => unreachable!("constant columns take the fast path"),
    }
    Typed {
        name,
        series: out.into_series(name),
        rejected,
    }
}

/// The columns of large Parquet files, typed without going cell by cell: numbers
/// stored as numbers, keys and months stored as text, constant Hive columns.
/// `None` when the column needs the general path.
fn fast_path(
    spec: &'static ColumnSpec,
    raw: &RawColumn,
    register: Option<&Register>,
    repairs: &mut Repairs,
    name: &'static str,
) -> Option<Typed> {
    let RawColumn::Series(s) = raw else {
        return match raw {
            RawColumn::Constant(cell, n) => Some(constant(spec, cell, *n, register, repairs, name)),
            _ => None,
        };
    };
    let dt = s.dtype();
    match spec.kind {
        Kind::Num if dt.is_primitive_numeric() => finite_numbers(s, name),
        Kind::Int if dt.is_integer() => integers(s, name),
        Kind::Uscc if *dt == DataType::String && register.is_some() => {
            uscc_ids(spec, s, register, repairs, name)
        }
        Kind::Month if *dt == DataType::String => months(spec, s, repairs, name),
        Kind::Ts if *dt == DataType::String => timestamps(spec, s, register, repairs, name),
        _ => None,
    }
}

/// One value for every row: parsed once.
fn constant(
    spec: &'static ColumnSpec,
    cell: &Cell,
    n: usize,
    register: Option<&Register>,
    repairs: &mut Repairs,
    name: &'static str,
) -> Typed {
    let one = parse_column(
        spec,
        &RawColumn::Cells(vec![cell.clone()]),
        register,
        repairs,
    );
    let series = one.series.new_from_index(0, n);
    let rejected = match one.rejected.first() {
        Some(r) => (0..n)
            .map(|pos| Rejected {
                pos,
                value: r.value.clone(),
                reason: r.reason.clone(),
            })
            .collect(),
        None => Vec::new(),
    };
    Typed {
        name,
        series,
        rejected,
    }
}

/// A numeric column: as floats, a value that is not finite rejected.
fn finite_numbers(s: &Series, name: &'static str) -> Option<Typed> {
    let f = s.cast(&DataType::Float64).ok()?;
    let ca = f.f64().ok()?;
    let bad: Vec<usize> = ca
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|x| !x.is_finite()).map(|_| i))
        .collect();
    let ca = if bad.is_empty() {
        ca.clone()
    } else {
        ca.iter()
            .map(|v| v.filter(|x| x.is_finite()))
            .collect::<Float64Chunked>()
    };
    let rejected = bad
        .into_iter()
        .map(|pos| Rejected {
            pos,
            value: format!(
                "{}",
                f.f64().ok().and_then(|c| c.get(pos)).unwrap_or(f64::NAN)
            ),
            reason: "the value is not a finite number".to_string(),
        })
        .collect();
    Some(Typed {
        name,
        series: ca.with_name(name.into()).into_series(),
        rejected,
    })
}

/// An integer column, as 64-bit integers.
fn integers(s: &Series, name: &'static str) -> Option<Typed> {
    let i = s.cast(&DataType::Int64).ok()?;
    Some(Typed {
        name,
        series: i.with_name(name.into()),
        rejected: Vec::new(),
    })
}

/// Unified social credit codes to enterprise ids: exact codes looked up in
/// parallel, the misses through the cell-by-cell path for their reason.
fn uscc_ids(
    spec: &'static ColumnSpec,
    s: &Series,
    register: Option<&Register>,
    repairs: &mut Repairs,
    name: &'static str,
) -> Option<Typed> {
    let reg = register?;
    let ca = s.str().ok()?;
    // Most codes are exact: look them up in parallel, and take only
    // the misses through the cell-by-cell path for their reason.
    let hits: Vec<Option<u32>> = {
        let vals: Vec<Option<&str>> = ca.iter().collect();
        reg.ids.get_many(&vals)
    };
    let mut out: Vec<Option<u32>> = hits;
    let mut rejected = Vec::new();
    for (i, v) in ca.iter().enumerate() {
        if out[i].is_some() {
            continue;
        }
        let c = v.map(CellRef::Text).unwrap_or(CellRef::Empty);
        match parse_cell(spec, c, register, repairs) {
            Ok(Some(Val::U32(e))) => out[i] = Some(e),
            Ok(_) => {}
            Err(reason) => rejected.push(Rejected {
                pos: i,
                value: c.display(),
                reason,
            }),
        }
    }
    Some(Typed {
        name,
        series: Series::new(name.into(), out),
        rejected,
    })
}

/// Month texts, each distinct text parsed once.
fn months(
    spec: &'static ColumnSpec,
    s: &Series,
    repairs: &mut Repairs,
    name: &'static str,
) -> Option<Typed> {
    let ca = s.str().ok()?;
    let mut memo: PlHashMap<&str, (Result<i32, String>, bool)> = PlHashMap::new();
    let mut out: Vec<Option<i32>> = Vec::with_capacity(ca.len());
    let mut rejected = Vec::new();
    let mut n_repaired = 0u64;
    for (i, v) in ca.iter().enumerate() {
        let Some(text) = v.filter(|t| !trim(t).is_empty() && !is_null_word(t)) else {
            out.push(None);
            if !spec.nullable {
                rejected.push(Rejected {
                    pos: i,
                    value: String::new(),
                    reason: format!("{} is empty; a key column needs a value", spec.name),
                });
            }
            continue;
        };
        let (r, repaired) = memo
            .entry(text)
            .or_insert_with(|| {
                let mut rp = Repairs::new();
                let r = parse_month(CellRef::Text(text), &mut rp);
                (r, !rp.is_empty())
            })
            .clone();
        if repaired {
            n_repaired += 1;
        }
        match r {
            Ok(m) => out.push(Some(m)),
            Err(reason) => {
                out.push(None);
                rejected.push(Rejected {
                    pos: i,
                    value: clip(text, 80),
                    reason,
                });
            }
        }
    }
    if n_repaired > 0 {
        *repairs.entry("month_format").or_default() += n_repaired;
    }
    Some(Typed {
        name,
        series: Series::new(name.into(), out),
        rejected,
    })
}

/// Timestamps: the usual form read directly, the others through the
/// cell-by-cell path.
fn timestamps(
    spec: &'static ColumnSpec,
    s: &Series,
    register: Option<&Register>,
    repairs: &mut Repairs,
    name: &'static str,
) -> Option<Typed> {
    let ca = s.str().ok()?;
    let mut out: Vec<Option<i64>> = Vec::with_capacity(ca.len());
    let mut rejected = Vec::new();
    for (i, v) in ca.iter().enumerate() {
        match v.map(|t| (t, fast_ts(t))) {
            None => out.push(None),
            Some((_, Some(secs))) => out.push(Some(secs)),
            Some((t, None)) => match parse_cell(spec, CellRef::Text(t), register, repairs) {
                Ok(Some(Val::I64(x))) => out.push(Some(x)),
                Ok(_) => out.push(None),
                Err(reason) => {
                    out.push(None);
                    rejected.push(Rejected {
                        pos: i,
                        value: clip(t, 80),
                        reason,
                    });
                }
            },
        }
    }
    Some(Typed {
        name,
        series: Series::new(name.into(), out),
        rejected,
    })
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The canonical `YYYY-MM-DDTHH:MM:SS` (or with a space) without a general
/// date parser; `None` for anything else, which then takes the general path.
fn fast_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || se > 59 || d < 1 {
        return None;
    }
    let month = Month::new(y as i32, mo as u32)?;
    let next = month.plus(1);
    let dim = days_from_civil(i64::from(next.year()), i64::from(next.month()), 1)
        - days_from_civil(y, mo, 1);
    if d > dim {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// A month column of timestamps whose every value falls at 16:00 in its own zone
/// (UTC, or no zone): Beijing midnights of the 1st stored in UTC (2026-10-01 00:00
/// +08:00 is 2026-09-30 16:00 UTC), which a month column holds for no other reason.
/// Returns the column moved to Beijing time (+8 h), so that each keeps its month.
fn beijing_midnights(spec: &ColumnSpec, raw: &RawColumn) -> Option<RawColumn> {
    if spec.kind != Kind::Month {
        return None;
    }
    let RawColumn::Series(s) = raw else {
        return None;
    };
    let DataType::Datetime(unit, tz) = s.dtype() else {
        return None;
    };
    let utc = tz
        .as_ref()
        .is_none_or(|z| matches!(fixed_offset(z), Some(0)));
    if !utc {
        return None;
    }
    let per_sec = match unit {
        TimeUnit::Milliseconds => 1_000i64,
        TimeUnit::Microseconds => 1_000_000,
        TimeUnit::Nanoseconds => 1_000_000_000,
    };
    let ints = s.cast(&DataType::Int64).ok()?;
    let ca = ints.i64().ok()?;
    let day = 86_400 * per_sec;
    let sixteen = 16 * 3_600 * per_sec;
    if ca.null_count() == ca.len() || !ca.iter().flatten().all(|v| v.rem_euclid(day) == sixteen) {
        return None;
    }
    let moved = (ca + 8 * 3_600 * per_sec)
        .into_series()
        .cast(&DataType::Datetime(*unit, None))
        .ok()?;
    Some(RawColumn::Series(moved.with_name(s.name().clone())))
}

/// Calls `f` with every value of a typed Parquet column, as a [`CellRef`].
fn series_cells(s: &Series, mut f: impl FnMut(usize, CellRef<'_>)) {
    let dt = s.dtype().clone();
    let fallback =
        |s: &Series, f: &mut dyn FnMut(usize, CellRef<'_>)| match s.cast(&DataType::String) {
            Ok(t) => {
                if let Ok(ca) = t.str() {
                    for (i, v) in ca.iter().enumerate() {
                        f(i, v.map(CellRef::Text).unwrap_or(CellRef::Empty));
                    }
                }
            }
            Err(_) => {
                for i in 0..s.len() {
                    f(i, CellRef::Text("<unreadable value>"));
                }
            }
        };
    match dt {
        DataType::String => {
            if let Ok(ca) = s.str() {
                for (i, v) in ca.iter().enumerate() {
                    f(i, v.map(CellRef::Text).unwrap_or(CellRef::Empty));
                }
            }
        }
        DataType::Float32 | DataType::Float64 => {
            if let Ok(t) = s.cast(&DataType::Float64) {
                if let Ok(ca) = t.f64() {
                    for (i, v) in ca.iter().enumerate() {
                        f(i, v.map(CellRef::Float).unwrap_or(CellRef::Empty));
                    }
                }
            }
        }
        dt if dt.is_integer() => match s.cast(&DataType::Int64) {
            Ok(t) => {
                if let Ok(ca) = t.i64() {
                    for (i, v) in ca.iter().enumerate() {
                        f(i, v.map(CellRef::Int).unwrap_or(CellRef::Empty));
                    }
                }
            }
            // A u64 beyond i64: read as text, which then fails its kind's check.
            Err(_) => fallback(s, &mut f),
        },
        DataType::Boolean => {
            if let Ok(ca) = s.bool() {
                for (i, v) in ca.iter().enumerate() {
                    f(i, v.map(CellRef::Bool).unwrap_or(CellRef::Empty));
                }
            }
        }
        DataType::Date => {
            if let Ok(t) = s.cast(&DataType::Int32) {
                if let Ok(ca) = t.i32() {
                    for (i, v) in ca.iter().enumerate() {
                        f(
                            i,
                            v.map(|d| CellRef::Date(d as f64 + 25569.0))
                                .unwrap_or(CellRef::Empty),
                        );
                    }
                }
            }
        }
        DataType::Datetime(unit, tz) => {
            let per_sec = match unit {
                TimeUnit::Milliseconds => 1_000i64,
                TimeUnit::Microseconds => 1_000_000,
                TimeUnit::Nanoseconds => 1_000_000_000,
            };
            let per_day = per_sec as f64 * 86_400.0;
            // A zone-aware column stores the instant in UTC: the wall-clock time of
            // its zone is what the month and the date mean (2026-10-01 00:00 in
            // Beijing is 2026-09-30 16:00 UTC, and belongs to October).
            let zone = tz.as_ref().map(|z| zone_of(z));
            if let Ok(t) = s.cast(&DataType::Int64) {
                if let Ok(ca) = t.i64() {
                    for (i, v) in ca.iter().enumerate() {
                        match (v, &zone) {
                            (None, _) => f(i, CellRef::Empty),
                            (Some(x), None) => f(i, CellRef::Date(x as f64 / per_day + 25569.0)),
                            (Some(_), Some(Err(name))) => f(i, CellRef::Text(name.as_str())),
                            (Some(x), Some(Ok(z))) => {
                                let offset = utc_offset_seconds(z, x.div_euclid(per_sec));
                                let local = x as f64 + (offset * per_sec) as f64;
                                f(i, CellRef::Date(local / per_day + 25569.0))
                            }
                        }
                    }
                }
            }
        }
        _ => fallback(s, &mut f),
    }
}

/// The zone of a zone-aware timestamp column: a fixed offset (`+08:00`) or an
/// IANA name (`Asia/Shanghai`); `Err` with a text naming it when unknown (every
/// value of the column is then rejected, naming the zone).
fn zone_of(name: &str) -> Result<Zone, String> {
    let t = name.trim();
    if let Some(secs) = fixed_offset(t) {
        return Ok(Zone::Fixed(secs));
    }
    t.parse::<chrono_tz::Tz>()
        .map(Zone::Named)
        .map_err(|_| format!("<timestamp in the unknown time zone '{t}'>"))
}

/// A time zone of a Parquet timestamp.
enum Zone {
    Fixed(i64),
    Named(chrono_tz::Tz),
}

/// `+08:00`, `+0800`, `-05:30`, `UTC`, `Z`: seconds east of UTC.
fn fixed_offset(t: &str) -> Option<i64> {
    if matches!(
        t.to_ascii_uppercase().as_str(),
        "UTC" | "Z" | "GMT" | "ETC/UTC"
    ) {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// The zone's offset from UTC at an instant (seconds since 1970, UTC).
fn utc_offset_seconds(z: &Zone, utc_secs: i64) -> i64 {
    use chrono::Offset;
    match z {
        Zone::Fixed(s) => *s,
        Zone::Named(tz) => chrono::DateTime::from_timestamp(utc_secs, 0)
            .map(|d| d.with_timezone(tz).offset().fix().local_minus_utc() as i64)
            .unwrap_or(0),
    }
}

fn parse_month_memo(
    s: &str,
    memo: &mut HashMap<String, (Result<i32, String>, bool)>,
    repairs: &mut Repairs,
) -> Result<i32, String> {
    let (result, repaired) = match memo.get(s) {
        Some(e) => e.clone(),
        None => {
            let mut r = Repairs::new();
            let e = (parse_month(CellRef::Text(s), &mut r), !r.is_empty());
            memo.insert(s.to_string(), e.clone());
            e
        }
    };
    if repaired {
        *repairs.entry("month_format").or_default() += 1;
    }
    result
}

/// Words and marks that exports write for "no value" (`NULL`, `NA`, `N/A`, `-`, `—`…):
/// read as missing, exactly like an empty cell.
pub fn is_null_word(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "null", "na", "n/a", "#n/a", "none", "nil", "-", "--", "—", "——", "–", "/",
    ];
    let t = trim(s);
    !t.is_empty() && t.len() <= 6 && WORDS.iter().any(|w| t.eq_ignore_ascii_case(w))
}

fn is_empty(c: CellRef<'_>) -> bool {
    match c {
        CellRef::Empty => true,
        CellRef::Text(s) => trim(s).is_empty() || is_null_word(s),
        _ => false,
    }
}

fn parse_cell(
    spec: &ColumnSpec,
    c: CellRef<'_>,
    register: Option<&Register>,
    repairs: &mut Repairs,
) -> Result<Option<Val>, String> {
    if let CellRef::Unknown(_, why) = c {
        return Err(why.to_string());
    }
    if is_empty(c) {
        return if spec.nullable {
            Ok(None)
        } else {
            Err(format!(
                "{} is empty; a key column needs a value",
                spec.name
            ))
        };
    }
    match spec.kind {
        Kind::Uscc => match register {
            Some(reg) => resolve_enterprise(c, reg, repairs).map(|e| Some(Val::U32(e))),
            None => parse_uscc(c, repairs).map(|s| Some(Val::Str(s))),
        },
        Kind::Text { max_chars } => {
            let s = cell_text(c);
            let t = trim(&s);
            let n = t.chars().count();
            if n > max_chars {
                return Err(format!(
                    "text of {n} characters; at most {max_chars} are accepted"
                ));
            }
            if t.len() != s.len() {
                *repairs.entry("whitespace_trimmed").or_default() += 1;
            }
            Ok(Some(Val::Str(t.to_string())))
        }
        Kind::Id => {
            let (k, changed) = normalize_key(&cell_text(c));
            if k.chars().count() > 64 {
                return Err(format!(
                    "identifier of {} characters; at most 64",
                    k.chars().count()
                ));
            }
            if changed {
                *repairs.entry("key_normalised").or_default() += 1;
            }
            Ok(Some(Val::Str(k)))
        }
        Kind::County => parse_county(c, repairs).map(|s| Some(Val::Str(s))),
        Kind::Industry => parse_industry(c, repairs).map(|s| Some(Val::Str(s))),
        Kind::Int => parse_int(c, repairs).map(|v| Some(Val::I64(v))),
        Kind::Num => parse_num(c, repairs).map(|v| Some(Val::F64(v))),
        Kind::Month => parse_month(c, repairs).map(|m| Some(Val::I32(m))),
        Kind::Year => parse_year(c, repairs).map(|y| Some(Val::I32(y))),
        Kind::Ts => parse_ts(c, repairs).map(|t| Some(Val::I64(t))),
        Kind::SizeClass => parse_enum(
            c,
            &[
                (
                    "large",
                    &["large", "大型", "大", "大型企业", "大型工业企业", "l"],
                ),
                (
                    "medium",
                    &["medium", "中型", "中", "中型企业", "中型工业企业", "m"],
                ),
                (
                    "small",
                    &["small", "小型", "小", "小型企业", "小型工业企业", "s"],
                ),
                (
                    "micro",
                    &["micro", "微型", "微", "微型企业", "微型工业企业"],
                ),
            ],
            repairs,
        )
        .map(|s| Some(Val::Str(s.to_string()))),
        Kind::Outcome => parse_enum(
            c,
            &[
                (
                    "confirmed_error",
                    &["confirmed_error", "核实有误", "有误", "确认有误"],
                ),
                ("explained", &["explained", "说明合理", "合理"]),
                ("no_issue", &["no_issue", "无问题", "无误"]),
            ],
            repairs,
        )
        .map(|s| Some(Val::Str(s.to_string()))),
    }
}

fn cell_text(c: CellRef<'_>) -> Cow<'_, str> {
    match c {
        CellRef::Text(s) => Cow::Borrowed(s),
        CellRef::Int(i) => Cow::Owned(i.to_string()),
        other => Cow::Owned(other.display()),
    }
}

/// Validates a USCC of the register.
fn parse_uscc(c: CellRef<'_>, repairs: &mut Repairs) -> Result<String, String> {
    let raw = cell_text(c);
    let (k, changed) = normalize_key(&raw);
    uscc::validate(&k).map_err(|e| format!("invalid USCC: {e}"))?;
    if changed {
        *repairs.entry("key_normalised").or_default() += 1;
    }
    Ok(k)
}

/// Finds the enterprise a submission belongs to.
fn resolve_enterprise(
    c: CellRef<'_>,
    reg: &Register,
    repairs: &mut Repairs,
) -> Result<u32, String> {
    let raw = cell_text(c);
    if let Some(e) = reg.ids.get(raw.as_ref()) {
        return Ok(e);
    }
    let (k, changed) = normalize_key(&raw);
    if changed {
        if let Some(e) = reg.ids.get(&k) {
            *repairs.entry("key_normalised").or_default() += 1;
            return Ok(e);
        }
    }
    uscc::validate(&k).map_err(|e| format!("invalid USCC: {e}"))?;
    if let Some(why) = reg.rejected.get(&k) {
        return Err(format!(
            "enterprise {k} is not in the register: its row in enterprises was quarantined ({why})"
        ));
    }
    Err(format!(
        "enterprise {k} is not in the enterprise register (enterprises)"
    ))
}

fn digits_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_county(c: CellRef<'_>, repairs: &mut Repairs) -> Result<String, String> {
    let raw = cell_text(c);
    let (k, changed) = normalize_key(&raw);
    if !digits_only(&k) || k.len() != 6 {
        return Err(format!(
            "'{}' is not a 6-digit division code",
            clip(&raw, 40)
        ));
    }
    if !PROVINCES.contains(&&k[..2]) {
        return Err(format!("'{k}': province code {} does not exist", &k[..2]));
    }
    if changed {
        *repairs.entry("key_normalised").or_default() += 1;
    }
    Ok(k)
}

fn parse_industry(c: CellRef<'_>, repairs: &mut Repairs) -> Result<String, String> {
    let (k, changed) = match c {
        // A number cell drops the leading zero of divisions 01–09 (0610 → 610).
        CellRef::Int(i) if (100..1000).contains(&i) => {
            *repairs.entry("leading_zero_restored").or_default() += 1;
            (format!("0{i}"), false)
        }
        _ => normalize_key(&cell_text(c)),
    };
    // "C1311": the section letter in front of the class code.
    let k = if k.len() == 5 && k.as_bytes()[0].is_ascii_uppercase() && digits_only(&k[1..]) {
        *repairs.entry("section_letter_removed").or_default() += 1;
        k[1..].to_string()
    } else {
        k
    };
    if !digits_only(&k) || k.len() != 4 {
        return Err(format!(
            "'{}' is not a 4-digit GB/T 4754-2017 industry code",
            clip(&cell_text(c), 40)
        ));
    }
    let division: u32 = k[..2].parse().unwrap_or(0);
    if !(1..=97).contains(&division) {
        return Err(format!(
            "'{k}': industry division {} does not exist in GB/T 4754-2017",
            &k[..2]
        ));
    }
    if changed {
        *repairs.entry("key_normalised").or_default() += 1;
    }
    Ok(k)
}

fn clean_number_text<'a>(s: &'a str, repairs: &mut Repairs) -> Result<Cow<'a, str>, String> {
    let t = trim(s);
    let hw = half_width(t);
    if matches!(hw, Cow::Owned(_)) {
        *repairs.entry("full_width_digits").or_default() += 1;
    }
    if hw.contains(',') {
        match strip_thousands(&hw) {
            Some(v) => {
                *repairs.entry("thousands_separator").or_default() += 1;
                return Ok(Cow::Owned(v));
            }
            None => return Err(format!("'{}' is not a number", clip(s, 40))),
        }
    }
    Ok(match hw {
        Cow::Borrowed(b) => Cow::Borrowed(b),
        Cow::Owned(o) => Cow::Owned(o),
    })
}

fn parse_num(c: CellRef<'_>, repairs: &mut Repairs) -> Result<f64, String> {
    let v = match c {
        CellRef::Int(i) => i as f64,
        CellRef::Float(f) => f,
        CellRef::Text(s) => {
            let t = clean_number_text(s, repairs)?;
            let lower = t.to_ascii_lowercase();
            let looks_numeric = lower
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e'));
            let v: f64 = if looks_numeric {
                lower
                    .parse()
                    .map_err(|_| format!("'{}' is not a number", clip(s, 40)))?
            } else if matches!(
                lower.trim_start_matches(['-', '+']),
                "nan" | "inf" | "infinity"
            ) {
                f64::NAN
            } else {
                return Err(format!("'{}' is not a number", clip(s, 40)));
            };
            v
        }
        CellRef::Bool(_) => return Err("a true/false value is not a number".to_string()),
        CellRef::Date(_) => return Err("a date is not a number".to_string()),
        CellRef::Empty => return Err("the value is empty".to_string()),
        CellRef::Unknown(_, why) => return Err(why.to_string()),
    };
    if !v.is_finite() {
        return Err(format!("'{}' is not a finite number", c.display()));
    }
    Ok(v)
}

fn parse_int(c: CellRef<'_>, repairs: &mut Repairs) -> Result<i64, String> {
    let f = match c {
        CellRef::Int(i) => return Ok(i),
        CellRef::Text(s) => {
            let t = clean_number_text(s, repairs)?;
            if let Ok(i) = t.parse::<i64>() {
                return Ok(i);
            }
            parse_num(CellRef::Text(&t), repairs)?
        }
        other => parse_num(other, repairs)?,
    };
    if f.fract() != 0.0 || f.abs() > 9.0e15 {
        return Err(format!("'{}' is not a whole number", c.display()));
    }
    Ok(f as i64)
}

fn parse_month(c: CellRef<'_>, repairs: &mut Repairs) -> Result<i32, String> {
    let from_date = |d: chrono::NaiveDate, repairs: &mut Repairs| {
        use chrono::Datelike;
        *repairs.entry("date_as_month").or_default() += 1;
        Month::new(d.year(), d.month())
            .map(|m| m.0)
            .ok_or_else(|| format!("{d} is outside the accepted years"))
    };
    match c {
        CellRef::Text(s) => {
            let (m, repair) = Month::parse_lenient(s)?;
            if repair.is_some() {
                *repairs.entry("month_format").or_default() += 1;
            }
            Ok(m.0)
        }
        CellRef::Int(i) if (100_000..1_000_000).contains(&i) => {
            parse_month(CellRef::Text(&i.to_string()), repairs)
        }
        CellRef::Int(i) if (20_000..80_000).contains(&i) => match excel_serial_to_date(i as f64) {
            Some(d) => from_date(d, repairs),
            None => Err(format!("{i} is not a month")),
        },
        CellRef::Date(d) | CellRef::Float(d) => match excel_serial_to_date(d) {
            Some(date) if (20_000.0..80_000.0).contains(&d) => from_date(date, repairs),
            _ => Err(format!(
                "'{}' is not a month (expected YYYY-MM)",
                c.display()
            )),
        },
        other => Err(format!(
            "'{}' is not a month (expected YYYY-MM)",
            other.display()
        )),
    }
}

fn parse_year(c: CellRef<'_>, repairs: &mut Repairs) -> Result<i32, String> {
    use chrono::Datelike;
    let y = match c {
        CellRef::Date(d) => {
            *repairs.entry("date_as_year").or_default() += 1;
            excel_serial_to_date(d)
                .map(|d| d.year() as i64)
                .unwrap_or(-1)
        }
        CellRef::Text(s) => {
            let t = trim(s).trim_end_matches('年');
            parse_int(CellRef::Text(t), repairs)?
        }
        other => parse_int(other, repairs)?,
    };
    if !(crate::model::month::MIN_YEAR as i64..=crate::model::month::MAX_YEAR as i64).contains(&y) {
        return Err(format!("'{}' is not a year", c.display()));
    }
    Ok(y as i32)
}

/// Seconds since 1970-01-01 00:00 of a naive (local) date-time.
fn epoch_seconds(dt: chrono::NaiveDateTime) -> i64 {
    dt.and_utc().timestamp()
}

fn parse_ts(c: CellRef<'_>, repairs: &mut Repairs) -> Result<i64, String> {
    match c {
        CellRef::Date(d) | CellRef::Float(d) => {
            let date = excel_serial_to_date(d)
                .ok_or_else(|| format!("'{}' is not a date-time", c.display()))?;
            let secs = ((d - d.floor()) * 86_400.0).round() as i64;
            Ok(epoch_seconds(date.and_hms_opt(0, 0, 0).expect("midnight exists")) + secs)
        }
        CellRef::Text(s) => {
            let t = half_width(trim(s)).into_owned();
            if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(&t) {
                return Ok(epoch_seconds(dt.naive_local()));
            }
            const FORMATS: [&str; 6] = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M:%S",
                "%Y/%m/%d %H:%M",
            ];
            for f in FORMATS {
                if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(&t, f) {
                    if !f.starts_with("%Y-%m-%dT%H:%M:%S") {
                        *repairs.entry("timestamp_format").or_default() += 1;
                    }
                    return Ok(epoch_seconds(dt));
                }
            }
            for f in ["%Y-%m-%d", "%Y/%m/%d"] {
                if let Ok(d) = chrono::NaiveDate::parse_from_str(&t, f) {
                    return Ok(epoch_seconds(
                        d.and_hms_opt(0, 0, 0).expect("midnight exists"),
                    ));
                }
            }
            Err(format!("'{}' is not an ISO-8601 date-time", clip(s, 40)))
        }
        other => Err(format!("'{}' is not a date-time", other.display())),
    }
}

fn parse_enum(
    c: CellRef<'_>,
    options: &[(&'static str, &[&str])],
    repairs: &mut Repairs,
) -> Result<&'static str, String> {
    let raw = cell_text(c);
    let t = trim(&raw).to_lowercase();
    for (canon, names) in options {
        if names.iter().any(|n| n.to_lowercase() == t) {
            if t != *canon {
                *repairs.entry("value_translated").or_default() += 1;
            }
            return Ok(canon);
        }
    }
    let allowed: Vec<&str> = options.iter().map(|(c, _)| *c).collect();
    Err(format!(
        "'{}' is not one of {}",
        clip(&raw, 40),
        allowed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_one_by_one_and_a_column_at_a_time_as_a_map_finds_them() {
        // Codes of 18 ASCII characters (packed) and others (kept as text), a
        // code given twice (the later id), and codes not in the register.
        let alphabet = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let mut x = 12345u64;
        let mut code = |len: usize| -> String {
            (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(x >> 33) as usize % alphabet.len()] as char
                })
                .collect()
        };
        let mut given: Vec<String> = (0..5000)
            .map(|i| code(if i % 50 == 0 { 17 } else { 18 }))
            .collect();
        given.push("测试企业代码".to_string());
        given.push(given[10].clone());
        let ids = UsccIds::new(
            given
                .iter()
                .enumerate()
                .map(|(i, u)| (u.as_str(), i as u32)),
        );
        let mut map: HashMap<&str, u32> = HashMap::new();
        for (i, u) in given.iter().enumerate() {
            map.insert(u.as_str(), i as u32);
        }
        let mut asked: Vec<String> = given.clone();
        asked.extend((0..3000).map(|i| code(if i % 7 == 0 { 19 } else { 18 })));
        asked.reverse();
        let mut column: Vec<Option<&str>> = asked.iter().map(|s| Some(s.as_str())).collect();
        column.insert(3, None);
        let want: Vec<Option<u32>> = column
            .iter()
            .map(|c| c.and_then(|c| map.get(c).copied()))
            .collect();
        assert_eq!(ids.get_many(&column), want);
        for (c, w) in column.iter().zip(&want) {
            if let Some(c) = c {
                assert_eq!(ids.get(c), *w, "{c}");
            }
        }
        assert_eq!(ids.get(&given[10]), Some(5001));
        assert_eq!(ids.len(), map.len());
        assert!(UsccIds::default().get(&given[0]).is_none());
    }

    fn num(s: &str) -> Result<f64, String> {
        parse_num(CellRef::Text(s), &mut Repairs::new())
    }

    #[test]
    fn numbers() {
        assert_eq!(num("1,234.5"), Ok(1234.5));
        assert_eq!(num("１２３"), Ok(123.0));
        assert_eq!(num(" -12 "), Ok(-12.0));
        assert_eq!(num("1e3"), Ok(1000.0));
        assert!(num("NaN").unwrap_err().contains("finite"));
        assert!(num("inf").unwrap_err().contains("finite"));
        assert!(num("-Infinity").unwrap_err().contains("finite"));
        assert!(num("1e400").unwrap_err().contains("finite"));
        assert!(num("12,34").unwrap_err().contains("not a number"));
        assert!(num("abc").unwrap_err().contains("not a number"));
        assert!(num("12元").is_err());
    }

    #[test]
    fn integers() {
        let mut r = Repairs::new();
        assert_eq!(parse_int(CellRef::Text("12"), &mut r), Ok(12));
        assert_eq!(parse_int(CellRef::Text("12.0"), &mut r), Ok(12));
        assert!(parse_int(CellRef::Text("12.5"), &mut r)
            .unwrap_err()
            .contains("whole"));
        assert_eq!(parse_int(CellRef::Float(7.0), &mut r), Ok(7));
    }

    #[test]
    fn codes() {
        let mut r = Repairs::new();
        assert_eq!(
            parse_county(CellRef::Int(341002), &mut r).unwrap(),
            "341002"
        );
        assert!(parse_county(CellRef::Text("34100"), &mut r).is_err());
        assert!(parse_county(CellRef::Text("991002"), &mut r)
            .unwrap_err()
            .contains("province"));
        assert_eq!(parse_industry(CellRef::Int(610), &mut r).unwrap(), "0610");
        assert!(parse_industry(CellRef::Text("610"), &mut r).is_err());
        assert_eq!(
            parse_industry(CellRef::Text("C1311"), &mut r).unwrap(),
            "1311"
        );
        assert!(parse_industry(CellRef::Text("9911"), &mut r).is_err());
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        let mut r = Repairs::new();
        for t in [
            "2026-10-05T10:30:00",
            "2024-02-29 23:59:59",
            "1970-01-01T00:00:00",
            "2000-03-01T12:00:01",
        ] {
            assert_eq!(fast_ts(t), parse_ts(CellRef::Text(t), &mut r).ok(), "{t}");
        }
        assert_eq!(fast_ts("2026-02-30T10:00:00"), None);
        assert_eq!(fast_ts("2026-13-01T10:00:00"), None);
        assert_eq!(fast_ts("2026-10-05T10:30"), None);
    }

    #[test]
    fn timestamps() {
        let mut r = Repairs::new();
        let a = parse_ts(CellRef::Text("2026-10-05T10:30:00"), &mut r).unwrap();
        let b = parse_ts(CellRef::Text("2026-10-05 10:30"), &mut r).unwrap();
        let c = parse_ts(CellRef::Text("2026-10-05T10:30:00+08:00"), &mut r).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(parse_ts(CellRef::Text("yesterday"), &mut r).is_err());
    }
}
