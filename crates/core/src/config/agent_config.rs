//! User-defined agent types: `agents.toml` in the sessions home, and definitions made through
//! the API (`SessionManager::define_agent`).
//!
//! ```toml
//! [agents.aider]
//! description = "Aider, the AI pair programmer"
//! command = ["aider", "--no-auto-commits"]   # argv: the program and fixed arguments
//! args = ["--dark-mode"]                      # default arguments, before the user's own
//! busy = ["Waiting for"]                      # screen patterns, see detect::ScreenRules
//! prompt = ["^> "]
//! permission = ["(Y)es/(N)o"]
//! trust = []
//! login = []
//! quit = ["'/exit'", "Enter"]                 # one write each: a key name or 'literal text'
//! interrupt = ["C-c"]                         # key names, sent as one press
//! interrupt_presses = 1                       # presses needed to stop a turn
//! debounce_secs = 1.0                         # how long a waiting screen must hold
//! resume = ["--resume", "{id}"]               # arguments that resume conversation {id}
//! session_id_args = ["--session-id", "{id}"]  # arguments that give a new conversation its id
//! ```
//!
//! With `session_id_args`, every start picks a new UUID for the agent's conversation and
//! passes it, so the session knows the agent's own session id from the first moment and can
//! be suspended and resumed (`resume`).
//!
//! Every problem is reported as [`Error::Config`] with the file, the line and the field
//! (`agents.aider.busy[1]`), so a user can go straight to it.

use crate::config::agents::{AgentOrigin, AgentSpec};
use crate::config::detect::ScreenRules;
use crate::config::home::Home;
use crate::model::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// File name of the user's agent definitions inside the sessions home.
pub const AGENTS_FILE: &str = "agents.toml";

/// Longest screen pattern accepted; longer ones are almost certainly pasted screens.
const MAX_PATTERN_LEN: usize = 200;

/// A user-defined agent type, as given to `SessionManager::define_agent` or read from
/// `agents.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentDef {
    /// Type name: letters, digits, `-` and `_`; not a built-in name.
    pub name: String,
    /// argv: the program (looked up on PATH unless it contains a `/`) and fixed arguments.
    pub command: Vec<String>,
    /// Default arguments, put after `command` and before the user's own.
    pub args: Vec<String>,
    /// One-line description for `agent-sessions agents`; `None` shows "user-defined".
    pub description: Option<String>,
    /// Screen patterns. With none at all, the type is detected like `custom` (quiet timer).
    pub rules: ScreenRules,
    /// Quit sequence: each entry one write, a key name (`Enter`, `C-c`, ...; see
    /// [`crate::config::keys`]) or literal text in single quotes (`'/exit'`).
    pub quit: Vec<String>,
    /// Interrupt: key names sent as one press. Default `C-c`.
    pub interrupt: Vec<String>,
    /// How many presses stop a turn (a few hundred ms apart). Default 1.
    pub interrupt_presses: Option<u32>,
    /// How long a waiting screen must hold before the session reads waiting_input.
    pub debounce: Option<Duration>,
    /// Arguments that resume the agent's conversation, with `{id}` for its session id; put
    /// before the user's arguments. Empty: the type cannot resume.
    pub resume: Vec<String>,
    /// Arguments that start a conversation under a given id, with `{id}`; put before the
    /// user's arguments at start. Empty: the agent picks its own id (unknown to us).
    pub session_id_args: Vec<String>,
}

