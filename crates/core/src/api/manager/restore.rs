//! Restoring a snapshot: a new session, linked to its origin, in the unpacked workspace,
//! with the agent resumed on the copied conversation where the agent allows it.
//!
//! Per agent:
//! * Claude Code finds a conversation by project folder and id: the copy becomes a new
//!   conversation (a new id in its lines, as Claude's own `--fork-session` does) under the
//!   restored folder's project (`<config>/projects/<slug>/<new id>.jsonl`), and the agent is
//!   started with `--resume <new id>`. So the restore goes on from the snapshot's point even
//!   if the original conversation went on since, and never touches the original.
//! * Codex finds a rollout by thread id anywhere under `$CODEX_HOME/sessions`: the copy is put
//!   back when Codex's own is gone, and the agent started with `resume <id>`. When Codex's
//!   own rollout of the thread went on past the snapshot, a resume would continue from there,
//!   not from the snapshot, so it starts fresh and says so.
//! * Gemini CLI keeps chats per project folder: it is resumed only when restored into its
//!   original folder (a `--no-workspace` snapshot), else started fresh, saying why.
//! * opencode keeps conversations in its database, which a snapshot does not copy: started
//!   fresh. A user-defined agent with a `resume` command is resumed on its own records.
//!
//! The agents' folders are those of this process' environment, or of the `env` given to the
//! restore (`HOME`, `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`), which the agent
//! then runs with.

use super::start::{DetectOptions, Origin, StartOptions};
use super::SessionManager;
use crate::config::agents::{AgentOrigin, AgentSpec};
use crate::model::error::{Error, Result};
use crate::model::record::{SessionKind, SessionRecord};
use crate::model::snapshot::{RestoreOptions, RestoredFrom, Snapshot};
use crate::services::snapshot as files;
use crate::services::telemetry::UsageEnv;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The event a restored session starts with.
pub const RESTORED_EVENT: &str = "restored";

impl SessionManager {
    /// Starts a new session from a snapshot (by id or name); see the module docs. The
    /// workspace is unpacked into `opts.cwd` (new or empty) or a new folder in the home;
    /// nothing is left behind when the archive is damaged or the start fails.
    pub fn restore(&self, reference: &str, opts: &RestoreOptions) -> Result<SessionRecord> {
        let snap = self.snapshot_info(reference)?;
        let dir = self.snapshots_dir().join(&snap.snapshot_id);
        let rec: SessionRecord = read_json(&dir.join("record.json"), &snap)?;
        if rec.kind == SessionKind::Record {
            return Err(Error::InvalidArgument(format!(
                "snapshot {} is of a lifecycle record, which has no agent to start",
                snap.snapshot_id
            )));
        }
        let spec = self.agent(rec.agent_type.as_deref().unwrap_or("custom"))?;
        super::start::check_env_names(&opts.env)?;
        let session_id = crate::model::id::new_id();
        let (cwd, made) = self.restore_folder(&snap, &dir, opts, &session_id)?;
        let undo = |made: &Option<Made>| {
            if let Some(m) = made {
                m.undo();
            }
        };
        let env = UsageEnv::from_env_with(&opts.env);
        let plan = match plan(&snap, &rec, &spec, &dir, &cwd, &env) {
            Ok(p) => p,
            Err(e) => {
                undo(&made);
                return Err(e);
            }
        };
        let start = StartOptions {
            agent: spec.name.clone(),
            args: plan.args,
            cwd: Some(cwd),
            task_id: rec.task_id.clone(),
            name: opts.name.clone().or_else(|| rec.name.clone()),
            env: opts.env.clone(),
            cols: Some(rec.cols),
            rows: Some(rec.rows),
            idle_after: Some(Duration::from_secs_f64(rec.idle_after_secs.max(0.0))),
            max_log_bytes: rec.max_log_bytes,
            policy: rec.policy.clone(),
            budget: rec.budget,
            worktree: None,
        };
        let from = RestoredFrom {
            snapshot_id: snap.snapshot_id.clone(),
            session_id: snap.session_id.clone(),
            resumed: plan.agent_session_id.is_some(),
            note: plan.note,
        };
        let origin = Origin {
            session_id: Some(session_id.clone()),
            restored_from: Some(from.clone()),
            agent_session_id: plan.agent_session_id,
            // The template's hooks keep applying to what came from it.
            template: rec.template.clone(),
        };
        let started = self.start_in(&start, &DetectOptions::default(), None, &origin);
        let rec = match started {
            Ok(r) => r,
            Err(e) => {
                undo(&made);
                return Err(e);
            }
        };
        let data = serde_json::to_value(&from).expect("an origin serializes");
        let _ = self
            .store
            .get()?
            .record_event(&rec.session_id, "user", RESTORED_EVENT, &data);
        Ok(rec)
    }

