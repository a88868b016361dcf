//! `zhibao serve` against SERVICE_CONTRACT.md: access, submissions, revisions,
//! verification outcomes, equality with `zhibao audit` on `zhibao export`,
//! durability under SIGKILL, and random bodies.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::http::http;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_zhibao");

fn zhibao(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// A generated history and two users: a city user and a county user.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    users: PathBuf,
    city: String,
    county_token: String,
    county: String,
    /// USCC → county of the register.
    register: BTreeMap<String, String>,
}

fn fixture(enterprises: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = root.join("data");
    let o = zhibao(&[
        "generate",
        "--out",
        data.to_str().unwrap(),
        "--enterprises",
        &enterprises.to_string(),
        "--months",
        "14",
        "--seed",
        "5",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let register: BTreeMap<String, String> = common::read_csv(&data.join("enterprises.csv"))
        .into_iter()
        .map(|r| (r["uscc"].clone(), r["county_code"].clone()))
        .collect();
    let county = register.values().min().unwrap().clone();
    let users = root.join("users.toml");
    let add = |name: &str, role: &str, c: Option<&str>| {
        let mut a = vec![
            "user",
            "add",
            name,
            "--users",
            users.to_str().unwrap(),
            "--role",
            role,
        ];
        if let Some(c) = c {
            a.extend(["--county", c]);
        }
        let o = zhibao(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        assert_eq!(
            out.lines().count(),
            1,
            "the token alone on one line: {out:?}"
        );
        out.trim().to_string()
    };
    let city = add("city", "city", None);
    let county_token = add("county", "county", Some(&county));
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(
        !text.contains(&city) && text.contains("$argon2"),
        "only hashes are kept"
    );
    Fixture {
        _dir: dir,
        root,
        data,
        users,
        city,
        county_token,
        county,
        register,
    }
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(f: &Fixture, state: &Path, with_data: bool) -> Server {
    let mut args = vec![
        "serve".to_string(),
        "--state".into(),
        state.display().to_string(),
        "--users".into(),
        f.users.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--seed".into(),
        "7".into(),
    ];
    if with_data {
        args.extend(["--data".into(), f.data.display().to_string()]);
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the server stopped before listening"))
            .unwrap();
        if let Some(a) = line.split("http://").nth(1) {
            break a.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let (st, b) = http(addr, "GET", path, token, "", b"");
    (st, serde_json::from_str(&b).unwrap_or(Value::String(b)))
}

fn post(addr: &str, path: &str, token: &str, ctype: &str, body: &str) -> (u16, Value) {
    let (st, b) = http(addr, "POST", path, Some(token), ctype, body.as_bytes());
    (st, serde_json::from_str(&b).unwrap_or(Value::String(b)))
}

/// The fixture's last month (`zhibao generate` ends in 2026-10 by default).
fn period_of(_: &Fixture) -> String {
    "2026-10".to_string()
}

#[test]
fn access_is_enforced_on_every_endpoint() {
    let f = fixture(300);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let a = s.addr.as_str();
    let other = f
        .register
        .iter()
        .find(|(_, c)| **c != f.county)
        .map(|(u, _)| u.clone())
        .unwrap();
    let own = f
        .register
        .iter()
        .find(|(_, c)| **c == f.county)
        .map(|(u, _)| u.clone())
        .unwrap();
    assert_eq!(http(a, "GET", "/healthz", None, "", b"").0, 200);
    let ep = format!("/api/v1/enterprises/{own}");
    for (m, p) in [
        ("GET", "/api/v1/query-list"),
        ("GET", ep.as_str()),
        ("GET", "/api/v1/scorecard"),
        ("GET", "/api/v1/progress"),
        ("POST", "/api/v1/submissions/industrial"),
        ("POST", "/api/v1/verifications"),
    ] {
        assert_eq!(
            http(a, m, p, None, "", b"").0,
            401,
            "{m} {p} without a token"
        );
        assert_eq!(
            http(a, m, p, Some("not-a-token"), "", b"").0,
            401,
            "{m} {p} with a wrong token"
        );
    }
    let t = f.county_token.as_str();
    // Reading another county.
    let (st, body) = get(a, &format!("/api/v1/enterprises/{other}"), Some(t));
    assert_eq!(st, 403);
    let other_county = &f.register[&other];
    let b = body.to_string();
    assert!(
        !b.contains(&other) && !b.contains(other_county.as_str()),
        "{b}"
    );
    let (st, _) = get(
        a,
        &format!("/api/v1/query-list?county={other_county}"),
        Some(t),
    );
    assert_eq!(st, 403);
    let (st, _) = get(
        a,
        &format!("/api/v1/scorecard?county={other_county}"),
        Some(t),
    );
    assert_eq!(st, 403);
    // What a county user sees is its own county only.
    for p in [
        "/api/v1/query-list",
        "/api/v1/scorecard",
        "/api/v1/progress",
    ] {
        let (st, rows) = get(a, p, Some(t));
        assert_eq!(st, 200, "{p}: {rows}");
        let rows = rows.as_array().unwrap();
        assert!(!rows.is_empty(), "{p} has rows of the county");
        for r in rows {
            assert_eq!(r["county_code"], Value::String(f.county.clone()), "{p}");
        }
    }
    let (st, _) = get(a, &format!("/api/v1/enterprises/{own}"), Some(t));
    assert_eq!(st, 200);
    // Writing another county.
    let p = period_of(&f);
    let csv =
        format!("uscc,period,gross_output,sales_output,export_delivery\n{other},{p},100,100,0\n");
    let (st, body) = post(a, "/api/v1/submissions/industrial", t, "text/csv", &csv);
    assert_eq!(st, 403, "{body}");
    assert!(!body.to_string().contains(&other));
    let v = format!(r#"{{"uscc":"{other}","period":"{p}","outcome":"explained","note":"x"}}"#);
    let (st, _) = post(a, "/api/v1/verifications", t, "application/json", &v);
    assert_eq!(st, 403);
    // The city user sees every county.
    let (st, rows) = get(a, "/api/v1/scorecard", Some(&f.city));
    assert_eq!(st, 200);
    let counties: std::collections::BTreeSet<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["county_code"].as_str())
        .collect();
    assert!(counties.len() > 1);
    let (st, _) = get(a, &format!("/api/v1/enterprises/{other}"), Some(&f.city));
    assert_eq!(st, 200);
}

#[test]
fn submissions_are_checked_stored_audited_and_equal_to_the_month_end_audit() {
    let f = fixture(400);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let a = s.addr.as_str();
    let p = period_of(&f);
    let mut us = f.register.keys();
    let (u1, u2, u3) = (
        us.next().unwrap().clone(),
        us.next().unwrap().clone(),
        us.next().unwrap().clone(),
    );
    // Chinese headings, a unit in a heading, one bad row: accepted and quarantined.
    let csv = format!(
        "统一社会信用代码,报告期,工业总产值(万元),工业销售产值(万元),出口交货值(万元)\n\
         {u1},{p},100,90,200\n{u2},{p},abc,1,0\n"
    );
    let (st, body) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "text/csv",
        &csv,
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["accepted"], 1);
    let q = body["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{body}");
    assert_eq!(q[0]["row"], 2);
    assert_eq!(q[0]["column"], "gross_output");
    assert!(body["peer_statistics_refreshed_at"].as_str().is_some());
    // Export delivery above sales output is a hard error: found at once, graded red.
    let codes: Vec<&str> = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["rule_code"].as_str())
        .collect();
    assert!(codes.contains(&"IN001"), "{body}");
    for x in body["findings"].as_array().unwrap() {
        assert_eq!(x["uscc"].as_str(), Some(u1.as_str()));
        assert!(x["message_en"].as_str().is_some() && x["hint"].as_str().is_some());
    }
    let g = &body["grades"][0];
    assert_eq!(g["uscc"].as_str(), Some(u1.as_str()));
    assert_eq!(g["grade"], "red", "{body}");

    // The same enterprise-month again is a revision: figures replaced, one more revision.
    let (_, before) = get(a, &format!("/api/v1/enterprises/{u3}"), Some(&f.city));
    let rev_before = before["submissions"]["industrial"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == p)
        .map(|r| {
            r["revisions"]
                .as_str()
                .unwrap_or("0")
                .parse::<i64>()
                .unwrap_or(0)
        })
        .unwrap_or(-1);
    let json = format!(
        r#"[{{"uscc":"{u3}","period":"{p}","gross_output":5000,"sales_output":4900,"export_delivery":0}}]"#
    );
    let (st, body) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "application/json",
        &json,
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["accepted"], 1);
    let (_, after) = get(a, &format!("/api/v1/enterprises/{u3}"), Some(&f.city));
    let row = after["submissions"]["industrial"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == p)
        .cloned()
        .unwrap();
    assert_eq!(row["gross_output"], "5000");
    if rev_before >= 0 {
        assert_eq!(row["revisions"], (rev_before + 1).to_string(), "{row}");
    }

    // Malformed bodies: 400 with the reason; nothing stored.
    let (st, body) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "application/json",
        "[{",
    );
    assert_eq!(st, 400);
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    let (st, body) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "text/csv",
        "uscc,period\nx,2026-10\n",
    );
    assert_eq!(st, 400);
    assert!(
        body["error"].as_str().unwrap().contains("gross_output"),
        "{body}"
    );
    let (st, _) = post(
        a,
        "/api/v1/submissions/nonsense",
        &f.city,
        "text/csv",
        "a\n1\n",
    );
    assert_eq!(st, 404);

    // A verification outcome with its explanation.
    let v = format!(
        r#"{{"uscc":"{u1}","period":"{p}","outcome":"confirmed_error","note":"企业已更正 corrected"}}"#
    );
    let (st, body) = post(a, "/api/v1/verifications", &f.city, "application/json", &v);
    assert_eq!(st, 200, "{body}");
    let (st, bad) = post(
        a,
        "/api/v1/verifications",
        &f.city,
        "application/json",
        &format!(r#"{{"uscc":"{u1}","period":"{p}","outcome":"maybe"}}"#),
    );
    assert_eq!(st, 400, "{bad}");
    let (_, e) = get(a, &format!("/api/v1/enterprises/{u1}"), Some(&f.city));
    let vs = e["verifications"].as_array().unwrap();
    assert!(
        vs.iter()
            .any(|x| x["outcome"] == "confirmed_error" && x["note"] == "企业已更正 corrected"),
        "{e}"
    );
    assert!(!e["grades"].as_array().unwrap().is_empty());

    // The service's query list and scorecard are what the month-end audit gives.
    let (st, ql) = get(a, "/api/v1/query-list", Some(&f.city));
    assert_eq!(st, 200);
    let (_, sc) = get(a, "/api/v1/scorecard", Some(&f.city));
    let export = f.root.join("export");
    let o = zhibao(&[
        "export",
        "--state",
        state.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = f.root.join("audit");
    let o = zhibao(&[
        "audit",
        "--data",
        export.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "7",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = common::read_csv(&out.join("query_list.csv"));
    let got = ql.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        for c in ["rank", "uscc", "grade", "rule_codes", "verifier", "sampled"] {
            let gv = match &g[c] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(gv, w[c], "query list column {c}");
        }
    }
    assert!(
        want.iter().any(|r| r["uscc"] == u1),
        "the red enterprise is on the list"
    );
    let want_sc = common::read_csv(&out.join("scorecard.csv"));
    let got_sc = sc.as_array().unwrap();
    assert_eq!(got_sc.len(), want_sc.len());
    for (g, w) in got_sc.iter().zip(&want_sc) {
        for c in [
            "county_code",
            "rank",
            "quality_score",
            "red",
            "yellow",
            "green",
        ] {
            let gv = match &g[c] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let same = gv == w[c]
                || gv
                    .parse::<f64>()
                    .ok()
                    .zip(w[c].parse::<f64>().ok())
                    .is_some_and(|(x, y)| (x - y).abs() < 1e-9);
            assert!(same, "scorecard column {c}: {gv} vs {}", w[c]);
        }
    }
    // The month-end audit used the outcome.
    let vfile = std::fs::read_to_string(
        export
            .join("verifications")
            .join("zz-service-submissions.csv"),
    )
    .unwrap();
    assert!(vfile.contains(&u1) && vfile.contains("confirmed_error"));
}

#[test]
fn acknowledged_writes_survive_sigkill_and_rejected_ones_change_nothing() {
    let f = fixture(200);
    let state = f.root.join("state");
    let mut s = start(&f, &state, true);
    let p = period_of(&f);
    let usccs: Vec<String> = f.register.keys().cloned().collect();
    // A writer posting as fast as it can; the server is killed while it writes.
    let addr = s.addr.clone();
    let token = f.city.clone();
    let (tx, rx) = std::sync::mpsc::channel::<(String, i64)>();
    let writer = std::thread::spawn(move || {
        for (i, u) in usccs.iter().cycle().take(10_000).enumerate() {
            let v = 1000 + i as i64;
            let csv = format!(
                "uscc,period,gross_output,sales_output,export_delivery\n{u},{p},{v},{v},0\n"
            );
            let mut st = match TcpStream::connect(&addr) {
                Ok(st) => st,
                Err(_) => return,
            };
            let req = format!(
                "POST /api/v1/submissions/industrial HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{csv}",
                csv.len()
            );
            if st.write_all(req.as_bytes()).is_err() {
                return;
            }
            let mut raw = String::new();
            if st.read_to_string(&mut raw).is_err() {
                return;
            }
            if raw.starts_with("HTTP/1.1 200") {
                let _ = tx.send((u.clone(), v));
            } else {
                return;
            }
        }
    });
    // Kill once some writes were acknowledged.
    let mut acked: HashMap<String, i64> = HashMap::new();
    while acked.len() < 15 {
        let (u, v) = rx
            .recv_timeout(Duration::from_secs(300))
            .expect("acknowledgements");
        acked.insert(u, v);
    }
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    writer.join().unwrap();
    for (u, v) in rx.try_iter() {
        acked.insert(u, v);
    }
    // Restart on the state alone.
    let s = start(&f, &state, false);
    let a = s.addr.as_str();
    // A rejected request changes nothing.
    let (st, _) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "text/csv",
        "uscc,period\n",
    );
    assert_eq!(st, 400);
    let p = period_of(&f);
    for (u, v) in &acked {
        let (st, e) = get(a, &format!("/api/v1/enterprises/{u}"), Some(&f.city));
        assert_eq!(st, 200);
        let row = e["submissions"]["industrial"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["period"] == p.as_str())
            .cloned()
            .unwrap();
        let got: i64 = row["gross_output"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap() as i64;
        // The last acknowledged value, or a later one whose answer was lost in the kill.
        assert!(got >= *v, "{u}: acknowledged {v}, found {got}");
    }
}

#[test]
fn random_bodies_never_crash_the_server() {
    use rand::{RngExt, SeedableRng};
    let f = fixture(120);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let a = s.addr.as_str();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let pieces = [
        "uscc",
        "period",
        "gross_output",
        "工业总产值(万元)",
        ",",
        "\n",
        "\"",
        "2026-10",
        "-1",
        "1e308",
        "NaN",
        "{",
        "}",
        "[",
        "]",
        ":",
        "null",
        "\u{feff}",
        "\r\n",
        "9999999999999999999999",
        "报告期",
    ];
    for i in 0..150 {
        let mut body = String::new();
        for _ in 0..rng.random_range(0..40) {
            body += pieces[rng.random_range(0..pieces.len())];
        }
        let mut bytes = body.into_bytes();
        if i % 5 == 0 {
            bytes.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
        }
        let table = [
            "industrial",
            "tax",
            "enterprises",
            "verifications",
            "rd",
            "investment",
        ][i % 6];
        let ctype = if i % 2 == 0 {
            "text/csv"
        } else {
            "application/json"
        };
        let path = if i % 7 == 0 {
            "/api/v1/verifications".to_string()
        } else {
            format!("/api/v1/submissions/{table}")
        };
        let (st, body) = http(a, "POST", &path, Some(&f.city), ctype, &bytes);
        assert!([200, 400, 403, 404, 413].contains(&st), "{st} {body}");
        if st != 200 {
            let v: Value =
                serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON error: {body}"));
            assert!(v["error"].as_str().is_some());
        }
    }
    assert_eq!(http(a, "GET", "/healthz", None, "", b"").0, 200);
    let (st, _) = get(a, "/api/v1/progress", Some(&f.city));
    assert_eq!(st, 200);
}

/// A WebDriver command to ChromeDriver.
fn wd(driver: &str, method: &str, path: &str, body: Value) -> Value {
    let (ctype, b) = match body {
        Value::Null => ("", String::new()),
        b => ("application/json", b.to_string()),
    };
    let (st, text) = http(driver, method, path, None, ctype, b.as_bytes());
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(st, 200, "WebDriver {method} {path}: {text}");
    v["value"].clone()
}

fn element(driver: &str, sid: &str, css: &str) -> String {
    let v = wd(
        driver,
        "POST",
        &format!("/session/{sid}/element"),
        serde_json::json!({"using": "css selector", "value": css}),
    );
    v.as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no element {css}: {v}"))
        .to_string()
}

fn source(driver: &str, sid: &str) -> String {
    wd(
        driver,
        "GET",
        &format!("/session/{sid}/source"),
        Value::Null,
    )
    .as_str()
    .unwrap_or("")
    .to_string()
}

/// The page source once it contains `needle` (a click's navigation may still be
/// under way when the click returns), or the last source after 60 s.
fn wait_for(driver: &str, sid: &str, needle: &str) -> String {
    let mut page = String::new();
    for _ in 0..600 {
        page = source(driver, sid);
        if page.contains(needle) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    page
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_web_page_in_headless_chromium() {
    for tool in ["chromium", "chromedriver"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false),
            "{tool} is not installed: run the tests with `bash scripts/test.sh`, which installs it"
        );
    }
    let f = fixture(200);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if TcpStream::connect(&driver).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = f.root.join("chromium-profile");
    let session = wd(
        &driver,
        "POST",
        "/session",
        serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}}),
    );
    let sid = session["sessionId"].as_str().unwrap().to_string();
    let go = |path: &str| {
        wd(
            &driver,
            "POST",
            &format!("/session/{sid}/url"),
            serde_json::json!({"url": format!("http://{}{path}", s.addr)}),
        );
    };
    // Login as the county user.
    go("/");
    assert!(source(&driver, &sid).contains("登录"));
    let t = element(&driver, &sid, "#token");
    wd(
        &driver,
        "POST",
        &format!("/session/{sid}/element/{t}/value"),
        serde_json::json!({"text": f.county_token}),
    );
    let b = element(&driver, &sid, "#login-button");
    wd(
        &driver,
        "POST",
        &format!("/session/{sid}/element/{b}/click"),
        serde_json::json!({}),
    );
    let page = wait_for(&driver, &sid, "id=\"query-list\"");
    assert!(
        page.contains("id=\"query-list\"") && page.contains("审核查询清单"),
        "{page}"
    );
    // The list holds the county's enterprises only.
    let own: Vec<&String> = f
        .register
        .iter()
        .filter(|(_, c)| **c == f.county)
        .map(|(u, _)| u)
        .collect();
    let other: Vec<&String> = f
        .register
        .iter()
        .filter(|(_, c)| **c != f.county)
        .map(|(u, _)| u)
        .collect();
    assert!(
        other.iter().all(|u| !page.contains(u.as_str())),
        "another county's enterprise on the page"
    );
    // One enterprise, then the verification form.
    let u = own[0];
    go(&format!("/e/{u}"));
    assert!(source(&driver, &sid).contains("录入核查结果"));
    let note = element(&driver, &sid, "#verify textarea[name=note]");
    wd(
        &driver,
        "POST",
        &format!("/session/{sid}/element/{note}/value"),
        serde_json::json!({"text": "说明合理：新生产线投产"}),
    );
    let save = element(&driver, &sid, "#verify-button");
    wd(
        &driver,
        "POST",
        &format!("/session/{sid}/element/{save}/click"),
        serde_json::json!({}),
    );
    let page = wait_for(&driver, &sid, "说明合理：新生产线投产");
    assert!(
        page.contains("说明合理：新生产线投产"),
        "the outcome is shown after saving: {page}"
    );
    let (_, e) = get(&s.addr, &format!("/api/v1/enterprises/{u}"), Some(&f.city));
    assert!(e["verifications"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["note"] == "说明合理：新生产线投产"));
    // Another county's enterprise: refused, and nothing of it shown.
    go(&format!("/e/{}", other[0]));
    let page = source(&driver, &sid);
    assert!(
        page.contains("forbidden") && !page.contains(other[0].as_str()),
        "{page}"
    );
    wd(&driver, "DELETE", &format!("/session/{sid}"), Value::Null);
}

#[test]
fn a_service_that_cannot_start_exits_2_with_the_reason() {
    let f = fixture(60);
    let state = f.root.join("state");
    let run = |args: &[&str]| {
        let o = Command::new(BIN).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let users = f.users.to_str().unwrap();
    // No history on a first start.
    let (code, err) = run(&[
        "serve",
        "--state",
        state.to_str().unwrap(),
        "--users",
        users,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--data"), "{err}");
    // A history that cannot be loaded (no tax table): refused, nothing stored.
    let broken = f.root.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for e in std::fs::read_dir(&f.data).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().is_file() && !name.starts_with("tax") {
            std::fs::copy(e.path(), broken.join(&name)).unwrap();
        }
    }
    let (code, err) = run(&[
        "serve",
        "--data",
        broken.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--users",
        users,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tax"), "{err}");
    let held = f.root.join("held");
    let (code, err) = run(&[
        "export",
        "--state",
        state.to_str().unwrap(),
        "--out",
        held.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !held.join("enterprises.csv").exists(),
        "nothing of the refused history is held"
    );
    // A users file that is not one.
    let bad = f.root.join("bad-users.toml");
    std::fs::write(
        &bad,
        "[[user]]\nname = \"x\"\nrole = \"county\"\ntoken_hash = \"plain\"\n",
    )
    .unwrap();
    let (code, err) = run(&[
        "serve",
        "--data",
        f.data.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--users",
        bad.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("county_code") || err.contains("argon2"),
        "{err}"
    );
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(&[
        "serve",
        "--data",
        f.data.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--users",
        users,
        "--listen",
        &addr,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&addr), "{err}");
    // `user add` refuses a county user without a county.
    let (code, err) = run(&["user", "add", "x", "--users", users, "--role", "county"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--county"), "{err}");
}

/// The checks of one enterprise's own figures, run in the answer on its rows alone,
/// find what the full audit of the whole state finds for it; so do the checks run
/// against the peer statistics of the last full audit, once those statistics hold
/// the submitted figures.
#[test]
fn an_answer_agrees_with_the_full_audit() {
    let f = fixture(300);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let a = s.addr.as_str();
    let p = period_of(&f);
    let peer = zhibao::serve::live::PEER_RULES;
    let live = zhibao::serve::live::LIVE_PEER_RULES;
    let key = |x: &Value| {
        (
            x["rule_code"].as_str().unwrap_or("").to_string(),
            x["period"].as_str().unwrap_or("").to_string(),
            x["message"].as_str().unwrap_or("").to_string(),
        )
    };
    let codes = |findings: &Value, keep: &dyn Fn(&str) -> bool, at_p: bool| {
        let mut v: Vec<_> = findings
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                (!at_p || x["period"] == p.as_str()) && keep(x["rule_code"].as_str().unwrap_or(""))
            })
            .map(key)
            .collect();
        v.sort();
        v
    };
    let own = |c: &str| !peer.contains(&c) && !live.contains(&c);
    let judged_now = |c: &str| !peer.contains(&c);
    let (mut compared, mut compared_live) = (0, 0);
    for (i, u) in f.register.keys().step_by(11).take(24).enumerate() {
        // Figures from ordinary to implausible: a jump, exports above sales, zero.
        let (g, sales, exp) = match i % 4 {
            0 => (1200.0, 1180.0, 0.0),
            1 => (98_000.0, 97_000.0, 0.0),
            2 => (500.0, 450.0, 900.0),
            _ => (0.0, 0.0, 0.0),
        };
        let csv = format!(
            "uscc,period,gross_output,sales_output,export_delivery\n{u},{p},{g},{sales},{exp}\n"
        );
        let post_it = || {
            let (st, body) = post(
                a,
                "/api/v1/submissions/industrial",
                &f.city,
                "text/csv",
                &csv,
            );
            assert_eq!(st, 200, "{body}");
            body
        };
        let full_audit = || {
            let (st, e) = get(a, &format!("/api/v1/enterprises/{u}"), Some(&f.city));
            assert_eq!(st, 200);
            e
        };
        let body = post_it();
        let answer = codes(&body["findings"], &own, false);
        let full = codes(&full_audit()["findings"], &own, true);
        assert_eq!(
            answer, full,
            "{u}: the answer's own checks against the full audit's"
        );
        compared += answer.len();
        // The same figures again (a revision): the last full audit's statistics
        // now hold them, so the checks run against them find what the next full
        // audit finds.
        let body = post_it();
        let answer = codes(&body["findings"], &judged_now, false);
        let full = codes(&full_audit()["findings"], &judged_now, true);
        assert_eq!(
            answer, full,
            "{u}: the answer's checks against the peer statistics of the last full audit"
        );
        compared_live += answer
            .iter()
            .filter(|k| live.contains(&k.0.as_str()))
            .count();
    }
    assert!(compared > 5, "findings were compared ({compared})");
    assert!(
        compared_live > 5,
        "findings against peer statistics were compared ({compared_live})"
    );
}

/// A submitted figure meets its peers' statistics in the answer itself, before the
/// next full audit: output far above the enterprise's VAT records fails TX001
/// (taxable sales below 90% of output, year to date), judged against the months
/// the last full audit found the tax records complete for.
#[test]
fn a_new_figure_meets_the_peer_statistics_in_the_answer() {
    let f = fixture(300);
    let state = f.root.join("state");
    let s = start(&f, &state, true);
    let a = s.addr.as_str();
    let p = period_of(&f);
    let has = |findings: &Value, code: &str| {
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule_code"] == code)
    };
    // An enterprise the full audit does not find below 90%.
    let u = f
        .register
        .keys()
        .find(|u| {
            let (st, e) = get(a, &format!("/api/v1/enterprises/{u}"), Some(&f.city));
            st == 200 && !has(&e["findings"], "TX001") && e["submissions"]["industrial"].is_array()
        })
        .expect("an enterprise without TX001")
        .clone();
    let g = 5_000_000.0;
    let csv = format!("uscc,period,gross_output,sales_output,export_delivery\n{u},{p},{g},{g},0\n");
    let (st, body) = post(
        a,
        "/api/v1/submissions/industrial",
        &f.city,
        "text/csv",
        &csv,
    );
    assert_eq!(st, 200, "{body}");
    let tx: Vec<&Value> = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule_code"] == "TX001")
        .collect();
    assert_eq!(tx.len(), 1, "{u}: TX001 on the new figure: {body}");
    // The jump against last year, last month (net of the division's median
    // change) and against the anticipation from every source.
    for code in ["IN004", "IN005"] {
        assert!(has(&body["findings"], code), "{u}: {code}: {body}");
    }
    assert!(
        has(&body["findings"], "AV001") || has(&body["findings"], "AV002"),
        "{u}: far from the anticipation: {body}"
    );
    assert_eq!(tx[0]["period"], p.as_str());
    assert!(
        tx[0]["message"].as_str().unwrap().contains("低于 90%"),
        "{}",
        tx[0]["message"]
    );
    // The full audit that follows finds the same.
    let (st, e) = get(a, &format!("/api/v1/enterprises/{u}"), Some(&f.city));
    assert_eq!(st, 200);
    let full: Vec<&Value> = e["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule_code"] == "TX001")
        .collect();
    assert_eq!(full.len(), 1);
    assert_eq!(full[0]["message"], tx[0]["message"]);

    // A group that submits only its VAT record: TX001 reads it, so it is judged
    // now (no longer taken from the last full audit, which saw the old VAT).
    let vat = (g * 1.5) as i64;
    let csv = format!("uscc,period,taxable_sales\n{u},{p},{vat}\n");
    let (st, body) = post(a, "/api/v1/submissions/tax", &f.city, "text/csv", &csv);
    assert_eq!(st, 200, "{body}");
    assert!(
        !has(&body["findings"], "TX001"),
        "{u}: the VAT now covers the output: {body}"
    );

    // A wage per employee twenty times its peers' in the latest quarter fails
    // LB001, scored against the peers' median and spread of the last full audit.
    let quarter = {
        let m = zhibao::model::Month::parse_strict(&p).unwrap();
        m.plus(-(((m.0 % 12) + 1) % 3)).to_string()
    };
    let v = f
        .register
        .keys()
        .find(|v| {
            let (st, e) = get(a, &format!("/api/v1/enterprises/{v}"), Some(&f.city));
            st == 200
                && !has(&e["findings"], "LB001")
                && e["submissions"]["labor"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x["period"] == quarter.as_str()))
        })
        .expect("an enterprise with a labour report and no LB001")
        .clone();
    let csv = format!("uscc,period,employees,wage_total\n{v},{quarter},50,500000\n");
    let (st, body) = post(a, "/api/v1/submissions/labor", &f.city, "text/csv", &csv);
    assert_eq!(st, 200, "{body}");
    let lb: Vec<&Value> = body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule_code"] == "LB001")
        .collect();
    assert_eq!(lb.len(), 1, "{v}: LB001 on the new wage: {body}");
    assert_eq!(lb[0]["period"], quarter.as_str());
}

/// Between two full audits an answer agrees with a full audit of the state as it
/// stands, whichever table the asking group submitted. A wage far above its
/// peers' (LB001) is posted first, then an output figure of the same enterprise:
/// the second answer's findings and grade count the wage's finding, although that
/// group submitted no labour row and the last full audit did not see the wage.
/// The checks none of whose tables changed are taken from the last full audit;
/// once a full audit has seen the wage, the labour checks are too. (The
/// service's background refreshes do not run here: the test installs its one
/// full audit itself. The pipeline leaves out the rules an answer always takes
/// from the last full audit, `PEER_RULES`, so that the grades compare.)
#[test]
fn an_answer_between_full_audits_counts_every_change_since_the_last() {
    use zhibao::model::{Month, Table};
    use zhibao::serve::live::{self, Config, Live, Request};
    let f = fixture(300);
    let state = f.root.join("state-lib");
    let mut store = zhibao::serve::store::Store::open(&state).unwrap();
    live::import_history(&mut store, &f.data).unwrap();
    let file = f.root.join("no-peer-rules.toml");
    let mut text =
        "[pipeline]\nname = \"no peer rules\"\ninclude = [\"default.toml\"]\n".to_string();
    for c in live::PEER_RULES {
        text.push_str(&format!("\n[[rule]]\ncode = \"{c}\"\nenabled = false\n"));
    }
    std::fs::write(&file, text).unwrap();
    let pipeline = zhibao::pipeline::Pipeline::load(&file).unwrap();
    assert!(pipeline
        .rules
        .iter()
        .all(|r| !live::PEER_RULES.contains(&r.def.code)));
    let cfg = Config {
        pipeline,
        pipeline_path: Some(file),
        period: None,
        seed: 7,
        work: state.join("work"),
        state: state.clone(),
        refresh_exe: None,
    };
    let mut l = Live::start(store, cfg.clone()).unwrap();
    let user = zhibao::serve::users::Users::load(&f.users)
        .unwrap()
        .authenticate(&f.city)
        .unwrap();
    let p = Month::parse_strict(&period_of(&f)).unwrap();
    let quarter = p.plus(-(((p.0 % 12) + 1) % 3));
    let found = |df: &polars::prelude::DataFrame, u: &str, code: &str| {
        let (us, cs) = (
            common::col_str(df, "uscc"),
            common::col_str(df, "rule_code"),
        );
        (0..df.height()).any(|i| us[i].as_deref() == Some(u) && cs[i].as_deref() == Some(code))
    };
    // An enterprise with a labour report in the latest quarter and no LB001.
    let v = f
        .register
        .keys()
        .find(|u| {
            let Some((e, _)) = l.county_of(u) else {
                return false;
            };
            let has_quarter = l
                .rows_of_enterprise(Table::Labor, e)
                .unwrap()
                .is_some_and(|d| {
                    d.column("period")
                        .unwrap()
                        .i32()
                        .unwrap()
                        .iter()
                        .any(|m| m == Some(quarter.0))
                });
            has_quarter && !found(&l.snap.findings, u, "LB001")
        })
        .expect("an enterprise with a labour report and no LB001")
        .clone();
    let submit = |l: &mut Live, t: Table, body: String| -> Value {
        l.submit(Request {
            table: t,
            body: body.into_bytes(),
            is_json: false,
            user: user.clone(),
            note: None,
        })
        .unwrap_or_else(|e| panic!("{e:?}"))
    };
    let has = |b: &Value, code: &str| {
        b["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule_code"] == code)
    };
    let wage = submit(
        &mut l,
        Table::Labor,
        format!("uscc,period,employees,wage_total\n{v},{quarter},50,500000\n"),
    );
    assert!(has(&wage, "LB001"), "{v}: LB001 on the new wage: {wage}");
    // Output of the quarter's last month: the answer's findings of that month
    // hold the wage's LB001, judged on the wage now held.
    let q = submit(
        &mut l,
        Table::Industrial,
        format!(
            "uscc,period,gross_output,sales_output,export_delivery\n{v},{quarter},80000,79000,0\n"
        ),
    );
    let lb001 = |b: &Value| -> Vec<Value> {
        b["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["rule_code"] == "LB001")
            .map(|x| x["message"].clone())
            .collect()
    };
    assert_eq!(lb001(&q), lb001(&wage), "{v}: {q}");
    // The checks none of whose tables changed since the last full audit were
    // taken from it; the labour and industrial ones were run.
    let reads = |c: &str| zhibao::rules::registry::get(c).unwrap().reads();
    assert!(
        !l.taken_from_snapshot.is_empty(),
        "{v}: nothing taken from the last full audit"
    );
    for c in &l.taken_from_snapshot {
        assert!(
            !reads(c).contains(&Table::Labor) && !reads(c).contains(&Table::Industrial),
            "{v}: {c} was taken from the last full audit although a table it reads changed"
        );
    }
    // A full audit that sees the wage: the labour checks are now taken from it
    // when the enterprise's output is posted.
    let seen = f.root.join("export-seen");
    live::export(&l.store, &seen).unwrap();
    let snap = live::audit_dir(&cfg, &seen, &f.root.join("audit-seen"), l.generation).unwrap();
    assert!(found(&snap.findings, &v, "LB001"));
    let _ = l.install(snap);
    let output = submit(
        &mut l,
        Table::Industrial,
        format!("uscc,period,gross_output,sales_output,export_delivery\n{v},{p},1200,1180,0\n"),
    );
    assert!(
        l.taken_from_snapshot.contains(&"LB001"),
        "{v}: LB001 read nothing new: {:?}",
        l.taken_from_snapshot
    );
    assert!(l
        .taken_from_snapshot
        .iter()
        .all(|c| !reads(c).contains(&Table::Industrial)));
    // The full audit of the state as it stands.
    let export = f.root.join("export-now");
    live::export(&l.store, &export).unwrap();
    let full = live::audit_dir(&cfg, &export, &f.root.join("audit-now"), l.generation).unwrap();
    assert!(found(&full.findings, &v, "LB001"));
    let (us, grades) = (
        common::col_str(&full.grades, "uscc"),
        common::col_str(&full.grades, "grade"),
    );
    let i = (0..full.grades.height())
        .find(|&i| us[i].as_deref() == Some(v.as_str()))
        .unwrap();
    assert_eq!(
        output["grades"][0]["grade"].as_str(),
        grades[i].as_deref(),
        "{v}: {output}"
    );
    // Its findings at the period, rule by rule, but those judged against the
    // last full audit's peer statistics, which do not hold the figures posted
    // since (`an_answer_agrees_with_the_full_audit` compares those).
    let own = |c: &str| !live::LIVE_PEER_RULES.contains(&c);
    let key = |code: &str, period: &str, msg: &str| {
        (code.to_string(), period.to_string(), msg.to_string())
    };
    let mut answer: Vec<_> = output["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| own(x["rule_code"].as_str().unwrap_or("")))
        .map(|x| {
            key(
                x["rule_code"].as_str().unwrap_or(""),
                x["period"].as_str().unwrap_or(""),
                x["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let (fu, fc, fp, fm) = (
        common::col_str(&full.findings, "uscc"),
        common::col_str(&full.findings, "rule_code"),
        common::col_str(&full.findings, "period"),
        common::col_str(&full.findings, "message"),
    );
    let mut audit: Vec<_> = (0..full.findings.height())
        .filter(|&i| {
            fu[i].as_deref() == Some(v.as_str())
                && fp[i].as_deref() == Some(p.to_string().as_str())
                && own(fc[i].as_deref().unwrap_or(""))
        })
        .map(|i| {
            key(
                fc[i].as_deref().unwrap_or(""),
                fp[i].as_deref().unwrap_or(""),
                fm[i].as_deref().unwrap_or(""),
            )
        })
        .collect();
    answer.sort();
    audit.sort();
    assert_eq!(
        answer, audit,
        "{v}: the answer's findings at {p} and the full audit's"
    );
    assert!(!answer.is_empty());
}
