//! Noticing that anything in the store changed, cheaply and across processes.
//!
//! Hosts write their sessions' events and states from their own processes, and SQLite has no
//! notification between processes. But each connection's `PRAGMA data_version` changes
//! whenever another connection commits, and reading it costs a look at the WAL index (no
//! table, no page read). A follower of many sessions (the server's event streams) polls one
//! [`StoreChanges`] every few milliseconds and reads events only after a change, instead of
//! reading every session's events on a timer.

use crate::api::manager::SessionManager;
use crate::model::error::Result;
use crate::store::Store;

/// A private store connection that only watches for commits by others.
pub struct StoreChanges {
    store: Store,
    last: i64,
}

impl SessionManager {
    /// A change detector on this manager's store (its own connection, never used to write).
    pub fn store_changes(&self) -> Result<StoreChanges> {
        let store = Store::open(self.home())?;
        let last = store.data_version()?;
        Ok(StoreChanges { store, last })
    }
}

impl StoreChanges {
    /// Whether anything was committed since the last call (or since it was made).
    pub fn changed(&mut self) -> Result<bool> {
        let now = self.store.data_version()?;
        let changed = now != self.last;
        self.last = now;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use crate::api::manager::SessionManager;

    #[test]
    fn a_commit_by_another_connection_is_seen_once() {
        let d = tempfile::tempdir().unwrap();
        let mgr = SessionManager::open(Some(d.path())).unwrap();
        let mut changes = mgr.store_changes().unwrap();
        assert!(!changes.changed().unwrap());
        // Any write through the manager's own connections is another connection's commit.
        let other = SessionManager::open(Some(d.path())).unwrap();
        other
            .lifecycle()
            .unwrap()
            .create_session(&crate::api::lifecycle::NewLifecycle::default())
            .unwrap();
        assert!(changes.changed().unwrap());
        assert!(!changes.changed().unwrap());
    }
}
