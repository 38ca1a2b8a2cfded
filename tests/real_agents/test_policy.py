"""Approval policies on the real Claude Code and Codex: a decided request is answered through
the agent's own PermissionRequest hook (no dialog, the session never waits), each decision is
an event naming its rule, and an undecided one shows the agent's dialog as usual."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent_sessions
from conftest import wait_until

POLICY = """
[[rules]]
name = "touch allowed files"
tool = "Bash"
command = "touch allowed*"
decision = "allow"

[[rules]]
tool = "Bash"
command = "touch denied*"
decision = "deny"
message = "not that file"
"""


def turn(s: agent_sessions.Session, text: str) -> None:
    """Types `text`, then waits for the turn to start and end."""
    before = len(s.events(limit=10000))
    s.send(text)
    wait_until(lambda: any(e["kind"] == "state" and e["data"]["to"] == "running"
                           for e in s.events(since=0, limit=10000)[before:]),
               what="the turn to start")
    s.wait_for("waiting_input", timeout=60)


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_a_policy_decides_in_the_hook_and_the_rest_is_asked(run_agent, place: Path,
                                                            agent: str) -> None:
    policy = place / "policy.toml"
    policy.write_text(POLICY)
    s = run_agent(agent, policy=policy)
    assert s.record()["policy"]["rules"][0]["name"] == "touch allowed files"
    work = place / "work"

    turn(s, "RUN: touch allowed.txt")
    wait_until(lambda: (work / "allowed.txt").exists(), what="the allowed command to run")
    turn(s, "RUN: touch denied.txt")
    wait_until(lambda: "TOOL-DONE" in s.screen().split("denied.txt", 1)[-1],
               what="the denied turn to end")
    assert not (work / "denied.txt").exists()

    decisions = [e for e in s.events(limit=10000) if e["kind"] == "decision"]
    assert [(d["data"]["decision"], d["data"]["rule"]) for d in decisions] == [
        ("allow", "touch allowed files"), ("deny", "rule 2")]
    assert decisions[0]["data"]["input"]["command"] == "touch allowed.txt"
    # Decided requests never made the session wait on a permission.
    waits = [e for e in s.events(limit=10000)
             if e["kind"] == "state" and e["data"]["to"] == "waiting_input"
             and e["data"].get("reason") == "permission"]
    assert waits == []

    # No rule: the agent asks as usual, and deny answers the dialog.
    s.send("RUN: touch asked.txt")
    wait_until(lambda: (s.refresh().pending() or {}).get("kind") == "permission",
               timeout=60, what="the dialog for an undecided request")
    assert s.pending()["input"]["command"] == "touch asked.txt"
    s.deny()
    s.wait_for("waiting_input", timeout=30)
    wait_until(lambda: s.refresh().pending() is None, what="the dialog to be gone")
    assert not (work / "asked.txt").exists()
    assert [e["data"]["decision"] for e in s.events(limit=10000)
            if e["kind"] == "decision"][-1] == "ask"


def test_a_bad_policy_file_is_refused_before_anything_starts(place: Path) -> None:
    bad = place / "bad.toml"
    bad.write_text('[[rules]]\ntool = "Bash"\ndecision = "sometimes"\n')
    mgr = agent_sessions.SessionManager(place / "s")
    with pytest.raises(agent_sessions.InvalidArgumentError, match="sometimes"):
        mgr.start("custom", args=["sh"], policy=bad)
    with pytest.raises(agent_sessions.InvalidArgumentError, match="cannot read the policy file"):
        mgr.start("custom", args=["sh"], policy=place / "missing.toml")
    assert mgr.list() == []
