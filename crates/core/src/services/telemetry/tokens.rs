//! Tokens and cost of a session: which source applies to it, and the cache of the result in
//! the `telemetry` table. The parsers themselves live in [`crate::services::usage`].

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::config::home::Home;
use crate::model::error::Result;
use crate::model::record::SessionRecord;
use crate::services::usage::{self, TokenUsage, START_SLACK_MS};
use crate::store::Store;

/// Where the agents keep their own records. [`UsageEnv::from_env`] reads the variables the
/// agents honour; tests and embedders can point it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEnv {
    /// The user's home (`$HOME`).
    pub user_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR` (default `~/.claude`).
    pub claude_config_dir: Option<PathBuf>,
    /// `$CODEX_HOME` (default `~/.codex`).
    pub codex_home: Option<PathBuf>,
    /// `$GEMINI_CLI_HOME`: Gemini CLI then uses `<it>/.gemini` instead of `~/.gemini`.
    pub gemini_cli_home: Option<PathBuf>,
    /// `$XDG_DATA_HOME` (opencode's database is `<it>/opencode/opencode.db`).
    pub xdg_data_home: Option<PathBuf>,
}

impl UsageEnv {
    /// From this process' environment. Empty variables count as unset.
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        UsageEnv {
            user_home: var("HOME").unwrap_or_else(|| PathBuf::from("/")),
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            codex_home: var("CODEX_HOME"),
            gemini_cli_home: var("GEMINI_CLI_HOME"),
            xdg_data_home: var("XDG_DATA_HOME"),
        }
    }

    /// [`UsageEnv::from_env`] with `env`'s values of the same variables on top: where an
    /// agent started with that extra environment keeps its records.
    pub fn from_env_with(env: &[(String, String)]) -> Self {
        let mut u = UsageEnv::from_env();
        for (k, v) in env.iter().filter(|(_, v)| !v.is_empty()) {
            let p = Some(PathBuf::from(v));
            match k.as_str() {
                "HOME" => u.user_home = PathBuf::from(v),
                "CLAUDE_CONFIG_DIR" => u.claude_config_dir = p,
                "CODEX_HOME" => u.codex_home = p,
                "GEMINI_CLI_HOME" => u.gemini_cli_home = p,
                "XDG_DATA_HOME" => u.xdg_data_home = p,
                _ => {}
            }
        }
        u
    }

    /// Everything under one fake home directory (no variable set).
    pub fn with_home(home: impl Into<PathBuf>) -> Self {
        UsageEnv {
            user_home: home.into(),
            claude_config_dir: None,
            codex_home: None,
            gemini_cli_home: None,
            xdg_data_home: None,
        }
    }

    /// This environment with the session's own `--env` values applied (`HOME`,
    /// `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`, `XDG_DATA_HOME`; an empty value
    /// unsets). Only the host knows these values: the store keeps the names only.
    pub fn with_overrides(mut self, env: &[(String, String)]) -> Self {
        for (k, v) in env {
            let p = (!v.is_empty()).then(|| PathBuf::from(v));
            match k.as_str() {
                "HOME" => {
                    if let Some(p) = p {
                        self.user_home = p;
                    }
                }
                "CLAUDE_CONFIG_DIR" => self.claude_config_dir = p,
                "CODEX_HOME" => self.codex_home = p,
                "GEMINI_CLI_HOME" => self.gemini_cli_home = p,
                "XDG_DATA_HOME" => self.xdg_data_home = p,
                _ => {}
            }
        }
        self
    }

    pub fn codex_home(&self) -> PathBuf {
        self.codex_home
            .clone()
            .unwrap_or_else(|| self.user_home.join(".codex"))
    }

    pub fn gemini_dir(&self) -> PathBuf {
        self.gemini_cli_home
            .as_deref()
            .unwrap_or(&self.user_home)
            .join(".gemini")
    }

    pub fn claude_dir(&self) -> PathBuf {
        self.claude_config_dir
            .clone()
            .unwrap_or_else(|| self.user_home.join(".claude"))
    }
}

/// The agent CLIs whose token records are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageAgent {
    Claude,
    Codex,
    Gemini,
    Opencode,
}

/// Which agent a session runs: its type when built in, else its program's file name (a
/// user-defined type or `custom -- claude ...` running one of the known CLIs).
pub fn usage_agent(record: &SessionRecord) -> Option<UsageAgent> {
    usage_agent_of(
        record.agent_type.as_deref(),
        record.command.first().map(String::as_str),
    )
}

/// [`usage_agent`] from a session's agent type and program.
pub fn usage_agent_of(agent_type: Option<&str>, program: Option<&str>) -> Option<UsageAgent> {
    let by_name = |n: &str| match n {
        "claude" => Some(UsageAgent::Claude),
        "codex" => Some(UsageAgent::Codex),
        "gemini" => Some(UsageAgent::Gemini),
        "opencode" => Some(UsageAgent::Opencode),
        _ => None,
    };
    agent_type.and_then(by_name).or_else(|| {
        let name = Path::new(program?).file_name()?.to_str()?;
        by_name(name)
    })
}

/// The value of `--name VALUE`, `--name=VALUE` or (for a short name) `-n VALUE`.
fn flag_value<'a>(args: &'a [String], long: &str, short: Option<&str>) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            return None;
        }
        if a == long || short.is_some_and(|s| a == s) {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

fn has_arg(args: &[String], names: &[&str]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| names.contains(&a.as_str()))
}

/// The machine-readable output mode a session's command line selects, if any:
/// `claude -p|--print --output-format json|stream-json`, `codex exec --json`,
/// `gemini --output-format|-o json|stream-json`, `opencode run --format json`.
pub fn print_mode(record: &SessionRecord) -> Option<PrintMode> {
    let args = record.command.get(1..).unwrap_or(&[]);
    match usage_agent(record)? {
        UsageAgent::Claude => {
            if !has_arg(args, &["-p", "--print"]) {
                return None;
            }
            match flag_value(args, "--output-format", None)? {
                "json" => Some(PrintMode::ClaudeJson),
                "stream-json" => Some(PrintMode::ClaudeStreamJson),
                _ => None,
            }
        }
        UsageAgent::Codex => (has_arg(args, &["exec", "e"])
            && has_arg(args, &["--json", "--experimental-json"]))
        .then_some(PrintMode::CodexExecJson),
        UsageAgent::Gemini => match flag_value(args, "--output-format", Some("-o"))? {
            "json" | "stream-json" => Some(PrintMode::GeminiJson),
            _ => None,
        },
        UsageAgent::Opencode => (has_arg(args, &["run"])
            && flag_value(args, "--format", None) == Some("json"))
        .then_some(PrintMode::OpencodeRunJson),
    }
}

/// A machine-readable output mode, parsed from the session's `output.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintMode {
    ClaudeJson,
    ClaudeStreamJson,
    CodexExecJson,
    GeminiJson,
    OpencodeRunJson,
}

