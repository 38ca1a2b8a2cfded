//! What a waiting agent waits for, beyond its reason: the request itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The request a session in `waiting_input` waits on (a permission dialog, a question, a
/// trust or sign-in screen); in the record as `pending` and in the `pending` event. `None`
/// at the agent's prompt and whenever the session is not waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The wait reason: `permission`, `question`, `trust`, `login` or `other`.
    pub kind: String,
    /// The tool asked for (`Bash`, `Edit`, `AskUserQuestion`, ...), when the agent said.
    #[serde(default)]
    pub tool: Option<String>,
    /// The tool's input as the agent reported it (the command, the file, the questions).
    #[serde(default)]
    pub input: Option<Value>,
    /// The choices the dialog offers, as numbered on screen (`1. Yes, proceed (y)` gives
    /// `Yes, proceed (y)`), first first.
    #[serde(default)]
    pub options: Vec<String>,
    /// Who reported the wait (`agent_hook`, `agent_status`, `screen`).
    pub source: String,
    /// When the wait began (ISO 8601, UTC).
    pub since: String,
}

/// Largest tool input kept as it is, serialized; a bigger one (a whole file an Edit would
/// write) is kept as a preview, so every record that carries it stays small.
pub const MAX_INPUT_JSON: usize = 16 * 1024;

/// `input` as the record keeps it: unchanged up to [`MAX_INPUT_JSON`] bytes of JSON, else
/// `{"truncated": true, "bytes": N, "preview": "<the first 4 KiB of its JSON>"}`.
pub fn bounded_input(input: serde_json::Value) -> serde_json::Value {
    let json = input.to_string();
    if json.len() <= MAX_INPUT_JSON {
        return input;
    }
    let mut cut = 4096;
    while !json.is_char_boundary(cut) {
        cut -= 1;
    }
    serde_json::json!({"truncated": true, "bytes": json.len(), "preview": &json[..cut]})
}

/// The numbered choices of the dialog on `screen`: the last run of lines that read like
/// `❯ 1. Yes`, `› 2. No, and tell Codex ...` or `  3. Always allow`, in order, where one line
/// carries the selection marker (a dialog always shows which option Enter takes; a numbered
/// list in a reply or in Gemini's start-up tips has none). Empty when the screen shows none.
pub fn options_on_screen(screen: &str) -> Vec<String> {
    let mut runs: Vec<(Vec<String>, bool)> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut marked = false;
    for line in screen.lines() {
        // Borders, the selection marker and indentation before the number.
        let t = line.trim_start_matches(|c: char| c.is_whitespace() || "❯›>●○│*".contains(c));
        let numbered = t
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest.trim_end())));
        let has_marker = || {
            line.trim_start_matches(|c: char| c.is_whitespace() || c == '│')
                .starts_with(['❯', '›', '●', '>'])
        };
        match numbered {
            Some((n, text)) if n == current.len() + 1 && !text.is_empty() => {
                marked |= has_marker();
                current.push(option_label(text))
            }
            Some((1, text)) if !text.is_empty() => {
                runs.push((std::mem::take(&mut current), marked));
                marked = has_marker();
                current.push(option_label(text));
            }
            _ if current.is_empty() => {}
            // A blank or wrapped line inside a dialog does not end its list.
            _ if line.trim().is_empty() || !line.starts_with(char::is_alphanumeric) => {}
            _ => {
                runs.push((std::mem::take(&mut current), marked));
                marked = false;
            }
        }
    }
    runs.push((current, marked));
    runs.into_iter()
        .rev()
        .find(|(r, marked)| r.len() >= 2 && *marked)
        .map(|(r, _)| r)
        .unwrap_or_default()
}

/// An option's label: its text without the dialog's right border, and without a description
/// in a column of its own (Codex: `Red                warm`).
fn option_label(text: &str) -> String {
    let t = text.trim_end_matches('│').trim_end();
    t.split("  ").next().unwrap_or(t).trim().to_string()
}

