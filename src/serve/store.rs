//! The service's state in SQLite (WAL, `synchronous = FULL`: a committed write is
//! on disk): the history files it was given, every accepted submission row, and the
//! settings fixed at first start.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The database file under `--state`.
pub const DB_FILE: &str = "zhibao.sqlite";

/// WAL frames (pages, 256 MB) past which [`Store::checkpoint`] restarts the WAL:
/// a safety valve, since a restart holds the server's commits back while it
/// syncs (at 4,096 pages it ran every minute under load, and one commit waited
/// 135 ms). Passive checkpoints start the WAL again on their own whenever no
/// commit lands while one runs, which under load happens within seconds.
pub const WAL_RESTART_FRAMES: i64 = 65_536;

/// One accepted row of a submission, in the contract's words.
#[derive(Clone, Debug)]
pub struct StoredRow {
    /// Order of arrival.
    pub seq: i64,
    /// Table name.
    pub table: String,
    /// Key of the row (`uscc|period`, `project_id|period`, `uscc|year`, `uscc`).
    pub key: String,
    /// The row: contract column → text value (JSON object).
    pub row: serde_json::Map<String, serde_json::Value>,
}

/// The SQLite database.
pub struct Store {
    conn: Connection,
}

fn db(e: rusqlite::Error) -> Error {
    Error::Internal {
        stage: "state",
        message: format!("SQLite: {e}"),
    }
}

impl Store {
    /// Opens (or creates) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path)
            .map_err(|e| Error::Usage(format!("state {}: {e}", path.display())))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS history_files (path TEXT PRIMARY KEY, bytes BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS submissions (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 tbl TEXT NOT NULL,
                 key TEXT NOT NULL,
                 row TEXT NOT NULL,
                 received_at TEXT NOT NULL,
                 user TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS submissions_key ON submissions (tbl, key);",
        )
        .map_err(|e| Error::Usage(format!("state {}: {e}", path.display())))?;
        Ok(Store { conn })
    }

    /// A setting fixed at first start.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(db)
    }

    /// Stores a setting.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Leaves the WAL's checkpoints to [`Store::checkpoint`], called by another
    /// connection: a commit then only appends to the WAL and syncs it, instead of
    /// also copying the WAL into the database and syncing that whenever the WAL
    /// passes 1,000 pages (a commit that did so held up the submissions behind it
    /// for up to 0.13 s, measured under load). The WAL file keeps its size once
    /// checkpointed and is written again from its start: cutting it back frees
    /// blocks, and on a file system mounted with `discard` a commit then waits
    /// while they are discarded.
    pub fn leave_checkpoints_to_another_connection(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint = 0;")
            .map_err(db)
    }

    /// A connection for [`Store::checkpoint`]: it never waits for a lock.
    pub fn open_for_checkpoints(dir: &Path) -> Result<Store> {
        let s = Store::open(dir)?;
        s.conn.busy_timeout(std::time::Duration::ZERO).map_err(db)?;
        Ok(s)
    }

    /// Copies what the WAL holds into the database as far as no reader needs it
    /// (a passive checkpoint: it waits for no one). SQLite writes the WAL from its
    /// start again only when a write begins after a checkpoint copied all of it,
    /// which steady writes from another connection rarely leave room for; so
    /// once the WAL holds more than [`WAL_RESTART_FRAMES`], a restart checkpoint
    /// follows. It copies the few frames left, holding writes back meanwhile, and
    /// gives up at once if a reader or a write is under way (this connection does
    /// not wait). Returns the WAL's frames and those copied.
    pub fn checkpoint(&self) -> Result<(i64, i64)> {
        let run = |mode: &str| {
            self.conn
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                    Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
        };
        let (log, copied) = run("PASSIVE").map_err(db)?;
        if log > WAL_RESTART_FRAMES {
            // Busy is no error here: the next call tries again.
            if let Ok(r) = run("RESTART") {
                return Ok(r);
            }
        }
        Ok((log, copied))
    }

    /// Whether history files are stored.
    pub fn has_history(&self) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM history_files", [], |r| r.get(0))
            .map_err(db)?;
        Ok(n > 0)
    }

    /// Replaces the stored history files (paths relative to the data directory).
    pub fn replace_history(&mut self, files: &[(String, Vec<u8>)]) -> Result<()> {
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM history_files", []).map_err(db)?;
        for (p, b) in files {
            tx.execute(
                "INSERT INTO history_files (path, bytes) VALUES (?1, ?2)",
                params![p, b],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// The stored history files.
    pub fn history_files(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut st = self
            .conn
            .prepare("SELECT path, bytes FROM history_files ORDER BY path")
            .map_err(db)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<std::result::Result<_, _>>().map_err(db)
    }

    /// Stores rows (`table`, `key`, row as JSON, user) in one transaction; returns
    /// once committed.
    pub fn add_rows(&mut self, rows: &[(&str, String, String, String)]) -> Result<()> {
        let now = now_iso();
        let tx = self.conn.transaction().map_err(db)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO submissions (tbl, key, row, received_at, user) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db)?;
            for (table, key, row, user) in rows {
                st.execute(params![table, key, row, now, user])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    /// Every stored row, in order of arrival.
    pub fn rows(&self) -> Result<Vec<StoredRow>> {
        let mut st = self
            .conn
            .prepare("SELECT seq, tbl, key, row FROM submissions ORDER BY seq")
            .map_err(db)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            let (seq, table, key, text) = r.map_err(db)?;
            let row = serde_json::from_str(&text).map_err(|e| Error::Internal {
                stage: "state",
                message: format!("stored row {seq} is not JSON: {e}"),
            })?;
            out.push(StoredRow {
                seq,
                table,
                key,
                row,
            });
        }
        Ok(out)
    }

    /// The latest stored row of `table` with `key` (uses the `(tbl, key)` index).
    pub fn latest(&self, table: &str, key: &str) -> Result<Option<Map<String, Value>>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT row FROM submissions WHERE tbl = ?1 AND key = ?2 ORDER BY seq DESC LIMIT 1",
                params![table, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

/// The time now, ISO-8601 UTC to the second.
pub fn now_iso() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}
