//! Layer 1, the model: plain data every other layer speaks (states, records, ids, errors,
//! events, messages, telemetry figures, the host protocol's messages). It depends on nothing
//! else in the crate.

pub mod budget;
pub mod clock;
pub mod duration;
pub mod error;
pub mod event;
pub mod id;
pub mod message;
pub mod pending;
pub mod policy;
pub mod protocol;
pub mod record;
pub mod snapshot;
pub mod state;
pub mod task;
pub mod telemetry;
pub mod template;
pub mod usage_table;
pub mod worktree;
