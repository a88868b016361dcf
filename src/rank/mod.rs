//! Stage 4 — **rank**: grades and findings to the query list (查询清单).
//!
//! Who is on the list:
//!
//! * every **red** enterprise with a finding this run (高风险企业重点核查);
//! * **yellow** enterprises with a finding, ranked;
//! * with a per-county capacity (`capacity_per_county` or `--capacity`), each
//!   county's list is cut after that many lines (red first, then by priority), and
//! * a **random sample** of the remaining yellow enterprises of each county — those
//!   cut by the capacity, or holding a yellow grade without a finding this month —
//!   at `yellow_sample_rate` (中风险企业随机抽查, 双随机), drawn reproducibly from
//!   the run's seed;
//! * optionally a small **control sample** of green enterprises (`green_sample_rate`).
//!
//! Order: red before yellow before sampled lines, each by priority — the score,
//! which is impact × suspicion (see `grade`). Each line names who verifies: the city
//! bureau when a finding routes it there (R&D above the city line, a project of the
//! city supervision tier), otherwise the county bureau.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::load::Batch;
use crate::rules::registry::Basis;
use crate::settings::{int, num, rules, Section};

/// The `[query_list]` settings.
pub static SETTINGS: Section = Section {
    name: "query_list",
    doc: "Who goes on the query list, and how many",
    settings: &[
        num(
            "yellow_sample_rate",
            0.1,
            Some(0.0),
            Some(1.0),
            "share of the remaining yellow enterprises of each county drawn at random",
        ),
        num(
            "green_sample_rate",
            0.0,
            Some(0.0),
            Some(1.0),
            "share of green enterprises of each county drawn as a control sample",
        ),
        int(
            "capacity_per_county",
            0,
            Some(0.0),
            None,
            "lines per county before sampling (0 = no limit); --capacity overrides",
        ),
        int(
            "max_reasons",
            5,
            Some(1.0),
            Some(50.0),
            "reasons written per line; the rest are counted",
        ),
        rules(
            "magnitude_rules",
            &["AV001", "AV002"],
            "rules saying a figure is far from what its sources anticipate: within its grade, an enterprise with a hard or soft finding of one of them is listed first, by the expected error of its output, which its line names",
        ),
    ],
    check: crate::settings::check::<QueryList>,
};

/// The `[query_list]` settings, read: one field per key of [`SETTINGS`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryList {
    /// Share of the remaining yellow enterprises of each county drawn at random.
    pub yellow_sample_rate: f64,
    /// Share of green enterprises of each county drawn as a control sample.
    pub green_sample_rate: f64,
    /// Lines per county before sampling (0 = no limit).
    pub capacity_per_county: i64,
    /// Reasons written per line; the rest are counted.
    pub max_reasons: i64,
    /// Rules saying a figure is far from what its sources anticipate.
    pub magnitude_rules: Vec<String>,
}

fn pe(e: PolarsError) -> Error {
    Error::polars("rank", e)
}

/// What the rank stage needs besides the settings.
pub struct RankInput<'a> {
    /// The batch.
    pub batch: &'a Batch,
    /// Findings (rules stage schema).
    pub findings: &'a DataFrame,
    /// Grades (grade stage schema: `eid`, `score`, `grade`, `impact`…).
    pub grades: &'a DataFrame,
    /// Seed of the random sampling.
    pub seed: u64,
    /// `--capacity`, overriding the pipeline.
    pub capacity: Option<usize>,
    /// Expected errors per enterprise ([`crate::rules::anticipate::expected_errors`]):
    /// `eid`, `expected_error`, `ee_period`, `ee_current`, `ee_anticipated`,
    /// `ee_p_wrong`. Without it every line's priority is its score.
    pub expected: Option<&'a DataFrame>,
}

/// An enterprise's expected error: thousand yuan, its share of the county's
/// year-to-date output, and the figure that carries most of it.
#[derive(Clone, Debug, Default)]
struct Expected {
    error: f64,
    share: f64,
    period: String,
    reported: f64,
    anticipated: f64,
}

