//! Reading sessions: records with their state checked against reality, lists, screens.

use super::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::id;
use crate::model::protocol::{ScreenReply, Tag};
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::launcher;
use crate::services::state_machine::{self, Change};
use crate::store::ListFilter;
use std::path::PathBuf;

impl SessionManager {
    /// A session's record, with its state checked against reality: a live-looking session
    /// whose host is gone reads as unknown.
    pub fn get(&self, session_id: &str) -> Result<SessionRecord> {
        id::validate(session_id)?;
        let rec = self
            .store
            .get()?
            .get(session_id)?
            .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
        let rec = self.checked(rec)?;
        self.with_telemetry(with_worktree_status(rec))
    }

    /// Adds the stored telemetry summary (a store read; agents' files are not touched).
    pub(crate) fn with_telemetry(&self, rec: SessionRecord) -> Result<SessionRecord> {
        self.with_telemetry_cached(rec, &mut crate::api::manager::resume::SpecCache::default())
    }

    /// [`Self::with_telemetry`] with agent types looked up once per list.
    pub(crate) fn with_telemetry_cached(
        &self,
        mut rec: SessionRecord,
        specs: &mut crate::api::manager::resume::SpecCache,
    ) -> Result<SessionRecord> {
        rec.telemetry = Some(crate::services::telemetry::telemetry_for(
            &*self.store.get()?,
            &rec,
        )?);
        rec.resumable = self.resume_blocker_cached(&rec, specs).is_none();
        Ok(rec)
    }

    /// What a waiting session waits on: its dialog's kind, the tool and input the agent
    /// reported, the options on screen. `None` at the prompt and when not waiting.
    pub fn pending(
        &self,
        session_id: &str,
    ) -> Result<Option<crate::model::pending::PendingRequest>> {
        Ok(self.get(session_id)?.pending)
    }

    /// Just the (checked) state.
    pub fn state(&self, session_id: &str) -> Result<State> {
        id::validate(session_id)?;
        let state = self
            .store
            .get()?
            .state(session_id)?
            .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
        if state.is_ended() {
            return Ok(state);
        }
        Ok(self.get(session_id)?.state)
    }

    pub(crate) fn checked(&self, rec: SessionRecord) -> Result<SessionRecord> {
        if rec.kind != SessionKind::Hosted
            || rec.state.is_ended()
            || launcher::host_alive(&self.home, &rec.session_id)?
        {
            return Ok(rec);
        }
        let id = rec.session_id.clone();
        // Compare-and-set: if the host recorded an ending meanwhile, that ending wins.
        let written = state_machine::apply(
            &*self.store.get()?,
            &Change::new(
                &id,
                State::Unknown,
                Source::Liveness,
                "session host vanished without recording an ending",
            )
            .reason(Some("host vanished"))
            .only_from(&[rec.state]),
        );
        let now = self
            .store
            .get()?
            .get(&id)?
            .ok_or_else(|| Error::SessionNotFound(id.clone()))?;
        Ok(match written {
            // The correction could not be stored (a full disk, a read-only store): a read
            // must not fail for that, and must not show a dead session as live. (A state
            // that changed meanwhile was written by someone alive: it stands.)
            Err(_) if now.state == rec.state => vanished(now),
            _ => now,
        })
    }

    /// Sessions matching `filter`, newest first, each state checked.
    /// A task id no session carries is an error ([`Error::TaskNotFound`]), so a mistyped id
    /// is not mistaken for a task with no sessions.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<SessionRecord>> {
        if let Some(task) = &filter.task_id {
            crate::api::manager::tasks::validate_task_id(task)?;
        }
        // One snapshot of rows, transitions and telemetry (three statements), then one
        // liveness probe per live-looking session: no per-session SQL unless a host is
        // found gone.
        let (recs, mut telemetry) = self.store.get()?.list_with_telemetry(filter)?;
        if recs.is_empty() {
            if let Some(task) = &filter.task_id {
                if !self.store.get()?.task_exists(task)? {
                    return Err(Error::TaskNotFound(task.clone()));
                }
            }
        }
        let mut out = Vec::with_capacity(recs.len());
        let mut specs = crate::api::manager::resume::SpecCache::default();
        for rec in recs {
            let mut rec = self.checked(rec)?;
            // A liveness check may have moved it out of the requested state.
            if filter.state.is_none_or(|s| s == rec.state) {
                let row = telemetry.remove(&rec.session_id);
                rec.telemetry = Some(crate::services::telemetry::telemetry_joined(&rec, row));
                rec.resumable = self.resume_blocker_cached(&rec, &mut specs).is_none();
                out.push(with_worktree_status(rec));
            }
        }
        Ok(out)
    }

    /// The screen as a person would see it: live from the host, or the last screen of an
    /// ended session.
    pub fn screen(&self, session_id: &str) -> Result<ScreenReply> {
        let rec = self.get(session_id)?;
        if rec.state.is_live() {
            if let Ok(reply) = self.request(session_id, Tag::Screen, b"") {
                if let Some(screen) = reply.get("screen") {
                    return serde_json::from_value(screen.clone())
                        .map_err(|e| Error::Protocol(e.to_string()));
                }
            }
        }
        let dir = self.home.session_dir(session_id)?;
        if let Ok(text) = std::fs::read_to_string(dir.join("screen.txt")) {
            return Ok(ScreenReply {
                text,
                cols: rec.cols,
                rows: rec.rows,
                cursor_row: 0,
                cursor_col: 0,
            });
        }
        // The host died before saving a screen: rebuild it from the log's tail.
        let (bytes, _) = self.output_tail(session_id, 4 << 20)?;
        Ok(crate::host::render_stream(&bytes, rec.rows, rec.cols))
    }

    /// Socket path of a session's host, for attach clients.
    pub fn socket_path(&self, session_id: &str) -> Result<PathBuf> {
        self.home.socket_path(session_id)
    }
}

/// Reads what the session's worktree holds now from git (a few git calls, only for
/// sessions that have one); left out when git cannot say.
fn with_worktree_status(mut rec: SessionRecord) -> SessionRecord {
    if let Some(wt) = &mut rec.worktree {
        wt.status = crate::services::worktree::status(wt).ok();
    }
    rec
}

/// `rec` as the liveness check would have stored it: its host is gone, so it reads as
/// unknown.
fn vanished(mut rec: SessionRecord) -> SessionRecord {
    rec.state = State::Unknown;
    rec.state_reason = Some("host vanished".into());
    rec.state_source = Some(Source::Liveness.as_str().into());
    rec
}
