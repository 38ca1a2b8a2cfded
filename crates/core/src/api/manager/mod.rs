//! [`SessionManager`]: the synchronous public API every interface (CLI, Python, C) wraps.

use crate::config::agent_config::{self, AgentDef};
use crate::config::agents::{self, AgentOrigin, AgentSpec};
use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::model::protocol::Tag;
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::state::State;
use crate::services::client;
use crate::services::launcher;
use crate::store::pool::StorePool;
use crate::store::Store;
mod answer;
mod budgets;
pub mod changes;
pub mod cleanup;
mod control;
pub mod events;
pub mod history;
mod output;
mod query;
mod restore;
pub mod resume;
pub mod snapshots;
mod start;
pub mod tasks;
pub mod templates;
mod usage;

pub use output::{OutputCursor, OutputFollowed};
pub use start::{DetectOptions, StartOptions};

use parking_lot::Mutex;

use std::path::{Path, PathBuf};

pub use crate::config::defaults::{
    DEFAULT_COLS, DEFAULT_DEBOUNCE, DEFAULT_IDLE_AFTER, DEFAULT_ROWS, DEFAULT_STOP_TIMEOUT,
};

/// Opens sessions in one home. Cheap to create; safe to share between threads.
pub struct SessionManager {
    pub(crate) home: Home,
    /// One connection per call, from a fork-safe pool (see `store::pool`).
    pub(crate) store: StorePool,
    /// The lifecycle records of the same home, opened on first use.
    lifecycle: std::sync::OnceLock<crate::api::lifecycle::Lifecycle>,
    /// Token figures this manager computed as a reader, reused for `max_age` (see usage.rs).
    usage_cache: Mutex<usage::UsageCache>,
    host_binary: Mutex<Option<PathBuf>>,
    /// Agent types defined through [`SessionManager::define_agent`].
    api_agents: Mutex<Vec<AgentSpec>>,
    /// Set by a caller that exits right after its start (see [`Self::exits_after_start`]).
    pub(crate) exits_after_start: std::sync::atomic::AtomicBool,
}

impl SessionManager {
    /// Opens the home `home` (see [`Home::resolve`] for the default).
    pub fn open(home: Option<&Path>) -> Result<SessionManager> {
        let home = Home::resolve(home)?;
        let store = StorePool::open(&home)?;
        Ok(Self::with_pool(home, store))
    }

    /// [`SessionManager::open`] without opening the store yet: the first call that needs it
    /// opens it (and reports its errors). For a single-threaded caller about to `start` (the
    /// CLI): a process that has opened no store connection may fork the session host
    /// directly instead of running the host binary (see [`crate::host::fork`]).
    pub fn open_deferred(home: Option<&Path>) -> Result<SessionManager> {
        let home = Home::resolve(home)?;
        let store = StorePool::deferred(&home);
        Ok(Self::with_pool(home, store))
    }

    fn with_pool(home: Home, store: StorePool) -> SessionManager {
        SessionManager {
            home,
            store,
            lifecycle: std::sync::OnceLock::new(),
            usage_cache: Mutex::new(Default::default()),
            host_binary: Mutex::new(None),
            api_agents: Mutex::new(Vec::new()),
            exits_after_start: Default::default(),
        }
    }

    /// Declares that this process exits as soon as its next start returns (the CLI's
    /// `start`). A host this process forks then waits for that exit before its own start-up
    /// work, so the two do not compete for the CPU while the caller waits; the session is
    /// recorded running either way. A process that lives on must not call this: each of its
    /// forked hosts would wait up to 100 ms before it answers on its socket.
    pub fn exits_after_start(&self) {
        self.exits_after_start
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Uses `path` as the session host binary instead of searching for it.
    pub fn set_host_binary(&self, path: impl Into<PathBuf>) {
        *self.host_binary.lock() = Some(path.into());
    }

    /// The sessions home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Runs `f` with a connection to the store of its own.
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        f(&*self.store.get()?)
    }

