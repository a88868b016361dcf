//! `zhibao serve` — audit as it arrives (即报即审). See `SERVICE_CONTRACT.md`.
//!
//! One process holds the state: the history and every submission in SQLite under
//! `--state` (a `200` means committed to disk), the batch as it stands in memory,
//! and the last full audit of it (the snapshot), refreshed in the background after
//! each change. A submission is checked exactly as the batch loader checks a file,
//! stored, applied to the batch, and its enterprises are audited at once: their own
//! checks on their rows, the peer checks (medians, HB quartiles, Benford, county
//! ratios) from the snapshot, whose time every answer gives. Reading endpoints wait
//! for a snapshot of everything acknowledged, so the query list, findings and grades
//! they give are what `zhibao audit` gives on `zhibao export` of the state.

pub mod api;
pub mod live;
pub mod page;
pub mod store;
pub mod users;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::Month;
use crate::pipeline::Pipeline;
use live::{Config, Live, Snapshot};
use store::Store;
use users::Users;

/// What `zhibao serve` is asked to do.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The history (may be empty or absent once the state holds it).
    pub data: Option<PathBuf>,
    /// The state directory.
    pub state: PathBuf,
    /// The users file.
    pub users: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// A pipeline file.
    pub pipeline: Option<PathBuf>,
    /// The period under review.
    pub period: Option<Month>,
    /// Seed of the query list's sampling.
    pub seed: Option<u64>,
    /// This program: background refreshes run as `serve-refresh` in a process
    /// of their own (`None`: in the server's).
    pub refresh_exe: Option<PathBuf>,
}

/// How often peer statistics are refreshed while submissions arrive (a read that
/// needs a newer snapshot asks for one at once).
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// How often the WAL is copied into the database (by a thread of its own).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How long the writer waits for the rest of a group under concurrent load.
pub const GROUP_WINDOW: Duration = Duration::from_millis(2);

/// The most submissions handled as one group.
const MAX_GROUP: usize = 512;

#[derive(Default)]
struct Refresh {
    /// The latest generation accepted.
    wanted: u64,
    /// The generation of the latest snapshot.
    done: u64,
    /// A reader waits for this generation.
    asked: u64,
    /// When the last full audit ended.
    last_end: Option<Instant>,
    error: Option<String>,
}

type Job = (
    live::Request,
    Option<live::Prechecked>,
    tokio::sync::oneshot::Sender<std::result::Result<serde_json::Value, live::ApiError>>,
);

/// What every request handler shares.
pub struct Shared {
    /// The live state (one writer at a time).
    pub live: Mutex<Live>,
    /// What bodies are checked against (the live state's, as of its last reload).
    checker: Mutex<Arc<live::Checker>>,
    /// The users.
    pub users: Users,
    refresh: Mutex<Refresh>,
    cv: Condvar,
    queue: Mutex<std::sync::mpsc::Sender<Job>>,
}

impl Shared {
    /// Asks the refresher for a snapshot of everything accepted so far.
    pub fn changed(&self, generation: u64) {
        if let Ok(mut r) = self.refresh.lock() {
            r.wanted = r.wanted.max(generation);
        }
        self.cv.notify_all();
    }

    /// Hands a submission to the writer and waits for its answer (from a thread
    /// that may block).
    pub fn submit_blocking(
        &self,
        req: live::Request,
    ) -> std::result::Result<serde_json::Value, live::ApiError> {
        let pre = self.checker()?.check(&req);
        let rx = self.enqueue(req, Some(pre))?;
        rx.blocking_recv()
            .map_err(|_| live::ApiError::Internal("the writer stopped".into()))?
    }

    /// Checks a submission on a blocking thread (beside the writer, which may be
    /// auditing the group before it), hands it to the writer and waits for its
    /// answer.
    pub async fn submit(
        &self,
        req: live::Request,
    ) -> std::result::Result<serde_json::Value, live::ApiError> {
        let checker = self.checker()?;
        let (req, pre) = tokio::task::spawn_blocking(move || {
            let pre = checker.check(&req);
            (req, pre)
        })
        .await
        .map_err(|e| live::ApiError::Internal(format!("the check failed: {e}")))?;
        let rx = self.enqueue(req, Some(pre))?;
        rx.await
            .map_err(|_| live::ApiError::Internal("the writer stopped".into()))?
    }

