//! Lifecycle records: the reference hook library's `agent_session.py` API, kept in the same
//! store as hosted sessions.
//!
//! A lifecycle session is a row of `sessions` plus a document in `lifecycle` and its phase
//! history in `lifecycle_history`. A session created here has kind `record` (no process) and
//! its state follows its phase: initializing, investigating, planning, executing and validating
//! are `running`, approval is `waiting_input`, completed and abandoned are `stopped`, failed is
//! `failed`. A hosted session can carry a phase too: updating it attaches a document and sets
//! `sessions.phase`, and never touches its process state.
//!
//! # Files and atomicity
//!
//! With state files on ([`Lifecycle::open_with`]; Python's default home has them off) every
//! write mirrors the whole document into `<home>/<id>/state.json`, the reference layout.
//! Such a write takes the writer lock (`flock` on `<home>/lifecycle.lock`), runs its SQLite
//! transaction (`BEGIN IMMEDIATE`) in which it also writes the new document to a temporary
//! file in the session folder (so a full disk aborts the transaction), commits, then renames
//! the temporary file over `state.json` and only then releases the lock. So:
//!
//! * writers from any number of processes serialize, and no update is lost;
//! * the last file renamed belongs to the last commit;
//! * `state.json` is only ever replaced whole, by rename, and only by a committed document,
//!   so no reader ever sees a torn or uncommitted file;
//! * a process killed at any point leaves the store at the old or the new record (SQLite's WAL
//!   drops an uncommitted transaction, `flock` dies with the process). Killed between commit
//!   and rename, `state.json` still holds the previous committed document until the next write
//!   to that session; a leftover temporary file is replaced by the next write.
//!
//! Files are not fsynced: this protects against killed processes, not against power loss.
//! Timestamps are taken under the lock, so they follow commit order.
//!
//! # History
//!
//! Every `update_state` call that names a valid phase appends one `{from_phase, to_phase,
//! timestamp}` entry, also when the phase stays the same, so N phase updates always leave N
//! entries (finalize appends one more).
//!
//! # Files
//!
//! The SQL of the `lifecycle` tables is in `store::lifecycle`. Here: this file holds
//! [`Lifecycle`] and its write transaction; `persist` writes one document (the `sessions`
//! row through the state machine, the lifecycle rows, `state.json`); `create`, `update`,
//! `resume`, `list` and `cleanup` hold the API's methods; `hooks` the ready hooks.

mod cleanup;
mod create;
mod doc;
pub mod hooks;
mod list;
mod mirror;
mod persist;
mod resume;
mod time;
pub(crate) mod transcript_wait;
mod update;

pub use crate::store::lifecycle::{ListFilter, SummaryRef};
pub use create::NewLifecycle;
pub use doc::{
    is_final, normalize_outcome, phase_state, validate_phase, LifecycleDoc, SessionSummary,
    FINAL_PHASES, INITIAL_PHASE, PHASES, RESUMABLE_PHASES, SCHEMA_KEYS,
};
pub use resume::{ResumeCheck, ResumePolicy};
pub use time::parse_us as parse_timestamp_us;
pub use update::Update;

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::model::id;
use crate::services::state_machine;
use crate::store::Store;
use parking_lot::Mutex;
use rusqlite::Connection;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Name of the mirrored document in each session folder.
pub const STATE_FILE: &str = "state.json";
const STATE_TMP: &str = ".state.json.tmp";

/// Lifecycle records of one sessions home. Safe to share between threads; after a `fork` the
/// child transparently opens its own connection.
pub struct Lifecycle {
    home: Home,
    /// Whether writes mirror documents into `state.json` (see [`Lifecycle::open_with`]).
    state_files: bool,
    conn: Mutex<Conn>,
}

struct Conn {
    pid: u32,
    store: Store,
    /// `<home>/lifecycle.lock`, flocked by writers from before their transaction until their
    /// `state.json` is renamed into place; `None` without state files, where SQLite's own
    /// write lock (`BEGIN IMMEDIATE`) is all the ordering a write needs.
    lock: Option<std::fs::File>,
}

/// File work a write does once its transaction committed, still holding the writer lock.
enum AfterCommit {
    Rename(PathBuf, PathBuf),
    RemoveDir(PathBuf),
    /// Status hooks of a committed state change, run once the writer lock is released.
    Fire(state_machine::Committed),
}

