//! The whole audit: load → check → grade → rank → report, into `--out`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::grade::{self, StateMap};
use crate::load::{self, Batch, LoadOptions, TableStats};
use crate::model::{Month, Table};
use crate::pipeline::Pipeline;
use crate::rank::{self, RankInput};
use crate::report::{self, outdir::Staging, scorecard, summary::*};
use crate::rules::{self, Checked};

/// What `zhibao audit` is asked to do.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// The data directory.
    pub data: PathBuf,
    /// The output directory.
    pub out: PathBuf,
    /// Period under review (default: the latest month of `industrial`).
    pub period: Option<Month>,
    /// A pipeline file (default: the built-in pipeline).
    pub pipeline: Option<PathBuf>,
    /// Seed of the random sampling (default: drawn, and recorded).
    pub seed: Option<u64>,
    /// Last month's `grades.parquet`.
    pub previous_grades: Option<PathBuf>,
    /// Query-list lines per county before sampling.
    pub capacity: Option<usize>,
    /// Replace an `--out` that zhibao did not write.
    pub force: bool,
    /// A progress display for long stages (the command shows one on a terminal).
    pub progress: Option<indicatif::ProgressBar>,
}

/// What an audit produced (also written to `--out`).
pub struct AuditResult {
    /// The summary written as `summary.json`.
    pub summary: Summary,
    /// The query list (output columns).
    pub query_list: DataFrame,
    /// The scorecard.
    pub scorecard: DataFrame,
    /// Where the outputs are.
    pub out: PathBuf,
    /// The batch audited.
    pub batch: Batch,
}

fn pe(stage: &'static str) -> impl Fn(PolarsError) -> Error {
    move |e| Error::polars(stage, e)
}

/// Logs the time since the last lap at debug level (`RUST_LOG=zhibao=debug`), for
/// the steps of a stage.
struct Laps(Instant);

impl Laps {
    fn lap(&mut self, step: &str) {
        tracing::debug!(seconds = self.0.elapsed().as_secs_f64(), "step {step}");
        self.0 = Instant::now();
    }
}

/// Letters of a grade history (`R`, `Y`, `G`, `-` for a month not graded).
fn letter(g: &str) -> char {
    match g {
        "red" => 'R',
        "yellow" => 'Y',
        "green" => 'G',
        _ => '-',
    }
}

/// The first month of the pass that rebuilds the grade state: `back` months
/// before the period, or January of its year when that is earlier.
/// Each enterprise's grades held earlier in the year, a letter a month.
type Histories = PlHashMap<u32, String>;

fn rebuild_start(p: Month, back: i32) -> Month {
    std::cmp::min(p.plus(-back), p.year_start())
}

/// Grades the months before the period under review from their findings (`all`,
/// the month in `at`: a pass over them), and returns the state for the period and
/// each enterprise's history of grades held from January (one letter per month).
/// County findings do not enter enterprises' scores.
fn rebuild_state(
    batch: &Batch,
    pipeline: &Pipeline,
    start: Month,
    all: &DataFrame,
) -> Result<(StateMap, Histories)> {
    let s = pipeline.grading();
    let p = batch.period;
    let mut state = StateMap::new();
    let mut hist = Histories::default();
    // Every earlier month's year-to-date sizes from one panel of the industrial
    // table, not a scan of it per month.
    let mut sizes = if start < p {
        grade::ytd_sizes(batch, start, p.plus(-1))?
    } else {
        Vec::new()
    }
    .into_iter();
    let mut m = start;
    while m < p {
        let b = batch.at(m);
        let findings = all
            .clone()
            .lazy()
            .filter(col("at").eq(lit(m.0)))
            .drop(by_name(["at"], true, false))
            .collect()
            .map_err(pe("rules"))?;
        let checked = Checked {
            frames: Default::default(),
            findings,
            runs: Vec::new(),
        };
        let size = sizes.next().filter(|(at, _)| *at == m).map(|(_, df)| df);
        let scored = grade::score_sized(&b, &checked, s, size)?;
        let graded = grade::apply(scored, &state, s)?;
        state = grade::state_of(&graded)?;
        if m >= p.year_start() {
            let months_in = (m.0 - p.year_start().0) as usize;
            for (e, st) in &state {
                let h = hist.entry(*e).or_default();
                while h.len() < months_in {
                    h.push('-');
                }
                h.push(letter(st.grade.as_str()));
            }
        }
        m = m.plus(1);
    }
    Ok((state, hist))
}

