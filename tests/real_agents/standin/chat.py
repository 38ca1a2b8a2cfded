"""OpenAI-compatible chat completions (`POST /v1/chat/completions`), as opencode 1.18 calls it
through a provider using `@ai-sdk/openai-compatible`.

Seen from the real CLI (its requests, recorded against this stand-in):

- Every request streams: `{model, max_tokens, messages, stream: true,
  stream_options: {include_usage: true}}`, and the turns add `tools` and `tool_choice`.
- On the first prompt of a session a title request (system "You are a title generator…",
  no tools, the `small_model`) runs next to the turn's own request.
- Tool results come back as `{"role": "tool", "tool_call_id", "content"}` messages after the
  assistant's `tool_calls`; an answered `question` call's content reads
  `User has answered your questions: "<question>"="<label>". …`.
- Nothing else is fetched from the provider (no `/models`).

Usage follows the API: `prompt_tokens` includes the cached tokens
(`prompt_tokens_details.cached_tokens`), so a billed `input` (the uncached part) is sent as
`input + cache_read`; it is sent in a last chunk with no choices, as `include_usage` asks.
The wire has no cache-write figure: a billed `cache_write` is not sent.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from . import Conversation, Dialect, Handler


def read(body: dict[str, Any]) -> Conversation:
    tools = [(t.get("function") or {}).get("name", "") for t in body.get("tools") or []]
    conv = Conversation(tools=tools)
    msgs = body.get("messages") or []
    tail = []
    for m in reversed(msgs):
        if m.get("role") == "tool":
            tail.append(m.get("content") if isinstance(m.get("content"), str)
                        else json.dumps(m.get("content")))
            continue
        break
    conv.tool_results = list(reversed(tail))
    for m in reversed(msgs):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        texts = [c] if isinstance(c, str) else [p.get("text", "") for p in c or []
                                                 if isinstance(p, dict) and p.get("type") == "text"]
        texts = [t for t in texts if t.strip() and not t.lstrip().startswith("<")]
        if texts:
            conv.user_text = texts[-1]
            break
    # opencode's title request offers no tools.
    conv.auxiliary = not conv.tools
    return conv


class Chat(Dialect):
    api = "openai-chat"

    def __init__(self) -> None:
        #: Every request body, in order, with its path: (path, body).
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def handles(self, method: str, path: str) -> bool:
        return path.endswith("/chat/completions") or path.endswith("/models")

    def serve(self, h: Handler, body: Any) -> None:
        path = h.path.split("?", 1)[0]
        if path.endswith("/models"):
            h.send_json({"object": "list", "data": [{"id": "standin-model", "object": "model"}]})
            return
        if not isinstance(body, dict):
            h.send_json({"error": {"message": "stand-in: not JSON"}}, 400)
            return
        with self._lock:
            self.requests.append((path, body))
        conv = read(body)
        decided, reply = h.standin.script.decide(
            conv, "bash", "question",
            lambda cmd: {"command": cmd, "description": "Run the command the test asked for"},
            lambda: {"questions": [{"question": "Which colour should it be?",
                                    "header": "Colour",
                                    "options": [{"label": "Red", "description": "warm"},
                                                {"label": "Blue", "description": "cool"}]}]})
        model = body.get("model", "standin-model")
        billed = h.standin.bill(self.api, path, model, conv.auxiliary, decided)
        u = billed.usage
        cid = f"chatcmpl-{len(h.standin.billed)}"
        usage = {"prompt_tokens": u.input + u.cache_read, "completion_tokens": u.output,
                 "total_tokens": u.input + u.cache_read + u.output,
                 "prompt_tokens_details": {"cached_tokens": u.cache_read}}
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": "".join(reply.parts)}
            if reply.tool_call:
                msg = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": reply.tool_call.call_id, "type": "function", "function": {
                        "name": reply.tool_call.name,
                        "arguments": json.dumps(reply.tool_call.args)}}]}
            h.send_json({"id": cid, "object": "chat.completion", "created": int(time.time()),
                         "model": model, "choices": [{"index": 0, "message": msg,
                         "finish_reason": "tool_calls" if reply.tool_call else "stop"}],
                         "usage": usage})
            billed.completed = True
            return
        h.start_sse()

        def chunk(delta: dict[str, Any], finish: Any = None) -> None:
            h.sse({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                   "model": model, "choices": [{"index": 0, "delta": delta,
                                                "finish_reason": finish}]})

        chunk({"role": "assistant", "content": ""})
        if reply.tool_call:
            tc = reply.tool_call
            chunk({"tool_calls": [{"index": 0, "id": tc.call_id, "type": "function",
                                   "function": {"name": tc.name,
                                                "arguments": json.dumps(tc.args)}}]})
            chunk({}, "tool_calls")
        else:
            for part, pause in zip(reply.parts, reply.pauses):
                if pause:
                    time.sleep(pause)
                chunk({"content": part})
            if reply.hold:
                h.hold()
                return
            chunk({}, "stop")
        h.sse({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
               "model": model, "choices": [], "usage": usage})
        h.sse("[DONE]")
        billed.completed = True
