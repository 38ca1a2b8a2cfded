//! Command definitions (clap) and their handlers. Handlers only parse, call the core and
//! print; all behaviour lives in the core.

use crate::history_cmds;
use crate::output;
use crate::telemetry_cmds;
use agent_sessions::attach::{self, AttachEnd, AttachOptions};
use agent_sessions::{
    DetectOptions, Error, ListFilter, Result, SessionManager, StartOptions, State,
};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run AI coding-agent CLIs as managed, detachable sessions.
#[derive(Parser, Debug)]
#[command(
    name = "agent-sessions",
    version,
    about = "Run AI coding-agent CLIs (claude, codex, gemini, opencode, any command) as managed, detachable sessions",
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Where sessions live [default: $XDG_STATE_HOME/agent-sessions].
    #[arg(long, global = true, env = "AGENT_SESSIONS_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a session and print its id.
    Start(StartArgs),
    /// Show a session's live terminal; Ctrl-\ detaches.
    Attach {
        id: String,
        /// Watch without sending input.
        #[arg(long)]
        read_only: bool,
        /// Key that detaches, e.g. C-\ (default) or C-a.
        #[arg(long, default_value = "C-\\")]
        detach_key: String,
    },
    /// Print captured output.
    Logs {
        id: String,
        /// Keep printing new output until the session ends.
        #[arg(short, long)]
        follow: bool,
        /// Strip terminal escape sequences.
        #[arg(long)]
        plain: bool,
    },
    /// Print the current screen as text.
    Screen { id: String },
    /// Type text into the agent, then Enter.
    Send {
        id: String,
        /// The text; with --keys, key names (Enter, Esc, Tab, Up, C-c, ...).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        text: Vec<String>,
        /// Do not press Enter after the text.
        #[arg(long)]
        no_enter: bool,
        /// Treat the arguments as key names.
        #[arg(long)]
        keys: bool,
    },
    /// Interrupt the agent's current turn (not the agent): Esc, Ctrl-C, or what the agent
    /// type needs.
    Interrupt { id: String },
    /// Stop a session: quit sequence, SIGTERM, then SIGKILL after the timeout.
    Stop {
        id: String,
        /// Seconds before SIGKILL.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// SIGKILL at once.
        #[arg(long)]
        force: bool,
    },
    /// Freeze the agent's process group (SIGSTOP); the state becomes paused.
    Pause { id: String },
    /// Thaw a paused session (SIGCONT).
    Continue { id: String },
    /// End the agent cleanly but keep its conversation; the state becomes suspended.
    Suspend {
        id: String,
        /// Seconds before SIGKILL.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
    },
    /// Start a suspended (or stopped, failed) session again on the same conversation, under
    /// the same session id.
    Resume {
        id: String,
        /// Extra environment for the agent (values are never stored: give them again).
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// The agent's own session id, if the session never showed it.
        #[arg(long, value_name = "ID")]
        agent_session_id: Option<String>,
        /// Wait until the agent is at its prompt; fail if it ends instead.
        #[arg(long)]
        wait: bool,
        /// Seconds --wait may take [default: forever].
        #[arg(long, requires = "wait")]
        timeout: Option<f64>,
        /// Arguments for the agent instead of the original ones.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Print a session's conversation: from the agent's own records (Claude transcripts,
    /// Codex rollouts), else the input sent and the settled screens. Paged.
    History {
        id: String,
        /// First message to print (0-based).
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Messages per page (with --all, pages of 10,000 are read).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print every page.
        #[arg(long)]
        all: bool,
    },
    /// Print a session's events (state, phase, input, stop, pause, suspend, resume);
    /// --json prints one object per line.
    Events {
        id: String,
        /// Keep printing new events until the session ends.
        #[arg(short, long)]
        follow: bool,
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: i64,
        /// Print at most this many events, then exit (not with --follow).
        #[arg(long, conflicts_with = "follow")]
        limit: Option<usize>,
    },
    /// List tasks with their sessions and totals, or show one task.
    Tasks { task: Option<String> },
    /// Remove old ended sessions and their files; report what was freed.
    Cleanup {
        /// Age, e.g. 7d, 12h, 30m: sessions that ended longer ago than this.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
        /// Only these states (stopped, failed, unknown, suspended) [default: stopped, failed,
        /// unknown].
        #[arg(long)]
        state: Vec<String>,
        /// Keep output logs and screens on disk; remove the rest.
        #[arg(long)]
        keep_logs: bool,
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a session's state.
    State { id: String },
    /// List sessions.
    #[command(alias = "list")]
    Ls {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        task: Option<String>,
    },
    /// Show a session's record and history.
    Show { id: String },
    /// Wait until a session reaches a state. After `send`, `--state waiting_input` waits for
    /// the end of that turn (the send marks the session running first).
    Wait {
        id: String,
        #[arg(long)]
        state: String,
        /// Seconds; wait forever when absent.
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Remove an ended session and its files.
    Rm { id: String },
    /// List the agent types: built-in, and user-defined in <home>/agents.toml.
    Agents,
    /// Tokens and cost of a session, with where each figure comes from.
    Usage { id: String },
    /// A live table of sessions: state, CPU, memory, tokens and cost.
    Top {
        /// Print one frame and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between frames.
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
    },
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Agent type: claude, codex, gemini, opencode, custom, or one defined in
    /// <home>/agents.toml (see `agent-sessions agents`).
    pub agent: String,
    /// Working folder [default: the current folder].
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Task id to link the session to.
    #[arg(long)]
    pub task: Option<String>,
    /// A name for people; shown by ls.
    #[arg(long)]
    pub name: Option<String>,
    /// Extra environment for the agent (its value is never stored).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Terminal width [default: 120].
    #[arg(long)]
    pub cols: Option<u16>,
    /// Terminal height [default: 35].
    #[arg(long)]
    pub rows: Option<u16>,
    /// Seconds of output silence before the session reads as waiting_input (0: never). With
    /// screen rules this only applies to screens the rules do not recognise.
    #[arg(long, value_name = "SECS")]
    pub idle_after: Option<f64>,
    /// Seconds a waiting screen (prompt, dialog) must hold before waiting_input
    /// [default: the agent type's, else 1].
    #[arg(long, value_name = "SECS")]
    pub debounce: Option<f64>,
    /// claude: do not pass Claude Code the hooks that report its turns (screen only).
    #[arg(long)]
    pub no_hooks: bool,
    /// Seconds between resource samples of the agent's process tree [default: 2].
    #[arg(long, value_name = "SECS")]
    pub sample_interval: Option<f64>,
    /// Seconds between workspace size measurements [default: 30].
    #[arg(long, value_name = "SECS")]
    pub workspace_interval: Option<f64>,
    /// Output log cap, e.g. 50M or 1G [default: 50M]; the log rotates at half of it,
    /// keeping one older part (output.log.1).
    #[arg(long, value_name = "SIZE")]
    pub max_log_size: Option<String>,
    /// Arguments for the agent; for custom, the command to run.
    #[arg(last = true)]
    pub args: Vec<String>,
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).expect("serializes"));
}

