//! What goes to the agent and what it reports back: input and interrupts written to its
//! terminal, recorded input and replies, pause/resume of its process group, submitted turns
//! and the agent's own hook events.

use super::Shared;
use crate::config::detect::{ScreenVerdict, WaitReason};
use crate::model::clock::now_iso;
use crate::model::policy::Decision;
use crate::model::protocol::AgentEventRequest;
use crate::model::state::{Source, State};
use crate::services::agent_hooks::DECISION_WAIT;
use crate::store::{self, Column};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Pause between two presses of an interrupt key (opencode needs Esc twice).
const INTERRUPT_GAP: Duration = Duration::from_millis(200);

impl Shared {
    /// The turn has settled: its reply, for agents whose own records we cannot read, is
    /// the screen as it stands now.
    pub(super) fn record_reply(&self) {
        let text = self.snapshot().text;
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if let Err(e) = self.store.lock().add_message(self.id(), "assistant", text) {
            eprintln!("agent-sessions host: recording a reply: {e}");
        }
    }

    /// Records text the user sent (with Enter) as a `user` message, and any input as an
    /// `input` event.
    pub fn record_input(&self, text: &str, enter: bool, keys: bool) {
        let data = if keys {
            serde_json::json!({"keys": text})
        } else {
            serde_json::json!({"text": text, "enter": enter})
        };
        let message = (enter && !keys && !text.trim().is_empty()).then_some(text);
        if let Err(e) = self.store.lock().record_input(self.id(), &data, message) {
            eprintln!("agent-sessions host: recording input: {e}");
        }
    }

    /// Records keys typed by a named attached client (a WebSocket terminal) as an `input`
    /// event that names it, so the history says who typed what.
    pub fn record_client_input(&self, keys: &str, client: &str) {
        let data = serde_json::json!({"keys": keys, "client": client});
        if let Err(e) = self.store.lock().record_input(self.id(), &data, None) {
            eprintln!("agent-sessions host: recording input: {e}");
        }
    }

    /// Records an interrupt requested through the session (`interrupt`) as an `input`
    /// event, with the keys it sends: the agent's own hooks say nothing of an interrupted
    /// turn (Claude Code and Codex fire no Stop hook), so the history shows who ended it.
    pub fn record_interrupt(&self) {
        let keys = String::from_utf8_lossy(&self.spec.interrupt).into_owned();
        let data = serde_json::json!({
            "interrupt": true,
            "keys": keys,
            "presses": self.spec.interrupt_presses.max(1),
        });
        if let Err(e) = self.store.lock().record_input(self.id(), &data, None) {
            eprintln!("agent-sessions host: recording an interrupt: {e}");
        }
    }

    /// Freezes the agent's process group; the session reads paused until [`Shared::resume`].
    pub fn pause(&self) -> std::result::Result<(), String> {
        let state = self.state();
        if state == State::Paused {
            return Ok(());
        }
        if !state.accepts_input() {
            return Err(format!(
                "session {} is {state}, so it cannot be paused",
                self.id()
            ));
        }
        self.signal_all(nix::sys::signal::Signal::SIGSTOP);
        self.set_state(
            &[State::Starting, State::Running, State::WaitingInput],
            State::Paused,
            "pause requested",
            Source::User,
            vec![],
        );
        Ok(())
    }

    /// Thaws the agent's process group after [`Shared::pause`]; the state is running until
    /// the screen (or output silence) says otherwise.
    pub fn resume(&self) -> std::result::Result<(), String> {
        let state = self.state();
        if state != State::Paused {
            if matches!(state, State::Running | State::WaitingInput) {
                return Ok(()); // nothing to continue
            }
            return Err(format!(
                "session {} is {state}, so it cannot be continued",
                self.id()
            ));
        }
        self.signal_all(nix::sys::signal::Signal::SIGCONT);
        // Quiet time starts now: the frozen stretch was not the agent being idle.
        self.note_activity();
        self.set_state(
            &[State::Paused],
            State::Running,
            "continue requested",
            Source::User,
            vec![],
        );
        // Let the detector look at the screen afresh.
        self.poke_screen();
        Ok(())
    }

