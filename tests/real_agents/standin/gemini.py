"""Gemini generateContent, as Gemini CLI 0.61 calls it through GOOGLE_GEMINI_BASE_URL.

Seen from the real CLI (its requests, recorded against this stand-in):

- `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` for each turn of the main
  conversation: `{contents, systemInstruction, tools: [{functionDeclarations}],
  generationConfig}`. The first user content carries a `<session_context>` text; tool results
  come back as a user content whose parts are `functionResponse{name, response, id}` (the CLI
  makes up the id when the call had none).
- `POST /v1beta/models/<model>:generateContent` (not streamed) for the CLI's helper requests.
  With the default model (`auto`) the routing classifier asks one per prompt, on a lite model,
  with `generationConfig.responseJsonSchema` `{complexity_reasoning, complexity_score}` and
  `responseMimeType: application/json`; its answer picks the main model.
- `:countTokens` is not called in these flows; it is answered anyway.

Usage follows the API: `promptTokenCount` includes the cached tokens
(`cachedContentTokenCount`), so a billed `input` (the uncached part) is sent as
`input + cache_read`. The wire has no cache-write figure: a billed `cache_write` is not sent.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from . import Conversation, Dialect, Handler


def read(body: dict[str, Any], streaming: bool) -> Conversation:
    tools = []
    for t in body.get("tools") or []:
        for f in t.get("functionDeclarations") or t.get("function_declarations") or []:
            tools.append(f.get("name", ""))
    conv = Conversation(tools=tools)
    contents = body.get("contents") or []
    if contents and contents[-1].get("role") == "user":
        conv.tool_results = [json.dumps(p["functionResponse"]) for p in
                             contents[-1].get("parts") or [] if "functionResponse" in p]
    for c in reversed(contents):
        if c.get("role") != "user":
            continue
        texts = [p.get("text", "") for p in c.get("parts") or [] if "text" in p]
        # The CLI's own context (`<session_context>`, reminders) is not what the test typed.
        texts = [t for t in texts if t.strip() and not t.lstrip().startswith("<")]
        if texts:
            conv.user_text = texts[-1]
            break
    # The non-streamed calls are the CLI's helpers (the routing classifier, checks).
    conv.auxiliary = not streaming
    return conv


def _fill(schema: Any) -> Any:
    """A value matching a JSON schema (Gemini's upper-case types too), for the helper requests
    that ask for JSON. Numbers are 10: the classifier's low complexity score picks a flash
    model."""
    if not isinstance(schema, dict):
        return "stand-in"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = str(schema.get("type", "object")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _fill(v) for k, v in props.items()}
    if kind == "array":
        return [_fill(schema.get("items"))]
    if kind in ("integer", "number"):
        return 10
    if kind == "boolean":
        return False
    return "stand-in"


def _usage(u: Any) -> dict[str, int]:
    prompt = u.input + u.cache_read
    return {"promptTokenCount": prompt, "candidatesTokenCount": u.output,
            "cachedContentTokenCount": u.cache_read, "totalTokenCount": prompt + u.output}


class Gemini(Dialect):
    api = "gemini"

    def __init__(self) -> None:
        #: Every request body, in order, with its path: (path, body).
        self.requests: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def handles(self, method: str, path: str) -> bool:
        return path.startswith("/v1beta/models") or path.startswith("/v1/models")

    def serve(self, h: Handler, body: Any) -> None:
        path = h.path.split("?", 1)[0]
        if h.command == "GET":
            h.send_json({"models": []})
            return
        if not isinstance(body, dict):
            h.send_json({"error": {"code": 400, "message": "stand-in: not JSON"}}, 400)
            return
        with self._lock:
            self.requests.append((path, body))
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        if path.endswith(":countTokens"):
            h.send_json({"totalTokens": 1000})
            return
        streaming = path.endswith(":streamGenerateContent")
        conv = read(body, streaming)
        decided, reply = h.standin.script.decide(
            conv, "run_shell_command", "ask_user",
            lambda cmd: {"command": cmd, "description": "Run the command the test asked for"},
            lambda: {"questions": [{"question": "Which colour should it be?",
                                    "header": "Colour", "type": "choice",
                                    "options": [{"label": "Red", "description": "warm"},
                                                {"label": "Blue", "description": "cool"}]}]})
        billed = h.standin.bill(self.api, path, model, conv.auxiliary, decided)
        usage = _usage(billed.usage)
        if not streaming:
            gen = body.get("generationConfig") or {}
            schema = gen.get("responseJsonSchema") or gen.get("responseSchema")
            text = json.dumps(_fill(schema)) if schema else "".join(reply.parts)
            h.send_json({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                         "finishReason": "STOP", "index": 0}],
                         "usageMetadata": usage, "modelVersion": model})
            billed.completed = True
            return
        h.start_sse()

        def chunk(parts: list[dict[str, Any]], finish: bool) -> None:
            cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            data: dict[str, Any] = {"candidates": [cand], "modelVersion": model}
            if finish:
                cand["finishReason"] = "STOP"
                data["usageMetadata"] = usage
            h.sse(data)

        if reply.tool_call:
            tc = reply.tool_call
            # No call id, as the real API sends none: the CLI makes one up.
            chunk([{"functionCall": {"name": tc.name, "args": tc.args}}], True)
        else:
            n = len(reply.parts)
            for i, (part, pause) in enumerate(zip(reply.parts, reply.pauses)):
                if pause:
                    time.sleep(pause)
                chunk([{"text": part}], i == n - 1 and not reply.hold)
            if reply.hold:
                h.hold()
                return
        billed.completed = True
