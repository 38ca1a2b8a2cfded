//! The files of a snapshot: the workspace archive (listed the way git sees the folder,
//! packed as `workspace.tar.gz`, checked and unpacked on restore) and plain file copies.
//!
//! Why the `ignore` crate lists the workspace (ripgrep's walker): it honours `.gitignore`,
//! `.git/info/exclude` and the global excludes file as git does, also in a folder that is
//! not a repository, without needing the `git` program. Why `tar` + `flate2`: a standard
//! archive anyone can open with `tar xzf`, written as a stream (no second copy in memory),
//! and `tar`'s `unpack_in` refuses entries that would land outside the target folder.

use crate::model::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The archive's file name inside a snapshot folder.
pub const ARCHIVE: &str = "workspace.tar.gz";

/// The files of a workspace a snapshot keeps, relative to it, and their total size.
#[derive(Debug, Default)]
pub struct Listing {
    /// Relative paths, sorted.
    pub files: Vec<PathBuf>,
    /// Total size of the files (symbolic links count as their own small size).
    pub bytes: u64,
}

/// Lists the files of `dir` a snapshot keeps: tracked and untracked, not ignored, `.git`
/// left out. Fails (with what to do) once the total passes `cap`, before anything is
/// written.
pub fn list_workspace(dir: &Path, cap: u64) -> Result<Listing> {
    let mut out = Listing::default();
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| {
            Error::InvalidArgument(format!("cannot read the workspace {}: {e}", dir.display()))
        })?;
        let Some(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() {
            continue;
        }
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(|e| Error::io(format!("reading {}", entry.path().display()), e))?;
        if !(ft.is_file() || ft.is_symlink()) {
            continue; // sockets, fifos: nothing to keep
        }
        out.bytes += meta.len();
        if out.bytes > cap {
            return Err(Error::InvalidArgument(format!(
                "the workspace {} holds more than the snapshot cap of {} (after ignoring what .gitignore ignores): pass a bigger --max-size, add what need not be kept to .gitignore, or pass --no-workspace",
                dir.display(),
                crate::model::snapshot::human_bytes(cap)
            )));
        }
        let rel = entry.path().strip_prefix(dir).map_err(|_| {
            Error::InvalidArgument(format!(
                "{} is outside the workspace",
                entry.path().display()
            ))
        })?;
        out.files.push(rel.to_path_buf());
    }
    out.files.sort();
    Ok(out)
}

/// Writes the listed files of `dir` to `out` as a gzip'd tar (symbolic links kept as links,
/// modes kept). Returns the archive's size and SHA-256. The file is synced before this
/// returns.
pub fn write_archive(dir: &Path, listing: &Listing, out: &Path) -> Result<(u64, String)> {
    let ctx = |e: std::io::Error| Error::io(format!("writing the archive {}", out.display()), e);
    let file = File::create(out).map_err(ctx)?;
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Complete);
    for rel in &listing.files {
        tar.append_path_with_name(dir.join(rel), rel)
            .map_err(|e| Error::io(format!("archiving {}", dir.join(rel).display()), e))?;
    }
    let gz = tar.into_inner().map_err(ctx)?;
    let buffered = gz.finish().map_err(ctx)?;
    let file = buffered.into_inner().map_err(|e| ctx(e.into_error()))?;
    file.sync_all().map_err(ctx)?;
    drop(file);
    let sha = sha256_of(out)?;
    let size = std::fs::metadata(out).map_err(ctx)?.len();
    Ok((size, sha))
}

