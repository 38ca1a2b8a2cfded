"""`agent-sessions mcp` (stdio) and `agent-sessions serve`'s `/mcp` (MCP's streamable HTTP),
driven by the official MCP Python SDK as a real client: initialize, list the tools, start a
session of the fake agent, send, wait, read the screen, stop; and the refusals, each a tool
error with its kind, never a protocol failure. Over HTTP the token is needed as for the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

import agent_sessions

from conftest import script

FAKE = Path(__file__).resolve().parents[1] / "fake_agents" / "fake_agent.py"

WANTED_TOOLS = {"start_session", "send", "wait_for_state", "get_screen", "get_session",
                "list_sessions", "get_usage", "interrupt", "stop", "approve", "deny",
                "get_pending", "send_keys", "snapshot", "restore"}


async def call(session: ClientSession, tool: str, /, **args: Any) -> tuple[bool, Any]:
    """(is_error, the JSON of a result or the text of an error)."""
    r = await session.call_tool(tool, args)
    text = r.content[0].text  # type: ignore[union-attr]
    return r.is_error, (text if r.is_error else json.loads(text))


@contextlib.contextmanager
def serve(home: Path) -> Iterator[tuple[str, str]]:
    """`agent-sessions serve` on a free loopback port: (its URL, its token)."""
    proc = subprocess.Popen([str(script("agent-sessions")), "serve", "--listen", "127.0.0.1:0",
                             "--json"], env={**os.environ, "AGENT_SESSIONS_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        yield ready["url"], Path(ready["token_path"]).read_text().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.asynccontextmanager
async def connect(home: Path, transport: str) -> AsyncIterator[ClientSession]:
    if transport == "stdio":
        params = StdioServerParameters(command=str(script("agent-sessions")), args=["mcp"],
                                       env={"AGENT_SESSIONS_HOME": str(home)})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                yield session
        return
    with serve(home) as (url, token):
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http, streamable_http_client(f"{url}/mcp", http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                yield session


async def drive(home: Path, transport: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with connect(home, transport) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        seen["tools"] = {t.name: t for t in tools}

        err, rec = await call(session, "start_session", agent="custom",
                              args=[sys.executable, str(FAKE)], cwd=str(home),
                              task_id="T-mcp", name="via-mcp")
        assert not err, rec
        sid = rec["session_id"]
        seen["started"] = rec
        err, rec = await call(session, "wait_for_state", session_id=sid,
                              states=["waiting_input"], timeout_secs=30)
        assert not err, rec
        err, ok = await call(session, "send", session_id=sid, text="hello over mcp")
        assert (err, ok) == (False, {"ok": True, "session_id": sid})
        screen = ""
        for _ in range(300):
            err, s = await call(session, "get_screen", session_id=sid)
            screen = s["text"]
            if "echo: hello over mcp" in screen:
                break
            await asyncio.sleep(0.05)
        seen["screen"] = screen
        seen["listed"] = (await call(session, "list_sessions", task_id="T-mcp"))[1]
        seen["got"] = (await call(session, "get_session", session_id=sid))[1]
        seen["usage"] = await call(session, "get_usage", session_id=sid)
        seen["pending"] = await call(session, "get_pending", session_id=sid)
        seen["stopped"] = await call(session, "stop", session_id=sid, timeout_secs=10)
        # A point to come back to, and a new session from it (in the same folder: no
        # workspace archived, so none is unpacked).
        seen["snapshot"] = await call(session, "snapshot", session_id=sid, name="mcp-snap",
                                      workspace=False)
        seen["restored"] = await call(session, "restore", snapshot="mcp-snap")
        if not seen["restored"][0]:
            await call(session, "stop", session_id=seen["restored"][1]["session_id"],
                       timeout_secs=10, force=True)
        seen["no_snapshot"] = await call(session, "restore", snapshot="nothing-here")

        # Refusals: tool errors that say what is wrong.
        seen["late_send"] = await call(session, "send", session_id=sid, text="late")
        seen["unknown"] = await call(session, "get_session",
                                     session_id="agent-20260101-000000-00000000")
        seen["bad_id"] = await call(session, "get_session", session_id="../etc")
        seen["no_id"] = await call(session, "send", text="to whom?")
        seen["bad_arg"] = await call(session, "stop", session_id=sid, timeout_secs=1e300)
        seen["extra"] = await call(session, "send", session_id=sid, text="x", bogus=1)
        seen["no_tool"] = await call(session, "dance")
        # Still serving after all that.
        seen["after"] = await call(session, "list_sessions")
        seen["sid"] = sid
    return seen


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_orchestrator_runs_a_sub_agent_through_the_mcp_tools(home: Path, transport: str) -> None:
    seen = asyncio.run(asyncio.wait_for(drive(home, transport), timeout=120))
    tools = seen["tools"]
    assert WANTED_TOOLS <= set(tools), sorted(tools)
    assert "session_id" in tools["send"].input_schema["required"]
    assert seen["started"]["state"] == "running"
    assert "echo: hello over mcp" in seen["screen"], seen["screen"]
    sid = seen["sid"]
    assert [r["session_id"] for r in seen["listed"]] == [sid]
    assert seen["got"]["name"] == "via-mcp"
    assert seen["usage"][0] is False and seen["usage"][1]["session_id"] == sid
    assert seen["pending"] == (False, None)
    assert seen["stopped"][0] is False and seen["stopped"][1]["state"] == "stopped"
    err, snap = seen["snapshot"]
    assert not err and snap["name"] == "mcp-snap" and snap["workspace"] is None, snap
    err, rec = seen["restored"]
    assert not err, rec
    assert rec["restored_from"]["snapshot_id"] == snap["snapshot_id"], rec
    assert rec["restored_from"]["session_id"] == sid, rec

    # The same session, as the library sees it.
    s = agent_sessions.SessionManager(home).get(sid)
    assert s.state == "stopped" and s.record()["task_id"] == "T-mcp"

    for key, kind in [("late_send", "session_not_running"), ("unknown", "session_not_found"),
                      ("bad_id", "invalid_session_id"), ("no_id", "bad_request"),
                      ("bad_arg", "invalid_argument"), ("extra", "invalid_json"),
                      ("no_tool", "bad_request"), ("no_snapshot", "snapshot_not_found")]:
        err, text = seen[key]
        assert err is True, (key, text)
        assert text.startswith(f"{kind}: "), (key, text)
    assert "list_sessions" in seen["no_id"][1]
    assert seen["after"][0] is False


def test_mcp_over_http_needs_the_token(home: Path) -> None:
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}}).encode()
    with serve(home) as (url, token):
        for auth in [None, "Bearer wrong"]:
            req = urllib.request.Request(f"{url}/mcp", data=init, method="POST", headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **({"Authorization": auth} if auth else {})})
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=30)
            assert e.value.code == 401
            assert json.loads(e.value.read())["error"]["kind"] == "unauthorized"