    /// The lifecycle records (the reference hook library's state documents) of the same
    /// home, opened on first use.
    pub fn lifecycle(&self) -> Result<&crate::api::lifecycle::Lifecycle> {
        if let Some(lc) = self.lifecycle.get() {
            return Ok(lc);
        }
        let lc = crate::api::lifecycle::Lifecycle::open(Some(self.home.root()))?;
        Ok(self.lifecycle.get_or_init(|| lc))
    }

    /// Defines (or redefines) an agent type for sessions this manager starts. It is not
    /// saved: for types every process sees, use `agents.toml` in the home (see
    /// [`crate::config::agent_config`]). A definition made here wins over the file's of the same
    /// name.
    pub fn define_agent(&self, def: &AgentDef) -> Result<()> {
        let spec = def.to_spec(AgentOrigin::Api).map_err(|e| {
            Error::InvalidArgument(format!(
                "agent type '{}': {}: {}",
                def.name, e.field, e.message
            ))
        })?;
        let mut list = self.api_agents.lock();
        list.retain(|a| a.name != spec.name);
        list.push(spec);
        Ok(())
    }

    /// Every agent type: built-in, defined through the API, then from `agents.toml`. A
    /// broken `agents.toml` is an error naming its file, line and field.
    pub fn agents(&self) -> Result<Vec<AgentSpec>> {
        let mut all = agents::builtin();
        all.extend(self.user_agents()?);
        Ok(all)
    }

    fn user_agents(&self) -> Result<Vec<AgentSpec>> {
        let mut user = self.api_agents.lock().clone();
        for a in agent_config::load(&self.home)? {
            if !user.iter().any(|u| u.name == a.name) {
                user.push(a);
            }
        }
        Ok(user)
    }

    /// The agent type `name`. Built-in types never read `agents.toml`, so a mistake there
    /// cannot stop them; any other name does, and a broken file is reported.
    pub fn agent(&self, name: &str) -> Result<AgentSpec> {
        if let Some(a) = agents::find(name, &[]) {
            return Ok(a);
        }
        if let Some(a) = self.api_agents.lock().iter().find(|a| a.name == name) {
            return Ok(a.clone());
        }
        let user = self.user_agents()?;
        agents::find(name, &user).ok_or_else(|| agents::unknown(name, &user))
    }

    pub(crate) fn host_binary(&self) -> Result<PathBuf> {
        if let Some(p) = self.host_binary.lock().clone() {
            return Ok(p);
        }
        launcher::find_host_binary()
    }

    fn live(&self, session_id: &str, action: &'static str) -> Result<SessionRecord> {
        Self::require_live(self.get(session_id)?, action)
    }

    /// `rec` if its agent runs (starting, running or waiting_input), else why `action` is
    /// impossible.
    pub(crate) fn require_live(rec: SessionRecord, action: &'static str) -> Result<SessionRecord> {
        if rec.kind == SessionKind::Record {
            return Err(Error::NoProcess {
                id: rec.session_id,
                action,
            });
        }
        if !rec.state.accepts_input() {
            return Err(Error::SessionNotRunning {
                id: rec.session_id,
                state: rec.state,
                action,
            });
        }
        Ok(rec)
    }

    pub(crate) fn request(
        &self,
        session_id: &str,
        tag: Tag,
        payload: &[u8],
    ) -> Result<serde_json::Value> {
        let path = self.home.socket_path(session_id)?;
        let reply = client::request(&path, tag, payload, None).map_err(|e| match e {
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                // The host went away between our check and the request.
                match self.get(session_id) {
                    Ok(rec) => Error::SessionNotRunning {
                        id: rec.session_id,
                        state: rec.state,
                        action: "take this request",
                    },
                    Err(e) => e,
                }
            }
            other => other,
        })?;
        if reply.get("ok").and_then(|v| v.as_bool()) == Some(true) {
            return Ok(reply);
        }
        let state = reply
            .get("state")
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse::<State>().ok());
        Err(match state {
            Some(state)
                if matches!(tag, Tag::Input | Tag::Send | Tag::Interrupt)
                    && !state.accepts_input() =>
            {
                Error::SessionNotRunning {
                    id: session_id.to_string(),
                    state,
                    action: "receive input",
                }
            }
            _ => Error::Host {
                id: session_id.to_string(),
                reason: reply
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("request failed")
                    .to_string(),
            },
        })
    }
}
