//! `<session dir>/otel.jsonl`: what the session's host received from the agent's
//! OpenTelemetry export, one JSON object a line, appended only, and what it sums to.
//!
//! | line | meaning |
//! |---|---|
//! | an [`OtelRequest`] (`model`, `input`, `output`, `cache_read`, `cache_write`, `cost_usd`, `kind`, `prompt`, `at_ms`) | one API request the agent finished |
//! | `{"submitted": {OtelPrompt}}` | a prompt the user submitted, or (`errored`) one the API refused |
//! | `{"lost": "<why>"}` | something the host knows it could not count |
//! | `{"agent_ended": true}` | the agent exited; its export is complete |
//!
//! No prompt text, secret or response is ever written; only figures, ids and times.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cost::{self, Figure};
use super::otlp::{OtelAgent, OtelPrompt, OtelRequest};
use super::{for_each_line, open_optional, price_table, ModelTally, TokenUsage, Tokens};
use crate::model::error::Result;
use crate::model::telemetry::{source_is_exact, LOWER_BOUND_TAG};

/// The file in the session's folder.
pub const OTEL_FILE: &str = "otel.jsonl";

/// A line of [`OTEL_FILE`] that records a loss: the figures are a lower bound (`lost`:
/// `agent-signalled`, `batch-too-large`, `bad-batch`, `not-json`, `unsupported-encoding`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtelLost {
    pub lost: String,
}

#[derive(Serialize, Deserialize)]
struct Submitted {
    submitted: OtelPrompt,
}

#[derive(Serialize, Deserialize)]
struct Ended {
    agent_ended: bool,
}

fn line_of<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    // Plain data: serializing cannot fail.
    if serde_json::to_writer(&mut *out, v).is_ok() {
        out.push(b'\n');
    }
}

/// The lines the host appends for `requests`, each ending in `\n`.
pub fn request_lines<'a>(requests: impl IntoIterator<Item = &'a OtelRequest>) -> Vec<u8> {
    let mut out = Vec::new();
    for r in requests {
        line_of(r, &mut out);
    }
    out
}

/// The lines the host appends for `prompts`.
pub fn prompt_lines<'a>(prompts: impl IntoIterator<Item = &'a OtelPrompt>) -> Vec<u8> {
    let mut out = Vec::new();
    for p in prompts {
        line_of(
            &Submitted {
                submitted: p.clone(),
            },
            &mut out,
        );
    }
    out
}

/// The line recording a loss (see [`OtelLost`]).
pub fn lost_line(reason: &str) -> Vec<u8> {
    let mut out = Vec::new();
    line_of(
        &OtelLost {
            lost: reason.to_string(),
        },
        &mut out,
    );
    out
}

/// The line the host appends when the agent has exited.
pub fn ended_line() -> Vec<u8> {
    let mut out = Vec::new();
    line_of(&Ended { agent_ended: true }, &mut out);
    out
}

/// The lines of a file, sorted out.
#[derive(Default)]
struct Lines {
    requests: Vec<OtelRequest>,
    prompts: Vec<OtelPrompt>,
    lost: Vec<String>,
    /// How many of `prompts` came before the last `agent_ended` line (a resumed session's
    /// file holds several runs; prompts after it belong to the run still going).
    ended_upto: usize,
}

/// Sums the requests of an [`OTEL_FILE`] (`Ok(None)` when there is none, or it holds no
/// request with a figure: an agent that reported nothing is no source).
///
/// - tokens: the sum of every request's figures (`None` where no request had one);
/// - `model`: the model with the most tokens;
/// - cost: the agent's own figures where it reported them (Claude Code); the others
///   estimated per request from the price table at their own model, and then
///   `cost_estimated` and `+price-table:<version>` in `source`; unknown (`None`) when a
///   request without a reported cost is on a model the table does not price;
/// - `source`: `<agent>-otel`, with `+lower-bound:<reason>` for each loss the host recorded
///   and `+lower-bound:prompt-without-request` when a prompt got no finished request of
///   its own although a later prompt did, or the agent ended (an interrupted request: the
///   agents report none they cut off, yet the API bills it); `exact` when there is none.
pub fn otel_usage(path: &Path, agent: OtelAgent) -> Result<Option<TokenUsage>> {
    let Some(reader) = open_optional(path)? else {
        return Ok(None);
    };
    let mut lines = Lines::default();
    let skipped = for_each_line(reader, |line| {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return false;
        };
        if let Some(why) = v.get("lost").and_then(Value::as_str) {
            if !lines.lost.iter().any(|l| l == why) {
                lines.lost.push(why.to_string());
            }
        } else if let Ok(s) = serde_json::from_value::<Submitted>(v.clone()) {
            lines.prompts.push(s.submitted);
        } else if v.get("agent_ended").is_some() {
            lines.ended_upto = lines.prompts.len();
        } else if let Ok(r) = serde_json::from_value::<OtelRequest>(v) {
            // (A line of an unknown future kind reads as a request without figures.)
            lines.requests.push(r);
        }
        true
    })
    .map_err(|e| super::io_err(path, e))?;
    if lines
        .requests
        .iter()
        .all(|r| r.tokens().is_empty() && r.cost_usd.is_none())
    {
        return Ok(None);
    }
    let mut u = sum(agent, &lines);
    u.skipped_lines += skipped;
    Ok(Some(u))
}

