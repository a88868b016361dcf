//! Per-stage benchmarks on a mid-size generated batch (20,000 enterprises, two
//! years): load, rules, grading, query list, scorecard, and the HB detector alone.
//! `cargo bench --bench stages`; the whole-run comparison at national scale is
//! `benches/national.sh`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use zhibao::load::{load, LoadOptions};
use zhibao::pipeline::Pipeline;

fn batch_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-stages-20000");
    if !dir.join("enterprises.parquet").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(zhibao::generate::labels_path(&dir));
        let mut o = zhibao::generate::GenOptions::new(&dir, 20_000);
        o.seed = 5;
        zhibao::generate::generate(&o).expect("generate the benchmark batch");
    }
    dir
}

fn stages(c: &mut Criterion) {
    let dir = batch_dir();
    let pipeline = Pipeline::builtin();
    let mut g = c.benchmark_group("stages");
    g.sample_size(10);
    g.bench_function("load", |b| {
        b.iter(|| load(&dir, &LoadOptions::default()).unwrap())
    });
    let batch = load(&dir, &LoadOptions::default()).unwrap();
    g.bench_function("rules", |b| {
        b.iter(|| zhibao::rules::run(&batch, &pipeline.rule_set()).unwrap())
    });
    let checked = zhibao::rules::run(&batch, &pipeline.rule_set()).unwrap();
    let s = pipeline.grading();
    g.bench_function("grade", |b| {
        b.iter(|| {
            let scored = zhibao::grade::score(&batch, &checked, s).unwrap();
            zhibao::grade::apply(scored, &Default::default(), s).unwrap()
        })
    });
    let scored = zhibao::grade::score(&batch, &checked, s).unwrap();
    let mut graded = zhibao::grade::apply(scored, &Default::default(), s).unwrap();
    let hist = vec!["G".to_string(); graded.height()];
    graded
        .with_column(polars::prelude::Column::new("grade_history".into(), hist))
        .unwrap();
    let input = zhibao::rank::RankInput {
        batch: &batch,
        findings: &checked.findings,
        grades: &graded,
        seed: 1,
        capacity: None,
        expected: None,
    };
    g.bench_function("rank", |b| {
        b.iter(|| zhibao::rank::query_list(&input, pipeline.query_list()).unwrap())
    });
    let ql = zhibao::rank::query_list(&input, pipeline.query_list()).unwrap();
    g.bench_function("scorecard", |b| {
        b.iter(|| {
            zhibao::report::scorecard::build(
                &zhibao::report::scorecard::ScorecardInput {
                    batch: &batch,
                    findings: &checked.findings,
                    grades: &graded,
                    query_list: &ql,
                },
                pipeline.scorecard(),
            )
            .unwrap()
        })
    });
    g.finish();

    // The HB detector alone: 200,000 units in 50 groups.
    let n = 200_000usize;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| Some(1000.0 + ((i * 7919) % 5000) as f64))
        .collect();
    let y: Vec<Option<f64>> = (0..n)
        .map(|i| Some(1000.0 + ((i * 104729) % 5000) as f64))
        .collect();
    let group: Vec<u32> = (0..n).map(|i| (i % 50) as u32).collect();
    let p = zhibao::detect::hb::Params {
        mii: Some(4.0),
        exponent: 0.5,
        ..Default::default()
    };
    c.bench_function("detectors/hb_200k", |b| {
        b.iter(|| zhibao::detect::hb::run_grouped(&x, Some(&y), &group, 50, &p))
    });
}

criterion_group!(benches, stages);
criterion_main!(benches);
