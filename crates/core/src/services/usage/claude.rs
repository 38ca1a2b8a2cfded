//! Claude Code: `-p --output-format json`, `-p --output-format stream-json --verbose`, and the
//! project transcript `~/.claude/projects/<cwd-slug>/<session-id>.jsonl`.
//! All shapes here were checked against real captures (Claude Code 2.1.197).

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::model::error::Result;

use super::cost::{figure, Figure};
use super::{for_each_line, json_u64, open_optional, ModelTally, TokenUsage, Tokens};

/// Parses the single JSON document printed by `claude -p --output-format json`.
///
/// Which figure wins: when the result carries a non-empty `modelUsage`, its entries are summed.
/// `modelUsage` covers every API request of the run (Claude Code sends an auxiliary request
/// besides the main one, possibly to another model) and is what `total_cost_usd` is computed
/// from, while the top-level `usage` only covers the main conversation request(s). The
/// top-level `usage` is used only when `modelUsage` is absent or empty (e.g. the
/// "Not logged in" result, which reports zeros). `total_cost_usd` is kept as the cost
/// (`cost_estimated == false`), even when it is 0. `model` is the `modelUsage` key with the
/// highest cost (e.g. `claude-opus-4-8[1m]`, suffix kept as reported).
///
/// With `--verbose` the output is a JSON array of events; the last `result` element is used.
/// When the text is not one JSON document (stray output around it), the last line that is a
/// JSON object is used and `skipped_lines` is 1. A cost figure that is not a cost (negative,
/// or past the believable: see `usage::cost`) is ignored and `skipped_lines` is 1 too.
pub fn parse_claude_print_json(json: &str) -> TokenUsage {
    let mut u = TokenUsage::with_source("claude-print-json");
    let v: Value = match serde_json::from_str(json.trim()) {
        Ok(v) => v,
        Err(_) => {
            // stray text around the document (a warning printed to stdout): use the last
            // line that is a JSON object on its own
            let last = json
                .lines()
                .rev()
                .map(str::trim)
                .filter(|l| l.starts_with('{'))
                .find_map(|l| serde_json::from_str::<Value>(l).ok());
            u.skipped_lines = 1;
            match last {
                Some(v) => v,
                None => return u,
            }
        }
    };
    let result = match &v {
        Value::Array(items) => items
            .iter()
            .rev()
            .find(|e| e.get("type").and_then(Value::as_str) == Some("result")),
        Value::Object(_) => Some(&v),
        _ => None,
    };
    if let Some(r) = result {
        let mut rejected = false;
        apply_result(r, &mut u, &mut rejected);
        if rejected {
            u.skipped_lines = 1;
        }
    }
    u
}

/// Tokens, cost and model of a `{"type":"result", ...}` object. Returns false when it holds
/// neither `modelUsage` nor `usage`. Sets `rejected` when a cost figure in it is not a cost
/// (it is then ignored: a rejected `total_cost_usd` leaves the cost unknown).
fn apply_result(r: &Value, u: &mut TokenUsage, rejected: &mut bool) -> bool {
    let mut found = false;
    if let Some(mu) = r.get("modelUsage").and_then(Value::as_object) {
        if !mu.is_empty() {
            let mut total = Tokens::default();
            let mut best: Option<(&str, f64, u64)> = None;
            for (model, e) in mu {
                let t = Tokens {
                    input: json_u64(e.get("inputTokens")),
                    output: json_u64(e.get("outputTokens")),
                    cache_read: json_u64(e.get("cacheReadInputTokens")),
                    cache_write: json_u64(e.get("cacheCreationInputTokens")),
                };
                total.add(&t);
                let cost = match figure(e.get("costUSD")) {
                    Figure::Cost(c) => c,
                    Figure::Absent => 0.0,
                    Figure::Rejected => {
                        *rejected = true;
                        0.0
                    }
                };
                let w = t.weight();
                if best.is_none_or(|(_, bc, bw)| cost > bc || (cost == bc && w > bw)) {
                    best = Some((model.as_str(), cost, w));
                }
            }
            u.apply(&total);
            u.model = best.map(|b| b.0.to_string());
            found = true;
        }
    }
    if !found {
        if let Some(us) = r.get("usage").filter(|x| x.is_object()) {
            u.apply(&anthropic_tokens(us));
            found = true;
        }
    }
    match figure(r.get("total_cost_usd")) {
        Figure::Cost(c) => {
            u.cost_usd = Some(c);
            u.cost_estimated = false;
        }
        Figure::Rejected => *rejected = true,
        Figure::Absent => {}
    }
    found
}

