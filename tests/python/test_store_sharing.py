"""One SessionManager shared by a forked child and by threads, over the real store: a child
never uses the parent's SQLite connections, and readers never queue behind a writer that
waits for another process's write lock."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from pathlib import Path

import pytest

import agent_sessions
from agent_sessions import SessionManager

from conftest import wait_until

PY = sys.executable


def integrity(home: Path) -> str:
    db = sqlite3.connect(home / "agent-sessions.db")
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def test_a_forked_child_uses_the_parents_manager(mgr: SessionManager, home: Path,
                                                 tmp_path: Path) -> None:
    # The parent has used the store (its pool holds open connections) and runs a session.
    parent_session = mgr.start("custom", ["cat"], idle_after=0.3)
    parent_session.wait_for(["running", "waiting_input"], timeout=20)
    assert [s.id for s in mgr.list()] == [parent_session.id]

    report = tmp_path / "child-report"
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            seen = {s.id for s in mgr.list()}
            assert seen == {parent_session.id}, seen
            child = mgr.start("custom", ["cat"], idle_after=0.3, name="from-child")
            assert mgr.get(child.id).id == child.id
            child.send("hello from the child")
            child.wait_for("waiting_input", timeout=20)
            assert "hello from the child" in child.screen()
            assert {s.id for s in mgr.list()} == {parent_session.id, child.id}
            child.stop(timeout=5)
            report.write_text(child.id)
            code = 0
        except BaseException:
            report.write_text("ERROR\n" + traceback.format_exc())
        finally:
            os._exit(code)

    _, status = os.waitpid(pid, 0)
    text = report.read_text() if report.exists() else "(no report)"
    assert os.waitstatus_to_exitcode(status) == 0, text
    child_id = text.strip()

    # The parent keeps working with the same object: reads, writes, its own session.
    assert mgr.get(child_id).state in ("stopped", "failed")
    assert mgr.get(child_id).record()["name"] == "from-child"
    assert {s.id for s in mgr.list()} == {parent_session.id, child_id}
    parent_session.send("parent still here")
    wait_until(lambda: b"parent still here" in parent_session.output()[0], timeout=30,
               what="the parent's session to echo")
    parent_session.stop(timeout=5)
    assert parent_session.state in ("stopped", "failed")
    mgr.remove(child_id)
    assert [s.id for s in mgr.list()] == [parent_session.id]
    assert integrity(home) == "ok"


# The id suffix comes from the OS (getrandom), never from a generator a fork copies.
def test_ids_made_in_a_forked_child_and_its_parent_differ(home: Path) -> None:
    lc = agent_sessions._native.Lifecycle(home)
    lc.create_session()  # the parent has drawn from its generator before forking
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, lc.create_session().encode())
        finally:
            os._exit(0)
    os.close(w)
    child_id = os.read(r, 200).decode()
    os.close(r)
    os.waitpid(pid, 0)
    parent_id = lc.create_session()
    # The random suffixes (not the second they were made in, which may differ) must differ.
    assert child_id[-8:] != parent_id[-8:], (child_id, parent_id)


#: Holds the store's write lock until told to let go (a line on stdin), at most 120 s.
HOLDER = textwrap.dedent("""
    import sqlite3, sys, threading
    db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE sessions SET name = name")
    print("locked", flush=True)
    released = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), released.set()), daemon=True).start()
    released.wait(120)
    db.execute("COMMIT")
    print("released", flush=True)
""")


def test_threads_read_while_another_process_holds_the_write_lock(
        mgr: SessionManager, home: Path) -> None:
    live = mgr.start("custom", ["cat"], idle_after=0.3)
    live.wait_for(["running", "waiting_input"], timeout=20)
    ended = mgr.start("custom", [PY, "-c", "print('bye')"])
    ended.wait_for(["stopped", "failed"], timeout=20)
    ids = {live.id, ended.id}

    holder = subprocess.Popen([PY, "-c", HOLDER, str(home / "agent-sessions.db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "locked"

        # A writer in this process waits for the lock (SQLite's busy wait, up to 30 s)...
        removed: list[object] = []

        def writer() -> None:
            try:
                mgr.remove(ended.id)
                removed.append(True)
            except BaseException as e:  # reported below
                removed.append(e)

        w = threading.Thread(target=writer, daemon=True)
        w.start()

        # ...while eight threads sharing the same manager read, many times each.
        errors: list[BaseException] = []

        def reader() -> None:
            try:
                for _ in range(25):
                    assert {s.id for s in mgr.list()} == ids
                    assert mgr.get(live.id).state in ("running", "waiting_input")
                    assert mgr.get(ended.id).state in ("stopped", "failed")
                    mgr.get(live.id).events()
            except BaseException as e:  # reported below
                errors.append(e)

        readers = [threading.Thread(target=reader, daemon=True) for _ in range(8)]
        for t in readers:
            t.start()
        # Every reader finishes while the lock is still held (the holder lets go only when
        # told): reads wait neither for writers nor for each other. The bound is generous
        # but below SQLite's 30 s busy wait, which readers queued behind the writer would
        # sit out.
        deadline = time.monotonic() + 25
        for t in readers:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in readers), \
            "readers did not finish while another process held the write lock"
        assert not errors, errors
        assert holder.poll() is None, "the lock holder ended early"
        assert not removed, f"the write finished while another process held the lock: {removed}"
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    holder.wait(timeout=30)

    # Once the lock is free, the waiting write goes through.
    w.join(timeout=60)
    assert removed == [True], removed
    assert [s.id for s in mgr.list()] == [live.id]
    live.stop(timeout=5)
    assert integrity(home) == "ok"
