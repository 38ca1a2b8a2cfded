//! The usage report: tokens and cost of many sessions summed by day, agent or task, as the
//! CLI (`usage --by`), the server (`/usage/report`) and its dashboard show and export it.
//! CSV is made here, once, so every export of the same table has the same columns.

use crate::model::error::{Error, Result};
use crate::model::record::SessionRecord;
use crate::model::telemetry::TokenUsage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What rows the report sums by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    /// The UTC day the session was created (`2026-12-02`).
    Day,
    /// The agent type.
    Agent,
    /// The task id (`(no task)` for sessions without one).
    Task,
}

impl std::str::FromStr for UsageGroup {
    type Err = Error;
    fn from_str(s: &str) -> Result<UsageGroup> {
        match s {
            "day" => Ok(UsageGroup::Day),
            "agent" => Ok(UsageGroup::Agent),
            "task" => Ok(UsageGroup::Task),
            _ => Err(Error::InvalidArgument(format!(
                "usage can be summed by day, agent or task, not {s:?}"
            ))),
        }
    }
}

/// The key of sessions without a task.
pub const NO_TASK: &str = "(no task)";

/// One row: the sessions of one day, agent or task, and their sums. A figure a session does
/// not have counts as 0 (the report is a sum; each session's own `usage` says which are
/// unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The day, agent type or task id; `total` in the totals row.
    pub key: String,
    /// How many sessions.
    pub sessions: u64,
    /// Uncached prompt tokens.
    pub tokens_input: u64,
    /// Output tokens.
    pub tokens_output: u64,
    /// Prompt tokens read from the cache.
    pub tokens_cache_read: u64,
    /// Prompt tokens written to the cache.
    pub tokens_cache_write: u64,
    /// The four above.
    pub total_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
    /// Some of the cost is estimated from the price table.
    pub estimated: bool,
}

impl UsageRow {
    fn add(&mut self, u: &TokenUsage) {
        let n = |v: Option<u64>| v.unwrap_or(0);
        self.sessions += 1;
        self.tokens_input += n(u.tokens_input);
        self.tokens_output += n(u.tokens_output);
        self.tokens_cache_read += n(u.tokens_cache_read);
        self.tokens_cache_write += n(u.tokens_cache_write);
        self.total_tokens = self.tokens_input
            + self.tokens_output
            + self.tokens_cache_read
            + self.tokens_cache_write;
        self.cost_usd += u.cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0);
        self.estimated |= u.cost_estimated && u.cost_usd.is_some();
    }
}

/// The report: rows in key order and their totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageTable {
    /// What the rows are.
    pub by: UsageGroup,
    /// One row per day, agent or task.
    pub rows: Vec<UsageRow>,
    /// The sums of all rows (`key` is `total`).
    pub totals: UsageRow,
}

impl UsageTable {
    /// Sums `sessions` (each with its usage) by `by`.
    pub fn new<'a>(
        by: UsageGroup,
        sessions: impl IntoIterator<Item = (&'a SessionRecord, &'a TokenUsage)>,
    ) -> UsageTable {
        let mut rows: BTreeMap<String, UsageRow> = BTreeMap::new();
        let mut totals = UsageRow {
            key: "total".into(),
            ..Default::default()
        };
        for (rec, usage) in sessions {
            let key = match by {
                UsageGroup::Day => rec.created_at.get(..10).unwrap_or("").to_string(),
                UsageGroup::Agent => rec.agent_type.clone().unwrap_or_else(|| "record".into()),
                UsageGroup::Task => rec.task_id.clone().unwrap_or_else(|| NO_TASK.into()),
            };
            let row = rows.entry(key.clone()).or_insert_with(|| UsageRow {
                key,
                ..Default::default()
            });
            row.add(usage);
            totals.add(usage);
        }
        UsageTable {
            by,
            rows: rows.into_values().collect(),
            totals,
        }
    }

    /// The table as CSV: a header, the rows, then the `total` row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "key,sessions,tokens_input,tokens_output,tokens_cache_read,tokens_cache_write,total_tokens,cost_usd,estimated\n",
        );
        for r in self.rows.iter().chain(std::iter::once(&self.totals)) {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{:.6},{}\n",
                csv_field(&r.key),
                r.sessions,
                r.tokens_input,
                r.tokens_output,
                r.tokens_cache_read,
                r.tokens_cache_write,
                r.total_tokens,
                r.cost_usd,
                r.estimated
            ));
        }
        out
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so a spreadsheet does not run a task id as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(csv_field("T-1"), "T-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
