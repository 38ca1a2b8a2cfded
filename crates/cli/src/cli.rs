//! The command line (clap): every command and flag with its help. Numbers of seconds are
//! taken as plain numbers and checked by the core (`agent_sessions::duration`), so `-1`,
//! `NaN` or `1e20` get the same one-line error (exit 2, with the allowed range) as in the
//! Python and C bindings; hence `allow_negative_numbers` on those flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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

/// `start` alone, with the same global flags: clap builds every command of [`Cli`] before
/// it parses, which cost `start` about half a millisecond. Every command line this accepts
/// [`Cli`] parses the same way, so `main` tries it first for what looks like a start and
/// falls back to [`Cli`] for anything it refuses (help, errors), whose messages then are
/// the full parser's.
#[derive(Parser, Debug)]
#[command(name = "agent-sessions", max_term_width = 100)]
pub struct StartCli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: StartOnly,
}

#[derive(Subcommand, Debug)]
pub enum StartOnly {
    Start(StartArgs),
}

impl StartCli {
    /// `Some` when `args` is a valid `start` command line.
    pub fn parse_start(args: &[std::ffi::OsString]) -> Option<Cli> {
        if !args.iter().skip(1).any(|a| a == "start") {
            return None;
        }
        let StartCli { global, command } = StartCli::try_parse_from(args).ok()?;
        let StartOnly::Start(a) = command;
        Some(Cli {
            global,
            command: Command::Start(Box::new(a)),
        })
    }
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
    Start(Box<StartArgs>),
    /// Serve the sessions as MCP tools on stdin/stdout (add it to an agent as an MCP server:
    /// `claude mcp add agent-sessions -- agent-sessions mcp`).
    Mcp,
    /// Serve the sessions over HTTP: a JSON API and live event streams, behind the token in
    /// <home>/server.token. Runs until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
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
    /// Stop sessions: quit sequence, SIGTERM, then SIGKILL after the timeout. Several ids
    /// (or --all) are stopped in parallel.
    Stop {
        /// The sessions to stop.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Stop every live session.
        #[arg(long)]
        all: bool,
        /// Seconds before SIGKILL (0 to 1e9).
        #[arg(
            long,
            default_value_t = 10.0,
            allow_negative_numbers = true,
            value_name = "SECS"
        )]
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
        /// Seconds before SIGKILL (0 to 1e9).
        #[arg(
            long,
            default_value_t = 10.0,
            allow_negative_numbers = true,
            value_name = "SECS"
        )]
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
        /// Seconds --wait may take, 0 to 1e9 [default: forever].
        #[arg(
            long,
            requires = "wait",
            allow_negative_numbers = true,
            value_name = "SECS"
        )]
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
    /// List tasks with their sessions and totals, or show one task; `tasks budget TASK`
    /// sets or shows a task's budget.
    Tasks {
        task: Option<String>,
        #[command(subcommand)]
        action: Option<TasksAction>,
    },
    /// Set, clear or show a session's cost budget (checked by its host as the agent
    /// spends).
    Budget {
        id: String,
        #[command(flatten)]
        set: crate::budget_cmds::BudgetSet,
    },
    /// Remove old ended sessions and their files; report what was freed.
    Cleanup {
        /// Age, e.g. 7d, 12h, 30m: sessions that ended longer ago than this.
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
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
        /// Also delete git worktrees holding uncommitted changes or commits no other branch
        /// has (without it their sessions are kept, and listed with why).
        #[arg(long)]
        force: bool,
    },
    /// Print a session's state.
    State { id: String },
    /// Print what a waiting session waits on: the dialog's kind, tool, input and options
    /// (`null` with --json when nothing is pending).
    Pending { id: String },
    /// Approve the permission dialog the session waits on (checked on screen first), and
    /// wait until it is gone.
    Approve {
        id: String,
        /// Choose the dialog's "yes, and don't ask again" option instead of its first yes.
        #[arg(long)]
        always: bool,
        /// Seconds to wait for the dialog to close (default 10).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Deny the permission dialog the session waits on (checked on screen first), and wait
    /// until it is gone.
    Deny {
        id: String,
        /// Then send this as the next prompt: what the agent should do instead.
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
        /// Seconds to wait for the dialog to close (default 10).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Answer the question dialog the session waits on: one option per question, by label
    /// or number, each checked on screen before it is chosen.
    Answer {
        id: String,
        /// The options to choose, one per question, in order.
        #[arg(required = true, value_name = "OPTION")]
        options: Vec<String>,
        /// Seconds to wait for the dialogs to close (default 10).
        #[arg(long)]
        timeout: Option<f64>,
    },
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
    /// Wait until a session reaches a state, or any of several.
    ///
    /// `--state running,waiting_input` (or `--state` repeated) returns at the first of them
    /// and prints which. After `send`, `--state waiting_input` waits for the end of that turn
    /// (the send marks the session running first). Fails at once (exit 6) when none of the
    /// states can come any more, and with exit 5 when the timeout passes.
    Wait {
        id: String,
        /// State(s) to wait for: starting, running, waiting_input, paused, stopping, stopped,
        /// failed, unknown, suspended; comma-separated or repeated.
        #[arg(long, required = true, value_delimiter = ',', value_name = "STATE")]
        state: Vec<String>,
        /// Seconds, 0 to 1e9; wait forever when absent.
        #[arg(long, allow_negative_numbers = true, value_name = "SECS")]
        timeout: Option<f64>,
    },
    /// Remove an ended session and its files, and its git worktree with the branch made for
    /// it; a worktree holding uncommitted changes or commits no other branch has is kept
    /// (with the session) unless --force.
    Rm {
        id: String,
        /// Delete the worktree even if that loses changes or commits.
        #[arg(long)]
        force: bool,
    },
    /// List the agent types: built-in, and user-defined in <home>/agents.toml.
    Agents,
    /// Keep a point to come back to: `snapshot ID` saves the session's record, events,
    /// history, the agent's conversation and an archive of its workspace; `snapshot
    /// ls|show|rm|prune` manage them.
    Snapshot(Box<crate::snapshot_cmds::SnapshotArgs>),
    /// Start a new session from a snapshot: the workspace unpacked (into --cwd, new or
    /// empty) and the agent resumed on the copied conversation where it allows.
    Restore(crate::snapshot_cmds::RestoreArgs),
    /// Named, versioned launch templates: add, ls, show, check, history, rollback, rm.
    #[command(subcommand)]
    Template(crate::template_cmds::TemplateCommand),
    /// Tokens and cost of a session, with where each figure comes from; or, with --by, of
    /// every session summed by day, agent or task.
    Usage {
        /// The session (leave out with --by).
        #[arg(required_unless_present = "by", conflicts_with = "by")]
        id: Option<String>,
        /// Sum every session's usage by day, agent or task.
        #[arg(long, value_name = "day|agent|task")]
        by: Option<String>,
        /// With --by: print the table as CSV.
        #[arg(long, requires = "by")]
        csv: bool,
        /// The session's totals over time instead: one line per change (a point at the end
        /// of each turn and one after the end), oldest first.
        #[arg(long, conflicts_with = "by")]
        series: bool,
    },
    /// A live table of sessions: state, CPU, memory, tokens and cost.
    Top {
        /// Print one frame and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between frames.
        #[arg(
            long,
            default_value_t = 2.0,
            allow_negative_numbers = true,
            value_name = "SECS"
        )]
        interval: f64,
    },
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Agent type: claude, codex, gemini, opencode, custom, or one defined in
    /// <home>/agents.toml (see `agent-sessions agents`); with --template, the template's
    /// unless given.
    #[arg(required_unless_present = "template")]
    pub agent: Option<String>,
    /// Start from a saved template (see `agent-sessions template`); every other option
    /// given here overrides it.
    #[arg(long, value_name = "NAME[@VERSION]")]
    pub template: Option<String>,
    /// Task id to link the session to.
    #[arg(long)]
    pub task: Option<String>,
    /// A name for people; shown by ls.
    #[arg(long)]
    pub name: Option<String>,
    /// Extra environment for the agent (its value is never stored).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Options a template can also set.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Seconds between resource samples of the agent's process tree, also while it is idle
    /// [default: 2, slowing to 30 while the tree is idle].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub sample_interval: Option<f64>,
    /// Seconds between workspace size measurements [default: 30].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub workspace_interval: Option<f64>,
    /// Arguments for the agent; for custom, the command to run.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// `tasks` subcommands.
