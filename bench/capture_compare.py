#!/usr/bin/env python3
"""Capture of builds side by side: interleaved floods through a raw PTY and each build.
usage: capture_compare.py FLOODS name=BIN [name=BIN ...]   (e.g. 7 old=/tmp/old/agent-sessions new=target/release/agent-sessions)

Each round pushes the same 135 MB text file through `script -qc cat` (the raw PTY) and
then through every build (`start custom --max-log-size 1G -- cat FILE`, then `wait --state
stopped`: all of it in output.log and the end recorded), each build in its own temporary
home. Prints medians and the ratio to the raw PTY. bench/scale.py measures the same against
dtach for one build; this one is for telling a change of the code from a change of the
machine."""
import os, shutil, statistics, subprocess, sys, tempfile, time

if len(sys.argv) < 3 or not sys.argv[1].isdigit():
    sys.exit(__doc__)
floods = int(sys.argv[1])
builds = dict(a.split("=", 1) for a in sys.argv[2:])
tmp = tempfile.mkdtemp(prefix="capture-")
try:
    data = os.path.join(tmp, "flood.txt")
    line = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 3)[:99] + b"\n"
    with open(data, "wb") as f:
        f.write(line * (135 * 1024 * 1024 // len(line)))
    res = {"raw PTY": []}
    res.update({k: [] for k in builds})
    for _ in range(floods):
        t0 = time.perf_counter()
        subprocess.run(["script", "-qc", f"cat {data}", "/dev/null"], stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, check=True)
        res["raw PTY"].append(time.perf_counter() - t0)
        for name, b in builds.items():
            env = dict(os.environ, AGENT_SESSIONS_HOME=os.path.join(tmp, name))
            t0 = time.perf_counter()
            sid = subprocess.run([b, "start", "custom", "--max-log-size", "1G", "--", "cat", data],
                                 env=env, capture_output=True, text=True, check=True).stdout.strip()
            subprocess.run([b, "wait", sid, "--state", "stopped", "--timeout", "600"], env=env,
                           stdout=subprocess.DEVNULL, check=True)
            res[name].append(time.perf_counter() - t0)
            subprocess.run([b, "rm", sid], env=env, stdout=subprocess.DEVNULL, check=True)
    raw = statistics.median(res["raw PTY"])
    for name, v in res.items():
        m = statistics.median(v)
        print(f"{name:10s} median {m * 1000:7.0f} ms  {m / raw:.2f}x raw PTY  (n={len(v)})")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
