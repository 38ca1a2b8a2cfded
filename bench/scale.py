#!/usr/bin/env python3
"""Speed and scale: N live sessions of agent-sessions, side by side with tmux and dtach.

    python3 bench/scale.py --sessions 1000 [--steps 10,100,1000] [--idle-secs 60] [--floods 9 --mb 135]
                           [--runs 20] [--skip-build | --bin PATH] [--json FILE]
    python3 bench/scale.py --skip-build --compare old=OLD_BIN [--floods 7]   # capture only, builds side by side

One tool at a time (agent-sessions: N hosts; dtach: N masters; tmux: N sessions on one
server), it grows the live sessions to each step with a bash loop of starts and measures
there: the loop's time per start, that every session reports its real state, starts with
that many live, idle CPU and Pss of the hosts / masters / server, load, `ls` latency and
(ours) the age of the sample `top` shows; then it stops all N. Starts with 0 live are
measured first, interleaved. The method in full: docs/BENCHMARKS.md, "Speed and scale".

Sessions run `sleep 100000` in an empty temporary folder under a private
AGENT_SESSIONS_HOME. Everything the run starts carries a marker in its environment, so the
cleanup (also on Ctrl-C, SIGTERM, SIGHUP) finds and ends each such process, kills the tmux
server and the dtach masters and removes the temporary folder. RLIMIT_NOFILE and
RLIMIT_NPROC are raised for this process and its children only; nothing else is changed.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
TAG_VAR = "AGENT_SESSIONS_SCALE_BENCH"
AGENT = ["sleep", "100000"]
LIVE_STATES = {"running", "waiting_input"}
ENDED_STATES = {"stopped", "failed", "unknown", "suspended"}  # State::is_ended
med = statistics.median


class Interrupted(Exception):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so the `finally` cleans up."""


def log(msg):
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def need(tool, package):
    if shutil.which(tool):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {package} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", package], stdout=subprocess.DEVNULL)
    return shutil.which(tool) is not None


# ---------------------------------------------------------------- /proc


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:  # gone, or not ours to read
        return None


def stat_fields(pid):
    """Fields after `comm` of /proc/PID/stat: [0] is the state, [1] ppid, [11]/[12] ticks."""
    s = read(f"/proc/{pid}/stat")
    return s.rsplit(")", 1)[1].split() if s else None


def alive(pid):
    f = stat_fields(pid) if pid else None
    return f is not None and f[0] not in ("Z", "X")


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]) + int(f[12]) if f else None


def sched_ns(pid):
    """CPU time of all threads of a process in ns (schedstat: exact, unlike clock ticks)."""
    total, any_ = 0, False
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for t in tasks:
        v = read(f"/proc/{pid}/task/{t}/schedstat")
        if v:
            total += int(v.split()[0])
            any_ = True
    return total if any_ else None


