//! Answering the dialog a waiting session waits on: `approve`, `deny` and `answer`.
//!
//! Auto-answers in other managers have misfired: keys pressed on the wrong dialog, or on no
//! dialog at all. Here a key is sent only after the dialog is checked on the screen as it is
//! now: the session must wait on a permission or a question (its `pending` request), the
//! dialog's options must still be on screen, and the option to choose must be the one under
//! the selection marker (`❯ 2. Blue`) before Enter is pressed: arrows move the marker one
//! step at a time, each step checked on screen.
//!
//! - approve: the first option, which must read as a yes (the four built-in agents all put
//!   "Yes" or "Allow" first); `always`: the first yes that also says "always" or "don't ask
//!   again".
//! - deny: Esc, which each agent takes as "no" ("No, and tell ... (esc)"); with a message,
//!   the message is then sent as the next prompt once the agent is back at it.
//! - answer: one option per question, by its label (case-insensitive) or its number; each
//!   question's dialog is checked and answered in turn.
//!
//! Where the agent holds its permission request open for a decision (opencode, through our
//! plugin), approve and deny answer through that channel instead of keys: the host hands the
//! decision to the waiting hook, which replies through opencode's own API.
//!
//! Each call returns once the dialog is gone from the screen. Decisions known in advance go
//! through the agents' own decision channel instead (a session's approval policy, answered
//! by the PermissionRequest hook; see `model::policy`): no dialog is shown for them at all.

use super::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::pending::{options_on_screen, selected_option, PendingRequest};
use crate::model::protocol::Tag;
use crate::model::record::SessionRecord;
use crate::model::state::State;
use std::time::{Duration, Instant};

/// How long approve, deny and answer wait for the dialog to close by default.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);
/// How long a reported dialog may take to come on screen.
const OPTIONS_WAIT: Duration = Duration::from_secs(5);
/// How long one arrow key may take to move the selection marker.
const STEP_WAIT: Duration = Duration::from_secs(3);

fn is_yes(option: &str) -> bool {
    let o = option.to_ascii_lowercase();
    ["yes", "allow", "approve", "proceed"]
        .iter()
        .any(|w| o.starts_with(w))
}

impl SessionManager {
    /// Approves the permission dialog the session waits on: its first option (a yes), or
    /// with `always` its "yes, always / don't ask again" option, selected and checked on
    /// screen before Enter; returns the record once the dialog is gone.
    pub fn approve(
        &self,
        session_id: &str,
        always: bool,
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        let deadline = deadline(timeout);
        let refuse = refusal("approve", session_id);
        let behavior = if always { "always" } else { "allow" };
        if let Some(rec) = self.through_hook(session_id, behavior, deadline)? {
            return Ok(rec);
        }
        let options = self.dialog(session_id, &["permission"], deadline, &refuse)?;
        let index = if always {
            options.iter().position(|o| {
                let l = o.to_ascii_lowercase();
                is_yes(o) && (l.contains("always") || l.contains("don't ask again"))
            })
        } else {
            Some(0).filter(|_| is_yes(&options[0]))
        };
        let Some(index) = index else {
            return Err(refuse(format!(
                "none of its options is {}: {options:?}; answer it with `agent-sessions answer {session_id} OPTION`",
                if always { "a yes that always allows" } else { "a yes first" }
            )));
        };
        self.choose(session_id, &options, index, deadline, &refuse)
    }

    /// Denies the permission dialog the session waits on (Esc, once the dialog is checked
    /// on screen) and returns once it is gone. With `message`, sends it as the next prompt
    /// (what to do instead) once the agent is back at its prompt.
    pub fn deny(
        &self,
        session_id: &str,
        message: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        let deadline = deadline(timeout);
        let refuse = refusal("deny", session_id);
        let rec = match self.through_hook(session_id, "deny", deadline)? {
            Some(rec) => rec,
            None => {
                let options = self.dialog(session_id, &["permission"], deadline, &refuse)?;
                self.send_keys(session_id, &["Esc"])?;
                self.until_gone(session_id, &options[0], deadline, "deny")?
            }
        };
        let Some(text) = message.filter(|m| !m.trim().is_empty()) else {
            return Ok(rec);
        };
        // The agent takes Esc as "no" and goes back to its prompt; the message is its next
        // instruction.
        loop {
            let rec = self.get(session_id)?;
            if rec.state == State::WaitingInput && rec.pending.is_none() {
                break;
            }
            if !rec.state.is_live() {
                return Err(Error::SessionNotRunning {
                    id: session_id.to_string(),
                    state: rec.state,
                    action: "take the message after a deny",
                });
            }
            if Instant::now() >= deadline {
                return Err(timed_out(session_id, "the agent to be back at its prompt"));
            }
            std::thread::sleep(POLL);
        }
        self.send(session_id, text, true)?;
        self.get(session_id)
    }

