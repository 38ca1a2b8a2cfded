//! What goes to the agent and what it reports back: input and interrupts written to its
//! terminal, recorded input and replies, pause/resume of its process group, submitted turns
//! and the agent's own hook events.

use super::Shared;
use crate::config::detect::ScreenVerdict;
use crate::model::clock::now_iso;
use crate::model::protocol::AgentEventRequest;
use crate::model::state::{Source, State};
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
        d.pin(ScreenVerdict::Busy, State::Running, Instant::now());
        drop(d);
        self.poke_screen();
    }

    /// An event the agent reported through its own hook (see [`crate::services::claude_hooks`]).
    pub fn on_agent_event(&self, ev: &AgentEventRequest) {
        if let Some(id) = ev.agent_session_id.as_deref() {
            let new = self.detector.lock().note_session_id(id, true);
            if new {
                self.update(vec![(Column::AgentSessionId, store::text(id))]);
            }
        }
        let Some((to, reason, cause)) = crate::services::claude_hooks::interpret(ev) else {
            return;
        };
        if ev.event == "permission_request" {
            *self.last_request.lock() = Some((ev.tool_name.clone(), ev.tool_input.clone()));
        }
        let mut d = self.detector.lock();
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
