//! Grades and the query list: the monthly dynamic adjustment over six months of
//! chained runs, the weight of size, and the invariants of the list.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use polars::prelude::*;
use proptest::prelude::*;
use zhibao::model::Month;

/// A valid USCC for a serial number.
fn code(serial: u32) -> String {
    common::uscc_for("340102", serial)
}

/// A batch of 12 enterprises from 2025-01 to `last`, sizes given; `bad(u, m)`
/// decides whether enterprise `u` reports export delivery above sales in month `m`.
fn write_batch(dir: &Path, last: &str, sizes: &[f64], bad: impl Fn(usize, &str) -> bool) {
    std::fs::create_dir_all(dir).unwrap();
    let ids: Vec<String> = (0..sizes.len() as u32).map(code).collect();
    let mut e = String::from("uscc,name,county_code,industry_code,entry_period\n");
    for (i, u) in ids.iter().enumerate() {
        e.push_str(&format!("{u},企业{i},340102,3670,2020-01\n"));
    }
    std::fs::write(dir.join("enterprises.csv"), e).unwrap();
    let last = Month::parse_strict(last).unwrap();
    let mut ind = String::from("uscc,period,gross_output,sales_output,export_delivery\n");
    let mut tax = String::from("uscc,period,taxable_sales\n");
    let mut m = Month::parse_strict("2025-01").unwrap();
    while m <= last {
        for (i, u) in ids.iter().enumerate() {
            // Never a round figure (IN007), never the same twice (IN006).
            // Two cycles of different lengths and phases: no two enterprises'
            // series are proportional (IN012).
            let wave = 0.02 * ((i * 7 + m.0 as usize) % 5) as f64
                + 0.013 * ((i * 3 + m.0 as usize) % 4) as f64;
            let g = (sizes[i] * (1.0 + wave) + 7.3).round();
            let s = (g * 0.97).round();
            let x = if bad(i, &m.to_string()) {
                s * 1.5
            } else {
                s * 0.1
            };
            ind.push_str(&format!("{u},{m},{g},{s},{}\n", x.round()));
            tax.push_str(&format!("{u},{m},{}\n", (s * 1.1).round()));
        }
        m = m.plus(1);
    }
    std::fs::write(dir.join("industrial.csv"), ind).unwrap();
    std::fs::write(dir.join("tax.csv"), tax).unwrap();
}

fn grade_of(out: &Path, u: &str) -> (String, f64) {
    let g = common::read_parquet(&out.join("grades.parquet"));
    let us = common::col_str(&g, "uscc");
    let gr = common::col_str(&g, "grade");
    let sc: Vec<Option<f64>> = g.column("score").unwrap().f64().unwrap().iter().collect();
    let i = us.iter().position(|x| x.as_deref() == Some(u)).unwrap();
    (gr[i].clone().unwrap(), sc[i].unwrap())
}

/// Enterprise 0 reports an impossible figure in January 2026 and corrects it in
/// February; the months are audited one after the other, each with the grades of
/// the month before. The grade is red at once, holds for three clean months, then
/// falls one step every three clean months.
#[test]
fn six_months_of_dynamic_adjustment() {
    let tmp = tempfile::tempdir().unwrap();
    let sizes = vec![3000.0; 12];
    let target = code(0);
    let mut previous: Option<std::path::PathBuf> = None;
    let mut held = Vec::new();
    for month in [
        "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07",
    ] {
        let data = tmp.path().join(format!("data-{month}"));
        // January's figure is wrong only in January's own batch; later batches
        // carry the corrected figure.
        write_batch(&data, month, &sizes, |i, m| {
            i == 0 && m == "2026-01" && month == "2026-01"
        });
        let out = tmp.path().join(format!("out-{month}"));
        let mut o = common::audit_opts(&data, &out, 1);
        o.previous_grades = previous.clone();
        zhibao::audit::run(&o).unwrap();
        held.push(grade_of(&out, &target).0);
        previous = Some(out.join("grades.parquet"));
    }
    assert_eq!(
        held,
        ["red", "red", "red", "yellow", "yellow", "yellow", "green"]
    );
    // The history letters of the year are carried from month to month.
    let g = common::read_parquet(&tmp.path().join("out-2026-07/grades.parquet"));
    let us = common::col_str(&g, "uscc");
    let h = common::col_str(&g, "grade_history");
    let i = us
        .iter()
        .position(|x| x.as_deref() == Some(target.as_str()))
        .unwrap();
    assert_eq!(h[i].as_deref(), Some("RRRYYYG"));
}

