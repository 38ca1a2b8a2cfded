"""Pause and continue, suspend and resume, events, conversation history, tasks and cleanup
from Python, over real session hosts running small fake agents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest

import agent_sessions
from agent_sessions import Session, SessionManager

from conftest import wait_until

PY = sys.executable
FAKES = Path(__file__).resolve().parent.parent / "fake_agents"
FAKE_AGENT = str(FAKES / "fake_agent.py")
CLAUDE_LIKE = FAKES / "claude_like.py"


@pytest.fixture
def sm(mgr: SessionManager, monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionManager]:
    """The manager; afterwards every session still live is stopped (paused ones too, which
    the shared fixture does not know about). Sessions started without a task get none, even
    when the tests run inside a session of a task."""
    monkeypatch.delenv("AGENT_SESSIONS_TASK", raising=False)
    yield mgr
    for s in mgr.list():
        if s.state in agent_sessions.LIVE_STATES:
            try:
                s.stop(timeout=2, force=True)
            except agent_sessions.AgentSessionsError:
                pass


def start_fake(mgr: SessionManager, **kw: object) -> Session:
    """fake_agent.py: answers each line with "echo: <line>" and a prompt."""
    return mgr.start("custom", [PY, FAKE_AGENT], idle_after=0.3, **kw)  # type: ignore[arg-type]


def start_cat(mgr: SessionManager, **kw: object) -> Session:
    return mgr.start("custom", ["cat"], idle_after=0.3, **kw)  # type: ignore[arg-type]


def ended_session(mgr: SessionManager, **kw: object) -> Session:
    s = mgr.start("custom", [PY, "-c", "print('done')"], **kw)  # type: ignore[arg-type]
    s.wait_for("stopped", timeout=30)
    return s


def test_states_include_paused_and_suspended() -> None:
    assert {"paused", "suspended"} <= set(agent_sessions.STATES)
    assert "paused" in agent_sessions.LIVE_STATES and "paused" not in agent_sessions.ENDED_STATES
    assert "suspended" in agent_sessions.ENDED_STATES
    assert "suspended" not in agent_sessions.LIVE_STATES
    assert set(agent_sessions.ENDED_STATES) == {"stopped", "failed", "unknown", "suspended"}


def test_pause_and_continue(sm: SessionManager) -> None:
    s = start_fake(sm)
    s.wait_for("waiting_input", timeout=30)
    assert s.pause() is s and s.state == "paused"
    assert sm.get(s.id).state == "paused"
    assert s.pause().state == "paused"  # pausing again changes nothing
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.send("while paused")
    assert "paused" in str(e.value)
    assert s.wait_for("paused", timeout=5).state == "paused"

    assert s.continue_() is s and s.state in ("running", "waiting_input")
    s.send("after continue")
    wait_until(lambda: b"echo: after continue" in s.output()[0], what="echo after continue")
    s.wait_for("waiting_input", timeout=30)
    assert s.continue_().state == "waiting_input"  # continuing a live session: no change

    # A paused session stops like any other.
    s.pause()
    s.stop(timeout=10)
    assert s.state in ("stopped", "failed")
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.pause()
    assert s.id in str(e.value) and "cannot be paused" in str(e.value)
    assert "stopped" in str(e.value) or "failed" in str(e.value)
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.continue_()
    assert "continued" in str(e.value)


def test_events_are_recorded_in_order(sm: SessionManager) -> None:
    s = start_fake(sm)
    s.wait_for("waiting_input", timeout=30)
    s.send("ping")
    wait_until(lambda: b"echo: ping" in s.output()[0], what="echo")
    s.pause()
    s.continue_()
    s.stop(timeout=10)

    events = s.events()
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert all(e["session_id"] == s.id for e in events)
    assert {"session_id", "seq", "at", "source", "kind", "data"} <= set(events[0])
    kinds = [e["kind"] for e in events]
    for k in ("state", "input", "pause", "continue", "stop"):
        assert k in kinds, (k, kinds)
    assert kinds.index("input") < kinds.index("pause") < kinds.index("continue") < kinds.index("stop")
    inputs = [e for e in events if e["kind"] == "input"]
    assert inputs[0]["data"]["text"] == "ping" and inputs[0]["source"] == "user"
    states = [e["data"]["to"] for e in events if e["kind"] == "state"]
    assert states[0] == "starting" and "paused" in states and states[-1] in ("stopped", "failed")
    first = next(e for e in events if e["kind"] == "state")
    assert set(first["data"]) >= {"from", "to", "cause"}

    # since / limit, and the manager's reader.
    assert [e["seq"] for e in s.events(since=3)] == seqs[3:]
    assert [e["seq"] for e in s.events(since=2, limit=2)] == [3, 4]
    assert s.events(since=seqs[-1]) == []
    assert sm.events(s.id) == events
    assert sm.events(s.id, since=1, limit=1) == events[1:2]
    with pytest.raises(ValueError):
        s.events(since=-1)
    with pytest.raises(ValueError):
        s.events(limit=0)
    with pytest.raises(agent_sessions.SessionNotFoundError):
        sm.events("agent-20990101-000000-00000000")


def test_follow_events_sees_the_stop_and_ends(sm: SessionManager) -> None:
    s = start_cat(sm)
    s.wait_for("waiting_input", timeout=30)
    last = s.events()[-1]["seq"]
    stream = s.follow_events(since=last)
    assert iter(stream) is stream and stream.seq == last and stream.session_id == s.id
    seen: list[agent_sessions.Event] = []
    failed: list[BaseException] = []
    started = threading.Event()

    def follow() -> None:
        started.set()
        try:
            for e in stream:
                seen.append(e)
        except BaseException as exc:  # pragma: no cover
            failed.append(exc)

    t = threading.Thread(target=follow)
    t.start()
    started.wait(10)
    # The follower waits with the GIL released: this thread keeps running Python code.
    count = 0
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        count += 1
    assert count > 10_000
    s.send("to the follower")
    wait_until(lambda: any(e["kind"] == "input" for e in seen), what="the input event")
    s.stop(timeout=10)
    t.join(60)
    assert not t.is_alive(), "the follower did not end after the session stopped"
    assert not failed
    kinds = [e["kind"] for e in seen]
    assert "stop" in kinds
    tos = [e["data"]["to"] for e in seen if e["kind"] == "state"]
    assert tos[-1] in ("stopped", "failed") and "stopping" in tos
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and seqs[0] == last + 1 and len(set(seqs)) == len(seqs)
    assert stream.seq == seqs[-1] == s.events()[-1]["seq"]
    assert list(stream) == []  # ended for good

    # Following an ended session yields what is there, then ends.
    assert [e["seq"] for e in s.follow_events()] == list(range(1, seqs[-1] + 1))
    assert [e["seq"] for e in s.follow_events(since=seqs[-1] - 1)] == [seqs[-1]]


def test_follow_events_timeout(sm: SessionManager) -> None:
    s = start_cat(sm)
    s.wait_for("waiting_input", timeout=30)
    n = len(s.events())
    t0 = time.monotonic()
    got = list(s.follow_events(timeout=0.5, poll_interval=0.05))
    took = time.monotonic() - t0
    assert len(got) >= n  # everything so far, then quiet for 0.5 s
    assert 0.45 <= took < 20
    with pytest.raises(ValueError):
        s.follow_events(since=-1)
    with pytest.raises(ValueError):
        s.follow_events(timeout=-1)
    s.stop(timeout=10)


FOLLOWER = textwrap.dedent("""
    import faulthandler, signal, sys, time
    import agent_sessions
    faulthandler.dump_traceback_later(20)  # a hang says where it is, on stderr
    # Python's own Ctrl-C handler even when SIGINT came in ignored (a shell's background job
    # starts that way, and Python then installs none).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mgr = agent_sessions.SessionManager(sys.argv[1])
    s = mgr.start("custom", ["cat"])
    print("ready", flush=True)
    t0 = time.monotonic()
    try:
        for e in s.follow_events():
            pass
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic() - t0:.3f}", flush=True)
    finally:
        s.stop(timeout=5, force=True)
