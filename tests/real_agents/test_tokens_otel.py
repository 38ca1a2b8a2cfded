"""Tokens equal to what was billed: real sessions of the real CLIs against the stand-in API,
whose every request bills a distinct known usage. The session's host receives the agent's
own OpenTelemetry log export (one event per API request, title and routing requests
included), so the session's tokens are exactly the sum of what the stand-in billed for it,
and the record says they are exact. With the user's own OpenTelemetry settings in place
the host leaves the agent alone and the figures are the agent's records: a lower bound."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import agent_sessions
import agents
import time
from typing import Callable, Union
from standin import Billed, StandIn

# Each dialect's wire figures in the library's conventions (tokens_input is uncached input).
# Anthropic's input_tokens already excludes the cache; OpenAI Responses' and Gemini's
# prompt counts include the cached tokens, and neither wire format has a cache-write figure
# (the stand-in's billed cache_write never reaches those agents).


def expected(agent: str, billed: list[Billed]) -> dict[str, Any]:
    if agent == "claude":
        return {"tokens_input": sum(b.usage.input for b in billed),
                "tokens_output": sum(b.usage.output for b in billed),
                "tokens_cache_read": sum(b.usage.cache_read for b in billed),
                "tokens_cache_write": sum(b.usage.cache_write for b in billed)}
    # The Responses stand-in sends its `input` as input_tokens, cached part included; the
    # Gemini stand-in sends input + cache read as promptTokenCount (its `input` is the
    # uncached part). Either way the library reports the uncached part.
    uncached = (lambda b: b.usage.input - b.usage.cache_read) if agent == "codex" else (
        lambda b: b.usage.input)
    e = {"tokens_input": sum(uncached(b) for b in billed),
         "tokens_output": sum(b.usage.output for b in billed),
         "tokens_cache_read": sum(b.usage.cache_read for b in billed)}
    e["tokens_cache_write"] = 0 if agent == "codex" else None
    return e


def wait_until(pred: Callable[[], object], timeout: float = 30.0,
               what: Union[str, Callable[[], str]] = "condition") -> None:
    """Polls `pred` until true; on timeout fails with `what` (called then, if callable)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(0.05)


def figures(u: dict[str, Any]) -> dict[str, Any]:
    return {k: u.get(k) for k in ("tokens_input", "tokens_output", "tokens_cache_read",
                                  "tokens_cache_write")}


def start(name: str, place: Path, standin: StandIn, executables: dict[str, str],
          monkeypatch: Any, env: dict[str, str] | None = None,
          args: list[str] | None = None) -> agent_sessions.Session:
    run = agents.setups()[name](executables[name], place / "home", place / "work", standin.url)
    monkeypatch.setenv(run.bin_env, run.bin)
    # Whatever OpenTelemetry settings the machine has stay out of these sessions.
    for k in list(os.environ):
        if k.startswith(("OTEL_", "GEMINI_TELEMETRY_")) or k == "CLAUDE_CODE_ENABLE_TELEMETRY":
            monkeypatch.delenv(k)
    if name == "gemini":
        # Use the API key from the environment without asking (the auth dialog otherwise).
        p = place / "home" / ".gemini" / "settings.json"
        s = json.loads(p.read_text())
        s.setdefault("security", {}).setdefault("auth", {})["selectedType"] = "gemini-api-key"
        p.write_text(json.dumps(s))
    mgr = agent_sessions.SessionManager(place / "s")
    s = mgr.start(name, args=run.args if args is None else args, cwd=place / "work",
                  env=run.env | (env or {}), cols=120, rows=35)
    s.wait_for("waiting_input", timeout=90)
    return s