fn sum(agent: OtelAgent, lines: &Lines) -> TokenUsage {
    let mut total = Tokens::default();
    let mut tally = ModelTally::new();
    let mut reported = cost::CostSum::default();
    let mut unreported: BTreeMap<String, Tokens> = BTreeMap::new();
    let mut unpriced = false;
    let mut rejected = 0u64;
    for r in &lines.requests {
        let t = r.tokens();
        if t.is_empty() && r.cost_usd.is_none() {
            continue;
        }
        total.add(&t);
        if let Some(m) = &r.model {
            tally.add(m, t.weight());
        }
        match r.cost_usd.map(|c| cost::figure(Some(&Value::from(c)))) {
            Some(Figure::Cost(c)) => {
                reported.add(Some(&Value::from(c)));
            }
            Some(_) => rejected += 1,
            None => match r.model.as_deref().and_then(|m| price_table().lookup(m)) {
                Some((key, _)) => unreported.entry(key.to_string()).or_default().add(&t),
                None => unpriced = true,
            },
        }
    }
    let mut u = TokenUsage::with_source(agent.source());
    u.apply(&total);
    u.model = tally.best();
    u.skipped_lines = rejected;
    let mut source = agent.source().to_string();
    for why in &lines.lost {
        source.push_str(&format!("+{LOWER_BOUND_TAG}:{why}"));
    }
    if unanswered_prompt(agent, lines) {
        source.push_str(&format!("+{LOWER_BOUND_TAG}:prompt-without-request"));
    }
    // The estimated part, per model.
    let mut estimated: Option<f64> = Some(0.0);
    for (model, part) in &unreported {
        let mut part_usage = TokenUsage::default();
        part_usage.apply(part);
        estimated = match (estimated, super::estimate_cost(&part_usage, model)) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
    if reported.too_large() {
        source.push_str(&format!("+{}", cost::SUM_TOO_LARGE));
    }
    let reported_total = if reported.seen() {
        reported.total()
    } else {
        Some(0.0)
    };
    let any = reported.seen() || !unreported.is_empty() || unpriced;
    u.cost_usd = match (any, unpriced, reported_total, estimated) {
        (true, false, Some(r), Some(e)) if r + e <= cost::MAX_COST_USD => Some(r + e),
        _ => None,
    };
    if u.cost_usd.is_some() && !unreported.is_empty() {
        u.cost_estimated = true;
        source.push_str(&format!("+price-table:{}", price_table().version()));
    }
    u.exact = source_is_exact(Some(&source));
    u.source = Some(source);
    u
}

/// A prompt whose own main request never finished, while a later prompt's did or the
/// agent has ended (so it will not).
fn unanswered_prompt(agent: OtelAgent, lines: &Lines) -> bool {
    // The request that answers a prompt: the main one (an auxiliary request for the same
    // prompt, a title or a routing classifier, can finish while the main one is cut off).
    let main = |r: &OtelRequest| match agent {
        OtelAgent::Claude => r.kind.as_deref().is_none_or(|k| k == "repl_main_thread"),
        OtelAgent::Gemini => r.kind.as_deref().is_none_or(|k| !k.starts_with("utility_")),
        OtelAgent::Codex => true,
    };
    let answered: HashSet<&str> = lines
        .requests
        .iter()
        .filter(|r| main(r))
        .filter_map(|r| r.prompt.as_deref())
        .chain(
            lines
                .prompts
                .iter()
                .filter(|p| p.errored)
                .map(|p| p.id.as_str()),
        )
        .collect();
    let latest_answered = lines
        .prompts
        .iter()
        .filter(|p| !p.errored && answered.contains(p.id.as_str()))
        .filter_map(|p| p.at_ms)
        .max();
    lines.prompts.iter().enumerate().any(|(i, p)| {
        let over =
            i < lines.ended_upto || latest_answered.is_some_and(|l| p.at_ms.is_some_and(|t| t < l));
        !p.errored && !answered.contains(p.id.as_str()) && over
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: &str, at: i64) -> OtelPrompt {
        OtelPrompt {
            id: id.into(),
            errored: false,
            at_ms: Some(at),
        }
    }

    fn req(prompt: &str, kind: &str) -> OtelRequest {
        OtelRequest {
            input: Some(1),
            prompt: Some(prompt.into()),
            kind: Some(kind.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_prompt_without_its_request_is_noticed_once_it_cannot_come() {
        let mut l = Lines {
            prompts: vec![prompt("a", 1), prompt("b", 2)],
            requests: vec![req("a", "repl_main_thread")],
            ..Default::default()
        };
        // b's request may still be on its way.
        assert!(!unanswered_prompt(OtelAgent::Claude, &l));
        l.ended_upto = 2;
        assert!(unanswered_prompt(OtelAgent::Claude, &l));
        // An earlier run's end closes only that run's prompts.
        l.ended_upto = 1;
        assert!(!unanswered_prompt(OtelAgent::Claude, &l));
        // a interrupted, b answered.
        let l = Lines {
            prompts: vec![prompt("a", 1), prompt("b", 2)],
            requests: vec![req("a", "title"), req("b", "repl_main_thread")],
            ..Default::default()
        };
        assert!(unanswered_prompt(OtelAgent::Claude, &l));
        // An API error answers a prompt.
        let mut l = l;
        l.prompts.push(OtelPrompt {
            errored: true,
            ..prompt("a", 1)
        });
        assert!(!unanswered_prompt(OtelAgent::Claude, &l));
        // Gemini: the classifier alone does not answer a prompt.
        let l = Lines {
            prompts: vec![prompt("a", 1), prompt("b", 2)],
            requests: vec![req("a", "utility_router"), req("b", "main")],
            ..Default::default()
        };
        assert!(unanswered_prompt(OtelAgent::Gemini, &l));
    }
}
