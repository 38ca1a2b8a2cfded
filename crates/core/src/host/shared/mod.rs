//! State shared by the host's threads: the [`Shared`] struct, its construction and small
//! accessors, activity bookkeeping and the idle timer's wake-ups. The rest lives in child
//! modules, one job each: `feed` (output to the screen model and attached clients),
//! `screen_thread` (the emulator and detector thread), `input` (what goes to the agent:
//! input, interrupts, pause/resume, hook events), `finish` (the ending) and `state` (the
//! host's side of the state machine).

use super::detector::Detector;
use super::screen::Screen;
use crate::model::error::Result;
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::launch_spec::LaunchSpec;
use crate::store::{self, Column, Store, Updates};
use parking_lot::{Condvar, Mutex};
use portable_pty::MasterPty;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod agent_status;
mod feed;
mod finish;
mod input;
mod screen_thread;
mod state;

pub use feed::ClientMsg;
use feed::Feed;
use state::{Current, Pending};

/// Everything the host's threads share.
pub struct Shared {
    pub spec: LaunchSpec,
    pub agent_pid: u32,
    epoch: Instant,
    store: Mutex<Store>,
    /// The screen model, brought up to date from `feed` lazily (see [`Shared::sync_screen`]).
    /// Lock order: `screen` before `feed`, so an attaching client gets a replay and then
    /// exactly the bytes that follow it.
    screen: Mutex<Screen>,
    /// Output not yet applied to the screen, and the attached clients.
    feed: Mutex<Feed>,
    /// Set by the screen thread when it waits for output.
    screen_wants_output: AtomicBool,
    /// Asks the screen thread to run the detector now (its deadlines changed).
    screen_poke: AtomicBool,
    screen_wake: Condvar,
    /// Screen rules, debouncer and arbitration between state sources. Lock order:
    /// `detector`, then `state`, then `store`.
    detector: Mutex<Detector>,
    next_client: AtomicU64,
    master: Mutex<Box<dyn MasterPty + Send>>,
    writer: Mutex<Box<dyn Write + Send>>,
    /// The current state, its reason and source; held while the store is written so
    /// transitions stay ordered.
    state: Mutex<Current>,
    /// A change the store could not take (disk full, locked too long): retried by the idle
    /// timer and before the host exits, so the store catches up with what the host saw.
    pending: Mutex<Option<Pending>>,
    /// Nanoseconds since `epoch` of the last output or input.
    last_activity: AtomicU64,
    /// Bumped on every output or input; lets the idle timer see activity it slept through.
    activity_seq: AtomicU64,
    last_output_at: Mutex<Option<String>>,
    last_input_at: Mutex<Option<String>>,
    /// Wakes the idle timer.
    wake: Mutex<bool>,
    wake_cv: Condvar,
    /// Set by the timer when it wants to hear about the next output or input.
    timer_wants_activity: AtomicBool,
    /// The sampler is asleep and wants a poke at the next activity.
    sampler_wants_activity: AtomicBool,
    sampler_wake: std::sync::OnceLock<crate::services::telemetry::StopSignal>,
    pub stop_requested: AtomicBool,
    /// The stop is a suspend: end as suspended when the agent's session id is known.
    pub suspend_requested: AtomicBool,
    pub escalation_started: AtomicBool,
    /// Input was submitted and its turn has not settled yet: the next settle records the
    /// screen as the turn's reply (see `SessionManager::history`).
    turn_open: AtomicBool,
    /// The session has been waiting_input at least once (the agent was ready).
    waited_once: AtomicBool,
    /// An "idle" status the agent reported before it was ever ready, applied by the timer
    /// thread once it has held (see `agent_status`).
    deferred_status: Mutex<Option<(Instant, super::program_status::ProgramStatus)>>,
    /// Set once the final state is recorded.
    ended: Mutex<Option<State>>,
    ended_cv: Condvar,
    /// Replies still being written when the session ends; the host waits for them.
    pub pending_replies: AtomicUsize,
    /// Output the log could not keep (a full disk).
    pub lost: Arc<super::lost::LostOutput>,
    /// Finds the status the agent writes to its terminal, across reads.
    status_scanner: Mutex<super::program_status::Scanner>,
    /// Statuses found and not yet applied (see `agent_status`).
    status_queue: Mutex<Vec<super::program_status::ProgramStatus>>,
    /// The screen text the detector last looked at, for a dialog's options.
    last_screen: Mutex<String>,
    /// The tool and input of the agent's last permission request hook, until the wait ends.
    last_request: Mutex<Option<(Option<String>, Option<serde_json::Value>)>>,
    /// The request recorded for the current wait, if any.
    current_request: Mutex<Option<crate::model::pending::PendingRequest>>,
    /// A hook holding the agent's permission request open for a decision (opencode's
    /// plugin), with the agent's request id: `decide` sends the decision to it.
    decision_waiter: Mutex<Option<(String, std::sync::mpsc::SyncSender<serde_json::Value>)>>,
}

