//! Starting sessions: validating what the caller asked for, inserting the record,
//! launching the host, and recording the outcome.

use super::SessionManager;
use crate::config::agents::AgentOrigin;
use crate::config::defaults::{DEFAULT_COLS, DEFAULT_DEBOUNCE, DEFAULT_IDLE_AFTER, DEFAULT_ROWS};
use crate::model::error::{Error, Result};
use crate::model::id;
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::state::Source;
use crate::model::state::State;
use crate::services::launch_spec::LaunchSpec;
use crate::services::launcher;
use crate::services::state_machine::{self, Change};
use crate::store::{self, Column, NewSession};
use std::path::PathBuf;
use std::time::Duration;

/// Detection settings for [`SessionManager::start_with`] (kept apart from [`StartOptions`]
/// so that struct stays as the bindings build it).
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    /// How long a waiting screen must hold; default: the agent type's own, else
    /// [`DEFAULT_DEBOUNCE`].
    pub debounce: Option<Duration>,
    /// Do not pass Claude Code the hook settings (the screen alone decides).
    pub no_agent_hooks: bool,
    /// Telemetry sampling intervals; `None`: resources every 2 s, workspace size every 30 s,
    /// written to the store every 10 s (see [`crate::services::telemetry`]).
    pub telemetry: Option<crate::services::telemetry::SamplerConfig>,
}

/// How to start a session.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Agent type: `claude`, `codex`, `gemini`, `opencode` or `custom`.
    pub agent: String,
    /// Arguments for the agent; for `custom`, the program and its arguments.
    pub args: Vec<String>,
    /// Working folder; the caller's current folder when `None`.
    pub cwd: Option<PathBuf>,
    /// The task the session serves (1 to 200 characters); `None` inherits
    /// `AGENT_SESSIONS_TASK` from this process's environment, else no task.
    pub task_id: Option<String>,
    /// A free-form name to show and filter by (`name` in the record); `None` for none.
    pub name: Option<String>,
    /// Extra environment. Values reach only the agent; the record keeps the names.
    pub env: Vec<(String, String)>,
    /// Terminal width in columns; `None`: [`DEFAULT_COLS`] (120).
    pub cols: Option<u16>,
    /// Terminal height in rows; `None`: [`DEFAULT_ROWS`] (35).
    pub rows: Option<u16>,
    /// Output silence before waiting_input; zero switches quiet detection off.
    pub idle_after: Option<Duration>,
    /// Output log cap in bytes (default 50 MiB); the log rotates at half of it, keeping one
    /// older part.
    pub max_log_bytes: Option<u64>,
    /// Approval policy for the agent's permission requests (Claude Code and Codex, through
    /// their hooks; see [`crate::model::policy`]). Kept in the record, used again on resume.
    pub policy: Option<crate::model::policy::Policy>,
    /// Cost budget: a dollar and/or token limit and the action at it (see
    /// [`crate::model::budget`]). Kept in the record; the host checks it while the agent
    /// spends, also after a resume.
    pub budget: Option<crate::model::budget::Budget>,
    /// Run the agent in a new git worktree of the repository `cwd` is in (see
    /// [`crate::model::worktree`]); removed again if the start fails.
    pub worktree: Option<crate::model::worktree::WorktreeRequest>,
}

impl SessionManager {
    /// Starts a session and returns its record once the agent process runs. A binary that
    /// cannot be found is reported as an error and leaves a record in state failed.
    pub fn start(&self, opts: &StartOptions) -> Result<SessionRecord> {
        self.start_with(opts, &DetectOptions::default())
    }

    /// [`SessionManager::start`] with detection settings.
    pub fn start_with(&self, opts: &StartOptions, detect: &DetectOptions) -> Result<SessionRecord> {
        self.start_with_origin(opts, detect, &Origin::default())
    }

