"""The real opencode 1.18.33 as a session against the loopback stand-in: what agent-sessions
reports (state, reason, pending dialog, usage) through a prompt, a tool call approved or
denied, a question, an interrupt, a reply with long silences, and suspend/resume.

A product gap a test documents raises `KnownGap`, and only that exception makes the test an
expected failure (`xfail(raises=KnownGap, strict=True)`): any other failed check fails the
test, and a fixed gap makes it pass unexpectedly, which fails too (then drop the marker).
The helpers are the same as in test_gemini.py.
"""

from __future__ import annotations

import re

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import agent_sessions
import agents
from agents import opencode as opencode_setup
from conftest import wait_until
from test_gemini import (KnownGap, Sampler, describe, events_after, gap, last_seq, moves,
                         record, wait_reason, wait_screen, waiting)

AGENT = "opencode"
#: opencode's home screen once it takes input: the input's placeholder and, under it, the
#: agent and model it will use (until those are loaded an Enter is ignored).
READY = ("Ask anything", "Build · standin-model")


def ready(screen: str) -> bool:
    return all(m in screen for m in READY)


#: Intermittent (about one turn in three on a loaded 2-core machine): the session stays
#: `running` after opencode's turn ended. Our plugin relays each bus event by spawning a
#: process, so the relays race: `session.status: idle` and a `busy` sent a millisecond
#: earlier arrive as idle then busy (events "opencode session.status: idle", then "...: busy"
#: 1-2 ms later), and nothing moves the session back. Raised by `wait_prompt`.
LOST_IDLE = ("the session stays running after opencode's turn ended: its session.status "
             "busy/idle relays arrive out of order (idle, then busy 1-2 ms later); "
             "intermittent")
lost_idle = pytest.mark.xfail(raises=KnownGap, strict=False, reason=LOST_IDLE)


def wait_prompt(s: agent_sessions.Session, timeout: float = 60) -> None:
    """waiting_input (prompt); a session still running 10 s after opencode's own screen went
    idle (no busy marker under its input) is the LOST_IDLE gap."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while not waiting(s, "prompt"):
        now = time.monotonic()
        if record(s)["state"] == "running" and "esc interrupt" not in s.screen():
            idle_since = idle_since or now
            if now - idle_since > 10:
                tail = s.events(limit=100000)[-4:]
                raise KnownGap(f"{LOST_IDLE}\n{describe(tail)}\nscreen:\n{s.screen()}")
        else:
            idle_since = None
        if now > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for waiting_input "
                                 f"(prompt); now {record(s)['state']}, screen:\n{s.screen()}")
        time.sleep(0.05)


@pytest.fixture
def agent_env(place: Path, standin, executables) -> dict[str, str]:
    """The environment the session's agent runs with (resume needs it again)."""
    return agents.setups()[AGENT](executables[AGENT], place / "home", place / "work",
                                  standin.url).env


def usage(s: agent_sessions.Session, place: Path) -> dict[str, Any]:
    """`usage()` read as a user's reader reads it, in the agent's own environment: opencode's
    database is under the agent's private XDG_DATA_HOME, which a reader finds through its own."""
    key = "XDG_DATA_HOME"
    old = os.environ.get(key)
    os.environ[key] = str(place / "home" / ".local/share")
    try:
        return s.usage()
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


def only_npm_lookups(standin) -> None:
    """opencode asked the stand-in nothing but its chat API and the npm lookups sent there."""
    other = [u for u in standin.unhandled if opencode_setup.NPM_REGISTRY_PATH not in u]
    assert other == [], other


# Not strict: the wrong wait shows only when opencode takes over a second from the Enter to
# its busy marker on the first prompt of a session, which depends on the machine's load (seen
# in about half the runs on a loaded 2-core machine, never on an idle one).
@pytest.mark.xfail(raises=KnownGap, strict=False,
                   reason="first prompt of a session: opencode's home screen (input cleared, "
                          "no busy marker yet) or its new session view without the busy marker "
                          "stays a second or more after the Enter, and the screen rule "
                          "'prompt on screen for 1.0s' reads waiting_input mid-turn "
                          "(running -> waiting_input -> running -> waiting_input); "
                          "also " + LOST_IDLE)
