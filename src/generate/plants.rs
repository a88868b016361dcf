//! Planted anomalies and the annual / project / quarterly tables of the synthetic
//! batch. Each anomaly kind names the rule codes expected to find it; the labels
//! file lists every planted case.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::{catalog, level, Ent, GenOptions};
use crate::error::{Error, Result};
use crate::model::Month;

/// A kind of planted anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Export delivery above sales output.
    ExportGtSales,
    /// A negative value.
    NegativeValue,
    /// Sales output a small share of gross output.
    SalesRatio,
    /// Output jumps far from its history.
    OutputJump,
    /// The same figures copied forward.
    CopiedForward,
    /// Round figures month after month.
    RoundFigures,
    /// A report revised many times.
    ManyRevisions,
    /// Taxable sales far below output.
    TaxRatioLow,
    /// Output reported without a tax record.
    NoTaxRecord,
    /// A county whose output is not backed by tax records.
    CountyTaxLow,
    /// R&D spending without super-deduction for three years.
    RdNoDeduction,
    /// R&D expenditure below 100.
    RdSmall,
    /// Few R&D staff, large expenditure.
    RdFewStaffBig,
    /// First-time R&D reporter.
    RdFirstTime,
    /// R&D in a low-end industry.
    RdLowEnd,
    /// Implausible R&D spend per staff.
    RdPerStaff,
    /// Implausible R&D intensity.
    RdIntensity,
    /// Year-to-date investment falls.
    InvYtdFalls,
    /// Year-to-date investment above the plan.
    InvAbovePlan,
    /// A new project books most of its plan in its first month.
    InvFirstMonth,
    /// Quarter-end spike of a project.
    InvQuarterSpike,
    /// A project's increments padded at every quarter end of the last year.
    InvQuarterPadding,
    /// Average wage far from peers.
    WageOutlier,
    /// Headcount and wage bill moving in opposite directions.
    WageInconsistent,
    /// Energy intensity far from peers.
    EnergyIntensity,
    /// Output rising while electricity falls.
    EnergyDivergence,
    /// Services revenue jumping.
    ServiceRevenueJump,
    /// Services revenue per employee implausible.
    ServiceRevenuePerEmployee,
    /// Subtle: one month keyed in the wrong unit (×1000, ×10 or ÷10); VAT and
    /// electricity as they were.
    UnitSlip,
    /// Subtle: output inflated a little more each month of the year while VAT and
    /// electricity stay put (the VAT/output ratio drifts down, still above 0.90).
    SlowInflation,
    /// Subtle: a series invented from a trend (no noise, no Spring Festival dip).
    TooSmooth,
    /// Subtle: two enterprises' series filled in from one template (proportional).
    IdenticalSeries,
    /// Subtle: wage per employee jumps in the last quarter.
    WageJump,
    /// Subtle: a county whose output is inflated across the board this year.
    CountyStepDown,
    /// Legitimately unusual: milestone output (shipbuilding), VAT and electricity in step.
    LegitMilestone,
    /// Legitimately unusual: a new production line, everything in step.
    LegitNewLine,
    /// Legitimately unusual: real fast growth, everything in step.
    LegitFastGrowth,
    /// Legitimately unusual: real decline, everything in step.
    LegitDecline,
    /// Legitimately unusual: a strongly seasonal industry, everything in step.
    LegitSeasonal,
    /// Legitimately unusual: an exporter (most sales exported).
    LegitExporter,
    /// Legitimately unusual: a tiny reporter estimating its output in round
    /// figures (10万元) all along; its VAT records are exact.
    LegitRoundTiny,
}

impl Kind {
    /// Name in the labels file.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ExportGtSales => "export_gt_sales",
            Kind::NegativeValue => "negative_value",
            Kind::SalesRatio => "sales_ratio_band",
            Kind::OutputJump => "output_jump",
            Kind::CopiedForward => "copied_forward",
            Kind::RoundFigures => "round_figures",
            Kind::ManyRevisions => "many_revisions",
            Kind::TaxRatioLow => "tax_ratio_low",
            Kind::NoTaxRecord => "no_tax_record",
            Kind::CountyTaxLow => "county_tax_low",
            Kind::RdNoDeduction => "rd_no_deduction_3y",
            Kind::RdSmall => "rd_small_expenditure",
            Kind::RdFewStaffBig => "rd_few_staff_big_spend",
            Kind::RdFirstTime => "rd_first_time",
            Kind::RdLowEnd => "rd_low_end_industry",
            Kind::RdPerStaff => "rd_implausible_per_staff",
            Kind::RdIntensity => "rd_implausible_intensity",
            Kind::InvYtdFalls => "inv_ytd_decrease",
            Kind::InvAbovePlan => "inv_above_plan",
            Kind::InvFirstMonth => "inv_first_month_share",
            Kind::InvQuarterSpike => "inv_quarter_end_spike",
            Kind::InvQuarterPadding => "inv_quarter_padding",
            Kind::WageOutlier => "wage_outlier",
            Kind::WageInconsistent => "wage_headcount_inconsistent",
            Kind::EnergyIntensity => "energy_intensity_outlier",
            Kind::EnergyDivergence => "output_up_electricity_down",
            Kind::ServiceRevenueJump => "services_revenue_jump",
            Kind::ServiceRevenuePerEmployee => "services_revenue_per_employee",
            Kind::UnitSlip => "unit_slip",
            Kind::SlowInflation => "slow_inflation",
            Kind::TooSmooth => "too_smooth",
            Kind::IdenticalSeries => "identical_series",
            Kind::WageJump => "wage_jump",
            Kind::CountyStepDown => "county_ratio_step_down",
            Kind::LegitMilestone => "legit_milestone_output",
            Kind::LegitNewLine => "legit_new_production_line",
            Kind::LegitFastGrowth => "legit_fast_growth",
            Kind::LegitDecline => "legit_decline",
            Kind::LegitSeasonal => "legit_seasonal",
            Kind::LegitExporter => "legit_exporter",
            Kind::LegitRoundTiny => "legit_round_tiny",
        }
    }

    /// Rule codes expected to find it (any one suffices).
    pub fn rules(self) -> &'static [&'static str] {
        match self {
            Kind::ExportGtSales => &["IN001"],
            Kind::NegativeValue => &["IN002"],
            Kind::SalesRatio => &["IN003"],
            Kind::OutputJump => &["IN004", "IN005", "IN008", "IN009"],
            Kind::CopiedForward => &["IN006"],
            Kind::RoundFigures => &["IN007"],
            Kind::ManyRevisions => &["IN010"],
            Kind::TaxRatioLow => &["TX001"],
            Kind::NoTaxRecord => &["TX002"],
            Kind::CountyTaxLow => &["TX003"],
            Kind::RdNoDeduction => &["RD001"],
            Kind::RdSmall => &["RD002"],
            Kind::RdFewStaffBig => &["RD003"],
            Kind::RdFirstTime => &["RD004"],
            Kind::RdLowEnd => &["RD005"],
            Kind::RdPerStaff => &["RD006"],
            Kind::RdIntensity => &["RD007"],
            Kind::InvYtdFalls => &["IV001"],
            Kind::InvAbovePlan => &["IV002"],
            Kind::InvFirstMonth => &["IV003"],
            Kind::InvQuarterSpike => &["IV006"],
            Kind::InvQuarterPadding => &["IV008"],
            Kind::WageOutlier => &["LB001"],
            Kind::WageInconsistent => &["LB002"],
            Kind::EnergyIntensity => &["EN001"],
            Kind::EnergyDivergence => &["EN002"],
            Kind::ServiceRevenueJump => &["SV001"],
            Kind::ServiceRevenuePerEmployee => &["SV002"],
            Kind::UnitSlip => &["AV002", "AV001"],
            Kind::SlowInflation => &["AV003", "AV001", "TX001"],
            Kind::TooSmooth => &["IN011"],
            Kind::IdenticalSeries => &["IN012"],
            Kind::WageJump => &["LB003"],
            Kind::CountyStepDown => &["TX004"],
            _ => &[],
        }
    }

    /// Whether the enterprise is legitimately unusual (no error planted).
    pub fn legit(self) -> bool {
        Kind::LEGIT.contains(&self)
    }

    /// Whether the kind is one of the subtle wrong figures.
    pub fn subtle(self) -> bool {
        Kind::SUBTLE.contains(&self)
    }

    /// The kinds planted in enterprises' monthly industrial and tax rows.
    const MONTHLY: [Kind; 9] = [
        Kind::ExportGtSales,
        Kind::NegativeValue,
        Kind::SalesRatio,
        Kind::OutputJump,
        Kind::CopiedForward,
        Kind::RoundFigures,
        Kind::ManyRevisions,
        Kind::TaxRatioLow,
        Kind::NoTaxRecord,
    ];
    const RD: [Kind; 7] = [
        Kind::RdNoDeduction,
        Kind::RdSmall,
        Kind::RdFewStaffBig,
        Kind::RdFirstTime,
        Kind::RdLowEnd,
        Kind::RdPerStaff,
        Kind::RdIntensity,
    ];
    const INV: [Kind; 4] = [
        Kind::InvYtdFalls,
        Kind::InvAbovePlan,
        Kind::InvFirstMonth,
        Kind::InvQuarterSpike,
    ];
    const OTHER: [Kind; 4] = [
        Kind::WageOutlier,
        Kind::WageInconsistent,
        Kind::EnergyIntensity,
        Kind::EnergyDivergence,
    ];
    const SERVICES: [Kind; 2] = [Kind::ServiceRevenueJump, Kind::ServiceRevenuePerEmployee];
    const SUBTLE: [Kind; 7] = [
        Kind::InvQuarterPadding,
        Kind::UnitSlip,
        Kind::SlowInflation,
        Kind::TooSmooth,
        Kind::IdenticalSeries,
        Kind::WageJump,
        Kind::CountyStepDown,
    ];
    const LEGIT: [Kind; 7] = [
        Kind::LegitMilestone,
        Kind::LegitNewLine,
        Kind::LegitFastGrowth,
        Kind::LegitDecline,
        Kind::LegitSeasonal,
        Kind::LegitExporter,
        Kind::LegitRoundTiny,
    ];
}

