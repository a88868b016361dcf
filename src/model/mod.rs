//! The vocabulary every stage shares: months, USCC codes, the contract's tables.

pub mod month;
pub mod schema;
pub mod text;
pub mod uscc;

pub use month::Month;
pub use schema::{Kind, Table};