    fn checker(&self) -> std::result::Result<Arc<live::Checker>, live::ApiError> {
        self.checker
            .lock()
            .map(|c| c.clone())
            .map_err(|_| live::ApiError::Internal("the state is unavailable".into()))
    }

    fn enqueue(
        &self,
        req: live::Request,
        pre: Option<live::Prechecked>,
    ) -> std::result::Result<
        tokio::sync::oneshot::Receiver<std::result::Result<serde_json::Value, live::ApiError>>,
        live::ApiError,
    > {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| live::ApiError::Internal("the writer stopped".into()))?
            .send((req, pre, tx))
            .map_err(|_| live::ApiError::Internal("the writer stopped".into()))?;
        Ok(rx)
    }

    /// The writer: takes every submission waiting, and handles them as one group
    /// (cut after a register submission), so that concurrent submissions share
    /// one transaction, one merge and one audit.
    ///
    /// Under concurrent load (the last group had several submissions) it waits up
    /// to [`GROUP_WINDOW`] for as many as the last group had: the clients just
    /// answered send their next submissions within a moment, and without the wait
    /// each group would take the first one or two of them and leave the rest to
    /// the next. A lone client is not kept waiting.
    fn writer(self: Arc<Self>, rx: std::sync::mpsc::Receiver<Job>) {
        let mut last = 1usize;
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            let until = Instant::now() + GROUP_WINDOW;
            while jobs.len() < MAX_GROUP {
                let left = until.saturating_duration_since(Instant::now());
                let next = if jobs.len() >= last || left.is_zero() {
                    rx.try_recv().ok()
                } else {
                    rx.recv_timeout(left).ok()
                };
                match next {
                    Some(j) => jobs.push(j),
                    None => break,
                }
            }
            last = jobs.len();
            let mut group = Vec::new();
            for job in jobs {
                let ends = job.0.table == crate::model::Table::Enterprises;
                group.push(job);
                if ends {
                    self.run_group(std::mem::take(&mut group));
                }
            }
            if !group.is_empty() {
                self.run_group(group);
            }
        }
    }

    fn run_group(&self, jobs: Vec<Job>) {
        let (reqs, txs): (Vec<_>, Vec<_>) = jobs.into_iter().map(|(r, p, t)| ((r, p), t)).unzip();
        let n = reqs.len();
        let answers = match self.lock() {
            Ok(mut l) => {
                let a = l.submit_group(reqs);
                let g = l.generation;
                // Before the answers: a client that registered an enterprise has
                // its next body checked against the new register.
                if let Ok(mut c) = self.checker.lock() {
                    *c = l.checker.clone();
                }
                drop(l);
                self.changed(g);
                a
            }
            Err(_) => (0..n)
                .map(|_| Err(live::ApiError::Internal("the state is unavailable".into())))
                .collect(),
        };
        for (tx, a) in txs.into_iter().zip(answers) {
            let _ = tx.send(a);
        }
    }

    /// The snapshot once it covers everything acknowledged before the call.
    pub fn fresh(&self) -> Result<Arc<Snapshot>> {
        let g = self.lock()?.generation;
        if let Ok(mut r) = self.refresh.lock() {
            r.wanted = r.wanted.max(g);
            r.asked = r.asked.max(g);
        }
        self.cv.notify_all();
        let mut r = self.refresh.lock().map_err(|_| poisoned())?;
        while r.done < g {
            if let Some(e) = r.error.take() {
                return Err(Error::Internal {
                    stage: "serve",
                    message: format!("the full audit failed: {e}"),
                });
            }
            r = self
                .cv
                .wait_timeout(r, Duration::from_secs(1))
                .map_err(|_| poisoned())?
                .0;
        }
        drop(r);
        Ok(self.lock()?.snap.clone())
    }

    /// The live state.
    pub fn lock(&self) -> Result<std::sync::MutexGuard<'_, Live>> {
        self.live.lock().map_err(|_| poisoned())
    }

    fn refresher(self: Arc<Self>) {
        loop {
            {
                let mut r = match self.refresh.lock() {
                    Ok(r) => r,
                    Err(_) => return,
                };
                // Run when something new is held and either a reader waits for
                // it or the last refresh is old enough.
                loop {
                    let due = r.last_end.is_none_or(|t| t.elapsed() >= REFRESH_EVERY);
                    if r.wanted > r.done && (r.asked > r.done || due) {
                        break;
                    }
                    r = match self.cv.wait_timeout(r, Duration::from_millis(500)) {
                        Ok((r, _)) => r,
                        Err(_) => return,
                    };
                }
            }
            // The lock is held only to name the directories: the export reads
            // the database through a connection of its own.
            let prepared = self.lock().map(|mut l| {
                let (dir, out, g) = l.dirs_for_refresh();
                (dir, out, g, l.cfg.clone())
            });
            let result = prepared.map(|(dir, out, g, cfg)| {
                let t = Instant::now();
                tracing::debug!(generation = g, "full audit started");
                let snap = refresh_snapshot(&cfg, &dir, &out, g);
                tracing::debug!(
                    generation = g,
                    seconds = t.elapsed().as_secs_f64(),
                    "full audit ended"
                );
                (dir, out, g, snap)
            });
            let mut r = match self.refresh.lock() {
                Ok(r) => r,
                Err(_) => return,
            };
            r.last_end = Some(Instant::now());
            match result {
                Ok((dir, _, g, Ok(snap))) => {
                    drop(r);
                    let t = Instant::now();
                    let _ = std::fs::remove_dir_all(&dir);
                    let unused = self.lock().ok().and_then(|mut l| l.install(snap));
                    if let Some(old) = unused {
                        let _ = std::fs::remove_dir_all(old);
                    }
                    tracing::debug!(
                        ms = t.elapsed().as_secs_f64() * 1000.0,
                        "snapshot installed, scratch removed"
                    );
                    r = match self.refresh.lock() {
                        Ok(r) => r,
                        Err(_) => return,
                    };
                    r.done = r.done.max(g);
                }
                Ok((dir, out, _, Err(e))) => {
                    let _ = std::fs::remove_dir_all(dir);
                    let _ = std::fs::remove_dir_all(out);
                    tracing::error!(error = %e, "the full audit failed");
                    r.error = Some(e.to_string());
                    r.done = r.wanted;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the state could not be exported");
                    r.error = Some(e.to_string());
                    r.done = r.wanted;
                }
            }
            drop(r);
            self.cv.notify_all();
        }
    }
}

