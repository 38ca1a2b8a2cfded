//! Layer 4, services: the state machine and everything that acts on the system for the API
//! and the host: status hooks, usage and telemetry, launching hosts, talking to them, agent
//! hooks. Uses the model, config and the store.

pub mod agent_hooks;
pub mod client;
pub mod history;
pub mod launch_spec;
pub mod launcher;
pub mod otel_launch;
pub mod resources;
pub mod snapshot;
pub mod state_machine;
pub mod status_hooks;
pub mod telemetry;
pub mod trim;
pub mod usage;
pub mod worktree;