/// Without previous grades the state is rebuilt from the data: a run whose data
/// still shows the January error grades every month from January on.
#[test]
fn a_first_run_rebuilds_the_state_from_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let sizes = vec![3000.0; 12];
    let data = tmp.path().join("data");
    // The error is in December 2025, in the data of this run.
    write_batch(&data, "2026-02", &sizes, |i, m| i == 0 && m == "2025-12");
    let out = tmp.path().join("out");
    zhibao::audit::run(&common::audit_opts(&data, &out, 1)).unwrap();
    // December's hard finding: red in December, January, February (held).
    assert_eq!(grade_of(&out, &code(0)).0, "red");
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("rebuilt from the data"), "{summary}");
}

#[test]
fn the_same_error_ranks_higher_at_a_large_enterprise() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sizes = vec![3000.0; 12];
    sizes[1] = 60_000.0; // large
    sizes[2] = 800.0; // small
    let data = tmp.path().join("data");
    write_batch(&data, "2026-09", &sizes, |i, m| {
        (i == 1 || i == 2) && m == "2026-09"
    });
    let out = tmp.path().join("out");
    zhibao::audit::run(&common::audit_opts(&data, &out, 1)).unwrap();
    let (g_large, s_large) = grade_of(&out, &code(1));
    let (g_small, s_small) = grade_of(&out, &code(2));
    assert_eq!((g_large.as_str(), g_small.as_str()), ("red", "red"));
    assert!(s_large > s_small, "{s_large} vs {s_small}");
    let ql = common::read_csv(&out.join("query_list.csv"));
    let rank = |u: &str| {
        ql.iter()
            .find(|r| r["uscc"] == u)
            .map(|r| r["rank"].parse::<u32>().unwrap())
            .unwrap()
    };
    assert!(rank(&code(1)) < rank(&code(2)));
}

struct Graded {
    batch: zhibao::load::Batch,
    findings: DataFrame,
    grades: DataFrame,
}

/// One generated batch, checked and graded once for all the property cases.
fn graded() -> &'static Graded {
    static G: OnceLock<Graded> = OnceLock::new();
    G.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("b");
        let mut o = zhibao::generate::GenOptions::new(&data, 2000);
        o.seed = 3;
        o.other_families = false;
        zhibao::generate::generate(&o).unwrap();
        let batch = zhibao::load::load(&data, &Default::default()).unwrap();
        let pipeline = zhibao::pipeline::Pipeline::builtin();
        let checked = zhibao::rules::run(&batch, &pipeline.rule_set()).unwrap();
        let s = pipeline.grading();
        let scored = zhibao::grade::score(&batch, &checked, s).unwrap();
        let grades = zhibao::grade::apply(scored, &Default::default(), s).unwrap();
        // Keep the data alive for the process: the batch holds no file handles.
        std::mem::forget(tmp);
        Graded {
            batch,
            findings: checked.findings,
            grades,
        }
    })
}

