//! Attaching the calling process's terminal to a session: replay the screen, stream live
//! output, pass keystrokes through, detach on a key (Ctrl-\ by default).

use crate::model::error::{Error, Result};
use crate::model::protocol::{read_frame, write_frame, AttachRequest, ResizeRequest, Tag};
use crate::model::state::State;
use crate::services::client;
use nix::sys::termios::{self, SetArg, Termios};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

/// The default detach key, Ctrl-\ (as in dtach).
pub const DEFAULT_DETACH_KEY: u8 = 0x1c;

/// Options for [`attach_terminal`].
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Watch only: keystrokes are not sent (the detach key still works).
    pub read_only: bool,
    /// The byte that detaches, e.g. 0x1c for Ctrl-\.
    pub detach_key: u8,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            read_only: false,
            detach_key: DEFAULT_DETACH_KEY,
        }
    }
}

/// How an attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachEnd {
    /// The user pressed the detach key; the session goes on.
    Detached,
    /// The session ended while attached.
    Ended(State),
    /// The host closed the connection without saying why.
    Lost,
    /// A signal that ends the attach client (SIGTERM, SIGHUP, SIGINT or SIGQUIT, by its
    /// number) arrived; the terminal is restored and the session goes on. A program ends
    /// with status 128 + the number, as shells do.
    Signal(i32),
}

/// Signals that end an attachment. In raw mode Ctrl-C reaches the agent as a key, so these
/// come from elsewhere (`kill`, a closed terminal window), and their default action would
/// end the process with the user's terminal still raw.
const ENDING_SIGNALS: [i32; 4] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGQUIT,
];

/// Parses a detach key such as `C-\`, `C-a` or `^]`.
pub fn parse_detach_key(name: &str) -> Result<u8> {
    match crate::config::keys::key_bytes(name)?.as_slice() {
        [b] => Ok(*b),
        _ => Err(Error::InvalidArgument(format!(
            "detach key '{name}' must be a single key such as C-\\ or C-a"
        ))),
    }
}

