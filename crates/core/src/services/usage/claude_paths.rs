//! Where Claude Code keeps a session's transcript: `<config>/projects/<slug(cwd)>/<id>.jsonl`.

use std::path::{Path, PathBuf};

/// Claude Code's project directory name for a working directory: every character that is not
/// an ASCII letter or digit becomes `-` (`/tmp/ws` → `-tmp-ws`, as seen in the captured
/// `memory_paths`). Claude Code works on UTF-16 code units, so a non-BMP character becomes
/// two dashes. Claude Code shortens very long names (over 200 characters) with a hash suffix
/// that is not reproduced here; [`find_claude_transcript`] falls back to a search for them.
pub fn claude_project_slug(cwd: &Path) -> String {
    let s = cwd.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            for _ in 0..c.len_utf16() {
                out.push('-');
            }
        }
    }
    out
}

fn claude_base(config_dir: Option<&Path>, home: &Path) -> PathBuf {
    match config_dir {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => home.join(".claude"),
    }
}

/// Where Claude Code writes the transcript of `session_id` started in `cwd`:
/// `<config>/projects/<slug(cwd)>/<session_id>.jsonl`, with `<config>` the value of
/// `CLAUDE_CONFIG_DIR` when set (pass it as `config_dir`), else `<home>/.claude`.
pub fn claude_transcript_path(
    config_dir: Option<&Path>,
    home: &Path,
    cwd: &Path,
    session_id: &str,
) -> PathBuf {
    claude_base(config_dir, home)
        .join("projects")
        .join(claude_project_slug(cwd))
        .join(format!("{session_id}.jsonl"))
}

/// [`claude_transcript_path`] if that file exists, else the first
/// `<config>/projects/*/<session_id>.jsonl` (long, hash-shortened directory names; a cwd
/// that was reached through a symlink). `None` when there is no such file.
pub fn find_claude_transcript(
    config_dir: Option<&Path>,
    home: &Path,
    cwd: &Path,
    session_id: &str,
) -> Option<PathBuf> {
    let direct = claude_transcript_path(config_dir, home, cwd, session_id);
    if direct.is_file() {
        return Some(direct);
    }
    if session_id.is_empty() || session_id.contains('/') {
        return None;
    }
    let name = format!("{session_id}.jsonl");
    let projects = claude_base(config_dir, home).join("projects");
    let slug = claude_project_slug(cwd);
    let prefix: String = slug.chars().take(200).collect();
    let mut found: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&projects).ok()?.flatten() {
        let p = entry.path().join(&name);
        if p.is_file() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                return Some(p);
            }
            found.push(p);
        }
    }
    found.sort();
    found.into_iter().next()
}
