"""Captures real screens of Gemini CLI 0.61.0 or opencode 1.18.33, run as agent-sessions
sessions against the loopback stand-in of tests/real_agents (the pinned CLIs installed by
scripts/install_agents.sh), into this folder or ../opencode-1.18.33:

    python crates/core/tests/data/agents/gemini-0.61.0/capture.py gemini|opencode

Each scenario is one session in a 120x35 terminal: `<agent>-<scenario>-<moment>.screen.txt` is
the screen text (`Session.screen()`) at a named moment and `<agent>-<scenario>.raw` every byte
the CLI wrote to its terminal (`Session.output()`) from start to stop. The private home and
working folder live under /tmp/asc-*; their paths and the stand-in's port vary per run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[5]
sys.path.insert(0, str(REPO / "tests" / "real_agents"))

import agent_sessions  # noqa: E402
import agents  # noqa: E402
from standin import StandIn  # noqa: E402

OUT = {"gemini": HERE, "opencode": HERE.parent / "opencode-1.18.33"}


def until(pred: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


class Scenario:
    """One session; use it in a `with` block, so it is stopped and its bytes saved even when
    a step times out."""

    def __enter__(self) -> "Scenario":
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def __init__(self, agent: str, name: str, tweak: Callable[[agents.AgentRun, Path], None]
                 | None = None):
        self.agent, self.name = agent, name
        self.standin = StandIn(silence=3)
        d = Path(tempfile.mkdtemp(prefix="asc-"))
        for sub in ("s", "home", "work"):
            (d / sub).mkdir()
        self.dir = d
        run = agents.setups()[agent](agents.installed()[agent], d / "home", d / "work",
                                     self.standin.url)
        if tweak:
            tweak(run, d)
        os.environ[run.bin_env] = run.bin
        self.env = run.env
        mgr = agent_sessions.SessionManager(d / "s")
        self.s = mgr.start(agent, args=run.args, cwd=d / "work", env=run.env, cols=120, rows=35)

    def screen_has(self, text: str, timeout: float = 60) -> None:
        until(lambda: text in self.s.screen(), f"{text!r} on screen", timeout)

    def save(self, moment: str) -> None:
        base = OUT[self.agent] / f"{self.agent}-{self.name}-{moment}"
        screen = self.s.screen()
        r = self.s.refresh().record()
        Path(f"{base}.screen.txt").write_text(screen)
        # What agent-sessions reported at that moment (read just after the screen).
        Path(f"{base}.state.json").write_text(json.dumps(
            {"state": r["state"], "state_reason": r.get("state_reason"),
             "state_source": r.get("state_source"), "pending": r.get("pending")},
            indent=1, sort_keys=True) + "\n")
        print("wrote", Path(f"{base}.screen.txt").relative_to(REPO), r["state"],
              r.get("state_reason"))

    def settle(self, state: str, seconds: float = 10) -> None:
        """Gives agent-sessions up to `seconds` to report `state` (the capture goes on either
        way: the .state.json says what it reported)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.s.refresh().state != state:
            time.sleep(0.05)

    def idle(self) -> None:
        """opencode's own screen says its turn is over (no busy marker under the input)."""
        until(lambda: "esc interrupt" not in self.s.screen(), "opencode idle on screen")

    def waiting(self, reason: str | None = None) -> None:
        def ok() -> bool:
            r = self.s.refresh().record()
            return r["state"] == "waiting_input" and (reason is None
                                                       or r.get("state_reason") == reason)
        until(ok, f"waiting_input {reason or ''}")

    def finish(self) -> None:
        if self.s.refresh().state in agent_sessions.LIVE_STATES:
            try:
                self.s.stop(timeout=15)
            except agent_sessions.AgentSessionsError:
                self.s.stop(timeout=5, force=True)
        raw, off = b"", 0
        while True:
            chunk, off = self.s.output(offset=off)
            if not chunk:
                break
            raw += chunk
        p = OUT[self.agent] / f"{self.agent}-{self.name}.raw"
        p.write_bytes(raw)
        print("wrote", p.relative_to(REPO), len(raw), "bytes")
        self.standin.close()


