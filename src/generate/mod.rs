//! `zhibao generate`: a realistic synthetic batch to the data contract, with
//! planted anomalies and a ground-truth labels file beside the data directory.
//!
//! * Counties with real provincial prefixes, enterprises with valid USCCs (both
//!   check characters), real GB/T 4754-2017 classes, growth, new entrants admitted
//!   mostly in January.
//! * Monthly output with seasonality: the Spring Festival dip falls in January or
//!   February by the actual date of the festival each year; quarter ends and
//!   December run higher. Sales, exports and VAT records consistent with output.
//! * Annual R&D reports (three years), investment projects with the quarter-end
//!   pattern and tiered sizes, verification outcomes of earlier queries, and the
//!   labour, energy and services tables.
//! * Anomalies of every kind the rules look for, each planted in one enterprise
//!   (or project, or county), listed in `<out>.labels.csv`.
//!
//! Everything is a pure function of the seed: enterprise parameters are drawn in
//! order, and each month's rows in fixed-size blocks of enterprises with their own
//! random stream, in parallel, so the output does not depend on the thread count.
//! Monthly tables are written as Hive-style Parquet partitions
//! (`industrial/period=YYYY-MM/part-0.parquet`), so memory stays at one month.

pub mod catalog;
mod plants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::model::{uscc, Month};
use plants::Plan;
pub use plants::{Kind as AnomalyKind, Label};

/// How the batch is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    /// Parquet (monthly tables partitioned by period).
    Parquet,
    /// CSV, one file per table (small batches).
    Csv,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// The data directory to write.
    pub out: PathBuf,
    /// Number of enterprises.
    pub enterprises: usize,
    /// Months of history, the last one included.
    pub months: usize,
    /// Seed.
    pub seed: u64,
    /// The last month (the period a default audit reviews).
    pub end: Month,
    /// Share of enterprises with a planted anomaly.
    pub anomaly_rate: f64,
    /// Output format.
    pub format: OutFormat,
    /// Whether to write the labour, energy and services tables.
    pub other_families: bool,
}

impl GenOptions {
    /// Defaults for `n` enterprises into `out`.
    pub fn new(out: impl Into<PathBuf>, enterprises: usize) -> GenOptions {
        GenOptions {
            out: out.into(),
            enterprises,
            months: 24,
            seed: 1,
            end: Month::new(2026, 10).expect("valid"),
            anomaly_rate: 0.03,
            format: OutFormat::Parquet,
            other_families: true,
        }
    }
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct GenReport {
    /// The data directory.
    pub out: PathBuf,
    /// The labels file.
    pub labels: PathBuf,
    /// Rows per table.
    pub rows: BTreeMap<String, usize>,
    /// Planted anomalies.
    pub planted: usize,
    /// Counties.
    pub counties: usize,
}

/// The labels file of a data directory: `<dir>.labels.csv`, beside it.
pub fn labels_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "batch".into());
    out.with_file_name(format!("{name}.labels.csv"))
}

fn gerr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Block of enterprises sharing one random stream per month.
const BLOCK: usize = 4096;

/// A stream of random numbers for (purpose, a, b), independent of the others.
fn stream(seed: u64, purpose: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (a << 20) ^ b);
    r
}

/// Spring Festival (春节) dates, month and day, by year.
fn spring_festival(year: i32) -> (u32, u32) {
    match year {
        2015 => (2, 19),
        2016 => (2, 8),
        2017 => (1, 28),
        2018 => (2, 16),
        2019 => (2, 5),
        2020 => (1, 25),
        2021 => (2, 12),
        2022 => (2, 1),
        2023 => (1, 22),
        2024 => (2, 10),
        2025 => (1, 29),
        2026 => (2, 17),
        2027 => (2, 6),
        2028 => (1, 26),
        2029 => (2, 13),
        2030 => (2, 3),
        _ => (2, 5),
    }
}

fn days_in(m: Month) -> u32 {
    let next = m.plus(1);
    let a = chrono::NaiveDate::from_ymd_opt(m.year(), m.month(), 1).expect("valid");
    let b = chrono::NaiveDate::from_ymd_opt(next.year(), next.month(), 1).expect("valid");
    (b - a).num_days() as u32
}

