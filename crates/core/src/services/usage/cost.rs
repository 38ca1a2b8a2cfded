//! Cost figures the agents report: which ones count, and how they add up.
//!
//! A reported figure is a cost only when it is a finite number from 0 to [`MAX_COST_USD`].
//! Anything else (negative, NaN, infinite, absurdly large) is not a cost: it is ignored as if
//! the agent had reported none, so [`super::fill_cost`] may estimate one, and the line (or
//! document, or row) holding it is counted in `skipped_lines` like a malformed line.
//!
//! Figures that are each plausible can still add up past [`MAX_COST_USD`] (an agent writing
//! huge per-step costs). Such a sum is not clamped, since a clamped figure would read like a
//! real bill: the cost is unknown (`None`) and `source` gets [`SUM_TOO_LARGE`] appended, so
//! whoever reads the usage sees why (a price-table estimate may still follow it).

use super::TokenUsage;
use serde_json::Value;

/// More than any agent session costs, in USD: a figure (or sum) above it is garbage.
pub(crate) const MAX_COST_USD: f64 = 1e9;

/// Appended to `source` (after a `+`) when the reported figures add up past [`MAX_COST_USD`].
pub(crate) const SUM_TOO_LARGE: &str = "cost-unknown:sum-too-large";

/// One cost figure as the agent reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Figure {
    /// No figure, or not a number (an unknown shape, ignored silently like other odd JSON).
    Absent,
    Cost(f64),
    /// A number that is not a cost; the caller counts its line as malformed.
    Rejected,
}

pub(crate) fn figure(v: Option<&Value>) -> Figure {
    let Some(f) = v.and_then(Value::as_f64) else {
        return Figure::Absent;
    };
    if f.is_finite() && (0.0..=MAX_COST_USD).contains(&f) {
        // `+ 0.0` turns -0.0 into 0.0, so a zero cost never serializes as "-0.0".
        Figure::Cost(f + 0.0)
    } else {
        Figure::Rejected
    }
}

/// A running sum of reported cost figures.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CostSum {
    total: Option<f64>,
    too_large: bool,
}

impl CostSum {
    /// Adds one reported figure. Returns false when the figure was rejected (see the module
    /// docs): it is left out of the sum and the caller counts its line as malformed.
    pub(crate) fn add(&mut self, v: Option<&Value>) -> bool {
        match figure(v) {
            Figure::Absent => true,
            Figure::Cost(c) => {
                let t = self.total.unwrap_or(0.0) + c;
                self.too_large |= t > MAX_COST_USD;
                self.total = Some(t);
                true
            }
            Figure::Rejected => false,
        }
    }

    /// Whether any figure was added (even if the sum became unknown).
    pub(crate) fn seen(&self) -> bool {
        self.total.is_some()
    }

    /// The sum, `None` when no figure was added or the sum is past [`MAX_COST_USD`].
    pub(crate) fn total(&self) -> Option<f64> {
        self.total.filter(|_| !self.too_large)
    }

    /// Whether the figures added up past [`MAX_COST_USD`].
    pub(crate) fn too_large(&self) -> bool {
        self.too_large
    }
}

/// Records in `u.source` that the reported cost figures added up to no believable cost.
pub(crate) fn note_sum_too_large(u: &mut TokenUsage) {
    u.source = Some(match u.source.take() {
        Some(s) if !s.is_empty() => format!("{s}+{SUM_TOO_LARGE}"),
        _ => SUM_TOO_LARGE.to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_plausible_numbers_are_costs() {
        assert_eq!(figure(None), Figure::Absent);
        assert_eq!(figure(Some(&json!(null))), Figure::Absent);
        assert_eq!(figure(Some(&json!("0.5"))), Figure::Absent);
        assert_eq!(figure(Some(&json!(0.5))), Figure::Cost(0.5));
        assert_eq!(figure(Some(&json!(0))), Figure::Cost(0.0));
        let Figure::Cost(z) = figure(Some(&json!(-0.0))) else {
            panic!("-0.0 is a zero cost");
        };
        assert!(z.is_sign_positive());
        assert_eq!(figure(Some(&json!(-5))), Figure::Rejected);
        assert_eq!(figure(Some(&json!(-0.01))), Figure::Rejected);
        assert_eq!(figure(Some(&json!(1e308))), Figure::Rejected);
        assert_eq!(figure(Some(&json!(u64::MAX))), Figure::Rejected);
        assert_eq!(
            figure(Some(&json!(MAX_COST_USD))),
            Figure::Cost(MAX_COST_USD)
        );
    }

    #[test]
    fn sums_past_the_limit_are_unknown() {
        let mut s = CostSum::default();
        assert!(!s.seen());
        assert_eq!(s.total(), None);
        assert!(s.add(Some(&json!(0.25))));
        assert!(!s.add(Some(&json!(-5))));
        assert!(s.add(None));
        assert_eq!(s.total(), Some(0.25));
        assert!(s.add(Some(&json!(MAX_COST_USD))));
        assert!(s.too_large());
        assert!(s.seen());
        assert_eq!(s.total(), None);
        let mut u = TokenUsage {
            source: Some("opencode-run-json".into()),
            ..Default::default()
        };
        note_sum_too_large(&mut u);
        assert_eq!(
            u.source.as_deref(),
            Some("opencode-run-json+cost-unknown:sum-too-large")
        );
    }
}