    /// Signals the agent's process group, and the terminal's foreground group when a shell
    /// has put a job there.
    pub fn signal_all(&self, sig: nix::sys::signal::Signal) {
        use nix::sys::signal::killpg;
        use nix::unistd::Pid;
        let _ = killpg(Pid::from_raw(self.agent_pid as i32), sig);
        if let Some(fg) = self.foreground_group() {
            if fg != self.agent_pid as i32 && fg > 1 {
                let _ = killpg(Pid::from_raw(fg), sig);
            }
        }
    }

    /// The user submitted input (a send with Enter): the session is running from now on,
    /// before the agent even redraws, so a `wait --state waiting_input` that follows can
    /// never return on the waiting state from before the send.
    pub fn user_submitted(&self) {
        self.turn_open.store(true, Ordering::Release);
        let mut d = self.detector.lock();
        self.set_state(
            &[State::WaitingInput],
            State::Running,
            "input submitted",
            Source::User,
            vec![],
        );
        let hold = match self.spec.reports_status || d.agent_status().is_some() {
            true => crate::host::detector::SUBMIT_HOLD_WITH_STATUS,
            false => crate::host::detector::PIN_HOLD,
        };
        d.pin_for(ScreenVerdict::Busy, State::Running, Instant::now(), hold);
        drop(d);
        self.poke_screen();
    }

    /// An event the agent reported through its own hook (see [`crate::services::agent_hooks`]).
    /// Returns the decision for the agent when the session's policy decided a permission
    /// request (`{"behavior": "allow"|"deny", "message"?}`): the agent then shows no dialog,
    /// so the session stays running.
    pub fn on_agent_event(&self, ev: &AgentEventRequest) -> Option<serde_json::Value> {
        if let Some(id) = ev.agent_session_id.as_deref() {
            let new = self.detector.lock().note_session_id(id, true);
            if new {
                self.update(vec![(Column::AgentSessionId, store::text(id))]);
            }
        }
        // Claude's and Codex's PermissionRequest comes when a dialog would be shown; Gemini's
        // BeforeTool comes before every tool use and can only deny.
        let deny_only = ev.event == "before_tool";
        if matches!(ev.event.as_str(), "permission_request" | "permission_asked") || deny_only {
            if let Some(decision) = self.policy_decision(ev, deny_only) {
                return Some(decision);
            }
        }
        // The tool a dialog will be about: Gemini names it in BeforeTool, before its
        // ToolPermission notification (which has only the dialog's details).
        let names_a_request = matches!(
            ev.event.as_str(),
            "permission_request" | "before_tool" | "permission_asked" | "question_asked"
        );
        if names_a_request {
            *self.last_request.lock() = Some((ev.tool_name.clone(), ev.tool_input.clone()));
        }
        if ev.event == "permission_replied" {
            // Answered on its own screen (or by us): nobody waits for a decision any more.
            self.decision_waiter.lock().take();
        }
        let (to, mut reason, cause) = crate::services::agent_hooks::interpret(ev)?;
        // Gemini reports its ask_user question as a tool confirmation like any other: the
        // tool its BeforeTool named says it is a question.
        let asks = |t: &Option<String>| t.as_deref() == Some("ask_user");
        if reason == Some(WaitReason::Permission)
            && self
                .last_request
                .lock()
                .as_ref()
                .is_some_and(|(t, _)| asks(t))
        {
            reason = Some(WaitReason::Question);
        }
        let mut d = self.detector.lock();
        // opencode's session.status is its own busy/idle, like Codex's status escape: while it
        // says busy no screen makes the session wait (a prompt is drawn during a turn too).
        if matches!(ev.event.as_str(), "session_busy" | "session_idle") {
            d.set_agent_status(Some(to));
        }
        let went_idle = self.agent_reported(to, reason, &cause, Source::AgentHook);
        let now = Instant::now();
        match (to, reason) {
            (State::Running, _) => d.pin(ScreenVerdict::Busy, State::Running, now),
            (State::WaitingInput, Some(r)) => {
                d.pin(ScreenVerdict::Waiting(r), State::WaitingInput, now)
            }
            _ => {}
        }
        drop(d);
        self.poke_screen();
        if went_idle {
            self.release_idle_memory();
        }
        match (ev.event.as_str(), ev.request_id.as_deref()) {
            ("permission_asked", Some(request)) => self.await_decision(request),
            _ => None,
        }
    }

