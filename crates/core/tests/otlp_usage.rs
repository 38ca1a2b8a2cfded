//! The agents' own OpenTelemetry log exports, as the real CLIs sent them
//! (`tests/data/otlp/`, see its README): what one export holds, and what a session's
//! `otel.jsonl` sums to. Also bad input of every kind: it is ignored or refused, never a
//! panic.

use agent_sessions::usage::{
    lost_line, otel_usage, parse_logs, request_lines, OtelAgent, OtelRequest,
};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn capture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/otlp")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// (model, input, output, cache read, cache write, cost, kind) of each request.
type Row = (
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<f64>,
    Option<String>,
);

fn rows(agent: OtelAgent, file: &str) -> Vec<Row> {
    parse_logs(agent, &capture(file))
        .unwrap()
        .requests
        .into_iter()
        .map(|(_, r)| {
            (
                r.model,
                r.input,
                r.output,
                r.cache_read,
                r.cache_write,
                r.cost_usd,
                r.kind,
            )
        })
        .collect()
}

fn s(x: &str) -> Option<String> {
    Some(x.to_string())
}

#[test]
fn claude_code_reports_each_request_with_its_cost() {
    let first = rows(OtelAgent::Claude, "claude-2.1.197-logs-1.json");
    assert_eq!(
        first,
        vec![(
            s("claude-sonnet-4-5"),
            Some(1010),
            Some(21),
            Some(300),
            Some(40),
            Some(0.0035849999999999996),
            s("repl_main_thread")
        )]
    );
    let second = rows(OtelAgent::Claude, "claude-2.1.197-logs-2.json");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1, Some(1020));
    assert_eq!(second[0].5, Some(0.00363));
}

#[test]
fn codex_reports_the_title_request_too() {
    // Input includes the cached tokens in Codex's counts: 1010 - 300 uncached.
    let first = rows(OtelAgent::Codex, "codex-0.171.0-logs-1.json");
    let figures: Vec<_> = first.iter().map(|r| (r.1, r.2, r.3, r.4)).collect();
    assert_eq!(
        figures,
        vec![
            (Some(710), Some(21), Some(300), Some(0)),
            (Some(720), Some(22), Some(300), Some(0)),
        ]
    );
    assert!(first.iter().all(|r| r.0.as_deref() == Some("gpt-standin")));
    let second = rows(OtelAgent::Codex, "codex-0.171.0-logs-2.json");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].1, Some(730));
}

#[test]
fn gemini_reports_the_routing_classifier() {
    let r = rows(OtelAgent::Gemini, "gemini-0.61.0-logs.json");
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.0.clone(), r.1, r.2, r.3, r.4, r.6.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                s("gemini-3.5-flash-lite"),
                Some(710),
                Some(21),
                Some(300),
                None,
                s("utility_router")
            ),
            (
                s("gemini-3.1-pro-preview"),
                Some(720),
                Some(22),
                Some(300),
                None,
                s("main")
            ),
        ]
    );
    // A metrics export is a document of another kind: no log records.
    let m = parse_logs(OtelAgent::Gemini, &capture("gemini-0.61.0-metrics.json")).unwrap();
    assert_eq!((m.records, m.requests.len()), (0, 0));
}