/// Restores the terminal's settings when dropped, however the attachment ends.
struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    fn enter(fd: BorrowedFd<'a>) -> Option<RawMode<'a>> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Undoes modes the agent may have switched on in the user's terminal: alternate screen,
/// hidden cursor, mouse reporting, bracketed paste, colours.
const TERMINAL_RESET: &[u8] =
    b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[0m\r\n";

fn terminal_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    let ok = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

/// Attaches this process's standard input and output to the session whose host listens on
/// `socket`, until the user detaches, the session ends, or one of SIGTERM, SIGHUP, SIGINT,
/// SIGQUIT arrives ([`AttachEnd::Signal`]). Whatever ends it, the terminal's settings are
/// restored. Handlers for those signals are installed for the rest of the process's life
/// (signal-hook cannot put back the default action), so a program should exit soon after
/// an attachment ends by a signal.
pub fn attach_terminal(socket: &Path, opts: &AttachOptions) -> Result<AttachEnd> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let size = terminal_size(stdout.as_fd()).or_else(|| terminal_size(stdin.as_fd()));
    let mut stream = client::connect(socket)?;
    let req = AttachRequest {
        read_only: opts.read_only,
        cols: size.map(|s| s.0),
        rows: size.map(|s| s.1),
        client: None,
    };
    write_frame(
        &mut stream,
        Tag::Attach,
        &serde_json::to_vec(&req).expect("serializes"),
    )
    .map_err(|e| Error::io("attaching", e))?;

    // Watched before raw mode starts, so no ending signal can find the terminal raw with
    // nobody to restore it; the iterator keeps what arrives until its thread reads it.
    let mut signals = signal_hook::iterator::Signals::new(
        std::iter::once(signal_hook::consts::SIGWINCH).chain(ENDING_SIGNALS),
    )
    .map_err(|e| Error::io("watching signals", e))?;
    let raw = RawMode::enter(stdin.as_fd());
    let saved = raw.as_ref().map(|r| r.saved.clone());
    let (wake_r, wake_w) =
        nix::unistd::pipe().map_err(|e| Error::io("creating a pipe", e.into()))?;
    let signal_wake = wake_w
        .try_clone()
        .map_err(|e| Error::io("creating a pipe", e))?;
    let done = Arc::new(AtomicBool::new(false));
    let ended_by = Arc::new(AtomicI32::new(0));

    // Output: socket → terminal, on its own thread.
    let mut from_host = stream
        .try_clone()
        .map_err(|e| Error::io("cloning the socket", e))?;
    let out_done = done.clone();
    let output = std::thread::spawn(move || -> AttachEnd {
        let mut out = std::io::stdout().lock();
        let end = loop {
            match read_frame(&mut from_host) {
                Ok(Some((Tag::Replay | Tag::Output, bytes))) => {
                    if out.write_all(&bytes).and_then(|_| out.flush()).is_err() {
                        break AttachEnd::Lost;
                    }
                }
                Ok(Some((Tag::Exit, state))) => {
                    let state = std::str::from_utf8(&state)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(State::Unknown);
                    break AttachEnd::Ended(state);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break AttachEnd::Lost,
            }
        };
        out_done.store(true, Ordering::SeqCst);
        let _ = nix::unistd::write(&wake_w, b"x");
        end
    });

    // Window size changes → resize frames; ending signals → restore and end.
    let mut resize_stream = stream
        .try_clone()
        .map_err(|e| Error::io("cloning the socket", e))?;
    let signals_handle = signals.handle();
    let read_only = opts.read_only;
    let signal_ended_by = ended_by.clone();
    std::thread::spawn(move || {
        // Never leaves the loop early: once registered, a signal nobody takes is ignored.
        for sig in signals.forever() {
            if sig != signal_hook::consts::SIGWINCH {
                // The terminal comes back first, so even a teardown that hangs leaves the
                // user a usable terminal; a second ending signal ends the process at once.
                if let Some(saved) = &saved {
                    let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
                }
                if signal_ended_by.swap(sig, Ordering::SeqCst) != 0 {
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                }
                let _ = nix::unistd::write(&signal_wake, b"x");
                continue;
            }
            if read_only {
                continue;
            }
            if let Some((cols, rows)) = terminal_size(std::io::stdout().as_fd()) {
                let body = serde_json::to_vec(&ResizeRequest { cols, rows }).expect("serializes");
                let _ = write_frame(&mut resize_stream, Tag::Resize, &body);
            }
        }
    });

    // Input: terminal → socket, here, until detach or the output side ends.
    let detached = pump_input(&stdin, &wake_r, &mut stream, opts, &done);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let ended = output.join().unwrap_or(AttachEnd::Lost);
    signals_handle.close();
    let _ = std::io::stdout().write_all(TERMINAL_RESET);
    let _ = std::io::stdout().flush();
    drop(raw);
    Ok(match ended_by.load(Ordering::SeqCst) {
        0 if detached => AttachEnd::Detached,
        0 => ended,
        sig => AttachEnd::Signal(sig),
    })
}

/// Copies keystrokes to the host; returns true when the user detached.
fn pump_input(
    stdin: &std::io::Stdin,
    wake: &std::os::fd::OwnedFd,
    stream: &mut UnixStream,
    opts: &AttachOptions,
    done: &AtomicBool,
) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut buf = [0u8; 4096];
    let mut input_open = true;
    while !done.load(Ordering::SeqCst) {
        let mut fds = vec![PollFd::new(wake.as_fd(), PollFlags::POLLIN)];
        if input_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
        if fds[0].any().unwrap_or(false) {
            return false;
        }
        if !input_open || !fds[1].any().unwrap_or(false) {
            continue;
        }
        // Unbuffered: std's Stdin buffers, and buffered bytes would hide from poll.
        let n = match nix::unistd::read(stdin.as_fd(), &mut buf) {
            Ok(0) | Err(_) => {
                // No more input (e.g. stdin is /dev/null): keep watching the output.
                input_open = false;
                continue;
            }
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let (send, detach) = match chunk.iter().position(|&b| b == opts.detach_key) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        if !opts.read_only && !send.is_empty() && write_frame(stream, Tag::Input, send).is_err() {
            return false;
        }
        if detach {
            return true;
        }
    }
    false
}
