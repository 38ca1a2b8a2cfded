#!/usr/bin/env python3
"""Snapshots (issue 16): `snapshot` and `restore` side by side with the shell way of doing the
same with git and tar, in the same run.

    python3 bench/snapshot_bench.py [--runs 9] [--files 2000] [--skip-build]

The workspace is a real git repository: --files committed source files of about 4 KB in
nested folders, a few untracked ones, and an ignored `target/` of 64 MB that neither side
may archive. Measured (medians; the CLI figures include the client's process start):
  1. `agent-sessions snapshot ID --keep 0` (record, events, history, the archive) against
     `git ls-files -co --exclude-standard -z | tar --null -T - -czf` (the archive alone);
  2. `agent-sessions restore SNAP --cwd NEW` (checksum, unpack, a new session started) against
     `mkdir NEW && tar xzf` (unpack alone);
  3. the archive sizes of both.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("AGENT_SESSIONS_BENCH_BIN", ROOT / "target" / "release" / "agent-sessions"))


def run(args, env=None, cwd=None, shell=False):
    out = subprocess.run(args, env=env, cwd=cwd, shell=shell, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{args} failed: {out.stderr}")
    return out.stdout


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def make_repo(ws: Path, files: int) -> None:
    ws.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main"], cwd=ws)
    run(["git", "config", "user.email", "bench@example.invalid"], cwd=ws)
    run(["git", "config", "user.name", "Bench"], cwd=ws)
    run(["git", "config", "commit.gpgsign", "false"], cwd=ws)
    (ws / ".gitignore").write_text("target/\n*.log\n")
    for i in range(files):
        d = ws / "src" / f"m{i % 40}" / f"s{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.rs").write_text(f"// file {i}\n" + "pub fn f() -> u64 { 42 }\n" * 160)
    run(["git", "add", "."], cwd=ws)
    run(["git", "commit", "-q", "-m", "bench"], cwd=ws)
    for i in range(20):
        (ws / f"untracked{i}.txt").write_text("new work\n" * 100)
    (ws / "target").mkdir()
    (ws / "target" / "big.bin").write_bytes(os.urandom(64 * 1024 * 1024))
    (ws / "build.log").write_text("ignored\n" * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()
    if not a.skip_build:
        run([str(ROOT / "scripts" / "build_cli.sh"), "-q"], cwd=ROOT)
    tmp = Path(tempfile.mkdtemp(prefix="as-snapbench"))
    started = []
    env = dict(os.environ, AGENT_SESSIONS_HOME=str(tmp / "home"))
    try:
        ws = tmp / "ws"
        make_repo(ws, a.files)
        sid = run([str(BIN), "start", "custom", "--cwd", str(ws), "--", "sleep", "600"], env=env).strip()
        started.append(sid)

        ours, ref, snaps = [], [], []
        for i in range(a.runs):
            def snap():
                snaps.append(json.loads(run([str(BIN), "snapshot", sid, "--keep", "0", "--json"], env=env)))
            ours.append(timed(snap))
            out = tmp / f"ref{i}.tar.gz"
            cmd = f"git ls-files -co --exclude-standard -z | tar --null -T - -czf {out}"
            ref.append(timed(lambda: run(cmd, cwd=ws, shell=True)))

        r_ours, r_ref = [], []
        for i in range(a.runs):
            target = tmp / f"restored{i}"
            def restore():
                started.append(run([str(BIN), "restore", snaps[i]["snapshot_id"], "--cwd", str(target)], env=env).strip())
            r_ours.append(timed(restore))
            plain = tmp / f"plain{i}"
            r_ref.append(timed(lambda: run(f"mkdir {plain} && tar xzf {tmp / f'ref{i}.tar.gz'} -C {plain}", shell=True)))

        med = statistics.median
        w = snaps[0]["workspace"]
        print(f"workspace: {w['files']} files kept, {w['bytes'] / 1e6:.1f} MB (target/ of 64 MB ignored)")
        print(f"snapshot:  agent-sessions {med(ours) * 1000:.0f} ms   git ls-files | tar czf {med(ref) * 1000:.0f} ms   ratio {med(ours) / med(ref):.2f}x")
        print(f"restore:   agent-sessions {med(r_ours) * 1000:.0f} ms   mkdir && tar xzf {med(r_ref) * 1000:.0f} ms   ratio {med(r_ours) / med(r_ref):.2f}x")
        ref_size = (tmp / "ref0.tar.gz").stat().st_size
        print(f"archive:   agent-sessions {w['archive_bytes'] / 1e6:.2f} MB   tar czf {ref_size / 1e6:.2f} MB")
    finally:
        for s in started:
            subprocess.run([str(BIN), "stop", s, "--force"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
