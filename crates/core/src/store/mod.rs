//! The SQLite store: the source of truth for sessions and their history.
//!
//! One database file per home, in WAL mode so many processes (hooks, hosts, the CLI) read
//! and write at once. Every write runs in a `BEGIN IMMEDIATE` transaction, so writers queue
//! on SQLite's lock (with a generous busy timeout, see the `busy` module) instead of failing
//! or losing updates.

use crate::config::home::Home;
pub mod budgets;
mod busy;
pub mod events;
pub(crate) mod fallback;
pub mod feed;
pub mod lifecycle;
pub mod messages;
mod migrations;
pub mod pool;
pub mod sessions;
pub mod snapshots;
pub mod tasks;
pub mod telemetry;
pub mod templates;
pub mod usage_series;

use crate::model::error::{Error, Result, StoreCode};
use rusqlite::{Connection, TransactionBehavior};

pub use sessions::{int, opt_text, text, Column, ListFilter, NewSession, StateRow, Updates};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// An open connection to a home's store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The home's folder, where status hooks fired after a transition commits are found.
    home_root: PathBuf,
    /// Opened for reading only because the disk is full (see [`fallback`]).
    read_only: bool,
}

/// The process that last opened a store connection (0: none yet). SQLite keeps per-file
/// state (its lock counts, the shared-memory mapping) in process globals that a forked child
/// inherits but cannot trust: a child of a process that opened the store must exec before it
/// opens the store itself (see [`opened_in_this_process`]).
static OPENED_IN: AtomicU32 = AtomicU32::new(0);

/// Has this process ever opened a store connection? A process that has not may fork a child
/// that opens the store without an exec (the CLI's direct host start).
pub fn opened_in_this_process() -> bool {
    OPENED_IN.load(Ordering::Acquire) == std::process::id()
}

