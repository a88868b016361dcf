//! `zhibao demo`: a small synthetic batch, audited, with the summary printed.

use std::path::{Path, PathBuf};

use crate::audit::{self, AuditOptions, AuditResult};
use crate::error::{Error, Result};
use crate::generate::{self, GenOptions, GenReport};
use crate::model::Month;

/// Where the demo put things.
pub struct Demo {
    /// The generated batch.
    pub generated: GenReport,
    /// The audit.
    pub audit: AuditResult,
}

/// A few rows of the kind bureau files contain, to show the quarantine at work: a
/// corrupted USCC, an impossible month, an unparseable number, an enterprise not
/// in the register, and a duplicate of an accepted row.
fn add_bad_rows(data: &Path, period: Month, a_valid_uscc: &str) -> Result<()> {
    let dir = data.join("tax").join(format!("period={period}"));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Output {
        path: dir.clone(),
        message: e.to_string(),
    })?;
    let unknown = crate::model::uscc::complete("91340100MA2XXXXX0").unwrap_or_default();
    let mut bad_check = a_valid_uscc.to_string();
    let last = bad_check.pop().unwrap_or('0');
    bad_check.push(if last == '1' { '2' } else { '1' });
    let text = format!(
        "统一社会信用代码,所属期,应税销售额\n\
         {bad_check},{period},1200\n\
         {a_valid_uscc},2026-13,1300\n\
         {a_valid_uscc},{period},一千二\n\
         {unknown},{period},800\n\
         {a_valid_uscc},{period},\"1,450\"\n"
    );
    let path = dir.join("corrections.csv");
    std::fs::write(&path, text).map_err(|e| Error::Output {
        path,
        message: e.to_string(),
    })
}

/// Runs the demo: `enterprises` enterprises into a temporary directory, audited
/// into `out`.
pub fn run(out: &Path, enterprises: usize, seed: u64) -> Result<Demo> {
    let data: PathBuf =
        std::env::temp_dir().join(format!("zhibao-demo-data-{}", std::process::id()));
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| Error::Output {
            path: data.clone(),
            message: e.to_string(),
        })?;
    }
    let mut g = GenOptions::new(&data, enterprises);
    g.seed = seed;
    let generated = generate::generate(&g)?;
    let first = {
        let df = crate::load::read_generic(&data.join("enterprises.parquet"))?;
        df.1.first()
            .and_then(|c| c.first().cloned().flatten())
            .unwrap_or_default()
    };
    add_bad_rows(&data, g.end, &first)?;
    let audit = audit::run(&AuditOptions {
        data: data.clone(),
        out: out.to_path_buf(),
        period: None,
        pipeline: None,
        seed: Some(seed),
        previous_grades: None,
        capacity: None,
        force: false,
        progress: None,
    })?;
    Ok(Demo { generated, audit })
}
