//! Agent-aware state detection in the host: the screen rules of the agent, the debouncer, and
//! the arbitration between the screen and the other sources (the agent's own hooks, input the
//! user submitted, the quiet timer).
//!
//! The screen thread classifies the visible screen after every emulator pass and feeds the
//! verdict to a [`Debouncer`]: a busy screen is reported at once, a waiting screen only once
//! it has held for the debounce time. Only *changes* of the debounced verdict drive
//! transitions (edge-triggered), so a state set by another source stands until the screen
//! changes again.
//!
//! An agent that reports its own status on its terminal (see `host::program_status`) outranks
//! the screen for good, not for a hold: while it says it works, no screen makes the session
//! wait (Codex's busy line vanishes while a reply streams); while it says it waits, the
//! screen may only say what it waits for (a dialog, the prompt), never make it busy.
//!
//! When another source decides (a hook event, a submitted input), it *pins* its state for
//! [`PIN_HOLD`]: the debouncer takes the matching verdict as already reported, and a screen
//! change that contradicts the pinned state within the hold is deferred rather than applied
//! (a Stop hook can arrive while the last busy frame is still on screen). When the hold ends,
//! a deferred change is applied only if the screen still shows it and nothing else is pending.

use crate::config::detect::{
    classify, find_agent_session_id, Debouncer, ScreenRules, ScreenVerdict, WaitReason,
};
use crate::model::state::State;
use std::time::{Duration, Instant};

/// How long a state pinned by a hook or a submitted input outranks a contradicting screen.
pub const PIN_HOLD: Duration = Duration::from_millis(1000);
/// How long a submitted prompt holds running against the screen for an agent that reports
/// its own busy/idle (Codex's status, opencode's session.status): its report decides, and
/// a loaded machine can take seconds to draw the busy screen (opencode), during which the
/// screen still shows the prompt. Bounded, so input that starts no turn cannot leave the
/// session running.
pub const SUBMIT_HOLD_WITH_STATUS: Duration = Duration::from_secs(5);

struct Hold {
    until: Instant,
    state: State,
    /// A screen change contradicting the pinned state arrived during the hold.
    deferred: bool,
}

/// A transition the detector asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub to: State,
    pub reason: Option<WaitReason>,
    pub cause: String,
}

pub struct Detector {
    rules: Option<ScreenRules>,
    id_agent: Option<String>,
    debouncer: Debouncer,
    /// Classification of the screen as it is now (not debounced).
    raw: Option<ScreenVerdict>,
    hold: Option<Hold>,
    /// The agent's own session id, last seen.
    agent_session_id: Option<String>,
    /// The id came from the launch or the agent's hook: the screen no longer overrides it
    /// (a reply can show another session's id).
    id_pinned: bool,
    /// The state the agent last reported itself, until it withdraws it.
    agent_status: Option<State>,
    /// The last screen looked at had no text at all (an agent still starting up).
    blank: bool,
}

impl Detector {
    pub fn new(
        rules: Option<ScreenRules>,
        id_agent: Option<String>,
        known_id: Option<String>,
        debounce: Duration,
    ) -> Self {
        Detector {
            rules,
            id_agent,
            debouncer: Debouncer::new(debounce),
            raw: None,
            hold: None,
            id_pinned: known_id.is_some(),
            agent_session_id: known_id,
            agent_status: None,
            blank: true,
        }
    }

    /// The agent reported its own state (`None`: it withdrew it).
    pub fn set_agent_status(&mut self, status: Option<State>) {
        self.agent_status = status;
    }

    /// The dialog the screen shows now, if any: a wait the agent reports as "at its prompt"
    /// is this one instead (a hook or status can say idle while a dialog is up).
    pub fn dialog_on_screen(&self) -> Option<WaitReason> {
        match self.raw {
            Some(ScreenVerdict::Waiting(r)) if r != WaitReason::Prompt => Some(r),
            _ => None,
        }
    }

    /// Whether the screen shows no text at all (nothing drawn yet, or a cleared screen).
    pub fn screen_blank(&self) -> bool {
        self.blank
    }

    /// The state the agent reports itself, if it does.
    pub fn agent_status(&self) -> Option<State> {
        self.agent_status
    }

    /// Whether the agent has screen rules (otherwise the quiet timer alone decides).
    pub fn enabled(&self) -> bool {
        self.rules.is_some()
    }

