"""OpenAI Responses (`POST /v1/responses`), as Codex calls it through a custom model provider."""

from __future__ import annotations

import json
import time
from typing import Any

from . import Conversation, Dialect, Handler, Reply


def _tool_name(t: dict[str, Any]) -> str:
    return t.get("name") or t.get("type") or ""


def read(body: dict[str, Any]) -> Conversation:
    conv = Conversation(tools=[_tool_name(t) for t in body.get("tools") or []])
    items = body.get("input") or []
    if isinstance(items, str):
        conv.user_text = items
        items = []
    # Tool outputs after the newest user message: our tool call's result is back.
    for it in reversed(items):
        if not isinstance(it, dict):
            continue
        if it.get("type") == "function_call_output":
            out = it.get("output")
            conv.tool_results.append(out if isinstance(out, str) else json.dumps(out))
            continue
        if it.get("role") == "user":
            texts = [c.get("text", "") for c in it.get("content") or []
                     if isinstance(c, dict) and c.get("type") in ("input_text", "text")]
            # Codex sends its environment context as user messages too; skip those.
            texts = [t for t in texts if not t.lstrip().startswith("<")]
            if texts:
                conv.user_text = texts[-1]
                break
    # The thread-title request offers no tools.
    conv.auxiliary = not conv.tools
    return conv


class Responses(Dialect):
    api = "openai-responses"

    def handles(self, method: str, path: str) -> bool:
        return method == "POST" and path.endswith("/responses")

    def serve(self, h: Handler, body: Any) -> None:
        if not isinstance(body, dict):
            h.send_json({"error": {"message": "stand-in: not JSON"}}, 400)
            return
        conv = read(body)
        # request_user_input is offered in every request, but Codex 0.171 answers it with
        # "request_user_input is unavailable in Default mode" unless the session is in Plan
        # mode (`/plan`); the question test switches first.
        decided, reply = h.standin.script.decide(
            conv, "exec_command", "request_user_input",
            lambda cmd: {"cmd": cmd, "sandbox_permissions": "require_escalated",
                         "justification": "Run the command the test asked for?"},
            lambda: {"questions": [{"id": "colour", "header": "Colour",
                                    "question": "Which colour should it be?",
                                    "options": [{"label": "Red", "description": "warm"},
                                                {"label": "Blue", "description": "cool"}]}]})
        model = body.get("model", "gpt-stand-in")
        path = h.path.split("?", 1)[0]
        if conv.auxiliary and ((body.get("text") or {}).get("format") or {}).get(
                "type") == "json_schema":
            # Codex's thread-title request asks for {"title": ...} by a JSON schema.
            reply = Reply(parts=[json.dumps({"title": "Stand-in title"})], pauses=[0.0])
        billed = h.standin.bill(self.api, path, model, conv.auxiliary, decided)
        billed.request = body
        u = billed.usage
        rid = f"resp_{len(h.standin.billed)}"
        h.start_sse()

        def ev(data: dict[str, Any]) -> None:
            h.sse(data, event=data["type"])

        ev({"type": "response.created", "response": {"id": rid}})
        if reply.tool_call:
            tc = reply.tool_call
            item = {"type": "function_call", "id": "fc_" + tc.call_id, "call_id": tc.call_id,
                    "name": tc.name, "arguments": json.dumps(tc.args)}
            ev({"type": "response.output_item.done", "output_index": 0, "item": item})
        else:
            mid = f"msg_{rid}"
            ev({"type": "response.output_item.added", "output_index": 0,
                "item": {"type": "message", "role": "assistant", "id": mid, "content": []}})
            ev({"type": "response.content_part.added", "output_index": 0, "item_id": mid,
                "content_index": 0, "part": {"type": "output_text", "text": ""}})
            for part, pause in zip(reply.parts, reply.pauses):
                if pause:
                    time.sleep(pause)
                ev({"type": "response.output_text.delta", "output_index": 0, "item_id": mid,
                    "content_index": 0, "delta": part})
            if reply.hold:
                h.hold()
                return
            ev({"type": "response.output_item.done", "output_index": 0, "item": {
                "type": "message", "role": "assistant", "id": mid,
                "content": [{"type": "output_text", "text": "".join(reply.parts)}]}})
        ev({"type": "response.completed", "response": {"id": rid, "usage": {
            "input_tokens": u.input, "input_tokens_details": {"cached_tokens": u.cache_read},
            "output_tokens": u.output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": u.input + u.output}}})
        billed.completed, billed.finished_at = True, time.time()
