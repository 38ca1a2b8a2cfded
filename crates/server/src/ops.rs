//! The operations the HTTP API and the MCP tools share: each takes the session id (where it
//! has one) and a JSON object of arguments, makes one core call and returns the CLI's
//! `--json` shape. HTTP handlers and MCP tools only say which operation and where its
//! arguments come from (path and body; the tool call's arguments), so the two front doors
//! cannot drift apart.

use crate::error::{Result, ServerError};
use agent_sessions::duration::optional_secs;
use agent_sessions::{requests, SessionManager, State};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// An operation on sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Sessions matching `{state, agent, task_id}`.
    List,
    /// A new session from the start options (the C ABI's `as_manager_start` object).
    Start,
    /// One session's record.
    Get,
    /// An ended session's record and files removed; `{force}` also removes a worktree
    /// that holds work.
    Remove,
    /// State, reason and source.
    State,
    /// The visible screen.
    Screen,
    /// What a waiting session waits on.
    Pending,
    /// Tokens and cost.
    Usage,
    /// Resources and tokens.
    Telemetry,
    /// `{text, enter}`.
    Send,
    /// `{keys: [...]}`.
    Keys,
    /// The agent's interrupt keys.
    Interrupt,
    /// `{timeout_secs, force}`.
    Stop,
    /// `{state | states, timeout_secs}`.
    Wait,
    /// SIGSTOP to the agent's tree.
    Pause,
    /// SIGCONT.
    Continue,
    /// `{timeout_secs}`.
    Suspend,
    /// The resume options (`args`, `env`, `agent_session_id`).
    Resume,
    /// `{always, timeout_secs}`.
    Approve,
    /// `{message, timeout_secs}`.
    Deny,
    /// `{choices: [...], timeout_secs}`.
    Answer,
    /// A snapshot of the session: `{name, workspace, max_workspace_bytes, keep}`.
    Snapshot,
    /// A new session from a snapshot: `{snapshot, cwd, name, env}` (`snapshot` is the id or
    /// name; HTTP takes it from the path).
    Restore,
}

/// A wait without a timeout gives up after this long, so no request waits forever.
const LONGEST_WAIT: Duration = Duration::from_secs(600);

/// Runs `op` on session `id` (ignored by `List` and `Start`) with `args`, a JSON object
/// (`{}` when the caller gave none). Blocking: call it on the blocking pool.
pub fn run(m: &SessionManager, op: Op, id: &str, args: &Value) -> Result<Value> {
    let text = match args {
        Value::Null => "{}".to_string(),
        Value::Object(_) => args.to_string(),
        other => {
            return Err(ServerError::Core(agent_sessions::Error::InvalidJson(
                format!("the arguments must be a JSON object, not {other}"),
            )))
        }
    };
    let ok = || json!({"ok": true, "session_id": id});
    let v = match op {
        Op::List => to_value(m.list(&requests::list_filter(Some(&text), WHAT)?)?),
        Op::Start => to_value(m.start_request(requests::start_request(&text, WHAT)?)?),
        Op::Get => to_value(m.get(id)?),
        Op::Remove => {
            let b: RemoveArgs = parse(&text)?;
            m.remove_with(id, b.force)?;
            json!({"ok": true, "removed": id})
        }
        Op::State => {
            let rec = m.get(id)?;
            json!({
                "session_id": rec.session_id,
                "state": rec.state,
                "state_reason": rec.state_reason,
                "state_source": rec.state_source,
            })
        }
        Op::Screen => to_value(m.screen(id)?),
        Op::Pending => to_value(m.pending(id)?),
        Op::Usage => to_value(m.usage(id)?),
        Op::Telemetry => to_value(m.telemetry(id)?),
        Op::Send => {
            let b: SendArgs = parse(&text)?;
            m.send(id, &b.text, b.enter)?;
            ok()
        }
        Op::Keys => {
            let b: KeysArgs = parse(&text)?;
            m.send_keys(id, &b.keys)?;
            ok()
        }
        Op::Interrupt => {
            let _: Empty = parse(&text)?;
            m.interrupt(id)?;
            ok()
        }
        Op::Stop => {
            let b: StopArgs = parse(&text)?;
            to_value(m.stop(id, secs(b.timeout_secs)?, b.force)?)
        }
        Op::Wait => {
            let b: WaitArgs = parse(&text)?;
            let mut wanted = b
                .states
                .iter()
                .map(|s| s.parse::<State>())
                .collect::<agent_sessions::Result<Vec<_>>>()?;
            if let Some(s) = &b.state {
                wanted.push(s.parse()?);
            }
            if wanted.is_empty() {
                return Err(ServerError::bad_request(
                    "say what to wait for: {\"state\": \"waiting_input\"} or {\"states\": [...]}",
                ));
            }
            let timeout = secs(b.timeout_secs)?.unwrap_or(LONGEST_WAIT);
            to_value(m.wait_for_any(id, &wanted, Some(timeout))?)
        }
        Op::Pause => {
            let _: Empty = parse(&text)?;
            to_value(m.pause(id)?)
        }
        Op::Continue => {
            let _: Empty = parse(&text)?;
            to_value(m.continue_session(id)?)
        }
        Op::Suspend => {
            let b: TimeoutArgs = parse(&text)?;
            to_value(m.suspend(id, secs(b.timeout_secs)?)?)
        }
        Op::Resume => to_value(m.resume(id, &requests::resume_options(Some(&text), WHAT)?)?),
        Op::Approve => {
            let b: ApproveArgs = parse(&text)?;
            to_value(m.approve(id, b.always, secs(b.timeout_secs)?)?)
        }
        Op::Deny => {
            let b: DenyArgs = parse(&text)?;
            to_value(m.deny(id, b.message.as_deref(), secs(b.timeout_secs)?)?)
        }
        Op::Answer => {
            let b: AnswerArgs = parse(&text)?;
            to_value(m.answer(id, &b.choices, secs(b.timeout_secs)?)?)
        }
        Op::Snapshot => to_value(m.snapshot(id, &requests::snapshot_options(Some(&text), WHAT)?)?),
        Op::Restore => {
            let mut args = requests::object(&text, WHAT)?;
            let snapshot = match args.remove("snapshot") {
                Some(Value::String(s)) => s,
                _ => return Err(ServerError::bad_request(
                    "say which snapshot: {\"snapshot\": \"ID or name\"} (snapshot ls lists them)",
                )),
            };
            let rest = Value::Object(args).to_string();
            to_value(m.restore(&snapshot, &requests::restore_options(Some(&rest), WHAT)?)?)
        }
    };
    Ok(v)
}

/// How messages name the arguments.
const WHAT: &str = "the request";

fn parse<T: DeserializeOwned>(text: &str) -> Result<T> {
    Ok(requests::parse(text, WHAT)?)
}

fn secs(v: Option<f64>) -> Result<Option<Duration>> {
    Ok(optional_secs(v, "timeout_secs")?)
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("the core's records serialize")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendArgs {
    text: String,
    /// Press Enter after the text (default true, as `send`).
    #[serde(default = "yes")]
    enter: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysArgs {
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoveArgs {
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopArgs {
    timeout_secs: Option<f64>,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitArgs {
    state: Option<String>,
    #[serde(default)]
    states: Vec<String>,
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutArgs {
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveArgs {
    #[serde(default)]
    always: bool,
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyArgs {
    message: Option<String>,
    timeout_secs: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerArgs {
    choices: Vec<String>,
    timeout_secs: Option<f64>,
}