    /// Holds a hook's permission request open until `decide` answers it, the agent reports
    /// it answered, or [`DECISION_WAIT`] passes; `None` leaves the dialog to the user.
    fn await_decision(&self, request: &str) -> Option<serde_json::Value> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        *self.decision_waiter.lock() = Some((request.to_string(), tx));
        let decision = rx.recv_timeout(DECISION_WAIT).ok();
        let mut w = self.decision_waiter.lock();
        if w.as_ref().is_some_and(|(r, _)| r == request) {
            w.take();
        }
        decision
    }

    /// Sends a user's decision to the hook holding the agent's permission request open;
    /// false when none waits (the agent takes its answer as keys then).
    pub fn decide(&self, decision: serde_json::Value) -> bool {
        match self.decision_waiter.lock().take() {
            Some((_, tx)) => tx.try_send(decision).is_ok(),
            None => false,
        }
    }

    /// Evaluates the session's policy for a permission request and records the decision as
    /// a `decision` event; `Some` for allow and deny, `None` when the user is to be asked.
    /// With `deny_only` (an agent whose hook cannot allow), only a deny is acted on and
    /// recorded.
    fn policy_decision(
        &self,
        ev: &AgentEventRequest,
        deny_only: bool,
    ) -> Option<serde_json::Value> {
        let policy = self.spec.policy.as_ref()?;
        let tool = ev.tool_name.as_deref().unwrap_or("");
        let verdict = policy.decide(tool, ev.tool_input.as_ref());
        if deny_only && verdict.as_ref().map(|v| v.decision) != Some(Decision::Deny) {
            return None;
        }
        let (decision, rule) = match &verdict {
            Some(v) => (v.decision, v.rule.as_str()),
            None => (Decision::Ask, "no rule matched"),
        };
        let data = serde_json::json!({
            "decision": decision.as_str(),
            "rule": rule,
            "tool": tool,
            "input": ev.tool_input.clone().map(crate::model::pending::bounded_input),
        });
        if let Err(e) = self.store.lock().record_event(
            self.id(),
            Source::AgentHook.as_str(),
            crate::model::event::kind::DECISION,
            &data,
        ) {
            eprintln!("agent-sessions host: recording a policy decision: {e}");
        }
        let v = verdict?;
        match v.decision {
            Decision::Allow => Some(serde_json::json!({"behavior": "allow"})),
            Decision::Deny => Some(serde_json::json!({
                "behavior": "deny",
                "message": v.message.unwrap_or_else(|| format!("denied by the session's policy ({})", v.rule)),
            })),
            Decision::Ask => None,
        }
    }

    /// Waits (at most `limit`) until the end of `text` shows on the screen, i.e. the agent
    /// has read what was typed.
    pub fn wait_for_echo(&self, text: &str, limit: Duration) {
        let last = text.lines().last().unwrap_or("").trim();
        let tail: String = {
            let chars: Vec<char> = last.chars().collect();
            chars[chars.len().saturating_sub(24)..].iter().collect()
        };
        if tail.is_empty() {
            return;
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.snapshot().text.contains(&tail) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends the agent's interrupt, pressed as many times as it needs.
    pub fn send_interrupt(&self) -> std::io::Result<()> {
        for i in 0..self.spec.interrupt_presses.max(1) {
            if i > 0 {
                std::thread::sleep(INTERRUPT_GAP);
            }
            self.write_input(&self.spec.interrupt)?;
        }
        Ok(())
    }

    /// Writes bytes to the agent's terminal.
    pub fn write_input(&self, bytes: &[u8]) -> std::io::Result<()> {
        {
            let mut w = self.writer.lock();
            w.write_all(bytes)?;
            w.flush()?;
        }
        *self.last_input_at.lock() = Some(now_iso());
        self.note_activity();
        Ok(())
    }
}
