//! Enforcing cost budgets from inside the session's host, and keeping its usage series.
//!
//! The host is the one process that can read the agent's usage with the agent's own
//! environment (its `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, ...) and act on the agent at once, so
//! the check lives here. A watcher thread runs while the session has a budget or a task
//! (a task's budget may be set later, by anyone); a session with neither gets one when
//! `SessionManager::set_budget` pokes its host ([`Tag::Budget`]). The thread looks again
//! whenever the terminal showed activity (no agent spends tokens without drawing
//! something), every [`ACTIVE_INTERVAL`] at most; an idle session with a budget or a task
//! costs one wake-up per [`IDLE_INTERVAL`], which reads the task's total only when a task
//! budget applies.
//!
//! A look: read the budgets from the store, compute the usage (the same sources as every
//! reader: see `services::telemetry::compute_usage`), store it when it changed (so a task's
//! total, summed from its sessions' stored figures, stays current), compare. At
//! [`WARN_FRACTION`] a `budget_warning` event; at the limit `budget_exceeded`, with the
//! figures, the action taken and its outcome; both run the `[[on_event]]` hooks. Each is
//! recorded once per host run and budget, except that `interrupt` interrupts (and records)
//! again whenever a later turn spends more.
//!
//! The same thread stores the session's usage at each move to `waiting_input` (the first
//! prompt, each turn's end, a permission wait; see [`turn_ended`]) and once more
//! [`ACTIVE_INTERVAL`] later (an agent may write its records just after it shows its
//! prompt), so the usage series (see `store::usage_series`) has a point per turn even
//! without a budget. Such a watcher, with no budget and no task, sleeps until the next
//! such move: an idle session costs nothing. Once the host stores the final figures (see
//! [`finalizing`]) the watcher stores nothing more, so a look still under way when the
//! agent exits cannot put older figures over the final ones.
//!
//! [`Tag::Budget`]: crate::model::protocol::Tag::Budget
//! [`WARN_FRACTION`]: crate::model::budget::WARN_FRACTION

use super::shared::Shared;
use super::stop;
use crate::config::home::Home;
use crate::model::budget::{Assessment, Budget, BudgetAction, Level, Spent};
use crate::model::event::kind;
use crate::model::protocol::StopRequest;
use crate::model::state::State;
use crate::model::telemetry::TokenUsage;
use crate::services::telemetry::{self, UsageEnv};
use parking_lot::{Condvar, Mutex};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Shortest time between two looks while the agent is active.
pub const ACTIVE_INTERVAL: Duration = Duration::from_secs(2);
/// Longest sleep of an idle session's watcher.
pub const IDLE_INTERVAL: Duration = Duration::from_secs(10);
/// The watcher's stack: usage parsing is shallow (serde_json on flat lines).
const STACK: usize = 512 * 1024;

/// What the watcher needs, set once when the host starts (a host serves one session).
struct Watcher {
    shared: Arc<Shared>,
    home: Home,
    env: UsageEnv,
    /// The agent is one whose usage is known (see `telemetry::usage_agent`): its turns
    /// add to the usage series.
    tracks_usage: bool,
    /// The host is storing the final figures: no look stores anything any more.
    finalizing: AtomicBool,
    running: AtomicBool,
    poke: Mutex<Pokes>,
    poke_cv: Condvar,
}

/// Why the watcher was woken, since it last looked.
#[derive(Default, Clone, Copy)]
struct Pokes {
    /// A budget changed.
    budget: bool,
    /// A turn of the agent ended.
    turn: bool,
}

static WATCHER: OnceLock<Arc<Watcher>> = OnceLock::new();

/// Installs the watcher for this host's session; starts its thread now when the session
/// has a budget or a task (`has_budget`: read by the caller from the record).
pub fn install(shared: Arc<Shared>, home: Home, env: UsageEnv, has_budget: bool) {
    let start = has_budget || shared.spec.task_id.is_some();
    let tracks_usage = telemetry::usage_agent_of(
        Some(shared.spec.agent_type.as_str()),
        shared.spec.argv.first().map(String::as_str),
    )
    .is_some();
    let w = WATCHER.get_or_init(|| {
        Arc::new(Watcher {
            shared,
            home,
            env,
            tracks_usage,
            finalizing: AtomicBool::new(false),
            running: AtomicBool::new(false),
            poke: Mutex::new(Pokes::default()),
            poke_cv: Condvar::new(),
        })
    });
    if start {
        spawn(w);
    }
}

/// A budget changed: look now (starting the watcher if it was not running).
pub fn poke() {
    if let Some(w) = WATCHER.get() {
        spawn(w);
        w.poke.lock().budget = true;
        w.poke_cv.notify_all();
    }
}

/// The agent exited and the host is about to store the final figures: from now on the
/// watcher stores none. Returns once a store of the watcher's under way (it checks and
/// stores under the host's store lock) is done, so the final figures are the last.
pub fn finalizing(shared: &Shared) {
    if let Some(w) = WATCHER.get() {
        w.finalizing.store(true, Ordering::SeqCst);
    }
    let _ = shared.with_store(&mut |_| Ok(()));
}

