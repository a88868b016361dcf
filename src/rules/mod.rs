//! Stage 2 — **check**: the cross-checks of a pipeline, run over a [`Batch`], to a
//! table of findings ([`engine::Checked`]).
//!
//! One file per rule family; each family is a list of [`registry::RuleDef`]s with
//! their code, messages, documentation, parameters and computation. The registry
//! collects them; the engine runs the ones a pipeline names.
//!
//! [`Batch`]: crate::load::Batch

pub mod anticipate;
pub mod common;
pub mod config;
pub mod detectors;
pub mod docs;
pub mod energy;
pub mod engine;
pub mod formula;
pub mod groups;
pub mod industrial;
pub mod invented;
pub mod investment;
pub mod labor;
pub mod message;
pub mod paired;
pub mod panel;
pub mod rd;
pub mod registry;
pub mod services;
pub mod tax;

pub use config::{RuleConfig, RuleSet};
pub use engine::{
    record_peer_stats, run, run_months, run_months_given, run_pass, run_with_peers,
    run_with_progress, Checked, Ctx, Frames, Pass, PassOptions, PeerStats, Peers, RuleRun,
};

/// Every rule family, each a list of rules.
pub const FAMILIES: &[&[registry::RuleDef]] = &[
    industrial::RULES,
    tax::RULES,
    rd::RULES,
    investment::RULES,
    detectors::RULES,
    labor::RULES,
    energy::RULES,
    services::RULES,
    anticipate::RULES,
    paired::RULES,
    invented::RULES,
];

/// Every family's typed parameters ([`registry::Typed`]), one entry per built-in
/// rule that takes parameters.
pub const TYPED: &[&[registry::Typed]] = &[
    industrial::PARAMS,
    tax::PARAMS,
    rd::PARAMS,
    investment::PARAMS,
    detectors::PARAMS,
    labor::PARAMS,
    energy::PARAMS,
    services::PARAMS,
    anticipate::PARAMS,
    paired::PARAMS,
    invented::PARAMS,
];
