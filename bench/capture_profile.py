#!/usr/bin/env python3
"""Where a flood's time goes: one session flood (`start custom -- cat FILE`, `wait --state
stopped`) with the CPU of each host thread (schedstat, sampled until the host exits), the
agent's exit vs the recorded transitions, and the time the `wait` returned.

    python3 bench/capture_profile.py --bin target/release/agent-sessions [--mb 135] [--runs 3]

Run it from an empty folder (the session's cwd is walked at its end)."""
import argparse, glob, json, os, sqlite3, statistics, subprocess, sys, tempfile, threading, time
from datetime import datetime, timezone
from pathlib import Path


def iso(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def threads(pid):
    out = {}
    for d in glob.glob(f"/proc/{pid}/task/*"):
        try:
            name = Path(d, "comm").read_text().strip()
            run_ns = int(Path(d, "schedstat").read_text().split()[0])
            out[f"{name}/{Path(d).name}"] = run_ns
        except OSError:
            pass
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--mb", type=int, default=135)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ascp") as t:
        tmp = Path(t)
        home = tmp / "home"
        env = dict(os.environ, AGENT_SESSIONS_HOME=str(home))
        data = tmp / "flood.txt"
        line = b"0123456789abcdefghijklmnopqrstuvwxyz-agent-output-line-for-the-capture-benchmark\n"
        data.write_bytes(line * (a.mb * 1024 * 1024 // len(line) + 1))
        mark = tmp / "exited"
        # warm the home (first start creates the store)
        sid = subprocess.run([a.bin, "start", "custom", "--", "true"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run([a.bin, "wait", sid, "--state", "stopped"], env=env, check=True, capture_output=True)
        for _ in range(a.runs):
            t0 = time.time()
            sid = subprocess.run([a.bin, "start", "custom", "--max-log-size", "1G", "--", "sh", "-c",
                                  f"cat {data}; date +%s.%N > {mark}"], env=env, capture_output=True, text=True,
                                 check=True).stdout.strip()
            t_start = time.time()
            rec = json.loads(subprocess.run([a.bin, "show", sid, "--json"], env=env, capture_output=True, text=True).stdout or "{}")
            pid = rec.get("host_pid")
            last = {}
            stop = threading.Event()

            def sampler():
                while not stop.is_set():
                    s = threads(pid)
                    if not s:
                        return
                    last.update(s)
                    time.sleep(0.005)
            th = threading.Thread(target=sampler)
            if pid:
                last.update(threads(pid))
                th.start()
            subprocess.run([a.bin, "wait", sid, "--state", "stopped", "--timeout", "600"], env=env, check=True, capture_output=True)
            t_wait = time.time()
            time.sleep(0.3)
            stop.set()
            if pid:
                th.join()
            exited = float(mark.read_text())
            db = sqlite3.connect(home / "agent-sessions.db")
            tr = {to: iso(at) for to, at in db.execute("select to_state, at from transitions where session_id=?", (sid,))}
            lo = db.execute("select last_output_at from sessions where id=?", (sid,)).fetchone()[0]
            db.close()
            print(f"{sid}: start returned +{(t_start - t0) * 1e3:.0f} ms, running +{(tr['running'] - t0) * 1e3:.0f}, "
                  f"agent exit +{(exited - t0) * 1e3:.0f}, last output +{(iso(lo) - t0) * 1e3:.0f}, "
                  f"stopped +{(tr['stopped'] - t0) * 1e3:.0f}, wait returned +{(t_wait - t0) * 1e3:.0f} ms")
            print("   exit->stopped %.1f ms, stopped->wait %.1f ms" % ((tr['stopped'] - exited) * 1e3, (t_wait - tr['stopped']) * 1e3))
            print("   host threads CPU ms: " + ", ".join(f"{k} {v / 1e6:.0f}" for k, v in sorted(last.items(), key=lambda kv: -kv[1])))
            subprocess.run([a.bin, "rm", sid], env=env, capture_output=True)


if __name__ == "__main__":
    main()
