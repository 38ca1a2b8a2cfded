"""Git worktrees from Python: ``start(worktree=...)`` makes the same worktree the CLI does
(one core), the record says what it holds, and ``remove``/``cleanup`` keep work unless
``force=True``; bad requests are clear errors that leave nothing behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agent_sessions
from agent_sessions import SessionManager

from conftest import wait_until


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    git(top, "config", "user.email", "tests@example.invalid")
    git(top, "config", "user.name", "Tests")
    (top / "a.txt").write_text("one\n")
    (top / ".gitignore").write_text(".env\n")
    (top / ".worktreeinclude").write_text(".env\n")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "first")
    (top / ".env").write_text("KEY=1\n")
    return top


AGENT = [sys.executable, "-c", "import time; open('made.txt','w').write('x'); print('done'); "
         "time.sleep(60)"]


def test_a_worktree_session_keeps_its_work_until_forced(mgr: SessionManager, repo: Path,
                                                        tmp_path: Path) -> None:
    root = tmp_path / "trees"
    s = mgr.start("custom", args=AGENT, cwd=repo,
                  worktree={"branch": "py/agent", "root": str(root)})
    rec = s.record()
    wt = rec["worktree"]
    path = Path(wt["path"])
    assert wt["branch"] == "py/agent" and path.parent == root
    assert (path / ".env").read_text() == "KEY=1\n"
    wait_until(lambda: (path / "made.txt").exists())
    wait_until(lambda: mgr.get(s.id).record()["worktree"]["status"]["changed_files"] == 1)
    s.stop(timeout=10, force=True)

    with pytest.raises(agent_sessions.InvalidArgumentError, match="uncommitted changes"):
        mgr.remove(s.id)
    assert (path / "made.txt").exists()
    report = mgr.cleanup("0s")
    assert [k["session_id"] for k in report["kept"]] == [s.id]
    assert "1 file with uncommitted changes" in report["kept"][0]["reason"]
    mgr.remove(s.id, force=True)
    assert not path.exists()
    assert git(repo, "branch", "--format=%(refname:short)") == "main"


def test_worktree_true_takes_a_default_branch_and_bad_requests_make_nothing(
        mgr: SessionManager, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SESSIONS_WORKTREE_ROOT", str(tmp_path / "trees"))
    s = mgr.start("custom", args=AGENT, cwd=repo, worktree=True)
    assert s.record()["worktree"]["branch"] == f"agent-sessions/{s.id}"
    s.stop(timeout=10, force=True)
    mgr.remove(s.id, force=True)

    for bad, match in [({"branch": "x", "bogus": 1}, "bogus"), (3, "worktree"),
                       ("main", "already exists"), ("a..b", "not a valid branch")]:
        with pytest.raises(agent_sessions.AgentSessionsError, match=match):
            mgr.start("custom", args=AGENT, cwd=repo, worktree=bad)
    with pytest.raises(agent_sessions.InvalidArgumentError, match="git repository"):
        mgr.start("custom", args=AGENT, cwd=tmp_path, worktree=True)
    assert mgr.list() == []
    assert git(repo, "worktree", "list").count("\n") == 0
