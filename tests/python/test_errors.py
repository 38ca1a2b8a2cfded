"""The exception each failure raises, over real sessions: the finer classes (TaskNotFoundError,
SessionActiveError, NoProcessError, NotResumableError) are raised in their cases and are still
caught as the older, broader ones; bad seconds anywhere are InvalidArgumentError naming the
allowed range, never a panic."""

from __future__ import annotations

import datetime
import math
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

import agent_sessions
from agent_sessions import AgentSession, SessionManager

PY = sys.executable
BAD_SECONDS = [1e20, math.nan, math.inf, -math.inf, -1.0, sys.float_info.max]


def start_cat(mgr: SessionManager) -> agent_sessions.Session:
    return mgr.start("custom", ["cat"], idle_after=0.3)


def test_unknown_task_is_task_not_found(mgr: SessionManager) -> None:
    s = mgr.start("custom", [PY, "-c", "print(1)"], task_id="T-known")
    s.wait_for("stopped", timeout=20)
    assert mgr.task("T-known")["session_count"] == 1
    for call in (lambda: mgr.task("T-unknown"), lambda: mgr.list(task_id="T-unknown")):
        with pytest.raises(agent_sessions.TaskNotFoundError) as e:
            call()
        assert isinstance(e.value, agent_sessions.SessionNotFoundError)
        assert isinstance(e.value, LookupError)
        assert e.value.kind == "TaskNotFound"
        assert "T-unknown" in str(e.value) and "agent-sessions tasks" in str(e.value)
    # The old class still catches it.
    with pytest.raises(agent_sessions.SessionNotFoundError):
        mgr.task("T-unknown")


def test_removing_a_live_session_is_session_active(mgr: SessionManager) -> None:
    s = start_cat(mgr)
    with pytest.raises(agent_sessions.SessionActiveError) as e:
        mgr.remove(s.id)
    assert isinstance(e.value, agent_sessions.SessionNotRunningError)
    assert e.value.kind == "SessionActive"
    assert "stop it first" in str(e.value)
    assert mgr.get(s.id).state in agent_sessions.LIVE_STATES  # nothing was removed
    s.stop(timeout=5)
    mgr.remove(s.id)
    with pytest.raises(agent_sessions.SessionNotFoundError):
        mgr.get(s.id)


def test_a_lifecycle_record_has_no_process(mgr: SessionManager, home: Path) -> None:
    aid = AgentSession(home).create_session(agent_name="recorder", purpose="no process")
    rec = mgr.get(aid)
    assert rec.record()["kind"] == "record"
    calls: list[Callable[[], Any]] = [
        rec.pause,
        rec.continue_,
        lambda: rec.send("hello"),
        lambda: rec.send_keys("Enter"),
        rec.interrupt,
        lambda: rec.stop(timeout=1),
        rec.suspend,
    ]
    for call in calls:
        with pytest.raises(agent_sessions.NoProcessError) as e:
            call()
        assert isinstance(e.value, agent_sessions.SessionNotRunningError)
        assert e.value.kind == "NoProcess"
        assert "lifecycle record" in str(e.value)
    # The old class still catches it.
    with pytest.raises(agent_sessions.SessionNotRunningError):
        rec.pause()


def test_resume_of_a_live_or_custom_session_is_not_resumable(mgr: SessionManager) -> None:
    s = start_cat(mgr)
    with pytest.raises(agent_sessions.NotResumableError) as live:
        s.resume()
    assert isinstance(live.value, agent_sessions.SessionNotRunningError)
    assert live.value.kind == "NotResumable"
    # `custom` has no resume command: suspending would lose the conversation, so it is
    # refused and the session keeps running.
    with pytest.raises(agent_sessions.NotResumableError) as suspend:
        s.suspend(timeout=5)
    assert "no resume command" in str(suspend.value)
    assert s.refresh().state in ("running", "waiting_input")
    s.stop(timeout=5)
    with pytest.raises(agent_sessions.NotResumableError) as ended:
        s.resume()
    assert "cannot be resumed" in str(ended.value)
    with pytest.raises(agent_sessions.SessionNotRunningError):
        s.resume(wait=True, timeout=5)


