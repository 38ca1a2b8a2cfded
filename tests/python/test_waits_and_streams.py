"""Waiting for one of several states, and following output across log rotations, over real
sessions."""

from __future__ import annotations

import sys
import threading

import pytest

import agent_sessions
from agent_sessions import SessionManager

PY = sys.executable

#: Prints numbered lines (about 240 KB, many times the smallest log cap), then "done".
NOISY = (
    "import sys\n"
    "for i in range(20000):\n"
    "    sys.stdout.write(f'line-{i:06d}\\n')\n"
    "sys.stdout.write('done\\n')\n"
    "sys.stdout.flush()\n"
)


def test_wait_for_any_of_several_states(mgr: SessionManager) -> None:
    s = mgr.start("custom", ["cat"], idle_after=0.3)
    assert s.wait_for(["running", "waiting_input"], 20) is s
    assert s.state in ("running", "waiting_input")
    assert s.wait_for(("waiting_input",), timeout=20).state == "waiting_input"
    with pytest.raises(agent_sessions.TimeoutError) as te:
        s.wait_for(["stopped", "failed"], timeout=0.3)
    assert "timed out after 0.3s" in str(te.value)
    with pytest.raises(agent_sessions.InvalidArgumentError):
        s.wait_for([], timeout=1)
    with pytest.raises(agent_sessions.InvalidArgumentError):
        s.wait_for(["running", "sleeping"], timeout=1)
    with pytest.raises(TypeError):
        s.wait_for(5, timeout=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.wait_for(["running", 5], timeout=1)  # type: ignore[list-item]
    s.stop(timeout=5)
    assert s.wait_for(["stopped", "failed"], timeout=20).state in ("stopped", "failed")
    # Ended: neither state can come any more, so it fails at once, not after the timeout.
    with pytest.raises(agent_sessions.StateUnreachableError):
        s.wait_for(["running", "waiting_input"], timeout=600)


def _drain(stream: agent_sessions.OutputStream) -> list[bytes]:
    """Reads `stream` to its end in a thread (so a stalled stream fails the test instead of
    hanging it), as segments of contiguous bytes: a new segment starts where the offset
    jumped past bytes a log rotation dropped before they were read."""
    segments: list[bytes] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            at = stream.offset
            for c in stream:
                start = stream.offset - len(c)
                assert start >= at, (start, at)  # never backwards, never a byte twice
                if start > at or not segments:
                    segments.append(b"")
                segments[-1] += c
                at = stream.offset
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), f"the stream stalled at offset {stream.offset}"
    assert not errors, errors
    return segments


def _check_lines(segments: list[bytes]) -> list[int]:
    """The numbered lines a follower got, checking it ended with "done". A segment after a
    gap may begin, and one before a gap end, inside a line: those pieces are not counted."""
    numbered: list[int] = []
    for n, seg in enumerate(segments):
        lines = seg.replace(b"\r\n", b"\n").split(b"\n")
        if n > 0:
            lines = lines[1:]
        lines = lines[:-1]  # the piece after the last newline
        numbered += [int(l[5:]) for l in lines if l.startswith(b"line-")]
        if n == len(segments) - 1:
            assert lines[-1] == b"done", lines[-3:]
    assert numbered, segments
    return numbered


@pytest.mark.parametrize("live", [True, False], ids=["while-writing", "after-the-end"])
def test_stream_follows_across_log_rotations(mgr: SessionManager, live: bool) -> None:
    s = mgr.start("custom", [PY, "-c", NOISY], max_log_bytes=8192)
    if not live:
        s.wait_for(["stopped", "failed"], timeout=60)
    st = s.stream()
    assert st.session_id == s.id
    numbered = _check_lines(_drain(st))  # it ends, with the last line
    if not live:
        assert numbered == sorted(set(numbered))
    assert s.refresh().state == "stopped"
    # It ended at the end of the output: nothing is left past its offset.
    data, nxt = s.output(st.offset)
    assert (data, nxt) == (b"", st.offset)
    assert st.offset > 200_000  # offsets count every byte written, rotated or not
    # Older output than the log keeps continues at the oldest byte kept.
    again = s.stream(offset=0)
    numbered = _check_lines(_drain(again))
    assert numbered == sorted(set(numbered))
    assert again.offset == st.offset


def test_a_live_stream_gets_each_line_once_in_order(mgr: SessionManager) -> None:
    for _ in range(3):
        s = mgr.start("custom", [PY, "-c", NOISY], max_log_bytes=8192)
        numbered = _check_lines(_drain(s.stream()))
        assert numbered == sorted(set(numbered))
