#![warn(missing_docs)]
//! # agent-sessions
//!
//! Run AI coding-agent CLIs (Claude Code, Codex, Gemini CLI, opencode, or any command) as
//! managed sessions: each runs in a pseudo-terminal under a small host process that outlives
//! whoever started it, keeps its output, screen and state history, and can be attached to,
//! sent input and stopped from any process.
//!
//! ```no_run
//! use agent_sessions::{SessionManager, StartOptions, State};
//! use std::time::Duration;
//!
//! let mgr = SessionManager::open(None)?;
//! let rec = mgr.start(&StartOptions {
//!     agent: "custom".into(),
//!     args: vec!["bash".into(), "--norc".into()],
//!     ..Default::default()
//! })?;
//! mgr.send(&rec.session_id, "echo hello", true)?;
//! mgr.wait_for(&rec.session_id, State::WaitingInput, Some(Duration::from_secs(10)))?;
//! println!("{}", mgr.screen(&rec.session_id)?.text);
//! mgr.stop(&rec.session_id, None, false)?;
//! # Ok::<(), agent_sessions::Error>(())
//! ```
//!
//! The API is synchronous; the CLI, the Python module and the C ABI are thin layers over it.

//! # The public API
//!
//! Everything a Rust user needs is re-exported here at the root: [`SessionManager`] and its
//! options, the records and reports it returns, [`Lifecycle`] for the lifecycle records
//! (module [`lifecycle`]), the [`Error`] with its [`ErrorKind`], and [`duration`] for
//! validating seconds the way every interface does. `examples/quickstart.rs` is a runnable
//! tour. The layer modules below (`model`, `config`, `store`, `services`, `host`, `api`)
//! are public only so the project's own bindings, CLI and tests can reach them; they are
//! hidden from the documentation and are not a stable API (see docs/ARCHITECTURE.md).

pub mod api;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod host;
pub mod model;
#[doc(hidden)]
pub mod services;
#[doc(hidden)]
pub mod store;

pub use api::lifecycle;
pub use model::duration;

// Internal paths the bindings and tests use (hidden, not a stable API).
#[doc(hidden)]
pub use api::manager::{cleanup as retention, events, history, tasks};
#[doc(hidden)]
pub use api::{attach, manager, requests};
#[doc(hidden)]
pub use config::{agent_config, agents, detect, home, keys};
#[doc(hidden)]
pub use model::{
    clock, error, id, pending, protocol, record, snapshot, state, template, usage_table, worktree,
};
#[doc(hidden)]
pub use services::{agent_hooks, client, resources, status_hooks, telemetry, usage};

/// Approval policies for `start --policy`: the rules ([`model::policy`]) and reading a file.
pub mod policy {
    pub use crate::config::policy_file::load;
    pub use crate::model::policy::*;
}

pub use api::lifecycle::Lifecycle;
pub use api::manager::cleanup::{CleanedSession, CleanupOptions, CleanupReport, KeptSession};
pub use api::manager::events::{EventCursor, Followed};
pub use api::manager::resume::ResumeOptions;
pub use api::manager::{
    DetectOptions, OutputCursor, OutputFollowed, SessionManager, StartOptions, DEFAULT_COLS,
    DEFAULT_DEBOUNCE, DEFAULT_IDLE_AFTER, DEFAULT_ROWS, DEFAULT_STOP_TIMEOUT,
};
pub use config::agent_config::AgentDef;
pub use config::agents::{AgentInfo, AgentOrigin, AgentSpec};
pub use config::home::{Home, HOME_ENV};
pub use model::budget::{Assessment, Budget, BudgetAction, BudgetStatus, Level, Spent};
pub use model::error::{Error, ErrorKind, Result, StoreCode};
pub use model::event::{Event, FeedEvent, FeedFilter, FeedPage};
pub use model::message::{HistoryPage, Message};
pub use model::pending::PendingRequest;
pub use model::protocol::ScreenReply;
pub use model::record::{SessionKind, SessionRecord, Transition};
pub use model::snapshot::{
    Conversation, RestoreOptions, RestoredFrom, Retention, Snapshot, SnapshotOptions,
    WorkspaceArchive,
};
pub use model::state::{Source, State, States};
pub use model::task::{TaskSession, TaskSummary};
pub use model::telemetry::{
    Report, ResourceSample, SampleRow, Telemetry, TelemetryReport, TokenUsage, UsagePoint,
    UsageReport,
};
pub use services::launcher::{find_host_binary, HOST_BIN_ENV};
pub use store::ListFilter;
