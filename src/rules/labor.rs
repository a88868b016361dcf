//! Rules of the labor family (filled in with the other report families).

use super::registry::RuleDef;

/// The labor rules.
pub const RULES: &[RuleDef] = &[];
