//! The agents' own hooks as a state source, and as their decision channel.
//!
//! Claude Code and Codex both run command hooks on their lifecycle events. When a session of
//! either starts, the library declares hooks for that one process (Claude: a `--settings`
//! layer, see [`claude`]; Codex: `-c hooks=...` with each hook's trust hash, see [`codex`]),
//! never in the user's own configuration files. Each hook runs `<agent-sessions binary>
//! __hook <event>`: a fixed argv whose only variable part is the path of our own binary,
//! quoted for the shell the agent runs hooks with. The hook process reads the agent's hook
//! JSON on stdin, finds its session through `AGENT_SESSIONS_SESSION_ID` and
//! `AGENT_SESSIONS_HOME` (the host puts both in the agent's environment, and both agents pass
//! their environment on to hooks), and sends one [`Tag::AgentEvent`] frame to the session
//! host, which records the transition with source `agent_hook`.
//!
//! The host's reply may carry a decision for a `PermissionRequest` (the session's approval
//! policy decided it, see [`crate::model::policy`]); the hook prints it as the agent's
//! decision JSON, which both agents read the same way, and the agent then shows no dialog.
//! Otherwise the hook prints nothing on stdout (Claude Code would add that to the
//! conversation for UserPromptSubmit and SessionStart), and it always exits 0 (exit 2 would
//! block the prompt), so a hook can never disturb the agent.
//!
//! | hook event | session state |
//! |---|---|
//! | UserPromptSubmit | running |
//! | Stop | waiting_input / prompt |
//! | StopFailure (Claude; an API error ended the turn) | waiting_input / prompt |
//! | PostToolUse (Claude, Codex), AfterTool (Gemini) | running (a dialog before the tool was answered) |
//! | Interrupt (Codex; Esc mid-turn fires no Stop) | waiting_input / prompt |
//! | PermissionRequest (its dialog is shown) | waiting_input / permission (`question` for AskUserQuestion) |
//! | Notification (Claude), `permission_prompt` | waiting_input / permission |
//! | Notification (Claude), `idle_prompt` | waiting_input / prompt |
//! | Notification (Claude), `elicitation_dialog` | waiting_input / other |
//! | SessionStart | (records the agent's session id only) |
//! | SessionEnd (not `clear`) | stopping |

pub mod claude;
pub mod codex;
pub mod files;
pub mod gemini;
pub mod opencode;

use crate::config::detect::WaitReason;
use crate::config::home::{Home, HOME_ENV};
use crate::model::error::{Error, Result};
use crate::model::protocol::{AgentEventRequest, Tag};
use crate::model::state::State;
use crate::services::client;
use serde_json::{json, Value};
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The hidden CLI command hooks run.
pub const HOOK_COMMAND: &str = "__hook";
/// Environment variable naming the session, set by the host for the agent.
pub const SESSION_ENV: &str = "AGENT_SESSIONS_SESSION_ID";
/// Seconds Claude Code gives one of our hooks before it gives up on it.
pub(crate) const HOOK_TIMEOUT_SECS: u64 = 10;
/// How long a hook waits for the host's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest the host holds a hook open for a user's decision (opencode's permission dialog).
pub const DECISION_WAIT: Duration = Duration::from_secs(3600);
/// Largest hook input read (Claude's hook JSON is a few hundred bytes).
const MAX_INPUT: u64 = 1 << 20;

/// Every event argument `__hook` accepts (both agents' lists).
fn known_event(arg: &str) -> bool {
    claude::EVENTS
        .iter()
        .chain(codex::EVENTS.iter())
        .chain(gemini::EVENTS.iter())
        .chain(opencode::EVENTS.iter())
        .any(|(_, a)| *a == arg)
}

