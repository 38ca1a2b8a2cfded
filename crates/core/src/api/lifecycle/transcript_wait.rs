//! Waiting for a Claude Code subagent transcript to hold the subagent's last message.
//!
//! Claude Code runs the `SubagentStop` hook before it has appended the subagent's last
//! assistant message to `agent_transcript_path` (seen with the real CLI: about 30 ms before).
//! Read at once, the transcript gives no usage, or a usage without the last request. So
//! `subagent_stop` first polls the file, reading only what was appended since its last look,
//! until one of:
//!
//! * its last user/assistant line is an assistant message with usage and a final stop reason
//!   (`end_turn`, `stop_sequence`, `max_tokens`, …: anything but `tool_use` and
//!   `pause_turn`). This is the normal case and ends the wait at the first look;
//! * its last user/assistant line is an assistant message with usage whose stop reason is not
//!   given (Claude Code writes a line per content block while it streams, with
//!   `stop_reason: null`), and the file has not changed for [`QUIET`];
//! * the deadline passes: [`DEFAULT_DEADLINE`], or `$AGENT_SESSIONS_TRANSCRIPT_WAIT` seconds
//!   (0 to [`MAX_DEADLINE`]). The caller then records what there is, with a note.
//!
//! A missing file is waited for too (Claude Code may not have flushed its first write yet).
//!
//! The main conversation's transcript lags the same way behind the screen and the `Stop`
//! hook: a snapshot of a session that has just come back to its prompt waits here too
//! (`api::manager::snapshots`), so it does not keep the conversation without its last answer.

use serde::Deserialize;
use serde_json::Value;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Environment variable overriding the default deadline (3 s), in seconds.
pub const TRANSCRIPT_WAIT_ENV: &str = "AGENT_SESSIONS_TRANSCRIPT_WAIT";
/// Longest wait for the transcript by default: far above the ~30 ms seen, short enough that
/// the orchestrator is not held up noticeably when the message never comes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3);
/// Upper bound of `$AGENT_SESSIONS_TRANSCRIPT_WAIT`: a hook must never block for long.
pub const MAX_DEADLINE: Duration = Duration::from_secs(30);
/// How long a transcript ending in an assistant message without stop reason must stay
/// unchanged to count as complete.
pub const QUIET: Duration = Duration::from_millis(300);
/// Time between two looks at the file.
const POLL: Duration = Duration::from_millis(20);

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The last message is a finished assistant message with usage.
    Final,
    /// The last message is an assistant message with usage and the file stopped growing.
    Settled,
    /// The deadline passed first (the file may not even exist).
    TimedOut,
    /// The file exists but cannot be read; waiting will not help.
    Unreadable,
}

/// The wait's deadline from `$AGENT_SESSIONS_TRANSCRIPT_WAIT`, and a warning when the value
/// is unusable (the default is used then).
pub(super) fn deadline_from_env() -> (Duration, Option<String>) {
    let Ok(v) = std::env::var(TRANSCRIPT_WAIT_ENV) else {
        return (DEFAULT_DEADLINE, None);
    };
    match v.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => (Duration::from_secs_f64(s).min(MAX_DEADLINE), None),
        _ => (
            DEFAULT_DEADLINE,
            Some(format!(
                "ignoring {TRANSCRIPT_WAIT_ENV}={v:?}: expected seconds from 0 to {}",
                MAX_DEADLINE.as_secs()
            )),
        ),
    }
}

/// Polls `path` until it holds the subagent's last message (see the module documentation)
/// or `deadline` passes.
pub(crate) fn wait_for_final_message(path: &Path, deadline: Duration) -> Outcome {
    let start = Instant::now();
    let mut probe = Probe::default();
    let mut seen: Option<(u64, Option<SystemTime>)> = None;
    let mut unchanged_since = start;
    loop {
        match std::fs::metadata(path) {
            Ok(m) => {
                let stamp = (m.len(), m.modified().ok());
                if seen != Some(stamp) {
                    seen = Some(stamp);
                    unchanged_since = Instant::now();
                    if probe.read_new(path, m.len()).is_err() {
                        return Outcome::Unreadable;
                    }
                }
                match probe.last() {
                    Some(Last::Assistant {
                        usage: true,
                        finished: true,
                    }) => return Outcome::Final,
                    Some(Last::Assistant {
                        usage: true,
                        finished: false,
                    }) if unchanged_since.elapsed() >= QUIET => return Outcome::Settled,
                    _ => {}
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Outcome::Unreadable,
        }
        let waited = start.elapsed();
        if waited >= deadline {
            return Outcome::TimedOut;
        }
        std::thread::sleep(POLL.min(deadline - waited));
    }
}

/// The last user or assistant line seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    User,
    Assistant { usage: bool, finished: bool },
}

/// What has been read of the file so far.
#[derive(Default)]
struct Probe {
    /// Bytes of complete lines read.
    offset: u64,
    /// The last user/assistant line among them.
    committed: Option<Last>,
    /// An unterminated last line that parses (a writer without a final newline), if it is a
    /// user/assistant line; it counts only until more is read.
    tentative: Option<Last>,
}

impl Probe {
    fn last(&self) -> Option<Last> {
        self.tentative.or(self.committed)
    }

    fn read_new(&mut self, path: &Path, len: u64) -> std::io::Result<()> {
        if len < self.offset {
            // Rewritten from the start: read it again.
            *self = Probe::default();
        }
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        let mut r = BufReader::new(f);
        let mut line = Vec::new();
        self.tentative = None;
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(());
            }
            if line.ends_with(b"\n") {
                self.offset += n as u64;
                if let Some(l) = classify(&line) {
                    self.committed = Some(l);
                }
            } else {
                self.tentative = classify(&line);
                return Ok(());
            }
        }
    }
}

/// Only what is needed of a transcript line; everything else (message content, tool results)
/// is skipped without being built. A line whose `message` is not an object is not counted.
#[derive(Deserialize)]
struct ProbeLine {
    #[serde(default, rename = "type")]
    kind: Option<Value>,
    #[serde(default)]
    message: Option<ProbeMessage>,
}

#[derive(Deserialize)]
struct ProbeMessage {
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

fn classify(line: &[u8]) -> Option<Last> {
    let l: ProbeLine = serde_json::from_slice(line).ok()?;
    match l.kind.as_ref().and_then(Value::as_str)? {
        "user" => Some(Last::User),
        "assistant" => {
            let m = l.message.as_ref();
            let finished = m
                .and_then(|m| m.stop_reason.as_ref())
                .and_then(Value::as_str)
                .is_some_and(|r| r != "tool_use" && r != "pause_turn");
            Some(Last::Assistant {
                usage: m
                    .and_then(|m| m.usage.as_ref())
                    .is_some_and(Value::is_object),
                finished,
            })
        }
        _ => None,
    }
}
