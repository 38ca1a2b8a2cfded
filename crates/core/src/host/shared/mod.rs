//! State shared by the host's threads.

use super::detector::Detector;
use super::screen::Screen;
use super::AgentExit;
use crate::config::detect::ScreenVerdict;
use crate::model::clock::now_iso;
use crate::model::protocol::{AgentEventRequest, ScreenReply};
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::launch_spec::LaunchSpec;
use crate::store::{self, Column, Store, Updates};
use parking_lot::{Condvar, Mutex};
use portable_pty::MasterPty;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the host sends an attached client's writer thread.
pub enum ClientMsg {
    Output(Arc<[u8]>),
    Exit(State),
}

/// Chunks queued per attached client before it counts as stuck and is dropped; the agent is
/// never slowed down by a slow viewer.
const CLIENT_QUEUE: usize = 4096;

/// Output kept for the screen model when it falls behind: enough to repaint any screen.
/// During a flood the emulator sees only this tail of each interval's output; the log
/// always has every byte.
const FEED_TAIL: usize = 32 * 1024;
/// Shortest interval between two emulator passes while output flows.
pub const SCREEN_TICK: Duration = Duration::from_millis(25);

/// Pause between two presses of an interrupt key (opencode needs Esc twice).
const INTERRUPT_GAP: Duration = Duration::from_millis(200);

#[derive(Default)]
struct Feed {
    pending: Vec<u8>,
    /// Bytes were dropped from the front of `pending`.
    truncated: bool,
    /// Bumped whenever output is taken out for the screen: the screen changed.
    taken: u64,
    clients: Vec<Client>,
}

impl Feed {
    fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
        if self.pending.len() > 2 * FEED_TAIL {
            let cut = self.pending.len() - FEED_TAIL;
            self.pending.drain(..cut);
            self.truncated = true;
        }
    }

    /// Takes the queued output out, leaving an empty queue.
    fn take(&mut self) -> (Vec<u8>, bool) {
        if !self.pending.is_empty() {
            self.taken += 1;
        }
        let truncated = std::mem::take(&mut self.truncated);
        (std::mem::take(&mut self.pending), truncated)
    }

    fn apply_to(&mut self, screen: &mut Screen) {
        let (bytes, truncated) = self.take();
        apply(screen, &bytes, truncated);
    }
}

fn apply(screen: &mut Screen, bytes: &[u8], truncated: bool) {
    let mut bytes = bytes;
    if truncated {
        // Cancel any escape sequence cut in half, and restart at a line boundary.
        screen.process(b"\x18");
        if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            bytes = &bytes[nl + 1..];
        }
    }
    if !bytes.is_empty() {
        screen.process(bytes);
    }
}

struct Client {
    id: u64,
    tx: SyncSender<ClientMsg>,
    read_only: bool,
}

