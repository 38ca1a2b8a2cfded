//! Task summaries: [`SessionManager::tasks`] groups sessions by task with their totals.

use crate::api::manager::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::record::SessionKind;
pub use crate::model::task::*;
use std::collections::BTreeMap;

impl SessionManager {
    /// Every task with its sessions and totals, the most recently active first; sessions
    /// without a task come last, under `task_id: null`.
    pub fn tasks(&self) -> Result<Vec<TaskSummary>> {
        self.task_rows(None)
    }

    /// One task. An id no session carries is [`Error::TaskNotFound`].
    pub fn task(&self, task_id: &str) -> Result<TaskSummary> {
        validate_task_id(task_id)?;
        self.task_rows(Some(task_id))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::TaskNotFound(task_id.to_string()))
    }

    fn task_rows(&self, only: Option<&str>) -> Result<Vec<TaskSummary>> {
        let rows = self.with_store(|store| store.task_rows(only))?;
        let mut groups: BTreeMap<Option<String>, TaskSummary> = BTreeMap::new();
        for mut row in rows {
            // Honest states: a live-looking hosted session whose host is gone is unknown.
            if row.kind == SessionKind::Hosted.as_str() && !row.session.state.is_ended() {
                row.session.state = self.state(&row.session.session_id)?;
            }
            let g = groups
                .entry(row.task.clone())
                .or_insert_with(|| TaskSummary {
                    task_id: row.task.clone(),
                    session_count: 0,
                    sessions: Vec::new(),
                    states: BTreeMap::new(),
                    live: 0,
                    first_created_at: row.session.created_at.clone(),
                    last_updated_at: row.updated_at.clone(),
                    total_tokens: None,
                    cost_usd: None,
                    cpu_time_ms: None,
                });
            g.session_count += 1;
            *g.states.entry(row.session.state.to_string()).or_default() += 1;
            if row.session.state.is_live() {
                g.live += 1;
            }
            if row.updated_at > g.last_updated_at {
                g.last_updated_at = row.updated_at.clone();
            }
            if let Some(t) = row.tokens {
                g.total_tokens = Some(g.total_tokens.unwrap_or(0) + t);
            }
            if let Some(c) = row.cost {
                g.cost_usd = Some(g.cost_usd.unwrap_or(0.0) + c);
            }
            if let Some(c) = row.cpu {
                g.cpu_time_ms = Some(g.cpu_time_ms.unwrap_or(0) + c);
            }
            g.sessions.push(row.session);
        }
        let mut out: Vec<TaskSummary> = groups.into_values().collect();
        out.sort_by(|a, b| {
            (a.task_id.is_none(), &b.last_updated_at)
                .cmp(&(b.task_id.is_none(), &a.last_updated_at))
        });
        Ok(out)
    }
}
