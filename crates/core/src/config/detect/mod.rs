//! Agent-aware state detection from the emulated screen.
//!
//! [`classify`] looks at the visible text of the terminal (what `vt100::Screen::contents()`
//! returns) and decides whether the agent is busy, waiting for the user (and why), or showing
//! something it does not recognise. It is pure and cheap: a handful of substring searches per
//! screen line, no regular expressions, no state.
//!
//! [`Debouncer`] turns the stream of per-screen verdicts into stable transitions (busy is
//! reported at once, waiting only after it has held for a while), with time passed in
//! explicitly so it can be tested without sleeping.
//!
//! [`builtin_controls`] and [`find_agent_session_id`] hold the other per-agent facts read off
//! the real captures (how to quit and interrupt, where an agent prints its own session id).
//!
//! Where each built-in pattern comes from (a capture of the real CLI, or an assumption) is
//! written next to it in `rules.rs`.

mod controls;
mod debounce;
mod rules;

pub use controls::{builtin_controls, find_agent_session_id, AgentControls};
pub use debounce::Debouncer;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The agent names that have built-in rules and controls.
pub const BUILTIN_AGENTS: [&str; 4] = ["claude", "codex", "gemini", "opencode"];

/// What a screen shows, as decided from the emulated screen text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScreenVerdict {
    /// The agent is working on a turn (its busy footer or spinner line is on screen).
    Busy,
    /// The agent waits for the user.
    Waiting(WaitReason),
    /// Nothing recognised (starting up, exiting, an unknown view).
    Unknown,
}

impl ScreenVerdict {
    /// True for every `Waiting(..)`.
    pub fn is_waiting(&self) -> bool {
        matches!(self, ScreenVerdict::Waiting(_))
    }
}

impl fmt::Display for ScreenVerdict {
    /// `busy`, `waiting:<reason>` or `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScreenVerdict::Busy => f.write_str("busy"),
            ScreenVerdict::Waiting(reason) => write!(f, "waiting:{reason}"),
            ScreenVerdict::Unknown => f.write_str("unknown"),
        }
    }
}

/// Why the agent waits for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitReason {
    /// At its input prompt (empty, or with text typed but not sent).
    Prompt,
    /// A tool/command/edit approval dialog.
    Permission,
    /// A "do you trust this folder" dialog.
    Trust,
    /// A sign-in screen or an authentication wait.
    Login,
    /// A question the agent asks with options to pick from (Claude Code's AskUserQuestion,
    /// opencode's question tool, a program status `blocked` with `kind=question`).
    Question,
    /// Anything else that needs the user (not produced by the built-in rules).
    Other,
}

impl WaitReason {
    /// The lowercase name, the same as the serde name.
    pub fn as_str(&self) -> &'static str {
        match self {
            WaitReason::Prompt => "prompt",
            WaitReason::Permission => "permission",
            WaitReason::Trust => "trust",
            WaitReason::Login => "login",
            WaitReason::Question => "question",
            WaitReason::Other => "other",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Patterns for one agent, all plain substrings matched against each screen line.
///
/// A pattern that starts with `^` must match at the very start of a line (the `^` itself is
/// not part of the text); every other pattern may match anywhere in a line. Matching is
/// case-sensitive and never spans two lines. Pick the stable part of a redrawn line (for
/// `• Working (12s • esc to interrupt)` use `esc to interrupt`), never a spinner glyph or a
/// counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScreenRules {
    /// The agent is working on a turn.
    pub busy: Vec<String>,
    /// The agent sits at its input prompt.
    pub prompt: Vec<String>,
    /// A tool/command/edit approval dialog is open.
    pub permission: Vec<String>,
    /// A folder-trust dialog is open.
    pub trust: Vec<String>,
    /// A sign-in screen or an authentication wait is shown.
    pub login: Vec<String>,
}

impl ScreenRules {
    /// The built-in rules for `claude`, `codex`, `gemini` or `opencode` (ASCII
    /// case-insensitive); `None` for any other name.
    pub fn builtin(agent: &str) -> Option<ScreenRules> {
        rules::builtin(agent)
    }

