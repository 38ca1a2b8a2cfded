//! `agent-sessions snapshot ...` and `restore`: thin over the core's
//! `SessionManager::snapshot`, `snapshots`, `remove_snapshot`, `prune_snapshots` and
//! `restore` (see `agent_sessions::snapshot`).

use crate::output::{print_json, print_state};
use agent_sessions::{
    duration, Error, RestoreOptions, Result, Retention, SessionManager, Snapshot, SnapshotOptions,
};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `snapshot ID [options]`, or one of its subcommands.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: Option<SnapshotAction>,
    /// The session to snapshot.
    #[arg(required = true)]
    pub id: Option<String>,
    /// A name to find the snapshot by (unique).
    #[arg(long)]
    pub name: Option<String>,
    /// Keep the record, events, history and conversation, but no workspace archive.
    #[arg(long)]
    pub no_workspace: bool,
    /// Refuse a workspace whose files (after .gitignore) are bigger than this, e.g. 2G
    /// [default: 512M].
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Snapshots of this session kept, the oldest beyond go; 0 keeps all [default: 20].
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum SnapshotAction {
    /// List snapshots, oldest first.
    Ls {
        /// Only those of this session.
        #[arg(long, value_name = "ID")]
        session: Option<String>,
    },
    /// Show one snapshot (by id or name).
    Show { snapshot: String },
    /// Remove a snapshot and its files.
    Rm { snapshot: String },
    /// Remove snapshots by count per session and/or by age.
    Prune {
        /// Keep the newest N of each session.
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// Remove those older than this, e.g. 7d or 12h.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Only snapshots of this session.
        #[arg(long, value_name = "ID")]
        session: Option<String>,
        /// Print what would go, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `restore SNAPSHOT [--cwd DIR]`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The snapshot, by id or name.
    pub snapshot: String,
    /// Unpack the workspace here (a new or empty folder) [default: a new folder
    /// `restored/<session id>` in the home].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// A name for the new session [default: the original's].
    #[arg(long)]
    pub name: Option<String>,
    /// Environment for the agent (values are never stored).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
}

pub fn snapshot(mgr: &SessionManager, a: SnapshotArgs, json: bool) -> Result<()> {
    match a.action {
        Some(action) => run(mgr, action, json),
        None => {
            let Some(id) = a.id else {
                return Err(Error::InvalidArgument(
                    "give the session to snapshot: agent-sessions snapshot ID".into(),
                ));
            };
            let opts = SnapshotOptions {
                name: a.name,
                workspace: !a.no_workspace,
                max_workspace_bytes: a
                    .max_size
                    .as_deref()
                    .map(crate::session_cmds::parse_size)
                    .transpose()?,
                keep: a.keep,
            };
            let snap = mgr.snapshot(&id, &opts)?;
            if json {
                print_json(&snap);
            } else {
                println!("{}", snap.snapshot_id);
            }
            Ok(())
        }
    }
}

fn run(mgr: &SessionManager, action: SnapshotAction, json: bool) -> Result<()> {
    match action {
        SnapshotAction::Ls { session } => {
            let all = mgr.snapshots(session.as_deref())?;
            if json {
                print_json(&all);
            } else {
                print!("{}", table(&all));
            }
        }
        SnapshotAction::Show { snapshot } => {
            let s = mgr.snapshot_info(&snapshot)?;
            if json {
                print_json(&s);
            } else {
                print!("{}", details(&s));
            }
        }
        SnapshotAction::Rm { snapshot } => {
            let s = mgr.remove_snapshot(&snapshot)?;
            if json {
                print_json(&s);
            } else {
                println!("removed snapshot {}", s.snapshot_id);
            }
        }
        SnapshotAction::Prune {
            keep,
            older_than,
            session,
            dry_run,
        } => {
            let retention = Retention {
                keep,
                older_than_secs: older_than
                    .as_deref()
                    .map(duration::parse)
                    .transpose()?
                    .map(|d| d.as_secs()),
                session_id: session,
                dry_run,
            };
            let gone = mgr.prune_snapshots(&retention)?;
            if json {
                print_json(&gone);
            } else {
                let verb = if dry_run { "would remove" } else { "removed" };
                for s in &gone {
                    println!("{verb} {}", s.snapshot_id);
                }
                println!("{verb} {} snapshot(s)", gone.len());
            }
        }
    }
    Ok(())
}

pub fn restore(mgr: &SessionManager, a: RestoreArgs, json: bool) -> Result<()> {
    let opts = RestoreOptions {
        cwd: a.cwd,
        name: a.name,
        env: crate::session_cmds::env_pairs(&a.env)?,
    };
    let rec = mgr.restore(&a.snapshot, &opts)?;
    if json {
        print_state(true, &rec);
        return Ok(());
    }
    println!("{}", rec.session_id);
    if let Some(from) = &rec.restored_from {
        match (&from.note, from.resumed) {
            (_, true) => eprintln!("resumed on the snapshot's conversation"),
            (Some(note), false) => eprintln!("{note}"),
            (None, false) => {}
        }
    }
    if let Some(cwd) = &rec.workspace_path {
        eprintln!("in {cwd}");
    }
    Ok(())
}

fn table(all: &[Snapshot]) -> String {
    let mut out = format!(
        "{:<30} {:<16} {:<30} {:<9} {:<24} {:>10}\n",
        "SNAPSHOT", "NAME", "SESSION", "AGENT", "CREATED", "SIZE"
    );
    for s in all {
        out.push_str(&format!(
            "{:<30} {:<16} {:<30} {:<9} {:<24} {:>10}\n",
            s.snapshot_id,
            s.name.as_deref().unwrap_or("-"),
            s.session_id,
            s.agent_type.as_deref().unwrap_or("-"),
            s.created_at,
            agent_sessions::snapshot::human_bytes(s.bytes),
        ));
    }
    out
}

fn details(s: &Snapshot) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<13} {v}\n"));
    line("snapshot", s.snapshot_id.clone());
    line("name", s.name.clone().unwrap_or_else(|| "-".into()));
    line("session", s.session_id.clone());
    line("agent", s.agent_type.clone().unwrap_or_else(|| "-".into()));
    line("created", s.created_at.clone());
    line("state", s.state.clone());
    line(
        "folder",
        s.workspace_path.clone().unwrap_or_else(|| "-".into()),
    );
    let size = agent_sessions::snapshot::human_bytes;
    line(
        "workspace",
        match &s.workspace {
            Some(w) => format!(
                "{} files, {} ({} archived){}",
                w.files,
                size(w.bytes),
                size(w.archive_bytes),
                w.git_head
                    .as_deref()
                    .map(|h| format!(", at commit {}", &h[..h.len().min(12)]))
                    .unwrap_or_default()
            ),
            None => "not kept (--no-workspace)".into(),
        },
    );
    line(
        "conversation",
        match (&s.conversation, &s.conversation_note) {
            (Some(c), _) => format!("{} ({}), from {}", c.file, size(c.bytes), c.original_path),
            (None, Some(note)) => format!("none: {note}"),
            (None, None) => "none".into(),
        },
    );
    line("events", s.events.to_string());
    line("messages", s.messages.to_string());
    line("size", size(s.bytes));
    line("path", s.path.clone());
    out
}