#[test]
fn one_agents_parser_counts_no_other_agents_records() {
    for (agent, others) in [
        (
            OtelAgent::Claude,
            ["codex-0.171.0-logs-1.json", "gemini-0.61.0-logs.json"],
        ),
        (
            OtelAgent::Codex,
            ["claude-2.1.197-logs-1.json", "gemini-0.61.0-logs.json"],
        ),
        (
            OtelAgent::Gemini,
            ["claude-2.1.197-logs-1.json", "codex-0.171.0-logs-1.json"],
        ),
    ] {
        for f in others {
            assert!(
                parse_logs(agent, &capture(f)).unwrap().requests.is_empty(),
                "{agent:?} {f}"
            );
        }
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("as-otlp-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    /// An otel.jsonl of these exports, as the host writes it.
    fn file_of(&self, agent: OtelAgent, files: &[&str]) -> PathBuf {
        let mut out = Vec::new();
        for f in files {
            let b = parse_logs(agent, &capture(f)).unwrap();
            out.extend(request_lines(b.requests.iter().map(|(_, r)| r)));
        }
        let p = self.0.join("otel.jsonl");
        std::fs::write(&p, out).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_sessions_requests_add_up_exactly() {
    let d = Dir::new("claude");
    let p = d.file_of(
        OtelAgent::Claude,
        &["claude-2.1.197-logs-1.json", "claude-2.1.197-logs-2.json"],
    );
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    assert_eq!(u.tokens_input, Some(2030));
    assert_eq!(u.tokens_output, Some(43));
    assert_eq!(u.tokens_cache_read, Some(600));
    assert_eq!(u.tokens_cache_write, Some(80));
    assert!((u.cost_usd.unwrap() - 0.007215).abs() < 1e-12, "{u:?}");
    assert!(!u.cost_estimated);
    assert_eq!(u.source.as_deref(), Some("claude-otel"));
    assert_eq!(u.model.as_deref(), Some("claude-sonnet-4-5"));
    assert!(u.exact);

    // Codex reports no cost, and its stand-in model has no price: unknown.
    let d = Dir::new("codex");
    let p = d.file_of(
        OtelAgent::Codex,
        &["codex-0.171.0-logs-1.json", "codex-0.171.0-logs-2.json"],
    );
    let u = otel_usage(&p, OtelAgent::Codex).unwrap().unwrap();
    assert_eq!(
        (
            u.tokens_input,
            u.tokens_output,
            u.tokens_cache_read,
            u.tokens_cache_write
        ),
        (Some(2160), Some(66), Some(900), Some(0))
    );
    assert_eq!(u.cost_usd, None);
    assert_eq!(u.source.as_deref(), Some("codex-otel"));
    assert!(u.exact);
    // No file: no figures.
    assert!(otel_usage(&d.0.join("none.jsonl"), OtelAgent::Codex)
        .unwrap()
        .is_none());
}

#[test]
fn costs_are_estimated_per_request_at_each_models_price() {
    let d = Dir::new("prices");
    let req = |model: &str, input: u64, cost: Option<f64>| OtelRequest {
        model: Some(model.into()),
        input: Some(input),
        output: Some(0),
        cache_read: Some(0),
        cache_write: Some(0),
        cost_usd: cost,
        ..Default::default()
    };
    let p = d.0.join("otel.jsonl");
    // Two priced models, one request each, and one with the agent's own cost.
    let reqs = [
        req("claude-sonnet-4-5", 1_000_000, None),
        req("claude-haiku-4-5", 1_000_000, None),
        req("claude-sonnet-4-5", 10, Some(0.5)),
    ];
    std::fs::write(&p, request_lines(reqs.iter())).unwrap();
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    let table = agent_sessions::usage::price_table();
    let price = |m: &str| table.lookup(m).unwrap().1.input;
    let want = price("claude-sonnet-4-5") + price("claude-haiku-4-5") + 0.5;
    assert!(
        (u.cost_usd.unwrap() - want).abs() < 1e-9,
        "{u:?} want {want}"
    );
    assert!(u.cost_estimated);
    assert!(u
        .source
        .as_deref()
        .unwrap()
        .starts_with("claude-otel+price-table:"));
    assert!(
        u.exact,
        "an estimated cost does not make the tokens a lower bound"
    );

    // A request on a model the table does not know makes the cost unknown.
    let reqs = [
        req("claude-sonnet-4-5", 10, None),
        req("no-such-model", 10, None),
    ];
    std::fs::write(&p, request_lines(reqs.iter())).unwrap();
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    assert_eq!(u.cost_usd, None);
    assert_eq!(u.tokens_input, Some(20));
}

#[test]
fn a_recorded_loss_makes_the_figures_a_lower_bound() {
    let d = Dir::new("lost");
    let mut p = d.file_of(OtelAgent::Claude, &["claude-2.1.197-logs-1.json"]);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.extend(lost_line("agent-signalled"));
    bytes.extend(lost_line("agent-signalled"));
    bytes.extend(b"{not json\n");
    bytes.extend(b"{\"future\": \"line kind\"}\n");
    bytes.extend(lost_line("bad-batch"));
    bytes.extend(b"{\"input\": 5"); // a line being written
    std::fs::write(&mut p, bytes).unwrap();
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    assert_eq!(u.tokens_input, Some(1010));
    assert_eq!(
        u.source.as_deref(),
        Some("claude-otel+lower-bound:agent-signalled+lower-bound:bad-batch")
    );
    assert!(!u.exact);
    assert_eq!(u.skipped_lines, 2);
}

fn one(attrs: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"body": {"stringValue": "claude_code.api_request"}, "attributes": attrs}
        ]}]}]}),
    )
    .unwrap()
}

