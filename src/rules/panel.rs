//! Month panels: a table's figure laid out enterprise × month, so that a year to
//! date, a lag or a run of months is arithmetic over month columns rather than a
//! join or a sort. Used by the rules that add up the year to date (EN001, EN003,
//! TX001, TX003, the grades' sizes) and the rules that compare a month with an
//! earlier one (IN004, IN005, IN008, IN009).

use polars::prelude::*;

use super::common::pe;
use crate::error::Result;
use crate::load::Batch;
use crate::model::Table;

/// A month panel of one table's figure: for every enterprise (register row)
/// and month from `first` to `last`, the sum of its known values (the value
/// itself when it has one), and how many
/// rows, known values, missing values and quarantined rows it has. Stored a
/// month column after another, so a month is one slice.
pub struct MonthCells {
    pub first: i32,
    pub width: usize,
    pub n: usize,
    pub sum: Vec<f64>,
    pub rows: Vec<u16>,
    pub known: Vec<u16>,
    pub nulls: Vec<u16>,
    pub quarantined: Vec<u16>,
}

impl MonthCells {
    pub fn new(first: i32, last: i32, n: usize) -> MonthCells {
        let width = (last - first + 1).max(0) as usize;
        MonthCells {
            first,
            width,
            n,
            sum: vec![0.0; width * n],
            rows: vec![0; width * n],
            known: vec![0; width * n],
            nulls: vec![0; width * n],
            quarantined: vec![0; width * n],
        }
    }

    /// Column `value` of table `t` over the months `first..=last`, with the
    /// table's rows quarantined for a value; empty when the table was not given.
    pub fn of(batch: &Batch, t: Table, value: &str, first: i32, last: i32) -> Result<MonthCells> {
        let mut c = MonthCells::new(first, last, batch.enterprises.height());
        if let Some(df) = batch.table(t) {
            c.add_rows(df, value)?;
        }
        c.add_quarantined(&batch.unknown_keys(t))?;
        Ok(c)
    }

    /// The cell of enterprise `e` in month `p`, when within the panel (never a
    /// quarantined row's month that cannot be told, `load::UNPLACED`).
    pub fn at(&self, e: Option<u32>, p: Option<i32>) -> Option<usize> {
        let (e, p) = (e? as usize, p?);
        let k = p.checked_sub(self.first)?;
        (e < self.n && (0..self.width as i32).contains(&k)).then(|| k as usize * self.n + e)
    }

    pub fn add_rows(&mut self, df: &DataFrame, value: &str) -> Result<()> {
        each_row(df, value, |e, p, v| {
            let Some(i) = self.at(Some(e), Some(p)) else {
                return;
            };
            self.rows[i] += 1;
            match v {
                Some(v) => {
                    // A cell of one value holds it as read (−0 included).
                    self.sum[i] = if self.known[i] == 0 {
                        v
                    } else {
                        self.sum[i] + v
                    };
                    self.known[i] += 1;
                }
                None => self.nulls[i] += 1,
            }
        })
    }

    pub fn add_quarantined(&mut self, keys: &DataFrame) -> Result<()> {
        let e = keys.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let p = keys.column("period").map_err(pe)?.i32().map_err(pe)?;
        for (e, p) in e.iter().zip(p.iter()) {
            if let Some(i) = self.at(e, p) {
                self.quarantined[i] += 1;
            }
        }
        Ok(())
    }
}

/// Calls `f(eid, period, value)` for each row of `df` whose keys are given,
/// `value` its column `value` as a float (`None` where empty): over the columns'
/// slices when the keys have no gaps (as loaded), else row by row.
pub fn each_row(
    df: &DataFrame,
    value: &str,
    mut f: impl FnMut(u32, i32, Option<f64>),
) -> Result<()> {
    let e = df.column("eid").map_err(pe)?.u32().map_err(pe)?.rechunk();
    let p = df
        .column("period")
        .map_err(pe)?
        .i32()
        .map_err(pe)?
        .rechunk();
    let v = df
        .column(value)
        .map_err(pe)?
        .cast(&DataType::Float64)
        .map_err(pe)?;
    let v = v.f64().map_err(pe)?.rechunk();
    if let (Ok(es), Ok(ps), Some(arr)) = (e.cont_slice(), p.cont_slice(), v.downcast_iter().next())
    {
        let vals = arr.values().as_slice();
        match arr.validity() {
            None => (0..es.len()).for_each(|i| f(es[i], ps[i], Some(vals[i]))),
            Some(ok) => (0..es.len()).for_each(|i| f(es[i], ps[i], ok.get_bit(i).then(|| vals[i]))),
        }
        return Ok(());
    }
    for ((e, p), v) in e.iter().zip(p.iter()).zip(v.iter()) {
        if let (Some(e), Some(p)) = (e, p) {
            f(e, p, v);
        }
    }
    Ok(())
}

/// Running totals of a [`MonthCells`] panel, enterprise by enterprise.
pub struct Running {
    pub sum: Vec<f64>,
    pub rows: Vec<u32>,
    pub known: Vec<u32>,
    pub nulls: Vec<u32>,
    pub quarantined: Vec<u32>,
}

impl Running {
    pub fn new(n: usize) -> Running {
        Running {
            sum: vec![0.0; n],
            rows: vec![0; n],
            known: vec![0; n],
            nulls: vec![0; n],
            quarantined: vec![0; n],
        }
    }

    /// Adds month column `k` of `c`.
    pub fn add(&mut self, c: &MonthCells, k: usize) {
        let r = k * c.n..(k + 1) * c.n;
        let add = |acc: &mut [u32], col: &[u16]| {
            for (a, v) in acc.iter_mut().zip(col) {
                *a += *v as u32;
            }
        };
        for (a, v) in self.sum.iter_mut().zip(&c.sum[r.clone()]) {
            *a += *v;
        }
        add(&mut self.rows, &c.rows[r.clone()]);
        add(&mut self.known, &c.known[r.clone()]);
        add(&mut self.nulls, &c.nulls[r.clone()]);
        add(&mut self.quarantined, &c.quarantined[r]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quarantined row whose month cannot be told is in no month of the panel
    /// (its month, `i32::MIN`, must not wrap into one).
    #[test]
    fn a_row_of_unknown_month_is_in_no_cell() {
        let c = MonthCells::new(2026 * 12, 2026 * 12 + 11, 3);
        assert_eq!(c.at(Some(1), Some(crate::load::UNPLACED)), None);
        assert_eq!(c.at(Some(1), Some(i32::MAX)), None);
        assert_eq!(c.at(Some(3), Some(2026 * 12)), None);
        assert_eq!(c.at(Some(2), Some(2026 * 12 + 1)), Some(3 + 2));
    }
}
