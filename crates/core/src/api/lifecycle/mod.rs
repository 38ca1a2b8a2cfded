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
//! Every write mirrors the whole document into `<home>/<id>/state.json`, the reference layout.
//! A write takes the writer lock (`flock` on `<home>/lifecycle.lock`), runs its SQLite
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

mod doc;
pub mod hooks;
mod mirror;
mod time;
mod transcript_wait;

pub use doc::{
    is_final, normalize_outcome, phase_state, validate_phase, LifecycleDoc, SessionSummary,
    FINAL_PHASES, INITIAL_PHASE, PHASES, RESUMABLE_PHASES, SCHEMA_KEYS,
};
pub use time::parse_us as parse_timestamp_us;

use crate::config::home::Home;
use crate::model::clock::now_iso;
use crate::model::error::{Error, Result};
use crate::model::id;
use crate::model::record::SessionKind;
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::state_machine::{self, Change, Outcome};
use crate::store::{self, Column, NewSession, Store, Updates};
use doc::{int_field, str_field, truthy};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the mirrored document in each session folder.
pub const STATE_FILE: &str = "state.json";
const STATE_TMP: &str = ".state.json.tmp";

/// When a session may be resumed. The defaults are the reference library's.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePolicy {
    /// Last activity must be less than this long ago (30 minutes).
    pub max_idle: Duration,
    /// `error_count` must be below this (3).
    pub max_errors: i64,
    /// The phase must be one of these (approval, investigating, planning).
    pub resumable_phases: Vec<String>,
}

impl Default for ResumePolicy {
    fn default() -> Self {
        ResumePolicy {
            max_idle: Duration::from_secs(30 * 60),
            max_errors: 3,
            resumable_phases: RESUMABLE_PHASES.iter().map(|p| p.to_string()).collect(),
        }
    }
}

/// The answer of [`Lifecycle::resume_check`].
#[derive(Debug, Clone)]
pub struct ResumeCheck {
    /// All four conditions hold.
    pub resumable: bool,
    /// Why not, in words (empty when resumable).
    pub why_not: String,
    /// The document that was judged.
    pub doc: LifecycleDoc,
}

/// What a new lifecycle session starts with. `agent_name` and `purpose` are stored as given
/// (usually strings or null).
#[derive(Debug, Clone, Default)]
pub struct NewLifecycle {
    /// Use this id instead of generating one; an existing lifecycle document under it is
    /// replaced, like the reference library overwrites `state.json`.
    pub agent_id: Option<String>,
    pub agent_name: Value,
    pub purpose: Value,
    pub metadata: Map<String, Value>,
}

/// A text column of a row, borrowed; `None` for NULL or non-text values.
fn row_text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    })
}

/// One line of [`Lifecycle::for_each_summary`], borrowed from the store.
#[derive(Debug, Clone, Copy)]
pub struct SummaryRef<'a> {
    pub agent_id: &'a str,
    pub agent_name: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub created_at: Option<&'a str>,
    pub last_updated: Option<&'a str>,
    pub resume_ready: bool,
    pub error_count: i64,
}

/// Which sessions [`Lifecycle::list_sessions_filtered`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    All,
    /// Those whose `resume_ready` is true: the reference hook library's `active_only` (a
    /// session still initializing, or finalized, is not active).
    ResumeReady,
    /// Those not completed, failed or abandoned (the C API's `active_only`).
    Unfinished,
}

impl ListFilter {
    /// The reference's `active_only` flag.
    pub fn active_only(active_only: bool) -> ListFilter {
        if active_only {
            ListFilter::ResumeReady
        } else {
            ListFilter::All
        }
    }

    fn code(self) -> i64 {
        match self {
            ListFilter::All => 0,
            ListFilter::ResumeReady => 1,
            ListFilter::Unfinished => 2,
        }
    }
}