impl Shared {
    pub fn new(
        spec: LaunchSpec,
        store: Store,
        master: Box<dyn MasterPty + Send>,
        writer: Box<dyn Write + Send>,
        agent_pid: u32,
        lost: Arc<super::lost::LostOutput>,
    ) -> Shared {
        let screen = Screen::new(spec.rows, spec.cols);
        let detector = Detector::new(
            spec.rules.clone(),
            spec.session_id_agent.clone(),
            spec.agent_session_id.clone(),
            Duration::from_millis(spec.debounce_ms),
        );
        Shared {
            spec,
            agent_pid,
            epoch: Instant::now(),
            store: Mutex::new(store),
            screen: Mutex::new(screen),
            feed: Mutex::new(Feed::default()),
            screen_wants_output: AtomicBool::new(false),
            screen_poke: AtomicBool::new(false),
            screen_wake: Condvar::new(),
            detector: Mutex::new(detector),
            next_client: AtomicU64::new(1),
            master: Mutex::new(master),
            writer: Mutex::new(writer),
            state: Mutex::new(Current {
                state: State::Running,
                reason: None,
                source: Source::Process,
            }),
            pending: Mutex::new(None),
            last_activity: AtomicU64::new(0),
            activity_seq: AtomicU64::new(0),
            last_output_at: Mutex::new(None),
            last_input_at: Mutex::new(None),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            timer_wants_activity: AtomicBool::new(true),
            sampler_wants_activity: AtomicBool::new(false),
            sampler_wake: std::sync::OnceLock::new(),
            stop_requested: AtomicBool::new(false),
            suspend_requested: AtomicBool::new(false),
            turn_open: AtomicBool::new(false),
            waited_once: AtomicBool::new(false),
            deferred_status: Mutex::new(None),
            escalation_started: AtomicBool::new(false),
            ended: Mutex::new(None),
            ended_cv: Condvar::new(),
            pending_replies: AtomicUsize::new(0),
            lost,
            status_scanner: Mutex::new(Default::default()),
            status_queue: Mutex::new(Vec::new()),
            last_screen: Mutex::new(String::new()),
            last_request: Mutex::new(None),
            current_request: Mutex::new(None),
            decision_waiter: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.session_id
    }

    pub fn state(&self) -> State {
        self.state.lock().state
    }

    /// What decided the current state.
    pub fn state_source(&self) -> Source {
        self.state.lock().source
    }

    /// Sets columns without a state change; failures are logged, not fatal.
    pub fn update(&self, updates: Updates) {
        if let Err(e) = self.store.lock().update(self.id(), &updates) {
            eprintln!("agent-sessions host: updating record: {e}");
        }
    }

    fn nanos_now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn note_activity(&self) {
        self.last_activity
            .store(self.nanos_now(), Ordering::Relaxed);
        self.activity_seq.fetch_add(1, Ordering::Relaxed);
        // One atomic swap per chunk; the timer is woken only when it asked to be.
        if self.timer_wants_activity.swap(false, Ordering::AcqRel) {
            self.wake_timer();
        }
        // Likewise the telemetry sampler, which sleeps long while the tree is idle.
        if self.sampler_wants_activity.swap(false, Ordering::AcqRel) {
            if let Some(s) = self.sampler_wake.get() {
                s.poke();
            }
        }
    }

    /// Gives the host the signal that wakes its telemetry sampler on activity.
    pub fn set_sampler_wake(&self, signal: crate::services::telemetry::StopSignal) {
        let _ = self.sampler_wake.set(signal);
    }

    /// The sampler asks to be poked at the next output or input.
    pub fn arm_sampler_wake(&self) {
        self.sampler_wants_activity.store(true, Ordering::Release);
    }

    /// Writes the activity timestamps to the store.
    pub fn flush_activity(&self) {
        let mut updates = Updates::new();
        if let Some(t) = self.last_output_at.lock().clone() {
            updates.push((Column::LastOutputAt, store::text(t)));
        }
        if let Some(t) = self.last_input_at.lock().clone() {
            updates.push((Column::LastInputAt, store::text(t)));
        }
        if !updates.is_empty() {
            self.update(updates);
        }
    }

    /// When output or input last happened.
    pub fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.last_activity.load(Ordering::Relaxed))
    }

    /// Shrinks the host to what waiting needs: the store connection's caches and the code
    /// and heap pages start-up and the last burst of work left resident (see
    /// `services::trim`).
    pub fn release_idle_memory(&self) {
        self.store.lock().release_memory();
        crate::services::trim::release_code_pages();
    }

    /// Runs `f` with the host's store connection (the sampler writes through it).
    pub fn with_store(&self, f: &mut dyn FnMut(&Store) -> Result<()>) -> Result<()> {
        f(&self.store.lock())
    }

    pub fn activity_seq(&self) -> u64 {
        self.activity_seq.load(Ordering::Relaxed)
    }

    /// Resizes the PTY (the agent gets SIGWINCH) and the screen model.
    pub fn resize(&self, cols: u16, rows: u16) {
        if cols == 0 || rows == 0 {
            return;
        }
        let _ = self.master.lock().resize(portable_pty::PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        });
        self.screen.lock().resize(rows, cols);
    }

    fn wake_timer(&self) {
        *self.wake.lock() = true;
        self.wake_cv.notify_all();
    }

    /// Sleeps until woken or until `deadline`; `on_activity` asks to be woken by the next
    /// output or input too.
    pub fn sleep_until(&self, deadline: Option<Instant>, on_activity: bool) {
        let mut woken = self.wake.lock();
        self.timer_wants_activity
            .store(on_activity, Ordering::Release);
        if !*woken {
            match deadline {
                Some(d) => {
                    self.wake_cv.wait_until(&mut woken, d);
                }
                None => self.wake_cv.wait(&mut woken),
            }
        }
        *woken = false;
    }

    /// The final state, once recorded.
    pub fn ended(&self) -> Option<State> {
        *self.ended.lock()
    }

    /// Waits until the session has ended or `deadline` passes.
    pub fn wait_ended(&self, deadline: Option<Instant>) -> Option<State> {
        let mut ended = self.ended.lock();
        while ended.is_none() {
            match deadline {
                Some(d) => {
                    if self.ended_cv.wait_until(&mut ended, d).timed_out() {
                        break;
                    }
                }
                None => self.ended_cv.wait(&mut ended),
            }
        }
        *ended
    }

    /// The terminal's foreground process group, if any.
    pub fn foreground_group(&self) -> Option<i32> {
        self.master.lock().process_group_leader()
    }
}
