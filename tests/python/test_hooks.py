"""The ready hooks, run as real processes with real stdin."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_sessions import AgentSession

from conftest import run_module, script

PRE = "agent_sessions.hooks.pre_delegate"
STOP = "agent_sessions.hooks.subagent_stop"


def hook(module: str, payload: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    r = run_module(module, data, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().strip().splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def log_lines(home: Path) -> list[dict[str, Any]]:
    p = home / "hooks.log"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


# -- pre_delegate: the reference input ---------------------------------------------------------

def test_pre_delegate_no_existing_session(home: Path) -> None:
    ctx = {"agent_name": "terraform-architect", "task_id": "T001",
           "task_description": "plan the VPC", "metadata": {"workspace": "prod"}}
    a = hook(PRE, ctx)
    assert a["should_resume"] is False
    assert a["reason"] == "no_existing_session"
    assert a["agent_id"] is None
    assert a["resume_metadata"] is None
    assert a["original_context"] == ctx


def test_pre_delegate_resumable_and_not(home: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="terraform-architect", metadata={"task_id": "T001"})
    ctx = {"agent_name": "terraform-architect", "task_id": "T001", "agent_id": aid,
           "task_description": "apply", "metadata": {}}
    a = hook(PRE, ctx)
    assert (a["should_resume"], a["reason"], a["agent_id"]) == (False, "session_not_resumable", aid)

    s.update_state(aid, phase="planning", metadata={"plan_file": "plan.json"})
    s.update_state(aid, phase="approval")
    a = hook(PRE, ctx)
    assert a["should_resume"] is True
    assert a["reason"] == "session_resumable"
    assert a["agent_id"] == aid
    rm = a["resume_metadata"]
    assert set(rm) == {"previous_phase", "created_at", "last_updated", "history",
                       "session_metadata"}
    assert rm["previous_phase"] == "approval"
    assert rm["session_metadata"] == {"task_id": "T001", "plan_file": "plan.json"}
    assert [e["to_phase"] for e in rm["history"]] == ["planning", "approval"]
    assert rm["created_at"] == s.get_session(aid)["created_at"]  # type: ignore[index]
    assert a["original_context"] == ctx

    # Without agent_id, the unfinished session of the same agent and task is found.
    a = hook(PRE, {k: v for k, v in ctx.items() if k != "agent_id"})
    assert (a["reason"], a["agent_id"]) == ("session_resumable", aid)

    # Thresholds from the environment.
    env = dict(os.environ, AGENT_SESSIONS_MAX_ERRORS="1")
    s.update_state(aid, error="boom")
    assert hook(PRE, ctx, env=env)["reason"] == "session_not_resumable"
    assert hook(PRE, ctx)["reason"] == "session_resumable"

    s.finalize_session(aid, "completed")
    a = hook(PRE, ctx)
    assert (a["should_resume"], a["reason"]) == (False, "session_not_resumable")


def test_pre_delegate_unknown_agent_id(home: Path) -> None:
    a = hook(PRE, {"agent_name": "x", "agent_id": "agent-20990101-000000-00000000",
                   "task_id": "T", "task_description": "", "metadata": {}})
    assert (a["should_resume"], a["reason"]) == (False, "no_existing_session")


def test_pre_delegate_other_agents_session_is_not_resumed(home: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="gitops")
    s.update_state(aid, phase="approval")
    a = hook(PRE, {"agent_name": "terraform", "agent_id": aid})
    assert (a["should_resume"], a["reason"]) == (False, "session_not_resumable")


# -- subagent_stop: the reference input -------------------------------------------------------

def test_subagent_stop_finalizes_on_success(home: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="terraform")
    s.update_state(aid, phase="executing")
    a = hook(STOP, {"task_id": "T001", "agent": "terraform", "agent_id": aid, "exit_code": 0,
                    "output": "Terraform applied successfully"})
    assert a["finalized"] is True and a["reason"] == "finalized" and a["outcome"] == "completed"
    doc = s.get_session(aid)
    assert doc is not None
    assert doc["phase"] == "completed"
    assert doc["summary"] == "Terraform applied successfully"
    assert doc["finalized_at"] is not None and doc["duration_seconds"] is not None


def test_subagent_stop_defaults_to_success_and_summarizes(home: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="t")
    a = hook(STOP, {"task_id": "T7", "agent": "t", "agent_id": aid})
    assert a["outcome"] == "completed"
    assert s.get_session(aid)["summary"] == "t (task T7) finished with exit code 0"  # type: ignore[index]


def test_subagent_stop_failure(home: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="t")
    a = hook(STOP, {"task_id": "T1", "agent": "t", "agent_id": aid, "exit_code": 3,
                    "output": "plan failed"})
    assert (a["finalized"], a["outcome"]) == (True, "failed")
    doc = s.get_session(aid)
    assert doc["phase"] == "failed" and doc["metadata"]["exit_code"] == 3  # type: ignore[index]


def test_subagent_stop_unknown_session(home: Path) -> None:
    a = hook(STOP, {"task_id": "T1", "agent": "t", "agent_id": "agent-20990101-000000-00000000"})
    assert (a["finalized"], a["reason"]) == (False, "session_not_found")


# -- bad input --------------------------------------------------------------------------------

BAD_INPUTS = [
    b"",
    b"   \n",
    b"{not json",
    b"\xff\xfe",
    b"[1, 2, 3]",
    b"null",
    b"{}",
    json.dumps({"agent_name": 42}).encode(),
    json.dumps({"agent_name": "x", "metadata": "not an object"}).encode(),
    json.dumps({"agent_name": "x", "agent_id": "../../etc"}).encode(),
]


@pytest.mark.parametrize("data", BAD_INPUTS)
def test_pre_delegate_bad_input(home: Path, data: bytes) -> None:
    a = hook(PRE, data)
    assert a["reason"] == "error" and a["should_resume"] is False
    assert a["error"]
    logged = log_lines(home)
    assert logged and logged[-1]["level"] == "error" and logged[-1]["hook"] == "pre_delegate"


@pytest.mark.parametrize("data", BAD_INPUTS + [
    json.dumps({"task_id": "T", "agent": "x"}).encode(),  # no agent_id
    json.dumps({"agent_id": "agent-1", "exit_code": "three"}).encode(),
    json.dumps({"agent_id": "agent-1", "exit_code": [1]}).encode(),
])
def test_subagent_stop_bad_input(home: Path, data: bytes) -> None:
    a = hook(STOP, data)
    assert a["reason"] == "error" and a["finalized"] is False
    logged = log_lines(home)
    assert logged and logged[-1]["level"] == "error" and logged[-1]["hook"] == "subagent_stop"


def test_hook_log_location_from_env(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "custom.log"
    env = dict(os.environ, AGENT_SESSIONS_HOOK_LOG=str(log))
    hook(PRE, b"garbage", env=env)
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "malformed JSON" in entry["message"]
    assert entry["input"] == "garbage"


def test_unwritable_store_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = dict(os.environ, AGENT_SESSIONS_HOME=str(blocker / "home"),
               AGENT_SESSIONS_HOOK_LOG=str(tmp_path / "hooks.log"))
    a = hook(PRE, {"agent_name": "x", "task_id": "T"}, env=env)
    assert a["reason"] == "error"
    a = hook(STOP, {"agent_id": "agent-1"}, env=env)
    assert a["reason"] == "error"
    assert "session store" in (tmp_path / "hooks.log").read_text()


# -- Claude Code's own hook input ------------------------------------------------------------

def claude_pre(session: str, subagent: str = "terraform-architect") -> dict[str, Any]:
    return {"session_id": session, "transcript_path": "/tmp/t.jsonl", "cwd": "/work",
            "hook_event_name": "PreToolUse", "tool_name": "Task",
            "tool_input": {"description": "Plan the VPC", "prompt": "Write a plan",
                           "subagent_type": subagent}}


def test_claude_pre_tool_use_tracks_and_resumes(home: Path) -> None:
    a = hook(PRE, claude_pre("claude-1"))
    out = a["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert "tracked as lifecycle session" in out["additionalContext"]
    assert set(a) == {"hookSpecificOutput"}  # only Claude Code's own keys
    s = AgentSession(home)
    rows = s.list_sessions(agent_name="terraform-architect")
    assert len(rows) == 1
    aid = rows[0]["agent_id"]
    doc = s.get_session(aid)
    assert doc["metadata"]["claude_session_id"] == "claude-1"  # type: ignore[index]
    assert doc["purpose"] == "Plan the VPC"  # type: ignore[index]

    # The subagent pauses for approval; the next Task call of the same type resumes it.
    s.update_state(aid, phase="approval", metadata={"plan_file": "plan.json"})
    a = hook(PRE, claude_pre("claude-1"))
    ctx = a["hookSpecificOutput"]["additionalContext"]
    assert aid in ctx and "resumable" in ctx and "plan.json" in ctx
    # Another Claude session does not see it.
    a = hook(PRE, claude_pre("claude-2"))
    assert aid not in a["hookSpecificOutput"]["additionalContext"]


def test_claude_pre_tool_use_other_tools_are_ignored(home: Path) -> None:
    payload = claude_pre("c") | {"tool_name": "Bash", "tool_input": {"command": "ls"}}
    assert hook(PRE, payload) == {}
    assert AgentSession(home).list_sessions() == []


def test_claude_pre_tool_use_missing_fields(home: Path) -> None:
    payload = claude_pre("c")
    del payload["session_id"]
    a = hook(PRE, payload)
    assert a["reason"] == "error"


def write_transcript(path: Path) -> None:
    lines = [
        {"type": "user", "message": {"role": "user", "content": "go"}},
        {"type": "assistant", "message": {"id": "msg_1", "model": "claude-sonnet-4-5",
                                          "usage": {"input_tokens": 100, "output_tokens": 10,
                                                    "cache_read_input_tokens": 1000,
                                                    "cache_creation_input_tokens": 50}}},
        # Claude Code repeats a message per content block; counted once.
        {"type": "assistant", "message": {"id": "msg_1", "model": "claude-sonnet-4-5",
                                          "usage": {"input_tokens": 100, "output_tokens": 25,
                                                    "cache_read_input_tokens": 1000,
                                                    "cache_creation_input_tokens": 50}}},
        {"type": "assistant", "message": {"id": "msg_2", "model": "claude-sonnet-4-5",
                                          "usage": {"input_tokens": 5, "output_tokens": 7}}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_claude_subagent_stop_records_usage_and_finalizes(home: Path, tmp_path: Path) -> None:
    hook(PRE, claude_pre("claude-9", "gitops-operator"))
    s = AgentSession(home)
    aid = s.list_sessions()[0]["agent_id"]
    transcript = tmp_path / "agent-abc.jsonl"
    write_transcript(transcript)
    a = hook(STOP, {"session_id": "claude-9", "transcript_path": "/tmp/main.jsonl",
                    "hook_event_name": "SubagentStop", "stop_hook_active": False,
                    "agent_id": "abc", "agent_type": "gitops-operator",
                    "agent_transcript_path": str(transcript),
                    "last_assistant_message": "Fixed the crash loop."})
    assert a == {}
    doc = s.get_session(aid)
    assert doc is not None
    assert doc["phase"] == "completed"
    assert doc["summary"] == "Fixed the crash loop."
    u = doc["usage"]
    assert (u["tokens_input"], u["tokens_output"], u["tokens_cache_read"],
            u["tokens_cache_write"]) == (105, 32, 1000, 50)
    assert u["total_tokens"] == 1187 and u["model"] == "claude-sonnet-4-5"
    assert doc["metadata"]["claude_agent_id"] == "abc"


def test_claude_subagent_stop_without_tracked_session(home: Path) -> None:
    a = hook(STOP, {"session_id": "c", "hook_event_name": "SubagentStop", "agent_id": "zz",
                    "agent_type": "reviewer", "agent_transcript_path": "/nonexistent.jsonl",
                    "last_assistant_message": "done"})
    assert a == {}
    rows = AgentSession(home).list_sessions(agent_name="reviewer")
    assert len(rows) == 1 and rows[0]["phase"] == "completed"
    assert "does not exist" in (home / "hooks.log").read_text()


# -- console scripts ------------------------------------------------------------------------

def test_console_scripts(home: Path) -> None:
    for name, payload, key in [
        ("agent-sessions-pre-delegate", {"agent_name": "a", "task_id": "T"}, "should_resume"),
        ("agent-sessions-subagent-stop", b"", "finalized"),
    ]:
        exe = script(name)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        r = subprocess.run([str(exe)], input=data, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert key in json.loads(r.stdout)
