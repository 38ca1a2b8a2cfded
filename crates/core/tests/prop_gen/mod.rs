//! Generators for the property tests in `parsers_prop.rs`: nearly valid agent records
//! (JSONL lines of the real shapes with odd values where the numbers go) and nearly valid
//! `agents.toml` / `hooks.toml` files, since random bytes rarely get past the first parse.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

// ---- JSON lines ---------------------------------------------------------------------------

/// JSON number (and not-quite-number) literals, written raw into a line.
#[rustfmt::skip]
pub const RAW_LITERALS: &[&str] = &[
    "0", "1", "-1", "-0", "-0.0", "0.5", "1.5e3", "1e19", "1e308", "1e999", "-1e999",
    "1E+400", "1e-400", "18446744073709551615", "18446744073709551616",
    "-9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "9007199254740993", "NaN", "Infinity", "-Infinity", "nan", "0x10", "+1", "01",
    "\"12\"", "\"NaN\"", "\"-1\"", "\"\"", "\"<synthetic>\"", "\"claude-opus-4-8[1m]\"",
    "\"gpt-5\"", "\"user\"", "\"assistant\"", "\"hello\"", "\"# AGENTS.md\"",
    "\"models/gemini-2.5-pro\"", "\"m1\"", "\"m2\"", "\"2026-01-02T03:04:05Z\"",
    "\"9999-99-99T99:99:99Z\"", "\"\\u0000\"", "\"\\ud800\"", "null", "true", "false", "{}",
    "[]", "[1,2]", "{\"a\":1}", "[[[[[[[[[[1]]]]]]]]]]",
];

/// Keys the parsers look for, so random objects hit their branches.
#[rustfmt::skip]
pub const KEYS: &[&str] = &[
    "type", "message", "id", "model", "usage", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "modelUsage", "inputTokens",
    "outputTokens", "costUSD", "total_cost_usd", "result", "payload", "info",
    "total_token_usage", "cached_input_tokens", "thread_token_usage", "stats", "models",
    "tokens", "input", "output", "cached", "prompt", "candidates", "thoughts", "tool", "part",
    "cost", "modelID", "reasoning", "cache", "read", "write", "role", "content", "text",
    "name", "timestamp", "isSidechain", "isMeta", "$set", "messages", "sessionId",
    "startTime", "cwd",
];

#[rustfmt::skip]
pub const TYPES: &[&str] = &[
    "user", "assistant", "result", "system", "event_msg", "token_count", "turn_context",
    "token_usage_record", "session_meta", "turn.completed", "response_item", "message",
    "gemini", "step_finish", "step-finish", "text", "tool_use", "tool_result", "input_text",
    "output_text", "thread_settings_applied",
];

/// A JSON literal: one of the odd ones, or a random integer or float.
pub fn raw_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(RAW_LITERALS).prop_map(str::to_string),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => (0usize..300).prop_map(deep_array),
    ]
}

/// `[[[...]]]` nested `n` deep (past serde_json's recursion limit for large n).
pub fn deep_array(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYS).prop_map(str::to_string),
        1 => "[a-z_$]{0,6}",
    ]
}

/// Any JSON value, with keys and type names the parsers know.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(TYPES).prop_map(|s| Value::String(s.into())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// `template` with each `@` replaced by the next literal (cycling).
pub fn fill(template: &str, lits: &[String]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * lits.len());
    let mut i = 0;
    for c in template.chars() {
        if c == '@' {
            out.push_str(&lits[i % lits.len()]);
            i += 1;
        } else {
            out.push(c);
        }
    }
    out
}