    /// The folder the restored session starts in, with the workspace unpacked there.
    fn restore_folder(
        &self,
        snap: &Snapshot,
        dir: &Path,
        opts: &RestoreOptions,
        session_id: &str,
    ) -> Result<(PathBuf, Option<Made>)> {
        let Some(ws) = &snap.workspace else {
            let cwd = match (&opts.cwd, &snap.workspace_path) {
                (Some(c), _) => c.clone(),
                (None, Some(p)) => PathBuf::from(p),
                (None, None) => {
                    return Err(Error::InvalidArgument(
                        "the snapshot has no workspace and no folder: pass --cwd DIR".into(),
                    ))
                }
            };
            if !cwd.is_dir() {
                return Err(Error::InvalidArgument(format!(
                    "{} is not a folder; the snapshot has no workspace to unpack, so pass --cwd with an existing folder",
                    cwd.display()
                )));
            }
            return Ok((cwd, None));
        };
        let target = match &opts.cwd {
            Some(c) => c.clone(),
            None => self.home.root().join("restored").join(session_id),
        };
        let made = Made::prepare(&target)?;
        if let Err(e) = files::unpack_archive(&dir.join(files::ARCHIVE), &ws.sha256, &target) {
            made.undo();
            return Err(e);
        }
        let cwd = std::fs::canonicalize(&target)
            .map_err(|e| Error::io(format!("reading {}", target.display()), e))?;
        Ok((cwd, Some(made)))
    }
}

/// A restore folder and whether this restore created it (else it was empty before).
struct Made {
    dir: PathBuf,
    created: bool,
}

impl Made {
    /// Creates `dir`, or accepts it when it is an empty folder.
    fn prepare(dir: &Path) -> Result<Made> {
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::InvalidArgument(format!(
                        "{} is not empty: restore into a new or empty folder (--cwd DIR)",
                        dir.display()
                    )));
                }
                Ok(Made {
                    dir: dir.to_path_buf(),
                    created: false,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::config::home::make_private_dir(dir)?;
                Ok(Made {
                    dir: dir.to_path_buf(),
                    created: true,
                })
            }
            Err(e) => Err(Error::io(format!("opening {}", dir.display()), e)),
        }
    }

    /// Leaves the folder as it was: removed if made here, else emptied.
    fn undo(&self) {
        if self.created {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let p = e.path();
                let _ = match e.file_type() {
                    Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
                    _ => std::fs::remove_file(&p),
                };
            }
        }
    }
}

/// How the agent starts: its arguments, the conversation's id when resumed, or why not.
struct Plan {
    args: Vec<String>,
    agent_session_id: Option<String>,
    note: Option<String>,
}