    /// [`SessionManager::start_with`] of a start that came from somewhere (a template).
    pub(super) fn start_with_origin(
        &self,
        opts: &StartOptions,
        detect: &DetectOptions,
        origin: &Origin,
    ) -> Result<SessionRecord> {
        let Some(req) = &opts.worktree else {
            return self.start_in(opts, detect, None, origin);
        };
        // Everything that can be checked without a worktree is, before one is made.
        self.agent(&opts.agent)?;
        if let Some(b) = &opts.budget {
            b.check()?;
        }
        let cwd = self.start_folder(opts)?;
        let session_id = origin.session_id.clone().unwrap_or_else(id::new_id);
        let made =
            crate::services::worktree::create(&cwd, req, &self.worktree_root(), &session_id)?;
        let worktree = made.worktree.clone();
        let started = self.start_in(opts, detect, Some((session_id.clone(), made)), origin);
        if started.is_err() {
            // No worktree is left behind by a failed start (it holds nothing yet); a record
            // kept in state failed no longer claims it.
            let _ = crate::services::worktree::remove(&worktree, true);
            if let Ok(store) = self.store.get() {
                let none = vec![(Column::Worktree, rusqlite::types::Value::Null)];
                let _ = store.update(&session_id, &none);
            }
        }
        started
    }

    /// Where new worktrees go: `$AGENT_SESSIONS_WORKTREE_ROOT`, else `.worktrees` in the
    /// home (a name no session id can take).
    fn worktree_root(&self) -> PathBuf {
        match std::env::var_os(crate::model::worktree::WORKTREE_ROOT_ENV) {
            Some(r) if !r.is_empty() => PathBuf::from(r),
            _ => self.home.root().join(".worktrees"),
        }
    }

