//! Reading `/proc`: the pid listing and the `stat` and `io` files, parsed without
//! allocating per field.

use std::fs::File;
use std::io::Read;

use super::{Counters, Stat};

/// Numeric entries of /proc.
pub(super) fn list_pids(out: &mut Vec<u32>) {
    out.clear();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name();
            let b = name.as_encoded_bytes();
            if b.first().is_some_and(u8::is_ascii_digit) {
                if let Some(pid) = parse_u64(b) {
                    out.push(pid as u32);
                }
            }
        }
    }
}

fn read_small(path: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(buf).is_ok() && !buf.is_empty(),
        Err(_) => false,
    }
}

pub(super) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(n)
}

fn parse_i64(b: &[u8]) -> Option<i64> {
    match b.split_first() {
        Some((b'-', rest)) => parse_u64(rest).map(|n| -(n as i64)),
        _ => parse_u64(b).map(|n| n as i64),
    }
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may contain spaces and parentheses,
/// so fields are counted from the last `)`.
pub(super) fn read_stat(pid: u32, buf: &mut Vec<u8>) -> Option<Stat> {
    if !read_small(&format!("/proc/{pid}/stat"), buf) {
        return None;
    }
    parse_stat(buf)
}

fn parse_stat(buf: &[u8]) -> Option<Stat> {
    let close = buf.iter().rposition(|&c| c == b')')?;
    // fields[0] is field 3 (state)
    let mut fields: [&[u8]; 22] = [&[]; 22];
    let mut n = 0;
    for f in buf[close + 1..]
        .split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
    {
        if n == fields.len() {
            break;
        }
        fields[n] = f;
        n += 1;
    }
    if n < 22 {
        return None;
    }
    let num = |field: usize| parse_u64(fields[field - 3]);
    let cpu = [14, 15, 16, 17]
        .iter()
        .map(|&f| parse_i64(fields[f - 3]).unwrap_or(0).max(0) as u64)
        .fold(0u64, u64::saturating_add);
    Some(Stat {
        zombie: matches!(fields[0], b"Z" | b"X" | b"x"),
        ppid: num(4)? as u32,
        sid: parse_i64(fields[6 - 3])? as i32,
        cpu_ticks: cpu,
        start_time: num(22)?,
        vsize: num(23).unwrap_or(0),
        rss_pages: parse_i64(fields[24 - 3]).unwrap_or(0).max(0) as u64,
    })
}

pub(super) fn read_io(pid: u32, buf: &mut Vec<u8>) -> Option<Counters> {
    if !read_small(&format!("/proc/{pid}/io"), buf) {
        return None;
    }
    let mut c = Counters::default();
    let mut seen = 0;
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        let val = line[colon + 1..].trim_ascii();
        let slot = match key {
            b"rchar" => &mut c.rchar,
            b"wchar" => &mut c.wchar,
            b"read_bytes" => &mut c.read_bytes,
            b"write_bytes" => &mut c.write_bytes,
            _ => continue,
        };
        if let Some(v) = parse_u64(val) {
            *slot = v;
            seen += 1;
        }
    }
    (seen > 0).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let line = b"1234 (a) b (c)) S 1 1234 1234 0 -1 4194304 100 0 0 0 7 3 2 1 20 0 1 0 5555 123456 789 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.ppid, 1);
        assert_eq!(s.sid, 1234);
        assert_eq!(s.cpu_ticks, 13);
        assert_eq!(s.start_time, 5555);
        assert_eq!(s.vsize, 123456);
        assert_eq!(s.rss_pages, 789);
        assert!(!s.zombie);
        assert!(parse_stat(b"12 (x) S 1 2").is_none());
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        let mut buf = Vec::new();
        let s = read_stat(me, &mut buf).unwrap();
        assert!(s.rss_pages > 0);
        assert!(read_io(me, &mut buf).is_some());
    }
}
