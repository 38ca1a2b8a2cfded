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

pub mod api;
pub mod config;
pub mod host;
pub mod model;
pub mod services;
pub mod store;

// Paths kept while the bindings move to the curated surface below.
pub use api::manager::{cleanup as retention, events, history, tasks};
pub use api::{attach, lifecycle, manager};
pub use config::{agent_config, agents, detect, home, keys};
pub use model::{clock, duration, error, id, protocol, record, state};
pub use services::{claude_hooks, client, resources, status_hooks, telemetry, usage};

pub use agent_config::AgentDef;
pub use api::manager::resume::ResumeOptions;
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventCursor};
pub use history::{HistoryPage, Message};
pub use manager::{DetectOptions, SessionManager, StartOptions};
pub use record::{SessionKind, SessionRecord, Transition};
pub use retention::{CleanupOptions, CleanupReport};
pub use services::launcher::{find_host_binary, HOST_BIN_ENV};
pub use state::{Source, State};
pub use store::ListFilter;
pub use tasks::TaskSummary;
