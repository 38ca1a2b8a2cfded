//! Dispatch: each command's arguments converted to the core's types (seconds through
//! `agent_sessions::duration`, states parsed by the core) and handed to its handler. No
//! behaviour lives here or in the handlers: they parse, call the core and print.

use crate::cli::{Cli, Command};
use crate::{agents_cmd, history_cmds, serve_cmd, session_cmds, telemetry_cmds};
use agent_sessions::duration::{optional_secs, secs};
use agent_sessions::{Result, SessionManager};
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    let json = g.json;
    // `start` forks the session host itself, which it may only do before this process has
    // opened the store (see `agent_sessions::host::fork`).
    let mgr = match cli.command {
        // serve opens its own manager; a deferred one opens nothing.
        Command::Start(_) | Command::Serve(_) | Command::Mcp => {
            SessionManager::open_deferred(g.home.as_deref())?
        }
        _ => SessionManager::open(g.home.as_deref())?,
    };
    match cli.command {
        Command::Mcp => return serve_cmd::mcp(g.home),
        Command::Serve(a) => return serve_cmd::serve(g.home, a, json),
        Command::Start(a) => {
            mgr.exits_after_start();
            session_cmds::start(&mgr, *a, json)?
        }
        Command::Attach {
            id,
            read_only,
            detach_key,
        } => return session_cmds::attach(&mgr, id, read_only, &detach_key),
        Command::Logs { id, follow, plain } => session_cmds::logs(&mgr, &id, follow, plain)?,
        Command::Screen { id } => session_cmds::screen(&mgr, &id, json)?,
        Command::Send {
            id,
            text,
            no_enter,
            keys,
        } => session_cmds::send(&mgr, &id, &text, !no_enter, keys, json)?,
        Command::Interrupt { id } => session_cmds::interrupt(&mgr, &id, json)?,
        Command::Stop {
            ids,
            all,
            timeout,
            force,
        } => return session_cmds::stop(&mgr, ids, all, secs(timeout, "--timeout")?, force, json),
        Command::State { id } => session_cmds::state(&mgr, &id, json)?,
        Command::Pending { id } => session_cmds::pending(&mgr, &id, json)?,
        Command::Approve {
            id,
            always,
            timeout,
        } => {
            let rec = mgr.approve(&id, always, optional_secs(timeout, "--timeout")?)?;
            crate::output::print_state(json, &rec);
        }
        Command::Deny {
            id,
            message,
            timeout,
        } => {
            let timeout = optional_secs(timeout, "--timeout")?;
            let rec = mgr.deny(&id, message.as_deref(), timeout)?;
            crate::output::print_state(json, &rec);
        }
        Command::Answer {
            id,
            options,
            timeout,
        } => {
            let rec = mgr.answer(&id, &options, optional_secs(timeout, "--timeout")?)?;
            crate::output::print_state(json, &rec);
        }
        Command::Ls { state, agent, task } => session_cmds::ls(&mgr, state, agent, task, json)?,
        Command::Show { id } => session_cmds::show(&mgr, &id, json)?,
        Command::Template(t) => crate::template_cmds::run(&mgr, t, json)?,
        Command::Snapshot(a) => crate::snapshot_cmds::snapshot(&mgr, *a, json)?,
        Command::Restore(a) => crate::snapshot_cmds::restore(&mgr, a, json)?,
        Command::Usage {
            id: Some(id),
            series: true,
            ..
        } => telemetry_cmds::usage_series(&mgr, &id, json)?,
        Command::Usage { id: Some(id), .. } => telemetry_cmds::usage(&mgr, &id, json)?,
        Command::Usage { by, csv, .. } => {
            telemetry_cmds::usage_report(&mgr, by.as_deref().unwrap_or("day"), csv, json)?
        }
        Command::Top { once, interval } => {
            telemetry_cmds::top(&mgr, once, secs(interval, "--interval")?, json)?
        }
        Command::Wait { id, state, timeout } => {
            let timeout = optional_secs(timeout, "--timeout")?;
            session_cmds::wait(&mgr, &id, &state, timeout, json)?
        }
        Command::Rm { id, force } => session_cmds::rm(&mgr, &id, force, json)?,
        Command::Agents => agents_cmd::agents(&mgr, json)?,
        Command::Pause { id } => history_cmds::pause(&mgr, &id, json)?,
        Command::Continue { id } => history_cmds::continue_session(&mgr, &id, json)?,
        Command::Suspend { id, timeout } => {
            history_cmds::suspend(&mgr, &id, secs(timeout, "--timeout")?, json)?
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
                env: session_cmds::env_pairs(&env)?,
                agent_session_id,
            };
            let wait = if wait {
                Some(optional_secs(timeout, "--timeout")?)
            } else {
                None
            };
            history_cmds::resume(&mgr, &id, &opts, wait, json)?
        }
        Command::History {
            id,
            offset,
            limit,
            all,
        } => history_cmds::history(&mgr, &id, offset, limit, all, json)?,
        Command::Events {
            id,
            follow,
            since,
            limit,
        } => history_cmds::events(&mgr, &id, since, follow, limit, json)?,
        Command::Tasks {
            action: Some(crate::cli::TasksAction::Budget { task, set }),
            ..
        } => crate::budget_cmds::task(&mgr, &task, &set, json)?,
        Command::Tasks { task, action: None } => history_cmds::tasks(&mgr, task.as_deref(), json)?,
        Command::Budget { id, set } => crate::budget_cmds::session(&mgr, &id, &set, json)?,
        Command::Cleanup {
            older_than,
            state,
            keep_logs,
            dry_run,
            force,
        } => history_cmds::cleanup(&mgr, &older_than, &state, (keep_logs, dry_run, force), json)?,
    }
    Ok(ExitCode::SUCCESS)
}
