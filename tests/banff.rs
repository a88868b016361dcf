//! `zhibao outlier` against Statistics Canada's own Banff package: random panels of
//! several sizes, by-groups below and above min_obs, ties, zeros, negatives and
//! missing values, exponents, mii / mei / both, sides, and the RATIO, HISTORIC and
//! CURRENT methods — the flagged units and their FTI/FTE status must be the same.
//!
//! Needs a Python with `banff`, pandas and pyarrow: `scripts/test.sh` creates one
//! and points ZHIBAO_TEST_PYTHON at it.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn zhibao_outlier_flags_exactly_what_banff_flags() {
    let python = std::env::var("ZHIBAO_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("ZHIBAO_TEST_PYTHON is not set: run the tests with `bash scripts/test.sh`, which installs Statistics Canada's banff package")
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/banff/compare.py");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(python)
        .arg(script)
        .arg(common::bin())
        .arg(work.path())
        .arg("150")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("agree on every unit and status"),
        "{stdout}"
    );
}