/// The county of every enterprise, by enterprise id.
fn county_codes(batch: &Batch) -> Result<StringChunked> {
    Ok(batch
        .enterprises
        .column("county_code")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone())
}

/// Year-to-date gross output per county (the total an enterprise's figures feed).
pub fn county_output(batch: &Batch) -> Result<HashMap<String, f64>> {
    let Some(ind) = batch.table(crate::model::Table::Industrial) else {
        return Ok(HashMap::new());
    };
    let p = batch.period;
    let per_eid = ind
        .clone()
        .lazy()
        .filter(
            col("period")
                .gt_eq(lit(p.year_start().0))
                .and(col("period").lt_eq(lit(p.0))),
        )
        .group_by([col("eid")])
        .agg([col("gross_output").sum()])
        .collect()
        .map_err(pe)?;
    let county = county_codes(batch)?;
    let eid = per_eid
        .column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .clone();
    let g = per_eid
        .column("gross_output")
        .map_err(pe)?
        .f64()
        .map_err(pe)?
        .clone();
    let mut out: HashMap<String, f64> = HashMap::new();
    for (e, v) in eid.iter().zip(g.iter()) {
        if let (Some(e), Some(v)) = (e, v) {
            let c = county.get(e as usize).unwrap_or("").to_string();
            *out.entry(c).or_default() += v.max(0.0);
        }
    }
    Ok(out)
}

fn expected_by_enterprise(
    input: &RankInput<'_>,
    totals: &HashMap<String, f64>,
) -> Result<HashMap<u32, Expected>> {
    let Some(df) = input.expected else {
        return Ok(HashMap::new());
    };
    let county = county_codes(input.batch)?;
    let eid = df.column("eid").map_err(pe)?.u32().map_err(pe)?.clone();
    let f = |c: &str| -> Result<Float64Chunked> {
        Ok(df.column(c).map_err(pe)?.f64().map_err(pe)?.clone())
    };
    let (ee, cur, ant) = (f("expected_error")?, f("ee_current")?, f("ee_anticipated")?);
    let per = df
        .column("ee_period")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let mut out = HashMap::with_capacity(df.height());
    for i in 0..df.height() {
        let Some(e) = eid.get(i) else { continue };
        let error = ee.get(i).unwrap_or(0.0);
        let total = totals
            .get(county.get(e as usize).unwrap_or(""))
            .copied()
            .unwrap_or(0.0);
        out.insert(
            e,
            Expected {
                error,
                share: if total > 0.0 { error / total } else { 0.0 },
                period: per.get(i).unwrap_or("").to_string(),
                reported: cur.get(i).unwrap_or(0.0),
                anticipated: ant.get(i).unwrap_or(0.0),
            },
        );
    }
    Ok(out)
}

struct Reasons {
    codes: Vec<String>,
    reasons: Vec<String>,
    evidence: Vec<String>,
    verifier_city: bool,
    count: usize,
    /// Whether a finding is a warning (hard or soft, as the pipeline set it), not
    /// only information.
    warning: bool,
    /// Whether a warning rests on a figure under review, not only on the
    /// enterprise's record of earlier verifications (`basis`).
    on_figures: bool,
}