fn parse_state(s: &str) -> Result<State> {
    s.parse()
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
        Ok(s.map(|s| secs(s, what))
            .transpose()?
            .map_or(0, |d| d.as_millis() as u64))
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

fn env_pairs(env: &[String]) -> Result<Vec<(String, String)>> {
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
fn parse_size(text: &str) -> Result<u64> {
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

/// `SIGTERM` for 15; the number for a signal nix does not know.
fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    if !s.is_finite() || s < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "{what} must be a non-negative number of seconds"
        )));
    }
    Ok(Duration::from_secs_f64(s))
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    let mgr = SessionManager::open(g.home.as_deref())?;
    match cli.command {
        Command::Start(a) => {
            let env = env_pairs(&a.env)?;
            let detect = DetectOptions {
                debounce: a.debounce.map(|s| secs(s, "--debounce")).transpose()?,
                no_agent_hooks: a.no_hooks,
                telemetry: telemetry_config(a.sample_interval, a.workspace_interval)?,
            };
            let rec = mgr.start_with(
                &StartOptions {
                    agent: a.agent,
                    args: a.args,
                    cwd: a.cwd,
                    task_id: a.task,
                    name: a.name,
                    env,
                    cols: a.cols,
                    rows: a.rows,
                    idle_after: a.idle_after.map(|s| secs(s, "--idle-after")).transpose()?,
                    max_log_bytes: a.max_log_size.as_deref().map(parse_size).transpose()?,
                },
                &detect,
            )?;
            if g.json {
                println!("{}", rec.to_json());
            } else {
                println!("{}", rec.session_id);
            }
        }
        Command::Attach {
            id,
            read_only,
            detach_key,
        } => {
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
                detach_key: attach::parse_detach_key(&detach_key)?,
            };
            let end = attach::attach_terminal(&mgr.socket_path(&id)?, &opts)?;
            match end {
                AttachEnd::Detached => eprintln!("[detached from {id}; it keeps running]"),
                AttachEnd::Ended(s) => eprintln!("[session {id} ended: {s}]"),
                AttachEnd::Lost => {
                    eprintln!("[connection to {id} lost; state: {}]", mgr.state(&id)?)
                }
                AttachEnd::Signal(sig) => {
                    // Not eprintln: after SIGHUP the terminal may be gone, and a failed
                    // write must not turn into a panic.
                    let name = signal_name(sig);
                    let _ = writeln!(
                        std::io::stderr(),
                        "[attach ended by {name}; session {id} keeps running]"
                    );
                    return Ok(ExitCode::from(128u8.saturating_add(sig as u8)));
                }
            }
        }
        Command::Logs { id, follow, plain } => logs(&mgr, &id, follow, plain)?,
        Command::Screen { id } => {
            let s = mgr.screen(&id)?;
            if g.json {
                print_json(&s);
            } else {
                println!("{}", s.text);
            }
        }
        Command::Send {
            id,
            text,
            no_enter,
            keys,
        } => {
            if keys {
                mgr.send_keys(&id, &text)?;
            } else {
                mgr.send(&id, &text.join(" "), !no_enter)?;
            }
            if g.json {
                print_json(&serde_json::json!({"ok": true, "session_id": id}));
            }
        }
        Command::Interrupt { id } => {
            mgr.interrupt(&id)?;
            if g.json {
                print_json(&serde_json::json!({"ok": true, "session_id": id}));
            }
        }
        Command::Stop { id, timeout, force } => {
            let rec = mgr.stop(&id, Some(secs(timeout, "--timeout")?), force)?;
            if g.json {
                println!("{}", rec.to_json());
            } else {
                println!("{}", rec.state);
            }
        }
        Command::State { id } => {
            let rec = mgr.get(&id)?;
            if g.json {
                print_json(
                    &serde_json::json!({"session_id": rec.session_id, "state": rec.state, "state_reason": rec.state_reason, "state_source": rec.state_source}),
                );
            } else {
                println!("{}", rec.state);
            }
        }
        Command::Ls { state, agent, task } => {
            let filter = ListFilter {
                state: state.as_deref().map(parse_state).transpose()?,
                agent_type: agent,
                task_id: task,
            };
            let recs = mgr.list(&filter)?;
            if g.json {
                print_json(&recs);
            } else {
                print!("{}", output::table(&recs));
            }
        }
        Command::Show { id } => {
            let mut rec = mgr.get(&id)?;
            if g.json {
                // With token figures read now (a read stores nothing: see
                // telemetry::session_usage).
                rec.telemetry = Some(mgr.telemetry(&id)?.figures);
                println!("{}", rec.to_json());
            } else {
                print!("{}", output::details(&rec));
                print!("{}", telemetry_cmds::show_extra(&mgr, &rec));
            }
        }
        Command::Usage { id } => telemetry_cmds::usage(&mgr, &id, g.json)?,
        Command::Top { once, interval } => {
            telemetry_cmds::top(&mgr, once, secs(interval, "--interval")?, g.json)?
        }
        Command::Wait { id, state, timeout } => {
            let wanted = parse_state(&state)?;
            let timeout = timeout.map(|t| secs(t, "--timeout")).transpose()?;
            let rec = mgr.wait_for(&id, wanted, timeout)?;
            if g.json {
                println!("{}", rec.to_json());
            } else {
                println!("{}", rec.state);
            }
        }
        Command::Rm { id } => {
            mgr.remove(&id)?;
            if g.json {
                print_json(&serde_json::json!({"ok": true, "removed": id}));
            }
        }
        Command::Agents => agents(&g, &mgr)?,
        Command::Pause { id } => history_cmds::pause(&mgr, &id, g.json)?,
        Command::Continue { id } => history_cmds::continue_session(&mgr, &id, g.json)?,
        Command::Suspend { id, timeout } => {
            history_cmds::suspend(&mgr, &id, secs(timeout, "--timeout")?, g.json)?
        }
        Command::Resume {
            id,
            env,
            agent_session_id,
            wait,
            timeout,
            args,
        } => {
            let opts = agent_sessions::ResumeOptions {
                args: (!args.is_empty()).then_some(args),
                env: env_pairs(&env)?,
                agent_session_id,
            };
            let wait = if wait {
                Some(timeout.map(|t| secs(t, "--timeout")).transpose()?)
            } else {
                None
            };
            history_cmds::resume(&mgr, &id, &opts, wait, g.json)?
        }
        Command::History {
            id,
            offset,
            limit,
            all,
        } => history_cmds::history(&mgr, &id, offset, limit, all, g.json)?,
        Command::Events {
            id,
            follow,
            since,
            limit,
        } => history_cmds::events(&mgr, &id, since, follow, limit, g.json)?,
        Command::Tasks { task } => history_cmds::tasks(&mgr, task.as_deref(), g.json)?,
        Command::Cleanup {
            older_than,
            state,
            keep_logs,
            dry_run,
        } => history_cmds::cleanup(&mgr, &older_than, &state, keep_logs, dry_run, g.json)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn agents(g: &Global, mgr: &SessionManager) -> Result<()> {
    use agent_sessions::agents::{resolve_program, shell_words};
    let all = mgr.agents()?;
    // The binary a session would run: the override variable when set, else the name.
    let program = |a: &agent_sessions::agents::AgentSpec| -> Option<String> {
        let bin = a.binary.clone()?;
        Some(
            a.binary_env
                .as_deref()
                .and_then(|v| std::env::var(v).ok())
                .filter(|v| !v.is_empty())
                .unwrap_or(bin),
        )
    };
    if g.json {
        let v: Vec<_> = all
            .iter()
            .map(|a| {
                let prog = program(a);
                serde_json::json!({
                    "name": a.name,
                    "source": a.origin.describe(),
                    "binary": a.binary,
                    "binary_env": a.binary_env,
                    "default_args": a.default_args,
                    "found": prog.as_deref().map(|b| resolve_program(b).is_some()),
                    "screen_detection": a.rules.is_some(),
                    "screen_rules": a.rules,
                    "quit": a.quit.iter().map(|q| String::from_utf8_lossy(q).into_owned()).collect::<Vec<_>>(),
                    "interrupt": String::from_utf8_lossy(&a.interrupt),
                    "interrupt_presses": a.interrupt_presses,
                    "description": a.description,
                })
            })
            .collect();
        print_json(&v);
    } else {
        for a in &all {
            let found = match program(a) {
                Some(b) if resolve_program(&b).is_some() => "found",
                Some(_) => "not on PATH",
                None => "",
            };
            let source = match a.origin {
                agent_sessions::agents::AgentOrigin::Builtin => "builtin".to_string(),
                _ => a.origin.describe(),
            };
            let mut desc = a.description.clone();
            if a.origin != agent_sessions::agents::AgentOrigin::Builtin {
                if let Some(b) = &a.binary {
                    let mut argv = vec![b.clone()];
                    argv.extend(a.default_args.iter().cloned());
                    desc = format!("{desc} [{}]", shell_words(&argv));
                }
            }
            println!(
                "{:<10} {:<12} {:<8} {}",
                a.name,
                found,
                source_label(&source),
                desc
            );
        }
    }
    Ok(())
}