/// Grade histories carried by an earlier `grades.parquet` (same year only).
fn histories_from_file(path: &Path, batch: &Batch) -> Result<Histories> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::Usage(format!("--previous-grades {}: {e}", path.display())))?;
    let df = ParquetReader::new(file).finish().map_err(pe("grade"))?;
    let (Ok(u), Ok(h), Ok(per)) = (
        df.column("uscc"),
        df.column("grade_history"),
        df.column("period"),
    ) else {
        return Ok(Histories::default());
    };
    let (u, h, per) = (
        u.str().map_err(pe("grade"))?,
        h.str().map_err(pe("grade"))?,
        per.str().map_err(pe("grade"))?,
    );
    let ids: HashMap<String, u32> = batch
        .uscc_by_eid()
        .into_iter()
        .enumerate()
        .map(|(i, u)| (u, i as u32))
        .collect();
    let p = batch.period;
    let mut out = Histories::default();
    for i in 0..df.height() {
        let (Some(us), Some(hs), Some(ps)) = (u.get(i), h.get(i), per.get(i)) else {
            continue;
        };
        let Ok(fp) = Month::parse_strict(ps) else {
            continue;
        };
        if fp.year() != p.year() {
            continue;
        }
        // A re-run of the same month: its history ends with this month; drop it.
        let mut hs = hs.to_string();
        if fp == p {
            hs.pop();
        }
        if let Some(&e) = ids.get(us) {
            out.insert(e, hs);
        }
    }
    Ok(out)
}

/// The scorecard with each county's stopping rule: `lines_to_stop`,
/// `expected_error`, `stop_reached`.
fn with_stops(sc: DataFrame, stops: &BTreeMap<String, rank::Stop>) -> Result<DataFrame> {
    let codes: Vec<String> = stops.keys().cloned().collect();
    let st = DataFrame::new(
        codes.len(),
        vec![
            Column::new("county_code".into(), codes),
            Column::new(
                "lines_to_stop".into(),
                stops.values().map(|s| s.lines).collect::<Vec<u32>>(),
            ),
            Column::new(
                "expected_error".into(),
                stops
                    .values()
                    .map(|s| s.expected_error)
                    .collect::<Vec<f64>>(),
            ),
            Column::new(
                "stop_reached".into(),
                stops.values().map(|s| s.reached).collect::<Vec<bool>>(),
            ),
        ],
    )
    .map_err(pe("report"))?;
    sc.lazy()
        .join(
            st.lazy(),
            [col("county_code")],
            [col("county_code")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("lines_to_stop").fill_null(lit(0u32)),
            col("expected_error").fill_null(lit(0.0)),
            col("stop_reached").fill_null(lit(true)),
        ])
        .collect()
        .map_err(pe("report"))
}

/// The mixture fitted to the period's anticipations, when there are any.
fn mixture_of(panel: &DataFrame, p: Month) -> Option<crate::report::summary::MixtureSummary> {
    let last = panel
        .clone()
        .lazy()
        .filter(col("period").eq(lit(p.0)))
        .slice(0, 1)
        .collect()
        .ok()?;
    if last.height() == 0 {
        return None;
    }
    let get = |c: &str| last.column(c).ok()?.f64().ok()?.get(0);
    Some(crate::report::summary::MixtureSummary {
        prior_error_rate: (get("mix_prior")? * 1e6).round() / 1e6,
        error_scale: (get("mix_scale")? * 1e4).round() / 1e4,
        sigma0: (get("mix_sigma0")? * 1e4).round() / 1e4,
    })
}

