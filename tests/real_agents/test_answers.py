"""Answering dialogs of the real Claude Code and Codex beyond a plain yes or no: a question's
option by label, "yes, and don't ask again", and a deny with what to do instead. Each answer
is checked on screen before its key is pressed."""

from __future__ import annotations

from pathlib import Path

import pytest

import agent_sessions
from conftest import wait_until


def wait_pending(s: agent_sessions.Session, kind: str) -> dict:
    """The session's pending request of `kind`, once its dialog's options are on screen (a
    hook reports the dialog a moment before it is drawn)."""
    return wait_until(lambda: (p := s.refresh().pending()) and p["kind"] == kind
                      and p["options"] and p,
                      timeout=60, what=f"a {kind} dialog")  # type: ignore[return-value]


def test_claude_question_answered_by_label(run_agent, standin) -> None:
    s = run_agent("claude")
    s.send("ASK")
    p = wait_pending(s, "question")
    assert p["tool"] == "AskUserQuestion" and p["options"][:2] == ["Red", "Blue"]
    with pytest.raises(agent_sessions.InvalidArgumentError, match="no option"):
        s.answer("Green")
    s.answer("blue")
    wait_until(lambda: "ANSWERED" in s.screen(), what="the answered turn's reply")
    s.wait_for("waiting_input", timeout=30)
    # The stand-in got the chosen label back as the tool's result.
    assert any("Blue" in r for r in standin.tool_results_seen)


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_approve_always_then_the_same_command_runs_unasked(run_agent, place: Path,
                                                           agent: str) -> None:
    s = run_agent(agent)
    work = place / "work"
    s.send("RUN: touch always.txt")
    wait_pending(s, "permission")
    s.approve(always=True, timeout=20)
    wait_until(lambda: (work / "always.txt").exists(), what="the approved command")
    s.wait_for("waiting_input", timeout=30)
    wait_until(lambda: s.refresh().pending() is None, what="no dialog left")
    asked = [e for e in s.events(limit=10000) if e["kind"] == "pending"]
    (work / "always.txt").unlink()
    s.send("RUN: touch always.txt")
    wait_until(lambda: (work / "always.txt").exists(), what="the command to run without asking")
    s.wait_for("waiting_input", timeout=30)
    # No new dialog: the agent remembered the "don't ask again" answer.
    assert [e for e in s.events(limit=10000) if e["kind"] == "pending"] == asked


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_deny_with_a_message_sends_what_to_do_instead(run_agent, place: Path, standin,
                                                      agent: str) -> None:
    s = run_agent(agent)
    s.send("RUN: touch nope.txt")
    wait_pending(s, "permission")
    s.deny(message="PING instead", timeout=30)
    wait_until(lambda: "PONG" in s.screen(), timeout=60, what="the reply to the message")
    assert not (place / "work" / "nope.txt").exists()
    inputs = [e["data"].get("text") for e in s.events(limit=10000) if e["kind"] == "input"]
    assert inputs[-1] == "PING instead"


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_a_dialog_answered_at_the_terminal_reads_running_again(run_agent, place: Path,
                                                               agent: str) -> None:
    """A person attached to the session answers the dialog with its own shortcut key (no
    Enter, so the session sees no submitted input): the agent's PostToolUse hook says it
    works on, before its turn ends."""
    s = run_agent(agent)
    s.send("RUN: touch by-hand.txt")
    wait_pending(s, "permission")
    before = len(s.events(limit=10000))
    s.send_bytes(b"1" if agent == "claude" else b"y")
    wait_until(lambda: (place / "work" / "by-hand.txt").exists(), what="the command")

    def state_moves() -> list[tuple[str, str]]:
        return [(e["data"]["to"], e["source"]) for e in s.events(limit=10000)[before:]
                if e["kind"] == "state"]

    # The turn's end: running (the tool ran), then back at the prompt.
    wait_until(lambda: len(state_moves()) >= 2 and state_moves()[-1][0] == "waiting_input",
               what="the turn to go on and end")
    moves = state_moves()
    assert moves[0][0] == "running" and moves[0][1] in ("agent_hook", "agent_status"), moves
    assert moves[-1][0] == "waiting_input", moves
