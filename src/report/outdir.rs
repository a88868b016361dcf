//! The output directory, written atomically: everything is built in a hidden
//! staging directory beside `--out`, then swapped into place in one step. A run that
//! fails or is killed leaves the previous contents of `--out` intact; a leftover
//! staging directory of a killed run is removed by the next run.
//!
//! A directory zhibao wrote carries a marker file; an existing directory without it
//! (and not empty) is not replaced unless `--force` is given, so a mistyped `--out`
//! cannot wipe unrelated files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the marker file in every output directory.
pub const MARKER: &str = ".zhibao-output";

/// A staging directory on its way to becoming `--out`.
pub struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

fn out_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn staging_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    format!(".{name}.zhibao-staging-")
}

/// The absolute, symlink-free form of a path that may not exist yet: walked one
/// component at a time, each existing prefix resolved (symlinks), `..` applied to
/// what was resolved so far (so `new/../data` is `data`).
fn resolved(p: &Path) -> PathBuf {
    use std::path::Component;
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if let Ok(real) = fs::canonicalize(&out) {
                    out = real;
                }
            }
        }
    }
    out
}

/// Refuses an `--out` that is, or contains, an input of the run (the data
/// directory, a pipeline file, last month's grades), or that lies inside the data
/// directory on something zhibao did not write: replacing it would destroy the
/// input. `--force` does not lift this.
pub fn check_inputs(target: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    let t = resolved(target);
    for (what, input) in inputs {
        let i = resolved(input);
        if i == t {
            return Err(out_err(
                target,
                format!(
                    "is the {what} ({}); the outputs would replace the input. Choose another --out",
                    input.display()
                ),
            ));
        }
        if i.starts_with(&t) {
            return Err(out_err(
                target,
                format!(
                    "contains the {what} ({}); the outputs would replace the input. Choose another --out outside it",
                    input.display()
                ),
            ));
        }
        if t.starts_with(&i) && i.is_dir() && t.exists() && !t.join(MARKER).is_file() {
            return Err(out_err(
                target,
                format!(
                    "lies inside the {what} ({}) and holds files zhibao did not write; choose another --out",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

impl Staging {
    /// Checks `target` and creates the staging directory beside it.
    pub fn new(target: &Path, force: bool) -> Result<Staging> {
        if target.as_os_str().is_empty() {
            return Err(out_err(target, "an output directory is needed"));
        }
        if target.exists() {
            if !target.is_dir() {
                return Err(out_err(target, "exists and is not a directory"));
            }
            let is_ours = target.join(MARKER).is_file();
            let empty = fs::read_dir(target)
                .map_err(|e| out_err(target, e.to_string()))?
                .next()
                .is_none();
            if !is_ours && !empty && !force {
                return Err(out_err(
                    target,
                    "exists, is not empty and was not written by zhibao; choose another --out, or give --force to replace it",
                ));
            }
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)
            .map_err(|e| out_err(target, format!("cannot create {}: {e}", parent.display())))?;
        // Leftovers of killed runs.
        let prefix = staging_prefix(target);
        if let Ok(entries) = fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) && e.path().is_dir() {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = parent.join(format!("{prefix}{}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| {
            out_err(
                target,
                format!("cannot create the staging directory {}: {e}", dir.display()),
            )
        })?;
        Ok(Staging {
            dir,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write the files.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file path inside the staging directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Puts the staging directory in place of `--out`.
    pub fn commit(mut self) -> Result<()> {
        fs::write(
            self.dir.join(MARKER),
            "written by zhibao; this directory is replaced by each run\n",
        )
        .map_err(|e| out_err(&self.target, e.to_string()))?;
        sync_dir(&self.dir);
        if self.target.exists() {
            swap(&self.dir, &self.target)?;
            // The staging path now holds the previous outputs.
            let _ = fs::remove_dir_all(&self.dir);
        } else {
            fs::rename(&self.dir, &self.target).map_err(|e| {
                out_err(
                    &self.target,
                    format!("cannot move the outputs into place: {e}"),
                )
            })?;
        }
        if let Some(parent) = self.target.parent() {
            sync_dir(parent);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Exchanges two directories in one step (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn swap(a: &Path, b: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // File systems without the exchange flag: move aside, move in, remove.
        Err(_) => swap_by_renames(a, b),
    }
}

#[cfg(not(target_os = "linux"))]
fn swap(a: &Path, b: &Path) -> Result<()> {
    swap_by_renames(a, b)
}

fn swap_by_renames(a: &Path, b: &Path) -> Result<()> {
    let aside = a.with_extension("previous");
    fs::rename(b, &aside)
        .map_err(|e| out_err(b, format!("cannot move the previous outputs aside: {e}")))?;
    if let Err(e) = fs::rename(a, b) {
        let _ = fs::rename(&aside, b);
        return Err(out_err(
            b,
            format!("cannot move the outputs into place: {e}"),
        ));
    }
    fs::rename(&aside, a).map_err(|e| out_err(b, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_that_is_or_holds_an_input_is_refused_however_written() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::write(data.join("tax.csv"), "x").unwrap();
        let inputs = [("data directory", data.as_path())];
        for out in [
            data.clone(),
            d.path().to_path_buf(),
            d.path().join("new/../data"),
            d.path().join("data/./"),
            data.join(".."),
        ] {
            assert!(check_inputs(&out, &inputs).is_err(), "{}", out.display());
        }
        #[cfg(unix)]
        {
            let link = d.path().join("link");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            assert!(check_inputs(&link, &inputs).is_err());
        }
        assert!(check_inputs(&d.path().join("out"), &inputs).is_ok());
        assert!(check_inputs(&data.join("out"), &inputs).is_ok());
    }

    #[test]
    fn replaces_its_own_output_and_refuses_others() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let s = Staging::new(&out, false).unwrap();
        fs::write(s.file("a.txt"), "one").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "one");

        let s = Staging::new(&out, false).unwrap();
        fs::write(s.file("a.txt"), "two").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "two");
        // Nothing is left beside it.
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");

        let other = d.path().join("mine");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("thesis.docx"), "precious").unwrap();
        assert!(Staging::new(&other, false).is_err());
        assert!(Staging::new(&other, true).is_ok());
    }

    #[test]
    fn an_abandoned_run_leaves_the_previous_outputs() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let s = Staging::new(&out, false).unwrap();
        fs::write(s.file("a.txt"), "one").unwrap();
        s.commit().unwrap();
        {
            let s = Staging::new(&out, false).unwrap();
            fs::write(s.file("a.txt"), "half").unwrap();
            // dropped without commit: a failed run
        }
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "one");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
