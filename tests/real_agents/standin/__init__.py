"""A loopback stand-in for the LLM APIs the real agent CLIs call, for the real-agent tests.

One threaded HTTP server on 127.0.0.1 speaks four wire formats, each in its own module:
Anthropic Messages (Claude Code), OpenAI Responses (Codex), Gemini generateContent (Gemini
CLI) and OpenAI-compatible chat completions (opencode). All stream with server-sent events.

What it answers is decided by a small script read from the newest user text of a request
(see `Script.decide`), so a test steers a real agent just by what it types:

    PING            a short reply, "PONG"
    SLOW            a reply streamed in three parts with `silence` seconds between them
    HOLD            one part, then nothing until the client gives up (for interrupts)
    RUN: <command>  a shell tool call running <command>, then "TOOL-DONE" once its result is back
    ASK             a question tool call (the agent's own question tool), then "ANSWERED"

Every request is billed a distinct, known usage (input grows by 10 a request), and the
server keeps the list, so a test can compare what an agent reported with what was billed.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass
class Usage:
    """What one response billed."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"input": self.input, "output": self.output,
                "cache_read": self.cache_read, "cache_write": self.cache_write}


@dataclass
class Conversation:
    """What a dialect read from one request, in wire-independent terms."""

    user_text: str = ""
    #: The request ends with tool results (the agent ran our tool call and reports back).
    tool_results: list[str] = field(default_factory=list)
    #: Names of the tools the request offers.
    tools: list[str] = field(default_factory=list)
    #: The request is an auxiliary one (a title, a routing classifier), not a turn.
    auxiliary: bool = False


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    call_id: str


@dataclass
class Reply:
    """What to answer: text parts with pauses before each, or a tool call."""

    parts: list[str] = field(default_factory=list)
    #: Seconds to wait before each part (same length as `parts`).
    pauses: list[float] = field(default_factory=list)
    tool_call: Optional[ToolCall] = None
    #: Never finish: stream the parts, then hold the connection until the client leaves.
    hold: bool = False


@dataclass
class Billed:
    api: str
    path: str
    model: str
    auxiliary: bool
    usage: Usage
    #: The response ran to its end (a held or aborted one did not).
    completed: bool = False
    decided: str = ""
    #: The request body as received (set by the Anthropic and Responses dialects), so a test
    #: can check what the agent sent: an answer, the conversation after a resume.
    request: Any = field(default=None, repr=False)
    #: Wall-clock time (time.time()) the response's last byte was written.
    finished_at: float = 0.0


class Script:
    """Chooses a reply from a conversation. `shell_tool` and `question_tool` name the
    dialect's tools; a tool the request does not offer is never called."""

    def __init__(self, silence: float = 3.0):
        self.silence = silence
        #: Every tool result the agents sent back (a command's output, a question's answer).
        self.tool_results_seen: list[str] = []
        self._n = 0
        self._lock = threading.Lock()

    def next_call_id(self) -> str:
        with self._lock:
            self._n += 1
            return f"call_{self._n}"

    def decide(self, conv: Conversation, shell_tool: Optional[str],
               question_tool: Optional[str],
               shell_args: Callable[[str], dict[str, Any]],
               question_args: Callable[[], dict[str, Any]]) -> tuple[str, Reply]:
        text = conv.user_text
        with self._lock:
            self.tool_results_seen.extend(conv.tool_results)
        if conv.auxiliary:
            return "auxiliary", Reply(parts=["Stand-in title"], pauses=[0.0])
        # Tool results answer our call when the newest user text is the prompt that asked for
        # it; text typed after a refused call (Claude sends both together) is a new prompt.
        if conv.tool_results and ("RUN:" in text or "ASK" in text):
            word = "ANSWERED" if "ASK" in text else "TOOL-DONE"
            return "after-tool", Reply(parts=[f"{word} "], pauses=[0.0])
        if "RUN:" in text and shell_tool and shell_tool in conv.tools:
            cmd = text.split("RUN:", 1)[1].strip().splitlines()[0].strip()
            return "tool", Reply(tool_call=ToolCall(shell_tool, shell_args(cmd),
                                                    self.next_call_id()))
        if "ASK" in text and question_tool and question_tool in conv.tools:
            return "question", Reply(tool_call=ToolCall(question_tool, question_args(),
                                                        self.next_call_id()))
        if "SLOW" in text:
            s = self.silence
            return "slow", Reply(parts=["Slow reply part one. ", "Part two. ", "SLOW-DONE"],
                                 pauses=[0.2, s, s])
        if "HOLD" in text:
            return "hold", Reply(parts=["Holding on. "], pauses=[0.2], hold=True)
        if "PING" in text:
            return "ping", Reply(parts=["PONG"], pauses=[0.1])
        return "other", Reply(parts=["OK"], pauses=[0.0])


class Dialect:
    """One wire format. Subclasses set `api`, answer `handles(path)` and `serve`."""

    api = ""

    def handles(self, method: str, path: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def serve(self, h: "Handler", body: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class StandIn:
    """The server. `url` is its base (http://127.0.0.1:PORT); `billed` lists every response."""

    def __init__(self, silence: float = 3.0):
        from . import anthropic, chat, gemini, responses

        self.script = Script(silence)
        self.dialects: list[Dialect] = [anthropic.Messages(), responses.Responses(),
                                        gemini.Gemini(), chat.Chat()]
        self.billed: list[Billed] = []
        self.unhandled: list[str] = []
        self._lock = threading.Lock()
        self._count = 0
        server = _Server(("127.0.0.1", 0), Handler)
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def bill(self, api: str, path: str, model: str, auxiliary: bool, decided: str) -> Billed:
        """Records a response and returns it; its usage is distinct from every other's."""
        with self._lock:
            self._count += 1
            n = self._count
            b = Billed(api, path, model, auxiliary,
                       Usage(input=1000 + 10 * n, output=20 + n, cache_read=300, cache_write=40),
                       decided=decided)
            self.billed.append(b)
        _current.billed = b
        return b

    @property
    def tool_results_seen(self) -> list[str]:
        return self.script.tool_results_seen

    def turns(self, api: Optional[str] = None) -> list[Billed]:
        with self._lock:
            return [b for b in self.billed if api is None or b.api == api]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


#: The response the request being served on this thread billed (for its finish time).
_current = threading.local()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *a: Any) -> None:
        pass

    @property
    def standin(self) -> StandIn:
        return self.server.standin  # type: ignore[attr-defined]

    def _body(self) -> Any:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _route(self, method: str) -> None:
        body = self._body() if method == "POST" else None
        path = self.path.split("?", 1)[0]
        for d in self.standin.dialects:
            if d.handles(method, path):
                _current.billed = None
                try:
                    d.serve(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                billed = getattr(_current, "billed", None)
                if billed is not None:
                    billed.finished_at = time.time()
                return
        self.standin.unhandled.append(f"{method} {self.path}")
        self.send_json({"error": {"message": f"stand-in: no route for {method} {path}"}}, 404)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    # Helpers for dialects.
    def send_json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data: Any, event: Optional[str] = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {event}\n" if event else ""
        self.wfile.write(f"{head}data: {payload}\n\n".encode())
        self.wfile.flush()

    def hold(self) -> None:
        """Keeps a streamed response open until the client goes away (or 120 s)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
            except OSError:
                return
