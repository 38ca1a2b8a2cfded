//! Claude Code's hooks: the settings layer that declares them for one `claude` process.
//!
//! When a `claude` session starts, the library passes Claude Code a `--settings` JSON (built
//! with serde, never by pasting strings) that declares command hooks for a few of its events.
//! Each hook runs `<agent-sessions binary> __hook <event>`: a fixed argv whose only variable
//! part is the path of our own binary, single-quoted for the shell Claude Code runs hooks
//! with. The hook process reads Claude's hook JSON on stdin, finds its session through
//! `AGENT_SESSIONS_SESSION_ID` and `AGENT_SESSIONS_HOME` (the host puts both in the agent's
//! environment, and Claude Code passes its environment on to hooks), and sends one
//! [`crate::model::protocol::Tag::AgentEvent`] frame to the session host, which records the transition with source
//! `agent_hook`. It prints nothing on stdout (Claude Code would add that to the
//! conversation for UserPromptSubmit and SessionStart) and always exits 0 (exit 2 would
//! block the prompt), so a hook can never disturb Claude Code.
//!
//! | Claude Code event | session state |
//! |---|---|
//! | UserPromptSubmit | running |
//! | Stop | waiting_input / prompt |
//! | PermissionRequest (its dialog is shown) | waiting_input / permission (`question` for AskUserQuestion) |
//! | Notification, `permission_prompt` | waiting_input / permission |
//! | Notification, `idle_prompt` | waiting_input / prompt |
//! | Notification, `elicitation_dialog` | waiting_input / other |
//! | SessionStart | (records Claude's session id only) |
//! | SessionEnd (not `clear`) | stopping |
//!
//! Nothing is written to the user's Claude settings files: `--settings` adds a settings layer
//! for this one process, and Claude Code merges hooks from all layers, so the user's own
//! hooks still run. The screen rules stay in charge of everything the hooks do not report
//! (an interrupted turn fires no Stop hook; an approved permission fires no event; an interrupt fires none either, the host records
//! the interrupt it sent).
//! PermissionRequest fires the moment Claude Code shows its dialog (2.1.197); the
//! `permission_prompt` notification comes only once the user has left the dialog unanswered
//! for about 6 s, which is why the screen used to name the wait first. Our hook prints a
//! decision only when the session's policy decides the request (see `model::policy`);
//! otherwise the dialog is shown as it would be without us.

use super::{hook_command, new_uuid, HOOK_TIMEOUT_SECS};
use serde_json::json;
use std::path::Path;

/// (Claude Code hook event, our event argument).
pub const EVENTS: [(&str, &str); 8] = [
    ("UserPromptSubmit", "user-prompt-submit"),
    ("Stop", "stop"),
    // A turn that ended on an API error (no Stop then).
    ("StopFailure", "stop-failure"),
    ("PermissionRequest", "permission-request"),
    // A tool finished: the agent works on (after a dialog answered in an attached terminal).
    ("PostToolUse", "post-tool-use"),
    ("Notification", "notification"),
    ("SessionStart", "session-start"),
    ("SessionEnd", "session-end"),
];

/// The `--settings` JSON declaring our hooks, each running `host_bin __hook <event>`.
pub fn settings_json(host_bin: &Path) -> String {
    let mut hooks = serde_json::Map::new();
    for (claude_event, arg) in EVENTS {
        hooks.insert(
            claude_event.to_string(),
            json!([{
                "hooks": [{
                    "type": "command",
                    "command": hook_command(host_bin, arg),
                    "timeout": HOOK_TIMEOUT_SECS,
                }]
            }]),
        );
    }
    json!({ "hooks": hooks }).to_string()
}

/// Arguments the library puts before the user's own for a `claude` session, and the Claude
/// session id it chose:
/// - `--settings <hooks JSON>` when `hooks` is on and the user passes no `--settings` of
///   their own (a second `--settings` would replace theirs; then the screen alone decides);
/// - `--session-id <new UUID>` unless the user passes `--session-id`, `--resume`/`-r`,
///   `--continue`/`-c` or `--fork-session` (Claude Code refuses some of those together).
///   With `--session-id` given by the user, that id is returned.
pub fn launch_args(
    user_args: &[String],
    host_bin: &Path,
    hooks: bool,
) -> (Vec<String>, Option<String>) {
    let has = |flags: &[&str]| {
        user_args.iter().any(|a| {
            flags
                .iter()
                .any(|f| a == f || (f.starts_with("--") && a.starts_with(&format!("{f}="))))
        })
    };
    let mut pre = Vec::new();
    if hooks && !has(&["--settings"]) {
        pre.push("--settings".to_string());
        pre.push(settings_json(host_bin));
    }
    let mut id = None;
    if let Some(i) = user_args.iter().position(|a| a == "--session-id") {
        id = user_args.get(i + 1).cloned();
    } else if let Some(v) = user_args
        .iter()
        .find_map(|a| a.strip_prefix("--session-id="))
    {
        id = Some(v.to_string());
    } else if !has(&["--resume", "-r", "--continue", "-c", "--fork-session"]) {
        let new = new_uuid();
        pre.push("--session-id".to_string());
        pre.push(new.clone());
        id = Some(new);
    }
    (pre, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn settings_declare_each_hook_with_a_quoted_binary() {
        let json = settings_json(Path::new("/opt/my tools/agent-sessions"));
        let v: Value = serde_json::from_str(&json).unwrap();
        for (ev, arg) in EVENTS {
            let cmd = v["hooks"][ev][0]["hooks"][0]["command"].as_str().unwrap();
            assert_eq!(cmd, format!("'/opt/my tools/agent-sessions' __hook {arg}"));
            assert_eq!(v["hooks"][ev][0]["hooks"][0]["type"], "command");
        }
        let tricky = settings_json(Path::new("/tmp/it's $(here)/bin"));
        let v: Value = serde_json::from_str(&tricky).unwrap();
        let cmd = v["hooks"]["Stop"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap();
        assert_eq!(cmd, "'/tmp/it'\\''s $(here)/bin' __hook stop");
        let plain = settings_json(Path::new("/usr/bin/agent-sessions"));
        assert!(plain.contains("\"/usr/bin/agent-sessions __hook stop\""));
    }

    #[test]
    fn launch_args_add_settings_and_a_session_id() {
        let bin = Path::new("/b/agent-sessions");
        let (pre, id) = launch_args(&[], bin, true);
        assert_eq!(pre[0], "--settings");
        assert_eq!(pre[2], "--session-id");
        let id = id.unwrap();
        assert_eq!(pre[3], id);
        assert!(crate::config::detect::find_agent_session_id(
            "claude",
            &format!("claude --resume {id}")
        )
        .is_some());
        assert_eq!(&id[14..15], "4");

        let (pre, id) = launch_args(&["--resume".into(), "abc".into()], bin, false);
        assert!(pre.is_empty() && id.is_none());
        let (pre, _) = launch_args(&["--settings={}".into()], bin, true);
        assert_eq!(pre[0], "--session-id", "the user's own --settings wins");
        let (pre, id) = launch_args(&["--session-id".into(), "X-1".into()], bin, true);
        assert_eq!(pre.len(), 2);
        assert_eq!(id.as_deref(), Some("X-1"));
    }
}
