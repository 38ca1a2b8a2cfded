//! Pointing one agent process's own OpenTelemetry log export at its session host, so the
//! host sees every API request the agent makes (see [`crate::services::usage::otel_usage`]).
//!
//! What the agent gets, for that one process only (nothing is written to any config file):
//!
//! | agent | how |
//! |---|---|
//! | Claude Code | `CLAUDE_CODE_ENABLE_TELEMETRY=1`, `OTEL_LOGS_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=<host>/v1/logs`, `OTEL_LOGS_EXPORT_INTERVAL=1000` (ms) |
//! | Codex | `-c otel.exporter={otlp-http={endpoint="<host>/v1/logs",protocol="json"}}` after the program (a session-flags config layer; the user's `[otel]` other keys stay) |
//! | Gemini CLI | `GEMINI_TELEMETRY_ENABLED=true`, `GEMINI_TELEMETRY_TARGET=local`, `GEMINI_TELEMETRY_OTLP_ENDPOINT=<host>`, `GEMINI_TELEMETRY_OTLP_PROTOCOL=http`, `GEMINI_TELEMETRY_LOG_PROMPTS=false`, `OTEL_TRACES_SAMPLER=always_off` (its traces would only be thrown away) |
//!
//! and, for all three, `OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer <secret>`: the
//! host's receiver answers 401 to anything without this session's secret. The secret goes in
//! the environment (readable only by the user, unlike a command line) and never into the
//! record. `AGENT_SESSIONS_OTEL_VARS` lists the names set, so a session started from inside
//! this one (the agent's tools inherit its environment) can tell them from the user's own.
//! Those tools are the agent's own children, run by the same user: that they can read the
//! secret is accepted (Claude Code does not pass `OTEL_*` on to them; Codex and Gemini CLI
//! do). A `codex` the agent runs does not report here (Codex exports only with its `-c`
//! flag, which is not inherited); a `gemini` it runs directly inherits
//! `GEMINI_TELEMETRY_*`, and its requests then count for this session, which started and
//! pays for them.
//!
//! **The user's own OpenTelemetry settings win.** When the agent's environment or its own
//! settings already configure an export (any `OTEL_*` variable not set by us;
//! `CLAUDE_CODE_ENABLE_TELEMETRY` or an `env` entry of that kind in Claude Code's settings;
//! `[otel] exporter` in Codex's config or a `-c otel...` of the user; `GEMINI_TELEMETRY_*`
//! or a `telemetry` that turns exporting on in Gemini's settings or `.env`), nothing is
//! added: the user's collector keeps receiving what it did, and the session's figures come
//! from the agent's records, marked as a lower bound. Setting any `OTEL_*` variable (for
//! example `OTEL_SDK_DISABLED=true`) is thus also the way to keep a session out of this.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::services::usage::OtelAgent;

/// Lists the variables this module set for the agent (comma-separated).
pub const MARKER_ENV: &str = "AGENT_SESSIONS_OTEL_VARS";

/// Where the agent sends its logs, and the secret it must present.
#[derive(Debug, Clone)]
pub struct Exporter {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base_url: String,
    pub secret: String,
}

/// What to give the agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtelLaunch {
    /// Set over the agent's environment (an empty value clears one a parent session set).
    pub env: Vec<(String, String)>,
    /// Inserted right after the program.
    pub args: Vec<String>,
}

/// Either the settings, or why none are given (for host.log; never holds the secret).
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Arm(OtelLaunch),
    Leave(String),
}