/// Checks the output directory before the work, so a refusal comes at once. It
/// may never be, or hold, an input of the run, with or without --force.
fn check_out(opts: &AuditOptions) -> Result<()> {
    let mut inputs: Vec<(&str, &std::path::Path)> = vec![("data directory", &opts.data)];
    if let Some(p) = &opts.pipeline {
        inputs.push(("pipeline file", p));
    }
    if let Some(p) = &opts.previous_grades {
        inputs.push(("previous grades file", p));
    }
    crate::report::outdir::check_inputs(&opts.out, &inputs)?;
    drop(Staging::new(&opts.out, opts.force)?);
    Ok(())
}

/// The rules' run of the period. A first audit (no grades of last month)
/// rebuilds the grade state from the months from `start`: they and the period are
/// audited in one pass, and the earlier months' findings come back with the
/// period's.
fn audit_months(
    batch: &Batch,
    pipeline: &Pipeline,
    opts: &AuditOptions,
    start: Month,
) -> Result<(Checked, Option<DataFrame>)> {
    let back = pipeline.grading().rebuild_months;
    if opts.previous_grades.is_some() || back == 0 {
        let checked =
            rules::run_with_progress(batch, &pipeline.rule_set(), opts.progress.as_ref())?;
        return Ok((checked, None));
    }
    let pass = rules::run_pass(
        batch,
        &pipeline.rule_set(),
        start,
        batch.period,
        opts.progress.as_ref(),
        &rules::Frames::new(),
        rules::PassOptions {
            counted: true,
            last_only: &[crate::rules::registry::Level::County],
            // The earlier months' findings rebuild the grade state and are not
            // written.
            last_month_messages: true,
        },
    )?;
    Ok((pass.last_month()?, Some(pass.findings)))
}

/// The grade state of last month, the grade histories of the year and where the
/// state comes from: last month's grades file, the earlier months' findings, or
/// neither (`rebuild_months = 0`).
fn grade_state(
    opts: &AuditOptions,
    batch: &Batch,
    pipeline: &Pipeline,
    start: Month,
    earlier: Option<&DataFrame>,
) -> Result<(StateMap, Histories, String)> {
    Ok(match (&opts.previous_grades, earlier) {
        (Some(path), _) => (
            grade::read_state(path, batch)?,
            histories_from_file(path, batch)?,
            format!("previous grades from {}", path.display()),
        ),
        (None, Some(all)) => {
            let (st, h) = rebuild_state(batch, pipeline, start, all)?;
            (
                st,
                h,
                format!(
                    "rebuilt from the data ({} earlier months)",
                    batch.period.0 - start.0
                ),
            )
        }
        (None, None) => (
            StateMap::new(),
            Histories::default(),
            "not rebuilt (rebuild_months = 0): grades of this month alone".to_string(),
        ),
    })
}

/// Adds `grade_history`, the year's grades as letters: the earlier months' (`-`
/// where unknown), then this one.
fn with_grade_history(graded: &mut DataFrame, mut histories: Histories, p: Month) -> Result<()> {
    let months_before = (p.0 - p.year_start().0) as usize;
    let eids = graded
        .column("eid")
        .map_err(pe("grade"))?
        .u32()
        .map_err(pe("grade"))?
        .clone();
    let grades_now = graded
        .column("grade")
        .map_err(pe("grade"))?
        .str()
        .map_err(pe("grade"))?
        .clone();
    let hist_col: Vec<String> = (0..graded.height())
        .map(|i| {
            let e = eids.get(i).unwrap_or(0);
            let mut h = histories.remove(&e).unwrap_or_default();
            h.truncate(months_before);
            while h.len() < months_before {
                h.insert(0, '-');
            }
            h.push(letter(grades_now.get(i).unwrap_or("")));
            h
        })
        .collect();
    graded
        .with_column(Column::new("grade_history".into(), hist_col))
        .map_err(pe("grade"))?;
    Ok(())
}