/// Seasonal factor of a month: the Spring Festival holiday (from a week before to
/// two weeks after the festival) cuts production; quarter ends and December run higher.
pub fn season(m: Month) -> f64 {
    const BASE: [f64; 12] = [
        1.0, 1.0, 1.04, 0.98, 1.0, 1.05, 0.97, 0.97, 1.04, 0.98, 1.01, 1.08,
    ];
    let mut f = BASE[(m.month() - 1) as usize];
    if m.month() <= 3 {
        let (sm, sd) = spring_festival(m.year());
        let sf = chrono::NaiveDate::from_ymd_opt(m.year(), sm, sd).expect("valid");
        let first = chrono::NaiveDate::from_ymd_opt(m.year(), m.month(), 1).expect("valid");
        let n = days_in(m);
        let holiday = (0..n)
            .filter(|d| {
                let day = first + chrono::TimeDelta::days(*d as i64);
                let off = (day - sf).num_days();
                (-7..=14).contains(&off)
            })
            .count() as f64;
        f *= 1.0 - 0.55 * holiday / n as f64;
    }
    f
}

/// Static attributes of an enterprise.
pub(crate) struct Ent {
    pub uscc: String,
    pub name: String,
    pub county: usize,
    pub industry: usize,
    pub code: &'static str,
    pub entry: Month,
    pub base: f64,
    pub growth: f64,
    pub sales_ratio: f64,
    pub export_share: f64,
    pub tax_factor: f64,
    pub employees: f64,
    pub energy_per_output: f64,
    pub services: bool,
}

fn county_codes(n: usize, rng: &mut ChaCha8Rng) -> Vec<String> {
    // Small batches: counties of one province (安徽 34); large: across provinces.
    let provinces: Vec<&str> = if n <= 40 {
        vec!["34"]
    } else {
        crate::model::schema::PROVINCES
            .iter()
            .take(31)
            .copied()
            .collect()
    };
    let mut out = Vec::with_capacity(n);
    let mut city = 1u32;
    'outer: loop {
        for p in &provinces {
            let counties_here = rng.random_range(4..=10);
            for k in 0..counties_here {
                // District codes 02–09, county codes 21–29, as in GB/T 2260.
                let cc = if k < 3 { 2 + k } else { 21 + k - 3 };
                out.push(format!("{p}{city:02}{cc:02}"));
                if out.len() == n {
                    break 'outer;
                }
            }
        }
        city += 1;
        if city > 90 {
            city = 1;
        }
    }
    out.sort();
    out.dedup();
    out
}

fn make_uscc(county: &str, rng: &mut ChaCha8Rng) -> String {
    let a = uscc::ALPHABET;
    let mut body = String::from("MA");
    for _ in 0..6 {
        body.push(a[rng.random_range(0..31)] as char);
    }
    let check = uscc::org_code_check(body.as_bytes()).expect("alphabet symbols") as char;
    let first17 = format!("91{county}{body}{check}");
    uscc::complete(&first17).expect("17 valid symbols")
}

