//! [`SessionManager`]: the synchronous public API every interface (CLI, Python, C) wraps.

use crate::agent_config::{self, AgentDef};
use crate::agents::{self, AgentOrigin, AgentSpec};
use crate::client;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::host::spec::LaunchSpec;
use crate::id;
use crate::launcher;
use crate::protocol::{ScreenReply, SendRequest, StopRequest, Tag};
use crate::record::{SessionKind, SessionRecord};
use crate::state::State;
use crate::store::{self, Column, Guard, ListFilter, NewSession, Store};
use parking_lot::Mutex;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default terminal size: what the real CLIs were captured at.
pub const DEFAULT_COLS: u16 = 120;
pub const DEFAULT_ROWS: u16 = 35;
/// Default output silence before a running session reads as waiting_input.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(2);
/// Default time a stop waits for the agent before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a waiting screen (prompt, dialog) must stay on screen before a session with
/// screen rules reads waiting_input. Busy is reported at once. Long enough to ride over the
/// moments between tool calls when an agent's busy line is briefly gone, short enough that a
/// script waiting for the end of a turn is not kept waiting (ccmanager uses 1.5 s, agentapi
/// 2 s of stability).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(1000);

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
    /// written to the store every 10 s (see [`crate::telemetry`]).
    pub telemetry: Option<crate::telemetry::SamplerConfig>,
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
    pub task_id: Option<String>,
    pub name: Option<String>,
    /// Extra environment. Values reach only the agent; the record keeps the names.
    pub env: Vec<(String, String)>,
    pub cols: Option<u16>,
    pub rows: Option<u16>,
    /// Output silence before waiting_input; zero switches quiet detection off.
    pub idle_after: Option<Duration>,
    /// Output log cap in bytes (default 50 MiB); the log rotates at half of it, keeping one
    /// older part.
    pub max_log_bytes: Option<u64>,
}

/// Opens sessions in one home. Cheap to create; safe to share between threads.
pub struct SessionManager {
    pub(crate) home: Home,
    pub(crate) store: Mutex<Store>,
    host_binary: Mutex<Option<PathBuf>>,
    /// Agent types defined through [`SessionManager::define_agent`].
    api_agents: Mutex<Vec<AgentSpec>>,
}

impl SessionManager {
    /// Opens the home `home` (see [`Home::resolve`] for the default).
    pub fn open(home: Option<&Path>) -> Result<SessionManager> {
        let home = Home::resolve(home)?;
        let store = Store::open(&home)?;
        Ok(SessionManager {
            home,
            store: Mutex::new(store),
            host_binary: Mutex::new(None),
            api_agents: Mutex::new(Vec::new()),
        })
    }

    /// Uses `path` as the session host binary instead of searching for it.
    pub fn set_host_binary(&self, path: impl Into<PathBuf>) {
        *self.host_binary.lock() = Some(path.into());
    }