    /// The start's working folder, canonical.
    fn start_folder(&self, opts: &StartOptions) -> Result<PathBuf> {
        let cwd = match &opts.cwd {
            Some(p) => p.clone(),
            None => {
                std::env::current_dir().map_err(|e| Error::io("reading the current folder", e))?
            }
        };
        let cwd = std::fs::canonicalize(&cwd)
            .map_err(|e| Error::io(format!("working folder {}", cwd.display()), e))?;
        if !cwd.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a folder",
                cwd.display()
            )));
        }
        Ok(cwd)
    }

    /// A start in the caller's folder, or (`worktree`: the session id it was made for and
    /// the worktree) in a worktree made for it; `origin` says where the start came from.
    pub(super) fn start_in(
        &self,
        opts: &StartOptions,
        detect: &DetectOptions,
        worktree: Option<(String, crate::services::worktree::Made)>,
        origin: &Origin,
    ) -> Result<SessionRecord> {
        let spec = self.agent(&opts.agent)?;
        let cols = opts.cols.unwrap_or(DEFAULT_COLS);
        let rows = opts.rows.unwrap_or(DEFAULT_ROWS);
        if cols == 0 || rows == 0 {
            return Err(Error::InvalidArgument(
                "--cols and --rows must be at least 1".into(),
            ));
        }
        check_env_names(&opts.env)?;
        let cwd = match &worktree {
            Some((_, made)) => made.cwd.clone(),
            None => self.start_folder(opts)?,
        };
        if let Some(b) = &opts.budget {
            b.check()?;
        }
        let task_id = match &opts.task_id {
            Some(t) => Some(crate::api::manager::tasks::validate_task_id(t)?.to_string()),
            // Started from inside another session (a sub-agent, a hook): same task.
            None => crate::api::manager::tasks::inherited_task(),
        };
        let max_log_bytes = opts
            .max_log_bytes
            .unwrap_or(crate::services::launch_spec::DEFAULT_MAX_LOG_BYTES);
        if max_log_bytes < 8192 {
            return Err(Error::InvalidArgument(
                "the output log cap must be at least 8 KiB".into(),
            ));
        }
        let idle_after = opts.idle_after.unwrap_or(DEFAULT_IDLE_AFTER).as_secs_f64();
        let debounce = detect
            .debounce
            .or(spec.debounce)
            .unwrap_or(DEFAULT_DEBOUNCE);
        if debounce > Duration::from_secs(60) {
            return Err(Error::InvalidArgument(
                "the debounce must be at most 60 seconds".into(),
            ));
        }
        // Claude Code and Codex: their own hooks report to the host (and answer permission
        // requests the policy decides); Claude also gets a session id we know.
        let mut args = Vec::new();
        let mut agent_session_id = None;
        let mut hook_env = Vec::new();
        let mut reports_status = false;
        if spec.origin == AgentOrigin::Builtin {
            let hook_bin = match detect.no_agent_hooks {
                true => None,
                false => self.host_binary().ok(),
            };
            let hooked = crate::services::agent_hooks::launch(
                &spec.name,
                &opts.args,
                &opts.env,
                self.home.root(),
                hook_bin.as_deref(),
            );
            args = hooked.args;
            agent_session_id = hooked.agent_session_id;
            hook_env = hooked.env;
            reports_status = hooked.reports_status;
        }
        if let Some(template) = &spec.session_id_args {
            let id = crate::services::agent_hooks::new_uuid();
            args.extend(template.iter().map(|a| a.replace("{id}", &id)));
            agent_session_id = Some(id);
        }
        // A resumed conversation keeps the agent's own session id.
        agent_session_id = agent_session_id.or_else(|| origin.agent_session_id.clone());
        args.extend(opts.args.iter().cloned());
        let argv_result = spec.argv(&args);
        if let Err(Error::InvalidArgument(m)) = &argv_result {
            return Err(Error::InvalidArgument(m.clone()));
        }
        // The CLI forks the host itself (see `host::fork`); everything else runs the host
        // binary, and so does a manager told which binary to run.
        let direct = argv_result.is_ok()
            && self.host_binary.lock().is_none()
            && crate::host::fork::can_fork();
        let host_bin = match argv_result.is_ok() && !direct {
            true => Some(self.host_binary()?),
            false => None,
        };

        let session_id = match (&worktree, &origin.session_id) {
            (Some((id, _)), _) => id.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => id::new_id(),
        };
        let lock = launcher::lock_new_session(&self.home, &session_id)?;
        let shown_command = match &argv_result {
            Ok(argv) => argv.clone(),
            Err(_) => opts.args.clone(),
        };
        let mut env_keys: Vec<String> = opts.env.iter().map(|(k, _)| k.clone()).collect();
        env_keys.dedup();
        let mut extra = vec![
            (
                Column::AgentArgs,
                store::text(serde_json::to_string(&opts.args).expect("strings serialize")),
            ),
            (Column::MaxLogBytes, store::int(max_log_bytes as i64)),
        ];
        if let Some(asid) = &agent_session_id {
            extra.push((Column::AgentSessionId, store::text(asid.clone())));
        }
        if let Some(policy) = &opts.policy {
            let json = serde_json::to_string(policy).expect("a policy serializes");
            extra.push((Column::Policy, store::text(json)));
        }
        if let Some(budget) = &opts.budget {
            let json = serde_json::to_string(budget).expect("a budget serializes");
            extra.push((Column::Budget, store::text(json)));
        }
        if let Some((_, made)) = &worktree {
            let json = serde_json::to_string(&made.worktree).expect("a worktree serializes");
            extra.push((Column::Worktree, store::text(json)));
        }
        if let Some(from) = &origin.restored_from {
            let json = serde_json::to_string(from).expect("an origin serializes");
            extra.push((Column::RestoredFrom, store::text(json)));
        }
        if let Some(t) = &origin.template {
            extra.push((Column::Template, store::text(t.clone())));
        }
        let launch = argv_result.map(|argv| LaunchSpec {
            session_id: session_id.clone(),
            argv,
            cwd: cwd.display().to_string(),
            // Ours first: the user's own values of the same names win.
            env: hook_env.iter().chain(&opts.env).cloned().collect(),
            cols,
            rows,
            idle_after_secs: idle_after,
            agent_session_id: agent_session_id.clone(),
            telemetry_ms: detect.telemetry.map(|c| {
                let ms = |d: Duration| d.as_millis() as u64;
                (
                    ms(c.resource_interval),
                    ms(c.workspace_interval),
                    ms(c.flush_interval),
                )
            }),
            max_log_bytes,
            task_id: task_id.clone(),
            policy: opts.policy.clone(),
            reports_status,
            template: origin.template.clone(),
            ..LaunchSpec::for_agent(&spec, debounce)
        });
        let new = NewSession {
            id: session_id.clone(),
            kind: SessionKind::Hosted,
            agent_type: Some(spec.name.clone()),
            name: opts.name.clone(),
            task_id: task_id.clone(),
            state: State::Starting,
            cause: "start requested".into(),
            reason: None,
            phase: None,
            created_at: None,
            workspace_path: Some(cwd.display().to_string()),
            command: shown_command,
            env_keys,
            cols,
            rows,
            idle_after_secs: idle_after,
        };
        let recorded = match launch {
            Ok(l) if direct => {
                let started = self.start_forked(&new, &extra, &l, &lock);
                drop(lock);
                return started;
            }
            launch => {
                // The exec'd host may write as soon as it runs (an agent that ends at once):
                // its record must exist before it starts.
                state_machine::insert(&*self.store.get()?, &new, Source::User, &extra)?;
                let launched = launch.and_then(|launch| {
                    let bin = host_bin.expect("resolved when argv is and the host is not forked");
                    launcher::launch(&self.home, &bin, &launch, &lock)
                });
                self.record_outcome(&session_id, launched)
            }
        };
        // The lock is let go only once the outcome is recorded: until then no reader may
        // take this starting session for abandoned (on success the host holds its own copy).
        drop(lock);
        recorded?;
        self.started_record(&*self.store.get()?, &session_id, true)
    }

    /// A start whose host is forked from this process (see `host::fork`). The host opens its
    /// terminal and spawns the agent while this process inserts the record (starting: this
    /// order measured faster than one transaction after the report, which put the store's
    /// open and the insert on the critical path); once
    /// the host has reported, the session is recorded running (or failed), the record is read
    /// back, and the go pipe lets the host open the store.
    /// Should this process fail or die before that, the host sees its go pipe end with no
    /// record and ends the agent. The lock is the caller's until this returns.
    fn start_forked(
        &self,
        new: &NewSession,
        extra: &crate::store::Updates,
        launch: &LaunchSpec,
        lock: &std::fs::File,
    ) -> Result<SessionRecord> {
        let forked = crate::host::fork::fork_host(&self.home, launch, lock);
        let store = self.store.get()?;
        // The caller waits for this process's exit: no checkpoint on its way.
        if self
            .exits_after_start
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            store.leave_checkpoints_to_others();
        }
        state_machine::insert(&store, new, Source::User, extra)?;
        let mut host = match forked {
            Ok(host) => host,
            Err(e) => return Err(record_failure(&store, &new.id, e)),
        };
        let ready = match host.wait_ready() {
            Ok(ready) => ready,
            Err(e) => {
                return Err(record_failure(&store, &new.id, e));
            }
        };
        state_machine::apply(&store, &running(&new.id, running_updates(&ready)))?;
        // Read before the go byte: until then the host writes nothing, so this is the record
        // as just written, and it has no telemetry yet.
        let rec = self.started_record(&store, &new.id, false)?;
        host.recorded(
            self.exits_after_start
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        Ok(rec)
    }

    /// The record of a session this manager has just started, as stored. No liveness check:
    /// its host reported ready and holds its lock. `telemetry`: read the summary too (an
    /// exec'd host may have written a first sample; a forked one writes nothing before the
    /// go byte).
    fn started_record(
        &self,
        store: &crate::store::Store,
        session_id: &str,
        telemetry: bool,
    ) -> Result<SessionRecord> {
        let mut rec = store
            .get(session_id)?
            .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
        let row = if telemetry {
            store.telemetry_row(session_id)?
        } else {
            None
        };
        rec.telemetry = Some(crate::services::telemetry::telemetry_joined(&rec, row));
        rec.resumable = self.resume_blocker(&rec).is_none();
        Ok(rec)
    }

    /// Records the outcome of a host launch for a session in state starting: running with
    /// the pids, or failed with the reason (which is also returned).
    pub(crate) fn record_launch(
        &self,
        session_id: &str,
        launched: Result<crate::services::launch_spec::ReadyReport>,
    ) -> Result<SessionRecord> {
        self.record_outcome(session_id, launched)?;
        self.get(session_id)
    }

    /// [`Self::record_launch`] without reading the record back.
    fn record_outcome(
        &self,
        session_id: &str,
        launched: Result<crate::services::launch_spec::ReadyReport>,
    ) -> Result<()> {
        let store = self.store.get()?;
        match launched {
            Ok(ready) => {
                // The table allows running only from starting: if the agent already ended
                // and the host recorded it, that ending stands.
                let updates = running_updates(&ready);
                state_machine::apply(&store, &running(session_id, updates))?;
                Ok(())
            }
            Err(e) => Err(record_failure(&store, session_id, e)),
        }
    }
}

