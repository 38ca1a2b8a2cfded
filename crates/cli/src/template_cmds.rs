//! `agent-sessions template ...`: named, versioned launch templates (thin over the core's
//! `SessionManager::save_template` and friends; see `agent_sessions::template`).

use agent_sessions::template::{Template, TemplateVersion};
use agent_sessions::{Error, Result, SessionManager};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum TemplateCommand {
    /// Save a new version of a template (from options, or --file with its JSON); it is
    /// checked first (`template check`) and not saved if it fails, unless --force.
    Add(Box<AddArgs>),
    /// List templates (their current versions).
    Ls,
    /// Show a template: NAME (current version) or NAME@VERSION.
    Show { spec: String },
    /// Check that a template can start: its agent is known, the binary is found and answers
    /// --version, paths exist, options parse.
    Check { spec: String },
    /// Every version of a template.
    History { name: String },
    /// Make an earlier version current again (the versions stay).
    Rollback { name: String, version: u32 },
    /// Remove a template with every version.
    Rm { name: String },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The template's name (letters, digits, '.', '_', '-').
    pub name: String,
    /// Agent type (claude, codex, gemini, opencode, custom, or one of agents.toml).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub agent: Option<String>,
    /// The template as JSON (the shape `template show --json` prints under `template`).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Put before the task id given at start (`PROJ-` and `--task 42` make `PROJ-42`).
    #[arg(long)]
    pub task_prefix: Option<String>,
    /// The sessions' name.
    #[arg(long = "session-name", value_name = "NAME")]
    pub session_name: Option<String>,
    /// An environment variable to pass, by NAME only: its value comes from the environment
    /// at each start (repeat for several).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Vec<String>,
    /// The launch options, as `start` takes them (a relative --cwd or --policy is made
    /// absolute now).
    #[command(flatten)]
    pub launch: crate::cli::LaunchArgs,
    /// What the template is for.
    #[arg(long)]
    pub description: Option<String>,
    /// Save even if the check fails.
    #[arg(long)]
    pub force: bool,
    /// Arguments for the agent; for custom, the command to run.
    #[arg(last = true)]
    pub args: Vec<String>,
}

fn absolute(p: PathBuf) -> Result<String> {
    let p = if p.is_absolute() {
        p
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("reading the current folder", e))?
            .join(p)
    };
    Ok(p.display().to_string())
}

fn template_of(a: AddArgs) -> Result<(String, Template, bool)> {
    if let Some(file) = a.file {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        let t = Template::from_json(&text, &file.display().to_string())?;
        return Ok((a.name, t, a.force));
    }
    let worktree = a.launch.worktree_request();
    let json = serde_json::json!({
        "worktree": worktree,
        "agent": a.agent.unwrap_or_default(),
        "args": a.args,
        "env": a.env,
        "cwd": a.launch.cwd.map(absolute).transpose()?,
        "task_prefix": a.task_prefix,
        "name": a.session_name,
        "cols": a.launch.cols,
        "rows": a.launch.rows,
        "idle_after_secs": a.launch.idle_after,
        "debounce_secs": a.launch.debounce,
        "no_hooks": a.launch.no_hooks,
        "max_log_bytes": a.launch.max_log_size.as_deref().map(crate::session_cmds::parse_size).transpose()?,
        "policy": a.launch.policy.map(absolute).transpose()?,
        "budget": agent_sessions::Budget::from_options(
            a.launch.budget_usd,
            a.launch.budget_tokens,
            a.launch.on_budget.as_deref(),
        )?,
        "description": a.description,
    });
    let t = Template::from_json(&json.to_string(), "the template's options")?;
    Ok((a.name, t, a.force))
}

fn print_version(v: &TemplateVersion, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(v).expect("a template serializes")
        );
    } else {
        let mark = if v.current { " (current)" } else { "" };
        println!("{}@{}{mark}  saved {}", v.name, v.version, v.created_at);
        println!(
            "{}",
            serde_json::to_string_pretty(&v.template).expect("a template serializes")
        );
    }
}

/// Runs one `template` subcommand.
pub fn run(mgr: &SessionManager, cmd: TemplateCommand, json: bool) -> Result<()> {
    match cmd {
        TemplateCommand::Add(a) => {
            let (name, t, force) = template_of(*a)?;
            let v = mgr.save_template(&name, &t, force)?;
            if json {
                print_version(&v, true);
            } else {
                println!("{}@{}", v.name, v.version);
            }
        }
        TemplateCommand::Ls => {
            let all = mgr.templates()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&all).expect("templates serialize")
                );
            } else {
                println!(
                    "{:<24} {:>7} {:<10} DESCRIPTION",
                    "NAME", "VERSION", "AGENT"
                );
                for v in all {
                    println!(
                        "{:<24} {:>7} {:<10} {}",
                        v.name,
                        v.version,
                        v.template.agent,
                        v.template.description.as_deref().unwrap_or("")
                    );
                }
            }
        }
        TemplateCommand::Show { spec } => print_version(&mgr.template(&spec)?, json),
        TemplateCommand::Check { spec } => {
            let c = mgr.check_saved_template(&spec)?;
            if json {
                println!("{}", serde_json::to_string(&c).expect("a check serializes"));
            } else if c.ok {
                println!("{}@{}: ok", c.template, c.version);
            } else {
                for p in &c.problems {
                    println!("{}@{}: {p}", c.template, c.version);
                }
            }
            if !c.ok {
                return Err(Error::InvalidArgument(format!(
                    "template {}@{} would not start",
                    c.template, c.version
                )));
            }
        }
        TemplateCommand::History { name } => {
            let all = mgr.template_history(&name)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&all).expect("templates serialize")
                );
            } else {
                for v in all {
                    let mark = if v.current { "  (current)" } else { "" };
                    println!("{}@{}  {}{mark}", v.name, v.version, v.created_at);
                }
            }
        }
        TemplateCommand::Rollback { name, version } => {
            print_version(&mgr.rollback_template(&name, version)?, json)
        }
        TemplateCommand::Rm { name } => {
            mgr.remove_template(&name)?;
            if !json {
                println!("removed template {name}");
            }
        }
    }
    Ok(())
}