    /// Whether the agent prints its own session id somewhere we know.
    pub fn finds_session_ids(&self) -> bool {
        self.id_agent.is_some()
    }

    /// The current screen's verdict, not debounced; `None` before anything was classified.
    pub fn raw(&self) -> Option<ScreenVerdict> {
        self.raw
    }

    pub fn debounce(&self) -> Duration {
        self.debouncer.idle_after()
    }

    /// Classifies new screen text. Returns the agent's session id when the screen shows a
    /// new one.
    pub fn observe_text(&mut self, text: &str) -> Option<String> {
        self.blank = text.trim().is_empty();
        if let Some(rules) = &self.rules {
            self.raw = Some(classify(rules, text));
        }
        self.note_session_id_in(text)
    }

    /// Looks for the agent's session id in `text` (unless the launch or a hook already gave
    /// it); returns it when it is new.
    pub fn note_session_id_in(&mut self, text: &str) -> Option<String> {
        if self.id_pinned {
            return None;
        }
        let agent = self.id_agent.as_deref()?;
        let id = find_agent_session_id(agent, text)?;
        self.note_session_id(&id, false).then_some(id)
    }

    /// The agent's own session id, as far as this host knows it.
    pub fn session_id(&self) -> Option<String> {
        self.agent_session_id.clone()
    }

    /// Remembers `id`, reported by the agent itself when `authoritative`; true when it
    /// differs from the last one.
    pub fn note_session_id(&mut self, id: &str, authoritative: bool) -> bool {
        self.id_pinned |= authoritative;
        if self.agent_session_id.as_deref() == Some(id) {
            return false;
        }
        self.agent_session_id = Some(id.to_string());
        true
    }