/// One background refresh: the state exported and audited, in a process of its own
/// where the program is known (at the lowest CPU priority, so that submissions
/// are answered first while it runs), else here.
fn refresh_snapshot(cfg: &Config, dir: &Path, out: &Path, generation: u64) -> Result<Snapshot> {
    match &cfg.refresh_exe {
        Some(exe) => {
            let mut cmd = std::process::Command::new(exe);
            cmd.env(SERVER_PID, std::process::id().to_string())
                .arg("serve-refresh")
                .arg("--state")
                .arg(&cfg.state)
                .arg("--export")
                .arg(dir)
                .arg("--out")
                .arg(out)
                .args(["--seed", &cfg.seed.to_string()]);
            if let Some(p) = &cfg.pipeline_path {
                cmd.arg("--pipeline").arg(p);
            }
            if let Some(p) = cfg.period {
                cmd.args(["--period", &p.to_string()]);
            }
            let o = cmd.output().map_err(|e| Error::Internal {
                stage: "serve",
                message: format!("cannot start {}: {e}", exe.display()),
            })?;
            if !o.status.success() {
                return Err(Error::Internal {
                    stage: "serve",
                    message: format!(
                        "the refresh ended with {}: {}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                });
            }
        }
        None => refresh(
            &cfg.state,
            dir,
            out,
            cfg.pipeline_path.as_deref(),
            cfg.period,
            cfg.seed,
            false,
        )?,
    }
    live::read_snapshot(out, generation, &cfg.pipeline)
}

/// The environment variable that gives the refresh process its server's id.
const SERVER_PID: &str = "ZHIBAO_SERVER_PID";

/// Called first in the refresh process (`zhibao serve-refresh`): the lowest nice
/// value (19), so that submissions are answered first while it runs, and an end
/// when the server ends. (`SCHED_IDLE`, lower still, comes once the state is
/// read: see [`idle_from_now_on`].) The process sets these itself, so the server starts it
/// with nothing to run between fork and exec, which lets the standard library
/// use `posix_spawn`: a `fork` of a server holding gigabytes copies its page
/// tables and holds up every allocation of its other threads meanwhile (a
/// quarter of a second of submissions held up at each refresh, measured).
#[cfg(target_os = "linux")]
pub fn yield_to_the_server() {
    // SAFETY: plain system calls on this process, no memory is shared.
    unsafe {
        libc::nice(19);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The server ended before the line above: this process was adopted. (Its
        // id is given, not assumed: a server may itself be process 1 in a container.)
        let server = std::env::var(SERVER_PID).ok().and_then(|p| p.parse().ok());
        if server.is_some_and(|p: libc::pid_t| libc::getppid() != p) {
            std::process::exit(1);
        }
    }
}

/// See the Linux version: elsewhere the refresh runs at the server's priority.
#[cfg(not(target_os = "linux"))]
pub fn yield_to_the_server() {}

/// The refresh process runs only when the server leaves a core idle
/// (`SCHED_IDLE`) once it has read the state from the database. Not before: a
/// process that only runs on an idle core can be left waiting while it holds
/// the file system's journal open (reading the database updates its access
/// time), and every commit of the server waits for the journal (stalls of 0.1 s
/// in commits were logged during refreshes). What follows reads and writes the
/// scratch directory only, in memory when there is room (see `scratch_dir`).
#[cfg(target_os = "linux")]
pub fn idle_from_now_on() {
    // SAFETY: a plain system call on this process.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}

/// Elsewhere the refresh keeps its priority.
#[cfg(not(target_os = "linux"))]
pub fn idle_from_now_on() {}

/// `zhibao serve-refresh` (run by the server): the state under `state` exported
/// to `export` through a connection of its own, and audited into `out`; in a
/// process of its own (`own_process`), the audit at the lowest priority.
pub fn refresh(
    state: &Path,
    export: &Path,
    out: &Path,
    pipeline: Option<&Path>,
    period: Option<Month>,
    seed: u64,
    own_process: bool,
) -> Result<()> {
    let store = Store::open(state)?;
    live::export(&store, export)?;
    drop(store);
    if own_process {
        idle_from_now_on();
    }
    live::audit_to(pipeline, period, seed, export, out)
}

fn poisoned() -> Error {
    Error::Internal {
        stage: "serve",
        message: "a request failed while holding the state".into(),
    }
}

/// Opens the state, loads and audits it, and returns what the server shares.
pub fn prepare(opts: &ServeOptions) -> Result<Arc<Shared>> {
    let users = Users::load(&opts.users)?;
    let pipeline = match &opts.pipeline {
        Some(p) => Pipeline::load(p)?,
        None => Pipeline::builtin(),
    };
    let mut store = Store::open(&opts.state)?;
    if let Some(d) = &opts.data {
        if !d.is_dir() {
            return Err(Error::NoDataDir(d.clone()));
        }
        // A history that cannot be loaded is refused before it replaces the one held.
        let non_empty = std::fs::read_dir(d)
            .map(|mut e| e.next().is_some())
            .unwrap_or(false);
        if non_empty {
            crate::load::load(
                d,
                &crate::load::LoadOptions {
                    period: opts.period,
                },
            )?;
        }
        let n = live::import_history(&mut store, d)?;
        tracing::info!(files = n, data = %d.display(), "history stored");
    }
    if !store.has_history()? {
        return Err(Error::Usage(format!(
            "the state {} holds no history yet: give --data DIR on the first start",
            opts.state.display()
        )));
    }
    let seed = match (opts.seed, store.meta("seed")?) {
        (Some(s), _) => s,
        (None, Some(s)) => s.parse().unwrap_or(0),
        (None, None) => rand::random::<u64>(),
    };
    store.set_meta("seed", &seed.to_string())?;
    let period = match (opts.period, store.meta("period")?) {
        (Some(p), _) => Some(p),
        (None, Some(p)) => Month::parse_strict(&p).ok(),
        (None, None) => None,
    };
    if let Some(p) = period {
        store.set_meta("period", &p.to_string())?;
    }
    let cfg = Config {
        pipeline,
        pipeline_path: opts.pipeline.clone(),
        period,
        seed,
        work: scratch_dir(&opts.state),
        state: opts.state.clone(),
        refresh_exe: opts.refresh_exe.clone(),
    };
    let live = Live::start(store, cfg)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared {
        checker: Mutex::new(live.checker.clone()),
        live: Mutex::new(live),
        users,
        refresh: Mutex::new(Refresh {
            last_end: Some(Instant::now()),
            ..Default::default()
        }),
        cv: Condvar::new(),
        queue: Mutex::new(tx),
    });
    let s = shared.clone();
    std::thread::Builder::new()
        .name("zhibao-writer".into())
        .spawn(move || s.writer(rx))
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok(shared)
}

/// Where the service keeps its scratch files (each body being checked, and the
/// export and output of each full audit in the background): in memory
/// (`/dev/shm`) when it has room for four times the state, else `work/` under
/// the state. Nothing there is needed after a restart. On disk, creating and
/// deleting these files (500 bodies a second, 100 MB per full audit of a
/// 20,000-enterprise state) held up the submissions' own writes to the
/// database: the file system's journal, committing the deletions, made a
/// commit of the database wait up to 0.1 s.
fn scratch_dir(state: &Path) -> PathBuf {
    let on_disk = state.join("work");
    let held: u64 = [store::DB_FILE, "zhibao.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(state.join(f)).ok())
        .map(|m| m.len())
        .sum();
    match memory_dir_free() {
        Some((dir, free)) if free > 4 * held + (64 << 20) => {
            // One directory per state (a restart finds, and clears, its own),
            // which names its state.
            let name = std::fs::canonicalize(state)
                .unwrap_or_else(|_| state.to_path_buf())
                .display()
                .to_string();
            let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
            });
            clear_orphans(&dir);
            let ours = dir.join(format!("zhibao-{h:016x}"));
            let made =
                private_dir(&ours).and_then(|_| std::fs::write(ours.join(STATE_NAMED), &name));
            match made {
                Ok(()) => ours,
                Err(e) => {
                    tracing::warn!(dir = %ours.display(), error = %e, "scratch files stay under the state");
                    on_disk
                }
            }
        }
        _ => on_disk,
    }
}

/// A directory only this user can enter (made with mode 0700): an existing one
/// must be a real directory and this user's (it is closed to others if it was
/// not) — not a link or a directory another user left at the name, which the
/// server would otherwise write into and clear.
#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let m = std::fs::symlink_metadata(dir)?;
            // SAFETY: a plain system call without arguments.
            let me = unsafe { libc::geteuid() };
            if !(m.file_type().is_dir() && m.uid() == me) {
                return Err(std::io::Error::other("not a directory of this user's"));
            }
            // This user's own, left open by an earlier version: closed now.
            if m.mode() & 0o077 != 0 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// The file of a scratch directory in memory that names its state.
const STATE_NAMED: &str = ".state";

/// Removes this user's scratch directories in memory whose state directory no
/// longer exists (a server ended by SIGKILL cannot remove its own).
#[cfg(unix)]
fn clear_orphans(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // SAFETY: a plain system call without arguments.
    let me = unsafe { libc::geteuid() };
    let mine_as = |p: &Path, dir: bool| {
        std::fs::symlink_metadata(p).is_ok_and(|m| {
            m.uid() == me
                && if dir {
                    m.file_type().is_dir()
                } else {
                    m.file_type().is_file() && m.len() < 4096
                }
        })
    };
    for e in entries.flatten() {
        let p = e.path();
        let named = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("zhibao-"));
        let named_state = p.join(STATE_NAMED);
        if !named || !mine_as(&p, true) || !mine_as(&named_state, false) {
            continue;
        }
        if let Ok(state) = std::fs::read_to_string(&named_state) {
            if !state.is_empty() && !Path::new(&state).exists() {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }
}

#[cfg(not(unix))]
fn clear_orphans(_: &Path) {}

/// A memory file system writable here, and its free bytes.
#[cfg(target_os = "linux")]
fn memory_dir_free() -> Option<(PathBuf, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let dir = PathBuf::from("/dev/shm");
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid C string and `st` is written by the call.
    let free = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 || libc::access(c.as_ptr(), libc::W_OK) != 0 {
            return None;
        }
        st.f_bavail as u64 * st.f_frsize as u64
    };
    Some((dir, free))
}

/// Elsewhere the scratch files stay under the state.
#[cfg(not(target_os = "linux"))]
fn memory_dir_free() -> Option<(PathBuf, u64)> {
    None
}

/// Runs `zhibao serve` until interrupted. `ready` is called with the address once
/// the server accepts connections.
pub fn serve(opts: &ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    // Bind first, so that a port in use is refused at once.
    let std_listener = std::net::TcpListener::bind(opts.listen)
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.listen)))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let shared = prepare(opts)?;
    {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("zhibao-refresh".into())
            .spawn(move || s.refresher())
            .map_err(|e| Error::Usage(e.to_string()))?;
    }
    // The WAL is checkpointed here, off the path of the submissions' commits.
    let checkpoints = Store::open_for_checkpoints(&opts.state)?;
    shared
        .lock()?
        .store
        .leave_checkpoints_to_another_connection()?;
    std::thread::Builder::new()
        .name("zhibao-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(e) = checkpoints.checkpoint() {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        })
        .map_err(|e| Error::Usage(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
        ready(addr);
        axum::serve(listener, api::router(shared))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Error::Usage(format!("server: {e}")))
    })
}