/// One line of the labels file.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// `enterprise`, `project` or `county`.
    pub level: &'static str,
    /// The enterprise (legal entity for projects), empty for counties.
    pub uscc: String,
    /// The project, for project anomalies.
    pub project_id: String,
    /// The county.
    pub county_code: String,
    /// The month (or year) planted.
    pub period: String,
    /// The kind.
    pub kind: Kind,
    /// What was done.
    pub detail: String,
}

/// The plan of one enterprise's anomaly.
#[derive(Clone, Debug)]
pub struct Plant {
    /// Kind.
    pub kind: Kind,
    /// Month it shows in (the last month of a run for runs).
    pub month: Month,
    /// Magnitude (kind-specific).
    pub factor: f64,
    /// Length of a run, or the set of months (bit mask over the year) for tax gaps.
    pub span: u32,
    /// The shared series of an identical pair: base, growth and pair number.
    pub template: Option<(f64, f64, u32)>,
}

/// Planted anomalies by enterprise index, with their labels.
#[derive(Default)]
pub struct Plan {
    by_ent: HashMap<usize, Plant>,
    /// Labels of the monthly anomalies.
    pub labels: Vec<Label>,
    /// Enterprises with an R&D plant.
    pub rd: HashMap<usize, Kind>,
    /// Enterprises planted for the other report families.
    pub other: HashMap<usize, Plant>,
    /// Counties whose every industrial enterprise inflates output this year by a
    /// factor while VAT stays put.
    pub inflated_counties: HashMap<usize, f64>,
}

impl Plan {
    /// The monthly plant of an enterprise.
    pub fn get(&self, eid: usize) -> Option<&Plant> {
        self.by_ent.get(&eid).or_else(|| self.other.get(&eid))
    }

    fn is_planted(&self, eid: usize) -> bool {
        self.by_ent.contains_key(&eid)
            || self.rd.contains_key(&eid)
            || self.other.contains_key(&eid)
    }
}

