//! Screen classification against captures of the real agent CLIs.
//!
//! Fixtures are read from `$AGENT_SESSIONS_FIXTURES` when set (e.g. the shared capture folder
//! `shared/fixtures/agents`), else from the copy in `tests/data/agents`.

use agent_sessions::detect::*;
use std::num::NonZeroU16;
use std::path::PathBuf;

const ROWS: u16 = 35;
const COLS: u16 = 120;

const PROMPT: ScreenVerdict = ScreenVerdict::Waiting(WaitReason::Prompt);
const TRUST: ScreenVerdict = ScreenVerdict::Waiting(WaitReason::Trust);
const LOGIN: ScreenVerdict = ScreenVerdict::Waiting(WaitReason::Login);
const BUSY: ScreenVerdict = ScreenVerdict::Busy;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("AGENT_SESSIONS_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/agents")),
    }
}

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
}

fn rules(agent: &str) -> ScreenRules {
    ScreenRules::builtin(agent).unwrap_or_else(|| panic!("no built-in rules for {agent}"))
}

fn parser() -> vt100::Parser {
    vt100::Parser::new(
        NonZeroU16::new(ROWS).unwrap(),
        NonZeroU16::new(COLS).unwrap(),
        0,
    )
}

/// (screen fixture, agent, expected verdict)
const SCREENS: &[(&str, &str, ScreenVerdict)] = &[
    ("claude-busy", "claude", BUSY),
    ("claude-idle", "claude", PROMPT),
    ("claude-idle-after-reply", "claude", PROMPT),
    // Text typed but not sent: still at the prompt.
    ("claude-typed", "claude", PROMPT),
    // Codex's first screen after start: the welcome text and the empty composer.
    ("codex-first", "codex", PROMPT),
    ("codex-busy", "codex", BUSY),
    ("codex-idle-after-reply", "codex", PROMPT),
    ("gemini-trust-dialog", "gemini", TRUST),
    ("opencode-idle", "opencode", PROMPT),
    ("opencode-typed", "opencode", PROMPT),
];

#[test]
fn every_screen_fixture_is_classified() {
    for (name, agent, expected) in SCREENS {
        let text = read_text(&format!("screens/{name}.screen.txt"));
        assert_eq!(
            classify(&rules(agent), &text),
            *expected,
            "screens/{name}.screen.txt"
        );
    }
}