/// `zhibao export`: the state as a contract data directory.
pub fn export(state: &std::path::Path, out: &std::path::Path) -> Result<()> {
    if !state.join(store::DB_FILE).is_file() {
        return Err(Error::Usage(format!(
            "{} is not a zhibao serve state (no {})",
            state.display(),
            store::DB_FILE
        )));
    }
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Output {
            path: out.to_path_buf(),
            message: "exists and is not empty; give a new directory".into(),
        });
    }
    let store = Store::open(state)?;
    live::export(&store, out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_scratch_directory_is_private_and_orphans_go() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        // Made closed to others; made again, accepted.
        let ours = d.join("zhibao-1");
        private_dir(&ours).unwrap();
        assert_eq!(
            std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777,
            0o700
        );
        private_dir(&ours).unwrap();
        // This user's, left open to others: closed. A link someone left at the
        // name: refused.
        let open = d.join("zhibao-2");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&open).unwrap();
        assert_eq!(
            std::fs::metadata(&open).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let link = d.join("zhibao-3");
        std::os::unix::fs::symlink(&ours, &link).unwrap();
        assert!(private_dir(&link).is_err());
        // Orphans: the one naming a state that is gone is removed; the one naming
        // an existing state, the one naming none and the link stay.
        let state = d.join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::write(ours.join(STATE_NAMED), state.display().to_string()).unwrap();
        let gone = d.join("zhibao-4");
        private_dir(&gone).unwrap();
        std::fs::write(gone.join(STATE_NAMED), d.join("gone").display().to_string()).unwrap();
        clear_orphans(d);
        assert!(ours.is_dir() && open.is_dir() && link.exists());
        assert!(!gone.exists());
    }
}
