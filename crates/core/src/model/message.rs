//! Conversation messages and pages of them.

use serde::{Deserialize, Serialize};

/// Most messages one page holds.
pub const MAX_PAGE: usize = 10_000;

/// Where a history came from.
pub mod source {
    pub const CLAUDE_TRANSCRIPT: &str = "claude-transcript";
    pub const CODEX_ROLLOUT: &str = "codex-rollout";
    /// Built by the host from input and settled screens.
    pub const SCREEN: &str = "screen";
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Position in the whole history, from 0.
    pub index: u64,
    /// `user`, `assistant` or `tool` (a tool call or its result).
    pub role: String,
    pub text: String,
    /// ISO 8601 UTC when known.
    pub at: Option<String>,
}

/// One page of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub session_id: String,
    /// See [`source`].
    pub source: String,
    pub offset: u64,
    pub messages: Vec<Message>,
    /// The offset of the next page; `null` at the end.
    pub next_offset: Option<u64>,
}

impl HistoryPage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a history page always serializes")
    }
}
