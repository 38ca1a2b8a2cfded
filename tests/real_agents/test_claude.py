"""Claude Code 2.1.197 as a real session against the loopback stand-in (issue 13).

Each test starts the real CLI through the Python API (`run_agent`), steers it by what it
types (see standin/__init__.py: PING, SLOW, HOLD, RUN:, ASK) and checks the state the
session reports against what really happened: the stand-in's requests, the screen, the files
a tool touched. Run:

    /work/main/.venv/bin/python -m pytest tests/real_agents/test_claude.py -s
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent_sessions
from agents import claude as claude_agent
from checks import T, at, billed, epoch, fail_with, last_seq, pending, state_events, state_of, wait
from standin import StandIn



@pytest.fixture
def claude(run_agent: Any) -> agent_sessions.Session:
    return run_agent("claude")


# -- tests -------------------------------------------------------------------------------

def test_prompt_runs_then_waits_with_the_reply(claude: agent_sessions.Session) -> None:
    s = claude
    since = last_seq(s)
    s.send("PING")
    wait(s, lambda: at(s, "waiting_input", "prompt", "PONG"), "PONG at the prompt")
    moves = state_events(s, since)
    assert [e["data"]["to"] for e in moves] == ["running", "waiting_input"], fail_with(s, "moves")
    # The turn's end comes from Claude's own Stop hook, and the record says so.
    assert moves[-1]["source"] == "agent_hook" and "Stop" in moves[-1]["data"]["cause"]
    assert s.record()["state_source"] == "agent_hook"
    assert all(e["source"] for e in s.events()), "every event names its source"


def test_permission_approved_runs_the_tool(claude: agent_sessions.Session, place: Path,
                                           standin: StandIn) -> None:
    s = claude
    s.send("RUN: touch approved.txt")
    wait(s, lambda: at(s, "waiting_input", "permission"), "the permission dialog")
    p = pending(s)
    assert p and p["kind"] == "permission" and p["tool"] == "Bash", p
    assert p["input"]["command"] == "touch approved.txt", p
    assert s.record()["state_source"] == "agent_hook"
    assert not (place / "work" / "approved.txt").exists()
    s.approve(timeout=T)
    wait(s, lambda: (place / "work" / "approved.txt").exists(), "the tool to run")
    wait(s, lambda: at(s, "waiting_input", "prompt", "TOOL-DONE"), "the reply after the tool")
    assert s.pending() is None
    assert len(billed(standin, "after-tool")) == 1


def test_permission_denied_does_not_run_the_tool(claude: agent_sessions.Session, place: Path,
                                                 standin: StandIn) -> None:
    s = claude
    s.send("RUN: touch denied.txt")
    wait(s, lambda: at(s, "waiting_input", "permission"), "the permission dialog")
    assert pending(s)["tool"] == "Bash"
    s.deny(timeout=T)
    wait(s, lambda: at(s, "waiting_input", "prompt"), "the prompt after the denial")
    assert s.pending() is None
    # Back at the prompt, the turn is over: a tool that ran would have made the file.
    assert not (place / "work" / "denied.txt").exists()
    assert "Interrupted" in s.screen()
    assert not billed(standin, "after-tool")


def test_question_answered_with_keys(claude: agent_sessions.Session, standin: StandIn) -> None:
    s = claude
    s.send("ASK")
    wait(s, lambda: at(s, "waiting_input", "question"), "the question dialog")
    p = pending(s)
    assert p and p["kind"] == "question" and p["tool"] == "AskUserQuestion", p
    assert p["input"]["questions"][0]["question"] == "Which colour should it be?"
    wait(s, lambda: (s.pending() or {}).get("options", [])[:2] == ["Red", "Blue"],
         "the options on screen")
    # The second option, by the keys a user presses, each once the screen shows the last
    # (Down and Enter in one write select the first: Claude reads Enter before it moved).
    s.send_keys("Down")
    wait(s, lambda: "❯ 2. Blue" in s.screen(), "the cursor on Blue")
    s.send_keys("Enter")
    wait(s, lambda: at(s, "waiting_input", "prompt", "ANSWERED"), "the reply to the answer")
    (after,) = billed(standin, "after-tool")
    answer = json.dumps(after.request["messages"][-1])
    assert "Blue" in answer and "Red" not in answer, answer


def test_interrupt_mid_turn_returns_to_the_prompt(claude: agent_sessions.Session,
                                                  standin: StandIn) -> None:
    s = claude
    since = last_seq(s)
    s.send("HOLD")
    wait(s, lambda: billed(standin, "hold") and state_of(s)[0] == "running",
         "the held request")
    s.interrupt()
    # (Interrupted before the first words, Claude puts the prompt back in its input box;
    # later it shows "Interrupted · What should Claude do instead?". Either is the prompt.)
    wait(s, lambda: at(s, "waiting_input", "prompt"), "the prompt after Esc")
    evs = s.events(since=since)
    interrupts = [e for e in evs if e["kind"] == "input" and e["data"].get("interrupt")]
    assert len(interrupts) == 1 and interrupts[0]["source"] == "user", fail_with(s, "input")
    moves = [e["data"]["to"] for e in evs if e["kind"] == "state"]
    assert moves == ["running", "waiting_input"], fail_with(s, "moves")
    assert not billed(standin, "hold")[0].completed


def test_slow_stream_never_reads_waiting(claude: agent_sessions.Session,
                                         standin: StandIn) -> None:
    s = claude
    since = last_seq(s)
    s.send("SLOW")
    wait(s, lambda: "SLOW-DONE" in s.screen(), "the end of the slow reply", timeout=60)
    wait(s, lambda: at(s, "waiting_input", "prompt"), "the prompt after it")
    (slow,) = billed(standin, "slow")
    assert slow.finished_at is not None
    moves = state_events(s, since)
    assert [e["data"]["to"] for e in moves] == ["running", "waiting_input"], fail_with(s, "moves")
    # Event times have millisecond precision; the silences are three seconds.
    assert epoch(moves[-1]["at"]) >= slow.finished_at - 0.01, fail_with(s, "waiting too early")


def test_tokens_match_the_billed_turn(claude: agent_sessions.Session, standin: StandIn,
                                      place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = claude
    # A reader computes usage with its own environment: point it at the private config.
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(place / "home" / ".claude"))
    # A few words, so Claude Code also asks the stand-in for a session title.
    s.send("Please answer PING now")
    wait(s, lambda: at(s, "waiting_input", "prompt", "PONG"), "PONG at the prompt")
    wait(s, lambda: any(b.auxiliary and b.completed for b in standin.billed), "the title request")
    aux = [b for b in standin.billed if b.auxiliary]
    assert len(aux) == 1 and aux[0].model == "claude-haiku-4-5"
    # Every request the stand-in billed, the title request included: Claude Code's own
    # OpenTelemetry export reports each one to the session's host.
    billed = [b for b in standin.billed if b.completed]
    want = {"tokens_input": sum(b.usage.input for b in billed),
            "tokens_output": sum(b.usage.output for b in billed),
            "tokens_cache_read": sum(b.usage.cache_read for b in billed),
            "tokens_cache_write": sum(b.usage.cache_write for b in billed)}
    seen: list[dict[str, Any]] = []

    def matches() -> bool:
        seen.append(s.usage())
        return {k: seen[-1][k] for k in want} == want

    wait(s, matches, f"usage {want}, last read {seen[-1:]}")
    assert seen[-1]["source"].startswith("claude-otel") and seen[-1]["exact"], seen[-1]
    # After the end the host's own figures are stored and read back without the env.
    s.stop(timeout=T)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR")
    wait(s, lambda: {k: s.usage()[k] for k in want} == want, "the stored figures")


def test_suspend_and_resume_keep_the_conversation(claude: agent_sessions.Session,
                                                  standin: StandIn, place: Path) -> None:
    s = claude
    s.send("PING before the pause")
    wait(s, lambda: at(s, "waiting_input", "prompt", "PONG"), "PONG at the prompt")
    assert s.suspend(timeout=T).state == "suspended"
    s.resume(env=claude_agent.env(place / "home", standin.url), wait=True, timeout=60)
    wait(s, lambda: "PING before the pause" in s.screen(), "the old prompt after the resume")
    s.send("PING after the pause")
    wait(s, lambda: at(s, "waiting_input", "prompt") and s.screen().count("PONG") == 2,
         "the second PONG")
    last = [b for b in standin.billed if not b.auxiliary][-1]
    sent = json.dumps(last.request["messages"])
    # The resumed agent sent the whole conversation: old prompt, old reply, new prompt.
    assert "PING before the pause" in sent and "PONG" in sent and "PING after the pause" in sent
    kinds = [e["kind"] for e in s.events()]
    assert "suspend" in kinds and "resume" in kinds


def test_restore_goes_on_from_the_snapshot_not_from_later(claude: agent_sessions.Session,
                                                         standin: StandIn, place: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    s = claude
    # The snapshot reads the transcript with this process' environment.
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(place / "home" / ".claude"))
    s.send("PING before the snapshot")
    wait(s, lambda: at(s, "waiting_input", "prompt", "PONG"), "PONG at the prompt")
    mgr = agent_sessions.SessionManager(place / "s")
    snap = mgr.snapshot(s.id, workspace=False)
    assert snap["conversation"]["agent_session_id"] == s.record()["agent_session_id"], snap
    s.send("PING after the snapshot")
    wait(s, lambda: at(s, "waiting_input", "prompt") and s.screen().count("PONG") == 2,
         "the second PONG")
    s.stop(timeout=T)

    # In the same (trusted) folder: a conversation of its own, from the snapshot's point.
    r = mgr.restore(snap["snapshot_id"], env=claude_agent.env(place / "home", standin.url))
    rec = r.record()
    assert rec["restored_from"]["resumed"] is True, rec
    assert rec["agent_session_id"] != s.record()["agent_session_id"], rec
    wait(r, lambda: "PING before the snapshot" in r.screen(), "the old prompt after the restore")
    wait(r, lambda: at(r, "waiting_input", "prompt"), "the restored prompt")
    assert "PING after the snapshot" not in r.screen(), fail_with(r, "a later exchange")
    r.send("PING on the restored one")
    wait(r, lambda: at(r, "waiting_input", "prompt") and r.screen().count("PONG") >= 2,
         "the restored PONG")
    last = [b for b in standin.billed if not b.auxiliary][-1]
    sent = json.dumps(last.request["messages"])
    # The restored agent sent the snapshot's conversation and its own prompt, nothing later.
    assert "PING before the snapshot" in sent and "PING on the restored one" in sent, sent
    assert "PING after the snapshot" not in sent, sent
    r.stop(timeout=T)


# -- first-run screens -------------------------------------------------------------------

def start_claude(place: Path, standin: StandIn, executables: dict[str, str],
                 monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> agent_sessions.Session:
    """Starts Claude Code with the config already in place (not through `run_agent`, which
    writes a trusted, onboarded one and waits for the prompt)."""
    monkeypatch.setenv("AGENT_SESSIONS_CLAUDE_BIN", executables["claude"])
    return agent_sessions.SessionManager(place / "s").start(
        "claude", cwd=place / "work", env=env, cols=120, rows=35)


def test_untrusted_folder_waits_for_trust(place: Path, standin: StandIn,
                                          executables: dict[str, str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = place / "home"
    claude_agent.write_config(home, place / "work", onboarded=True, trusted=False)
    s = start_claude(place, standin, executables, monkeypatch,
                     claude_agent.env(home, standin.url))
    wait(s, lambda: at(s, "waiting_input", "trust", "Yes, I trust this folder"),
         "the trust dialog", timeout=60)
    assert pending(s)["kind"] == "trust"
    s.send_keys("Enter")
    wait(s, lambda: at(s, "waiting_input", "prompt", "? for shortcuts"), "the prompt")
    s.send("PING")
    wait(s, lambda: at(s, "waiting_input", "prompt", "PONG"), "PONG at the prompt")


def test_login_menu_waits_for_login(place: Path, standin: StandIn,
                                    executables: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home = place / "home"
    claude_agent.write_config(home, place / "work")
    env = claude_agent.env(home, standin.url)
    del env["ANTHROPIC_AUTH_TOKEN"]
    s = start_claude(place, standin, executables, monkeypatch, env)
    # Without credentials Claude Code opens at its prompt with the footer "Not logged in ·
    # Run /login": every prompt fails until then, so the session waits for a login.
    wait(s, lambda: at(s, "waiting_input", "login", "Not logged in"), "the prompt", timeout=60)
    s.send("/login")
    wait(s, lambda: at(s, "waiting_input", "login", "Select login method"), "the login menu")
    p = pending(s)
    assert p["kind"] == "login" and any("Anthropic Console" in o for o in p["options"]), p
    s.send_keys("Esc")
    wait(s, lambda: at(s, "waiting_input", "login") and "Select login method" not in s.screen(),
         "the prompt (still not logged in) after Esc")
