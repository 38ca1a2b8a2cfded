//! The session's ending: recording how the agent exited, saving the last screen, telling
//! attached clients, and making sure the ending (and any lost output) reaches the store.

use super::super::AgentExit;
use super::{ClientMsg, Shared};
use crate::model::clock::now_iso;
use crate::model::state::{Source, State};
use crate::store::{self, Column, Updates};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

impl Shared {
    /// Records how the session ended, saves the last screen, tells attached clients, and
    /// waits briefly for replies still in flight.
    pub fn finish(&self, exit: AgentExit, reader_done: Receiver<()>, dir: &Path) {
        // Let the reader drain what the agent wrote before exiting. A grandchild that keeps
        // the terminal open must not keep the session alive, hence the bound.
        let _ = reader_done.recv_timeout(Duration::from_secs(2));
        let snapshot = self.snapshot();
        write_atomically(&dir.join("screen.txt"), snapshot.text.as_bytes());
        // Agents print their session id as they exit ("claude --resume <id>").
        let final_id = self.detector.lock().note_session_id_in(&snapshot.text);

        let stop_requested = self.stop_requested.load(Ordering::SeqCst);
        let (mut to, mut cause) = match exit {
            AgentExit::Code(0) if !stop_requested => {
                (State::Stopped, "exited with status 0".to_string())
            }
            AgentExit::Code(c) if !stop_requested => {
                (State::Failed, format!("exited with status {c}"))
            }
            AgentExit::Signal(s) if !stop_requested => (
                State::Failed,
                format!("killed by signal {} ({s})", signal_name(s)),
            ),
            AgentExit::Code(c) => (
                State::Stopped,
                format!("stopped on request (exit status {c})"),
            ),
            AgentExit::Signal(s) => (
                State::Stopped,
                format!("stopped on request (signal {})", signal_name(s)),
            ),
        };
        let mut updates: Updates = vec![
            (Column::EndedAt, store::text(now_iso())),
            (Column::AttachedClients, store::int(0)),
        ];
        match exit {
            AgentExit::Code(c) => updates.push((Column::ExitCode, store::int(c))),
            AgentExit::Signal(s) => updates.push((Column::ExitSignal, store::int(s))),
        }
        let known_id = final_id
            .clone()
            .or_else(|| self.detector.lock().session_id());
        if stop_requested && self.suspend_requested.load(Ordering::SeqCst) {
            if known_id.is_some() {
                to = State::Suspended;
                cause = cause.replace("stopped on request", "suspended on request");
            } else {
                updates.push((
                    Column::StateReason,
                    store::text(
                        "suspend requested, but the agent never showed its own session id, so \
                         its conversation cannot be resumed",
                    ),
                ));
            }
        }
        if self.spec.resuming && to == State::Failed {
            if let Some(line) = conversation_gone(&snapshot.text) {
                cause = format!(
                    "the agent reports the conversation is gone: \"{line}\"; it cannot be resumed"
                );
            }
        }
        if to == State::Failed {
            updates.push((Column::StateReason, store::text(cause.clone())));
        }
        if let Some(id) = final_id {
            updates.push((Column::AgentSessionId, store::text(id)));
        }
        // Before the ending, so whoever sees the session ended sees its final count.
        self.record_lost_output();
        self.set_state(&[], to, &cause, Source::Process, updates);

        *self.ended.lock() = Some(to);
        self.ended_cv.notify_all();
        self.wake_timer();
        self.screen_wake.notify_all();
        for c in self.feed.lock().clients.iter() {
            let _ = c.tx.try_send(ClientMsg::Exit(to));
        }
        // Give stop requesters and attached clients a moment to receive the ending.
        let deadline = Instant::now() + Duration::from_secs(2);
        while (self.pending_replies.load(Ordering::SeqCst) > 0
            || !self.feed.lock().clients.is_empty())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.persist_end();
    }

    /// Makes sure the ending reached the store. On a full disk the write in `finish` fails,
    /// and an exit code not recorded before the host exits is lost for good (the session
    /// would read `unknown`). So the host stays (holding its lock, the session reading as it
    /// was last stored) and retries the pending change with backoff until it is written or
    /// [`END_RETRY_FOR`] has passed. It runs after the stop replies went out, so a `stop`
    /// is not held up by a full disk.
    fn persist_end(&self) {
        let give_up = Instant::now() + END_RETRY_FOR;
        let mut pause = Duration::from_millis(50);
        let mut tries = 0u32;
        loop {
            self.record_lost_output();
            if self.retry_pending() && !self.lost.unrecorded() {
                if tries > 0 {
                    eprintln!("agent-sessions host: recorded the ending after {tries} retries");
                }
                return;
            }
            if Instant::now() >= give_up {
                eprintln!(
                    "agent-sessions host: could not record the ending for {} s, giving up",
                    END_RETRY_FOR.as_secs()
                );
                return;
            }
            tries += 1;
            std::thread::sleep(pause);
            pause = (pause * 2).min(END_RETRY_MAX_PAUSE);
        }
    }

    /// Records output the log could not keep (see [`super::super::lost`]); a failure is retried at
    /// the next call.
    pub fn record_lost_output(&self) {
        if !self.lost.unrecorded() {
            return;
        }
        if let Err(e) = self.lost.record(&self.store.lock(), self.id()) {
            eprintln!("agent-sessions host: recording lost output: {e}");
        }
    }
}

/// How long a host keeps trying to record its session's ending (a full disk).
const END_RETRY_FOR: Duration = Duration::from_secs(600);
/// Longest pause between two of those tries.
const END_RETRY_MAX_PAUSE: Duration = Duration::from_secs(5);

/// The line of an agent's last screen saying the conversation to resume does not exist
/// (claude: "No conversation found with session ID: …").
fn conversation_gone(screen: &str) -> Option<String> {
    const MARKERS: &[&str] = &[
        "no conversation found",
        "no saved session",
        "conversation not found",
        "session not found",
        "no session found",
        "invalid session",
    ];
    screen
        .lines()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            MARKERS.iter().any(|m| l.contains(m))
        })
        .map(|l| l.trim().to_string())
}

/// SIGKILL-style name of a signal number.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{sig}"))
}

/// Writes a file via a temporary name and rename, so readers never see half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    } else {
        // A full disk: leave no half-written file behind.
        let _ = std::fs::remove_file(&tmp);
    }
}
