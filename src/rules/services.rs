//! Rules of the services family (filled in with the other report families).

use super::registry::RuleDef;

/// The services rules.
pub const RULES: &[RuleDef] = &[];
