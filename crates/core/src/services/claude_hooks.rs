//! Claude Code's own hooks as a state source.
//!
//! When a `claude` session starts, the library passes Claude Code a `--settings` JSON (built
//! with serde, never by pasting strings) that declares command hooks for a few of its events.
//! Each hook runs `<agent-sessions binary> __hook <event>`: a fixed argv whose only variable
//! part is the path of our own binary, single-quoted for the shell Claude Code runs hooks
//! with. The hook process reads Claude's hook JSON on stdin, finds its session through
//! `AGENT_SESSIONS_SESSION_ID` and `AGENT_SESSIONS_HOME` (the host puts both in the agent's
//! environment, and Claude Code passes its environment on to hooks), and sends one
//! [`Tag::AgentEvent`] frame to the session host, which records the transition with source
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
//! (an interrupted turn fires no Stop hook; an approved permission fires no event).
//! PermissionRequest fires the moment Claude Code shows its dialog (2.1.197); the
//! `permission_prompt` notification comes only once the user has left the dialog unanswered
//! for about 6 s, which is why the screen used to name the wait first. Our hook prints no
//! decision, so the dialog is shown as it would be without us.

use crate::config::detect::WaitReason;
use crate::config::home::{Home, HOME_ENV};
use crate::model::error::{Error, Result};
use crate::model::protocol::{AgentEventRequest, Tag};
use crate::model::state::State;
use crate::services::client;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// The hidden CLI command hooks run.
pub const HOOK_COMMAND: &str = "__hook";
/// Environment variable naming the session, set by the host for the agent.
pub const SESSION_ENV: &str = "AGENT_SESSIONS_SESSION_ID";
/// Seconds Claude Code gives one of our hooks before it gives up on it.
const HOOK_TIMEOUT_SECS: u64 = 10;
/// How long a hook waits for the host's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest hook input read (Claude's hook JSON is a few hundred bytes).
const MAX_INPUT: u64 = 1 << 20;

/// (Claude Code hook event, our event argument).
pub const EVENTS: [(&str, &str); 6] = [
    ("UserPromptSubmit", "user-prompt-submit"),
    ("Stop", "stop"),
    ("PermissionRequest", "permission-request"),
    ("Notification", "notification"),
    ("SessionStart", "session-start"),
    ("SessionEnd", "session-end"),
];

