//! Snapshots: taking them, listing, removing and pruning (restoring is in `restore`).
//!
//! A snapshot is a folder `.snapshots/<id>` in the home (a name no session id can take)
//! holding `snapshot.json` (the [`Snapshot`] document), `record.json` (the record with its
//! state history), `events.json`, `history.json` (the conversation messages), the output
//! log, `conversation/<file>` (the agent's own transcript, rollout or chat, copied so it
//! survives the agent's own cleanup) and `workspace.tar.gz`. It is written under a
//! temporary name and renamed into place once complete, and only then gets its row in the
//! store: a failure (a full disk, a workspace over the cap, a killed process) leaves no
//! half snapshot behind, only a `.tmp-*` folder the next snapshot clears.

use super::SessionManager;
use crate::model::error::{Error, Result};
use crate::model::record::SessionRecord;
use crate::model::snapshot::{
    self, Conversation, Retention, Snapshot, SnapshotOptions, WorkspaceArchive,
    DEFAULT_KEEP_PER_SESSION, DEFAULT_MAX_WORKSPACE_BYTES,
};
use crate::services::snapshot as files;
use std::path::{Path, PathBuf};

/// The event a snapshot adds to its session.
pub const SNAPSHOT_EVENT: &str = "snapshot";

/// A `.tmp-*` folder older than this is left over from a snapshot that died.
const STALE_TMP_SECS: u64 = 3600;