/// A problem with one field of a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field below the agent, e.g. `busy[1]`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl AgentDef {
    /// Checks the definition and turns it into an agent type.
    pub fn to_spec(&self, origin: AgentOrigin) -> std::result::Result<AgentSpec, FieldError> {
        check_name(&self.name).map_err(|m| FieldError::new("name", m))?;
        let (program, fixed) = self.command.split_first().ok_or_else(|| {
            FieldError::new("command", "give the program to run, e.g. [\"aider\"]")
        })?;
        if program.trim().is_empty() {
            return Err(FieldError::new("command[0]", "the program name is empty"));
        }
        for (field, list) in [
            ("busy", &self.rules.busy),
            ("prompt", &self.rules.prompt),
            ("permission", &self.rules.permission),
            ("trust", &self.rules.trust),
            ("login", &self.rules.login),
        ] {
            for (i, p) in list.iter().enumerate() {
                check_pattern(p).map_err(|m| FieldError::new(format!("{field}[{i}]"), m))?;
            }
        }
        let quit = self
            .quit
            .iter()
            .enumerate()
            .map(|(i, k)| quit_part(k).map_err(|m| FieldError::new(format!("quit[{i}]"), m)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let interrupt = if self.interrupt.is_empty() {
            vec![0x03]
        } else {
            let mut bytes = Vec::new();
            for (i, k) in self.interrupt.iter().enumerate() {
                bytes.extend(
                    quit_part(k).map_err(|m| FieldError::new(format!("interrupt[{i}]"), m))?,
                );
            }
            bytes
        };
        let presses = self.interrupt_presses.unwrap_or(1);
        if !(1..=5).contains(&presses) {
            return Err(FieldError::new(
                "interrupt_presses",
                "must be between 1 and 5",
            ));
        }
        if let Some(d) = self.debounce {
            if d > Duration::from_secs(60) {
                return Err(FieldError::new(
                    "debounce_secs",
                    "must be between 0 and 60 seconds",
                ));
            }
        }
        if !self.resume.is_empty() && !self.resume.iter().any(|a| a.contains("{id}")) {
            return Err(FieldError::new(
                "resume",
                "must contain {id}, where the agent's own session id goes",
            ));
        }
        if !self.session_id_args.is_empty()
            && !self.session_id_args.iter().any(|a| a.contains("{id}"))
        {
            return Err(FieldError::new(
                "session_id_args",
                "must contain {id}, where the new session id goes",
            ));
        }
        let has_rules = self.rules != ScreenRules::default();
        let mut default_args: Vec<String> = fixed.to_vec();
        default_args.extend(self.args.iter().cloned());
        Ok(AgentSpec {
            name: self.name.clone(),
            binary: Some(program.clone()),
            binary_env: None,
            default_args,
            quit,
            interrupt,
            interrupt_presses: presses,
            rules: has_rules.then(|| self.rules.clone()),
            debounce: self.debounce,
            session_id_agent: None,
            resume: (!self.resume.is_empty()).then(|| self.resume.clone()),
            session_id_args: (!self.session_id_args.is_empty())
                .then(|| self.session_id_args.clone()),
            description: self
                .description
                .clone()
                .unwrap_or_else(|| "user-defined".into()),
            origin,
        })
    }
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("a name of 1 to 64 characters is needed".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "'{name}' may only use letters, digits, '-' and '_'"
        ));
    }
    if crate::config::agents::builtin()
        .iter()
        .any(|a| a.name == name)
    {
        return Err(format!(
            "'{name}' is a built-in agent type; choose another name"
        ));
    }
    Ok(())
}

/// A screen pattern is a plain substring of one screen line (see [`ScreenRules`]).
fn check_pattern(p: &str) -> std::result::Result<(), String> {
    let text = p.strip_prefix('^').unwrap_or(p);
    if text.is_empty() {
        return Err("an empty pattern would never match; remove it".into());
    }
    if text.contains(['\n', '\r']) {
        return Err(
            "a pattern matches within one screen line, so it cannot contain a line break".into(),
        );
    }
    if text.chars().any(|c| c.is_control()) {
        return Err("patterns match screen text, which has no control characters".into());
    }
    if text.trim().is_empty() {
        return Err("a pattern of only spaces matches almost every screen".into());
    }
    if text.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "pattern is {} bytes; keep it under {MAX_PATTERN_LEN} (one stable phrase)",
            text.len()
        ));
    }
    Ok(())
}