pub const CLAUDE_LINES: &[&str] = &[
    r#"{"type":"assistant","message":{"id":@,"model":@,"usage":{"input_tokens":@,"output_tokens":@,"cache_read_input_tokens":@,"cache_creation_input_tokens":@}}}"#,
    r#"{"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-5","usage":@}}"#,
    r#"{"type":"result","modelUsage":{"claude-opus-4-8":{"inputTokens":@,"outputTokens":@,"cacheReadInputTokens":@,"cacheCreationInputTokens":@,"costUSD":@},@:{"inputTokens":@}},"total_cost_usd":@,"usage":@}"#,
    r#"{"type":"result","modelUsage":@,"usage":{"input_tokens":@},"total_cost_usd":@}"#,
    r#"{"type":"system","model":@}"#,
    r#"{"message":@}"#,
    r#"[{"type":"system"},{"type":"result","usage":{"output_tokens":@},"total_cost_usd":@}]"#,
    r#"{"type":"user","message":{"content":[{"type":"text","text":@},{"type":"tool_use","name":@,"input":@},{"type":"tool_result","content":@}]},"timestamp":@}"#,
    r#"{"type":@,"isSidechain":@,"isMeta":@,"message":{"content":@}}"#,
];

pub const CODEX_LINES: &[&str] = &[
    r#"{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":@,"cached_input_tokens":@,"output_tokens":@,"cache_write_input_tokens":@}}}}"#,
    r#"{"type":"event_msg","payload":{"type":"token_count","info":@}}"#,
    r#"{"type":"token_usage_record","payload":{"thread_token_usage":@}}"#,
    r#"{"type":"turn_context","payload":{"model":@}}"#,
    r#"{"type":"event_msg","payload":{"type":"thread_settings_applied","thread_settings":{"model":@}}}"#,
    r#"{"type":"session_meta","payload":{"cwd":@,"timestamp":@,"base_instructions":{"provenance":{"model":@}}}}"#,
    r#"{"type":"turn.completed","usage":{"input_tokens":@,"cached_input_tokens":@,"output_tokens":@}}"#,
    r#"{"type":"response_item","payload":{"type":"message","role":@,"content":[{"type":"input_text","text":@},{"type":"output_text","text":@}]},"timestamp":@}"#,
    r#"{"type":"response_item","payload":{"type":"message","role":"user","content":@}}"#,
];

pub const GEMINI_LINES: &[&str] = &[
    r#"{"stats":{"models":{"gemini-2.5-pro":{"tokens":{"input":@,"prompt":@,"cached":@,"candidates":@,"thoughts":@,"tool":@}},@:{"tokens":@}}}}"#,
    r#"{"type":"result","stats":{"input_tokens":@,"output_tokens":@,"cached":@,"input":@}}"#,
    r#"{"type":"gemini","id":@,"model":@,"tokens":{"input":@,"output":@,"cached":@,"thoughts":@,"tool":@}}"#,
    r#"{"$set":{"messages":[{"type":"gemini","id":@,"tokens":@},@]}}"#,
    r#"{"sessionId":@,"startTime":@,"messages":@}"#,
    r#"{"sessionId":"abcdefgh-1","startTime":@,"messages":[{"type":"gemini","tokens":{"input":@,"output":@}}]}"#,
];

pub const OPENCODE_LINES: &[&str] = &[
    r#"{"type":"step_finish","part":{"type":"step-finish","modelID":@,"tokens":{"input":@,"output":@,"reasoning":@,"cache":{"read":@,"write":@}},"cost":@}}"#,
    r#"{"type":"step-finish","tokens":{"input":@,"cache":@},"cost":@}"#,
    r#"{"role":"assistant","modelID":@,"tokens":{"input":@,"output":@},"cost":@}"#,
    r#"{"role":@,"model":{"modelID":@},"tokens":@,"cost":@}"#,
];

/// One line: mostly a real shape with odd values, else any JSON, junk bytes or a torn line.
pub fn line(templates: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let filled = (
        select(templates),
        prop::collection::vec(raw_literal(), 1..16),
    )
        .prop_map(|(t, lits)| fill(t, &lits).into_bytes())
        .boxed();
    prop_oneof![
        6 => filled.clone(),
        2 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..48),
        1 => (filled, any::<prop::sample::Index>()).prop_map(|(mut l, cut)| {
            l.truncate(cut.index(l.len() + 1));
            l
        }),
    ]
}

/// A JSONL document of such lines, with mixed line ends and blank lines.
pub fn jsonl(templates: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            line(templates),
            select(&["\n", "\r\n", "\n\n", "\n \t\n"][..]),
        ),
        0..12,
    )
    .prop_map(|lines| {
        let mut out = Vec::new();
        for (l, end) in lines {
            out.extend_from_slice(&l);
            out.extend_from_slice(end.as_bytes());
        }
        out
    })
}