impl SessionManager {
    /// The folder all snapshots live in.
    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.home.root().join(".snapshots")
    }

    /// Takes a snapshot of a session (live or ended): its record, events, conversation
    /// history, output log, the agent's own conversation file and (unless
    /// `opts.workspace` is false) an archive of its workspace. Older snapshots of the same
    /// session beyond `opts.keep` are removed afterwards.
    ///
    /// The agent's conversation file is looked for with this process' environment
    /// (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`, `HOME`), as `history` does.
    pub fn snapshot(&self, session_id: &str, opts: &SnapshotOptions) -> Result<Snapshot> {
        let rec = self.get(session_id)?;
        if let Some(name) = &opts.name {
            snapshot::validate_name(name)?;
            if self.store.get()?.snapshot_name_taken(name)? {
                return Err(crate::store::snapshots::name_taken(name));
            }
        }
        let cap = opts
            .max_workspace_bytes
            .unwrap_or(DEFAULT_MAX_WORKSPACE_BYTES);
        // Checked before anything is written: a workspace over the cap or gone is refused
        // at once.
        let listing = match (opts.workspace, &rec.workspace_path) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::InvalidArgument(format!(
                    "session {session_id} has no working folder to archive: pass --no-workspace"
                )))
            }
            (true, Some(ws)) => {
                let dir = PathBuf::from(ws);
                if !dir.is_dir() {
                    return Err(Error::InvalidArgument(format!(
                        "the working folder {ws} of session {session_id} no longer exists: pass --no-workspace to keep the rest"
                    )));
                }
                Some((files::list_workspace(&dir, cap)?, dir))
            }
        };
        let root = self.snapshots_dir();
        crate::config::home::make_private_dir(&root)?;
        clear_stale_tmp(&root);
        let snapshot_id = snapshot::new_snapshot_id();
        let tmp = root.join(format!(".tmp-{snapshot_id}"));
        let written = self.write_snapshot(&rec, &snapshot_id, opts, listing, &tmp, &root);
        let snap = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let dir = root.join(&snapshot_id);
        if let Err(e) = self.store.get()?.insert_snapshot(&snap) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let data = serde_json::json!({"snapshot_id": snap.snapshot_id, "name": snap.name});
        // The snapshot stands even if its event cannot be written (a removed session).
        let _ = self
            .store
            .get()?
            .record_event(session_id, "user", SNAPSHOT_EVENT, &data);
        let keep = opts.keep.unwrap_or(DEFAULT_KEEP_PER_SESSION);
        if keep > 0 {
            self.prune_snapshots(&Retention {
                keep: Some(keep),
                older_than_secs: None,
                session_id: Some(session_id.to_string()),
                dry_run: false,
            })?;
        }
        Ok(snap)
    }

    fn write_snapshot(
        &self,
        rec: &SessionRecord,
        snapshot_id: &str,
        opts: &SnapshotOptions,
        listing: Option<(files::Listing, PathBuf)>,
        tmp: &Path,
        root: &Path,
    ) -> Result<Snapshot> {
        crate::config::home::make_private_dir(tmp)?;
        files::write_json(&tmp.join("record.json"), rec)?;
        let events = self.all_events(&rec.session_id)?;
        files::write_json(&tmp.join("events.json"), &events)?;
        let messages = self.all_messages(&rec.session_id)?;
        files::write_json(&tmp.join("history.json"), &messages)?;
        let session_dir = self.home.session_dir(&rec.session_id)?;
        for log in ["output.log.1", "output.log"] {
            let src = session_dir.join(log);
            if src.is_file() {
                files::copy_file(&src, &tmp.join(log))?;
            }
        }
        let (conversation, conversation_note) = copy_conversation(rec, tmp)?;
        let workspace = match listing {
            None => None,
            Some((listing, dir)) => {
                let (archive_bytes, sha256) =
                    files::write_archive(&dir, &listing, &tmp.join(files::ARCHIVE))?;
                Some(WorkspaceArchive {
                    files: listing.files.len() as u64,
                    bytes: listing.bytes,
                    archive_bytes,
                    sha256,
                    git_head: files::git_head(&dir),
                })
            }
        };
        let dir = root.join(snapshot_id);
        let snap = Snapshot {
            snapshot_id: snapshot_id.to_string(),
            name: opts.name.clone(),
            session_id: rec.session_id.clone(),
            agent_type: rec.agent_type.clone(),
            created_at: crate::model::clock::now_iso(),
            state: rec.state.to_string(),
            workspace_path: rec.workspace_path.clone(),
            workspace,
            conversation,
            conversation_note,
            events: events.len() as u64,
            messages: messages.len() as u64,
            // Everything but this document itself, which is small.
            bytes: files::dir_bytes(tmp),
            path: dir.display().to_string(),
        };
        files::write_json(&tmp.join("snapshot.json"), &snap)?;
        std::fs::rename(tmp, &dir)
            .map_err(|e| Error::io(format!("moving the snapshot into {}", dir.display()), e))?;
        Ok(snap)
    }

    fn all_events(&self, session_id: &str) -> Result<Vec<crate::model::event::Event>> {
        let mut out: Vec<crate::model::event::Event> = Vec::new();
        loop {
            let since = out.last().map(|e| e.seq).unwrap_or(0);
            let page = self.events(session_id, since, 1000)?;
            if page.is_empty() {
                return Ok(out);
            }
            out.extend(page);
        }
    }

    fn all_messages(&self, session_id: &str) -> Result<Vec<crate::model::message::Message>> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.history(session_id, offset, crate::model::message::MAX_PAGE)?;
            out.extend(page.messages);
            match page.next_offset {
                Some(next) if next > offset => offset = next,
                _ => return Ok(out),
            }
        }
    }

    /// Every snapshot, or those of one session, oldest first.
    pub fn snapshots(&self, session_id: Option<&str>) -> Result<Vec<Snapshot>> {
        if let Some(id) = session_id {
            crate::model::id::validate(id)?;
        }
        self.store.get()?.snapshots(session_id)
    }

    /// A snapshot by id or name.
    pub fn snapshot_info(&self, reference: &str) -> Result<Snapshot> {
        snapshot::validate_ref(reference)?;
        self.store
            .get()?
            .snapshot(reference)?
            .ok_or_else(|| Error::SnapshotNotFound(reference.to_string()))
    }

    /// Removes a snapshot (by id or name) and its files.
    pub fn remove_snapshot(&self, reference: &str) -> Result<Snapshot> {
        let snap = self.snapshot_info(reference)?;
        // The row first: a snapshot is never listed without its files.
        self.store.get()?.delete_snapshot(&snap.snapshot_id)?;
        let dir = self.snapshots_dir().join(&snap.snapshot_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(snap),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(snap),
            Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
        }
    }

    /// Removes the snapshots `retention` selects: per session all but the newest `keep`,
    /// and any older than `older_than_secs`. Returns those removed, or with `dry_run` those
    /// that would be, removing nothing.
    pub fn prune_snapshots(&self, retention: &Retention) -> Result<Vec<Snapshot>> {
        let doomed = self.snapshots_to_prune(retention)?;
        if retention.dry_run {
            return Ok(doomed);
        }
        let mut removed = Vec::new();
        for s in doomed {
            removed.push(self.remove_snapshot(&s.snapshot_id)?);
        }
        Ok(removed)
    }

    /// The snapshots `retention` selects.
    fn snapshots_to_prune(&self, retention: &Retention) -> Result<Vec<Snapshot>> {
        if retention.keep.is_none() && retention.older_than_secs.is_none() {
            return Err(Error::InvalidArgument(
                "say what to prune: --keep N (per session) and/or --older-than AGE (e.g. 7d)"
                    .into(),
            ));
        }
        let all = self.snapshots(retention.session_id.as_deref())?;
        let now = chrono::Utc::now();
        let mut doomed: std::collections::HashSet<&str> = Default::default();
        if let Some(secs) = retention.older_than_secs {
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            doomed.extend(
                all.iter()
                    .filter(|s| {
                        crate::model::clock::parse_iso(&s.created_at)
                            .is_some_and(|t| now.signed_duration_since(t).num_seconds() > secs)
                    })
                    .map(|s| s.snapshot_id.as_str()),
            );
        }
        if let Some(keep) = retention.keep {
            let mut by_session: std::collections::HashMap<&str, Vec<&Snapshot>> =
                Default::default();
            for s in &all {
                by_session.entry(&s.session_id).or_default().push(s);
            }
            for list in by_session.values() {
                let extra = list.len().saturating_sub(keep);
                // oldest first
                doomed.extend(list[..extra].iter().map(|s| s.snapshot_id.as_str()));
            }
        }
        let doomed: Vec<&Snapshot> = all
            .iter()
            .filter(|s| doomed.contains(s.snapshot_id.as_str()))
            .collect();
        Ok(doomed.into_iter().cloned().collect())
    }
}