/// Writes `scorecard.html`, the page of the scorecard and the query list.
fn write_page(
    staging: &Staging,
    sc_out: &DataFrame,
    ql: &DataFrame,
    grades_out: &DataFrame,
    p: Month,
    pipeline: &Pipeline,
    seed: u64,
) -> Result<()> {
    let histories: Vec<String> = grades_out
        .column("grade_history")
        .map_err(pe("report"))?
        .str()
        .map_err(pe("report"))?
        .iter()
        .map(|h| h.unwrap_or("").to_string())
        .collect();
    let page = report::html::render(&report::html::PageInput {
        scorecard: sc_out,
        query_list: ql,
        histories,
        period: p,
        pipeline_name: &pipeline.name,
        pipeline_params: pipeline.describe(),
        settings: pipeline.scorecard(),
        seed,
    })?;
    std::fs::write(staging.file("scorecard.html"), page).map_err(|e| Error::Output {
        path: staging.file("scorecard.html"),
        message: e.to_string(),
    })?;
    Ok(())
}

/// Writes `report.xlsx`. The workbook is for reading: its findings sheet holds
/// the findings of the enterprises on the query list and the county findings (all
/// of them are in findings.parquet).
fn write_workbook(
    staging: &Staging,
    ql_out: &DataFrame,
    sc_out: &DataFrame,
    findings_out: &DataFrame,
    batch: &Batch,
) -> Result<()> {
    let listed = ql_out
        .column("uscc")
        .map_err(pe("report"))?
        .as_materialized_series()
        .clone();
    let findings_listed = findings_out
        .clone()
        .lazy()
        .filter(
            col("uscc")
                .is_in(lit(listed).implode(false), false)
                .or(col("level").eq(lit("county"))),
        )
        .collect()
        .map_err(pe("report"))?;
    report::xlsx::write_report(
        ql_out,
        sc_out,
        &findings_listed,
        &batch
            .quarantine
            .iter()
            .chain(&batch.notes)
            .cloned()
            .collect::<Vec<_>>(),
        batch.period,
        &staging.file("report.xlsx"),
    )?;
    Ok(())
}

/// The counts of the outputs for `summary.json`: findings by severity, grades,
/// query lines, counties named.
fn output_counts(
    findings_out: &DataFrame,
    grades_out: &DataFrame,
    ql: &DataFrame,
    sc: &DataFrame,
) -> Result<Counts> {
    let mut outputs = Counts::default();
    let sev = findings_out
        .column("severity")
        .map_err(pe("report"))?
        .str()
        .map_err(pe("report"))?
        .clone();
    for s in sev.iter().flatten() {
        *outputs.findings.entry(s.to_string()).or_default() += 1;
    }
    for g in grades_out
        .column("grade")
        .map_err(pe("report"))?
        .str()
        .map_err(pe("report"))?
        .iter()
        .flatten()
    {
        *outputs.grades.entry(g.to_string()).or_default() += 1;
    }
    outputs.query_lines = ql.height() as u64;
    outputs.query_sampled = ql
        .column("sampled")
        .map_err(pe("report"))?
        .bool()
        .map_err(pe("report"))?
        .sum()
        .unwrap_or(0) as u64;
    outputs.query_city = ql
        .column("verifier")
        .map_err(pe("report"))?
        .str()
        .map_err(pe("report"))?
        .iter()
        .filter(|v| *v == Some("city"))
        .count() as u64;
    outputs.counties = sc.height() as u64;
    let codes = sc
        .column("county_code")
        .map_err(pe("report"))?
        .str()
        .map_err(pe("report"))?
        .clone();
    let bottom = sc
        .column("bottom3")
        .map_err(pe("report"))?
        .bool()
        .map_err(pe("report"))?
        .clone();
    let flag = sc
        .column("tax_flag")
        .map_err(pe("report"))?
        .bool()
        .map_err(pe("report"))?
        .clone();
    for i in 0..sc.height() {
        if bottom.get(i) == Some(true) {
            outputs
                .bottom_counties
                .push(codes.get(i).unwrap_or("").to_string());
        }
        if flag.get(i) == Some(true) {
            outputs
                .tax_flagged_counties
                .push(codes.get(i).unwrap_or("").to_string());
        }
    }
    outputs.tax_flagged_counties.sort();
    Ok(outputs)
}