fn anthropic_tokens(us: &Value) -> Tokens {
    Tokens {
        input: json_u64(us.get("input_tokens")),
        output: json_u64(us.get("output_tokens")),
        cache_read: json_u64(us.get("cache_read_input_tokens")),
        cache_write: json_u64(us.get("cache_creation_input_tokens")),
    }
}

/// Parses `claude -p --output-format stream-json --verbose` output.
///
/// The final `result` event is authoritative (same rules as [`parse_claude_print_json`];
/// with several results, e.g. multi-turn `--input-format stream-json`, the last one wins since
/// its `modelUsage` and `total_cost_usd` are cumulative for the process). When the stream has
/// no result (killed mid-run), the `assistant` events are summed instead, counting each
/// `message.id` once with the per-field maximum (assistant events carry streaming snapshots,
/// e.g. `output_tokens: 1`), and the cost stays unknown.
pub fn parse_claude_stream_json<R: BufRead>(reader: R) -> std::io::Result<TokenUsage> {
    let mut result: Option<TokenUsage> = None;
    let mut msgs = DedupMessages::default();
    let mut init_model: Option<String> = None;
    let skipped = for_each_line(reader, |line| {
        let v: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(_) => return false,
        };
        match v.get("type").and_then(Value::as_str) {
            Some("result") => {
                let mut u = TokenUsage::with_source("claude-stream-json");
                let mut rejected = false;
                if apply_result(&v, &mut u, &mut rejected) || u.cost_usd.is_some() {
                    result = Some(u);
                }
                // A cost that is not one: the line's tokens count, the line is malformed.
                return !rejected;
            }
            Some("assistant") => {
                if let Some(m) = v.get("message") {
                    if let Some(us) = m.get("usage").filter(|x| x.is_object()) {
                        msgs.add(
                            m.get("id").and_then(Value::as_str),
                            m.get("model").and_then(Value::as_str),
                            anthropic_tokens(us),
                        );
                    }
                }
            }
            Some("system") => {
                if let Some(m) = v.get("model").and_then(Value::as_str) {
                    init_model = Some(m.to_string());
                }
            }
            _ => {}
        }
        true
    })?;
    let mut u = match result {
        Some(mut u) => {
            if u.model.is_none() {
                u.model = init_model.or_else(|| msgs.model());
            }
            u
        }
        None => {
            let mut u = TokenUsage::with_source("claude-stream-json");
            u.apply(&msgs.total());
            u.model = msgs.model().or(init_model);
            u
        }
    };
    u.skipped_lines = skipped;
    Ok(u)
}

/// Assistant messages keyed by id, per-field maximum per id.
#[derive(Default)]
struct DedupMessages {
    by_id: HashMap<String, (Tokens, Option<usize>)>,
    anonymous: Vec<(Tokens, Option<usize>)>,
    models: Vec<String>,
}

impl DedupMessages {
    fn model_index(&mut self, model: Option<&str>) -> Option<usize> {
        let m = model?;
        if let Some(i) = self.models.iter().position(|x| x == m) {
            return Some(i);
        }
        self.models.push(m.to_string());
        Some(self.models.len() - 1)
    }

