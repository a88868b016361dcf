//! `zhibao outlier`: Banff's OUTLIER procedure (Hidiroglou–Berthelot) as a command
//! for any table. RATIO method when `--with-var` names a column of the same file;
//! HISTORIC when `--hist FILE` gives the earlier period (paired on `--id`); CURRENT
//! without either.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::detect::hb::{self, Method, Params, Side};
use crate::error::{Error, Result};
use crate::load::read_generic;
use crate::report::fmt_f64;

/// The command's options.
#[derive(Clone, Debug)]
pub struct OutlierOptions {
    /// Input table (CSV or Parquet).
    pub input: PathBuf,
    /// Unit identifier column.
    pub id: String,
    /// The variable tested.
    pub var: String,
    /// The comparison variable (same file, or `hist`).
    pub with_var: Option<String>,
    /// Historical file (HISTORIC method).
    pub hist: Option<PathBuf>,
    /// By-group column.
    pub by: Option<String>,
    /// HB parameters.
    pub params: Params,
    /// Flagged units, CSV.
    pub out: PathBuf,
    /// Per-group summary, CSV (printed when absent).
    pub summary: Option<PathBuf>,
}

/// One by-group's summary line.
#[derive(Clone, Debug, Serialize)]
pub struct GroupLine {
    /// The by-group value (empty without `--by`).
    pub group: String,
    /// The result.
    #[serde(flatten)]
    pub result: hb::GroupResult,
}

/// What the command did.
pub struct OutlierRun {
    /// Flagged units.
    pub flagged: usize,
    /// Groups.
    pub groups: Vec<GroupLine>,
    /// Warnings (parameters that do not apply, unmatched units).
    pub warnings: Vec<String>,
}

/// A table as text columns.
struct Table {
    headings: Vec<String>,
    columns: Vec<Vec<Option<String>>>,
    path: PathBuf,
}

impl Table {
    fn read(path: &Path) -> Result<Table> {
        let (headings, columns) = read_generic(path)?;
        Ok(Table {
            headings,
            columns,
            path: path.to_path_buf(),
        })
    }

    fn column(&self, name: &str) -> Result<&Vec<Option<String>>> {
        let key = crate::model::schema::heading_key(name);
        self.headings
            .iter()
            .position(|h| h == name || crate::model::schema::heading_key(h) == key)
            .map(|i| &self.columns[i])
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{}: no column '{name}'; the columns are: {}",
                    self.path.display(),
                    self.headings.join(", ")
                ))
            })
    }

    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let col = self.column(name)?;
        Ok(col
            .iter()
            .map(|v| {
                v.as_deref().and_then(|s| {
                    let t = crate::model::text::half_width(crate::model::text::trim(s))
                        .replace(',', "");
                    t.parse::<f64>().ok().filter(|x| x.is_finite())
                })
            })
            .collect())
    }
}

fn text(v: &Option<String>) -> String {
    v.as_deref()
        .map(|s| crate::model::text::trim(s).to_string())
        .unwrap_or_default()
}

