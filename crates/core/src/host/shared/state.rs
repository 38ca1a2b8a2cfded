//! The host's side of the state machine: the state it last recorded, how it asks the store
//! for a change, and what it does when the store refuses or fails.
//!
//! The store is the truth. A change the store refused (the table or another writer said no)
//! leaves the host following the stored state. A change the store could not write (disk
//! full, busy past the timeout) is still what the host saw, so the host keeps it in memory
//! and retries the write until it lands (see [`Shared::retry_pending`]); the state history
//! then shows it late rather than never.

use super::Shared;
use crate::model::state::{Source, State};
use crate::services::state_machine::{self, Change, Outcome};
use crate::store::{self, Column, Updates};
use std::sync::atomic::Ordering;

/// The state as the host last recorded it.
pub(super) struct Current {
    pub(super) state: State,
    pub(super) reason: Option<String>,
    pub(super) source: Source,
}

/// A change still to be written.
pub(super) struct Pending {
    to: State,
    reason: Option<String>,
    cause: String,
    source: Source,
    updates: Updates,
}

impl Shared {
    /// Records a transition if the current state is one of `from` (any non-ended state when
    /// `from` is empty), clearing the state reason unless `updates` sets one. Returns whether
    /// it happened.
    pub fn set_state(
        &self,
        from: &[State],
        to: State,
        cause: &str,
        source: Source,
        updates: Updates,
    ) -> bool {
        self.set_state_with(from, to, None, cause, source, updates)
    }

    /// [`Shared::set_state`] with a state reason (the waiting reason). When the state is
    /// already `to` but the reason differs (waiting for a prompt, now for a permission), the
    /// reason and source are updated without a history entry. Returns whether the state
    /// changed.
    pub fn set_state_with(
        &self,
        from: &[State],
        to: State,
        reason: Option<&str>,
        cause: &str,
        source: Source,
        mut updates: Updates,
    ) -> bool {
        let mut current = self.state.lock();
        let allowed = if from.is_empty() {
            !current.state.is_ended()
        } else {
            from.contains(&current.state)
        };
        if !allowed {
            return false;
        }
        if current.state == to && (reason.is_none() || current.reason.as_deref() == reason) {
            return false;
        }
        let request = self.pending_request(to, reason, source);
        updates.push((
            Column::Pending,
            match &request {
                Some(r) => store::text(serde_json::to_string(r).expect("a request serializes")),
                None => rusqlite::types::Value::Null,
            },
        ));
        if current.state != to {
            if let Some(t) = self.last_output_at.lock().clone() {
                updates.push((Column::LastOutputAt, store::text(t)));
            }
            if let Some(t) = self.last_input_at.lock().clone() {
                updates.push((Column::LastInputAt, store::text(t)));
            }
        }
        let change = Change {
            session_id: self.id(),
            to,
            source,
            cause,
            reason,
            // What the host saw is compared with what the store holds: it must agree on the
            // state the host is moving from.
            only_from: Some(std::slice::from_ref(&current.state)),
            updates,
        };
        let written = self
            .store
            .lock()
            .write(|tx| state_machine::commit_in(tx, &change));
        let moved = match written {
            Ok(Some(Outcome::Moved(committed))) => Some(committed),
            Ok(Some(Outcome::Same)) => {
                current.reason = reason.map(str::to_string);
                current.source = source;
                drop(current);
                self.record_pending(request.as_ref(), source);
                return false;
            }
            Ok(Some(Outcome::Refused(stored))) => {
                // Another writer got there first (a stop, the lifecycle): follow the store.
                eprintln!("agent-sessions host: {to} by {source} refused, the session is {stored}");
                if stored != current.state {
                    *current = Current {
                        state: stored,
                        reason: None,
                        source,
                    };
                }
                return false;
            }
            Ok(None) => {
                eprintln!("agent-sessions host: the session's record is gone; {to} not recorded");
                return false;
            }
            Err(e) => {
                eprintln!("agent-sessions host: recording {to}: {e}; will retry");
                *self.pending.lock() = Some(Pending {
                    to,
                    reason: reason.map(str::to_string),
                    cause: format!("{cause} (recorded late: {e})"),
                    source,
                    updates: change.updates.clone(),
                });
                None
            }
        };
        *current = Current {
            state: to,
            reason: reason.map(str::to_string),
            source,
        };
        drop(current);
        self.record_pending(request.as_ref(), source);
        if let Some(c) = moved {
            // A newer change supersedes one still waiting to be written.
            self.pending.lock().take();
            state_machine::after_commit(&self.home_root(), &c);
        }
        self.wake_timer();
        if to == State::WaitingInput {
            self.waited_once.store(true, Ordering::Release);
            // A turn ended: its spending goes into the session's usage series.
            crate::host::budget::turn_ended();
        }
        if to == State::WaitingInput && self.turn_open.swap(false, Ordering::AcqRel) {
            self.record_reply();
        }
        true
    }

