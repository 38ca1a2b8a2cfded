"""Snapshots from Python: ``snapshot`` keeps the same files the CLI's does (one core),
``restore`` unpacks the workspace into a new folder and starts the agent there, linked to
its origin; retention and bad input behave as documented."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import agent_sessions
from agent_sessions import SessionManager

from conftest import wait_until

AGENT = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "main.py").write_text("print('hi')\n")
    (ws / ".gitignore").write_text("cache/\n")
    (ws / "cache").mkdir()
    (ws / "cache" / "blob").write_bytes(b"\0" * 1000)
    return ws


def test_snapshot_and_restore_round_trip(mgr: SessionManager, workspace: Path,
                                         tmp_path: Path) -> None:
    s = mgr.start("custom", args=AGENT, cwd=workspace, name="orig")
    wait_until(lambda: "ready" in s.screen())
    snap = mgr.snapshot(s.id, name="py-one")
    assert snap["session_id"] == s.id
    assert snap["workspace"]["files"] == 2  # .gitignore and src/main.py, not cache/
    assert mgr.snapshot_info("py-one")["snapshot_id"] == snap["snapshot_id"]
    assert [x["snapshot_id"] for x in mgr.snapshots(s.id)] == [snap["snapshot_id"]]

    target = tmp_path / "back"
    r = mgr.restore("py-one", cwd=target)
    rec = r.record()
    assert rec["restored_from"]["snapshot_id"] == snap["snapshot_id"]
    assert rec["restored_from"]["resumed"] is False
    assert "no resume command" in rec["restored_from"]["note"]
    assert rec["name"] == "orig"
    assert (target / "src" / "main.py").read_text() == "print('hi')\n"
    assert not (target / "cache").exists()
    wait_until(lambda: "ready" in r.screen())
    events = [e["kind"] for e in r.events()]
    assert "restored" in events
    r.stop(timeout=10, force=True)
    s.stop(timeout=10, force=True)

    assert mgr.remove_snapshot("py-one")["snapshot_id"] == snap["snapshot_id"]
    assert mgr.snapshots() == []


def test_retention_and_bad_input(mgr: SessionManager, workspace: Path) -> None:
    s = mgr.start("custom", args=AGENT, cwd=workspace)
    ids = [mgr.snapshot(s.id, workspace=False)["snapshot_id"] for _ in range(3)]
    assert mgr.prune_snapshots(keep=1, dry_run=True)[0]["snapshot_id"] == ids[0]
    assert len(mgr.snapshots()) == 3
    gone = mgr.prune_snapshots(keep=1)
    assert [g["snapshot_id"] for g in gone] == ids[:2]
    assert mgr.prune_snapshots(older_than="7d") == []

    with pytest.raises(agent_sessions.SnapshotNotFoundError):
        mgr.snapshot_info("missing-one")
    with pytest.raises(LookupError):
        mgr.restore("missing-one")
    with pytest.raises(agent_sessions.SessionNotFoundError):
        mgr.snapshot("agent-20990101-000000-00000000")
    with pytest.raises(agent_sessions.InvalidSessionIdError):
        mgr.snapshot("../x")
    with pytest.raises(agent_sessions.InvalidArgumentError, match="--max-size"):
        mgr.snapshot(s.id, max_workspace_bytes=10)
    with pytest.raises(agent_sessions.InvalidArgumentError, match="not a snapshot name"):
        mgr.snapshot(s.id, name="a/b")
    with pytest.raises(agent_sessions.InvalidArgumentError):
        mgr.prune_snapshots()
    with pytest.raises(agent_sessions.InvalidArgumentError):
        mgr.snapshot(s.id, keep=-1)
    assert len(mgr.snapshots()) == 1
    s.stop(timeout=10, force=True)