/// Refuses environment names no process can be given (empty, with `=` or NUL) before
/// anything is made: a start, a resume and a restore check them alike.
pub(super) fn check_env_names(env: &[(String, String)]) -> Result<()> {
    match env
        .iter()
        .find(|(k, _)| k.is_empty() || k.contains('=') || k.contains('\0'))
    {
        Some((k, _)) => Err(Error::InvalidArgument(format!(
            "invalid environment variable name {k:?}: use --env NAME=VALUE"
        ))),
        None => Ok(()),
    }
}

/// Where a start came from, for its record: the template (`NAME@VERSION`) it was made
/// from; for a restore, the new session's id (chosen first, to name its folder), the
/// snapshot, and the agent's own session id of a resumed conversation.
#[derive(Debug, Default)]
pub(super) struct Origin {
    pub session_id: Option<String>,
    pub restored_from: Option<crate::model::snapshot::RestoredFrom>,
    pub agent_session_id: Option<String>,
    pub template: Option<String>,
}

/// The move to running once the host reported the agent's pid.
fn running(session_id: &str, updates: crate::store::Updates) -> Change<'_> {
    Change::new(
        session_id,
        State::Running,
        Source::Process,
        "process spawned",
    )
    .updates(updates)
}

fn running_updates(ready: &crate::services::launch_spec::ReadyReport) -> crate::store::Updates {
    crate::host::running_updates(
        &crate::model::clock::now_iso(),
        ready.host_pid.unwrap_or(0),
        ready.agent_pid.unwrap_or(0),
    )
}

/// Records a launch that failed (state failed, with the reason) and returns the error to
/// report: the launch's, or the store's if that could not be written.
fn record_failure(store: &crate::store::Store, session_id: &str, e: Error) -> Error {
    let reason = e.to_string();
    match state_machine::apply(store, &failed(session_id, &reason)) {
        Ok(_) => e,
        Err(store_error) => store_error,
    }
}

/// The move to failed, keeping the attempt visible with its reason: the host reports
/// failures before the agent runs and leaves recording them to the starter.
fn failed<'a>(session_id: &'a str, reason: &'a str) -> Change<'a> {
    Change::new(session_id, State::Failed, Source::Process, reason)
        .reason(Some(reason))
        .updates(vec![(
            Column::EndedAt,
            store::text(crate::model::clock::now_iso()),
        )])
}
