//! Watch leases: how a watcher (`top`, a dashboard, a script polling telemetry) tells every
//! session host "someone is looking, sample live".
//!
//! Without a watcher a host samples an idle tree rarely and writes rarely (see the sampler),
//! which is what makes 1000 idle sessions nearly free. A watcher needs fresh figures, so it
//! holds a [`WatchLease`]: one page-sized file in the home (`watch`) holds, at byte 8, until
//! when (unix ms) someone watches; the lease extends that to now + [`LEASE_TTL`] every
//! [`LEASE_REFRESH`], and every host that finds it in the future samples at least every
//! [`LIVE_INTERVAL`] and writes each sample at once. On arrival the watcher also bumps the
//! file's first word and wakes every host sleeping on it (a futex; see `wake`), so live
//! figures start at once, and no host has to wake up to look in the meantime.
//!
//! A dead watcher's lease runs out by itself within [`LEASE_TTL`]; the file needs no registry
//! of hosts. inotify was the other way to wake hosts, but it is limited to 128 instances per
//! user on common kernels, too few for 1000 hosts.

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::wake::LeasePage;

/// File name of the lease inside the home.
pub const WATCH_FILE: &str = "watch";
/// How often a held lease is renewed.
pub const LEASE_REFRESH: Duration = Duration::from_millis(1000);
/// How long a renewal keeps hosts live: a watcher that died stops costing within this time.
pub const LEASE_TTL: Duration = Duration::from_millis(3000);
/// How often a host looks at the lease where it cannot sleep on it (no `futex_waitv`).
pub const LEASE_CHECK: Duration = Duration::from_millis(1000);
/// Longest interval between two samples (each written at once) while watched.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(1000);
/// Longest a new watcher waits for every live host to answer with a fresh sample. 1000
/// idle hosts woken at once took up to 2.7 s on a 2-core machine: a bound below that shows
/// the last ones' figures as old as their last idle sample.
pub const LIVE_WAIT: Duration = Duration::from_millis(5000);

/// Path of the lease file of a home.
pub fn lease_path(home: &Path) -> PathBuf {
    home.join(WATCH_FILE)
}

/// Whether a watcher holds a lease on the home at `home` now.
pub fn is_watched(home: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let mut until = [0u8; 8];
    let Ok(f) = std::fs::File::open(lease_path(home)) else {
        return false;
    };
    if f.read_exact_at(&mut until, 8).is_err() {
        return false;
    }
    u64::from_ne_bytes(until) > super::now_ms().max(0) as u64
}

/// Held by a watcher while it shows live figures; renewing stops when it is dropped. Several
/// watchers share the one file: the home is live while any of them renews.
#[derive(Debug)]
pub struct WatchLease {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl WatchLease {
    /// Starts watching `home`: renews the lease now and then every [`LEASE_REFRESH`] from a
    /// background thread. Fails only when the lease file cannot be written.
    pub fn acquire(home: &Home) -> Result<WatchLease> {
        let path = lease_path(home.root());
        let page =
            LeasePage::open(&path, true).map_err(|e| Error::io("writing the watch lease", e))?;
        page.renew(super::now_ms() + LEASE_TTL.as_millis() as i64);
        // Wake every sleeping host now.
        page.announce();
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("watch-lease".into())
            .spawn(move || {
                let (m, cv) = &*flag;
                let mut stopped = m.lock();
                while !*stopped {
                    if cv.wait_for(&mut stopped, LEASE_REFRESH).timed_out() {
                        page.renew(super::now_ms() + LEASE_TTL.as_millis() as i64);
                    }
                }
            })
            .map_err(|e| Error::io("starting the watch lease thread", e))?;
        Ok(WatchLease {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for WatchLease {
    fn drop(&mut self) {
        let (m, cv) = &*self.stop;
        *m.lock() = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
