//! Statistical detectors the rules use: Hidiroglou–Berthelot (Banff-exact), robust
//! z-scores and Benford's law. Plain functions over slices, independent of Polars,
//! so they can be tested by hand and compared with the reference implementations.

pub mod benford;
pub mod chance;
pub mod hb;
pub mod quantile;
pub mod robust;
