"""Shared fixtures: a private sessions home per test, helpers to run the installed tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import agent_sessions

#: The interpreter's scripts folder, where pip put `agent-sessions` and the hook scripts.
BIN = Path(sys.executable).parent


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh sessions home, also the default one ($AGENT_SESSIONS_HOME). Short path under
    /tmp so session sockets fit in sun_path."""
    d = Path(tempfile.mkdtemp(prefix="asp-"))
    monkeypatch.setenv("AGENT_SESSIONS_HOME", str(d))
    monkeypatch.delenv("AGENT_SESSIONS_HOOK_LOG", raising=False)
    for var in ("AGENT_SESSIONS_RESUME_MINUTES", "AGENT_SESSIONS_MAX_ERRORS",
                "AGENT_SESSIONS_RESUMABLE_PHASES"):
        monkeypatch.delenv(var, raising=False)
    yield d
    # Stop anything a failed test left running, then remove the folder.
    try:
        mgr = agent_sessions.SessionManager(d)
        for s in mgr.list():
            if s.state in agent_sessions.LIVE_STATES:
                try:
                    s.stop(timeout=2, force=True)
                except agent_sessions.AgentSessionsError:
                    pass
    except agent_sessions.AgentSessionsError:
        pass
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def mgr(home: Path) -> agent_sessions.SessionManager:
    return agent_sessions.SessionManager(home)


def wait_until(pred: Callable[[], object], timeout: float = 20.0, interval: float = 0.02,
               what: str = "condition") -> object:
    """Polls `pred` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_module(module: str, stdin: bytes, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Runs `python -m module` as a real process with `stdin`."""
    return subprocess.run([sys.executable, "-m", module], input=stdin, capture_output=True,
                          env=env if env is not None else os.environ.copy(), timeout=timeout)


def script(name: str) -> Path:
    """An installed console script; skips when the package is not installed (e.g. when the
    tests run against a source tree)."""
    p = BIN / name
    if not p.exists():
        pytest.skip(f"{name} is not installed beside {sys.executable}")
    return p