/// `builtin`, or `file` / `api` for user-defined types.
fn source_label(source: &str) -> &str {
    match source {
        "builtin" | "api" => source,
        _ => "file",
    }
}

/// Prints the log from the start; with `follow`, keeps printing until the session ends.
fn logs(mgr: &SessionManager, id: &str, follow: bool, plain: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut sink: Box<dyn Write> = if plain {
        // Keeps escape-parser state across chunks, so a sequence split between reads is
        // still removed.
        Box::new(strip_ansi_escapes::Writer::new(stdout.lock()))
    } else {
        Box::new(stdout.lock())
    };
    let mut offset = 0;
    let mut pause = Duration::from_millis(10);
    loop {
        let (bytes, next) = mgr.output(id, offset, 1 << 20)?;
        // Always move on: `next` may skip bytes a rotation dropped.
        let moved = next != offset;
        offset = next;
        if !bytes.is_empty() {
            if sink.write_all(&bytes).and_then(|_| sink.flush()).is_err() {
                return Ok(()); // reader went away (e.g. `| head`)
            }
            pause = Duration::from_millis(10);
            continue;
        }
        if moved {
            continue;
        }
        if !follow || mgr.state(id)?.is_ended() {
            // The rest: output written just before the ending.
            loop {
                let (bytes, next) = mgr.output(id, offset, 1 << 20)?;
                if next == offset || sink.write_all(&bytes).is_err() {
                    break;
                }
                offset = next;
            }
            let _ = sink.flush();
            return Ok(());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