/// Longest log tail read for the single-document formats (claude `json`, gemini).
const MAX_DOCUMENT_LOG: u64 = 64 << 20;

/// Parses a session's PTY log in `mode`, with escape sequences and carriage returns removed.
/// A missing log is `Ok(None)`.
pub fn parse_output_log(path: &Path, mode: PrintMode) -> io::Result<Option<TokenUsage>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let u = match mode {
        PrintMode::ClaudeJson | PrintMode::GeminiJson => {
            let len = f.metadata()?.len();
            if len > MAX_DOCUMENT_LOG {
                f.seek(SeekFrom::Start(len - MAX_DOCUMENT_LOG))?;
            }
            let mut bytes = Vec::new();
            CleanReader::new(f).read_to_end(&mut bytes)?;
            let text = String::from_utf8_lossy(&bytes);
            if mode == PrintMode::ClaudeJson {
                usage::parse_claude_print_json(&text)
            } else {
                usage::parse_gemini_json(&text)
            }
        }
        PrintMode::ClaudeStreamJson => usage::parse_claude_stream_json(clean(f))?,
        PrintMode::CodexExecJson => usage::parse_codex_exec_jsonl(clean(f))?,
        PrintMode::OpencodeRunJson => usage::parse_opencode_run_jsonl(clean(f))?,
    };
    Ok(Some(u))
}

fn clean(f: File) -> BufReader<CleanReader<File>> {
    BufReader::with_capacity(256 * 1024, CleanReader::new(f))
}

/// A reader that drops terminal escape sequences (CSI, OSC, DCS/APC/PM/SOS strings, two- and
/// three-byte ESC sequences), carriage returns and other C0 controls except `\n` and `\t`,
/// as a stream (a sequence split across reads is still removed). JSON text never holds raw
/// control characters, so nothing of a JSON document is lost.
pub struct CleanReader<R> {
    inner: R,
    state: Scan,
    raw: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Ground,
    Escape,
    Intermediate,
    Csi,
    Str,
    StrEscape,
}

impl<R: Read> CleanReader<R> {
    pub fn new(inner: R) -> Self {
        CleanReader {
            inner,
            state: Scan::Ground,
            raw: vec![0; 64 * 1024],
        }
    }