    /// A move between running and waiting_input that the agent reported itself (its hook or
    /// its status). Returns whether it went to waiting (the caller then lets the host shrink,
    /// outside its locks).
    pub(super) fn agent_reported(
        &self,
        to: State,
        reason: Option<crate::config::detect::WaitReason>,
        cause: &str,
        source: Source,
    ) -> bool {
        self.set_state_with(
            &[State::Running, State::WaitingInput],
            to,
            reason.map(|r| r.as_str()),
            cause,
            source,
            vec![],
        ) && to == State::WaitingInput
    }

    /// The request a move to `to` (with `reason`) waits on: a dialog's, with the tool and
    /// input of the agent's last permission request hook and the options on screen. `None`
    /// for anything but a wait on something other than the prompt.
    fn pending_request(
        &self,
        to: State,
        reason: Option<&str>,
        source: Source,
    ) -> Option<crate::model::pending::PendingRequest> {
        let kind = reason.filter(|r| to == State::WaitingInput && *r != "prompt")?;
        let (tool, input) = match self.last_request.lock().take() {
            Some((tool, input)) if source == Source::AgentHook => {
                (tool, input.map(crate::model::pending::bounded_input))
            }
            _ => (None, None),
        };
        Some(crate::model::pending::PendingRequest {
            kind: kind.to_string(),
            tool,
            input,
            options: crate::model::pending::options_on_screen(&self.last_screen.lock()),
            source: source.as_str().to_string(),
            since: crate::model::clock::now_iso(),
        })
    }

    /// The `pending` event for a request just recorded in the session's row.
    fn record_pending(
        &self,
        request: Option<&crate::model::pending::PendingRequest>,
        source: Source,
    ) {
        *self.current_request.lock() = request.cloned();
        let Some(r) = request else { return };
        let data = serde_json::to_value(r).expect("a request serializes");
        if let Err(e) = self.store.lock().record_event(
            self.id(),
            source.as_str(),
            crate::model::event::kind::PENDING,
            &data,
        ) {
            eprintln!("agent-sessions host: recording the pending request: {e}");
        }
    }

    /// A dialog's options came on screen after its wait was recorded (a hook can report the
    /// dialog before it is drawn): the request gets them, in the row and as a new `pending`
    /// event. Called by the screen thread with the text it just looked at.
    pub(super) fn complete_request_options(&self, text: &str) {
        let mut current = self.current_request.lock();
        let Some(r) = current.as_mut().filter(|r| r.options.is_empty()) else {
            return;
        };
        let options = crate::model::pending::options_on_screen(text);
        if options.is_empty() {
            return;
        }
        r.options = options;
        let r = r.clone();
        drop(current);
        let json = serde_json::to_string(&r).expect("a request serializes");
        self.update(vec![(Column::Pending, store::text(json))]);
        let data = serde_json::to_value(&r).expect("a request serializes");
        if let Err(e) = self.store.lock().record_event(
            self.id(),
            "screen",
            crate::model::event::kind::PENDING,
            &data,
        ) {
            eprintln!("agent-sessions host: recording the pending request: {e}");
        }
    }

    /// Whether a change is still waiting to be written.
    pub fn has_pending(&self) -> bool {
        self.pending.lock().is_some()
    }

    /// Tries once more to write the change the store could not take. Returns true when
    /// nothing is left to write.
    pub fn retry_pending(&self) -> bool {
        let current = self.state.lock();
        let mut pending = self.pending.lock();
        let Some(p) = pending.as_ref() else {
            return true;
        };
        let change = Change {
            session_id: self.id(),
            to: p.to,
            source: p.source,
            cause: &p.cause,
            reason: p.reason.as_deref(),
            only_from: None,
            updates: p.updates.clone(),
        };
        match self
            .store
            .lock()
            .write(|tx| state_machine::commit_in(tx, &change))
        {
            Ok(outcome) => {
                let committed = outcome.as_ref().and_then(|o| o.moved().cloned());
                if let Some(Outcome::Refused(stored)) = outcome {
                    eprintln!(
                        "agent-sessions host: late {} refused, the session is {stored}",
                        p.to
                    );
                }
                pending.take();
                drop(pending);
                drop(current);
                if let Some(c) = committed {
                    state_machine::after_commit(&self.home_root(), &c);
                }
                true
            }
            Err(_) => false,
        }
    }

    fn home_root(&self) -> std::path::PathBuf {
        self.store.lock().home_root().to_path_buf()
    }
}
