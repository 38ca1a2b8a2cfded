//! Commands for traceable, resumable sessions: pause, continue, suspend, resume, history,
//! events, tasks and cleanup. Thin: parse, call the core, print.

use crate::output::{print_json, print_state};
use agent_sessions::duration;
use agent_sessions::events::Followed;
use agent_sessions::{
    CleanupOptions, Error, Result, ResumeOptions, SessionManager, State, TaskSummary,
};
use std::io::Write;
use std::time::Duration;

pub fn pause(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    print_state(json, &mgr.pause(id)?);
    Ok(())
}

pub fn continue_session(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    print_state(json, &mgr.continue_session(id)?);
    Ok(())
}

pub fn suspend(mgr: &SessionManager, id: &str, timeout: Duration, json: bool) -> Result<()> {
    print_state(json, &mgr.suspend(id, Some(timeout))?);
    Ok(())
}

/// `resume`: returns once the agent runs; with `wait`, once it is at its prompt (see
/// [`SessionManager::resume_and_wait`]).
pub fn resume(
    mgr: &SessionManager,
    id: &str,
    opts: &ResumeOptions,
    wait: Option<Option<Duration>>,
    json: bool,
) -> Result<()> {
    let rec = match wait {
        Some(timeout) => mgr.resume_and_wait(id, opts, timeout)?,
        None => mgr.resume(id, opts)?,
    };
    print_state(json, &rec);
    Ok(())
}

/// `history`: one page, or every page with `all` (read page by page, never whole).
pub fn history(
    mgr: &SessionManager,
    id: &str,
    offset: u64,
    limit: usize,
    all: bool,
    json: bool,
) -> Result<()> {
    if limit == 0 {
        return Err(Error::InvalidArgument("--limit must be at least 1".into()));
    }
    let mut offset = offset;
    // With --all, big pages: a transcript is re-read from its start for each page.
    let limit = if all {
        limit.max(agent_sessions::history::MAX_PAGE)
    } else {
        limit
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    loop {
        let page = mgr.history(id, offset, limit)?;
        let ok = if json {
            writeln!(out, "{}", page.to_json())
        } else {
            let mut r = Ok(());
            if offset == page.offset && page.messages.is_empty() && page.offset == 0 {
                r = writeln!(out, "(no messages yet; source: {})", page.source);
            }
            for m in &page.messages {
                r = r.and_then(|_| {
                    writeln!(
                        out,
                        "[{}] {} {}\n{}\n",
                        m.index,
                        m.role,
                        m.at.as_deref().unwrap_or(""),
                        m.text
                    )
                });
            }
            if !all {
                if let Some(next) = page.next_offset {
                    r = r.and_then(|_| {
                        writeln!(out, "(more: agent-sessions history {id} --offset {next})")
                    });
                }
            }
            r
        };
        if ok.is_err() {
            return Ok(()); // reader went away
        }
        match page.next_offset {
            Some(next) if all => offset = next,
            _ => return Ok(()),
        }
    }
}

fn event_line(e: &agent_sessions::Event) -> String {
    let d = &e.data;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
    let detail = match e.kind.as_str() {
        "state" => format!("{} -> {}  {}", s("from"), s("to"), s("cause")),
        "phase" => format!("{} -> {}", s("from"), s("to")),
        "input" => match d.get("keys") {
            Some(k) => format!("keys {k}"),
            None => format!(
                "{}{}",
                serde_json::to_string(&s("text")).unwrap_or_default(),
                if d.get("enter").and_then(|v| v.as_bool()) == Some(true) {
                    " + Enter"
                } else {
                    ""
                }
            ),
        },
        _ => d.to_string(),
    };
    format!(
        "{:>6}  {}  {:<11} {:<8} {}",
        e.seq, e.at, e.source, e.kind, detail
    )
}

/// `events`: the events after `since`; with `follow`, new ones as they come, until the
/// session ends. `--json` prints one JSON object per line.
pub fn events(
    mgr: &SessionManager,
    id: &str,
    since: i64,
    follow: bool,
    limit: Option<usize>,
    json: bool,
) -> Result<()> {
    let mut cursor = mgr.event_cursor(id, since)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let print = |out: &mut std::io::StdoutLock<'_>, batch: &[agent_sessions::Event]| {
        for e in batch {
            let line = if json { e.to_json() } else { event_line(e) };
            writeln!(out, "{line}")?;
        }
        out.flush()
    };
    if let Some(limit) = limit {
        let _ = print(&mut out, &mgr.events(id, since, limit)?);
        return Ok(());
    }
    if !follow {
        loop {
            let batch = cursor.next_batch(mgr, 1000, None)?;
            if batch.is_empty() || print(&mut out, &batch).is_err() {
                return Ok(());
            }
        }
    }
    loop {
        match cursor.follow(mgr, 1000, Duration::from_millis(500))? {
            Followed::Events(batch) => {
                if print(&mut out, &batch).is_err() {
                    return Ok(()); // reader went away
                }
            }
            Followed::Quiet => {}
            Followed::Ended => return Ok(()),
        }
    }
}