/// Groups the findings per enterprise: rule codes, reasons, evidence, routing.
fn reasons_by_enterprise(
    findings: &DataFrame,
    max_reasons: usize,
) -> Result<HashMap<u32, Reasons>> {
    let f = findings
        .clone()
        .lazy()
        .filter(
            col("eid")
                .is_not_null()
                .and(col("level").neq(lit("county"))),
        )
        .with_column(
            when(col("severity").eq(lit("hard")))
                .then(lit(0))
                .when(col("severity").eq(lit("soft")))
                .then(lit(1))
                .otherwise(lit(2))
                .alias("_sev"),
        )
        .sort_by_exprs(
            [
                col("eid"),
                col("_sev"),
                col("strength"),
                col("rule_code"),
                col("period"),
            ],
            SortMultipleOptions::default()
                .with_order_descending_multi([false, false, true, false, true]),
        )
        .collect()
        .map_err(pe)?;
    let eid = f.column("eid").map_err(pe)?.u32().map_err(pe)?.clone();
    let code = f
        .column("rule_code")
        .map_err(pe)?
        .str()
        .map_err(pe)?
        .clone();
    let msg = f.column("message").map_err(pe)?.str().map_err(pe)?.clone();
    let ver = f.column("verifier").map_err(pe)?.str().map_err(pe)?.clone();
    let sev = f.column("severity").map_err(pe)?.str().map_err(pe)?.clone();
    let hint = f.column("hint").ok().and_then(|c| c.str().ok().cloned());
    let basis = f.column("basis").ok().and_then(|c| c.str().ok().cloned());
    let mut out: HashMap<u32, Reasons> = HashMap::new();
    for i in 0..f.height() {
        let Some(e) = eid.get(i) else { continue };
        let r = out.entry(e).or_insert_with(|| Reasons {
            codes: Vec::new(),
            reasons: Vec::new(),
            evidence: Vec::new(),
            verifier_city: false,
            count: 0,
            warning: false,
            on_figures: false,
        });
        let c = code.get(i).unwrap_or("");
        // The severity the finding carries (the pipeline's), not the registry's default.
        if matches!(sev.get(i), Some("hard" | "soft")) {
            r.warning = true;
            let on_record = match basis.as_ref().and_then(|b| b.get(i)) {
                Some(b) => b == Basis::Record.as_str(),
                None => crate::rules::registry::get(c).is_some_and(|d| d.basis == Basis::Record),
            };
            r.on_figures |= !on_record;
        }
        if !r.codes.iter().any(|x| x == c) {
            r.codes.push(c.to_string());
            let h = hint
                .as_ref()
                .and_then(|h| h.get(i).map(str::to_string))
                .or_else(|| crate::rules::registry::get(c).map(|d| d.hint.zh.to_string()));
            if let Some(h) = h.filter(|h| !h.is_empty()) {
                if !r.evidence.contains(&h) {
                    r.evidence.push(h);
                }
            }
        }
        r.count += 1;
        if r.reasons.len() < max_reasons {
            r.reasons
                .push(format!("[{c}] {}", msg.get(i).unwrap_or("")));
        }
        if ver.get(i) == Some("city") {
            r.verifier_city = true;
        }
    }
    Ok(out)
}

/// A deterministic generator for one county's draw.
fn county_rng(seed: u64, county: &str, purpose: &str) -> ChaCha8Rng {
    // FNV-1a over the county and purpose, mixed with the seed: stable across runs,
    // platforms and versions of std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in county.bytes().chain([0u8]).chain(purpose.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    ChaCha8Rng::seed_from_u64(seed ^ h)
}

/// Draws `ceil(rate · n)` of `candidates` (sorted first, so the draw depends only
/// on the seed and the set).
fn draw(mut candidates: Vec<u32>, rate: f64, rng: &mut ChaCha8Rng) -> Vec<u32> {
    if rate <= 0.0 || candidates.is_empty() {
        return Vec::new();
    }
    candidates.sort_unstable();
    let k = ((rate * candidates.len() as f64).ceil() as usize).min(candidates.len());
    candidates.shuffle(rng);
    candidates.truncate(k);
    candidates.sort_unstable();
    candidates
}