    fn feed(&mut self, b: u8) -> Option<u8> {
        use Scan::*;
        match self.state {
            Ground => match b {
                0x1b => {
                    self.state = Escape;
                    None
                }
                b'\n' | b'\t' => Some(b),
                0..=0x1f | 0x7f => None,
                _ => Some(b),
            },
            Escape => {
                self.state = match b {
                    b'[' => Csi,
                    b']' | b'P' | b'X' | b'^' | b'_' => Str,
                    0x20..=0x2f => Intermediate,
                    0x1b => Escape,
                    _ => Ground,
                };
                None
            }
            Intermediate => {
                if !(0x20..=0x2f).contains(&b) {
                    self.state = Ground;
                }
                None
            }
            Csi => {
                match b {
                    0x40..=0x7e => self.state = Ground,
                    0x1b => self.state = Escape,
                    _ => {}
                }
                None
            }
            Str => {
                match b {
                    0x07 => self.state = Ground,
                    0x1b => self.state = StrEscape,
                    _ => {}
                }
                None
            }
            StrEscape => {
                self.state = if b == b'\\' { Ground } else { Str };
                None
            }
        }
    }
}

impl<R: Read> Read for CleanReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let want = out.len().min(self.raw.len());
            let n = self.inner.read(&mut self.raw[..want])?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            for i in 0..n {
                if let Some(c) = self.feed(self.raw[i]) {
                    out[w] = c;
                    w += 1;
                }
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

pub fn iso_ms(s: Option<&str>) -> Option<i64> {
    s.and_then(crate::model::clock::parse_iso)
        .map(|t| t.timestamp_millis())
}

fn ms_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    }
}

pub fn now_ms() -> i64 {
    usage::system_time_ms(SystemTime::now())
}

/// The session's time window in unix ms: started (else created) to ended (else now).
fn window(record: &SessionRecord) -> (i64, i64) {
    let start = iso_ms(record.started_at.as_deref())
        .or_else(|| iso_ms(Some(&record.created_at)))
        .unwrap_or(0);
    let end = iso_ms(record.ended_at.as_deref()).unwrap_or_else(now_ms);
    (start, end.max(start))
}

/// Computes the token usage of a session, reading files only (no store access).
///
/// Which source wins, first match:
/// 1. the requests the agent reported to the session's host over OpenTelemetry
///    (`<session dir>/otel.jsonl`, see [`usage::otel_usage`]): exact, every request counted.
///    The agent's own records (below) are read too, as a check: they can only miss
///    requests, so should they show more of any figure, some export was lost; then each
///    figure is the larger of the two, the cost is estimated again, and `source` gets
///    `+lower-bound:records-show-more` (not exact);
/// 2. a machine-readable output mode on the command line ([`print_mode`]): the session's own
///    `output.log`, when it holds token figures or a cost (a run killed before its result
///    falls through);
/// 3. the agent's own session record: found by the agent's session id
///    (`record.agent_session_id`) when known, else by working folder and time window:
///    Claude Code project transcripts, Codex rollout files, Gemini CLI chats, opencode's
///    database;
/// 4. nothing: every token field `None`, `source` `None`.
///
/// Sources 2 and 3 are a lower bound (`exact` false). A cost the agent reported is kept;
/// otherwise [`usage::fill_cost`] estimates it from the price table and marks it estimated.
/// Unreadable files are treated like missing ones.
pub fn compute_usage(home: &Home, record: &SessionRecord, env: &UsageEnv) -> TokenUsage {
    let mut found = from_output_log(home, record).or_else(|| from_agent_records(record, env));
    if let Some(otel) = super::otel_tokens::from_otel(home, record) {
        let interrupted = super::otel_tokens::interrupted(record, env);
        return super::otel_tokens::checked_against(otel, found, interrupted);
    }
    match found.as_mut() {
        Some(u) => {
            usage::fill_cost(u);
            found.expect("just matched")
        }
        None => TokenUsage::default(),
    }
}

fn from_output_log(home: &Home, record: &SessionRecord) -> Option<TokenUsage> {
    let mode = print_mode(record)?;
    let log = home
        .session_dir(&record.session_id)
        .ok()?
        .join("output.log");
    let u = parse_output_log(&log, mode).ok()??;
    (u.has_tokens() || u.cost_usd.is_some()).then_some(u)
}

