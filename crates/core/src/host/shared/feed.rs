//! Agent output on its way to the screen model and to attached clients: the [`Feed`] the
//! reader fills, bringing the screen up to date from it, and attaching/detaching clients.

use super::super::screen::Screen;
use super::Shared;
use crate::model::clock::now_iso;
use crate::model::protocol::ScreenReply;
use crate::model::state::State;
use crate::store::{self, Column};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

/// What the host sends an attached client's writer thread.
pub enum ClientMsg {
    Output(Arc<[u8]>),
    Exit(State),
}

/// Chunks queued per attached client before it counts as stuck and is dropped; the agent is
/// never slowed down by a slow viewer. A chunk is one batch of the reader (up to 64 KiB in a
/// flood), so this bounds a stuck viewer's queue at 64 MiB.
const CLIENT_QUEUE: usize = 1024;

/// Output kept for the screen model when it falls behind: enough to repaint any screen.
/// During a flood the emulator sees only this tail of each interval's output; the log
/// always has every byte.
const FEED_TAIL: usize = 32 * 1024;

#[derive(Default)]
pub(super) struct Feed {
    pub(super) pending: Vec<u8>,
    /// Bytes were dropped from the front of `pending`.
    truncated: bool,
    /// Bumped whenever output is taken out for the screen: the screen changed.
    pub(super) taken: u64,
    pub(super) clients: Vec<Client>,
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

pub(super) struct Client {
    id: u64,
    pub(super) tx: SyncSender<ClientMsg>,
    read_only: bool,
}

impl Shared {
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
        self.scan_agent_status(chunk);
        *self.last_output_at.lock() = Some(now_iso());
        self.note_activity();
    }

    /// Applies queued output to the screen model and answers terminal queries found in it.
    /// Returns the locked, current screen.
    pub(super) fn sync_screen(&self) -> parking_lot::MutexGuard<'_, Screen> {
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
}
