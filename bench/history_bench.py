#!/usr/bin/env python3
"""Benchmarks for issue 7 (history, suspend/resume, events, retention), each side by side with
its reference in the same run.

    python3 bench/history_bench.py [--runs 15] [--events 100000] [--sessions 10000] [--skip-build]
    .venv/bin/python bench/history_bench.py ...   # adds in-process figures through the Python binding

Measures (medians; every figure includes the `agent-sessions` client's process start):
  1. suspend -> resume -> running of a small resumable agent (a user-defined type with
     `session_id_args` and `resume`, see ARCHITECTURE.md), against a plain `start` of the same
     agent and the roadmap's goal of 200 ms;
  2. a session with N events and N messages: the first page of `events` and of `history`, a
     page at the end of the history, and how soon `events --follow` prints a new event,
     against the reference hook library's way (all phase history inside one state.json,
     loaded whole to read any of it);
  3. `cleanup` of N ended sessions (rows plus folders with a log and a screen), against the
     reference hook library's cleanup_old_sessions scanning N state.json folders
     (benches/python/reference_agent_session.py).
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("AGENT_SESSIONS_BENCH_BIN", ROOT / "target" / "release" / "agent-sessions"))
sys.path.insert(0, str(ROOT / "benches" / "python"))

# A minimal resumable agent: `--session-id ID` starts conversation ID, `--resume ID`
# continues it (or fails like Claude Code when it is gone).
AGENT = r"""
import os, sys
args = sys.argv[1:]
resumed = '--resume' in args
sid = args[args.index('--resume' if resumed else '--session-id') + 1]
store = os.path.join(os.environ['RESUMABLE_STORE'], sid + '.txt')
if resumed and not os.path.exists(store):
    print('No conversation found with session ID: ' + sid, flush=True)
    sys.exit(1)
open(store, 'a').close()
print(('resumed ' if resumed else 'new ') + sid, flush=True)
for line in sys.stdin:
    print('reply to ' + line.strip(), flush=True)