/// Builds the query list: `rank`, `uscc`, `name`, `county_code`, `industry_code`,
/// `grade`, `score`, `impact`, `rule_codes`, `findings`, `reasons`, `evidence`,
/// `verifier`, `sampled`, plus `eid`.
pub fn query_list(input: &RankInput<'_>, s: &QueryList) -> Result<DataFrame> {
    let max_reasons = s.max_reasons.max(1) as usize;
    let capacity = input
        .capacity
        .or_else(|| (s.capacity_per_county > 0).then_some(s.capacity_per_county as usize));
    let totals = county_output(input.batch)?;
    let ev = Evidence {
        reasons: reasons_by_enterprise(input.findings, max_reasons)?,
        expected: expected_by_enterprise(input, &totals)?,
        far: far_from_sources(input.findings, &s.magnitude_rules)?,
        none: Expected::default(),
    };
    let graded = Graded::of(input.grades)?;
    let county = county_codes(input.batch)?;
    let rates = (s.yellow_sample_rate, s.green_sample_rate);
    let lines = select_lines(&ev, &graded, &county, capacity, rates, input.seed);
    line_frame(lines, &ev, &graded, input.batch, &county)
}

/// Enterprises with a figure far from its sources: a soft or hard finding of one
/// of the rules `magnitude` (`magnitude_rules`: codes or starts of codes, AV001
/// and AV002 by default).
fn far_from_sources(findings: &DataFrame, magnitude: &[String]) -> Result<HashSet<u32>> {
    let magnitude = magnitude
        .iter()
        .map(|c| col("rule_code").str().starts_with(lit(c.as_str())))
        .reduce(|a, b| a.or(b))
        .unwrap_or(lit(false));
    let f = findings
        .clone()
        .lazy()
        .filter(
            magnitude
                .and(col("severity").neq(lit("info")))
                .and(col("eid").is_not_null()),
        )
        .select([col("eid")])
        .collect()
        .map_err(pe)?;
    Ok(f.column("eid")
        .map_err(pe)?
        .u32()
        .map_err(pe)?
        .iter()
        .flatten()
        .collect())
}

/// What the list knows of each enterprise's findings.
struct Evidence {
    reasons: HashMap<u32, Reasons>,
    expected: HashMap<u32, Expected>,
    far: HashSet<u32>,
    none: Expected,
}

/// A line of the list: tier (0 red, 1 yellow with warnings, 2 yellow drawn,
/// 3 green drawn), score, enterprise, drawn at random.
type Line = (u8, f64, u32, bool);

impl Evidence {
    fn expected(&self, e: u32) -> &Expected {
        self.expected.get(&e).unwrap_or(&self.none)
    }

    fn far(&self, e: u32) -> bool {
        self.far.contains(&e)
    }

    fn on_figures(&self, e: u32) -> bool {
        self.reasons.get(&e).is_none_or(|r| r.on_figures)
    }

    /// An enterprise with only info findings (routing) is not queried for them.
    fn warning(&self, e: u32) -> bool {
        self.reasons.get(&e).is_some_and(|r| r.warning)
    }

    /// Within a tier: figures the sources say are wrong first, by the expected
    /// error they carry relative to the county's total; then the rest by score,
    /// queries on a figure before queries on the enterprise's record alone.
    /// A finding without a magnitude (a revision, a routing list) never outranks a
    /// figure far from every source, and a record (earlier errors) never outranks
    /// a figure under review.
    fn order(&self, a: &Line, b: &Line) -> Ordering {
        let (ea, eb) = (self.expected(a.2), self.expected(b.2));
        a.0.cmp(&b.0)
            .then(self.far(b.2).cmp(&self.far(a.2)))
            .then(self.on_figures(b.2).cmp(&self.on_figures(a.2)))
            .then(if self.far(a.2) && self.far(b.2) {
                eb.share.total_cmp(&ea.share)
            } else {
                Ordering::Equal
            })
            .then(b.1.total_cmp(&a.1))
            .then(a.2.cmp(&b.2))
    }
}

/// The grade stage's verdicts: (enterprise, grade, score) in the frame's order,
/// and each enterprise's score, grade and impact.
struct Graded {
    rows: Vec<(u32, String, f64)>,
    score: HashMap<u32, f64>,
    grade: HashMap<u32, String>,
    impact: HashMap<u32, f64>,
}