/// Decides for one launch. `env` is the agent's whole environment as it would start
/// (the host's with the session's variables over it), `argv` its command line, `cwd` its
/// working folder.
pub fn plan(
    agent: OtelAgent,
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    exporter: &Exporter,
) -> Plan {
    let vars = Vars::new(env);
    let get = |k: &str| vars.get(k);
    let users = |k: &str| vars.users(k);
    let ours = vars.ours.clone();
    if let Some((name, _)) = env
        .iter()
        .find(|(n, v)| !v.is_empty() && n.starts_with("OTEL_") && users(n))
    {
        return Plan::Leave(format!("the environment sets {name}"));
    }
    let home = PathBuf::from(get("HOME").unwrap_or("/"));
    let reason = match agent {
        OtelAgent::Claude => claude_configured(argv, &vars, &home, cwd),
        OtelAgent::Codex => codex_configured(argv, &vars, &home, cwd),
        OtelAgent::Gemini => gemini_configured(env, &vars, &home, cwd),
    };
    if let Some(r) = reason {
        return Plan::Leave(r);
    }
    let auth = format!("authorization=Bearer {}", exporter.secret);
    let logs = format!("{}/v1/logs", exporter.base_url);
    let mut set: Vec<(String, String)> = match agent {
        OtelAgent::Claude => vec![
            ("CLAUDE_CODE_ENABLE_TELEMETRY".into(), "1".into()),
            ("OTEL_LOGS_EXPORTER".into(), "otlp".into()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into()),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT".into(), logs.clone()),
            ("OTEL_LOGS_EXPORT_INTERVAL".into(), "1000".into()),
        ],
        OtelAgent::Codex => Vec::new(),
        OtelAgent::Gemini => vec![
            ("GEMINI_TELEMETRY_ENABLED".into(), "true".into()),
            ("GEMINI_TELEMETRY_TARGET".into(), "local".into()),
            (
                "GEMINI_TELEMETRY_OTLP_ENDPOINT".into(),
                exporter.base_url.clone(),
            ),
            ("GEMINI_TELEMETRY_OTLP_PROTOCOL".into(), "http".into()),
            ("GEMINI_TELEMETRY_LOG_PROMPTS".into(), "false".into()),
            ("OTEL_TRACES_SAMPLER".into(), "always_off".into()),
        ],
    };
    set.push(("OTEL_EXPORTER_OTLP_HEADERS".into(), auth));
    // What a parent session set and this one does not: cleared, so it cannot reach here.
    for name in &ours {
        if !set.iter().any(|(n, _)| n == name) && get(name).is_some() {
            set.push((name.to_string(), String::new()));
        }
    }
    let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
    let marker = names.join(",");
    set.push((MARKER_ENV.into(), marker));
    let args = match agent {
        OtelAgent::Codex => vec![
            "-c".to_string(),
            format!("otel.exporter={{otlp-http={{endpoint=\"{logs}\",protocol=\"json\"}}}}"),
        ],
        _ => Vec::new(),
    };
    Plan::Arm(OtelLaunch { env: set, args })
}

/// The agent's environment, and the names a parent session set in it.
struct Vars<'a> {
    vars: &'a [(String, String)],
    ours: Vec<&'a str>,
}

impl<'a> Vars<'a> {
    fn new(vars: &'a [(String, String)]) -> Self {
        let mut v = Vars {
            vars,
            ours: Vec::new(),
        };
        v.ours = v
            .get(MARKER_ENV)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        v
    }

    /// The value the agent would see; empty counts as unset.
    fn get(&self, k: &str) -> Option<&'a str> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Set, and not by a parent session.
    fn users(&self, k: &str) -> bool {
        !self.ours.contains(&k) && self.get(k).is_some()
    }
}

/// Claude Code: its telemetry switch in the environment, or an OTel variable in the `env`
/// of any settings layer it reads (user, project, local, managed, `--settings`).
fn claude_configured(argv: &[String], vars: &Vars, home: &Path, cwd: &Path) -> Option<String> {
    if vars.users("CLAUDE_CODE_ENABLE_TELEMETRY") {
        return Some("the environment sets CLAUDE_CODE_ENABLE_TELEMETRY".into());
    }
    let dir = vars
        .get("CLAUDE_CONFIG_DIR")
        .map_or_else(|| home.join(".claude"), PathBuf::from);
    let mut files = vec![
        dir.join("settings.json"),
        cwd.join(".claude/settings.json"),
        cwd.join(".claude/settings.local.json"),
        PathBuf::from("/etc/claude-code/managed-settings.json"),
    ];
    let mut inline = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let v = match a.strip_prefix("--settings=") {
            Some(v) => Some(v.to_string()),
            None if a == "--settings" => it.next().cloned(),
            None => None,
        };
        match v {
            Some(v) if v.trim_start().starts_with('{') => inline.push(v),
            Some(v) => files.push(cwd.join(v)),
            None => {}
        }
    }
    let sets_otel = |doc: &Value| {
        doc.get("env").and_then(Value::as_object).and_then(|env| {
            env.keys()
                .find(|k| k.starts_with("OTEL_") || *k == "CLAUDE_CODE_ENABLE_TELEMETRY")
                .cloned()
        })
    };
    for text in inline {
        match serde_json::from_str::<Value>(&text) {
            Ok(doc) => {
                if let Some(k) = sets_otel(&doc) {
                    return Some(format!("--settings sets {k}"));
                }
            }
            Err(_) => return Some("--settings is not JSON we can read".into()),
        }
    }
    for f in files {
        match read_json(&f) {
            Read::Missing => {}
            Read::Unreadable => return Some(format!("cannot read {}", f.display())),
            Read::Doc(doc) => {
                if let Some(k) = sets_otel(&doc) {
                    return Some(format!("{} sets {k}", f.display()));
                }
            }
        }
    }
    None
}