/// Holds an exclusive flock until dropped.
struct Flock<'a>(&'a std::fs::File);

impl<'a> Flock<'a> {
    fn exclusive(f: &'a std::fs::File) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a descriptor owned by `f` for the duration of the call.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Flock(f));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn open_lock(home: &Home) -> Result<std::fs::File> {
    let path = home.root().join("lifecycle.lock");
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))
}

impl Lifecycle {
    /// Opens the lifecycle records of `home` (see [`Home::resolve`] for the default), with
    /// `state.json` files.
    pub fn open(home: Option<&Path>) -> Result<Lifecycle> {
        Lifecycle::open_with(home, true)
    }

    /// Opens the lifecycle records of `home`; `state_files`: mirror every document into
    /// `<home>/<id>/state.json` (the reference layout, for tools that read those files).
    /// Without them a write is one SQLite transaction and nothing else: no folder, no file,
    /// no `lifecycle.lock`. The store is the truth either way; a session written by both
    /// kinds of writers has a `state.json` as of the last write that made one.
    pub fn open_with(home: Option<&Path>, state_files: bool) -> Result<Lifecycle> {
        let home = Home::resolve(home)?;
        let store = Store::open(&home)?;
        let lock = if state_files {
            Some(open_lock(&home)?)
        } else {
            None
        };
        Ok(Lifecycle {
            home,
            state_files,
            conn: Mutex::new(Conn {
                pid: std::process::id(),
                store,
                lock,
            }),
        })
    }

    /// Whether writes mirror documents into `state.json`.
    pub fn state_files(&self) -> bool {
        self.state_files
    }

    /// The sessions home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Path of a session's mirrored `state.json`.
    pub fn state_path(&self, agent_id: &str) -> Result<PathBuf> {
        Ok(self.home.session_dir(agent_id)?.join(STATE_FILE))
    }

    /// The whole document, history included; `None` for an unknown session.
    pub fn get_session(&self, agent_id: &str) -> Result<Option<LifecycleDoc>> {
        id::validate(agent_id)?;
        let doc = self.with_store(|store| store.lifecycle_doc(agent_id))?;
        Ok(doc.map(LifecycleDoc::from_map))
    }

    fn conn(&self) -> Result<parking_lot::MutexGuard<'_, Conn>> {
        let mut conn = self.conn.lock();
        let pid = std::process::id();
        if conn.pid != pid {
            // A forked child must not use its parent's SQLite connection, not even to close
            // it (closing could disturb the parent's locks): leak it and open our own. The
            // lock file too: a flock belongs to the open file, which parent and child share.
            let fresh = Store::open(&self.home)?;
            std::mem::forget(std::mem::replace(&mut conn.store, fresh));
            if self.state_files {
                conn.lock = Some(open_lock(&self.home)?);
            }
            conn.pid = pid;
        }
        Ok(conn)
    }

    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        f(&conn.store)
    }

    /// The home when writes mirror into `state.json`, for `persist`.
    fn mirror_home(&self) -> Option<&Home> {
        self.state_files.then_some(&self.home)
    }

    /// Runs `f` in a write transaction under the writer lock, then does the file work `f`
    /// queued (renaming `state.json` into place) before releasing the lock. So writers
    /// serialize, the last file renamed belongs to the last commit, and `state.json` only ever
    /// holds a committed document. I/O errors raised inside come back as [`Error::Io`].
    fn write<T>(
        &self,
        f: impl FnOnce(&Connection, &mut Vec<AfterCommit>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let conn = self.conn()?;
        let _lock = match &conn.lock {
            Some(f) => {
                Some(Flock::exclusive(f).map_err(|e| Error::io("locking lifecycle.lock", e))?)
            }
            None => None,
        };
        let mut after = Vec::new();
        let out = conn.store.write_cached(|c| f(c, &mut after))?;
        let mut fire = Vec::new();
        for a in after {
            match a {
                AfterCommit::Rename(from, to) => mirror::replace(&from, &to)
                    .map_err(|e| Error::io(format!("writing {}", to.display()), e))?,
                AfterCommit::RemoveDir(dir) => {
                    let _ = std::fs::remove_dir_all(dir);
                }
                AfterCommit::Fire(c) => fire.push(c),
            }
        }
        drop(_lock);
        for c in &fire {
            state_machine::after_commit(self.home.root(), c);
        }
        Ok(out)
    }
}
