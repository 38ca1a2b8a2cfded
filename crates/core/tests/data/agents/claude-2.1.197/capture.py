"""Captures real screens of Claude Code 2.1.197 and Codex 0.171.0 run as agent-sessions
sessions against the loopback stand-in of tests/real_agents (how each file here and in
../codex-0.171/ was made; see README.md).

    /work/main/.venv/bin/python crates/core/tests/data/agents/claude-2.1.197/capture.py claude
    /work/main/.venv/bin/python crates/core/tests/data/agents/claude-2.1.197/capture.py codex

For each moment it writes `<name>.screen.txt` (Session.screen()), `<name>.raw` (every byte
the agent wrote to its terminal so far, Session.output()) and `<name>.state.json` (the
state, reason, source and pending dialog the session reported at that moment). Paths in the
files name the throwaway folder of the run (/tmp/asc-...).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[6]
sys.path.insert(0, str(REPO / "tests" / "real_agents"))

import agent_sessions  # noqa: E402
import agents  # noqa: E402
from agents import claude as claude_agent, codex as codex_agent  # noqa: E402
from standin import StandIn  # noqa: E402

OUT = {"claude": Path(__file__).parent, "codex": Path(__file__).parent.parent / "codex-0.171"}


def until(pred: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise TimeoutError("capture: condition not reached")


class Run:
    """One session of `agent` in a fresh folder; `setup` may change its config first."""

    def __init__(self, agent: str, exe: str, standin: StandIn,
                 config: Callable[[Path, Path], tuple[list[str], dict[str, str]]]):
        self.agent, self.dir = agent, Path(tempfile.mkdtemp(prefix="asc-"))
        for sub in ("s", "home", "work"):
            (self.dir / sub).mkdir()
        os.environ["AGENT_SESSIONS_HOME"] = str(self.dir / "s")
        run = agents.setups()[agent](exe, self.dir / "home", self.dir / "work", standin.url)
        os.environ[run.bin_env] = run.bin
        args, env = config(self.dir / "home", self.dir / "work")
        mgr = agent_sessions.SessionManager(self.dir / "s")
        self.s = mgr.start(agent, args=args, cwd=self.dir / "work", env=env, cols=120, rows=35)

    def save(self, name: str) -> None:
        s = self.s
        r = s.record()
        data, _ = s.output()
        out = OUT[self.agent]
        (out / f"{name}.screen.txt").write_text(s.screen() + "\n")
        (out / f"{name}.raw").write_bytes(data)
        (out / f"{name}.state.json").write_text(json.dumps(
            {"state": r["state"], "state_reason": r.get("state_reason"),
             "state_source": r.get("state_source"), "pending": s.pending()}, indent=2) + "\n")
        print(f"{name}: {r['state']} {r.get('state_reason')} {r.get('state_source')}")

    def reason(self) -> tuple[str, Any]:
        r = self.s.record()
        return r["state"], r.get("state_reason")

    def close(self) -> None:
        try:
            self.s.refresh()
            if self.s.state in agent_sessions.LIVE_STATES:
                self.s.stop(timeout=10, force=True)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def capture_claude(exe: str, st: StandIn) -> None:
    def normal(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        return [], claude_agent.env(home, st.url)

    r = Run("claude", exe, st, normal)
    try:
        r.s.wait_for("waiting_input", timeout=60)
        r.save("idle")
        r.s.send("SLOW")
        until(lambda: "esc to interrupt" in r.s.screen() and "Slow" not in r.s.screen())
        r.save("busy")
        until(lambda: "SLOW-DONE" in r.s.screen() and r.reason() == ("waiting_input", "prompt"))
        r.save("idle-after-reply")
        r.s.send("RUN: touch captured.txt")
        until(lambda: r.reason()[1] == "permission" and (r.s.pending() or {}).get("options"))
        r.save("permission-dialog")
        r.s.deny(timeout=30)
        until(lambda: r.reason() == ("waiting_input", "prompt"))
        r.s.send("ASK")
        until(lambda: r.reason()[1] == "question" and (r.s.pending() or {}).get("options"))
        r.save("question-dialog")
    finally:
        r.close()

    def untrusted(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        claude_agent.write_config(home, cwd, onboarded=True, trusted=False)
        return [], claude_agent.env(home, st.url)

    r = Run("claude", exe, st, untrusted)
    try:
        until(lambda: "trust" in r.s.screen().lower(), 60)
        until(lambda: r.reason()[0] == "waiting_input", 30)
        r.save("trust-dialog")
    finally:
        r.close()

    def no_token(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        # Onboarded but no credentials: the prompt says "Not logged in"; /login opens the
        # login menu. (Not onboarded and no credentials, Claude Code checks
        # api.anthropic.com, which is unreachable here, and exits 1.)
        env = claude_agent.env(home, st.url)
        del env["ANTHROPIC_AUTH_TOKEN"]
        return [], env

    r = Run("claude", exe, st, no_token)
    try:
        until(lambda: "Not logged in" in r.s.screen() and r.reason()[0] == "waiting_input", 60)
        r.save("not-logged-in")
        r.s.send("/login")
        until(lambda: "Select login method" in r.s.screen() and r.reason()[1] == "login")
        r.save("login-menu")
    finally:
        r.close()

    def not_onboarded(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        # No global config but a token: Claude Code's first-run theme picker.
        (home / ".claude" / ".claude.json").unlink()
        return [], claude_agent.env(home, st.url)

    r = Run("claude", exe, st, not_onboarded)
    try:
        until(lambda: "Choose the text style" in r.s.screen()
              and r.reason()[0] == "waiting_input", 60)
        r.save("first-run-theme")
    finally:
        r.close()


def capture_codex(exe: str, st: StandIn) -> None:
    def normal(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        return codex_agent.args(cwd, st.url), codex_agent.env(home, st.url)

    r = Run("codex", exe, st, normal)
    try:
        r.s.wait_for("waiting_input", timeout=60)
        r.save("idle")
        r.s.send("SLOW")
        until(lambda: "esc to interrupt" in r.s.screen())
        r.save("busy")
        until(lambda: "SLOW-DONE" in r.s.screen() and r.reason() == ("waiting_input", "prompt"))
        r.save("idle-after-reply")
        r.s.send("RUN: touch captured.txt")
        until(lambda: r.reason()[1] == "permission" and (r.s.pending() or {}).get("options"))
        r.save("permission-dialog")
        r.s.deny(timeout=30)
        until(lambda: r.reason() == ("waiting_input", "prompt"))
        r.s.send("/plan")
        until(lambda: "Plan mode (shift+tab" in r.s.screen()
              and r.reason() == ("waiting_input", "prompt"))
        r.s.send("ASK")
        until(lambda: r.reason()[1] == "question" and (r.s.pending() or {}).get("options"))
        r.save("question-dialog")
    finally:
        r.close()

    def untrusted(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        # Codex asks about trust only for a folder in a git repository.
        subprocess.run(["git", "init", "-q", str(cwd)], check=True)
        return codex_agent.args(cwd, st.url, trusted=False), codex_agent.env(home, st.url)

    r = Run("codex", exe, st, untrusted)
    try:
        until(lambda: "Trust this folder?" in r.s.screen()
              and r.reason()[0] == "waiting_input", 60)
        r.save("trust-dialog")
    finally:
        r.close()

    def no_provider(home: Path, cwd: Path) -> tuple[list[str], dict[str, str]]:
        return codex_agent.args(cwd, st.url, provider=False), codex_agent.env(home, st.url)

    r = Run("codex", exe, st, no_provider)
    try:
        until(lambda: "sign in" in r.s.screen().lower(), 60)
        until(lambda: r.reason()[0] == "waiting_input", 30)
        r.save("login-menu")
    finally:
        r.close()


def main() -> None:
    agent = sys.argv[1]
    exe = agents.installed()[agent]
    st = StandIn(silence=3)
    try:
        {"claude": capture_claude, "codex": capture_codex}[agent](exe, st)
    finally:
        st.close()


if __name__ == "__main__":
    main()
