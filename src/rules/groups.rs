//! Statistics per group of rows, computed over integer group ids: the peer
//! medians, counts and MADs of a whole-batch audit, where every row is scored
//! against its own group. A window expression over text keys (`over(["period",
//! "industry_code"])`) hashes the keys again for every statistic; here each key
//! column is coded once, each level of grouping is one integer per row, and
//! each group's values are laid out side by side for medians by selection.

use polars::prelude::*;
use rayon::prelude::*;

use super::common::pe;
use crate::detect::quantile::median_unsorted;
use crate::error::Result;

/// Dense group ids (`0..groups`) of the rows of `df` by the columns `by`, rows
/// with equal keys (nulls equal to nulls) in the same group. No columns: one
/// group.
pub fn group_ids(df: &DataFrame, by: &[&str]) -> Result<(Vec<u32>, usize)> {
    Coder::new(df).ids(by)
}

/// [`group_ids`] of several groupings of one frame, each key column coded once.
pub struct Coder<'a> {
    df: &'a DataFrame,
    codes: PlHashMap<String, (Vec<u32>, usize)>,
}

impl<'a> Coder<'a> {
    pub fn new(df: &'a DataFrame) -> Coder<'a> {
        Coder {
            df,
            codes: PlHashMap::new(),
        }
    }

    /// The group ids of the rows by the columns `by`, and how many groups.
    pub fn ids(&mut self, by: &[&str]) -> Result<(Vec<u32>, usize)> {
        let rows = self.df.height();
        let mut ids = vec![0u32; rows];
        let mut groups = 1usize;
        for name in by {
            if !self.codes.contains_key(*name) {
                let coded = column_codes(self.df.column(name).map_err(pe)?)?;
                self.codes.insert(name.to_string(), coded);
            }
            let (codes, card) = &self.codes[*name];
            let card = *card;
            let product = groups as u64 * card as u64;
            if product <= (rows as u64).max(1 << 16) * 4 {
                // Dense enough to renumber through an array.
                let mut seen = vec![u32::MAX; product as usize];
                let mut next = 0u32;
                for (id, c) in ids.iter_mut().zip(codes) {
                    let k = *id as usize * card + *c as usize;
                    if seen[k] == u32::MAX {
                        seen[k] = next;
                        next += 1;
                    }
                    *id = seen[k];
                }
                groups = next as usize;
            } else {
                let mut seen: PlHashMap<u64, u32> = PlHashMap::new();
                for (id, c) in ids.iter_mut().zip(codes) {
                    let k = *id as u64 * card as u64 + *c as u64;
                    let next = seen.len() as u32;
                    *id = *seen.entry(k).or_insert(next);
                }
                groups = seen.len();
            }
        }
        Ok((ids, if rows == 0 { 0 } else { groups }))
    }
}

/// One code per row (`0..cardinality`), equal values equal codes, null a value
/// of its own; integers of a narrow range coded through an array.
fn column_codes(c: &Column) -> Result<(Vec<u32>, usize)> {
    fn code<K: std::hash::Hash + Eq>(it: impl Iterator<Item = Option<K>>) -> (Vec<u32>, usize) {
        let mut seen: PlHashMap<K, u32> = PlHashMap::new();
        let codes = it
            .map(|v| match v {
                None => 0,
                Some(v) => {
                    let next = seen.len() as u32 + 1;
                    *seen.entry(v).or_insert(next)
                }
            })
            .collect();
        (codes, seen.len() + 1)
    }
    let s = c.as_materialized_series();
    Ok(match s.dtype() {
        DataType::String => code(s.str().map_err(pe)?.iter()),
        DataType::Boolean => code(s.bool().map_err(pe)?.iter()),
        dt if dt.is_integer() => {
            let s = s.cast(&DataType::Int64).map_err(pe)?;
            let v = s.i64().map_err(pe)?;
            match (v.min(), v.max()) {
                // A narrow range (months, small codes): the codes kept in an
                // array indexed by the value less the least, not in a hash.
                (Some(lo), Some(hi))
                    if (hi as i128 - lo as i128) < (s.len() as i128).max(1 << 16) * 4 =>
                {
                    let mut seen = vec![0u32; (hi - lo + 1) as usize];
                    let mut next = 0u32;
                    let codes = v
                        .iter()
                        .map(|x| match x {
                            None => 0,
                            Some(x) => {
                                let c = &mut seen[(x - lo) as usize];
                                if *c == 0 {
                                    next += 1;
                                    *c = next;
                                }
                                *c
                            }
                        })
                        .collect();
                    (codes, next as usize + 1)
                }
                _ => code(v.iter()),
            }
        }
        _ => {
            // Any other type by its text (the rules group by codes and months).
            let s = s.cast(&DataType::String).map_err(pe)?;
            code(s.str().map_err(pe)?.iter())
        }
    })
}

/// Per group: the median of its known values, their count, and (when asked) the
/// median absolute deviation from that median. A group without values has no
/// median (`None`). Medians as Polars' `median` gives them (the mean of the two
/// middle values of an even count).
pub struct Stats {
    pub median: Vec<Option<f64>>,
    pub count: Vec<u32>,
    pub mad: Vec<Option<f64>>,
}

/// [`Stats`] of `x` (one value per row, `None` unknown) by the rows' group ids.
pub fn stats(x: &[Option<f64>], ids: &[u32], groups: usize, with_mad: bool) -> Stats {
    // The known values laid out group after group (a counting sort).
    let mut count = vec![0u32; groups];
    for (v, &g) in x.iter().zip(ids) {
        if v.is_some() {
            count[g as usize] += 1;
        }
    }
    let mut start = Vec::with_capacity(groups + 1);
    let mut at = 0usize;
    for &c in &count {
        start.push(at);
        at += c as usize;
    }
    start.push(at);
    let mut values = vec![0.0f64; at];
    let mut fill = start.clone();
    for (v, &g) in x.iter().zip(ids) {
        if let Some(v) = v {
            values[fill[g as usize]] = *v;
            fill[g as usize] += 1;
        }
    }
    let mut slices: Vec<&mut [f64]> = Vec::with_capacity(groups);
    let mut rest: &mut [f64] = &mut values;
    for &c in &count {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(c as usize);
        slices.push(head);
        rest = tail;
    }
    let per: Vec<(Option<f64>, Option<f64>)> = slices
        .into_par_iter()
        .with_min_len(64)
        .map(|v| {
            if v.is_empty() {
                return (None, None);
            }
            let m = median_unsorted(v);
            if !with_mad {
                return (Some(m), None);
            }
            for x in v.iter_mut() {
                *x = (*x - m).abs();
            }
            (Some(m), Some(median_unsorted(v)))
        })
        .collect();
    let (median, mad) = per.into_iter().unzip();
    Stats { median, count, mad }
}

/// A frame to compare peer statistics on: `industry_code` (text, some empty),
/// `division` (its first two digits), `period` (three months) and `x` (few
/// distinct values, some unknown, so that ties and zero MADs occur; the first
/// row alone in its class).
#[cfg(test)]
pub fn peer_frame(n: usize, seed: u64) -> DataFrame {
    let mut rng = seed;
    let mut next = |k: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % k
    };
    let codes = ["1311", "1312", "2611", "2612", "3130"];
    let (mut code, mut div, mut period, mut x) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let c = next(7) as usize;
        code.push(codes.get(c).copied());
        div.push(codes.get(c).map(|c| c[..2].to_string()));
        period.push(24300 + next(3) as i32);
        x.push(match next(10) {
            0 => None,
            1 => Some(2.0),
            k => Some((next(50) as f64) / 7.0 * k as f64),
        });
    }
    code[0] = Some("9999");
    div[0] = Some("99".into());
    x[0] = Some(2.0);
    df!("industry_code" => code, "division" => div, "period" => period, "x" => x).unwrap()
}