impl Store {
    /// SQLite's `data_version` of this connection: it changes whenever another connection
    /// (another process, or another connection of this one) commits. Reading it touches no
    /// table: in WAL mode it is a look at the shared WAL index.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| store_err(&self.path, e))
    }

    /// This connection's commits never checkpoint the WAL, which is left to the other
    /// connections (the hosts'). For a short-lived writer on a latency-critical path (a
    /// `start`): a checkpoint copies the WAL into the database and syncs it, and lands on
    /// whichever commit crosses the threshold.
    pub fn leave_checkpoints_to_others(&self) {
        let _ = self.conn.execute_batch("PRAGMA wal_autocheckpoint=0;");
    }

    /// Opens (creating and migrating if needed) the store of `home`.
    pub fn open(home: &Home) -> Result<Store> {
        let path = home.db_path();
        OPENED_IN.store(std::process::id(), Ordering::Release);
        let conn = Connection::open(&path).map_err(|e| store_err(&path, e))?;
        let mut store = Store {
            conn,
            path,
            home_root: home.root().to_path_buf(),
            read_only: false,
        };
        if let Err(e) = store.configure() {
            if !fallback::is_full(&e) {
                return Err(e);
            }
            // Closed first: connections of one process share SQLite's shared-memory state.
            drop(store);
            return Store::open_read_only(home).map_err(|_| e);
        }
        store.migrate()?;
        Ok(store)
    }

    /// Opens the store for reading only, for a full disk (see [`fallback`]).
    fn open_read_only(home: &Home) -> Result<Store> {
        let path = home.db_path();
        OPENED_IN.store(std::process::id(), Ordering::Release);
        let conn = fallback::open_read_only(&path).map_err(|e| store_err(&path, e))?;
        let mut store = Store {
            conn,
            path,
            home_root: home.root().to_path_buf(),
            read_only: true,
        };
        store
            .conn
            .busy_handler(Some(busy::wait))
            .and_then(|()| store.conn.execute_batch("PRAGMA foreign_keys=ON;"))
            .map_err(|e| store.err(e))?;
        store.migrate()?;
        Ok(store)
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> Error {
        store_err(&self.path, e)
    }

    fn configure(&mut self) -> Result<()> {
        // The busy handler first: even switching to WAL can meet a lock held by another process.
        self.conn
            .busy_handler(Some(busy::wait))
            .map_err(|e| self.err(e))?;
        // WAL lets readers run beside one writer; NORMAL sync keeps commits cheap while WAL
        // still guarantees a killed process never leaves a torn database. The mode is
        // persistent: set it only when it is not WAL yet, so opening a store to read writes
        // nothing (and works on a full disk).
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            self.conn
                .execute_batch("PRAGMA journal_mode=WAL;")
                .map_err(|e| self.err(e))?;
        }
        self.conn
            // A short WAL: the first connection after all have closed (a CLI call, a hook or
            // a start with no session live) rebuilds the WAL index by reading every frame
            // since the WAL last restarted, ~3 µs each here; at SQLite's default 1000 pages
            // that cost a `start` about a millisecond, at 200 0.3 ms. 50 was tried: starts
            // gained those 0.2 ms, but the checkpoints came so often that Python's lifecycle
            // writes took twice as long (create 0.035 -> 0.078 ms, same machine).
            .execute_batch(
                "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=200;",
            )
            .map_err(|e| self.err(e))?;
        // Room for every statement the store, the state machine and the lifecycle writer
        // prepare (rusqlite keeps 16 by default; a miss re-parses, which costs more than a
        // lifecycle write's own work).
        self.conn.set_prepared_statement_cache_capacity(128);
        // A plan that does not depend on bound values: without it (SQLite built with STAT4, as
        // rusqlite's bundled one is) a cached statement whose WHERE compares a parameter with
        // an indexed column is compiled again whenever the value changes, which made every
        // new session's first transition pay for a full prepare, trigger included.
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )
            .map_err(|e| self.err(e))?;
        // The last connection to close must not checkpoint: that checkpoint fsyncs the
        // database, deletes the WAL and its index, and the next process (a hook, a CLI call)
        // then creates both again and fsyncs the new WAL and its folder on its first commit,
        // which cost every short-lived writer several milliseconds. The WAL stays (at most
        // ~`wal_autocheckpoint` pages, which the next opener reads to rebuild its index) and
        // is checkpointed by whichever writer next fills it. Durability is unchanged: a
        // committed transaction is in the WAL either way.
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(|e| self.err(e))?;
        restrict_file_mode(&self.path);
        Ok(())
    }

    fn migrate(&self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version as usize >= migrations::MIGRATIONS.len() {
            return Ok(());
        }
        self.write(|tx| {
            // Re-read inside the write lock: another process may have migrated meanwhile.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            for (i, step) in migrations::MIGRATIONS
                .iter()
                .enumerate()
                .skip(version as usize)
            {
                tx.execute_batch(step)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            }
            Ok(())
        })
    }

    /// Runs `f` in an immediate (write-locked) transaction and commits it.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        if self.read_only {
            return Err(self.err(fallback::full_error()));
        }
        // `unchecked_transaction` because the store is used through `&self`; the connection is
        // never shared between threads without the manager's mutex.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// The raw connection, for the store's own table modules and the state machine.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The home folder this store belongs to (status hooks live there).
    pub fn home_root(&self) -> &std::path::Path {
        &self.home_root
    }

    /// Gives back what this connection holds beyond the open file: its prepared statements,
    /// its page cache and its lookaside buffer (~120 KB, off from here on). For a connection
    /// kept open while idle, as each session host keeps one: 1000 hosts would otherwise
    /// hold ~200 MB of SQLite buffers between writes. The next statements re-prepare
    /// (microseconds). Best effort.
    pub fn release_memory(&self) {
        self.conn.flush_prepared_statement_cache();
        // SAFETY: a valid open handle; SQLITE_DBCONFIG_LOOKASIDE with a NULL buffer and zero
        // slots disables lookaside; it fails harmlessly (SQLITE_BUSY) while lookaside memory
        // is in use.
        unsafe {
            rusqlite::ffi::sqlite3_db_config(
                self.conn.handle(),
                rusqlite::ffi::SQLITE_DBCONFIG_LOOKASIDE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                0 as std::ffi::c_int,
                0 as std::ffi::c_int,
            );
            rusqlite::ffi::sqlite3_db_release_memory(self.conn.handle());
        }
    }
}

/// The one conversion of a SQLite error into the core's error: I/O errors carried out of a
/// transaction (see [`io_in_tx`]) come back as [`Error::Io`], the rest as [`Error::Store`]
/// with a code callers can act on.
pub(crate) fn store_err(path: &std::path::Path, source: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    if let rusqlite::Error::ToSqlConversionFailure(b) = source {
        return match b.downcast::<IoInTx>() {
            Ok(t) => Error::io(t.context, t.source),
            Err(b) => store_err(path, rusqlite::Error::ToSqlConversionFailure(b)),
        };
    }
    let code = match &source {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            C::DatabaseBusy | C::DatabaseLocked => StoreCode::Busy,
            C::DiskFull => StoreCode::Full,
            C::ReadOnly | C::PermissionDenied => StoreCode::ReadOnly,
            C::CannotOpen => StoreCode::CannotOpen,
            C::DatabaseCorrupt | C::NotADatabase => StoreCode::Corrupt,
            C::SystemIoFailure => StoreCode::Io,
            _ => StoreCode::Other,
        },
        _ => StoreCode::Other,
    };
    Error::Store {
        path: path.display().to_string(),
        message: source.to_string(),
        code,
    }
}

/// An I/O error carried out of a SQLite transaction closure (which can only return
/// `rusqlite::Error`), turned back into [`Error::Io`] by [`store_err`].
#[derive(Debug)]
struct IoInTx {
    context: String,
    source: std::io::Error,
}

impl std::fmt::Display for IoInTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for IoInTx {}

/// Wraps an I/O error for the return of a transaction closure.
pub(crate) fn io_in_tx(context: String, source: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(IoInTx { context, source }))
}

/// Keeps the database and its WAL files private; SQLite creates them with the umask.
fn restrict_file_mode(db: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
}
