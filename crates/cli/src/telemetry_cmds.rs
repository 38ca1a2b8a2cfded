//! `agent-sessions usage`, `agent-sessions top`, and the telemetry lines of `show`.

use agent_sessions::telemetry::{self, Telemetry, USAGE_MAX_AGE};
use agent_sessions::usage::TokenUsage;
use agent_sessions::{ListFilter, Result, SessionManager, SessionRecord};
use serde::Serialize;
use std::io::Write;
use std::time::Duration;

/// Ended sessions shown by `top` below the live ones, newest first.
const TOP_ENDED_ROWS: usize = 10;

/// `agent-sessions usage <id> [--json]`: tokens and cost with their source. The agent's
/// records are read again unless the figures were computed after the session ended.
pub fn usage(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let report = mgr.usage(id)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", usage_text(&report.session_id, &report.figures));
    }
    Ok(())
}

/// `agent-sessions usage <id> --series [--json]`: the session's totals over time, oldest
/// first; with `--json` one point per line.
pub fn usage_series(mgr: &SessionManager, id: &str, json: bool) -> Result<()> {
    let points = mgr.usage_series(id, 0, agent_sessions::store::usage_series::MAX_POINTS)?;
    let mut out = std::io::stdout().lock();
    if !json {
        let _ = writeln!(out, "{:<24} {:>14} {:>12}", "AT", "TOKENS", "COST_USD");
    }
    for p in &points {
        let line = if json {
            serde_json::to_string(p).expect("a usage point serializes")
        } else {
            let at = agent_sessions::clock::iso_from_ms(p.at_ms);
            let tokens = p.total_tokens.map_or("-".into(), |t| t.to_string());
            let cost = p.cost_usd.map_or("-".into(), |c| format!("{c:.4}"));
            let est = if p.cost_estimated { " (estimated)" } else { "" };
            format!("{at:<24} {tokens:>14} {cost:>12}{est}")
        };
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(())
}

/// `usage --by day|agent|task [--csv]`: every session's usage summed (the same table as the
/// server's `/usage/report` and the dashboard's export).
pub fn usage_report(mgr: &SessionManager, by: &str, csv: bool, json: bool) -> Result<()> {
    let table = mgr.usage_report(by.parse()?)?;
    if csv {
        print!("{}", table.to_csv());
    } else if json {
        println!(
            "{}",
            serde_json::to_string(&table).expect("a usage table serializes")
        );
    } else {
        println!(
            "{:<24} {:>8} {:>14} {:>12}",
            by.to_uppercase(),
            "SESSIONS",
            "TOKENS",
            "COST_USD"
        );
        for r in table.rows.iter().chain(std::iter::once(&table.totals)) {
            println!(
                "{:<24} {:>8} {:>14} {:>12.4}{}",
                r.key,
                r.sessions,
                r.total_tokens,
                r.cost_usd,
                if r.estimated { " (estimated)" } else { "" }
            );
        }
    }
    Ok(())
}

fn usage_text(session_id: &str, u: &TokenUsage) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<19} {v}\n"));
    line("session_id", session_id.to_string());
    match &u.source {
        Some(s) => line("source", s.clone()),
        None => line(
            "source",
            "none: no token record found for this session".into(),
        ),
    }
    if let Some(m) = &u.model {
        line("model", m.clone());
    }
    if u.has_tokens() {
        line("exact", exact_text(u.exact));
    }
    let n = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |x| x.to_string());
    line("tokens_input", n(u.tokens_input));
    line("tokens_output", n(u.tokens_output));
    line("tokens_cache_read", n(u.tokens_cache_read));
    line("tokens_cache_write", n(u.tokens_cache_write));
    line("tokens_total", n(u.total_tokens()));
    line("cost_usd", cost_text(u.cost_usd, u.cost_estimated));
    if u.skipped_lines > 0 {
        line(
            "skipped_lines",
            format!("{} (malformed, ignored)", u.skipped_lines),
        );
    }
    out
}

fn exact_text(exact: bool) -> String {
    match exact {
        true => "yes: every request the agent made, as it reported each".into(),
        false => "no: a lower bound (the agent's records can miss requests)".into(),
    }
}

fn cost_text(cost: Option<f64>, estimated: bool) -> String {
    match cost {
        None => "-".into(),
        Some(c) if estimated => format!("{c:.6} (estimated from the price table)"),
        Some(c) => format!("{c:.6} (reported by the agent)"),
    }
}

