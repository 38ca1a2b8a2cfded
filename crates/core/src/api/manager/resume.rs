//! Pause and continue (freeze and thaw the agent), suspend and resume (end the agent with
//! its conversation kept, then start it again on the same conversation under the same
//! session id).
//!
//! A resume needs three things: an ended session, the agent's own session id (Claude's
//! session id, Codex's thread id, Gemini's session id; seen on screen, in hook events, or
//! fixed at launch) and the agent type's resume arguments (`claude --resume <id>`,
//! `codex resume <id>`, `gemini --resume <id>`, `opencode --session <id>`, or `resume` in
//! `agents.toml`). [`blocker`] says which is missing; the record's `resumable` field and
//! the lifecycle resume decision use the same function, so they always agree.

use crate::api::manager::events::kind;
use crate::api::manager::SessionManager;
use crate::config::agents::{self, AgentOrigin, AgentSpec};
use crate::config::home::Home;
use crate::model::error::{Error, Result};
use crate::model::protocol::{StopRequest, Tag};
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::launch_spec::LaunchSpec;
use crate::services::launcher;
use crate::services::state_machine::{self, Change, Outcome};
use crate::store::{self, Column};
use rusqlite::types::Value;

use std::time::Duration;

/// How long a resume waits for the previous host to exit and free the session lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How to resume a session.
#[derive(Debug, Clone, Default)]
pub struct ResumeOptions {
    /// Arguments for the agent instead of the ones it was started with (which are repeated
    /// by default). The resume arguments themselves are added either way.
    pub args: Option<Vec<String>>,
    /// Environment for the agent. Values are never stored, so pass them again.
    pub env: Vec<(String, String)>,
    /// The agent's own session id, when the session never showed it (opencode) or it is
    /// known better.
    pub agent_session_id: Option<String>,
}

/// Why `rec` cannot be resumed now, or `None` when it can.
pub fn blocker(home: &Home, rec: &SessionRecord) -> Option<String> {
    blocker_with(rec, rec.agent_session_id.as_deref(), || {
        let name = rec.agent_type.as_deref().unwrap_or("custom");
        match agents::find(name, &[]) {
            Some(a) => Ok(a),
            None => {
                let user = crate::config::agent_config::load(home).map_err(|e| e.to_string())?;
                agents::find(name, &user)
                    .ok_or_else(|| format!("its agent type '{name}' is no longer defined"))
            }
        }
    })
}

fn blocker_with(
    rec: &SessionRecord,
    agent_session_id: Option<&str>,
    spec: impl FnOnce() -> std::result::Result<AgentSpec, String>,
) -> Option<String> {
    if rec.kind == SessionKind::Record {
        return Some("it is a lifecycle record with no agent process".into());
    }
    if !rec.state.is_ended() {
        return Some(format!(
            "it is {}; only a suspended, stopped, failed or unknown session can be resumed",
            rec.state
        ));
    }
    let spec = match spec() {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    if spec.resume.is_none() {
        return Some(format!(
            "agent type '{}' has no resume command (define `resume = [\"--resume\", \"{{id}}\"]` for it in agents.toml)",
            spec.name
        ));
    }
    if agent_session_id.is_none_or(str::is_empty) {
        return Some(
            "the agent never showed its own session id, so there is no conversation to go back to (pass --agent-session-id if you know it)"
                .into(),
        );
    }
    None
}

/// The arguments of a resumed agent: its resume arguments with the id filled in, then the
/// user's arguments without any that would pick another conversation.
pub(super) fn resume_args(
    spec: &AgentSpec,
    template: &[String],
    asid: &str,
    user: &[String],
) -> Vec<String> {
    let filled: Vec<String> = template.iter().map(|a| a.replace("{id}", asid)).collect();
    let user = if spec.name == "claude" && spec.origin == AgentOrigin::Builtin {
        strip_claude_session_flags(user)
    } else {
        user.to_vec()
    };
    match (&spec.binary, user.split_first()) {
        // `custom`: the program comes first, then the resume arguments.
        (None, Some((program, rest))) => {
            let mut out = vec![program.clone()];
            out.extend(filled);
            out.extend(rest.iter().cloned());
            out
        }
        _ => filled.into_iter().chain(user).collect(),
    }
}

pub(super) fn strip_claude_session_flags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--session-id" | "--resume" | "-r" => {
                it.next();
            }
            "--continue" | "-c" | "--fork-session" => {}
            s if s.starts_with("--session-id=") || s.starts_with("--resume=") => {}
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Agent types looked up while judging many records (one `ls`), by name.
#[derive(Default)]
pub(crate) struct SpecCache(
    std::collections::HashMap<String, std::result::Result<AgentSpec, String>>,
);

