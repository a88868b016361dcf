//! Load benchmark of `zhibao serve` (SERVICE_CONTRACT.md: a one-enterprise
//! submission answered within 50 ms at the 99th percentile on a 20,000-enterprise
//! history on two cores, and at least 500 submissions a second).
//!
//! `cargo bench --bench serve_load` (or `--profile profiling` to build faster).
//! Environment: `ZHIBAO_SERVE_ENTERPRISES` (20000), `ZHIBAO_SERVE_REQUESTS` (400
//! sequential requests), `ZHIBAO_SERVE_SECONDS` (20 s of concurrent load),
//! `ZHIBAO_SERVE_CLIENTS` (8,32: a run per
//! number of concurrent clients), `ZHIBAO_SERVE_RATE` (500 submissions a second
//! sent for `ZHIBAO_SERVE_SECONDS` whatever the answers, each timed from when it
//! was due); `ZHIBAO_SERVE_LOG` (a file for the server's log,
//! e.g. with `RUST_LOG=zhibao::serve=debug`). Baselines in the same run: a bare `GET /healthz`
//! (the HTTP floor) and one full `zhibao audit` of the same history (what
//! auditing the whole batch again for each submission would cost).

#[path = "../tests/common/http.rs"]
mod http;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zhibao");

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut ms: Vec<f64>, seconds: f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.95),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.len() as f64 / seconds
    );
}

/// One industrial row for a month of an enterprise of the history.
fn body(usccs: &[String], i: usize) -> String {
    let u = &usccs[(i * 7919) % usccs.len()];
    let v = 1000 + (i % 997);
    format!(
        "uscc,period,gross_output,sales_output,export_delivery\n{u},2026-10,{v},{},0\n",
        v - 3
    )
}

/// Posts it; the status and the time to the answer (ms).
fn post(addr: &str, token: &str, usccs: &[String], i: usize) -> (u16, f64) {
    let t = Instant::now();
    let (st, _) = http::http(
        addr,
        "POST",
        "/api/v1/submissions/industrial",
        Some(token),
        "text/csv",
        body(usccs, i).as_bytes(),
    );
    (st, t.elapsed().as_secs_f64() * 1000.0)
}