fn list(seed: u64, capacity: Option<usize>, yellow_rate: f64) -> DataFrame {
    let g = graded();
    let mut p = zhibao::pipeline::Pipeline::builtin();
    let text = format!("[query_list]\nyellow_sample_rate = {yellow_rate}\n");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p.toml");
    std::fs::write(
        &f,
        format!("[pipeline]\ninclude = [\"default.toml\"]\n\n{text}"),
    )
    .unwrap();
    p = zhibao::pipeline::Pipeline::load(&f).unwrap_or(p);
    zhibao::rank::query_list(
        &zhibao::rank::RankInput {
            batch: &g.batch,
            findings: &g.findings,
            grades: &g.grades,
            seed,
            capacity,
            expected: None,
        },
        p.query_list(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// The list is a ranking (1..n, each enterprise once), every line has a soft or
    /// hard finding or was drawn at random, red comes before yellow, and the same
    /// seed gives the same list.
    #[test]
    fn the_query_list_is_a_ranking(seed in 0u64..1000, cap in proptest::option::of(1usize..8), rate in 0.0f64..0.5) {
        let ql = list(seed, cap, rate);
        let ranks: Vec<u32> = ql.column("rank").unwrap().u32().unwrap().iter().flatten().collect();
        prop_assert_eq!(ranks.clone(), (1..=ranks.len() as u32).collect::<Vec<_>>());
        let us = common::col_str(&ql, "uscc");
        let set: BTreeSet<_> = us.iter().collect();
        prop_assert_eq!(set.len(), us.len());
        let g = graded();
        let uscc_of = g.batch.uscc_by_eid();
        let sev = common::col_str(&g.findings, "severity");
        let eids: Vec<Option<u32>> = g.findings.column("eid").unwrap().u32().unwrap().iter().collect();
        let mut with_finding: BTreeSet<&str> = BTreeSet::new();
        for (e, s) in eids.iter().zip(&sev) {
            if let (Some(e), Some(s)) = (e, s) {
                if s != "info" {
                    with_finding.insert(uscc_of[*e as usize].as_str());
                }
            }
        }
        let sampled: Vec<Option<bool>> = ql.column("sampled").unwrap().bool().unwrap().iter().collect();
        let grade = common::col_str(&ql, "grade");
        let mut seen_yellow = false;
        for i in 0..ql.height() {
            let u = us[i].as_deref().unwrap();
            prop_assert!(with_finding.contains(u) || sampled[i] == Some(true), "{u} has no finding and was not sampled");
            if !sampled[i].unwrap() {
                if grade[i].as_deref() == Some("yellow") { seen_yellow = true; }
                if grade[i].as_deref() == Some("red") { prop_assert!(!seen_yellow, "red after yellow"); }
            }
        }
        let again = list(seed, cap, rate);
        prop_assert!(again.equals_missing(&ql));
    }
}

#[test]
fn another_seed_draws_another_sample() {
    let a = list(1, Some(1), 0.5);
    let b = list(2, Some(1), 0.5);
    let drawn = |df: &DataFrame| -> BTreeSet<String> {
        let us = common::col_str(df, "uscc");
        let s: Vec<Option<bool>> = df
            .column("sampled")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        us.into_iter()
            .zip(s)
            .filter(|(_, s)| *s == Some(true))
            .filter_map(|(u, _)| u)
            .collect()
    };
    let (da, db) = (drawn(&a), drawn(&b));
    assert!(!da.is_empty());
    assert_ne!(da, db);
    let _: HashMap<u8, u8> = HashMap::new();
}

/// A rule the pipeline makes `info` does not put an enterprise on the list: ranking
/// reads the severity the findings carry, not the registry's default (TX001 is soft
/// there).
#[test]
fn a_rule_the_pipeline_makes_info_does_not_list_its_enterprises() {
    let g = graded();
    let demoted = g
        .findings
        .clone()
        .lazy()
        .with_column(
            when(col("rule_code").eq(lit("TX001")))
                .then(lit("info"))
                .otherwise(col("severity"))
                .alias("severity"),
        )
        .collect()
        .unwrap();
    let uscc_of = g.batch.uscc_by_eid();
    let codes = common::col_str(&demoted, "rule_code");
    let sev = common::col_str(&demoted, "severity");
    let eids: Vec<Option<u32>> = demoted
        .column("eid")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    let mut tx001: BTreeSet<&str> = BTreeSet::new();
    let mut warned: BTreeSet<&str> = BTreeSet::new();
    for ((e, c), s) in eids.iter().zip(&codes).zip(&sev) {
        let (Some(e), Some(c), Some(s)) = (e, c, s) else {
            continue;
        };
        let u = uscc_of[*e as usize].as_str();
        if c == "TX001" {
            tx001.insert(u);
        } else if s != "info" {
            warned.insert(u);
        }
    }
    let only_tx001: BTreeSet<&str> = tx001.difference(&warned).copied().collect();
    // Some of them are graded yellow or red (from the registry's soft TX001): the
    // old ranking would have listed them.
    let graded_ids = common::col_str(&g.grades, "eid");
    let grade = common::col_str(&g.grades, "grade");
    let flagged = graded_ids
        .iter()
        .zip(&grade)
        .filter(|(e, gr)| {
            let e: usize = e.as_deref().unwrap().parse().unwrap();
            only_tx001.contains(uscc_of[e].as_str()) && gr.as_deref() != Some("green")
        })
        .count();
    assert!(
        flagged > 0,
        "no enterprise with TX001 alone is yellow or red"
    );
    let ql = zhibao::rank::query_list(
        &zhibao::rank::RankInput {
            batch: &g.batch,
            findings: &demoted,
            grades: &g.grades,
            seed: 1,
            capacity: None,
            expected: None,
        },
        zhibao::pipeline::Pipeline::builtin().query_list(),
    )
    .unwrap();
    let us = common::col_str(&ql, "uscc");
    let sampled: Vec<Option<bool>> = ql
        .column("sampled")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .collect();
    for (u, s) in us.iter().zip(&sampled) {
        let u = u.as_deref().unwrap();
        assert!(
            *s == Some(true) || !only_tx001.contains(u),
            "{u} is listed for TX001 alone, which the pipeline made info"
        );
    }
}

/// A frame's `eid` column.
fn eids_of(df: &DataFrame) -> Vec<u32> {
    df.column("eid")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

/// A generated batch of `n` enterprises (`seed`, `anomaly_rate`) in `dir`, loaded.
fn generated(dir: &Path, n: usize, seed: u64, anomaly_rate: f64) -> zhibao::load::Batch {
    let data = dir.join("batch");
    let mut g = zhibao::generate::GenOptions::new(&data, n);
    g.seed = seed;
    g.anomaly_rate = anomaly_rate;
    zhibao::generate::generate(&g).unwrap();
    zhibao::load::load(&data, &zhibao::load::LoadOptions { period: None }).unwrap()
}

/// Every month audited in one pass (`run_months`, which rebuilds the grade state)
/// gives, month by month and rule by rule, exactly the findings of a run of that
/// month alone. The months cross a year end, so year-to-date figures restart.
#[test]
fn one_pass_over_the_months_equals_a_run_per_month() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = generated(tmp.path(), 2_500, 29, 0.08);
    let (from, to) = (batch.period.plus(-12), batch.period);
    // The built-in pipeline, and one whose detectors test the year to date.
    let ytd = zhibao::pipeline::Pipeline::from_text(
        "ytd.toml",
        r#"
[pipeline]
name = "ytd"
include = ["default.toml"]

[[rule]]
code = "IN008"
params = { year_to_date = true }

[[rule]]
code = "IN009"
params = { year_to_date = true }

[[rule]]
code = "SV001"
params = { year_to_date = true }
"#,
    )
    .unwrap();
    let expect = [
        "IN001", "IN004", "IN005", "IN010", "IN011", "IN012", "EN001",
    ];
    for pipeline in [zhibao::pipeline::Pipeline::builtin(), ytd] {
        one_pass_equals_month_by_month(&batch, &pipeline, from, to, &expect, 1_000);
    }
    the_month_runs_anticipation_serves_the_pass(&batch);
    county_rules_audit_the_last_month_alone(&batch, from, to);
    the_pass_serves_the_report(&batch);
}

/// TX001's year-to-date ratios and IV007's groups, every month of a pass in one
/// call, are those of a run of each month alone when the tax records have what
/// bureau files have: a month the tax authority delivered in part (the ratio
/// skips it, and the months after it add up the complete months around it),
/// empty taxable sales, rows quarantined for a value in either table, a tax row
/// whose month cannot be told, and empty outputs. The months cross a year end.
#[test]
fn tax_ratios_over_a_pass_equal_a_run_per_month_with_incomplete_and_unknown_records() {
    let tmp = tempfile::tempdir().unwrap();
    let mut batch = generated(tmp.path(), 1_500, 31, 0.1);
    let (from, to) = (batch.period.plus(-12), batch.period);
    let (part, empty, gross_empty) = (to.plus(-4), to.plus(-7), to.plus(-5));
    let eid = || col("eid").cast(DataType::Int64);
    // Column `c` emptied in month `m` for one enterprise in `k`.
    let emptied = |c: &str, m: Month, k: i64| {
        when(col("period").eq(lit(m.0)).and((eid() % lit(k)).eq(lit(0))))
            .then(lit(NULL).cast(DataType::Float64))
            .otherwise(col(c))
            .alias(c)
    };
    let tax = batch.tables[&zhibao::model::Table::Tax]
        .clone()
        .lazy()
        // A month delivered for three enterprises in ten.
        .filter(
            col("period")
                .neq(lit(part.0))
                .or((eid() % lit(10)).lt(lit(3))),
        )
        .with_column(emptied("taxable_sales", empty, 50))
        .collect()
        .unwrap();
    let ind = batch.tables[&zhibao::model::Table::Industrial]
        .clone()
        .lazy()
        .with_column(emptied("gross_output", gross_empty, 61))
        .collect()
        .unwrap();
    batch.tables.insert(zhibao::model::Table::Tax, tax);
    batch.tables.insert(zhibao::model::Table::Industrial, ind);
    let n = batch.enterprises.height() as u32;
    let unknown_tax: Vec<(u32, i32)> = (0..n)
        .filter(|e| e % 97 == 1)
        .map(|e| (e, to.plus(-2).0))
        .chain([(5, zhibao::load::UNPLACED)])
        .collect();
    let unknown_ind: Vec<(u32, i32)> = (0..n)
        .filter(|e| e % 89 == 3)
        .map(|e| (e, to.plus(-9).0))
        .collect();
    batch.unknown.insert(zhibao::model::Table::Tax, unknown_tax);
    batch
        .unknown
        .insert(zhibao::model::Table::Industrial, unknown_ind);
    let pipeline = zhibao::pipeline::Pipeline::from_text(
        "tax.toml",
        r#"
[pipeline]
name = "tax"

[[rule]]
code = "TX001"

[[rule]]
code = "TX003"

[[rule]]
code = "IV007"
"#,
    )
    .unwrap();
    one_pass_equals_month_by_month(&batch, &pipeline, from, to, &["TX001", "IV007"], 100);
    // Each month's TX001 findings are the enterprises whose ratio, added up over
    // the complete months of the year to date from the tables as they are, is
    // below 90 % on an output above 500, leaving out every enterprise with an
    // unknown figure in those months (or a tax row of unknown month).
    let pass = zhibao::rules::run_pass(
        &batch,
        &pipeline.rule_set(),
        from,
        to,
        None,
        &Default::default(),
        zhibao::rules::PassOptions::default(),
    )
    .unwrap();
    let unknown: Vec<(u32, i32)> = batch.unknown.values().flatten().copied().collect();
    let mut m = from;
    let mut checked = 0;
    while m <= to {
        let months = zhibao::rules::tax::ratio_months_of(&batch, m).unwrap();
        let in_months = || col("period").is_in(zhibao::rules::common::i32_list(&months), false);
        let sums = |t: zhibao::model::Table, c: &str, name: &str| {
            batch.tables[&t]
                .clone()
                .lazy()
                .filter(in_months())
                .group_by([col("eid")])
                .agg([
                    col(c).sum().alias(name),
                    col(c)
                        .null_count()
                        .gt(lit(0))
                        .alias(format!("{name}_null").as_str()),
                ])
        };
        let df = sums(zhibao::model::Table::Industrial, "gross_output", "g")
            .join(
                sums(zhibao::model::Table::Tax, "taxable_sales", "t"),
                [col("eid")],
                [col("eid")],
                JoinArgs::new(JoinType::Left),
            )
            .collect()
            .unwrap();
        let col_f =
            |c: &str| -> Vec<Option<f64>> { df.column(c).unwrap().f64().unwrap().iter().collect() };
        let col_b = |c: &str| -> Vec<Option<bool>> {
            df.column(c).unwrap().bool().unwrap().iter().collect()
        };
        let eids = eids_of(&df);
        let (g, t, gn, tn) = (col_f("g"), col_f("t"), col_b("g_null"), col_b("t_null"));
        let mut expected: BTreeSet<u32> = BTreeSet::new();
        for i in 0..eids.len() {
            let e = eids[i];
            let unknown_here = unknown
                .iter()
                .any(|(u, p)| *u == e && (*p == zhibao::load::UNPLACED || months.contains(p)));
            if unknown_here || gn[i] == Some(true) || tn[i] == Some(true) {
                continue;
            }
            let (g, t) = (g[i].unwrap_or(0.0), t[i].unwrap_or(0.0));
            if g > 500.0 && t / g < 0.9 {
                expected.insert(e);
            }
        }
        let tx001 = pass
            .findings
            .clone()
            .lazy()
            .filter(
                col("at")
                    .eq(lit(m.0))
                    .and(col("rule_code").eq(lit("TX001"))),
            )
            .collect()
            .unwrap();
        let found: BTreeSet<u32> = eids_of(&tx001).into_iter().collect();
        assert_eq!(found, expected, "{m}: TX001's enterprises");
        checked += found.len();
        m = m.plus(1);
    }
    assert!(checked > 100, "only {checked} TX001 findings checked");
    // The state rebuild's year-to-date sizes, from one month panel of the
    // industrial table (with its empty outputs), score every month as the
    // table's own sums do.
    let builtin = zhibao::pipeline::Pipeline::builtin();
    let gs = builtin.grading();
    let sizes = zhibao::grade::ytd_sizes(&batch, from, to).unwrap();
    assert_eq!(sizes.len(), 13);
    for (m, size) in sizes {
        let findings = pass
            .findings
            .clone()
            .lazy()
            .filter(col("at").eq(lit(m.0)))
            .drop(by_name(["at"], true, false))
            .collect()
            .unwrap();
        let checked = zhibao::rules::Checked {
            findings,
            runs: Vec::new(),
            frames: Default::default(),
        };
        let b = batch.at(m);
        let own = zhibao::grade::score(&b, &checked, gs).unwrap();
        let given = zhibao::grade::score_sized(&b, &checked, gs, Some(size)).unwrap();
        assert!(
            own.height() > 1_000 && own.equals_missing(&given),
            "{m}: scores differ"
        );
    }
    // The month delivered in part is skipped by the months after it.
    let run = zhibao::rules::run(&batch.at(part.plus(1)), &pipeline.rule_set()).unwrap();
    let tx001 = run.runs.iter().find(|r| r.code == "TX001").unwrap();
    assert!(tx001.evaluated > 500, "{tx001:?}");
    let note = zhibao::rules::run(&batch.at(part), &pipeline.rule_set())
        .unwrap()
        .runs
        .into_iter()
        .find(|r| r.code == "TX001")
        .unwrap()
        .note
        .unwrap_or_default();
    assert!(note.contains("incomplete"), "{note}");
}

/// The frames a pass ending in the period hands to the stages after the rules
/// (`Pass::last_month`) give the anticipations a run of the month computes.
fn the_pass_serves_the_report(batch: &zhibao::load::Batch) {
    let pipeline = zhibao::pipeline::Pipeline::builtin();
    let p = batch.period;
    let pass = zhibao::rules::run_pass(
        batch,
        &pipeline.rule_set(),
        p.year_start(),
        p,
        None,
        &Default::default(),
        zhibao::rules::PassOptions::default(),
    )
    .unwrap();
    let frames = pass.last_month().unwrap().frames;
    for key in ["anticipation", "labour_anticipation"] {
        assert!(frames.contains_key(key), "{key} not handed on");
    }
    let set = pipeline.rule_set();
    let given = zhibao::rules::Ctx::new(batch, &set).with_frames(frames);
    let own = zhibao::rules::Ctx::new(batch, &set);
    let (a, b) = (
        zhibao::rules::anticipate::panel(&given).unwrap(),
        zhibao::rules::anticipate::panel(&own).unwrap(),
    );
    assert!(a.height() > 10_000 && a.equals_missing(&b));
    let (a, b) = (
        zhibao::rules::paired::output(&given).unwrap(),
        zhibao::rules::paired::output(&own).unwrap(),
    );
    assert!(a.height() > 1_000, "only {} paired rows", a.height());
    assert!(a.equals_missing(&b), "paired anticipations differ");
}

/// A pass that rebuilds the grade state audits the county rules in its last
/// month alone (`PassOptions::last_only`): that month's findings and counts are
/// those of the full pass, and no earlier month has county findings.
fn county_rules_audit_the_last_month_alone(batch: &zhibao::load::Batch, from: Month, to: Month) {
    let pipeline = zhibao::pipeline::Pipeline::builtin();
    let pass = |last_only| {
        zhibao::rules::run_pass(
            batch,
            &pipeline.rule_set(),
            from,
            to,
            None,
            &Default::default(),
            zhibao::rules::PassOptions {
                counted: true,
                last_only,
                last_month_messages: false,
            },
        )
        .unwrap()
    };
    let (full, some) = (pass(&[]), pass(&[zhibao::rules::registry::Level::County]));
    let of = |p: &zhibao::rules::Pass, earlier: bool, county: bool| {
        p.findings
            .clone()
            .lazy()
            .filter(if earlier {
                col("at").lt(lit(to.0))
            } else {
                col("at").eq(lit(to.0))
            })
            .filter(if county {
                col("level").eq(lit("county"))
            } else {
                col("level").neq(lit("county"))
            })
            .collect()
            .unwrap()
    };
    assert!(
        of(&full, false, true).height() > 0,
        "no county finding to compare"
    );
    assert!(of(&full, true, true).height() > 0);
    assert_eq!(
        of(&some, true, true).height(),
        0,
        "county findings of earlier months"
    );
    for county in [false, true] {
        assert!(of(&full, false, county).equals_missing(&of(&some, false, county)));
    }
    assert!(of(&full, true, false).equals_missing(&of(&some, true, false)));
    let summary = |p: &zhibao::rules::Pass| -> Vec<_> {
        p.last
            .iter()
            .map(|r| {
                (
                    r.code,
                    r.status,
                    r.evaluated,
                    r.failed,
                    r.not_evaluable,
                    r.note.clone(),
                )
            })
            .collect()
    };
    assert_eq!(summary(&full), summary(&some));
}

/// The pass that rebuilds the grade state takes the anticipation the run of the
/// month computed, its rows up to the months audited, instead of computing it
/// again (`run_months_given`): the rows are those the pass would compute, and so
/// are its findings.
fn the_month_runs_anticipation_serves_the_pass(batch: &zhibao::load::Batch) {
    let pipeline = zhibao::pipeline::Pipeline::builtin();
    let p = batch.period;
    let (from, to) = (p.year_start(), p.plus(-1));
    assert!(
        from < to,
        "the batch's period {p} leaves no months before it in its year"
    );
    let checked = zhibao::rules::run(batch, &pipeline.rule_set()).unwrap();
    let given = zhibao::rules::anticipate::narrowed(&checked.frames, p, from, to).unwrap();
    let rows = given
        .get("anticipation")
        .expect("the month's anticipation is kept");
    let last = batch.at(to);
    let set = pipeline.rule_set();
    let ctx = zhibao::rules::Ctx::months(&last, &set, from);
    let own = zhibao::rules::anticipate::panel(&ctx).unwrap();
    assert!(
        own.height() > 10_000,
        "only {} rows anticipated",
        own.height()
    );
    assert!(
        rows.equals_missing(&own),
        "given {} rows, computed {}",
        rows.height(),
        own.height()
    );
    // Another January: nothing is given.
    assert!(
        zhibao::rules::anticipate::narrowed(&checked.frames, p, p.plus(-13), to)
            .unwrap()
            .is_empty()
    );
    let with = zhibao::rules::run_months_given(
        batch,
        &pipeline.rule_set(),
        from,
        to,
        None,
        &checked.frames,
    )
    .unwrap();
    let without = zhibao::rules::run_months(batch, &pipeline.rule_set(), from, to, None).unwrap();
    assert!(with.equals_missing(&without), "the findings differ");
    let av001 = common::col_str(&with, "rule_code")
        .iter()
        .filter(|c| c.as_deref() == Some("AV001"))
        .count();
    assert!(av001 > 0, "AV001 found nothing to compare");
}

/// The findings of every month of a pass over `from..=to` are those of a run
/// of each month alone, rule by rule, and the pass's counts of its last month
/// those of a run of that month; at least `min_compared` findings, some of each
/// rule of `expect`.
fn one_pass_equals_month_by_month(
    batch: &zhibao::load::Batch,
    pipeline: &zhibao::pipeline::Pipeline,
    from: Month,
    to: Month,
    expect: &[&str],
    min_compared: usize,
) {
    let pipeline = pipeline.clone();
    let pass = pass_over(batch, &pipeline, from, to, false);
    let all = pass.findings.clone();
    let mut m = from;
    let mut compared = 0;
    let mut per_rule: std::collections::BTreeMap<String, usize> = Default::default();
    while m <= to {
        let alone = zhibao::rules::run(&batch.at(m), &pipeline.rule_set())
            .unwrap()
            .findings;
        let together = all
            .clone()
            .lazy()
            .filter(col("at").eq(lit(m.0)))
            .drop(by_name(["at"], true, false))
            .collect()
            .unwrap();
        let codes: BTreeSet<String> = common::col_str(&alone, "rule_code")
            .into_iter()
            .chain(common::col_str(&together, "rule_code"))
            .flatten()
            .collect();
        for code in codes {
            let of = |df: &DataFrame| {
                df.clone()
                    .lazy()
                    .filter(col("rule_code").eq(lit(code.as_str())))
                    .collect()
                    .unwrap()
            };
            let (a, t) = (of(&alone), of(&together));
            // The columns that differ, and their first differing row.
            let differ: Vec<String> = a
                .get_column_names()
                .iter()
                .filter_map(|c| {
                    let (x, y) = (a.column(c).ok()?, t.column(c.as_str()).ok());
                    let Some(y) = y else {
                        return Some(format!("{c} (missing)"));
                    };
                    if x.as_materialized_series()
                        .equals_missing(y.as_materialized_series())
                    {
                        return None;
                    }
                    let row = (0..x.len().min(y.len()))
                        .find(|&i| x.get(i).ok() != y.get(i).ok())
                        .unwrap_or(0);
                    Some(format!(
                        "{c} at row {row}: {:?} against {:?}",
                        x.get(row).ok(),
                        y.get(row).ok()
                    ))
                })
                .collect();
            assert!(
                a.equals_missing(&t),
                "{m} {code}: a run of the month alone found {} findings, the pass over the months {}; differing: {differ:?}\nalone: {a}\ntogether: {t}",
                a.height(),
                t.height()
            );
            compared += a.height();
            *per_rule.entry(code).or_insert(0) += a.height();
        }
        m = m.plus(1);
    }
    assert!(compared > min_compared, "only {compared} findings compared");
    // How each rule ended in the last month, as a run of that month alone says.
    let alone = zhibao::rules::run(&batch.at(to), &pipeline.rule_set())
        .unwrap()
        .runs;
    let summary = |r: &zhibao::rules::RuleRun| {
        (
            r.code,
            r.status,
            r.evaluated,
            r.failed,
            r.not_evaluable,
            r.note.clone(),
        )
    };
    assert_eq!(alone.len(), pass.last.len(), "runs reported for {to}");
    // Every rule of the pipeline counts its last month in the pass.
    assert!(
        pass.recounted.is_empty(),
        "run again on {to} for their counts: {:?}",
        pass.recounted
    );
    let differ: Vec<String> = alone
        .iter()
        .zip(&pass.last)
        .filter(|(a, t)| summary(a) != summary(t))
        .map(|(a, t)| format!("{:?} alone, {:?} in the pass", summary(a), summary(t)))
        .collect();
    assert!(
        differ.is_empty(),
        "{to}: the pass reports other counts than a run of the month:\n{}",
        differ.join("\n")
    );
    // The rules audited in one pass are among those compared.
    for code in expect {
        assert!(
            per_rule.get(*code).is_some_and(|n| *n > 0),
            "{code} found nothing to compare: {per_rule:?}"
        );
    }
    eprintln!("findings compared per rule: {per_rule:?}");
    messages_of_the_last_month_alone(batch, &pipeline, from, to, &all);
}

/// A pass over `from..=to` with every rule in every month, counted as a run of
/// the last month counts; messages for the last month alone when asked.
fn pass_over(
    batch: &zhibao::load::Batch,
    pipeline: &zhibao::pipeline::Pipeline,
    from: Month,
    to: Month,
    last_month_messages: bool,
) -> zhibao::rules::Pass {
    zhibao::rules::run_pass(
        batch,
        &pipeline.rule_set(),
        from,
        to,
        None,
        &Default::default(),
        zhibao::rules::PassOptions {
            counted: true,
            last_only: &[],
            last_month_messages,
        },
    )
    .unwrap()
}

/// A pass asked for the last month's messages alone gives the same findings as
/// one that renders them all (`all`): the last month's identical, the earlier
/// months' the same but for their messages, which are null.
fn messages_of_the_last_month_alone(
    batch: &zhibao::load::Batch,
    pipeline: &zhibao::pipeline::Pipeline,
    from: Month,
    to: Month,
    all: &DataFrame,
) {
    let quiet = pass_over(batch, pipeline, from, to, true).findings;
    let months = |df: &DataFrame, last: bool| {
        df.clone()
            .lazy()
            .filter(if last {
                col("at").eq(lit(to.0))
            } else {
                col("at").lt(lit(to.0))
            })
            .collect()
            .unwrap()
    };
    let (last_quiet, last_all) = (months(&quiet, true), months(all, true));
    assert!(last_all.height() > 0, "no findings in {to}");
    assert!(
        last_quiet.equals_missing(&last_all),
        "{to}: the last month's findings differ when only its messages are rendered"
    );
    let (earlier_quiet, earlier_all) = (months(&quiet, false), months(all, false));
    assert!(earlier_all.height() > 0, "no findings before {to}");
    for c in ["message", "message_en"] {
        assert_eq!(
            earlier_quiet.column(c).unwrap().null_count(),
            earlier_quiet.height(),
            "{c} rendered for an earlier month"
        );
    }
    // The same findings, whatever their order among those an ordering by
    // message told apart.
    let bare = |df: DataFrame| {
        let df = df.drop_many(["message", "message_en"]);
        let names: Vec<PlSmallStr> = df.get_column_names_owned();
        df.sort(names, SortMultipleOptions::default().with_nulls_last(true))
            .unwrap()
    };
    assert!(
        bare(earlier_quiet).equals_missing(&bare(earlier_all)),
        "the earlier months' findings differ when their messages are not rendered"
    );
}

/// A yellow enterprise queried on its record alone (earlier confirmed errors, not
/// a figure under review: `basis = record`) ranks after every yellow enterprise
/// queried on a figure, and is the first cut when its county's list is capped.
#[test]
fn a_record_alone_ranks_after_every_query_on_a_figure() {
    let g = graded();
    let rank = |findings: &DataFrame, capacity: Option<usize>| {
        zhibao::rank::query_list(
            &zhibao::rank::RankInput {
                batch: &g.batch,
                findings,
                grades: &g.grades,
                seed: 1,
                capacity,
                expected: None,
            },
            zhibao::pipeline::Pipeline::builtin().query_list(),
        )
        .unwrap()
    };
    // Ranked yellow lines without a figure far from its sources (those come
    // first whatever else): (county, eid), in the list's order.
    let yellow = |ql: &DataFrame| -> Vec<(String, u32)> {
        let county = common::col_str(ql, "county_code");
        let grade = common::col_str(ql, "grade");
        let codes = common::col_str(ql, "rule_codes");
        let sampled = ql.column("sampled").unwrap().bool().unwrap();
        let eid = ql.column("eid").unwrap().u32().unwrap();
        (0..ql.height())
            .filter(|&i| {
                grade[i].as_deref() == Some("yellow")
                    && sampled.get(i) == Some(false)
                    && !codes[i].as_deref().unwrap_or("").contains("AV00")
            })
            .map(|i| (county[i].clone().unwrap(), eid.get(i).unwrap()))
            .collect()
    };
    let before = yellow(&rank(&g.findings, None));
    // The county with the most ranked yellow lines, and its first one.
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, _) in &before {
        *per.entry(c.as_str()).or_default() += 1;
    }
    let (county, n) = per.iter().max_by_key(|(_, n)| **n).unwrap();
    assert!(*n >= 2, "no county with two ranked yellow lines");
    let e = before.iter().find(|(c, _)| c == county).unwrap().1;
    let record = g
        .findings
        .clone()
        .lazy()
        .with_column(
            when(col("eid").eq(lit(e)))
                .then(lit("record"))
                .otherwise(lit("figures"))
                .alias("basis"),
        )
        .collect()
        .unwrap();
    let after = yellow(&rank(&record, None));
    assert_eq!(after.len(), before.len(), "the same enterprises are listed");
    let last = after.iter().rev().find(|(c, _)| c == county).unwrap().1;
    assert_eq!(last, e, "the record comes after every figure of its county");
    // Capped one line short in its county: the record is the line cut.
    let ql = rank(&record, None);
    let in_county = common::col_str(&ql, "county_code")
        .iter()
        .zip(ql.column("sampled").unwrap().bool().unwrap().iter())
        .filter(|(c, s)| c.as_deref() == Some(*county) && *s == Some(false))
        .count();
    let capped = yellow(&rank(&record, Some(in_county - 1)));
    assert!(
        !capped.iter().any(|(_, x)| *x == e),
        "the record was not cut first"
    );
    assert!(
        capped.iter().filter(|(c, _)| c == county).count() == n - 1,
        "exactly one line of its county was cut"
    );
}