impl Graded {
    fn of(g: &DataFrame) -> Result<Graded> {
        let eid = g.column("eid").map_err(pe)?.u32().map_err(pe)?;
        let grade = g.column("grade").map_err(pe)?.str().map_err(pe)?;
        let score = g.column("score").map_err(pe)?.f64().map_err(pe)?;
        let impact = g.column("impact").map_err(pe)?.f64().map_err(pe)?;
        let rows: Vec<(u32, String, f64)> = (0..g.height())
            .filter_map(|i| {
                let (e, gr) = (eid.get(i)?, grade.get(i)?);
                Some((e, gr.to_string(), score.get(i).unwrap_or(0.0)))
            })
            .collect();
        Ok(Graded {
            score: rows.iter().map(|(e, _, s)| (*e, *s)).collect(),
            grade: rows.iter().map(|(e, g, _)| (*e, g.clone())).collect(),
            impact: (0..g.height())
                .filter_map(|i| Some((eid.get(i)?, impact.get(i).unwrap_or(1.0))))
                .collect(),
            rows,
        })
    }
}

/// The lines of the list, in order. Per county: the red and the yellow with
/// warnings, by [`Evidence::order`], up to the capacity (red beyond it are still
/// listed: the capacity does not hide high risk; yellow beyond it join the rest of
/// the yellow); then draws at the sampling rates from the other yellow and from
/// the green, with the county's own random stream.
fn select_lines(
    ev: &Evidence,
    graded: &Graded,
    county: &StringChunked,
    capacity: Option<usize>,
    (yellow_rate, green_rate): (f64, f64),
    seed: u64,
) -> Vec<Line> {
    #[derive(Default)]
    struct CountyLists {
        ranked: Vec<Line>,
        yellow_rest: Vec<u32>,
        green: Vec<u32>,
    }
    let mut by_county: BTreeMap<String, CountyLists> = BTreeMap::new();
    for (e, gr, sc) in &graded.rows {
        let c = county.get(*e as usize).unwrap_or("").to_string();
        let entry = by_county.entry(c).or_default();
        match (gr.as_str(), ev.warning(*e)) {
            ("red", true) => entry.ranked.push((0, *sc, *e, false)),
            ("yellow", true) => entry.ranked.push((1, *sc, *e, false)),
            ("yellow", false) => entry.yellow_rest.push(*e),
            ("green", _) => entry.green.push(*e),
            _ => {}
        }
    }
    let score_of = |e: u32| graded.score.get(&e).copied().unwrap_or(0.0);
    let mut lines: Vec<Line> = Vec::new();
    for (c, mut lists) in by_county {
        lists.ranked.sort_by(|a, b| ev.order(a, b));
        let cut = capacity.unwrap_or(usize::MAX);
        for (i, line) in lists.ranked.into_iter().enumerate() {
            if i >= cut && line.0 == 1 {
                lists.yellow_rest.push(line.2);
            } else {
                lines.push(line);
            }
        }
        let mut rng = county_rng(seed, &c, "yellow");
        for e in draw(lists.yellow_rest, yellow_rate, &mut rng) {
            lines.push((2, score_of(e), e, true));
        }
        let mut rng = county_rng(seed, &c, "green");
        for e in draw(lists.green, green_rate, &mut rng) {
            lines.push((3, score_of(e), e, true));
        }
    }
    lines.sort_by(|a, b| ev.order(a, b));
    lines
}

/// A line's rule codes, number of findings, reasons, evidence asked for and
/// verifier.
fn reason_cells(r: Option<&Reasons>, sampled: bool) -> (String, u32, String, String, &'static str) {
    let Some(r) = r else {
        return (
            String::new(),
            0,
            "随机抽查（双随机），本期无审核疑点".to_string(),
            "请企业提供本期统计台账及原始凭证".to_string(),
            "county",
        );
    };
    let mut text = r.reasons.join("；");
    if r.count > r.reasons.len() {
        text.push_str(&format!("；另有 {} 项", r.count - r.reasons.len()));
    }
    if sampled {
        text = format!("随机抽查（双随机）；{text}");
    }
    (
        r.codes.join(";"),
        r.count as u32,
        text,
        r.evidence.join("；"),
        if r.verifier_city { "city" } else { "county" },
    )
}

