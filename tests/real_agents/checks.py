"""What the real-agent tests read from a session and how they wait on it: its state, its
events and a failure message showing the screen and every event (shared by the per-agent
test files)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import agent_sessions
from conftest import wait_until
from standin import Billed, StandIn

# Deadlines are generous: CI has two shared cores. Nothing here sleeps; every wait polls.
T = 30.0


def state_of(s: agent_sessions.Session) -> tuple[str, str | None]:
    r = s.record()
    return r["state"], r.get("state_reason")


def at(s: agent_sessions.Session, state: str, reason: str | None, text: str = "") -> bool:
    """The session reads `state`/`reason` and, if given, `text` is on its screen."""
    return state_of(s) == (state, reason) and (not text or text in s.screen())


def last_seq(s: agent_sessions.Session) -> int:
    evs = s.events(limit=10000)
    return evs[-1]["seq"] if evs else 0


def state_events(s: agent_sessions.Session, since: int) -> list[Any]:
    return [e for e in s.events(since=since) if e["kind"] == "state"]


def pending(s: agent_sessions.Session) -> dict[str, Any]:
    p = s.pending()
    assert p is not None, fail_with(s, "no pending dialog")
    return p


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def billed(standin: StandIn, decided: str) -> list[Billed]:
    return [b for b in standin.billed if b.decided == decided]


def fail_with(s: agent_sessions.Session, what: str) -> str:
    """An assertion message with what the session shows and recorded."""
    evs = "\n".join(f"  {e['seq']} {e['at']} {e['source']} {e['kind']} {json.dumps(e['data'])}"
                    for e in s.events())
    return f"{what}\nrecord: {state_of(s)}\nscreen:\n{s.screen()}\nevents:\n{evs}"


def wait(s: agent_sessions.Session, pred: Any, what: str, timeout: float = T) -> None:
    try:
        wait_until(pred, timeout=timeout, interval=0.1, what=what)
    except AssertionError as e:
        raise AssertionError(fail_with(s, str(e))) from None