    /// The sessions home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Runs `f` with the store. Used by modules that keep their own tables.
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        f(&self.store.lock())
    }

    /// Defines (or redefines) an agent type for sessions this manager starts. It is not
    /// saved: for types every process sees, use `agents.toml` in the home (see
    /// [`crate::agent_config`]). A definition made here wins over the file's of the same
    /// name.
    pub fn define_agent(&self, def: &AgentDef) -> Result<()> {
        let spec = def.to_spec(AgentOrigin::Api).map_err(|e| {
            Error::InvalidArgument(format!(
                "agent type '{}': {}: {}",
                def.name, e.field, e.message
            ))
        })?;
        let mut list = self.api_agents.lock();
        list.retain(|a| a.name != spec.name);
        list.push(spec);
        Ok(())
    }

    /// Every agent type: built-in, defined through the API, then from `agents.toml`. A
    /// broken `agents.toml` is an error naming its file, line and field.
    pub fn agents(&self) -> Result<Vec<AgentSpec>> {
        let mut all = agents::builtin();
        all.extend(self.user_agents()?);
        Ok(all)
    }

    fn user_agents(&self) -> Result<Vec<AgentSpec>> {
        let mut user = self.api_agents.lock().clone();
        for a in agent_config::load(&self.home)? {
            if !user.iter().any(|u| u.name == a.name) {
                user.push(a);
            }
        }
        Ok(user)
    }

    /// The agent type `name`. Built-in types never read `agents.toml`, so a mistake there
    /// cannot stop them; any other name does, and a broken file is reported.
    pub fn agent(&self, name: &str) -> Result<AgentSpec> {
        if let Some(a) = agents::find(name, &[]) {
            return Ok(a);
        }
        if let Some(a) = self.api_agents.lock().iter().find(|a| a.name == name) {
            return Ok(a.clone());
        }
        let user = self.user_agents()?;
        agents::find(name, &user).ok_or_else(|| agents::unknown(name, &user))
    }

    /// Starts a session and returns its record once the agent process runs. A binary that
    /// cannot be found is reported as an error and leaves a record in state failed.
    pub fn start(&self, opts: &StartOptions) -> Result<SessionRecord> {
        self.start_with(opts, &DetectOptions::default())
    }

    /// [`SessionManager::start`] with detection settings.
    pub fn start_with(&self, opts: &StartOptions, detect: &DetectOptions) -> Result<SessionRecord> {
        let spec = self.agent(&opts.agent)?;
        let cols = opts.cols.unwrap_or(DEFAULT_COLS);
        let rows = opts.rows.unwrap_or(DEFAULT_ROWS);
        if cols == 0 || rows == 0 {
            return Err(Error::InvalidArgument(
                "--cols and --rows must be at least 1".into(),
            ));
        }
        for (k, _) in &opts.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(Error::InvalidArgument(format!(
                    "invalid environment variable name {k:?}: use --env NAME=VALUE"
                )));
            }
        }
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
        let task_id = match &opts.task_id {
            Some(t) => Some(crate::tasks::validate_task_id(t)?.to_string()),
            // Started from inside another session (a sub-agent, a hook): same task.
            None => crate::tasks::inherited_task(),
        };
        let max_log_bytes = opts
            .max_log_bytes
            .unwrap_or(crate::host::spec::DEFAULT_MAX_LOG_BYTES);
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
        // Claude Code: its own hooks report to the host, and it gets a session id we know.
        let mut args = Vec::new();
        let mut agent_session_id = None;
        if spec.name == "claude" && spec.origin == AgentOrigin::Builtin {
            let hook_bin = if detect.no_agent_hooks {
                None
            } else {
                self.host_binary().ok()
            };
            let (pre, id) = crate::claude_hooks::launch_args(
                &opts.args,
                hook_bin.as_deref().unwrap_or(Path::new("")),
                hook_bin.is_some(),
            );
            args = pre;
            agent_session_id = id;
        }
        if let Some(template) = &spec.session_id_args {
            let id = crate::claude_hooks::new_uuid();
            args.extend(template.iter().map(|a| a.replace("{id}", &id)));
            agent_session_id = Some(id);
        }
        args.extend(opts.args.iter().cloned());
        let argv_result = spec.argv(&args);
        if let Err(Error::InvalidArgument(m)) = &argv_result {
            return Err(Error::InvalidArgument(m.clone()));
        }
        let host_bin = match argv_result.is_ok() {
            true => Some(self.host_binary()?),
            false => None,
        };

        let session_id = id::new_id();
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
        self.store.lock().insert_with(
            &NewSession {
                id: session_id.clone(),
                kind: SessionKind::Hosted,
                agent_type: Some(spec.name.clone()),
                name: opts.name.clone(),
                task_id: task_id.clone(),
                state: State::Starting,
                cause: "start requested".into(),
                phase: None,
                workspace_path: Some(cwd.display().to_string()),
                command: shown_command,
                env_keys,
                cols,
                rows,
                idle_after_secs: idle_after,
            },
            &extra,
        )?;

        let launched = argv_result.and_then(|argv| {
            let launch = LaunchSpec {
                session_id: session_id.clone(),
                argv,
                cwd: cwd.display().to_string(),
                env: opts.env.clone(),
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
                ..LaunchSpec::for_agent(&spec, debounce)
            };
            let bin = host_bin.expect("resolved when argv is");
            launcher::launch(&self.home, &bin, &launch, lock)
        });
        self.record_launch(&session_id, launched)
    }

    /// Records the outcome of a host launch for a session in state starting: running with
    /// the pids, or failed with the reason (which is also returned).
    pub(crate) fn record_launch(
        &self,
        session_id: &str,
        launched: Result<crate::host::spec::ReadyReport>,
    ) -> Result<SessionRecord> {
        let session_id = session_id.to_string();
        match launched {
            Ok(ready) => {
                let (host_pid, agent_pid) =
                    (ready.host_pid.unwrap_or(0), ready.agent_pid.unwrap_or(0));
                // Compare-and-set from starting: if the agent already ended and the host
                // recorded it, that ending stands.
                self.store.lock().transition(
                    &session_id,
                    State::Running,
                    "process spawned",
                    "process",
                    Guard::From(&[State::Starting]),
                    &crate::host::running_updates(&crate::clock::now_iso(), host_pid, agent_pid),
                )?;
                self.get(&session_id)
            }
            Err(e) => {
                // Keep the failed attempt visible with its reason: the host reports failures
                // before the agent runs and leaves recording them to the starter.
                let reason = e.to_string();
                self.store.lock().transition(
                    &session_id,
                    State::Failed,
                    &reason,
                    "process",
                    Guard::NotEnded,
                    &vec![
                        (Column::StateReason, store::text(reason.clone())),
                        (Column::EndedAt, store::text(crate::clock::now_iso())),
                    ],
                )?;
                Err(e)
            }
        }
    }

    pub(crate) fn host_binary(&self) -> Result<PathBuf> {
        if let Some(p) = self.host_binary.lock().clone() {
            return Ok(p);
        }
        launcher::find_host_binary()
    }

    /// A session's record, with its state checked against reality: a live-looking session
    /// whose host is gone reads as unknown.
    pub fn get(&self, session_id: &str) -> Result<SessionRecord> {
        id::validate(session_id)?;
        let rec = self
            .store
            .lock()
            .get(session_id)?
            .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
        let rec = self.checked(rec)?;
        self.with_telemetry(rec)
    }

    /// Adds the stored telemetry summary (a store read; agents' files are not touched).
    fn with_telemetry(&self, rec: SessionRecord) -> Result<SessionRecord> {
        self.with_telemetry_cached(rec, &mut crate::resume::SpecCache::default())
    }

    /// [`Self::with_telemetry`] with agent types looked up once per list.
    fn with_telemetry_cached(
        &self,
        mut rec: SessionRecord,
        specs: &mut crate::resume::SpecCache,
    ) -> Result<SessionRecord> {
        rec.telemetry = Some(crate::telemetry::telemetry_for(&self.store.lock(), &rec)?);
        rec.resumable = self.resume_blocker_cached(&rec, specs).is_none();
        Ok(rec)
    }

    /// Resources and tokens of a session; token figures are re-read from the agent's own
    /// records when older than a few seconds (and final once computed after the end).
    pub fn telemetry(&self, session_id: &str) -> Result<crate::telemetry::Telemetry> {
        let rec = self.get(session_id)?;
        crate::telemetry::session_telemetry(self, &rec, crate::telemetry::USAGE_MAX_AGE)
    }

    /// Tokens and cost of a session, read now from what the agent reports.
    pub fn usage(&self, session_id: &str) -> Result<crate::usage::TokenUsage> {
        let rec = self.get(session_id)?;
        crate::telemetry::session_usage(self, &rec, Duration::ZERO)
    }

    /// Just the (checked) state.
    pub fn state(&self, session_id: &str) -> Result<State> {
        id::validate(session_id)?;
        let state = self
            .store
            .lock()
            .state(session_id)?
            .ok_or_else(|| Error::SessionNotFound(session_id.to_string()))?;
        if state.is_ended() {
            return Ok(state);
        }
        Ok(self.get(session_id)?.state)
    }

    pub(crate) fn checked(&self, rec: SessionRecord) -> Result<SessionRecord> {
        if rec.kind != SessionKind::Hosted
            || rec.state.is_ended()
            || launcher::host_alive(&self.home, &rec.session_id)?
        {
            return Ok(rec);
        }
        let id = rec.session_id.clone();
        let store = self.store.lock();
        // Compare-and-set: if the host recorded an ending meanwhile, that ending wins.
        let written = store.transition(
            &id,
            State::Unknown,
            "session host vanished without recording an ending",
            "liveness",
            Guard::From(&[rec.state]),
            &vec![(Column::StateReason, store::text("host vanished"))],
        );
        let now = store
            .get(&id)?
            .ok_or_else(|| Error::SessionNotFound(id.clone()))?;
        Ok(match written {
            // The correction could not be stored (a full disk, a read-only store): a read
            // must not fail for that, and must not show a dead session as live. (A state
            // that changed meanwhile was written by someone alive: it stands.)
            Err(_) if now.state == rec.state => vanished(now),
            _ => now,
        })
    }

    /// Sessions matching `filter`, newest first, each state checked.
    /// A task id no session carries is an error ([`Error::TaskNotFound`]), so a mistyped id
    /// is not mistaken for a task with no sessions.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<SessionRecord>> {
        if let Some(task) = &filter.task_id {
            crate::tasks::validate_task_id(task)?;
        }
        let recs = self.store.lock().list(filter)?;
        if recs.is_empty() {
            if let Some(task) = &filter.task_id {
                if !self.store.lock().task_exists(task)? {
                    return Err(Error::TaskNotFound(task.clone()));
                }
            }
        }
        let mut out = Vec::with_capacity(recs.len());
        let mut specs = crate::resume::SpecCache::default();
        for rec in recs {
            let rec = self.checked(rec)?;
            // A liveness check may have moved it out of the requested state.
            if filter.state.is_none_or(|s| s == rec.state) {
                out.push(self.with_telemetry_cached(rec, &mut specs)?);
            }
        }
        Ok(out)
    }

    fn live(&self, session_id: &str, action: &'static str) -> Result<SessionRecord> {
        Self::require_live(self.get(session_id)?, action)
    }

    /// `rec` if its agent runs (starting, running or waiting_input), else why `action` is
    /// impossible.
    pub(crate) fn require_live(rec: SessionRecord, action: &'static str) -> Result<SessionRecord> {
        if rec.kind == SessionKind::Record {
            return Err(Error::NoProcess {
                id: rec.session_id,
                action,
            });
        }
        if !matches!(
            rec.state,
            State::Starting | State::Running | State::WaitingInput
        ) {
            return Err(Error::SessionNotRunning {
                id: rec.session_id,
                state: rec.state,
                action,
            });
        }
        Ok(rec)
    }

    pub(crate) fn request(
        &self,
        session_id: &str,
        tag: Tag,
        payload: &[u8],
    ) -> Result<serde_json::Value> {
        let path = self.home.socket_path(session_id)?;
        let reply = client::request(&path, tag, payload, None).map_err(|e| match e {
            Error::Io { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                // The host went away between our check and the request.
                match self.get(session_id) {
                    Ok(rec) => Error::SessionNotRunning {
                        id: rec.session_id,
                        state: rec.state,
                        action: "take this request",
                    },
                    Err(e) => e,
                }
            }
            other => other,
        })?;
        if reply.get("ok").and_then(|v| v.as_bool()) == Some(true) {
            return Ok(reply);
        }
        let state = reply
            .get("state")
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse().ok());
        Err(match state {
            Some(state)
                if matches!(tag, Tag::Input | Tag::Send | Tag::Interrupt)
                    && !matches!(
                        state,
                        State::Running | State::WaitingInput | State::Starting
                    ) =>
            {
                Error::SessionNotRunning {
                    id: session_id.to_string(),
                    state,
                    action: "receive input",
                }
            }
            _ => Error::Host {
                id: session_id.to_string(),
                reason: reply
                    .get("error")
                    .and_then(|e| e.as_str())
                    .unwrap_or("request failed")
                    .to_string(),
            },
        })
    }

    /// Types `text`, then Enter unless `enter` is false.
    pub fn send(&self, session_id: &str, text: &str, enter: bool) -> Result<()> {
        self.live(session_id, "receive input")?;
        let req = serde_json::to_vec(&SendRequest {
            text: text.to_string(),
            enter,
        })
        .expect("send request serializes");
        self.request(session_id, Tag::Send, &req).map(drop)
    }

    /// Sends named keys (`Enter`, `Esc`, `C-c`, ...; see [`crate::keys`]).
    pub fn send_keys<S: AsRef<str>>(&self, session_id: &str, keys: &[S]) -> Result<()> {
        let bytes = crate::keys::keys_bytes(keys)?;
        self.send_bytes(session_id, &bytes)
    }

    /// Sends raw bytes to the agent's terminal.
    pub fn send_bytes(&self, session_id: &str, bytes: &[u8]) -> Result<()> {
        self.live(session_id, "receive input")?;
        self.request(session_id, Tag::Input, bytes).map(drop)
    }

    /// Interrupts the agent's current turn (Esc or Ctrl-C, as many presses as the agent
    /// needs), not the agent. The state follows from the screen (or the agent's hooks).
    pub fn interrupt(&self, session_id: &str) -> Result<()> {
        self.live(session_id, "be interrupted")?;
        self.request(session_id, Tag::Interrupt, b"").map(drop)
    }

    /// Resizes the session's terminal.
    pub fn resize(&self, session_id: &str, cols: u16, rows: u16) -> Result<()> {
        self.live(session_id, "be resized")?;
        let req = serde_json::json!({"cols": cols, "rows": rows}).to_string();
        self.request(session_id, Tag::Resize, req.as_bytes())
            .map(drop)
    }

    /// The screen as a person would see it: live from the host, or the last screen of an
    /// ended session.
    pub fn screen(&self, session_id: &str) -> Result<ScreenReply> {
        let rec = self.get(session_id)?;
        if rec.state.is_live() {
            if let Ok(reply) = self.request(session_id, Tag::Screen, b"") {
                if let Some(screen) = reply.get("screen") {
                    return serde_json::from_value(screen.clone())
                        .map_err(|e| Error::Protocol(e.to_string()));
                }
            }
        }
        let dir = self.home.session_dir(session_id)?;
        if let Ok(text) = std::fs::read_to_string(dir.join("screen.txt")) {
            return Ok(ScreenReply {
                text,
                cols: rec.cols,
                rows: rec.rows,
                cursor_row: 0,
                cursor_col: 0,
            });
        }
        // The host died before saving a screen: rebuild it from the log's tail.
        let (bytes, _) = self.output_tail(session_id, 4 << 20)?;
        Ok(crate::host::render_stream(&bytes, rec.rows, rec.cols))
    }

    /// Path of the session's raw output log.
    pub fn log_path(&self, session_id: &str) -> Result<PathBuf> {
        Ok(self.home.session_dir(session_id)?.join("output.log"))
    }

    /// Reads up to `max` bytes of raw output starting at `offset`; returns the bytes and the
    /// offset to continue from. Offsets count from the session's first output byte (bytes a
    /// full disk kept out of the log take none: see `output_bytes_lost`) and stay valid
    /// across log rotations: an offset in the older part reads from it, and one whose
    /// bytes were rotated away continues at the oldest byte kept.
    pub fn output(&self, session_id: &str, offset: u64, max: usize) -> Result<(Vec<u8>, u64)> {
        self.get(session_id)?; // existence and id validation
        let dir = self.home.session_dir(session_id)?;
        let open = |name: &str| -> Result<Option<std::fs::File>> {
            match std::fs::File::open(dir.join(name)) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(format!("opening {name}"), e)),
            }
        };
        // The base read before and after opening the current part must agree, or a rotation
        // happened in between: then look again.
        let (base, current) = loop {
            let before = crate::host::read_log_base(&dir);
            let current = open(crate::host::LOG_NAME)?;
            if crate::host::read_log_base(&dir) == before {
                break (before, current);
            }
        };
        let read_from = |f: std::fs::File, at: u64, max: u64| -> Result<Vec<u8>> {
            let mut f = f;
            f.seek(SeekFrom::Start(at))
                .map_err(|e| Error::io("seeking in the output log", e))?;
            let mut buf = Vec::new();
            f.take(max)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("reading the output log", e))?;
            Ok(buf)
        };
        if offset < base {
            if let Some(old) = open(crate::host::OLD_LOG_NAME)? {
                let old_len = old.metadata().map_or(0, |m| m.len());
                let old_start = base.saturating_sub(old_len);
                let at = offset.max(old_start);
                let want = (max as u64).min(base - at);
                let buf = read_from(old, at - old_start, want)?;
                let next = at + buf.len() as u64;
                return Ok((buf, next));
            }
        }
        let Some(current) = current else {
            return Ok((Vec::new(), offset.max(base)));
        };
        let at = offset.max(base);
        let buf = read_from(current, at - base, max as u64)?;
        let next = at + buf.len() as u64;
        Ok((buf, next))
    }

    /// Where the session's output ends now (the offset the next byte will have).
    pub fn output_end(&self, session_id: &str) -> Result<u64> {
        let dir = self.home.session_dir(session_id)?;
        let len = std::fs::metadata(dir.join(crate::host::LOG_NAME)).map_or(0, |m| m.len());
        Ok(crate::host::read_log_base(&dir) + len)
    }

    fn output_tail(&self, session_id: &str, max: u64) -> Result<(Vec<u8>, u64)> {
        let end = self.output_end(session_id)?;
        self.output(session_id, end.saturating_sub(max), max as usize)
    }

    /// Waits until the session is in `wanted`. Fails at once when `wanted` can no longer
    /// come (the session ended in another state), and with [`Error::Timeout`] after
    /// `timeout`.
    pub fn wait_for(
        &self,
        session_id: &str,
        wanted: State,
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        self.wait_for_any(session_id, &[wanted], timeout)
    }

    /// Waits until the session is in any of `wanted` (for example running or waiting_input:
    /// "ready"). Fails at once when none of them can come any more, and with
    /// [`Error::Timeout`] after `timeout`. An empty `wanted` is an error.
    pub fn wait_for_any(
        &self,
        session_id: &str,
        wanted: &[State],
        timeout: Option<Duration>,
    ) -> Result<SessionRecord> {
        let Some(&first) = wanted.first() else {
            return Err(Error::InvalidArgument(
                "wait needs at least one state to wait for".into(),
            ));
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let rec = self.get(session_id)?;
            if wanted.contains(&rec.state) {
                return Ok(rec);
            }
            if !wanted.iter().any(|&w| reachable(rec.state, w)) {
                return Err(Error::StateUnreachable {
                    id: rec.session_id,
                    wanted: first,
                    current: rec.state,
                });
            }
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    return Err(Error::Timeout {
                        id: rec.session_id,
                        wanted: first,
                        current: rec.state,
                        secs: t.as_secs_f64(),
                    });
                }
            }
            // The store is shared by processes with no notification channel; poll it, starting
            // fast for short waits and backing off to 20 ms.
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Stops a session: the agent's quit sequence, SIGTERM to its process group, SIGKILL
    /// after `timeout` (at once with `force`). Stopping an ended session succeeds and changes
    /// nothing.
    pub fn stop(
        &self,
        session_id: &str,
        timeout: Option<Duration>,
        force: bool,
    ) -> Result<SessionRecord> {
        let rec = self.get(session_id)?;
        if rec.state.is_ended() {
            return Ok(rec);
        }
        if rec.kind == SessionKind::Record {
            // Nothing runs; ending a record is finalizing it (lifecycle API).
            return Err(Error::NoProcess {
                id: rec.session_id,
                action: "be stopped (finalize the record instead)",
            });
        }
        let req = StopRequest {
            timeout_secs: timeout.unwrap_or(DEFAULT_STOP_TIMEOUT).as_secs_f64(),
            force,
            suspend: false,
        };
        self.store.lock().record_event(
            session_id,
            "user",
            crate::events::kind::STOP,
            &serde_json::json!({"force": force, "timeout_secs": req.timeout_secs}),
        )?;
        let payload = serde_json::to_vec(&req).expect("stop request serializes");
        match self.request(session_id, Tag::Stop, &payload) {
            Ok(_) => {}
            // The host ended between our check and the request; the record tells the truth.
            Err(Error::SessionNotRunning { .. }) => {}
            Err(e) => return Err(e),
        }
        self.get(session_id)
    }

    /// Deletes an ended session's record and files.
    pub fn remove(&self, session_id: &str) -> Result<()> {
        let rec = self.get(session_id)?;
        if !rec.state.is_ended() {
            return Err(Error::SessionActive {
                id: rec.session_id,
                state: rec.state,
            });
        }
        let dir = self.home.session_dir(session_id)?;
        self.store.lock().delete(session_id)?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
        }
    }

    /// Socket path of a session's host, for attach clients.
    pub fn socket_path(&self, session_id: &str) -> Result<PathBuf> {
        self.home.socket_path(session_id)
    }
}

/// `rec` as the liveness check would have stored it: its host is gone, so it reads as
/// unknown.
fn vanished(mut rec: SessionRecord) -> SessionRecord {
    rec.state = State::Unknown;
    rec.state_reason = Some("host vanished".into());
    rec.state_source = Some("liveness".into());
    rec
}

/// Can a session in `current` still reach `wanted` without a new request? (A suspended or
/// ended session changes only through `resume`, which `wait` does not anticipate.)
fn reachable(current: State, wanted: State) -> bool {
    use State::*;
    match current {
        Stopped | Failed | Unknown | Suspended => false,
        Stopping => matches!(wanted, Stopped | Failed | Unknown | Suspended),
        Starting | Running | WaitingInput | Paused => wanted != Starting,
    }
}
