//! Times the rules on one-enterprise batches, the unit of a live submission in
//! `zhibao serve`: `cargo run --example one_ent --profile profiling -- DIR [N] [K] [CODES]`,
//! DIR a folder `zhibao generate` wrote, N the number of runs (50), K the
//! enterprises of a batch (1: a group of K submissions in the service), CODES
//! the rules to run (`LB001,EN001`; all but the peer rules by default). The
//! checks against peer statistics (`LIVE_PEER_RULES`) run against the statistics
//! of the whole batch, as in the service; the slowest rules are listed.

use std::time::Instant;
use zhibao::model::Month;
fn main() {
    // `RUST_LOG=zhibao::rules=debug` logs each rule's time.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let dir = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(50);
    let k: usize = std::env::args()
        .nth(3)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1);
    let batch = zhibao::load::load(std::path::Path::new(&dir), &Default::default()).unwrap();
    let stats = zhibao::rules::record_peer_stats(
        &batch,
        &zhibao::pipeline::Pipeline::builtin().rule_set(),
        &zhibao::serve::live::LIVE_PEER_RULES,
    )
    .unwrap();
    let peers = zhibao::rules::Peers::Given(std::sync::Arc::new(stats));
    let mut per_rule: std::collections::BTreeMap<&str, f64> = Default::default();
    let mut p = zhibao::pipeline::Pipeline::builtin().rule_set();
    // A fourth argument: the rules to run (codes, comma-separated).
    let only: Option<Vec<String>> = std::env::args()
        .nth(4)
        .map(|s| s.split(',').map(str::to_string).collect());
    p.rules.retain(|r| {
        !zhibao::serve::live::PEER_RULES.contains(&r.def.code)
            && r.def.table != zhibao::model::Table::Rd
            && only
                .as_ref()
                .is_none_or(|o| o.iter().any(|c| c == r.def.code))
    });
    let mut ts = Vec::new();
    let subs: Vec<_> = (0..20)
        .map(|i| {
            batch
                .subset(
                    &(0..k)
                        .map(|j| ((i * k + j) * 37) as u32)
                        .collect::<Vec<_>>(),
                )
                .unwrap()
                .at(Month(batch.period.0))
        })
        .collect();
    eprintln!("loaded");
    for i in 0..n {
        let b = &subs[i % 20];
        let t = Instant::now();
        // In Polars' own pool, as the service runs a group's audit.
        let c = polars_core::runtime::THREAD_POOL
            .install(|| zhibao::rules::run_with_peers(b, &p, peers.clone()))
            .unwrap();
        ts.push(t.elapsed().as_secs_f64() * 1000.0);
        for r in &c.runs {
            *per_rule.entry(r.code).or_default() += r.seconds * 1000.0 / n as f64;
        }
        std::hint::black_box(c);
    }
    ts.sort_by(|a, b| a.total_cmp(b));
    println!("median {:.2} ms min {:.2}", ts[ts.len() / 2], ts[0]);
    let mut slow: Vec<_> = per_rule.into_iter().collect();
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (code, ms) in slow.iter().take(12) {
        println!("  {code} {ms:.2} ms");
    }
}