/// The agent's turn ended (the session moved to `waiting_input`): store its usage, for the
/// usage series (starting the watcher if it was not running). Nothing for an agent whose
/// usage is unknown.
pub fn turn_ended() {
    if let Some(w) = WATCHER.get().filter(|w| w.tracks_usage) {
        spawn(w);
        w.poke.lock().turn = true;
        w.poke_cv.notify_all();
    }
}

fn spawn(w: &Arc<Watcher>) {
    if w.running.swap(true, Ordering::SeqCst) {
        return;
    }
    let w = w.clone();
    let started = std::thread::Builder::new()
        .name("budget".into())
        .stack_size(STACK)
        .spawn(move || {
            Watch {
                budgeted: true,
                ..Watch::default()
            }
            .run(&w)
        });
    if let Err(e) = started {
        eprintln!("agent-sessions host: no budget watcher: {e}");
    }
}

/// Which budget a figure is checked against.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Session,
    Task,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Session => "session",
            Scope::Task => "task",
        }
    }
}

/// What one budget has already seen in this host run.
#[derive(Default, Clone, Copy)]
struct Marks {
    /// The budget these marks belong to (a changed budget starts over).
    budget: Option<Budget>,
    warned: bool,
    exceeded: bool,
    /// Tokens spent when `interrupt` last acted: it acts again only past them.
    acted_at_tokens: u64,
}

#[derive(Default)]
struct Watch {
    session: Marks,
    task: Marks,
    usage: Option<TokenUsage>,
    /// A task budget applied at the last look: idle wake-ups read the task's total.
    task_budget: bool,
    /// The session had a budget or a task at the last look (or it has not looked yet): the
    /// watcher wakes on a timer. Else only a poke or a turn's end wakes it.
    budgeted: bool,
    /// A turn ended at the last look: look once more after [`ACTIVE_INTERVAL`].
    settle: bool,
}

impl Watch {
    fn run(&mut self, w: &Watcher) {
        let shared = &w.shared;
        let mut seen = shared.activity_seq();
        let mut interval = ACTIVE_INTERVAL;
        // A resumed session may be over its budget already: look once at the start.
        let mut look_again = true;
        loop {
            let pokes = {
                let mut p = w.poke.lock();
                if !p.budget && !p.turn {
                    if self.budgeted || self.settle || look_again {
                        w.poke_cv.wait_for(&mut p, interval);
                    } else {
                        w.poke_cv.wait(&mut p);
                    }
                }
                std::mem::take(&mut *p)
            };
            if shared.ended().is_some() {
                return;
            }
            let now = shared.activity_seq();
            let turn = pokes.turn || std::mem::take(&mut self.settle);
            let active = now != seen || look_again || pokes.budget || turn;
            seen = now;
            if active {
                interval = ACTIVE_INTERVAL;
                self.settle = pokes.turn;
                look_again = match self.look(w, true, turn) {
                    Ok(changed) => changed,
                    Err(e) => {
                        // Look again after the interval, also without a budget: a turn's
                        // figures are then stored by the settle look.
                        eprintln!("agent-sessions host: budget check: {e}");
                        self.settle |= turn;
                        true
                    }
                };
            } else {
                interval = (interval * 2).min(IDLE_INTERVAL);
                if self.task_budget {
                    if let Err(e) = self.look(w, false, false) {
                        eprintln!("agent-sessions host: budget check: {e}");
                    }
                }
            }
        }
    }

    /// One look; `fresh` computes the agent's usage again when a budget applies or `turn`
    /// (a turn ended), else the last figures stand. Returns whether the usage changed.
    fn look(&mut self, w: &Watcher, fresh: bool, turn: bool) -> crate::model::error::Result<bool> {
        let shared = &w.shared;
        let id = shared.id().to_string();
        let task = shared.spec.task_id.clone();
        let mut own = None;
        let mut task_budget = None;
        let mut record = None;
        shared.with_store(&mut |s| {
            own = s.session_budget(&id)?;
            if let Some(t) = &task {
                task_budget = s.task_budget(t)?;
            }
            if fresh && (own.is_some() || task_budget.is_some() || turn) {
                record = s.get(&id)?;
            }
            Ok(())
        })?;
        self.task_budget = task_budget.is_some();
        self.budgeted = own.is_some() || task.is_some();
        let mut changed = false;
        if let Some(rec) = record {
            let u = telemetry::compute_usage(&w.home, &rec, &w.env);
            if self.usage.as_ref() != Some(&u) {
                changed = true;
                shared.with_store(&mut |s| {
                    if w.finalizing.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    telemetry::store_usage(s, &id, &u)
                })?;
                self.usage = Some(u);
            }
        }
        let Some(usage) = self.usage.clone() else {
            return Ok(changed);
        };
        if let Some(b) = own {
            let spent = Spent {
                usd: usage.cost_usd,
                tokens: usage.total_tokens().unwrap_or(0),
                estimated: usage.cost_estimated,
            };
            let mut marks = self.session;
            self.check(w, Scope::Session, &id, b, spent, &mut marks);
            self.session = marks;
        }
        if let (Some(b), Some(t)) = (task_budget, &task) {
            let mut spent = Spent::default();
            shared.with_store(&mut |s| {
                spent = s.task_spent(t)?;
                Ok(())
            })?;
            let mut marks = self.task;
            self.check(w, Scope::Task, t, b, spent, &mut marks);
            self.task = marks;
        }
        Ok(changed)
    }