fn from_agent_records(record: &SessionRecord, env: &UsageEnv) -> Option<TokenUsage> {
    let agent = usage_agent(record)?;
    if agent == UsageAgent::Opencode {
        let cwd = PathBuf::from(record.workspace_path.as_deref()?);
        let sid = record.agent_session_id.as_deref().filter(|s| !s.is_empty());
        let started = ms_time(window(record).0);
        let db = usage::opencode_db_path(env.xdg_data_home.as_deref(), &env.user_home);
        let id = match sid {
            Some(id) => id.to_string(),
            None => usage::find_opencode_session(&db, &cwd, started).ok()??,
        };
        return usage::opencode_db_usage(&db, &id).ok()?;
    }
    let path = record_file(record, env)?;
    match agent {
        UsageAgent::Claude => usage::claude_transcript_usage(&path).ok()?,
        UsageAgent::Codex => usage::codex_rollout_usage(&path).ok()?,
        UsageAgent::Gemini => usage::gemini_chat_usage(&path).ok()?,
        UsageAgent::Opencode => None,
    }
}

/// The session's own record file of a Claude Code, Codex or Gemini CLI session (transcript,
/// rollout, chat): by the agent's session id when known, else by working folder and time
/// window. `None` for opencode (a database) and when none is found.
pub fn record_file(record: &SessionRecord, env: &UsageEnv) -> Option<PathBuf> {
    let agent = usage_agent(record)?;
    let cwd = PathBuf::from(record.workspace_path.as_deref()?);
    let sid = record.agent_session_id.as_deref().filter(|s| !s.is_empty());
    let (start, end) = window(record);
    let started = ms_time(start);
    match agent {
        UsageAgent::Claude => {
            let cfg = env.claude_config_dir.as_deref();
            match sid {
                Some(id) => usage::find_claude_transcript(cfg, &env.user_home, &cwd, id),
                None => find_claude_transcript_in_window(&env.claude_dir(), &cwd, start, end),
            }
        }
        UsageAgent::Codex => {
            let path = usage::find_codex_rollout(&env.codex_home(), sid, &cwd, started)?;
            if sid.is_none() && first_timestamp(&path, 1).is_some_and(|t| t > end + START_SLACK_MS)
            {
                return None; // began after this session ended: someone else's
            }
            Some(path)
        }
        UsageAgent::Gemini => usage::find_gemini_chat(&env.gemini_dir(), sid, &cwd, started),
        UsageAgent::Opencode => None,
    }
}

/// The first `timestamp` (RFC 3339) among a JSONL file's first `max_lines` lines.
fn first_timestamp(path: &Path, max_lines: usize) -> Option<i64> {
    use std::io::BufRead;
    let f = File::open(path).ok()?;
    let mut r = BufReader::new(f).take(4 << 20);
    let mut line = Vec::new();
    for _ in 0..max_lines {
        line.clear();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if let Some(t) = v.get("timestamp").and_then(Value::as_str) {
            return iso_ms(Some(t));
        }
    }
    None
}

/// The Claude Code transcript of a session started in `cwd` whose first timestamp lies in
/// `[start, end]` (with a few seconds of slack), the earliest such; for sessions whose Claude
/// session id is not known. Ambiguous when several Claude sessions run in one folder at once.
pub fn find_claude_transcript_in_window(
    claude_dir: &Path,
    cwd: &Path,
    start_ms: i64,
    end_ms: i64,
) -> Option<PathBuf> {
    let dir = claude_dir
        .join("projects")
        .join(usage::claude_project_slug(cwd));
    let mut best: Option<(i64, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let recent = e
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| usage::system_time_ms(t) >= start_ms - START_SLACK_MS)
            .unwrap_or(true);
        if !recent {
            continue;
        }
        let Some(ts) = first_timestamp(&p, 64) else {
            continue;
        };
        if ts + START_SLACK_MS < start_ms || ts > end_ms + START_SLACK_MS {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| ts < *b) {
            best = Some((ts, p));
        }
    }
    best.map(|b| b.1)
}

/// Computes the usage of `record` (see [`compute_usage`]) with the environment of this
/// process, stores it with its source, and returns it. For the session's host, which has the
/// agent's environment; readers use `SessionManager::usage`, which stores nothing.
pub fn usage_for(store: &Store, home: &Home, record: &SessionRecord) -> Result<TokenUsage> {
    usage_for_with(store, home, record, &UsageEnv::from_env())
}

/// [`usage_for`] with explicit agent-record locations.
pub fn usage_for_with(
    store: &Store,
    home: &Home,
    record: &SessionRecord,
    env: &UsageEnv,
) -> Result<TokenUsage> {
    let u = compute_usage(home, record, env);
    store_usage(store, &record.session_id, &u)?;
    Ok(u)
}

/// Writes computed token figures to the session's summary row.
pub fn store_usage(store: &Store, session_id: &str, u: &TokenUsage) -> Result<()> {
    store.store_usage(session_id, u, now_ms())
}

/// The token figures last stored for a session, with the unix ms they were computed at.
pub fn cached_usage(store: &Store, session_id: &str) -> Result<Option<(TokenUsage, i64)>> {
    store.cached_usage(session_id)
}