impl Plant {
    /// Applies the plant to one month of industrial and tax values.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_month(
        &self,
        e: &Ent,
        m: Month,
        origin: Month,
        gross: &mut f64,
        sales: &mut f64,
        export: &mut f64,
        revisions: &mut i64,
        tax: &mut Option<f64>,
    ) {
        let end = self.month;
        // Legitimately unusual enterprises: everything moves in step, VAT included.
        let legit = match self.kind {
            Kind::LegitMilestone => Some(if (m.0 as u32 + self.span).is_multiple_of(4) {
                self.factor
            } else {
                0.4
            }),
            Kind::LegitNewLine | Kind::LegitDecline if m.0 > end.0 - self.span as i32 => {
                Some(self.factor)
            }
            Kind::LegitSeasonal => {
                const PROFILE: [f64; 12] =
                    [1.9, 1.6, 1.3, 0.8, 0.5, 0.35, 0.3, 0.4, 0.7, 1.2, 1.6, 2.0];
                Some(PROFILE[(m.month() - 1) as usize])
            }
            _ => None,
        };
        if let Some(f) = legit {
            *gross = (*gross * f).round().max(1.0);
            *sales = (*sales * f).round();
            *export = (*export * f).round();
            if let Some(t) = tax.as_mut() {
                *t = (*t * f).round();
            }
            return;
        }
        match self.kind {
            Kind::TooSmooth if m.0 > end.0 - 14 => {
                // A trend without noise or season, as if spread from a yearly target.
                *gross = (level(e, m, origin) / super::season(m)).round().max(1.0);
                *sales = (*gross * e.sales_ratio).round();
                *export = (*sales * e.export_share).round();
            }
            Kind::IdenticalSeries if m.0 > end.0 - 14 => {
                if let Some((base, growth, pair)) = self.template {
                    let years = (m.0 - origin.0) as f64 / 12.0;
                    // A fixed pseudo-random wiggle of the pair's month.
                    let h = (u64::from(pair) << 32 | m.0 as u64)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        >> 11;
                    let u = h as f64 / (1u64 << 53) as f64;
                    let t =
                        base * (1.0 + growth).powf(years) * super::season(m) * (0.93 + 0.14 * u);
                    *gross = (t * self.factor).round().max(1.0);
                    *sales = (*gross * e.sales_ratio).round();
                    *export = (*sales * e.export_share).round();
                }
            }
            Kind::UnitSlip if m == end => {
                *gross = (*gross * self.factor).round();
                *sales = (*sales * self.factor).round();
                *export = (*export * self.factor).round();
            }
            Kind::SlowInflation if m.year() == end.year() && m <= end => {
                let f = 1.0 + self.factor * m.month() as f64;
                *gross = (*gross * f).round();
                *sales = (*sales * f).round();
                *export = (*export * f).round();
            }
            Kind::ExportGtSales if m == end => *export = (*sales * self.factor).round(),
            Kind::NegativeValue if m == end => *sales = -(self.factor.round()),
            Kind::SalesRatio if m == end => {
                *sales = (*gross * self.factor).round();
                *export = export.min(*sales);
            }
            Kind::OutputJump if m == end => {
                *gross = (*gross * self.factor).round();
                *sales = (*sales * self.factor).round();
                *export = (*export * self.factor).round();
            }
            Kind::CopiedForward if m <= end && m.0 > end.0 - self.span as i32 => {
                let first = end.plus(-(self.span as i32) + 1);
                *gross = level(e, first, origin).round().max(1.0);
                *sales = (*gross * e.sales_ratio).round();
                *export = (*sales * e.export_share).round();
            }
            Kind::LegitRoundTiny => {
                *gross = ((*gross / 100.0).round() * 100.0).max(100.0);
                *sales = ((*gross * e.sales_ratio / 100.0).round() * 100.0).min(*gross);
                *export = export.min(*sales);
            }
            Kind::RoundFigures if m <= end && m.0 > end.0 - 12 => {
                *gross = ((*gross / 100.0).round() * 100.0).max(100.0);
                *sales = (*gross * e.sales_ratio / 100.0).round() * 100.0;
                *export = export.min(*sales);
            }
            Kind::ManyRevisions if m == end => *revisions = self.factor as i64,
            Kind::TaxRatioLow if m.year() == end.year() && m <= end => {
                if let Some(t) = tax.as_mut() {
                    *t = (*t * self.factor).round();
                }
            }
            Kind::NoTaxRecord
                if m.year() == end.year()
                    && m <= end
                    && (self.span >> (m.month() - 1)) & 1 == 1 =>
            {
                *tax = None
            }
            Kind::EnergyDivergence if m == end => {
                *gross = (*gross * self.factor).round();
                *sales = (*sales * self.factor).round();
                *export = (*export * self.factor).round();
            }
            _ => {}
        }
    }

    /// Applies the plant to one month of energy values.
    pub fn apply_energy(
        &self,
        _e: &Ent,
        m: Month,
        _origin: Month,
        energy: &mut f64,
        electricity: &mut f64,
    ) {
        match self.kind {
            Kind::EnergyIntensity if m.year() == self.month.year() && m <= self.month => {
                *energy = (*energy * self.factor * 10.0).round() / 10.0;
                *electricity = (*electricity * self.factor * 10.0).round() / 10.0;
            }
            Kind::EnergyDivergence if m == self.month => {
                // Output was raised by `factor`; energy stays, electricity falls.
                *energy = (*energy / self.factor * 10.0).round() / 10.0;
                *electricity = (*electricity / self.factor * 0.55 * 10.0).round() / 10.0;
            }
            _ => {}
        }
    }
}

fn label(kind: Kind, e: &Ent, counties: &[String], period: String, detail: String) -> Label {
    Label {
        level: "enterprise",
        uscc: e.uscc.clone(),
        project_id: String::new(),
        county_code: counties[e.county].clone(),
        period,
        kind,
        detail,
    }
}

/// The label of a county-level plant.
fn county_label(kind: Kind, county: &str, period: String, detail: String) -> Label {
    Label {
        level: "county",
        uscc: String::new(),
        project_id: String::new(),
        county_code: county.to_string(),
        period,
        kind,
        detail,
    }
}

/// Chooses the planted enterprises and what is planted in each.
pub fn plan(
    o: &GenOptions,
    ents: &mut Vec<Ent>,
    counties: &[String],
    rng: &mut ChaCha8Rng,
) -> Plan {
    let p = o.end;
    let start = p.plus(-(o.months as i32) + 1);
    let n_services = add_services(o, ents, counties, rng, start);
    let n_industrial = ents.len() - n_services;
    // Candidates: enterprises with the whole history.
    let mut cands: Vec<usize> = (0..n_industrial)
        .filter(|&i| ents[i].entry < start)
        .collect();
    // Deterministic shuffle.
    for i in (1..cands.len()).rev() {
        let j = rng.random_range(0..=i);
        cands.swap(i, j);
    }
    let kinds_total = Kind::MONTHLY.len()
        + Kind::RD.len()
        + Kind::INV.len()
        + if o.other_families {
            Kind::OTHER.len()
        } else {
            0
        };
    let per_kind = ((o.enterprises as f64 * o.anomaly_rate) / kinds_total as f64)
        .round()
        .max(3.0) as usize;
    let mut planner = Planner {
        o,
        counties,
        rng,
        cands,
        next: 0,
        per_kind,
        n_industrial,
        plan: Plan::default(),
    };
    planner.monthly(ents);
    planner.subtle(ents);
    planner.identical_pairs(ents);
    planner.wage_jumps(ents);
    planner.legit(ents);
    planner.county_tax(ents);
    planner.rd(ents);
    planner.other_families(ents);
    planner.plan
}

/// Adds the services enterprises to the register, a separate group after the
/// industrial ones (with the other families); returns how many.
fn add_services(
    o: &GenOptions,
    ents: &mut Vec<Ent>,
    counties: &[String],
    rng: &mut ChaCha8Rng,
    start: Month,
) -> usize {
    // Services enterprises, a separate group in the register.
    let n_services = if o.other_families {
        (o.enterprises / 8).max(20)
    } else {
        0
    };
    let mut seen: std::collections::HashSet<String> = ents.iter().map(|e| e.uscc.clone()).collect();
    for _ in 0..n_services {
        let county = rng.random_range(0..counties.len());
        let mut code = super::make_uscc(&counties[county], rng);
        while seen.contains(&code) {
            code = super::make_uscc(&counties[county], rng);
        }
        seen.insert(code.clone());
        let (svc_code, svc_name) =
            catalog::SERVICE_INDUSTRIES[rng.random_range(0..catalog::SERVICE_INDUSTRIES.len())];
        let base = 1500.0
            + LogNormal::new((1500f64).ln(), 0.9)
                .expect("valid")
                .sample(rng);
        // Monthly revenue per employee, about 15 thousand yuan.
        let per_capita = LogNormal::new((15f64).ln(), 0.3)
            .expect("valid")
            .sample(rng);
        ents.push(Ent {
            uscc: code,
            name: format!(
                "{}{}有限公司",
                catalog::PLACES[rng.random_range(0..catalog::PLACES.len())],
                svc_name
            ),
            county,
            industry: usize::MAX,
            code: svc_code,
            entry: start.plus(-rng.random_range(1..60)),
            base,
            growth: rng.random_range(-0.05..0.15),
            sales_ratio: 1.0,
            export_share: 0.0,
            tax_factor: 1.1,
            employees: (base / per_capita).max(10.0).round(),
            energy_per_output: 0.0,
            services: true,
        });
    }
    n_services
}

