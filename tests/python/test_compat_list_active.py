"""The drop-in ``agent_session`` module's ``list_sessions(active_only=True)``: like the
reference hook library, it lists exactly the sessions whose ``resume_ready`` is true."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import agent_sessions.compat.agent_session as agent_session


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["agent_id"] for r in rows]


def test_active_only_means_resume_ready(home: Path) -> None:
    initializing = agent_session.create_session(agent_name="planner")
    approval = agent_session.create_session(agent_name="planner")
    executing = agent_session.create_session(agent_name="planner")
    done = agent_session.create_session(agent_name="planner")
    assert agent_session.update_state(approval, phase="approval")
    assert agent_session.update_state(executing, phase="investigating")
    assert agent_session.update_state(executing, phase="executing")  # not a resumable phase
    assert agent_session.update_state(done, phase="approval")
    assert agent_session.finalize_session(done, "completed")

    rows = agent_session.list_sessions(active_only=True)
    assert ids(rows) == [approval]
    assert all(r["resume_ready"] is True for r in rows)
    # The same through an AgentSession, by agent name, and positionally.
    s = agent_session.AgentSession(home)
    assert ids(s.list_sessions(active_only=True, agent_name="planner")) == [approval]
    assert ids(s.list_sessions(True, "someone-else")) == []
    # Without active_only everything is listed, most recently updated first.
    assert ids(agent_session.list_sessions()) == [done, executing, approval, initializing]

    # A record stored as given counts by its resume_ready alone, as in the reference.
    rec = s.get_session(initializing)
    assert rec is not None
    rec["resume_ready"] = True
    s._save_session(initializing, rec)
    assert set(ids(agent_session.list_sessions(active_only=True))) == {approval, initializing}


def test_cli_active_only_means_resume_ready(home: Path) -> None:
    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "agent_sessions.compat.agent_session", *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    fresh = cli("create", "--agent", "planner")
    waiting = cli("create", "--agent", "planner")
    assert cli("update", waiting, "--phase", "approval") == "updated"
    listed = [json.loads(line)["agent_id"]
              for line in cli("list", "--active-only", "--json").splitlines()]
    assert listed == [waiting]
    assert fresh in cli("list")
