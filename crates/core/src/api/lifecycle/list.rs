//! Listing and looking up sessions (reads of `store::lifecycle`).

use super::doc::SessionSummary;
use super::Lifecycle;
use crate::model::error::{Error, Result};
use crate::store::lifecycle::{ListFilter, SummaryRef};

impl Lifecycle {
    /// Summaries (agent_id, agent_name, phase, created_at, last_updated, resume_ready,
    /// error_count), most recently updated first. `active_only` keeps only the sessions whose
    /// resume_ready is true, as the reference hook library does.
    pub fn list_sessions(
        &self,
        active_only: bool,
        agent_name: Option<&str>,
    ) -> Result<Vec<SessionSummary>> {
        self.list_sessions_filtered(ListFilter::active_only(active_only), agent_name)
    }

    /// [`Self::list_sessions`] with any [`ListFilter`].
    pub fn list_sessions_filtered(
        &self,
        filter: ListFilter,
        agent_name: Option<&str>,
    ) -> Result<Vec<SessionSummary>> {
        let mut out = Vec::new();
        self.for_each_summary_filtered(filter, agent_name, |s| {
            out.push(SessionSummary {
                agent_id: s.agent_id.to_string(),
                agent_name: s.agent_name.map(str::to_string),
                phase: s.phase.map(str::to_string),
                created_at: s.created_at.map(str::to_string),
                last_updated: s.last_updated.map(str::to_string),
                resume_ready: s.resume_ready,
                error_count: s.error_count,
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Self::list_sessions`] without copying: calls `each` with every summary, borrowed from
    /// the store's row, in order. Stops at the first error `each` returns. (The Python binding
    /// builds its dicts this way.)
    pub fn for_each_summary<E: From<Error>>(
        &self,
        active_only: bool,
        agent_name: Option<&str>,
        each: impl FnMut(SummaryRef<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        self.for_each_summary_filtered(ListFilter::active_only(active_only), agent_name, each)
    }

    /// [`Self::for_each_summary`] with any [`ListFilter`].
    pub fn for_each_summary_filtered<E: From<Error>>(
        &self,
        filter: ListFilter,
        agent_name: Option<&str>,
        each: impl FnMut(SummaryRef<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        // The connection stays locked while `each` runs: the rows are borrowed from it.
        let conn = self.conn()?;
        conn.store
            .for_each_lifecycle_summary(filter, agent_name, each)
    }

    /// The most recently updated session (of `agent_name`, when given) whose metadata has every
    /// `(key, value)` of `metadata_match` (string values), optionally only unfinished ones.
    pub fn find_latest(
        &self,
        agent_name: Option<&str>,
        metadata_match: &[(&str, &str)],
        active_only: bool,
    ) -> Result<Option<String>> {
        self.with_store(|store| {
            store.find_latest_lifecycle(agent_name, metadata_match, active_only)
        })
    }
}