/// Longest a snapshot of a Claude session at its prompt waits for the transcript to hold the
/// last answer (see `copy_conversation`).
const SNAPSHOT_TRANSCRIPT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Copies the agent's own conversation file into `dir/conversation`, or says why none.
fn copy_conversation(
    rec: &SessionRecord,
    dir: &Path,
) -> Result<(Option<Conversation>, Option<String>)> {
    let agent = rec.agent_type.as_deref().unwrap_or("custom");
    if agent == "opencode" {
        return Ok((
            None,
            Some("opencode keeps its conversations in its own database, which a snapshot does not copy".into()),
        ));
    }
    if !matches!(agent, "claude" | "codex" | "gemini") {
        return Ok((
            None,
            Some(format!(
                "agent type '{agent}' has no conversation file agent-sessions knows of"
            )),
        ));
    }
    let env = crate::services::telemetry::UsageEnv::from_env();
    let Some(src) = crate::services::telemetry::record_file(rec, &env) else {
        return Ok((
            None,
            Some(format!(
                "no {agent} conversation file was found (none written yet, or it lives under another HOME or config folder than this process')"
            )),
        ));
    };
    if agent == "claude"
        && rec.state == crate::model::state::State::WaitingInput
        && rec.state_reason.as_deref() == Some("prompt")
    {
        // Claude Code appends a turn's last answer to its transcript after the screen shows
        // it and after its Stop hook (~30 ms, seen with the real CLI): copied at once, the
        // snapshot would keep the question without the answer, and a restore would go on
        // from there. At its prompt the transcript ends in a finished answer, so this wait
        // ends at the first look unless the answer is still being written; a transcript
        // that ends otherwise (a slash command's output) costs the whole second.
        let _ = crate::api::lifecycle::transcript_wait::wait_for_final_message(
            &src,
            SNAPSHOT_TRANSCRIPT_WAIT,
        );
    }
    let file = src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "conversation.jsonl".into());
    let bytes = files::copy_file(&src, &dir.join("conversation").join(&file))?;
    // Codex shows its thread id only when it quits; its rollout names it from the start.
    let agent_session_id = rec
        .agent_session_id
        .clone()
        .or_else(|| (agent == "codex").then(|| codex_thread_id(&src)).flatten());
    Ok((
        Some(Conversation {
            agent: agent.to_string(),
            agent_session_id,
            original_path: src.display().to_string(),
            file,
            bytes,
        }),
        None,
    ))
}

/// The thread id in a Codex rollout's first line (`session_meta`'s `payload.id`).
fn codex_thread_id(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).ok()?;
    let mut first = String::new();
    std::io::BufReader::new(f).read_line(&mut first).ok()?;
    let v: serde_json::Value = serde_json::from_str(&first).ok()?;
    let id = v["payload"]["id"].as_str()?;
    (v["type"] == "session_meta" && !id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// Removes `.tmp-*` folders of snapshots that died more than an hour ago.
fn clear_stale_tmp(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(".tmp-")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > STALE_TMP_SECS);
        if stale {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