/// The plants being chosen: candidates are taken in their shuffled order.
struct Planner<'a> {
    o: &'a GenOptions,
    counties: &'a [String],
    rng: &'a mut ChaCha8Rng,
    /// Industrial enterprises with the whole history, shuffled.
    cands: Vec<usize>,
    /// The first candidate not taken yet.
    next: usize,
    /// Enterprises per kind.
    per_kind: usize,
    n_industrial: usize,
    plan: Plan,
}

impl Planner<'_> {
    /// The next candidate, if any is left.
    fn take(&mut self) -> Option<usize> {
        let e = *self.cands.get(self.next)?;
        self.next += 1;
        Some(e)
    }

    /// The month of a plant: most are in the month under review; hard ones also
    /// earlier in the year.
    fn pick_month(&mut self, hard: bool) -> Month {
        let p = self.o.end;
        let ytd_months = p.month() as i32;
        if hard && self.rng.random::<f64>() < 0.3 && ytd_months > 1 {
            p.plus(-self.rng.random_range(1..ytd_months))
        } else {
            p
        }
    }
    /// The monthly anomalies of the documents' checks.
    fn monthly(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        for kind in Kind::MONTHLY {
            for _ in 0..self.per_kind {
                let Some(eid) = self.take() else { break };
                let e = &ents[eid];
                let (month, factor, span, detail) = match kind {
                    Kind::ExportGtSales => {
                        let f = self.rng.random_range(1.15..1.6);
                        (
                            self.pick_month(true),
                            f,
                            0,
                            format!("export delivery = {f:.2} × sales output"),
                        )
                    }
                    Kind::NegativeValue => {
                        let f = self.rng.random_range(100.0..2000.0);
                        (
                            self.pick_month(true),
                            f,
                            0,
                            format!("sales output = −{f:.0}"),
                        )
                    }
                    Kind::SalesRatio => {
                        let f = self.rng.random_range(0.15..0.4);
                        (p, f, 0, format!("sales output = {f:.2} × gross output"))
                    }
                    Kind::OutputJump => {
                        let f = if self.rng.random::<f64>() < 0.7 {
                            self.rng.random_range(2.6..4.0)
                        } else {
                            self.rng.random_range(0.12..0.3)
                        };
                        (p, f, 0, format!("output × {f:.2} this month"))
                    }
                    Kind::CopiedForward => {
                        let k = self.rng.random_range(3..=5u32);
                        (
                            p,
                            0.0,
                            k,
                            format!("the same gross and sales output for {k} months"),
                        )
                    }
                    Kind::RoundFigures => (
                        p,
                        0.0,
                        12,
                        "gross output a multiple of 100 for 12 months".to_string(),
                    ),
                    Kind::ManyRevisions => {
                        let f = self.rng.random_range(4..9) as f64;
                        (p, f, 0, format!("revised {f:.0} times"))
                    }
                    Kind::TaxRatioLow => {
                        let f = self.rng.random_range(0.35..0.7);
                        (p, f, 0, format!("taxable sales × {f:.2} all year"))
                    }
                    Kind::NoTaxRecord => {
                        let mut mask = 1u32 << (p.month() - 1);
                        if p.month() > 2 && self.rng.random::<f64>() < 0.5 {
                            mask |= 1 << self.rng.random_range(0..p.month() - 1);
                        }
                        (
                            p,
                            0.0,
                            mask,
                            format!(
                                "no tax record in {} month(s) of the year",
                                mask.count_ones()
                            ),
                        )
                    }
                    _ => unreachable!("monthly kinds only"),
                };
                let period = month.to_string();
                self.plan
                    .labels
                    .push(label(kind, e, self.counties, period, detail));
                self.plan.by_ent.insert(
                    eid,
                    Plant {
                        kind,
                        month,
                        factor,
                        span,
                        template: None,
                    },
                );
            }
        }
    }

    /// Subtle wrong figures: a unit slip, slow inflation, a too-smooth series.
    fn subtle(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        // Subtle wrong figures.
        for kind in [Kind::UnitSlip, Kind::SlowInflation, Kind::TooSmooth] {
            for _ in 0..self.per_kind {
                let Some(eid) = self.take() else { break };
                let e = &ents[eid];
                let (factor, detail) = match kind {
                    Kind::UnitSlip => {
                        let f = [1000.0, 10.0, 0.1][self.rng.random_range(0..3)];
                        (f, format!("output × {f} this month (wrong unit)"))
                    }
                    Kind::TooSmooth => (
                        1.0,
                        "output a smooth trend for 14 months (no noise, no Spring Festival dip)"
                            .to_string(),
                    ),
                    _ => {
                        let f = self.rng.random_range(0.02..0.035);
                        (
                            f,
                            format!("output × (1 + {f:.3} · month) this year, VAT as it was"),
                        )
                    }
                };
                self.plan
                    .labels
                    .push(label(kind, e, self.counties, p.to_string(), detail));
                self.plan.by_ent.insert(
                    eid,
                    Plant {
                        kind,
                        month: p,
                        factor,
                        span: 0,
                        template: None,
                    },
                );
            }
        }
    }

    /// Pairs filled in from one template: the second is the first × c.
    fn identical_pairs(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        // Pairs filled in from one template: the second is the first × c.
        for pair in 0..(self.per_kind / 2).max(1) as u32 {
            let (Some(&a), Some(&b)) = (self.cands.get(self.next), self.cands.get(self.next + 1))
            else {
                break;
            };
            self.next += 2;
            let (base, growth) = (ents[a].base, ents[a].growth);
            let c = if self.rng.random::<f64>() < 0.4 {
                1.0
            } else {
                self.rng.random_range(0.4..2.5)
            };
            for (eid, f) in [(a, 1.0), (b, c)] {
                let detail = format!(
                    "output = template × {f:.3} for 14 months (pair {pair} with {})",
                    ents[if eid == a { b } else { a }].uscc
                );
                self.plan.labels.push(label(
                    Kind::IdenticalSeries,
                    &ents[eid],
                    self.counties,
                    p.to_string(),
                    detail,
                ));
                self.plan.by_ent.insert(
                    eid,
                    Plant {
                        kind: Kind::IdenticalSeries,
                        month: p,
                        factor: f,
                        span: 0,
                        template: Some((base, growth, pair)),
                    },
                );
            }
        }
    }

    /// Wage per employee jumping in the last quarter (with the other families).
    fn wage_jumps(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        // Wage per employee jumping in the last quarter.
        if self.o.other_families {
            for _ in 0..self.per_kind {
                let Some(eid) = self.take() else { break };
                let f = self.rng.random_range(1.55..2.0);
                let month = p.plus(-((p.month() % 3) as i32));
                self.plan.labels.push(label(
                    Kind::WageJump,
                    &ents[eid],
                    self.counties,
                    month.to_string(),
                    format!("wage bill × {f:.2} in the last quarter, headcount as it was"),
                ));
                self.plan.other.insert(
                    eid,
                    Plant {
                        kind: Kind::WageJump,
                        month,
                        factor: f,
                        span: 0,
                        template: None,
                    },
                );
            }
        }
    }

    /// Legitimately unusual enterprises (no error: labelled `legit`).
    fn legit(&mut self, ents: &mut [Ent]) {
        let p = self.o.end;
        // Legitimately unusual enterprises (no error: labelled `legit`).
        for kind in Kind::LEGIT {
            for _ in 0..self.per_kind {
                let Some(eid) = self.take() else { break };
                let (factor, span, detail) = match kind {
                    Kind::LegitMilestone => {
                        let f = self.rng.random_range(2.5..4.0);
                        let phase = self.rng.random_range(0..4u32);
                        (
                            f,
                            phase,
                            format!("milestone output × {f:.1} every 4 months, VAT in step"),
                        )
                    }
                    Kind::LegitNewLine => {
                        let f = self.rng.random_range(1.6..2.4);
                        let k = self.rng.random_range(1..=8u32);
                        (
                            f,
                            k,
                            format!(
                                "new line: output × {f:.2} for the last {k} months, VAT in step"
                            ),
                        )
                    }
                    Kind::LegitDecline => {
                        let f = self.rng.random_range(0.3..0.55);
                        let k = self.rng.random_range(1..=8u32);
                        (
                            f,
                            k,
                            format!(
                                "decline: output × {f:.2} for the last {k} months, VAT in step"
                            ),
                        )
                    }
                    Kind::LegitFastGrowth => {
                        let g = self.rng.random_range(0.7..1.2);
                        ents[eid].growth = g;
                        (
                            g,
                            0,
                            format!("growth {:.0}% a year, VAT in step", g * 100.0),
                        )
                    }
                    Kind::LegitExporter => {
                        ents[eid].export_share = 0.85;
                        (0.85, 0, "85% of sales exported".to_string())
                    }
                    Kind::LegitRoundTiny => {
                        let b = self.rng.random_range(400.0..1500.0);
                        ents[eid].base = b;
                        (
                            b,
                            0,
                            format!(
                                "tiny ({b:.0} a month), output in round 100s all along, VAT exact"
                            ),
                        )
                    }
                    _ => (
                        0.0,
                        0,
                        "seasonal industry: winter ×2, summer ×0.3, VAT in step".to_string(),
                    ),
                };
                let mut l = label(kind, &ents[eid], self.counties, p.to_string(), detail);
                l.level = "legit";
                self.plan.labels.push(l);
                self.plan.by_ent.insert(
                    eid,
                    Plant {
                        kind,
                        month: p,
                        factor,
                        span,
                        template: None,
                    },
                );
            }
        }
    }

    /// Counties whose large enterprises' output is not backed by tax records, and one whose ratio steps down.
    fn county_tax(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        // Three self.counties whose large enterprises' output is not backed by tax records.
        if self.counties.len() >= 6 {
            let mut by_county: Vec<Vec<usize>> = vec![Vec::new(); self.counties.len()];
            for (i, e) in ents.iter().enumerate().take(self.n_industrial) {
                by_county[e.county].push(i);
            }
            let mut order: Vec<usize> = (0..self.counties.len())
                .filter(|&c| by_county[c].len() >= 8)
                .collect();
            for i in (1..order.len()).rev() {
                let j = self.rng.random_range(0..=i);
                order.swap(i, j);
            }
            // One more county inflates every industrial enterprise's output this year
            // by 8% while VAT stays put: its ratio steps down against its own past,
            // still above 0.90.
            if let Some(&c) = order.get(3) {
                self.plan.inflated_counties.insert(c, 1.08);
                self.plan.labels.push(county_label(
                    Kind::CountyStepDown,
                    &self.counties[c],
                    p.to_string(),
                    "every enterprise's output × 1.08 this year, VAT as it was".to_string(),
                ));
            }
            for &c in order.iter().take(3) {
                let mut members: Vec<usize> = by_county[c]
                    .iter()
                    .copied()
                    .filter(|i| !self.plan.by_ent.contains_key(i))
                    .collect();
                members.sort_by(|a, b| ents[*b].base.total_cmp(&ents[*a].base));
                let n_low = (members.len() as f64 * 0.12).ceil() as usize;
                for &eid in members.iter().take(n_low) {
                    let f = self.rng.random_range(0.25..0.45);
                    self.plan.by_ent.insert(
                        eid,
                        Plant {
                            kind: Kind::TaxRatioLow,
                            month: p,
                            factor: f,
                            span: 0,
                            template: None,
                        },
                    );
                    self.plan.labels.push(label(
                        Kind::TaxRatioLow,
                        &ents[eid],
                        self.counties,
                        p.to_string(),
                        format!(
                            "taxable sales × {f:.2} all year (county {})",
                            self.counties[c]
                        ),
                    ));
                }
                self.plan.labels.push(county_label(
                    Kind::CountyTaxLow,
                    &self.counties[c],
                    p.to_string(),
                    format!("{n_low} largest enterprises with low taxable sales"),
                ));
            }
        }
    }

    /// R&D plants: chosen here, applied when the R&D table is written.
    fn rd(&mut self, ents: &[Ent]) {
        // R&D plants: chosen here, applied when the R&D table is written.
        for kind in Kind::RD {
            let mut placed = 0;
            while placed < self.per_kind {
                let Some(eid) = self.take() else { break };
                if self.plan.is_planted(eid) {
                    continue;
                }
                let div = &catalog::INDUSTRIES[ents[eid].industry].code[..2];
                let low_end = ["13", "14", "20"].contains(&div);
                // Low-end plants need a low-end enterprise; the others must not be one.
                if (kind == Kind::RdLowEnd) != low_end {
                    continue;
                }
                self.plan.rd.insert(eid, kind);
                placed += 1;
            }
        }
    }

    /// Labour, energy and services plants (with the other families).
    fn other_families(&mut self, ents: &[Ent]) {
        let p = self.o.end;
        // Labour and energy plants.
        if self.o.other_families {
            for kind in Kind::OTHER {
                let mut placed = 0;
                while placed < self.per_kind {
                    let Some(eid) = self.take() else { break };
                    if self.plan.is_planted(eid) {
                        continue;
                    }
                    placed += 1;
                    let e = &ents[eid];
                    let (factor, detail) = match kind {
                        Kind::WageOutlier => {
                            let f = if self.rng.random::<f64>() < 0.5 {
                                self.rng.random_range(4.0..8.0)
                            } else {
                                self.rng.random_range(0.08..0.2)
                            };
                            (f, format!("wage bill × {f:.2} in the last quarter"))
                        }
                        Kind::WageInconsistent => (
                            self.rng.random_range(1.6..2.2),
                            "headcount up, wage bill down in the last quarter".to_string(),
                        ),
                        Kind::EnergyIntensity => {
                            let f = self.rng.random_range(6.0..15.0);
                            (f, format!("energy consumption × {f:.1} all year"))
                        }
                        Kind::EnergyDivergence => (
                            self.rng.random_range(1.5..1.9),
                            "output up this month while electricity falls".to_string(),
                        ),
                        _ => unreachable!("other kinds only"),
                    };
                    let month = if matches!(kind, Kind::WageOutlier | Kind::WageInconsistent) {
                        // The last quarter end up to the period.
                        p.plus(-((p.month() % 3) as i32))
                    } else {
                        p
                    };
                    self.plan
                        .labels
                        .push(label(kind, e, self.counties, month.to_string(), detail));
                    self.plan.other.insert(
                        eid,
                        Plant {
                            kind,
                            month,
                            factor,
                            span: 0,
                            template: None,
                        },
                    );
                }
            }
            // Services plants among the services enterprises.
            let svc: Vec<usize> = (self.n_industrial..ents.len()).collect();
            let mut k = 0;
            for kind in Kind::SERVICES {
                for _ in 0..self.per_kind.min(svc.len() / 4) {
                    let eid = svc[k];
                    k += 1;
                    let f = match kind {
                        Kind::ServiceRevenueJump => self.rng.random_range(3.0..5.0),
                        _ => self.rng.random_range(0.05..0.12),
                    };
                    self.plan.other.insert(
                        eid,
                        Plant {
                            kind,
                            month: p,
                            factor: f,
                            span: 0,
                            template: None,
                        },
                    );
                    let detail = match kind {
                        Kind::ServiceRevenueJump => format!("revenue × {f:.1} this month"),
                        _ => format!("employees × {f:.2} all year, revenue unchanged"),
                    };
                    self.plan.labels.push(label(
                        kind,
                        &ents[eid],
                        self.counties,
                        p.to_string(),
                        detail,
                    ));
                }
            }
        }
    }
}

