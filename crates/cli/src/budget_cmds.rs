//! `budget ID` and `tasks budget TASK`: set, clear or show a cost budget. Thin: the core
//! checks and stores it, and the session's host enforces it.

use crate::output::print_json;
use agent_sessions::{Budget, BudgetStatus, Result, SessionManager};
use clap::Args;

/// The options that set a budget; none of them shows it.
#[derive(Args, Debug)]
pub struct BudgetSet {
    /// Dollar limit (the agent's own cost, else the price table's estimate).
    #[arg(long, value_name = "USD", allow_negative_numbers = true)]
    pub usd: Option<f64>,
    /// Token limit (prompt, cached prompt and output together).
    #[arg(long, value_name = "N")]
    pub tokens: Option<u64>,
    /// What happens at the limit: warn, interrupt, suspend or stop [default: stop].
    #[arg(long, value_name = "ACTION")]
    pub on_budget: Option<String>,
    /// Remove the budget.
    #[arg(long, conflicts_with_all = ["usd", "tokens", "on_budget"])]
    pub clear: bool,
}

enum Wanted {
    Show,
    Set(Option<Budget>),
}

fn wanted(set: &BudgetSet) -> Result<Wanted> {
    if set.clear {
        return Ok(Wanted::Set(None));
    }
    match Budget::from_options(set.usd, set.tokens, set.on_budget.as_deref())? {
        Some(b) => Ok(Wanted::Set(Some(b))),
        None => Ok(Wanted::Show),
    }
}

/// `budget ID [--usd X] [--tokens N] [--on-budget A] [--clear]`.
pub fn session(mgr: &SessionManager, id: &str, set: &BudgetSet, json: bool) -> Result<()> {
    let status = match wanted(set)? {
        Wanted::Show => mgr.budget(id)?,
        Wanted::Set(b) => mgr.set_budget(id, b)?,
    };
    print(&status, json);
    Ok(())
}

/// `tasks budget TASK [--usd X] [--tokens N] [--on-budget A] [--clear]`.
pub fn task(mgr: &SessionManager, task: &str, set: &BudgetSet, json: bool) -> Result<()> {
    let status = match wanted(set)? {
        Wanted::Show => mgr.task_budget(task)?,
        Wanted::Set(b) => mgr.set_task_budget(task, b)?,
    };
    print(&status, json);
    Ok(())
}

fn print(s: &BudgetStatus, json: bool) {
    if json {
        print_json(s);
        return;
    }
    let usd = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("${v:.4}"));
    let spent = format!(
        "{} tokens, {}{}",
        s.spent.tokens,
        usd(s.spent.usd),
        if s.spent.estimated {
            " (estimated)"
        } else {
            ""
        }
    );
    match (&s.budget, &s.assessment) {
        (Some(b), Some(a)) => {
            let limits: Vec<String> = [
                b.usd.map(|u| format!("${u}")),
                b.tokens.map(|t| format!("{t} tokens")),
            ]
            .into_iter()
            .flatten()
            .collect();
            println!(
                "{} {}: budget {}, on budget: {}",
                s.scope,
                s.id,
                limits.join(" and "),
                b.on_budget
            );
            println!(
                "spent {spent}: {:.0}% ({})",
                a.share * 100.0,
                a.level.as_str()
            );
        }
        _ => println!("{} {}: no budget; spent {spent}", s.scope, s.id),
    }
}
