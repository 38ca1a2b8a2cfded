//! Built-in screen patterns per agent.
//!
//! Every pattern is tagged with where it comes from:
//! - `[capture]`: seen in the real CLI captures (`shared/fixtures/agents`, copied into
//!   `crates/core/tests/data/agents`), with the file named;
//! - `[readme]`: stated in the captures' README but not present as a screen;
//! - `[assumed]`: not captured; taken from the CLI's public docs, issue reports or other
//!   projects' screen scrapers. Kept few and specific (dialog titles and option texts, not
//!   generic words) because a dialog pattern that also occurs in an agent's reply would make
//!   a busy screen read as waiting while that text is visible.
//!
//! Versions captured: Claude Code 2.1.197, Codex CLI 0.169.0, Gemini CLI 0.61.0, opencode
//! 1.18.33.

use super::ScreenRules;

pub(super) fn builtin(agent: &str) -> Option<ScreenRules> {
    match agent.to_ascii_lowercase().as_str() {
        "claude" => Some(claude()),
        "codex" => Some(codex()),
        "gemini" => Some(gemini()),
        "opencode" => Some(opencode()),
        _ => None,
    }
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn claude() -> ScreenRules {
    ScreenRules {
        // [capture] claude-busy.screen.txt, raw/claude.raw: footer
        // "  esc to interrupt · ← for agents" for the whole turn, while the spinner line above
        // changes glyph (✢ · * ✻ ✽ ✶) and verb ("Forging…"). The finished line
        // "✻ Crunched for 4s" uses the same glyphs, so glyphs are not a busy sign.
        busy: list(&["esc to interrupt"]),
        prompt: list(&[
            // [capture] claude-idle*.screen.txt: idle footer "  ? for shortcuts · ← for agents".
            "? for shortcuts",
            // [capture] claude-idle/typed/busy.screen.txt, raw/claude.raw: the input box line is
            // "❯" + U+00A0 (no-break space) + typed text, also when text is typed but not
            // sent (the footer hint is hidden then). The echo of a sent prompt in the history
            // uses a plain space ("❯ write a haiku"), so it does not match.
            "^\u{276f}\u{a0}",
        ]),
        permission: list(&[
            // [assumed] tool-approval dialogs as quoted in public Claude Code issue reports:
            // "Do you want to proceed?" / "❯ 1. Yes" / "2. Yes, and don't ask again …" /
            // "3. No, and tell Claude what to do differently (esc)"; the edit dialog asks
            // "Do you want to make this edit to <file>?". Row numbers were dropped from some
            // dialogs in later versions, so no "1. Yes" pattern.
            "Do you want to proceed?",
            "Do you want to make this edit to",
            "No, and tell Claude what to do differently",
        ]),
        trust: list(&[
            // [assumed] first-run folder-trust dialog: recent versions show "Quick safety
            // check: Is this a project you created or one you trust?" with "Yes, I trust this
            // folder" / "No, exit"; older ones asked "Do you trust the files in this folder?".
            "Yes, I trust this folder",
            "Is this a project you created or one you trust?",
            "Do you trust the files in this folder?",
        ]),
        // [assumed] the onboarding sign-in chooser. (Offline without credentials Claude Code
        // prints "Unable to connect to Anthropic services" and exits [readme]; that is an exit,
        // not a wait, so it is not a pattern.)
        // [capture] claude-2.1.197/login-menu and not-logged-in: its /login menu, and the
        // footer it shows at its prompt without credentials (every prompt fails until then).
        login: list(&["Select login method:", "Not logged in · Run /login"]),
    }
}

fn codex() -> ScreenRules {
    ScreenRules {
        // [capture] codex-busy.screen.txt, raw/codex.raw: "• Working (1s • esc to interrupt)"
        // with a blinking bullet (• / ◦) and a seconds counter.
        busy: list(&["esc to interrupt"]),
        prompt: list(&[
            // [capture] codex-first/idle-after-reply.screen.txt: the composer placeholder
            // "› Ask Codex to do anything" (also drawn during a turn; busy wins).
            "Ask Codex to do anything",
            // [capture] footer "  ← for agents · ? for shortcuts".
            "? for shortcuts",
            // [capture] raw/codex.raw: with text typed but not sent the placeholder and the
            // footer hint are gone; the composer line is "› write a haiku".
            "^\u{203a} ",
        ]),
        permission: list(&[
            // [assumed] Codex approval overlay titles and its "no" option, as quoted in other
            // projects' Codex screen scrapers and tests:
            // "Would you like to run the following command?" … "› 1. Yes, proceed (y)" …
            // "3. No, and tell Codex what to do differently (esc)".
            "Would you like to run the following command?",
            "Would you like to make the following edits?",
            "Would you like to grant these permissions?",
            "No, and tell Codex what to do differently",
        ]),
        trust: list(&[
            // [assumed] first-run directory-trust screen: "Do you trust the contents of this
            // directory?" / "1. Yes, continue" / "2. No, quit" (recent); older versions offered
            // "1. Allow Codex to work in this folder without asking for approval" or
            // "Yes, allow Codex to work in this folder".
            "Do you trust the contents of this directory?",
            "allow Codex to work in this folder",
            "Allow Codex to work in this folder",
            // [capture] codex-0.171/trust-dialog.screen.txt (a folder inside a git repository):
            // "Folder access" … "Trust this folder? Codex can read, edit, and run files here"
            // … "› 1. Trust and continue".
            "Trust this folder? Codex can",
            "1. Trust and continue",
        ]),
        // [readme] "Codex without credentials opens a sign-in menu ("Sign in with ChatGPT" …,
        // "Press enter to continue")". Only the first is used: the trust screen also says
        // "Press enter to continue".
        login: list(&["Sign in with ChatGPT"]),
    }
}

fn gemini() -> ScreenRules {
    ScreenRules {
        // [assumed] Gemini CLI's loading line during a turn: "⠏ Thinking… (esc to cancel, 3s)".
        // No turn was captured (the capture stops at the trust dialog). The captured
        // authentication spinner says "(Press Esc or Ctrl+C to cancel)", which this does not
        // match; it is a login wait (below).
        busy: list(&["esc to cancel"]),
        prompt: list(&[
            // [assumed] the input box: "│ > Type your message or @path/to/file │", and
            // "│ > <typed text> │" once text is typed. Not captured. The history echo of a
            // sent prompt has no box border (" > /quit" in raw/gemini.raw), so "│ > " does
            // not match it.
            "Type your message or @path/to/file",
            "\u{2502} > ",
        ]),
        permission: list(&[
            // [assumed] tool confirmations: "Allow execution of: '…'?" for shell commands,
            // "Apply this change?" for edits; the loading line reads "Waiting for user
            // confirmation…" meanwhile.
            "Allow execution of",
            "Apply this change?",
            "Waiting for user confirmation",
        ]),
        trust: list(&[
            // [capture] gemini-trust-dialog.screen.txt, raw/gemini.raw: "Do you trust the files
            // in this folder?" with "● 1. Trust folder (ws2)" / "2. Trust parent folder (tmp)" /
            // "3. Don't trust".
            "Do you trust the files in this folder?",
            "Trust parent folder (",
        ]),
        login: list(&[
            // [capture] raw/gemini.raw, before the trust dialog:
            // "⠋ Waiting for authentication... (Press Esc or Ctrl+C to cancel)".
            "Waiting for authentication",
            // [assumed] the auth method chooser.
            "How would you like to authenticate for this project?",
        ]),
    }
}

fn opencode() -> ScreenRules {
    ScreenRules {
        // [assumed] opencode 1.x shows "esc interrupt" under the input during a turn and
        // "esc again to interrupt" after one Esc. No turn was captured.
        busy: list(&["esc interrupt", "esc again to interrupt"]),
        prompt: list(&[
            // [capture] opencode-idle.screen.txt: placeholder
            // "┃  Ask anything… "What is the tech stack of this project?"" (the quoted example
            // may change, so only the stable part).
            "Ask anything",
            // [capture] opencode-idle/typed.screen.txt: the hint line under the input box
            // "tab agents  ctrl+p commands", present with and without typed text.
            "ctrl+p commands",
        ]),
        // [assumed] opencode's permission prompt header. Not captured.
        permission: list(&["Permission required"]),
        // opencode shows no folder-trust dialog and its sign-in (`opencode auth login`) is a
        // separate command, not a screen of the TUI.
        trust: Vec::new(),
        login: Vec::new(),
    }
}
