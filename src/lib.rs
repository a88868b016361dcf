//! zhibao (直报) — data-quality auditing of statistical direct-reporting submissions.
//!
//! The audit runs in one direction, one module per stage:
//!
//! 1. [`load`] — a data directory to typed tables, bad rows quarantined;
//! 2. [`rules`] (with the statistical [`detect`]ors) — the cross-checks of the
//!    pipeline file, to a table of findings;
//! 3. [`grade`] — findings to a score and a red / yellow / green grade per
//!    enterprise, with monthly dynamic adjustment;
//! 4. [`rank`] — grades to the ranked query list (查询清单), with random sampling;
//! 5. [`report`] — everything to the output directory, written atomically.
//!
//! Each stage declares its own settings with the types of [`settings`];
//! [`pipeline`] reads a pipeline file into them, and no stage reads the pipeline.
//! [`audit::run`] strings the stages together; [`generate`] builds synthetic
//! batches.

pub mod audit;
pub mod detect;
pub mod error;
pub mod generate;
pub mod grade;
pub mod load;
pub mod model;
pub mod pipeline;
pub mod rank;
pub mod report;
pub mod rules;
pub mod serve;
pub mod settings;
pub mod terminal;

pub use error::{Error, Result};
pub mod demo;
pub mod outlier;