    /// Answers the question (or permission) dialog the session waits on: one choice per
    /// question, each an option's label (case-insensitive) or number, selected and checked
    /// on screen before Enter; returns once the last dialog is gone.
    pub fn answer(
        &self,
        session_id: &str,
        choices: &[String],
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        let deadline = deadline(timeout);
        let refuse = refusal("answer", session_id);
        if choices.is_empty() {
            return Err(refuse(
                "give the option to choose, by label or number".into(),
            ));
        }
        let mut rec = None;
        for (i, choice) in choices.iter().enumerate() {
            let options = match i {
                0 => self.dialog(session_id, &["question", "permission"], deadline, &refuse)?,
                // The next question's dialog replaces the last one on screen.
                _ => self.next_dialog(session_id, deadline, &refuse)?,
            };
            let index = pick(&options, choice)
                .ok_or_else(|| refuse(format!("no option {choice:?} in {options:?}")))?;
            rec = Some(self.choose_keep_waiting(session_id, &options, index, deadline, &refuse)?);
        }
        Ok(rec.expect("at least one choice"))
    }

    /// Answers a permission request through the agent's own decision channel when a hook
    /// holds it open (opencode's plugin), and returns once the session no longer waits on
    /// it; `None` when no hook waits (the dialog takes keys then).
    fn through_hook(
        &self,
        session_id: &str,
        behavior: &str,
        deadline: Instant,
    ) -> Result<Option<SessionRecord>> {
        let rec = self.get(session_id)?;
        if rec.pending.as_ref().is_none_or(|p| p.kind != "permission") {
            return Ok(None);
        }
        let payload = serde_json::json!({ "behavior": behavior }).to_string();
        let path = self.home.socket_path(session_id)?;
        let reply = crate::services::client::request(&path, Tag::Decide, payload.as_bytes(), None)?;
        if reply.get("ok").and_then(|v| v.as_bool()) != Some(true) {
            return Ok(None);
        }
        loop {
            let rec = self.get(session_id)?;
            let waits = rec.pending.as_ref().is_some_and(|p| p.kind == "permission");
            if !waits || !rec.state.is_live() {
                return Ok(Some(rec));
            }
            if Instant::now() >= deadline {
                return Err(timed_out(session_id, "the agent to take the decision"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The options of the dialog the session waits on (a `pending` request of one of
    /// `kinds`), once they are on screen.
    fn dialog(
        &self,
        session_id: &str,
        kinds: &[&str],
        deadline: Instant,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<Vec<String>> {
        // A hook reports the dialog the moment the agent decides to show it, a little before
        // it is drawn: give its options a moment to come on screen.
        let options_by = (Instant::now() + OPTIONS_WAIT).min(deadline);
        loop {
            let rec = self.get(session_id)?;
            let pending: PendingRequest = rec
                .pending
                .filter(|p| kinds.contains(&p.kind.as_str()))
                .ok_or_else(|| {
                    refuse(format!(
                        "it waits on no {} dialog (it is {}); see `agent-sessions pending {session_id}`",
                        kinds.join(" or "),
                        rec.state
                    ))
                })?;
            let on_screen = options_on_screen(&self.screen(session_id)?.text);
            if !pending.options.is_empty() && on_screen.first() == pending.options.first() {
                return Ok(on_screen);
            }
            if Instant::now() >= options_by {
                return Err(refuse(match pending.options.is_empty() {
                    true => "its dialog's options are not on screen; answer it with `agent-sessions send --keys`".into(),
                    false => "its dialog is no longer on screen".into(),
                }));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The options of the dialog that follows an answered one (a question after a question).
    fn next_dialog(
        &self,
        session_id: &str,
        deadline: Instant,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<Vec<String>> {
        loop {
            let options = options_on_screen(&self.screen(session_id)?.text);
            if options.len() >= 2 {
                return Ok(options);
            }
            if Instant::now() >= deadline {
                return Err(refuse("no further question came on screen".into()));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Moves the selection marker to `options[index]`, checking each step on screen, then
    /// presses Enter and waits until the dialog is gone.
    fn choose(
        &self,
        session_id: &str,
        options: &[String],
        index: usize,
        deadline: Instant,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<SessionRecord> {
        self.select(session_id, index, deadline, refuse)?;
        self.send_keys(session_id, &["Enter"])?;
        self.until_gone(session_id, &options[0], deadline, "answer")
    }

    /// Like [`Self::choose`], but a dialog that is replaced by the next question counts as gone.
    fn choose_keep_waiting(
        &self,
        session_id: &str,
        options: &[String],
        index: usize,
        deadline: Instant,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<SessionRecord> {
        self.select(session_id, index, deadline, refuse)?;
        self.send_keys(session_id, &["Enter"])?;
        loop {
            let rec = self.get(session_id)?;
            let now = options_on_screen(&self.screen(session_id)?.text);
            if !rec.state.is_live() || now != options {
                return Ok(rec);
            }
            if Instant::now() >= deadline {
                return Err(timed_out(session_id, "the dialog to close after Enter"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Presses Down/Up until the marker is on option `index` (0-based), one checked step at
    /// a time.
    fn select(
        &self,
        session_id: &str,
        index: usize,
        deadline: Instant,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<()> {
        let target = index + 1;
        loop {
            let Some(at) = selected_option(&self.screen(session_id)?.text) else {
                return Err(refuse(
                    "no option of its dialog is marked as selected on screen; answer it with `agent-sessions send --keys`".into(),
                ));
            };
            if at == target {
                return Ok(());
            }
            let key = if at < target { "Down" } else { "Up" };
            self.send_keys(session_id, &[key])?;
            let step_by = (Instant::now() + STEP_WAIT).min(deadline);
            loop {
                if selected_option(&self.screen(session_id)?.text) != Some(at) {
                    break;
                }
                if Instant::now() >= step_by {
                    return Err(timed_out(session_id, "the selection to move"));
                }
                std::thread::sleep(POLL);
            }
        }
    }

    /// Waits until `first_option` is gone from the screen (or the session ended).
    fn until_gone(
        &self,
        session_id: &str,
        first_option: &str,
        deadline: Instant,
        verb: &str,
    ) -> Result<SessionRecord> {
        loop {
            let rec = self.get(session_id)?;
            if !rec.state.is_live() || !self.screen(session_id)?.text.contains(first_option) {
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

fn deadline(timeout: Option<Duration>) -> Instant {
    Instant::now() + timeout.unwrap_or(DEFAULT_ANSWER_TIMEOUT)
}

fn refusal<'a>(verb: &'static str, session_id: &'a str) -> impl Fn(String) -> Error + 'a {
    move |why| Error::InvalidArgument(format!("cannot {verb} session {session_id}: {why}"))
}

fn timed_out(session_id: &str, what: &str) -> Error {
    Error::Host {
        id: session_id.to_string(),
        reason: format!(
            "timed out waiting for {what}; look at `agent-sessions screen {session_id}`"
        ),
    }
}

/// The index of the option `choice` names: its number (1-based) or its label, compared
/// case-insensitively, in full or up to a description after it.
fn pick(options: &[String], choice: &str) -> Option<usize> {
    let c = choice.trim();
    if let Ok(n) = c.parse::<usize>() {
        return (1..=options.len()).contains(&n).then(|| n - 1);
    }
    let c = c.to_lowercase();
    options
        .iter()
        .position(|o| o.to_lowercase() == c)
        .or_else(|| {
            options
                .iter()
                .position(|o| o.to_lowercase().starts_with(&c))
        })
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn choices_by_number_or_label() {
        let o: Vec<String> = ["Red", "Blue", "Type something."].map(String::from).into();
        assert_eq!(pick(&o, "2"), Some(1));
        assert_eq!(pick(&o, "blue"), Some(1));
        assert_eq!(pick(&o, " RED "), Some(0));
        assert_eq!(pick(&o, "type"), Some(2));
        assert_eq!(pick(&o, "4"), None);
        assert_eq!(pick(&o, "0"), None);
        assert_eq!(pick(&o, "green"), None);
    }
}