/// Structured documents half the time, plain random bytes otherwise.
pub fn input(templates: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => jsonl(templates),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

// ---- agents.toml and hooks.toml ---------------------------------------------------------

/// What a field holds, to pick a value that fits it (or, wildly, one that does not).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Text,
    Command,
    Args,
    Patterns,
    Keys,
    IdArgs,
    Int,
    Float,
    States,
}

#[rustfmt::skip]
pub const AGENT_FIELDS: &[(&str, Kind)] = &[
    ("command", Kind::Command), ("args", Kind::Args), ("description", Kind::Text),
    ("busy", Kind::Patterns), ("prompt", Kind::Patterns), ("permission", Kind::Patterns),
    ("trust", Kind::Patterns), ("login", Kind::Patterns), ("quit", Kind::Keys),
    ("interrupt", Kind::Keys), ("interrupt_presses", Kind::Int),
    ("debounce_secs", Kind::Float), ("resume", Kind::IdArgs),
    ("session_id_args", Kind::IdArgs),
];

#[rustfmt::skip]
pub const HOOK_FIELDS: &[(&str, Kind)] = &[
    ("states", Kind::States), ("from", Kind::States), ("agent", Kind::Text),
    ("task", Kind::Text), ("command", Kind::Command),
];

/// Keys no file may have.
pub const UNKNOWN_FIELDS: &[&str] = &["bussy", "\"\"", "command.x", "when", "Command"];

/// TOML strings: patterns, key names, quoted text, `{id}`, state names, odd characters.
#[rustfmt::skip]
pub const TOML_STRINGS: &[&str] = &[
    "\"sh\"", "\"/bin/sh\"", "\"Waiting for\"", "\"^> \"", "\"(Y)es/(N)o\"", "\"Enter\"",
    "\"C-c\"", "\"Esc\"", "\"'/exit'\"", "\"{id}\"", "\"--resume\"", "\"--session-id\"",
    "\"running\"", "\"waiting_input\"", "\"failed\"", "\"stopped\"", "\"unknown\"",
    "\"paused\"", "\"suspended\"", "\"Running\"", "\"nope\"",
    "\"x\"", "\"\"", "\"^\"", "\"^ \"", "\"  \"", "\"a\\u0007b\"", "\"line\\nbreak\"",
    "'lit'", "\"''\"", "\"'\"", "\"c-ä\"", "\"C-\"", "\"^c\"", "\"ü\"", "\"\\u00ff\"",
    "\"\\t\"", "'''multi\nline'''", "\"\"\"multi\nline\"\"\"",
];

/// TOML values of any type, put where another type belongs.
#[rustfmt::skip]
pub const TOML_VALUES: &[&str] = &[
    "1", "0", "-1", "5", "6", "4294967296", "9223372036854775807", "-9223372036854775808",
    "nan", "+inf", "-inf", "-0.0", "0.0", "0.5", "60.0", "60.000001", "1e308", "1e-320",
    "5e-324", "true", "1979-05-27T07:32:00Z", "07:32:00", "[]", "{}", "[1, \"a\"]",
    "{ a = 1 }", "[[[[[[[[\"deep\"]]]]]]]]", "[\"x\"]", "[\"\", \"y\"]", "\"x\"", "''",
];

#[rustfmt::skip]
const INTS: &[&str] = &[
    "1", "2", "5", "0", "-1", "6", "4294967296", "4294967297", "9223372036854775807",
    "-9223372036854775808", "0x10", "1_000", "+3",
];

#[rustfmt::skip]
const FLOATS: &[&str] = &[
    "0.0", "-0.0", "0.5", "1.0", "60.0", "60.000001", "61.0", "-1.5", "nan", "+inf", "-inf",
    "-nan", "1e308", "1e-320", "5e-324", "1e6", "18446744073709551616.0", "3",
];