fn derr(e: PolarsError) -> Error {
    Error::polars("generate", e)
}

/// The annual R&D table: three years up to the year before the last month.
pub fn rd_table(
    o: &GenOptions,
    ents: &[Ent],
    counties: &[String],
    plan: &Plan,
    labels: &mut Vec<Label>,
    rng: &mut ChaCha8Rng,
) -> Result<DataFrame> {
    let y = o.end.year() - 1;
    let years = [y - 2, y - 1, y];
    let origin = o.end.plus(-(o.months as i32) + 1);
    let per_staff = LogNormal::new((180f64).ln(), 0.25).expect("valid");
    let (mut u, mut yr, mut staff, mut exp, mut ded) = (vec![], vec![], vec![], vec![], vec![]);
    for (i, e) in ents.iter().enumerate() {
        if e.services {
            continue;
        }
        let first_year_start = Month::new(years[0], 1).expect("valid");
        let planted = plan.rd.get(&i).copied();
        let natural = e.entry < first_year_start
            && rng.random::<f64>() < catalog::INDUSTRIES[e.industry].rd_share;
        if !natural && planted.is_none() {
            continue;
        }
        let annual = level(e, Month::new(y, 6).expect("valid"), origin) * 12.0;
        let base_staff = (5.0
            + LogNormal::new((annual / 8000.0).max(0.5).ln(), 0.5)
                .expect("valid")
                .sample(rng))
        .round();
        let ps = per_staff.sample(rng);
        for (k, &year) in years.iter().enumerate() {
            let this_year = year == y;
            let drift = 1.0 + 0.06 * (k as f64 - 2.0);
            let mut s = (base_staff * drift).round().max(5.0);
            let mut x = (s * ps * rng.random_range(0.9..1.1)).round();
            let mut d = if rng.random::<f64>() < 0.92 {
                (x * rng.random_range(0.2..0.25)).round()
            } else {
                0.0
            };
            match planted {
                Some(Kind::RdNoDeduction) => d = 0.0,
                Some(Kind::RdFirstTime) if !this_year => continue,
                Some(Kind::RdSmall) if this_year => {
                    s = rng.random_range(1..4) as f64;
                    x = rng.random_range(20.0..95.0f64).round();
                    d = 0.0;
                }
                Some(Kind::RdFewStaffBig) if this_year => {
                    s = rng.random_range(1..5) as f64;
                    x = rng.random_range(2500.0..8000.0f64).round();
                }
                Some(Kind::RdPerStaff) if this_year => {
                    x = (x * rng.random_range(12.0..25.0)).round()
                }
                Some(Kind::RdIntensity) if this_year => {
                    x = (annual * rng.random_range(0.6..1.2)).round();
                    s = (x / ps).round().max(5.0);
                }
                _ => {}
            }
            u.push(e.uscc.clone());
            yr.push(year as i64);
            staff.push(s as i64);
            exp.push(x);
            ded.push(d);
        }
        if let Some(kind) = planted {
            labels.push(Label {
                level: "enterprise",
                uscc: e.uscc.clone(),
                project_id: String::new(),
                county_code: counties[e.county].clone(),
                period: y.to_string(),
                kind,
                detail: match kind {
                    Kind::RdNoDeduction => "no super-deduction relief in three years".into(),
                    Kind::RdSmall => "R&D expenditure below 100".into(),
                    Kind::RdFewStaffBig => "1–4 R&D staff, expenditure 2,500–8,000".into(),
                    Kind::RdFirstTime => "no R&D in the two earlier years".into(),
                    Kind::RdLowEnd => "low-end industry reporting R&D".into(),
                    Kind::RdPerStaff => "expenditure × 12–25 at the same staff".into(),
                    Kind::RdIntensity => "expenditure 60–120% of output".into(),
                    _ => String::new(),
                },
            });
        }
    }
    let n = u.len();
    DataFrame::new(
        n,
        vec![
            Column::new("uscc".into(), u),
            Column::new("year".into(), yr),
            Column::new("rd_staff".into(), staff),
            Column::new("rd_expenditure".into(), exp),
            Column::new("rd_super_deduction".into(), ded),
        ],
    )
    .map_err(derr)
}

