//! Property tests of everything that reads text the user or an agent wrote: the usage
//! parsers (Claude, Codex, Gemini, opencode), the history line parsers, `agents.toml` and
//! `hooks.toml`. Whatever the input, none may panic; a bad input is an error (naming file and
//! line where the API does so) or a well-formed value.
//!
//! Random bytes alone rarely get past the first `serde_json::from_slice`, so most inputs are
//! built to be nearly valid: the real line shapes with odd values in the token fields (huge,
//! negative, fractional, out-of-range literals, strings, nested arrays), torn lines and junk
//! between them.

mod prop_gen;

use agent_sessions::agents::{AgentOrigin, AgentSpec};
use agent_sessions::history::{self, LineParser, Message, MAX_PAGE};
use agent_sessions::store::{NewSession, Store};
use agent_sessions::usage::{self, TokenUsage};
use agent_sessions::{AgentDef, Error, SessionKind, SessionManager, State};
use prop_gen::*;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

/// Enough cases to reach the odd corners, few enough that the file runs in seconds.
/// `PROPTEST_CASES=N` runs N cases per property instead, for a longer hunt.
fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        // Found failures are turned into plain tests by hand; no regression files.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- checks -------------------------------------------------------------------------------

fn nonblank_lines(bytes: &[u8]) -> u64 {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count() as u64
}

/// What every parsed usage must satisfy, and `fill_cost` on it must keep.
fn check_usage(u: &TokenUsage, source: &str, max_skipped: u64) -> Result<(), TestCaseError> {
    check_source(u, source)?;
    if let Some(c) = u.cost_usd {
        prop_assert!(c.is_finite() && c >= 0.0, "reported cost {c}");
    }
    prop_assert!(
        u.skipped_lines <= max_skipped,
        "skipped {} of at most {max_skipped}",
        u.skipped_lines
    );
    prop_assert_eq!(u.total_tokens().is_some(), u.has_tokens());
    if let Some(total) = u.total_tokens() {
        for t in [
            u.tokens_input,
            u.tokens_output,
            u.tokens_cache_read,
            u.tokens_cache_write,
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(t <= total);
        }
    }
    prop_assert!(!u.cost_estimated, "a parser never estimates");
    // A well-formed value serializes (the CLI prints it as JSON).
    let json = serde_json::to_string(u).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back: TokenUsage =
        serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(back.tokens_input, u.tokens_input);
    prop_assert_eq!(back.tokens_output, u.tokens_output);
    let mut filled = u.clone();
    usage::fill_cost(&mut filled);
    if filled.cost_estimated {
        let c = filled.cost_usd.unwrap_or(-1.0);
        prop_assert!(c.is_finite() && c >= 0.0, "estimated cost {c}");
    }
    Ok(())
}

