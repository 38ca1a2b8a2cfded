//! Turning per-screen verdicts into stable state changes.

use super::ScreenVerdict;
use std::time::{Duration, Instant};

/// Debounces screen verdicts: busy is reported at once, anything else only once the screen
/// has shown it continuously for `idle_after`.
///
/// Pure: the caller passes the time of each observation, so a test can step the clock. Feed
/// it a verdict whenever the screen changes, and call [`Debouncer::observe`] again at
/// [`Debouncer::next_deadline`] (with the unchanged verdict) so a pending transition can fire
/// on a silent screen.
#[derive(Debug, Clone)]
pub struct Debouncer {
    idle_after: Duration,
    reported: Option<ScreenVerdict>,
    /// A verdict that differs from `reported` and the time it was first seen, unbroken since.
    pending: Option<(ScreenVerdict, Instant)>,
}

impl Debouncer {
    /// A debouncer that has reported nothing yet.
    pub fn new(idle_after: Duration) -> Self {
        Debouncer {
            idle_after,
            reported: None,
            pending: None,
        }
    }

    /// How long a non-busy verdict must hold before it is reported.
    pub fn idle_after(&self) -> Duration {
        self.idle_after
    }

    /// The verdict reported last, if any.
    pub fn reported(&self) -> Option<ScreenVerdict> {
        self.reported
    }

    /// Feed the verdict for the screen as of `now`; returns `Some(new stable verdict)` when
    /// the reported verdict changes.
    ///
    /// `Busy` is reported at once (busy wins fast). `Waiting(..)` is reported only after the
    /// screen has shown the same `Waiting` verdict continuously for `idle_after`. `Unknown`
    /// never overrides a previous verdict until it has persisted `idle_after` too. Flicker
    /// (Busy → Waiting → Busy within `idle_after`) produces no change. Observing the reported
    /// verdict again cancels any pending change; a different pending verdict restarts the
    /// wait. A `now` earlier than a previous one counts as no time passed.
    pub fn observe(&mut self, verdict: ScreenVerdict, now: Instant) -> Option<ScreenVerdict> {
        if self.reported == Some(verdict) {
            self.pending = None;
            return None;
        }
        if verdict == ScreenVerdict::Busy {
            return self.report(verdict);
        }
        let since = match self.pending {
            Some((pending, since)) if pending == verdict => since,
            _ => {
                self.pending = Some((verdict, now));
                now
            }
        };
        if now.saturating_duration_since(since) >= self.idle_after {
            return self.report(verdict);
        }
        None
    }

