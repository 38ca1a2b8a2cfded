//! Commands on one session's process and terminal: start, attach, logs, screen, send,
//! interrupt, stop, state, ls, show, wait and rm. Thin: parse, call the core, print.

use crate::cli::StartArgs;
use crate::output::{self, print_json, print_state};
use crate::telemetry_cmds;
use agent_sessions::attach::{self, AttachEnd, AttachOptions};
use agent_sessions::duration::optional_secs;
use agent_sessions::manager::{OutputCursor, OutputFollowed};
use agent_sessions::{
    DetectOptions, Error, ListFilter, Result, SessionKind, SessionManager, StartOptions, State,
};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Bytes `logs` reads at a time.
const LOG_CHUNK: usize = 1 << 20;

/// `start`: prints the new session's id (or record with --json) once the agent runs.
pub fn start(mgr: &SessionManager, a: StartArgs, json: bool) -> Result<()> {
    let detect = DetectOptions {
        debounce: optional_secs(a.launch.debounce, "--debounce")?,
        no_agent_hooks: a.launch.no_hooks,
        telemetry: telemetry_config(a.sample_interval, a.workspace_interval)?,
    };
    let opts = StartOptions {
        worktree: a.launch.worktree_request(),
        env: env_pairs(&a.env)?,
        idle_after: optional_secs(a.launch.idle_after, "--idle-after")?,
        max_log_bytes: a
            .launch
            .max_log_size
            .as_deref()
            .map(parse_size)
            .transpose()?,
        agent: a.agent.unwrap_or_default(),
        args: a.args,
        cwd: a.launch.cwd,
        task_id: a.task,
        name: a.name,
        cols: a.launch.cols,
        rows: a.launch.rows,
        policy: a
            .launch
            .policy
            .as_deref()
            .map(agent_sessions::policy::load)
            .transpose()?,
        budget: agent_sessions::Budget::from_options(
            a.launch.budget_usd,
            a.launch.budget_tokens,
            a.launch.on_budget.as_deref(),
        )?,
    };
    let rec = match &a.template {
        Some(spec) => mgr.start_template(spec, opts, detect)?,
        None => mgr.start_with(&opts, &detect)?,
    };
    if json {
        println!("{}", rec.to_json());
    } else {
        println!("{}", rec.session_id);
    }
    Ok(())
}

/// Sampler settings from `start --sample-interval/--workspace-interval` (0 = default).
fn telemetry_config(
    sample: Option<f64>,
    workspace: Option<f64>,
) -> Result<Option<agent_sessions::telemetry::SamplerConfig>> {
    if sample.is_none() && workspace.is_none() {
        return Ok(None);
    }
    let ms = |s: Option<f64>, what| -> Result<u64> {
        Ok(optional_secs(s, what)?.map_or(0, |d| d.as_millis() as u64))
    };
    let sample_ms = ms(sample, "--sample-interval")?;
    // Short sampling intervals are for watching closely: write them out sooner too.
    let flush_ms = if sample_ms > 0 {
        (sample_ms * 5).min(10_000)
    } else {
        0
    };
    Ok(Some(agent_sessions::telemetry::SamplerConfig::from_millis(
        sample_ms,
        ms(workspace, "--workspace-interval")?,
        flush_ms,
    )))
}

/// `--env K=V` pairs.
pub fn env_pairs(env: &[String]) -> Result<Vec<(String, String)>> {
    env.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(Error::InvalidArgument(format!(
                "--env {kv:?}: use --env NAME=VALUE"
            ))),
        })
        .collect()
}

/// `50M`, `1G`, `512K`, or bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "invalid size {text:?}: use bytes or a number with K, M or G, e.g. 50M"
            ))
        })
}

