//! Gemini CLI's hooks: a system-defaults settings file given to one `gemini` process.
//!
//! Gemini CLI 0.61 has no `--settings` flag, but it reads a "system defaults" settings layer
//! from the file `GEMINI_CLI_SYSTEM_DEFAULTS_PATH` names (lowest precedence), and every
//! `hooks.<Event>` list is concatenated across layers: a file of ours, named only in that one
//! process's environment, adds our hooks and keeps every hook of the user's own settings. If
//! the machine has a system-defaults file (or the user's environment names one), ours is that
//! file with our hooks added, so nothing of it is lost; one that does not parse as JSON gets
//! no hooks of ours at all (the screen alone decides then) rather than a replacement.
//!
//! Gemini refuses a settings file with a group- or world-writable parent folder (`/tmp`), so
//! the file lives where [`super::files`] finds a private enough folder.
//!
//! Events used (verified against the real 0.61, with its hook JSON): SessionStart (session
//! id), BeforeAgent (prompt submitted → running), BeforeTool (the tool and its input, kept
//! for the dialog that may follow; the session's policy may deny here), Notification with
//! `notification_type: ToolPermission` (its confirmation dialog is shown → waiting
//! permission), AfterAgent (turn finished → waiting prompt), SessionEnd. Gemini has no
//! interrupt hook and lets a hook deny a tool but not allow one past its dialog (its own
//! `--policy` engine does that).

use super::files::private_file;
use super::{hook_command, HOOK_TIMEOUT_SECS};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// (Gemini hook event, our event argument).
pub const EVENTS: [(&str, &str); 7] = [
    ("SessionStart", "session-start"),
    ("BeforeAgent", "before-agent"),
    ("BeforeTool", "before-tool"),
    ("AfterTool", "after-tool"),
    ("Notification", "notification"),
    ("AfterAgent", "after-agent"),
    ("SessionEnd", "session-end"),
];

/// The environment variable naming Gemini's system-defaults settings file.
pub const DEFAULTS_ENV: &str = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH";
/// Where Gemini looks for it when the variable is not set (Linux).
const SYSTEM_DEFAULTS: &str = "/etc/gemini-cli/system-defaults.json";

/// The settings JSON: `base` (the system defaults in effect, if any) with our hooks added.
pub fn settings(base: Option<Value>, host_bin: &Path) -> Option<Value> {
    let mut root = match base {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return None,
    };
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(hooks) = hooks else {
        return None;
    };
    for (event, arg) in EVENTS {
        let ours = json!({"hooks": [{
            "type": "command",
            "name": "agent-sessions",
            "command": hook_command(host_bin, arg),
            // Gemini counts hook timeouts in milliseconds.
            "timeout": HOOK_TIMEOUT_SECS * 1000,
        }]});
        match hooks
            .entry(event)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(list) => list.push(ours),
            _ => return None,
        }
    }
    Some(Value::Object(root))
}

/// Writes the settings file for a `gemini` session and returns the environment that names
/// it, or nothing (the screen alone decides) when no private place or no usable base exists.
/// `user_env` is the session's extra environment, which may name the user's own file.
pub fn launch_env(
    home_root: &Path,
    user_env: &[(String, String)],
    host_bin: &Path,
) -> Vec<(String, String)> {
    let named = user_env
        .iter()
        .rev()
        .find(|(k, _)| k == DEFAULTS_ENV)
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| std::env::var_os(DEFAULTS_ENV).map(PathBuf::from));
    let base_path = named.unwrap_or_else(|| PathBuf::from(SYSTEM_DEFAULTS));
    let base = match std::fs::read_to_string(&base_path) {
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => Some(v),
            Err(_) => return Vec::new(),
        },
        Err(_) => None,
    };
    let Some(settings) = settings(base, host_bin) else {
        return Vec::new();
    };
    let text = settings.to_string();
    match private_file(home_root, "gemini", "settings.json", &text) {
        Some(path) => vec![(DEFAULTS_ENV.to_string(), path.display().to_string())],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::files::private_enough;
    use super::*;

    #[test]
    fn our_hooks_are_added_to_the_users_defaults() {
        let base = json!({"hooks": {"BeforeAgent": [{"hooks": [{"type": "command",
            "command": "their-hook"}]}]}, "ui": {"theme": "x"}});
        let s = settings(Some(base), Path::new("/b/agent-sessions")).unwrap();
        assert_eq!(s["ui"]["theme"], "x");
        let before = s["hooks"]["BeforeAgent"].as_array().unwrap();
        assert_eq!(before.len(), 2, "theirs kept, ours added");
        assert_eq!(before[0]["hooks"][0]["command"], "their-hook");
        assert_eq!(
            before[1]["hooks"][0]["command"],
            "/b/agent-sessions __hook before-agent"
        );
        for (event, _) in EVENTS {
            assert!(s["hooks"][event].is_array(), "{event}");
        }
        assert!(settings(Some(json!([1])), Path::new("/b")).is_none());
        assert!(settings(Some(json!({"hooks": 3})), Path::new("/b")).is_none());
    }

    #[test]
    fn the_file_goes_where_gemini_accepts_it() {
        let d = tempfile_dir();
        let env = launch_env(&d, &[], Path::new("/b/agent-sessions"));
        let (k, v) = &env[0];
        assert_eq!(k, DEFAULTS_ENV);
        assert!(private_enough(Path::new(v).parent().unwrap()), "{v}");
        // In the sessions home itself when its parents allow it, else in a fallback.
        let in_home = v.starts_with(&d.display().to_string());
        assert_eq!(in_home, private_enough(&d), "{v}");
        let s: Value = serde_json::from_str(&std::fs::read_to_string(v).unwrap()).unwrap();
        assert!(s["hooks"]["AfterAgent"].is_array());
        // A user's own defaults file that is not JSON: no hooks of ours, theirs untouched.
        let bad = d.join("bad.json");
        std::fs::write(&bad, "{ not json").unwrap();
        let env = launch_env(
            &d,
            &[(DEFAULTS_ENV.into(), bad.display().to_string())],
            Path::new("/b"),
        );
        assert!(env.is_empty());
        assert_eq!(std::fs::read_to_string(&bad).unwrap(), "{ not json");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A private folder under the build's target folder (not /tmp, whose mode Gemini's rule
    /// refuses, so that the file normally lands in it and not in a fallback).
    fn tempfile_dir() -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let d = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .join(format!("as-gemini-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        d
    }
}
