//! Connections to one home's store for a process's threads, safe across `fork`.
//!
//! A `SessionManager` is shared by threads (Python threads, C callers, the server's tasks).
//! With one connection behind one mutex, every thread queues behind whichever is waiting out
//! SQLite's busy timeout, and a forked child inherits a connection SQLite forbids it to use.
//! So each caller takes a connection of its own from a small pool for the length of one
//! call, SQLite's own locking arbitrates between them (readers never wait in WAL mode), and a
//! pool that finds itself in a new process forgets the inherited connections (never closing
//! them: closing would release the parent's POSIX locks) and opens fresh ones.

use super::Store;
use crate::config::home::Home;
use crate::model::error::Result;
use parking_lot::Mutex;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

/// Idle connections kept for reuse; more may be open while many threads are busy at once.
const MAX_IDLE: usize = 4;

/// The store connections of one process.
pub struct StorePool {
    home: Home,
    /// The process the idle connections were opened in.
    pid: AtomicU32,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    /// Opens the first connection (creating and migrating the store if needed).
    pub fn open(home: &Home) -> Result<StorePool> {
        let first = Store::open(home)?;
        Ok(StorePool {
            home: home.clone(),
            pid: AtomicU32::new(std::process::id()),
            idle: Mutex::new(vec![first]),
        })
    }

    /// A pool for a short-lived process (the CLI) that opens its first connection on first
    /// use, not now: a process that has opened no store connection yet may still fork a
    /// host that opens its own (see [`super::opened_in_this_process`]). Errors of the store
    /// show at the first call.
    pub fn deferred(home: &Home) -> StorePool {
        StorePool {
            home: home.clone(),
            pid: AtomicU32::new(std::process::id()),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection for this caller alone, returned to the pool when dropped.
    pub fn get(&self) -> Result<Pooled<'_>> {
        let pid = std::process::id();
        if self.pid.load(Ordering::Acquire) != pid {
            let mut idle = self.idle.lock();
            if self.pid.swap(pid, Ordering::AcqRel) != pid {
                // Forked: the parent's connections must never be used, nor closed, here.
                std::mem::forget(std::mem::take(&mut *idle));
            }
        }
        let reused = self.idle.lock().pop();
        let store = match reused {
            Some(s) => s,
            None => Store::open(&self.home)?,
        };
        Ok(Pooled {
            pool: self,
            pid,
            store: Some(store),
        })
    }
}

/// A connection taken from a [`StorePool`].
pub struct Pooled<'a> {
    pool: &'a StorePool,
    pid: u32,
    store: Option<Store>,
}

impl Deref for Pooled<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().expect("present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        if std::process::id() != self.pid {
            // Taken before a fork, dropped after it in the child: not ours to close.
            std::mem::forget(store);
            return;
        }
        let mut idle = self.pool.idle.lock();
        if idle.len() < MAX_IDLE && self.pool.pid.load(Ordering::Acquire) == self.pid {
            idle.push(store);
        }
    }
}