/// The parser's source name, with the note that reported costs added up to no believable
/// cost when they did.
fn check_source(u: &TokenUsage, source: &str) -> Result<(), TestCaseError> {
    let s = u.source.as_deref().unwrap_or("");
    let too_large = format!("{source}+cost-unknown:sum-too-large");
    prop_assert!(s == source || s == too_large, "source {s}");
    prop_assert!(s == source || u.cost_usd.is_none(), "{s} with a cost");
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---- usage parsers ------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn claude_parsers_never_panic(bytes in input(CLAUDE_LINES)) {
        let max = nonblank_lines(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let u = usage::parse_claude_print_json(&text);
        check_usage(&u, "claude-print-json", 1)?;
        let u = usage::parse_claude_stream_json(&bytes[..]).unwrap();
        check_usage(&u, "claude-stream-json", max)?;
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "t.jsonl", &bytes);
        let u = usage::claude_transcript_usage(&p).unwrap().expect("the file exists");
        check_usage(&u, "claude-transcript", max)?;
    }

    #[test]
    fn codex_parsers_never_panic(bytes in input(CODEX_LINES)) {
        let max = nonblank_lines(&bytes);
        let u = usage::parse_codex_exec_jsonl(&bytes[..]).unwrap();
        check_usage(&u, "codex-exec-json", max)?;
        let dir = tempfile::tempdir().unwrap();
        let name = "sessions/2026/01/02/rollout-2026-01-02T03-04-05-tid.jsonl";
        let p = write(dir.path(), name, &bytes);
        let u = usage::codex_rollout_usage(&p).unwrap().expect("the file exists");
        check_usage(&u, "codex-rollout", max)?;
        // Locating reads the first line of every candidate.
        let by_id = usage::find_codex_rollout(dir.path(), Some("tid"), Path::new("/"), UNIX_EPOCH);
        prop_assert_eq!(by_id.as_deref(), Some(p.as_path()));
        let _ = usage::find_codex_rollout(dir.path(), None, Path::new("/tmp"), UNIX_EPOCH);
    }

    #[test]
    fn gemini_parsers_never_panic(bytes in input(GEMINI_LINES)) {
        let max = nonblank_lines(&bytes);
        let u = usage::parse_gemini_json(&String::from_utf8_lossy(&bytes));
        check_usage(&u, "gemini-json", max.max(1))?;
        let dir = tempfile::tempdir().unwrap();
        for name in ["session-abcdefgh.json", "session-abcdefgh.jsonl"] {
            let p = write(&dir.path().join("tmp/proj/chats"), name, &bytes);
            let u = usage::gemini_chat_usage(&p).unwrap().expect("the file exists");
            check_usage(&u, "gemini-chat", max)?;
        }
        // Locating reads each chat's header, pretty-printed or not.
        let _ = usage::find_gemini_chat(dir.path(), Some("abcdefgh-1"), Path::new("/"), UNIX_EPOCH);
        let _ = usage::find_gemini_chat(dir.path(), None, Path::new("/"), UNIX_EPOCH);
    }

    #[test]
    fn opencode_run_parser_never_panics(bytes in input(OPENCODE_LINES)) {
        let u = usage::parse_opencode_run_jsonl(&bytes[..]).unwrap();
        check_usage(&u, "opencode-run-json", nonblank_lines(&bytes))?;
    }
}

/// An opencode database whose rows hold odd JSON (or none), as TEXT or BLOB, with a session
/// tree that may have cycles.
fn opencode_rows() -> impl Strategy<Value = Vec<(u8, u8, bool, Vec<u8>)>> {
    let data = prop_oneof![
        4 => line(OPENCODE_LINES),
        1 => arb_json().prop_map(|v| v.to_string().into_bytes()),
    ];
    // (session index, parent index, as blob, data)
    prop::collection::vec((0u8..4, 0u8..5, any::<bool>(), data), 0..16)
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn opencode_db_parser_never_panics(rows in opencode_rows(), use_parts in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("opencode.db");
        let mut c = rusqlite::Connection::open(&db).unwrap();
        // No journal, no fsync: the file only has to exist for the reader.
        c.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;").unwrap();
        let c = c.transaction().unwrap();
        c.execute_batch(
            "CREATE TABLE session (id TEXT PRIMARY KEY, parent_id TEXT, directory TEXT,
                 time_created INTEGER);
             CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER,
                 data);
             CREATE TABLE part (id TEXT PRIMARY KEY, session_id TEXT, data);",
        )
        .unwrap();
        for s in 0..4u8 {
            // parent 4 is "none"; others may point back up the tree or at itself
            let parent = rows.iter().find(|r| r.0 == s).map(|r| r.1).filter(|&p| p < 4);
            c.execute(
                "INSERT INTO session VALUES (?1, ?2, '/tmp', ?3)",
                rusqlite::params![format!("s{s}"), parent.map(|p| format!("s{p}")), s as i64],
            )
            .unwrap();
        }
        for (i, (s, _, blob, data)) in rows.iter().enumerate() {
            let table = if use_parts && i % 2 == 0 { "part" } else { "message" };
            let sql = if table == "part" {
                "INSERT INTO part VALUES (?1, ?2, ?3)"
            } else {
                "INSERT INTO message VALUES (?1, ?2, 0, ?3)"
            };
            let value = if *blob {
                rusqlite::types::Value::Blob(data.clone())
            } else {
                rusqlite::types::Value::Text(String::from_utf8_lossy(data).into_owned())
            };
            c.execute(sql, rusqlite::params![format!("r{i}"), format!("s{s}"), value]).unwrap();
        }
        c.commit().unwrap();
        let u = usage::opencode_db_usage(&db, "s0").unwrap().expect("the tables exist");
        check_source(&u, "opencode-db")?;
        if let Some(c) = u.cost_usd {
            prop_assert!(c.is_finite() && c >= 0.0, "reported cost {c}");
        }
        prop_assert!(u.skipped_lines <= rows.len() as u64);
        let _ = usage::find_opencode_session(&db, Path::new("/tmp"), UNIX_EPOCH).unwrap();
    }
}

