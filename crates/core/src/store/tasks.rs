//! Task queries: which tasks exist and the per-session rows a task summary is built from.

use super::Store;
use crate::model::error::Result;
use crate::model::state::State;
use crate::model::task::TaskSession;

/// One session of a task with the figures a summary adds up.
pub struct TaskRow {
    pub task: Option<String>,
    pub session: TaskSession,
    pub kind: String,
    pub updated_at: String,
    pub tokens: Option<u64>,
    pub cost: Option<f64>,
    pub cpu: Option<u64>,
}

impl Store {
    /// Whether any session carries `task`.
    pub fn task_exists(&self, task: &str) -> Result<bool> {
        self.connection()
            .prepare_cached("SELECT 1 FROM sessions WHERE task_id = ?1 LIMIT 1")
            .and_then(|mut st| st.exists([task]))
            .map_err(|e| self.err(e))
    }

    /// The sessions of `only` (of every task when `None`), oldest first, with their totals.
    pub fn task_rows(&self, only: Option<&str>) -> Result<Vec<TaskRow>> {
        let mut st = self
            .connection()
            .prepare_cached(
                "SELECT s.task_id, s.id, s.agent_type, s.state, s.phase, s.created_at,
                        s.updated_at, s.kind,
                        t.tokens_input + t.tokens_output + COALESCE(t.tokens_cache_read, 0)
                            + COALESCE(t.tokens_cache_write, 0),
                        t.cost_usd, t.cpu_time_ms
                     FROM sessions s LEFT JOIN telemetry t ON t.session_id = s.id
                     WHERE ?1 IS NULL OR s.task_id = ?1
                     ORDER BY s.created_at, s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([only], |r| {
                let state: String = r.get(3)?;
                Ok(TaskRow {
                    task: r.get(0)?,
                    session: TaskSession {
                        session_id: r.get(1)?,
                        agent_type: r.get(2)?,
                        state: state.parse().unwrap_or(State::Unknown),
                        phase: r.get(4)?,
                        created_at: r.get(5)?,
                    },
                    updated_at: r.get(6)?,
                    kind: r.get(7)?,
                    tokens: r.get::<_, Option<i64>>(8)?.map(|v| v.max(0) as u64),
                    cost: r.get(9)?,
                    cpu: r.get::<_, Option<i64>>(10)?.map(|v| v.max(0) as u64),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}
