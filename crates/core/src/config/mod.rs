//! Layer 2, configuration: the home folder, agent types (built-in and `agents.toml`), screen
//! detection rules, named keys and defaults. Uses only the model.

pub mod agent_config;
pub mod agents;
pub mod defaults;
pub mod detect;
pub mod home;
pub mod keys;
pub mod policy_file;