/// One write of a quit or interrupt sequence: `'literal text'` or a key name.
pub fn quit_part(entry: &str) -> std::result::Result<Vec<u8>, String> {
    if let Some(lit) = entry
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .filter(|_| entry.len() >= 2)
    {
        if lit.is_empty() {
            return Err("empty text".into());
        }
        return Ok(lit.as_bytes().to_vec());
    }
    crate::config::keys::key_bytes(entry)
        .map_err(|e| format!("{e}; to type text, put it in single quotes, e.g. \"'/exit'\""))
}

// ---- the file -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    agents: BTreeMap<String, Spanned<FileAgent>>,
}

type Patterns = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAgent {
    command: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    args: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    busy: Patterns,
    #[serde(default)]
    prompt: Patterns,
    #[serde(default)]
    permission: Patterns,
    #[serde(default)]
    trust: Patterns,
    #[serde(default)]
    login: Patterns,
    #[serde(default)]
    quit: Patterns,
    #[serde(default)]
    interrupt: Patterns,
    #[serde(default)]
    interrupt_presses: Option<Spanned<i64>>,
    #[serde(default)]
    debounce_secs: Option<Spanned<f64>>,
    #[serde(default)]
    resume: Option<Vec<String>>,
    #[serde(default)]
    session_id_args: Option<Vec<String>>,
}

/// Path of the agents file of `home`.
pub fn agents_file(home: &Home) -> PathBuf {
    home.root().join(AGENTS_FILE)
}

/// Reads the user-defined agent types of `home`; none when the file does not exist.
pub fn load(home: &Home) -> Result<Vec<AgentSpec>> {
    let path = agents_file(home);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// Parses an agents file's text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Vec<AgentSpec>> {
    let config_err = |span: Option<Range<usize>>, field: String, message: String| Error::Config {
        path: path.display().to_string(),
        line: span.map_or(0, |s| line_of(text, s.start)),
        field,
        message,
    };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        let span = e.span();
        let field = span
            .clone()
            .map(|s| field_at(text, s.start))
            .unwrap_or_else(|| "-".into());
        config_err(span, field, e.message().trim().to_string())
    })?;
    let mut out = Vec::new();
    for (name, agent) in doc.agents {
        let table_span = agent.span();
        let a = agent.into_inner();
        let prefix = format!("agents.{name}");
        let strings = |v: &Patterns| -> Vec<String> {
            v.as_ref()
                .map(|l| l.get_ref().iter().map(|s| s.get_ref().clone()).collect())
                .unwrap_or_default()
        };
        // Spans of every listed field, to place a validation error on its line.
        let mut spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
        spans.insert("name".into(), table_span.clone());
        spans.insert("command".into(), a.command.span());
        for (i, s) in a.command.get_ref().iter().enumerate() {
            spans.insert(format!("command[{i}]"), s.span());
        }
        for (field, list) in [
            ("busy", &a.busy),
            ("prompt", &a.prompt),
            ("permission", &a.permission),
            ("trust", &a.trust),
            ("login", &a.login),
            ("quit", &a.quit),
            ("interrupt", &a.interrupt),
        ] {
            if let Some(l) = list {
                spans.insert(field.into(), l.span());
                for (i, s) in l.get_ref().iter().enumerate() {
                    spans.insert(format!("{field}[{i}]"), s.span());
                }
            }
        }
        let presses = match &a.interrupt_presses {
            Some(p) => {
                spans.insert("interrupt_presses".into(), p.span());
                Some(u32::try_from(*p.get_ref()).map_err(|_| {
                    config_err(
                        Some(p.span()),
                        format!("{prefix}.interrupt_presses"),
                        "must be between 1 and 5".into(),
                    )
                })?)
            }
            None => None,
        };
        let debounce = match &a.debounce_secs {
            Some(d) => {
                spans.insert("debounce_secs".into(), d.span());
                let secs = *d.get_ref();
                if !secs.is_finite() || secs < 0.0 {
                    return Err(config_err(
                        Some(d.span()),
                        format!("{prefix}.debounce_secs"),
                        "must be a number of seconds between 0 and 60".into(),
                    ));
                }
                Some(Duration::from_secs_f64(secs.min(1e6)))
            }
            None => None,
        };
        let def = AgentDef {
            name: name.clone(),
            command: a
                .command
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            args: a.args.map(|s| s.into_inner()).unwrap_or_default(),
            description: a.description,
            rules: ScreenRules {
                busy: strings(&a.busy),
                prompt: strings(&a.prompt),
                permission: strings(&a.permission),
                trust: strings(&a.trust),
                login: strings(&a.login),
            },
            quit: strings(&a.quit),
            interrupt: strings(&a.interrupt),
            interrupt_presses: presses,
            debounce,
            resume: a.resume.unwrap_or_default(),
            session_id_args: a.session_id_args.unwrap_or_default(),
        };
        let spec = def
            .to_spec(AgentOrigin::File(path.to_path_buf()))
            .map_err(|e| {
                let span = spans
                    .get(&e.field)
                    .cloned()
                    .or_else(|| {
                        // `busy[1]` unknown: fall back to the list, then the table.
                        let base = e.field.split('[').next().unwrap_or_default();
                        spans.get(base).cloned()
                    })
                    .unwrap_or(table_span.clone());
                config_err(Some(span), format!("{prefix}.{}", e.field), e.message)
            })?;
        out.push(spec);
    }
    Ok(out)
}