/// What a built-in agent's session gets so that its hooks report to the host.
#[derive(Debug, Default)]
pub struct HookLaunch {
    /// Arguments to put before the user's own.
    pub args: Vec<String>,
    /// Environment to add for the agent.
    pub env: Vec<(String, String)>,
    /// The agent's session id, when the launch fixes it (Claude's `--session-id`).
    pub agent_session_id: Option<String>,
    /// The agent will report its own busy and idle (Codex's status escape, opencode's
    /// session.status through our plugin), from its first turn on.
    pub reports_status: bool,
}

/// How a built-in `agent`'s session is hooked up (see [`claude::launch_args`],
/// [`codex::launch_args`], [`gemini::launch_env`]). `host_bin` is `None` when hooks are
/// off: the screen alone decides then. `home_root` is the sessions home, `user_env` the
/// session's own extra environment.
pub fn launch(
    agent: &str,
    user_args: &[String],
    user_env: &[(String, String)],
    home_root: &Path,
    host_bin: Option<&Path>,
) -> HookLaunch {
    match (agent, host_bin) {
        ("claude", _) => {
            let (args, agent_session_id) = claude::launch_args(
                user_args,
                host_bin.unwrap_or(Path::new("")),
                host_bin.is_some(),
            );
            HookLaunch {
                args,
                agent_session_id,
                ..HookLaunch::default()
            }
        }
        ("codex", Some(bin)) => HookLaunch {
            args: codex::launch_args(user_args, bin),
            reports_status: true,
            ..HookLaunch::default()
        },
        ("gemini", Some(bin)) => HookLaunch {
            env: gemini::launch_env(home_root, user_env, bin),
            ..HookLaunch::default()
        },
        ("opencode", Some(bin)) => {
            let env = opencode::launch_env(home_root, user_env, bin);
            HookLaunch {
                reports_status: !env.is_empty(),
                env,
                ..HookLaunch::default()
            }
        }
        _ => HookLaunch::default(),
    }
}

/// The shell command a hook runs: our binary (quoted) `__hook <event>`.
pub(crate) fn hook_command(host_bin: &Path, arg: &str) -> String {
    format!(
        "{} {HOOK_COMMAND} {arg}",
        sh_quote(&host_bin.display().to_string())
    )
}

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
        "stop_failure" => Some((
            State::WaitingInput,
            Some(WaitReason::Prompt),
            format!(
                "StopFailure hook: the turn ended on an error ({})",
                ev.reason.as_deref().unwrap_or("no details")
            ),
        )),
        // A tool ran (so any dialog before it was answered): the agent works on.
        "post_tool_use" | "after_tool" => Some((
            State::Running,
            None,
            format!(
                "{} hook: {} done",
                if ev.event == "after_tool" {
                    "AfterTool"
                } else {
                    "PostToolUse"
                },
                ev.tool_name.as_deref().unwrap_or("a tool")
            ),
        )),
        // Gemini: a prompt submitted, and its turn finished.
        "before_agent" => Some((
            State::Running,
            None,
            "BeforeAgent hook: prompt submitted".into(),
        )),
        "after_agent" => Some((
            State::WaitingInput,
            Some(WaitReason::Prompt),
            "AfterAgent hook: turn finished".into(),
        )),
        // opencode's bus events, relayed by our plugin.
        "session_busy" => Some((State::Running, None, "opencode session.status: busy".into())),
        "session_idle" => Some((
            State::WaitingInput,
            Some(WaitReason::Prompt),
            "opencode session.status: idle".into(),
        )),
        "permission_asked" => Some((
            State::WaitingInput,
            Some(WaitReason::Permission),
            format!(
                "opencode permission.asked: {}",
                ev.tool_name.as_deref().unwrap_or("a tool")
            ),
        )),
        // A rejected request ends opencode's turn: its session.status says idle then.
        "permission_replied" if ev.reason.as_deref() == Some("reject") => None,
        "permission_replied" => Some((
            State::Running,
            None,
            "opencode permission.replied: the tool goes on".into(),
        )),
        "question_asked" => Some((
            State::WaitingInput,
            Some(WaitReason::Question),
            "opencode question.asked".into(),
        )),
        // Codex: Esc mid-turn aborts the turn without a Stop.
        "interrupt" => Some((
            State::WaitingInput,
            Some(WaitReason::Prompt),
            "Interrupt hook: turn interrupted".into(),
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
                // Gemini's ToolPermission: its confirmation dialog is shown.
                "permission_prompt" | "ToolPermission" => WaitReason::Permission,
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
        reason: s("reason").or_else(|| s("source")).or_else(|| s("error")),
        tool_name: s("tool_name"),
        // Gemini's ToolPermission notification carries its dialog's details instead.
        tool_input: v.get("tool_input").or_else(|| v.get("details")).cloned(),
        request_id: s("request_id").filter(|id| plausible_session_id(id)),
    }
}