/// The query list frame (rank stage schema), ranked from 1 in the lines' order.
fn line_frame(
    lines: Vec<Line>,
    ev: &Evidence,
    graded: &Graded,
    batch: &Batch,
    county: &StringChunked,
) -> Result<DataFrame> {
    let ents = &batch.enterprises;
    let text = |c: &str| -> Result<StringChunked> {
        Ok(ents.column(c).map_err(pe)?.str().map_err(pe)?.clone())
    };
    let (uscc, name, industry) = (text("uscc")?, text("name")?, text("industry_code")?);
    let n = lines.len();
    let mut ranks = Vec::with_capacity(n);
    let mut eids = Vec::with_capacity(n);
    let mut usccs = Vec::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    let mut counties = Vec::with_capacity(n);
    let mut industries = Vec::with_capacity(n);
    let mut grades = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut impacts = Vec::with_capacity(n);
    let (mut codes, mut nfind, mut reas, mut evid, mut verif, mut sampled) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut prio, mut ee, mut field, mut reported, mut anticipated) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (k, (_, sc, e, smp)) in lines.into_iter().enumerate() {
        let ei = e as usize;
        ranks.push(k as u32 + 1);
        eids.push(e);
        usccs.push(uscc.get(ei).unwrap_or("").to_string());
        names.push(name.get(ei).map(str::to_string));
        counties.push(county.get(ei).unwrap_or("").to_string());
        industries.push(industry.get(ei).unwrap_or("").to_string());
        grades.push(graded.grade.get(&e).cloned().unwrap_or_default());
        scores.push(sc);
        impacts.push(graded.impact.get(&e).copied().unwrap_or(1.0));
        let x = ev.expected(e);
        // Per mille of the county's year-to-date output.
        prio.push(x.share * 1000.0);
        ee.push(x.error);
        let far = ev.far(e);
        field.push(far.then(|| format!("工业总产值 gross_output {}", x.period)));
        reported.push(far.then_some(x.reported));
        anticipated.push(far.then(|| x.anticipated.round()));
        let (c, f, r, v, who) = reason_cells(ev.reasons.get(&e), smp);
        codes.push(c);
        nfind.push(f);
        reas.push(r);
        evid.push(v);
        verif.push(who);
        sampled.push(smp);
    }
    DataFrame::new(
        n,
        vec![
            Column::new("rank".into(), ranks),
            Column::new("eid".into(), eids),
            Column::new("uscc".into(), usccs),
            Column::new("name".into(), names),
            Column::new("county_code".into(), counties),
            Column::new("industry_code".into(), industries),
            Column::new("grade".into(), grades),
            Column::new("score".into(), scores),
            Column::new("impact".into(), impacts),
            Column::new("priority".into(), prio),
            Column::new("expected_error".into(), ee),
            Column::new("field".into(), field),
            Column::new("reported".into(), reported),
            Column::new("anticipated".into(), anticipated),
            Column::new("rule_codes".into(), codes),
            Column::new("findings".into(), nfind),
            Column::new("reasons".into(), reas),
            Column::new("evidence".into(), evid),
            Column::new("verifier".into(), verif),
            Column::new("sampled".into(), sampled),
        ],
    )
    .map_err(pe)
}

/// The stopping rule of one county: how many lines of the query list, worked
/// from the top, bring the expected error remaining in the county's year-to-date
/// output below `share` of it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Stop {
    /// Year-to-date gross output of the county (thousand yuan).
    pub output: f64,
    /// Expected error of all its enterprises' figures (thousand yuan).
    pub expected_error: f64,
    /// The error that may remain: `share × output`.
    pub target: f64,
    /// Lines to verify (the county's lines, in the list's order).
    pub lines: u32,
    /// Whether the county's lines reach the target.
    pub reached: bool,
    /// Expected error remaining after those lines.
    pub remaining: f64,
}

