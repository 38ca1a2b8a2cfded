//! An approval policy: rules that decide an agent's permission requests before it shows its
//! dialog (`agent-sessions start --policy FILE`).
//!
//! The agent's own hook asks the session's host (see `services::agent_hooks`); the host
//! evaluates the rules here and answers through the agent's decision channel
//! (`PermissionRequest` hook output), so a decided case never shows a dialog and no key is
//! ever pressed for it. The first rule that matches decides; no match, or `ask`, lets the
//! agent show its dialog as usual.
//!
//! ```toml
//! [[rules]]
//! name = "read-only git"          # optional; shown in the decision event
//! tool = "Bash"                   # `|` separates alternatives; `*` and `?` are wildcards
//! command = "git status*"
//! decision = "allow"
//!
//! [[rules]]
//! tool = "Bash"
//! command = "rm *"
//! decision = "deny"
//! message = "Do not delete files; say what you wanted to remove instead."
//!
//! [[rules]]
//! tool = "Edit|Write"
//! path = "*/secrets/*"
//! decision = "deny"
//! ```
//!
//! Tool names are the agent's own, and each also answers to a common name, so one policy
//! serves every agent: `Bash` for a shell command (Gemini's `run_shell_command`, opencode's
//! `bash`, Codex's and Claude's `Bash`), `Write` (`write_file`), `Edit` (`replace`, `edit`),
//! `Read` (`read_file`, `read`).
//!
//! JSON with the same shape (`{"rules": [...]}`) is accepted too. Wildcards: `*` matches any
//! run of characters, `/` included (so `src/*` covers the whole tree), `?` one character;
//! everything else matches itself, case-sensitively. A rule with `command` matches only
//! requests that carry a command (`tool_input.command`), one with `path` only requests that
//! carry a path (`file_path`, `path` or `notebook_path`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most rules a policy may hold; a longer file is almost certainly not a policy.
pub const MAX_RULES: usize = 1000;
/// Longest pattern accepted (the matcher's work grows with pattern × text).
pub const MAX_PATTERN: usize = 1024;

/// What a rule decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Run the tool without asking.
    Allow,
    /// Refuse it; the agent is told `message`.
    Deny,
    /// Let the agent ask the user as it would without a policy.
    Ask,
}

impl Decision {
    /// The name used in policy files and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Ask => "ask",
        }
    }
}

/// One rule; every pattern it gives must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A label for the decision event; default `rule N` (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool name pattern(s), e.g. `Bash` or `Edit|Write`; any tool when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Pattern for the command a shell tool would run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Pattern for the file a tool would read or write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What a match decides.
    pub decision: Decision,
    /// For `deny`: what the agent is told (default: "denied by the session's policy").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A whole policy: its rules in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Tried in order; the first match decides.
    pub rules: Vec<Rule>,
}

/// A rule's verdict on one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What the rule decided.
    pub decision: Decision,
    /// The rule's name, or `rule N`.
    pub rule: String,
    /// For a deny: what the agent is told.
    pub message: Option<String>,
}

impl Policy {
    /// Parses a policy from TOML or JSON text (JSON when it starts with `{`), and checks it.
    /// The error says what is wrong and where, for the user to fix the file.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let p: Policy = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("not a valid JSON policy: {e}"))?
        } else {
            toml::from_str(text).map_err(|e| format!("not a valid TOML policy: {e}"))?
        };
        p.check()?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("a policy may hold at most {MAX_RULES} rules"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            for p in [&r.tool, &r.command, &r.path, &r.name, &r.message]
                .into_iter()
                .flatten()
            {
                if p.len() > MAX_PATTERN || p.contains('\0') {
                    return Err(format!(
                        "rule {}: a pattern, name or message is longer than {MAX_PATTERN} \
                         bytes or holds a NUL",
                        i + 1
                    ));
                }
            }
        }
        Ok(())
    }

    /// The first matching rule's verdict for a request to use `tool` with `input`.
    pub fn decide(&self, tool: &str, input: Option<&Value>) -> Option<Verdict> {
        let command = input
            .and_then(|v| v.get("command").or_else(|| v.get("cmd")))
            .and_then(command_text);
        let path = input.and_then(|v| {
            ["file_path", "path", "notebook_path"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
        });
        let common = common_tool_name(tool);
        self.rules.iter().enumerate().find_map(|(i, r)| {
            let tool_ok = r.tool.as_deref().is_none_or(|t| {
                t.split('|').any(|alt| {
                    glob(alt.trim(), tool) || common.is_some_and(|c| glob(alt.trim(), c))
                })
            });
            let cmd_ok = r
                .command
                .as_deref()
                .is_none_or(|p| command.as_deref().is_some_and(|c| glob(p, c)));
            let path_ok = r
                .path
                .as_deref()
                .is_none_or(|p| path.is_some_and(|c| glob(p, c)));
            (tool_ok && cmd_ok && path_ok).then(|| Verdict {
                decision: r.decision,
                rule: r.name.clone().unwrap_or_else(|| format!("rule {}", i + 1)),
                message: r.message.clone(),
            })
        })
    }
}