#[test]
fn implausible_figures_are_no_figures() {
    let kv = |k: &str, v: serde_json::Value| serde_json::json!({"key": k, "value": v});
    let body = one(serde_json::json!([
        kv("input_tokens", serde_json::json!({"intValue": -5})),
        kv(
            "output_tokens",
            serde_json::json!({"intValue": "184467440737095516160"})
        ),
        kv(
            "cache_read_tokens",
            serde_json::json!({"doubleValue": 1e300})
        ),
        kv(
            "cache_creation_tokens",
            serde_json::json!({"doubleValue": "NaN"})
        ),
        kv("cost_usd", serde_json::json!({"doubleValue": "NaN"})),
        kv("model", serde_json::json!({"intValue": 3})),
    ]));
    let b = parse_logs(OtelAgent::Claude, &body).unwrap();
    assert_eq!(b.records, 1);
    assert!(
        b.requests.is_empty(),
        "no figure survives: {:?}",
        b.requests
    );
    assert_eq!(b.rejected, 1, "the NaN cost");
    for cost in [
        serde_json::json!(-1.0),
        serde_json::json!("Infinity"),
        serde_json::json!(1e12),
    ] {
        let body = one(serde_json::json!([
            kv("input_tokens", serde_json::json!({"intValue": 7})),
            kv("cost_usd", serde_json::json!({ "doubleValue": cost })),
        ]));
        let b = parse_logs(OtelAgent::Claude, &body).unwrap();
        assert_eq!(b.requests.len(), 1);
        assert_eq!(b.requests[0].1.cost_usd, None);
        assert_eq!(b.rejected, 1);
    }
    // Token counts that add past u64 saturate.
    let d = Dir::new("huge");
    let big = OtelRequest {
        input: Some(u64::MAX - 1),
        ..Default::default()
    };
    let p = d.0.join("otel.jsonl");
    std::fs::write(&p, request_lines([&big, &big])).unwrap();
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    assert_eq!(u.tokens_input, Some(u64::MAX));
}