/// 1-based line number of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The dotted name of the key on the line holding `offset`, under its table header, for
/// parse errors (`agents.aider.busy`); `-` when there is none.
fn field_at(text: &str, offset: usize) -> String {
    let line_no = line_of(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let key_of = |line: &str| -> Option<String> {
        let (k, _) = line.split_once('=')?;
        let k = k.trim().trim_matches('"');
        (!k.is_empty() && !k.starts_with('[') && !k.starts_with('#')).then(|| k.to_string())
    };
    // A header's table name; `None` for a header without one (a broken `[` or `[]`), so an
    // error never names an empty field.
    let header_of = |line: &str| -> Option<String> {
        let t = line.trim();
        t.starts_with('[')
            .then(|| t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
            .filter(|h| !h.is_empty())
    };
    let here = lines.get(line_no.saturating_sub(1)).copied().unwrap_or("");
    if here.trim_start().starts_with('[') {
        return header_of(here).unwrap_or_else(|| "-".into());
    }
    let key = key_of(here);
    let header = lines[..line_no.saturating_sub(1).min(lines.len())]
        .iter()
        .rev()
        .find_map(|l| header_of(l));
    match (header, key) {
        (Some(h), Some(k)) => format!("{h}.{k}"),
        (None, Some(k)) => k,
        (Some(h), None) => h,
        (None, None) => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Vec<AgentSpec>> {
        parse(Path::new("/h/agents.toml"), text)
    }

    fn config_err(text: &str) -> (usize, String, String) {
        match parse_str(text).unwrap_err() {
            Error::Config {
                line,
                field,
                message,
                path,
            } => {
                assert_eq!(path, "/h/agents.toml");
                (line, field, message)
            }
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn a_full_definition_parses() {
        let specs = parse_str(
            r#"
# my agents
[agents.aider]
description = "Aider"
command = ["aider", "--no-auto-commits"]
args = ["--dark-mode"]
busy = ["Waiting for"]
prompt = ["^> "]
quit = ["'/exit'", "Enter"]
interrupt = ["C-c"]
interrupt_presses = 2
debounce_secs = 0.5

[agents.plain]
command = ["/bin/sh"]
"#,
        )
        .unwrap();
        assert_eq!(specs.len(), 2);
        let a = &specs[0];
        assert_eq!(a.name, "aider");
        assert_eq!(a.binary.as_deref(), Some("aider"));
        assert_eq!(a.default_args, ["--no-auto-commits", "--dark-mode"]);
        assert_eq!(a.quit, vec![b"/exit".to_vec(), b"\r".to_vec()]);
        assert_eq!(a.interrupt, vec![3]);
        assert_eq!(a.interrupt_presses, 2);
        assert_eq!(a.debounce, Some(Duration::from_millis(500)));
        let rules = a.rules.as_ref().unwrap();
        assert_eq!(rules.busy, ["Waiting for"]);
        assert_eq!(rules.prompt, ["^> "]);
        assert!(matches!(a.origin, AgentOrigin::File(_)));
        let p = &specs[1];
        assert!(p.rules.is_none(), "no patterns: quiet-timer detection");
        assert_eq!(p.interrupt, vec![3]);
        assert!(p.quit.is_empty());
    }

    #[test]
    fn a_bad_pattern_names_line_and_field() {
        let (line, field, msg) =
            config_err("[agents.x]\ncommand = [\"x\"]\nbusy = [\n  \"ok\",\n  \"\",\n]\n");
        assert_eq!((line, field.as_str()), (5, "agents.x.busy[1]"));
        assert!(msg.contains("empty pattern"), "{msg}");
        let (line, field, _) = config_err("[agents.x]\ncommand = [\"x\"]\nprompt = [\"^\"]\n");
        assert_eq!((line, field.as_str()), (3, "agents.x.prompt[0]"));
    }

    #[test]
    fn bad_keys_and_names_name_line_and_field() {
        let (line, field, msg) = config_err("[agents.x]\ncommand = [\"x\"]\nquit = [\"/exit\"]\n");
        assert_eq!((line, field.as_str()), (3, "agents.x.quit[0]"));
        assert!(msg.contains("single quotes"), "{msg}");
        let (line, field, msg) = config_err("\n[agents.claude]\ncommand = [\"x\"]\n");
        assert_eq!((line, field.as_str()), (2, "agents.claude.name"));
        assert!(msg.contains("built-in"), "{msg}");
        let (_, field, _) = config_err("[agents.x]\ncommand = []\n");
        assert_eq!(field, "agents.x.command");
        let (line, field, _) =
            config_err("[agents.x]\ncommand = [\"x\"]\n\ninterrupt_presses = 0\n");
        assert_eq!((line, field.as_str()), (4, "agents.x.interrupt_presses"));
    }

    #[test]
    fn syntax_and_schema_errors_name_line_and_field() {
        let (line, field, msg) = config_err("[agents.x]\ncommand = [\"x\"]\nbussy = [\"a\"]\n");
        assert_eq!((line, field.as_str()), (3, "agents.x.bussy"));
        assert!(msg.contains("unknown field"), "{msg}");
        let (line, field, _) = config_err("[agents.x]\ncommand = [\"x\"\n");
        assert_eq!(line, 2, "{field}");
        let (line, field, msg) = config_err("[agents.x]\nargs = []\n");
        assert_eq!(line, 1);
        assert!(field.starts_with("agents.x"), "{field}");
        assert!(msg.contains("command"), "{msg}");
        let (line, field, _) = config_err("[agents.x]\ncommand = [\"x\"]\nbusy = \"a\"\n");
        assert_eq!((line, field.as_str()), (3, "agents.x.busy"));
    }

    /// A broken table header has no name: the error says `-`, never an empty field
    /// (`/h/agents.toml:1: : ...`).
    #[test]
    fn a_broken_header_names_no_empty_field() {
        for text in ["[", "[]", "[[", " [ ", "[agents.x]\ncommand = [\"x\"]\n[\n"] {
            let (line, field, msg) = config_err(text);
            assert_eq!(field, "-", "{text:?}: line {line}: {msg}");
            let e = parse_str(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("/h/agents.toml:{line}: -: ")), "{e}");
        }
        let (_, field, _) = config_err("[agents.x.]\n");
        assert_eq!(field, "agents.x.");
    }

    #[test]
    fn quit_parts() {
        assert_eq!(quit_part("'/quit'").unwrap(), b"/quit");
        assert_eq!(quit_part("Enter").unwrap(), b"\r");
        assert_eq!(quit_part("C-d").unwrap(), [4]);
        assert_eq!(quit_part("'").unwrap(), b"'");
        assert!(quit_part("''").is_err());
        assert!(quit_part("Entr").is_err());
    }
}