mod state;
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
    pub stop_requested: AtomicBool,
    /// The stop is a suspend: end as suspended when the agent's session id is known.
    pub suspend_requested: AtomicBool,
    pub escalation_started: AtomicBool,
    /// Input was submitted and its turn has not settled yet: the next settle records the
    /// screen as the turn's reply (see `SessionManager::history`).
    turn_open: AtomicBool,
    /// Set once the final state is recorded.
    ended: Mutex<Option<State>>,
    ended_cv: Condvar,
    /// Replies still being written when the session ends; the host waits for them.
    pub pending_replies: AtomicUsize,
    /// Output the log could not keep (a full disk).
    pub lost: Arc<super::lost::LostOutput>,
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
            stop_requested: AtomicBool::new(false),
            suspend_requested: AtomicBool::new(false),
            turn_open: AtomicBool::new(false),
            escalation_started: AtomicBool::new(false),
            ended: Mutex::new(None),
            ended_cv: Condvar::new(),
            pending_replies: AtomicUsize::new(0),
            lost,
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

    /// The turn has settled: its reply, for agents whose own records we cannot read, is
    /// the screen as it stands now.
    fn record_reply(&self) {
        let text = self.snapshot().text;
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if let Err(e) = self.store.lock().add_message(self.id(), "assistant", text) {
            eprintln!("agent-sessions host: recording a reply: {e}");
        }
    }

    /// Records text the user sent (with Enter) as a `user` message, and any input as an
    /// `input` event.
    pub fn record_input(&self, text: &str, enter: bool, keys: bool) {
        let data = if keys {
            serde_json::json!({"keys": text})
        } else {
            serde_json::json!({"text": text, "enter": enter})
        };
        let message = (enter && !keys && !text.trim().is_empty()).then_some(text);
        if let Err(e) = self.store.lock().record_input(self.id(), &data, message) {
            eprintln!("agent-sessions host: recording input: {e}");
        }
    }

    /// Freezes the agent's process group; the session reads paused until [`Shared::resume`].
    pub fn pause(&self) -> std::result::Result<(), String> {
        let state = self.state();
        if state == State::Paused {
            return Ok(());
        }
        if !matches!(
            state,
            State::Starting | State::Running | State::WaitingInput
        ) {
            return Err(format!(
                "session {} is {state}, so it cannot be paused",
                self.id()
            ));
        }
        self.signal_all(nix::sys::signal::Signal::SIGSTOP);
        self.set_state(
            &[State::Starting, State::Running, State::WaitingInput],
            State::Paused,
            "pause requested",
            Source::User,
            vec![],
        );
        Ok(())
    }

    /// Thaws the agent's process group after [`Shared::pause`]; the state is running until
    /// the screen (or output silence) says otherwise.
    pub fn resume(&self) -> std::result::Result<(), String> {
        let state = self.state();
        if state != State::Paused {
            if matches!(state, State::Running | State::WaitingInput) {
                return Ok(()); // nothing to continue
            }
            return Err(format!(
                "session {} is {state}, so it cannot be continued",
                self.id()
            ));
        }
        self.signal_all(nix::sys::signal::Signal::SIGCONT);
        // Quiet time starts now: the frozen stretch was not the agent being idle.
        self.note_activity();
        self.set_state(
            &[State::Paused],
            State::Running,
            "continue requested",
            Source::User,
            vec![],
        );
        // Let the detector look at the screen afresh.
        self.poke_screen();
        Ok(())
    }

    /// Signals the agent's process group, and the terminal's foreground group when a shell
    /// has put a job there.
    pub fn signal_all(&self, sig: nix::sys::signal::Signal) {
        use nix::sys::signal::killpg;
        use nix::unistd::Pid;
        let _ = killpg(Pid::from_raw(self.agent_pid as i32), sig);
        if let Some(fg) = self.foreground_group() {
            if fg != self.agent_pid as i32 && fg > 1 {
                let _ = killpg(Pid::from_raw(fg), sig);
            }
        }
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

    pub fn activity_seq(&self) -> u64 {
        self.activity_seq.load(Ordering::Relaxed)
    }

    /// Handles a chunk of agent output (already appended to the log by the reader): queue
    /// it for the screen model and pass it to attached clients. Cheap by design: the
    /// emulator runs on its own thread, so a flood is captured at raw-PTY speed.
    pub fn on_output(&self, chunk: &[u8]) {
        let mut feed = self.feed.lock();
        feed.push(chunk);
        if !feed.clients.is_empty() {
            let shared: Arc<[u8]> = Arc::from(chunk);
            // A full queue means a stuck viewer: dropping its sender lets its writer thread
            // drain what is queued and disconnect it, instead of showing it a torn stream.
            feed.clients
                .retain(|c| c.tx.try_send(ClientMsg::Output(shared.clone())).is_ok());
        }
        if self.screen_wants_output.swap(false, Ordering::AcqRel) {
            self.screen_wake.notify_one();
        }
        drop(feed);
        *self.last_output_at.lock() = Some(now_iso());
        self.note_activity();
    }

    /// Applies queued output to the screen model and answers terminal queries found in it.
    /// Returns the locked, current screen.
    fn sync_screen(&self) -> parking_lot::MutexGuard<'_, Screen> {
        let mut screen = self.screen.lock();
        let (bytes, truncated, answer_here) = {
            let mut feed = self.feed.lock();
            let (bytes, truncated) = feed.take();
            (bytes, truncated, feed.clients.iter().all(|c| c.read_only))
        };
        // Outside the feed lock: the reader never waits for the emulator.
        apply(&mut screen, &bytes, truncated);
        let answers = screen.take_query_answers();
        // A real terminal attached for input answers queries itself.
        if answer_here && !answers.is_empty() {
            let _ = self.writer.lock().write_all(&answers);
        }
        screen
    }

    /// The screen thread: keeps the screen model current while output flows, at most
    /// [`SCREEN_TICK`] apart, so agents get their query answers and the screen is fresh,
    /// without an emulator pass per PTY read. For agents with screen rules it classifies
    /// every new screen and drives the state (see [`super::detector`]); between changes it
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
            }
            if fed {
                std::thread::sleep(SCREEN_TICK);
            }
        }
    }

    /// Classifies new screen text (if any) and applies what the detector decides.
    fn detect_step(&self, text: Option<&str>) {
        let mut d = self.detector.lock();
        let before = d.raw();
        if let Some(id) = text.and_then(|t| d.observe_text(t)) {
            self.update(vec![(Column::AgentSessionId, store::text(id))]);
        }
        if d.raw() != before {
            // The quiet timer only acts on unrecognised screens: let it look again.
            self.wake_timer();
        }
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
                crate::services::trim::release_code_pages();
            }
        }
    }

    /// Wakes the screen thread to run the detector (a pin changed its deadlines).
    fn poke_screen(&self) {
        self.screen_poke.store(true, Ordering::Release);
        let _feed = self.feed.lock();
        self.screen_wake.notify_all();
    }

    /// The current screen's verdict (not debounced), for the quiet timer and stop.
    pub fn screen_verdict(&self) -> Option<ScreenVerdict> {
        self.detector.lock().raw()
    }

    /// Whether the agent has screen rules.
    pub fn screen_detection(&self) -> bool {
        self.detector.lock().enabled()
    }

    /// The user submitted input (a send with Enter): the session is running from now on,
    /// before the agent even redraws, so a `wait --state waiting_input` that follows can
    /// never return on the waiting state from before the send.
    pub fn user_submitted(&self) {
        self.turn_open.store(true, Ordering::Release);
        let mut d = self.detector.lock();
        self.set_state(
            &[State::WaitingInput],
            State::Running,
            "input submitted",
            Source::User,
            vec![],
        );
        d.pin(ScreenVerdict::Busy, State::Running, Instant::now());
        drop(d);
        self.poke_screen();
    }

    /// An event the agent reported through its own hook (see [`crate::services::claude_hooks`]).
    pub fn on_agent_event(&self, ev: &AgentEventRequest) {
        if let Some(id) = ev.agent_session_id.as_deref() {
            let new = self.detector.lock().note_session_id(id, true);
            if new {
                self.update(vec![(Column::AgentSessionId, store::text(id))]);
            }
        }
        let Some((to, reason, cause)) = crate::services::claude_hooks::interpret(ev) else {
            return;
        };
        let mut d = self.detector.lock();
        let went_idle = self.set_state_with(
            &[State::Running, State::WaitingInput],
            to,
            reason.map(|r| r.as_str()),
            &cause,
            Source::AgentHook,
            vec![],
        ) && to == State::WaitingInput;
        let now = Instant::now();
        match (to, reason) {
            (State::Running, _) => d.pin(ScreenVerdict::Busy, State::Running, now),
            (State::WaitingInput, Some(r)) => {
                d.pin(ScreenVerdict::Waiting(r), State::WaitingInput, now)
            }
            _ => {}
        }
        drop(d);
        self.poke_screen();
        if went_idle {
            crate::services::trim::release_code_pages();
        }
    }

    /// Sends the agent's interrupt, pressed as many times as it needs.
    pub fn send_interrupt(&self) -> std::io::Result<()> {
        for i in 0..self.spec.interrupt_presses.max(1) {
            if i > 0 {
                std::thread::sleep(INTERRUPT_GAP);
            }
            self.write_input(&self.spec.interrupt)?;
        }
        Ok(())
    }

    /// Writes bytes to the agent's terminal.
    pub fn write_input(&self, bytes: &[u8]) -> std::io::Result<()> {
        {
            let mut w = self.writer.lock();
            w.write_all(bytes)?;
            w.flush()?;
        }
        *self.last_input_at.lock() = Some(now_iso());
        self.note_activity();
        Ok(())
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

    /// The visible screen now.
    pub fn snapshot(&self) -> ScreenReply {
        self.sync_screen().snapshot()
    }

    /// Registers an attached client: returns the replay of the current screen and the queue
    /// of everything that follows it.
    pub fn attach(&self, read_only: bool) -> (Vec<u8>, u64, Receiver<ClientMsg>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(CLIENT_QUEUE);
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let mut screen = self.screen.lock();
        let mut feed = self.feed.lock();
        // Held together: nothing can slip between the replay and the live stream.
        feed.apply_to(&mut screen);
        let replay = screen.replay_bytes();
        if let Some(state) = *self.ended.lock() {
            let _ = tx.try_send(ClientMsg::Exit(state));
        }
        feed.clients.push(Client { id, tx, read_only });
        let n = feed.clients.len();
        drop(feed);
        drop(screen);
        self.update(vec![(Column::AttachedClients, store::int(n as i64))]);
        (replay, id, rx)
    }

    pub fn detach(&self, client: u64) {
        let mut feed = self.feed.lock();
        feed.clients.retain(|c| c.id != client);
        let n = feed.clients.len();
        drop(feed);
        if self.ended.lock().is_none() {
            self.update(vec![(Column::AttachedClients, store::int(n as i64))]);
        }
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

    /// Records output the log could not keep (see [`super::lost`]); a failure is retried at
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

impl Shared {
    /// The terminal's foreground process group, if any.
    pub fn foreground_group(&self) -> Option<i32> {
        self.master.lock().process_group_leader()
    }
}
