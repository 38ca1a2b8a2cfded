//! Opaque handles and the registry that makes a stale handle detectable.
//!
//! A handle given to C is the address of an `Arc`'d object, and the registry maps every live
//! address to its `Arc`. Each call looks its handle up (never dereferencing a pointer the
//! registry does not know) and keeps a clone of the `Arc` for its duration. Hence:
//! - a freed, foreign or wrong-type handle gives `AS_USE_AFTER_FREE` instead of undefined
//!   behaviour, as long as the allocator has not reused the address for a newer handle;
//! - freeing a handle while another thread is inside a call on it is safe: the call finishes
//!   with its own reference, and later calls see the handle as freed;
//! - a second free of the same handle is detected and ignored.

use crate::result::{as_result, FfiError, FfiResult};
use agent_sessions::SessionManager;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

/// What a manager handle and its sessions share: the core's manager (which also opens the
/// home's lifecycle records, `SessionManager::lifecycle`) and the host choice.
pub struct Shared {
    pub mgr: SessionManager,
    /// Whether the program chose the host binary (`as_manager_set_host_binary`). Until it
    /// does, every start searches again ([`crate::host`]), as the core does, so a host
    /// installed or an environment variable set later is seen. The lock also keeps a search
    /// that is under way from overwriting a choice made meanwhile.
    host_chosen: Mutex<bool>,
}

impl Shared {
    pub fn new(mgr: SessionManager) -> Shared {
        Shared {
            mgr,
            host_chosen: Mutex::new(false),
        }
    }

    /// Uses `path` as the host from now on.
    pub fn choose_host(&self, path: PathBuf) {
        let mut chosen = self.host_chosen.lock().unwrap_or_else(|p| p.into_inner());
        *chosen = true;
        self.mgr.set_host_binary(path);
    }

    /// Before anything that starts a host (start, resume): when the program chose no host,
    /// hands the core the one the C default search finds. Returns why it found none, for
    /// [`crate::host::explain`].
    pub fn prepare_host(&self) -> Option<crate::host::NotFound> {
        let chosen = self.host_chosen.lock().unwrap_or_else(|p| p.into_inner());
        if *chosen {
            return None;
        }
        match crate::host::default_host() {
            Ok(path) => {
                self.mgr.set_host_binary(path);
                None
            }
            Err(missing) => missing,
        }
    }
}

/// A sessions home opened by `as_manager_open`. Opaque to C.
#[allow(non_camel_case_types)]
pub struct as_manager {
    pub shared: Arc<Shared>,
}

/// One session of a manager, from `as_manager_start` or `as_manager_open_session`. It keeps
/// what it needs of its manager, so it stays usable after the manager is freed. Opaque to C.
#[allow(non_camel_case_types)]
pub struct as_session {
    pub shared: Arc<Shared>,
    pub id: String,
}

enum Entry {
    Manager(Arc<as_manager>),
    Session(Arc<as_session>),
}

static LIVE: LazyLock<Mutex<HashMap<usize, Entry>>> = LazyLock::new(Mutex::default);

fn live() -> MutexGuard<'static, HashMap<usize, Entry>> {
    // No code runs user callbacks or panics while holding the lock; tolerate poison anyway.
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

fn stale(kind: &str, what: &str) -> FfiError {
    FfiError::new(
        as_result::AS_USE_AFTER_FREE,
        format!(
            "argument `{what}` is not a live {kind} handle: it was freed already, or did not come from this library"
        ),
    )
}

/// Gives the table's memory back once no handle is live, so a program that freed all its
/// handles ends with nothing of ours allocated (valgrind reports hashbrown's table, whose
/// pointer points into its allocation, as "possibly lost" otherwise).
fn release_if_empty(map: &mut HashMap<usize, Entry>) {
    if map.is_empty() && map.capacity() > 0 {
        *map = HashMap::new();
    }
}

/// Registers a new manager and returns its handle.
pub fn new_manager(m: as_manager) -> *mut as_manager {
    let arc = Arc::new(m);
    let ptr = Arc::as_ptr(&arc).cast_mut();
    live().insert(ptr as usize, Entry::Manager(arc));
    ptr
}

/// Registers a new session and returns its handle.
pub fn new_session(s: as_session) -> *mut as_session {
    let arc = Arc::new(s);
    let ptr = Arc::as_ptr(&arc).cast_mut();
    live().insert(ptr as usize, Entry::Session(arc));
    ptr
}

/// The live manager behind a handle.
pub fn manager(p: *const as_manager, what: &str) -> FfiResult<Arc<as_manager>> {
    if p.is_null() {
        return Err(crate::args::null(what));
    }
    match live().get(&(p as usize)) {
        Some(Entry::Manager(m)) => Ok(m.clone()),
        _ => Err(stale("as_manager", what)),
    }
}

/// The live session behind a handle.
pub fn session(p: *const as_session, what: &str) -> FfiResult<Arc<as_session>> {
    if p.is_null() {
        return Err(crate::args::null(what));
    }
    match live().get(&(p as usize)) {
        Some(Entry::Session(s)) => Ok(s.clone()),
        _ => Err(stale("as_session", what)),
    }
}

/// Unregisters a manager handle; false when it was not live. The object itself goes when
/// the last call using it returns.
pub fn free_manager(p: *const as_manager) -> bool {
    let mut map = live();
    match map.get(&(p as usize)) {
        Some(Entry::Manager(_)) => {
            let entry = map.remove(&(p as usize));
            release_if_empty(&mut map);
            drop(map); // drop the object (and its SQLite connection) outside the lock
            drop(entry);
            true
        }
        _ => false,
    }
}

/// Unregisters a session handle; false when it was not live.
pub fn free_session(p: *const as_session) -> bool {
    let mut map = live();
    match map.get(&(p as usize)) {
        Some(Entry::Session(_)) => {
            let entry = map.remove(&(p as usize));
            release_if_empty(&mut map);
            drop(map);
            drop(entry);
            true
        }
        _ => false,
    }
}