/// Codex: an `[otel] exporter` in a config file it reads, a `-c otel...` of the user, or an
/// OTel variable in `$CODEX_HOME/.env`.
fn codex_configured(argv: &[String], vars: &Vars, home: &Path, cwd: &Path) -> Option<String> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let v = match a.as_str() {
            "-c" | "--config" => it.next().map(String::as_str),
            _ => a.strip_prefix("--config="),
        };
        if v.is_some_and(|v| v.trim_start().starts_with("otel")) {
            return Some("the command line sets otel".into());
        }
    }
    let codex_home = vars
        .get("CODEX_HOME")
        .map_or_else(|| home.join(".codex"), PathBuf::from);
    for f in [
        codex_home.join("config.toml"),
        cwd.join(".codex/config.toml"),
        PathBuf::from("/etc/codex/config.toml"),
        PathBuf::from("/etc/codex/managed_config.toml"),
    ] {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return Some(format!("cannot read {}", f.display())),
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            return Some(format!("cannot parse {}", f.display()));
        };
        let exporter = doc
            .get("otel")
            .and_then(|o| o.get("exporter"))
            .filter(|e| e.as_str() != Some("none"));
        if exporter.is_some() {
            return Some(format!("{} sets otel.exporter", f.display()));
        }
    }
    dotenv_sets(&codex_home.join(".env"), &["OTEL_"])
}

