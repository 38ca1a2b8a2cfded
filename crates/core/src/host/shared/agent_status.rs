//! The status the agent writes to its own terminal (see `host::program_status`), from the
//! reader to the session's state. The reader only finds the statuses and queues them (it
//! must never wait for the store); the screen thread applies them, in order, before it
//! looks at the screen they came with.

use super::Shared;
use crate::host::program_status::ProgramStatus;
use crate::model::state::{Source, State};

/// Statuses queued for the screen thread at most; older ones are dropped first (only the
/// latest matters once the queue is this far behind).
const QUEUE: usize = 64;

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