""")


def test_ctrl_c_interrupts_follow_events(home: Path) -> None:
    p = subprocess.Popen([PY, "-c", FOLLOWER, str(home)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # let it enter the blocking iteration (not synchronisation)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"still running 60 s after SIGINT; stdout {out!r}, stderr:\n{err}")
    assert p.returncode == 0, err
    assert out.startswith("interrupted"), (out, err)
    assert time.monotonic() - sent < 10


def test_history_of_a_custom_agent(sm: SessionManager) -> None:
    s = start_fake(sm)
    s.wait_for("waiting_input", timeout=30)
    s.send("echo hi")

    def answered() -> bool:
        msgs = s.history()["messages"]
        return any(m["role"] == "assistant" and "hi" in m["text"] for m in msgs)

    wait_until(answered, timeout=30, what="an assistant message")
    page = s.history()
    assert page["session_id"] == s.id and page["source"] == "screen" and page["offset"] == 0
    assert page["next_offset"] is None
    msgs = page["messages"]
    assert [m["index"] for m in msgs] == list(range(len(msgs)))
    user = [m for m in msgs if m["role"] == "user"]
    assert user and user[0]["text"] == "echo hi"
    assert user[0]["at"] is not None
    assistant = [m for m in msgs if m["role"] == "assistant"]
    assert any("echo: echo hi" in m["text"] for m in assistant)
    assert msgs.index(user[0]) < msgs.index(assistant[-1])

    # A second exchange, then paging.
    s.wait_for("waiting_input", timeout=30)
    s.send("second line")
    wait_until(lambda: any("echo: second line" in m["text"] for m in s.history()["messages"]
                           if m["role"] == "assistant"), timeout=30, what="the second answer")
    full = s.history()["messages"]
    assert len(full) >= 4
    one = s.history(limit=1)
    assert one["messages"] == full[:1] and one["next_offset"] == 1
    two = s.history(offset=1, limit=1)
    assert two["messages"] == full[1:2] and two["offset"] == 1
    last = s.history(offset=len(full) - 1, limit=1)
    assert last["messages"] == full[-1:] and last["next_offset"] is None
    assert s.history(offset=len(full))["messages"] == []
    assert sm.history(s.id)["messages"] == full

    it = s.iter_history(page_size=1)
    assert iter(it) is it and it.next_offset == 0
    assert list(it) == full
    assert it.next_offset is None and list(it) == []
    assert list(s.iter_history(page_size=3, offset=2)) == full[2:]
    assert list(s.iter_history()) == full

    for bad in (lambda: s.history(offset=-1), lambda: s.history(limit=0),
                lambda: s.iter_history(page_size=0), lambda: sm.history(s.id, limit=-5)):
        with pytest.raises(ValueError):
            bad()
    s.stop(timeout=10)
    assert s.history()["messages"][: len(full)] == full  # readable after the end


def test_tasks(sm: SessionManager) -> None:
    a = start_cat(sm, task_id="T1")
    b = ended_session(sm, task_id="T1")
    c = ended_session(sm, task_id="T2")
    d = ended_session(sm)
    tasks = sm.tasks()
    by_id = {t["task_id"]: t for t in tasks}
    assert set(by_id) == {"T1", "T2", None}
    assert tasks[-1]["task_id"] is None  # sessions without a task come last
    t1 = by_id["T1"]
    assert t1["session_count"] == 2
    assert [x["session_id"] for x in t1["sessions"]] == [a.id, b.id]  # oldest first
    assert t1["live"] == 1 and sum(t1["states"].values()) == 2
    assert t1["states"].get("stopped") == 1
    assert by_id["T2"]["session_count"] == 1 and by_id["T2"]["live"] == 0
    assert [x["session_id"] for x in by_id[None]["sessions"]] == [d.id]
    assert sm.task("T1") == t1
    assert sm.task("T2")["sessions"][0]["session_id"] == c.id
    assert sm.task("T2")["sessions"][0]["agent_type"] == "custom"

    with pytest.raises(agent_sessions.SessionNotFoundError) as e:
        sm.task("nope")
    assert isinstance(e.value, LookupError)
    assert "no session has task id 'nope'" in str(e.value)
    with pytest.raises(agent_sessions.SessionNotFoundError) as e:
        sm.list(task_id="nope")
    assert "nope" in str(e.value)
    assert [s.id for s in sm.list(task_id="T2")] == [c.id]
    a.stop(timeout=10)
    assert sm.task("T1")["live"] == 0


def test_cleanup(sm: SessionManager, home: Path) -> None:
    old = ended_session(sm)
    live = start_cat(sm)
    folder = home / old.id
    assert folder.is_dir()

    dry = sm.cleanup(0, dry_run=True)
    assert dry["dry_run"] is True
    assert [x["session_id"] for x in dry["sessions"]] == [old.id]
    assert dry["sessions"][0]["state"] == "stopped" and dry["sessions"][0]["ended_at"]
    assert dry["bytes_freed"] == sum(x["bytes"] for x in dry["sessions"])
    assert sm.get(old.id).state == "stopped" and folder.is_dir()  # nothing removed

    assert sm.cleanup("7d")["sessions"] == []  # not old enough
    assert sm.cleanup(timedelta(days=1), dry_run=True)["sessions"] == []

    done = sm.cleanup(older_than=0)
    assert done["dry_run"] is False and [x["session_id"] for x in done["sessions"]] == [old.id]
    assert done["skipped"] == 0
    with pytest.raises(agent_sessions.SessionNotFoundError):
        sm.get(old.id)
    assert not folder.exists()
    # A running session is never removed.
    assert sm.get(live.id).state in agent_sessions.LIVE_STATES
    assert (home / live.id).is_dir()

    # keep_logs leaves the output log; states narrows the cleanup.
    kept = ended_session(sm)
    assert sm.cleanup(0.0, states=["failed"])["sessions"] == []
    assert sm.cleanup(0.0, states="suspended")["sessions"] == []
    report = sm.cleanup(0.0, states=("stopped",), keep_logs=True)
    assert [x["session_id"] for x in report["sessions"]] == [kept.id]
    with pytest.raises(agent_sessions.SessionNotFoundError):
        sm.get(kept.id)
    assert any(p.name.startswith("output.log") for p in (home / kept.id).iterdir())

    # Bad input.
    with pytest.raises(agent_sessions.InvalidArgumentError) as e:
        sm.cleanup(0, states=["running"])
    assert "never running" in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(agent_sessions.InvalidArgumentError):
        sm.cleanup(0, states=["sleeping"])
    with pytest.raises(agent_sessions.InvalidArgumentError) as e:
        sm.cleanup("soon")
    assert "invalid duration" in str(e.value)
    with pytest.raises(ValueError):
        sm.cleanup(-1)
    with pytest.raises(TypeError):
        sm.cleanup(None)  # type: ignore[arg-type]
    live.stop(timeout=10)
    assert sm.get(live.id).state in ("stopped", "failed")


def test_max_log_bytes_and_new_record_fields(sm: SessionManager) -> None:
    s = sm.start("custom", [PY, FAKE_AGENT, "--prompt", "p> "], max_log_bytes=1 << 20)
    rec = s.record()
    assert rec["max_log_bytes"] == 1 << 20
    assert rec["agent_args"] == [PY, FAKE_AGENT, "--prompt", "p> "]
    assert rec["resumable"] is False
    s.stop(timeout=10)
    default = sm.start("custom", ["cat"]).record()["max_log_bytes"]
    assert isinstance(default, int) and default > 1 << 20  # the core's default cap
    for bad in (0, -1):
        with pytest.raises(ValueError):
            sm.start("custom", ["cat"], max_log_bytes=bad)


def test_suspend_and_resume_need_a_resumable_agent(sm: SessionManager) -> None:
    s = start_cat(sm)
    s.wait_for("waiting_input", timeout=30)
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.resume()
    assert "cannot be resumed" in str(e.value) and "waiting_input" in str(e.value)
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.suspend(timeout=5)
    msg = str(e.value)
    assert "resume" in msg and "custom" in msg, msg
    assert s.refresh().state in ("running", "waiting_input")  # left running
    s.stop(timeout=10)
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.suspend()
    assert "cannot be suspended" in str(e.value)
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.resume(args=["cat"], env={"A": "1"})
    assert "has no resume command" in str(e.value)
    with pytest.raises(TypeError):
        s.resume(args="cat")  # a string, not a list
    with pytest.raises(ValueError):
        s.suspend(timeout=-1)


@pytest.mark.skipif(
    not CLAUDE_LIKE.exists() or "--resume" not in CLAUDE_LIKE.read_text(),
    reason="tests/fake_agents/claude_like.py has no --resume support",
)
def test_suspend_and_resume_round_trip(sm: SessionManager, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "claude-config"
    work = tmp_path / "work"
    config.mkdir()
    work.mkdir()
    # The fake stands in for claude; the transcript (which history reads) goes to $config.
    monkeypatch.setenv("AGENT_SESSIONS_CLAUDE_BIN", str(CLAUDE_LIKE))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    s = sm.start("claude", cwd=work, env={"CLAUDE_CONFIG_DIR": str(config)})
    s.wait_for("waiting_input", timeout=60)
    s.send("hello there")

    def replied() -> bool:
        return any(m["role"] == "assistant" for m in s.history()["messages"])

    wait_until(replied, timeout=60, what="the fake claude's reply")
    s.wait_for("waiting_input", timeout=60)
    before = s.history()
    assert before["source"] == "claude-transcript"
    assert s.record()["agent_session_id"]

    assert s.suspend(timeout=20) is s and s.state == "suspended"
    rec = s.record()
    assert rec["resumable"] is True and rec["state"] == "suspended"
    with pytest.raises(agent_sessions.SessionNotRunningError):
        s.send("while suspended")
    sid = s.id

    assert s.resume(env={"CLAUDE_CONFIG_DIR": str(config)}) is s
    assert s.id == sid and s.state in ("starting", "running", "waiting_input")
    s.wait_for("waiting_input", timeout=60)
    assert [x.id for x in sm.list()] == [sid]  # the same session, not a new one
    tos = [t["to"] for t in s.record()["transitions"]]
    i = tos.index("suspended")
    assert tos[i + 1] == "starting" and "waiting_input" in tos[i + 1:]
    kinds = [e["kind"] for e in s.events()]
    assert kinds.index("suspend") < kinds.index("resume")
    assert s.history()["messages"][: len(before["messages"])] == before["messages"]

    # The conversation disappears: a waiting resume reports the agent's own reason.
    assert s.suspend(timeout=20).state == "suspended"
    transcripts = list(config.rglob(f"{rec['agent_session_id']}.jsonl"))
    assert transcripts, "the fake claude wrote no transcript"
    for transcript in transcripts:
        transcript.unlink()
    with pytest.raises(agent_sessions.SessionNotRunningError) as e:
        s.resume(env={"CLAUDE_CONFIG_DIR": str(config)}, wait=True, timeout=60)
    assert "No conversation found" in str(e.value), str(e.value)
    assert s.refresh().state == "failed"