    /// When the screen thread must run [`Detector::step`] even if the screen does not change.
    pub fn next_wake(&self) -> Option<Instant> {
        let hold = self.hold.as_ref().map(|h| h.until);
        match (self.debouncer.next_deadline(), hold) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Another source decided the state: pin it for [`PIN_HOLD`] and take `verdict` as the
    /// screen's reported verdict.
    pub fn pin(&mut self, verdict: ScreenVerdict, state: State, now: Instant) {
        self.pin_for(verdict, state, now, PIN_HOLD);
    }

    /// [`Self::pin`] for `hold` instead of [`PIN_HOLD`].
    pub fn pin_for(&mut self, verdict: ScreenVerdict, state: State, now: Instant, hold: Duration) {
        if !self.enabled() {
            return;
        }
        self.debouncer.assume(verdict);
        self.hold = Some(Hold {
            until: now + hold,
            state,
            deferred: false,
        });
    }

    /// Runs the debouncer at `now` with the current screen; returns the transition to make,
    /// if any, given the session's `current` state.
    pub fn step(&mut self, now: Instant, current: State) -> Option<Decision> {
        // Expire the hold first, so its deadline never outlives it (even before the first
        // screen was classified).
        let mut re_evaluate = false;
        if self.hold.as_ref().is_some_and(|h| now >= h.until) {
            re_evaluate = self.hold.take().is_some_and(|h| h.deferred);
        }
        let verdict = self.raw?;
        let stable = match self.debouncer.observe(verdict, now) {
            Some(changed) => changed,
            // The hold that deferred a change has ended: apply the screen's reported
            // verdict if the screen still shows it (nothing pending).
            None if re_evaluate && self.debouncer.next_deadline().is_none() => {
                self.debouncer.reported()?
            }
            None => return None,
        };
        let (to, reason) = match stable {
            ScreenVerdict::Busy => (State::Running, None),
            ScreenVerdict::Waiting(r) => (State::WaitingInput, Some(r)),
            // Nothing recognised: the quiet timer may decide (see timer.rs).
            ScreenVerdict::Unknown => return None,
        };
        if let Some(h) = &mut self.hold {
            h.deferred = h.state != to;
            if h.deferred {
                return None;
            }
        }
        if !matches!(current, State::Running | State::WaitingInput) {
            return None;
        }
        match self.agent_status {
            // The agent says it works: no screen makes it wait. It says it waits: the screen
            // may say for what (a dialog, or the prompt once a dialog closed), not that it
            // works.
            Some(State::Running) => return None,
            Some(_) if to == State::Running => return None,
            _ => {}
        }
        let cause = match stable {
            ScreenVerdict::Busy => "busy marker on screen".to_string(),
            _ => format!(
                "{} on screen for {:.1}s",
                reason.map_or("", |r| r.as_str()),
                self.debounce().as_secs_f64()
            ),
        };
        Some(Decision { to, reason, cause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUSY_SCREEN: &str = "✻ Forging…\n  esc to interrupt · ← for agents";
    const IDLE_SCREEN: &str = "❯\u{a0}\n  ? for shortcuts · ← for agents";
    const DIALOG: &str = " Do you want to proceed?\n ❯ 1. Yes";

    fn det() -> Detector {
        Detector::new(
            ScreenRules::builtin("claude"),
            Some("claude".into()),
            None,
            Duration::from_millis(1000),
        )
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn busy_at_once_waiting_after_the_debounce() {
        let t0 = Instant::now();
        let mut d = det();
        assert_eq!(d.step(t0, State::Running), None, "nothing classified yet");
        d.observe_text(IDLE_SCREEN);
        assert_eq!(d.step(t0, State::Running), None);
        assert_eq!(d.next_wake(), Some(t0 + ms(1000)));
        let dec = d.step(t0 + ms(1000), State::Running).unwrap();
        assert_eq!(
            (dec.to, dec.reason),
            (State::WaitingInput, Some(WaitReason::Prompt))
        );
        d.observe_text(BUSY_SCREEN);
        let dec = d.step(t0 + ms(1100), State::WaitingInput).unwrap();
        assert_eq!(dec.to, State::Running);
        d.observe_text(DIALOG);
        assert_eq!(d.step(t0 + ms(1200), State::Running), None);
        let dec = d.step(t0 + ms(2200), State::Running).unwrap();
        assert_eq!(dec.reason, Some(WaitReason::Permission));
        // Not from stopping.
        d.observe_text(BUSY_SCREEN);
        assert_eq!(d.step(t0 + ms(2300), State::Stopping), None);
    }

    #[test]
    fn a_pinned_state_defers_a_contradicting_screen() {
        let t0 = Instant::now();
        let mut d = det();
        d.observe_text(BUSY_SCREEN);
        d.step(t0, State::Running).unwrap();
        // Stop hook while the last busy frame is on screen; the screen then redraws it.
        d.pin(
            ScreenVerdict::Waiting(WaitReason::Prompt),
            State::WaitingInput,
            t0 + ms(10),
        );
        assert_eq!(d.step(t0 + ms(20), State::WaitingInput), None, "deferred");
        d.observe_text(IDLE_SCREEN);
        assert_eq!(d.step(t0 + ms(60), State::WaitingInput), None);
        // At the end of the hold the prompt is pending: nothing to re-apply.
        assert_eq!(d.step(t0 + ms(1010), State::WaitingInput), None);
        let dec = d.step(t0 + ms(1060), State::WaitingInput).unwrap();
        assert_eq!(dec.to, State::WaitingInput, "agrees: a no-op for the host");
    }

    #[test]
    fn a_deferred_change_that_persists_is_applied_when_the_hold_ends() {
        let t0 = Instant::now();
        let mut d = det();
        d.observe_text(IDLE_SCREEN);
        d.step(t0, State::Running);
        d.step(t0 + ms(1000), State::Running).unwrap();
        // A Stop hook, but the agent goes on working (another hook blocked the stop).
        d.pin(
            ScreenVerdict::Waiting(WaitReason::Prompt),
            State::WaitingInput,
            t0 + ms(1100),
        );
        d.observe_text(BUSY_SCREEN);
        assert_eq!(d.step(t0 + ms(1200), State::WaitingInput), None);
        assert_eq!(d.next_wake(), Some(t0 + ms(2100)));
        let dec = d.step(t0 + ms(2100), State::WaitingInput).unwrap();
        assert_eq!(dec.to, State::Running);
    }

    #[test]
    fn a_submitted_input_needs_a_fresh_prompt() {
        let t0 = Instant::now();
        let mut d = det();
        d.observe_text(IDLE_SCREEN);
        d.step(t0, State::Running);
        d.step(t0 + ms(1000), State::Running).unwrap();
        // Send: running at once; the unchanged idle screen must hold again.
        d.pin(ScreenVerdict::Busy, State::Running, t0 + ms(2000));
        assert_eq!(d.step(t0 + ms(2001), State::Running), None);
        assert_eq!(d.step(t0 + ms(2999), State::Running), None);
        let dec = d.step(t0 + ms(3001), State::Running).unwrap();
        assert_eq!(dec.to, State::WaitingInput);
    }

    /// The real captures (`tests/data/agents/raw`) through the host's emulator and the
    /// detector, frames 20 ms apart and the detector also woken at its deadlines, applying
    /// its decisions like the host does: the recorded states of a real session.
    fn replay(agent: &str) -> Vec<(State, Option<WaitReason>)> {
        let path = format!(
            "{}/tests/data/agents/raw/{agent}.raw",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read(&path).unwrap();
        let mut screen = crate::host::screen::Screen::new(35, 120);
        let mut d = Detector::new(
            ScreenRules::builtin(agent),
            Some(agent.into()),
            None,
            ms(100),
        );
        let mut state = State::Running;
        let mut out = Vec::new();
        let mut apply = |dec: Option<Decision>, state: &mut State| {
            if let Some(dec) = dec {
                if out.last() != Some(&(dec.to, dec.reason)) {
                    out.push((dec.to, dec.reason));
                }
                *state = dec.to;
            }
        };
        let mut t = Instant::now();
        let end_of_frame = b"\x1b[?2026l";
        let mut rest: &[u8] = &data;
        while !rest.is_empty() {
            // A frame ends at the end of a synchronized update or of a line.
            let cut = (0..rest.len())
                .find_map(|i| {
                    if rest[i..].starts_with(end_of_frame) {
                        Some(i + end_of_frame.len())
                    } else {
                        (rest[i] == b'\n').then_some(i + 1)
                    }
                })
                .unwrap_or(rest.len());
            let (frame, tail) = rest.split_at(cut);
            rest = tail;
            t += ms(20);
            if let Some(w) = d.next_wake().filter(|&w| w <= t) {
                let dec = d.step(w, state);
                apply(dec, &mut state);
            }
            screen.process(frame);
            d.observe_text(&screen.text());
            let dec = d.step(t, state);
            apply(dec, &mut state);
        }
        if let Some(w) = d.next_wake() {
            let dec = d.step(w, state);
            apply(dec, &mut state);
        }
        out
    }

    #[test]
    fn real_sessions_replayed_give_prompt_running_prompt() {
        let prompt = (State::WaitingInput, Some(WaitReason::Prompt));
        let running = (State::Running, None);
        assert_eq!(replay("claude"), [prompt, running, prompt]);
        assert_eq!(replay("codex"), [prompt, running, prompt]);
    }

    #[test]
    fn deadlines_never_stay_in_the_past() {
        let t0 = Instant::now();
        let mut d = det();
        // A hook before anything was classified.
        d.pin(ScreenVerdict::Busy, State::Running, t0);
        assert_eq!(d.next_wake(), Some(t0 + PIN_HOLD));
        assert_eq!(d.step(t0 + PIN_HOLD, State::Running), None);
        assert_eq!(d.next_wake(), None);
        d.observe_text(IDLE_SCREEN);
        d.step(t0 + PIN_HOLD, State::Running);
        let w = d.next_wake().unwrap();
        d.step(w, State::Running).unwrap();
        assert_eq!(d.next_wake(), None);
    }

    #[test]
    fn session_ids_are_reported_once() {
        let mut d = det();
        let id = "d51bbbc0-eb7d-413a-a6a4-93b5b853bcad";
        let text = format!("claude --resume {id}");
        assert_eq!(d.observe_text(&text).as_deref(), Some(id));
        assert_eq!(d.observe_text(&text), None);
        // Once the agent itself told its id, a screen showing another one changes nothing.
        assert!(d.note_session_id("11111111-eb7d-413a-a6a4-93b5b853bcad", true));
        assert_eq!(d.observe_text(&text), None);
        let mut launched = Detector::new(None, Some("claude".into()), Some(id.into()), ms(1000));
        assert_eq!(
            launched.observe_text("claude --resume 22222222-eb7d-413a-a6a4-93b5b853bcad"),
            None
        );
        let mut custom = Detector::new(None, None, None, ms(1000));
        assert!(!custom.enabled());
        assert_eq!(custom.observe_text(&text), None);
        assert_eq!(custom.step(Instant::now(), State::Running), None);
    }
}