/// `agent-sessions __hook <event>`: reads the hook JSON from `input`, reports the event to
/// this session's host, and writes the host's decision for the agent to `out` when it made
/// one (a permission request the session's policy decided). The caller prints errors to
/// stderr and exits 0 regardless.
pub fn run_hook(event_arg: &str, input: impl Read, mut out: impl Write) -> Result<()> {
    if !known_event(event_arg) {
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
    // opencode's plugin waits on its permission request for the user's decision (see
    // `opencode`): the host answers when someone approves or denies, or the dialog goes.
    let timeout = match event.event.as_str() {
        "permission_asked" => DECISION_WAIT + REPLY_TIMEOUT,
        _ => REPLY_TIMEOUT,
    };
    let reply = client::request(
        &home.socket_path(&session)?,
        Tag::AgentEvent,
        &payload,
        Some(timeout),
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
    if let Some(d) = reply.get("decision").filter(|d| d.is_object()) {
        let answer = decision_output(&event.event, d);
        writeln!(out, "{answer}").map_err(|e| Error::io("writing the hook decision", e))?;
    }
    Ok(())
}

/// The agent's decision JSON for a host decision `{"behavior": "allow"|"deny", "message"?}`.
/// Claude Code and Codex read the same `PermissionRequest` output.
fn decision_output(event: &str, d: &Value) -> Value {
    let behavior = match d.get("behavior").and_then(Value::as_str) {
        Some("allow") | Some("always") => "allow",
        _ => "deny",
    };
    let mut decision = json!({ "behavior": behavior });
    if behavior == "deny" {
        let msg = d
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("denied by the session's policy");
        decision["message"] = json!(msg);
    }
    if event == "permission_asked" {
        // opencode's plugin replies through opencode's own API: once, always or reject.
        let reply = match d.get("behavior").and_then(Value::as_str) {
            Some("allow") => "once",
            Some("always") => "always",
            _ => "reject",
        };
        return json!({"reply": reply, "message": decision.get("message")});
    }
    if event == "before_tool" {
        // Gemini's BeforeTool output: a top-level decision (it only honours a deny).
        return json!({"decision": behavior, "reason": decision.get("message")});
    }
    let name = match event {
        "permission_request" => "PermissionRequest",
        other => other,
    };
    json!({"hookSpecificOutput": {"hookEventName": name, "decision": decision}})
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn decisions_use_the_agents_permission_request_output() {
        let allow = decision_output("permission_request", &json!({"behavior": "allow"}));
        assert_eq!(
            allow,
            json!({"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                          "decision": {"behavior": "allow"}}})
        );
        let deny = decision_output("permission_request", &json!({"behavior": "deny"}));
        assert_eq!(
            deny["hookSpecificOutput"]["decision"]["message"],
            "denied by the session's policy"
        );
        // Anything but a plain allow is a deny: a garbled reply never approves.
        let odd = decision_output("permission_request", &json!({"behavior": "ALLOW"}));
        assert_eq!(odd["hookSpecificOutput"]["decision"]["behavior"], "deny");
        let (s, r, _) = interpret(&ev("interrupt")).unwrap();
        assert_eq!((s, r), (State::WaitingInput, Some(WaitReason::Prompt)));
    }
}
