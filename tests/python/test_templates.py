"""Launch templates from Python: the same store and rules as the CLI (one core): save
versions, roll back, check, start from one with keyword arguments on top; bad input is a
clear error and saves nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import agent_sessions
from agent_sessions import SessionManager

FAKE = Path(__file__).resolve().parents[1] / "fake_agents" / "fake_agent.py"


def test_templates_round_trip_and_start(mgr: SessionManager, home: Path) -> None:
    v1 = mgr.save_template("py", {"agent": "custom", "args": [sys.executable, str(FAKE)],
                                  "name": "from-py", "task_prefix": "P-",
                                  "env": ["AS_TEMPLATE_TEST"]})
    assert (v1["name"], v1["version"], v1["current"]) == ("py", 1, True)
    v2 = mgr.save_template("py", {**v1["template"], "cols": 100})
    assert v2["version"] == 2
    assert [v["version"] for v in mgr.template_history("py")] == [1, 2]
    assert mgr.template("py@1")["template"].get("cols") is None
    assert mgr.check_template("py") == []

    with pytest.raises(agent_sessions.InvalidArgumentError, match="AS_TEMPLATE_TEST"):
        mgr.start(template="py")
    assert mgr.list() == []
    os.environ["AS_TEMPLATE_TEST"] = "x"
    try:
        s = mgr.start(template="py", task_id="9", rows=30, cwd=home)
    finally:
        del os.environ["AS_TEMPLATE_TEST"]
    rec = s.record()
    assert (rec["name"], rec["task_id"], rec["cols"], rec["rows"]) == ("from-py", "P-9", 100, 30)
    assert rec["env_keys"] == ["AS_TEMPLATE_TEST"]
    s.stop(timeout=10, force=True)

    assert mgr.rollback_template("py", 1)["current"] is True
    assert [t["version"] for t in mgr.templates()] == [1]
    mgr.remove_template("py")
    assert mgr.templates() == []


@pytest.mark.parametrize("name, doc, match", [
    ("x", {"agent": "no-such-agent"}, "unknown"),
    ("x", {"agent": "custom", "env": ["K=V"]}, "names only"),
    ("x", {"agent": "custom", "bogus": 1}, "bogus"),
    ("../x", {"agent": "custom", "args": ["sleep", "1"]}, "template name"),
])
def test_bad_templates_are_refused(mgr: SessionManager, name: str, doc: dict, match: str) -> None:
    with pytest.raises(agent_sessions.AgentSessionsError, match=match):
        mgr.save_template(name, doc)
    assert mgr.templates() == []
    with pytest.raises(agent_sessions.InvalidArgumentError, match="no template named"):
        mgr.start(template="nosuch")
    with pytest.raises(agent_sessions.InvalidArgumentError, match="agent type"):
        mgr.start()