def pss_kb(pid):
    for line in (read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def procs():
    """pid -> (ppid, argv, comm) of every readable process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            f, argv, comm = stat_fields(d), read(f"/proc/{d}/cmdline", "rb"), read(f"/proc/{d}/comm")
            if f and argv is not None and f[0] not in ("Z", "X"):
                out[int(d)] = (int(f[1]), [a.decode(errors="replace") for a in argv.split(b"\0") if a],
                               (comm or "").strip())
    return out


def tagged(tag):
    """Pids of processes whose environment holds this run's marker (all we started)."""
    mark = f"{TAG_VAR}={tag}".encode()
    me = os.getpid()
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != me:
            env = read(f"/proc/{d}/environ", "rb")
            if env and mark in env.split(b"\0") and alive(int(d)):
                found.append(int(d))
    return found


def wait_gone(pids, deadline_s):
    """Seconds until every pid has exited (None if some outlived the deadline)."""
    t0 = time.perf_counter()
    while any(alive(p) for p in pids):
        if time.perf_counter() - t0 > deadline_s:
            return None
        time.sleep(0.01)
    return time.perf_counter() - t0


def kill_all(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- limits


def raise_limits(n):
    """Raise RLIMIT_NOFILE and RLIMIT_NPROC for this process (children inherit them); check
    the system-wide limits, which are the machine's and are only reported, never changed."""
    want = {
        # the tmux server keeps a pty and more per session; our bash loops and clients few
        resource.RLIMIT_NOFILE: 8 * n + 1024,
        # counts threads of this user: a host has ~7 threads plus its agent
        resource.RLIMIT_NPROC: 12 * n + 4096,
    }
    notes = []
    for res, need_n in want.items():
        soft, hard = resource.getrlimit(res)
        inf = resource.RLIM_INFINITY
        if hard != inf and hard < need_n:
            try:
                resource.setrlimit(res, (need_n, need_n))  # root may raise the hard limit
            except (ValueError, OSError):
                resource.setrlimit(res, (hard, hard))
                notes.append(f"limit {res} stays at {hard} (wanted {need_n}); raise the hard limit")
        elif soft != inf and soft < need_n:
            resource.setrlimit(res, (need_n, hard))
    threads_now = len([d for d in os.listdir("/proc") if d.isdigit()])
    for path, need_n in [("/proc/sys/kernel/pid_max", 9 * n + threads_now),
                         ("/proc/sys/kernel/threads-max", 9 * n + threads_now)]:
        v = read(path)
        if v and int(v) < need_n:
            sys.exit(f"{path} is {v.strip()}, about {need_n} are needed for {n} sessions; "
                     f"raise it (sysctl) or run fewer --sessions")
    pty_max, pty_nr = read("/proc/sys/kernel/pty/max"), read("/proc/sys/kernel/pty/nr")
    if pty_max and pty_nr and int(pty_max) - int(pty_nr) < n + 16:
        sys.exit(f"only {int(pty_max) - int(pty_nr)} ptys are free (kernel.pty.max {pty_max.strip()}); "
                 f"{n} sessions need {n}; raise kernel.pty.max or run fewer --sessions")
    for note in notes:
        log(note)


# ---------------------------------------------------------------- tools


class Tool:
    name = ""
    ls_cmd = None

    def __init__(self, run):
        self.run = run

    def timed(self, args, **kw):
        t0 = time.perf_counter()
        p = subprocess.run(args, env=self.run.env, cwd=self.run.work, capture_output=True, text=True, **kw)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.strip()}")
        return dt, p.stdout

    def bash_loop(self, script, *args):
        """Run a loop in bash, as a user would; seconds it took."""
        t0 = time.perf_counter()
        p = subprocess.Popen(["bash", "-c", script, "bash", *map(str, args)], env=self.run.env,
                             cwd=self.run.work, stderr=subprocess.PIPE, text=True)
        self.run.loop = p
        _, err = p.communicate()
        self.run.loop = None
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: the start/stop loop failed ({p.returncode}): {err.strip()[-2000:]}")
        return dt

    def settle(self, n, deadline_s):
        return 0.0

    def stop_all(self):
        """Seconds of the stop command(s), and until every process of the sessions is gone."""
        pids = self.all_pids()
        cmd = self.stop_command()
        gone = wait_gone(pids, 120)
        return cmd, None if gone is None else cmd + gone

    def quiet(self, args):
        """Seconds of a command whose exit status does not matter (kill of what may be gone)."""
        t0 = time.perf_counter()
        subprocess.run(args, env=self.run.env, capture_output=True)
        return time.perf_counter() - t0


class Ours(Tool):
    name = "agent-sessions"

    def __init__(self, run):
        super().__init__(run)
        self.bin = str(run.bin)
        self.ids_file = run.tmp / "ids.txt"
        self.ids_file.touch()
        self.ls_cmd = [self.bin, "ls", "--json"]

    def ids(self):
        return self.ids_file.read_text().split()

    def records(self):
        return json.loads(self.timed([self.bin, "ls", "--json"])[1])

    def start_one(self):
        dt, out = self.timed([self.bin, "start", "custom", "--", *AGENT])
        return dt, out.strip()

    def remove_one(self, sid):
        rec = json.loads(self.timed([self.bin, "stop", "--force", "--json", sid])[1])
        # an exiting host must not compete with the next timed start
        wait_gone([p for p in (rec.get("host_pid"), rec.get("agent_pid")) if p], 10)
        self.timed([self.bin, "rm", sid])

    def grow(self, k):
        return self.bash_loop('for i in $(seq "$1"); do "$2" start custom -- sleep 100000 >> "$3" || exit 1; done',
                              k, self.bin, self.ids_file)

    def mine(self):
        ids = set(self.ids())
        return [r for r in self.records() if r["session_id"] in ids]

    def check(self, n):
        recs = self.records()
        live = [r for r in recs if r["state"] not in ENDED_STATES]
        good = [r for r in live if r["state"] in LIVE_STATES and alive(r.get("host_pid")) and alive(r.get("agent_pid"))]
        states = {}
        for r in recs:
            states[r["state"]] = states.get(r["state"], 0) + 1
        return {"listed": len(recs), "live": len(live), "good": len(good), "expected": n, "states": states}

    def settle(self, n, deadline_s):
        """Wait until every session went idle (waiting_input), so the window sees idle hosts."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < deadline_s:
            if sum(r["state"] == "waiting_input" for r in self.mine()) >= n:
                return time.perf_counter() - t0
            time.sleep(1.0)
        log(f"{self.name}: not all {n} sessions went waiting_input within {deadline_s:.0f} s")
        return None

    def measured_pids(self):
        return [r["host_pid"] for r in self.mine() if alive(r.get("host_pid"))]

    def all_pids(self):
        return [p for r in self.mine() for p in (r.get("host_pid"), r.get("agent_pid")) if alive(p)]

    def stop_command(self):
        # `stop --all` stops in parallel; a binary without it gets the loop of stops.
        if "--all" in subprocess.run([self.bin, "stop", "--help"], capture_output=True, text=True).stdout:
            return self.bash_loop('"$1" stop --all > /dev/null', self.bin)
        return self.bash_loop('while read -r id; do "$1" stop "$id" > /dev/null || exit 1; done < "$2"',
                              self.bin, self.ids_file)

    def stop_all(self):
        out = super().stop_all()
        left = [r["session_id"] for r in self.mine() if r["state"] != "stopped"]
        if left:
            log(f"{self.name}: {len(left)} sessions are not stopped after the stop loop: {left[:5]}")
        return out


class Dtach(Tool):
    name = "dtach"

    def __init__(self, run):
        super().__init__(run)
        self.dir = run.tmp / "dtach"
        self.dir.mkdir()
        self.next = 0
        self.socks = []  # of the live (loop) sessions

    def sock(self, i):
        return str(self.dir / f"s{i}.sock")

    def start_one(self):
        s = self.sock(f"x{self.next}")
        self.next += 1
        dt, _ = self.timed(["dtach", "-n", s, *AGENT])
        return dt, s

    def tree(self, socks):
        ps = procs()
        masters = {argv[2]: pid for pid, (_, argv, _) in ps.items()
                   if len(argv) > 2 and argv[0].endswith("dtach") and argv[1] == "-n" and argv[2] in socks}
        kids = {}
        for pid, (ppid, _, _) in ps.items():
            kids.setdefault(ppid, []).append(pid)
        return masters, kids

    def remove_one(self, s):
        masters, kids = self.tree({s})
        pids = [p for m in masters.values() for p in [m, *kids.get(m, [])]]
        kill_all(pids, signal.SIGTERM)
        wait_gone(pids, 10)
        Path(s).unlink(missing_ok=True)

    def grow(self, k):
        a = len(self.socks)
        dt = self.bash_loop('for i in $(seq "$1" "$2"); do dtach -n "$3/s$i.sock" sleep 100000 || exit 1; done',
                            a, a + k - 1, self.dir)
        self.socks += [self.sock(i) for i in range(a, a + k)]
        return dt

    def check(self, n):
        masters, kids = self.tree(set(self.socks))
        good = [s for s in self.socks if Path(s).is_socket() and s in masters
                and any(alive(c) for c in kids.get(masters[s], []))]
        return {"listed": len(masters), "live": len(masters), "good": len(good), "expected": n}

    def measured_pids(self):
        return list(self.tree(set(self.socks))[0].values())

    def all_pids(self):
        masters, kids = self.tree(set(self.socks))
        return [p for m in masters.values() for p in [m, *kids.get(m, [])]]

    def stop_command(self):
        return self.quiet(["pkill", "-f", re.escape(str(self.dir)) + "/"])


class Tmux(Tool):
    name = "tmux"

    def __init__(self, run):
        super().__init__(run)
        self.base = ["tmux", "-S", str(run.tmp / "tmux.sock"), "-f", "/dev/null"]
        self.ls_cmd = [*self.base, "ls"]
        self.next = 0
        # One server for everything, kept up with 0 sessions so that a start never
        # includes the server's own start.
        self.timed([*self.base, "start-server", ";", "set-option", "-g", "exit-empty", "off"])

    def start_one(self):
        name = f"x{self.next}"
        self.next += 1
        dt, _ = self.timed([*self.base, "new-session", "-d", "-s", name, *AGENT])
        return dt, name

    def remove_one(self, name):
        pane = self.timed([*self.base, "list-panes", "-t", f"={name}", "-F", "#{pane_pid}"])[1].split()
        self.timed([*self.base, "kill-session", "-t", f"={name}"])
        wait_gone([int(p) for p in pane], 10)

    def grow(self, k):
        return self.bash_loop('t="$1"; shift; for i in $(seq "$t"); do "$@" new-session -d sleep 100000 || exit 1; done',
                              k, *self.base)

    def panes(self):
        p = subprocess.run([*self.base, "list-sessions", "-F", "#{session_name} #{pane_pid}"],
                           env=self.run.env, capture_output=True, text=True)
        return [line.split() for line in p.stdout.splitlines() if line.strip()] if p.returncode == 0 else []

    def server(self):
        mine = set(tagged(self.run.tag))
        return [pid for pid, (_, _, comm) in procs().items() if pid in mine and comm.startswith("tmux: server")]

    def check(self, n):
        rows = self.panes()
        good = [r for r in rows if len(r) == 2 and alive(int(r[1]))]
        return {"listed": len(rows), "live": len(rows), "good": len(good), "expected": n}

    def measured_pids(self):
        return self.server()

    def all_pids(self):
        return self.server() + [int(r[1]) for r in self.panes() if len(r) == 2]

    def stop_command(self):
        return self.quiet([*self.base, "kill-server"])


# ---------------------------------------------------------------- measuring


def starts(tool, runs):
    """Median seconds of `runs` starts; each extra session is removed again (untimed)."""
    ts = []
    for _ in range(runs):
        dt, handle = tool.start_one()
        ts.append(dt)
        tool.remove_one(handle)
    return ts


def idle_window(tool, secs):
    pids = tool.measured_pids()
    t0 = {p: cpu_ticks(p) for p in pids}
    n0 = {p: sched_ns(p) for p in pids}
    w0 = time.perf_counter()
    time.sleep(secs)
    t1 = {p: cpu_ticks(p) for p in pids}
    n1 = {p: sched_ns(p) for p in pids}
    window = time.perf_counter() - w0
    gone = [p for p in pids if t1[p] is None or t0[p] is None or n0[p] is None or n1[p] is None]
    ticks = sum(t1[p] - t0[p] for p in pids if p not in gone)
    ns = sum(n1[p] - n0[p] for p in pids if p not in gone)
    pss = [pss_kb(p) for p in pids]
    return {
        "processes": len(pids),
        "window_s": window,
        "ticks": ticks,
        "cpu_ns": ns,
        # exact run time (schedstat), not clock ticks: many tiny wake-ups hide between ticks
        "cpu_percent": ns / 1e9 / window * 100,
        "cpu_percent_ticks": ticks / CLK_TCK / window * 100,
        "exited_during_window": len(gone),
        "load": os.getloadavg(),
        "pss_kb": sum(x for x in pss if x is not None),
        "pss_unreadable": sum(x is None for x in pss),
    }


def latency(tool, args, runs):
    return med([tool.timed(args)[0] for _ in range(runs)])


def top_freshness(ours, reads, gap_s):
    """Age of the telemetry sample `top --once --json` shows, per live session and read.

    top's JSON rows do not carry the sample's time (only its figures), so the sample's
    `at_ms` comes from `ls --json` read just before and just after the same store: when both
    agree the sample top showed is known exactly; else the newer one is taken (so the age is
    never overstated) and the read is counted as ambiguous."""
    ages, top_lat, exact, ambiguous = [], [], 0, 0

    def at_ms():
        return {r["session_id"]: ((r.get("telemetry") or {}).get("last_sample") or {}).get("at_ms")
                for r in ours.mine()}

    for i in range(reads):
        if i:
            time.sleep(gap_s)
        before = at_ms()
        dt, out = ours.timed([ours.bin, "top", "--once", "--json"])
        now_ms = time.time() * 1000  # when the user sees the frame
        top_lat.append(dt)
        after = at_ms()
        for row in json.loads(out):
            sid = row.get("session_id")
            shown = row.get("last_sample_at_ms") or (row.get("last_sample") or {}).get("at_ms")
            if shown is None:
                b, a = before.get(sid), after.get(sid)
                if a is None:
                    continue  # not ours, ended, or never sampled
                shown = a
                if b == a:
                    exact += 1
                else:
                    ambiguous += 1
            else:
                exact += 1
            ages.append((now_ms - shown) / 1000)
    return {
        "median_age_s": med(ages) if ages else None,
        "max_age_s": max(ages) if ages else None,
        "samples": len(ages),
        "exact": exact,
        "ambiguous": ambiguous,
        "top_latency_s": med(top_lat),
    }


def watched_window(ours, secs):
    """Hosts' CPU while a watcher (`top`, refreshing every second) runs: the cost of live
    figures. Measured after `top` has been up for 3 s, so its arrival is not counted."""
    top = subprocess.Popen([ours.bin, "top", "--json", "--interval", "1"], env=ours.run.env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours.run.extra.append(top)
    try:
        time.sleep(3)
        return idle_window(ours, secs)
    finally:
        top.terminate()
        top.wait(10)


def capture(run, mb, floods, others=()):
    """Median seconds of `floods` floods of `mb` MB: a raw PTY (`script`), dtach, and ours
    (start to `stopped`, every byte in output.log), interleaved. `others`: (name, binary)
    pairs of more builds, each with a home of its own, flooded in the same rounds (to tell a
    change of the code from a change of the machine)."""
    data = run.tmp / "flood.txt"
    line = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 3)[:99] + b"\n"
    with open(data, "wb") as f:
        for _ in range(mb * 1024 * 1024 // len(line)):
            f.write(line)
    size = data.stat().st_size
    builds = [("ours", run.bin, run.home)]
    builds += [(name, Path(b).resolve(), run.tmp / f"home-{name}") for name, b in others]
    out = {"raw": [], "dtach": [], "bytes": size, **{name: [] for name, _, _ in builds}}
    env = run.env
    for i in range(floods):
        t0 = time.perf_counter()
        subprocess.run(["script", "-qc", f"cat {data}", "/dev/null"], env=env, cwd=run.work,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=True)
        out["raw"].append(time.perf_counter() - t0)

        sock = run.tmp / f"flood{i}.sock"
        t0 = time.perf_counter()
        subprocess.run(["dtach", "-n", str(sock), "-Ez", "cat", str(data)], env=env, cwd=run.work, check=True)
        while sock.exists():  # the master removes its socket when the program ends
            time.sleep(0.002)
        out["dtach"].append(time.perf_counter() - t0)

        for name, b, home in builds:
            benv = dict(env, AGENT_SESSIONS_HOME=str(home))
            t0 = time.perf_counter()
            sid = subprocess.run([str(b), "start", "custom", "--max-log-size", "1G", "--", "cat", str(data)],
                                 env=benv, cwd=run.work, capture_output=True, text=True,
                                 check=True).stdout.strip()
            subprocess.run([str(b), "wait", sid, "--state", "stopped", "--timeout", "600"], env=benv,
                           stdout=subprocess.DEVNULL, check=True)
            out[name].append(time.perf_counter() - t0)
            logged = (home / sid / "output.log").stat().st_size
            if logged < size:
                raise RuntimeError(f"capture ({name}): output.log has {logged} of {size} bytes")
            subprocess.run([str(b), "rm", sid], env=benv, stdout=subprocess.DEVNULL, check=True)
    data.unlink()
    return out


def capture_table(c):
    """The capture figures as a table: every build's median and its ratio to the raw PTY."""
    names = [k for k in c if k not in ("raw", "bytes")]
    label = {"dtach": "dtach", "ours": "agent-sessions (to `stopped`, all in output.log)"}
    r = med(c["raw"])
    rows = [f"\ncapture: {c['bytes'] / 1e6:.0f} MB to the end, median of {len(c['raw'])} floods\n",
            "| | raw PTY (`script`) | " + " | ".join(label.get(n, n) for n in names) + " |",
            "|---|---|" + "---|" * len(names),
            f"| time | {r * 1e3:.0f} ms | " + " | ".join(f"{med(c[n]) * 1e3:.0f} ms" for n in names) + " |",
            "| ÷ raw PTY | 1.00x | " + " | ".join(f"{med(c[n]) / r:.2f}x" for n in names) + " |"]
    return "\n".join(rows)


def python_lifecycle(python):
    """The Python lifecycle calls and the hook process (benches/python/bench_lifecycle.py),
    on disk, against the reference library in the same run; its own table."""
    if not python:
        return None
    ok = subprocess.run([python, "-c", "import agent_sessions"], capture_output=True).returncode == 0
    if not ok:
        log(f"{python} cannot import agent_sessions; skipping the Python figures "
            "(scripts/test_python.sh builds .venv)")
        return None
    p = subprocess.run([python, str(ROOT / "benches/python/bench_lifecycle.py"), "--only", "calls",
                        "--only", "import"], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"bench_lifecycle.py failed: {p.stderr.strip()[-1000:]}")
        return None
    return p.stdout


def measure_steps(tool, steps, a, results):
    live = 0
    for s in steps:
        log(f"{tool.name}: growing to {s} live sessions")
        loop_s = tool.grow(s - live)
        seg = s - live
        live = s
        check = tool.check(s)
        if check["good"] != s or check["live"] != s:
            log(f"{tool.name}: state check at {s}: {check}")
        log(f"{tool.name}: {a.runs} starts with {s} live")
        st = starts(tool, a.runs)
        last_start = time.monotonic()
        settled = tool.settle(s, 60 + s * 0.2)
        # A host's first workspace walk comes 5 s after its start: a start cost, not idling.
        time.sleep(max(0.0, a.settle_secs - (time.monotonic() - last_start)))
        log(f"{tool.name}: idle window of {a.idle_secs} s at {s} live")
        idle = idle_window(tool, a.idle_secs)
        ls_s = latency(tool, tool.ls_cmd, a.ls_runs) if tool.ls_cmd else None
        top = top_freshness(tool, a.top_reads, a.top_gap) if isinstance(tool, Ours) else None
        watched = watched_window(tool, a.watch_secs) if isinstance(tool, Ours) and a.watch_secs else None
        results.append({
            "sessions": s, "loop_s": loop_s, "loop_starts": seg, "loop_ms_per_start": loop_s / seg * 1000,
            "check": check, "start_s": st, "start_median_s": med(st), "settle_s": settled,
            "idle": idle, "ls_median_s": ls_s, "top": top, "watched": watched,
        })


# ---------------------------------------------------------------- the run


class Run:
    def __init__(self, a):
        self.tag = uuid.uuid4().hex
        self.tmp = Path(tempfile.mkdtemp(prefix="asscale"))
        self.work = self.tmp / "work"  # the sessions' (empty) working folder
        self.work.mkdir()
        self.home = self.tmp / "home"
        self.bin = a.bin
        self.env = dict(os.environ, AGENT_SESSIONS_HOME=str(self.home), **{TAG_VAR: self.tag})
        self.env.pop("TMUX", None)  # a tmux client inside tmux would talk to the user's server
        self.loop = None  # the running bash loop
        self.tools = []
        self.extra = []  # other processes started (a watcher)

    def cleanup(self):
        """End everything this run started. Each step on its own, so one failure does not
        keep the others from running."""
        for p in [self.loop, *self.extra]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        for t in self.tools:
            if not isinstance(t, Ours):  # tmux kill-server, pkill of the dtach masters
                t.stop_command()
        # our hosts and agents, the dtach children, tmux panes, a client caught mid-start:
        # everything whose environment carries the marker
        deadline = time.monotonic() + 15
        sig = signal.SIGTERM
        while time.monotonic() < deadline:
            left = tagged(self.tag)
            if not left:
                break
            kill_all(left, sig)
            wait_gone(left, 3)
            sig = signal.SIGKILL
        left = tagged(self.tag)
        if left:
            log(f"could not end processes {left[:20]}; end them by hand (kill -9)")
        shutil.rmtree(self.tmp, ignore_errors=True)


def parse_steps(text, n):
    steps = sorted({int(x) for x in text.split(",") if x.strip()} | {n}) if text else sorted({10, 100, n})
    return [s for s in steps if 0 < s <= n]


def fmt_ms(s):
    return "-" if s is None else f"{s * 1000:.1f} ms"


def ratio(x, y):
    return f"{x / y:.2f}x" if x is not None and y else "-"


def tables(res, a):
    n = a.sessions
    last = {t: res["steps"][t][-1] for t in res["steps"]}
    z = res["zero_live"]
    o, d, t = "agent-sessions", "dtach", "tmux"

    def row(label, f, fmt, ref=True):
        vals = [f(o), f(d), f(t)]
        r = f"{ratio(vals[0], vals[1])} / {ratio(vals[0], vals[2])}" if ref else ""
        return [label, *[fmt(v) for v in vals], r]

    def check_text(tool):
        c = last[tool]["check"]
        text = f"{c['good']}/{c['expected']}"
        if c["live"] != c["expected"] or c["listed"] != c["expected"]:
            text += f" ({c['live']} live, {c['listed']} listed)"
        return text

    def cpu(tool):
        return last[tool]["idle"]["cpu_percent"]

    def pss(tool):
        return last[tool]["idle"]["pss_kb"] / 1024

    rows = [
        row("start → id, agent running, 0 live (median)", lambda x: med(z[x]), fmt_ms),
        row(f"start → id, agent running, {n} live (median)", lambda x: last[x]["start_median_s"], fmt_ms),
        row(f"{n} starts from a bash loop, total", lambda x: sum(s["loop_s"] for s in res["steps"][x]),
            lambda v: f"{v:.2f} s"),
        ["every session reports its real state", check_text(o), check_text(d), check_text(t), ""],
        [f"idle CPU over {a.idle_secs:g} s, all {n} (% of one core, schedstat; clock ticks)",
         *[f"{cpu(x):.3f} % ({last[x]['idle']['ticks']})" for x in (o, d, t)], row("", cpu, str)[-1]],
        row(f"memory, Pss of all {n} hosts / masters / server", pss, lambda v: f"{v:.1f} MB"),
        row("load average (1 min) at the end of the idle window", lambda x: last[x]["idle"]["load"][0],
            lambda v: f"{v:.2f}", ref=False),
        [f"`ls` with {n} sessions (median of {a.ls_runs})", fmt_ms(last[o]["ls_median_s"]), "-",
         fmt_ms(last[t]["ls_median_s"]), f"- / {ratio(last[o]['ls_median_s'], last[t]['ls_median_s'])}"],
        row(f"stop all {n}: the command(s)", lambda x: res["stop"][x]["command_s"], lambda v: f"{v:.2f} s"),
        row(f"stop all {n}: until every process is gone", lambda x: res["stop"][x]["gone_s"],
            lambda v: "-" if v is None else f"{v:.2f} s"),
    ]
    w = last[o].get("watched")
    if w:
        rows.append([f"CPU of all {n} hosts while `top` runs ({w['window_s']:.0f} s)",
                     f"{w['cpu_percent']:.2f} %", "", "", ""])
    top = last[o]["top"]
    if top and top["median_age_s"] is not None:
        rows.append([f"`top --once --json`: age of the sample shown (median; max)",
                     f"{top['median_age_s']:.2f} s; {top['max_age_s']:.2f} s", "", "", ""])
        rows.append([f"`top --once --json` with {n} sessions (median)", fmt_ms(top["top_latency_s"]), "", "", ""])
    out = ["| measure | agent-sessions | dtach | tmux | ours ÷ dtach / ÷ tmux |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]

    growth = ["| sessions live | figure | agent-sessions | dtach | tmux |", "|---|---|---|---|---|"]
    for i, s in enumerate(res["steps"][o]):
        at = {x: res["steps"][x][i] for x in (o, d, t)}
        lines = [
            ("start (median)", lambda r: fmt_ms(r["start_median_s"])),
            ("loop, per start (those since the last step)", lambda r: f"{r['loop_ms_per_start']:.1f} ms"),
            ("idle CPU per session", lambda r: f"{r['idle']['cpu_percent'] / r['sessions']:.5f} %"),
            ("Pss per session", lambda r: f"{r['idle']['pss_kb'] / r['sessions']:.0f} KB"),
            ("state check", lambda r: f"{r['check']['good']}/{r['check']['expected']}"),
            ("`ls`", lambda r: fmt_ms(r["ls_median_s"])),
            ("load (1 min)", lambda r: f"{r['idle']['load'][0]:.2f}"),
        ]
        for label, f in lines:
            growth.append(f"| {s['sessions']} | {label} | " + " | ".join(f(at[x]) for x in (o, d, t)) + " |")
        if s["top"] and s["top"]["median_age_s"] is not None:
            growth.append(f"| {s['sessions']} | top: sample age (median) | {s['top']['median_age_s']:.2f} s | | |")
    return "\n".join(out), "\n".join(growth)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=100, help="N: live sessions at the last step")
    ap.add_argument("--steps", help="live-session counts to measure at, e.g. 10,100,1000 (N is always one)")
    ap.add_argument("--idle-secs", type=float, default=60, help="idle CPU window at each step")
    ap.add_argument("--settle-secs", type=float, default=8,
                    help="the idle window begins at least this long after the last start")
    ap.add_argument("--runs", type=int, default=20, help="starts timed at 0 live and at each step")
    ap.add_argument("--ls-runs", type=int, default=10)
    ap.add_argument("--top-reads", type=int, default=10)
    ap.add_argument("--top-gap", type=float, default=1.3,
                    help="seconds between top reads (not a multiple of the sampling intervals)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--bin", type=Path, help="the agent-sessions binary (default: target/release, built)")
    ap.add_argument("--json", type=Path, dest="json_out", help="also write every figure here")
    ap.add_argument("--watch-secs", type=float, default=15,
                    help="hosts' CPU window while `top` runs, at each step (0: skip)")
    ap.add_argument("--floods", type=int, default=9, help="capture floods (0: skip)")
    ap.add_argument("--mb", type=int, default=135, help="MB per capture flood")
    ap.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"),
                    help="interpreter with agent_sessions for the lifecycle figures ('' skips)")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=BIN",
                    help="only the capture floods, with this build beside ours (repeatable)")
    ap.add_argument("--tools", default="agent-sessions,dtach,tmux",
                    help="which to measure (comma-separated; the tables need all three)")
    a = ap.parse_args()
    if a.sessions < 1:
        sys.exit("--sessions must be at least 1")
    steps = parse_steps(a.steps, a.sessions)
    for tool, pkg in [("dtach", "dtach"), ("tmux", "tmux"), ("bash", "bash"), ("pkill", "procps")]:
        if not need(tool, pkg):
            sys.exit(f"{tool} is needed for the comparison: apt-get install {pkg}")
    if a.bin is None:
        a.bin = ROOT / "target" / "release" / "agent-sessions"
        if not a.skip_build:
            log("building the release CLI")
            subprocess.run(["nice", str(ROOT / "scripts" / "build_cli.sh"), "-q"], cwd=ROOT, check=True)
    a.bin = a.bin.resolve()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} is not an executable; build it (scripts/build_cli.sh) or pass --bin")
    others = [tuple(c.split("=", 1)) for c in a.compare]
    if any(len(o) != 2 or not o[0] or o[0] in ("ours", "raw", "dtach", "bytes") for o in others):
        sys.exit("--compare takes NAME=BIN, with a name other than ours, raw, dtach or bytes")
    raise_limits(a.sessions)

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    run = Run(a)
    res = {"machine": {"cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M"),
                       "load_at_start": os.getloadavg(), "clk_tck": CLK_TCK},
           "config": {"sessions": a.sessions, "steps": steps, "idle_secs": a.idle_secs, "runs": a.runs,
                      "bin": str(a.bin), "agent": AGENT},
           "zero_live": {}, "steps": {}, "stop": {}, "complete": False}
    code = 0
    try:
        if others:
            log(f"capture only: {a.floods} floods of {a.mb} MB, raw PTY, dtach, ours and "
                + ", ".join(n for n, _ in others))
            print(capture_table(capture(run, a.mb, a.floods or 1, others)))
            return
        ours, dtach, tmux = Ours(run), Dtach(run), Tmux(run)
        wanted = {x.strip() for x in a.tools.split(",")}
        run.tools = [t for t in (ours, dtach, tmux) if t.name in wanted]
        log(f"{a.runs} starts of each with 0 live, interleaved")
        for t in run.tools:
            res["zero_live"][t.name] = []
        for _ in range(a.runs):
            for t in run.tools:
                res["zero_live"][t.name] += starts(t, 1)
        # One tool at a time: the sessions of one must not load the machine under another.
        for t in run.tools:
            res["steps"][t.name] = []
            measure_steps(t, steps, a, res["steps"][t.name])
            log(f"{t.name}: stopping all {a.sessions}")
            cmd, gone = t.stop_all()
            res["stop"][t.name] = {"command_s": cmd, "gone_s": gone}
        if a.floods:
            log(f"capture: {a.floods} floods of {a.mb} MB each through a raw PTY, dtach and ours")
            res["capture"] = capture(run, a.mb, a.floods)
        if a.python and Path(a.python).exists():
            log("Python lifecycle calls and hook process (benches/python/bench_lifecycle.py)")
            res["python"] = python_lifecycle(a.python)
        res["machine"]["load_at_end"] = os.getloadavg()
        res["complete"] = True
        if len(run.tools) < 3:
            print(json.dumps({"steps": res["steps"], "stop": res["stop"], "zero_live": res["zero_live"]}, indent=1))
            return
        main_table, growth = tables(res, a)
        m = res["machine"]
        print(f"\nmachine: {m['cores']} cores, {m['date']}, load {m['load_at_start'][0]:.2f} at start, "
              f"{m['load_at_end'][0]:.2f} at end; {a.sessions} sessions of `{' '.join(AGENT)}`, "
              f"medians of {a.runs} starts, idle window {a.idle_secs:g} s\n")
        print(main_table)
        print("\nper step:\n")
        print(growth)
        if res.get("capture"):
            print(capture_table(res["capture"]))
        if res.get("python"):
            print("\nPython lifecycle (benches/python/bench_lifecycle.py --only calls --only import):\n")
            print(res["python"])
    except (KeyboardInterrupt, Interrupted) as e:
        log(f"interrupted ({str(e) or 'SIGINT'}); cleaning up")
        code = 130
    except RuntimeError as e:
        log(f"error: {e}")
        code = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        run.cleanup()
        if a.json_out:  # also a partial run's figures ("complete": false)
            a.json_out.write_text(json.dumps(res, indent=2))
    sys.exit(code)


if __name__ == "__main__":
    main()
