#!/usr/bin/env python3
"""The server against the CLI, in one run (issue 14):

1. API latency, median and p99 of --runs: start, send and state through `serve` (a
   persistent HTTP/1.1 connection, as a client would keep) against the same operations
   through the CLI (`start --json`, `send`, `state --json`, one process each).
2. Event delay: from an event's commit (its `at`, written by the host) to its arrival at
   an SSE client of `/sessions/{id}/events/stream`, for --events sends.
3. --watchers SSE clients on --sessions idle sessions (one stream per session): the
   server's CPU over --idle-secs and its resident and proportional memory.
4. Terminal throughput: a session floods --flood-mb of text; the time from the trigger to
   the last byte at one viewer, over the WebSocket (`/sessions/{id}/terminal`, read-only)
   against `agent-sessions attach --read-only` on the host's Unix socket (its stdin a
   terminal, as attach needs; its stdout a pipe, read as fast as it comes), median of
   --floods, each on a fresh session. Both viewers are read by this script in the same way.

usage: python3 bench/server_bench.py [--bin target/release/agent-sessions] [--runs 30]
       [--events 30] [--sessions 100] [--watchers 100] [--idle-secs 20] [--flood-mb 20]
       [--floods 5]
Builds the release binary when --bin is missing. Everything runs in a temporary home that
is removed at the end; every session it started is stopped, also on Ctrl-C."""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import pty
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="target/release/agent-sessions")
ap.add_argument("--runs", type=int, default=30)
ap.add_argument("--events", type=int, default=30)
ap.add_argument("--sessions", type=int, default=100)
ap.add_argument("--watchers", type=int, default=100)
ap.add_argument("--idle-secs", type=float, default=20)
ap.add_argument("--flood-mb", type=float, default=20)
ap.add_argument("--floods", type=int, default=5)
a = ap.parse_args()

if not os.path.exists(a.bin):
    subprocess.run([os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "build_cli.sh")], check=True)
home = tempfile.mkdtemp(prefix="asb-")
env = dict(os.environ, AGENT_SESSIONS_HOME=home)
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fake_agents",
                    "fake_agent.py")
server = subprocess.Popen([a.bin, "serve", "--listen", "127.0.0.1:0", "--json"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def cleanup(*_: object) -> None:
    subprocess.run([a.bin, "stop", "--all", "--force"], env=env, capture_output=True)
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(home, ignore_errors=True)


signal.signal(signal.SIGINT, lambda *_: (cleanup(), sys.exit(130)))
signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(143)))

ready = json.loads(server.stdout.readline())
host, port = ready["url"].removeprefix("http://").split(":")
token = open(ready["token_path"]).read().strip()
H = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
conn = http.client.HTTPConnection(host, int(port))


def api(method: str, path: str, body: object | None = None) -> object:
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=H)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data!r}")
    return json.loads(data)


def cli(*args: str) -> str:
    return subprocess.run([a.bin, *args], env=env, capture_output=True, text=True,
                          check=True).stdout


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))]
    return f"median {statistics.median(xs) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"


def timed(f) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


start_body = {"agent": "custom", "args": ["sleep", "100000"], "cwd": home}
MARK = b"FLOOD-DONE"


def flood_session() -> str:
    """A session that floods --flood-mb of text once it reads a line, then ends the flood
    with MARK (written in two pieces so the command line on screen never matches it)."""
    n = int(a.flood_mb * 1e6)
    prog = (f"read x; yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c {n}; "
            "echo; printf 'FLOOD-'; echo DONE; exec sleep 100000")
    rec = api("POST", "/sessions", {"agent": "custom", "args": ["sh", "-c", prog], "cwd": home})
    return rec["session_id"]


def drain_until_mark(read) -> bool:  # type: ignore[no-untyped-def]
    """True once the flood's end came; False when the viewer was cut off first (the host
    drops a viewer that falls too far behind, so a slow one never slows the session)."""
    tail = b""
    while True:
        chunk = read()
        if not chunk:
            return False
        tail = (tail + chunk)[-64:]
        if MARK in tail:
            return True


