"""What a waiting session waits on (`Session.pending()`), through the Python binding: the
fake Codex writes Codex 0.171's program-status escape, so its approval dialog is reported by
the agent itself, and the dialog's options come from the screen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import agent_sessions
from conftest import wait_until

CODEX_LIKE = Path(__file__).resolve().parent.parent / "fake_agents" / "codex_like.py"


def test_a_permission_dialog_is_pending_until_answered(
    mgr: agent_sessions.SessionManager, tmp_path: Path, monkeypatch
) -> None:
    wrapper = tmp_path / "codex"
    wrapper.write_text(
        f"#!/bin/sh\nexec python3 '{CODEX_LIKE}' --reply-delay 0.5 --permission \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AGENT_SESSIONS_CODEX_BIN", str(wrapper))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    s = mgr.start("codex", cwd=tmp_path)
    try:
        s.wait_for("waiting_input", timeout=30)
        assert s.pending() is None  # at the prompt
        s.send("list the files")

        def dialog() -> object:
            p = s.pending()
            return p if p and p["options"] else None

        p = wait_until(dialog, timeout=30, what="the pending permission with its options")
        assert p["kind"] == "permission"
        assert p["source"] == "agent_status"
        assert p["options"][0] == "Yes, proceed (y)"
        assert len(p["options"]) == 3
        assert s.record()["pending"] == p
        assert s.record()["state_reason"] == "permission"

        assert s.approve(timeout=20) is s  # checked on screen, Enter, dialog gone
        assert "Would you like to run" not in s.screen()
        wait_until(lambda: s.pending() is None and s.refresh().state == "waiting_input",
                   timeout=30, what="the answered turn to end")
        with pytest.raises(agent_sessions.InvalidArgumentError):
            s.deny()  # nothing pending any more
        kinds = [e["kind"] for e in s.events()]
        assert "pending" in kinds
    finally:
        s.stop(timeout=10)