fn pick_weighted(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

fn enterprises(o: &GenOptions, counties: &[String], rng: &mut ChaCha8Rng) -> Vec<Ent> {
    let start = o.end.plus(-(o.months as i32) + 1);
    let county_w: Vec<f64> = (0..counties.len())
        .map(|_| LogNormal::new(0.0, 0.6).expect("valid").sample(rng))
        .collect();
    let ind_w: Vec<f64> = catalog::INDUSTRIES.iter().map(|i| i.weight).collect();
    // Monthly output of above-size enterprises (revenue ≥ 20 million yuan a year,
    // about 1,700 thousand a month): a wide lognormal, truncated at the threshold.
    let size = LogNormal::new((3000f64).ln(), 0.9).expect("valid");
    let growth = Normal::new(0.05f64, 0.06).expect("valid");
    let mut seen = std::collections::HashSet::with_capacity(o.enterprises);
    let mut out = Vec::with_capacity(o.enterprises);
    for _ in 0..o.enterprises {
        let county = pick_weighted(&county_w, rng);
        let industry = pick_weighted(&ind_w, rng);
        let mut code = make_uscc(&counties[county], rng);
        while !seen.insert(code.clone()) {
            code = make_uscc(&counties[county], rng);
        }
        let entry = if rng.random::<f64>() < 0.88 {
            start.plus(-rng.random_range(1..120))
        } else {
            // New entrants: admitted mostly in January.
            let m = start.plus(rng.random_range(1..o.months as i32));
            if rng.random::<f64>() < 0.7 {
                m.year_start().max(start.plus(1))
            } else {
                m
            }
        };
        // Most enterprises near the threshold; a long tail spread evenly over
        // the decades (large enterprises of every size), as business registers are.
        let base = if rng.random::<f64>() < 0.25 {
            10f64.powf(rng.random_range(4.0..6.3))
        } else {
            loop {
                let b: f64 = size.sample(rng);
                if (1700.0..3_000_000.0).contains(&b) {
                    break b;
                }
            }
        };
        let name = format!(
            "{}{}{}{}",
            catalog::PLACES[rng.random_range(0..catalog::PLACES.len())],
            catalog::TRADES[rng.random_range(0..catalog::TRADES.len())],
            ["", "制造", "工业", "产业"][rng.random_range(0..4)],
            catalog::FORMS[rng.random_range(0..catalog::FORMS.len())]
        );
        out.push(Ent {
            uscc: code,
            name,
            county,
            industry,
            code: catalog::INDUSTRIES[industry].code,
            entry,
            base,
            growth: growth.sample(rng).clamp(-0.15, 0.30),
            sales_ratio: Normal::new(0.97f64, 0.015)
                .expect("valid")
                .sample(rng)
                .clamp(0.93, 1.02),
            export_share: if rng.random::<f64>() < 0.7 {
                0.0
            } else {
                rng.random_range(0.05..0.5)
            },
            tax_factor: rng.random_range(1.03..1.30),
            employees: (base * 12.0 / 900.0 * rng.random_range(0.6..1.6)).max(20.0),
            // Tonnes of standard coal per thousand yuan: set by the industry, with
            // a modest spread between its enterprises.
            energy_per_output: 0.004
                * (1.0 + (industry % 9) as f64)
                * LogNormal::new(0.0, 0.25).expect("valid").sample(rng),
            services: false,
        });
    }
    out
}

/// Writes a frame to `dir/<table>.parquet` or `.csv`.
fn write_table(o: &GenOptions, name: &str, df: &mut DataFrame) -> Result<usize> {
    let n = df.height();
    match o.format {
        OutFormat::Parquet => {
            let path = o.out.join(format!("{name}.parquet"));
            let f = std::fs::File::create(&path).map_err(|e| gerr(&path, e))?;
            ParquetWriter::new(f)
                .finish(df)
                .map_err(|e| gerr(&path, e))?;
        }
        OutFormat::Csv => {
            let path = o.out.join(format!("{name}.csv"));
            crate::report::write_csv(df, &path)?;
        }
    }
    Ok(n)
}

fn write_month(
    o: &GenOptions,
    name: &str,
    m: Month,
    df: &mut DataFrame,
    csv_acc: &mut BTreeMap<String, DataFrame>,
) -> Result<usize> {
    let n = df.height();
    match o.format {
        OutFormat::Parquet => {
            let dir = o.out.join(name).join(format!("period={m}"));
            std::fs::create_dir_all(&dir).map_err(|e| gerr(&dir, e))?;
            let path = dir.join("part-0.parquet");
            let f = std::fs::File::create(&path).map_err(|e| gerr(&path, e))?;
            // Hive layout: the folder carries the period, the file does not.
            let mut part = df.drop("period").map_err(|e| gerr(&path, e))?;
            ParquetWriter::new(f)
                .finish(&mut part)
                .map_err(|e| gerr(&path, e))?;
        }
        OutFormat::Csv => match csv_acc.get_mut(name) {
            Some(acc) => {
                acc.vstack_mut(df).map_err(|e| gerr(&o.out, e))?;
            }
            None => {
                csv_acc.insert(name.to_string(), df.clone());
            }
        },
    }
    Ok(n)
}

/// One month's industrial and tax rows of one block of enterprises.
#[derive(Default)]
struct MonthRows {
    ind_uscc: Vec<String>,
    gross: Vec<f64>,
    sales: Vec<f64>,
    export: Vec<f64>,
    submitted: Vec<String>,
    revisions: Vec<i64>,
    tax_uscc: Vec<String>,
    taxable: Vec<f64>,
    energy_uscc: Vec<String>,
    energy: Vec<f64>,
    electricity: Vec<f64>,
}

fn level(e: &Ent, m: Month, origin: Month) -> f64 {
    let years = (m.0 - origin.0) as f64 / 12.0;
    e.base * (1.0 + e.growth).powf(years) * season(m)
}

fn month_block(
    o: &GenOptions,
    ents: &[Ent],
    first: usize,
    plan: &Plan,
    m: Month,
    origin: Month,
) -> MonthRows {
    let mut rng = stream(o.seed, 1, m.0 as u64, first as u64);
    let noise = LogNormal::new(0.0, 0.06).expect("valid");
    let tax_noise = LogNormal::new(0.0, 0.04).expect("valid");
    let mut r = MonthRows::default();
    for (k, e) in ents.iter().enumerate() {
        let eid = first + k;
        // Every draw is made whether or not the enterprise reports, so the stream
        // of one enterprise does not depend on another's entry month.
        let (n1, n2, n3, u1, u2, u3, u4) = (
            noise.sample(&mut rng),
            rng.random_range(-0.02..0.02),
            tax_noise.sample(&mut rng),
            rng.random::<f64>(),
            rng.random::<f64>(),
            rng.random::<f64>(),
            rng.random::<f64>(),
        );
        if e.entry > m {
            continue;
        }
        let mut gross = (level(e, m, origin) * n1).round().max(1.0);
        let mut sales = (gross * (e.sales_ratio + n2)).round();
        let mut export = (sales * e.export_share * (0.9 + 0.2 * u1)).round();
        let late = u2 < 0.04;
        let day = if late {
            9 + (u3 * 6.0) as u32
        } else {
            1 + (u3 * 7.0) as u32
        };
        let next = m.plus(1);
        let submitted = format!(
            "{}-{:02}-{:02}T{:02}:{:02}:00",
            next.year(),
            next.month(),
            day,
            8 + (u4 * 11.0) as u32,
            (u1 * 60.0) as u32
        );
        let mut revisions = if u4 < 0.8 {
            0
        } else if u4 < 0.95 {
            1
        } else {
            2
        };
        if e.services {
            continue;
        }
        let mut tax = Some((sales * e.tax_factor * n3).round());
        // Electricity and energy follow what was produced: a wrong figure does
        // not move them, a legitimately unusual month does.
        let produced = gross;
        // A county inflating every enterprise's output (before the plants, which
        // override it in their months).
        if let Some(f) = plan.inflated_counties.get(&e.county) {
            if m.year() == o.end.year() {
                gross = (gross * f).round();
                sales = (sales * f).round();
                export = (export * f).round();
            }
        }
        if let Some(p) = plan.get(eid) {
            p.apply_month(
                e,
                m,
                origin,
                &mut gross,
                &mut sales,
                &mut export,
                &mut revisions,
                &mut tax,
            );
        }
        r.ind_uscc.push(e.uscc.clone());
        r.gross.push(gross);
        r.sales.push(sales);
        r.export.push(export);
        r.submitted.push(submitted);
        r.revisions.push(revisions);
        if let Some(t) = tax {
            r.tax_uscc.push(e.uscc.clone());
            r.taxable.push(t);
        }
        if o.other_families {
            // Tonnes of standard coal; electricity in 10⁴ kWh, about half of the
            // energy (10⁴ kWh ≈ 1.229 tce), both to one decimal.
            let follows = plan
                .get(eid)
                .is_some_and(|p| p.kind.legit() || p.kind == plants::Kind::EnergyDivergence);
            let basis = if follows { gross } else { produced };
            let mut ec =
                (basis.max(0.0) * e.energy_per_output * (0.95 + 0.1 * u1) * 10.0).round() / 10.0;
            let mut el = (ec * 0.4 * (0.95 + 0.1 * u2) * 10.0).round() / 10.0;
            if let Some(p) = plan.get(eid) {
                p.apply_energy(e, m, origin, &mut ec, &mut el);
            }
            r.energy_uscc.push(e.uscc.clone());
            r.energy.push(ec);
            r.electricity.push(el);
        }
    }
    r
}

/// Generates a batch.
pub fn generate(o: &GenOptions) -> Result<GenReport> {
    check_options(o)?;
    std::fs::create_dir_all(&o.out).map_err(|e| gerr(&o.out, e))?;
    let mut rng = stream(o.seed, 0, 0, 0);
    let n_counties = (o.enterprises / 250).clamp(8, 2850);
    let counties = county_codes(n_counties, &mut rng);
    let mut ents = enterprises(o, &counties, &mut rng);
    let start = o.end.plus(-(o.months as i32) + 1);
    let origin = start;
    let plan = plants::plan(o, &mut ents, &counties, &mut rng);
    let mut rows: BTreeMap<String, usize> = BTreeMap::new();

    let mut register = register_frame(o, &ents, &counties)?;
    rows.insert(
        "enterprises".into(),
        write_table(o, "enterprises", &mut register)?,
    );
    // Monthly tables, a month at a time.
    let mut csv_acc: BTreeMap<String, DataFrame> = BTreeMap::new();
    for t in 0..o.months {
        let m = start.plus(t as i32);
        for (name, mut df) in month_tables(o, &ents, &plan, m, origin)? {
            *rows.entry(name.into()).or_default() +=
                write_month(o, name, m, &mut df, &mut csv_acc)?;
        }
    }
    for (name, mut df) in csv_acc {
        write_table(o, &name, &mut df)?;
    }

    let mut labels = plan.labels.clone();
    let mut rd = plants::rd_table(
        o,
        &ents,
        &counties,
        &plan,
        &mut labels,
        &mut stream(o.seed, 2, 0, 0),
    )?;
    rows.insert("rd".into(), write_table(o, "rd", &mut rd)?);
    let mut inv = plants::investment_table(
        o,
        &ents,
        &counties,
        &mut labels,
        &mut stream(o.seed, 3, 0, 0),
    )?;
    rows.insert("investment".into(), write_table(o, "investment", &mut inv)?);
    let mut ver = plants::verifications_table(o, &ents, &plan, &mut stream(o.seed, 4, 0, 0))?;
    rows.insert(
        "verifications".into(),
        write_table(o, "verifications", &mut ver)?,
    );
    if o.other_families {
        let mut lab = plants::labor_table(o, &ents, &plan, &mut stream(o.seed, 5, 0, 0))?;
        rows.insert("labor".into(), write_table(o, "labor", &mut lab)?);
        let mut svc = plants::services_table(o, &ents, &plan, &mut stream(o.seed, 6, 0, 0))?;
        rows.insert("services".into(), write_table(o, "services", &mut svc)?);
    }

    let labels_file = labels_path(&o.out);
    plants::write_labels(&labels, &labels_file)?;
    Ok(GenReport {
        out: o.out.clone(),
        labels: labels_file,
        rows,
        planted: labels.len(),
        counties: counties.len(),
    })
}

/// At least 10 enterprises and 13 months, into a new or empty directory.
fn check_options(o: &GenOptions) -> Result<()> {
    if o.enterprises < 10 {
        return Err(Error::Usage("--enterprises must be at least 10".into()));
    }
    if o.months < 13 {
        return Err(Error::Usage(
            "--months must be at least 13 (a year of history for year-on-year checks)".into(),
        ));
    }
    if o.out.exists() {
        let empty = std::fs::read_dir(&o.out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::Output {
                path: o.out.clone(),
                message: "exists and is not empty; generate writes a new directory".into(),
            });
        }
    }
    Ok(())
}