/// `attach`: the live terminal until detached, ended or lost. Exits 128 + the signal's
/// number when a signal ended it.
pub fn attach(
    mgr: &SessionManager,
    id: String,
    read_only: bool,
    detach_key: &str,
) -> Result<ExitCode> {
    let rec = mgr.get(&id)?;
    if !rec.state.is_live() {
        return Err(Error::SessionNotRunning {
            id,
            state: rec.state,
            action: "be attached to",
        });
    }
    let opts = AttachOptions {
        read_only,
        detach_key: attach::parse_detach_key(detach_key)?,
    };
    match attach::attach_terminal(&mgr.socket_path(&id)?, &opts)? {
        AttachEnd::Detached => eprintln!("[detached from {id}; it keeps running]"),
        AttachEnd::Ended(s) => eprintln!("[session {id} ended: {s}]"),
        AttachEnd::Lost => eprintln!("[connection to {id} lost; state: {}]", mgr.state(&id)?),
        AttachEnd::Signal(sig) => {
            // Not eprintln: after SIGHUP the terminal may be gone, and a failed write must
            // not turn into a panic.
            let name = signal_name(sig);
            let _ = writeln!(
                std::io::stderr(),
                "[attach ended by {name}; session {id} keeps running]"
            );
            return Ok(ExitCode::from(128u8.saturating_add(sig as u8)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `SIGTERM` for 15; the number for a signal nix does not know.
fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

/// `logs`: the output from the start; with `follow`, new output until the session ends.
/// The core's [`OutputCursor`] does the reading, so rotations are handled as in Python's
/// `stream()` and the C ABI's follow.
pub fn logs(mgr: &SessionManager, id: &str, follow: bool, plain: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut sink: Box<dyn Write> = if plain {
        // Keeps escape-parser state across chunks, so a sequence split between reads is
        // still removed.
        Box::new(strip_ansi_escapes::Writer::new(stdout.lock()))
    } else {
        Box::new(stdout.lock())
    };
    // Without --follow, what is there now: a quiet read ends it. With it, any wait will do,
    // the loop asks again after a quiet minute.
    let wait = if follow {
        Duration::from_secs(60)
    } else {
        Duration::ZERO
    };
    let mut cursor = OutputCursor::new(id, 0);
    loop {
        match cursor.follow(mgr, LOG_CHUNK, wait)? {
            OutputFollowed::Bytes { data, .. } => {
                if sink.write_all(&data).and_then(|_| sink.flush()).is_err() {
                    return Ok(()); // reader went away (e.g. `| head`)
                }
            }
            OutputFollowed::Quiet if follow => {}
            OutputFollowed::Quiet | OutputFollowed::Ended => break,
        }
    }
    let _ = sink.flush();
    Ok(())
}

pub fn screen(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let s = mgr.screen(id)?;
    if json {
        print_json(&s);
    } else {
        println!("{}", s.text);
    }
    Ok(())
}

pub fn send(
    mgr: &SessionManager,
    id: &str,
    text: &[String],
    enter: bool,
    keys: bool,
    json: bool,
) -> Result<()> {
    if keys {
        mgr.send_keys(id, text)?;
    } else {
        mgr.send(id, &text.join(" "), enter)?;
    }
    if json {
        print_json(&serde_json::json!({"ok": true, "session_id": id}));
    }
    Ok(())
}

pub fn interrupt(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    mgr.interrupt(id)?;
    if json {
        print_json(&serde_json::json!({"ok": true, "session_id": id}));
    }
    Ok(())
}

/// `stop`: one session as before (its state, or its record with --json); several, or
/// `--all` live ones, in parallel: a line `ID STATE` each (a JSON list of records with
/// --json), and a line on stderr for each that could not be stopped (the exit status is
/// the first such error's).
pub fn stop(
    mgr: &SessionManager,
    ids: Vec<String>,
    all: bool,
    timeout: Duration,
    force: bool,
    json: bool,
) -> Result<ExitCode> {
    if let ([id], false) = (ids.as_slice(), all) {
        print_state(json, &mgr.stop(id, Some(timeout), force)?);
        return Ok(ExitCode::SUCCESS);
    }
    let ids = if all {
        mgr.list(&ListFilter::default())?
            .into_iter()
            .filter(|r| !r.state.is_ended() && r.kind == SessionKind::Hosted)
            .map(|r| r.session_id)
            .collect()
    } else {
        ids
    };
    let outcomes = mgr.stop_many(&ids, Some(timeout), force)?;
    let mut stopped = Vec::new();
    let mut first_error = None;
    let mut out = std::io::stdout().lock();
    for (id, outcome) in ids.iter().zip(outcomes) {
        match outcome {
            Ok(rec) if json => stopped.push(rec),
            Ok(rec) => {
                let _ = writeln!(out, "{id} {}", rec.state);
            }
            Err(e) => {
                eprintln!("agent-sessions: {id}: {e}");
                first_error.get_or_insert(crate::exit_code(&e));
            }
        }
    }
    drop(out);
    if json {
        print_json(&stopped);
    }
    Ok(first_error.map_or(ExitCode::SUCCESS, ExitCode::from))
}

pub fn state(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let rec = mgr.get(id)?;
    if json {
        print_json(&serde_json::json!({
            "session_id": rec.session_id,
            "state": rec.state,
            "state_reason": rec.state_reason,
            "state_source": rec.state_source,
        }));
    } else {
        println!("{}", rec.state);
    }
    Ok(())
}

/// `pending`: the request a waiting session waits on.
pub fn pending(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let rec = mgr.get(id)?;
    if json {
        print_json(&serde_json::to_value(&rec.pending).expect("a request serializes"));
        return Ok(());
    }
    let Some(p) = rec.pending else {
        println!("nothing pending ({})", rec.state);
        return Ok(());
    };
    println!(
        "{}{}",
        p.kind,
        p.tool.map(|t| format!(": {t}")).unwrap_or_default()
    );
    if let Some(input) = p.input {
        println!("  input: {input}");
    }
    for (i, o) in p.options.iter().enumerate() {
        println!("  {}. {o}", i + 1);
    }
    println!("  since {} (from {})", p.since, p.source);
    Ok(())
}

pub fn ls(
    mgr: &SessionManager,
    state: Option<String>,
    agent: Option<String>,
    task: Option<String>,
    json: bool,
) -> Result<()> {
    let filter = ListFilter {
        state: state.as_deref().map(str::parse).transpose()?,
        agent_type: agent,
        task_id: task,
    };
    let recs = mgr.list(&filter)?;
    if json {
        print_json(&recs);
    } else {
        print!("{}", output::table(&recs));
    }
    Ok(())
}

pub fn show(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let mut rec = mgr.get(id)?;
    if json {
        // With token figures read now (a read stores nothing: see telemetry::session_usage).
        rec.telemetry = Some(mgr.telemetry(id)?.figures);
        println!("{}", rec.to_json());
    } else {
        print!("{}", output::details(&rec));
        print!("{}", telemetry_cmds::show_extra(mgr, &rec));
    }
    Ok(())
}

/// `wait`: until the session is in any of `states` (each a name, the list from `--state
/// a,b` or `--state` repeated); prints the state reached (or the record with --json).
pub fn wait(
    mgr: &SessionManager,
    id: &str,
    states: &[String],
    timeout: Option<Duration>,
    json: bool,
) -> Result<()> {
    let wanted = states
        .iter()
        .map(|s| s.trim().parse())
        .collect::<Result<Vec<State>>>()?;
    print_state(json, &mgr.wait_for_any(id, &wanted, timeout)?);
    Ok(())
}

pub fn rm(mgr: &SessionManager, id: &str, force: bool, json: bool) -> Result<()> {
    mgr.remove_with(id, force)?;
    if json {
        print_json(&serde_json::json!({"ok": true, "removed": id}));
    }
    Ok(())
}