#[derive(Subcommand, Debug)]
pub enum TasksAction {
    /// Set, clear or show the budget of a task: all of its sessions together, also those
    /// started later; may be set before the first.
    Budget {
        task: String,
        #[command(flatten)]
        set: crate::budget_cmds::BudgetSet,
    },
}

/// The launch options `start` and `template add` share.
#[derive(Args, Debug)]
pub struct LaunchArgs {
    /// Working folder [default: the current folder].
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Terminal width [default: 120].
    #[arg(long)]
    pub cols: Option<u16>,
    /// Terminal height [default: 35].
    #[arg(long)]
    pub rows: Option<u16>,
    /// Seconds of output silence before the session reads as waiting_input (0: never). With
    /// screen rules this only applies to screens the rules do not recognise.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub idle_after: Option<f64>,
    /// Seconds a waiting screen (prompt, dialog) must hold before waiting_input
    /// [default: the agent type's, else 1].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub debounce: Option<f64>,
    /// claude, codex: do not pass the agent the hooks that report its turns (screen and
    /// status escapes only); a --policy then decides nothing.
    #[arg(long)]
    pub no_hooks: bool,
    /// Approval policy (TOML or JSON rules on tool, command and path → allow, deny or ask):
    /// claude and codex get decided permission requests answered through their hooks,
    /// without a dialog. See the README's "Approval policies".
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
    /// Output log cap, e.g. 50M or 1G [default: 50M]; the log rotates at half of it,
    /// keeping one older part (output.log.1).
    #[arg(long, value_name = "SIZE")]
    pub max_log_size: Option<String>,
    /// Cost budget in dollars (the agent's own cost, else the price table's estimate); a
    /// warning event at 80%, --on-budget at 100%.
    #[arg(long, value_name = "USD", allow_negative_numbers = true)]
    pub budget_usd: Option<f64>,
    /// Token budget (prompt, cached prompt and output together).
    #[arg(long, value_name = "N")]
    pub budget_tokens: Option<u64>,
    /// At the budget: warn, interrupt (every turn that spends more), suspend or stop
    /// [default: stop].
    #[arg(long, value_name = "ACTION")]
    pub on_budget: Option<String>,
    /// Run the agent in a new git worktree of the repository the folder is in, on a new
    /// branch from HEAD (BRANCH, else agent-sessions/ID); gitignored files listed in
    /// .worktreeinclude are copied in. Give a branch as --worktree=BRANCH.
    #[arg(long, value_name = "BRANCH", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub worktree: Option<String>,
    /// Folder new worktrees go under [default: $AGENT_SESSIONS_WORKTREE_ROOT, else
    /// .worktrees in the sessions home].
    #[arg(long, value_name = "DIR", requires = "worktree")]
    pub worktree_root: Option<PathBuf>,
}

impl LaunchArgs {
    /// The worktree asked for with --worktree[=BRANCH] and --worktree-root.
    pub fn worktree_request(&self) -> Option<agent_sessions::worktree::WorktreeRequest> {
        self.worktree
            .as_ref()
            .map(|b| agent_sessions::worktree::WorktreeRequest {
                branch: (!b.is_empty()).then(|| b.clone()),
                root: self.worktree_root.clone(),
            })
    }
}

/// `serve`'s options.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start). Default
    /// 127.0.0.1:7420, unless only --unix is given.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Also listen on a Unix socket at this path (made private to you); its clients need no
    /// token: only your own processes get in, checked by their user id.
    #[arg(long, value_name = "PATH")]
    pub unix: Option<std::path::PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Allow listening on an address other machines can reach (needs TLS, or
    /// --insecure-no-tls).
    #[arg(long)]
    pub allow_remote: bool,
    /// With --allow-remote: serve plain HTTP, the token crossing the network in the clear.
    #[arg(long)]
    pub insecure_no_tls: bool,
    /// Connections open at once, per listener; one more is answered 503.
    #[arg(long, value_name = "N", default_value_t = agent_sessions_server::listen::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
}
