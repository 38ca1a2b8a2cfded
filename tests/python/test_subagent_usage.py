"""The subagent_stop hook on Claude Code's SubagentStop, run as a real process: Claude Code
appends the subagent's last message to its transcript only after it ran the hook (about
30 ms later), so the hook must wait for it rather than record no usage."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, List

from agent_sessions import AgentSession

from conftest import run_module

PRE = "agent_sessions.hooks.pre_delegate"
STOP = "agent_sessions.hooks.subagent_stop"

#: A real Claude Code 2.1.197 transcript (shared/fixtures/agents/transcripts): mode lines,
#: the user's prompt, one assistant message with usage 1234/56/700/300, then more.
REAL = Path(__file__).resolve().parents[2] / "crates/core/tests/data/usage/claude-project-session.jsonl"


def transcript_parts() -> tuple[List[str], List[str]]:
    """The real transcript up to its assistant message, and that message with the lines
    Claude Code writes right after it (turn duration, last prompt)."""
    lines = REAL.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if json.loads(line).get("type") == "assistant")
    return lines[:i], lines[i:i + 3]


def hook(module: str, payload: Any) -> dict[str, Any]:
    r = run_module(module, json.dumps(payload).encode())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def tracked_session(home: Path) -> str:
    hook(PRE, {"session_id": "claude-3", "hook_event_name": "PreToolUse", "tool_name": "Task",
               "tool_input": {"description": "Review", "prompt": "Review the branch",
                              "subagent_type": "security-reviewer"}})
    rows = AgentSession(home).list_sessions(agent_name="security-reviewer")
    assert len(rows) == 1
    return rows[0]["agent_id"]


def stop_input(transcript: Path) -> dict[str, Any]:
    return {"session_id": "claude-3", "transcript_path": "/tmp/main.jsonl",
            "hook_event_name": "SubagentStop", "stop_hook_active": False,
            "agent_id": "sub-3", "agent_type": "security-reviewer",
            "agent_transcript_path": str(transcript),
            "last_assistant_message": "MOCK-REPLY to: security review"}


def unread(path: Path, text: str) -> None:
    """Writes `text` with the access time a day before the modification time, so the hook's
    first read moves it (relatime) and a writer can tell the hook has looked."""
    path.write_text(text)
    st = os.stat(path)
    os.utime(path, (st.st_mtime - 86400, st.st_mtime))


def late_writer(path: Path, text: str) -> threading.Thread:
    """Appends `text` like Claude Code does: after the hook has read the transcript (or 1 s
    after the hook started, where access times are not kept), and a little later still."""
    before = os.stat(path).st_atime

    def write() -> None:
        start = time.monotonic()
        while os.stat(path).st_atime == before and time.monotonic() - start < 1.0:
            time.sleep(0.002)
        time.sleep(0.15)  # the writer's own lateness, not a wait for a condition
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_usage_written_after_the_hook_started_is_recorded(home: Path, tmp_path: Path) -> None:
    aid = tracked_session(home)
    head, final = transcript_parts()
    transcript = tmp_path / "agent-sub-3.jsonl"
    unread(transcript, "".join(head))
    writer = late_writer(transcript, "".join(final))
    assert hook(STOP, stop_input(transcript)) == {}
    writer.join(timeout=30)
    doc = AgentSession(home).get_session(aid)
    assert doc is not None and doc["phase"] == "completed"
    u = doc["usage"]
    assert (u["tokens_input"], u["tokens_output"], u["tokens_cache_read"],
            u["tokens_cache_write"]) == (1234, 56, 700, 300)
    assert u["model"] == "claude-opus-4-8"
    assert "usage_note" not in doc
    assert "usage not recorded" not in (home / "hooks.log").read_text()


def test_transcript_that_never_gets_usage_is_noted(home: Path, tmp_path: Path) -> None:
    aid = tracked_session(home)
    head, _ = transcript_parts()
    transcript = tmp_path / "agent-sub-3.jsonl"
    unread(transcript, "".join(head))
    # run_module bounds the run (60 s); the hook itself gives up after its 3 s deadline.
    assert hook(STOP, stop_input(transcript)) == {}
    doc = AgentSession(home).get_session(aid)
    assert doc is not None and doc["phase"] == "completed"
    assert "usage" not in doc
    assert "no assistant message with usage" in doc["usage_note"]
    assert str(transcript) in doc["usage_note"]
    log = [json.loads(line) for line in (home / "hooks.log").read_text().splitlines()]
    assert any("no assistant message with usage" in e["message"] for e in log
               if e["hook"] == "subagent_stop")