/// One line of `top`; also its `--json` form.
#[derive(Debug, Serialize)]
struct TopRow {
    session_id: String,
    agent_type: Option<String>,
    state: String,
    /// CPU over the last sample interval (live sessions).
    cpu_percent: Option<f64>,
    avg_cpu_percent: Option<f64>,
    /// RSS at the last sample (live sessions).
    memory_rss_bytes: Option<u64>,
    peak_memory_rss_bytes: Option<u64>,
    process_count: Option<u32>,
    /// When the figures above were sampled (unix ms; live sessions).
    last_sample_at_ms: Option<i64>,
    duration_ms: Option<i64>,
    total_tokens: Option<u64>,
    cost_usd: Option<f64>,
    cost_estimated: bool,
}

fn top_row(mgr: &SessionManager, rec: &SessionRecord) -> TopRow {
    let t = mgr
        .telemetry_of(rec, USAGE_MAX_AGE)
        .map(|r| r.figures)
        .unwrap_or_else(|_| Telemetry {
            duration_ms: telemetry::duration_ms(rec),
            ..Default::default()
        });
    let live = (!rec.state.is_ended()).then_some(t.last_sample).flatten();
    TopRow {
        session_id: rec.session_id.clone(),
        agent_type: rec.agent_type.clone(),
        state: rec.state.as_str().to_string(),
        cpu_percent: live.map(|s| s.cpu_percent),
        avg_cpu_percent: t.avg_cpu_percent,
        memory_rss_bytes: live.map(|s| s.memory_rss_bytes),
        peak_memory_rss_bytes: t.peak_memory_rss_bytes,
        process_count: live.map(|s| s.process_count),
        last_sample_at_ms: live.map(|s| s.at_ms),
        duration_ms: t.duration_ms,
        total_tokens: t.total_tokens(),
        cost_usd: t.cost_usd,
        cost_estimated: t.cost_estimated,
    }
}

fn top_rows(mgr: &SessionManager) -> Result<(Vec<TopRow>, usize)> {
    let all = mgr.list(&ListFilter::default())?;
    let (live, ended): (Vec<_>, Vec<_>) = all.into_iter().partition(|r| !r.state.is_ended());
    let n_live = live.len();
    let rows = live
        .iter()
        .chain(ended.iter().take(TOP_ENDED_ROWS))
        .map(|r| top_row(mgr, r))
        .collect();
    Ok((rows, n_live))
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// 1536 → "1.5K", 55357440 → "52.8M".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

fn human_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn render_top(rows: &[TopRow], n_live: usize, interval: Duration, width: usize) -> String {
    let mut out = format!(
        "agent-sessions top  {}  {n_live} live, {} shown  every {:.1}s (Ctrl-C quits)\n\n",
        agent_sessions::clock::now_iso(),
        rows.len(),
        interval.as_secs_f64()
    );
    let mut push = |line: String| {
        let line: String = line.chars().take(width).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push(format!(
        "{:<30} {:<8} {:<13} {:>6} {:>6} {:>7} {:>7} {:>5} {:>7} {:>8} {:>10}",
        "SESSION",
        "AGENT",
        "STATE",
        "CPU%",
        "AVG%",
        "RSS",
        "PEAK",
        "PROCS",
        "TIME",
        "TOKENS",
        "COST$"
    ));
    for r in rows {
        let cost = match r.cost_usd {
            None => "-".to_string(),
            Some(c) if r.cost_estimated => format!("~{c:.4}"),
            Some(c) => format!("{c:.4}"),
        };
        push(format!(
            "{:<30} {:<8} {:<13} {:>6} {:>6} {:>7} {:>7} {:>5} {:>7} {:>8} {:>10}",
            r.session_id,
            r.agent_type.as_deref().unwrap_or("-"),
            r.state,
            opt(r.cpu_percent, |c| format!("{c:.1}")),
            opt(r.avg_cpu_percent, |c| format!("{c:.1}")),
            opt(r.memory_rss_bytes, human_bytes),
            opt(r.peak_memory_rss_bytes, human_bytes),
            opt(r.process_count, |c| c.to_string()),
            opt(r.duration_ms, human_duration),
            opt(r.total_tokens, human_count),
            cost,
        ));
    }
    if rows.is_empty() {
        out.push_str("(no sessions)\n");
    }
    out
}

fn stdout_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(1) == 1 }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        usize::MAX
    }
}

