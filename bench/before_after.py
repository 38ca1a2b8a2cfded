#!/usr/bin/env python3
"""Before/after: two builds of agent-sessions side by side in one run, with dtach as the
reference, so a refactor can show it made nothing slower.

    python3 bench/before_after.py --old OLD_BIN [--new target/release/agent-sessions]
        [--old-python OLD_VENV/bin/python --new-python .venv/bin/python] [--runs 30] [--mb 64]

Measures, interleaved run by run so machine load hits both builds alike:
  1. start → id returned with the agent running (`start custom -- sleep 600`), and `dtach -n`;
  2. capture: an agent printing --mb MB, whole in the session log, to `stopped`, and a raw PTY
     (`script -qc 'cat FILE' /dev/null`);
  3. with --old-python/--new-python: the Python lifecycle calls (benches/python/
     bench_lifecycle.py --quick --only calls) in each interpreter.
Prints medians and new/old ratios. Every session it starts is stopped (also on Ctrl-C).
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


def run(binary, home, *args):
    return subprocess.run([str(binary), *args], env=dict(os.environ, AGENT_SESSIONS_HOME=str(home)),
                          check=True, capture_output=True, text=True).stdout


def stop_all(binary, home):
    try:
        for r in json.loads(run(binary, home, "ls", "--json")):
            subprocess.run([str(binary), "stop", r["session_id"], "--force"],
                           env=dict(os.environ, AGENT_SESSIONS_HOME=str(home)), capture_output=True)
    except (subprocess.CalledProcessError, json.JSONDecodeError, FileNotFoundError):
        pass


def start_once(binary, home):
    t0 = time.perf_counter()
    run(binary, home, "start", "custom", "--", "sleep", "600")
    return time.perf_counter() - t0


def capture_once(binary, home, data):
    t0 = time.perf_counter()
    sid = run(binary, home, "start", "custom", "--max-log-size", "1G", "--", "cat", str(data)).strip()
    run(binary, home, "wait", sid, "--state", "stopped", "--timeout", "600")
    took = time.perf_counter() - t0
    logged = (home / sid / "output.log").stat().st_size
    assert logged >= data.stat().st_size, f"log has {logged} bytes"
    run(binary, home, "rm", sid)
    return took


def timed(args):
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def lifecycle_calls(python, folder=None):
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    extra = ["--dir", folder] if folder else []
    subprocess.run([python, str(ROOT / "benches/python/bench_lifecycle.py"), "--quick", "--only", "calls",
                    "--json", str(out), *extra], check=True, stdout=subprocess.DEVNULL)
    figures = json.loads(out.read_text())
    out.unlink()
    return figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="the agent-sessions binary before the change")
    ap.add_argument("--new", default=str(ROOT / "target/release/agent-sessions"))
    ap.add_argument("--old-python")
    ap.add_argument("--new-python")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--floods", type=int, default=9)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--py-rounds", type=int, default=3, help="alternating runs of each interpreter")
    ap.add_argument("--py-dir", help="where the lifecycle benchmark writes (e.g. /dev/shm: CPU, not disk)")
    ap.add_argument("--skip-sessions", action="store_true", help="only the Python comparison")
    a = ap.parse_args()
    med = statistics.median
    rows = []
    for tool in ("dtach", "script"):
        if not a.skip_sessions and not shutil.which(tool):
            if os.geteuid() == 0 and shutil.which("apt-get"):
                subprocess.run(["apt-get", "install", "-y", "-q", "dtach" if tool == "dtach" else "bsdutils"],
                               stdout=subprocess.DEVNULL)
            if not shutil.which(tool):
                sys.exit(f"{tool} is needed for the comparison")
    with tempfile.TemporaryDirectory(prefix="asba") as t:
        tmp = Path(t)
        if a.skip_sessions:
            a.runs = a.floods = 0
        homes = {"old": tmp / "old", "new": tmp / "new"}
        bins = {"old": Path(a.old), "new": Path(a.new)}
        try:
            starts = {"old": [], "new": [], "dtach": []}
            for i in range(a.runs):
                for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    starts[k].append(start_once(bins[k], homes[k]))
                starts["dtach"].append(timed(["dtach", "-n", str(tmp / f"d{i}.sock"), "sleep", "600"]))
            for k in ("old", "new"):
                stop_all(bins[k], homes[k])
            subprocess.run(["pkill", "-f", f"dtach -n {tmp}"])
            if a.runs:
                o, n, d = (med(starts[k]) for k in ("old", "new", "dtach"))
                rows.append(("start → id, agent running", f"{o * 1e3:.2f} ms", f"{n * 1e3:.2f} ms",
                             f"{n / o:.2f}", f"dtach {d * 1e3:.2f} ms"))
            data = tmp / "flood.txt"
            line = b"0123456789abcdefghijklmnopqrstuvwxyz-agent-output-line-for-the-capture-benchmark\n"
            with open(data, "wb") as f:
                f.write(line * (a.mb * 1024 * 1024 // len(line) + 1))
            caps = {"old": [], "new": [], "raw": []}
            for i in range(a.floods):
                caps["raw"].append(timed(["script", "-qc", f"cat {data}", "/dev/null"]))
                for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                    caps[k].append(capture_once(bins[k], homes[k], data))
            if a.floods:
                o, n, r = (med(caps[k]) for k in ("old", "new", "raw"))
                rows.append((f"capture {data.stat().st_size / 1e6:.0f} MB to stopped", f"{o / r:.2f}x raw PTY",
                             f"{n / r:.2f}x raw PTY", f"{n / o:.2f}", f"raw PTY {r * 1e3:.0f} ms"))
        finally:
            for k in ("old", "new"):
                stop_all(bins[k], homes[k])
            subprocess.run(["pkill", "-f", f"dtach -n {tmp}"], stderr=subprocess.DEVNULL)
    if a.old_python and a.new_python:
        runs = {"old": [], "new": []}
        for i in range(a.py_rounds):
            for k in ("old", "new") if i % 2 == 0 else ("new", "old"):
                runs[k].append(lifecycle_calls(a.old_python if k == "old" else a.new_python, a.py_dir))
        fig = lambda k, what, col: med([r[col] for run in runs[k] for r in run["rows"]
                                         if r["what"] == what and col in r])
        for r in runs["new"][0]["rows"]:
            what = r["what"]
            o, n = fig("old", what, "ours_median_ms"), fig("new", what, "ours_median_ms")
            ref = fig("new", what, "reference_median_ms") if "reference_median_ms" in r else None
            rows.append((f"python {what}", f"{o:.3f} ms", f"{n:.3f} ms", f"{n / o:.2f}" if o else "-",
                         f"reference {ref:.3f} ms" if ref is not None else ""))
    print(f"\n{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}, medians of {a.runs} starts, {a.floods} floods\n")
    print("| measure | before | after | after/before | reference, same run |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
