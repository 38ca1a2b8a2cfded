//! The idle timer thread. It flips running ⇄ waiting_input on output silence (for agents
//! without screen rules, and for screens the rules do not recognise), and it writes
//! `last_output_at` / `last_input_at` to the store, at most once a second, so the reader
//! thread never waits on the database. Between deadlines it sleeps on a condition variable:
//! an idle host costs no CPU.

use super::shared::Shared;
use crate::config::detect::ScreenVerdict;
use crate::model::state::Source;
use crate::model::state::State;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the stored activity timestamps lag behind while output flows.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub fn spawn(shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("idle-timer".into())
        .spawn(move || run(&shared))
        .expect("spawning the idle timer");
}

fn run(shared: &Shared) {
    let idle_after = shared.spec.idle_after_secs;
    // Zero or less switches quiet detection off; timestamps are still flushed.
    let idle_after =
        (idle_after.is_finite() && idle_after > 0.0).then(|| Duration::from_secs_f64(idle_after));
    // With screen rules the screen decides; the quiet timer only covers screens the rules do
    // not recognise, and never declares idle while the screen shows busy or waiting.
    let screen_rules = shared.screen_detection();
    // A blank screen is not a screen the rules failed to recognise: the agent has drawn
    // nothing yet (opencode takes seconds), and text sent now would be lost. Its wait
    // starts once it shows something.
    let unrecognised =
        || shared.screen_verdict() == Some(ScreenVerdict::Unknown) && !shared.screen_blank();
    let mut idle_seq = None; // activity counter when the session last went idle
    let mut flushed_seq = 0;
    let mut last_flush: Option<Instant> = None;
    loop {
        if shared.ended().is_some() {
            return;
        }
        let now = Instant::now();
        // An idle the agent reported on its start-up, on hold until it has lasted.
        shared.apply_deferred_status(now);
        let seq = shared.activity_seq();
        if seq != flushed_seq && last_flush.is_none_or(|t| now >= t + FLUSH_EVERY) {
            shared.flush_activity();
            // Output lost to a full disk is recorded as soon as the store takes it.
            shared.record_lost_output();
            flushed_seq = seq;
            last_flush = Some(now);
        }
        let flush_due = (seq != flushed_seq).then(|| last_flush.map_or(now, |t| t + FLUSH_EVERY));
        // A state change the store could not take: try again every second until it lands.
        let flush_due = if shared.has_pending() && !shared.retry_pending() {
            earliest(flush_due, Some(now + FLUSH_EVERY))
        } else {
            flush_due
        };
        let flush_due = earliest(flush_due, shared.deferred_status_due());
        match (shared.state(), idle_after) {
            (State::Running, Some(idle_after))
                if (!screen_rules || unrecognised()) && !shared.agent_reports_status() =>
            {
                let deadline = shared.last_activity() + idle_after;
                if now >= deadline {
                    let cause = format!("no output for {:.1}s", idle_after.as_secs_f64());
                    if shared.set_state_with(
                        &[State::Running],
                        State::WaitingInput,
                        Some("other"),
                        &cause,
                        Source::QuietTimer,
                        vec![],
                    ) {
                        idle_seq = Some(shared.activity_seq());
                        // Idle from here on: let the host shrink to what waiting needs.
                        shared.release_idle_memory();
                    }
                    continue;
                }
                shared.sleep_until(earliest(Some(deadline), flush_due), flush_due.is_none());
            }
            (State::WaitingInput, _) => {
                let seq = shared.activity_seq();
                if idle_seq != Some(seq) {
                    // Without screen rules any activity ends the quiet period. With them, only
                    // a wait this timer declared, and only while the screen is still
                    // unrecognised (otherwise the screen decides).
                    let wake = !shared.agent_reports_status()
                        && (!screen_rules
                            || (shared.state_source() == Source::QuietTimer && unrecognised()));
                    if wake
                        && shared.set_state(
                            &[State::WaitingInput],
                            State::Running,
                            "output or input after a quiet period",
                            Source::QuietTimer,
                            vec![],
                        )
                    {
                        idle_seq = None;
                        continue;
                    }
                    idle_seq = Some(seq);
                }
                shared.sleep_until(flush_due, true);
            }
            // Running with the screen in charge, or no quiet detection: wake on activity
            // (the screen may have become unrecognised) or to flush.
            (State::Running, _) if screen_rules && idle_after.is_some() => {
                shared.sleep_until(flush_due, true)
            }
            _ => shared.sleep_until(flush_due, flush_due.is_none()),
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