// ---- history ------------------------------------------------------------------------------

const ROLES: &[&str] = &["user", "assistant", "tool"];

fn check_messages(parsed: &history::ParsedLine, roles: &[&str]) -> Result<(), TestCaseError> {
    for (role, _, _) in parsed {
        prop_assert!(roles.contains(&role.as_str()), "role {role}");
    }
    Ok(())
}

/// Reads the whole file page by page and checks the pages fit together.
fn read_paged(path: &Path, limit: usize, parse: LineParser) -> Result<Vec<Message>, TestCaseError> {
    let mut all = Vec::new();
    let mut offset = 0u64;
    loop {
        let (page, next) = history::page_from_jsonl(path, offset, limit, parse)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(page.len() <= limit.clamp(1, MAX_PAGE));
        for (i, m) in page.iter().enumerate() {
            prop_assert_eq!(m.index, offset + i as u64);
            prop_assert!(ROLES.contains(&m.role.as_str()));
        }
        all.extend(page.iter().cloned());
        match next {
            Some(n) => {
                prop_assert_eq!(n, offset + page.len() as u64);
                prop_assert_eq!(page.len(), limit.clamp(1, MAX_PAGE));
                offset = n;
            }
            None => return Ok(all),
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn history_line_parsers_never_panic(v in arb_json()) {
        check_messages(&history::parse_claude_line(&v), ROLES)?;
        let codex = history::parse_codex_line(&v);
        check_messages(&codex, &["user", "assistant"])?;
        for (_, text, _) in &codex {
            prop_assert!(!text.trim().is_empty());
        }
    }

    #[test]
    fn history_pages_fit_together(
        bytes in prop_oneof![jsonl(CLAUDE_LINES), jsonl(CODEX_LINES)],
        limit in prop_oneof![Just(0usize), 1usize..5, Just(usize::MAX)],
        far in any::<u64>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.jsonl", &bytes);
        for parse in [history::parse_claude_line as LineParser, history::parse_codex_line] {
            let whole = read_paged(&p, MAX_PAGE, parse)?;
            let paged = read_paged(&p, limit, parse)?;
            prop_assert_eq!(&whole, &paged);
            // Any offset, even far past the end, is an empty page or a real one.
            let (page, next) = history::page_from_jsonl(&p, far, limit, parse).unwrap();
            prop_assert!(page.iter().all(|m| m.index >= far));
            prop_assert!(next.is_none_or(|n| n > far));
        }
    }
}

/// The stored (screen) history of a session through the public API, with any offset and
/// limit: never a panic, a page from `offset` on.
#[test]
fn stored_history_takes_any_offset() {
    let home = tempfile::tempdir().unwrap();
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let id = agent_sessions::id::new_id();
    let store = Store::open(mgr.home()).unwrap();
    agent_sessions::services::state_machine::insert(
        &store,
        &NewSession {
            id: id.clone(),
            kind: SessionKind::Record,
            agent_type: Some("custom".into()),
            name: None,
            task_id: None,
            state: State::Stopped,
            cause: "test".into(),
            reason: None,
            phase: None,
            created_at: None,
            workspace_path: None,
            command: vec!["true".into()],
            env_keys: vec![],
            cols: 80,
            rows: 24,
            idle_after_secs: 1.0,
        },
        agent_sessions::Source::Phase,
        &vec![],
    )
    .unwrap();
    for i in 0..5 {
        store.add_message(&id, "user", &format!("m{i}")).unwrap();
    }
    // Past i64::MAX (the range of the stored seq): once a wrap to a negative offset and an
    // overflow panic in the next offset.
    for offset in [1 << 63, u64::MAX] {
        let page = mgr.history(&id, offset, 1).unwrap();
        assert!(page.messages.is_empty(), "{page:?}");
        assert_eq!(page.next_offset, None);
    }
    let mut runner = TestRunner::new(config(256));
    let offsets = prop_oneof![0u64..8, Just(i64::MAX as u64), any::<u64>(), Just(u64::MAX)];
    let limits = prop_oneof![Just(0usize), 1usize..7, any::<usize>()];
    runner
        .run(&(offsets, limits), |(offset, limit)| {
            let page = mgr
                .history(&id, offset, limit)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(page.messages.len() <= limit.clamp(1, MAX_PAGE));
            for (i, m) in page.messages.iter().enumerate() {
                prop_assert_eq!(
                    Some(m.index),
                    offset.checked_add(i as u64),
                    "offset {}",
                    offset
                );
            }
            prop_assert!(page.next_offset.is_none_or(|n| n > offset));
            Ok(())
        })
        .unwrap();
}

// ---- agents.toml --------------------------------------------------------------------------

/// An accepted agent type obeys every rule `agents.toml` documents.
fn check_spec(spec: &AgentSpec, file: &Path) -> Result<(), TestCaseError> {
    let n = &spec.name;
    prop_assert!(!n.is_empty() && n.len() <= 64, "name {n:?}");
    prop_assert!(n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    prop_assert!(!agent_sessions::agents::builtin()
        .iter()
        .any(|b| &b.name == n));
    prop_assert!(spec.binary.as_deref().is_some_and(|b| !b.trim().is_empty()));
    prop_assert!((1..=5).contains(&spec.interrupt_presses));
    prop_assert!(spec.debounce.is_none_or(|d| d <= Duration::from_secs(60)));
    prop_assert!(!spec.interrupt.is_empty());
    prop_assert!(spec.quit.iter().all(|q| !q.is_empty()));
    if let Some(r) = &spec.rules {
        for p in r
            .busy
            .iter()
            .chain(&r.prompt)
            .chain(&r.permission)
            .chain(&r.trust)
            .chain(&r.login)
        {
            let t = p.strip_prefix('^').unwrap_or(p);
            prop_assert!(
                !t.trim().is_empty() && !t.chars().any(char::is_control),
                "{p:?}"
            );
        }
    }
    for list in [&spec.resume, &spec.session_id_args].into_iter().flatten() {
        let has_id = list.iter().any(|a| a.contains("{id}"));
        prop_assert!(has_id, "{:?}", list);
    }
    prop_assert!(matches!(&spec.origin, AgentOrigin::File(p) if p == file));
    Ok(())
}

/// A rejected file is a config error naming this file and a line of it.
fn check_config_err(e: &Error, file: &Path, text: &str) -> Result<(), TestCaseError> {
    let Error::Config {
        path,
        line,
        field,
        message,
    } = e
    else {
        return Err(TestCaseError::fail(format!("not a config error: {e}")));
    };
    prop_assert_eq!(path, &file.display().to_string());
    let lines = text.lines().count().max(1) + 1;
    prop_assert!((1..=lines).contains(line), "line {line} of {lines}: {e}");
    // A broken table header (`[`) names `-`, never an empty field.
    prop_assert!(!field.is_empty(), "{e}");
    prop_assert!(!message.is_empty(), "{e}");
    prop_assert!(
        e.to_string().starts_with(&format!("{path}:{line}: ")),
        "{e}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn agents_toml_parse_never_panics(text in agents_toml()) {
        let file = Path::new("/h/agents.toml");
        match agent_sessions::agent_config::parse(file, &text) {
            Ok(specs) => {
                for s in &specs {
                    check_spec(s, file)?;
                }
            }
            Err(e) => check_config_err(&e, file, &text)?,
        }
    }

    #[test]
    fn agent_defs_from_the_api_never_panic(
        name in prop_oneof![select(AGENT_NAMES).prop_map(str::to_string), ".{0,8}"],
        command in prop::collection::vec(".{0,6}", 0..3),
        quit in prop::collection::vec(
            prop_oneof![toml_string().prop_map(|s| s.trim_matches('"').to_string()), ".{0,4}"],
            0..3,
        ),
        presses in proptest::option::of(any::<u32>()),
        debounce in proptest::option::of(any::<u64>().prop_map(Duration::from_millis)),
        busy in prop::collection::vec(".{0,6}", 0..3),
    ) {
        let mut def = AgentDef {
            name,
            command,
            quit,
            interrupt_presses: presses,
            debounce,
            ..Default::default()
        };
        def.rules.busy = busy;
        if let Ok(spec) = def.to_spec(AgentOrigin::Api) {
            prop_assert!((1..=5).contains(&spec.interrupt_presses));
            prop_assert!(spec.debounce.is_none_or(|d| d <= Duration::from_secs(60)));
        }
    }
}

/// The same, through the file in a real home: `SessionManager::agents` re-reads it each call.
#[test]
fn agents_toml_in_a_home_never_panics() {
    let home = tempfile::tempdir().unwrap();
    let mgr = SessionManager::open(Some(home.path())).unwrap();
    let file = home.path().join("agents.toml");
    let builtin = agent_sessions::agents::builtin().len();
    let texts = prop_oneof![
        3 => agents_toml().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ];
    let mut runner = TestRunner::new(config(128));
    runner
        .run(&texts, |bytes| {
            std::fs::write(&file, &bytes).unwrap();
            match (mgr.agents(), String::from_utf8(bytes)) {
                (Ok(all), _) => {
                    for s in &all[builtin..] {
                        check_spec(s, &file)?;
                    }
                }
                (Err(e), Ok(text)) => check_config_err(&e, &file, &text)?,
                (Err(e), Err(_)) => {
                    // Not UTF-8: an I/O error that still names the file.
                    prop_assert!(e.to_string().contains(&file.display().to_string()), "{e}");
                }
            }
            Ok(())
        })
        .unwrap();
}

// ---- hooks.toml ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn hooks_toml_never_panics(bytes in hooks_toml()) {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(agent_sessions::status_hooks::HOOKS_FILE);
        std::fs::write(&file, &bytes).unwrap();
        match agent_sessions::status_hooks::load(home.path()) {
            Ok(hooks) => {
                for h in &hooks.on_event {
                    prop_assert!(h.command.first().is_some_and(|p| !p.is_empty()));
                    prop_assert!(!h.kinds.is_empty());
                }
                for h in hooks.on_state {
                    prop_assert!(h.command.first().is_some_and(|p| !p.is_empty()));
                    for s in h.states.iter().flatten().chain(h.from.iter().flatten()) {
                        prop_assert!(s.parse::<State>().is_ok(), "{s}");
                    }
                }
            }
            Err(msg) => {
                let prefix = format!("{}: ", file.display());
                prop_assert!(msg.starts_with(&prefix), "{msg}");
                prop_assert!(msg.len() > prefix.len());
            }
        }
    }
}