/// `agent-sessions top [--once] [--interval SECS] [--json]`: live sessions (then the
/// ten most recent ended ones) with state, CPU, RSS, tokens and cost. On a terminal the screen
/// is cleared and redrawn every `interval`; `--once` prints one frame. `--json` prints each
/// frame as one JSON array per line.
pub fn top(mgr: &SessionManager, once: bool, interval: Duration, json: bool) -> Result<()> {
    let interval = interval.max(Duration::from_millis(200));
    let tty = stdout_is_tty();
    let mut first = true;
    // While top runs, every host samples live, and the first frame waits for that (see
    // `SessionManager::watch`). Without the lease top still works, with the figures idle
    // hosts wrote last.
    let lease = mgr.watch();
    if let Err(e) = &lease {
        eprintln!("agent-sessions: figures may be older than usual: {e}");
    }
    loop {
        let (rows, n_live) = top_rows(mgr)?;
        let text = if json {
            format!(
                "{}\n",
                serde_json::to_string(&rows).expect("rows serialize")
            )
        } else {
            let width = if tty { terminal_width() } else { usize::MAX };
            let frame = render_top(&rows, n_live, interval, width);
            if once {
                frame
            } else if tty {
                format!("\x1b[H\x1b[2J{frame}")
            } else if first {
                frame
            } else {
                format!("\n{frame}")
            }
        };
        let mut out = std::io::stdout().lock();
        // a closed pipe (`top | head`) ends the loop quietly
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return Ok(());
        }
        drop(out);
        if once {
            return Ok(());
        }
        first = false;
        std::thread::sleep(interval);
    }
}

/// Telemetry lines for `show` (same `key value` layout as the record's lines). Never fails:
/// an unreadable figure is shown as unavailable.
pub fn show_extra(mgr: &SessionManager, rec: &SessionRecord) -> String {
    match mgr.telemetry_of(rec, USAGE_MAX_AGE) {
        Ok(t) => telemetry_lines(rec, &t.figures),
        Err(e) => format!("{:<17} unavailable: {e}\n", "telemetry"),
    }
}

fn telemetry_lines(rec: &SessionRecord, t: &Telemetry) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<17} {v}\n"));
    if let Some(d) = t.duration_ms {
        line("duration", human_duration(d));
    }
    if t.sample_count == 0 {
        line("resources", "not sampled".into());
    } else {
        let live = (!rec.state.is_ended()).then_some(t.last_sample).flatten();
        let mut cpu = opt(t.avg_cpu_percent, |c| format!("avg {c:.1}%"));
        if let Some(s) = live {
            cpu.push_str(&format!(", now {:.1}%", s.cpu_percent));
        }
        if let Some(ms) = t.cpu_time_ms {
            cpu.push_str(&format!(", cpu time {:.2}s", ms as f64 / 1000.0));
        }
        line("cpu", cpu);
        let mut mem = opt(t.peak_memory_rss_bytes, |b| {
            format!("peak {}", human_bytes(b))
        });
        if let Some(s) = live {
            mem.push_str(&format!(
                ", now {} ({} processes)",
                human_bytes(s.memory_rss_bytes),
                s.process_count
            ));
        }
        line("memory_rss", mem);
        if let (Some(r), Some(w), Some(rc), Some(wc)) = (
            t.io_read_bytes,
            t.io_write_bytes,
            t.io_read_chars,
            t.io_write_chars,
        ) {
            line(
                "io",
                format!(
                    "storage read {} written {}; syscalls read {} written {}",
                    human_bytes(r),
                    human_bytes(w),
                    human_bytes(rc),
                    human_bytes(wc)
                ),
            );
        }
        line("samples", t.sample_count.to_string());
    }
    if let Some(b) = t.workspace_bytes_used {
        let note = if t.workspace_complete == Some(false) {
            " or more (walk cut short by its budget)"
        } else {
            ""
        };
        line("workspace_bytes", format!("{}{note}", human_bytes(b)));
    }
    let n = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |x| x.to_string());
    match t.total_tokens() {
        None => line("tokens", "- (no token record found)".into()),
        Some(total) => line(
            "tokens",
            format!(
                "input {}, output {}, cache read {}, cache write {} (total {total})",
                n(t.tokens_input),
                n(t.tokens_output),
                n(t.tokens_cache_read),
                n(t.tokens_cache_write)
            ),
        ),
    }
    line("cost_usd", cost_text(t.cost_usd, t.cost_estimated));
    if let Some(s) = &t.usage_source {
        let model = t
            .usage_model
            .as_ref()
            .map(|m| format!(" (model {m})"))
            .unwrap_or_default();
        line("usage_source", format!("{s}{model}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_formats() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(55_357_440), "52.8M");
        assert_eq!(human_count(2290), "2290");
        assert_eq!(human_count(123_456), "123.5k");
        assert_eq!(human_count(12_345_678), "12.3M");
        assert_eq!(human_duration(5_500), "5s");
        assert_eq!(human_duration(200_000), "3m20s");
        assert_eq!(human_duration(3_720_000), "1h02m");
    }
}
