//! The screen thread: runs the terminal emulator over queued output and, for agents with
//! screen rules, the detector that turns screens into states.

use super::Shared;
use crate::config::detect::ScreenVerdict;
use crate::model::state::{Source, State};
use crate::store::{self, Column};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Shortest interval between two emulator passes while output flows.
pub const SCREEN_TICK: Duration = Duration::from_millis(25);

impl Shared {
    /// The screen thread: keeps the screen model current while output flows, at most
    /// [`SCREEN_TICK`] apart, so agents get their query answers and the screen is fresh,
    /// without an emulator pass per PTY read. For agents with screen rules it classifies
    /// every new screen and drives the state (see [`super::super::detector`]); between changes it
    /// sleeps until the next debounce deadline, so an idle transition fires on time without
    /// polling, and an idle session costs no CPU.
    pub fn run_screen_thread(&self) {
        let detect = {
            let d = self.detector.lock();
            d.enabled() || d.finds_session_ids()
        };
        let mut seen = 0u64;
        loop {
            let wake = if detect {
                self.detector.lock().next_wake()
            } else {
                None
            };
            let fed = {
                let mut feed = self.feed.lock();
                loop {
                    if self.ended.lock().is_some() {
                        return;
                    }
                    if !feed.pending.is_empty()
                        || feed.taken != seen
                        || self.screen_poke.swap(false, Ordering::AcqRel)
                        || wake.is_some_and(|w| Instant::now() >= w)
                    {
                        break;
                    }
                    self.screen_wants_output.store(true, Ordering::Release);
                    match wake {
                        Some(w) => {
                            self.screen_wake.wait_until(&mut feed, w);
                        }
                        None => self.screen_wake.wait(&mut feed),
                    }
                }
                !feed.pending.is_empty()
            };
            let text = {
                let screen = self.sync_screen();
                let taken = self.feed.lock().taken;
                let changed = taken != seen;
                seen = taken;
                (detect && changed).then(|| screen.text())
            };
            if detect {
                self.detect_step(text.as_deref());
                if let Some(t) = &text {
                    self.complete_request_options(t);
                }
            } else {
                self.apply_agent_statuses();
            }
            if fed {
                std::thread::sleep(SCREEN_TICK);
            }
        }
    }

    /// Classifies new screen text (if any) and applies what the detector decides.
    fn detect_step(&self, text: Option<&str>) {
        let mut d = self.detector.lock();
        if let Some(t) = text {
            t.clone_into(&mut self.last_screen.lock());
        }
        let before = d.raw();
        if let Some(id) = text.and_then(|t| d.observe_text(t)) {
            self.update(vec![(Column::AgentSessionId, store::text(id))]);
        }
        if d.raw() != before {
            // The quiet timer only acts on unrecognised screens: let it look again.
            self.wake_timer();
        }
        // The agent's own statuses next, judged against the screen they came with (its
        // dialog, if one is up), then the screen's own verdict.
        drop(d);
        self.apply_agent_statuses();
        let mut d = self.detector.lock();
        let current = self.state();
        if let Some(dec) = d.step(Instant::now(), current) {
            self.set_state_with(
                &[State::Running, State::WaitingInput],
                dec.to,
                dec.reason.map(|r| r.as_str()),
                &dec.cause,
                Source::Screen,
                vec![],
            );
            drop(d);
            // The screen has settled on waiting (even if a hook said so first): idle from
            // here on, let the host shrink to what waiting needs.
            if dec.to == State::WaitingInput {
                self.release_idle_memory();
            }
        }
    }

    /// Wakes the screen thread to run the detector (a pin changed its deadlines).
    pub(super) fn poke_screen(&self) {
        self.screen_poke.store(true, Ordering::Release);
        let _feed = self.feed.lock();
        self.screen_wake.notify_all();
    }

    /// The current screen's verdict (not debounced), for the quiet timer and stop.
    pub fn screen_verdict(&self) -> Option<ScreenVerdict> {
        self.detector.lock().raw()
    }

    /// Whether the screen shows no text at all, as the detector last saw it.
    pub fn screen_blank(&self) -> bool {
        self.detector.lock().screen_blank()
    }

    /// Whether the agent has screen rules.
    pub fn screen_detection(&self) -> bool {
        self.detector.lock().enabled()
    }
}