/// Investment projects, monthly, with year-to-date completion.
pub fn investment_table(
    o: &GenOptions,
    ents: &[Ent],
    counties: &[String],
    labels: &mut Vec<Label>,
    rng: &mut ChaCha8Rng,
) -> Result<DataFrame> {
    let start = o.end.plus(-(o.months as i32) + 1);
    let industrial: Vec<usize> = (0..ents.len())
        .filter(|&i| !ents[i].services && ents[i].entry < start)
        .collect();
    let n_projects = (o.enterprises / 10).max(30);
    let planned_d = LogNormal::new((60_000f64).ln(), 1.3).expect("valid");
    let mut rows = InvRows::default();
    for (j, &kind) in investment_kinds(o, n_projects).iter().enumerate() {
        let owner = industrial[rng.random_range(0..industrial.len())];
        let project = Project {
            o,
            j,
            kind,
            e: &ents[owner],
            county: counties[ents[owner].county].clone(),
        };
        project.months(&planned_d, rng, &mut rows, labels);
    }
    let n = rows.pid.len();
    DataFrame::new(
        n,
        vec![
            Column::new("project_id".into(), rows.pid),
            Column::new("uscc".into(), rows.u),
            Column::new("county_code".into(), rows.cc),
            Column::new("period".into(), rows.per),
            Column::new("planned_total".into(), rows.plan_t),
            Column::new("ytd_completed".into(), rows.ytd),
            Column::new("start_period".into(), rows.sp),
        ],
    )
    .map_err(derr)
}

