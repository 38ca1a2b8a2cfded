//! Cost budgets: a limit in US dollars and/or tokens on a session or on a task (all of its
//! sessions together), what to do when it is reached, and how figures compare with it.
//!
//! The session's host checks its budgets whenever the agent's usage may have changed
//! (see `host::budget`); a warning is recorded at [`WARN_FRACTION`] of a limit, and the
//! action when the limit is reached.

use crate::model::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A warning is recorded once usage reaches this share of a limit.
pub const WARN_FRACTION: f64 = 0.8;
/// The largest dollar limit taken (a bigger one is a typo, and is no limit anyway).
pub const MAX_USD: f64 = 1e9;

/// What happens when a budget is exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BudgetAction {
    /// Record `budget_exceeded` (and run the event hooks); the agent goes on.
    Warn,
    /// Interrupt the agent's turn, and every later turn that spends more.
    Interrupt,
    /// End the agent keeping its conversation (suspended, resumable).
    Suspend,
    /// Stop the session (the default: nothing is spent past the limit).
    #[default]
    Stop,
}

impl BudgetAction {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetAction::Warn => "warn",
            BudgetAction::Interrupt => "interrupt",
            BudgetAction::Suspend => "suspend",
            BudgetAction::Stop => "stop",
        }
    }
}

impl fmt::Display for BudgetAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BudgetAction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "warn" => Ok(BudgetAction::Warn),
            "interrupt" => Ok(BudgetAction::Interrupt),
            "suspend" => Ok(BudgetAction::Suspend),
            "stop" => Ok(BudgetAction::Stop),
            other => Err(Error::InvalidArgument(format!(
                "unknown budget action {other:?}: use warn, interrupt, suspend or stop"
            ))),
        }
    }
}

/// A limit on cost, tokens or both, and the action taken at it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Dollars (the agent's own figure, else the price table's estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    /// Tokens of every kind (prompt, cached prompt and output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// What happens at the limit.
    #[serde(default)]
    pub on_budget: BudgetAction,
}

impl Budget {
    /// A budget from the three options as every front door takes them; `None` when neither
    /// limit is given (an action alone is refused: it would limit nothing).
    pub fn from_options(
        usd: Option<f64>,
        tokens: Option<u64>,
        on_budget: Option<&str>,
    ) -> Result<Option<Budget>> {
        let on_budget = on_budget.map(str::parse).transpose()?;
        if usd.is_none() && tokens.is_none() {
            if on_budget.is_some() {
                return Err(Error::InvalidArgument(
                    "an on-budget action needs a limit: give a dollar or a token budget (--budget-usd, --budget-tokens)".into(),
                ));
            }
            return Ok(None);
        }
        let b = Budget {
            usd,
            tokens,
            on_budget: on_budget.unwrap_or_default(),
        };
        b.check()?;
        Ok(Some(b))
    }

    /// Checks the limits: dollars a finite number above 0 and at most [`MAX_USD`], tokens
    /// at least 1, and one of them given.
    pub fn check(&self) -> Result<()> {
        if let Some(usd) = self.usd {
            if !usd.is_finite() || usd <= 0.0 || usd > MAX_USD {
                return Err(Error::InvalidArgument(format!(
                    "a dollar budget is a number above 0 and at most {MAX_USD}, not {usd}"
                )));
            }
        }
        if self.tokens == Some(0) {
            return Err(Error::InvalidArgument(
                "a token budget is at least 1 token".into(),
            ));
        }
        if self.usd.is_none() && self.tokens.is_none() {
            return Err(Error::InvalidArgument(
                "a budget needs a dollar or a token limit".into(),
            ));
        }
        Ok(())
    }

    /// How `used` compares with this budget: the highest level any limit reached, with the
    /// share of the fullest limit.
    pub fn assess(&self, used: &Spent) -> Assessment {
        let mut share: f64 = 0.0;
        if let (Some(limit), Some(usd)) = (self.usd, used.usd) {
            share = share.max(usd / limit);
        }
        if let Some(limit) = self.tokens {
            share = share.max(used.tokens as f64 / limit as f64);
        }
        let level = if share >= 1.0 {
            Level::Exceeded
        } else if share >= WARN_FRACTION {
            Level::Warning
        } else {
            Level::Under
        };
        Assessment { level, share }
    }
}

/// What a session or task has spent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Spent {
    /// Dollars; `None` when no figure or estimate is known.
    pub usd: Option<f64>,
    /// Tokens of every kind.
    pub tokens: u64,
    /// Some of the dollars are the price table's estimate, not the agent's own figure.
    pub estimated: bool,
}

/// How far usage has come towards a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Below the warning mark.
    Under,
    /// At or past [`WARN_FRACTION`] of a limit.
    Warning,
    /// A limit reached.
    Exceeded,
}

impl Level {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Under => "under",
            Level::Warning => "warning",
            Level::Exceeded => "exceeded",
        }
    }
}

/// A budget's level and the share of its fullest limit (1.0 = reached).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The level reached.
    pub level: Level,
    /// Usage over the fullest limit.
    pub share: f64,
}

/// A budget with what has been spent against it, as `budget` and `tasks budget` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// `session` or `task`.
    pub scope: String,
    /// The session id or the task id.
    pub id: String,
    /// The budget; `None` when none is set.
    pub budget: Option<Budget>,
    /// What has been spent (for a task: all of its sessions, as their hosts last stored it).
    pub spent: Spent,
    /// How the spending compares with the budget; `None` without a budget.
    pub assessment: Option<Assessment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert_eq!(Budget::from_options(None, None, None).unwrap(), None);
        assert!(Budget::from_options(None, None, Some("stop")).is_err());
        let b = Budget::from_options(Some(2.0), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(b.on_budget, BudgetAction::Stop);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
            assert!(
                Budget::from_options(Some(bad), None, None).is_err(),
                "{bad}"
            );
        }
        assert!(Budget::from_options(None, Some(0), None).is_err());
        assert!(Budget::from_options(None, Some(5), Some("explode")).is_err());
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"usd":2.0,"on_budget":"stop"}"#);
        assert!(serde_json::from_str::<Budget>(r#"{"usd":1,"oops":2}"#).is_err());
    }

    #[test]
    fn the_fullest_limit_decides() {
        let b = Budget {
            usd: Some(1.0),
            tokens: Some(1000),
            on_budget: BudgetAction::Warn,
        };
        let at = |usd: Option<f64>, tokens| {
            b.assess(&Spent {
                usd,
                tokens,
                estimated: false,
            })
            .level
        };
        assert_eq!(at(Some(0.1), 100), Level::Under);
        assert_eq!(at(Some(0.8), 100), Level::Warning);
        assert_eq!(at(None, 850), Level::Warning);
        assert_eq!(at(Some(0.2), 1000), Level::Exceeded);
        assert_eq!(at(Some(1.5), 0), Level::Exceeded);
    }
}