/// Valid type names first, then ones the checks refuse or TOML reads differently.
#[rustfmt::skip]
pub const AGENT_NAMES: &[&str] = &[
    "aider", "x", "a-b_c", "my_agent-2", "Z9",
    "claude", "custom", "\"with space\"", "\"ä\"", "\"\"", "a.b", "\"a.b\"",
    "0123456789012345678901234567890123456789012345678901234567890123456789",
];
const VALID_NAMES: usize = 5;

/// A value that fits `kind`.
fn fitting(kind: Kind) -> BoxedStrategy<String> {
    let list = |items: &'static [&'static str], n: std::ops::Range<usize>| {
        prop::collection::vec(select(items), n)
            .prop_map(|v| {
                let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
                format!("[{}]", quoted.join(", "))
            })
            .boxed()
    };
    match kind {
        Kind::Text => select(&["\"Aider\"", "\"T-42\"", "\"claude\"", "'x'"][..])
            .prop_map(str::to_string)
            .boxed(),
        Kind::Command => list(&["sh", "/bin/sh", "-c", "notify-send", "a b"], 1..3),
        Kind::Args => list(&["--yes", "-v", "--model=x", ""], 0..3),
        Kind::Patterns => list(&["Waiting for", "^> ", "(Y)es/(N)o", "esc to", "^❯ "], 0..3),
        Kind::Keys => list(
            &["Enter", "C-c", "Esc", "'/exit'", "C-d", "Tab", "^c", "q"],
            0..3,
        ),
        Kind::IdArgs => select(&["[\"--resume\", \"{id}\"]", "[\"--session={id}\"]", "[]"][..])
            .prop_map(str::to_string)
            .boxed(),
        Kind::Int => (1u32..=5).prop_map(|n| n.to_string()).boxed(),
        Kind::Float => (0.0f64..=60.0).prop_map(|f| format!("{f:?}")).boxed(),
        Kind::States => list(
            &[
                "running",
                "waiting_input",
                "failed",
                "stopped",
                "unknown",
                "paused",
            ],
            0..3,
        ),
    }
}

pub fn toml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(TOML_STRINGS).prop_map(str::to_string),
        // Rust's escapes of a short printable string are valid TOML basic-string escapes.
        1 => "[a-zA-Z^ '{}/>()-]{0,10}".prop_map(|s| format!("{s:?}")),
        1 => (190usize..260).prop_map(|n| format!("\"{}\"", "y".repeat(n))),
    ]
}

/// A value of the right TOML type for `kind` but odd contents, or of any type at all.
fn wild(kind: Kind) -> BoxedStrategy<String> {
    let strings =
        (prop::collection::vec(toml_string(), 0..5), any::<bool>()).prop_map(|(items, multi)| {
            if multi && !items.is_empty() {
                // one item a line: each has its own line number
                format!("[\n  {},\n]", items.join(",\n  "))
            } else {
                format!("[{}]", items.join(", "))
            }
        });
    let typed = match kind {
        Kind::Text => toml_string().boxed(),
        Kind::Int => prop_oneof![
            3 => select(INTS).prop_map(str::to_string),
            1 => any::<i64>().prop_map(|n| n.to_string()),
        ]
        .boxed(),
        Kind::Float => prop_oneof![
            3 => select(FLOATS).prop_map(str::to_string),
            1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        ]
        .boxed(),
        _ => strings.boxed(),
    };
    prop_oneof![4 => typed, 1 => select(TOML_VALUES).prop_map(str::to_string)].boxed()
}

/// `key = value` lines for a few distinct fields; each value is wild with odds `wildness`,
/// and with the same odds one unknown field is added.
fn toml_fields(
    fields: &'static [(&'static str, Kind)],
    wildness: f64,
) -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::subsequence(fields, 0..=fields.len().min(6)),
        proptest::bool::weighted(wildness / 3.0),
        select(UNKNOWN_FIELDS),
    )
        .prop_flat_map(move |(chosen, unknown, name)| {
            let mut lines: Vec<BoxedStrategy<String>> = chosen
                .into_iter()
                .map(|(k, kind)| {
                    let value = prop_oneof![
                        ((1.0 - wildness) * 100.0) as u32 + 1 => fitting(kind),
                        (wildness * 100.0) as u32 => wild(kind),
                    ];
                    value.prop_map(move |v| format!("{k} = {v}")).boxed()
                })
                .collect();
            if unknown {
                lines.push(Just(format!("{name} = \"?\"")).boxed());
            }
            lines
        })
}