/// Quotes `s` for a POSIX shell: as is when it is plainly safe, else in single quotes.
fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `--settings` JSON declaring our hooks, each running `host_bin __hook <event>`.
pub fn settings_json(host_bin: &Path) -> String {
    let bin = sh_quote(&host_bin.display().to_string());
    let mut hooks = serde_json::Map::new();
    for (claude_event, arg) in EVENTS {
        hooks.insert(
            claude_event.to_string(),
            json!([{
                "hooks": [{
                    "type": "command",
                    "command": format!("{bin} {HOOK_COMMAND} {arg}"),
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

/// A random (version 4) UUID.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    crate::model::id::os_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// True for ids we are willing to store: short, letters, digits and `-` (Claude's are UUIDs).
pub fn plausible_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a hook event means for the session: the state to move to, the waiting reason and a
/// cause for the history; `None` when it changes no state.
pub fn interpret(ev: &AgentEventRequest) -> Option<(State, Option<WaitReason>, String)> {
    match ev.event.as_str() {
        "user_prompt_submit" => Some((
            State::Running,
            None,
            "UserPromptSubmit hook: prompt submitted".into(),
        )),
        "stop" => Some((
            State::WaitingInput,
            Some(WaitReason::Prompt),
            "Stop hook: turn finished".into(),
        )),
        "permission_request" => {
            let tool = ev.tool_name.as_deref().unwrap_or("a tool");
            let reason = match tool {
                "AskUserQuestion" => WaitReason::Question,
                _ => WaitReason::Permission,
            };
            Some((
                State::WaitingInput,
                Some(reason),
                format!("PermissionRequest hook: {tool}"),
            ))
        }
        "notification" => {
            let kind = ev.notification_type.as_deref().unwrap_or("");
            let msg = ev.message.as_deref().unwrap_or("").to_ascii_lowercase();
            let reason = match kind {
                "permission_prompt" => WaitReason::Permission,
                "idle_prompt" => WaitReason::Prompt,
                "elicitation_dialog" => WaitReason::Other,
                // Versions without notification_type: go by the message.
                "" if msg.contains("permission") => WaitReason::Permission,
                "" if msg.contains("waiting for your input") => WaitReason::Prompt,
                _ => return None,
            };
            let kind = if kind.is_empty() { "message" } else { kind };
            Some((
                State::WaitingInput,
                Some(reason),
                format!("Notification hook: {kind}"),
            ))
        }
        // `/clear` ends Claude's session and starts a new one in the same process.
        "session_end" if ev.reason.as_deref() == Some("clear") => None,
        "session_end" => Some((
            State::Stopping,
            None,
            format!(
                "SessionEnd hook ({})",
                ev.reason.as_deref().unwrap_or("no reason given")
            ),
        )),
        _ => None,
    }
}

/// Builds the event from our event argument and Claude's hook JSON (best effort: a hook
/// input that is not JSON still reports the event).
pub fn event_from_hook_input(event_arg: &str, input: &[u8]) -> AgentEventRequest {
    let v: Value = serde_json::from_slice(input).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    AgentEventRequest {
        event: event_arg.replace('-', "_"),
        agent_session_id: s("session_id").filter(|id| plausible_session_id(id)),
        notification_type: s("notification_type"),
        message: s("message"),
        reason: s("reason").or_else(|| s("source")),
        tool_name: s("tool_name"),
        tool_input: v.get("tool_input").cloned(),
    }
}

/// `agent-sessions __hook <event>`: reads the hook JSON from `input` and reports the event to
/// this session's host. The caller prints errors to stderr and exits 0 regardless.
pub fn run_hook(event_arg: &str, input: impl Read) -> Result<()> {
    if !EVENTS.iter().any(|(_, a)| *a == event_arg) {
        return Err(Error::InvalidArgument(format!(
            "unknown hook event '{event_arg}'"
        )));
    }
    let mut buf = Vec::new();
    input
        .take(MAX_INPUT)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("reading the hook input", e))?;
    let session = std::env::var(SESSION_ENV).map_err(|_| {
        Error::InvalidArgument(format!(
            "{SESSION_ENV} is not set: this hook only works inside an agent-sessions session"
        ))
    })?;
    let home_dir = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty());
    let home = Home::resolve(home_dir.as_deref().map(Path::new))?;
    let event = event_from_hook_input(event_arg, &buf);
    let payload = serde_json::to_vec(&event).expect("event serializes");
    let reply = client::request(
        &home.socket_path(&session)?,
        Tag::AgentEvent,
        &payload,
        Some(REPLY_TIMEOUT),
    )?;
    if reply.get("ok").and_then(Value::as_bool) != Some(true) {
        return Err(Error::Host {
            id: session,
            reason: reply
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("the host refused the event")
                .to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn ev(event: &str) -> AgentEventRequest {
        AgentEventRequest {
            event: event.into(),
            ..Default::default()
        }
    }

    #[test]
    fn events_map_to_states() {
        assert_eq!(
            interpret(&ev("user_prompt_submit")).unwrap().0,
            State::Running
        );
        let (s, r, _) = interpret(&ev("stop")).unwrap();
        assert_eq!((s, r), (State::WaitingInput, Some(WaitReason::Prompt)));
        let mut n = ev("notification");
        n.notification_type = Some("permission_prompt".into());
        assert_eq!(interpret(&n).unwrap().1, Some(WaitReason::Permission));
        n.notification_type = None;
        n.message = Some("Claude needs your permission to use Bash".into());
        assert_eq!(interpret(&n).unwrap().1, Some(WaitReason::Permission));
        n.notification_type = Some("auth_success".into());
        assert!(interpret(&n).is_none());
        let mut end = ev("session_end");
        end.reason = Some("clear".into());
        assert!(interpret(&end).is_none());
        end.reason = Some("prompt_input_exit".into());
        assert_eq!(interpret(&end).unwrap().0, State::Stopping);
        assert!(interpret(&ev("session_start")).is_none());
        // The dialog's own hook, from its tool: a question is not a permission.
        let e = event_from_hook_input(
            "permission-request",
            br#"{"session_id":"d51bbbc0-eb7d-413a-a6a4-93b5b853bcad","hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"ls /tmp"}}"#,
        );
        assert_eq!(e.tool_name.as_deref(), Some("Bash"));
        let (s, r, cause) = interpret(&e).unwrap();
        assert_eq!((s, r), (State::WaitingInput, Some(WaitReason::Permission)));
        assert_eq!(cause, "PermissionRequest hook: Bash");
        let mut q = ev("permission_request");
        q.tool_name = Some("AskUserQuestion".into());
        assert_eq!(interpret(&q).unwrap().1, Some(WaitReason::Question));
        assert_eq!(
            interpret(&ev("permission_request")).unwrap().1,
            Some(WaitReason::Permission)
        );
    }

    #[test]
    fn hook_input_is_read_leniently() {
        let e = event_from_hook_input(
            "notification",
            br#"{"session_id":"d51bbbc0-eb7d-413a-a6a4-93b5b853bcad","hook_event_name":"Notification","message":"m","notification_type":"permission_prompt"}"#,
        );
        assert_eq!(e.event, "notification");
        assert_eq!(
            e.agent_session_id.as_deref(),
            Some("d51bbbc0-eb7d-413a-a6a4-93b5b853bcad")
        );
        assert_eq!(e.notification_type.as_deref(), Some("permission_prompt"));
        let e = event_from_hook_input("stop", b"not json");
        assert_eq!(e, ev("stop"));
        let e = event_from_hook_input("stop", br#"{"session_id":"../../etc"}"#);
        assert!(e.agent_session_id.is_none());
    }
}