/// What is planted in each project (most nothing): every investment kind, and
/// with the other families the padding at every quarter end (a subtle kind),
/// spread over the projects.
fn investment_kinds(o: &GenOptions, n_projects: usize) -> Vec<Option<Kind>> {
    let per_kind = ((o.enterprises as f64 * o.anomaly_rate) / 24.0)
        .round()
        .max(3.0) as usize;
    let mut planted: Vec<Option<Kind>> = vec![None; n_projects];
    let mut k = 0;
    let padding = o.other_families.then_some(Kind::InvQuarterPadding);
    for kind in Kind::INV.into_iter().chain(padding) {
        for _ in 0..per_kind {
            if k < n_projects {
                planted[k * 7 % n_projects] = Some(kind);
            }
            k += 1;
        }
    }
    planted
}

/// The investment table's columns.
#[derive(Default)]
struct InvRows {
    pid: Vec<String>,
    u: Vec<String>,
    cc: Vec<String>,
    per: Vec<String>,
    plan_t: Vec<f64>,
    ytd: Vec<f64>,
    sp: Vec<Option<String>>,
}

/// Project `j` of the investment table, of enterprise `e`, with its plant.
struct Project<'a> {
    o: &'a GenOptions,
    j: usize,
    kind: Option<Kind>,
    e: &'a Ent,
    county: String,
}

impl Project<'_> {
    /// Draws the project and writes its months within the window to `rows`, and
    /// its plant's label to `labels`.
    fn months(
        &self,
        planned_d: &LogNormal<f64>,
        rng: &mut ChaCha8Rng,
        rows: &mut InvRows,
        labels: &mut Vec<Label>,
    ) {
        let (o, j, kind, e, county) = (self.o, self.j, self.kind, self.e, &self.county);
        let p = o.end;
        let start = p.plus(-(o.months as i32) + 1);
        let id = format!(
            "{}-{:04}-{:02}-{:06}",
            &county[..6],
            p.year() - rng.random_range(0..3),
            rng.random_range(1..=12),
            j
        );
        let planned = planned_d.sample(rng).round().max(5_000.0);
        let duration = rng.random_range(12..48);
        // A first-month plant starts this year; a quarter-spike plant has history.
        let begin = match kind {
            Some(Kind::InvFirstMonth) => p.year_start().plus(rng.random_range(0..p.month() as i32)),
            Some(Kind::InvQuarterSpike)
            | Some(Kind::InvYtdFalls)
            | Some(Kind::InvAbovePlan)
            | Some(Kind::InvQuarterPadding) => start.plus(-rng.random_range(0..12)),
            _ => start.plus(rng.random_range(-24..(o.months as i32 - 2))),
        };
        let padded = kind == Some(Kind::InvQuarterPadding);
        // A padded project runs through the period (quarter ends book 1.4 times an
        // ordinary month, so a project runs out of plan before its nominal duration).
        let duration = if padded {
            duration.max((p.0 - begin.0 + 2) * 5 / 4)
        } else {
            duration
        };
        let total = planned * rng.random_range(0.85..0.98);
        let monthly = total / duration as f64;
        let spike_q = {
            // The last quarter end up to the period, with four months of history before it.
            let q = p.plus(-((p.month() % 3) as i32));
            if q.year() == p.year() && q.0 - begin.0 >= 5 {
                Some(q)
            } else {
                None
            }
        };
        let fall_m = if p.month() > 2 {
            Some(p.plus(-rng.random_range(0..(p.month() as i32 - 2))))
        } else {
            None
        };
        let mut cum_year = 0.0;
        let mut cum_all = 0.0;
        let mut prev_ytd = 0.0;
        let first = begin.max(start);
        let last = std::cmp::min(begin.plus(duration), p);
        if first > last {
            return;
        }
        let mut m = begin;
        let mut labelled = false;
        while m <= last {
            if m.month() == 1 {
                cum_year = 0.0;
            }
            let qe = if m.is_quarter_end() { 1.4 } else { 0.9 };
            let mut inc = (monthly * qe * rng.random_range(0.75..1.25)).round();
            if m == begin && kind == Some(Kind::InvFirstMonth) {
                inc = (planned * rng.random_range(0.6..0.9)).round();
            }
            if Some(m) == spike_q && kind == Some(Kind::InvQuarterSpike) {
                inc = (monthly * rng.random_range(5.0..10.0)).round().max(1500.0);
            }
            // Padded: over the twelve months to the period, work moved from the
            // other months into every quarter end (the total about the same).
            if padded && m.0 > p.0 - 12 {
                let f = if m.is_quarter_end() {
                    rng.random_range(1.7..2.5)
                } else {
                    0.7
                };
                inc = (inc * f).round();
            }
            if cum_all + inc > total
                && kind != Some(Kind::InvFirstMonth)
                && kind != Some(Kind::InvQuarterSpike)
            {
                inc = (total - cum_all).max(0.0);
            }
            cum_all += inc;
            cum_year += inc;
            let mut y = cum_year;
            if Some(m) == fall_m && kind == Some(Kind::InvYtdFalls) && m.month() > 1 && m > begin {
                y = (prev_ytd * rng.random_range(0.5..0.9f64)).round();
            }
            if m == p && kind == Some(Kind::InvAbovePlan) {
                y = (planned * rng.random_range(1.1..1.5)).round();
            }
            if m >= first {
                rows.pid.push(id.clone());
                rows.u.push(e.uscc.clone());
                rows.cc.push(county.clone());
                rows.per.push(m.to_string());
                rows.plan_t.push(planned);
                rows.ytd.push(y);
                rows.sp.push(if j % 5 == 0 {
                    None
                } else {
                    Some(begin.to_string())
                });
                let hit = match kind {
                    Some(Kind::InvYtdFalls) => Some(m) == fall_m && m.month() > 1 && m > begin,
                    Some(Kind::InvAbovePlan) => m == p,
                    Some(Kind::InvFirstMonth) => m == begin,
                    Some(Kind::InvQuarterSpike) => Some(m) == spike_q,
                    Some(Kind::InvQuarterPadding) => Some(m) == spike_q,
                    _ => false,
                };
                if hit && !labelled {
                    labelled = true;
                    labels.push(Label {
                        level: "project",
                        uscc: e.uscc.clone(),
                        project_id: id.clone(),
                        county_code: county.clone(),
                        period: m.to_string(),
                        kind: kind.expect("planted"),
                        detail: format!("planned total {planned:.0}"),
                    });
                }
            }
            prev_ytd = y;
            m = m.plus(1);
        }
        // A first-month plant must carry its start month.
        if kind == Some(Kind::InvFirstMonth) {
            let n = rows.sp.len();
            for v in rows
                .sp
                .iter_mut()
                .rev()
                .take(n.min((last.0 - first.0 + 1) as usize))
            {
                *v = Some(begin.to_string());
            }
        }
    }
}