/// `doc`, sometimes torn at a character or with one stray character put in.
fn damaged(doc: BoxedStrategy<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => doc.clone(),
        1 => (doc.clone(), any::<prop::sample::Index>()).prop_map(|(d, cut)| {
            let chars: Vec<char> = d.chars().collect();
            chars[..cut.index(chars.len() + 1)].iter().collect()
        }),
        1 => (
            doc,
            any::<prop::sample::Index>(),
            select(&['"', '[', ']', '=', '\n', '\'', '{', ',', '\u{0}', '\u{7f}'][..]),
        )
            .prop_map(|(d, at, c)| {
                let mut chars: Vec<char> = d.chars().collect();
                chars.insert(at.index(chars.len() + 1), c);
                chars.into_iter().collect()
            }),
    ]
}

/// How odd a generated file is: from all-valid to nothing fitting.
fn wildness() -> impl Strategy<Value = f64> {
    select(&[0.0, 0.05, 0.2, 0.5, 1.0][..])
}

/// A nearly valid `agents.toml`: agent tables of the documented fields with values that fit
/// or do not, odd type names, odd table headers; sometimes damaged.
pub fn agents_toml() -> impl Strategy<Value = String> {
    let doc = wildness()
        .prop_flat_map(|w| {
            let names = if w == 0.0 {
                &AGENT_NAMES[..VALID_NAMES]
            } else {
                AGENT_NAMES
            };
            let table = (
                proptest::bool::weighted(w / 4.0),
                0u8..3,
                toml_fields(AGENT_FIELDS, w),
                proptest::bool::weighted(1.0 - w / 5.0),
            );
            (
                prop::sample::subsequence(names, 0..4),
                prop::collection::vec(table, 4),
            )
        })
        .prop_map(|(names, tables)| {
            let mut out = String::from("# agents\n");
            for (name, (odd, style, mut fields, command)) in names.into_iter().zip(tables) {
                if command && !fields.iter().any(|f| f.starts_with("command ")) {
                    fields.insert(0, "command = [\"sh\", \"-c\"]".into());
                }
                let header = match (odd, style) {
                    (true, 0) => format!("[[agents.{name}]]"),
                    (true, 1) => "[agents]".to_string(),
                    (true, _) => "[other]".to_string(),
                    (false, _) => format!("[agents.{name}]"),
                };
                out.push_str(&format!("{header}\n{}\n\n", fields.join("\n")));
            }
            out
        })
        .boxed();
    prop_oneof![8 => damaged(doc), 1 => ".{0,200}"]
}

/// A nearly valid `hooks.toml` (bytes: some are cut inside a character).
pub fn hooks_toml() -> impl Strategy<Value = Vec<u8>> {
    let doc = wildness()
        .prop_flat_map(|w| {
            let table = (
                proptest::bool::weighted(w / 4.0),
                any::<bool>(),
                toml_fields(HOOK_FIELDS, w),
                proptest::bool::weighted(1.0 - w / 5.0),
            );
            prop::collection::vec(table, 0..4)
        })
        .prop_map(|tables| {
            let mut out = String::new();
            for (odd, style, mut fields, command) in tables {
                if command && !fields.iter().any(|f| f.starts_with("command ")) {
                    fields.push("command = [\"true\"]".into());
                }
                let header = match (odd, style) {
                    (true, true) => "[on_state]",
                    (true, false) => "[[other]]",
                    (false, _) => "[[on_state]]",
                };
                out.push_str(&format!("{header}\n{}\n\n", fields.join("\n")));
            }
            out
        })
        .boxed();
    prop_oneof![
        8 => damaged(doc.clone()).prop_map(String::into_bytes),
        1 => (doc, any::<prop::sample::Index>()).prop_map(|(d, cut)| {
            let mut b = d.into_bytes();
            b.truncate(cut.index(b.len() + 1)); // may split a character: not UTF-8
            b
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}