#[test]
fn every_screen_fixture_has_an_expectation() {
    let dir = fixtures_dir().join("screens");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("screens folder") {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".screen.txt") {
            if !SCREENS.iter().any(|(n, _, _)| *n == name) {
                missing.push(file);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "screen fixtures without an expected verdict: {missing:?}"
    );
}

/// The screen fixtures are tmux captures; the same text drawn through vt100 (what the caller
/// classifies) gives the same verdict.
#[test]
fn screen_fixtures_redrawn_through_vt100_keep_their_verdict() {
    for (name, agent, expected) in SCREENS {
        let text = read_text(&format!("screens/{name}.screen.txt"));
        let mut p = parser();
        let lines: Vec<&str> = text.lines().take(usize::from(ROWS)).collect();
        p.process(lines.join("\r\n").as_bytes());
        assert_eq!(
            classify(&rules(agent), &p.screen().contents()),
            *expected,
            "screens/{name}.screen.txt through vt100"
        );
    }
}

/// Replays a raw capture through vt100 in `chunk`-byte pieces and returns the verdicts, with
/// consecutive repeats collapsed.
fn replay(agent: &str, chunk: usize) -> Vec<ScreenVerdict> {
    let data = read(&format!("raw/{agent}.raw"));
    let rules = rules(agent);
    let mut p = parser();
    let mut seen: Vec<ScreenVerdict> = Vec::new();
    for piece in data.chunks(chunk) {
        p.process(piece);
        let v = classify(&rules, &p.screen().contents());
        if seen.last() != Some(&v) {
            seen.push(v);
        }
    }
    seen
}

fn contains_in_order(seen: &[ScreenVerdict], wanted: &[ScreenVerdict]) -> bool {
    let mut it = seen.iter();
    wanted.iter().all(|w| it.any(|s| s == w))
}

// Much coarser chunks would swallow a whole turn of these short captures.
const CHUNKS: [usize; 4] = [64, 97, 256, 1024];

fn check_replay(agent: &str, wanted: &[ScreenVerdict], never: &[ScreenVerdict]) {
    for chunk in CHUNKS {
        let seen = replay(agent, chunk);
        assert!(
            contains_in_order(&seen, wanted),
            "raw/{agent}.raw in {chunk}-byte chunks: wanted {wanted:?} in order, saw {seen:?}"
        );
        for v in never {
            assert!(
                !seen.contains(v),
                "raw/{agent}.raw in {chunk}-byte chunks: {v:?} must not occur, saw {seen:?}"
            );
        }
    }
}

fn dialogs() -> Vec<ScreenVerdict> {
    [WaitReason::Permission, WaitReason::Trust, WaitReason::Login]
        .into_iter()
        .map(ScreenVerdict::Waiting)
        .collect()
}

#[test]
fn claude_session_prompt_busy_prompt() {
    // Start, "write a haiku" typed and sent, the reply, then /exit typed.
    check_replay("claude", &[PROMPT, BUSY, PROMPT], &dialogs());
}

#[test]
fn codex_session_prompt_busy_prompt() {
    // Start, "write a haiku" typed and sent, the reply, then /quit typed.
    check_replay("codex", &[PROMPT, BUSY, PROMPT], &dialogs());
}

#[test]
fn gemini_session_shows_the_trust_dialog() {
    // Start to the folder-trust dialog, then Ctrl-C twice.
    let mut never = vec![BUSY];
    never.push(ScreenVerdict::Waiting(WaitReason::Permission));
    check_replay("gemini", &[TRUST], &never);
    // Drawn finely enough, the authentication wait before the dialog shows up as well.
    let seen = replay("gemini", 64);
    assert!(contains_in_order(&seen, &[LOGIN, TRUST]), "{seen:?}");
}

#[test]
fn opencode_session_stays_at_the_prompt() {
    // Start, idle, "hello" typed (not sent), Ctrl-C twice.
    let mut never = dialogs();
    never.push(BUSY);
    check_replay("opencode", &[PROMPT], &never);
}

/// The verdict at the moment the screen first shows `text`, replaying byte-exact frames
/// (synchronized-update ends, or line ends when an agent does not use them).
fn verdict_when_shown(agent: &str, text: &str) -> ScreenVerdict {
    let data = read(&format!("raw/{agent}.raw"));
    let rules = rules(agent);
    let mut p = parser();
    for piece in frames(&data) {
        p.process(piece);
        let screen = p.screen().contents();
        if screen.contains(text) {
            return classify(&rules, &screen);
        }
    }
    panic!("raw/{agent}.raw never shows {text:?}");
}

/// Splits raw output after each `ESC [ ? 2026 l` (end of a synchronized update) and each
/// `\n`, so that every piece ends at a point where the agent meant the screen to be seen.
fn frames(data: &[u8]) -> Vec<&[u8]> {
    const SYNC_END: &[u8] = b"\x1b[?2026l";
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        let cut = if data[i..].starts_with(SYNC_END) {
            Some(i + SYNC_END.len())
        } else if data[i] == b'\n' {
            Some(i + 1)
        } else {
            None
        };
        if let Some(end) = cut {
            out.push(&data[start..end]);
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < data.len() {
        out.push(&data[start..]);
    }
    out
}

#[test]
fn named_moments_in_the_raw_sessions() {
    // Typed but not sent.
    assert_eq!(
        verdict_when_shown("claude", "\u{276f}\u{a0}write a haiku"),
        PROMPT
    );
    assert_eq!(
        verdict_when_shown("codex", "\u{203a} write a haiku"),
        PROMPT
    );
    assert_eq!(verdict_when_shown("opencode", "hello"), PROMPT);
    // Busy: the turn's footer or status line.
    assert_eq!(verdict_when_shown("claude", "esc to interrupt"), BUSY);
    assert_eq!(verdict_when_shown("codex", "Working ("), BUSY);
    // Idle again after the reply.
    assert_eq!(verdict_when_shown("claude", "Crunched for"), PROMPT);
    assert_eq!(verdict_when_shown("codex", "Worked for"), PROMPT);
    // Dialogs.
    assert_eq!(verdict_when_shown("gemini", "Don't trust"), TRUST);
    assert_eq!(
        verdict_when_shown("gemini", "Waiting for authentication"),
        LOGIN
    );
}

#[test]
fn session_ids_from_the_exit_screens() {
    for (agent, id) in [
        ("claude", Some("d51bbbc0-eb7d-413a-a6a4-93b5b853bcad")),
        ("codex", Some("01a2004e-2071-7f60-be40-2c1bb9813e41")),
        ("gemini", Some("e8fe5584-860c-4a9b-b21d-dc631aedc075")),
        ("opencode", None),
    ] {
        let data = read(&format!("raw/{agent}.raw"));
        let mut p = parser();
        p.process(&data);
        assert_eq!(
            find_agent_session_id(agent, &p.screen().contents()).as_deref(),
            id,
            "{agent}: final screen"
        );
        assert_eq!(
            find_agent_session_id(agent, &String::from_utf8_lossy(&data)).as_deref(),
            id,
            "{agent}: raw output"
        );
    }
}

#[test]
fn no_session_id_before_the_agent_prints_it() {
    for agent in BUILTIN_AGENTS {
        let data = read(&format!("raw/{agent}.raw"));
        let mut p = parser();
        p.process(&data[..data.len() / 2]);
        assert_eq!(
            find_agent_session_id(agent, &p.screen().contents()),
            None,
            "{agent}"
        );
    }
}

#[test]
fn session_ids_from_structured_output() {
    let claude = read_text("structured/claude-print-json.json");
    assert_eq!(
        find_agent_session_id("claude", &claude).as_deref(),
        Some("eed43e53-febe-43a4-8335-9104d50fbe38")
    );
    let stream = read_text("structured/claude-print-stream-json.jsonl");
    assert_eq!(
        find_agent_session_id("claude", &stream).as_deref(),
        Some("849fe0a9-cdce-46ce-b6b5-7720aff4433e")
    );
    let codex = read_text("structured/codex-exec-json.jsonl");
    assert_eq!(
        find_agent_session_id("codex", &codex).as_deref(),
        Some("01a2004f-0b0a-7853-a87a-151d4cf74fe7")
    );
}

#[test]
fn controls_match_the_readme() {
    let readme = read_text("README.md");
    assert!(readme.contains("`/exit` exits claude; `/quit` exits codex"));
    assert!(readme.contains("Ctrl-C twice exits gemini and opencode"));
    for (agent, quit) in [
        ("claude", vec![b"/exit".to_vec(), b"\r".to_vec()]),
        ("codex", vec![b"/quit".to_vec(), b"\r".to_vec()]),
        ("gemini", vec![vec![0x03], vec![0x03]]),
        ("opencode", vec![vec![0x03], vec![0x03]]),
    ] {
        let c = builtin_controls(agent).unwrap();
        assert_eq!(c.quit, quit, "{agent}");
        assert_eq!(c.interrupt, vec![0x1b], "{agent}");
    }
}

/// The raw sessions replayed with a clock: frames 20 ms apart, the caller also waking at the
/// debouncer's deadline. Busy is reported at once; the one-frame prompt flicker in the
/// middle of Claude's turn (footer erased and redrawn while the reply is printed) is not.
fn debounced_replay(agent: &str) -> Vec<ScreenVerdict> {
    use std::time::{Duration, Instant};
    let data = read(&format!("raw/{agent}.raw"));
    let rules = rules(agent);
    let mut p = parser();
    let mut d = Debouncer::new(Duration::from_millis(100));
    let mut t = Instant::now();
    let mut last = ScreenVerdict::Unknown;
    let mut reported = Vec::new();
    for piece in frames(&data) {
        t += Duration::from_millis(20);
        if let Some(deadline) = d.next_deadline().filter(|&dl| dl <= t) {
            reported.extend(d.observe(last, deadline));
        }
        p.process(piece);
        last = classify(&rules, &p.screen().contents());
        reported.extend(d.observe(last, t));
    }
    if let Some(deadline) = d.next_deadline() {
        reported.extend(d.observe(last, deadline));
    }
    reported
}

#[test]
fn debounced_replays() {
    use ScreenVerdict::Unknown;
    assert_eq!(debounced_replay("claude"), [Unknown, PROMPT, BUSY, PROMPT]);
    // Codex leaves its alternate screen on /quit: unknown at the end.
    assert_eq!(debounced_replay("codex"), [PROMPT, BUSY, PROMPT, Unknown]);
}

/// The fake agents in `tests/fake_agents` (Python) run in a pseudo-terminal, drawn through
/// vt100 and classified with the built-in rules: they must go through the same verdicts as
/// the real CLIs. Skipped when `python3` is not installed.
mod fake_agents {
    use super::*;
    use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const SESSION_ID: &str = "0b7e3f52-9a41-4c1e-8f2d-5a6b7c8d9e0f";
    const TIMEOUT: Duration = Duration::from_secs(10);

    fn have_python() -> bool {
        std::process::Command::new("python3")
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    struct Fake {
        agent: &'static str,
        rules: ScreenRules,
        parser: Arc<Mutex<vt100::Parser>>,
        child: Box<dyn Child + Send + Sync>,
        writer: Box<dyn Write + Send>,
        _master: Box<dyn MasterPty + Send>,
    }

    impl Fake {
        fn start(agent: &'static str, args: &[&str]) -> Fake {
            let pair = native_pty_system()
                .openpty(PtySize {
                    rows: ROWS,
                    cols: COLS,
                    pixel_width: 0,
                    pixel_height: 0,
                })
                .expect("openpty");
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fake_agents")
                .join(format!("{agent}_like.py"));
            assert!(script.is_file(), "missing {}", script.display());
            let mut cmd = CommandBuilder::new("python3");
            cmd.arg(script);
            cmd.args(["--session-id", SESSION_ID]);
            cmd.args(args);
            cmd.cwd(std::env::temp_dir());
            cmd.env("TERM", "xterm-256color");
            let child = pair.slave.spawn_command(cmd).expect("spawning the fake");
            drop(pair.slave);
            let parser = Arc::new(Mutex::new(parser()));
            let mut reader = pair.master.try_clone_reader().expect("pty reader");
            let sink = parser.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().process(&buf[..n]);
                }
            });
            let writer = pair.master.take_writer().expect("pty writer");
            Fake {
                agent,
                rules: rules(agent),
                parser,
                child,
                writer,
                _master: pair.master,
            }
        }

        fn screen(&self) -> String {
            self.parser.lock().unwrap().screen().contents()
        }

        fn wait_for(&self, what: &str, ok: impl Fn(ScreenVerdict, &str) -> bool) {
            let deadline = Instant::now() + TIMEOUT;
            loop {
                let screen = self.screen();
                if ok(classify(&self.rules, &screen), &screen) {
                    return;
                }
                if Instant::now() > deadline {
                    panic!(
                        "{}_like.py: no {what} within {TIMEOUT:?}; screen ({}):\n{screen}",
                        self.agent,
                        classify(&self.rules, &screen)
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        fn wait_verdict(&self, want: ScreenVerdict) {
            self.wait_for(&want.to_string(), |v, _| v == want);
        }

        fn send(&mut self, bytes: &[u8]) {
            // The fake may already be gone (opencode exits on the first Ctrl-C of its quit).
            let _ = self
                .writer
                .write_all(bytes)
                .and_then(|_| self.writer.flush());
        }

        fn send_parts(&mut self, parts: &[Vec<u8>]) {
            for part in parts {
                self.send(part);
                std::thread::sleep(Duration::from_millis(150));
            }
        }

        fn quit(&mut self) {
            let controls = builtin_controls(self.agent).unwrap();
            self.send_parts(&controls.quit);
            let deadline = Instant::now() + TIMEOUT;
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    assert!(
                        status.success(),
                        "{}_like.py exited with {status:?}",
                        self.agent
                    );
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "{}_like.py did not quit",
                    self.agent
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        fn interrupt(&mut self) {
            let controls = builtin_controls(self.agent).unwrap();
            let presses = vec![controls.interrupt.clone(); controls.interrupt_presses as usize];
            self.send_parts(&presses);
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
            }
        }
    }

    fn turn_then_quit(agent: &'static str) {
        if !have_python() {
            return;
        }
        let mut f = Fake::start(agent, &["--reply-delay", "0.6"]);
        f.wait_verdict(PROMPT);
        f.send(b"hello there");
        f.wait_for("typed text at the prompt", |v, s| {
            v == PROMPT && s.contains("hello there")
        });
        f.send(b"\r");
        f.wait_verdict(BUSY);
        f.wait_for("the reply", |v, s| v == PROMPT && s.contains("MOCK-REPLY"));
        f.quit();
        let want = (agent != "opencode").then_some(SESSION_ID);
        f.wait_for("the session id (or none)", |_, s| {
            find_agent_session_id(agent, s).as_deref() == want
        });
    }

    fn permission_then_interrupt(agent: &'static str) {
        if !have_python() {
            return;
        }
        let mut f = Fake::start(agent, &["--permission", "--reply-delay", "30"]);
        f.wait_verdict(PROMPT);
        f.send(b"list the files");
        f.send(b"\r");
        f.wait_verdict(ScreenVerdict::Waiting(WaitReason::Permission));
        f.send(b"\r"); // approve
        f.wait_verdict(BUSY);
        // The reply would take 15 s more: only the interrupt can bring the prompt back now.
        f.interrupt();
        f.wait_verdict(PROMPT);
    }

    fn trust_then_prompt(agent: &'static str) {
        if !have_python() {
            return;
        }
        let mut f = Fake::start(agent, &["--trust"]);
        f.wait_verdict(TRUST);
        f.send(b"\r");
        f.wait_verdict(PROMPT);
        f.quit();
    }

    #[test]
    fn claude_like() {
        turn_then_quit("claude");
        permission_then_interrupt("claude");
        trust_then_prompt("claude");
    }

    #[test]
    fn codex_like() {
        turn_then_quit("codex");
        permission_then_interrupt("codex");
        trust_then_prompt("codex");
    }

    #[test]
    fn gemini_like() {
        turn_then_quit("gemini");
        permission_then_interrupt("gemini");
        trust_then_prompt("gemini");
    }

    #[test]
    fn opencode_like() {
        turn_then_quit("opencode");
        permission_then_interrupt("opencode");
    }

    /// A long turn with a silent stretch (nothing drawn for 2 s): the screen keeps its busy
    /// footer and the debounced state stays busy throughout.
    #[test]
    fn silent_stretch_stays_busy() {
        if !have_python() {
            return;
        }
        let mut f = Fake::start("codex", &["--reply-delay", "0.5", "--silent", "2"]);
        f.wait_verdict(PROMPT);
        f.send(b"think hard\r");
        f.wait_verdict(BUSY);
        let mut d = Debouncer::new(Duration::from_millis(300));
        let start = Instant::now();
        assert_eq!(
            d.observe(classify(&f.rules, &f.screen()), start),
            Some(BUSY)
        );
        while start.elapsed() < Duration::from_millis(2000) {
            std::thread::sleep(Duration::from_millis(50));
            let v = classify(&f.rules, &f.screen());
            assert_eq!(
                d.observe(v, Instant::now()),
                None,
                "changed to {v} mid-turn"
            );
        }
        f.wait_for("the reply", |v, s| v == PROMPT && s.contains("MOCK-REPLY"));
    }
}

/// The project's own captures of the pinned CLIs (tests/real_agents made them; see the
/// READMEs in `tests/data/agents/<agent>-<version>/`): each moment's screen and the verdict
/// the rules must give it.
#[test]
fn screens_of_the_pinned_versions() {
    let permission = ScreenVerdict::Waiting(WaitReason::Permission);
    let cases: &[(&str, &str, ScreenVerdict)] = &[
        ("claude-2.1.197/idle", "claude", PROMPT),
        ("claude-2.1.197/busy", "claude", BUSY),
        ("claude-2.1.197/idle-after-reply", "claude", PROMPT),
        ("claude-2.1.197/permission-dialog", "claude", permission),
        ("claude-2.1.197/trust-dialog", "claude", TRUST),
        ("claude-2.1.197/login-menu", "claude", LOGIN),
        ("claude-2.1.197/not-logged-in", "claude", LOGIN),
        ("codex-0.171/idle", "codex", PROMPT),
        ("codex-0.171/busy", "codex", BUSY),
        ("codex-0.171/idle-after-reply", "codex", PROMPT),
        ("codex-0.171/permission-dialog", "codex", permission),
        ("codex-0.171/trust-dialog", "codex", TRUST),
        ("codex-0.171/login-menu", "codex", LOGIN),
    ];
    let base = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/agents"));
    let mut wrong = Vec::new();
    for (name, agent, want) in cases {
        let path = base.join(format!("{name}.screen.txt"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let got = classify(&rules(agent), &text);
        if got != *want {
            wrong.push(format!("{name}: {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
