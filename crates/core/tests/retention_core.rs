//! Output-log rotation as readers see it: offsets count from the session's first byte, so a
//! reader keeps its place across a rotation and never misses bytes that are still kept.

mod common;

use agent_sessions::{SessionManager, StartOptions, State};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

/// Prints 6000 bytes of `a`, waits for the file named in argv[1], then 6000 bytes of `b`
/// and 30000 of `c`, in small writes.
const AGENT: &str = r#"
import os, sys, time
def put(ch, n):
    for _ in range(n // 100):
        sys.stdout.write(ch * 99 + '\n')
        sys.stdout.flush()
put('a', 6000)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
put('b', 6000)
put('c', 30000)
"#;

/// Reads everything from `offset` on; returns the bytes and where it ended.
fn read_all(mgr: &SessionManager, id: &str, mut offset: u64) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    loop {
        let (bytes, next) = mgr.output(id, offset, 4096).unwrap();
        if next == offset {
            return (out, offset);
        }
        out.extend(bytes);
        offset = next;
    }
}

#[test]
fn a_reader_keeps_its_place_across_rotations() {
    let home = tempfile::tempdir().unwrap();
    let mgr = common::open_manager(home.path());
    let script = home.path().join("agent.py");
    std::fs::write(&script, AGENT).unwrap();
    let go = home.path().join("go");
    let id = mgr
        .start(&StartOptions {
            agent: "custom".into(),
            args: vec![
                "python3".into(),
                script.display().to_string(),
                go.display().to_string(),
            ],
            // Rotates at 8 KiB: after the a's, and again in the c's.
            max_log_bytes: Some(16 * 1024),
            ..Default::default()
        })
        .unwrap()
        .session_id;

    // Read the a's as they come.
    let mut seen = Vec::new();
    let mut offset = 0;
    let start = std::time::Instant::now();
    while seen.iter().filter(|&&b| b == b'a').count() < 5940 {
        let (bytes, next) = mgr.output(&id, offset, 4096).unwrap();
        seen.extend(bytes);
        offset = next;
        assert!(start.elapsed() < DEADLINE, "only {} bytes came", seen.len());
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(&go, "").unwrap();
    mgr.wait_for(&id, State::Stopped, Some(DEADLINE)).unwrap();

    let dir = home.path().join(&id);
    assert!(dir.join("output.log.1").is_file(), "the log rotated");
    // Kept: the older part then the current one, at most about the cap.
    let mut kept = std::fs::read(dir.join("output.log.1")).unwrap();
    kept.extend(std::fs::read(dir.join("output.log")).unwrap());
    assert!(kept.len() <= 16 * 1024 + 4096, "{} bytes kept", kept.len());

    // The reader that stopped after the a's goes on where it was: the b's were rotated
    // away meanwhile (two rotations), so it continues at the oldest byte kept, which is
    // exactly the start of what is kept, and then reads to the very end.
    let end = mgr.output_end(&id).unwrap();
    let (rest, stop) = read_all(&mgr, &id, offset);
    assert_eq!(stop, end);
    assert_eq!(
        rest, kept,
        "a reader after a rotation reads what is kept, in order"
    );
    // A fresh reader from 0 gets the same, and offset arithmetic holds.
    let (from_zero, stop) = read_all(&mgr, &id, 0);
    assert_eq!(from_zero, kept);
    assert_eq!(stop, end);
    let total: usize = 6000 + 6000 + 30000;
    // The PTY turns \n into \r\n: the end offset counts every byte the agent wrote.
    assert_eq!(end as usize, total + total / 100);
}