/// Outcomes of earlier queries: a sample of each of the six months before the last.
pub fn verifications_table(
    o: &GenOptions,
    ents: &[Ent],
    plan: &Plan,
    rng: &mut ChaCha8Rng,
) -> Result<DataFrame> {
    let p = o.end;
    let (mut u, mut per, mut out, mut at) = (vec![], vec![], vec![], vec![]);
    for k in 1..=6 {
        let m = p.plus(-k);
        for (i, e) in ents.iter().enumerate() {
            if e.entry > m || rng.random::<f64>() >= 0.015 {
                continue;
            }
            let r: f64 = rng.random();
            let erring = plan.is_planted(i) && !plan.get(i).is_some_and(|p| p.kind.legit());
            let bad = if erring { 0.5 } else { 0.05 };
            let outcome = if r < bad {
                "confirmed_error"
            } else if r < bad + 0.25 {
                "explained"
            } else {
                "no_issue"
            };
            let when = m.plus(1);
            u.push(e.uscc.clone());
            per.push(m.to_string());
            out.push(outcome);
            at.push(format!(
                "{}-{:02}-{:02}T10:00:00",
                when.year(),
                when.month(),
                rng.random_range(10..28)
            ));
        }
    }
    let n = u.len();
    DataFrame::new(
        n,
        vec![
            Column::new("uscc".into(), u),
            Column::new("period".into(), per),
            Column::new("outcome".into(), out),
            Column::new("verified_at".into(), at),
        ],
    )
    .map_err(derr)
}

/// Quarterly labour and wages of the industrial enterprises.
pub fn labor_table(
    o: &GenOptions,
    ents: &[Ent],
    plan: &Plan,
    rng: &mut ChaCha8Rng,
) -> Result<DataFrame> {
    let p = o.end;
    let start = p.plus(-(o.months as i32) + 1);
    let wage_level = LogNormal::new((21.0f64).ln(), 0.2).expect("valid");
    let (mut u, mut per, mut emp, mut wage) = (vec![], vec![], vec![], vec![]);
    for (i, e) in ents.iter().enumerate().filter(|(_, e)| !e.services) {
        let w = wage_level.sample(rng);
        let mut m = start;
        while m <= p {
            if m.is_quarter_end() && e.entry <= m {
                let grow = 1.0 + 0.01 * ((m.0 - start.0) as f64 / 3.0);
                let mut staff = (e.employees * grow * rng.random_range(0.97..1.03)).round();
                let mut bill = (staff
                    * w
                    * grow.sqrt()
                    * rng.random_range(0.95..1.05)
                    * if m.month() == 12 { 1.25 } else { 1.0 })
                .round();
                if let Some(pl) = plan.other.get(&i) {
                    if m == pl.month {
                        match pl.kind {
                            Kind::WageOutlier | Kind::WageJump => bill = (bill * pl.factor).round(),
                            Kind::WageInconsistent => {
                                staff = (staff * pl.factor).round();
                                bill = (bill * 0.6).round();
                            }
                            _ => {}
                        }
                    }
                }
                u.push(e.uscc.clone());
                per.push(m.to_string());
                emp.push(staff as i64);
                wage.push(bill);
            }
            m = m.plus(1);
        }
    }
    let n = u.len();
    DataFrame::new(
        n,
        vec![
            Column::new("uscc".into(), u),
            Column::new("period".into(), per),
            Column::new("employees".into(), emp),
            Column::new("wage_total".into(), wage),
        ],
    )
    .map_err(derr)
}

/// Monthly revenue and headcount of the services enterprises.
pub fn services_table(
    o: &GenOptions,
    ents: &[Ent],
    plan: &Plan,
    rng: &mut ChaCha8Rng,
) -> Result<DataFrame> {
    let p = o.end;
    let start = p.plus(-(o.months as i32) + 1);
    let noise = LogNormal::new(0.0, 0.07).expect("valid");
    let (mut u, mut per, mut rev, mut emp) = (vec![], vec![], vec![], vec![]);
    for (i, e) in ents.iter().enumerate().filter(|(_, e)| e.services) {
        let mut m = start;
        while m <= p {
            let n1 = noise.sample(rng);
            let n2 = rng.random_range(0.98..1.02);
            if e.entry <= m {
                let years = (m.0 - start.0) as f64 / 12.0;
                let mut r = (e.base
                    * (1.0 + e.growth).powf(years)
                    * n1
                    * if m.month() == 12 { 1.2 } else { 1.0 })
                .round();
                let mut s = (e.employees * n2).round();
                if let Some(pl) = plan.other.get(&i) {
                    match pl.kind {
                        Kind::ServiceRevenueJump if m == pl.month => r = (r * pl.factor).round(),
                        Kind::ServiceRevenuePerEmployee
                            if m.year() == pl.month.year() && m <= pl.month =>
                        {
                            s = (s * pl.factor).round().max(1.0)
                        }
                        _ => {}
                    }
                }
                u.push(e.uscc.clone());
                per.push(m.to_string());
                rev.push(r);
                emp.push(s as i64);
            }
            m = m.plus(1);
        }
    }
    let n = u.len();
    DataFrame::new(
        n,
        vec![
            Column::new("uscc".into(), u),
            Column::new("period".into(), per),
            Column::new("revenue".into(), rev),
            Column::new("employees".into(), emp),
        ],
    )
    .map_err(derr)
}

/// Writes the labels file (UTF-8 with BOM).
pub fn write_labels(labels: &[Label], path: &Path) -> Result<()> {
    let mut sorted = labels.to_vec();
    sorted.sort_by(|a, b| {
        (a.kind, &a.uscc, &a.project_id, &a.county_code).cmp(&(
            b.kind,
            &b.uscc,
            &b.project_id,
            &b.county_code,
        ))
    });
    let n = sorted.len();
    let df = DataFrame::new(
        n,
        vec![
            Column::new(
                "level".into(),
                sorted.iter().map(|l| l.level).collect::<Vec<_>>(),
            ),
            Column::new(
                "uscc".into(),
                sorted.iter().map(|l| l.uscc.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "project_id".into(),
                sorted
                    .iter()
                    .map(|l| l.project_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "county_code".into(),
                sorted
                    .iter()
                    .map(|l| l.county_code.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "period".into(),
                sorted.iter().map(|l| l.period.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "kind".into(),
                sorted.iter().map(|l| l.kind.name()).collect::<Vec<_>>(),
            ),
            Column::new(
                "expected_rules".into(),
                sorted
                    .iter()
                    .map(|l| l.kind.rules().join(";"))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "detail".into(),
                sorted.iter().map(|l| l.detail.as_str()).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(derr)?;
    crate::report::write_csv(&df, path)
}