/// Changes for [`Lifecycle::apply`], applied in this order: phase, metadata merge, error,
/// fields, finalize.
#[derive(Debug, Clone, Default)]
pub struct Update<'a> {
    pub phase: Option<&'a str>,
    pub metadata: Option<&'a Map<String, Value>>,
    pub error: Option<&'a str>,
    /// Top-level fields to set as given (not `history`).
    pub fields: Vec<(&'a str, Value)>,
    /// `(outcome, summary)`: see [`Lifecycle::finalize_session`].
    pub finalize: Option<(&'a str, Value)>,
}

/// Lifecycle records of one sessions home. Safe to share between threads; after a `fork` the
/// child transparently opens its own connection.
pub struct Lifecycle {
    home: Home,
    conn: Mutex<Conn>,
}

struct Conn {
    pid: u32,
    store: Store,
    /// `<home>/lifecycle.lock`, flocked by writers from before their transaction until their
    /// `state.json` is renamed into place.
    lock: std::fs::File,
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

/// What a write found under an id before changing it.
struct Found {
    kind: SessionKind,
    state: State,
    name: Option<String>,
    agent_type: Option<String>,
    created_at: String,
    phase: Option<String>,
    task_id: Option<String>,
    /// The lifecycle document (without history), when the session has one.
    doc: Option<Map<String, Value>>,
    /// Its history, when it has one (read before any write of the transaction).
    history: Option<Vec<Value>>,
}

/// How a write changes the history table.
enum HistoryChange {
    Keep,
    Append(Option<String>, String, String),
    Replace(Option<Vec<Value>>),
}

impl Lifecycle {
    /// Opens the lifecycle records of `home` (see [`Home::resolve`] for the default).
    pub fn open(home: Option<&Path>) -> Result<Lifecycle> {
        let home = Home::resolve(home)?;
        let store = Store::open(&home)?;
        let lock = open_lock(&home)?;
        Ok(Lifecycle {
            home,
            conn: Mutex::new(Conn {
                pid: std::process::id(),
                store,
                lock,
            }),
        })
    }

    /// The sessions home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Path of a session's mirrored `state.json`.
    pub fn state_path(&self, agent_id: &str) -> Result<PathBuf> {
        Ok(self.home.session_dir(agent_id)?.join(STATE_FILE))
    }

    /// Maps a SQLite error of a read to [`Error::Store`].
    fn serr(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| crate::store::store_err(&self.home.db_path(), source)
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
            conn.lock = open_lock(&self.home)?;
            conn.pid = pid;
        }
        Ok(conn)
    }

    fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        f(&conn.store)
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
        let _lock =
            Flock::exclusive(&conn.lock).map_err(|e| Error::io("locking lifecycle.lock", e))?;
        let mut after = Vec::new();
        let c = conn.store.connection();
        // BEGIN and COMMIT as cached statements: parsing them anew each time (as
        // `Store::write` does) is a measurable part of a ~0.1 ms write.
        let run = || -> rusqlite::Result<T> {
            c.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            let out = f(c, &mut after).and_then(|out| {
                c.prepare_cached("COMMIT")?.execute([])?;
                Ok(out)
            });
            if out.is_err() && !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            out
        };
        let out = run().map_err(self.serr())?;
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

    /// Creates a session (kind `record`, phase initializing) and returns its id, shaped
    /// `agent-YYYYMMDD-HHMMSS-<8 hex>` unless one was given.
    pub fn create_session(&self, new: &NewLifecycle) -> Result<String> {
        let agent_id = match &new.agent_id {
            Some(given) => id::validate(given)?.to_string(),
            None => id::new_id(),
        };
        self.write(|tx, after| {
            // Timestamps are taken under the write lock, so they follow commit order.
            let now_us = time::now_us();
            let now = time::format_us(now_us);
            let mut doc = Map::new();
            doc.insert("agent_id".into(), Value::String(agent_id.clone()));
            doc.insert("agent_name".into(), new.agent_name.clone());
            doc.insert("purpose".into(), new.purpose.clone());
            doc.insert("created_at".into(), Value::String(now.clone()));
            doc.insert("last_updated".into(), Value::String(now.clone()));
            doc.insert("phase".into(), Value::String(INITIAL_PHASE.into()));
            doc.insert("metadata".into(), Value::Object(new.metadata.clone()));
            doc.insert("resume_ready".into(), Value::Bool(false));
            doc.insert("error_count".into(), json!(0));
            doc.insert("last_error".into(), Value::Null);
            doc.insert("finalized_at".into(), Value::Null);
            doc.insert("duration_seconds".into(), Value::Null);
            doc.insert("summary".into(), Value::Null);
            let found = load(tx, &agent_id)?;
            persist(
                tx,
                after,
                &self.home,
                &agent_id,
                found.as_ref(),
                &doc,
                HistoryChange::Replace(Some(Vec::new())),
                &now,
                Some(now_us),
                true,
            )
        })?;
        Ok(agent_id)
    }

    /// Updates a session: a new phase (appending a history entry and setting resume_ready
    /// to whether the phase is resumable), metadata merged into the existing metadata, and an
    /// error (raising error_count and setting last_error). Always refreshes last_updated.
    ///
    /// `Ok(false)` when no session has this id; [`Error::InvalidPhase`] (and no change at
    /// all) for an unknown phase.
    pub fn update_state(
        &self,
        agent_id: &str,
        phase: Option<&str>,
        metadata: Option<&Map<String, Value>>,
        error: Option<&str>,
    ) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                phase,
                metadata,
                error,
                ..Default::default()
            },
        )
    }

    /// Merges `metadata` into a session's metadata (a shorthand for `update_state` with
    /// metadata only).
    pub fn merge_metadata(&self, agent_id: &str, metadata: &Map<String, Value>) -> Result<bool> {
        self.update_state(agent_id, None, Some(metadata), None)
    }

    /// Applies several changes to one session in one write (one transaction, one
    /// `state.json`). `Ok(false)` for an unknown session. A hosted session without a document
    /// gets one.
    pub fn apply(&self, agent_id: &str, u: &Update<'_>) -> Result<bool> {
        if let Some(p) = u.phase {
            validate_phase(p)?;
        }
        if u.fields.iter().any(|(k, _)| *k == "history") {
            return Err(Error::InvalidArgument(
                "history is kept by the store; use update_state or save_session".into(),
            ));
        }
        id::validate(agent_id)?;
        self.write(|tx, after| {
            let Some(found) = load(tx, agent_id)? else {
                return Ok(false);
            };
            // Timestamps are taken under the write lock, so they follow commit order.
            let now_us = time::now_us();
            let now = time::format_us(now_us);
            let mut doc = found
                .doc
                .clone()
                .unwrap_or_else(|| hosted_doc(agent_id, &found));
            let mut change = HistoryChange::Keep;
            let mut set_phase = |doc: &mut Map<String, Value>, p: &str| {
                // A raw, non-list history (stored as given) gives way to a real one.
                if doc.get("history").is_some_and(|h| !h.is_array()) {
                    doc.remove("history");
                }
                let from = str_field(doc, "phase").map(str::to_string);
                doc.insert("phase".into(), Value::String(p.into()));
                doc.insert(
                    "resume_ready".into(),
                    Value::Bool(RESUMABLE_PHASES.contains(&p)),
                );
                change = HistoryChange::Append(from, p.to_string(), now.clone());
            };
            if let Some(p) = u.phase {
                set_phase(&mut doc, p);
            }
            if let Some(m) = u.metadata {
                merge_metadata(&mut doc, m);
            }
            if let Some(message) = u.error {
                let count = int_field(&doc, "error_count").saturating_add(1);
                doc.insert("error_count".into(), json!(count));
                doc.insert(
                    "last_error".into(),
                    json!({"message": message, "timestamp": now}),
                );
            }
            for (k, v) in &u.fields {
                doc.insert(k.to_string(), v.clone());
            }
            if let Some((outcome, summary)) = &u.finalize {
                let outcome = normalize_outcome(outcome);
                let duration = str_field(&doc, "created_at")
                    .and_then(time::parse_us)
                    .map(|c| ((now_us - c).max(0) as f64 / 1000.0).round() / 1000.0)
                    .map_or(Value::Null, |d| json!(d));
                set_phase(&mut doc, outcome);
                doc.insert("resume_ready".into(), Value::Bool(false));
                doc.insert("finalized_at".into(), Value::String(now.clone()));
                doc.insert("duration_seconds".into(), duration);
                doc.insert("summary".into(), summary.clone());
            }
            doc.insert("last_updated".into(), Value::String(now.clone()));
            persist(
                tx,
                after,
                &self.home,
                agent_id,
                Some(&found),
                &doc,
                change,
                &now,
                Some(now_us),
                false,
            )?;
            Ok(true)
        })
    }

    /// Judges whether a session may be resumed under `policy`; `None` when it does not exist
    /// (or is a hosted session without a lifecycle document).
    pub fn resume_check(
        &self,
        agent_id: &str,
        policy: &ResumePolicy,
    ) -> Result<Option<ResumeCheck>> {
        let Some(doc) = self.get_session(agent_id)? else {
            return Ok(None);
        };
        let mut why_not = judge(&doc, policy, time::now_us());
        if why_not.is_empty() {
            if let Some(b) = self.hosted_blocker(agent_id)? {
                why_not = format!("the hosted session cannot be resumed: {b}");
            }
        }
        Ok(Some(ResumeCheck {
            resumable: why_not.is_empty(),
            why_not,
            doc,
        }))
    }

    /// True when resume_ready is set, the phase is resumable, the last activity is recent
    /// enough and error_count is below the limit. False for an unknown session.
    pub fn should_resume(&self, agent_id: &str, policy: &ResumePolicy) -> Result<bool> {
        id::validate(agent_id)?;
        let serr = self.serr();
        let row = self.with_store(|store| {
            store
                .connection()
                .prepare_cached("SELECT doc, last_updated_us FROM lifecycle WHERE id = ?1")
                .and_then(|mut st| {
                    st.query_row([agent_id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
                    })
                    .optional()
                })
                .map_err(&serr)
        })?;
        let Some((doc, _)) = row else {
            return Ok(false);
        };
        let doc = LifecycleDoc::from_map(parse_doc(&doc));
        Ok(judge(&doc, policy, time::now_us()).is_empty()
            && self.hosted_blocker(agent_id)?.is_none())
    }

    /// For a hosted session, why `agent-sessions resume` would refuse it now; `None` for a
    /// record (no process to resume: the orchestrator decides) or a resumable session. The
    /// resume decision includes this, so "resumable" always means a resume can work.
    fn hosted_blocker(&self, agent_id: &str) -> Result<Option<String>> {
        let rec = self.with_store(|store| store.get(agent_id))?;
        Ok(match rec {
            Some(rec) if rec.kind == SessionKind::Hosted => {
                crate::api::manager::resume::blocker(&self.home, &rec)
            }
            _ => None,
        })
    }

    /// The whole document, history included; `None` for an unknown session.
    pub fn get_session(&self, agent_id: &str) -> Result<Option<LifecycleDoc>> {
        id::validate(agent_id)?;
        let serr = self.serr();
        self.with_store(|store| {
            let conn = store.connection();
            // One read transaction, so the document and its history agree.
            let read = || -> rusqlite::Result<Option<LifecycleDoc>> {
                conn.prepare_cached("BEGIN")?.execute([])?;
                let out = read_doc(conn, agent_id);
                conn.prepare_cached("COMMIT")?.execute([])?;
                out
            };
            let out = read();
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            out.map_err(&serr)
        })
    }

    /// Ends a session: phase set to `outcome` (completed, failed or abandoned; anything else
    /// records failed), finalized_at, duration_seconds since created_at, summary, and
    /// resume_ready cleared. `Ok(false)` for an unknown session.
    pub fn finalize_session(
        &self,
        agent_id: &str,
        outcome: &str,
        summary: Option<Value>,
    ) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                finalize: Some((outcome, summary.unwrap_or(Value::Null))),
                ..Default::default()
            },
        )
    }

    /// Sets a top-level field of a session's document (for example `usage`), without a phase
    /// change. `Ok(false)` for an unknown session.
    pub fn set_field(&self, agent_id: &str, key: &str, value: Value) -> Result<bool> {
        self.apply(
            agent_id,
            &Update {
                fields: vec![(key, value)],
                ..Default::default()
            },
        )
    }

    /// Stores `doc` exactly as given as the session's document (history included), creating
    /// a record-only session when none has this id. Nothing is recomputed: a back-dated
    /// `last_updated` stays back-dated. Used to migrate old state and by tests.
    pub fn save_session(&self, agent_id: &str, doc: Map<String, Value>) -> Result<()> {
        id::validate(agent_id)?;
        let mut doc = doc;
        let history = match doc.remove("history") {
            None => HistoryChange::Replace(None),
            Some(Value::Array(entries)) => HistoryChange::Replace(Some(entries)),
            // Not a list: kept in the document as given, with an empty history table.
            Some(other) => {
                doc.insert("history".into(), other);
                HistoryChange::Replace(Some(Vec::new()))
            }
        };
        self.write(|tx, after| {
            let now = now_iso();
            let found = load(tx, agent_id)?;
            persist(
                tx,
                after,
                &self.home,
                agent_id,
                found.as_ref(),
                &doc,
                history,
                &now,
                None,
                true,
            )
        })
    }

    /// Deletes record-only sessions whose last activity is more than `hours` ago (row,
    /// history and folder) and returns how many. Hosted sessions are never deleted here
    /// (`agent-sessions rm` does that), and documents whose last_updated cannot be read are
    /// kept.
    pub fn cleanup_old_sessions(&self, hours: f64) -> Result<usize> {
        if !hours.is_finite() {
            return Err(Error::InvalidArgument(
                "hours must be a finite number".into(),
            ));
        }
        let cutoff = time::now_us() - (hours * 3_600_000_000.0) as i64;
        let ids: Vec<String> = self.write(|tx, after| {
            let mut st = tx.prepare_cached(
                "DELETE FROM sessions WHERE kind = 'record' AND id IN
                    (SELECT id FROM lifecycle WHERE last_updated_us < ?1)
                 RETURNING id",
            )?;
            let ids = st
                .query_map([cutoff], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for id in &ids {
                // Ids in the store were validated when they were written.
                after.push(AfterCommit::RemoveDir(self.home.root().join(id)));
            }
            Ok(ids)
        })?;
        Ok(ids.len())
    }

    /// Summaries (agent_id, agent_name, phase, created_at, last_updated, resume_ready,
    /// error_count), most recently updated first. `active_only` keeps only the sessions whose
    /// resume_ready is true, as the reference hook library does.
    pub fn list_sessions(
        &self,
        active_only: bool,
        agent_name: Option<&str>,
    ) -> Result<Vec<SessionSummary>> {
        self.list_sessions_filtered(ListFilter::active_only(active_only), agent_name)
    }

    /// [`Self::list_sessions`] with any [`ListFilter`].
    pub fn list_sessions_filtered(
        &self,
        filter: ListFilter,
        agent_name: Option<&str>,
    ) -> Result<Vec<SessionSummary>> {
        let mut out = Vec::new();
        self.for_each_summary_filtered(filter, agent_name, |s| {
            out.push(SessionSummary {
                agent_id: s.agent_id.to_string(),
                agent_name: s.agent_name.map(str::to_string),
                phase: s.phase.map(str::to_string),
                created_at: s.created_at.map(str::to_string),
                last_updated: s.last_updated.map(str::to_string),
                resume_ready: s.resume_ready,
                error_count: s.error_count,
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Self::list_sessions`] without copying: calls `each` with every summary, borrowed from
    /// the store's row, in order. Stops at the first error `each` returns. (The Python binding
    /// builds its dicts this way.)
    pub fn for_each_summary<E: From<Error>>(
        &self,
        active_only: bool,
        agent_name: Option<&str>,
        each: impl FnMut(SummaryRef<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.for_each_summary_filtered(ListFilter::active_only(active_only), agent_name, each)
    }

    /// [`Self::for_each_summary`] with any [`ListFilter`].
    pub fn for_each_summary_filtered<E: From<Error>>(
        &self,
        filter: ListFilter,
        agent_name: Option<&str>,
        mut each: impl FnMut(SummaryRef<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let serr = self.serr();
        let conn = self.conn()?;
        let mut st = conn
            .store
            .connection()
            .prepare_cached(
                "SELECT id, agent_name, phase, created_at, last_updated, resume_ready,
                    error_count
                 FROM lifecycle INDEXED BY lifecycle_recent
                 WHERE (?1 = 0
                        OR (?1 = 1 AND resume_ready)
                        OR (?1 = 2 AND (phase IS NULL
                            OR phase NOT IN ('completed', 'failed', 'abandoned'))))
                   AND (?2 IS NULL OR agent_name = ?2)
                 ORDER BY last_updated_us DESC, id DESC",
            )
            .map_err(&serr)?;
        let mut rows = st
            .query(params![filter.code(), agent_name])
            .map_err(&serr)?;
        while let Some(r) = rows.next().map_err(&serr)? {
            let summary = (|| -> rusqlite::Result<SummaryRef<'_>> {
                Ok(SummaryRef {
                    agent_id: row_text(r, 0)?.unwrap_or_default(),
                    agent_name: row_text(r, 1)?,
                    phase: row_text(r, 2)?,
                    created_at: row_text(r, 3)?,
                    last_updated: row_text(r, 4)?,
                    resume_ready: r.get(5)?,
                    error_count: r.get(6)?,
                })
            })()
            .map_err(&serr)?;
            each(summary)?;
        }
        Ok(())
    }

    /// The most recently updated session (of `agent_name`, when given) whose metadata has every
    /// `(key, value)` of `metadata_match` (string values), optionally only unfinished ones.
    pub fn find_latest(
        &self,
        agent_name: Option<&str>,
        metadata_match: &[(&str, &str)],
        active_only: bool,
    ) -> Result<Option<String>> {
        let serr = self.serr();
        self.with_store(|store| {
            let mut st = store
                .connection()
                .prepare_cached(
                    "SELECT id, doc FROM lifecycle
                     WHERE (?1 IS NULL OR agent_name = ?1)
                       AND (?2 = 0 OR phase IS NULL
                            OR phase NOT IN ('completed', 'failed', 'abandoned'))
                     ORDER BY last_updated_us DESC, id DESC",
                )
                .map_err(&serr)?;
            let mut rows = st.query(params![agent_name, active_only]).map_err(&serr)?;
            while let Some(r) = rows.next().map_err(&serr)? {
                let id: String = r.get(0).map_err(&serr)?;
                if metadata_match.is_empty() {
                    return Ok(Some(id));
                }
                let doc: String = r.get(1).map_err(&serr)?;
                let doc = parse_doc(&doc);
                let meta = doc.get("metadata").and_then(Value::as_object);
                let matches = metadata_match.iter().all(|(k, v)| {
                    meta.and_then(|m| m.get(*k))
                        .is_some_and(|x| x.as_str() == Some(*v))
                });
                if matches {
                    return Ok(Some(id));
                }
            }
            Ok(None)
        })
    }
}

/// Why a document is not resumable, or "" when it is.
fn judge(doc: &LifecycleDoc, policy: &ResumePolicy, now_us: i64) -> String {
    if !truthy(doc.get("resume_ready")) {
        return "resume_ready is not set".into();
    }
    let phase = doc.get("phase").and_then(Value::as_str).unwrap_or("");
    if !policy.resumable_phases.iter().any(|p| p == phase) {
        return format!("phase {phase:?} is not resumable");
    }
    let Some(updated) = doc
        .get("last_updated")
        .and_then(Value::as_str)
        .and_then(time::parse_us)
    else {
        return "last_updated is missing or not a timestamp".into();
    };
    let idle_us = now_us.saturating_sub(updated);
    if idle_us >= policy.max_idle.as_micros().min(i64::MAX as u128) as i64 {
        return format!(
            "last activity {:.1} minutes ago (limit {:.1})",
            idle_us as f64 / 60e6,
            policy.max_idle.as_secs_f64() / 60.0
        );
    }
    let errors = match doc.get("error_count") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    };
    if errors >= policy.max_errors as f64 {
        return format!(
            "error_count {errors} reached the limit of {}",
            policy.max_errors
        );
    }
    String::new()
}

fn merge_metadata(doc: &mut Map<String, Value>, m: &Map<String, Value>) {
    match doc.get_mut("metadata") {
        Some(Value::Object(existing)) => {
            for (k, v) in m {
                existing.insert(k.clone(), v.clone());
            }
        }
        _ => {
            doc.insert("metadata".into(), Value::Object(m.clone()));
        }
    }
}

/// The document a hosted session gets when it is first given a phase.
fn hosted_doc(agent_id: &str, found: &Found) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("agent_id".into(), Value::String(agent_id.into()));
    doc.insert(
        "agent_name".into(),
        found
            .name
            .clone()
            .or_else(|| found.agent_type.clone())
            .map_or(Value::Null, Value::String),
    );
    doc.insert("purpose".into(), Value::Null);
    doc.insert("created_at".into(), Value::String(found.created_at.clone()));
    doc.insert(
        "last_updated".into(),
        Value::String(found.created_at.clone()),
    );
    doc.insert(
        "phase".into(),
        Value::String(
            found
                .phase
                .clone()
                .unwrap_or_else(|| INITIAL_PHASE.to_string()),
        ),
    );
    doc.insert("metadata".into(), json!({}));
    doc.insert("resume_ready".into(), Value::Bool(false));
    doc.insert("error_count".into(), json!(0));
    doc.insert("last_error".into(), Value::Null);
    doc.insert("finalized_at".into(), Value::Null);
    doc.insert("duration_seconds".into(), Value::Null);
    doc.insert("summary".into(), Value::Null);
    doc
}

fn parse_doc(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn load(tx: &Connection, id: &str) -> rusqlite::Result<Option<Found>> {
    let mut st = tx.prepare_cached(
        "SELECT s.kind, s.state, s.name, s.agent_type, s.created_at, s.phase, l.doc, s.task_id,
            l.has_history
         FROM sessions s LEFT JOIN lifecycle l ON l.id = s.id WHERE s.id = ?1",
    )?;
    let found = st
        .query_row([id], |r| {
            let kind: String = r.get(0)?;
            let state: String = r.get(1)?;
            let doc: Option<String> = r.get(6)?;
            Ok(Found {
                kind: if kind == "record" {
                    SessionKind::Record
                } else {
                    SessionKind::Hosted
                },
                state: state.parse().unwrap_or(State::Unknown),
                name: r.get(2)?,
                agent_type: r.get(3)?,
                created_at: r.get(4)?,
                phase: r.get(5)?,
                task_id: r.get(7)?,
                doc: doc.map(|d| parse_doc(&d)),
                history: r
                    .get::<_, Option<bool>>(8)?
                    .filter(|h| *h)
                    .map(|_| Vec::new()),
            })
        })
        .optional()?;
    match found {
        Some(mut f) => {
            if f.history.is_some() {
                f.history = Some(read_history(tx, id)?);
            }
            Ok(Some(f))
        }
        None => Ok(None),
    }
}

/// Reads a whole document with its history.
fn read_doc(tx: &Connection, id: &str) -> rusqlite::Result<Option<LifecycleDoc>> {
    let row: Option<(String, bool)> = tx
        .prepare_cached("SELECT doc, has_history FROM lifecycle WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((doc, has_history)) = row else {
        return Ok(None);
    };
    let mut doc = parse_doc(&doc);
    if has_history && !doc.contains_key("history") {
        doc.insert("history".into(), Value::Array(read_history(tx, id)?));
    }
    Ok(Some(LifecycleDoc::from_map(doc)))
}

fn read_history(tx: &Connection, id: &str) -> rusqlite::Result<Vec<Value>> {
    let mut st = tx.prepare_cached(
        "SELECT from_phase, to_phase, timestamp, raw FROM lifecycle_history
         WHERE session_id = ?1 ORDER BY seq",
    )?;
    let rows = st.query_map([id], |r| {
        let raw: Option<String> = r.get(3)?;
        if let Some(raw) = raw {
            return Ok(serde_json::from_str(&raw).unwrap_or(Value::String(raw)));
        }
        let opt = |s: Option<String>| s.map_or(Value::Null, Value::String);
        let mut m = Map::new();
        m.insert("from_phase".into(), opt(r.get(0)?));
        m.insert("to_phase".into(), opt(r.get(1)?));
        m.insert("timestamp".into(), opt(r.get(2)?));
        Ok(Value::Object(m))
    })?;
    rows.collect()
}

/// A standard `{from_phase, to_phase, timestamp}` entry as columns, or `None` when the entry
/// has any other shape and must be kept raw.
fn entry_columns(v: &Value) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let m = v.as_object()?;
    if m.len() != 3 {
        return None;
    }
    let col = |k: &str| match m.get(k)? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    };
    Some((col("from_phase")?, col("to_phase")?, col("timestamp")?))
}

/// Writes `doc` (no `history` key unless it is a raw non-list value) and its history change,
/// keeps the `sessions` row in step, and mirrors the result into `state.json`.
#[allow(clippy::too_many_arguments)]
fn persist(
    tx: &Connection,
    after: &mut Vec<AfterCommit>,
    home: &Home,
    id: &str,
    found: Option<&Found>,
    doc: &Map<String, Value>,
    history: HistoryChange,
    now: &str,
    // The exact time behind `now` when this write set last_updated to it (orders writes
    // within one millisecond); `None` when last_updated is as given.
    updated_us: Option<i64>,
    new_folder: bool,
) -> rusqlite::Result<()> {
    // The sessions row first: the lifecycle row references it.
    sync_session_row(tx, after, id, found, doc, now)?;
    let phase = str_field(doc, "phase");
    let last_updated = str_field(doc, "last_updated");
    let doc_text = serde_json::to_string(doc).expect("JSON values serialize");
    // Whether the document has a history list: not when it was saved without one, until an
    // append gives it one; unchanged by other writes.
    let has_history: Option<bool> = match &history {
        HistoryChange::Keep => None,
        HistoryChange::Append(..) => Some(true),
        HistoryChange::Replace(entries) => Some(entries.is_some()),
    };
    tx.prepare_cached(
        "INSERT INTO lifecycle (id, doc, agent_name, phase, created_at, last_updated,
            last_updated_us, resume_ready, error_count, has_history)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, COALESCE(?10, 1))
         ON CONFLICT(id) DO UPDATE SET doc = ?2, agent_name = ?3, phase = ?4, created_at = ?5,
            last_updated = ?6, last_updated_us = ?7, resume_ready = ?8, error_count = ?9,
            has_history = COALESCE(?10, has_history)",
    )?
    .execute(params![
        id,
        doc_text,
        str_field(doc, "agent_name"),
        phase,
        str_field(doc, "created_at"),
        last_updated,
        updated_us.or_else(|| last_updated.and_then(time::parse_us)),
        truthy(doc.get("resume_ready")),
        int_field(doc, "error_count"),
        has_history,
    ])?;

    match &history {
        HistoryChange::Keep => {}
        HistoryChange::Append(from, to, at) => {
            tx.prepare_cached(
                "INSERT INTO lifecycle_history (session_id, seq, from_phase, to_phase, timestamp)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM lifecycle_history
                              WHERE session_id = ?1), ?2, ?3, ?4)",
            )?
            .execute(params![id, from, to, at])?;
            crate::store::events::insert(
                tx,
                id,
                "lifecycle",
                crate::api::manager::events::kind::PHASE,
                &serde_json::json!({"from": from, "to": to}),
            )?;
        }
        HistoryChange::Replace(entries) => {
            if found.is_some_and(|f| f.doc.is_some()) {
                tx.prepare_cached("DELETE FROM lifecycle_history WHERE session_id = ?1")?
                    .execute([id])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO lifecycle_history (session_id, seq, from_phase, to_phase, timestamp,
                    raw) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, e) in entries.iter().flatten().enumerate() {
                let seq = i as i64 + 1;
                match entry_columns(e) {
                    Some((f, t, ts)) => ins.execute(params![id, seq, f, t, ts, None::<String>])?,
                    None => ins.execute(params![
                        id,
                        seq,
                        None::<String>,
                        None::<String>,
                        None::<String>,
                        e.to_string()
                    ])?,
                };
            }
        }
    }

    // The document as the file shows it: history from what was read before the writes.
    let history = match history {
        HistoryChange::Keep => match found {
            Some(f) if f.doc.is_some() => f.history.clone(),
            // A document made just now (hosted session) starts with an empty history.
            _ => Some(Vec::new()),
        },
        HistoryChange::Append(from, to, at) => {
            let mut h = found.and_then(|f| f.history.clone()).unwrap_or_default();
            let mut e = Map::new();
            e.insert("from_phase".into(), from.map_or(Value::Null, Value::String));
            e.insert("to_phase".into(), Value::String(to));
            e.insert("timestamp".into(), Value::String(at));
            h.push(Value::Object(e));
            Some(h)
        }
        HistoryChange::Replace(entries) => entries,
    };
    write_state_file(after, home, id, doc, history, new_folder)
}

/// Creates or updates the `sessions` row: record sessions follow their phase (through the
/// state machine, like every state change); hosted ones only get the phase.
fn sync_session_row(
    tx: &Connection,
    after: &mut Vec<AfterCommit>,
    id: &str,
    found: Option<&Found>,
    doc: &Map<String, Value>,
    now: &str,
) -> rusqlite::Result<()> {
    let phase = str_field(doc, "phase");
    let state = phase_state(phase);
    let name = str_field(doc, "agent_name");
    let task_id = doc
        .get("metadata")
        .and_then(|m| m.get("task_id"))
        .and_then(Value::as_str);
    let reason = phase.map(|p| format!("phase {p}"));
    let ended_at = state.is_ended().then_some(now);
    match found {
        None => {
            let created = str_field(doc, "created_at")
                .and_then(time::parse_us)
                .map_or_else(|| now.to_string(), time::format_us);
            let new = NewSession {
                id: id.to_string(),
                kind: SessionKind::Record,
                agent_type: None,
                name: name.map(str::to_string),
                task_id: task_id.map(str::to_string),
                state,
                cause: "lifecycle record created".into(),
                reason: reason.clone(),
                phase: phase.map(str::to_string),
                created_at: Some(created),
                workspace_path: None,
                command: Vec::new(),
                env_keys: Vec::new(),
                cols: crate::config::defaults::DEFAULT_COLS,
                rows: crate::config::defaults::DEFAULT_ROWS,
                idle_after_secs: crate::config::defaults::DEFAULT_IDLE_AFTER.as_secs_f64(),
            };
            match state_machine::insert_in(tx, &new, Source::Phase, &Updates::new())? {
                Ok(committed) => after.push(AfterCommit::Fire(committed)),
                Err(illegal) => return Err(refused(format!("{illegal:?}"))),
            }
        }
        Some(f)
            if f.kind == SessionKind::Record
                && (f.state != state
                    || f.phase.as_deref() != phase
                    || f.name.as_deref() != name
                    || f.task_id.as_deref() != task_id) =>
        {
            let cause = reason.clone().unwrap_or_else(|| "phase cleared".into());
            let change = Change {
                session_id: id,
                to: state,
                source: Source::Phase,
                cause: &cause,
                reason: reason.as_deref(),
                only_from: None,
                updates: vec![
                    (Column::Name, store::opt_text(name)),
                    (Column::TaskId, store::opt_text(task_id)),
                    (Column::Phase, store::opt_text(phase)),
                    (Column::EndedAt, store::opt_text(ended_at)),
                ],
            };
            match state_machine::commit_in(tx, &change)? {
                Some(Outcome::Moved(committed)) => after.push(AfterCommit::Fire(committed)),
                Some(Outcome::Same) => {}
                Some(Outcome::Refused(stored)) => {
                    return Err(refused(format!(
                        "record {id} is {stored}; the state machine refused {state}"
                    )))
                }
                None => return Err(rusqlite::Error::QueryReturnedNoRows),
            }
        }
        // A record whose row already says all this: leave the row (and its indexes) alone.
        Some(f) if f.kind == SessionKind::Record => {}
        Some(f) => {
            if f.phase.as_deref() != phase {
                tx.prepare_cached("UPDATE sessions SET phase = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, phase, now])?;
            }
        }
    }
    Ok(())
}

/// A state change the state machine refused, carried out of the transaction as an error (it
/// cannot happen for phases, which map onto states every record may take).
fn refused(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        Some(message),
    )
}

/// Mirrors the document into `<home>/<id>/state.json`: writes a temporary file now (so a
/// full disk aborts the transaction) and queues its rename for after the commit.
fn write_state_file(
    after: &mut Vec<AfterCommit>,
    home: &Home,
    id: &str,
    doc: &Map<String, Value>,
    history: Option<Vec<Value>>,
    new_folder: bool,
) -> rusqlite::Result<()> {
    let dir = home.root().join(id); // `id` was validated by every caller.
    let mut full = doc.clone();
    if let Some(h) = history {
        if !full.contains_key("history") {
            full.insert("history".into(), Value::Array(h));
        }
    }
    let bytes = LifecycleDoc::from_map(full).to_json_pretty();
    let write = |dir: &Path| mirror::write_tmp(&dir.join(STATE_TMP), &bytes);
    let mkdir = |dir: &Path| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    };
    if new_folder {
        mkdir(&dir).map_err(|e| tunnel(format!("creating {}", dir.display()), e))?;
    }
    match write(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !new_folder => {
            // The folder was removed behind our back: make it again.
            mkdir(&dir).map_err(|e| tunnel(format!("creating {}", dir.display()), e))?;
            write(&dir)
        }
        other => other,
    }
    .map_err(|e| tunnel(format!("writing {}", dir.join(STATE_TMP).display()), e))?;
    after.push(AfterCommit::Rename(
        dir.join(STATE_TMP),
        dir.join(STATE_FILE),
    ));
    Ok(())
}

fn tunnel(context: String, source: std::io::Error) -> rusqlite::Error {
    crate::store::io_in_tx(context, source)
}