def test_bad_seconds_are_invalid_arguments_not_panics(mgr: SessionManager, home: Path) -> None:
    s = start_cat(mgr)
    lifecycle = agent_sessions._native.Lifecycle(home)
    calls: list[tuple[str, Callable[[float], Any]]] = [
        ("timeout", lambda v: s.wait_for("stopped", v)),
        ("timeout", lambda v: s.wait_for(["stopped", "failed"], v)),
        ("timeout", lambda v: s.stop(timeout=v)),
        ("timeout", lambda v: s.suspend(timeout=v)),
        ("timeout", lambda v: s.resume(wait=True, timeout=v)),
        ("poll_interval", lambda v: s.stream(poll_interval=v)),
        ("timeout", lambda v: s.follow_events(timeout=v)),
        ("poll_interval", lambda v: s.follow_events(poll_interval=v)),
        ("max_age", lambda v: s.usage(max_age=v)),
        ("max_age", lambda v: s.telemetry(max_age=v)),
        ("idle_after", lambda v: mgr.start("custom", ["cat"], idle_after=v)),
        ("older_than", lambda v: mgr.cleanup(older_than=v)),
        ("max_idle_seconds", lambda v: lifecycle.should_resume(s.id, max_idle_seconds=v)),
    ]
    for what, call in calls:
        for v in BAD_SECONDS:
            with pytest.raises(agent_sessions.InvalidArgumentError) as e:
                call(v)
            assert isinstance(e.value, ValueError)
            msg = str(e.value)
            assert what in msg and "from 0 to 1000000000" in msg, (what, v, msg)
    # The session was never touched by any of them.
    assert s.refresh().state in ("running", "waiting_input")
    assert len(mgr.list()) == 1
    s.stop(timeout=5)


def test_bad_ages_are_invalid_arguments(mgr: SessionManager, home: Path) -> None:
    for age in ["1e30s", "-1d", "soon", "5y", "nan"]:
        with pytest.raises(agent_sessions.InvalidArgumentError) as e:
            mgr.cleanup(older_than=age)
        assert "invalid duration" in str(e.value)
    with pytest.raises(agent_sessions.InvalidArgumentError):
        mgr.cleanup(older_than=datetime.timedelta(days=999_999_999))
    with pytest.raises(TypeError):
        mgr.cleanup(older_than=[1])  # type: ignore[arg-type]
    assert mgr.cleanup(older_than=datetime.timedelta(days=1))["sessions"] == []
    # The reference API keeps its conventions: a bad resume timeout is logged and answers
    # False, and raises in strict mode.
    aid = AgentSession(home).create_session(agent_name="x")
    assert AgentSession(home, resume_timeout_minutes=1e300).should_resume(aid) is False
    with pytest.raises(agent_sessions.InvalidArgumentError):
        AgentSession(home, resume_timeout_minutes=1e300, strict=True).should_resume(aid)


def test_bad_integers_are_invalid_arguments(mgr: SessionManager) -> None:
    s = mgr.start("custom", [PY, "-c", "print(1)"])
    s.wait_for("stopped", timeout=20)
    bad: list[Callable[[], Any]] = [
        lambda: s.output(-1),
        lambda: s.output(0, max_bytes=-5),
        lambda: s.stream(offset=-1),
        lambda: s.events(since=-1),
        lambda: s.events(limit=0),
        lambda: s.history(offset=-2),
        lambda: s.iter_history(page_size=0),
        lambda: s.resize(0, 10),
        lambda: s.resize(70000, 10),
        lambda: mgr.start("custom", ["cat"], cols=-3),
        lambda: mgr.start("custom", ["cat"], max_log_bytes=-1),
        lambda: mgr.start("custom", ["cat"], max_log_bytes=100),  # below the core's floor
        lambda: s.send_keys(),
    ]
    for call in bad:
        with pytest.raises(agent_sessions.InvalidArgumentError):
            call()
    assert len(mgr.list()) == 1  # nothing was started


def test_a_core_panic_is_an_ordinary_exception(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A panic in the core must never reach Python as pyo3's PanicException (a BaseException
    that escapes every `except Exception`): it is contained as InternalError. A resume
    timeout too large for a duration is one way to reach the core with a value it once
    panicked on; whether the core refuses it or ignores it, the caller gets an answer."""
    import json
    import subprocess

    from conftest import script

    monkeypatch.setenv("AGENT_SESSIONS_RESUME_MINUTES", "1e300")
    context = json.dumps({"agent_name": "a", "task_id": "t", "task_description": "d"}).encode()
    try:
        out = agent_sessions.run_hook("pre_delegate", context, home)
    except agent_sessions.InternalError as e:
        assert isinstance(e, RuntimeError) and isinstance(e, agent_sessions.AgentSessionsError)
        assert "please report this as a bug" in str(e)
    else:
        assert json.loads(out)["should_resume"] is False
    # The installed hook still answers and exits 0, as hooks must.
    r = subprocess.run([str(script("agent-sessions-pre-delegate"))], input=context,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "reason" in json.loads(r.stdout)
    # Huge negative ages of the reference cleanup.
    for hours in (-1e300, 1e300):
        try:
            assert agent_sessions._native.Lifecycle(home).cleanup_old_sessions(hours) >= 0
        except agent_sessions.AgentSessionsError as e:
            assert isinstance(e, (agent_sessions.InvalidArgumentError, agent_sessions.InternalError))
