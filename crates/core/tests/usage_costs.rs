//! Cost figures the agents report that are not costs (negative, absurd) and sums that run
//! past the believable: never stored as a cost, counted as malformed, left for the price
//! table to estimate (see `services/usage/cost.rs`).

use agent_sessions::usage::{
    fill_cost, opencode_db_usage, parse_claude_print_json, parse_claude_stream_json,
    parse_opencode_run_jsonl, price_table, TokenUsage,
};

fn step(cost: &str) -> String {
    format!(
        "{{\"type\":\"step_finish\",\"part\":{{\"type\":\"step-finish\",\"modelID\":\"claude-opus-4-8\",\
         \"cost\":{cost},\"tokens\":{{\"input\":1000,\"output\":100,\"reasoning\":0,\
         \"cache\":{{\"read\":0,\"write\":0}}}}}}}}\n"
    )
}

/// The usage as the CLI prints it, after the price table had its say.
fn filled(mut u: TokenUsage) -> TokenUsage {
    fill_cost(&mut u);
    let json = serde_json::to_value(&u).unwrap();
    assert!(
        json["cost_usd"].is_number(),
        "an estimate, not null: {json}"
    );
    let c = u.cost_usd.unwrap();
    assert!(c.is_finite() && c > 0.0, "{c}");
    assert!(u.cost_estimated);
    u
}

fn table_tag() -> String {
    format!("+price-table:{}", price_table().version())
}

#[test]
fn opencode_absurd_step_costs_are_not_summed_to_infinity() {
    let text = step("1e308") + &step("1e308");
    let u = parse_opencode_run_jsonl(text.as_bytes()).unwrap();
    assert_eq!(u.cost_usd, None, "two steps of 1e308 are no cost");
    assert_eq!(u.skipped_lines, 2);
    assert_eq!(u.tokens_input, Some(2000), "the steps' tokens still count");
    assert_eq!(u.source.as_deref(), Some("opencode-run-json"));
    let u = filled(u);
    assert_eq!(u.source, Some(format!("opencode-run-json{}", table_tag())));
}

#[test]
fn opencode_costs_adding_up_past_the_believable_are_unknown() {
    // Each figure is possible, their sum is not a bill anyone got.
    let text = step("0.5") + &step("6e8") + &step("6e8");
    let u = parse_opencode_run_jsonl(text.as_bytes()).unwrap();
    assert_eq!(u.cost_usd, None);
    assert_eq!(u.skipped_lines, 0);
    assert_eq!(
        u.source.as_deref(),
        Some("opencode-run-json+cost-unknown:sum-too-large")
    );
    let u = filled(u);
    assert_eq!(
        u.source,
        Some(format!(
            "opencode-run-json+cost-unknown:sum-too-large{}",
            table_tag()
        ))
    );
}

#[test]
fn opencode_negative_step_cost_is_skipped() {
    let text = step("0.25") + &step("-5") + &step("0.5");
    let u = parse_opencode_run_jsonl(text.as_bytes()).unwrap();
    assert_eq!(u.cost_usd, Some(0.75), "the real figures still add up");
    assert!(!u.cost_estimated);
    assert_eq!(u.skipped_lines, 1);
    assert_eq!(u.tokens_input, Some(3000));
}

#[test]
fn claude_negative_total_cost_is_not_a_cost() {
    let doc = r#"{"type":"result","modelUsage":{"claude-opus-4-8":{"inputTokens":1234,
        "outputTokens":56,"cacheReadInputTokens":700,"cacheCreationInputTokens":300,
        "costUSD":-1}},"total_cost_usd":-5}"#;
    let u = parse_claude_print_json(doc);
    assert_eq!(u.cost_usd, None, "-5 USD is not what the run cost");
    assert_eq!(u.skipped_lines, 1);
    assert_eq!(u.model.as_deref(), Some("claude-opus-4-8"));
    assert_eq!(u.tokens_input, Some(1234));
    let u = filled(u);
    assert!(
        (u.cost_usd.unwrap() - 0.009795).abs() < 1e-9,
        "{:?}",
        u.cost_usd
    );

    // A zero and a real figure stay as reported.
    let u = parse_claude_print_json(&doc.replace("-5", "0.0123").replace("-1", "0.0123"));
    assert_eq!(u.cost_usd, Some(0.0123));
    assert_eq!(u.skipped_lines, 0);
    let u = parse_claude_print_json(&doc.replace("-5", "-0.0").replace("-1", "0"));
    assert_eq!(u.cost_usd, Some(0.0));
    assert!(u.cost_usd.unwrap().is_sign_positive());
}

#[test]
fn claude_stream_result_with_absurd_cost_counts_as_malformed() {
    let lines = concat!(
        "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-opus-4-8\"}\n",
        "{\"type\":\"result\",\"usage\":{\"input_tokens\":10,\"output_tokens\":5},",
        "\"total_cost_usd\":1e300}\n",
    );
    let u = parse_claude_stream_json(lines.as_bytes()).unwrap();
    assert_eq!(u.cost_usd, None);
    assert_eq!(u.skipped_lines, 1);
    assert_eq!(u.tokens_input, Some(10));
    assert_eq!(u.model.as_deref(), Some("claude-opus-4-8"));
    filled(u);
}

#[test]
fn opencode_db_skips_costs_that_are_not_costs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opencode.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE session (id TEXT PRIMARY KEY, parent_id TEXT, directory TEXT,
             time_created INTEGER);
         CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER, data);
         CREATE TABLE part (id TEXT PRIMARY KEY, session_id TEXT, data);
         INSERT INTO session VALUES ('s', NULL, '/tmp', 0);",
    )
    .unwrap();
    for (i, cost) in ["0.01", "-3", "1e308", "0.02", "1e308"].iter().enumerate() {
        c.execute(
            "INSERT INTO part VALUES (?1, 's', ?2)",
            rusqlite::params![
                format!("p{i}"),
                format!(
                    "{{\"type\":\"step-finish\",\"cost\":{cost},\"tokens\":{{\"input\":10,\"output\":1}}}}"
                )
            ],
        )
        .unwrap();
    }
    drop(c);
    let u = opencode_db_usage(&db, "s").unwrap().unwrap();
    assert!(
        (u.cost_usd.unwrap() - 0.03).abs() < 1e-12,
        "{:?}",
        u.cost_usd
    );
    assert_eq!(u.skipped_lines, 3);
    assert_eq!(u.tokens_input, Some(50));
    assert_eq!(u.source.as_deref(), Some("opencode-db"));
}
