"""The reference hook library's API and behaviour (agent_session.py), as a drop-in."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import agent_sessions
import agent_sessions.compat.agent_session as agent_session
from agent_sessions import AgentSession

ID_RE = re.compile(r"^agent-\d{8}-\d{6}-[0-9a-f]{8}$")
ISO_UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SCHEMA = ["agent_id", "agent_name", "purpose", "created_at", "last_updated", "phase", "metadata",
          "resume_ready", "history", "error_count", "last_error", "finalized_at",
          "duration_seconds", "summary"]


@pytest.fixture
def store(home: Path) -> AgentSession:
    return AgentSession(home / "lc")


def backdate(store: AgentSession, agent_id: str, **delta: float) -> None:
    """What the reference tests do: rewrite last_updated through _save_session."""
    s = store.get_session(agent_id)
    assert s is not None
    s["last_updated"] = (datetime.now(timezone.utc) - timedelta(**delta)).isoformat()
    store._save_session(agent_id, s)


# -- the reference suite's cases --------------------------------------------------------

def test_create_session(store: AgentSession) -> None:
    aid = store.create_session(agent_name="terraform-architect", purpose="approval_workflow",
                               metadata={"task_id": "T001", "tags": ["terraform"]})
    assert ID_RE.match(aid), aid
    s = store.get_session(aid)
    assert s is not None
    assert list(s) == SCHEMA
    assert s["agent_id"] == aid
    assert s["agent_name"] == "terraform-architect"
    assert s["purpose"] == "approval_workflow"
    assert s["phase"] == "initializing"
    assert s["metadata"] == {"task_id": "T001", "tags": ["terraform"]}
    assert s["resume_ready"] is False
    assert s["history"] == []
    assert s["error_count"] == 0
    assert s["last_error"] is None and s["finalized_at"] is None
    assert s["duration_seconds"] is None and s["summary"] is None
    assert ISO_UTC_RE.match(s["created_at"]) and ISO_UTC_RE.match(s["last_updated"])
    # One folder per session with a state.json mirroring the record.
    state = store.base_path / aid / "state.json"
    assert json.loads(state.read_text()) == s


def test_create_session_with_given_id(store: AgentSession) -> None:
    assert store.create_session(agent_id="agent-123", agent_name="x") == "agent-123"
    assert store.get_session("agent-123")["agent_name"] == "x"  # type: ignore[index]
    with pytest.raises(agent_sessions.InvalidSessionIdError):
        store.create_session(agent_id="../escape")
    with pytest.raises(ValueError):  # also a ValueError
        store.create_session(agent_id="a/b")


def test_update_state(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    before = store.get_session(aid)["last_updated"]  # type: ignore[index]
    assert store.update_state(aid, phase="planning", metadata={"plan_file": "plan.json"}) is True
    s = store.get_session(aid)
    assert s is not None
    assert s["phase"] == "planning"
    assert s["metadata"]["plan_file"] == "plan.json"
    assert s["resume_ready"] is True
    assert s["last_updated"] >= before
    assert store.update_state(aid, phase="executing") is True
    assert store.get_session(aid)["resume_ready"] is False  # type: ignore[index]


def test_should_resume_success(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    assert store.should_resume(aid) is True


@pytest.mark.parametrize("phase", ["initializing", "executing", "validating"])
def test_should_resume_not_resumable_phase(store: AgentSession, phase: str) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase=phase)
    assert store.should_resume(aid) is False


@pytest.mark.parametrize("phase", ["approval", "investigating", "planning"])
def test_resumable_phases(store: AgentSession, phase: str) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase=phase)
    assert store.should_resume(aid) is True


def test_should_resume_timeout(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    backdate(store, aid, minutes=31)
    assert store.should_resume(aid) is False
    backdate(store, aid, minutes=29)
    assert store.should_resume(aid) is True


def test_backdated_naive_timestamps_read_as_utc(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    s = store.get_session(aid)
    assert s is not None
    # Python's naive utcnow().isoformat() (no zone), as older tests write it.
    s["last_updated"] = (datetime.now(timezone.utc).replace(tzinfo=None)
                         - timedelta(minutes=45)).isoformat()
    store._save_session(aid, s)
    assert store.should_resume(aid) is False


def test_should_resume_too_many_errors(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    store.update_state(aid, error="e1")
    store.update_state(aid, error="e2")
    assert store.should_resume(aid) is True
    store.update_state(aid, error="e3")
    assert store.should_resume(aid) is False


def test_finalize_session(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    assert store.finalize_session(aid, outcome="completed", summary="Terraform applied") is True
    s = store.get_session(aid)
    assert s is not None
    assert s["phase"] == "completed"
    assert s["summary"] == "Terraform applied"
    assert ISO_UTC_RE.match(s["finalized_at"])
    assert isinstance(s["duration_seconds"], float) and s["duration_seconds"] >= 0
    assert s["resume_ready"] is False
    assert s["history"][-1]["to_phase"] == "completed"
    assert store.should_resume(aid) is False


@pytest.mark.parametrize("outcome,phase", [("completed", "completed"), ("failed", "failed"),
                                           ("abandoned", "abandoned"), ("exploded", "failed"),
                                           ("", "failed")])
def test_finalize_outcomes(store: AgentSession, outcome: str, phase: str) -> None:
    aid = store.create_session(agent_name="a")
    assert store.finalize_session(aid, outcome)
    assert store.get_session(aid)["phase"] == phase  # type: ignore[index]


def test_phase_history(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    for p in ("investigating", "planning", "approval", "executing"):
        assert store.update_state(aid, phase=p)
    store.update_state(aid, metadata={"no": "phase change"})
    h = store.get_session(aid)["history"]  # type: ignore[index]
    assert [(e["from_phase"], e["to_phase"]) for e in h] == [
        ("initializing", "investigating"), ("investigating", "planning"),
        ("planning", "approval"), ("approval", "executing")]
    assert all(set(e) == {"from_phase", "to_phase", "timestamp"} for e in h)
    assert all(ISO_UTC_RE.match(e["timestamp"]) for e in h)


def test_list_sessions(store: AgentSession) -> None:
    a = store.create_session(agent_name="terraform")
    b = store.create_session(agent_name="gitops")
    c = store.create_session(agent_name="terraform")
    store.update_state(a, phase="approval")
    store.finalize_session(c, "completed")
    rows = store.list_sessions()
    assert [r["agent_id"] for r in rows] == [c, a, b]  # most recently updated first
    assert set(rows[0]) == {"agent_id", "agent_name", "phase", "created_at", "last_updated",
                            "resume_ready", "error_count"}
    ra = rows[1]
    assert ra["phase"] == "approval" and ra["resume_ready"] is True and ra["error_count"] == 0
    # active_only: resume_ready, as in the reference (b is still initializing).
    assert [r["agent_id"] for r in store.list_sessions(active_only=True)] == [a]
    assert [r["agent_id"] for r in store.list_sessions(agent_name="terraform")] == [c, a]
    assert [r["agent_id"] for r in store.list_sessions(True, "terraform")] == [a]
    assert store.list_sessions(agent_name="nobody") == []


def test_cleanup_old_sessions(store: AgentSession) -> None:
    old = store.create_session(agent_name="a")
    new = store.create_session(agent_name="a")
    backdate(store, old, hours=25)
    assert store.cleanup_old_sessions(hours=24) == 1
    assert store.get_session(old) is None
    assert not (store.base_path / old).exists()
    assert store.get_session(new) is not None
    assert store.cleanup_old_sessions() == 0
    assert store.cleanup_old_sessions(hours=0) == 1


def test_metadata_merge(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a", metadata={"issue": "pod-crash", "keep": 1})
    store.update_state(aid, metadata={"findings": ["OOMKilled"]})
    store.update_state(aid, metadata={"findings": ["OOMKilled", "limits"], "keep": 2})
    assert store.get_session(aid)["metadata"] == {  # type: ignore[index]
        "issue": "pod-crash", "keep": 2, "findings": ["OOMKilled", "limits"]}


def test_error_tracking(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, error="first")
    store.update_state(aid, phase="planning", error="second")
    s = store.get_session(aid)
    assert s is not None
    assert s["error_count"] == 2
    assert s["last_error"]["message"] == "second"
    assert ISO_UTC_RE.match(s["last_error"]["timestamp"])
    assert s["phase"] == "planning"


def test_invalid_phase(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    before = store.get_session(aid)
    assert store.update_state(aid, phase="sleeping", metadata={"x": 1}) is False
    assert store.get_session(aid) == before  # rejected whole
    strict = AgentSession(store.base_path, strict=True)
    with pytest.raises(agent_sessions.InvalidPhaseError) as e:
        strict.update_state(aid, phase="sleeping")
    assert isinstance(e.value, ValueError)
    assert "valid phases are" in str(e.value)


def test_nonexistent_session(store: AgentSession) -> None:
    missing = "agent-20990101-000000-deadbeef"
    assert store.get_session(missing) is None
    assert store.update_state(missing, phase="planning") is False
    assert store.should_resume(missing) is False
    assert store.finalize_session(missing, "completed") is False
    # Ids that could never be valid behave the same (and never touch the disk).
    for bad in ("../etc", "", "a/b", "x" * 500):
        assert store.get_session(bad) is None
        assert store.update_state(bad, phase="planning") is False
        assert store.should_resume(bad) is False
        assert store.finalize_session(bad, "completed") is False


def test_convenience_functions(home: Path) -> None:
    aid = agent_session.create_session(agent_name="gitops-operator", purpose="investigation",
                                       metadata={"issue": "pod-crash-loop"})
    assert ID_RE.match(aid)
    assert agent_session.update_state(aid, phase="investigating",
                                      metadata={"findings": ["OOMKilled"]})
    assert agent_session.should_resume(aid)
    assert agent_session.get_session(aid)["metadata"]["findings"] == ["OOMKilled"]  # type: ignore[index]
    assert [r["agent_id"] for r in agent_session.list_sessions(active_only=True)] == [aid]
    assert agent_session.finalize_session(aid, "completed", "Fixed pod crash loop")
    assert agent_session.cleanup_old_sessions(24) == 0
    # The module-level functions use the default home ($AGENT_SESSIONS_HOME), whose records
    # live in the store alone: no state.json (AgentSession(base_path) keeps those).
    assert not (home / aid).exists()
    assert agent_sessions.AgentSession(home).get_session(aid)["phase"] == "completed"  # type: ignore[index]
    # The same objects are exported at the top level.
    assert agent_sessions.create_session is agent_session.create_session


# -- drop-in details ---------------------------------------------------------------------

def test_save_session_stores_exactly_as_given(store: AgentSession) -> None:
    given = {
        "agent_id": "legacy-7", "agent_name": "old", "purpose": None,
        "created_at": "2026-01-08T18:05:30Z", "last_updated": "2026-01-08T18:10:15Z",
        "phase": "approval", "metadata": {"n": {"deep": [1, 2.5, None, True]}},
        "resume_ready": True,
        "history": [{"from_phase": "initializing", "to_phase": "approval",
                     "timestamp": "2026-01-08T18:10:15Z"},
                    {"free": "form", "entry": 1}],
        "error_count": 0, "last_error": None, "finalized_at": None, "duration_seconds": None,
        "summary": None, "extra_key": "kept",
    }
    assert store._save_session("legacy-7", given) is True
    assert store.get_session("legacy-7") == given
    assert json.loads((store.base_path / "legacy-7" / "state.json").read_text()) == given
    # Old sessions migrated this way behave like any other.
    assert store.update_state("legacy-7", phase="executing")
    assert len(store.get_session("legacy-7")["history"]) == 3  # type: ignore[index]


def test_state_json_mirrors_every_write(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    path = store._get_state_file(aid)
    for step in (lambda: store.update_state(aid, phase="planning"),
                 lambda: store.update_state(aid, metadata={"k": "v"}, error="oops"),
                 lambda: store.finalize_session(aid, "completed", "ok")):
        step()
        assert json.loads(path.read_text()) == store.get_session(aid)
    # Nothing else: at most the previous document's file, kept (hidden) for reuse.
    assert {p.name for p in path.parent.iterdir()} <= {"state.json", ".state.json.tmp"}


def test_configurable_thresholds(store: AgentSession) -> None:
    aid = store.create_session(agent_name="a")
    store.update_state(aid, phase="approval")
    backdate(store, aid, minutes=40)
    assert store.should_resume(aid) is False
    assert AgentSession(store.base_path, resume_timeout_minutes=60).should_resume(aid) is True

    class Patient(AgentSession):
        RESUME_TIMEOUT_MINUTES = 120
        MAX_ERROR_COUNT = 10

    assert Patient(store.base_path).should_resume(aid) is True
    for i in range(5):
        store.update_state(aid, error=f"e{i}")
    assert store.should_resume(aid) is False
    assert Patient(store.base_path).should_resume(aid) is True
    assert AgentSession(store.base_path, max_error_count=6).should_resume(aid) is True
    only_planning = AgentSession(store.base_path, max_error_count=6,
                                 resumable_phases=["planning"])
    assert only_planning.should_resume(aid) is False


def test_metadata_of_any_json_type_and_non_json_values(store: AgentSession) -> None:
    when = datetime(2026, 1, 8, 18, 5, 30)
    aid = store.create_session(agent_name="a", metadata={
        "int": 2**62, "neg": -1, "float": 1.5, "none": None, "t": (1, "x"),
        "nested": {"list": [{"a": 1}]}, "when": when, 3: "int key"})
    m = store.get_session(aid)["metadata"]  # type: ignore[index]
    assert m["int"] == 2**62 and m["neg"] == -1 and m["float"] == 1.5 and m["none"] is None
    assert m["t"] == [1, "x"] and m["nested"] == {"list": [{"a": 1}]}
    assert m["when"] == str(when)  # like json.dumps(default=str)
    assert m["3"] == "int key"      # like json.dumps
    assert store.update_state(aid, metadata="not a dict") is False  # type: ignore[arg-type]


def test_one_store_with_hosted_sessions(home: Path) -> None:
    lc = AgentSession()  # default home
    mgr = agent_sessions.SessionManager(home)
    aid = lc.create_session(agent_name="planner", metadata={"task_id": "T9"})
    rec = mgr.get(aid).record()
    assert rec["kind"] == "record" and rec["state"] == "running"
    assert rec["phase"] == "initializing" and rec["name"] == "planner" and rec["task_id"] == "T9"
    expected = {"investigating": "running", "planning": "running", "approval": "waiting_input",
                "executing": "running", "validating": "running"}
    for phase, state in expected.items():
        lc.update_state(aid, phase=phase)
        s = mgr.get(aid)
        assert (s.state, s.phase) == (state, phase)
    lc.finalize_session(aid, "completed")
    assert mgr.get(aid).state == "stopped"
    assert [s.id for s in mgr.list(task_id="T9")] == [aid]
    other = lc.create_session(agent_name="x")
    lc.finalize_session(other, "failed")
    assert mgr.get(other).state == "failed"
    # The transitions carry the phase as their cause.
    trans = mgr.get(aid).record()["transitions"]
    assert trans[0]["to"] == "running" and trans[-1]["to"] == "stopped"
    assert trans[-1]["source"] == "phase"


def test_reference_layout_under_base_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = AgentSession(".claude/session")
    aid = s.create_session(agent_name="a")
    assert (tmp_path / ".claude/session" / aid / "state.json").is_file()
    assert s.base_path == tmp_path / ".claude/session"
    assert s._get_session_dir(aid) == tmp_path / ".claude/session" / aid


def test_compat_cli(home: Path) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "agent_sessions.compat.agent_session", *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode in (0, 1), r.stderr
        return r.stdout.strip()

    aid = cli("create", "--agent", "terraform-architect", "--purpose", "approval_workflow")
    assert ID_RE.match(aid)
    assert cli("update", aid, "--phase", "approval") == "updated"
    assert cli("should-resume", aid) == "true"
    assert json.loads(cli("get", aid))["phase"] == "approval"
    assert cli("list", "--active-only").count("agent-") == 1
    assert cli("finalize", aid, "completed") == "finalized"
    assert cli("list", "--active-only") == ""
    assert cli("cleanup", "--hours", "24") == "0"


def test_state_files_choice(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """state.json files: by default only under an explicitly given base_path; state_files=
    or $AGENT_SESSIONS_STATE_FILES decide otherwise. The store holds every record anyway."""
    default = AgentSession()
    assert default.base_path == home
    a = default.create_session(agent_name="a")
    assert default.update_state(a, phase="planning")
    assert not (home / a).exists()
    mirrored = AgentSession(state_files=True)
    assert mirrored.update_state(a, phase="approval")
    assert json.loads((home / a / "state.json").read_text()) == default.get_session(a)
    b = AgentSession(home / "x", state_files=False).create_session(agent_name="b")
    assert not (home / "x" / b).exists()
    monkeypatch.setenv("AGENT_SESSIONS_STATE_FILES", "1")
    c = AgentSession().create_session(agent_name="c")
    assert (home / c / "state.json").is_file()
    monkeypatch.setenv("AGENT_SESSIONS_STATE_FILES", "0")
    d = AgentSession(home / "y").create_session(agent_name="d")
    assert not (home / "y" / d).exists()
    assert AgentSession(home / "y").get_session(d)["agent_name"] == "d"  # type: ignore[index]
