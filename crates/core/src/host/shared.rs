//! State shared by the host's threads.

use super::screen::Screen;
use super::spec::LaunchSpec;
use super::AgentExit;
use crate::clock::now_iso;
use crate::protocol::ScreenReply;
use crate::state::State;
use crate::store::{self, Column, Guard, Store, Updates};
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

#[derive(Default)]
struct Feed {
    pending: Vec<u8>,
    /// Bytes were dropped from the front of `pending`.
    truncated: bool,
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
    screen_wake: Condvar,
    next_client: AtomicU64,
    master: Mutex<Box<dyn MasterPty + Send>>,
    writer: Mutex<Box<dyn Write + Send>>,
    /// The current state; held while the store is written so transitions stay ordered.
    state: Mutex<State>,
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
    pub escalation_started: AtomicBool,
    /// Set once the final state is recorded.
    ended: Mutex<Option<State>>,
    ended_cv: Condvar,
    /// Replies still being written when the session ends; the host waits for them.
    pub pending_replies: AtomicUsize,
}

impl Shared {
    pub fn new(
        spec: LaunchSpec,
        store: Store,
        master: Box<dyn MasterPty + Send>,
        writer: Box<dyn Write + Send>,
        agent_pid: u32,
    ) -> Shared {
        let screen = Screen::new(spec.rows, spec.cols);
        Shared {
            spec,
            agent_pid,
            epoch: Instant::now(),
            store: Mutex::new(store),
            screen: Mutex::new(screen),
            feed: Mutex::new(Feed::default()),
            screen_wants_output: AtomicBool::new(false),
            screen_wake: Condvar::new(),
            next_client: AtomicU64::new(1),
            master: Mutex::new(master),
            writer: Mutex::new(writer),
            state: Mutex::new(State::Running),
            last_activity: AtomicU64::new(0),
            activity_seq: AtomicU64::new(0),
            last_output_at: Mutex::new(None),
            last_input_at: Mutex::new(None),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            timer_wants_activity: AtomicBool::new(true),
            stop_requested: AtomicBool::new(false),
            escalation_started: AtomicBool::new(false),
            ended: Mutex::new(None),
            ended_cv: Condvar::new(),
            pending_replies: AtomicUsize::new(0),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.session_id
    }

    pub fn state(&self) -> State {
        *self.state.lock()
    }

    /// Records a transition if the current state is one of `from` (any non-ended state when
    /// `from` is empty). Returns whether it happened.
    pub fn set_state(
        &self,
        from: &[State],
        to: State,
        cause: &str,
        source: &str,
        mut updates: Updates,
    ) -> bool {
        let mut current = self.state.lock();
        let allowed = if from.is_empty() {
            !current.is_ended()
        } else {
            from.contains(&current)
        };
        if !allowed || *current == to {
            return false;
        }
        if let Some(t) = self.last_output_at.lock().clone() {
            updates.push((Column::LastOutputAt, store::text(t)));
        }
        if let Some(t) = self.last_input_at.lock().clone() {
            updates.push((Column::LastInputAt, store::text(t)));
        }
        let guard = if from.is_empty() {
            Guard::NotEnded
        } else {
            Guard::From(from)
        };
        match self
            .store
            .lock()
            .transition(self.id(), to, cause, source, guard, &updates)
        {
            Ok(_) => {}
            // The store is the source of truth, but a failed write must not kill the session:
            // log it; the next transition will try again.
            Err(e) => eprintln!("agent-sessions host: recording {to}: {e}"),
        }
        *current = to;
        drop(current);
        self.wake_timer();
        true
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
    /// without an emulator pass per PTY read.
    pub fn run_screen_thread(&self) {
        loop {
            {
                let mut feed = self.feed.lock();
                while feed.pending.is_empty() && self.ended.lock().is_none() {
                    self.screen_wants_output.store(true, Ordering::Release);
                    self.screen_wake.wait(&mut feed);
                }
            }
            if self.ended.lock().is_some() {
                return;
            }
            drop(self.sync_screen());
            std::thread::sleep(SCREEN_TICK);
        }
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

        let stop_requested = self.stop_requested.load(Ordering::SeqCst);
        let (to, cause) = match exit {
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
        if to == State::Failed {
            updates.push((Column::StateReason, store::text(cause.clone())));
        }
        self.set_state(&[], to, &cause, "process", updates);

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
    }
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
    }
}

impl Shared {
    /// The terminal's foreground process group, if any.
    pub fn foreground_group(&self) -> Option<i32> {
        self.master.lock().process_group_leader()
    }
}
