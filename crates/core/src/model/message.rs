//! Conversation messages and pages of them.

use serde::{Deserialize, Serialize};

/// Most messages one page holds.
pub const MAX_PAGE: usize = 10_000;

/// Where a history came from.
pub mod source {
    /// Read from Claude Code's own project transcript (`~/.claude/projects/...jsonl`).
    pub const CLAUDE_TRANSCRIPT: &str = "claude-transcript";
    /// Read from Codex's own rollout file (`$CODEX_HOME/sessions/.../rollout-*.jsonl`).
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
    /// The message's text; for a tool call, the tool's name then its input as JSON.
    pub text: String,
    /// ISO 8601 UTC when known; `null` when the source records no time.
    pub at: Option<String>,
}

/// One page of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// The session the history belongs to.
    pub session_id: String,
    /// See [`source`].
    pub source: String,
    /// Index of the page's first message in the whole history, as asked for.
    pub offset: u64,
    /// The page's messages, oldest first; empty past the end.
    pub messages: Vec<Message>,
    /// The offset of the next page; `null` at the end.
    pub next_offset: Option<u64>,
}

impl HistoryPage {
    /// The page as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a history page always serializes")
    }
}