/// The number of the dialog option under the selection marker (`❯ 2. Blue`, `› 1. Yes`),
/// if the screen shows one.
pub fn selected_option(screen: &str) -> Option<usize> {
    screen.lines().rev().find_map(|line| {
        let t = line.trim_start_matches(|c: char| c.is_whitespace() || c == '│');
        // Claude's and opencode's marker, Codex's, Gemini's.
        let rest = ['❯', '›', '●'].iter().find_map(|m| t.strip_prefix(*m))?;
        let (n, _) = rest.trim_start().split_once(". ")?;
        (n.len() <= 2).then(|| n.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_and_claude_dialogs() {
        let codex = "  Would you like to run the following command?\n\n  $ ls /tmp\n\n› 1. Yes, proceed (y)\n  2. Yes, and don't ask again for commands that start with `ls /tmp` (p)\n  3. No, and tell Codex what to do differently (esc)\n\n  Press enter to confirm or esc to cancel";
        assert_eq!(
            options_on_screen(codex),
            [
                "Yes, proceed (y)",
                "Yes, and don't ask again for commands that start with `ls /tmp` (p)",
                "No, and tell Codex what to do differently (esc)"
            ]
        );
        let claude = "│ Do you want to proceed?\n│ ❯ 1. Yes\n│   2. Yes, and don't ask again │\n│   3. No, and tell Claude what to do differently (esc) │";
        assert_eq!(
            options_on_screen(claude).len(),
            3,
            "{:?}",
            options_on_screen(claude)
        );
        assert_eq!(options_on_screen(claude)[0], "Yes");
    }

    #[test]
    fn a_huge_input_is_kept_as_a_preview() {
        let small = serde_json::json!({"command": "ls /tmp"});
        assert_eq!(bounded_input(small.clone()), small);
        let big = serde_json::json!({"file_path": "/x", "content": "é".repeat(20_000)});
        let kept = bounded_input(big);
        assert_eq!(kept["truncated"], true);
        assert!(kept["bytes"].as_u64().unwrap() > 40_000);
        assert!(kept["preview"].as_str().unwrap().len() <= 4096);
    }

    #[test]
    fn the_marked_option() {
        assert_eq!(selected_option("  1. Red\n❯ 2. Blue\n  3. Type"), Some(2));
        assert_eq!(selected_option("› 1. Yes, proceed (y)\n  2. No"), Some(1));
        assert_eq!(selected_option("│ ❯ 1. Yes │"), Some(1));
        assert_eq!(
            selected_option("│ ● 1. Allow once │\n│   2. Allow for this session"),
            Some(1)
        );
        assert_eq!(selected_option("● TOOL-DONE"), None);
        assert_eq!(selected_option("❯ \n  ? for shortcuts"), None);
        assert_eq!(selected_option("› Ask Codex to do anything"), None);
    }

    #[test]
    fn no_dialog_no_options() {
        assert!(options_on_screen("❯ \n  ? for shortcuts").is_empty());
        assert!(options_on_screen("1. only one choice").is_empty());
        // A numbered list in a reply further up does not count once a dialog follows.
        let s = "1. first point\n2. second point\nsome text\n› 1. Yes\n  2. No";
        assert_eq!(options_on_screen(s), ["Yes", "No"]);
        // Gemini's start-up tips are numbered, but no dialog: nothing is selected in them.
        let tips = "Tips for getting started:\n1. Create GEMINI.md files\n2. /help for more information\n3. Ask coding questions\n > RUN: touch x";
        assert!(options_on_screen(tips).is_empty());
        let both = format!("{tips}\n│ ● 1. Allow once │\n│   2. Allow for this session │\n│   3. No, suggest changes (esc) │");
        assert_eq!(options_on_screen(&both)[0], "Allow once");
        let codex_question = "  › 1. Red                warm\n    2. Blue               cool\n    3. None of the above  Optionally, add details in notes (tab)";
        assert_eq!(
            options_on_screen(codex_question),
            ["Red", "Blue", "None of the above"]
        );
    }
}