/// Submissions sent at `rate` a second for `seconds` by 64 threads, whatever the
/// answers; each timed (ms) from when it was due. With `keep`, each thread keeps
/// its connection alive. Prints p50/p99 second by second.
fn open_loop(
    addr: &str,
    token: &str,
    usccs: &Arc<Vec<String>>,
    rate: usize,
    seconds: usize,
    keep: bool,
) -> (Vec<f64>, f64) {
    let n = rate * seconds;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let senders: Vec<_> = (0..64)
        .map(|_| {
            let (addr, token, next) = (addr.to_string(), token.to_string(), next.clone());
            let usccs = usccs.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let mut conn = keep.then(|| http::Conn::open(&addr));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break out;
                    }
                    let due = t0 + Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let k = 50_000_000 + i + usize::from(keep) * 10_000_000;
                    let st = match conn.as_mut() {
                        Some(c) => {
                            c.request(
                                "POST",
                                "/api/v1/submissions/industrial",
                                Some(&token),
                                "text/csv",
                                body(&usccs, k).as_bytes(),
                            )
                            .0
                        }
                        None => post(&addr, &token, &usccs, k).0,
                    };
                    assert_eq!(st, 200);
                    out.push((i, due.elapsed().as_secs_f64() * 1000.0));
                }
            })
        })
        .collect();
    let all: Vec<(usize, f64)> = senders
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let took = t0.elapsed().as_secs_f64();
    for sec in 0..seconds {
        let mut v: Vec<f64> = all
            .iter()
            .filter(|(i, _)| i / rate == sec)
            .map(|x| x.1)
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        eprintln!(
            "open loop{}, second {sec}: p50 {:.1} ms, p99 {:.1} ms",
            if keep { " (kept alive)" } else { "" },
            percentile(&v, 0.5),
            percentile(&v, 0.99)
        );
    }
    (all.into_iter().map(|x| x.1).collect(), took)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let n = env_or("ZHIBAO_SERVE_ENTERPRISES", 20_000);
    let requests = env_or("ZHIBAO_SERVE_REQUESTS", 400);
    let seconds = env_or("ZHIBAO_SERVE_SECONDS", 20);
    // Concurrent clients, one run each: a comma-separated list.
    let clients: Vec<usize> = std::env::var("ZHIBAO_SERVE_CLIENTS")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-bench-{n}"));
    let data = root.join("data");
    if !data.join("enterprises.csv").is_file() {
        let _ = std::fs::remove_dir_all(&root);
        let o = Command::new(BIN)
            .args(["generate", "--out"])
            .arg(&data)
            .args([
                "--enterprises",
                &n.to_string(),
                "--months",
                "24",
                "--seed",
                "3",
                "--format",
                "csv",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let usccs: Arc<Vec<String>> = {
        let mut r = csv::Reader::from_path(data.join("enterprises.csv")).unwrap();
        Arc::new(r.records().map(|x| x.unwrap()[0].to_string()).collect())
    };
    let users = root.join("users.toml");
    let _ = std::fs::remove_file(&users);
    let o = Command::new(BIN)
        .args(["user", "add", "bench", "--role", "city", "--users"])
        .arg(&users)
        .output()
        .unwrap();
    assert!(o.status.success());
    let token = String::from_utf8(o.stdout).unwrap().trim().to_string();
    let state = root.join("state");
    let _ = std::fs::remove_dir_all(&state);

    // Baseline: one full audit of the history.
    let t = Instant::now();
    let o = Command::new(BIN)
        .args(["audit", "--force", "-q", "--seed", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(root.join("audit"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let full_audit_ms = t.elapsed().as_secs_f64() * 1000.0;

    let t = Instant::now();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--seed", "1", "--data"])
        .arg(&data)
        .arg("--state")
        .arg(&state)
        .arg("--users")
        .arg(&users)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let l = lines.next().expect("the server stopped").unwrap();
        if let Some(a) = l.split("http://").nth(1) {
            break a.trim().to_string();
        }
    };
    // The server's log (`RUST_LOG=zhibao::serve=debug` gives each group's times)
    // goes to `ZHIBAO_SERVE_LOG` when set.
    let mut log = std::env::var_os("ZHIBAO_SERVE_LOG").map(|p| std::fs::File::create(p).unwrap());
    std::thread::spawn(move || {
        for l in lines.map_while(|l| l.ok()) {
            if let Some(f) = log.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{l}");
            }
        }
    });
    let start_s = t.elapsed().as_secs_f64();
    // The first full audit is done once a read answers.
    let (st, _) = http::http(&addr, "GET", "/api/v1/progress", Some(&token), "", b"");
    assert_eq!(st, 200);

    // HTTP floor.
    let t = Instant::now();
    let floor: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            http::http(&addr, "GET", "/healthz", None, "", b"");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let floor_s = t.elapsed().as_secs_f64();

    // One client, one submission at a time.
    let t = Instant::now();
    let mut seq = Vec::with_capacity(requests);
    for i in 0..requests {
        let (st, ms) = post(&addr, &token, &usccs, i);
        assert_eq!(st, 200);
        seq.push(ms);
    }
    let seq_s = t.elapsed().as_secs_f64();

    // Several clients for a while.
    let runs: Vec<(usize, Vec<f64>, f64)> = clients
        .iter()
        .map(|&clients| {
            let stop = Arc::new(AtomicBool::new(false));
            let t = Instant::now();
            let handles: Vec<_> = (0..clients)
                .map(|c| {
                    let (addr, token, stop) = (addr.clone(), token.clone(), stop.clone());
                    let usccs = usccs.clone();
                    std::thread::spawn(move || {
                        let mut out = Vec::new();
                        let mut i = 1_000_000 * (c + 1);
                        while !stop.load(Ordering::Relaxed) {
                            let (st, ms) = post(&addr, &token, &usccs, i);
                            assert_eq!(st, 200);
                            out.push(ms);
                            i += 1;
                        }
                        out
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs(seconds as u64));
            stop.store(true, Ordering::Relaxed);
            let conc: Vec<f64> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            (clients, conc, t.elapsed().as_secs_f64())
        })
        .collect();
    // Open loop: submissions sent at a fixed rate whatever the answers, each
    // timed from when it was due (a late start counts against the server, so a
    // slow answer cannot hide the queue behind it); once with a new connection
    // per submission, once on connections kept alive.
    let rate = env_or("ZHIBAO_SERVE_RATE", 500);
    let open: Vec<(bool, Vec<f64>, f64)> = [false, true]
        .into_iter()
        .map(|keep| {
            let (ms, s) = open_loop(&addr, &token, &usccs, rate, seconds, keep);
            (keep, ms, s)
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();

    println!(
        "\nzhibao serve on a {n}-enterprise history (24 months), {} cores",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(0)
    );
    println!("start (history stored, loaded, first full audit): {start_s:.1} s; one full `zhibao audit` of it: {full_audit_ms:.0} ms\n");
    println!("| requests | n | p50 ms | p95 ms | p99 ms | max ms | per second |");
    println!("|---|---|---|---|---|---|---|");
    summary("GET /healthz (HTTP floor)", floor, floor_s);
    summary("one-enterprise submission, 1 client", seq.clone(), seq_s);
    for (clients, conc, conc_s) in runs {
        summary(
            &format!("one-enterprise submission, {clients} clients"),
            conc,
            conc_s,
        );
    }
    for (keep, ms, s) in open {
        let how = if keep {
            "connections kept alive"
        } else {
            "a connection each"
        };
        summary(
            &format!("one-enterprise submissions sent at {rate} per second (open loop, {how})"),
            ms,
            s,
        );
    }
    let mut s = seq;
    s.sort_by(|a, b| a.total_cmp(b));
    println!(
        "\np99 of a submission, 1 client: {:.1} ms = {:.3} × one full audit ({full_audit_ms:.0} ms)",
        percentile(&s, 0.99),
        percentile(&s, 0.99) / full_audit_ms
    );
}