/// Gemini CLI: a `GEMINI_TELEMETRY_*` variable; a `telemetry` in a settings file that turns
/// exporting on or points it somewhere; an OTel or telemetry variable in the `.env` file it
/// loads.
fn gemini_configured(
    env: &[(String, String)],
    vars: &Vars,
    home: &Path,
    cwd: &Path,
) -> Option<String> {
    let get = |k: &str| vars.get(k);
    if let Some((name, _)) = env
        .iter()
        .find(|(n, v)| !v.is_empty() && n.starts_with("GEMINI_TELEMETRY_") && vars.users(n))
    {
        return Some(format!("the environment sets {name}"));
    }
    let gemini_home = get("GEMINI_CLI_HOME").map_or_else(|| home.to_path_buf(), PathBuf::from);
    let files = [
        gemini_home.join(".gemini/settings.json"),
        cwd.join(".gemini/settings.json"),
        get("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
            .map_or_else(|| "/etc/gemini-cli/settings.json".into(), PathBuf::from),
        get("GEMINI_CLI_SYSTEM_DEFAULTS_PATH").map_or_else(
            || "/etc/gemini-cli/system-defaults.json".into(),
            PathBuf::from,
        ),
    ];
    for f in files {
        let doc = match read_json(&f) {
            Read::Missing => continue,
            Read::Unreadable => return Some(format!("cannot read {}", f.display())),
            Read::Doc(d) => d,
        };
        let Some(t) = doc.get("telemetry").and_then(Value::as_object) else {
            continue;
        };
        let on = t.get("enabled").and_then(Value::as_bool) == Some(true);
        let aimed = ["target", "otlpEndpoint", "outfile", "useCollector"]
            .iter()
            .any(|k| t.get(*k).is_some_and(|v| !v.is_null()));
        if on || aimed {
            return Some(format!("{} configures telemetry", f.display()));
        }
    }
    // Gemini loads the first .env found from the working folder up, else the home's.
    let mut candidates = Vec::new();
    for d in cwd.ancestors() {
        candidates.push(d.join(".gemini/.env"));
        candidates.push(d.join(".env"));
    }
    candidates.push(gemini_home.join(".gemini/.env"));
    candidates.push(gemini_home.join(".env"));
    let first = candidates.into_iter().find(|p| p.is_file())?;
    dotenv_sets(&first, &["OTEL_", "GEMINI_TELEMETRY_"])
}

enum Read {
    Missing,
    Unreadable,
    Doc(Value),
}

/// A settings file as JSON, `//` and `/* */` comments allowed (Gemini's are JSONC). A file
/// that exists but does not parse is `Unreadable`: what it configures cannot be known.
fn read_json(path: &Path) -> Read {
    match std::fs::read_to_string(path) {
        Ok(t) => match serde_json::from_str(&strip_comments(&t)) {
            Ok(v) => Read::Doc(v),
            Err(_) => Read::Unreadable,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Read::Missing,
        Err(_) => Read::Unreadable,
    }
}

/// `text` with JSON comments replaced by spaces (strings left alone).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_str = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first variable of a dotenv file whose name starts with one of `prefixes`.
fn dotenv_sets(path: &Path, prefixes: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let l = l.trim_start();
        let l = l.strip_prefix("export ").unwrap_or(l);
        let (name, _) = l.split_once('=')?;
        let name = name.trim();
        prefixes
            .iter()
            .any(|p| name.starts_with(p))
            .then(|| format!("{} sets {name}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter() -> Exporter {
        Exporter {
            base_url: "http://127.0.0.1:5".into(),
            secret: "s".into(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let dir = std::env::temp_dir().join("agent-sessions-otel-launch-none");
        let mut e = vec![("HOME".to_string(), dir.display().to_string())];
        e.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        e
    }

    #[test]
    fn users_otel_variables_leave_the_agent_alone() {
        let cwd = Path::new("/nonexistent-cwd");
        let argv = vec!["claude".to_string()];
        let p = plan(
            OtelAgent::Claude,
            &argv,
            &env(&[("OTEL_SDK_DISABLED", "true")]),
            cwd,
            &exporter(),
        );
        assert_eq!(
            p,
            Plan::Leave("the environment sets OTEL_SDK_DISABLED".into())
        );
        let p = plan(
            OtelAgent::Claude,
            &argv,
            &env(&[("CLAUDE_CODE_ENABLE_TELEMETRY", "1")]),
            cwd,
            &exporter(),
        );
        assert!(matches!(p, Plan::Leave(_)));
        let p = plan(
            OtelAgent::Gemini,
            &argv,
            &env(&[("GEMINI_TELEMETRY_OUTFILE", "/x")]),
            cwd,
            &exporter(),
        );
        assert!(matches!(p, Plan::Leave(_)));
        let codex = vec![
            "codex".to_string(),
            "-c".into(),
            "otel.environment=\"x\"".into(),
        ];
        assert!(matches!(
            plan(OtelAgent::Codex, &codex, &env(&[]), cwd, &exporter()),
            Plan::Leave(_)
        ));
        // Empty values count as unset.
        let p = plan(
            OtelAgent::Claude,
            &argv,
            &env(&[("OTEL_SDK_DISABLED", "")]),
            cwd,
            &exporter(),
        );
        assert!(matches!(p, Plan::Arm(_)));
    }

    #[test]
    fn a_parent_sessions_variables_are_replaced() {
        let cwd = Path::new("/nonexistent-cwd");
        let argv = vec!["codex".to_string()];
        let inherited = env(&[
            ("GEMINI_TELEMETRY_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer parent"),
            (
                MARKER_ENV,
                "GEMINI_TELEMETRY_ENABLED,OTEL_EXPORTER_OTLP_HEADERS",
            ),
        ]);
        let Plan::Arm(l) = plan(OtelAgent::Codex, &argv, &inherited, cwd, &exporter()) else {
            panic!("armed");
        };
        let get = |k: &str| l.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_HEADERS"),
            Some("authorization=Bearer s")
        );
        assert_eq!(get("GEMINI_TELEMETRY_ENABLED"), Some(""));
        assert_eq!(
            get(MARKER_ENV),
            Some("OTEL_EXPORTER_OTLP_HEADERS,GEMINI_TELEMETRY_ENABLED")
        );
        assert_eq!(
            l.args,
            [
                "-c",
                "otel.exporter={otlp-http={endpoint=\"http://127.0.0.1:5/v1/logs\",protocol=\"json\"}}"
            ]
        );
    }

    #[test]
    fn comments_are_stripped_outside_strings() {
        let t = "{\"a\": \"x // y /* z */\", // c\n \"b\": /* d */ 1}";
        let v: Value = serde_json::from_str(&strip_comments(t)).unwrap();
        assert_eq!(v["a"], "x // y /* z */");
        assert_eq!(v["b"], 1);
    }
}
