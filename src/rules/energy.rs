//! Rules of the energy family (filled in with the other report families).

use super::registry::RuleDef;

/// The energy rules.
pub const RULES: &[RuleDef] = &[];
