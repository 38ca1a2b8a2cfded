#!/usr/bin/env python3
"""Benchmarks for hosted sessions, side by side with the references in the same run.

    python3 bench/sessions_bench.py [--runs 30] [--mb 128] [--skip-build]

Measures:
  1. start latency: `agent-sessions start` (returns once the agent runs) vs `dtach -n` and
     `tmux new-session -d` on a running tmux server;
  2. output throughput: an agent printing --mb MB, captured whole to the session log, vs a
     raw PTY (`script -qc 'cat FILE' /dev/null`) and tmux;
  3. idle host: RSS and CPU of an idle session's host vs dtach and the tmux server.
Prints medians as a Markdown table. Timings include process start of each tool's client.
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
BIN = ROOT / "target" / "release" / "agent-sessions"


def sh(args, **kw):
    return subprocess.run(args, check=True, **kw)


def need(tool, package):
    if shutil.which(tool):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", package], stdout=subprocess.DEVNULL)
    return shutil.which(tool) is not None


def timed(args, **kw):
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=kw.pop("stdout", subprocess.DEVNULL), **kw)
    return time.perf_counter() - t0


def ms(x):
    return f"{x * 1000:.2f} ms"


def rss_kb(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Ours:
    def __init__(self, home):
        self.env = dict(os.environ, AGENT_SESSIONS_HOME=str(home))

    def run(self, *args, **kw):
        return subprocess.run([str(BIN), *args], env=self.env, check=True, capture_output=True, text=True, **kw).stdout

    def start(self, *cmd):
        return self.run("start", "custom", "--", *cmd).strip()

    def record(self, sid):
        return json.loads(self.run("show", sid, "--json"))

    def stop_all(self):
        for r in json.loads(self.run("ls", "--json")):
            subprocess.run([str(BIN), "stop", r["session_id"], "--force"], env=self.env, capture_output=True)


def bench_start(ours, tmp, runs, rows):
    tmux = ["tmux", "-L", "asbench"]
    subprocess.run(tmux + ["new-session", "-d", "sleep", "600"], check=True)  # server up
    o, d, t, internal = [], [], [], []
    for i in range(runs):
        t0 = time.perf_counter()
        sid = subprocess.run([str(BIN), "start", "custom", "--", "sleep", "600"], env=ours.env,
                             check=True, capture_output=True, text=True).stdout.strip()
        o.append(time.perf_counter() - t0)
        rec = ours.record(sid)
        tr = {x["to"]: x["at"] for x in rec["transitions"]}
        internal.append(iso_ms(tr["running"]) - iso_ms(tr["starting"]))
        d.append(timed(["dtach", "-n", str(tmp / f"dtach{i}.sock"), "sleep", "600"]))
        t.append(timed(tmux + ["new-session", "-d", "sleep", "600"]))
    subprocess.run(tmux + ["kill-server"])
    subprocess.run(["pkill", "-f", f"dtach -n {tmp}"])
    ours.stop_all()
    med = statistics.median
    rows.append(("start: `start` returns id, agent running", ms(med(o)), f"dtach {ms(med(d))}, tmux {ms(med(t))}",
                 f"{med(d) / med(o):.2f}x dtach, {med(t) / med(o):.2f}x tmux"))
    rows.append(("start: record `starting`→`running` (inside)", f"{med(internal):.1f} ms", "", ""))


def iso_ms(s):
    from datetime import datetime
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000


def bench_throughput(ours, tmp, mb, runs, rows):
    data = tmp / "flood.txt"
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-agent-output-line-for-throughput\n"
    with open(data, "wb") as f:
        for _ in range(mb * 1024 * 1024 // len(line) + 1):
            f.write(line)
    size = data.stat().st_size
    raw, mine, tm = [], [], []
    tmux = ["tmux", "-L", "asflood"]
    for _ in range(runs):
        raw.append(timed(["script", "-qc", f"cat {data}", "/dev/null"]))
        t0 = time.perf_counter()
        # A cap above the file's size: this measures capture, not rotation.
        sid = ours.run("start", "custom", "--max-log-size", "1G", "--", "cat", str(data)).strip()
        ours.run("wait", sid, "--state", "stopped", "--timeout", "600")
        mine.append(time.perf_counter() - t0)
        logged = (Path(ours.env["AGENT_SESSIONS_HOME"]) / sid / "output.log").stat().st_size
        assert logged >= size, f"log has {logged} of {size} bytes"
        ours.run("rm", sid)
        t0 = time.perf_counter()
        subprocess.run(tmux + ["new-session", "-d", "-x", "120", "-y", "35",
                               f"cat {data}; tmux -L asflood wait-for -S done"], check=True)
        subprocess.run(tmux + ["wait-for", "done"], check=True)
        tm.append(time.perf_counter() - t0)
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
    med = statistics.median
    mbs = lambda t: f"{size / t / 1e6:.0f} MB/s"
    rows.append((f"throughput: {size / 1e6:.0f} MB to the log", f"{ms(med(mine))} ({mbs(med(mine))})",
                 f"raw PTY {ms(med(raw))} ({mbs(med(raw))}), tmux {ms(med(tm))}",
                 f"{med(raw) / med(mine) * 100:.0f}% of raw PTY speed"))


def bench_idle(ours, tmp, rows):
    sid = ours.start("sleep", "600")
    ours.run("wait", sid, "--state", "waiting_input", "--timeout", "30")
    time.sleep(1)  # let the host settle after the transition
    host = ours.record(sid)["host_pid"]
    t0 = cpu_ticks(host)
    time.sleep(10)
    ticks = cpu_ticks(host) - t0
    rss, anon = rss_kb(host), rss_kb(host, "RssAnon")
    ours.stop_all()
    sock = tmp / "idle.sock"
    subprocess.run(["dtach", "-n", str(sock), "sleep", "600"], check=True)
    time.sleep(1)
    dpid = int(subprocess.run(["pgrep", "-f", f"dtach -n {sock}"], capture_output=True, text=True).stdout.split()[0])
    drss = rss_kb(dpid)
    subprocess.run(["pkill", "-f", f"dtach -n {sock}"])
    subprocess.run(["tmux", "-L", "asidle", "new-session", "-d", "sleep", "600"], check=True)
    time.sleep(1)
    tpid = int(subprocess.run(["tmux", "-L", "asidle", "display-message", "-p", "#{pid}"], capture_output=True, text=True).stdout)
    trss = rss_kb(tpid)
    subprocess.run(["tmux", "-L", "asidle", "kill-server"])
    rows.append(("idle host RSS", f"{rss / 1024:.1f} MB ({anon / 1024:.1f} MB private)",
                 f"dtach {drss / 1024:.1f} MB, tmux server {trss / 1024:.1f} MB", ""))
    rows.append(("idle host CPU over 10 s", f"{ticks} clock ticks", "", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--mb", type=int, default=128)
    ap.add_argument("--throughput-runs", type=int, default=5)
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()
    for tool, pkg in [("dtach", "dtach"), ("tmux", "tmux"), ("script", "bsdutils")]:
        if not need(tool, pkg):
            sys.exit(f"{tool} is needed for the comparison: apt-get install {pkg}")
    if not a.skip_build:
        sh([str(ROOT / "scripts" / "build_cli.sh"), "-q"], cwd=ROOT)
    rows = []
    with tempfile.TemporaryDirectory(prefix="asbench") as t:
        tmp = Path(t)
        ours = Ours(tmp / "home")
        try:
            bench_start(ours, tmp, a.runs, rows)
            bench_throughput(ours, tmp, a.mb, a.throughput_runs, rows)
            bench_idle(ours, tmp, rows)
        finally:
            ours.stop_all()
    print(f"\nmachine: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, medians of {a.runs} starts and {a.throughput_runs} floods\n")
    print("| measure | agent-sessions | reference | ratio |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
