//! Conversation history: a session's messages (role, text, time), read in pages.
//!
//! Taken from the agent's own records where they exist: Claude Code's project transcript
//! (`~/.claude/projects/<slug>/<session-id>.jsonl`) and Codex's rollout
//! (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<id>.jsonl`); see
//! `fixtures/agents/transcripts/`. Otherwise built by the session host: each text sent with
//! Enter is a `user` message, and the screen once the agent settles back to waiting is the
//! `assistant` message of that turn (table `messages`).
//!
//! Pages are read by streaming: a transcript file is read line by line only as far as the
//! page needs, and the stored messages by primary key, so a long history is never loaded
//! whole.

use crate::api::manager::SessionManager;
use crate::model::error::Result;
pub use crate::model::message::{source, HistoryPage, Message, MAX_PAGE};
pub use crate::services::history::{
    page_from_jsonl, parse_claude_line, parse_codex_line, LineParser, ParsedLine,
};

impl SessionManager {
    /// Messages `offset..offset+limit` of a session's conversation (see the module docs for
    /// where they come from).
    pub fn history(&self, session_id: &str, offset: u64, limit: usize) -> Result<HistoryPage> {
        let rec = self.get(session_id)?;
        let env = crate::services::telemetry::UsageEnv::from_env();
        let cwd = std::path::PathBuf::from(rec.workspace_path.clone().unwrap_or_default());
        let asid = rec.agent_session_id.as_deref().filter(|s| !s.is_empty());
        let agent = rec.agent_type.as_deref().unwrap_or("");
        let own: Option<(&str, std::path::PathBuf, LineParser)> = match (agent, asid) {
            ("claude", Some(id)) => crate::services::usage::find_claude_transcript(
                env.claude_config_dir.as_deref(),
                &env.user_home,
                &cwd,
                id,
            )
            .map(|p| {
                (
                    source::CLAUDE_TRANSCRIPT,
                    p,
                    parse_claude_line as LineParser,
                )
            }),
            ("codex", Some(id)) => {
                let started = rec
                    .started_at
                    .as_deref()
                    .and_then(crate::model::clock::parse_iso)
                    .map(std::time::SystemTime::from)
                    .unwrap_or(std::time::UNIX_EPOCH);
                crate::services::usage::find_codex_rollout(
                    &env.codex_home(),
                    Some(id),
                    &cwd,
                    started,
                )
                .map(|p| (source::CODEX_ROLLOUT, p, parse_codex_line as LineParser))
            }
            _ => None,
        };
        let (source, (messages, next_offset)) = match own {
            Some((name, path, parse)) => (name, page_from_jsonl(&path, offset, limit, parse)?),
            None => (
                source::SCREEN,
                self.with_store(|s| s.messages(session_id, offset, limit))?,
            ),
        };
        Ok(HistoryPage {
            session_id: rec.session_id,
            source: source.to_string(),
            offset,
            messages,
            next_offset,
        })
    }
}
