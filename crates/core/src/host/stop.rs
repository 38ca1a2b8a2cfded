//! Stopping an agent politely, then firmly: its own quit sequence, SIGTERM to its process
//! group, and SIGKILL once the timeout has passed.

use super::shared::Shared;
use crate::config::detect::{ScreenVerdict, WaitReason};
use crate::model::protocol::StopRequest;
use crate::model::state::Source;
use crate::model::state::State;
use nix::sys::signal::Signal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for the agent's own quit sequence before signals.
const QUIT_GRACE: Duration = Duration::from_secs(5);
/// Pause between the parts of a quit sequence (a command, then Enter), so TUIs that detect
/// pastes see typing.
const QUIT_PART_GAP: Duration = Duration::from_millis(100);

/// Longest wait for an interrupted turn to end before the quit sequence is typed anyway.
const INTERRUPT_GRACE: Duration = Duration::from_millis(1500);

fn in_turn_or_dialog(v: Option<ScreenVerdict>) -> bool {
    matches!(
        v,
        Some(ScreenVerdict::Busy | ScreenVerdict::Waiting(WaitReason::Permission))
    )
}

/// Handles a stop request and returns the final state once the agent has been reaped.
pub fn request(shared: &Arc<Shared>, req: StopRequest) -> State {
    let cause = if req.suspend {
        "suspend requested"
    } else {
        "stop requested"
    };
    request_because(shared, req, cause)
}

/// [`request`] with the cause the history gives for the stopping (a budget's, say).
pub fn request_because(shared: &Arc<Shared>, req: StopRequest, cause: &str) -> State {
    if let Some(state) = shared.ended() {
        return state; // stopping a stopped session is a no-op
    }
    if req.suspend {
        shared.suspend_requested.store(true, Ordering::SeqCst);
    }
    // A frozen agent can neither quit nor act on SIGTERM.
    if shared.state() == State::Paused {
        shared.signal_all(Signal::SIGCONT);
    }
    shared.stop_requested.store(true, Ordering::SeqCst);
    shared.set_state(&[], State::Stopping, cause, Source::User, vec![]);
    if !shared.escalation_started.swap(true, Ordering::SeqCst) {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("stop".into())
            .spawn(move || escalate(&s, req))
            .expect("spawning the stop thread");
    } else if req.force {
        kill_all(shared, Signal::SIGKILL);
    }
    shared.wait_ended(None).unwrap_or(State::Unknown)
}

fn escalate(shared: &Shared, req: StopRequest) {
    if req.force {
        kill_all(shared, Signal::SIGKILL);
        return;
    }
    let start = Instant::now();
    let timeout = Duration::from_secs_f64(req.timeout_secs.max(0.0));
    if !shared.spec.quit.is_empty() {
        // A quit command typed into a running turn or a dialog is not a quit command: end
        // the turn (or close the dialog) first.
        if in_turn_or_dialog(shared.screen_verdict()) && shared.send_interrupt().is_ok() {
            let until = Instant::now() + INTERRUPT_GRACE;
            while Instant::now() < until
                && shared.ended().is_none()
                && in_turn_or_dialog(shared.screen_verdict())
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Let the prompt settle before typing into it.
            std::thread::sleep(QUIT_PART_GAP);
        }
        for (i, part) in shared.spec.quit.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(QUIT_PART_GAP);
            }
            if shared.write_input(part).is_err() {
                break;
            }
        }
        let grace = (timeout / 2).min(QUIT_GRACE);
        if shared.wait_ended(Some(start + grace)).is_some() {
            return;
        }
    }
    kill_all(shared, Signal::SIGTERM);
    if shared.wait_ended(Some(start + timeout)).is_some() {
        return;
    }
    kill_all(shared, Signal::SIGKILL);
}

fn kill_all(shared: &Shared, sig: Signal) {
    shared.signal_all(sig);
}