/// Panics, naming the first row that differs, unless column `c` of `a` and `b`
/// holds the same floats bit for bit.
#[cfg(test)]
pub fn assert_same_bits(a: &DataFrame, b: &DataFrame, c: &str, what: &str) {
    let bits = |d: &DataFrame| -> Vec<Option<u64>> {
        d.column(c)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.map(f64::to_bits))
            .collect()
    };
    let (x, y) = (bits(a), bits(b));
    assert_eq!(x.len(), y.len(), "{c} ({what}): lengths");
    if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
        panic!(
            "{c} ({what}): row {i} differs: {:?} against {:?}",
            x[i].map(f64::from_bits),
            y[i].map(f64::from_bits)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_nulls_group_like_polars() {
        let df = df!(
            "a" => [Some("x"), None, Some("x"), Some("y"), None],
            "b" => [1i32, 1, 2, 1, 1],
        )
        .unwrap();
        let (ids, n) = group_ids(&df, &["a", "b"]).unwrap();
        assert_eq!(n, 4);
        assert_eq!(ids[1], ids[4]);
        assert_ne!(ids[0], ids[2]);
        assert_ne!(ids[0], ids[3]);
        let (ids, n) = group_ids(&df, &[]).unwrap();
        assert_eq!((ids, n), (vec![0; 5], 1));
        let (_, n) = group_ids(&df.head(Some(0)), &["a"]).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn integer_keys_group_alike_through_an_array_or_a_hash() {
        // Narrow integers (months) are coded through an array, wide ones
        // (outside an array's reach) through a hash: both group as their text.
        let narrow = df!("k" => [Some(24301i64), None, Some(24290), Some(24301), None]).unwrap();
        let as_text =
            df!("k" => [Some("24301"), None, Some("24290"), Some("24301"), None]).unwrap();
        assert_eq!(
            group_ids(&narrow, &["k"]).unwrap(),
            group_ids(&as_text, &["k"]).unwrap()
        );
        assert_eq!(
            group_ids(&narrow, &["k"]).unwrap(),
            (vec![0, 1, 2, 0, 1], 3)
        );
        let wide = df!("k" => [i64::MIN, 5, i64::MAX, 5, i64::MIN]).unwrap();
        assert_eq!(group_ids(&wide, &["k"]).unwrap(), (vec![0, 1, 2, 1, 0], 3));
        // A coder asked twice for a column codes it once, the same way.
        let mut coder = Coder::new(&narrow);
        assert_eq!(coder.ids(&["k"]).unwrap(), coder.ids(&["k"]).unwrap());
    }

    #[test]
    fn median_and_mad_per_group() {
        let x = [Some(1.0), Some(5.0), None, Some(2.0), Some(10.0), Some(4.0)];
        let ids = [0, 0, 1, 0, 0, 2];
        let s = stats(&x, &ids, 3, true);
        // Group 0: 1, 5, 2, 10 → median 3.5; deviations 2.5, 1.5, 1.5, 6.5 → 2.
        assert_eq!(s.median, [Some(3.5), None, Some(4.0)]);
        assert_eq!(s.count, [4, 0, 1]);
        assert_eq!(s.mad, [Some(2.0), None, Some(0.0)]);
    }
}