    /// When the caller should call [`Debouncer::observe`] again even if the screen does not
    /// change, so the pending transition can fire; `None` when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.map(|(_, since)| since + self.idle_after)
    }

    /// Takes `verdict` as reported without waiting, and drops any pending change: for when
    /// another source (the agent's own hook, or input the user just submitted) has decided
    /// the state. A later screen that differs from it is then a change again (and a waiting
    /// screen must hold for `idle_after` before it is reported).
    pub fn assume(&mut self, verdict: ScreenVerdict) {
        self.pending = None;
        self.reported = Some(verdict);
    }

    fn report(&mut self, verdict: ScreenVerdict) -> Option<ScreenVerdict> {
        self.pending = None;
        self.reported = Some(verdict);
        Some(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::detect::WaitReason;

    const IDLE: Duration = Duration::from_millis(1500);
    const PROMPT: ScreenVerdict = ScreenVerdict::Waiting(WaitReason::Prompt);
    const PERMISSION: ScreenVerdict = ScreenVerdict::Waiting(WaitReason::Permission);
    const BUSY: ScreenVerdict = ScreenVerdict::Busy;
    const UNKNOWN: ScreenVerdict = ScreenVerdict::Unknown;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn busy_is_reported_at_once_and_only_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.reported(), None);
        assert_eq!(d.observe(BUSY, t0), Some(BUSY));
        assert_eq!(d.observe(BUSY, t0 + ms(100)), None);
        assert_eq!(d.reported(), Some(BUSY));
        assert_eq!(d.next_deadline(), None);
    }

    #[test]
    fn waiting_needs_to_hold_for_idle_after() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(BUSY, t0), Some(BUSY));
        assert_eq!(d.observe(PROMPT, t0 + ms(100)), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(100) + IDLE));
        // Redraws of the same waiting screen do not restart the wait.
        assert_eq!(d.observe(PROMPT, t0 + ms(900)), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(100) + IDLE));
        assert_eq!(d.observe(PROMPT, t0 + ms(1599)), None);
        assert_eq!(d.reported(), Some(BUSY));
        // The timer fires at the deadline with the unchanged verdict.
        assert_eq!(d.observe(PROMPT, t0 + ms(1600)), Some(PROMPT));
        assert_eq!(d.reported(), Some(PROMPT));
        assert_eq!(d.next_deadline(), None);
        assert_eq!(d.observe(PROMPT, t0 + ms(5000)), None);
    }

    #[test]
    fn first_verdict_waiting_is_debounced_too() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(PROMPT, t0), None);
        assert_eq!(d.next_deadline(), Some(t0 + IDLE));
        assert_eq!(d.observe(PROMPT, t0 + IDLE), Some(PROMPT));
    }

    #[test]
    fn zero_idle_after_reports_immediately() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO);
        assert_eq!(d.observe(PROMPT, t0), Some(PROMPT));
        assert_eq!(d.observe(UNKNOWN, t0), Some(UNKNOWN));
    }

    #[test]
    fn flicker_produces_no_change() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(BUSY, t0), Some(BUSY));
        // Busy → Waiting → Busy, repeatedly, each waiting spell shorter than idle_after.
        let mut t = t0;
        for _ in 0..20 {
            t += ms(300);
            assert_eq!(d.observe(PROMPT, t), None);
            t += ms(1000);
            assert_eq!(d.observe(PROMPT, t), None);
            t += ms(100);
            assert_eq!(d.observe(BUSY, t), None);
            assert_eq!(d.next_deadline(), None, "busy cancels the pending wait");
        }
        assert_eq!(d.reported(), Some(BUSY));
        // A deadline-driven call after the flicker reports nothing either.
        assert_eq!(d.observe(BUSY, t + IDLE * 2), None);
    }

    #[test]
    fn long_silent_busy_stretch_stays_busy() {
        // The screen keeps showing the busy footer for 60 s without any redraw; the caller
        // only wakes up on its own timer now and then.
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(BUSY, t0), Some(BUSY));
        assert_eq!(d.next_deadline(), None, "nothing pending while busy");
        for s in (5..=60).step_by(5) {
            assert_eq!(d.observe(BUSY, t0 + Duration::from_secs(s)), None);
        }
        assert_eq!(d.reported(), Some(BUSY));
        // Then the reply ends and the prompt comes back.
        let end = t0 + Duration::from_secs(60);
        assert_eq!(d.observe(PROMPT, end), None);
        assert_eq!(d.observe(PROMPT, end + IDLE), Some(PROMPT));
    }

    #[test]
    fn unknown_does_not_override_until_it_persists() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(PROMPT, t0), None);
        assert_eq!(d.observe(PROMPT, t0 + IDLE), Some(PROMPT));
        // A short Unknown spell (a redraw in progress) changes nothing.
        let t1 = t0 + IDLE + ms(10);
        assert_eq!(d.observe(UNKNOWN, t1), None);
        assert_eq!(d.observe(UNKNOWN, t1 + ms(1000)), None);
        assert_eq!(d.observe(PROMPT, t1 + ms(1100)), None);
        assert_eq!(d.next_deadline(), None, "back to the reported verdict");
        assert_eq!(d.reported(), Some(PROMPT));
        // A persisting Unknown is reported after idle_after.
        let t2 = t1 + ms(2000);
        assert_eq!(d.observe(UNKNOWN, t2), None);
        assert_eq!(d.observe(UNKNOWN, t2 + IDLE), Some(UNKNOWN));
        // Unknown does not delay busy.
        assert_eq!(d.observe(BUSY, t2 + IDLE + ms(1)), Some(BUSY));
    }

    #[test]
    fn unknown_between_busy_and_waiting_does_not_end_busy_early() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        d.observe(BUSY, t0);
        assert_eq!(d.observe(UNKNOWN, t0 + ms(100)), None);
        assert_eq!(d.observe(UNKNOWN, t0 + ms(1500)), None);
        // A different pending verdict restarts the wait.
        assert_eq!(d.observe(PROMPT, t0 + ms(1590)), None);
        assert_eq!(d.observe(PROMPT, t0 + ms(1700)), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(1590) + IDLE));
        assert_eq!(d.observe(PROMPT, t0 + ms(1590) + IDLE), Some(PROMPT));
    }

    #[test]
    fn waiting_reason_change_is_debounced() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        d.observe(PROMPT, t0);
        assert_eq!(d.observe(PROMPT, t0 + IDLE), Some(PROMPT));
        assert_eq!(d.observe(PERMISSION, t0 + IDLE + ms(1)), None);
        assert_eq!(
            d.observe(PERMISSION, t0 + IDLE * 2 + ms(1)),
            Some(PERMISSION)
        );
    }

    #[test]
    fn assume_takes_a_verdict_from_elsewhere() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(IDLE);
        d.observe(PROMPT, t0);
        assert_eq!(d.observe(PROMPT, t0 + IDLE), Some(PROMPT));
        // Input was submitted: assume busy; the unchanged prompt must hold again.
        d.assume(BUSY);
        assert_eq!(d.reported(), Some(BUSY));
        assert_eq!(d.observe(PROMPT, t0 + IDLE + ms(10)), None);
        assert_eq!(d.observe(PROMPT, t0 + IDLE * 2 + ms(10)), Some(PROMPT));
        // A hook said the turn ended: a prompt screen is no change, a busy one is.
        d.assume(BUSY);
        d.assume(PROMPT);
        assert_eq!(d.next_deadline(), None);
        assert_eq!(d.observe(PROMPT, t0 + IDLE * 3), None);
        assert_eq!(d.observe(BUSY, t0 + IDLE * 3), Some(BUSY));
    }

    #[test]
    fn clock_going_backwards_counts_as_no_time() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut d = Debouncer::new(IDLE);
        assert_eq!(d.observe(PROMPT, t0), None);
        assert_eq!(d.observe(PROMPT, t0 - Duration::from_secs(5)), None);
        assert_eq!(d.observe(PROMPT, t0 + IDLE), Some(PROMPT));
    }
}