def test_prompt_running_then_waiting_with_the_reply(run_agent, place: Path, standin) -> None:
    mgr = agent_sessions.SessionManager(place / "s")
    start = Sampler(mgr.list)
    s = run_agent(AGENT)
    startup = start.stop()
    # The session is never reported waiting while opencode is still drawing its start.
    assert any(st != "waiting_input" for st, _, _ in startup), "no sample before ready"
    early = [scr for st, _, scr in startup if st == "waiting_input" and not ready(scr)]
    assert not early, f"waiting_input before opencode was ready:\n{early[0]}"
    assert waiting(s, "prompt")

    # Text sent the moment run_agent returns is taken.
    seq = last_seq(s)
    turn = Sampler(lambda: [s])
    s.send("PING")
    wait_screen(s, "PONG")
    wait_prompt(s)
    samples = turn.after_submit()
    ev = events_after(s, seq)
    assert s.pending() is None
    # The turn and its title request.
    assert sorted(b.decided for b in standin.billed) == ["auxiliary", "ping"], standin.billed
    only_npm_lookups(standin)
    assert samples, "no sample of the turn"
    # Waiting is early when the screen still shows the turn busy, or shows neither the reply
    # nor the finished turn's footer (opencode writes "▣  Build · <model> · 5.6s" once the
    # message is done, and sometimes draws the reply's text a frame later).
    def turn_over(scr: str) -> bool:
        return "esc interrupt" not in scr and ("PONG" in scr or re.search(r"▣ +Build · .* · [0-9.]+s", scr) is not None)

    early = [scr for st, _, scr in samples if st == "waiting_input" and not turn_over(scr)]
    gap(not early, "waiting_input before the reply:\n" + (early[0] if early else "") + describe(ev))
    gap(moves(ev) == ["running", "waiting_input"], describe(ev))


@lost_idle
def test_tool_call_approved_runs_the_command(run_agent, place: Path, standin) -> None:
    s = run_agent(AGENT)
    s.send("RUN: touch approved.txt")
    wait_reason(s, "permission")
    p = s.pending()
    assert p and p["kind"] == "permission", p
    assert p["tool"] == "bash", p
    assert (p.get("input") or {}).get("command") == "touch approved.txt", p
    assert not (place / "work" / "approved.txt").exists()
    s.approve(timeout=30)
    wait_until(lambda: (place / "work" / "approved.txt").exists(), what="the approved command")
    wait_screen(s, "TOOL-DONE")
    wait_prompt(s)
    assert s.pending() is None
    assert standin.tool_results_seen, "the command's result never reached the stand-in"


# Not strict: 3 runs of 4 in a row showed it, then one passed (same build).
@pytest.mark.xfail(raises=KnownGap, strict=False,
                   reason="deny() returns and the session reads waiting_input (prompt) with no "
                          "pending request, but opencode's permission dialog stays on screen, "
                          "unanswered (no key was sent; the plugin's reject did not reach it); "
                          "intermittent; also " + LOST_IDLE)
def test_tool_call_denied_does_not_run(run_agent, place: Path, standin) -> None:
    s = run_agent(AGENT)
    s.send("RUN: touch denied.txt")
    wait_reason(s, "permission")
    assert s.pending()["tool"] == "bash"
    s.deny(timeout=30)
    try:
        wait_until(lambda: "Permission required" not in s.screen(), timeout=15,
                   what="opencode's dialog to close")
    except AssertionError as e:
        raise KnownGap(f"{e}; record {record(s)['state']} ({record(s).get('state_reason')}), "
                       f"pending {s.pending()}\n{describe(s.events(limit=100000))}") from e
    wait_prompt(s)
    wait_until(lambda: s.refresh().pending() is None, what="the dialog to be gone")
    assert not (place / "work" / "denied.txt").exists()
    # opencode ends the turn on a rejection: nothing went back to the stand-in.
    assert standin.tool_results_seen == []
    assert "TOOL-DONE" not in s.screen()


@pytest.mark.xfail(raises=KnownGap, strict=True,
                   reason="pending() of opencode's question has no options: its dialog numbers "
                          "them ('1. Red') with no selection marker on screen, so the screen "
                          "reader finds none, and the question.asked hook's options are only in "
                          "its input")
def test_question_answered_with_keys(run_agent, standin) -> None:
    s = run_agent(AGENT)
    s.send("ASK")
    wait_screen(s, "Which colour should it be?")
    wait_screen(s, "esc dismiss")
    wait_until(lambda: record(s)["state"] == "waiting_input", what="waiting_input")
    asked = record(s)
    p = s.pending() or {}
    # The dialog's selection is only a colour: Red is first, so Down then Enter is Blue.
    s.send_keys("Down")
    s.send_keys("Enter")
    wait_screen(s, "ANSWERED")
    wait_prompt(s)
    assert any('"Which colour should it be?"="Blue"' in r for r in standin.tool_results_seen), \
        standin.tool_results_seen
    assert asked.get("state_reason") == "question", asked
    assert p.get("kind") == "question" and p.get("tool") == "question", p
    gap((p.get("options") or [])[:2] == ["Red", "Blue"], f"pending {p}")


