//! Output the log could not keep (a full disk): counted by the PTY reader, recorded in the
//! store when the store can be written.
//!
//! The reader drains the terminal whatever happens to the log, so the agent never blocks on
//! a full disk. What it cannot write is dropped and counted here; it never waits for the
//! database. The idle timer (with its activity flush) and the session's end record the
//! count: `sessions.output_bytes_lost` (the total over all runs of the session) and one
//! `output_lost` event per gap, `{"offset", "bytes", "total"}`.
//!
//! Offsets count the bytes the log kept: lost output takes no offsets, so the log stays
//! contiguous (an offset always names a byte that is in it) and `output.log.base` keeps its
//! meaning. A gap's `offset` is where the lost bytes would have been: right before the kept
//! byte at that offset.

use crate::model::error::Result;
use crate::store::Store;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Gaps kept in memory while they cannot be recorded; beyond this, new losses are added to
/// the last gap (the total stays exact, only the position of later gaps is lost).
const MAX_GAPS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    offset: u64,
    bytes: u64,
}

#[derive(Default)]
struct Inner {
    /// Bytes lost since this host started.
    total: u64,
    /// Of `total`, how many the store already has.
    recorded: u64,
    /// Gaps not yet recorded as events, oldest first.
    gaps: Vec<Gap>,
}

/// The lost-output count of one host.
#[derive(Default)]
pub struct LostOutput {
    inner: Mutex<Inner>,
    /// The last write failed; the next one that works is worth a log line.
    losing: AtomicBool,
}

impl LostOutput {
    /// The reader could not keep `bytes` bytes; the next byte kept will have `offset`.
    pub fn lose(&self, offset: u64, bytes: u64, why: &std::io::Error) {
        if bytes == 0 {
            return;
        }
        if !self.losing.swap(true, Ordering::AcqRel) {
            eprintln!(
                "agent-sessions host: writing output.log: {why}; output is dropped and counted \
                 until it can be written again"
            );
        }
        let mut inner = self.inner.lock();
        inner.total += bytes;
        let full = inner.gaps.len() >= MAX_GAPS;
        match inner.gaps.last_mut() {
            Some(g) if g.offset == offset || full => g.bytes += bytes,
            _ => inner.gaps.push(Gap { offset, bytes }),
        }
    }

    /// A write went through: the log is complete again from here on.
    pub fn kept(&self) {
        // One atomic load per chunk on the normal path.
        if self.losing.load(Ordering::Relaxed) && self.losing.swap(false, Ordering::AcqRel) {
            let total = self.inner.lock().total;
            eprintln!("agent-sessions host: writing output.log again ({total} bytes lost)");
        }
    }

    /// Whether some of them are not in the store yet.
    pub fn unrecorded(&self) -> bool {
        let inner = self.inner.lock();
        inner.total != inner.recorded
    }

    /// Writes what the store does not have yet: the gaps as events and the count, in one
    /// transaction. Nothing is written when nothing is new; after a failure the same figures
    /// are tried again next time.
    pub fn record(&self, store: &Store, session_id: &str) -> Result<()> {
        // A copy: the reader must never wait for the database.
        let (total, recorded, gaps) = {
            let inner = self.inner.lock();
            if inner.total == inner.recorded {
                return Ok(());
            }
            (inner.total, inner.recorded, inner.gaps.clone())
        };
        store.write(|tx| {
            for g in &gaps {
                crate::store::events::insert(
                    tx,
                    session_id,
                    "process",
                    crate::model::event::kind::OUTPUT_LOST,
                    &serde_json::json!({"offset": g.offset, "bytes": g.bytes, "total": total}),
                )?;
            }
            // Added, not set: a resumed session's new host counts from zero.
            tx.execute(
                "UPDATE sessions SET output_bytes_lost = output_bytes_lost + ?2 WHERE id = ?1",
                rusqlite::params![session_id, (total - recorded) as i64],
            )?;
            Ok(())
        })?;
        let mut inner = self.inner.lock();
        inner.recorded = total;
        // The reader may have added to the last gap meanwhile: keep what was added.
        for (g, done) in inner.gaps.iter_mut().zip(&gaps) {
            g.bytes -= done.bytes;
        }
        inner.gaps.retain(|g| g.bytes > 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::state::State;
    use crate::store::NewSession;

    fn store_with_session(dir: &std::path::Path) -> Store {
        let home = crate::config::home::Home::resolve(Some(dir)).unwrap();
        let store = Store::open(&home).unwrap();
        crate::services::state_machine::insert(
            &store,
            &NewSession {
                state: State::Starting,
                cause: "test".into(),
                ..NewSession::hosted("s1", "custom", &["true"])
            },
            crate::model::state::Source::User,
            &vec![],
        )
        .unwrap();
        store
    }

    fn gaps(store: &Store) -> Vec<(u64, u64, u64)> {
        store
            .events("s1", 0, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == crate::model::event::kind::OUTPUT_LOST)
            .map(|e| {
                let n = |k: &str| e.data[k].as_u64().unwrap();
                (n("offset"), n("bytes"), n("total"))
            })
            .collect()
    }

    #[test]
    fn gaps_and_the_count_are_recorded_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_session(dir.path());
        let lost = LostOutput::default();
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        lost.lose(100, 10, &full);
        lost.lose(100, 5, &full); // the same gap
        lost.kept();
        lost.lose(300, 7, &full);
        assert!(lost.unrecorded());
        lost.record(&store, "s1").unwrap();
        assert!(!lost.unrecorded());
        assert_eq!(gaps(&store), [(100, 15, 22), (300, 7, 22)]);
        assert_eq!(store.get("s1").unwrap().unwrap().output_bytes_lost, 22);
        // Nothing new: nothing written.
        lost.record(&store, "s1").unwrap();
        assert_eq!(gaps(&store).len(), 2);
        // More at the last gap's offset: only the new bytes, as a new event.
        lost.lose(300, 3, &full);
        lost.record(&store, "s1").unwrap();
        assert_eq!(gaps(&store)[2], (300, 3, 25));
        // A resumed session's next host adds to the stored count.
        let next = LostOutput::default();
        next.lose(0, 1, &full);
        next.record(&store, "s1").unwrap();
        assert_eq!(store.get("s1").unwrap().unwrap().output_bytes_lost, 26);
    }
}
