//! Cost budgets of sessions and tasks: set, clear and show them. The session's host
//! enforces them (see `host::budget`); setting one pokes the hosts concerned so they look
//! at once.

use crate::api::manager::SessionManager;
use crate::model::budget::{Budget, BudgetStatus, Spent};
use crate::model::error::{Error, Result};
use crate::model::protocol::Tag;
use crate::model::record::{SessionKind, SessionRecord};
use crate::store::ListFilter;

impl SessionManager {
    /// A session's own budget with what it has spent (its usage as `usage` reads it).
    pub fn budget(&self, session_id: &str) -> Result<BudgetStatus> {
        let rec = self.get(session_id)?;
        self.session_status(&rec)
    }

    /// Sets (`None`: removes) a session's own budget. A live session's host looks at it at
    /// once: a budget already exceeded acts now.
    pub fn set_budget(&self, session_id: &str, budget: Option<Budget>) -> Result<BudgetStatus> {
        if let Some(b) = &budget {
            b.check()?;
        }
        let rec = self.get(session_id)?;
        if rec.kind == SessionKind::Record {
            return Err(Error::NoProcess {
                id: rec.session_id,
                action: "have a budget (a lifecycle record runs no agent)",
            });
        }
        self.with_store(|s| s.set_session_budget(&rec.session_id, budget.as_ref()))?;
        self.poke_host(&rec);
        self.budget(&rec.session_id)
    }

    /// A task's budget with what all of its sessions have spent. A task with neither a
    /// budget nor sessions is [`Error::TaskNotFound`].
    pub fn task_budget(&self, task_id: &str) -> Result<BudgetStatus> {
        crate::api::manager::tasks::validate_task_id(task_id)?;
        let (budget, spent, exists) = self.with_store(|s| {
            Ok((
                s.task_budget(task_id)?,
                s.task_spent(task_id)?,
                s.task_exists(task_id)?,
            ))
        })?;
        if budget.is_none() && !exists {
            return Err(Error::TaskNotFound(task_id.to_string()));
        }
        Ok(status("task", task_id, budget, spent))
    }

    /// Sets (`None`: removes) a task's budget, which counts all of its sessions, also
    /// those started later. May be set before the task's first session. Every live host
    /// of the task looks at it at once.
    pub fn set_task_budget(&self, task_id: &str, budget: Option<Budget>) -> Result<BudgetStatus> {
        crate::api::manager::tasks::validate_task_id(task_id)?;
        if let Some(b) = &budget {
            b.check()?;
        }
        let removed = self.with_store(|s| s.set_task_budget(task_id, budget.as_ref()))?;
        if budget.is_none() && !removed && !self.with_store(|s| s.task_exists(task_id))? {
            return Err(Error::TaskNotFound(task_id.to_string()));
        }
        let filter = ListFilter {
            task_id: Some(task_id.to_string()),
            ..ListFilter::default()
        };
        match self.list(&filter) {
            Ok(recs) => recs.iter().for_each(|r| self.poke_host(r)),
            Err(Error::TaskNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let spent = self.with_store(|s| s.task_spent(task_id))?;
        Ok(status("task", task_id, budget, spent))
    }

    fn session_status(&self, rec: &SessionRecord) -> Result<BudgetStatus> {
        let u = self.record_usage(rec, super::usage::USAGE_MAX_AGE)?;
        let spent = Spent {
            usd: u.cost_usd,
            tokens: u.total_tokens().unwrap_or(0),
            estimated: u.cost_estimated,
        };
        Ok(status("session", &rec.session_id, rec.budget, spent))
    }

    /// Asks a live session's host to look at its budgets now. A host that is gone or
    /// ending has nothing left to spend: no error.
    fn poke_host(&self, rec: &SessionRecord) {
        if rec.kind == SessionKind::Hosted && rec.state.is_live() {
            let _ = self.request(&rec.session_id, Tag::Budget, b"");
        }
    }
}

fn status(scope: &str, id: &str, budget: Option<Budget>, spent: Spent) -> BudgetStatus {
    BudgetStatus {
        scope: scope.into(),
        id: id.into(),
        assessment: budget.map(|b| b.assess(&spent)),
        budget,
        spent,
    }
}
