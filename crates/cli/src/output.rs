//! Printing records for people (tables, key/value) and for programs (`--json`).

use agent_sessions::SessionRecord;

/// Prints `v` as one line of JSON.
pub fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).expect("serializes"));
}

/// The record with --json, else its state: what the commands that change or await a
/// state print.
pub fn print_state(json: bool, rec: &SessionRecord) {
    if json {
        println!("{}", rec.to_json());
    } else {
        println!("{}", rec.state);
    }
}

/// One line per session.
pub fn table(records: &[SessionRecord]) -> String {
    // The worktree column only when a session has one: most listings have none.
    let worktrees = records.iter().any(|r| r.worktree.is_some());
    let mut out = format!(
        "{:<30} {:<9} {:<14} {:<12} {:<16} {:<24}",
        "ID", "AGENT", "STATE", "TASK", "NAME", "STARTED"
    );
    if worktrees {
        out.push_str(" WORKTREE");
    }
    out = out.trim_end().to_string() + "\n";
    for r in records {
        let mut line = format!(
            "{:<30} {:<9} {:<14} {:<12} {:<16} {:<24}",
            r.session_id,
            r.agent_type.as_deref().unwrap_or("-"),
            r.state.as_str(),
            r.task_id.as_deref().unwrap_or("-"),
            r.name.as_deref().unwrap_or("-"),
            r.started_at.as_deref().unwrap_or(&r.created_at),
        );
        if worktrees {
            line.push(' ');
            line.push_str(&r.worktree.as_ref().map(worktree).unwrap_or("-".into()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A worktree in a few words: its branch, then what it holds (`3 changed, 2 ahead`).
fn worktree(w: &agent_sessions::worktree::Worktree) -> String {
    match &w.status {
        Some(s) if !s.exists => format!("{} (folder gone)", w.branch),
        Some(s) => format!(
            "{} ({} changed, {} ahead)",
            s.branch.as_deref().unwrap_or(&w.branch),
            s.changed_files,
            s.ahead
        ),
        None => w.branch.clone(),
    }
}

/// A readable view of one record.
pub fn details(r: &SessionRecord) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<17} {v}\n"));
    line("session_id", r.session_id.clone());
    line("agent_type", opt(&r.agent_type));
    line("name", opt(&r.name));
    line("task_id", opt(&r.task_id));
    let reason = r
        .state_reason
        .as_ref()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    line("state", format!("{}{reason}", r.state));
    line("state_source", opt(&r.state_source));
    if let Some(a) = &r.agent_session_id {
        line("agent_session_id", a.clone());
    }
    if let Some(p) = &r.phase {
        line("phase", p.clone());
    }
    if r.state.is_ended() {
        line("resumable", if r.resumable { "yes" } else { "no" }.into());
    }
    line("command", agent_sessions::agents::shell_words(&r.command));
    line("workspace_path", opt(&r.workspace_path));
    if let Some(w) = &r.worktree {
        line("worktree", format!("{} in {}", worktree(w), w.path));
        line("worktree_of", format!("{} at {}", w.repo, short(&w.base)));
        if let Some(why) = w.status.as_ref().and_then(|s| s.keep_reason()) {
            line(
                "worktree_keeps",
                format!("{why} (rm keeps it without --force)"),
            );
        }
    }
    if let Some(t) = &r.template {
        line("template", t.clone());
    }
    if let Some(f) = &r.restored_from {
        let how = match (&f.note, f.resumed) {
            (_, true) => "conversation resumed".to_string(),
            (Some(note), false) => note.clone(),
            (None, false) => "started fresh".to_string(),
        };
        line(
            "restored_from",
            format!("{} (of session {}): {how}", f.snapshot_id, f.session_id),
        );
    }
    line("started_at", opt(&r.started_at));
    line("ended_at", opt(&r.ended_at));
    if let Some(c) = r.exit_code {
        line("exit_code", c.to_string());
    }
    if let Some(s) = r.exit_signal {
        line("exit_signal", s.to_string());
    }
    line(
        "attached",
        format!("{} ({} clients)", r.attached, r.attached_clients),
    );
    line("last_input_at", opt(&r.last_input_at));
    line("last_output_at", opt(&r.last_output_at));
    line("terminal", format!("{}x{}", r.cols, r.rows));
    if let (Some(h), Some(a)) = (r.host_pid, r.agent_pid) {
        line("pids", format!("host {h}, agent {a}"));
    }
    out.push_str("transitions:\n");
    for t in &r.transitions {
        let from = t.from.map(|f| f.as_str()).unwrap_or("-");
        out.push_str(&format!(
            "  {}  {:>13} -> {:<13} {} [{}]\n",
            t.at,
            from,
            t.to.as_str(),
            t.cause,
            t.source
        ));
    }
    out
}

/// A commit id as git shows it short.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