/// Every stage's time to the millisecond.
fn round_timings(timings: &mut Timings) {
    for v in [
        &mut timings.load,
        &mut timings.rules,
        &mut timings.state_rebuild,
        &mut timings.grade,
        &mut timings.rank,
        &mut timings.report,
        &mut timings.total,
    ] {
        *v = (*v * 1000.0).round() / 1000.0;
    }
}

/// The accounting of every table read: rows read, accepted, quarantined.
fn table_counts(batch: &Batch) -> BTreeMap<String, TableStats> {
    batch
        .stats
        .iter()
        .map(|(t, s)| (t.name().to_string(), s.clone()))
        .collect()
}

/// The contract's tables the data directory does not hold.
fn tables_not_provided(batch: &Batch) -> Vec<String> {
    Table::ALL
        .iter()
        .filter(|t| batch.table(**t).is_none())
        .map(|t| t.name().to_string())
        .collect()
}

/// The rows of `anticipated.parquet`: gross output's anticipation, then the
/// paired figures' (wage bill and headcount, R&D spend).
fn anticipated_output(
    anticipated: &DataFrame,
    after: &rules::Ctx<'_>,
    batch: &Batch,
) -> Result<DataFrame> {
    let mut out = crate::rules::anticipate::output(anticipated, batch)?;
    let paired = crate::rules::paired::output(after)?;
    if paired.height() > 0 {
        out.vstack_mut(&paired).map_err(pe("report"))?;
    }
    Ok(out)
}

/// Each rule's counts and note for `summary.json`; its time goes to `timings`.
fn rule_summaries(checked: &Checked, timings: &mut Timings) -> BTreeMap<String, RuleSummary> {
    let mut rules_summary = BTreeMap::new();
    for r in &checked.runs {
        rules_summary.insert(r.code.to_string(), RuleSummary::from(r));
        timings
            .per_rule
            .insert(r.code.to_string(), (r.seconds * 1000.0).round() / 1000.0);
    }
    rules_summary
}

/// Writes `summary.json`.
fn write_summary(staging: &Staging, summary: &Summary) -> Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(|e| Error::Internal {
        stage: "report",
        message: e.to_string(),
    })?;
    std::fs::write(staging.file("summary.json"), json + "\n").map_err(|e| Error::Output {
        path: staging.file("summary.json"),
        message: e.to_string(),
    })
}

/// Writes `anticipated.parquet` (millions of rows) on its own thread while the
/// other outputs, most of which are built and written on one core, are written
/// beside it.
fn write_beside_anticipated(
    r: &Reports<'_>,
    anticipated_out: &mut DataFrame,
    laps: &mut Laps,
) -> Result<Written> {
    let path = r.staging.file("anticipated.parquet");
    std::thread::scope(|scope| {
        let parquet = scope.spawn(move || {
            let t = Instant::now();
            report::write_parquet(anticipated_out, &path)?;
            tracing::debug!(
                seconds = t.elapsed().as_secs_f64(),
                "anticipated.parquet written"
            );
            Ok::<(), Error>(())
        });
        let rest = write_reports(r, laps);
        let parquet = parquet
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        laps.lap("anticipated.parquet (waited for)");
        rest.and_then(|w| parquet.map(|_| w))
    })
}

