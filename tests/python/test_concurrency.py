"""Many hook processes at once: no lost update, never a torn state.json, safe against kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from agent_sessions import AgentSession

from conftest import wait_until

WORKER = textwrap.dedent("""
    import os, sys, time
    from agent_sessions import AgentSession
    home, agent_id, n, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    # argv[6] "0": records in the store alone, no state.json (the default home's way).
    s = AgentSession(home, state_files=sys.argv[6:7] != ["0"])
    phases = ["investigating", "planning", "approval", "executing", "validating"]
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(count):
        ok = s.update_state(agent_id, phase=phases[(n + i) % len(phases)],
                            metadata={f"w{n}": i})
        if not ok:
            sys.exit(f"update {i} of worker {n} returned False")
""")

READER = textwrap.dedent("""
    import json, os, sys
    path, stop = sys.argv[1], sys.argv[2]
    reads = torn = 0
    while not os.path.exists(stop):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        reads += 1
        try:
            doc = json.loads(data)
            assert isinstance(doc["history"], list)
        except Exception:
            torn += 1
    print(json.dumps({"reads": reads, "torn": torn}))
""")


def assert_sixteen_writers_kept(s: AgentSession, aid: str) -> list[Any]:
    """16 workers x 100 updates: every worker's last write is there (nothing lost or
    overwritten by a stale copy) and the history is a chain, each entry starting where the
    previous one ended. Returns the history."""
    doc = s.get_session(aid)
    assert doc is not None
    assert len(doc["history"]) == 1600
    for n in range(16):
        assert doc["metadata"][f"w{n}"] == 99
    h = doc["history"]
    assert all(a["to_phase"] == b["from_phase"] for a, b in zip(h, h[1:]))
    return h

def test_16_processes_100_updates_each(home: Path, tmp_path: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="concurrent", purpose="stress")
    state = s._get_state_file(aid)
    go, stop = tmp_path / "go", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(state), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(home), aid, str(n), "100",
                                 str(go)], stderr=subprocess.PIPE, text=True)
               for n in range(16)]
    go.touch()
    try:
        for w in workers:
            _, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    stats = json.loads(out)
    assert stats["torn"] == 0, stats
    assert stats["reads"] > 0

    h = assert_sixteen_writers_kept(s, aid)
    assert h[0]["from_phase"] == "initializing"
    assert [e["timestamp"] for e in h] == sorted(e["timestamp"] for e in h)
    # The file is whole and matches the last commit.
    assert json.loads(state.read_text()) == s.get_session(aid)
    assert {p.name for p in state.parent.iterdir()} <= {"state.json", ".state.json.tmp"}


def test_killed_writer_leaves_a_consistent_record(home: Path, tmp_path: Path) -> None:
    s = AgentSession(home)
    aid = s.create_session(agent_name="victim")
    go = tmp_path / "go"
    go.touch()
    for attempt in range(3):
        p = subprocess.Popen([sys.executable, "-c", WORKER, str(home), aid, str(attempt),
                              "100000", str(go)], stderr=subprocess.PIPE)
        start = len(s.get_session(aid)["history"])  # type: ignore[index]
        wait_until(lambda: len(s.get_session(aid)["history"]) > start + 30,  # type: ignore[index]
                   timeout=60, what="the writer to make progress")
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        doc = s.get_session(aid)
        assert doc is not None
        h = doc["history"]
        assert all(a["to_phase"] == b["from_phase"] for a, b in zip(h, h[1:]))
        # state.json is whole and holds a committed document: the last one, or (when the
        # kill fell between the commit and the rename) the one before, until the next write.
        on_disk = json.loads(s._get_state_file(aid).read_text())
        if on_disk != doc:
            assert on_disk["history"] == h[:-1], "state.json holds an uncommitted document"
    # The store still takes writes after the kills.
    assert s.update_state(aid, phase="completed")
    assert json.loads(s._get_state_file(aid).read_text()) == s.get_session(aid)


def test_threads_share_one_object(home: Path) -> None:
    import threading

    s = AgentSession(home)
    aid = s.create_session(agent_name="threads")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                assert s.update_state(aid, phase="planning", metadata={f"t{n}": i})
                s.get_session(aid)
                s.list_sessions()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    doc = s.get_session(aid)
    assert len(doc["history"]) == 400  # type: ignore[index]
    assert all(doc["metadata"][f"t{n}"] == 49 for n in range(8))  # type: ignore[index]


def test_fork_safety(home: Path) -> None:
    """A child forked after the parent used the store gets its own connection."""
    s = AgentSession(home)
    aid = s.create_session(agent_name="fork")
    s.update_state(aid, phase="planning")
    pids = []
    for n in range(4):
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                for i in range(25):
                    if not s.update_state(aid, phase="approval", metadata={f"c{n}": i}):
                        code = 1
            except BaseException:
                code = 2
            os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    assert s.update_state(aid, phase="executing")
    doc = s.get_session(aid)
    assert len(doc["history"]) == 1 + 100 + 1  # type: ignore[index]


def test_store_only_16_processes_lose_no_update(home: Path, tmp_path: Path) -> None:
    """Without state.json files writers serialize on SQLite's write lock alone: still no
    update lost, and no folder or file per session."""
    s = AgentSession(home, state_files=False)
    aid = s.create_session(agent_name="concurrent", purpose="stress")
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(home), aid, str(n), "100",
                                 str(go), "0"], stderr=subprocess.PIPE, text=True)
               for n in range(16)]
    go.touch()
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    h = assert_sixteen_writers_kept(s, aid)
    assert [e["timestamp"] for e in h] == sorted(e["timestamp"] for e in h)
    assert not (home / aid).exists()
    assert not (home / "lifecycle.lock").exists()


LOOP_WRITER = textwrap.dedent("""
    import sys
    from agent_sessions import AgentSession
    s = AgentSession(sys.argv[1], state_files=sys.argv[2] == "1")
    while True:
        a = s.create_session(agent_name="loop", metadata={"task_id": "T1"})
        for p in ("investigating", "planning", "approval", "executing"):
            assert s.update_state(a, phase=p, metadata={p: 1})
        assert s.finalize_session(a, "completed", "done")
""")


def test_sigkilled_write_loops_leave_a_readable_store(home: Path) -> None:
    """Processes SIGKILLed at random points of a loop of writes (creates, phase updates,
    finalizes), with and without state.json files, leave a store that passes SQLite's
    integrity check, whose every record is whole (a create's document, history and session
    row commit together) and which takes writes again."""
    import sqlite3

    s = AgentSession(home, state_files=False)
    procs = []
    try:
        for attempt in range(6):
            before = len(s.list_sessions())
            p = subprocess.Popen([sys.executable, "-c", LOOP_WRITER, str(home),
                                  str(attempt % 2)], stderr=subprocess.DEVNULL)
            procs.append(p)
            wait_until(lambda: len(s.list_sessions()) > before + 5 + attempt, timeout=60,
                       what="the writer to make progress")
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
            with sqlite3.connect(f"file:{home / 'agent-sessions.db'}?mode=ro", uri=True) as db:
                assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for row in s.list_sessions():
                doc = s.get_session(row["agent_id"])
                assert doc is not None and doc["agent_name"] == "loop"
                h = doc["history"]
                assert [e["to_phase"] for e in h] == [
                    "investigating", "planning", "approval", "executing", "completed"
                ][:len(h)]
                assert doc["phase"] == (h[-1]["to_phase"] if h else "initializing")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    a = s.create_session(agent_name="after")
    assert s.update_state(a, phase="planning")
    assert s.finalize_session(a, "completed")