@lost_idle
def test_interrupt_mid_turn_returns_to_the_prompt(run_agent, standin) -> None:
    s = run_agent(AGENT)
    s.send("HOLD")
    wait_screen(s, "Holding on.")
    assert record(s)["state"] == "running"
    seq = last_seq(s)
    s.interrupt()
    wait_screen(s, "interrupted")
    wait_prompt(s)
    ev = events_after(s, seq)
    inputs = [e for e in ev if e["kind"] == "input"]
    # opencode's first Esc only arms ("esc again to interrupt"): two presses.
    assert inputs and inputs[0]["data"].get("interrupt") is True, describe(ev)
    assert inputs[0]["data"].get("presses") == 2, describe(ev)
    assert moves(ev)[-1] == "waiting_input", describe(ev)
    held = [b for b in standin.billed if b.decided == "hold"]
    assert len(held) == 1 and not held[0].completed


@lost_idle
def test_slow_reply_is_never_read_as_waiting(run_agent, standin) -> None:
    s = run_agent(AGENT)
    s.send("SLOW")
    wait_screen(s, "Slow reply part one.")
    # From the first part on (before it, test_prompt_running_then_waiting_with_the_reply's
    # gap may show): through two silences of 3 s the session stays running.
    seq = last_seq(s)
    turn = Sampler(lambda: [s])
    wait_screen(s, "SLOW-DONE", timeout=60)
    wait_prompt(s)
    samples = turn.stop()
    ev = events_after(s, seq)
    assert samples, "no sample of the turn"
    early = [scr for st, _, scr in samples if st == "waiting_input" and "SLOW-DONE" not in scr]
    assert not early, f"waiting_input before the reply ended:\n{early[0]}"
    assert "waiting_input" not in moves(ev)[:-1], describe(ev)
    assert [b.decided for b in standin.billed if not b.auxiliary] == ["slow"]


@pytest.mark.xfail(raises=KnownGap, strict=True,
                   reason="opencode's title request (small_model, no tools) is billed but in no "
                          "record: usage() counts only the turns (opencode's database keeps no "
                          "usage for it)")
def test_usage_matches_what_was_billed(run_agent, standin, place: Path) -> None:
    s = run_agent(AGENT)
    s.send("PING")
    wait_screen(s, "PONG")
    wait_prompt(s)
    [title] = [b for b in standin.billed if b.auxiliary]
    [main] = [b for b in standin.billed if not b.auxiliary]
    price = opencode_setup.COST

    def cost(b) -> float:
        return (b.usage.input * price["input"] + b.usage.output * price["output"]
                + b.usage.cache_read * price["cache_read"]) / 1e6

    def check(u: dict[str, Any]) -> None:
        # What is exact today: the turn, from opencode's database, with the cost opencode
        # computed from the price in its config.
        assert u["source"] == "opencode-db", u
        assert u["model"] == "standin-model", u
        assert u["tokens_input"] in (main.usage.input, main.usage.input + title.usage.input), u
        assert u["tokens_cache_read"] in (main.usage.cache_read,
                                          main.usage.cache_read + title.usage.cache_read), u
        # The chat API has no cache-write figure.
        assert not u["tokens_cache_write"], u
        assert u["cost_estimated"] is False, u
        assert u["cost_usd"] in (pytest.approx(cost(main)),
                                 pytest.approx(cost(main) + cost(title))), u

    wait_until(lambda: usage(s, place)["tokens_output"], what="usage while live")
    live = usage(s, place)
    check(live)
    s.stop(timeout=30)
    wait_until(lambda: s.usage()["tokens_output"], what="the final figures")
    final = s.usage()
    check(final)
    for u in (live, final):
        gap(u["tokens_input"] == main.usage.input + title.usage.input,
            f"input {u['tokens_input']}: turn {main.usage.input} + title {title.usage.input}")
        gap(u["tokens_output"] == main.usage.output + title.usage.output,
            f"output {u['tokens_output']}: turn {main.usage.output} + title "
            f"{title.usage.output}")
        gap(u["cost_usd"] == pytest.approx(cost(main) + cost(title)),
            f"cost {u['cost_usd']}: turn {cost(main)} + title {cost(title)}")


@lost_idle
def test_suspend_and_resume_keep_the_conversation(run_agent, standin, agent_env) -> None:
    s = run_agent(AGENT)
    s.send("PING")
    wait_screen(s, "PONG")
    wait_prompt(s)
    s.suspend(timeout=30)
    r = record(s)
    assert r["state"] == "suspended" and r["resumable"] is True, r
    sid = r["agent_session_id"]
    assert sid and sid.startswith("ses_"), r
    s.resume(env=agent_env, wait=True, timeout=60)
    wait_prompt(s)
    wait_screen(s, "PONG")  # the earlier exchange is back on screen
    s.send("PING")
    wait_until(lambda: s.screen().count("PONG") >= 2, what="the second reply")
    wait_prompt(s)
    # The resumed turn carries the first exchange to the API.
    chat = next(d for d in standin.dialects if d.api == "openai-chat")
    _, body = [(p, b) for p, b in chat.requests if b.get("tools")][-1]
    said = [json.dumps(m.get("content")) for m in body["messages"]]
    assert sum("PING" in c for c in said) == 2 and any("PONG" in c for c in said), said
