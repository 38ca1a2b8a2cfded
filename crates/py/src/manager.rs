//! `SessionManager` from Python: one core `SessionManager`, shared (through an `Arc`) with
//! every `Session`, stream and iterator it hands out.
//!
//! Every call that can block (the store, the host's socket) runs with the GIL released.

use crate::args;
use crate::convert::ser_to_py;
use crate::errors::call;
use crate::history::event_list;
use crate::session::PySession;
use crate::watch::PyWatchLease;
use agent_sessions::{CleanupOptions, ListFilter, SessionManager, StartOptions};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::path::PathBuf;
use std::sync::Arc;

#[pyclass(frozen, name = "SessionManager", module = "agent_sessions._native")]
pub struct PySessionManager {
    mgr: Arc<SessionManager>,
}

#[pymethods]
impl PySessionManager {
    /// Opens the sessions home `home` (default: $AGENT_SESSIONS_HOME, else the XDG state
    /// folder). `host_binary` is the `agent-sessions` executable that hosts sessions; by
    /// default the one installed with this package.
    #[new]
    #[pyo3(signature = (home=None, *, host_binary=None))]
    fn new(py: Python<'_>, home: Option<PathBuf>, host_binary: Option<PathBuf>) -> PyResult<Self> {
        let host_binary = match host_binary {
            Some(p) => Some(p),
            None => {
                // The binary installed beside this package (see agent_sessions/_host.py).
                let found = py
                    .import("agent_sessions._host")?
                    .call_method0("host_binary")?;
                if found.is_none() {
                    None
                } else {
                    Some(found.extract::<PathBuf>()?)
                }
            }
        };
        let mgr = call(py, || SessionManager::open(home.as_deref()))?;
        if let Some(p) = host_binary {
            mgr.set_host_binary(p);
        }
        Ok(PySessionManager { mgr: Arc::new(mgr) })
    }

    /// The sessions home folder.
    #[getter]
    fn home(&self) -> String {
        self.mgr.home().root().display().to_string()
    }

    /// Starts a session and returns it once the agent process runs. `max_log_bytes` caps the
    /// output log on disk (older output is rotated away); None keeps the default cap.
    /// `policy` is the path of an approval policy file (see the README). `budget_usd` and
    /// `budget_tokens` cap what the agent spends; at the cap `on_budget` happens ("warn",
    /// "interrupt", "suspend" or "stop", the default), with a warning event at 80%.
    /// `worktree` runs the agent in a new git worktree: True (branch agent-sessions/ID), a
    /// branch name, or a dict {"branch": ..., "root": ...}.
    #[pyo3(signature = (agent=None, args=None, cwd=None, task_id=None, name=None, env=None, cols=None, rows=None, idle_after=None, max_log_bytes=None, policy=None, template=None, budget_usd=None, budget_tokens=None, on_budget=None, worktree=None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        py: Python<'_>,
        agent: Option<&str>,
        args: Option<&Bound<'_, PyAny>>,
        cwd: Option<PathBuf>,
        task_id: Option<String>,
        name: Option<String>,
        env: Option<&Bound<'_, PyAny>>,
        cols: Option<i64>,
        rows: Option<i64>,
        idle_after: Option<f64>,
        max_log_bytes: Option<i64>,
        policy: Option<PathBuf>,
        template: Option<String>,
        budget_usd: Option<f64>,
        budget_tokens: Option<i64>,
        on_budget: Option<&str>,
        worktree: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySession> {
        let budget = crate::args::budget(budget_usd, budget_tokens, on_budget, "budget_tokens")?;
        let worktree = worktree.map(crate::convert::to_json).transpose()?;
        let worktree = agent_sessions::requests::worktree_request(worktree)
            .map_err(crate::errors::to_pyerr)?;
        if agent.is_none() && template.is_none() {
            return Err(crate::errors::to_pyerr(agent_sessions::Error::InvalidArgument(
                "start needs an agent type (claude, codex, gemini, opencode, custom, ...) or template=".into(),
            )));
        }
        let opts = StartOptions {
            agent: agent.unwrap_or_default().to_string(),
            args: args::strings(args, "args")?,
            cwd,
            task_id,
            name,
            env: args::env_pairs(env)?,
            cols: args::size(cols, "cols")?,
            rows: args::size(rows, "rows")?,
            idle_after: args::optional_secs(idle_after, "idle_after")?,
            max_log_bytes: max_log_bytes
                .map(|n| args::non_negative(n, "max_log_bytes"))
                .transpose()?,
            policy: policy
                .as_deref()
                .map(agent_sessions::policy::load)
                .transpose()
                .map_err(crate::errors::to_pyerr)?,
            budget,
            worktree,
        };
        let mgr = &self.mgr;
        let req = agent_sessions::requests::StartRequest {
            template,
            options: opts,
        };
        let rec = call(py, || mgr.start_request(req))?;
        Ok(PySession::new(mgr.clone(), rec))
    }

