//! The idle timer: a running session that has been silent for `idle_after_secs` reads as
//! waiting_input, and any output or input makes it running again. It sleeps on a condition
//! variable between deadlines, so an idle host costs no CPU.

use super::shared::Shared;
use crate::state::State;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn spawn(shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("idle-timer".into())
        .spawn(move || run(&shared))
        .expect("spawning the idle timer");
}

fn run(shared: &Shared) {
    let idle_after = shared.spec.idle_after_secs;
    if idle_after.is_nan() || idle_after <= 0.0 {
        return; // quiet detection switched off
    }
    let idle_after = Duration::from_secs_f64(idle_after);
    // Activity counter when the session last went idle.
    let mut idle_seq = None;
    loop {
        if shared.ended().is_some() {
            return;
        }
        match shared.state() {
            State::Running => {
                let seq = shared.activity_seq();
                let deadline = shared.last_activity() + idle_after;
                if Instant::now() >= deadline {
                    let cause = format!("no output for {:.1}s", idle_after.as_secs_f64());
                    if shared.set_state(
                        &[State::Running],
                        State::WaitingInput,
                        &cause,
                        "quiet_timer",
                        vec![],
                    ) {
                        idle_seq = Some(seq);
                    }
                    continue;
                }
                shared.sleep_until(Some(deadline));
            }
            State::WaitingInput => {
                if idle_seq != Some(shared.activity_seq()) {
                    shared.set_state(
                        &[State::WaitingInput],
                        State::Running,
                        "output or input after a quiet period",
                        "process",
                        vec![],
                    );
                    idle_seq = None;
                    continue;
                }
                shared.sleep_until(None);
            }
            _ => shared.sleep_until(None),
        }
    }
}