    fn check(
        &self,
        w: &Watcher,
        scope: Scope,
        owner: &str,
        budget: Budget,
        spent: Spent,
        marks: &mut Marks,
    ) {
        if marks.budget != Some(budget) {
            *marks = Marks {
                budget: Some(budget),
                ..Marks::default()
            };
        }
        let a = budget.assess(&spent);
        match a.level {
            Level::Under => {}
            Level::Warning if !marks.warned => {
                marks.warned = true;
                record(
                    w,
                    kind::BUDGET_WARNING,
                    scope,
                    owner,
                    &budget,
                    &spent,
                    &a,
                    None,
                );
            }
            Level::Warning => {}
            Level::Exceeded => {
                let again = budget.on_budget == BudgetAction::Interrupt
                    && spent.tokens > marks.acted_at_tokens
                    && w.shared.state() == State::Running;
                if marks.exceeded && !again {
                    return;
                }
                let repeat = marks.exceeded;
                marks.warned = true;
                marks.exceeded = true;
                marks.acted_at_tokens = spent.tokens;
                let outcome = act(w, budget.on_budget, scope, owner);
                let action = json!({
                    "action": budget.on_budget,
                    "outcome": outcome,
                    "repeat": repeat,
                });
                record(
                    w,
                    kind::BUDGET_EXCEEDED,
                    scope,
                    owner,
                    &budget,
                    &spent,
                    &a,
                    Some(action),
                );
            }
        }
    }
}

/// Takes the budget's action; returns what happened, for the event.
fn act(w: &Watcher, action: BudgetAction, scope: Scope, owner: &str) -> String {
    let shared = &w.shared;
    match action {
        BudgetAction::Warn => "warned".into(),
        BudgetAction::Interrupt => {
            if shared.state() != State::Running {
                return format!("nothing to interrupt: the session is {}", shared.state());
            }
            shared.record_interrupt();
            match shared.send_interrupt() {
                Ok(()) => "interrupted".into(),
                Err(e) => format!("could not interrupt: {e}"),
            }
        }
        BudgetAction::Suspend | BudgetAction::Stop => {
            let suspend = action == BudgetAction::Suspend;
            let cause = format!(
                "{} budget of {} {owner} exceeded",
                if suspend { "suspend:" } else { "stop:" },
                scope.as_str()
            );
            let s = shared.clone();
            let req = StopRequest {
                timeout_secs: crate::config::defaults::DEFAULT_STOP_TIMEOUT.as_secs_f64(),
                force: false,
                suspend,
            };
            // The stop waits for the agent's end; this thread must go on (and end).
            let spawned = std::thread::Builder::new()
                .name("budget-stop".into())
                .spawn(move || stop::request_because(&s, req, &cause));
            match spawned {
                Ok(_) if suspend => "suspending".into(),
                Ok(_) => "stopping".into(),
                Err(e) => format!("could not stop: {e}"),
            }
        }
    }
}

/// Records a budget event and runs the event hooks on it.
#[allow(clippy::too_many_arguments)]
fn record(
    w: &Watcher,
    event: &str,
    scope: Scope,
    owner: &str,
    budget: &Budget,
    spent: &Spent,
    a: &Assessment,
    action: Option<serde_json::Value>,
) {
    let shared = &w.shared;
    let mut data = json!({
        "scope": scope.as_str(),
        "owner": owner,
        "budget": budget,
        "spent": spent,
        "share": (a.share * 1000.0).round() / 1000.0,
        "estimated": spent.estimated,
    });
    if let (Some(obj), Some(serde_json::Value::Object(more))) = (data.as_object_mut(), action) {
        obj.extend(more);
    }
    let id = shared.id().to_string();
    let stored = shared.with_store(&mut |s| s.record_event(&id, "host", event, &data).map(|_| ()));
    if let Err(e) = stored {
        eprintln!("agent-sessions host: recording {event}: {e}");
    }
    crate::services::status_hooks::fire_event(
        w.home.root(),
        &crate::services::status_hooks::FiredEvent {
            session_id: &id,
            kind: event,
            agent: Some(shared.spec.agent_type.as_str()),
            task: shared.spec.task_id.as_deref(),
            template: shared.spec.template.as_deref(),
            data: &data,
        },
    );
}
