//! Budgets in the store: a session's own (the `budget` column of `sessions`), a task's
//! (`task_budgets`), and what a task's sessions have spent, from the figures their hosts
//! last stored.

use super::{Column, Store};
use crate::model::budget::{Budget, Spent};
use crate::model::clock::now_iso;
use crate::model::error::{Error, Result};
use rusqlite::OptionalExtension;

fn to_json(b: &Budget) -> String {
    serde_json::to_string(b).expect("a budget serializes")
}

/// A stored budget that no longer parses is no budget (and says so once in the host log
/// of whoever reads it), rather than an error that would stop every read of the session.
fn parse(json: Option<String>) -> Option<Budget> {
    let json = json?;
    match serde_json::from_str(&json) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("agent-sessions: ignoring a stored budget that does not parse ({e}): {json}");
            None
        }
    }
}

impl Store {
    /// The session's own budget; `Err(SessionNotFound)` for an unknown session.
    pub fn session_budget(&self, id: &str) -> Result<Option<Budget>> {
        let found: Option<Option<String>> = self
            .connection()
            .prepare_cached("SELECT budget FROM sessions WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        match found {
            Some(json) => Ok(parse(json)),
            None => Err(Error::SessionNotFound(id.to_string())),
        }
    }

    /// Sets (or with `None` removes) the session's own budget.
    pub fn set_session_budget(&self, id: &str, budget: Option<&Budget>) -> Result<()> {
        let value = match budget {
            Some(b) => super::text(to_json(b)),
            None => rusqlite::types::Value::Null,
        };
        self.update(id, &vec![(Column::Budget, value)])
    }

    /// The task's budget, if one is set.
    pub fn task_budget(&self, task: &str) -> Result<Option<Budget>> {
        let json: Option<String> = self
            .connection()
            .prepare_cached("SELECT budget FROM task_budgets WHERE task_id = ?1")
            .and_then(|mut st| st.query_row([task], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(parse(json))
    }

    /// Sets (or with `None` removes) the task's budget. Returns whether a budget was
    /// removed, for `None`.
    pub fn set_task_budget(&self, task: &str, budget: Option<&Budget>) -> Result<bool> {
        self.write(|tx| match budget {
            Some(b) => tx
                .prepare_cached(
                    "INSERT INTO task_budgets (task_id, budget, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(task_id) DO UPDATE SET budget = excluded.budget,
                        updated_at = excluded.updated_at",
                )?
                .execute(rusqlite::params![task, to_json(b), now_iso()])
                .map(|n| n > 0),
            None => tx
                .prepare_cached("DELETE FROM task_budgets WHERE task_id = ?1")?
                .execute([task])
                .map(|n| n > 0),
        })
    }

    /// What all of the task's sessions have spent, as their hosts last stored it (a host
    /// under a budget stores its figures as they change; others at their end).
    pub fn task_spent(&self, task: &str) -> Result<Spent> {
        self.connection()
            .prepare_cached(
                "SELECT COALESCE(SUM(COALESCE(t.tokens_input, 0) + COALESCE(t.tokens_output, 0)
                            + COALESCE(t.tokens_cache_read, 0) + COALESCE(t.tokens_cache_write, 0)), 0),
                        SUM(t.cost_usd),
                        COALESCE(MAX(CASE WHEN t.cost_usd IS NOT NULL THEN t.cost_estimated END), 0)
                     FROM sessions s JOIN telemetry t ON t.session_id = s.id
                     WHERE s.task_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([task], |r| {
                    Ok(Spent {
                        tokens: r.get::<_, i64>(0)?.max(0) as u64,
                        usd: r.get(1)?,
                        estimated: r.get::<_, i64>(2)? != 0,
                    })
                })
            })
            .map_err(|e| self.err(e))
    }
}