def gemini() -> None:
    def untrusted(run: agents.AgentRun, d: Path) -> None:
        del run.env["GEMINI_CLI_TRUST_WORKSPACE"]

    with Scenario("gemini", "trust", untrusted) as c:
        c.screen_has("Do you trust the files in this folder?")
        c.settle("waiting_input")
        c.save("dialog")

    def no_credentials(run: agents.AgentRun, d: Path) -> None:
        for k in ("GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
            del run.env[k]
        s = d / "home" / ".gemini" / "settings.json"
        settings = json.loads(s.read_text())
        del settings["security"]
        s.write_text(json.dumps(settings))

    with Scenario("gemini", "no-credentials", no_credentials) as c:
        c.screen_has("How would you like to authenticate for this project?")
        c.settle("waiting_input")
        c.save("auth-dialog")

    with Scenario("gemini", "turns") as c:
        c.waiting("prompt")
        c.save("idle")
        c.s.send("RUN: touch made.txt")
        c.screen_has("Allow execution of")
        c.waiting("permission")
        c.save("permission")
        c.s.send_keys("Enter")
        c.screen_has("TOOL-DONE")
        c.waiting("prompt")
        c.s.send("ASK")
        c.screen_has("Which colour should it be?")
        c.waiting()
        c.save("question")
        c.s.send_keys("Down")
        c.screen_has("● 2.  Blue")
        c.s.send_keys("Enter")
        c.screen_has("ANSWERED")
        c.waiting("prompt")
        c.s.send("SLOW")
        c.screen_has("Part two.")
        c.save("busy")
        c.screen_has("SLOW-DONE")
        c.waiting("prompt")
        c.save("idle-after-reply")
        c.s.send("HOLD")
        c.screen_has("Holding on.")
        c.s.interrupt()
        c.screen_has("Request cancelled.")
        c.waiting("prompt")
        c.save("interrupted")
        c.s.suspend(timeout=30)
        c.save("exit-summary")


def opencode() -> None:
    def no_provider(run: agents.AgentRun, d: Path) -> None:
        conf = Path(run.env["OPENCODE_CONFIG"])
        settings = json.loads(conf.read_text())
        for k in ("provider", "model", "small_model"):
            del settings[k]
        conf.write_text(json.dumps(settings))

    with Scenario("opencode", "no-provider", no_provider) as c:
        c.waiting("prompt")
        c.save("idle")
        c.s.send("PING")
        c.screen_has("Cannot connect to API")
        c.save("retrying")

    with Scenario("opencode", "turns") as c:
        c.waiting("prompt")
        c.save("idle")
        c.s.send("RUN: touch made.txt")
        c.screen_has("Permission required")
        c.screen_has("Allow once")
        c.settle("waiting_input")
        c.save("permission")
        c.s.send_keys("Enter")
        c.screen_has("TOOL-DONE")
        c.idle()
        c.s.send("ASK")
        c.screen_has("esc dismiss")
        c.settle("waiting_input")
        c.save("question")
        c.s.send_keys("Down")
        c.s.send_keys("Enter")
        c.screen_has("ANSWERED")
        c.idle()
        c.s.send("SLOW")
        c.screen_has("Part two.")
        c.save("busy")
        c.screen_has("SLOW-DONE")
        c.idle()
        c.settle("waiting_input")
        c.save("idle-after-reply")
        c.s.send("HOLD")
        c.screen_has("Holding on.")
        c.s.interrupt()
        c.screen_has("interrupted")
        c.idle()
        c.settle("waiting_input")
        c.save("interrupted")
        # Stopped with Ctrl-C: opencode prints its session id on the way out.
        c.s.stop(timeout=15)
        c.save("exit")


if __name__ == "__main__":
    {"gemini": gemini, "opencode": opencode}[sys.argv[1]]()