/// The stopping rule per county ([`Stop`]), from the query list (`eid`,
/// `county_code`, in rank order) and the expected errors of every enterprise.
pub fn stopping(
    batch: &Batch,
    query_list: &DataFrame,
    expected: &DataFrame,
    share: f64,
) -> Result<BTreeMap<String, Stop>> {
    let totals = county_output(batch)?;
    let county = county_codes(batch)?;
    let mut ee_of: HashMap<u32, f64> = HashMap::new();
    let mut total_ee: HashMap<String, f64> = HashMap::new();
    let eid = expected.column("eid").map_err(pe)?.u32().map_err(pe)?;
    let ee = expected
        .column("expected_error")
        .map_err(pe)?
        .f64()
        .map_err(pe)?;
    for (e, v) in eid.iter().zip(ee.iter()) {
        if let (Some(e), Some(v)) = (e, v) {
            ee_of.insert(e, v);
            *total_ee
                .entry(county.get(e as usize).unwrap_or("").to_string())
                .or_default() += v;
        }
    }
    let mut out: BTreeMap<String, Stop> = BTreeMap::new();
    for (c, output) in &totals {
        let e = total_ee.get(c).copied().unwrap_or(0.0);
        let target = share * output;
        out.insert(
            c.clone(),
            Stop {
                output: *output,
                expected_error: e,
                target,
                lines: 0,
                reached: e <= target,
                remaining: e,
            },
        );
    }
    let ql_eid = query_list.column("eid").map_err(pe)?.u32().map_err(pe)?;
    for e in ql_eid.iter().flatten() {
        let c = county.get(e as usize).unwrap_or("");
        let Some(st) = out.get_mut(c) else { continue };
        if st.reached {
            continue;
        }
        st.lines += 1;
        st.remaining = (st.remaining - ee_of.get(&e).copied().unwrap_or(0.0)).max(0.0);
        st.reached = st.remaining <= st.target;
    }
    for st in out.values_mut() {
        for v in [
            &mut st.output,
            &mut st.expected_error,
            &mut st.target,
            &mut st.remaining,
        ] {
            *v = v.round();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_depend_on_the_seed() {
        let c: Vec<u32> = (0..100).collect();
        let a = draw(c.clone(), 0.1, &mut county_rng(7, "341002", "yellow"));
        let b = draw(c.clone(), 0.1, &mut county_rng(7, "341002", "yellow"));
        let d = draw(c.clone(), 0.1, &mut county_rng(8, "341002", "yellow"));
        assert_eq!(a.len(), 10);
        assert_eq!(a, b);
        assert_ne!(a, d);
        // The order of the candidates does not matter.
        let mut rev = c;
        rev.reverse();
        assert_eq!(draw(rev, 0.1, &mut county_rng(7, "341002", "yellow")), a);
    }

    #[test]
    fn a_rate_of_zero_draws_nothing() {
        assert!(draw(vec![1, 2, 3], 0.0, &mut county_rng(1, "x", "y")).is_empty());
    }

    /// The enterprises far from their sources are those with a warning of a
    /// rule the setting names, whatever rule that is.
    #[test]
    fn far_from_sources_takes_its_rules_from_the_setting() {
        let findings = df!(
            "eid" => [Some(1u32), Some(2), Some(3), None],
            "rule_code" => ["AV001", "AV002", "AV001", "AV001"],
            "severity" => ["soft", "soft", "info", "hard"],
        )
        .unwrap();
        let far = |codes: &[&str]| {
            let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
            let mut v: Vec<u32> = far_from_sources(&findings, &codes)
                .unwrap()
                .into_iter()
                .collect();
            v.sort();
            v
        };
        assert_eq!(far(&["AV001", "AV002"]), vec![1, 2]);
        assert_eq!(far(&["AV002"]), vec![2]);
        assert_eq!(far(&["AV"]), vec![1, 2]);
        assert!(far(&[]).is_empty());
    }
}