/// What the reports are made of.
struct Reports<'a> {
    batch: &'a Batch,
    pipeline: &'a Pipeline,
    findings: &'a DataFrame,
    graded: &'a DataFrame,
    ql: &'a DataFrame,
    stops: &'a BTreeMap<String, rank::Stop>,
    staging: &'a Staging,
    seed: u64,
}

/// The frames the reports were written from, for the summary and the result.
struct Written {
    sc: DataFrame,
    ql_out: DataFrame,
    sc_out: DataFrame,
    findings_out: DataFrame,
    grades_out: DataFrame,
}

/// Builds the scorecard and writes every output but `anticipated.parquet` and
/// `summary.json`: the query list, findings, grades, scorecard, quarantine, the
/// page, the workbook and the key energy consumers.
fn write_reports(r: &Reports<'_>, laps: &mut Laps) -> Result<Written> {
    let (batch, staging, p) = (r.batch, r.staging, r.batch.period);
    let sc = scorecard::build(
        &scorecard::ScorecardInput {
            batch,
            findings: r.findings,
            grades: r.graded,
            query_list: r.ql,
        },
        r.pipeline.scorecard(),
    )?;
    laps.lap("scorecard");
    let ql_out = report::query_list_output(r.ql)?;
    let sc = with_stops(sc, r.stops)?;
    let sc_out = report::scorecard_output(&sc)?;
    let mut findings_out = report::findings_output(r.findings, batch, &r.pipeline.rules)?;
    let mut grades_out = report::grades_output(r.graded, batch)?;
    report::write_csv(&ql_out, &staging.file("query_list.csv"))?;
    report::xlsx::write_query_list(&ql_out, p, &staging.file("query_list.xlsx"))?;
    report::write_parquet(&mut findings_out, &staging.file("findings.parquet"))?;
    report::write_parquet(&mut grades_out, &staging.file("grades.parquet"))?;
    laps.lap("query list, findings and grades");
    report::write_csv(&sc_out, &staging.file("scorecard.csv"))?;
    report::write_quarantine(
        &batch.quarantine,
        &batch.notes,
        &staging.file("quarantine.csv"),
    )?;
    write_page(staging, &sc_out, r.ql, &grades_out, p, r.pipeline, r.seed)?;
    laps.lap("scorecard.csv and html");
    write_workbook(staging, &ql_out, &sc_out, &findings_out, batch)?;
    laps.lap("report.xlsx");
    if let Some(list) = crate::rules::energy::key_consumer_list(batch, r.pipeline.rule("EN003"))? {
        report::write_csv(&list, &staging.file("energy_key_consumers.csv"))?;
    }
    laps.lap("key energy consumers");
    Ok(Written {
        sc,
        ql_out,
        sc_out,
        findings_out,
        grades_out,
    })
}

