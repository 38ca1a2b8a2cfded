//! Retention: removing old ended sessions and their files (`agent-sessions cleanup`).
//! Output logs are capped per session by the host (see `host::reader::OutputLog`).
//!
//! Safety rules:
//! - only sessions whose state has ended (stopped, failed, unknown by default; suspended
//!   only when asked for) are candidates, and each row is deleted with a compare-and-set on
//!   its state, so a session resumed meanwhile stays;
//! - a folder is removed only after its row was deleted, and only folders of rows: a
//!   session that is just starting (folder and lock created, row not yet written) is never
//!   touched;
//! - a live-looking session is first checked against its host's lock, so a dead one can be
//!   cleaned, but a running one never is.

use crate::api::manager::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::record::SessionKind;
use crate::model::state::State;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// Rows deleted per transaction: big enough to be fast, small enough that other writers
/// (hosts recording states) never wait long.
const BATCH: usize = 500;

/// What to clean.
#[derive(Debug, Clone)]
pub struct CleanupOptions {
    /// Sessions that ended (or, without an end time, were last updated) longer ago than
    /// this.
    pub older_than: Duration,
    /// Only these states; empty means stopped, failed and unknown. Only ended states are
    /// accepted.
    pub states: Vec<State>,
    /// Remove the records but leave the output logs (`output.log*`, `screen.txt`) on disk.
    pub keep_logs: bool,
    /// Report what would be removed, remove nothing.
    pub dry_run: bool,
    /// Also delete git worktrees that hold uncommitted changes or commits no other branch
    /// has (without it such sessions are kept, and listed in `kept`).
    pub force: bool,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        CleanupOptions {
            older_than: Duration::from_secs(7 * 86_400),
            states: Vec::new(),
            keep_logs: false,
            dry_run: false,
            force: false,
        }
    }
}

/// One removed (or, in a dry run, removable) session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanedSession {
    /// The session's id.
    pub session_id: String,
    /// The ended state it was removed in.
    pub state: State,
    /// When it ended, ISO 8601 UTC; `null` when no end was recorded (e.g. `unknown`).
    pub ended_at: Option<String>,
    /// Bytes of its folder that were (or would be) freed.
    pub bytes: u64,
}

/// What a cleanup did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupReport {
    /// True when nothing was removed, only reported.
    pub dry_run: bool,
    /// The sessions removed (or, in a dry run, removable).
    pub sessions: Vec<CleanedSession>,
    /// Total of `sessions[].bytes`.
    pub bytes_freed: u64,
    /// Candidates that changed state while cleaning (resumed, say) and were kept.
    pub skipped: u64,
    /// Candidates kept because their git worktree holds work (see `force`), with why.
    #[serde(default)]
    pub kept: Vec<KeptSession>,
}

/// A session `cleanup` kept, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptSession {
    /// The session's id.
    pub session_id: String,
    /// Why, for a person: what its worktree holds and what to do about it.
    pub reason: String,
}

impl CleanupReport {
    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a cleanup report always serializes")
    }
}

/// Parses durations such as `30s`, `15m`, `12h`, `7d`, `2w` (a bare number is seconds); see
/// [`crate::model::duration::parse`].
pub use crate::model::duration::parse as parse_duration;

impl SessionManager {
    /// Deletes an ended session's record and files, and its git worktree (with the branch
    /// made for it) when that holds nothing that would be lost; see [`Self::remove_with`].
    pub fn remove(&self, session_id: &str) -> Result<()> {
        self.remove_with(session_id, false)
    }