#[test]
fn deep_and_wrongly_typed_documents_are_refused() {
    let deep = format!(
        "{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{{\"body\":{}1{}}}]}}]}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_logs(OtelAgent::Claude, deep.as_bytes()).is_err());
    for bad in [
        &b"{\"resourceLogs\": {}}"[..],
        b"{\"resourceLogs\": [{\"scopeLogs\": [{\"logRecords\": [5]}]}]}",
        b"{\"resourceLogs\": [{\"scopeLogs\": [{\"logRecords\": [{\"attributes\": [{\"key\": 1}]}]}]}]}",
        b"\xff\xfe",
        b"null",
    ] {
        assert!(parse_logs(OtelAgent::Codex, bad).is_err(), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn no_bytes_make_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for agent in [OtelAgent::Claude, OtelAgent::Codex, OtelAgent::Gemini] {
            let _ = parse_logs(agent, &bytes);
        }
    }

    #[test]
    fn mutated_captures_never_panic(at in 0usize..8180, byte in any::<u8>()) {
        let mut b = capture("claude-2.1.197-logs-2.json");
        let i = at % b.len();
        b[i] = byte;
        let _ = parse_logs(OtelAgent::Claude, &b);
    }
}

#[test]
fn prompts_are_matched_with_their_requests() {
    for (agent, file) in [
        (OtelAgent::Claude, "claude-2.1.197-logs-2.json"),
        (OtelAgent::Gemini, "gemini-0.61.0-logs.json"),
    ] {
        let b = parse_logs(agent, &capture(file)).unwrap();
        assert_eq!(b.prompts.len(), 1, "{file}");
        let id = &b.prompts[0].1.id;
        assert!(!b.prompts[0].1.errored);
        assert!(
            b.requests
                .iter()
                .all(|(_, r)| r.prompt.as_ref() == Some(id)),
            "{file}: {:?}",
            b.requests
        );
    }
    // Codex's prompt records carry no id: none are kept.
    let b = parse_logs(OtelAgent::Codex, &capture("codex-0.171.0-logs-1.json")).unwrap();
    assert!(b.prompts.is_empty());
}

#[test]
fn a_prompt_whose_request_never_finished_makes_a_lower_bound() {
    use agent_sessions::usage::{ended_line, prompt_lines, OtelPrompt};
    let d = Dir::new("unanswered");
    let done = parse_logs(OtelAgent::Claude, &capture("claude-2.1.197-logs-2.json")).unwrap();
    // An interrupted prompt before it: Claude Code logged its user_prompt and nothing else.
    let cut = OtelPrompt {
        id: "interrupted-prompt".into(),
        errored: false,
        at_ms: Some(done.prompts[0].1.at_ms.unwrap() - 5_000),
    };
    let mut bytes = prompt_lines([&cut]);
    bytes.extend(prompt_lines(done.prompts.iter().map(|(_, p)| p)));
    bytes.extend(request_lines(done.requests.iter().map(|(_, r)| r)));
    let p = d.0.join("otel.jsonl");
    std::fs::write(&p, &bytes).unwrap();
    let u = otel_usage(&p, OtelAgent::Claude).unwrap().unwrap();
    assert_eq!(
        u.source.as_deref(),
        Some("claude-otel+lower-bound:prompt-without-request")
    );
    assert!(!u.exact);
    assert_eq!(u.tokens_input, Some(1020));

    // The last prompt unanswered: a lower bound once the agent has ended, not before.
    let mut bytes = prompt_lines(done.prompts.iter().map(|(_, p)| p));
    bytes.extend(request_lines(done.requests.iter().map(|(_, r)| r)));
    let late = OtelPrompt {
        id: "in-flight".into(),
        errored: false,
        at_ms: Some(done.prompts[0].1.at_ms.unwrap() + 5_000),
    };
    bytes.extend(prompt_lines([&late]));
    std::fs::write(&p, &bytes).unwrap();
    assert!(otel_usage(&p, OtelAgent::Claude).unwrap().unwrap().exact);
    bytes.extend(ended_line());
    std::fs::write(&p, &bytes).unwrap();
    assert!(!otel_usage(&p, OtelAgent::Claude).unwrap().unwrap().exact);
}

#[test]
fn a_file_without_requests_is_no_source() {
    let d = Dir::new("empty");
    let p = d.0.join("otel.jsonl");
    let mut bytes = agent_sessions::usage::ended_line();
    bytes.extend(lost_line("agent-signalled"));
    std::fs::write(&p, bytes).unwrap();
    assert!(otel_usage(&p, OtelAgent::Claude).unwrap().is_none());
}
