#!/usr/bin/env python3
"""What the OpenTelemetry receiver costs an idle session: CPU time and wakeups of each host
thread over a quiet minute, for real Claude Code and Codex sessions with the receiver armed
and, side by side in the same run, the same agent with the user's own OTel setting
(OTEL_SDK_DISABLED=true), which leaves the agent alone (no receiver).

    .venv/bin/python bench/otel_idle.py [--seconds 60] [--agents claude,codex,gemini]

Needs the venv of this worktree (`VENV=.venv scripts/test_python.sh -k nothing`) and the
pinned CLIs (scripts/install_agents.sh). Each session runs against the loopback stand-in of
tests/real_agents, does one PING turn, then waits; the host's threads are read from
/proc/<host>/task/*/schedstat (run ns, run count) at the start and end of the quiet window.
Every session is stopped at the end (also on errors).
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "real_agents"))

import agent_sessions  # noqa: E402
import agents  # noqa: E402
from standin import StandIn  # noqa: E402


def threads(pid: int) -> dict[str, tuple[int, int]]:
    """name#tid → (run ns, times scheduled) of every thread of `pid`."""
    out = {}
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (t / "comm").read_text().strip()
            run_ns, _wait, slices = (int(x) for x in (t / "schedstat").read_text().split())
        except OSError:
            continue
        out[f"{name}#{t.name}"] = (run_ns, slices)
    return out


def memory(pid: int) -> str:
    """Pss and private (clean + dirty) of `pid`, in KiB."""
    got = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("Pss", "Private_Clean", "Private_Dirty"):
            got[k] = int(v.split()[0])
    return (f"Pss {got.get('Pss', 0)} KiB, private dirty {got.get('Private_Dirty', 0)} KiB "
            f"(anonymous: heap, stacks), private clean {got.get('Private_Clean', 0)} KiB "
            "(file pages only this host maps: its binary's text while few hosts run)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--agents", default="claude,codex")
    a = ap.parse_args()
    exes = agents.installed()
    standin = StandIn(silence=1)
    place = Path(tempfile.mkdtemp(prefix="asb-"))
    (place / "s").mkdir()
    mgr = agent_sessions.SessionManager(place / "s")
    sessions = []
    try:
        for name in a.agents.split(","):
            for label, extra in (("armed", {}), ("left alone", {"OTEL_SDK_DISABLED": "true"})):
                d = place / f"{name}-{len(sessions)}"
                (d / "home").mkdir(parents=True)
                (d / "work").mkdir()
                run = agents.setups()[name](exes[name], d / "home", d / "work", standin.url)
                os.environ[run.bin_env] = run.bin
                if name == "gemini":
                    # The API key from the environment, without the auth dialog.
                    sp = d / "home" / ".gemini" / "settings.json"
                    js = json.loads(sp.read_text())
                    js.setdefault("security", {}).setdefault("auth", {})["selectedType"] = \
                        "gemini-api-key"
                    sp.write_text(json.dumps(js))
                s = mgr.start(name, args=run.args, cwd=d / "work", env=run.env | extra,
                              cols=120, rows=35)
                s.wait_for("waiting_input", timeout=90)
                deadline = time.monotonic() + 60
                while name == "gemini" and "Type your message" not in s.screen() \
                        and time.monotonic() < deadline:
                    time.sleep(0.1)
                n = len(standin.billed)
                s.send("PING")
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not any(
                        b.completed for b in standin.billed[n:]):
                    time.sleep(0.1)
                sessions.append((name, label, s))
        # Let the turns' last exports arrive, then measure a quiet window.
        time.sleep(5)
        before = {s.id: threads(s.record()["host_pid"]) for _, _, s in sessions}
        time.sleep(a.seconds)
        print(f"quiet window: {a.seconds:.0f} s; per host thread: CPU ms, wakeups")
        for name, label, s in sessions:
            after = threads(s.record()["host_pid"])
            b = before[s.id]
            total_ms = 0.0
            rows = []
            for k, (ns, sl) in sorted(after.items()):
                ns0, sl0 = b.get(k, (0, 0))
                total_ms += (ns - ns0) / 1e6
                rows.append(f"{k.split('#')[0]} {(ns - ns0) / 1e6:.3f}/{sl - sl0}")
            print(f"{name:7} {label:11} host total {total_ms:.3f} ms | " + ", ".join(rows))
            print(f"{'':7} {'':11} {memory(s.record()['host_pid'])}")
    finally:
        for _, _, s in sessions:
            try:
                s.stop(timeout=20, force=True)
            except agent_sessions.AgentSessionsError:
                pass
        standin.close()


if __name__ == "__main__":
    main()
