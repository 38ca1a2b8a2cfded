"""Fixtures for the real-agent tests: the installed CLIs, a stand-in API per test, a private
sessions home and agent config home, and `run_agent` to start one as a real session."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import agent_sessions  # noqa: E402
import agents  # noqa: E402
from standin import StandIn  # noqa: E402


@pytest.fixture(scope="session")
def executables() -> dict[str, str]:
    return agents.installed()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    s = StandIn(silence=float(os.environ.get("STANDIN_SILENCE", "3")))
    yield s
    s.close()


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short folder under /tmp holding the sessions home (sockets need short paths), the
    agent's private home and its working folder."""
    d = Path(tempfile.mkdtemp(prefix="asr-"))
    for sub in ("s", "home", "work"):
        (d / sub).mkdir()
    monkeypatch.setenv("AGENT_SESSIONS_HOME", str(d / "s"))
    yield d
    try:
        for s in agent_sessions.SessionManager(d / "s").list():
            if s.state in agent_sessions.LIVE_STATES:
                try:
                    s.stop(timeout=5, force=True)
                except agent_sessions.AgentSessionsError:
                    pass
    except agent_sessions.AgentSessionsError:
        pass
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def run_agent(place: Path, standin: StandIn, executables: dict[str, str],
              monkeypatch: pytest.MonkeyPatch) -> Callable[..., agent_sessions.Session]:
    """Starts `name` as a real session against the stand-in and returns it once it is ready."""

    def start(name: str, extra_args: list[str] | None = None,
              ready_timeout: float = 60, **start_kw: object) -> agent_sessions.Session:
        run = agents.setups()[name](executables[name], place / "home", place / "work", standin.url)
        monkeypatch.setenv(run.bin_env, run.bin)
        mgr = agent_sessions.SessionManager(place / "s")
        s = mgr.start(name, args=run.args + (extra_args or []), cwd=place / "work",
                      env=run.env, cols=120, rows=35, **start_kw)  # type: ignore[arg-type]
        s.wait_for("waiting_input", timeout=ready_timeout)
        return s

    return start


def wait_until(pred: Callable[[], object], timeout: float = 30.0, interval: float = 0.05,
               what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
