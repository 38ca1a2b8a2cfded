"""Hosted sessions from Python: SessionManager and Session over real session hosts, with
small fake agents (`cat`, `python3 -c ...`) run as agent type "custom"."""

from __future__ import annotations

import builtins
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import agent_sessions
from agent_sessions import AgentSession, SessionManager

from conftest import BIN, script, wait_until

PY = sys.executable


def start_cat(mgr: SessionManager, **kw: object) -> agent_sessions.Session:
    return mgr.start("custom", ["cat"], idle_after=0.3, **kw)  # type: ignore[arg-type]


def all_output(s: agent_sessions.Session) -> bytes:
    return s.output()[0]


def test_start_send_wait_screen_stop(mgr: SessionManager, tmp_path: Path) -> None:
    s = start_cat(mgr, task_id="T42", name="echoer", cols=100, rows=30)
    assert s.id.startswith("agent-")
    assert s.state in ("starting", "running", "waiting_input")
    s.send("hello from python")
    wait_until(lambda: b"hello from python" in all_output(s), what="echo")
    assert s.wait_for("waiting_input", timeout=20) is s
    assert s.state == "waiting_input"
    assert "hello from python" in s.screen()
    data, nxt = s.output()
    assert nxt == len(data)
    assert s.output(nxt) == (b"", nxt)
    assert s.output(0, max_bytes=5)[0] == data[:5]
    rec = s.record()
    assert (rec["session_id"], rec["kind"], rec["agent_type"]) == (s.id, "hosted", "custom")
    assert (rec["task_id"], rec["name"], rec["cols"], rec["rows"]) == ("T42", "echoer", 100, 30)
    assert rec["command"][0].endswith("cat") and len(rec["command"]) == 1
    s.stop(timeout=5)
    assert s.state in ("stopped", "failed")
    assert s.refresh() is s and s.state in ("stopped", "failed")


def test_send_keys_and_natural_exit(mgr: SessionManager) -> None:
    s = start_cat(mgr)
    s.send("abc", enter=False)
    s.send_keys("Enter")
    wait_until(lambda: all_output(s).count(b"abc") >= 2, what="echo of abc")
    s.send_keys(["C-d"])  # a list works too; EOF ends cat
    s.wait_for("stopped", timeout=20)
    assert s.record()["exit_code"] == 0
    with pytest.raises(agent_sessions.SessionNotRunningError):
        s.send("too late")
    with pytest.raises(agent_sessions.StateUnreachableError):
        s.wait_for("running", timeout=5)
    with pytest.raises(ValueError):
        s.send_keys()


def test_stream_yields_live_output_and_ends(mgr: SessionManager) -> None:
    code = "import time\nfor i in range(5):\n    print(f'line-{i}', flush=True)\n    time.sleep(0.1)\n"
    s = mgr.start("custom", [PY, "-c", code])
    chunks = list(s.stream())
    text = b"".join(chunks)
    for i in range(5):
        assert f"line-{i}".encode() in text
    assert s.refresh().state in ("stopped", "failed")
    # From an offset.
    st = s.stream(offset=len(text) - 3)
    assert b"".join(st) == text[-3:]
    assert st.offset == len(text)


def test_cwd_env_and_record_keys(mgr: SessionManager, tmp_path: Path) -> None:
    code = "import os; print('CWD=' + os.getcwd()); print('FOO=' + os.environ['FOO'])"
    s = mgr.start("custom", [PY, "-c", code], cwd=tmp_path, env={"FOO": "bar baz"})
    s.wait_for("stopped", timeout=20)
    out = all_output(s).decode()
    assert f"CWD={tmp_path.resolve()}" in out and "FOO=bar baz" in out
    rec = s.record()
    assert rec["env_keys"] == ["FOO"]
    assert "bar baz" not in json.dumps(rec)  # values are never stored
    s2 = mgr.start("custom", [PY, "-c", "print(1)"], env=[("A", "1"), ("B", "2")])
    assert s2.record()["env_keys"] == ["A", "B"]


