"""Many hook processes at once: no lost update, never a torn state.json, safe against kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from agent_sessions import AgentSession

from conftest import wait_until

WORKER = textwrap.dedent("""
    import os, sys, time
    from agent_sessions import AgentSession
    home, agent_id, n, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    s = AgentSession(home)
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

    doc = s.get_session(aid)
    assert doc is not None
    assert len(doc["history"]) == 1600
    # Every worker's last write is there: nothing was lost or overwritten by a stale copy.
    for n in range(16):
        assert doc["metadata"][f"w{n}"] == 99
    # History is a proper chain: each entry starts where the previous one ended.
    h = doc["history"]
    assert h[0]["from_phase"] == "initializing"
    assert all(a["to_phase"] == b["from_phase"] for a, b in zip(h, h[1:]))
    assert [e["timestamp"] for e in h] == sorted(e["timestamp"] for e in h)
    # The file is whole and matches the last commit.
    assert json.loads(state.read_text()) == doc
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