    fn add(&mut self, id: Option<&str>, model: Option<&str>, t: Tokens) {
        let mi = self.model_index(model);
        match id {
            Some(id) if !id.is_empty() => {
                if let Some(e) = self.by_id.get_mut(id) {
                    e.0.max_with(&t);
                    if mi.is_some() {
                        e.1 = mi;
                    }
                } else {
                    self.by_id.insert(id.to_string(), (t, mi));
                }
            }
            _ => self.anonymous.push((t, mi)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &(Tokens, Option<usize>)> {
        self.by_id.values().chain(self.anonymous.iter())
    }

    fn total(&self) -> Tokens {
        let mut t = Tokens::default();
        for (x, _) in self.iter() {
            t.add(x);
        }
        t
    }

    fn model(&self) -> Option<String> {
        let mut tally = ModelTally::new();
        for (t, mi) in self.iter() {
            if let Some(i) = mi {
                tally.add(&self.models[*i], t.weight());
            }
        }
        tally.best()
    }

    fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.anonymous.is_empty()
    }
}

/// Usage recorded in a Claude Code project transcript (`<session-id>.jsonl`).
///
/// Every line with a `message.usage` object counts (main chain and sidechains alike), each
/// `message.id` once: Claude Code writes the same message again (one line per content block,
/// and again as usage grows), so per id the per-field maximum is kept. Lines without a
/// message id are counted individually. The transcript has no cost (`cost_usd` stays `None`,
/// use [`super::fill_cost`]); `model` is the model with the most tokens.
///
/// Note: the transcript records only the main conversation's requests. Claude Code's auxiliary
/// request (seen in the captures: two API requests per prompt) is not in it, so these totals
/// can be lower than `-p --output-format json`'s `modelUsage`.
///
/// Missing file: `Ok(None)`.
pub fn claude_transcript_usage(path: &Path) -> Result<Option<TokenUsage>> {
    let Some(reader) = open_optional(path)? else {
        return Ok(None);
    };
    let mut msgs = DedupMessages::default();
    let skipped = for_each_line(reader, |line| {
        match serde_json::from_slice::<TranscriptLine>(line) {
            Ok(l) => {
                if let Some(m) = l.message {
                    if let Some(t) = m.usage {
                        msgs.add(m.id.as_deref(), m.model.as_deref(), t);
                    }
                }
                true
            }
            Err(_) => false,
        }
    })
    .map_err(|e| super::io_err(path, e))?;
    let mut u = TokenUsage::with_source("claude-transcript");
    if !msgs.is_empty() {
        u.apply(&msgs.total());
        u.model = msgs.model();
    }
    u.skipped_lines = skipped;
    Ok(Some(u))
}

// --- fast, tolerant transcript line parsing -------------------------------------------------
//
// Transcript lines are big (tool results, file contents). They are parsed with serde into a
// struct that only keeps `message.{id,model,usage}` and skips everything else without
// allocating. `message` and `usage` accept any JSON type (non-objects are ignored), so only
// lines that are not valid JSON fail.

#[derive(Deserialize)]
struct TranscriptLine {
    #[serde(default)]
    message: Option<LenientMessage>,
}

#[derive(Default)]
struct LenientMessage {
    id: Option<String>,
    model: Option<String>,
    usage: Option<Tokens>,
}

impl<'de> Deserialize<'de> for LenientMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

macro_rules! ignore_scalars {
    ($ty:ty) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<$ty, E> {
            Ok(Default::default())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = LenientMessage;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    ignore_scalars!(LenientMessage);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientMessage, A::Error> {
        let mut m = LenientMessage::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            match key {
                KeyName::Id => m.id = map.next_value::<LenientString>()?.0,
                KeyName::Model => m.model = map.next_value::<LenientString>()?.0,
                KeyName::Usage => m.usage = map.next_value::<LenientUsage>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(m)
    }
}

/// Object keys we care about, recognised without allocating.
enum KeyName {
    Id,
    Model,
    Usage,
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Other,
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyName, E> {
                Ok(match s {
                    "id" => KeyName::Id,
                    "model" => KeyName::Model,
                    "usage" => KeyName::Usage,
                    "input_tokens" => KeyName::Input,
                    "output_tokens" => KeyName::Output,
                    "cache_read_input_tokens" => KeyName::CacheRead,
                    "cache_creation_input_tokens" => KeyName::CacheWrite,
                    _ => KeyName::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

#[derive(Default)]
struct LenientString(Option<String>);

impl<'de> Deserialize<'de> for LenientString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LenientString, E> {
                Ok(LenientString(Some(s.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientString, E> {
                Ok(LenientString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<LenientString, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<LenientString, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientString(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Default)]
struct LenientUsage(Option<Tokens>);

impl<'de> Deserialize<'de> for LenientUsage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientUsage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            ignore_scalars!(LenientUsage);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientUsage, A::Error> {
                let mut t = Tokens::default();
                while let Some(key) = map.next_key::<KeyName>()? {
                    let slot = match key {
                        KeyName::Input => &mut t.input,
                        KeyName::Output => &mut t.output,
                        KeyName::CacheRead => &mut t.cache_read,
                        KeyName::CacheWrite => &mut t.cache_write,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = map.next_value::<LenientU64>()?.0;
                }
                Ok(LenientUsage(Some(t)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Default)]
struct LenientU64(Option<u64>);

impl<'de> Deserialize<'de> for LenientU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientU64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<LenientU64, E> {
                Ok(LenientU64(None))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientU64, E> {
                Ok(LenientU64(u64::try_from(v).ok()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientU64, E> {
                Ok(LenientU64(Some(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientU64, E> {
                Ok(LenientU64((v.is_finite() && v >= 0.0).then_some(v as u64)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<LenientU64, E> {
                Ok(LenientU64(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientU64, E> {
                Ok(LenientU64(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<LenientU64, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientU64(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<LenientU64, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientU64(None))
            }
        }
        d.deserialize_any(V)
    }
}