def ws_viewer(sid: str):  # type: ignore[no-untyped-def]
    s = socket.create_connection((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /sessions/{sid}/terminal?read_only=true HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    f = s.makefile("rb", buffering=1 << 20)
    assert b" 101 " in f.readline()
    while f.readline() not in (b"\r\n", b""):
        pass

    def frame() -> bytes:
        h = f.read(2)
        if len(h) < 2:
            return b""
        n = h[1] & 0x7F
        if n == 126:
            n = struct.unpack(">H", f.read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", f.read(8))[0]
        return f.read(n) if n else b" "  # server frames are not masked
    return s, frame


def attach_viewer(sid: str):  # type: ignore[no-untyped-def]
    master, slave = pty.openpty()
    r, w = os.pipe()
    p = subprocess.Popen([a.bin, "attach", "--read-only", sid], env=env, stdin=slave,
                         stdout=w, stderr=subprocess.DEVNULL)
    os.close(slave)
    os.close(w)
    return p, master, r

try:
    # 1. latency
    lat: dict[str, list[float]] = {k: [] for k in
                                   ("api start", "cli start", "api send", "cli send",
                                    "api state", "cli state")}
    ids = []
    for _ in range(a.runs):
        r: dict = {}
        lat["api start"].append(timed(lambda: r.update(api("POST", "/sessions", start_body))))
        ids.append(r["session_id"])
        out: list[str] = []
        lat["cli start"].append(timed(lambda: out.append(
            cli("start", "--json", "custom", "--", "sleep", "100000"))))
        ids.append(json.loads(out[0])["session_id"])
    target = ids[0]
    for _ in range(a.runs):
        lat["api send"].append(timed(lambda: api("POST", f"/sessions/{target}/send",
                                                 {"text": "x", "enter": False})))
        lat["cli send"].append(timed(lambda: cli("send", "--no-enter", target, "x")))
        lat["api state"].append(timed(lambda: api("GET", f"/sessions/{target}/state")))
        lat["cli state"].append(timed(lambda: cli("state", "--json", target)))
    print(f"1. latency, {a.runs} runs each")
    for k, v in lat.items():
        print(f"   {k:10s} {stats(v)}")
    subprocess.run([a.bin, "stop", "--all", "--force"], env=env, capture_output=True)

    # 2. event delay: commit (the event's `at`) → an SSE client has it
    sess = api("POST", "/sessions", {"agent": "custom", "args": [sys.executable, FAKE],
                                     "cwd": home})
    sid = sess["session_id"]
    sse = socket.create_connection((host, int(port)))
    sse.sendall((f"GET /sessions/{sid}/events/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Authorization: Bearer {token}\r\n\r\n").encode())
    f = sse.makefile("rb")
    arrivals: dict[int, float] = {}
    events: dict[int, dict] = {}

    def reader() -> None:
        for raw in f:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("data:"):
                try:
                    e = json.loads(line[5:])
                except ValueError:
                    continue
                if isinstance(e, dict) and "seq" in e:
                    arrivals[e["seq"]] = time.time()
                    events[e["seq"]] = e

    threading.Thread(target=reader, daemon=True).start()
    time.sleep(1)
    for i in range(a.events):
        api("POST", f"/sessions/{sid}/send", {"text": f"event {i}"})
        time.sleep(0.15)
    time.sleep(1)
    delays = []
    for seq, e in events.items():
        if e["kind"] != "input":
            continue
        at = dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp()
        delays.append(max(0.0, arrivals[seq] - at))
    print(f"2. event delay, commit → SSE client, {len(delays)} input events: {stats(delays)}")
    sse.close()
    subprocess.run([a.bin, "stop", "--all", "--force"], env=env, capture_output=True)

    # 3. many watchers
    wids = [api("POST", "/sessions", start_body)["session_id"] for _ in range(a.sessions)]
    socks = []
    for i in range(a.watchers):
        s = socket.create_connection((host, int(port)))
        s.sendall((f"GET /sessions/{wids[i % len(wids)]}/events/stream HTTP/1.1\r\n"
                   f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
        socks.append(s)
    time.sleep(3)

    def cpu_ticks() -> int:
        fields = open(f"/proc/{server.pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    t0, c0 = time.time(), cpu_ticks()
    time.sleep(a.idle_secs)
    t1, c1 = time.time(), cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    rss = pss = 0
    for line in open(f"/proc/{server.pid}/smaps_rollup"):
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
    print(f"3. {a.watchers} SSE clients on {a.sessions} idle sessions, {a.idle_secs:.0f} s: "
          f"server CPU {100 * (c1 - c0) / hz / (t1 - t0):.1f}% of a core, RSS {rss / 1024:.1f} MB, "
          f"Pss {pss / 1024:.1f} MB")
    for s in socks:
        s.close()
    subprocess.run([a.bin, "stop", "--all", "--force"], env=env, capture_output=True)

    # 4. terminal throughput: WebSocket against attach
    took: dict[str, list[float]] = {"websocket": [], "attach": []}
    dropped = {"websocket": 0, "attach": 0}
    for _ in range(a.floods):
        for kind in ("websocket", "attach"):
            sid = flood_session()
            if kind == "websocket":
                ws, frame = ws_viewer(sid)
                read, done = frame, ws.close
                read()  # the replay: connected
            else:
                proc, master, rfd = attach_viewer(sid)
                read = lambda: os.read(rfd, 1 << 20)  # noqa: E731
                def done() -> None:
                    proc.terminate()
                    proc.wait()
                    os.close(master)
                    os.close(rfd)
                # attach replays the screen first: its first bytes mean it is connected.
                read()
            t = time.perf_counter()
            api("POST", f"/sessions/{sid}/send", {"text": "go"})
            if drain_until_mark(read):
                took[kind].append(time.perf_counter() - t)
            else:
                dropped[kind] += 1
            done()
            api("POST", f"/sessions/{sid}/stop", {"force": True})
    mb = a.flood_mb
    cut = f" (viewers cut off as too slow: WebSocket {dropped['websocket']}, attach {dropped['attach']})"
    if took["websocket"] and took["attach"]:
        ws_med, at_med = statistics.median(took["websocket"]), statistics.median(took["attach"])
        print(f"4. terminal throughput, {mb:.0f} MB, median of {len(took['websocket'])} and "
              f"{len(took['attach'])}: WebSocket {mb / ws_med:.1f} MB/s, attach "
              f"{mb / at_med:.1f} MB/s, WebSocket/attach {at_med / ws_med * 100:.0f}%{cut}")
    else:
        print(f"4. terminal throughput: no complete flood on one side{cut}")
finally:
    cleanup()