def submit(s: agent_sessions.Session, text: str, taken: Callable[[], bool]) -> None:
    """Types `text`, then Enter once it shows. A TUI that is still settling (a busy machine)
    may drop that Enter and keep the text in its input box: then Enter is pressed again,
    at most twice, each after 10 s without the request reaching the stand-in."""
    s.send(text, enter=False)
    # (It may be on screen from an earlier turn already: then this does not wait, and the
    # Enter below is pressed again unless the turn's own request comes.)
    wait_until(lambda: text in s.screen(), timeout=30,
               what=lambda: f"{text!r} in the input box; screen:\n{s.screen()}")
    for _ in range(3):
        s.send_keys("Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if taken():
                return
            time.sleep(0.05)


def ping(s: agent_sessions.Session, standin: StandIn) -> None:
    gemini = s.record()["agent_type"] == "gemini"
    if gemini:
        # Gemini CLI drops an Enter that comes while it still finishes a turn; its empty
        # input box shows when it takes input again.
        wait_until(lambda: "Type your message" in s.screen(), timeout=60,
                   what=lambda: f"Gemini's empty input box; screen:\n{s.screen()}")
    n = len(standin.billed)
    pongs = s.screen().count("PONG")
    # Taken once the turn's own request comes: an auxiliary one (Codex's title request
    # of the turn before) may arrive while the Enter is still unread.
    submit(s, "PING", lambda: any(not b.auxiliary for b in standin.billed[n:]))
    wait_until(lambda: any(b.decided == "ping" and b.completed for b in standin.billed[n:]),
               timeout=60,
               what=lambda: f"the stand-in to answer PING; billed {standin.billed[n:]}; "
                            f"screen:\n{s.screen()}")

    # The reply on screen. (The session's state is not what these tests are about.)
    wait_until(lambda: s.screen().count("PONG") > pongs, timeout=60,
               what=lambda: f"the reply; screen:\n{s.screen()}")


def two_turns_are_billed_exactly(name: str, place: Path, standin: StandIn,
                                 executables: dict[str, str], monkeypatch: Any,
                                 args: list[str] | None = None) -> list[Billed]:
    s = start(name, place, standin, executables, monkeypatch, args=args)
    ping(s, standin)
    ping(s, standin)
    # The exporter sends every second; whatever the agent asked for by now is billed.
    want = expected(name, standin.turns())
    last: dict[str, Any] = {}

    def counted() -> bool:
        nonlocal last, want
        want = expected(name, standin.turns())
        last = s.usage(0)
        return figures(last) == want

    wait_until(counted, timeout=30, what=lambda: f"usage to reach {want}; last {last}")
    assert last["exact"] is True, last
    assert last["source"].startswith(f"{name}-otel"), last
    s.stop(timeout=30)
    # After the end the host's final figures (its exit export included) are stored.
    final = s.usage(0)
    assert figures(final) == expected(name, standin.turns()), (final, standin.turns())
    assert final["exact"] is True, final
    # The receiver's secret is in neither the record nor the host's log.
    assert "Bearer" not in json.dumps(s.record())
    assert "Bearer" not in (place / "s" / s.id / "host.log").read_text()
    return standin.turns()


def test_claude_tokens_are_what_was_billed(place, standin, executables, monkeypatch):
    billed = two_turns_are_billed_exactly("claude", place, standin, executables, monkeypatch)
    assert sum(b.decided == "ping" for b in billed) == 2, billed  # (plus any title request)
    # Claude Code reports its own cost of each request.
    u = agent_sessions.SessionManager(place / "s").list()[0].usage(0)
    assert u["cost_usd"] and u["cost_usd"] > 0 and u["cost_estimated"] is False, u


def test_codex_tokens_include_the_title_request(place, standin, executables, monkeypatch):
    billed = two_turns_are_billed_exactly("codex", place, standin, executables, monkeypatch)
    # The title request runs on a thread of its own, which the rollout does not record.
    assert any(b.auxiliary for b in billed), billed


def test_gemini_tokens_include_the_routing_classifier(place, standin, executables,
                                                      monkeypatch):
    # Without -m the model router runs: one classifier request per prompt.
    billed = two_turns_are_billed_exactly("gemini", place, standin, executables, monkeypatch,
                                          args=[])
    assert sum(b.auxiliary for b in billed) == 2, billed


def test_the_users_own_otel_settings_make_a_lower_bound(place, standin, executables,
                                                        monkeypatch):
    s = start("claude", place, standin, executables, monkeypatch,
              env={"OTEL_SDK_DISABLED": "true"})
    ping(s, standin)
    # The transcript is found where the agent's environment says (its CLAUDE_CONFIG_DIR),
    # which only the host knows: it stores the figures at the turn's end (maybe before the
    # agent wrote the reply's usage) and again when the session ends.
    s.stop(timeout=30)
    want = expected("claude", standin.turns())
    last: dict[str, Any] = {}

    def stored() -> bool:
        nonlocal last
        last = s.usage(0)
        return figures(last) == want

    wait_until(stored, timeout=30,
               what=lambda: f"the host's final figures {want}; last {last}, billed {standin.turns()}")
    assert last["source"] is not None and last["source"].startswith("claude-transcript"), last
    assert last["exact"] is False, last
    assert figures(last) == want, (last, standin.turns())
    log = (place / "s" / s.id / "host.log").read_text()
    assert "left to the user (the environment sets OTEL_SDK_DISABLED)" in log, log


def interrupted_turn_is_a_lower_bound(name: str, place: Path, standin: StandIn,
                                      executables: dict[str, str], monkeypatch: Any) -> None:
    s = start(name, place, standin, executables, monkeypatch)
    submit(s, "HOLD", lambda: any(b.decided == "hold" for b in standin.billed))
    # Claude Code and Codex: "esc to interrupt"; Gemini CLI: "esc to cancel".
    busy = lambda: any(w in s.screen().lower()  # noqa: E731
                       for w in ("esc to interrupt", "esc to cancel"))
    wait_until(busy, timeout=30, what=lambda: f"the busy footer; screen:\n{s.screen()}")
    # Interrupted once it says so; a key that came too early is pressed again.
    for _ in range(3):
        s.interrupt()
        deadline = time.monotonic() + 10
        while busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not busy():
            break
    # Claude Code puts an interrupted prompt back in its input box.
    s.send_keys(*["BSpace"] * len("HOLD"))
    ping(s, standin)
    s.stop(timeout=30)
    # The agent never reports the request it cut off, though the stand-in billed it (as an
    # API bills what it processed); its records show the interrupt, so the host's final
    # figures say lower bound. They are what the agent did report.
    held = [b for b in standin.turns() if b.decided == "hold"]
    assert held and not any(b.completed for b in held), standin.turns()
    done = [b for b in standin.turns() if b.completed]
    last: dict[str, Any] = {}

    def marked() -> bool:
        nonlocal last
        last = s.usage(0)
        # Claude Code and Gemini CLI log the prompt, so the receiver sees it went
        # unanswered (prompt-without-request); Codex's rollout shows the aborted turn
        # (interrupted).
        return "+lower-bound:" in (last.get("source") or "")

    wait_until(marked, timeout=30, what=lambda: f"a lower bound; last {last}")
    assert last["exact"] is False, last
    assert figures(last) == expected(name, done), (last, standin.turns())


def test_claude_interrupted_turn_is_a_lower_bound(place, standin, executables, monkeypatch):
    interrupted_turn_is_a_lower_bound("claude", place, standin, executables, monkeypatch)


def test_codex_interrupted_turn_is_a_lower_bound(place, standin, executables, monkeypatch):
    interrupted_turn_is_a_lower_bound("codex", place, standin, executables, monkeypatch)


def test_gemini_interrupted_turn_is_a_lower_bound(place, standin, executables, monkeypatch):
    interrupted_turn_is_a_lower_bound("gemini", place, standin, executables, monkeypatch)