/// SHA-256 of a file, hex.
pub fn sha256_of(path: &Path) -> Result<String> {
    let ctx = |e| Error::io(format!("reading {}", path.display()), e);
    let mut f = BufReader::new(File::open(path).map_err(ctx)?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(ctx)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Unpacks `archive` into `dest` (an existing, empty folder) once its checksum is
/// `sha256`. A damaged archive or an entry aiming outside `dest` fails; the caller removes
/// what was unpacked. Returns the number of entries.
pub fn unpack_archive(archive: &Path, sha256: &str, dest: &Path) -> Result<u64> {
    let damaged = |why: String| {
        Error::InvalidArgument(format!(
            "the workspace archive {} is damaged ({why}); take a new snapshot, or restore another one",
            archive.display()
        ))
    };
    let actual = sha256_of(archive)?;
    if actual != sha256 {
        return Err(damaged("its checksum does not match".into()));
    }
    let file =
        File::open(archive).map_err(|e| Error::io(format!("reading {}", archive.display()), e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    tar.set_preserve_permissions(true);
    tar.set_overwrite(false);
    let mut n = 0;
    for entry in tar.entries().map_err(|e| damaged(e.to_string()))? {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let unpacked = entry.unpack_in(dest).map_err(|e| damaged(e.to_string()))?;
        if !unpacked {
            return Err(damaged("an entry points outside the folder".into()));
        }
        n += 1;
    }
    Ok(n)
}

/// Creates `dst`, fills it with `fill` and syncs it. Missing folders above it are made
/// (0700); existing ones are left as they are, since they may be an agent's own
/// (`~/.claude/projects/...`), whose modes are the user's business.
fn write_synced(
    dst: &Path,
    what: &str,
    fill: impl FnOnce(&mut File) -> std::io::Result<u64>,
) -> Result<u64> {
    let ctx = |e| Error::io(format!("{what} {}", dst.display()), e);
    if let Some(parent) = dst.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(ctx)?;
    }
    let mut f = File::create(dst).map_err(ctx)?;
    let n = fill(&mut f).map_err(ctx)?;
    f.sync_all().map_err(ctx)?;
    Ok(n)
}

/// Copies `src` to `dst` (synced, as `write_synced` writes); returns the size.
pub fn copy_file(src: &Path, dst: &Path) -> Result<u64> {
    let mut from =
        File::open(src).map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
    write_synced(dst, "writing", |to| std::io::copy(&mut from, to))
}

/// Copies a JSONL conversation file, giving it another session id: every line whose
/// `sessionId` is `old` gets `new` (as Claude Code's own `--fork-session` does); other lines,
/// and lines that are not JSON, are kept as they are.
pub fn copy_with_session_id(src: &Path, dst: &Path, old: &str, new: &str) -> Result<u64> {
    let text = std::fs::read_to_string(src)
        .map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(mut v) if v.get("sessionId").and_then(|s| s.as_str()) == Some(old) => {
                v["sessionId"] = serde_json::Value::String(new.to_string());
                out.push_str(&v.to_string());
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    write_synced(dst, "writing", |to| {
        to.write_all(out.as_bytes()).map(|_| out.len() as u64)
    })
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).expect("snapshot documents serialize");
    write_synced(path, "writing", |f| f.write_all(&text).map(|_| 0)).map(|_| ())
}

/// Total size of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                Err(_) => {}
            }
        }
    }
    total
}

/// The commit checked out in `dir`, when it is in a git repository and git is installed.
pub fn git_head(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let head = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !head.is_empty()).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_keeps_files_links_and_modes_and_skips_ignored_ones() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(src.join(".git")).unwrap();
        std::fs::write(src.join(".git/HEAD"), "ref").unwrap();
        std::fs::write(src.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::create_dir_all(src.join("target")).unwrap();
        std::fs::write(src.join("target/big"), "x").unwrap();
        std::fs::write(src.join("run.log"), "x").unwrap();
        std::fs::write(src.join("sub/a.txt"), "hello").unwrap();
        std::fs::write(src.join("tool.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(src.join("tool.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("sub/a.txt", src.join("link")).unwrap();
        let listing = list_workspace(&src, 1 << 20).unwrap();
        let names: Vec<String> = listing
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(names, [".gitignore", "link", "sub/a.txt", "tool.sh"]);
        let archive = tmp.path().join(ARCHIVE);
        let (_, sha) = write_archive(&src, &listing, &archive).unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        assert_eq!(unpack_archive(&archive, &sha, &dest).unwrap(), 4);
        assert_eq!(
            std::fs::read_to_string(dest.join("sub/a.txt")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_link(dest.join("link")).unwrap(),
            Path::new("sub/a.txt")
        );
        let mode = std::fs::metadata(dest.join("tool.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!dest.join("run.log").exists() && !dest.join(".git").exists());
        // one flipped byte: refused before anything is unpacked
        let mut bytes = std::fs::read(&archive).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&archive, bytes).unwrap();
        let dest2 = tmp.path().join("dest2");
        std::fs::create_dir(&dest2).unwrap();
        let err = unpack_archive(&archive, &sha, &dest2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(std::fs::read_dir(&dest2).unwrap().count(), 0);
    }

    #[test]
    fn a_forked_conversation_gets_the_new_id_in_its_lines_and_keeps_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("old.jsonl");
        std::fs::write(
            &src,
            "{\"sessionId\":\"old\",\"n\":1}\nnot json\n{\"sessionId\":\"other\"}\n{\"x\":2}",
        )
        .unwrap();
        let dst = tmp.path().join("a/b/new.jsonl");
        copy_with_session_id(&src, &dst, "old", "new").unwrap();
        let text = std::fs::read_to_string(&dst).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 4, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first, serde_json::json!({"sessionId": "new", "n": 1}));
        assert_eq!(
            lines[1..],
            ["not json", "{\"sessionId\":\"other\"}", "{\"x\":2}"]
        );
    }

    #[test]
    fn a_workspace_over_the_cap_is_refused_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("f"), vec![0u8; 2048]).unwrap();
        let err = list_workspace(tmp.path(), 1024).unwrap_err().to_string();
        assert!(
            err.contains("--max-size") && err.contains("--no-workspace"),
            "{err}"
        );
    }
}