/// The register of enterprises.
fn register_frame(o: &GenOptions, ents: &[Ent], counties: &[String]) -> Result<DataFrame> {
    let size_class = |e: &Ent| {
        if e.base * 12.0 >= 400_000.0 {
            "large"
        } else if e.base * 12.0 >= 20_000.0 {
            "medium"
        } else {
            "small"
        }
    };
    DataFrame::new(
        ents.len(),
        vec![
            Column::new(
                "uscc".into(),
                ents.iter().map(|e| e.uscc.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "name".into(),
                ents.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "county_code".into(),
                ents.iter()
                    .map(|e| counties[e.county].as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "industry_code".into(),
                ents.iter().map(|e| e.code).collect::<Vec<_>>(),
            ),
            Column::new(
                "entry_period".into(),
                ents.iter().map(|e| e.entry.to_string()).collect::<Vec<_>>(),
            ),
            Column::new(
                "size_class".into(),
                ents.iter().map(size_class).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(|e| gerr(&o.out, e))
}

/// The industrial, tax and (with the other families) energy rows of month `m`,
/// built in blocks of enterprises in parallel.
fn month_tables(
    o: &GenOptions,
    ents: &[Ent],
    plan: &plants::Plan,
    m: Month,
    origin: Month,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let blocks: Vec<MonthRows> = ents
        .par_chunks(BLOCK)
        .enumerate()
        .map(|(b, chunk)| month_block(o, chunk, b * BLOCK, plan, m, origin))
        .collect();
    let cat_s = |f: &dyn Fn(&MonthRows) -> &Vec<String>| {
        blocks
            .iter()
            .flat_map(|b| f(b).iter().map(String::as_str))
            .collect::<Vec<&str>>()
    };
    let cat_f = |f: &dyn Fn(&MonthRows) -> &Vec<f64>| {
        blocks
            .iter()
            .flat_map(|b| f(b).iter().copied())
            .collect::<Vec<f64>>()
    };
    let frame = |n: usize, cols: Vec<Column>| DataFrame::new(n, cols).map_err(|e| gerr(&o.out, e));
    let mut out = Vec::new();
    let ind_u = cat_s(&|b| &b.ind_uscc);
    let n = ind_u.len();
    out.push((
        "industrial",
        frame(
            n,
            vec![
                Column::new("uscc".into(), ind_u),
                Column::new("period".into(), vec![m.to_string(); n]),
                Column::new("gross_output".into(), cat_f(&|b| &b.gross)),
                Column::new("sales_output".into(), cat_f(&|b| &b.sales)),
                Column::new("export_delivery".into(), cat_f(&|b| &b.export)),
                Column::new("submitted_at".into(), cat_s(&|b| &b.submitted)),
                Column::new(
                    "revisions".into(),
                    blocks
                        .iter()
                        .flat_map(|b| b.revisions.iter().copied())
                        .collect::<Vec<i64>>(),
                ),
            ],
        )?,
    ));
    let tax_u = cat_s(&|b| &b.tax_uscc);
    let nt = tax_u.len();
    out.push((
        "tax",
        frame(
            nt,
            vec![
                Column::new("uscc".into(), tax_u),
                Column::new("period".into(), vec![m.to_string(); nt]),
                Column::new("taxable_sales".into(), cat_f(&|b| &b.taxable)),
            ],
        )?,
    ));
    if o.other_families {
        let eu = cat_s(&|b| &b.energy_uscc);
        let ne = eu.len();
        out.push((
            "energy",
            frame(
                ne,
                vec![
                    Column::new("uscc".into(), eu),
                    Column::new("period".into(), vec![m.to_string(); ne]),
                    Column::new("energy_consumption".into(), cat_f(&|b| &b.energy)),
                    Column::new("electricity".into(), cat_f(&|b| &b.electricity)),
                ],
            )?,
        ));
    }
    Ok(out)
}