impl SessionManager {
    /// Why a session cannot be resumed now; `None` when it can.
    pub fn resume_blocker(&self, rec: &SessionRecord) -> Option<String> {
        self.resume_blocker_cached(rec, &mut SpecCache::default())
    }

    pub(crate) fn resume_blocker_cached(
        &self,
        rec: &SessionRecord,
        specs: &mut SpecCache,
    ) -> Option<String> {
        if !rec.state.is_ended() || rec.kind == SessionKind::Record {
            return blocker_with(rec, None, || Err(String::new()));
        }
        let name = rec.agent_type.as_deref().unwrap_or("custom");
        blocker_with(rec, rec.agent_session_id.as_deref(), || {
            specs
                .0
                .entry(name.to_string())
                .or_insert_with(|| self.agent(name).map_err(|e| e.to_string()))
                .clone()
        })
    }

    /// Freezes the agent's process group (SIGSTOP): the session reads paused and takes no
    /// input until [`SessionManager::continue_session`]. Pausing a paused session changes
    /// nothing.
    pub fn pause(&self, session_id: &str) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        if rec.state == State::Paused {
            return Ok(rec);
        }
        Self::require_live(rec, "be paused")?;
        self.event(session_id, kind::PAUSE, serde_json::json!({}))?;
        self.request(session_id, Tag::Pause, b"")?;
        self.get(session_id)
    }

    /// Thaws a paused session (SIGCONT); it reads running until its screen or output
    /// silence says otherwise. Continuing a running session changes nothing.
    pub fn continue_session(&self, session_id: &str) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        if rec.kind == SessionKind::Record {
            return Err(Error::NoProcess {
                id: rec.session_id,
                action: "be continued",
            });
        }
        if matches!(rec.state, State::Running | State::WaitingInput) {
            return Ok(rec);
        }
        if rec.state != State::Paused {
            return Err(Error::SessionNotRunning {
                id: rec.session_id,
                state: rec.state,
                action: "be continued (only a paused session can)",
            });
        }
        self.event(session_id, kind::CONTINUE, serde_json::json!({}))?;
        self.request(session_id, Tag::Continue, b"")?;
        self.get(session_id)
    }

    fn event(&self, session_id: &str, kind: &str, data: serde_json::Value) -> Result<i64> {
        self.store
            .get()?
            .record_event(session_id, "user", kind, &data)
    }

    /// Ends the agent cleanly (its quit sequence, then signals after `timeout`) and keeps
    /// what a resume needs: the session becomes suspended. Fails, leaving the session
    /// stopped, when the agent never showed its own session id; refuses at once for agent
    /// types that cannot resume, since suspending them would lose the conversation.
    pub fn suspend(&self, session_id: &str, timeout: Option<Duration>) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        if rec.kind == SessionKind::Record {
            return Err(Error::NoProcess {
                id: rec.session_id,
                action: "be suspended",
            });
        }
        if !matches!(
            rec.state,
            State::Starting | State::Running | State::WaitingInput | State::Paused
        ) {
            return Err(Error::SessionNotRunning {
                id: rec.session_id,
                state: rec.state,
                action: "be suspended",
            });
        }
        let spec = self.agent(rec.agent_type.as_deref().unwrap_or("custom"))?;
        if spec.resume.is_none() {
            return Err(Error::NotResumable {
                id: rec.session_id,
                reason: format!(
                    "agent type '{}' has no resume command, so suspending would lose its conversation; use `agent-sessions stop`, or define `resume` for the type in agents.toml",
                    spec.name
                ),
            });
        }
        let req = StopRequest {
            timeout_secs: timeout
                .unwrap_or(crate::config::defaults::DEFAULT_STOP_TIMEOUT)
                .as_secs_f64(),
            force: false,
            suspend: true,
        };
        self.event(
            session_id,
            kind::SUSPEND,
            serde_json::json!({"timeout_secs": req.timeout_secs}),
        )?;
        let payload = serde_json::to_vec(&req).expect("stop request serializes");
        match self.request(session_id, Tag::Stop, &payload) {
            Ok(_) | Err(Error::SessionNotRunning { .. }) => {}
            Err(e) => return Err(e),
        }
        let rec = self.get(session_id)?;
        if rec.state == State::Suspended {
            return Ok(rec);
        }
        Err(Error::NotResumable {
            id: rec.session_id,
            reason: format!(
                "it ended as {} instead of suspended: {}",
                rec.state,
                rec.state_reason
                    .as_deref()
                    .unwrap_or("the agent ended on its own")
            ),
        })
    }

    /// [`SessionManager::resume`], then waits (up to `timeout`) until the agent is at its
    /// prompt. If the agent ends instead (it reported the conversation is gone, say), fails
    /// with [`Error::NotResumable`] carrying the session's reason.
    pub fn resume_and_wait(
        &self,
        session_id: &str,
        opts: &ResumeOptions,
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        self.resume(session_id, opts)?;
        match self.wait_for(session_id, State::WaitingInput, timeout) {
            Err(Error::StateUnreachable { .. }) => {
                let rec = self.get(session_id)?;
                Err(Error::NotResumable {
                    id: rec.session_id,
                    reason: format!(
                        "the agent ended ({}) right after resuming: {}",
                        rec.state,
                        rec.state_reason.as_deref().unwrap_or("no reason given")
                    ),
                })
            }
            other => other,
        }
    }

    /// Starts an ended session's agent again on the same conversation, under the same
    /// session id: same folder, terminal size, task, phase and history. Returns once the
    /// agent runs. If the agent then reports that the conversation is gone, the session
    /// ends failed with that reason (see `wait`).
    pub fn resume(&self, session_id: &str, opts: &ResumeOptions) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        let asid = opts
            .agent_session_id
            .clone()
            .or_else(|| rec.agent_session_id.clone());
        if let Some(a) = &opts.agent_session_id {
            if a.is_empty() || a.len() > 200 || a.chars().any(|c| c.is_control() || c == '/') {
                return Err(Error::InvalidArgument(format!(
                    "invalid agent session id {a:?}: give the id the agent printed"
                )));
            }
        }
        let spec_result = self
            .agent(rec.agent_type.as_deref().unwrap_or("custom"))
            .map_err(|e| e.to_string());
        if let Some(reason) = blocker_with(&rec, asid.as_deref(), || spec_result.clone()) {
            return Err(Error::NotResumable {
                id: rec.session_id,
                reason,
            });
        }
        let spec = spec_result.map_err(Error::InvalidArgument)?;
        let asid = asid.expect("checked by blocker");
        super::start::check_env_names(&opts.env)?;
        let user_args = opts.args.clone().unwrap_or_else(|| rec.agent_args.clone());
        let template = spec.resume.clone().expect("checked by blocker");
        let mut args = resume_args(&spec, &template, &asid, &user_args);
        let mut hook_env = Vec::new();
        let mut reports_status = false;
        if spec.origin == AgentOrigin::Builtin {
            let hook_bin = self.host_binary().ok();
            let hooked = crate::services::agent_hooks::launch(
                &spec.name,
                &args,
                &opts.env,
                self.home.root(),
                hook_bin.as_deref(),
            );
            args = hooked.args.into_iter().chain(args).collect();
            hook_env = hooked.env;
            reports_status = hooked.reports_status;
        }
        let argv = spec.argv(&args)?;
        let host_bin = self.host_binary()?;

        // The lock first: a reader must never see `starting` without a lock holder.
        let lock = match launcher::lock_existing_session(&self.home, session_id, LOCK_WAIT) {
            Ok(l) => l,
            // Still held: another resume won the race, or the old host hangs.
            Err(Error::Host { .. }) => {
                let now = self.get(session_id)?;
                return Err(Error::NotResumable {
                    id: now.session_id,
                    reason: format!(
                        "its session host is still running (state {}); another resume may have started it",
                        now.state
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        let cleared = |c: Column| (c, Value::Null);
        let moved = match state_machine::apply(
            &*self.store.get()?,
            &Change::new(
                session_id,
                State::Starting,
                Source::User,
                "resume requested",
            )
            .only_from(&[rec.state])
            .updates(vec![
                cleared(Column::EndedAt),
                cleared(Column::ExitCode),
                cleared(Column::ExitSignal),
                cleared(Column::HostPid),
                cleared(Column::AgentPid),
                (Column::AgentSessionId, store::text(asid.clone())),
                (
                    Column::AgentArgs,
                    store::text(serde_json::to_string(&user_args).expect("strings serialize")),
                ),
                (
                    Column::Command,
                    store::text(serde_json::to_string(&argv).expect("strings serialize")),
                ),
            ]),
        ) {
            // Removed while we waited for its lock: the folder our lock recreated goes too.
            Err(Error::SessionNotFound(id)) => {
                drop(lock);
                let _ = std::fs::remove_dir_all(self.home.session_dir(session_id)?);
                return Err(Error::SessionNotFound(id));
            }
            other => other?,
        };
        if !matches!(moved, Outcome::Moved(_)) {
            let now = self.get(session_id)?;
            return Err(Error::NotResumable {
                id: now.session_id,
                reason: format!("it changed to {} meanwhile", now.state),
            });
        }
        self.event(
            session_id,
            kind::RESUME,
            serde_json::json!({"agent_session_id": asid, "argv": argv}),
        )?;
        let debounce = spec
            .debounce
            .unwrap_or(crate::config::defaults::DEFAULT_DEBOUNCE);
        let launch = LaunchSpec {
            session_id: session_id.to_string(),
            argv,
            cwd: rec.workspace_path.clone().unwrap_or_else(|| ".".into()),
            env: hook_env.iter().chain(&opts.env).cloned().collect(),
            cols: rec.cols,
            rows: rec.rows,
            idle_after_secs: rec.idle_after_secs,
            agent_session_id: Some(asid),
            resuming: true,
            max_log_bytes: rec
                .max_log_bytes
                .unwrap_or(crate::config::defaults::DEFAULT_MAX_LOG_BYTES),
            task_id: rec.task_id.clone(),
            template: rec.template.clone(),
            policy: rec.policy.clone(),
            reports_status,
            ..LaunchSpec::for_agent(&spec, debounce)
        };
        let launched = launcher::launch(&self.home, &host_bin, &launch, &lock);
        let recorded = self.record_launch(session_id, launched);
        drop(lock);
        recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn resume_arguments_per_agent() {
        let claude = agents::lookup("claude").unwrap();
        let t = claude.resume.clone().unwrap();
        assert_eq!(
            resume_args(
                &claude,
                &t,
                "ID",
                &s(&["--session-id", "OLD", "--model", "x"])
            ),
            s(&["--resume", "ID", "--model", "x"])
        );
        let codex = agents::lookup("codex").unwrap();
        let t = codex.resume.clone().unwrap();
        assert_eq!(
            resume_args(&codex, &t, "ID", &s(&["-m", "y"])),
            s(&["resume", "ID", "-m", "y"])
        );
        let mut custom = agents::lookup("custom").unwrap();
        custom.resume = Some(s(&["--resume", "{id}"]));
        assert_eq!(
            resume_args(&custom, &s(&["--resume", "{id}"]), "ID", &s(&["prog", "a"])),
            s(&["prog", "--resume", "ID", "a"])
        );
    }
}