    /// [`Self::remove`]; `force` also deletes a worktree with uncommitted changes or commits
    /// no other branch has (without it such a session is kept, and the error says why).
    pub fn remove_with(&self, session_id: &str, force: bool) -> Result<()> {
        let rec = self.get(session_id)?;
        if !rec.state.is_ended() {
            return Err(Error::SessionActive {
                id: rec.session_id,
                state: rec.state,
            });
        }
        let dir = self.home.session_dir(session_id)?;
        // The session lock first: a resume takes it before it moves the session and holds it
        // until its host runs, so the two never interleave (and no resume can be writing into
        // the folder while it is removed). An ended session's host may still hold it for a
        // moment while it finishes (replies, final figures): wait for it, a little.
        let _lock = self.lock_ended(session_id, rec.state)?;
        // The worktree before the row: a refusal keeps everything, and a worktree is never
        // left without the record that names it.
        if let Some(wt) = &rec.worktree {
            crate::services::worktree::remove(wt, force).map_err(|e| match e {
                Error::InvalidArgument(why) => {
                    Error::InvalidArgument(format!("session {session_id} was kept: {why}"))
                }
                other => other,
            })?;
        }
        // Compare-and-set on the state just read: a resume that moved the session meanwhile
        // keeps it, with its folder.
        if !self.store.get()?.delete_if(session_id, rec.state)? {
            let now = self.get(session_id)?;
            return Err(Error::SessionActive {
                id: now.session_id,
                state: now.state,
            });
        }
        // The folder only after its row: never a row without its files.
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
        }
    }

    /// The session lock of a session read as `ended`: waits (up to 10 s) while its finishing
    /// host still holds it, and gives up at once when the session is no longer in that state
    /// (a resume has started it again).
    fn lock_ended(&self, session_id: &str, ended: State) -> Result<std::fs::File> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut pause = std::time::Duration::from_millis(1);
        loop {
            match crate::services::launcher::lock_new_session(&self.home, session_id) {
                Ok(lock) => return Ok(lock),
                Err(Error::Host { .. }) => {
                    let now = self.get(session_id)?;
                    if now.state != ended || std::time::Instant::now() >= deadline {
                        return Err(Error::SessionActive {
                            id: now.session_id,
                            state: now.state,
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes ended sessions older than `opts.older_than`, with their files; reports what
    /// was freed. A running session is never removed.
    pub fn cleanup(&self, opts: &CleanupOptions) -> Result<CleanupReport> {
        let states = if opts.states.is_empty() {
            vec![State::Stopped, State::Failed, State::Unknown]
        } else {
            opts.states.clone()
        };
        if let Some(s) = states.iter().find(|s| !s.is_ended()) {
            return Err(Error::InvalidArgument(format!(
                "cleanup removes only ended sessions (stopped, failed, unknown, suspended), never {s} ones"
            )));
        }
        // Times are kept to the millisecond: a session that ended in the same millisecond as
        // the cutoff counts as old enough (`<=`), so `older_than 0` takes every ended one
        // even right after it ended.
        let cutoff = crate::model::clock::to_iso(
            chrono::Utc::now()
                - chrono::Duration::from_std(opts.older_than).map_err(|_| {
                    Error::InvalidArgument(format!(
                        "older_than must be at most {:.0} seconds",
                        crate::model::duration::MAX_SECS
                    ))
                })?,
        );
        self.settle_dead_hosts(&cutoff)?;
        let (candidates, with_worktrees) = self.candidates(&states, &cutoff)?;
        let mut report = CleanupReport {
            dry_run: opts.dry_run,
            sessions: Vec::new(),
            bytes_freed: 0,
            skipped: 0,
            kept: Vec::new(),
        };
        self.clean_worktree_sessions(with_worktrees, opts, &mut report)?;
        for chunk in candidates.chunks(BATCH) {
            let deleted: Vec<bool> = if opts.dry_run {
                vec![true; chunk.len()]
            } else {
                self.with_store(|store| {
                    store.write(|tx| {
                        let mut del =
                            tx.prepare_cached("DELETE FROM sessions WHERE id = ?1 AND state = ?2")?;
                        chunk
                            .iter()
                            .map(|(id, state, _)| del.execute([id, state]).map(|n| n > 0))
                            .collect()
                    })
                })?
            };
            for ((id, state, ended_at), gone) in chunk.iter().zip(deleted) {
                if !gone {
                    report.skipped += 1;
                    continue;
                }
                let dir = self.home.session_dir(id)?;
                let bytes = if opts.dry_run {
                    folder_bytes(&dir, opts.keep_logs)
                } else {
                    remove_folder(&dir, opts.keep_logs)?
                };
                report.bytes_freed += bytes;
                report.sessions.push(CleanedSession {
                    session_id: id.clone(),
                    state: state.parse().unwrap_or(State::Unknown),
                    ended_at: ended_at.clone(),
                    bytes,
                });
            }
        }
        if !opts.dry_run && !report.sessions.is_empty() {
            // The all-sessions feed's rows of the deleted events (readers skip them anyway).
            self.with_store(|store| store.purge_feed())?;
        }
        Ok(report)
    }

    /// Ended sessions in `states` older than `cutoff`, oldest first: those without a
    /// worktree (id, state, ended_at), and the ids of those with one.
    #[allow(clippy::type_complexity)]
    fn candidates(
        &self,
        states: &[State],
        cutoff: &str,
    ) -> Result<(Vec<(String, String, Option<String>)>, Vec<String>)> {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let rows: Vec<(String, String, Option<String>, bool)> = self.with_store(|store| {
            let mut st = store
                .connection()
                .prepare(
                    "SELECT id, state, ended_at, worktree IS NOT NULL FROM sessions
                     WHERE state IN (SELECT value FROM json_each(?1))
                       AND COALESCE(ended_at, updated_at) <= ?2
                     ORDER BY created_at",
                )
                .map_err(|e| store.err(e))?;
            let names_json = serde_json::to_string(&names).expect("strings serialize");
            let rows = st
                .query_map(rusqlite::params![names_json, cutoff], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(|e| store.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| store.err(e))
        })?;
        let (worktrees, plain): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.3);
        Ok((
            plain.into_iter().map(|(i, s, e, _)| (i, s, e)).collect(),
            worktrees.into_iter().map(|r| r.0).collect(),
        ))
    }

    /// Sessions with a worktree go one by one through [`Self::remove_with`], which keeps
    /// (and says why) those whose worktree holds work, unless `opts.force`.
    fn clean_worktree_sessions(
        &self,
        ids: Vec<String>,
        opts: &CleanupOptions,
        report: &mut CleanupReport,
    ) -> Result<()> {
        for id in ids {
            let rec = match self.get(&id) {
                Ok(rec) => rec,
                Err(Error::SessionNotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let why = rec
                .worktree
                .as_ref()
                .and_then(|wt| wt.status.as_ref())
                .and_then(|s| s.keep_reason());
            if let (Some(why), false) = (&why, opts.force) {
                report.kept.push(KeptSession {
                    session_id: id,
                    reason: format!(
                        "its worktree {} has {why}; commit and merge or push them, or clean \
                         with --force",
                        rec.worktree.as_ref().map_or("", |w| w.path.as_str())
                    ),
                });
                continue;
            }
            let dir = self.home.session_dir(&id)?;
            let bytes = folder_bytes(&dir, false);
            if !opts.dry_run {
                match self.remove_with(&id, opts.force) {
                    Ok(()) => {}
                    Err(Error::SessionActive { .. }) => {
                        report.skipped += 1;
                        continue;
                    }
                    Err(Error::InvalidArgument(reason)) => {
                        report.kept.push(KeptSession {
                            session_id: id,
                            reason,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            report.bytes_freed += bytes;
            report.sessions.push(CleanedSession {
                session_id: id,
                state: rec.state,
                ended_at: rec.ended_at,
                bytes,
            });
        }
        Ok(())
    }

    /// Old sessions that still read as live are checked against their host's lock, so one
    /// whose host died becomes unknown (and so cleanable); a running one is left alone.
    fn settle_dead_hosts(&self, cutoff: &str) -> Result<()> {
        let ids: Vec<String> = self.with_store(|store| {
            let mut st = store
                .connection()
                .prepare(
                    "SELECT id FROM sessions
                     WHERE state IN ('starting', 'running', 'waiting_input', 'stopping', 'paused')
                       AND kind = ?1 AND updated_at <= ?2",
                )
                .map_err(|e| store.err(e))?;
            let rows = st
                .query_map([SessionKind::Hosted.as_str(), cutoff], |r| r.get(0))
                .map_err(|e| store.err(e))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| store.err(e))
        })?;
        for id in ids {
            self.state(&id)?;
        }
        Ok(())
    }
}

fn is_log(name: &str) -> bool {
    name.starts_with("output.log") || name == "screen.txt"
}

/// Bytes a removal of `dir` would free.
fn folder_bytes(dir: &Path, keep_logs: bool) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| !(keep_logs && is_log(&e.file_name().to_string_lossy())))
        .filter_map(|e| e.metadata().ok())
        .map(|m| if m.is_dir() { 0 } else { m.len() })
        .sum()
}

/// Removes a session folder (all of it, or all but its logs); returns the bytes freed. One
/// pass over the folder: each entry is measured and removed, then the folder itself.
fn remove_folder(dir: &Path, keep_logs: bool) -> Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    let gone = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    let mut bytes = 0;
    let result = (|| -> std::io::Result<()> {
        for e in entries.flatten() {
            if keep_logs && is_log(&e.file_name().to_string_lossy()) {
                continue;
            }
            let meta = e.metadata();
            if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                gone(std::fs::remove_dir_all(e.path()))?;
            } else {
                bytes += meta.map_or(0, |m| m.len());
                gone(std::fs::remove_file(e.path()))?;
            }
        }
        if !keep_logs {
            gone(std::fs::remove_dir(dir))?;
        }
        Ok(())
    })();
    result
        .map(|()| bytes)
        .map_err(|e| Error::io(format!("removing {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("3y").is_err());
    }
}