/// Runs an audit and writes its outputs.
pub fn run(opts: &AuditOptions) -> Result<AuditResult> {
    let t0 = Instant::now();
    let pipeline = match &opts.pipeline {
        Some(p) => Pipeline::load(p)?,
        None => Pipeline::builtin(),
    };
    check_out(opts)?;
    let seed = opts.seed.unwrap_or_else(rand::random::<u64>);
    let mut timings = Timings::default();

    let t = Instant::now();
    tracing::info!(data = %opts.data.display(), "Loading the data directory.");
    let say = |m: &str| {
        if let Some(pb) = &opts.progress {
            pb.set_message(m.to_string());
        }
    };
    say("loading the data directory");
    let batch = load::load(
        &opts.data,
        &LoadOptions {
            period: opts.period,
        },
    )?;
    timings.load = t.elapsed().as_secs_f64();
    let mark = |stage: &str, timings: &mut Timings| {
        if let Some(mb) = peak_rss_mb() {
            timings.peak_rss_mb.insert(stage.to_string(), mb);
        }
    };
    mark("load", &mut timings);
    let p = batch.period;
    tracing::info!(period = %p, "Loaded; running the rules.");

    let gs = pipeline.grading();
    let start = rebuild_start(p, gs.rebuild_months as i32);
    let t = Instant::now();
    let (checked, earlier) = audit_months(&batch, &pipeline, opts, start)?;
    timings.rules = t.elapsed().as_secs_f64();
    mark("rules", &mut timings);

    let t = Instant::now();
    let (state, histories, state_source) =
        grade_state(opts, &batch, &pipeline, start, earlier.as_ref())?;
    drop(earlier);
    timings.state_rebuild = t.elapsed().as_secs_f64();

    let t = Instant::now();
    say("grading");
    let scored = grade::score(&batch, &checked, gs)?;
    let mut graded = grade::apply(scored, &state, gs)?;
    with_grade_history(&mut graded, histories, p)?;
    timings.grade = t.elapsed().as_secs_f64();
    mark("grade", &mut timings);

    let t = Instant::now();
    say("ranking the query list");
    // The stages after the rules take the frames the rules computed (the
    // anticipations of the year to date) from a context of the month.
    let set = pipeline.rule_set();
    let after = rules::Ctx::new(&batch, &set).with_frames(checked.frames.clone());
    let anticipated = crate::rules::anticipate::panel(&after)?;
    let expected = crate::rules::anticipate::expected_errors(&anticipated)?;
    let ql = rank::query_list(
        &RankInput {
            batch: &batch,
            findings: &checked.findings,
            grades: &graded,
            seed,
            capacity: opts.capacity,
            expected: Some(&expected),
        },
        pipeline.query_list(),
    )?;
    timings.rank = t.elapsed().as_secs_f64();

    let stop_share = pipeline.anticipation().stop_share;
    let stops = rank::stopping(&batch, &ql, &expected, stop_share)?;

    let t = Instant::now();
    let mut laps = Laps(t);
    say("writing the scorecard and reports");
    let staging = Staging::new(&opts.out, opts.force)?;
    let mut anticipated_out = anticipated_output(&anticipated, &after, &batch)?;
    laps.lap("paired anticipations");
    let Written {
        sc,
        ql_out,
        sc_out,
        findings_out,
        grades_out,
    } = write_beside_anticipated(
        &Reports {
            batch: &batch,
            pipeline: &pipeline,
            findings: &checked.findings,
            graded: &graded,
            ql: &ql,
            stops: &stops,
            staging: &staging,
            seed,
        },
        &mut anticipated_out,
        &mut laps,
    )?;

    // The summary, last, with the accounting of every table.
    let mut outputs = output_counts(&findings_out, &grades_out, &ql, &sc)?;
    outputs.stopping = stops;
    outputs.stop_share = stop_share;
    outputs.mixture = mixture_of(&anticipated, p);
    let rules_summary = rule_summaries(&checked, &mut timings);
    timings.report = t.elapsed().as_secs_f64();
    mark("report", &mut timings);
    timings.total = t0.elapsed().as_secs_f64();
    round_timings(&mut timings);
    let summary = Summary {
        zhibao_version: env!("CARGO_PKG_VERSION"),
        period: p.to_string(),
        seed,
        pipeline: PipelineSummary {
            name: pipeline.name.clone(),
            source: pipeline.source.clone(),
            rules: pipeline.rules.len(),
        },
        grade_state: state_source,
        tables: table_counts(&batch),
        tables_not_provided: tables_not_provided(&batch),
        rules: rules_summary,
        outputs,
        timings,
    };
    write_summary(&staging, &summary)?;
    staging.commit()?;
    Ok(AuditResult {
        summary,
        query_list: ql_out,
        scorecard: sc_out,
        out: opts.out.clone(),
        batch,
    })
}