"""


def med(xs):
    return statistics.median(xs)


def ms(x):
    return f"{x * 1000:.1f} ms"


class Ours:
    def __init__(self, home):
        self.home = Path(home)
        self.env = dict(os.environ, AGENT_SESSIONS_HOME=str(home))

    def run(self, *args, check=True):
        return subprocess.run([str(BIN), *args], env=self.env, check=check,
                              capture_output=True, text=True).stdout

    def timed(self, *args):
        t0 = time.perf_counter()
        out = self.run(*args)
        return time.perf_counter() - t0, out


def bench_resume(tmp, runs, rows):
    home = tmp / "resume-home"
    store = tmp / "conversations"
    home.mkdir()
    store.mkdir()
    script = tmp / "resumable.py"
    script.write_text(AGENT)
    (home / "agents.toml").write_text(
        "[agents.resumable]\n"
        f"command = [\"{sys.executable}\", \"{script}\"]\n"
        "resume = [\"--resume\", \"{id}\"]\n"
        "session_id_args = [\"--session-id\", \"{id}\"]\n")
    ours = Ours(home)
    ours.env["RESUMABLE_STORE"] = str(store)
    starts, suspends, resumes, rounds = [], [], [], []
    for _ in range(runs):
        t_start, sid = ours.timed("start", "resumable", "--idle-after", "0.2")
        sid = sid.strip()
        starts.append(t_start)
        ours.run("wait", sid, "--state", "waiting_input", "--timeout", "30")
        t_s, out = ours.timed("suspend", sid, "--timeout", "5")
        assert out.strip() == "suspended", out
        t_r, out = ours.timed("resume", sid)
        assert out.strip() in ("running", "waiting_input"), out
        suspends.append(t_s)
        resumes.append(t_r)
        rounds.append(t_s + t_r)
        ours.run("stop", sid, "--force")
    rows.append(("suspend (agent ends cleanly, state suspended)", ms(med(suspends)), "", ""))
    rows.append(("resume → agent running again, same session id", ms(med(resumes)),
                 f"plain start of the same agent {ms(med(starts))}; goal 200 ms",
                 f"{0.200 / med(resumes):.0f}x under the goal"))
    rows.append(("suspend → resume → running", ms(med(rounds)), "goal 200 ms",
                 f"{0.200 / med(rounds):.1f}x under the goal"))


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def bench_events(tmp, n, runs, rows):
    home = tmp / "events-home"
    ours = Ours(home)
    sid = ours.run("start", "custom", "--", "sleep", "600").strip()
    db = sqlite3.connect(home / "agent-sessions.db", timeout=30)
    base = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?",
                      (sid,)).fetchone()[0]
    now = datetime.now(timezone.utc)
    with db:
        db.executemany(
            "INSERT INTO events (session_id, seq, at, source, kind, data) VALUES (?,?,?,?,?,?)",
            ((sid, base + i + 1, iso(now), "user", "input",
              json.dumps({"text": f"prompt {i}", "enter": True})) for i in range(n)))
        db.executemany(
            "INSERT INTO messages (session_id, seq, role, text, at, source) VALUES (?,?,?,?,?,?)",
            ((sid, i + 1, "user" if i % 2 == 0 else "assistant", f"message {i} " + "x" * 200,
              iso(now), "screen") for i in range(n)))
    last = base + n
    # The reference keeps phase history inside state.json: reading any of it loads it all.
    ref_state = tmp / "ref-state.json"
    ref_state.write_text(json.dumps({
        "agent_id": sid, "phase": "executing",
        "history": [{"from": "planning", "to": "executing", "timestamp": iso(now),
                     "note": f"prompt {i}"} for i in range(n)]}))
    first_ev, first_hist, last_hist, ref_load, follow = [], [], [], [], []
    for _ in range(runs):
        t, out = ours.timed("events", sid, "--json", "--limit", "100")
        assert len(out.splitlines()) == 100
        first_ev.append(t)
        t, out = ours.timed("history", sid, "--json", "--limit", "100")
        assert len(json.loads(out)["messages"]) == 100
        first_hist.append(t)
        t, out = ours.timed("history", sid, "--json", "--offset", str(n - 100), "--limit", "100")
        assert len(json.loads(out)["messages"]) == 100
        last_hist.append(t)
        t0 = time.perf_counter()
        doc = json.loads(ref_state.read_text())
        _ = doc["history"][:100]
        ref_load.append(time.perf_counter() - t0)
    # Following: a follower at the end of N events; time from an event's commit to its line.
    for i in range(runs):
        # The session records its own events too (quiet timer): start after the last one.
        last = db.execute("SELECT MAX(seq) FROM events WHERE session_id = ?", (sid,)).fetchone()[0]
        p = subprocess.Popen([str(BIN), "events", sid, "--follow", "--json", "--since", str(last)],
                             env=ours.env, stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)  # let it reach its polling loop (setup only; not part of the figure)
        last += 1
        t0 = time.perf_counter()
        with db:
            db.execute("INSERT INTO events (session_id, seq, at, source, kind, data) "
                       "VALUES (?,?,?,?,?,?)", (sid, last, iso(now), "user", "input", "{}"))
        line = p.stdout.readline()
        follow.append(time.perf_counter() - t0)
        assert json.loads(line)["seq"] == last, line
        p.kill()
        p.wait()
    # In-process, like the reference: the Python binding, when this interpreter has it.
    py_ev, py_hist = [], []
    try:
        import agent_sessions
        mgr = agent_sessions.SessionManager(home=str(home))
        for _ in range(runs):
            t0 = time.perf_counter()
            assert len(mgr.events(sid, since=0, limit=100)) == 100
            py_ev.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert len(mgr.history(sid, offset=0, limit=100)["messages"]) == 100
            py_hist.append(time.perf_counter() - t0)
    except ImportError:
        pass
    ours.run("stop", sid, "--force")
    if py_ev:
        rows.append((f"events: first 100 of {n:,}, Python in-process", ms(med(py_ev)),
                     f"reference: load state.json with {n:,} history entries {ms(med(ref_load))}",
                     f"{med(ref_load) / med(py_ev):.0f}x"))
        rows.append((f"history: first page of {n:,}, Python in-process", ms(med(py_hist)), "", ""))
    rows.append((f"events: first 100 of {n:,} (`events --limit 100`)", ms(med(first_ev)),
                 f"reference: load state.json with {n:,} history entries {ms(med(ref_load))}",
                 f"{med(ref_load) / med(first_ev):.1f}x"))
    rows.append((f"history: first page of {n:,} messages", ms(med(first_hist)), "", ""))
    rows.append((f"history: last page of {n:,} messages", ms(med(last_hist)), "", ""))
    rows.append((f"events --follow: new event → printed, {n:,} before it", ms(med(follow)), "", ""))


def make_ended_sessions(home, n):
    """N ended sessions as the library leaves them: rows, and folders with the output log, the
    last screen, the host's log and its lock file."""
    db = sqlite3.connect(home / "agent-sessions.db", timeout=30)
    old = iso(datetime.now(timezone.utc) - timedelta(days=3))
    ids = [f"agent-20261101-000000-{i:08x}" for i in range(n)]
    with db:
        db.executemany(
            "INSERT INTO sessions (id, kind, agent_type, state, created_at, updated_at, ended_at)"
            " VALUES (?, 'hosted', 'custom', 'stopped', ?, ?, ?)",
            ((i, old, old, old) for i in ids))
        db.executemany(
            "INSERT INTO transitions (session_id, seq, from_state, to_state, at, cause, source)"
            " VALUES (?, 1, 'running', 'stopped', ?, 'exited with status 0', 'process')",
            ((i, old) for i in ids))
    db.close()
    for i in ids:
        d = home / i
        d.mkdir(mode=0o700)
        (d / "output.log").write_bytes(b"x" * 2048)
        (d / "screen.txt").write_text("$ done\n")
        (d / "host.log").write_text("")
        (d / "host.lock").write_text("")