fn plan(
    snap: &Snapshot,
    rec: &SessionRecord,
    spec: &AgentSpec,
    dir: &Path,
    cwd: &Path,
    env: &UsageEnv,
) -> Result<Plan> {
    let fresh = |note: String| {
        let args = match spec.name.as_str() {
            "claude" if spec.origin == AgentOrigin::Builtin => {
                super::resume::strip_claude_session_flags(&rec.agent_args)
            }
            _ => rec.agent_args.clone(),
        };
        Ok(Plan {
            args,
            agent_session_id: None,
            note: Some(note),
        })
    };
    let Some(template) = spec.resume.clone() else {
        return fresh(format!(
            "agent type '{}' has no resume command; started fresh in the restored folder",
            spec.name
        ));
    };
    let asid = snap
        .conversation
        .as_ref()
        .and_then(|c| c.agent_session_id.clone())
        .or_else(|| rec.agent_session_id.clone());
    let Some(asid) = asid.filter(|a| !a.is_empty() && !a.contains('/')) else {
        return fresh("the agent never showed its own session id; started fresh".into());
    };
    let builtin = spec.origin == AgentOrigin::Builtin;
    let conv = snap.conversation.as_ref();
    let copy = |c: &crate::model::snapshot::Conversation| dir.join("conversation").join(&c.file);
    match (spec.name.as_str(), builtin, conv) {
        ("claude", true, Some(c)) => {
            let fork = crate::services::agent_hooks::new_uuid();
            let at = crate::services::usage::claude_transcript_path(
                env.claude_config_dir.as_deref(),
                &env.user_home,
                cwd,
                &fork,
            );
            files::copy_with_session_id(&copy(c), &at, &asid, &fork)?;
            let args = super::resume::resume_args(spec, &template, &fork, &rec.agent_args);
            return Ok(Plan {
                args,
                agent_session_id: Some(fork),
                note: None,
            });
        }
        ("codex", true, Some(c)) => {
            let home = env.codex_home();
            let found = crate::services::usage::find_codex_rollout(
                &home,
                Some(&asid),
                cwd,
                std::time::UNIX_EPOCH,
            );
            if let Some(own) = &found {
                if went_on(own, &copy(c)) {
                    return fresh("Codex's own record of this thread went on after the snapshot, and Codex resumes a thread only as it has it; started fresh in the restored folder".into());
                }
            } else {
                let original = PathBuf::from(&c.original_path);
                let at = match original.strip_prefix(&home) {
                    Ok(rel) if rel.starts_with("sessions") => home.join(rel),
                    _ => home
                        .join("sessions")
                        .join(chrono::Utc::now().format("%Y/%m/%d").to_string())
                        .join(&c.file),
                };
                files::copy_file(&copy(c), &at)?;
            }
        }
        ("gemini", true, Some(c)) => {
            let original = snap.workspace_path.as_deref().map(PathBuf::from);
            let same = original
                .and_then(|o| std::fs::canonicalize(o).ok())
                .is_some_and(|o| o == cwd);
            if !same {
                return fresh("Gemini CLI finds a chat only under its original project folder; started fresh in the restored folder".into());
            }
            let at = PathBuf::from(&c.original_path);
            if !at.exists() {
                files::copy_file(&copy(c), &at)?;
            }
        }
        ("claude" | "codex" | "gemini", true, None) => {
            let why = snap
                .conversation_note
                .clone()
                .unwrap_or_else(|| "no conversation was copied".into());
            return fresh(format!("{why}; started fresh"));
        }
        ("opencode", true, _) => {
            return fresh("opencode keeps its conversations in its own database, which a snapshot does not copy; started fresh".into());
        }
        // A user-defined agent: resumed on its own records, which it keeps itself.
        _ => {}
    }
    let args = super::resume::resume_args(spec, &template, &asid, &rec.agent_args);
    Ok(Plan {
        args,
        agent_session_id: Some(asid),
        note: None,
    })
}

/// Whether Codex's own rollout `own` holds turns past the snapshot's `copy`: it does not
/// begin with the copy, or what follows holds a user message (trailing records Codex writes
/// as it shuts down are no new turn).
fn went_on(own: &Path, copy: &Path) -> bool {
    let (Ok(o), Ok(c)) = (std::fs::read(own), std::fs::read(copy)) else {
        return true;
    };
    let Some(extra) = o.strip_prefix(c.as_slice()) else {
        return true;
    };
    String::from_utf8_lossy(extra).lines().any(|line| {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return false;
        };
        let p = &v["payload"];
        (v["type"] == "response_item" && p["role"] == "user")
            || (v["type"] == "event_msg" && p["type"] == "user_message")
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, snap: &Snapshot) -> Result<T> {
    let damaged = |why: String| {
        Error::InvalidArgument(format!(
            "snapshot {} is damaged: {} {why}; remove it with `agent-sessions snapshot rm {}`",
            snap.snapshot_id,
            path.display(),
            snap.snapshot_id
        ))
    };
    let text = std::fs::read(path).map_err(|e| damaged(format!("cannot be read ({e})")))?;
    serde_json::from_slice(&text).map_err(|e| damaged(format!("does not parse ({e})")))
}
