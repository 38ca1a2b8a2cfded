"""Cost budgets from Python: the same store and host enforcement as the CLI. The fake
Claude Code reports 2290 tokens per reply in its transcript, so a budget trips at a known
turn; bad figures are clear errors that change nothing."""

from __future__ import annotations

import math
import stat
from pathlib import Path

import pytest

import agent_sessions
from conftest import wait_until

CLAUDE_LIKE = Path(__file__).resolve().parent.parent / "fake_agents" / "claude_like.py"
PER_REPLY = 1234 + 300 + 700 + 56


@pytest.fixture
def claude(tmp_path: Path, monkeypatch) -> Path:
    wrapper = tmp_path / "claude"
    wrapper.write_text(f"#!/bin/sh\nexec python3 '{CLAUDE_LIKE}' --reply-delay 0.3 \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AGENT_SESSIONS_CLAUDE_BIN", str(wrapper))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_AGENTS_HOME", str(tmp_path / "fake-agents"))
    monkeypatch.delenv("AGENT_SESSIONS_TASK", raising=False)
    return tmp_path


def test_a_token_budget_interrupts_nothing_at_the_prompt_and_stops_at_its_limit(
    mgr: agent_sessions.SessionManager, claude: Path
) -> None:
    s = mgr.start("claude", cwd=claude, budget_tokens=2800, on_budget="stop")
    try:
        assert s.record()["budget"] == {"tokens": 2800, "on_budget": "stop"}
        s.wait_for("waiting_input", timeout=30)
        s.send("first")
        wait_until(lambda: any(e["kind"] == "budget_warning" for e in s.events()),
                   timeout=30, what="the warning at 80%")
        b = s.budget()
        assert b["scope"] == "session" and b["spent"]["tokens"] == PER_REPLY
        assert b["assessment"]["level"] == "warning"
        s.wait_for("waiting_input", timeout=30)
        s.send("second")
        s.wait_for("stopped", timeout=60)
        exceeded = [e for e in s.events() if e["kind"] == "budget_exceeded"]
        assert len(exceeded) == 1
        assert exceeded[0]["data"]["spent"]["tokens"] == 2 * PER_REPLY
        assert exceeded[0]["data"]["action"] == "stop"
    finally:
        s.stop(timeout=10, force=True)


def test_task_budgets_can_precede_their_sessions_and_be_removed(
    mgr: agent_sessions.SessionManager,
) -> None:
    with pytest.raises(agent_sessions.TaskNotFoundError):
        mgr.task_budget("T-PY")
    b = mgr.set_task_budget("T-PY", usd=5, on_budget="warn")
    assert b["budget"] == {"usd": 5.0, "on_budget": "warn"}
    assert b["spent"] == {"usd": None, "tokens": 0, "estimated": False}
    assert mgr.task_budget("T-PY")["assessment"]["level"] == "under"
    gone = mgr.set_task_budget("T-PY")  # no limit: removed
    assert gone["budget"] is None and gone["assessment"] is None
    with pytest.raises(agent_sessions.TaskNotFoundError):
        mgr.task_budget("T-PY")


@pytest.mark.parametrize("kwargs, match", [
    ({"budget_usd": math.nan}, "dollar budget"),
    ({"budget_usd": math.inf}, "dollar budget"),
    ({"budget_usd": -1.0}, "dollar budget"),
    ({"budget_tokens": -5}, "negative"),
    ({"budget_tokens": 0}, "token budget"),
    ({"on_budget": "stop"}, "needs a limit"),
    ({"budget_usd": 1.0, "on_budget": "explode"}, "warn, interrupt"),
])
def test_bad_budgets_are_refused_and_start_nothing(
    mgr: agent_sessions.SessionManager, kwargs: dict, match: str
) -> None:
    with pytest.raises(agent_sessions.InvalidArgumentError, match=match):
        mgr.start("custom", ["sleep", "30"], **kwargs)
    assert mgr.list() == []
    with pytest.raises(agent_sessions.InvalidArgumentError, match=match.replace("budget_", "")):
        mgr.set_task_budget("T-X", usd=kwargs.get("budget_usd"), tokens=kwargs.get("budget_tokens"),
                            on_budget=kwargs.get("on_budget"))


def test_usage_series_has_a_point_per_turn_without_a_budget(
    mgr: agent_sessions.SessionManager, claude: Path
) -> None:
    s = mgr.start("claude", cwd=claude)
    try:
        s.wait_for("waiting_input", timeout=30)
        assert s.usage_series() == []
        for n, prompt in enumerate(["first", "second"], start=1):
            s.send(prompt)
            wait_until(lambda: f"MOCK-REPLY to: {prompt}" in s.screen(), timeout=30,
                       what=f"the reply to {prompt}")
            wait_until(lambda: any(p["total_tokens"] == n * PER_REPLY for p in s.usage_series()),
                       timeout=30, what=f"turn {n}'s point")
        s.stop(timeout=10)
        points = s.usage_series()
        assert [p["total_tokens"] for p in points] == [PER_REPLY, 2 * PER_REPLY]
        assert points[0]["at_ms"] < points[1]["at_ms"]
        assert s.usage_series(since_ms=points[1]["at_ms"]) == points[1:]
        assert len(s.usage_series(limit=1)) == 1
        with pytest.raises(ValueError, match="since_ms must not be negative"):
            s.usage_series(since_ms=-1)
        with pytest.raises(ValueError, match="limit must be at least 1"):
            s.usage_series(limit=0)
    finally:
        s.stop(timeout=10, force=True)
