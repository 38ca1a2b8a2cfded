//! Watch leases: how a watcher (`top`, a dashboard, a script polling telemetry) tells every
//! session host "someone is looking, sample live".
//!
//! Without a watcher a host samples an idle tree rarely and writes rarely (see the sampler),
//! which is what makes 1000 idle sessions nearly free. A watcher needs fresh figures, so it
//! holds a [`WatchLease`]: the lease touches one file in the home (`watch`) every
//! [`LEASE_REFRESH`], and every host that finds that file's modification time younger than
//! [`LEASE_TTL`] samples at least every [`LIVE_INTERVAL`] and writes each sample at once.
//! Hosts look at the file (one `stat`) at most every [`LEASE_CHECK`]: that is the lag
//! between a watcher's start and live figures.
//!
//! Why a file's mtime and not something that wakes hosts (a signal, inotify, a socket
//! message): it needs no registry of hosts, survives any crash (a dead watcher's lease runs
//! out by itself within [`LEASE_TTL`]), costs one `stat` a second per host (measured: 1000
//! threads doing that use ~1 % of one core), and inotify is limited to 128 instances per user
//! on common kernels — too few for 1000 hosts.

use crate::config::home::Home;
use crate::model::error::{Error, Result};
use parking_lot::{Condvar, Mutex};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// File name of the lease inside the home.
pub const WATCH_FILE: &str = "watch";
/// How often a held lease is renewed.
pub const LEASE_REFRESH: Duration = Duration::from_millis(1000);
/// How long a renewal keeps hosts live: a watcher that died stops costing within this time.
pub const LEASE_TTL: Duration = Duration::from_millis(3000);
/// How often a host looks at the lease.
pub const LEASE_CHECK: Duration = Duration::from_millis(1000);
/// Longest interval between two samples (each written at once) while watched.
pub const LIVE_INTERVAL: Duration = Duration::from_millis(1000);

/// Path of the lease file of a home.
pub fn lease_path(home: &Path) -> PathBuf {
    home.join(WATCH_FILE)
}

/// Whether a watcher renewed the lease of the home at `home` within [`LEASE_TTL`].
pub fn is_watched(home: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(lease_path(home)) else {
        return false;
    };
    let Ok(mtime) = meta.modified() else {
        return false;
    };
    match SystemTime::now().duration_since(mtime) {
        Ok(age) => age <= LEASE_TTL,
        // renewed "in the future": a clock step back; count it as fresh once
        Err(e) => e.duration() <= LEASE_TTL,
    }
}

/// Sets the lease file's modification time to now, creating it (private) when missing.
fn renew(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.set_modified(SystemTime::now())
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
        renew(&path).map_err(|e| Error::io("writing the watch lease", e))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("watch-lease".into())
            .spawn(move || {
                let (m, cv) = &*flag;
                let mut stopped = m.lock();
                while !*stopped {
                    if cv.wait_for(&mut stopped, LEASE_REFRESH).timed_out() {
                        // a failed renewal only makes figures less fresh: go on
                        let _ = renew(&path);
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
