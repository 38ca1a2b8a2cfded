//! The status the agent writes to its own terminal (see `host::program_status`), from the
//! reader to the session's state. The reader only finds the statuses and queues them (it
//! must never wait for the store); the screen thread applies them, in order, before it
//! looks at the screen they came with.

use super::Shared;
use crate::host::program_status::ProgramStatus;
use crate::model::state::{Source, State};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Statuses queued for the screen thread at most; older ones are dropped first (only the
/// latest matters once the queue is this far behind).
const QUEUE: usize = 64;
/// How long an idle the agent reports before it was ever ready must hold to count.
const STARTUP_HOLD: Duration = Duration::from_millis(400);

impl Shared {
    /// Looks for statuses in a chunk of output; called by the reader for every chunk.
    pub(super) fn scan_agent_status(&self, chunk: &[u8]) {
        let found = self.status_scanner.lock().scan(chunk);
        if found.is_empty() {
            return;
        }
        {
            let mut q = self.status_queue.lock();
            q.extend(found);
            let excess = q.len().saturating_sub(QUEUE);
            q.drain(..excess);
        }
        self.poke_screen();
    }

    /// Applies the queued statuses (on the screen thread).
    pub(super) fn apply_agent_statuses(&self) {
        let queued = std::mem::take(&mut *self.status_queue.lock());
        for status in queued {
            // Any newer status supersedes an idle still on hold.
            self.deferred_status.lock().take();
            let startup_idle = !self.waited_once.load(Ordering::Acquire)
                && status
                    .meaning()
                    .is_some_and(|(to, _, _)| to == State::WaitingInput);
            if startup_idle {
                // Codex says idle, works ~0.1 s more on its start-up, then idle again: the
                // first idle is not "ready". One that holds for STARTUP_HOLD is.
                *self.deferred_status.lock() = Some((Instant::now() + STARTUP_HOLD, status));
                self.wake_timer();
                continue;
            }
            self.apply_agent_status(&status);
        }
    }

    /// When a start-up idle on hold is due (for the timer thread's sleep).
    pub fn deferred_status_due(&self) -> Option<Instant> {
        self.deferred_status.lock().as_ref().map(|(at, _)| *at)
    }

    /// Applies a start-up idle that has held (on the timer thread).
    pub fn apply_deferred_status(&self, now: Instant) {
        let due = {
            let mut d = self.deferred_status.lock();
            match d.as_ref() {
                Some((at, _)) if *at <= now => d.take().map(|(_, s)| s),
                _ => None,
            }
        };
        if let Some(status) = due {
            self.apply_agent_status(&status);
        }
    }

    fn apply_agent_status(&self, status: &ProgramStatus) {
        let mut d = self.detector.lock();
        if status.is_clear() {
            d.set_agent_status(None);
            return;
        }
        let Some((to, mut reason, mut cause)) = status.meaning() else {
            return;
        };
        d.set_agent_status(Some(to));
        if to == State::WaitingInput && reason == Some(crate::config::detect::WaitReason::Prompt) {
            if let Some(dialog) = d.dialog_on_screen() {
                cause = format!("{cause}; {dialog} dialog on screen");
                reason = Some(dialog);
            }
        }
        let went_idle = self.agent_reported(to, reason, &cause, Source::AgentStatus);
        drop(d);
        // The quiet timer defers to the agent's own status: let it look again.
        self.wake_timer();
        if went_idle {
            self.release_idle_memory();
        }
    }

    /// Whether the agent reports its own state now (the quiet timer then stays out).
    pub fn agent_reports_status(&self) -> bool {
        self.detector.lock().agent_status().is_some()
    }
}