/// The common name of an agent's own tool name, for tools every agent has.
fn common_tool_name(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "run_shell_command" | "bash" | "shell" | "exec_command" | "Bash" => "Bash",
        "write_file" | "write" | "Write" => "Write",
        "replace" | "edit" | "Edit" => "Edit",
        "read_file" | "read" | "Read" => "Read",
        _ => return None,
    })
}

/// A command as one string: as given, or an argv joined with spaces.
fn command_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| x.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// Wildcard match of the whole `text`: `*` any run (also empty), `?` one character.
/// Iterative with one backtrack point, so it is linear-ish and cannot blow up.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards() {
        assert!(glob("git status*", "git status --short"));
        assert!(glob("*", ""));
        assert!(glob("src/*", "src/a/b.rs"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("rm *", "git rm x"));
        assert!(glob("*rm *", "git rm x"));
        assert!(glob("**", "x"));
        assert!(!glob("", "x"));
        assert!(glob(&"*a".repeat(200), &"a".repeat(300)));
    }

    #[test]
    fn first_match_decides() {
        let p = Policy::parse(
            r#"
            [[rules]]
            tool = "Bash"
            command = "git status*"
            decision = "allow"
            [[rules]]
            name = "no rm"
            tool = "Bash|Shell"
            command = "rm *"
            decision = "deny"
            message = "not that"
            [[rules]]
            tool = "Edit|Write"
            path = "*/secrets/*"
            decision = "deny"
            "#,
        )
        .unwrap();
        let v = p
            .decide("Bash", Some(&json!({"command": "git status"})))
            .unwrap();
        assert_eq!((v.decision, v.rule.as_str()), (Decision::Allow, "rule 1"));
        let v = p
            .decide("Shell", Some(&json!({"command": ["rm", "-rf", "x"]})))
            .unwrap();
        assert_eq!((v.decision, v.rule.as_str()), (Decision::Deny, "no rm"));
        assert_eq!(v.message.as_deref(), Some("not that"));
        assert!(p.decide("Bash", Some(&json!({"command": "ls"}))).is_none());
        assert!(
            p.decide("Bash", None).is_none(),
            "no command, no command rule"
        );
        // One policy for every agent: Gemini's shell tool is a Bash.
        let v = p
            .decide("run_shell_command", Some(&json!({"command": "rm -rf /"})))
            .unwrap();
        assert_eq!(v.rule, "no rm");
        let v = p
            .decide("Write", Some(&json!({"file_path": "/r/secrets/k"})))
            .unwrap();
        assert_eq!(v.rule, "rule 3");
        assert!(p
            .decide("Read", Some(&json!({"file_path": "/r/secrets/k"})))
            .is_none());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = Policy::parse("[[rules]]\ntool = \"Bash\"\ndecision = \"maybe\"").unwrap_err();
        assert!(e.contains("TOML") && e.contains("maybe"), "{e}");
        let e = Policy::parse(r#"{"rules":[{"decision":"allow","tol":"x"}]}"#).unwrap_err();
        assert!(e.contains("tol"), "{e}");
        assert!(Policy::parse("{").is_err());
        let long = format!(
            "[[rules]]\ncommand = \"{}\"\ndecision = \"ask\"",
            "a".repeat(2000)
        );
        assert!(Policy::parse(&long).unwrap_err().contains("1024"));
        let json = Policy::parse(r#"{"rules":[{"tool":"Bash","decision":"ask"}]}"#).unwrap();
        assert_eq!(json.rules[0].decision, Decision::Ask);
        assert_eq!(Policy::parse("rules = []").unwrap(), Policy::default());
    }
}
