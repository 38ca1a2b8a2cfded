//! Answering the dialog a waiting session waits on: `approve` and `deny`.
//!
//! Auto-answers in other managers have misfired: keys pressed on the wrong dialog, or on no
//! dialog at all. Here a key is sent only after the dialog is checked on the screen as it is
//! now: the session must wait on a permission (its `pending` request), the dialog's options
//! must still be on screen, and for approve its first option must read as a yes (the four
//! built-in agents all put "Yes" or "Allow" first and select it). Approve presses Enter on
//! that option; deny presses Esc, which each of them takes as "no" ("No, and tell ... (esc)").
//! The call returns once the dialog is gone from the screen. Answering through an agent's
//! own decision channel (a PermissionRequest hook's decision) is the next step; see
//! docs/research/agent-signals.md.

use super::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::pending::PendingRequest;
use crate::model::record::SessionRecord;
use std::time::{Duration, Instant};

/// How long approve and deny wait for the dialog to close by default.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

impl SessionManager {
    /// Approves the permission dialog the session waits on: Enter on its first option, once
    /// the dialog is checked on screen; returns the record once the dialog is gone.
    pub fn approve(&self, session_id: &str, timeout: Option<Duration>) -> Result<SessionRecord> {
        self.answer(session_id, "approve", "Enter", timeout, |p| {
            let first = p.options.first().map(String::as_str).unwrap_or("");
            let yes = ["yes", "allow", "approve", "proceed"]
                .iter()
                .any(|w| first.to_ascii_lowercase().starts_with(w));
            if yes {
                Ok(())
            } else {
                Err(format!(
                    "its first option is {first:?}, not a yes; answer it with `agent-sessions send {session_id} --keys ...`"
                ))
            }
        })
    }

    /// Denies the permission dialog the session waits on: Esc, once the dialog is checked
    /// on screen; returns the record once the dialog is gone.
    pub fn deny(&self, session_id: &str, timeout: Option<Duration>) -> Result<SessionRecord> {
        self.answer(session_id, "deny", "Esc", timeout, |_| Ok(()))
    }

    fn answer(
        &self,
        session_id: &str,
        verb: &str,
        key: &str,
        timeout: Option<Duration>,
        check: impl Fn(&PendingRequest) -> std::result::Result<(), String>,
    ) -> Result<SessionRecord> {
        let refuse = |why: String| {
            Error::InvalidArgument(format!("cannot {verb} session {session_id}: {why}"))
        };
        let rec = self.get(session_id)?;
        let pending = rec
            .pending
            .filter(|p| p.kind == "permission")
            .ok_or_else(|| {
                refuse(format!(
                    "it waits on no permission dialog (it is {}); see `agent-sessions pending {session_id}`",
                    rec.state
                ))
            })?;
        check(&pending).map_err(refuse)?;
        let Some(first) = pending.options.first().cloned() else {
            return Err(refuse(
                "its dialog's options are not on screen; answer it with `agent-sessions send --keys`".into(),
            ));
        };
        if !self.screen(session_id)?.text.contains(&first) {
            return Err(refuse("its dialog is no longer on screen".into()));
        }
        self.send_keys(session_id, &[key])?;
        let deadline = Instant::now() + timeout.unwrap_or(DEFAULT_ANSWER_TIMEOUT);
        loop {
            let rec = self.get(session_id)?;
            if !rec.state.is_live() || !self.screen(session_id)?.text.contains(&first) {
                return Ok(rec);
            }
            if Instant::now() >= deadline {
                return Err(Error::Host {
                    id: session_id.to_string(),
                    reason: format!(
                        "the dialog is still on screen after the {verb} key; look at `agent-sessions screen {session_id}`"
                    ),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}