/// Runs the command.
pub fn run(o: &OutlierOptions) -> Result<OutlierRun> {
    let method = if o.with_var.is_some() || o.hist.is_some() {
        Method::Ratio
    } else {
        Method::Current
    };
    let mut warnings = o.params.validate(method).map_err(Error::Usage)?;
    let t = Table::read(&o.input)?;
    let ids: Vec<String> = t.column(&o.id)?.iter().map(text).collect();
    let x = t.numbers(&o.var)?;
    let y: Option<Vec<Option<f64>>> = match (&o.hist, &o.with_var) {
        (Some(hpath), w) => {
            let h = Table::read(hpath)?;
            let hid: Vec<String> = h.column(&o.id)?.iter().map(text).collect();
            let hv = h.numbers(w.as_deref().unwrap_or(&o.var))?;
            let mut map: HashMap<&str, Option<f64>> = HashMap::with_capacity(hid.len());
            for (i, v) in hid.iter().zip(hv) {
                map.insert(i.as_str(), v);
            }
            let mut unmatched = 0;
            let paired = ids
                .iter()
                .map(|i| match map.get(i.as_str()) {
                    Some(v) => *v,
                    None => {
                        unmatched += 1;
                        None
                    }
                })
                .collect();
            if unmatched > 0 {
                warnings.push(format!(
                    "{unmatched} unit(s) have no historical record and are not used"
                ));
            }
            Some(paired)
        }
        (None, Some(w)) => Some(t.numbers(w)?),
        (None, None) => None,
    };
    let groups_raw: Vec<String> = match &o.by {
        Some(b) => t.column(b)?.iter().map(text).collect(),
        None => vec![String::new(); ids.len()],
    };
    // Groups in sorted order of their value (as Banff processes sorted by-groups).
    let mut keys: Vec<String> = groups_raw.clone();
    keys.sort();
    keys.dedup();
    let index: HashMap<&str, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    let group: Vec<u32> = groups_raw.iter().map(|g| index[g.as_str()]).collect();
    let (results, flags, _) = hb::run_grouped(&x, y.as_deref(), &group, keys.len(), &o.params);

    let file = std::fs::File::create(&o.out).map_err(|e| Error::Output {
        path: o.out.clone(),
        message: e.to_string(),
    })?;
    let mut buf = std::io::BufWriter::new(file);
    std::io::Write::write_all(&mut buf, b"\xEF\xBB\xBF").map_err(|e| Error::Output {
        path: o.out.clone(),
        message: e.to_string(),
    })?;
    let mut w = csv::Writer::from_writer(buf);
    let by_name = o.by.clone().unwrap_or_else(|| "by_group".to_string());
    let werr = |e: csv::Error| Error::Output {
        path: o.out.clone(),
        message: e.to_string(),
    };
    w.write_record([
        "unit_id",
        "status",
        "side",
        "effect",
        &by_name,
        "value",
        "with_value",
    ])
    .map_err(werr)?;
    let mut rows: Vec<&hb::Flag> = flags.iter().collect();
    rows.sort_by(|a, b| (group[a.index], &ids[a.index]).cmp(&(group[b.index], &ids[b.index])));
    for f in rows {
        let i = f.index;
        w.write_record([
            ids[i].as_str(),
            f.status.as_str(),
            &f.side.to_string(),
            &format!("{}", f.effect),
            &groups_raw[i],
            &x[i].map(fmt_f64).unwrap_or_default(),
            &y.as_ref()
                .and_then(|y| y[i])
                .map(fmt_f64)
                .unwrap_or_default(),
        ])
        .map_err(werr)?;
    }
    w.flush().map_err(|e| Error::Output {
        path: o.out.clone(),
        message: e.to_string(),
    })?;

    let groups: Vec<GroupLine> = keys
        .into_iter()
        .zip(results)
        .map(|(group, result)| GroupLine { group, result })
        .collect();
    for g in &groups {
        if !g.result.processed {
            warnings.push(format!(
                "group '{}': {} usable value(s), fewer than min_obs {}; not processed",
                g.group, g.result.n_used, o.params.min_obs
            ));
        }
    }
    if let Some(path) = &o.summary {
        write_summary(&groups, &by_name, path)?;
    }
    Ok(OutlierRun {
        flagged: flags.len(),
        groups,
        warnings,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// Summary columns, in order.
pub const SUMMARY_COLUMNS: [&str; 20] = [
    "n_obs",
    "n_used",
    "n_rejected",
    "rejected_var_missing",
    "rejected_aux_missing",
    "rejected_var_zero",
    "rejected_aux_zero",
    "rejected_var_negative",
    "rejected_aux_negative",
    "processed",
    "median_ratio",
    "q1",
    "m",
    "q3",
    "imp_l",
    "excl_l",
    "excl_r",
    "imp_r",
    "n_fti",
    "n_fte",
];

fn summary_row(g: &GroupLine) -> Vec<String> {
    let r = &g.result;
    vec![
        g.group.clone(),
        r.n_obs.to_string(),
        r.n_used.to_string(),
        r.n_rejected().to_string(),
        r.rejected_var_missing.to_string(),
        r.rejected_aux_missing.to_string(),
        r.rejected_var_zero.to_string(),
        r.rejected_aux_zero.to_string(),
        r.rejected_var_negative.to_string(),
        r.rejected_aux_negative.to_string(),
        r.processed.to_string(),
        opt(r.median_ratio),
        opt(r.q1),
        opt(r.m),
        opt(r.q3),
        opt(r.imp_l),
        opt(r.excl_l),
        opt(r.excl_r),
        opt(r.imp_r),
        r.n_fti.to_string(),
        r.n_fte.to_string(),
    ]
}

fn write_summary(groups: &[GroupLine], by_name: &str, path: &PathBuf) -> Result<()> {
    let oerr = |e: String| Error::Output {
        path: path.clone(),
        message: e,
    };
    let file = std::fs::File::create(path).map_err(|e| oerr(e.to_string()))?;
    let mut buf = std::io::BufWriter::new(file);
    std::io::Write::write_all(&mut buf, b"\xEF\xBB\xBF").map_err(|e| oerr(e.to_string()))?;
    let mut w = csv::Writer::from_writer(buf);
    let mut head = vec![by_name.to_string()];
    head.extend(SUMMARY_COLUMNS.iter().map(|s| s.to_string()));
    w.write_record(&head).map_err(|e| oerr(e.to_string()))?;
    for g in groups {
        w.write_record(summary_row(g))
            .map_err(|e| oerr(e.to_string()))?;
    }
    w.flush().map_err(|e| oerr(e.to_string()))
}

/// The summary as a text table, for the terminal.
pub fn summary_text(groups: &[GroupLine], by_name: &str) -> String {
    let mut out = String::new();
    let cols = [
        "n_obs",
        "n_used",
        "processed",
        "q1",
        "m",
        "q3",
        "imp_l",
        "excl_l",
        "excl_r",
        "imp_r",
        "n_fti",
        "n_fte",
    ];
    out.push_str(&format!("{by_name:<14}"));
    for c in cols {
        out.push_str(&format!(" {c:>11}"));
    }
    out.push('\n');
    let short = |v: Option<f64>| v.map(|x| format!("{x:.5}")).unwrap_or_else(|| "-".into());
    for g in groups {
        let r = &g.result;
        let vals = [
            r.n_obs.to_string(),
            r.n_used.to_string(),
            r.processed.to_string(),
            short(r.q1),
            short(r.m),
            short(r.q3),
            short(r.imp_l),
            short(r.excl_l),
            short(r.excl_r),
            short(r.imp_r),
            r.n_fti.to_string(),
            r.n_fte.to_string(),
        ];
        out.push_str(&format!(
            "{:<14}",
            if g.group.is_empty() {
                "(all)"
            } else {
                &g.group
            }
        ));
        for v in vals {
            out.push_str(&format!(" {v:>11}"));
        }
        out.push('\n');
    }
    out
}

/// Parses `both`, `left`, `right`.
pub fn parse_side(s: &str) -> Option<Side> {
    match s.to_ascii_lowercase().as_str() {
        "both" => Some(Side::Both),
        "left" => Some(Side::Left),
        "right" => Some(Side::Right),
        _ => None,
    }
}

/// Distinct values, for tests.
pub fn groups_by_value(groups: &[GroupLine]) -> BTreeMap<String, &hb::GroupResult> {
    groups
        .iter()
        .map(|g| (g.group.clone(), &g.result))
        .collect()
}