    /// Saves a new version of a launch template (a dict: agent, args, env names, cwd,
    /// task_prefix, name, cols, rows, idle_after_secs, debounce_secs, no_hooks,
    /// max_log_bytes, policy, description) and makes it current; returns the version as a
    /// dict. Checked first (see `check_template`) unless `force`.
    #[pyo3(signature = (name, template, force=false))]
    fn save_template<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        template: &Bound<'py, PyAny>,
        force: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let json = crate::convert::to_json(template)?.to_string();
        let mgr = &self.mgr;
        let v = call(py, || {
            let t = agent_sessions::template::Template::from_json(&json, "template")?;
            mgr.save_template(name, &t, force)
        })?;
        ser_to_py(py, &v)
    }

    /// A template version as a dict: `NAME` (current) or `NAME@VERSION`.
    fn template<'py>(&self, py: Python<'py>, spec: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let v = call(py, || mgr.template(spec))?;
        ser_to_py(py, &v)
    }

    /// The current version of every template, as dicts.
    fn templates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let v = call(py, || mgr.templates())?;
        ser_to_py(py, &v)
    }

    /// Every version of a template, oldest first.
    fn template_history<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let v = call(py, || mgr.template_history(name))?;
        ser_to_py(py, &v)
    }

    /// Makes an earlier version current again; returns it.
    fn rollback_template<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        version: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let v = call(py, || mgr.rollback_template(name, version))?;
        ser_to_py(py, &v)
    }

    /// Removes a template with every version.
    fn remove_template(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let mgr = &self.mgr;
        call(py, || mgr.remove_template(name))
    }

    /// What would stop a template from starting (empty: nothing).
    fn check_template(&self, py: Python<'_>, spec: &str) -> PyResult<Vec<String>> {
        let mgr = &self.mgr;
        call(py, || mgr.check_saved_template(spec).map(|c| c.problems))
    }

    /// The session with this id.
    fn get(&self, py: Python<'_>, session_id: &str) -> PyResult<PySession> {
        let mgr = &self.mgr;
        let rec = call(py, || mgr.get(session_id))?;
        Ok(PySession::new(mgr.clone(), rec))
    }

    /// Sessions, newest first, optionally only those in `state`, of `agent`, or linked to
    /// `task_id`. Raises TaskNotFoundError (a SessionNotFoundError) when no session at all
    /// carries `task_id`.
    #[pyo3(signature = (state=None, agent=None, task_id=None))]
    fn list(
        &self,
        py: Python<'_>,
        state: Option<&str>,
        agent: Option<String>,
        task_id: Option<String>,
    ) -> PyResult<Vec<PySession>> {
        let filter = ListFilter {
            state: state.map(args::state).transpose()?,
            agent_type: agent,
            task_id,
        };
        let mgr = &self.mgr;
        let recs = call(py, || mgr.list(&filter))?;
        Ok(recs
            .into_iter()
            .map(|r| PySession::new(mgr.clone(), r))
            .collect())
    }

    /// Removes an ended session's record and files, and its git worktree. Raises
    /// SessionActiveError (a SessionNotRunningError) while the session is live, and
    /// InvalidArgumentError (keeping everything) when the worktree holds uncommitted changes
    /// or commits no other branch has, unless `force`.
    #[pyo3(signature = (session_id, force=false))]
    fn remove(&self, py: Python<'_>, session_id: &str, force: bool) -> PyResult<()> {
        let mgr = &self.mgr;
        call(py, || mgr.remove_with(session_id, force))
    }

    /// Up to `limit` events of a session with seq greater than `since`, oldest first, as
    /// dicts: session_id, seq, at, source, kind, data. See `Session.events`.
    #[pyo3(signature = (session_id, since=0, limit=1000))]
    fn events<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        since: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        args::non_negative(since, "since")?;
        let limit = args::page_size(limit, "limit")?;
        let mgr = &self.mgr;
        let events = call(py, || mgr.events(session_id, since, limit))?;
        event_list(py, &events)
    }

    /// One page of a session's conversation. See `Session.history`.
    #[pyo3(signature = (session_id, offset=0, limit=100))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        offset: i64,
        limit: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let offset = args::non_negative(offset, "offset")?;
        let limit = args::page_size(limit, "limit")?;
        let mgr = &self.mgr;
        let page = call(py, || mgr.history(session_id, offset, limit))?;
        ser_to_py(py, &page)
    }

    /// Every task with its sessions and totals, the most recently active first, as dicts:
    /// task_id, session_count, sessions, states, live, first_created_at, last_updated_at,
    /// total_tokens, cost_usd, cpu_time_ms. Sessions without a task come last, under
    /// task_id None.
    fn tasks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let tasks = call(py, || mgr.tasks())?;
        ser_to_py(py, &tasks)
    }

    /// One task as a dict (see `tasks`). Raises TaskNotFoundError (a SessionNotFoundError)
    /// when no session carries `task_id`.
    fn task<'py>(&self, py: Python<'py>, task_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let task = call(py, || mgr.task(task_id))?;
        ser_to_py(py, &task)
    }

    /// A task's budget as a dict: scope, id, budget (usd, tokens, on_budget; None when
    /// unset), spent (usd, tokens, estimated: all of its sessions) and assessment (level
    /// "under", "warning" or "exceeded", share). TaskNotFoundError for a task with neither a
    /// budget nor sessions.
    fn task_budget<'py>(&self, py: Python<'py>, task_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let s = call(py, || mgr.task_budget(task_id))?;
        ser_to_py(py, &s)
    }

    /// Sets a task's budget (all of its sessions, also later ones; may precede the first)
    /// and returns it as `task_budget` does. With neither `usd` nor `tokens`, removes it.
    #[pyo3(signature = (task_id, usd=None, tokens=None, on_budget=None))]
    fn set_task_budget<'py>(
        &self,
        py: Python<'py>,
        task_id: &str,
        usd: Option<f64>,
        tokens: Option<i64>,
        on_budget: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let b = crate::args::budget(usd, tokens, on_budget, "tokens")?;
        let mgr = &self.mgr;
        let s = call(py, || mgr.set_task_budget(task_id, b))?;
        ser_to_py(py, &s)
    }

    /// Removes ended sessions that ended longer than `older_than` ago (seconds, a
    /// `datetime.timedelta`, or text such as "12h" or "7d"), with their folders. `states`
    /// limits it to these ended states (default: stopped, failed and unknown; "suspended"
    /// only when named); a live state raises InvalidArgumentError, and a live session is
    /// never removed. `keep_logs` leaves the output logs on disk; `dry_run` removes nothing.
    /// Returns the report as a dict: dry_run, sessions (session_id, state, ended_at,
    /// bytes), bytes_freed, skipped.
    #[pyo3(signature = (older_than, states=None, *, keep_logs=false, dry_run=false, force=false))]
    fn cleanup<'py>(
        &self,
        py: Python<'py>,
        older_than: &Bound<'py, PyAny>,
        states: Option<&Bound<'py, PyAny>>,
        keep_logs: bool,
        dry_run: bool,
        force: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = CleanupOptions {
            older_than: args::age(older_than, "older_than")?,
            states: args::state_list(states)?,
            keep_logs,
            dry_run,
            force,
        };
        let mgr = &self.mgr;
        let report = call(py, || mgr.cleanup(&opts))?;
        ser_to_py(py, &report)
    }

    /// Takes a snapshot of a session (see the README's "Snapshots"): its record, events,
    /// history, the agent's own conversation file and (unless `workspace=False`) an archive
    /// of its workspace, refused past `max_workspace_bytes` (default 512 MiB). `keep`
    /// snapshots of the session are kept (default 20, 0 for all). Returns it as a dict.
    #[pyo3(signature = (session_id, *, name=None, workspace=true, max_workspace_bytes=None, keep=None))]
    fn snapshot<'py>(
        &self,
        py: Python<'py>,
        session_id: &str,
        name: Option<String>,
        workspace: bool,
        max_workspace_bytes: Option<i64>,
        keep: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = agent_sessions::SnapshotOptions {
            name,
            workspace,
            max_workspace_bytes: max_workspace_bytes
                .map(|n| args::non_negative(n, "max_workspace_bytes"))
                .transpose()?,
            keep: keep
                .map(|n| args::non_negative(n, "keep").map(|n| n as usize))
                .transpose()?,
        };
        let mgr = &self.mgr;
        let snap = call(py, || mgr.snapshot(session_id, &opts))?;
        ser_to_py(py, &snap)
    }

    /// Every snapshot (of one session with `session_id`), oldest first, as dicts.
    #[pyo3(signature = (session_id=None))]
    fn snapshots<'py>(
        &self,
        py: Python<'py>,
        session_id: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let all = call(py, || mgr.snapshots(session_id))?;
        ser_to_py(py, &all)
    }

    /// One snapshot by id or name. Raises SnapshotNotFoundError (a LookupError).
    fn snapshot_info<'py>(&self, py: Python<'py>, snapshot: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let s = call(py, || mgr.snapshot_info(snapshot))?;
        ser_to_py(py, &s)
    }

    /// Removes a snapshot and its files; returns what it was.
    fn remove_snapshot<'py>(&self, py: Python<'py>, snapshot: &str) -> PyResult<Bound<'py, PyAny>> {
        let mgr = &self.mgr;
        let s = call(py, || mgr.remove_snapshot(snapshot))?;
        ser_to_py(py, &s)
    }

    /// Removes snapshots: all but the newest `keep` of each session, and those older than
    /// `older_than` (seconds, a timedelta, or text such as "7d"). `dry_run` removes nothing.
    /// Returns those (that would be) removed.
    #[pyo3(signature = (*, keep=None, older_than=None, session_id=None, dry_run=false))]
    fn prune_snapshots<'py>(
        &self,
        py: Python<'py>,
        keep: Option<i64>,
        older_than: Option<&Bound<'py, PyAny>>,
        session_id: Option<String>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let retention = agent_sessions::Retention {
            keep: keep
                .map(|n| args::non_negative(n, "keep").map(|n| n as usize))
                .transpose()?,
            older_than_secs: older_than
                .map(|v| args::age(v, "older_than").map(|d| d.as_secs()))
                .transpose()?,
            session_id,
            dry_run,
        };
        let mgr = &self.mgr;
        let gone = call(py, || mgr.prune_snapshots(&retention))?;
        ser_to_py(py, &gone)
    }

    /// Starts a new session from a snapshot: the workspace unpacked into `cwd` (new or
    /// empty; default a new folder in the home) and the agent resumed on the copied
    /// conversation where it allows (`restored_from` in the record says whether, and why
    /// not). `env` is passed to the agent and never stored.
    #[pyo3(signature = (snapshot, *, cwd=None, name=None, env=None))]
    fn restore(
        &self,
        py: Python<'_>,
        snapshot: &str,
        cwd: Option<PathBuf>,
        name: Option<String>,
        env: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySession> {
        let opts = agent_sessions::RestoreOptions {
            cwd,
            name,
            env: args::env_pairs(env)?,
        };
        let mgr = &self.mgr;
        let rec = call(py, || mgr.restore(snapshot, &opts))?;
        Ok(PySession::new(mgr.clone(), rec))
    }

    /// Starts watching this home's sessions (see `WatchLease`): while the returned lease is
    /// open, every live host samples each second and writes at once; it returns once they
    /// have answered (at most 2.5 s). Use as a context manager: `with mgr.watch(): ...`.
    fn watch(&self, py: Python<'_>) -> PyResult<PyWatchLease> {
        let mgr = &self.mgr;
        let lease = call(py, || mgr.watch())?;
        Ok(PyWatchLease::new(lease))
    }

    fn __repr__(&self) -> String {
        format!("SessionManager(home={:?})", self.home())
    }
}