def test_record_matches_cli_json(mgr: SessionManager, home: Path) -> None:
    cli = script("agent-sessions")
    s = mgr.start("custom", [PY, "-c", "print('bye')"], name="cli-check")
    s.wait_for("stopped", timeout=20)
    # The host stores the final token figures just after it records the ending; until it
    # has exited, `show` computes them live (with their time) and the record has none yet.
    host = s.record()["host_pid"]

    def host_gone() -> bool:
        # A zombie's other threads may still be exiting, and the last one releases the
        # host's lock: gone means a zombie with only its main thread left.
        try:
            with open(f"/proc/{host}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
            return zombie and len(os.listdir(f"/proc/{host}/task")) <= 1
        except OSError:
            return True

    wait_until(host_gone, 20)
    r = subprocess.run([str(cli), "--home", str(home), "--json", "show", s.id],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == s.record()


def test_get_and_list(mgr: SessionManager) -> None:
    a = start_cat(mgr, task_id="TA")
    b = mgr.start("custom", [PY, "-c", "print(2)"], task_id="TB")
    b.wait_for("stopped", timeout=20)
    assert mgr.get(a.id) == a and hash(mgr.get(a.id)) == hash(a)
    ids = [s.id for s in mgr.list()]
    assert set(ids) >= {a.id, b.id}
    assert [s.id for s in mgr.list(task_id="TB")] == [b.id]
    assert [s.id for s in mgr.list(state="stopped")] == [b.id]
    assert b.id not in [s.id for s in mgr.list(state="running")]
    assert {s.id for s in mgr.list(agent="custom")} >= {a.id, b.id}
    assert mgr.list(agent="claude") == []
    with pytest.raises(agent_sessions.InvalidArgumentError):
        mgr.list(state="sleeping")
    a.stop(timeout=5)
    mgr.remove(b.id)
    with pytest.raises(agent_sessions.SessionNotFoundError):
        mgr.get(b.id)


def test_exceptions(mgr: SessionManager, tmp_path: Path) -> None:
    with pytest.raises(agent_sessions.SessionNotFoundError) as nf:
        mgr.get("agent-20990101-000000-00000000")
    assert isinstance(nf.value, LookupError) and isinstance(nf.value, agent_sessions.AgentSessionsError)
    assert "agent-sessions ls" in str(nf.value)
    with pytest.raises(agent_sessions.InvalidSessionIdError) as bad:
        mgr.get("../../etc/passwd")
    assert isinstance(bad.value, ValueError)
    with pytest.raises(agent_sessions.UnsupportedAgentError):
        mgr.start("no-such-agent")
    with pytest.raises(agent_sessions.LaunchError):
        mgr.start("custom", ["/nonexistent/program"])
    with pytest.raises(TypeError):
        mgr.start("custom", "cat")  # a string, not a list

    # Timeouts are also builtin TimeoutErrors, and take about as long as asked.
    s = start_cat(mgr)
    t0 = time.monotonic()
    with pytest.raises(builtins.TimeoutError) as te:
        s.wait_for("stopped", timeout=0.5)
    assert isinstance(te.value, agent_sessions.TimeoutError)
    assert 0.45 <= time.monotonic() - t0 < 5
    assert "timed out after 0.5s" in str(te.value)
    s.stop(force=True)

    # An I/O cause makes the exception an OSError too.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(agent_sessions.AgentSessionsError) as io:
        SessionManager(blocker / "home")
    assert isinstance(io.value, NotADirectoryError)
    assert io.value.errno == errno.ENOTDIR
    assert "creating" in str(io.value)
    with pytest.raises(FileExistsError):
        AgentSession(blocker)  # the home is a file


def test_error_classes_from_kinds() -> None:
    from agent_sessions._errors import make_error

    e = make_error("Store", "disk full", errno.ENOSPC)
    assert isinstance(e, agent_sessions.StoreError) and isinstance(e, OSError)
    assert e.errno == errno.ENOSPC and str(e) == "disk full"
    e = make_error("Io", "gone", errno.ENOENT)
    assert isinstance(e, FileNotFoundError) and isinstance(e, agent_sessions.AgentSessionsError)
    assert isinstance(make_error("Timeout", "t"), builtins.TimeoutError)
    assert type(make_error("Store", "a", errno.EIO)) is type(make_error("Store", "b", errno.EIO))
    assert isinstance(make_error("Whatever", "x"), agent_sessions.AgentSessionsError)


def test_gil_released_and_threads_share_a_session(mgr: SessionManager) -> None:
    s = start_cat(mgr)
    done = threading.Event()
    count = 0

    def waiter() -> None:
        try:
            s.wait_for("stopped", timeout=1.0)
        except agent_sessions.TimeoutError:
            pass
        done.set()

    t = threading.Thread(target=waiter)
    t.start()
    while not done.is_set():
        count += 1
    t.join()
    assert count > 10_000  # the main thread ran Python code all along

    errors: list[BaseException] = []

    def sender(n: int) -> None:
        try:
            for i in range(10):
                s.send(f"t{n}-{i}")
                s.refresh()
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    wait_until(lambda: all(f"t{n}-9".encode() in all_output(s) for n in range(6)),
               what="every thread's input")
    s.stop(timeout=5)


INTERRUPTIBLE = textwrap.dedent("""
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
        if sys.argv[2] == "wait":
            s.wait_for("stopped")
        else:
            for chunk in s.stream():
                pass
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic() - t0:.3f}", flush=True)
    finally:
        s.stop(timeout=5, force=True)
""")


@pytest.mark.parametrize("mode", ["wait", "stream"])
def test_ctrl_c_interrupts(home: Path, mode: str) -> None:
    p = subprocess.Popen([PY, "-c", INTERRUPTIBLE, str(home), mode], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # let it enter the blocking call
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"still running 30 s after SIGINT; stdout {out!r}, stderr:\n{err}")
    assert p.returncode == 0, err
    assert out.startswith("interrupted"), (out, err)
    assert time.monotonic() - sent < 5


def test_hosted_session_carries_a_phase(mgr: SessionManager, home: Path) -> None:
    s = start_cat(mgr)
    s.wait_for("waiting_input", timeout=20)
    assert s.lifecycle() is None
    s.set_phase("planning", metadata={"plan": "p"})
    assert s.phase == "planning" and s.state == "waiting_input"  # process state untouched
    doc = s.lifecycle()
    assert doc is not None and doc["metadata"] == {"plan": "p"} and doc["agent_name"] == "custom"
    lc = AgentSession(home)
    assert lc.get_session(s.id)["phase"] == "planning"  # type: ignore[index]
    assert lc.update_state(s.id, phase="approval")
    assert s.refresh().phase == "approval" and s.state == "waiting_input"
    # A resumable phase, but the agent is running (and `custom` cannot resume a
    # conversation): the decision agrees with what `resume` could do, so it says no.
    assert not lc.should_resume(s.id)
    assert s.id in [r["agent_id"] for r in lc.list_sessions()]
    with pytest.raises(agent_sessions.InvalidPhaseError):
        s.set_phase("bogus")
    # Cleanup of old records never removes a hosted session.
    assert lc.cleanup_old_sessions(hours=0) == 0
    s.stop(timeout=5)
    assert mgr.get(s.id).phase == "approval"


def test_installed_command_and_host(home: Path, tmp_path: Path) -> None:
    exe = script("agent-sessions")
    r = subprocess.run([str(exe), "agents"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "custom" in r.stdout
    from agent_sessions import _host

    assert _host.host_binary() == str(exe)
    # A session starts from a bare environment: no PATH, no AGENT_SESSIONS_HOST_BIN.
    code = textwrap.dedent("""
        import sys, agent_sessions
        s = agent_sessions.SessionManager(sys.argv[1]).start("custom", ["/bin/cat"])
        s.send("ping")
        import time
        deadline = time.monotonic() + 20
        while b"ping" not in s.output()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        s.stop(timeout=5)
        print("ok" if b"ping" in s.output()[0] else "no echo")
    """)
    r = subprocess.run([PY, "-c", code, str(home)], env={"HOME": str(tmp_path)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_usage_and_telemetry(mgr: SessionManager, home: Path) -> None:
    s = mgr.start("custom", [PY, "-c", "print('hi')"])
    s.wait_for("stopped", timeout=20)
    u = s.usage()
    assert u["session_id"] == s.id
    for k in ("tokens_input", "tokens_output", "tokens_cache_read", "tokens_cache_write",
              "total_tokens", "cost_usd", "cost_estimated", "source", "model"):
        assert k in u, k
    assert u["total_tokens"] is None  # a custom program reports no tokens
    cli = script("agent-sessions")
    r = subprocess.run([str(cli), "--home", str(home), "--json", "usage", s.id],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == u
    t = s.telemetry()
    assert t["session_id"] == s.id and "duration_ms" in t and "sample_count" in t
    assert t["exit_code"] == 0


def test_watch_makes_an_idle_session_sample_live(mgr: SessionManager) -> None:
    s = start_cat(mgr)
    s.wait_for(["running", "waiting_input"], timeout=30)
    wait_until(lambda: s.telemetry()["sample_count"] >= 1, 30)
    # Idle and unwatched, `cat` is sampled less and less often and written every 5 minutes;
    # watched, it is sampled each second and written at once.
    with mgr.watch() as lease:
        assert lease.active
        wait_until(lambda: s.telemetry()["sample_count"] >= 4, 30)
        last = s.telemetry()["last_sample"]
        assert last is not None and last["process_count"] == 1
    assert not lease.active
    lease.close()  # idempotent
    s.stop(timeout=10)
