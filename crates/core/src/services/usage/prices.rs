//! The embedded, versioned price table (`crates/core/data/prices.json`) and cost estimates.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::TokenUsage;

const PRICES_JSON: &str = include_str!("../../../data/prices.json");

/// List prices of one model in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

/// The parsed price table.
#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    version: String,
    source: String,
    models: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// e.g. "2026-11-01"
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the prices come from.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Price of a model as an agent names it: exact key after normalisation (lower case; no
    /// provider prefix such as `anthropic/`, `models/`, `us.anthropic.`; no `[1m]`, `@date` or
    /// `:0` suffix), else the longest key that the name continues with `-` (dated and minor
    /// versions fall back to their family). Returns the key used.
    pub fn lookup(&self, model: &str) -> Option<(&str, &ModelPrice)> {
        let name = normalize_model(model);
        if name.is_empty() {
            return None;
        }
        if let Some((k, p)) = self.models.get_key_value(name.as_str()) {
            return Some((k.as_str(), p));
        }
        self.models
            .iter()
            .filter(|(k, _)| {
                name.len() > k.len()
                    && name.starts_with(k.as_str())
                    && name.as_bytes()[k.len()] == b'-'
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(k, p)| (k.as_str(), p))
    }
}

fn normalize_model(model: &str) -> String {
    let mut s = model.trim().to_ascii_lowercase();
    if let Some(i) = s.find('[') {
        s.truncate(i);
    }
    if let Some(i) = s.rfind('/') {
        s.drain(..=i);
    }
    if let Some(i) = s.find('@') {
        s.truncate(i);
    }
    if let Some(i) = s.find(':') {
        s.truncate(i);
    }
    // Bedrock style ids: "us.anthropic.claude-sonnet-4-20250514-v1"
    if let Some(i) = s.find("claude-") {
        s.drain(..i);
        if let Some(stripped) = s.strip_suffix("-v1") {
            s = stripped.to_string();
        }
    }
    s.trim().to_string()
}

/// The embedded price table. Parsed once; should the embedded file ever fail to parse (a unit
/// test guards against it), the table is empty and every estimate is `None`.
pub fn price_table() -> &'static PriceTable {
    static TABLE: OnceLock<PriceTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(PRICES_JSON).unwrap_or_else(|_| PriceTable {
            version: "invalid".into(),
            source: String::new(),
            models: BTreeMap::new(),
        })
    })
}

/// Estimated cost in USD of `usage` at `model`'s list prices, or `None` when the model is not
/// in the table or no token figure is known. Missing figures count as 0. Long-context
/// (>200k-token prompt) surcharges and batch/priority tiers are not modelled. Token figures
/// so large that the estimate passes the believable (see `cost.rs`) give `None` too.
pub fn estimate_cost(usage: &TokenUsage, model: &str) -> Option<f64> {
    if !usage.has_tokens() {
        return None;
    }
    let (_, p) = price_table().lookup(model)?;
    let n = |v: Option<u64>| v.unwrap_or(0) as f64;
    let cost = (n(usage.tokens_input) * p.input
        + n(usage.tokens_output) * p.output
        + n(usage.tokens_cache_read) * p.cache_read
        + n(usage.tokens_cache_write) * p.cache_write)
        / 1_000_000.0;
    (cost.is_finite() && (0.0..=super::cost::MAX_COST_USD).contains(&cost)).then_some(cost)
}

/// Sets `cost_usd` from the price table (and `cost_estimated = true`, and appends
/// `+price-table:<version>` to `source`) when the agent reported no cost and `usage.model` is
/// priced. A cost reported by the agent is never replaced.
pub fn fill_cost(usage: &mut TokenUsage) {
    if usage.cost_usd.is_some() {
        return;
    }
    let Some(model) = usage.model.as_deref() else {
        return;
    };
    let Some(cost) = estimate_cost(usage, model) else {
        return;
    };
    usage.cost_usd = Some(cost);
    usage.cost_estimated = true;
    let tag = format!("price-table:{}", price_table().version());
    usage.source = Some(match usage.source.take() {
        Some(s) if !s.is_empty() => format!("{s}+{tag}"),
        _ => tag,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses() {
        let t: PriceTable = serde_json::from_str(PRICES_JSON).expect("prices.json");
        assert_eq!(t.version(), "2026-11-01");
        assert!(!t.source().is_empty());
        assert!(t.models.len() > 20);
    }

    #[test]
    fn lookups() {
        let t = price_table();
        let key = |m: &str| t.lookup(m).map(|(k, _)| k.to_string());
        assert_eq!(
            key("claude-opus-4-8[1m]").as_deref(),
            Some("claude-opus-4-8")
        );
        assert_eq!(key("claude-opus-4-7").as_deref(), Some("claude-opus-4"));
        assert_eq!(
            key("claude-opus-4-1-20250805").as_deref(),
            Some("claude-opus-4-1")
        );
        assert_eq!(
            key("claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            key("anthropic/claude-haiku-4-5").as_deref(),
            Some("claude-haiku-4-5")
        );
        assert_eq!(
            key("us.anthropic.claude-sonnet-4-20250514-v1:0").as_deref(),
            Some("claude-sonnet-4")
        );
        assert_eq!(key("GPT-5-Codex").as_deref(), Some("gpt-5-codex"));
        assert_eq!(
            key("openai/gpt-5.1-codex-max").as_deref(),
            Some("gpt-5.1-codex-max")
        );
        assert_eq!(
            key("models/gemini-2.5-pro").as_deref(),
            Some("gemini-2.5-pro")
        );
        assert_eq!(
            key("gemini-2.5-flash-lite-preview-09-2025").as_deref(),
            Some("gemini-2.5-flash-lite")
        );
        assert_eq!(key("gpt-4o"), None);
        assert_eq!(key("gpt-5.3"), None);
        assert_eq!(key(""), None);
    }
}
