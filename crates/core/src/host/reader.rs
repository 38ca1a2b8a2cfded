//! The PTY reader thread: every byte the agent writes goes to the log first, then to the
//! screen model and attached clients.

use super::shared::Shared;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;

/// Starts the reader; the returned channel fires when the PTY reached end of file.
pub fn spawn(shared: Arc<Shared>, mut pty: Box<dyn Read + Send>, mut log: File) -> Receiver<()> {
    let (done_tx, done_rx) = channel();
    std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match pty.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        // The log is the record of truth: written before anything else, and
                        // unbuffered so `logs` readers see output at once.
                        if let Err(e) = log.write_all(&buf[..n]) {
                            eprintln!("agent-sessions host: writing output.log: {e}");
                        }
                        shared.on_output(&buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    // Linux reports EIO once the last slave descriptor closes: that is EOF.
                    Err(_) => break,
                }
            }
            let _ = done_tx.send(());
        })
        .expect("spawning the reader thread");
    done_rx
}