fn money(v: Option<f64>) -> String {
    v.map_or("-".into(), |c| format!("${c:.4}"))
}

fn task_line(t: &TaskSummary) -> String {
    let states: Vec<String> = t.states.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!(
        "{:<24} {:>8} {:>5}  {:<34} {:>10} {:>10}  {}\n",
        t.task_id.as_deref().unwrap_or("(no task)"),
        t.session_count,
        t.live,
        states.join(","),
        t.total_tokens.map_or("-".into(), |v| v.to_string()),
        money(t.cost_usd),
        t.last_updated_at
    )
}

/// `tasks [TASK]`: every task with its totals, or one task with its sessions.
pub fn tasks(mgr: &SessionManager, task: Option<&str>, json: bool) -> Result<()> {
    let header = format!(
        "{:<24} {:>8} {:>5}  {:<34} {:>10} {:>10}  {}\n",
        "TASK", "SESSIONS", "LIVE", "STATES", "TOKENS", "COST", "LAST ACTIVITY"
    );
    match task {
        Some(t) => {
            let t = mgr.task(t)?;
            if json {
                println!("{}", t.to_json());
                return Ok(());
            }
            print!("{header}{}", task_line(&t));
            println!("sessions:");
            for s in &t.sessions {
                println!(
                    "  {:<30} {:<9} {:<14} {:<12} {}",
                    s.session_id,
                    s.agent_type.as_deref().unwrap_or("-"),
                    s.state.as_str(),
                    s.phase.as_deref().unwrap_or("-"),
                    s.created_at
                );
            }
        }
        None => {
            let all = mgr.tasks()?;
            if json {
                print_json(&all);
            } else {
                print!("{header}");
                for t in &all {
                    print!("{}", task_line(t));
                }
            }
        }
    }
    Ok(())
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// `cleanup`: removes old ended sessions and reports what was freed.
pub fn cleanup(
    mgr: &SessionManager,
    older_than: &str,
    states: &[String],
    (keep_logs, dry_run, force): (bool, bool, bool),
    json: bool,
) -> Result<()> {
    let opts = CleanupOptions {
        older_than: duration::parse(older_than)?,
        states: states
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().parse())
            .collect::<Result<Vec<State>>>()?,
        keep_logs,
        dry_run,
        force,
    };
    let report = mgr.cleanup(&opts)?;
    if json {
        println!("{}", report.to_json());
        return Ok(());
    }
    for s in &report.sessions {
        println!(
            "{} {:<30} {:<9} ended {:<24} {}",
            if dry_run { "would remove" } else { "removed" },
            s.session_id,
            s.state.as_str(),
            s.ended_at.as_deref().unwrap_or("-"),
            human_bytes(s.bytes)
        );
    }
    for k in &report.kept {
        println!("kept {}: {}", k.session_id, k.reason);
    }
    println!(
        "{} {} session(s), {} freed{}{}",
        if dry_run { "would remove" } else { "removed" },
        report.sessions.len(),
        human_bytes(report.bytes_freed),
        if keep_logs { " (output logs kept)" } else { "" },
        if report.skipped > 0 {
            format!("; {} changed state meanwhile and were kept", report.skipped)
        } else {
            String::new()
        }
    );
    Ok(())
}
