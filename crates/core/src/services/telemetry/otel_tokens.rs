//! Tokens of a session from its agent's OpenTelemetry export (`<session dir>/otel.jsonl`),
//! checked against the agent's own records (see [`super::compute_usage`]).
//!
//! The export counts every request the agent finished, but not one cut off by an interrupt:
//! none of the three CLIs reports a request it aborted (Claude Code 2.1.197, Codex 0.171
//! and Gemini CLI 0.61, tried against the stand-in: an interrupted stream gives no
//! `api_request` / `response.completed` / `api_response`), although the API bills what it
//! already processed. The agent's records do show the interrupt (Claude Code's
//! "[Request interrupted by user]", Codex's `turn_aborted`, Gemini's "Request cancelled."),
//! so with one the figures are marked a lower bound. Only a reader with the agent's
//! environment (the host at the end, or one with the same `CLAUDE_CONFIG_DIR`, ...) finds
//! those records; another reader's live figures cannot show it.

use crate::config::home::Home;
use crate::model::record::SessionRecord;
use crate::model::telemetry::{source_is_exact, LOWER_BOUND_TAG};
use crate::services::usage::{self, OtelAgent, TokenUsage};

use super::tokens::{record_file, UsageEnv};

/// The OpenTelemetry figures of the session, when its host received any.
pub(super) fn from_otel(home: &Home, record: &SessionRecord) -> Option<TokenUsage> {
    let agent = OtelAgent::from_type(record.agent_type.as_deref()?)?;
    let path = home
        .session_dir(&record.session_id)
        .ok()?
        .join(usage::OTEL_FILE);
    usage::otel_usage(&path, agent).ok()?
}

/// Whether the agent's own records show an interrupted request.
pub(super) fn interrupted(record: &SessionRecord, env: &UsageEnv) -> bool {
    let Some(agent) = record.agent_type.as_deref().and_then(OtelAgent::from_type) else {
        return false;
    };
    record_file(record, env).is_some_and(|p| usage::records_show_interrupt(agent, &p))
}

/// `source` with `+lower-bound:<why>` added (before any price-table part).
fn with_lower_bound(source: &str, why: &str) -> String {
    let mut parts: Vec<&str> = source.split('+').collect();
    let at = parts
        .iter()
        .position(|p| p.starts_with("price-table:"))
        .unwrap_or(parts.len());
    let tag = format!("{LOWER_BOUND_TAG}:{why}");
    parts.insert(at, &tag);
    parts.join("+")
}

/// The OpenTelemetry figures, unless the agent's records show more or an interrupt (see
/// [`super::compute_usage`]).
pub(super) fn checked_against(
    mut otel: TokenUsage,
    records: Option<TokenUsage>,
    interrupted: bool,
) -> TokenUsage {
    if interrupted {
        otel.source = otel
            .source
            .as_deref()
            .map(|s| with_lower_bound(s, "interrupted"));
        otel.exact = source_is_exact(otel.source.as_deref());
    }
    let Some(rec) = records else {
        return otel;
    };
    let more = |o: Option<u64>, r: Option<u64>| r.is_some_and(|r| r > o.unwrap_or(0));
    let short = more(otel.tokens_input, rec.tokens_input)
        || more(otel.tokens_output, rec.tokens_output)
        || more(otel.tokens_cache_read, rec.tokens_cache_read)
        || more(otel.tokens_cache_write, rec.tokens_cache_write);
    if !short {
        return otel;
    }
    let max = |o: Option<u64>, r: Option<u64>| match (o, r) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // The cost is estimated again for the larger figures.
    let source = otel
        .source
        .as_deref()
        .unwrap_or("")
        .split('+')
        .filter(|p| !p.starts_with("price-table:"))
        .collect::<Vec<_>>()
        .join("+");
    let mut u = TokenUsage {
        tokens_input: max(otel.tokens_input, rec.tokens_input),
        tokens_output: max(otel.tokens_output, rec.tokens_output),
        tokens_cache_read: max(otel.tokens_cache_read, rec.tokens_cache_read),
        tokens_cache_write: max(otel.tokens_cache_write, rec.tokens_cache_write),
        source: Some(with_lower_bound(&source, "records-show-more")),
        model: otel.model.or(rec.model),
        skipped_lines: otel.skipped_lines,
        ..TokenUsage::default()
    };
    usage::fill_cost(&mut u);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otel() -> TokenUsage {
        TokenUsage {
            tokens_input: Some(100),
            tokens_output: Some(10),
            tokens_cache_read: Some(0),
            tokens_cache_write: Some(0),
            cost_usd: Some(0.5),
            source: Some("codex-otel+price-table:v".into()),
            model: Some("m".into()),
            exact: true,
            ..Default::default()
        }
    }

    #[test]
    fn records_that_show_less_leave_the_figures_exact() {
        let rec = TokenUsage {
            tokens_input: Some(60),
            tokens_output: Some(10),
            ..Default::default()
        };
        assert_eq!(checked_against(otel(), Some(rec), false), otel());
    }

    #[test]
    fn records_that_show_more_make_a_lower_bound() {
        let rec = TokenUsage {
            tokens_input: Some(60),
            tokens_output: Some(11),
            ..Default::default()
        };
        let u = checked_against(otel(), Some(rec), false);
        assert_eq!((u.tokens_input, u.tokens_output), (Some(100), Some(11)));
        assert_eq!(
            u.source.as_deref(),
            Some("codex-otel+lower-bound:records-show-more")
        );
        assert!(!u.exact);
        assert_eq!(u.cost_usd, None, "model m has no price");
    }

    #[test]
    fn an_interrupt_makes_a_lower_bound() {
        let u = checked_against(otel(), None, true);
        assert_eq!(
            u.source.as_deref(),
            Some("codex-otel+lower-bound:interrupted+price-table:v")
        );
        assert!(!u.exact);
        assert_eq!(u.tokens_input, Some(100));
    }
}
