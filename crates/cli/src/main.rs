//! The `agent-sessions` command-line tool: a thin layer over the core library. It is also the
//! session host binary (hidden `__host` command), so one file serves both jobs.

mod agents_cmd;
mod budget_cmds;
mod cli;
mod commands;
mod history_cmds;
mod output;
mod serve_cmd;
mod session_cmds;
mod snapshot_cmds;
mod telemetry_cmds;
mod template_cmds;

use agent_sessions::{Error, ErrorKind};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The host mode is dispatched before clap: it must fork before any thread exists, and
    // its arguments are internal.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "__host") {
        return host(&args[2..]);
    }
    if args
        .get(1)
        .is_some_and(|a| a == agent_sessions::agent_hooks::HOOK_COMMAND)
    {
        return hook(&args[2..]);
    }
    let cli = cli::StartCli::parse_start(&args).unwrap_or_else(cli::Cli::parse);
    if !matches!(cli.command, cli::Command::Attach { .. }) {
        // Like other Unix tools, end quietly when the reader goes away (`ls | head`) instead
        // of panicking in println!. Not for attach: it must restore the terminal itself.
        // SAFETY: setting a signal disposition before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agent-sessions: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn host(args: &[std::ffi::OsString]) -> ExitCode {
    match args {
        [flag, home] if flag == "--home" => {
            let code = agent_sessions::host::host_main(std::path::Path::new(home));
            ExitCode::from(code.clamp(0, 255) as u8)
        }
        _ => {
            eprintln!("agent-sessions __host is internal: it is started by the library");
            ExitCode::from(2)
        }
    }
}

/// `agent-sessions __hook <event>`, run by Claude Code's and Codex's hooks: report the event
/// to the session host. Prints only a decision the session's policy made, and always exits
/// 0, so it can never block the agent.
fn hook(args: &[std::ffi::OsString]) -> ExitCode {
    let event = args.first().and_then(|a| a.to_str()).unwrap_or("");
    if let Err(e) = agent_sessions::agent_hooks::run_hook(
        event,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
    ) {
        eprintln!("agent-sessions hook {event}: {e}");
    }
    ExitCode::SUCCESS
}

/// Exit statuses, documented in the README: 2 bad input, 3 no such session, 4 wrong state,
/// 5 timed out, 6 state can no longer come, 1 anything else.
pub fn exit_code(e: &Error) -> u8 {
    match e.kind() {
        ErrorKind::UnsupportedAgent
        | ErrorKind::InvalidSessionId
        | ErrorKind::InvalidArgument
        | ErrorKind::InvalidPhase => 2,
        ErrorKind::SessionNotFound | ErrorKind::TaskNotFound | ErrorKind::SnapshotNotFound => 3,
        ErrorKind::SessionNotRunning
        | ErrorKind::SessionActive
        | ErrorKind::NoProcess
        | ErrorKind::NotResumable => 4,
        ErrorKind::Timeout => 5,
        ErrorKind::StateUnreachable => 6,
        _ => 1,
    }
}
