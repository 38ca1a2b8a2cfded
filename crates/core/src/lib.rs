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

pub mod agent_config;
pub mod agents;
pub mod attach;
pub mod claude_hooks;
pub mod client;
pub mod clock;
pub mod detect;
pub mod error;
pub mod events;
pub mod history;
pub mod home;
pub mod host;
pub mod id;
pub mod keys;
mod launcher;
pub mod lifecycle;
pub mod manager;
pub mod protocol;
pub mod record;
pub mod resources;
mod resume;
pub mod retention;
pub mod state;
pub mod status_hooks;
pub mod store;
mod store_fallback;
pub mod tasks;
pub mod telemetry;
pub mod usage;

pub use agent_config::AgentDef;
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventCursor};
pub use history::{HistoryPage, Message};
pub use launcher::{find_host_binary, HOST_BIN_ENV};
pub use manager::{DetectOptions, SessionManager, StartOptions};
pub use record::{SessionKind, SessionRecord, Transition};
pub use resume::ResumeOptions;
pub use retention::{CleanupOptions, CleanupReport};
pub use state::State;
pub use store::ListFilter;
pub use tasks::TaskSummary;