def make_reference_sessions(base, n):
    old = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    for i in range(n):
        d = base / f"agent-ref-{i:08x}"
        d.mkdir()
        (d / "state.json").write_text(json.dumps({
            "agent_id": d.name, "agent_name": "x", "phase": "completed",
            "created_at": old, "last_updated": old, "history": []}))


def bench_cleanup(tmp, n, runs, rows):
    import reference_agent_session as ref
    ours_t, ref_t = [], []
    for r in range(runs):
        home = tmp / f"cleanup-home-{r}"
        ours = Ours(home)
        ours.run("ls")  # creates and migrates the store
        make_ended_sessions(home, n)
        t, out = ours.timed("cleanup", "--older-than", "1h", "--json")
        report = json.loads(out)
        assert len(report["sessions"]) == n, len(report["sessions"])
        ours_t.append(t)
        assert not any(p.is_dir() and p.name.startswith("agent-") for p in home.iterdir())
        base = tmp / f"ref-{r}"
        base.mkdir()
        make_reference_sessions(base, n)
        session = ref.AgentSession(base_path=str(base))
        t0 = time.perf_counter()
        removed = session.cleanup_old_sessions(hours=1)
        ref_t.append(time.perf_counter() - t0)
        assert removed == n, removed
    # Deciding what to remove, with nothing old enough: the scan alone.
    scan_ours, scan_ref = [], []
    home = tmp / "scan-home"
    ours = Ours(home)
    ours.run("ls")
    make_ended_sessions(home, n)
    base = tmp / "scan-ref"
    base.mkdir()
    make_reference_sessions(base, n)
    session = ref.AgentSession(base_path=str(base))
    for _ in range(runs):
        t, out = ours.timed("cleanup", "--older-than", "365d", "--json")
        assert json.loads(out)["sessions"] == []
        scan_ours.append(t)
        t0 = time.perf_counter()
        assert session.cleanup_old_sessions(hours=24 * 365) == 0
        scan_ref.append(time.perf_counter() - t0)
    # The floor for removing our folders: `rm -rf` of the same layout (4 files each).
    floor = tmp / "rm-floor"
    floor.mkdir()
    for i in range(n):
        d = floor / f"agent-20261101-000000-{i:08x}"
        d.mkdir()
        (d / "output.log").write_bytes(b"x" * 2048)
        (d / "screen.txt").write_text("$ done\n")
        (d / "host.log").write_text("")
        (d / "host.lock").write_text("")
    t0 = time.perf_counter()
    subprocess.run(["rm", "-rf", str(floor)], check=True)
    rm_t = time.perf_counter() - t0
    rows.append((f"cleanup scan of {n:,} sessions, none old enough", ms(med(scan_ours)),
                 f"reference cleanup_old_sessions {ms(med(scan_ref))}",
                 f"{med(scan_ref) / med(scan_ours):.0f}x"))
    rows.append((f"cleanup of {n:,} ended sessions (rows + folders)", ms(med(ours_t)),
                 f"reference cleanup_old_sessions {ms(med(ref_t))} (1 file a folder); `rm -rf` of our {n:,} folders (4 files each) {ms(rm_t)}",
                 f"{med(ref_t) / med(ours_t):.1f}x"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--cleanup-runs", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--only", choices=["resume", "events", "cleanup"], help="run one part")
    a = ap.parse_args()
    if not a.skip_build:
        subprocess.run([str(ROOT / "scripts" / "build_cli.sh"), "-q"],
                       cwd=ROOT, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="as-hbench-"))
    rows = []
    try:
        if a.only in (None, "resume"):
            bench_resume(tmp, a.runs, rows)
        if a.only in (None, "events"):
            bench_events(tmp, a.events, a.runs, rows)
        if a.only in (None, "cleanup"):
            bench_cleanup(tmp, a.sessions, a.cleanup_runs, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"\nload average {load:.1f}; medians\n")
    print("| measure | agent-sessions | reference (same run) | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