    /// Appends every pattern of `other` to the matching list of `self` (for user additions
    /// on top of the built-in rules).
    pub fn extend(&mut self, other: &ScreenRules) {
        self.busy.extend(other.busy.iter().cloned());
        self.prompt.extend(other.prompt.iter().cloned());
        self.permission.extend(other.permission.iter().cloned());
        self.trust.extend(other.trust.iter().cloned());
        self.login.extend(other.login.iter().cloned());
    }
}

/// Classifies one screen.
///
/// Precedence, highest first: permission, trust, login dialogs; then busy; then prompt;
/// otherwise `Unknown`. Dialogs win over busy because an agent can keep its busy spinner
/// drawn while a dialog waits for the user (Claude Code does: its thinking spinner keeps
/// animating under a permission prompt, anthropics/claude-code#59229), and a session that
/// waits for an approval must not look busy. Busy wins over prompt because the agents draw
/// their input box (and its placeholder) during a turn too.
///
/// The price of letting dialogs win: a reply that quotes a dialog's exact text (say "Do you
/// want to proceed?") reads as `Waiting(Permission)` while that text is on screen. The
/// built-in dialog patterns are dialog titles and option texts for that reason.
pub fn classify(rules: &ScreenRules, screen_text: &str) -> ScreenVerdict {
    let dialogs = [
        (&rules.permission, WaitReason::Permission),
        (&rules.trust, WaitReason::Trust),
        (&rules.login, WaitReason::Login),
    ];
    for (patterns, reason) in dialogs {
        if any_line_matches(patterns, screen_text) {
            return ScreenVerdict::Waiting(reason);
        }
    }
    if any_line_matches(&rules.busy, screen_text) {
        return ScreenVerdict::Busy;
    }
    if any_line_matches(&rules.prompt, screen_text) {
        return ScreenVerdict::Waiting(WaitReason::Prompt);
    }
    ScreenVerdict::Unknown
}

/// True when some line of `text` matches some pattern (see [`ScreenRules`] for the syntax).
fn any_line_matches(patterns: &[String], text: &str) -> bool {
    if patterns.is_empty() {
        return false;
    }
    text.lines()
        .any(|line| patterns.iter().any(|p| line_matches(p, line)))
}

fn line_matches(pattern: &str, line: &str) -> bool {
    match pattern.strip_prefix('^') {
        Some(anchored) => !anchored.is_empty() && line.starts_with(anchored),
        None => !pattern.is_empty() && line.contains(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ScreenRules {
        ScreenRules {
            busy: vec!["esc to interrupt".into()],
            prompt: vec!["? for shortcuts".into(), "^> ".into()],
            permission: vec!["Do you want to proceed?".into()],
            trust: vec!["Do you trust".into()],
            login: vec!["Sign in".into()],
        }
    }

    #[test]
    fn precedence_dialogs_then_busy_then_prompt() {
        let r = rules();
        let all =
            "Do you want to proceed?\nDo you trust\nSign in\nesc to interrupt\n? for shortcuts";
        assert_eq!(
            classify(&r, all),
            ScreenVerdict::Waiting(WaitReason::Permission)
        );
        let no_perm = "Do you trust\nSign in\nesc to interrupt\n? for shortcuts";
        assert_eq!(
            classify(&r, no_perm),
            ScreenVerdict::Waiting(WaitReason::Trust)
        );
        let login = "Sign in\nesc to interrupt\n? for shortcuts";
        assert_eq!(
            classify(&r, login),
            ScreenVerdict::Waiting(WaitReason::Login)
        );
        let busy = "  esc to interrupt · x\n  ? for shortcuts";
        assert_eq!(classify(&r, busy), ScreenVerdict::Busy);
        assert_eq!(
            classify(&r, "  ? for shortcuts"),
            ScreenVerdict::Waiting(WaitReason::Prompt)
        );
        assert_eq!(classify(&r, "hello\n\n"), ScreenVerdict::Unknown);
        assert_eq!(classify(&r, ""), ScreenVerdict::Unknown);
    }

    #[test]
    fn anchored_patterns_match_only_at_line_start() {
        let r = rules();
        assert_eq!(
            classify(&r, "> typed"),
            ScreenVerdict::Waiting(WaitReason::Prompt)
        );
        assert_eq!(classify(&r, "x > typed"), ScreenVerdict::Unknown);
        assert_eq!(
            classify(&r, "\n> typed\n"),
            ScreenVerdict::Waiting(WaitReason::Prompt)
        );
    }

    #[test]
    fn patterns_do_not_span_lines_and_empty_patterns_never_match() {
        let r = ScreenRules {
            busy: vec!["esc to\ninterrupt".into(), String::new(), "^".into()],
            ..ScreenRules::default()
        };
        assert_eq!(classify(&r, "esc to\ninterrupt"), ScreenVerdict::Unknown);
        assert_eq!(classify(&r, "anything"), ScreenVerdict::Unknown);
    }

    #[test]
    fn names_and_serde() {
        for (reason, name) in [
            (WaitReason::Prompt, "prompt"),
            (WaitReason::Permission, "permission"),
            (WaitReason::Trust, "trust"),
            (WaitReason::Login, "login"),
            (WaitReason::Question, "question"),
            (WaitReason::Other, "other"),
        ] {
            assert_eq!(reason.to_string(), name);
            assert_eq!(
                serde_json::to_string(&reason).unwrap(),
                format!("\"{name}\"")
            );
            let back: WaitReason = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, reason);
        }
        assert_eq!(ScreenVerdict::Busy.to_string(), "busy");
        assert_eq!(
            ScreenVerdict::Waiting(WaitReason::Trust).to_string(),
            "waiting:trust"
        );
        assert_eq!(ScreenVerdict::Unknown.to_string(), "unknown");
        assert_eq!(
            serde_json::to_string(&ScreenVerdict::Busy).unwrap(),
            "\"busy\""
        );
        assert_eq!(
            serde_json::to_string(&ScreenVerdict::Waiting(WaitReason::Login)).unwrap(),
            "{\"waiting\":\"login\"}"
        );
    }

    #[test]
    fn rules_from_toml_with_missing_lists() {
        let r: ScreenRules = toml::from_str("busy = [\"Thinking\"]\n").unwrap();
        assert_eq!(r.busy, vec!["Thinking".to_string()]);
        assert!(r.prompt.is_empty() && r.login.is_empty());
        let mut base = ScreenRules::builtin("codex").unwrap();
        let n = base.busy.len();
        base.extend(&r);
        assert_eq!(base.busy.len(), n + 1);
    }

    #[test]
    fn builtin_names() {
        for name in BUILTIN_AGENTS {
            assert!(ScreenRules::builtin(name).is_some(), "{name}");
            assert!(builtin_controls(name).is_some(), "{name}");
        }
        assert!(ScreenRules::builtin("Claude").is_some());
        assert!(ScreenRules::builtin("custom").is_none());
        assert!(ScreenRules::builtin("").is_none());
    }
}
