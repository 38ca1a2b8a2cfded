#!/usr/bin/env python3
"""State detection on the real agent CLIs: latency and accuracy over scripted turns.

    .venv/bin/python bench/real_agents.py [--turns 20] [--agents claude,codex,gemini,opencode]
                                          [--silence 3]

Each agent (the pinned CLIs scripts/install_agents.sh installs) runs as a real session
against the loopback stand-in API of tests/real_agents, in a private config home, and is
given `--turns` scripted turns in a fixed cycle: PING (a short reply), RUN (a shell tool
call: its permission dialog, approved with `approve`), PING, SLOW (a reply streamed with
`--silence` seconds of silence twice).

Latency is measured from the stand-in's side: the wall-clock time its response's last byte
was written, to the `at` of the transition (or `pending` event) the session recorded for
it. That includes the agent's own work after the response (rendering, running its hook),
so it is an upper bound on what our detection adds.
- turn end: last response of the turn → the transition to waiting_input;
- permission: the tool-call response → the `pending` event naming a permission.
Accuracy: a turn is right when the recorded transitions after the prompt are exactly the
expected ones (PING/SLOW: running, waiting_input; RUN: running, waiting_input (permission),
running, waiting_input), the reply is on screen, and (RUN) the command ran. "missed" counts
expected transitions that never came, "false" any extra transition.
Prints one Markdown table row per agent and measure: median, p99 (of 20 turns: the max),
and the sources that decided.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "real_agents"))

import agent_sessions  # noqa: E402
import agents  # noqa: E402
from standin import StandIn  # noqa: E402


def at_of(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def wait(pred, timeout=90.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise TimeoutError(what)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def run_agent(name, exe, turns, silence):
    place = Path(tempfile.mkdtemp(prefix="asb-"))
    for sub in ("s", "home", "work"):
        (place / sub).mkdir()
    st = StandIn(silence=silence)
    run = agents.setups()[name](exe, place / "home", place / "work", st.url)
    os.environ[run.bin_env] = run.bin
    mgr = agent_sessions.SessionManager(place / "s")
    s = mgr.start(name, args=run.args, cwd=place / "work", env=run.env, cols=120, rows=35)
    res = {"end": [], "permission": [], "right": 0, "missed": 0, "false": 0, "sources": set(),
           "turns": 0}
    try:
        s.wait_for("waiting_input", timeout=90)
        cycle = ["PING", "RUN", "PING", "SLOW"]
        for i in range(turns):
            kind = cycle[i % len(cycle)]
            prompt = {"PING": f"PING {i}", "SLOW": f"SLOW {i}",
                      "RUN": f"RUN: touch ran{i}.txt"}[kind]
            reply = {"PING": "PONG", "SLOW": "SLOW-DONE", "RUN": "TOOL-DONE"}[kind]
            n_billed = len(st.billed)
            t0 = time.time()
            n_trans = len(s.refresh().record()["transitions"])
            s.send(prompt)
            if kind == "RUN":
                # opencode's dialog has no numbered options: approve answers it through
                # its plugin's decision channel instead.
                wait(lambda: (q := s.refresh().pending()) and q["kind"] == "permission"
                     and (q["options"] or name == "opencode"), what=f"{name}: permission")
                s.approve(timeout=30)
            screen_tail = lambda: s.screen().split(prompt[:12], 1)[-1]
            wait(lambda: reply in screen_tail() and s.refresh().state == "waiting_input"
                 and s.pending() is None, what=f"{name}: end of turn {i}")
            time.sleep(1.5)  # let any late, false transition land before judging the turn
            rec = s.refresh().record()
            trans = rec["transitions"][n_trans:]
            got = [t["to"] for t in trans]
            want = (["running", "waiting_input", "running", "waiting_input"] if kind == "RUN"
                    else ["running", "waiting_input"])
            ok = got == want and (kind != "RUN" or (place / "work" / f"ran{i}.txt").exists())
            res["turns"] += 1
            res["right"] += ok
            if not ok:
                print(f"{name} turn {i} ({kind}) wrong: " + "; ".join(
                    f"{t['to']} by {t['source']} ({t['cause']})" for t in trans), file=sys.stderr)
            res["missed"] += max(0, len(want) - len(got))
            res["false"] += max(0, len(got) - len(want))
            for t in trans:
                if t["to"] == "waiting_input":
                    res["sources"].add(t["source"])
            responses = [b for b in st.billed[n_billed:] if not b.auxiliary and b.completed]
            if responses and trans and trans[-1]["to"] == "waiting_input":
                res["end"].append((at_of(trans[-1]["at"]) - responses[-1].finished_at) * 1000)
            if kind == "RUN":
                tool = [b for b in st.billed[n_billed:] if b.decided == "tool"]
                pend = [e for e in s.events(limit=10000) if e["kind"] == "pending"
                        and at_of(e["at"]) >= t0]
                if tool and pend:
                    res["permission"].append((at_of(pend[0]["at"]) - tool[0].finished_at) * 1000)
    finally:
        try:
            s.stop(timeout=10, force=True)
        except agent_sessions.AgentSessionsError:
            pass
        st.close()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--agents", default="claude,codex,gemini,opencode")
    ap.add_argument("--silence", type=float, default=3.0)
    a = ap.parse_args()
    exes = agents.installed()
    print("| agent | measure | median ms | p99 ms | n | decided by |")
    print("|---|---|---|---|---|---|")
    summary = []
    for name in a.agents.split(","):
        r = run_agent(name, exes[name], a.turns, a.silence)
        src = ", ".join(sorted(r["sources"]))
        for m in ("end", "permission"):
            xs = r[m]
            print(f"| {name} | {'turn end' if m == 'end' else 'permission'} | "
                  f"{statistics.median(xs):.0f} | {pct(xs, 99):.0f} | {len(xs)} | {src} |"
                  if xs else f"| {name} | {m} | - | - | 0 | {src} |", flush=True)
        summary.append(f"{name}: {r['right']}/{r['turns']} turns right, {r['missed']} missed, "
                       f"{r['false']} false")
    print()
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
